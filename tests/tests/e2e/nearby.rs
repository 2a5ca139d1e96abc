//! `duet sync --nearby`, and a node on its own: a device serving on the local network is
//! found by its mDNS tags and synced with. Runs in a private network namespace (`unshare
//! --user --map-root-user --net`) whose only interface is a multicast-enabled loopback, so
//! no packet leaves the test.

use duet_tests::{duet_binary, path};
use std::process::Command;

const SCENARIO: &str = r#"
set -u
ip link set lo up || exit 20
ip link set lo multicast on || exit 21
export NO_COLOR=1
"$DUET" --home "$A" init --name Ana >/dev/null || exit 22
"$DUET" --home "$A" notebook new "Ana / Bo" --me manager --with Bo >/dev/null || exit 23
"$DUET" --home "$A" agenda add "found-nearby-marker" >/dev/null || exit 24
"$DUET" --home "$B" init --name Bo >/dev/null || exit 25
"$DUET" --home "$A" serve --listen 0.0.0.0:7878 >"$LOG" 2>&1 &
SERVE=$!
for _ in $(seq 1 100); do grep -q Serving "$LOG" && break; sleep 0.1; done
ticket=$("$DUET" --home "$A" --json invite --addr 127.0.0.1:7878 | sed -n 's/.*"ticket": *"\([^"]*\)".*/\1/p')
"$DUET" --home "$B" join "$ticket" --as report --no-sync >/dev/null || exit 26
"$DUET" --home "$B" --json sync --nearby --wait 3; echo "SYNC $?"
kill -INT $SERVE; wait $SERVE; echo "SERVE $?"
"$DUET" --home "$B" show | grep -c found-nearby-marker
"#;

#[test]
fn sync_nearby_finds_a_serving_device_by_mdns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "sh", "-c", SCENARIO])
        .env("DUET", duet_binary())
        .env("DUET_KEYCHAIN", "off")
        .env("A", dir.path().join("ana"))
        .env("B", dir.path().join("bo"))
        .env("LOG", dir.path().join("serve.log"))
        .output()
        .expect("unshare runs (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "scenario failed ({:?}): {stdout}\n{}\nserve log: {log}\ndir {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr),
        path(dir.path())
    );
    assert!(stdout.contains("SYNC 0"), "{stdout}\n{log}");
    assert!(stdout.contains("\"agenda_items\": 1"), "{stdout}");
    assert!(
        stdout.contains("SERVE 0"),
        "serve did not stop cleanly: {stdout}"
    );
    assert!(
        stdout.trim_end().ends_with('1'),
        "the item did not arrive: {stdout}"
    );
}

const NODES_SCENARIO: &str = r#"
set -u
ip link set lo up || exit 20
ip link set lo multicast on || exit 21
export NO_COLOR=1
"$DUET" --home "$A" init --name Ana >/dev/null || exit 22
"$DUET" --home "$A" notebook new "Ana / Bo" --me manager --with Bo >/dev/null || exit 23
"$DUET" --home "$A" agenda add "found-by-the-node-marker" >/dev/null || exit 24
"$DUET" --home "$B" init --name Bo >/dev/null || exit 25
"$DUET" --home "$A" serve --listen 0.0.0.0:7878 >"$LOG" 2>&1 &
SERVE_A=$!
for _ in $(seq 1 100); do grep -q Serving "$LOG" && break; sleep 0.1; done
# Bo redeems the one-time ticket at Ana's device and syncs nothing: a redemption records
# no address, so Bo's node can only find Ana nearby.
ticket=$("$DUET" --home "$A" --json invite --addr 127.0.0.1:7878 | sed -n 's/.*"ticket": *"\([^"]*\)".*/\1/p')
"$DUET" --home "$B" join "$ticket" --as report --no-sync >/dev/null || exit 26
"$DUET" --home "$B" serve --listen 0.0.0.0:7879 >"$LOG.b" 2>&1 &
SERVE_B=$!
found=0
for _ in $(seq 1 90); do
  if "$DUET" --home "$B" show 2>/dev/null | grep -q found-by-the-node-marker; then found=1; break; fi
  sleep 0.5
done
echo "FOUND $found"
kill -INT $SERVE_B; wait $SERVE_B; echo "SERVE_B $?"
kill -INT $SERVE_A; wait $SERVE_A; echo "SERVE_A $?"
"#;

#[test]
fn a_node_finds_a_nearby_device_sharing_a_notebook_and_syncs_by_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--net",
            "sh",
            "-c",
            NODES_SCENARIO,
        ])
        .env("DUET", duet_binary())
        .env("DUET_KEYCHAIN", "off")
        .env("A", dir.path().join("ana"))
        .env("B", dir.path().join("bo"))
        .env("LOG", dir.path().join("serve.log"))
        .output()
        .expect("unshare runs (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log_b = std::fs::read_to_string(dir.path().join("serve.log.b")).unwrap_or_default();
    assert!(
        stdout.contains("FOUND 1"),
        "Bo's node did not bring Ana's item ({:?}): {stdout}\n{}\nBo's node: {log_b}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("SERVE_B 0") && stdout.contains("SERVE_A 0"),
        "{stdout}"
    );
}
