//! What a member's device may send in one sync, and how big a document it may grow here.
//!
//! Membership proves who someone is, not that their device behaves: a bug, or a stolen
//! device, can send bombs. Every limit is checked on what arrived before anything of it
//! merges into the notebook; a batch over one is refused (peer sync) or set aside (relay).
//! Each number leaves a wide margin over real use, measured on the five-year sample.

use automerge::{AutoCommit, ReadDoc};

/// A batch's bytes after inflating. The first sync of a five-year notebook carries every
/// document whole, about 1 MB deflated and a few MB inflated; 32 MiB is ten times that,
/// and no more memory than a phone can spare for a moment.
pub const MAX_BATCH_BYTES: u64 = 32 * 1024 * 1024;

/// Operations one document may hold once a batch is applied. The largest document of the
/// five-year sample (a meeting with 3.9 KB of notes) holds about 5,000; a million is a
/// meeting with a megabyte of typed text, far past any 1-1.
pub const MAX_DOC_OPS: u64 = 1_000_000;

/// Changes one document may hold once a batch is applied. The sample's largest holds 57;
/// 200,000 allows a change per keystroke for a very long meeting.
pub const MAX_DOC_CHANGES: u64 = 200_000;

/// Bytes one peer sync may receive for one notebook: a whole five-year notebook is about
/// 1 MB, and a sync of it takes a few rounds; 256 MiB is room for eight full batches.
pub const MAX_SYNC_BYTES: u64 = 256 * 1024 * 1024;

/// A limit a document or a batch broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// The document would hold more operations than [`MAX_DOC_OPS`].
    #[error("document {doc} would hold {ops} operations, over the limit of {MAX_DOC_OPS}")]
    TooManyOps {
        /// The document.
        doc: String,
        /// Its operations with the batch applied.
        ops: u64,
    },
    /// The document would hold more changes than [`MAX_DOC_CHANGES`].
    #[error("document {doc} would hold {changes} changes, over the limit of {MAX_DOC_CHANGES}")]
    TooManyChanges {
        /// The document.
        doc: String,
        /// Its changes with the batch applied.
        changes: u64,
    },
    /// The peer sent more than [`MAX_SYNC_BYTES`] in one sync.
    #[error("the peer sent over {MAX_SYNC_BYTES} bytes in one sync")]
    SyncTooLarge,
}

/// Checks a document (with what arrived applied to it) against the document limits.
pub fn check_doc(doc: &str, am: &AutoCommit) -> Result<(), LimitError> {
    let stats = am.stats();
    if stats.num_ops > MAX_DOC_OPS {
        return Err(LimitError::TooManyOps {
            doc: doc.to_owned(),
            ops: stats.num_ops,
        });
    }
    if stats.num_changes > MAX_DOC_CHANGES {
        return Err(LimitError::TooManyChanges {
            doc: doc.to_owned(),
            changes: stats.num_changes,
        });
    }
    Ok(())
}

/// Counts the bytes received in one sync against [`MAX_SYNC_BYTES`].
#[derive(Debug, Default)]
pub struct SyncBudget {
    received: u64,
}

impl SyncBudget {
    /// Takes `bytes` more from the budget, or says the sync is over it.
    pub fn take(&mut self, bytes: usize) -> Result<(), LimitError> {
        self.received = self.received.saturating_add(bytes as u64);
        if self.received > MAX_SYNC_BYTES {
            return Err(LimitError::SyncTooLarge);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    #[test]
    fn a_document_over_the_operation_limit_is_named() {
        let mut am = AutoCommit::new();
        assert_eq!(check_doc("m1", &am), Ok(()));
        let text = am
            .put_object(automerge::ROOT, "notes", automerge::ObjType::Text)
            .expect("text");
        am.splice_text(&text, 0, 0, &"x".repeat(MAX_DOC_OPS as usize))
            .expect("splice");
        assert!(matches!(
            check_doc("m1", &am),
            Err(LimitError::TooManyOps { ops, .. }) if ops > MAX_DOC_OPS
        ));
    }

    #[test]
    fn a_sync_budget_runs_out() {
        let mut budget = SyncBudget::default();
        assert!(budget.take(MAX_SYNC_BYTES as usize).is_ok());
        assert_eq!(budget.take(1), Err(LimitError::SyncTooLarge));
    }
}
