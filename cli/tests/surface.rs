//! The command line's surface: help with examples, version, completions, exit codes.

use assert_cmd::Command;

fn duet(home: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("duet").expect("duet binary");
    cmd.env("DUET_HOME", home).env("NO_COLOR", "1");
    cmd
}

#[test]
fn every_command_has_help_with_examples() {
    let home = tempfile::tempdir().expect("tempdir");
    let commands: &[&[&str]] = &[
        &[],
        &["init"],
        &["notebook", "new"],
        &["notebook", "list"],
        &["notebook", "use"],
        &["notebook", "rename"],
        &["notebook", "cadence"],
        &["notebook", "show"],
        &["meeting", "new"],
        &["meeting", "list"],
        &["meeting", "show"],
        &["meeting", "cancel"],
        &["meeting", "reschedule"],
        &["note"],
        &["agenda", "add"],
        &["agenda", "list"],
        &["agenda", "done"],
        &["agenda", "edit"],
        &["agenda", "move"],
        &["commit", "add"],
        &["commit", "done"],
        &["commit", "drop"],
        &["commit", "list"],
        &["wrap"],
        &["show"],
        &["export"],
        &["import"],
        &["bundle", "out"],
        &["bundle", "in"],
        &["completions"],
        &["demo"],
        &["prep"],
        &["health"],
        &["ask"],
        &["themes"],
        &["search"],
        &["history"],
        &["private"],
        &["link"],
        &["invite"],
        &["join"],
        &["sync"],
        &["serve"],
    ];
    for args in commands {
        let out = duet(home.path())
            .args(*args)
            .arg("--help")
            .output()
            .expect("runs");
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Example"),
            "{args:?} help lacks examples:\n{text}"
        );
    }
}

#[test]
fn version_and_completions_print() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = duet(home.path()).arg("--version").output().expect("runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("duet {}", env!("CARGO_PKG_VERSION"))
    );
    for shell in ["bash", "zsh", "fish"] {
        let out = duet(home.path())
            .args(["completions", shell])
            .output()
            .expect("runs");
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("agenda"),
            "{shell}"
        );
    }
}

#[test]
fn commands_before_init_say_what_to_do_with_exit_6() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = duet(home.path()).arg("show").output().expect("runs");
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("duet init --name"));
}

#[test]
fn unreadable_dates_and_unknown_ids_have_distinct_exit_codes() {
    let home = tempfile::tempdir().expect("tempdir");
    duet(home.path())
        .args(["init", "--name", "Ana"])
        .assert()
        .success();
    duet(home.path())
        .args([
            "notebook", "new", "Ana / Bo", "--me", "manager", "--with", "Bo",
        ])
        .assert()
        .success();
    let out = duet(home.path())
        .args(["meeting", "new", "--on", "someday"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("next tue"));
    let out = duet(home.path())
        .args(["agenda", "done", "zzzz"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no agenda item matches"));
    // Something that cannot be an id is bad usage, caught before the home is opened.
    let out = duet(home.path())
        .args(["commit", "done", "q7x;"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("letters and digits only"));
}

#[test]
fn the_demo_runs_with_no_setup_and_converges() {
    let out = Command::cargo_bin("duet")
        .expect("duet binary")
        .args(["demo", "--json"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let overview: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let agenda = overview["meeting"]["agenda"].as_array().expect("agenda");
    // Three items merged by bundle exchange, one more from each side over QUIC, one
    // through the relay.
    assert_eq!(agenda.len(), 6);
    assert!(overview.to_string().contains("will read it on the train"));
    let texts: Vec<&str> = agenda.iter().filter_map(|i| i["text"].as_str()).collect();
    assert!(
        texts.iter().any(|t| t.starts_with("Ana: thanks")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.starts_with("Bo: pair")), "{texts:?}");
    assert_eq!(
        overview["open_commitments"].as_array().map(Vec::len),
        Some(2)
    );
}
