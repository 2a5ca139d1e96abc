//! The notebook's devices as named members, kept in the index document.
//!
//! ```text
//! ROOT { devices        { device_pubkey: person_id },      (see `index`)
//!        device/<pubkey> { name, added, tls, seal },        written by that device only
//! ```
//!
//! Each device writes its own `device/<pubkey>` map at the root (never a shared map that two
//! devices could create at once, which Automerge would resolve by hiding one of them). Older
//! Duets ignore root keys they do not know.

use super::am;
use super::ModelError;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ReadDoc, ROOT};

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
        };
        let phone = DeviceRecord {
            name: "Bo's phone".into(),
            added: "2026-12-02".into(),
            tls: "fp-b".into(),
            seal: "bb".into(),
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
