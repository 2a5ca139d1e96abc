//! One `duet` command run on behalf of a front end that stays in the terminal (`duet edit`,
//! `duet meet`), with its output captured instead of printed: through the running node, on
//! the home opened for that one command, or on a home this process already owns.

use crate::args::Cli;
use crate::commands::{self, Output, RunContext};
use crate::render::Palette;
use anyhow::{anyhow, Result};
use clap::Parser;
use duet_core::Duet;
use duet_node::HomeHandle;
use std::path::Path;
use std::process::ExitCode;

/// What a command printed, and its exit code.
#[derive(Debug)]
pub struct StepReply {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

impl StepReply {
    /// Prints the command's error as it came and exits with its code.
    pub fn pass_on(&self) -> ExitCode {
        eprint!("{}", self.stderr);
        ExitCode::from(self.code)
    }
}

/// Where a command runs.
#[derive(Clone, Copy)]
pub enum Via<'a> {
    /// The node running on this home, else the home opened for this command only.
    Home(&'a Path),
    /// A home this process owns (its own node).
    Handle(&'a HomeHandle),
}

/// Runs `duet ARGV` (the arguments after the program name), parsed here and sent typed.
pub fn run(via: Via<'_>, argv: Vec<String>) -> Result<StepReply> {
    let parsed = Cli::try_parse_from(std::iter::once("duet".to_owned()).chain(argv))
        .map_err(|e| anyhow!("{e}"))?;
    if let Via::Home(home) = via {
        if let Some(reply) = crate::node::request(home, &parsed)? {
            return Ok(reply);
        }
    }
    let json = parsed.json;
    let (out, buffer) = Output::captured(json, Palette::with_color(false));
    let context = RunContext {
        notebook: parsed.notebook.clone(),
        serving: None,
    };
    let command = parsed.command;
    let result = match via {
        Via::Home(home) => Duet::open_waiting(home, commands::lock_wait())
            .map_err(anyhow::Error::from)
            .and_then(|mut duet| commands::run_local(&mut duet, &context, command, &out)),
        Via::Handle(handle) => {
            let out = out.clone();
            handle.call_blocking(move |duet| commands::run_local(duet, &context, command, &out))
        }
    };
    let stdout = buffer
        .lock()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok(match result {
        Ok(()) => StepReply {
            stdout,
            stderr: String::new(),
            code: 0,
        },
        Err(err) => {
            let (stderr, code) = crate::error_report(&err, json);
            StepReply {
                stdout,
                stderr,
                code,
            }
        }
    })
}
