//! The device's relay sync: a notebook's sync with its relay across key epochs, welcomes
//! and farewells, the end of a notebook, compaction. Each step is written once against a
//! [`RelayLink`]: the protocol's QUIC [`RelayClient`] in use, a relay in memory in tests
//! (`duet_protocol::net::memory_relay`). The client itself (connect, push, pull,
//! subscribe) is `duet_protocol`'s, re-exported here.

pub use duet_protocol::net::relay_client::*;
pub use duet_protocol::net::relay_link::{RelayLink, RelayReplies};

use super::tls::{self, Pins};
use super::NetError;
use crate::HomeHandle;
use duet_core::crypto::parse_fingerprint;
use duet_core::home::SyncPort;
use duet_core::wire::RelayRefusal;
use std::net::SocketAddr;

/// What one sync of one notebook with its relay did.
#[derive(Debug, Clone)]
pub struct RelayOutcome {
    /// The relay.
    pub addr: SocketAddr,
    /// What arrived.
    pub report: duet_core::SyncReport,
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
pub async fn connect_notebook_relay(
    home: &HomeHandle,
    notebook: &str,
) -> Result<RelayClient, NetError> {
    let setting = home.relay_setting(notebook).await?;
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
pub async fn sync_relay(home: &HomeHandle, notebook: &str) -> Result<RelayOutcome, NetError> {
    let client = connect_notebook_relay(home, notebook).await?;
    let result = sync_relay_epochs(home, notebook, &client).await;
    client.close().await;
    result
}

/// [`sync_relay_on`], across a change of key epoch: the farewell batch a rotation left for
/// the old mailbox goes there first; a session that brought a new epoch (this device was
/// offline during a rotation) runs again on the new mailbox, once. An ended 1-1 whose
/// mailbox is retired or deleted from here is not synced at all: a round would find the
/// mailbox gone, take it for a lost one and push the whole notebook again.
pub async fn sync_relay_epochs<L: RelayLink>(
    home: &HomeHandle,
    notebook: &str,
    client: &L,
) -> Result<RelayOutcome, NetError> {
    if home.relay_mailbox_gone(notebook).await? {
        return Ok(RelayOutcome {
            addr: client.addr(),
            report: fill_report(home, notebook, duet_core::SyncReport::default()).await?,
            pulled: 0,
            rejected: 0,
            pushed: None,
            rewound: false,
        });
    }
    push_farewell(home, notebook, client).await?;
    tend_welcomes(home, notebook, client).await?;
    let first = sync_relay_on(home, notebook, client).await?;
    let outcome = if home.relay_epoch_moved(notebook).await? {
        let mut second = sync_relay_on(home, notebook, client).await?;
        second.pulled += first.pulled;
        second.rejected += first.rejected;
        second.report.absorb(first.report);
        second
    } else {
        first
    };
    end_mailbox(home, notebook, client).await?;
    tend_wake(home, notebook, client).await?;
    Ok(outcome)
}

/// Tells every relayed notebook's relay this device's push endpoint now, where it does
/// not hold it yet (after the app set or cleared it); the notebooks whose relay could not
/// be reached, with why (their next sync tells it).
pub async fn tend_wakes(home: &HomeHandle) -> Result<Vec<(String, NetError)>, NetError> {
    let mut failed = Vec::new();
    for (notebook, _) in home.relayed_notebooks().await? {
        let told = async {
            let client = connect_notebook_relay(home, &notebook).await?;
            let result = tend_wake(home, &notebook, &client).await;
            client.close().await;
            result
        }
        .await;
        if let Err(e) = told {
            failed.push((notebook, e));
        }
    }
    Ok(failed)
}

/// Tells the notebook's relay this device's push endpoint (or that there is none any
/// more) when it does not hold it yet. A relay that refuses it is not asked again for a
/// day ([`duet_core::WAKE_REFUSAL_STANDS_MS`]); a relay too old for wake-ups counts as
/// one that refused.
pub async fn tend_wake<L: RelayLink>(
    home: &HomeHandle,
    notebook: &str,
    client: &L,
) -> Result<(), NetError> {
    let Some(due) = home.relay_wake_due(notebook).await? else {
        return Ok(());
    };
    let refused = match client
        .set_wake(&due.key, due.slot, due.endpoint.clone())
        .await
    {
        Ok(()) => None,
        Err(NetError::RelayRefused {
            why: RelayRefusal::WakeRefused,
            message,
        }) => Some(message),
        // Nothing pushed yet: the mailbox is made by the first push; asked again then.
        Err(e) if is_no_mailbox(&e) => return Ok(()),
        Err(e) if older_relay(&e) => Some("this relay is too old to send wake-ups".into()),
        Err(e) => return Err(e),
    };
    if let Some(why) = &refused {
        tracing::info!(
            notebook,
            why,
            "the relay refused this device's push endpoint"
        );
    }
    home.relay_wake_told(notebook, due.key.mailbox, due.endpoint, refused)
        .await
}

/// Leaves the welcomes of the notebook's new invites on its relay now (`duet invite` does,
/// so that the joiner need not wait for the inviting device's next sync); the number left.
pub async fn push_welcomes(home: &HomeHandle, notebook: &str) -> Result<usize, NetError> {
    let client = connect_notebook_relay(home, notebook).await?;
    let result = tend_welcomes(home, notebook, &client).await;
    client.close().await;
    result
}

/// Pushes the welcomes of the notebook's new invites, notices the ones joiners took, and
/// takes down those of invites revoked or expired; the number pushed.
async fn tend_welcomes<L: RelayLink>(
    home: &HomeHandle,
    notebook: &str,
    client: &L,
) -> Result<usize, NetError> {
    use duet_core::steps::WelcomeWork;
    let work = home.welcome_work(notebook).await?;
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
                // Taken down in one step; a retired welcome would stay readable.
                match client.take(&mailbox).await {
                    Ok(_) => {}
                    Err(e) if gone(&e) => {}
                    Err(e) if older_relay(&e) => {
                        for result in [client.retire(&mailbox).await, client.delete(&mailbox).await]
                        {
                            match result {
                                Ok(()) => {}
                                Err(e) if gone(&e) => {}
                                Err(e) => return Err(e),
                            }
                        }
                    }
                    Err(e) => return Err(e),
                }
                (id, false, false)
            }
        };
        home.welcome_done(notebook, invite, pushed, taken).await?;
    }
    Ok(pushed_count)
}

/// Joining side: takes the welcome of a one-time invite from the relay the ticket names,
/// in one step (the relay deletes it as it hands it over), so that of two devices holding
/// the same ticket one gets it. `None` when there is no welcome there: not pushed yet,
/// already taken, revoked or expired.
pub async fn take_welcome(
    client: &impl RelayLink,
    ticket: &duet_core::one_time_invite::OneTimeInvite,
) -> Result<Option<duet_core::one_time_invite::Grant>, NetError> {
    use duet_core::one_time_invite::{open_welcome, InviteKey};
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
    let entries = match client.take(&mailbox).await {
        Ok(Some(entries)) => entries,
        Ok(None) => return Ok(None),
        // A relay older than the take closes the stream instead of answering: take the
        // welcome as it did (read it, then retire and delete it).
        Err(e) if older_relay(&e) => {
            tracing::warn!(error = %e, "the relay did not take the welcome whole; reading it and deleting it instead");
            match client.pull(&mailbox, 0).await {
                Ok(entries) => {
                    client.retire(&mailbox).await?;
                    client.delete(&mailbox).await?;
                    entries
                }
                Err(e) if is_no_mailbox(&e) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    Ok(entries
        .iter()
        .find_map(|(_, e)| open_welcome(&key, &ticket.notebook, e)))
}

/// For an ended 1-1, once this sync has put the end in the mailbox (or read it there):
/// retires the mailbox (this device ended it) or deletes it (the other did), and stops
/// relay syncs of the notebook.
async fn end_mailbox<L: RelayLink>(
    home: &HomeHandle,
    notebook: &str,
    client: &L,
) -> Result<(), NetError> {
    use duet_core::steps::EndStep;
    let Some((step, key)) = home.relay_end(notebook).await? else {
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
        // Closed, not retired: read and never written, like a retired mailbox, but the
        // other side may delete it once it has read the end.
        EndStep::Retire => match client.close_mailbox(&key).await {
            Ok(()) => {}
            Err(e) if gone(&e) => {}
            Err(e) if older_relay(&e) => match client.retire(&key).await {
                Err(e) if !gone(&e) => return Err(e),
                _ => {}
            },
            Err(e) => return Err(e),
        },
        EndStep::Delete => {
            // The other device closes it after its own push; until then it is not ours to
            // delete (refused as a bad request), and a later sync tries again. A retired
            // mailbox stays on the relay as a tombstone: nothing more to do.
            match client.delete(&key).await {
                Ok(()) => {}
                Err(e) if gone(&e) => {}
                Err(NetError::RelayRefused {
                    why: RelayRefusal::BadRequest,
                    ..
                }) => return Ok(()),
                Err(NetError::RelayRefused {
                    why: RelayRefusal::Retired,
                    ..
                }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    home.relay_end_done(notebook).await
}

/// Whether a request failed the way a relay older than it fails it: it closes the stream
/// rather than answer a request it cannot read. (A refusal is an answer.)
fn older_relay(e: &NetError) -> bool {
    matches!(
        e,
        NetError::Broken { .. } | NetError::Protocol(_) | NetError::Wire(_)
    )
}

/// Rounds of notices one sync sends (a notice refused because another device rotated
/// meanwhile may lead to one more rotation, whose notices go out in the next round).
const MAX_NOTICE_ROUNDS: usize = 4;

/// Leaves the membership notices a rotation prepared in the mailboxes it left behind, and
/// retires each: it is still read, never written. A mailbox another device already retired
/// (two removals made offline at once) is read for that device's notice instead, which
/// may make this device rotate again.
async fn push_farewell<L: RelayLink>(
    home: &HomeHandle,
    notebook: &str,
    client: &L,
) -> Result<(), NetError> {
    for _ in 0..MAX_NOTICE_ROUNDS {
        let Some(targets) = home.relay_farewell(notebook).await? else {
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
                    home.apply_notices(notebook, target.epoch.clone(), entries)
                        .await?;
                }
                // A mailbox that never existed had no reader to tell.
                Err(NetError::RelayRefused {
                    why: RelayRefusal::NoMailbox,
                    ..
                }) => {}
                Err(e) => return Err(e),
            }
            home.relay_farewell_sent(notebook, target.mailbox).await?;
        }
    }
    Ok(())
}

/// [`sync_relay`] over a connection already made: a driver of the relay session's engine
/// (`duet_core::sync::relay_session`), carrying its requests and replies and asking the home
/// for the steps that need the notebook.
pub async fn sync_relay_on<L: RelayLink>(
    home: &HomeHandle,
    notebook: &str,
    client: &L,
) -> Result<RelayOutcome, NetError> {
    use duet_core::sync::relay_session::{RelaySession, RelayStep};
    let start = home.relay_start(notebook).await?;
    let key = start.key;
    let mut session = RelaySession::new(start.cursor, start.anchor);
    let mut report = None;
    let mut sealed = None;
    loop {
        match session.next_step()? {
            RelayStep::Request { request, create } => {
                let mut replies = client.open_request(&key, create, request).await?;
                while !session.receive(replies.next().await?)? {}
            }
            RelayStep::Rewind => {
                home.relay_rewind(notebook).await?;
                session.rewound()?;
            }
            RelayStep::Apply(entries) => {
                let (applied, rejected) = home.relay_apply(notebook, entries).await?;
                report = Some(applied);
                session.applied(rejected)?;
            }
            RelayStep::Seal => {
                let out = home.relay_outgoing(notebook).await?;
                session.sealed(out.as_ref().map(|o| o.envelope.clone()))?;
                sealed = out;
            }
            RelayStep::Record => {
                let Some(out) = sealed.take() else {
                    return Err(NetError::Protocol("nothing sealed to record".into()));
                };
                let changes = out.changes;
                home.relay_pushed(notebook, out).await?;
                let r: &mut duet_core::SyncReport = report.get_or_insert_with(Default::default);
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
        None => fill_report(home, notebook, duet_core::SyncReport::default()).await?,
    };
    Ok(RelayOutcome {
        addr: client.addr(),
        report,
        pulled: session.pulled(),
        rejected: session.rejected(),
        pushed: session.pushed(),
        rewound: session.was_rewound(),
    })
}

/// A report that names its notebook and title (when nothing arrived, nothing filled them).
async fn fill_report(
    home: &HomeHandle,
    notebook: &str,
    mut report: duet_core::SyncReport,
) -> Result<duet_core::SyncReport, NetError> {
    let title = home.notebook_title(notebook).await?;
    report.notebook = notebook.to_owned();
    report.title = title;
    Ok(report)
}

/// Syncs with the notebook's relay, then replaces the log entries this device has applied
/// with one snapshot envelope, so the relay drops them. Returns the sequence number the
/// snapshot covers up to.
pub async fn compact_relay(home: &HomeHandle, notebook: &str) -> Result<u64, NetError> {
    let client = connect_notebook_relay(home, notebook).await?;
    let result = compact_on(home, notebook, &client).await;
    client.close().await;
    result
}

/// [`compact_relay`] over a link already made.
pub async fn compact_on<L: RelayLink>(
    home: &HomeHandle,
    notebook: &str,
    client: &L,
) -> Result<u64, NetError> {
    sync_relay_epochs(home, notebook, client).await?;
    let (upto, envelope, key) = home.relay_snapshot(notebook).await?;
    if upto == 0 {
        return Ok(0);
    }
    let snapshot = envelope.clone();
    let kept = client.compact(&key, upto, envelope).await?;
    home.relay_compacted(notebook, upto, snapshot).await?;
    Ok(kept)
}
