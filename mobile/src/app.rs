//! [`DuetApp`]: one object per home directory the app owns: the phone's node.
//!
//! The home lives on its own thread (duet-core's node); edits and views are plain calls
//! that wait only for the calls queued before them (milliseconds), never for the network:
//! a sync asks the home for each step's work and waits on the network holding nothing. Sync
//! is async and runs on the tokio runtime inside the library (uniffi's `tokio` support), so
//! the app awaits it from its own coroutines or tasks whatever their executor; the app
//! decides when to sync (`sync_now` in the foreground or from an OS background task,
//! `start_live_sync` while it is on screen) and Rust owns the backoff.
//! A sync can be cancelled (the app suspended, the future dropped) at any await: what
//! arrived is applied in one step on the home, so a cancelled sync leaves the notebook
//! whole and the next call completes it.
//!
//! The app registers a [`ChangeListener`] to hear "notebook changed" after local edits and
//! after syncs that brought something, so the UI refreshes without polling.

use crate::error::MobileError;
use crate::records::*;
use duet_core::{Duet, Owner};
use duet_node::live::{LiveEvent, LiveOptions, LiveSync};
use duet_node::net::{client, relay_client};
use duet_node::{Home, HomeHandle};
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
    /// The home's owner thread; closed when the app object goes away.
    owner: Mutex<Option<Home>>,
    home: HomeHandle,
    listener: Arc<Mutex<Option<Arc<dyn ChangeListener>>>>,
    /// Runs live sync while the app asks for it.
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    live: Mutex<Option<LiveSync>>,
}

impl Drop for DuetApp {
    fn drop(&mut self) {
        if let Ok(mut rt) = self.runtime.lock() {
            if let Some(rt) = rt.take() {
                rt.shutdown_background();
            }
        }
        if let Ok(mut owner) = self.owner.lock() {
            if let Some(owner) = owner.take() {
                owner.close();
            }
        }
    }
}

impl DuetApp {
    /// Runs a call on the home: waits only for the calls queued before it, never for a
    /// sync's network wait.
    pub(crate) fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Duet) -> Result<T, MobileError> + Send + 'static,
    ) -> Result<T, MobileError> {
        self.home.call_blocking(f)
    }

    /// Runs an edit, then tells the listener.
    pub(crate) fn edit<T: Send + 'static>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Duet) -> Result<T, MobileError> + Send + 'static,
    ) -> Result<T, MobileError> {
        let (out, notebook) = self.with(move |d| {
            let out = f(d)?;
            Ok((out, d.selected_notebook().unwrap_or_default()))
        })?;
        self.notify(&notebook, what);
        Ok(out)
    }

    /// The home, for async calls.
    pub(crate) fn home(&self) -> &HomeHandle {
        &self.home
    }

    pub(crate) fn notify(&self, notebook: &str, summary: &str) {
        notify(&self.listener, notebook, summary);
    }
}

fn notify(listener: &Mutex<Option<Arc<dyn ChangeListener>>>, notebook: &str, summary: &str) {
    let listener = listener.lock().ok().and_then(|l| l.clone());
    if let Some(l) = listener {
        l.notebook_changed(notebook.to_owned(), summary.to_owned());
    }
}

impl DuetApp {
    /// Gives the opened home its owner thread.
    fn serve(duet: Duet) -> Result<Arc<DuetApp>, MobileError> {
        let owner = Home::spawn(duet)?;
        Ok(Arc::new(DuetApp {
            home: owner.handle(),
            owner: Mutex::new(Some(owner)),
            listener: Arc::new(Mutex::new(None)),
            runtime: Mutex::new(None),
            live: Mutex::new(None),
        }))
    }
}

#[uniffi::export]
impl DuetApp {
    /// Opens the home in `dir` (a directory the app owns), making this device's identity
    /// with `name` the first time. Its secrets are sealed with a key file in `dir`; an app with a platform keystore
    /// uses [`DuetApp::open_with_home_key`] instead.
    #[uniffi::constructor]
    pub fn open(dir: String, name: String) -> Result<Arc<DuetApp>, MobileError> {
        let home = std::path::PathBuf::from(&dir);
        let duet = match Duet::open(&home) {
            Ok(d) => d,
            Err(duet_core::DuetError::NotInitialized { .. }) => Duet::init(&home, &name)?,
            Err(e) => return Err(e.into()),
        };
        DuetApp::serve(duet)
    }

    /// Like [`DuetApp::open`], with the home's secrets sealed by `home_key` (32 bytes the app
    /// keeps in the platform keystore: Android Keystore, iOS Keychain), so nothing on disk
    /// opens the notebooks without it. The same key must be given every time.
    #[uniffi::constructor]
    pub fn open_with_home_key(
        dir: String,
        name: String,
        home_key: Vec<u8>,
    ) -> Result<Arc<DuetApp>, MobileError> {
        let home = std::path::PathBuf::from(&dir);
        let duet = match Duet::open_with_home_key(&home, &home_key) {
            Ok(d) => d,
            Err(duet_core::DuetError::NotInitialized { .. }) => {
                Duet::init_with_home_key(&home, &name, &home_key)?
            }
            Err(e) => return Err(e.into()),
        };
        DuetApp::serve(duet)
    }

    /// Registers the listener (replacing any earlier one).
    pub fn set_listener(&self, listener: Arc<dyn ChangeListener>) {
        if let Ok(mut l) = self.listener.lock() {
            *l = Some(listener);
        }
    }

    /// This device owner's name.
    pub fn name(&self) -> String {
        self.with(move |d| Ok(d.name().to_owned()))
            .unwrap_or_default()
    }

    /// Creates a notebook with the other person and makes it current; its first meeting
    /// is today.
    pub fn create_notebook(
        &self,
        title: String,
        me: PersonRole,
        other_name: String,
    ) -> Result<NotebookRecord, MobileError> {
        self.edit("created", move |d| {
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
        self.with(move |d| Ok(d.notebooks()?.into_iter().map(Into::into).collect()))
    }

    /// Makes a notebook (id or unique prefix, or title) the current one.
    pub fn use_notebook(&self, notebook: String) -> Result<NotebookRecord, MobileError> {
        self.with(move |d| Ok(d.use_notebook(&notebook)?.into()))
    }

    /// The current notebook, meeting and open items.
    pub fn overview(&self) -> Result<OverviewRecord, MobileError> {
        self.with(move |d| {
            let o = d.meetings().overview()?;
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
        self.with(move |d| {
            Ok(d.meetings()
                .history()?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Adds to the current meeting's agenda (or the backlog).
    pub fn add_agenda_item(
        &self,
        text: String,
        backlog: bool,
    ) -> Result<AgendaItemRecord, MobileError> {
        self.edit("agenda item added", move |d| {
            Ok(d.agenda().add(&text, backlog, None)?.into())
        })
    }

    /// Ticks an agenda item off (id or unique prefix).
    pub fn agenda_done(&self, id: String) -> Result<AgendaItemRecord, MobileError> {
        self.edit("agenda item done", move |d| {
            Ok(d.agenda().done(&id, None)?.into())
        })
    }

    /// Marks an agenda item not discussed after all (id or unique prefix).
    pub fn agenda_undone(&self, id: String) -> Result<AgendaItemRecord, MobileError> {
        self.edit("agenda item not done", move |d| {
            Ok(d.agenda().undone(&id, None)?.into())
        })
    }

    /// Puts an agenda item just before (`after` false) or just after (`after` true) another
    /// item of the same agenda, as a person drags it in a list.
    pub fn order_agenda_item(
        &self,
        id: String,
        other: String,
        after: bool,
    ) -> Result<AgendaItemRecord, MobileError> {
        self.edit("agenda item moved", move |d| {
            let order = if after {
                duet_core::Order::After(other)
            } else {
                duet_core::Order::Before(other)
            };
            Ok(d.agenda().order(&id, &order, None)?.into())
        })
    }

    /// Drops an agenda item (id or unique prefix): it leaves the agenda for good.
    pub fn agenda_drop(&self, id: String) -> Result<AgendaItemRecord, MobileError> {
        self.edit("agenda item dropped", move |d| {
            Ok(d.agenda().remove(&id, None)?.into())
        })
    }

    /// Appends a paragraph to a section of the current meeting's notes.
    pub fn add_note(&self, section: NoteSection, text: String) -> Result<(), MobileError> {
        self.edit("note added", move |d| {
            d.meetings().note(section.into(), &text, None)?;
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
        self.edit("commitment added", move |d| {
            Ok(d.commitments().add(&text, &owner, due, None)?.into())
        })
    }

    /// Marks a commitment done.
    pub fn complete_commitment(&self, id: String) -> Result<CommitmentRecord, MobileError> {
        self.edit("commitment done", move |d| {
            Ok(d.commitments()
                .close(&id, duet_core::model::CommitmentStatus::Done)?
                .into())
        })
    }

    /// Ends the current meeting: takeaway, next steps, needs, and how long it ran (minutes,
    /// optional); carries over what is left and puts the next meeting on the books. A meeting
    /// wrapped before its date is recorded as held today. Returns the next meeting's id.
    #[uniffi::method(default(minutes = None))]
    pub fn wrap_meeting(
        &self,
        takeaway: Option<String>,
        next_steps: Option<String>,
        needs: Option<String>,
        minutes: Option<u32>,
    ) -> Result<String, MobileError> {
        self.edit("meeting wrapped", move |d| {
            let notes = duet_core::WrapNotes {
                takeaway: takeaway.as_deref(),
                next_steps: next_steps.as_deref(),
                needs: needs.as_deref(),
                minutes,
            };
            Ok(d.meetings().wrap(None, &notes)?.next.id)
        })
    }

    /// Rewords an agenda item of the current meeting; concurrent typing merges.
    pub fn edit_agenda_item(
        &self,
        id: String,
        text: String,
    ) -> Result<AgendaItemRecord, MobileError> {
        self.edit("agenda item edited", move |d| {
            Ok(d.agenda().edit(&id, &text, None)?.into())
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
        self.edit("agenda item moved", move |d| {
            Ok(d.agenda().move_item(&id, &target, None)?.1)
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
        self.edit("commitment edited", move |d| {
            Ok(d.commitments().edit(&id, text.as_deref(), due)?.into())
        })
    }

    /// Drops a commitment on purpose.
    pub fn drop_commitment(&self, id: String) -> Result<CommitmentRecord, MobileError> {
        self.edit("commitment dropped", move |d| {
            Ok(d.commitments()
                .close(&id, duet_core::model::CommitmentStatus::Dropped)?
                .into())
        })
    }

    /// Every commitment of the notebook (or only the open ones).
    pub fn commitments(&self, open_only: bool) -> Result<Vec<CommitmentRecord>, MobileError> {
        self.with(move |d| {
            Ok(d.commitments()
                .list(open_only)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Puts a meeting on the books (`date` as people type it; default one cadence after
    /// the last). Returns its id.
    pub fn new_meeting(&self, date: Option<String>) -> Result<String, MobileError> {
        let date = date.map(|t| parse_date(&t)).transpose()?;
        self.edit("meeting added", move |d| Ok(d.meetings().book(date)?.id))
    }

    /// Cancels a meeting (default: the current one); its open items carry over.
    pub fn cancel_meeting(&self, id: Option<String>) -> Result<(), MobileError> {
        self.edit("meeting canceled", move |d| {
            d.meetings().cancel(id.as_deref())?;
            Ok(())
        })
    }

    /// Moves a meeting (default: the current one) to another date.
    pub fn reschedule_meeting(&self, id: Option<String>, date: String) -> Result<(), MobileError> {
        let date = parse_date(&date)?;
        self.edit("meeting rescheduled", move |d| {
            d.meetings().reschedule(id.as_deref(), date)?;
            Ok(())
        })
    }

    /// Renames the current notebook.
    pub fn rename_notebook(&self, title: String) -> Result<NotebookRecord, MobileError> {
        self.edit("renamed", move |d| Ok(d.rename(&title)?.into()))
    }

    /// Uses a relay for the current notebook (invites carry it).
    pub fn set_relay(&self, addr: String, fingerprint: String) -> Result<(), MobileError> {
        self.with(move |d| {
            d.relay().set(&addr, &fingerprint, None)?;
            Ok(())
        })
    }
}

/// Reads a date as people type it: `2026-12-03`, `tomorrow`, `next tue`, `+7d`.
pub(crate) fn parse_date(text: &str) -> Result<duet_core::dates::Date, MobileError> {
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
    /// Edits made meanwhile are answered at once.
    pub async fn sync_relay(&self) -> Result<SyncSummary, MobileError> {
        let notebook = self.home.call(|d| d.selected_notebook()).await?;
        let outcome = relay_client::sync_relay(&self.home, &notebook).await?;
        let summary: SyncSummary = outcome.report.into();
        if summary.documents_changed > 0 {
            self.notify(&notebook, &summary.summary);
        }
        Ok(summary)
    }

    /// Syncs with a device serving at `addr` (`host:port`, port 7878 when absent), pinned
    /// by `fingerprint` (from its invite) or by an earlier sync when `None`.
    pub async fn sync_peer(
        &self,
        addr: String,
        fingerprint: Option<String>,
    ) -> Result<Vec<SyncSummary>, MobileError> {
        let target = duet_node::net::resolve(&addr, duet_node::net::DEFAULT_PORT)?;
        let pins: std::collections::BTreeSet<[u8; 32]> =
            match fingerprint {
                Some(fp) => [duet_core::crypto::parse_fingerprint(&fp).ok_or_else(|| {
                    MobileError::Invalid {
                        message: format!("{fp:?} is not a device fingerprint"),
                    }
                })?]
                .into(),
                None => self
                    .home
                    .call(|d| d.peers().known())
                    .await?
                    .iter()
                    .filter_map(|p| duet_core::crypto::parse_fingerprint(&p.fingerprint))
                    .collect(),
            };
        let outcome = client::sync_with_retries(&self.home, target, pins, 3).await?;
        Ok(self.reported(outcome.reports))
    }

    /// Syncs everything now: every notebook's relay (private notes included) and every
    /// device synced with before that has an address. For the app in the foreground, after
    /// a push notification, or in an OS background task. Links that fail are skipped and
    /// show in `sync_status`; fails only when nothing could be reached.
    pub async fn sync_now(&self) -> Result<Vec<SyncSummary>, MobileError> {
        // One attempt each: the app calls again (or live sync retries) on its own terms.
        let round = duet_node::service::sync_everything(&self.home, 1).await?;
        let reports = round.reports();
        let first_error = round.failures.into_iter().next().map(|(_, e)| e);
        match (reports.is_empty(), first_error) {
            (true, Some(e)) => Err(e.into()),
            _ => Ok(self.reported(reports)),
        }
    }
}

impl DuetApp {
    pub(crate) fn reported(&self, reports: Vec<duet_core::SyncReport>) -> Vec<SyncSummary> {
        let mut out = Vec::new();
        for report in reports {
            let summary: SyncSummary = report.into();
            if summary.documents_changed > 0 {
                self.notify(&summary.notebook, &summary.summary);
            }
            out.push(summary);
        }
        out
    }
}

#[uniffi::export]
impl DuetApp {
    /// Stays subscribed to every notebook's relay until `stop_live_sync`: changes from the
    /// other devices arrive as they are pushed (the listener hears them), and this device's
    /// edits are pushed within a fifth of a second. For while the app is in the
    /// foreground. Failures are retried with backoff; `sync_status` shows them.
    pub fn start_live_sync(&self) -> Result<(), MobileError> {
        self.start_live_sync_with(LiveSyncOptions::default())
    }

    /// [`DuetApp::start_live_sync`] as `options` say: whether devices (and nearby ones,
    /// found by mDNS) are synced with besides the relays, and how often. On battery, an
    /// app may keep the relays only: their subscriptions cost a keep-alive every few
    /// seconds, where each nearby search wakes the Wi-Fi radio (`docs/embedding.md`
    /// gives the bytes per hour of each).
    pub fn start_live_sync_with(&self, options: LiveSyncOptions) -> Result<(), MobileError> {
        let mut live = self.live.lock().map_err(|_| poisoned())?;
        if live.is_some() {
            return Ok(());
        }
        let mut runtime = self.runtime.lock().map_err(|_| poisoned())?;
        if runtime.is_none() {
            *runtime = Some(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("duet-live-sync")
                    .enable_all()
                    .build()
                    .map_err(|e| MobileError::Network {
                        message: format!("starting live sync: {e}"),
                    })?,
            );
        }
        let Some(rt) = runtime.as_ref() else {
            return Err(poisoned());
        };
        let _entered = rt.enter();
        let listener = self.listener.clone();
        *live = Some(LiveSync::start(
            self.home.clone(),
            Arc::new(move |event| match event {
                LiveEvent::RelaySynced { report, .. } if report.documents_changed > 0 => {
                    let summary: SyncSummary = report.into();
                    notify(&listener, &summary.notebook, &summary.summary);
                }
                LiveEvent::PeerSynced { reports, .. } => {
                    for report in reports.into_iter().filter(|r| r.documents_changed > 0) {
                        let summary: SyncSummary = report.into();
                        notify(&listener, &summary.notebook, &summary.summary);
                    }
                }
                _ => {}
            }),
            LiveOptions {
                devices: options.devices,
                nearby: options.devices && options.nearby,
                peer_every: std::time::Duration::from_secs(u64::from(options.peer_interval_secs)),
            },
        ));
        Ok(())
    }

    /// Stops live sync (the app went to the background). Edits stay on the device and go
    /// out with the next sync.
    pub fn stop_live_sync(&self) {
        let live = self.live.lock().ok().and_then(|mut l| l.take());
        let runtime = self.runtime.lock().ok();
        if let (Some(live), Some(Some(rt))) = (live, runtime.as_deref()) {
            rt.block_on(live.stop());
        }
    }

    /// What sync is doing: whether live sync runs, each relay and device with its last
    /// successful sync and last error, and per notebook how many changes are not yet on
    /// its relay.
    pub fn sync_status(&self) -> Result<SyncStatusRecord, MobileError> {
        let links = self
            .live
            .lock()
            .ok()
            .and_then(|l| l.as_ref().map(|l| l.board().links()))
            .unwrap_or_default();
        let live = self.live.lock().map(|l| l.is_some()).unwrap_or(false);
        let notebooks = self.with(|d| {
            let relayed = d.relay().notebooks()?;
            let titles = d.notebooks()?;
            let mut out = Vec::new();
            for (id, setting) in relayed {
                out.push(NotebookSyncRecord {
                    title: titles
                        .iter()
                        .find(|n| n.id == id)
                        .map(|n| n.title.clone())
                        .unwrap_or_default(),
                    not_on_relay: u32::try_from(d.relay().unacknowledged(&id)?).unwrap_or(u32::MAX),
                    not_on_any_other_device: u32::try_from(d.relay().unshared_changes(&id)?)
                        .unwrap_or(u32::MAX),
                    relay_rewound_ms: d.relay().rewound_at(&id)?,
                    set_aside: d
                        .relay()
                        .quarantined(&id)?
                        .into_iter()
                        .map(|b| SetAsideRecord {
                            seq: b.seq,
                            sender: b.sender,
                            reason: b.reason,
                            at_secs: b.at,
                        })
                        .collect(),
                    withheld: d
                        .relay()
                        .withheld(&id)?
                        .into_iter()
                        .map(|w| WithheldRecord {
                            sender: w.sender,
                            from: w.from,
                            to: w.to,
                            at_secs: w.at,
                        })
                        .collect(),
                    membership_refused: d.members().refused(&id)?,
                    notebook_id: id,
                    relay: setting.addr,
                });
            }
            Ok(out)
        })?;
        Ok(SyncStatusRecord {
            live,
            links: links
                .into_iter()
                .map(|l| LinkRecord {
                    kind: l.kind,
                    addr: l.addr,
                    notebook_id: l.notebook,
                    connected: l.connected,
                    last_ok_ms: l.last_ok,
                    last_error: l.last_error,
                })
                .collect(),
            notebooks,
        })
    }
}

fn poisoned() -> MobileError {
    MobileError::Network {
        message: "live sync state is unusable after a crash in another call".into(),
    }
}
