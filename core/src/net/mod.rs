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

use crate::sync::peer::SyncError;
use crate::DuetError;

impl From<DuetError> for NetError {
    fn from(e: DuetError) -> Self {
        NetError::Local(Box::new(e))
    }
}

impl From<SyncError> for NetError {
    fn from(e: SyncError) -> Self {
        NetError::Local(Box::new(e))
    }
}

impl From<crate::sync::relay_session::RelaySyncError> for NetError {
    fn from(e: crate::sync::relay_session::RelaySyncError) -> Self {
        use crate::sync::relay_session::RelaySyncError;
        match e {
            RelaySyncError::Refused { why, message } => NetError::RelayRefused { why, message },
            RelaySyncError::Protocol(why) => NetError::Protocol(why),
        }
    }
}

/// The device's own error inside a [`NetError::Local`], when it is one: front ends word
/// it like any other [`DuetError`].
pub fn local_error(e: &NetError) -> Option<&DuetError> {
    match e {
        NetError::Local(inner) => inner.downcast_ref::<DuetError>(),
        _ => None,
    }
}

/// [`local_error`], taking the error: the [`DuetError`] inside, or the error unchanged.
pub fn into_local_error(e: NetError) -> Result<DuetError, NetError> {
    match e {
        NetError::Local(inner) => match inner.downcast::<DuetError>() {
            Ok(duet) => Ok(*duet),
            Err(other) => Err(NetError::Local(other)),
        },
        other => Err(other),
    }
}
