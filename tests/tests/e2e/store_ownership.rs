//! One process owns a home at a time. A second waits a moment for it (a sync that
//! `duet serve` runs holds the home for milliseconds), then gets a clear error naming the
//! holder. A home is private to its owner whatever the umask, and its lock names the holder
//! without its arguments.

use duet_tests::{duet_binary, holds_text, Device};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `duet ARGS` on `home` run with umask 022, as from a login shell.
fn duet_with_umask_022(home: &Path, args: &[&str]) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(duet_binary())
        .args(args)
        .env("DUET_HOME", home)
        .env("NO_COLOR", "1")
        .env("DUET_KEYCHAIN", "off")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "duet {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file and folder under `root` that group or others may read, write or enter.
#[cfg(unix)]
fn open_to_others(root: &Path) -> Vec<String> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let mut open = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        if meta.file_type().is_socket() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            open.push(format!("{} {mode:o}", path.display()));
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read_dir") {
                stack.push(entry.expect("entry").path());
            }
        }
    }
    open
}

#[cfg(unix)]
#[test]
fn a_home_is_private_whatever_the_umask_and_its_lock_names_no_ticket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ana = dir.path().join("ana");
    let bo = dir.path().join("bo");
    duet_with_umask_022(&ana, &["init", "--name", "Ana"]);
    duet_with_umask_022(
        &ana,
        &[
            "notebook", "new", "Ana / Bo", "--me", "manager", "--with", "Bo",
        ],
    );
    duet_with_umask_022(&ana, &["note", "private at rest"]);
    // A full ticket of an older Duet (it carries the secret, so it joins with no network).
    let ticket = duet_tests::open_home(&ana)
        .members()
        .invite(vec!["127.0.0.1:7878".parse().expect("addr")], None)
        .expect("ticket")
        .to_ticket();
    duet_with_umask_022(&bo, &["init", "--name", "Bo"]);
    duet_with_umask_022(&bo, &["join", &ticket, "--as", "report", "--no-sync"]);
    let lock = std::fs::read_to_string(bo.join("LOCK")).expect("lock");
    assert!(
        lock.starts_with("pid ") && lock.ends_with(": duet join"),
        "{lock}"
    );
    for entry in std::fs::read_dir(&bo).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.file_name().is_some_and(|n| n == "store") {
            continue;
        }
        assert!(
            !holds_text(&path, &ticket),
            "{} holds the ticket",
            path.display()
        );
    }
    duet_with_umask_022(
        &bo,
        &[
            "notebook", "new", "Bo / Cy", "--me", "manager", "--with", "Cy",
        ],
    );
    duet_with_umask_022(&bo, &["agenda", "add", "written under umask 022"]);

    for home in [&ana, &bo] {
        assert!(
            home.join("store").is_dir(),
            "{} has a store",
            home.display()
        );
        let open = open_to_others(home);
        assert!(open.is_empty(), "readable by others: {open:?}");
    }
    let lock = std::fs::read_to_string(bo.join("LOCK")).expect("lock");
    assert!(lock.ends_with(": duet agenda add"), "{lock}");
    let doctor: serde_json::Value =
        serde_json::from_str(&duet_with_umask_022(&bo, &["--json", "doctor"])).expect("json");
    assert_eq!(doctor["home_key"]["kind"], "key_file", "{doctor}");
    assert_eq!(doctor["open_to_others"], serde_json::json!([]), "{doctor}");

    // The store holds no secret in the clear: the notebook's secret (from the ticket) and
    // the TLS private key are sealed with the home key, which is in the 0600 key file.
    let secret = duet_core::invite::Invite::from_ticket(&ticket)
        .expect("ticket")
        .notebook_secret();
    let tls = duet_tests::open_home(&ana)
        .peers()
        .tls_identity()
        .expect("tls");
    // The private part of the key: bytes of the key that the (public) certificate lacks.
    let private_part = tls
        .key_der
        .windows(24)
        .rev()
        .find(|w| !tls.cert_der.windows(24).any(|c| c == *w))
        .expect("a private part")
        .to_vec();
    for (home, what, bytes) in [
        (&ana, "notebook secret", secret.as_bytes().to_vec()),
        (&bo, "notebook secret", secret.as_bytes().to_vec()),
        (&ana, "TLS private key", private_part),
    ] {
        assert!(home.join("home.key").is_file());
        let hex = data_encoding_hex(&bytes);
        for file in files_under(&home.join("store")) {
            let held = std::fs::read(&file).expect("read");
            assert!(
                !held.windows(bytes.len()).any(|w| w == bytes.as_slice())
                    && !held.windows(hex.len()).any(|w| w == hex.as_bytes()),
                "{} holds the {what} in the clear",
                file.display()
            );
        }
    }
}

fn data_encoding_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn files_under(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    duet_tests::collect(root, &mut out);
    out
}
#[test]
fn a_second_process_on_a_held_home_is_told_who_holds_it() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
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
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    let holder = duet_core::Duet::open(ana.home.path()).expect("open in this process");
    let child = ana
        .command()
        .args(["note", "typed while the home was busy"])
        .spawn()
        .expect("runs");
    // Time is the subject: the holder keeps the home for 700 ms, less than the wait.
    std::thread::sleep(Duration::from_millis(700));
    drop(holder);
    let out = child.wait_with_output().expect("exits");
    assert!(
        out.status.success(),
        "the command gave up instead of waiting"
    );
    assert!(ana.ok(&["show"]).contains("typed while the home was busy"));
}

/// Runs `script` in a private D-Bus session with an unlocked gnome-keyring whose keyrings
/// live under `dir` (never the keychain of the person running the tests).
fn in_keychain_session(dir: &Path, script: &str) -> std::process::Output {
    let session = format!(
        "echo -n duet-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 || exit 90\n{script}"
    );
    Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &session])
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_RUNTIME_DIR", dir)
        .env("DUET", duet_binary())
        .env("DUET_HOME", dir.join("home"))
        .env("NO_COLOR", "1")
        .output()
        .expect("dbus-run-session and gnome-keyring-daemon run (.ci/run installs them)")
}

#[cfg(unix)]
#[test]
fn a_home_key_kept_in_the_os_keychain_leaves_nothing_secret_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let made = in_keychain_session(
        dir.path(),
        r#"set -e
"$DUET" init --name Ana >/dev/null
"$DUET" notebook new "Ana / Bo" --me manager --with Bo >/dev/null
"$DUET" agenda add "kept under the keychain" >/dev/null
"$DUET" bundle out "$HOME/notebook.duet" >/dev/null
"$DUET" --json doctor"#,
    );
    let stdout = String::from_utf8_lossy(&made.stdout);
    assert!(
        made.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(stdout.contains("\"kind\": \"keychain\""), "{stdout}");
    let home = dir.path().join("home");
    assert!(
        !home.join("home.key").exists(),
        "a key file beside the keychain"
    );
    // The bundle carries the notebook secret (outside the home).
    let bundle = std::fs::read(dir.path().join("notebook.duet")).expect("the bundle");
    let secret = duet_core::bundle::Bundle::decode(&bundle)
        .expect("the bundle reads")
        .secret;
    assert_eq!(secret.len(), 32);
    for file in files_under(&home) {
        let held = std::fs::read(&file).expect("read");
        assert!(
            !held.windows(32).any(|w| w == secret.as_slice()),
            "{} holds the notebook secret",
            file.display()
        );
    }
    // The next session (the keyring unlocked again) opens the home; without the keychain
    // it is refused by name, and nothing changes.
    let again = in_keychain_session(dir.path(), r#""$DUET" agenda list"#);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("kept under the keychain"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let off = Command::new(duet_binary())
        .args(["agenda", "list"])
        .env("DUET_HOME", &home)
        .env("DUET_KEYCHAIN", "off")
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&off.stderr);
    assert!(!off.status.success() && err.contains("keychain"), "{err}");
}
