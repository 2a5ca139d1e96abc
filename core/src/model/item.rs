//! Agenda items as stored in a map of items: in a meeting's `agenda` or the index's `backlog`.
//!
//! An item moves between documents by copy: the copy keeps the item's id as its key (so two
//! devices carrying the same item concurrently make one item), and the original is marked
//! `moved_to` with the text it had when it moved (`moved_text`). If another device edits
//! the original concurrently, [`late_edits`] finds the edit and [`add_late_edit`] records
//! it on the copy under a key derived from the text, so every device that reconciles it
//! writes the same key and nothing is lost or doubled.
//!
//! An item left undiscussed when its meeting ends is *carried*: it moves once into the
//! index's `backlog` map flagged `carried`, and stays there, on the agenda of whichever
//! meeting is current, until it is discussed, moved or dropped. Ending more meetings does
//! not touch it, so an item carried many times is stored once. Ticked there, it records the
//! meeting (`discussed_in`) and moves into that meeting's document when the meeting ends.
//! Dropping an item marks it moved to [`DROPPED`].

use super::am;
use super::views::AgendaItem;
use super::ModelError;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType};

/// What a new item holds.
#[derive(Debug, Clone)]
pub struct NewItem<'a> {
    /// Its id (fresh, or the id of the item being moved).
    pub id: &'a str,
    /// Text.
    pub text: &'a str,
    /// Author's person id.
    pub author: &'a str,
    /// Unix milliseconds.
    pub added_at: i64,
    /// Sort position.
    pub position: f64,
    /// The meeting it was carried from.
    pub carried_from: Option<&'a str>,
    /// Whether it was discussed already.
    pub discussed: bool,
    /// The recurring point it is an occurrence of (see `recur`).
    pub recur: Option<&'a str>,
}

/// Where a dropped item is marked moved to.
pub const DROPPED: &str = "dropped";

/// Puts an item into `items` unless a live one with that id is already there (a concurrent
/// or repeated carry of the same item). An item that once moved out of `items` and comes
/// back replaces its moved record. Returns whether it was added.
pub fn put(doc: &mut AutoCommit, items: &ObjId, item: &NewItem<'_>) -> Result<bool, ModelError> {
    if live(doc, items, item.id)?.is_some() {
        return Ok(false);
    }
    let obj = doc.put_object(items, item.id, ObjType::Map)?;
    am::put_text(doc, &obj, "text", item.text)?;
    doc.put(&obj, "author", item.author)?;
    doc.put(&obj, "added_at", item.added_at)?;
    doc.put(&obj, "position", item.position)?;
    doc.put(&obj, "discussed", item.discussed)?;
    if let Some(from) = item.carried_from {
        doc.put(&obj, "carried_from", from)?;
    }
    if let Some(point) = item.recur {
        doc.put(&obj, "recur", point)?;
    }
    Ok(true)
}

/// Which of the live items of a map a listing wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Every live item.
    All,
    /// Items kept for later (the backlog proper).
    ForLater,
    /// Items carried from an ended meeting, on the current agenda.
    Carried,
}

/// Reads every item still living in `items` (moved ones excluded), sorted by position.
pub fn list(doc: &AutoCommit, items: &ObjId) -> Result<Vec<AgendaItem>, ModelError> {
    list_kept(doc, items, Kept::All)
}

/// Reads the live items of `items` that `kept` wants, sorted by position.
pub fn list_kept(
    doc: &AutoCommit,
    items: &ObjId,
    kept: Kept,
) -> Result<Vec<AgendaItem>, ModelError> {
    let mut out = Vec::new();
    for id in am::keys(doc, items) {
        let copies = am::all_maps(doc, items, &id)?;
        let Some(first) = copies.first() else {
            continue;
        };
        if am::str(doc, first, "moved_to")?.is_some() {
            continue;
        }
        let carried = am::bool(doc, first, "carried")?.unwrap_or(false);
        match kept {
            Kept::All => {}
            Kept::ForLater if carried => continue,
            Kept::Carried if !carried => continue,
            Kept::ForLater | Kept::Carried => {}
        }
        let mut item = read(doc, first, &id)?;
        for other in &copies[1..] {
            let alt = am::text(doc, other, "text")?;
            if alt != item.text && !item.also.contains(&alt) {
                item.also.push(alt);
            }
        }
        out.push((am::float(doc, first, "position")?.unwrap_or(0.0), item));
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
    Ok(out.into_iter().map(|(_, item)| item).collect())
}

fn read(doc: &AutoCommit, obj: &ObjId, id: &str) -> Result<AgendaItem, ModelError> {
    let text = am::text(doc, obj, "text")?;
    let mut also = Vec::new();
    if let Some(late) = am::map(doc, obj, "late_edits")? {
        for key in am::keys(doc, &late) {
            if let Some(t) = am::str(doc, &late, &key)? {
                if t != text && !also.contains(&t) {
                    also.push(t);
                }
            }
        }
    }
    Ok(AgendaItem {
        id: id.to_owned(),
        text,
        author: am::str(doc, obj, "author")?.unwrap_or_default(),
        added_at: am::int(doc, obj, "added_at")?.unwrap_or(0),
        discussed: am::bool(doc, obj, "discussed")?.unwrap_or(false),
        carried_from: am::str(doc, obj, "carried_from")?,
        also,
        carried: 0,
        recurring: am::str(doc, obj, "recur")?,
    })
}

/// The meeting a carried item was ticked in, if it was.
pub fn discussed_in(
    doc: &AutoCommit,
    items: &ObjId,
    id: &str,
) -> Result<Option<String>, ModelError> {
    match live(doc, items, id)? {
        Some(obj) => am::str(doc, &obj, "discussed_in"),
        None => Ok(None),
    }
}

/// Flags an item as carried (on the current agenda) or kept for later.
pub fn set_carried(
    doc: &mut AutoCommit,
    items: &ObjId,
    id: &str,
    carried: bool,
) -> Result<(), ModelError> {
    let obj = live(doc, items, id)?.ok_or_else(|| missing(id))?;
    doc.put(&obj, "carried", carried)?;
    Ok(())
}

/// Marks a carried item discussed in `meeting`.
pub fn set_discussed_in(
    doc: &mut AutoCommit,
    items: &ObjId,
    id: &str,
    meeting: &str,
) -> Result<(), ModelError> {
    let obj = live(doc, items, id)?.ok_or_else(|| missing(id))?;
    doc.put(&obj, "discussed", true)?;
    doc.put(&obj, "discussed_in", meeting)?;
    Ok(())
}

/// The live (not moved) item with this id, as a map object.
pub fn live(doc: &AutoCommit, items: &ObjId, id: &str) -> Result<Option<ObjId>, ModelError> {
    match am::map(doc, items, id)? {
        Some(obj) if am::str(doc, &obj, "moved_to")?.is_none() => Ok(Some(obj)),
        _ => Ok(None),
    }
}

/// Reads the live item with this id.
pub fn get(doc: &AutoCommit, items: &ObjId, id: &str) -> Result<Option<AgendaItem>, ModelError> {
    match live(doc, items, id)? {
        Some(obj) => Ok(Some(read(doc, &obj, id)?)),
        None => Ok(None),
    }
}

/// Marks an item discussed (or not).
pub fn set_discussed(
    doc: &mut AutoCommit,
    items: &ObjId,
    id: &str,
    discussed: bool,
) -> Result<(), ModelError> {
    let obj = live(doc, items, id)?.ok_or_else(|| missing(id))?;
    doc.put(&obj, "discussed", discussed)?;
    Ok(())
}

/// Marks an item not discussed after all (a carried item forgets the meeting it was ticked
/// in, so it stays carried).
pub fn set_undiscussed(doc: &mut AutoCommit, items: &ObjId, id: &str) -> Result<(), ModelError> {
    let obj = live(doc, items, id)?.ok_or_else(|| missing(id))?;
    doc.put(&obj, "discussed", false)?;
    if am::str(doc, &obj, "discussed_in")?.is_some() {
        doc.delete(&obj, "discussed_in")?;
    }
    Ok(())
}

/// The live items of `items` that `kept` wants, as (id, position), in order.
pub fn positions(
    doc: &AutoCommit,
    items: &ObjId,
    kept: Kept,
) -> Result<Vec<(String, f64)>, ModelError> {
    let mut out = Vec::new();
    for id in am::keys(doc, items) {
        let Some(obj) = live(doc, items, &id)? else {
            continue;
        };
        let carried = am::bool(doc, &obj, "carried")?.unwrap_or(false);
        let wanted = match kept {
            Kept::All => true,
            Kept::ForLater => !carried,
            Kept::Carried => carried,
        };
        if wanted {
            out.push((id, am::float(doc, &obj, "position")?.unwrap_or(0.0)));
        }
    }
    out.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

/// Puts an item at another place in its list.
pub fn set_position(
    doc: &mut AutoCommit,
    items: &ObjId,
    id: &str,
    position: f64,
) -> Result<(), ModelError> {
    let obj = live(doc, items, id)?.ok_or_else(|| missing(id))?;
    doc.put(&obj, "position", position)?;
    Ok(())
}

/// Marks an item as moved to `to` (a meeting id or `backlog`), remembering its text then.
pub fn mark_moved(
    doc: &mut AutoCommit,
    items: &ObjId,
    id: &str,
    to: &str,
) -> Result<AgendaItem, ModelError> {
    let obj = live(doc, items, id)?.ok_or_else(|| missing(id))?;
    let item = read(doc, &obj, id)?;
    doc.put(&obj, "moved_to", to)?;
    doc.put(&obj, "moved_text", item.text.as_str())?;
    Ok(item)
}

/// A moved item whose text changed after it moved: an edit the new home has not seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateEdit {
    /// The item's id.
    pub id: String,
    /// Where it lives now.
    pub moved_to: String,
    /// The text as edited here after the move.
    pub text: String,
}

/// Finds moved items whose text differs from the text they had when they moved.
pub fn late_edits(doc: &AutoCommit, items: &ObjId) -> Result<Vec<LateEdit>, ModelError> {
    let mut out = Vec::new();
    for id in am::keys(doc, items) {
        for obj in am::all_maps(doc, items, &id)? {
            let Some(moved_to) = am::str(doc, &obj, "moved_to")? else {
                continue;
            };
            let text = am::text(doc, &obj, "text")?;
            let moved_texts = am::all_str(doc, &obj, "moved_text")?;
            if !moved_texts.contains(&text) {
                out.push(LateEdit {
                    id: id.clone(),
                    moved_to,
                    text,
                });
            }
        }
    }
    Ok(out)
}

/// Records a late edit on the item's new copy. Idempotent: the key derives from the text.
/// Returns whether anything was written.
pub fn add_late_edit(
    doc: &mut AutoCommit,
    items: &ObjId,
    id: &str,
    text: &str,
) -> Result<bool, ModelError> {
    let Some(obj) = am::map(doc, items, id)? else {
        return Ok(false);
    };
    if am::text(doc, &obj, "text")? == text {
        return Ok(false);
    }
    let key = data_encoding::HEXLOWER.encode(&blake3::hash(text.as_bytes()).as_bytes()[..8]);
    let late = am::map_obj(doc, &obj, "late_edits")?;
    if am::str(doc, &late, &key)?.is_some() {
        return Ok(false);
    }
    doc.put(&late, key.as_str(), text)?;
    Ok(true)
}

/// Replaces an item's text, keeping concurrent typing mergeable (a minimal diff).
pub fn set_text(
    doc: &mut AutoCommit,
    items: &ObjId,
    id: &str,
    text: &str,
) -> Result<(), ModelError> {
    let obj = live(doc, items, id)?.ok_or_else(|| missing(id))?;
    let t = am::text_obj(doc, &obj, "text")?;
    doc.update_text(&t, text)?;
    Ok(())
}

fn missing(id: &str) -> ModelError {
    ModelError::Missing {
        kind: "agenda item",
        id: id.to_owned(),
    }
}
