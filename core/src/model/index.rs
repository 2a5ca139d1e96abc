//! The index document: the small, always-loaded part of a notebook.
//!
//! ```text
//! ROOT { schema, kind: "duet-index", title,
//!        people      { person_id: { name, role } },
//!        devices     { device_pubkey: person_id },
//!        cadence     { every_days, minutes, at?, tz? },
//!        meetings    { meeting_id: { date, status, planned?, minutes?, moved/<id>* } },
//!        backlog     { item_id: agenda item (see `item`): kept for later, or `carried` } }
//! ```
//!
//! Commitments live in the meeting document they were made in; the open ones are listed in
//! the separate open-commitments document (see `commitments`), which keeps this one small.

use super::am;
use super::item::{self, NewItem};
use super::views::{AgendaItem, Cadence, Conflict, MeetingSummary, MeetingTime, Person};
use super::{MeetingStatus, ModelError, Role, SCHEMA_VERSION};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, ROOT};

/// The document id of a notebook's index in the store and in exports.
pub const INDEX_DOC: &str = "index";

/// What a new notebook starts with.
#[derive(Debug, Clone)]
pub struct NewNotebook<'a> {
    /// Title.
    pub title: &'a str,
    /// The two people.
    pub people: [Person; 2],
    /// The creating device's public key and its person id.
    pub device: (&'a str, &'a str),
    /// Meeting rhythm.
    pub cadence: Cadence,
}

/// Writes a new index document. Only the creating device calls this; every other device
/// receives the index by sync, so its top-level maps are never created twice.
pub fn create(doc: &mut AutoCommit, nb: &NewNotebook<'_>) -> Result<(), ModelError> {
    doc.put(ROOT, "schema", SCHEMA_VERSION)?;
    doc.put(ROOT, "kind", "duet-index")?;
    doc.put(ROOT, "title", nb.title)?;
    let people = doc.put_object(ROOT, "people", ObjType::Map)?;
    for p in &nb.people {
        let obj = doc.put_object(&people, p.id.as_str(), ObjType::Map)?;
        doc.put(&obj, "name", p.name.as_str())?;
        doc.put(&obj, "role", p.role.as_str())?;
    }
    let devices = doc.put_object(ROOT, "devices", ObjType::Map)?;
    doc.put(&devices, nb.device.0, nb.device.1)?;
    let cadence = doc.put_object(ROOT, "cadence", ObjType::Map)?;
    doc.put(&cadence, "every_days", i64::from(nb.cadence.every_days))?;
    doc.put(&cadence, "minutes", i64::from(nb.cadence.minutes))?;
    for key in ["meetings", "backlog", "questions"] {
        doc.put_object(ROOT, key, ObjType::Map)?;
    }
    Ok(())
}

/// Checks that a document is a Duet index.
pub fn validate(doc: &AutoCommit) -> Result<(), ModelError> {
    if am::str(doc, &ROOT, "kind")?.as_deref() != Some("duet-index") {
        return Err(ModelError::Schema("not a Duet index document".into()));
    }
    for key in ["people", "devices", "cadence", "meetings", "backlog"] {
        am::required_map(doc, &ROOT, key)?;
    }
    Ok(())
}

/// The notebook's title (concurrent renames: the deterministic winner).
pub fn title(doc: &AutoCommit) -> Result<String, ModelError> {
    Ok(am::str(doc, &ROOT, "title")?.unwrap_or_default())
}

/// Renames the notebook.
pub fn set_title(doc: &mut AutoCommit, title: &str) -> Result<(), ModelError> {
    doc.put(ROOT, "title", title)?;
    Ok(())
}

/// The people, manager first.
pub fn people(doc: &AutoCommit) -> Result<Vec<Person>, ModelError> {
    let map = am::required_map(doc, &ROOT, "people")?;
    let mut out = Vec::new();
    for id in am::keys(doc, &map) {
        let Some(obj) = am::map(doc, &map, &id)? else {
            continue;
        };
        let role = am::str(doc, &obj, "role")?
            .and_then(|r| r.parse::<Role>().ok())
            .unwrap_or(Role::Report);
        out.push(Person {
            name: am::str(doc, &obj, "name")?.unwrap_or_else(|| id.clone()),
            id,
            role,
        });
    }
    out.sort_by_key(|p| (p.role != Role::Manager, p.name.clone()));
    Ok(out)
}

/// The person id a device writes as.
pub fn device_person(doc: &AutoCommit, device: &str) -> Result<Option<String>, ModelError> {
    let devices = am::required_map(doc, &ROOT, "devices")?;
    am::str(doc, &devices, device)
}

/// The device keys registered for each person.
pub fn devices(doc: &AutoCommit) -> Result<Vec<(String, String)>, ModelError> {
    let devices = am::required_map(doc, &ROOT, "devices")?;
    let mut out = Vec::new();
    for key in am::keys(doc, &devices) {
        if let Some(person) = am::str(doc, &devices, &key)? {
            out.push((key, person));
        }
    }
    Ok(out)
}

/// Registers a device as writing for a person.
pub fn add_device(doc: &mut AutoCommit, device: &str, person: &str) -> Result<(), ModelError> {
    let devices = am::required_map(doc, &ROOT, "devices")?;
    doc.put(&devices, device, person)?;
    Ok(())
}

/// The meeting rhythm.
pub fn cadence(doc: &AutoCommit) -> Result<Cadence, ModelError> {
    let obj = am::required_map(doc, &ROOT, "cadence")?;
    let d = Cadence::default();
    let get = |key, default: u32| -> Result<u32, ModelError> {
        Ok(am::int(doc, &obj, key)?
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v > 0)
            .unwrap_or(default))
    };
    Ok(Cadence {
        every_days: get("every_days", d.every_days)?,
        minutes: get("minutes", d.minutes)?,
    })
}

/// Changes the meeting rhythm.
pub fn set_cadence(doc: &mut AutoCommit, cadence: Cadence) -> Result<(), ModelError> {
    let obj = am::required_map(doc, &ROOT, "cadence")?;
    doc.put(&obj, "every_days", i64::from(cadence.every_days))?;
    doc.put(&obj, "minutes", i64::from(cadence.minutes))?;
    Ok(())
}

/// The time of day the pair meets, when one was set: a wall-clock time in a named time
/// zone, so both devices place the meeting at the same instant wherever they are. A value
/// that does not read (written by a newer Duet) counts as none.
pub fn meeting_time(doc: &AutoCommit) -> Result<Option<MeetingTime>, ModelError> {
    let obj = am::required_map(doc, &ROOT, "cadence")?;
    let (Some(at), Some(tz)) = (am::str(doc, &obj, "at")?, am::str(doc, &obj, "tz")?) else {
        return Ok(None);
    };
    Ok(MeetingTime::new(&at, &tz).ok())
}

/// Sets the time of day the pair meets.
pub fn set_meeting_time(doc: &mut AutoCommit, time: &MeetingTime) -> Result<(), ModelError> {
    let obj = am::required_map(doc, &ROOT, "cadence")?;
    doc.put(&obj, "at", time.at.as_str())?;
    doc.put(&obj, "tz", time.tz.as_str())?;
    Ok(())
}

/// Puts a meeting on the books.
pub fn add_meeting(doc: &mut AutoCommit, id: &str, date: &str) -> Result<(), ModelError> {
    let meetings = am::required_map(doc, &ROOT, "meetings")?;
    let obj = doc.put_object(&meetings, id, ObjType::Map)?;
    doc.put(&obj, "date", date)?;
    doc.put(&obj, "status", MeetingStatus::Scheduled.as_str())?;
    Ok(())
}

fn meeting_obj(doc: &AutoCommit, id: &str) -> Result<ObjId, ModelError> {
    let meetings = am::required_map(doc, &ROOT, "meetings")?;
    am::map(doc, &meetings, id)?.ok_or_else(|| ModelError::Missing {
        kind: "meeting",
        id: id.to_owned(),
    })
}

/// Sets a meeting's date.
pub fn set_meeting_date(doc: &mut AutoCommit, id: &str, date: &str) -> Result<(), ModelError> {
    let obj = meeting_obj(doc, id)?;
    doc.put(&obj, "date", date)?;
    Ok(())
}

/// Records that a meeting moved from one date to another. Each move is its own key in the
/// meeting's map (`moved/<id>`), so moves made on two devices offline all count.
pub fn record_move(
    doc: &mut AutoCommit,
    id: &str,
    move_id: &str,
    from: &str,
    to: &str,
) -> Result<(), ModelError> {
    let obj = meeting_obj(doc, id)?;
    doc.put(&obj, format!("moved/{move_id}"), format!("{from} -> {to}"))?;
    Ok(())
}

/// Records that a meeting was held on `held_on`, a day other than the `planned` one: the
/// meeting's date becomes the day it was held, and the plan is kept beside it. Not a move:
/// a meeting held early was not disrupted.
pub fn record_held_on(
    doc: &mut AutoCommit,
    id: &str,
    planned: &str,
    held_on: &str,
) -> Result<(), ModelError> {
    let obj = meeting_obj(doc, id)?;
    doc.put(&obj, "planned", planned)?;
    doc.put(&obj, "date", held_on)?;
    Ok(())
}

/// Records how long a held meeting ran, in minutes.
pub fn set_held_minutes(doc: &mut AutoCommit, id: &str, minutes: u32) -> Result<(), ModelError> {
    let obj = meeting_obj(doc, id)?;
    doc.put(&obj, "minutes", i64::from(minutes))?;
    Ok(())
}

/// Sets a meeting's status.
pub fn set_meeting_status(
    doc: &mut AutoCommit,
    id: &str,
    status: MeetingStatus,
) -> Result<(), ModelError> {
    let obj = meeting_obj(doc, id)?;
    doc.put(&obj, "status", status.as_str())?;
    Ok(())
}

/// Every meeting, by date then id.
pub fn meetings(doc: &AutoCommit) -> Result<Vec<MeetingSummary>, ModelError> {
    let map = am::required_map(doc, &ROOT, "meetings")?;
    let mut out = Vec::new();
    for id in am::keys(doc, &map) {
        if let Some(obj) = am::map(doc, &map, &id)? {
            out.push(read_meeting(doc, &obj, id)?);
        }
    }
    out.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

/// One meeting's summary.
pub fn meeting(doc: &AutoCommit, id: &str) -> Result<Option<MeetingSummary>, ModelError> {
    let map = am::required_map(doc, &ROOT, "meetings")?;
    match am::map(doc, &map, id)? {
        Some(obj) => Ok(Some(read_meeting(doc, &obj, id.to_owned())?)),
        None => Ok(None),
    }
}

fn read_meeting(doc: &AutoCommit, obj: &ObjId, id: String) -> Result<MeetingSummary, ModelError> {
    let dates = am::all_str(doc, obj, "date")?;
    let statuses = am::all_str(doc, obj, "status")?;
    let mut conflicts = Vec::new();
    if dates.len() > 1 {
        conflicts.push(Conflict {
            field: "date".into(),
            values: dates.clone(),
        });
    }
    if statuses.len() > 1 {
        conflicts.push(Conflict {
            field: "status".into(),
            values: statuses.clone(),
        });
    }
    let status = MeetingStatus::parse(statuses.first().map(String::as_str).unwrap_or(""));
    let moves = doc.keys(obj).filter(|k| k.starts_with("moved/")).count();
    // A meeting rescheduled before moves were recorded still counts once.
    let reschedules = if moves == 0 && status == MeetingStatus::Rescheduled {
        1
    } else {
        moves
    };
    Ok(MeetingSummary {
        id,
        date: dates.first().cloned().unwrap_or_default(),
        status,
        conflicts,
        reschedules: u32::try_from(reschedules).unwrap_or(u32::MAX),
        planned: am::str(doc, obj, "planned")?,
        minutes: am::int(doc, obj, "minutes")?.and_then(|m| u32::try_from(m).ok()),
    })
}

/// The current meeting: the earliest one still to come. Reads only each meeting's status,
/// and the date of the few still to come: this runs for nearly every command.
pub fn current_meeting(doc: &AutoCommit) -> Result<Option<MeetingSummary>, ModelError> {
    let map = am::required_map(doc, &ROOT, "meetings")?;
    let mut best: Option<(String, String)> = None;
    for id in am::keys(doc, &map) {
        let Some(obj) = am::map(doc, &map, &id)? else {
            continue;
        };
        let status = am::str(doc, &obj, "status")?.unwrap_or_default();
        if !MeetingStatus::parse(&status).is_upcoming() {
            continue;
        }
        let date = am::str(doc, &obj, "date")?.unwrap_or_default();
        if best.as_ref().is_none_or(|(d, i)| (&date, &id) < (d, i)) {
            best = Some((date, id));
        }
    }
    match best {
        Some((_, id)) => meeting(doc, &id),
        None => Ok(None),
    }
}

/// The backlog's live items (those kept for later, not those carried).
pub fn backlog(doc: &AutoCommit) -> Result<Vec<AgendaItem>, ModelError> {
    item::list_kept(doc, &backlog_obj(doc)?, item::Kept::ForLater)
}

/// The items carried from ended meetings: on the current meeting's agenda (see `item`).
pub fn carried(doc: &AutoCommit) -> Result<Vec<AgendaItem>, ModelError> {
    item::list_kept(doc, &backlog_obj(doc)?, item::Kept::Carried)
}

/// The backlog map object, for item operations.
pub fn backlog_obj(doc: &AutoCommit) -> Result<ObjId, ModelError> {
    am::required_map(doc, &ROOT, "backlog")
}

/// Carries an item into the index (see `item`); a live copy already here (a concurrent
/// carry) is flagged instead.
pub fn carry_in(doc: &mut AutoCommit, new: &NewItem<'_>) -> Result<(), ModelError> {
    let backlog = backlog_obj(doc)?;
    item::put(doc, &backlog, new)?;
    item::set_carried(doc, &backlog, new.id, true)
}

/// Adds an item to the backlog.
pub fn add_backlog(doc: &mut AutoCommit, new: &NewItem<'_>) -> Result<bool, ModelError> {
    let backlog = backlog_obj(doc)?;
    item::put(doc, &backlog, new)
}
