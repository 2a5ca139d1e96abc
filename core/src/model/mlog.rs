//! The space's signed membership log, kept in its membership document.
//!
//! ```text
//! ROOT { mlog/<op id, hex> : the signed operation's encoding (hex) }
//! ```
//!
//! Each operation is its own root key, named by its hash, and written once: two devices
//! writing one operation write the same key and value, and operations from different
//! devices never touch each other's keys, so the log merges as a set. What an operation
//! says is checked by `duet_protocol::membership` (its signature when read, its
//! entitlement by the rules), never trusted because it is in the document.

use super::ModelError;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ReadDoc, ROOT};
use duet_protocol::membership::{OpId, SignedOp};

/// The root-key prefix of a log operation.
const OP_PREFIX: &str = "mlog/";

/// The operations a membership document holds, as encoded, and how many of its log keys
/// held something that is not a signed operation (another tool's or a hostile device's
/// writing, reported by the caller).
pub struct StoredOps {
    /// The encoded operations.
    pub ops: Vec<Vec<u8>>,
    /// Log keys whose value is not an operation's encoding.
    pub unreadable: usize,
}

/// Writes `op` into the log (a second copy changes nothing).
pub fn put_op(doc: &mut AutoCommit, op: &SignedOp) -> Result<OpId, ModelError> {
    let id = op.id();
    let key = format!("{OP_PREFIX}{}", data_encoding::HEXLOWER.encode(&id.0));
    if doc.get(ROOT, key.as_str())?.is_none() {
        let hex = data_encoding::HEXLOWER.encode(&op.to_bytes());
        doc.put(ROOT, key.as_str(), hex.as_str())?;
    }
    Ok(id)
}

/// Every operation the document's log holds, encoded; the hash in a key is not trusted
/// (the reader hashes what it decodes).
pub fn stored_ops(doc: &AutoCommit) -> Result<StoredOps, ModelError> {
    let mut out = StoredOps {
        ops: Vec::new(),
        unreadable: 0,
    };
    for key in doc.keys(ROOT) {
        if !key.starts_with(OP_PREFIX) {
            continue;
        }
        let bytes = match doc.get(ROOT, key.as_str())? {
            Some((automerge::Value::Scalar(s), _)) => s
                .as_str()
                .and_then(|hex| data_encoding::HEXLOWER.decode(hex.as_bytes()).ok()),
            _ => None,
        };
        match bytes {
            Some(bytes) => out.ops.push(bytes),
            None => out.unreadable += 1,
        }
    }
    Ok(out)
}

/// Whether the document holds any log operation (a space that keeps its membership in a
/// log, or a notebook made before logs: none).
pub fn has_log(doc: &AutoCommit) -> bool {
    doc.keys(ROOT).any(|k| k.starts_with(OP_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use duet_protocol::crypto::DeviceKey;
    use duet_protocol::membership::{Body, Log};

    #[test]
    fn operations_written_on_two_devices_merge_as_one_log() {
        let laptop = DeviceKey::generate();
        let mut log = Log::begin(&laptop, "nb", "p1", &["p1", "p2"]);
        let phone = DeviceKey::generate();
        let add = log
            .append(&laptop, Body::add(&phone.public_hex(), &"p1".to_owned()))
            .expect("add");
        let mut ana = AutoCommit::new();
        for op in log.ops().values() {
            put_op(&mut ana, op).expect("put");
        }
        let mut bo = ana.fork();
        let removal = log
            .append(&laptop, Body::remove(&phone.public_hex()))
            .expect("remove");
        put_op(&mut ana, &removal).expect("put");
        put_op(&mut bo, &removal).expect("the same op on the other device");
        put_op(&mut bo, &add).expect("again");
        ana.merge(&mut bo).expect("merge");
        ana.put(ROOT, "mlog/00", "not hex").expect("junk");
        let stored = stored_ops(&ana).expect("read");
        assert_eq!(stored.ops.len(), 3);
        assert_eq!(stored.unreadable, 1);
        let mut read = Log::of("nb", log.genesis());
        for bytes in &stored.ops {
            read.insert_bytes(bytes).expect("a signed op");
        }
        assert_eq!(read.membership(), log.membership());
        assert!(has_log(&ana));
        assert!(!has_log(&AutoCommit::new()));
    }
}
