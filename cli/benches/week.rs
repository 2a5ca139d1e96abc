//! `duet week` for a manager with 10 reports, each notebook five years old (260 weekly
//! meetings, ~3,000 agenda items, ~1,500 commitments each): as a whole process, and
//! through a running node (`duet serve` on the home, the command sent over its control
//! socket), beside `duet --version` as the floor of starting the binary, in one run.
//!
//! The window is wide enough to hold each notebook's meeting still to come, so every
//! notebook contributes a meeting in full, its open commitments and its drift signals.
//!
//! Run: `cargo bench -p duet-cli --bench week`

mod support;

use criterion::{criterion_group, criterion_main, Criterion};
use duet_core::crypto::DeviceKey;
use duet_core::sample::{add_to_home, generate_for, write_home, SampleSpec};
use std::process::{Command, Stdio};
use support::Node;

/// Reports, each with a five-year notebook.
const REPORTS: usize = 10;

fn week(duet: &str, home: &std::path::Path) {
    let status = Command::new(duet)
        .env("DUET_HOME", home)
        .env("DUET_KEYCHAIN", "off")
        .args([
            "week",
            "--from",
            "2000-01-01",
            "--to",
            "2100-01-01",
            "--json",
        ])
        .stdout(Stdio::null())
        .status()
        .expect("run duet");
    assert!(status.success());
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("manager");
    let device = DeviceKey::generate();
    let key = device.to_bytes();
    let again = || DeviceKey::from_bytes(&key).expect("the same key");
    let mut first = generate_for(SampleSpec::years(5), again()).expect("generate");
    write_home(&home, &mut first).expect("write");
    for n in 1..REPORTS {
        let mut sample = generate_for(SampleSpec::years(5), again()).expect("generate");
        add_to_home(&home, &mut sample, &format!("Ana / report {n}")).expect("add");
    }
    let duet = env!("CARGO_BIN_EXE_duet");
    // Each notebook's current meeting is computed and cached by the first read of it.
    week(duet, &home);
    let mut group = c.benchmark_group("week");
    group.sample_size(20);
    group.bench_function("duet_week_10_notebooks_year5", |b| {
        b.iter(|| week(duet, &home))
    });
    {
        let node = Node::start(duet, &home);
        group.bench_function("duet_week_10_notebooks_year5_through_node", |b| {
            b.iter(|| week(duet, &home))
        });
        node.stop();
    }
    group.bench_function("baseline_duet_version", |b| {
        b.iter(|| {
            let status = Command::new(duet)
                .arg("--version")
                .stdout(Stdio::null())
                .status()
                .expect("run duet");
            assert!(status.success());
        })
    });
    group.finish();
}

criterion_group!(week_bench, benches);
criterion_main!(week_bench);
