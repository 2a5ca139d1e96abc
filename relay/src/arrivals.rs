//! Who waits on which mailbox: the relay's subscribers are woken by the mailbox that grew,
//! not by every arrival.
//!
//! One watched head per mailbox with at least one subscriber, in a map; an arrival for a
//! mailbox nobody watches costs one lookup. (A channel every subscriber listens on would
//! wake each of them for each arrival: with 500 subscribers and 2,500 pushes a second that
//! is over a million wake-ups a second on a small machine.)
//!
//! An arrival may carry its entry (a small one, in the database's notification): the last
//! few such entries are kept beside the head, so a subscriber that has everything before
//! them sends them on without reading the store.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::watch;

/// The most recent entries kept per watched mailbox, so a subscriber woken by an arrival
/// that carried its entry sends it without reading the store.
pub const RECENT_ENTRIES: usize = 4;
/// The bytes of recent entries kept per watched mailbox (a mailbox nobody watches keeps
/// none, so idle devices cost nothing here).
pub const RECENT_BYTES: usize = 8 * 1024;

/// Something a mailbox's subscribers learn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// The durable head is now this (or the mailbox was compacted): what arrived is read
    /// from the store.
    Head {
        /// The mailbox.
        mailbox: String,
        /// Its durable head.
        head: u64,
    },
    /// This entry is now durable at `seq`, and here it is.
    Entry {
        /// The mailbox.
        mailbox: String,
        /// The entry's sequence number.
        seq: u64,
        /// The entry.
        envelope: Arc<[u8]>,
    },
}

/// What the subscribers of one mailbox are told.
#[derive(Default)]
struct Grown {
    head: u64,
    /// The latest entries, in order, without gaps and ending at `head`; empty when the last
    /// arrival did not carry its entry.
    recent: VecDeque<(u64, Arc<[u8]>)>,
    bytes: usize,
}

impl Grown {
    fn forget_recent(&mut self) {
        self.recent.clear();
        self.bytes = 0;
    }
}

/// Subscribers by mailbox.
#[derive(Default)]
pub struct Arrivals {
    watched: Mutex<HashMap<String, watch::Sender<Grown>>>,
}

impl Arrivals {
    /// Tells the mailbox's subscribers (if any) that its durable head is now `head`.
    pub fn announce(&self, mailbox: &str, head: u64) {
        self.arrived(Arrival::Head {
            mailbox: mailbox.to_owned(),
            head,
        });
    }

    /// Tells the mailbox's subscribers (if any) what arrived. An entry already announced
    /// (by this process's writer and again by the database) changes nothing.
    pub fn arrived(&self, arrival: Arrival) {
        let mailbox = match &arrival {
            Arrival::Head { mailbox, .. } | Arrival::Entry { mailbox, .. } => mailbox,
        };
        let watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(sender) = watched.get(mailbox) else {
            return;
        };
        match arrival {
            Arrival::Head { head, .. } => sender.send_modify(|grown| {
                // Unknown entries up to `head`, or a compaction that replaced some.
                grown.forget_recent();
                grown.head = grown.head.max(head);
            }),
            Arrival::Entry { seq, envelope, .. } => {
                sender.send_if_modified(|grown| {
                    if seq <= grown.head {
                        return false;
                    }
                    if seq != grown.head + 1 {
                        // Something between was not carried: only the store has it.
                        grown.forget_recent();
                    }
                    grown.bytes += envelope.len();
                    grown.recent.push_back((seq, envelope));
                    grown.head = seq;
                    while grown.recent.len() > RECENT_ENTRIES || grown.bytes > RECENT_BYTES {
                        match grown.recent.pop_front() {
                            Some((_, gone)) => grown.bytes -= gone.len(),
                            None => break,
                        }
                    }
                    true
                });
            }
        }
    }

    /// Starts watching a mailbox: every announcement made from now on wakes the watch.
    /// Take it before reading what the mailbox holds, so nothing falls between the two.
    pub fn watch(self: &Arc<Self>, mailbox: &str) -> ArrivalWatch {
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        let receiver = watched
            .entry(mailbox.to_owned())
            .or_insert_with(|| watch::channel(Grown::default()).0)
            .subscribe();
        ArrivalWatch {
            arrivals: self.clone(),
            mailbox: mailbox.to_owned(),
            receiver,
        }
    }

    /// Mailboxes with at least one subscriber (for tests and metrics).
    pub fn watched(&self) -> usize {
        self.watched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// One subscriber's view of its mailbox's announcements.
pub struct ArrivalWatch {
    arrivals: Arc<Arrivals>,
    mailbox: String,
    receiver: watch::Receiver<Grown>,
}

impl ArrivalWatch {
    /// Waits until an announcement says the mailbox's head is past `after`. Announcements
    /// made since the watch was taken, or since the last call, count.
    pub async fn past(&mut self, after: u64) {
        loop {
            if self.receiver.changed().await.is_err() {
                // The sender lives in the map while this watch does: not reached.
                return;
            }
            if self.receiver.borrow_and_update().head > after {
                return;
            }
        }
    }

    /// Every entry after `after` up to the announced head, when the announcements carried
    /// them all; `None` when the store must be read (or nothing is past `after`).
    pub fn following(&self, after: u64) -> Option<Vec<(u64, Vec<u8>)>> {
        let grown = self.receiver.borrow();
        let first = grown.recent.front()?.0;
        if grown.head <= after || first > after + 1 {
            return None;
        }
        Some(
            grown
                .recent
                .iter()
                .filter(|(seq, _)| *seq > after)
                .map(|(seq, envelope)| (*seq, envelope.to_vec()))
                .collect(),
        )
    }
}

impl Drop for ArrivalWatch {
    fn drop(&mut self) {
        let mut watched = self
            .arrivals
            .watched
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Under the lock nobody subscribes meanwhile; this watch's receiver is still counted.
        if watched
            .get(&self.mailbox)
            .is_some_and(|s| s.receiver_count() <= 1)
        {
            watched.remove(&self.mailbox);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn woken(watch: &mut ArrivalWatch, after: u64) -> bool {
        tokio::time::timeout(Duration::from_millis(50), watch.past(after))
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn only_the_mailbox_that_grew_wakes_its_subscribers() {
        let arrivals = Arc::new(Arrivals::default());
        let mut a = arrivals.watch("a");
        let mut b = arrivals.watch("b");
        arrivals.announce("a", 3);
        assert!(woken(&mut a, 2).await);
        assert!(!woken(&mut b, 0).await);
        // An arrival not past what the subscriber has read does not wake it.
        arrivals.announce("a", 3);
        assert!(!woken(&mut a, 3).await);
    }

    fn entry(mailbox: &str, seq: u64, byte: u8) -> Arrival {
        Arrival::Entry {
            mailbox: mailbox.into(),
            seq,
            envelope: vec![byte; 10].into(),
        }
    }

    #[tokio::test]
    async fn carried_entries_are_handed_over_only_when_nothing_is_missing() {
        let arrivals = Arc::new(Arrivals::default());
        let mut a = arrivals.watch("a");
        arrivals.arrived(entry("a", 1, 1));
        arrivals.arrived(entry("a", 2, 2));
        // The same entry again (the writer, then the database) changes nothing.
        arrivals.arrived(entry("a", 2, 9));
        assert!(woken(&mut a, 0).await);
        let got = a.following(0).expect("carried");
        assert_eq!(got, vec![(1, vec![1; 10]), (2, vec![2; 10])]);
        assert_eq!(a.following(1).expect("carried"), vec![(2, vec![2; 10])]);
        // A head announced without its entries: the store must be read.
        arrivals.announce("a", 3);
        assert!(woken(&mut a, 2).await);
        assert_eq!(a.following(2), None);
        // An entry after a gap starts over: what came before it is not carried.
        arrivals.arrived(entry("a", 5, 5));
        assert!(woken(&mut a, 3).await);
        assert_eq!(a.following(3), None);
        assert_eq!(a.following(4).expect("carried"), vec![(5, vec![5; 10])]);
    }

    #[tokio::test]
    async fn recent_entries_are_bounded() {
        let arrivals = Arc::new(Arrivals::default());
        let a = arrivals.watch("a");
        for seq in 1..=10 {
            arrivals.arrived(entry("a", seq, 0));
        }
        assert_eq!(a.following(5), None, "entries 6 and 7 were let go");
        assert_eq!(a.following(6).map(|e| e.len()), Some(RECENT_ENTRIES));
        arrivals.arrived(Arrival::Entry {
            mailbox: "a".into(),
            seq: 11,
            envelope: vec![0; RECENT_BYTES + 1].into(),
        });
        assert_eq!(
            a.following(10),
            None,
            "an entry over the byte bound is not kept"
        );
    }

    #[tokio::test]
    async fn an_announcement_before_the_wait_is_not_missed() {
        let arrivals = Arc::new(Arrivals::default());
        let mut a = arrivals.watch("a");
        arrivals.announce("a", 1);
        assert!(woken(&mut a, 0).await);
    }

    #[tokio::test]
    async fn a_mailbox_is_forgotten_when_its_last_subscriber_goes() {
        let arrivals = Arc::new(Arrivals::default());
        let first = arrivals.watch("a");
        let second = arrivals.watch("a");
        assert_eq!(arrivals.watched(), 1);
        drop(first);
        assert_eq!(arrivals.watched(), 1);
        drop(second);
        assert_eq!(arrivals.watched(), 0);
        // Announcing to nobody is fine.
        arrivals.announce("a", 9);
        assert_eq!(arrivals.watched(), 0);
    }
}
