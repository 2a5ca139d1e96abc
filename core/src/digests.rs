//! What views over every meeting need of each one (its takeaway, commitments and themes), kept
//! for the whole notebook in one record and brought up to date meeting by meeting.
//!
//! Each meeting's digest carries the stored version of the document it was read from; one
//! scan of the notebook's versions tells which digests still hold. A view over five years
//! then costs that scan and one read, plus a recomputation for each meeting that changed
//! since (usually one: the current meeting), instead of a read, an inflate and a decode per
//! meeting.

use crate::error::DuetError;
use crate::model::views::Commitment;
use crate::model::Section;
use crate::notebook::{read_versioned, write_versioned, MeetingParts, Notebook};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Bump whenever [`Digest`] changes shape.
const FORMAT: u32 = 2;
/// The kept record has no version of its own: each entry is checked against its meeting's.
const RECORD_VERSION: u64 = 1;

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

/// Digests by meeting id, each with the stored version it was read at.
pub(crate) type Kept = BTreeMap<String, (u64, Digest)>;

fn key(notebook: &str) -> String {
    format!("digests/{FORMAT}/{notebook}")
}

/// The digests a view asked for: borrowed from the kept record, or read from a document in
/// memory (which may hold edits the store does not, so nothing of it is kept).
pub(crate) struct Digests {
    kept: Arc<Kept>,
    live: HashMap<String, Digest>,
}

impl Digests {
    /// The digest of a meeting the view asked for; `None` for one this home does not hold.
    /// Only asked-for meetings are checked against their documents: ask for every meeting
    /// read here.
    pub fn get(&self, meeting: &str) -> Option<&Digest> {
        self.live
            .get(meeting)
            .or_else(|| self.kept.get(meeting).map(|(_, digest)| digest))
    }
}

/// The digest of each of `meetings` this home holds. Digests that no longer match their
/// meeting's stored version are read again and the record rewritten (made durable with
/// the notebook's next cache flush). The record stays decoded in the notebook, so a node
/// reads it once, not on every view.
pub(crate) fn digests<'a>(
    store: &Store,
    nb: &mut Notebook,
    meetings: impl IntoIterator<Item = &'a str>,
) -> Result<Digests, DuetError> {
    let meetings: Vec<&str> = meetings.into_iter().collect();
    if meetings.is_empty() {
        // A view that reads every meeting in full asks for none: no record to read.
        return Ok(Digests {
            kept: Arc::default(),
            live: HashMap::new(),
        });
    }
    let versions = nb.doc_versions(store)?;
    let record = key(&nb.id);
    let mut kept = match nb.digests_seen.take() {
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
        if nb.meeting_loaded(id) {
            let parts = nb.meeting_parts(store, id)?;
            live.insert(id.to_owned(), digest_of(parts));
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
        Arc::make_mut(&mut kept).insert(id.to_owned(), (version, digest_of(parts)));
        changed = true;
    }
    if changed {
        // Meetings no longer in the index (none today: meetings are never deleted) go too.
        Arc::make_mut(&mut kept).retain(|id, _| versions.contains_key(id));
        write_versioned(store, &record, RECORD_VERSION, &*kept);
        nb.kept_written();
    }
    nb.digests_seen = Some(kept.clone());
    Ok(Digests { kept, live })
}

fn digest_of(parts: MeetingParts) -> Digest {
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
