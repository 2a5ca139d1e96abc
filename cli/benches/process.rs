//! One `duet note` as a whole process on a 5-year notebook (process start, store open, load
//! of the current meeting, edit, flush), against `true` as the floor of starting a process
//! at all and `duet --version` as the floor of starting this binary. Each run starts from a
//! fresh copy of the same home (copied and synced to disk outside the timing, so the run's
//! flush does not pay for writing the copy), so every note lands on the same realistic
//! meeting instead of one that grows per run.
//!
//! The same note through a running node (`duet serve` on the home: the command sends its
//! arguments over the control socket and the node, with the meeting already in memory,
//! edits and flushes) is measured beside them in the same run. Those notes land in one
//! meeting that grows by a line per run.
//!
//! Run: `cargo bench -p duet-cli --bench process` (`DUET_BENCH_BEFORE=/path/to/duet` measures
//! another build beside this one in the same run).

mod support;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use duet_core::sample::{generate, write_home, SampleSpec};
use std::process::Command;
use support::{copy_dir, Node};

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("five-years");
    let mut five = generate(SampleSpec::years(5)).expect("generate");
    write_home(&home, &mut five).expect("write");
    let duet = env!("CARGO_BIN_EXE_duet");
    let mut group = c.benchmark_group("process");
    group.sample_size(30);
    // The first command on a home computes and caches the current meeting; later ones,
    // like every command of a day's use, find it cached.
    let warm = Command::new(duet)
        .env("DUET_HOME", &home)
        .env("DUET_KEYCHAIN", "off")
        .args(["note", "warm-up"])
        .status()
        .expect("run duet");
    assert!(warm.success());
    note_benches(&mut group, &home, duet, "");
    // Another build of `duet` beside this one in the same run (the build before a change,
    // say): `DUET_BENCH_BEFORE=/path/to/duet`.
    if let Ok(before) = std::env::var("DUET_BENCH_BEFORE") {
        note_benches(&mut group, &home, &before, "_before");
    }
    group.bench_function("baseline_duet_version", |b| {
        b.iter(|| {
            let status = Command::new(duet)
                .arg("--version")
                .stdout(std::process::Stdio::null())
                .status()
                .expect("run duet");
            assert!(status.success());
        })
    });
    group.bench_function("baseline_process_start_true", |b| {
        b.iter(|| Command::new("true").status().expect("run true"))
    });
    group.finish();
}

/// `duet note` by `duet` as a whole process on a fresh copy of `home`, and through a node.
fn note_benches(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    home: &std::path::Path,
    duet: &str,
    suffix: &str,
) {
    group.bench_function(format!("duet_note_year5{suffix}"), |b| {
        b.iter_batched(
            || {
                let copy = tempfile::tempdir().expect("tempdir");
                copy_dir(home, copy.path());
                copy
            },
            |copy| {
                let status = Command::new(duet)
                    .env("DUET_HOME", copy.path())
                    .env("DUET_KEYCHAIN", "off")
                    .args(["note", "A line typed during the meeting."])
                    .status()
                    .expect("run duet");
                assert!(status.success());
                copy
            },
            BatchSize::PerIteration,
        )
    });
    {
        let copy = tempfile::tempdir().expect("tempdir");
        copy_dir(home, copy.path());
        let node = Node::start(duet, copy.path());
        group.bench_function(format!("duet_note_year5_through_node{suffix}"), |b| {
            b.iter(|| {
                let status = Command::new(duet)
                    .env("DUET_HOME", copy.path())
                    .env("DUET_KEYCHAIN", "off")
                    .args(["note", "A line typed during the meeting."])
                    .stdout(std::process::Stdio::null())
                    .status()
                    .expect("run duet");
                assert!(status.success());
            })
        });
        node.stop();
    }
}

criterion_group!(process, benches);
criterion_main!(process);
