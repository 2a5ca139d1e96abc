//! One sync of a notebook with its relay, as a state machine with no I/O: the only place
//! that knows the order (pull what is after this device's cursor, apply it, seal what the
//! relay has not seen, push it, record that the relay has it), how replies page, and which
//! replies end the sync.
//!
//! A driver (the relay client) carries it out: it asks [`RelaySession::next_step`] what to do,
//! sends requests and feeds each reply to [`RelaySession::receive`], and runs the steps
//! that need the notebook on the home, reporting back with [`RelaySession::applied`],
//! [`RelaySession::sealed`] and [`RelaySession::recorded`].

use crate::wire::{RelayRefusal, RelayReply, RelayRequest};

/// Entries pulled at once before the sync refuses the rest (a relay that floods costs this
/// much memory at most; the next sync reads on from the cursor).
pub const MAX_PULL_ENTRIES: usize = 100_000;

/// Entries from a pull: (sequence number, envelope).
pub type Entries = Vec<(u64, Vec<u8>)>;

/// Why a relay sync ended early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelaySyncError {
    /// The relay refused a request, for a reason it names.
    #[error("the relay refused: {message}")]
    Refused {
        /// Why, as the relay typed it.
        why: RelayRefusal,
        /// Why, in the relay's words.
        message: String,
    },
    /// The relay answered out of order, or too much.
    #[error("the relay broke the protocol: {0}")]
    Protocol(String),
}

/// What the driver does next.
#[derive(Debug, PartialEq, Eq)]
pub enum RelayStep {
    /// Send `request` on a new stream, opening the notebook's mailbox (creating it when
    /// `create`); then feed every reply to [`RelaySession::receive`] until it says the
    /// answer is complete.
    Request {
        /// The request.
        request: RelayRequest,
        /// Whether the mailbox may be created by it.
        create: bool,
    },
    /// Apply these entries (oldest first) to the notebook and move its cursor, then call
    /// [`RelaySession::applied`].
    Apply(Entries),
    /// Seal what the relay has not seen of the notebook, then call
    /// [`RelaySession::sealed`].
    Seal,
    /// Record that the relay holds the sealed batch, then call [`RelaySession::recorded`].
    Record,
    /// The sync is complete.
    Done,
}

#[derive(Debug)]
enum Phase {
    Start,
    Pulling(Entries),
    Pulled(Entries),
    Applying,
    Applied,
    Sealing,
    Push(Vec<u8>),
    Pushing,
    Pushed,
    Recording,
    Done,
    Failed,
}

/// One notebook's sync with its relay.
#[derive(Debug)]
pub struct RelaySession {
    phase: Phase,
    cursor: u64,
    pulled: usize,
    rejected: usize,
    pushed: Option<u64>,
}

impl RelaySession {
    /// A sync of a notebook whose cursor (last relay entry applied here) is `cursor`.
    pub fn new(cursor: u64) -> RelaySession {
        RelaySession {
            phase: Phase::Start,
            cursor,
            pulled: 0,
            rejected: 0,
            pushed: None,
        }
    }

    /// Entries pulled.
    pub fn pulled(&self) -> usize {
        self.pulled
    }

    /// Entries that failed to open (tampered, or moved from another mailbox).
    pub fn rejected(&self) -> usize {
        self.rejected
    }

    /// The sequence number of the envelope pushed, if there was anything to push.
    pub fn pushed(&self) -> Option<u64> {
        self.pushed
    }

    /// What to do now.
    pub fn next_step(&mut self) -> Result<RelayStep, RelaySyncError> {
        let phase = std::mem::replace(&mut self.phase, Phase::Failed);
        let (next, step) = match phase {
            Phase::Start => (
                Phase::Pulling(Vec::new()),
                RelayStep::Request {
                    request: RelayRequest::Pull { after: self.cursor },
                    create: false,
                },
            ),
            Phase::Pulled(entries) if entries.is_empty() => (Phase::Sealing, RelayStep::Seal),
            Phase::Pulled(entries) => (Phase::Applying, RelayStep::Apply(entries)),
            Phase::Applied => (Phase::Sealing, RelayStep::Seal),
            Phase::Push(envelope) => (
                Phase::Pushing,
                RelayStep::Request {
                    request: RelayRequest::Push { envelope },
                    create: true,
                },
            ),
            Phase::Pushed => (Phase::Recording, RelayStep::Record),
            Phase::Done => (Phase::Done, RelayStep::Done),
            other => {
                return Err(self.fail(format!("nothing to do while {}", name(&other))));
            }
        };
        self.phase = next;
        Ok(step)
    }

    /// Takes one reply on the current request's stream. Returns whether the answer is
    /// complete (the driver may close the stream).
    pub fn receive(&mut self, reply: RelayReply) -> Result<bool, RelaySyncError> {
        let phase = std::mem::replace(&mut self.phase, Phase::Failed);
        let (next, complete) = match (phase, reply) {
            (
                Phase::Pulling(mut entries),
                RelayReply::Entries {
                    entries: more,
                    more: rest,
                },
            ) => {
                if entries.len().saturating_add(more.len()) > MAX_PULL_ENTRIES {
                    return Err(self.fail(format!("over {MAX_PULL_ENTRIES} entries at once")));
                }
                entries.extend(more);
                if rest {
                    (Phase::Pulling(entries), false)
                } else {
                    self.pulled = entries.len();
                    (Phase::Pulled(entries), true)
                }
            }
            // A mailbox is made by its first push: none yet means nothing to pull.
            (
                Phase::Pulling(_),
                RelayReply::Refused {
                    why: RelayRefusal::NoMailbox,
                    ..
                },
            ) => (Phase::Pulled(Vec::new()), true),
            (Phase::Pushing, RelayReply::Pushed { seq }) => {
                self.pushed = Some(seq);
                (Phase::Pushed, true)
            }
            (_, RelayReply::Refused { why, message }) => {
                self.phase = Phase::Failed;
                return Err(RelaySyncError::Refused { why, message });
            }
            (phase, other) => {
                let why = format!("{} while {}", reply_name(&other), name(&phase));
                return Err(self.fail(why));
            }
        };
        self.phase = next;
        Ok(complete)
    }

    /// The entries were applied; `rejected` of them failed to open.
    pub fn applied(&mut self, rejected: usize) -> Result<(), RelaySyncError> {
        self.expect(|p| matches!(p, Phase::Applying), "applied")?;
        self.rejected = rejected;
        self.phase = Phase::Applied;
        Ok(())
    }

    /// What to push (`None`: the relay has seen everything here).
    pub fn sealed(&mut self, envelope: Option<Vec<u8>>) -> Result<(), RelaySyncError> {
        self.expect(|p| matches!(p, Phase::Sealing), "sealed")?;
        self.phase = match envelope {
            Some(envelope) => Phase::Push(envelope),
            None => Phase::Done,
        };
        Ok(())
    }

    /// The relay's acknowledgement is recorded here.
    pub fn recorded(&mut self) -> Result<(), RelaySyncError> {
        self.expect(|p| matches!(p, Phase::Recording), "recorded")?;
        self.phase = Phase::Done;
        Ok(())
    }

    fn expect(&mut self, ok: impl Fn(&Phase) -> bool, what: &str) -> Result<(), RelaySyncError> {
        if ok(&self.phase) {
            Ok(())
        } else {
            let why = format!("{what} while {}", name(&self.phase));
            Err(self.fail(why))
        }
    }

    fn fail(&mut self, why: String) -> RelaySyncError {
        self.phase = Phase::Failed;
        RelaySyncError::Protocol(why)
    }
}

fn name(p: &Phase) -> &'static str {
    match p {
        Phase::Start => "starting",
        Phase::Pulling(_) | Phase::Pulled(_) => "pulling",
        Phase::Applying | Phase::Applied => "applying",
        Phase::Sealing | Phase::Push(_) => "sealing",
        Phase::Pushing | Phase::Pushed | Phase::Recording => "pushing",
        Phase::Done => "done",
        Phase::Failed => "after an error",
    }
}

fn reply_name(r: &RelayReply) -> &'static str {
    match r {
        RelayReply::Opened { .. } => "Opened",
        RelayReply::Pushed { .. } => "Pushed",
        RelayReply::Entries { .. } => "Entries",
        RelayReply::Compacted { .. } => "Compacted",
        RelayReply::Refused { .. } => "Refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(from: u64, n: u64) -> Entries {
        (from..from + n).map(|s| (s, vec![s as u8])).collect()
    }

    #[test]
    fn a_sync_pulls_pages_applies_seals_pushes_and_records_in_that_order() {
        let mut s = RelaySession::new(7);
        assert_eq!(
            s.next_step().expect("pull"),
            RelayStep::Request {
                request: RelayRequest::Pull { after: 7 },
                create: false
            }
        );
        assert!(!s
            .receive(RelayReply::Entries {
                entries: entries(8, 2),
                more: true
            })
            .expect("page 1"));
        assert!(s
            .receive(RelayReply::Entries {
                entries: entries(10, 1),
                more: false
            })
            .expect("page 2"));
        assert_eq!(
            s.next_step().expect("apply"),
            RelayStep::Apply(entries(8, 3))
        );
        s.applied(1).expect("applied");
        assert_eq!(s.next_step().expect("seal"), RelayStep::Seal);
        s.sealed(Some(vec![1, 2, 3])).expect("sealed");
        assert_eq!(
            s.next_step().expect("push"),
            RelayStep::Request {
                request: RelayRequest::Push {
                    envelope: vec![1, 2, 3]
                },
                create: true
            }
        );
        assert!(s.receive(RelayReply::Pushed { seq: 11 }).expect("pushed"));
        assert_eq!(s.next_step().expect("record"), RelayStep::Record);
        s.recorded().expect("recorded");
        assert_eq!(s.next_step().expect("done"), RelayStep::Done);
        assert_eq!((s.pulled(), s.rejected(), s.pushed()), (3, 1, Some(11)));
    }

    #[test]
    fn no_mailbox_yet_means_nothing_to_pull_and_nothing_to_push_ends_it() {
        let mut s = RelaySession::new(0);
        s.next_step().expect("pull");
        assert!(s
            .receive(RelayReply::Refused {
                why: RelayRefusal::NoMailbox,
                message: "no such mailbox".into()
            })
            .expect("no mailbox is not an error while pulling"));
        assert_eq!(s.next_step().expect("seal"), RelayStep::Seal);
        s.sealed(None).expect("nothing to push");
        assert_eq!(s.next_step().expect("done"), RelayStep::Done);
    }

    #[test]
    fn refusals_and_replies_out_of_order_end_the_sync_by_type() {
        let mut s = RelaySession::new(0);
        s.next_step().expect("pull");
        assert!(matches!(
            s.receive(RelayReply::Pushed { seq: 1 }),
            Err(RelaySyncError::Protocol(_))
        ));
        assert!(s.next_step().is_err(), "nothing more after a refusal");

        let mut s = RelaySession::new(0);
        s.next_step().expect("pull");
        s.receive(RelayReply::Entries {
            entries: Vec::new(),
            more: false,
        })
        .expect("empty");
        s.next_step().expect("seal");
        s.sealed(Some(vec![9])).expect("sealed");
        s.next_step().expect("push");
        match s.receive(RelayReply::Refused {
            why: RelayRefusal::QuotaExceeded,
            message: "over quota".into(),
        }) {
            Err(RelaySyncError::Refused { why, .. }) => {
                assert_eq!(why, RelayRefusal::QuotaExceeded)
            }
            other => panic!("a quota refusal is typed: {other:?}"),
        }
        let mut s = RelaySession::new(0);
        assert!(s.applied(0).is_err(), "applied before anything was pulled");
    }

    #[test]
    fn a_relay_that_floods_a_pull_is_cut_off() {
        let mut s = RelaySession::new(0);
        s.next_step().expect("pull");
        let page = entries(1, 1000);
        let mut refused = false;
        for _ in 0..=MAX_PULL_ENTRIES / 1000 {
            match s.receive(RelayReply::Entries {
                entries: page.clone(),
                more: true,
            }) {
                Ok(_) => {}
                Err(RelaySyncError::Protocol(why)) => {
                    assert!(why.contains("entries"), "{why}");
                    refused = true;
                    break;
                }
                Err(other) => panic!("{other}"),
            }
        }
        assert!(refused);
    }

    fn any_reply() -> impl proptest::strategy::Strategy<Value = RelayReply> {
        use proptest::prelude::*;
        prop_oneof![
            (0u64..5, any::<bool>()).prop_map(|(n, more)| RelayReply::Entries {
                entries: entries(1, n),
                more
            }),
            (0u64..100).prop_map(|seq| RelayReply::Pushed { seq }),
            (0u64..100).prop_map(|head| RelayReply::Opened { head }),
            (0u64..100).prop_map(|upto| RelayReply::Compacted { upto }),
            Just(RelayReply::Refused {
                why: RelayRefusal::NoMailbox,
                message: "no such mailbox".into()
            }),
            Just(RelayReply::Refused {
                why: RelayRefusal::RateLimited,
                message: "slow down".into()
            }),
        ]
    }

    proptest::proptest! {
        /// Whatever a relay answers, in whatever order, the engine never panics: each
        /// reply moves it on or ends the sync with a typed error, and a sync that ends well
        /// went through pull, seal and (when something was sealed) push and record.
        #[test]
        fn any_replies_move_the_sync_on_or_end_it_by_type(
            replies in proptest::collection::vec(any_reply(), 0..12),
            seal in proptest::option::of(proptest::collection::vec(proptest::prelude::any::<u8>(), 1..4)),
        ) {
            let mut s = RelaySession::new(0);
            let mut replies = replies.into_iter();
            let mut steps = Vec::new();
            let outcome: Result<(), RelaySyncError> = (|| loop {
                let step = s.next_step()?;
                steps.push(format!("{step:?}").chars().take(5).collect::<String>());
                match step {
                    RelayStep::Request { .. } => loop {
                        let Some(reply) = replies.next() else {
                            return Err(RelaySyncError::Protocol("the relay went quiet".into()));
                        };
                        if s.receive(reply)? {
                            break;
                        }
                    },
                    RelayStep::Apply(_) => s.applied(0)?,
                    RelayStep::Seal => s.sealed(seal.clone())?,
                    RelayStep::Record => s.recorded()?,
                    RelayStep::Done => return Ok(()),
                }
            })();
            if outcome.is_ok() {
                proptest::prop_assert!(steps.first().is_some_and(|s| s.starts_with("Reque")));
                proptest::prop_assert!(steps.iter().any(|s| s == "Seal"));
                proptest::prop_assert_eq!(seal.is_some(), steps.iter().any(|s| s == "Recor"));
            }
        }
    }
}
