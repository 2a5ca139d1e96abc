//! A notebook as loaded in memory: its index document, the meeting documents touched so
//! far, and how to write what changed back to the store.
//!
//! Only the index and the meetings an operation needs are ever loaded: the cost of an edit
//! does not grow with the number of past meetings.

use crate::error::DuetError;
use crate::model::commitments::{self, COMMITMENTS_DOC};
use crate::model::views::MeetingSummary;
use crate::model::{index, item, meeting};
use crate::store::{Store, StoreError, COMPACT_AFTER_CHUNKS};
use automerge::{ActorId, AutoCommit, ChangeHash};
use std::collections::BTreeMap;

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
        let am = AutoCommit::load(bytes).map_err(crate::model::ModelError::from)?;
        let mut doc = Doc::loaded(am, actor, 0);
        doc.persisted = Vec::new();
        Ok(doc)
    }
}

/// A notebook with its index loaded.
pub(crate) struct Notebook {
    pub id: String,
    pub index: Doc,
    pub meetings: BTreeMap<String, Doc>,
    /// The open-commitments document, loaded on first use.
    pub commitments: Option<Doc>,
    /// The current meeting as last computed, with the index heads it was computed at:
    /// finding it scans every meeting, so repeated edits reuse it until the index changes.
    current: Option<(Vec<ChangeHash>, Option<MeetingSummary>)>,
    actor: ActorId,
}

impl Notebook {
    /// Loads a notebook's index from the store.
    pub fn load(store: &Store, id: &str, actor: &ActorId) -> Result<Notebook, DuetError> {
        let index = load_doc(store, id, index::INDEX_DOC, actor)?.ok_or_else(|| {
            DuetError::Store(StoreError::Corrupt {
                what: format!("the index document of notebook {id} is missing"),
            })
        })?;
        index::validate(&index.am)?;
        Ok(Notebook {
            id: id.to_owned(),
            index,
            meetings: BTreeMap::new(),
            commitments: None,
            current: None,
            actor: actor.clone(),
        })
    }

    /// A new notebook in memory, with an empty index for the caller to fill.
    pub fn fresh(id: &str, actor: &ActorId) -> Notebook {
        Notebook {
            id: id.to_owned(),
            index: Doc::fresh(actor),
            meetings: BTreeMap::new(),
            commitments: None,
            current: None,
            actor: actor.clone(),
        }
    }

    /// The current meeting: the earliest one still to come.
    pub fn current_meeting(&mut self) -> Result<Option<MeetingSummary>, DuetError> {
        let heads = self.index.am.get_heads();
        if let Some((at, current)) = &self.current {
            if *at == heads {
                return Ok(current.clone());
            }
        }
        let current = index::current_meeting(&self.index.am)?;
        self.current = Some((heads, current.clone()));
        Ok(current)
    }

    /// The open-commitments document, loaded on first use.
    pub fn commitments(&mut self, store: &Store) -> Result<&mut Doc, DuetError> {
        if self.commitments.is_none() {
            let doc =
                load_doc(store, &self.id, COMMITMENTS_DOC, &self.actor)?.ok_or_else(|| {
                    DuetError::Store(StoreError::Corrupt {
                        what: format!(
                            "the commitments document of notebook {} is missing",
                            self.id
                        ),
                    })
                })?;
            commitments::validate(&doc.am)?;
            self.commitments = Some(doc);
        }
        self.commitments.as_mut().ok_or_else(|| {
            DuetError::Store(StoreError::Corrupt {
                what: "commitments document".into(),
            })
        })
    }

    /// The meeting's document, loaded on first use.
    pub fn meeting(&mut self, store: &Store, id: &str) -> Result<&mut Doc, DuetError> {
        if !self.meetings.contains_key(id) {
            let doc = load_doc(store, &self.id, id, &self.actor)?.ok_or_else(|| {
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
    pub fn doc(&mut self, store: &Store, id: &str) -> Result<&mut Doc, DuetError> {
        match id {
            index::INDEX_DOC => Ok(&mut self.index),
            COMMITMENTS_DOC => self.commitments(store),
            _ => self.meeting(store, id),
        }
    }

    /// Like [`Notebook::doc`], but a document the store lacks starts empty (to merge into).
    pub fn doc_or_empty(&mut self, store: &Store, id: &str) -> Result<&mut Doc, DuetError> {
        let stored = match id {
            index::INDEX_DOC => true,
            COMMITMENTS_DOC => {
                self.commitments.is_some() || store.load_doc(&self.id, id)?.is_some()
            }
            _ => self.has_meeting(store, id)?,
        };
        if !stored {
            let doc = Doc::fresh(&self.actor);
            if id == COMMITMENTS_DOC {
                self.commitments = Some(doc);
            } else {
                self.meetings.insert(id.to_owned(), doc);
            }
        }
        self.doc(store, id)
    }

    /// Whether the store holds this meeting's document.
    pub fn has_meeting(&self, store: &Store, id: &str) -> Result<bool, DuetError> {
        Ok(self.meetings.contains_key(id) || store.load_doc(&self.id, id)?.is_some())
    }

    /// Creates a meeting: its index entry and its document.
    pub fn create_meeting(&mut self, id: &str, date: &str) -> Result<(), DuetError> {
        index::add_meeting(&mut self.index.am, id, date)?;
        let mut doc = Doc::fresh(&self.actor);
        meeting::create(&mut doc.am, id)?;
        self.meetings.insert(id.to_owned(), doc);
        Ok(())
    }

    /// Copies edits made to moved items after they moved into the items' new homes.
    /// Looks only at documents already loaded (those a merge just touched).
    pub fn reconcile_moves(&mut self, store: &Store) -> Result<usize, DuetError> {
        let mut late = Vec::new();
        late.extend(item::late_edits(
            &self.index.am,
            &index::backlog_obj(&self.index.am)?,
        )?);
        for doc in self.meetings.values() {
            late.extend(item::late_edits(&doc.am, &meeting::agenda_obj(&doc.am)?)?);
        }
        let mut written = 0;
        for edit in late {
            let wrote = if edit.moved_to == "backlog" {
                let backlog = index::backlog_obj(&self.index.am)?;
                item::add_late_edit(&mut self.index.am, &backlog, &edit.id, &edit.text)?
            } else {
                match self.meeting(store, &edit.moved_to) {
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

    /// Appends every document's new changes to the store and flushes. After this returns,
    /// the edit survives a crash.
    pub fn persist(&mut self, store: &mut Store) -> Result<(), DuetError> {
        persist_doc(store, &self.id, index::INDEX_DOC, &mut self.index)?;
        if let Some(doc) = &mut self.commitments {
            persist_doc(store, &self.id, COMMITMENTS_DOC, doc)?;
        }
        for (id, doc) in &mut self.meetings {
            persist_doc(store, &self.id, id, doc)?;
        }
        store.flush()?;
        Ok(())
    }

    /// Every document id of this notebook in the store or in memory.
    pub fn all_doc_ids(&self, store: &Store) -> Result<Vec<String>, DuetError> {
        let mut ids = store.doc_ids(&self.id)?;
        ids.extend(self.meetings.keys().cloned());
        ids.push(index::INDEX_DOC.to_owned());
        if self.commitments.is_some() {
            ids.push(COMMITMENTS_DOC.to_owned());
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}

fn load_doc(
    store: &Store,
    notebook: &str,
    doc: &str,
    actor: &ActorId,
) -> Result<Option<Doc>, DuetError> {
    let Some(stored) = store.load_doc(notebook, doc)? else {
        return Ok(None);
    };
    let am = AutoCommit::load(&stored.bytes).map_err(|e| {
        DuetError::Store(StoreError::Corrupt {
            what: format!("document {doc} of notebook {notebook} does not load: {e}"),
        })
    })?;
    Ok(Some(Doc::loaded(am, actor, stored.chunks)))
}

fn persist_doc(
    store: &mut Store,
    notebook: &str,
    id: &str,
    doc: &mut Doc,
) -> Result<(), DuetError> {
    let heads = doc.am.get_heads();
    if heads == doc.persisted {
        return Ok(());
    }
    let changes = doc.am.save_after(&doc.persisted);
    if changes.is_empty() {
        doc.persisted = heads;
        return Ok(());
    }
    store.append_chunk(notebook, id, &changes)?;
    doc.chunks += 1;
    doc.persisted = heads;
    if doc.chunks >= COMPACT_AFTER_CHUNKS {
        let snapshot = doc.am.save();
        store.compact(notebook, id, &snapshot)?;
        doc.chunks = 0;
    }
    Ok(())
}
