//! The node's network side: a device's peer and relay sync, the sync service, background
//! sync and the node's announcement on the local network. It reaches a home only through
//! `duet_core`'s sync port ([`duet_core::home::SyncPort`]), one typed call per step, and
//! never holds the home across a network wait.
//!
//! - [`net`]: the device's network ends over the protocol's links: `duet sync --peer`
//!   ([`net::client`]), `duet serve` ([`net::server`]), redeeming invites
//!   ([`net::redeem`]), local discovery ([`net::nearby`]) and a notebook's relay sync
//!   ([`net::relay_client`]).
//! - [`service`]: "sync now" written once: what a round reaches (relays, remembered
//!   devices, one address, the devices nearby) and one round over those targets; the CLI,
//!   the phone and the background loops all use it.
//! - [`live`]: background sync: relay subscriptions with debounced pushes, remembered
//!   devices on a timer, capped exponential backoff with jitter, and each link's status.
//! - [`announce`]: the node's announcement on the local network, kept current.
//! - [`control`]: the local control socket through which the front end's commands reach a
//!   running node (Unix only).
//!
//! A node is run by `duet serve` on a laptop and by the app's `DuetApp` on a phone.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod announce;
#[cfg(unix)]
pub use duet_protocol::control;
pub mod live;
pub mod net;
pub mod service;

pub use duet_core::home::{Home, HomeHandle, MAX_QUEUED_CALLS};
