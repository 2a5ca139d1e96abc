//! The notebook's devices as named members: each device writes its own record (name, TLS
//! fingerprint, sealing key, the day it joined) into the index, and this device remembers
//! when it last heard from each one, directly or through the relay.
use super::*;
use crate::duet::settings::{DeviceName, SenderLastSeen};
use crate::model::members::{self, DeviceRecord};
use crate::sealing::SealKey;
use std::ops::Deref;

/// Longest device name, in characters.
pub const MAX_DEVICE_NAME_CHARS: usize = 60;

/// One device of a notebook, as `duet devices` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceView {
    /// The device's public key (hex): its id.
    pub id: String,
    /// The person it writes as.
    pub person: String,
    /// That person's role.
    pub role: Role,
    /// Its name, once it has said it (devices of an older Duet have none yet).
    pub name: Option<String>,
    /// Its TLS fingerprint (text), once it has said it.
    pub fingerprint: Option<String>,
    /// The day it joined, once it has said it.
    pub added: Option<String>,
    /// When this device last heard from it (Unix milliseconds): a direct sync or a relay
    /// batch of its applied here. `None` for this device itself, and for a device never
    /// heard from.
    pub last_seen: Option<i64>,
    /// Whether it is this device.
    pub this_device: bool,
    /// Whether it was removed from the notebook (it syncs no more).
    pub removed: bool,
    /// Whether it is one of this person's devices linked only for private notes (it is in
    /// the personal space, not in the notebook).
    pub private_notes_only: bool,
    /// Whether another device joined with the same one-time ticket (the inviting device
    /// granted it while it could not reach the relay, and the relay's welcome was taken
    /// too): one of them is not who the ticket was for.
    pub shared_ticket: bool,
}

/// The device name to use when none was set: the machine's host name where it has one.
fn default_device_name(owner: &str) -> String {
    let from_env = std::env::var("HOSTNAME").ok();
    let from_file = || {
        ["/etc/hostname", "/proc/sys/kernel/hostname"]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
    };
    from_env
        .or_else(from_file)
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("{owner}'s device"))
}

impl Duet {
    /// This device's name, as the notebook's other devices see it.
    pub(crate) fn device_name(&self) -> Result<String, DuetError> {
        Ok(self
            .store
            .get(&DeviceName())?
            .unwrap_or_else(|| default_device_name(&self.name)))
    }

    /// Names this device; every notebook it belongs to hears of it on its next sync.
    pub fn set_device_name(&mut self, name: &str) -> Result<String, DuetError> {
        let name = clean_text(name, "device name")?;
        if name.chars().count() > MAX_DEVICE_NAME_CHARS {
            return Err(DuetError::Invalid(format!(
                "a device name is at most {MAX_DEVICE_NAME_CHARS} characters"
            )));
        }
        self.store.put(&DeviceName(), &name)?;
        self.store.flush()?;
        self.cache.borrow_mut().take();
        for record in self.shared_records()? {
            if self.store.load_doc(&record.id, INDEX_DOC)?.is_none() {
                continue;
            }
            let mut nb = Notebook::load(&self.store, &record.id, &self.actor)?;
            if self.write_device_record(&mut nb)? {
                nb.persist(&mut self.store)?;
            }
        }
        Ok(name)
    }

    /// What this device says about itself in a notebook.
    fn own_device_record(&self) -> Result<DeviceRecord, DuetError> {
        let tls = self.peers().tls_identity()?.fingerprint();
        Ok(DeviceRecord {
            name: self.device_name()?,
            added: crate::dates::today().to_string(),
            tls: crate::crypto::fingerprint_text(&tls),
            seal: SealKey::of_device(&self.device).public_hex(),
            invite: String::new(),
            sig: String::new(),
        })
    }

    /// Adds this device to a notebook as writing for `person`, with its own record.
    pub(super) fn enroll_device(&self, nb: &mut Notebook, person: &str) -> Result<(), DuetError> {
        index::add_device(&mut nb.index()?.am, &self.device.public_hex(), person)?;
        self.write_device_record(nb)?;
        self.join_notebook_log(nb, person)?;
        Ok(())
    }

    /// Writes or brings up to date this device's record in a notebook it belongs to (a device
    /// of an older Duet writes its first one here). The day it joined is kept. Returns
    /// whether the index changed; the caller persists it.
    pub(super) fn write_device_record(&self, nb: &mut Notebook) -> Result<bool, DuetError> {
        let me = self.device.public_hex();
        let personal = nb.personal;
        let doc = &mut nb.members_doc()?.am;
        // In a personal space every device holding its secret is one of the person's own.
        if !personal && index::device_person(doc, &me)?.is_none() {
            return Ok(false);
        }
        let mut record = self.own_device_record()?;
        record.invite = self
            .store
            .get(&crate::duet::settings::JoinedWithInvite(nb.id.clone()))?
            .unwrap_or_default();
        let doc = &mut nb.members_doc()?.am;
        let old = members::device_record(doc, &me)?;
        if let Some(old) = &old {
            if !old.added.is_empty() {
                record.added = old.added.clone();
            }
        }
        record.sig = data_encoding::HEXLOWER.encode(
            &self
                .device
                .sign(&members::record_bytes(&nb.id, &me, &record)),
        );
        let doc = &mut nb.members_doc()?.am;
        if old.as_ref() == Some(&record) {
            return Ok(false);
        }
        members::put_device_record(doc, &me, &record)?;
        Ok(true)
    }

    /// Brings this device's membership of a space about to sync up to date: its record, the
    /// move of a space kept in plain records to a log, a join that waited for its invite,
    /// the next epoch that removals call for (and its key for devices that joined since),
    /// and the standing invites of the key in force.
    pub(super) fn register_before_sync(&mut self, notebook: &str) -> Result<(), DuetError> {
        let Some(mut nb) = self.space_with_members(notebook)? else {
            return Ok(());
        };
        self.cache.borrow_mut().take();
        // The record first: a personal space's plain records list the devices that wrote one.
        let mut wrote = self.write_device_record(&mut nb)?;
        wrote |= self.migrate_to_log(&mut nb)?;
        if let Some(person) = self.pending_log_join(&mut nb)? {
            self.join_notebook_log(&mut nb, &person)?;
            wrote = true;
        }
        if wrote {
            nb.persist(&mut self.store)?;
        }
        self.settle_epoch(&mut nb)?;
        if self.settle_standing_invites(&mut nb)? {
            nb.persist(&mut self.store)?;
        }
        self.cache.borrow_mut().take();
        Ok(())
    }

    /// Remembers that a relay batch from `sender` (hex) was applied here just now.
    pub(super) fn heard_from_sender(&self, notebook: &str, sender: &str) -> Result<(), DuetError> {
        self.store.put(
            &SenderLastSeen(notebook.to_owned(), sender.to_owned()),
            &now_millis(),
        )?;
        Ok(())
    }
}

impl<D: Deref<Target = Duet>> Members<D> {
    /// The selected notebook's devices: each person's, this device first among its own.
    pub fn devices(&self) -> Result<Vec<DeviceView>, DuetError> {
        let mut nb = self.duet.load()?;
        let id = nb.id.clone();
        let me = self.duet.device.public_hex();
        let people = index::people(&nb.index()?.am)?;
        let m = self.duet.membership_of(&mut nb)?;
        let (devices, records, removed) = (m.devices, m.records, m.removed);
        self.duet.keep(nb);
        // A device's sender id differs in each epoch's relay mailbox.
        let envelope_keys: Vec<[u8; 32]> = self
            .duet
            .all_sync_keys(&id)?
            .iter()
            .map(|k| k.envelope_key())
            .collect();
        let known: HashMap<String, i64> = self
            .duet
            .peers()
            .known()?
            .into_iter()
            .map(|p| (p.fingerprint, p.last_sync))
            .collect();
        // How many devices each one-time invite let in.
        let mut joined_with: HashMap<&str, usize> = HashMap::new();
        for (device, record) in &records {
            if !record.invite.is_empty() && !removed.contains(device) {
                *joined_with.entry(record.invite.as_str()).or_default() += 1;
            }
        }
        let mut out = Vec::new();
        for (device, person_id) in &devices {
            let device = device.clone();
            let Some(person) = people.iter().find(|p| p.id == *person_id) else {
                continue;
            };
            let record = records
                .iter()
                .find(|(d, _)| *d == device)
                .map(|(_, r)| r.clone());
            let this_device = device == me;
            let is_removed = removed.contains(&device);
            let last_seen = if this_device {
                None
            } else {
                let by_relay = envelope_keys
                    .iter()
                    .filter_map(|key| {
                        let sender = data_encoding::HEXLOWER
                            .encode(&crate::sync::relay::sender_id(key, &device));
                        self.duet
                            .store
                            .get(&SenderLastSeen(id.clone(), sender))
                            .ok()
                            .flatten()
                    })
                    .max();
                let direct = record.as_ref().and_then(|r| known.get(&r.tls).copied());
                by_relay.max(direct)
            };
            let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
            out.push(DeviceView {
                name: record.as_ref().and_then(|r| non_empty(&r.name)),
                fingerprint: record.as_ref().and_then(|r| non_empty(&r.tls)),
                added: record.as_ref().and_then(|r| non_empty(&r.added)),
                id: device,
                person: person.name.clone(),
                role: person.role,
                last_seen,
                this_device,
                removed: is_removed,
                private_notes_only: false,
                shared_ticket: record.as_ref().is_some_and(|r| {
                    !is_removed && joined_with.get(r.invite.as_str()).is_some_and(|n| *n > 1)
                }),
            });
        }
        // This person's devices linked only for private notes: removable like the others.
        let own = self.duet.own_linked_devices(&out)?;
        out.extend(own.into_iter().filter(|d| d.private_notes_only));
        out.sort_by(|a, b| {
            (
                a.removed,
                a.role != Role::Manager,
                !a.this_device,
                &a.name,
                &a.id,
            )
                .cmp(&(
                    b.removed,
                    b.role != Role::Manager,
                    !b.this_device,
                    &b.name,
                    &b.id,
                ))
        });
        Ok(out)
    }
}
