//! `duet-relay`: run the relay, print its fingerprint, issue team tokens, check one.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use duet_core::crypto::fingerprint_text;
use duet_relay::config::RelayConfig;
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
        /// Where the relay keeps its identity and mailboxes.
        #[arg(long)]
        data: PathBuf,
        /// A JSON file of settings (limits, require_team_token).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Let anyone who reaches the relay create mailboxes, without a team token (for a
        /// relay only a trusted network reaches).
        #[arg(long)]
        open: bool,
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
enum TokenCmd {
    /// Issue a team token (printed once; the relay keeps only its hash).
    New {
        /// A label for the team.
        #[arg(long)]
        label: String,
        /// The relay's data directory.
        #[arg(long)]
        data: PathBuf,
    },
    /// List the labels of issued tokens.
    List {
        /// The relay's data directory.
        #[arg(long)]
        data: PathBuf,
    },
    /// Revoke a team token, or every token with a label; no new mailbox can be made with
    /// it (mailboxes already made keep working). Run with the relay stopped.
    #[command(
        after_help = "Example:\n  duet-relay token revoke platform-team --data /var/lib/duet-relay"
    )]
    Revoke {
        /// The token (`dt_…`) or a label.
        token_or_label: String,
        /// The relay's data directory.
        #[arg(long)]
        data: PathBuf,
    },
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
        } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .init();
            let mut config = match config {
                Some(path) => RelayConfig::load(&path)?,
                None => RelayConfig::default(),
            };
            if open {
                config.require_team_token = false;
            }
            let open = !config.require_team_token;
            let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
            rt.block_on(async move {
                let store = RelayStore::open(&data)
                    .with_context(|| format!("opening the relay store in {}", data.display()))?;
                let server = RelayServer::bind(store, listen, config)?;
                let addr = server.local_addr()?;
                // Public, and readable while the store is locked by this process.
                std::fs::write(
                    data.join(FINGERPRINT_FILE),
                    format!("{}\n", fingerprint_text(&server.fingerprint())),
                )
                .with_context(|| format!("writing {FINGERPRINT_FILE} in {}", data.display()))?;
                println!(
                    "duet-relay listening on {addr} (UDP), fingerprint {}",
                    fingerprint_text(&server.fingerprint())
                );
                tracing::info!(%addr, "listening");
                if open {
                    tracing::warn!("open relay: anyone who reaches it can create mailboxes (no team token required)");
                }
                server.run(duet_core::net::shutdown_signal()).await;
                tracing::info!("stopped; everything acknowledged is on disk");
                Ok::<_, anyhow::Error>(())
            })
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
        Command::Token(TokenCmd::New { label, data }) => {
            let store = RelayStore::open_offline(&data)?;
            let token = store.new_team_token(&label)?;
            println!("{token}");
            eprintln!(
                "Team token for {label:?}: give it to the team; the relay keeps only its hash."
            );
            Ok(())
        }
        Command::Token(TokenCmd::Revoke {
            token_or_label,
            data,
        }) => {
            let store = RelayStore::open_offline(&data)?;
            match store.revoke_team_token(&token_or_label)? {
                0 => anyhow::bail!("no team token is {token_or_label:?} or labelled so (duet-relay token list shows the labels)"),
                n => {
                    println!("Revoked {n} team token{}.", if n == 1 { "" } else { "s" });
                    Ok(())
                }
            }
        }
        Command::Token(TokenCmd::List { data }) => {
            let store = RelayStore::open_offline(&data)?;
            for label in store.team_tokens()? {
                println!("{label}");
            }
            Ok(())
        }
        Command::Check { addr, fingerprint } => {
            let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
            let report = rt.block_on(duet_core::net::relay_client::check(
                &addr,
                fingerprint.as_deref(),
            ))?;
            println!("{report}");
            Ok(())
        }
    }
}
