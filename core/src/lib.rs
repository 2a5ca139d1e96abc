//! Duet's core library: one shared notebook per manager–report pair, kept offline-first.
//!
//! Data flows one way: a front end (the `duet` CLI, the mobile core) calls the [`Duet`]
//! app API (by part of the notebook: [`parts`]), which opens the device
//! [`store`](crate::store::Store), loads the notebook's documents through [`model`],
//! applies typed edits, and appends each edit durably before returning. Devices merge with
//! Automerge; offline exchange goes through [`bundle`] files and standard `.automerge`
//! exports. While a node runs, the app API lives on the home's own thread and everyone
//! else reaches it through a [`home::HomeHandle`]; the node's network side (peer and relay
//! sync, the sync service, background sync) is the `duet-node` crate, above this one.
//!
//! It is built on `duet_protocol` (wire frames, keys, QUIC links, the relay client, the
//! durable engine), re-exported here as [`wire`], [`crypto`], [`control`] and, inside
//! [`store`], the engine. `docs/ARCHITECTURE.md` has the code map and the invariants with
//! what holds each.
//!
//! # Invariants
//! - **Layers point one way**: protocol (the `duet_protocol` crate) ← model ← store ←
//!   sync ← the app API and the home ← the node (the `duet-node` crate) ← front ends.
//!   Between crates the compiler holds it; inside this one `e2e::layers` does. `model`,
//!   `insights`, `sync` and `wire` do no I/O and are testable with no sockets and no disk.
//! - **This crate does no network I/O; only `store` does disk I/O** (plus the app API's
//!   explicit exports and bundles).
//! - **Nothing holds the home across a network wait.** Network code reaches the home only
//!   through the [`home::SyncPort`], one short call per step; an edit waits at most for the
//!   calls queued before it, never for the network.
//! - **An edit is durable before it is acknowledged** (flushed and synced), and each run
//!   writes with a fresh Automerge actor id.
//! - **Refusals are typed** ([`DuetError`], `NetError`, `wire::RelayRefusal`): nothing
//!   matches on message text; front ends word them.
//!
//! - `model`: the notebook schema over Automerge documents (the only module that knows key paths)
//! - `store`: the device store on sled (identity, secrets, document snapshots and chunks)
//! - `crypto`: device keys and notebook secrets (from `duet_protocol`)
//! - `sealing`: small secrets sealed to one device's X25519 key
//! - `bundle`: the offline exchange file format
//! - `invite`: invite tickets (secret, addresses, fingerprint) as a short string and a QR code
//! - `wire`: versioned, length-prefixed messages shared by devices and the relay (from
//!   `duet_protocol`)
//! - `insights`: health signals, themes and search over a notebook's history
//! - `sync`: transport-free sync state machines
//! - `home`: the one owner of a home while a node runs (the store's thread and its handle)
//!   and the sync port, the one way the node crate (`duet-node`: the network ends, the sync
//!   service, background sync) reaches a home
//! - `dates`, `ids`: the small parsers people type into
//! - `packing`: deflate for the views kept in the store, one codec state per thread
//! - `sheet_text`: a meeting as the Markdown file `duet edit` opens, and that file read back
//! - `digests`: each meeting's takeaway and commitments, kept for the whole notebook in one
//!   record checked against one scan of the documents' versions
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod bundle;
#[cfg(unix)]
pub use duet_protocol::control;
pub use duet_protocol::crypto;
pub mod dates;
mod digests;
mod duet;
mod error;
pub mod ids;
pub mod insights;
pub mod invite;
pub use duet_protocol::mailbox;
pub use duet_protocol::membership;
pub mod home;
pub mod model;
mod notebook;
pub mod one_time_invite;
mod packing;
pub mod sample;
pub mod sealing;
pub mod sheet_text;
pub mod store;
pub mod sync;
pub use duet_protocol::wire;

pub use duet::parts;
/// The types the sync port's calls carry (the node crate's side of a sync step).
pub mod steps {
    pub use crate::duet::{
        EndStep, FarewellTarget, Outgoing, OwnTake, PeerSession, PeerStep, WakeDue, WelcomeWork,
    };
}
pub use duet::{
    enable_os_keychain, Asked, CalendarEvent, DeviceView, Duet, EditRecord, ExportManifest,
    ExportedDoc, HomeKeySource, InviteState, InviteView, JoinAs, KnownPeer, MergeReport,
    MoveTarget, Order, Owner, Prep, QuarantinedBatch, RelaySetting, SheetHeads, SheetReport,
    SheetSource, SyncReport, UndoList, Undone, WakeRecord, WithheldBatches, WrapNotes, WrapOutcome,
    HELD_MINUTES, MANAGER_REMINDER_MINUTES, MANIFEST_FILE, MAX_DEVICE_NAME_CHARS,
    MAX_SECTION_BYTES, MAX_UNDO_EDITS, REPORT_REMINDER_MINUTES, WAKE_REFUSAL_STANDS_MS,
    WHOLE_DAY_REMINDER_HOUR,
};
pub use error::{into_local_error, local_error, DuetError};
pub use model::views;
pub use model::{Role, Section};
