//! Which keys a notebook syncs with. Until a device is removed they derive from the
//! notebook secret; after, from the epoch in force (see `model::members`), whose key this
//! device opens from its sealed copy in the index, or from the copy a ticket or bundle
//! handed it. Making the next epoch, and sealing the one in force to devices that joined
//! since, happen here too, as does removing a device.
use super::*;
use crate::crypto::{EpochKey, MembershipKey};
use crate::duet::settings::{EpochKeyCopy, RelayFarewell};
use crate::model::members::{self, Epoch, InForce, Removal};
use crate::sealing::{self, SealKey};
use duet_protocol::net::relay_client::Entries;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Deref, DerefMut};

/// The keys a notebook syncs with.
#[derive(Clone)]
pub enum SyncKeys {
    /// No device was ever removed: the notebook secret's keys.
    Initial {
        /// The notebook secret.
        secret: NotebookSecret,
        /// Whether its relay mailbox is bound to the relay (notebooks made since then).
        bound: bool,
    },
    /// An epoch's keys.
    Epoch {
        /// The epoch's id.
        id: String,
        /// Its number.
        number: u64,
        /// Its key.
        key: EpochKey,
    },
}

impl SyncKeys {
    /// The epoch's id; empty for the initial keys.
    pub fn epoch_id(&self) -> &str {
        match self {
            SyncKeys::Initial { .. } => "",
            SyncKeys::Epoch { id, .. } => id,
        }
    }

    /// The key of relay envelopes.
    pub fn envelope_key(&self) -> [u8; 32] {
        match self {
            SyncKeys::Initial { secret, .. } => secret.envelope_key(),
            SyncKeys::Epoch { key, .. } => key.envelope_key(),
        }
    }

    /// The key that proves membership on a P2P connection.
    pub fn membership_key(&self) -> MembershipKey {
        match self {
            SyncKeys::Initial { secret, .. } => secret.membership_key(),
            SyncKeys::Epoch { key, .. } => key.membership_key(),
        }
    }

    /// The mailbox id and token at the relay with `relay_fingerprint`. The initial keys of
    /// a notebook made before relay binding keep the mailbox it always had (named by the
    /// notebook id); those of newer notebooks, and an epoch's, are bound to the relay.
    pub fn mailbox(&self, notebook: &str, relay_fingerprint: &[u8; 32]) -> (String, [u8; 32]) {
        match self {
            SyncKeys::Initial {
                secret,
                bound: true,
            } => secret.relay_mailbox(relay_fingerprint),
            SyncKeys::Initial { secret, .. } => (notebook.to_owned(), secret.relay_token()),
            SyncKeys::Epoch { key, .. } => key.relay_mailbox(relay_fingerprint),
        }
    }
}

/// The person every device of a personal space writes as: the space has one.
pub(super) const OWN_PERSON: &str = "me";

/// The document id that marks a batch as a membership notice, not document changes.
pub(super) const NOTICE_DOC: &str = "membership-notice";
/// Checked device records a process remembers (a few per device of each space; past this
/// it forgets them all and checks again).
const MAX_VERIFIED_RECORDS: usize = 4096;
/// The most older mailboxes one rotation leaves a notice in.
const MAX_FAREWELL_MAILBOXES: usize = 8;
/// The largest notice read (a few removals and epochs are a few KiB).
const MAX_NOTICE_BYTES: usize = 256 * 1024;

/// What a rotation tells the mailboxes it leaves behind: the removals and the epochs, each
/// epoch's key sealed to the devices it was made for. It carries no notes: those who can
/// read an old mailbox include the removed device, which learns only that it was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RotationNotice {
    /// Every removal.
    pub removals: Vec<Removal>,
    /// Every epoch.
    pub epochs: Vec<Epoch>,
    /// The notebook's membership log (its signed operations, encoded): a device that
    /// missed the removal learns it as the log says it, signed.
    pub log: Vec<Vec<u8>>,
}

/// An epoch as older Duets read it in a notice: id, number, maker, day, sealed keys.
type NoticeEpochV1 = (String, u64, String, String, BTreeMap<String, String>);

/// A notice as sent: the removals and epochs as older Duets read them, then their
/// signatures (and each epoch's `after`), which older Duets leave unread after the rest.
#[derive(Serialize, Deserialize)]
struct NoticeWire {
    removals: Vec<(String, String, String)>,
    epochs: Vec<NoticeEpochV1>,
    removal_sigs: Vec<String>,
    epochs_signed: Vec<(Vec<String>, String)>,
    log: Vec<Vec<u8>>,
}

/// A notice as Duets before the membership log sent it (the fields they read; a notice
/// from this Duet reads the same way there, its log left unread after the rest).
#[derive(Deserialize)]
struct NoticeWireV2 {
    removals: Vec<(String, String, String)>,
    epochs: Vec<NoticeEpochV1>,
    removal_sigs: Vec<String>,
    epochs_signed: Vec<(Vec<String>, String)>,
}

/// A notice as older Duets sent it.
#[derive(Deserialize)]
struct NoticeWireV1 {
    removals: Vec<(String, String, String)>,
    epochs: Vec<NoticeEpochV1>,
}

impl RotationNotice {
    pub(super) fn encode(&self) -> Vec<u8> {
        let wire = NoticeWire {
            removals: self
                .removals
                .iter()
                .map(|r| (r.device.clone(), r.by.clone(), r.at.clone()))
                .collect(),
            epochs: self
                .epochs
                .iter()
                .map(|e| {
                    (
                        e.id.clone(),
                        e.number,
                        e.by.clone(),
                        e.at.clone(),
                        e.keys.clone(),
                    )
                })
                .collect(),
            removal_sigs: self.removals.iter().map(|r| r.sig.clone()).collect(),
            epochs_signed: self
                .epochs
                .iter()
                .map(|e| (e.after.clone(), e.sig.clone()))
                .collect(),
            log: self.log.clone(),
        };
        postcard::to_allocvec(&wire).unwrap_or_default()
    }

    fn decode(bytes: &[u8]) -> Option<RotationNotice> {
        let wire = if let Ok(w) = postcard::from_bytes::<NoticeWire>(bytes) {
            w
        } else if let Ok(v2) = postcard::from_bytes::<NoticeWireV2>(bytes) {
            NoticeWire {
                removals: v2.removals,
                epochs: v2.epochs,
                removal_sigs: v2.removal_sigs,
                epochs_signed: v2.epochs_signed,
                log: Vec::new(),
            }
        } else {
            let old: NoticeWireV1 = postcard::from_bytes(bytes).ok()?;
            NoticeWire {
                removals: old.removals,
                epochs: old.epochs,
                removal_sigs: Vec::new(),
                epochs_signed: Vec::new(),
                log: Vec::new(),
            }
        };
        let removals = wire
            .removals
            .into_iter()
            .enumerate()
            .map(|(i, (device, by, at))| Removal {
                device,
                by,
                at,
                sig: wire.removal_sigs.get(i).cloned().unwrap_or_default(),
            })
            .collect();
        let epochs = wire
            .epochs
            .into_iter()
            .enumerate()
            .map(|(i, (id, number, by, at, keys))| {
                let (after, sig) = wire.epochs_signed.get(i).cloned().unwrap_or_default();
                Epoch {
                    id,
                    number,
                    by,
                    at,
                    keys,
                    after,
                    sig,
                }
            })
            .collect();
        Some(RotationNotice {
            removals,
            epochs,
            log: wire.log,
        })
    }
}

/// The notice a batch holds, if it is one.
pub(super) fn notice_in(batch: &[crate::sync::relay::DocChanges]) -> Option<RotationNotice> {
    match batch {
        [one] if one.doc == NOTICE_DOC && one.changes.len() <= MAX_NOTICE_BYTES => {
            RotationNotice::decode(&one.changes)
        }
        _ => None,
    }
}

/// Writes a notice's removals and epochs into the space's membership document.
pub(super) fn apply_notice(nb: &mut Notebook, notice: &RotationNotice) -> Result<(), DuetError> {
    let space = nb.id.clone();
    let doc = &mut nb.members_doc()?.am;
    membership_log::take_log_ops(doc, &space, &notice.log)?;
    for removal in &notice.removals {
        members::remove_device(doc, removal)?;
    }
    for epoch in &notice.epochs {
        let sane = !epoch.id.is_empty()
            && epoch.id.len() <= 32
            && epoch.id.bytes().all(|b| b.is_ascii_alphanumeric());
        if sane {
            members::put_epoch(doc, epoch)?;
        }
    }
    Ok(())
}

/// What a sealed epoch key is bound to.
fn seal_context(notebook: &str, epoch: &str) -> String {
    format!("duet epoch key {notebook}/{epoch}")
}

/// What a notebook's index says of its members.
pub(super) struct Membership {
    /// Devices and the person each writes as.
    pub devices: Vec<(String, String)>,
    /// Each device's own record (none that another device changed since).
    pub records: Vec<(String, members::DeviceRecord)>,
    /// The devices whose record is signed by the device itself: keys are sealed only to
    /// these, and only these prove older keys on a P2P connection.
    pub signed: BTreeSet<String>,
    /// Removed devices.
    pub removed: BTreeSet<String>,
    /// Every epoch.
    pub epochs: Vec<Epoch>,
    /// The epoch in force.
    pub in_force: InForce,
    /// Membership records that do not count, and why (see `members::judge`).
    pub refused: Vec<String>,
}

impl Membership {
    /// The TLS fingerprints of the devices still members: listed devices only, so a record
    /// written for a device the space does not list (a ghost, planted with another
    /// device's fingerprint) never counts, and every device that counts shows in
    /// `duet devices`.
    pub fn remaining_fingerprints(&self) -> BTreeSet<String> {
        self.records
            .iter()
            .filter(|(d, r)| {
                !self.removed.contains(d)
                    && !r.tls.is_empty()
                    && self.signed.contains(d)
                    && self.devices.iter().any(|(listed, _)| listed == d)
            })
            .map(|(_, r)| r.tls.clone())
            .collect()
    }

    /// The TLS fingerprints of removed devices.
    pub fn removed_fingerprints(&self) -> BTreeSet<String> {
        self.records
            .iter()
            .filter(|(d, r)| self.removed.contains(d) && !r.tls.is_empty())
            .map(|(_, r)| r.tls.clone())
            .collect()
    }
}

impl Duet {
    /// A space's members as its membership document says: a notebook's index, or, for
    /// the personal space, the personal document, where every device that wrote its
    /// record is one of the person's own.
    pub(super) fn membership_of(&self, nb: &mut Notebook) -> Result<Membership, DuetError> {
        let personal = nb.personal;
        let space = nb.id.clone();
        let log = self.notebook_log(nb)?;
        let doc = &nb.members_doc()?.am;
        let removals = members::removals(doc)?;
        let epochs = members::epochs(doc)?;
        let mut refused = Vec::new();
        let mut signed = BTreeSet::new();
        let mut records = Vec::new();
        for (device, record) in members::device_records(doc)? {
            match self.record_signed(&space, &device, &record) {
                Some(true) => {
                    signed.insert(device.clone());
                    records.push((device, record));
                }
                // Changed by another device since its device wrote it: its keys are not
                // the device's own, so nothing is sealed to it and it proves nothing.
                Some(false) => refused.push(format!(
                    "the record of device {} not signed by that device",
                    device.get(..8).unwrap_or(&device)
                )),
                None => records.push((device, record)),
            }
        }
        if let Some(log) = log {
            // Who is in, as whose device, and which removals count: the signed log.
            let m = &log.membership;
            // Whose each device is as the plain records say: a notebook's index; in a
            // personal space, every device that wrote its record there.
            let named: BTreeMap<String, String> = if personal {
                records
                    .iter()
                    .map(|(d, _)| (d.clone(), OWN_PERSON.to_owned()))
                    .collect()
            } else {
                index::devices(doc)?.into_iter().collect()
            };
            let mut removed = m.removed.clone();
            if log.log.is_migrated() {
                // Removals made before the log count as the plain records say, when made
                // by a device of the removed one's own person (or unsigned, by an older
                // Duet): the person rule holds for them too.
                let person = |d: &str| m.devices.get(d).or_else(|| named.get(d));
                let before = members::judge(&space, &named, &removals, &[]);
                for r in &removals {
                    let same = r.sig.is_empty() || person(&r.by) == person(&r.device);
                    if before.removed.contains(&r.device) && same {
                        removed.insert(r.device.clone());
                    }
                }
            }
            // Removed devices stay listed as removed, under the person the index names.
            let mut devices: Vec<(String, String)> = m
                .devices
                .iter()
                .filter(|(d, _)| !removed.contains(*d))
                .map(|(d, p)| (d.clone(), p.clone()))
                .collect();
            let mut listed: BTreeMap<String, String> = devices.iter().cloned().collect();
            for gone in &removed {
                let person = named.get(gone).cloned().unwrap_or_default();
                devices.push((gone.clone(), person.clone()));
                listed.entry(gone.clone()).or_insert(person);
            }
            for r in removals.iter().filter(|r| !removed.contains(&r.device)) {
                refused.push(format!(
                    "a removal of device {} that the membership log does not count",
                    r.device.get(..8).unwrap_or(&r.device)
                ));
            }
            let (in_force, more) = members::judge_epochs(&space, &listed, &removed, &epochs, true);
            refused.extend(membership_log::refusals_in_words(&log));
            refused.extend(more);
            let me = self.device.public_hex();
            if named.contains_key(&me) && !m.is_member(&me) && !removed.contains(&me) {
                // Enrolled here, not yet let in: said where its owner looks.
                refused.push(
                    "this device is not in the membership log yet: it joins with its person's invite of the notebook's current key, which one of its person's devices makes at its next sync"
                        .to_owned(),
                );
            }
            return Ok(Membership {
                devices,
                records,
                signed,
                in_force,
                removed,
                epochs,
                refused,
            });
        }
        let devices: Vec<(String, String)> = if personal {
            records
                .iter()
                .map(|(d, _)| (d.clone(), OWN_PERSON.to_owned()))
                .collect()
        } else {
            index::devices(doc)?
        };
        let listed: BTreeMap<String, String> = devices.iter().cloned().collect();
        let judged = members::judge(&space, &listed, &removals, &epochs);
        refused.extend(judged.refused);
        Ok(Membership {
            devices,
            records,
            signed,
            in_force: judged.in_force,
            removed: judged.removed,
            epochs,
            refused,
        })
    }

    /// Every epoch key of the notebook this device can open, by epoch id.
    fn opened_epoch_keys(
        &self,
        notebook: &str,
        epochs: &[Epoch],
    ) -> Result<BTreeMap<String, EpochKey>, DuetError> {
        let me = self.device.public_hex();
        let seal_key = SealKey::of_device(&self.device);
        let mut out = BTreeMap::new();
        for epoch in epochs {
            let context = seal_context(notebook, &epoch.id);
            let from_index = epoch
                .keys
                .get(&me)
                .and_then(|hex| data_encoding::HEXLOWER.decode(hex.as_bytes()).ok())
                .and_then(|sealed| seal_key.open(&context, &sealed).ok());
            let opened = match from_index {
                Some(bytes) => Some(bytes),
                None => match self
                    .store
                    .get(&EpochKeyCopy(notebook.to_owned(), epoch.id.clone()))?
                {
                    Some((_, sealed)) => self.home_key.open(&context, &sealed)?,
                    None => None,
                },
            };
            if let Some(key) = opened.and_then(|b| EpochKey::from_bytes(&b).ok()) {
                out.insert(epoch.id.clone(), key);
            }
        }
        Ok(out)
    }

    /// The keys `notebook` syncs with now: the epoch in force when this device holds its
    /// key; else the newest epoch it holds (a device not yet handed the newest one, which
    /// the others accept from a device they know); else the secret's.
    pub(super) fn sync_keys(&self, notebook: &str) -> Result<SyncKeys, DuetError> {
        Ok(self
            .all_sync_keys(notebook)?
            .into_iter()
            .next()
            .unwrap_or_else(|| unreachable!("the initial keys are always there")))
    }

    /// Every set of keys this device holds for `notebook`, the ones it syncs with first,
    /// then older ones (a device offline during a rotation still proves those).
    pub(super) fn all_sync_keys(&self, notebook: &str) -> Result<Vec<SyncKeys>, DuetError> {
        let secret = self.secret_of(&self.record(notebook)?)?;
        // A grant says so before the index has arrived; the index says so after.
        let told_bound = self
            .store
            .get(&crate::duet::settings::RelayBound(notebook.to_owned()))?
            .unwrap_or(false);
        let taken = self.cache.borrow_mut().take();
        let cached = match taken {
            Some(nb) if nb.id == notebook => Some(nb),
            Some(other) => {
                self.keep(other);
                None
            }
            None => None,
        };
        let space = match cached {
            Some(nb) => Some(nb),
            None => self.space_with_members(notebook)?,
        };
        let (epochs, in_force, bound) = if let Some(mut nb) = space {
            let mut m = self.membership_of(&mut nb)?;
            let personal = nb.personal;
            // A personal space says so only in the setting (it has no index).
            let bound = !personal && crate::model::members::relay_bound(&nb.index()?.am)?;
            if personal {
                // A device just linked has a personal document of its own before the
                // space's arrives: the epoch its ticket handed over counts meanwhile.
                for copied in self.copied_epochs(notebook)? {
                    if !m.epochs.iter().any(|e| e.id == copied.id) {
                        m.epochs.push(copied);
                    }
                }
            } else {
                self.keep(nb);
            }
            (m.epochs, m.in_force, bound || told_bound)
        } else {
            (self.copied_epochs(notebook)?, InForce::Initial, told_bound)
        };
        let initial = SyncKeys::Initial { secret, bound };
        let opened = self.opened_epoch_keys(notebook, &epochs)?;
        let mut held: Vec<&Epoch> = epochs
            .iter()
            .filter(|e| opened.contains_key(&e.id))
            .collect();
        held.sort_by(|a, b| (b.number, &b.id).cmp(&(a.number, &a.id)));
        let in_force_id = match &in_force {
            InForce::Epoch(e) if opened.contains_key(&e.id) => Some(e.id.clone()),
            _ => None,
        };
        let mut out = Vec::new();
        let as_keys = |e: &Epoch| SyncKeys::Epoch {
            id: e.id.clone(),
            number: e.number,
            key: opened[&e.id].clone(),
        };
        if let Some(id) = &in_force_id {
            if let Some(e) = held.iter().find(|e| &e.id == id) {
                out.push(as_keys(e));
            }
        }
        for e in held {
            if Some(&e.id) != in_force_id.as_ref() {
                out.push(as_keys(e));
            }
        }
        out.push(initial);
        Ok(out)
    }

    /// Epochs known only from copies handed over outside the index (a join whose index
    /// has not arrived).
    fn copied_epochs(&self, notebook: &str) -> Result<Vec<Epoch>, DuetError> {
        Ok(self
            .store
            .scan(&EpochKeyCopy(notebook.to_owned(), String::new()))?
            .into_iter()
            .map(|(id, (number, _))| Epoch {
                id,
                number,
                ..Epoch::default()
            })
            .collect())
    }

    /// Keeps an epoch key handed over by a ticket or bundle.
    pub(super) fn keep_epoch_copy(
        &self,
        notebook: &str,
        epoch: &str,
        number: u64,
        key: &EpochKey,
    ) -> Result<(), DuetError> {
        let sealed = self
            .home_key
            .seal(&seal_context(notebook, epoch), key.as_bytes());
        self.store.put(
            &EpochKeyCopy(notebook.to_owned(), epoch.to_owned()),
            &(number, sealed),
        )?;
        Ok(())
    }

    /// The epoch in force's id, number and key, when this device holds it (for tickets and
    /// bundles, which hand it to a joining device).
    /// Whether `notebook`'s initial relay mailbox is bound to its relay.
    pub(super) fn relay_bound(&self, notebook: &str) -> Result<bool, DuetError> {
        Ok(self
            .all_sync_keys(notebook)?
            .iter()
            .any(|k| matches!(k, SyncKeys::Initial { bound: true, .. })))
    }

    pub(super) fn epoch_grant(
        &self,
        notebook: &str,
    ) -> Result<Option<(String, u64, EpochKey)>, DuetError> {
        Ok(match self.sync_keys(notebook)? {
            SyncKeys::Initial { .. } => None,
            SyncKeys::Epoch { id, number, key } => Some((id, number, key)),
        })
    }

    /// The epoch in force as a ticket or grant hands it to a new device (see
    /// [`Duet::epoch_grant`]).
    pub(super) fn ticket_epoch(
        &self,
        notebook: &str,
    ) -> Result<Option<crate::invite::EpochGrant>, DuetError> {
        Ok(self
            .epoch_grant(notebook)?
            .map(|(id, number, key)| crate::invite::EpochGrant {
                id,
                number,
                key: *key.as_bytes(),
            }))
    }

    /// Makes the next epoch when removals left none in force, and seals the epoch in force
    /// to remaining devices that joined since it was made; saves the notebook when it did.
    /// Returns whether it did.
    pub(super) fn settle_epoch(&mut self, nb: &mut Notebook) -> Result<bool, DuetError> {
        let me = self.device.public_hex();
        let m = self.membership_of(nb)?;
        if m.removed.contains(&me) || !m.devices.iter().any(|(d, _)| *d == me) {
            return Ok(false);
        }
        let remaining: Vec<(String, String)> = m
            .records
            .iter()
            .filter(|(d, r)| {
                !m.removed.contains(d)
                    && !r.seal.is_empty()
                    && m.signed.contains(d)
                    && m.devices.iter().any(|(x, _)| x == d)
            })
            .map(|(d, r)| (d.clone(), r.seal.clone()))
            .collect();
        let (epoch, key) = match &m.in_force {
            InForce::Initial => return Ok(false),
            InForce::Rotate { next } => {
                let key = EpochKey::generate();
                let mut epoch = Epoch {
                    id: ids::new_id(),
                    number: *next,
                    by: me.clone(),
                    at: crate::dates::today().to_string(),
                    keys: BTreeMap::new(),
                    after: m.removed.iter().cloned().collect(),
                    sig: String::new(),
                };
                epoch.sig = data_encoding::HEXLOWER
                    .encode(&self.device.sign(&members::epoch_bytes(&nb.id, &epoch)));
                (epoch, key)
            }
            InForce::Epoch(e) => {
                let opened = self.opened_epoch_keys(&nb.id, std::slice::from_ref(e))?;
                let Some(key) = opened.get(&e.id).cloned() else {
                    return Ok(false);
                };
                if remaining.iter().all(|(d, _)| e.keys.contains_key(d)) {
                    return Ok(false);
                }
                (e.clone(), key)
            }
        };
        let context = seal_context(&nb.id, &epoch.id);
        let mut keys = BTreeMap::new();
        for (device, public) in &remaining {
            if epoch.keys.contains_key(device) {
                continue;
            }
            let sealed = sealing::seal_to(public, &context, key.as_bytes())
                .map_err(|e| DuetError::Internal(format!("sealing an epoch key: {e}")))?;
            keys.insert(device.clone(), data_encoding::HEXLOWER.encode(&sealed));
        }
        let rotated = matches!(m.in_force, InForce::Rotate { .. });
        let new_id = epoch.id.clone();
        members::put_epoch(&mut nb.members_doc()?.am, &Epoch { keys, ..epoch })?;
        if rotated {
            // The next devices join with the new epoch's standing invites: the removed
            // device knew the older ones, which the removal cancels.
            self.write_standing_invites(nb, key.as_bytes())?;
        }
        nb.persist(&mut self.store)?;
        if rotated {
            // The mailboxes left behind get a notice under their old keys: a device
            // offline now finds its sealed copy of the new key there.
            self.prepare_farewell(&nb.id, &new_id)?;
        }
        Ok(true)
    }

    /// The devices of this person's personal space still in it, as `devices` would show
    /// them beside `notebook_devices` (this device's person and role).
    pub(super) fn own_linked_devices(
        &self,
        notebook_devices: &[DeviceView],
    ) -> Result<Vec<DeviceView>, DuetError> {
        let Some(space) = self.read_private_notes().space()? else {
            return Ok(Vec::new());
        };
        let Some(mut nb) = self.space_with_members(&space)? else {
            return Ok(Vec::new());
        };
        let m = self.membership_of(&mut nb)?;
        let me = self.device.public_hex();
        let Some(mine) = notebook_devices.iter().find(|d| d.this_device) else {
            return Ok(Vec::new());
        };
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        // Devices the space lists (its log's members, once it keeps one), not removed.
        Ok(m.records
            .iter()
            .filter(|(d, _)| !m.removed.contains(d) && m.devices.iter().any(|(x, _)| x == d))
            .map(|(d, r)| DeviceView {
                id: d.clone(),
                person: mine.person.clone(),
                role: mine.role,
                name: non_empty(&r.name),
                fingerprint: non_empty(&r.tls),
                added: non_empty(&r.added),
                last_seen: None,
                this_device: *d == me,
                removed: false,
                private_notes_only: !notebook_devices
                    .iter()
                    .any(|n| n.id == *d && !n.private_notes_only),
                shared_ticket: false,
            })
            .collect())
    }

    /// [`members::record_signed`], remembering the records that checked out.
    fn record_signed(
        &self,
        space: &str,
        device: &str,
        record: &members::DeviceRecord,
    ) -> Option<bool> {
        if record.sig.is_empty() {
            return None;
        }
        let mut hasher = blake3::Hasher::new();
        hasher.update(&members::record_bytes(space, device, record));
        hasher.update(device.as_bytes());
        hasher.update(record.sig.as_bytes());
        let seen = *hasher.finalize().as_bytes();
        if self.verified_records.borrow().contains(&seen) {
            return Some(true);
        }
        let ok = members::record_signed(space, device, record)?;
        if ok {
            let mut verified = self.verified_records.borrow_mut();
            if verified.len() >= MAX_VERIFIED_RECORDS {
                verified.clear();
            }
            verified.insert(seen);
        }
        Some(ok)
    }

    /// This device's removal of `device` from `space`, signed.
    fn signed_removal(&self, space: &str, device: &str) -> Removal {
        let mut removal = Removal {
            device: device.to_owned(),
            by: self.device.public_hex(),
            at: crate::dates::today().to_string(),
            sig: String::new(),
        };
        removal.sig = data_encoding::HEXLOWER
            .encode(&self.device.sign(&members::removal_bytes(space, &removal)));
        removal
    }

    /// Removes `device` from this person's personal space and moves the space to a new
    /// epoch sealed to the devices that remain.
    fn remove_from_personal_space(&mut self, device: &str) -> Result<(), DuetError> {
        let Some(space) = self.private_notes().space()? else {
            return Ok(());
        };
        let Some(mut nb) = self.space_with_members(&space)? else {
            return Ok(());
        };
        // This device must be in the space's own list to make its next epoch.
        self.write_device_record(&mut nb)?;
        self.remove_in_log(&mut nb, device)?;
        let removal = self.signed_removal(&nb.id, device);
        members::remove_device(&mut nb.members_doc()?.am, &removal)?;
        nb.persist(&mut self.store)?;
        self.settle_epoch(&mut nb)?;
        Ok(())
    }

    /// Seals a notice of the notebook's membership for the relay mailbox of every older
    /// epoch this device holds, before the keys move on (see [`RotationNotice`]).
    fn prepare_farewell(&mut self, notebook: &str, in_force: &str) -> Result<(), DuetError> {
        let Some(setting) = self.relay().setting(notebook)? else {
            return Ok(());
        };
        let Some(relay_fp) = crate::crypto::parse_fingerprint(&setting.fingerprint) else {
            return Ok(());
        };
        let notice = {
            let mut nb = self.load_for_sync(notebook)?;
            let m = self.membership_of(&mut nb)?;
            RotationNotice {
                removals: members::removals(&nb.members_doc()?.am)?,
                epochs: m.epochs,
                log: self.log_ops_of(&mut nb)?,
            }
        };
        let payload = notice.encode();
        let batch = [crate::sync::relay::DocChanges {
            doc: NOTICE_DOC.to_owned(),
            changes: payload,
            heads: Vec::new(),
        }];
        let mut targets: Vec<FarewellTarget> = self.relay().farewell(notebook)?.unwrap_or_default();
        let older = self
            .all_sync_keys(notebook)?
            .into_iter()
            .filter(|k| k.epoch_id() != in_force);
        for keys in older.take(MAX_FAREWELL_MAILBOXES) {
            let key = keys.envelope_key();
            let (mailbox, token) = keys.mailbox(notebook, &relay_fp);
            let sender = crate::sync::relay::sender_id(&key, &self.device.public_hex());
            // Outside this device's chain (counter 0): a notice stands alone.
            let envelope = crate::sync::relay::seal(
                &key,
                notebook,
                sender,
                crate::sync::relay::Chain::default(),
                &batch,
                &self.device,
            );
            targets.retain(|t| t.mailbox != mailbox);
            targets.push(FarewellTarget {
                epoch: keys.epoch_id().to_owned(),
                mailbox,
                token,
                envelope,
            });
        }
        self.store
            .put(&RelayFarewell(notebook.to_owned()), &Some(targets))?;
        self.store.flush()?;
        Ok(())
    }

    /// The mailbox `mailbox` has its notice (or another device's).
    pub(crate) fn relay_farewell_sent(
        &self,
        notebook: &str,
        mailbox: &str,
    ) -> Result<(), DuetError> {
        let mut targets = self.read_relay().farewell(notebook)?.unwrap_or_default();
        targets.retain(|t| t.mailbox != mailbox);
        self.store.put(
            &RelayFarewell(notebook.to_owned()),
            &(!targets.is_empty()).then_some(targets),
        )?;
        self.store.flush()?;
        Ok(())
    }

    /// Applies the membership notices among `entries` of the mailbox of epoch `epoch`
    /// (empty: the initial one): a device whose own notice was refused there learns of the
    /// rotation another device made meanwhile, and makes the next epoch if both call for it.
    pub(crate) fn apply_notices(
        &mut self,
        notebook: &str,
        epoch: &str,
        entries: Entries,
    ) -> Result<usize, DuetError> {
        let Some(keys) = self
            .all_sync_keys(notebook)?
            .into_iter()
            .find(|k| k.epoch_id() == epoch)
        else {
            return Ok(0);
        };
        self.cache.borrow_mut().take();
        let mut nb = self.load_for_sync(notebook)?;
        let mut applied = 0;
        for (_, bytes) in entries {
            let Ok(opened) = crate::sync::relay::open(&keys.envelope_key(), notebook, &bytes)
            else {
                continue;
            };
            if let Some(notice) = notice_in(&opened.docs) {
                apply_notice(&mut nb, &notice)?;
                applied += 1;
            }
        }
        if applied > 0 {
            nb.persist(&mut self.store)?;
            self.settle_epoch(&mut nb)?;
        }
        Ok(applied)
    }
}

impl<D: Deref<Target = Duet>> Members<D> {
    /// The membership records of `notebook` that do not count (a removal or key epoch not
    /// signed by a device entitled to it), in words: `duet status` reports them.
    pub fn refused(&self, notebook: &str) -> Result<Vec<String>, DuetError> {
        match self.duet.space_with_members(notebook)? {
            Some(mut nb) => Ok(self.duet.membership_of(&mut nb)?.refused),
            None => Ok(Vec::new()),
        }
    }
}

impl<D: DerefMut<Target = Duet>> Members<D> {
    /// Removes a device (by id prefix) from the selected notebook and from this person's
    /// personal space: it is refused by the others from now on, and new epochs' keys,
    /// sealed to each remaining device, take over in both, so it can open nothing written
    /// after, private notes included. A device linked only for private notes is found in
    /// the personal space. Returns the removed device.
    pub fn remove(&mut self, device: &str) -> Result<DeviceView, DuetError> {
        let all = self.duet.members().devices()?;
        let own = self.duet.own_linked_devices(&all)?;
        let wanted = device.trim().to_ascii_lowercase();
        let mut matches: Vec<&DeviceView> =
            all.iter().filter(|d| d.id.starts_with(&wanted)).collect();
        matches.extend(
            own.iter()
                .filter(|d| d.id.starts_with(&wanted) && !all.iter().any(|a| a.id == d.id)),
        );
        let target = match matches.as_slice() {
            [one] if !wanted.is_empty() => (*one).clone(),
            [] | [_] => {
                return Err(DuetError::NotFound {
                    kind: "device",
                    query: device.to_owned(),
                })
            }
            many => {
                return Err(DuetError::Ambiguous {
                    kind: "device",
                    query: device.to_owned(),
                    candidates: many
                        .iter()
                        .map(|d| d.id[..8.min(d.id.len())].to_owned())
                        .collect(),
                })
            }
        };
        if target.this_device {
            return Err(DuetError::Invalid(
                "this is this device: remove it from another of the notebook's devices".into(),
            ));
        }
        let in_notebook = all
            .iter()
            .any(|d| d.id == target.id && !d.private_notes_only);
        let mut nb = self.duet.load()?;
        if in_notebook {
            // The person rule first: nothing is written for a device of the other person.
            self.duet.remove_in_log(&mut nb, &target.id)?;
            let m = self.duet.membership_of(&mut nb)?;
            for (d, person) in &m.devices {
                if *d == target.id || m.removed.contains(d) {
                    continue;
                }
                let sealable = m.signed.contains(d)
                    && m.records.iter().any(|(x, r)| x == d && !r.seal.is_empty());
                if !sealable {
                    let person = all
                        .iter()
                        .find(|v| v.id == *d)
                        .map(|v| v.person.clone())
                        .unwrap_or_else(|| person.clone());
                    return Err(DuetError::NoSealingKey {
                        device: d[..8.min(d.len())].to_owned(),
                        person,
                    });
                }
            }
            let removal = self.duet.signed_removal(&nb.id, &target.id);
            members::remove_device(&mut nb.index()?.am, &removal)?;
            self.duet.save_unlisted(&mut nb)?;
            self.duet.settle_epoch(&mut nb)?;
        }
        self.duet.keep(nb);
        if own.iter().any(|d| d.id == target.id) {
            self.duet.remove_from_personal_space(&target.id)?;
        }
        Ok(DeviceView {
            removed: true,
            ..target
        })
    }
}

impl<D: Deref<Target = Duet>> Relay<D> {
    /// The notices waiting for older mailboxes, if any.
    pub fn farewell(&self, notebook: &str) -> Result<Option<Vec<FarewellTarget>>, DuetError> {
        Ok(self
            .duet
            .store
            .get(&RelayFarewell(notebook.to_owned()))?
            .flatten()
            .filter(|t| !t.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(tls: &str) -> members::DeviceRecord {
        members::DeviceRecord {
            tls: tls.into(),
            ..Default::default()
        }
    }

    #[test]
    fn notices_read_both_ways_between_this_duet_and_an_older_one() {
        let notice = RotationNotice {
            removals: vec![Removal {
                device: "phone".into(),
                by: "laptop".into(),
                at: "2026-12-07".into(),
                sig: "ab".repeat(64),
            }],
            epochs: vec![Epoch {
                id: "e1".into(),
                number: 2,
                by: "laptop".into(),
                at: "2026-12-07".into(),
                keys: BTreeMap::from([("laptop".into(), "sealed".into())]),
                after: vec!["phone".into()],
                sig: "cd".repeat(64),
            }],
            log: vec![vec![1, 2, 3]],
        };
        let bytes = notice.encode();
        assert_eq!(RotationNotice::decode(&bytes), Some(notice.clone()));
        // A Duet before the membership log reads the signed notice and leaves the log.
        let v2: NoticeWireV2 = postcard::from_bytes(&bytes).expect("a reader before the log");
        assert_eq!(v2.removal_sigs, vec!["ab".repeat(64)]);
        let before_log = postcard::to_allocvec(&(
            &v2.removals,
            &v2.epochs,
            &v2.removal_sigs,
            &v2.epochs_signed,
        ))
        .expect("encode");
        let read = RotationNotice::decode(&before_log).expect("decodes");
        assert_eq!(read.removals, notice.removals);
        assert!(read.log.is_empty());
        // An older Duet reads the part it knows and leaves the signatures.
        let old: NoticeWireV1 = postcard::from_bytes(&bytes).expect("older reader");
        assert_eq!(old.removals[0].0, "phone");
        assert_eq!(old.epochs[0].0, "e1");
        // What an older Duet sent reads here, unsigned.
        let older = postcard::to_allocvec(&(&old.removals, &old.epochs)).expect("encode");
        let read = RotationNotice::decode(&older).expect("decodes");
        assert_eq!(read.removals[0].device, "phone");
        assert!(read.removals[0].sig.is_empty() && read.epochs[0].sig.is_empty());
        assert_eq!(read.epochs[0].keys, notice.epochs[0].keys);
    }

    #[test]
    fn a_forged_rotation_notice_changes_nothing_and_is_reported() {
        use duet_protocol::membership::{Body, Op};
        let dir = tempfile::tempdir().expect("tempdir");
        let mut duet = Duet::init(dir.path(), "Ana").expect("init");
        duet.notebook_new(
            "Ana / Bo",
            Role::Manager,
            "Bo",
            Default::default(),
            crate::dates::today(),
        )
        .expect("notebook");
        let me = duet.device.public_hex();
        let mut nb = duet.load().expect("load");
        let heads = duet
            .notebook_log(&mut nb)
            .expect("log")
            .expect("a log")
            .log
            .heads();
        // A holder of an old key (a removed device, say) seals a notice that removes this
        // device, with a removal record, a log operation and an epoch of its own.
        let stranger = crate::crypto::DeviceKey::generate();
        let mut removal = Removal {
            device: me.clone(),
            by: stranger.public_hex(),
            at: "2026-12-08".into(),
            sig: String::new(),
        };
        removal.sig = data_encoding::HEXLOWER
            .encode(&stranger.sign(&members::removal_bytes(&nb.id, &removal)));
        let op = Op {
            space: nb.id.clone(),
            parents: heads,
            author: stranger.public_hex(),
            body: Body::remove(&me),
        }
        .sign(&stranger);
        let mut epoch = Epoch {
            id: "forged1".into(),
            number: 7,
            by: stranger.public_hex(),
            at: "2026-12-08".into(),
            keys: BTreeMap::from([(stranger.public_hex(), "00".into())]),
            after: vec![me.clone()],
            sig: String::new(),
        };
        epoch.sig =
            data_encoding::HEXLOWER.encode(&stranger.sign(&members::epoch_bytes(&nb.id, &epoch)));
        let notice = RotationNotice {
            removals: vec![removal],
            epochs: vec![epoch],
            log: vec![op.to_bytes()],
        };
        let read = notice_in(&[crate::sync::relay::DocChanges {
            doc: NOTICE_DOC.to_owned(),
            changes: notice.encode(),
            heads: Vec::new(),
        }])
        .expect("a notice");
        apply_notice(&mut nb, &read).expect("applied");
        let m = duet.membership_of(&mut nb).expect("membership");
        assert!(m.removed.is_empty(), "{:?}", m.removed);
        assert!(m.devices.iter().any(|(d, _)| *d == me));
        assert_eq!(m.in_force, InForce::Initial);
        let refused = m.refused.join("\n");
        assert!(
            refused.contains("that the membership log does not count"),
            "{refused}"
        );
        assert!(refused.contains("its author was not a member"), "{refused}");
        assert!(refused.contains("forged1"), "{refused}");
    }

    #[test]
    fn a_record_for_a_device_the_space_does_not_list_proves_nothing() {
        let m = Membership {
            devices: vec![
                ("laptop".into(), "p1".into()),
                ("phone".into(), "p1".into()),
            ],
            records: vec![
                ("laptop".into(), record("fp-laptop")),
                ("phone".into(), record("fp-phone")),
                ("ghost".into(), record("fp-attacker")),
            ],
            removed: BTreeSet::from(["phone".to_owned()]),
            signed: BTreeSet::from(["laptop".to_owned(), "phone".to_owned(), "ghost".to_owned()]),
            epochs: Vec::new(),
            in_force: InForce::Initial,
            refused: Vec::new(),
        };
        assert_eq!(
            m.remaining_fingerprints(),
            BTreeSet::from(["fp-laptop".to_owned()])
        );
        assert_eq!(
            m.removed_fingerprints(),
            BTreeSet::from(["fp-phone".to_owned()])
        );
    }
}
