//! One `duet note` as a whole process on a 5-year notebook (process start, store open, load
//! of the index and current meeting, edit, flush), against `true` as the floor of starting
//! a process at all.
//!
//! Run: `cargo bench -p duet-cli --bench process`

use criterion::{criterion_group, criterion_main, Criterion};
use duet_core::sample::{generate, write_home, SampleSpec};
use std::process::Command;

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("five-years");
    let mut five = generate(SampleSpec::years(5)).expect("generate");
    write_home(&home, &mut five).expect("write");
    let duet = env!("CARGO_BIN_EXE_duet");
    let mut group = c.benchmark_group("process");
    group.sample_size(30);
    group.bench_function("duet_note_year5", |b| {
        b.iter(|| {
            let status = Command::new(duet)
                .env("DUET_HOME", &home)
                .args(["note", "A line typed during the meeting."])
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

criterion_group!(process, benches);
criterion_main!(process);
