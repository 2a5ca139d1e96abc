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
    let (ana, ticket) = notebook_on_relay(&relay);
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

/// Ana's laptop (so named), with her notebook with Bo on `relay`, and a ticket that joins
/// through the relay only.
fn notebook_on_relay(relay: &Relay) -> (Device, String) {
    let (ana, ticket) = duet_tests::notebook_on_relay(relay, "Ana / Bo", "Ana", "Bo");
    ana.ok(&["devices", "name", "Ana's laptop"]);
    (ana, ticket)
}

/// A device of the notebook, joined through the relay from `ticket` and named `name`.
fn joined(person: &str, name: &str, ticket: &str, role: &str) -> Device {
    let d = Device::new(person);
    d.ok(&["devices", "name", name]);
    let out = d.json(&["join", ticket, "--as", role]);
    assert_eq!(out["synced"], true, "{out}");
    d.ok(&["sync"]);
    d
}

/// The id of the device named `name` in `device`'s list.
fn id_of(device: &Device, name: &str) -> String {
    let list = device.json(&["devices"]);
    list.as_array()
        .and_then(|all| all.iter().find(|d| d["name"] == name))
        .and_then(|d| d["id"].as_str())
        .unwrap_or_else(|| panic!("no device named {name} in {list}"))
        .to_owned()
}

#[test]
fn a_lost_phone_is_removed_and_reads_nothing_written_after_by_either_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let (laptop, ticket) = notebook_on_relay(&relay);
    let old_mailbox = duet_tests::initial_mailbox(&laptop, &relay);
    laptop.ok(&["agenda", "add", "before-removal-item"]);
    laptop.ok(&["sync"]);
    // One-time tickets: one per device.
    let phone = joined("Ana", "Ana's phone", &ticket, "manager");
    let bo_laptop = joined(
        "Bo",
        "Bo's laptop",
        &invite(&laptop, "127.0.0.1:9"),
        "report",
    );
    let bo_phone = joined(
        "Bo",
        "Bo's phone",
        &invite(&laptop, "127.0.0.1:9"),
        "report",
    );
    laptop.ok(&["sync"]);
    assert_eq!(laptop.json(&["devices"]).as_array().map(Vec::len), Some(4));

    // Bo's phone is offline from here until the end. Ana's phone is lost.
    let phone_id = id_of(&laptop, "Ana's phone");
    let removed = laptop.json(&["devices", "remove", &phone_id[..8]]);
    assert_eq!(removed["name"], "Ana's phone", "{removed}");
    assert_eq!(removed["removed"], true, "{removed}");
    let listed = laptop.json(&["devices"]);
    let entry = listed
        .as_array()
        .and_then(|all| all.iter().find(|d| d["id"] == phone_id.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(entry["removed"], true, "{listed}");
    // This device cannot remove itself; a device that is not there is not found.
    assert_eq!(
        laptop
            .run(&["devices", "remove", &id_of(&laptop, "Ana's laptop")])
            .status
            .code(),
        Some(2)
    );
    assert_ne!(
        laptop.run(&["devices", "remove", "zzzzzzzz"]).status.code(),
        Some(0)
    );

    let canaries = ["canary-after-removal-note", "canary-after-removal-item"];
    laptop.ok(&["note", canaries[0]]);
    laptop.ok(&["agenda", "add", canaries[1]]);
    laptop.ok(&["sync"]);

    // Bo's laptop, through the relay: the old mailbox's last batch hands it the new keys,
    // and the same sync reads the new mailbox.
    bo_laptop.ok(&["sync"]);
    let on_bo = bo_laptop.ok(&["show"]);
    for c in canaries {
        assert!(on_bo.contains(c), "{c} did not reach Bo's laptop: {on_bo}");
    }
    bo_laptop.ok(&["agenda", "add", "bo-after-removal-item"]);
    bo_laptop.ok(&["sync"]);
    laptop.ok(&["sync"]);

    // The lost phone syncs through the relay: it learns it was removed, and gets nothing
    // written after.
    phone.ok(&["note", "phone-after-removal-note"]);
    let refused = phone.run(&["sync"]);
    assert!(
        !refused.status.success(),
        "the removed phone's sync succeeded"
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("was removed from the notebook"),
        "{refused:?}"
    );
    // Its mailbox is retired: even a push made by hand with its token is refused, while the
    // log stays readable.
    match duet_tests::relay_push(&relay, &old_mailbox, vec![7u8; 64]) {
        Err(duet_node::net::NetError::RelayRefused { why, .. }) => {
            assert_eq!(why, duet_core::wire::RelayRefusal::Retired)
        }
        other => panic!("a push to the retired mailbox got {other:?}"),
    }
    assert!(!duet_tests::relay_pull(&relay, &old_mailbox)
        .expect("pull")
        .is_empty());
    let on_phone = phone.ok(&["show"]);
    assert!(on_phone.contains("before-removal-item"), "{on_phone}");
    for c in canaries.iter().chain(&["bo-after-removal-item"]) {
        assert!(!on_phone.contains(c), "the removed phone shows {c}");
    }
    assert!(
        !laptop.ok(&["show"]).contains("phone-after-removal-note"),
        "a note of the removed phone reached the laptop"
    );

    // Directly: the laptop serves; the lost phone is refused, Bo's phone (offline during
    // the rotation, holding only the old keys) is accepted and handed the new ones.
    let serving = Serving::start(&laptop, "127.0.0.1:0");
    let refused = phone.run(&[
        "sync",
        "--peer",
        &serving.addr_arg(),
        "--fingerprint",
        &serving.fingerprint,
    ]);
    assert!(
        !refused.status.success(),
        "the removed phone synced directly"
    );
    let caught_up = bo_phone.json(&["sync", "--peer", &serving.addr_arg()]);
    assert!(caught_up.to_string().contains("notebook"), "{caught_up}");
    let on_bo_phone = bo_phone.ok(&["show"]);
    for c in canaries.iter().chain(&["bo-after-removal-item"]) {
        assert!(
            on_bo_phone.contains(c),
            "{c} did not reach Bo's phone: {on_bo_phone}"
        );
    }
    assert!(serving.stop(), "serve did not stop cleanly");
    // Bo's phone now syncs through the new mailbox too; everyone converges.
    bo_phone.ok(&["agenda", "add", "bo-phone-item"]);
    bo_phone.ok(&["sync"]);
    bo_laptop.ok(&["sync"]);
    laptop.ok(&["sync"]);
    let a = duet_tests::export_json(&laptop);
    assert_eq!(a, duet_tests::export_json(&bo_laptop));
    assert_eq!(a, duet_tests::export_json(&bo_phone));
    assert!(a.to_string().contains("bo-phone-item"));

    // A device that joins now, from a new ticket, gets the new keys and everything.
    let fresh_ticket = invite(&laptop, "127.0.0.1:9");
    let tablet = joined("Bo", "Bo's tablet", &fresh_ticket, "report");
    let on_tablet = tablet.ok(&["show"]);
    for c in canaries {
        assert!(
            on_tablet.contains(c),
            "{c} did not reach the new device: {on_tablet}"
        );
    }

    // Nothing written after the removal is anywhere in the phone's home, in any encoding.
    let _ = phone.run(&["sync"]);
    duet_tests::assert_no_plaintext(
        phone.home.path(),
        &[
            canaries[0],
            canaries[1],
            "bo-after-removal-item",
            "bo-phone-item",
        ],
    );
    assert!(relay.stop(), "the relay did not stop cleanly");
}

#[test]
fn two_removals_made_offline_on_two_devices_converge_through_the_relay_excluding_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let (ana, ticket) = notebook_on_relay(&relay);
    let ana_phone = joined("Ana", "Ana's phone", &ticket, "manager");
    let bo = joined("Bo", "Bo's laptop", &invite(&ana, "127.0.0.1:9"), "report");
    let bo_phone = joined("Bo", "Bo's phone", &invite(&ana, "127.0.0.1:9"), "report");
    ana.ok(&["sync"]);
    bo.ok(&["sync"]);

    // Nobody removes the other person's device: refused, and nothing is written.
    let before = duet_tests::export_json(&ana);
    let refused = ana.run(&["devices", "remove", &id_of(&ana, "Bo's phone")]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("removes only devices of its own person"),
        "{refused:?}"
    );
    assert_eq!(duet_tests::export_json(&ana), before);

    // Offline, each removes their own phone; neither knows of the other's removal.
    ana.ok(&["devices", "remove", &id_of(&ana, "Ana's phone")]);
    bo.ok(&["devices", "remove", &id_of(&bo, "Bo's phone")]);
    ana.ok(&["note", "canary-concurrent-ana"]);
    bo.ok(&["note", "canary-concurrent-bo"]);

    // Then they sync through the relay, one after the other, twice round.
    for _ in 0..2 {
        ana.ok(&["sync"]);
        bo.ok(&["sync"]);
    }
    ana.ok(&["sync"]);
    let a = duet_tests::export_json(&ana);
    assert_eq!(a, duet_tests::export_json(&bo));
    let text = a.to_string();
    assert!(text.contains("canary-concurrent-ana") && text.contains("canary-concurrent-bo"));
    for device in [&ana, &bo] {
        let list = device.json(&["devices"]);
        let removed: Vec<&str> = list
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|d| d["removed"] == true)
                    .filter_map(|d| d["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(removed, ["Ana's phone", "Bo's phone"], "{list}");
    }
    // Both phones are refused, and neither holds the note written by the device that
    // removed it. (Ana's phone may read Bo's note: he wrote it before he learnt that
    // Ana had removed her phone, as if her phone had synced just before.)
    for (phone, remover_s_note) in [
        (&ana_phone, "canary-concurrent-ana"),
        (&bo_phone, "canary-concurrent-bo"),
    ] {
        let out = phone.run(&["sync"]);
        assert!(!out.status.success(), "a removed phone synced: {out:?}");
        duet_tests::assert_no_plaintext(phone.home.path(), &[remover_s_note]);
    }
    assert!(relay.stop(), "the relay did not stop cleanly");
}

#[test]
fn a_1_1_that_ends_is_read_only_on_both_sides_and_its_relay_mailbox_goes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    end_of_a_1_1(&relay);
    assert!(relay.stop(), "the relay did not stop cleanly");
}

#[test]
fn a_1_1_ends_the_same_on_a_relay_on_postgresql() {
    let pg = duet_tests::Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ["--store", pg.url.as_str()];
    let relay = Relay::start_with(&dir.path().join("relay"), "127.0.0.1:0", None, &store);
    end_of_a_1_1(&relay);
    assert!(relay.stop(), "the relay did not stop cleanly");
}

/// Ana ends the 1-1 and syncs; Bo's next sync brings the end; the relay's mailbox was
/// retired by Ana's device and deleted by Bo's.
fn end_of_a_1_1(relay: &Relay) {
    let (ana, ticket) = notebook_on_relay(relay);
    let old_mailbox = duet_tests::initial_mailbox(&ana, relay);
    ana.ok(&["note", "kept-after-the-end"]);
    ana.ok(&["sync"]);
    let bo = joined("Bo", "Bo's laptop", &ticket, "report");
    bo.ok(&["agenda", "add", "bo-item-before-the-end"]);
    bo.ok(&["sync"]);
    ana.ok(&["sync"]);

    let ended = ana.json(&["notebook", "end"]);
    assert!(ended["ended"].as_str().is_some(), "{ended}");
    let refused = ana.run(&["note", "after-the-end"]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("read-only"));
    assert_eq!(ana.run(&["notebook", "end"]).status.code(), Some(2));
    // Nobody new joins an ended 1-1.
    let no_invite = ana.run(&["invite", "--addr", "127.0.0.1:9"]);
    assert_eq!(no_invite.status.code(), Some(2), "{no_invite:?}");
    // Still readable, searchable and exportable.
    assert!(ana.ok(&["show"]).contains("kept-after-the-end"));
    assert!(ana
        .ok(&["search", "kept-after-the-end"])
        .contains("kept-after-the-end"));
    assert!(ana
        .ok(&["export", "--format", "md"])
        .contains("bo-item-before-the-end"));
    ana.ok(&["sync"]);

    // Bo's next sync brings the end: read-only there too, and the mailbox is deleted.
    bo.ok(&["sync"]);
    assert!(bo.json(&["notebook", "show"])["ended"].as_str().is_some());
    assert_eq!(
        bo.run(&["agenda", "add", "after-the-end"]).status.code(),
        Some(2)
    );
    assert!(bo.ok(&["show"]).contains("kept-after-the-end"));
    let list = bo.ok(&["notebook", "list"]);
    assert!(list.contains("read-only"), "{list}");

    match duet_tests::relay_pull(relay, &old_mailbox) {
        Err(duet_node::net::NetError::RelayRefused { why, .. }) => {
            assert_eq!(why, duet_core::wire::RelayRefusal::NoMailbox)
        }
        other => panic!("the ended 1-1's mailbox is still there: {other:?}"),
    }
}

#[test]
fn a_personal_link_says_whose_device_it_is_asks_first_and_refuses_another_person() {
    let (ana, bo) = duet_tests::pair();
    ana.ok(&["devices", "name", "Ana's laptop"]);
    let serving = Serving::start(&ana, "127.0.0.1:0");
    let link = ana.json(&["link", "--addr", &serving.addr_arg()])["ticket"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(link.starts_with("duetlink2"), "{link}");

    // Bo holds the notebook as the other person: Ana's private notes are not his.
    let refused = bo.run(&["link", &link, "--yes", "--no-sync"]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("Ana's device") && why.contains("another person"),
        "{why}"
    );

    // With no terminal to ask on, it will not link without --yes.
    let phone = Device::new("Ana");
    let unasked = phone.run(&["link", &link, "--no-sync"]);
    assert_eq!(unasked.status.code(), Some(2), "{unasked:?}");
    let said = String::from_utf8_lossy(&unasked.stderr);
    assert!(
        said.contains("Ana's laptop (Ana's device") && said.contains("--yes"),
        "{said}"
    );
    assert!(phone
        .json(&["notebook", "list"])
        .as_array()
        .is_some_and(|l| l.is_empty()));

    let linked = phone.run(&["link", &link, "--yes", "--no-sync"]);
    assert!(linked.status.success(), "{linked:?}");
    assert!(String::from_utf8_lossy(&linked.stderr).contains("Ana's laptop"));
    // The link works once: a second device of Ana's gets nothing from it.
    let tablet = Device::new("Ana");
    let again = tablet.run(&["link", &link, "--yes", "--no-sync"]);
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already used"),
        "{again:?}"
    );
    assert!(serving.stop(), "serve did not stop cleanly");
}

#[test]
fn a_used_an_expired_and_a_revoked_ticket_are_each_refused_and_a_fresh_one_joins() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    ana.ok(&["agenda", "add", "one-time-invite-marker"]);
    let serving = Serving::start(&ana, "127.0.0.1:0");
    let addr = serving.addr_arg();
    let used = invite(&ana, &addr);
    let bo = Device::new("Bo");
    let joined = bo.json(&["join", &used, "--as", "report"]);
    assert_eq!(joined["synced"], true, "{joined}");
    assert!(bo.ok(&["show"]).contains("one-time-invite-marker"));

    let eve = Device::new("Eve");
    let refused = |ticket: &str, why: &str| {
        let out = eve.run(&["join", ticket, "--as", "report"]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{why:?} not in {stderr}");
    };
    refused(&used, "already used by another device");
    let expired = ana.json(&["invite", "--addr", &addr, "--expires", "1s"])["ticket"]
        .as_str()
        .expect("ticket")
        .to_owned();
    // Time is the subject: the ticket expires after one second.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    refused(&expired, "has expired");
    let revoked = invite(&ana, &addr);
    let id = duet_core::one_time_invite::OneTimeInvite::from_ticket(&revoked)
        .expect("ticket")
        .id;
    assert_eq!(
        ana.json(&["invite", "--revoke", &id[..8]])["state"],
        "revoked"
    );
    refused(&revoked, "was revoked");
    // Refused before any connection: a mistyped lifetime, a lifetime past 90 days.
    for lifetime in ["soon", "91d"] {
        let out = ana.run(&["invite", "--addr", &addr, "--expires", lifetime]);
        assert_eq!(out.status.code(), Some(2), "{lifetime}: {out:?}");
    }
    assert!(eve
        .json(&["notebook", "list"])
        .as_array()
        .is_some_and(Vec::is_empty));
    let states: Vec<String> = ana
        .json(&["invite", "--list"])
        .as_array()
        .expect("list")
        .iter()
        .map(|i| i["state"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(states, ["revoked", "expired", "used"]);

    // A fresh ticket joins; none of them carries the notebook secret.
    let fresh = invite(&ana, &addr);
    let joined = eve.json(&["join", &fresh, "--as", "report"]);
    assert_eq!(joined["synced"], true, "{joined}");
    let secret = duet_tests::secret_ticket(&bo).notebook_secret();
    for ticket in [&used, &expired, &revoked, &fresh] {
        let body = data_encoding::BASE32_NOPAD
            .decode(ticket["duet2".len()..].to_ascii_uppercase().as_bytes())
            .expect("base32");
        assert!(
            !body.windows(32).any(|w| w == secret.as_bytes().as_slice()),
            "a ticket carries the notebook secret"
        );
    }
    assert!(serving.stop(), "serve did not stop cleanly");
}

#[test]
fn a_one_time_invite_s_welcome_on_the_relay_is_taken_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let (ana, _old_ticket) = notebook_on_relay(&relay);
    let info = duet_core::invite::RelayInfo {
        addr: relay.addr.to_string(),
        fingerprint: duet_core::crypto::parse_fingerprint(&relay.fingerprint).expect("fp"),
    };
    let (ticket, revoked) = {
        let mut duet = duet_tests::open_home(ana.home.path());
        let ticket = duet
            .members()
            .invite_once(Vec::new(), Some(info.clone()), None)
            .expect("invite");
        let revoked = duet
            .members()
            .invite_once(Vec::new(), Some(info), None)
            .expect("invite");
        (ticket, revoked)
    };
    // Ana's next sync leaves both welcomes on the relay.
    ana.ok(&["sync"]);
    {
        let mut duet = duet_tests::open_home(ana.home.path());
        duet.members().revoke_invite(&revoked.id).expect("revoke");
    }
    // The revoked invite's welcome comes down with the next sync.
    ana.ok(&["sync"]);
    let fp = duet_core::crypto::parse_fingerprint(&relay.fingerprint).expect("fp");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let take = |t: &duet_core::one_time_invite::OneTimeInvite| {
        rt.block_on(async {
            let identity = duet_node::net::tls::TlsIdentity::generate().expect("identity");
            let client = duet_node::net::relay_client::RelayClient::connect(
                &identity,
                relay.addr,
                duet_node::net::tls::Pins::Exactly([fp].into()),
            )
            .await
            .expect("connect");
            let got = duet_node::net::relay_client::take_welcome(&client, t).await;
            client.close().await;
            got.expect("take")
        })
    };
    let grant = take(&ticket).expect("the welcome is there once");
    assert_eq!(grant.title, "Ana / Bo");
    assert!(take(&ticket).is_none(), "a welcome was taken twice");
    assert!(
        take(&revoked).is_none(),
        "a revoked invite's welcome stayed up"
    );
    // Ana's next sync notices that the welcome was taken: the invite is used.
    ana.ok(&["sync"]);
    let mut duet = duet_tests::open_home(ana.home.path());
    let states: Vec<(String, &str)> = duet
        .members()
        .invites()
        .expect("invites")
        .into_iter()
        .map(|v| (v.id, v.state))
        .collect();
    assert!(states.contains(&(ticket.id.clone(), "used")), "{states:?}");
    assert!(
        states.contains(&(revoked.id.clone(), "revoked")),
        "{states:?}"
    );
    drop(duet);
    assert!(relay.stop(), "the relay did not stop cleanly");
}

/// The relay mailbox a one-time ticket's welcome waits in.
fn welcome_mailbox(
    relay: &Relay,
    ticket: &duet_core::one_time_invite::OneTimeInvite,
) -> duet_node::net::relay_client::MailboxKey {
    let fp = duet_core::crypto::parse_fingerprint(&relay.fingerprint).expect("fp");
    let (mailbox, token) =
        duet_core::one_time_invite::InviteKey::new(ticket.key).welcome_mailbox(&fp);
    duet_node::net::relay_client::MailboxKey {
        mailbox,
        token,
        team_token: None,
    }
}

/// `duet invite` on `inviter` (with `extra` flags), whose welcome it leaves on `relay`:
/// the ticket and the welcome's mailbox, checked to be there.
fn invite_with_welcome(
    inviter: &Device,
    relay: &Relay,
    extra: &[&str],
) -> (
    duet_core::one_time_invite::OneTimeInvite,
    duet_node::net::relay_client::MailboxKey,
) {
    let mut args = vec!["invite", "--addr", "127.0.0.1:9"];
    args.extend_from_slice(extra);
    let made = inviter.json(&args);
    assert_eq!(made["welcome_on_relay"], true, "{made}");
    let ticket = duet_core::one_time_invite::OneTimeInvite::from_ticket(
        made["ticket"].as_str().expect("ticket"),
    )
    .expect("ticket");
    let welcome = welcome_mailbox(relay, &ticket);
    assert!(
        duet_tests::relay_pull(relay, &welcome).is_ok(),
        "the welcome is not on the relay"
    );
    (ticket, welcome)
}

/// Whether the welcome mailbox is gone from the relay (else what the relay still has).
fn welcome_gone(
    relay: &Relay,
    welcome: &duet_node::net::relay_client::MailboxKey,
) -> Result<(), String> {
    match duet_tests::relay_pull(relay, welcome) {
        Err(duet_node::net::NetError::RelayRefused { why, .. }) => {
            assert_eq!(why, duet_core::wire::RelayRefusal::NoMailbox);
            Ok(())
        }
        other => Err(format!("{other:?}")),
    }
}

#[test]
fn a_running_node_takes_an_expired_invite_s_welcome_off_the_relay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let (ana, _ticket) = notebook_on_relay(&relay);
    let node = Serving::start(&ana, "127.0.0.1:0");
    let (_, welcome) = invite_with_welcome(&ana, &relay, &["--expires", "2s"]);
    // Nobody syncs by hand: the node takes the welcome down once the invite expires.
    duet_tests::eventually(
        std::time::Duration::from_secs(20),
        "the node to take the expired invite's welcome off the relay",
        || welcome_gone(&relay, &welcome),
    );
    assert!(node.stop(), "serve did not stop cleanly");
    let states = ana.json(&["invite", "--list"]);
    assert_eq!(states[0]["state"], "expired", "{states}");
}

#[test]
fn revoking_an_invite_takes_its_welcome_off_the_relay_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let (ana, _ticket) = notebook_on_relay(&relay);
    let (ticket, welcome) = invite_with_welcome(&ana, &relay, &[]);
    // No sync and no node: the revoking command itself takes the welcome down.
    let revoked = ana.run(&["invite", "--revoke", &ticket.id[..8]]);
    assert!(revoked.status.success(), "{revoked:?}");
    let said = String::from_utf8_lossy(&revoked.stdout);
    assert!(said.contains("its welcome is off the relay"), "{said}");
    if let Err(left) = welcome_gone(&relay, &welcome) {
        panic!("the revoked invite's welcome stayed up: {left}");
    }
    let states = ana.json(&["invite", "--list"]);
    assert_eq!(states[0]["state"], "revoked", "{states}");
    assert!(relay.stop(), "the relay did not stop cleanly");
}

#[test]
fn a_one_time_ticket_joins_one_device_whether_redeemed_at_the_relay_or_at_the_inviting_device() {
    use duet_core::one_time_invite::OneTimeInvite;
    use duet_node::net::redeem::redeem;
    use duet_node::net::relay_client::{self, RelayClient};
    use duet_node::Home;
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let (ana, _ticket) = notebook_on_relay(&relay);
    // Ana's laptop serves in this process, with no background sync: nothing but the
    // redemption itself can notice that a welcome was taken or take one down.
    let laptop = Home::spawn(duet_tests::open_home(ana.home.path())).expect("home");
    let handle = laptop.handle();
    let fp = duet_core::crypto::parse_fingerprint(&relay.fingerprint).expect("fp");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt
        .block_on(duet_node::net::server::Server::bind(
            handle.clone(),
            "127.0.0.1:0".parse().expect("addr"),
            Box::new(|_| {}),
        ))
        .expect("bind");
    let addr = server.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = rt.spawn(server.run(async {
        let _ = stopped.await;
    }));
    let fresh_ticket = || -> OneTimeInvite {
        let ticket = handle
            .call_blocking(move |d| {
                let notebook = d.selected_notebook()?;
                let relay = d.relay().ticket_relay(&notebook)?;
                d.members().invite_once(vec![addr], relay, None)
            })
            .expect("invite");
        let left = rt
            .block_on(relay_client::push_welcomes(&handle, &ticket.notebook))
            .expect("leave the welcome");
        assert_eq!(left, 1);
        ticket
    };
    let take = |ticket: &OneTimeInvite| {
        rt.block_on(async {
            let identity = duet_node::net::tls::TlsIdentity::generate().expect("identity");
            let pins = duet_node::net::tls::Pins::Exactly([fp].into());
            let client = RelayClient::connect(&identity, relay.addr, pins)
                .await
                .expect("connect");
            let got = relay_client::take_welcome(&client, ticket).await;
            client.close().await;
            got.expect("take")
        })
    };
    let redeem_at_laptop = |ticket: &OneTimeInvite| {
        let joiner = Device::new("Bo");
        let home = Home::spawn(duet_tests::open_home(joiner.home.path())).expect("home");
        let got = rt.block_on(redeem(&home.handle(), ticket, addr));
        home.close();
        got
    };

    // Taken at the relay first: the laptop, asked next, finds its welcome gone and
    // refuses, where it once granted the same ticket a second time.
    let ticket = fresh_ticket();
    assert!(take(&ticket).is_some(), "the welcome is on the relay");
    match redeem_at_laptop(&ticket) {
        Err(duet_node::net::NetError::Invite(why)) => {
            assert_eq!(why, duet_core::one_time_invite::Refusal::Used)
        }
        other => panic!("one ticket joined two devices: {other:?}"),
    }

    // Redeemed at the laptop first: it takes its welcome off the relay as it grants, so
    // nobody can take it there after.
    let second = fresh_ticket();
    let granted = redeem_at_laptop(&second);
    assert!(granted.is_ok(), "{granted:?}");
    assert!(
        take(&second).is_none(),
        "the welcome stayed on the relay after the grant"
    );

    let _ = stop.send(());
    let _ = rt.block_on(serving);
    let states = handle
        .call_blocking(|d| d.members().invites())
        .expect("invites");
    for id in [&ticket.id, &second.id] {
        let state = states.iter().find(|v| &v.id == id).map(|v| v.state);
        assert_eq!(state, Some("used"), "{id}: {states:?}");
    }
    laptop.close();
    assert!(relay.stop(), "the relay did not stop cleanly");
}

#[test]
fn a_ticket_used_twice_while_the_inviter_could_not_reach_the_relay_shows_both_devices() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("relay");
    let relay = Relay::start(&data, "127.0.0.1:0", None);
    let relay_addr = relay.addr.to_string();
    let (ana, _first) = notebook_on_relay(&relay);
    let serving = Serving::start(&ana, "127.0.0.1:0");
    let ticket = invite(&ana, &serving.addr_arg());
    // The next sync leaves the ticket's welcome on the relay.
    ana.ok(&["sync"]);
    assert!(relay.stop(), "the relay stops cleanly");

    // With the relay down, the inviting device grants the ticket itself.
    let first = Device::new("Bo");
    first.ok(&["devices", "name", "Bo's laptop"]);
    let out = first.run(&["join", &ticket, "--as", "report"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(serving);

    // The relay is back; a second holder of the same ticket takes the welcome there.
    let relay = Relay::start(&data, &relay_addr, None);
    let second = Device::new("Bo");
    second.ok(&["devices", "name", "Unknown tablet"]);
    let out = second.json(&["join", &ticket, "--as", "report"]);
    assert_eq!(out["synced"], true, "{out}");
    for d in [&first, &second, &ana, &first, &second, &ana] {
        let _ = d.run(&["sync"]);
    }

    // The inviting device's list shows both, flagged, and says what to do.
    let list = ana.json(&["devices"]);
    let flagged: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["shared_ticket"] == true)
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(flagged.len(), 2, "{list}");
    assert!(flagged.contains(&"Bo's laptop") && flagged.contains(&"Unknown tablet"));
    let text = ana.ok(&["devices"]);
    assert!(
        text.contains("joined with the same one-time ticket"),
        "{text}"
    );
    // The person whose devices they are (Bo) removes the one nobody knows; the inviting
    // device may not (they are not its person's), and the flag clears from the other.
    assert_eq!(
        ana.run(&["devices", "remove", &id_of(&ana, "Unknown tablet")])
            .status
            .code(),
        Some(2)
    );
    first.ok(&["devices", "remove", &id_of(&first, "Unknown tablet")]);
    first.ok(&["sync"]);
    ana.ok(&["sync"]);
    let list = ana.json(&["devices"]);
    assert!(
        !list
            .as_array()
            .into_iter()
            .flatten()
            .any(|d| d["shared_ticket"] == true),
        "{list}"
    );
    assert!(relay.stop(), "the relay stops cleanly");
}

/// Edits `device`'s copy of the notebook's index by hand, as any Automerge tool could: the
/// notebook exported, its index changed by `change`, and the folder imported back.
fn edit_index_by_hand(device: &Device, change: impl FnOnce(&mut automerge::AutoCommit)) {
    let (export, mut index) = exported(device);
    change(&mut index);
    std::fs::write(export.join("index.automerge"), index.save()).expect("write index");
    device.ok(&["import", duet_tests::path(&export)]);
}

#[test]
fn an_epoch_planted_before_its_makers_removal_gives_it_nothing_written_after() {
    use duet_core::model::members::{self, Epoch};
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let (laptop, ticket) = notebook_on_relay(&relay);
    let phone = joined("Ana", "Ana's phone", &ticket, "manager");
    laptop.ok(&["sync"]);
    let phone_id = id_of(&laptop, "Ana's phone");

    // The phone, still a member, plants an epoch numbered far ahead, sealed to nobody (its
    // maker keeps the key): written into its own index with Automerge and imported, as any
    // tool could, then synced to the laptop.
    edit_index_by_hand(&phone, |index| {
        members::put_epoch(
            index,
            &Epoch {
                id: "planted".into(),
                number: 1_000_000,
                by: phone_id.clone(),
                at: "2026-12-07".into(),
                ..Epoch::default()
            },
        )
        .expect("plant");
    });
    phone.ok(&["sync"]);
    laptop.ok(&["sync"]);

    // The phone is lost: the laptop removes it and writes on.
    laptop.ok(&["devices", "remove", &phone_id[..8]]);
    laptop.ok(&["note", "canary-after-planted-epoch"]);
    laptop.ok(&["sync"]);
    let _ = phone.run(&["sync"]);
    let on_phone = phone.ok(&["show"]);
    assert!(
        !on_phone.contains("canary-after-planted-epoch"),
        "the planted epoch let the removed phone read on: {on_phone}"
    );
    duet_tests::assert_no_plaintext(phone.home.path(), &["canary-after-planted-epoch"]);

    // The planted epoch is reported where the laptop's owner looks.
    let status = laptop.json(&["status"]);
    let refused = status["notebooks"][0]["membership_refused"].to_string();
    assert!(refused.contains("planted"), "{status}");
    let devices = laptop.ok(&["devices"]);
    assert!(
        devices.contains("Not counted: key epoch planted not sealed to its maker"),
        "{devices}"
    );
    assert!(relay.stop(), "the relay did not stop cleanly");
}

#[test]
fn a_sealing_key_swapped_into_another_devices_record_gets_nothing_after_the_removal() {
    use duet_core::model::members;
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let (laptop, ticket) = notebook_on_relay(&relay);
    let phone = joined("Ana", "Ana's phone", &ticket, "manager");
    let bo = joined(
        "Bo",
        "Bo's laptop",
        &invite(&laptop, "127.0.0.1:9"),
        "report",
    );
    laptop.ok(&["sync"]);
    phone.ok(&["sync"]);
    let (phone_id, bo_id) = (id_of(&laptop, "Ana's phone"), id_of(&laptop, "Bo's laptop"));

    // The phone, still a member, puts its own sealing key into Bo's record (keeping Bo's
    // signature), so that the next key would be sealed to "Bo" in a form it opens.
    edit_index_by_hand(&phone, |index| {
        let own_seal = members::device_record(index, &phone_id)
            .expect("read")
            .expect("the phone's record")
            .seal;
        let mut bos = members::device_record(index, &bo_id)
            .expect("read")
            .expect("Bo's record");
        bos.seal = own_seal;
        members::put_device_record(index, &bo_id, &bos).expect("swap");
    });
    phone.ok(&["sync"]);
    laptop.ok(&["sync"]);

    // The laptop will not seal a key to a record its device did not sign: it says so, and
    // the removal waits for Bo's next sync, which writes his own record again.
    let refused = laptop.run(&["devices", "remove", &phone_id[..8]]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("changed its record"),
        "{refused:?}"
    );
    let status = laptop.json(&["status"]).to_string();
    assert!(status.contains("not signed by that device"), "{status}");
    bo.ok(&["sync"]);
    laptop.ok(&["sync"]);
    laptop.ok(&["devices", "remove", &phone_id[..8]]);
    laptop.ok(&["note", "canary-after-swapped-key"]);
    laptop.ok(&["sync"]);
    bo.ok(&["sync"]);
    assert!(
        bo.ok(&["show"]).contains("canary-after-swapped-key"),
        "Bo reads on"
    );
    let _ = phone.run(&["sync"]);
    duet_tests::assert_no_plaintext(phone.home.path(), &["canary-after-swapped-key"]);
    assert!(relay.stop(), "the relay did not stop cleanly");
}

#[test]
fn a_stolen_bundle_or_a_device_listed_by_hand_joins_nobody_the_log_does_not_count() {
    use duet_core::crypto::DeviceKey;
    use duet_core::model::{index, members};
    // Ana's laptop and phone; the phone writes a bundle (it carries the notebook's
    // secret), which a thief keeps with the phone.
    let laptop = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    laptop.ok(&["devices", "name", "Ana's laptop"]);
    let phone = Device::joined_by_bundle(&laptop, "Ana", "Ana's phone", "manager");
    duet_tests::send(&phone, &laptop);
    let stolen = phone.file("stolen.duet");
    phone.ok(&["bundle", "out", duet_tests::path(&stolen)]);

    // Still a member, the phone lists a device of its own making as Bo's, by hand (as any
    // Automerge tool could), with a record the ghost signed itself.
    let ghost = DeviceKey::generate();
    let ghost_id = ghost.public_hex();
    let notebook = laptop.json(&["notebook", "show"])["id"]
        .as_str()
        .expect("notebook id")
        .to_owned();
    edit_index_by_hand(&phone, |doc| {
        let bo = index::people(doc)
            .expect("people")
            .into_iter()
            .find(|p| p.name == "Bo")
            .expect("Bo");
        index::add_device(doc, &ghost_id, &bo.id).expect("list the ghost");
        let mut record = members::DeviceRecord {
            name: "Bo's tablet".into(),
            added: "2026-12-08".into(),
            seal: duet_core::sealing::SealKey::of_device(&ghost).public_hex(),
            ..Default::default()
        };
        record.sig = data_encoding::HEXLOWER
            .encode(&ghost.sign(&members::record_bytes(&notebook, &ghost_id, &record)));
        members::put_device_record(doc, &ghost_id, &record).expect("its record");
    });
    duet_tests::send(&phone, &laptop);
    let listed = laptop.ok(&["devices"]);
    assert!(!listed.contains("Bo's tablet"), "{listed}");

    // The phone is lost: the laptop removes it and writes on.
    let phone_id = id_of(&laptop, "Ana's phone");
    laptop.ok(&["devices", "remove", &phone_id[..8]]);
    laptop.ok(&["note", "canary-after-the-stolen-bundle"]);

    // The thief joins a new device with the stolen bundle, and the laptop's owner, careless,
    // takes in a bundle from it.
    let thief = Device::new("Ana");
    thief.ok(&[
        "bundle",
        "in",
        duet_tests::path(&stolen),
        "--join",
        "--as",
        "manager",
    ]);
    let thief_id = thief
        .json(&["devices"])
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["this_device"] == true)
        .and_then(|d| d["id"].as_str().map(str::to_owned))
        .expect("the thief's device id");
    duet_tests::send(&thief, &laptop);

    // Neither the ghost nor the thief's device is listed, and no key of the laptop's is
    // sealed to either: the removal cancelled the invite the thief joined with.
    let list = laptop.json(&["devices"]);
    for id in [&ghost_id, &thief_id] {
        assert!(
            !list
                .as_array()
                .into_iter()
                .flatten()
                .any(|d| d["id"] == id.as_str()),
            "{list}"
        );
    }
    laptop.ok(&["note", "canary-after-the-thief-s-bundle"]);
    let epochs = members::epochs(&exported_index(&laptop)).expect("epochs");
    assert!(!epochs.is_empty(), "the removal made an epoch");
    for epoch in &epochs {
        for id in [&ghost_id, &thief_id, &phone_id] {
            assert!(
                !epoch.keys.contains_key(id.as_str()),
                "epoch {} is sealed to {id}",
                epoch.id
            );
        }
    }
    let status = laptop.json(&["status"]);
    let refused = status["notebooks"][0]["membership_refused"].to_string();
    assert!(
        refused.contains("invite was cancelled by removal"),
        "{status}"
    );

    // A new phone of Ana's joins after the removal with a bundle the laptop writes now (the
    // new epoch's standing invite), is listed, and reads what was written.
    let new_phone = Device::joined_by_bundle(&laptop, "Ana", "Ana's new phone", "manager");
    duet_tests::send(&new_phone, &laptop);
    let listed = laptop.ok(&["devices"]);
    assert!(listed.contains("Ana's new phone"), "{listed}");
    assert!(new_phone
        .ok(&["show"])
        .contains("canary-after-the-thief-s-bundle"));
}

/// `device`'s notebook exported as Automerge files (a folder `duet import` takes back),
/// and its index as any Automerge tool reads it.
fn exported(device: &Device) -> (std::path::PathBuf, automerge::AutoCommit) {
    let export = device.file("export");
    let _ = std::fs::remove_dir_all(&export);
    device.ok(&[
        "export",
        "--format",
        "automerge",
        "--output",
        duet_tests::path(&export),
    ]);
    let index =
        automerge::AutoCommit::load(&std::fs::read(export.join("index.automerge")).expect("read"))
            .expect("load");
    (export, index)
}

/// `device`'s copy of the notebook's index.
fn exported_index(device: &Device) -> automerge::AutoCommit {
    exported(device).1
}

/// The signed operations of `device`'s membership log, as its exported index holds them.
fn log_ops(device: &Device) -> Vec<duet_core::membership::SignedOp> {
    let stored = duet_core::model::mlog::stored_ops(&exported_index(device)).expect("log");
    assert_eq!(stored.unreadable, 0);
    let mut ops: Vec<_> = stored
        .ops
        .iter()
        .map(|b| duet_core::membership::SignedOp::from_bytes(b).expect("signed"))
        .collect();
    ops.sort_by_key(|o| o.id());
    ops
}

/// A notebook made before membership logs (a home and a bundle of its other device, both
/// written by an older Duet), on two devices that move it to a log each on its own, offline.
#[test]
fn a_notebook_made_before_the_log_moves_to_one_and_two_devices_migrating_at_once_agree() {
    use duet_core::membership::Body;
    let ana = Device::from_fixture("home-old-carry-layout");
    let old_bundle = duet_tests::fixture("bo-old-carry-layout.bundle");
    ana.ok(&["bundle", "in", duet_tests::path(&old_bundle)]);
    // Bo's new laptop joins from his old device's bundle: a notebook with no log yet.
    let bo = Device::new("Bo");
    bo.ok(&["devices", "name", "Bo's new laptop"]);
    bo.ok(&[
        "bundle",
        "in",
        duet_tests::path(&old_bundle),
        "--join",
        "--as",
        "report",
    ]);
    assert!(log_ops(&ana).is_empty() && log_ops(&bo).is_empty());

    // Each writes a bundle for the other before either has read the other's: each moves
    // the notebook to a log on its own.
    let (to_bo, to_ana) = (ana.file("to-bo.duet"), bo.file("to-ana.duet"));
    ana.ok(&["bundle", "out", duet_tests::path(&to_bo)]);
    bo.ok(&["bundle", "out", duet_tests::path(&to_ana)]);
    assert_eq!(
        log_ops(&ana)
            .iter()
            .filter(|o| matches!(o.op.body, Body::Claim { .. }))
            .count(),
        1
    );
    ana.ok(&["bundle", "in", duet_tests::path(&to_ana)]);
    bo.ok(&["bundle", "in", duet_tests::path(&to_bo)]);

    // One log, one membership, nothing refused, on both.
    let (on_ana, on_bo) = (log_ops(&ana), log_ops(&bo));
    assert_eq!(on_ana, on_bo);
    let claims = on_ana
        .iter()
        .filter(|o| matches!(o.op.body, Body::Claim { .. }))
        .count();
    assert_eq!(claims, 2, "each device claimed its place: {on_ana:?}");
    let ids = |d: &Device| -> Vec<(String, String, bool)> {
        let mut all: Vec<_> = d
            .json(&["devices"])
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| {
                (
                    v["id"].as_str().unwrap_or_default().to_owned(),
                    v["person"].as_str().unwrap_or_default().to_owned(),
                    v["removed"] == true,
                )
            })
            .collect();
        all.sort();
        all
    };
    assert_eq!(ids(&ana), ids(&bo));
    assert_eq!(ids(&ana).len(), 3, "Ana, Bo's old device, Bo's new laptop");
    for d in [&ana, &bo] {
        let status = d.json(&["status"]);
        assert_eq!(
            status["notebooks"][0]["membership_refused"],
            serde_json::json!([]),
            "{status}"
        );
    }

    // The person rule holds from here: Ana may not remove Bo's old device; Bo does.
    let old_bo = ids(&ana)
        .into_iter()
        .find(|(id, person, _)| person == "Bo" && *id != id_of(&bo, "Bo's new laptop"))
        .map(|(id, _, _)| id)
        .expect("Bo's old device");
    assert_eq!(
        ana.run(&["devices", "remove", &old_bo[..8]]).status.code(),
        Some(2)
    );
    bo.ok(&["devices", "remove", &old_bo[..8]]);
    duet_tests::send(&bo, &ana);
    assert!(ids(&ana).contains(&(old_bo, "Bo".to_owned(), true)));
}

#[test]
fn forged_membership_operations_are_refused_and_reported_and_change_nothing() {
    use duet_core::crypto::DeviceKey;
    use duet_core::membership::{Body, Op, OpId};
    use duet_core::model::mlog;
    let (ana, bo) = duet_tests::pair();
    duet_tests::send(&bo, &ana);
    let before: Vec<serde_json::Value> = ana
        .json(&["devices"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(before.len(), 2);
    // The manager's device is listed first.
    let ana_id = before[0]["id"].as_str().expect("Ana's id").to_owned();
    let bo_id = before[1]["id"].as_str().expect("Bo's id").to_owned();
    let notebook = ana.json(&["notebook", "show"])["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // Written into Bo's copy by hand, as any Automerge tool (or a hostile build) could:
    // a stranger's removal of Ana's laptop, signed by the stranger; an operation that names
    // Bo as its author but is signed by another key; and Bo's removal of Ana's laptop,
    // signed by a key standing in for Bo's (so refused as a stranger's too).
    let stranger = DeviceKey::generate();
    edit_index_by_hand(&bo, |doc| {
        let heads: Vec<OpId> = mlog::stored_ops(doc)
            .expect("log")
            .ops
            .iter()
            .filter_map(|b| duet_core::membership::SignedOp::from_bytes(b).ok())
            .map(|o| o.id())
            .collect();
        let removal = Op {
            space: notebook.clone(),
            parents: heads.clone(),
            author: stranger.public_hex(),
            body: Body::remove(&ana_id),
        }
        .sign(&stranger);
        mlog::put_op(doc, &removal).expect("put");
        let mut posing = Op {
            space: notebook.clone(),
            parents: heads,
            author: stranger.public_hex(),
            body: Body::remove(&ana_id),
        }
        .sign(&stranger);
        posing.op.author = bo_id.clone();
        mlog::put_op(doc, &posing).expect("put");
    });
    duet_tests::send(&bo, &ana);

    // Nothing changed: Ana's laptop is in, on both; both operations are named.
    for device in [&ana, &bo] {
        let list = device.json(&["devices"]);
        assert!(
            list.as_array()
                .into_iter()
                .flatten()
                .all(|d| d["removed"] == false),
            "{list}"
        );
        let status = device.json(&["status"]);
        let refused = status["notebooks"][0]["membership_refused"].to_string();
        assert!(
            refused.contains("its author was not a member of the space"),
            "{status}"
        );
        assert!(
            refused.contains("not operations signed by their author"),
            "{status}"
        );
    }
    // Ana still writes, and Bo still reads what she writes.
    ana.ok(&["note", "after-the-forgeries"]);
    duet_tests::send(&ana, &bo);
    assert!(bo.ok(&["show"]).contains("after-the-forgeries"));
}

#[test]
fn a_device_of_the_other_person_invited_after_a_removal_joins_once_its_person_has_synced() {
    let (ana, bo) = duet_tests::pair();
    let phone = Device::joined_by_bundle(&ana, "Ana", "Ana's phone", "manager");
    duet_tests::send(&phone, &ana);
    duet_tests::send(&bo, &ana);
    ana.ok(&["devices", "remove", &id_of(&ana, "Ana's phone")]);

    // Ana's laptop lets Bo's new tablet in before Bo's laptop has heard of the removal:
    // the new key's invite for Bo's devices is Bo's to make, so the tablet waits.
    let tablet = Device::joined_by_bundle(&ana, "Bo", "Bo's tablet", "report");
    duet_tests::send(&tablet, &ana);
    assert!(!ana.ok(&["devices"]).contains("Bo's tablet"));
    let waiting = tablet.json(&["status"])["notebooks"][0]["membership_refused"].to_string();
    assert!(
        waiting.contains("this device is not in the membership log yet"),
        "{waiting}"
    );
    // Bo's laptop hears of the removal and makes it; the tablet joins with it.
    duet_tests::send(&ana, &bo);
    duet_tests::send(&bo, &tablet);
    duet_tests::send(&tablet, &ana);
    let listed = ana.ok(&["devices"]);
    assert!(listed.contains("Bo's tablet"), "{listed}");
    ana.ok(&["note", "after-the-tablet-joined"]);
    duet_tests::send(&ana, &tablet);
    assert!(tablet.ok(&["show"]).contains("after-the-tablet-joined"));
    // It joined once: no join it made while waiting was cancelled; it says so no more.
    for device in [&ana, &tablet] {
        let status = device.json(&["status"]);
        assert_eq!(
            status["notebooks"][0]["membership_refused"],
            serde_json::json!([]),
            "{status}"
        );
    }
}
