//! Recurring talking points: a point every 2 meetings is on the agenda of meetings 2, 4 and
//! 6 and not 1, 3 or 5, marked in `show`; two devices that put meeting 4 on the books
//! offline end with one copy after syncing; `--stop` ends it; `--list` shows who added what.

use duet_tests::{agenda_texts, pair, send, Device};

fn agenda_of(d: &Device) -> Vec<String> {
    agenda_texts(&d.json(&["agenda", "list"]))
}

/// Ticks the point if it is on the agenda (as the pair would talk about it), then wraps.
fn hold_meeting(d: &Device, point: &str) {
    let list = d.json(&["agenda", "list"]);
    for item in list["agenda"].as_array().cloned().unwrap_or_default() {
        if item["text"] == point {
            d.ok(&["agenda", "done", item["id"].as_str().unwrap_or_default()]);
        }
    }
    d.ok(&["wrap"]);
}

#[test]
fn a_point_every_two_meetings_is_on_meetings_two_four_and_six_only_until_stopped() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    let point = ana.json(&["agenda", "recur", "Career goals", "--every", "2"]);
    let id = point["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(point["every"], 2);
    let mut on = Vec::new();
    for meeting in 1..=6 {
        let texts = agenda_of(&ana);
        if texts.contains(&"Career goals".to_owned()) {
            on.push(meeting);
            let item = ana.json(&["agenda", "list"])["agenda"]
                .as_array()
                .and_then(|a| a.iter().find(|i| i["text"] == "Career goals").cloned())
                .unwrap_or_default();
            assert_eq!(item["recurring"], id.as_str(), "{item}");
            assert!(ana.ok(&["show"]).contains("Career goals ↻"));
        }
        hold_meeting(&ana, "Career goals");
    }
    assert_eq!(on, vec![2, 4, 6]);

    // Stopped, it does not come back on meeting 8.
    ana.ok(&["agenda", "recur", "--stop", &id]);
    hold_meeting(&ana, "Career goals");
    assert!(!agenda_of(&ana).contains(&"Career goals".to_owned()));
    let listed = ana.json(&["agenda", "recur", "--list"]);
    assert_eq!(listed[0]["text"], "Career goals");
    assert!(listed[0]["stopped"].is_string(), "{listed}");
}

#[test]
fn two_devices_booking_meeting_four_offline_end_with_one_copy() {
    let (ana, bo) = pair();
    // Bo adds the point: either person may, and both see it.
    bo.ok(&["agenda", "recur", "Career goals", "--every", "2"]);
    send(&bo, &ana);
    assert_eq!(
        ana.json(&["agenda", "recur", "--list"])[0]["text"],
        "Career goals"
    );
    hold_meeting(&ana, "Career goals");
    hold_meeting(&ana, "Career goals");
    send(&ana, &bo);
    // Meeting 3 is current on both; each wraps it offline and books its own meeting 4.
    ana.ok(&["wrap"]);
    bo.ok(&["wrap"]);
    for d in [&ana, &bo] {
        assert_eq!(
            agenda_of(d).iter().filter(|t| *t == "Career goals").count(),
            1
        );
    }
    send(&ana, &bo);
    send(&bo, &ana);
    for d in [&ana, &bo] {
        let texts = agenda_of(d);
        assert_eq!(
            texts.iter().filter(|t| *t == "Career goals").count(),
            1,
            "one copy after syncing: {texts:?}"
        );
    }
}
