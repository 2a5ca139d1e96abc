//! The notebook schema over Automerge documents: typed views out, typed edits in.
//!
//! This is the only module that knows document key paths. A notebook is one small index
//! document plus one document per meeting (see `index` and `meeting`), so opening a
//! notebook costs the index and the current meeting, never the whole history.
//!
//! Rules every edit here keeps, so that concurrent devices merge cleanly:
//! - objects are created only under fresh random keys, or under deterministic keys whose
//!   concurrent copies hold the same content (a carried agenda item keeps its id);
//! - text people write is Automerge `Text`, so concurrent typing merges by character;
//! - concurrent scalar writes keep Automerge's deterministic winner, and readers report the
//!   losing values as conflicts instead of hiding them.

mod am;
pub mod commitments;
pub mod index;
pub mod item;
pub mod meeting;
pub mod members;
pub mod mlog;
pub mod paragraphs;
pub mod private;
pub mod questions;
pub mod recur;
pub mod sheet;
pub mod undo;
pub mod views;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The schema version written into every document Duet creates.
pub const SCHEMA_VERSION: i64 = 1;

/// Errors reading or editing a notebook document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// Automerge refused an operation or could not load bytes.
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// A document lacks something Duet's schema requires.
    #[error("document is not in Duet's schema: {0}")]
    Schema(String),
    /// No item with that id exists in the document.
    #[error("no {kind} with id {id}")]
    Missing {
        /// What kind of thing was looked up.
        kind: &'static str,
        /// The id looked up.
        id: String,
    },
}

/// A person's role in the 1-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The manager.
    Manager,
    /// The report.
    Report,
}

impl Role {
    /// The other role of the pair.
    pub fn other(self) -> Role {
        match self {
            Role::Manager => Role::Report,
            Role::Report => Role::Manager,
        }
    }

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::Report => "report",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "manager" => Ok(Role::Manager),
            "report" => Ok(Role::Report),
            other => Err(format!("unknown role {other:?}: use manager or report")),
        }
    }
}

/// A text section of a meeting: the loose rhythm, and the close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// How each person is doing.
    Checkin,
    /// What went well.
    Wins,
    /// What is hard.
    Challenges,
    /// What is coming up.
    LookAhead,
    /// Free notes.
    Notes,
    /// The key takeaway of the meeting.
    Takeaway,
    /// Next steps.
    NextSteps,
    /// What the report needs.
    Needs,
}

impl Section {
    /// Every section in display order.
    pub const ALL: [Section; 8] = [
        Section::Checkin,
        Section::Wins,
        Section::Challenges,
        Section::LookAhead,
        Section::Notes,
        Section::Takeaway,
        Section::NextSteps,
        Section::Needs,
    ];

    /// The document key of the section.
    pub fn key(self) -> &'static str {
        match self {
            Section::Checkin => "checkin",
            Section::Wins => "wins",
            Section::Challenges => "challenges",
            Section::LookAhead => "look_ahead",
            Section::Notes => "notes",
            Section::Takeaway => "takeaway",
            Section::NextSteps => "next_steps",
            Section::Needs => "needs",
        }
    }

    /// The heading shown to people.
    pub fn title(self) -> &'static str {
        match self {
            Section::Checkin => "Check-in",
            Section::Wins => "Wins",
            Section::Challenges => "Challenges",
            Section::LookAhead => "Look ahead",
            Section::Notes => "Notes",
            Section::Takeaway => "Key takeaway",
            Section::NextSteps => "Next steps",
            Section::Needs => "What the report needs",
        }
    }
}

impl FromStr for Section {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Section::ALL
            .into_iter()
            .find(|sec| sec.key() == norm || (norm == "check_in" && *sec == Section::Checkin))
            .ok_or_else(|| {
                format!(
                    "unknown section {s:?}: use checkin, wins, challenges, look-ahead, notes, \
                     takeaway, next-steps or needs"
                )
            })
    }
}

/// A meeting's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingStatus {
    /// On the books.
    Scheduled,
    /// Took place and was wrapped up.
    Held,
    /// Will not take place.
    Canceled,
    /// Moved to another date; still to come.
    Rescheduled,
}

impl MeetingStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingStatus::Scheduled => "scheduled",
            MeetingStatus::Held => "held",
            MeetingStatus::Canceled => "canceled",
            MeetingStatus::Rescheduled => "rescheduled",
        }
    }

    /// Parses a stored name; unknown names read as scheduled so a newer schema still shows.
    pub fn parse(s: &str) -> Self {
        match s {
            "held" => MeetingStatus::Held,
            "canceled" => MeetingStatus::Canceled,
            "rescheduled" => MeetingStatus::Rescheduled,
            _ => MeetingStatus::Scheduled,
        }
    }

    /// Whether the meeting is still to come.
    pub fn is_upcoming(self) -> bool {
        matches!(self, MeetingStatus::Scheduled | MeetingStatus::Rescheduled)
    }
}

/// A commitment's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitmentStatus {
    /// Still to do.
    Open,
    /// Done.
    Done,
    /// Dropped on purpose.
    Dropped,
}

impl CommitmentStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommitmentStatus::Open => "open",
            CommitmentStatus::Done => "done",
            CommitmentStatus::Dropped => "dropped",
        }
    }

    /// Parses a stored name; unknown names read as open so nothing silently disappears.
    pub fn parse(s: &str) -> Self {
        match s {
            "done" => CommitmentStatus::Done,
            "dropped" => CommitmentStatus::Dropped,
            _ => CommitmentStatus::Open,
        }
    }
}
