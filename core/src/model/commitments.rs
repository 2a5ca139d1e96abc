//! The open-commitments document: which commitments are still open, and where each lives.
//!
//! ```text
//! ROOT { schema, kind: "duet-commitments", open { commitment_id: meeting_id } }
//! ```
//!
//! Each commitment lives in the meeting document it was made in; this document only points
//! at the open ones, and a pointer is deleted when its commitment closes (archiving it, with
//! no copy). It is its own document, not part of the index, because these pointers churn
//! (two changes per commitment, thousands over years) and the index must stay cheap to load
//! for every command: measured with five years of weekly 1-1s, the index with the pointers
//! inside took ~8 ms to load, without them ~1 ms. Only commands that show or change open
//! commitments load this document.

use super::am;
use super::{ModelError, SCHEMA_VERSION};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ReadDoc, ROOT};

/// The document id of a notebook's open-commitments document.
pub const COMMITMENTS_DOC: &str = "commitments";

/// Writes a new open-commitments document (only the notebook's creator calls this).
pub fn create(doc: &mut AutoCommit) -> Result<(), ModelError> {
    doc.put(ROOT, "schema", SCHEMA_VERSION)?;
    doc.put(ROOT, "kind", "duet-commitments")?;
    doc.put_object(ROOT, "open", ObjType::Map)?;
    Ok(())
}

/// Checks that a document is a Duet open-commitments document.
pub fn validate(doc: &AutoCommit) -> Result<(), ModelError> {
    if am::str(doc, &ROOT, "kind")?.as_deref() != Some("duet-commitments") {
        return Err(ModelError::Schema("not a Duet commitments document".into()));
    }
    am::required_map(doc, &ROOT, "open")?;
    Ok(())
}

/// Records an open commitment made in a meeting.
pub fn add_open(doc: &mut AutoCommit, id: &str, made_in: &str) -> Result<(), ModelError> {
    let map = am::required_map(doc, &ROOT, "open")?;
    doc.put(&map, id, made_in)?;
    Ok(())
}

/// Forgets an open commitment (it was closed; its record stays in its meeting).
pub fn remove_open(doc: &mut AutoCommit, id: &str) -> Result<(), ModelError> {
    let map = am::required_map(doc, &ROOT, "open")?;
    if doc.get(&map, id)?.is_some() {
        doc.delete(&map, id)?;
    }
    Ok(())
}

/// Open commitments as `(commitment id, meeting id)`.
pub fn open(doc: &AutoCommit) -> Result<Vec<(String, String)>, ModelError> {
    let map = am::required_map(doc, &ROOT, "open")?;
    let mut out = Vec::new();
    for id in am::keys(doc, &map) {
        if let Some(made_in) = am::str(doc, &map, &id)? {
            out.push((id, made_in));
        }
    }
    Ok(out)
}
