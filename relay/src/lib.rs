//! Duet's relay: a small store-and-forward server a team hosts so that manager and report
//! need never be online together. It keeps, per notebook, an append-only log of sealed
//! envelopes and forwards them; it never holds a key and never sees plaintext.
//!
//! - `config`: limits and the team-token rule
//! - `store`: mailboxes and logs on sled, with group commit
//! - `server`: the QUIC server
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod config;
pub mod server;
pub mod store;
