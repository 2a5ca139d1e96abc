//! Membership from the log: which operations count, who is in, which epoch is in force.
//!
//! The rules (docs/security.md states them for users):
//!
//! 1. **Causality.** Operations are taken in a topological order of the log (parents first,
//!    ties by id), so every device computes the same result from the same set of
//!    operations, whatever order they arrived in. An operation whose parents are not all
//!    known waits.
//! 2. **Entitlement at the parents.** An operation counts only if its author was entitled
//!    to it in the membership *as it stood at its parents* (the operations it follows and
//!    theirs), never in the current one: the space's one `Begin` (the genesis the device
//!    was given) makes its author the first device; a member may add or invite devices of
//!    its own person, and add or invite the other person's device only while that person
//!    has none; a joiner's `Join` counts once its invite does and its proof is the invite
//!    key's; a member removes devices of its own person only; either person ends the space;
//!    an epoch is sealed only to members and names its author among them.
//! 3. **A removal voids what it did not see.** Every operation of a removed device that is
//!    not causally before its removal is void: a device cannot plant a future for itself
//!    (an epoch, an invite, a device) while its removal is on its way. Removals themselves
//!    are never voided, so two devices removing each other are both removed. Then rule 2
//!    is asked again without the void operations, so that what a void operation entitled
//!    (a device it added) does not count either; a void operation stays void. A removal
//!    also cancels the invites it follows: a join with one of them that the removal does
//!    not follow is void, so that an invite's key known before the removal (to the removed
//!    device too: a space's standing invites derive from its key of the time) admits
//!    nobody after it. In a space migrated from plain records (`Log::migrated`: its genesis
//!    is an id derived from the space and its people, not an operation), a device enters
//!    by claiming its place (`Claim`), and a removal cancels every claim it does not
//!    follow in the same way.
//! 4. **The epoch in force** is the greatest `(number, id)` among the counting epochs that
//!    follow every counting removal (each removal is among their ancestors). With no
//!    removal and no epoch it is the initial epoch (derived from the space's secret); when
//!    removals leave no such epoch, the space is *rotating*: any member mints the next.
//! 5. **Nothing is dropped silently.** Every operation that does not count is reported
//!    with its reason; two devices that joined with one invite are both in, and named.

use super::op::{join_proof_bytes, Body, DeviceId, OpId, Person, SignedOp};
use crate::crypto::device_signed;
use std::collections::{BTreeMap, BTreeSet};

/// People a space may have: two in a 1-1, one in a personal space.
pub const MAX_PEOPLE: usize = 2;

/// Why an operation does not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// A `Begin` other than the space's genesis.
    #[error("a second beginning of the space")]
    SecondBegin,
    /// The genesis names no people, too many, the same twice, or not its author's person.
    #[error("the space's people are not one or two distinct people including the author's")]
    BadPeople,
    /// An operation other than `Begin` that follows nothing.
    #[error("it follows no operation")]
    NoParents,
    /// Its author was not a member at its parents.
    #[error("its author was not a member of the space")]
    NotAMember,
    /// It names a person the space does not have.
    #[error("the space has no person {0:?}")]
    UnknownPerson(Person),
    /// It adds a device the space already knows (present or removed).
    #[error("the device was already known to the space")]
    AlreadyKnown,
    /// It adds or invites the other person's device while that person has devices.
    #[error("the other person already has devices: only they add more")]
    OtherPersonHasDevices,
    /// It removes a device of the other person.
    #[error("a device removes only devices of its own person")]
    NotYourDevice,
    /// It removes or seals to a device that is not a member.
    #[error("the device it names is not a member")]
    NoSuchDevice,
    /// An epoch sealed to a non-member, or not to its author.
    #[error("an epoch sealed to a device that is not a member, or not to its author")]
    BadSeals,
    /// A `Share` of an epoch the log does not have, or that does not count.
    #[error("it names an epoch that does not count")]
    UnknownEpoch,
    /// A `Join` with an invite that does not count.
    #[error("it names an invite that does not count")]
    UnknownInvite,
    /// A `Join` whose proof is not the invite key's.
    #[error("its proof is not the invite key's signature")]
    BadProof,
    /// The space had ended at its parents.
    #[error("the space had ended")]
    Ended,
    /// Its author was removed by an operation it did not follow.
    #[error("its author was removed by {} before it counted", .by.short())]
    Voided {
        /// The removal.
        by: OpId,
    },
    /// A join with an invite that a removal followed, made while that removal was on its
    /// way or after it: a removal cancels the invites made before it.
    #[error("its invite was cancelled by removal {} before it counted", .by.short())]
    InviteCancelled {
        /// The removal.
        by: OpId,
    },
    /// A claim that a removal did not follow: a removal cancels every claim it did not see.
    #[error("its claim was cancelled by removal {} before it counted", .by.short())]
    ClaimCancelled {
        /// The removal.
        by: OpId,
    },
    /// A claim in a space that was not migrated from plain records.
    #[error("a claim in a space that keeps its membership in a log from its beginning")]
    NotMigrated,
    /// A parent never arrived.
    #[error("it follows operations this device does not have")]
    WaitingForParents,
}

/// Which key epoch is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InForce {
    /// The initial epoch, derived from the space's secret: nobody was ever removed.
    Initial,
    /// The epoch minted by this operation.
    Epoch {
        /// Its `Epoch` operation.
        op: OpId,
        /// Its number.
        number: u64,
    },
    /// A removal left no epoch that follows it: a member must mint the next before
    /// anything new is sealed.
    Rotating,
}

/// The membership a log proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The space's people.
    pub people: Vec<Person>,
    /// The member devices and whose they are.
    pub devices: BTreeMap<DeviceId, Person>,
    /// Devices removed.
    pub removed: BTreeSet<DeviceId>,
    /// The epoch in force.
    pub in_force: InForce,
    /// Every counting epoch and the devices its key is sealed to (by `Epoch` and `Share`).
    pub epochs: BTreeMap<OpId, BTreeSet<DeviceId>>,
    /// Whether the space ended.
    pub ended: bool,
    /// Invites that more than one device joined with, and those devices.
    pub shared_invites: BTreeMap<OpId, BTreeSet<DeviceId>>,
    /// Invites a counting removal follows: a join with one of them no longer counts unless
    /// the removal follows it too (rule 3), so a joining device waits for a newer one.
    pub cancelled_invites: BTreeSet<OpId>,
    /// Operations that do not count, and why.
    pub refused: BTreeMap<OpId, Refusal>,
}

impl Membership {
    /// Whether `device` is a member now.
    pub fn is_member(&self, device: &str) -> bool {
        self.devices.contains_key(device)
    }

    /// The member devices of `person`.
    pub fn devices_of<'a>(&'a self, person: &'a str) -> impl Iterator<Item = &'a DeviceId> {
        self.devices
            .iter()
            .filter(move |(_, p)| p.as_str() == person)
            .map(|(d, _)| d)
    }
}

/// The membership as it stood at some point: what the rules ask.
#[derive(Debug, Default, Clone)]
struct State {
    /// A migrated space (its devices claim their places).
    migrated: bool,
    people: Vec<Person>,
    /// Every device ever added, and whose.
    devices: BTreeMap<DeviceId, Person>,
    removed: BTreeSet<DeviceId>,
    epochs: BTreeMap<OpId, BTreeSet<DeviceId>>,
    invites: BTreeMap<OpId, (DeviceId, Person)>,
    joins: BTreeMap<OpId, BTreeSet<DeviceId>>,
    ended: bool,
}

impl State {
    /// The person of `device` while it is a member.
    fn member(&self, device: &str) -> Option<&Person> {
        if self.removed.contains(device) {
            return None;
        }
        self.devices.get(device)
    }

    fn has_members(&self, person: &str) -> bool {
        self.devices
            .iter()
            .any(|(d, p)| p == person && !self.removed.contains(d))
    }

    fn apply(&mut self, id: OpId, op: &SignedOp) {
        let author = &op.op.author;
        match &op.op.body {
            Body::Begin { person, people } => {
                self.people = people.clone();
                self.devices.insert(author.clone(), person.clone());
            }
            Body::Add { device, person } => {
                self.devices.insert(device.clone(), person.clone());
            }
            Body::Remove { device } => {
                self.removed.insert(device.clone());
            }
            Body::Epoch { sealed_to, .. } => {
                self.epochs.insert(id, sealed_to.iter().cloned().collect());
            }
            Body::Share { epoch, device, .. } => {
                if let Some(to) = self.epochs.get_mut(epoch) {
                    to.insert(device.clone());
                }
            }
            Body::Invite { key, person } => {
                self.invites.insert(id, (key.clone(), person.clone()));
            }
            Body::Join { invite, .. } => {
                if let Some((_, person)) = self.invites.get(invite) {
                    self.devices.insert(author.clone(), person.clone());
                }
                self.joins
                    .entry(*invite)
                    .or_default()
                    .insert(author.clone());
            }
            Body::End => self.ended = true,
            Body::Claim { person } => {
                self.devices.insert(author.clone(), person.clone());
            }
        }
    }

    /// Whether `op` (not the genesis) may count in this state.
    fn allows(&self, space: &str, id: OpId, genesis: OpId, op: &SignedOp) -> Result<(), Refusal> {
        let author = &op.op.author;
        if let Body::Begin { person, people } = &op.op.body {
            if id != genesis {
                return Err(Refusal::SecondBegin);
            }
            let distinct: BTreeSet<&Person> = people.iter().collect();
            if people.is_empty()
                || people.len() > MAX_PEOPLE
                || distinct.len() != people.len()
                || !people.contains(person)
            {
                return Err(Refusal::BadPeople);
            }
            return Ok(());
        }
        if op.op.parents.is_empty() {
            return Err(Refusal::NoParents);
        }
        if let Body::Claim { person } = &op.op.body {
            // The claimer is not a member yet: the records before the log listed it.
            if !self.migrated {
                return Err(Refusal::NotMigrated);
            }
            if self.ended {
                return Err(Refusal::Ended);
            }
            if !self.people.contains(person) {
                return Err(Refusal::UnknownPerson(person.clone()));
            }
            if self.devices.contains_key(author) {
                return Err(Refusal::AlreadyKnown);
            }
            return Ok(());
        }
        if let Body::Join { invite, proof } = &op.op.body {
            // The joiner is not a member yet: its invite entitles it.
            let Some((key, _)) = self.invites.get(invite) else {
                return Err(Refusal::UnknownInvite);
            };
            if self.ended {
                return Err(Refusal::Ended);
            }
            if self.devices.contains_key(author) {
                return Err(Refusal::AlreadyKnown);
            }
            if !device_signed(key, &join_proof_bytes(space, invite, author), proof) {
                return Err(Refusal::BadProof);
            }
            return Ok(());
        }
        let Some(mine) = self.member(author) else {
            return Err(Refusal::NotAMember);
        };
        if self.ended {
            return Err(Refusal::Ended);
        }
        match &op.op.body {
            Body::Begin { .. } | Body::Join { .. } | Body::Claim { .. } => Ok(()),
            Body::Add { device, person }
            | Body::Invite {
                key: device,
                person,
            } => {
                if !self.people.contains(person) {
                    return Err(Refusal::UnknownPerson(person.clone()));
                }
                if self.devices.contains_key(device) {
                    return Err(Refusal::AlreadyKnown);
                }
                if person != mine && self.has_members(person) {
                    return Err(Refusal::OtherPersonHasDevices);
                }
                Ok(())
            }
            Body::Remove { device } => match self.member(device) {
                None => Err(Refusal::NoSuchDevice),
                Some(theirs) if theirs != mine => Err(Refusal::NotYourDevice),
                Some(_) => Ok(()),
            },
            Body::Epoch { sealed_to, .. } => {
                if !sealed_to.contains(author) || sealed_to.iter().any(|d| self.member(d).is_none())
                {
                    return Err(Refusal::BadSeals);
                }
                Ok(())
            }
            Body::Share { epoch, device, .. } => {
                let Some(holders) = self.epochs.get(epoch) else {
                    return Err(Refusal::UnknownEpoch);
                };
                if !holders.contains(author) || self.member(device).is_none() {
                    return Err(Refusal::BadSeals);
                }
                Ok(())
            }
            Body::End => Ok(()),
        }
    }
}

/// The log's operations in causal order, with each one's ancestors.
struct Ordered<'a> {
    order: Vec<(OpId, &'a SignedOp)>,
    ancestors: BTreeMap<OpId, BTreeSet<OpId>>,
    waiting: BTreeSet<OpId>,
}

fn order(ops: &BTreeMap<OpId, SignedOp>, root: Option<OpId>) -> Ordered<'_> {
    let mut children: BTreeMap<OpId, Vec<OpId>> = BTreeMap::new();
    let mut missing: BTreeMap<OpId, usize> = BTreeMap::new();
    for (id, op) in ops {
        // A migrated space's genesis is no operation: following it waits for nothing.
        let parents: BTreeSet<&OpId> = op
            .op
            .parents
            .iter()
            .filter(|p| Some(**p) != root || ops.contains_key(*p))
            .collect();
        missing.insert(*id, parents.len());
        for p in parents {
            children.entry(*p).or_default().push(*id);
        }
    }
    let mut ready: BTreeSet<OpId> = missing
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(id, _)| *id)
        .collect();
    let mut ordered = Ordered {
        order: Vec::with_capacity(ops.len()),
        ancestors: BTreeMap::new(),
        waiting: BTreeSet::new(),
    };
    while let Some(id) = ready.pop_first() {
        let Some(op) = ops.get(&id) else { continue };
        let mut mine = BTreeSet::new();
        for p in &op.op.parents {
            mine.insert(*p);
            if let Some(theirs) = ordered.ancestors.get(p) {
                mine.extend(theirs.iter().copied());
            }
        }
        ordered.ancestors.insert(id, mine);
        ordered.order.push((id, op));
        for child in children.get(&id).into_iter().flatten() {
            if let Some(n) = missing.get_mut(child) {
                *n -= 1;
                if *n == 0 {
                    ready.insert(*child);
                }
            }
        }
    }
    // A parent that never arrived (or a cycle, which hashes make impossible) leaves
    // operations never ready.
    ordered.waiting = ops
        .keys()
        .filter(|id| !ordered.ancestors.contains_key(id))
        .copied()
        .collect();
    ordered
}

/// Which operations count (rule 2), leaving out `void` ones.
fn entitled(
    space: &str,
    genesis: OpId,
    base: &State,
    ordered: &Ordered<'_>,
    void: &BTreeMap<OpId, Refusal>,
) -> BTreeMap<OpId, Result<(), Refusal>> {
    let mut results: BTreeMap<OpId, Result<(), Refusal>> = BTreeMap::new();
    // The state after each operation, kept while a child still needs it: an operation
    // with one parent starts from its parent's state (the same as replaying its ancestors,
    // since they come first in the order), so a chain costs one pass, not one per link.
    let mut children_left: BTreeMap<OpId, usize> = BTreeMap::new();
    for (_, op) in &ordered.order {
        for parent in op.op.parents.iter().collect::<BTreeSet<_>>() {
            *children_left.entry(*parent).or_default() += 1;
        }
    }
    let mut after: BTreeMap<OpId, State> = BTreeMap::new();
    for (id, op) in &ordered.order {
        let ancestors = &ordered.ancestors[id];
        let parents: BTreeSet<&OpId> = op.op.parents.iter().collect();
        let inherited = match parents.iter().next() {
            Some(parent) if parents.len() == 1 => {
                if children_left.get(*parent) == Some(&1) {
                    after.remove(*parent)
                } else {
                    after.get(*parent).cloned()
                }
            }
            _ => None,
        };
        let state = inherited.unwrap_or_else(|| {
            let mut state = base.clone();
            for (before, earlier) in &ordered.order {
                if ancestors.contains(before)
                    && !void.contains_key(before)
                    && matches!(results.get(before), Some(Ok(())))
                {
                    state.apply(*before, earlier);
                }
            }
            state
        });
        for parent in &parents {
            if let Some(left) = children_left.get_mut(*parent) {
                *left = left.saturating_sub(1);
                if *left == 0 {
                    after.remove(*parent);
                }
            }
        }
        // An operation that does not follow the genesis belongs to no space we know.
        let rooted = *id == genesis || ancestors.contains(&genesis);
        let result = if !rooted {
            if matches!(op.op.body, Body::Begin { .. }) {
                Err(Refusal::SecondBegin)
            } else {
                Err(Refusal::NotAMember)
            }
        } else {
            state.allows(space, *id, genesis, op)
        };
        if children_left.get(id).is_some_and(|n| *n > 0) {
            let mut mine = state;
            if result.is_ok() && !void.contains_key(id) {
                mine.apply(*id, op);
            }
            after.insert(*id, mine);
        }
        results.insert(*id, result);
    }
    results
}

/// Computes the membership the log's `ops` prove, for the space `space` begun by `genesis`.
///
/// `migrated`: the people of a space migrated from plain records, whose genesis is no
/// operation (see `Log::migrated`).
pub fn membership(
    space: &str,
    genesis: OpId,
    migrated: Option<&[Person]>,
    ops: &BTreeMap<OpId, SignedOp>,
) -> Membership {
    let base = match migrated {
        Some(people) => State {
            migrated: true,
            people: people.to_vec(),
            ..State::default()
        },
        None => State::default(),
    };
    let ordered = order(ops, migrated.map(|_| genesis));
    let first = entitled(space, genesis, &base, &ordered, &BTreeMap::new());
    // Rule 3: every counting removal voids its device's operations it does not follow,
    // and the joins it does not follow with invites it follows. Asking rule 2 again
    // without the void operations may let an operation count that one of them kept out
    // (a second join following a cancelled one), so this runs until nothing more is void.
    let mut void: BTreeMap<OpId, Refusal> = BTreeMap::new();
    let mut results = first;
    loop {
        let before = void.len();
        for (removal, op) in &ordered.order {
            let Body::Remove { device } = &op.op.body else {
                continue;
            };
            if !matches!(results.get(removal), Some(Ok(()))) {
                continue;
            }
            let seen = &ordered.ancestors[removal];
            for (id, other) in &ordered.order {
                if seen.contains(id)
                    || void.contains_key(id)
                    || !matches!(results.get(id), Some(Ok(())))
                {
                    continue;
                }
                let why = match &other.op.body {
                    Body::Remove { .. } => None,
                    _ if &other.op.author == device => Some(Refusal::Voided { by: *removal }),
                    Body::Join { invite, .. } if seen.contains(invite) => {
                        Some(Refusal::InviteCancelled { by: *removal })
                    }
                    Body::Claim { .. } => Some(Refusal::ClaimCancelled { by: *removal }),
                    _ => None,
                };
                if let Some(why) = why {
                    void.insert(*id, why);
                }
            }
        }
        if void.len() == before {
            break;
        }
        results = entitled(space, genesis, &base, &ordered, &void);
    }
    let mut state = base.clone();
    let mut refused = BTreeMap::new();
    let mut counting = Vec::new();
    for (id, op) in &ordered.order {
        if let Some(why) = void.get(id) {
            refused.insert(*id, why.clone());
        } else {
            match &results[id] {
                Ok(()) => {
                    state.apply(*id, op);
                    counting.push((*id, *op));
                }
                Err(why) => {
                    refused.insert(*id, why.clone());
                }
            }
        }
    }
    for id in &ordered.waiting {
        refused.insert(*id, Refusal::WaitingForParents);
    }
    let in_force = in_force(&ordered, &counting);
    let cancelled_invites = counting
        .iter()
        .filter(|(_, op)| matches!(op.op.body, Body::Remove { .. }))
        .flat_map(|(removal, _)| &ordered.ancestors[removal])
        .filter(|id| matches!(ops.get(id).map(|o| &o.op.body), Some(Body::Invite { .. })))
        .copied()
        .collect();
    let devices = state
        .devices
        .iter()
        .filter(|(d, _)| !state.removed.contains(*d))
        .map(|(d, p)| (d.clone(), p.clone()))
        .collect();
    let shared_invites = state
        .joins
        .iter()
        .filter(|(_, who)| who.len() > 1)
        .map(|(i, who)| (*i, who.clone()))
        .collect();
    Membership {
        people: state.people,
        devices,
        removed: state.removed,
        in_force,
        epochs: state.epochs,
        ended: state.ended,
        shared_invites,
        cancelled_invites,
        refused,
    }
}

/// Rule 4: the epoch in force among the counting operations.
fn in_force(ordered: &Ordered<'_>, counting: &[(OpId, &SignedOp)]) -> InForce {
    let removals: Vec<OpId> = counting
        .iter()
        .filter(|(_, op)| matches!(op.op.body, Body::Remove { .. }))
        .map(|(id, _)| *id)
        .collect();
    let best = counting
        .iter()
        .filter_map(|(id, op)| match &op.op.body {
            Body::Epoch { number, .. } => Some((*number, *id)),
            _ => None,
        })
        .filter(|(_, id)| removals.iter().all(|r| ordered.ancestors[id].contains(r)))
        .max();
    match best {
        Some((number, op)) => InForce::Epoch { op, number },
        None if removals.is_empty() => InForce::Initial,
        None => InForce::Rotating,
    }
}
