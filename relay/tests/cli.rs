//! The `duet-relay` command line: identity made once and kept, fingerprints printed,
//! team tokens issued and stored only as hashes, clear errors.

use std::process::Command;

fn relay() -> Command {
    Command::new(env!("CARGO_BIN_EXE_duet-relay"))
}

#[test]
fn the_identity_is_made_once_and_its_fingerprint_is_stable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let first = relay()
        .args(["fingerprint", "--data"])
        .arg(&data)
        .output()
        .expect("runs");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let again = relay()
        .args(["fingerprint", "--data"])
        .arg(&data)
        .output()
        .expect("runs");
    let fp = String::from_utf8_lossy(&first.stdout).trim().to_owned();
    assert_eq!(fp.len(), 52, "{fp}");
    assert_eq!(fp, String::from_utf8_lossy(&again.stdout).trim());
}

#[test]
fn team_tokens_are_printed_once_and_listed_by_label() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let out = relay()
        .args(["token", "new", "--label", "Platform", "--data"])
        .arg(&data)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(token.starts_with("dt_"), "{token}");
    let list = relay()
        .args(["token", "list", "--data"])
        .arg(&data)
        .output()
        .expect("runs");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("Platform") && !listed.contains(&token),
        "{listed}"
    );
}

#[test]
fn a_bad_config_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("relay.json");
    std::fs::write(&config, r#"{ "max_conections": 5 }"#).expect("write");
    let out = relay()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("max_conections") && err.contains("not a relay config"),
        "{err}"
    );
}
