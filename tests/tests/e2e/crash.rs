//! Durability: an edit whose `duet` command returned success survives SIGKILL of any later
//! command at any moment, and the store opens after every kill.

use duet_tests::{send, Device};
use rand::Rng;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Kill cycles: each runs one `duet note` that is killed at a random moment of its life,
/// unless it finishes first.
const CYCLES: usize = 150;

#[test]
fn acknowledged_edits_survive_sigkill_at_random_moments() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");

    // How long one edit takes here, so kills land across its whole life.
    let started = Instant::now();
    for i in 0..3 {
        ana.ok(&["note", &format!("warmup-{i}")]);
    }
    let typical = started.elapsed() / 3;

    let mut rng = rand::rng();
    let mut acked = Vec::new();
    let mut killed = 0;
    for cycle in 0..CYCLES {
        let marker = format!("edit-{cycle}");
        let mut child = ana
            .command()
            .args(["note", &marker])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn duet");
        let deadline = Instant::now() + typical.mul_f64(rng.random_range(0.0..1.5));
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                assert!(
                    status.success(),
                    "cycle {cycle}: the store did not open after a kill: {err}"
                );
                acked.push(marker);
                break;
            }
            if Instant::now() >= deadline {
                child.kill().expect("SIGKILL");
                child.wait().expect("reap");
                killed += 1;
                break;
            }
            // Time is the subject: the child is killed at a random moment before its ACK.
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    assert!(
        killed >= CYCLES / 4,
        "only {killed} of {CYCLES} edits were killed: the kill window is off"
    );
    assert!(!acked.is_empty(), "no edit ever completed");

    let meeting = ana.json(&["meeting", "show"]);
    let notes = duet_tests::section_text(&meeting, "notes");
    let lines: Vec<&str> = notes.lines().collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|m| !lines.contains(&m.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged edits lost after kills: {lost:?}"
    );
    eprintln!("{} acknowledged, {killed} killed, 0 lost", acked.len());

    // A peer takes every change made across the kills, and Ana takes the peer's: had a
    // process reused an actor after a lost tail, (actor, seq) would repeat and Automerge
    // would refuse the later changes.
    let bo = Device::new("Bo");
    let join = ana.file("join.duet");
    ana.ok(&["bundle", "out", duet_tests::path(&join)]);
    bo.ok(&[
        "bundle",
        "in",
        duet_tests::path(&join),
        "--join",
        "--as",
        "report",
    ]);
    ana.ok(&["note", "after the kills"]);
    bo.ok(&["note", "from Bo"]);
    send(&ana, &bo);
    send(&bo, &ana);
    let (a, b) = (
        ana.json(&["meeting", "show"]),
        bo.json(&["meeting", "show"]),
    );
    assert_eq!(a, b);
    let text = a.to_string();
    for marker in acked
        .iter()
        .map(String::as_str)
        .chain(["after the kills", "from Bo"])
    {
        assert!(text.contains(marker), "{marker} missing after sync");
    }
}
