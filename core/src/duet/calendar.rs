//! The 1-1s as calendar events and the reminders before them: every notebook's meetings on
//! the books (and the ones canceled, so a calendar app takes them off), each with an id
//! that is the same on every device and every export, and the time of day the pair set.
//! The CLI writes them as iCalendar; the phone schedules its own notifications from them.
use super::*;
use crate::duet::settings::RemindBefore;
use crate::model::views::MeetingTime;
use std::ops::{Deref, DerefMut};

/// Minutes before a 1-1 a report is reminded unless told otherwise: two days, time to add
/// to the agenda.
pub const REPORT_REMINDER_MINUTES: u32 = 2 * 24 * 60;
/// Minutes before a 1-1 a manager is reminded unless told otherwise: a day.
pub const MANAGER_REMINDER_MINUTES: u32 = 24 * 60;

/// One meeting as a calendar event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarEvent {
    /// Stable across exports and devices: the meeting's and the notebook's ids.
    pub uid: String,
    /// The notebook.
    pub notebook: String,
    /// Its title.
    pub title: String,
    /// The other person.
    pub person: String,
    /// The meeting's id.
    pub meeting: String,
    /// Its date.
    pub date: String,
    /// Whether it was canceled.
    pub canceled: bool,
    /// How many times it changed date (a calendar app takes the higher as newer).
    pub sequence: u32,
    /// The time of day, when the pair set one (else the event is a whole day).
    pub time: Option<MeetingTime>,
    /// Planned minutes.
    pub minutes: u32,
    /// Its agenda so far: (text, who added it).
    pub agenda: Vec<(String, String)>,
    /// Of those, how many this device's person added (none: a nudge to prepare).
    pub my_items: u32,
    /// Minutes before it this device reminds its person; `None`: no reminder.
    pub remind_minutes: Option<u32>,
}

/// The hour of the day a whole-day meeting's reminder counts back from.
pub const WHOLE_DAY_REMINDER_HOUR: i8 = 9;

impl CalendarEvent {
    /// When it starts: at the pair's time, or at [`WHOLE_DAY_REMINDER_HOUR`] in this
    /// device's time zone when they set none.
    pub fn starts(&self) -> Option<jiff::Timestamp> {
        let date: jiff::civil::Date = self.date.parse().ok()?;
        match &self.time {
            Some(t) => t.start_on(date),
            None => date
                .at(WHOLE_DAY_REMINDER_HOUR, 0, 0, 0)
                .to_zoned(jiff::tz::TimeZone::system())
                .ok()
                .map(|z| z.timestamp()),
        }
    }

    /// When this device reminds its person, if it does.
    pub fn remind_at(&self) -> Option<jiff::Timestamp> {
        let minutes = self.remind_minutes?;
        if self.canceled {
            return None;
        }
        self.starts()?
            .checked_sub(jiff::SignedDuration::from_mins(i64::from(minutes)))
            .ok()
    }
}

impl Duet {
    fn calendar_events(&mut self) -> Result<Vec<CalendarEvent>, DuetError> {
        let today = crate::dates::today().to_string();
        let mut out = Vec::new();
        for record in self.shared_records()? {
            if self.join_pending(&record.id)?
                && self.store.load_doc(&record.id, INDEX_DOC)?.is_none()
            {
                continue;
            }
            self.selected = Some(record.id.clone());
            let remind_minutes = self.schedule().reminder_minutes()?;
            let mut nb = self.load()?;
            let view = self.view_of(&mut nb, false)?;
            if view.ended.is_some() {
                self.keep(nb);
                continue;
            }
            let time = index::meeting_time(&nb.index()?.am)?;
            let index = nb.index_view(&self.store)?;
            let me = view.me.clone();
            let name = |id: &str| view.person(id).map_or(id, |p| p.name.as_str()).to_owned();
            let person = view
                .people
                .iter()
                .find(|p| Some(&p.id) != me.as_ref())
                .map(|p| p.name.clone())
                .unwrap_or_default();
            for m in index.meetings.iter().filter(|m| {
                m.date >= today && (m.status.is_upcoming() || m.status == MeetingStatus::Canceled)
            }) {
                let canceled = m.status == MeetingStatus::Canceled;
                let items = if canceled {
                    Vec::new()
                } else {
                    match meeting_view(&self.store, &mut nb, &m.id) {
                        Ok(v) => v.agenda,
                        Err(DuetError::MeetingNotHere { .. }) => Vec::new(),
                        Err(e) => return Err(e),
                    }
                };
                let my_items = items
                    .iter()
                    .filter(|i| me.as_deref() == Some(i.author.as_str()))
                    .count();
                let agenda = items
                    .iter()
                    .map(|i| (i.text.clone(), name(&i.author)))
                    .collect();
                out.push(CalendarEvent {
                    uid: format!("{}.{}@duet", m.id, nb.id),
                    notebook: nb.id.clone(),
                    title: view.title.clone(),
                    person: person.clone(),
                    meeting: m.id.clone(),
                    date: m.date.clone(),
                    canceled,
                    sequence: m.reschedules + u32::from(canceled),
                    time: time.clone(),
                    minutes: view.cadence.minutes,
                    agenda,
                    my_items: u32::try_from(my_items).unwrap_or(u32::MAX),
                    remind_minutes,
                });
            }
            self.keep(nb);
        }
        Ok(out)
    }
}

impl<D: Deref<Target = Duet>> Schedule<D> {
    /// The time of day the current notebook's pair meets, if set.
    pub fn time(&self) -> Result<Option<MeetingTime>, DuetError> {
        let mut nb = self.duet.load()?;
        let time = index::meeting_time(&nb.index()?.am)?;
        self.duet.keep(nb);
        Ok(time)
    }

    /// Minutes before a 1-1 of the current notebook this device reminds its person: the
    /// notebook's own setting, else the one for all, else a day for a manager and two for
    /// a report. `None`: reminders are off.
    pub fn reminder_minutes(&self) -> Result<Option<u32>, DuetError> {
        let id = self.duet.current_id()?;
        let set = match self.duet.store.get(&RemindBefore(id))? {
            Some(v) => Some(v),
            None => self.duet.store.get(&RemindBefore(String::new()))?,
        };
        if let Some(v) = set {
            return Ok(u32::try_from(v).ok());
        }
        let view = self.duet.notebook()?;
        let role = view
            .me
            .as_deref()
            .and_then(|me| view.person(me))
            .map(|p| p.role);
        Ok(Some(match role {
            Some(Role::Report) => REPORT_REMINDER_MINUTES,
            _ => MANAGER_REMINDER_MINUTES,
        }))
    }
}

impl<D: DerefMut<Target = Duet>> Schedule<D> {
    /// Every notebook's meetings from today on, on the books or canceled, by date. Ended
    /// 1-1s and notebooks whose content has not arrived are left out.
    pub fn events(&mut self) -> Result<Vec<CalendarEvent>, DuetError> {
        let saved = self.duet.selected.take();
        let read = self.duet.calendar_events();
        self.duet.selected = saved;
        let mut events = read?;
        events.sort_by(|a, b| (&a.date, &a.title).cmp(&(&b.date, &b.title)));
        Ok(events)
    }

    /// Sets the time of day the pair of the current notebook meets (`HH:MM`) in the time
    /// zone `tz` (default: this device's); both devices see it once synced.
    pub fn set_time(&mut self, at: &str, tz: Option<&str>) -> Result<MeetingTime, DuetError> {
        let system = jiff::tz::TimeZone::system();
        let tz = match tz {
            Some(tz) => tz.to_owned(),
            None => system.iana_name().unwrap_or("UTC").to_owned(),
        };
        let time = MeetingTime::new(at, &tz).map_err(DuetError::Invalid)?;
        let mut nb = self.duet.load()?;
        index::set_meeting_time(&mut nb.index()?.am, &time)?;
        self.duet
            .save(&mut nb, &format!("meeting time {}", time.at))?;
        self.duet.keep(nb);
        Ok(time)
    }

    /// Sets how long before each 1-1 of the current notebook (or, with `all`, of every
    /// notebook without its own setting) this device reminds its person; `None`: never.
    pub fn set_reminder(&mut self, all: bool, minutes: Option<u32>) -> Result<(), DuetError> {
        let scope = if all {
            String::new()
        } else {
            self.duet.current_id()?
        };
        let value = minutes.map_or(-1, i64::from);
        self.duet.store.put(&RemindBefore(scope), &value)?;
        self.duet.store.flush()?;
        Ok(())
    }
}
