//! A meeting as one editable sheet, and the edits that turn one sheet into another.
//!
//! `duet edit` writes a meeting out as a sheet (the front end owns the file's format), lets
//! a person change it in their editor, and reads it back. [`changes`] turns the difference
//! between the sheet as written and the sheet as saved into the edits the person would have
//! made one command at a time: items added, ticked, reworded or dropped; sections
//! rewritten; commitments added, reworded, re-dated, handed over, closed or reopened. The
//! façade applies them against the version the sheet was written from, so whatever another
//! device changed in the meantime merges instead of being overwritten.
//!
//! Items and commitments are matched by id. A line without an id is new; a line whose id
//! the written sheet did not hold is refused (an id is never made up by hand).

use super::views::SectionText;
use super::{CommitmentStatus, Section};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A meeting as a sheet: the parts a person edits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sheet {
    /// The agenda in order; `None` when the sheet leaves it out (one section only).
    pub agenda: Option<Vec<SheetItem>>,
    /// The sections the sheet holds, each at most once.
    pub sections: Vec<SectionText>,
    /// Commitments made in the meeting; `None` when the sheet leaves them out.
    pub commitments: Option<Vec<SheetCommitment>>,
}

/// One agenda line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SheetItem {
    /// The item's id; `None` for a line the person added.
    pub id: Option<String>,
    /// Its text.
    pub text: String,
    /// Whether it is ticked (discussed).
    pub done: bool,
}

/// One commitment line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SheetCommitment {
    /// The commitment's id; `None` for a line the person added.
    pub id: Option<String>,
    /// What was promised.
    pub text: String,
    /// Who owns it, as written: a person's name (or a prefix of it, or their role).
    pub owner: String,
    /// Due date, `YYYY-MM-DD`.
    pub due: Option<String>,
    /// Whether it is ticked (done).
    pub done: bool,
}

/// One edit a saved sheet asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum SheetChange {
    /// A new agenda item (ticked already, if it was written ticked).
    AddItem {
        /// Its text.
        text: String,
        /// Whether it was written ticked.
        done: bool,
        /// Where it was written.
        place: Place,
    },
    /// An item whose line was moved among the others.
    MoveItem {
        /// The item.
        id: String,
        /// Where its line now is.
        place: Place,
    },
    /// An item ticked or unticked.
    TickItem {
        /// The item.
        id: String,
        /// Ticked or not.
        done: bool,
    },
    /// An item's text rewritten.
    RewordItem {
        /// The item.
        id: String,
        /// The new text.
        text: String,
    },
    /// An item's line deleted: it is dropped from the agenda.
    DropItem {
        /// The item.
        id: String,
    },
    /// A section's text rewritten.
    SetSection {
        /// The section.
        section: Section,
        /// Its new text.
        text: String,
    },
    /// A new commitment.
    AddCommitment {
        /// What is promised.
        text: String,
        /// Its owner, as written.
        owner: String,
        /// Due date.
        due: Option<String>,
        /// Whether it was written ticked (done).
        done: bool,
    },
    /// A commitment's text rewritten.
    RewordCommitment {
        /// The commitment.
        id: String,
        /// The new text.
        text: String,
    },
    /// A commitment's due date moved, set or removed.
    RedateCommitment {
        /// The commitment.
        id: String,
        /// The new due date; `None` removes it.
        due: Option<String>,
    },
    /// A commitment handed to another person.
    ReownCommitment {
        /// The commitment.
        id: String,
        /// The new owner, as written.
        owner: String,
    },
    /// A commitment ticked (done), unticked (open again), or deleted (dropped).
    SetCommitmentStatus {
        /// The commitment.
        id: String,
        /// Its new status.
        status: CommitmentStatus,
    },
}

/// Where a new or moved agenda line was written, relative to lines that stayed in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "at", content = "item", rename_all = "snake_case")]
pub enum Place {
    /// Before every item that stayed in place.
    Top,
    /// Just after this item.
    After(String),
    /// Just after the line added or moved before it.
    AfterPrevious,
}

/// Why a saved sheet cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SheetError {
    /// A line carries an id the written sheet did not hold.
    #[error(
        "no {kind} with id {id} was in the meeting as written; remove the id to add a new one"
    )]
    UnknownId {
        /// `agenda item` or `commitment`.
        kind: &'static str,
        /// The id.
        id: String,
    },
    /// Two lines carry the same id.
    #[error("{kind} {id} is listed twice; keep one line for it")]
    DuplicateId {
        /// `agenda item` or `commitment`.
        kind: &'static str,
        /// The id.
        id: String,
    },
    /// A part the written sheet held is gone from the saved one.
    #[error("the {part} part is missing; put its heading back (delete the lines under it to remove them)")]
    MissingPart {
        /// The part's name.
        part: &'static str,
    },
}

/// The edits that turn `base` (the sheet as written) into `edited` (as saved), in the order
/// they apply: agenda, sections, commitments. Parts the written sheet left out are ignored.
pub fn changes(base: &Sheet, edited: &Sheet) -> Result<Vec<SheetChange>, SheetError> {
    let mut out = Vec::new();
    if let Some(before) = &base.agenda {
        let after = edited
            .agenda
            .as_ref()
            .ok_or(SheetError::MissingPart { part: "Agenda" })?;
        agenda_changes(before, after, &mut out)?;
    }
    for section in &base.sections {
        let after = edited
            .sections
            .iter()
            .find(|s| s.section == section.section)
            .ok_or(SheetError::MissingPart {
                part: section.section.title(),
            })?;
        if after.text != section.text {
            out.push(SheetChange::SetSection {
                section: section.section,
                text: after.text.clone(),
            });
        }
    }
    if let Some(before) = &base.commitments {
        let after = edited.commitments.as_ref().ok_or(SheetError::MissingPart {
            part: "Commitments",
        })?;
        commitment_changes(before, after, &mut out)?;
    }
    Ok(out)
}

/// Saved lines paired with the lines they were written as, and the ids of the lines gone.
type Paired<'a, T> = (Vec<(Option<&'a T>, &'a T)>, Vec<String>);

/// Each saved line with the line it was written as (`None` for a new line), and the ids of
/// written lines that are gone; an id the written sheet did not hold, or one given twice,
/// is refused.
fn pair_lines<'a, T>(
    kind: &'static str,
    before: &'a [T],
    after: &'a [T],
    id_of: impl Fn(&T) -> Option<&str>,
) -> Result<Paired<'a, T>, SheetError> {
    let known: BTreeMap<&str, &T> = before
        .iter()
        .filter_map(|line| Some((id_of(line)?, line)))
        .collect();
    let mut seen = BTreeSet::new();
    let mut pairs = Vec::with_capacity(after.len());
    for line in after {
        let Some(id) = id_of(line) else {
            pairs.push((None, line));
            continue;
        };
        let was = known.get(id).ok_or_else(|| SheetError::UnknownId {
            kind,
            id: id.to_owned(),
        })?;
        if !seen.insert(id) {
            return Err(SheetError::DuplicateId {
                kind,
                id: id.to_owned(),
            });
        }
        pairs.push((Some(*was), line));
    }
    let gone = known
        .keys()
        .filter(|id| !seen.contains(*id))
        .map(|id| (*id).to_owned())
        .collect();
    Ok((pairs, gone))
}

fn agenda_changes(
    before: &[SheetItem],
    after: &[SheetItem],
    out: &mut Vec<SheetChange>,
) -> Result<(), SheetError> {
    let (pairs, gone) = pair_lines("agenda item", before, after, |i| i.id.as_deref())?;
    let written_at: BTreeMap<&str, usize> = before
        .iter()
        .enumerate()
        .filter_map(|(at, i)| Some((i.id.as_deref()?, at)))
        .collect();
    let kept: Vec<Option<usize>> = pairs
        .iter()
        .map(|(_, item)| written_at.get(item.id.as_deref()?).copied())
        .collect();
    let stayed = stayed_in_place(&kept);
    // The last line that stayed in place, and whether a line was placed after it since.
    let mut anchor: Option<&str> = None;
    let mut placed_since = false;
    for ((was, item), stays) in pairs.into_iter().zip(stayed) {
        let place = if placed_since {
            Place::AfterPrevious
        } else {
            anchor.map_or(Place::Top, |a| Place::After(a.to_owned()))
        };
        let (Some(was), Some(id)) = (was, item.id.as_ref()) else {
            out.push(SheetChange::AddItem {
                text: item.text.clone(),
                done: item.done,
                place,
            });
            placed_since = true;
            continue;
        };
        if stays {
            anchor = Some(id);
            placed_since = false;
        } else {
            out.push(SheetChange::MoveItem {
                id: id.clone(),
                place,
            });
            placed_since = true;
        }
        if was.text != item.text {
            out.push(SheetChange::RewordItem {
                id: id.clone(),
                text: item.text.clone(),
            });
        }
        if was.done != item.done {
            out.push(SheetChange::TickItem {
                id: id.clone(),
                done: item.done,
            });
        }
    }
    out.extend(gone.into_iter().map(|id| SheetChange::DropItem { id }));
    Ok(())
}

/// Which of the saved lines stay where they were: the longest run of written lines still in
/// their written order (the fewest lines count as moved). `kept` is each saved line's
/// written position (`None` for a new line).
fn stayed_in_place(kept: &[Option<usize>]) -> Vec<bool> {
    // Longest increasing subsequence by patience sorting, with links back to rebuild it.
    let mut tails: Vec<usize> = Vec::new();
    let mut back: Vec<Option<usize>> = vec![None; kept.len()];
    for (at, written) in kept.iter().enumerate() {
        let Some(written) = written else { continue };
        let len = tails.partition_point(|&t| kept[t].is_some_and(|w| w < *written));
        back[at] = len.checked_sub(1).map(|prev| tails[prev]);
        if len == tails.len() {
            tails.push(at);
        } else {
            tails[len] = at;
        }
    }
    let mut stays = vec![false; kept.len()];
    let mut at = tails.last().copied();
    while let Some(i) = at {
        stays[i] = true;
        at = back[i];
    }
    stays
}

fn commitment_changes(
    before: &[SheetCommitment],
    after: &[SheetCommitment],
    out: &mut Vec<SheetChange>,
) -> Result<(), SheetError> {
    let (pairs, gone) = pair_lines("commitment", before, after, |c| c.id.as_deref())?;
    for (was, c) in pairs {
        let (Some(was), Some(id)) = (was, c.id.as_ref()) else {
            out.push(SheetChange::AddCommitment {
                text: c.text.clone(),
                owner: c.owner.clone(),
                due: c.due.clone(),
                done: c.done,
            });
            continue;
        };
        if was.text != c.text {
            out.push(SheetChange::RewordCommitment {
                id: id.clone(),
                text: c.text.clone(),
            });
        }
        if was.due != c.due {
            out.push(SheetChange::RedateCommitment {
                id: id.clone(),
                due: c.due.clone(),
            });
        }
        if !was.owner.trim().eq_ignore_ascii_case(c.owner.trim()) {
            out.push(SheetChange::ReownCommitment {
                id: id.clone(),
                owner: c.owner.clone(),
            });
        }
        if was.done != c.done {
            let status = if c.done {
                CommitmentStatus::Done
            } else {
                CommitmentStatus::Open
            };
            out.push(SheetChange::SetCommitmentStatus {
                id: id.clone(),
                status,
            });
        }
    }
    out.extend(gone.into_iter().map(|id| SheetChange::SetCommitmentStatus {
        id,
        status: CommitmentStatus::Dropped,
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: Option<&str>, text: &str, done: bool) -> SheetItem {
        SheetItem {
            id: id.map(str::to_owned),
            text: text.into(),
            done,
        }
    }

    fn commitment(id: Option<&str>, text: &str, owner: &str, due: Option<&str>) -> SheetCommitment {
        SheetCommitment {
            id: id.map(str::to_owned),
            text: text.into(),
            owner: owner.into(),
            due: due.map(str::to_owned),
            done: false,
        }
    }

    fn section(section: Section, text: &str) -> SectionText {
        SectionText {
            section,
            text: text.into(),
        }
    }

    fn base() -> Sheet {
        Sheet {
            agenda: Some(vec![
                item(Some("aaaaaaaa"), "Promo packet", false),
                item(Some("bbbbbbbb"), "Team offsite", false),
                item(Some("cccccccc"), "On-call load", true),
            ]),
            sections: vec![
                section(Section::Wins, "Shipped sync"),
                section(Section::Notes, ""),
            ],
            commitments: Some(vec![commitment(
                Some("dddddddd"),
                "Send the doc",
                "Bo",
                Some("2026-12-08"),
            )]),
        }
    }

    #[test]
    fn an_unchanged_sheet_asks_for_nothing() {
        assert_eq!(changes(&base(), &base()), Ok(vec![]));
    }

    #[test]
    fn each_kind_of_line_edit_becomes_its_change() {
        let mut edited = base();
        let agenda = edited.agenda.as_mut().expect("agenda");
        agenda[0].done = true;
        agenda[1].text = "Team offsite in March".into();
        agenda.remove(2);
        agenda.push(item(None, "Hiring plan", false));
        edited.sections[1].text = "Talked about the roadmap".into();
        let commitments = edited.commitments.as_mut().expect("commitments");
        commitments[0].text = "Send the promo doc".into();
        commitments[0].due = Some("2026-12-10".into());
        commitments[0].owner = "ana".into();
        commitments.push(commitment(None, "Book the room", "bo", None));

        let got = changes(&base(), &edited).expect("changes");
        assert_eq!(
            got,
            vec![
                SheetChange::TickItem {
                    id: "aaaaaaaa".into(),
                    done: true
                },
                SheetChange::RewordItem {
                    id: "bbbbbbbb".into(),
                    text: "Team offsite in March".into()
                },
                SheetChange::AddItem {
                    text: "Hiring plan".into(),
                    done: false,
                    place: Place::After("bbbbbbbb".into())
                },
                SheetChange::DropItem {
                    id: "cccccccc".into()
                },
                SheetChange::SetSection {
                    section: Section::Notes,
                    text: "Talked about the roadmap".into()
                },
                SheetChange::RewordCommitment {
                    id: "dddddddd".into(),
                    text: "Send the promo doc".into()
                },
                SheetChange::RedateCommitment {
                    id: "dddddddd".into(),
                    due: Some("2026-12-10".into())
                },
                SheetChange::ReownCommitment {
                    id: "dddddddd".into(),
                    owner: "ana".into()
                },
                SheetChange::AddCommitment {
                    text: "Book the room".into(),
                    owner: "bo".into(),
                    due: None,
                    done: false
                },
            ]
        );
    }

    #[test]
    fn new_and_moved_lines_are_placed_where_they_were_written() {
        let mut edited = base();
        let agenda = edited.agenda.as_mut().expect("agenda");
        // c a b, with two new lines at the top and one after b.
        let c = agenda.remove(2);
        agenda.insert(0, c);
        agenda.insert(0, item(None, "second new", false));
        agenda.insert(0, item(None, "first new", false));
        agenda.push(item(None, "last new", false));
        let got = changes(&base(), &edited).expect("changes");
        assert_eq!(
            got,
            vec![
                SheetChange::AddItem {
                    text: "first new".into(),
                    done: false,
                    place: Place::Top
                },
                SheetChange::AddItem {
                    text: "second new".into(),
                    done: false,
                    place: Place::AfterPrevious
                },
                SheetChange::MoveItem {
                    id: "cccccccc".into(),
                    place: Place::AfterPrevious
                },
                SheetChange::AddItem {
                    text: "last new".into(),
                    done: false,
                    place: Place::After("bbbbbbbb".into())
                },
            ]
        );
    }

    #[test]
    fn the_fewest_lines_count_as_moved() {
        assert_eq!(
            stayed_in_place(&[Some(1), Some(2), Some(3), Some(0)]),
            [true, true, true, false]
        );
        assert_eq!(
            stayed_in_place(&[Some(2), None, Some(0), Some(1)]),
            [false, false, true, true]
        );
        assert_eq!(stayed_in_place(&[]), Vec::<bool>::new());
    }

    #[test]
    fn a_deleted_commitment_is_dropped_and_owner_case_is_no_change() {
        let mut edited = base();
        edited.commitments = Some(vec![]);
        let got = changes(&base(), &edited).expect("changes");
        assert_eq!(
            got,
            vec![SheetChange::SetCommitmentStatus {
                id: "dddddddd".into(),
                status: CommitmentStatus::Dropped
            }]
        );
        let mut edited = base();
        edited.commitments.as_mut().expect("commitments")[0].owner = " bo ".into();
        assert_eq!(changes(&base(), &edited), Ok(vec![]));
    }

    #[test]
    fn made_up_and_repeated_ids_and_lost_parts_are_refused() {
        let mut edited = base();
        edited.agenda.as_mut().expect("agenda")[0].id = Some("zzzzzzzz".into());
        assert!(matches!(
            changes(&base(), &edited),
            Err(SheetError::UnknownId {
                kind: "agenda item",
                ..
            })
        ));
        let mut edited = base();
        let agenda = edited.agenda.as_mut().expect("agenda");
        agenda[1].id = Some("aaaaaaaa".into());
        assert!(matches!(
            changes(&base(), &edited),
            Err(SheetError::DuplicateId { .. })
        ));
        let mut edited = base();
        edited.sections.remove(0);
        assert_eq!(
            changes(&base(), &edited),
            Err(SheetError::MissingPart { part: "Wins" })
        );
        let mut edited = base();
        edited.commitments = None;
        assert!(matches!(
            changes(&base(), &edited),
            Err(SheetError::MissingPart { .. })
        ));
    }

    #[test]
    fn a_one_section_sheet_touches_nothing_else() {
        let base = Sheet {
            agenda: None,
            sections: vec![section(Section::Wins, "a")],
            commitments: None,
        };
        let edited = Sheet {
            agenda: Some(vec![item(None, "ignored", false)]),
            sections: vec![section(Section::Wins, "a\nb")],
            commitments: None,
        };
        assert_eq!(
            changes(&base, &edited),
            Ok(vec![SheetChange::SetSection {
                section: Section::Wins,
                text: "a\nb".into()
            }])
        );
    }
}
