//! What a relay sync found wrong with the relay's log. Batches set aside: a batch that opens (a member sealed it) but cannot be applied,
//! because it breaks the schema or a limit, is kept here and reported instead of stopping
//! the notebook's sync on every device. The cursor moves past it; later batches apply.
//!
//! The envelope itself is kept for the first [`MAX_KEPT_ENVELOPES`] of a notebook, so a
//! newer Duet (whose schema may accept it) or a person investigating can look at it again.
//!
//! Batches withheld: each sealed batch carries its sender's chain link (counter and the
//! digest of the sender's previous batch, inside the ciphertext). Reading the log in
//! order, a counter that skips, or a link that does not follow the batch read before it,
//! means the relay did not deliver a batch of that sender: reported, never silently
//! skipped.

use super::*;
use crate::duet::settings::{Quarantined, QuarantinedEnvelope, SenderSeen, Withheld};
use crate::sync::relay::Chain;
use std::ops::Deref;

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
    /// Whether its sealed envelope is kept (a notebook keeps its first 16).
    pub envelope_kept: bool,
}

/// Batches of one sender the relay did not deliver, as `duet status` reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithheldBatches {
    /// The sender id (hex).
    pub sender: String,
    /// The first missing batch's counter.
    pub from: u64,
    /// The last missing batch's counter.
    pub to: u64,
    /// When it was noticed (seconds since the Unix epoch).
    pub at: u64,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl Duet {
    /// Follows a sender's chain with the batch just read (`digest` of its envelope), and
    /// records a gap. The caller flushes.
    pub(super) fn follow_chain(
        &mut self,
        notebook: &str,
        sender: [u8; 8],
        link: Chain,
        digest: [u8; 16],
    ) -> Result<(), DuetError> {
        // Counter 0: a compaction snapshot, outside every chain.
        if link.counter == 0 {
            return Ok(());
        }
        let sender = data_encoding::HEXLOWER.encode(&sender);
        let key = SenderSeen(notebook.to_owned(), sender.clone());
        let last = self.store.get(&key)?;
        if let Some(last) = last {
            if link.counter < last.counter {
                return Ok(());
            }
            let skipped = link.counter > last.counter + 1;
            let unlinked = link.counter == last.counter + 1 && link.previous != last.previous;
            if skipped || unlinked {
                let gap = WithheldBatches {
                    sender: sender.clone(),
                    from: if skipped {
                        last.counter + 1
                    } else {
                        last.counter
                    },
                    to: link.counter - 1,
                    at: now_secs(),
                };
                tracing::warn!(
                    notebook,
                    sender,
                    from = gap.from,
                    to = gap.to,
                    "the relay did not deliver batches of a device"
                );
                self.store
                    .put(&Withheld(notebook.to_owned(), sender.clone()), &gap)?;
            }
        }
        self.store.put(
            &key,
            &Chain {
                counter: link.counter,
                previous: digest,
            },
        )?;
        Ok(())
    }

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
        let at = now_secs();
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
}

impl<D: Deref<Target = Duet>> Relay<D> {
    /// Batches of `notebook` the relay did not deliver, by sender.
    pub fn withheld(&self, notebook: &str) -> Result<Vec<WithheldBatches>, DuetError> {
        Ok(self
            .duet
            .store
            .scan(&Withheld(notebook.to_owned(), String::new()))?
            .into_iter()
            .map(|(_, w)| w)
            .collect())
    }

    /// The relay batches of `notebook` set aside, oldest first.
    pub fn quarantined(&self, notebook: &str) -> Result<Vec<QuarantinedBatch>, DuetError> {
        Ok(self
            .duet
            .store
            .scan(&Quarantined(notebook.to_owned(), String::new()))?
            .into_iter()
            .map(|(_, b)| b)
            .collect())
    }
}
