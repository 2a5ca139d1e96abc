//! Undo and redo of this device's own edits, per notebook.
//!
//! Every edit saved through the façade is written down on this device's undo list (in the
//! home, in the same flush as the edit, so the list survives a restart or a crash): what
//! it was, and each document's heads before and after it. Undo reverts the newest one as
//! a new edit on top of the notebook as it is now (`model::undo` has the merge rules), so
//! it syncs like any edit; that edit goes on the redo list, and redo reverts it in turn.
//! A new edit empties the redo list, as in every editor.
//!
//! The lists are this device's: another device's edits are never undone from here, and
//! what another person changed since is kept and named in the result.

use super::*;
use crate::duet::settings::UndoJournal;
use crate::model::undo::{self, Left, LeftKind};
use automerge::ChangeHash;
use std::collections::{BTreeMap, BTreeSet};

/// Edits an undo list keeps per notebook (the oldest go first).
pub const MAX_UNDO_EDITS: usize = 100;
/// Characters of an edit's description kept (the text it quotes is cut to fit).
const MAX_WHAT_CHARS: usize = 80;

/// One document's part of an edit: its heads before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditStep {
    /// The space the document is in: empty for the notebook itself, else the person's
    /// personal space (a private note about the notebook is on the notebook's list).
    space: String,
    doc: String,
    before: Vec<[u8; 32]>,
    after: Vec<[u8; 32]>,
}

/// An edit on the undo (or redo) list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditEntry {
    what: String,
    at_ms: i64,
    steps: Vec<EditStep>,
}

/// A notebook's undo and redo lists on this device, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditJournal {
    undo: Vec<EditEntry>,
    redo: Vec<EditEntry>,
}

/// An edit as the lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EditRecord {
    /// What it was ("note in Wins: “Shipped the importer”").
    pub what: String,
    /// When it was made (milliseconds since the Unix epoch).
    pub at_ms: i64,
}

/// A notebook's undo and redo lists, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UndoList {
    /// What `undo` would undo, the next first.
    pub undo: Vec<EditRecord>,
    /// What `redo` would redo, the next first.
    pub redo: Vec<EditRecord>,
}

/// What an undo or redo did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Undone {
    /// The edit undone (or redone).
    pub what: String,
    /// What it left as it is because it was changed since, in words.
    pub left: Vec<String>,
}

fn hashes(heads: &[ChangeHash]) -> Vec<[u8; 32]> {
    heads.iter().map(|h| h.0).collect()
}

fn heads(hashes: &[[u8; 32]]) -> Vec<ChangeHash> {
    hashes.iter().map(|h| ChangeHash(*h)).collect()
}

/// `what`, cut to [`MAX_WHAT_CHARS`] characters on one line.
pub(super) fn short_what(what: &str) -> String {
    let line: String = what.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= MAX_WHAT_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_WHAT_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// An edit's description quoting what was typed: `note in Wins: “…”`.
pub(super) fn quoting(what: &str, text: &str) -> String {
    short_what(&format!("{what}: “{}”", text.trim()))
}

impl EditEntry {
    fn record(&self) -> EditRecord {
        EditRecord {
            what: self.what.clone(),
            at_ms: self.at_ms,
        }
    }
}

impl Duet {
    /// Writes `what` on the notebook's undo list with what `nb`'s unsaved changes are, and
    /// empties the redo list (not flushed: the edit's own flush carries it).
    pub(super) fn note_edit(&mut self, nb: &mut Notebook, what: &str) -> Result<(), DuetError> {
        let steps = Self::unsaved_steps(nb, "");
        let notebook = nb.id.clone();
        self.note_steps(&notebook, what, steps)
    }

    /// Writes `what` on `notebook`'s undo list as `steps` (not flushed).
    pub(super) fn note_steps(
        &mut self,
        notebook: &str,
        what: &str,
        steps: Vec<EditStep>,
    ) -> Result<(), DuetError> {
        if steps.is_empty() {
            return Ok(());
        }
        let key = UndoJournal(notebook.to_owned());
        let mut journal = self.store.get(&key)?.unwrap_or_default();
        journal.undo.push(EditEntry {
            what: short_what(what),
            at_ms: now_millis(),
            steps,
        });
        let over = journal.undo.len().saturating_sub(MAX_UNDO_EDITS);
        journal.undo.drain(..over);
        journal.redo.clear();
        self.store.put(&key, &journal)?;
        Ok(())
    }

    /// What `nb` (the notebook, or with `space` named, another space) changed in memory.
    pub(super) fn unsaved_steps(nb: &mut Notebook, space: &str) -> Vec<EditStep> {
        nb.unsaved_changes()
            .into_iter()
            .map(|(doc, before, after)| EditStep {
                space: space.to_owned(),
                doc,
                before: hashes(&before),
                after: hashes(&after),
            })
            .collect()
    }

    /// The current notebook's undo and redo lists on this device, newest first.
    pub fn undo_list(&self) -> Result<UndoList, DuetError> {
        let id = self.current_id()?;
        let journal = self.store.get(&UndoJournal(id))?.unwrap_or_default();
        Ok(UndoList {
            undo: journal.undo.iter().rev().map(EditEntry::record).collect(),
            redo: journal.redo.iter().rev().map(EditEntry::record).collect(),
        })
    }

    /// Undoes this device's newest edit of the current notebook not yet undone, as a new
    /// edit: what others changed since is kept, and said.
    pub fn undo(&mut self) -> Result<Undone, DuetError> {
        self.step_back(true)
    }

    /// Redoes the newest undo: exactly what it removed comes back (what others changed
    /// since is kept, and said).
    pub fn redo(&mut self) -> Result<Undone, DuetError> {
        self.step_back(false)
    }

    fn step_back(&mut self, undoing: bool) -> Result<Undone, DuetError> {
        let mut nb = self.load()?;
        let title = index::title(&nb.index()?.am)?;
        if let Some(ended) = nb.ended(&self.store)? {
            return Err(DuetError::Ended {
                title,
                on: ended.at,
            });
        }
        let key = UndoJournal(nb.id.clone());
        let mut journal = self.store.get(&key)?.unwrap_or_default();
        let (from, what) = if undoing {
            (&mut journal.undo, "undo")
        } else {
            (&mut journal.redo, "redo")
        };
        let entry = from.pop().ok_or(DuetError::NothingTo { what, title })?;
        let mut others: BTreeMap<String, Notebook> = BTreeMap::new();
        for step in entry.steps.iter().filter(|s| !s.space.is_empty()) {
            if !others.contains_key(&step.space) {
                let space = Notebook::load_kind(&self.store, &step.space, &self.actor, true)?;
                others.insert(step.space.clone(), space);
            }
        }
        let left = match revert_entry(&mut nb, &mut others, &entry) {
            Ok(left) => left,
            Err(e @ DuetError::EditGone { .. }) => {
                // Off the list for good, so the next undo reaches the edits still here.
                self.store.put(&key, &journal)?;
                self.store.flush()?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let mut steps = Self::unsaved_steps(&mut nb, "");
        for (space, other) in &mut others {
            steps.extend(Self::unsaved_steps(other, space));
            other.persist(&mut self.store)?;
        }
        let done = EditEntry {
            what: entry.what.clone(),
            at_ms: now_millis(),
            steps,
        };
        if undoing {
            journal.redo.push(done);
        } else {
            journal.undo.push(done);
        }
        self.store.put(&key, &journal)?;
        nb.persist(&mut self.store)?;
        self.keep(nb);
        Ok(Undone {
            what: entry.what,
            left,
        })
    }
}

/// Reverts every document of `entry` in `nb`, or in the other space it names, loaded in
/// `others` (in memory); what it left, in words.
fn revert_entry(
    nb: &mut Notebook,
    others: &mut BTreeMap<String, Notebook>,
    entry: &EditEntry,
) -> Result<Vec<String>, DuetError> {
    let gone = || DuetError::EditGone {
        what: entry.what.clone(),
    };
    let mut kept = BTreeSet::new();
    let mut words = Vec::new();
    // Each document's diff, read once; the documents the edit made have none.
    let mut diffs: Vec<Option<undo::Touched>> = Vec::new();
    // First what each document keeps, so the two halves of a move agree.
    for step in &entry.steps {
        let nb = space_of(nb, others, step).ok_or_else(gone)?;
        if !nb_holds(nb, &step.doc)? {
            return Err(gone());
        }
        let doc = &mut nb.doc(&step.doc)?.am;
        let (before, after) = (heads(&step.before), heads(&step.after));
        if before
            .iter()
            .chain(&after)
            .any(|h| doc.get_change_by_hash(h).is_none())
        {
            return Err(gone());
        }
        if before.is_empty() {
            // A document the edit made (the meeting a wrap booked): it stays whole, and is
            // only taken off the index, unless something was added to it since.
            if doc.get_heads() != after {
                kept.insert(step.doc.clone());
                words.push("the meeting it put on the books had additions since: kept".into());
            }
            diffs.push(None);
            continue;
        }
        let touched = undo::touched(doc, &before, &after)?;
        kept.extend(undo::kept_puts(doc, &touched)?);
        diffs.push(Some(touched));
    }
    for (step, touched) in entry.steps.iter().zip(&diffs) {
        let Some(touched) = touched else {
            continue;
        };
        let nb = space_of(nb, others, step).ok_or_else(gone)?;
        let doc = &mut nb.doc(&step.doc)?.am;
        for left in undo::revert(doc, touched, &kept)? {
            let said = describe(&left);
            if !words.contains(&said) {
                words.push(said);
            }
        }
    }
    Ok(words)
}

/// The space a step's document is in.
fn space_of<'a>(
    nb: &'a mut Notebook,
    others: &'a mut BTreeMap<String, Notebook>,
    step: &EditStep,
) -> Option<&'a mut Notebook> {
    if step.space.is_empty() {
        Some(nb)
    } else {
        others.get_mut(&step.space)
    }
}

fn nb_holds(nb: &mut Notebook, doc: &str) -> Result<bool, DuetError> {
    match nb.doc(doc) {
        Ok(_) => Ok(true),
        Err(DuetError::MeetingNotHere { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// What an undo left, in a person's words.
fn describe(left: &Left) -> String {
    let section = left
        .path
        .first()
        .and_then(|k| Section::ALL.into_iter().find(|s| s.key() == k));
    let place = match (section, left.path.first().map(String::as_str)) {
        (Some(s), _) if left.path.len() == 1 => format!("{} was", s.title()),
        (_, Some("agenda" | "backlog")) => "an agenda item was".to_owned(),
        (_, Some("commitments")) => "a commitment was".to_owned(),
        (_, Some("meetings")) => "the meeting's date or status was".to_owned(),
        (_, Some("cadence")) => "the rhythm was".to_owned(),
        (_, Some("title")) => "the title was".to_owned(),
        _ => "a part of the notebook was".to_owned(),
    };
    match left.kind {
        LeftKind::TextEditedSince => {
            format!("{place} edited since: your edit is undone, the rest is kept")
        }
        LeftKind::ChangedSince => format!("{place} changed since: left as it is now"),
    }
}
