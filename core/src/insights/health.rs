//! The signals that 1-1s are drifting, in plain words: meetings canceled or moved, time
//! since the last one against the cadence, whether the next one is on the books, follow
//! through on commitments per owner, meetings that were all status, and who brings the
//! agenda. No score: each signal says what it saw, and nothing is said when all is well.

use super::{count, date_of_millis, History};
use crate::model::views::{AgendaItem, Commitment, MeetingSummary, CARRIED_NUDGE};
use crate::model::{CommitmentStatus, MeetingStatus, Section};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// How many concluded meetings the signals look back over by default.
pub const DEFAULT_WINDOW: usize = 10;

/// A person's follow-through on the commitments they own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowThrough {
    /// Person id.
    pub person: String,
    /// Display name.
    pub name: String,
    /// Commitments they own, in every meeting.
    pub made: usize,
    /// Done.
    pub done: usize,
    /// Done after their due date.
    pub done_late: usize,
    /// Still open.
    pub open: usize,
    /// Still open after their due date.
    pub open_past_due: usize,
    /// Dropped on purpose.
    pub dropped: usize,
}

/// How many agenda items a person brought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgendaShare {
    /// Person id.
    pub person: String,
    /// Display name.
    pub name: String,
    /// Items they added in the window's meetings and the backlog.
    pub items: usize,
}

/// What `duet health` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// How many concluded meetings were looked at (at most the window asked for).
    pub window: usize,
    /// Of those, canceled.
    pub canceled: usize,
    /// Of those, moved to another date at least once.
    pub rescheduled: usize,
    /// The most recent meetings canceled or moved, in a row.
    pub disrupted_streak: usize,
    /// Days between meetings, as planned.
    pub every_days: u32,
    /// The last held meeting's date.
    pub last_held: Option<String>,
    /// Days since then.
    pub days_since_held: Option<i64>,
    /// The next meeting on the books (today or later), if any.
    pub next_meeting: Option<MeetingSummary>,
    /// Meetings whose date has passed but that were neither wrapped up nor canceled.
    pub not_wrapped: Vec<MeetingSummary>,
    /// Held meetings in the window.
    pub held: usize,
    /// Dates of held meetings in the window with nothing under challenges or look-ahead.
    pub all_status: Vec<String>,
    /// Per owner.
    pub follow_through: Vec<FollowThrough>,
    /// Who brought the agenda.
    pub agenda_by: Vec<AgendaShare>,
    /// Items on the upcoming agenda carried [`CARRIED_NUDGE`] times or more, most carried
    /// first.
    #[serde(default)]
    pub carried_often: Vec<AgendaItem>,
    /// What deserves attention, in plain words; empty when nothing does.
    pub signals: Vec<String>,
}

/// Reads the signals over the last `window` concluded meetings.
pub fn health(h: &History<'_>, window: usize) -> Health {
    let window = window.max(1);
    let every_days = h.notebook.cadence.every_days;
    let concluded: Vec<&MeetingSummary> = h
        .meetings
        .iter()
        .map(|m| &m.summary)
        .filter(|m| !m.status.is_upcoming())
        .collect();
    let recent = &concluded[concluded.len().saturating_sub(window)..];
    let canceled = recent
        .iter()
        .filter(|m| m.status == MeetingStatus::Canceled)
        .count();
    let rescheduled = recent.iter().filter(|m| m.reschedules > 0).count();
    let disrupted_streak = recent
        .iter()
        .rev()
        .take_while(|m| m.status == MeetingStatus::Canceled || m.reschedules > 0)
        .count();
    let last_held = h
        .meetings
        .iter()
        .rev()
        .find(|m| m.summary.status == MeetingStatus::Held)
        .map(|m| m.summary.date.clone());
    let days_since_held = last_held
        .as_deref()
        .and_then(|d| d.parse::<Date>().ok())
        .map(|d| i64::from((h.today - d).get_days()));
    let upcoming = h
        .meetings
        .iter()
        .map(|m| &m.summary)
        .filter(|m| m.status.is_upcoming());
    let today = h.today.to_string();
    let next_meeting = upcoming.clone().find(|m| m.date >= today).cloned();
    let not_wrapped: Vec<MeetingSummary> = upcoming.filter(|m| m.date < today).cloned().collect();

    let recent_ids: Vec<&str> = recent.iter().map(|m| m.id.as_str()).collect();
    let in_window = h
        .meetings
        .iter()
        .filter(|m| recent_ids.contains(&m.summary.id.as_str()));
    let held_meetings: Vec<_> = in_window
        .clone()
        .filter(|m| m.summary.status == MeetingStatus::Held)
        .collect();
    let all_status: Vec<String> = held_meetings
        .iter()
        .filter(|m| {
            m.section(Section::Challenges).trim().is_empty()
                && m.section(Section::LookAhead).trim().is_empty()
        })
        .map(|m| m.summary.date.clone())
        .collect();

    let commitments: Vec<&Commitment> = h.meetings.iter().flat_map(|m| &m.commitments).collect();
    let follow_through: Vec<FollowThrough> = h
        .notebook
        .people
        .iter()
        .map(|p| follow_through(&p.id, &p.name, &commitments, h.today))
        .collect();

    // The agenda of the window's meetings and of the upcoming ones, plus the backlog.
    let agenda_items = h
        .meetings
        .iter()
        .filter(|m| recent_ids.contains(&m.summary.id.as_str()) || m.summary.status.is_upcoming())
        .flat_map(|m| &m.agenda)
        .chain(h.backlog.iter());
    // A carried item keeps its id: count each item once, wherever it lives now.
    let mut seen = std::collections::BTreeSet::new();
    let agenda_items = agenda_items.filter(|i| seen.insert(i.id.as_str()));
    let mut agenda_by: Vec<AgendaShare> = h
        .notebook
        .people
        .iter()
        .map(|p| AgendaShare {
            person: p.id.clone(),
            name: p.name.clone(),
            items: 0,
        })
        .collect();
    for item in agenda_items {
        if let Some(share) = agenda_by.iter_mut().find(|s| s.person == item.author) {
            share.items += 1;
        }
    }

    let mut carried_often: Vec<AgendaItem> = h
        .meetings
        .iter()
        .filter(|m| m.summary.status.is_upcoming())
        .flat_map(|m| &m.agenda)
        .filter(|i| !i.discussed && i.carried >= CARRIED_NUDGE)
        .cloned()
        .collect();
    carried_often.sort_by(|a, b| b.carried.cmp(&a.carried).then_with(|| a.id.cmp(&b.id)));
    carried_often.dedup_by(|a, b| a.id == b.id);

    let mut out = Health {
        carried_often,
        window: recent.len(),
        canceled,
        rescheduled,
        disrupted_streak,
        every_days,
        last_held,
        days_since_held,
        next_meeting,
        not_wrapped,
        held: held_meetings.len(),
        all_status,
        follow_through,
        agenda_by,
        signals: Vec::new(),
    };
    out.signals = signals(&out);
    out
}

fn follow_through(person: &str, name: &str, all: &[&Commitment], today: Date) -> FollowThrough {
    let mut f = FollowThrough {
        person: person.to_owned(),
        name: name.to_owned(),
        made: 0,
        done: 0,
        done_late: 0,
        open: 0,
        open_past_due: 0,
        dropped: 0,
    };
    for c in all.iter().filter(|c| c.owner == person) {
        f.made += 1;
        let due = c.due.as_deref().and_then(|d| d.parse::<Date>().ok());
        match c.status {
            CommitmentStatus::Done => {
                f.done += 1;
                let closed = c.closed_at.and_then(date_of_millis);
                if let (Some(due), Some(closed)) = (due, closed) {
                    if closed > due {
                        f.done_late += 1;
                    }
                }
            }
            CommitmentStatus::Open => {
                f.open += 1;
                if due.is_some_and(|d| d < today) {
                    f.open_past_due += 1;
                }
            }
            CommitmentStatus::Dropped => f.dropped += 1,
        }
    }
    f
}

fn signals(h: &Health) -> Vec<String> {
    let mut out = Vec::new();
    if h.canceled > 0 || h.rescheduled > 0 {
        let mut line = format!(
            "Of the last {}, {} canceled and {} moved to another date.",
            count(h.window, "meeting", "meetings"),
            h.canceled,
            h.rescheduled
        );
        if h.disrupted_streak >= 2 {
            line.push_str(&format!(
                " The last {} in a row were canceled or moved.",
                h.disrupted_streak
            ));
        }
        out.push(line);
    }
    match (h.days_since_held, &h.last_held) {
        (Some(days), Some(date)) if days > i64::from(h.every_days) * 3 / 2 => out.push(format!(
            "The last 1-1 was held {days} days ago ({date}); you planned to meet every {}.",
            count(h.every_days as usize, "day", "days")
        )),
        (None, _) if h.window > 0 => {
            out.push("No 1-1 has been held yet: every meeting so far was canceled.".into())
        }
        _ => {}
    }
    for m in &h.not_wrapped {
        out.push(format!(
            "The meeting of {} has passed but was not wrapped up: `duet wrap --meeting {}` or `duet meeting cancel {}`.",
            m.date, m.id, m.id
        ));
    }
    if h.next_meeting.is_none() {
        out.push("No next meeting is on the books: `duet meeting new`.".into());
    }
    for f in &h.follow_through {
        if f.done_late == 0 && f.open_past_due == 0 {
            continue;
        }
        let mut parts = vec![format!("{} done", f.done)];
        if f.done_late > 0 {
            parts.push(format!("{} of them late", f.done_late));
        }
        if f.open_past_due > 0 {
            parts.push(format!("{} open past due", f.open_past_due));
        }
        out.push(format!(
            "{} owns {}: {}.",
            f.name,
            count(f.made, "commitment", "commitments"),
            parts.join(", ")
        ));
    }
    if h.held >= 2 && h.all_status.len() * 2 >= h.held {
        out.push(format!(
            "{} of the last {} held meetings were all status: nothing under challenges or look-ahead.",
            h.all_status.len(),
            h.held
        ));
    }
    if let Some(most) = h.carried_often.first() {
        let others = h.carried_often.len() - 1;
        let more = if others > 0 {
            let items = if others == 1 { "item" } else { "items" };
            format!(" ({others} more {items} carried {CARRIED_NUDGE}+ times)")
        } else {
            String::new()
        };
        out.push(format!(
            "\"{}\" was carried {} times{more}: discuss it, move it to the backlog, or drop it.",
            most.text, most.carried
        ));
    }
    let total: usize = h.agenda_by.iter().map(|s| s.items).sum();
    if total >= 5 {
        if let Some(top) = h.agenda_by.iter().max_by_key(|s| s.items) {
            if top.items * 5 >= total * 4 {
                let others: Vec<&str> = h
                    .agenda_by
                    .iter()
                    .filter(|s| s.person != top.person)
                    .map(|s| s.name.as_str())
                    .collect();
                out.push(format!(
                    "{} brought {} of {} agenda items: the agenda is one-sided; ask {} what they want to cover.",
                    top.name,
                    top.items,
                    total,
                    others.join(" and ")
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::fixtures::*;

    const TODAY: &str = "2026-06-30";

    #[test]
    fn items_carried_again_and_again_are_pointed_out_most_carried_first() {
        let nb = notebook();
        let mut held = meeting("m0", "2026-06-23", MeetingStatus::Held);
        write(&mut held, Section::Challenges, "hiring is slow");
        let mut next = meeting("m1", "2026-07-07", MeetingStatus::Scheduled);
        for (id, times) in [("a", 2), ("b", 6), ("c", 3)] {
            let mut i = item(id, &format!("topic {id}"), "ana");
            i.carried = times;
            next.agenda.push(i);
        }
        let meetings = vec![held, next];
        let h = health(
            &History {
                notebook: &nb,
                meetings: &meetings,
                backlog: &[],
                today: TODAY.parse().expect("date"),
            },
            DEFAULT_WINDOW,
        );
        let ids: Vec<&str> = h.carried_often.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["b", "c"]);
        assert!(
            h.signals.iter().any(|s| s
                == "\"topic b\" was carried 6 times (1 more item carried 3+ times): discuss it, move it to the backlog, or drop it."),
            "{:?}",
            h.signals
        );
    }

    #[test]
    fn a_steady_notebook_raises_no_signal() {
        let nb = notebook();
        let mut meetings = Vec::new();
        for (i, day) in ["2026-06-09", "2026-06-16", "2026-06-23"]
            .iter()
            .enumerate()
        {
            let mut m = meeting(&format!("m{i}"), day, MeetingStatus::Held);
            write(&mut m, Section::Challenges, "hiring is slow");
            m.agenda.push(item(&format!("a{i}"), "x", "ana"));
            m.agenda.push(item(&format!("b{i}"), "y", "bo"));
            meetings.push(m);
        }
        meetings.push(meeting("m9", "2026-06-30", MeetingStatus::Scheduled));
        let h = health(&history(&nb, &meetings, TODAY), DEFAULT_WINDOW);
        assert_eq!(h.signals, Vec::<String>::new());
        assert_eq!(h.days_since_held, Some(7));
        assert_eq!(h.held, 3);
    }

    #[test]
    fn drift_is_named_in_plain_words() {
        let nb = notebook();
        let mut meetings = vec![meeting("m1", "2026-05-05", MeetingStatus::Held)];
        meetings[0].commitments.push(commitment(
            "c1",
            "send the plan",
            "ana",
            Some("2026-05-10"),
            CommitmentStatus::Done,
            Some("2026-05-20"),
        ));
        meetings[0].commitments.push(commitment(
            "c2",
            "book training",
            "bo",
            Some("2026-05-12"),
            CommitmentStatus::Open,
            None,
        ));
        for (i, day) in ["2026-05-12", "2026-05-19", "2026-05-26"]
            .iter()
            .enumerate()
        {
            meetings.push(meeting(&format!("c{i}"), day, MeetingStatus::Canceled));
        }
        meetings[2].summary.reschedules = 1;
        for (i, text) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            meetings[0].agenda.push(item(&format!("i{i}"), text, "ana"));
        }
        meetings.push(meeting("late", "2026-06-02", MeetingStatus::Scheduled));
        let h = health(&history(&nb, &meetings, TODAY), DEFAULT_WINDOW);
        let all = h.signals.join("\n");
        assert!(
            all.contains("Of the last 4 meetings, 3 canceled and 1 moved"),
            "{all}"
        );
        assert!(all.contains("last 3 in a row"), "{all}");
        assert!(all.contains("held 56 days ago"), "{all}");
        assert!(all.contains("2026-06-02 has passed"), "{all}");
        assert!(all.contains("No next meeting"), "{all}");
        assert!(
            all.contains("Ana owns 1 commitment: 1 done, 1 of them late"),
            "{all}"
        );
        assert!(
            all.contains("Bo owns 1 commitment: 0 done, 1 open past due"),
            "{all}"
        );
        assert!(all.contains("Ana brought 5 of 5 agenda items"), "{all}");
        let ana = &h.follow_through[0];
        assert_eq!((ana.made, ana.done, ana.done_late), (1, 1, 1));
    }

    #[test]
    fn status_only_meetings_are_noticed() {
        let nb = notebook();
        let mut meetings: Vec<_> = ["2026-06-16", "2026-06-23"]
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let mut m = meeting(&format!("m{i}"), d, MeetingStatus::Held);
                write(&mut m, Section::Wins, "shipped");
                m
            })
            .collect();
        meetings.push(meeting("next", "2026-07-07", MeetingStatus::Scheduled));
        let h = health(&history(&nb, &meetings, TODAY), DEFAULT_WINDOW);
        assert_eq!(h.all_status.len(), 2);
        assert!(
            h.signals.iter().any(|s| s.contains("all status")),
            "{:?}",
            h.signals
        );
    }
}
