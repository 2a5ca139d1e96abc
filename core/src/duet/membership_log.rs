//! A space's signed membership log on this device (the rules are
//! `duet_protocol::membership`): begun with the notebook, joined through a standing invite,
//! and written to on every removal, so that who is listed, as whose device, and who may
//! remove whom follow from operations signed by devices entitled to them. A personal space
//! (private notes) keeps one too, with its one person.
//!
//! A *standing invite* is an invite whose key derives from the notebook's key of the time
//! (its secret, or the epoch in force) and a person: every device that was handed that key
//! (by a one-time ticket's grant, a bundle, or an older ticket) joins with it, as that
//! person. A removal cancels the invites made before it, so a removed device, which knew
//! the older keys, joins nobody after it; the devices that remain make the next standing
//! invites from the new epoch's key.
//!
//! A space keeps its membership in the log on this device once the device knows the log's
//! first operation (its *genesis*): from the notebook's creation, from the invite it
//! joined with, or, for a space made before logs (and every personal space), from its
//! first sync with this version, which migrates it (`membership_migration`): its genesis
//! is then an id every device derives alike, and each device claims its place. Until then
//! the space's plain signed records decide (see `epochs`).

use super::*;
use crate::crypto::DeviceKey;
use crate::duet::epochs::SyncKeys;
use crate::duet::epochs::OWN_PERSON;
use crate::duet::settings::LogGenesis;
use crate::model::mlog;
use duet_protocol::membership::op::join_proof_bytes;
use duet_protocol::membership::{Body, Log, Membership, OpId, SignedOp};
use std::collections::BTreeSet;

/// Context of a standing invite's key.
const STANDING_INVITE_CONTEXT: &str = "duet 2026-12 standing invite v1";
/// Logs a process remembers after checking them (past this it forgets them all).
const MAX_CHECKED_LOGS: usize = 256;

/// A notebook's log as this device holds it, and the membership it proves.
#[derive(Clone)]
pub(super) struct CheckedLog {
    /// The log: every stored operation whose signature is its author's.
    pub log: Log,
    /// What it proves.
    pub membership: Membership,
    /// Stored log entries that are not signed operations of this space.
    pub unreadable: usize,
}

/// The key of the standing invite for `person` of `space` under the key `era` (a notebook
/// secret or an epoch key).
fn standing_invite_key(era: &[u8; 32], space: &str, person: &str) -> Result<DeviceKey, DuetError> {
    let mut hasher = blake3::Hasher::new_derive_key(STANDING_INVITE_CONTEXT);
    hasher.update(era);
    hasher.update(space.as_bytes());
    hasher.update(&[0]);
    hasher.update(person.as_bytes());
    DeviceKey::from_bytes(hasher.finalize().as_bytes())
        .map_err(|e| DuetError::Internal(format!("a standing invite's key: {e}")))
}

/// The raw key an era's standing invites derive from.
fn era_bytes(keys: &SyncKeys) -> [u8; 32] {
    match keys {
        SyncKeys::Initial { secret, .. } => *secret.as_bytes(),
        SyncKeys::Epoch { key, .. } => *key.as_bytes(),
    }
}

/// The `Invite` operations of `log` whose key is `key` (hex) and person `person`.
fn invites_with_key<'a>(
    log: &'a Log,
    key: &'a str,
    person: &'a str,
) -> impl Iterator<Item = (OpId, &'a SignedOp)> + 'a {
    log.ops()
        .iter()
        .filter_map(move |(id, op)| match &op.op.body {
            Body::Invite { key: k, person: p } if k == key && p == person => Some((*id, op)),
            _ => None,
        })
}

/// The beginnings behind `from` in `log`: its `Begin` operations among `from` and what it
/// follows, and `migrated` (a migrated space's genesis, which is no operation) when it
/// follows that.
fn roots(log: &Log, from: OpId, migrated: OpId) -> BTreeSet<OpId> {
    let mut behind = log.ancestors(from);
    behind.insert(from);
    behind
        .into_iter()
        .filter(|id| match log.ops().get(id) {
            Some(op) => matches!(op.op.body, Body::Begin { .. }),
            None => *id == migrated,
        })
        .collect()
}

/// Every signed operation of `space` stored in `doc`, in a log begun by `genesis`.
fn read_log(nb: &mut Notebook, genesis: OpId) -> Result<(Log, usize), DuetError> {
    // A migrated space's genesis is the one its people derive.
    let migrated = migrated_log(nb)?;
    let space = nb.id.clone();
    let stored = mlog::stored_ops(&nb.members_doc()?.am)?;
    let mut log = if migrated.genesis() == genesis {
        migrated
    } else {
        Log::of(&space, genesis)
    };
    let mut unreadable = stored.unreadable;
    for bytes in &stored.ops {
        if log.insert_bytes(bytes).is_err() {
            unreadable += 1;
        }
    }
    Ok((log, unreadable))
}

/// The empty log of a space migrated from plain records: a notebook's people as its index
/// names them; a personal space's one person. A personal space has no beginning of its
/// own: every device derives this one, and each claims its place or joins.
pub(super) fn migrated_log(nb: &mut Notebook) -> Result<Log, DuetError> {
    if nb.personal {
        return Ok(Log::migrated(&nb.id, &[OWN_PERSON]));
    }
    let people: Vec<String> = index::people(&nb.index()?.am)?
        .into_iter()
        .map(|p| p.id)
        .collect();
    let people: Vec<&str> = people.iter().map(String::as_str).collect();
    Ok(Log::migrated(&nb.id, &people))
}

impl Duet {
    /// The genesis this device knows for `notebook`'s log, if it keeps one.
    pub(super) fn log_genesis(&self, notebook: &str) -> Result<Option<OpId>, DuetError> {
        Ok(self
            .store
            .get(&LogGenesis(notebook.to_owned()))?
            .and_then(|hex| data_encoding::HEXLOWER.decode(hex.as_bytes()).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(OpId))
    }

    /// The notebook's log and what it proves, when the notebook keeps one on this device
    /// (the signatures of a log already checked are not checked again).
    pub(super) fn notebook_log(&self, nb: &mut Notebook) -> Result<Option<CheckedLog>, DuetError> {
        let Some(genesis) = self.log_genesis(&nb.id)? else {
            return Ok(None);
        };
        let space = nb.id.clone();
        let stored = mlog::stored_ops(&nb.members_doc()?.am)?;
        let mut hasher = blake3::Hasher::new();
        hasher.update(space.as_bytes());
        hasher.update(&genesis.0);
        let mut sorted: Vec<&Vec<u8>> = stored.ops.iter().collect();
        sorted.sort();
        for bytes in sorted {
            hasher.update(&(bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        }
        let digest = *hasher.finalize().as_bytes();
        if let Some(checked) = self.checked_logs.borrow().get(&digest) {
            return Ok(Some(checked.clone()));
        }
        let (log, unreadable) = read_log(nb, genesis)?;
        let checked = CheckedLog {
            membership: log.membership(),
            log,
            unreadable,
        };
        let mut cache = self.checked_logs.borrow_mut();
        if cache.len() >= MAX_CHECKED_LOGS {
            cache.clear();
        }
        cache.insert(digest, checked.clone());
        Ok(Some(checked))
    }

    /// Signs `body` into the notebook's log (following every head) and writes it into the
    /// index; the caller persists.
    pub(super) fn append_to_log(
        &self,
        nb: &mut Notebook,
        log: &mut Log,
        body: Body,
    ) -> Result<OpId, DuetError> {
        let op = log
            .append(&self.device, body)
            .map_err(|e| DuetError::Invalid(format!("the membership log: {e}")))?;
        Ok(mlog::put_op(&mut nb.members_doc()?.am, &op)?)
    }

    /// Begins a new notebook's log: this device is the first of `me`, among `people`, and
    /// the standing invites of the notebook's secret let each person's first device join.
    pub(super) fn begin_notebook_log(
        &self,
        nb: &mut Notebook,
        me: &str,
        people: [&str; 2],
        secret: &NotebookSecret,
    ) -> Result<(), DuetError> {
        let mut log = Log::begin(&self.device, &nb.id, me, &people);
        let genesis = log.genesis();
        for op in log.ops().values() {
            mlog::put_op(&mut nb.index()?.am, op)?;
        }
        for person in people {
            let key = standing_invite_key(secret.as_bytes(), &nb.id, person)?;
            self.append_to_log(
                nb,
                &mut log,
                Body::Invite {
                    key: key.public_hex(),
                    person: person.to_owned(),
                },
            )?;
        }
        self.store.put(
            &LogGenesis(nb.id.clone()),
            &data_encoding::HEXLOWER.encode(&genesis.0),
        )?;
        Ok(())
    }

    /// Joins the notebook's log as a device of `person`, with the standing invite of a key
    /// this device holds; learns the log's genesis from that invite the first time. A
    /// notebook with no log (made before logs) is left as it is. The caller persists.
    pub(super) fn join_notebook_log(
        &self,
        nb: &mut Notebook,
        person: &str,
    ) -> Result<(), DuetError> {
        if !mlog::has_log(&nb.members_doc()?.am) {
            return Ok(());
        }
        let me = self.device.public_hex();
        let eras: Vec<[u8; 32]> = self.all_sync_keys(&nb.id)?.iter().map(era_bytes).collect();
        // Reading the keys may have kept a copy of the notebook from before this change.
        self.cache.borrow_mut().take();
        let space = nb.id.clone();
        let genesis = match self.log_genesis(&space)? {
            Some(genesis) => genesis,
            None => {
                // Any genesis serves to read what the invites follow.
                let (all, _) = read_log(nb, OpId([0; 32]))?;
                let migrated = migrated_log(nb)?.genesis();
                let mut found = BTreeSet::new();
                for era in &eras {
                    let key = standing_invite_key(era, &space, person)?.public_hex();
                    for (id, _) in invites_with_key(&all, &key, person) {
                        found.extend(roots(&all, id, migrated));
                    }
                }
                // Two beginnings behind this device's invites: one is forged, and this
                // device cannot tell which (the notebook keeps its plain records here).
                let [genesis] = found.into_iter().collect::<Vec<_>>()[..] else {
                    return Ok(());
                };
                self.store.put(
                    &LogGenesis(space.clone()),
                    &data_encoding::HEXLOWER.encode(&genesis.0),
                )?;
                genesis
            }
        };
        let (mut log, _) = read_log(nb, genesis)?;
        let membership = log.membership();
        if membership.is_member(&me) {
            return Ok(());
        }
        // A join with a cancelled invite would not count: this device waits for the next
        // key's invite instead.
        for era in &eras {
            let key = standing_invite_key(era, &space, person)?;
            let counting = invites_with_key(&log, &key.public_hex(), person)
                .map(|(id, _)| id)
                .find(|id| {
                    !membership.refused.contains_key(id)
                        && !membership.cancelled_invites.contains(id)
                });
            if let Some(invite) = counting {
                let proof = key.sign(&join_proof_bytes(&space, &invite, &me));
                self.append_to_log(nb, &mut log, Body::Join { invite, proof })?;
                return Ok(());
            }
        }
        Ok(())
    }

    /// Makes the standing invites of the key in force that are missing: one for this
    /// device's person, and one for the other person while they have no device. Returns
    /// whether it wrote any; the caller persists.
    pub(super) fn settle_standing_invites(&self, nb: &mut Notebook) -> Result<bool, DuetError> {
        if self.notebook_log(nb)?.is_none() {
            return Ok(false);
        }
        // Only under the key in force: an epoch this device does not hold yet, or a
        // rotation still to come, waits.
        let keys = self.sync_keys(&nb.id)?;
        self.cache.borrow_mut().take();
        let in_force = match self.membership_of(nb)?.in_force {
            crate::model::members::InForce::Initial => String::new(),
            crate::model::members::InForce::Epoch(e) => e.id,
            crate::model::members::InForce::Rotate { .. } => return Ok(false),
        };
        if keys.epoch_id() != in_force {
            return Ok(false);
        }
        self.write_standing_invites(nb, &era_bytes(&keys))
    }

    /// Makes the standing invites of the key `era` that are missing (see
    /// [`Duet::settle_standing_invites`]); the caller persists.
    pub(super) fn write_standing_invites(
        &self,
        nb: &mut Notebook,
        era: &[u8; 32],
    ) -> Result<bool, DuetError> {
        let Some(checked) = self.notebook_log(nb)? else {
            return Ok(false);
        };
        let me = self.device.public_hex();
        let m = &checked.membership;
        let Some(mine) = m.devices.get(&me).cloned() else {
            return Ok(false);
        };
        let mut log = checked.log;
        let mut wrote = false;
        for person in m.people.clone() {
            if person != mine && m.devices_of(&person).next().is_some() {
                continue;
            }
            let key = standing_invite_key(era, &nb.id, &person)?.public_hex();
            let counts =
                invites_with_key(&log, &key, &person).any(|(id, _)| !m.refused.contains_key(&id));
            if !counts {
                self.append_to_log(
                    nb,
                    &mut log,
                    Body::Invite {
                        key,
                        person: person.clone(),
                    },
                )?;
                wrote = true;
            }
        }
        Ok(wrote)
    }

    /// Signs the removal of `device` into the notebook's log, when it keeps one; refuses a
    /// device of the other person. The caller persists.
    pub(super) fn remove_in_log(&self, nb: &mut Notebook, device: &str) -> Result<(), DuetError> {
        let Some(checked) = self.notebook_log(nb)? else {
            return Ok(());
        };
        let me = self.device.public_hex();
        let m = &checked.membership;
        let Some(theirs) = m.devices.get(device) else {
            return Ok(());
        };
        if m.devices.get(&me) != Some(theirs) {
            let person = index::people(&nb.index()?.am)?
                .into_iter()
                .find(|p| p.id == *theirs)
                .map(|p| p.name)
                .unwrap_or_else(|| theirs.clone());
            return Err(DuetError::NotYourDevice {
                device: device[..8.min(device.len())].to_owned(),
                person,
            });
        }
        let mut log = checked.log;
        self.append_to_log(nb, &mut log, Body::remove(&device.to_owned()))?;
        Ok(())
    }

    /// The person this device enrolled as in a notebook that keeps a log, while the log
    /// does not count it yet (its invite had not arrived when it joined).
    pub(super) fn pending_log_join(&self, nb: &mut Notebook) -> Result<Option<String>, DuetError> {
        if !mlog::has_log(&nb.members_doc()?.am) {
            return Ok(None);
        }
        let me = self.device.public_hex();
        let person = if nb.personal {
            // A device of the person's own once it wrote its record there.
            let mine = crate::model::members::device_record(&nb.members_doc()?.am, &me)?;
            mine.map(|_| OWN_PERSON.to_owned())
        } else {
            index::device_person(&nb.index()?.am, &me)?
        };
        let Some(person) = person else {
            return Ok(None);
        };
        Ok(match self.notebook_log(nb)? {
            Some(c) if c.membership.is_member(&me) || c.membership.removed.contains(&me) => None,
            _ => Some(person),
        })
    }

    /// The signed operations of the notebook's log, encoded (for a rotation notice).
    pub(super) fn log_ops_of(&self, nb: &mut Notebook) -> Result<Vec<Vec<u8>>, DuetError> {
        Ok(mlog::stored_ops(&nb.members_doc()?.am)?.ops)
    }
}

/// Writes the operations of `space` among `ops` (encoded) into `doc`: those whose signature
/// is their author's (the rules decide the rest when the log is read).
pub(super) fn take_log_ops(
    doc: &mut automerge::AutoCommit,
    space: &str,
    ops: &[Vec<u8>],
) -> Result<(), DuetError> {
    for bytes in ops {
        if let Ok(op) = SignedOp::from_bytes(bytes) {
            if op.op.space == space {
                mlog::put_op(doc, &op)?;
            }
        }
    }
    Ok(())
}

/// The log's refusals in words, for `duet status` and `duet devices`.
pub(super) fn refusals_in_words(checked: &CheckedLog) -> Vec<String> {
    let short = |d: &str| d.get(..8).unwrap_or(d).to_owned();
    let mut out: Vec<String> = checked
        .membership
        .refused
        .iter()
        .map(|(id, why)| {
            let op = &checked.log.ops()[id];
            format!(
                "membership operation {} ({} by device {}): {why}",
                id.short(),
                op.op.body.kind(),
                short(&op.op.author)
            )
        })
        .collect();
    if checked.unreadable > 0 {
        out.push(format!(
            "{} entries of the membership log that are not operations signed by their author",
            checked.unreadable
        ));
    }
    out
}
