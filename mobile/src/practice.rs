//! What helps a 1-1 go well, for the phone: prep, health signals, questions, themes, search,
//! the meeting summary, and private notes with the link between a person's own devices.
//! Records here mirror the core's views in types Kotlin and Swift read directly.

use crate::app::DuetApp;
use crate::error::MobileError;
use crate::records::{AgendaItemRecord, CommitmentRecord, SyncSummary};
use crate::signals::SignalRecord;
use duet_core::dates::Date;
use duet_core::insights::health::{Health, Window};
use duet_core::insights::search::HitKind;
use duet_core::invite::Invite;
use duet_core::model::private::PrivateNote;
use duet_core::model::questions::Question;
use duet_core::one_time_invite::OneTimeInvite;
use duet_node::net::redeem::redeem_ticket;
use duet_node::net::relay_client;

/// What a personal link ticket links to.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LinkInfoRecord {
    /// The device's name (empty from an older Duet).
    pub device: String,
    /// Its owner's name (empty from an older Duet).
    pub owner: String,
    /// Its TLS fingerprint.
    pub fingerprint: String,
}

/// A question worth asking.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QuestionRecord {
    /// `b01`... for the built-in bank, a random id for the pair's own.
    pub id: String,
    /// The question.
    pub text: String,
    /// Whether the pair added it.
    pub own: bool,
    /// How many meetings it was asked in.
    pub times_asked: u32,
    /// When it was last asked (Unix milliseconds).
    pub last_asked: Option<i64>,
}

impl From<Question> for QuestionRecord {
    fn from(q: Question) -> Self {
        QuestionRecord {
            id: q.id,
            text: q.text,
            own: q.own,
            times_asked: u32::try_from(q.asked_in.len()).unwrap_or(u32::MAX),
            last_asked: q.last_asked,
        }
    }
}

/// One person's follow-through on their commitments.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FollowThroughRecord {
    /// Display name.
    pub name: String,
    /// Commitments they own.
    pub made: u32,
    /// Done.
    pub done: u32,
    /// Done after the due date.
    pub done_late: u32,
    /// Open after the due date.
    pub open_past_due: u32,
    /// Open with no due date for more than two cadences.
    pub stale: u32,
}

/// The drift signals of a notebook.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HealthRecord {
    /// What deserves attention, as typed records with the phone's wording; empty when
    /// nothing does.
    pub signals: Vec<SignalRecord>,
    /// Concluded meetings looked at.
    pub window: u32,
    /// Of those, canceled.
    pub canceled: u32,
    /// Of those, moved at least once.
    pub rescheduled: u32,
    /// The day the last meeting was held.
    pub last_held: Option<String>,
    /// Days since the last held meeting (never negative).
    pub days_since_held: Option<i64>,
    /// The next meeting's date, if one is on the books.
    pub next_meeting: Option<String>,
    /// Per person.
    pub follow_through: Vec<FollowThroughRecord>,
}

impl From<Health> for HealthRecord {
    fn from(h: Health) -> Self {
        HealthRecord {
            window: count(h.window),
            canceled: count(h.canceled),
            rescheduled: count(h.rescheduled),
            last_held: h.last_held,
            days_since_held: h.days_since_held,
            next_meeting: h.next_meeting.map(|m| m.date),
            follow_through: h
                .follow_through
                .into_iter()
                .map(|f| FollowThroughRecord {
                    name: f.name,
                    made: count(f.made),
                    done: count(f.done),
                    done_late: count(f.done_late),
                    open_past_due: count(f.open_past_due),
                    stale: count(f.stale),
                })
                .collect(),
            signals: h.signals.into_iter().map(Into::into).collect(),
        }
    }
}

/// A theme (`#tag`) and how often it came up.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ThemeRecord {
    /// The tag without `#`.
    pub tag: String,
    /// Meetings it came up in.
    pub meetings: u32,
    /// Times written.
    pub mentions: u32,
    /// First meeting date.
    pub first: String,
    /// Last meeting date.
    pub last: String,
    /// Whether it came up in at least three meetings.
    pub recurring: bool,
    /// For each of the last twelve held meetings, oldest first, whether it came up there.
    pub recent: Vec<bool>,
}

/// A commitment that keeps slipping.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SlippingRecord {
    /// The commitment.
    pub commitment: CommitmentRecord,
    /// Why it counts as slipping, in plain words.
    pub why: String,
    /// Its themes.
    pub tags: Vec<String>,
}

/// Themes and slipping commitments.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ThemesRecord {
    /// Themes, most meetings first.
    pub themes: Vec<ThemeRecord>,
    /// Commitments that keep slipping.
    pub slipping: Vec<SlippingRecord>,
}

/// One search hit.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SearchHitRecord {
    /// The meeting's id (empty for a private note without one).
    pub meeting: String,
    /// The meeting's date.
    pub date: String,
    /// `agenda`, `note`, `commitment`, `private` or `backlog`.
    pub kind: String,
    /// The section key for notes.
    pub section: Option<String>,
    /// The matching text.
    pub text: String,
}

/// A private note: only this person's devices have it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PrivateNoteRecord {
    /// Id.
    pub id: String,
    /// The meeting it was written for.
    pub meeting: Option<String>,
    /// The text.
    pub text: String,
    /// When (Unix milliseconds).
    pub at: i64,
}

impl From<PrivateNote> for PrivateNoteRecord {
    fn from(n: PrivateNote) -> Self {
        PrivateNoteRecord {
            id: n.id,
            meeting: n.meeting,
            text: n.text,
            at: n.at,
        }
    }
}

/// What to bring to the next meeting.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PrepRecord {
    /// The meeting's date, if one is on the books.
    pub meeting_date: Option<String>,
    /// Its agenda so far.
    pub agenda: Vec<AgendaItemRecord>,
    /// Open commitments.
    pub open_commitments: Vec<CommitmentRecord>,
    /// The last held meeting's key takeaway.
    pub last_takeaway: Option<String>,
    /// A question worth asking.
    pub question: Option<QuestionRecord>,
    /// This person's private notes for the meeting.
    pub private_notes: Vec<PrivateNoteRecord>,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[uniffi::export]
impl DuetApp {
    /// What to bring to the next meeting.
    pub fn prep(&self) -> Result<PrepRecord, MobileError> {
        self.with(move |d| {
            let p = d.insights().prep()?;
            Ok(PrepRecord {
                meeting_date: p.meeting.map(|m| m.date),
                agenda: p.agenda.into_iter().map(Into::into).collect(),
                open_commitments: p.open_commitments.into_iter().map(Into::into).collect(),
                last_takeaway: p.last_takeaway.map(|(_, t)| t),
                question: p.question.map(Into::into),
                private_notes: p.private.into_iter().map(Into::into).collect(),
            })
        })
    }

    /// The drift signals over the last `last` concluded meetings.
    pub fn health(&self, last: u32) -> Result<HealthRecord, MobileError> {
        self.with(move |d| Ok(d.insights().health(Window::Last(last as usize))?.into()))
    }

    /// The drift signals over the meetings since `since` (`YYYY-MM-DD`).
    pub fn health_since(&self, since: String) -> Result<HealthRecord, MobileError> {
        let day: Date = since.trim().parse().map_err(|_| MobileError::Invalid {
            message: format!("\"{since}\" is not a date: use YYYY-MM-DD"),
        })?;
        self.with(move |d| Ok(d.insights().health(Window::Since(day))?.into()))
    }

    /// Themes that recur and commitments that keep slipping.
    pub fn themes(&self) -> Result<ThemesRecord, MobileError> {
        self.with(move |d| {
            let t = d.insights().themes()?;
            Ok(ThemesRecord {
                themes: t
                    .themes
                    .into_iter()
                    .map(|t| ThemeRecord {
                        tag: t.tag,
                        meetings: count(t.meetings),
                        mentions: count(t.mentions),
                        first: t.first,
                        last: t.last,
                        recurring: t.recurring,
                        recent: t.recent,
                    })
                    .collect(),
                slipping: t
                    .slipping
                    .into_iter()
                    .map(|s| SlippingRecord {
                        commitment: s.commitment.into(),
                        why: s.why,
                        tags: s.tags,
                    })
                    .collect(),
            })
        })
    }

    /// Every entry holding all words of `text`, private notes included.
    pub fn search(&self, text: String) -> Result<Vec<SearchHitRecord>, MobileError> {
        self.with(move |d| {
            Ok(d.insights()
                .search(&text)?
                .into_iter()
                .map(|h| SearchHitRecord {
                    kind: match h.kind {
                        HitKind::Agenda => "agenda",
                        HitKind::Note => "note",
                        HitKind::Commitment => "commitment",
                        HitKind::Private => "private",
                        HitKind::Backlog => "backlog",
                    }
                    .to_owned(),
                    meeting: h.meeting,
                    date: h.date,
                    section: h.section,
                    text: h.text,
                })
                .collect())
        })
    }

    /// One meeting as Markdown for an email: `last`, `current`, an id prefix or a date.
    pub fn meeting_summary(&self, meeting: String) -> Result<String, MobileError> {
        self.with(move |d| Ok(d.meetings().summary(&meeting)?))
    }

    /// Every question, with when each was asked.
    pub fn questions(&self) -> Result<Vec<QuestionRecord>, MobileError> {
        self.with(move |d| Ok(d.questions().list()?.into_iter().map(Into::into).collect()))
    }

    /// The question to suggest for the current meeting.
    pub fn suggest_question(&self) -> Result<Option<QuestionRecord>, MobileError> {
        self.with(move |d| Ok(d.questions().suggest()?.map(Into::into)))
    }

    /// Asks a question (by id, or the suggestion) in the current meeting; with
    /// `add_to_agenda` it goes on the agenda too.
    pub fn ask_question(
        &self,
        id: Option<String>,
        add_to_agenda: bool,
    ) -> Result<QuestionRecord, MobileError> {
        self.edit("question asked", move |d| {
            Ok(d.questions()
                .ask(id.as_deref(), add_to_agenda)?
                .question
                .into())
        })
    }

    /// Adds one of the pair's own questions.
    pub fn add_question(&self, text: String) -> Result<QuestionRecord, MobileError> {
        self.edit("question added", move |d| {
            Ok(d.questions().add(&text)?.into())
        })
    }

    /// Writes a private note for the current meeting: never part of the shared notebook.
    pub fn add_private_note(&self, text: String) -> Result<PrivateNoteRecord, MobileError> {
        self.with(move |d| Ok(d.private_notes().add(&text, None)?.into()))
    }

    /// This person's private notes about the current notebook.
    pub fn private_notes(&self) -> Result<Vec<PrivateNoteRecord>, MobileError> {
        self.with(move |d| {
            Ok(d.private_notes()
                .list()?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// A one-time personal link ticket for this person's other device, valid 7 days. It
    /// is redeemed on the relay (it carries the relay): its welcome goes there with the next
    /// `sync_private_notes`.
    pub fn link_ticket(&self) -> Result<String, MobileError> {
        self.with(move |d| Ok(d.members().link_once(Vec::new(), None)?.to_link_ticket()))
    }

    /// What a personal link ticket links to, for the app to show (and ask) before
    /// [`DuetApp::link`]: the device's name and owner (empty from an older Duet) and its
    /// fingerprint.
    pub fn link_ticket_info(&self, ticket: String) -> Result<LinkInfoRecord, MobileError> {
        let (fingerprint, owner) = if OneTimeInvite::is_one_time_link(&ticket) {
            let link =
                OneTimeInvite::from_link_ticket(&ticket).map_err(duet_core::DuetError::Ticket)?;
            (link.fingerprint, link.owner)
        } else {
            let link = Invite::from_link_ticket(&ticket).map_err(duet_core::DuetError::Ticket)?;
            (link.fingerprint, link.owner)
        };
        let owner = owner.unwrap_or(duet_core::invite::LinkOwner {
            name: String::new(),
            device: String::new(),
            people: Vec::new(),
        });
        Ok(LinkInfoRecord {
            device: owner.device,
            owner: owner.name,
            fingerprint: duet_core::crypto::fingerprint_text(&fingerprint),
        })
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl DuetApp {
    /// Takes a personal link ticket from this person's other device; private notes arrive
    /// with the next `sync_private_notes`. A one-time ticket is redeemed first, on the
    /// relay or at the other device; one from another person's device is refused before.
    pub async fn link(&self, ticket: String) -> Result<(), MobileError> {
        if OneTimeInvite::is_one_time_link(&ticket) {
            let link =
                OneTimeInvite::from_link_ticket(&ticket).map_err(duet_core::DuetError::Ticket)?;
            if let Some(owner) = link.owner.clone() {
                self.home()
                    .call(move |d| Ok::<_, MobileError>(d.joins().check_link_owner(&owner)?))
                    .await?;
            }
            let (grant, _) = redeem_ticket(self.home(), &link).await?;
            return self
                .home()
                .call(move |d| {
                    Ok::<_, MobileError>(d.joins().link_granted(&link, &grant).map(drop)?)
                })
                .await;
        }
        let link = Invite::from_link_ticket(&ticket).map_err(duet_core::DuetError::Ticket)?;
        self.home()
            .call(move |d| Ok::<_, MobileError>(d.joins().link(&link).map(drop)?))
            .await
    }

    /// Syncs private notes with this person's other devices through the relay; `None`
    /// when they have no relay yet (set one on a notebook, or link to a device that has).
    pub async fn sync_private_notes(&self) -> Result<Option<SyncSummary>, MobileError> {
        let space = self
            .home()
            .call(|d| {
                Ok::<_, MobileError>(match d.private_notes().space()? {
                    Some(space) if d.relay().setting(&space)?.is_some() => Some(space),
                    _ => None,
                })
            })
            .await?;
        let Some(space) = space else {
            return Ok(None);
        };
        let outcome = relay_client::sync_relay(self.home(), &space).await?;
        Ok(Some(outcome.report.into()))
    }
}
