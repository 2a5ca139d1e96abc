//! Wake-ups: how a relay wakes a sleeping phone. A device registers a push endpoint (a
//! UnifiedPush or Web Push style `https://` URL) for a mailbox under a slot only it can
//! name; when an envelope lands in that mailbox, the relay POSTs an empty request to the
//! endpoint. The POST carries nothing of the mailbox: no content, no sender, no size, not
//! even which mailbox grew, so the push service learns only that this device has
//! something to fetch.
//!
//! A slot is a secret the device derives from its own key and the mailbox; the relay
//! keeps the endpoint under the slot's hash. Other holders of the mailbox's token can
//! neither read an endpoint (no request returns one) nor replace or remove it (they cannot
//! name its slot).

use serde::{Deserialize, Serialize};

/// The longest endpoint accepted, in bytes (push services hand out URLs of ~100–500).
pub const MAX_WAKE_ENDPOINT_BYTES: usize = 1024;

/// The most endpoints one mailbox may hold (a 1-1's devices, with room for re-installs;
/// a holder of the token cannot make the relay POST to a thousand URLs per push).
pub const MAX_WAKES_PER_MAILBOX: usize = 16;

/// A push endpoint, checked: `http` or `https`, a host, an optional port and a path. No
/// user info and no fragment (a push URL has neither, and user info would put a password
/// in the relay's store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeEndpoint {
    /// `https` unless the URL says `http`.
    pub secure: bool,
    /// The host: a name, an IPv4 address, or an IPv6 address without its brackets.
    pub host: String,
    /// The port (443 or 80 when the URL names none).
    pub port: u16,
    /// The path and query, from the first `/` (`/` when the URL has none).
    pub target: String,
}

/// Why an endpoint is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WakeEndpointError {
    /// Longer than [`MAX_WAKE_ENDPOINT_BYTES`].
    #[error("the push endpoint is {0} bytes long, over the {MAX_WAKE_ENDPOINT_BYTES}-byte limit")]
    TooLong(usize),
    /// Not `http://` or `https://`.
    #[error("the push endpoint must start with https:// (or http://)")]
    Scheme,
    /// No host, or a host with characters no host name has.
    #[error("the push endpoint names no valid host")]
    Host,
    /// A port that is not a number from 1 to 65535.
    #[error("the push endpoint's port is not a number from 1 to 65535")]
    Port,
    /// User info (`user:password@`), a fragment, spaces or control characters.
    #[error("the push endpoint may not hold {0}")]
    Forbidden(&'static str),
}

impl WakeEndpoint {
    /// Parses and checks an endpoint URL.
    pub fn parse(url: &str) -> Result<WakeEndpoint, WakeEndpointError> {
        if url.len() > MAX_WAKE_ENDPOINT_BYTES {
            return Err(WakeEndpointError::TooLong(url.len()));
        }
        if url.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(WakeEndpointError::Forbidden(
                "spaces, control or non-ASCII characters",
            ));
        }
        if url.contains('#') {
            return Err(WakeEndpointError::Forbidden("a fragment (#…)"));
        }
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        let (secure, rest) = if lower.starts_with("https://") {
            (true, &url[8..])
        } else if lower.starts_with("http://") {
            (false, &url[7..])
        } else {
            return Err(WakeEndpointError::Scheme);
        };
        let (authority, target) = match rest.find(['/', '?']) {
            Some(at) if rest[at..].starts_with('/') => (&rest[..at], rest[at..].to_owned()),
            Some(at) => (&rest[..at], format!("/{}", &rest[at..])),
            None => (rest, "/".to_owned()),
        };
        if authority.contains('@') {
            return Err(WakeEndpointError::Forbidden("user info (…@)"));
        }
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            Some(p) => p,
            None if secure => 443,
            None => 80,
        };
        Ok(WakeEndpoint {
            secure,
            host: host.to_ascii_lowercase(),
            port,
            target,
        })
    }

    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.host.parse().ok()
    }

    /// The `Host` header's value: the host, bracketed if IPv6, and the port if not the
    /// scheme's own.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.secure { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl std::fmt::Display for WakeEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.secure { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.host_header(), self.target)
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), WakeEndpointError> {
    let (host, port, bracketed) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']').ok_or(WakeEndpointError::Host)?;
        let host = &rest[..end];
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(WakeEndpointError::Host);
        }
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(WakeEndpointError::Host),
        };
        (host, port, true)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p), false),
            None => (authority, None, false),
        }
    };
    let valid_name = bracketed
        || (!host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
    if !valid_name {
        return Err(WakeEndpointError::Host);
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(WakeEndpointError::Port),
        },
    };
    Ok((host, port))
}

/// The device's slot for a mailbox: a secret derived from the device's own key, so that
/// it is the same on every sync and names nothing to anyone else.
pub fn wake_slot(device_key: &[u8], mailbox: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("duet wake slot v1");
    h.update(&(device_key.len() as u32).to_be_bytes());
    h.update(device_key);
    h.update(mailbox.as_bytes());
    *h.finalize().as_bytes()
}

/// What the relay keeps of a slot: its hash, so that the store alone does not let anyone
/// replace the device's endpoint.
pub fn slot_verifier(slot: &[u8; 32]) -> [u8; 32] {
    blake3::derive_key("duet wake slot verifier v1", slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_service_urls_parse_with_their_default_ports() {
        let e = WakeEndpoint::parse("https://ntfy.example.org/up4bW2?up=1").expect("parses");
        assert_eq!(
            e,
            WakeEndpoint {
                secure: true,
                host: "ntfy.example.org".into(),
                port: 443,
                target: "/up4bW2?up=1".into(),
            }
        );
        assert_eq!(e.to_string(), "https://ntfy.example.org/up4bW2?up=1");
        let local = WakeEndpoint::parse("http://127.0.0.1:8080").expect("parses");
        assert_eq!((local.port, local.target.as_str()), (8080, "/"));
        assert_eq!(local.host_header(), "127.0.0.1:8080");
        let v6 = WakeEndpoint::parse("http://[::1]:9/w?x").expect("parses");
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.host_header(), "[::1]:9");
        assert_eq!(
            v6.ip(),
            Some(std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST))
        );
        let q = WakeEndpoint::parse("https://Push.Example?t=1").expect("parses");
        assert_eq!(
            (q.host.as_str(), q.target.as_str()),
            ("push.example", "/?t=1")
        );
    }

    #[test]
    fn what_a_push_url_never_holds_is_refused_by_name() {
        use WakeEndpointError as E;
        type Expected = fn(&E) -> bool;
        let cases: &[(&str, Expected)] = &[
            ("ftp://x.org/a", |e| *e == E::Scheme),
            ("x.org/a", |e| *e == E::Scheme),
            ("https://user:pw@x.org/", |e| matches!(e, E::Forbidden(_))),
            ("https://x.org/a#frag", |e| matches!(e, E::Forbidden(_))),
            ("https://x.org/a b", |e| matches!(e, E::Forbidden(_))),
            ("https://x.org:0/", |e| *e == E::Port),
            ("https://x.org:99999/", |e| *e == E::Port),
            ("https://x.org:ab/", |e| *e == E::Port),
            ("https:///path", |e| *e == E::Host),
            ("https://[zz]/", |e| *e == E::Host),
            ("https://x_y.org/", |e| *e == E::Host),
            ("https://::1/", |e| *e == E::Host),
        ];
        for (url, expected) in cases {
            let err = WakeEndpoint::parse(url).expect_err(url);
            assert!(expected(&err), "{url}: {err:?}");
        }
        let long = format!("https://x.org/{}", "a".repeat(MAX_WAKE_ENDPOINT_BYTES));
        assert!(matches!(
            WakeEndpoint::parse(&long),
            Err(WakeEndpointError::TooLong(_))
        ));
    }

    #[test]
    fn slots_differ_per_device_and_mailbox_and_the_relay_keeps_only_their_hash() {
        let a = wake_slot(b"device a", "m1");
        assert_eq!(a, wake_slot(b"device a", "m1"));
        assert_ne!(a, wake_slot(b"device b", "m1"));
        assert_ne!(a, wake_slot(b"device a", "m2"));
        assert_ne!(slot_verifier(&a), a);
    }
}
