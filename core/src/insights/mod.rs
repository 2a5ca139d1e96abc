//! What a notebook's history says: drift signals (`health`, as data in `signals`), recurring
//! themes and slipping commitments (`themes`), text search (`search`), and a manager's week
//! across every notebook (`week`).
//!
//! Pure functions over the plain views of [`crate::model::views`]: no store, no Automerge,
//! so each rule is tested on hand-made histories. The façade loads the history once and
//! passes it in.

pub mod health;
pub mod search;
pub mod signals;
pub mod summary;
pub mod themes;
pub mod week;

use crate::model::views::{AgendaItem, MeetingView, NotebookView};
use jiff::civil::Date;

/// A notebook's whole history, as the views above read it.
#[derive(Debug, Clone)]
pub struct History<'a> {
    /// The notebook (people, cadence, who this device is).
    pub notebook: &'a NotebookView,
    /// Every meeting this device holds, by date.
    pub meetings: &'a [MeetingView],
    /// Agenda items kept for later.
    pub backlog: &'a [AgendaItem],
    /// Today, in the local time zone.
    pub today: Date,
}

/// The local date of a Unix-milliseconds instant.
pub(crate) fn date_of_millis(ms: i64) -> Option<Date> {
    let ts = jiff::Timestamp::from_millisecond(ms).ok()?;
    Some(ts.to_zoned(jiff::tz::TimeZone::system()).date())
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Hand-made histories for the rules' tests.
    use crate::model::views::{
        AgendaItem, Cadence, Commitment, MeetingSummary, MeetingView, NotebookView, Person,
        SectionText,
    };
    use crate::model::{CommitmentStatus, MeetingStatus, Role, Section};

    /// A history of `meetings` with no backlog, seen on `today` (`YYYY-MM-DD`).
    pub fn history<'a>(
        notebook: &'a NotebookView,
        meetings: &'a [MeetingView],
        today: &str,
    ) -> super::History<'a> {
        super::History {
            notebook,
            meetings,
            backlog: &[],
            today: today.parse().expect("date"),
        }
    }

    pub fn notebook() -> NotebookView {
        NotebookView {
            id: "nb".into(),
            title: "Ana / Bo".into(),
            people: vec![
                Person {
                    id: "ana".into(),
                    name: "Ana".into(),
                    role: Role::Manager,
                },
                Person {
                    id: "bo".into(),
                    name: "Bo".into(),
                    role: Role::Report,
                },
            ],
            cadence: Cadence::default(),
            ended: None,
            me: Some("ana".into()),
            current: true,
        }
    }

    pub fn meeting(id: &str, date: &str, status: MeetingStatus) -> MeetingView {
        MeetingView {
            summary: MeetingSummary {
                id: id.into(),
                date: date.into(),
                status,
                conflicts: Vec::new(),
                reschedules: 0,
                planned: None,
                minutes: None,
            },
            agenda: Vec::new(),
            sections: Section::ALL
                .into_iter()
                .map(|section| SectionText {
                    section,
                    text: String::new(),
                })
                .collect(),
            commitments: Vec::new(),
        }
    }

    pub fn write(m: &mut MeetingView, section: Section, text: &str) {
        for s in &mut m.sections {
            if s.section == section {
                s.text = text.into();
            }
        }
    }

    pub fn item(id: &str, text: &str, author: &str) -> AgendaItem {
        AgendaItem {
            id: id.into(),
            text: text.into(),
            author: author.into(),
            added_at: 0,
            discussed: false,
            carried_from: None,
            also: Vec::new(),
            carried: 0,
            recurring: None,
        }
    }

    pub fn commitment(
        id: &str,
        text: &str,
        owner: &str,
        due: Option<&str>,
        status: CommitmentStatus,
        closed_on: Option<&str>,
    ) -> Commitment {
        Commitment {
            id: id.into(),
            text: text.into(),
            owner: owner.into(),
            due: due.map(Into::into),
            status,
            made_in: String::new(),
            closed_at: closed_on.map(|d| {
                let date: jiff::civil::Date = d.parse().expect("date");
                date.to_zoned(jiff::tz::TimeZone::system())
                    .expect("zoned")
                    .timestamp()
                    .as_millisecond()
                    + 12 * 3_600_000
            }),
            conflicts: Vec::new(),
            slips: 0,
        }
    }
}
