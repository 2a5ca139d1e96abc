//! Private notes stay with their writer: they sync among one person's linked devices (through
//! a real relay process and over QUIC directly), while the other person's device and the
//! relay's disk never hold them in plaintext.

use duet_tests::{assert_no_plaintext, holds_text, invite, laptop_on, Device, Relay, Serving};

fn private_texts(device: &Device) -> Vec<String> {
    device
        .json(&["private"])
        .as_array()
        .map(|notes| {
            notes
                .iter()
                .filter_map(|n| n["text"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn link_ticket(device: &Device, addr: &str) -> String {
    device.json(&["link", "--addr", addr])["ticket"]
        .as_str()
        .unwrap_or_else(|| panic!("no link ticket"))
        .to_owned()
}

#[test]
fn private_notes_reach_only_their_writers_devices_through_the_relay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let laptop = laptop_on(&relay);
    laptop.ok(&["private", "laptop-private-canary"]);
    laptop.ok(&["note", "shared-note-marker", "--section", "checkin"]);
    laptop.ok(&["sync"]);
    // Nobody serves at this address: everything goes through the relay.
    let ticket = invite(&laptop, "127.0.0.1:9");
    let link = link_ticket(&laptop, "127.0.0.1:9");

    // Ana's phone joins the notebook; a note written before linking is kept.
    let phone = Device::new("Ana");
    assert_eq!(
        phone.json(&["join", &ticket, "--as", "manager"])["synced"],
        true
    );
    phone.ok(&["private", "phone-before-link-canary"]);
    let linked = phone.json(&["link", &link, "--yes"]);
    assert_eq!(linked["synced"], true, "{linked}");
    phone.ok(&["private", "phone-private-canary"]);
    phone.ok(&["sync"]);
    laptop.ok(&["sync"]);

    // Bo, the other person, syncs the same notebook through the same relay.
    let bo = Device::new("Bo");
    assert_eq!(
        bo.json(&["join", &invite(&laptop, "127.0.0.1:9"), "--as", "report"])["synced"],
        true
    );
    bo.ok(&["agenda", "add", "bo-item"]);
    for d in [&bo, &laptop, &phone, &bo] {
        d.ok(&["sync"]);
    }

    let canaries = [
        "laptop-private-canary",
        "phone-before-link-canary",
        "phone-private-canary",
    ];
    for device in [&laptop, &phone] {
        let notes = private_texts(device);
        for c in canaries {
            assert!(notes.iter().any(|n| n == c), "{c} missing: {notes:?}");
        }
        let hits = device.json(&["search", "private-canary"]);
        assert_eq!(hits.as_array().map(Vec::len), Some(2), "{hits}");
    }
    // The shared notebook converged, so Bo did sync everything he may have.
    assert_eq!(
        duet_tests::export_json(&bo),
        duet_tests::export_json(&laptop)
    );
    assert!(duet_tests::export_json(&bo)
        .to_string()
        .contains("shared-note-marker"));
    assert!(private_texts(&bo).is_empty());
    assert_eq!(
        bo.json(&["search", "canary"]).as_array().map(Vec::len),
        Some(0)
    );
    let export = duet_tests::export_json(&laptop).to_string();
    assert!(
        !export.contains("canary"),
        "a private note leaked into the notebook: {export}"
    );

    // The writer's store holds the text as written (so the search below can find it)...
    assert!(holds_text(laptop.home.path(), "laptop-private-canary"));
    // ...and neither the other person's store nor the relay's disk holds any of it.
    assert!(relay.stop(), "the relay did not stop cleanly");
    assert_no_plaintext(bo.home.path(), &canaries);
    assert_no_plaintext(&dir.path().join("relay"), &canaries);
    assert_no_plaintext(&dir.path().join("relay.log"), &canaries);
}

#[test]
fn linked_devices_sync_private_notes_directly_and_the_other_person_gets_none() {
    let laptop = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    laptop.ok(&["private", "direct-private-canary"]);
    let serving = Serving::start(&laptop, "127.0.0.1:0");
    let addr = serving.addr_arg();
    let ticket = invite(&laptop, &addr);
    let link = link_ticket(&laptop, &addr);

    let bo = Device::new("Bo");
    assert_eq!(
        bo.json(&["join", &ticket, "--as", "report"])["synced"],
        true
    );
    let phone = Device::new("Ana");
    let linked = phone.json(&["link", &link, "--yes"]);
    assert_eq!(linked["synced"], true, "{linked}");
    assert_eq!(
        private_texts(&phone),
        vec!["direct-private-canary".to_owned()]
    );
    // The phone has only the private notes: it has not joined the notebook.
    assert!(phone
        .json(&["notebook", "list"])
        .as_array()
        .is_some_and(Vec::is_empty));

    assert_eq!(
        phone.json(&["join", &invite(&laptop, &addr), "--as", "manager"])["synced"],
        true
    );
    phone.ok(&["private", "from-phone-canary"]);
    bo.ok(&["sync", "--peer", &addr]);
    phone.ok(&["sync", "--peer", &addr]);
    bo.ok(&["sync", "--peer", &addr]);
    drop(serving);

    let on_laptop = {
        let mut all = Vec::new();
        let v = laptop.json(&["private"]);
        for n in v.as_array().into_iter().flatten() {
            all.push(n["text"].as_str().unwrap_or_default().to_owned());
        }
        all
    };
    assert!(
        on_laptop.contains(&"from-phone-canary".to_owned()),
        "{on_laptop:?}"
    );
    assert!(private_texts(&bo).is_empty());
    assert!(holds_text(laptop.home.path(), "direct-private-canary"));
    assert_no_plaintext(
        bo.home.path(),
        &["direct-private-canary", "from-phone-canary"],
    );
}

#[test]
fn tickets_pasted_in_the_wrong_place_get_clear_errors() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    let link = link_ticket(&ana, "127.0.0.1:9");
    let ticket = invite(&ana, "127.0.0.1:9");
    let other = Device::new("Bo");
    let out = other.run(&["join", &link, "--as", "report"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("personal link ticket"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = other.run(&["link", &ticket, "--no-sync"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("duet join"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The id of `device`'s own entry in `on`'s `duet devices` list.
fn device_id_of(on: &Device, device: &Device) -> String {
    let mine = device.json(&["devices"]);
    let id = mine
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["this_device"] == true)
        .and_then(|d| d["id"].as_str())
        .unwrap_or_else(|| panic!("no own entry in {mine}"))
        .to_owned();
    let listed = on.json(&["devices"]);
    assert!(
        listed
            .as_array()
            .into_iter()
            .flatten()
            .any(|d| d["id"] == id.as_str()),
        "{id} not listed in {listed}"
    );
    id
}

#[test]
fn a_removed_phone_reads_no_private_note_written_after_by_relay_or_directly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let laptop = laptop_on(&relay);
    laptop.ok(&["private", "before-removal-canary"]);
    laptop.ok(&["sync"]);
    // Ana's phone and tablet join the notebook and link their private notes, through the
    // relay (nobody serves at the ticket's address).
    let phone = Device::new("Ana");
    let tablet = Device::new("Ana");
    for device in [&phone, &tablet] {
        let ticket = invite(&laptop, "127.0.0.1:9");
        assert_eq!(
            device.json(&["join", &ticket, "--as", "manager"])["synced"],
            true
        );
        let linked = device.json(&["link", &link_ticket(&laptop, "127.0.0.1:9"), "--yes"]);
        assert_eq!(linked["synced"], true, "{linked}");
        device.ok(&["sync"]);
        laptop.ok(&["sync"]);
    }
    for device in [&phone, &tablet] {
        assert!(
            private_texts(device).contains(&"before-removal-canary".to_owned()),
            "{:?}",
            private_texts(device)
        );
    }

    // The phone is lost. The tablet is offline while the laptop removes it.
    let phone_id = device_id_of(&laptop, &phone);
    laptop.ok(&["devices", "remove", &phone_id]);
    laptop.ok(&["private", "after-removal-canary"]);
    laptop.ok(&["sync"]);

    // Through the relay: the phone gets nothing written after.
    let _ = phone.run(&["sync"]);
    assert!(
        !private_texts(&phone).contains(&"after-removal-canary".to_owned()),
        "the removed phone read a private note written after its removal"
    );
    // Directly: the serving laptop refuses it.
    let serving = Serving::start(&laptop, "127.0.0.1:0");
    let out = phone.run(&["sync", "--peer", &serving.addr_arg()]);
    assert!(!out.status.success(), "the removed phone synced directly");
    drop(serving);
    assert!(!private_texts(&phone).contains(&"after-removal-canary".to_owned()));
    assert_no_plaintext(phone.home.path(), &["after-removal-canary"]);

    // The tablet, offline during the removal, learns the new keys from the notice left in
    // the old mailbox, reads the note, and its own next note reaches the laptop.
    tablet.ok(&["sync"]);
    assert!(
        private_texts(&tablet).contains(&"after-removal-canary".to_owned()),
        "{:?}",
        private_texts(&tablet)
    );
    tablet.ok(&["private", "tablet-after-canary"]);
    tablet.ok(&["sync"]);
    laptop.ok(&["sync"]);
    assert!(private_texts(&laptop).contains(&"tablet-after-canary".to_owned()));
    let _ = phone.run(&["sync"]);
    assert!(!private_texts(&phone).contains(&"tablet-after-canary".to_owned()));
    assert!(relay.stop(), "the relay stops cleanly");
    assert_no_plaintext(
        phone.home.path(),
        &["after-removal-canary", "tablet-after-canary"],
    );
}

#[test]
fn a_device_linked_only_for_private_notes_is_listed_and_removed_from_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let laptop = laptop_on(&relay);
    laptop.ok(&["private", "before-canary"]);
    laptop.ok(&["sync"]);
    let phone = Device::new("Ana");
    let linked = phone.json(&["link", &link_ticket(&laptop, "127.0.0.1:9"), "--yes"]);
    assert_eq!(linked["synced"], true, "{linked}");
    phone.ok(&["sync"]);
    laptop.ok(&["sync"]);
    assert_eq!(private_texts(&phone), vec!["before-canary".to_owned()]);

    // The laptop lists the phone although it is in no notebook, and removes it.
    let listed = laptop.json(&["devices"]);
    let entry = listed
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["private_notes_only"] == true)
        .unwrap_or_else(|| panic!("the linked phone is not listed: {listed}"))
        .clone();
    assert_eq!(entry["removed"], false);
    let id = entry["id"].as_str().expect("an id");
    let text = laptop.ok(&["devices"]);
    assert!(text.contains("linked for private notes only"), "{text}");
    laptop.ok(&["devices", "remove", &id[..8]]);
    let listed = laptop.json(&["devices"]);
    assert!(
        !listed
            .as_array()
            .into_iter()
            .flatten()
            .any(|d| d["id"] == id),
        "{listed}"
    );
    laptop.ok(&["private", "after-canary"]);
    laptop.ok(&["sync"]);
    let _ = phone.run(&["sync"]);
    assert_eq!(private_texts(&phone), vec!["before-canary".to_owned()]);
    assert!(relay.stop(), "the relay stops cleanly");
    assert_no_plaintext(phone.home.path(), &["after-canary"]);
}
