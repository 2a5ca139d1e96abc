//! The device's network ends (quinn): `duet sync --peer` ([`client`]), `duet serve`
//! ([`server`]), redeeming invites ([`redeem`]), local discovery ([`nearby`]) and the
//! relay sync ([`relay_client`]). The transport underneath (endpoints, pinned TLS, the
//! membership handshake, the relay client, limits and [`NetError`]) is `duet_protocol`'s,
//! re-exported here.
//!
//! One connection per peer; the first bidirectional stream is the control stream (the
//! membership handshake); then one stream per notebook both hold. Every read has a timeout
//! and every frame a size limit, so a peer that stalls or floods hurts only itself.

pub use duet_protocol::net::*;

pub mod client;
pub mod nearby;
pub mod redeem;
pub mod relay_client;
pub mod server;

pub use duet_core::{into_local_error, local_error};
