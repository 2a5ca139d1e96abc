//! The sync port: every way the sync drivers reach a home, one typed method each. The
//! peer client and server, invite redemption, the relay rounds, the sync service and
//! background sync call these and nothing else of the home (`tests/tests/e2e/layers.rs`
//! holds them to it), and the `Duet` methods behind them are the crate's own, not the app
//! API. So what sync needs from a home is written here, once.
//!
//! Each method is one short call on the home's thread: never across a network wait.

use super::HomeHandle;
use crate::crypto::MembershipKey;
use crate::duet::{EndStep, FarewellTarget, Outgoing, OwnTake, PeerSession, PeerStep, WelcomeWork};
use crate::net::handshake::PeerMembership;
use crate::net::relay_client::{Entries, MailboxKey};
use crate::net::tls::TlsIdentity;
use crate::net::NetError;
use crate::one_time_invite::{Grant, InviteKey, Refusal};
use crate::sync::relay_session::Anchor;
use crate::sync::session::PeerRole;
use crate::wire::Message;
use crate::{DuetError, KnownPeer, RelaySetting, SyncReport};
use std::net::SocketAddr;

/// Where a notebook's relay sync starts: its mailbox, the cursor, and the entry at it.
pub(crate) struct RelayStart {
    pub key: MailboxKey,
    pub cursor: u64,
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

    // --- This device and the devices it knows ---

    /// The device's TLS identity.
    pub(crate) async fn tls_identity(&self) -> Result<TlsIdentity, NetError> {
        self.port(|d| d.peers().tls_identity()).await
    }

    /// Per notebook held, what proves membership to a peer.
    pub(crate) async fn peer_memberships(&self) -> Result<Vec<PeerMembership>, NetError> {
        self.port(|d| d.peer_memberships()).await
    }

    /// The membership keys of every notebook held (what nearby devices announce).
    pub(crate) async fn membership_keys(&self) -> Result<Vec<MembershipKey>, NetError> {
        self.port(|d| Ok(d.memberships()?.into_iter().map(|(_, k)| k).collect()))
            .await
    }

    /// Every notebook held, with its membership key (what this node announces nearby).
    pub(crate) async fn memberships(&self) -> Result<Vec<(String, MembershipKey)>, NetError> {
        self.port(|d| d.memberships()).await
    }

    /// Remembers a peer this device synced with (and where).
    pub(crate) async fn remember_peer(
        &self,
        peer: [u8; 32],
        addr: Option<SocketAddr>,
    ) -> Result<(), NetError> {
        self.port(move |d| d.remember_peer(&peer, addr)).await
    }

    /// Remembers the fingerprint of a peer that reached this device.
    pub(crate) async fn remember_peer_fingerprint(&self, peer: String) -> Result<(), NetError> {
        self.port(move |d| d.remember_peer_fingerprint(&peer)).await
    }

    /// The peers this device has synced with.
    pub(crate) async fn known_peers(&self) -> Result<Vec<KnownPeer>, NetError> {
        self.port(|d| d.peers().known()).await
    }

    /// Completes joins whose notebook has arrived; the notebooks completed.
    pub(crate) async fn complete_joins(&self) -> Result<Vec<String>, NetError> {
        self.port(|d| d.complete_joins()).await
    }

    /// Answers a one-time invite's redemption, if `proves` accepts the invite's key.
    pub(crate) async fn redeem_invite(
        &self,
        notebook: String,
        invite: String,
        by: String,
        proves: impl FnOnce(&InviteKey) -> bool + Send + 'static,
    ) -> Result<Result<Grant, Refusal>, NetError> {
        self.port(move |d| d.redeem_invite(&notebook, &invite, &by, proves))
            .await
    }

    /// Checks a redemption asked of this device directly without using the invite, and
    /// names the invite's welcome on the relay, if one is there to take down first.
    pub(crate) async fn redeem_welcome(
        &self,
        notebook: String,
        invite: String,
        proves: impl FnOnce(&InviteKey) -> bool + Send + 'static,
    ) -> Result<Result<Option<MailboxKey>, Refusal>, NetError> {
        self.port(move |d| d.redeem_welcome(&notebook, &invite, proves))
            .await
    }

    /// Records what became of a welcome this device took down itself.
    pub(crate) async fn own_welcome_taken(
        &self,
        notebook: &str,
        invite: String,
        outcome: OwnTake,
    ) -> Result<(), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.own_welcome_taken(&id, &invite, outcome))
            .await
    }

    // --- Peer sync ---

    /// A peer session on `notebook` with `peer`, and the client's first messages (none for
    /// a server, which answers).
    pub(crate) async fn peer_open(
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

    /// Runs the step a peer session's last message made ready: the session moves to the
    /// home's thread for the call and comes back with the step's messages.
    pub(crate) async fn peer_advance(
        &self,
        mut session: PeerSession,
    ) -> Result<(PeerSession, PeerStep), NetError> {
        self.call(move |d| {
            let step = d.peer_advance(&mut session)?;
            Ok::<_, NetError>((session, step))
        })
        .await
    }

    // --- Relay sync ---

    /// Every notebook with a relay, and its relay (ended 1-1s left out).
    pub(crate) async fn relayed_notebooks(&self) -> Result<Vec<(String, RelaySetting)>, NetError> {
        self.port(|d| d.relay().notebooks()).await
    }

    /// The notebook's relay, if it has one.
    pub(crate) async fn relay_setting(
        &self,
        notebook: &str,
    ) -> Result<Option<RelaySetting>, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay().setting(&id)).await
    }

    /// The notebook's title (empty when it has not arrived).
    pub(crate) async fn notebook_title(&self, notebook: &str) -> Result<String, NetError> {
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

    /// The notebook's mailbox and cursor.
    pub(crate) async fn mailbox_and_cursor(
        &self,
        notebook: &str,
    ) -> Result<(MailboxKey, u64), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| Ok((d.relay().mailbox_key(&id)?, d.relay().cursor(&id)?)))
            .await
    }

    /// Where a relay session starts.
    pub(crate) async fn relay_start(&self, notebook: &str) -> Result<RelayStart, NetError> {
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

    /// Forgets the cursor, the anchor and what the relay was believed to hold.
    pub(crate) async fn relay_rewind(&self, notebook: &str) -> Result<(), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_rewind(&id)).await
    }

    /// Applies entries pulled from the relay; the report and how many failed to open. A
    /// notebook joined from a ticket becomes this device's once its index is here, in the
    /// same call (the next push carries the join to the others).
    pub(crate) async fn relay_apply(
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

    /// Seals what the relay has not seen of this device's changes.
    pub(crate) async fn relay_outgoing(
        &self,
        notebook: &str,
    ) -> Result<Option<Outgoing>, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_outgoing(&id)).await
    }

    /// Records that the relay holds what was sealed.
    pub(crate) async fn relay_pushed(&self, notebook: &str, out: Outgoing) -> Result<(), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_pushed(&id, &out)).await
    }

    /// Whether the notebook moved to another key epoch since its mailbox was last read.
    pub(crate) async fn relay_epoch_moved(&self, notebook: &str) -> Result<bool, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_epoch_moved(&id)).await
    }

    /// Whether relay syncs of this notebook stopped (its 1-1 ended and its mailbox went).
    pub(crate) async fn relay_mailbox_gone(&self, notebook: &str) -> Result<bool, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_mailbox_gone(&id)).await
    }

    /// The push-endpoint registration the notebook's relay still needs, if any.
    pub(crate) async fn relay_wake_due(
        &self,
        notebook: &str,
    ) -> Result<Option<crate::duet::WakeDue>, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_wake_due(&id)).await
    }

    /// Records what the notebook's relay answered a registration (`refused`: why not).
    pub(crate) async fn relay_wake_told(
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

    /// The welcomes of the notebook's invites to push, check or take down.
    pub(crate) async fn welcome_work(&self, notebook: &str) -> Result<Vec<WelcomeWork>, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.welcome_work(&id)).await
    }

    /// Records what happened to an invite's welcome.
    pub(crate) async fn welcome_done(
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

    /// When the next of the notebook's invites expires.
    pub(crate) async fn next_welcome_expiry(
        &self,
        notebook: &str,
    ) -> Result<Option<i64>, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.next_welcome_expiry(&id)).await
    }

    /// The notices a rotation left for the mailboxes behind it.
    pub(crate) async fn relay_farewell(
        &self,
        notebook: &str,
    ) -> Result<Option<Vec<FarewellTarget>>, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay().farewell(&id)).await
    }

    /// Applies another device's notices read from a retired mailbox.
    pub(crate) async fn apply_notices(
        &self,
        notebook: &str,
        epoch: String,
        entries: Entries,
    ) -> Result<usize, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.apply_notices(&id, &epoch, entries))
            .await
    }

    /// Records that a mailbox behind has its notice.
    pub(crate) async fn relay_farewell_sent(
        &self,
        notebook: &str,
        mailbox: String,
    ) -> Result<(), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_farewell_sent(&id, &mailbox))
            .await
    }

    /// What the round that just ran leaves to do with an ended 1-1's mailbox, and its key.
    pub(crate) async fn relay_end(
        &self,
        notebook: &str,
    ) -> Result<Option<(EndStep, MailboxKey)>, NetError> {
        let id = notebook.to_owned();
        self.port(move |d| match d.relay_end_step(&id)? {
            Some(step) => Ok(Some((step, d.relay().mailbox_key(&id)?))),
            None => Ok(None),
        })
        .await
    }

    /// Records that an ended 1-1's mailbox was retired or deleted from here.
    pub(crate) async fn relay_end_done(&self, notebook: &str) -> Result<(), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| d.relay_end_done(&id)).await
    }

    /// One snapshot of everything applied here: the sequence number it covers up to (0:
    /// nothing to compact), the sealed snapshot, and the mailbox.
    pub(crate) async fn relay_snapshot(
        &self,
        notebook: &str,
    ) -> Result<(u64, Vec<u8>, MailboxKey), NetError> {
        let id = notebook.to_owned();
        self.port(move |d| {
            let (upto, envelope) = d.relay_snapshot(&id)?;
            Ok((upto, envelope, d.relay().mailbox_key(&id)?))
        })
        .await
    }

    /// Records that the relay replaced its log up to `upto` with `snapshot`.
    pub(crate) async fn relay_compacted(
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
