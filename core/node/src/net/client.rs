//! The connecting end of a P2P sync (`duet sync --peer`, `duet join`): connect, pin the
//! peer's certificate, prove membership, then sync each notebook both hold on its own
//! stream.

use super::handshake;
use super::tls::{self, Pins};
use super::{carry_session, close, step, NetError, SessionEnd};
use crate::HomeHandle;
use duet_core::crypto::fingerprint_text;
use duet_core::home::SyncPort;
use duet_core::sync::session::PeerRole;
use duet_core::SyncReport;
use duet_protocol::net::peer_link::{PeerLink, QuicPeerStream};
use std::net::SocketAddr;

pub use duet_core::sync::session::MAX_DOCS;

/// What one sync with one peer did.
#[derive(Debug, Clone)]
pub struct PeerOutcome {
    /// The peer's certificate fingerprint.
    pub peer: [u8; 32],
    /// Where it was reached.
    pub addr: SocketAddr,
    /// One report per notebook synced.
    pub reports: Vec<SyncReport>,
    /// Bytes of sync frames this device sent.
    pub bytes_sent: u64,
    /// Bytes of sync frames this device received.
    pub bytes_received: u64,
}

/// Like [`sync_with`], trying again (up to `attempts` times in all, a second apart) when
/// the link broke or stalled midway: on a lossy network a handshake can time out, and a
/// sync is safe to repeat. A peer that never answers is not retried.
pub async fn sync_with_retries(
    home: &HomeHandle,
    addr: SocketAddr,
    pins: impl Into<Pins>,
    attempts: usize,
) -> Result<PeerOutcome, NetError> {
    let pins = pins.into();
    let mut tries = 1;
    loop {
        match sync_with(home, addr, pins.clone()).await {
            Err(e) if super::worth_retrying(&e) && tries < attempts => {
                tries += 1;
                tokio::time::sleep(super::RETRY_PAUSE).await;
            }
            other => return other,
        }
    }
}

/// Syncs every notebook this device shares with the device at `addr`, whose certificate
/// `pins` must allow. The home is asked for each step's work and never held
/// across a network wait.
pub async fn sync_with(
    home: &HomeHandle,
    addr: SocketAddr,
    pins: impl Into<Pins>,
) -> Result<PeerOutcome, NetError> {
    let identity = home.tls_identity().await?;
    let (endpoint, conn) =
        super::connect(&identity, addr, pins.into(), tls::ALPN, "`duet serve`").await?;
    let result = run(home, &conn, addr, identity.fingerprint()).await;
    match &result {
        Ok(_) => conn.close(close::DONE.into(), b"done"),
        Err(_) => conn.close(close::PROTOCOL.into(), b"sync failed"),
    }
    // Let the close reach the peer before the socket goes away.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), endpoint.wait_idle()).await;
    result
}

async fn run(
    home: &HomeHandle,
    conn: &quinn::Connection,
    addr: SocketAddr,
    own: [u8; 32],
) -> Result<PeerOutcome, NetError> {
    let peer = tls::peer_fingerprint(conn)
        .ok_or_else(|| NetError::Protocol("the peer presented no certificate".into()))?;
    if peer == own {
        return Err(NetError::ThisDevice { addr });
    }
    let all = home.peer_memberships().await?;
    let mine = handshake::keys_for_peer(&all, &duet_core::crypto::fingerprint_text(&peer));
    let shared = handshake::client(conn, addr, &mine).await?;
    home.remember_peer(peer, Some(addr)).await?;
    let mut outcome = PeerOutcome {
        peer,
        addr,
        reports: Vec::new(),
        bytes_sent: 0,
        bytes_received: 0,
    };
    for notebook in shared {
        let report = sync_notebook(home, conn, addr, &notebook, &peer, &mut outcome).await?;
        outcome.reports.push(report);
    }
    home.complete_joins().await?;
    Ok(outcome)
}

/// One notebook on its own stream of the connection.
async fn sync_notebook(
    home: &HomeHandle,
    conn: &quinn::Connection,
    addr: SocketAddr,
    notebook: &str,
    peer: &[u8; 32],
    counts: &mut PeerOutcome,
) -> Result<SyncReport, NetError> {
    let (send, recv) = step(addr, "opening a stream", conn.open_bi())
        .await?
        .map_err(|e| handshake::closed_reason_or(conn, addr, e))?;
    let mut link = QuicPeerStream::new(conn.clone(), addr, send, recv);
    let synced = offer_notebook(home, &mut link, notebook, &fingerprint_text(peer)).await?;
    counts.bytes_sent += synced.bytes_sent;
    counts.bytes_received += synced.bytes_received;
    Ok(synced.report)
}

/// What one notebook's sync as the client did.
#[derive(Debug, Clone)]
pub struct NotebookSynced {
    /// What arrived and what was sent.
    pub report: SyncReport,
    /// Bytes sent on the link.
    pub bytes_sent: u64,
    /// Bytes received on the link.
    pub bytes_received: u64,
}

/// The client's side of one notebook over a [`PeerLink`]: a driver of the client's
/// [`PeerEngine`](duet_core::sync::session::PeerEngine), carrying its messages and asking
/// the home (through the sync port) for each step. `peer` is the other device's
/// fingerprint (text).
pub async fn offer_notebook<L: PeerLink>(
    home: &HomeHandle,
    link: &mut L,
    notebook: &str,
    peer: &str,
) -> Result<NotebookSynced, NetError> {
    let mut synced = NotebookSynced {
        report: SyncReport::default(),
        bytes_sent: 0,
        bytes_received: 0,
    };
    let (session, first) = home
        .peer_open(notebook.to_owned(), peer.to_owned(), PeerRole::Client)
        .await?;
    for m in &first {
        synced.bytes_sent += link.send(m).await? as u64;
    }
    let (carried, end) = carry_session(home, link, session).await?;
    synced.bytes_sent += carried.bytes_sent;
    synced.bytes_received += carried.bytes_received;
    let report = match end {
        SessionEnd::Report(report) => report,
        SessionEnd::LinkClosed => return Err(link.gone()),
        SessionEnd::Unreported => {
            return Err(NetError::Protocol(
                "the sync ended before its result was kept".into(),
            ))
        }
    };
    link.finish();
    synced.report = report;
    Ok(synced)
}
