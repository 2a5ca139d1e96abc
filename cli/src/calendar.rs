//! `duet calendar` and `duet remind`: every notebook's 1-1s as an iCalendar file (RFC 5545,
//! written by the `icalendar` crate) and the reminder lead its alarms carry; the node keeps
//! such a file up to date (`duet serve --calendar FILE`).

use crate::args::ReminderSpan;
use crate::commands::Output;
use crate::json::results::{CalendarWritten, Reminder};
use anyhow::{Context, Result};
use duet_core::{CalendarEvent, Duet};
use icalendar::{Alarm, Calendar, Component, Event, EventLike, EventStatus, Trigger};
use std::path::Path;

/// The calendar's name in a calendar app.
const CALENDAR_NAME: &str = "Duet 1-1s";

/// `duet calendar [--output FILE]`.
pub fn calendar(duet: &mut Duet, output: Option<&Path>, out: &Output) -> Result<()> {
    let events = duet.schedule().events()?;
    let text = ics(&events);
    match output {
        Some(path) => {
            write_atomically(path, &text)?;
            out.print(
                &CalendarWritten {
                    file: path.to_owned(),
                    events: events.len(),
                },
                || format!("Wrote {} meeting(s) to {}.\n", events.len(), path.display()),
            );
        }
        // The file itself, whatever --json says: it is the machine-readable form.
        None => out.write(&text),
    }
    Ok(())
}

/// `duet remind [--before SPAN] [--all]`.
pub fn remind(
    duet: &mut Duet,
    before: Option<ReminderSpan>,
    all: bool,
    out: &Output,
) -> Result<()> {
    if let Some(span) = before {
        let minutes = match span {
            ReminderSpan::Minutes(m) => Some(m),
            ReminderSpan::Off => None,
        };
        duet.schedule().set_reminder(all, minutes)?;
    }
    let minutes = duet.schedule().reminder_minutes()?;
    let notebook = duet.notebook()?;
    out.print(
        &Reminder {
            notebook: notebook.id.clone(),
            minutes_before: minutes,
        },
        || match minutes {
            Some(m) => format!(
                "Reminded {} before each 1-1 of {}.\n",
                span_words(m),
                notebook.title
            ),
            None => format!("No reminder before the 1-1s of {}.\n", notebook.title),
        },
    );
    Ok(())
}

/// `2 days`, `1 day`, `3 hours`, `30 minutes`.
fn span_words(minutes: u32) -> String {
    let plural = |n: u32, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    if minutes.is_multiple_of(24 * 60) {
        plural(minutes / (24 * 60), "day")
    } else if minutes.is_multiple_of(60) {
        plural(minutes / 60, "hour")
    } else {
        plural(minutes, "minute")
    }
}

/// The events as an iCalendar file.
pub fn ics(events: &[CalendarEvent]) -> String {
    let mut cal = Calendar::new();
    cal.name(CALENDAR_NAME);
    for e in events {
        cal.push(event(e));
    }
    cal.done().to_string()
}

fn event(e: &CalendarEvent) -> Event {
    let mut ev = Event::new();
    ev.uid(&e.uid)
        .summary(&format!("1-1 with {}", e.person))
        .description(&description(e))
        .sequence(e.sequence)
        .status(if e.canceled {
            EventStatus::Cancelled
        } else {
            EventStatus::Confirmed
        });
    let date: Option<jiff::civil::Date> = e.date.parse().ok();
    let start = match (&e.time, date) {
        (Some(t), Some(d)) => t.start_on(d),
        _ => None,
    };
    match (start, date) {
        (Some(start), _) => {
            let from = utc(start);
            ev.starts(from)
                .ends(from + chrono::Duration::minutes(i64::from(e.minutes)));
        }
        (None, Some(d)) => {
            // No time of day set: a whole-day event (the end is the next day, exclusive).
            if let (Some(day), Some(next)) = (naive(d), d.tomorrow().ok().and_then(naive)) {
                ev.starts(day).ends(next);
            }
        }
        (None, None) => {}
    }
    if let (false, Some(minutes)) = (e.canceled, e.remind_minutes) {
        ev.alarm(Alarm::display(
            &format!("1-1 with {} in {}", e.person, span_words(minutes)),
            Trigger::before_start(chrono::Duration::minutes(i64::from(minutes))),
        ));
    }
    ev.done()
}

/// The notebook, then the agenda so far, one item a line with who added it.
fn description(e: &CalendarEvent) -> String {
    let mut text = format!("{} (Duet)", e.title);
    if e.canceled {
        text.push_str("\nCanceled.");
    } else if e.agenda.is_empty() {
        text.push_str("\nNothing on the agenda yet: duet agenda add \"...\"");
    } else {
        text.push_str("\nAgenda so far:");
        for (item, by) in &e.agenda {
            text.push_str(&format!("\n- {item} ({by})"));
        }
    }
    text
}

fn utc(t: jiff::Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.as_second(), 0).unwrap_or_default()
}

fn naive(d: jiff::civil::Date) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::from_ymd_opt(
        i32::from(d.year()),
        u32::try_from(d.month()).ok()?,
        u32::try_from(d.day()).ok()?,
    )
}

/// Replaces `path` whole: written beside it, then renamed over it, so a calendar app
/// reading it never sees half a file.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing beside {}", path.display()))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use duet_core::model::views::MeetingTime;

    fn event(time: Option<MeetingTime>, canceled: bool) -> CalendarEvent {
        CalendarEvent {
            uid: "m1.n1@duet".into(),
            notebook: "n1".into(),
            title: "Ana / Bo".into(),
            person: "Bo".into(),
            meeting: "m1".into(),
            date: "2026-12-09".into(),
            canceled,
            sequence: 2,
            time,
            minutes: 45,
            agenda: vec![("Promotion, timeline".into(), "Bo".into())],
            my_items: 0,
            remind_minutes: Some(24 * 60),
        }
    }

    #[test]
    fn a_timed_meeting_starts_at_its_instant_and_lasts_the_cadence() {
        let at = MeetingTime::new("10:00", "Europe/Berlin").expect("time");
        let text = ics(&[event(Some(at), false)]);
        // 10:00 in Berlin in December is 09:00 UTC.
        assert!(text.contains("DTSTART:20261209T090000Z"), "{text}");
        assert!(text.contains("DTEND:20261209T094500Z"), "{text}");
        assert!(text.contains("UID:m1.n1@duet"), "{text}");
        assert!(text.contains("SEQUENCE:2"), "{text}");
        assert!(text.contains("STATUS:CONFIRMED"), "{text}");
        assert!(text.contains("BEGIN:VALARM"), "{text}");
        assert!(text.contains("TRIGGER;RELATED=START:-PT86400S"), "{text}");
        // A comma in text is escaped as RFC 5545 asks.
        assert!(text.contains("Promotion\\, timeline"), "{text}");
    }

    #[test]
    fn an_untimed_meeting_is_a_whole_day_and_a_canceled_one_has_no_alarm() {
        let text = ics(&[event(None, true)]);
        assert!(text.contains("DTSTART;VALUE=DATE:20261209"), "{text}");
        assert!(text.contains("DTEND;VALUE=DATE:20261210"), "{text}");
        assert!(text.contains("STATUS:CANCELLED"), "{text}");
        assert!(!text.contains("VALARM"), "{text}");
    }

    #[test]
    fn reminder_spans_read_in_words() {
        assert_eq!(span_words(24 * 60), "1 day");
        assert_eq!(span_words(2 * 24 * 60), "2 days");
        assert_eq!(span_words(180), "3 hours");
        assert_eq!(span_words(30), "30 minutes");
    }
}
