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
        self.with(move |d| Ok(d.week(from, to)?.into()))
    }
}
