//! Undoing an edit as a new edit: what one edit changed in a document (between the heads
//! before it and after it) is put back by new changes on top of the document as it is now,
//! so an undo syncs and merges like any edit and history is never rewound.
//!
//! The rules, for what others (or this device's later edits) changed since:
//! - **Text.** The characters the edit inserted are removed wherever they now are; the
//!   characters it deleted are put back before the first of their old neighbours still
//!   there. Characters anyone else typed are never touched, so when the text was edited
//!   since, the result keeps their part and reports it ([`LeftKind::TextEditedSince`]).
//! - **A value** (a status, a date, a tick) goes back to what it was only while it still
//!   holds what the edit set; changed since, it is left as it is and reported.
//! - **An object the edit made** (an agenda item, a commitment, a meeting's entry) is
//!   removed only while nothing in it changed since; else it stays, and so does its key
//!   elsewhere: a move (removed here, made there under the same key) is undone whole or not
//!   at all, so an item never ends up in two places ([`kept_puts`]).
//! - **An object the edit removed** is made again from its content before the edit, unless
//!   its key holds something now.

use super::ModelError;
use automerge::transaction::Transactable;
use automerge::{
    AutoCommit, ChangeHash, ObjId, ObjType, PatchAction, Prop, ReadDoc, ScalarValue, TextEncoding,
    Value,
};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// What an undo left as it is, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Left {
    /// The keys from the document's root to the place (a section's key, or a map's keys
    /// down to the value).
    pub path: Vec<String>,
    /// Why.
    pub kind: LeftKind,
}

/// Why an undo left something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftKind {
    /// The text was edited since: the edit's own characters are undone, the rest is kept.
    TextEditedSince,
    /// The value or object was changed since: it is left as it is now.
    ChangedSince,
}

/// A map key the edit put or removed, and where.
struct KeyChange {
    /// The map as it was when the edit was made.
    obj: ObjId,
    /// The keys from the root to that map: an undo or redo may have made it again since,
    /// as a new object in the same place, where the change now applies.
    props: Vec<Prop>,
    key: String,
    path: Vec<String>,
}

impl KeyChange {
    /// The map in its place now: the one the keys lead to, else the edit's own.
    fn current(&self, doc: &AutoCommit) -> Result<Option<ObjId>, ModelError> {
        let mut at = automerge::ROOT;
        for prop in &self.props {
            match doc.get(&at, prop.clone())? {
                Some((Value::Object(_), id)) => at = id,
                _ => return Ok(None),
            }
        }
        Ok(Some(at))
    }
}

/// What one edit touched, from Automerge's diff between its heads: read once, then asked
/// for what it keeps ([`kept_puts`]) and reverted ([`revert`]).
pub struct Touched {
    before: Vec<ChangeHash>,
    after: Vec<ChangeHash>,
    keys: Vec<KeyChange>,
    texts: Vec<(ObjId, Vec<String>)>,
}

fn prop_text(prop: &Prop) -> String {
    match prop {
        Prop::Map(key) => key.clone(),
        Prop::Seq(i) => i.to_string(),
    }
}

/// The map keys and text objects the edit from `before` to `after` changed, leaving out
/// what lies inside objects it made (removing those undoes their content too).
pub fn touched(
    doc: &mut AutoCommit,
    before: &[ChangeHash],
    after: &[ChangeHash],
) -> Result<Touched, ModelError> {
    let patches = doc.diff(before, after);
    let mut made: HashSet<ObjId> = HashSet::new();
    for patch in &patches {
        if let PatchAction::PutMap {
            value: (Value::Object(_), id),
            ..
        } = &patch.action
        {
            made.insert(id.clone());
        }
    }
    let mut keys = Vec::new();
    let mut seen_keys = HashSet::new();
    let mut texts: Vec<(ObjId, Vec<String>)> = Vec::new();
    for patch in patches {
        if made.contains(&patch.obj) || patch.path.iter().any(|(o, _)| made.contains(o)) {
            continue;
        }
        let path: Vec<String> = patch.path.iter().map(|(_, p)| prop_text(p)).collect();
        match patch.action {
            PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key }
                if seen_keys.insert((patch.obj.clone(), key.clone())) =>
            {
                let mut path = path;
                path.push(key.clone());
                keys.push(KeyChange {
                    obj: patch.obj,
                    props: patch.path.iter().map(|(_, p)| p.clone()).collect(),
                    key,
                    path,
                });
            }
            PatchAction::SpliceText { .. } | PatchAction::DeleteSeq { .. }
                if !texts.iter().any(|(o, _)| *o == patch.obj) =>
            {
                texts.push((patch.obj, path));
            }
            // Repeats of the above, and what Duet's documents never hold (lists, counters,
            // marks).
            _ => {}
        }
    }
    Ok(Touched {
        before: before.to_vec(),
        after: after.to_vec(),
        keys,
        texts,
    })
}

/// The keys of objects the edit put that were changed since (or are gone): an undo keeps
/// them, and does not make again an object it removed under the same key elsewhere (the
/// other half of a move). Asked of every document of an edit before any is reverted.
pub fn kept_puts(doc: &AutoCommit, touched: &Touched) -> Result<BTreeSet<String>, ModelError> {
    let (before, after) = (&touched.before[..], &touched.after[..]);
    let mut kept = BTreeSet::new();
    for change in &touched.keys {
        let put = owned(doc.get_at(&change.obj, change.key.as_str(), after)?);
        let was = owned(doc.get_at(&change.obj, change.key.as_str(), before)?);
        let now = match change.current(doc)? {
            Some(obj) => owned(doc.get(&obj, change.key.as_str())?),
            None => None,
        };
        let made_here =
            matches!(&put, Some((Value::Object(_), id)) if was.as_ref().map(|w| &w.1) != Some(id));
        if made_here && !same_since(doc, &put, &now, after)? {
            kept.insert(change.key.clone());
        }
    }
    Ok(kept)
}

/// Puts back what the edit changed, as new changes on the document as it is now; what
/// it left, and where. `kept` holds keys not to make again (see [`kept_puts`]).
pub fn revert(
    doc: &mut AutoCommit,
    touched: &Touched,
    kept: &BTreeSet<String>,
) -> Result<Vec<Left>, ModelError> {
    let (before, after) = (&touched.before[..], &touched.after[..]);
    let mut left = Vec::new();
    for (obj, path) in &touched.texts {
        if !matches!(doc.object_type(obj), Ok(ObjType::Text)) {
            // Its object is gone now (removed since): nothing of the edit is left in it.
            continue;
        }
        revert_text(doc, obj, before, after)?;
        if doc.text(obj)? != doc.text_at(obj, before)? {
            left.push(Left {
                path: path.clone(),
                kind: LeftKind::TextEditedSince,
            });
        }
    }
    for change in touched.keys.iter().rev() {
        if revert_key(doc, change, before, after, kept)? == Reverted::Left {
            left.push(Left {
                path: change.path.clone(),
                kind: LeftKind::ChangedSince,
            });
        }
    }
    Ok(left)
}

#[derive(Debug, PartialEq, Eq)]
enum Reverted {
    Done,
    Left,
}

type Held = Option<(Value<'static>, ObjId)>;

fn owned(found: Option<(Value<'_>, ObjId)>) -> Held {
    found.map(|(v, id)| (v.to_owned(), id))
}

fn revert_key(
    doc: &mut AutoCommit,
    change: &KeyChange,
    before: &[ChangeHash],
    after: &[ChangeHash],
    kept: &BTreeSet<String>,
) -> Result<Reverted, ModelError> {
    let key = change.key.as_str();
    if change.path.iter().any(|p| kept.contains(p)) {
        // Inside an object kept by the other half of a move, or an entry of a kept one.
        return Ok(Reverted::Left);
    }
    let Some(current) = change.current(doc)? else {
        // The map itself is gone now.
        return Ok(Reverted::Left);
    };
    let was = owned(doc.get_at(&change.obj, key, before)?);
    let put = owned(doc.get_at(&change.obj, key, after)?);
    let obj = &current;
    let now = owned(doc.get(obj, key)?);
    if !same_since(doc, &put, &now, after)? {
        // Already back as it was (another device undid the same by hand) is no loss.
        return Ok(if same_since(doc, &was, &now, before)? {
            Reverted::Done
        } else {
            Reverted::Left
        });
    }
    match was {
        None => {
            if now.is_some() {
                doc.delete(obj, key)?;
            }
        }
        Some((Value::Scalar(s), _)) => doc.put(obj, key, s.into_owned())?,
        Some((Value::Object(kind), source)) => {
            if kept.contains(key) {
                return Ok(Reverted::Left);
            }
            let made = doc.put_object(obj, key, kind)?;
            copy_content(doc, &source, before, &made, kind)?;
        }
    }
    Ok(Reverted::Done)
}

/// Whether `now` still holds what `then` held at `heads`: the same scalar, or an object
/// with the same content (the same object, or one an undo or redo made again in its place).
fn same_since(
    doc: &AutoCommit,
    then: &Held,
    now: &Held,
    heads: &[ChangeHash],
) -> Result<bool, ModelError> {
    Ok(match (then, now) {
        (None, None) => true,
        (Some((Value::Scalar(a), _)), Some((Value::Scalar(b), _))) => a == b,
        (Some((Value::Object(_), a)), Some((Value::Object(_), b))) => {
            snapshot(doc, a, Some(heads))? == snapshot(doc, b, None)?
        }
        _ => false,
    })
}

/// An object's content, for comparing it at two points in history.
#[derive(Debug, PartialEq)]
enum Snapshot {
    Map(BTreeMap<String, Snapshot>),
    Text(String),
    Scalar(ScalarValue),
    Other,
}

fn snapshot(
    doc: &AutoCommit,
    obj: &ObjId,
    heads: Option<&[ChangeHash]>,
) -> Result<Snapshot, ModelError> {
    let kind = doc.object_type(obj)?;
    Ok(match kind {
        ObjType::Map | ObjType::Table => {
            let keys: Vec<String> = match heads {
                Some(h) => doc.keys_at(obj, h).collect(),
                None => doc.keys(obj).collect(),
            };
            let mut out = BTreeMap::new();
            for key in keys {
                let value = match heads {
                    Some(h) => owned(doc.get_at(obj, key.as_str(), h)?),
                    None => owned(doc.get(obj, key.as_str())?),
                };
                let snap = match value {
                    Some((Value::Scalar(s), _)) => Snapshot::Scalar(s.into_owned()),
                    Some((Value::Object(_), id)) => snapshot(doc, &id, heads)?,
                    None => continue,
                };
                out.insert(key, snap);
            }
            Snapshot::Map(out)
        }
        ObjType::Text => Snapshot::Text(match heads {
            Some(h) => doc.text_at(obj, h)?,
            None => doc.text(obj)?,
        }),
        ObjType::List => Snapshot::Other,
    })
}

/// Fills `made` (a new object of `kind`) with `source`'s content at `heads`.
fn copy_content(
    doc: &mut AutoCommit,
    source: &ObjId,
    heads: &[ChangeHash],
    made: &ObjId,
    kind: ObjType,
) -> Result<(), ModelError> {
    match kind {
        ObjType::Map | ObjType::Table => {
            let keys: Vec<String> = doc.keys_at(source, heads).collect();
            for key in keys {
                match owned(doc.get_at(source, key.as_str(), heads)?) {
                    Some((Value::Scalar(s), _)) => doc.put(made, key.as_str(), s.into_owned())?,
                    Some((Value::Object(inner), id)) => {
                        let child = doc.put_object(made, key.as_str(), inner)?;
                        copy_content(doc, &id, heads, &child, inner)?;
                    }
                    None => {}
                }
            }
        }
        ObjType::Text => {
            let text = doc.text_at(source, heads)?;
            doc.splice_text(made, 0, 0, &text)?;
        }
        ObjType::List => {
            return Err(ModelError::Schema(
                "a list cannot be undone (Duet's documents hold none)".into(),
            ))
        }
    }
    Ok(())
}

/// One character of a text: the operation that inserted it, and the character.
struct Char {
    id: ObjId,
    text: String,
}

fn chars(
    doc: &AutoCommit,
    obj: &ObjId,
    heads: Option<&[ChangeHash]>,
) -> Result<Vec<Char>, ModelError> {
    let items: Vec<Char> = match heads {
        Some(h) => doc
            .list_range_at(obj, .., h)
            .map(|item| Char {
                id: item.id(),
                text: char_text(&item.value),
            })
            .collect(),
        None => doc
            .list_range(obj, ..)
            .map(|item| Char {
                id: item.id(),
                text: char_text(&item.value),
            })
            .collect(),
    };
    Ok(items)
}

fn char_text(value: &automerge::ValueRef<'_>) -> String {
    match value {
        automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => s.to_string(),
        _ => String::new(),
    }
}

/// The width of `text` in the document's text units.
fn width(text: &str, encoding: TextEncoding) -> usize {
    match encoding {
        TextEncoding::UnicodeCodePoint => text.chars().count(),
        TextEncoding::Utf8CodeUnit => text.len(),
        TextEncoding::Utf16CodeUnit => text.encode_utf16().count(),
        TextEncoding::GraphemeCluster => 1,
    }
}

/// Each present character's position, by its id.
fn positions(chars: &[Char], encoding: TextEncoding) -> (BTreeMap<String, usize>, usize) {
    let mut at = 0;
    let mut out = BTreeMap::new();
    for c in chars {
        out.insert(c.id.to_string(), at);
        at += width(&c.text, encoding);
    }
    (out, at)
}

fn revert_text(
    doc: &mut AutoCommit,
    obj: &ObjId,
    before: &[ChangeHash],
    after: &[ChangeHash],
) -> Result<(), ModelError> {
    let encoding = doc.text_encoding();
    let then = chars(doc, obj, Some(before))?;
    let put = chars(doc, obj, Some(after))?;
    let then_ids: HashSet<String> = then.iter().map(|c| c.id.to_string()).collect();
    let put_ids: HashSet<String> = put.iter().map(|c| c.id.to_string()).collect();
    let inserted: HashSet<&String> = put_ids.difference(&then_ids).collect();

    // Remove what the edit typed, last first so earlier positions hold.
    let now = chars(doc, obj, None)?;
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while i < now.len() {
        let w = width(&now[i].text, encoding);
        if !inserted.contains(&now[i].id.to_string()) {
            at += w;
            i += 1;
            continue;
        }
        let start = at;
        let newline_before = i > 0 && now[i - 1].text == "\n";
        while i < now.len() && inserted.contains(&now[i].id.to_string()) {
            at += width(&now[i].text, encoding);
            i += 1;
        }
        let mut len = at - start;
        // A paragraph taken out from between two others leaves their two line breaks
        // together: the later one goes too, so no blank line is left where it was.
        if newline_before && now.get(i).is_some_and(|c| c.text == "\n") {
            len += 1;
            at += 1;
            i += 1;
        }
        runs.push((start, len));
    }
    for (start, len) in runs.into_iter().rev() {
        let len = isize::try_from(len)
            .map_err(|_| ModelError::Schema("a text too long to undo".into()))?;
        doc.splice_text(obj, start, len, "")?;
    }

    // Put back what the edit deleted, before the first old neighbour still there.
    let now = chars(doc, obj, None)?;
    let (placed, end) = positions(&now, encoding);
    let mut restores: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < then.len() {
        if put_ids.contains(&then[i].id.to_string()) {
            i += 1;
            continue;
        }
        let mut text = String::new();
        while i < then.len() && !put_ids.contains(&then[i].id.to_string()) {
            text.push_str(&then[i].text);
            i += 1;
        }
        let anchor = then[i..]
            .iter()
            .find_map(|c| placed.get(&c.id.to_string()).copied())
            .unwrap_or(end);
        restores.push((anchor, text));
    }
    for (anchor, text) in restores.into_iter().rev() {
        doc.splice_text(obj, anchor, 0, &text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::ROOT;

    fn text_doc(text: &str) -> (AutoCommit, ObjId) {
        let mut doc = AutoCommit::new();
        let obj = doc.put_object(ROOT, "wins", ObjType::Text).expect("text");
        doc.splice_text(&obj, 0, 0, text).expect("splice");
        doc.commit();
        (doc, obj)
    }

    fn undo(doc: &mut AutoCommit, before: &[ChangeHash], after: &[ChangeHash]) -> Vec<Left> {
        let touched = touched(doc, before, after).expect("diff");
        let kept = kept_puts(doc, &touched).expect("kept");
        revert(doc, &touched, &kept).expect("revert")
    }

    #[test]
    fn a_line_typed_is_removed_and_a_line_deleted_comes_back() {
        let (mut doc, obj) = text_doc("Shipped the importer\n");
        let before = doc.get_heads();
        doc.splice_text(&obj, 21, 0, "Wrong section\n")
            .expect("type");
        let after = doc.get_heads();
        assert!(undo(&mut doc, &before, &after).is_empty());
        assert_eq!(doc.text(&obj).expect("text"), "Shipped the importer\n");

        let before = doc.get_heads();
        doc.splice_text(&obj, 0, 8, "").expect("delete");
        let after = doc.get_heads();
        undo(&mut doc, &before, &after);
        assert_eq!(doc.text(&obj).expect("text"), "Shipped the importer\n");
    }

    #[test]
    fn undoing_a_line_keeps_what_the_other_device_typed_since() {
        let (mut ana, obj) = text_doc("Check-in\n");
        let mut bo = ana.fork();
        let before = ana.get_heads();
        ana.splice_text(&obj, 9, 0, "Ana's wrong line\n")
            .expect("ana");
        let after = ana.get_heads();
        bo.merge(&mut ana).expect("to bo");
        // Bo edits the same text after Ana's line arrived: a word inside it, and a line.
        let at = bo.text(&obj).expect("text").find("wrong").expect("word");
        bo.splice_text(&obj, at, 0, "very ").expect("bo word");
        let end = bo.length(&obj);
        bo.splice_text(&obj, end, 0, "Bo's line\n")
            .expect("bo line");
        ana.merge(&mut bo).expect("to ana");
        let left = undo(&mut ana, &before, &after);
        assert_eq!(ana.text(&obj).expect("text"), "Check-in\nvery Bo's line\n");
        assert_eq!(
            left,
            vec![Left {
                path: vec!["wins".into()],
                kind: LeftKind::TextEditedSince
            }]
        );
        // The undo merges back into Bo's copy like any edit.
        bo.merge(&mut ana).expect("back");
        assert_eq!(bo.text(&obj).expect("text"), ana.text(&obj).expect("text"));
    }

    #[test]
    fn a_value_changed_since_is_left_and_an_unchanged_one_goes_back() {
        let mut doc = AutoCommit::new();
        let item = doc.put_object(ROOT, "item", ObjType::Map).expect("map");
        doc.put(&item, "status", "scheduled").expect("put");
        doc.put(&item, "date", "2026-12-01").expect("put");
        let before = doc.get_heads();
        doc.put(&item, "status", "held").expect("put");
        doc.put(&item, "date", "2026-12-02").expect("put");
        let after = doc.get_heads();
        doc.put(&item, "date", "2026-12-03").expect("someone else");
        let left = undo(&mut doc, &before, &after);
        assert_eq!(am_str(&doc, &item, "status"), "scheduled");
        assert_eq!(am_str(&doc, &item, "date"), "2026-12-03");
        assert_eq!(
            left,
            vec![Left {
                path: vec!["item".into(), "date".into()],
                kind: LeftKind::ChangedSince
            }]
        );
    }

    #[test]
    fn a_move_is_undone_whole_or_not_at_all() {
        let mut doc = AutoCommit::new();
        let here = doc.put_object(ROOT, "here", ObjType::Map).expect("map");
        let there = doc.put_object(ROOT, "there", ObjType::Map).expect("map");
        let item = doc.put_object(&here, "i1", ObjType::Map).expect("item");
        doc.put(&item, "text", "Career goals").expect("put");
        let before = doc.get_heads();
        doc.delete(&here, "i1").expect("delete");
        let moved = doc.put_object(&there, "i1", ObjType::Map).expect("item");
        doc.put(&moved, "text", "Career goals").expect("put");
        let after = doc.get_heads();

        // Undone untouched: back where it was, once.
        let mut clean = doc.fork();
        undo(&mut clean, &before, &after);
        assert_eq!(clean.keys(&here).collect::<Vec<_>>(), vec!["i1"]);
        assert!(clean.keys(&there).next().is_none());
        let back = clean.get(&here, "i1").expect("get").expect("item").1;
        assert_eq!(am_str(&clean, &back, "text"), "Career goals");

        // Ticked at its new place since: it stays there, and is not made again here.
        doc.put(&moved, "discussed", true).expect("tick");
        let left = undo(&mut doc, &before, &after);
        assert!(doc.keys(&here).next().is_none());
        assert_eq!(doc.keys(&there).collect::<Vec<_>>(), vec!["i1"]);
        assert_eq!(left.len(), 2, "{left:?}");
    }

    #[test]
    fn undoing_the_undo_restores_exactly_what_it_removed() {
        let (mut doc, obj) = text_doc("A\n");
        let map = doc.put_object(ROOT, "m", ObjType::Map).expect("map");
        let before = doc.get_heads();
        doc.splice_text(&obj, 2, 0, "B\n").expect("type");
        doc.put(&map, "k", "v").expect("put");
        let after = doc.get_heads();
        let wanted = (doc.text(&obj).expect("text"), am_str(&doc, &map, "k"));
        let undo_before = doc.get_heads();
        undo(&mut doc, &before, &after);
        let undo_after = doc.get_heads();
        assert_eq!(doc.text(&obj).expect("text"), "A\n");
        assert!(doc.get(&map, "k").expect("get").is_none());
        undo(&mut doc, &undo_before, &undo_after);
        assert_eq!(
            (doc.text(&obj).expect("text"), am_str(&doc, &map, "k")),
            wanted
        );
    }

    #[test]
    fn redo_after_two_undos_reaches_an_object_made_again_in_its_place() {
        let mut doc = AutoCommit::new();
        let agenda = doc.put_object(ROOT, "agenda", ObjType::Map).expect("map");
        let mut edits = Vec::new();
        let edit = |doc: &mut AutoCommit, f: &dyn Fn(&mut AutoCommit)| {
            let before = doc.get_heads();
            f(doc);
            (before, doc.get_heads())
        };
        edits.push(edit(&mut doc, &|d| {
            let item = d.put_object(&agenda, "i1", ObjType::Map).expect("item");
            d.put(&item, "discussed", false).expect("put");
        }));
        edits.push(edit(&mut doc, &|d| {
            let item = d.get(&agenda, "i1").expect("get").expect("item").1;
            d.put(&item, "discussed", true).expect("tick");
        }));
        // Undo both (newest first), then redo both (the undos newest first).
        let mut undos = Vec::new();
        for (before, after) in edits.iter().rev() {
            let start = doc.get_heads();
            undo(&mut doc, before, after);
            undos.push((start, doc.get_heads()));
        }
        assert!(doc.get(&agenda, "i1").expect("get").is_none());
        for (before, after) in undos.iter().rev() {
            undo(&mut doc, before, after);
        }
        let item = doc.get(&agenda, "i1").expect("get").expect("item back").1;
        assert_eq!(
            super::super::am::bool(&doc, &item, "discussed").expect("read"),
            Some(true),
            "the tick is redone on the item made again"
        );
    }

    fn am_str(doc: &AutoCommit, obj: &ObjId, key: &str) -> String {
        super::super::am::str(doc, obj, key)
            .expect("read")
            .unwrap_or_default()
    }
}
