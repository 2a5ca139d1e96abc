//! Two devices that edit the same notebook offline converge by exchanging bundle files,
//! and bad files change nothing.

use duet_tests::{copy_dir, pair, path, send, Device};
use serde_json::Value;

/// The whole export, who this device is included (unlike `duet_tests::export_json`, which
/// leaves that out to compare two devices).
fn export_with_me(d: &Device) -> Value {
    d.json(&["export", "--format", "json"])
}

#[test]
fn homes_that_edited_offline_converge_after_bundles_both_ways() {
    let (ana, bo) = pair();
    // 1. Both edit the same meeting with no connection.
    ana.ok(&["agenda", "add", "ana-agenda-marker"]);
    ana.ok(&["note", "ana-checkin-marker", "--section", "checkin"]);
    ana.ok(&[
        "commit",
        "add",
        "ana-commit-marker",
        "--owner",
        "them",
        "--due",
        "2030-01-02",
    ]);
    bo.ok(&["agenda", "add", "bo-agenda-marker"]);
    bo.ok(&["note", "bo-checkin-marker", "--section", "checkin"]);
    bo.ok(&["note", "bo-win-marker", "--section", "wins"]);
    // 2. Exchange bundles both ways.
    send(&bo, &ana);
    send(&ana, &bo);
    // 3. Same views, every edit present.
    let (a, b) = (export_with_me(&ana), export_with_me(&bo));
    assert_eq!(a["meetings"], b["meetings"]);
    let text = a.to_string();
    for marker in [
        "ana-agenda-marker",
        "ana-checkin-marker",
        "ana-commit-marker",
        "bo-agenda-marker",
        "bo-checkin-marker",
        "bo-win-marker",
    ] {
        assert!(text.contains(marker), "{marker} lost: {text}");
    }
    let show = bo.json(&["show"]);
    let owner = show["open_commitments"][0]["owner"]
        .as_str()
        .expect("owner");
    assert_eq!(
        show["notebook"]["me"].as_str(),
        Some(owner),
        "'them' on Ana's side is Bo"
    );
}

#[test]
fn concurrent_reschedules_keep_one_winner_and_show_the_conflict() {
    let (ana, bo) = pair();
    ana.ok(&["meeting", "reschedule", "--to", "2031-03-04"]);
    bo.ok(&["meeting", "reschedule", "--to", "2031-03-05"]);
    send(&bo, &ana);
    send(&ana, &bo);
    let (a, b) = (
        ana.json(&["meeting", "show"]),
        bo.json(&["meeting", "show"]),
    );
    assert_eq!(a["date"], b["date"], "both devices pick the same winner");
    let conflict = &a["conflicts"][0];
    assert_eq!(conflict["field"], "date");
    let values: Vec<&str> = conflict["values"]
        .as_array()
        .expect("values")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(values.len(), 2);
    assert!(values.contains(&"2031-03-04") && values.contains(&"2031-03-05"));
    let shown = ana.ok(&["show"]);
    assert!(shown.contains("conflict: date set to"), "{shown}");
}

#[test]
fn an_edit_to_an_item_moved_concurrently_is_not_lost() {
    let (ana, bo) = pair();
    let item = ana.json(&["agenda", "add", "Original wording"]);
    let id = item["id"].as_str().expect("id").to_owned();
    send(&ana, &bo);
    // Ana wraps: the undiscussed item moves to the next meeting. Bo rewords it meanwhile.
    let wrap = ana.json(&["wrap", "--takeaway", "t"]);
    assert_eq!(wrap["carried"][0].as_str(), Some(id.as_str()));
    bo.ok(&["agenda", "edit", &id, "Bo's better wording"]);
    send(&bo, &ana);
    send(&ana, &bo);
    for device in [&ana, &bo] {
        let agenda = device.json(&["agenda", "list"]);
        let items = agenda["agenda"].as_array().expect("items");
        let moved = items
            .iter()
            .find(|i| i["id"] == id.as_str())
            .expect("carried item");
        assert_eq!(
            moved["also"][0].as_str(),
            Some("Bo's better wording"),
            "{agenda}"
        );
        assert_eq!(items.len(), 1, "one item, not two: {agenda}");
    }
    assert_eq!(ana.json(&["agenda", "list"]), bo.json(&["agenda", "list"]));
}

#[test]
fn garbage_and_foreign_bundles_are_refused_and_change_nothing() {
    let (ana, _bo) = pair();
    ana.ok(&["note", "before", "--section", "notes"]);
    let before = export_with_me(&ana);

    let garbage = ana.file("garbage.duet");
    std::fs::write(&garbage, b"this is not a bundle at all").expect("write");
    let out = ana.run(&["bundle", "in", path(&garbage)]);
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Duet bundle"));

    let good = ana.file("good.duet");
    ana.ok(&["bundle", "out", path(&good)]);
    let mut bytes = std::fs::read(&good).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&good, &bytes).expect("write");
    let out = ana.run(&["bundle", "in", path(&good)]);
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("damaged"));

    let carol = Device::new("Carol");
    carol.ok(&[
        "notebook",
        "new",
        "Carol / Dan",
        "--me",
        "report",
        "--with",
        "Dan",
    ]);
    let foreign = carol.file("foreign.duet");
    carol.ok(&["bundle", "out", path(&foreign)]);
    let out = ana.run(&["bundle", "in", path(&foreign)]);
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Carol / Dan"));

    assert_eq!(export_with_me(&ana), before);
    assert_eq!(
        ana.json(&["notebook", "list"]).as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn wrap_carries_over_and_books_the_next_meeting_from_the_cadence() {
    let ana = Device::new("Ana");
    ana.ok(&[
        "notebook", "new", "Ana / Bo", "--me", "manager", "--with", "Bo", "--every", "2w",
    ]);
    let done = ana.json(&["agenda", "add", "discussed item"]);
    ana.json(&["agenda", "add", "left for later"]);
    ana.ok(&["agenda", "done", done["id"].as_str().expect("id")]);
    let wrap = ana.json(&[
        "wrap",
        "--takeaway",
        "clear",
        "--next",
        "plan",
        "--need",
        "time",
    ]);
    use jiff::ToSpan;
    let today = duet_core::dates::today();
    let in_two_weeks = today.checked_add(14.days()).expect("date").to_string();
    assert_eq!(wrap["held"]["status"], "held");
    assert_eq!(wrap["held"]["date"], today.to_string().as_str());
    assert_eq!(wrap["next"]["date"], in_two_weeks.as_str());
    assert_eq!(wrap["next_created"], true);
    let show = ana.json(&["show"]);
    assert_eq!(show["meeting"]["date"], in_two_weeks.as_str());
    let agenda = show["meeting"]["agenda"].as_array().expect("agenda");
    assert_eq!(agenda.len(), 1);
    assert_eq!(agenda[0]["text"], "left for later");
    let held = ana.json(&["meeting", "show", &today.to_string()]);
    assert_eq!(duet_tests::section_text(&held, "takeaway"), "clear");
}

#[test]
fn automerge_export_loads_elsewhere_and_foreign_edits_merge_back() {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ReadDoc, ROOT};

    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    ana.ok(&["agenda", "add", "from duet"]);
    let dir = ana.file("export");
    let manifest = ana.json(&["export", "--format", "automerge", "--output", path(&dir)]);
    let meeting = manifest["documents"]
        .as_array()
        .expect("docs")
        .iter()
        .find(|d| d["kind"] == "meeting")
        .expect("meeting doc");
    let file = dir.join(meeting["file"].as_str().expect("file"));

    // Another tool loads the plain .automerge file and adds an agenda item in Duet's schema.
    let mut doc =
        AutoCommit::load(&std::fs::read(&file).expect("read")).expect("standard automerge file");
    let (_, agenda) = doc.get(ROOT, "agenda").expect("get").expect("agenda map");
    let item = doc
        .put_object(&agenda, "fromtool", ObjType::Map)
        .expect("put");
    let text = doc.put_object(&item, "text", ObjType::Text).expect("text");
    doc.splice_text(&text, 0, 0, "added by another tool")
        .expect("splice");
    doc.put(&item, "author", "someone").expect("put");
    doc.put(&item, "position", 1e15).expect("put");
    std::fs::write(&file, doc.save()).expect("write");

    let report = ana.json(&["import", path(&dir)]);
    assert_eq!(report["documents"], 1);
    let agenda = ana.json(&["agenda", "list"]);
    assert_eq!(
        duet_tests::agenda_texts(&agenda),
        vec!["from duet", "added by another tool"]
    );
}

#[test]
fn a_device_restored_from_an_old_backup_rejoins_without_a_manual_step() {
    let (ana, bo) = pair();
    bo.ok(&["note", "before-backup"]);
    send(&bo, &ana);
    // 1. Bo backs up his home, then keeps working and syncing.
    let backup = tempfile::tempdir().expect("tempdir");
    copy_dir(bo.home.path(), backup.path());
    bo.ok(&["note", "after-backup"]);
    send(&bo, &ana);
    // 2. His laptop dies; he restores the old backup and writes more before syncing.
    std::fs::remove_dir_all(bo.home.path()).expect("remove");
    copy_dir(backup.path(), bo.home.path());
    bo.ok(&["note", "after-restore"]);
    // 3. One exchange each way and both are whole again.
    send(&bo, &ana);
    send(&ana, &bo);
    let (a, b) = (
        ana.json(&["meeting", "show"]),
        bo.json(&["meeting", "show"]),
    );
    assert_eq!(a, b);
    for marker in ["before-backup", "after-backup", "after-restore"] {
        assert!(a.to_string().contains(marker), "{marker} missing");
    }
}

/// The agenda items of the current meeting, from `agenda list --json`.
fn current_agenda(d: &Device) -> Vec<Value> {
    d.json(&["agenda", "list"])["agenda"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Whether an exported Automerge document holds `text` in any of its values (read through
/// Automerge: a large document's columns are compressed, so raw bytes would not show it).
fn document_holds(file: &std::path::Path, text: &str) -> bool {
    let bytes = std::fs::read(file).expect("exported document");
    let doc = automerge::AutoCommit::load(&bytes).expect("an Automerge document");
    serde_json::to_string(&automerge::AutoSerde::from(&doc))
        .expect("as JSON")
        .contains(text)
}

#[test]
fn an_item_never_ticked_is_carried_in_place_counted_and_pointed_out() {
    let ana = Device::new("Ana");
    ana.ok(&[
        "notebook",
        "new",
        "Ana / Bo",
        "--me",
        "manager",
        "--with",
        "Bo",
        "--first",
        "2030-01-07",
    ]);
    let id = ana.json(&["agenda", "add", "the-never-ticked-item"])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let export = |d: &Device| {
        let dir = d.file(&format!("export-{}", duet_core::ids::new_id()));
        d.ok(&["export", "--format", "automerge", "--output", path(&dir)]);
        dir
    };
    let first = export(&ana);
    for _ in 0..6 {
        let wrap = ana.json(&["wrap"]);
        assert_eq!(wrap["carried"][0].as_str(), Some(id.as_str()), "{wrap}");
    }
    let agenda = current_agenda(&ana);
    assert_eq!(agenda.len(), 1, "{agenda:?}");
    assert_eq!(agenda[0]["carried"], 6);
    let shown = ana.ok(&["show"]);
    assert!(
        shown.contains("carried 6 times:") && shown.contains("duet agenda drop"),
        "{shown}"
    );
    // Stored once: ending six more meetings left the meetings it passed through without it.
    // (Copying it at each end, as before, put it in all seven meetings' documents.)
    let later = export(&ana);
    let holding = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .expect("export")
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "automerge"))
            .filter(|e| document_holds(&e.path(), "the-never-ticked-item"))
            .count()
    };
    assert_eq!(holding(&first), 1, "the first meeting's document holds it");
    assert_eq!(holding(&later), 2, "that one, and the index carrying it");
    // Kept for later, it leaves the agenda; dropped, it leaves everything.
    ana.ok(&["agenda", "move", &id, "--to", "backlog"]);
    assert!(current_agenda(&ana).is_empty());
    let backlog = ana.json(&["agenda", "list"])["backlog"].clone();
    assert_eq!(backlog[0]["id"].as_str(), Some(id.as_str()), "{backlog}");
    ana.ok(&["agenda", "drop", &id]);
    let after = ana.json(&["agenda", "list"]);
    assert_eq!(
        after["backlog"].as_array().map(Vec::len),
        Some(0),
        "{after}"
    );
}

#[test]
fn an_item_moved_back_to_a_place_it_left_is_still_there() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    let id = ana.json(&["agenda", "add", "round-trip-item"])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let meeting = ana.json(&["meeting", "show"])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for _ in 0..2 {
        ana.ok(&["agenda", "move", &id, "--to", "backlog"]);
        assert!(current_agenda(&ana).is_empty());
        ana.ok(&["agenda", "move", &id, "--to", &meeting]);
        let agenda = current_agenda(&ana);
        assert_eq!(agenda.len(), 1, "{agenda:?}");
        assert_eq!(agenda[0]["text"], "round-trip-item");
    }
}

#[test]
fn a_carried_item_ticked_lands_in_the_meeting_it_was_discussed_in() {
    let (ana, bo) = pair();
    let id = ana.json(&["agenda", "add", "discuss-me-later"])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    ana.json(&["wrap"]);
    let second = ana.json(&["meeting", "show"])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    send(&ana, &bo);
    // Bo ticks it in the second meeting while Ana is offline; then Bo ends it.
    bo.ok(&["agenda", "done", &id]);
    bo.json(&["wrap"]);
    send(&bo, &ana);
    for device in [&ana, &bo] {
        let held = device.json(&["meeting", "show", &second]);
        let items = held["agenda"].as_array().expect("agenda");
        assert_eq!(items.len(), 1, "{held}");
        assert_eq!(items[0]["discussed"], true);
        assert!(
            current_agenda(device).is_empty(),
            "not carried once discussed"
        );
    }
}

#[test]
fn two_devices_carrying_the_same_item_offline_give_one_item() {
    let (ana, bo) = pair();
    let id = ana.json(&["agenda", "add", "carried-by-both"])["id"]
        .as_str()
        .expect("id")
        .to_owned();
    send(&ana, &bo);
    ana.json(&["wrap"]);
    bo.json(&["wrap"]);
    send(&ana, &bo);
    send(&bo, &ana);
    for device in [&ana, &bo] {
        let matching: Vec<Value> = current_agenda(device)
            .into_iter()
            .filter(|i| i["id"] == id.as_str())
            .collect();
        assert_eq!(matching.len(), 1, "{matching:?}");
        assert_eq!(matching[0]["also"].as_array().map(Vec::len), Some(0));
    }
    assert_eq!(ana.json(&["agenda", "list"]), bo.json(&["agenda", "list"]));
}

/// A home written before items were carried in place (built from the commit before it and
/// committed as `tests/fixtures/home-old-carry-layout.tar.gz`: a meeting held with one item
/// ticked and one carried by copying it into the next meeting), and a bundle from the other
/// device of that notebook, also written before, in which Bo reworded the carried copy.
#[test]
fn a_notebook_in_the_old_carry_layout_opens_and_merges_with_a_device_still_holding_it() {
    let ana = Device::from_fixture("home-old-carry-layout");
    // 1. It shows the same meeting: the carried copy, as the old code showed it.
    let agenda = current_agenda(&ana);
    assert_eq!(agenda.len(), 1, "{agenda:?}");
    assert_eq!(agenda[0]["text"], "fixture-carried-item");
    let id = agenda[0]["id"].as_str().expect("id").to_owned();
    // 2. Ending it under this code carries the item in place.
    let wrap = ana.json(&["wrap"]);
    assert_eq!(wrap["carried"][0].as_str(), Some(id.as_str()), "{wrap}");
    // 3. Bo's bundle, old layout: his rewording of the copy is kept beside it.
    ana.ok(&[
        "bundle",
        "in",
        path(&duet_tests::fixture("bo-old-carry-layout.bundle")),
    ]);
    let agenda = current_agenda(&ana);
    let matching: Vec<&Value> = agenda.iter().filter(|i| i["id"] == id.as_str()).collect();
    assert_eq!(matching.len(), 1, "one item, not two: {agenda:?}");
    assert_eq!(
        matching[0]["also"][0].as_str(),
        Some("fixture-carried-item, reworded by Bo"),
        "{agenda:?}"
    );
    // 4. A device joining now (this code) sees the same, and ticking it works.
    let now_bundle = ana.file("now.duet");
    ana.ok(&["bundle", "out", path(&now_bundle)]);
    let bo_now = Device::new("Bo");
    bo_now.ok(&[
        "bundle",
        "in",
        path(&now_bundle),
        "--join",
        "--as",
        "report",
    ]);
    assert_eq!(
        ana.json(&["agenda", "list"])["agenda"],
        bo_now.json(&["agenda", "list"])["agenda"]
    );
    ana.ok(&["agenda", "done", &id]);
    assert_eq!(current_agenda(&ana)[0]["discussed"], true);
}
