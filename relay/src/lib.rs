//! Duet's relay: a small store-and-forward server a team hosts so that manager and report
//! need never be online together. It keeps, per notebook, an append-only log of sealed
//! envelopes and forwards them; it never holds a key and never sees plaintext.
//!
//! - `config`: limits, the team-token rule, retention, the operators' listener (TOML)
//! - `store`: the relay's store as the server sees it, over one backend
//! - `mailbox_store`: the backends' seam (the `MailboxStore` trait) and the rules they share
//! - `sled_store`, `postgres`: mailboxes and logs on sled (embedded) or PostgreSQL, each
//!   with group commit; `pg_link`: how the relay reaches its database (TLS, password)
//! - `server`: the QUIC server, carrying what each stream's state machine (`stream`: the
//!   order of a stream's frames, its checks and its replies, sans I/O) asks
//! - `arrivals`: which subscribers a mailbox's growth wakes
//! - `committed`: the records a PostgreSQL writer last committed, so its next batch skips
//!   locking them
//! - `known`: mailboxes this process stored pushes for, so the next push skips a read
//! - `metrics`: what it counts, as Prometheus series
//! - `ops`: the operators' HTTP listener (metrics, health, status)
//! - `retention`: deleting mailboxes idle past the configured days
//! - `wake`: which push endpoints the relay takes, and the sender that wakes them
//!   (coalesced, retried, dropped when gone); `wake_post`: one wake-up's HTTP POST
//! - `admin`: the owner-only socket through which backups and deletions reach a running relay
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod admin;
pub mod arrivals;
pub mod committed;
pub mod config;
pub mod known;
pub mod mailbox_store;
pub mod metrics;
pub mod ops;
pub mod pg_link;
pub mod postgres;
pub mod retention;
pub mod server;
pub mod sled_store;
pub mod store;
pub mod stream;
pub mod udp;
pub mod wake;
pub mod wake_post;
