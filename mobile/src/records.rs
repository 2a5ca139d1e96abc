//! The records and enums an app renders: plain data, copied across the FFI.

use duet_core::model::views;

/// Who a person is in a notebook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PersonRole {
    /// The manager.
    Manager,
    /// The report.
    Report,
}

impl From<PersonRole> for duet_core::Role {
    fn from(r: PersonRole) -> Self {
        match r {
            PersonRole::Manager => duet_core::Role::Manager,
            PersonRole::Report => duet_core::Role::Report,
        }
    }
}

impl From<duet_core::Role> for PersonRole {
    fn from(r: duet_core::Role) -> Self {
        match r {
            duet_core::Role::Manager => PersonRole::Manager,
            duet_core::Role::Report => PersonRole::Report,
        }
    }
}

/// A section of a meeting's notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum NoteSection {
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
    /// The key takeaway.
    Takeaway,
    /// Next steps.
    NextSteps,
    /// What the report needs.
    Needs,
}

impl From<NoteSection> for duet_core::Section {
    fn from(s: NoteSection) -> Self {
        use duet_core::Section as S;
        match s {
            NoteSection::Checkin => S::Checkin,
            NoteSection::Wins => S::Wins,
            NoteSection::Challenges => S::Challenges,
            NoteSection::LookAhead => S::LookAhead,
            NoteSection::Notes => S::Notes,
            NoteSection::Takeaway => S::Takeaway,
            NoteSection::NextSteps => S::NextSteps,
            NoteSection::Needs => S::Needs,
        }
    }
}

/// A person of a notebook.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PersonRecord {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: PersonRole,
}

/// A notebook.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NotebookRecord {
    /// Public id.
    pub id: String,
    /// Title.
    pub title: String,
    /// The two people (empty until a joined notebook has arrived).
    pub people: Vec<PersonRecord>,
    /// Whether it is the one edits go to.
    pub current: bool,
    /// The day the 1-1 ended (read-only from then on), if it did.
    pub ended: Option<String>,
}

impl From<views::NotebookView> for NotebookRecord {
    fn from(v: views::NotebookView) -> Self {
        NotebookRecord {
            id: v.id,
            title: v.title,
            people: v
                .people
                .into_iter()
                .map(|p| PersonRecord {
                    id: p.id,
                    name: p.name,
                    role: p.role.into(),
                })
                .collect(),
            current: v.current,
            ended: v.ended,
        }
    }
}

/// An agenda item.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AgendaItemRecord {
    /// Id.
    pub id: String,
    /// Text.
    pub text: String,
    /// Author's person id.
    pub author: String,
    /// Whether it was discussed.
    pub discussed: bool,
    /// How many meetings ended with it undiscussed (0: never carried).
    pub carried: u32,
    /// Carried so often the app should point it out: discuss it, move it to the backlog,
    /// or drop it.
    pub nudge: bool,
    /// The recurring talking point it comes back for, if it does (show it marked).
    pub recurring_point: Option<String>,
}

impl From<views::AgendaItem> for AgendaItemRecord {
    fn from(i: views::AgendaItem) -> Self {
        AgendaItemRecord {
            nudge: !i.discussed && i.carried >= views::CARRIED_NUDGE,
            id: i.id,
            text: i.text,
            author: i.author,
            discussed: i.discussed,
            carried: i.carried,
            recurring_point: i.recurring,
        }
    }
}

/// A commitment.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CommitmentRecord {
    /// Id.
    pub id: String,
    /// What was promised.
    pub text: String,
    /// Owner's person id.
    pub owner: String,
    /// Due date, `YYYY-MM-DD`.
    pub due: Option<String>,
    /// `open`, `done` or `dropped`.
    pub status: String,
    /// The meeting it was made in.
    pub made_in: String,
}

impl From<views::Commitment> for CommitmentRecord {
    fn from(c: views::Commitment) -> Self {
        CommitmentRecord {
            id: c.id,
            text: c.text,
            owner: c.owner,
            due: c.due,
            status: c.status.as_str().to_owned(),
            made_in: c.made_in,
        }
    }
}

/// One section's text.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SectionRecord {
    /// Its key (`checkin`, `wins`, ...).
    pub section: String,
    /// Its text.
    pub text: String,
}

/// A meeting with its agenda, notes and commitments.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MeetingRecord {
    /// Id.
    pub id: String,
    /// Date, `YYYY-MM-DD`.
    pub date: String,
    /// `scheduled`, `held`, `canceled`.
    pub status: String,
    /// The date it was planned for, when it was held on another day (wrapped early).
    pub planned: Option<String>,
    /// How long it ran, in minutes, when recorded at the wrap.
    pub minutes: Option<u32>,
    /// The agenda, one by one: every item, but for long-carried ones folded when there
    /// are many (see `carried_bands`).
    pub agenda: Vec<AgendaItemRecord>,
    /// The long-carried items folded out of `agenda`, one line each in an app: how many
    /// were carried how often, most carried first (empty when few were).
    pub carried_bands: Vec<CarriedBandRecord>,
    /// Those items themselves, most carried first, for an app that unfolds them.
    pub folded: Vec<AgendaItemRecord>,
    /// The notes by section.
    pub sections: Vec<SectionRecord>,
    /// Commitments made in it.
    pub commitments: Vec<CommitmentRecord>,
}

/// A band of folded agenda items.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CarriedBandRecord {
    /// Carried at least this many times.
    pub carried_from: u32,
    /// And at most this many (`None`: or more).
    pub carried_to: Option<u32>,
    /// How many items.
    pub count: u32,
}

impl From<views::MeetingView> for MeetingRecord {
    fn from(m: views::MeetingView) -> Self {
        let agenda = views::fold_agenda(&m.agenda);
        let (shown, folded, bands) = (
            agenda.shown.into_iter().cloned().map(Into::into).collect(),
            agenda.folded.into_iter().cloned().map(Into::into).collect(),
            agenda
                .bands
                .iter()
                .map(|b| CarriedBandRecord {
                    carried_from: b.from,
                    carried_to: b.to,
                    count: u32::try_from(b.count).unwrap_or(u32::MAX),
                })
                .collect(),
        );
        MeetingRecord {
            id: m.summary.id,
            date: m.summary.date,
            status: m.summary.status.as_str().to_owned(),
            planned: m.summary.planned,
            minutes: m.summary.minutes,
            agenda: shown,
            carried_bands: bands,
            folded,
            sections: m
                .sections
                .into_iter()
                .map(|s| SectionRecord {
                    section: s.section.key().to_owned(),
                    text: s.text,
                })
                .collect(),
            commitments: m.commitments.into_iter().map(Into::into).collect(),
        }
    }
}

/// What the app shows first: the notebook, the current meeting, what is open.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OverviewRecord {
    /// The notebook.
    pub notebook: NotebookRecord,
    /// The current meeting, if one is on the books.
    pub meeting: Option<MeetingRecord>,
    /// Open commitments of the whole notebook.
    pub open_commitments: Vec<CommitmentRecord>,
    /// Agenda items kept for later.
    pub backlog: Vec<AgendaItemRecord>,
}

/// What a sync brought.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncSummary {
    /// The notebook.
    pub notebook: String,
    /// Its title.
    pub title: String,
    /// What arrived, in words ("3 agenda items, 1 commitment").
    pub summary: String,
    /// Agenda items that arrived.
    pub agenda_items: u32,
    /// Commitments that arrived.
    pub commitments: u32,
    /// Meetings whose notes changed.
    pub notes: u32,
    /// Documents that changed here.
    pub documents_changed: u32,
    /// Changes this device sent.
    pub sent_changes: u32,
}

impl From<duet_core::SyncReport> for SyncSummary {
    fn from(r: duet_core::SyncReport) -> Self {
        SyncSummary {
            summary: r.summary(),
            notebook: r.notebook,
            title: r.title,
            agenda_items: r.agenda_items as u32,
            commitments: r.commitments as u32,
            notes: r.notes as u32,
            documents_changed: r.documents_changed as u32,
            sent_changes: r.sent_changes as u32,
        }
    }
}

/// Where an agenda item moves.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum MoveTo {
    /// Kept for later.
    Backlog,
    /// The meeting after the one it is in.
    NextMeeting,
    /// A meeting by id.
    Meeting {
        /// The meeting's id (or a unique prefix).
        id: String,
    },
}

/// What sync is doing (`DuetApp::sync_status`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatusRecord {
    /// Whether live sync runs (`start_live_sync`).
    pub live: bool,
    /// Each relay and device live sync talks to.
    pub links: Vec<LinkRecord>,
    /// Each notebook that has a relay.
    pub notebooks: Vec<NotebookSyncRecord>,
}

/// One relay or device, as live sync last saw it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LinkRecord {
    /// `relay` or `device`.
    pub kind: String,
    /// Its address.
    pub addr: String,
    /// The notebook, for a relay.
    pub notebook_id: Option<String>,
    /// Whether it is connected now.
    pub connected: bool,
    /// When it last synced without error (milliseconds since the Unix epoch).
    pub last_ok_ms: Option<i64>,
    /// The last error, if the last attempt failed.
    pub last_error: Option<String>,
}

/// One relayed notebook's standing.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NotebookSyncRecord {
    /// The notebook.
    pub notebook_id: String,
    /// Its title.
    pub title: String,
    /// The relay's address.
    pub relay: String,
    /// Changes on this device the relay has not acknowledged yet.
    pub not_on_relay: u32,
    /// Changes on this device no other device or relay is known to have yet.
    pub not_on_any_other_device: u32,
    /// When this device last found the relay's log not the one it had read (restored
    /// from a backup, wiped or compacted) and read it again (milliseconds since the Unix
    /// epoch).
    pub relay_rewound_ms: Option<i64>,
    /// Relay entries set aside: they opened but could not be applied.
    pub set_aside: Vec<SetAsideRecord>,
    /// Batches the relay did not deliver (lost or withheld), by sender.
    pub withheld: Vec<WithheldRecord>,
    /// Membership records that do not count (a removal or key epoch not signed by a
    /// device entitled to it), one sentence each.
    pub membership_refused: Vec<String>,
}

/// Batches of one device the relay did not deliver.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct WithheldRecord {
    /// The sender id (hex).
    pub sender: String,
    /// The first missing batch's number.
    pub from: u64,
    /// The last missing batch's number.
    pub to: u64,
    /// When it was noticed (seconds since the Unix epoch).
    pub at_secs: u64,
}

/// A relay entry set aside instead of applied.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SetAsideRecord {
    /// Its sequence number in the relay's log.
    pub seq: u64,
    /// The sender id in its envelope (hex).
    pub sender: String,
    /// Why it could not be applied.
    pub reason: String,
    /// When it was set aside (seconds since the Unix epoch).
    pub at_secs: u64,
}

/// What live sync reaches, and how often (`start_live_sync_with`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LiveSyncOptions {
    /// Sync with devices (remembered ones, and nearby ones when `nearby`), besides every
    /// notebook's relay.
    #[uniffi(default = true)]
    pub devices: bool,
    /// Look for devices on the local network (mDNS) on each peer round.
    #[uniffi(default = true)]
    pub nearby: bool,
    /// Seconds between peer rounds (at least 5).
    #[uniffi(default = 30)]
    pub peer_interval_secs: u32,
}

impl Default for LiveSyncOptions {
    fn default() -> Self {
        LiveSyncOptions {
            devices: true,
            nearby: true,
            peer_interval_secs: 30,
        }
    }
}
