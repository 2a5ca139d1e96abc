//! Commands over a notebook's whole life, year 1 against year 5, as whole processes: `show`,
//! `prep`, `agenda list`, `commit list --open`, `health`, `themes`, `search`, `history`.
//! Each notebook is grown through the façade as the CLI grows it (every edit persisted,
//! every meeting wrapped), under two habits: items ticked as they are discussed, and
//! nothing ever ticked (every item carried on and on). Each home is warmed by one run of
//! each command first (as the first command after a sync or an upgrade does once).
//!
//! Under the never-ticked habit the same commands are also timed through a running node.
//! It also prints the store's bytes per meeting for each home, and times the first history
//! view on a device that has just joined a 5-year notebook (a fresh copy per run, so every
//! run is that device's first view).
//!
//! Before criterion's timings it prints the year 5 / year 1 ratio of each command from
//! alternating runs (year 1, year 5, year 1, ...), as whole processes and through a node,
//! under both habits. Criterion times one benchmark after another, minutes apart on a noisy
//! machine; alternating puts both ages under the same conditions, so the ratio is the
//! figure to read.
//!
//! Run: `cargo bench -p duet-cli --bench history`

mod support;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use duet_core::sample::{grow, Habit};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{copy_dir, Node};

const COMMANDS: [&[&str]; 8] = [
    &["show"],
    &["prep"],
    &["agenda", "list"],
    &["commit", "list", "--open"],
    &["health"],
    &["themes"],
    &["search", "topic"],
    &["history"],
];

/// Runs of each age per command in the alternating comparison.
const PAIRED_RUNS: usize = 25;

fn run(duet: &str, home: &Path, args: &[&str]) {
    let status = Command::new(duet)
        .env("DUET_HOME", home)
        .env("DUET_KEYCHAIN", "off")
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("run duet");
    assert!(status.success(), "duet {args:?}");
}

fn median_ms(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

/// Prints each command's median at year 1 and year 5, and their ratio, from runs that
/// alternate between the two homes.
fn paired_ratios(duet: &str, label: &str, year1: &Path, year5: &Path) {
    for args in COMMANDS {
        let (mut one, mut five) = (Vec::new(), Vec::new());
        for _ in 0..PAIRED_RUNS {
            for (home, times) in [(year1, &mut one), (year5, &mut five)] {
                let started = Instant::now();
                run(duet, home, args);
                times.push(started.elapsed());
            }
        }
        let (one, five) = (median_ms(one), median_ms(five));
        eprintln!(
            "alternating, {label}, {:<20} year 1 {one:6.1} ms, year 5 {five:6.1} ms, ratio {:.2}x",
            args.join(" "),
            five / one
        );
    }
}

fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn benches(c: &mut Criterion) {
    std::env::set_var("DUET_KEYCHAIN", "off");
    let duet = env!("CARGO_BIN_EXE_duet");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = c.benchmark_group("history");
    group.sample_size(15);
    let habits = [
        (Habit::Ticking, "ticking"),
        (Habit::NeverTicked, "never_ticked"),
    ];
    let home_of = |name: &str, years: usize| dir.path().join(format!("{name}-{years}"));
    for (habit, name) in habits {
        for years in [1usize, 5] {
            let home = home_of(name, years);
            let meetings = 52 * years;
            drop(grow(&home, meetings, habit).expect("grow"));
            for args in COMMANDS {
                run(duet, &home, args);
            }
            eprintln!(
                "store bytes per meeting, {name}, year {years}: {}",
                dir_bytes(&home.join("store")) / meetings as u64
            );
        }
    }
    for (_, name) in habits {
        let (one, five) = (home_of(name, 1), home_of(name, 5));
        paired_ratios(duet, &format!("{name}, whole processes"), &one, &five);
        let nodes = [Node::start(duet, &one), Node::start(duet, &five)];
        paired_ratios(duet, &format!("{name}, through a node"), &one, &five);
        for node in nodes {
            node.stop();
        }
    }
    for (habit, name) in habits {
        for years in [1usize, 5] {
            let home = home_of(name, years);
            for args in COMMANDS {
                let id = format!("{name}_year{years}_{}", args.join("_").replace('-', ""));
                group.bench_function(id, |b| b.iter(|| run(duet, &home, args)));
            }
            if habit == Habit::NeverTicked {
                // The same commands carried out by a running node.
                let node = Node::start(duet, &home);
                for args in COMMANDS {
                    let id = format!(
                        "{name}_year{years}_through_node_{}",
                        args.join("_").replace('-', "")
                    );
                    group.bench_function(id, |b| b.iter(|| run(duet, &home, args)));
                }
                node.stop();
            }
        }
    }
    // A device that has just joined a 5-year notebook: its first history view.
    let five = dir.path().join("never_ticked-5");
    let bundle = dir.path().join("five.duet");
    run(
        duet,
        &five,
        &["bundle", "out", bundle.to_str().expect("utf-8")],
    );
    let joined = dir.path().join("joined");
    run(duet, &joined, &["init", "--name", "Bo"]);
    run(
        duet,
        &joined,
        &[
            "bundle",
            "in",
            bundle.to_str().expect("utf-8"),
            "--join",
            "--as",
            "report",
        ],
    );
    group.bench_function("first_history_view_after_joining_year5", |b| {
        b.iter_batched(
            || {
                let copy = tempfile::tempdir().expect("tempdir");
                copy_dir(&joined, copy.path());
                copy
            },
            |copy| {
                run(duet, copy.path(), &["history"]);
                copy
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("baseline_duet_version", |b| {
        b.iter(|| run(duet, dir.path(), &["--version"]))
    });
    group.finish();
}

criterion_group!(benches_group, benches);
criterion_main!(benches_group);
