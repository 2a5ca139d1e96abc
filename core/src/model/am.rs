//! Small typed accessors over Automerge maps, shared by the index and meeting schemas.

use super::ModelError;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, Value};

/// The map object at `key` in `obj`, if there is one.
pub fn map(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<ObjId>, ModelError> {
    Ok(match doc.get(obj, key)? {
        Some((Value::Object(ObjType::Map), id)) => Some(id),
        _ => None,
    })
}

/// The map object at `key`, or a schema error naming it.
pub fn required_map(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<ObjId, ModelError> {
    map(doc, obj, key)?.ok_or_else(|| ModelError::Schema(format!("missing map {key:?}")))
}

/// Every map object ever put at `key` concurrently: the deterministic winner first.
pub fn all_maps(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Vec<ObjId>, ModelError> {
    let mut all: Vec<ObjId> = doc
        .get_all(obj, key)?
        .into_iter()
        .filter(|(v, _)| matches!(v, Value::Object(ObjType::Map)))
        .map(|(_, id)| id)
        .collect();
    if let Some(winner) = map(doc, obj, key)? {
        all.retain(|id| *id != winner);
        all.insert(0, winner);
    }
    Ok(all)
}

/// The keys of a map, sorted.
pub fn keys(doc: &AutoCommit, obj: &ObjId) -> Vec<String> {
    doc.keys(obj).collect()
}

/// A string scalar, if present.
pub fn str(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<String>, ModelError> {
    Ok(doc
        .get(obj, key)?
        .and_then(|(v, _)| v.as_str().map(str::to_owned)))
}

/// Every concurrent string value at `key`: the deterministic winner first, then the others.
pub fn all_str(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Vec<String>, ModelError> {
    let winner = str(doc, obj, key)?;
    let mut values: Vec<String> = doc
        .get_all(obj, key)?
        .into_iter()
        .filter_map(|(v, _)| v.as_str().map(str::to_owned))
        .collect();
    values.sort();
    values.dedup();
    if let Some(w) = winner {
        values.retain(|v| *v != w);
        values.insert(0, w);
    }
    Ok(values)
}

/// An integer scalar, if present.
pub fn int(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<i64>, ModelError> {
    Ok(doc.get(obj, key)?.and_then(|(v, _)| match v {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Int(i) => Some(*i),
            ScalarValue::Uint(u) => i64::try_from(*u).ok(),
            ScalarValue::Timestamp(t) => Some(*t),
            ScalarValue::F64(f) => Some(*f as i64),
            _ => None,
        },
        _ => None,
    }))
}

/// A float scalar, if present (integers read as floats).
pub fn float(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<f64>, ModelError> {
    Ok(doc.get(obj, key)?.and_then(|(v, _)| match v {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::F64(f) => Some(*f),
            ScalarValue::Int(i) => Some(*i as f64),
            ScalarValue::Uint(u) => Some(*u as f64),
            _ => None,
        },
        _ => None,
    }))
}

/// A boolean scalar, if present.
pub fn bool(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<bool>, ModelError> {
    Ok(doc.get(obj, key)?.and_then(|(v, _)| v.as_bool()))
}

/// The text of a Text object at `key`; a plain string there reads as text too, so documents
/// written by other tools with string fields still show.
pub fn text(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<String, ModelError> {
    Ok(match doc.get(obj, key)? {
        Some((Value::Object(ObjType::Text), id)) => doc.text(&id)?,
        Some((v, _)) => v.as_str().map(str::to_owned).unwrap_or_default(),
        None => String::new(),
    })
}

/// The Text object at `key`, made if absent. Only call where a concurrent creation is
/// harmless or impossible (see the module rules).
pub fn text_obj(doc: &mut AutoCommit, obj: &ObjId, key: &str) -> Result<ObjId, ModelError> {
    if let Some((Value::Object(ObjType::Text), id)) = doc.get(obj, key)? {
        return Ok(id);
    }
    Ok(doc.put_object(obj, key, ObjType::Text)?)
}

/// Puts a new Text object holding `content` at `key`.
pub fn put_text(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    content: &str,
) -> Result<ObjId, ModelError> {
    let id = doc.put_object(obj, key, ObjType::Text)?;
    doc.splice_text(&id, 0, 0, content)?;
    Ok(id)
}

/// Appends `content` to a Text object as a new paragraph (a newline between entries).
/// Reads only the last character, so appending costs the same however long the text is.
///
/// The first paragraph of an empty text is written with a newline after it: two devices
/// that both start a section offline then merge into two paragraphs, not one run-on line.
pub fn append_paragraph(
    doc: &mut AutoCommit,
    text: &ObjId,
    content: &str,
) -> Result<(), ModelError> {
    let len = doc.length(text);
    let ends_open = match len.checked_sub(1) {
        Some(last) => doc
            .get(text, last)?
            .is_some_and(|(v, _)| v.as_str() != Some("\n")),
        None => false,
    };
    let joined = if ends_open {
        format!("\n{content}")
    } else if len == 0 {
        format!("{content}\n")
    } else {
        content.to_owned()
    };
    doc.splice_text(text, len, 0, &joined)?;
    Ok(())
}

/// The map at `key`, made if absent (for the same rule as [`text_obj`]).
pub fn map_obj(doc: &mut AutoCommit, obj: &ObjId, key: &str) -> Result<ObjId, ModelError> {
    if let Some(id) = map(doc, obj, key)? {
        return Ok(id);
    }
    Ok(doc.put_object(obj, key, ObjType::Map)?)
}
