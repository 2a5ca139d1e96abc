//! The façade's side of device-to-device sync: the notebooks both ends may talk about,
//! one notebook's sync session over the store, and what changed, in words a person reads.
//!
//! The message order lives in [`crate::sync::session`], the steps in [`crate::sync::peer`],
//! the network in [`crate::net`]. Here the engine meets the store: documents load lazily,
//! heads come from the store's cache, the per-peer states are persisted, and what arrived is
//! validated before it is kept.
use super::private::PERSONAL_TITLE;
use super::*;
use crate::crypto::MembershipKey;
use crate::duet::settings::{
    CurrentNotebook, KnownDevice, PeerSyncState, PeerSynced, PendingJoin, ServeAddress,
    TlsCertificate, TlsPrivateKey,
};
use crate::model::private::{self, PRIVATE_DOC};
use crate::sync::peer::{PeerDocs, SyncError};
use crate::sync::session::{PeerEngine, PeerRole};
use crate::wire::Message;
use automerge::sync::State;
use automerge::{AutoCommit, ChangeHash};
use duet_protocol::net::handshake::PeerMembership;
use std::collections::BTreeSet;
use std::ops::{Deref, DerefMut};

/// One notebook's sync with one peer: its engine and the notebook it works on. It lives
/// with the driver between calls on the home (it holds no lock and no store).
pub struct PeerSession {
    nb: Notebook,
    engine: PeerEngine,
    peer: String,
}

/// What one step of a session produced.
#[derive(Debug, Default)]
pub struct PeerStep {
    /// Messages to send, in order.
    pub send: Vec<Message>,
    /// What changed here, once the session's result has been kept.
    pub report: Option<SyncReport>,
}

impl From<DuetError> for SyncError {
    fn from(e: DuetError) -> Self {
        SyncError::Local(Box::new(e))
    }
}

impl PeerSession {
    /// Takes one message from the peer (no documents needed); returns whether
    /// [`SyncPort::peer_advance`](crate::home::SyncPort::peer_advance) has work to do now.
    pub fn receive(&mut self, message: Message) -> Result<bool, SyncError> {
        self.engine.receive(message)
    }

    /// Whether the session is over.
    pub fn is_complete(&self) -> bool {
        self.engine.is_complete()
    }
}

impl std::fmt::Debug for PeerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerSession")
            .field("notebook", &self.nb.id)
            .field("peer", &self.peer)
            .finish()
    }
}

/// What one sync of one notebook did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// The notebook.
    pub notebook: String,
    /// Its title.
    pub title: String,
    /// Automerge changes this device sent.
    pub sent_changes: usize,
    /// Documents that changed here.
    pub documents_changed: usize,
    /// Agenda items that arrived (in meetings or the backlog).
    pub agenda_items: usize,
    /// Commitments that arrived.
    pub commitments: usize,
    /// Commitments whose state changed (done, dropped, reopened).
    pub commitments_updated: usize,
    /// Meetings whose notes changed.
    pub notes: usize,
    /// Meetings that arrived.
    pub meetings: usize,
    /// Private notes that arrived (from this person's other devices).
    #[serde(default)]
    pub private_notes: usize,
}

impl SyncReport {
    /// Adds what an earlier pass of the same sync brought.
    pub fn absorb(&mut self, earlier: SyncReport) {
        self.sent_changes += earlier.sent_changes;
        self.documents_changed += earlier.documents_changed;
        self.agenda_items += earlier.agenda_items;
        self.commitments += earlier.commitments;
        self.commitments_updated += earlier.commitments_updated;
        self.notes += earlier.notes;
        self.meetings += earlier.meetings;
        self.private_notes += earlier.private_notes;
    }

    /// Whether nothing arrived.
    pub fn nothing_new(&self) -> bool {
        self.documents_changed == 0
    }

    /// What arrived, as a person says it: "3 agenda items, 1 commitment".
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let mut say = |n: usize, one: &str, many: &str| {
            if n > 0 {
                parts.push(format!("{n} {}", if n == 1 { one } else { many }));
            }
        };
        say(self.meetings, "meeting", "meetings");
        say(self.agenda_items, "agenda item", "agenda items");
        say(self.commitments, "commitment", "commitments");
        say(
            self.commitments_updated,
            "commitment update",
            "commitment updates",
        );
        say(self.notes, "meeting's notes", "meetings' notes");
        say(self.private_notes, "private note", "private notes");
        if parts.is_empty() && self.documents_changed > 0 {
            parts.push(format!(
                "changes to {} document{}",
                self.documents_changed,
                if self.documents_changed == 1 { "" } else { "s" }
            ));
        }
        if parts.is_empty() {
            "nothing new".into()
        } else {
            parts.join(", ")
        }
    }
}

impl Duet {
    /// Every notebook this home holds, with its membership key: what the handshake proves.
    pub(crate) fn memberships(&self) -> Result<Vec<(String, MembershipKey)>, DuetError> {
        let mut out = Vec::new();
        for record in self.synced_records()? {
            out.push((
                record.id.clone(),
                self.sync_keys(&record.id)?.membership_key(),
            ));
        }
        Ok(out)
    }

    /// Every key the handshake may prove each notebook with, and to whom (see
    /// [`PeerMembership`]).
    pub(crate) fn peer_memberships(&self) -> Result<Vec<PeerMembership>, DuetError> {
        let mut out = Vec::new();
        for record in self.synced_records()? {
            let keys = self.all_sync_keys(&record.id)?;
            let (remaining, removed) = match self.space_with_members(&record.id)? {
                Some(mut nb) => {
                    let m = self.membership_of(&mut nb)?;
                    (m.remaining_fingerprints(), m.removed_fingerprints())
                }
                None => Default::default(),
            };
            for (i, keys) in keys.iter().enumerate() {
                out.push(PeerMembership {
                    notebook: record.id.clone(),
                    key: keys.membership_key(),
                    only_with: (i > 0).then(|| remaining.clone()),
                    never_with: removed.clone(),
                });
            }
        }
        Ok(out)
    }

    /// The refusal for a peer (by fingerprint text) that is a removed device of the
    /// notebook, or this device when it was removed.
    pub(super) fn removed_peer(
        &self,
        notebook: &str,
        peer: &str,
    ) -> Result<Option<DuetError>, DuetError> {
        let Some(mut nb) = self.space_with_members(notebook)? else {
            return Ok(None);
        };
        let m = self.membership_of(&mut nb)?;
        let title = if nb.personal {
            super::private::PERSONAL_TITLE.to_owned()
        } else {
            index::title(&nb.index()?.am)?
        };
        if m.removed.contains(&self.device.public_hex()) {
            return Ok(Some(DuetError::RemovedDevice {
                who: "this device".into(),
                title,
            }));
        }
        if m.removed_fingerprints().contains(peer) {
            return Ok(Some(DuetError::RemovedDevice {
                who: format!("the device {}", peer.get(..8).unwrap_or(peer)),
                title,
            }));
        }
        Ok(None)
    }

    pub(super) fn secret_of(&self, record: &NotebookRecord) -> Result<NotebookSecret, DuetError> {
        let bytes = self.open_notebook_secret(record)?;
        NotebookSecret::from_bytes(&bytes).map_err(|_| {
            DuetError::Store(crate::store::StoreError::Corrupt {
                what: format!("secret of notebook {}", record.id),
            })
        })
    }

    /// Starts syncing `notebook` with the peer whose certificate fingerprint is `peer`.
    pub(crate) fn peer_session(
        &mut self,
        notebook: &str,
        peer: &str,
        role: PeerRole,
    ) -> Result<PeerSession, DuetError> {
        if !self.synced_records()?.iter().any(|r| r.id == notebook) {
            return Err(DuetError::NotFound {
                kind: "notebook",
                query: notebook.to_owned(),
            });
        }
        self.register_before_sync(notebook)?;
        self.cache.borrow_mut().take();
        if let Some(removed) = self.removed_peer(notebook, peer)? {
            return Err(removed);
        }
        Ok(PeerSession {
            nb: self.load_for_sync(notebook)?,
            engine: PeerEngine::new(role),
            peer: peer.to_owned(),
        })
    }

    /// Client: the session's first messages.
    pub(crate) fn peer_start(&mut self, s: &mut PeerSession) -> Result<Vec<Message>, SyncError> {
        let notebook = s.nb.id.clone();
        let mut docs = self.peer_docs(s.peer.clone(), &mut s.nb);
        s.engine.start(&notebook, &mut docs)
    }

    /// Runs the step the last message received made ready; when the engine says the
    /// result is final, checks what arrived against the schema and keeps it durably with
    /// the states for next time, before the messages are sent.
    pub(crate) fn peer_advance(&mut self, s: &mut PeerSession) -> Result<PeerStep, SyncError> {
        let mut docs = self.peer_docs(s.peer.clone(), &mut s.nb);
        let advance = s.engine.advance(&mut docs)?;
        let report = if advance.keep {
            Some(self.peer_keep(s)?)
        } else {
            None
        };
        Ok(PeerStep {
            send: advance.send,
            report,
        })
    }

    fn peer_keep(&mut self, s: &mut PeerSession) -> Result<SyncReport, DuetError> {
        self.cache.borrow_mut().take();
        // The session's copy of the notebook was loaded at its start, and other calls on
        // the home (edits, other syncs) may have written since. Keeping that copy could
        // fold a stale snapshot over them; instead what arrived is merged into the
        // notebook as it is now, and that is kept.
        let mut current = self.load_for_sync(&s.nb.id)?;
        let sync = s.engine.sync();
        for doc in sync.changed.keys() {
            let arrived = &mut s.nb.doc(doc)?.am;
            current.doc_or_empty(doc)?.am.merge(arrived)?;
        }
        let mut report = self.arrivals(&mut current, &sync.changed)?;
        report.sent_changes = sync.sent_changes;
        for (doc, state) in sync.states() {
            let key = PeerSyncState(s.peer.clone(), s.nb.id.clone(), doc.clone());
            self.store.put(&key, &state.encode())?;
        }
        self.store
            .put(&PeerSynced(s.peer.clone(), s.nb.id.clone()), &b"1".to_vec())?;
        current.persist(&mut self.store)?;
        s.nb = current;
        Ok(report)
    }

    /// Checks the documents that changed against the schema, says what arrived, copies
    /// late edits of moved items, and keeps the title fresh. The caller persists.
    pub(super) fn arrivals(
        &mut self,
        nb: &mut Notebook,
        changed: &std::collections::BTreeMap<String, Vec<ChangeHash>>,
    ) -> Result<SyncReport, DuetError> {
        let mut report = SyncReport {
            notebook: nb.id.clone(),
            documents_changed: changed.len(),
            ..SyncReport::default()
        };
        let personal = nb.personal;
        for (doc, before) in changed {
            let am = &mut nb.doc(doc)?.am;
            crate::sync::limits::check_doc(doc, am)
                .map_err(|e| DuetError::BadImport(e.to_string()))?;
            validate_doc(am, doc, personal)?;
            let mut old = am.fork_at(before).map_err(crate::model::ModelError::from)?;
            count_arrivals(&mut report, doc, &mut old, am)?;
        }
        if personal {
            report.title = PERSONAL_TITLE.to_owned();
            return Ok(report);
        }
        report.title = index::title(&nb.index()?.am)?;
        nb.reconcile_moves()?;
        if let Some(record) = self
            .store
            .notebooks()?
            .into_iter()
            .find(|r| r.id == nb.id && r.title != report.title)
        {
            self.store.put_notebook(&NotebookRecord {
                title: report.title.clone(),
                ..record
            })?;
        }
        Ok(report)
    }

    fn peer_docs<'a>(&'a self, peer: String, nb: &'a mut Notebook) -> StoreDocs<'a> {
        StoreDocs {
            store: &self.store,
            nb,
            peer,
        }
    }
}

/// A notebook's documents in the store, as [`PeerDocs`].
struct StoreDocs<'a> {
    store: &'a Store,
    nb: &'a mut Notebook,
    peer: String,
}

impl PeerDocs for StoreDocs<'_> {
    fn doc_ids(&mut self) -> Result<Vec<String>, SyncError> {
        Ok(self.nb.all_doc_ids()?)
    }

    fn heads(&mut self, doc: &str) -> Result<Vec<ChangeHash>, SyncError> {
        Ok(self.nb.heads(self.store, doc)?)
    }

    fn doc(&mut self, doc: &str) -> Result<&mut AutoCommit, SyncError> {
        Ok(&mut self.nb.doc_or_empty(doc)?.am)
    }

    fn accepts(&self, doc: &str) -> bool {
        acceptable_doc_id(doc, self.nb.personal)
    }

    fn state(&mut self, doc: &str) -> Result<Option<State>, SyncError> {
        let key = PeerSyncState(self.peer.clone(), self.nb.id.clone(), doc.to_owned());
        let Some(bytes) = self.store.get(&key).map_err(DuetError::from)? else {
            return Ok(None);
        };
        // A state that does not decode is only a lost shortcut: start over with the
        // full protocol for this document.
        Ok(State::decode(&bytes).ok())
    }

    fn states(&mut self) -> Result<Vec<(String, State)>, SyncError> {
        let family = PeerSyncState(self.peer.clone(), self.nb.id.clone(), String::new());
        let mut out = Vec::new();
        for (doc, bytes) in self.store.scan(&family).map_err(DuetError::from)? {
            if let Ok(state) = State::decode(&bytes) {
                out.push((doc, state));
            }
        }
        Ok(out)
    }

    fn synced_before(&mut self) -> Result<bool, SyncError> {
        Ok(self
            .store
            .get(&PeerSynced(self.peer.clone(), self.nb.id.clone()))
            .map_err(DuetError::from)?
            .is_some())
    }
}

/// Whether a document id from another device is one a notebook (or, with `personal`, a
/// personal space) can hold.
pub(super) fn acceptable_doc_id(doc: &str, personal: bool) -> bool {
    if personal {
        return doc == PRIVATE_DOC;
    }
    doc == INDEX_DOC
        || doc == COMMITMENTS_DOC
        || (doc.len() == ids::ID_LEN && doc.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A document that arrived must fit the schema of what it claims to be.
pub(super) fn validate_doc(am: &AutoCommit, doc: &str, personal: bool) -> Result<(), DuetError> {
    if personal || doc == PRIVATE_DOC {
        if !acceptable_doc_id(doc, personal) {
            return Err(DuetError::BadImport(format!(
                "document {doc} does not belong in a {}",
                if personal {
                    "personal space"
                } else {
                    "notebook"
                }
            )));
        }
        return Ok(private::validate(am)?);
    }
    match doc {
        INDEX_DOC => index::validate(am)?,
        COMMITMENTS_DOC => commitments::validate(am)?,
        _ => {
            let id = meeting::validate(am)?;
            if id != doc {
                return Err(DuetError::BadImport(format!(
                    "document {doc} claims to be meeting {id}"
                )));
            }
        }
    }
    Ok(())
}

/// Adds to `report` what `now` has that `old` (the same document before the sync) lacked.
fn count_arrivals(
    report: &mut SyncReport,
    doc: &str,
    old: &mut AutoCommit,
    now: &AutoCommit,
) -> Result<(), DuetError> {
    let empty = old.get_heads().is_empty();
    match doc {
        INDEX_DOC => {
            let ids = |am: &AutoCommit| -> Result<BTreeSet<String>, DuetError> {
                Ok(index::meetings(am)?.into_iter().map(|m| m.id).collect())
            };
            let items = |am: &AutoCommit| -> Result<BTreeSet<String>, DuetError> {
                Ok(index::backlog(am)?.into_iter().map(|i| i.id).collect())
            };
            let (old_ids, old_items) = if empty {
                (BTreeSet::new(), BTreeSet::new())
            } else {
                (ids(old)?, items(old)?)
            };
            report.meetings += ids(now)?.difference(&old_ids).count();
            report.agenda_items += items(now)?.difference(&old_items).count();
        }
        COMMITMENTS_DOC => {}
        PRIVATE_DOC => {
            let ids = |am: &AutoCommit| -> Result<BTreeSet<String>, DuetError> {
                Ok(private::notes(am)?.into_iter().map(|n| n.id).collect())
            };
            let old_ids = if empty { BTreeSet::new() } else { ids(old)? };
            report.private_notes += ids(now)?.difference(&old_ids).count();
        }
        _ => {
            let agenda = |am: &AutoCommit| -> Result<BTreeSet<String>, DuetError> {
                Ok(meeting::agenda(am)?.into_iter().map(|i| i.id).collect())
            };
            let commits = |am: &AutoCommit| -> Result<Vec<(String, String)>, DuetError> {
                Ok(meeting::commitments(am)?
                    .into_iter()
                    .map(|c| (c.id, c.status.as_str().to_owned()))
                    .collect())
            };
            let notes = |am: &AutoCommit| -> Result<Vec<String>, DuetError> {
                Ok(meeting::sections(am)?.into_iter().map(|s| s.text).collect())
            };
            let (old_agenda, old_commits, old_notes) = if empty {
                (BTreeSet::new(), Vec::new(), Vec::new())
            } else {
                (agenda(old)?, commits(old)?, notes(old)?)
            };
            report.agenda_items += agenda(now)?.difference(&old_agenda).count();
            for (id, status) in commits(now)? {
                match old_commits.iter().find(|(old_id, _)| *old_id == id) {
                    None => report.commitments += 1,
                    Some((_, old_status)) if *old_status != status => {
                        report.commitments_updated += 1
                    }
                    Some(_) => {}
                }
            }
            let now_notes = notes(now)?;
            if now_notes.iter().any(|t| !t.is_empty()) && now_notes != old_notes {
                report.notes += 1;
            }
        }
    }
    Ok(())
}

/// A device this one has synced with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownPeer {
    /// Its certificate fingerprint (text).
    pub fingerprint: String,
    /// Where it was last reached, when this device connected to it.
    pub addr: Option<std::net::SocketAddr>,
    /// When it last synced (Unix milliseconds).
    pub last_sync: i64,
}

impl Duet {
    /// Remembers a peer reached at `addr` (so its certificate is trusted next time).
    pub(crate) fn remember_peer(
        &self,
        fingerprint: &[u8; 32],
        addr: Option<std::net::SocketAddr>,
    ) -> Result<(), DuetError> {
        let text = crate::crypto::fingerprint_text(fingerprint);
        let key = KnownDevice(text.clone());
        // A damaged record of a device only loses its address: it is written anew.
        let old = self.store.get(&key).ok().flatten();
        let peer = KnownPeer {
            fingerprint: text,
            addr: addr.or(old.and_then(|o| o.addr)),
            last_sync: now_millis(),
        };
        self.store.put(&key, &peer)?;
        self.store.flush()?;
        Ok(())
    }

    /// Remembers a peer that connected here (its address is not one to call back).
    pub(crate) fn remember_peer_fingerprint(&self, fingerprint: &str) -> Result<(), DuetError> {
        match crate::crypto::parse_fingerprint(fingerprint) {
            Some(fp) => self.remember_peer(&fp, None),
            None => Ok(()),
        }
    }

    fn join_with(&mut self, joining: Joining<'_>, role: Role) -> Result<String, DuetError> {
        let Joining {
            secret,
            title,
            epoch,
            inviter,
            relay,
            relay_bound,
        } = joining;
        let id = secret.notebook_id();
        self.joins().check_can_join(&id, title)?;
        self.store.put_notebook(&NotebookRecord {
            id: id.clone(),
            secret_hex: self.seal_notebook_secret(&id, secret.as_bytes()),
            title: title.to_owned(),
            personal: false,
        })?;
        if relay_bound {
            self.store
                .put(&crate::duet::settings::RelayBound(id.clone()), &true)?;
        }
        if let Some(grant) = epoch {
            let key = crate::crypto::EpochKey::from_bytes(&grant.key)
                .map_err(|e| DuetError::Internal(e.to_string()))?;
            self.keep_epoch_copy(&id, &grant.id, grant.number, &key)?;
        }
        self.store
            .put(&PendingJoin(id.clone()), &role.as_str().to_owned())?;
        self.store.put(&CurrentNotebook(), &id)?;
        self.store.flush()?;
        // The ticket pins the inviting device: later syncs trust it without a flag. Its
        // address is remembered once a sync there succeeds.
        self.remember_peer(inviter, None)?;
        self.selected = Some(id.clone());
        if let Some(relay) = relay {
            self.relay().set(
                &relay.addr,
                &crate::crypto::fingerprint_text(&relay.fingerprint),
                None,
            )?;
        }
        Ok(id)
    }

    /// Completes joins whose notebook has arrived: adds this device to the person it
    /// joined as. Returns the notebooks completed.
    pub(crate) fn complete_joins(&mut self) -> Result<Vec<String>, DuetError> {
        let mut done = Vec::new();
        for (id, role) in self.store.scan(&PendingJoin(String::new()))? {
            if role.is_empty() {
                continue;
            }
            if self.store.load_doc(&id, INDEX_DOC)?.is_none() {
                continue;
            }
            let role = match role.as_str() {
                "manager" => Role::Manager,
                _ => Role::Report,
            };
            self.cache.borrow_mut().take();
            let mut nb = Notebook::load(&self.store, &id, &self.actor)?;
            let person = index::people(&nb.index()?.am)?
                .into_iter()
                .find(|p| p.role == role)
                .ok_or_else(|| DuetError::Invalid(format!("the notebook has no {role}")))?;
            self.enroll_device(&mut nb, &person.id)?;
            nb.persist(&mut self.store)?;
            // An empty value marks the join done (the store never deletes settings).
            self.store.put(&PendingJoin(id.clone()), &String::new())?;
            self.store.flush()?;
            done.push(id);
        }
        Ok(done)
    }

    /// Whether the notebook was joined from an invite and has not arrived yet.
    pub(crate) fn join_pending(&self, notebook: &str) -> Result<bool, DuetError> {
        Ok(self
            .store
            .get(&PendingJoin(notebook.to_owned()))?
            .is_some_and(|role| !role.is_empty()))
    }
}

impl<D: Deref<Target = Duet>> Peers<D> {
    /// This device's TLS identity, made and kept on first use.
    pub fn tls_identity(&self) -> Result<duet_protocol::net::tls::TlsIdentity, DuetError> {
        if let (Some(cert_der), Some(stored)) = (
            self.duet.store.get(&TlsCertificate())?,
            self.duet.store.get(&TlsPrivateKey())?,
        ) {
            let key_der = self.duet.home_key.open(TLS_KEY, &stored)?.unwrap_or(stored);
            return Ok(duet_protocol::net::tls::TlsIdentity { cert_der, key_der });
        }
        let made = duet_protocol::net::tls::TlsIdentity::generate()
            .map_err(|e| DuetError::Internal(format!("making this device's certificate: {e}")))?;
        self.duet.store.put(
            &TlsPrivateKey(),
            &self.duet.home_key.seal(TLS_KEY, &made.key_der),
        )?;
        self.duet.store.put(&TlsCertificate(), &made.cert_der)?;
        self.duet.store.flush()?;
        Ok(made)
    }

    /// Records where `duet serve` listens, so tickets printed later name that port.
    pub fn remember_serve_addr(&self, addr: std::net::SocketAddr) -> Result<(), DuetError> {
        if self.duet.peers().serve_addr()? == Some(addr) {
            return Ok(());
        }
        self.duet.store.put(&ServeAddress, &addr)?;
        self.duet.store.flush()?;
        Ok(())
    }

    /// Where `duet serve` last listened on this home.
    pub fn serve_addr(&self) -> Result<Option<std::net::SocketAddr>, DuetError> {
        Ok(self.duet.store.get(&ServeAddress)?)
    }

    /// Every device this one has synced with, most recent first.
    pub fn known(&self) -> Result<Vec<KnownPeer>, DuetError> {
        let mut peers: Vec<KnownPeer> = self
            .duet
            .store
            .scan(&KnownDevice(String::new()))?
            .into_iter()
            .map(|(_, peer)| peer)
            .collect();
        peers.sort_by_key(|p| std::cmp::Reverse(p.last_sync));
        Ok(peers)
    }
}

impl<D: Deref<Target = Duet>> Members<D> {
    /// An invite to the selected notebook, reachable at `addrs`.
    pub fn invite(
        &self,
        addrs: Vec<std::net::SocketAddr>,
        relay: Option<crate::invite::RelayInfo>,
    ) -> Result<crate::invite::Invite, DuetError> {
        let id = self.duet.current_id()?;
        let record = self.duet.record(&id)?;
        let secret = self.duet.secret_of(&record)?;
        Ok(crate::invite::Invite {
            secret: *secret.as_bytes(),
            title: record.title,
            addrs,
            fingerprint: self.duet.peers().tls_identity()?.fingerprint(),
            relay,
            owner: None,
            epoch: self.duet.ticket_epoch(&id)?,
        })
    }
}

impl<D: Deref<Target = Duet>> Joins<D> {
    /// Refuses to join a notebook this device already has (one still waiting for its first
    /// sync may be joined again).
    pub fn check_can_join(&self, id: &str, title: &str) -> Result<(), DuetError> {
        if self.duet.store.notebooks()?.iter().any(|r| r.id == id) && !self.duet.join_pending(id)? {
            return Err(DuetError::AlreadyJoined {
                title: title.to_owned(),
                id: id.get(..8).unwrap_or(id).to_owned(),
            });
        }
        Ok(())
    }
}

impl<D: DerefMut<Target = Duet>> Joins<D> {
    /// Records a notebook from an invite, to be completed by the first sync: this device
    /// joins as the person with `role` once the notebook's index has arrived, and the relay
    /// the ticket names becomes the notebook's (so a plain sync reaches it). Returns the
    /// notebook id.
    pub fn by_invite(
        &mut self,
        invite: &crate::invite::Invite,
        role: Role,
    ) -> Result<String, DuetError> {
        self.duet.join_with(
            Joining {
                secret: &invite.notebook_secret(),
                title: &invite.title,
                epoch: invite.epoch.as_ref(),
                inviter: &invite.fingerprint,
                relay: invite.relay.as_ref(),
                relay_bound: false,
            },
            role,
        )
    }

    /// Records a notebook from a one-time invite's grant (see [`Joins::by_invite`]).
    pub fn granted(
        &mut self,
        invite: &crate::one_time_invite::OneTimeInvite,
        grant: &crate::one_time_invite::Grant,
        role: Role,
    ) -> Result<String, DuetError> {
        let secret = NotebookSecret::from_bytes(&grant.secret)
            .map_err(|e| DuetError::Internal(e.to_string()))?;
        if secret.notebook_id() != invite.notebook {
            return Err(DuetError::Invalid(
                "the inviting device granted another notebook than its ticket names".into(),
            ));
        }
        let id = self.duet.join_with(
            Joining {
                secret: &secret,
                title: &grant.title,
                epoch: grant.epoch.as_ref(),
                inviter: &invite.fingerprint,
                relay: invite.relay.as_ref(),
                relay_bound: grant.relay_bound,
            },
            role,
        )?;
        self.duet.store.put(
            &crate::duet::settings::JoinedWithInvite(id.clone()),
            &invite.id,
        )?;
        self.duet.store.flush()?;
        Ok(id)
    }
}

/// What a ticket or a grant tells a joining device about a notebook.
struct Joining<'a> {
    secret: &'a NotebookSecret,
    title: &'a str,
    /// The key epoch in force, once a device was removed.
    epoch: Option<&'a crate::invite::EpochGrant>,
    /// The inviting device's certificate fingerprint.
    inviter: &'a [u8; 32],
    /// The notebook's relay.
    relay: Option<&'a crate::invite::RelayInfo>,
    /// Whether its relay mailbox is bound to the relay.
    relay_bound: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_personal_space_and_a_notebook_accept_only_their_own_documents() {
        assert!(acceptable_doc_id(PRIVATE_DOC, true));
        assert!(!acceptable_doc_id(INDEX_DOC, true));
        assert!(!acceptable_doc_id("abcdefgh", true));
        assert!(!acceptable_doc_id(PRIVATE_DOC, false));
        assert!(acceptable_doc_id(INDEX_DOC, false));

        let mut personal = AutoCommit::new();
        private::create(&mut personal).expect("create");
        assert!(validate_doc(&personal, PRIVATE_DOC, true).is_ok());
        // A personal document sent into a shared notebook, or a meeting into a personal
        // space, is refused.
        assert!(validate_doc(&personal, PRIVATE_DOC, false).is_err());
        let mut m = AutoCommit::new();
        meeting::create(&mut m, "abcdefgh").expect("meeting");
        assert!(validate_doc(&m, "abcdefgh", true).is_err());
        assert!(validate_doc(&m, PRIVATE_DOC, true).is_err());
    }

    /// Runs one whole session between two homes, as the node's drivers do, with `during`
    /// called on the server's home once it has answered and waits for the client (a
    /// person typing on the serving laptop meanwhile).
    fn sync_with_edit_during(
        client: &mut Duet,
        server: &mut Duet,
        notebook: &str,
        during: impl FnOnce(&mut Duet),
    ) {
        let mut during = Some(during);
        let mut c = client
            .peer_session(notebook, "server-fp", PeerRole::Client)
            .expect("client session");
        let mut to_server = client.peer_start(&mut c).expect("start");
        let mut s: Option<PeerSession> = None;
        while !c.is_complete() {
            let mut to_client = Vec::new();
            for m in to_server.drain(..) {
                let Some(session) = s.as_mut() else {
                    let id =
                        crate::sync::session::expect_open(m, &[notebook.to_owned()]).expect("open");
                    s = Some(
                        server
                            .peer_session(&id, "client-fp", PeerRole::Server)
                            .expect("server session"),
                    );
                    continue;
                };
                if session.receive(m).expect("server receives") {
                    to_client.extend(server.peer_advance(session).expect("server step").send);
                }
            }
            if let Some(during) = during.take() {
                during(server);
            }
            for m in to_client {
                if c.receive(m).expect("client receives") {
                    to_server.extend(client.peer_advance(&mut c).expect("client step").send);
                }
            }
        }
    }

    #[test]
    fn an_edit_made_during_a_sync_survives_the_sync_keeping_its_result() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ana = Duet::init(&dir.path().join("ana"), "Ana").expect("ana");
        let nb = ana
            .notebook_new(
                "Ana / Bo",
                Role::Manager,
                "Bo",
                Default::default(),
                crate::dates::today(),
            )
            .expect("notebook");
        let bundle = dir.path().join("nb.duet");
        ana.bundle_out(&bundle).expect("bundle");
        let mut bo = Duet::init(&dir.path().join("bo"), "Bo").expect("bo");
        bo.bundle_in(&bundle, Some(JoinAs::Role(Role::Report)))
            .expect("join");
        // Ana's meeting document is one chunk short of being folded into a snapshot.
        for i in 0..crate::store::COMPACT_AFTER_CHUNKS - 1 {
            ana.meetings()
                .note(Section::Notes, &format!("before {i}"), None)
                .expect("note");
        }
        bo.meetings()
            .note(Section::Wins, "from-bo", None)
            .expect("bo's note");
        // Bo syncs with Ana's serving home; while her side waits for his Done, she types:
        // that write folds the document, and so would the sync keeping its older copy.
        sync_with_edit_during(&mut bo, &mut ana, &nb.id, |ana| {
            ana.meetings()
                .note(Section::Notes, "typed-during-the-sync", None)
                .expect("note during the sync");
        });
        let home = ana.home().to_owned();
        drop(ana);
        let mut ana = Duet::open(&home).expect("reopen");
        let meeting = format!("{:?}", ana.meetings().get(None).expect("meeting"));
        assert!(
            meeting.contains("typed-during-the-sync"),
            "the edit was lost"
        );
        assert!(meeting.contains("from-bo"), "the sync brought nothing");
    }
}
