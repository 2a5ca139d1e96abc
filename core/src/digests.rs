//! What views over every meeting need of each one, kept for the whole notebook in one record
//! per kind and brought up to date meeting by meeting: a [`Digest`] (takeaway, commitments
//! and themes) for the history views, and a meeting's searchable text for `search`.
//!
//! Each meeting's entry carries the stored version of the document it was read from; one
//! scan of the notebook's versions tells which entries still hold. A view over five years
//! then costs that scan and one read, plus a recomputation for each meeting that changed
//! since (usually one: the current meeting), instead of a read, an inflate and a decode per
//! meeting.

use crate::error::DuetError;
use crate::insights::search::MeetingText;
use crate::model::views::Commitment;
use crate::model::Section;
use crate::notebook::{read_versioned, write_versioned, MeetingParts, Notebook};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The kept record has no version of its own: each entry is checked against its meeting's.
const RECORD_VERSION: u64 = 1;

/// A kind of per-meeting entry kept in one record for the notebook.
pub(crate) trait PerMeeting: Clone + Serialize + serde::de::DeserializeOwned {
    /// The record's name, with its format: bump the format whenever the entry changes
    /// shape.
    const RECORD: &'static str;
    /// The entry of a meeting read in full.
    fn of(parts: MeetingParts) -> Self;
    /// Where the notebook holds the record decoded, once read or written.
    fn seen(nb: &mut Notebook) -> &mut Option<Arc<Kept<Self>>>;
}

/// What history views need of one meeting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Digest {
    /// The key takeaway section.
    pub takeaway: String,
    /// The commitments made in it.
    pub commitments: Vec<Commitment>,
    /// Its themes: each tag with the number of its texts that mention it.
    pub tags: BTreeMap<String, usize>,
}

impl PerMeeting for Digest {
    const RECORD: &'static str = "digests/2";

    fn of(parts: MeetingParts) -> Self {
        Digest {
            tags: crate::insights::themes::meeting_tags(
                &parts.agenda,
                &parts.sections,
                &parts.commitments,
            ),
            takeaway: parts
                .sections
                .into_iter()
                .find(|s| s.section == Section::Takeaway)
                .map(|s| s.text)
                .unwrap_or_default(),
            commitments: parts.commitments,
        }
    }

    fn seen(nb: &mut Notebook) -> &mut Option<Arc<Kept<Self>>> {
        &mut nb.digests_seen
    }
}

impl PerMeeting for MeetingText {
    const RECORD: &'static str = "search-text/1";

    fn of(parts: MeetingParts) -> Self {
        MeetingText::of(&parts.agenda, &parts.sections, &parts.commitments)
    }

    fn seen(nb: &mut Notebook) -> &mut Option<Arc<Kept<Self>>> {
        &mut nb.search_text_seen
    }
}

/// Entries by meeting id, each with the stored version it was read at.
pub(crate) type Kept<T> = BTreeMap<String, (u64, T)>;

fn key<T: PerMeeting>(notebook: &str) -> String {
    format!("{}/{notebook}", T::RECORD)
}

/// The entries a view asked for: borrowed from the kept record, or read from a document in
/// memory.
pub(crate) struct Digests<T> {
    kept: Arc<Kept<T>>,
    live: HashMap<String, T>,
}

impl<T> Digests<T> {
    /// The entry of a meeting the view asked for; `None` for one this home does not hold.
    /// Only asked-for meetings are checked against their documents: ask for every meeting
    /// read here.
    pub fn get(&self, meeting: &str) -> Option<&T> {
        self.live
            .get(meeting)
            .or_else(|| self.kept.get(meeting).map(|(_, digest)| digest))
    }
}

/// The entry of each of `meetings` this home holds. Entries that no longer match their
/// meeting's stored version are read again and the record rewritten (made durable with
/// the notebook's next cache flush). The record stays decoded in the notebook, so a node
/// reads it once, not on every view.
pub(crate) fn per_meeting<'a, T: PerMeeting>(
    store: &Store,
    nb: &mut Notebook,
    meetings: impl IntoIterator<Item = &'a str>,
) -> Result<Digests<T>, DuetError> {
    let meetings: Vec<&str> = meetings.into_iter().collect();
    if meetings.is_empty() {
        // A view that reads every meeting in full asks for none: no record to read.
        return Ok(Digests {
            kept: Arc::default(),
            live: HashMap::new(),
        });
    }
    let versions = nb.doc_versions(store)?;
    let record = key::<T>(&nb.id);
    let mut kept = match T::seen(nb).take() {
        Some(kept) => kept,
        None => Arc::new(read_versioned(store, &record, RECORD_VERSION).unwrap_or_default()),
    };
    let mut changed = false;
    let mut live = HashMap::new();
    for id in meetings {
        let Some(&version) = versions.get(id) else {
            // Not arrived here yet.
            continue;
        };
        // A document in memory may hold edits the store does not: read it, keep nothing.
        if nb.meeting_loaded(id) {
            let parts = nb.meeting_parts(store, id)?;
            live.insert(id.to_owned(), T::of(parts));
            continue;
        }
        if matches!(kept.get(id), Some((at, _)) if *at == version) {
            continue;
        }
        let parts = match nb.meeting_parts(store, id) {
            Ok(parts) => parts,
            Err(DuetError::MeetingNotHere { .. }) => continue,
            Err(e) => return Err(e),
        };
        Arc::make_mut(&mut kept).insert(id.to_owned(), (version, T::of(parts)));
        changed = true;
    }
    if changed {
        // Meetings no longer in the index (none today: meetings are never deleted) go too.
        Arc::make_mut(&mut kept).retain(|id, _| versions.contains_key(id));
        write_versioned(store, &record, RECORD_VERSION, &*kept);
        nb.kept_written();
    }
    *T::seen(nb) = Some(kept.clone());
    Ok(Digests { kept, live })
}
