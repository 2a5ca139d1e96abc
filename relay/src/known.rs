//! Mailboxes this process has stored pushes for, with the verifier each was pushed under.
//!
//! A push whose token matches one goes to the writer without reading the mailbox first: on
//! PostgreSQL that read is a round trip to the database per push. The writer checks the
//! verifier, the quota and retirement again under the mailbox's lock, and sends a push
//! back when the mailbox it names is gone, so a stale entry costs a second look and never a
//! wrong answer.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Mailboxes remembered at most. Past it the map starts again empty: each entry is an id and
/// a verifier (about 150 bytes), so the bound is about 10 MB.
pub const MAX_KNOWN_MAILBOXES: usize = 65_536;

/// Mailboxes known to exist, by id, with their verifiers.
#[derive(Default)]
pub struct KnownMailboxes {
    verifiers: Mutex<HashMap<String, [u8; 32]>>,
}

impl KnownMailboxes {
    /// Whether a push under `verifier` was stored in `mailbox` by this process.
    pub fn knows(&self, mailbox: &str, verifier: &[u8; 32]) -> bool {
        self.verifiers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(mailbox)
            == Some(verifier)
    }

    /// Remembers that a push under `verifier` was stored in `mailbox`.
    pub fn learn(&self, mailbox: &str, verifier: [u8; 32]) {
        let mut verifiers = self
            .verifiers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if verifiers.get(mailbox) == Some(&verifier) {
            return;
        }
        if verifiers.len() >= MAX_KNOWN_MAILBOXES {
            verifiers.clear();
        }
        verifiers.insert(mailbox.to_owned(), verifier);
    }

    /// Forgets a mailbox (it was found gone).
    pub fn forget(&self, mailbox: &str) {
        self.verifiers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(mailbox);
    }

    /// How many mailboxes are remembered.
    pub fn len(&self) -> usize {
        self.verifiers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_is_known_only_under_the_verifier_it_was_pushed_with() {
        let known = KnownMailboxes::default();
        assert!(!known.knows("a", &[1; 32]));
        known.learn("a", [1; 32]);
        assert!(known.knows("a", &[1; 32]));
        assert!(!known.knows("a", &[2; 32]), "another token is not known");
        assert!(!known.knows("b", &[1; 32]));
        known.forget("a");
        assert!(!known.knows("a", &[1; 32]));
        assert!(known.is_empty());
    }

    #[test]
    fn the_map_never_holds_more_than_its_bound() {
        let known = KnownMailboxes::default();
        for i in 0..MAX_KNOWN_MAILBOXES + 10 {
            known.learn(&format!("{i:x}"), [0; 32]);
            assert!(known.len() <= MAX_KNOWN_MAILBOXES);
        }
        assert!(known.knows(&format!("{:x}", MAX_KNOWN_MAILBOXES + 9), &[0; 32]));
    }
}
