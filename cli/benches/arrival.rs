//! Edit-to-arrival with both devices' nodes running, through a relay and directly between
//! the two nodes with no relay: Ana's `duet note` (carried out by her node) until Bo's node
//! has applied it, as Bo's node reports it on its event stream. Includes the command's own
//! start, the push debounce, the relay (or the direct sync) and the apply. A real
//! `duet-relay` server (in this process, on loopback) and real `duet serve` processes;
//! edits one after another, 100 of them each way of syncing.
//!
//! Run: `cargo bench -p duet-cli --bench arrival`

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const EDITS: usize = 100;

fn duet(home: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_duet"))
        .env("DUET_HOME", home)
        .env("DUET_KEYCHAIN", "off")
        .args(args)
        .output()
        .expect("run duet");
    assert!(
        out.status.success(),
        "duet {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A node whose JSON event lines arrive on a channel with the instant each was read.
struct Node {
    child: std::process::Child,
    lines: mpsc::Receiver<(Instant, String)>,
    /// Where it listens.
    addr: String,
    /// Its certificate's fingerprint.
    fingerprint: String,
}

impl Node {
    fn start(home: &Path) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_duet"))
            .env("DUET_HOME", home)
            .env("DUET_KEYCHAIN", "off")
            .args([
                "--json",
                "serve",
                "--no-announce",
                "--listen",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("duet serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        let (_, first) = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("node started");
        assert!(first.contains("listening"), "{first}");
        let event: serde_json::Value = serde_json::from_str(&first).expect("json");
        Node {
            child,
            lines,
            addr: event["addr"].as_str().unwrap_or_default().to_owned(),
            fingerprint: event["fingerprint"].as_str().unwrap_or_default().to_owned(),
        }
    }

    /// Waits for the next arrival: something applied from the relay, from a device that
    /// pushed to this node's server, or from a device this node synced with.
    fn arrival(&self) -> Instant {
        loop {
            let (at, line) = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .expect("an arrival within 30 s");
            let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            let kind = event["event"].as_str().unwrap_or_default();
            if ["relay_synced", "synced", "peer_synced"].contains(&kind) && changed(&event) {
                return at;
            }
        }
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Bo's home joins Ana's notebook with the ticket `invite_args` makes on Ana's home.
fn join(ana: &Path, bo: &Path, invite_args: &[&str]) {
    let invite: serde_json::Value = serde_json::from_str(&duet(ana, invite_args)).expect("invite");
    duet(bo, &["init", "--name", "Bo"]);
    duet(
        bo,
        &[
            "join",
            invite["ticket"].as_str().expect("ticket"),
            "--as",
            "report",
        ],
    );
}

/// Whether an event reports a document changed here (`documents_changed` above zero
/// anywhere in it: one report, or one per notebook).
fn changed(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(key, v)| (key == "documents_changed" && v.as_u64() > Some(0)) || changed(v)),
        serde_json::Value::Array(items) => items.iter().any(changed),
        _ => false,
    }
}

/// Ana's edits, one after another, each timed until Bo's node applied it.
fn measure(ana: &Path, bo_node: &Node) -> Vec<Duration> {
    let mut took = Vec::with_capacity(EDITS);
    for i in 0..EDITS {
        let started = Instant::now();
        duet(ana, &["note", &format!("arrival {i}")]);
        let arrived = bo_node.arrival();
        took.push(arrived.duration_since(started));
        // Edits a moment apart, as people type, so each is its own push.
        std::thread::sleep(Duration::from_millis(50));
    }
    took.sort();
    took
}

fn report(what: &str, took: &[Duration], debounce: Duration) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "edit-to-arrival {what}, both nodes running, {EDITS} edits: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (push debounce {} ms included)",
        ms(percentile(took, 0.5)),
        ms(percentile(took, 0.99)),
        ms(took[took.len() - 1]),
        debounce.as_millis()
    );
}

/// Two nodes with no relay: Bo joins with a ticket naming Ana's node, and Ana's node learns
/// where Bo's listens from one sync by hand (on a network, mDNS would tell it).
fn direct(dir: &Path) -> Vec<Duration> {
    let (ana, bo) = (dir.join("ana-direct"), dir.join("bo-direct"));
    duet(&ana, &["init", "--name", "Ana"]);
    duet(
        &ana,
        &[
            "notebook", "new", "Ana / Bo", "--me", "manager", "--with", "Bo",
        ],
    );
    let ana_node = Node::start(&ana);
    join(&ana, &bo, &["--json", "invite"]);
    let bo_node = Node::start(&bo);
    duet(
        &ana,
        &[
            "sync",
            "--peer",
            &bo_node.addr,
            "--fingerprint",
            &bo_node.fingerprint,
        ],
    );
    // Let Bo's node finish its first round with Ana's before the first edit.
    std::thread::sleep(Duration::from_secs(3));
    while bo_node.lines.try_recv().is_ok() {}
    let took = measure(&ana, &bo_node);
    ana_node.stop();
    bo_node.stop();
    took
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let relay_dir = dir.path().join("relay");
    let server = rt
        .block_on(async {
            let store = duet_relay::store::RelayStore::open(&relay_dir)?;
            duet_relay::server::RelayServer::bind(
                store,
                "127.0.0.1:0".parse().expect("addr"),
                // On loopback only: no team token needed.
                duet_relay::config::RelayConfig {
                    require_team_token: false,
                    ..Default::default()
                },
            )
            .await
        })
        .expect("bind relay");
    let relay_addr = server.local_addr().expect("addr").to_string();
    let fingerprint = duet_core::crypto::fingerprint_text(&server.fingerprint());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = rt.spawn(server.run(async {
        let _ = stopped.await;
    }));

    let (ana, bo) = (dir.path().join("ana"), dir.path().join("bo"));
    duet(&ana, &["init", "--name", "Ana"]);
    duet(
        &ana,
        &[
            "notebook", "new", "Ana / Bo", "--me", "manager", "--with", "Bo",
        ],
    );
    duet(
        &ana,
        &["relay", "set", &relay_addr, "--fingerprint", &fingerprint],
    );
    duet(&ana, &["sync"]);
    join(&ana, &bo, &["--json", "invite", "--addr", "127.0.0.1:9"]);

    let ana_node = Node::start(&ana);
    let bo_node = Node::start(&bo);
    // Let both subscribe before the first edit.
    std::thread::sleep(Duration::from_secs(1));
    let relayed = measure(&ana, &bo_node);
    ana_node.stop();
    bo_node.stop();
    let _ = stop.send(());
    let _ = rt.block_on(serving);
    report("through a relay", &relayed, duet_node::live::PUSH_DEBOUNCE);

    let direct = direct(dir.path());
    report(
        "between two nodes with no relay",
        &direct,
        duet_node::live::PEER_PUSH_DEBOUNCE,
    );
}
