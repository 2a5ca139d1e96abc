//! The views over a notebook's history: health signals, themes, search, and what to bring
//! to the next meeting. Each reads in full only the meetings it must (health its window,
//! all of them the upcoming ones), and of the others what is kept per meeting in one record
//! (digests for health and themes, searchable text for search); `prep` reads the current
//! meeting and the few held before it.
use super::*;
use crate::insights::health::{self, Health, Window};
use crate::insights::search::{self, Hit, MeetingText};
use crate::insights::themes::{self, Themes};
use crate::insights::History;
use crate::model::private::PrivateNote;
use crate::model::questions::{self, Question};
use std::ops::Deref;

/// What `duet prep` shows before the next meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prep {
    /// The notebook.
    pub notebook: NotebookView,
    /// The meeting being prepared (the current one).
    pub meeting: Option<MeetingSummary>,
    /// Its agenda so far, both people's items.
    pub agenda: Vec<AgendaItem>,
    /// Items kept for later.
    pub backlog: Vec<AgendaItem>,
    /// Open commitments, by due date.
    pub open_commitments: Vec<Commitment>,
    /// The last held meeting's date and key takeaway.
    pub last_takeaway: Option<(String, String)>,
    /// A question worth asking.
    pub question: Option<Question>,
    /// This person's private notes for the meeting.
    pub private: Vec<PrivateNote>,
}

/// How many held meetings back `prep` looks for the last takeaway.
const TAKEAWAY_LOOKBACK: usize = 5;

impl<D: Deref<Target = Duet>> Insights<D> {
    /// The drift signals over a window of concluded meetings.
    pub fn health(&self, window: Window) -> Result<Health, DuetError> {
        let today = crate::dates::today();
        let notebook = self.duet.notebook()?;
        let mut nb = self.duet.load()?;
        let index = nb.index_view(&self.duet.store)?;
        self.duet.keep(nb);
        // The window's meetings and the upcoming ones in full; of years of others, only
        // what the signals read (summaries and commitments).
        let full = health::read_in_full(&index.meetings, window, today);
        let meetings: Vec<MeetingView> = self
            .duet
            .history_reading(|m| full.contains(m.id.as_str()))?
            .into_iter()
            .map(|(view, _)| view)
            .collect();
        Ok(health::health(
            &History {
                notebook: &notebook,
                meetings: &meetings,
                backlog: &index.backlog,
                today,
            },
            window,
        ))
    }

    /// Recurring themes and the commitments that keep slipping.
    pub fn themes(&self) -> Result<Themes, DuetError> {
        // The upcoming meetings in full (the current one shows the items carried into it);
        // of the others, the themes kept in their digests.
        let meetings = self.duet.history_reading(|m| m.status.is_upcoming())?;
        let tagged: Vec<(&MeetingView, BTreeMap<String, usize>)> = meetings
            .iter()
            .map(|(view, tags)| {
                let tags = tags.clone().unwrap_or_else(|| {
                    themes::meeting_tags(&view.agenda, &view.sections, &view.commitments)
                });
                (view, tags)
            })
            .collect();
        Ok(themes::themes_of(&tagged, crate::dates::today()))
    }

    /// Every agenda item, note paragraph, commitment and private note (this person's) of
    /// the selected notebook that holds all words of `query`.
    pub fn search(&self, query: &str) -> Result<Vec<Hit>, DuetError> {
        if query.trim().is_empty() {
            return Err(DuetError::Invalid("the search text is empty".into()));
        }
        let private = self.duet.read_private_notes().list()?;
        let mut nb = self.duet.load()?;
        let index = nb.index_view(&self.duet.store)?;
        let among = Among::new(&self.duet.store, &mut nb, &index)?;
        // The upcoming meetings in full (the current one holds the items carried into it);
        // of the others, the texts kept for them.
        let mut upcoming: HashMap<&str, MeetingText> = HashMap::new();
        for m in index.meetings.iter().filter(|m| m.status.is_upcoming()) {
            if let Some(v) = among.view_if_here(&self.duet.store, &mut nb, m)? {
                let text = MeetingText::of(&v.agenda, &v.sections, &v.commitments);
                upcoming.insert(m.id.as_str(), text);
            }
        }
        let past = index.meetings.iter().filter(|m| !m.status.is_upcoming());
        let kept = crate::digests::per_meeting::<MeetingText>(
            &self.duet.store,
            &mut nb,
            past.map(|m| m.id.as_str()),
        )?;
        let meetings: Vec<(&MeetingSummary, &MeetingText)> = index
            .meetings
            .iter()
            .filter_map(|m| {
                let text = upcoming.get(m.id.as_str()).or_else(|| kept.get(&m.id))?;
                Some((m, text))
            })
            .collect();
        let hits = search::search_texts(&meetings, &index.backlog, &private, query);
        nb.flush_caches(&self.duet.store)?;
        self.duet.keep(nb);
        Ok(hits)
    }

    /// What to bring to the next meeting.
    pub fn prep(&self) -> Result<Prep, DuetError> {
        let mut nb = self.duet.load()?;
        let notebook = self.duet.view_of(&mut nb, true)?;
        let current = nb.current_meeting(&self.duet.store)?;
        let agenda = match &current {
            Some(m) => meeting_view(&self.duet.store, &mut nb, &m.id)?.agenda,
            None => Vec::new(),
        };
        let held: Vec<MeetingSummary> = nb
            .index_view(&self.duet.store)?
            .meetings
            .iter()
            .filter(|m| m.status == MeetingStatus::Held)
            .cloned()
            .collect();
        let mut last_takeaway = None;
        for m in held.iter().rev().take(TAKEAWAY_LOOKBACK) {
            let parts = match nb.meeting_parts(&self.duet.store, &m.id) {
                Ok(parts) => parts,
                Err(DuetError::MeetingNotHere { .. }) => continue,
                Err(e) => return Err(e),
            };
            let text = parts
                .sections
                .into_iter()
                .find(|s| s.section == Section::Takeaway)
                .map(|s| s.text)
                .unwrap_or_default();
            if !text.is_empty() {
                last_takeaway = Some((m.date.clone(), text));
                break;
            }
        }
        let all_questions = nb.index_view(&self.duet.store)?.questions.clone();
        let seed = current.as_ref().map(|m| m.id.clone()).unwrap_or_default();
        let question = questions::suggest(&all_questions, &seed).cloned();
        let prep = Prep {
            backlog: nb.index_view(&self.duet.store)?.backlog.clone(),
            open_commitments: open_commitments(&self.duet.store, &mut nb)?,
            private: self
                .duet
                .read_private_notes()
                .list()?
                .into_iter()
                .filter(|n| {
                    current
                        .as_ref()
                        .is_some_and(|m| n.meeting.as_deref() == Some(&m.id))
                })
                .collect(),
            notebook,
            meeting: current,
            agenda,
            last_takeaway,
            question,
        };
        self.duet.keep(nb);
        Ok(prep)
    }
}

impl<D: Deref<Target = Duet>> Meetings<D> {
    /// One meeting as a Markdown summary fit to paste into an email. `query` is `last` (the
    /// last held meeting), `current`, an id prefix or a date.
    pub fn summary(&self, query: &str) -> Result<String, DuetError> {
        let notebook = self.duet.notebook()?;
        let meetings = self.duet.read_meetings().list()?;
        let id = match query.trim() {
            "last" => meetings
                .iter()
                .rev()
                .find(|m| m.status == MeetingStatus::Held)
                .map(|m| m.id.clone())
                .ok_or_else(|| DuetError::Invalid("no meeting has been held yet".into()))?,
            "current" => self.duet.read_meetings().get(None)?.summary.id,
            q => self.duet.read_meetings().get(Some(q))?.summary.id,
        };
        let m = self.duet.read_meetings().get(Some(&id))?;
        let next = meetings
            .iter()
            .find(|n| n.status.is_upcoming() && n.date > m.summary.date)
            .map(|n| n.date.clone());
        Ok(crate::insights::summary::meeting_summary(
            &notebook,
            &m,
            next.as_deref(),
        ))
    }
}
