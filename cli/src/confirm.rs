//! Questions asked before a command changes something hard to undo: `duet link TICKET`
//! says which device and whose it links to, and asks before this device adopts that
//! personal space (`--yes` skips the question; with no terminal to ask on, `--yes` is
//! required).

use crate::args::{Cli, Command};
use duet_core::crypto::fingerprint_text;
use duet_core::invite::Invite;
use duet_core::one_time_invite::OneTimeInvite;
use duet_core::DuetError;
use std::io::{BufRead, IsTerminal, Write};

/// Whether the command may go on: asks when it needs to.
pub fn allowed(cli: &Cli) -> Result<bool, DuetError> {
    let Command::Link {
        ticket: Some(ticket),
        yes,
        ..
    } = &cli.command
    else {
        return Ok(true);
    };
    let (fingerprint, owner) = if OneTimeInvite::is_one_time_link(ticket) {
        let link = OneTimeInvite::from_link_ticket(ticket).map_err(DuetError::Ticket)?;
        (link.fingerprint, link.owner)
    } else {
        let link = Invite::from_link_ticket(ticket).map_err(DuetError::Ticket)?;
        (link.fingerprint, link.owner)
    };
    let fp = fingerprint_text(&fingerprint);
    let whose = match &owner {
        Some(o) => format!("{} ({}'s device", o.device, o.name),
        None => "a device (from an older Duet".to_owned(),
    };
    let what = format!(
        "This links your private notes with {whose}, fingerprint {}…). The private notes written here move into that device's personal space, and sync with it from now on.",
        fp.get(..12).unwrap_or(&fp)
    );
    if *yes {
        if !cli.json {
            eprintln!("{what}");
        }
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(DuetError::Invalid(format!(
            "{what}\nThere is no terminal to ask on: run it again with --yes to link."
        )));
    }
    eprint!("{what}\nLink? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| DuetError::Invalid(format!("reading the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}
