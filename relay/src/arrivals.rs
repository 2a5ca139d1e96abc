//! Who waits on which mailbox: the relay's subscribers are woken by the mailbox that grew,
//! not by every arrival.
//!
//! One watched head per mailbox with at least one subscriber, in a map; an arrival for a
//! mailbox nobody watches costs one lookup. (A channel every subscriber listens on would
//! wake each of them for each arrival: with 500 subscribers and 2,500 pushes a second that
//! is over a million wake-ups a second on a small machine.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::watch;

/// Subscribers by mailbox.
#[derive(Default)]
pub struct Arrivals {
    watched: Mutex<HashMap<String, watch::Sender<u64>>>,
}

impl Arrivals {
    /// Tells the mailbox's subscribers (if any) that its durable head is now `head`.
    pub fn announce(&self, mailbox: &str, head: u64) {
        let watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = watched.get(mailbox) {
            sender.send_replace(head);
        }
    }

    /// Starts watching a mailbox: every announcement made from now on wakes the watch.
    /// Take it before reading what the mailbox holds, so nothing falls between the two.
    pub fn watch(self: &Arc<Self>, mailbox: &str) -> ArrivalWatch {
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        let receiver = watched
            .entry(mailbox.to_owned())
            .or_insert_with(|| watch::channel(0).0)
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
    receiver: watch::Receiver<u64>,
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
            if *self.receiver.borrow_and_update() > after {
                return;
            }
        }
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
