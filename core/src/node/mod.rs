//! The node: the one owner of a home while it runs.
//!
//! - [`home`]: the store and the documents in use live on one thread behind a cloneable
//!   async [`HomeHandle`]; edits and views are calls of milliseconds, and nothing holds the
//!   home across a network wait.
//!
//! - [`announce`]: the node's announcement on the local network, kept current.
//! - [`live`]: background sync: relay subscriptions with debounced pushes, remembered
//!   devices on a timer, capped exponential backoff with jitter, and each link's status.
//! - `port`: the sync port, every way the sync drivers reach a home, one typed call each.
//! - [`service`]: "sync now" written once: what a round reaches (relays, remembered
//!   devices, one address, the devices nearby) and one round over those targets; the CLI,
//!   the phone and the background loops all use it.
//! - [`control`]: the local control socket through which the front end's commands reach a
//!   running node (Unix only).
//!
//! A node is run by `duet serve` on a laptop and by the app's `DuetApp` on a phone. Network
//! code reaches the home only through a handle, and only by the port's calls.

#[cfg(unix)]
pub use crate::control;
pub mod announce;
pub mod home;
pub mod live;
mod port;
pub mod service;

pub use home::{Home, HomeHandle, MAX_QUEUED_CALLS};
