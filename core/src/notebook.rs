//! A notebook as loaded in memory: its index document, the meeting documents touched so
//! far, and how to write what changed back to the store.
//!
//! Only the index and the meetings an operation needs are ever loaded: the cost of an edit
//! does not grow with the number of past meetings.

use crate::error::DuetError;
use crate::model::commitments::{self, COMMITMENTS_DOC};
use crate::model::members::{self, Ended};
use crate::model::views::{AgendaItem, Cadence, Commitment, MeetingSummary, Person, SectionText};
use crate::model::{index, item, meeting};
use crate::store::settings::CacheEntry;
use crate::store::{DocReader, Store, StoreError, COMPACT_AFTER_CHUNKS};
use automerge::{ActorId, AutoCommit, ChangeHash};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One Automerge document and what of it the store already holds.
pub(crate) struct Doc {
    pub am: AutoCommit,
    persisted: Vec<ChangeHash>,
    chunks: usize,
}

impl Doc {
    fn loaded(mut am: AutoCommit, actor: &ActorId, chunks: usize) -> Doc {
        am.set_actor(actor.clone());
        let persisted = am.get_heads();
        Doc {
            am,
            persisted,
            chunks,
        }
    }

    /// A document made in memory that the store does not hold yet.
    pub fn fresh(actor: &ActorId) -> Doc {
        Doc {
            am: AutoCommit::new().with_actor(actor.clone()),
            persisted: Vec::new(),
            chunks: 0,
        }
    }

    /// A document from bytes another device or tool wrote.
    pub fn from_bytes(bytes: &[u8], actor: &ActorId) -> Result<Doc, DuetError> {
        // These bytes come from files anyone could have written: a decoder panic on hostile
        // input must become an error, not a crash.
        let loaded = std::panic::catch_unwind(|| AutoCommit::load(bytes)).map_err(|_| {
            DuetError::BadImport("the document bytes are malformed (the decoder gave up)".into())
        })?;
        let am = loaded.map_err(crate::model::ModelError::from)?;
        let mut doc = Doc::loaded(am, actor, 0);
        doc.persisted = Vec::new();
        Ok(doc)
    }
}

/// A notebook: its documents are loaded from the store on first use.
pub(crate) struct Notebook {
    pub id: String,
    index: Option<Doc>,
    reader: DocReader,
    pub meetings: BTreeMap<String, Doc>,
    /// The open-commitments document, loaded on first use.
    pub commitments: Option<Doc>,
    /// The current meeting as last computed, with the index state it was computed at:
    /// finding it scans every meeting, so repeated edits reuse it until the index changes.
    current: Option<(IndexState, Option<MeetingSummary>)>,
    actor: ActorId,
    /// Whether this is a person's own space: one personal document, no index.
    pub personal: bool,
    /// Whether a read filled in a cache since the last flush.
    caches_written: bool,
    /// The index's plain view as last read, with the index state it was read at.
    index_view: Option<(IndexState, Arc<IndexView>)>,
    /// Meetings' plain views as last read, with the document state each was read at.
    parts_seen: BTreeMap<String, (IndexState, MeetingParts)>,
    /// Every document's stored version as last scanned, with the store's flush count then:
    /// only a flush changes a version (one process owns the home), so while the count
    /// stands a view over every meeting checks them without reading the store again.
    versions_seen: Option<(u64, Arc<HashMap<String, u64>>)>,
    /// The kept digests record as last read or written here (each entry is checked against
    /// its meeting's version on use, so a copy another writer replaced costs only rereads).
    pub(crate) digests_seen: Option<Arc<crate::digests::Kept<crate::digests::Digest>>>,
    /// The kept search texts, likewise.
    pub(crate) search_text_seen:
        Option<Arc<crate::digests::Kept<crate::insights::search::MeetingText>>>,
}

impl Notebook {
    /// A notebook of the store; nothing is loaded until used.
    pub fn load(store: &Store, id: &str, actor: &ActorId) -> Result<Notebook, DuetError> {
        Notebook::load_kind(store, id, actor, false)
    }

    /// A shared notebook, or (with `personal`) a person's own space.
    pub fn load_kind(
        store: &Store,
        id: &str,
        actor: &ActorId,
        personal: bool,
    ) -> Result<Notebook, DuetError> {
        Ok(Notebook {
            personal,
            id: id.to_owned(),
            index: None,
            reader: store.reader(),
            meetings: BTreeMap::new(),
            commitments: None,
            current: None,
            actor: actor.clone(),
            caches_written: false,
            index_view: None,
            parts_seen: BTreeMap::new(),
            versions_seen: None,
            digests_seen: None,
            search_text_seen: None,
        })
    }

    /// A new notebook in memory, with an empty index for the caller to fill.
    pub fn fresh(store: &Store, id: &str, actor: &ActorId) -> Notebook {
        Notebook {
            id: id.to_owned(),
            index: Some(Doc::fresh(actor)),
            reader: store.reader(),
            meetings: BTreeMap::new(),
            commitments: None,
            current: None,
            actor: actor.clone(),
            personal: false,
            caches_written: false,
            index_view: None,
            parts_seen: BTreeMap::new(),
            versions_seen: None,
            digests_seen: None,
            search_text_seen: None,
        }
    }

    /// The id of the document that holds the space's membership (device records,
    /// removals, epochs): a notebook's index, or a personal space's personal document.
    pub fn members_doc_id(&self) -> &'static str {
        if self.personal {
            crate::model::private::PRIVATE_DOC
        } else {
            index::INDEX_DOC
        }
    }

    /// The document that holds the space's membership (see [`Notebook::members_doc_id`]).
    pub fn members_doc(&mut self) -> Result<&mut Doc, DuetError> {
        if self.personal {
            self.doc(crate::model::private::PRIVATE_DOC)
        } else {
            self.index()
        }
    }

    /// The index document, loaded on first use.
    pub fn index(&mut self) -> Result<&mut Doc, DuetError> {
        if self.index.is_none() {
            self.index = Some(self.load_required(index::INDEX_DOC, index::validate)?);
        }
        self.index
            .as_mut()
            .ok_or_else(|| missing(&self.id, "index"))
    }

    /// A document every notebook has, loaded and checked against its schema.
    fn load_required(
        &self,
        doc_id: &str,
        validate: fn(&AutoCommit) -> Result<(), crate::model::ModelError>,
    ) -> Result<Doc, DuetError> {
        let doc = load_doc(&self.reader, &self.id, doc_id, &self.actor)?
            .ok_or_else(|| missing(&self.id, doc_id))?;
        validate(&doc.am)?;
        Ok(doc)
    }

    /// The index as something computed from it is keyed by: its heads when it holds
    /// changes the store does not, its stored version otherwise (loaded but unchanged, the
    /// kept views of that version still hold, and reading them beats recomputing them from
    /// the document).
    fn index_state(&mut self) -> Result<IndexState, DuetError> {
        if let Some(doc) = &mut self.index {
            let heads = doc.am.get_heads();
            if doc.persisted.is_empty() || heads != doc.persisted {
                return Ok(IndexState::Heads(heads));
            }
        }
        Ok(IndexState::Stored(
            self.reader.doc_version(&self.id, index::INDEX_DOC)?,
        ))
    }

    /// When and by whom the 1-1 ended, if it did: from the index when it holds changes here,
    /// otherwise from a small record kept at the index's stored version. Every edit checks
    /// it, so it must cost neither a load of the index nor a read of its whole view.
    pub fn ended(&mut self, store: &Store) -> Result<Option<Ended>, DuetError> {
        let version = match self.index_state()? {
            IndexState::Heads(_) => return Ok(members::ended(&self.index()?.am)?),
            IndexState::Stored(version) => version,
        };
        let key = ended_key(&self.id);
        if let Some(ended) = read_versioned(store, &key, version) {
            return Ok(ended);
        }
        let ended = members::ended(&self.index()?.am)?;
        write_versioned(store, &key, version, &ended);
        self.caches_written = true;
        Ok(ended)
    }

    /// The current meeting: the earliest one still to come.
    ///
    /// Finding it scans every meeting of the index, so the answer is cached: in memory by the
    /// index heads, and in the store by the index's stored version (see [`CurrentCache`]), so
    /// an edit to the current meeting need not load the index at all.
    pub fn current_meeting(&mut self, store: &Store) -> Result<Option<MeetingSummary>, DuetError> {
        let state = self.index_state()?;
        if let Some((at, current)) = &self.current {
            if *at == state {
                return Ok(current.clone());
            }
        }
        let current = match state {
            IndexState::Stored(version) => match CurrentCache::read(store, &self.id)? {
                Some(cached) if cached.version == version => cached.meeting,
                _ => {
                    let meeting = index::current_meeting(&self.index()?.am)?;
                    CurrentCache {
                        version,
                        meeting: meeting.clone(),
                    }
                    .write(store, &self.id);
                    meeting
                }
            },
            IndexState::Heads(_) => index::current_meeting(&self.index()?.am)?,
        };
        self.current = Some((state, current.clone()));
        Ok(current)
    }

    /// What reads need from the index, as plain values: the people, the meetings, the
    /// backlog and the carried items. Reading them from the index document costs time in
    /// proportion to its size, so the view is kept: in memory by the index heads, and in the
    /// store by the index's stored version (rewritten whenever the index is persisted), so a
    /// command that only reads never loads the index.
    pub fn index_view(&mut self, store: &Store) -> Result<Arc<IndexView>, DuetError> {
        let state = self.index_state()?;
        if let Some((at, view)) = &self.index_view {
            if *at == state {
                return Ok(view.clone());
            }
        }
        let key = IndexView::key(&self.id);
        let view = match state {
            IndexState::Stored(version) => match read_versioned(store, &key, version) {
                Some(view) => view,
                None => {
                    let view = IndexView::read(&self.index()?.am)?;
                    write_versioned(store, &key, version, &view);
                    self.caches_written = true;
                    view
                }
            },
            IndexState::Heads(_) => IndexView::read(&self.index()?.am)?,
        };
        let view = Arc::new(view);
        self.index_view = Some((state, view.clone()));
        Ok(view)
    }

    /// Which commitments are open, and the meeting each was made in: from the
    /// open-commitments document when it is loaded here, otherwise from the list kept beside
    /// it in the store at its stored version (the document is loaded only on a miss, so
    /// listing open commitments does not replay years of their changes).
    pub fn open_commitment_list(
        &mut self,
        store: &Store,
    ) -> Result<Vec<(String, String)>, DuetError> {
        if let Some(doc) = &self.commitments {
            return Ok(commitments::open(&doc.am)?);
        }
        let version = self.reader.doc_version(&self.id, COMMITMENTS_DOC)?;
        let key = format!("open-commitments/{OPEN_LIST_FORMAT}/{}", self.id);
        if let Some(list) = read_versioned(store, &key, version) {
            return Ok(list);
        }
        let list = commitments::open(&self.commitments()?.am)?;
        write_versioned(store, &key, version, &list);
        self.caches_written = true;
        Ok(list)
    }

    /// The open-commitments document, loaded on first use.
    pub fn commitments(&mut self) -> Result<&mut Doc, DuetError> {
        if self.commitments.is_none() {
            self.commitments = Some(self.load_required(COMMITMENTS_DOC, commitments::validate)?);
        }
        self.commitments
            .as_mut()
            .ok_or_else(|| missing(&self.id, COMMITMENTS_DOC))
    }

    /// The meeting's document, loaded on first use.
    pub fn meeting(&mut self, id: &str) -> Result<&mut Doc, DuetError> {
        if !self.meetings.contains_key(id) {
            let doc = load_doc(&self.reader, &self.id, id, &self.actor)?.ok_or_else(|| {
                DuetError::MeetingNotHere {
                    meeting: id.to_owned(),
                }
            })?;
            self.meetings.insert(id.to_owned(), doc);
        }
        self.meetings
            .get_mut(id)
            .ok_or_else(|| DuetError::MeetingNotHere {
                meeting: id.to_owned(),
            })
    }

    /// Any of the notebook's documents by id: the index, the open commitments, or a meeting.
    pub fn doc(&mut self, id: &str) -> Result<&mut Doc, DuetError> {
        match id {
            index::INDEX_DOC => self.index(),
            COMMITMENTS_DOC => self.commitments(),
            _ => self.meeting(id),
        }
    }

    /// Whether this notebook holds the document (in memory or in the store).
    fn holds(&self, id: &str) -> Result<bool, DuetError> {
        Ok(match id {
            index::INDEX_DOC => {
                self.index.is_some() || self.reader.load_doc(&self.id, id)?.is_some()
            }
            COMMITMENTS_DOC => {
                self.commitments.is_some() || self.reader.load_doc(&self.id, id)?.is_some()
            }
            _ => self.has_meeting(id)?,
        })
    }

    /// A copy of a document to try changes on, with this device's actor (empty for a
    /// document this notebook lacks, which stays lacking); [`Notebook::replace_doc`] puts
    /// it in place.
    pub fn fork_doc(&mut self, id: &str) -> Result<AutoCommit, DuetError> {
        if !self.holds(id)? {
            return Ok(AutoCommit::new().with_actor(self.actor.clone()));
        }
        let mut fork = self.doc(id)?.am.fork();
        fork.set_actor(self.actor.clone());
        Ok(fork)
    }

    /// Puts a document (a fork from [`Notebook::fork_doc`] with changes applied) in place.
    pub fn replace_doc(&mut self, id: &str, am: AutoCommit) -> Result<(), DuetError> {
        self.doc_or_empty(id)?.am = am;
        Ok(())
    }

    /// Like [`Notebook::doc`], but a document the store lacks starts empty (to merge into).
    pub fn doc_or_empty(&mut self, id: &str) -> Result<&mut Doc, DuetError> {
        if !self.holds(id)? {
            let doc = Doc::fresh(&self.actor);
            match id {
                index::INDEX_DOC => self.index = Some(doc),
                COMMITMENTS_DOC => self.commitments = Some(doc),
                _ => {
                    self.meetings.insert(id.to_owned(), doc);
                }
            }
        }
        self.doc(id)
    }

    /// Whether the store holds this meeting's document.
    pub fn has_meeting(&self, id: &str) -> Result<bool, DuetError> {
        Ok(self.meetings.contains_key(id) || self.reader.load_doc(&self.id, id)?.is_some())
    }

    /// Creates a meeting: its index entry and its document.
    pub fn create_meeting(&mut self, id: &str, date: &str) -> Result<(), DuetError> {
        index::add_meeting(&mut self.index()?.am, id, date)?;
        let mut doc = Doc::fresh(&self.actor);
        meeting::create(&mut doc.am, id)?;
        self.meetings.insert(id.to_owned(), doc);
        Ok(())
    }

    /// A meeting's agenda, sections and commitments. A meeting not loaded here is read from
    /// its plain view cached in the store at the document's stored version, so history views
    /// need not load years of Automerge documents again; on a miss the document is loaded and
    /// the view cached.
    pub fn meeting_parts(&mut self, store: &Store, id: &str) -> Result<MeetingParts, DuetError> {
        // Remembered in memory too (a node answers history views again and again), by the
        // document's heads when it is loaded here and by its stored version otherwise.
        let at = match self.meetings.get_mut(id) {
            Some(doc) => IndexState::Heads(doc.am.get_heads()),
            None => IndexState::Stored(self.stored_version(store, id)?),
        };
        if let Some((seen, parts)) = self.parts_seen.get(id) {
            if *seen == at {
                return Ok(parts.clone());
            }
        }
        let parts = match at {
            IndexState::Heads(_) => MeetingParts::read(&self.meeting(id)?.am)?,
            IndexState::Stored(version) => match ViewCache::read(store, &self.id, id, version) {
                Some(parts) => parts,
                None => {
                    let parts = MeetingParts::read(&self.meeting(id)?.am)?;
                    ViewCache::write(store, &self.id, id, version, &parts);
                    self.caches_written = true;
                    parts
                }
            },
        };
        self.parts_seen.insert(id.to_owned(), (at, parts.clone()));
        Ok(parts)
    }

    /// Copies edits made to moved items after they moved into the items' new homes.
    /// Looks only at documents already loaded (those a merge just touched).
    pub fn reconcile_moves(&mut self) -> Result<usize, DuetError> {
        let mut late = Vec::new();
        let index = &self.index()?.am;
        late.extend(item::late_edits(index, &index::backlog_obj(index)?)?);
        for doc in self.meetings.values() {
            late.extend(item::late_edits(&doc.am, &meeting::agenda_obj(&doc.am)?)?);
        }
        let mut written = 0;
        for edit in late {
            let wrote = if edit.moved_to == "backlog" {
                let index = &mut self.index()?.am;
                let backlog = index::backlog_obj(index)?;
                item::add_late_edit(index, &backlog, &edit.id, &edit.text)?
            } else {
                match self.meeting(&edit.moved_to) {
                    Ok(doc) => {
                        let agenda = meeting::agenda_obj(&doc.am)?;
                        item::add_late_edit(&mut doc.am, &agenda, &edit.id, &edit.text)?
                    }
                    // The new home has not arrived yet; the next merge will find it.
                    Err(DuetError::MeetingNotHere { .. }) => false,
                    Err(e) => return Err(e),
                }
            };
            written += usize::from(wrote);
        }
        Ok(written)
    }

    /// Each document changed in memory since it was last persisted: its id, and its heads
    /// then and now (what an edit about to be saved changed, for the undo list).
    pub fn unsaved_changes(&mut self) -> Vec<(String, Vec<ChangeHash>, Vec<ChangeHash>)> {
        let mut out = Vec::new();
        let mut note = |id: &str, doc: &mut Doc| {
            let heads = doc.am.get_heads();
            if heads != doc.persisted {
                out.push((id.to_owned(), doc.persisted.clone(), heads));
            }
        };
        if let Some(doc) = &mut self.index {
            note(index::INDEX_DOC, doc);
        }
        if let Some(doc) = &mut self.commitments {
            note(COMMITMENTS_DOC, doc);
        }
        for (id, doc) in &mut self.meetings {
            note(id, doc);
        }
        out
    }

    /// Appends every document's new changes to the store and flushes. After this returns,
    /// the edit survives a crash.
    pub fn persist(&mut self, store: &mut Store) -> Result<(), DuetError> {
        if let Some(doc) = &mut self.index {
            if persist_doc(store, &self.id, index::INDEX_DOC, doc)? != Persisted::Nothing {
                let version = store.reader().doc_version(&self.id, index::INDEX_DOC)?;
                write_versioned(
                    store,
                    &IndexView::key(&self.id),
                    version,
                    &IndexView::read(&doc.am)?,
                );
                write_versioned(
                    store,
                    &ended_key(&self.id),
                    version,
                    &members::ended(&doc.am)?,
                );
            }
        }
        if let Some(doc) = &mut self.commitments {
            persist_doc(store, &self.id, COMMITMENTS_DOC, doc)?;
        }
        for (id, doc) in &mut self.meetings {
            // History views read meetings from their kept views. A meeting new to this
            // home (a join, a sync bringing years of meetings) gets its view now, while the
            // document is in memory, so the first history view loads no document; an edit
            // to a meeting here leaves its view to the next read (an edit stays cheap).
            if persist_doc(store, &self.id, id, doc)? == Persisted::New && !self.personal {
                if let Ok(parts) = MeetingParts::read(&doc.am) {
                    let version = store.reader().doc_version(&self.id, id)?;
                    ViewCache::write(store, &self.id, id, version, &parts);
                }
            }
        }
        store.flush()?;
        self.caches_written = false;
        Ok(())
    }

    /// Every document's stored version, in one scan (see [`DocReader::doc_versions`]),
    /// remembered until the store's next flush.
    pub fn doc_versions(&mut self, store: &Store) -> Result<Arc<HashMap<String, u64>>, DuetError> {
        let flushes = store.flush_count();
        if let Some((at, versions)) = &self.versions_seen {
            if *at == flushes {
                return Ok(versions.clone());
            }
        }
        let versions = Arc::new(self.reader.doc_versions(&self.id)?);
        self.versions_seen = Some((flushes, versions.clone()));
        Ok(versions)
    }

    /// A document's stored version: from the last scan while no flush came since it,
    /// otherwise read alone (one read beats a scan for a command that needs one).
    fn stored_version(&self, store: &Store, doc: &str) -> Result<u64, DuetError> {
        if let Some((at, versions)) = &self.versions_seen {
            if *at == store.flush_count() {
                return Ok(versions.get(doc).copied().unwrap_or(0));
            }
        }
        Ok(self.reader.doc_version(&self.id, doc)?)
    }

    /// Whether a meeting's document is in memory here (it may hold what the store does not).
    pub fn meeting_loaded(&self, id: &str) -> bool {
        self.meetings.contains_key(id)
    }

    /// Records that a kept value was written, so [`Self::flush_caches`] makes it durable.
    pub(crate) fn kept_written(&mut self) {
        self.caches_written = true;
    }

    /// Makes the caches a read filled in durable (a view computed on a miss), so the next
    /// process finds them; nothing to do when the read filled none.
    pub fn flush_caches(&mut self, store: &Store) -> Result<(), DuetError> {
        if std::mem::take(&mut self.caches_written) {
            store.flush()?;
        }
        Ok(())
    }

    /// A document's heads, without loading it when the store remembers them for its
    /// current version; empty for a document this home lacks.
    pub fn heads(&mut self, store: &Store, id: &str) -> Result<Vec<ChangeHash>, DuetError> {
        let loaded = match id {
            index::INDEX_DOC => self.index.as_mut(),
            COMMITMENTS_DOC => self.commitments.as_mut(),
            _ => self.meetings.get_mut(id),
        };
        if let Some(doc) = loaded {
            return Ok(doc.am.get_heads());
        }
        let version = self.reader.doc_version(&self.id, id)?;
        if let Some(heads) = HeadsCache::read(store, &self.id, id, version) {
            return Ok(heads);
        }
        if self.reader.load_doc(&self.id, id)?.is_none() {
            return Ok(Vec::new());
        }
        let heads = self.doc(id)?.am.get_heads();
        HeadsCache::write(store, &self.id, id, version, &heads);
        Ok(heads)
    }

    /// Every document id of this notebook in the store or in memory.
    pub fn all_doc_ids(&self) -> Result<Vec<String>, DuetError> {
        let mut ids = self.reader.doc_ids(&self.id)?;
        ids.extend(self.meetings.keys().cloned());
        ids.push(if self.personal {
            crate::model::private::PRIVATE_DOC.to_owned()
        } else {
            index::INDEX_DOC.to_owned()
        });
        if self.commitments.is_some() {
            ids.push(COMMITMENTS_DOC.to_owned());
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}

fn load_doc(
    reader: &DocReader,
    notebook: &str,
    doc: &str,
    actor: &ActorId,
) -> Result<Option<Doc>, DuetError> {
    let Some(stored) = reader.load_doc(notebook, doc)? else {
        return Ok(None);
    };
    let am = AutoCommit::load(&stored.bytes).map_err(|e| {
        DuetError::Store(StoreError::Corrupt {
            what: format!("document {doc} of notebook {notebook} does not load: {e}"),
        })
    })?;
    Ok(Some(Doc::loaded(am, actor, stored.chunks)))
}

/// What persisting a document wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Persisted {
    /// Nothing was new.
    Nothing,
    /// New changes to a document the store had.
    Changes,
    /// A document new to the store.
    New,
}

/// Writes a document's new changes.
fn persist_doc(
    store: &mut Store,
    notebook: &str,
    id: &str,
    doc: &mut Doc,
) -> Result<Persisted, DuetError> {
    let heads = doc.am.get_heads();
    if heads == doc.persisted {
        return Ok(Persisted::Nothing);
    }
    let new = doc.persisted.is_empty();
    // A document new to the store (made here, or arrived whole from a peer) is kept as one
    // compact snapshot: its whole history as change chunks would be several times larger
    // and slower to write and load. Otherwise the new changes become a chunk, and every
    // COMPACT_AFTER_CHUNKS chunks are folded into the snapshot.
    let fold = if doc.persisted.is_empty() {
        true
    } else {
        let changes = doc.am.save_after(&doc.persisted);
        if changes.is_empty() {
            doc.persisted = heads;
            return Ok(Persisted::Nothing);
        }
        store.append_chunk(notebook, id, &changes)?;
        doc.chunks += 1;
        doc.chunks >= COMPACT_AFTER_CHUNKS
    };
    if fold {
        let snapshot = doc.am.save();
        store.compact(notebook, id, &snapshot)?;
        doc.chunks = 0;
    }
    let version = store.reader().doc_version(notebook, id)?;
    HeadsCache::write(store, notebook, id, version, &heads);
    doc.persisted = heads;
    Ok(if new {
        Persisted::New
    } else {
        Persisted::Changes
    })
}

/// A document's heads at a stored version, so a sync can compare documents without
/// loading them. Written after the document's records (and the version bump before them),
/// so a crash between the two leaves a cache whose version no longer matches: ignored.
#[derive(serde::Serialize, serde::Deserialize)]
struct HeadsCache {
    version: u64,
    heads: Vec<[u8; 32]>,
}

impl HeadsCache {
    fn key(notebook: &str, doc: &str) -> String {
        format!("heads/{notebook}/{doc}")
    }

    fn read(store: &Store, notebook: &str, doc: &str, version: u64) -> Option<Vec<ChangeHash>> {
        let bytes = store
            .get(&CacheEntry(Self::key(notebook, doc)))
            .ok()
            .flatten()?;
        let cached: HeadsCache = postcard::from_bytes(&bytes).ok()?;
        (cached.version == version && version != 0)
            .then(|| cached.heads.into_iter().map(ChangeHash).collect())
    }

    /// Best effort, like [`CurrentCache::write`]: losing it costs a document load.
    fn write(store: &Store, notebook: &str, doc: &str, version: u64, heads: &[ChangeHash]) {
        let cached = HeadsCache {
            version,
            heads: heads.iter().map(|h| h.0).collect(),
        };
        if let Ok(bytes) = postcard::to_allocvec(&cached) {
            if let Err(e) = store.put(&CacheEntry(Self::key(notebook, doc)), &bytes) {
                tracing::debug!(error = %e, "heads not cached");
            }
        }
    }
}

/// What a meeting document holds, as plain values: the part of a meeting's view that does
/// not come from the index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct MeetingParts {
    pub agenda: Vec<AgendaItem>,
    pub sections: Vec<SectionText>,
    pub commitments: Vec<Commitment>,
}

impl MeetingParts {
    fn read(doc: &AutoCommit) -> Result<MeetingParts, DuetError> {
        Ok(MeetingParts {
            agenda: meeting::agenda(doc)?,
            sections: meeting::sections(doc)?,
            commitments: meeting::commitments(doc)?,
        })
    }
}

/// A meeting's plain view at a stored version of its document, kept like [`HeadsCache`]: a
/// version that no longer matches is ignored. Bump [`Self::FORMAT`] whenever the view types
/// change, so an older cache is never misread.
struct ViewCache;

impl ViewCache {
    const FORMAT: u32 = 2;

    fn key(notebook: &str, doc: &str) -> String {
        format!("view/{}/{notebook}/{doc}", Self::FORMAT)
    }

    fn read(store: &Store, notebook: &str, doc: &str, version: u64) -> Option<MeetingParts> {
        read_versioned(store, &Self::key(notebook, doc), version)
    }

    /// Best effort, like [`HeadsCache::write`]: losing it costs a document load.
    fn write(store: &Store, notebook: &str, doc: &str, version: u64, parts: &MeetingParts) {
        write_versioned(store, &Self::key(notebook, doc), version, parts);
    }
}

/// What reads need from the index document, as plain values (see [`Notebook::index_view`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct IndexView {
    pub title: String,
    pub people: Vec<Person>,
    pub cadence: Cadence,
    /// (device public key, person id).
    pub devices: Vec<(String, String)>,
    /// By date then id.
    pub meetings: Vec<MeetingSummary>,
    pub backlog: Vec<AgendaItem>,
    pub carried: Vec<AgendaItem>,
    pub questions: Vec<crate::model::questions::Question>,
}

impl IndexView {
    /// Bump whenever the view's types change.
    const FORMAT: u32 = 2;

    fn key(notebook: &str) -> String {
        format!("index-view/{}/{notebook}", Self::FORMAT)
    }

    fn read(doc: &AutoCommit) -> Result<IndexView, DuetError> {
        Ok(IndexView {
            title: index::title(doc)?,
            people: index::people(doc)?,
            cadence: index::cadence(doc)?,
            devices: index::devices(doc)?,
            meetings: index::meetings(doc)?,
            backlog: index::backlog(doc)?,
            carried: index::carried(doc)?,
            questions: crate::model::questions::all(doc)?,
        })
    }

    /// The person a device writes as.
    pub fn device_person(&self, device: &str) -> Option<String> {
        self.devices
            .iter()
            .find(|(d, _)| d == device)
            .map(|(_, p)| p.clone())
    }
}

/// A value kept in the cache tree at a stored version of what it was computed from (the
/// version, then deflated postcard); a version that no longer matches reads as absent.
pub(crate) fn read_versioned<T: serde::de::DeserializeOwned>(
    store: &Store,
    key: &str,
    version: u64,
) -> Option<T> {
    if version == 0 {
        return None;
    }
    let bytes = store.get(&CacheEntry(key.to_owned())).ok().flatten()?;
    let (stored, packed) = bytes.split_at_checked(8)?;
    if u64::from_be_bytes(stored.try_into().ok()?) != version {
        return None;
    }
    let plain = crate::packing::inflate(packed, MAX_KEPT_VIEW)?;
    postcard::from_bytes(&plain).ok()
}

/// Where the end of a notebook's 1-1 is kept (see [`Notebook::ended`]).
fn ended_key(notebook: &str) -> String {
    format!("ended/1/{notebook}")
}

/// Bump whenever the kept open-commitments list changes shape.
const OPEN_LIST_FORMAT: u32 = 1;

/// The largest a kept view may inflate to; anything larger is damage, and is recomputed.
const MAX_KEPT_VIEW: usize = 64 * 1024 * 1024;

/// Best effort: a cache that cannot be written (a nearly full disk) costs a recomputation.
pub(crate) fn write_versioned<T: serde::Serialize>(
    store: &Store,
    key: &str,
    version: u64,
    value: &T,
) {
    if version == 0 {
        return;
    }
    let Ok(plain) = postcard::to_allocvec(value) else {
        return;
    };
    let Some(bytes) = crate::packing::deflate(&version.to_be_bytes(), &plain) else {
        return;
    };
    if let Err(e) = store.put(&CacheEntry(key.to_owned()), &bytes) {
        tracing::debug!(error = %e, key, "cache entry not written");
    }
}

/// What a document was when something was computed from it: its heads when loaded, or its
/// stored version when it was not.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IndexState {
    Heads(Vec<ChangeHash>),
    Stored(u64),
}

fn missing(notebook: &str, doc: &str) -> DuetError {
    DuetError::Store(StoreError::Corrupt {
        what: format!("the {doc} document of notebook {notebook} is missing"),
    })
}

/// The current meeting as computed at a stored version of the index, kept in the store so
/// the next process can skip loading the index when it has not changed.
#[derive(serde::Serialize, serde::Deserialize)]
struct CurrentCache {
    version: u64,
    meeting: Option<MeetingSummary>,
}

impl CurrentCache {
    fn key(notebook: &str) -> String {
        format!("current-meeting/{notebook}")
    }

    /// The cached value; an unreadable one counts as absent (it is only a cache).
    fn read(store: &Store, notebook: &str) -> Result<Option<CurrentCache>, DuetError> {
        Ok(store
            .get(&CacheEntry(Self::key(notebook)))
            .ok()
            .flatten()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Saves the value; it becomes durable with the next flush, and losing it costs only a
    /// recomputation. A read-only command must not fail for its cache, so a write that is
    /// refused (a nearly full disk) is skipped.
    fn write(&self, store: &Store, notebook: &str) {
        if let Ok(bytes) = serde_json::to_vec(self) {
            if let Err(e) = store.put(&CacheEntry(Self::key(notebook)), &bytes) {
                tracing::debug!(error = %e, "current meeting not cached");
            }
        }
    }
}
