//! The notebook's devices as named members, for the phone: list them, name this one,
//! remove a lost one; and ending the 1-1.

use crate::app::DuetApp;
use crate::error::MobileError;
use crate::records::{NotebookRecord, PersonRole};

/// One device of the current notebook.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceRecord {
    /// The device's public key (hex): its id.
    pub id: String,
    /// The person it writes as.
    pub person: String,
    /// That person's role.
    pub role: PersonRole,
    /// Its name, once it has said it (a device of an older Duet has none yet).
    pub name: Option<String>,
    /// Its TLS fingerprint, once it has said it.
    pub fingerprint: Option<String>,
    /// The day it joined (`YYYY-MM-DD`), once it has said it.
    pub added: Option<String>,
    /// When this phone last heard from it (Unix milliseconds); none for this device and for
    /// a device never heard from.
    pub last_seen_ms: Option<i64>,
    /// Whether it is this device.
    pub this_device: bool,
    /// Whether it was removed from the notebook.
    pub removed: bool,
    /// Whether it is one of this person's devices linked only for private notes.
    pub private_notes_only: bool,
    /// Whether another device joined with the same one-time ticket: one of them is not who
    /// the ticket was for (remove it).
    pub shared_ticket: bool,
}

impl From<duet_core::DeviceView> for DeviceRecord {
    fn from(d: duet_core::DeviceView) -> Self {
        Self {
            id: d.id,
            person: d.person,
            role: d.role.into(),
            name: d.name,
            fingerprint: d.fingerprint,
            added: d.added,
            last_seen_ms: d.last_seen,
            this_device: d.this_device,
            removed: d.removed,
            private_notes_only: d.private_notes_only,
            shared_ticket: d.shared_ticket,
        }
    }
}

#[uniffi::export]
impl DuetApp {
    /// The current notebook's devices, with who each belongs to and when it was last heard
    /// from, then this person's devices linked only for private notes.
    pub fn devices(&self) -> Result<Vec<DeviceRecord>, MobileError> {
        self.with(move |d| Ok(d.members().devices()?.into_iter().map(Into::into).collect()))
    }

    /// Removes a device (by id, or a prefix of it) from the current notebook and from this
    /// person's private notes: a lost phone. The other devices refuse it from now on, and
    /// the notebook and the private notes move to new keys it does not have; they reach
    /// the other devices with their next sync. A device linked only for private notes
    /// (listed by `devices` with `private_notes_only`) is removed from them alone.
    pub fn remove_device(&self, device: String) -> Result<DeviceRecord, MobileError> {
        self.edit("device removed", move |d| {
            Ok(d.members().remove(&device)?.into())
        })
    }

    /// Ends the current notebook's 1-1 (the report moves to another manager): it stays
    /// readable, searchable and exportable on both sides, read-only; the end reaches the
    /// other device, and the relay, with the next sync.
    pub fn end_notebook(&self) -> Result<NotebookRecord, MobileError> {
        self.edit("1-1 ended", move |d| Ok(d.end_notebook()?.into()))
    }

    /// Names this device ("Ana's phone"); the other devices see it after their next sync.
    pub fn set_device_name(&self, name: String) -> Result<String, MobileError> {
        self.edit("device named", move |d| Ok(d.set_device_name(&name)?))
    }
}
