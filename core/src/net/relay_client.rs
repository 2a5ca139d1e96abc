//! The device's side of the relay protocol: connect (the relay pinned by its fingerprint),
//! then one stream per request, each opening the notebook's mailbox with its token.

use super::tls::{self, Pins};
use super::{step, NetError};
use crate::crypto::parse_fingerprint;
#[cfg(feature = "device")]
use crate::node::HomeHandle;
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
/// [`crate::sync::relay_feed`], reads them).
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

/// What one sync of one notebook with its relay did.
#[cfg(feature = "device")]
#[derive(Debug, Clone)]
pub struct RelayOutcome {
    /// The relay.
    pub addr: SocketAddr,
    /// What arrived.
    pub report: crate::SyncReport,
    /// Entries pulled.
    pub pulled: usize,
    /// Entries that failed to open (tampered, or moved from another mailbox) or were set
    /// aside (they opened but could not be applied).
    pub rejected: usize,
    /// The sequence number of the envelope pushed, if there was anything to push.
    pub pushed: Option<u64>,
    /// Whether the relay's log was not the one this device had read (restored, wiped or
    /// compacted) and was read again from the start.
    pub rewound: bool,
}

/// Like [`sync_relay`], trying again (up to `attempts` times in all, a second apart) when
/// the link broke or stalled midway; a relay that never answers is not retried.
#[cfg(feature = "device")]
pub async fn sync_relay_with_retries(
    home: &HomeHandle,
    notebook: &str,
    attempts: usize,
) -> Result<RelayOutcome, NetError> {
    let mut tries = 1;
    loop {
        match sync_relay(home, notebook).await {
            Err(e) if super::worth_retrying(&e) && tries < attempts => {
                tries += 1;
                tokio::time::sleep(super::RETRY_PAUSE).await;
            }
            other => return other,
        }
    }
}

/// Connects to the notebook's relay, pinned by the fingerprint it was set with.
#[cfg(feature = "device")]
pub async fn connect_notebook_relay(
    home: &HomeHandle,
    notebook: &str,
) -> Result<RelayClient, NetError> {
    let id = notebook.to_owned();
    let setting = home
        .call(move |d| Ok::<_, NetError>(d.relay_setting(&id)?))
        .await?;
    // A throwaway client certificate per connection: the relay authorises by the
    // notebook's token, and the device's long-term certificate would let it link this
    // device's mailboxes (one manager, several reports).
    let identity = tls::TlsIdentity::generate().map_err(|e| NetError::Setup(e.to_string()))?;
    let setting = setting.ok_or_else(|| NetError::NoRelay {
        notebook: notebook.to_owned(),
    })?;
    let addr = resolve(&setting.addr)?;
    let fp = parse_fingerprint(&setting.fingerprint)
        .ok_or_else(|| NetError::Setup("the relay fingerprint is damaged".into()))?;
    RelayClient::connect(&identity, addr, Pins::Exactly([fp].into())).await
}

/// Pulls what the notebook's relay has after this device's cursor, applies it, then pushes
/// this device's changes the relay has not seen. The home is held only while applying and
/// sealing, never across a network wait.
#[cfg(feature = "device")]
pub async fn sync_relay(home: &HomeHandle, notebook: &str) -> Result<RelayOutcome, NetError> {
    let client = connect_notebook_relay(home, notebook).await?;
    let result = sync_relay_epochs(home, notebook, &client).await;
    client.close().await;
    result
}

/// [`sync_relay_on`], across a change of key epoch: the farewell batch a rotation left for
/// the old mailbox goes there first; a session that brought a new epoch (this device was
/// offline during a rotation) runs again on the new mailbox, once.
#[cfg(feature = "device")]
pub async fn sync_relay_epochs(
    home: &HomeHandle,
    notebook: &str,
    client: &RelayClient,
) -> Result<RelayOutcome, NetError> {
    push_farewell(home, notebook, client).await?;
    tend_welcomes(home, notebook, client).await?;
    let first = sync_relay_on(home, notebook, client).await?;
    let id = notebook.to_owned();
    let moved = home
        .call(move |d| Ok::<_, NetError>(d.relay_epoch_moved(&id)?))
        .await?;
    let outcome = if moved {
        let mut second = sync_relay_on(home, notebook, client).await?;
        second.pulled += first.pulled;
        second.rejected += first.rejected;
        second.report.absorb(first.report);
        second
    } else {
        first
    };
    end_mailbox(home, notebook, client).await?;
    Ok(outcome)
}

/// Leaves the welcomes of the notebook's new invites on its relay now (`duet invite` does,
/// so that the joiner need not wait for the inviting device's next sync); the number left.
#[cfg(feature = "device")]
pub async fn push_welcomes(home: &HomeHandle, notebook: &str) -> Result<usize, NetError> {
    let client = connect_notebook_relay(home, notebook).await?;
    let result = tend_welcomes(home, notebook, &client).await;
    client.close().await;
    result
}

/// Pushes the welcomes of the notebook's new invites, notices the ones joiners took, and
/// takes down those of invites revoked or expired; the number pushed.
#[cfg(feature = "device")]
async fn tend_welcomes(
    home: &HomeHandle,
    notebook: &str,
    client: &RelayClient,
) -> Result<usize, NetError> {
    use crate::duet::WelcomeWork;
    let id = notebook.to_owned();
    let work = home
        .call(move |d| Ok::<_, NetError>(d.welcome_work(&id)?))
        .await?;
    let gone = |e: &NetError| {
        matches!(
            e,
            NetError::RelayRefused {
                why: RelayRefusal::NoMailbox,
                ..
            }
        )
    };
    let mut pushed_count = 0;
    for step in work {
        let (invite, pushed, taken) = match step {
            WelcomeWork::Push {
                id,
                mailbox,
                envelope,
            } => {
                client.push(&mailbox, envelope).await?;
                pushed_count += 1;
                (id, true, false)
            }
            WelcomeWork::Check { id, mailbox } => match client.pull(&mailbox, 0).await {
                Ok(_) => continue,
                Err(e) if gone(&e) => (id, false, true),
                Err(e) => return Err(e),
            },
            WelcomeWork::Remove { id, mailbox } => {
                for result in [client.retire(&mailbox).await, client.delete(&mailbox).await] {
                    match result {
                        Ok(()) => {}
                        Err(e) if gone(&e) => {}
                        Err(e) => return Err(e),
                    }
                }
                (id, false, false)
            }
        };
        let nb = notebook.to_owned();
        home.call(move |d| Ok::<_, NetError>(d.welcome_done(&nb, &invite, pushed, taken)?))
            .await?;
    }
    Ok(pushed_count)
}

/// Joining side: takes the welcome of a one-time invite from the relay the ticket names,
/// and takes it down so that nobody else can (the invite is used). `None` when there is no
/// welcome there: not pushed yet, already taken, revoked or expired.
#[cfg(feature = "device")]
pub async fn take_welcome(
    client: &RelayClient,
    ticket: &crate::one_time_invite::OneTimeInvite,
) -> Result<Option<crate::one_time_invite::Grant>, NetError> {
    use crate::one_time_invite::{open_welcome, InviteKey};
    let Some(relay) = &ticket.relay else {
        return Ok(None);
    };
    let key = InviteKey::new(ticket.key);
    let (mailbox, token) = key.welcome_mailbox(&relay.fingerprint);
    let mailbox = MailboxKey {
        mailbox,
        token,
        team_token: None,
    };
    let entries = match client.pull(&mailbox, 0).await {
        Ok(entries) => entries,
        Err(NetError::RelayRefused {
            why: RelayRefusal::NoMailbox,
            ..
        }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(grant) = entries
        .iter()
        .find_map(|(_, e)| open_welcome(&key, &ticket.notebook, e))
    else {
        return Ok(None);
    };
    client.retire(&mailbox).await?;
    client.delete(&mailbox).await?;
    Ok(Some(grant))
}

/// For an ended 1-1, once this sync has put the end in the mailbox (or read it there):
/// retires the mailbox (this device ended it) or deletes it (the other did), and stops
/// relay syncs of the notebook.
#[cfg(feature = "device")]
async fn end_mailbox(
    home: &HomeHandle,
    notebook: &str,
    client: &RelayClient,
) -> Result<(), NetError> {
    use crate::EndStep;
    let id = notebook.to_owned();
    let (step, key) = home
        .call(move |d| {
            Ok::<_, NetError>(match d.relay_end_step(&id)? {
                Some(step) => (Some(step), Some(d.mailbox_key(&id)?)),
                None => (None, None),
            })
        })
        .await?;
    let (Some(step), Some(key)) = (step, key) else {
        return Ok(());
    };
    let gone = |e: &NetError| {
        matches!(
            e,
            NetError::RelayRefused {
                why: RelayRefusal::NoMailbox,
                ..
            }
        )
    };
    match step {
        EndStep::Retire => match client.retire(&key).await {
            Err(e) if !gone(&e) => return Err(e),
            _ => {}
        },
        EndStep::Delete => {
            // The other device retires it after its own push; until then it is not ours
            // to delete, and a later sync tries again.
            match client.delete(&key).await {
                Ok(()) => {}
                Err(e) if gone(&e) => {}
                Err(NetError::RelayRefused {
                    why: RelayRefusal::BadRequest,
                    ..
                }) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
    let id = notebook.to_owned();
    home.call(move |d| Ok::<_, NetError>(d.relay_end_done(&id)?))
        .await
}

#[cfg(feature = "device")]
/// Rounds of notices one sync sends (a notice refused because another device rotated
/// meanwhile may lead to one more rotation, whose notices go out in the next round).
const MAX_NOTICE_ROUNDS: usize = 4;

/// Leaves the membership notices a rotation prepared in the mailboxes it left behind, and
/// retires each: it is still read, never written. A mailbox another device already retired
/// (two removals made offline at once) is read for that device's notice instead, which
/// may make this device rotate again.
#[cfg(feature = "device")]
async fn push_farewell(
    home: &HomeHandle,
    notebook: &str,
    client: &RelayClient,
) -> Result<(), NetError> {
    for _ in 0..MAX_NOTICE_ROUNDS {
        let id = notebook.to_owned();
        let Some(targets) = home
            .call(move |d| Ok::<_, NetError>(d.relay_farewell(&id)?))
            .await?
        else {
            return Ok(());
        };
        for target in targets {
            let key = MailboxKey {
                mailbox: target.mailbox.clone(),
                token: target.token,
                team_token: None,
            };
            match client.push(&key, target.envelope).await {
                Ok(_) => {
                    if let Err(e) = client.retire(&key).await {
                        // An older relay does not retire: the notice is there all the same.
                        tracing::warn!(error = %e, "the relay did not retire the old mailbox");
                    }
                }
                Err(NetError::RelayRefused {
                    why: RelayRefusal::Retired,
                    ..
                }) => {
                    let entries = client.pull(&key, 0).await?;
                    let (id, epoch) = (notebook.to_owned(), target.epoch.clone());
                    home.call(move |d| Ok::<_, NetError>(d.apply_notices(&id, &epoch, entries)?))
                        .await?;
                }
                // A mailbox that never existed had no reader to tell.
                Err(NetError::RelayRefused {
                    why: RelayRefusal::NoMailbox,
                    ..
                }) => {}
                Err(e) => return Err(e),
            }
            let (id, mailbox) = (notebook.to_owned(), target.mailbox);
            home.call(move |d| Ok::<_, NetError>(d.relay_farewell_sent(&id, &mailbox)?))
                .await?;
        }
    }
    Ok(())
}

/// The mailbox key and cursor of a notebook.
#[cfg(feature = "device")]
pub async fn mailbox_and_cursor(
    home: &HomeHandle,
    notebook: &str,
) -> Result<(MailboxKey, u64), NetError> {
    let id = notebook.to_owned();
    home.call(move |d| Ok::<_, NetError>((d.mailbox_key(&id)?, d.relay_cursor(&id)?)))
        .await
}

/// Applies entries pulled from the relay; returns the report and how many failed to open.
#[cfg(feature = "device")]
pub async fn apply_entries(
    home: &HomeHandle,
    notebook: &str,
    entries: Entries,
) -> Result<(crate::SyncReport, usize), NetError> {
    let id = notebook.to_owned();
    home.call(move |d| Ok::<_, NetError>(d.relay_apply(&id, entries)?))
        .await
}

/// [`sync_relay`] over a connection already made: a driver of the relay session's engine
/// (`crate::sync::relay_session`), carrying its requests and replies and asking the home
/// for the steps that need the notebook.
#[cfg(feature = "device")]
pub async fn sync_relay_on(
    home: &HomeHandle,
    notebook: &str,
    client: &RelayClient,
) -> Result<RelayOutcome, NetError> {
    use crate::sync::relay_session::{RelaySession, RelayStep};
    let id = notebook.to_owned();
    let (key, cursor, anchor) = home
        .call(move |d| {
            Ok::<_, NetError>((
                d.mailbox_key(&id)?,
                d.relay_cursor(&id)?,
                d.relay_anchor(&id)?,
            ))
        })
        .await?;
    let mut session = RelaySession::new(cursor, anchor);
    let mut report = None;
    let mut sealed = None;
    loop {
        match session.next_step()? {
            RelayStep::Request { request, create } => {
                let mut replies = client.open_request(&key, create, request).await?;
                while !session.receive(replies.next().await?)? {}
            }
            RelayStep::Rewind => {
                let id = notebook.to_owned();
                home.call(move |d| Ok::<_, NetError>(d.relay_rewind(&id)?))
                    .await?;
                session.rewound()?;
            }
            RelayStep::Apply(entries) => {
                let (applied, rejected) = apply_entries(home, notebook, entries).await?;
                // A notebook joined from a ticket becomes this device's once its index is
                // here; the push that follows carries the join to the others.
                home.call(|d| Ok::<_, NetError>(d.complete_joins()?))
                    .await?;
                report = Some(applied);
                session.applied(rejected)?;
            }
            RelayStep::Seal => {
                let id = notebook.to_owned();
                let out = home
                    .call(move |d| Ok::<_, NetError>(d.relay_outgoing(&id)?))
                    .await?;
                session.sealed(out.as_ref().map(|o| o.envelope.clone()))?;
                sealed = out;
            }
            RelayStep::Record => {
                let Some(out) = sealed.take() else {
                    return Err(NetError::Protocol("nothing sealed to record".into()));
                };
                let id = notebook.to_owned();
                let changes = out.changes;
                home.call(move |d| Ok::<_, NetError>(d.relay_pushed(&id, &out)?))
                    .await?;
                let r: &mut crate::SyncReport = report.get_or_insert_with(Default::default);
                r.sent_changes = changes;
                session.recorded()?;
            }
            RelayStep::Done => break,
        }
    }
    let report = match report {
        Some(mut r) => {
            if r.notebook.is_empty() {
                r = fill_report(home, notebook, r).await?;
            }
            r
        }
        None => fill_report(home, notebook, crate::SyncReport::default()).await?,
    };
    Ok(RelayOutcome {
        addr: client.addr,
        report,
        pulled: session.pulled(),
        rejected: session.rejected(),
        pushed: session.pushed(),
        rewound: session.was_rewound(),
    })
}

/// A report that names its notebook and title (when nothing arrived, nothing filled them).
#[cfg(feature = "device")]
async fn fill_report(
    home: &HomeHandle,
    notebook: &str,
    mut report: crate::SyncReport,
) -> Result<crate::SyncReport, NetError> {
    let id = notebook.to_owned();
    let title = home
        .call(move |d| {
            Ok::<_, NetError>(
                d.notebooks()?
                    .into_iter()
                    .find(|n| n.id == id)
                    .map(|n| n.title)
                    .unwrap_or_default(),
            )
        })
        .await?;
    report.notebook = notebook.to_owned();
    report.title = title;
    Ok(report)
}

/// Syncs with the notebook's relay, then replaces the log entries this device has applied
/// with one snapshot envelope, so the relay drops them. Returns the sequence number the
/// snapshot covers up to.
#[cfg(feature = "device")]
pub async fn compact_relay(home: &HomeHandle, notebook: &str) -> Result<u64, NetError> {
    let client = connect_notebook_relay(home, notebook).await?;
    let result = async {
        sync_relay_epochs(home, notebook, &client).await?;
        let id = notebook.to_owned();
        let (upto, envelope, key) = home
            .call(move |d| {
                let (upto, envelope) = d.relay_snapshot(&id)?;
                Ok::<_, NetError>((upto, envelope, d.mailbox_key(&id)?))
            })
            .await?;
        if upto == 0 {
            return Ok(0);
        }
        let snapshot = envelope.clone();
        let kept = client.compact(&key, upto, envelope).await?;
        let id = notebook.to_owned();
        home.call(move |d| Ok::<_, NetError>(d.relay_compacted(&id, upto, &snapshot)?))
            .await?;
        Ok(kept)
    }
    .await;
    client.close().await;
    result
}
