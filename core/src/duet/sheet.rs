//! Editing a whole meeting at once (`duet edit`): the meeting as a sheet with the document
//! versions it was read at, and a saved sheet applied against those versions.
//!
//! Text edits (sections, an item's or a commitment's wording) are made on a fork of the
//! document at the version the sheet was written from and merged back, so Automerge places
//! each splice where the person made it and keeps what another device typed meanwhile.
//! Ticks, new lines, drops and dates are made on the document as it is now: they are
//! independent writes that merge the same either way.
use super::agenda::{items_obj, place_doc, ItemPlace};
use super::*;
use crate::model::sheet::{self, Place, Sheet, SheetChange};
use automerge::ChangeHash;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;

/// The longest section a sheet may save: a whole meeting's notes fit many times over.
pub const MAX_SECTION_BYTES: usize = 256 * 1024;

/// A meeting to write out as a sheet, with what a front end needs to write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SheetSource {
    /// The notebook's id.
    pub notebook: String,
    /// The meeting as it is now.
    pub meeting: MeetingView,
    /// The notebook's title.
    pub title: String,
    /// The notebook's people (commitments name their owner).
    pub people: Vec<Person>,
    /// This device's person id, when it is registered.
    pub me: Option<String>,
    /// The versions the sheet is written from.
    pub heads: SheetHeads,
}

/// The versions of the documents a sheet was written from: the meeting's and the index's
/// (where carried items live), as hex change hashes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SheetHeads {
    /// The meeting document's heads.
    pub meeting: Vec<String>,
    /// The index document's heads.
    pub index: Vec<String>,
}

/// What applying a saved sheet did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SheetReport {
    /// The meeting edited.
    pub meeting: MeetingSummary,
    /// Every edit made, in order.
    pub changes: Vec<SheetChange>,
}

impl Duet {
    /// Makes the text edits on forks of the meeting and the index at the sheet's versions
    /// and merges them in. Returns the text edits whose target the old version lacks (an
    /// item that moved in since), to be made on the current version.
    fn apply_texts_at_base(
        &self,
        nb: &mut Notebook,
        meeting: &str,
        heads: &SheetHeads,
        changes: &[SheetChange],
    ) -> Result<Vec<SheetChange>, DuetError> {
        let texts: Vec<&SheetChange> = changes.iter().filter(|c| is_text(c)).collect();
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let mut meeting_fork = fork_at(&mut nb.meeting(meeting)?.am, &heads.meeting)?;
        let mut index_fork = None;
        let mut late = Vec::new();
        for change in texts {
            match change {
                SheetChange::SetSection { section, text } => {
                    meeting::set(&mut meeting_fork, *section, text)?
                }
                SheetChange::RewordCommitment { id, text } => {
                    meeting::edit_commitment(&mut meeting_fork, id, Some(text), None)?
                }
                SheetChange::RewordItem { id, text } => {
                    let agenda = meeting::agenda_obj(&meeting_fork)?;
                    if item::live(&meeting_fork, &agenda, id)?.is_some() {
                        item::set_text(&mut meeting_fork, &agenda, id, text)?;
                        continue;
                    }
                    if index_fork.is_none() {
                        index_fork = Some(fork_at(&mut nb.index()?.am, &heads.index)?);
                    }
                    let Some(fork) = index_fork.as_mut() else {
                        continue;
                    };
                    let backlog = index::backlog_obj(fork)?;
                    if item::live(fork, &backlog, id)?.is_some() {
                        item::set_text(fork, &backlog, id, text)?;
                    } else {
                        late.push(change.clone());
                    }
                }
                _ => {}
            }
        }
        nb.meeting(meeting)?.am.merge(&mut meeting_fork)?;
        if let Some(mut fork) = index_fork {
            nb.index()?.am.merge(&mut fork)?;
        }
        Ok(late)
    }

    /// Makes one edit on the current version of the documents. `at` is when a new item was
    /// added (one millisecond apart, in the sheet's order); `placed` is the item the last
    /// new or moved line went to, for the line after it.
    fn apply_change(
        &self,
        nb: &mut Notebook,
        meeting: &str,
        change: &SheetChange,
        at: i64,
        placed: &mut Option<String>,
    ) -> Result<(), DuetError> {
        match change {
            SheetChange::MoveItem { id, place } => {
                let doc = &mut nb.meeting(meeting)?.am;
                let agenda = meeting::agenda_obj(doc)?;
                // Carried items show after the meeting's own and keep their order.
                if item::live(doc, &agenda, id)?.is_some() {
                    if let Some(position) = position_at(doc, place, placed.as_deref(), Some(id))? {
                        item::set_position(doc, &agenda, id, position)?;
                    }
                }
                *placed = Some(id.clone());
            }
            SheetChange::AddItem { text, done, place } => {
                let author = self.me(nb)?;
                let id = ids::new_id();
                let doc = &mut nb.meeting(meeting)?.am;
                // A line written after a carried item goes last among the meeting's own.
                let position =
                    position_at(doc, place, placed.as_deref(), None)?.unwrap_or(at as f64);
                *placed = Some(id.clone());
                meeting::add_item(
                    doc,
                    &NewItem {
                        id: &id,
                        text,
                        author: &author,
                        added_at: at,
                        position,
                        carried_from: None,
                        discussed: *done,
                        recur: None,
                    },
                )?;
            }
            SheetChange::TickItem { id, done } => {
                let current = nb.current_meeting(&self.store)?.map(|m| m.id);
                for (place, id) in self.find_item(nb, id, Some(meeting))? {
                    let doc = place_doc(nb, &place)?;
                    let items = items_obj(doc, &place)?;
                    match (&place, &current, done) {
                        // A carried item ticked records the meeting it was discussed in.
                        (ItemPlace::Carried, Some(m), true) => {
                            item::set_discussed_in(doc, &items, &id, m)?
                        }
                        _ => item::set_discussed(doc, &items, &id, *done)?,
                    }
                }
            }
            SheetChange::RewordItem { id, text } => {
                for (place, id) in self.find_item(nb, id, Some(meeting))? {
                    let doc = place_doc(nb, &place)?;
                    let items = items_obj(doc, &place)?;
                    item::set_text(doc, &items, &id, text)?;
                }
            }
            SheetChange::DropItem { id } => {
                for (place, id) in self.find_item(nb, id, Some(meeting))? {
                    let doc = place_doc(nb, &place)?;
                    let items = items_obj(doc, &place)?;
                    item::mark_moved(doc, &items, &id, item::DROPPED)?;
                }
            }
            SheetChange::AddCommitment {
                text,
                owner,
                due,
                done,
            } => {
                let owner = self.resolve_owner(nb, &Owner::Named(owner.clone()))?;
                let id = ids::new_id();
                let doc = &mut nb.meeting(meeting)?.am;
                meeting::add_commitment(
                    doc,
                    &NewCommitment {
                        id: &id,
                        text,
                        owner: &owner,
                        due: due.as_deref(),
                        made_in: meeting,
                    },
                )?;
                if *done {
                    meeting::set_commitment_status(doc, &id, CommitmentStatus::Done, now_millis())?;
                } else {
                    commitments::add_open(&mut nb.commitments()?.am, &id, meeting)?;
                }
            }
            SheetChange::RedateCommitment { id, due } => {
                let doc = &mut nb.meeting(meeting)?.am;
                match due {
                    Some(due) => meeting::edit_commitment(doc, id, None, Some(due))?,
                    None => meeting::clear_commitment_due(doc, id)?,
                }
            }
            SheetChange::ReownCommitment { id, owner } => {
                let owner = self.resolve_owner(nb, &Owner::Named(owner.clone()))?;
                meeting::set_commitment_owner(&mut nb.meeting(meeting)?.am, id, &owner)?;
            }
            SheetChange::SetCommitmentStatus { id, status } => {
                meeting::set_commitment_status(
                    &mut nb.meeting(meeting)?.am,
                    id,
                    *status,
                    now_millis(),
                )?;
                let open = &mut nb.commitments()?.am;
                match status {
                    CommitmentStatus::Open => commitments::add_open(open, id, meeting)?,
                    _ => commitments::remove_open(open, id)?,
                }
            }
            SheetChange::SetSection { section, text } => {
                meeting::set(&mut nb.meeting(meeting)?.am, *section, text)?
            }
            SheetChange::RewordCommitment { id, text } => {
                meeting::edit_commitment(&mut nb.meeting(meeting)?.am, id, Some(text), None)?
            }
        }
        Ok(())
    }
}

impl<D: Deref<Target = Duet>> Meetings<D> {
    /// A meeting (by id prefix or date; the current one by default) to write out as a sheet.
    pub fn sheet(&self, meeting: Option<&str>) -> Result<SheetSource, DuetError> {
        let mut nb = self.duet.load()?;
        let id = resolve_meeting(&self.duet.store, &mut nb, meeting)?;
        let view = meeting_view(&self.duet.store, &mut nb, &id)?;
        let heads = SheetHeads {
            meeting: hex_heads(nb.meeting(&id)?.am.get_heads()),
            index: hex_heads(nb.index()?.am.get_heads()),
        };
        let index = nb.index_view(&self.duet.store)?;
        let nb_id = nb.id.clone();
        self.duet.keep(nb);
        Ok(SheetSource {
            notebook: nb_id,
            meeting: view,
            title: index.title.clone(),
            people: index.people.clone(),
            me: index.device_person(&self.duet.device.public_hex()),
            heads,
        })
    }
}

impl<D: DerefMut<Target = Duet>> Meetings<D> {
    /// Applies the difference between a sheet as written (`base`, read at `heads`) and as
    /// saved (`edited`) to meeting `meeting_id`, in one flushed write. Nothing is written
    /// when the sheet asks for something that cannot be done.
    pub fn apply_sheet(
        &mut self,
        meeting_id: &str,
        heads: &SheetHeads,
        base: &Sheet,
        edited: &Sheet,
    ) -> Result<SheetReport, DuetError> {
        let changes = sheet::changes(base, edited)?;
        let mut nb = self.duet.load()?;
        let id = resolve_meeting(&self.duet.store, &mut nb, Some(meeting_id))?;
        if changes.is_empty() {
            let meeting = summary(&mut nb, &id)?;
            self.duet.keep(nb);
            return Ok(SheetReport { meeting, changes });
        }
        for change in &changes {
            check_change(change)?;
        }
        let late = self
            .duet
            .apply_texts_at_base(&mut nb, &id, heads, &changes)?;
        let start = now_millis();
        let mut placed = None;
        for (at, change) in (start..).zip(changes.iter().filter(|c| !is_text(c)).chain(&late)) {
            self.duet
                .apply_change(&mut nb, &id, change, at, &mut placed)?;
        }
        self.duet.save(&mut nb, "edit of the meeting")?;
        let meeting = summary(&mut nb, &id)?;
        self.duet.keep(nb);
        Ok(SheetReport { meeting, changes })
    }
}

/// A position among the meeting's own items for a line written at `place` (`last`: the
/// item the line before it went to; `moving`: the item being placed, left out of the
/// reckoning), or `None` when the line follows an item that is not the meeting's own.
fn position_at(
    doc: &automerge::AutoCommit,
    place: &Place,
    last: Option<&str>,
    moving: Option<&str>,
) -> Result<Option<f64>, DuetError> {
    let agenda = meeting::agenda_obj(doc)?;
    let list: Vec<(String, f64)> = item::positions(doc, &agenda, item::Kept::All)?
        .into_iter()
        .filter(|(id, _)| Some(id.as_str()) != moving)
        .collect();
    let anchor = match place {
        Place::Top => None,
        Place::After(id) => Some(id.as_str()),
        Place::AfterPrevious => last,
    };
    let Some(anchor) = anchor else {
        return Ok(Some(list.first().map_or(0.0, |(_, first)| first - 1.0)));
    };
    Ok(list.iter().position(|(id, _)| id == anchor).map(|at| {
        let here = list[at].1;
        list.get(at + 1)
            .map_or(here + 1.0, |(_, next)| (here + next) / 2.0)
    }))
}

/// Whether a change rewrites text (made at the sheet's version).
fn is_text(change: &SheetChange) -> bool {
    matches!(
        change,
        SheetChange::SetSection { .. }
            | SheetChange::RewordItem { .. }
            | SheetChange::RewordCommitment { .. }
    )
}

/// Refuses what a single command would refuse too: empty or control-character text, a
/// due date that is not one.
fn check_change(change: &SheetChange) -> Result<(), DuetError> {
    match change {
        SheetChange::AddItem { text, .. } | SheetChange::RewordItem { text, .. } => {
            clean_text(text, "agenda item")?;
        }
        SheetChange::AddCommitment { text, due, .. } => {
            clean_text(text, "commitment")?;
            check_due(due.as_deref())?;
        }
        SheetChange::RewordCommitment { text, .. } => {
            clean_text(text, "commitment")?;
        }
        SheetChange::RedateCommitment { due, .. } => check_due(due.as_deref())?,
        SheetChange::SetSection { section, text } if text.len() > MAX_SECTION_BYTES => {
            return Err(DuetError::Invalid(format!(
                "the {} section is {} bytes; the limit is {MAX_SECTION_BYTES}",
                section.title(),
                text.len()
            )));
        }
        _ => {}
    }
    Ok(())
}

fn check_due(due: Option<&str>) -> Result<(), DuetError> {
    match due {
        Some(d) if d.parse::<Date>().is_err() => Err(DuetError::Invalid(format!(
            "the due date {d:?} is not a date (YYYY-MM-DD)"
        ))),
        _ => Ok(()),
    }
}

fn hex_heads(heads: Vec<ChangeHash>) -> Vec<String> {
    heads.into_iter().map(|h| h.to_string()).collect()
}

/// A fork of `doc` at the given heads; they must all be in this home's copy.
fn fork_at(
    doc: &mut automerge::AutoCommit,
    heads: &[String],
) -> Result<automerge::AutoCommit, DuetError> {
    let heads = heads
        .iter()
        .map(|h| ChangeHash::from_str(h).map_err(|_| DuetError::UnknownVersion))
        .collect::<Result<Vec<_>, _>>()?;
    if heads.iter().any(|h| doc.get_change_by_hash(h).is_none()) {
        return Err(DuetError::UnknownVersion);
    }
    doc.fork_at(&heads).map_err(|_| DuetError::UnknownVersion)
}
