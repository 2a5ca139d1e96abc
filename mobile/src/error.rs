//! The one error type apps see, with messages they can show as they are.

use duet_core::store::StoreError;
use duet_core::DuetError;
use duet_node::net::NetError;

/// What went wrong, by kind, with a message for the person using the app.
///
/// Flat across the boundary: each kind arrives as its own exception class whose message is
/// the text for the person (`e.message` in Kotlin, `str(e)` in Python). A field named
/// `message` would clash with `Throwable.message` in the generated Kotlin, which then does
/// not compile.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
#[non_exhaustive]
pub enum MobileError {
    /// Nothing matches (a notebook, meeting, item or commitment).
    #[error("{message}")]
    NotFound {
        /// For the user.
        message: String,
    },
    /// A value the user gave is not acceptable.
    #[error("{message}")]
    Invalid {
        /// For the user.
        message: String,
    },
    /// Set-up is missing: no notebook yet, or it has not arrived from the other device.
    #[error("{message}")]
    NeedsSetup {
        /// For the user.
        message: String,
    },
    /// The storage failed or is full; what was saved stays saved.
    #[error("{message}")]
    Storage {
        /// For the user.
        message: String,
    },
    /// Another device, the relay or the network failed; retry later.
    #[error("{message}")]
    Network {
        /// For the user.
        message: String,
    },
}

impl From<DuetError> for MobileError {
    /// Words the core's errors for a person holding a phone: what happened and what to do
    /// in the app, never a command to type.
    fn from(e: DuetError) -> Self {
        let message = e.to_string();
        match e {
            DuetError::NotFound { .. } | DuetError::Ambiguous { .. } => {
                MobileError::NotFound { message }
            }
            DuetError::Invalid(_) | DuetError::BadImport(_) => MobileError::Invalid { message },
            DuetError::Ticket(t) => MobileError::Invalid {
                message: match t {
                    duet_core::invite::InviteError::LinkNotInvite => {
                        "This is a personal link for your own devices: open it under \"Link my devices\", not as an invite.".into()
                    }
                    duet_core::invite::InviteError::InviteNotLink => {
                        "This is an invite to a notebook: open it under \"Join a notebook\".".into()
                    }
                    other => other.to_string(),
                },
            },
            DuetError::AlreadyJoined { title, .. } => MobileError::Invalid {
                message: format!("\"{title}\" is already on this device; sync to bring it up to date."),
            },
            DuetError::NotInitialized { .. } => MobileError::NeedsSetup {
                message: "This device has no identity yet: finish setting up the app.".into(),
            },
            DuetError::HomeKey { .. } => MobileError::Storage {
                message: "This device's notes are locked with a key the app could not provide; restore the app's keystore, or set the app up again.".into(),
            },
            DuetError::NoNotebook => MobileError::NeedsSetup {
                message: "No notebook yet: create one, or join with an invite.".into(),
            },
            DuetError::NoCurrentMeeting => MobileError::NeedsSetup {
                message: "No meeting is coming up: put the next one on the calendar.".into(),
            },
            DuetError::NotArrived { title } => MobileError::NeedsSetup {
                message: format!(
                    "\"{title}\" has not arrived yet: sync when the other device or the relay can be reached."
                ),
            },
            DuetError::UnknownNotebook { .. } | DuetError::MeetingNotHere { .. } => {
                MobileError::NeedsSetup { message }
            }
            DuetError::NotYourLink { owner, .. } => MobileError::Invalid {
                message: format!("This personal link comes from {owner}'s device: it only links your own devices."),
            },
            DuetError::Ended { title, on } => MobileError::Invalid {
                message: format!("The 1-1 \"{title}\" ended on {on}: its notes can be read and searched, not changed."),
            },
            DuetError::NothingTo { what, .. } => MobileError::Invalid {
                message: format!("Nothing to {what} in this notebook on this device."),
            },
            DuetError::EditGone { .. } => MobileError::Invalid { message },
            DuetError::NoSealingKey { person, .. } => MobileError::Invalid {
                message: format!("One of {person}'s devices has no record of its own to seal the new key to (not synced since this version, or changed by another device): sync it once first, or remove it too."),
            },
            DuetError::NotYourDevice { person, .. } => MobileError::Invalid {
                message: format!("That device is {person}'s: only {person}'s own devices remove it (ending the 1-1 is the way out of it)."),
            },
            DuetError::RemovedDevice { title, .. } => MobileError::Invalid { message: format!("A device removed from \"{title}\" cannot sync it.") },
            DuetError::Store(StoreError::Locked { .. }) => MobileError::Storage {
                message: "the notebook is open in another process; close it and retry".into(),
            },
            _ => MobileError::Storage { message },
        }
    }
}

impl From<NetError> for MobileError {
    fn from(e: NetError) -> Self {
        let e = match duet_node::net::into_local_error(e) {
            Ok(d) => return d.into(),
            Err(e) => e,
        };
        match e {
            NetError::Invite(why) => MobileError::Invalid {
                message: match why {
                    duet_core::wire::InviteRefusal::Used => {
                        "This invite was already used by another device: ask for a new one.".into()
                    }
                    duet_core::wire::InviteRefusal::Expired => {
                        "This invite has expired: ask for a new one.".into()
                    }
                    duet_core::wire::InviteRefusal::Revoked => {
                        "This invite was revoked by the person who made it: ask for a new one."
                            .into()
                    }
                    duet_core::wire::InviteRefusal::Unknown => {
                        "The inviting device does not know this invite: ask for a new one.".into()
                    }
                },
            },
            NetError::NoRelay { .. } => MobileError::NeedsSetup {
                message: "This notebook has no relay yet: add one in its sync settings.".into(),
            },
            other => MobileError::Network {
                message: other.to_string(),
            },
        }
    }
}
