//! Duet's protocol layer: what devices and relays share, and nothing of a notebook.
//!
//! - [`wire`]: versioned, length-prefixed messages of peer and relay sync, each frame's
//!   size checked before anything is allocated
//! - [`crypto`]: device keys, fingerprints, notebook secrets and what derives from them
//! - [`net`]: QUIC endpoints with pinned TLS, the membership handshake, the relay client,
//!   the limits every link shares and [`net::NetError`]
//! - [`engine`]: the durable key-value engine (sled behind a trait) under the device store
//!   and the relay's store
//! - [`mailbox`]: a relay mailbox's rules (which token opens it, what creates it, what a
//!   retired one allows, how pushes are numbered), for the relay and the relay in memory
//! - [`membership`]: signed, hash-linked membership operations and the rules that say
//!   who is in a space and which key epoch is in force
//! - [`wake`]: push endpoints a relay POSTs a content-free wake-up to, and the slots
//!   devices keep them under
//! - [`control`]: a local, owner-only control socket carrying length-prefixed requests
//!
//! The relay (`duet-relay`) depends on this crate alone; the device core (`duet-core`)
//! builds the notebook, the store and the node on top of it. Nothing here knows Automerge,
//! a notebook or a home. See `docs/ARCHITECTURE.md` for the layers and their invariants.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

#[cfg(unix)]
pub mod control;
pub mod crypto;
pub mod engine;
pub mod mailbox;
pub mod membership;
pub mod net;
pub mod wake;
pub mod wire;
