//! The façade's side of relay sync: which relay a notebook uses, what to push (the changes
//! the relay has not seen), and applying what was pulled, with a cursor per notebook.
//!
//! "What the relay has seen" of a document is kept as heads: those this device pushed and
//! those of every envelope it pulled and applied. Pushing sends the changes beyond them,
//! so a device never re-uploads what others already put there.
use super::peer::acceptable_doc_id;
use super::*;
use crate::net::relay_client::{Entries, MailboxKey};
use crate::sync::peer::changes_since_raw;
use crate::sync::relay::{self as envelope, DocChanges};
use automerge::ChangeHash;
use std::collections::BTreeMap;

use crate::store::settings::{NotebookRelay, RelayCursor, RelaySeen};

/// The relay a notebook syncs through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelaySetting {
    /// Host and port.
    pub addr: String,
    /// The relay's certificate fingerprint (text).
    pub fingerprint: String,
    /// The team token, where the relay needs one to create mailboxes.
    pub team_token: Option<String>,
}

impl RelaySetting {
    /// The relay as an invite or link ticket carries it.
    pub fn relay_info(&self) -> Result<crate::invite::RelayInfo, DuetError> {
        Ok(crate::invite::RelayInfo {
            addr: self.addr.clone(),
            fingerprint: crate::crypto::parse_fingerprint(&self.fingerprint)
                .ok_or_else(|| DuetError::Internal("the relay fingerprint is damaged".into()))?,
        })
    }
}

/// What to push, and what to remember once the relay has it.
#[derive(Debug)]
pub struct Outgoing {
    /// The sealed envelope.
    pub envelope: Vec<u8>,
    /// Heads per document the relay will have seen.
    seen: Vec<(String, Vec<ChangeHash>)>,
    /// Changes in it.
    pub changes: usize,
}

impl Duet {
    /// Sets the relay of the selected notebook.
    pub fn relay_set(
        &mut self,
        addr: &str,
        fingerprint: &str,
        team_token: Option<String>,
    ) -> Result<RelaySetting, DuetError> {
        if crate::crypto::parse_fingerprint(fingerprint).is_none() {
            return Err(DuetError::Invalid(format!(
                "{fingerprint:?} is not a relay fingerprint (duet-relay fingerprint prints it)"
            )));
        }
        crate::net::relay_client::resolve(addr).map_err(|e| DuetError::Invalid(e.to_string()))?;
        let id = self.current_id()?;
        let setting = RelaySetting {
            addr: addr.to_owned(),
            fingerprint: fingerprint.trim().to_ascii_lowercase(),
            team_token,
        };
        self.relay_set_for(&id, setting.clone())?;
        if let Some(space) = self.personal_space()? {
            self.personal_relay_default(&space)?;
        }
        Ok(setting)
    }

    /// Sets the relay of a notebook or of the personal space. Another relay (address or
    /// identity) has seen nothing of this device: what it read and what it was sent are
    /// forgotten with the old one, so the next sync pulls its whole log and pushes
    /// everything.
    pub(super) fn relay_set_for(
        &mut self,
        id: &str,
        setting: RelaySetting,
    ) -> Result<(), DuetError> {
        let key = NotebookRelay(id.to_owned());
        let same_relay = self
            .relay_setting(id)?
            .is_some_and(|old| old.addr == setting.addr && old.fingerprint == setting.fingerprint);
        if same_relay {
            self.store.put(&key, &setting)?;
        } else {
            // The cursor first: a crash before the switch only re-reads the old relay.
            self.store.put(&RelayCursor(id.to_owned()), &0)?;
            self.store.put_forgetting(
                &key,
                &setting,
                &[RelaySeen(id.to_owned(), String::new())],
            )?;
        }
        self.store.flush()?;
        Ok(())
    }

    /// The relay of a notebook, if it has one.
    pub fn relay_setting(&self, notebook: &str) -> Result<Option<RelaySetting>, DuetError> {
        Ok(self.store.get(&NotebookRelay(notebook.to_owned()))?)
    }

    /// The selected notebook's id.
    pub fn selected_notebook(&self) -> Result<String, DuetError> {
        self.current_id()
    }

    /// Every notebook with a relay.
    pub fn relayed_notebooks(&self) -> Result<Vec<(String, RelaySetting)>, DuetError> {
        let mut out = Vec::new();
        for record in self.synced_records()? {
            if let Some(setting) = self.relay_setting(&record.id)? {
                out.push((record.id, setting));
            }
        }
        Ok(out)
    }

    /// What opens the notebook's mailbox.
    pub fn mailbox_key(&self, notebook: &str) -> Result<MailboxKey, DuetError> {
        let record = self.record(notebook)?;
        let secret = self.secret_of(&record)?;
        Ok(MailboxKey {
            mailbox: notebook.to_owned(),
            token: secret.relay_token(),
            team_token: self.relay_setting(notebook)?.and_then(|s| s.team_token),
        })
    }

    /// The last relay sequence number applied here.
    pub fn relay_cursor(&self, notebook: &str) -> Result<u64, DuetError> {
        Ok(self
            .store
            .get(&RelayCursor(notebook.to_owned()))?
            .unwrap_or(0))
    }

    /// The changes of `notebook` the relay has not seen, sealed; `None` when there are none.
    pub fn relay_outgoing(&mut self, notebook: &str) -> Result<Option<Outgoing>, DuetError> {
        let key = self.secret_of(&self.record(notebook)?)?.envelope_key();
        let (batch, seen, changes) = self.relay_unseen(notebook)?;
        if batch.is_empty() {
            return Ok(None);
        }
        let sender = envelope::sender_id(&self.device.public_hex());
        Ok(Some(Outgoing {
            envelope: envelope::seal(&key, notebook, sender, &batch),
            seen,
            changes,
        }))
    }

    /// How many changes of `notebook` its relay has not acknowledged yet (`duet status`).
    pub fn relay_unacknowledged(&mut self, notebook: &str) -> Result<usize, DuetError> {
        Ok(self.relay_unseen(notebook)?.2)
    }

    /// What of `notebook` the relay has not seen: the changes per document, the heads the
    /// relay will have seen once it has them, and how many changes in all.
    #[allow(clippy::type_complexity)]
    fn relay_unseen(
        &mut self,
        notebook: &str,
    ) -> Result<(Vec<DocChanges>, Vec<(String, Vec<ChangeHash>)>, usize), DuetError> {
        self.cache.borrow_mut().take();
        let mut nb = self.load_for_sync(notebook)?;
        let mut batch = Vec::new();
        let mut seen = Vec::new();
        let mut changes = 0;
        for doc in nb.all_doc_ids()? {
            let heads = nb.heads(&self.store, &doc)?;
            let known = self.relay_seen(notebook, &doc)?;
            if heads.is_empty() || covers(&known, &heads) {
                continue;
            }
            let am = &mut nb.doc(&doc)?.am;
            let (bytes, count) = match changes_since_raw(am, &known) {
                Some(c) => c,
                // The relay's heads are not all here (cannot happen unless the store was
                // replaced): send the whole document.
                None => changes_since_raw(am, &[]).unwrap_or_default(),
            };
            if bytes.is_empty() {
                continue;
            }
            changes += count;
            batch.push(DocChanges {
                doc: doc.clone(),
                changes: bytes,
                heads: heads.iter().map(|h| h.0).collect(),
            });
            seen.push((doc, heads));
        }
        Ok((batch, seen, changes))
    }

    /// Records that the relay has an envelope's changes.
    pub fn relay_pushed(&mut self, notebook: &str, out: &Outgoing) -> Result<(), DuetError> {
        for (doc, heads) in &out.seen {
            self.set_relay_seen(notebook, doc, heads)?;
        }
        self.store.flush()?;
        Ok(())
    }

    /// Applies pulled entries (oldest first) and moves the cursor past every entry fully
    /// applied. Entries that fail to open (tampered, moved from another mailbox) are
    /// skipped; entries whose dependencies have not arrived yet are kept for next time.
    pub fn relay_apply(
        &mut self,
        notebook: &str,
        mut entries: Entries,
    ) -> Result<(SyncReport, usize), DuetError> {
        self.cache.borrow_mut().take();
        entries.sort_by_key(|(seq, _)| *seq);
        let key = self.secret_of(&self.record(notebook)?)?.envelope_key();
        let mut nb = self.load_for_sync(notebook)?;
        let mut changed: BTreeMap<String, Vec<ChangeHash>> = BTreeMap::new();
        let mut seen: BTreeMap<String, Vec<ChangeHash>> = BTreeMap::new();
        let mut cursor = self.relay_cursor(notebook)?;
        let mut complete = true;
        let mut rejected = 0;
        for (seq, bytes) in entries {
            // Our own envelopes are opened too: after a restore from a backup, they may hold
            // changes this store no longer has.
            let batch = match envelope::open(&key, notebook, &bytes) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(seq, error = %e, "relay entry rejected");
                    rejected += 1;
                    if complete {
                        cursor = cursor.max(seq);
                    }
                    continue;
                }
            };
            let mut whole = true;
            for part in batch {
                if !acceptable_doc_id(&part.doc, nb.personal) {
                    rejected += 1;
                    continue;
                }
                let am = &mut nb.doc_or_empty(&part.doc)?.am;
                let before = am.get_heads();
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    am.load_incremental(&part.changes)
                }));
                if !matches!(result, Ok(Ok(_))) {
                    rejected += 1;
                    continue;
                }
                if am.get_heads() != before {
                    changed.entry(part.doc.clone()).or_insert(before);
                }
                let heads: Vec<ChangeHash> = part.heads.iter().map(|h| ChangeHash(*h)).collect();
                if heads.iter().all(|h| am.get_change_by_hash(h).is_some()) {
                    seen.entry(part.doc).or_default().extend(heads);
                } else {
                    whole = false;
                }
            }
            if whole && complete {
                cursor = cursor.max(seq);
            } else {
                complete = false;
            }
        }
        let report = if changed.is_empty() {
            SyncReport {
                notebook: notebook.to_owned(),
                title: self.record(notebook)?.title,
                ..SyncReport::default()
            }
        } else {
            self.arrivals(&mut nb, &changed)?
        };
        for (doc, heads) in seen {
            let mut all = self.relay_seen(notebook, &doc)?;
            all.extend(heads);
            let now = nb.heads(&self.store, &doc)?;
            // Once the relay has seen everything here, the current heads say it all.
            let merged = if covers(&all, &now) { now } else { dedup(all) };
            self.set_relay_seen(notebook, &doc, &merged)?;
        }
        self.store.put(&RelayCursor(notebook.to_owned()), &cursor)?;
        nb.persist(&mut self.store)?;
        Ok((report, rejected))
    }

    /// A snapshot of the whole notebook as one envelope, covering the relay's log up to
    /// this device's cursor (every entry up to it is applied here, so the snapshot holds
    /// all they held). Returns the cursor and the envelope.
    pub fn relay_snapshot(&mut self, notebook: &str) -> Result<(u64, Vec<u8>), DuetError> {
        self.cache.borrow_mut().take();
        let upto = self.relay_cursor(notebook)?;
        let key = self.secret_of(&self.record(notebook)?)?.envelope_key();
        let mut nb = self.load_for_sync(notebook)?;
        let mut batch = Vec::new();
        for doc in nb.all_doc_ids()? {
            let am = &mut nb.doc(&doc)?.am;
            let heads = am.get_heads();
            if heads.is_empty() {
                continue;
            }
            batch.push(DocChanges {
                doc,
                changes: am.save(),
                heads: heads.iter().map(|h| h.0).collect(),
            });
        }
        let sender = envelope::sender_id(&self.device.public_hex());
        Ok((upto, envelope::seal(&key, notebook, sender, &batch)))
    }

    fn relay_seen(&self, notebook: &str, doc: &str) -> Result<Vec<ChangeHash>, DuetError> {
        // What the relay has seen is a shortcut: a damaged record only means sending more.
        Ok(self
            .store
            .get(&RelaySeen(notebook.to_owned(), doc.to_owned()))
            .ok()
            .flatten()
            .map(|v| v.into_iter().map(ChangeHash).collect())
            .unwrap_or_default())
    }

    fn set_relay_seen(
        &self,
        notebook: &str,
        doc: &str,
        heads: &[ChangeHash],
    ) -> Result<(), DuetError> {
        let raw: Vec<[u8; 32]> = heads.iter().map(|h| h.0).collect();
        self.store
            .put(&RelaySeen(notebook.to_owned(), doc.to_owned()), &raw)?;
        Ok(())
    }
}

/// Whether `known` includes every one of `heads` (then nothing beyond them is new).
fn covers(known: &[ChangeHash], heads: &[ChangeHash]) -> bool {
    heads.iter().all(|h| known.contains(h))
}

fn dedup(mut v: Vec<ChangeHash>) -> Vec<ChangeHash> {
    v.sort();
    v.dedup();
    v
}
