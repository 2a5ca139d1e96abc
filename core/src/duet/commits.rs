//! Commitments and who owns them.
use super::*;
use std::ops::{Deref, DerefMut};

impl<D: Deref<Target = Duet>> Commitments<D> {
    /// Commitments: the open ones, or every one ever made (from each meeting's kept view).
    pub fn list(&self, open_only: bool) -> Result<Vec<Commitment>, DuetError> {
        let mut nb = self.duet.load()?;
        let out = if open_only {
            open_commitments(&self.duet.store, &mut nb)?
        } else {
            let mut out = Vec::new();
            let index = nb.index_view(&self.duet.store)?;
            for m in &index.meetings {
                match nb.meeting_parts(&self.duet.store, &m.id) {
                    Ok(parts) => out.extend(parts.commitments),
                    Err(DuetError::MeetingNotHere { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            nb.flush_caches(&self.duet.store)?;
            out
        };
        self.duet.keep(nb);
        Ok(out)
    }
}

impl<D: DerefMut<Target = Duet>> Commitments<D> {
    /// Records a commitment made in a meeting (the current one, else the latest).
    pub fn add(
        &mut self,
        text: &str,
        owner: &Owner,
        due: Option<Date>,
        meeting_id: Option<&str>,
    ) -> Result<Commitment, DuetError> {
        let text = clean_text(text, "commitment")?;
        let mut nb = self.duet.load()?;
        let owner = self.duet.resolve_owner(&mut nb, owner)?;
        let mid = match resolve_meeting(&self.duet.store, &mut nb, meeting_id) {
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
        self.duet
            .save(&mut nb, &undo::quoting("commitment", &text))?;
        made.ok_or(DuetError::NotFound {
            kind: "commitment",
            query: id,
        })
    }

    /// Rewords an open commitment or moves its due date.
    pub fn edit(
        &mut self,
        query: &str,
        text: Option<&str>,
        due: Option<Date>,
    ) -> Result<Commitment, DuetError> {
        let text = text.map(|t| clean_text(t, "commitment")).transpose()?;
        if text.is_none() && due.is_none() {
            return Err(DuetError::Invalid(
                "nothing to change: give --text and/or --due".into(),
            ));
        }
        let mut nb = self.duet.load()?;
        let (id, made_in) = find_open(&mut nb, query)?;
        let doc = &mut nb.meeting(&made_in)?.am;
        let due = due.map(|d| d.to_string());
        meeting::edit_commitment(doc, &id, text.as_deref(), due.as_deref())?;
        let edited = meeting::commitment(doc, &id)?;
        self.duet.save(&mut nb, "commitment edited")?;
        edited.ok_or(DuetError::NotFound {
            kind: "commitment",
            query: id,
        })
    }

    /// Closes an open commitment as done or dropped.
    pub fn close(
        &mut self,
        query: &str,
        status: CommitmentStatus,
    ) -> Result<Commitment, DuetError> {
        let mut nb = self.duet.load()?;
        let (id, made_in) = find_open(&mut nb, query)?;
        let doc = &mut nb.meeting(&made_in)?.am;
        meeting::set_commitment_status(doc, &id, status, now_millis())?;
        let closed = meeting::commitment(doc, &id)?;
        if status != CommitmentStatus::Open {
            commitments::remove_open(&mut nb.commitments()?.am, &id)?;
        }
        self.duet
            .save(&mut nb, &format!("commitment {}", status.as_str()))?;
        closed.ok_or(DuetError::NotFound {
            kind: "commitment",
            query: id,
        })
    }
}

/// The open commitments, by due date (undated last).
pub(super) fn open_commitments(
    store: &Store,
    nb: &mut Notebook,
) -> Result<Vec<Commitment>, DuetError> {
    let open = nb.open_commitment_list(store)?;
    // From the notebook's kept digests: open commitments made over years of meetings cost
    // one read and a scan of versions, and load no document.
    let digests = crate::digests::per_meeting::<crate::digests::Digest>(
        store,
        nb,
        open.iter().map(|(_, m)| m.as_str()),
    )?;
    let mut out = Vec::new();
    for (id, made_in) in open {
        if let Some(digest) = digests.get(&made_in) {
            out.extend(digest.commitments.iter().find(|c| c.id == id).cloned());
        }
    }
    nb.flush_caches(store)?;
    out.sort_by(|a, b| {
        a.due
            .is_none()
            .cmp(&b.due.is_none())
            .then_with(|| a.due.cmp(&b.due))
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(out)
}

/// The open commitment `query` (an id prefix) names, and the meeting it was made in.
fn find_open(nb: &mut Notebook, query: &str) -> Result<(String, String), DuetError> {
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
    Ok((id, made_in))
}
