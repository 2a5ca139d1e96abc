//! A manager's week across notebooks, through the real `duet` binary and through a running
//! node: the 1-1s on the books with who has prepared, what keeps being carried, the
//! commitments owed each way, and the notebook with nothing on the books.

use duet_tests::{pair, send, Serving};
use jiff::civil::Date;
use jiff::Span;

fn day(offset: i64) -> String {
    let today: Date = jiff::Zoned::now().date();
    today
        .checked_add(Span::new().days(offset))
        .expect("a date")
        .to_string()
}

fn texts(list: &serde_json::Value, field: &str) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|v| v[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_week_across_three_notebooks_names_each_fact_and_a_node_gives_the_same() {
    let (ana, bo) = pair();
    // Ana / Bo: an item Ana keeps not getting to (carried 3 times), one overdue
    // commitment each way, and an item Bo put on the next agenda.
    ana.ok(&["agenda", "add", "On-call load"]);
    ana.ok(&[
        "commit",
        "add",
        "Send the leveling guide",
        "--due",
        &day(-6),
    ]);
    ana.ok(&[
        "commit",
        "add",
        "Draft the RFC",
        "--owner",
        "them",
        "--due",
        &day(-4),
    ]);
    for _ in 0..3 {
        ana.ok(&["wrap"]);
    }
    send(&ana, &bo);
    bo.ok(&["agenda", "add", "Conference budget"]);
    send(&bo, &ana);

    // Ana / Cy: a 1-1 today that only Ana has prepared.
    ana.ok(&[
        "notebook", "new", "Ana / Cy", "--me", "manager", "--with", "Cy",
    ]);
    ana.ok(&["-n", "Ana / Cy", "agenda", "add", "Team move"]);
    // Ana / Di: its only meeting slipped into the past unwrapped: nothing on the books.
    ana.ok(&[
        "notebook", "new", "Ana / Di", "--me", "manager", "--with", "Di",
    ]);
    ana.ok(&["-n", "Ana / Di", "meeting", "reschedule", "--to", &day(-3)]);

    let args = ["week", "--from", &day(0), "--to", &day(14), "--json"];
    let week = ana.json(&args);

    let meetings = &week["meetings"];
    assert_eq!(texts(meetings, "person"), ["Cy", "Bo"], "{week:#}");
    let (cy, bo_meeting) = (&meetings[0], &meetings[1]);
    assert_eq!(cy["date"], day(0));
    assert_eq!(
        (cy["my_items"].as_u64(), cy["their_items"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        (
            bo_meeting["my_items"].as_u64(),
            bo_meeting["their_items"].as_u64()
        ),
        (Some(1), Some(1)),
        "{bo_meeting:#}"
    );
    assert_eq!(
        texts(&bo_meeting["carried_often"], "text"),
        ["On-call load"]
    );
    assert_eq!(bo_meeting["carried_often"][0]["carried"], 3);
    assert!(
        texts(&bo_meeting["signals"], "kind")
            .iter()
            .any(|k| k == "late_commitments"),
        "{bo_meeting:#}"
    );

    assert_eq!(texts(&week["i_owe"], "person"), ["Bo"]);
    assert_eq!(
        week["i_owe"][0]["commitment"]["text"],
        "Send the leveling guide"
    );
    assert_eq!(week["i_owe"][0]["overdue_days"], 6);
    assert_eq!(texts(&week["owed_to_me"], "person"), ["Bo"]);
    assert_eq!(week["owed_to_me"][0]["commitment"]["text"], "Draft the RFC");
    assert_eq!(week["owed_to_me"][0]["overdue_days"], 4);
    assert_eq!(texts(&week["nothing_booked"], "person"), ["Di"]);

    // The words for people say the same.
    let text = ana.ok(&["week", "--from", &day(0), "--to", &day(14)]);
    assert!(text.contains("1 from you, 1 from Bo"), "{text}");
    assert!(text.contains("On-call load (3x)"), "{text}");
    assert!(text.contains("6 days overdue"), "{text}");
    assert!(text.contains("Nothing on the books with: Di"), "{text}");

    // Through a running node, the same answer.
    let node = Serving::start(&ana, "127.0.0.1:0");
    assert_eq!(ana.json(&args), week);
    let today = ana.json(&["today", "--json"]);
    assert_eq!(texts(&today["meetings"], "person"), ["Cy"]);
    assert!(node.stop(), "the node stops cleanly");

    // A window that ends before it begins is refused by name.
    let refused = ana.run(&["week", "--from", &day(3), "--to", &day(1)]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("before"));
}
