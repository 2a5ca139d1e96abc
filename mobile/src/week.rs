//! A manager's week on the phone: every notebook's 1-1s on the books in a window, who has
//! prepared each, what keeps being carried, the drift signals, and the commitments owed
//! each way, as records an app renders as it likes.

use crate::app::{parse_date, DuetApp};
use crate::error::MobileError;
use crate::records::{AgendaItemRecord, CommitmentRecord};
use crate::signals::SignalRecord;
use duet_core::insights::week;

/// A notebook and the other person in it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct WeekNotebookRecord {
    /// The notebook's id.
    pub notebook_id: String,
    /// Its title.
    pub title: String,
    /// The other person.
    pub person: String,
}

/// One 1-1 on the books.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WeekMeetingRecord {
    /// The notebook.
    pub notebook: WeekNotebookRecord,
    /// The meeting's id.
    pub meeting_id: String,
    /// Its date (`YYYY-MM-DD`).
    pub date: String,
    /// Planned minutes.
    pub minutes: u32,
    /// Agenda items this person added.
    pub my_items: u32,
    /// Agenda items the other person added.
    pub their_items: u32,
    /// Items carried 3 times or more, most carried first.
    pub carried_often: Vec<AgendaItemRecord>,
    /// The notebook's drift signals.
    pub signals: Vec<SignalRecord>,
}

/// A commitment owed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OwedRecord {
    /// The notebook; its `person` owes it (owed to me) or is owed it (I owe).
    pub notebook: WeekNotebookRecord,
    /// The commitment.
    pub commitment: CommitmentRecord,
    /// Days past due, when it is.
    pub overdue_days: Option<u32>,
}

/// The week at a glance.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WeekRecord {
    /// The window's first day.
    pub from: String,
    /// Its last day.
    pub to: String,
    /// The 1-1s on the books in it, by date.
    pub meetings: Vec<WeekMeetingRecord>,
    /// What this person owes, most overdue first.
    pub i_owe: Vec<OwedRecord>,
    /// What others owe this person, by person, most overdue first.
    pub owed_to_me: Vec<OwedRecord>,
    /// Notebooks with no meeting on the books.
    pub nothing_booked: Vec<WeekNotebookRecord>,
}

fn notebook(n: week::NotebookRef) -> WeekNotebookRecord {
    WeekNotebookRecord {
        notebook_id: n.notebook,
        title: n.title,
        person: n.person,
    }
}

fn owed(o: week::Owed) -> OwedRecord {
    OwedRecord {
        notebook: notebook(o.notebook),
        commitment: o.commitment.into(),
        overdue_days: o.overdue_days,
    }
}

impl From<week::Week> for WeekRecord {
    fn from(w: week::Week) -> Self {
        WeekRecord {
            from: w.from,
            to: w.to,
            meetings: w
                .meetings
                .into_iter()
                .map(|m| WeekMeetingRecord {
                    notebook: notebook(m.notebook),
                    meeting_id: m.meeting,
                    date: m.date,
                    minutes: m.minutes,
                    my_items: u32::try_from(m.my_items).unwrap_or(u32::MAX),
                    their_items: u32::try_from(m.their_items).unwrap_or(u32::MAX),
                    carried_often: m.carried_often.into_iter().map(Into::into).collect(),
                    signals: m.signals.into_iter().map(Into::into).collect(),
                })
                .collect(),
            i_owe: w.i_owe.into_iter().map(owed).collect(),
            owed_to_me: w.owed_to_me.into_iter().map(owed).collect(),
            nothing_booked: w.nothing_booked.into_iter().map(notebook).collect(),
        }
    }
}

#[uniffi::export]
impl DuetApp {
    /// Every notebook's week: this week (Monday to Sunday) when `from` and `to` are
    /// `None`; dates as people type them (`2026-12-07`, `monday`, `+7d`).
    pub fn week(
        &self,
        from: Option<String>,
        to: Option<String>,
    ) -> Result<WeekRecord, MobileError> {
        let (monday, sunday) = week::this_week(duet_core::dates::today());
        let from = from
            .as_deref()
            .map(parse_date)
            .transpose()?
            .unwrap_or(monday);
        let to = to.as_deref().map(parse_date).transpose()?.unwrap_or(sunday);
        if to < from {
            return Err(MobileError::Invalid {
                message: format!("the week's end ({to}) is before its start ({from})"),
            });
        }
        self.with(move |d| Ok(d.schedule().week(from, to)?.into()))
    }
}

/// A reminder for the app to schedule as a local notification.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReminderRecord {
    /// The notebook.
    pub notebook: WeekNotebookRecord,
    /// The meeting's id (with the notebook's, a stable key for the notification).
    pub meeting_id: String,
    /// The meeting's date.
    pub date: String,
    /// When the meeting starts (milliseconds since the epoch): the pair's time of day, or
    /// 09:00 here when they set none.
    pub starts_ms: i64,
    /// When to show the reminder (milliseconds since the epoch).
    pub remind_at_ms: i64,
    /// Items on its agenda so far.
    pub agenda_items: u32,
    /// Whether this person has added nothing yet (word it as a nudge to prepare).
    pub nothing_from_me: bool,
}

#[uniffi::export]
impl DuetApp {
    /// The reminders still to come for every notebook's 1-1s on the books, soonest first,
    /// as `remind` settings give them (a day before for a manager, two for a report).
    /// Schedule them as local notifications; ask again after a sync or an edit, and
    /// replace what was scheduled (the keys are the meetings').
    pub fn upcoming_reminders(&self) -> Result<Vec<ReminderRecord>, MobileError> {
        let events = self.with(|d| Ok(d.schedule().events()?))?;
        let now = jiff::Timestamp::now();
        let mut out: Vec<ReminderRecord> = events
            .into_iter()
            .filter_map(|e| {
                let remind = e.remind_at().filter(|at| *at > now)?;
                let starts = e.starts()?;
                Some(ReminderRecord {
                    notebook: WeekNotebookRecord {
                        notebook_id: e.notebook,
                        title: e.title,
                        person: e.person,
                    },
                    meeting_id: e.meeting,
                    date: e.date,
                    starts_ms: starts.as_millisecond(),
                    remind_at_ms: remind.as_millisecond(),
                    agenda_items: u32::try_from(e.agenda.len()).unwrap_or(u32::MAX),
                    nothing_from_me: e.my_items == 0,
                })
            })
            .collect();
        out.sort_by_key(|r| r.remind_at_ms);
        Ok(out)
    }

    /// Sets how long before each 1-1 of the current notebook (or, with `all`, every
    /// notebook without its own setting) reminders come; `None`: no reminders.
    pub fn set_reminder(&self, all: bool, minutes_before: Option<u32>) -> Result<(), MobileError> {
        self.with(move |d| Ok(d.schedule().set_reminder(all, minutes_before)?))
    }
}
