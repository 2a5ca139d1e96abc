//! The command line: every command, flag and help text of `duet`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use duet_core::dates::{self, Date};
use duet_core::ids::IdPrefix;
use duet_core::{MoveTarget, Owner, Role, Section};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

// Values people type are parsed into types here, before any command runs: a typo is a
// usage error (exit 2) with clap's message, never a failure halfway through a command.

fn role(text: &str) -> Result<Role, String> {
    text.parse()
}

fn section(text: &str) -> Result<Section, String> {
    text.parse()
}

/// A date as people type it: `2026-12-03`, `tomorrow`, `next tue`, `+7d`.
fn date(text: &str) -> Result<Date, String> {
    dates::parse_date(text, dates::today()).map_err(|e| e.to_string())
}

/// `duet service ...`
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum ServiceCmd {
    /// Write the service for this binary and home, enable it and start it (again: changes
    /// nothing).
    #[command(
        after_help = "Examples:\n  duet service install\n  loginctl enable-linger $USER   # keep it running while logged out"
    )]
    Install {
        /// Write the unit only; start nothing.
        #[arg(long)]
        no_start: bool,
    },
    /// Stop the service, disable it and remove its file.
    Uninstall,
    /// Whether it is installed, runs, and names this binary and home.
    Status,
}

/// A reminder's lead: minutes before, or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReminderSpan {
    /// This many minutes before.
    Minutes(u32),
    /// No reminder.
    Off,
}

/// `2d`, `1d`, `3h`, `30m` or `off`.
fn reminder_span(text: &str) -> Result<ReminderSpan, String> {
    let t = text.trim().to_ascii_lowercase();
    if t == "off" || t == "never" {
        return Ok(ReminderSpan::Off);
    }
    let bad = || format!("{text:?} is not a span: use 2d, 1d, 3h, 30m or off");
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: u32 = digits.parse().map_err(|_| bad())?;
    let per = match unit {
        "m" | "min" => 1,
        "h" => 60,
        "d" => 24 * 60,
        "w" => 7 * 24 * 60,
        _ => return Err(bad()),
    };
    let minutes = n
        .checked_mul(per)
        .filter(|m| *m <= 30 * 24 * 60)
        .ok_or_else(|| format!("{text:?} is too long before: at most 30 days"))?;
    Ok(ReminderSpan::Minutes(minutes))
}

/// `host:port`, `host` (port 7878) or `[v6]:port`.
fn addr(text: &str) -> Result<SocketAddr, String> {
    duet_node::net::resolve(text, duet_node::net::DEFAULT_PORT).map_err(|e| e.to_string())
}

/// A few first characters of an item's or a commitment's id.
fn id_prefix(text: &str) -> Result<IdPrefix, String> {
    text.parse()
        .map_err(|e: duet_core::ids::IdPrefixError| e.to_string())
}

/// `me`, `them`, or a name.
fn owner(text: &str) -> Result<Owner, String> {
    Ok(match text.trim().to_ascii_lowercase().as_str() {
        "me" => Owner::Me,
        "them" => Owner::Them,
        "" => return Err("say me, them, or a name".into()),
        _ => Owner::Named(text.trim().to_owned()),
    })
}

/// `backlog`, `next`, or a meeting id prefix or date.
fn move_target(text: &str) -> Result<MoveTarget, String> {
    Ok(match text.trim().to_ascii_lowercase().as_str() {
        "backlog" => MoveTarget::Backlog,
        "next" => MoveTarget::Next,
        "" => return Err("say backlog, next, or a meeting".into()),
        other => MoveTarget::Meeting(other.to_owned()),
    })
}

const AFTER_HELP: &str = "\
Examples:
  duet init --name Ana
  duet notebook new \"Ana / Bo 1-1\" --me manager --with Bo --every 7d
  duet agenda add \"Promotion timeline\"
  duet note \"Shipped the importer\" --section wins
  duet commit add \"Send the leveling doc\" --owner me --due fri
  duet wrap --takeaway \"On track for Q1\" --next \"Draft the plan\" --need \"Intro to the platform team\"
  duet show

Exit codes: 0 ok, 1 error, 2 bad usage, 3 not found or ambiguous id,
4 home in use by another process, 5 damaged store or file, 6 set-up needed (init, notebook),
7 disk full.";

/// Duet: offline-first notebooks for 1-1 meetings, shared by a manager and a report.
#[derive(Debug, Clone, Parser, Serialize, Deserialize)]
#[command(name = "duet", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// The home directory holding this device's identity and notebooks.
    #[arg(long, global = true, env = "DUET_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Work on this notebook (id prefix or title) instead of the current one.
    #[arg(long, short = 'n', global = true, value_name = "NOTEBOOK")]
    pub notebook: Option<String>,
    /// Print stable machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Clone, Subcommand, Serialize, Deserialize)]
pub enum Command {
    /// Make this device's identity (once per device).
    #[command(after_help = "Example:\n  duet init --name \"Ana Lima\"")]
    Init {
        /// Your name as the other person will see it.
        #[arg(long)]
        name: String,
    },
    /// Create, list and choose notebooks.
    #[command(subcommand)]
    Notebook(NotebookCmd),
    /// Put meetings on the books, list, show, cancel or reschedule them.
    #[command(subcommand)]
    Meeting(MeetingCmd),
    /// Append to a section of the current meeting.
    #[command(
        after_help = "Examples:\n  duet note \"Tired after the launch\" --section checkin\n  duet note \"Migration landed\" --section wins"
    )]
    Note {
        /// The text to append.
        text: String,
        /// Which section: checkin, wins, challenges, look-ahead, notes.
        #[arg(long, short, default_value = "notes", value_parser = section)]
        section: Section,
        /// A meeting other than the current one (id prefix or date).
        #[arg(long, short)]
        meeting: Option<String>,
    },
    /// The shared agenda: add, list, tick off and move items.
    #[command(subcommand)]
    Agenda(AgendaCmd),
    /// Commitments and who owns them.
    #[command(subcommand)]
    Commit(CommitCmd),
    /// End the meeting with clarity: takeaway, next steps, needs; carry over what is left.
    #[command(
        after_help = "Example:\n  duet wrap --takeaway \"Scope is clear\" --next \"Ana drafts the plan\" --need \"Time with design\""
    )]
    Wrap {
        /// The key takeaway.
        #[arg(long)]
        takeaway: Option<String>,
        /// Next steps.
        #[arg(long = "next")]
        next_steps: Option<String>,
        /// What the report needs.
        #[arg(long)]
        need: Option<String>,
        /// How long the meeting ran, in minutes (health notices a run of short ones).
        #[arg(long, value_name = "N")]
        minutes: Option<u32>,
        /// A meeting other than the current one.
        #[arg(long, short)]
        meeting: Option<String>,
    },
    /// Undo your newest edit of this notebook (on this device), as a new edit that syncs
    /// like any other: what the other person changed since is kept, and said.
    #[command(
        after_help = "Examples:\n  duet undo            # the newest edit\n  duet undo --list     # what undo and redo would do, newest first"
    )]
    Undo {
        /// List the edits undo (and redo) would take back, newest first; change nothing.
        #[arg(long)]
        list: bool,
    },
    /// Redo what the newest undo took back.
    #[command(after_help = "Example:\n  duet redo")]
    Redo,
    /// Show the current meeting and everything still open.
    #[command(after_help = "Example:\n  duet show\n  duet show --json | jq .open_commitments")]
    Show,
    /// Edit a whole meeting in your editor ($VISUAL, else $EDITOR, else vi), as Markdown.
    ///
    /// The agenda (ticked or not), the sections, the commitments and the close open as one
    /// file. On save, each change you made is applied as its own edit against the version
    /// the file was written from, so what the other person wrote meanwhile is kept. A file
    /// that does not read back is kept for `--resume`; nothing is lost.
    #[command(
        after_help = "Examples:\n  duet edit                   # the current meeting\n  duet edit 2026-12-08 --section wins\n  duet edit --resume          # go on with a draft that was not applied\n  EDITOR=\"code --wait\" duet edit"
    )]
    Edit {
        /// A meeting other than the current one (id prefix or date).
        meeting: Option<String>,
        /// Open one section only: checkin, wins, challenges, look-ahead, notes, takeaway,
        /// next-steps, needs.
        #[arg(long, short, value_parser = section, conflicts_with_all = ["resume", "discard"])]
        section: Option<Section>,
        /// Go on with the draft of an edit that was not applied (the file did not read back,
        /// or the editor failed).
        #[arg(long, conflicts_with = "discard")]
        resume: bool,
        /// Throw away the draft of an edit that was not applied.
        #[arg(long)]
        discard: bool,
    },
    /// The current meeting on one full screen, live: tick and reorder the agenda, type into
    /// any section; what the other person writes appears as it arrives.
    ///
    /// While a node runs (`duet serve`) the view works through it; otherwise the view is the
    /// node while it is open (other `duet` commands still work, and the relay stays in sync).
    /// Every edit is saved as it is made.
    #[command(
        after_help = "Keys:\n  up/down or j/k  select an item     space or x  tick or untick it\n  J / K           move it down / up   a           add an agenda item\n  1-8             write in a section (1 check-in ... 5 notes, 6-8 the close)\n  n or Enter      write in the notes  q or Esc    quit"
    )]
    Meet,
    /// Prints a meeting as the sheet `duet edit` writes (JSON; used by `duet edit`).
    #[command(hide = true, name = "sheet-source")]
    SheetSource {
        /// The meeting (id prefix or date); the current one by default.
        meeting: Option<String>,
    },
    /// Applies a saved `duet edit` draft (used by `duet edit`).
    #[command(hide = true, name = "sheet-apply")]
    SheetApply {
        /// The draft's state file.
        state: PathBuf,
    },
    /// Write the notebook out as Markdown, JSON, or standard .automerge files.
    #[command(
        after_help = "Examples:\n  duet export --format md --output notes.md\n  duet export --meeting last          # the last 1-1 as an email-ready summary\n  duet export --format automerge --output ./export"
    )]
    Export {
        /// md, json or automerge.
        #[arg(long, short, value_enum, default_value_t = ExportKind::Md)]
        format: ExportKind,
        /// Where to write (a folder for automerge; stdout for md/json if absent).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Only this meeting, as a summary fit to paste into an email (md): an id prefix, a
        /// date, `last` (the last held one) or `current`.
        #[arg(long, short, value_name = "MEETING")]
        meeting: Option<String>,
    },
    /// What to bring to the next meeting: agenda so far, carried items, open commitments,
    /// the last takeaway, and a question worth asking.
    #[command(after_help = "Example:\n  duet prep")]
    Prep,
    /// Your week across every notebook: the 1-1s on the books (who has added to each
    /// agenda, what keeps being carried, drift), what you owe and what you are owed, and
    /// the notebooks with nothing on the books.
    #[command(
        after_help = "Examples:\n  duet week\n  duet week --from monday --to friday\n  duet week --from 2026-12-01 --to 2026-12-31 --json"
    )]
    Week {
        /// The first day (default: this week's Monday).
        #[arg(long, value_name = "DATE", value_parser = date)]
        from: Option<Date>,
        /// The last day (default: this week's Sunday, or a week after --from).
        #[arg(long, value_name = "DATE", value_parser = date)]
        to: Option<Date>,
    },
    /// Every notebook's 1-1s as an iCalendar file (RFC 5545) for a calendar app: one event
    /// a meeting, its id the same on every export and device, canceled ones marked so,
    /// with a reminder as `duet remind` sets.
    #[command(
        after_help = "Examples:\n  duet calendar --output ~/duet.ics\n  duet serve --calendar ~/duet.ics     # kept up to date by the node"
    )]
    Calendar {
        /// Write the file here (default: standard output). Replaced whole, atomically.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// How long before a 1-1 you are reminded (in `duet calendar`'s alarms): this
    /// notebook's, or every notebook's with --all. Without --before, shows it.
    #[command(
        after_help = "Examples:\n  duet remind                 # what is set\n  duet remind --before 1d --all\n  duet remind --before 2h\n  duet remind --before off"
    )]
    Remind {
        /// How long before: 2d, 1d, 3h, 30m, or off. Unset, a manager is reminded a day
        /// before and a report two days before.
        #[arg(long, value_name = "SPAN", value_parser = reminder_span)]
        before: Option<ReminderSpan>,
        /// For every notebook without a setting of its own.
        #[arg(long)]
        all: bool,
    },
    /// Today's 1-1s across every notebook, with what you owe and are owed.
    #[command(after_help = "Example:\n  duet today --json")]
    Today,
    /// Signals that your 1-1s are drifting: cancellations, gaps, follow-through, meetings
    /// that could have been an email, balance.
    #[command(
        after_help = "Examples:\n  duet health\n  duet health --last 20 --json\n  duet health --since 2026-01-01"
    )]
    Health {
        /// How many past meetings to look back over.
        #[arg(long, default_value_t = 10, value_name = "N", conflicts_with = "since")]
        last: usize,
        /// Look back over the meetings since this day instead.
        #[arg(long, value_name = "DATE", value_parser = date)]
        since: Option<Date>,
    },
    /// Suggest a good open question; ask one (remembered per notebook), or add your own.
    #[command(
        after_help = "Examples:\n  duet ask                 # suggest one not asked recently\n  duet ask --add           # put the suggestion on the agenda and remember it as asked\n  duet ask b07             # remember b07 as asked in this meeting\n  duet ask --new \"What drained you this week?\"\n  duet ask --list"
    )]
    Ask {
        /// The question to ask (id prefix, from --list); default: the suggestion.
        #[arg(conflicts_with_all = ["new", "list"])]
        id: Option<String>,
        /// Put the question on the current meeting's agenda (and remember it as asked).
        #[arg(long, conflicts_with_all = ["new", "list"])]
        add: bool,
        /// Add a question of your own to this notebook's bank.
        #[arg(long, value_name = "TEXT", conflicts_with = "list")]
        new: Option<String>,
        /// List every question and when it was last asked.
        #[arg(long)]
        list: bool,
    },
    /// Themes (#tags in items, notes and commitments) that recur, and commitments that slip.
    #[command(
        after_help = "Examples:\n  duet agenda add \"On-call again #workload\"\n  duet themes"
    )]
    Themes,
    /// Search every meeting's agenda, notes and commitments, and your private notes.
    #[command(
        after_help = "Examples:\n  duet search promotion\n  duet search on-call rota --json"
    )]
    Search {
        /// Words that must all appear (any case, any order).
        #[arg(required = true, num_args = 1..)]
        words: Vec<String>,
    },
    /// List the meetings with their key takeaways.
    #[command(after_help = "Example:\n  duet history")]
    History,
    /// Private notes: yours only, never in the shared notebook; with no text, list them.
    #[command(
        after_help = "Examples:\n  duet private \"Ask about the team move before the review\"\n  duet private             # list your private notes for this notebook\n\nThey sync only among your own devices (see `duet link`), sealed like everything else."
    )]
    Private {
        /// The note (omit to list).
        text: Option<String>,
        /// A meeting other than the current one (id prefix or date).
        #[arg(long, short)]
        meeting: Option<String>,
    },
    /// Link your own devices so your private notes sync between them.
    #[command(
        after_help = "Examples:\n  duet link                       # on the first device: print a personal ticket\n  duet link duetlink1...          # on your other device: take it (it asks first)\n  duet link - --yes < link.txt    # no question, ticket from standard input\n\nThe personal ticket carries your private notes' secret: never share it with anyone."
    )]
    Link {
        /// A personal ticket printed by `duet link` on your other device (omit to print one;
        /// `-` reads it from standard input).
        ticket: Option<String>,
        /// An address your other device can reach this one at (repeatable).
        #[arg(long = "addr", value_name = "HOST:PORT")]
        addrs: Vec<String>,
        /// The port `duet serve` listens on here.
        #[arg(long, value_name = "PORT")]
        port: Option<u16>,
        /// Only record the link; sync later.
        #[arg(long)]
        no_sync: bool,
        /// Link without asking (the ticket's device and owner are still printed).
        #[arg(long, short)]
        yes: bool,
    },
    /// Merge a folder written by `export --format automerge` (possibly edited elsewhere).
    #[command(after_help = "Example:\n  duet import ./export")]
    Import {
        /// The export folder.
        dir: PathBuf,
    },
    /// Exchange changes as one file (USB stick, AirDrop) when devices cannot connect.
    #[command(subcommand)]
    Bundle(BundleCmd),
    /// Print a one-time invite ticket (and QR code) for the current notebook, or list and
    /// revoke this device's invites.
    #[command(
        after_help = "Examples:\n  duet invite                      # valid 7 days, for one device\n  duet invite --expires 2d --addr 192.168.1.20:7878\n  duet invite --json | jq -r .ticket\n  duet invite --list\n  duet invite --revoke 3f9a\n\nThe ticket works once and carries no notebook secret: the keys reach the other device\nwhen it proves the ticket to this device (while `duet serve` runs here) or takes the\nwelcome left on the notebook's relay. A used, expired or revoked ticket is refused."
    )]
    Invite {
        /// How long the ticket stays valid: a number and s, m, h, d or w (default 7d, at most
        /// 90d).
        #[arg(long, value_name = "DURATION", conflicts_with_all = ["list", "revoke"])]
        expires: Option<String>,
        /// List the invites made on this device for this notebook, and where each stands.
        #[arg(long, conflicts_with = "revoke")]
        list: bool,
        /// Revoke an invite (id prefix, from --list) so that it is refused.
        #[arg(long, value_name = "ID")]
        revoke: Option<String>,
        /// An address the other device can reach this one at (repeatable; default: this
        /// machine's network addresses on --port).
        #[arg(long = "addr", value_name = "HOST:PORT")]
        addrs: Vec<String>,
        /// The port `duet serve` listens on here.
        #[arg(long, value_name = "PORT")]
        port: Option<u16>,
    },
    /// Join a notebook from an invite ticket, and sync it from the inviting device.
    #[command(
        after_help = "Examples:\n  duet join duet2qv4... --as report\n  duet join - --as report < ticket.txt   # kept out of shell history"
    )]
    Join {
        /// The ticket `duet invite` printed (`-` reads it from standard input).
        ticket: String,
        /// Who you are in the notebook: manager or report.
        #[arg(long = "as", value_name = "ROLE", value_parser = role)]
        as_role: Role,
        /// Only record the notebook; sync later.
        #[arg(long)]
        no_sync: bool,
    },
    /// Accept syncs from other devices for every notebook here, until stopped (Ctrl-C).
    #[command(
        after_help = "Examples:\n  duet serve\n  duet serve --listen 0.0.0.0:7878\n\nIt keeps every notebook's relay subscribed, syncs with known devices, and carries
out the other duet commands on this home while it runs.\nOther devices need UDP port 7878 (or --listen's port) reachable."
    )]
    Serve {
        /// Address and UDP port to listen on.
        #[arg(long, default_value = "0.0.0.0:7878", value_name = "ADDR", value_parser = addr)]
        listen: SocketAddr,
        /// Do not announce this device on the local network (mDNS).
        #[arg(long)]
        no_announce: bool,
        /// Keep an iCalendar file of every notebook's 1-1s up to date here.
        #[arg(long, value_name = "FILE")]
        calendar: Option<PathBuf>,
        /// Show no desktop notification before 1-1s (see `duet remind`).
        #[arg(long)]
        no_reminders: bool,
    },
    /// Sync with another device now: one address, the devices nearby, or every known one.
    #[command(
        after_help = "Examples:\n  duet sync --peer 192.168.1.20:7878\n  duet sync --nearby\n  duet sync            # every device synced with before"
    )]
    Sync {
        /// The other device's address (it runs `duet serve`).
        #[arg(long, value_name = "HOST:PORT", conflicts_with = "nearby", value_parser = addr)]
        peer: Option<SocketAddr>,
        /// Trust this certificate fingerprint at --peer (first contact without an invite).
        #[arg(long, value_name = "FP", requires = "peer")]
        fingerprint: Option<String>,
        /// Find devices serving on the local network and sync with those sharing a notebook.
        #[arg(long)]
        nearby: bool,
        /// How long to look for nearby devices, in seconds.
        #[arg(long, default_value_t = 3, value_name = "SECONDS")]
        wait: u64,
        /// Only the notebooks' relays, no devices.
        #[arg(long, conflicts_with_all = ["peer", "nearby"])]
        relay: bool,
    },
    /// The notebook's relay: where devices leave changes for each other.
    #[command(subcommand)]
    Relay(RelayCmd),
    /// Stay connected to the notebook's relay and print changes as they arrive (Ctrl-C stops).
    #[command(after_help = "Example:\n  duet watch")]
    Watch,
    /// List the devices this one has synced with, and this device's own fingerprint.
    #[command(after_help = "Example:\n  duet peers --json")]
    Peers,
    /// The current notebook's devices: whose each is, its name and fingerprint, when it
    /// joined and when this device last heard from it.
    #[command(
        after_help = "Examples:\n  duet devices\n  duet devices --json\n  duet devices name \"Ana's laptop\"\n  duet devices remove 1a2b3c4d   # a lost phone"
    )]
    Devices {
        #[command(subcommand)]
        cmd: Option<DevicesCmd>,
    },
    /// Whether a node runs; each relay and device with its last sync and last error; what
    /// is not yet on the relay.
    #[command(
        after_help = "Example:\n  duet status\n  duet status --json\n\nA node (`duet serve`) syncs in the background; without one, nothing syncs by itself."
    )]
    Status,
    /// Check the home: where its key is kept, that nothing in it is open to other users,
    /// that its store opens and its secrets are sealed.
    #[command(after_help = "Example:\n  duet doctor\n  duet doctor --json")]
    Doctor,
    /// Print shell completions.
    #[command(
        after_help = "Example:\n  duet completions bash > ~/.local/share/bash-completion/completions/duet"
    )]
    // Printed by the process itself, never sent to a node.
    #[serde(skip)]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Run the node (`duet serve`) as a service of your session, from every login on:
    /// a systemd user unit on Linux, a launchd agent on macOS.
    #[command(subcommand)]
    // Carried out by the process itself, never sent to a node.
    #[serde(skip)]
    Service(ServiceCmd),
    /// Run Duet's main job end to end in temporary homes: two devices edit offline and merge.
    #[command(after_help = "Example:\n  duet demo\n  duet demo --json")]
    Demo,
}

/// `duet notebook ...`
#[derive(Debug, Clone, Subcommand, Serialize, Deserialize)]
pub enum NotebookCmd {
    /// Create a notebook for you and the other person, and make it current.
    #[command(
        after_help = "Examples:\n  duet notebook new \"Ana / Bo\" --me manager --with Bo --every 2w --minutes 45\n  duet notebook new \"Ana / Bo\" --me manager --with Bo --from-ics 1-1.ics --event Bo"
    )]
    New {
        /// Its title.
        title: String,
        /// Your role: manager or report.
        #[arg(long, value_parser = role)]
        me: Role,
        /// The other person's name.
        #[arg(long)]
        with: String,
        #[command(flatten)]
        cadence: CadenceArgs,
        /// The first meeting's date (default today).
        #[arg(long, value_name = "DATE", value_parser = date, conflicts_with = "from_ics")]
        first: Option<Date>,
        /// Take the rhythm, time, length and next date from the recurring 1-1 in this
        /// calendar export (.ics).
        #[arg(long, value_name = "FILE", conflicts_with_all = ["every", "minutes"])]
        from_ics: Option<PathBuf>,
        /// Which recurring event of the file (a piece of its title), when it holds several.
        #[arg(long, value_name = "TEXT", requires = "from_ics")]
        event: Option<String>,
    },
    /// List notebooks (* marks the current one).
    #[command(after_help = "Example:\n  duet notebook list --json")]
    List,
    /// Make a notebook current (id prefix or title).
    #[command(
        after_help = "Examples:\n  duet notebook use \"Ana / Bo\"\n  duet notebook use 3f9a"
    )]
    Use {
        /// Id prefix or title.
        notebook: String,
    },
    /// Rename the current notebook.
    #[command(after_help = "Example:\n  duet notebook rename \"Ana / Bo (2027)\"")]
    Rename {
        /// The new title.
        title: String,
    },
    /// Change how often you meet, for how long, and at what time of day.
    #[command(
        after_help = "Examples:\n  duet notebook cadence --every 2w --minutes 45\n  duet notebook cadence --at 10:00 --tz Europe/Berlin"
    )]
    Cadence {
        #[command(flatten)]
        cadence: CadenceArgs,
        /// The time of day you meet (HH:MM): `duet calendar` gives the meetings this time.
        #[arg(long, value_name = "HH:MM")]
        at: Option<String>,
        /// The time zone of --at (default: this device's), as in Europe/Berlin.
        #[arg(long, value_name = "ZONE", requires = "at")]
        tz: Option<String>,
    },
    /// Show the current notebook's people and cadence.
    #[command(after_help = "Example:\n  duet notebook show")]
    Show,
    /// End the 1-1 (the report moves to another manager): both keep a read-only copy,
    /// still readable, searchable and exportable; syncing stops on both sides once the end
    /// has reached the other device, and the relay's mailbox is deleted.
    #[command(
        after_help = "Example:\n  duet notebook end\n  duet sync               # the end reaches the other device\n  duet export --output last-1-1s.md"
    )]
    End,
}

/// Meeting rhythm flags.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct CadenceArgs {
    /// Days between meetings: 7d, 2w, 14.
    #[arg(long, value_name = "INTERVAL")]
    pub every: Option<String>,
    /// Planned length in minutes.
    #[arg(long)]
    pub minutes: Option<u32>,
}

/// `duet meeting ...`
#[derive(Debug, Clone, Subcommand, Serialize, Deserialize)]
pub enum MeetingCmd {
    /// Put a meeting on the books (default: one cadence after the last).
    #[command(
        after_help = "Examples:\n  duet meeting new --on \"next tue\"\n  duet meeting new --on 2026-12-03"
    )]
    New {
        /// Its date: 2026-12-03, tomorrow, next tue, +7d.
        #[arg(long, value_name = "DATE", value_parser = date)]
        on: Option<Date>,
    },
    /// List every meeting.
    #[command(after_help = "Example:\n  duet meeting list    # → marks the current meeting")]
    List,
    /// Show one meeting in full (default: the current one).
    #[command(after_help = "Examples:\n  duet meeting show\n  duet meeting show 2026-11-20")]
    Show {
        /// Id prefix or date.
        id: Option<String>,
    },
    /// Take the rhythm, time of day, length and next meeting of this notebook from the
    /// recurring 1-1 in a calendar export (.ics).
    #[command(
        after_help = "Examples:\n  duet meeting import ~/Downloads/1-1.ics\n  duet meeting import team.ics --event \"Ana / Bo\""
    )]
    Import {
        /// The calendar file.
        file: PathBuf,
        /// Which recurring event (a piece of its title), when the file holds several.
        #[arg(long, value_name = "TEXT")]
        event: Option<String>,
    },
    /// Cancel a meeting; undiscussed items carry to the next one.
    #[command(after_help = "Example:\n  duet meeting cancel    # the current meeting")]
    Cancel {
        /// Id prefix or date (default: the current one).
        id: Option<String>,
    },
    /// Move a meeting to another date.
    #[command(after_help = "Example:\n  duet meeting reschedule --to \"next thu\"")]
    Reschedule {
        /// Id prefix or date (default: the current one).
        id: Option<String>,
        /// The new date.
        #[arg(long, value_name = "DATE", value_parser = date)]
        to: Date,
    },
}

/// `duet agenda ...`
#[derive(Debug, Clone, Subcommand, Serialize, Deserialize)]
pub enum AgendaCmd {
    /// Add an item to the current meeting's agenda (or the backlog).
    #[command(
        after_help = "Examples:\n  duet agenda add \"Conference budget\"\n  duet agenda add \"Career ladder, someday\" --backlog"
    )]
    Add {
        /// The item.
        text: String,
        /// Keep it in the backlog instead of a meeting.
        #[arg(long, conflicts_with = "meeting")]
        backlog: bool,
        /// A meeting other than the current one.
        #[arg(long, short)]
        meeting: Option<String>,
    },
    /// List the current meeting's agenda and the backlog.
    #[command(after_help = "Example:\n  duet agenda list --meeting 2026-11-20")]
    List {
        /// A meeting other than the current one.
        #[arg(long, short)]
        meeting: Option<String>,
        /// Every item one by one, the long-carried ones too (most carried first).
        #[arg(long)]
        all: bool,
    },
    /// A talking point that comes back on its own: on every Nth meeting, or the first
    /// meeting of each month. Either person may add one; both see it, marked ↻.
    #[command(
        after_help = "Examples:\n  duet agenda recur \"Career goals\" --every 4\n  duet agenda recur \"Quarterly goals\" --monthly\n  duet agenda recur --list\n  duet agenda recur --stop k3f"
    )]
    Recur {
        /// The point.
        #[arg(required_unless_present_any = ["list", "stop"], conflicts_with_all = ["list", "stop"])]
        text: Option<String>,
        /// On every Nth meeting (meetings counted from the first, canceled ones not).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=200), conflicts_with = "monthly")]
        every: Option<u32>,
        /// On the first meeting of each calendar month.
        #[arg(long)]
        monthly: bool,
        /// List the notebook's recurring points.
        #[arg(long, conflicts_with = "stop")]
        list: bool,
        /// Stop a recurring point (id prefix): no later meeting gets it.
        #[arg(long, value_name = "ID", value_parser = id_prefix)]
        stop: Option<IdPrefix>,
    },
    /// Move the items carried again and again to the backlog (or drop them), in one edit:
    /// shows what it would do, and does it with --yes.
    #[command(
        after_help = "Examples:\n  duet agenda tidy                   # what it would move\n  duet agenda tidy --yes             # items carried 6+ times, to the backlog\n  duet agenda tidy --older-than 12 --drop --yes"
    )]
    Tidy {
        /// Items carried this many times or more.
        #[arg(long, value_name = "N", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..))]
        older_than: u32,
        /// Drop them instead of keeping them in the backlog.
        #[arg(long)]
        drop: bool,
        /// Do it (without, only say what it would do).
        #[arg(long)]
        yes: bool,
    },
    /// Mark an item discussed.
    #[command(after_help = "Example:\n  duet agenda done k3f    # a unique prefix of the id")]
    Done {
        /// Id prefix.
        #[arg(value_parser = id_prefix)]
        id: IdPrefix,
        /// The meeting it is in, if not the current one.
        #[arg(long, short)]
        meeting: Option<String>,
    },
    /// Rewrite an item's text.
    #[command(after_help = "Example:\n  duet agenda edit k3f \"Conference budget (2027)\"")]
    Edit {
        /// Id prefix.
        #[arg(value_parser = id_prefix)]
        id: IdPrefix,
        /// The new text.
        text: String,
        /// The meeting it is in, if not the current one.
        #[arg(long, short)]
        meeting: Option<String>,
    },
    /// Mark an item not discussed after all.
    #[command(after_help = "Example:\n  duet agenda undone k3f")]
    Undone {
        /// Id prefix.
        #[arg(value_parser = id_prefix)]
        id: IdPrefix,
        /// The meeting it is in, if not the current one.
        #[arg(long, short)]
        meeting: Option<String>,
    },
    /// Put an item just before or after another one of the same agenda.
    #[command(
        after_help = "Examples:\n  duet agenda order k3f --before b4m    # talk about k3f first\n  duet agenda order k3f --after b4m"
    )]
    Order {
        /// Id prefix of the item to move.
        #[arg(value_parser = id_prefix)]
        id: IdPrefix,
        /// The item it goes just before.
        #[arg(long, value_parser = id_prefix, required_unless_present = "after", conflicts_with = "after")]
        before: Option<IdPrefix>,
        /// The item it goes just after.
        #[arg(long, value_parser = id_prefix)]
        after: Option<IdPrefix>,
        /// The meeting it is in, if not the current one.
        #[arg(long, short)]
        meeting: Option<String>,
    },
    /// Drop an item: it leaves the agenda (and the backlog) for good.
    #[command(after_help = "Example:\n  duet agenda drop k3f    # an item carried too often")]
    Drop {
        /// Id prefix.
        #[arg(value_parser = id_prefix)]
        id: IdPrefix,
        /// The meeting it is in, if not the current one.
        #[arg(long, short)]
        meeting: Option<String>,
    },
    /// Move an item to another meeting, the next one, or the backlog.
    #[command(
        after_help = "Examples:\n  duet agenda move k3f --to next\n  duet agenda move k3f --to backlog"
    )]
    Move {
        /// Id prefix.
        #[arg(value_parser = id_prefix)]
        id: IdPrefix,
        /// A meeting id prefix or date, `next`, or `backlog`.
        #[arg(long, value_parser = move_target)]
        to: MoveTarget,
        /// The meeting it is in, if not the current one.
        #[arg(long, short)]
        meeting: Option<String>,
    },
}

/// `duet commit ...`
#[derive(Debug, Clone, Subcommand, Serialize, Deserialize)]
pub enum CommitCmd {
    /// Record a commitment made in the current meeting.
    #[command(
        after_help = "Example:\n  duet commit add \"Review the design doc\" --owner them --due \"next wed\""
    )]
    Add {
        /// What is promised.
        text: String,
        /// me, them, or a name.
        #[arg(long, default_value = "me", value_parser = owner)]
        owner: Owner,
        /// Due date.
        #[arg(long, value_name = "DATE", value_parser = date)]
        due: Option<Date>,
    },
    /// Mark a commitment done.
    #[command(after_help = "Example:\n  duet commit done q7x")]
    Done {
        /// Id prefix.
        #[arg(value_parser = id_prefix)]
        id: IdPrefix,
    },
    /// Reword an open commitment or move its due date.
    #[command(
        after_help = "Examples:\n  duet commit edit q7x --text \"Review the design doc with Sam\"\n  duet commit edit q7x --due \"next fri\""
    )]
    Edit {
        /// Id prefix.
        #[arg(value_parser = id_prefix)]
        id: IdPrefix,
        /// The new wording.
        #[arg(long)]
        text: Option<String>,
        /// The new due date.
        #[arg(long, value_name = "DATE", value_parser = date)]
        due: Option<Date>,
    },
    /// Drop a commitment on purpose.
    #[command(after_help = "Example:\n  duet commit drop q7x")]
    Drop {
        /// Id prefix.
        #[arg(value_parser = id_prefix)]
        id: IdPrefix,
    },
    /// List commitments (all of them, or only open ones).
    #[command(after_help = "Examples:\n  duet commit list --open\n  duet commit list --json")]
    List {
        /// Only open commitments.
        #[arg(long)]
        open: bool,
    },
}

/// `duet devices ...`
#[derive(Debug, Clone, Subcommand, Serialize, Deserialize)]
pub enum DevicesCmd {
    /// List the current notebook's devices (what `duet devices` does alone).
    List,
    /// Remove a device from the current notebook (a lost phone, a laptop handed back): the
    /// other devices refuse it from now on, and the notebook moves to new keys it does not
    /// have, so it can read nothing written after.
    #[command(
        after_help = "Example:\n  duet devices              # find its id\n  duet devices remove 1a2b3c4d\n\nThe other devices get the new keys on their next sync, directly or through the relay."
    )]
    Remove {
        /// The device's id (a prefix is enough), as `duet devices` lists it.
        device: String,
    },
    /// Name this device, as the notebooks' other devices will list it.
    #[command(after_help = "Example:\n  duet devices name \"Ana's phone\"")]
    Name {
        /// The name (at most 60 characters).
        name: String,
    },
}

/// `duet relay ...`
#[derive(Debug, Clone, Subcommand, Serialize, Deserialize)]
pub enum RelayCmd {
    /// Use a relay for the current notebook (invites carry it to the other device).
    #[command(
        after_help = "Example:\n  duet relay set relay.example.org:7879 --fingerprint k3x...\n\nThe relay's operator prints the fingerprint with `duet-relay fingerprint`."
    )]
    Set {
        /// The relay's host and UDP port.
        addr: String,
        /// The relay's certificate fingerprint.
        #[arg(long)]
        fingerprint: String,
        /// A team token, if the relay requires one to create mailboxes (`-` reads it from
        /// standard input).
        #[arg(long)]
        team_token: Option<String>,
    },
    /// Let the relay drop the log entries this device has applied, replaced by one sealed
    /// snapshot of the notebook (frees the mailbox's quota).
    #[command(after_help = "Example:\n  duet relay compact")]
    Compact,
    /// Show the current notebook's relay and how far this device has read it.
    #[command(after_help = "Example:\n  duet relay show --json")]
    Show,
}

/// `duet bundle ...`
#[derive(Debug, Clone, Subcommand, Serialize, Deserialize)]
pub enum BundleCmd {
    /// Write the current notebook to one file. It holds the notebook's secret: keep it safe.
    #[command(after_help = "Example:\n  duet bundle out /media/usb/ana-bo.duet")]
    Out {
        /// The file to write.
        file: PathBuf,
    },
    /// Merge a bundle file into the notebook it belongs to.
    #[command(
        after_help = "Examples:\n  duet bundle in /media/usb/ana-bo.duet\n  duet bundle in ana-bo.duet --join --as report   # first time on this device"
    )]
    In {
        /// The file to read.
        file: PathBuf,
        /// Add the notebook to this home if it is new here.
        #[arg(long, requires = "as_role")]
        join: bool,
        /// Who you are in the notebook when joining: manager or report.
        #[arg(long = "as", value_name = "ROLE", id = "as_role", value_parser = role)]
        as_role: Option<Role>,
    },
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum ExportKind {
    /// Markdown.
    Md,
    /// JSON.
    Json,
    /// Standard .automerge files and a manifest (needs --output DIR).
    Automerge,
}
