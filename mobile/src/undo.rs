//! Undo and redo on the phone: this device's own edits of the current notebook, taken back
//! (and brought back) as new edits that sync like any other; what the other person changed
//! since is kept and said in words an app can show as they are.

use crate::app::DuetApp;
use crate::error::MobileError;

/// An edit on the undo or redo list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EditEntryRecord {
    /// What it was ("note in Wins: “Shipped the importer”").
    pub what: String,
    /// When it was made, milliseconds since the Unix epoch.
    pub at_ms: i64,
}

/// The current notebook's undo and redo lists on this device, newest first.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UndoListRecord {
    /// What `undo` takes back, the next first.
    pub undo: Vec<EditEntryRecord>,
    /// What `redo` brings back, the next first.
    pub redo: Vec<EditEntryRecord>,
}

/// What an undo or redo did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UndoneRecord {
    /// The edit taken back (or brought back).
    pub what: String,
    /// What was left as it is because it changed since, one sentence each.
    pub left: Vec<String>,
}

fn entries(list: Vec<duet_core::EditRecord>) -> Vec<EditEntryRecord> {
    list.into_iter()
        .map(|e| EditEntryRecord {
            what: e.what,
            at_ms: e.at_ms,
        })
        .collect()
}

impl From<duet_core::Undone> for UndoneRecord {
    fn from(u: duet_core::Undone) -> Self {
        UndoneRecord {
            what: u.what,
            left: u.left,
        }
    }
}

#[uniffi::export]
impl DuetApp {
    /// Takes back this device's newest edit of the current notebook.
    pub fn undo(&self) -> Result<UndoneRecord, MobileError> {
        self.edit("undo", |d| Ok(d.undo()?.into()))
    }

    /// Brings back what the newest undo took.
    pub fn redo(&self) -> Result<UndoneRecord, MobileError> {
        self.edit("redo", |d| Ok(d.redo()?.into()))
    }

    /// The current notebook's undo and redo lists on this device.
    pub fn undo_list(&self) -> Result<UndoListRecord, MobileError> {
        self.with(|d| {
            let list = d.undo_list()?;
            Ok(UndoListRecord {
                undo: entries(list.undo),
                redo: entries(list.redo),
            })
        })
    }
}
