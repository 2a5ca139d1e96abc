//! The façade's error: what went wrong, in terms a person can act on.

use crate::bundle::BundleError;
use crate::model::ModelError;
use crate::store::StoreError;
use crate::sync::peer::SyncError;
use crate::sync::relay_session::RelaySyncError;
use duet_protocol::net::NetError;
use std::path::PathBuf;

/// Errors of the [`Duet`](crate::Duet) façade.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DuetError {
    /// The home has no device identity yet.
    #[error("no Duet identity in {home}")]
    NotInitialized {
        /// The home directory.
        home: PathBuf,
    },
    /// `init` on a home that already has an identity.
    #[error("{home} already holds the identity of {name}; use another --home for another device")]
    AlreadyInitialized {
        /// The home directory.
        home: PathBuf,
        /// The existing name.
        name: String,
    },
    /// No notebook to work on.
    #[error("no notebook selected")]
    NoNotebook,
    /// The notebook has no meeting still to come.
    #[error("no upcoming meeting in this notebook")]
    NoCurrentMeeting,
    /// Nothing matches what was typed.
    #[error("no {kind} matches {query:?}")]
    NotFound {
        /// What was looked for.
        kind: &'static str,
        /// What was typed.
        query: String,
    },
    /// Several things match what was typed.
    #[error("{query:?} matches several {kind}s ({}); type more characters", candidates.join(", "))]
    Ambiguous {
        /// What was looked for.
        kind: &'static str,
        /// What was typed.
        query: String,
        /// The matching ids.
        candidates: Vec<String>,
    },
    /// A ticket (invite or personal link) that cannot be used.
    #[error(transparent)]
    Ticket(#[from] crate::invite::InviteError),
    /// A value the user gave is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// An invite for a notebook this device already holds.
    #[error("this device already holds notebook {title:?} ({id})")]
    AlreadyJoined {
        /// Its title.
        title: String,
        /// Its id (short).
        id: String,
    },
    /// Something this device did to its own data failed (encoding a record, making a key):
    /// never the person's input.
    #[error("an internal step failed: {0}")]
    Internal(String),
    /// A notebook joined from an invite whose first sync has not happened yet.
    #[error("notebook {title:?} has not arrived on this device yet")]
    NotArrived {
        /// Its title.
        title: String,
    },
    /// A meeting's document has not reached this device yet.
    #[error("meeting {meeting} is listed but its notes have not reached this device yet; sync or import a bundle first")]
    MeetingNotHere {
        /// The meeting id.
        meeting: String,
    },
    /// A bundle or export for a notebook this home does not hold.
    #[error(
        "this file is for the notebook {title:?} ({id}), which this home does not hold; {hint}"
    )]
    UnknownNotebook {
        /// Its title.
        title: String,
        /// Its id.
        id: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// A file that claims to be part of a notebook is not.
    #[error("{0}")]
    BadImport(String),
    /// The home's owner (the node or the app) has closed it; nothing more can be done on it.
    #[error("the home was closed while this was waiting for it")]
    HomeClosed,
    /// The home key is missing or does not open the home's secrets.
    #[error("{why}")]
    HomeKey {
        /// What is wrong, naming where the key was looked for.
        why: String,
    },
    /// The device store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A document could not be read or edited.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A bundle file could not be read.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// A saved sheet (`duet edit`) asks for something that cannot be done.
    #[error(transparent)]
    Sheet(#[from] crate::model::sheet::SheetError),
    /// A sheet was written from a version of a document this home does not hold.
    #[error("the meeting was written out from a version this home does not hold (was the file made on another device?)")]
    UnknownVersion,
    /// This device was removed from the notebook, or a peer is a removed device.
    #[error("{who} was removed from the notebook {title:?}; it can no longer sync it")]
    RemovedDevice {
        /// "this device", or the removed device's short id.
        who: String,
        /// The notebook's title.
        title: String,
    },
    /// A personal link ticket from another person's device.
    #[error("this personal link comes from {owner}'s device, who is another person than you in {title:?}: a personal link only joins your own devices")]
    NotYourLink {
        /// The name on the ticket.
        owner: String,
        /// A notebook where the two are different people.
        title: String,
    },
    /// The 1-1 ended: the notebook is read-only.
    #[error("the 1-1 {title:?} ended on {on}: its notebook is read-only (still readable, searchable and exportable)")]
    Ended {
        /// The notebook's title.
        title: String,
        /// The day it ended.
        on: String,
    },
    /// The undo list (or the redo list) of this notebook on this device is empty.
    #[error("nothing to {what} in {title:?} on this device")]
    NothingTo {
        /// "undo" or "redo".
        what: &'static str,
        /// The notebook's title.
        title: String,
    },
    /// An edit on the undo list is no longer in the notebook's history here (the home was
    /// restored from an older copy): it is taken off the list.
    #[error("the edit {what:?} is no longer in this notebook's history (restored from an older copy?): it is taken off the list")]
    EditGone {
        /// The edit, as the undo list names it.
        what: String,
    },
    /// A remaining device has not said which key to seal the next epoch to.
    #[error("device {device} ({person}) has no record of its own to seal the new key to (it has not synced since this version, or another device changed its record); sync it once first, or remove it too")]
    NoSealingKey {
        /// Its short id.
        device: String,
        /// Whose it is.
        person: String,
    },
    /// A device of the other person: a device removes only its own person's devices.
    #[error("device {device} is {person}'s: a device removes only devices of its own person ({person} removes theirs; ending the 1-1 is the way out of it)")]
    NotYourDevice {
        /// Its short id.
        device: String,
        /// Whose it is.
        person: String,
    },
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl From<automerge::AutomergeError> for DuetError {
    fn from(e: automerge::AutomergeError) -> Self {
        DuetError::Model(ModelError::Automerge(e))
    }
}

impl DuetError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        DuetError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

// The device's errors cross the protocol's network code boxed in `NetError::Local`.

impl From<DuetError> for NetError {
    fn from(e: DuetError) -> Self {
        NetError::Local(Box::new(e))
    }
}

impl From<SyncError> for NetError {
    fn from(e: SyncError) -> Self {
        NetError::Local(Box::new(e))
    }
}

impl From<RelaySyncError> for NetError {
    fn from(e: RelaySyncError) -> Self {
        match e {
            RelaySyncError::Refused { why, message } => NetError::RelayRefused { why, message },
            RelaySyncError::Protocol(why) => NetError::Protocol(why),
        }
    }
}

/// The device's own error inside a [`NetError::Local`], when it is one: front ends word
/// it like any other [`DuetError`].
pub fn local_error(e: &NetError) -> Option<&DuetError> {
    match e {
        NetError::Local(inner) => inner.downcast_ref::<DuetError>(),
        _ => None,
    }
}

/// [`local_error`], taking the error: the [`DuetError`] inside, or the error unchanged.
pub fn into_local_error(e: NetError) -> Result<DuetError, NetError> {
    match e {
        NetError::Local(inner) => match inner.downcast::<DuetError>() {
            Ok(duet) => Ok(*duet),
            Err(other) => Err(NetError::Local(other)),
        },
        other => Err(other),
    }
}
