//! The notebook's devices as named members, kept in the index document.
//!
//! ```text
//! ROOT { devices         { device_pubkey: person_id },      (see `index`)
//!        device/<pubkey>  { name, added, tls, seal, invite }, written by that device only
//!        removed/<pubkey> { by, at },                        a removal
//!        epoch/<id>       { number, by, at, keys { device_pubkey: sealed epoch key (hex) } }
//!        ended            { by, at },                        the 1-1 ended: read-only
//! ```
//!
//! Each record is its own map at the root, made by one device (never a shared map that two
//! devices could create at once, which Automerge would resolve by hiding one of them). Older
//! Duets ignore root keys they do not know.
//!
//! Keys come in epochs. Until a device is removed, a notebook's keys derive from its secret
//! (the *initial* epoch). Removing a device makes a new epoch: a fresh key sealed to each
//! remaining device. The epoch in force is the greatest `(number, id)` among the epochs
//! sealed to no removed device; when removals leave none, any remaining device makes the
//! next one ([`in_force`]). So two removals made offline on two devices converge on one epoch
//! that excludes both.

use super::am;
use super::ModelError;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ReadDoc, ROOT};
use std::collections::{BTreeMap, BTreeSet};

/// The root-key prefix of a device's own record.
const DEVICE_PREFIX: &str = "device/";

/// What a device says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceRecord {
    /// The name its owner gave it ("Ana's laptop").
    pub name: String,
    /// The day it joined the notebook (`YYYY-MM-DD`).
    pub added: String,
    /// Its TLS certificate fingerprint (text), which names it on a P2P connection.
    pub tls: String,
    /// Its public X25519 key (hex): keys are sealed to it.
    pub seal: String,
    /// The one-time invite it joined with (the invite's id on the inviting device), empty
    /// when it joined otherwise: two devices naming one invite joined with one ticket.
    pub invite: String,
    /// The device's own signature of [`record_bytes`] (hex); empty when written by an
    /// older Duet.
    pub sig: String,
}

/// What a device signs of its own record: every field, so no other device can change
/// what it says (its keys above all).
pub fn record_bytes(space: &str, device: &str, r: &DeviceRecord) -> Vec<u8> {
    let mut bytes = b"duet 2026-12 device record v1\0".to_vec();
    bytes.extend(
        postcard::to_allocvec(&(space, device, &r.name, &r.added, &r.tls, &r.seal, &r.invite))
            .unwrap_or_default(),
    );
    bytes
}

/// Whether a record is its device's own: `Some(true)` signed by it, `Some(false)` signed
/// by something else (altered since), `None` unsigned (an older Duet's).
pub fn record_signed(space: &str, device: &str, r: &DeviceRecord) -> Option<bool> {
    (!r.sig.is_empty()).then(|| signed_by(device, &record_bytes(space, device, r), &r.sig))
}

/// A device's own record, if it wrote one.
pub fn device_record(doc: &AutoCommit, device: &str) -> Result<Option<DeviceRecord>, ModelError> {
    let Some(obj) = am::map(doc, &ROOT, &format!("{DEVICE_PREFIX}{device}"))? else {
        return Ok(None);
    };
    Ok(Some(DeviceRecord {
        name: am::str(doc, &obj, "name")?.unwrap_or_default(),
        added: am::str(doc, &obj, "added")?.unwrap_or_default(),
        tls: am::str(doc, &obj, "tls")?.unwrap_or_default(),
        seal: am::str(doc, &obj, "seal")?.unwrap_or_default(),
        invite: am::str(doc, &obj, "invite")?.unwrap_or_default(),
        sig: am::str(doc, &obj, "sig")?.unwrap_or_default(),
    }))
}

/// Writes this device's record: creates it the first time, else changes only the fields
/// that differ (so an unchanged record costs no change at all).
pub fn put_device_record(
    doc: &mut AutoCommit,
    device: &str,
    record: &DeviceRecord,
) -> Result<(), ModelError> {
    let key = format!("{DEVICE_PREFIX}{device}");
    let old = device_record(doc, device)?;
    let obj = match am::map(doc, &ROOT, &key)? {
        Some(obj) => obj,
        None => doc.put_object(ROOT, key.as_str(), ObjType::Map)?,
    };
    let old = old.unwrap_or_default();
    for (field, new, was) in [
        ("name", &record.name, &old.name),
        ("added", &record.added, &old.added),
        ("tls", &record.tls, &old.tls),
        ("seal", &record.seal, &old.seal),
        ("invite", &record.invite, &old.invite),
        ("sig", &record.sig, &old.sig),
    ] {
        if new != was {
            doc.put(&obj, field, new.as_str())?;
        }
    }
    Ok(())
}

/// Every device's own record, by device key.
pub fn device_records(doc: &AutoCommit) -> Result<Vec<(String, DeviceRecord)>, ModelError> {
    let mut out = Vec::new();
    for key in doc.keys(ROOT) {
        if let Some(device) = key.strip_prefix(DEVICE_PREFIX) {
            if let Some(record) = device_record(doc, device)? {
                out.push((device.to_owned(), record));
            }
        }
    }
    Ok(out)
}

/// The root key of the end of the 1-1 (see [`end`]).
const ENDED_KEY: &str = "ended";

/// The 1-1 ended: the notebook is read-only on every device from then on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ended {
    /// The device that ended it.
    pub by: String,
    /// The day (`YYYY-MM-DD`).
    pub at: String,
}

/// Ends the 1-1 (a second end, made offline on the other side, changes nothing).
pub fn end(doc: &mut AutoCommit, ended: &Ended) -> Result<(), ModelError> {
    if am::map(doc, &ROOT, ENDED_KEY)?.is_some() {
        return Ok(());
    }
    let obj = doc.put_object(ROOT, ENDED_KEY, ObjType::Map)?;
    doc.put(&obj, "by", ended.by.as_str())?;
    doc.put(&obj, "at", ended.at.as_str())?;
    Ok(())
}

/// Root key that says the notebook's relay mailbox is bound to the relay from the start.
const RELAY_BOUND_KEY: &str = "relay-bound";

/// Marks a new notebook's relay mailbox as bound to its relay (see
/// `NotebookSecret::relay_mailbox`); notebooks made before stay as they were.
pub fn mark_relay_bound(doc: &mut AutoCommit) -> Result<(), ModelError> {
    doc.put(ROOT, RELAY_BOUND_KEY, true)?;
    Ok(())
}

/// Whether the notebook's relay mailbox is bound to its relay from the start.
pub fn relay_bound(doc: &AutoCommit) -> Result<bool, ModelError> {
    Ok(doc.get(ROOT, RELAY_BOUND_KEY)?.is_some())
}

/// When and by whom the 1-1 ended, if it did.
pub fn ended(doc: &AutoCommit) -> Result<Option<Ended>, ModelError> {
    let Some(obj) = am::map(doc, &ROOT, ENDED_KEY)? else {
        return Ok(None);
    };
    Ok(Some(Ended {
        by: am::str(doc, &obj, "by")?.unwrap_or_default(),
        at: am::str(doc, &obj, "at")?.unwrap_or_default(),
    }))
}

/// The root-key prefix of a removal.
const REMOVED_PREFIX: &str = "removed/";
/// The root-key prefix of an epoch.
const EPOCH_PREFIX: &str = "epoch/";

/// A device removed from the notebook.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Removal {
    /// The removed device.
    pub device: String,
    /// The device that removed it.
    pub by: String,
    /// The day (`YYYY-MM-DD`).
    pub at: String,
    /// `by`'s signature of [`removal_bytes`] (hex); empty when written by an older Duet.
    pub sig: String,
}

/// Records that `device` is removed.
pub fn remove_device(doc: &mut AutoCommit, removal: &Removal) -> Result<(), ModelError> {
    let key = format!("{REMOVED_PREFIX}{}", removal.device);
    if am::map(doc, &ROOT, &key)?.is_some() {
        return Ok(());
    }
    let obj = doc.put_object(ROOT, key.as_str(), ObjType::Map)?;
    doc.put(&obj, "by", removal.by.as_str())?;
    doc.put(&obj, "at", removal.at.as_str())?;
    if !removal.sig.is_empty() {
        doc.put(&obj, "sig", removal.sig.as_str())?;
    }
    Ok(())
}

/// Every removal.
pub fn removals(doc: &AutoCommit) -> Result<Vec<Removal>, ModelError> {
    let mut out = Vec::new();
    for key in doc.keys(ROOT) {
        let Some(device) = key.strip_prefix(REMOVED_PREFIX) else {
            continue;
        };
        let Some(obj) = am::map(doc, &ROOT, &key)? else {
            continue;
        };
        out.push(Removal {
            device: device.to_owned(),
            by: am::str(doc, &obj, "by")?.unwrap_or_default(),
            at: am::str(doc, &obj, "at")?.unwrap_or_default(),
            sig: am::str(doc, &obj, "sig")?.unwrap_or_default(),
        });
    }
    Ok(out)
}

/// The removed devices.
pub fn removed(doc: &AutoCommit) -> Result<BTreeSet<String>, ModelError> {
    Ok(removals(doc)?.into_iter().map(|r| r.device).collect())
}

/// One key epoch: its key sealed to each device it was made for.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Epoch {
    /// Random id.
    pub id: String,
    /// One more than the greatest epoch number its maker knew.
    pub number: u64,
    /// The device that made it.
    pub by: String,
    /// The day (`YYYY-MM-DD`).
    pub at: String,
    /// The epoch key sealed to each device (hex), by device.
    pub keys: BTreeMap<String, String>,
    /// The removed devices its maker knew of, sorted: it follows those removals.
    pub after: Vec<String>,
    /// `by`'s signature of [`epoch_bytes`] (hex); empty when made by an older Duet.
    pub sig: String,
}

/// Writes an epoch (a new one, or keys added to one for devices that joined since).
pub fn put_epoch(doc: &mut AutoCommit, epoch: &Epoch) -> Result<(), ModelError> {
    let key = format!("{EPOCH_PREFIX}{}", epoch.id);
    let obj = match am::map(doc, &ROOT, &key)? {
        Some(obj) => obj,
        None => {
            let obj = doc.put_object(ROOT, key.as_str(), ObjType::Map)?;
            doc.put(&obj, "number", epoch.number as i64)?;
            doc.put(&obj, "by", epoch.by.as_str())?;
            doc.put(&obj, "at", epoch.at.as_str())?;
            if !epoch.sig.is_empty() {
                doc.put(&obj, "after", epoch.after.join(",").as_str())?;
                doc.put(&obj, "sig", epoch.sig.as_str())?;
            }
            doc.put_object(&obj, "keys", ObjType::Map)?;
            obj
        }
    };
    let keys = am::required_map(doc, &obj, "keys")?;
    for (device, sealed) in &epoch.keys {
        if am::str(doc, &keys, device)?.is_none() {
            doc.put(&keys, device.as_str(), sealed.as_str())?;
        }
    }
    Ok(())
}

/// Every epoch.
pub fn epochs(doc: &AutoCommit) -> Result<Vec<Epoch>, ModelError> {
    let mut out = Vec::new();
    for key in doc.keys(ROOT) {
        let Some(id) = key.strip_prefix(EPOCH_PREFIX) else {
            continue;
        };
        let Some(obj) = am::map(doc, &ROOT, &key)? else {
            continue;
        };
        let mut keys = BTreeMap::new();
        if let Some(map) = am::map(doc, &obj, "keys")? {
            for device in am::keys(doc, &map) {
                if let Some(sealed) = am::str(doc, &map, &device)? {
                    keys.insert(device, sealed);
                }
            }
        }
        out.push(Epoch {
            id: id.to_owned(),
            number: am::int(doc, &obj, "number")?
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            by: am::str(doc, &obj, "by")?.unwrap_or_default(),
            at: am::str(doc, &obj, "at")?.unwrap_or_default(),
            keys,
            after: am::str(doc, &obj, "after")?
                .map(|a| {
                    a.split(',')
                        .filter(|d| !d.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            sig: am::str(doc, &obj, "sig")?.unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Which keys a notebook syncs with now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InForce {
    /// No device was ever removed: the keys derive from the notebook secret.
    Initial,
    /// This epoch.
    Epoch(Epoch),
    /// Removals left no epoch sealed only to remaining devices: a remaining device makes
    /// epoch `next`.
    Rotate {
        /// The number of the epoch to make.
        next: u64,
    },
}

/// The epoch in force given the removed devices and the epochs made (see the module doc).
pub fn in_force(removed: &BTreeSet<String>, epochs: &[Epoch]) -> InForce {
    let valid = epochs
        .iter()
        .filter(|e| e.keys.keys().all(|d| !removed.contains(d)))
        .max_by(|a, b| (a.number, &a.id).cmp(&(b.number, &b.id)));
    match valid {
        Some(epoch) => InForce::Epoch(epoch.clone()),
        None if removed.is_empty() => InForce::Initial,
        None => InForce::Rotate {
            next: epochs.iter().map(|e| e.number).max().unwrap_or(0) + 1,
        },
    }
}

/// What a removal's maker signs: the space, the device removed, who removed it, when.
pub fn removal_bytes(space: &str, r: &Removal) -> Vec<u8> {
    let mut bytes = b"duet 2026-12 removal v1\0".to_vec();
    bytes.extend(postcard::to_allocvec(&(space, &r.device, &r.by, &r.at)).unwrap_or_default());
    bytes
}

/// What an epoch's maker signs: the space, the epoch, its maker, and the removals it
/// follows (not the sealed keys: devices that join later add theirs).
pub fn epoch_bytes(space: &str, e: &Epoch) -> Vec<u8> {
    let mut bytes = b"duet 2026-12 epoch v1\0".to_vec();
    bytes.extend(
        postcard::to_allocvec(&(space, &e.id, e.number, &e.by, &e.at, &e.after))
            .unwrap_or_default(),
    );
    bytes
}

fn signed_by(by: &str, message: &[u8], sig: &str) -> bool {
    data_encoding::HEXLOWER
        .decode(sig.as_bytes())
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .is_some_and(|sig| crate::crypto::device_signed(by, message, &sig))
}

/// Membership as the signed rules judge it: the removals that count, the epoch in force,
/// and what was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The removed devices.
    pub removed: BTreeSet<String>,
    /// The epoch in force.
    pub in_force: InForce,
    /// What does not count, and why, in words.
    pub refused: Vec<String>,
}

/// Which removals count and which epoch is in force, from signed membership.
///
/// - A removal signed by its maker counts when the space lists the maker; one whose
///   signature is not its maker's, or made by a device the space does not list, is
///   refused. An unsigned removal (an older Duet's) counts: a removal only ever takes
///   access away. (Who may remove whom, by person, is the signed log's rule: see
///   `duet_protocol::membership`.)
/// - Once any counting removal or epoch is signed, an epoch counts only when signed by
///   a listed device that is not removed, and made after every counting removal (its
///   signed `after` names them all). So an epoch planted before its maker's removal, or
///   written by a device the space does not list, never takes over: a removal made by this
///   Duet always leads to a new epoch. Before that (a notebook only older Duets touched),
///   the older rule holds ([`in_force`]).
pub fn judge(
    space: &str,
    listed: &BTreeMap<String, String>,
    removals: &[Removal],
    epochs: &[Epoch],
) -> Judged {
    let (removed, strict, mut refused) = judge_removals(space, listed, removals);
    let (in_force, more) = judge_epochs(space, listed, &removed, epochs, strict);
    refused.extend(more);
    Judged {
        removed,
        in_force,
        refused,
    }
}

/// The removals that count, whether any of them is signed, and what was refused.
fn judge_removals(
    space: &str,
    listed: &BTreeMap<String, String>,
    removals: &[Removal],
) -> (BTreeSet<String>, bool, Vec<String>) {
    let short = |d: &str| d.get(..8).unwrap_or(d).to_owned();
    let mut refused = Vec::new();
    let mut removed = BTreeSet::new();
    let mut strict = false;
    for r in removals {
        if r.sig.is_empty() {
            removed.insert(r.device.clone());
            continue;
        }
        if !signed_by(&r.by, &removal_bytes(space, r), &r.sig) {
            refused.push(format!(
                "a removal of device {} not signed by the device it names",
                short(&r.device)
            ));
            continue;
        }
        if listed.contains_key(&r.by) {
            removed.insert(r.device.clone());
            strict = true;
        } else {
            refused.push(format!(
                "a removal of device {} by a device the space does not list",
                short(&r.device)
            ));
        }
    }
    (removed, strict, refused)
}

/// The epoch in force given the devices `removed`, and the epochs that do not count.
/// `strict`: the signed rule (see [`judge`]) rather than an older Duet's.
pub fn judge_epochs(
    space: &str,
    listed: &BTreeMap<String, String>,
    removed: &BTreeSet<String>,
    epochs: &[Epoch],
    mut strict: bool,
) -> (InForce, Vec<String>) {
    let mut refused = Vec::new();
    // An epoch whose key its maker did not seal to itself is one no honest device makes:
    // its maker keeps the key outside the notebook (planted to outlive its removal).
    // The next epoch outnumbers every one written, counted or not: an older Duet, which
    // counts by number, then takes it too.
    let next = epochs.iter().map(|e| e.number).max().unwrap_or(0) + 1;
    let mut unsealed = BTreeSet::new();
    for e in epochs {
        if !e.keys.contains_key(&e.by) {
            refused.push(format!("key epoch {} not sealed to its maker", e.id));
            unsealed.insert(e.id.clone());
        }
    }
    let epochs: Vec<&Epoch> = epochs
        .iter()
        .filter(|e| !unsealed.contains(&e.id))
        .collect();
    let mut signed = Vec::new();
    for e in epochs.iter().copied() {
        if e.sig.is_empty() {
            continue;
        }
        if signed_by(&e.by, &epoch_bytes(space, e), &e.sig) {
            signed.push(e);
            strict = true;
        } else {
            refused.push(format!("key epoch {} not signed by its maker", e.id));
        }
    }
    if !strict {
        let unrefused: Vec<Epoch> = epochs
            .iter()
            .filter(|e| e.sig.is_empty())
            .map(|e| (*e).clone())
            .collect();
        return (in_force(removed, &unrefused), refused);
    }
    let valid = signed
        .iter()
        .filter(|e| {
            listed.contains_key(&e.by)
                && !removed.contains(&e.by)
                && removed.iter().all(|d| e.after.contains(d))
        })
        .max_by(|a, b| (a.number, &a.id).cmp(&(b.number, &b.id)));
    let in_force = match valid {
        Some(e) => InForce::Epoch((*e).clone()),
        None if removed.is_empty() => InForce::Initial,
        None => InForce::Rotate { next },
    };
    let floor = match &in_force {
        InForce::Epoch(e) => e.number,
        _ => 0,
    };
    for e in epochs.iter().copied() {
        let counted = matches!(&in_force, InForce::Epoch(f) if f.id == e.id);
        if counted || e.number < floor {
            continue;
        }
        if e.sig.is_empty() {
            refused.push(format!("key epoch {} not signed by its maker", e.id));
        } else if signed.iter().any(|s| s.id == e.id) && !listed.contains_key(&e.by) {
            refused.push(format!(
                "key epoch {} made by a device the space does not list",
                e.id
            ));
        } else if signed.iter().any(|s| s.id == e.id) && removed.contains(&e.by) {
            refused.push(format!("key epoch {} made by a removed device", e.id));
        }
    }
    (in_force, refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_device_keeps_its_own_record_through_a_merge() {
        let mut ana = AutoCommit::new();
        let mut bo = ana.fork();
        let laptop = DeviceRecord {
            name: "Ana's laptop".into(),
            added: "2026-12-01".into(),
            tls: "fp-a".into(),
            seal: "aa".into(),
            invite: String::new(),
            sig: String::new(),
        };
        let phone = DeviceRecord {
            name: "Bo's phone".into(),
            added: "2026-12-02".into(),
            tls: "fp-b".into(),
            seal: "bb".into(),
            invite: "inv1".into(),
            sig: String::new(),
        };
        put_device_record(&mut ana, "dev-a", &laptop).expect("ana");
        put_device_record(&mut bo, "dev-b", &phone).expect("bo");
        ana.merge(&mut bo).expect("merge");
        let all = device_records(&ana).expect("records");
        assert_eq!(
            all,
            vec![
                ("dev-a".to_owned(), laptop.clone()),
                ("dev-b".to_owned(), phone)
            ]
        );
        // Writing the same record again changes nothing.
        let heads = ana.get_heads();
        put_device_record(&mut ana, "dev-a", &laptop).expect("again");
        assert_eq!(ana.get_heads(), heads);
        let renamed = DeviceRecord {
            name: "Work laptop".into(),
            ..laptop
        };
        put_device_record(&mut ana, "dev-a", &renamed).expect("rename");
        assert_eq!(device_record(&ana, "dev-a").expect("read"), Some(renamed));
    }
}

#[cfg(test)]
mod signed_rules {
    use super::*;
    use crate::crypto::DeviceKey;

    const SPACE: &str = "nb1";

    struct Device {
        key: DeviceKey,
        id: String,
    }

    fn device() -> Device {
        let key = DeviceKey::generate();
        let id = key.public_hex();
        Device { key, id }
    }

    fn sig(key: &DeviceKey, bytes: &[u8]) -> String {
        data_encoding::HEXLOWER.encode(&key.sign(bytes))
    }

    fn removal(by: &Device, of: &Device) -> Removal {
        let mut r = Removal {
            device: of.id.clone(),
            by: by.id.clone(),
            at: "2026-12-07".into(),
            sig: String::new(),
        };
        r.sig = sig(&by.key, &removal_bytes(SPACE, &r));
        r
    }

    fn epoch(by: &Device, id: &str, number: u64, after: &[&Device]) -> Epoch {
        let mut e = Epoch {
            id: id.into(),
            number,
            by: by.id.clone(),
            at: "2026-12-07".into(),
            keys: BTreeMap::from([(by.id.clone(), "sealed to its maker".to_owned())]),
            after: after.iter().map(|d| d.id.clone()).collect(),
            sig: String::new(),
        };
        e.after.sort();
        e.sig = sig(&by.key, &epoch_bytes(SPACE, &e));
        e
    }

    fn listed(people: &[(&Device, &str)]) -> BTreeMap<String, String> {
        people
            .iter()
            .map(|(d, p)| (d.id.clone(), (*p).to_owned()))
            .collect()
    }

    #[test]
    fn an_epoch_planted_before_its_makers_removal_never_takes_over() {
        let (laptop, phone, bo) = (device(), device(), device());
        let people = listed(&[(&laptop, "ana"), (&phone, "ana"), (&bo, "bo")]);
        // Signed and sealed to its maker, but made before the removal: it does not follow
        // it. Unsigned and sealed to nobody (its maker keeps the key): refused outright.
        let planted_signed = epoch(&phone, "planted1", 1_000_000, &[]);
        let mut planted_plain = planted_signed.clone();
        planted_plain.id = "planted2".into();
        planted_plain.sig.clear();
        planted_plain.keys.clear();
        let removed = removal(&laptop, &phone);
        let judged = judge(
            SPACE,
            &people,
            std::slice::from_ref(&removed),
            &[planted_signed.clone(), planted_plain.clone()],
        );
        assert_eq!(judged.removed, BTreeSet::from([phone.id.clone()]));
        assert_eq!(judged.in_force, InForce::Rotate { next: 1_000_001 });
        assert!(
            judged.refused.iter().any(|r| r.contains("planted2")),
            "the unsigned one is reported: {:?}",
            judged.refused
        );
        // The old rule let the unsigned planted epoch take over.
        assert!(matches!(
            in_force(&judged.removed, &[planted_plain.clone()]),
            InForce::Epoch(_)
        ));
        // The laptop's epoch after the removal is in force.
        let next = epoch(&laptop, "next1", 1_000_001, &[&phone]);
        let judged = judge(
            SPACE,
            &people,
            &[removed],
            &[planted_signed, planted_plain, next.clone()],
        );
        assert_eq!(judged.in_force, InForce::Epoch(next));
    }

    #[test]
    fn forged_removals_and_epochs_are_refused_and_reported() {
        let (laptop, phone, bo) = (device(), device(), device());
        let people = listed(&[(&laptop, "ana"), (&phone, "ana"), (&bo, "bo")]);
        let mut forged = removal(&laptop, &phone);
        forged.by = bo.id.clone();
        let stranger = device();
        let cross = removal(&stranger, &laptop);
        let mut tampered = epoch(&laptop, "e1", 1, &[]);
        tampered.number = 99;
        let outsider = epoch(&stranger, "e2", 2, &[]);
        let judged = judge(SPACE, &people, &[forged, cross], &[tampered, outsider]);
        assert!(judged.removed.is_empty());
        assert_eq!(judged.in_force, InForce::Initial);
        assert_eq!(judged.refused.len(), 4, "{:?}", judged.refused);
    }

    #[test]
    fn a_record_altered_by_another_device_is_no_longer_its_devices() {
        let phone = device();
        let mut record = DeviceRecord {
            name: "Bo's phone".into(),
            added: "2026-12-07".into(),
            tls: "fp-bo".into(),
            seal: "bo-seal".into(),
            invite: String::new(),
            sig: String::new(),
        };
        assert_eq!(record_signed(SPACE, &phone.id, &record), None);
        record.sig = sig(&phone.key, &record_bytes(SPACE, &phone.id, &record));
        assert_eq!(record_signed(SPACE, &phone.id, &record), Some(true));
        // Another member swaps in its own sealing key, keeping the signature.
        record.seal = "attacker-seal".into();
        assert_eq!(record_signed(SPACE, &phone.id, &record), Some(false));
        // Or signs the swap with its own key, under the phone's id.
        let attacker = device();
        record.sig = sig(&attacker.key, &record_bytes(SPACE, &phone.id, &record));
        assert_eq!(record_signed(SPACE, &phone.id, &record), Some(false));
    }

    #[test]
    fn unsigned_membership_of_older_duets_keeps_the_older_rule() {
        let (laptop, phone) = (device(), device());
        let people = listed(&[(&laptop, "ana"), (&phone, "ana")]);
        let old_removal = Removal {
            device: phone.id.clone(),
            by: laptop.id.clone(),
            at: "2026-11-01".into(),
            sig: String::new(),
        };
        let old_epoch = Epoch {
            id: "old1".into(),
            number: 1,
            by: laptop.id.clone(),
            keys: BTreeMap::from([(laptop.id.clone(), "sealed".into())]),
            ..Epoch::default()
        };
        let judged = judge(
            SPACE,
            &people,
            &[old_removal],
            std::slice::from_ref(&old_epoch),
        );
        assert_eq!(judged.in_force, InForce::Epoch(old_epoch));
        assert!(judged.refused.is_empty());
    }
}

#[cfg(test)]
mod concurrent_removals {
    use super::*;

    /// The epoch in force of a document by the rule of unsigned membership (these devices
    /// are names, not keys: nothing here is signed).
    fn in_force_of(doc: &AutoCommit) -> Result<InForce, ModelError> {
        Ok(in_force(&removed(doc)?, &epochs(doc)?))
    }
    use proptest::prelude::*;

    const DEVICES: [&str; 4] = ["ana-laptop", "ana-phone", "bo-laptop", "bo-phone"];

    /// What one device does: what a real device does around a sync.
    #[derive(Debug, Clone)]
    enum Step {
        /// Device `by` removes device `target`.
        Remove { by: usize, target: usize },
        /// Device `to` receives everything `from` has.
        Sync { from: usize, to: usize },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..4usize, 0..4usize).prop_map(|(by, target)| Step::Remove { by, target }),
            (0..4usize, 0..4usize).prop_map(|(from, to)| Step::Sync { from, to }),
        ]
    }

    /// What a remaining device does after any change: makes the next epoch when removals
    /// left none in force (the sealed keys stand in as the recipient's name).
    fn settle(doc: &mut AutoCommit, me: usize, salt: &mut u64) {
        let removed = removed(doc).expect("removed");
        if removed.contains(DEVICES[me]) {
            return;
        }
        if let InForce::Rotate { next } = in_force_of(doc).expect("in force") {
            *salt += 1;
            let keys = DEVICES
                .iter()
                .filter(|d| !removed.contains(**d))
                .map(|d| ((*d).to_owned(), format!("sealed-to-{d}")))
                .collect();
            put_epoch(
                doc,
                &Epoch {
                    id: format!("{me}-{salt}"),
                    number: next,
                    by: DEVICES[me].to_owned(),
                    at: "2026-12-01".into(),
                    keys,
                    ..Epoch::default()
                },
            )
            .expect("epoch");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn removals_made_offline_in_any_order_converge_on_one_epoch_excluding_them_all(
            steps in proptest::collection::vec(step(), 1..24)
        ) {
            let mut base = AutoCommit::new();
            // Each device writes as its own actor.
            let mut docs: Vec<AutoCommit> = (0..4).map(|_| base.fork()).collect();
            let mut salt = 0;
            for s in &steps {
                match *s {
                    Step::Remove { by, target } if by != target => {
                        let removal = Removal {
                            device: DEVICES[target].to_owned(),
                            by: DEVICES[by].to_owned(),
                            at: "2026-12-01".into(),
                            sig: String::new(),
                        };
                        remove_device(&mut docs[by], &removal).expect("remove");
                        settle(&mut docs[by], by, &mut salt);
                    }
                    Step::Remove { .. } => {}
                    Step::Sync { from, to } if from != to => {
                        // A copy of what it has saved (a pending change would be committed
                        // twice under one sequence number otherwise).
                        docs[from].commit();
                        let mut other = docs[from].clone();
                        docs[to].merge(&mut other).expect("merge");
                        settle(&mut docs[to], to, &mut salt);
                    }
                    Step::Sync { .. } => {}
                }
            }
            // Everyone meets everyone (as the remaining devices' next syncs do), each
            // settling what it learns, until nothing changes.
            for _ in 0..3 {
                for to in 0..4 {
                    for from in (0..4).filter(|f| *f != to) {
                        docs[from].commit();
                        let mut other = docs[from].clone();
                        docs[to].merge(&mut other).expect("merge");
                    }
                    settle(&mut docs[to], to, &mut salt);
                }
            }
            let removed_all = removed(&docs[0]).expect("removed");
            let first = in_force_of(&docs[0]).expect("in force");
            for doc in &docs {
                prop_assert_eq!(&removed(doc).expect("removed"), &removed_all);
                prop_assert_eq!(&in_force_of(doc).expect("in force"), &first);
            }
            match first {
                InForce::Initial => prop_assert!(removed_all.is_empty()),
                InForce::Epoch(epoch) => {
                    for d in epoch.keys.keys() {
                        prop_assert!(!removed_all.contains(d), "{} holds the key", d);
                    }
                    let remaining = DEVICES.iter().filter(|d| !removed_all.contains(**d)).count();
                    prop_assert_eq!(epoch.keys.len(), remaining);
                }
                // Every device removed: nobody is left to make an epoch.
                InForce::Rotate { .. } => prop_assert_eq!(removed_all.len(), DEVICES.len()),
            }
        }
    }
}
