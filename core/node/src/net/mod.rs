//! The device's network ends (quinn): `duet sync --peer` ([`client`]), `duet serve`
//! ([`server`]), redeeming invites ([`redeem`]), local discovery ([`nearby`]) and the
//! relay sync ([`relay_client`]). The transport underneath (endpoints, pinned TLS, the
//! membership handshake, the relay client, limits and [`NetError`]) is `duet_protocol`'s,
//! re-exported here.
//!
//! One connection per peer; the first bidirectional stream is the control stream (the
//! membership handshake); then one stream per notebook both hold. Every read has a timeout
//! and every frame a size limit, so a peer that stalls or floods hurts only itself.

pub use duet_protocol::net::*;

pub mod client;
pub mod nearby;
pub mod redeem;
pub mod relay_client;
pub mod server;

pub use duet_core::{into_local_error, local_error};

/// Bytes a peer session moved on its link.
#[derive(Debug, Clone, Copy, Default)]
pub struct Carried {
    /// Sent.
    pub bytes_sent: u64,
    /// Received.
    pub bytes_received: u64,
}

/// How a carried peer session ended.
#[derive(Debug)]
pub(crate) enum SessionEnd {
    /// Complete, with what it did.
    Report(duet_core::SyncReport),
    /// Complete, with no report kept.
    Unreported,
    /// The other device ended the stream first.
    LinkClosed,
}

/// Carries an open peer session to its end over `link`, for either role: each message
/// read (under the sync's byte budget) goes to the engine, and when it has a step ready
/// the home runs it (through the sync port) and its messages go out.
pub(crate) async fn carry_session<L: peer_link::PeerLink>(
    home: &crate::HomeHandle,
    link: &mut L,
    mut session: duet_core::steps::PeerSession,
) -> Result<(Carried, SessionEnd), NetError> {
    use duet_core::home::SyncPort;
    let mut carried = Carried::default();
    let mut report = None;
    let mut budget = duet_core::sync::limits::SyncBudget::default();
    while !session.is_complete() {
        let Some((message, size)) = link.recv().await? else {
            return Ok((carried, SessionEnd::LinkClosed));
        };
        carried.bytes_received += size as u64;
        budget
            .take(size)
            .map_err(duet_core::sync::peer::SyncError::from)?;
        if session.receive(message)? {
            let (s, done) = home.peer_advance(session).await?;
            session = s;
            report = done.report.or(report);
            for m in &done.send {
                carried.bytes_sent += link.send(m).await? as u64;
            }
        }
    }
    let end = report.map_or(SessionEnd::Unreported, SessionEnd::Report);
    Ok((carried, end))
}
