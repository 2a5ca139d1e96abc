//! The node on a laptop: `duet serve` (and `duet watch`) own the home while they run, and
//! every other `duet` command is carried out by them over the home's control socket.
//!
//! A command first tries the socket ([`forward`]): it sends the command as parsed (the
//! typed [`Cli`], never its argument strings), its working directory and whether its
//! terminal takes colour; the node runs it on its open home (documents already in memory,
//! no second store open) and returns the output and the exit code, which the command
//! prints and exits with. With no node, the command opens the home itself. The request and
//! reply are this crate's JSON types; the node's core only carries the bytes.

use crate::args::{BundleCmd, Cli, Command, MeetingCmd, NotebookCmd};
use crate::commands::{self, Output, RunContext};
use crate::json::notebook::list;
use crate::json::sync::{Live, Node, NotebookStatus, Report, ServeLine, Status};
use crate::network;
use crate::render::Palette;
use anyhow::{anyhow, Result};
use duet_core::crypto::fingerprint_text;
use duet_core::{Duet, DuetError};
use duet_node::announce::keep_announced;
use duet_node::control::{self, ControlSocket, Handler};
use duet_node::live::{LinkBoard, LiveEvent, LiveOptions, LiveSync};
use duet_node::net::server::{ServeEvent, Server};
use duet_node::{Home, HomeHandle};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::watch;

/// A command sent to the node.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    /// The command, parsed (and checked) by the process that sends it.
    cli: Cli,
    /// The command's working directory (relative paths are its).
    cwd: PathBuf,
    /// Whether the command's standard output takes colour.
    color: bool,
}

/// The node's answer.
#[derive(Debug, Serialize, Deserialize)]
struct Reply {
    stdout: String,
    stderr: String,
    code: u8,
}

/// Sends the command to the node running on `home`, prints its answer and returns its exit
/// code; `None` when no node runs (the caller opens the home itself).
pub fn forward(home: &Path, cli: &Cli, palette: Palette) -> Result<Option<ExitCode>> {
    if !control::socket_path(home).exists() {
        return Ok(None);
    }
    let request = Request {
        cli: cli.clone(),
        cwd: std::env::current_dir().unwrap_or_default(),
        color: palette.colors() && !cli.json,
    };
    let Some(reply) = send(home, &request)? else {
        return Ok(None);
    };
    use std::io::Write;
    let _ = std::io::stdout().write_all(reply.stdout.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(reply.stderr.as_bytes());
    Ok(Some(ExitCode::from(reply.code)))
}

/// Whether a node answers on the home's control socket (a socket left by a node that was
/// killed answers nothing).
pub fn running(home: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(control::socket_path(home)).is_ok()
}

/// Runs a command in the node running on `home` and returns its output and exit code;
/// `None` when no node runs.
pub fn request(home: &Path, cli: &Cli) -> Result<Option<crate::steps::StepReply>> {
    if !control::socket_path(home).exists() {
        return Ok(None);
    }
    let request = Request {
        cli: cli.clone(),
        cwd: std::env::current_dir().unwrap_or_default(),
        color: false,
    };
    Ok(send(home, &request)?.map(|r| crate::steps::StepReply {
        stdout: r.stdout,
        stderr: r.stderr,
        code: r.code,
    }))
}

fn send(home: &Path, request: &Request) -> Result<Option<Reply>> {
    // The one thing JSON cannot carry is a path that is not UTF-8.
    let body = serde_json::to_vec(request).map_err(|e| {
        anyhow!(DuetError::Invalid(format!(
            "the running node takes UTF-8 arguments and paths only: {e}"
        )))
    })?;
    let Some(reply) = control::request(home, &body)? else {
        return Ok(None);
    };
    let reply: Reply = serde_json::from_slice(&reply)
        .map_err(|e| anyhow!("the node sent an answer this duet cannot read: {e}"))?;
    Ok(Some(reply))
}

/// What the node's handler needs.
#[derive(Clone)]
struct NodeState {
    home: HomeHandle,
    serving: Option<SocketAddr>,
    board: LinkBoard,
    started: i64,
}

fn handler(state: NodeState) -> Handler {
    Arc::new(move |body: Vec<u8>| {
        let state = state.clone();
        Box::pin(async move {
            let reply = match serde_json::from_slice::<Request>(&body) {
                Ok(request) => answer(&state, request).await,
                Err(e) => Reply {
                    stdout: String::new(),
                    stderr: format!("duet: the node could not read the request: {e}\n"),
                    code: 2,
                },
            };
            serde_json::to_vec(&reply).unwrap_or_default()
        })
    })
}

async fn answer(state: &NodeState, request: Request) -> Reply {
    let cli = request.cli;
    let json = cli.json;
    let (out, buffer) = Output::captured(json, Palette::with_color(request.color));
    let result = run_in_node(state, cli, &request.cwd, &out).await;
    // Rendered text is UTF-8: taking it as is skips a second pass over a long listing.
    let stdout = buffer
        .lock()
        .map(|mut b| {
            String::from_utf8(std::mem::take(&mut *b))
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        })
        .unwrap_or_default();
    match result {
        Ok(()) => Reply {
            stdout,
            stderr: String::new(),
            code: 0,
        },
        Err(err) => {
            let (stderr, code) = crate::error_report(&err, json);
            Reply {
                stdout,
                stderr,
                code,
            }
        }
    }
}

async fn run_in_node(state: &NodeState, cli: Cli, cwd: &Path, out: &Output) -> Result<()> {
    let context = RunContext {
        notebook: cli.notebook,
        serving: state.serving,
    };
    let command = with_paths_from(cli.command, cwd);
    match command {
        Command::Edit { .. } | Command::Meet => Err(anyhow!(DuetError::Invalid(
            "`duet edit` and `duet meet` run in your own terminal; they are not carried out by \
             the node"
                .into()
        ))),
        Command::Serve { .. } | Command::Watch | Command::Init { .. } => Err(anyhow!(
            DuetError::Store(duet_core::store::StoreError::Locked {
                path: state.home.home().to_owned(),
                holder: format!("the running node, pid {}", std::process::id()),
            })
        )),
        Command::Status => status(state, out).await,
        command if commands::is_network(&command) => {
            commands::run_network(&state.home, context, command, out).await
        }
        command => {
            let out = out.clone();
            state
                .home
                .call(move |d| commands::run_local(d, &context, command, &out))
                .await
        }
    }
}

/// Makes the command's relative paths absolute against its own working directory.
fn with_paths_from(command: Command, cwd: &Path) -> Command {
    let abs = |p: PathBuf| if p.is_relative() { cwd.join(p) } else { p };
    match command {
        Command::Export {
            format,
            output,
            meeting,
        } => Command::Export {
            format,
            output: output.map(abs),
            meeting,
        },
        Command::Import { dir } => Command::Import { dir: abs(dir) },
        Command::Calendar { output } => Command::Calendar {
            output: output.map(abs),
        },
        Command::Meeting(MeetingCmd::Import { file, event }) => {
            Command::Meeting(MeetingCmd::Import {
                file: abs(file),
                event,
            })
        }
        Command::Notebook(NotebookCmd::New {
            title,
            me,
            with,
            cadence,
            first,
            from_ics,
            event,
        }) => Command::Notebook(NotebookCmd::New {
            title,
            me,
            with,
            cadence,
            first,
            from_ics: from_ics.map(abs),
            event,
        }),
        Command::SheetApply { state } => Command::SheetApply { state: abs(state) },
        Command::Bundle(BundleCmd::Out { file }) => {
            Command::Bundle(BundleCmd::Out { file: abs(file) })
        }
        Command::Bundle(BundleCmd::In {
            file,
            join,
            as_role,
        }) => Command::Bundle(BundleCmd::In {
            file: abs(file),
            join,
            as_role,
        }),
        other => other,
    }
}

fn notebook_statuses(d: &mut Duet) -> Result<Vec<NotebookStatus>, DuetError> {
    let relayed = d.relay().notebooks()?;
    let mut out = Vec::new();
    for nb in d.notebooks()? {
        let setting = relayed.iter().find(|(id, _)| *id == nb.id).map(|(_, s)| s);
        let not_on_relay = match setting {
            Some(_) => Some(d.relay().unacknowledged(&nb.id)?),
            None => None,
        };
        out.push(NotebookStatus {
            id: nb.id.clone(),
            title: nb.title.clone(),
            relay: setting.map(|s| s.addr.clone()),
            not_on_relay,
            not_on_any_other_device: d.relay().unshared_changes(&nb.id)?,
            relay_rewound: d.relay().rewound_at(&nb.id)?,
            set_aside: list(&d.relay().quarantined(&nb.id)?),
            withheld: list(&d.relay().withheld(&nb.id)?),
            membership_refused: d.members().refused(&nb.id)?,
        });
    }
    Ok(out)
}

async fn status(state: &NodeState, out: &Output) -> Result<()> {
    let (notebooks, devices) = state
        .home
        .call(|d| Ok::<_, DuetError>((notebook_statuses(d)?, d.peers().known()?)))
        .await?;
    let view = Status {
        node: Some(Node {
            pid: std::process::id(),
            serving: state.serving,
            since: state.started,
        }),
        notebooks,
        links: list(&state.board.links()),
        devices: list(&devices),
    };
    out.print(&view, || render_status(&view));
    Ok(())
}

/// `duet status` with no node running: what the home itself records.
pub fn status_offline(duet: &mut Duet, out: &Output) -> Result<()> {
    let view = Status {
        node: None,
        notebooks: notebook_statuses(duet)?,
        links: Vec::new(),
        devices: list(&duet.peers().known()?),
    };
    out.print(&view, || render_status(&view));
    Ok(())
}

fn when(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| "?".into())
}

fn render_status(view: &Status) -> String {
    let mut text = String::new();
    match &view.node {
        Some(n) => {
            text.push_str(&format!("A node runs on this home (pid {}", n.pid));
            if let Some(addr) = n.serving {
                text.push_str(&format!(", serving on {addr}"));
            }
            text.push_str(&format!(", since {}).\n", when(n.since)));
        }
        None => text.push_str(
            "No node runs on this home: nothing syncs by itself (start one with `duet serve`).\n",
        ),
    }
    for nb in &view.notebooks {
        text.push_str(&format!("{}:", nb.title));
        match (&nb.relay, nb.not_on_relay) {
            (Some(relay), Some(0)) => {
                text.push_str(&format!(" relay {relay}, every change on it.\n"))
            }
            (Some(relay), Some(n)) => text.push_str(&format!(
                " relay {relay}, {n} change{} not yet on it.\n",
                if n == 1 { "" } else { "s" }
            )),
            _ => text.push_str(" no relay.\n"),
        }
        if nb.not_on_any_other_device > 0 {
            let n = nb.not_on_any_other_device;
            text.push_str(&format!(
                "  {n} edit{} not yet on any other device.\n",
                if n == 1 { "" } else { "s" }
            ));
        }
        if let Some(at) = nb.relay_rewound {
            text.push_str(&format!(
                "  The relay's log was last found changed under this device at {} (restored, wiped or compacted); it was read again and what it lacked sent again.\n",
                when(at)
            ));
        }
        for gap in &nb.withheld {
            let batches = if gap.from == gap.to {
                format!("batch {}", gap.from)
            } else {
                format!("batches {} to {}", gap.from, gap.to)
            };
            text.push_str(&format!(
                "  The relay did not deliver {batches} of device {} (noticed {}): it lost or withheld them; a direct sync with that device brings its changes.\n",
                gap.sender,
                when(i64::try_from(gap.at).unwrap_or(i64::MAX).saturating_mul(1000))
            ));
        }
        for batch in &nb.set_aside {
            text.push_str(&format!(
                "  Set aside relay entry {} from device {}: {}.\n",
                batch.seq, batch.sender, batch.reason
            ));
        }
        for refused in &nb.membership_refused {
            text.push_str(&format!("  Not counted: {refused}.\n"));
        }
    }
    for link in &view.links {
        let last = link.last_ok.map(when).unwrap_or_else(|| "never yet".into());
        text.push_str(&format!(
            "  {} {}{}: last synced {last}",
            link.kind,
            link.addr,
            if link.connected { " (connected)" } else { "" }
        ));
        if let Some(e) = &link.last_error {
            text.push_str(&format!("; last error: {e}"));
        }
        text.push('\n');
    }
    if view.node.is_none() {
        for d in &view.devices {
            text.push_str(&format!(
                "  device {}: last synced {}\n",
                d.addr
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| d.fingerprint.clone()),
                when(d.last_sync)
            ));
        }
    }
    text
}

/// A signal that the node should stop (Ctrl-C or SIGTERM), as a watch anyone can await.
fn stop_on_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        duet_node::net::shutdown_signal().await;
        let _ = tx.send(true);
    });
    rx
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

/// What a node does besides syncing: keep a calendar file, remind before 1-1s.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Keep this iCalendar file current.
    pub calendar: Option<PathBuf>,
    /// Show desktop notifications before 1-1s.
    pub reminders: bool,
}

/// `duet serve`: the device's node. Serves peers, keeps every relayed notebook subscribed,
/// syncs with remembered devices, reminds before 1-1s, and carries out the person's
/// commands, until Ctrl-C or SIGTERM.
pub fn serve(
    home: &Path,
    listen: SocketAddr,
    announce: bool,
    extras: &Extras,
    json: bool,
) -> Result<()> {
    let duet = Duet::open_waiting(home, commands::lock_wait())?;
    let owner = Home::spawn(duet)?;
    let handle = owner.handle();
    let rt = network::runtime()?;
    let result = rt.block_on(async {
        let events = Box::new(move |event: ServeEvent| print_event(&event, json));
        let server = Server::bind(handle.clone(), listen, events).await?;
        let addr = server.local_addr()?;
        handle.call(move |d| d.peers().remember_serve_addr(addr)).await?;
        let fp = fingerprint_text(&server.fingerprint());
        let announcer = announce.then(|| {
            tokio::spawn(keep_announced(handle.clone(), addr.port(), |e| {
                eprintln!("duet: not announced on the local network: {e}");
            }))
        });
        let socket = ControlSocket::bind(home)?;
        let live = LiveSync::start(
            handle.clone(),
            Arc::new(move |e| print_live(&e, json)),
            LiveOptions::everything(),
        );
        let calendar = (extras.calendar.is_some() || extras.reminders)
            .then(|| tokio::spawn(keep_calendar(handle.clone(), extras.clone())));
        let state = NodeState {
            home: handle.clone(),
            serving: Some(addr),
            board: live.board(),
            started: jiff::Timestamp::now().as_millisecond(),
        };
        if json {
            print_line(&json_line(&ServeLine::Listening {
                addr,
                fingerprint: fp.clone(),
            }));
        } else {
            print_line(&format!("Serving this device's notebooks on {addr} (fingerprint {fp}).\nSyncing in the background; other duet commands on this home are carried out here. Ctrl-C stops."));
        }
        let stop = stop_on_signal();
        tokio::join!(
            server.run(stopped(stop.clone())),
            socket.run(handler(state), stopped(stop.clone())),
        );
        live.stop().await;
        if let Some(task) = calendar {
            task.abort();
        }
        if let Some(announcer) = announcer {
            announcer.abort();
            // Its announcement is withdrawn as the task drops it.
            let _ = announcer.await;
        }
        Ok::<_, anyhow::Error>(())
    });
    drop(rt);
    owner.close();
    result?;
    if json {
        print_line(&json_line(&ServeLine::Stopped));
    } else {
        print_line("Stopped.");
    }
    Ok(())
}

/// How long edits gather before the calendar file is written again.
const CALENDAR_DEBOUNCE: std::time::Duration = std::time::Duration::from_secs(1);
/// How often the calendar is read with no edit when no reminder needs a closer look (the
/// day moves on: yesterday's meetings leave the file).
const CALENDAR_REFRESH: std::time::Duration = std::time::Duration::from_secs(3600);

/// The node's calendar work: one read of every notebook's meetings, after edits (this
/// device's or synced) and as time passes, feeding both the iCalendar file (when asked
/// for) and the reminders (unless turned off).
async fn keep_calendar(home: HomeHandle, extras: Extras) {
    let mut writes = home.document_writes();
    let mut reminders = crate::reminders::Reminders::default();
    loop {
        writes.borrow_and_update();
        let events = match home.call(|d| d.schedule().events()).await {
            Ok(events) => events,
            Err(e) => {
                eprintln!("duet: the calendar: {e}");
                Vec::new()
            }
        };
        if let Some(path) = &extras.calendar {
            if let Err(e) = crate::calendar::write_atomically(path, &crate::calendar::ics(&events))
            {
                eprintln!("duet: the calendar file: {e:#}");
            }
        }
        let wait = if extras.reminders {
            reminders.show_due(&events).await;
            crate::reminders::until_next(&events)
        } else {
            CALENDAR_REFRESH
        };
        tokio::select! {
            changed = writes.changed() => {
                if changed.is_err() {
                    return;
                }
                tokio::time::sleep(CALENDAR_DEBOUNCE.min(wait)).await;
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// `duet watch`: a node that serves no peers: subscribed to the notebooks' relays, printing
/// what arrives, and carrying out the person's other commands meanwhile.
pub fn watch(home: &Path, notebook: Option<&str>, out: &Output) -> Result<()> {
    let json = out.json;
    let mut duet = Duet::open_waiting(home, commands::lock_wait())?;
    if let Some(nb) = notebook {
        duet.select(nb)?;
    }
    let id = duet.selected_notebook()?;
    duet.deselect();
    if duet.relay().setting(&id)?.is_none() {
        return Err(anyhow!(DuetError::Invalid(
            "this notebook has no relay to watch (duet relay set ADDR --fingerprint FP)".into(),
        )));
    }
    let owner = Home::spawn(duet)?;
    let handle = owner.handle();
    let rt = network::runtime()?;
    let result = rt.block_on(async {
        // Catch up, and push what is pending, before waiting.
        let first = duet_node::net::relay_client::sync_relay(&handle, &id)
            .await
            .map_err(network::net_error)?;
        // The socket is bound before the first line, so whoever reads that line can send
        // commands through this node at once instead of finding the home locked.
        let socket = ControlSocket::bind(home)?;
        print_line(&network::watch_line(&first.report, json));
        let live = LiveSync::start(
            handle.clone(),
            Arc::new(move |e| {
                if let LiveEvent::RelaySynced { report, .. } = &e {
                    if report.documents_changed > 0 {
                        print_line(&network::watch_line(report, json));
                    }
                }
            }),
            LiveOptions::relays_only(),
        );
        if !json {
            print_line(&format!(
                "Watching {:?} on the relay at {}. Ctrl-C stops.",
                first.report.title, first.addr
            ));
        }
        let state = NodeState {
            home: handle.clone(),
            serving: None,
            board: live.board(),
            started: jiff::Timestamp::now().as_millisecond(),
        };
        let stop = stop_on_signal();
        socket.run(handler(state), stopped(stop)).await;
        live.stop().await;
        Ok::<_, anyhow::Error>(())
    });
    drop(rt);
    owner.close();
    result
}

/// A node for the length of a full-screen session (`duet meet`) when no node runs: it owns
/// the home, carries out other `duet` commands sent to the control socket meanwhile, and
/// keeps the home's relayed notebooks in sync, until [`Session::stop`].
pub struct Session {
    rt: tokio::runtime::Runtime,
    owner: Home,
    handle: HomeHandle,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Session {
    /// Opens the home and starts the node.
    pub fn start(home: &Path) -> Result<Session> {
        let duet = Duet::open_waiting(home, commands::lock_wait())?;
        let owner = Home::spawn(duet)?;
        let handle = owner.handle();
        let rt = network::runtime()?;
        let socket = {
            let _runtime = rt.enter();
            ControlSocket::bind(home)?
        };
        let (stop, stop_rx) = watch::channel(false);
        let home_handle = handle.clone();
        let task = rt.spawn(async move {
            let live = LiveSync::start(
                home_handle.clone(),
                Arc::new(|_| {}),
                LiveOptions::relays_only(),
            );
            let state = NodeState {
                home: home_handle,
                serving: None,
                board: live.board(),
                started: jiff::Timestamp::now().as_millisecond(),
            };
            socket.run(handler(state), stopped(stop_rx)).await;
            live.stop().await;
        });
        Ok(Session {
            rt,
            owner,
            handle,
            stop,
            task,
        })
    }

    /// The home's handle, for calls from a thread outside the runtime.
    pub fn handle(&self) -> &HomeHandle {
        &self.handle
    }

    /// Stops syncing and serving, and closes the home (every edit is already flushed).
    pub fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.rt.block_on(self.task);
        drop(self.rt);
        self.owner.close();
    }
}

fn print_line(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// One JSON line of the contract (a contract type always encodes).
fn json_line<T: crate::json::Contract>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn print_event(event: &ServeEvent, json: bool) {
    let line = match event {
        ServeEvent::Synced { addr, peer, report } => {
            if json {
                json_line(&ServeLine::Synced {
                    addr: *addr,
                    peer: peer.clone(),
                    report: Report::from(report),
                })
            } else {
                format!(
                    "Synced {:?} with {addr}: {} from the other device.",
                    report.title,
                    report.summary()
                )
            }
        }
        ServeEvent::Refused { addr, reason } => {
            if json {
                json_line(&ServeLine::Refused {
                    addr: *addr,
                    reason: reason.clone(),
                })
            } else {
                format!("Refused {addr}: {reason}")
            }
        }
    };
    print_line(&line);
}

fn print_live(event: &LiveEvent, json: bool) {
    let line = if json {
        json_line(&Live::from(event))
    } else {
        match event {
            LiveEvent::RelaySynced { addr, report } if report.documents_changed > 0 => format!(
                "Synced {:?} through the relay at {addr}: {}.",
                report.title,
                report.summary()
            ),
            LiveEvent::RelaySynced { addr, report } => format!(
                "Sent {} change(s) to the relay at {addr}.",
                report.sent_changes
            ),
            LiveEvent::PeerSynced { addr, reports } => {
                let what: Vec<String> = reports
                    .iter()
                    .map(|r| format!("{:?}: {}", r.title, r.summary()))
                    .collect();
                format!("Synced with {addr}: {}.", what.join("; "))
            }
            LiveEvent::Failed {
                link,
                error,
                retry_in_ms,
            } => format!(
                "Could not sync with {link}: {error} (trying again in {:.0} s)",
                *retry_in_ms as f64 / 1000.0
            ),
        }
    };
    print_line(&line);
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parsed(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("duet").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn a_request_carries_the_parsed_command_typed_and_unchanged() {
        for args in [
            &[
                "commit",
                "add",
                "Send the guide",
                "--owner",
                "me",
                "--due",
                "fri",
            ][..],
            &["agenda", "move", "k3f", "--to", "backlog"],
            &[
                "-n",
                "Ana",
                "--json",
                "note",
                "Shipped",
                "--section",
                "wins",
            ],
            &["health", "--since", "2026-01-01"],
            &["sync", "--peer", "127.0.0.1:7878"],
        ] {
            let request = Request {
                cli: parsed(args),
                cwd: PathBuf::from("/tmp"),
                color: true,
            };
            let bytes = serde_json::to_vec(&request).expect("encodes");
            let back: Request = serde_json::from_slice(&bytes).expect("decodes");
            assert_eq!(
                format!("{:?}", back.cli),
                format!("{:?}", request.cli),
                "{args:?}"
            );
            assert!(back.color);
        }
    }

    #[test]
    fn a_request_with_a_bad_id_prefix_is_refused_when_read() {
        let request = Request {
            cli: parsed(&["agenda", "done", "k3f"]),
            cwd: PathBuf::from("/tmp"),
            color: false,
        };
        let text = serde_json::to_string(&request)
            .expect("encodes")
            .replace("\"k3f\"", "\"k3f;\"");
        assert!(serde_json::from_str::<Request>(&text).is_err());
    }
}
