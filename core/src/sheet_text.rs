//! A meeting as a Markdown file for `duet edit`: written out, and read back into a
//! [`Sheet`] with the line and the reason when it does not parse.
//!
//! ```text
//! # Ana / Bo 1-1: meeting on 2026-12-08 (upcoming)
//! <!-- how to edit (ignored) -->
//!
//! ## Agenda
//! - [ ] Promotion timeline {#k2x7a9qe}
//! - [x] On-call load {#b4m2c6ta}
//!
//! ## Wins
//! Shipped the importer
//!
//! ## Commitments
//! - [ ] Send the leveling doc — @Bo, due 2026-12-10 {#d3f5g7h2}
//! ```
//!
//! Every `## ` heading starts a part: the agenda, a section, or the commitments. Under the
//! agenda and the commitments each line is one item; under a section everything is its
//! text. A section line that itself begins with `##` is written with a `\` before it, so it
//! reads back as text and not as a heading.

use crate::dates;
use crate::model::sheet::{Sheet, SheetCommitment, SheetItem};
use crate::model::views::SectionText;
use crate::model::CommitmentStatus;
use crate::{Section, SheetSource};
use std::collections::BTreeSet;
use std::fmt::Write;

const AGENDA: &str = "Agenda";
/// After an item's id: the item comes back on its own (`duet agenda recur`). Read back,
/// it is dropped: the mark is not part of the item's text.
const RECURRING_MARK: &str = " ↻";
const COMMITMENTS: &str = "Commitments";

/// How to edit, written at the top of every file (and skipped when it is read back).
const HOW_TO: &str = "<!--
  Save and quit to apply your changes; quit without saving to change nothing.
  Agenda and commitments: one line each, \"- [ ]\" open, \"- [x]\" done. Edit a line's
  text to reword it, delete the line to drop it, add a line without {#id} to add one.
  A commitment ends with its owner and an optional due date: \"— @NAME, due YYYY-MM-DD\".
  Everything under a section's heading is that section's text.
-->";

/// A line of the file that cannot be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The line, counted from 1.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Which parts a file holds: the whole meeting, or one section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Parts {
    /// Agenda, every section, commitments.
    All,
    /// One section only.
    Only(Section),
}

/// The meeting written out as Markdown.
pub fn render(source: &SheetSource, parts: Parts) -> String {
    let meeting = &source.meeting;
    let mut out = format!(
        "# {}: meeting on {} ({})\n{HOW_TO}\n",
        source.title,
        meeting.summary.date,
        meeting.summary.status.as_str()
    );
    let sections: Vec<&SectionText> = meeting
        .sections
        .iter()
        .filter(|s| parts == Parts::All || parts == Parts::Only(s.section))
        .collect();
    if parts == Parts::All {
        let _ = writeln!(out, "\n## {AGENDA}");
        for item in &meeting.agenda {
            let text = one_line(&item.text);
            let recurs = if item.recurring.is_some() {
                RECURRING_MARK
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "- [{}] {text} {{#{}}}{recurs}",
                tick(item.discussed),
                item.id
            );
        }
    }
    for (at, section) in sections.iter().enumerate() {
        // The close comes after the commitments, as in a meeting.
        if parts == Parts::All && section.section == Section::Takeaway && at > 0 {
            render_commitments(source, &mut out);
        }
        let _ = writeln!(out, "\n## {}", section.section.title());
        for line in section.text.lines() {
            let _ = writeln!(out, "{}", escape(line));
        }
    }
    out
}

fn render_commitments(source: &SheetSource, out: &mut String) {
    let _ = writeln!(out, "\n## {COMMITMENTS}");
    for c in &source.meeting.commitments {
        if c.status == CommitmentStatus::Dropped {
            continue;
        }
        let owner = source
            .people
            .iter()
            .find(|p| p.id == c.owner)
            .map_or(c.owner.as_str(), |p| p.name.as_str());
        let due = c
            .due
            .as_deref()
            .map(|d| format!(", due {d}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "- [{}] {} — @{owner}{due} {{#{}}}",
            tick(c.status == CommitmentStatus::Done),
            one_line(&c.text),
            c.id
        );
    }
}

fn tick(done: bool) -> char {
    if done {
        'x'
    } else {
        ' '
    }
}

/// An item on one line; an item whose text was emptied elsewhere still gets a line that
/// reads back.
fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        "(no text)".to_owned()
    } else {
        line
    }
}

/// A section line that would read as a heading gets one more `\` in front.
fn escape(line: &str) -> String {
    if line.trim_start_matches('\\').starts_with("##") {
        format!("\\{line}")
    } else {
        line.to_owned()
    }
}

fn unescape(line: &str) -> &str {
    match line.strip_prefix('\\') {
        Some(rest) if rest.trim_start_matches('\\').starts_with("##") => rest,
        _ => line,
    }
}

/// Whose names a commitment line may give: `me`, `them`, or a person of the notebook.
pub struct People<'a> {
    source: &'a SheetSource,
}

impl<'a> People<'a> {
    /// The people of the meeting `source` was written from.
    pub fn of(source: &'a SheetSource) -> Self {
        People { source }
    }

    /// `me` and `them` become names; anything else stays as typed (the core resolves it).
    fn owner(&self, typed: &str) -> String {
        let me = self.source.me.as_deref();
        let pick = |mine: bool| {
            self.source
                .people
                .iter()
                .find(|p| (Some(p.id.as_str()) == me) == mine)
                .map(|p| p.name.clone())
        };
        match typed.to_ascii_lowercase().as_str() {
            "me" => pick(true),
            "them" => pick(false),
            _ => None,
        }
        .unwrap_or_else(|| typed.to_owned())
    }
}

/// Which part the lines being read belong to.
enum Part {
    Preamble,
    Agenda,
    Section(Section),
    Commitments,
}

/// Reads a file back. `known` are the ids the file was written with: a line with any other
/// id is refused here, where its line number is known.
pub fn parse(
    text: &str,
    people: &People<'_>,
    known: &BTreeSet<String>,
) -> Result<Sheet, ParseError> {
    let mut sheet = Sheet::default();
    let mut part = Part::Preamble;
    let mut section_lines: Vec<String> = Vec::new();
    let mut seen_headings = BTreeSet::new();
    let mut in_comment = false;
    let finish = |part: &Part, lines: &mut Vec<String>, sheet: &mut Sheet| {
        if let Part::Section(section) = part {
            let text = std::mem::take(lines).join("\n");
            sheet.sections.push(SectionText {
                section: *section,
                text: text.trim_matches('\n').trim_end().to_owned(),
            });
        }
    };
    for (at, raw) in text.lines().enumerate() {
        let line_no = at + 1;
        let fail = |reason: String| ParseError {
            line: line_no,
            reason,
        };
        if let Some(title) = raw.strip_prefix("## ") {
            let title = title.trim();
            let next = heading(title).ok_or_else(|| {
                fail(format!(
                    "unknown heading \"## {title}\"; the headings are {}. For a heading inside \
                     your notes use \"### {title}\"",
                    heading_names()
                ))
            })?;
            if !seen_headings.insert(title.to_ascii_lowercase()) {
                return Err(fail(format!("\"## {title}\" appears twice")));
            }
            finish(&part, &mut section_lines, &mut sheet);
            match next {
                Part::Agenda => sheet.agenda = Some(Vec::new()),
                Part::Commitments => sheet.commitments = Some(Vec::new()),
                _ => {}
            }
            part = next;
            continue;
        }
        match &part {
            Part::Preamble => {
                let t = raw.trim();
                if in_comment || t.starts_with("<!--") {
                    in_comment = !t.contains("-->");
                } else if !(t.is_empty() || t.starts_with("# ")) {
                    return Err(fail(
                        "this text comes before the first \"## \" heading and belongs to no part"
                            .into(),
                    ));
                }
            }
            Part::Section(_) => section_lines.push(unescape(raw).to_owned()),
            Part::Agenda => {
                if raw.trim().is_empty() {
                    continue;
                }
                let (done, rest, id) = list_line(raw, known).map_err(fail)?;
                if rest.is_empty() {
                    return Err(fail(
                        "an agenda item with no text; delete the line to drop the item".into(),
                    ));
                }
                if let Some(agenda) = sheet.agenda.as_mut() {
                    agenda.push(SheetItem {
                        id,
                        text: rest.to_owned(),
                        done,
                    });
                }
            }
            Part::Commitments => {
                if raw.trim().is_empty() {
                    continue;
                }
                let (done, rest, id) = list_line(raw, known).map_err(fail)?;
                let commitment = commitment_line(rest, done, id, people).map_err(fail)?;
                if let Some(all) = sheet.commitments.as_mut() {
                    all.push(commitment);
                }
            }
        }
    }
    finish(&part, &mut section_lines, &mut sheet);
    Ok(sheet)
}

fn heading(title: &str) -> Option<Part> {
    if title.eq_ignore_ascii_case(AGENDA) {
        return Some(Part::Agenda);
    }
    if title.eq_ignore_ascii_case(COMMITMENTS) {
        return Some(Part::Commitments);
    }
    Section::ALL
        .into_iter()
        .find(|s| s.title().eq_ignore_ascii_case(title))
        .map(Part::Section)
}

fn heading_names() -> String {
    std::iter::once(AGENDA)
        .chain(Section::ALL.iter().map(|s| s.title()))
        .chain(std::iter::once(COMMITMENTS))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `- [ ] text {#id}`: whether ticked, the text, and the id. `- text` is an open item.
fn list_line<'l>(
    raw: &'l str,
    known: &BTreeSet<String>,
) -> Result<(bool, &'l str, Option<String>), String> {
    let t = raw.trim();
    let t = t
        .strip_suffix(RECURRING_MARK.trim_start())
        .map_or(t, str::trim_end);
    let Some(rest) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) else {
        return Err(format!(
            "\"{t}\" is not a list line; write one item per line as \"- [ ] text\""
        ));
    };
    let rest = rest.trim_start();
    let (done, rest) = if let Some(r) = rest.strip_prefix("[ ]") {
        (false, r)
    } else if let Some(r) = rest
        .strip_prefix("[x]")
        .or_else(|| rest.strip_prefix("[X]"))
    {
        (true, r)
    } else {
        (false, rest)
    };
    let rest = rest.trim();
    let (rest, id) = match rest.strip_suffix('}').and_then(|r| r.rsplit_once("{#")) {
        Some((text, id)) => {
            let id = id.trim();
            if !known.contains(id) {
                return Err(format!(
                    "no item or commitment with id {id} was in the meeting as written; remove \
                     \"{{#{id}}}\" to add the line as a new one"
                ));
            }
            (text.trim_end(), Some(id.to_owned()))
        }
        None => (rest, None),
    };
    Ok((done, rest, id))
}

/// `text — @owner, due DATE`.
fn commitment_line(
    rest: &str,
    done: bool,
    id: Option<String>,
    people: &People<'_>,
) -> Result<SheetCommitment, String> {
    let Some((text, tail)) = rest.rsplit_once(" @") else {
        return Err("a commitment ends with its owner: \"— @NAME\" (me, them, or a name)".into());
    };
    let text = text
        .trim_end()
        .trim_end_matches(['—', '–', '-', ','])
        .trim_end();
    if text.is_empty() {
        return Err("a commitment with no text; delete the line to drop it".into());
    }
    let (owner, due) = match tail.rsplit_once(" due ") {
        Some((owner, due)) => (owner, Some(due.trim())),
        None => (tail, None),
    };
    let owner = owner.trim().trim_end_matches(',').trim();
    if owner.is_empty() {
        return Err("a commitment's owner is empty: \"— @NAME\"".into());
    }
    let due = due
        .map(|d| {
            dates::parse_date(d, dates::today())
                .map(|date| date.to_string())
                .map_err(|e| format!("due date {d:?}: {e}"))
        })
        .transpose()?;
    Ok(SheetCommitment {
        id,
        text: text.to_owned(),
        owner: people.owner(owner),
        due,
        done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::views::{AgendaItem, Commitment, MeetingSummary, MeetingView, Person};
    use crate::model::MeetingStatus;
    use crate::{Role, SheetHeads};

    fn source() -> SheetSource {
        let item = |id: &str, text: &str, discussed| AgendaItem {
            id: id.into(),
            text: text.into(),
            author: "p1".into(),
            added_at: 0,
            discussed,
            carried_from: None,
            also: vec![],
            carried: 0,
            recurring: None,
        };
        SheetSource {
            notebook: "n1".into(),
            meeting: MeetingView {
                summary: MeetingSummary {
                    id: "m1".into(),
                    date: "2026-12-08".into(),
                    status: MeetingStatus::Scheduled,
                    conflicts: vec![],
                    reschedules: 0,
                    planned: None,
                    minutes: None,
                },
                agenda: vec![
                    item("aaaaaaaa", "Promo packet", false),
                    item("bbbbbbbb", "On-call load", true),
                ],
                sections: Section::ALL
                    .into_iter()
                    .map(|section| SectionText {
                        section,
                        text: match section {
                            Section::Wins => "Shipped sync\n## not a heading".into(),
                            _ => String::new(),
                        },
                    })
                    .collect(),
                commitments: vec![Commitment {
                    id: "cccccccc".into(),
                    text: "Send the doc".into(),
                    owner: "p2".into(),
                    due: Some("2026-12-10".into()),
                    status: CommitmentStatus::Open,
                    made_in: "m1".into(),
                    closed_at: None,
                    conflicts: vec![],
                    slips: 0,
                }],
            },
            title: "Ana / Bo 1-1".into(),
            people: vec![
                Person {
                    id: "p1".into(),
                    name: "Ana".into(),
                    role: Role::Manager,
                },
                Person {
                    id: "p2".into(),
                    name: "Bo".into(),
                    role: Role::Report,
                },
            ],
            me: Some("p1".into()),
            heads: SheetHeads::default(),
        }
    }

    fn known() -> BTreeSet<String> {
        ["aaaaaaaa", "bbbbbbbb", "cccccccc"]
            .map(str::to_owned)
            .into()
    }

    #[test]
    fn a_written_meeting_reads_back_as_itself() {
        let mut source = source();
        source.meeting.agenda[0].recurring = Some("r1".into());
        let text = render(&source, Parts::All);
        assert!(text.contains("} ↻\n"), "a recurring item is marked: {text}");
        let sheet = parse(&text, &People::of(&source), &known()).expect("parses");
        let agenda = sheet.agenda.expect("agenda");
        assert_eq!(agenda.len(), 2);
        assert_eq!(
            agenda[0].text, source.meeting.agenda[0].text,
            "the mark is not text"
        );
        assert_eq!(agenda[1].text, "On-call load");
        assert!(agenda[1].done);
        let wins = sheet
            .sections
            .iter()
            .find(|s| s.section == Section::Wins)
            .expect("wins");
        assert_eq!(wins.text, "Shipped sync\n## not a heading");
        assert_eq!(sheet.sections.len(), Section::ALL.len());
        let c = &sheet.commitments.expect("commitments")[0];
        assert_eq!(
            (c.text.as_str(), c.owner.as_str(), c.due.as_deref()),
            ("Send the doc", "Bo", Some("2026-12-10"))
        );
        // The close follows the commitments.
        let commitments_at = text.find("## Commitments").expect("heading");
        assert!(commitments_at < text.find("## Key takeaway").expect("heading"));
        assert!(commitments_at > text.find("## Notes").expect("heading"));
    }

    #[test]
    fn new_lines_and_owners_as_people_write_them() {
        let source = source();
        let text = "## Agenda\n- [x] New thing\n- plain line\n\n## Commitments\n- Book a room - @me\n- [x] Review — @them, due 2026-12-24\n";
        let sheet = parse(text, &People::of(&source), &known()).expect("parses");
        let agenda = sheet.agenda.expect("agenda");
        assert_eq!(
            agenda,
            vec![
                SheetItem {
                    id: None,
                    text: "New thing".into(),
                    done: true
                },
                SheetItem {
                    id: None,
                    text: "plain line".into(),
                    done: false
                }
            ]
        );
        let c = sheet.commitments.expect("commitments");
        assert_eq!(
            (c[0].text.as_str(), c[0].owner.as_str()),
            ("Book a room", "Ana")
        );
        assert_eq!(c[1].owner, "Bo");
        assert_eq!(c[1].due.as_deref(), Some("2026-12-24"));
        assert!(c[1].done);
    }

    #[test]
    fn a_broken_file_names_the_line_and_why() {
        let source = source();
        let people = People::of(&source);
        let cases = [
            ("## Agenda\n- [ ] ok\n## Wisn\n", 3, "unknown heading"),
            ("## Agenda\nnot a list line\n", 2, "not a list line"),
            (
                "## Agenda\n- [ ] x {#zzzzzzzz}\n",
                2,
                "no item or commitment",
            ),
            ("## Commitments\n- [ ] no owner here\n", 2, "owner"),
            (
                "## Commitments\n- [ ] x — @Bo, due someday\n",
                2,
                "due date",
            ),
            ("## Wins\n\n## Wins\n", 3, "twice"),
            ("stray text\n## Wins\n", 1, "before the first"),
            ("## Agenda\n- [ ] {#aaaaaaaa}\n", 2, "no text"),
        ];
        for (text, line, why) in cases {
            let err = parse(text, &people, &known()).expect_err(text);
            assert_eq!(err.line, line, "{text}");
            assert!(err.reason.contains(why), "{text}: {}", err.reason);
        }
    }

    #[test]
    fn one_section_files_hold_that_section_only() {
        let source = source();
        let text = render(&source, Parts::Only(Section::Wins));
        assert!(!text.contains("## Agenda") && !text.contains("## Commitments"));
        let sheet = parse(&text, &People::of(&source), &known()).expect("parses");
        assert!(sheet.agenda.is_none() && sheet.commitments.is_none());
        assert_eq!(sheet.sections.len(), 1);
    }
}
