//! `duet`: the command-line front end. Parses arguments, calls the `duet_core::Duet`
//! façade, renders the result; nothing more.

mod args;
mod calendar;
mod commands;
mod confirm;
mod demo;
mod doctor;
mod edit;
mod ics_import;
mod invites;
mod json;
mod meet;
mod members;
mod network;
mod node;
mod practice;
mod reminders;
mod render;
mod service;
use duet_core::sheet_text as sheet;
mod signals;
mod stdin_secret;
mod steps;
mod week;

use duet_core::store::StoreError;
use duet_core::DuetError;
use std::process::ExitCode;

fn main() -> ExitCode {
    let matches = <args::Cli as clap::CommandFactory>::command().get_matches();
    let mut cli = <args::Cli as clap::FromArgMatches>::from_arg_matches(&matches)
        .unwrap_or_else(|e| e.exit());
    if let Err(err) = stdin_secret::resolve(&mut cli) {
        let (text, code) = error_report(&err.into(), cli.json);
        eprint!("{text}");
        return ExitCode::from(code);
    }
    duet_core::store::set_holder_label(&holder_label(&matches));
    // The demo's homes are thrown away: their keys must not stay in the keychain.
    if matches.subcommand_name() != Some("demo") {
        duet_core::enable_os_keychain();
    }
    let json = cli.json;
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            let (text, code) = error_report(&err, json);
            eprint!("{text}");
            ExitCode::from(code)
        }
    }
}

/// `duet` and its subcommand names (`duet commit add`): what a lock file may say of this
/// process. Never an argument: a ticket or a token may be one.
fn holder_label(matches: &clap::ArgMatches) -> String {
    let mut label = String::from("duet");
    let mut at = matches;
    while let Some((name, sub)) = at.subcommand() {
        label.push(' ');
        label.push_str(name);
        at = sub;
    }
    label
}

/// An error as the command reports it on standard error, and its exit code (the same
/// whether the command ran here or in the node).
pub(crate) fn error_report(err: &anyhow::Error, json: bool) -> (String, u8) {
    let code = exit_code(err);
    let message = match hint(err) {
        Some(hint) => format!("{err:#}; {hint}"),
        None => format!("{err:#}"),
    };
    let text = if json {
        let body = json::sync::Failure {
            error: message,
            exit_code: code,
        };
        format!("{}\n", serde_json::to_string(&body).unwrap_or_default())
    } else {
        format!("duet: {message}\n")
    };
    (text, code)
}

/// What to type next, for the errors the person can act on with a `duet` command. The core
/// says what went wrong; the wording of the remedy is this front end's.
fn hint(err: &anyhow::Error) -> Option<&'static str> {
    use duet_core::invite::InviteError;
    use duet_node::net::NetError;
    let duet = err.downcast_ref::<DuetError>().or_else(|| {
        err.downcast_ref::<NetError>()
            .and_then(duet_node::net::local_error)
    });
    if let Some(e) = duet {
        return match e {
            DuetError::NotInitialized { .. } => Some("run `duet init --name YOUR_NAME` first"),
            DuetError::NoNotebook => {
                Some("create one with `duet notebook new TITLE --me manager --with NAME`")
            }
            DuetError::NoCurrentMeeting => {
                Some("put one on the books with `duet meeting new --on DATE`")
            }
            DuetError::NotArrived { .. } => {
                Some("run `duet sync` while the inviting device runs `duet serve`")
            }
            DuetError::AlreadyJoined { .. } => Some("sync it with `duet sync`"),
            DuetError::RemovedDevice { .. } => {
                Some("its notes stay readable here; `duet devices` on another device shows who removed it")
            }
            DuetError::Ticket(InviteError::LinkNotInvite) => {
                Some("take it with `duet link TICKET`")
            }
            DuetError::Ticket(InviteError::InviteNotLink) => {
                Some("take it with `duet join TICKET --as ROLE`")
            }
            _ => None,
        };
    }
    match err.downcast_ref::<NetError>() {
        Some(NetError::NoRelay { .. }) => {
            Some("set one with `duet relay set ADDR --fingerprint FP`")
        }
        _ => None,
    }
}

/// Exit codes scripts can rely on (also listed in `duet --help`).
fn exit_code(err: &anyhow::Error) -> u8 {
    if let Some(duet_node::net::NetError::Invite(_)) = err.downcast_ref() {
        return 2;
    }
    match err.downcast_ref::<DuetError>() {
        Some(DuetError::NotFound { .. } | DuetError::Ambiguous { .. }) => 3,
        Some(DuetError::Store(StoreError::Locked { .. })) => 4,
        Some(DuetError::Store(StoreError::DiskFull { .. })) => 7,
        Some(
            DuetError::Store(StoreError::Corrupt { .. } | StoreError::Damaged { .. })
            | DuetError::Bundle(_)
            | DuetError::BadImport(_),
        ) => 5,
        Some(
            DuetError::NotInitialized { .. }
            | DuetError::NoNotebook
            | DuetError::NoCurrentMeeting
            | DuetError::UnknownNotebook { .. }
            | DuetError::NotArrived { .. },
        ) => 6,
        Some(
            DuetError::Invalid(_)
            | DuetError::Ticket(_)
            | DuetError::AlreadyJoined { .. }
            | DuetError::NoSealingKey { .. }
            | DuetError::NotYourDevice { .. }
            | DuetError::Ended { .. }
            | DuetError::NothingTo { .. }
            | DuetError::EditGone { .. }
            | DuetError::NotYourLink { .. },
        ) => 2,
        _ => 1,
    }
}
