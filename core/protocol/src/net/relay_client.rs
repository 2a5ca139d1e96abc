//! The device's side of the relay protocol: connect (the relay pinned by its fingerprint),
//! then one stream per request, each opening the notebook's mailbox with its token.

use super::tls::{self, Pins};
use super::{step, NetError};
use crate::crypto::parse_fingerprint;
use crate::wire::{self, RelayRefusal, RelayReply, RelayRequest};
use std::net::SocketAddr;
use std::time::Duration;

/// Entries from a pull: (sequence number, envelope).
pub type Entries = Vec<(u64, Vec<u8>)>;

/// A connection to a relay.
pub struct RelayClient {
    endpoint: quinn::Endpoint,
    conn: quinn::Connection,
    addr: SocketAddr,
}

/// What opens a mailbox.
#[derive(Debug, Clone)]
pub struct MailboxKey {
    /// The notebook id.
    pub mailbox: String,
    /// The notebook's relay token.
    pub token: [u8; 32],
    /// The team token, where the relay needs one to create mailboxes.
    pub team_token: Option<String>,
}

/// The relay's port when an address names none.
pub const RELAY_PORT: u16 = 7879;

/// Resolves a relay's `host:port` (port 7879 when absent).
pub fn resolve(addr: &str) -> Result<SocketAddr, NetError> {
    super::resolve(addr, RELAY_PORT)
}

impl RelayClient {
    /// Connects to the relay at `addr`, which must present `fingerprint`.
    pub async fn connect(
        identity: &tls::TlsIdentity,
        addr: SocketAddr,
        pins: Pins,
    ) -> Result<RelayClient, NetError> {
        let (endpoint, conn) =
            super::connect(identity, addr, pins, tls::RELAY_ALPN, "the relay").await?;
        Ok(RelayClient {
            endpoint,
            conn,
            addr,
        })
    }

    /// The relay's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn request(
        &self,
        key: &MailboxKey,
        create: bool,
        request: RelayRequest,
    ) -> Result<(quinn::SendStream, quinn::RecvStream), NetError> {
        let addr = self.addr;
        let (mut send, recv) = step(addr, "opening a stream", self.conn.open_bi())
            .await?
            .map_err(|e| super::handshake::closed_reason_or(&self.conn, addr, e))?;
        let open = RelayRequest::Open {
            mailbox: key.mailbox.clone(),
            token: key.token,
            create,
            team_token: key.team_token.clone(),
        };
        step(addr, "sending", wire::write(&mut send, &open)).await??;
        if let Err(e) = step(addr, "sending", wire::write(&mut send, &request)).await? {
            // The relay checks the `Open` before reading a request, and may refuse (a wrong
            // token, no team token) and stop reading mid-request: its reply says why.
            tracing::debug!(%addr, error = %e, "the relay stopped reading the request");
        }
        Ok((send, recv))
    }

    async fn reply(&self, recv: &mut quinn::RecvStream) -> Result<RelayReply, NetError> {
        match step(
            self.addr,
            "waiting for the relay",
            wire::read::<RelayReply, _>(recv),
        )
        .await?
        {
            Ok(Some(RelayReply::Refused { why, message })) => Err(refused(why, message)),
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => Err(super::handshake::closed_reason(&self.conn, self.addr)),
            Err(crate::wire::WireError::Io(_)) => {
                Err(super::handshake::closed_reason(&self.conn, self.addr))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sends one request on a new stream (opening the mailbox with `key`, creating it when
    /// `create`); its replies come from the returned stream, as they are.
    pub async fn open_request(
        &self,
        key: &MailboxKey,
        create: bool,
        request: RelayRequest,
    ) -> Result<ReplyStream<'_>, NetError> {
        let (mut send, recv) = self.request(key, create, request).await?;
        let _ = send.finish();
        Ok(ReplyStream { client: self, recv })
    }

    /// Pushes an envelope; returns its sequence number once the relay has it on disk.
    pub async fn push(&self, key: &MailboxKey, envelope: Vec<u8>) -> Result<u64, NetError> {
        let (mut send, mut recv) = self
            .request(key, true, RelayRequest::Push { envelope })
            .await?;
        let _ = send.finish();
        match self.reply(&mut recv).await? {
            RelayReply::Pushed { seq } => Ok(seq),
            other => Err(NetError::Protocol(format!(
                "expected Pushed, got {other:?}"
            ))),
        }
    }

    /// Retires a mailbox (its notebook moved to new keys): still read, never written.
    pub async fn retire(&self, key: &MailboxKey) -> Result<(), NetError> {
        let (mut send, mut recv) = self.request(key, false, RelayRequest::Retire).await?;
        let _ = send.finish();
        match self.reply(&mut recv).await? {
            RelayReply::Retired => Ok(()),
            other => Err(NetError::Protocol(format!(
                "expected Retired, got {other:?}"
            ))),
        }
    }

    /// Deletes a retired mailbox (its 1-1 ended).
    pub async fn delete(&self, key: &MailboxKey) -> Result<(), NetError> {
        let (mut send, mut recv) = self.request(key, false, RelayRequest::Delete).await?;
        let _ = send.finish();
        match self.reply(&mut recv).await? {
            RelayReply::Deleted => Ok(()),
            other => Err(NetError::Protocol(format!(
                "expected Deleted, got {other:?}"
            ))),
        }
    }

    /// Every entry after `after`.
    pub async fn pull(&self, key: &MailboxKey, after: u64) -> Result<Entries, NetError> {
        let (mut send, mut recv) = self
            .request(key, false, RelayRequest::Pull { after })
            .await?;
        let _ = send.finish();
        let mut out = Vec::new();
        loop {
            match self.reply(&mut recv).await? {
                RelayReply::Entries { entries, more } => {
                    out.extend(entries);
                    if !more {
                        return Ok(out);
                    }
                }
                other => {
                    return Err(NetError::Protocol(format!(
                        "expected entries, got {other:?}"
                    )))
                }
            }
        }
    }

    /// Subscribes: entries after `after`, then new ones as they arrive.
    pub async fn subscribe(&self, key: &MailboxKey, after: u64) -> Result<Subscription, NetError> {
        self.open_feed(key, RelayRequest::Subscribe { after }).await
    }

    /// Sends a request whose answer stays open (a subscription, as a feed's engine asks for
    /// it) and keeps its stream.
    pub async fn open_feed(
        &self,
        key: &MailboxKey,
        request: RelayRequest,
    ) -> Result<Subscription, NetError> {
        let (send, recv) = self.request(key, false, request).await?;
        Ok(Subscription { _send: send, recv })
    }

    /// Replaces the entries up to `upto` with one snapshot envelope.
    pub async fn compact(
        &self,
        key: &MailboxKey,
        upto: u64,
        envelope: Vec<u8>,
    ) -> Result<u64, NetError> {
        let (mut send, mut recv) = self
            .request(key, false, RelayRequest::Compact { upto, envelope })
            .await?;
        let _ = send.finish();
        match self.reply(&mut recv).await? {
            RelayReply::Compacted { upto } => Ok(upto),
            other => Err(NetError::Protocol(format!(
                "expected Compacted, got {other:?}"
            ))),
        }
    }

    /// Closes the connection politely.
    pub async fn close(self) {
        self.conn.close(0u32.into(), b"done");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
    }
}

/// The replies to one request, uninterpreted (the sync's engine reads them).
pub struct ReplyStream<'a> {
    client: &'a RelayClient,
    recv: quinn::RecvStream,
}

impl ReplyStream<'_> {
    /// The next reply; a stream the relay ended early is an error naming why.
    pub async fn next(&mut self) -> Result<RelayReply, NetError> {
        let client = self.client;
        match step(
            client.addr,
            "waiting for the relay",
            wire::read::<RelayReply, _>(&mut self.recv),
        )
        .await?
        {
            Ok(Some(reply)) => Ok(reply),
            Ok(None) | Err(crate::wire::WireError::Io(_)) => {
                Err(super::handshake::closed_reason(&client.conn, client.addr))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The replies on a subscription, uninterpreted (the feed's engine,
/// `duet_core::sync::relay_feed`, reads them).
pub struct Subscription {
    _send: quinn::SendStream,
    recv: quinn::RecvStream,
}

impl Subscription {
    /// The next reply; `None` when the relay closed the subscription.
    pub async fn next(&mut self) -> Result<Option<RelayReply>, NetError> {
        Ok(wire::read::<RelayReply, _>(&mut self.recv).await?)
    }
}

fn refused(why: RelayRefusal, message: String) -> NetError {
    NetError::RelayRefused { why, message }
}

/// Whether an error is the relay saying the mailbox does not exist (or the token does not
/// open it: the relay answers both alike).
pub fn is_no_mailbox(e: &NetError) -> bool {
    matches!(
        e,
        NetError::RelayRefused {
            why: RelayRefusal::NoMailbox,
            ..
        }
    )
}

/// `duet-relay check`: connects, asks for a mailbox that does not exist, and expects the
/// refusal every stranger gets. Returns a line for the operator.
pub async fn check(addr: &str, fingerprint: Option<&str>) -> Result<String, NetError> {
    let addr = resolve(addr)?;
    let pins = match fingerprint {
        Some(text) => Pins::Exactly(
            [parse_fingerprint(text)
                .ok_or_else(|| NetError::Setup(format!("{text:?} is not a fingerprint")))?]
            .into(),
        ),
        None => Pins::AnyForHealthCheck,
    };
    let identity = tls::TlsIdentity::generate().map_err(|e| NetError::Setup(e.to_string()))?;
    let started = std::time::Instant::now();
    let client = RelayClient::connect(&identity, addr, pins).await?;
    let key = MailboxKey {
        mailbox: "00".repeat(16),
        token: [0u8; 32],
        team_token: None,
    };
    let answer = client.pull(&key, 0).await;
    client.close().await;
    match answer {
        Err(e) if is_no_mailbox(&e) => Ok(format!(
            "ok: relay at {addr} answered in {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        )),
        Err(e) => Err(e),
        Ok(_) => Err(NetError::Protocol(
            "the relay served a mailbox to a stranger".into(),
        )),
    }
}
