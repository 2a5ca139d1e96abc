//! Runs one parsed command against the `Duet` façade and prints its result as text or JSON.

use crate::args::{
    AgendaCmd, BundleCmd, CadenceArgs, Cli, Command, CommitCmd, ExportKind, MeetingCmd, NotebookCmd,
};
use crate::json::notebook::{
    list as list_of, AgendaItem, Commitment, Manifest, Meeting, MeetingSummary, Merge, Notebook,
    Overview, Wrap,
};
use crate::json::Contract;
use crate::render::{self, Palette};
use anyhow::{anyhow, Context, Result};
use clap::CommandFactory;
use duet_core::dates;
use duet_core::insights::health::Window;
use duet_core::model::views::Cadence;
use duet_core::model::CommitmentStatus;
use duet_core::{Duet, DuetError, JoinAs, WrapNotes};
use duet_node::HomeHandle;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

mod agenda;
mod bundle;
mod commitment;
mod meeting;
mod notebook;

/// Runs the command; errors bubble up to `main` for the message and exit code.
///
/// While a node runs on the home (`duet serve`), the command is carried out by it over its
/// control socket, with the same output and exit code; otherwise the home is opened here.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let out = Output::terminal(cli.json, Palette::for_stdout());
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "duet", &mut std::io::stdout());
            return Ok(ExitCode::SUCCESS);
        }
        Command::Demo => return crate::demo::run(out.json),
        Command::Service(cmd) => {
            let default_home = cli.home.is_none();
            let home = home_dir(cli.home)?;
            let action = match cmd {
                crate::args::ServiceCmd::Install { no_start } => {
                    crate::service::Action::Install { no_start }
                }
                crate::args::ServiceCmd::Uninstall => crate::service::Action::Uninstall,
                crate::args::ServiceCmd::Status => crate::service::Action::Status,
            };
            crate::service::run(&home, default_home, action, &out)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Init { name } => {
            let home = home_dir(cli.home)?;
            let duet = Duet::init(&home, &name)?;
            out.print(
                &crate::json::results::Identity {
                    name: duet.name().to_owned(),
                    device: duet.device_id().to_owned(),
                    home: home.clone(),
                },
                || format!("Made the identity of {} in {}\nNext: duet notebook new TITLE --me manager|report --with NAME\n", duet.name(), home.display()),
            );
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let home = home_dir(cli.home.clone())?;
    // `duet edit` runs the editor here and reaches the node (or the home) in steps.
    if let Command::Edit {
        meeting,
        section,
        resume,
        discard,
    } = cli.command
    {
        let request = crate::edit::EditRequest {
            meeting,
            section,
            resume,
            discard,
        };
        let cli = Cli {
            command: Command::Show,
            ..cli
        };
        return crate::edit::run(&home, &cli, request, &out);
    }
    if let Command::Meet = cli.command {
        return crate::meet::run(&home, &cli);
    }
    if !crate::confirm::allowed(&cli)? {
        eprintln!("Not linked.");
        return Ok(ExitCode::FAILURE);
    }
    if let Some(code) = crate::node::forward(&home, &cli, out.palette)? {
        return Ok(code);
    }
    if let Command::Serve {
        listen,
        no_announce,
        calendar,
        no_reminders,
    } = &cli.command
    {
        let extras = crate::node::Extras {
            calendar: calendar.clone(),
            reminders: !no_reminders,
        };
        crate::node::serve(&home, *listen, !no_announce, &extras, out.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Watch = &cli.command {
        crate::node::watch(&home, cli.notebook.as_deref(), &out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let duet = Duet::open_waiting(&home, lock_wait())?;
    let context = RunContext {
        notebook: cli.notebook,
        serving: None,
    };
    if is_network(&cli.command) {
        // The home moves to its own thread for the command, as in a node, so the network
        // code reaches it the one way it knows.
        let owner = duet_node::Home::spawn(duet)?;
        let handle = owner.handle();
        let rt = crate::network::runtime()?;
        let result = rt.block_on(run_network(&handle, context, cli.command, &out));
        owner.close();
        result?;
    } else {
        let mut duet = duet;
        run_local(&mut duet, &context, cli.command, &out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What a command runs with besides its arguments.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    /// `--notebook`, for this command only.
    pub notebook: Option<String>,
    /// Where the node serves, when the command runs in one.
    pub serving: Option<std::net::SocketAddr>,
}

/// Whether a command talks to other devices (and so must never hold the home while it
/// waits on the network).
pub fn is_network(command: &Command) -> bool {
    matches!(
        command,
        Command::Sync { .. }
            | Command::Join { .. }
            | Command::Invite { list: false, .. }
            | Command::Link { .. }
            | Command::Relay(crate::args::RelayCmd::Compact)
    )
}

/// Runs a command that needs only the home: one call on it.
pub fn run_local(
    duet: &mut Duet,
    context: &RunContext,
    command: Command,
    out: &Output,
) -> Result<()> {
    duet.deselect();
    if let Some(nb) = &context.notebook {
        duet.select(nb)?;
    }
    let result = execute(duet, command, out);
    duet.deselect();
    result
}

/// Runs a command that talks to other devices, reaching the home through its handle.
pub async fn run_network(
    home: &HomeHandle,
    context: RunContext,
    command: Command,
    out: &Output,
) -> Result<()> {
    let selected = match context.notebook.clone() {
        Some(nb) => Some(
            home.call(move |d| {
                d.select(&nb)?;
                let id = d.selected_notebook();
                d.deselect();
                id
            })
            .await?,
        ),
        None => None,
    };
    match command {
        Command::Sync {
            peer,
            fingerprint,
            nearby,
            wait,
            relay,
        } => {
            crate::network::sync(
                home,
                crate::network::SyncTargets {
                    peer,
                    fingerprint,
                    nearby: nearby.then(|| std::time::Duration::from_secs(wait)),
                    relay_only: relay,
                },
                out,
            )
            .await
        }
        Command::Join {
            ticket,
            as_role,
            no_sync,
        } => crate::network::join(home, &ticket, as_role, no_sync, out).await,
        Command::Invite {
            revoke: Some(id), ..
        } => crate::invites::revoke(home, selected, id, out).await,
        Command::Invite {
            addrs,
            port,
            expires,
            ..
        } => {
            let ask = crate::invites::InviteAsk {
                addrs,
                port,
                expires,
            };
            crate::invites::invite(home, selected, ask, context, out).await
        }
        Command::Link {
            ticket: Some(ticket),
            no_sync,
            ..
        } => crate::network::link_and_sync(home, &ticket, no_sync, out).await,
        Command::Link {
            ticket: None,
            addrs,
            port,
            ..
        } => {
            let ask = crate::invites::InviteAsk {
                addrs,
                port,
                expires: None,
            };
            crate::invites::link(home, selected, ask, context, out).await
        }
        Command::Relay(crate::args::RelayCmd::Compact) => {
            crate::network::compact(home, selected, out).await
        }
        other => Err(anyhow!("not a network command: {other:?}")),
    }
}

/// Where a command's output goes.
#[derive(Clone)]
enum Sink {
    /// This process's standard output.
    Stdout,
    /// A buffer sent back to the command's own process (in a node).
    Buffer(Arc<Mutex<Vec<u8>>>),
}

/// How to print results.
#[derive(Clone)]
pub struct Output {
    pub json: bool,
    pub palette: Palette,
    sink: Sink,
}

impl Output {
    /// Prints to standard output.
    pub fn terminal(json: bool, palette: Palette) -> Output {
        Output {
            json,
            palette,
            sink: Sink::Stdout,
        }
    }

    /// Collects output for another process; returns the buffer it fills.
    pub fn captured(json: bool, palette: Palette) -> (Output, Arc<Mutex<Vec<u8>>>) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let out = Output {
            json,
            palette,
            sink: Sink::Buffer(buffer.clone()),
        };
        (out, buffer)
    }

    /// Writes text as it is.
    pub fn write(&self, text: &str) {
        match &self.sink {
            Sink::Stdout => {
                use std::io::Write;
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(text.as_bytes());
                let _ = stdout.flush();
            }
            Sink::Buffer(buffer) => {
                if let Ok(mut b) = buffer.lock() {
                    b.extend_from_slice(text.as_bytes());
                }
            }
        }
    }

    /// Prints JSON of `value`, or the text `text` renders.
    pub fn print<T: Contract>(&self, value: &T, text: impl FnOnce() -> String) {
        self.print_lazy(|| value, text);
    }

    /// [`Self::print`] for output that is long to build as JSON (years of history): the
    /// JSON value is built only when JSON is asked for.
    pub fn print_lazy<T: Contract>(
        &self,
        value: impl FnOnce() -> T,
        text: impl FnOnce() -> String,
    ) {
        if self.json {
            match serde_json::to_string_pretty(&value()) {
                Ok(s) => self.write(&format!("{s}\n")),
                Err(e) => self.write(&format!("{{\"error\": \"cannot encode JSON: {e}\"}}\n")),
            }
        } else {
            self.write(&text());
        }
    }
}

/// How long a command waits for the home while another process (a sync that `duet serve`
/// runs, say) holds it: `DUET_LOCK_WAIT_MS`, default 10 s.
pub fn lock_wait() -> std::time::Duration {
    let ms = std::env::var("DUET_LOCK_WAIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    std::time::Duration::from_millis(ms)
}

fn home_dir(home: Option<PathBuf>) -> Result<PathBuf> {
    match home {
        Some(h) => Ok(h),
        None => Duet::default_home().ok_or_else(|| {
            anyhow!("cannot find a data directory for Duet; pass --home DIR or set DUET_HOME")
        }),
    }
}

fn cadence(args: &CadenceArgs, base: Cadence) -> Result<Cadence> {
    let every_days = match &args.every {
        Some(e) => dates::parse_interval_days(e).map_err(|e| DuetError::Invalid(e.to_string()))?,
        None => base.every_days,
    };
    Ok(Cadence {
        every_days,
        minutes: args.minutes.unwrap_or(base.minutes),
    })
}

/// Runs a command that needs only the open home.
fn execute(duet: &mut Duet, command: Command, out: &Output) -> Result<()> {
    let p = out.palette;
    match command {
        Command::Init { .. }
        | Command::Completions { .. }
        | Command::Service(_)
        | Command::Demo
        | Command::Serve { .. }
        | Command::Watch => {
            return Err(anyhow!(DuetError::Invalid(
                "this command is not carried out by a running node".into()
            )))
        }
        Command::Notebook(cmd) => notebook::run(duet, cmd, out)?,
        Command::Meeting(cmd) => meeting::run(duet, cmd, out)?,
        Command::Note {
            text,
            section,
            meeting,
        } => {
            let id = duet.meetings().note(section, &text, meeting.as_deref())?;
            out.print(
                &crate::json::results::NoteAdded {
                    meeting: id.to_string(),
                    section: section.key(),
                },
                || format!("Added to {} of meeting {id}.\n", section.title()),
            );
        }
        Command::Agenda(cmd) => agenda::run(duet, cmd, out)?,
        Command::Commit(cmd) => commitment::run(duet, cmd, out)?,
        Command::Wrap {
            takeaway,
            next_steps,
            need,
            minutes,
            meeting,
        } => {
            let w = duet.meetings().wrap(
                meeting.as_deref(),
                &WrapNotes {
                    takeaway: takeaway.as_deref(),
                    next_steps: next_steps.as_deref(),
                    needs: need.as_deref(),
                    minutes,
                },
            )?;
            out.print(&Wrap::from(&w), || render::wrapped(&w));
        }
        Command::Edit { .. } | Command::Meet => {
            return Err(anyhow!(DuetError::Invalid(
                "`duet edit` and `duet meet` run in a terminal of their own".into()
            )))
        }
        Command::SheetSource { meeting } => crate::edit::source(duet, meeting.as_deref(), out)?,
        Command::SheetApply { state } => crate::edit::apply(duet, &state, out)?,
        Command::Undo { list: true } => {
            let list = duet.undo_list()?;
            out.print_lazy(
                || crate::json::results::UndoList::from(&list),
                || render::undo_list(&list),
            );
        }
        Command::Undo { list: false } => {
            let undone = duet.undo()?;
            out.print(
                &crate::json::results::Undone::from(("undo", &undone)),
                || render::undone("Undone", &undone),
            );
        }
        Command::Redo => {
            let redone = duet.redo()?;
            out.print(
                &crate::json::results::Undone::from(("redo", &redone)),
                || render::undone("Redone", &redone),
            );
        }
        Command::Show => {
            let o = duet.meetings().overview()?;
            out.print_lazy(|| Overview::from(&o), || render::overview(&o, p));
        }
        Command::Export {
            format,
            output,
            meeting: Some(m),
        } => {
            if format != ExportKind::Md {
                return Err(DuetError::Invalid(
                    "--meeting writes a Markdown summary: use it with --format md".into(),
                )
                .into());
            }
            crate::practice::export_meeting(duet, &m, output.as_deref(), out)?
        }
        Command::Export {
            format,
            output,
            meeting: None,
        } => export(duet, format, output.as_deref(), out)?,
        Command::Prep => crate::practice::prep(duet, out)?,
        Command::Week { from, to } => crate::week::week(duet, from, to, out)?,
        Command::Today => crate::week::today(duet, out)?,
        Command::Calendar { output } => crate::calendar::calendar(duet, output.as_deref(), out)?,
        Command::Remind { before, all } => crate::calendar::remind(duet, before, all, out)?,
        Command::Health { last, since } => {
            let window = match since {
                Some(day) => Window::Since(day),
                None => Window::Last(last),
            };
            crate::practice::health(duet, window, out)?
        }
        Command::Ask { id, add, new, list } => crate::practice::ask(duet, id, add, new, list, out)?,
        Command::Themes => crate::practice::themes(duet, out)?,
        Command::Search { words } => crate::practice::search(duet, &words, out)?,
        Command::History => crate::practice::history(duet, out)?,
        Command::Private { text, meeting } => crate::practice::private(duet, text, meeting, out)?,
        Command::Import { dir } => {
            let r = duet.import_automerge(&dir)?;
            out.print(&Merge::from(&r), || {
                format!(
                    "Merged {} new change(s) into {} document(s).\n",
                    r.changes, r.documents
                )
            });
        }
        Command::Peers => crate::network::peers(duet, out)?,
        Command::Devices { cmd } => crate::members::devices(duet, cmd, out)?,
        Command::Status => crate::node::status_offline(duet, out)?,
        Command::Doctor => crate::doctor::run(duet, out)?,
        Command::Relay(cmd) => crate::network::relay(duet, cmd, out)?,
        Command::Invite { list: true, .. } => crate::invites::list(duet, out)?,
        Command::Invite { .. } | Command::Join { .. } | Command::Link { .. } => {
            return Err(anyhow!("not a local command: {command:?}"))
        }
        Command::Sync { .. } => {
            return Err(anyhow!(
                "`duet sync` talks to other devices: not a local command"
            ))
        }
        Command::Bundle(cmd) => bundle::run(duet, cmd, out)?,
    }
    Ok(())
}

fn export(duet: &mut Duet, format: ExportKind, output: Option<&Path>, out: &Output) -> Result<()> {
    match format {
        ExportKind::Automerge => {
            let dir = output.ok_or_else(|| {
                DuetError::Invalid("--format automerge needs --output DIR".into())
            })?;
            let manifest = duet.export_automerge(dir)?;
            out.print(&Manifest::from(&manifest), || {
                format!(
                    "Wrote {} document(s) and {} to {}.\n",
                    manifest.documents.len(),
                    duet_core::MANIFEST_FILE,
                    dir.display()
                )
            });
        }
        ExportKind::Md | ExportKind::Json => {
            let nb = duet.notebook()?;
            let history = duet.meetings().history()?;
            let text = if format == ExportKind::Md {
                render::markdown(&nb, &history)
            } else {
                serde_json::to_string_pretty(&crate::json::results::Export {
                    notebook: Notebook::from(&nb),
                    meetings: list_of::<_, Meeting>(&history),
                })? + "\n"
            };
            match output {
                Some(path) => std::fs::write(path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => out.write(&text),
            }
        }
    }
    Ok(())
}
