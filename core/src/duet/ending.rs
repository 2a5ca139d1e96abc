//! Ending a 1-1 (the report moves to another manager): the notebook becomes read-only on
//! every device that learns of the end, stays readable, searchable and exportable, and its
//! relay mailbox goes: the device that ended it retires it once the end is there (still
//! read, never written), and the other device deletes it once it has read the end.
use super::*;
use crate::duet::settings::RelayEnded;
use crate::model::members::{self, Ended};

impl Duet {
    /// Ends the selected notebook's 1-1 (see the module doc). The end reaches the other
    /// device with the next sync.
    pub fn end_notebook(&mut self) -> Result<NotebookView, DuetError> {
        let mut nb = self.load()?;
        let title = index::title(&nb.index()?.am)?;
        if let Some(ended) = members::ended(&nb.index()?.am)? {
            return Err(DuetError::Ended {
                title,
                on: ended.at,
            });
        }
        members::end(
            &mut nb.index()?.am,
            &Ended {
                by: self.device.public_hex(),
                at: crate::dates::today().to_string(),
            },
        )?;
        nb.persist(&mut self.store)?;
        self.keep(nb);
        self.notebook()
    }

    /// When the notebook's 1-1 ended, if it did.
    pub fn ended_on(&self, notebook: &str) -> Result<Option<String>, DuetError> {
        if self.read_private_notes().space()?.as_deref() == Some(notebook)
            || self.store.load_doc(notebook, INDEX_DOC)?.is_none()
        {
            return Ok(None);
        }
        let mut nb = match self.cache.borrow_mut().take() {
            Some(nb) if nb.id == notebook => nb,
            _ => Notebook::load(&self.store, notebook, &self.actor)?,
        };
        let ended = nb.ended(&self.store)?.map(|e| e.at);
        self.keep(nb);
        Ok(ended)
    }

    /// What the relay sync that just ran leaves to do with an ended 1-1's mailbox.
    pub(crate) fn relay_end_step(&self, notebook: &str) -> Result<Option<EndStep>, DuetError> {
        if self.relay_mailbox_gone(notebook)? {
            return Ok(None);
        }
        if self.store.load_doc(notebook, INDEX_DOC)?.is_none()
            || self.read_private_notes().space()?.as_deref() == Some(notebook)
        {
            return Ok(None);
        }
        let mut nb = Notebook::load(&self.store, notebook, &self.actor)?;
        Ok(match nb.ended(&self.store)? {
            None => None,
            Some(e) if e.by == self.device.public_hex() => Some(EndStep::Retire),
            Some(_) => Some(EndStep::Delete),
        })
    }

    /// The relay mailbox of an ended 1-1 was retired or deleted from here: relay syncs of
    /// this notebook stop.
    pub(crate) fn relay_end_done(&self, notebook: &str) -> Result<(), DuetError> {
        self.store.put(&RelayEnded(notebook.to_owned()), &true)?;
        self.store.flush()?;
        Ok(())
    }

    /// Whether relay syncs of this notebook stopped (its 1-1 ended).
    pub(crate) fn relay_mailbox_gone(&self, notebook: &str) -> Result<bool, DuetError> {
        Ok(self
            .store
            .get(&RelayEnded(notebook.to_owned()))?
            .unwrap_or(false))
    }
}
