//! The practice views as `--json` prints them: `prep`, `health`, questions, `themes`,
//! `search`, `history` and private notes.

use super::contract;
use super::notebook::{list, AgendaItem, Commitment, MeetingSummary, Notebook};
use duet_core::insights::{health, search, signals, themes};
use duet_core::model::{private, questions};
use serde::Serialize;

/// `duet prep`.
#[derive(Debug, Serialize)]
pub struct Prep {
    pub notebook: Notebook,
    pub meeting: Option<MeetingSummary>,
    pub agenda: Vec<AgendaItem>,
    pub backlog: Vec<AgendaItem>,
    pub open_commitments: Vec<Commitment>,
    /// The last written takeaway: `[date, text]`.
    pub last_takeaway: Option<(String, String)>,
    pub question: Option<Question>,
    pub private: Vec<PrivateNote>,
}

/// A question to ask.
#[derive(Debug, Serialize)]
pub struct Question {
    pub id: String,
    pub text: String,
    /// Written by one of the pair (not from the built-in list).
    pub own: bool,
    pub added_by: Option<String>,
    /// Meeting ids it was asked in.
    pub asked_in: Vec<String>,
    /// Unix milliseconds.
    pub last_asked: Option<i64>,
}

/// `duet ask ID`.
#[derive(Debug, Serialize)]
pub struct Asked {
    pub question: Question,
    pub meeting: String,
    pub item: Option<AgendaItem>,
}

/// A private note.
#[derive(Debug, Serialize)]
pub struct PrivateNote {
    pub id: String,
    pub notebook: String,
    pub meeting: Option<String>,
    pub text: String,
    /// Unix milliseconds.
    pub at: i64,
}

/// `duet health`.
#[derive(Debug, Serialize)]
pub struct Health {
    pub window: usize,
    /// The first day looked at, with `--since`.
    pub since: Option<String>,
    pub canceled: usize,
    pub rescheduled: usize,
    pub disrupted_streak: usize,
    pub every_days: u32,
    pub planned_minutes: u32,
    pub last_held: Option<String>,
    /// Never negative.
    pub days_since_held: Option<i64>,
    pub next_meeting: Option<MeetingSummary>,
    pub not_wrapped: Vec<MeetingSummary>,
    pub held: usize,
    pub all_status: Vec<String>,
    /// Dates of held meetings with no notes and no agenda.
    pub empty: Vec<String>,
    /// The latest run of held meetings short of the plan, most recent first.
    pub short_run: Vec<MeetingLength>,
    pub follow_through: Vec<FollowThrough>,
    pub agenda_by: Vec<AgendaShare>,
    /// Items on the upcoming agenda carried again and again.
    pub carried_often: Vec<AgendaItem>,
    pub signals: Vec<Signal>,
}

/// One drift signal: its `kind`, the data it concerns (people, meetings, items, numbers;
/// fields by kind, as listed in the user guide), and the sentence the CLI prints for it.
#[derive(Debug, Serialize)]
pub struct Signal {
    #[serde(flatten)]
    pub data: serde_json::Value,
    pub text: String,
}

/// A held meeting and how long it ran.
#[derive(Debug, Serialize)]
pub struct MeetingLength {
    pub meeting: String,
    pub date: String,
    pub minutes: u32,
}

/// One owner's follow-through.
#[derive(Debug, Serialize)]
pub struct FollowThrough {
    pub person: String,
    pub name: String,
    pub made: usize,
    pub done: usize,
    pub done_late: usize,
    pub open: usize,
    pub open_past_due: usize,
    /// Open with no due date for more than two cadences.
    pub stale: usize,
    /// The oldest of those.
    pub oldest_stale: Vec<StaleCommitment>,
    pub dropped: usize,
}

/// A commitment open too long with no due date.
#[derive(Debug, Serialize)]
pub struct StaleCommitment {
    pub id: String,
    pub text: String,
    /// The date of the meeting it was made in.
    pub since: String,
    pub days_open: u32,
}

/// Who brought the agenda.
#[derive(Debug, Serialize)]
pub struct AgendaShare {
    pub person: String,
    pub name: String,
    pub items: usize,
}

/// `duet themes`.
#[derive(Debug, Serialize)]
pub struct Themes {
    pub themes: Vec<Theme>,
    pub slipping: Vec<Slipping>,
}

/// A `#tag` across meetings.
#[derive(Debug, Serialize)]
pub struct Theme {
    pub tag: String,
    pub meetings: usize,
    pub mentions: usize,
    pub first: String,
    pub last: String,
    pub recurring: bool,
    pub recent: Vec<bool>,
}

/// A commitment on a recurring theme that is slipping.
#[derive(Debug, Serialize)]
pub struct Slipping {
    pub commitment: Commitment,
    pub made_on: String,
    pub tags: Vec<String>,
    pub why: String,
}

/// A search hit.
#[derive(Debug, Serialize)]
pub struct Hit {
    pub meeting: String,
    pub date: String,
    /// `agenda`, `note`, `commitment`, `private` or `backlog`.
    pub kind: &'static str,
    pub section: Option<String>,
    pub id: Option<String>,
    pub text: String,
}

/// A line of `duet history`.
#[derive(Debug, Serialize)]
pub struct HistoryRow {
    pub id: String,
    pub date: String,
    pub status: &'static str,
    pub takeaway: String,
}

contract!(
    Prep,
    Question,
    Asked,
    PrivateNote,
    Health,
    Themes,
    Hit,
    HistoryRow
);

impl From<&duet_core::Prep> for Prep {
    fn from(p: &duet_core::Prep) -> Self {
        Prep {
            notebook: (&p.notebook).into(),
            meeting: p.meeting.as_ref().map(MeetingSummary::from),
            agenda: list(&p.agenda),
            backlog: list(&p.backlog),
            open_commitments: list(&p.open_commitments),
            last_takeaway: p.last_takeaway.clone(),
            question: p.question.as_ref().map(Question::from),
            private: list(&p.private),
        }
    }
}

impl From<&questions::Question> for Question {
    fn from(q: &questions::Question) -> Self {
        Question {
            id: q.id.clone(),
            text: q.text.clone(),
            own: q.own,
            added_by: q.added_by.clone(),
            asked_in: q.asked_in.clone(),
            last_asked: q.last_asked,
        }
    }
}

impl From<&duet_core::Asked> for Asked {
    fn from(a: &duet_core::Asked) -> Self {
        Asked {
            question: (&a.question).into(),
            meeting: a.meeting.clone(),
            item: a.item.as_ref().map(AgendaItem::from),
        }
    }
}

impl From<&private::PrivateNote> for PrivateNote {
    fn from(n: &private::PrivateNote) -> Self {
        PrivateNote {
            id: n.id.clone(),
            notebook: n.notebook.clone(),
            meeting: n.meeting.clone(),
            text: n.text.clone(),
            at: n.at,
        }
    }
}

impl From<&health::Health> for Health {
    fn from(h: &health::Health) -> Self {
        Health {
            window: h.window,
            since: h.since.clone(),
            canceled: h.canceled,
            rescheduled: h.rescheduled,
            disrupted_streak: h.disrupted_streak,
            every_days: h.every_days,
            planned_minutes: h.planned_minutes,
            last_held: h.last_held.clone(),
            days_since_held: h.days_since_held,
            next_meeting: h.next_meeting.as_ref().map(MeetingSummary::from),
            not_wrapped: list(&h.not_wrapped),
            held: h.held,
            all_status: h.all_status.clone(),
            empty: h.empty.clone(),
            short_run: list(&h.short_run),
            follow_through: h
                .follow_through
                .iter()
                .map(|f| FollowThrough {
                    person: f.person.clone(),
                    name: f.name.clone(),
                    made: f.made,
                    done: f.done,
                    done_late: f.done_late,
                    open: f.open,
                    open_past_due: f.open_past_due,
                    stale: f.stale,
                    oldest_stale: list(&f.oldest_stale),
                    dropped: f.dropped,
                })
                .collect(),
            agenda_by: h
                .agenda_by
                .iter()
                .map(|a| AgendaShare {
                    person: a.person.clone(),
                    name: a.name.clone(),
                    items: a.items,
                })
                .collect(),
            carried_often: list(&h.carried_often),
            signals: list(&h.signals),
        }
    }
}

impl From<&signals::Signal> for Signal {
    fn from(s: &signals::Signal) -> Self {
        Signal {
            // The core's record is plain data (strings, numbers, lists of them): it encodes.
            data: serde_json::to_value(s).unwrap_or(serde_json::Value::Null),
            text: crate::signals::sentence(s),
        }
    }
}

impl From<&health::MeetingLength> for MeetingLength {
    fn from(m: &health::MeetingLength) -> Self {
        MeetingLength {
            meeting: m.meeting.clone(),
            date: m.date.clone(),
            minutes: m.minutes,
        }
    }
}

impl From<&health::StaleCommitment> for StaleCommitment {
    fn from(c: &health::StaleCommitment) -> Self {
        StaleCommitment {
            id: c.id.clone(),
            text: c.text.clone(),
            since: c.since.clone(),
            days_open: c.days_open,
        }
    }
}

impl From<&themes::Themes> for Themes {
    fn from(t: &themes::Themes) -> Self {
        Themes {
            themes: t
                .themes
                .iter()
                .map(|t| Theme {
                    tag: t.tag.clone(),
                    meetings: t.meetings,
                    mentions: t.mentions,
                    first: t.first.clone(),
                    last: t.last.clone(),
                    recurring: t.recurring,
                    recent: t.recent.clone(),
                })
                .collect(),
            slipping: t
                .slipping
                .iter()
                .map(|s| Slipping {
                    commitment: (&s.commitment).into(),
                    made_on: s.made_on.clone(),
                    tags: s.tags.clone(),
                    why: s.why.clone(),
                })
                .collect(),
        }
    }
}

impl From<&search::Hit> for Hit {
    fn from(h: &search::Hit) -> Self {
        Hit {
            meeting: h.meeting.clone(),
            date: h.date.clone(),
            kind: match h.kind {
                search::HitKind::Agenda => "agenda",
                search::HitKind::Note => "note",
                search::HitKind::Commitment => "commitment",
                search::HitKind::Private => "private",
                search::HitKind::Backlog => "backlog",
            },
            section: h.section.clone(),
            id: h.id.clone(),
            text: h.text.clone(),
        }
    }
}

impl From<&(duet_core::views::MeetingSummary, String)> for HistoryRow {
    fn from((summary, takeaway): &(duet_core::views::MeetingSummary, String)) -> Self {
        HistoryRow {
            id: summary.id.clone(),
            date: summary.date.clone(),
            status: summary.status.as_str(),
            takeaway: takeaway.clone(),
        }
    }
}
