//! Moving a space whose membership was kept in plain signed records (a notebook made
//! before membership logs, or a personal space) to a signed membership log, on this
//! device's first sync with this version. The log's genesis is an id every device derives
//! alike (`Log::migrated`), so devices migrating at once, offline, begin one log; each
//! claims its place as the plain records list it and vouches for the others they list.

use super::membership_log::migrated_log;
use super::*;
use crate::duet::settings::LogGenesis;
use crate::model::mlog;
use duet_protocol::membership::{Body, SignedOp};

impl Duet {
    /// Moves a space kept in plain records (a notebook made before membership logs, or a
    /// personal space) to a log, on this device's first sync with this version: the log's genesis is one every device derives alike (so devices
    /// migrating at once, offline, begin one log); this device claims its place as the
    /// plain records list it, and vouches for the other devices they list (its own
    /// person's, and the other person's while the log has none of theirs). Returns whether
    /// it wrote anything; the caller persists.
    pub(super) fn migrate_to_log(&self, nb: &mut Notebook) -> Result<bool, DuetError> {
        if self.log_genesis(&nb.id)?.is_some() {
            return Ok(false);
        }
        let space = nb.id.clone();
        let me = self.device.public_hex();
        let stored = mlog::stored_ops(&nb.members_doc()?.am)?;
        let begun = stored.ops.iter().any(|bytes| {
            SignedOp::from_bytes(bytes).is_ok_and(|op| matches!(op.op.body, Body::Begin { .. }))
        });
        if begun {
            // Begun with a log: this device joins it instead (see `join_notebook_log`).
            return Ok(false);
        }
        let legacy = self.membership_of(nb)?;
        let listed: Vec<(String, String)> = legacy
            .devices
            .iter()
            .filter(|(d, _)| !legacy.removed.contains(d))
            .cloned()
            .collect();
        let Some(mine) = listed
            .iter()
            .find(|(d, _)| *d == me)
            .map(|(_, p)| p.clone())
        else {
            // Not listed (removed, or its join not complete): nothing of its own to claim.
            return Ok(false);
        };
        let mut log = migrated_log(nb)?;
        for bytes in &stored.ops {
            // A log entry that is no signed operation is reported when the log is read.
            let _ = log.insert_bytes(bytes);
        }
        let mut parents = log.heads();
        if !log.membership().is_member(&me) {
            let claim = self.append_to_log(
                nb,
                &mut log,
                Body::Claim {
                    person: mine.clone(),
                },
            )?;
            parents = vec![claim];
        }
        let at_claim = log.membership();
        for (device, person) in &listed {
            if at_claim.is_member(device) || at_claim.removed.contains(device) {
                continue;
            }
            if *person != mine && at_claim.devices_of(person).next().is_some() {
                continue;
            }
            let op = log
                .append_after(&self.device, parents.clone(), Body::add(device, person))
                .map_err(|e| DuetError::Invalid(format!("the membership log: {e}")))?;
            mlog::put_op(&mut nb.members_doc()?.am, &op)?;
        }
        self.store.put(
            &LogGenesis(space),
            &data_encoding::HEXLOWER.encode(&log.genesis().0),
        )?;
        Ok(true)
    }
}
