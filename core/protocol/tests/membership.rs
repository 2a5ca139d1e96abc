//! The membership rules, deterministic and in memory: devices with their own logs make
//! operations offline, exchange them, and must agree on who is in and which epoch holds.

use duet_protocol::crypto::DeviceKey;
use duet_protocol::membership::op::join_proof_bytes;
use duet_protocol::membership::{Body, InForce, Log, OpId, Refusal, SignedOp};
use proptest::prelude::*;

const SPACE: &str = "nb1";

/// A device: its key and the log it holds.
struct Device {
    key: DeviceKey,
    log: Log,
}

impl Device {
    fn id(&self) -> String {
        self.key.public_hex()
    }

    /// Signs `body` and takes it into its own log, asking no rule (as a hostile device
    /// would, too: the rules are asked by whoever reads the log).
    fn does(&mut self, body: Body) -> OpId {
        self.log.append(&self.key, body).expect("appends").id()
    }
}

/// Gives each device every operation the other holds.
fn meet(a: &mut Device, b: &mut Device) {
    let to_b: Vec<SignedOp> = a.log.missing_from(&b.log).cloned().collect();
    let to_a: Vec<SignedOp> = b.log.missing_from(&a.log).cloned().collect();
    for op in to_b {
        b.log.insert(op).expect("takes");
    }
    for op in to_a {
        a.log.insert(op).expect("takes");
    }
}

/// A copy of `from`'s log, for a new device.
fn copy_of(from: &Device) -> Log {
    let mut log = Log::of(SPACE, from.log.genesis());
    for op in from.log.ops().values() {
        log.insert(op.clone()).expect("takes");
    }
    log
}

/// Ana's laptop begins a 1-1 and invites Bo's laptop, which joins.
fn a_1_1() -> (Device, Device) {
    let key = DeviceKey::generate();
    let mut ana = Device {
        log: Log::begin(&key, SPACE, "manager", &["manager", "report"]),
        key,
    };
    let bo = joined_by_invite(&mut ana, "report");
    (ana, bo)
}

/// A new device that joins through an invite `inviter` makes for `person`.
fn joined_by_invite(inviter: &mut Device, person: &str) -> Device {
    let ticket = DeviceKey::generate();
    let invite = inviter.does(Body::Invite {
        key: ticket.public_hex(),
        person: person.into(),
    });
    join_with(inviter, &ticket, invite)
}

fn join_with(inviter: &Device, ticket: &DeviceKey, invite: OpId) -> Device {
    let mut device = Device {
        key: DeviceKey::generate(),
        log: copy_of(inviter),
    };
    let proof = ticket.sign(&join_proof_bytes(SPACE, &invite, &device.id()));
    device.does(Body::Join { invite, proof });
    device
}

/// A device `by` links for its own person.
fn linked(by: &mut Device) -> Device {
    let key = DeviceKey::generate();
    let person = by
        .log
        .membership()
        .devices
        .get(&by.id())
        .cloned()
        .unwrap_or_else(|| "manager".into());
    by.does(Body::add(&key.public_hex(), &person));
    Device {
        log: copy_of(by),
        key,
    }
}

fn epoch(by: &mut Device, number: u64) -> OpId {
    let sealed_to = by.log.membership().devices.keys().cloned().collect();
    by.does(Body::Epoch {
        number,
        sealed_to,
        seals: [0; 32],
    })
}

#[test]
fn a_space_begins_links_and_invites_and_every_device_agrees() {
    let (mut ana, mut bo) = a_1_1();
    let mut phone = linked(&mut ana);
    meet(&mut ana, &mut bo);
    meet(&mut bo, &mut phone);
    meet(&mut ana, &mut bo);
    let m = ana.log.membership();
    assert_eq!(m.devices.len(), 3, "{m:?}");
    assert_eq!(m.devices[&bo.id()], "report");
    assert_eq!(m.devices[&phone.id()], "manager");
    assert_eq!(m.in_force, InForce::Initial);
    assert!(m.refused.is_empty(), "{:?}", m.refused);
    assert_eq!(bo.log.membership(), m);
    assert_eq!(phone.log.membership(), m);
}

#[test]
fn nobody_removes_or_adds_the_other_person_s_devices_and_a_stranger_adds_nobody() {
    let (mut ana, mut bo) = a_1_1();
    let removal = bo.does(Body::remove(&ana.id()));
    let ghost = DeviceKey::generate().public_hex();
    let add = bo.does(Body::add(&ghost, &"manager".to_owned()));
    // A stranger who learned the space's log writes itself in.
    let mut stranger = Device {
        log: bo.log.clone(),
        key: DeviceKey::generate(),
    };
    let me = stranger.id();
    let planted = stranger.does(Body::add(&me, &"report".to_owned()));
    meet(&mut ana, &mut bo);
    meet(&mut ana, &mut stranger);
    let m = ana.log.membership();
    assert_eq!(m.refused.get(&removal), Some(&Refusal::NotYourDevice));
    assert_eq!(m.refused.get(&add), Some(&Refusal::OtherPersonHasDevices));
    assert_eq!(m.refused.get(&planted), Some(&Refusal::NotAMember));
    assert!(m.is_member(&ana.id()) && !m.is_member(&ghost) && !m.is_member(&me));
}

#[test]
fn a_device_added_by_a_device_whose_removal_it_raced_is_not_a_member() {
    let (mut ana, mut bo) = a_1_1();
    meet(&mut ana, &mut bo);
    let mut phone = linked(&mut ana);
    meet(&mut ana, &mut phone);
    // Offline, concurrently: the laptop removes the lost phone; the thief links a device.
    let removal = ana.does(Body::remove(&phone.id()));
    let mut thiefs = linked(&mut phone);
    let added = *phone.log.heads().first().expect("the add");
    let thiefs_epoch = epoch(&mut thiefs, 9);
    meet(&mut phone, &mut thiefs);
    meet(&mut ana, &mut phone);
    meet(&mut ana, &mut bo);
    let m = bo.log.membership();
    assert!(!m.is_member(&phone.id()) && !m.is_member(&thiefs.id()));
    assert!(m.is_member(&ana.id()) && m.is_member(&bo.id()));
    assert_eq!(
        m.refused.get(&added),
        Some(&Refusal::Voided { by: removal })
    );
    assert_eq!(m.refused.get(&thiefs_epoch), Some(&Refusal::NotAMember));
    assert_eq!(m.in_force, InForce::Rotating);
}

#[test]
fn two_devices_removing_each_other_are_both_removed() {
    let (mut ana, mut bo) = a_1_1();
    meet(&mut ana, &mut bo);
    let mut phone = linked(&mut ana);
    meet(&mut ana, &mut phone);
    ana.does(Body::remove(&phone.id()));
    phone.does(Body::remove(&ana.id()));
    meet(&mut ana, &mut phone);
    meet(&mut ana, &mut bo);
    let m = bo.log.membership();
    assert!(
        !m.is_member(&ana.id()) && !m.is_member(&phone.id()),
        "{m:?}"
    );
    assert_eq!(m.devices.keys().collect::<Vec<_>>(), vec![&bo.id()]);
    assert_eq!(m.in_force, InForce::Rotating);
    // Bo, alone, mints the next epoch, and may invite Ana's new first device.
    let next = epoch(&mut bo, 2);
    assert_eq!(
        bo.log.membership().in_force,
        InForce::Epoch {
            op: next,
            number: 2
        }
    );
    let mut again = joined_by_invite(&mut bo, "manager");
    meet(&mut bo, &mut again);
    assert_eq!(bo.log.membership().devices_of("manager").count(), 1);
}

#[test]
fn removing_the_device_that_minted_the_current_epoch_needs_a_new_one() {
    let (mut ana, mut bo) = a_1_1();
    let mut phone = linked(&mut ana);
    meet(&mut ana, &mut phone);
    meet(&mut ana, &mut bo);
    meet(&mut bo, &mut phone);
    let first = epoch(&mut phone, 1);
    meet(&mut ana, &mut phone);
    assert_eq!(
        ana.log.membership().in_force,
        InForce::Epoch {
            op: first,
            number: 1
        }
    );
    ana.does(Body::remove(&phone.id()));
    assert_eq!(ana.log.membership().in_force, InForce::Rotating);
    let second = epoch(&mut ana, 2);
    meet(&mut ana, &mut bo);
    let m = bo.log.membership();
    assert_eq!(
        m.in_force,
        InForce::Epoch {
            op: second,
            number: 2
        }
    );
    assert!(!m.epochs[&second].contains(&phone.id()));
}

#[test]
fn an_epoch_planted_before_a_removal_never_comes_back_in_force() {
    let (mut ana, mut bo) = a_1_1();
    let mut phone = linked(&mut ana);
    meet(&mut ana, &mut phone);
    // The phone plants a huge epoch sealed to itself alone, which the laptop then sees...
    let seen = phone.does(Body::Epoch {
        number: u64::MAX,
        sealed_to: vec![phone.id()],
        seals: [0; 32],
    });
    meet(&mut ana, &mut phone);
    // ...and another the laptop never sees before removing it.
    let unseen = phone.does(Body::Epoch {
        number: u64::MAX - 1,
        sealed_to: vec![phone.id()],
        seals: [0; 32],
    });
    let removal = ana.does(Body::remove(&phone.id()));
    let next = epoch(&mut ana, 2);
    meet(&mut ana, &mut phone);
    meet(&mut ana, &mut bo);
    let m = bo.log.membership();
    assert_eq!(
        m.in_force,
        InForce::Epoch {
            op: next,
            number: 2
        }
    );
    assert!(
        m.epochs.contains_key(&seen),
        "an epoch made before the removal stays in the history"
    );
    assert_eq!(
        m.refused.get(&unseen),
        Some(&Refusal::Voided { by: removal })
    );
}

#[test]
fn one_invite_joined_twice_counts_both_and_names_them() {
    let (mut ana, mut bo) = a_1_1();
    let ticket = DeviceKey::generate();
    let invite = bo.does(Body::Invite {
        key: ticket.public_hex(),
        person: "report".into(),
    });
    let mut first = join_with(&bo, &ticket, invite);
    let mut second = join_with(&bo, &ticket, invite);
    meet(&mut bo, &mut first);
    meet(&mut bo, &mut second);
    meet(&mut ana, &mut bo);
    let m = ana.log.membership();
    assert!(m.is_member(&first.id()) && m.is_member(&second.id()));
    assert_eq!(
        m.shared_invites.get(&invite),
        Some(&[first.id(), second.id()].into_iter().collect())
    );
}

#[test]
fn a_removal_cancels_the_invites_it_follows_for_joins_it_does_not() {
    let (mut ana, mut bo) = a_1_1();
    let mut phone = linked(&mut ana);
    meet(&mut ana, &mut bo);
    // The phone knew a standing invite's key; Ana's laptop made the invite.
    let ticket = DeviceKey::generate();
    let invite = ana.does(Body::Invite {
        key: ticket.public_hex(),
        person: "manager".into(),
    });
    // A device that joins before the removal, and is seen by it, stays in.
    let mut early = join_with(&ana, &ticket, invite);
    meet(&mut ana, &mut early);
    meet(&mut ana, &mut phone);
    let removal = ana.does(Body::remove(&phone.id()));
    // After the removal, the phone's thief joins a new device with the same invite: once
    // following the removal, once as if it had not heard of it.
    let after = join_with(&ana, &ticket, invite);
    let raced = join_with(&phone, &ticket, invite);
    let mut all = ana.log.clone();
    for op in after.log.ops().values().chain(raced.log.ops().values()) {
        all.insert(op.clone()).expect("takes");
    }
    let m = all.membership();
    assert!(m.is_member(&early.id()), "{:?}", m.refused);
    // Every invite made before the removal is cancelled (Bo's first one too).
    assert!(m.cancelled_invites.contains(&invite));
    assert_eq!(
        m.cancelled_invites,
        all.ancestors(removal)
            .into_iter()
            .filter(|id| matches!(all.ops()[id].op.body, Body::Invite { .. }))
            .collect()
    );
    for late in [&after, &raced] {
        assert!(!m.is_member(&late.id()));
        assert!(m
            .refused
            .values()
            .any(|r| *r == Refusal::InviteCancelled { by: removal }));
    }
    assert_eq!(
        m.refused
            .values()
            .filter(|r| matches!(r, Refusal::InviteCancelled { .. }))
            .count(),
        2
    );

    // A second join following the cancelled one (refused at first as already known, and
    // no longer so once the first is void) is cancelled too.
    let mut again = after;
    let proof = ticket.sign(&join_proof_bytes(SPACE, &invite, &again.id()));
    again.does(Body::Join { invite, proof });
    for op in again.log.ops().values() {
        all.insert(op.clone()).expect("takes");
    }
    let m = all.membership();
    assert!(!m.is_member(&again.id()), "{:?}", m.refused);
    assert_eq!(
        m.refused
            .values()
            .filter(|r| matches!(r, Refusal::InviteCancelled { .. }))
            .count(),
        3
    );
}

/// A device of a space migrated from plain records: its key and its log.
fn migrating(people: &[&str]) -> Device {
    Device {
        key: DeviceKey::generate(),
        log: Log::migrated(SPACE, people),
    }
}

/// `device` claims its place as `person`'s, then vouches for `others` (device, person)
/// as the plain records listed them, each judged at its claim.
fn migrate(device: &mut Device, person: &str, others: &[(&str, &str)]) {
    let claim = device.does(Body::Claim {
        person: person.into(),
    });
    for (other, theirs) in others {
        if device.log.membership().is_member(other) {
            continue;
        }
        device
            .log
            .append_after(
                &device.key,
                vec![claim],
                Body::add(&(*other).to_owned(), &(*theirs).to_owned()),
            )
            .expect("vouches");
    }
}

#[test]
fn two_devices_migrating_at_once_offline_begin_one_log_and_agree() {
    let people = ["report", "manager"];
    let mut laptop = migrating(&people);
    let mut bo = migrating(&people);
    let phone = DeviceKey::generate().public_hex();
    assert_eq!(
        laptop.log.genesis(),
        bo.log.genesis(),
        "one genesis, derived alike"
    );
    let (laptop_id, bo_id) = (laptop.id(), bo.id());
    migrate(
        &mut laptop,
        "manager",
        &[(&phone, "manager"), (&bo_id, "report")],
    );
    migrate(
        &mut bo,
        "report",
        &[(&laptop_id, "manager"), (&phone, "manager")],
    );
    meet(&mut laptop, &mut bo);
    let m = laptop.log.membership();
    assert_eq!(m, bo.log.membership());
    assert!(m.refused.is_empty(), "{:?}", m.refused);
    assert_eq!(m.devices.len(), 3);
    assert_eq!(m.devices.get(&phone).map(String::as_str), Some("manager"));
    assert_eq!(m.devices.get(&bo_id).map(String::as_str), Some("report"));
    assert_eq!(m.in_force, InForce::Initial);
}

#[test]
fn a_removal_cancels_the_claims_it_did_not_see_and_a_vouched_device_stays() {
    let people = ["manager", "report"];
    let mut laptop = migrating(&people);
    let mut phone = migrating(&people);
    let mut bo = migrating(&people);
    let mut stranger = migrating(&people);
    let (phone_id, bo_id) = (phone.id(), bo.id());
    migrate(
        &mut laptop,
        "manager",
        &[(&phone_id, "manager"), (&bo_id, "report")],
    );
    let removal = laptop.does(Body::remove(&phone_id));
    // Offline meanwhile: the lost phone claims its place, a holder of the notebook's
    // secret the records never listed claims one, and Bo claims his.
    phone.does(Body::Claim {
        person: "manager".into(),
    });
    stranger.does(Body::Claim {
        person: "report".into(),
    });
    bo.does(Body::Claim {
        person: "report".into(),
    });
    for other in [&mut phone, &mut stranger, &mut bo] {
        meet(&mut laptop, other);
    }
    let m = laptop.log.membership();
    assert!(!m.is_member(&phone_id) && m.removed.contains(&phone_id));
    assert!(!m.is_member(&stranger.id()));
    assert!(
        m.is_member(&bo_id),
        "vouched for by the laptop: {:?}",
        m.refused
    );
    let cancelled = m
        .refused
        .values()
        .filter(|r| **r == Refusal::ClaimCancelled { by: removal })
        .count();
    // The phone's own claim is void as its removal's device; the other two cancelled.
    assert_eq!(cancelled, 2, "{:?}", m.refused);
    // A claim in a space begun with a log is no claim.
    let (mut ana, _) = a_1_1();
    let claim = ana.does(Body::Claim {
        person: "report".into(),
    });
    assert_eq!(
        ana.log.membership().refused.get(&claim),
        Some(&Refusal::NotMigrated)
    );
}

#[test]
fn forged_second_begin_bad_proof_and_after_end_operations_are_refused() {
    let (mut ana, mut bo) = a_1_1();
    // A forged signature never enters a log.
    let mut forged = ana.log.ops().values().next().cloned().expect("an op");
    forged.op.author = bo.id();
    assert!(bo.log.insert(forged).is_err());
    // A second beginning of the same space, and a join whose proof is not the ticket's.
    let mut other = Device {
        key: DeviceKey::generate(),
        log: Log::begin(&DeviceKey::generate(), SPACE, "manager", &["manager"]),
    };
    let second = other.log.heads()[0];
    let ticket = DeviceKey::generate();
    let invite = ana.does(Body::Invite {
        key: ticket.public_hex(),
        person: "manager".into(),
    });
    let mut joiner = join_with(&ana, &DeviceKey::generate(), invite);
    meet(&mut ana, &mut joiner);
    for op in other
        .log
        .missing_from(&ana.log)
        .cloned()
        .collect::<Vec<_>>()
    {
        ana.log.insert(op).expect("takes");
    }
    let _ = &mut other;
    let m = ana.log.membership();
    assert_eq!(m.refused.get(&second), Some(&Refusal::SecondBegin));
    assert!(!m.is_member(&joiner.id()));
    assert!(
        m.refused.values().any(|r| *r == Refusal::BadProof),
        "{:?}",
        m.refused
    );
    // Bo ends the 1-1; nothing after counts.
    meet(&mut ana, &mut bo);
    bo.does(Body::End);
    let late = bo.does(Body::Invite {
        key: DeviceKey::generate().public_hex(),
        person: "report".into(),
    });
    let m = bo.log.membership();
    assert!(m.ended);
    assert_eq!(m.refused.get(&late), Some(&Refusal::Ended));
}

#[test]
fn an_operation_waits_for_its_parents_and_counts_when_they_arrive() {
    let (mut ana, bo) = a_1_1();
    let mut phone = linked(&mut ana);
    let on_phone = phone.does(Body::Invite {
        key: DeviceKey::generate().public_hex(),
        person: "manager".into(),
    });
    // Bo gets the phone's invite before the link that made the phone a member.
    let mut bo_log = bo.log.clone();
    bo_log
        .insert(phone.log.ops()[&on_phone].clone())
        .expect("takes");
    assert_eq!(
        bo_log.membership().refused.get(&on_phone),
        Some(&Refusal::WaitingForParents)
    );
    for op in ana.log.ops().values() {
        bo_log.insert(op.clone()).expect("takes");
    }
    assert!(!bo_log.membership().refused.contains_key(&on_phone));
    assert!(bo_log.membership().is_member(&phone.id()));
}

/// One step of a random history: which device acts, and what it does.
#[derive(Debug, Clone)]
enum Step {
    Link(usize),
    Remove(usize, usize),
    Epoch(usize),
    Meet(usize, usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..6usize).prop_map(Step::Link),
        (0..6usize, 0..6usize).prop_map(|(a, b)| Step::Remove(a, b)),
        (0..6usize).prop_map(Step::Epoch),
        (0..6usize, 0..6usize).prop_map(|(a, b)| Step::Meet(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random offline histories, honest and hostile (removing the other person's devices,
    /// acting after removal, epochs from anyone), delivered to fresh logs in different
    /// orders: every log agrees, no removed device is in, the epoch in force is sealed to
    /// no removed device, and no counting removal crossed from one person to the other.
    #[test]
    fn every_order_of_every_history_gives_one_safe_membership(
        steps in prop::collection::vec(step(), 1..40),
        seed in any::<u64>(),
    ) {
        let (ana, bo) = a_1_1();
        let mut devices = vec![ana, bo];
        for s in steps {
            let n = devices.len();
            match s {
                Step::Link(a) if n < 6 => {
                    let d = linked(&mut devices[a % n]);
                    devices.push(d);
                }
                Step::Link(_) => {}
                Step::Remove(a, b) => {
                    let target = devices[b % n].id();
                    devices[a % n].does(Body::remove(&target));
                }
                Step::Epoch(a) => {
                    epoch(&mut devices[a % n], seed % 7);
                }
                Step::Meet(a, b) if a % n != b % n => {
                    let (lo, hi) = ((a % n).min(b % n), (a % n).max(b % n));
                    let (left, right) = devices.split_at_mut(hi);
                    meet(&mut left[lo], &mut right[0]);
                }
                Step::Meet(..) => {}
            }
        }
        let mut all: Vec<SignedOp> = Vec::new();
        for d in &devices {
            for op in d.log.ops().values() {
                if !all.contains(op) {
                    all.push(op.clone());
                }
            }
        }
        let genesis = devices[0].log.genesis();
        let mut results = Vec::new();
        for turn in 0..3u64 {
            let mut order = all.clone();
            let k = (seed.wrapping_add(turn) % (order.len() as u64).max(1)) as usize;
            order.rotate_left(k);
            if turn == 2 {
                order.reverse();
            }
            let mut log = Log::of(SPACE, genesis);
            for op in order {
                log.insert(op).expect("takes");
            }
            results.push(log.membership());
        }
        let m = &results[0];
        prop_assert_eq!(m, &results[1]);
        prop_assert_eq!(m, &results[2]);
        for removed in &m.removed {
            prop_assert!(!m.devices.contains_key(removed));
        }
        if let InForce::Epoch { op, .. } = m.in_force {
            prop_assert!(m.epochs[&op].iter().all(|d| !m.removed.contains(d)));
        }
        let persons: std::collections::BTreeMap<String, String> = all
            .iter()
            .filter_map(|o| match &o.op.body {
                Body::Begin { person, .. } => Some((o.op.author.clone(), person.clone())),
                Body::Add { device, person } => Some((device.clone(), person.clone())),
                Body::Join { .. } => Some((o.op.author.clone(), "report".to_owned())),
                _ => None,
            })
            .collect();
        for op in &all {
            if let Body::Remove { device } = &op.op.body {
                if !m.refused.contains_key(&op.id()) {
                    prop_assert_eq!(persons.get(&op.op.author), persons.get(device));
                }
            }
        }
    }
}
