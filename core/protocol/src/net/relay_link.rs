//! The seam between a device's relay sync and whatever carries its frames: a
//! [`RelayLink`] sends one request (opening a mailbox) and hands back the relay's replies
//! as they come. Quinn carries them in production ([`super::relay_client::RelayClient`]);
//! [`super::memory_relay::MemoryRelay`] answers them in memory, so whole relay rounds run
//! in tests with no sockets. Everything above a link (push, pull, retire, delete, compact,
//! and the sync steps built on them) is written once, against this trait.

use super::relay_client::{Entries, MailboxKey};
use super::NetError;
use crate::wire::{RelayRefusal, RelayReply, RelayRequest};
use std::net::SocketAddr;

/// The replies to one request, in the order the relay sent them.
// The trait is used with concrete links only (the sync steps are generic and monomorphised),
// so the futures' `Send` is known where they are spawned.
#[allow(async_fn_in_trait)]
pub trait RelayReplies {
    /// The next reply; a stream the relay ended early is an error naming why.
    async fn next(&mut self) -> Result<RelayReply, NetError>;
}

/// A way to reach one relay: one request at a time per call, each on its own stream.
#[allow(async_fn_in_trait)]
pub trait RelayLink {
    /// The replies to a request.
    type Replies<'a>: RelayReplies
    where
        Self: 'a;

    /// Where the relay is (for reports and errors).
    fn addr(&self) -> SocketAddr;

    /// Sends one request, opening the mailbox with `key` (creating it when `create`); its
    /// replies come from the returned stream, uninterpreted.
    async fn open_request(
        &self,
        key: &MailboxKey,
        create: bool,
        request: RelayRequest,
    ) -> Result<Self::Replies<'_>, NetError>;

    /// Pushes an envelope; returns its sequence number once the relay has it on disk.
    async fn push(&self, key: &MailboxKey, envelope: Vec<u8>) -> Result<u64, NetError> {
        let mut replies = self
            .open_request(key, true, RelayRequest::Push { envelope })
            .await?;
        match answer(replies.next().await?)? {
            RelayReply::Pushed { seq } => Ok(seq),
            other => Err(unexpected("Pushed", &other)),
        }
    }

    /// Retires a mailbox (its notebook moved to new keys): still read, never written, and
    /// kept as a tombstone.
    async fn retire(&self, key: &MailboxKey) -> Result<(), NetError> {
        let mut replies = self.open_request(key, false, RelayRequest::Retire).await?;
        match answer(replies.next().await?)? {
            RelayReply::Retired => Ok(()),
            other => Err(unexpected("Retired", &other)),
        }
    }

    /// Closes a mailbox whose 1-1 ended: read, never written, and deletable by its
    /// members once the other side has read the end.
    async fn close_mailbox(&self, key: &MailboxKey) -> Result<(), NetError> {
        let mut replies = self.open_request(key, false, RelayRequest::Close).await?;
        match answer(replies.next().await?)? {
            RelayReply::Closed => Ok(()),
            other => Err(unexpected("Closed", &other)),
        }
    }

    /// Deletes a closed mailbox (its 1-1 ended, and the other side has read the end).
    async fn delete(&self, key: &MailboxKey) -> Result<(), NetError> {
        let mut replies = self.open_request(key, false, RelayRequest::Delete).await?;
        match answer(replies.next().await?)? {
            RelayReply::Deleted => Ok(()),
            other => Err(unexpected("Deleted", &other)),
        }
    }

    /// Takes a mailbox whole (its entries, and the mailbox deleted in the same step on
    /// the relay); `None` when it is not there (never made, or taken, retired or deleted
    /// already).
    async fn take(&self, key: &MailboxKey) -> Result<Option<Entries>, NetError> {
        let mut replies = self.open_request(key, false, RelayRequest::Take).await?;
        match answer(replies.next().await?) {
            Ok(RelayReply::Entries { entries, .. }) => Ok(Some(entries)),
            Ok(other) => Err(unexpected("entries", &other)),
            Err(NetError::RelayRefused {
                why: RelayRefusal::NoMailbox | RelayRefusal::Retired,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets this device's push endpoint for the mailbox under its `slot`, or removes it
    /// when `endpoint` is `None` (`crate::wake`).
    async fn set_wake(
        &self,
        key: &MailboxKey,
        slot: [u8; 32],
        endpoint: Option<String>,
    ) -> Result<(), NetError> {
        let mut replies = self
            .open_request(key, false, RelayRequest::SetWake { slot, endpoint })
            .await?;
        match answer(replies.next().await?)? {
            RelayReply::WakeSet => Ok(()),
            other => Err(unexpected("WakeSet", &other)),
        }
    }

    /// Every entry after `after`, across as many pages as the relay sends.
    async fn pull(&self, key: &MailboxKey, after: u64) -> Result<Entries, NetError> {
        let mut replies = self
            .open_request(key, false, RelayRequest::Pull { after })
            .await?;
        let mut out = Vec::new();
        loop {
            match answer(replies.next().await?)? {
                RelayReply::Entries { entries, more } => {
                    out.extend(entries);
                    if !more {
                        return Ok(out);
                    }
                }
                other => return Err(unexpected("entries", &other)),
            }
        }
    }

    /// Replaces the entries up to `upto` with one snapshot envelope; returns the sequence
    /// number the snapshot now stands at.
    async fn compact(
        &self,
        key: &MailboxKey,
        upto: u64,
        envelope: Vec<u8>,
    ) -> Result<u64, NetError> {
        let mut replies = self
            .open_request(key, false, RelayRequest::Compact { upto, envelope })
            .await?;
        match answer(replies.next().await?)? {
            RelayReply::Compacted { upto } => Ok(upto),
            other => Err(unexpected("Compacted", &other)),
        }
    }
}

/// A reply, with a refusal turned into the typed error it is.
pub fn answer(reply: RelayReply) -> Result<RelayReply, NetError> {
    match reply {
        RelayReply::Refused { why, message } => Err(NetError::RelayRefused { why, message }),
        reply => Ok(reply),
    }
}

fn unexpected(wanted: &str, got: &RelayReply) -> NetError {
    NetError::Protocol(format!("expected {wanted}, got {got:?}"))
}
