//! Rewriting a Text object as a whole (a section saved from `duet edit`) with the fewest
//! splices, placed so that lines merge as lines.
//!
//! Automerge's own `update_text` diffs by grapheme and places an inserted line after the
//! newline before it (`"X\n"` → `"X\nA\n"` inserts `"A\n"` after `"X\n"`). Another device
//! appending a paragraph at the same place concurrently inserts after that same newline,
//! and the two runs then sit side by side: `"X\nBoA\n"`. Here an insertion that ends with a
//! newline just after a newline is slid one place left (`"\nA"` after `"X"`: the same
//! text), so each device's new line stays a line of its own whatever the merge order.
//! The diff itself is `similar`'s Myers diff over characters.

use super::ModelError;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ReadDoc, TextEncoding};
use similar::{Algorithm, DiffTag, TextDiffConfig};
use std::time::Duration;

/// How long a diff may search for the fewest splices before it settles for more of them
/// (the text still comes out exactly as saved).
pub const DIFF_TIMEOUT: Duration = Duration::from_millis(200);

/// One splice, in characters of the old text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Splice {
    at: usize,
    delete: usize,
    insert: String,
}

/// Makes the Text object `obj` read `new`.
pub fn update_text(doc: &mut AutoCommit, obj: &ObjId, new: &str) -> Result<(), ModelError> {
    let old = doc.text(obj)?;
    if old == new {
        return Ok(());
    }
    let encoding = doc.text_encoding();
    let widths = match prefix_widths(&old, encoding) {
        Some(widths) => widths,
        // Positions in grapheme clusters do not map to characters: Automerge diffs those.
        None => {
            doc.update_text(obj, new)?;
            return Ok(());
        }
    };
    for splice in splices(&old, new).iter().rev() {
        let at = widths[splice.at];
        let delete = widths[splice.at + splice.delete] - at;
        let delete = isize::try_from(delete)
            .map_err(|_| ModelError::Schema("a text too long to edit".into()))?;
        doc.splice_text(obj, at, delete, &splice.insert)?;
    }
    Ok(())
}

/// The position, in the document's text units, of each character boundary of `text`.
fn prefix_widths(text: &str, encoding: TextEncoding) -> Option<Vec<usize>> {
    let width: fn(char) -> usize = match encoding {
        TextEncoding::UnicodeCodePoint => |_| 1,
        TextEncoding::Utf8CodeUnit => char::len_utf8,
        TextEncoding::Utf16CodeUnit => char::len_utf16,
        TextEncoding::GraphemeCluster => return None,
    };
    let mut out = Vec::with_capacity(text.len() + 1);
    let mut at = 0;
    out.push(0);
    for c in text.chars() {
        at += width(c);
        out.push(at);
    }
    Some(out)
}

/// The splices that turn `old` into `new`, in order, with line insertions slid to start
/// with their newline.
fn splices(old: &str, new: &str) -> Vec<Splice> {
    let diff = TextDiffConfig::default()
        .algorithm(Algorithm::Myers)
        .timeout(DIFF_TIMEOUT)
        .diff_chars(old, new);
    let old_chars: Vec<char> = old.chars().collect();
    let new_chars: Vec<char> = new.chars().collect();
    let mut out: Vec<Splice> = Vec::new();
    // Where the run of unchanged characters just before the current op starts.
    let mut equal_from = 0;
    for op in diff.ops() {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            equal_from = old_range.start;
            continue;
        }
        let mut insert: Vec<char> = new_chars[new_range].to_vec();
        let mut at = old_range.start;
        if tag == DiffTag::Insert {
            while at > equal_from
                && old_chars.get(at - 1) == Some(&'\n')
                && insert.last() == Some(&'\n')
            {
                insert.rotate_right(1);
                at -= 1;
            }
        }
        out.push(Splice {
            at,
            delete: old_range.len(),
            insert: insert.into_iter().collect(),
        });
        equal_from = old_range.end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::am;
    use automerge::{ObjType, ROOT};
    use proptest::prelude::*;

    fn doc_with(text: &str) -> (AutoCommit, ObjId) {
        let mut doc = AutoCommit::new();
        let obj = doc.put_object(ROOT, "t", ObjType::Text).expect("text");
        doc.splice_text(&obj, 0, 0, text).expect("splice");
        (doc, obj)
    }

    #[test]
    fn a_line_added_at_the_end_starts_with_its_newline() {
        assert_eq!(
            splices("X\n", "X\nA\n"),
            vec![Splice {
                at: 1,
                delete: 0,
                insert: "\nA".into()
            }]
        );
    }

    #[test]
    fn lines_two_devices_add_at_the_same_place_stay_lines() {
        for first in [true, false] {
            let (mut base, obj) = doc_with("Roadmap\n");
            let mut ana = base.fork();
            let mut bo = base.fork();
            update_text(&mut ana, &obj, "Roadmap\nAna: hiring\n").expect("ana");
            am::append_paragraph(&mut bo, &obj, "Bo: pager").expect("bo");
            if first {
                base.merge(&mut ana).expect("merge");
                base.merge(&mut bo).expect("merge");
            } else {
                base.merge(&mut bo).expect("merge");
                base.merge(&mut ana).expect("merge");
            }
            let text = base.text(&obj).expect("text");
            let lines: Vec<&str> = text.lines().collect();
            assert!(lines.contains(&"Ana: hiring"), "{text:?}");
            assert!(lines.contains(&"Bo: pager"), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn the_text_reads_exactly_as_saved(
            old in "[ab\\né€😀 ]{0,40}",
            new in "[ab\\né€😀 ]{0,40}",
        ) {
            for encoding in [TextEncoding::UnicodeCodePoint, TextEncoding::Utf8CodeUnit, TextEncoding::Utf16CodeUnit] {
                let mut doc = automerge::AutoCommit::new_with_encoding(encoding);
                let obj = doc.put_object(ROOT, "t", ObjType::Text).expect("text");
                doc.splice_text(&obj, 0, 0, &old).expect("splice");
                update_text(&mut doc, &obj, &new).expect("update");
                prop_assert_eq!(doc.text(&obj).expect("text"), new.clone());
            }
        }
    }
}
