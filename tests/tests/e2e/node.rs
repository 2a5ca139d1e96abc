//! The node (`duet serve`) owns the home while it runs: two nodes and a real relay converge
//! with no command typed (also after the relay restarts); commands are carried out by the
//! node with the same output and exit codes; a command issued during a long sync is
//! answered while the sync still waits; a node SIGKILLed loses no acknowledged edit; and a
//! ticket printed while serving on a custom port names that port and joins.

use duet_tests::{Device, Relay, Serving};
use std::time::Duration;

/// How long a change may take to travel between two nodes before the test gives up. The
/// figure the README reports comes from the benchmark, not from here.
const ARRIVAL_LIMIT: Duration = Duration::from_secs(30);

/// How long an edit may take to reach a node it is pushed to directly: well under the
/// 30 s between full rounds with remembered devices, so only a push meets it.
const LIVE_LIMIT: Duration = Duration::from_secs(10);

/// Waits until `device`'s `show` contains `marker`; panics with the last output otherwise.
fn wait_for(device: &Device, marker: &str) {
    wait_within(device, marker, ARRIVAL_LIMIT)
}

/// [`wait_for`] with its own limit.
fn wait_within(device: &Device, marker: &str, limit: Duration) {
    duet_tests::eventually(limit, &format!("{marker:?} to arrive"), || {
        let shown = device.ok(&["show"]);
        if shown.contains(marker) {
            Ok(())
        } else {
            Err(format!("the view:\n{shown}"))
        }
    })
}

/// Ana and Bo share a notebook through `relay`; neither node runs yet.
fn pair_on(relay: &Relay) -> (Device, Device) {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    ana.ok(&[
        "relay",
        "set",
        &relay.addr.to_string(),
        "--fingerprint",
        &relay.fingerprint,
    ]);
    ana.ok(&["sync"]);
    let ticket = duet_tests::invite(&ana, "127.0.0.1:9");
    let bo = Device::new("Bo");
    let joined = bo.json(&["join", &ticket, "--as", "report"]);
    assert_eq!(joined["synced"], true, "{joined}");
    (ana, bo)
}

#[test]
fn edits_arrive_on_the_other_node_with_no_command_typed_even_after_the_relay_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("relay");
    let relay = Relay::start(&data, "127.0.0.1:0", None);
    let (ana, bo) = pair_on(&relay);
    // 1. Both run their node.
    let ana_node = Serving::start(&ana, "127.0.0.1:0");
    let bo_node = Serving::start(&bo, "127.0.0.1:0");
    // 2. An edit on either side arrives on the other; nobody types `sync`.
    ana.ok(&["agenda", "add", "ana-live-marker"]);
    wait_for(&bo, "ana-live-marker");
    bo.ok(&["note", "bo-live-marker", "--section", "wins"]);
    wait_for(&ana, "bo-live-marker");
    // 3. The relay restarts on the same address and data; the nodes reconnect by
    //    themselves and the next edit still arrives.
    let addr = relay.addr.to_string();
    relay.kill();
    let relay = Relay::start(&data, &addr, None);
    ana.ok(&["agenda", "add", "after-restart-marker"]);
    wait_for(&bo, "after-restart-marker");
    // 4. `duet status` through the node names the relay link and nothing left to send.
    let status = ana.json(&["status"]);
    assert_eq!(
        status["node"]["pid"].as_u64(),
        Some(u64::from(ana_node.child.id())),
        "{status}"
    );
    let relay_link = status["links"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["kind"] == "relay"))
        .cloned()
        .unwrap_or_default();
    assert!(relay_link["last_ok"].as_i64().is_some(), "{status}");
    assert_eq!(status["notebooks"][0]["not_on_relay"], 0, "{status}");
    assert!(ana_node.stop(), "Ana's node did not stop cleanly");
    assert!(bo_node.stop(), "Bo's node did not stop cleanly");
    // 5. With the nodes gone, the homes open directly and hold everything.
    for device in [&ana, &bo] {
        let shown = device.ok(&["show"]);
        for marker in ["ana-live-marker", "bo-live-marker", "after-restart-marker"] {
            assert!(shown.contains(marker), "{marker} missing:\n{shown}");
        }
    }
    drop(relay);
}

#[test]
fn two_nodes_with_no_relay_see_each_others_edits_as_they_are_made() {
    // 1. Ana's node serves; Bo joins with her ticket (so he knows her address) and runs
    //    his own node. There is no relay.
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    let ana_node = Serving::start(&ana, "127.0.0.1:0");
    let ticket = duet_tests::invite(&ana, &ana_node.addr_arg());
    let bo = Device::new("Bo");
    let joined = bo.json(&["join", &ticket, "--as", "report"]);
    assert_eq!(joined["synced"], true, "{joined}");
    let bo_node = Serving::start(&bo, "127.0.0.1:0");
    // 2. Ana's node learns where Bo's listens from one sync by hand (on a network the nodes
    //    find each other by their mDNS tags).
    ana.ok(&[
        "sync",
        "--peer",
        &bo_node.addr_arg(),
        "--fingerprint",
        &bo_node.fingerprint,
    ]);
    // 3. An edit on either side is pushed to the other as it is made: nobody types
    //    `sync`, and the next full round is 30 s away.
    ana.ok(&["agenda", "add", "ana-nearby-marker"]);
    wait_within(&bo, "ana-nearby-marker", LIVE_LIMIT);
    bo.ok(&["note", "bo-nearby-marker", "--section", "wins"]);
    wait_within(&ana, "bo-nearby-marker", LIVE_LIMIT);
    ana.ok(&["note", "ana-second-marker", "--section", "notes"]);
    wait_within(&bo, "ana-second-marker", LIVE_LIMIT);
    // 4. The nodes settle: a push that finds nothing new writes no content, so neither
    //    answers the other's bookkeeping with a push of its own (that would be a sync
    //    every few tens of milliseconds, for ever).
    let syncs = |node: &Serving| {
        node.events()
            .iter()
            .filter(|e| e["event"] == "synced" || e["event"] == "peer_synced")
            .count()
    };
    let _ = (syncs(&ana_node), syncs(&bo_node));
    // Time is the subject: three quiet seconds with nobody editing.
    std::thread::sleep(Duration::from_secs(3));
    let quiet = syncs(&ana_node) + syncs(&bo_node);
    assert!(
        quiet <= 4,
        "{quiet} syncs in three quiet seconds: the nodes keep answering each other"
    );
    assert!(ana_node.stop(), "Ana's node did not stop cleanly");
    assert!(bo_node.stop(), "Bo's node did not stop cleanly");
}

#[test]
fn commands_through_the_node_match_commands_without_one() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    ana.ok(&["agenda", "add", "same-output-marker"]);
    let direct_show = ana.ok(&["show"]);
    let direct_json = ana.json(&["agenda", "list"]);
    let direct_missing = ana.run(&["agenda", "done", "zzzz"]);
    let node = Serving::start(&ana, "127.0.0.1:0");
    // The same views, byte for byte, and the same error and exit code.
    assert_eq!(ana.ok(&["show"]), direct_show);
    assert_eq!(ana.json(&["agenda", "list"]), direct_json);
    let missing = ana.run(&["agenda", "done", "zzzz"]);
    assert_eq!(missing.status.code(), direct_missing.status.code());
    assert_eq!(missing.stderr, direct_missing.stderr);
    // A path relative to the command's directory is the command's, not the node's.
    let out_dir = tempfile::tempdir().expect("tempdir");
    let written = ana
        .command()
        .current_dir(out_dir.path())
        .args(["export", "--format", "md", "--output", "notes.md"])
        .output()
        .expect("export");
    assert!(written.status.success(), "{written:?}");
    let md = std::fs::read_to_string(out_dir.path().join("notes.md")).expect("notes.md");
    assert!(md.contains("same-output-marker"));
    // A second node on the same home is refused as the store lock would (exit 4).
    let second = ana.run(&["serve", "--no-announce", "--listen", "127.0.0.1:0"]);
    assert_eq!(second.status.code(), Some(4), "{second:?}");
    assert!(node.stop());
}

#[test]
fn a_command_during_a_long_sync_is_answered_while_the_sync_still_waits() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    let node = Serving::start(&ana, "127.0.0.1:0");
    // A UDP port that swallows everything: the sync waits out its connect timeout.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("silent socket");
    let silent_addr = silent.local_addr().expect("addr").to_string();
    let mut sync = ana
        .command()
        .args([
            "sync",
            "--peer",
            &silent_addr,
            "--fingerprint",
            &node.fingerprint,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sync");
    // Let the node take the sync and start waiting on the network.
    let mut buf = [0u8; 2048];
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    silent
        .recv_from(&mut buf)
        .expect("the sync reached the network");
    // The edit is answered, and the sync is still waiting when it is.
    ana.ok(&["note", "typed-during-the-sync", "--section", "notes"]);
    assert!(
        matches!(sync.try_wait(), Ok(None)),
        "the sync ended before the edit was answered: the test proved nothing"
    );
    assert!(ana.ok(&["show"]).contains("typed-during-the-sync"));
    let status = sync.wait().expect("sync ends");
    assert!(!status.success(), "nothing answers there");
    assert!(node.stop());
}

#[test]
fn a_node_sigkilled_during_edits_loses_no_acknowledged_edit() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    let mut acknowledged = Vec::new();
    for round in 0..3 {
        let node = Serving::start(&ana, "127.0.0.1:0");
        // Edits from another thread race the kill; those that returned success count.
        let home = ana.home.path().to_owned();
        let writer = std::thread::spawn(move || {
            let mut done = Vec::new();
            for i in 0..40 {
                let marker = format!("kill-{round}-{i}");
                let out = std::process::Command::new(duet_tests::duet_binary())
                    .env("DUET_HOME", &home)
                    .env("DUET_LOCK_WAIT_MS", "3000")
                    .args(["agenda", "add", &marker])
                    .output()
                    .expect("duet");
                if out.status.success() {
                    done.push(marker);
                }
            }
            done
        });
        // Time is the subject: each round kills the node later into the writer's edits.
        std::thread::sleep(Duration::from_millis(150 * (round + 1)));
        node.kill();
        acknowledged.extend(writer.join().expect("writer"));
    }
    // Restarted or not, every acknowledged edit is there.
    let node = Serving::start(&ana, "127.0.0.1:0");
    let through_node = ana.ok(&["agenda", "list"]);
    assert!(node.stop());
    let direct = ana.ok(&["agenda", "list"]);
    assert!(!acknowledged.is_empty());
    for marker in &acknowledged {
        assert!(through_node.contains(marker.as_str()), "{marker} lost");
        assert!(direct.contains(marker.as_str()), "{marker} lost");
    }
}

#[test]
fn an_invite_while_serving_on_a_custom_port_names_that_port_and_joins() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    ana.ok(&["agenda", "add", "custom-port-marker"]);
    let node = Serving::start(&ana, "127.0.0.1:0");
    // No --addr and no --port: the node knows where it listens.
    let ticket = ana.json(&["invite"])["ticket"]
        .as_str()
        .expect("ticket")
        .to_owned();
    let invite =
        duet_core::one_time_invite::OneTimeInvite::from_ticket(&ticket).expect("ticket parses");
    assert_eq!(invite.addrs, vec![node.addr], "the ticket names the node");
    let bo = Device::new("Bo");
    let joined = bo.json(&["join", &ticket, "--as", "report"]);
    assert_eq!(joined["synced"], true, "{joined}");
    assert!(bo.ok(&["show"]).contains("custom-port-marker"));
    let served = node.addr;
    assert!(node.stop());
    // After it stopped, a ticket still names the address it last served on.
    let later = duet_core::one_time_invite::OneTimeInvite::from_ticket(
        ana.json(&["invite"])["ticket"].as_str().expect("ticket"),
    )
    .expect("ticket parses");
    assert_eq!(later.addrs, vec![served]);
}

/// A home written by Duet as it was before the node (built from the commit before it and
/// committed as `tests/fixtures/home-before-node.tar.gz`: a notebook with an agenda item, a
/// note, a commitment, a private note, a relay it had synced with, and a device it had
/// served) opens under this code, runs a node, and syncs with a new device.
#[test]
fn a_home_written_before_the_node_opens_serves_and_syncs() {
    let ana = Device::from_fixture("home-before-node");
    // 1. Everything it held reads as before.
    let shown = ana.ok(&["show"]);
    for marker in ["fixture-agenda-item", "fixture-note", "fixture-commitment"] {
        assert!(shown.contains(marker), "{marker} missing:\n{shown}");
    }
    assert!(ana.ok(&["private"]).contains("fixture-private-note"));
    assert_eq!(
        ana.json(&["peers"])["peers"].as_array().map(Vec::len),
        Some(1)
    );
    assert!(ana.json(&["status"])["node"].is_null());
    // 2. A node runs on it and carries out commands.
    let node = Serving::start(&ana, "127.0.0.1:0");
    ana.ok(&["agenda", "add", "added-under-the-node"]);
    assert!(node.stop());
    // 3. It syncs through a new relay with a device that joins now.
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    ana.ok(&[
        "relay",
        "set",
        &relay.addr.to_string(),
        "--fingerprint",
        &relay.fingerprint,
    ]);
    ana.ok(&["sync", "--relay"]);
    let ticket = duet_tests::invite(&ana, "127.0.0.1:9");
    let bo = Device::new("Bo");
    let joined = bo.json(&["join", &ticket, "--as", "report"]);
    assert_eq!(joined["synced"], true, "{joined}");
    let bo_sees = bo.ok(&["show"]);
    for marker in [
        "fixture-agenda-item",
        "fixture-note",
        "added-under-the-node",
    ] {
        assert!(
            bo_sees.contains(marker),
            "{marker} missing on Bo:\n{bo_sees}"
        );
    }
    assert!(!bo
        .ok(&["search", "fixture-private-note"])
        .contains("fixture-private-note"));
}
