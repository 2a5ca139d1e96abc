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
        step(addr, "sending", wire::write(&mut send, &request)).await??;
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
        let (send, recv) = self
            .request(key, false, RelayRequest::Subscribe { after })
            .await?;
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

/// Live entries from a subscription.
pub struct Subscription {
    _send: quinn::SendStream,
    recv: quinn::RecvStream,
}

impl Subscription {
    /// The next batch of entries; `None` when the relay closed the subscription.
    pub async fn next(&mut self) -> Result<Option<Entries>, NetError> {
        match wire::read::<RelayReply, _>(&mut self.recv).await {
            Ok(Some(RelayReply::Entries { entries, .. })) => Ok(Some(entries)),
            Ok(Some(RelayReply::Refused { why, message })) => Err(refused(why, message)),
            Ok(Some(other)) => Err(NetError::Protocol(format!(
                "expected entries, got {other:?}"
            ))),
            Ok(None) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

fn refused(why: RelayRefusal, message: String) -> NetError {
    match why {
        RelayRefusal::NoMailbox => NetError::Peer(format!("the relay refused: {message}")),
        _ => NetError::Peer(format!("the relay refused ({why:?}): {message}")),
    }
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
        Err(NetError::Peer(m)) if m.contains("no such mailbox") => Ok(format!(
            "ok: relay at {addr} answered in {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        )),
        Err(e) => Err(e),
        Ok(_) => Err(NetError::Protocol(
            "the relay served a mailbox to a stranger".into(),
        )),
    }
}

/// What one sync of one notebook with its relay did.
#[derive(Debug, Clone)]
pub struct RelayOutcome {
    /// The relay.
    pub addr: SocketAddr,
    /// What arrived.
    pub report: crate::SyncReport,
    /// Entries pulled.
    pub pulled: usize,
    /// Entries that failed to open (tampered, or moved from another mailbox).
    pub rejected: usize,
    /// The sequence number of the envelope pushed, if there was anything to push.
    pub pushed: Option<u64>,
}

/// Like [`sync_relay`], trying again (up to `attempts` times in all, a second apart) when
/// the link broke or stalled midway; a relay that never answers is not retried.
pub async fn sync_relay_with_retries(
    duet: &mut crate::Duet,
    notebook: &str,
    attempts: usize,
) -> Result<RelayOutcome, NetError> {
    let mut tries = 1;
    loop {
        match sync_relay(duet, notebook).await {
            Err(e) if super::worth_retrying(&e) && tries < attempts => {
                tries += 1;
                tokio::time::sleep(super::RETRY_PAUSE).await;
            }
            other => return other,
        }
    }
}

/// Connects to the notebook's relay, pinned by the fingerprint it was set with.
pub async fn connect_notebook_relay(
    // `&mut`: a shared `&Duet` is not `Send` (the store is single-threaded), so a future
    // holding one could not run on a multi-threaded runtime.
    duet: &mut crate::Duet,
    notebook: &str,
) -> Result<RelayClient, NetError> {
    let setting = duet.relay_setting(notebook)?.ok_or_else(|| {
        NetError::Setup("this notebook has no relay (duet relay set ADDR --fingerprint FP)".into())
    })?;
    let addr = resolve(&setting.addr)?;
    let fp = parse_fingerprint(&setting.fingerprint)
        .ok_or_else(|| NetError::Setup("the relay fingerprint is damaged".into()))?;
    let identity = duet.tls_identity()?;
    RelayClient::connect(&identity, addr, Pins::Exactly([fp].into())).await
}

/// Pulls what the notebook's relay has after this device's cursor, applies it, then pushes
/// this device's changes the relay has not seen.
pub async fn sync_relay(duet: &mut crate::Duet, notebook: &str) -> Result<RelayOutcome, NetError> {
    let client = connect_notebook_relay(duet, notebook).await?;
    let result = sync_relay_on(duet, notebook, &client).await;
    client.close().await;
    result
}

async fn sync_relay_on(
    duet: &mut crate::Duet,
    notebook: &str,
    client: &RelayClient,
) -> Result<RelayOutcome, NetError> {
    let key = duet.mailbox_key(notebook)?;
    let cursor = duet.relay_cursor(notebook)?;
    let entries = match client.pull(&key, cursor).await {
        Ok(e) => e,
        // A mailbox is made by its first push: none yet means nothing to pull.
        Err(NetError::Peer(m)) if m.contains("no such mailbox") => Vec::new(),
        Err(e) => return Err(e),
    };
    let pulled = entries.len();
    let (mut report, rejected) = duet.relay_apply(notebook, entries)?;
    let mut pushed = None;
    if let Some(out) = duet.relay_outgoing(notebook)? {
        let seq = client.push(&key, out.envelope.clone()).await?;
        duet.relay_pushed(notebook, &out)?;
        report.sent_changes = out.changes;
        pushed = Some(seq);
    }
    Ok(RelayOutcome {
        addr: client.addr,
        report,
        pulled,
        rejected,
        pushed,
    })
}

/// Syncs with the notebook's relay, then replaces the log entries this device has applied
/// with one snapshot envelope, so the relay drops them. Returns the sequence number the
/// snapshot covers up to.
pub async fn compact_relay(duet: &mut crate::Duet, notebook: &str) -> Result<u64, NetError> {
    let client = connect_notebook_relay(duet, notebook).await?;
    let result = async {
        sync_relay_on(duet, notebook, &client).await?;
        let (upto, envelope) = duet.relay_snapshot(notebook)?;
        if upto == 0 {
            return Ok(0);
        }
        let key = duet.mailbox_key(notebook)?;
        client.compact(&key, upto, envelope).await
    }
    .await;
    client.close().await;
    result
}
