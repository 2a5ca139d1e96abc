//! Reminders from a running node: before each 1-1, as `duet remind` sets (a day for a
//! manager, two for a report), a desktop notification with the person, the time, the
//! agenda so far, and a nudge when this side has added nothing. On Linux it goes to the
//! freedesktop notification service over D-Bus (`notify-rust`); macOS and Windows through
//! the same crate (untested here). A canceled meeting reminds no one.

use duet_core::CalendarEvent;
use std::collections::HashSet;
use std::time::Duration;

/// A reminder whose time passed while the computer slept is still shown this long after.
const LATE_GRACE: Duration = Duration::from_secs(15 * 60);
/// The longest sleep between two looks at the calendar while reminders are on.
pub const LOOK_EVERY: Duration = Duration::from_secs(60);

/// What the node's reminders remember between two looks at the calendar.
#[derive(Debug, Default)]
pub struct Reminders {
    /// (event, reminder time) already shown.
    shown: HashSet<(String, i64)>,
    /// Whether a failure to show one was said already (said once, not per reminder).
    failed_once: bool,
}

impl Reminders {
    /// Shows every reminder of `events` whose time has come (and is not stale), once.
    pub async fn show_due(&mut self, events: &[CalendarEvent]) {
        let now = jiff::Timestamp::now();
        let grace = jiff::SignedDuration::try_from(LATE_GRACE).unwrap_or_default();
        for e in events {
            let Some(at) = e.remind_at() else { continue };
            let due = at <= now && now.duration_since(at) <= grace;
            if !due || !self.shown.insert((e.uid.clone(), at.as_millisecond())) {
                continue;
            }
            let (summary, body) = words(e);
            let shown = tokio::task::spawn_blocking(move || {
                notify_rust::Notification::new()
                    .appname("Duet")
                    .summary(&summary)
                    .body(&body)
                    .show()
                    .map(|_| ())
            })
            .await;
            if let Ok(Err(e)) = shown {
                if !self.failed_once {
                    self.failed_once = true;
                    eprintln!("duet: no desktop notification for a reminder: {e}");
                }
            }
        }
    }
}

/// How long until the next reminder of `events` is due, at most [`LOOK_EVERY`].
pub fn until_next(events: &[CalendarEvent]) -> Duration {
    let now = jiff::Timestamp::now();
    events
        .iter()
        .filter_map(CalendarEvent::remind_at)
        .filter(|at| *at > now)
        .min()
        .and_then(|at| Duration::try_from(at.duration_since(now)).ok())
        .map_or(LOOK_EVERY, |d| d.min(LOOK_EVERY))
}

/// The notification's title and text.
pub fn words(e: &CalendarEvent) -> (String, String) {
    let when = match (&e.time, e.starts()) {
        (Some(t), Some(start)) => {
            let local = start.to_zoned(jiff::tz::TimeZone::system());
            format!(
                "{} at {} ({} {})",
                local.strftime("%a %Y-%m-%d"),
                local.strftime("%H:%M"),
                t.at,
                t.tz
            )
        }
        _ => e.date.clone(),
    };
    let summary = format!("1-1 with {}: {when}", e.person);
    let items = match e.agenda.len() {
        0 => "Nothing on the agenda yet.".to_owned(),
        1 => "1 item on the agenda.".to_owned(),
        n => format!("{n} items on the agenda."),
    };
    let nudge = if e.my_items == 0 {
        "\nYou have added nothing yet: duet agenda add \"...\""
    } else {
        ""
    };
    (
        summary,
        format!("{} ({} min). {items}{nudge}", e.title, e.minutes),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reminder_names_the_person_the_time_the_agenda_and_nudges_when_nothing_is_mine() {
        let e = CalendarEvent {
            uid: "m.n@duet".into(),
            notebook: "n".into(),
            title: "Ana / Bo".into(),
            person: "Bo".into(),
            meeting: "m".into(),
            date: "2026-12-09".into(),
            canceled: false,
            sequence: 0,
            time: None,
            minutes: 30,
            agenda: vec![("Promotion".into(), "Bo".into())],
            my_items: 0,
            remind_minutes: Some(60),
        };
        let (summary, body) = words(&e);
        assert_eq!(summary, "1-1 with Bo: 2026-12-09");
        assert!(body.contains("1 item on the agenda"), "{body}");
        assert!(body.contains("You have added nothing yet"), "{body}");
        let mine = CalendarEvent { my_items: 1, ..e };
        assert!(!words(&mine).1.contains("nothing yet"));
    }
}
