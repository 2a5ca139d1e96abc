//! The drift signals for the phone: each as a typed record an app can render, sort or
//! translate its own way, with a plain sentence beside it that speaks of what to do in the
//! app, never of a command to type.

use duet_core::insights::health::{MeetingLength, StaleCommitment};
use duet_core::insights::signals::Signal;

/// A commitment open too long with no due date.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StaleCommitmentRecord {
    /// Commitment id.
    pub id: String,
    /// What was promised.
    pub text: String,
    /// The date of the meeting it was made in (`YYYY-MM-DD`).
    pub since: String,
    /// Days open.
    pub days_open: u32,
}

/// A held meeting and how long it ran.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MeetingLengthRecord {
    /// Meeting id.
    pub meeting: String,
    /// Its date.
    pub date: String,
    /// Minutes it ran.
    pub minutes: u32,
}

/// What a signal saw, by kind, with the people, meetings, items and numbers it concerns.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SignalKind {
    /// Meetings were canceled or moved.
    Disrupted {
        /// Concluded meetings looked at.
        window: u32,
        /// Canceled.
        canceled: u32,
        /// Moved to another date.
        moved: u32,
        /// The most recent ones canceled or moved in a row (0 when fewer than two).
        streak: u32,
    },
    /// Too long since the last 1-1 for the planned cadence.
    LongGap {
        /// The day it was held.
        last_held: String,
        /// Days since.
        days: u32,
        /// The planned cadence, in days.
        every_days: u32,
    },
    /// Every meeting so far was canceled.
    NoneHeld {
        /// Meetings canceled.
        canceled: u32,
    },
    /// A meeting's date passed and it was neither wrapped up nor canceled.
    NotWrapped {
        /// Meeting id.
        meeting: String,
        /// Its date.
        date: String,
        /// Days since that date.
        days_ago: u32,
    },
    /// No meeting is on the books.
    NothingBooked,
    /// A person's commitments were done late or are open past due.
    LateCommitments {
        /// Person id.
        person: String,
        /// Display name.
        name: String,
        /// Commitments they own.
        made: u32,
        /// Done.
        done: u32,
        /// Done after the due date.
        done_late: u32,
        /// Open after the due date.
        open_past_due: u32,
    },
    /// A person's commitments with no due date have been open too long.
    StaleCommitments {
        /// Person id.
        person: String,
        /// Display name.
        name: String,
        /// How many.
        count: u32,
        /// The threshold they are past, in days.
        open_over_days: u32,
        /// The oldest, oldest first.
        oldest: Vec<StaleCommitmentRecord>,
    },
    /// Held meetings whose notes were only status.
    AllStatus {
        /// Held meetings looked at.
        held: u32,
        /// Dates of those that were all status.
        dates: Vec<String>,
    },
    /// Held meetings with no notes, agenda or commitments.
    EmptyMeetings {
        /// Held meetings looked at.
        held: u32,
        /// Their dates.
        dates: Vec<String>,
    },
    /// The most recent meetings ran well short of the planned length.
    ShortMeetings {
        /// Planned minutes.
        planned_minutes: u32,
        /// The run, most recent first.
        meetings: Vec<MeetingLengthRecord>,
    },
    /// An agenda item carried again and again.
    CarriedOften {
        /// Item id.
        item: String,
        /// Its text.
        text: String,
        /// Meetings it was carried through.
        times: u32,
        /// Other items carried as often.
        more: u32,
    },
    /// One person brought nearly all of the agenda.
    OneSidedAgenda {
        /// Person id.
        person: String,
        /// Display name.
        name: String,
        /// Items they brought.
        items: u32,
        /// Items in all.
        total: u32,
        /// The other people's names.
        others: Vec<String>,
    },
}

/// One drift signal: what it saw, and a sentence an app may show as it is.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SignalRecord {
    /// The data, by kind.
    pub kind: SignalKind,
    /// In plain words, for the phone.
    pub text: String,
}

fn n(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn stale(c: StaleCommitment) -> StaleCommitmentRecord {
    StaleCommitmentRecord {
        id: c.id,
        text: c.text,
        since: c.since,
        days_open: c.days_open,
    }
}

fn length(m: MeetingLength) -> MeetingLengthRecord {
    MeetingLengthRecord {
        meeting: m.meeting,
        date: m.date,
        minutes: m.minutes,
    }
}

impl From<Signal> for SignalRecord {
    fn from(s: Signal) -> Self {
        let text = sentence(&s);
        let kind = match s {
            Signal::Disrupted {
                window,
                canceled,
                moved,
                streak,
            } => SignalKind::Disrupted {
                window: n(window),
                canceled: n(canceled),
                moved: n(moved),
                streak: n(streak),
            },
            Signal::LongGap {
                last_held,
                days,
                every_days,
            } => SignalKind::LongGap {
                last_held,
                days,
                every_days,
            },
            Signal::NoneHeld { canceled } => SignalKind::NoneHeld {
                canceled: n(canceled),
            },
            Signal::NotWrapped {
                meeting,
                date,
                days_ago,
            } => SignalKind::NotWrapped {
                meeting,
                date,
                days_ago,
            },
            Signal::NothingBooked => SignalKind::NothingBooked,
            Signal::LateCommitments {
                person,
                name,
                made,
                done,
                done_late,
                open_past_due,
            } => SignalKind::LateCommitments {
                person,
                name,
                made: n(made),
                done: n(done),
                done_late: n(done_late),
                open_past_due: n(open_past_due),
            },
            Signal::StaleCommitments {
                person,
                name,
                count,
                open_over_days,
                oldest,
            } => SignalKind::StaleCommitments {
                person,
                name,
                count: n(count),
                open_over_days,
                oldest: oldest.into_iter().map(stale).collect(),
            },
            Signal::AllStatus { held, dates } => SignalKind::AllStatus {
                held: n(held),
                dates,
            },
            Signal::EmptyMeetings { held, dates } => SignalKind::EmptyMeetings {
                held: n(held),
                dates,
            },
            Signal::ShortMeetings {
                planned_minutes,
                meetings,
            } => SignalKind::ShortMeetings {
                planned_minutes,
                meetings: meetings.into_iter().map(length).collect(),
            },
            Signal::CarriedOften {
                item,
                text,
                times,
                more,
            } => SignalKind::CarriedOften {
                item,
                text,
                times,
                more: n(more),
            },
            Signal::OneSidedAgenda {
                person,
                name,
                items,
                total,
                others,
            } => SignalKind::OneSidedAgenda {
                person,
                name,
                items: n(items),
                total: n(total),
                others,
            },
        };
        SignalRecord { kind, text }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The phone's sentence for a signal: what was seen, and what to do in the app.
fn sentence(s: &Signal) -> String {
    match s {
        Signal::Disrupted {
            window,
            canceled,
            moved,
            streak,
        } => {
            let mut line = format!(
                "Of the last {}, {canceled} canceled and {moved} moved.",
                plural(*window, "meeting", "meetings")
            );
            if *streak > 0 {
                line.push_str(&format!(" The last {streak} in a row."));
            }
            line
        }
        Signal::LongGap { days, .. } => format!(
            "Your last 1-1 was {} ago: put the next one on the books.",
            plural(*days as usize, "day", "days")
        ),
        Signal::NoneHeld { .. } => "No 1-1 has been held yet.".into(),
        Signal::NotWrapped { date, .. } => {
            format!("The meeting of {date} has passed: wrap it up or cancel it.")
        }
        Signal::NothingBooked => "No next meeting is on the books.".into(),
        Signal::LateCommitments {
            name,
            done_late,
            open_past_due,
            ..
        } => format!("{name}: {done_late} commitments done late, {open_past_due} past due."),
        Signal::StaleCommitments {
            name,
            count,
            oldest,
            ..
        } => {
            let since = oldest
                .first()
                .map(|c| format!(" since {}", c.since))
                .unwrap_or_default();
            format!(
                "{name} has {} open with no due date{since}: close, drop or give them a date.",
                plural(*count, "commitment", "commitments")
            )
        }
        Signal::AllStatus { held, dates } => format!(
            "{} of the last {held} meetings were only status updates.",
            dates.len()
        ),
        Signal::EmptyMeetings { held, dates } => format!(
            "{} of the last {held} meetings had nothing written in them.",
            dates.len()
        ),
        Signal::ShortMeetings {
            planned_minutes,
            meetings,
        } => format!(
            "The last {} meetings ended well before their {planned_minutes} minutes.",
            meetings.len()
        ),
        Signal::CarriedOften { text, times, .. } => format!(
            "\"{text}\" was carried {times} times: discuss it, keep it for later, or drop it."
        ),
        Signal::OneSidedAgenda {
            name, items, total, ..
        } => format!("{name} brought {items} of {total} agenda items."),
    }
}
