//! One process owns a home at a time. A second waits a moment for it (a sync that
//! `duet serve` runs holds the home for milliseconds), then gets a clear error naming the
//! holder.

use duet_tests::Device;
use std::time::Duration;

#[test]
fn a_second_process_on_a_held_home_is_told_who_holds_it() {
    let ana = Device::new("Ana");
    ana.ok(&[
        "notebook", "new", "Ana / Bo", "--me", "manager", "--with", "Bo",
    ]);
    let holder = duet_core::Duet::open(ana.home.path()).expect("open in this process");
    let out = ana
        .command()
        .env("DUET_LOCK_WAIT_MS", "300")
        .arg("show")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    drop(holder);
    ana.ok(&["show"]);
}

#[test]
fn a_command_waits_for_a_short_holder_instead_of_failing() {
    let ana = Device::new("Ana");
    ana.ok(&[
        "notebook", "new", "Ana / Bo", "--me", "manager", "--with", "Bo",
    ]);
    let holder = duet_core::Duet::open(ana.home.path()).expect("open in this process");
    let child = ana
        .command()
        .args(["note", "typed while the home was busy"])
        .spawn()
        .expect("runs");
    std::thread::sleep(Duration::from_millis(700));
    drop(holder);
    let out = child.wait_with_output().expect("exits");
    assert!(
        out.status.success(),
        "the command gave up instead of waiting"
    );
    assert!(ana.ok(&["show"]).contains("typed while the home was busy"));
}
