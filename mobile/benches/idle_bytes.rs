//! What an idle phone costs in data: bytes per hour over its radio with live sync off,
//! on for the relays only, and on with devices and nearby discovery (mDNS) too, counted by
//! the kernel.
//!
//! The bench runs itself in a network namespace of its own (`unshare -rn`, re-executing
//! itself), where nothing else talks. One end of a veth pair is the phone's Wi-Fi; the
//! other end is in a second namespace holding a real `duet-relay` process, so everything
//! between phone and relay, and every mDNS search the phone sends to the network, crosses
//! the Wi-Fi (what the phone sends to itself on loopback costs no radio and is not
//! counted). Each mode runs for the same window with the app idle (a notebook with a
//! relay, nothing typed); the Wi-Fi's counters (`/proc/net/dev`: IP and UDP headers
//! included) give what the phone sent and received.
//!
//! ```text
//! cargo build --release -p duet-relay
//! cargo bench -p duet-mobile --bench idle_bytes -- --seconds 180
//! ```

use duet_mobile::{DuetApp, LiveSyncOptions, PersonRole};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Set in the re-executed bench, inside its namespace.
const IN_NAMESPACE: &str = "DUET_IDLE_BYTES_NAMESPACE";
/// The stand-in for the phone's Wi-Fi.
const WIFI: &str = "wifi0";
/// The relay's standard output.
type Output = std::io::BufReader<std::process::ChildStdout>;
/// The relay's address, beyond the Wi-Fi.
const RELAY_IP: &str = "10.99.0.1";
/// How long a new interface is left before counting.
const SETTLE: Duration = Duration::from_secs(10);

fn main() {
    if let Err(e) = run() {
        eprintln!("idle_bytes: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.parse::<u64>().map_err(|e| format!("--seconds: {e}")))
        .transpose()?
        .unwrap_or(120);
    if std::env::var_os(IN_NAMESPACE).is_none() {
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let status = Command::new("unshare")
            .arg("-rn")
            .arg(me)
            .args(["--seconds", &seconds.to_string()])
            .env(IN_NAMESPACE, "1")
            .status()
            .map_err(|e| format!("running unshare (util-linux): {e}"))?;
        return if status.success() {
            Ok(())
        } else {
            Err(format!(
                "the bench in its own network namespace failed ({status}); it needs `unshare -rn` (user namespaces) and `ip`"
            ))
        };
    }
    let relay_bin = std::env::var_os("DUET_RELAY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/release/duet-relay"));
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    // Its output is held open to the end: a relay printing to a closed pipe would fail.
    let (mut relay, _output, addr, fp) = start_relay_beyond_the_wifi(&relay_bin, data.path())?;
    let (addr, fp) = (addr.as_str(), fp.as_str());

    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let phone = DuetApp::open(home.path().display().to_string(), "Ana".into())
        .map_err(|e| e.to_string())?;
    phone
        .create_notebook("Ana / Bo".into(), PersonRole::Manager, "Bo".into())
        .map_err(|e| e.to_string())?;
    phone
        .set_relay(addr.to_owned(), fp.to_owned())
        .map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime
        .block_on(phone.sync_now())
        .map_err(|e| e.to_string())?;
    // The sync's connection closes and drains before anything is counted.
    std::thread::sleep(Duration::from_secs(5));

    let window = Duration::from_secs(seconds);
    println!("idle phone, {seconds} s per mode, bytes per hour (kernel counters):");
    println!("| live sync | sent | received | total |");
    println!("| --- | --- | --- | --- |");
    let modes: [(&str, Option<LiveSyncOptions>); 4] = [
        ("off", None),
        (
            "relays only",
            Some(LiveSyncOptions {
                devices: false,
                nearby: false,
                peer_interval_secs: 30,
            }),
        ),
        (
            "relays and devices, no nearby search (30 s rounds)",
            Some(LiveSyncOptions {
                devices: true,
                nearby: false,
                peer_interval_secs: 30,
            }),
        ),
        (
            "relays, devices and nearby search (30 s rounds; the default)",
            Some(LiveSyncOptions::default()),
        ),
    ];
    for (name, options) in modes {
        if let Some(o) = options.clone() {
            phone.start_live_sync_with(o).map_err(|e| e.to_string())?;
            // Connected and settled before counting: the window is the idle cost.
            std::thread::sleep(Duration::from_secs(3));
        }
        let before = counters()?;
        std::thread::sleep(window);
        let after = counters()?;
        if options.is_some() {
            phone.stop_live_sync();
        }
        let per_hour =
            |after: u64, before: u64| after.saturating_sub(before) * 3600 / seconds.max(1);
        let sent = per_hour(after.0, before.0);
        let received = per_hour(after.1, before.1);
        println!(
            "| {name} | {} | {} | {} |",
            kib(sent),
            kib(received),
            kib(sent + received)
        );
    }
    let _ = relay.kill();
    let _ = relay.wait();
    Ok(())
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// Runs `ip ARGS`, in the namespace of `pid` when given.
fn ip(pid: Option<u32>, args: &[&str]) -> Result<(), String> {
    let mut cmd = match pid {
        Some(pid) => {
            let mut c = Command::new("nsenter");
            c.args(["-t", &pid.to_string(), "-n", "ip"]);
            c
        }
        None => Command::new("ip"),
    };
    let status = cmd
        .args(args)
        .status()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("ip {} failed", args.join(" ")))
    }
}

/// Starts the relay in a namespace of its own, reached over the Wi-Fi (a veth pair):
/// the process, its address and its fingerprint.
fn start_relay_beyond_the_wifi(
    relay_bin: &std::path::Path,
    data: &std::path::Path,
) -> Result<(std::process::Child, Output, String, String), String> {
    // No router solicitations or address checks on the new interfaces: a phone's Wi-Fi
    // sends those once when it joins a network, not while the app is idle.
    for knob in ["router_solicitations", "dad_transmits"] {
        std::fs::write(format!("/proc/sys/net/ipv6/conf/default/{knob}"), "0")
            .map_err(|e| format!("setting {knob}: {e}"))?;
    }
    ip(None, &["link", "set", "lo", "up"])?;
    ip(
        None,
        &["link", "add", WIFI, "type", "veth", "peer", "name", "air0"],
    )?;
    // The relay's side waits for its address, then serves on it.
    let script = format!(
        "while ! ip -4 addr show air0 2>/dev/null | grep -q {RELAY_IP}; do sleep 0.1; done; exec {} serve --open --listen {RELAY_IP}:0 --data {}",
        relay_bin.display(),
        data.display()
    );
    let mut relay = Command::new("unshare")
        .args(["-n", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", relay_bin.display()))?;
    let pid = relay.id();
    // The namespace exists once the child runs; moving the far end there may race it.
    let mut moved = Err(String::new());
    for _ in 0..50 {
        moved = ip(None, &["link", "set", "air0", "netns", &pid.to_string()]);
        if moved.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    moved?;
    ip(Some(pid), &["link", "set", "lo", "up"])?;
    ip(
        Some(pid),
        &["addr", "add", &format!("{RELAY_IP}/24"), "dev", "air0"],
    )?;
    ip(Some(pid), &["link", "set", "air0", "up"])?;
    ip(None, &["addr", "add", "10.99.0.2/24", "dev", WIFI])?;
    ip(None, &["link", "set", WIFI, "multicast", "on", "up"])?;
    // mDNS's group is reached through the Wi-Fi, as on a phone.
    ip(None, &["route", "add", "224.0.0.0/4", "dev", WIFI])?;
    let mut first = String::new();
    let mut output = std::io::BufReader::new(
        relay
            .stdout
            .take()
            .ok_or_else(|| "the relay has no output".to_owned())?,
    );
    let _ = output.read_line(&mut first);
    // "duet-relay listening on ADDR (UDP), fingerprint FP"
    let words: Vec<&str> = first.split_whitespace().collect();
    let (Some(addr), Some(fp)) = (words.get(3), words.last()) else {
        return Err(format!("the relay did not start: {first:?}"));
    };
    let (addr, fp) = ((*addr).to_owned(), (*fp).to_owned());
    // The kernel's own packets of a new interface (group reports) go out in its first
    // seconds: they are not the phone's.
    std::thread::sleep(SETTLE);
    Ok((relay, output, addr, fp))
}

/// The Wi-Fi's (sent, received) bytes, from this namespace's `/proc/net/dev`.
fn counters() -> Result<(u64, u64), String> {
    let text = std::fs::read_to_string("/proc/net/dev").map_err(|e| e.to_string())?;
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() != WIFI {
            continue;
        }
        let fields: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        // Receive: bytes first of 8 fields; then transmit bytes.
        if let (Some(rx), Some(tx)) = (fields.first(), fields.get(8)) {
            return Ok((*tx, *rx));
        }
    }
    Err(format!("no {WIFI} in /proc/net/dev"))
}
