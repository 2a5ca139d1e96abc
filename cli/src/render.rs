//! Text rendering of Duet's views for a terminal, and the Markdown export.
//!
//! Colour is decided once ([`Palette::for_stdout`]): only on a terminal, never with
//! `NO_COLOR` set or `TERM=dumb`. Markdown output never has colour.

use duet_core::model::views::{
    AgendaItem, Commitment, Conflict, MeetingSummary, MeetingView, NotebookView, Overview,
    CARRIED_NUDGE,
};
use duet_core::model::{CommitmentStatus, MeetingStatus, Section};
use owo_colors::OwoColorize;
use std::borrow::Cow;
use std::fmt::Write;
use std::io::IsTerminal;

/// Whether to colour output. Uncoloured text is borrowed, not copied: a long listing styles
/// thousands of pieces.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    color: bool,
}

impl Palette {
    /// Colour for standard output if it is a terminal and the user has not opted out.
    pub fn for_stdout() -> Palette {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        Palette {
            color: std::io::stdout().is_terminal() && !no_color && !dumb,
        }
    }

    /// A palette decided elsewhere (by the command's own process, for the node).
    pub fn with_color(color: bool) -> Palette {
        Palette { color }
    }

    /// Whether it colours.
    pub fn colors(&self) -> bool {
        self.color
    }

    pub fn heading<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if self.color {
            Cow::Owned(s.bold().to_string())
        } else {
            Cow::Borrowed(s)
        }
    }

    pub fn dim<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if self.color {
            Cow::Owned(s.dimmed().to_string())
        } else {
            Cow::Borrowed(s)
        }
    }

    pub fn warn<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if self.color {
            Cow::Owned(s.yellow().to_string())
        } else {
            Cow::Borrowed(s)
        }
    }

    pub fn id<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if self.color {
            Cow::Owned(s.cyan().to_string())
        } else {
            Cow::Borrowed(s)
        }
    }
}

/// `duet show`.
pub fn overview(o: &Overview, p: Palette) -> String {
    let mut out = String::new();
    let nb = &o.notebook;
    let _ = writeln!(
        out,
        "{}",
        p.heading(&format!("{} — {}", nb.title, people_line(nb)))
    );
    match &o.meeting {
        Some(m) => out.push_str(&meeting(m, nb, p)),
        None => {
            let _ = writeln!(
                out,
                "\nNo upcoming meeting. Put one on the books: duet meeting new"
            );
        }
    }
    if !o.open_commitments.is_empty() {
        let _ = writeln!(out, "\n{}", p.heading("Open commitments"));
        for c in &o.open_commitments {
            out.push_str(&commitment_line(c, nb, p));
        }
    }
    if !o.backlog.is_empty() {
        let _ = writeln!(out, "\n{}", p.heading("Backlog"));
        for item in &o.backlog {
            out.push_str(&item_line(item, nb, p));
        }
    }
    out
}

/// One meeting in full.
pub fn meeting(m: &MeetingView, nb: &NotebookView, p: Palette) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{} {}  {}",
        p.heading(&format!("Meeting {}", day(&m.summary.date))),
        p.dim(&format!("[{}]", status_word(m.summary.status))),
        p.id(&m.summary.id)
    );
    out.push_str(&conflicts(&m.summary.conflicts, p));
    let _ = writeln!(out, "\n{}", p.heading("Agenda"));
    if m.agenda.is_empty() {
        let _ = writeln!(out, "  {}", p.dim("(empty — duet agenda add \"...\")"));
    }
    out.push_str(&agenda_lines(&m.agenda, nb, p, false));
    for section in Section::ALL {
        let text = m.section(section);
        if text.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{}", p.heading(section.title()));
        for line in text.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !m.commitments.is_empty() {
        let _ = writeln!(out, "\n{}", p.heading("Commitments made"));
        for c in &m.commitments {
            out.push_str(&commitment_line(c, nb, p));
        }
    }
    out
}

/// A list of meetings.
pub fn meetings(list: &[MeetingSummary], current: Option<&str>, p: Palette) -> String {
    let mut out = String::new();
    for m in list {
        let mark = if Some(m.id.as_str()) == current {
            "→"
        } else {
            " "
        };
        let mut about = String::new();
        if let Some(minutes) = m.minutes {
            let _ = write!(about, ", {minutes} min");
        }
        if let Some(planned) = &m.planned {
            let _ = write!(about, ", planned for {}", day(planned));
        }
        let _ = writeln!(
            out,
            "{mark} {}  {}  {}{}",
            p.id(&m.id),
            day(&m.date),
            status_word(m.status),
            p.dim(&about)
        );
        out.push_str(&conflicts(&m.conflicts, p));
    }
    if list.is_empty() {
        out.push_str("No meetings yet: duet meeting new\n");
    }
    out
}

/// What a wrap did, in a line or two.
pub fn wrapped(w: &duet_core::WrapOutcome) -> String {
    let mut out = format!("Meeting on {} wrapped.", w.held.date);
    if let Some(planned) = &w.held_early_from {
        let _ = write!(
            out,
            " It was planned for {}: recorded as held today.",
            day(planned)
        );
    }
    let verb = if w.next_created {
        "is now on the books"
    } else {
        "was already on the books"
    };
    let _ = writeln!(
        out,
        " Next meeting {} ({}) {verb}; {} item(s) carried over.",
        w.next.date,
        w.next.id,
        w.carried.len()
    );
    out
}

/// A list of notebooks.
pub fn notebooks(list: &[NotebookView], p: Palette) -> String {
    let mut out = String::new();
    for nb in list {
        let mark = if nb.current { "*" } else { " " };
        let _ = writeln!(
            out,
            "{mark} {}  {}  ({}; every {} days, {} min)",
            p.id(&nb.id[..8.min(nb.id.len())]),
            nb.title,
            people_line(nb),
            nb.cadence.every_days,
            nb.cadence.minutes
        );
        if let Some(on) = &nb.ended {
            let _ = writeln!(out, "    {}", p.dim(&format!("ended {on}: read-only")));
        }
    }
    if list.is_empty() {
        out.push_str("No notebooks yet: duet notebook new TITLE --me manager --with NAME\n");
    }
    out
}

/// One notebook's details.
pub fn notebook(nb: &NotebookView, p: Palette) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}  {}", p.heading(&nb.title), p.id(&nb.id));
    for person in &nb.people {
        let me = if nb.me.as_deref() == Some(person.id.as_str()) {
            " (you)"
        } else {
            ""
        };
        let _ = writeln!(out, "  {}: {}{me}", person.role, person.name);
    }
    let _ = writeln!(
        out,
        "  meets every {} days for {} minutes",
        nb.cadence.every_days, nb.cadence.minutes
    );
    if let Some(on) = &nb.ended {
        let _ = writeln!(out, "  the 1-1 ended on {on}: read-only");
    }
    out
}

/// An agenda item line.
pub fn item_line(item: &AgendaItem, nb: &NotebookView, p: Palette) -> String {
    let check = if item.discussed { "[x]" } else { "[ ]" };
    let mut out = String::with_capacity(item.text.len() + 80);
    let author = format!("— {}", name(nb, &item.author));
    let recurs = if item.recurring.is_some() { " ↻" } else { "" };
    let _ = write!(
        out,
        "  {check} {}  {}{recurs}  {}",
        p.id(&item.id),
        item.text,
        p.dim(&author)
    );
    if item.carried >= CARRIED_NUDGE && !item.discussed {
        let _ = write!(
            out,
            "\n      {} discuss it, move it to the backlog (duet agenda move {id} --to backlog), or drop it (duet agenda drop {id})",
            p.warn(&format!("carried {} times:", item.carried)),
            id = item.id
        );
    } else if item.carried > 0 {
        out.push_str(&p.dim(&format!(" (carried {}x)", item.carried)));
    } else if let Some(from) = &item.carried_from {
        out.push_str(&p.dim(&format!(" (carried from {from})")));
    }
    out.push('\n');
    for alt in &item.also {
        let _ = writeln!(out, "      {} {alt}", p.warn("also edited elsewhere:"));
    }
    out
}

/// An agenda's lines: every item, except that long-carried ones fold into a line per band
/// (`duet_core::model::views::fold_agenda`) unless `all`, which lists them after the
/// others, most carried first, with the nudge said once.
pub fn agenda_lines(items: &[AgendaItem], nb: &NotebookView, p: Palette, all: bool) -> String {
    let agenda = duet_core::model::views::fold_agenda(items);
    let mut out = String::new();
    for item in &agenda.shown {
        out.push_str(&item_line(item, nb, p));
    }
    if agenda.folded.is_empty() {
        return out;
    }
    if all {
        for item in &agenda.folded {
            let author = format!("— {}, carried {}x", name(nb, &item.author), item.carried);
            let recurs = if item.recurring.is_some() { " ↻" } else { "" };
            let _ = writeln!(
                out,
                "  [ ] {}  {}{recurs}  {}",
                p.id(&item.id),
                item.text,
                p.dim(&author)
            );
        }
        let _ = writeln!(
            out,
            "  {} discuss them, move them to the backlog (duet agenda tidy), or drop them",
            p.warn(&format!(
                "{} items carried {}+ times:",
                agenda.folded.len(),
                duet_core::model::views::FOLD_FROM
            ))
        );
        return out;
    }
    for band in &agenda.bands {
        let times = band.times();
        let n = band.count;
        let _ = writeln!(
            out,
            "  {} {}",
            p.warn(&format!(
                "⋯ {n} item{} carried {times}",
                if n == 1 { "" } else { "s" }
            )),
            p.dim("— duet agenda list --all, or duet agenda tidy")
        );
    }
    out
}

/// A commitment line.
pub fn commitment_line(c: &Commitment, nb: &NotebookView, p: Palette) -> String {
    let check = match c.status {
        CommitmentStatus::Open => "[ ]",
        CommitmentStatus::Done => "[x]",
        CommitmentStatus::Dropped => "[-]",
    };
    let mut owner = format!("— {}", name(nb, &c.owner));
    if let Some(due) = &c.due {
        let _ = write!(owner, ", due {due}");
    }
    let mut out = String::with_capacity(c.text.len() + 64);
    let _ = writeln!(
        out,
        "  {check} {}  {}  {}",
        p.id(&c.id),
        c.text,
        p.dim(&owner)
    );
    if !c.conflicts.is_empty() {
        out.push_str(&conflicts(&c.conflicts, p));
    }
    out
}

/// A person's display name, borrowed (the id itself when unknown).
fn name<'a>(nb: &'a NotebookView, id: &'a str) -> &'a str {
    nb.person(id).map_or(id, |person| person.name.as_str())
}

fn conflicts(list: &[Conflict], p: Palette) -> String {
    let mut out = String::new();
    for c in list {
        let _ = writeln!(
            out,
            "      {} {} set to {} concurrently; showing {}",
            p.warn("conflict:"),
            c.field,
            c.values.join(" and "),
            c.values.first().map(String::as_str).unwrap_or("")
        );
    }
    out
}

/// A stored date with its weekday (`Thu 2026-12-03`); anything unreadable as it is.
pub fn day(date: &str) -> String {
    match date.parse::<jiff::civil::Date>() {
        Ok(d) => d.strftime("%a %Y-%m-%d").to_string(),
        Err(_) => date.to_owned(),
    }
}

fn people_line(nb: &NotebookView) -> String {
    nb.people
        .iter()
        .map(|p| format!("{} ({})", p.name, p.role))
        .collect::<Vec<_>>()
        .join(" & ")
}

fn status_word(s: MeetingStatus) -> &'static str {
    s.as_str()
}

/// The whole notebook as Markdown.
pub fn markdown(nb: &NotebookView, history: &[MeetingView]) -> String {
    let mut out = format!("# {}\n\n", nb.title);
    for person in &nb.people {
        let _ = writeln!(out, "- {}: {}", person.role, person.name);
    }
    let _ = writeln!(
        out,
        "- cadence: every {} days, {} minutes",
        nb.cadence.every_days, nb.cadence.minutes
    );
    for m in history {
        let _ = writeln!(
            out,
            "\n## {} ({})\n",
            m.summary.date,
            m.summary.status.as_str()
        );
        if !m.agenda.is_empty() {
            out.push_str("### Agenda\n\n");
            for item in &m.agenda {
                let check = if item.discussed { "x" } else { " " };
                let _ = writeln!(
                    out,
                    "- [{check}] {} — {}",
                    item.text,
                    nb.name_of(&item.author)
                );
                for alt in &item.also {
                    let _ = writeln!(out, "  - also edited elsewhere: {alt}");
                }
            }
            out.push('\n');
        }
        for section in Section::ALL {
            let text = m.section(section);
            if !text.is_empty() {
                let _ = writeln!(out, "### {}\n\n{}\n", section.title(), text);
            }
        }
        if !m.commitments.is_empty() {
            out.push_str("### Commitments\n\n");
            for c in &m.commitments {
                let due = c
                    .due
                    .as_deref()
                    .map(|d| format!(", due {d}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "- [{}] {} — {}{due}",
                    c.status.as_str(),
                    c.text,
                    nb.name_of(&c.owner)
                );
            }
            out.push('\n');
        }
    }
    out
}

/// `duet undo`, `duet redo`: the edit, then what was left because it changed since.
pub fn undone(verb: &str, u: &duet_core::Undone) -> String {
    let mut out = format!("{verb}: {}.", u.what);
    for left in &u.left {
        let _ = write!(out, "\n  {left}");
    }
    out.push('\n');
    out
}

/// `duet undo --list`.
pub fn undo_list(l: &duet_core::UndoList) -> String {
    let when = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| {
                t.to_zoned(jiff::tz::TimeZone::system())
                    .strftime("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_default()
    };
    if l.undo.is_empty() && l.redo.is_empty() {
        return "Nothing to undo or redo in this notebook on this device.\n".into();
    }
    let mut out = String::new();
    if l.undo.is_empty() {
        out.push_str("Nothing to undo.");
    } else {
        out.push_str("duet undo takes back, newest first:");
        for (n, e) in l.undo.iter().enumerate() {
            let _ = write!(out, "\n  {:>2}. {}  {}", n + 1, when(e.at_ms), e.what);
        }
    }
    if !l.redo.is_empty() {
        out.push_str("\nduet redo brings back, newest first:");
        for (n, e) in l.redo.iter().enumerate() {
            let _ = write!(out, "\n  {:>2}. {}  {}", n + 1, when(e.at_ms), e.what);
        }
    }
    out.push('\n');
    out
}

/// `duet agenda recur --list`.
pub fn recurring_points(points: &[duet_core::model::recur::Recurring]) -> String {
    if points.is_empty() {
        return "No recurring points: duet agenda recur \"Career goals\" --every 4\n".into();
    }
    let mut out = String::new();
    for p in points {
        let stopped = if p.stopped_at.is_some() {
            " (stopped)"
        } else {
            ""
        };
        let _ = writeln!(out, "{}  ↻ {} — {}{stopped}", p.id, p.text, p.rule);
    }
    out
}
