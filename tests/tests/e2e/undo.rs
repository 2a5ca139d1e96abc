//! Undo and redo, with two devices and real homes: an undo is a new edit that syncs like
//! any other, never removes what the other person wrote, takes a wrap back whole (the
//! meeting on the books again, the carried items back, the booked meeting gone), redo
//! brings back exactly what undo took, and the undo list outlives the node that keeps it,
//! even a SIGKILL.

use duet_tests::{agenda_texts, pair, section_text, send, Device, Serving};
use serde_json::Value;

fn wins(d: &Device) -> String {
    section_text(&d.json(&["show"])["meeting"], "wins")
}

fn agenda(d: &Device) -> Vec<String> {
    agenda_of(d, &["agenda", "list"])
}

fn agenda_of(d: &Device, args: &[&str]) -> Vec<String> {
    agenda_texts(&d.json(args))
}

fn meeting(d: &Device) -> (String, String, String) {
    let show = d.json(&["show"]);
    let m = &show["meeting"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (s(&m["id"]), s(&m["date"]), s(&m["status"]))
}

#[test]
fn ana_undoes_her_note_after_bo_added_to_the_same_section_and_both_keep_bos_text() {
    let (ana, bo) = pair();
    ana.ok(&["note", "-s", "wins", "Shipped the importer"]);
    ana.ok(&["note", "-s", "wins", "Meant for challenges"]);
    send(&ana, &bo);
    bo.ok(&["note", "-s", "wins", "Bo's own win"]);
    send(&bo, &ana);

    let undone = ana.json(&["undo"]);
    assert_eq!(undone["what"], "note in Wins: “Meant for challenges”");
    let left: Vec<String> = serde_json::from_value(undone["left"].clone()).expect("left");
    assert_eq!(
        left,
        vec!["Wins was edited since: your edit is undone, the rest is kept".to_owned()]
    );
    let expected = "Shipped the importer\nBo's own win";
    assert_eq!(wins(&ana).trim_end(), expected);
    send(&ana, &bo);
    assert_eq!(
        wins(&bo).trim_end(),
        expected,
        "Bo converges on the same text"
    );

    // Redo brings Ana's line back on both devices; Bo's stays.
    ana.ok(&["redo"]);
    send(&ana, &bo);
    for d in [&ana, &bo] {
        let text = wins(d);
        assert!(text.contains("Meant for challenges"), "{text}");
        assert!(text.contains("Bo's own win"), "{text}");
        assert!(text.contains("Shipped the importer"), "{text}");
    }

    // Bo's edits are not on Ana's list: undo stops at her own first note.
    ana.ok(&["undo"]);
    ana.ok(&["undo"]);
    let none = ana.run(&["undo"]);
    assert_eq!(none.status.code(), Some(2), "{none:?}");
    assert!(String::from_utf8_lossy(&none.stderr).contains("nothing to undo"));
    assert_eq!(wins(&ana).trim_end(), "Bo's own win");
}

#[test]
fn undoing_a_wrap_puts_the_meeting_and_its_carried_items_back_on_both_devices() {
    let (ana, bo) = pair();
    ana.ok(&["agenda", "add", "Ticked in the meeting"]);
    ana.ok(&["agenda", "add", "Left for next time"]);
    let ticked = ana.json(&["agenda", "list"])["agenda"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ana.ok(&["agenda", "done", &ticked]);
    let before_wrap = meeting(&ana);
    let agenda_before = agenda(&ana);
    send(&ana, &bo);

    ana.ok(&["wrap", "--takeaway", "Scope is clear"]);
    let wrapped = meeting(&ana);
    let agenda_wrapped = agenda(&ana);
    assert_ne!(wrapped.0, before_wrap.0, "the next meeting is current");
    assert_eq!(agenda_wrapped, vec!["Left for next time".to_owned()]);
    let meetings_wrapped = ana.json(&["meeting", "list"]);

    let undone = ana.json(&["undo"]);
    assert_eq!(undone["what"], "meeting wrapped");
    assert_eq!(
        meeting(&ana),
        before_wrap,
        "the meeting is on the books again"
    );
    assert_eq!(agenda(&ana), agenda_before, "the carried item is back");
    let meetings = ana.json(&["meeting", "list"]);
    assert!(
        !meetings.to_string().contains(&wrapped.0),
        "the booked meeting is gone: {meetings}"
    );
    send(&ana, &bo);
    assert_eq!(meeting(&bo), before_wrap);
    assert_eq!(agenda(&bo), agenda_before);

    // Redo is the wrap again, exactly.
    ana.ok(&["redo"]);
    assert_eq!(meeting(&ana), wrapped);
    assert_eq!(agenda(&ana), agenda_wrapped);
    assert_eq!(ana.json(&["meeting", "list"]), meetings_wrapped);
    send(&ana, &bo);
    assert_eq!(meeting(&bo), wrapped);
    assert_eq!(agenda(&bo), agenda_wrapped);
}

#[test]
fn a_wrap_whose_booked_meeting_bo_added_to_since_keeps_that_meeting() {
    let (ana, bo) = pair();
    ana.ok(&["wrap"]);
    let booked = meeting(&ana);
    send(&ana, &bo);
    bo.ok(&["agenda", "add", "Bo's item for next time"]);
    send(&bo, &ana);
    let undone = ana.json(&["undo"]);
    let left = undone["left"].to_string();
    assert!(left.contains("had additions since: kept"), "{left}");
    let meetings = ana.json(&["meeting", "list"]).to_string();
    assert!(meetings.contains(&booked.0), "{meetings}");
    assert_eq!(
        agenda_of(&ana, &["agenda", "list", "--meeting", &booked.0]),
        vec!["Bo's item for next time".to_owned()]
    );
    // The wrapped meeting is on the books again, as if the booked one had been added by hand.
    assert_eq!(meeting(&ana).2, "scheduled");
}

#[test]
fn the_undo_list_survives_a_node_restart_and_a_sigkill() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    let node = Serving::start(&ana, "127.0.0.1:0");
    ana.ok(&["note", "-s", "wins", "First"]);
    ana.ok(&["agenda", "add", "Second"]);
    ana.ok(&["note", "-s", "checkin", "Third"]);
    ana.ok(&["undo"]);
    let list = ana.json(&["undo", "--list"]);
    assert_eq!(list["undo"].as_array().map(Vec::len), Some(2), "{list}");
    assert_eq!(list["redo"][0]["what"], "note in Check-in: “Third”");
    assert!(node.stop());

    let node = Serving::start(&ana, "127.0.0.1:0");
    assert_eq!(ana.json(&["undo", "--list"]), list, "after a restart");
    ana.ok(&["note", "-s", "notes", "Fourth"]);
    let before_crash = ana.json(&["undo", "--list"]);
    assert_eq!(
        before_crash["redo"],
        serde_json::json!([]),
        "a new edit ends redo"
    );
    node.kill();

    let node = Serving::start(&ana, "127.0.0.1:0");
    assert_eq!(ana.json(&["undo", "--list"]), before_crash, "after SIGKILL");
    ana.ok(&["undo"]);
    ana.ok(&["undo"]);
    assert_eq!(agenda(&ana), Vec::<String>::new());
    assert!(wins(&ana).contains("First"));
    assert!(node.stop());
    // Without a node, the same list.
    assert_eq!(
        ana.json(&["undo", "--list"])["undo"][0]["what"],
        "note in Wins: “First”"
    );
}

#[test]
fn a_private_note_is_on_the_notebooks_undo_list_and_leaves_the_shared_notebook_alone() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    ana.ok(&["note", "-s", "wins", "Shared line"]);
    ana.ok(&["private", "Wrote this in the wrong place"]);
    let list = ana.json(&["undo", "--list"]);
    assert_eq!(
        list["undo"][0]["what"],
        "private note: “Wrote this in the wrong place”"
    );
    ana.ok(&["undo"]);
    let private = ana.ok(&["private"]);
    assert!(
        !private.contains("Wrote this in the wrong place"),
        "{private}"
    );
    assert_eq!(wins(&ana), "Shared line", "the shared note stays");
    ana.ok(&["redo"]);
    assert!(ana
        .ok(&["private"])
        .contains("Wrote this in the wrong place"));
}

#[test]
fn a_question_asked_onto_the_agenda_is_one_edit_and_one_undo() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    let asked = ana.json(&["ask", "--add"]);
    let text = asked["question"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(agenda(&ana), vec![text.clone()]);
    let list = ana.json(&["undo", "--list"]);
    assert_eq!(list["undo"].as_array().map(Vec::len), Some(1), "{list}");
    ana.ok(&["undo"]);
    assert_eq!(agenda(&ana), Vec::<String>::new());
    let id = asked["question"]["id"].clone();
    let listed = ana.json(&["ask", "--list"]);
    let question = listed
        .as_array()
        .and_then(|all| all.iter().find(|q| q["id"] == id))
        .cloned()
        .unwrap_or_default();
    assert_eq!(question["asked_in"], serde_json::json!([]), "{question}");
    assert!(question["last_asked"].is_null(), "{question}");
}
