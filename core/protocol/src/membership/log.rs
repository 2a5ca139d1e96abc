//! A space's membership log: the signed operations a device holds, and new ones it makes.
//!
//! The log keeps every operation whose signature is its author's, whatever the rules
//! later say of it: an operation that does not count is reported, never dropped, and an
//! operation waiting for its parents counts once they arrive.

use super::op::{Body, DeviceId, Op, OpError, OpId, Person, SignedOp};
use super::rules::{self, Membership};
use crate::crypto::DeviceKey;
use std::collections::{BTreeMap, BTreeSet};

/// Operations one space's log may hold. A 1-1 of ten years whose people change a phone
/// every few months makes about 200 (a link, a removal and an epoch each time); the bound
/// keeps a hostile member's flood from making every device's membership slow to compute
/// (`cargo bench -p duet-protocol --bench membership_log`).
pub const MAX_OPS: usize = 2_000;

/// Why an operation was not taken into the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// Its bytes or its signature.
    #[error(transparent)]
    Op(#[from] OpError),
    /// It belongs to another space.
    #[error("a membership operation of another space")]
    OtherSpace,
    /// The log holds [`MAX_OPS`] operations.
    #[error("the membership log is full ({MAX_OPS} operations)")]
    Full,
}

/// Context of a migrated space's genesis id.
const MIGRATED_CONTEXT: &str = "duet 2026-12 migrated membership genesis v1";

/// One space's membership log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    space: String,
    genesis: OpId,
    /// A migrated space's people: its genesis is no operation but this id.
    migrated: Option<Vec<Person>>,
    ops: BTreeMap<OpId, SignedOp>,
}

impl Log {
    /// Begins a space: `key`'s device is the first device of `person`, among `people`.
    pub fn begin(key: &DeviceKey, space: &str, person: &str, people: &[&str]) -> Log {
        let genesis = Op {
            space: space.to_owned(),
            parents: Vec::new(),
            author: key.public_hex(),
            body: Body::Begin {
                person: person.to_owned(),
                people: people.iter().map(|p| (*p).to_owned()).collect(),
            },
        }
        .sign(key);
        let id = genesis.id();
        Log {
            space: space.to_owned(),
            genesis: id,
            migrated: None,
            ops: BTreeMap::from([(id, genesis)]),
        }
    }

    /// The log of a space whose membership was kept in plain records before: its genesis
    /// is an id every device derives alike from the space and its people (sorted), with no
    /// author and no device, so that devices migrating at once, offline, begin one log. Its
    /// devices enter by [`Body::Claim`], and by the `Add`s of devices that claimed.
    pub fn migrated(space: &str, people: &[&str]) -> Log {
        let mut people: Vec<Person> = people.iter().map(|p| (*p).to_owned()).collect();
        people.sort();
        people.dedup();
        let mut hasher = blake3::Hasher::new_derive_key(MIGRATED_CONTEXT);
        hasher.update(&postcard::to_allocvec(&(space, &people)).unwrap_or_default());
        Log {
            space: space.to_owned(),
            genesis: OpId(*hasher.finalize().as_bytes()),
            migrated: Some(people),
            ops: BTreeMap::new(),
        }
    }

    /// Whether it is a migrated space's log.
    pub fn is_migrated(&self) -> bool {
        self.migrated.is_some()
    }

    /// An empty log of `space`, which `genesis` began (a joining device learns both from
    /// its ticket: whoever gives it a log cannot give it another space's beginning).
    pub fn of(space: &str, genesis: OpId) -> Log {
        Log {
            space: space.to_owned(),
            genesis,
            migrated: None,
            ops: BTreeMap::new(),
        }
    }

    /// The space's id.
    pub fn space(&self) -> &str {
        &self.space
    }

    /// The genesis operation's id.
    pub fn genesis(&self) -> OpId {
        self.genesis
    }

    /// Takes `op` into the log (a second copy changes nothing); its id.
    pub fn insert(&mut self, op: SignedOp) -> Result<OpId, LogError> {
        op.check()?;
        if op.op.space != self.space {
            return Err(LogError::OtherSpace);
        }
        let id = op.id();
        if !self.ops.contains_key(&id) {
            if self.ops.len() >= MAX_OPS {
                return Err(LogError::Full);
            }
            self.ops.insert(id, op);
        }
        Ok(id)
    }

    /// Reads and takes the operation encoded in `bytes`.
    pub fn insert_bytes(&mut self, bytes: &[u8]) -> Result<OpId, LogError> {
        self.insert(SignedOp::from_bytes(bytes)?)
    }

    /// Every operation, by id.
    pub fn ops(&self) -> &BTreeMap<OpId, SignedOp> {
        &self.ops
    }

    /// The operations no other operation follows: what a new one names as its parents
    /// (a migrated space's first operation follows its genesis).
    pub fn heads(&self) -> Vec<OpId> {
        let followed: BTreeSet<&OpId> = self.ops.values().flat_map(|o| &o.op.parents).collect();
        let heads: Vec<OpId> = self
            .ops
            .keys()
            .filter(|id| !followed.contains(id))
            .copied()
            .collect();
        if heads.is_empty() && self.migrated.is_some() {
            return vec![self.genesis];
        }
        heads
    }

    /// Signs `body` with `key` following `parents` (not every head), and takes it into
    /// the log: a device that vouches for several devices at once names the same parents
    /// for each, so that each is judged by the membership as it stood before any of them.
    pub fn append_after(
        &mut self,
        key: &DeviceKey,
        parents: Vec<OpId>,
        body: Body,
    ) -> Result<SignedOp, LogError> {
        let op = Op {
            space: self.space.clone(),
            parents,
            author: key.public_hex(),
            body,
        }
        .sign(key);
        self.insert(op.clone())?;
        Ok(op)
    }

    /// Signs `body` with `key`, following every head, and takes it into the log.
    pub fn append(&mut self, key: &DeviceKey, body: Body) -> Result<SignedOp, LogError> {
        let op = Op {
            space: self.space.clone(),
            parents: self.heads(),
            author: key.public_hex(),
            body,
        }
        .sign(key);
        self.insert(op.clone())?;
        Ok(op)
    }

    /// The operations of `other` this log lacks (what to send it).
    pub fn missing_from<'a>(&'a self, other: &'a Log) -> impl Iterator<Item = &'a SignedOp> {
        self.ops
            .iter()
            .filter(|(id, _)| !other.ops.contains_key(id))
            .map(|(_, op)| op)
    }

    /// The ids `id` follows, directly or not (a parent this log lacks, such as a migrated
    /// space's genesis, is named but not followed further).
    pub fn ancestors(&self, id: OpId) -> BTreeSet<OpId> {
        let mut out = BTreeSet::new();
        let mut stack = vec![id];
        while let Some(next) = stack.pop() {
            for parent in self.ops.get(&next).into_iter().flat_map(|o| &o.op.parents) {
                if out.insert(*parent) {
                    stack.push(*parent);
                }
            }
        }
        out
    }

    /// The membership the log proves (see [`rules`]).
    pub fn membership(&self) -> Membership {
        rules::membership(
            &self.space,
            self.genesis,
            self.migrated.as_deref(),
            &self.ops,
        )
    }
}

/// Convenience bodies.
impl Body {
    /// `device` joins as a device of `person`.
    pub fn add(device: &DeviceId, person: &Person) -> Body {
        Body::Add {
            device: device.clone(),
            person: person.clone(),
        }
    }

    /// `device` is removed.
    pub fn remove(device: &DeviceId) -> Body {
        Body::Remove {
            device: device.clone(),
        }
    }
}
