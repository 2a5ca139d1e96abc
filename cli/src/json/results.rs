//! The small results of single commands: what `--json` prints after an edit or a set-up
//! step that has no view of its own. Each is a type, so the contract is written down here
//! and not in an object built in place.

use super::contract;
use super::notebook::{AgendaItem, Meeting, MeetingSummary, Notebook};
use super::practice::Question;
use serde::Serialize;
use std::path::PathBuf;

/// `duet init`.
#[derive(Debug, Serialize)]
pub struct Identity {
    pub name: String,
    pub device: String,
    pub home: PathBuf,
}

/// `duet note`: where the text went.
#[derive(Debug, Serialize)]
pub struct NoteAdded {
    pub meeting: String,
    pub section: &'static str,
}

/// `duet agenda list`.
#[derive(Debug, Serialize)]
pub struct AgendaList {
    pub meeting: Option<MeetingSummary>,
    pub agenda: Option<Vec<AgendaItem>>,
    pub backlog: Vec<AgendaItem>,
}

/// `duet agenda move`.
#[derive(Debug, Serialize)]
pub struct ItemMoved {
    pub item: AgendaItem,
    pub to: String,
}

/// `duet bundle out`.
#[derive(Debug, Serialize)]
pub struct BundleWritten {
    pub file: PathBuf,
    pub bytes: u64,
}

/// `duet export --format json`: the notebook and every meeting.
#[derive(Debug, Serialize)]
pub struct Export {
    pub notebook: Notebook,
    pub meetings: Vec<Meeting>,
}

/// `duet edit --discard`.
#[derive(Debug, Serialize)]
pub struct DraftDiscarded {
    pub discarded: String,
}

/// `duet edit`: the meeting edited and every edit made, in order.
#[derive(Debug, Serialize)]
pub struct Edited {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meeting: Option<MeetingSummary>,
    pub changes: Vec<duet_core::model::sheet::SheetChange>,
}

/// `duet invite` and `duet link`: a ticket just made.
#[derive(Debug, Serialize)]
pub struct TicketMade {
    pub ticket: String,
    pub id: String,
    pub expires: i64,
    pub welcome_on_relay: bool,
}

/// `duet join --no-sync`: the invite redeemed, the notebook not yet synced.
#[derive(Debug, Serialize)]
pub struct Redeemed {
    pub notebook: String,
    pub synced: bool,
    pub redeemed: String,
}

/// `duet devices name`.
#[derive(Debug, Serialize)]
pub struct DeviceNamed {
    pub name: String,
}

/// `duet ask` with no question chosen: the one suggested.
#[derive(Debug, Serialize)]
pub struct Suggestion {
    pub suggestion: Option<Question>,
}

/// `duet calendar --output FILE`.
#[derive(Debug, Serialize)]
pub struct CalendarWritten {
    pub file: PathBuf,
    pub events: usize,
}

/// `duet remind`: minutes before each 1-1 of the notebook; absent when off.
#[derive(Debug, Serialize)]
pub struct Reminder {
    pub notebook: String,
    pub minutes_before: Option<u32>,
}

/// `duet meeting import`, `duet notebook new --from-ics`: what the calendar's series gave.
#[derive(Debug, Serialize)]
pub struct Imported {
    /// The event's title in the calendar.
    pub event: String,
    pub every_days: u32,
    pub minutes: u32,
    /// `HH:MM`, absent for a whole-day event.
    pub at: Option<String>,
    pub tz: Option<String>,
    /// The next meeting's date.
    pub next: String,
    /// The notebook's id.
    pub notebook: String,
}

/// `duet agenda tidy`: the items moved (or that would be, without `--yes`).
#[derive(Debug, Serialize)]
pub struct Tidied {
    /// `backlog` or `dropped`.
    pub to: &'static str,
    /// Whether it was done (false: only shown).
    pub done: bool,
    pub items: Vec<AgendaItem>,
}

/// An edit on the undo or redo list.
#[derive(Debug, Serialize)]
pub struct Edit {
    pub what: String,
    /// When it was made (RFC 3339, UTC).
    pub at: String,
}

impl From<&duet_core::EditRecord> for Edit {
    fn from(e: &duet_core::EditRecord) -> Self {
        Edit {
            what: e.what.clone(),
            at: jiff::Timestamp::from_millisecond(e.at_ms)
                .map(|t| t.to_string())
                .unwrap_or_default(),
        }
    }
}

/// `duet undo --list`: newest first.
#[derive(Debug, Serialize)]
pub struct UndoList {
    pub undo: Vec<Edit>,
    pub redo: Vec<Edit>,
}

impl From<&duet_core::UndoList> for UndoList {
    fn from(l: &duet_core::UndoList) -> Self {
        UndoList {
            undo: l.undo.iter().map(Edit::from).collect(),
            redo: l.redo.iter().map(Edit::from).collect(),
        }
    }
}

/// `duet undo`, `duet redo`: the edit, and what was left as it is because it changed since.
#[derive(Debug, Serialize)]
pub struct Undone {
    /// `undo` or `redo`.
    pub action: &'static str,
    pub what: String,
    pub left: Vec<String>,
}

impl From<(&'static str, &duet_core::Undone)> for Undone {
    fn from((action, u): (&'static str, &duet_core::Undone)) -> Self {
        Undone {
            action,
            what: u.what.clone(),
            left: u.left.clone(),
        }
    }
}

/// `duet agenda recur`: a recurring talking point.
#[derive(Debug, Serialize)]
pub struct RecurringPoint {
    pub id: String,
    pub text: String,
    /// Every this many meetings; absent for a monthly point.
    pub every: Option<u32>,
    /// On the first meeting of each month.
    pub monthly: bool,
    /// Who added it (person id).
    pub author: String,
    /// When it was stopped (RFC 3339, UTC); absent while it runs.
    pub stopped: Option<String>,
}

impl From<&duet_core::model::recur::Recurring> for RecurringPoint {
    fn from(p: &duet_core::model::recur::Recurring) -> Self {
        use duet_core::model::recur::Rule;
        RecurringPoint {
            id: p.id.clone(),
            text: p.text.clone(),
            every: match p.rule {
                Rule::Every(n) => Some(n),
                Rule::Monthly => None,
            },
            monthly: p.rule == Rule::Monthly,
            author: p.author.clone(),
            stopped: p
                .stopped_at
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .map(|t| t.to_string()),
        }
    }
}

contract!(
    RecurringPoint,
    Edit,
    UndoList,
    Undone,
    Tidied,
    Imported,
    CalendarWritten,
    Reminder,
    Identity,
    NoteAdded,
    AgendaList,
    ItemMoved,
    BundleWritten,
    Export,
    DraftDiscarded,
    Edited,
    TicketMade,
    Redeemed,
    DeviceNamed,
    Suggestion
);
