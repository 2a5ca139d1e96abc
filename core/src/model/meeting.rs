//! A meeting document: one per meeting, loaded only when that meeting is shown or edited.
//!
//! ```text
//! ROOT { schema, kind: "duet-meeting", meeting_id,
//!        agenda      { item_id: agenda item (see `item`) },
//!        commitments { id: { text, owner, due, status, made_in, closed_at } },
//!        checkin, wins, challenges, look_ahead, notes,   # Text: the loose rhythm
//!        takeaway, next_steps, needs }                    # Text: the close
//! ```

use super::am;
use super::item::{self, NewItem};
use super::paragraphs;
use super::views::{AgendaItem, Commitment, Conflict, SectionText};
use super::{CommitmentStatus, ModelError, Section, SCHEMA_VERSION};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, ROOT};

/// Writes a new meeting document. Only the device creating the meeting calls this.
pub fn create(doc: &mut AutoCommit, meeting_id: &str) -> Result<(), ModelError> {
    doc.put(ROOT, "schema", SCHEMA_VERSION)?;
    doc.put(ROOT, "kind", "duet-meeting")?;
    doc.put(ROOT, "meeting_id", meeting_id)?;
    doc.put_object(ROOT, "agenda", ObjType::Map)?;
    doc.put_object(ROOT, "commitments", ObjType::Map)?;
    for section in Section::ALL {
        doc.put_object(ROOT, section.key(), ObjType::Text)?;
    }
    Ok(())
}

/// Checks that a document is a Duet meeting, returning its meeting id.
pub fn validate(doc: &AutoCommit) -> Result<String, ModelError> {
    if am::str(doc, &ROOT, "kind")?.as_deref() != Some("duet-meeting") {
        return Err(ModelError::Schema("not a Duet meeting document".into()));
    }
    am::required_map(doc, &ROOT, "agenda")?;
    am::required_map(doc, &ROOT, "commitments")?;
    am::str(doc, &ROOT, "meeting_id")?
        .ok_or_else(|| ModelError::Schema("meeting document without meeting_id".into()))
}

/// Appends a paragraph to a section.
pub fn append(doc: &mut AutoCommit, section: Section, text: &str) -> Result<(), ModelError> {
    let obj = am::text_obj(doc, &ROOT, section.key())?;
    am::append_paragraph(doc, &obj, text)
}

/// Replaces a section's text with a minimal diff, so concurrent typing still merges (and
/// lines added elsewhere meanwhile stay lines: see `paragraphs`).
///
/// A section whose text ends with a newline (its first paragraph was appended) keeps it,
/// so the next paragraph appended anywhere starts on a line of its own.
pub fn set(doc: &mut AutoCommit, section: Section, text: &str) -> Result<(), ModelError> {
    let obj = am::text_obj(doc, &ROOT, section.key())?;
    let ends_with_newline = doc.text(&obj)?.ends_with('\n');
    let text = text.trim_end_matches('\n');
    if ends_with_newline && !text.is_empty() {
        paragraphs::update_text(doc, &obj, &format!("{text}\n"))
    } else {
        paragraphs::update_text(doc, &obj, text)
    }
}

/// Every section's text, in display order.
pub fn sections(doc: &AutoCommit) -> Result<Vec<SectionText>, ModelError> {
    Section::ALL
        .into_iter()
        .map(|section| {
            Ok(SectionText {
                section,
                // A first paragraph is stored with a newline after it (see
                // `am::append_paragraph`); it is not part of what was written.
                text: am::text(doc, &ROOT, section.key())?
                    .trim_end_matches('\n')
                    .to_owned(),
            })
        })
        .collect()
}

/// The agenda map object, for item operations.
pub fn agenda_obj(doc: &AutoCommit) -> Result<ObjId, ModelError> {
    am::required_map(doc, &ROOT, "agenda")
}

/// The agenda's live items, in order.
pub fn agenda(doc: &AutoCommit) -> Result<Vec<AgendaItem>, ModelError> {
    item::list(doc, &agenda_obj(doc)?)
}

/// Adds an agenda item (no-op if an item with that id is already here).
pub fn add_item(doc: &mut AutoCommit, new: &NewItem<'_>) -> Result<bool, ModelError> {
    let agenda = agenda_obj(doc)?;
    item::put(doc, &agenda, new)
}

/// What a new commitment holds.
#[derive(Debug, Clone)]
pub struct NewCommitment<'a> {
    /// Fresh id.
    pub id: &'a str,
    /// What was promised.
    pub text: &'a str,
    /// Owner's person id.
    pub owner: &'a str,
    /// Due date.
    pub due: Option<&'a str>,
    /// The meeting this document belongs to.
    pub made_in: &'a str,
}

/// Records a commitment made in this meeting.
pub fn add_commitment(doc: &mut AutoCommit, new: &NewCommitment<'_>) -> Result<(), ModelError> {
    let map = am::required_map(doc, &ROOT, "commitments")?;
    let obj = doc.put_object(&map, new.id, ObjType::Map)?;
    am::put_text(doc, &obj, "text", new.text)?;
    doc.put(&obj, "owner", new.owner)?;
    if let Some(due) = new.due {
        doc.put(&obj, "due", due)?;
    }
    doc.put(&obj, "status", CommitmentStatus::Open.as_str())?;
    doc.put(&obj, "made_in", new.made_in)?;
    Ok(())
}

/// Closes or reopens a commitment.
pub fn set_commitment_status(
    doc: &mut AutoCommit,
    id: &str,
    status: CommitmentStatus,
    at: i64,
) -> Result<(), ModelError> {
    let map = am::required_map(doc, &ROOT, "commitments")?;
    let obj = am::map(doc, &map, id)?.ok_or_else(|| ModelError::Missing {
        kind: "commitment",
        id: id.to_owned(),
    })?;
    doc.put(&obj, "status", status.as_str())?;
    if status == CommitmentStatus::Open {
        doc.delete(&obj, "closed_at")?;
    } else {
        doc.put(&obj, "closed_at", at)?;
    }
    Ok(())
}

/// Rewords a commitment or moves its due date; concurrent typing in the text merges.
pub fn edit_commitment(
    doc: &mut AutoCommit,
    id: &str,
    text: Option<&str>,
    due: Option<&str>,
) -> Result<(), ModelError> {
    let map = am::required_map(doc, &ROOT, "commitments")?;
    let obj = am::map(doc, &map, id)?.ok_or_else(|| ModelError::Missing {
        kind: "commitment",
        id: id.to_owned(),
    })?;
    if let Some(text) = text {
        let t = am::text_obj(doc, &obj, "text")?;
        doc.update_text(&t, text)?;
    }
    if let Some(due) = due {
        let before = am::str(doc, &obj, "due")?;
        // Dates are stored as YYYY-MM-DD, so text order is date order.
        if before.as_deref().is_some_and(|b| b < due) {
            doc.put(&obj, format!("slip/{}", crate::ids::new_id()), due)?;
        }
        doc.put(&obj, "due", due)?;
    }
    Ok(())
}

/// Hands a commitment to another person.
pub fn set_commitment_owner(doc: &mut AutoCommit, id: &str, owner: &str) -> Result<(), ModelError> {
    let obj = commitment_obj(doc, id)?;
    doc.put(&obj, "owner", owner)?;
    Ok(())
}

/// Takes a commitment's due date away.
pub fn clear_commitment_due(doc: &mut AutoCommit, id: &str) -> Result<(), ModelError> {
    let obj = commitment_obj(doc, id)?;
    doc.delete(&obj, "due")?;
    Ok(())
}

fn commitment_obj(doc: &AutoCommit, id: &str) -> Result<ObjId, ModelError> {
    let map = am::required_map(doc, &ROOT, "commitments")?;
    am::map(doc, &map, id)?.ok_or_else(|| ModelError::Missing {
        kind: "commitment",
        id: id.to_owned(),
    })
}

/// Every commitment made in this meeting, in id order.
pub fn commitments(doc: &AutoCommit) -> Result<Vec<Commitment>, ModelError> {
    let map = am::required_map(doc, &ROOT, "commitments")?;
    let meeting = am::str(doc, &ROOT, "meeting_id")?.unwrap_or_default();
    let mut out = Vec::new();
    for id in am::keys(doc, &map) {
        let Some(obj) = am::map(doc, &map, &id)? else {
            continue;
        };
        out.push(read_commitment(doc, &obj, id, &meeting)?);
    }
    Ok(out)
}

/// One commitment made in this meeting.
pub fn commitment(doc: &AutoCommit, id: &str) -> Result<Option<Commitment>, ModelError> {
    let map = am::required_map(doc, &ROOT, "commitments")?;
    let meeting = am::str(doc, &ROOT, "meeting_id")?.unwrap_or_default();
    match am::map(doc, &map, id)? {
        Some(obj) => Ok(Some(read_commitment(doc, &obj, id.to_owned(), &meeting)?)),
        None => Ok(None),
    }
}

fn read_commitment(
    doc: &AutoCommit,
    obj: &ObjId,
    id: String,
    meeting: &str,
) -> Result<Commitment, ModelError> {
    let statuses = am::all_str(doc, obj, "status")?;
    let dues = am::all_str(doc, obj, "due")?;
    let mut conflicts = Vec::new();
    for (field, values) in [("status", &statuses), ("due", &dues)] {
        if values.len() > 1 {
            conflicts.push(Conflict {
                field: field.into(),
                values: values.clone(),
            });
        }
    }
    Ok(Commitment {
        id,
        text: am::text(doc, obj, "text")?,
        owner: am::str(doc, obj, "owner")?.unwrap_or_default(),
        due: dues.first().cloned(),
        status: CommitmentStatus::parse(statuses.first().map(String::as_str).unwrap_or("")),
        made_in: am::str(doc, obj, "made_in")?.unwrap_or_else(|| meeting.to_owned()),
        closed_at: am::int(doc, obj, "closed_at")?,
        conflicts,
        slips: u32::try_from(doc.keys(obj).filter(|k| k.starts_with("slip/")).count())
            .unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_paragraphs_are_separated_by_one_newline() {
        let mut doc = AutoCommit::new();
        create(&mut doc, "m1").expect("create");
        append(&mut doc, Section::Wins, "first").expect("append");
        append(&mut doc, Section::Wins, "second").expect("append");
        set(&mut doc, Section::Notes, "ends open\n").expect("set");
        append(&mut doc, Section::Notes, "next").expect("append");
        let all = sections(&doc).expect("sections");
        let text = |s: Section| all.iter().find(|t| t.section == s).map(|t| t.text.clone());
        assert_eq!(text(Section::Wins).as_deref(), Some("first\nsecond"));
        assert_eq!(text(Section::Notes).as_deref(), Some("ends open\nnext"));
        assert_eq!(validate(&doc).expect("valid"), "m1");
    }
}
