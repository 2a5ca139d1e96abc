//! Push wake-ups, the device's side: the push endpoint the app registered for this
//! device, and per notebook whether its relay holds it. The registration goes out with
//! the notebook's next relay sync (and again whenever the notebook moves to a new
//! mailbox), under a slot derived from this device's key (`duet_protocol::wake`).
use super::*;
use crate::duet::settings::{PushEndpoint, WakeRegistered};
use duet_protocol::wake::{wake_slot, WakeEndpoint};
use std::ops::{Deref, DerefMut};

/// How long a relay's refusal of the endpoint stands before it is asked again (its
/// operator may allow the host meanwhile).
pub const WAKE_REFUSAL_STANDS_MS: i64 = 24 * 60 * 60 * 1000;

/// What a notebook's relay was last told of this device's push endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeRecord {
    /// The mailbox it was told for.
    pub mailbox: String,
    /// The endpoint it holds (`None`: removed).
    pub endpoint: Option<String>,
    /// The relay's refusal, if it refused it.
    pub refused: Option<String>,
    /// When (milliseconds since the epoch).
    pub at_ms: i64,
}

impl Duet {
    /// The registration the notebook's relay still needs, if any: the endpoint is not
    /// the one it holds for the current mailbox (or a refusal is old enough to ask again).
    pub(crate) fn relay_wake_due(&self, notebook: &str) -> Result<Option<WakeDue>, DuetError> {
        let endpoint = self.read_relay().push_endpoint()?;
        let key = self.read_relay().mailbox_key(notebook)?;
        let told = self.store.get(&WakeRegistered(notebook.to_owned()))?;
        let due = match &told {
            // A mailbox told nothing needs nothing removed.
            None => endpoint.is_some(),
            Some(t) if t.mailbox != key.mailbox => endpoint.is_some(),
            Some(t) if t.endpoint != endpoint => true,
            Some(t) => {
                t.refused.is_some()
                    && jiff::Timestamp::now().as_millisecond() - t.at_ms >= WAKE_REFUSAL_STANDS_MS
            }
        };
        if !due {
            return Ok(None);
        }
        let slot = wake_slot(&self.device.to_bytes(), &key.mailbox);
        Ok(Some(WakeDue {
            key,
            slot,
            endpoint,
        }))
    }

    /// Records what the notebook's relay answered a registration.
    pub(crate) fn relay_wake_told(
        &mut self,
        notebook: &str,
        mailbox: String,
        endpoint: Option<String>,
        refused: Option<String>,
    ) -> Result<(), DuetError> {
        let record = WakeRecord {
            mailbox,
            endpoint,
            refused,
            at_ms: jiff::Timestamp::now().as_millisecond(),
        };
        self.store
            .put(&WakeRegistered(notebook.to_owned()), &record)?;
        self.store.flush()?;
        Ok(())
    }
}

impl<D: Deref<Target = Duet>> Relay<D> {
    /// The push endpoint set for this device, if any.
    pub fn push_endpoint(&self) -> Result<Option<String>, DuetError> {
        Ok(self.duet.store.get(&PushEndpoint())?.flatten())
    }

    /// Per notebook, what its relay was last told of the push endpoint.
    pub fn push_registrations(&self) -> Result<Vec<(String, WakeRecord)>, DuetError> {
        Ok(self.duet.store.scan(&WakeRegistered(String::new()))?)
    }
}

impl<D: DerefMut<Target = Duet>> Relay<D> {
    /// Sets (or, with `None`, clears) the push endpoint the relays of every notebook wake
    /// this device at; each relay is told on the notebook's next relay sync.
    pub fn set_push_endpoint(&mut self, endpoint: Option<&str>) -> Result<(), DuetError> {
        let checked = match endpoint {
            Some(url) => Some(
                WakeEndpoint::parse(url)
                    .map_err(|e| DuetError::Invalid(e.to_string()))?
                    .to_string(),
            ),
            None => None,
        };
        self.duet.store.put(&PushEndpoint(), &checked)?;
        self.duet.store.flush()?;
        Ok(())
    }
}
