//! The current meeting is cached between processes; every change to the meeting list, local
//! or merged from another device, must move edits to the right meeting.

use duet_tests::{path, Device};

fn meeting_of_note(d: &Device, text: &str) -> String {
    let out = d.json(&["note", text]);
    out["meeting"].as_str().expect("meeting id").to_owned()
}

fn date_of(d: &Device, id: &str) -> String {
    d.json(&["meeting", "show", id])["date"]
        .as_str()
        .expect("date")
        .to_owned()
}

#[test]
fn edits_follow_the_current_meeting_across_processes_and_merges() {
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
    // 1. The first note computes and caches the current meeting.
    let first = meeting_of_note(&ana, "a");
    assert_eq!(date_of(&ana, &first), "2030-01-07");
    // 2. An earlier meeting is booked by another process: the cache must not be trusted.
    ana.ok(&["meeting", "new", "--on", "2030-01-01"]);
    let second = meeting_of_note(&ana, "b");
    assert_eq!(date_of(&ana, &second), "2030-01-01");

    // 3. Bo joins and caches the same current meeting; Ana cancels it; Bo merges that.
    let bo = Device::new("Bo");
    let join = ana.file("join.duet");
    ana.ok(&["bundle", "out", path(&join)]);
    bo.ok(&["bundle", "in", path(&join), "--join", "--as", "report"]);
    assert_eq!(meeting_of_note(&bo, "c"), second);
    ana.ok(&["meeting", "cancel", &second]);
    let update = ana.file("update.duet");
    ana.ok(&["bundle", "out", path(&update)]);
    bo.ok(&["bundle", "in", path(&update)]);
    assert_eq!(meeting_of_note(&bo, "d"), first);
}
