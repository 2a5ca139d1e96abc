//! The table of this device's settings, cursors and kept records: each a type naming its
//! key and its value's type (the store's [`Setting`] machinery), kept here beside the app
//! API's and the sync engines' types they store.

use crate::store::settings::{setting, Setting};
use crate::store::StoreError;
use std::net::SocketAddr;

setting!(
    /// This device's signing key (32 bytes).
    IdentityKey() => Vec<u8>, bytes, "device_key");
setting!(
    /// This home's id (names its entry in the OS keychain).
    HomeId() => String, text, "home_id");
setting!(
    /// The device owner's name.
    OwnerName() => String, text, "name");
setting!(
    /// The notebook commands work on by default.
    CurrentNotebook() => String, text, "current_notebook");
setting!(
    /// This device's TLS certificate (DER).
    TlsCertificate() => Vec<u8>, bytes, "tls_cert");
setting!(
    /// This device's TLS private key (PKCS#8 DER).
    TlsPrivateKey() => Vec<u8>, bytes, "tls_key");
setting!(
    /// The person's personal space (private notes) on this device.
    PersonalSpace() => String, text, "personal_space");
setting!(
    /// The push endpoint relays wake this device at (`None`: no wake-ups).
    PushEndpoint() => Option<String>, postcard, "push-endpoint");
setting!(
    /// What a notebook's relay was last told of this device's push endpoint.
    WakeRegistered(notebook) => super::WakeRecord, postcard, "wake-registered/{notebook}");
setting!(
    /// How many minutes before a 1-1 this device reminds its person (negative: never), for
    /// one notebook, or for all with an empty notebook id.
    RemindBefore(notebook) => i64, postcard, "remind-before/{notebook}");
setting!(
    /// This device's undo and redo lists of a notebook's edits.
    UndoJournal(notebook) => super::EditJournal, postcard, "undo/{notebook}");
setting!(
    /// A device this one has synced with, by certificate fingerprint.
    KnownDevice(fingerprint) => crate::KnownPeer, json, "peer/{fingerprint}");
setting!(
    /// A notebook's epoch key this device was handed outside the index (by a ticket or a
    /// bundle): the epoch's number and the key sealed by the home key.
    EpochKeyCopy(notebook, epoch) => (u64, Vec<u8>), postcard, "epoch-key/{notebook}/{epoch}");
setting!(
    /// The epoch (id; empty for the initial one) whose relay mailbox the notebook's relay
    /// cursor and what the relay has seen refer to.
    RelayEpoch(notebook) => String, text, "relay-epoch/{notebook}");
setting!(
    /// The membership notices for the mailboxes a new epoch left behind: pushed there once,
    /// so a device offline during the rotation finds the new epoch's key (sealed to it);
    /// `None` once pushed.
    RelayFarewell(notebook) => Option<Vec<super::FarewellTarget>>, postcard, "relay-farewell/{notebook}");
setting!(
    /// The notebook's relay mailbox is bound to its relay (told by a grant, before the
    /// notebook's index, which says so too, has arrived).
    RelayBound(notebook) => bool, postcard, "relay-bound/{notebook}");
setting!(
    /// A one-time invite made on this device, by notebook and invite id.
    Invitation(notebook, id) => super::InviteRecord, postcard, "invitation/{notebook}/{id}");
setting!(
    /// The relay mailbox of an ended 1-1 was retired or deleted from here.
    RelayEnded(notebook) => bool, postcard, "relay-ended/{notebook}");
setting!(
    /// This device's name, as the notebooks' other devices see it.
    DeviceName() => String, text, "device_name");
setting!(
    /// When a relay batch from a sender (hex id) of a notebook was last applied here (Unix
    /// milliseconds): how `duet devices` knows when it last heard from a device.
    SenderLastSeen(notebook, sender) => i64, postcard, "sender-last-seen/{notebook}/{sender}");
setting!(
    /// A notebook joined from an invite whose index has not arrived: the role to join as
    /// (empty once joined).
    PendingJoin(notebook) => String, text, "pending-join/{notebook}");
setting!(
    /// The one-time invite this device joined a notebook with (its id on the inviting
    /// device), which its device record names.
    JoinedWithInvite(notebook) => String, text, "joined-with-invite/{notebook}");
setting!(
    /// The first operation of a notebook's membership log (its id, hex), as this device
    /// learned it: at the notebook's creation, or from the invite it joined with.
    LogGenesis(notebook) => String, text, "log-genesis/{notebook}");
setting!(
    /// The relay a notebook (or the personal space) syncs through.
    NotebookRelay(notebook) => crate::RelaySetting, json, "relay/{notebook}");
setting!(
    /// The heads of a document the notebook's relay has seen (from this device or others).
    RelaySeen(notebook, doc) => Vec<[u8; 32]>, postcard, "relay-seen/{notebook}/{doc}");
setting!(
    /// The Automerge sync state with a peer for one document (`State::encode`).
    PeerSyncState(peer, notebook, doc) => Vec<u8>, bytes, "peer-state/{peer}/{notebook}/{doc}");
setting!(
    /// Set once a notebook has completed a sync with a peer.
    PeerSynced(peer, notebook) => Vec<u8>, bytes, "peer-synced/{peer}/{notebook}");
setting!(
    /// The entry at a notebook's relay cursor, as this device read it.
    RelayAnchor(notebook) => crate::sync::relay_session::Anchor, postcard, "relay-anchor/{notebook}");
setting!(
    /// When this device last found its notebook's relay log not the one it had read
    /// (milliseconds since the Unix epoch), and rewound.
    RelayRewound(notebook) => i64, postcard, "relay-rewound/{notebook}");
setting!(
    /// This device's chain link of its last batch the notebook's relay acknowledged: its
    /// counter, and (in `previous`) that envelope's digest.
    SealChain(notebook) => crate::sync::relay::Chain, postcard, "seal-chain/{notebook}");
setting!(
    /// The last chain link read from a sender (hex id) in the notebook's relay log: its
    /// counter, and (in `previous`) that envelope's digest.
    SenderSeen(notebook, sender) => crate::sync::relay::Chain, postcard, "sender-seen/{notebook}/{sender}");
setting!(
    /// That a sender (hex id) of the notebook's relay log signs its chain links: an
    /// unsigned link under its id is then not its own (a forgery, or a downgrade).
    SenderSigns(notebook, sender) => bool, postcard, "sender-signs/{notebook}/{sender}");
setting!(
    /// Batches of a sender (hex id) the relay did not deliver, as last noticed.
    Withheld(notebook, sender) => crate::WithheldBatches, postcard, "withheld/{notebook}/{sender}");
setting!(
    /// A relay batch set aside instead of applied, by notebook and zero-padded sequence
    /// number (so a family scan lists them in order).
    Quarantined(notebook, seq) => crate::QuarantinedBatch, postcard, "quarantine/{notebook}/{seq}");
setting!(
    /// The sealed envelope of a batch set aside (kept apart so listing them stays cheap).
    QuarantinedEnvelope(notebook, seq) => Vec<u8>, bytes, "quarantine-envelope/{notebook}/{seq}");

/// The last relay sequence number applied here, per notebook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayCursor(pub String);

impl Setting for RelayCursor {
    type Value = u64;
    fn key(&self) -> String {
        format!("relay-cursor/{}", self.0)
    }
    fn encode(value: &u64) -> Result<Vec<u8>, StoreError> {
        Ok(value.to_be_bytes().to_vec())
    }
    fn decode(bytes: &[u8]) -> Option<u64> {
        bytes.try_into().ok().map(u64::from_be_bytes)
    }
}

/// Where `duet serve` last listened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeAddress;

impl Setting for ServeAddress {
    type Value = SocketAddr;
    fn key(&self) -> String {
        "serve_addr".into()
    }
    fn encode(value: &SocketAddr) -> Result<Vec<u8>, StoreError> {
        Ok(value.to_string().into_bytes())
    }
    fn decode(bytes: &[u8]) -> Option<SocketAddr> {
        crate::store::settings::text(bytes)?.parse().ok()
    }
}
