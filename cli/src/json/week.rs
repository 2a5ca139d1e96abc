//! `duet week` and `duet today` as `--json` prints them.

use super::contract;
use super::notebook::{list, AgendaItem, Commitment};
use super::practice::Signal;
use duet_core::insights::week;
use serde::Serialize;

/// `duet week`, `duet today`.
#[derive(Debug, Serialize)]
pub struct Week {
    pub from: String,
    pub to: String,
    pub today: String,
    /// The 1-1s on the books in the window, by date.
    pub meetings: Vec<WeekMeeting>,
    /// What you owe, most overdue first.
    pub i_owe: Vec<Owed>,
    /// What others owe you, by person, most overdue first.
    pub owed_to_me: Vec<Owed>,
    /// Notebooks with no meeting on the books.
    pub nothing_booked: Vec<NotebookRef>,
}

/// A notebook and the other person in it.
#[derive(Debug, Serialize)]
pub struct NotebookRef {
    pub notebook: String,
    pub title: String,
    pub person: String,
}

/// One 1-1 on the books.
#[derive(Debug, Serialize)]
pub struct WeekMeeting {
    pub notebook: String,
    pub title: String,
    /// The other person.
    pub person: String,
    pub meeting: String,
    pub date: String,
    pub minutes: u32,
    /// Agenda items you added.
    pub my_items: usize,
    /// Agenda items the other person added.
    pub their_items: usize,
    /// Items carried 3 times or more.
    pub carried_often: Vec<AgendaItem>,
    pub signals: Vec<Signal>,
}

/// A commitment owed.
#[derive(Debug, Serialize)]
pub struct Owed {
    pub notebook: String,
    pub title: String,
    /// Whoever owes it (in `owed_to_me`) or is owed it (in `i_owe`).
    pub person: String,
    pub commitment: Commitment,
    /// Days past due; absent when not due yet or with no due date.
    pub overdue_days: Option<u32>,
}

contract!(Week, NotebookRef, WeekMeeting, Owed);

impl From<&week::NotebookRef> for NotebookRef {
    fn from(n: &week::NotebookRef) -> Self {
        NotebookRef {
            notebook: n.notebook.clone(),
            title: n.title.clone(),
            person: n.person.clone(),
        }
    }
}

impl From<&week::WeekMeeting> for WeekMeeting {
    fn from(m: &week::WeekMeeting) -> Self {
        WeekMeeting {
            notebook: m.notebook.notebook.clone(),
            title: m.notebook.title.clone(),
            person: m.notebook.person.clone(),
            meeting: m.meeting.clone(),
            date: m.date.clone(),
            minutes: m.minutes,
            my_items: m.my_items,
            their_items: m.their_items,
            carried_often: list(&m.carried_often),
            signals: list(&m.signals),
        }
    }
}

impl From<&week::Owed> for Owed {
    fn from(o: &week::Owed) -> Self {
        Owed {
            notebook: o.notebook.notebook.clone(),
            title: o.notebook.title.clone(),
            person: o.notebook.person.clone(),
            commitment: Commitment::from(&o.commitment),
            overdue_days: o.overdue_days,
        }
    }
}

impl From<&week::Week> for Week {
    fn from(w: &week::Week) -> Self {
        Week {
            from: w.from.clone(),
            to: w.to.clone(),
            today: w.today.clone(),
            meetings: list(&w.meetings),
            i_owe: list(&w.i_owe),
            owed_to_me: list(&w.owed_to_me),
            nothing_booked: list(&w.nothing_booked),
        }
    }
}
