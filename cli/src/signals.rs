//! How the terminal words each drift signal: plain sentences that may name the command that
//! deals with what was seen (the phone words the same records its own way).

use duet_core::insights::health::StaleCommitment;
use duet_core::insights::signals::Signal;

/// `n thing` / `n things`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A span of days as people say it: `a month`, `2 weeks`, `10 days`.
fn span(days: u32) -> String {
    match days {
        28..=31 => "a month".into(),
        d if d % 7 == 0 => count((d / 7) as usize, "week", "weeks"),
        d => count(d as usize, "day", "days"),
    }
}

/// Dates as a short list: `2026-06-09, 2026-06-16 and 2026-06-23`.
fn listing(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The sentence for one signal.
pub fn sentence(signal: &Signal) -> String {
    match signal {
        Signal::Disrupted {
            window,
            canceled,
            moved,
            streak,
        } => {
            let mut line = format!(
                "Of the last {}, {canceled} canceled and {moved} moved to another date.",
                count(*window, "meeting", "meetings")
            );
            if *streak > 0 {
                line.push_str(&format!(
                    " The last {streak} in a row were canceled or moved."
                ));
            }
            line
        }
        Signal::LongGap {
            last_held,
            days,
            every_days,
        } => format!(
            "The last 1-1 was held {} ago ({last_held}); you planned to meet every {}.",
            count(*days as usize, "day", "days"),
            count(*every_days as usize, "day", "days")
        ),
        Signal::NoneHeld { .. } => {
            "No 1-1 has been held yet: every meeting so far was canceled.".into()
        }
        Signal::NotWrapped { meeting, date, .. } => format!(
            "The meeting of {date} has passed but was not wrapped up: `duet wrap --meeting {meeting}` or `duet meeting cancel {meeting}`."
        ),
        Signal::NothingBooked => "No next meeting is on the books: `duet meeting new`.".into(),
        Signal::LateCommitments {
            name,
            made,
            done,
            done_late,
            open_past_due,
            ..
        } => {
            let mut parts = vec![format!("{done} done")];
            if *done_late > 0 {
                parts.push(format!("{done_late} of them late"));
            }
            if *open_past_due > 0 {
                parts.push(format!("{open_past_due} open past due"));
            }
            format!(
                "{name} owns {}: {}.",
                count(*made, "commitment", "commitments"),
                parts.join(", ")
            )
        }
        Signal::StaleCommitments {
            name,
            count: n,
            open_over_days,
            oldest,
            ..
        } => {
            let since = oldest
                .first()
                .map(|c: &StaleCommitment| {
                    let which = if *n == 1 { "from" } else { "the oldest from" };
                    format!(", {which} {} (\"{}\")", c.since, c.text)
                })
                .unwrap_or_default();
            let them = if *n == 1 { "it" } else { "them" };
            format!(
                "{name} has {} with no due date open for over {}{since}: close, drop or re-date {them} (`duet commit list --open`).",
                count(*n, "commitment", "commitments"),
                span(*open_over_days)
            )
        }
        Signal::AllStatus { held, dates } => format!(
            "{} of the last {held} held meetings were all status: nothing under check-in, challenges or look-ahead.",
            dates.len()
        ),
        Signal::EmptyMeetings { held, dates } => format!(
            "{} of the last {held} held meetings had nothing written in them ({}): could they have been an email?",
            dates.len(),
            listing(dates)
        ),
        Signal::ShortMeetings {
            planned_minutes,
            meetings,
        } => {
            let minutes: Vec<String> = meetings.iter().map(|m| m.minutes.to_string()).collect();
            format!(
                "The last {} meetings ran {} minutes of the {planned_minutes} planned: keep the slot, or plan a shorter one (`duet notebook cadence --minutes N`).",
                meetings.len(),
                listing(&minutes)
            )
        }
        Signal::CarriedOften {
            text, times, more, ..
        } => {
            let more = if *more > 0 {
                format!(
                    " ({} more carried {}+ times)",
                    count(*more, "item", "items"),
                    duet_core::model::views::CARRIED_NUDGE
                )
            } else {
                String::new()
            };
            format!(
                "\"{text}\" was carried {times} times{more}: discuss it, move it to the backlog, or drop it."
            )
        }
        Signal::OneSidedAgenda {
            name,
            items,
            total,
            others,
            ..
        } => format!(
            "{name} brought {items} of {total} agenda items: the agenda is one-sided; ask {} what they want to cover.",
            others.join(" and ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(14), "2 weeks");
        assert_eq!(span(28), "a month");
        assert_eq!(span(10), "10 days");
        assert_eq!(span(7), "1 week");
    }

    #[test]
    fn stale_commitments_name_the_owner_and_the_oldest() {
        let s = Signal::StaleCommitments {
            person: "bo".into(),
            name: "Bo".into(),
            count: 12,
            open_over_days: 28,
            oldest: vec![StaleCommitment {
                id: "c1".into(),
                text: "write the rota".into(),
                since: "2026-03-02".into(),
                days_open: 90,
            }],
        };
        assert_eq!(
            sentence(&s),
            "Bo has 12 commitments with no due date open for over a month, the oldest from 2026-03-02 (\"write the rota\"): close, drop or re-date them (`duet commit list --open`)."
        );
    }
}
