//! One process owns a home at a time; a second gets a clear error naming the holder.

use duet_tests::Device;

#[test]
fn a_second_process_on_a_held_home_is_told_who_holds_it() {
    let ana = Device::new("Ana");
    ana.ok(&[
        "notebook", "new", "Ana / Bo", "--me", "manager", "--with", "Bo",
    ]);
    let holder = duet_core::Duet::open(ana.home.path()).expect("open in this process");
    let out = ana.run(&["show"]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    drop(holder);
    ana.ok(&["show"]);
}
