//! The drift signals as data: each rule, its threshold, and the typed record it raises.
//!
//! A signal names what it saw (the people, meetings and items it concerns, and the numbers)
//! and never how to say it: the CLI words each kind for a terminal, the mobile API for a
//! phone, and an app may render, sort or translate them its own way. Nothing is raised when
//! all is well.

use super::health::{days_between, Health, MeetingLength, StaleCommitment};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// The last held meeting is this share of a cadence ago, or more, before it is a signal.
pub const LONG_GAP_PERCENT: u32 = 150;

/// A streak of canceled or moved meetings is called out from this many in a row.
pub const DISRUPTED_STREAK: usize = 2;

/// Status-only meetings are a signal from this many held meetings in the window...
pub const ALL_STATUS_MIN_HELD: usize = 2;

/// ...when at least this share of them were all status.
pub const ALL_STATUS_PERCENT: usize = 50;

/// Held meetings with nothing in them (no notes, agenda or commitments) are a signal from
/// this many in the window.
pub const EMPTY_MEETINGS: usize = 2;

/// A held meeting is short when it ran less than this share of the planned length.
pub const SHORT_PERCENT: u32 = 75;

/// Short meetings are a signal from this many in a row, the most recent included.
pub const SHORT_RUN: usize = 3;

/// The agenda is one-sided from this many items in the window...
pub const ONE_SIDED_MIN_ITEMS: usize = 5;

/// ...when one person brought at least this share of them.
pub const ONE_SIDED_PERCENT: usize = 80;

/// One thing that deserves attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    /// Meetings of the window were canceled or moved to another date.
    Disrupted {
        /// Concluded meetings looked at.
        window: usize,
        /// Of those, canceled.
        canceled: usize,
        /// Of those, moved.
        moved: usize,
        /// The most recent ones canceled or moved in a row (0 below [`DISRUPTED_STREAK`]).
        streak: usize,
    },
    /// The last 1-1 was held [`LONG_GAP_PERCENT`] of a cadence ago or more.
    LongGap {
        /// The day it was held.
        last_held: String,
        /// Days since.
        days: u32,
        /// The planned cadence, in days.
        every_days: u32,
    },
    /// No 1-1 has been held: every concluded meeting was canceled.
    NoneHeld {
        /// Meetings canceled.
        canceled: usize,
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
    /// A person's commitments were done late or are open past their due date.
    LateCommitments {
        /// Person id.
        person: String,
        /// Display name.
        name: String,
        /// Commitments they own.
        made: usize,
        /// Done.
        done: usize,
        /// Done after the due date.
        done_late: usize,
        /// Open after the due date.
        open_past_due: usize,
    },
    /// A person's commitments with no due date have been open for more than
    /// [`super::health::STALE_AFTER_CADENCES`] cadences.
    StaleCommitments {
        /// Person id.
        person: String,
        /// Display name.
        name: String,
        /// How many.
        count: usize,
        /// The threshold they are past, in days.
        open_over_days: u32,
        /// The oldest, oldest first (at most [`super::health::STALE_NAMED`]).
        oldest: Vec<StaleCommitment>,
    },
    /// Held meetings whose notes were only status: nothing under check-in, challenges or
    /// look-ahead.
    AllStatus {
        /// Held meetings in the window.
        held: usize,
        /// The dates of those that were all status.
        dates: Vec<String>,
    },
    /// Held meetings with no notes, no agenda and no commitments.
    EmptyMeetings {
        /// Held meetings in the window.
        held: usize,
        /// Their dates.
        dates: Vec<String>,
    },
    /// The most recent held meetings ran well short of the planned length.
    ShortMeetings {
        /// The planned length, in minutes.
        planned_minutes: u32,
        /// The run, most recent first.
        meetings: Vec<MeetingLength>,
    },
    /// An item on the upcoming agenda was carried
    /// [`CARRIED_NUDGE`](crate::model::views::CARRIED_NUDGE) times or more.
    CarriedOften {
        /// Item id.
        item: String,
        /// Its text.
        text: String,
        /// Meetings it was carried through.
        times: u32,
        /// Other items carried as often.
        more: usize,
    },
    /// One person brought nearly all of the agenda.
    OneSidedAgenda {
        /// Person id.
        person: String,
        /// Display name.
        name: String,
        /// Items they brought.
        items: usize,
        /// Items in all.
        total: usize,
        /// The other people's names.
        others: Vec<String>,
    },
}

impl Signal {
    /// The kind's name, as in JSON (`long_gap`, `stale_commitments`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Signal::Disrupted { .. } => "disrupted",
            Signal::LongGap { .. } => "long_gap",
            Signal::NoneHeld { .. } => "none_held",
            Signal::NotWrapped { .. } => "not_wrapped",
            Signal::NothingBooked => "nothing_booked",
            Signal::LateCommitments { .. } => "late_commitments",
            Signal::StaleCommitments { .. } => "stale_commitments",
            Signal::AllStatus { .. } => "all_status",
            Signal::EmptyMeetings { .. } => "empty_meetings",
            Signal::ShortMeetings { .. } => "short_meetings",
            Signal::CarriedOften { .. } => "carried_often",
            Signal::OneSidedAgenda { .. } => "one_sided_agenda",
        }
    }
}

/// Whether a meeting that ran `minutes` is short of a plan of `planned` minutes.
pub fn short_of(minutes: u32, planned: u32) -> bool {
    u64::from(minutes) * 100 < u64::from(planned) * u64::from(SHORT_PERCENT)
}

/// The signals the facts raise, in a stable order: meetings, then commitments, then what
/// the meetings held.
pub fn signals(h: &Health, today: Date) -> Vec<Signal> {
    let mut out = Vec::new();
    if h.canceled > 0 || h.rescheduled > 0 {
        out.push(Signal::Disrupted {
            window: h.window,
            canceled: h.canceled,
            moved: h.rescheduled,
            streak: if h.disrupted_streak >= DISRUPTED_STREAK {
                h.disrupted_streak
            } else {
                0
            },
        });
    }
    match (h.days_since_held, &h.last_held) {
        (Some(days), Some(date))
            if days * 100 >= i64::from(h.every_days) * i64::from(LONG_GAP_PERCENT) =>
        {
            out.push(Signal::LongGap {
                last_held: date.clone(),
                days: u32::try_from(days).unwrap_or(u32::MAX),
                every_days: h.every_days,
            })
        }
        (None, _) if h.window > 0 => out.push(Signal::NoneHeld {
            canceled: h.canceled,
        }),
        _ => {}
    }
    for m in &h.not_wrapped {
        out.push(Signal::NotWrapped {
            meeting: m.id.clone(),
            date: m.date.clone(),
            days_ago: m
                .date
                .parse::<Date>()
                .map(|d| days_between(d, today))
                .unwrap_or(0),
        });
    }
    if h.next_meeting.is_none() {
        out.push(Signal::NothingBooked);
    }
    for f in &h.follow_through {
        if f.done_late > 0 || f.open_past_due > 0 {
            out.push(Signal::LateCommitments {
                person: f.person.clone(),
                name: f.name.clone(),
                made: f.made,
                done: f.done,
                done_late: f.done_late,
                open_past_due: f.open_past_due,
            });
        }
        if f.stale > 0 {
            out.push(Signal::StaleCommitments {
                person: f.person.clone(),
                name: f.name.clone(),
                count: f.stale,
                open_over_days: h
                    .every_days
                    .saturating_mul(super::health::STALE_AFTER_CADENCES),
                oldest: f.oldest_stale.clone(),
            });
        }
    }
    if h.held >= ALL_STATUS_MIN_HELD && h.all_status.len() * 100 >= h.held * ALL_STATUS_PERCENT {
        out.push(Signal::AllStatus {
            held: h.held,
            dates: h.all_status.clone(),
        });
    }
    if h.empty.len() >= EMPTY_MEETINGS {
        out.push(Signal::EmptyMeetings {
            held: h.held,
            dates: h.empty.clone(),
        });
    }
    if h.short_run.len() >= SHORT_RUN {
        out.push(Signal::ShortMeetings {
            planned_minutes: h.planned_minutes,
            meetings: h.short_run.clone(),
        });
    }
    if let Some(most) = h.carried_often.first() {
        out.push(Signal::CarriedOften {
            item: most.id.clone(),
            text: most.text.clone(),
            times: most.carried,
            more: h.carried_often.len() - 1,
        });
    }
    let total: usize = h.agenda_by.iter().map(|s| s.items).sum();
    if total >= ONE_SIDED_MIN_ITEMS {
        if let Some(top) = h.agenda_by.iter().max_by_key(|s| s.items) {
            if top.items * 100 >= total * ONE_SIDED_PERCENT {
                out.push(Signal::OneSidedAgenda {
                    person: top.person.clone(),
                    name: top.name.clone(),
                    items: top.items,
                    total,
                    others: h
                        .agenda_by
                        .iter()
                        .filter(|s| s.person != top.person)
                        .map(|s| s.name.clone())
                        .collect(),
                });
            }
        }
    }
    out
}
