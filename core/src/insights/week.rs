//! A manager's week across every notebook: the 1-1s on the books in a window, who has
//! prepared each, what keeps being carried, the drift signals, and the commitments owed
//! each way, overdue first.
//!
//! Pure: the façade reads each notebook once into a [`NotebookWeek`] and [`week`] puts the
//! notebooks together, so every rule here is tested on hand-made notebooks.

use super::signals::Signal;
use crate::model::views::{AgendaItem, Commitment, MeetingView, NotebookView, CARRIED_NUDGE};
use crate::model::MeetingStatus;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// What one notebook brings to the week, as the façade read it.
#[derive(Debug, Clone)]
pub struct NotebookWeek {
    /// The notebook (people, cadence, which person this device is).
    pub notebook: NotebookView,
    /// Its meetings on the books within the window, in full, by date.
    pub meetings: Vec<MeetingView>,
    /// Whether any meeting is on the books at all (today or later).
    pub booked: bool,
    /// Its open commitments.
    pub open_commitments: Vec<Commitment>,
    /// Its drift signals.
    pub signals: Vec<Signal>,
}

/// The week at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Week {
    /// The window's first day.
    pub from: String,
    /// The window's last day.
    pub to: String,
    /// Today.
    pub today: String,
    /// The 1-1s on the books in the window, by date.
    pub meetings: Vec<WeekMeeting>,
    /// What this device's person owes, overdue first.
    pub i_owe: Vec<Owed>,
    /// What the others owe this device's person, by person, overdue first within each.
    pub owed_to_me: Vec<Owed>,
    /// Notebooks with no meeting on the books at all.
    pub nothing_booked: Vec<NotebookRef>,
}

/// A notebook, named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotebookRef {
    /// Its id.
    pub notebook: String,
    /// Its title.
    pub title: String,
    /// The other person.
    pub person: String,
}

/// One 1-1 on the books.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekMeeting {
    /// The notebook.
    #[serde(flatten)]
    pub notebook: NotebookRef,
    /// The meeting's id.
    pub meeting: String,
    /// Its date.
    pub date: String,
    /// Planned minutes.
    pub minutes: u32,
    /// Items this device's person put on its agenda.
    pub my_items: usize,
    /// Items the other person put on it.
    pub their_items: usize,
    /// Items carried [`CARRIED_NUDGE`] times or more, most carried first.
    pub carried_often: Vec<AgendaItem>,
    /// The notebook's drift signals.
    pub signals: Vec<Signal>,
}

/// A commitment owed, with its notebook and how late it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owed {
    /// The notebook; `person` is whoever owes it (for [`Week::owed_to_me`]) or is owed it
    /// (for [`Week::i_owe`]).
    #[serde(flatten)]
    pub notebook: NotebookRef,
    /// The commitment.
    pub commitment: Commitment,
    /// Days past its due date; `None` when not due yet or with no due date.
    pub overdue_days: Option<u32>,
}

/// Puts the notebooks' weeks together.
pub fn week(notebooks: &[NotebookWeek], from: Date, to: Date, today: Date) -> Week {
    let mut out = Week {
        from: from.to_string(),
        to: to.to_string(),
        today: today.to_string(),
        meetings: Vec::new(),
        i_owe: Vec::new(),
        owed_to_me: Vec::new(),
        nothing_booked: Vec::new(),
    };
    for nw in notebooks {
        let nb = &nw.notebook;
        let me = nb.me.as_deref();
        let other = nb.people.iter().find(|p| Some(p.id.as_str()) != me);
        let named = NotebookRef {
            notebook: nb.id.clone(),
            title: nb.title.clone(),
            person: other.map(|p| p.name.clone()).unwrap_or_default(),
        };
        if !nw.booked {
            out.nothing_booked.push(named.clone());
        }
        for m in &nw.meetings {
            let mine = |i: &&AgendaItem| me.is_some_and(|me| i.author == me);
            let mut carried: Vec<AgendaItem> = m
                .agenda
                .iter()
                .filter(|i| !i.discussed && i.carried >= CARRIED_NUDGE)
                .cloned()
                .collect();
            carried.sort_by(|a, b| b.carried.cmp(&a.carried).then(a.text.cmp(&b.text)));
            out.meetings.push(WeekMeeting {
                notebook: named.clone(),
                meeting: m.summary.id.clone(),
                date: m.summary.date.clone(),
                minutes: nb.cadence.minutes,
                my_items: m.agenda.iter().filter(mine).count(),
                their_items: m.agenda.iter().filter(|i| !mine(i)).count(),
                carried_often: carried,
                signals: nw.signals.clone(),
            });
        }
        for c in &nw.open_commitments {
            let overdue_days = c
                .due
                .as_deref()
                .and_then(|d| d.parse::<Date>().ok())
                .filter(|d| *d < today)
                .map(|d| super::health::days_between(d, today));
            let mine = me.is_some_and(|me| c.owner == me);
            let owner = nb.people.iter().find(|p| p.id == c.owner);
            let owed = Owed {
                notebook: NotebookRef {
                    person: if mine {
                        named.person.clone()
                    } else {
                        owner.map(|p| p.name.clone()).unwrap_or_default()
                    },
                    ..named.clone()
                },
                commitment: c.clone(),
                overdue_days,
            };
            if mine {
                out.i_owe.push(owed);
            } else {
                out.owed_to_me.push(owed);
            }
        }
    }
    out.meetings
        .sort_by(|a, b| (&a.date, &a.notebook.title).cmp(&(&b.date, &b.notebook.title)));
    // Most overdue first, then by due date (none last), then by text.
    let urgency = |o: &Owed| {
        (
            std::cmp::Reverse(o.overdue_days.unwrap_or(0)),
            o.commitment.due.is_none(),
            o.commitment.due.clone(),
            o.commitment.text.clone(),
        )
    };
    out.i_owe.sort_by_key(urgency);
    out.owed_to_me
        .sort_by_key(|o| (o.notebook.person.clone(), urgency(o)));
    out.nothing_booked.sort_by(|a, b| a.title.cmp(&b.title));
    out
}

/// Whether a meeting is on the books within `[from, to]`.
pub fn in_window(status: MeetingStatus, date: &str, from: Date, to: Date) -> bool {
    status.is_upcoming() && date.parse::<Date>().is_ok_and(|d| from <= d && d <= to)
}

/// This week: Monday to Sunday around `today`.
pub fn this_week(today: Date) -> (Date, Date) {
    let back = i64::from(today.weekday().to_monday_zero_offset());
    let monday = today
        .checked_sub(jiff::Span::new().days(back))
        .unwrap_or(today);
    let sunday = monday
        .checked_add(jiff::Span::new().days(6))
        .unwrap_or(today);
    (monday, sunday)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::fixtures;
    use crate::model::CommitmentStatus;

    /// Ana's notebook with `other` (the fixture's "Bo", renamed), id `id`.
    fn notebook(id: &str, other: &str) -> NotebookView {
        let mut nb = fixtures::notebook();
        nb.id = id.into();
        nb.title = format!("Ana / {other}");
        nb.people[1].id = format!("{other}-id");
        nb.people[1].name = other.into();
        nb
    }

    fn item(text: &str, author: &str, carried: u32) -> AgendaItem {
        AgendaItem {
            carried,
            ..fixtures::item(text, text, author)
        }
    }

    fn commitment(text: &str, owner: &str, due: Option<&str>) -> Commitment {
        fixtures::commitment(text, text, owner, due, CommitmentStatus::Open, None)
    }

    fn meeting(id: &str, date: &str, agenda: Vec<AgendaItem>) -> MeetingView {
        MeetingView {
            agenda,
            ..fixtures::meeting(id, date, MeetingStatus::Scheduled)
        }
    }

    fn date(s: &str) -> Date {
        s.parse().expect("date")
    }

    #[test]
    fn three_notebooks_give_their_meetings_prep_carried_items_and_commitments_each_way() {
        let bo = NotebookWeek {
            notebook: notebook("n1", "Bo"),
            meetings: vec![meeting(
                "m1",
                "2026-12-09",
                vec![
                    item("Promotion", "ana", 0),
                    item("On-call load", "Bo-id", 3),
                    item("Conference", "Bo-id", 1),
                ],
            )],
            booked: true,
            open_commitments: vec![
                commitment("Send the leveling guide", "ana", Some("2026-12-01")),
                commitment("Draft the RFC", "Bo-id", Some("2026-12-03")),
            ],
            signals: Vec::new(),
        };
        let cy = NotebookWeek {
            notebook: notebook("n2", "Cy"),
            meetings: vec![meeting("m2", "2026-12-08", vec![])],
            booked: true,
            open_commitments: vec![
                commitment("Book the offsite", "ana", Some("2026-12-06")),
                commitment("Review the plan", "ana", None),
                commitment("Share the numbers", "Cy-id", Some("2026-12-20")),
            ],
            signals: Vec::new(),
        };
        let di = NotebookWeek {
            notebook: notebook("n3", "Di"),
            meetings: vec![],
            booked: false,
            open_commitments: vec![],
            signals: Vec::new(),
        };
        let w = week(
            &[bo, cy, di],
            date("2026-12-07"),
            date("2026-12-13"),
            date("2026-12-07"),
        );
        let dates: Vec<(&str, &str)> = w
            .meetings
            .iter()
            .map(|m| (m.date.as_str(), m.notebook.person.as_str()))
            .collect();
        assert_eq!(dates, [("2026-12-08", "Cy"), ("2026-12-09", "Bo")]);
        let bo_meeting = &w.meetings[1];
        assert_eq!((bo_meeting.my_items, bo_meeting.their_items), (1, 2));
        assert_eq!(bo_meeting.carried_often.len(), 1);
        assert_eq!(bo_meeting.carried_often[0].text, "On-call load");
        assert_eq!((w.meetings[0].my_items, w.meetings[0].their_items), (0, 0));

        let mine: Vec<(&str, Option<u32>)> = w
            .i_owe
            .iter()
            .map(|o| (o.commitment.text.as_str(), o.overdue_days))
            .collect();
        assert_eq!(
            mine,
            [
                ("Send the leveling guide", Some(6)),
                ("Book the offsite", Some(1)),
                ("Review the plan", None),
            ]
        );
        let theirs: Vec<(&str, &str, Option<u32>)> = w
            .owed_to_me
            .iter()
            .map(|o| {
                (
                    o.notebook.person.as_str(),
                    o.commitment.text.as_str(),
                    o.overdue_days,
                )
            })
            .collect();
        assert_eq!(
            theirs,
            [
                ("Bo", "Draft the RFC", Some(4)),
                ("Cy", "Share the numbers", None)
            ]
        );
        assert_eq!(
            w.nothing_booked
                .iter()
                .map(|n| n.person.as_str())
                .collect::<Vec<_>>(),
            ["Di"]
        );
    }

    #[test]
    fn this_week_runs_monday_to_sunday_and_the_window_takes_only_what_is_on_the_books() {
        assert_eq!(
            this_week(date("2026-12-10")),
            (date("2026-12-07"), date("2026-12-13"))
        );
        assert_eq!(
            this_week(date("2026-12-07")),
            (date("2026-12-07"), date("2026-12-13"))
        );
        assert_eq!(
            this_week(date("2026-12-13")),
            (date("2026-12-07"), date("2026-12-13"))
        );
        let (from, to) = (date("2026-12-07"), date("2026-12-13"));
        assert!(in_window(MeetingStatus::Scheduled, "2026-12-13", from, to));
        assert!(in_window(
            MeetingStatus::Rescheduled,
            "2026-12-07",
            from,
            to
        ));
        assert!(!in_window(MeetingStatus::Held, "2026-12-08", from, to));
        assert!(!in_window(MeetingStatus::Canceled, "2026-12-08", from, to));
        assert!(!in_window(MeetingStatus::Scheduled, "2026-12-14", from, to));
    }
}
