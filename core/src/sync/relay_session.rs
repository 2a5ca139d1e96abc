//! One sync of a notebook with its relay, as a state machine with no I/O: the only place
//! that knows the order (pull what is after this device's cursor, apply it, seal what the
//! relay has not seen, push it, record that the relay has it), how replies page, and which
//! replies end the sync.
//!
//! A driver (the relay client) carries it out: it asks [`RelaySession::next_step`] what to do,
//! sends requests and feeds each reply to [`RelaySession::receive`], and runs the steps
//! that need the notebook on the home, reporting back with [`RelaySession::applied`],
//! [`RelaySession::sealed`] and [`RelaySession::recorded`].
//!
//! A relay may lose part of its log (restored from an older backup, a swapped disk, a
//! wiped mailbox) and then hand out the same sequence numbers again, so a cursor alone
//! would skip what was written since. The device therefore keeps an [`Anchor`]: the
//! digest of the entry at its cursor. Each sync pulls from that entry on; when it is
//! missing or different, or the mailbox is gone, the log is not the one this device read,
//! and the sync rewinds ([`RelayStep::Rewind`]): the device forgets its cursor and what it
//! believed the relay holds, reads the log from the start, and pushes again what the relay
//! lacks. A compaction that folded the anchor into a snapshot rewinds too, at no extra
//! cost: the pull would have carried that snapshot anyway.

use crate::wire::{RelayRefusal, RelayReply, RelayRequest};

/// Entries pulled at once before the sync refuses the rest (a relay that floods costs this
/// much memory at most; the next sync reads on from the cursor).
pub const MAX_PULL_ENTRIES: usize = 100_000;

/// Entries from a pull: (sequence number, envelope).
pub type Entries = Vec<(u64, Vec<u8>)>;

/// The entry at a device's cursor, as it read it: what the next sync checks the relay's
/// log against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Anchor {
    /// Its sequence number (the cursor).
    pub seq: u64,
    /// [`entry_digest`] of its envelope.
    pub digest: [u8; 16],
}

/// A 16-byte digest of an entry's envelope.
pub fn entry_digest(envelope: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&blake3::hash(envelope).as_bytes()[..16]);
    out
}

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
    /// The relay's log is not the one this device read: forget the notebook's cursor, its
    /// anchor and what the relay was believed to hold, then call
    /// [`RelaySession::rewound`]. The sync then reads the log from the start.
    Rewind,
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
    Rewind,
    Rewinding,
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
    /// The entry at the cursor, checked by this sync's pull (taken once checked).
    anchor: Option<Anchor>,
    /// Whether the pull starts at the cursor's own entry (to check or to learn it).
    from_cursor: bool,
    rewound: bool,
    pulled: usize,
    rejected: usize,
    pushed: Option<u64>,
}

impl RelaySession {
    /// A sync of a notebook whose cursor (last relay entry applied here) is `cursor`, with
    /// the anchor recorded for it (`None` in a home from before anchors: this sync pulls
    /// the cursor's entry again so the apply step learns it).
    pub fn new(cursor: u64, anchor: Option<Anchor>) -> RelaySession {
        let anchor = anchor.filter(|a| a.seq == cursor && cursor > 0);
        RelaySession {
            phase: Phase::Start,
            cursor,
            anchor,
            from_cursor: cursor > 0,
            rewound: false,
            pulled: 0,
            rejected: 0,
            pushed: None,
        }
    }

    /// Entries pulled.
    pub fn pulled(&self) -> usize {
        self.pulled
    }

    /// Whether the relay's log was found not to be the one this device read (restored,
    /// wiped or compacted) and the sync read it from the start.
    pub fn was_rewound(&self) -> bool {
        self.rewound
    }

    /// Entries that failed to open or were set aside.
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
                    request: RelayRequest::Pull {
                        after: if self.from_cursor {
                            self.cursor - 1
                        } else {
                            self.cursor
                        },
                    },
                    create: false,
                },
            ),
            Phase::Rewind => (Phase::Rewinding, RelayStep::Rewind),
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
                    (self.pulled_all(entries)?, true)
                }
            }
            // A mailbox is made by its first push: none yet means nothing to pull, unless
            // this device had read from it (then it was wiped: rewind and push it all).
            (
                Phase::Pulling(_),
                RelayReply::Refused {
                    why: RelayRefusal::NoMailbox,
                    ..
                },
            ) => {
                if self.cursor > 0 {
                    (self.rewind_or_fail()?, true)
                } else {
                    (Phase::Pulled(Vec::new()), true)
                }
            }
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

    /// A whole pull arrived: checks it against the anchor.
    fn pulled_all(&mut self, mut entries: Entries) -> Result<Phase, RelaySyncError> {
        if self.from_cursor {
            if let Some(anchor) = self.anchor.take() {
                let holds_anchor = entries.first().is_some_and(|(seq, env)| {
                    *seq == anchor.seq && entry_digest(env) == anchor.digest
                });
                if !holds_anchor {
                    return self.rewind_or_fail();
                }
                // Applied here already.
                entries.remove(0);
            }
        }
        self.pulled = entries.len();
        Ok(Phase::Pulled(entries))
    }

    /// Rewinds once; a log that changes again under the same sync is the relay's fault.
    fn rewind_or_fail(&mut self) -> Result<Phase, RelaySyncError> {
        if self.rewound {
            return Err(self.fail("the relay's log changed twice during one sync".into()));
        }
        Ok(Phase::Rewind)
    }

    /// The cursor, anchor and what the relay was believed to hold are forgotten here.
    pub fn rewound(&mut self) -> Result<(), RelaySyncError> {
        self.expect(|p| matches!(p, Phase::Rewinding), "rewound")?;
        self.rewound = true;
        self.cursor = 0;
        self.anchor = None;
        self.from_cursor = false;
        self.phase = Phase::Start;
        Ok(())
    }

    /// The entries were applied; `rejected` of them failed to open or were set aside.
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
        Phase::Rewind | Phase::Rewinding => "rewinding",
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
        RelayReply::Retired => "Retired",
        RelayReply::Deleted => "Deleted",
        RelayReply::Closed => "Closed",
        RelayReply::WakeSet => "WakeSet",
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
        let mut s = RelaySession::new(7, None);
        assert_eq!(
            s.next_step().expect("pull"),
            RelayStep::Request {
                // From the cursor's own entry: this home has no anchor for it yet.
                request: RelayRequest::Pull { after: 6 },
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

    fn anchor_of(seq: u64, envelope: &[u8]) -> Option<Anchor> {
        Some(Anchor {
            seq,
            digest: entry_digest(envelope),
        })
    }

    fn pull_all(s: &mut RelaySession, after: u64, reply: Entries) {
        assert_eq!(
            s.next_step().expect("pull"),
            RelayStep::Request {
                request: RelayRequest::Pull { after },
                create: false
            }
        );
        assert!(s
            .receive(RelayReply::Entries {
                entries: reply,
                more: false
            })
            .expect("entries"));
    }

    #[test]
    fn a_log_that_still_holds_the_anchor_goes_on_from_the_cursor() {
        let mut s = RelaySession::new(7, anchor_of(7, &[7]));
        pull_all(&mut s, 6, entries(7, 3));
        assert_eq!(
            s.next_step().expect("apply"),
            RelayStep::Apply(entries(8, 2))
        );
        assert!(!s.was_rewound());
    }

    #[test]
    fn a_log_behind_the_cursor_or_different_at_it_rewinds_once_and_reads_from_the_start() {
        // Restored from an older backup: the relay's head is before the cursor.
        let mut s = RelaySession::new(7, anchor_of(7, &[7]));
        pull_all(&mut s, 6, Vec::new());
        assert_eq!(s.next_step().expect("rewind"), RelayStep::Rewind);
        s.rewound().expect("rewound");
        pull_all(&mut s, 0, entries(1, 4));
        assert_eq!(
            s.next_step().expect("apply"),
            RelayStep::Apply(entries(1, 4))
        );
        assert!(s.was_rewound());

        // Restored, then written again: the same sequence numbers hold other entries.
        let mut s = RelaySession::new(7, anchor_of(7, b"what this device read"));
        pull_all(&mut s, 6, entries(7, 2));
        assert_eq!(s.next_step().expect("rewind"), RelayStep::Rewind);
        s.rewound().expect("rewound");
        pull_all(&mut s, 0, entries(1, 8));
        assert_eq!(
            s.next_step().expect("apply"),
            RelayStep::Apply(entries(1, 8))
        );

        // After a rewind, a mailbox that is gone is made again by the push.
        let mut s = RelaySession::new(7, anchor_of(7, &[7]));
        pull_all(&mut s, 6, Vec::new());
        s.next_step().expect("rewind");
        s.rewound().expect("rewound");
        s.next_step().expect("pull");
        assert!(s
            .receive(RelayReply::Refused {
                why: RelayRefusal::NoMailbox,
                message: "gone".into()
            })
            .is_ok_and(|done| done));
        assert_eq!(s.next_step().expect("seal"), RelayStep::Seal);
    }

    #[test]
    fn a_wiped_mailbox_rewinds_and_everything_is_pushed_again() {
        let mut s = RelaySession::new(5, anchor_of(5, &[5]));
        s.next_step().expect("pull");
        assert!(s
            .receive(RelayReply::Refused {
                why: RelayRefusal::NoMailbox,
                message: "no such mailbox".into()
            })
            .expect("a wiped mailbox is not an error"));
        assert_eq!(s.next_step().expect("rewind"), RelayStep::Rewind);
        s.rewound().expect("rewound");
        s.next_step().expect("pull from the start");
        s.receive(RelayReply::Refused {
            why: RelayRefusal::NoMailbox,
            message: "no such mailbox".into(),
        })
        .expect("still none");
        assert_eq!(s.next_step().expect("seal"), RelayStep::Seal);
        s.sealed(Some(vec![1])).expect("everything");
        assert!(matches!(
            s.next_step().expect("push"),
            RelayStep::Request { create: true, .. }
        ));
    }

    #[test]
    fn no_mailbox_yet_means_nothing_to_pull_and_nothing_to_push_ends_it() {
        let mut s = RelaySession::new(0, None);
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
        let mut s = RelaySession::new(0, None);
        s.next_step().expect("pull");
        assert!(matches!(
            s.receive(RelayReply::Pushed { seq: 1 }),
            Err(RelaySyncError::Protocol(_))
        ));
        assert!(s.next_step().is_err(), "nothing more after a refusal");

        let mut s = RelaySession::new(0, None);
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
        let mut s = RelaySession::new(0, None);
        assert!(s.applied(0).is_err(), "applied before anything was pulled");
    }

    #[test]
    fn a_relay_that_floods_a_pull_is_cut_off() {
        let mut s = RelaySession::new(0, None);
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
            let mut s = RelaySession::new(0, None);
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
                    RelayStep::Rewind => s.rewound()?,
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
