//! QUIC between devices (quinn): endpoints, pinned TLS, the membership handshake, and the
//! two ends of a sync, `duet sync --peer` ([`client`]) and `duet serve` ([`server`]).
//!
//! One connection per peer; the first bidirectional stream is the control stream (the
//! membership handshake); then one stream per notebook both hold. Every read has a timeout
//! and every frame a size limit, so a peer that stalls or floods hurts only itself.

pub mod client;
pub mod handshake;
pub mod nearby;
pub mod relay_client;
pub mod server;
pub mod tls;

use crate::sync::peer::SyncError;
use crate::wire::WireError;
use crate::DuetError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a connection may stay silent before it is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
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
}

/// Errors of the network layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
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
    /// A frame was bad.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A notebook's sync failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The store failed.
    #[error(transparent)]
    Duet(#[from] DuetError),
    /// The peer reported an error.
    #[error("the peer reported: {0}")]
    Peer(String),
    /// The peer broke the protocol.
    #[error("the peer broke the protocol: {0}")]
    Protocol(String),
    /// Setting up TLS or the socket failed.
    #[error("could not set up the network endpoint: {0}")]
    Setup(String),
}

/// Transport settings shared by both ends.
pub fn transport() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    // 10 s fits in QUIC's idle timeout encoding: cannot fail.
    t.max_idle_timeout(quinn::IdleTimeout::try_from(IDLE_TIMEOUT).ok());
    t.keep_alive_interval(Some(Duration::from_secs(2)));
    t.max_concurrent_bidi_streams(quinn::VarInt::from_u32(MAX_STREAMS));
    t.max_concurrent_uni_streams(quinn::VarInt::from_u32(0));
    Arc::new(t)
}

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
