//! Plain views of a notebook: what front ends render. Each front end words them and owns
//! its own output types (the CLI's `--json` types, the mobile records), so these may change
//! with the core; they serialise for the core's own tests and fixtures.

use super::{CommitmentStatus, MeetingStatus, Role};
use serde::{Deserialize, Serialize};

/// One of the two people of a notebook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Random id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Manager or report.
    pub role: Role,
}

/// The time of day the pair meets: `HH:MM` on the wall clock of an IANA time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingTime {
    /// `HH:MM`, 24-hour.
    pub at: String,
    /// The time zone (`Europe/Berlin`).
    pub tz: String,
}

impl MeetingTime {
    /// A meeting time, checked: a real time of day and a time zone this system knows.
    pub fn new(at: &str, tz: &str) -> Result<MeetingTime, String> {
        let time: jiff::civil::Time = at
            .trim()
            .parse()
            .map_err(|_| format!("{at:?} is not a time of day: use HH:MM, as in 09:30"))?;
        jiff::tz::TimeZone::get(tz.trim())
            .map_err(|_| format!("{tz:?} is not a time zone: use a name like Europe/Berlin"))?;
        Ok(MeetingTime {
            at: time.strftime("%H:%M").to_string(),
            tz: tz.trim().to_owned(),
        })
    }

    /// When a meeting on `date` starts, as an instant.
    pub fn start_on(&self, date: jiff::civil::Date) -> Option<jiff::Timestamp> {
        let time: jiff::civil::Time = self.at.parse().ok()?;
        let tz = jiff::tz::TimeZone::get(&self.tz).ok()?;
        date.to_datetime(time)
            .to_zoned(tz)
            .ok()
            .map(|z| z.timestamp())
    }
}

/// How often the pair meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cadence {
    /// Days between meetings.
    pub every_days: u32,
    /// Planned length in minutes.
    pub minutes: u32,
}

impl Default for Cadence {
    fn default() -> Self {
        Cadence {
            every_days: 7,
            minutes: 30,
        }
    }
}

/// Values written concurrently to one field: `values[0]` is the one shown, the rest lost
/// the deterministic tie-break but stay readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The field that has several values.
    pub field: String,
    /// Every value, the shown one first.
    pub values: Vec<String>,
}

/// A notebook as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotebookView {
    /// Public notebook id (hex).
    pub id: String,
    /// Title.
    pub title: String,
    /// The two people.
    pub people: Vec<Person>,
    /// Meeting rhythm.
    pub cadence: Cadence,
    /// The person this device writes as, if this device is registered.
    pub me: Option<String>,
    /// Whether this is the home's current notebook.
    pub current: bool,
    /// The day the 1-1 ended (the notebook is read-only), if it did.
    pub ended: Option<String>,
}

impl NotebookView {
    /// The person with this id.
    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.id == id)
    }

    /// A display name for a person id (the id itself when unknown).
    pub fn name_of(&self, id: &str) -> String {
        self.person(id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| id.to_owned())
    }
}

/// Items carried this often or more, undiscussed, fold when there are more than
/// [`FOLD_ABOVE`] of them: an agenda nobody tends stays a screenful.
pub const FOLD_FROM: u32 = CARRIED_NUDGE;
/// How many long-carried items are shown one by one before they fold.
pub const FOLD_ABOVE: usize = 5;
/// The bands long-carried items fold into, most carried first: carried from `.0` to `.1`
/// times (`None`: or more).
pub const FOLD_BANDS: [(u32, Option<u32>); 4] =
    [(26, None), (12, Some(25)), (6, Some(11)), (3, Some(5))];

/// One band of folded items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedBand {
    /// Carried at least this many times.
    pub from: u32,
    /// And at most this many (`None`: no bound).
    pub to: Option<u32>,
    /// How many items.
    pub count: usize,
}

impl CarriedBand {
    /// How often its items were carried, in words: `6–11 times`, `26+ times`.
    pub fn times(&self) -> String {
        match self.to {
            Some(to) => format!("{}–{to} times", self.from),
            None => format!("{}+ times", self.from),
        }
    }
}

/// An agenda as the views show it: the items one by one, and the long-carried ones
/// folded into bands (empty when there are few).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldedAgenda<'a> {
    /// Shown one by one, in agenda order.
    pub shown: Vec<&'a AgendaItem>,
    /// Folded, most carried first (then oldest first).
    pub folded: Vec<&'a AgendaItem>,
    /// The bands of `folded`, most carried first, empty bands left out.
    pub bands: Vec<CarriedBand>,
}

/// Folds an agenda's long-carried items (see [`FOLD_ABOVE`]).
pub fn fold_agenda(items: &[AgendaItem]) -> FoldedAgenda<'_> {
    let long = |i: &AgendaItem| !i.discussed && i.carried >= FOLD_FROM;
    if items.iter().filter(|i| long(i)).count() <= FOLD_ABOVE {
        return FoldedAgenda {
            shown: items.iter().collect(),
            folded: Vec::new(),
            bands: Vec::new(),
        };
    }
    let mut folded: Vec<&AgendaItem> = items.iter().filter(|i| long(i)).collect();
    folded.sort_by(|a, b| b.carried.cmp(&a.carried).then(a.added_at.cmp(&b.added_at)));
    let bands = FOLD_BANDS
        .iter()
        .map(|(from, to)| CarriedBand {
            from: *from,
            to: *to,
            count: folded
                .iter()
                .filter(|i| i.carried >= *from && to.is_none_or(|t| i.carried <= t))
                .count(),
        })
        .filter(|b| b.count > 0)
        .collect();
    FoldedAgenda {
        shown: items.iter().filter(|i| !long(i)).collect(),
        folded,
        bands,
    }
}

/// A meeting as listed in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingSummary {
    /// Random id.
    pub id: String,
    /// Date, `YYYY-MM-DD`.
    pub date: String,
    /// State.
    pub status: MeetingStatus,
    /// Fields set concurrently to different values (date, status).
    pub conflicts: Vec<Conflict>,
    /// How many times it was moved to another date.
    #[serde(default)]
    pub reschedules: u32,
    /// The date it was planned for, when it was held on another day (wrapped early).
    #[serde(default)]
    pub planned: Option<String>,
    /// How long it ran, in minutes, when that was recorded at the wrap.
    #[serde(default)]
    pub minutes: Option<u32>,
}

/// An agenda item, in a meeting or in the backlog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgendaItem {
    /// Random id, kept when the item moves.
    pub id: String,
    /// The text.
    pub text: String,
    /// Author's person id.
    pub author: String,
    /// When it was added (Unix milliseconds).
    pub added_at: i64,
    /// Whether it was discussed.
    pub discussed: bool,
    /// The meeting it was carried over from, if any.
    pub carried_from: Option<String>,
    /// Other versions of the text that were written concurrently elsewhere (a copy that lost
    /// a tie-break, or an edit made while another device moved the item).
    pub also: Vec<String>,
    /// How many meetings ended with it undiscussed (0: never carried).
    #[serde(default)]
    pub carried: u32,
    /// The recurring point it is an occurrence of, if it is one (see `model::recur`).
    #[serde(default)]
    pub recurring: Option<String>,
}

/// Carried this many times, an item is pointed out: discuss it, move it to the backlog, or
/// drop it.
pub const CARRIED_NUDGE: u32 = 3;

/// A commitment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    /// Random id.
    pub id: String,
    /// What was promised.
    pub text: String,
    /// Owner's person id.
    pub owner: String,
    /// Due date, `YYYY-MM-DD`.
    pub due: Option<String>,
    /// State.
    pub status: CommitmentStatus,
    /// The meeting it was made in.
    pub made_in: String,
    /// When it was closed (Unix milliseconds).
    pub closed_at: Option<i64>,
    /// Fields set concurrently to different values.
    pub conflicts: Vec<Conflict>,
    /// How many times its due date was pushed later.
    #[serde(default)]
    pub slips: u32,
}

/// A text section of a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionText {
    /// Section key (`checkin`, `wins`, ...).
    pub section: super::Section,
    /// Its text.
    pub text: String,
}

/// One meeting in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingView {
    /// Id, date, status and conflicts from the index.
    #[serde(flatten)]
    pub summary: MeetingSummary,
    /// Agenda items that live in this meeting, in order.
    pub agenda: Vec<AgendaItem>,
    /// The rhythm and the close, in display order.
    pub sections: Vec<SectionText>,
    /// Commitments made in this meeting.
    pub commitments: Vec<Commitment>,
}

impl AsRef<MeetingSummary> for MeetingView {
    fn as_ref(&self) -> &MeetingSummary {
        &self.summary
    }
}

impl AsRef<MeetingSummary> for MeetingSummary {
    fn as_ref(&self) -> &MeetingSummary {
        self
    }
}

impl MeetingView {
    /// The text of one section.
    pub fn section(&self, section: super::Section) -> &str {
        self.sections
            .iter()
            .find(|s| s.section == section)
            .map(|s| s.text.as_str())
            .unwrap_or("")
    }
}

/// What `duet show` renders: the current meeting and everything still open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    /// The notebook.
    pub notebook: NotebookView,
    /// The current meeting (the next one not yet held), if any.
    pub meeting: Option<MeetingView>,
    /// Open commitments, oldest first.
    pub open_commitments: Vec<Commitment>,
    /// Agenda items kept for later.
    pub backlog: Vec<AgendaItem>,
}

#[cfg(test)]
mod fold_tests {
    use super::*;

    fn item(text: &str, carried: u32) -> AgendaItem {
        AgendaItem {
            id: text.into(),
            text: text.into(),
            author: "ana".into(),
            added_at: i64::from(carried),
            discussed: false,
            carried_from: None,
            also: Vec::new(),
            carried,
            recurring: None,
        }
    }

    #[test]
    fn a_few_long_carried_items_stay_and_many_fold_into_bands_most_carried_first() {
        let few: Vec<AgendaItem> = (0..5).map(|n| item(&format!("i{n}"), 7)).collect();
        let f = fold_agenda(&few);
        assert_eq!((f.shown.len(), f.folded.len()), (5, 0));
        let mut many: Vec<AgendaItem> = [1, 3, 4, 6, 12, 30, 2, 7, 8]
            .iter()
            .map(|c| item(&format!("c{c}"), *c))
            .collect();
        many[2].discussed = true; // ticked: never folded
        let f = fold_agenda(&many);
        let shown: Vec<&str> = f.shown.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(shown, ["c1", "c4", "c2"]);
        let folded: Vec<u32> = f.folded.iter().map(|i| i.carried).collect();
        assert_eq!(folded, [30, 12, 8, 7, 6, 3]);
        let bands: Vec<(u32, usize)> = f.bands.iter().map(|b| (b.from, b.count)).collect();
        assert_eq!(bands, [(26, 1), (12, 1), (6, 3), (3, 1)]);
    }
}
