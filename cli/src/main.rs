//! `duet`: the command-line front end. Parses arguments, calls the `duet_core::Duet`
//! façade, renders the result; nothing more.

mod args;
mod commands;
mod demo;
mod network;
mod node;
mod practice;
mod render;

use clap::Parser;
use duet_core::store::StoreError;
use duet_core::DuetError;
use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = args::Cli::parse_from(argv.clone());
    let json = cli.json;
    match commands::run(cli, argv) {
        Ok(code) => code,
        Err(err) => {
            let (text, code) = error_report(&err, json);
            eprint!("{text}");
            ExitCode::from(code)
        }
    }
}

/// An error as the command reports it on standard error, and its exit code (the same
/// whether the command ran here or in the node).
pub(crate) fn error_report(err: &anyhow::Error, json: bool) -> (String, u8) {
    let code = exit_code(err);
    let text = if json {
        let body = serde_json::json!({ "error": format!("{err:#}"), "exit_code": code });
        format!("{body}\n")
    } else {
        format!("duet: {err:#}\n")
    };
    (text, code)
}

/// Exit codes scripts can rely on (also listed in `duet --help`).
fn exit_code(err: &anyhow::Error) -> u8 {
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
        Some(DuetError::Invalid(_)) => 2,
        _ => 1,
    }
}
