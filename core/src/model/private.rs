//! The personal document: one person's private notes about their 1-1s, never part of a
//! shared notebook. It lives in the person's personal space, whose secret only their own
//! devices hold.
//!
//! ```text
//! ROOT { schema, kind: "duet-private",
//!        "note/<id>": { notebook, meeting, text, at },
//!        device/<pubkey>, removed/<pubkey>, epoch/<id> }     the space's own devices
//! ```
//!
//! The personal space's membership (each of the person's devices' own record, removals and
//! key epochs) sits beside the notes, in the same shape as a notebook's index holds it
//! (see `members`): removing a lost phone moves private notes to keys it never gets.
//!
//! Notes sit directly under the root, each under its own fresh key, and the document has no
//! container made at creation: two devices that each started a personal document before
//! they were linked merge into one holding every note of both.

use super::am;
use super::{ModelError, SCHEMA_VERSION};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT};
use serde::{Deserialize, Serialize};

/// The document id of the personal document inside the personal space.
pub const PRIVATE_DOC: &str = "private";
const KIND: &str = "duet-private";
const NOTE_PREFIX: &str = "note/";

/// One private note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateNote {
    /// Random id.
    pub id: String,
    /// The notebook it is about.
    pub notebook: String,
    /// The meeting it was written for.
    pub meeting: Option<String>,
    /// The text.
    pub text: String,
    /// When it was written (Unix milliseconds).
    pub at: i64,
}

/// Marks a document as a personal document (harmless to repeat on any device).
pub fn create(doc: &mut AutoCommit) -> Result<(), ModelError> {
    doc.put(ROOT, "schema", SCHEMA_VERSION)?;
    doc.put(ROOT, "kind", KIND)?;
    Ok(())
}

/// Checks that a document is a personal document.
pub fn validate(doc: &AutoCommit) -> Result<(), ModelError> {
    if am::str(doc, &ROOT, "kind")?.as_deref() != Some(KIND) {
        return Err(ModelError::Schema("not a Duet personal document".into()));
    }
    Ok(())
}

/// Adds a note.
pub fn add(doc: &mut AutoCommit, note: &PrivateNote) -> Result<(), ModelError> {
    let obj = doc.put_object(ROOT, format!("{NOTE_PREFIX}{}", note.id), ObjType::Map)?;
    doc.put(&obj, "notebook", note.notebook.as_str())?;
    if let Some(meeting) = &note.meeting {
        doc.put(&obj, "meeting", meeting.as_str())?;
    }
    am::put_text(doc, &obj, "text", &note.text)?;
    doc.put(&obj, "at", note.at)?;
    Ok(())
}

/// Every note, oldest first.
pub fn notes(doc: &AutoCommit) -> Result<Vec<PrivateNote>, ModelError> {
    let mut out = Vec::new();
    for key in am::keys(doc, &ROOT) {
        let Some(id) = key.strip_prefix(NOTE_PREFIX) else {
            continue;
        };
        let Some(obj) = am::map(doc, &ROOT, &key)? else {
            continue;
        };
        out.push(PrivateNote {
            id: id.to_owned(),
            notebook: am::str(doc, &obj, "notebook")?.unwrap_or_default(),
            meeting: am::str(doc, &obj, "meeting")?,
            text: am::text(doc, &obj, "text")?,
            at: am::int(doc, &obj, "at")?.unwrap_or(0),
        });
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(id: &str, at: i64) -> PrivateNote {
        PrivateNote {
            id: id.into(),
            notebook: "nb".into(),
            meeting: Some("m1".into()),
            text: format!("thought {id}"),
            at,
        }
    }

    #[test]
    fn two_personal_documents_started_apart_merge_without_losing_a_note() {
        let mut a = AutoCommit::new();
        create(&mut a).expect("create");
        add(&mut a, &note("a1", 1)).expect("add");
        let mut b = AutoCommit::new();
        create(&mut b).expect("create");
        add(&mut b, &note("b1", 2)).expect("add");
        a.merge(&mut b).expect("merge");
        validate(&a).expect("valid");
        let ids: Vec<String> = notes(&a)
            .expect("notes")
            .into_iter()
            .map(|n| n.id)
            .collect();
        assert_eq!(ids, vec!["a1", "b1"]);
    }

    #[test]
    fn a_shared_document_is_not_a_personal_one() {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "kind", "duet-meeting").expect("put");
        assert!(validate(&doc).is_err());
    }
}
