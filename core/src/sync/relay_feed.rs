//! A notebook's live feed from its relay (a subscription), as a state machine with no I/O:
//! the only place that knows what a subscription asks for, which replies it carries, and
//! which of them end it.
//!
//! A node runs a full [`RelaySession`](super::relay_session::RelaySession) first (it checks
//! the relay's log against the device's anchor), then subscribes after the cursor that
//! session left. From then on the relay sends each new entry once, in order. An entry at or
//! before one the feed already passed means the log under the feed was rewritten (the relay
//! restored from a backup behind the same connection, or compacted): the feed says
//! [`FeedStep::Resync`] and the driver ends it and runs a full session again, which rewinds
//! when it must. The feed never applies such an entry.

use super::relay_session::{Entries, RelaySyncError, MAX_PULL_ENTRIES};
use crate::wire::{RelayRefusal, RelayReply, RelayRequest};

/// What the driver does with one reply on the feed.
#[derive(Debug, PartialEq, Eq)]
pub enum FeedStep {
    /// Apply these entries (oldest first) to the notebook and move its cursor past them.
    Apply(Entries),
    /// Nothing to do: wait for the next reply.
    Wait,
    /// The log under the feed is not the one it read: end the feed and run a full sync.
    Resync,
    /// The mailbox does not exist (never pushed to, or deleted): end the feed; there is
    /// nothing to follow until someone pushes.
    NoMailbox,
}

/// A subscription to one mailbox, from a cursor on.
#[derive(Debug)]
pub struct RelayFeed {
    /// The last entry passed to the driver (the cursor at the start).
    after: u64,
    /// Entries handed out so far.
    applied: usize,
    /// Set once the feed gave a final step or failed; any later reply is an error.
    ended: bool,
}

impl RelayFeed {
    /// A feed of what arrives after entry `after`.
    pub fn new(after: u64) -> RelayFeed {
        RelayFeed {
            after,
            applied: 0,
            ended: false,
        }
    }

    /// The request that opens the feed (on a stream of its own, never creating the mailbox).
    pub fn request(&self) -> RelayRequest {
        RelayRequest::Subscribe { after: self.after }
    }

    /// The last entry handed out to apply.
    pub fn cursor(&self) -> u64 {
        self.after
    }

    /// Entries handed out to apply so far.
    pub fn applied(&self) -> usize {
        self.applied
    }

    /// Takes one reply from the relay.
    pub fn receive(&mut self, reply: RelayReply) -> Result<FeedStep, RelaySyncError> {
        if self.ended {
            return Err(RelaySyncError::Protocol(
                "the relay sent more on a feed that had ended".into(),
            ));
        }
        match reply {
            RelayReply::Entries { entries, .. } => self.entries(entries),
            RelayReply::Refused {
                why: RelayRefusal::NoMailbox,
                ..
            } => {
                self.ended = true;
                Ok(FeedStep::NoMailbox)
            }
            RelayReply::Refused { why, message } => {
                self.ended = true;
                Err(RelaySyncError::Refused { why, message })
            }
            other => {
                self.ended = true;
                Err(RelaySyncError::Protocol(format!(
                    "expected entries on a feed, got {other:?}"
                )))
            }
        }
    }

    fn entries(&mut self, entries: Entries) -> Result<FeedStep, RelaySyncError> {
        if entries.len() > MAX_PULL_ENTRIES {
            self.ended = true;
            return Err(RelaySyncError::Protocol(format!(
                "over {MAX_PULL_ENTRIES} entries at once on a feed"
            )));
        }
        let mut last = self.after;
        for (seq, _) in &entries {
            if *seq <= last {
                self.ended = true;
                return Ok(FeedStep::Resync);
            }
            last = *seq;
        }
        if entries.is_empty() {
            return Ok(FeedStep::Wait);
        }
        self.after = last;
        self.applied += entries.len();
        Ok(FeedStep::Apply(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(seqs: &[u64]) -> Entries {
        seqs.iter().map(|s| (*s, vec![*s as u8])).collect()
    }

    fn page(seqs: &[u64]) -> RelayReply {
        RelayReply::Entries {
            entries: entries(seqs),
            more: false,
        }
    }

    #[test]
    fn a_feed_subscribes_after_its_cursor_and_hands_out_entries_in_order() {
        let mut feed = RelayFeed::new(7);
        assert_eq!(feed.request(), RelayRequest::Subscribe { after: 7 });
        assert_eq!(
            feed.receive(page(&[8, 9])).expect("first"),
            FeedStep::Apply(entries(&[8, 9]))
        );
        assert_eq!(feed.receive(page(&[])).expect("empty"), FeedStep::Wait);
        // A compaction or a deleted entry may leave gaps: later entries still apply.
        assert_eq!(
            feed.receive(page(&[12])).expect("gap"),
            FeedStep::Apply(entries(&[12]))
        );
        assert_eq!((feed.cursor(), feed.applied()), (12, 3));
    }

    #[test]
    fn an_entry_at_or_before_one_already_passed_ends_the_feed_for_a_full_sync() {
        for bad in [&[5u64][..], &[7], &[8, 8], &[9, 8]] {
            let mut feed = RelayFeed::new(7);
            assert_eq!(
                feed.receive(page(bad)).expect("reply"),
                FeedStep::Resync,
                "{bad:?}"
            );
            assert_eq!(feed.cursor(), 7, "nothing applied from {bad:?}");
            assert!(feed.receive(page(&[10])).is_err(), "ended after {bad:?}");
        }
    }

    #[test]
    fn refusals_end_the_feed_typed() {
        let mut feed = RelayFeed::new(0);
        assert_eq!(
            feed.receive(RelayReply::Refused {
                why: RelayRefusal::NoMailbox,
                message: "no such mailbox".into(),
            })
            .expect("typed"),
            FeedStep::NoMailbox
        );
        let mut feed = RelayFeed::new(0);
        match feed.receive(RelayReply::Refused {
            why: RelayRefusal::RateLimited,
            message: "slow down".into(),
        }) {
            Err(RelaySyncError::Refused { why, .. }) => assert_eq!(why, RelayRefusal::RateLimited),
            other => panic!("expected a typed refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_feed_refuses_other_replies_and_floods() {
        let mut feed = RelayFeed::new(0);
        assert!(matches!(
            feed.receive(RelayReply::Pushed { seq: 1 }),
            Err(RelaySyncError::Protocol(_))
        ));
        let mut feed = RelayFeed::new(0);
        let flood: Vec<u64> = (1..=MAX_PULL_ENTRIES as u64 + 1).collect();
        assert!(matches!(
            feed.receive(page(&flood)),
            Err(RelaySyncError::Protocol(_))
        ));
        assert_eq!(feed.cursor(), 0);
    }
}
