//! Meetings: put them on the books, write the rhythm, wrap up, and read them back.
use super::*;
use std::ops::{Deref, DerefMut};

/// A meeting's themes, as its kept digest holds them (tag, texts that mention it).
pub(super) type Tags = BTreeMap<String, usize>;

impl Duet {
    // ---- meetings -----------------------------------------------------------------------

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
        let carried = carry_over(nb, id)?;
        self.add_due_points(nb)?;
        Ok(WrapOutcome {
            held: summary(nb, id)?,
            next: summary(nb, &next_id)?,
            next_created: created,
            carried,
            held_early_from: None,
        })
    }

    // ---- views --------------------------------------------------------------------------

    /// Every meeting by date: in full where `full` says so; of the others only the summary
    /// and the commitments, from the notebook's kept digests (agenda and sections left
    /// empty), with their themes, for views that read only those of most meetings.
    pub(super) fn history_reading(
        &self,
        full: impl Fn(&MeetingSummary) -> bool,
    ) -> Result<Vec<(MeetingView, Option<Tags>)>, DuetError> {
        let mut nb = self.load()?;
        let index = nb.index_view(&self.store)?;
        let among = Among::new(&self.store, &mut nb, &index)?;
        // One scan checks every meeting's kept view (and is reused until the next flush).
        nb.doc_versions(&self.store)?;
        let light = index.meetings.iter().filter(|m| !full(m));
        let digests = crate::digests::per_meeting::<crate::digests::Digest>(
            &self.store,
            &mut nb,
            light.map(|m| m.id.as_str()),
        )?;
        let mut out = Vec::new();
        for m in &index.meetings {
            if !full(m) {
                if let Some(digest) = digests.get(&m.id) {
                    let view = MeetingView {
                        summary: m.clone(),
                        agenda: Vec::new(),
                        sections: Vec::new(),
                        commitments: digest.commitments.clone(),
                    };
                    out.push((view, Some(digest.tags.clone())));
                }
                continue;
            }
            if let Some(v) = among.view_if_here(&self.store, &mut nb, m)? {
                out.push((v, None));
            }
        }
        nb.flush_caches(&self.store)?;
        self.keep(nb);
        Ok(out)
    }
}

impl<D: Deref<Target = Duet>> Meetings<D> {
    /// Every meeting, by date.
    pub fn list(&self) -> Result<Vec<MeetingSummary>, DuetError> {
        let mut nb = self.duet.load()?;
        let meetings = nb.index_view(&self.duet.store)?.meetings.clone();
        self.duet.keep(nb);
        Ok(meetings)
    }

    /// One meeting in full: by id prefix, or the current one.
    pub fn get(&self, id: Option<&str>) -> Result<MeetingView, DuetError> {
        let mut nb = self.duet.load()?;
        let id = resolve_meeting(&self.duet.store, &mut nb, id)?;
        let view = meeting_view(&self.duet.store, &mut nb, &id)?;
        self.duet.keep(nb);
        Ok(view)
    }

    /// The current meeting and everything still open.
    pub fn overview(&self) -> Result<Overview, DuetError> {
        let mut nb = self.duet.load()?;
        let notebook = self.duet.view_of(&mut nb, true)?;
        let meeting = match nb.current_meeting(&self.duet.store)? {
            Some(m) => Some(meeting_view(&self.duet.store, &mut nb, &m.id)?),
            None => None,
        };
        let overview = Overview {
            notebook,
            open_commitments: open_commitments(&self.duet.store, &mut nb)?,
            backlog: nb.index_view(&self.duet.store)?.backlog.clone(),
            meeting,
        };
        self.duet.keep(nb);
        Ok(overview)
    }

    /// Every meeting this home holds, by date, with its key takeaway: from the notebook's
    /// kept digests (no document loaded, no meeting's whole view read).
    pub fn takeaways(&self) -> Result<Vec<(MeetingSummary, String)>, DuetError> {
        let mut nb = self.duet.load()?;
        let index = nb.index_view(&self.duet.store)?;
        let digests = crate::digests::per_meeting::<crate::digests::Digest>(
            &self.duet.store,
            &mut nb,
            index.meetings.iter().map(|m| m.id.as_str()),
        )?;
        let out = index
            .meetings
            .iter()
            .filter_map(|m| digests.get(&m.id).map(|d| (m.clone(), d.takeaway.clone())))
            .collect();
        nb.flush_caches(&self.duet.store)?;
        self.duet.keep(nb);
        Ok(out)
    }

    /// Every meeting in full, by date: from the plain views kept beside each meeting's
    /// document (a meeting whose view is missing is loaded once and its view kept).
    pub fn history(&self) -> Result<Vec<MeetingView>, DuetError> {
        Ok(self
            .duet
            .history_reading(|_| true)?
            .into_iter()
            .map(|(view, _)| view)
            .collect())
    }
}

impl<D: DerefMut<Target = Duet>> Meetings<D> {
    /// Puts a meeting on the books: on `date`, or one cadence after the last meeting.
    pub fn book(&mut self, date: Option<Date>) -> Result<MeetingSummary, DuetError> {
        let mut nb = self.duet.load()?;
        let date = match date {
            Some(d) => d,
            None => next_date(&mut nb)?,
        };
        let id = ids::new_id();
        nb.create_meeting(&id, &date.to_string())?;
        self.duet.add_due_points(&mut nb)?;
        self.duet
            .save(&mut nb, &format!("meeting on {date} put on the books"))?;
        summary(&mut nb, &id)
    }

    /// Cancels a meeting; its undiscussed agenda items move to the next one.
    pub fn cancel(&mut self, id: Option<&str>) -> Result<WrapOutcome, DuetError> {
        let mut nb = self.duet.load()?;
        let id = resolve_meeting(&self.duet.store, &mut nb, id)?;
        index::set_meeting_status(&mut nb.index()?.am, &id, MeetingStatus::Canceled)?;
        let outcome = self.duet.close_meeting(&mut nb, &id)?;
        self.duet.save(&mut nb, "meeting canceled")?;
        Ok(outcome)
    }

    /// Moves a meeting to another date.
    pub fn reschedule(
        &mut self,
        id: Option<&str>,
        date: Date,
    ) -> Result<MeetingSummary, DuetError> {
        let mut nb = self.duet.load()?;
        let id = resolve_meeting(&self.duet.store, &mut nb, id)?;
        let from = summary(&mut nb, &id)?.date;
        let to = date.to_string();
        if from != to {
            index::record_move(&mut nb.index()?.am, &id, &ids::new_id(), &from, &to)?;
        }
        index::set_meeting_date(&mut nb.index()?.am, &id, &to)?;
        index::set_meeting_status(&mut nb.index()?.am, &id, MeetingStatus::Rescheduled)?;
        self.duet.save(&mut nb, &format!("meeting moved to {to}"))?;
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
        let mut nb = self.duet.load()?;
        let id = resolve_meeting(&self.duet.store, &mut nb, meeting_id)?;
        meeting::append(&mut nb.meeting(&id)?.am, section, &text)?;
        self.duet.save(
            &mut nb,
            &undo::quoting(&format!("note in {}", section.title()), &text),
        )?;
        self.duet.keep(nb);
        Ok(id)
    }

    /// Ends a meeting with clarity: the close, status held, carry-over, and the next meeting
    /// on the books from the cadence unless one is already there. A meeting wrapped before
    /// its date was held today: today becomes its date (the plan is kept beside it), so no
    /// age is ever negative and the next meeting counts from today.
    pub fn wrap(
        &mut self,
        id: Option<&str>,
        close: &WrapNotes<'_>,
    ) -> Result<WrapOutcome, DuetError> {
        if let Some(minutes) = close.minutes {
            if !HELD_MINUTES.contains(&minutes) {
                return Err(DuetError::Invalid(format!(
                    "a meeting's length must be {}-{} minutes (got {minutes})",
                    HELD_MINUTES.start(),
                    HELD_MINUTES.end()
                )));
            }
        }
        let mut nb = self.duet.load()?;
        let id = resolve_meeting(&self.duet.store, &mut nb, id)?;
        {
            let doc = &mut nb.meeting(&id)?.am;
            for (section, text) in [
                (Section::Takeaway, close.takeaway),
                (Section::NextSteps, close.next_steps),
                (Section::Needs, close.needs),
            ] {
                if let Some(text) = text {
                    meeting::append(doc, section, &clean_text(text, section.key())?)?;
                }
            }
        }
        // Held before its date: it was held today, and the next one counts from today.
        let today = crate::dates::today();
        let planned = summary(&mut nb, &id)?.date;
        let held_early = parse_stored_date(&planned)? > today;
        let index = &mut nb.index()?.am;
        if held_early {
            index::record_held_on(index, &id, &planned, &today.to_string())?;
        }
        if let Some(minutes) = close.minutes {
            index::set_held_minutes(index, &id, minutes)?;
        }
        index::set_meeting_status(index, &id, MeetingStatus::Held)?;
        let mut outcome = self.duet.close_meeting(&mut nb, &id)?;
        outcome.held_early_from = held_early.then_some(planned);
        self.duet.save(&mut nb, "meeting wrapped")?;
        Ok(outcome)
    }
}
