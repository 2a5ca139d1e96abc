//! Tickets and team tokens given as `-` are read from standard input, so they need not sit
//! in shell history or a process list (`duet join - --as report < ticket.txt`).
//!
//! The value replaces the `-` in the parsed command, which is what a running node is handed
//! over its owner-only socket.

use crate::args::{Cli, Command, RelayCmd};
use duet_core::DuetError;
use std::io::Read;

/// The longest value read from standard input (a ticket is at most 4 KiB of text).
const MAX_STDIN_SECRET_BYTES: usize = 16 * 1024;
/// What stands for "read it from standard input".
const FROM_STDIN: &str = "-";

/// Reads every `-` ticket or token of the command from standard input.
pub fn resolve(cli: &mut Cli) -> Result<(), DuetError> {
    let slot = match &mut cli.command {
        Command::Join { ticket, .. } => Some(ticket),
        Command::Link {
            ticket: Some(ticket),
            ..
        } => Some(ticket),
        Command::Relay(RelayCmd::Set {
            team_token: Some(token),
            ..
        }) => Some(token),
        _ => None,
    };
    let Some(slot) = slot else {
        return Ok(());
    };
    if slot != FROM_STDIN {
        return Ok(());
    }
    let value = read_one(std::io::stdin().lock())?;
    *slot = value;
    Ok(())
}

/// The one value on standard input: surrounding whitespace dropped, never empty.
fn read_one(input: impl Read) -> Result<String, DuetError> {
    let mut raw = Vec::new();
    input
        .take(MAX_STDIN_SECRET_BYTES as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| DuetError::Invalid(format!("reading standard input: {e}")))?;
    if raw.len() > MAX_STDIN_SECRET_BYTES {
        return Err(DuetError::Invalid(format!(
            "standard input holds more than {MAX_STDIN_SECRET_BYTES} bytes: expected one ticket or token"
        )));
    }
    let text = String::from_utf8(raw)
        .map_err(|_| DuetError::Invalid("standard input is not UTF-8 text".into()))?;
    let value = text.trim();
    if value.is_empty() {
        return Err(DuetError::Invalid(
            "`-` reads the ticket or token from standard input, which was empty".into(),
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_is_read_trimmed_and_bounded() {
        assert_eq!(
            read_one(&b"  duet1abc\n"[..]).expect("read"),
            "duet1abc".to_owned()
        );
        assert!(matches!(read_one(&b" \n"[..]), Err(DuetError::Invalid(_))));
        let big = vec![b'a'; MAX_STDIN_SECRET_BYTES + 1];
        assert!(matches!(read_one(&big[..]), Err(DuetError::Invalid(_))));
        assert!(matches!(
            read_one(&[0xff, 0xfe][..]),
            Err(DuetError::Invalid(_))
        ));
    }
}
