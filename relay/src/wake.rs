//! Waking sleeping devices: which push endpoints the relay takes, and the sender that
//! POSTs a wake-up to each endpoint of a mailbox that grew.
//!
//! Wake-ups are coalesced per endpoint: the first goes at once, and pushes landing within
//! `min_interval_secs` of it fold into one more sent when the interval is up, so a burst
//! of edits is two wake-ups, not two hundred, and the last push is never left unannounced.
//! A failed POST is tried again after doubling pauses; an endpoint that fails every try,
//! or answers 404 or 410 (the push service's "no such subscription"), is dropped from
//! every mailbox that named it. None of this runs on the push's path: the push is
//! acknowledged first, and the sender works in its own tasks.

use crate::config::WakeConfig;
use crate::metrics::RelayMetrics;
use crate::store::RelayStore;
use crate::wake_post;
use duet_protocol::wake::{WakeEndpoint, MAX_WAKES_PER_MAILBOX};
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Endpoints with a wake-up pending or sent within their interval, at most: past it, a
/// wake-up is counted as failed rather than held (memory stays bounded under a flood of
/// mailboxes).
pub const MAX_ENDPOINTS_IN_FLIGHT: usize = 100_000;
/// The longest pause between two tries.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(600);

/// Why the relay does not take an endpoint.
pub fn refusal(config: &WakeConfig, url: &str) -> Option<String> {
    if !config.enabled {
        return Some("this relay sends no wake-ups (its operator turned them off)".into());
    }
    let endpoint = match WakeEndpoint::parse(url) {
        Ok(e) => e,
        Err(e) => return Some(e.to_string()),
    };
    if !host_allowed(config, &endpoint) {
        return Some(format!(
            "this relay sends no wake-ups to {}; ask its operator to allow it",
            endpoint.host
        ));
    }
    None
}

/// Whether the operator's list allows the endpoint's host, or, with no list, whether it
/// names no loopback, private or link-local address.
fn host_allowed(config: &WakeConfig, endpoint: &WakeEndpoint) -> bool {
    if !config.hosts.is_empty() {
        return config.hosts.iter().any(|allowed| {
            let allowed = allowed.to_ascii_lowercase();
            match allowed.strip_prefix("*.") {
                Some(suffix) => endpoint
                    .host
                    .strip_suffix(suffix)
                    .is_some_and(|rest| rest.ends_with('.')),
                None => endpoint.host == allowed,
            }
        });
    }
    let local_name = endpoint.host == "localhost" || endpoint.host.ends_with(".localhost");
    !local_name && endpoint.ip().is_none_or(public)
}

/// Whether an address is on the public internet (the relay must not be made to POST to
/// its own network's services).
fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// What one endpoint's sender knows.
#[derive(Default)]
struct EndpointState {
    /// The (mailbox, slot verifier) pairs that named it since its sender started.
    owners: BTreeSet<(String, [u8; 32])>,
    /// A push landed since the last wake-up went.
    pending: bool,
}

/// The relay's wake-up sender.
#[derive(Clone)]
pub struct Waker {
    inner: Arc<Inner>,
}

struct Inner {
    config: WakeConfig,
    store: Arc<RelayStore>,
    metrics: Arc<RelayMetrics>,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// Endpoints whose sender runs, by URL.
    endpoints: Mutex<HashMap<String, EndpointState>>,
}

/// How one wake-up ended.
enum Delivery {
    Sent,
    /// Failed every try, or the service said the endpoint is gone.
    Dropped,
}

impl Waker {
    /// A sender for the endpoints `store` keeps.
    pub fn new(config: WakeConfig, store: Arc<RelayStore>) -> Waker {
        let tls = match wake_post::tls_config() {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!(error = %e, "no TLS for wake-ups: https endpoints will fail");
                None
            }
        };
        let metrics = store.metrics();
        Waker {
            inner: Arc::new(Inner {
                config,
                store,
                metrics,
                tls,
                endpoints: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Keeps (or removes, with `None`) a device's endpoint for a mailbox; why not, for
    /// the device, when it is refused.
    pub async fn register(
        &self,
        mailbox: &str,
        slot: &[u8; 32],
        endpoint: Option<&str>,
    ) -> Result<Result<(), String>, crate::store::RelayStoreError> {
        if let Some(url) = endpoint {
            if let Some(why) = refusal(&self.inner.config, url) {
                return Ok(Err(why));
            }
        }
        let verifier = duet_protocol::wake::slot_verifier(slot);
        let kept = self
            .inner
            .store
            .set_wake(mailbox, verifier, endpoint, MAX_WAKES_PER_MAILBOX)
            .await?;
        Ok(if kept {
            Ok(())
        } else {
            Err(format!(
                "this mailbox holds {MAX_WAKES_PER_MAILBOX} push endpoints already; remove a device's first"
            ))
        })
    }

    /// A push landed in `mailbox`: wakes every endpoint it holds (in the background).
    pub fn mailbox_grew(&self, mailbox: &str) {
        if !self.inner.config.enabled {
            return;
        }
        let waker = self.clone();
        let mailbox = mailbox.to_owned();
        tokio::spawn(async move {
            let wakes = match waker.inner.store.wakes(&mailbox).await {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(error = %e, "reading push endpoints failed");
                    return;
                }
            };
            for (verifier, url) in wakes {
                waker.schedule(url, mailbox.clone(), verifier);
            }
        });
    }

    /// Starts the endpoint's sender, or marks a wake-up pending for the one running.
    fn schedule(&self, url: String, mailbox: String, verifier: [u8; 32]) {
        let mut endpoints = self
            .inner
            .endpoints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(state) = endpoints.get_mut(&url) {
            state.pending = true;
            state.owners.insert((mailbox, verifier));
            return;
        }
        if endpoints.len() >= MAX_ENDPOINTS_IN_FLIGHT {
            self.inner.metrics.wake_failed();
            return;
        }
        let mut state = EndpointState::default();
        state.owners.insert((mailbox, verifier));
        endpoints.insert(url.clone(), state);
        let waker = self.clone();
        tokio::spawn(async move { waker.send_loop(url).await });
    }

    /// Sends a wake-up, then waits out the interval; sends again if a push landed
    /// meanwhile, else ends.
    async fn send_loop(self, url: String) {
        let interval = Duration::from_secs(self.inner.config.min_interval_secs);
        loop {
            match self.deliver(&url).await {
                Delivery::Sent => {}
                Delivery::Dropped => {
                    self.drop_endpoint(&url).await;
                    return;
                }
            }
            tokio::time::sleep(interval).await;
            let mut endpoints = self
                .inner
                .endpoints
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match endpoints.get_mut(&url) {
                Some(state) if state.pending => state.pending = false,
                _ => {
                    endpoints.remove(&url);
                    return;
                }
            }
        }
    }

    /// One wake-up, with its retries.
    async fn deliver(&self, url: &str) -> Delivery {
        let Ok(endpoint) = WakeEndpoint::parse(url) else {
            return Delivery::Dropped;
        };
        let config = &self.inner.config;
        let mut pause = Duration::from_millis(config.first_retry_ms);
        for attempt in 1..=config.attempts.max(1) {
            let listed = !config.hosts.is_empty();
            let result = wake_post::post(&endpoint, self.inner.tls.as_ref(), |ip| {
                listed || public(ip)
            })
            .await;
            match result {
                Ok(code) if (200..300).contains(&code) => {
                    self.inner.metrics.wake_sent();
                    return Delivery::Sent;
                }
                Ok(code @ (404 | 410)) => {
                    self.inner.metrics.wake_failed();
                    tracing::info!(host = %endpoint.host, code, "push endpoint gone; dropped");
                    return Delivery::Dropped;
                }
                Ok(code) => {
                    self.inner.metrics.wake_failed();
                    tracing::info!(host = %endpoint.host, code, attempt, "wake-up refused");
                }
                Err(e) => {
                    self.inner.metrics.wake_failed();
                    tracing::info!(host = %endpoint.host, error = %e, attempt, "wake-up failed");
                }
            }
            if attempt < config.attempts {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_RETRY_PAUSE);
            }
        }
        Delivery::Dropped
    }

    /// Forgets a failed endpoint, in every mailbox that named it.
    async fn drop_endpoint(&self, url: &str) {
        let owners = self
            .inner
            .endpoints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(url)
            .map(|s| s.owners)
            .unwrap_or_default();
        for (mailbox, verifier) in owners {
            // Only if it still names this URL: the device may have set a new one since.
            let still = self
                .inner
                .store
                .wakes(&mailbox)
                .await
                .map(|w| w.iter().any(|(v, u)| *v == verifier && u == url))
                .unwrap_or(false);
            if still {
                if let Err(e) = self
                    .inner
                    .store
                    .set_wake(&mailbox, verifier, None, MAX_WAKES_PER_MAILBOX)
                    .await
                {
                    tracing::warn!(error = %e, "dropping a push endpoint failed");
                }
            }
        }
        self.inner.metrics.wake_dropped();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(hosts: &[&str]) -> WakeConfig {
        WakeConfig {
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            ..WakeConfig::default()
        }
    }

    #[test]
    fn with_no_list_public_hosts_are_taken_and_the_relays_own_network_is_not() {
        let open = config(&[]);
        assert_eq!(refusal(&open, "https://ntfy.example.org/up1"), None);
        assert_eq!(refusal(&open, "https://93.184.216.34/x"), None);
        for local in [
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "http://a.localhost/",
            "http://10.1.2.3/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest",
            "http://100.64.0.1/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
        ] {
            assert!(refusal(&open, local).is_some(), "{local}");
        }
        assert!(refusal(&open, "ftp://x.org/").is_some());
    }

    #[test]
    fn a_list_takes_its_names_and_subdomains_only_and_off_takes_nothing() {
        let listed = config(&["ntfy.example.org", "*.push.example.com", "127.0.0.1"]);
        assert_eq!(refusal(&listed, "https://ntfy.example.org/a"), None);
        assert_eq!(refusal(&listed, "https://eu.push.example.com/a"), None);
        assert_eq!(refusal(&listed, "http://127.0.0.1:9/a"), None);
        assert!(refusal(&listed, "https://push.example.com/a").is_some());
        assert!(refusal(&listed, "https://evilpush.example.com/a").is_some());
        assert!(refusal(&listed, "https://other.org/a").is_some());
        let off = WakeConfig {
            enabled: false,
            ..listed
        };
        assert!(refusal(&off, "https://ntfy.example.org/a").is_some());
    }
}
