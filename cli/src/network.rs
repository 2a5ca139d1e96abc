//! The commands that talk to other devices: `invite`, `join`, `serve` and `sync`. They run
//! the façade's network side on a tokio runtime owned by this process.

use crate::args::RelayCmd;
use crate::commands::Output;
use anyhow::{anyhow, Context, Result};
use duet_core::crypto::{fingerprint_text, parse_fingerprint};
use duet_core::invite::Invite;
use duet_core::net::client::{sync_with_retries, PeerOutcome};
use duet_core::net::relay_client;
use duet_core::net::server::{ServeEvent, Server};
use duet_core::net::{nearby, NetError, DEFAULT_PORT};
use duet_core::{Duet, DuetError, Role};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Attempts per device when a link breaks midway.
const ATTEMPTS: usize = 3;

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the network runtime")
}

/// Reads `host:port`, `host` (default port) or `[v6]:port`.
pub fn parse_addr(text: &str) -> Result<SocketAddr> {
    duet_core::net::resolve(text, DEFAULT_PORT)
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

/// The addresses a ticket names: those given, or this machine's on `port`.
fn addrs_to_give(addrs: &[String], port: Option<u16>) -> Result<Vec<SocketAddr>> {
    if addrs.is_empty() {
        Ok(reachable_addrs(port.unwrap_or(DEFAULT_PORT)))
    } else {
        addrs.iter().map(|a| parse_addr(a)).collect()
    }
}

/// `duet invite`.
pub fn invite(duet: &Duet, addrs: Vec<String>, port: Option<u16>, out: &Output) -> Result<()> {
    let addrs = addrs_to_give(&addrs, port)?;
    let relay = duet
        .relay_setting(&duet.selected_notebook()?)?
        .map(|r| r.relay_info())
        .transpose()?;
    let invite = duet.invite(addrs.clone(), relay)?;
    let ticket = invite.to_ticket();
    out.print(&serde_json::json!({ "ticket": ticket }), || {
        let qr = invite.to_qr().unwrap_or_default();
        let at: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        format!(
            "Invite to {:?}. It carries the notebook's secret: share it only with the other person.\n\n{qr}\n{ticket}\n\nOn their device: duet join {ticket} --as {}\nThey reach this device at {} while `duet serve` runs here.\n",
            invite.title,
            "manager|report",
            at.join(", ")
        )
    });
    Ok(())
}

/// `duet link`: prints this person's personal ticket, or takes one from their other device
/// and syncs the private notes from it (relay first, then the device itself).
pub fn link(
    duet: &mut Duet,
    ticket: Option<&str>,
    addrs: Vec<String>,
    port: Option<u16>,
    sync: bool,
    out: &Output,
) -> Result<()> {
    let Some(ticket) = ticket else {
        let addrs = addrs_to_give(&addrs, port)?;
        let link = duet.link_ticket(addrs.clone())?;
        let ticket = link.to_link_ticket();
        out.print(&serde_json::json!({ "ticket": ticket }), || {
            let qr = link.to_link_qr().unwrap_or_default();
            let at: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            format!(
                "Personal link for your own devices. It carries the secret of your private notes: never share it.\n\n{qr}\n{ticket}\n\nOn your other device: duet link {ticket}\nIt reaches this device at {} while `duet serve` runs here{}.\n",
                at.join(", "),
                if link.relay.is_some() { ", or through the relay" } else { "" }
            )
        });
        return Ok(());
    };
    let link = Invite::from_link_ticket(ticket).map_err(|e| DuetError::Invalid(e.to_string()))?;
    let space = duet.link_join(&link)?;
    if !sync {
        out.print(
            &serde_json::json!({ "personal_space": space, "synced": false }),
            || "Linked. Your private notes arrive with the next `duet sync`.\n".into(),
        );
        return Ok(());
    }
    let rt = runtime()?;
    let mut last_error = None;
    if link.relay.is_some() {
        match rt.block_on(relay_client::sync_relay(duet, &space)) {
            Ok(o) => {
                out.print(
                    &serde_json::json!({ "personal_space": space, "synced": true, "relay": o.addr, "report": o.report }),
                    || format!("Linked through the relay at {}: {}.\n", o.addr, o.report.summary()),
                );
                return Ok(());
            }
            Err(e) => last_error = Some(e),
        }
    }
    let pins = BTreeSet::from([link.fingerprint]);
    for addr in &link.addrs {
        match rt.block_on(sync_with_retries(duet, *addr, pins.clone(), ATTEMPTS)) {
            Ok(outcome) => {
                out.print(
                    &serde_json::json!({ "personal_space": space, "synced": true, "outcome": outcome_json(&outcome) }),
                    || format!("Linked and synced with {addr}: {}.\n", summaries(&outcome)),
                );
                return Ok(());
            }
            Err(e) => last_error = Some(e),
        }
    }
    let why = last_error.map_or("the ticket lists no address".to_owned(), |e| e.to_string());
    out.print(
        &serde_json::json!({ "personal_space": space, "synced": false, "error": why }),
        || format!("Linked, but the first sync failed: {why}\nRun `duet sync` when your other device runs `duet serve`.\n"),
    );
    Ok(())
}

/// `duet peers`.
pub fn peers(duet: &Duet, out: &Output) -> Result<()> {
    let me = fingerprint_text(&duet.tls_identity()?.fingerprint());
    let peers = duet.known_peers()?;
    out.print(
        &serde_json::json!({ "fingerprint": me, "peers": peers }),
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

/// `duet join`.
pub fn join(duet: &mut Duet, ticket: &str, role: Role, sync: bool, out: &Output) -> Result<()> {
    let invite = Invite::from_ticket(ticket).map_err(|e| DuetError::Invalid(e.to_string()))?;
    let id = duet.join_invite(&invite, role)?;
    if !sync {
        out.print(
            &serde_json::json!({ "notebook": id, "synced": false }),
            || {
                format!(
                    "Added {:?}; it arrives with the first `duet sync --peer ADDR`.\n",
                    invite.title
                )
            },
        );
        return Ok(());
    }
    if let Some(relay) = &invite.relay {
        duet.relay_set(&relay.addr, &fingerprint_text(&relay.fingerprint), None)?;
    }
    let pins = BTreeSet::from([invite.fingerprint]);
    let rt = runtime()?;
    let mut last_error = None;
    if invite.relay.is_some() {
        match rt.block_on(relay_client::sync_relay(duet, &id)) {
            Ok(o) => {
                duet.complete_joins()?;
                out.print(
                    &serde_json::json!({ "notebook": id, "synced": true, "relay": o.addr, "report": o.report }),
                    || {
                        format!(
                            "Joined {:?} as {} through the relay at {}: {}.\n",
                            invite.title,
                            role.as_str(),
                            o.addr,
                            o.report.summary()
                        )
                    },
                );
                return Ok(());
            }
            Err(e) => last_error = Some(e),
        }
    }
    for addr in &invite.addrs {
        match rt.block_on(sync_with_retries(duet, *addr, pins.clone(), ATTEMPTS)) {
            Ok(outcome) => {
                out.print(
                    &serde_json::json!({ "notebook": id, "synced": true, "outcome": outcome_json(&outcome) }),
                    || {
                        format!(
                            "Joined {:?} as {} and synced with {}: {}.\n",
                            invite.title,
                            role.as_str(),
                            addr,
                            summaries(&outcome)
                        )
                    },
                );
                return Ok(());
            }
            Err(e) => last_error = Some(e),
        }
    }
    let why = last_error.map_or("the invite lists no address".to_owned(), |e| e.to_string());
    out.print(&serde_json::json!({ "notebook": id, "synced": false, "error": why }), || {
        format!(
            "Added {:?}, but the first sync failed: {why}\nRun `duet sync` when the inviting device runs `duet serve`.\n",
            invite.title
        )
    });
    Ok(())
}

/// `duet serve`: runs until Ctrl-C or SIGTERM. Opens the home only while a sync needs it.
pub fn serve(home: &Path, listen: SocketAddr, announce: bool, json: bool) -> Result<()> {
    // Fail early, with the usual message, if the home is not set up.
    drop(Duet::open_waiting(home, crate::commands::lock_wait())?);
    let rt = runtime()?;
    rt.block_on(async {
        let events = Box::new(move |event: ServeEvent| print_event(&event, json));
        let server = Server::bind(home.to_owned(), listen, events).await?;
        let addr = server.local_addr()?;
        let fp = fingerprint_text(&server.fingerprint());
        let _announcement = if announce {
            match nearby::announce(addr.port(), &server.fingerprint()) {
                Ok(a) => Some(a),
                Err(e) => {
                    eprintln!("duet: not announced on the local network: {e}");
                    None
                }
            }
        } else {
            None
        };
        if json {
            println!("{}", serde_json::json!({ "event": "listening", "addr": addr, "fingerprint": fp }));
        } else {
            println!("Serving this device's notebooks on {addr} (fingerprint {fp}).\nOther duet commands on this home keep working. Ctrl-C stops.");
        }
        server.run(shutdown_signal()).await;
        if json {
            println!("{}", serde_json::json!({ "event": "stopped" }));
        } else {
            println!("Stopped.");
        }
        Ok::<_, anyhow::Error>(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match term {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn print_event(event: &ServeEvent, json: bool) {
    use std::io::Write;
    let line = match event {
        ServeEvent::Synced { addr, peer, report } => {
            if json {
                serde_json::json!({ "event": "synced", "addr": addr, "peer": peer, "report": report })
                    .to_string()
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
                serde_json::json!({ "event": "refused", "addr": addr, "reason": reason })
                    .to_string()
            } else {
                format!("Refused {addr}: {reason}")
            }
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// What `duet sync` reaches.
pub struct SyncTargets {
    /// One device's address.
    pub peer: Option<String>,
    /// Its fingerprint, for a first contact without an invite.
    pub fingerprint: Option<String>,
    /// Look for devices on the local network this long.
    pub nearby: Option<Duration>,
    /// Only the relays.
    pub relay_only: bool,
}

/// `duet sync`: with no flags, every notebook's relay and every remembered device.
pub fn sync(duet: &mut Duet, t: SyncTargets, out: &Output) -> Result<()> {
    let mut targets: Vec<(SocketAddr, BTreeSet<[u8; 32]>)> = Vec::new();
    let known: BTreeSet<[u8; 32]> = duet
        .known_peers()?
        .iter()
        .filter_map(|p| parse_fingerprint(&p.fingerprint))
        .collect();
    let explicit =
        match &t.fingerprint {
            Some(text) => Some(parse_fingerprint(text).ok_or_else(|| {
                DuetError::Invalid(format!("{text:?} is not a device fingerprint"))
            })?),
            None => None,
        };
    let mut relays = Vec::new();
    if let Some(peer) = &t.peer {
        let pins = match explicit {
            Some(fp) => BTreeSet::from([fp]),
            None => known.clone(),
        };
        targets.push((parse_addr(peer)?, pins));
    } else if let Some(wait) = t.nearby {
        let mine = duet.tls_identity()?.fingerprint();
        for found in nearby::browse(wait).map_err(|e| anyhow!(e))? {
            if found.fingerprint == mine {
                continue;
            }
            // An announcement is unauthenticated: pin what it announced, and let the
            // membership handshake decide whether it shares a notebook.
            for addr in found.addrs.iter().take(1) {
                targets.push((*addr, BTreeSet::from([found.fingerprint])));
            }
        }
        if targets.is_empty() {
            return Err(anyhow!(DuetError::NotFound {
                kind: "device serving on the local network",
                query: "nearby".into(),
            }));
        }
    } else {
        relays = duet.relayed_notebooks()?;
        if !t.relay_only {
            for p in duet.known_peers()? {
                if let (Some(addr), Some(fp)) = (p.addr, parse_fingerprint(&p.fingerprint)) {
                    targets.push((addr, BTreeSet::from([fp])));
                }
            }
        }
        if targets.is_empty() && relays.is_empty() {
            return Err(anyhow!(DuetError::Invalid(
                "nothing to sync with yet: `duet relay set ADDR --fingerprint FP`, or `duet sync --peer ADDR` (the other device runs `duet serve`), or `duet sync --nearby`".into()
            )));
        }
    }
    let rt = runtime()?;
    let mut outcomes = Vec::new();
    let mut relayed = Vec::new();
    let mut failures: Vec<(String, NetError)> = Vec::new();
    for (notebook, setting) in relays {
        match rt.block_on(relay_client::sync_relay_with_retries(
            duet, &notebook, ATTEMPTS,
        )) {
            Ok(o) => relayed.push(o),
            Err(e) => failures.push((format!("relay {}", setting.addr), e)),
        }
    }
    for (addr, pins) in targets {
        match rt.block_on(sync_with_retries(duet, addr, pins, ATTEMPTS)) {
            Ok(o) => outcomes.push(o),
            Err(e) => failures.push((addr.to_string(), e)),
        }
    }
    let json = serde_json::json!({
        "relays": relayed.iter().map(|o| serde_json::json!({
            "addr": o.addr,
            "notebook": o.report,
            "pulled": o.pulled,
            "rejected": o.rejected,
            "pushed": o.pushed,
        })).collect::<Vec<_>>(),
        "synced": outcomes.iter().map(outcome_json).collect::<Vec<_>>(),
        "failed": failures.iter().map(|(a, e)| serde_json::json!({ "addr": a, "error": e.to_string() })).collect::<Vec<_>>(),
    });
    out.print(&json, || {
        let mut text = String::new();
        for o in &relayed {
            text.push_str(&format!(
                "Synced {:?} through the relay at {}: {} from other devices; sent {} change(s).\n",
                o.report.title,
                o.addr,
                o.report.summary(),
                o.report.sent_changes
            ));
            if o.rejected > 0 {
                text.push_str(&format!(
                    "  {} relay entr{} failed to open (tampered or misplaced) and were skipped.\n",
                    o.rejected,
                    if o.rejected == 1 { "y" } else { "ies" }
                ));
            }
        }
        for o in &outcomes {
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
    if outcomes.is_empty() && relayed.is_empty() {
        if let Some((_, e)) = failures.into_iter().next() {
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
            let setting = duet.relay_set(&addr, &fingerprint, team_token)?;
            out.print(&setting, || {
                format!(
                    "This notebook now syncs through the relay at {} (`duet sync`). New invites carry it.\n",
                    setting.addr
                )
            });
        }
        RelayCmd::Compact => {
            let id = duet.selected_notebook()?;
            let rt = runtime()?;
            let upto = rt
                .block_on(relay_client::compact_relay(duet, &id))
                .map_err(net_error)?;
            out.print(&serde_json::json!({ "compacted_upto": upto }), || {
                if upto == 0 {
                    "Nothing on the relay to compact yet.\n".into()
                } else {
                    format!("The relay replaced entries 1-{upto} with one sealed snapshot.\n")
                }
            });
        }
        RelayCmd::Show => {
            let id = duet.selected_notebook()?;
            let setting = duet.relay_setting(&id)?;
            let cursor = duet.relay_cursor(&id)?;
            out.print(
                &serde_json::json!({ "relay": setting, "cursor": cursor }),
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

/// `duet watch`: subscribes to the current notebook's relay and applies what arrives, until
/// Ctrl-C. The home is opened only while applying, so other commands keep working.
pub fn watch(home: &Path, notebook: Option<&str>, out: &Output) -> Result<()> {
    let json = out.json;
    let rt = runtime()?;
    let (id, key, client, after, first) = {
        let mut duet = Duet::open_waiting(home, crate::commands::lock_wait())?;
        if let Some(nb) = notebook {
            duet.select(nb)?;
        }
        let id = duet.selected_notebook()?;
        if duet.relay_setting(&id)?.is_none() {
            return Err(anyhow!(DuetError::Invalid(
                "this notebook has no relay to watch (duet relay set ADDR --fingerprint FP)".into(),
            )));
        }
        // Catch up, and push what is pending, before waiting; the home is released after.
        let first = rt.block_on(relay_client::sync_relay(&mut duet, &id))?;
        let client = rt.block_on(relay_client::connect_notebook_relay(&mut duet, &id))?;
        (
            id.clone(),
            duet.mailbox_key(&id)?,
            client,
            duet.relay_cursor(&id)?,
            first,
        )
    };
    print_watch(&first.report, json);
    let addr = first.addr;
    rt.block_on(async move {
        let mut sub = client.subscribe(&key, after).await?;
        if !json {
            println!(
                "Watching {:?} on the relay at {addr}. Ctrl-C stops.",
                first.report.title
            );
        }
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                next = sub.next() => {
                    let Some(entries) = next? else { break };
                    let mut duet = Duet::open_waiting(home, crate::commands::lock_wait())?;
                    let (report, _) = duet.relay_apply(&id, entries)?;
                    drop(duet);
                    if report.documents_changed > 0 {
                        print_watch(&report, json);
                    }
                }
            }
        }
        client.close().await;
        Ok::<_, anyhow::Error>(())
    })
}

fn print_watch(report: &duet_core::SyncReport, json: bool) {
    use std::io::Write;
    let line = if json {
        serde_json::json!({ "event": "changes", "report": report }).to_string()
    } else {
        format!(
            "{} {:?}: {}",
            jiff::Zoned::now().strftime("%H:%M:%S"),
            report.title,
            report.summary()
        )
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// A network error as the CLI reports it (store errors keep their exit codes).
fn net_error(e: NetError) -> anyhow::Error {
    match e {
        NetError::Duet(d) => anyhow!(d),
        other => anyhow!(other),
    }
}

fn outcome_json(o: &PeerOutcome) -> serde_json::Value {
    serde_json::json!({
        "addr": o.addr,
        "peer": fingerprint_text(&o.peer),
        "notebooks": o.reports,
        "bytes_sent": o.bytes_sent,
        "bytes_received": o.bytes_received,
    })
}

fn summaries(o: &PeerOutcome) -> String {
    o.reports
        .iter()
        .map(|r| r.summary())
        .collect::<Vec<_>>()
        .join("; ")
}
