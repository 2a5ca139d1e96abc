//! A notebook's relay round, around its session ([`super::relay_session`]), as a sans-IO
//! engine: the farewell notices a rotation left for old mailboxes, the welcomes of new
//! invites, the session (twice when it brought a new epoch), the end of an ended 1-1, the
//! push endpoint, and compaction. The engine says what to ask the home or the relay next
//! ([`Ask`]) and takes the answer ([`Answer`]); its driver (`duet-node`'s relay client)
//! only carries them, so every branch (a relay that is older, a mailbox already gone, a
//! notice another device left first) is decided here and tested with no socket.

use duet_protocol::net::relay_client::{is_no_mailbox, older_relay, Entries, MailboxKey};
use duet_protocol::net::NetError;
use duet_protocol::wire::RelayRefusal;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Rounds of notices one sync sends (a notice refused because another device rotated
/// meanwhile may lead to one more rotation, whose notices go out in the next round).
pub const MAX_NOTICE_ROUNDS: usize = 4;

/// A notice waiting for the mailbox of an epoch left behind (see `RelayFarewell`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FarewellTarget {
    /// The old epoch (empty: the initial one).
    pub epoch: String,
    /// Its mailbox's id.
    pub mailbox: String,
    /// Its token.
    pub token: [u8; 32],
    /// The notice, sealed with the old epoch's envelope key.
    pub envelope: Vec<u8>,
}

impl FarewellTarget {
    fn key(&self) -> MailboxKey {
        MailboxKey {
            mailbox: self.mailbox.clone(),
            token: self.token,
            team_token: None,
        }
    }
}

/// One step with an invite's welcome on the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WelcomeWork {
    /// Push it.
    Push {
        /// The invite.
        id: String,
        /// Its welcome mailbox.
        mailbox: MailboxKey,
        /// The sealed welcome.
        envelope: Vec<u8>,
    },
    /// See whether a joiner took it (the mailbox is gone).
    Check {
        /// The invite.
        id: String,
        /// Its welcome mailbox.
        mailbox: MailboxKey,
    },
    /// Take it down (the invite was revoked or expired).
    Remove {
        /// The invite.
        id: String,
        /// Its welcome mailbox.
        mailbox: MailboxKey,
    },
}

/// What a relay sync does with the mailbox of an ended 1-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndStep {
    /// This device ended it: the end is now in the mailbox; nothing more may be written.
    Retire,
    /// The other device ended it, and this one has read the end: the mailbox can go.
    Delete,
}

/// A registration due at a notebook's relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WakeDue {
    /// The mailbox it is for.
    pub key: MailboxKey,
    /// The slot this device's key gives it in that mailbox.
    pub slot: [u8; 32],
    /// The endpoint to register (`None`: remove the one held).
    pub endpoint: Option<String>,
}

/// What a round does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// A whole sync: farewells, welcomes, the session, the end, the push endpoint.
    Sync,
    /// A whole sync, then the log replaced by one snapshot.
    Compact,
    /// Only the welcomes of new invites (`duet invite` leaves them at once).
    Welcomes,
    /// Only the push endpoint (the app set or cleared it).
    Wake,
}

/// A question for the home (the driver asks it through the sync port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HomeAsk {
    /// Whether the notebook's mailbox is gone for good (an ended 1-1): nothing to sync.
    MailboxGone,
    /// The notices a rotation left for old mailboxes, if any.
    Farewell,
    /// A notice reached (or had no need to reach) its old mailbox.
    FarewellSent {
        /// The old mailbox.
        mailbox: String,
    },
    /// Another device's notices read from an old mailbox it retired first.
    ApplyNotices {
        /// The old epoch.
        epoch: String,
        /// The mailbox's entries.
        entries: Entries,
    },
    /// The welcomes to push, check or take down.
    WelcomeWork,
    /// What became of an invite's welcome.
    WelcomeDone {
        /// The invite.
        invite: String,
        /// Pushed now.
        pushed: bool,
        /// A joiner took it.
        taken: bool,
    },
    /// Whether the session brought a new key epoch (a second session then runs on it).
    EpochMoved,
    /// What the round does with an ended 1-1's mailbox, if anything.
    End,
    /// The ended 1-1's mailbox is closed or deleted: relay syncs of it stop.
    EndDone,
    /// The push endpoint registration due, if any.
    WakeDue,
    /// What the relay said of the push endpoint.
    WakeTold {
        /// The mailbox.
        mailbox: String,
        /// The endpoint told.
        endpoint: Option<String>,
        /// The relay's refusal, if it refused.
        refused: Option<String>,
    },
    /// The snapshot that replaces the log up to what this device applied.
    Snapshot,
    /// The relay compacted up to `upto` with `snapshot`.
    Compacted {
        /// The last sequence number the snapshot covers.
        upto: u64,
        /// The snapshot's envelope.
        snapshot: Vec<u8>,
    },
}

/// A request for the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkAsk {
    /// Append an envelope.
    Push {
        /// The mailbox.
        key: MailboxKey,
        /// The envelope.
        envelope: Vec<u8>,
    },
    /// Every entry after `after`.
    Pull {
        /// The mailbox.
        key: MailboxKey,
        /// The cursor.
        after: u64,
    },
    /// The mailbox whole, deleted as it is handed over.
    Take {
        /// The mailbox.
        key: MailboxKey,
    },
    /// Retire the mailbox (read, never written).
    Retire {
        /// The mailbox.
        key: MailboxKey,
    },
    /// Close the mailbox (its 1-1 ended).
    Close {
        /// The mailbox.
        key: MailboxKey,
    },
    /// Delete the mailbox.
    Delete {
        /// The mailbox.
        key: MailboxKey,
    },
    /// Register (or remove) a push endpoint.
    SetWake {
        /// The mailbox.
        key: MailboxKey,
        /// The slot.
        slot: [u8; 32],
        /// The endpoint.
        endpoint: Option<String>,
    },
    /// Replace the entries up to `upto` with `envelope`.
    Compact {
        /// The mailbox.
        key: MailboxKey,
        /// The last sequence number covered.
        upto: u64,
        /// The snapshot.
        envelope: Vec<u8>,
    },
}

/// What the round needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// Ask the home.
    Home(HomeAsk),
    /// Ask the relay.
    Link(LinkAsk),
    /// Run the notebook's relay session ([`super::relay_session::RelaySession`]).
    Session,
    /// The round is over. `synced`: a session ran (not an ended 1-1's gone mailbox);
    /// `welcomes`: welcomes pushed; `compacted`: what the relay kept after compaction.
    Done {
        /// Whether a session ran.
        synced: bool,
        /// Welcomes pushed.
        welcomes: usize,
        /// The sequence number the relay compacted up to, for [`Plan::Compact`].
        compacted: Option<u64>,
    },
}

/// What the relay answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkReply {
    /// Done, nothing to give back.
    Done,
    /// A push's sequence number.
    Pushed(u64),
    /// Entries.
    Entries(Entries),
    /// A take's entries (`None`: another taker was first).
    Taken(Option<Entries>),
    /// What the relay kept after a compaction.
    Compacted(u64),
}

/// The answer to an [`Ask`].
#[derive(Debug)]
pub enum Answer {
    /// A home ask with nothing to give back, or the session ran.
    Done,
    /// To [`HomeAsk::MailboxGone`] and [`HomeAsk::EpochMoved`].
    Yes(bool),
    /// To [`HomeAsk::Farewell`].
    Farewell(Option<Vec<FarewellTarget>>),
    /// To [`HomeAsk::WelcomeWork`].
    Welcomes(Vec<WelcomeWork>),
    /// To [`HomeAsk::End`].
    End(Option<(EndStep, MailboxKey)>),
    /// To [`HomeAsk::WakeDue`].
    Wake(Option<WakeDue>),
    /// To [`HomeAsk::Snapshot`]: up to where, the envelope, the mailbox.
    Snapshot(u64, Vec<u8>, MailboxKey),
    /// To a [`LinkAsk`].
    Link(Result<LinkReply, NetError>),
}

#[derive(Debug)]
enum Waiting {
    Gone,
    FarewellTargets,
    FarewellPush(FarewellTarget),
    FarewellRetire(String),
    FarewellPull(FarewellTarget),
    FarewellNoticesApplied(String),
    FarewellSent,
    Welcomes,
    WelcomePush(String),
    WelcomeCheck(String),
    WelcomeTake(String, MailboxKey),
    WelcomeRetire(String, MailboxKey),
    WelcomeDelete(String),
    WelcomeDone,
    Session { second: bool },
    Moved,
    End,
    EndClose(MailboxKey),
    EndRetire,
    EndDelete,
    EndDone,
    WakeDue,
    SetWake(WakeDue),
    WakeTold,
    Snapshot,
    Compact(u64, Vec<u8>),
    Compacted(u64),
    Over,
}

/// A relay round's engine.
#[derive(Debug)]
pub struct RelayRound {
    plan: Plan,
    waiting: Waiting,
    notice_rounds: usize,
    farewells: VecDeque<FarewellTarget>,
    welcomes: VecDeque<WelcomeWork>,
    pushed_welcomes: usize,
    synced: bool,
    compacted: Option<u64>,
}

impl RelayRound {
    /// A round of `plan`, and its first ask.
    pub fn start(plan: Plan) -> (Self, Ask) {
        let mut round = RelayRound {
            plan,
            waiting: Waiting::Over,
            notice_rounds: 0,
            farewells: VecDeque::new(),
            welcomes: VecDeque::new(),
            pushed_welcomes: 0,
            synced: false,
            compacted: None,
        };
        let ask = match plan {
            Plan::Sync | Plan::Compact => round.home(Waiting::Gone, HomeAsk::MailboxGone),
            Plan::Welcomes => round.home(Waiting::Welcomes, HomeAsk::WelcomeWork),
            Plan::Wake => round.home(Waiting::WakeDue, HomeAsk::WakeDue),
        };
        (round, ask)
    }

    /// Takes the answer to the last ask; the next ask, or the error the round ends with.
    pub fn step(&mut self, answer: Answer) -> Result<Ask, NetError> {
        let waiting = std::mem::replace(&mut self.waiting, Waiting::Over);
        match (waiting, answer) {
            (Waiting::Gone, Answer::Yes(gone)) => {
                if gone {
                    // An ended 1-1 whose mailbox is retired or deleted from here is not
                    // synced: a round would take the missing mailbox for a lost one and
                    // push the whole notebook again.
                    Ok(self.done())
                } else {
                    Ok(self.next_farewell_round())
                }
            }
            (Waiting::FarewellTargets, Answer::Farewell(targets)) => match targets {
                None => Ok(self.home(Waiting::Welcomes, HomeAsk::WelcomeWork)),
                Some(targets) => {
                    self.farewells = targets.into();
                    Ok(self.next_farewell())
                }
            },
            (Waiting::FarewellPush(target), Answer::Link(result)) => match result {
                Ok(_) => {
                    let key = target.key();
                    Ok(self.link(
                        Waiting::FarewellRetire(target.mailbox),
                        LinkAsk::Retire { key },
                    ))
                }
                // Another device retired it first (two removals made offline at once):
                // read its notice, which may make this device rotate again.
                Err(e) if refused(&e, RelayRefusal::Retired) => {
                    let key = target.key();
                    Ok(self.link(
                        Waiting::FarewellPull(target),
                        LinkAsk::Pull { key, after: 0 },
                    ))
                }
                // A mailbox that never existed had no reader to tell.
                Err(e) if is_no_mailbox(&e) => Ok(self.farewell_sent(target.mailbox)),
                Err(e) => Err(e),
            },
            (Waiting::FarewellRetire(mailbox), Answer::Link(result)) => {
                if let Err(e) = result {
                    // An older relay does not retire: the notice is there all the same.
                    tracing::warn!(error = %e, "the relay did not retire the old mailbox");
                }
                Ok(self.farewell_sent(mailbox))
            }
            (Waiting::FarewellPull(target), Answer::Link(result)) => {
                let entries = entries(result?)?;
                Ok(self.home(
                    Waiting::FarewellNoticesApplied(target.mailbox),
                    HomeAsk::ApplyNotices {
                        epoch: target.epoch,
                        entries,
                    },
                ))
            }
            (Waiting::FarewellNoticesApplied(mailbox), Answer::Done) => {
                Ok(self.farewell_sent(mailbox))
            }
            (Waiting::FarewellSent, Answer::Done) => Ok(self.next_farewell()),
            (Waiting::Welcomes, Answer::Welcomes(work)) => {
                self.welcomes = work.into();
                Ok(self.next_welcome())
            }
            (Waiting::WelcomePush(id), Answer::Link(result)) => {
                result?;
                self.pushed_welcomes += 1;
                Ok(self.welcome_done(id, true, false))
            }
            (Waiting::WelcomeCheck(id), Answer::Link(result)) => match result {
                Ok(_) => Ok(self.next_welcome()),
                Err(e) if is_no_mailbox(&e) => Ok(self.welcome_done(id, false, true)),
                Err(e) => Err(e),
            },
            (Waiting::WelcomeTake(id, key), Answer::Link(result)) => match result {
                Ok(_) => Ok(self.welcome_done(id, false, false)),
                Err(e) if is_no_mailbox(&e) => Ok(self.welcome_done(id, false, false)),
                // A relay older than the take: retire it, then delete it.
                Err(e) if older_relay(&e) => Ok(self.link(
                    Waiting::WelcomeRetire(id, key.clone()),
                    LinkAsk::Retire { key },
                )),
                Err(e) => Err(e),
            },
            (Waiting::WelcomeRetire(id, key), Answer::Link(result)) => {
                gone_is_done(result)?;
                Ok(self.link(Waiting::WelcomeDelete(id), LinkAsk::Delete { key }))
            }
            (Waiting::WelcomeDelete(id), Answer::Link(result)) => {
                gone_is_done(result)?;
                Ok(self.welcome_done(id, false, false))
            }
            (Waiting::WelcomeDone, Answer::Done) => Ok(self.next_welcome()),
            (Waiting::Session { second }, Answer::Done) => {
                self.synced = true;
                if second {
                    Ok(self.home(Waiting::End, HomeAsk::End))
                } else {
                    Ok(self.home(Waiting::Moved, HomeAsk::EpochMoved))
                }
            }
            (Waiting::Moved, Answer::Yes(moved)) => {
                if moved {
                    // The session brought a new epoch (this device was offline during a
                    // rotation): once more, on the new mailbox.
                    self.waiting = Waiting::Session { second: true };
                    Ok(Ask::Session)
                } else {
                    Ok(self.home(Waiting::End, HomeAsk::End))
                }
            }
            (Waiting::End, Answer::End(end)) => match end {
                None => Ok(self.after_end()),
                // Closed, not retired: read and never written, like a retired mailbox,
                // but the other side may delete it once it has read the end.
                Some((EndStep::Retire, key)) => {
                    Ok(self.link(Waiting::EndClose(key.clone()), LinkAsk::Close { key }))
                }
                // The other device closes it after its own push; until then it is not
                // ours to delete (refused as a bad request), and a later sync tries again.
                Some((EndStep::Delete, key)) => {
                    Ok(self.link(Waiting::EndDelete, LinkAsk::Delete { key }))
                }
            },
            (Waiting::EndClose(key), Answer::Link(result)) => match result {
                Ok(_) => Ok(self.end_done()),
                Err(e) if is_no_mailbox(&e) => Ok(self.end_done()),
                Err(e) if older_relay(&e) => {
                    Ok(self.link(Waiting::EndRetire, LinkAsk::Retire { key }))
                }
                Err(e) => Err(e),
            },
            (Waiting::EndRetire, Answer::Link(result)) => {
                gone_is_done(result)?;
                Ok(self.end_done())
            }
            (Waiting::EndDelete, Answer::Link(result)) => match result {
                Ok(_) => Ok(self.end_done()),
                // A retired mailbox stays on the relay as a tombstone: nothing more to do.
                Err(e) if is_no_mailbox(&e) || refused(&e, RelayRefusal::Retired) => {
                    Ok(self.end_done())
                }
                Err(e) if refused(&e, RelayRefusal::BadRequest) => Ok(self.after_end()),
                Err(e) => Err(e),
            },
            (Waiting::EndDone, Answer::Done) => Ok(self.after_end()),
            (Waiting::WakeDue, Answer::Wake(due)) => match due {
                None => Ok(self.after_wake()),
                Some(due) => {
                    let ask = LinkAsk::SetWake {
                        key: due.key.clone(),
                        slot: due.slot,
                        endpoint: due.endpoint.clone(),
                    };
                    Ok(self.link(Waiting::SetWake(due), ask))
                }
            },
            (Waiting::SetWake(due), Answer::Link(result)) => {
                let refused_why = match result {
                    Ok(_) => None,
                    Err(NetError::RelayRefused {
                        why: RelayRefusal::WakeRefused,
                        message,
                    }) => Some(message),
                    // Nothing pushed yet: the mailbox is made by the first push; asked
                    // again then.
                    Err(e) if is_no_mailbox(&e) => return Ok(self.after_wake()),
                    Err(e) if older_relay(&e) => {
                        Some("this relay is too old to send wake-ups".to_owned())
                    }
                    Err(e) => return Err(e),
                };
                if let Some(why) = &refused_why {
                    tracing::info!(why, "the relay refused this device's push endpoint");
                }
                Ok(self.home(
                    Waiting::WakeTold,
                    HomeAsk::WakeTold {
                        mailbox: due.key.mailbox,
                        endpoint: due.endpoint,
                        refused: refused_why,
                    },
                ))
            }
            (Waiting::WakeTold, Answer::Done) => Ok(self.after_wake()),
            (Waiting::Snapshot, Answer::Snapshot(upto, envelope, key)) => {
                if upto == 0 {
                    self.compacted = Some(0);
                    return Ok(self.done());
                }
                let ask = LinkAsk::Compact {
                    key,
                    upto,
                    envelope: envelope.clone(),
                };
                Ok(self.link(Waiting::Compact(upto, envelope), ask))
            }
            (Waiting::Compact(upto, snapshot), Answer::Link(result)) => match result? {
                LinkReply::Compacted(kept) => Ok(self.home(
                    Waiting::Compacted(kept),
                    HomeAsk::Compacted { upto, snapshot },
                )),
                other => Err(unexpected(&other)),
            },
            (Waiting::Compacted(kept), Answer::Done) => {
                self.compacted = Some(kept);
                Ok(self.done())
            }
            (waiting, answer) => Err(NetError::Protocol(format!(
                "relay round: {answer:?} does not answer {waiting:?}"
            ))),
        }
    }

    fn home(&mut self, waiting: Waiting, ask: HomeAsk) -> Ask {
        self.waiting = waiting;
        Ask::Home(ask)
    }

    fn link(&mut self, waiting: Waiting, ask: LinkAsk) -> Ask {
        self.waiting = waiting;
        Ask::Link(ask)
    }

    fn done(&mut self) -> Ask {
        self.waiting = Waiting::Over;
        Ask::Done {
            synced: self.synced,
            welcomes: self.pushed_welcomes,
            compacted: self.compacted,
        }
    }

    fn next_farewell_round(&mut self) -> Ask {
        if self.notice_rounds >= MAX_NOTICE_ROUNDS {
            return self.home(Waiting::Welcomes, HomeAsk::WelcomeWork);
        }
        self.notice_rounds += 1;
        self.home(Waiting::FarewellTargets, HomeAsk::Farewell)
    }

    fn next_farewell(&mut self) -> Ask {
        match self.farewells.pop_front() {
            None => self.next_farewell_round(),
            Some(target) => {
                let ask = LinkAsk::Push {
                    key: target.key(),
                    envelope: target.envelope.clone(),
                };
                self.link(Waiting::FarewellPush(target), ask)
            }
        }
    }

    fn farewell_sent(&mut self, mailbox: String) -> Ask {
        self.home(Waiting::FarewellSent, HomeAsk::FarewellSent { mailbox })
    }

    fn next_welcome(&mut self) -> Ask {
        match self.welcomes.pop_front() {
            None if self.plan == Plan::Welcomes => self.done(),
            None => {
                self.waiting = Waiting::Session { second: false };
                Ask::Session
            }
            Some(WelcomeWork::Push {
                id,
                mailbox,
                envelope,
            }) => self.link(
                Waiting::WelcomePush(id),
                LinkAsk::Push {
                    key: mailbox,
                    envelope,
                },
            ),
            Some(WelcomeWork::Check { id, mailbox }) => self.link(
                Waiting::WelcomeCheck(id),
                LinkAsk::Pull {
                    key: mailbox,
                    after: 0,
                },
            ),
            // Taken down in one step; a retired welcome would stay readable.
            Some(WelcomeWork::Remove { id, mailbox }) => self.link(
                Waiting::WelcomeTake(id, mailbox.clone()),
                LinkAsk::Take { key: mailbox },
            ),
        }
    }

    fn welcome_done(&mut self, invite: String, pushed: bool, taken: bool) -> Ask {
        self.home(
            Waiting::WelcomeDone,
            HomeAsk::WelcomeDone {
                invite,
                pushed,
                taken,
            },
        )
    }

    fn end_done(&mut self) -> Ask {
        self.home(Waiting::EndDone, HomeAsk::EndDone)
    }

    fn after_end(&mut self) -> Ask {
        self.home(Waiting::WakeDue, HomeAsk::WakeDue)
    }

    fn after_wake(&mut self) -> Ask {
        match self.plan {
            Plan::Compact => self.home(Waiting::Snapshot, HomeAsk::Snapshot),
            _ => self.done(),
        }
    }
}

/// Whether the relay refused with `why`.
fn refused(e: &NetError, why: RelayRefusal) -> bool {
    matches!(e, NetError::RelayRefused { why: w, .. } if *w == why)
}

/// A write whose mailbox is already gone did what it was for.
fn gone_is_done(result: Result<LinkReply, NetError>) -> Result<(), NetError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_no_mailbox(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

fn entries(reply: LinkReply) -> Result<Entries, NetError> {
    match reply {
        LinkReply::Entries(entries) => Ok(entries),
        other => Err(unexpected(&other)),
    }
}

fn unexpected(reply: &LinkReply) -> NetError {
    NetError::Protocol(format!("relay round: unexpected reply {reply:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> MailboxKey {
        MailboxKey {
            mailbox: id.into(),
            token: [1; 32],
            team_token: None,
        }
    }

    fn refusal(why: RelayRefusal) -> Answer {
        Answer::Link(Err(NetError::RelayRefused {
            why,
            message: "no".into(),
        }))
    }

    fn broken() -> Answer {
        Answer::Link(Err(NetError::Broken {
            addr: "127.0.0.1:1".parse().expect("addr"),
            detail: "closed".into(),
        }))
    }

    fn ok(reply: LinkReply) -> Answer {
        Answer::Link(Ok(reply))
    }

    /// Drives a round with `answers`; every ask it made, the first included.
    fn run(plan: Plan, answers: Vec<Answer>) -> Result<Vec<Ask>, NetError> {
        let (mut round, first) = RelayRound::start(plan);
        let mut asks = vec![first];
        for answer in answers {
            asks.push(round.step(answer)?);
        }
        Ok(asks)
    }

    /// The answers of a round with nothing to do around its session, from the welcomes on.
    fn quiet_rest() -> Vec<Answer> {
        vec![
            Answer::Welcomes(Vec::new()),
            Answer::Done,
            Answer::Yes(false),
            Answer::End(None),
            Answer::Wake(None),
        ]
    }

    #[test]
    fn a_quiet_round_asks_each_step_once_in_order() {
        let mut answers = vec![Answer::Yes(false), Answer::Farewell(None)];
        answers.extend(quiet_rest());
        let asks = run(Plan::Sync, answers).expect("runs");
        assert_eq!(
            asks,
            vec![
                Ask::Home(HomeAsk::MailboxGone),
                Ask::Home(HomeAsk::Farewell),
                Ask::Home(HomeAsk::WelcomeWork),
                Ask::Session,
                Ask::Home(HomeAsk::EpochMoved),
                Ask::Home(HomeAsk::End),
                Ask::Home(HomeAsk::WakeDue),
                Ask::Done {
                    synced: true,
                    welcomes: 0,
                    compacted: None
                },
            ]
        );
    }

    #[test]
    fn an_ended_mailbox_gone_from_here_is_not_synced() {
        let asks = run(Plan::Sync, vec![Answer::Yes(true)]).expect("runs");
        assert_eq!(
            asks.last(),
            Some(&Ask::Done {
                synced: false,
                welcomes: 0,
                compacted: None
            })
        );
        assert!(!asks.contains(&Ask::Session));
    }

    #[test]
    fn a_session_that_brought_a_new_epoch_runs_once_more() {
        let asks = run(
            Plan::Sync,
            vec![
                Answer::Yes(false),
                Answer::Farewell(None),
                Answer::Welcomes(Vec::new()),
                Answer::Done,
                Answer::Yes(true),
                Answer::Done,
            ],
        )
        .expect("runs");
        assert_eq!(asks.iter().filter(|a| **a == Ask::Session).count(), 2);
        assert_eq!(asks.last(), Some(&Ask::Home(HomeAsk::End)));
    }

    fn target(mailbox: &str) -> FarewellTarget {
        FarewellTarget {
            epoch: "e1".into(),
            mailbox: mailbox.into(),
            token: [1; 32],
            envelope: vec![9],
        }
    }

    #[test]
    fn a_farewell_is_left_and_its_mailbox_retired_or_another_devices_notice_read() {
        let asks = run(
            Plan::Sync,
            vec![
                Answer::Yes(false),
                Answer::Farewell(Some(vec![target("aa"), target("bb")])),
                ok(LinkReply::Pushed(4)),
                broken(), // an older relay does not retire: the notice is there all the same
                Answer::Done,
                refusal(RelayRefusal::Retired),
                ok(LinkReply::Entries(vec![(1, vec![7])])),
                Answer::Done,
                Answer::Done,
                Answer::Farewell(None),
            ],
        )
        .expect("runs");
        assert_eq!(
            asks[2],
            Ask::Link(LinkAsk::Push {
                key: key("aa"),
                envelope: vec![9]
            })
        );
        assert_eq!(asks[3], Ask::Link(LinkAsk::Retire { key: key("aa") }));
        assert_eq!(
            asks[4],
            Ask::Home(HomeAsk::FarewellSent {
                mailbox: "aa".into()
            })
        );
        // bb was retired by another device first: its notice is read and applied.
        assert_eq!(
            asks[6],
            Ask::Link(LinkAsk::Pull {
                key: key("bb"),
                after: 0
            })
        );
        assert_eq!(
            asks[7],
            Ask::Home(HomeAsk::ApplyNotices {
                epoch: "e1".into(),
                entries: vec![(1, vec![7])]
            })
        );
        assert_eq!(
            asks[8],
            Ask::Home(HomeAsk::FarewellSent {
                mailbox: "bb".into()
            })
        );
        assert_eq!(
            asks[9],
            Ask::Home(HomeAsk::Farewell),
            "the next round asks again"
        );
        assert_eq!(asks[10], Ask::Home(HomeAsk::WelcomeWork));
    }

    #[test]
    fn notice_rounds_are_bounded() {
        let mut answers = vec![Answer::Yes(false)];
        for _ in 0..MAX_NOTICE_ROUNDS {
            answers.push(Answer::Farewell(Some(vec![target("aa")])));
            answers.push(refusal(RelayRefusal::NoMailbox));
            answers.push(Answer::Done);
        }
        let asks = run(Plan::Sync, answers).expect("runs");
        assert_eq!(
            asks.iter()
                .filter(|a| **a == Ask::Home(HomeAsk::Farewell))
                .count(),
            MAX_NOTICE_ROUNDS
        );
        assert_eq!(asks.last(), Some(&Ask::Home(HomeAsk::WelcomeWork)));
    }

    #[test]
    fn welcomes_are_pushed_checked_and_taken_down_even_on_an_older_relay() {
        let work = vec![
            WelcomeWork::Push {
                id: "i1".into(),
                mailbox: key("w1"),
                envelope: vec![1],
            },
            WelcomeWork::Check {
                id: "i2".into(),
                mailbox: key("w2"),
            },
            WelcomeWork::Check {
                id: "i3".into(),
                mailbox: key("w3"),
            },
            WelcomeWork::Remove {
                id: "i4".into(),
                mailbox: key("w4"),
            },
        ];
        let asks = run(
            Plan::Welcomes,
            vec![
                Answer::Welcomes(work),
                ok(LinkReply::Pushed(1)),
                Answer::Done,
                ok(LinkReply::Entries(Vec::new())), // i2's welcome is still there
                refusal(RelayRefusal::NoMailbox),   // i3's was taken
                Answer::Done,
                broken(), // the take on a relay older than it
                refusal(RelayRefusal::NoMailbox),
                ok(LinkReply::Done),
                Answer::Done,
            ],
        )
        .expect("runs");
        let done: Vec<&Ask> = asks
            .iter()
            .filter(|a| matches!(a, Ask::Home(HomeAsk::WelcomeDone { .. })))
            .collect();
        assert_eq!(
            done,
            vec![
                &Ask::Home(HomeAsk::WelcomeDone {
                    invite: "i1".into(),
                    pushed: true,
                    taken: false
                }),
                &Ask::Home(HomeAsk::WelcomeDone {
                    invite: "i3".into(),
                    pushed: false,
                    taken: true
                }),
                &Ask::Home(HomeAsk::WelcomeDone {
                    invite: "i4".into(),
                    pushed: false,
                    taken: false
                }),
            ]
        );
        assert!(asks.contains(&Ask::Link(LinkAsk::Retire { key: key("w4") })));
        assert!(asks.contains(&Ask::Link(LinkAsk::Delete { key: key("w4") })));
        assert_eq!(
            asks.last(),
            Some(&Ask::Done {
                synced: false,
                welcomes: 1,
                compacted: None
            })
        );
    }

    fn up_to_end() -> Vec<Answer> {
        vec![
            Answer::Yes(false),
            Answer::Farewell(None),
            Answer::Welcomes(Vec::new()),
            Answer::Done,
            Answer::Yes(false),
        ]
    }

    #[test]
    fn an_ended_mailbox_is_closed_by_its_ender_and_deleted_by_the_other_once_closed() {
        let mut close = up_to_end();
        close.extend([
            Answer::End(Some((EndStep::Retire, key("m")))),
            broken(),
            ok(LinkReply::Done),
            Answer::Done,
        ]);
        let asks = run(Plan::Sync, close).expect("runs");
        assert_eq!(asks[6], Ask::Link(LinkAsk::Close { key: key("m") }));
        assert_eq!(asks[7], Ask::Link(LinkAsk::Retire { key: key("m") }));
        assert_eq!(asks[8], Ask::Home(HomeAsk::EndDone));
        // Not closed yet by the other side: refused, and tried again next sync.
        let mut early = up_to_end();
        early.extend([
            Answer::End(Some((EndStep::Delete, key("m")))),
            refusal(RelayRefusal::BadRequest),
        ]);
        let asks = run(Plan::Sync, early).expect("runs");
        assert!(!asks.contains(&Ask::Home(HomeAsk::EndDone)));
        assert_eq!(asks.last(), Some(&Ask::Home(HomeAsk::WakeDue)));
        // A tombstone stays: the end is done all the same.
        let mut tomb = up_to_end();
        tomb.extend([
            Answer::End(Some((EndStep::Delete, key("m")))),
            refusal(RelayRefusal::Retired),
        ]);
        let asks = run(Plan::Sync, tomb).expect("runs");
        assert_eq!(asks.last(), Some(&Ask::Home(HomeAsk::EndDone)));
    }

    #[test]
    fn the_push_endpoint_is_told_and_a_refusal_kept() {
        let due = WakeDue {
            key: key("m"),
            slot: [3; 32],
            endpoint: Some("https://push.example/x".into()),
        };
        let asks = run(
            Plan::Wake,
            vec![
                Answer::Wake(Some(due.clone())),
                Answer::Link(Err(NetError::RelayRefused {
                    why: RelayRefusal::WakeRefused,
                    message: "host not allowed".into(),
                })),
            ],
        )
        .expect("runs");
        assert_eq!(
            asks[2],
            Ask::Home(HomeAsk::WakeTold {
                mailbox: "m".into(),
                endpoint: Some("https://push.example/x".into()),
                refused: Some("host not allowed".into())
            })
        );
        // No mailbox yet: asked again after the first push, nothing recorded.
        let asks = run(
            Plan::Wake,
            vec![Answer::Wake(Some(due)), refusal(RelayRefusal::NoMailbox)],
        )
        .expect("runs");
        assert!(matches!(asks.last(), Some(Ask::Done { .. })));
    }

    #[test]
    fn compaction_follows_the_sync_and_records_what_the_relay_kept() {
        let mut answers = vec![Answer::Yes(false), Answer::Farewell(None)];
        answers.extend(quiet_rest());
        answers.extend([
            Answer::Snapshot(5, vec![8], key("m")),
            ok(LinkReply::Compacted(5)),
            Answer::Done,
        ]);
        let asks = run(Plan::Compact, answers).expect("runs");
        assert_eq!(
            asks[8],
            Ask::Link(LinkAsk::Compact {
                key: key("m"),
                upto: 5,
                envelope: vec![8]
            })
        );
        assert_eq!(
            asks[9],
            Ask::Home(HomeAsk::Compacted {
                upto: 5,
                snapshot: vec![8]
            })
        );
        assert_eq!(
            asks[10],
            Ask::Done {
                synced: true,
                welcomes: 0,
                compacted: Some(5)
            }
        );
    }

    #[test]
    fn a_relay_failure_ends_the_round_and_a_wrong_answer_is_refused() {
        let failed = run(
            Plan::Welcomes,
            vec![
                Answer::Welcomes(vec![WelcomeWork::Push {
                    id: "i".into(),
                    mailbox: key("w"),
                    envelope: vec![1],
                }]),
                broken(),
            ],
        );
        assert!(matches!(failed, Err(NetError::Broken { .. })));
        assert!(matches!(
            run(Plan::Sync, vec![Answer::Done]),
            Err(NetError::Protocol(_))
        ));
    }
}
