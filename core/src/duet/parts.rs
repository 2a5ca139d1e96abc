//! The app API by part of the notebook. `Duet` itself opens a home, picks and lists
//! notebooks, exchanges files and undoes edits; everything else is reached through one
//! handle per part (`duet.agenda().add(…)`, `duet.relay().cursor(…)`), so what the
//! CLI and the phone can do is listed here, a line a part, and each part's methods live
//! in the file of that part.

use super::Duet;

/// The selected notebook's agenda: items, their order and carry-over, the backlog, and
/// recurring talking points (`agenda.rs`, `recur.rs`).
pub struct Agenda<D> {
    pub(super) duet: D,
}

/// The selected notebook's meetings: booking, notes by section, wrapping up, the
/// meeting as a sheet of Markdown, and the views of past meetings (`meetings.rs`,
/// `sheet.rs`).
pub struct Meetings<D> {
    pub(super) duet: D,
}

/// The selected notebook's commitments and who owns them (`commits.rs`).
pub struct Commitments<D> {
    pub(super) duet: D,
}

/// The selected notebook's question bank (`questions.rs`).
pub struct Questions<D> {
    pub(super) duet: D,
}

/// When meetings happen: the meeting time, reminders, the calendar, and the week across
/// every notebook (`calendar.rs`, `week.rs`).
pub struct Schedule<D> {
    pub(super) duet: D,
}

/// Read-only views across the selected notebook's history: health, themes, search,
/// preparation (`insights.rs`).
pub struct Insights<D> {
    pub(super) duet: D,
}

/// Who is in the selected notebook: devices, removal, invites and links
/// (`devices.rs`, `epochs.rs`, `invites.rs`, `peer.rs`).
pub struct Members<D> {
    pub(super) duet: D,
}

/// Joining a notebook or linking into a person's private notes, from a ticket
/// (`peer.rs`, `private.rs`).
pub struct Joins<D> {
    pub(super) duet: D,
}

/// This person's private notes (`private.rs`).
pub struct PrivateNotes<D> {
    pub(super) duet: D,
}

/// Each notebook's relay: the setting, the sync state a person checks, and wake-ups
/// (`relay.rs`, `quarantine.rs`, `wake.rs`).
pub struct Relay<D> {
    pub(super) duet: D,
}

/// Devices this one syncs with directly: its TLS identity, where it serves, whom it
/// knows (`peer.rs`).
pub struct Peers<D> {
    pub(super) duet: D,
}

impl Duet {
    /// The selected notebook's agenda.
    pub fn agenda(&mut self) -> Agenda<&mut Duet> {
        Agenda { duet: self }
    }

    /// The selected notebook's meetings.
    pub fn meetings(&mut self) -> Meetings<&mut Duet> {
        Meetings { duet: self }
    }

    /// The same, to read.
    pub(crate) fn read_meetings(&self) -> Meetings<&Duet> {
        Meetings { duet: self }
    }

    /// The selected notebook's commitments.
    pub fn commitments(&mut self) -> Commitments<&mut Duet> {
        Commitments { duet: self }
    }

    /// The selected notebook's question bank.
    pub fn questions(&mut self) -> Questions<&mut Duet> {
        Questions { duet: self }
    }

    /// Meeting times, reminders, the calendar and the week.
    pub fn schedule(&mut self) -> Schedule<&mut Duet> {
        Schedule { duet: self }
    }

    /// Views across the selected notebook's history.
    pub fn insights(&self) -> Insights<&Duet> {
        Insights { duet: self }
    }

    /// The selected notebook's devices, invites and links.
    pub fn members(&mut self) -> Members<&mut Duet> {
        Members { duet: self }
    }

    /// Joining and linking from tickets.
    pub fn joins(&mut self) -> Joins<&mut Duet> {
        Joins { duet: self }
    }

    /// This person's private notes.
    pub fn private_notes(&mut self) -> PrivateNotes<&mut Duet> {
        PrivateNotes { duet: self }
    }

    /// The same, to read.
    pub(crate) fn read_private_notes(&self) -> PrivateNotes<&Duet> {
        PrivateNotes { duet: self }
    }

    /// Relays and what a person checks of their sync.
    pub fn relay(&mut self) -> Relay<&mut Duet> {
        Relay { duet: self }
    }

    /// The same, to read.
    pub(crate) fn read_relay(&self) -> Relay<&Duet> {
        Relay { duet: self }
    }

    /// Devices this one syncs with directly.
    pub fn peers(&self) -> Peers<&Duet> {
        Peers { duet: self }
    }
}
