//! The notebook as `--json` prints it: notebooks, meetings, agenda items, commitments, the
//! overview, wraps, merges and export manifests.

use super::contract;
use duet_core::model::views;
use serde::Serialize;

/// One of the two people.
#[derive(Debug, Serialize)]
pub struct Person {
    pub id: String,
    pub name: String,
    /// `manager` or `report`.
    pub role: &'static str,
}

/// How often the pair meets.
#[derive(Debug, Serialize)]
pub struct Cadence {
    pub every_days: u32,
    pub minutes: u32,
}

/// Values written concurrently to one field, the shown one first.
#[derive(Debug, Serialize)]
pub struct Conflict {
    pub field: String,
    pub values: Vec<String>,
}

/// A notebook.
#[derive(Debug, Serialize)]
pub struct Notebook {
    pub id: String,
    pub title: String,
    pub people: Vec<Person>,
    pub cadence: Cadence,
    /// The person this device writes as.
    pub me: Option<String>,
    pub current: bool,
    /// `YYYY-MM-DD`: the 1-1 ended and the notebook is read-only.
    pub ended: Option<String>,
}

/// A meeting as listed.
#[derive(Debug, Serialize)]
pub struct MeetingSummary {
    pub id: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `scheduled`, `held`, `canceled` or `rescheduled`.
    pub status: &'static str,
    pub conflicts: Vec<Conflict>,
    pub reschedules: u32,
    /// The planned date, when it was held on another day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned: Option<String>,
    /// How long it ran, when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes: Option<u32>,
}

/// An agenda item.
#[derive(Debug, Serialize)]
pub struct AgendaItem {
    pub id: String,
    pub text: String,
    /// Person id.
    pub author: String,
    /// Unix milliseconds.
    pub added_at: i64,
    pub discussed: bool,
    pub carried_from: Option<String>,
    /// Versions of the text written concurrently elsewhere.
    pub also: Vec<String>,
    /// How many meetings ended with it undiscussed.
    pub carried: u32,
    /// The recurring point it comes from (`duet agenda recur`), if it does.
    pub recurring: Option<String>,
}

/// A commitment.
#[derive(Debug, Serialize)]
pub struct Commitment {
    pub id: String,
    pub text: String,
    /// Person id.
    pub owner: String,
    pub due: Option<String>,
    /// `open`, `done` or `dropped`.
    pub status: &'static str,
    pub made_in: String,
    pub closed_at: Option<i64>,
    pub conflicts: Vec<Conflict>,
    pub slips: u32,
}

/// A text section of a meeting.
#[derive(Debug, Serialize)]
pub struct SectionText {
    /// `checkin`, `wins`, `challenges`, `look_ahead`, `notes`, `takeaway`, `next_steps`,
    /// `needs`.
    pub section: &'static str,
    pub text: String,
}

/// One meeting in full.
#[derive(Debug, Serialize)]
pub struct Meeting {
    #[serde(flatten)]
    pub summary: MeetingSummary,
    pub agenda: Vec<AgendaItem>,
    pub sections: Vec<SectionText>,
    pub commitments: Vec<Commitment>,
}

/// `duet show`.
#[derive(Debug, Serialize)]
pub struct Overview {
    pub notebook: Notebook,
    pub meeting: Option<Meeting>,
    pub open_commitments: Vec<Commitment>,
    pub backlog: Vec<AgendaItem>,
}

/// `duet wrap` and `duet meeting cancel`.
#[derive(Debug, Serialize)]
pub struct Wrap {
    pub held: MeetingSummary,
    pub next: MeetingSummary,
    pub next_created: bool,
    /// Ids of the items carried to `next`.
    pub carried: Vec<String>,
    /// The planned date, when the meeting was wrapped before it (and recorded as held
    /// today).
    pub held_early_from: Option<String>,
}

/// What a bundle or an import merged.
#[derive(Debug, Serialize)]
pub struct Merge {
    pub notebook: String,
    pub joined: bool,
    pub changes: usize,
    pub documents: usize,
    pub reconciled: usize,
}

/// An Automerge export folder's manifest.
#[derive(Debug, Serialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub notebook_id: String,
    pub title: String,
    pub documents: Vec<ExportedDoc>,
}

/// One document file of an export.
#[derive(Debug, Serialize)]
pub struct ExportedDoc {
    pub id: String,
    pub kind: String,
    pub file: String,
}

contract!(
    Notebook,
    MeetingSummary,
    AgendaItem,
    Commitment,
    Meeting,
    Overview,
    Wrap,
    Merge,
    Manifest
);

impl From<&views::Conflict> for Conflict {
    fn from(c: &views::Conflict) -> Self {
        Conflict {
            field: c.field.clone(),
            values: c.values.clone(),
        }
    }
}

fn conflicts(list: &[views::Conflict]) -> Vec<Conflict> {
    list.iter().map(Conflict::from).collect()
}

impl From<&views::NotebookView> for Notebook {
    fn from(n: &views::NotebookView) -> Self {
        Notebook {
            id: n.id.clone(),
            title: n.title.clone(),
            people: n
                .people
                .iter()
                .map(|p| Person {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    role: p.role.as_str(),
                })
                .collect(),
            cadence: Cadence {
                every_days: n.cadence.every_days,
                minutes: n.cadence.minutes,
            },
            me: n.me.clone(),
            current: n.current,
            ended: n.ended.clone(),
        }
    }
}

impl From<&views::MeetingSummary> for MeetingSummary {
    fn from(m: &views::MeetingSummary) -> Self {
        MeetingSummary {
            id: m.id.clone(),
            date: m.date.clone(),
            status: m.status.as_str(),
            conflicts: conflicts(&m.conflicts),
            reschedules: m.reschedules,
            planned: m.planned.clone(),
            minutes: m.minutes,
        }
    }
}

impl From<&views::AgendaItem> for AgendaItem {
    fn from(i: &views::AgendaItem) -> Self {
        AgendaItem {
            id: i.id.clone(),
            text: i.text.clone(),
            author: i.author.clone(),
            added_at: i.added_at,
            discussed: i.discussed,
            carried_from: i.carried_from.clone(),
            also: i.also.clone(),
            carried: i.carried,
            recurring: i.recurring.clone(),
        }
    }
}

impl From<&views::Commitment> for Commitment {
    fn from(c: &views::Commitment) -> Self {
        Commitment {
            id: c.id.clone(),
            text: c.text.clone(),
            owner: c.owner.clone(),
            due: c.due.clone(),
            status: c.status.as_str(),
            made_in: c.made_in.clone(),
            closed_at: c.closed_at,
            conflicts: conflicts(&c.conflicts),
            slips: c.slips,
        }
    }
}

impl From<&views::MeetingView> for Meeting {
    fn from(m: &views::MeetingView) -> Self {
        Meeting {
            summary: (&m.summary).into(),
            agenda: list(&m.agenda),
            sections: m
                .sections
                .iter()
                .map(|s| SectionText {
                    section: s.section.key(),
                    text: s.text.clone(),
                })
                .collect(),
            commitments: list(&m.commitments),
        }
    }
}

impl From<&views::Overview> for Overview {
    fn from(o: &views::Overview) -> Self {
        Overview {
            notebook: (&o.notebook).into(),
            meeting: o.meeting.as_ref().map(Meeting::from),
            open_commitments: list(&o.open_commitments),
            backlog: list(&o.backlog),
        }
    }
}

impl From<&duet_core::WrapOutcome> for Wrap {
    fn from(w: &duet_core::WrapOutcome) -> Self {
        Wrap {
            held: (&w.held).into(),
            next: (&w.next).into(),
            next_created: w.next_created,
            carried: w.carried.clone(),
            held_early_from: w.held_early_from.clone(),
        }
    }
}

impl From<&duet_core::MergeReport> for Merge {
    fn from(r: &duet_core::MergeReport) -> Self {
        Merge {
            notebook: r.notebook.clone(),
            joined: r.joined,
            changes: r.changes,
            documents: r.documents,
            reconciled: r.reconciled,
        }
    }
}

impl From<&duet_core::ExportManifest> for Manifest {
    fn from(m: &duet_core::ExportManifest) -> Self {
        Manifest {
            format: m.format.clone(),
            version: m.version,
            notebook_id: m.notebook_id.clone(),
            title: m.title.clone(),
            documents: m
                .documents
                .iter()
                .map(|d| ExportedDoc {
                    id: d.id.clone(),
                    kind: d.kind.clone(),
                    file: d.file.clone(),
                })
                .collect(),
        }
    }
}

/// Each of a list, converted.
pub fn list<'a, A: 'a, B: From<&'a A>>(items: &'a [A]) -> Vec<B> {
    items.iter().map(B::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use duet_core::model::{CommitmentStatus, MeetingStatus, Section};

    #[test]
    fn a_meeting_prints_the_fields_scripts_read() {
        let view = views::MeetingView {
            summary: views::MeetingSummary {
                id: "m1".into(),
                date: "2026-12-03".into(),
                status: MeetingStatus::Rescheduled,
                conflicts: vec![],
                reschedules: 1,
                planned: None,
                minutes: None,
            },
            agenda: vec![],
            sections: vec![views::SectionText {
                section: Section::LookAhead,
                text: "next quarter".into(),
            }],
            commitments: vec![views::Commitment {
                id: "c1".into(),
                text: "write the doc".into(),
                owner: "p1".into(),
                due: None,
                status: CommitmentStatus::Dropped,
                made_in: "m1".into(),
                closed_at: Some(5),
                conflicts: vec![],
                slips: 0,
            }],
        };
        let json = serde_json::to_value(Meeting::from(&view)).expect("encodes");
        assert_eq!(json["id"], "m1", "the summary is flattened");
        assert_eq!(json["status"], "rescheduled");
        assert_eq!(json["sections"][0]["section"], "look_ahead");
        assert_eq!(json["commitments"][0]["status"], "dropped");
        assert_eq!(json["commitments"][0]["closed_at"], 5);
    }
}
