//! The home's one owner while a node runs, and the sync port.
//!
//! - `actor`: the store and the documents in use live on one thread behind a cloneable
//!   async [`HomeHandle`]; edits and views are calls of milliseconds, and nothing holds the
//!   home across a network wait.
//! - `port`: the sync port ([`SyncPort`]), every way the sync drivers reach a home, one
//!   typed call each. Only the node crate (`duet-node`: the network ends, background sync,
//!   the sync service) imports it; front ends call the app API through
//!   [`HomeHandle::call`] (`e2e::layers` holds both).
//!
//! A node is run by `duet serve` on a laptop and by the app's `DuetApp` on a phone.

mod actor;
mod port;

pub use actor::{Home, HomeHandle, MAX_QUEUED_CALLS};
pub use port::{RelayStart, SyncPort};
