//! Duet's core library: one shared notebook per manager–report pair, kept offline-first.
//!
//! Data flows one way: a front end (the `duet` CLI, the mobile core) calls the [`Duet`]
//! app API (by part of the notebook: [`parts`]), which opens the device
//! [`store`](crate::store::Store), loads the notebook's
//! documents through [`model`], applies typed edits, and appends each edit durably before
//! returning. Devices merge with Automerge; offline exchange goes through [`bundle`] files
//! and standard `.automerge` exports. While a [`node`] runs, the façade lives on the home's
//! own thread and everyone else reaches it through a [`node::HomeHandle`].
//!
//! It is built on `duet_protocol` (wire frames, keys, QUIC links, the relay client, the
//! durable engine), re-exported here as [`wire`], [`crypto`], [`control`] and, inside
//! [`net`] and [`store`], the transport and the engine. `docs/ARCHITECTURE.md` has the code
//! map and the invariants with what holds each.
//!
//! # Invariants
//! - **Layers point one way**: protocol (the `duet_protocol` crate: a compile error to
//!   reach up) ← model ← store ← sync ← node/net ← front ends. Inside this crate the order
//!   is a convention. `model`, `insights`, `sync` and `wire` do no I/O and are testable
//!   with no sockets and no disk.
//! - **Only `net` and `node` do network I/O; only `store` does disk I/O** (plus the
//!   façade's explicit exports and bundles).
//! - **Nothing holds the home across a network wait.** Network code reaches the home only
//!   through a [`node::HomeHandle`], one short call per step; an edit waits at most for the
//!   calls queued before it, never for the network.
//! - **An edit is durable before it is acknowledged** (flushed and synced), and each run
//!   writes with a fresh Automerge actor id.
//! - **Refusals are typed** ([`DuetError`], [`net::NetError`], `wire::RelayRefusal`):
//!   nothing matches on message text; front ends word them.
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
//! - `node`: the one owner of a home while it runs (the store's thread and its handle)
//! - `net`: the device's network ends, `serve`, `sync --peer`, invites, discovery and the
//!   relay sync, over `duet_protocol`'s links
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
pub mod model;
pub mod net;
pub mod node;
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
pub use duet::{
    enable_os_keychain, Asked, CalendarEvent, DeviceView, Duet, EditRecord, ExportManifest,
    ExportedDoc, HomeKeySource, InviteState, InviteView, JoinAs, KnownPeer, MergeReport,
    MoveTarget, Order, Owner, Prep, QuarantinedBatch, RelaySetting, SheetHeads, SheetReport,
    SheetSource, SyncReport, UndoList, Undone, WakeRecord, WithheldBatches, WrapNotes, WrapOutcome,
    HELD_MINUTES, MANAGER_REMINDER_MINUTES, MANIFEST_FILE, MAX_DEVICE_NAME_CHARS,
    MAX_SECTION_BYTES, MAX_UNDO_EDITS, REPORT_REMINDER_MINUTES, WAKE_REFUSAL_STANDS_MS,
    WHOLE_DAY_REMINDER_HOUR,
};
pub use error::DuetError;
pub use model::views;
pub use model::{Role, Section};
