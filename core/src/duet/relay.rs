//! The façade's side of relay sync: which relay a notebook uses, what to push (the changes
//! the relay has not seen), and applying what was pulled, with a cursor per notebook.
//!
//! "What the relay has seen" of a document is kept as heads: those this device pushed and
//! those of every envelope it pulled and applied. Pushing sends the changes beyond them,
//! so a device never re-uploads what others already put there.
use super::peer::acceptable_doc_id;
use super::*;
use crate::sync::peer::changes_since_raw;
use crate::sync::relay::{self as envelope, DocChanges};
use automerge::ChangeHash;
use duet_protocol::net::relay_client::{Entries, MailboxKey};
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use crate::duet::settings::{
    NotebookRelay, PeerSyncState, RelayAnchor, RelayCursor, RelayEpoch, RelayRewound, RelaySeen,
    SealChain, SenderSeen, SenderSigns,
};
use crate::sync::relay::Chain;
use crate::sync::relay_session::{entry_digest, Anchor};

/// The fingerprint a relay setting pins (zeros when none or damaged: mailboxes are bound
/// to it).
fn relay_fingerprint(setting: Option<&RelaySetting>) -> [u8; 32] {
    setting
        .and_then(|s| crate::crypto::parse_fingerprint(&s.fingerprint))
        .unwrap_or_default()
}

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

/// The member devices of a notebook by their sender id under one envelope key, as one
/// batch of relay entries reads them, and the senders this batch has recorded as signing.
#[derive(Default)]
struct Signers {
    by_sender: BTreeMap<[u8; 8], String>,
    marked: std::collections::BTreeSet<[u8; 8]>,
}

/// What a notebook's sealed team token is bound to.
fn team_token_context(notebook: &str) -> String {
    format!("team token for relay/{notebook}")
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
    /// Its link in this device's chain, and the envelope's digest (the next link's
    /// `previous` once the relay acknowledges it).
    chain: Chain,
    digest: [u8; 16],
}

impl Duet {
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
            .relay()
            .setting(id)?
            .is_some_and(|old| old.addr == setting.addr && old.fingerprint == setting.fingerprint);
        let setting = self.sealed_team_token(id, setting);
        if same_relay {
            self.store.put(&key, &setting)?;
        } else {
            // The cursor first: a crash before the switch only re-reads the old relay. Another
            // relay's log gives every sender a new baseline.
            self.store.put_forgetting(
                &RelayCursor(id.to_owned()),
                &0,
                &[SenderSeen(id.to_owned(), String::new())],
            )?;
            self.store.put_forgetting(
                &key,
                &setting,
                &[RelaySeen(id.to_owned(), String::new())],
            )?;
        }
        self.store.flush()?;
        Ok(())
    }

    /// The setting as it is stored: its team token sealed with the home key (a token lets
    /// whoever holds it make mailboxes on the team's relay).
    fn sealed_team_token(&self, notebook: &str, mut setting: RelaySetting) -> RelaySetting {
        setting.team_token = setting.team_token.map(|token| {
            self.home_key
                .seal_text(&team_token_context(notebook), token.as_bytes())
        });
        setting
    }

    /// The selected notebook's id.
    pub fn selected_notebook(&self) -> Result<String, DuetError> {
        self.current_id()
    }

    /// The epoch whose mailbox the relay cursor refers to (empty: the initial one).
    fn relay_epoch(&self, notebook: &str) -> Result<String, DuetError> {
        Ok(self
            .store
            .get(&RelayEpoch(notebook.to_owned()))?
            .unwrap_or_default())
    }

    /// Whether the keys moved to another epoch than the one the relay cursor refers to
    /// (a sync that brought a new epoch runs again, on the new mailbox).
    pub(crate) fn relay_epoch_moved(&self, notebook: &str) -> Result<bool, DuetError> {
        Ok(self.relay_epoch(notebook)? != self.sync_keys(notebook)?.epoch_id())
    }

    /// The entry at the notebook's relay cursor, as this device read it.
    pub(crate) fn relay_anchor(&self, notebook: &str) -> Result<Option<Anchor>, DuetError> {
        Ok(self.store.get(&RelayAnchor(notebook.to_owned()))?)
    }

    /// The relay's log is not the one this device read (restored from an older backup,
    /// wiped, or compacted past the cursor): forgets the cursor and what the relay was
    /// believed to hold, so the sync reads the log from the start and pushes again what the
    /// relay lacks. The time is kept for `status`.
    pub(crate) fn relay_rewind(&mut self, notebook: &str) -> Result<(), DuetError> {
        tracing::info!(
            notebook,
            "the relay's log is not the one read here; reading it again from the start"
        );
        let now = jiff::Timestamp::now().as_millisecond();
        // A log read again from the start gives every sender a new baseline.
        self.store.put_forgetting(
            &RelayRewound(notebook.to_owned()),
            &now,
            &[SenderSeen(notebook.to_owned(), String::new())],
        )?;
        self.store.put_forgetting(
            &RelayCursor(notebook.to_owned()),
            &0,
            &[RelaySeen(notebook.to_owned(), String::new())],
        )?;
        self.store.flush()?;
        Ok(())
    }

    /// This device compacted the relay's log up to `upto` with `snapshot`: when that is
    /// its cursor, the snapshot is now the entry there.
    pub(crate) fn relay_compacted(
        &mut self,
        notebook: &str,
        upto: u64,
        snapshot: &[u8],
    ) -> Result<(), DuetError> {
        if self.relay().cursor(notebook)? == upto {
            self.store.put(
                &RelayAnchor(notebook.to_owned()),
                &Anchor {
                    seq: upto,
                    digest: entry_digest(snapshot),
                },
            )?;
            self.store.flush()?;
        }
        Ok(())
    }

    /// The changes of `notebook` the relay has not seen, sealed; `None` when there are none.
    pub(crate) fn relay_outgoing(&mut self, notebook: &str) -> Result<Option<Outgoing>, DuetError> {
        self.register_before_sync(notebook)?;
        if let Some(removed) = self.removed_peer(notebook, "")? {
            return Err(removed);
        }
        if self.relay_end_step(notebook)? == Some(super::EndStep::Delete) {
            // The other device ended the 1-1 and retires the mailbox: nothing more goes
            // there from here.
            return Ok(None);
        }
        let keys = self.sync_keys(notebook)?;
        if self.relay_epoch(notebook)? != keys.epoch_id() {
            // The keys moved on during this session: its mailbox is the old one, and this
            // device's changes go to the new one, on the next session.
            return Ok(None);
        }
        self.seal_unseen(notebook, &keys)
    }

    /// The changes of `notebook` the relay has not seen, sealed with `keys`.
    pub(super) fn seal_unseen(
        &mut self,
        notebook: &str,
        keys: &super::SyncKeys,
    ) -> Result<Option<Outgoing>, DuetError> {
        let key = keys.envelope_key();
        let (batch, seen, changes) = self.relay_unseen(notebook)?;
        if batch.is_empty() {
            return Ok(None);
        }
        let sender = envelope::sender_id(&key, &self.device.public_hex());
        // The link after the last acknowledged batch: a push that was not acknowledged is
        // sealed again under the same counter, so a lost push leaves no gap.
        let last = self
            .store
            .get(&SealChain(notebook.to_owned()))?
            .unwrap_or_default();
        let chain = Chain {
            counter: last.counter + 1,
            previous: last.previous,
        };
        let sealed = envelope::seal(&key, notebook, sender, chain, &batch, &self.device);
        Ok(Some(Outgoing {
            digest: entry_digest(&sealed),
            envelope: sealed,
            seen,
            changes,
            chain,
        }))
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
    pub(crate) fn relay_pushed(&mut self, notebook: &str, out: &Outgoing) -> Result<(), DuetError> {
        for (doc, heads) in &out.seen {
            self.set_relay_seen(notebook, doc, heads)?;
        }
        self.store.put(
            &SealChain(notebook.to_owned()),
            &Chain {
                counter: out.chain.counter,
                previous: out.digest,
            },
        )?;
        self.store.flush()?;
        Ok(())
    }

    /// Whether an envelope's chain link is its sender's own: signed by the member device
    /// whose sender id it bears, or unsigned from a sender never seen signing (a device of
    /// an older Duet). Another member holds the envelope key too; only the sending device
    /// holds its signing key. In the personal space (one person's own devices, no device
    /// list) every link is followed.
    fn link_is_its_senders(
        &self,
        notebook: &str,
        personal: bool,
        key: &[u8; 32],
        nb: &mut Notebook,
        signers: &mut Signers,
        opened: &envelope::Opened,
    ) -> Result<bool, DuetError> {
        if personal {
            return Ok(true);
        }
        let sender = data_encoding::HEXLOWER.encode(&opened.sender);
        let signs = SenderSigns(notebook.to_owned(), sender);
        if opened.signature.is_none() {
            return Ok(!self.store.get(&signs)?.unwrap_or(false));
        }
        if !signers.by_sender.contains_key(&opened.sender) {
            // Read once per batch, and again for a sender not found: a notebook being
            // joined gets its index in the same batch.
            signers.by_sender = if self.store.load_doc(notebook, INDEX_DOC)?.is_none() {
                BTreeMap::new()
            } else {
                index::devices(&nb.index()?.am)?
                    .into_iter()
                    .map(|(device, _)| (envelope::sender_id(key, &device), device))
                    .collect()
            };
        }
        let signed = signers
            .by_sender
            .get(&opened.sender)
            .is_some_and(|device| opened.signed_by(device));
        if signed && signers.marked.insert(opened.sender) {
            self.store.put(&signs, &true)?;
        }
        Ok(signed)
    }

    /// Applies pulled entries (oldest first) and moves the cursor past every entry fully
    /// applied. Entries that fail to open (tampered, moved from another mailbox) are
    /// skipped; entries that open but cannot be applied (schema, limits) are set aside
    /// ([`Relay::quarantined`]); entries whose dependencies have not arrived yet are kept
    /// for next time. Returns the report and how many entries were skipped or set aside.
    pub(crate) fn relay_apply(
        &mut self,
        notebook: &str,
        mut entries: Entries,
    ) -> Result<(SyncReport, usize), DuetError> {
        entries.sort_by_key(|(seq, _)| *seq);
        let keys = self.sync_keys(notebook)?;
        let key = keys.envelope_key();
        self.cache.borrow_mut().take();
        let mut nb = self.load_for_sync(notebook)?;
        let personal = nb.personal;
        let members_doc = nb.members_doc_id();
        let epoch_before = if self.store.load_doc(notebook, members_doc)?.is_none() {
            None
        } else {
            Some(self.membership_of(&mut nb)?.in_force)
        };
        let mut changed: BTreeMap<String, Vec<ChangeHash>> = BTreeMap::new();
        let mut seen: BTreeMap<String, Vec<ChangeHash>> = BTreeMap::new();
        let mut cursor = self.relay().cursor(notebook)?;
        let mut anchor = None;
        let mut complete = true;
        let mut rejected = 0;
        let mut signers = Signers::default();
        // The cursor moves past an entry (and the anchor becomes it) only while every
        // entry before it was fully applied.
        let mut pass = |cursor: &mut u64, seq: u64, bytes: &[u8]| {
            if seq > *cursor {
                *cursor = seq;
                anchor = Some(Anchor {
                    seq,
                    digest: entry_digest(bytes),
                });
            }
        };
        for (seq, bytes) in entries {
            // Our own envelopes are opened too: after a restore from a backup, they may hold
            // changes this store no longer has.
            let batch = match envelope::open(&key, notebook, &bytes) {
                Ok(opened) => {
                    // Counter 0 (a notice, a snapshot) stands outside every chain.
                    if let Some(link) = opened.chain.filter(|l| l.counter > 0) {
                        if self.link_is_its_senders(
                            notebook,
                            personal,
                            &key,
                            &mut nb,
                            &mut signers,
                            &opened,
                        )? {
                            self.follow_chain(notebook, opened.sender, link, entry_digest(&bytes))?;
                            let sender = data_encoding::HEXLOWER.encode(&opened.sender);
                            self.heard_from_sender(notebook, &sender)?;
                        } else {
                            tracing::warn!(
                                notebook,
                                seq,
                                "a chain link that its sender did not sign; not followed"
                            );
                        }
                    }
                    opened.docs
                }
                Err(e) => {
                    tracing::warn!(seq, error = %e, "relay entry rejected");
                    rejected += 1;
                    if complete {
                        pass(&mut cursor, seq, &bytes);
                    }
                    continue;
                }
            };
            if let Some(notice) = super::epochs::notice_in(&batch) {
                if let Some(before) = &epoch_before {
                    super::epochs::apply_notice(&mut nb, &notice)?;
                    if complete {
                        pass(&mut cursor, seq, &bytes);
                    }
                    if self.membership_of(&mut nb)?.in_force != *before {
                        break;
                    }
                }
                continue;
            }
            let applied = match apply_batch(&mut nb, &batch)? {
                Ok(applied) => applied,
                Err(reason) => {
                    self.quarantine(notebook, seq, &bytes, reason)?;
                    rejected += 1;
                    if complete {
                        pass(&mut cursor, seq, &bytes);
                    }
                    continue;
                }
            };
            let mut whole = true;
            for part in applied {
                if part.heads_after != part.before {
                    changed.entry(part.doc.clone()).or_insert(part.before);
                }
                if part.complete {
                    seen.entry(part.doc).or_default().extend(part.claimed);
                } else {
                    whole = false;
                }
            }
            if whole && complete {
                pass(&mut cursor, seq, &bytes);
            } else {
                complete = false;
            }
            // A batch that moved the notebook to a new epoch ends this mailbox for this
            // device: what follows it here was not written by a member of the new epoch.
            if let Some(before) = &epoch_before {
                if batch.iter().any(|d| d.doc == members_doc)
                    && self.membership_of(&mut nb)?.in_force != *before
                {
                    break;
                }
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
        if let Some(anchor) = anchor {
            self.store.put(&RelayAnchor(notebook.to_owned()), &anchor)?;
        }
        self.store.put(&RelayCursor(notebook.to_owned()), &cursor)?;
        nb.persist(&mut self.store)?;
        Ok((report, rejected))
    }

    /// A snapshot of the whole notebook as one envelope, covering the relay's log up to
    /// this device's cursor (every entry up to it is applied here, so the snapshot holds
    /// all they held). Returns the cursor and the envelope.
    pub(crate) fn relay_snapshot(&mut self, notebook: &str) -> Result<(u64, Vec<u8>), DuetError> {
        self.cache.borrow_mut().take();
        let upto = self.relay().cursor(notebook)?;
        let key = self.sync_keys(notebook)?.envelope_key();
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
        let sender = envelope::sender_id(&key, &self.device.public_hex());
        // Outside this device's chain (counter 0): a snapshot stands for many senders'
        // batches, and readers past it never see it.
        let chain = Chain::default();
        Ok((
            upto,
            envelope::seal(&key, notebook, sender, chain, &batch, &self.device),
        ))
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

impl<D: Deref<Target = Duet>> Relay<D> {
    /// The relay a ticket to `notebook` names, if the notebook has one.
    pub fn ticket_relay(
        &self,
        notebook: &str,
    ) -> Result<Option<crate::invite::RelayInfo>, DuetError> {
        self.setting(notebook)?.map(|r| r.relay_info()).transpose()
    }

    /// The relay of a notebook, if it has one (its team token opened with the home key).
    /// A team token stored before tokens were sealed is sealed now.
    pub fn setting(&self, notebook: &str) -> Result<Option<RelaySetting>, DuetError> {
        let key = NotebookRelay(notebook.to_owned());
        let Some(mut setting) = self.duet.store.get(&key)? else {
            return Ok(None);
        };
        if let Some(stored) = setting.team_token.take() {
            let (token, unsealed) = self
                .duet
                .home_key
                .open_plain_text(&team_token_context(notebook), &stored)?;
            setting.team_token = Some(token);
            if unsealed {
                self.duet.store.put(
                    &key,
                    &self.duet.sealed_team_token(notebook, setting.clone()),
                )?;
                self.duet.store.flush()?;
            }
        }
        Ok(Some(setting))
    }

    /// Every notebook with a relay.
    pub fn notebooks(&self) -> Result<Vec<(String, RelaySetting)>, DuetError> {
        let mut out = Vec::new();
        for record in self.duet.synced_records()? {
            if self.duet.relay_mailbox_gone(&record.id)? {
                // An ended 1-1: its mailbox is retired or gone.
                continue;
            }
            if let Some(setting) = self.duet.read_relay().setting(&record.id)? {
                out.push((record.id, setting));
            }
        }
        Ok(out)
    }

    /// What opens the notebook's mailbox: the one of the keys it syncs with now. When those
    /// moved to a new epoch since the last relay sync, the new mailbox has seen nothing of
    /// this device: the cursor and what the relay was believed to hold are forgotten, so the
    /// sync reads its whole log and pushes everything.
    pub fn mailbox_key(&self, notebook: &str) -> Result<MailboxKey, DuetError> {
        let setting = self.duet.read_relay().setting(notebook)?;
        let keys = self.duet.sync_keys(notebook)?;
        let (mailbox, token) = keys.mailbox(notebook, &relay_fingerprint(setting.as_ref()));
        if self.duet.relay_epoch(notebook)? != keys.epoch_id() {
            self.duet.store.put_forgetting(
                &RelayCursor(notebook.to_owned()),
                &0,
                &[SenderSeen(notebook.to_owned(), String::new())],
            )?;
            self.duet.store.put_forgetting(
                &RelayEpoch(notebook.to_owned()),
                &keys.epoch_id().to_owned(),
                &[RelaySeen(notebook.to_owned(), String::new())],
            )?;
            self.duet.store.flush()?;
        }
        Ok(MailboxKey {
            mailbox,
            token,
            team_token: setting.and_then(|s| s.team_token),
        })
    }

    /// The id of the notebook's mailbox at its relay now, read only (where
    /// [`Relay::mailbox_key`] also starts the cursor over when the keys moved).
    pub fn current_mailbox(&self, notebook: &str) -> Result<String, DuetError> {
        let setting = self.duet.read_relay().setting(notebook)?;
        let keys = self.duet.sync_keys(notebook)?;
        Ok(keys
            .mailbox(notebook, &relay_fingerprint(setting.as_ref()))
            .0)
    }

    /// When this device last found the notebook's relay log changed under it.
    pub fn rewound_at(&self, notebook: &str) -> Result<Option<i64>, DuetError> {
        Ok(self.duet.store.get(&RelayRewound(notebook.to_owned()))?)
    }

    /// The last relay sequence number applied here.
    pub fn cursor(&self, notebook: &str) -> Result<u64, DuetError> {
        Ok(self
            .duet
            .store
            .get(&RelayCursor(notebook.to_owned()))?
            .unwrap_or(0))
    }
}

impl<D: DerefMut<Target = Duet>> Relay<D> {
    /// Sets the relay of the selected notebook.
    pub fn set(
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
        duet_protocol::net::relay_client::resolve(addr)
            .map_err(|e| DuetError::Invalid(e.to_string()))?;
        let id = self.duet.current_id()?;
        let setting = RelaySetting {
            addr: addr.to_owned(),
            fingerprint: fingerprint.trim().to_ascii_lowercase(),
            team_token,
        };
        self.duet.relay_set_for(&id, setting.clone())?;
        if let Some(space) = self.duet.private_notes().space()? {
            self.duet.personal_relay_default(&space)?;
        }
        Ok(setting)
    }

    /// How many changes of `notebook` its relay has not acknowledged yet (`duet status`).
    pub fn unacknowledged(&mut self, notebook: &str) -> Result<usize, DuetError> {
        Ok(self.duet.relay_unseen(notebook)?.2)
    }

    /// How many changes of `notebook` here no other device is known to have: neither its
    /// relay nor any device it synced with directly (`duet status`: "3 edits not yet on any
    /// other device").
    pub fn unshared_changes(&mut self, notebook: &str) -> Result<usize, DuetError> {
        self.duet.cache.borrow_mut().take();
        let peers: Vec<String> = self
            .duet
            .peers()
            .known()?
            .into_iter()
            .map(|p| p.fingerprint)
            .collect();
        let mut nb = self.duet.load_for_sync(notebook)?;
        let mut unshared = 0;
        for doc in nb.all_doc_ids()? {
            let heads = nb.heads(&self.duet.store, &doc)?;
            let mut known = self.duet.relay_seen(notebook, &doc)?;
            for peer in &peers {
                let key = PeerSyncState(peer.clone(), notebook.to_owned(), doc.clone());
                // A state that does not decode only makes the count larger.
                if let Some(state) = self
                    .duet
                    .store
                    .get(&key)
                    .ok()
                    .flatten()
                    .and_then(|b| automerge::sync::State::decode(&b).ok())
                {
                    known.extend(state.shared_heads);
                }
            }
            if heads.is_empty() || covers(&known, &heads) {
                continue;
            }
            let am = &mut nb.doc(&doc)?.am;
            known.retain(|h| am.get_change_by_hash(h).is_some());
            unshared += changes_since_raw(am, &dedup(known)).map_or(0, |(_, n)| n);
        }
        Ok(unshared)
    }
}

/// One document's part of a batch, applied.
struct AppliedPart {
    doc: String,
    /// Its heads before the batch.
    before: Vec<ChangeHash>,
    /// Its heads after.
    heads_after: Vec<ChangeHash>,
    /// The heads the sender said the document had after these changes.
    claimed: Vec<ChangeHash>,
    /// Whether all of those are here (else some dependency has not arrived yet).
    complete: bool,
}

/// Applies one batch to forks of its documents, checks each fork against the limits and
/// the schema, and only then puts the forks in place: a batch either applies whole or
/// changes nothing. The inner error says why it cannot apply.
fn apply_batch(
    nb: &mut Notebook,
    batch: &[DocChanges],
) -> Result<Result<Vec<AppliedPart>, String>, DuetError> {
    let mut forks: Vec<(String, automerge::AutoCommit, Vec<ChangeHash>)> = Vec::new();
    for part in batch {
        if !acceptable_doc_id(&part.doc, nb.personal) {
            return Ok(Err(format!(
                "document id {:?} does not belong here",
                part.doc
            )));
        }
        let at = match forks.iter().position(|(doc, _, _)| *doc == part.doc) {
            Some(at) => at,
            None => {
                let mut fork = nb.fork_doc(&part.doc)?;
                let before = fork.get_heads();
                forks.push((part.doc.clone(), fork, before));
                forks.len() - 1
            }
        };
        let fork = &mut forks[at].1;
        // Automerge's decoder runs on bytes another device chose.
        let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            fork.load_incremental(&part.changes)
        }));
        match loaded {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Ok(Err(format!("document {}: {e}", part.doc))),
            Err(_) => return Ok(Err(format!("document {}: the decoder gave up", part.doc))),
        }
        if let Err(e) = crate::sync::limits::check_doc(&part.doc, fork) {
            return Ok(Err(e.to_string()));
        }
    }
    let mut applied = Vec::new();
    for (doc, mut fork, before) in forks {
        let heads_after = fork.get_heads();
        if heads_after != before {
            if let Err(e) = super::peer::validate_doc(&fork, &doc, nb.personal) {
                return Ok(Err(e.to_string()));
            }
        }
        let claimed: Vec<ChangeHash> = batch
            .iter()
            .filter(|p| p.doc == doc)
            .flat_map(|p| p.heads.iter().map(|h| ChangeHash(*h)))
            .collect();
        let complete = claimed.iter().all(|h| fork.get_change_by_hash(h).is_some());
        applied.push((
            fork,
            AppliedPart {
                doc,
                before,
                heads_after,
                claimed,
                complete,
            },
        ));
    }
    let mut out = Vec::new();
    for (fork, part) in applied {
        nb.replace_doc(&part.doc, fork)?;
        out.push(part);
    }
    Ok(Ok(out))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_team_token_is_kept_sealed_and_one_kept_plain_before_is_sealed_on_first_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ana = Duet::init(&dir.path().join("ana"), "Ana").expect("ana");
        let id = ana
            .notebook_new(
                "Ana / Bo",
                crate::Role::Manager,
                "Bo",
                Default::default(),
                crate::dates::today(),
            )
            .expect("notebook")
            .id;
        let fp = crate::crypto::fingerprint_text(&[7; 32]);
        let token = "dt_team-token-canary".to_owned();
        ana.relay()
            .set("127.0.0.1:7879", &fp, Some(token.clone()))
            .expect("relay set");
        let raw = |ana: &Duet| {
            ana.store
                .get(&NotebookRelay(id.clone()))
                .expect("read")
                .and_then(|s| s.team_token)
                .expect("a token is stored")
        };
        assert!(
            !raw(&ana).contains(&token),
            "the team token is stored in the clear"
        );
        let setting = ana.relay().setting(&id).expect("setting").expect("a relay");
        assert_eq!(setting.team_token.as_deref(), Some(token.as_str()));
        // As a home from before sealing kept it.
        let plain = RelaySetting {
            team_token: Some(token.clone()),
            ..setting
        };
        ana.store
            .put(&NotebookRelay(id.clone()), &plain)
            .expect("write");
        let read = ana.relay().setting(&id).expect("setting").expect("a relay");
        assert_eq!(read.team_token.as_deref(), Some(token.as_str()));
        assert!(!raw(&ana).contains(&token), "the old token was not sealed");
    }
}
