//! Load generator for `duet-relay`: many simulated devices over loopback QUIC against a
//! real relay process, with a raw quinn echo server measured in the same run as the
//! baseline.
//!
//! Reports: connection setup (relay vs raw quinn), echo round trip (the floor), relay
//! memory per idle connected device, durable pushes per second of 1 KB envelopes, and
//! push-to-delivery latency to subscribed devices (a device's first push, which makes the
//! relay read its mailbox, apart from the rest; and, within it, the push's own wait for its
//! durable acknowledgement). Run a release build:
//! `cargo run --release -p duet-relay --bin duet-relay-load -- --devices 10000`.
//!
//! `--store URL` starts two relay processes on one PostgreSQL database instead of one on
//! sled: pushers spread over both, and every delivery crosses them (each device pushes
//! through one process and its subscriber listens on the other). `--relay ADDR
//! --fingerprint FP` aims at a relay already running (`--pid` adds its memory).

use anyhow::{anyhow, Context, Result};
use clap::Parser;
use duet_protocol::net::relay_client::{MailboxKey, RelayClient};
use duet_protocol::net::relay_link::RelayLink;
use duet_protocol::net::tls::{self, Pins, TlsIdentity};
use duet_protocol::wire::RelayReply;
use std::io::BufRead;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Load the relay with simulated devices.
#[derive(Debug, Parser)]
struct Args {
    /// Idle devices to connect at once.
    #[arg(long, default_value_t = 10_000)]
    devices: usize,
    /// Concurrent pushers for the throughput phase.
    #[arg(long, default_value_t = 256)]
    pushers: usize,
    /// Seconds of pushing.
    #[arg(long, default_value_t = 5)]
    push_secs: u64,
    /// Active devices in the delivery phase (half push, half subscribe).
    #[arg(long, default_value_t = 1_000)]
    active: usize,
    /// Pushes each pushing device makes in the delivery phase, 200 ms apart (50: ten
    /// seconds, so one stall of the machine weighs less in the p99 than over two).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(2..=10_000))]
    rounds: u32,
    /// Start two relay processes on this PostgreSQL database instead of one on sled.
    #[arg(long, value_name = "URL", conflicts_with = "relay")]
    store: Option<String>,
    /// Aim at a relay already running at this address (it must be open: no team token).
    #[arg(long, requires = "fingerprint")]
    relay: Option<SocketAddr>,
    /// The running relay's fingerprint.
    #[arg(long)]
    fingerprint: Option<String>,
    /// The running relay's process id, to measure its memory.
    #[arg(long)]
    pid: Option<u32>,
}

/// A delivery as a subscriber saw it: how long after its push, and whether it was the
/// pushing device's first.
#[derive(Clone, Copy)]
struct Arrival {
    latency: Duration,
    first: bool,
}

impl Arrival {
    /// Bytes of an envelope: when it was pushed (8, nanoseconds since the phase began),
    /// whether it is the device's first push (1), then filler.
    const ENVELOPE_BYTES: usize = 1024;

    fn envelope(pushed: Duration, first: bool) -> Vec<u8> {
        let mut env = (pushed.as_nanos() as u64).to_be_bytes().to_vec();
        env.push(u8::from(first));
        env.resize(Self::ENVELOPE_BYTES, 1);
        env
    }

    /// The arrival of `env` read `now`; `None` for an envelope this phase did not push.
    fn read(env: &[u8], now: Duration) -> Option<Arrival> {
        let pushed = <[u8; 8]>::try_from(env.get(..8)?).ok()?;
        let pushed = Duration::from_nanos(u64::from_be_bytes(pushed));
        Some(Arrival {
            latency: now.saturating_sub(pushed),
            first: *env.get(8)? == 1,
        })
    }
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS for {pid}"))
}

struct RelayProcess {
    /// The process, when this tool started it.
    child: Option<std::process::Child>,
    /// Its pid, when known.
    pid: Option<u32>,
    addr: SocketAddr,
    fingerprint: [u8; 32],
    _dir: Option<tempfile::TempDir>,
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Connections the load tool makes beside the idle and active devices: the setup and
/// echo probes (closed at once, but counted until the relay sees them go) and the pushers.
const OTHER_CONNECTIONS: usize = 1_000;

/// Starts a relay process that admits `connections` devices, all from this one address.
fn start_relay(store: Option<&str>, connections: usize) -> Result<RelayProcess> {
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("duet-relay");
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("relay.json");
    std::fs::write(
        &config,
        format!(
            r#"{{ "max_connections": {connections}, "max_connections_per_address": {connections}, "requests_per_second": 100000, "idle_timeout_secs": 120, "require_team_token": false }}"#
        ),
    )?;
    let mut child = std::process::Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .args(store.map(|url| ["--store", url]).into_iter().flatten())
        .env("RUST_LOG", "warn")
        .envs(
            std::env::var("MALLOC_ARENA_MAX")
                .ok()
                .map(|v| ("MALLOC_ARENA_MAX", v)),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut line = String::new();
    let mut lines = std::io::BufReader::new(stdout);
    lines.read_line(&mut line)?;
    // Whatever the relay prints next (its metrics address, when set) is read and dropped:
    // a write to a closed pipe would end it.
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    let addr = line
        .split_whitespace()
        .nth(3)
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| anyhow!("relay did not start: {line}"))?;
    let fingerprint = line
        .split_whitespace()
        .last()
        .and_then(duet_protocol::crypto::parse_fingerprint)
        .ok_or_else(|| anyhow!("no fingerprint in {line}"))?;
    Ok(RelayProcess {
        pid: Some(child.id()),
        child: Some(child),
        addr,
        fingerprint,
        _dir: Some(dir),
    })
}

/// A raw quinn echo server: each stream's bytes are written back.
async fn echo_server(identity: &TlsIdentity) -> Result<(quinn::Endpoint, [u8; 32])> {
    let config = tls::server_config_for(identity, b"echo")?;
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(config)?;
    let endpoint = quinn::Endpoint::server(
        quinn::ServerConfig::with_crypto(Arc::new(quic)),
        "127.0.0.1:0".parse()?,
    )?;
    let server = endpoint.clone();
    tokio::spawn(async move {
        while let Some(incoming) = server.accept().await {
            tokio::spawn(async move {
                let Ok(conn) = incoming.await else { return };
                while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                    tokio::spawn(async move {
                        if let Ok(data) = recv.read_to_end(1 << 20).await {
                            let _ = send.write_all(&data).await;
                            let _ = send.finish();
                        }
                    });
                }
            });
        }
    });
    Ok((endpoint, identity.fingerprint()))
}

/// A client endpoint on its own socket, with buffers as large as the relay's: many
/// devices' handshakes share it.
fn client_endpoint() -> Result<quinn::Endpoint> {
    let socket = duet_relay::udp::bind("127.0.0.1:0".parse()?)?;
    Ok(quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        None,
        socket,
        Arc::new(quinn::TokioRuntime),
    )?)
}

async fn raw_connect(
    endpoint: &quinn::Endpoint,
    identity: &TlsIdentity,
    addr: SocketAddr,
    fp: [u8; 32],
    alpn: &[u8],
) -> Result<quinn::Connection> {
    let config = tls::client_config_for(
        identity,
        Pins::Exactly([fp].into()),
        Default::default(),
        alpn,
    )?;
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(config)?;
    let mut cc = quinn::ClientConfig::new(Arc::new(quic));
    cc.transport_config(duet_protocol::net::transport());
    Ok(endpoint.connect_with(cc, addr, "load")?.await?)
}

fn key(i: usize) -> MailboxKey {
    let mut token = [0u8; 32];
    token[..8].copy_from_slice(&(i as u64).to_be_bytes());
    MailboxKey {
        mailbox: format!("{:032x}", i as u128 + 1),
        token,
        team_token: None,
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let admitted = args.devices + args.active + args.pushers + OTHER_CONNECTIONS;
    let relays: Vec<RelayProcess> = match (&args.relay, &args.store) {
        (Some(addr), _) => vec![RelayProcess {
            child: None,
            pid: args.pid,
            addr: *addr,
            fingerprint: args
                .fingerprint
                .as_deref()
                .and_then(duet_protocol::crypto::parse_fingerprint)
                .ok_or_else(|| anyhow!("--fingerprint is not a relay fingerprint"))?,
            _dir: None,
        }],
        (None, Some(url)) => vec![
            start_relay(Some(url), admitted)?,
            start_relay(Some(url), admitted)?,
        ],
        (None, None) => vec![start_relay(None, admitted)?],
    };
    let relay = &relays[0];
    let identity = TlsIdentity::generate()?;
    let (echo, echo_fp) = echo_server(&identity).await?;
    let echo_addr = echo.local_addr()?;
    println!(
        "{} relay process(es) ({}) at {}, echo baseline at {echo_addr}",
        relays.len(),
        if args.store.is_some() {
            "PostgreSQL"
        } else if args.relay.is_some() {
            "running"
        } else {
            "sled"
        },
        relays
            .iter()
            .map(|r| r.addr.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );

    // 1. Connection setup, sequential: relay vs raw quinn (same TLS, same machine).
    let ep = client_endpoint()?;
    let mut raw = Vec::new();
    let mut rel = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let c = raw_connect(&ep, &identity, echo_addr, echo_fp, b"echo").await?;
        raw.push(t.elapsed());
        c.close(0u32.into(), b"");
        let t = Instant::now();
        let c = raw_connect(
            &ep,
            &identity,
            relay.addr,
            relay.fingerprint,
            tls::RELAY_ALPN,
        )
        .await?;
        rel.push(t.elapsed());
        c.close(0u32.into(), b"");
    }
    let (r50, q50) = (percentile(&mut raw, 0.5), percentile(&mut rel, 0.5));
    println!(
        "connection setup p50: relay {:.3} ms, raw quinn {:.3} ms ({:.2}x)",
        ms(q50),
        ms(r50),
        q50.as_secs_f64() / r50.as_secs_f64()
    );

    // 2. Echo round trip, 1 KB, the floor.
    let conn = raw_connect(&ep, &identity, echo_addr, echo_fp, b"echo").await?;
    let mut rtt = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        let (mut s, mut r) = conn.open_bi().await?;
        s.write_all(&[7u8; 1024]).await?;
        s.finish()?;
        r.read_to_end(4096).await?;
        rtt.push(t.elapsed());
    }
    println!(
        "echo round trip 1 KB: p50 {:.3} ms, p99 {:.3} ms",
        ms(percentile(&mut rtt, 0.5)),
        ms(percentile(&mut rtt, 0.99))
    );

    // 3. Idle devices: how much relay memory each holds.
    let pid = relay.pid;
    let before = pid.map(rss_kib).transpose()?.unwrap_or(0);
    let mut idle = Vec::with_capacity(args.devices);
    let idle_config = {
        let config = tls::client_config_for(
            &identity,
            Pins::Exactly([relay.fingerprint].into()),
            Default::default(),
            tls::RELAY_ALPN,
        )?;
        let quic = quinn::crypto::rustls::QuicClientConfig::try_from(config)?;
        let mut cc = quinn::ClientConfig::new(Arc::new(quic));
        cc.transport_config(duet_protocol::net::transport());
        cc
    };
    let endpoints: Vec<quinn::Endpoint> = (0..(args.devices / 250 + 1))
        .map(|_| client_endpoint())
        .collect::<Result<_>>()?;
    let started = Instant::now();
    // Batches of 100 over many client sockets: one socket taking hundreds of handshakes
    // at once drops datagrams and waits out retransmission timers.
    for chunk in 0..args.devices.div_ceil(100) {
        let mut set = tokio::task::JoinSet::new();
        for i in chunk * 100..((chunk + 1) * 100).min(args.devices) {
            let ep = endpoints[i / 250].clone();
            let cc = idle_config.clone();
            let addr = relay.addr;
            set.spawn(
                async move { Ok::<_, anyhow::Error>(ep.connect_with(cc, addr, "load")?.await?) },
            );
        }
        while let Some(r) = set.join_next().await {
            idle.push(r??);
        }
    }
    let connecting = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = pid.map(rss_kib).transpose()?.unwrap_or(0);
    println!(
        "{} idle devices connected in {:.1} s ({:.0} handshakes/s, 100 at a time); relay RSS {} -> {} KiB: {:.1} KiB per device",
        idle.len(),
        connecting.as_secs_f64(),
        idle.len() as f64 / connecting.as_secs_f64(),
        before,
        after,
        (after.saturating_sub(before)) as f64 / idle.len().max(1) as f64
    );
    // The idle devices stay connected (keeping their connections alive as devices do)
    // through the phases that follow: the relay pushes and delivers with them held.

    // 4. Durable pushes per second: each acknowledged only after the relay's flush.
    // Pushers are spread over every relay process.
    let clients: Vec<Arc<RelayClient>> = {
        let mut v = Vec::new();
        for i in 0..16 {
            let to = &relays[i % relays.len()];
            v.push(Arc::new(
                RelayClient::connect(&identity, to.addr, Pins::Exactly([to.fingerprint].into()))
                    .await?,
            ));
        }
        v
    };
    let acked = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.push_secs);
    let mut set = tokio::task::JoinSet::new();
    for p in 0..args.pushers {
        let client = clients[p % clients.len()].clone();
        let acked = acked.clone();
        set.spawn(async move {
            let k = key(p);
            while Instant::now() < deadline {
                if client.push(&k, vec![p as u8; 1024]).await.is_ok() {
                    acked.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    let t = Instant::now();
    while set.join_next().await.is_some() {}
    let rate = acked.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64();
    println!(
        "durable pushes of 1 KB envelopes: {:.0}/s ({} pushers, group commit)",
        rate, args.pushers
    );

    // 5. Push-to-delivery with `active` devices: half subscribe, half push to the same
    //    mailboxes, one push per pusher every 200 ms.
    let pairs = args.active / 2;
    let epoch = Instant::now();
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut subs = tokio::task::JoinSet::new();
    // Pair i pushes through process i and its subscriber listens on the next one: with
    // relays sharing a database every delivery crosses processes, and the pushes spread
    // over them as a round-robin address would spread devices.
    let sub_clients: Vec<Arc<RelayClient>> = {
        let mut v = Vec::new();
        for i in 0..pairs {
            let on = &relays[(i + 1) % relays.len()];
            v.push(Arc::new(
                RelayClient::connect(&identity, on.addr, Pins::Exactly([on.fingerprint].into()))
                    .await?,
            ));
        }
        v
    };
    let base = 100_000;
    let mut creating = Vec::with_capacity(pairs);
    for (i, client) in sub_clients.iter().enumerate() {
        let k = key(base + i);
        // The mailbox must exist before anyone subscribes: one push creates it.
        let sent = Instant::now();
        client.push(&k, 0u64.to_be_bytes().to_vec()).await?;
        creating.push(sent.elapsed());
        let mut sub = client.subscribe(&k, 1).await?;
        let lat = latencies.clone();
        subs.spawn(async move {
            while let Ok(Some(RelayReply::Entries { entries, .. })) = sub.next().await {
                let now = epoch.elapsed();
                for (_, env) in entries {
                    if let Some(arrival) = Arrival::read(&env, now) {
                        if let Ok(mut l) = lat.lock() {
                            l.push(arrival);
                        }
                    }
                }
            }
        });
    }
    println!(
        "a push that makes a mailbox, one device at a time ({} of them): p50 {:.2} ms, p99 {:.2} ms",
        creating.len(),
        ms(percentile(&mut creating, 0.5)),
        ms(percentile(&mut creating, 0.99))
    );
    let push_clients: Vec<Arc<RelayClient>> = {
        let mut v = Vec::new();
        for i in 0..pairs {
            let on = &relays[i % relays.len()];
            v.push(Arc::new(
                RelayClient::connect(&identity, on.addr, Pins::Exactly([on.fingerprint].into()))
                    .await?,
            ));
        }
        v
    };
    let acks = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut pushes = tokio::task::JoinSet::new();
    for (i, client) in push_clients.iter().enumerate() {
        let client = client.clone();
        let k = key(base + i);
        let acks = acks.clone();
        let rounds = args.rounds;
        pushes.spawn(async move {
            // Spread the starts so pushes do not all land in the same instant.
            tokio::time::sleep(Duration::from_millis((i % 200) as u64)).await;
            for round in 0..rounds {
                let env = Arrival::envelope(epoch.elapsed(), round == 0);
                let sent = Instant::now();
                if client.push(&k, env).await.is_ok() {
                    if let Ok(mut a) = acks.lock() {
                        a.push(sent.elapsed());
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }
    while pushes.join_next().await.is_some() {}
    tokio::time::sleep(Duration::from_millis(500)).await;
    subs.abort_all();
    let arrivals: Vec<Arrival> = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    let mut lat: Vec<Duration> = arrivals.iter().map(|a| a.latency).collect();
    println!(
        "push-to-delivery with {} active devices, {} pushes each: {} deliveries, p50 {:.2} ms, p99 {:.2} ms",
        pairs * 2,
        args.rounds,
        lat.len(),
        ms(percentile(&mut lat, 0.5)),
        ms(percentile(&mut lat, 0.99))
    );
    for (first, which) in [
        (true, "a device's first push (the relay reads its mailbox)"),
        (false, "the pushes after it"),
    ] {
        let mut some: Vec<Duration> = arrivals
            .iter()
            .filter(|a| a.first == first)
            .map(|a| a.latency)
            .collect();
        println!(
            "  {which}: p50 {:.2} ms, p99 {:.2} ms",
            ms(percentile(&mut some, 0.5)),
            ms(percentile(&mut some, 0.99))
        );
    }
    let mut acked = acks.lock().map(|a| a.clone()).unwrap_or_default();
    println!(
        "  each push's wait for its durable acknowledgement: p50 {:.2} ms, p99 {:.2} ms",
        ms(percentile(&mut acked, 0.5)),
        ms(percentile(&mut acked, 0.99))
    );
    let still = idle.iter().filter(|c| c.close_reason().is_none()).count();
    println!(
        "idle devices still connected at the end: {still} of {}",
        idle.len()
    );
    if let Some(pid) = pid {
        println!("relay RSS at the end: {} KiB", rss_kib(pid)?);
    }
    for c in &idle {
        c.close(0u32.into(), b"");
    }
    Ok(())
}
