//! QUIC for devices and relays (quinn): endpoints, pinned TLS, the membership handshake,
//! the relay client and the link it sends through (quinn, or a relay in memory for tests),
//! and the limits and error type every link shares. No store, no
//! notebook: the device's ends of a sync live in `duet_core::net`.
//!
//! One connection per peer; the first bidirectional stream is the control stream (the
//! membership handshake); then one stream per notebook both hold. Every read has a timeout
//! and every frame a size limit, so a peer that stalls or floods hurts only itself.

pub mod handshake;
pub mod memory_relay;
pub mod peer_link;
pub mod relay_client;
pub mod relay_link;
pub mod tls;

use crate::wire::WireError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a connection may stay silent before it is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a quiet connection sends a keep-alive: two and a half per idle timeout, so one
/// lost packet (retransmitted within about a second) never ends a connection. Every
/// device holding a live relay connection sends these, so they are the relay's cost per
/// idle device: measured with 50,000 devices on one relay, a 2 s interval (25,000
/// packets a second to answer) raised the active devices' delivery p99 from 13 ms to 68 ms.
pub const KEEP_ALIVE: Duration = Duration::from_secs(4);
/// How long one protocol step may take before the peer counts as gone.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Notebook streams a peer may have open at once on one connection.
pub const MAX_STREAMS: u32 = 16;
/// The port `duet serve` listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 7878;

/// Application close codes on a QUIC connection.
pub mod close {
    /// Everything done.
    pub const DONE: u32 = 0;
    /// The peer proved membership of no notebook held here.
    pub const NOT_A_MEMBER: u32 = 1;
    /// The peer broke the protocol.
    pub const PROTOCOL: u32 = 2;
    /// This device is shutting down.
    pub const SHUTDOWN: u32 = 3;
    /// The peer's hello did not arrive in time: a lossy or stalled link, worth another
    /// attempt (older devices close with [`PROTOCOL`] and the words "no hello").
    pub const NO_HELLO: u32 = 4;
}

/// Errors of the network layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The device found is this device itself (its own announcement on the network).
    #[error("the device at {addr} is this device")]
    ThisDevice {
        /// Where.
        addr: SocketAddr,
    },
    /// The address could not be reached.
    #[error("could not reach {addr}: {detail}")]
    Unreachable {
        /// Where.
        addr: SocketAddr,
        /// Why.
        detail: String,
    },
    /// The device at the address presented a certificate that is not pinned.
    #[error("the device at {addr} is not one this device knows (certificate fingerprint {fingerprint}); if you trust it, run again with --fingerprint {fingerprint}")]
    Unpinned {
        /// Where.
        addr: SocketAddr,
        /// What it presented.
        fingerprint: String,
    },
    /// The inviting device refused a one-time invite.
    #[error("{0}")]
    Invite(crate::wire::InviteRefusal),
    /// A one-time invite could be redeemed nowhere: no welcome waited on the relay and the
    /// inviting device did not answer.
    #[error("the invite could not be redeemed: {detail}")]
    InviteUnanswered {
        /// What each way said.
        detail: String,
    },
    /// The peer holds none of this device's notebooks (or the secret is wrong).
    #[error("the device at {addr} shares no notebook with this one (a wrong or old invite?)")]
    NotAMember {
        /// Where.
        addr: SocketAddr,
    },
    /// The connection broke.
    #[error("the connection to {addr} broke: {detail}")]
    Broken {
        /// Where.
        addr: SocketAddr,
        /// Why.
        detail: String,
    },
    /// The peer took too long.
    #[error("the peer at {addr} stopped answering ({step})")]
    Timeout {
        /// Where.
        addr: SocketAddr,
        /// During what.
        step: &'static str,
    },
    /// A bounded sync ran out of time before this link finished (or began).
    #[error("{target}: not synced before the deadline")]
    Deadline {
        /// The link, as a person would name it.
        target: String,
    },
    /// A frame was bad.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The device's own side failed while the link was fine: its store, a notebook's
    /// sync, a document. The device layer converts its typed errors into this and takes
    /// them back by downcasting (`duet_core::net::local_error`), so the protocol layer
    /// needs no knowledge of them.
    #[error("{0}")]
    Local(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The peer reported an error.
    #[error("the peer reported: {0}")]
    Peer(String),
    /// The relay refused a request, for a reason it names.
    #[error("the relay refused: {message}")]
    RelayRefused {
        /// Why, as the relay typed it.
        why: crate::wire::RelayRefusal,
        /// Why, in the relay's words.
        message: String,
    },
    /// The peer broke the protocol.
    #[error("the peer broke the protocol: {0}")]
    Protocol(String),
    /// The notebook has no relay set.
    #[error("notebook {notebook} has no relay")]
    NoRelay {
        /// The notebook.
        notebook: String,
    },
    /// Setting up TLS or the socket failed.
    #[error("could not set up the network endpoint: {0}")]
    Setup(String),
    /// Looking for devices on the local network failed (no multicast, no permission).
    #[error("{0}")]
    Discovery(String),
}

/// Transport settings shared by both ends.
pub fn transport() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    // 10 s fits in QUIC's idle timeout encoding: cannot fail.
    t.max_idle_timeout(quinn::IdleTimeout::try_from(IDLE_TIMEOUT).ok());
    t.keep_alive_interval(Some(KEEP_ALIVE));
    t.max_concurrent_bidi_streams(quinn::VarInt::from_u32(MAX_STREAMS));
    t.max_concurrent_uni_streams(quinn::VarInt::from_u32(0));
    Arc::new(t)
}

/// Connects to `addr` speaking `alpn`, accepting only a certificate `pins` allows. `who`
/// names what should be listening there, for the error when nothing answers.
pub async fn connect(
    identity: &tls::TlsIdentity,
    addr: SocketAddr,
    pins: tls::Pins,
    alpn: &[u8],
    who: &str,
) -> Result<(quinn::Endpoint, quinn::Connection), NetError> {
    let bind: SocketAddr = if addr.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    connect_from(bind, identity, addr, pins, alpn, who).await
}

/// [`connect`] from the local address `bind` (a port of 0 picks one).
pub async fn connect_from(
    bind: SocketAddr,
    identity: &tls::TlsIdentity,
    addr: SocketAddr,
    pins: tls::Pins,
    alpn: &[u8],
    who: &str,
) -> Result<(quinn::Endpoint, quinn::Connection), NetError> {
    let seen = Arc::new(tls::Seen::default());
    let config = tls::client_config_for(identity, pins, seen.clone(), alpn)
        .map_err(|e| NetError::Setup(e.to_string()))?;
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(config)
        .map_err(|e| NetError::Setup(e.to_string()))?;
    let mut client_config = quinn::ClientConfig::new(Arc::new(quic));
    client_config.transport_config(transport());
    let endpoint = quinn::Endpoint::client(bind).map_err(|e| NetError::Setup(e.to_string()))?;
    let unreachable = |detail: String| NetError::Unreachable { addr, detail };
    let connecting = endpoint
        .connect_with(client_config, addr, "duet")
        .map_err(|e| unreachable(e.to_string()))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Err(_) => Err(unreachable(format!("no answer (is {who} running there?)"))),
        Ok(Err(e)) => Err(match seen.fingerprint() {
            Some(fp) if e.to_string().contains("unpinned") => NetError::Unpinned {
                addr,
                fingerprint: crate::crypto::fingerprint_text(&fp),
            },
            _ => unreachable(e.to_string()),
        }),
        Ok(Ok(conn)) => Ok((endpoint, conn)),
    }
}

/// Resolves `host:port`, `host`, `ip` or `[v6]:port`; `default_port` when none is given.
pub fn resolve(addr: &str, default_port: u16) -> Result<SocketAddr, NetError> {
    let has_port = addr.parse::<SocketAddr>().is_ok()
        || addr
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok());
    let with_port = if has_port {
        addr.to_owned()
    } else if addr.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{addr}]:{default_port}")
    } else {
        format!("{addr}:{default_port}")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&with_port)
        .map_err(|e| NetError::Setup(format!("{addr:?} is not an address: {e}")))?
        .next()
        .ok_or_else(|| NetError::Setup(format!("{addr:?} resolves to no address")))
}

/// Waits for Ctrl-C or SIGTERM: how a long-running process (a node, a relay) is asked to
/// stop.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Whether a failed sync is worth another attempt: the link broke or stalled midway (a
/// sync can always be repeated). A peer that never answered is not.
pub fn worth_retrying(e: &NetError) -> bool {
    matches!(e, NetError::Broken { .. } | NetError::Timeout { .. })
}

/// The pause before another attempt.
pub const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Runs `fut` with [`STEP_TIMEOUT`].
pub async fn step<T>(
    addr: SocketAddr,
    what: &'static str,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, NetError> {
    tokio::time::timeout(STEP_TIMEOUT, fut)
        .await
        .map_err(|_| NetError::Timeout { addr, step: what })
}
