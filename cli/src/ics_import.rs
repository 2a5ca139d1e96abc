//! Taking an existing recurring 1-1 from a calendar export (`duet notebook new --from-ics`,
//! `duet meeting import`): the file is read by the `icalendar` crate's parser, and of its
//! recurring events the one asked for becomes Duet's rhythm: the weekly or every-N-weeks
//! rule the cadence, DTSTART's time of day and zone the meeting time, DTEND (or DURATION)
//! the length, and the next occurrence from today the next meeting, skipping EXDATEs and
//! following moved occurrences (RECURRENCE-ID). Anything Duet cannot keep as it means is
//! refused by name; nothing is created then.

use icalendar::parser::{read_calendar, unfold, Component, Property};
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ToSpan};
use std::collections::BTreeSet;

/// The largest calendar file read.
pub const MAX_ICS_BYTES: usize = 8 * 1024 * 1024;
/// Weeks between meetings Duet takes from a rule (a 1-1 rarer than every 8 weeks is not a
/// rhythm).
const MAX_INTERVAL_WEEKS: i64 = 8;
/// Occurrences walked looking for the next one (ten years of weekly meetings).
const MAX_OCCURRENCES: usize = 520;

/// What a recurring event gives Duet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// Its title in the calendar.
    pub summary: String,
    /// Days between meetings.
    pub every_days: u32,
    /// Minutes a meeting lasts.
    pub minutes: u32,
    /// Time of day and zone, unless the event is a whole day.
    pub at: Option<(String, String)>,
    /// The next occurrence from today.
    pub next: Date,
}

/// Why a file gives no series.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    /// Not iCalendar, with where.
    #[error("{file} is not an iCalendar file: line {line}: {why}")]
    Malformed {
        /// The file, as given.
        file: String,
        /// The line in the file (1-based).
        line: usize,
        /// What the parser said.
        why: String,
    },
    /// Too big to be a calendar export of a few events.
    #[error("{0} is over {MAX_ICS_BYTES} bytes: export only the 1-1's event")]
    TooLarge(String),
    /// No recurring event at all.
    #[error("{0} holds no recurring event: export the 1-1's series, not one meeting")]
    NoSeries(String),
    /// Several, and none picked.
    #[error("{file} holds {} recurring events; pick one with --event: {}", names.len(), names.join("; "))]
    Several {
        /// The file.
        file: String,
        /// Their titles.
        names: Vec<String>,
    },
    /// --event matched none, or several.
    #[error("--event {query:?} matches {} of the recurring events in {file}: {}", if matched.is_empty() { "none".to_owned() } else { matched.len().to_string() }, if matched.is_empty() { names.join("; ") } else { matched.join("; ") })]
    Pick {
        /// The file.
        file: String,
        /// The text asked for.
        query: String,
        /// What matched (empty: nothing).
        matched: Vec<String>,
        /// Every recurring event.
        names: Vec<String>,
    },
    /// A rule Duet cannot keep as a rhythm.
    #[error("the event {summary:?} repeats as {rule}: Duet keeps weekly rhythms (every 1 to {MAX_INTERVAL_WEEKS} weeks, one day a week); set it by hand with duet notebook cadence --every")]
    Unsupported {
        /// The event.
        summary: String,
        /// Its rule.
        rule: String,
    },
    /// A property Duet needs is missing or unreadable.
    #[error("the event {summary:?}: {why}")]
    Event {
        /// The event.
        summary: String,
        /// What is wrong.
        why: String,
    },
    /// The series is over.
    #[error("the event {0:?} has no occurrence from today on: its series ended")]
    Ended(String),
}

/// Reads `text` (the file `file`) and picks the series `pick` names (a piece of its title),
/// or the only one.
pub fn series_from(
    file: &str,
    text: &str,
    pick: Option<&str>,
    today: Date,
) -> Result<Series, ImportError> {
    if text.len() > MAX_ICS_BYTES {
        return Err(ImportError::TooLarge(file.to_owned()));
    }
    if let Some((line, why)) = bad_line(text) {
        return Err(ImportError::Malformed {
            file: file.to_owned(),
            line,
            why,
        });
    }
    let unfolded = unfold(text);
    let calendar = read_calendar(&unfolded).map_err(|why| ImportError::Malformed {
        file: file.to_owned(),
        line: original_line(text, error_line(&why)),
        why: "its BEGIN and END lines do not match".into(),
    })?;
    if !unfolded.trim_start().starts_with("BEGIN:VCALENDAR") {
        return Err(ImportError::Malformed {
            file: file.to_owned(),
            line: 1,
            why: "no BEGIN:VCALENDAR".into(),
        });
    }
    let events: Vec<&Component> = calendar
        .components
        .iter()
        .filter(|c| c.name == "VEVENT")
        .collect();
    let masters: Vec<&Component> = events
        .iter()
        .copied()
        .filter(|e| e.find_prop("RRULE").is_some() && !cancelled(e))
        .collect();
    let names: Vec<String> = masters.iter().map(|e| summary(e)).collect();
    let master = match (masters.len(), pick) {
        (0, _) => return Err(ImportError::NoSeries(file.to_owned())),
        (1, None) => masters[0],
        (_, None) => {
            return Err(ImportError::Several {
                file: file.to_owned(),
                names,
            })
        }
        (_, Some(query)) => {
            let q = query.to_lowercase();
            let matched: Vec<&Component> = masters
                .iter()
                .copied()
                .filter(|e| summary(e).to_lowercase().contains(&q))
                .collect();
            if matched.len() != 1 {
                return Err(ImportError::Pick {
                    file: file.to_owned(),
                    query: query.to_owned(),
                    matched: matched.iter().map(|e| summary(e)).collect(),
                    names,
                });
            }
            matched[0]
        }
    };
    let uid = master.find_prop("UID").map(|p| p.val.as_str().to_owned());
    let overrides: Vec<&Component> = events
        .iter()
        .copied()
        .filter(|e| {
            e.find_prop("RECURRENCE-ID").is_some()
                && e.find_prop("UID").map(|p| p.val.as_str().to_owned()) == uid
        })
        .collect();
    series(master, &overrides, today)
}

fn series(
    master: &Component,
    overrides: &[&Component],
    today: Date,
) -> Result<Series, ImportError> {
    let summary = summary(master);
    let bad = |why: String| ImportError::Event {
        summary: summary.clone(),
        why,
    };
    let start_prop = master
        .find_prop("DTSTART")
        .ok_or_else(|| bad("it has no DTSTART".into()))?;
    let start = When::of(start_prop).map_err(bad)?;
    let minutes = match (master.find_prop("DTEND"), master.find_prop("DURATION")) {
        (Some(end), _) => {
            let end = When::of(end).map_err(bad)?;
            end.minutes_after(&start)
        }
        (None, Some(d)) => duration_minutes(d.val.as_str()).map_err(bad)?,
        // A whole-day event with neither lasts the day; a timed one, an instant: use the
        // default length.
        (None, None) => 30,
    };
    let minutes = u32::try_from(minutes)
        .ok()
        .filter(|m| (1..=24 * 60).contains(m))
        .ok_or_else(|| bad(format!("it lasts {minutes} minutes")))?;
    let rule_text = master
        .find_prop("RRULE")
        .map(|p| p.val.as_str().to_owned())
        .unwrap_or_default();
    let weeks = weekly_interval(&rule_text, start.date()).map_err(|why| {
        if why.is_empty() {
            ImportError::Unsupported {
                summary: summary.clone(),
                rule: rule_text.clone(),
            }
        } else {
            bad(why)
        }
    })?;
    let (until, count) = rule_end(&rule_text, &start).map_err(bad)?;
    let mut skipped: BTreeSet<Date> = BTreeSet::new();
    for p in master.properties.iter().filter(|p| p.name == "EXDATE") {
        for value in p.val.as_str().split(',') {
            let one = Property {
                name: p.name.clone(),
                val: value.into(),
                params: p.params.clone(),
            };
            skipped.insert(When::of(&one).map_err(bad)?.local_date(&start));
        }
    }
    // Occurrences moved or canceled one by one: the original date is skipped, a moved one
    // counts on its new date.
    let mut moved: Vec<Date> = Vec::new();
    for o in overrides {
        if let Some(id) = o.find_prop("RECURRENCE-ID") {
            skipped.insert(When::of(id).map_err(bad)?.local_date(&start));
        }
        if !cancelled(o) {
            if let Some(s) = o.find_prop("DTSTART") {
                moved.push(When::of(s).map_err(bad)?.local_date(&start));
            }
        }
    }
    let step = (weeks * 7).days();
    let mut next = None;
    let mut date = start.date();
    for n in 0..MAX_OCCURRENCES {
        if count.is_some_and(|c| n >= c) || until.is_some_and(|u| date > u) {
            break;
        }
        if date >= today && !skipped.contains(&date) {
            next = Some(date);
            break;
        }
        date = date.checked_add(step).map_err(|e| bad(e.to_string()))?;
    }
    let next = moved
        .into_iter()
        .filter(|d| *d >= today)
        .chain(next)
        .min()
        .ok_or_else(|| ImportError::Ended(summary.clone()))?;
    Ok(Series {
        summary,
        every_days: u32::try_from(weeks * 7).unwrap_or(7),
        minutes,
        at: start.time_and_zone(),
        next,
    })
}

/// A DTSTART, DTEND, EXDATE or RECURRENCE-ID value.
#[derive(Debug, Clone)]
enum When {
    /// A whole day.
    Day(Date),
    /// A wall-clock time in a zone.
    Zoned(DateTime, String),
    /// An instant (`…Z`).
    Utc(Timestamp),
    /// A wall-clock time with no zone ("floating"): this device's.
    Floating(DateTime),
}

impl When {
    fn of(p: &Property) -> Result<When, String> {
        let value = p.val.as_str().trim();
        let param = |key: &str| {
            p.params
                .iter()
                .find(|q| q.key.as_str().eq_ignore_ascii_case(key))
                .and_then(|q| {
                    q.val
                        .as_ref()
                        .map(|v| v.as_str().trim_matches('"').to_owned())
                })
        };
        let bad = || format!("{} {value:?} is not a date or time", p.name.as_str());
        if param("VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE")) || value.len() == 8 {
            return Date::strptime("%Y%m%d", value)
                .map(When::Day)
                .map_err(|_| bad());
        }
        let utc = value.ends_with('Z');
        let dt =
            DateTime::strptime("%Y%m%dT%H%M%S", value.trim_end_matches('Z')).map_err(|_| bad())?;
        if utc {
            return dt
                .to_zoned(TimeZone::UTC)
                .map(|z| When::Utc(z.timestamp()))
                .map_err(|_| bad());
        }
        match param("TZID") {
            Some(tz) => Ok(When::Zoned(dt, iana_zone(&tz)?)),
            None => Ok(When::Floating(dt)),
        }
    }

    fn zoned(&self) -> Option<jiff::Zoned> {
        match self {
            When::Day(_) => None,
            When::Zoned(dt, tz) => TimeZone::get(tz).ok().and_then(|z| dt.to_zoned(z).ok()),
            When::Utc(t) => Some(t.to_zoned(TimeZone::UTC)),
            When::Floating(dt) => dt.to_zoned(TimeZone::system()).ok(),
        }
    }

    /// The date it falls on.
    fn date(&self) -> Date {
        match self {
            When::Day(d) => *d,
            When::Zoned(dt, _) | When::Floating(dt) => dt.date(),
            When::Utc(t) => t.to_zoned(TimeZone::UTC).date(),
        }
    }

    /// The date it falls on in the series' own zone (an EXDATE in UTC for a series in
    /// Berlin names Berlin's day).
    fn local_date(&self, series: &When) -> Date {
        match (self, series.zoned()) {
            (When::Day(d), _) => *d,
            (_, Some(z)) => self
                .zoned()
                .map(|mine| mine.timestamp().to_zoned(z.time_zone().clone()).date())
                .unwrap_or_else(|| self.date()),
            (_, None) => self.date(),
        }
    }

    fn minutes_after(&self, start: &When) -> i64 {
        let minutes = match (self.zoned(), start.zoned()) {
            (Some(end), Some(start)) => {
                (end.timestamp().as_second() - start.timestamp().as_second()) / 60
            }
            _ => i64::from((self.date() - start.date()).get_days()) * 24 * 60,
        };
        minutes.max(0)
    }

    /// `HH:MM` and the IANA zone, unless a whole day.
    fn time_and_zone(&self) -> Option<(String, String)> {
        let (time, zone): (Time, String) = match self {
            When::Day(_) => return None,
            When::Zoned(dt, tz) => (dt.time(), tz.clone()),
            When::Utc(t) => (t.to_zoned(TimeZone::UTC).time(), "UTC".into()),
            When::Floating(dt) => (
                dt.time(),
                TimeZone::system().iana_name().unwrap_or("UTC").to_owned(),
            ),
        };
        Some((time.strftime("%H:%M").to_string(), zone))
    }
}

/// The IANA name of a TZID: as it is when this system knows it; Outlook's Windows names
/// through the table of the common ones.
fn iana_zone(tzid: &str) -> Result<String, String> {
    if TimeZone::get(tzid).is_ok() {
        return Ok(tzid.to_owned());
    }
    WINDOWS_ZONES
        .iter()
        .find(|(windows, _)| windows.eq_ignore_ascii_case(tzid))
        .map(|(_, iana)| (*iana).to_owned())
        .ok_or_else(|| format!("the time zone {tzid:?} is unknown here; set the time with duet notebook cadence --at HH:MM --tz ZONE"))
}

/// Windows time zone names (as Outlook writes TZID) and their IANA zones (CLDR's
/// windowsZones, territory 001).
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("Dateline Standard Time", "Etc/GMT+12"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Mountain Standard Time", "America/Denver"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Central Standard Time", "America/Chicago"),
    ("Central America Standard Time", "America/Guatemala"),
    ("Eastern Standard Time", "America/New_York"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Argentina Standard Time", "America/Buenos_Aires"),
    ("UTC", "Etc/UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("India Standard Time", "Asia/Calcutta"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
];

/// Weeks between occurrences of a weekly rule on the series' own weekday; an empty error
/// for a rule Duet does not keep.
fn weekly_interval(rule: &str, start: Date) -> Result<i64, String> {
    let mut freq = None;
    let mut interval = 1i64;
    for part in rule.split(';').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(String::new)?;
        match key.to_ascii_uppercase().as_str() {
            "FREQ" => freq = Some(value.to_ascii_uppercase()),
            "INTERVAL" => interval = value.parse().map_err(|_| String::new())?,
            "BYDAY" => {
                let days: Vec<&str> = value.split(',').collect();
                let own = weekday_code(start);
                if days.len() != 1 || !days[0].eq_ignore_ascii_case(own) {
                    return Err(String::new());
                }
            }
            "UNTIL" | "COUNT" | "WKST" => {}
            _ => return Err(String::new()),
        }
    }
    match freq.as_deref() {
        Some("WEEKLY") if (1..=MAX_INTERVAL_WEEKS).contains(&interval) => Ok(interval),
        Some("DAILY")
            if interval % 7 == 0 && (1..=MAX_INTERVAL_WEEKS).contains(&(interval / 7)) =>
        {
            Ok(interval / 7)
        }
        _ => Err(String::new()),
    }
}

/// The rule's last date (UNTIL, in the series' zone) and its count of occurrences.
fn rule_end(rule: &str, start: &When) -> Result<(Option<Date>, Option<usize>), String> {
    let mut until = None;
    let mut count = None;
    for part in rule.split(';') {
        match part.split_once('=') {
            Some((k, v)) if k.eq_ignore_ascii_case("UNTIL") => {
                let p = Property {
                    name: "UNTIL".into(),
                    val: v.into(),
                    params: Vec::new(),
                };
                until = Some(When::of(&p)?.local_date(start));
            }
            Some((k, v)) if k.eq_ignore_ascii_case("COUNT") => {
                count = Some(
                    v.parse()
                        .map_err(|_| format!("COUNT={v} is not a number"))?,
                );
            }
            _ => {}
        }
    }
    Ok((until, count))
}

fn weekday_code(d: Date) -> &'static str {
    ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
        [usize::from(d.weekday().to_monday_zero_offset().unsigned_abs())]
}

/// Minutes of an RFC 5545 duration (`PT1H`, `PT45M`, `P1D`).
fn duration_minutes(text: &str) -> Result<i64, String> {
    let span: Span = text
        .trim()
        .parse()
        .map_err(|_| format!("DURATION {text:?} is not a duration"))?;
    Ok(span
        .total((jiff::Unit::Minute, jiff::civil::date(2000, 1, 1)))
        .map_err(|e| e.to_string())? as i64)
}

fn summary(e: &Component) -> String {
    e.find_prop("SUMMARY")
        .map(|p| p.val.as_str().replace("\\,", ",").replace("\\;", ";"))
        .unwrap_or_else(|| "(untitled)".into())
}

fn cancelled(e: &Component) -> bool {
    e.find_prop("STATUS")
        .is_some_and(|p| p.val.as_str().eq_ignore_ascii_case("CANCELLED"))
}

/// The unfolded line the parser's error names (its first `line N` or `N:`), 1 when none.
fn error_line(why: &str) -> usize {
    why.split(|c: char| !c.is_ascii_digit())
        .find_map(|n| n.parse::<usize>().ok().filter(|n| *n > 0))
        .unwrap_or(1)
}

/// The file's line of an unfolded line: each folded continuation (a line starting with a
/// space or tab) adds one.
fn original_line(text: &str, unfolded: usize) -> usize {
    let mut logical = 0;
    for (i, line) in text.lines().enumerate() {
        if !line.starts_with([' ', '\t']) {
            logical += 1;
        }
        if logical == unfolded {
            return i + 1;
        }
    }
    unfolded
}

/// The first line that is not a content line (`NAME[;PARAM=VALUE…]:VALUE`, RFC 5545
/// 3.1), with why; folded continuations and blank lines pass.
fn bad_line(text: &str) -> Option<(usize, String)> {
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with([' ', '\t']) {
            continue;
        }
        let name_end = line.find([':', ';']).unwrap_or(line.len());
        let name = &line[..name_end];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Some((i + 1, format!("{:?} is not NAME:VALUE", short(line))));
        }
        // The value starts at the first colon outside a quoted parameter value.
        let mut quoted = false;
        let colon = line[name_end..].char_indices().find_map(|(at, c)| match c {
            '"' => {
                quoted = !quoted;
                None
            }
            ':' if !quoted => Some(at),
            _ => None,
        });
        if colon.is_none() {
            return Some((i + 1, format!("{:?} has no value (no colon)", short(line))));
        }
    }
    None
}

/// A line cut for a message.
fn short(line: &str) -> String {
    line.chars().take(60).collect()
}

/// Reads the series `event` names (or the only one) from the calendar file at `path`.
pub fn read_series(path: &std::path::Path, event: Option<&str>) -> anyhow::Result<Series> {
    use anyhow::Context;
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("reading {shown}"))?;
    let text = String::from_utf8(bytes).map_err(|_| ImportError::Malformed {
        file: shown.clone(),
        line: 1,
        why: "not UTF-8 text".into(),
    })?;
    let series = series_from(&shown, &text, event, duet_core::dates::today())
        .map_err(|e| duet_core::DuetError::Invalid(e.to_string()))?;
    Ok(series)
}

/// Applies a series to the current notebook: its cadence and time of day.
pub fn apply(duet: &mut duet_core::Duet, s: &Series) -> anyhow::Result<()> {
    duet.set_cadence(duet_core::model::views::Cadence {
        every_days: s.every_days,
        minutes: s.minutes,
    })?;
    if let Some((at, tz)) = &s.at {
        duet.schedule().set_time(at, Some(tz))?;
    }
    Ok(())
}

/// What `--json` prints for an applied series.
pub fn imported(s: &Series, notebook: &str) -> crate::json::results::Imported {
    crate::json::results::Imported {
        event: s.summary.clone(),
        every_days: s.every_days,
        minutes: s.minutes,
        at: s.at.as_ref().map(|(at, _)| at.clone()),
        tz: s.at.as_ref().map(|(_, tz)| tz.clone()),
        next: s.next.to_string(),
        notebook: notebook.to_owned(),
    }
}

/// The series in words.
pub fn words(s: &Series) -> String {
    let when =
        s.at.as_ref()
            .map(|(at, tz)| format!(" at {at} ({tz})"))
            .unwrap_or_default();
    format!(
        "From {:?}: every {} days{when} for {} minutes; the next meeting is on {}.\n",
        s.summary, s.every_days, s.minutes, s.next
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        jiff::civil::date(2026, 12, 7)
    }

    const GOOGLE_BIWEEKLY: &str = "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;TZID=Europe/Berlin:20260902T100000\r\nDTEND;TZID=Europe/Berlin:20260902T104500\r\nRRULE:FREQ=WEEKLY;WKST=MO;INTERVAL=2;BYDAY=WE\r\nEXDATE;TZID=Europe/Berlin:20261209T100000\r\nUID:abc123@google.com\r\nSUMMARY:Ana / Bo 1:1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn a_biweekly_series_gives_its_cadence_time_length_and_next_date_past_an_exdate() {
        let s = series_from("g.ics", GOOGLE_BIWEEKLY, None, today()).expect("series");
        assert_eq!(s.every_days, 14);
        assert_eq!(s.minutes, 45);
        assert_eq!(s.at, Some(("10:00".into(), "Europe/Berlin".into())));
        // Occurrences: …, 2026-11-25, 2026-12-09 (excluded), 2026-12-23.
        assert_eq!(s.next, jiff::civil::date(2026, 12, 23));
    }

    #[test]
    fn outlook_zones_utc_series_and_moved_occurrences_are_read() {
        let outlook = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nSUMMARY:1:1 Ana and Cy\r\nDTSTART;TZID=W. Europe Standard Time:20260105T150000\r\nDTEND;TZID=W. Europe Standard Time:20260105T153000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO\r\nUID:040000008200E00074C5B7101A82E008\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:1:1 Ana and Cy\r\nRECURRENCE-ID;TZID=W. Europe Standard Time:20261207T150000\r\nDTSTART;TZID=W. Europe Standard Time:20261208T150000\r\nDTEND;TZID=W. Europe Standard Time:20261208T153000\r\nUID:040000008200E00074C5B7101A82E008\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let s = series_from("o.ics", outlook, None, today()).expect("series");
        assert_eq!((s.every_days, s.minutes), (7, 30));
        assert_eq!(s.at, Some(("15:00".into(), "Europe/Berlin".into())));
        // Monday the 7th was moved to Tuesday the 8th.
        assert_eq!(s.next, jiff::civil::date(2026, 12, 8));

        let utc = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:Weekly sync\nDTSTART:20261001T160000Z\nDURATION:PT1H\nRRULE:FREQ=WEEKLY\nEND:VEVENT\nEND:VCALENDAR\n";
        let s = series_from("u.ics", utc, None, today()).expect("series");
        assert_eq!((s.every_days, s.minutes), (7, 60));
        assert_eq!(s.at, Some(("16:00".into(), "UTC".into())));
        assert_eq!(s.next, jiff::civil::date(2026, 12, 10));
    }

    #[test]
    fn several_series_need_a_pick_and_unsupported_or_malformed_files_are_refused_by_name() {
        let two = GOOGLE_BIWEEKLY.replace(
            "END:VCALENDAR",
            "BEGIN:VEVENT\r\nDTSTART:20261001T160000Z\r\nDTEND:20261001T163000Z\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:Ana / Di\r\nEND:VEVENT\r\nEND:VCALENDAR",
        );
        assert!(matches!(
            series_from("t.ics", &two, None, today()),
            Err(ImportError::Several { ref names, .. }) if names.len() == 2
        ));
        let di = series_from("t.ics", &two, Some("di"), today()).expect("picked");
        assert_eq!(di.summary, "Ana / Di");
        assert!(matches!(
            series_from("t.ics", &two, Some("zz"), today()),
            Err(ImportError::Pick { .. })
        ));
        let monthly = GOOGLE_BIWEEKLY.replace(
            "FREQ=WEEKLY;WKST=MO;INTERVAL=2;BYDAY=WE",
            "FREQ=MONTHLY;BYDAY=1WE",
        );
        let err = series_from("m.ics", &monthly, None, today()).expect_err("monthly");
        assert!(matches!(err, ImportError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("FREQ=MONTHLY"), "{err}");
        let ended = GOOGLE_BIWEEKLY.replace(
            "INTERVAL=2;BYDAY=WE",
            "INTERVAL=2;BYDAY=WE;UNTIL=20261001T000000Z",
        );
        assert!(matches!(
            series_from("e.ics", &ended, None, today()),
            Err(ImportError::Ended(_))
        ));
        let broken = "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nthis is not a property\nEND:VEVENT\nEND:VCALENDAR\n";
        let err = series_from("b.ics", broken, None, today()).expect_err("malformed");
        assert!(
            matches!(err, ImportError::Malformed { line: 4, .. }),
            "{err}"
        );
        let unbalanced = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\nEND:VCALENDAR\n";
        let err = series_from("u.ics", unbalanced, None, today()).expect_err("unbalanced");
        assert!(matches!(err, ImportError::Malformed { .. }), "{err}");
        let zone = GOOGLE_BIWEEKLY.replace("Europe/Berlin", "Mars/Olympus");
        let err = series_from("z.ics", &zone, None, today()).expect_err("zone");
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
        assert!(matches!(
            series_from("n.ics", "BEGIN:VCALENDAR\nEND:VCALENDAR\n", None, today()),
            Err(ImportError::NoSeries(_))
        ));
    }
}
