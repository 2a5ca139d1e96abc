//! The cost of removing a device from a notebook with 4 devices, beside a plain durable edit
//! on the same home in the same run (both open the home first):
//! - `rotation/remove_device`: the removal, the new epoch sealed to 3 devices, the notices
//!   for the relay mailbox left behind, all flushed;
//! - `rotation/baseline_note`: one note appended and flushed;
//! - `rotation/devices_cold`: the devices listed by a process that just opened the home:
//!   the membership log read and every operation's signature checked (once per process);
//! - `rotation/bundle_out` and `rotation/bundle_out_after_removal`: a sync by file, which
//!   brings membership up to date first (records, epoch, standing invites), before any
//!   removal and as the first one after it;
//! - and, printed once: the bytes a rotation adds to the notebook and sends to the relay.
//!
//! Run: `cargo bench -p duet-core --bench membership`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use duet_core::{Duet, JoinAs, Role, Section};
use std::path::{Path, PathBuf};

/// Copies a home (closed) to a new folder.
fn copy_home(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_home(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Ana's home, holding a notebook with 4 devices (each has written its own record), a
/// relay set, and a few weeks of notes.
fn four_devices(dir: &Path) -> (PathBuf, String) {
    let ana_home = dir.join("ana");
    let mut ana = Duet::init(&ana_home, "Ana").expect("ana");
    ana.notebook_new(
        "Ana / Bo",
        Role::Manager,
        "Bo",
        Default::default(),
        duet_core::dates::today(),
    )
    .expect("notebook");
    for i in 0..20 {
        ana.meetings()
            .note(Section::Notes, &format!("A line of week {i}."), None)
            .expect("note");
    }
    ana.relay()
        .set(
            "127.0.0.1:7879",
            &duet_core::crypto::fingerprint_text(&[7u8; 32]),
            None,
        )
        .expect("relay");
    let mut last = String::new();
    // The last to join is Ana's second device: a device removes only its own person's.
    for (name, role) in [
        ("Bo", Role::Report),
        ("Bo", Role::Report),
        ("Ana", Role::Manager),
    ] {
        let out = dir.join("to-join.duet");
        ana.bundle_out(&out).expect("bundle out");
        let home = dir.join(format!(
            "device-{}",
            ana.members().devices().expect("devices").len()
        ));
        let mut other = Duet::init(&home, name).expect("init");
        other
            .bundle_in(&out, Some(JoinAs::Role(role)))
            .expect("join");
        let back = dir.join("back.duet");
        other.bundle_out(&back).expect("bundle back");
        ana.bundle_in(&back, None).expect("merge back");
        last = other.device_id().to_owned();
    }
    assert_eq!(ana.members().devices().expect("devices").len(), 4);
    (ana_home, last)
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (home, lost) = four_devices(dir.path());
    {
        let probe = dir.path().join("probe");
        copy_home(&home, &probe);
        let mut duet = Duet::open(&probe).expect("open");
        let before = duet
            .bundle_out(&dir.path().join("before.duet"))
            .expect("size");
        duet.members().remove(&lost[..8]).expect("remove");
        let after = duet
            .bundle_out(&dir.path().join("after.duet"))
            .expect("size");
        let id = duet.selected_notebook().expect("id");
        let notices: usize = duet
            .relay()
            .farewell(&id)
            .expect("farewell")
            .unwrap_or_default()
            .iter()
            .map(|t| t.envelope.len())
            .sum();
        println!(
            "rotation with 4 devices: the notebook grows {} bytes ({before} -> {after} as one bundle); the relay gets {notices} bytes of notice in the mailbox left behind, and the new mailbox the notebook once (~{after} bytes)",
            after.saturating_sub(before)
        );
    }

    let removed_home = dir.path().join("removed");
    copy_home(&home, &removed_home);
    {
        let mut duet = Duet::open(&removed_home).expect("open");
        duet.members().remove(&lost[..8]).expect("remove");
    }

    let mut group = c.benchmark_group("rotation");
    group.sample_size(20);
    let n = std::sync::atomic::AtomicUsize::new(0);
    let fresh = || {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let to = dir.path().join(format!("copy-{i}"));
        copy_home(&home, &to);
        to
    };
    group.bench_function("remove_device", |b| {
        b.iter_batched(
            fresh,
            |copy| {
                let mut duet = Duet::open(&copy).expect("open");
                duet.members().remove(&lost[..8]).expect("remove");
            },
            BatchSize::PerIteration,
        )
    });
    let n_removed = std::sync::atomic::AtomicUsize::new(0);
    let fresh_removed = || {
        let i = n_removed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let to = dir.path().join(format!("removed-copy-{i}"));
        copy_home(&removed_home, &to);
        to
    };
    group.bench_function("devices_cold", |b| {
        b.iter_batched(
            fresh,
            |copy| {
                let mut duet = Duet::open(&copy).expect("open");
                assert_eq!(duet.members().devices().expect("devices").len(), 4);
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("bundle_out", |b| {
        b.iter_batched(
            fresh,
            |copy| {
                let mut duet = Duet::open(&copy).expect("open");
                duet.bundle_out(&copy.join("out.duet")).expect("bundle out");
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("bundle_out_after_removal", |b| {
        b.iter_batched(
            fresh_removed,
            |copy| {
                let mut duet = Duet::open(&copy).expect("open");
                duet.bundle_out(&copy.join("out.duet")).expect("bundle out");
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("baseline_note", |b| {
        b.iter_batched(
            fresh,
            |copy| {
                let mut duet = Duet::open(&copy).expect("open");
                duet.meetings()
                    .note(Section::Notes, "A line typed during the meeting.", None)
                    .expect("note");
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(membership, benches);
criterion_main!(membership);
