//! The commands that help run good 1-1s — `prep`, `health`, `ask`, `themes`, `search`,
//! `history`, `private`, and the one-meeting summary of `export --meeting` — with their text
//! rendering. With `--json` each prints its [`crate::json::practice`] type.

use crate::commands::Output;
use crate::json::notebook::list;
use crate::json::practice as json;
use crate::render::{self, Palette};
use anyhow::{Context, Result};
use duet_core::insights::health::{Health, Window};
use duet_core::insights::search::{Hit, HitKind};
use duet_core::insights::themes::Themes;
use duet_core::model::private::PrivateNote;
use duet_core::model::questions::Question;
use duet_core::model::views::NotebookView;
use duet_core::model::{MeetingStatus, Section};
use duet_core::{Duet, DuetError, Prep};
use std::fmt::Write;
use std::path::Path;

/// `duet prep`.
pub fn prep(duet: &Duet, out: &Output) -> Result<()> {
    let prep = duet.insights().prep()?;
    out.print_lazy(
        || json::Prep::from(&prep),
        || render_prep(&prep, out.palette),
    );
    Ok(())
}

fn render_prep(prep: &Prep, p: Palette) -> String {
    let nb = &prep.notebook;
    let mut out = String::new();
    match &prep.meeting {
        Some(m) => {
            let _ = writeln!(
                out,
                "{}",
                p.heading(&format!(
                    "Prepare for {} — {}",
                    render::day(&m.date),
                    nb.title
                ))
            );
        }
        None => {
            let _ = writeln!(
                out,
                "{}\nNo meeting on the books: duet meeting new",
                p.heading(&nb.title)
            );
        }
    }
    if let Some((date, takeaway)) = &prep.last_takeaway {
        let _ = writeln!(
            out,
            "\n{} {}",
            p.heading("Last time"),
            p.dim(&format!("({date})"))
        );
        for line in takeaway.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    let _ = writeln!(out, "\n{}", p.heading("Agenda so far"));
    if prep.agenda.is_empty() {
        let _ = writeln!(out, "  {}", p.dim("(empty — duet agenda add \"...\")"));
    }
    out.push_str(&render::agenda_lines(&prep.agenda, nb, p, false));
    for person in &nb.people {
        let n = prep.agenda.iter().filter(|i| i.author == person.id).count();
        if n == 0 && !prep.agenda.is_empty() {
            let _ = writeln!(
                out,
                "  {}",
                p.dim(&format!("Nothing from {} yet.", person.name))
            );
        }
    }
    if !prep.open_commitments.is_empty() {
        let _ = writeln!(out, "\n{}", p.heading("Open commitments"));
        for c in &prep.open_commitments {
            out.push_str(&render::commitment_line(c, nb, p));
        }
    }
    if !prep.backlog.is_empty() {
        let _ = writeln!(
            out,
            "\n{} {}",
            p.heading("Backlog"),
            p.dim(&format!("({} kept for later)", prep.backlog.len()))
        );
        for item in prep.backlog.iter().take(3) {
            out.push_str(&render::item_line(item, nb, p));
        }
    }
    if !prep.private.is_empty() {
        let _ = writeln!(
            out,
            "\n{} {}",
            p.heading("Your private notes"),
            p.dim("(only you)")
        );
        for n in &prep.private {
            let _ = writeln!(out, "  {}", n.text);
        }
    }
    if let Some(q) = &prep.question {
        let _ = writeln!(
            out,
            "\n{}\n  {}  {}",
            p.heading("A question worth asking"),
            q.text,
            p.dim(&format!("(duet ask {} --add)", q.id))
        );
    }
    out
}

/// `duet health`.
pub fn health(duet: &Duet, window: Window, out: &Output) -> Result<()> {
    let h = duet.insights().health(window)?;
    let nb = duet.notebook()?;
    out.print_lazy(
        || json::Health::from(&h),
        || render_health(&h, &nb, out.palette),
    );
    Ok(())
}

fn render_health(h: &Health, nb: &NotebookView, p: Palette) -> String {
    let mut out = format!("{}\n", p.heading(&format!("Health of {}", nb.title)));
    let held = match (&h.last_held, h.days_since_held) {
        (Some(d), Some(0)) => format!("last held today ({d})"),
        (Some(d), Some(1)) => format!("last held yesterday ({d})"),
        (Some(d), Some(days)) => format!("last held {d} ({days} days ago)"),
        _ => "none held yet".into(),
    };
    let next = h
        .next_meeting
        .as_ref()
        .map(|m| format!("next on {}", render::day(&m.date)))
        .unwrap_or_else(|| "nothing on the books".into());
    let _ = writeln!(
        out,
        "  Meetings: {held}; {next}; you meet every {} days.",
        h.every_days
    );
    let looked_at = match &h.since {
        Some(day) => format!("Since {day}, {} concluded", h.window),
        None => format!("Last {} concluded", h.window),
    };
    let _ = writeln!(
        out,
        "  {looked_at}: {} held, {} canceled, {} moved.",
        h.window.saturating_sub(h.canceled),
        h.canceled,
        h.rescheduled
    );
    for f in &h.follow_through {
        let stale = if f.stale > 0 {
            format!(", {} with no date for a while", f.stale)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {}: {} commitments, {} done ({} late), {} open ({} past due{stale}), {} dropped.",
            f.name, f.made, f.done, f.done_late, f.open, f.open_past_due, f.dropped
        );
    }
    let shares: Vec<String> = h
        .agenda_by
        .iter()
        .map(|s| format!("{} {}", s.name, s.items))
        .collect();
    let _ = writeln!(out, "  Agenda items brought: {}.", shares.join(", "));
    if h.signals.is_empty() {
        let _ = writeln!(out, "\nNo signs of drift.");
    } else {
        let _ = writeln!(out, "\n{}", p.heading("Worth a look"));
        for s in &h.signals {
            let _ = writeln!(out, "  - {}", crate::signals::sentence(s));
        }
    }
    out
}

/// `duet ask`.
pub fn ask(
    duet: &mut Duet,
    id: Option<String>,
    add: bool,
    new: Option<String>,
    list: bool,
    out: &Output,
) -> Result<()> {
    let p = out.palette;
    if let Some(text) = new {
        let q = duet.questions().add(&text)?;
        out.print(&json::Question::from(&q), || {
            format!(
                "Added question {}: {}\nBoth of you will see it once you sync.\n",
                p.id(&q.id),
                q.text
            )
        });
        return Ok(());
    }
    if list {
        let all = duet.questions().list()?;
        out.print(
            &crate::json::notebook::list::<_, json::Question>(&all),
            || render_questions(&all, p),
        );
        return Ok(());
    }
    if id.is_none() && !add {
        let q = duet.questions().suggest()?;
        let suggested = crate::json::results::Suggestion {
            suggestion: q.as_ref().map(json::Question::from),
        };
        out.print(&suggested, || match &q {
            Some(q) => format!(
                "{}\n\n  {}\n\n{}\n",
                p.heading("Try asking"),
                q.text,
                p.dim(&format!(
                    "Put it on the agenda: duet ask {id} --add   Mark it asked: duet ask {id}",
                    id = q.id
                ))
            ),
            None => "No question to suggest.\n".into(),
        });
        return Ok(());
    }
    let asked = duet.questions().ask(id.as_deref(), add)?;
    out.print(&json::Asked::from(&asked), || {
        let on = if asked.item.is_some() {
            " and put it on the agenda"
        } else {
            ""
        };
        format!(
            "Asked {}{on}: {}\n",
            p.id(&asked.question.id),
            asked.question.text
        )
    });
    Ok(())
}

fn render_questions(all: &[Question], p: Palette) -> String {
    let mut out = String::new();
    for q in all {
        let when = match q
            .last_asked
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        {
            Some(t) => format!(
                "asked {}x, last {}",
                q.asked_in.len(),
                t.strftime("%Y-%m-%d")
            ),
            None => "never asked".into(),
        };
        let own = if q.own { " (yours)" } else { "" };
        let _ = writeln!(
            out,
            "  {}  {}{own}  {}",
            p.id(&q.id),
            q.text,
            p.dim(&format!("— {when}"))
        );
    }
    out
}

/// `duet themes`.
pub fn themes(duet: &Duet, out: &Output) -> Result<()> {
    let t = duet.insights().themes()?;
    let nb = duet.notebook()?;
    out.print_lazy(
        || json::Themes::from(&t),
        || render_themes(&t, &nb, out.palette),
    );
    Ok(())
}

fn render_themes(t: &Themes, nb: &NotebookView, p: Palette) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", p.heading("Themes"));
    if t.themes.is_empty() {
        let _ = writeln!(
            out,
            "  {}",
            p.dim("No themes yet: add #tags to agenda items, notes or commitments (#growth, #workload).")
        );
    }
    for theme in &t.themes {
        let recurring = if theme.recurring { "  recurring" } else { "" };
        let span = if theme.first == theme.last {
            theme.first.clone()
        } else {
            format!("{} → {}", theme.first, theme.last)
        };
        // One mark per recent held meeting, oldest first: where the theme came up.
        let trail: String = theme
            .recent
            .iter()
            .map(|hit| if *hit { '#' } else { '.' })
            .collect();
        let _ = writeln!(
            out,
            "  #{:<16} {:>12} {} meeting(s), {} mention(s)  {}{}",
            theme.tag,
            trail,
            theme.meetings,
            theme.mentions,
            p.dim(&span),
            p.warn(recurring)
        );
    }
    let _ = writeln!(out, "\n{}", p.heading("Commitments that keep slipping"));
    if t.slipping.is_empty() {
        let _ = writeln!(out, "  {}", p.dim("None."));
    }
    for s in &t.slipping {
        let tags: Vec<String> = s.tags.iter().map(|t| format!("#{t}")).collect();
        let _ = writeln!(
            out,
            "  {}  {}  {}",
            p.id(&s.commitment.id),
            s.commitment.text,
            p.dim(&format!(
                "— {}, made {}: {}{}",
                nb.name_of(&s.commitment.owner),
                s.made_on,
                s.why,
                if tags.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", tags.join(" "))
                }
            ))
        );
    }
    out
}

/// `duet search`.
pub fn search(duet: &Duet, words: &[String], out: &Output) -> Result<()> {
    let query = words.join(" ");
    let hits = duet.insights().search(&query)?;
    out.print_lazy(
        || list::<_, json::Hit>(&hits),
        || render_hits(&hits, out.palette),
    );
    Ok(())
}

fn render_hits(hits: &[Hit], p: Palette) -> String {
    if hits.is_empty() {
        return "Nothing found.\n".into();
    }
    let mut out = String::new();
    for h in hits {
        let kind = match h.kind {
            HitKind::Agenda => "agenda".to_owned(),
            HitKind::Commitment => "commitment".to_owned(),
            HitKind::Private => "private".to_owned(),
            HitKind::Backlog => "backlog".to_owned(),
            HitKind::Note => h
                .section
                .as_deref()
                .and_then(|s| s.parse::<Section>().ok())
                .map(|s| s.title().to_lowercase())
                .unwrap_or_else(|| "notes".into()),
        };
        let date = if h.date.is_empty() { "—" } else { &h.date };
        let _ = writeln!(out, "  {}  {:<12} {}", p.dim(date), kind, h.text);
    }
    let _ = writeln!(out, "{} found.", hits.len());
    out
}

/// `duet history`.
pub fn history(duet: &mut Duet, out: &Output) -> Result<()> {
    let all = duet.meetings().takeaways()?;
    let rows = || all.iter().map(json::HistoryRow::from).collect::<Vec<_>>();
    let p = out.palette;
    out.print_lazy(rows, || {
        let mut text = String::new();
        for (summary, takeaway) in &all {
            let line = match summary.status {
                MeetingStatus::Held if !takeaway.is_empty() => {
                    takeaway.lines().collect::<Vec<_>>().join(" / ")
                }
                MeetingStatus::Held => p.dim("(no takeaway written)").into_owned(),
                s => p.dim(&format!("({})", s.as_str())).into_owned(),
            };
            let _ = writeln!(
                text,
                "  {}  {}  {line}",
                p.id(&summary.id),
                render::day(&summary.date)
            );
        }
        if all.is_empty() {
            text.push_str("No meetings yet.\n");
        }
        text
    });
    Ok(())
}

/// `duet private`: writes a note, or lists them.
pub fn private(
    duet: &mut Duet,
    text: Option<String>,
    meeting: Option<String>,
    out: &Output,
) -> Result<()> {
    let p = out.palette;
    match text {
        Some(text) => {
            let note = duet.private_notes().add(&text, meeting.as_deref())?;
            out.print(&json::PrivateNote::from(&note), || {
                "Kept privately: only your own devices will have it (link them with `duet link`).\n"
                    .to_owned()
            });
        }
        None => {
            let mut notes = duet.private_notes().list()?;
            if let Some(m) = &meeting {
                let id = duet.meetings().get(Some(m))?.summary.id;
                notes.retain(|n| n.meeting.as_deref() == Some(id.as_str()));
            }
            // A device linked only for private notes has no notebook to date them by.
            let dates: Vec<(String, String)> = match duet.meetings().list() {
                Ok(list) => list.into_iter().map(|m| (m.id, m.date)).collect(),
                Err(DuetError::NoNotebook) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            out.print(&list::<_, json::PrivateNote>(&notes), || {
                render_private(&notes, &dates, p)
            });
        }
    }
    Ok(())
}

fn render_private(notes: &[PrivateNote], dates: &[(String, String)], p: Palette) -> String {
    if notes.is_empty() {
        return "No private notes for this notebook yet: duet private \"...\"\n".into();
    }
    let mut out = format!("{} {}\n", p.heading("Private notes"), p.dim("(only you)"));
    for n in notes {
        let date = n
            .meeting
            .as_ref()
            .and_then(|m| dates.iter().find(|(id, _)| id == m))
            .map(|(_, d)| d.as_str())
            .unwrap_or("—");
        let _ = writeln!(out, "  {}  {}", p.dim(date), n.text);
    }
    out
}

/// `duet export --meeting M --format md`: one meeting as a summary to paste into an email.
pub fn export_meeting(
    duet: &mut Duet,
    query: &str,
    output: Option<&Path>,
    out: &crate::commands::Output,
) -> Result<()> {
    let text = duet.meetings().summary(query)?;
    match output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => out.write(&text),
    }
    Ok(())
}
