//! The mailbox records a PostgreSQL writer last committed, so a batch of pushes to them can
//! skip reading and locking the rows first.
//!
//! A batch whose pushes all go to remembered mailboxes is checked and numbered against these
//! records, and its write updates a row only where the row still equals the remembered one
//! (verifier, head, floor and bytes, and not retired). A row another process changed since
//! is left alone, and that mailbox's pushes go through the locking path: a stale record
//! costs a second transaction, never a wrong sequence number.

use crate::mailbox_store::MailboxRecord;
use std::collections::HashMap;

/// Records remembered at most. Past it the map starts again empty: each is an id and a
/// record (about 150 bytes), so the bound is about 10 MB.
pub const MAX_COMMITTED_RECORDS: usize = 65_536;

/// Mailbox records as this process's writer last committed them, by id.
#[derive(Default)]
pub struct CommittedRecords {
    records: HashMap<String, MailboxRecord>,
}

impl CommittedRecords {
    /// The record of `mailbox` as last committed here, if remembered.
    pub fn get(&self, mailbox: &str) -> Option<&MailboxRecord> {
        self.records.get(mailbox)
    }

    /// Remembers `record` as committed for `mailbox`.
    pub fn remember(&mut self, mailbox: &str, record: MailboxRecord) {
        if let Some(known) = self.records.get_mut(mailbox) {
            *known = record;
            return;
        }
        if self.records.len() >= MAX_COMMITTED_RECORDS {
            self.records.clear();
        }
        self.records.insert(mailbox.to_owned(), record);
    }

    /// Forgets `mailbox` (retired, deleted, or changed by another process).
    pub fn forget(&mut self, mailbox: &str) {
        self.records.remove(mailbox);
    }

    /// How many records are remembered.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(head: u64) -> MailboxRecord {
        MailboxRecord {
            verifier: [1; 32],
            head,
            floor: 0,
            bytes: head * 10,
        }
    }

    #[test]
    fn a_record_is_replaced_forgotten_and_the_map_stays_bounded() {
        let mut committed = CommittedRecords::default();
        committed.remember("a", record(1));
        committed.remember("a", record(2));
        assert_eq!(committed.get("a"), Some(&record(2)));
        assert_eq!(committed.len(), 1);
        committed.forget("a");
        assert_eq!(committed.get("a"), None);
        assert!(committed.is_empty());
        for i in 0..MAX_COMMITTED_RECORDS {
            committed.remember(&i.to_string(), record(1));
        }
        assert_eq!(committed.len(), MAX_COMMITTED_RECORDS);
        // Replacing a remembered record never empties the map.
        committed.remember("0", record(3));
        assert_eq!(committed.len(), MAX_COMMITTED_RECORDS);
        committed.remember("new", record(1));
        assert_eq!(committed.len(), 1);
        assert_eq!(committed.get("new"), Some(&record(1)));
    }
}
