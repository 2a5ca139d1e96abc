//! The one error type apps see, with messages they can show as they are.

use duet_core::net::NetError;
use duet_core::store::StoreError;
use duet_core::DuetError;

/// What went wrong, by kind, with a message for the person using the app.
#[derive(Debug, thiserror::Error, uniffi::Error)]
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
    fn from(e: DuetError) -> Self {
        let message = e.to_string();
        match e {
            DuetError::NotFound { .. } | DuetError::Ambiguous { .. } => {
                MobileError::NotFound { message }
            }
            DuetError::Invalid(_) | DuetError::BadImport(_) => MobileError::Invalid { message },
            DuetError::NotInitialized { .. }
            | DuetError::NoNotebook
            | DuetError::NoCurrentMeeting
            | DuetError::NotArrived { .. }
            | DuetError::UnknownNotebook { .. }
            | DuetError::MeetingNotHere { .. } => MobileError::NeedsSetup { message },
            DuetError::Store(StoreError::Locked { .. }) => MobileError::Storage {
                message: "the notebook is open in another process; close it and retry".into(),
            },
            _ => MobileError::Storage { message },
        }
    }
}

impl From<NetError> for MobileError {
    fn from(e: NetError) -> Self {
        match e {
            NetError::Duet(d) => d.into(),
            other => MobileError::Network {
                message: other.to_string(),
            },
        }
    }
}
