//! `duet week` and `duet today`: the week across every notebook, worded for a terminal.

use crate::commands::Output;
use crate::json::week as json;
use crate::render::{self, Palette};
use anyhow::Result;
use duet_core::insights::week::{this_week, Owed, Week};
use duet_core::Duet;
use jiff::civil::Date;
use std::fmt::Write;

/// `duet week [--from D] [--to D]`: this week unless told; a week from `--from` when only
/// it is given.
pub fn week(duet: &mut Duet, from: Option<Date>, to: Option<Date>, out: &Output) -> Result<()> {
    let (monday, sunday) = this_week(duet_core::dates::today());
    let from = from.unwrap_or(monday);
    let to = match to {
        Some(to) => to,
        None if from == monday => sunday,
        None => from.checked_add(jiff::Span::new().days(6)).unwrap_or(from),
    };
    if to < from {
        return Err(
            duet_core::DuetError::Invalid(format!("--to {to} is before --from {from}")).into(),
        );
    }
    show(duet, from, to, "This week", out)
}

/// `duet today`.
pub fn today(duet: &mut Duet, out: &Output) -> Result<()> {
    let today = duet_core::dates::today();
    show(duet, today, today, "Today", out)
}

fn show(duet: &mut Duet, from: Date, to: Date, heading: &str, out: &Output) -> Result<()> {
    let w = duet.schedule().week(from, to)?;
    out.print_lazy(
        || json::Week::from(&w),
        || render_week(&w, heading, out.palette),
    );
    Ok(())
}

fn render_week(w: &Week, heading: &str, p: Palette) -> String {
    let mut out = String::new();
    let span = if w.from == w.to {
        render::day(&w.from)
    } else {
        format!("{} to {}", render::day(&w.from), render::day(&w.to))
    };
    let _ = writeln!(out, "{}", p.heading(&format!("{heading}: {span}")));
    if w.meetings.is_empty() {
        let _ = writeln!(out, "  No 1-1 on the books.");
    }
    for m in &w.meetings {
        let prep = match (m.my_items, m.their_items) {
            (0, 0) => "nothing on the agenda yet".to_owned(),
            (0, t) => format!("{t} from {}, nothing from you yet", m.notebook.person),
            (y, 0) => format!("{y} from you, nothing from {} yet", m.notebook.person),
            (y, t) => format!("{y} from you, {t} from {}", m.notebook.person),
        };
        let _ = writeln!(
            out,
            "  {}  {} ({} min): {prep}",
            render::day(&m.date),
            m.notebook.person,
            m.minutes
        );
        if !m.carried_often.is_empty() {
            let texts: Vec<String> = m
                .carried_often
                .iter()
                .map(|i| format!("{} ({}x)", i.text, i.carried))
                .collect();
            let _ = writeln!(
                out,
                "      {} {}",
                p.warn("carried 3+ times:"),
                texts.join("; ")
            );
        }
        if !m.signals.is_empty() {
            let line: Vec<String> = m.signals.iter().map(crate::signals::sentence).collect();
            let _ = writeln!(out, "      {} {}", p.warn("drift:"), line.join(" "));
        }
    }
    let _ = writeln!(out, "\n{}", p.heading("You owe"));
    owed_lines(&mut out, &w.i_owe, "to", p);
    let _ = writeln!(out, "\n{}", p.heading("Owed to you"));
    owed_lines(&mut out, &w.owed_to_me, "from", p);
    if !w.nothing_booked.is_empty() {
        let names: Vec<String> = w
            .nothing_booked
            .iter()
            .map(|n| format!("{} ({})", n.person, n.title))
            .collect();
        let _ = writeln!(
            out,
            "\n{} {} (duet -n TITLE meeting new --on DATE)",
            p.warn("Nothing on the books with:"),
            names.join(", ")
        );
    }
    out
}

fn owed_lines(out: &mut String, list: &[Owed], word: &str, p: Palette) {
    if list.is_empty() {
        let _ = writeln!(out, "  Nothing open.");
    }
    for o in list {
        let when = match (o.overdue_days, &o.commitment.due) {
            (Some(d), _) => p.warn(&format!("{d} days overdue")).into_owned(),
            (None, Some(due)) => format!("due {due}"),
            (None, None) => "no due date".to_owned(),
        };
        let _ = writeln!(
            out,
            "  [ ] {}  {}  {}",
            p.id(&o.commitment.id),
            o.commitment.text,
            p.dim(&format!("— {word} {}, {when}", o.notebook.person))
        );
    }
}
