//! `duet meet`: the current meeting on one full screen, live.
//!
//! The view reads the meeting and sends each edit as the `duet` command it stands for, so
//! an edit is saved (flushed) before the view shows it, and quitting, or being killed,
//! loses nothing that was shown. Where those commands run:
//! - a node runs on the home (`duet serve`): through it, and what it syncs shows up at the
//!   next refresh;
//! - none runs: `duet meet` is the node while it is open. It owns the home, carries out
//!   other `duet` commands sent meanwhile, and keeps the notebook's relay in sync, so the
//!   other person's edits arrive by themselves.
//!
//! The meeting is read again every [`REFRESH_EVERY`], so a change from the other device
//! appears within a second of reaching this one.

mod app;
mod draw;

use crate::args::Cli;
use crate::node::Session;
use crate::steps::{self, Via};
use anyhow::{anyhow, Result};
use app::{Action, App};
use duet_core::{DuetError, SheetSource};
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How often the meeting is read again.
pub const REFRESH_EVERY: Duration = Duration::from_millis(300);
/// How long the view waits for a key before it looks for changes.
const KEY_WAIT: Duration = Duration::from_millis(50);

/// Where the view's commands go.
enum Backend {
    /// A node runs on the home.
    Node(std::path::PathBuf),
    /// This process is the node while the view is open.
    Own(Session),
}

impl Backend {
    fn via(&self) -> Via<'_> {
        match self {
            Backend::Node(home) => Via::Home(home),
            Backend::Own(session) => Via::Handle(session.handle()),
        }
    }

    fn link(&self) -> &'static str {
        match self {
            Backend::Node(_) => "live through the running node",
            Backend::Own(_) => "live: this window keeps the notebook in sync",
        }
    }

    fn stop(self) {
        if let Backend::Own(session) = self {
            session.stop();
        }
    }
}

/// Runs `duet meet`.
pub fn run(home: &Path, cli: &Cli) -> Result<ExitCode> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(anyhow!(DuetError::Invalid(
            "`duet meet` is a full-screen view and needs a terminal; in scripts use `duet show`"
                .into()
        )));
    }
    let backend = if crate::node::running(home) {
        Backend::Node(home.to_owned())
    } else {
        Backend::Own(Session::start(home)?)
    };
    // The first read happens before the screen is taken, so a notebook with no meeting
    // gets its message and hint like any other command.
    let source = match read(&backend, cli) {
        Ok(source) => source,
        Err(Failed(reply)) => {
            backend.stop();
            return Ok(reply.pass_on());
        }
    };
    let mut app = App::new(source, backend.link().to_owned());
    let theme = draw::Theme {
        color: crate::render::Palette::for_stdout().colors(),
    };
    let mut terminal = ratatui::init();
    let result = event_loop(&mut terminal, &mut app, &backend, cli, theme);
    ratatui::restore();
    backend.stop();
    result.map(|()| ExitCode::SUCCESS)
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    backend: &Backend,
    cli: &Cli,
    theme: draw::Theme,
) -> Result<()> {
    let mut read_at = Instant::now();
    loop {
        terminal.draw(|frame| draw::draw(frame, app, theme))?;
        if event::poll(KEY_WAIT)? {
            if let Event::Key(key) = event::read()? {
                if key.kind == KeyEventKind::Press {
                    match app.on_key(key) {
                        Some(Action::Quit) => return Ok(()),
                        Some(Action::Run(argv)) => {
                            app.status = Some(carry_out(backend, cli, argv));
                            read_at = Instant::now() - REFRESH_EVERY;
                        }
                        None => {}
                    }
                }
            }
        }
        if read_at.elapsed() >= REFRESH_EVERY {
            read_at = Instant::now();
            match read(backend, cli) {
                Ok(source) => app.refresh(source),
                Err(Failed(reply)) => {
                    app.status = Some((first_line(&reply.stderr), true));
                }
            }
        }
    }
}

/// A command that failed, with what it said.
struct Failed(steps::StepReply);

/// The current meeting as it is now.
fn read(backend: &Backend, cli: &Cli) -> Result<SheetSource, Failed> {
    let reply = steps::run(
        backend.via(),
        with_notebook(cli, vec!["sheet-source".into()]),
    )
    .map_err(|e| Failed(failure(&e)))?;
    if reply.code != 0 {
        return Err(Failed(reply));
    }
    serde_json::from_str(&reply.stdout).map_err(|e| {
        Failed(failure(&anyhow!(
            "the meeting came back in a form this duet cannot read: {e}"
        )))
    })
}

/// Runs an edit; the status line says what happened.
fn carry_out(backend: &Backend, cli: &Cli, argv: Vec<String>) -> (String, bool) {
    match steps::run(backend.via(), with_notebook(cli, argv)) {
        Ok(reply) if reply.code == 0 => (first_line(&reply.stdout), false),
        Ok(reply) => (first_line(&reply.stderr), true),
        Err(e) => (format!("{e:#}"), true),
    }
}

fn with_notebook(cli: &Cli, argv: Vec<String>) -> Vec<String> {
    let mut full = Vec::new();
    if let Some(nb) = &cli.notebook {
        full.extend(["--notebook".to_owned(), nb.clone()]);
    }
    full.extend(argv);
    full
}

fn failure(err: &anyhow::Error) -> steps::StepReply {
    let (stderr, code) = crate::error_report(err, false);
    steps::StepReply {
        stdout: String::new(),
        stderr,
        code,
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("duet: ")
        .to_owned()
}
