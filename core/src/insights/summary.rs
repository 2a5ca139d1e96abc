//! One meeting as a Markdown summary short enough to paste into an email: the close first
//! (key takeaway, next steps, commitments, what the report needs), then what was discussed
//! and the notes, then the next meeting's date.

use crate::model::views::{MeetingView, NotebookView};
use crate::model::{CommitmentStatus, MeetingStatus, Role, Section};
use std::fmt::Write;

/// A stored date with its weekday (`Thu 2026-12-03`); anything unreadable as it is.
fn day(date: &str) -> String {
    match date.parse::<jiff::civil::Date>() {
        Ok(d) => d.strftime("%a %Y-%m-%d").to_string(),
        Err(_) => date.to_owned(),
    }
}

/// A meeting's summary in Markdown, short enough for an email: the close first, then what
/// was agreed, then the notes.
pub fn meeting_summary(nb: &NotebookView, m: &MeetingView, next: Option<&str>) -> String {
    let mut out = format!("# 1-1 {} — {}\n", nb.title, day(&m.summary.date));
    if m.summary.status != MeetingStatus::Held {
        let _ = writeln!(out, "\n_Status: {}_", m.summary.status.as_str());
    }
    let report = nb
        .people
        .iter()
        .find(|p| p.role == Role::Report)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "the report".into());
    let block = |out: &mut String, title: &str, text: &str| {
        if !text.trim().is_empty() {
            let _ = writeln!(out, "\n## {title}\n");
            for line in text.lines() {
                let _ = writeln!(out, "{line}");
            }
        }
    };
    block(&mut out, "Key takeaway", m.section(Section::Takeaway));
    block(&mut out, "Next steps", m.section(Section::NextSteps));
    let open: Vec<_> = m
        .commitments
        .iter()
        .filter(|c| c.status != CommitmentStatus::Dropped)
        .collect();
    if !open.is_empty() {
        let _ = writeln!(out, "\n## Commitments\n");
        for c in open {
            let due = c
                .due
                .as_deref()
                .map(|d| format!(", by {d}"))
                .unwrap_or_default();
            let done = if c.status == CommitmentStatus::Done {
                " (done)"
            } else {
                ""
            };
            let _ = writeln!(out, "- {} — {}{due}{done}", c.text, nb.name_of(&c.owner));
        }
    }
    block(
        &mut out,
        &format!("What {report} needs"),
        m.section(Section::Needs),
    );
    let discussed: Vec<_> = m.agenda.iter().filter(|i| i.discussed).collect();
    if !discussed.is_empty() {
        let _ = writeln!(out, "\n## Discussed\n");
        for i in discussed {
            let _ = writeln!(out, "- {}", i.text);
        }
    }
    for section in [
        Section::Checkin,
        Section::Wins,
        Section::Challenges,
        Section::LookAhead,
        Section::Notes,
    ] {
        block(&mut out, section.title(), m.section(section));
    }
    if let Some(next) = next {
        let _ = writeln!(out, "\nNext 1-1: {}", day(next));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::fixtures::*;

    #[test]
    fn the_close_comes_first_and_dropped_commitments_are_left_out() {
        let nb = notebook();
        let mut m = meeting("m1", "2026-05-05", MeetingStatus::Held);
        write(&mut m, Section::Takeaway, "Rota first");
        write(&mut m, Section::Needs, "A contractor");
        write(&mut m, Section::Wins, "Shipped");
        m.commitments.push(commitment(
            "c1",
            "Draft the rota",
            "ana",
            Some("2026-05-09"),
            CommitmentStatus::Open,
            None,
        ));
        m.commitments.push(commitment(
            "c2",
            "Old idea",
            "bo",
            None,
            CommitmentStatus::Dropped,
            None,
        ));
        let text = meeting_summary(&nb, &m, Some("2026-05-12"));
        assert!(
            text.starts_with("# 1-1 Ana / Bo — Tue 2026-05-05\n"),
            "{text}"
        );
        let at = |s: &str| {
            text.find(s)
                .unwrap_or_else(|| panic!("{s} missing:\n{text}"))
        };
        assert!(at("## Key takeaway") < at("## Commitments"));
        assert!(at("- Draft the rota — Ana, by 2026-05-09") < at("## What Bo needs"));
        assert!(at("## What Bo needs") < at("## Wins"));
        assert!(!text.contains("Old idea"));
        assert!(text.ends_with("Next 1-1: Tue 2026-05-12\n"), "{text}");
    }
}
