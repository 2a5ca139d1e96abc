//! `duet`: the command-line front end. Parses arguments, calls the `duet_core::Duet`
//! façade, renders the result; nothing more.

mod args;
mod commands;
mod demo;
mod network;
mod practice;
mod render;

use clap::Parser;
use duet_core::store::StoreError;
use duet_core::DuetError;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let json = cli.json;
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            let code = exit_code(&err);
            if json {
                let body = serde_json::json!({ "error": format!("{err:#}"), "exit_code": code });
                eprintln!("{body}");
            } else {
                eprintln!("duet: {err:#}");
            }
            ExitCode::from(code)
        }
    }
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
