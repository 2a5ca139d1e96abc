//! The commands that involve other devices: `link TICKET`, `join`, `sync`, `relay` and
//! `watch` (making invites and links is [`crate::invites`]). Those that wait on the network
//! (`sync`, `join`, `link TICKET`, `relay compact`) are async and reach the home only
//! through its handle, a call per step, so they never hold it while waiting; the rest are
//! plain calls on the open home.

use crate::args::RelayCmd;
use crate::commands::{Output, RunContext};
use crate::json::notebook::list;
use crate::json::sync::{
    Compacted, Device, FirstSyncResult, PeerSync, Peers, Relay, RelayShown, RelaySync, Report,
    SyncFailure, SyncRound as SyncRoundJson, Watched,
};
use anyhow::{anyhow, Context, Result};
use duet_core::crypto::{fingerprint_text, parse_fingerprint};
use duet_core::invite::Invite;
use duet_core::{Duet, DuetError, Role};
use duet_node::net::client::PeerOutcome;
use duet_node::net::relay_client;
use duet_node::net::{NetError, DEFAULT_PORT};
use duet_node::service::{self, first_contact, FirstContact, SyncScope};
use duet_node::HomeHandle;
use std::net::SocketAddr;
use std::time::Duration;

/// Attempts per device when a link breaks midway.
const ATTEMPTS: usize = 3;

/// The tokio runtime a command's network work runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the network runtime")
}

/// Reads `host:port`, `host` (default port) or `[v6]:port`.
pub fn parse_addr(text: &str) -> Result<SocketAddr> {
    duet_node::net::resolve(text, DEFAULT_PORT)
        .map_err(|e| anyhow!(DuetError::Invalid(e.to_string())))
}

/// This machine's addresses other devices can reach, on `port`.
fn reachable_addrs(port: u16) -> Vec<SocketAddr> {
    let mut addrs: Vec<SocketAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !i.is_loopback())
        .map(|i| SocketAddr::new(i.ip(), port))
        .filter(|a| match a.ip() {
            std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
            std::net::IpAddr::V4(_) => true,
        })
        .collect();
    if addrs.is_empty() {
        addrs.push(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    addrs
}

/// The addresses a ticket names: those given; else where this device serves (the running
/// node's address, or the one `duet serve` last listened on), on `port` if given.
pub(crate) fn addrs_to_give(
    duet: &Duet,
    addrs: &[String],
    port: Option<u16>,
    context: &RunContext,
) -> Result<Vec<SocketAddr>> {
    if !addrs.is_empty() {
        return addrs.iter().map(|a| parse_addr(a)).collect();
    }
    let listen = match context.serving {
        Some(addr) => Some(addr),
        None => duet.peers().serve_addr()?,
    };
    Ok(match (listen, port) {
        (_, Some(port)) => reachable_addrs(port),
        (Some(listen), None) if !listen.ip().is_unspecified() => vec![listen],
        (Some(listen), None) => reachable_addrs(listen.port()),
        (None, None) => reachable_addrs(DEFAULT_PORT),
    })
}

/// `duet link TICKET`: takes this person's ticket from their other device and syncs the
/// private notes from it (relay first, then the device itself).
pub async fn link_and_sync(
    home: &HomeHandle,
    ticket: &str,
    no_sync: bool,
    out: &Output,
) -> Result<()> {
    if duet_core::one_time_invite::OneTimeInvite::is_one_time_link(ticket) {
        return crate::invites::link_redeem(home, ticket, no_sync, out).await;
    }
    let link = Invite::from_link_ticket(ticket).map_err(DuetError::Ticket)?;
    let space = {
        let link = link.clone();
        home.call(move |d| d.joins().link(&link)).await?
    };
    first_link_sync(
        home,
        space,
        link.relay.is_some(),
        &link.addrs,
        link.fingerprint,
        no_sync,
        out,
    )
    .await
}

/// The first sync of a personal space just linked: the relay first, then the other device.
/// A failure is reported, not returned: the link is recorded and syncs later.
pub async fn first_link_sync(
    home: &HomeHandle,
    space: String,
    relay: bool,
    addrs: &[SocketAddr],
    fingerprint: [u8; 32],
    no_sync: bool,
    out: &Output,
) -> Result<()> {
    if no_sync {
        out.print(
            &FirstSyncResult {
                personal_space: Some(space),
                ..Default::default()
            },
            || "Linked. Your private notes arrive with the next `duet sync`.\n".into(),
        );
        return Ok(());
    }
    let contact = first_contact(home, &space, relay, addrs, fingerprint, ATTEMPTS).await;
    let base = FirstSyncResult {
        personal_space: Some(space),
        ..Default::default()
    };
    say_first_contact(
        out,
        contact,
        base,
        FirstWords {
            relay: &|at, what| format!("Linked through the relay at {at}: {what}.\n"),
            device: &|at, what| format!("Linked and synced with {at}: {what}.\n"),
            failed: &|why| {
                format!("Linked, but the first sync failed: {why}\nRun `duet sync` when your other device runs `duet serve`.\n")
            },
            nothing: "the ticket lists no address",
        },
    );
    Ok(())
}

/// How a first sync's outcome is worded: `relay` and `device` take where it synced and
/// what arrived, `failed` why it did not, and `nothing` is the why when there was
/// nowhere to try.
struct FirstWords<'a> {
    relay: &'a dyn Fn(SocketAddr, &str) -> String,
    device: &'a dyn Fn(SocketAddr, &str) -> String,
    failed: &'a dyn Fn(&str) -> String,
    nothing: &'a str,
}

/// Prints what a first sync reached: its JSON on `base` (which names the space), and its
/// words.
fn say_first_contact(
    out: &Output,
    contact: FirstContact,
    base: FirstSyncResult,
    words: FirstWords<'_>,
) {
    match contact {
        FirstContact::Relay(o) => out.print(
            &FirstSyncResult {
                synced: true,
                relay: Some(o.addr),
                report: Some(Report::from(&o.report)),
                ..base
            },
            || (words.relay)(o.addr, &o.report.summary()),
        ),
        FirstContact::Device(addr, outcome) => out.print(
            &FirstSyncResult {
                synced: true,
                outcome: Some(PeerSync::from(&outcome)),
                ..base
            },
            || (words.device)(addr, &summaries(&outcome)),
        ),
        FirstContact::Failed(e) => {
            let why = e.map_or(words.nothing.to_owned(), |e| e.to_string());
            out.print(
                &FirstSyncResult {
                    error: Some(why.clone()),
                    ..base
                },
                || (words.failed)(&why),
            )
        }
    }
}

/// `duet peers`.
pub fn peers(duet: &Duet, out: &Output) -> Result<()> {
    let me = fingerprint_text(&duet.peers().tls_identity()?.fingerprint());
    let peers = duet.peers().known()?;
    out.print(
        &Peers {
            fingerprint: me.clone(),
            peers: list::<_, Device>(&peers),
        },
        || {
            let mut text = format!("This device: {me}\n");
            if peers.is_empty() {
                text.push_str("No other device yet: `duet invite` here, `duet join` there.\n");
            }
            for p in &peers {
                let when = jiff::Timestamp::from_millisecond(p.last_sync)
                    .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                let at = p
                    .addr
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "(connected here)".into());
                text.push_str(&format!("{}  {at}  last sync {when} UTC\n", p.fingerprint));
            }
            text
        },
    );
    Ok(())
}

/// `duet join`: records the notebook from the ticket, then syncs it (relay first, then the
/// inviting device) unless `no_sync`. A one-time ticket is redeemed first
/// ([`crate::invites::join`]); a `duet1` ticket of an older Duet carries the secret itself.
pub async fn join(
    home: &HomeHandle,
    ticket: &str,
    role: Role,
    no_sync: bool,
    out: &Output,
) -> Result<()> {
    if duet_core::one_time_invite::OneTimeInvite::is_one_time(ticket) {
        return crate::invites::join(home, ticket, role, no_sync, out).await;
    }
    let invite = Invite::from_ticket(ticket).map_err(DuetError::Ticket)?;
    let id = {
        let invite = invite.clone();
        home.call(move |d| d.joins().by_invite(&invite, role))
            .await?
    };
    if no_sync {
        out.print(
            &FirstSyncResult {
                notebook: Some(id.clone()),
                ..Default::default()
            },
            || {
                format!(
                    "Added {:?}; it arrives with the first `duet sync`.\n",
                    invite.title
                )
            },
        );
        return Ok(());
    }
    first_sync(
        home,
        FirstSync {
            id,
            title: invite.title.clone(),
            role,
            relay: invite.relay.is_some(),
            addrs: invite.addrs.clone(),
            fingerprint: invite.fingerprint,
        },
        out,
    )
    .await
}

/// A notebook just joined, and where its first sync goes.
pub struct FirstSync {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Who this device is in it.
    pub role: Role,
    /// Whether the ticket named a relay (recorded for the notebook).
    pub relay: bool,
    /// The inviting device's addresses.
    pub addrs: Vec<SocketAddr>,
    /// The inviting device's certificate fingerprint.
    pub fingerprint: [u8; 32],
}

/// The first sync of a notebook just joined: the relay first, then the inviting device.
/// A failure is reported, not returned: the notebook is joined and arrives later.
pub async fn first_sync(home: &HomeHandle, joined: FirstSync, out: &Output) -> Result<()> {
    let FirstSync {
        id,
        title,
        role,
        relay,
        addrs,
        fingerprint,
    } = joined;
    let contact = first_contact(home, &id, relay, &addrs, fingerprint, ATTEMPTS).await;
    let base = FirstSyncResult {
        notebook: Some(id),
        ..Default::default()
    };
    let role = role.as_str();
    say_first_contact(
        out,
        contact,
        base,
        FirstWords {
            relay: &|at, what| {
                format!("Joined {title:?} as {role} through the relay at {at}: {what}.\n")
            },
            device: &|at, what| {
                format!("Joined {title:?} as {role} and synced with {at}: {what}.\n")
            },
            failed: &|why| {
                format!("Added {title:?}, but the first sync failed: {why}\nRun `duet sync` when the inviting device runs `duet serve`.\n")
            },
            nothing: "the invite lists no address",
        },
    );
    Ok(())
}

/// What `duet sync` reaches.
pub struct SyncTargets {
    /// One device's address.
    pub peer: Option<SocketAddr>,
    /// Its fingerprint, for a first contact without an invite.
    pub fingerprint: Option<String>,
    /// Look for devices on the local network this long.
    pub nearby: Option<Duration>,
    /// Only the relays.
    pub relay_only: bool,
}

/// `duet sync`: with no flags, every notebook's relay and every remembered device.
pub async fn sync(home: &HomeHandle, t: SyncTargets, out: &Output) -> Result<()> {
    let scope = if let Some(addr) = t.peer {
        let fingerprint = match &t.fingerprint {
            Some(text) => Some(parse_fingerprint(text).ok_or_else(|| {
                DuetError::Invalid(format!("{text:?} is not a device fingerprint"))
            })?),
            None => None,
        };
        SyncScope::Device { addr, fingerprint }
    } else if let Some(wait) = t.nearby {
        SyncScope::Nearby { wait }
    } else if t.relay_only {
        SyncScope::Relays
    } else {
        SyncScope::Everything
    };
    let nearby = matches!(scope, SyncScope::Nearby { .. });
    let targets = service::targets(home, scope).await.map_err(net_error)?;
    if targets.is_empty() {
        return Err(anyhow!(if nearby {
            DuetError::NotFound {
                kind: "device serving on the local network",
                query: "nearby".into(),
            }
        } else {
            DuetError::Invalid(
                "nothing to sync with yet: `duet relay set ADDR --fingerprint FP`, or `duet sync --peer ADDR` (the other device runs `duet serve`), or `duet sync --nearby`".into()
            )
        }));
    }
    let round = service::sync_round(home, targets, ATTEMPTS).await;
    let (relayed, outcomes) = (&round.relays, &round.devices);
    let failures: Vec<(String, &NetError)> = round
        .failures
        .iter()
        .map(|(target, e)| (target.label(), e))
        .collect();
    let result = SyncRoundJson {
        relays: list::<_, RelaySync>(relayed),
        synced: list::<_, PeerSync>(outcomes),
        failed: failures
            .iter()
            .map(|(addr, e)| SyncFailure {
                addr: addr.clone(),
                error: e.to_string(),
            })
            .collect(),
    };
    out.print(&result, || {
        let mut text = String::new();
        for o in relayed {
            text.push_str(&format!(
                "Synced {:?} through the relay at {}: {} from other devices; sent {} change(s).\n",
                o.report.title,
                o.addr,
                o.report.summary(),
                o.report.sent_changes
            ));
            if o.rewound {
                text.push_str(
                    "  The relay's log was not the one this device had read (restored from a backup, wiped or compacted): read it again from the start and sent what it lacked.\n",
                );
            }
            if o.rejected > 0 {
                text.push_str(&format!(
                    "  {} relay entr{} could not be used (tampered, misplaced, or set aside; see `duet status`) and were skipped.\n",
                    o.rejected,
                    if o.rejected == 1 { "y" } else { "ies" }
                ));
            }
        }
        for o in outcomes {
            for r in &o.reports {
                text.push_str(&format!(
                    "Synced {:?} with {}: {} from the other device; sent {} change(s).\n",
                    r.title,
                    o.addr,
                    r.summary(),
                    r.sent_changes
                ));
            }
        }
        for (addr, e) in &failures {
            text.push_str(&format!("Could not sync with {addr}: {e}\n"));
        }
        text
    });
    if round.reached_nothing() {
        if let Some((_, e)) = round.failures.into_iter().next() {
            return Err(net_error(e));
        }
    }
    Ok(())
}

/// `duet relay set|show`.
pub fn relay(duet: &mut Duet, cmd: RelayCmd, out: &Output) -> Result<()> {
    match cmd {
        RelayCmd::Set {
            addr,
            fingerprint,
            team_token,
        } => {
            let setting = duet.relay().set(&addr, &fingerprint, team_token)?;
            out.print(&Relay::from(&setting), || {
                format!(
                    "This notebook now syncs through the relay at {} (`duet sync`). New invites carry it.\n",
                    setting.addr
                )
            });
        }
        RelayCmd::Compact => {
            return Err(anyhow!(
                "`duet relay compact` talks to the relay: not a local command"
            ))
        }
        RelayCmd::Show => {
            let id = duet.selected_notebook()?;
            let setting = duet.relay().setting(&id)?;
            let cursor = duet.relay().cursor(&id)?;
            out.print(
                &RelayShown {
                    relay: setting.as_ref().map(Relay::from),
                    cursor,
                },
                || match &setting {
                    Some(s) => format!(
                        "Relay {} (fingerprint {}); read up to entry {cursor}.\n",
                        s.addr, s.fingerprint
                    ),
                    None => {
                        "No relay for this notebook: duet relay set ADDR --fingerprint FP\n".into()
                    }
                },
            );
        }
    }
    Ok(())
}

/// `duet relay compact`.
pub async fn compact(home: &HomeHandle, selected: Option<String>, out: &Output) -> Result<()> {
    let id = match selected {
        Some(id) => id,
        None => home.call(|d| d.selected_notebook()).await?,
    };
    let upto = relay_client::compact_relay(home, &id)
        .await
        .map_err(net_error)?;
    out.print(
        &Compacted {
            compacted_upto: upto,
        },
        || {
            if upto == 0 {
                "Nothing on the relay to compact yet.\n".into()
            } else {
                format!("The relay replaced entries 1-{upto} with one sealed snapshot.\n")
            }
        },
    );
    Ok(())
}

/// One line of `duet watch` for what arrived.
pub fn watch_line(report: &duet_core::SyncReport, json: bool) -> String {
    if json {
        serde_json::to_string(&Watched::Changes {
            report: Report::from(report),
        })
        .unwrap_or_default()
    } else {
        format!(
            "{} {:?}: {}",
            jiff::Zoned::now().strftime("%H:%M:%S"),
            report.title,
            report.summary()
        )
    }
}

/// A network error as the CLI reports it (store errors keep their exit codes).
pub fn net_error(e: NetError) -> anyhow::Error {
    match duet_node::net::into_local_error(e) {
        Ok(d) => anyhow!(d),
        Err(other) => anyhow!(other),
    }
}

fn summaries(o: &PeerOutcome) -> String {
    o.reports
        .iter()
        .map(|r| r.summary())
        .collect::<Vec<_>>()
        .join("; ")
}
