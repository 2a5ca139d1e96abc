//! `duet-relay`: run the relay, print its fingerprint, issue team tokens, check one, and
//! look after it: its status, its mailboxes.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use duet_protocol::crypto::fingerprint_text;
use duet_protocol::mailbox::Standing;
use duet_relay::admin::{self, AdminReply, AdminRequest};
use duet_relay::config::{LogFormat, RelayConfig};
use duet_relay::ops::{self, OpsState};
use duet_relay::server::RelayServer;
use duet_relay::store::RelayStore;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The file in the data directory that holds the relay's fingerprint as text.
const FINGERPRINT_FILE: &str = "fingerprint";

/// Duet's self-hosted relay: end-to-end encrypted store-and-forward over QUIC.
#[derive(Debug, Parser)]
#[command(name = "duet-relay", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the relay until SIGTERM or Ctrl-C.
    #[command(
        after_help = "Example:\n  duet-relay serve --listen 0.0.0.0:7879 --data /var/lib/duet-relay\n  duet-relay token new --label platform-team --data /var/lib/duet-relay\n\nOpen UDP port 7879. Creating a mailbox needs a team token (give it to the team; devices pass it to `duet relay set --team-token`), unless the relay runs with --open. Logs go to stderr (RUST_LOG=debug for more)."
    )]
    Serve {
        /// Address and UDP port.
        #[arg(long, default_value = "0.0.0.0:7879")]
        listen: SocketAddr,
        /// Where the relay keeps its identity and mailboxes (with --store: only its admin
        /// socket and fingerprint file; give each process its own).
        #[arg(long)]
        data: PathBuf,
        /// A TOML file of settings (limits, require_team_token, retention_days,
        /// metrics_listen, log_format); a file named *.json is read as JSON.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Keep mailboxes in PostgreSQL instead of sled in --data: several relay processes
        /// on one database share one identity and deliver each other's pushes live
        /// (`postgres://user@host/db`, or `host=/var/run/postgresql dbname=duet`).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
        /// Let anyone who reaches the relay create mailboxes, without a team token (for a
        /// relay only a trusted network reaches).
        #[arg(long)]
        open: bool,
        /// Serve /metrics (Prometheus), /healthz and /readyz over HTTP on this
        /// address (TCP); keep it private.
        #[arg(long, value_name = "ADDR")]
        metrics: Option<SocketAddr>,
        /// Log lines as text or as JSON objects.
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
    },
    /// Ask a running relay how it is (through its admin socket, which only its owner
    /// reaches).
    #[command(
        after_help = "Example:\n  duet-relay status --data /var/lib/duet-relay\n  duet-relay status --data /var/lib/duet-relay --json"
    )]
    Status {
        /// The relay's data directory.
        #[arg(long)]
        data: PathBuf,
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The relay's mailboxes: ids, sizes and last writes (never their content).
    #[command(subcommand)]
    Mailbox(MailboxCmd),
    /// Copy the relay's store to a new directory: consistent, and taken while it serves
    /// (pushes wait while the copy is made). Start a relay on the copy to restore it.
    #[command(
        after_help = "Examples:\n  duet-relay backup --data /var/lib/duet-relay --to /backups/duet-relay-$(date +%F)\n  # restore: stop the relay, then serve from the copy (or move it into place)\n  duet-relay serve --data /backups/duet-relay-2026-12-01 --listen 0.0.0.0:7879"
    )]
    Backup {
        /// The relay's data directory (running or stopped).
        #[arg(long)]
        data: PathBuf,
        /// A new directory for the copy.
        #[arg(long)]
        to: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the relay's certificate fingerprint (devices pin it).
    #[command(after_help = "Example:\n  duet-relay fingerprint --data /var/lib/duet-relay")]
    Fingerprint {
        /// The relay's data directory.
        #[arg(long)]
        data: PathBuf,
    },
    /// Team tokens: who may create mailboxes when `require_team_token` is on.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Check that a relay answers.
    #[command(
        after_help = "Example:\n  duet-relay check relay.example.org:7879 --fingerprint abcd..."
    )]
    Check {
        /// The relay's address.
        addr: String,
        /// Its fingerprint (without it, any certificate is accepted for the check).
        #[arg(long)]
        fingerprint: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum MailboxCmd {
    /// List the mailboxes, through the running relay's admin socket or on its stopped data.
    #[command(
        after_help = "Examples:\n  duet-relay mailbox list --data /var/lib/duet-relay\n  duet-relay mailbox list --data /var/lib/duet-relay --json"
    )]
    List {
        /// The relay's data directory.
        #[arg(long)]
        data: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a mailbox whole (its devices push their notebook again on their next sync),
    /// through the running relay or on its stopped data.
    #[command(
        after_help = "Example:\n  duet-relay mailbox delete 3fa9c2... --data /var/lib/duet-relay"
    )]
    Delete {
        /// The mailbox id (as `mailbox list` shows it).
        id: String,
        /// The relay's data directory.
        #[arg(long)]
        data: PathBuf,
        /// Delete a retired mailbox too: the notice in it, which devices offline since its
        /// notebook moved to new keys read to follow, goes (its id stays refused).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCmd {
    /// Issue a team token (printed once; the relay keeps only its hash).
    New {
        /// A label for the team.
        #[arg(long)]
        label: String,
        /// The relay's data directory (a relay on sled, running or stopped).
        #[arg(long, required_unless_present = "store", conflicts_with = "store")]
        data: Option<PathBuf>,
        /// The relays' database (relays on PostgreSQL: every process takes the token).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// List the labels of issued tokens.
    List {
        /// The relay's data directory (running or stopped).
        #[arg(long, required_unless_present = "store", conflicts_with = "store")]
        data: Option<PathBuf>,
        /// The relays' database (relays on PostgreSQL).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// Revoke a team token, or every token with a label; no new mailbox can be made with
    /// it (mailboxes already made keep working). Works on a running relay.
    #[command(
        after_help = "Example:\n  duet-relay token revoke platform-team --data /var/lib/duet-relay"
    )]
    Revoke {
        /// The token (`dt_…`) or a label.
        token_or_label: String,
        /// The relay's data directory (running or stopped).
        #[arg(long, required_unless_present = "store", conflicts_with = "store")]
        data: Option<PathBuf>,
        /// The relays' database (relays on PostgreSQL).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
}

/// Where a token command goes: a relay's data directory (through the relay running on it,
/// or on its stopped data), or the relays' database.
enum TokenPlace {
    Data(PathBuf),
    Database(std::sync::Arc<RelayStore>, tokio::runtime::Runtime),
}

impl TokenPlace {
    fn of(data: Option<PathBuf>, store: Option<String>) -> anyhow::Result<TokenPlace> {
        match (data, store) {
            (_, Some(url)) => {
                let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
                let store = rt
                    .block_on(RelayStore::open_postgres(&url))
                    .context("opening the relays' database")?;
                Ok(TokenPlace::Database(store, rt))
            }
            (Some(data), None) => Ok(TokenPlace::Data(data)),
            (None, None) => anyhow::bail!("say where: --data DIR or --store URL"),
        }
    }
}

/// The running relay's answer to `request`; `None` when no relay runs on `data`.
fn ask_running(
    data: &std::path::Path,
    request: &AdminRequest,
) -> anyhow::Result<Option<AdminReply>> {
    match admin::request(data, request)? {
        Some(AdminReply::Failed { error }) => anyhow::bail!("the relay refused: {error}"),
        reply => Ok(reply),
    }
}

/// The stopped relay's store in `data`.
fn stopped(data: &std::path::Path) -> anyhow::Result<duet_relay::sled_store::OfflineStore> {
    RelayStore::open_offline(data).map_err(|e| stopped_first(e, data))
}

/// `duet-relay token new|list|revoke`, on a running relay as on a stopped one.
fn tokens(command: TokenCmd) -> anyhow::Result<()> {
    match command {
        TokenCmd::New { label, data, store } => {
            let token = match TokenPlace::of(data, store)? {
                TokenPlace::Data(data) => {
                    match ask_running(
                        &data,
                        &AdminRequest::NewToken {
                            label: label.clone(),
                        },
                    )? {
                        Some(AdminReply::Token { token }) => token,
                        Some(other) => anyhow::bail!("the relay answered {other:?}"),
                        None => stopped(&data)?.new_team_token(&label)?,
                    }
                }
                TokenPlace::Database(store, rt) => rt.block_on(store.new_team_token(&label))?,
            };
            println!("{token}");
            eprintln!(
                "Team token for {label:?}: give it to the team; the relay keeps only its hash."
            );
            Ok(())
        }
        TokenCmd::Revoke {
            token_or_label,
            data,
            store,
        } => {
            let count = match TokenPlace::of(data, store)? {
                TokenPlace::Data(data) => {
                    let ask = AdminRequest::RevokeToken {
                        token_or_label: token_or_label.clone(),
                    };
                    match ask_running(&data, &ask)? {
                        Some(AdminReply::Revoked { count }) => count,
                        Some(other) => anyhow::bail!("the relay answered {other:?}"),
                        None => stopped(&data)?.revoke_team_token(&token_or_label)?,
                    }
                }
                TokenPlace::Database(store, rt) => {
                    rt.block_on(store.revoke_team_tokens(&token_or_label))?
                }
            };
            match count {
                0 => anyhow::bail!("no team token is {token_or_label:?} or labelled so (duet-relay token list shows the labels)"),
                n => {
                    println!("Revoked {n} team token{}.", if n == 1 { "" } else { "s" });
                    Ok(())
                }
            }
        }
        TokenCmd::List { data, store } => {
            let labels = match TokenPlace::of(data, store)? {
                TokenPlace::Data(data) => match ask_running(&data, &AdminRequest::ListTokens)? {
                    Some(AdminReply::Tokens { labels }) => labels,
                    Some(other) => anyhow::bail!("the relay answered {other:?}"),
                    None => stopped(&data)?.team_tokens()?,
                },
                TokenPlace::Database(store, rt) => rt.block_on(store.team_token_labels())?,
            };
            for label in labels {
                println!("{label}");
            }
            Ok(())
        }
    }
}

/// `duet-relay serve`: the QUIC server, and with them the operators' listener and the
/// retention sweep, until SIGTERM or Ctrl-C.
async fn serve(
    listen: SocketAddr,
    data: PathBuf,
    database: Option<String>,
    config: RelayConfig,
) -> Result<()> {
    let open = !config.require_team_token;
    let metrics_listen = config.metrics_listen;
    let retention_days = config.retention_days;
    let store = match &database {
        Some(url) => {
            std::fs::create_dir_all(&data).with_context(|| format!("making {}", data.display()))?;
            RelayStore::open_postgres(url)
                .await
                .context("opening the relay store in PostgreSQL")?
        }
        None => RelayStore::open(&data)
            .with_context(|| format!("opening the relay store in {}", data.display()))?,
    };
    let server = RelayServer::bind(store.clone(), listen, config).await?;
    let addr = server.local_addr()?;
    let fingerprint = fingerprint_text(&server.fingerprint());
    // Public, and readable while the store is locked by this process.
    std::fs::write(data.join(FINGERPRINT_FILE), format!("{fingerprint}\n"))
        .with_context(|| format!("writing {FINGERPRINT_FILE} in {}", data.display()))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    // Bound before the relay says it listens: whoever waits for that line (an operator's
    // script, a service manager) may ask the admin socket at once.
    let admin_socket = admin::bind(&data)
        .with_context(|| format!("making the admin socket in {}", data.display()))?;
    println!("duet-relay listening on {addr} (UDP), fingerprint {fingerprint}");
    let mut tasks = tokio::task::JoinSet::new();
    let state = OpsState {
        metrics: store.metrics(),
        store: store.clone(),
        listen: addr,
        fingerprint: fingerprint.clone(),
        open,
    };
    tasks.spawn(admin_socket.run(
        admin::handler(store.clone(), state.clone()),
        until_stopped(stopped.clone()),
    ));
    if let Some(at) = metrics_listen {
        let listener = tokio::net::TcpListener::bind(at)
            .await
            .with_context(|| format!("listening for metrics on {at}"))?;
        let bound = listener.local_addr()?;
        println!("duet-relay metrics on http://{bound}/metrics");
        tasks.spawn(ops::serve(listener, state, until_stopped(stopped.clone())));
    }
    if retention_days > 0 {
        tracing::info!(days = retention_days, "mailboxes idle longer are deleted");
        tasks.spawn(duet_relay::retention::run(
            store.clone(),
            retention_days,
            until_stopped(stopped.clone()),
        ));
    }
    tracing::info!(%addr, "listening");
    if open {
        tracing::warn!(
            "open relay: anyone who reaches it can create mailboxes (no team token required)"
        );
    }
    let signal = async move {
        duet_protocol::net::shutdown_signal().await;
        let _ = stop.send(true);
    };
    server.run(signal).await;
    while tasks.join_next().await.is_some() {}
    tracing::info!("stopped; everything acknowledged is on disk");
    Ok(())
}

/// A path made absolute against this process's directory (the relay may run elsewhere).
fn absolute(path: &std::path::Path) -> Result<PathBuf> {
    Ok(if path.is_relative() {
        std::env::current_dir()?.join(path)
    } else {
        path.to_owned()
    })
}

/// A store that will not open offline is most often held by the running relay.
fn stopped_first(e: duet_relay::store::RelayStoreError, data: &std::path::Path) -> anyhow::Error {
    anyhow::anyhow!(
        "{e}; if the relay is running on {}, stop it first",
        data.display()
    )
}

fn duration(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

fn bytes(n: u64) -> String {
    match n {
        n if n < 1024 * 1024 => format!("{:.1} KiB", n as f64 / 1024.0),
        n if n < 1024 * 1024 * 1024 => format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0)),
        n => format!("{:.2} GiB", n as f64 / (1024.0 * 1024.0 * 1024.0)),
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("duet-relay: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve {
            listen,
            data,
            config,
            open,
            metrics,
            log_format,
            store,
        } => {
            let mut config = match config {
                Some(path) => RelayConfig::load(&path)?,
                None => RelayConfig::default(),
            };
            if open {
                config.require_team_token = false;
            }
            if metrics.is_some() {
                config.metrics_listen = metrics;
            }
            if let Some(format) = log_format {
                config.log_format = format;
            }
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            let logs = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr);
            match config.log_format {
                LogFormat::Text => logs.init(),
                LogFormat::Json => logs.json().init(),
            }
            let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
            rt.block_on(serve(listen, data, store, config))
        }
        Command::Fingerprint { data } => {
            if let Ok(text) = std::fs::read_to_string(data.join(FINGERPRINT_FILE)) {
                print!("{text}");
                return Ok(());
            }
            let store = RelayStore::open_offline(&data)?;
            println!("{}", fingerprint_text(&store.identity()?.fingerprint()));
            Ok(())
        }
        Command::Token(command) => tokens(command),
        Command::Status { data, json } => {
            let s = match admin::request(&data, &AdminRequest::Status)? {
                Some(AdminReply::Status { status }) => status,
                Some(AdminReply::Failed { error }) => {
                    anyhow::bail!("the relay could not tell its status: {error}")
                }
                Some(other) => anyhow::bail!("the relay answered {other:?}"),
                None => anyhow::bail!("no relay is running on {}", data.display()),
            };
            if json {
                println!("{}", serde_json::to_string(&s)?);
                return Ok(());
            }
            println!(
                "duet-relay {} on {} ({}), up {}",
                s.version,
                s.listen,
                if s.ready { "ready" } else { "NOT READY" },
                duration(s.uptime_secs)
            );
            println!("fingerprint {}", s.fingerprint);
            println!(
                "{} connection(s), {} mailbox(es), {} on disk, {} push(es) since start{}",
                s.connections,
                s.mailboxes,
                bytes(s.store_bytes),
                s.pushes,
                if s.open {
                    "; open: no team token needed"
                } else {
                    ""
                }
            );
            Ok(())
        }
        Command::Mailbox(MailboxCmd::List { data, json }) => {
            let list: Vec<duet_relay::store::MailboxInfo> =
                match admin::request(&data, &AdminRequest::ListMailboxes)? {
                    Some(AdminReply::Mailboxes { list }) => list,
                    Some(AdminReply::Failed { error }) => {
                        anyhow::bail!("the relay could not list them: {error}")
                    }
                    Some(other) => anyhow::bail!("the relay answered {other:?}"),
                    None => RelayStore::open_offline(&data)
                        .map_err(|e| stopped_first(e, &data))?
                        .mailbox_list()?,
                };
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            println!(
                "{:<64}  {:>10}  {:>7}  last write",
                "mailbox", "bytes", "entries"
            );
            for m in &list {
                let last = m.last_write_ms.map_or("unknown".to_owned(), |ms| {
                    jiff::Timestamp::from_millisecond(ms)
                        .map(|t| t.to_string())
                        .unwrap_or_default()
                });
                println!("{:<64}  {:>10}  {:>7}  {last}", m.id, m.bytes, m.entries);
            }
            println!("{} mailbox(es)", list.len());
            Ok(())
        }
        Command::Mailbox(MailboxCmd::Delete { id, data, force }) => {
            let ask = AdminRequest::DeleteMailbox {
                id: id.clone(),
                force,
            };
            let existed = match admin::request(&data, &ask)? {
                Some(AdminReply::Deleted { existed }) => existed,
                Some(AdminReply::Failed { error }) => {
                    anyhow::bail!("the relay could not delete it: {error}")
                }
                Some(other) => anyhow::bail!("the relay answered {other:?}"),
                None => {
                    let store =
                        RelayStore::open_offline(&data).map_err(|e| stopped_first(e, &data))?;
                    if store.standing(&id)? == Standing::Retired && !force {
                        anyhow::bail!("{}", admin::TOMBSTONE_KEPT);
                    }
                    store.delete_mailbox(&id)?
                }
            };
            if !existed {
                anyhow::bail!("no mailbox {id:?} (duet-relay mailbox list shows them)");
            }
            println!(
                "Deleted mailbox {id}; its devices push their notebook again on their next sync."
            );
            Ok(())
        }
        Command::Backup { data, to, json } => {
            let report = match admin::request(&data, &AdminRequest::Backup { to: absolute(&to)? })?
            {
                Some(AdminReply::BackedUp { report }) => report,
                Some(AdminReply::Failed { error }) => {
                    anyhow::bail!("the relay could not back up: {error}")
                }
                Some(other) => anyhow::bail!("the relay answered {other:?}"),
                None => RelayStore::open_offline(&data)
                    .map_err(|e| stopped_first(e, &data))?
                    .backup(&to)?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "Backed up {} mailbox(es), {} in {} records, to {} ({} ms). Restore: serve with --data {}.",
                    report.mailboxes,
                    bytes(report.bytes),
                    report.records,
                    report.to.display(),
                    report.millis,
                    report.to.display()
                );
            }
            Ok(())
        }
        Command::Check { addr, fingerprint } => {
            let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
            let report = rt.block_on(duet_protocol::net::relay_client::check(
                &addr,
                fingerprint.as_deref(),
            ))?;
            println!("{report}");
            Ok(())
        }
    }
}
