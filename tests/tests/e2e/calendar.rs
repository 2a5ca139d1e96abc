//! The 1-1s in a calendar app: `duet calendar` writes RFC 5545 that an independent parser
//! (Python's `icalendar`) reads back as the meetings on the books, at the pair's time of
//! day, with ids that stay the same across exports and devices, a reschedule or a cancel
//! changing the event under the same id, and each side's reminder; a running node keeps
//! the file up to date.

use duet_tests::{eventually, pair, send, Device, Serving};
use jiff::Span;
use std::path::Path;
use std::time::Duration;

fn day(offset: i64) -> String {
    jiff::Zoned::now()
        .date()
        .checked_add(Span::new().days(offset))
        .expect("a date")
        .to_string()
}

/// The file's events as Python's `icalendar` reads them, by UID.
fn parsed(file: &Path) -> serde_json::Value {
    let script = r#"
import json, sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
out = {}
for e in cal.walk('VEVENT'):
    start, end = e.get('dtstart').dt, e.get('dtend').dt
    out[str(e.get('uid'))] = {
        'summary': str(e.get('summary')),
        'description': str(e.get('description')),
        'start': start.isoformat(),
        'minutes': int((end - start).total_seconds() // 60),
        'status': str(e.get('status')),
        'sequence': int(e.get('sequence', 0)),
        'alarms': [int(a.get('trigger').dt.total_seconds()) for a in e.walk('VALARM')],
    }
print(json.dumps(out))
"#;
    let output = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .output()
        .expect("python3");
    assert!(
        output.status.success(),
        "icalendar could not read {}: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("json")
}

fn export(device: &Device, name: &str) -> serde_json::Value {
    let file = device.file(name);
    device.ok(&["calendar", "--output", duet_tests::path(&file)]);
    parsed(&file)
}

fn uids(events: &serde_json::Value) -> Vec<String> {
    events
        .as_object()
        .expect("events")
        .keys()
        .cloned()
        .collect()
}

/// The one event whose start is on `date`.
fn on<'a>(events: &'a serde_json::Value, date: &str) -> (&'a String, &'a serde_json::Value) {
    let found: Vec<_> = events
        .as_object()
        .expect("events")
        .iter()
        .filter(|(_, e)| e["start"].as_str().is_some_and(|s| s.starts_with(date)))
        .collect();
    assert_eq!(found.len(), 1, "one event on {date}: {events:#}");
    found[0]
}

#[test]
fn a_calendar_export_reads_back_with_stable_ids_times_reminders_and_changes() {
    let (ana, bo) = pair();
    ana.ok(&[
        "notebook",
        "cadence",
        "--at",
        "10:00",
        "--tz",
        "UTC",
        "--minutes",
        "45",
    ]);
    ana.ok(&["agenda", "add", "Promotion timeline"]);
    ana.ok(&["meeting", "new", "--on", &day(7)]);

    let first = export(&ana, "a1.ics");
    let again = export(&ana, "a2.ics");
    assert_eq!(uids(&first).len(), 2, "{first:#}");
    assert_eq!(uids(&first), uids(&again), "ids stay across exports");
    let (_, today) = on(&first, &format!("{}T10:00:00", day(0)));
    assert_eq!(today["summary"], "1-1 with Bo");
    assert_eq!(today["minutes"], 45);
    assert_eq!(today["status"], "CONFIRMED");
    assert!(today["description"]
        .as_str()
        .is_some_and(|d| d.contains("Promotion timeline (Ana)")));
    // Ana is the manager: reminded a day before.
    assert_eq!(today["alarms"], serde_json::json!([-86_400]));

    // Bo's device, once synced, exports the same events; Bo, the report, two days before.
    send(&ana, &bo);
    let bos = export(&bo, "b.ics");
    assert_eq!(uids(&bos), uids(&first), "ids stay across devices");
    let (_, bo_today) = on(&bos, &day(0));
    assert_eq!(bo_today["summary"], "1-1 with Ana");
    assert_eq!(bo_today["alarms"], serde_json::json!([-172_800]));

    // A reschedule moves the event under the same id, a newer sequence; a cancel marks it.
    let (booked_uid, booked) = on(&first, &day(7));
    let booked_id = booked_uid.split('.').next().expect("meeting id").to_owned();
    ana.ok(&["meeting", "reschedule", &booked_id, "--to", &day(8)]);
    ana.ok(&["meeting", "cancel"]);
    let changed = export(&ana, "a3.ics");
    let (moved_uid, moved) = on(&changed, &day(8));
    assert_eq!(moved_uid, booked_uid);
    assert!(moved["sequence"].as_i64() > booked["sequence"].as_i64());
    let (today_uid, _) = on(&first, &day(0));
    let canceled = &changed[today_uid.as_str()];
    assert_eq!(canceled["status"], "CANCELLED", "{changed:#}");
    assert_eq!(canceled["alarms"], serde_json::json!([]));

    // Reminders off for every notebook: no alarm.
    ana.ok(&["remind", "--before", "off", "--all"]);
    let quiet = export(&ana, "a4.ics");
    assert_eq!(quiet[moved_uid.as_str()]["alarms"], serde_json::json!([]));
    ana.ok(&["remind", "--before", "3h"]);
    let reminded = export(&ana, "a5.ics");
    let (_, soon) = on(&reminded, &day(8));
    assert_eq!(soon["alarms"], serde_json::json!([-10_800]));

    // A node keeps a file current: an item added through it appears in the file.
    let kept = ana.file("kept.ics");
    let node = Serving::start_with(
        &ana,
        "127.0.0.1:0",
        &["--calendar", duet_tests::path(&kept)],
    );
    eventually(Duration::from_secs(10), "the node's calendar file", || {
        kept.exists()
            .then_some(())
            .ok_or_else(|| "not yet".to_owned())
    });
    ana.ok(&["agenda", "add", "Added-while-serving"]);
    eventually(Duration::from_secs(10), "the new item in the file", || {
        let events = parsed(&kept);
        let (_, next) = on(&events, &day(8));
        next["description"]
            .as_str()
            .filter(|d| d.contains("Added-while-serving"))
            .map(|_| ())
            .ok_or_else(|| format!("{next}"))
    });
    assert!(node.stop(), "the node stops cleanly");

    // A time that is not one, or a zone nobody knows, is refused by name.
    let bad = ana.run(&["notebook", "cadence", "--at", "25:99"]);
    assert!(!bad.status.success());
    let zone = ana.run(&[
        "notebook",
        "cadence",
        "--at",
        "10:00",
        "--tz",
        "Mars/Olympus",
    ]);
    assert!(String::from_utf8_lossy(&zone.stderr).contains("not a time zone"));
}
