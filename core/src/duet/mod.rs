//! The façade the CLI and the mobile core call: open a home, manage notebooks, edit the
//! current meeting, read views, and exchange changes offline.
//!
//! Every editing method loads only what it needs, applies the edit, and returns only after
//! the change is flushed to disk. Each `Duet` writes with a fresh Automerge actor id, so a
//! crash that lost an unflushed tail can never make this device repeat an (actor, seq) pair.
//!
//! This file holds the type, opening a home, and the helpers every part shares; the
//! commands live by subject in `notebooks`, `meetings`, `agenda`, `commits` and `exchange`.

use crate::bundle::{Bundle, BundleDoc};
use crate::crypto::{DeviceKey, NotebookSecret};
use crate::duet::settings::{CurrentNotebook, IdentityKey, OwnerName};
use crate::error::DuetError;
use crate::ids::{self, PrefixMatch};
use crate::model::commitments::{self, COMMITMENTS_DOC};
use crate::model::index::{self, NewNotebook, INDEX_DOC};
use crate::model::item::{self, NewItem};
use crate::model::meeting::{self, NewCommitment};
use crate::model::views::{
    AgendaItem, Cadence, Commitment, MeetingSummary, MeetingView, NotebookView, Overview, Person,
};
use crate::model::{CommitmentStatus, MeetingStatus, Role, Section};
use crate::notebook::{Doc, IndexView, Notebook};
use crate::store::{NotebookRecord, Store};
use automerge::ActorId;
use jiff::civil::Date;
use jiff::ToSpan;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

mod agenda;
mod calendar;
mod commits;
mod devices;
mod ending;
mod epochs;
mod exchange;
mod insights;
mod invites;
mod meetings;
mod membership_log;
mod membership_migration;
mod notebooks;
pub mod parts;
mod peer;
mod private;
mod quarantine;
mod questions;
mod recur;
mod relay;
mod secrets;
pub(crate) mod settings;
mod sheet;
mod undo;
mod wake;
mod week;

pub use crate::sync::relay_round::{EndStep, FarewellTarget, WakeDue, WelcomeWork};
pub use calendar::{
    CalendarEvent, MANAGER_REMINDER_MINUTES, REPORT_REMINDER_MINUTES, WHOLE_DAY_REMINDER_HOUR,
};
pub use devices::{DeviceView, MAX_DEVICE_NAME_CHARS};
pub use epochs::SyncKeys;
pub use insights::Prep;
pub use invites::{InviteRecord, InviteState, InviteView, OwnTake};
pub use peer::{KnownPeer, PeerSession, PeerStep, SyncReport};
pub use quarantine::{QuarantinedBatch, WithheldBatches};
pub use questions::Asked;
pub use relay::{Outgoing, RelaySetting};
pub use secrets::{enable_os_keychain, HomeKeySource};
pub use sheet::{SheetHeads, SheetReport, SheetSource, MAX_SECTION_BYTES};
pub use undo::{EditJournal, EditRecord, UndoList, Undone, MAX_UNDO_EDITS};
pub use wake::{WakeRecord, WAKE_REFUSAL_STANDS_MS};

use agenda::carry_over;
use commits::open_commitments;
use parts::{
    Agenda, Commitments, Insights, Joins, Meetings, Members, Peers, PrivateNotes, Questions, Relay,
    Schedule,
};

/// The manifest file of an Automerge export folder.
pub const MANIFEST_FILE: &str = "manifest.json";
const MANIFEST_FORMAT: &str = "duet-automerge-export";

/// Who a device joins a notebook as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinAs {
    /// The person with this role.
    Role(Role),
}

/// Who owns a commitment, as typed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Owner {
    /// This device's person.
    Me,
    /// The other person.
    Them,
    /// A person by (a prefix of) name or id.
    Named(String),
}

/// Where an agenda item goes in its agenda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    /// Just before this item (id prefix).
    Before(String),
    /// Just after this item (id prefix).
    After(String),
}

/// Where an agenda item moves.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MoveTarget {
    /// Kept for later.
    Backlog,
    /// The next meeting after the one it is in.
    Next,
    /// A meeting by (a prefix of) id.
    Meeting(String),
}

/// What `wrap` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrapOutcome {
    /// The meeting now held.
    pub held: MeetingSummary,
    /// The meeting on the books next.
    pub next: MeetingSummary,
    /// Whether `next` was made by this wrap.
    pub next_created: bool,
    /// Undiscussed agenda items carried to `next`.
    pub carried: Vec<String>,
    /// The date the meeting was planned for, when it was wrapped before that date and so
    /// recorded as held today.
    #[serde(default)]
    pub held_early_from: Option<String>,
}

/// What a wrap writes beside marking the meeting held: the close, and how long it ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WrapNotes<'a> {
    /// The key takeaway.
    pub takeaway: Option<&'a str>,
    /// Next steps.
    pub next_steps: Option<&'a str>,
    /// What the report needs.
    pub needs: Option<&'a str>,
    /// How long the meeting ran, in minutes (within [`HELD_MINUTES`]).
    pub minutes: Option<u32>,
}

/// The lengths a held meeting may be recorded with, in minutes.
pub const HELD_MINUTES: std::ops::RangeInclusive<u32> = 1..=480;

/// What a merge (bundle, import) brought in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeReport {
    /// The notebook merged into.
    pub notebook: String,
    /// Whether the notebook was new to this home.
    pub joined: bool,
    /// Automerge changes new to this home.
    pub changes: usize,
    /// Documents that received changes.
    pub documents: usize,
    /// Edits to moved agenda items re-applied where the items live now.
    pub reconciled: usize,
}

/// The manifest of an Automerge export folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportManifest {
    /// Always `duet-automerge-export`.
    pub format: String,
    /// Format version.
    pub version: u32,
    /// Public notebook id.
    pub notebook_id: String,
    /// Title.
    pub title: String,
    /// The document files.
    pub documents: Vec<ExportedDoc>,
}

/// One document file in an export folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedDoc {
    /// `index` or a meeting id.
    pub id: String,
    /// `index` or `meeting`.
    pub kind: String,
    /// File name inside the folder.
    pub file: String,
}

/// One device's Duet: a home with its identity, notebooks and store.
pub struct Duet {
    store: Store,
    device: DeviceKey,
    name: String,
    actor: ActorId,
    selected: Option<String>,
    /// The notebook loaded by the last call, kept while this process holds the store's
    /// lock (so nothing else can change it): the next edit need not load it again.
    cache: RefCell<Option<Notebook>>,
    /// Seals the home's secrets before they reach the store.
    home_key: secrets::HomeKey,
    /// Device records whose signature checked out (by the hash of what was signed and the
    /// signature): membership is read several times per sync, a record's check once.
    verified_records: RefCell<std::collections::HashSet<[u8; 32]>>,
    /// Membership logs whose signatures checked out, and what they prove (by the hash of
    /// their operations): membership is read several times per sync, a log's check once.
    checked_logs: RefCell<HashMap<[u8; 32], membership_log::CheckedLog>>,
}

/// The home's id (made on first use): names its keychain entry, so a home moved to another
/// folder keeps its key.
fn home_id(store: &Store) -> Result<String, DuetError> {
    use crate::duet::settings::HomeId;
    if let Some(id) = store.get(&HomeId())? {
        return Ok(id);
    }
    let mut raw = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut raw);
    let id = data_encoding::HEXLOWER.encode(&raw);
    store.put(&HomeId(), &id)?;
    store.flush()?;
    Ok(id)
}

/// What a notebook's secret is, as sealed-value context.
fn secret_context(notebook: &str) -> String {
    format!("notebook-secret/{notebook}")
}

/// What the device's signing key is, as sealed-value context.
const DEVICE_KEY: &str = "device-key";
/// What the TLS private key is, as sealed-value context.
pub(super) const TLS_KEY: &str = "tls-key";

impl std::fmt::Debug for Duet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Duet")
            .field("home", &self.store.home())
            .field("device", &self.device)
            .finish()
    }
}

fn now_millis() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl Duet {
    /// The platform's default home (for example `~/.local/share/duet`).
    pub fn default_home() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "duet").map(|d| d.data_dir().to_owned())
    }

    /// Makes this device's identity in `home`, its secrets sealed by the home's key file.
    pub fn init(home: &Path, name: &str) -> Result<Duet, DuetError> {
        Duet::init_keyed(home, name, None)
    }

    /// Like [`Duet::init`], with a home key the app keeps (32 bytes, from the platform's
    /// keystore) instead of a key file.
    pub fn init_with_home_key(home: &Path, name: &str, key: &[u8]) -> Result<Duet, DuetError> {
        Duet::init_keyed(home, name, Some(key))
    }

    fn init_keyed(home: &Path, name: &str, app_key: Option<&[u8]>) -> Result<Duet, DuetError> {
        let name = clean_text(name, "name")?;
        let store = Store::open(home)?;
        if let Some(existing) = store.get(&OwnerName())? {
            return Err(DuetError::AlreadyInitialized {
                home: home.to_owned(),
                name: existing,
            });
        }
        let home_key = match app_key {
            Some(key) => secrets::HomeKey::from_app(key)?,
            None => secrets::HomeKey::for_home(home, || home_id(&store), true)?,
        };
        let device = DeviceKey::generate();
        store.put(
            &IdentityKey(),
            &home_key.seal(DEVICE_KEY, &device.to_bytes()),
        )?;
        store.put(&OwnerName(), &name)?;
        store.flush()?;
        Ok(Duet {
            store,
            device,
            name,
            actor: ActorId::random(),
            selected: None,
            cache: RefCell::new(None),
            home_key,
            verified_records: RefCell::default(),
            checked_logs: RefCell::default(),
        })
    }

    /// Opens the home of an initialised device.
    pub fn open(home: &Path) -> Result<Duet, DuetError> {
        Duet::open_with(home, |engine| engine)
    }

    /// Opens a home whose key the app keeps (see [`Duet::init_with_home_key`]).
    pub fn open_with_home_key(home: &Path, key: &[u8]) -> Result<Duet, DuetError> {
        Duet::open_keyed(home, |engine| engine, Some(key))
    }

    /// Where this home's key is kept.
    pub fn home_key_source(&self) -> &HomeKeySource {
        self.home_key.source()
    }

    /// Opens the home, waiting up to `wait` while another process holds it (a sync that
    /// `duet serve` is running holds it for milliseconds), then failing with the holder's
    /// name.
    pub fn open_waiting(home: &Path, wait: std::time::Duration) -> Result<Duet, DuetError> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            match Duet::open(home) {
                Err(DuetError::Store(crate::store::StoreError::Locked { .. }))
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    /// Opens a home with its storage engine wrapped by `wrap`: tests use it to make writes
    /// fail on purpose and check that nothing acknowledged is lost.
    pub fn open_with(
        home: &Path,
        wrap: impl FnOnce(
            std::sync::Arc<dyn crate::store::Engine>,
        ) -> std::sync::Arc<dyn crate::store::Engine>,
    ) -> Result<Duet, DuetError> {
        Duet::open_keyed(home, wrap, None)
    }

    fn open_keyed(
        home: &Path,
        wrap: impl FnOnce(
            std::sync::Arc<dyn crate::store::Engine>,
        ) -> std::sync::Arc<dyn crate::store::Engine>,
        app_key: Option<&[u8]>,
    ) -> Result<Duet, DuetError> {
        let store = Store::open_with(home, wrap)?;
        let (Some(stored), Some(name)) = (store.get(&IdentityKey())?, store.get(&OwnerName())?)
        else {
            return Err(DuetError::NotInitialized {
                home: home.to_owned(),
            });
        };
        let sealed = secrets::is_sealed(&stored);
        let home_key = match app_key {
            Some(key) => secrets::HomeKey::from_app(key)?,
            // A home from before home keys gets its key now; a sealed one must have it.
            None => secrets::HomeKey::for_home(home, || home_id(&store), !sealed)?,
        };
        let key = home_key.open(DEVICE_KEY, &stored)?.unwrap_or(stored);
        let device = DeviceKey::from_bytes(&key).map_err(|e| {
            DuetError::Store(crate::store::StoreError::Corrupt {
                what: format!("device key: {e}"),
            })
        })?;
        let duet = Duet {
            store,
            device,
            name,
            actor: ActorId::random(),
            selected: None,
            cache: RefCell::new(None),
            home_key,
            verified_records: RefCell::default(),
            checked_logs: RefCell::default(),
        };
        if !sealed {
            duet.seal_unsealed_secrets()?;
        }
        Ok(duet)
    }

    /// Seals the secrets of a home written before home keys, in place.
    fn seal_unsealed_secrets(&self) -> Result<(), DuetError> {
        self.store.put(
            &IdentityKey(),
            &self.home_key.seal(DEVICE_KEY, &self.device.to_bytes()),
        )?;
        if let Some(stored) = self.store.get(&crate::duet::settings::TlsPrivateKey())? {
            if self.home_key.open(TLS_KEY, &stored)?.is_none() {
                self.store.put(
                    &crate::duet::settings::TlsPrivateKey(),
                    &self.home_key.seal(TLS_KEY, &stored),
                )?;
            }
        }
        for record in self.store.notebooks()? {
            let (plain, unsealed) = self
                .home_key
                .open_text(&secret_context(&record.id), &record.secret_hex)?;
            if unsealed {
                self.store.put_notebook(&NotebookRecord {
                    secret_hex: self.seal_notebook_secret(&record.id, &plain),
                    ..record
                })?;
            }
        }
        self.store.flush()?;
        tracing::info!(home = %self.store.home().display(), "sealed the home's secrets with its home key");
        Ok(())
    }

    /// A notebook secret sealed for its record.
    pub(super) fn seal_notebook_secret(&self, notebook: &str, secret: &[u8]) -> String {
        self.home_key.seal_text(&secret_context(notebook), secret)
    }

    /// A notebook record's secret, opened.
    pub(super) fn open_notebook_secret(
        &self,
        record: &NotebookRecord,
    ) -> Result<Vec<u8>, DuetError> {
        Ok(self
            .home_key
            .open_text(&secret_context(&record.id), &record.secret_hex)?
            .0)
    }

    /// This device's owner's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This device's public key (hex).
    pub fn device_id(&self) -> String {
        self.device.public_hex()
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        self.store.home()
    }

    /// Durable writes since this home was opened (edits and arrivals alike).
    pub(crate) fn write_count(&self) -> u64 {
        self.store.flush_count()
    }

    /// Writes of notebook content since this home was opened (edits and arrivals alike,
    /// never bookkeeping such as when a device last synced).
    pub(crate) fn document_write_count(&self) -> u64 {
        self.store.doc_write_count()
    }

    /// Automerge documents loaded since this home was opened. Reads are served from views
    /// kept beside the documents, so a read that loads one is slower than it should be.
    #[cfg(test)]
    pub(crate) fn documents_loaded(&self) -> u64 {
        self.store.load_count()
    }

    /// Records (settings and kept views) read since this home was opened. A process that
    /// keeps the home open answers a view again from what it holds in memory.
    #[cfg(test)]
    pub(crate) fn records_read(&self) -> u64 {
        self.store.record_reads()
    }

    /// Forgets a notebook chosen with [`Duet::select`]: the next call works on the current one.
    pub fn deselect(&mut self) {
        self.selected = None;
    }

    /// Works on the notebook named by this id prefix or title instead of the current one.
    pub fn select(&mut self, notebook: &str) -> Result<(), DuetError> {
        let id = self.resolve_notebook(notebook)?;
        self.selected = Some(id);
        Ok(())
    }
    // ---- helpers ------------------------------------------------------------------------

    fn current_id(&self) -> Result<String, DuetError> {
        if let Some(id) = &self.selected {
            return Ok(id.clone());
        }
        if let Some(id) = self.store.get(&CurrentNotebook())? {
            return Ok(id);
        }
        let mut all = self.shared_records()?;
        match all.len() {
            1 => Ok(all.remove(0).id),
            _ => Err(DuetError::NoNotebook),
        }
    }

    fn load(&self) -> Result<Notebook, DuetError> {
        let id = self.current_id()?;
        if let Some(nb) = self.cache.borrow_mut().take() {
            if nb.id == id {
                return Ok(nb);
            }
        }
        if self.join_pending(&id)? && self.store.load_doc(&id, INDEX_DOC)?.is_none() {
            return Err(DuetError::NotArrived {
                title: self.record(&id)?.title,
            });
        }
        Notebook::load(&self.store, &id, &self.actor)
    }

    /// Keeps a notebook whose state matches the store for the next call.
    fn keep(&self, nb: Notebook) {
        *self.cache.borrow_mut() = Some(nb);
    }

    /// Saves a person's edit, described as `what` on this device's undo list.
    fn save(&mut self, nb: &mut Notebook, what: &str) -> Result<(), DuetError> {
        self.refuse_if_ended(nb)?;
        self.note_edit(nb, what)?;
        nb.persist(&mut self.store)
    }

    /// Saves an edit that is not a person's to undo (a device's membership).
    fn save_unlisted(&mut self, nb: &mut Notebook) -> Result<(), DuetError> {
        self.refuse_if_ended(nb)?;
        nb.persist(&mut self.store)
    }

    fn refuse_if_ended(&mut self, nb: &mut Notebook) -> Result<(), DuetError> {
        // An ended 1-1 is read-only: the edit stays in memory only, and is dropped.
        if let Some(ended) = nb.ended(&self.store)? {
            self.cache.borrow_mut().take();
            return Err(DuetError::Ended {
                title: index::title(&nb.index()?.am)?,
                on: ended.at,
            });
        }
        Ok(())
    }

    /// The shared notebooks of this home (not the personal space).
    fn shared_records(&self) -> Result<Vec<NotebookRecord>, DuetError> {
        let mut all = self.store.notebooks()?;
        all.retain(|r| !r.personal);
        Ok(all)
    }

    /// Everything this home syncs: the shared notebooks and its personal space (a personal
    /// space it replaced when it was linked to another device's is left out).
    fn synced_records(&self) -> Result<Vec<NotebookRecord>, DuetError> {
        let personal = self.read_private_notes().space()?;
        let mut all = self.store.notebooks()?;
        all.retain(|r| !r.personal || Some(&r.id) == personal.as_ref());
        Ok(all)
    }

    /// A notebook or the personal space, loaded lazily, for sync.
    fn load_for_sync(&self, id: &str) -> Result<Notebook, DuetError> {
        let personal = self.read_private_notes().space()?.as_deref() == Some(id);
        Notebook::load_kind(&self.store, id, &self.actor, personal)
    }

    /// A notebook or the personal space whose membership document has arrived (a
    /// notebook being joined may not have its index yet); `None` before.
    fn space_with_members(&self, id: &str) -> Result<Option<Notebook>, DuetError> {
        let nb = self.load_for_sync(id)?;
        Ok(self
            .store
            .load_doc(id, nb.members_doc_id())?
            .is_some()
            .then_some(nb))
    }

    fn record(&self, id: &str) -> Result<NotebookRecord, DuetError> {
        self.store
            .notebooks()?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or(DuetError::NoNotebook)
    }

    fn resolve_notebook(&self, query: &str) -> Result<String, DuetError> {
        let records = self.shared_records()?;
        let by_title: Vec<&NotebookRecord> = records
            .iter()
            .filter(|r| r.title.eq_ignore_ascii_case(query.trim()))
            .collect();
        if let [one] = by_title.as_slice() {
            return Ok(one.id.clone());
        }
        resolve_id("notebook", query, records.iter().map(|r| r.id.as_str()))
    }

    fn me(&self, nb: &mut Notebook) -> Result<String, DuetError> {
        index::device_person(&nb.index()?.am, &self.device.public_hex())?.ok_or_else(|| {
            DuetError::Invalid("this device is not registered in the notebook; join it with a bundle (--join --as ...)".into())
        })
    }

    fn resolve_owner(&self, nb: &mut Notebook, owner: &Owner) -> Result<String, DuetError> {
        let people = index::people(&nb.index()?.am)?;
        let me = self.me(nb)?;
        match owner {
            Owner::Me => Ok(me),
            Owner::Them => people
                .into_iter()
                .find(|p| p.id != me)
                .map(|p| p.id)
                .ok_or_else(|| DuetError::Invalid("the notebook has no other person".into())),
            Owner::Named(name) => {
                let q = name.trim().to_lowercase();
                let hits: Vec<&Person> = people
                    .iter()
                    .filter(|p| {
                        p.name.to_lowercase().starts_with(&q)
                            || p.id.starts_with(&q)
                            || p.role.as_str() == q
                    })
                    .collect();
                match hits.as_slice() {
                    [one] => Ok(one.id.clone()),
                    [] => Err(DuetError::NotFound {
                        kind: "person",
                        query: name.clone(),
                    }),
                    many => Err(DuetError::Ambiguous {
                        kind: "person",
                        query: name.clone(),
                        candidates: many.iter().map(|p| p.name.clone()).collect(),
                    }),
                }
            }
        }
    }

    fn view_of(&self, nb: &mut Notebook, current: bool) -> Result<NotebookView, DuetError> {
        let view = nb.index_view(&self.store)?;
        Ok(NotebookView {
            id: nb.id.clone(),
            title: view.title.clone(),
            people: view.people.clone(),
            cadence: view.cadence,
            me: view.device_person(&self.device.public_hex()),
            current,
            ended: nb.ended(&self.store)?.map(|e| e.at),
        })
    }

    /// Bytes the store takes on disk.
    pub fn store_size(&self) -> Result<u64, DuetError> {
        Ok(self.store.size_on_disk()?)
    }
}

/// One meeting's summary from the index.
fn summary(nb: &mut Notebook, id: &str) -> Result<MeetingSummary, DuetError> {
    index::meeting(&nb.index()?.am, id)?.ok_or(DuetError::NotFound {
        kind: "meeting",
        query: id.to_owned(),
    })
}

fn meeting_view(store: &Store, nb: &mut Notebook, id: &str) -> Result<MeetingView, DuetError> {
    let index = nb.index_view(store)?;
    let summary = index
        .meetings
        .iter()
        .find(|m| m.id == id)
        .ok_or(DuetError::NotFound {
            kind: "meeting",
            query: id.to_owned(),
        })?;
    Among::new(store, nb, &index)?.view(store, nb, summary)
}

/// What each meeting's view among the notebook's needs besides its own parts: the index,
/// how carried items count, and the current meeting, read once for a view over many.
struct Among<'a> {
    index: &'a IndexView,
    carries: Carries<'a>,
    current: Option<String>,
}

impl<'a> Among<'a> {
    fn new(store: &Store, nb: &mut Notebook, index: &'a IndexView) -> Result<Self, DuetError> {
        Ok(Among {
            index,
            carries: Carries::new(&index.meetings),
            current: nb.current_meeting(store)?.map(|m| m.id),
        })
    }

    /// [`meeting_view`] of one of the index's meetings.
    fn view(
        &self,
        store: &Store,
        nb: &mut Notebook,
        summary: &MeetingSummary,
    ) -> Result<MeetingView, DuetError> {
        let parts = nb.meeting_parts(store, &summary.id)?;
        let mut agenda = parts.agenda;
        if self.current.as_deref() == Some(summary.id.as_str()) {
            agenda = with_carried(agenda, self.index.carried.clone());
        }
        self.carries.count(summary, &mut agenda);
        Ok(MeetingView {
            summary: summary.clone(),
            agenda,
            sections: parts.sections,
            commitments: parts.commitments,
        })
    }

    /// [`Self::view`], or `None` for a meeting whose document has not arrived here yet.
    fn view_if_here(
        &self,
        store: &Store,
        nb: &mut Notebook,
        summary: &MeetingSummary,
    ) -> Result<Option<MeetingView>, DuetError> {
        match self.view(store, nb, summary) {
            Ok(view) => Ok(Some(view)),
            Err(DuetError::MeetingNotHere { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A meeting's own agenda with the carried items after it. An item in both (an older
/// device copied it while this one carried it) shows once: the meeting's copy, with the
/// other text beside it when they differ.
fn with_carried(mut agenda: Vec<AgendaItem>, carried: Vec<AgendaItem>) -> Vec<AgendaItem> {
    let own: HashMap<String, usize> = agenda
        .iter()
        .enumerate()
        .map(|(at, i)| (i.id.clone(), at))
        .collect();
    for c in carried {
        match own.get(&c.id) {
            Some(&at) => {
                let own = &mut agenda[at];
                if c.text != own.text && !own.also.contains(&c.text) {
                    own.also.push(c.text);
                }
            }
            None => agenda.push(c),
        }
    }
    agenda
}

/// How many meetings ended with an item undiscussed: the meetings held or canceled from the
/// one it was carried from up to the one shown. Built once from the index's meetings, so
/// counting is a lookup and two binary searches per item, not a walk over every meeting.
struct Carries<'a> {
    /// Each meeting's date, by id.
    dates: HashMap<&'a str, &'a str>,
    /// The dates of the meetings that ended (held or canceled), sorted.
    ended: Vec<&'a str>,
}

impl<'a> Carries<'a> {
    fn new(meetings: &'a [MeetingSummary]) -> Self {
        let ended =
            |m: &MeetingSummary| matches!(m.status, MeetingStatus::Held | MeetingStatus::Canceled);
        let mut ended_dates: Vec<&str> = meetings
            .iter()
            .filter(|m| ended(m))
            .map(|m| m.date.as_str())
            .collect();
        ended_dates.sort_unstable();
        Carries {
            dates: meetings
                .iter()
                .map(|m| (m.id.as_str(), m.date.as_str()))
                .collect(),
            ended: ended_dates,
        }
    }

    /// Fills in each carried item's count, as of the meeting `shown`.
    fn count(&self, shown: &MeetingSummary, agenda: &mut [AgendaItem]) {
        let shown_ended = matches!(shown.status, MeetingStatus::Held | MeetingStatus::Canceled);
        for item in agenda {
            let Some(from) = item.carried_from.as_deref().and_then(|f| self.dates.get(f)) else {
                continue;
            };
            // Ended meetings dated from `from` to `shown.date`, the shown one left out.
            let first = self.ended.partition_point(|d| d < from);
            let past = self.ended.partition_point(|d| *d <= shown.date.as_str());
            let mut ended = past.saturating_sub(first);
            if shown_ended && *from <= shown.date.as_str() {
                ended = ended.saturating_sub(1);
            }
            item.carried = u32::try_from(ended.max(1)).unwrap_or(u32::MAX);
        }
    }
}

fn resolve_meeting(
    store: &Store,
    nb: &mut Notebook,
    query: Option<&str>,
) -> Result<String, DuetError> {
    match query {
        None => nb
            .current_meeting(store)?
            .map(|m| m.id)
            .ok_or(DuetError::NoCurrentMeeting),
        Some(q) => {
            let meetings = nb.index_view(store)?.meetings.clone();
            if let Ok(date) = q.parse::<Date>() {
                let on: Vec<&MeetingSummary> = meetings
                    .iter()
                    .filter(|m| m.date == date.to_string())
                    .collect();
                if let [one] = on.as_slice() {
                    return Ok(one.id.clone());
                }
            }
            resolve_id("meeting", q, meetings.iter().map(|m| m.id.as_str()))
        }
    }
}

fn resolve_id<'a>(
    kind: &'static str,
    query: &str,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<String, DuetError> {
    match ids::resolve_prefix(query, ids) {
        PrefixMatch::One(id) => Ok(id),
        PrefixMatch::None => Err(DuetError::NotFound {
            kind,
            query: query.to_owned(),
        }),
        PrefixMatch::Many(candidates) => Err(DuetError::Ambiguous {
            kind,
            query: query.to_owned(),
            candidates,
        }),
    }
}

fn next_date(nb: &mut Notebook) -> Result<Date, DuetError> {
    let every = index::cadence(&nb.index()?.am)?.every_days;
    let last = index::meetings(&nb.index()?.am)?
        .into_iter()
        .filter(|m| m.status != MeetingStatus::Canceled)
        .filter_map(|m| m.date.parse::<Date>().ok())
        .max();
    let today = crate::dates::today();
    match last {
        Some(d) => d
            .checked_add(i64::from(every).days())
            .map(|d| d.max(today))
            .map_err(|e| DuetError::Invalid(format!("next meeting date: {e}"))),
        None => Ok(today),
    }
}

fn parse_stored_date(s: &str) -> Result<Date, DuetError> {
    s.parse::<Date>()
        .map_err(|_| DuetError::Invalid(format!("stored meeting date {s:?} is not a date")))
}

fn check_cadence(c: Cadence) -> Result<(), DuetError> {
    if !(1..=366).contains(&c.every_days) || !(5..=480).contains(&c.minutes) {
        return Err(DuetError::Invalid(format!(
            "cadence must be every 1-366 days for 5-480 minutes (got every {} days, {} minutes)",
            c.every_days, c.minutes
        )));
    }
    Ok(())
}

/// Trims text a person typed and refuses empty or oversized input.
fn clean_text(text: &str, what: &str) -> Result<String, DuetError> {
    /// A note longer than this is almost certainly a mistake (a file piped in by accident).
    const MAX_TEXT_BYTES: usize = 64 * 1024;
    let t = text.trim();
    if t.is_empty() {
        return Err(DuetError::Invalid(format!("the {what} is empty")));
    }
    if t.len() > MAX_TEXT_BYTES {
        return Err(DuetError::Invalid(format!(
            "the {what} is {} bytes; the limit is {MAX_TEXT_BYTES}",
            t.len()
        )));
    }
    Ok(t.to_owned())
}
