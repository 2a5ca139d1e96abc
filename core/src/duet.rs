//! The façade the CLI and the mobile core call: open a home, manage notebooks, edit the
//! current meeting, read views, and exchange changes offline.
//!
//! Every editing method loads only what it needs, applies the edit, and returns only after
//! the change is flushed to disk. Each `Duet` writes with a fresh Automerge actor id, so a
//! crash that lost an unflushed tail can never make this device repeat an (actor, seq) pair.

use crate::bundle::{Bundle, BundleDoc};
use crate::crypto::{DeviceKey, NotebookSecret};
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
use crate::notebook::{Doc, Notebook};
use crate::store::{NotebookRecord, Store};
use automerge::ActorId;
use jiff::civil::Date;
use jiff::ToSpan;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::path::{Path, PathBuf};

pub(crate) const META_DEVICE_KEY: &str = "device_key";
pub(crate) const META_NAME: &str = "name";
pub(crate) const META_CURRENT: &str = "current_notebook";
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// This device's person.
    Me,
    /// The other person.
    Them,
    /// A person by (a prefix of) name or id.
    Named(String),
}

/// Where an agenda item moves.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

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
}

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

    /// Makes this device's identity in `home`.
    pub fn init(home: &Path, name: &str) -> Result<Duet, DuetError> {
        let name = clean_text(name, "name")?;
        let store = Store::open(home)?;
        if let Some(existing) = store.meta(META_NAME)? {
            return Err(DuetError::AlreadyInitialized {
                home: home.to_owned(),
                name: String::from_utf8_lossy(&existing).into_owned(),
            });
        }
        let device = DeviceKey::generate();
        store.set_meta(META_DEVICE_KEY, &device.to_bytes())?;
        store.set_meta(META_NAME, name.as_bytes())?;
        store.flush()?;
        Ok(Duet {
            store,
            device,
            name,
            actor: ActorId::random(),
            selected: None,
            cache: RefCell::new(None),
        })
    }

    /// Opens the home of an initialised device.
    pub fn open(home: &Path) -> Result<Duet, DuetError> {
        let store = Store::open(home)?;
        let (Some(key), Some(name)) = (store.meta(META_DEVICE_KEY)?, store.meta(META_NAME)?) else {
            return Err(DuetError::NotInitialized {
                home: home.to_owned(),
            });
        };
        let device = DeviceKey::from_bytes(&key).map_err(|e| {
            DuetError::Store(crate::store::StoreError::Corrupt {
                what: format!("device key: {e}"),
            })
        })?;
        Ok(Duet {
            store,
            device,
            name: String::from_utf8_lossy(&name).into_owned(),
            actor: ActorId::random(),
            selected: None,
            cache: RefCell::new(None),
        })
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

    /// Works on the notebook named by this id prefix or title instead of the current one.
    pub fn select(&mut self, notebook: &str) -> Result<(), DuetError> {
        let id = self.resolve_notebook(notebook)?;
        self.selected = Some(id);
        Ok(())
    }

    // ---- notebooks ----------------------------------------------------------------------

    /// Creates a notebook for this person (as `me`) and another (`with`), with its first
    /// meeting on `first`, and makes it current.
    pub fn notebook_new(
        &mut self,
        title: &str,
        me: Role,
        with: &str,
        cadence: Cadence,
        first: Date,
    ) -> Result<NotebookView, DuetError> {
        let title = clean_text(title, "title")?;
        let with = clean_text(with, "name")?;
        check_cadence(cadence)?;
        let secret = NotebookSecret::generate();
        let id = secret.notebook_id();
        let my_id = ids::new_id();
        let device = self.device.public_hex();
        let mut nb = Notebook::fresh(&self.store, &id, &self.actor);
        index::create(
            &mut nb.index()?.am,
            &NewNotebook {
                title: &title,
                people: [
                    Person {
                        id: my_id.clone(),
                        name: self.name.clone(),
                        role: me,
                    },
                    Person {
                        id: ids::new_id(),
                        name: with,
                        role: me.other(),
                    },
                ],
                device: (&device, &my_id),
                cadence,
            },
        )?;
        let mut open = Doc::fresh(&self.actor);
        commitments::create(&mut open.am)?;
        nb.commitments = Some(open);
        nb.create_meeting(&ids::new_id(), &first.to_string())?;
        self.store.put_notebook(&NotebookRecord {
            id: id.clone(),
            secret_hex: data_encoding::HEXLOWER.encode(secret.as_bytes()),
            title,
        })?;
        self.store.set_meta(META_CURRENT, id.as_bytes())?;
        nb.persist(&mut self.store)?;
        self.selected = Some(id);
        self.notebook()
    }

    /// Every notebook of this home.
    pub fn notebooks(&self) -> Result<Vec<NotebookView>, DuetError> {
        let current = self.current_id().ok();
        let mut out = Vec::new();
        for record in self.store.notebooks()? {
            let mut nb = Notebook::load(&self.store, &record.id, &self.actor)?;
            out.push(self.view_of(&mut nb, current.as_deref() == Some(record.id.as_str()))?);
        }
        out.sort_by(|a, b| a.title.cmp(&b.title).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Makes a notebook (by id prefix or title) the current one.
    pub fn use_notebook(&mut self, notebook: &str) -> Result<NotebookView, DuetError> {
        let id = self.resolve_notebook(notebook)?;
        self.store.set_meta(META_CURRENT, id.as_bytes())?;
        self.store.flush()?;
        self.selected = Some(id);
        self.notebook()
    }

    /// The selected notebook.
    pub fn notebook(&self) -> Result<NotebookView, DuetError> {
        let mut nb = self.load()?;
        let is_current = self.current_id().ok().as_deref() == Some(nb.id.as_str());
        self.view_of(&mut nb, is_current)
    }

    /// Renames the selected notebook.
    pub fn rename(&mut self, title: &str) -> Result<NotebookView, DuetError> {
        let title = clean_text(title, "title")?;
        let mut nb = self.load()?;
        index::set_title(&mut nb.index()?.am, &title)?;
        self.save(&mut nb)?;
        self.notebook()
    }

    /// Changes how often the pair meets.
    pub fn set_cadence(&mut self, cadence: Cadence) -> Result<NotebookView, DuetError> {
        check_cadence(cadence)?;
        let mut nb = self.load()?;
        index::set_cadence(&mut nb.index()?.am, cadence)?;
        self.save(&mut nb)?;
        self.notebook()
    }

    // ---- meetings -----------------------------------------------------------------------

    /// Puts a meeting on the books: on `date`, or one cadence after the last meeting.
    pub fn meeting_new(&mut self, date: Option<Date>) -> Result<MeetingSummary, DuetError> {
        let mut nb = self.load()?;
        let date = match date {
            Some(d) => d,
            None => next_date(&mut nb)?,
        };
        let id = ids::new_id();
        nb.create_meeting(&id, &date.to_string())?;
        self.save(&mut nb)?;
        summary(&mut nb, &id)
    }

    /// Every meeting, by date.
    pub fn meetings(&self) -> Result<Vec<MeetingSummary>, DuetError> {
        Ok(index::meetings(&self.load()?.index()?.am)?)
    }

    /// One meeting in full: by id prefix, or the current one.
    pub fn meeting(&self, id: Option<&str>) -> Result<MeetingView, DuetError> {
        let mut nb = self.load()?;
        let id = resolve_meeting(&self.store, &mut nb, id)?;
        let view = meeting_view(&mut nb, &id)?;
        self.keep(nb);
        Ok(view)
    }

    /// Cancels a meeting; its undiscussed agenda items move to the next one.
    pub fn cancel(&mut self, id: Option<&str>) -> Result<WrapOutcome, DuetError> {
        let mut nb = self.load()?;
        let id = resolve_meeting(&self.store, &mut nb, id)?;
        index::set_meeting_status(&mut nb.index()?.am, &id, MeetingStatus::Canceled)?;
        let outcome = self.close_meeting(&mut nb, &id)?;
        self.save(&mut nb)?;
        Ok(outcome)
    }

    /// Moves a meeting to another date.
    pub fn reschedule(
        &mut self,
        id: Option<&str>,
        date: Date,
    ) -> Result<MeetingSummary, DuetError> {
        let mut nb = self.load()?;
        let id = resolve_meeting(&self.store, &mut nb, id)?;
        index::set_meeting_date(&mut nb.index()?.am, &id, &date.to_string())?;
        index::set_meeting_status(&mut nb.index()?.am, &id, MeetingStatus::Rescheduled)?;
        self.save(&mut nb)?;
        summary(&mut nb, &id)
    }

    /// Appends a paragraph to a section of a meeting (the current one by default).
    pub fn note(
        &mut self,
        section: Section,
        text: &str,
        meeting_id: Option<&str>,
    ) -> Result<String, DuetError> {
        let text = clean_text(text, "note")?;
        let mut nb = self.load()?;
        let id = resolve_meeting(&self.store, &mut nb, meeting_id)?;
        meeting::append(&mut nb.meeting(&id)?.am, section, &text)?;
        self.save(&mut nb)?;
        self.keep(nb);
        Ok(id)
    }

    /// Ends a meeting with clarity: the close, status held, carry-over, and the next meeting
    /// on the books from the cadence unless one is already there.
    pub fn wrap(
        &mut self,
        id: Option<&str>,
        takeaway: Option<&str>,
        next_steps: Option<&str>,
        needs: Option<&str>,
    ) -> Result<WrapOutcome, DuetError> {
        let mut nb = self.load()?;
        let id = resolve_meeting(&self.store, &mut nb, id)?;
        {
            let doc = &mut nb.meeting(&id)?.am;
            for (section, text) in [
                (Section::Takeaway, takeaway),
                (Section::NextSteps, next_steps),
                (Section::Needs, needs),
            ] {
                if let Some(text) = text {
                    meeting::append(doc, section, &clean_text(text, section.key())?)?;
                }
            }
        }
        index::set_meeting_status(&mut nb.index()?.am, &id, MeetingStatus::Held)?;
        let outcome = self.close_meeting(&mut nb, &id)?;
        self.save(&mut nb)?;
        Ok(outcome)
    }

    /// After a meeting is held or canceled: find or make the next meeting and carry the
    /// undiscussed items there.
    fn close_meeting(&mut self, nb: &mut Notebook, id: &str) -> Result<WrapOutcome, DuetError> {
        let (next_id, created) = match nb.current_meeting(&self.store)? {
            Some(m) if m.id != id => (m.id, false),
            _ => {
                let this = summary(nb, id)?;
                let every = index::cadence(&nb.index()?.am)?.every_days;
                let base = parse_stored_date(&this.date)?.max(crate::dates::today());
                let date = base
                    .checked_add(i64::from(every).days())
                    .map_err(|e| DuetError::Invalid(format!("next meeting date: {e}")))?;
                let new_id = ids::new_id();
                nb.create_meeting(&new_id, &date.to_string())?;
                (new_id, true)
            }
        };
        let carried = carry_over(nb, id, &next_id)?;
        Ok(WrapOutcome {
            held: summary(nb, id)?,
            next: summary(nb, &next_id)?,
            next_created: created,
            carried,
        })
    }

    // ---- agenda -------------------------------------------------------------------------

    /// Adds an agenda item to a meeting (the current one) or to the backlog.
    pub fn agenda_add(
        &mut self,
        text: &str,
        backlog: bool,
        meeting_id: Option<&str>,
    ) -> Result<AgendaItem, DuetError> {
        let text = clean_text(text, "agenda item")?;
        let mut nb = self.load()?;
        let author = self.me(&mut nb)?;
        let id = ids::new_id();
        let now = now_millis();
        let new = NewItem {
            id: &id,
            text: &text,
            author: &author,
            added_at: now,
            position: now as f64,
            carried_from: None,
            discussed: false,
        };
        let item = if backlog {
            index::add_backlog(&mut nb.index()?.am, &new)?;
            let index = &nb.index()?.am;
            item::get(index, &index::backlog_obj(index)?, &id)?
        } else {
            let mid = resolve_meeting(&self.store, &mut nb, meeting_id)?;
            let doc = &mut nb.meeting(&mid)?.am;
            meeting::add_item(doc, &new)?;
            item::get(doc, &meeting::agenda_obj(doc)?, &id)?
        };
        self.save(&mut nb)?;
        self.keep(nb);
        item.ok_or_else(|| DuetError::NotFound {
            kind: "agenda item",
            query: id,
        })
    }

    /// The agenda of a meeting (the current one) and the backlog.
    pub fn agenda(
        &self,
        meeting_id: Option<&str>,
    ) -> Result<(Option<MeetingView>, Vec<AgendaItem>), DuetError> {
        let mut nb = self.load()?;
        let backlog = index::backlog(&nb.index()?.am)?;
        let meeting = match resolve_meeting(&self.store, &mut nb, meeting_id) {
            Ok(id) => Some(meeting_view(&mut nb, &id)?),
            Err(DuetError::NoCurrentMeeting) => None,
            Err(e) => return Err(e),
        };
        Ok((meeting, backlog))
    }

    /// Marks an agenda item (of the meeting, or the backlog) discussed.
    pub fn agenda_done(
        &mut self,
        item_id: &str,
        meeting_id: Option<&str>,
    ) -> Result<AgendaItem, DuetError> {
        self.edit_item(item_id, meeting_id, |doc, items, id| {
            item::set_discussed(doc, items, id, true)
        })
    }

    /// Applies `edit` to the live agenda item `item_id` (of the meeting, or the backlog) and
    /// returns it as it is then.
    fn edit_item(
        &mut self,
        item_id: &str,
        meeting_id: Option<&str>,
        edit: impl FnOnce(
            &mut automerge::AutoCommit,
            &automerge::ObjId,
            &str,
        ) -> Result<(), crate::model::ModelError>,
    ) -> Result<AgendaItem, DuetError> {
        let mut nb = self.load()?;
        let (place, id) = self.find_item(&mut nb, item_id, meeting_id)?;
        let doc = match &place {
            ItemPlace::Backlog => &mut nb.index()?.am,
            ItemPlace::Meeting(m) => &mut nb.meeting(m)?.am,
        };
        let items = items_obj(doc, &place)?;
        edit(doc, &items, &id)?;
        let item = item::get(doc, &items, &id)?;
        self.save(&mut nb)?;
        self.keep(nb);
        item.ok_or_else(|| DuetError::NotFound {
            kind: "agenda item",
            query: id,
        })
    }

    /// Rewrites an agenda item's text (a minimal diff, so concurrent typing still merges).
    pub fn agenda_edit(
        &mut self,
        item_id: &str,
        text: &str,
        meeting_id: Option<&str>,
    ) -> Result<AgendaItem, DuetError> {
        let text = clean_text(text, "agenda item")?;
        self.edit_item(item_id, meeting_id, |doc, items, id| {
            item::set_text(doc, items, id, &text)
        })
    }

    /// Moves an agenda item to the backlog, the next meeting, or a named meeting.
    pub fn agenda_move(
        &mut self,
        item_id: &str,
        to: &MoveTarget,
        meeting_id: Option<&str>,
    ) -> Result<(AgendaItem, String), DuetError> {
        let mut nb = self.load()?;
        let (from, id) = self.find_item(&mut nb, item_id, meeting_id)?;
        let to_place = match to {
            MoveTarget::Backlog => ItemPlace::Backlog,
            MoveTarget::Meeting(m) => {
                ItemPlace::Meeting(resolve_meeting(&self.store, &mut nb, Some(m))?)
            }
            MoveTarget::Next => {
                let after = match &from {
                    ItemPlace::Meeting(m) => Some(m.clone()),
                    ItemPlace::Backlog => None,
                };
                let next = index::meetings(&nb.index()?.am)?
                    .into_iter()
                    .find(|m| m.status.is_upcoming() && Some(&m.id) != after.as_ref())
                    .ok_or(DuetError::NoCurrentMeeting)?;
                ItemPlace::Meeting(next.id)
            }
        };
        if to_place == from {
            return Err(DuetError::Invalid(format!(
                "agenda item {id} is already there"
            )));
        }
        move_item(&mut nb, &id, &from, &to_place)?;
        let doc = match &to_place {
            ItemPlace::Backlog => &nb.index()?.am,
            ItemPlace::Meeting(m) => &nb.meeting(m)?.am,
        };
        let item = item::get(doc, &items_obj(doc, &to_place)?, &id)?;
        self.save(&mut nb)?;
        let item = item.ok_or_else(|| DuetError::NotFound {
            kind: "agenda item",
            query: id,
        })?;
        Ok((item, to_place.name().to_owned()))
    }

    fn find_item(
        &self,
        nb: &mut Notebook,
        query: &str,
        meeting_id: Option<&str>,
    ) -> Result<(ItemPlace, String), DuetError> {
        let mut candidates: Vec<(ItemPlace, String)> = index::backlog(&nb.index()?.am)?
            .into_iter()
            .map(|i| (ItemPlace::Backlog, i.id))
            .collect();
        match resolve_meeting(&self.store, nb, meeting_id) {
            Ok(mid) => {
                let doc = &nb.meeting(&mid)?.am;
                candidates.extend(
                    meeting::agenda(doc)?
                        .into_iter()
                        .map(|i| (ItemPlace::Meeting(mid.clone()), i.id)),
                );
            }
            Err(DuetError::NoCurrentMeeting) => {}
            Err(e) => return Err(e),
        }
        let id = resolve_id(
            "agenda item",
            query,
            candidates.iter().map(|(_, id)| id.as_str()),
        )?;
        candidates
            .into_iter()
            .find(|(_, cid)| *cid == id)
            .ok_or(DuetError::NotFound {
                kind: "agenda item",
                query: query.to_owned(),
            })
    }

    // ---- commitments --------------------------------------------------------------------

    /// Records a commitment made in a meeting (the current one, else the latest).
    pub fn commit_add(
        &mut self,
        text: &str,
        owner: &Owner,
        due: Option<Date>,
        meeting_id: Option<&str>,
    ) -> Result<Commitment, DuetError> {
        let text = clean_text(text, "commitment")?;
        let mut nb = self.load()?;
        let owner = self.resolve_owner(&mut nb, owner)?;
        let mid = match resolve_meeting(&self.store, &mut nb, meeting_id) {
            Ok(id) => id,
            Err(DuetError::NoCurrentMeeting) => index::meetings(&nb.index()?.am)?
                .pop()
                .map(|m| m.id)
                .ok_or(DuetError::NoCurrentMeeting)?,
            Err(e) => return Err(e),
        };
        let id = ids::new_id();
        let due = due.map(|d| d.to_string());
        let doc = &mut nb.meeting(&mid)?.am;
        meeting::add_commitment(
            doc,
            &NewCommitment {
                id: &id,
                text: &text,
                owner: &owner,
                due: due.as_deref(),
                made_in: &mid,
            },
        )?;
        let made = meeting::commitment(doc, &id)?;
        commitments::add_open(&mut nb.commitments()?.am, &id, &mid)?;
        self.save(&mut nb)?;
        made.ok_or(DuetError::NotFound {
            kind: "commitment",
            query: id,
        })
    }

    /// Closes an open commitment as done or dropped.
    pub fn commit_close(
        &mut self,
        query: &str,
        status: CommitmentStatus,
    ) -> Result<Commitment, DuetError> {
        let mut nb = self.load()?;
        let open = commitments::open(&nb.commitments()?.am)?;
        let id = resolve_id(
            "open commitment",
            query,
            open.iter().map(|(id, _)| id.as_str()),
        )?;
        let made_in = open
            .iter()
            .find(|(cid, _)| *cid == id)
            .map(|(_, m)| m.clone())
            .ok_or(DuetError::NotFound {
                kind: "commitment",
                query: query.to_owned(),
            })?;
        let doc = &mut nb.meeting(&made_in)?.am;
        meeting::set_commitment_status(doc, &id, status, now_millis())?;
        let closed = meeting::commitment(doc, &id)?;
        if status != CommitmentStatus::Open {
            commitments::remove_open(&mut nb.commitments()?.am, &id)?;
        }
        self.save(&mut nb)?;
        closed.ok_or(DuetError::NotFound {
            kind: "commitment",
            query: id,
        })
    }

    /// Commitments: the open ones (cheap), or every one ever made (loads every meeting).
    pub fn commitments(&self, open_only: bool) -> Result<Vec<Commitment>, DuetError> {
        let mut nb = self.load()?;
        if open_only {
            return open_commitments(&mut nb);
        }
        let mut out = Vec::new();
        for m in index::meetings(&nb.index()?.am)? {
            match nb.meeting(&m.id) {
                Ok(doc) => out.extend(meeting::commitments(&doc.am)?),
                Err(DuetError::MeetingNotHere { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    // ---- views --------------------------------------------------------------------------

    /// The current meeting and everything still open.
    pub fn overview(&self) -> Result<Overview, DuetError> {
        let mut nb = self.load()?;
        let notebook = self.view_of(&mut nb, true)?;
        let meeting = match nb.current_meeting(&self.store)? {
            Some(m) => Some(meeting_view(&mut nb, &m.id)?),
            None => None,
        };
        let overview = Overview {
            notebook,
            open_commitments: open_commitments(&mut nb)?,
            backlog: index::backlog(&nb.index()?.am)?,
            meeting,
        };
        self.keep(nb);
        Ok(overview)
    }

    /// Every meeting in full, by date (loads the whole history).
    pub fn history(&self) -> Result<Vec<MeetingView>, DuetError> {
        let mut nb = self.load()?;
        let mut out = Vec::new();
        for m in index::meetings(&nb.index()?.am)? {
            match meeting_view(&mut nb, &m.id) {
                Ok(v) => out.push(v),
                Err(DuetError::MeetingNotHere { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    // ---- exchange -----------------------------------------------------------------------

    /// Writes every document of the selected notebook as standard `.automerge` files plus a
    /// manifest into `dir`.
    pub fn export_automerge(&self, dir: &Path) -> Result<ExportManifest, DuetError> {
        let mut nb = self.load()?;
        std::fs::create_dir_all(dir).map_err(|e| DuetError::io("creating", dir, e))?;
        let mut documents = Vec::new();
        for id in nb.all_doc_ids()? {
            let (kind, file) = match id.as_str() {
                INDEX_DOC => ("index", "index.automerge".to_owned()),
                COMMITMENTS_DOC => ("commitments", "commitments.automerge".to_owned()),
                _ => ("meeting", format!("meeting-{id}.automerge")),
            };
            let bytes = nb.doc(&id)?.am.save();
            write_atomically(&dir.join(&file), &bytes)?;
            documents.push(ExportedDoc {
                id,
                kind: kind.into(),
                file,
            });
        }
        let manifest = ExportManifest {
            format: MANIFEST_FORMAT.into(),
            version: 1,
            notebook_id: nb.id.clone(),
            title: index::title(&nb.index()?.am)?,
            documents,
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| DuetError::Invalid(format!("manifest: {e}")))?;
        write_atomically(&dir.join(MANIFEST_FILE), &json)?;
        Ok(manifest)
    }

    /// Merges an Automerge export folder (possibly edited by another Automerge
    /// implementation) into the notebook it belongs to.
    pub fn import_automerge(&mut self, dir: &Path) -> Result<MergeReport, DuetError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let raw = std::fs::read(&manifest_path)
            .map_err(|e| DuetError::io("reading", &manifest_path, e))?;
        let manifest: ExportManifest = serde_json::from_slice(&raw).map_err(|e| {
            DuetError::BadImport(format!(
                "{} is not a Duet export manifest: {e}",
                manifest_path.display()
            ))
        })?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(DuetError::BadImport(format!(
                "{} is not a Duet export manifest",
                manifest_path.display()
            )));
        }
        if !self
            .store
            .notebooks()?
            .iter()
            .any(|r| r.id == manifest.notebook_id)
        {
            return Err(DuetError::UnknownNotebook {
                title: manifest.title,
                id: manifest.notebook_id,
                hint: "an export carries no secret, so join the notebook first with a bundle (duet bundle in FILE --join --as manager|report)",
            });
        }
        let mut docs = Vec::new();
        for d in &manifest.documents {
            if d.file.contains(['/', '\\']) || d.file.starts_with('.') {
                return Err(DuetError::BadImport(format!(
                    "manifest names a file outside the folder: {:?}",
                    d.file
                )));
            }
            let path = dir.join(&d.file);
            let bytes = std::fs::read(&path).map_err(|e| DuetError::io("reading", &path, e))?;
            docs.push(BundleDoc {
                id: d.id.clone(),
                bytes,
            });
        }
        self.merge_docs(&manifest.notebook_id, docs, false)
    }

    /// Writes the selected notebook as one bundle file.
    pub fn bundle_out(&self, path: &Path) -> Result<usize, DuetError> {
        let mut nb = self.load()?;
        let record = self.record(&nb.id)?;
        let mut docs = Vec::new();
        for id in nb.all_doc_ids()? {
            let bytes = nb.doc(&id)?.am.save();
            docs.push(BundleDoc { id, bytes });
        }
        let bundle = Bundle {
            notebook_id: nb.id.clone(),
            secret: data_encoding::HEXLOWER
                .decode(record.secret_hex.as_bytes())
                .map_err(|_| {
                    DuetError::Store(crate::store::StoreError::Corrupt {
                        what: format!("secret of notebook {}", nb.id),
                    })
                })?,
            title: index::title(&nb.index()?.am)?,
            docs,
        };
        let bytes = bundle.encode();
        write_atomically(path, &bytes)?;
        Ok(bytes.len())
    }

    /// Merges a bundle file. A bundle for a notebook this home lacks is refused unless
    /// `join` says who this device is in it.
    pub fn bundle_in(
        &mut self,
        path: &Path,
        join: Option<JoinAs>,
    ) -> Result<MergeReport, DuetError> {
        let bytes = std::fs::read(path).map_err(|e| DuetError::io("reading", path, e))?;
        let bundle = Bundle::decode(&bytes)?;
        let secret = NotebookSecret::from_bytes(&bundle.secret)
            .map_err(|_| DuetError::Bundle(crate::bundle::BundleError::Damaged))?;
        if secret.notebook_id() != bundle.notebook_id {
            return Err(DuetError::Bundle(crate::bundle::BundleError::Damaged));
        }
        let known = self
            .store
            .notebooks()?
            .iter()
            .any(|r| r.id == bundle.notebook_id);
        if known {
            return self.merge_docs(&bundle.notebook_id, bundle.docs, false);
        }
        let Some(JoinAs::Role(role)) = join else {
            return Err(DuetError::UnknownNotebook {
                title: bundle.title,
                id: bundle.notebook_id,
                hint: "to add it here, run the same command with --join --as manager|report",
            });
        };
        self.join_from_docs(&secret, &bundle.title, bundle.docs, role)
    }

    fn join_from_docs(
        &mut self,
        secret: &NotebookSecret,
        title: &str,
        docs: Vec<BundleDoc>,
        role: Role,
    ) -> Result<MergeReport, DuetError> {
        let id = secret.notebook_id();
        let Some(index_doc) = docs.iter().find(|d| d.id == INDEX_DOC) else {
            return Err(DuetError::BadImport(
                "the file has no index document".into(),
            ));
        };
        let index = Doc::from_bytes(&index_doc.bytes, &self.actor)?;
        index::validate(&index.am)?;
        let person = index::people(&index.am)?
            .into_iter()
            .find(|p| p.role == role)
            .ok_or_else(|| DuetError::Invalid(format!("the notebook has no {role}")))?;
        self.store.put_notebook(&NotebookRecord {
            id: id.clone(),
            secret_hex: data_encoding::HEXLOWER.encode(secret.as_bytes()),
            title: title.to_owned(),
        })?;
        let mut report = self.merge_docs(&id, docs, true)?;
        let mut nb = Notebook::load(&self.store, &id, &self.actor)?;
        index::add_device(&mut nb.index()?.am, &self.device.public_hex(), &person.id)?;
        self.store.set_meta(META_CURRENT, id.as_bytes())?;
        nb.persist(&mut self.store)?;
        self.selected = Some(id);
        report.joined = true;
        Ok(report)
    }

    fn merge_docs(
        &mut self,
        notebook: &str,
        docs: Vec<BundleDoc>,
        joining: bool,
    ) -> Result<MergeReport, DuetError> {
        // The merge writes behind any cached copy: drop it.
        self.cache.borrow_mut().take();
        // Parse and check everything before changing anything.
        let mut incoming = Vec::new();
        for d in docs {
            let doc = Doc::from_bytes(&d.bytes, &self.actor).map_err(|e| {
                DuetError::BadImport(format!("document {} does not load: {e}", d.id))
            })?;
            if d.id == INDEX_DOC {
                index::validate(&doc.am)?;
            } else if d.id == COMMITMENTS_DOC {
                commitments::validate(&doc.am)?;
            } else {
                let mid = meeting::validate(&doc.am)?;
                if mid != d.id || d.id.is_empty() || d.id.contains('\0') {
                    return Err(DuetError::BadImport(format!(
                        "document {} claims to be meeting {mid}",
                        d.id
                    )));
                }
            }
            incoming.push((d.id, doc));
        }
        let mut nb = if joining {
            let pos = incoming.iter().position(|(id, _)| id == INDEX_DOC);
            let Some(pos) = pos else {
                return Err(DuetError::BadImport(
                    "the file has no index document".into(),
                ));
            };
            let (_, index) = incoming.remove(pos);
            let mut nb = Notebook::fresh(&self.store, notebook, &self.actor);
            nb.index()?
                .am
                .merge(&mut { index }.am)
                .map_err(crate::model::ModelError::from)?;
            nb
        } else {
            Notebook::load(&self.store, notebook, &self.actor)?
        };
        let mut report = MergeReport {
            notebook: notebook.to_owned(),
            joined: false,
            changes: 0,
            documents: 0,
            reconciled: 0,
        };
        if joining {
            report.changes += nb.index()?.am.get_changes(&[]).len();
            report.documents += 1;
        }
        for (id, mut doc) in incoming {
            let target = nb.doc_or_empty(&id)?;
            let before = target.am.get_heads();
            target
                .am
                .merge(&mut doc.am)
                .map_err(crate::model::ModelError::from)?;
            if target.am.get_heads() != before {
                report.documents += 1;
                report.changes += target.am.get_changes(&before).len();
            }
        }
        report.reconciled = nb.reconcile_moves()?;
        nb.persist(&mut self.store)?;
        Ok(report)
    }

    // ---- helpers ------------------------------------------------------------------------

    fn current_id(&self) -> Result<String, DuetError> {
        if let Some(id) = &self.selected {
            return Ok(id.clone());
        }
        if let Some(id) = self.store.meta(META_CURRENT)? {
            return Ok(String::from_utf8_lossy(&id).into_owned());
        }
        let mut all = self.store.notebooks()?;
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
        Notebook::load(&self.store, &id, &self.actor)
    }

    /// Keeps a notebook whose state matches the store for the next call.
    fn keep(&self, nb: Notebook) {
        *self.cache.borrow_mut() = Some(nb);
    }

    fn save(&mut self, nb: &mut Notebook) -> Result<(), DuetError> {
        nb.persist(&mut self.store)
    }

    fn record(&self, id: &str) -> Result<NotebookRecord, DuetError> {
        self.store
            .notebooks()?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or(DuetError::NoNotebook)
    }

    fn resolve_notebook(&self, query: &str) -> Result<String, DuetError> {
        let records = self.store.notebooks()?;
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
        Ok(NotebookView {
            id: nb.id.clone(),
            title: index::title(&nb.index()?.am)?,
            people: index::people(&nb.index()?.am)?,
            cadence: index::cadence(&nb.index()?.am)?,
            me: index::device_person(&nb.index()?.am, &self.device.public_hex())?,
            current,
        })
    }

    /// Bytes the store takes on disk.
    pub fn store_size(&self) -> Result<u64, DuetError> {
        Ok(self.store.size_on_disk()?)
    }
}

/// Where an agenda item lives.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ItemPlace {
    Backlog,
    Meeting(String),
}

impl ItemPlace {
    fn name(&self) -> &str {
        match self {
            ItemPlace::Backlog => "backlog",
            ItemPlace::Meeting(m) => m,
        }
    }
}

fn items_obj(
    doc: &automerge::AutoCommit,
    place: &ItemPlace,
) -> Result<automerge::ObjId, DuetError> {
    Ok(match place {
        ItemPlace::Backlog => index::backlog_obj(doc)?,
        ItemPlace::Meeting(_) => meeting::agenda_obj(doc)?,
    })
}

/// Moves one item: a copy under the same id in its new home, the original marked moved.
fn move_item(
    nb: &mut Notebook,
    id: &str,
    from: &ItemPlace,
    to: &ItemPlace,
) -> Result<(), DuetError> {
    let source = match from {
        ItemPlace::Backlog => &mut nb.index()?.am,
        ItemPlace::Meeting(m) => &mut nb.meeting(m)?.am,
    };
    let items = items_obj(source, from)?;
    let original = item::mark_moved(source, &items, id, to.name())?;
    let carried_from = match from {
        ItemPlace::Meeting(m) => Some(m.as_str()),
        ItemPlace::Backlog => original.carried_from.as_deref(),
    };
    let new = NewItem {
        id,
        text: &original.text,
        author: &original.author,
        added_at: original.added_at,
        position: original.added_at as f64,
        carried_from,
        discussed: false,
    };
    match to {
        ItemPlace::Backlog => {
            index::add_backlog(&mut nb.index()?.am, &new)?;
        }
        ItemPlace::Meeting(m) => {
            meeting::add_item(&mut nb.meeting(m)?.am, &new)?;
        }
    }
    Ok(())
}

fn carry_over(nb: &mut Notebook, from: &str, to: &str) -> Result<Vec<String>, DuetError> {
    let pending: Vec<String> = meeting::agenda(&nb.meeting(from)?.am)?
        .into_iter()
        .filter(|i| !i.discussed)
        .map(|i| i.id)
        .collect();
    for id in &pending {
        move_item(
            nb,
            id,
            &ItemPlace::Meeting(from.to_owned()),
            &ItemPlace::Meeting(to.to_owned()),
        )?;
    }
    Ok(pending)
}

fn open_commitments(nb: &mut Notebook) -> Result<Vec<Commitment>, DuetError> {
    let mut out = Vec::new();
    for (id, made_in) in commitments::open(&nb.commitments()?.am)? {
        match nb.meeting(&made_in) {
            Ok(doc) => {
                if let Some(c) = meeting::commitment(&doc.am, &id)? {
                    out.push(c);
                }
            }
            Err(DuetError::MeetingNotHere { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort_by(|a, b| {
        a.due
            .is_none()
            .cmp(&b.due.is_none())
            .then_with(|| a.due.cmp(&b.due))
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(out)
}

fn summary(nb: &mut Notebook, id: &str) -> Result<MeetingSummary, DuetError> {
    index::meeting(&nb.index()?.am, id)?.ok_or(DuetError::NotFound {
        kind: "meeting",
        query: id.to_owned(),
    })
}

fn meeting_view(nb: &mut Notebook, id: &str) -> Result<MeetingView, DuetError> {
    let summary = summary(nb, id)?;
    let doc = &nb.meeting(id)?.am;
    Ok(MeetingView {
        summary,
        agenda: meeting::agenda(doc)?,
        sections: meeting::sections(doc)?,
        commitments: meeting::commitments(doc)?,
    })
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
            let meetings = index::meetings(&nb.index()?.am)?;
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

/// Writes a file via a temporary sibling and a rename, so a crash never leaves half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DuetError> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| DuetError::io("writing", path, e))?;
    tmp.write_all(bytes)
        .map_err(|e| DuetError::io("writing", path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| DuetError::io("writing", path, e))?;
    tmp.persist(path)
        .map_err(|e| DuetError::io("writing", path, e.error))?;
    Ok(())
}
