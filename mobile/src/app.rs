//! [`DuetApp`]: one object per home directory the app owns.
//!
//! Edits and views are plain (blocking, milliseconds) calls. Sync is async and runs on the
//! tokio runtime inside the library (uniffi's `tokio` support), so the app awaits it from
//! its own coroutines or tasks whatever their executor.
//! A sync can be cancelled (the app suspended, the future dropped) at any await: the store
//! is only written in one synchronous step after everything arrived, so a cancelled sync
//! leaves the notebook as it was and the next call completes it.
//!
//! The app registers a [`ChangeListener`] to hear "notebook changed" after local edits and
//! after syncs that brought something, so the UI refreshes without polling.

use crate::error::MobileError;
use crate::records::*;
use duet_core::invite::Invite;
use duet_core::net::{client, relay_client};
use duet_core::{Duet, Owner};
use std::sync::{Arc, Mutex};

/// What the app implements to hear about changes.
#[uniffi::export(with_foreign)]
pub trait ChangeListener: Send + Sync {
    /// The notebook changed: by an edit on this device, or by a sync (`summary` says what
    /// arrived, "3 agenda items, 1 commitment").
    fn notebook_changed(&self, notebook_id: String, summary: String);
}

/// Duet on a phone: one home directory, its notebooks, and their sync.
#[derive(uniffi::Object)]
pub struct DuetApp {
    duet: tokio::sync::Mutex<Duet>,
    listener: Mutex<Option<Arc<dyn ChangeListener>>>,
}

impl DuetApp {
    /// Runs a blocking call on the notebook.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Duet) -> Result<T, MobileError>,
    ) -> Result<T, MobileError> {
        let mut duet = self.duet.blocking_lock();
        f(&mut duet)
    }

    /// Runs an edit, then tells the listener.
    pub(crate) fn edit<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Duet) -> Result<T, MobileError>,
    ) -> Result<T, MobileError> {
        let (out, notebook) = self.with(|d| {
            let out = f(d)?;
            Ok((out, d.selected_notebook().unwrap_or_default()))
        })?;
        self.notify(&notebook, what);
        Ok(out)
    }

    /// The home, for async calls.
    pub(crate) async fn duet_lock(&self) -> tokio::sync::MutexGuard<'_, Duet> {
        self.duet.lock().await
    }

    pub(crate) fn notify(&self, notebook: &str, summary: &str) {
        let listener = self.listener.lock().ok().and_then(|l| l.clone());
        if let Some(l) = listener {
            l.notebook_changed(notebook.to_owned(), summary.to_owned());
        }
    }
}

#[uniffi::export]
impl DuetApp {
    /// Opens the home in `dir` (a directory the app owns), making this device's identity
    /// with `name` the first time.
    #[uniffi::constructor]
    pub fn open(dir: String, name: String) -> Result<Arc<DuetApp>, MobileError> {
        let home = std::path::PathBuf::from(&dir);
        let duet = match Duet::open(&home) {
            Ok(d) => d,
            Err(duet_core::DuetError::NotInitialized { .. }) => Duet::init(&home, &name)?,
            Err(e) => return Err(e.into()),
        };
        Ok(Arc::new(DuetApp {
            duet: tokio::sync::Mutex::new(duet),
            listener: Mutex::new(None),
        }))
    }

    /// Registers the listener (replacing any earlier one).
    pub fn set_listener(&self, listener: Arc<dyn ChangeListener>) {
        if let Ok(mut l) = self.listener.lock() {
            *l = Some(listener);
        }
    }

    /// This device owner's name.
    pub fn name(&self) -> String {
        self.duet.blocking_lock().name().to_owned()
    }

    /// Creates a notebook with the other person and makes it current; its first meeting
    /// is today.
    pub fn create_notebook(
        &self,
        title: String,
        me: PersonRole,
        other_name: String,
    ) -> Result<NotebookRecord, MobileError> {
        self.edit("created", |d| {
            Ok(d.notebook_new(
                &title,
                me.into(),
                &other_name,
                Default::default(),
                duet_core::dates::today(),
            )?
            .into())
        })
    }

    /// Every notebook on this device.
    pub fn notebooks(&self) -> Result<Vec<NotebookRecord>, MobileError> {
        self.with(|d| Ok(d.notebooks()?.into_iter().map(Into::into).collect()))
    }

    /// Makes a notebook (id or unique prefix, or title) the current one.
    pub fn use_notebook(&self, notebook: String) -> Result<NotebookRecord, MobileError> {
        self.with(|d| Ok(d.use_notebook(&notebook)?.into()))
    }

    /// The current notebook, meeting and open items.
    pub fn overview(&self) -> Result<OverviewRecord, MobileError> {
        self.with(|d| {
            let o = d.overview()?;
            Ok(OverviewRecord {
                notebook: o.notebook.into(),
                meeting: o.meeting.map(Into::into),
                open_commitments: o.open_commitments.into_iter().map(Into::into).collect(),
                backlog: o.backlog.into_iter().map(Into::into).collect(),
            })
        })
    }

    /// Every meeting, oldest first.
    pub fn history(&self) -> Result<Vec<MeetingRecord>, MobileError> {
        self.with(|d| Ok(d.history()?.into_iter().map(Into::into).collect()))
    }

    /// Adds to the current meeting's agenda (or the backlog).
    pub fn add_agenda_item(
        &self,
        text: String,
        backlog: bool,
    ) -> Result<AgendaItemRecord, MobileError> {
        self.edit("agenda item added", |d| {
            Ok(d.agenda_add(&text, backlog, None)?.into())
        })
    }

    /// Ticks an agenda item off (id or unique prefix).
    pub fn agenda_done(&self, id: String) -> Result<AgendaItemRecord, MobileError> {
        self.edit("agenda item done", |d| Ok(d.agenda_done(&id, None)?.into()))
    }

    /// Appends a paragraph to a section of the current meeting's notes.
    pub fn add_note(&self, section: NoteSection, text: String) -> Result<(), MobileError> {
        self.edit("note added", |d| {
            d.note(section.into(), &text, None)?;
            Ok(())
        })
    }

    /// Records a commitment: owned by this device's person (`mine`) or the other one.
    pub fn add_commitment(
        &self,
        text: String,
        mine: bool,
        due: Option<String>,
    ) -> Result<CommitmentRecord, MobileError> {
        let due = due.map(|t| parse_date(&t)).transpose()?;
        let owner = if mine { Owner::Me } else { Owner::Them };
        self.edit("commitment added", |d| {
            Ok(d.commit_add(&text, &owner, due, None)?.into())
        })
    }

    /// Marks a commitment done.
    pub fn complete_commitment(&self, id: String) -> Result<CommitmentRecord, MobileError> {
        self.edit("commitment done", |d| {
            Ok(
                d.commit_close(&id, duet_core::model::CommitmentStatus::Done)?
                    .into(),
            )
        })
    }

    /// Ends the current meeting: takeaway, next steps, needs; carries over what is left
    /// and puts the next meeting on the books. Returns the next meeting's id.
    pub fn wrap_meeting(
        &self,
        takeaway: Option<String>,
        next_steps: Option<String>,
        needs: Option<String>,
    ) -> Result<String, MobileError> {
        self.edit("meeting wrapped", |d| {
            Ok(d.wrap(
                None,
                takeaway.as_deref(),
                next_steps.as_deref(),
                needs.as_deref(),
            )?
            .next
            .id)
        })
    }

    /// Rewords an agenda item of the current meeting; concurrent typing merges.
    pub fn edit_agenda_item(
        &self,
        id: String,
        text: String,
    ) -> Result<AgendaItemRecord, MobileError> {
        self.edit("agenda item edited", |d| {
            Ok(d.agenda_edit(&id, &text, None)?.into())
        })
    }

    /// Moves an agenda item of the current meeting: to the backlog, to the next meeting,
    /// or to a meeting by id. Returns where it went.
    pub fn move_agenda_item(&self, id: String, to: MoveTo) -> Result<String, MobileError> {
        let target = match to {
            MoveTo::Backlog => duet_core::MoveTarget::Backlog,
            MoveTo::NextMeeting => duet_core::MoveTarget::Next,
            MoveTo::Meeting { id } => duet_core::MoveTarget::Meeting(id),
        };
        self.edit("agenda item moved", |d| {
            Ok(d.agenda_move(&id, &target, None)?.1)
        })
    }

    /// Rewords an open commitment or moves its due date.
    pub fn edit_commitment(
        &self,
        id: String,
        text: Option<String>,
        due: Option<String>,
    ) -> Result<CommitmentRecord, MobileError> {
        let due = due.map(|t| parse_date(&t)).transpose()?;
        self.edit("commitment edited", |d| {
            Ok(d.commit_edit(&id, text.as_deref(), due)?.into())
        })
    }

    /// Drops a commitment on purpose.
    pub fn drop_commitment(&self, id: String) -> Result<CommitmentRecord, MobileError> {
        self.edit("commitment dropped", |d| {
            Ok(
                d.commit_close(&id, duet_core::model::CommitmentStatus::Dropped)?
                    .into(),
            )
        })
    }

    /// Every commitment of the notebook (or only the open ones).
    pub fn commitments(&self, open_only: bool) -> Result<Vec<CommitmentRecord>, MobileError> {
        self.with(|d| {
            Ok(d.commitments(open_only)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Puts a meeting on the books (`date` as people type it; default one cadence after
    /// the last). Returns its id.
    pub fn new_meeting(&self, date: Option<String>) -> Result<String, MobileError> {
        let date = date.map(|t| parse_date(&t)).transpose()?;
        self.edit("meeting added", |d| Ok(d.meeting_new(date)?.id))
    }

    /// Cancels a meeting (default: the current one); its open items carry over.
    pub fn cancel_meeting(&self, id: Option<String>) -> Result<(), MobileError> {
        self.edit("meeting canceled", |d| {
            d.cancel(id.as_deref())?;
            Ok(())
        })
    }

    /// Moves a meeting (default: the current one) to another date.
    pub fn reschedule_meeting(&self, id: Option<String>, date: String) -> Result<(), MobileError> {
        let date = parse_date(&date)?;
        self.edit("meeting rescheduled", |d| {
            d.reschedule(id.as_deref(), date)?;
            Ok(())
        })
    }

    /// Renames the current notebook.
    pub fn rename_notebook(&self, title: String) -> Result<NotebookRecord, MobileError> {
        self.edit("renamed", |d| Ok(d.rename(&title)?.into()))
    }

    /// Uses a relay for the current notebook (invites carry it).
    pub fn set_relay(&self, addr: String, fingerprint: String) -> Result<(), MobileError> {
        self.with(|d| {
            d.relay_set(&addr, &fingerprint, None)?;
            Ok(())
        })
    }

    /// An invite ticket for the current notebook. A phone does not serve, so the ticket
    /// carries the relay (set one first) and no device address.
    pub fn invite(&self) -> Result<String, MobileError> {
        self.with(|d| {
            let id = d.selected_notebook()?;
            let relay = d.relay_setting(&id)?.map(|r| r.relay_info()).transpose()?;
            Ok(d.invite(Vec::new(), relay)?.to_ticket())
        })
    }

    /// Joins a notebook from a ticket as `role`; it arrives with the next sync. Returns
    /// its id.
    pub fn join(&self, ticket: String, role: PersonRole) -> Result<String, MobileError> {
        let invite = Invite::from_ticket(&ticket).map_err(|e| MobileError::Invalid {
            message: e.to_string(),
        })?;
        self.with(|d| {
            let id = d.join_invite(&invite, role.into())?;
            if let Some(relay) = &invite.relay {
                d.relay_set(
                    &relay.addr,
                    &duet_core::crypto::fingerprint_text(&relay.fingerprint),
                    None,
                )?;
            }
            Ok(id)
        })
    }
}

/// Reads a date as people type it: `2026-12-03`, `tomorrow`, `next tue`, `+7d`.
fn parse_date(text: &str) -> Result<duet_core::dates::Date, MobileError> {
    duet_core::dates::parse_date(text, duet_core::dates::today()).map_err(|e| {
        MobileError::Invalid {
            message: e.to_string(),
        }
    })
}

#[uniffi::export(async_runtime = "tokio")]
impl DuetApp {
    /// Pulls what the current notebook's relay holds for this device and pushes this
    /// device's changes. Cancellable at any point; nothing half-applied is ever kept.
    pub async fn sync_relay(&self) -> Result<SyncSummary, MobileError> {
        let mut duet = self.duet.lock().await;
        let notebook = duet.selected_notebook()?;
        let outcome = relay_client::sync_relay(&mut duet, &notebook).await?;
        duet.complete_joins()?;
        drop(duet);
        let summary: SyncSummary = outcome.report.into();
        if summary.documents_changed > 0 {
            self.notify(&notebook, &summary.summary);
        }
        Ok(summary)
    }

    /// Syncs with a device serving at `addr` (`host:port`), pinned by `fingerprint` (from
    /// its invite) or by an earlier sync when `None`.
    pub async fn sync_peer(
        &self,
        addr: String,
        fingerprint: Option<String>,
    ) -> Result<Vec<SyncSummary>, MobileError> {
        let target = relay_client::resolve(&addr)?;
        let mut duet = self.duet.lock().await;
        let pins =
            match fingerprint {
                Some(fp) => [duet_core::crypto::parse_fingerprint(&fp).ok_or_else(|| {
                    MobileError::Invalid {
                        message: format!("{fp:?} is not a device fingerprint"),
                    }
                })?]
                .into(),
                None => duet
                    .known_peers()?
                    .iter()
                    .filter_map(|p| duet_core::crypto::parse_fingerprint(&p.fingerprint))
                    .collect(),
            };
        let outcome = client::sync_with_retries(&mut duet, target, pins, 3).await?;
        drop(duet);
        let mut out = Vec::new();
        for report in outcome.reports {
            let summary: SyncSummary = report.into();
            if summary.documents_changed > 0 {
                self.notify(&summary.notebook, &summary.summary);
            }
            out.push(summary);
        }
        Ok(out)
    }
}
