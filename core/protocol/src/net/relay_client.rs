//! The device's side of the relay protocol: connect (the relay pinned by its fingerprint),
//! then one stream per request, each opening the notebook's mailbox with its token.

use super::relay_link::{RelayLink, RelayReplies};
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
#[derive(Debug, Clone, PartialEq, Eq)]
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

    /// Closes the connection politely.
    pub async fn close(self) {
        self.conn.close(0u32.into(), b"done");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
    }
}

impl RelayLink for RelayClient {
    type Replies<'a> = ReplyStream<'a>;

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn open_request(
        &self,
        key: &MailboxKey,
        create: bool,
        request: RelayRequest,
    ) -> Result<ReplyStream<'_>, NetError> {
        let (mut send, recv) = self.request(key, create, request).await?;
        let _ = send.finish();
        Ok(ReplyStream { client: self, recv })
    }
}

/// The replies to one request, uninterpreted (the sync's engine reads them).
pub struct ReplyStream<'a> {
    client: &'a RelayClient,
    recv: quinn::RecvStream,
}

impl RelayReplies for ReplyStream<'_> {
    async fn next(&mut self) -> Result<RelayReply, NetError> {
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

/// Whether a request failed the way a relay older than it fails it: it closes the stream
/// rather than answer a request it cannot read. (A refusal is an answer.)
pub fn older_relay(e: &NetError) -> bool {
    matches!(
        e,
        NetError::Broken { .. } | NetError::Protocol(_) | NetError::Wire(_)
    )
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
