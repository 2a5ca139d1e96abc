//! Relay batches set aside: a batch that opens (a member sealed it) but cannot be applied,
//! because it breaks the schema or a limit, is kept here and reported instead of stopping
//! the notebook's sync on every device. The cursor moves past it; later batches apply.
//!
//! The envelope itself is kept for the first [`MAX_KEPT_ENVELOPES`] of a notebook, so a
//! newer Duet (whose schema may accept it) or a person investigating can look at it again.

use super::*;
use crate::store::settings::{Quarantined, QuarantinedEnvelope};

/// Envelopes kept per notebook; past this only the record is kept (an envelope is up to
/// the relay's envelope limit, 4 MiB by default, and a runaway device could send many).
pub const MAX_KEPT_ENVELOPES: usize = 16;

/// A relay batch set aside, as `duet status` and the mobile status record report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedBatch {
    /// Its sequence number in the relay's log.
    pub seq: u64,
    /// The sender id in its envelope (hex).
    pub sender: String,
    /// Why it was set aside.
    pub reason: String,
    /// When (seconds since the Unix epoch).
    pub at: u64,
    /// Whether its sealed envelope is kept (the first [`MAX_KEPT_ENVELOPES`] are).
    pub envelope_kept: bool,
}

impl Duet {
    /// Sets a relay batch aside. The caller flushes.
    pub(super) fn quarantine(
        &mut self,
        notebook: &str,
        seq: u64,
        envelope: &[u8],
        reason: String,
    ) -> Result<(), DuetError> {
        tracing::warn!(notebook, seq, %reason, "relay batch set aside");
        let kept = self
            .store
            .scan(&Quarantined(notebook.to_owned(), String::new()))?
            .iter()
            .filter(|(_, b)| b.envelope_kept)
            .count();
        let key = format!("{seq:020}");
        let envelope_kept = kept < MAX_KEPT_ENVELOPES;
        if envelope_kept {
            self.store.put(
                &QuarantinedEnvelope(notebook.to_owned(), key.clone()),
                &envelope.to_vec(),
            )?;
        }
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let record = QuarantinedBatch {
            seq,
            sender: crate::sync::relay::sender_of(envelope)
                .map(|s| data_encoding::HEXLOWER.encode(&s))
                .unwrap_or_default(),
            reason,
            at,
            envelope_kept,
        };
        self.store
            .put(&Quarantined(notebook.to_owned(), key), &record)?;
        Ok(())
    }

    /// The relay batches of `notebook` set aside, oldest first.
    pub fn quarantined(&self, notebook: &str) -> Result<Vec<QuarantinedBatch>, DuetError> {
        Ok(self
            .store
            .scan(&Quarantined(notebook.to_owned(), String::new()))?
            .into_iter()
            .map(|(_, b)| b)
            .collect())
    }
}
