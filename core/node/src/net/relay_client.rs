//! The device's relay sync: a notebook's sync with its relay across key epochs, welcomes
//! and farewells, the end of a notebook, compaction. Their order and every branch are the
//! core's sans-IO engines (`duet_core::sync::relay_round` around
//! `duet_core::sync::relay_session`); this driver carries their asks to the home (the sync
//! port) and to the relay, over a [`RelayLink`]: the protocol's QUIC [`RelayClient`] in use, a relay in memory in tests
//! (`duet_protocol::net::memory_relay`). The client itself (connect, push, pull,
//! subscribe) is `duet_protocol`'s, re-exported here.

pub use duet_protocol::net::relay_client::*;
pub use duet_protocol::net::relay_link::{RelayLink, RelayReplies};

use super::tls::{self, Pins};
use super::NetError;
use crate::HomeHandle;
use duet_core::crypto::parse_fingerprint;
use duet_core::home::SyncPort;
use duet_core::sync::relay_round::{Answer, Ask, HomeAsk, LinkAsk, LinkReply, Plan, RelayRound};
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
/// mailbox is retired or deleted from here is not synced at all. The order and every
/// branch are the engine's (`duet_core::sync::relay_round`); this carries its asks.
pub async fn sync_relay_epochs<L: RelayLink>(
    home: &HomeHandle,
    notebook: &str,
    client: &L,
) -> Result<RelayOutcome, NetError> {
    let (outcome, _) = run_round(home, notebook, client, Plan::Sync).await?;
    match outcome {
        Some(outcome) => Ok(outcome),
        None => Ok(RelayOutcome {
            addr: client.addr(),
            report: fill_report(home, notebook, duet_core::SyncReport::default()).await?,
            pulled: 0,
            rejected: 0,
            pushed: None,
            rewound: false,
        }),
    }
}

/// What a round's end says besides its sessions: welcomes pushed, and what the relay kept
/// after a compaction.
struct RoundEnd {
    welcomes: usize,
    compacted: Option<u64>,
}

/// Runs one relay round of `plan` for the notebook over `client`: asks the home through
/// the sync port and the relay through the link what the engine asks, and hands back each
/// answer. The sessions' outcome (the second merged into the first), if any ran.
async fn run_round<L: RelayLink>(
    home: &HomeHandle,
    notebook: &str,
    client: &L,
    plan: Plan,
) -> Result<(Option<RelayOutcome>, RoundEnd), NetError> {
    let (mut round, mut ask) = RelayRound::start(plan);
    let mut outcome: Option<RelayOutcome> = None;
    loop {
        let answer = match ask {
            Ask::Done {
                welcomes,
                compacted,
                ..
            } => {
                return Ok((
                    outcome,
                    RoundEnd {
                        welcomes,
                        compacted,
                    },
                ))
            }
            Ask::Session => {
                let next = sync_relay_on(home, notebook, client).await?;
                outcome = Some(match outcome {
                    None => next,
                    Some(first) => {
                        let mut second = next;
                        second.pulled += first.pulled;
                        second.rejected += first.rejected;
                        second.report.absorb(first.report);
                        second
                    }
                });
                Answer::Done
            }
            Ask::Home(ask) => ask_home(home, notebook, ask).await?,
            Ask::Link(ask) => Answer::Link(ask_relay(client, ask).await),
        };
        ask = round.step(answer)?;
    }
}

/// One of the round's questions for the home, through the sync port.
async fn ask_home(home: &HomeHandle, notebook: &str, ask: HomeAsk) -> Result<Answer, NetError> {
    Ok(match ask {
        HomeAsk::MailboxGone => Answer::Yes(home.relay_mailbox_gone(notebook).await?),
        HomeAsk::Farewell => Answer::Farewell(home.relay_farewell(notebook).await?),
        HomeAsk::FarewellSent { mailbox } => {
            home.relay_farewell_sent(notebook, mailbox).await?;
            Answer::Done
        }
        HomeAsk::ApplyNotices { epoch, entries } => {
            home.apply_notices(notebook, epoch, entries).await?;
            Answer::Done
        }
        HomeAsk::WelcomeWork => Answer::Welcomes(home.welcome_work(notebook).await?),
        HomeAsk::WelcomeDone {
            invite,
            pushed,
            taken,
        } => {
            home.welcome_done(notebook, invite, pushed, taken).await?;
            Answer::Done
        }
        HomeAsk::EpochMoved => Answer::Yes(home.relay_epoch_moved(notebook).await?),
        HomeAsk::End => Answer::End(home.relay_end(notebook).await?),
        HomeAsk::EndDone => {
            home.relay_end_done(notebook).await?;
            Answer::Done
        }
        HomeAsk::WakeDue => Answer::Wake(home.relay_wake_due(notebook).await?),
        HomeAsk::WakeTold {
            mailbox,
            endpoint,
            refused,
        } => {
            home.relay_wake_told(notebook, mailbox, endpoint, refused)
                .await?;
            Answer::Done
        }
        HomeAsk::Snapshot => {
            let (upto, envelope, key) = home.relay_snapshot(notebook).await?;
            Answer::Snapshot(upto, envelope, key)
        }
        HomeAsk::Compacted { upto, snapshot } => {
            home.relay_compacted(notebook, upto, snapshot).await?;
            Answer::Done
        }
    })
}

/// One of the round's requests for the relay, over the link.
async fn ask_relay<L: RelayLink>(client: &L, ask: LinkAsk) -> Result<LinkReply, NetError> {
    Ok(match ask {
        LinkAsk::Push { key, envelope } => LinkReply::Pushed(client.push(&key, envelope).await?),
        LinkAsk::Pull { key, after } => LinkReply::Entries(client.pull(&key, after).await?),
        LinkAsk::Take { key } => LinkReply::Taken(client.take(&key).await?),
        LinkAsk::Retire { key } => {
            client.retire(&key).await?;
            LinkReply::Done
        }
        LinkAsk::Close { key } => {
            client.close_mailbox(&key).await?;
            LinkReply::Done
        }
        LinkAsk::Delete { key } => {
            client.delete(&key).await?;
            LinkReply::Done
        }
        LinkAsk::SetWake {
            key,
            slot,
            endpoint,
        } => {
            client.set_wake(&key, slot, endpoint).await?;
            LinkReply::Done
        }
        LinkAsk::Compact {
            key,
            upto,
            envelope,
        } => LinkReply::Compacted(client.compact(&key, upto, envelope).await?),
    })
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
    run_round(home, notebook, client, Plan::Wake).await?;
    Ok(())
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
    let (_, end) = run_round(home, notebook, client, Plan::Welcomes).await?;
    Ok(end.welcomes)
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
    let (_, end) = run_round(home, notebook, client, Plan::Compact).await?;
    Ok(end.compacted.unwrap_or(0))
}
