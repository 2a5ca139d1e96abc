//! Taking an existing recurring 1-1 from a calendar export: files written as Google
//! Calendar and Outlook write them (a zone by name with an EXDATE; a Windows zone with its
//! VTIMEZONE and one occurrence moved; an all-UTC series among others) give the cadence,
//! the time of day, the length and the next meeting; malformed and unsupported files are
//! refused by name and create nothing.

use duet_tests::Device;
use jiff::civil::Date;
use jiff::Span;

fn today() -> Date {
    jiff::Zoned::now().date()
}

fn plus(days: i64) -> Date {
    today().checked_add(Span::new().days(days)).expect("a date")
}

fn ics_date(d: Date) -> String {
    d.strftime("%Y%m%d").to_string()
}

fn write(device: &Device, name: &str, text: &str) -> String {
    let file = device.file(name);
    std::fs::write(&file, text.replace('\n', "\r\n")).expect("write");
    duet_tests::path(&file).to_owned()
}

fn google_biweekly(start: Date, skipped: Date) -> String {
    format!(
        "BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:PUBLISH
X-WR-CALNAME:ana@example.com
X-WR-TIMEZONE:America/New_York
BEGIN:VEVENT
DTSTART;TZID=America/New_York:{s}T100000
DTEND;TZID=America/New_York:{s}T104500
RRULE:FREQ=WEEKLY;WKST=SU;INTERVAL=2;BYDAY={day}
EXDATE;TZID=America/New_York:{x}T100000
DTSTAMP:20261201T120000Z
UID:5bq2m0k8s7d2c1a9@google.com
CREATED:20250101T090000Z
DESCRIPTION:Our 1:1\\, every other week
LAST-MODIFIED:20261101T090000Z
SEQUENCE:3
STATUS:CONFIRMED
SUMMARY:Ana / Bo 1:1
TRANSP:OPAQUE
END:VEVENT
END:VCALENDAR
",
        s = ics_date(start),
        x = ics_date(skipped),
        day = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
            [usize::from(start.weekday().to_monday_zero_offset().unsigned_abs())],
    )
}

fn outlook_weekly(start: Date, moved_from: Date, moved_to: Date) -> String {
    format!(
        "BEGIN:VCALENDAR
PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN
VERSION:2.0
METHOD:PUBLISH
X-MS-OLK-FORCEINSPECTOROPEN:TRUE
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16011028T030000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010325T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
CLASS:PUBLIC
CREATED:20250105T100000Z
DTEND;TZID=\"W. Europe Standard Time\":{s}T153000
DTSTAMP:20261201T100000Z
DTSTART;TZID=\"W. Europe Standard Time\":{s}T150000
PRIORITY:5
RRULE:FREQ=WEEKLY;BYDAY={day}
SEQUENCE:0
SUMMARY;LANGUAGE=en-us:1:1 Ana and Cy
TRANSP:OPAQUE
UID:040000008200E00074C5B7101A82E00800000000
X-MICROSOFT-CDO-BUSYSTATUS:BUSY
END:VEVENT
BEGIN:VEVENT
DTEND;TZID=\"W. Europe Standard Time\":{t}T153000
DTSTART;TZID=\"W. Europe Standard Time\":{t}T150000
RECURRENCE-ID;TZID=\"W. Europe Standard Time\":{f}T150000
SUMMARY;LANGUAGE=en-us:1:1 Ana and Cy
UID:040000008200E00074C5B7101A82E00800000000
END:VEVENT
END:VCALENDAR
",
        s = ics_date(start),
        f = ics_date(moved_from),
        t = ics_date(moved_to),
        day = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
            [usize::from(start.weekday().to_monday_zero_offset().unsigned_abs())],
    )
}

/// `duet notebook new TITLE --me manager --with WITH --from-ics FILE [--event EVENT]`.
fn new_from_ics(
    device: &Device,
    with: &str,
    file: &str,
    event: Option<&str>,
) -> std::process::Output {
    let title = format!("Ana / {with}");
    let mut args = vec![
        "--json",
        "notebook",
        "new",
        &title,
        "--me",
        "manager",
        "--with",
        with,
        "--from-ics",
        file,
    ];
    if let Some(event) = event {
        args.extend(["--event", event]);
    }
    device.run(&args)
}

/// [`new_from_ics`]'s JSON, when it succeeds.
fn made_from_ics(
    device: &Device,
    with: &str,
    file: &str,
    event: Option<&str>,
) -> serde_json::Value {
    let out = new_from_ics(device, with, file, event);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn notebooks(device: &Device) -> usize {
    device
        .json(&["notebook", "list"])
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn calendar_exports_give_the_rhythm_and_the_next_meeting_and_bad_ones_create_nothing() {
    let ana = Device::new("Ana");

    // Google, every other week, the occurrence of today excluded: next in two weeks.
    let google = write(&ana, "google.ics", &google_biweekly(plus(-14), today()));
    let made = made_from_ics(&ana, "Bo", &google, None);
    assert_eq!(made["every_days"], 14, "{made}");
    assert_eq!(made["minutes"], 45);
    assert_eq!(made["at"], "10:00");
    assert_eq!(made["tz"], "America/New_York");
    assert_eq!(made["next"], plus(14).to_string());
    let meetings = ana.json(&["meeting", "list"]);
    assert_eq!(meetings[0]["date"], plus(14).to_string(), "{meetings}");
    let shown = ana.json(&["notebook", "show"]);
    assert_eq!(shown["cadence"]["every_days"], 14);

    // Outlook, weekly in a Windows zone, this week's occurrence moved a day later; taken
    // into an existing notebook.
    ana.ok(&[
        "notebook", "new", "Ana / Cy", "--me", "manager", "--with", "Cy",
    ]);
    let outlook = write(
        &ana,
        "outlook.ics",
        &outlook_weekly(plus(-21), plus(7), plus(8)),
    );
    // Today's meeting of the new notebook is on the books already; the series' next one
    // (a week from today: 21 days after its start) was moved to the day after.
    let imported = ana.json(&["meeting", "import", &outlook]);
    assert_eq!(imported["every_days"], 7, "{imported}");
    assert_eq!(imported["minutes"], 30);
    assert_eq!(imported["at"], "15:00");
    assert_eq!(imported["tz"], "Europe/Berlin");
    assert_eq!(
        imported["next"],
        today().to_string(),
        "today's occurrence comes first"
    );

    // All UTC, among other series: --event picks it.
    let utc = format!(
        "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:one\nSUMMARY:Team standup\nDTSTART:{s}T080000Z\nDTEND:{s}T081500Z\nRRULE:FREQ=WEEKLY;BYDAY={d}\nEND:VEVENT\nBEGIN:VEVENT\nUID:two\nSUMMARY:1-1 with Di\nDTSTART:{s}T163000Z\nDURATION:PT1H\nRRULE:FREQ=WEEKLY;INTERVAL=3\nEND:VEVENT\nEND:VCALENDAR\n",
        s = ics_date(plus(-2)),
        d = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
            [usize::from(plus(-2).weekday().to_monday_zero_offset().unsigned_abs())],
    );
    let several = write(&ana, "several.ics", &utc);
    let before = notebooks(&ana);
    let asked = new_from_ics(&ana, "Di", &several, None);
    assert!(!asked.status.success());
    let said = String::from_utf8_lossy(&asked.stderr);
    assert!(
        said.contains("Team standup") && said.contains("1-1 with Di"),
        "{said}"
    );
    assert_eq!(notebooks(&ana), before, "nothing made");
    let di = made_from_ics(&ana, "Di", &several, Some("Di"));
    assert_eq!(
        (di["every_days"].as_u64(), di["minutes"].as_u64()),
        (Some(21), Some(60))
    );
    assert_eq!(
        (di["at"].as_str(), di["tz"].as_str()),
        (Some("16:30"), Some("UTC"))
    );
    assert_eq!(di["next"], plus(19).to_string());

    // A malformed file names its line; a monthly rule is refused by name; neither makes
    // a notebook.
    let broken = write(
        &ana,
        "broken.ics",
        "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nSUMMARY:1:1\nDTSTART 20261209T100000\nEND:VEVENT\nEND:VCALENDAR\n",
    );
    let before = notebooks(&ana);
    let refused = new_from_ics(&ana, "Ed", &broken, None);
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("is not an iCalendar file") && said.contains("line 5"),
        "{said}"
    );
    let monthly = write(
        &ana,
        "monthly.ics",
        &google_biweekly(plus(-14), today())
            .replace("FREQ=WEEKLY;WKST=SU;INTERVAL=2", "FREQ=MONTHLY"),
    );
    let refused = new_from_ics(&ana, "Ed", &monthly, None);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("FREQ=MONTHLY"));
    assert_eq!(notebooks(&ana), before, "nothing made");
}
