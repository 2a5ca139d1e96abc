//! The notebook's devices as named members, between real `duet` processes over real QUIC
//! and a real relay: each device names itself, `duet devices` lists whose each device is,
//! its fingerprint, when it joined and when it was last heard from; tickets are read from
//! standard input so they never sit in a process list.

use duet_tests::{invite, Device, Relay, Serving};
use std::io::Write;
use std::process::Stdio;

/// Runs `duet ARGS` on `device` with `input` on its standard input.
fn run_with_stdin(device: &Device, args: &[&str], input: &str) -> std::process::Output {
    let mut child = device
        .command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn duet");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait for duet")
}

/// The device of `list` (from `duet devices --json`) that is, or is not, this device.
fn entry(list: &serde_json::Value, this_device: bool) -> serde_json::Value {
    list.as_array()
        .and_then(|all| all.iter().find(|d| d["this_device"] == this_device))
        .cloned()
        .unwrap_or_else(|| panic!("no device with this_device={this_device} in {list}"))
}

#[test]
fn a_ticket_from_standard_input_joins_and_both_devices_list_each_other_by_name() {
    let ana = Device::new("Ana");
    ana.ok(&["devices", "name", "Ana's laptop"]);
    ana.ok(&[
        "notebook", "new", "Ana / Bo", "--me", "manager", "--with", "Bo",
    ]);
    let serving = Serving::start(&ana, "127.0.0.1:0");
    let ticket = invite(&ana, &serving.addr_arg());

    let bo = Device::new("Bo");
    bo.ok(&["devices", "name", "Bo's phone"]);
    // Nothing on standard input: refused, nothing joined.
    let empty = run_with_stdin(&bo, &["join", "-", "--as", "report"], "\n");
    assert_eq!(empty.status.code(), Some(2), "{empty:?}");
    assert!(
        String::from_utf8_lossy(&empty.stderr).contains("standard input"),
        "{empty:?}"
    );
    assert!(bo
        .json(&["notebook", "list"])
        .as_array()
        .is_some_and(|l| l.is_empty()));

    let joined = run_with_stdin(
        &bo,
        &["--json", "join", "-", "--as", "report"],
        &format!("{ticket}\n"),
    );
    assert!(joined.status.success(), "{joined:?}");
    let joined: serde_json::Value = serde_json::from_slice(&joined.stdout).expect("json");
    assert_eq!(joined["synced"], true, "{joined}");
    // Bo's own record reaches Ana with his next sync.
    bo.ok(&["sync"]);

    let bo_fp = bo.json(&["peers"])["fingerprint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let on_ana = ana.json(&["devices"]);
    assert_eq!(on_ana.as_array().map(Vec::len), Some(2), "{on_ana}");
    let me = entry(&on_ana, true);
    assert_eq!(me["name"], "Ana's laptop");
    assert_eq!(me["person"], "Ana");
    assert_eq!(me["role"], "manager");
    assert_eq!(me["fingerprint"], serving.fingerprint.as_str());
    assert!(me["last_seen"].is_null(), "{me}");
    let other = entry(&on_ana, false);
    assert_eq!(other["name"], "Bo's phone");
    assert_eq!(other["person"], "Bo");
    assert_eq!(other["role"], "report");
    assert_eq!(other["fingerprint"], bo_fp.as_str());
    assert_eq!(other["added"].as_str().map(str::len), Some(10), "{other}");
    assert!(other["last_seen"].as_i64().is_some(), "{other}");

    let on_bo = bo.json(&["devices"]);
    let ana_there = entry(&on_bo, false);
    assert_eq!(ana_there["name"], "Ana's laptop");
    assert!(ana_there["last_seen"].as_i64().is_some(), "{ana_there}");
    let text = ana.ok(&["devices"]);
    assert!(
        text.contains("Bo (report)") && text.contains("Bo's phone") && text.contains(&bo_fp),
        "{text}"
    );
    assert!(text.contains("this device"), "{text}");

    // A new name reaches the other device with the next sync; too long a name is refused.
    bo.ok(&["devices", "name", "Bo's work phone"]);
    let long = "x".repeat(61);
    assert_eq!(bo.run(&["devices", "name", &long]).status.code(), Some(2));
    bo.ok(&["sync"]);
    assert_eq!(
        entry(&ana.json(&["devices"]), false)["name"],
        "Bo's work phone"
    );
    assert!(serving.stop(), "serve did not stop cleanly");
}

#[test]
fn a_device_heard_from_only_through_the_relay_has_a_last_seen_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let ana = Device::new("Ana");
    ana.ok(&[
        "notebook", "new", "Ana / Bo", "--me", "manager", "--with", "Bo",
    ]);
    ana.ok(&[
        "relay",
        "set",
        &relay.addr.to_string(),
        "--fingerprint",
        &relay.fingerprint,
    ]);
    ana.ok(&["sync"]);
    // No device listens at this address: Bo can only go through the relay.
    let ticket = invite(&ana, "127.0.0.1:9");
    let bo = Device::new("Bo");
    bo.ok(&["join", &ticket, "--as", "report", "--no-sync"]);
    bo.ok(&["sync"]);
    bo.ok(&["agenda", "add", "from-bo"]);
    bo.ok(&["sync"]);

    assert_eq!(ana.json(&["devices"]).as_array().map(Vec::len), Some(1));
    ana.ok(&["sync"]);
    let on_ana = ana.json(&["devices"]);
    let other = entry(&on_ana, false);
    assert_eq!(other["person"], "Bo", "{on_ana}");
    assert!(
        other["name"].as_str().is_some_and(|n| !n.is_empty()),
        "{other}"
    );
    assert!(other["last_seen"].as_i64().is_some(), "{other}");
    assert!(relay.stop(), "the relay did not stop cleanly");
}
