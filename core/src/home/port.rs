//! The sync port: every way the sync drivers reach a home, one typed method each. The
//! peer client and server, invite redemption, the relay rounds, the sync service and
//! background sync (the `duet-node` crate) call these and nothing else of the home
//! (`tests/tests/e2e/layers.rs` holds them to it), and the `Duet` methods behind them are
//! the crate's own, not the app API. So what sync needs from a home is written here, once.
//!
//! Each method is one short call on the home's thread: never across a network wait.

use super::HomeHandle;
use crate::crypto::MembershipKey;
use crate::duet::{EndStep, FarewellTarget, Outgoing, OwnTake, PeerSession, PeerStep, WelcomeWork};
use crate::one_time_invite::{Grant, InviteKey, Refusal};
use crate::sync::relay_session::Anchor;
use crate::sync::session::PeerRole;
use crate::wire::Message;
use crate::{DuetError, KnownPeer, RelaySetting, SyncReport};
use duet_protocol::net::handshake::PeerMembership;
use duet_protocol::net::relay_client::{Entries, MailboxKey};
use duet_protocol::net::tls::TlsIdentity;
use duet_protocol::net::NetError;
use std::future::Future;
use std::net::SocketAddr;

/// Where a notebook's relay sync starts: its mailbox, the cursor, and the entry at it.
pub struct RelayStart {
    /// The mailbox of the epoch in force.
    pub key: MailboxKey,
    /// The last sequence number applied here.
    pub cursor: u64,
    /// The entry at the cursor, as this device read it.
    pub anchor: Option<Anchor>,
}

impl HomeHandle {
    /// Runs one port call, turning the home's refusal into the driver's error.
    async fn port<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut crate::Duet) -> Result<T, DuetError> + Send + 'static,
    ) -> Result<T, NetError> {
        self.call(move |d| f(d).map_err(NetError::from)).await
    }
}

/// Every call the sync drivers make on a home: the node crate imports this trait, and
/// nothing else does (a front end calls the app API; `e2e::layers` holds it).
pub trait SyncPort {
    // --- This device and the devices it knows ---

    /// The device's TLS identity.
    fn tls_identity(&self) -> impl Future<Output = Result<TlsIdentity, NetError>> + Send;

    /// Per notebook held, what proves membership to a peer.
    fn peer_memberships(
        &self,
    ) -> impl Future<Output = Result<Vec<PeerMembership>, NetError>> + Send;

    /// The membership keys of every notebook held (what nearby devices announce).
    fn membership_keys(&self) -> impl Future<Output = Result<Vec<MembershipKey>, NetError>> + Send;

    /// Every notebook held, with its membership key (what this node announces nearby).
    fn memberships(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, MembershipKey)>, NetError>> + Send;

    /// Remembers a peer this device synced with (and where).
    fn remember_peer(
        &self,
        peer: [u8; 32],
        addr: Option<SocketAddr>,
    ) -> impl Future<Output = Result<(), NetError>> + Send;

    /// Remembers the fingerprint of a peer that reached this device.
    fn remember_peer_fingerprint(
        &self,
        peer: String,
    ) -> impl Future<Output = Result<(), NetError>> + Send;

    /// The peers this device has synced with.
    fn known_peers(&self) -> impl Future<Output = Result<Vec<KnownPeer>, NetError>> + Send;

    /// Completes joins whose notebook has arrived; the notebooks completed.
    fn complete_joins(&self) -> impl Future<Output = Result<Vec<String>, NetError>> + Send;

    /// Answers a one-time invite's redemption, if `proves` accepts the invite's key.
    fn redeem_invite(
        &self,
        notebook: String,
        invite: String,
        by: String,
        proves: impl FnOnce(&InviteKey) -> bool + Send + 'static,
    ) -> impl Future<Output = Result<Result<Grant, Refusal>, NetError>> + Send;

    /// Checks a redemption asked of this device directly without using the invite, and
    /// names the invite's welcome on the relay, if one is there to take down first.
    fn redeem_welcome(
        &self,
        notebook: String,
        invite: String,
        proves: impl FnOnce(&InviteKey) -> bool + Send + 'static,
    ) -> impl Future<Output = Result<Result<Option<MailboxKey>, Refusal>, NetError>> + Send;

    /// Records what became of a welcome this device took down itself.
    fn own_welcome_taken(
        &self,
        notebook: &str,
        invite: String,
        outcome: OwnTake,
    ) -> impl Future<Output = Result<(), NetError>> + Send;

    // --- Peer sync ---

    /// A peer session on `notebook` with `peer`, and the client's first messages (none for
    /// a server, which answers).
    fn peer_open(
        &self,
        notebook: String,
        peer: String,
        role: PeerRole,
    ) -> impl Future<Output = Result<(PeerSession, Vec<Message>), NetError>> + Send;

    /// Runs the step a peer session's last message made ready: the session moves to the
    /// home's thread for the call and comes back with the step's messages.
    fn peer_advance(
        &self,
        session: PeerSession,
    ) -> impl Future<Output = Result<(PeerSession, PeerStep), NetError>> + Send;

    // --- Relay sync ---

    /// Every notebook with a relay, and its relay (ended 1-1s left out).
    fn relayed_notebooks(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, RelaySetting)>, NetError>> + Send;

    /// The notebook's relay, if it has one.
    fn relay_setting(
        &self,
        notebook: &str,
    ) -> impl Future<Output = Result<Option<RelaySetting>, NetError>> + Send;

    /// The notebook's title (empty when it has not arrived).
    fn notebook_title(
        &self,
        notebook: &str,
    ) -> impl Future<Output = Result<String, NetError>> + Send;

    /// The notebook's mailbox and cursor.
    fn mailbox_and_cursor(
        &self,
        notebook: &str,
    ) -> impl Future<Output = Result<(MailboxKey, u64), NetError>> + Send;

    /// Where a relay session starts.
    fn relay_start(
        &self,
        notebook: &str,
    ) -> impl Future<Output = Result<RelayStart, NetError>> + Send;

    /// Forgets the cursor, the anchor and what the relay was believed to hold.
    fn relay_rewind(&self, notebook: &str) -> impl Future<Output = Result<(), NetError>> + Send;

    /// Applies entries pulled from the relay; the report and how many failed to open. A
    /// notebook joined from a ticket becomes this device's once its index is here, in the
    /// same call (the next push carries the join to the others).
    fn relay_apply(
        &self,
        notebook: &str,
        entries: Entries,
    ) -> impl Future<Output = Result<(SyncReport, usize), NetError>> + Send;

    /// Seals what the relay has not seen of this device's changes.
    fn relay_outgoing(
        &self,
        notebook: &str,
    ) -> impl Future<Output = Result<Option<Outgoing>, NetError>> + Send;

    /// Records that the relay holds what was sealed.
    fn relay_pushed(
        &self,
        notebook: &str,
        out: Outgoing,
    ) -> impl Future<Output = Result<(), NetError>> + Send;

    /// Whether the notebook moved to another key epoch since its mailbox was last read.
    fn relay_epoch_moved(
        &self,
        notebook: &str,
    ) -> impl Future<Output = Result<bool, NetError>> + Send;

    /// Whether relay syncs of this notebook stopped (its 1-1 ended and its mailbox went).
    fn relay_mailbox_gone(
        &self,
        notebook: &str,
    ) -> impl Future<Output = Result<bool, NetError>> + Send;

    /// The push-endpoint registration the notebook's relay still needs, if any.
    fn relay_wake_due(
        &self,
        notebook: &str,
    ) -> impl Future<Output = Result<Option<crate::duet::WakeDue>, NetError>> + Send;

    /// Records what the notebook's relay answered a registration (`refused`: why not).
    fn relay_wake_told(
        &self,
        notebook: &str,
        mailbox: String,
        endpoint: Option<String>,
        refused: Option<String>,
    ) -> impl Future<Output = Result<(), NetError>> + Send;

    /// The welcomes of the notebook's invites to push, check or take down.
    fn welcome_work(
        &self,
        notebook: &str,
    ) -> impl Future<Output = Result<Vec<WelcomeWork>, NetError>> + Send;

    /// Records what happened to an invite's welcome.
    fn welcome_done(
        &self,
        notebook: &str,
        invite: String,
        pushed: bool,
        taken: bool,
    ) -> impl Future<Output = Result<(), NetError>> + Send;

    /// When the next of the notebook's invites expires.
    fn next_welcome_expiry(
        &self,
        notebook: &str,
    ) -> impl Future<Output = Result<Option<i64>, NetError>> + Send;

    /// The notices a rotation left for the mailboxes behind it.
    fn relay_farewell(
        &self,
        notebook: &str,
    ) -> impl Future<Output = Result<Option<Vec<FarewellTarget>>, NetError>> + Send;

    /// Applies another device's notices read from a retired mailbox.
    fn apply_notices(
        &self,
        notebook: &str,
        epoch: String,
        entries: Entries,
    ) -> impl Future<Output = Result<usize, NetError>> + Send;

    /// Records that a mailbox behind has its notice.
    fn relay_farewell_sent(
        &self,
        notebook: &str,
        mailbox: String,
    ) -> impl Future<Output = Result<(), NetError>> + Send;

    /// What the round that just ran leaves to do with an ended 1-1's mailbox, and its key.
    fn relay_end(
        &self,
        notebook: &str,
    ) -> impl Future<Output = Result<Option<(EndStep, MailboxKey)>, NetError>> + Send;

    /// Records that an ended 1-1's mailbox was retired or deleted from here.
    fn relay_end_done(&self, notebook: &str) -> impl Future<Output = Result<(), NetError>> + Send;

    /// One snapshot of everything applied here: the sequence number it covers up to (0:
    /// nothing to compact), the sealed snapshot, and the mailbox.
    fn relay_snapshot(
        &self,
        notebook: &str,
    ) -> impl Future<Output = Result<(u64, Vec<u8>, MailboxKey), NetError>> + Send;

    /// Records that the relay replaced its log up to `upto` with `snapshot`.
    fn relay_compacted(
        &self,
        notebook: &str,
        upto: u64,
        snapshot: Vec<u8>,
    ) -> impl Future<Output = Result<(), NetError>> + Send;
}

impl SyncPort for HomeHandle {
    async fn tls_identity(&self) -> Result<TlsIdentity, NetError> {
        self.port(|d| d.peers().tls_identity()).await
    }

    async fn peer_memberships(&self) -> Result<Vec<PeerMembership>, NetError> {
        self.port(|d| d.peer_memberships()).await
    }

    async fn membership_keys(&self) -> Result<Vec<MembershipKey>, NetError> {
        self.port(|d| Ok(d.memberships()?.into_iter().map(|(_, k)| k).collect()))
            .await
    }

    async fn memberships(&self) -> Result<Vec<(String, MembershipKey)>, NetError> {
        self.port(|d| d.memberships()).await
    }

    async fn remember_peer(
        &self,
        peer: [u8; 32],
        addr: Option<SocketAddr>,
    ) -> Result<(), NetError> {
        self.port(move |d| d.remember_peer(&peer, addr)).await
    }

    async fn remember_peer_fingerprint(&self, peer: String) -> Result<(), NetError> {
        self.port(move |d| d.remember_peer_fingerprint(&peer)).await
    }

    async fn known_peers(&self) -> Result<Vec<KnownPeer>, NetError> {
        self.port(|d| d.peers().known()).await
    }

    async fn complete_joins(&self) -> Result<Vec<String>, NetError> {
        self.port(|d| d.complete_joins()).await
    }

    async fn redeem_invite(
        &self,
        notebook: String,
        invite: String,
        by: String,
        proves: impl FnOnce(&InviteKey) -> bool + Send + 'static,
    ) -> Result<Result<Grant, Refusal>, NetError> {
        self.port(move |d| d.redeem_invite(&notebook, &invite, &by, proves))
            .await
    }

    async fn redeem_welcome(
        &self,
        notebook: String,
        invite: String,
        proves: impl FnOnce(&InviteKey) -> bool + Send + 'static,
    ) -> Result<Result<Option<MailboxKey>, Refusal>, NetError> {
        self.port(move |d| d.redeem_welcome(&notebook, &invite, proves))
            .await
    }

    async fn own_welcome_taken(
        &self,
        notebook: &str,
        invite: String,
        outcome: OwnTake,
    ) -> Result<(), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.own_welcome_taken(&id, &invite, outcome))
            .await
    }

    async fn peer_open(
        &self,
        notebook: String,
        peer: String,
        role: PeerRole,
    ) -> Result<(PeerSession, Vec<Message>), NetError> {
        self.call(move |d| {
            let mut session = d.peer_session(&notebook, &peer, role)?;
            let first = match role {
                PeerRole::Client => d.peer_start(&mut session)?,
                PeerRole::Server => Vec::new(),
            };
            Ok::<_, NetError>((session, first))
        })
        .await
    }

    async fn peer_advance(
        &self,
        mut session: PeerSession,
    ) -> Result<(PeerSession, PeerStep), NetError> {
        self.call(move |d| {
            let step = d.peer_advance(&mut session)?;
            Ok::<_, NetError>((session, step))
        })
        .await
    }

    async fn relayed_notebooks(&self) -> Result<Vec<(String, RelaySetting)>, NetError> {
        self.port(|d| d.relay().notebooks()).await
    }

    async fn relay_setting(&self, notebook: &str) -> Result<Option<RelaySetting>, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay().setting(&id)).await
    }

    async fn notebook_title(&self, notebook: &str) -> Result<String, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| {
            Ok(d.notebooks()?
                .into_iter()
                .find(|n| n.id == id)
                .map(|n| n.title)
                .unwrap_or_default())
        })
        .await
    }

    async fn mailbox_and_cursor(&self, notebook: &str) -> Result<(MailboxKey, u64), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| Ok((d.relay().mailbox_key(&id)?, d.relay().cursor(&id)?)))
            .await
    }

    async fn relay_start(&self, notebook: &str) -> Result<RelayStart, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| {
            Ok(RelayStart {
                key: d.relay().mailbox_key(&id)?,
                cursor: d.relay().cursor(&id)?,
                anchor: d.relay_anchor(&id)?,
            })
        })
        .await
    }

    async fn relay_rewind(&self, notebook: &str) -> Result<(), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_rewind(&id)).await
    }

    async fn relay_apply(
        &self,
        notebook: &str,
        entries: Entries,
    ) -> Result<(SyncReport, usize), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| {
            let applied = d.relay_apply(&id, entries)?;
            d.complete_joins()?;
            Ok(applied)
        })
        .await
    }

    async fn relay_outgoing(&self, notebook: &str) -> Result<Option<Outgoing>, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_outgoing(&id)).await
    }

    async fn relay_pushed(&self, notebook: &str, out: Outgoing) -> Result<(), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_pushed(&id, &out)).await
    }

    async fn relay_epoch_moved(&self, notebook: &str) -> Result<bool, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_epoch_moved(&id)).await
    }

    async fn relay_mailbox_gone(&self, notebook: &str) -> Result<bool, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_mailbox_gone(&id)).await
    }

    async fn relay_wake_due(
        &self,
        notebook: &str,
    ) -> Result<Option<crate::duet::WakeDue>, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_wake_due(&id)).await
    }

    async fn relay_wake_told(
        &self,
        notebook: &str,
        mailbox: String,
        endpoint: Option<String>,
        refused: Option<String>,
    ) -> Result<(), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_wake_told(&id, mailbox, endpoint, refused))
            .await
    }

    async fn welcome_work(&self, notebook: &str) -> Result<Vec<WelcomeWork>, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.welcome_work(&id)).await
    }

    async fn welcome_done(
        &self,
        notebook: &str,
        invite: String,
        pushed: bool,
        taken: bool,
    ) -> Result<(), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.welcome_done(&id, &invite, pushed, taken))
            .await
    }

    async fn next_welcome_expiry(&self, notebook: &str) -> Result<Option<i64>, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.next_welcome_expiry(&id)).await
    }

    async fn relay_farewell(
        &self,
        notebook: &str,
    ) -> Result<Option<Vec<FarewellTarget>>, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay().farewell(&id)).await
    }

    async fn apply_notices(
        &self,
        notebook: &str,
        epoch: String,
        entries: Entries,
    ) -> Result<usize, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.apply_notices(&id, &epoch, entries))
            .await
    }

    async fn relay_farewell_sent(&self, notebook: &str, mailbox: String) -> Result<(), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_farewell_sent(&id, &mailbox))
            .await
    }

    async fn relay_end(&self, notebook: &str) -> Result<Option<(EndStep, MailboxKey)>, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| match d.relay_end_step(&id)? {
            Some(step) => Ok(Some((step, d.relay().mailbox_key(&id)?))),
            None => Ok(None),
        })
        .await
    }

    async fn relay_end_done(&self, notebook: &str) -> Result<(), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_end_done(&id)).await
    }

    async fn relay_snapshot(&self, notebook: &str) -> Result<(u64, Vec<u8>, MailboxKey), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| {
            let (upto, envelope) = d.relay_snapshot(&id)?;
            Ok((upto, envelope, d.relay().mailbox_key(&id)?))
        })
        .await
    }

    async fn relay_compacted(
        &self,
        notebook: &str,
        upto: u64,
        snapshot: Vec<u8>,
    ) -> Result<(), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_compacted(&id, upto, &snapshot))
            .await
    }
}
