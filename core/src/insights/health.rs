//! The facts behind the drift signals, read from a notebook's history: meetings canceled or
//! moved, time since the last one against the cadence, whether the next one is on the books,
//! follow-through on commitments per owner (late, past due, or open too long with no date),
//! meetings that could have been an email, and who brings the agenda. The signals
//! themselves, as data, come from [`super::signals`]; the front ends word them.

use super::signals::{self, Signal};
use super::{date_of_millis, History};
use crate::model::views::{AgendaItem, Commitment, MeetingSummary, MeetingView, CARRIED_NUDGE};
use crate::model::{CommitmentStatus, MeetingStatus, Section};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How many concluded meetings the signals look back over by default.
pub const DEFAULT_WINDOW: usize = 10;

/// A commitment with no due date counts as stale once open for this many cadences.
pub const STALE_AFTER_CADENCES: u32 = 2;

/// How many of a person's stale commitments are named, oldest first.
pub const STALE_NAMED: usize = 3;

/// Which concluded meetings the signals look back over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last N.
    Last(usize),
    /// Those dated on or after this day.
    Since(Date),
}

impl Default for Window {
    fn default() -> Self {
        Window::Last(DEFAULT_WINDOW)
    }
}

/// A commitment open too long with no due date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleCommitment {
    /// Commitment id.
    pub id: String,
    /// What was promised.
    pub text: String,
    /// The date of the meeting it was made in.
    pub since: String,
    /// Days open.
    pub days_open: u32,
}

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
    /// Still open with no due date, made more than [`STALE_AFTER_CADENCES`] cadences ago.
    #[serde(default)]
    pub stale: usize,
    /// The oldest of those, at most [`STALE_NAMED`], oldest first.
    #[serde(default)]
    pub oldest_stale: Vec<StaleCommitment>,
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

/// A held meeting and how long it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingLength {
    /// Meeting id.
    pub meeting: String,
    /// Its date.
    pub date: String,
    /// Minutes it ran.
    pub minutes: u32,
}

/// What `duet health` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// How many concluded meetings were looked at.
    pub window: usize,
    /// The first day looked at, when the window was asked for by date.
    #[serde(default)]
    pub since: Option<String>,
    /// Of those, canceled.
    pub canceled: usize,
    /// Of those, moved to another date at least once.
    pub rescheduled: usize,
    /// The most recent meetings canceled or moved, in a row.
    pub disrupted_streak: usize,
    /// Days between meetings, as planned.
    pub every_days: u32,
    /// Planned length of a meeting, in minutes.
    #[serde(default)]
    pub planned_minutes: u32,
    /// The day the last held meeting was held (never after today).
    pub last_held: Option<String>,
    /// Days since then (never negative).
    pub days_since_held: Option<i64>,
    /// The next meeting on the books (today or later), if any.
    pub next_meeting: Option<MeetingSummary>,
    /// Meetings whose date has passed but that were neither wrapped up nor canceled.
    pub not_wrapped: Vec<MeetingSummary>,
    /// Held meetings in the window.
    pub held: usize,
    /// Dates of held meetings in the window with notes, but nothing under check-in,
    /// challenges or look-ahead (meetings with no notes at all are not counted here).
    pub all_status: Vec<String>,
    /// Dates of held meetings in the window with no notes, no agenda and no commitments.
    #[serde(default)]
    pub empty: Vec<String>,
    /// The most recent held meetings in a row whose recorded length was short of the plan
    /// (see [`signals::SHORT_PERCENT`]), most recent first.
    #[serde(default)]
    pub short_run: Vec<MeetingLength>,
    /// Per owner.
    pub follow_through: Vec<FollowThrough>,
    /// Who brought the agenda.
    pub agenda_by: Vec<AgendaShare>,
    /// Items on the upcoming agenda carried [`CARRIED_NUDGE`] times or more, most carried
    /// first.
    #[serde(default)]
    pub carried_often: Vec<AgendaItem>,
    /// What deserves attention, as data for the front ends to word; empty when nothing does.
    pub signals: Vec<Signal>,
}

/// The day a meeting happened, as far as the signals are concerned: a held meeting dated
/// after today (wrapped early before that was recorded) was held by today at the latest.
fn held_on(m: &MeetingSummary, today: Date) -> Option<Date> {
    let date = m.date.parse::<Date>().ok()?;
    Some(if m.status == MeetingStatus::Held {
        date.min(today)
    } else {
        date
    })
}

/// Whole days from `from` to `to`; zero when `to` is not after `from`.
pub(crate) fn days_between(from: Date, to: Date) -> u32 {
    u32::try_from((to - from).get_days()).unwrap_or(0)
}

/// The meetings health reads in full: those of the `window` of concluded meetings and the
/// upcoming ones. Of every other meeting it reads only the summary and the commitments, so
/// a caller may leave their agenda and sections empty.
pub fn read_in_full<'a>(
    meetings: impl IntoIterator<Item = &'a MeetingSummary>,
    window: Window,
    today: Date,
) -> BTreeSet<&'a str> {
    let (upcoming, concluded): (Vec<&MeetingSummary>, Vec<&MeetingSummary>) =
        meetings.into_iter().partition(|m| m.status.is_upcoming());
    window_of(&concluded, window, today)
        .into_iter()
        .chain(upcoming)
        .map(|m| m.id.as_str())
        .collect()
}

/// The concluded meetings a window holds, by date.
fn window_of<'a, T: AsRef<MeetingSummary>>(
    concluded: &[&'a T],
    window: Window,
    today: Date,
) -> Vec<&'a T> {
    match window {
        Window::Last(n) => concluded[concluded.len().saturating_sub(n.max(1))..].to_vec(),
        Window::Since(day) => concluded
            .iter()
            .copied()
            .filter(|m| held_on(m.as_ref(), today).is_some_and(|d| d >= day))
            .collect(),
    }
}

/// Reads the facts and signals over the `window` of concluded meetings.
pub fn health(h: &History<'_>, window: Window) -> Health {
    let today = h.today;
    let every_days = h.notebook.cadence.every_days;
    let concluded: Vec<&MeetingView> = h
        .meetings
        .iter()
        .filter(|m| !m.summary.status.is_upcoming())
        .collect();
    let recent: Vec<&MeetingView> = window_of(&concluded, window, today);
    let canceled = recent
        .iter()
        .filter(|m| m.summary.status == MeetingStatus::Canceled)
        .count();
    let rescheduled = recent.iter().filter(|m| m.summary.reschedules > 0).count();
    let disrupted_streak = recent
        .iter()
        .rev()
        .take_while(|m| m.summary.status == MeetingStatus::Canceled || m.summary.reschedules > 0)
        .count();
    let last_held = h
        .meetings
        .iter()
        .filter(|m| m.summary.status == MeetingStatus::Held)
        .filter_map(|m| held_on(&m.summary, today))
        .max();
    let upcoming = h
        .meetings
        .iter()
        .map(|m| &m.summary)
        .filter(|m| m.status.is_upcoming());
    let today_text = today.to_string();
    let next_meeting = upcoming.clone().find(|m| m.date >= today_text).cloned();
    let not_wrapped: Vec<MeetingSummary> =
        upcoming.filter(|m| m.date < today_text).cloned().collect();

    let held_meetings: Vec<&MeetingView> = recent
        .iter()
        .copied()
        .filter(|m| m.summary.status == MeetingStatus::Held)
        .collect();
    let written = |m: &MeetingView, s: Section| !m.section(s).trim().is_empty();
    let empty: Vec<String> = held_meetings
        .iter()
        .filter(|m| {
            m.agenda.is_empty()
                && m.commitments.is_empty()
                && !Section::ALL.into_iter().any(|s| written(m, s))
        })
        .map(|m| m.summary.date.clone())
        .collect();
    // Notes were written, but only about status: nothing personal, hard or ahead.
    let all_status: Vec<String> = held_meetings
        .iter()
        .filter(|m| Section::ALL.into_iter().any(|s| written(m, s)))
        .filter(|m| {
            ![Section::Checkin, Section::Challenges, Section::LookAhead]
                .into_iter()
                .any(|s| written(m, s))
        })
        .map(|m| m.summary.date.clone())
        .collect();
    let planned_minutes = h.notebook.cadence.minutes;
    let short_run: Vec<MeetingLength> = held_meetings
        .iter()
        .rev()
        .map_while(|m| {
            let minutes = m.summary.minutes?;
            signals::short_of(minutes, planned_minutes).then(|| MeetingLength {
                meeting: m.summary.id.clone(),
                date: m.summary.date.clone(),
                minutes,
            })
        })
        .collect();

    // Commitments age from the day of the meeting they were made in.
    let made_on: BTreeMap<&str, Date> = h
        .meetings
        .iter()
        .filter_map(|m| Some((m.summary.id.as_str(), held_on(&m.summary, today)?)))
        .collect();
    let commitments: Vec<&Commitment> = h.meetings.iter().flat_map(|m| &m.commitments).collect();
    let stale_after = every_days.saturating_mul(STALE_AFTER_CADENCES);
    let follow_through: Vec<FollowThrough> = h
        .notebook
        .people
        .iter()
        .map(|p| {
            let mut f = follow_through(&p.id, &p.name, &commitments, today);
            let mut stale: Vec<StaleCommitment> = commitments
                .iter()
                .filter(|c| {
                    c.owner == p.id && c.status == CommitmentStatus::Open && c.due.is_none()
                })
                .filter_map(|c| {
                    let since = *made_on.get(c.made_in.as_str())?;
                    let days_open = days_between(since, today);
                    (days_open > stale_after).then(|| StaleCommitment {
                        id: c.id.clone(),
                        text: c.text.clone(),
                        since: since.to_string(),
                        days_open,
                    })
                })
                .collect();
            stale.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.id.cmp(&b.id)));
            f.stale = stale.len();
            stale.truncate(STALE_NAMED);
            f.oldest_stale = stale;
            f
        })
        .collect();

    // The agenda of the window's meetings and of the upcoming ones, plus the backlog.
    let recent_ids: BTreeSet<&str> = recent.iter().map(|m| m.summary.id.as_str()).collect();
    let agenda_items = h
        .meetings
        .iter()
        .filter(|m| recent_ids.contains(m.summary.id.as_str()) || m.summary.status.is_upcoming())
        .flat_map(|m| &m.agenda)
        .chain(h.backlog.iter());
    // A carried item keeps its id: count each item once, wherever it lives now.
    let mut seen = BTreeSet::new();
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
        window: recent.len(),
        since: match window {
            Window::Since(day) => Some(day.to_string()),
            Window::Last(_) => None,
        },
        canceled,
        rescheduled,
        disrupted_streak,
        every_days,
        planned_minutes,
        last_held: last_held.map(|d| d.to_string()),
        days_since_held: last_held.map(|d| i64::from(days_between(d, today))),
        next_meeting,
        not_wrapped,
        held: held_meetings.len(),
        all_status,
        empty,
        short_run,
        follow_through,
        agenda_by,
        carried_often,
        signals: Vec::new(),
    };
    out.signals = signals::signals(&out, today);
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
        stale: 0,
        oldest_stale: Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::fixtures::*;
    use proptest::prelude::*;

    const TODAY: &str = "2026-06-30";

    fn read(meetings: &[MeetingView]) -> Health {
        let nb = notebook();
        health(&history(&nb, meetings, TODAY), Window::default())
    }

    fn kinds(h: &Health) -> Vec<&'static str> {
        h.signals.iter().map(Signal::kind).collect()
    }

    /// A held meeting with something under challenges, so it is neither empty nor all status.
    fn held(id: &str, date: &str) -> MeetingView {
        let mut m = meeting(id, date, MeetingStatus::Held);
        write(&mut m, Section::Challenges, "hiring is slow");
        m
    }

    fn open_commitment(id: &str, owner: &str, made_in: &MeetingView) -> Commitment {
        let mut c = commitment(id, id, owner, None, CommitmentStatus::Open, None);
        c.made_in = made_in.summary.id.clone();
        c
    }

    #[test]
    fn items_carried_again_and_again_are_pointed_out_most_carried_first() {
        let mut next = meeting("m1", "2026-07-07", MeetingStatus::Scheduled);
        for (id, times) in [("a", 2), ("b", 6), ("c", 3)] {
            let mut i = item(id, &format!("topic {id}"), "ana");
            i.carried = times;
            next.agenda.push(i);
        }
        let h = read(&[held("m0", "2026-06-23"), next]);
        let ids: Vec<&str> = h.carried_often.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["b", "c"]);
        assert_eq!(
            h.signals,
            [Signal::CarriedOften {
                item: "b".into(),
                text: "topic b".into(),
                times: 6,
                more: 1
            }]
        );
    }

    #[test]
    fn a_steady_notebook_raises_no_signal() {
        let mut meetings = Vec::new();
        for (i, day) in ["2026-06-09", "2026-06-16", "2026-06-23"]
            .iter()
            .enumerate()
        {
            let mut m = held(&format!("m{i}"), day);
            m.agenda.push(item(&format!("a{i}"), "x", "ana"));
            m.agenda.push(item(&format!("b{i}"), "y", "bo"));
            m.summary.minutes = Some(30);
            meetings.push(m);
        }
        // A commitment made a week ago, with no due date, is not stale yet.
        let fresh = open_commitment("fresh", "bo", &meetings[2]);
        meetings[2].commitments.push(fresh);
        meetings.push(meeting("m9", "2026-06-30", MeetingStatus::Scheduled));
        let h = read(&meetings);
        assert_eq!(h.signals, Vec::<Signal>::new());
        assert_eq!(h.days_since_held, Some(7));
        assert_eq!(h.held, 3);
        assert_eq!(h.follow_through[1].stale, 0);
    }

    #[test]
    fn drift_is_raised_as_data() {
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
        let h = read(&meetings);
        assert_eq!(
            h.signals,
            [
                Signal::Disrupted {
                    window: 4,
                    canceled: 3,
                    moved: 1,
                    streak: 3
                },
                Signal::LongGap {
                    last_held: "2026-05-05".into(),
                    days: 56,
                    every_days: 7
                },
                Signal::NotWrapped {
                    meeting: "late".into(),
                    date: "2026-06-02".into(),
                    days_ago: 28
                },
                Signal::NothingBooked,
                Signal::LateCommitments {
                    person: "ana".into(),
                    name: "Ana".into(),
                    made: 1,
                    done: 1,
                    done_late: 1,
                    open_past_due: 0
                },
                Signal::LateCommitments {
                    person: "bo".into(),
                    name: "Bo".into(),
                    made: 1,
                    done: 0,
                    done_late: 0,
                    open_past_due: 1
                },
                Signal::OneSidedAgenda {
                    person: "ana".into(),
                    name: "Ana".into(),
                    items: 5,
                    total: 5,
                    others: vec!["Bo".into()]
                },
            ]
        );
    }

    #[test]
    fn commitments_open_too_long_without_a_date_are_stale_oldest_named_first() {
        // A year of weekly meetings; Bo takes one commitment each week and never closes it.
        let start: Date = "2025-07-01".parse().expect("date");
        let mut meetings = Vec::new();
        for week in 0..52 {
            let day = start
                .checked_add(jiff::Span::new().days(7 * week))
                .expect("date");
            let mut m = held(&format!("m{week:02}"), &day.to_string());
            let c = open_commitment(&format!("c{week:02}"), "bo", &m);
            m.commitments.push(c);
            meetings.push(m);
        }
        // Ana's follow-through: done, dropped and re-dated ones are not stale.
        let first = meetings[0].clone();
        for (id, status, due) in [
            ("done", CommitmentStatus::Done, None),
            ("dropped", CommitmentStatus::Dropped, None),
            ("redated", CommitmentStatus::Open, Some("2026-08-01")),
        ] {
            let mut c = open_commitment(id, "ana", &first);
            c.status = status;
            c.due = due.map(Into::into);
            meetings[0].commitments.push(c);
        }
        meetings.push(meeting("next", "2026-07-07", MeetingStatus::Scheduled));
        let h = read(&meetings);
        // Made 2026-06-23 (7 days) and 2026-06-16 (14 days) are within two cadences.
        let bo = &h.follow_through[1];
        assert_eq!((bo.open, bo.stale), (52, 50));
        assert_eq!(h.follow_through[0].stale, 0);
        let stale = h
            .signals
            .iter()
            .find(|s| s.kind() == "stale_commitments")
            .expect("a stale signal");
        let Signal::StaleCommitments {
            person,
            count,
            open_over_days,
            oldest,
            ..
        } = stale
        else {
            unreachable!("matched by kind")
        };
        assert_eq!((person.as_str(), *count, *open_over_days), ("bo", 50, 14));
        let named: Vec<(&str, &str, u32)> = oldest
            .iter()
            .map(|c| (c.id.as_str(), c.since.as_str(), c.days_open))
            .collect();
        assert_eq!(
            named,
            [
                ("c00", "2025-07-01", 364),
                ("c01", "2025-07-08", 357),
                ("c02", "2025-07-15", 350)
            ]
        );
    }

    #[test]
    fn a_meeting_held_before_its_date_never_gives_a_negative_age() {
        // Wrapped early before the held day was recorded: dated a year ahead.
        let meetings = vec![
            held("early", "2027-06-22"),
            meeting("next", "2027-06-29", MeetingStatus::Scheduled),
        ];
        let h = read(&meetings);
        assert_eq!(h.last_held.as_deref(), Some(TODAY));
        assert_eq!(h.days_since_held, Some(0));
        assert_eq!(kinds(&h), Vec::<&str>::new());
    }

    #[test]
    fn meetings_with_nothing_in_them_are_noticed_apart_from_status_only_ones() {
        let mut meetings = vec![
            meeting("e1", "2026-06-09", MeetingStatus::Held),
            meeting("e2", "2026-06-16", MeetingStatus::Held),
            held("ok", "2026-06-23"),
        ];
        meetings.push(meeting("next", "2026-07-07", MeetingStatus::Scheduled));
        let h = read(&meetings);
        assert_eq!(h.empty, ["2026-06-09", "2026-06-16"]);
        assert_eq!(h.all_status, Vec::<String>::new());
        assert_eq!(
            h.signals,
            [Signal::EmptyMeetings {
                held: 3,
                dates: h.empty.clone()
            }]
        );
        // One empty meeting is not yet a pattern.
        let h = read(&meetings[1..]);
        assert_eq!(kinds(&h), Vec::<&str>::new());
    }

    #[test]
    fn status_only_meetings_are_noticed() {
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
        let h = read(&meetings);
        assert_eq!(h.all_status.len(), 2);
        assert_eq!(kinds(&h), ["all_status"]);
        // A check-in is more than status.
        write(&mut meetings[0], Section::Checkin, "tired, moving house");
        write(&mut meetings[1], Section::Checkin, "rested");
        assert_eq!(read(&meetings).all_status, Vec::<String>::new());
    }

    #[test]
    fn a_run_of_short_meetings_is_noticed_only_when_recorded_and_recent() {
        let mut meetings: Vec<MeetingView> = ["2026-06-09", "2026-06-16", "2026-06-23"]
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let mut m = held(&format!("m{i}"), d);
                m.summary.minutes = Some(10 + 2 * i as u32);
                m
            })
            .collect();
        meetings.push(meeting("next", "2026-07-07", MeetingStatus::Scheduled));
        let h = read(&meetings);
        let Some(Signal::ShortMeetings {
            planned_minutes,
            meetings: run,
        }) = h.signals.first()
        else {
            panic!("no short-meetings signal: {:?}", h.signals)
        };
        assert_eq!(*planned_minutes, 30);
        let minutes: Vec<u32> = run.iter().map(|m| m.minutes).collect();
        assert_eq!(minutes, [14, 12, 10]);
        // The most recent ran its length: no run.
        meetings[2].summary.minutes = Some(30);
        assert_eq!(kinds(&read(&meetings)), Vec::<&str>::new());
        // Unrecorded lengths say nothing.
        meetings[2].summary.minutes = None;
        assert_eq!(kinds(&read(&meetings)), Vec::<&str>::new());
    }

    #[test]
    fn a_window_by_date_takes_the_meetings_since_that_day() {
        let mut meetings: Vec<MeetingView> = ["2026-05-26", "2026-06-02", "2026-06-09"]
            .iter()
            .enumerate()
            .map(|(i, d)| meeting(&format!("c{i}"), d, MeetingStatus::Canceled))
            .collect();
        meetings.push(held("h", "2026-06-23"));
        meetings.push(meeting("next", "2026-07-07", MeetingStatus::Scheduled));
        let nb = notebook();
        let since = |d: &str| {
            health(
                &history(&nb, &meetings, TODAY),
                Window::Since(d.parse().expect("date")),
            )
        };
        let h = since("2026-06-02");
        assert_eq!((h.window, h.canceled), (3, 2));
        assert_eq!(h.since.as_deref(), Some("2026-06-02"));
        let h = since("2026-06-10");
        assert_eq!((h.window, h.canceled), (1, 0));
        assert_eq!(kinds(&h), Vec::<&str>::new());
    }

    fn no_negative_number(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Number(n) => n.as_i64().is_none_or(|n| n >= 0),
            serde_json::Value::Array(a) => a.iter().all(no_negative_number),
            serde_json::Value::Object(o) => o.values().all(no_negative_number),
            _ => true,
        }
    }

    proptest! {
        /// Whatever the history (meetings held early, late, canceled, moved; commitments
        /// with or without dates, made in meetings past or future), no fact and no signal
        /// carries a negative age or count, and the last held day is never after today.
        #[test]
        fn no_signal_shows_a_negative_age_or_count(
            plan in proptest::collection::vec(
                (-400i64..400, 0u8..4, 0u32..3, proptest::option::of(1u32..120), 0u8..4, proptest::option::of(-60i64..60)),
                0..24,
            ),
            every_days in 1u32..30,
        ) {
            let today: Date = TODAY.parse().expect("date");
            let mut nb = notebook();
            nb.cadence.every_days = every_days;
            let mut meetings: Vec<MeetingView> = plan
                .iter()
                .enumerate()
                .map(|(i, (offset, status, moves, minutes, commitments, due))| {
                    let day = today.checked_add(jiff::Span::new().days(*offset)).expect("date");
                    let status = match status {
                        0 => MeetingStatus::Held,
                        1 => MeetingStatus::Canceled,
                        2 => MeetingStatus::Rescheduled,
                        _ => MeetingStatus::Scheduled,
                    };
                    let mut m = meeting(&format!("m{i:02}"), &day.to_string(), status);
                    m.summary.reschedules = *moves;
                    m.summary.minutes = *minutes;
                    for n in 0..*commitments {
                        let mut c = open_commitment(&format!("c{i}-{n}"), if n % 2 == 0 { "ana" } else { "bo" }, &m);
                        c.due = due.map(|d| today.checked_add(jiff::Span::new().days(d)).expect("date").to_string());
                        m.commitments.push(c);
                    }
                    m
                })
                .collect();
            meetings.sort_by(|a, b| a.summary.date.cmp(&b.summary.date));
            for window in [Window::Last(3), Window::default(), Window::Since(today.checked_sub(jiff::Span::new().days(90)).expect("date"))] {
                let h = health(&history(&nb, &meetings, TODAY), window);
                prop_assert!(h.last_held.as_deref().is_none_or(|d| d <= TODAY), "{:?}", h.last_held);
                let json = serde_json::to_value(&h).expect("json");
                prop_assert!(no_negative_number(&json), "{json}");
            }
        }
    }
}
