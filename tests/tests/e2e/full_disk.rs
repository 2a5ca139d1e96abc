//! Storage faults give errors, not damage: on a disk that fills up, `duet` refuses edits
//! with a clear error (exit 7), never hangs or panics, still reads, and once space is freed
//! every acknowledged edit is there and editing resumes.
//!
//! The disk is a small tmpfs mounted in a private user and mount namespace
//! (`unshare --user --map-root-user --mount`), so the test needs no privileges.

use duet_tests::{duet_binary, path};
use std::process::Command;

const SCENARIO: &str = r#"
set -u
mount -t tmpfs -o size=16m tmpfs "$MNT" || exit 20
export DUET_HOME="$MNT/home" NO_COLOR=1
"$DUET" init --name Ana >/dev/null || exit 21
"$DUET" notebook new "Ana / Bo" --me manager --with Bo >/dev/null || exit 22
avail=$(df --output=avail -B1 "$MNT" | tail -1)
head -c $(( avail - 4500000 )) /dev/zero > "$MNT/filler" || exit 23
pad=$(head -c 30000 /dev/zero | tr '\0' 'x')
i=0
while [ $i -lt 200 ]; do
  if timeout 30 "$DUET" note "note-$i $pad" >/dev/null 2>"$ERR"; then
    echo "ACK $i"
  else
    echo "FAIL $i $?"; sed 's/^/ERR /' "$ERR"; break
  fi
  i=$((i+1))
done
timeout 30 "$DUET" --json meeting show >/dev/null 2>"$ERR"; echo "FULLREAD $?"
rm "$MNT/filler"
timeout 30 "$DUET" --json meeting show >"$OUT" 2>"$ERR"; echo "READ $?"; sed 's/^/ERR /' "$ERR"
timeout 30 "$DUET" note "after freeing space" >/dev/null 2>"$ERR"; echo "AFTER $?"; sed 's/^/ERR /' "$ERR"
"#;

fn line_value(lines: &[&str], prefix: &str) -> Option<i32> {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn a_full_disk_refuses_edits_clearly_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).expect("mkdir");
    let out_file = dir.path().join("show.json");
    let out = Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "bash",
            "-c",
            SCENARIO,
        ])
        .env("MNT", &mnt)
        .env("DUET", duet_binary())
        .env("DUET_KEYCHAIN", "off")
        .env("ERR", dir.path().join("err"))
        .env("OUT", &out_file)
        .output()
        .expect("unshare (util-linux) must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scenario could not run (exit {:?}; 20 = no tmpfs in a user namespace): {stdout}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let acked: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("ACK "))
        .map(|n| format!("note-{n} "))
        .collect();
    assert!(
        !acked.is_empty(),
        "no edit succeeded before the disk filled: {stdout}"
    );
    let fail = lines
        .iter()
        .find(|l| l.starts_with("FAIL "))
        .unwrap_or_else(|| panic!("the disk never filled: {stdout}"));
    assert!(
        fail.ends_with(" 7"),
        "expected exit 7 (disk full), got {fail}: {stdout}"
    );
    assert!(stdout.contains("is full"), "{stdout}");
    assert_eq!(
        line_value(&lines, "FULLREAD "),
        Some(0),
        "reading a full disk failed: {stdout}"
    );
    assert_eq!(line_value(&lines, "READ "), Some(0), "{stdout}");
    assert_eq!(
        line_value(&lines, "AFTER "),
        Some(0),
        "editing did not resume: {stdout}"
    );

    let show: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_file).expect("show output")).expect("json");
    let notes = duet_tests::section_text(&show, "notes");
    let lost: Vec<&String> = acked
        .iter()
        .filter(|m| !notes.contains(m.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged edits lost: {lost:?}");
    let _ = path(dir.path());
}
