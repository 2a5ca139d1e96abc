//! Helpers for Duet's end-to-end tests: a device is a real `duet` process on a home in a
//! temporary directory.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `duet` binary built for this test run (`target/<profile>/duet`).
pub fn duet_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test> -> target/<profile>/duet
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let bin = dir.join(format!("duet{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p duet-cli` (cargo test --workspace does)",
        bin.display()
    );
    bin
}

/// How often [`eventually`] checks its condition again: often enough that a test waits
/// little past the moment the condition holds, rarely enough not to load the machine.
pub const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);

/// Waits until `check` gives a value and returns it, checking every [`POLL_INTERVAL`];
/// panics after `limit` naming `what` it waited for and the last thing `check` reported.
/// The one place the end-to-end tests wait for a condition.
pub fn eventually<T>(
    limit: std::time::Duration,
    what: &str,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = std::time::Instant::now() + limit;
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) => assert!(
                std::time::Instant::now() < deadline,
                "waited {limit:?} for {what}; last: {last}"
            ),
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// How long an in-process open waits for a home this process has just closed.
const REOPEN_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens a home in this process with `open`, waiting while it is reported locked.
///
/// The end-to-end tests run in one process, and other tests spawn processes all the time:
/// a child forked in the moment between its fork and its exec holds a copy of every open
/// file, the home's lock included, so a home closed here can look held for that moment.
pub fn open_in_process<T>(
    what: &str,
    mut open: impl FnMut() -> Result<T, duet_core::DuetError>,
) -> T {
    eventually(REOPEN_LIMIT, what, || match open() {
        Ok(opened) => Ok(opened),
        Err(duet_core::DuetError::Store(e @ duet_core::store::StoreError::Locked { .. })) => {
            Err(e.to_string())
        }
        Err(e) => panic!("{what}: {e}"),
    })
}

/// Opens the home at `path` in this process (see [`open_in_process`]).
pub fn open_home(path: &Path) -> duet_core::Duet {
    open_in_process(&format!("opening {}", path.display()), || {
        duet_core::Duet::open(path)
    })
}

/// One device: a home directory used through the real `duet` binary.
#[derive(Debug)]
pub struct Device {
    /// The temporary home.
    pub home: tempfile::TempDir,
}

impl Device {
    /// A device with an identity named `name`.
    pub fn new(name: &str) -> Device {
        let device = Device {
            home: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
        };
        device.ok(&["init", "--name", name]);
        device
    }

    /// A device with an identity named `name` and a notebook titled `title` in which it is
    /// the manager and `with` the report (not joined yet).
    pub fn with_notebook(name: &str, title: &str, with: &str) -> Device {
        let device = Device::new(name);
        device.ok(&["notebook", "new", title, "--me", "manager", "--with", with]);
        device
    }

    /// A device whose home is the fixture `tests/fixtures/NAME.tar.gz` (a home an older
    /// Duet wrote), unpacked.
    pub fn from_fixture(name: &str) -> Device {
        let device = Device {
            home: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
        };
        let unpacked = Command::new("tar")
            .arg("xzf")
            .arg(fixture(&format!("{name}.tar.gz")))
            .arg("-C")
            .arg(device.home.path())
            .arg("--strip-components=1")
            .status()
            .unwrap_or_else(|e| panic!("tar: {e}"));
        assert!(unpacked.success(), "the fixture {name} did not unpack");
        device
    }

    /// A new device of `owner`, named `name`, that joins `from`'s notebook as `role` with
    /// a bundle `from` writes now.
    pub fn joined_by_bundle(from: &Device, owner: &str, name: &str, role: &str) -> Device {
        let device = Device::new(owner);
        device.ok(&["devices", "name", name]);
        let bundle = from.file(&format!("join-{}.duet", rand_suffix()));
        from.ok(&["bundle", "out", path(&bundle)]);
        device.ok(&["bundle", "in", path(&bundle), "--join", "--as", role]);
        device
    }

    /// A device whose home holds a generated notebook of `years` of weekly 1-1s (Ana's,
    /// the manager's), written straight into the store.
    pub fn with_sample(years: usize) -> Device {
        let device = Device {
            home: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
        };
        let mut sample = duet_core::sample::generate(duet_core::sample::SampleSpec::years(years))
            .unwrap_or_else(|e| panic!("generating the sample: {e}"));
        duet_core::sample::write_home(device.home.path(), &mut sample)
            .unwrap_or_else(|e| panic!("writing the sample: {e}"));
        device
    }

    /// A `duet` command on this home, without colour.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(duet_binary());
        // Tests never touch the keychain of the person running them.
        cmd.env("DUET_HOME", self.home.path())
            .env("NO_COLOR", "1")
            .env("DUET_KEYCHAIN", "off");
        cmd
    }

    /// Runs `duet ARGS`, returning its output whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running duet {args:?}: {e}"))
    }

    /// Runs `duet ARGS` and panics with its stderr unless it succeeds; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "duet {args:?} failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `duet --json ARGS` and parses its output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("duet {args:?} printed no JSON ({e}): {out}"))
    }

    /// A path inside the home's parent folder for files to exchange.
    pub fn file(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }
}

/// Creates a notebook on `manager` and joins `report` to it by bundle.
pub fn pair() -> (Device, Device) {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    let bo = Device::new("Bo");
    let bundle = ana.file("first.duet");
    ana.ok(&["bundle", "out", path(&bundle)]);
    bo.ok(&["bundle", "in", path(&bundle), "--join", "--as", "report"]);
    (ana, bo)
}

/// The path of the test fixture `name` (`tests/fixtures/`).
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Sends `from`'s notebook to `to` as a bundle file.
pub fn send(from: &Device, to: &Device) {
    let file = from.file(&format!("out-{}.duet", rand_suffix()));
    from.ok(&["bundle", "out", path(&file)]);
    to.ok(&["bundle", "in", path(&file)]);
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A path as `&str` for argument lists (temp paths are UTF-8 here).
pub fn path(p: &Path) -> &str {
    p.to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 path {}", p.display()))
}

/// Copies a directory tree (a home, for backups and damage experiments).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    for entry in entries.flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}

/// The texts of the items in `duet agenda list --json` output, in order.
pub fn agenda_texts(list: &serde_json::Value) -> Vec<String> {
    list["agenda"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["text"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// One section's text from a meeting as `duet meeting show --json` prints it.
pub fn section_text(meeting: &serde_json::Value, section: &str) -> String {
    meeting["sections"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["section"] == section))
        .and_then(|s| s["text"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// A home used through the library: an identity and a notebook with its first meeting today.
pub fn library_home(dir: &Path, name: &str) -> duet_core::Duet {
    let mut duet =
        duet_core::Duet::init(&dir.join(name), name).unwrap_or_else(|e| panic!("init {name}: {e}"));
    duet.notebook_new(
        "Pair",
        duet_core::Role::Manager,
        "Bo",
        Default::default(),
        duet_core::dates::today(),
    )
    .unwrap_or_else(|e| panic!("notebook: {e}"));
    duet
}

/// A `duet serve` process on a device's home, listening on a loopback port.
#[derive(Debug)]
pub struct Serving {
    /// The process.
    pub child: std::process::Child,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// Its certificate fingerprint (text).
    pub fingerprint: String,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Serving {
    /// Starts `duet serve` on `device` at `listen` (`127.0.0.1:0` picks a free port).
    pub fn start(device: &Device, listen: &str) -> Serving {
        Serving::start_with(device, listen, &[])
    }

    /// [`Serving::start`] with more arguments to `serve` (`--calendar FILE`, say).
    pub fn start_with(device: &Device, listen: &str, more: &[&str]) -> Serving {
        Serving::start_in_env(device, listen, more, &[])
    }

    /// [`Serving::start_with`] with environment variables set for the node (a private
    /// D-Bus session's address, say).
    pub fn start_in_env(
        device: &Device,
        listen: &str,
        more: &[&str],
        env: &[(&str, &str)],
    ) -> Serving {
        use std::io::BufRead;
        let mut child = device
            .command()
            .args(["--json", "serve", "--no-announce", "--listen", listen])
            .args(more)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting duet serve: {e}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("serve has no stdout"));
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("duet serve printed nothing: {e}"));
        let event: serde_json::Value = serde_json::from_str(&first)
            .unwrap_or_else(|e| panic!("serve's first line is not JSON ({e}): {first}"));
        let addr = event["addr"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {first}"));
        let fingerprint = event["fingerprint"].as_str().unwrap_or_default().to_owned();
        Serving {
            child,
            addr,
            fingerprint,
            lines,
        }
    }

    /// The address as an argument.
    pub fn addr_arg(&self) -> String {
        self.addr.to_string()
    }

    /// The event lines the server printed so far.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.lines
            .try_iter()
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops it with SIGINT (Ctrl-C) and waits; returns whether it exited cleanly.
    pub fn stop(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let status = self.child.wait();
        matches!(status, Ok(s) if s.success())
    }

    /// Kills it with SIGKILL.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `manager`'s notebook with `report`, titled `title`, on `relay` (synced there), and an
/// invite that joins through the relay only (nobody serves at its address).
pub fn notebook_on_relay(
    relay: &Relay,
    title: &str,
    manager: &str,
    report: &str,
) -> (Device, String) {
    let ana = Device::with_notebook(manager, title, report);
    ana.ok(&[
        "relay",
        "set",
        &relay.addr.to_string(),
        "--fingerprint",
        &relay.fingerprint,
    ]);
    ana.ok(&["sync"]);
    let ticket = invite(&ana, "127.0.0.1:9");
    (ana, ticket)
}

/// Runs `request` on a connection of its own to `relay`, for tests that act as a device by
/// hand.
pub fn on_relay<T>(
    relay: &Relay,
    request: impl for<'c> FnOnce(
        &'c duet_node::net::relay_client::RelayClient,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'c>>,
) -> T {
    use duet_node::net::relay_client::RelayClient;
    use duet_node::net::tls::{Pins, TlsIdentity};
    let fp = duet_core::crypto::parse_fingerprint(&relay.fingerprint)
        .unwrap_or_else(|| panic!("the relay's fingerprint {} is damaged", relay.fingerprint));
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async {
        let identity = TlsIdentity::generate().unwrap_or_else(|e| panic!("identity: {e}"));
        let client = RelayClient::connect(&identity, relay.addr, Pins::Exactly([fp].into()))
            .await
            .unwrap_or_else(|e| panic!("connecting to the relay: {e}"));
        let out = request(&client).await;
        client.close().await;
        out
    })
}

/// Pulls a mailbox of `relay` with `key` on a connection of its own.
pub fn relay_pull(
    relay: &Relay,
    key: &duet_node::net::relay_client::MailboxKey,
) -> Result<duet_node::net::relay_client::Entries, duet_node::net::NetError> {
    use duet_node::net::relay_client::RelayLink;
    let key = key.clone();
    on_relay(relay, move |client| {
        Box::pin(async move { client.pull(&key, 0).await })
    })
}

/// Pushes an envelope to a mailbox of `relay` with `key` on a connection of its own.
pub fn relay_push(
    relay: &Relay,
    key: &duet_node::net::relay_client::MailboxKey,
    envelope: Vec<u8>,
) -> Result<u64, duet_node::net::NetError> {
    use duet_node::net::relay_client::RelayLink;
    let key = key.clone();
    on_relay(relay, move |client| {
        Box::pin(async move { client.push(&key, envelope).await })
    })
}

/// A full (`duet1`) ticket of `device`'s current notebook, made through the core: it holds
/// the notebook secret, for tests that act as a member by hand (`duet invite` prints
/// one-time tickets, which carry none). Nothing of `device` may be running.
pub fn secret_ticket(device: &Device) -> duet_core::invite::Invite {
    let mut duet = open_home(device.home.path());
    duet.members()
        .invite(Vec::new(), None)
        .unwrap_or_else(|e| panic!("a full ticket of the notebook: {e}"))
}

/// The mailbox `device`'s current notebook has at `relay` before any removal: bound to
/// that relay, as for every notebook made since relay binding. Nothing of `device` may be
/// running.
pub fn initial_mailbox(device: &Device, relay: &Relay) -> duet_node::net::relay_client::MailboxKey {
    let secret = secret_ticket(device).notebook_secret();
    let fp = duet_core::crypto::parse_fingerprint(&relay.fingerprint)
        .unwrap_or_else(|| panic!("the relay's fingerprint {} is damaged", relay.fingerprint));
    let (mailbox, token) = secret.relay_mailbox(&fp);
    duet_node::net::relay_client::MailboxKey {
        mailbox,
        token,
        team_token: None,
    }
}

/// Ana's laptop with the notebook "Ana / Bo", set to sync through `relay`.
pub fn laptop_on(relay: &Relay) -> Device {
    let laptop = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    laptop.ok(&[
        "relay",
        "set",
        &relay.addr.to_string(),
        "--fingerprint",
        &relay.fingerprint,
    ]);
    laptop
}

/// An invite ticket for `device`'s current notebook, reachable at `addr`.
pub fn invite(device: &Device, addr: &str) -> String {
    device.json(&["invite", "--addr", addr])["ticket"]
        .as_str()
        .unwrap_or_else(|| panic!("no ticket"))
        .to_owned()
}

/// The `duet-relay` binary built for this test run.
pub fn relay_binary() -> PathBuf {
    let duet = duet_binary();
    let bin = duet.with_file_name(format!("duet-relay{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p duet-relay`",
        bin.display()
    );
    bin
}

/// A `duet-relay serve` process on loopback.
#[derive(Debug)]
pub struct Relay {
    /// The process.
    pub child: std::process::Child,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// Its fingerprint.
    pub fingerprint: String,
    /// Its data directory.
    pub data: PathBuf,
    /// Its standard output after the first line (kept open: a relay printing to a closed
    /// pipe would fail).
    pub stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Relay {
    /// The next line the relay printed (its metrics address, when it serves metrics).
    pub fn next_line(&mut self) -> String {
        use std::io::BufRead;
        let mut line = String::new();
        let _ = self.stdout.read_line(&mut line);
        line
    }

    /// The address of the operators' listener (metrics and health), which a relay whose
    /// settings have `metrics_listen` prints on its second line.
    pub fn metrics_addr(&mut self) -> String {
        let line = self.next_line();
        line.trim()
            .strip_prefix("duet-relay metrics on http://")
            .and_then(|l| l.strip_suffix("/metrics"))
            .unwrap_or_else(|| panic!("no metrics address: {line:?}"))
            .to_owned()
    }

    /// Starts a relay on `listen` (port 0 picks one) with its data in `data`, and a config
    /// file when given (else open: no team token needed). Its log goes to `data/../relay.log`.
    pub fn start(data: &Path, listen: &str, config: Option<&Path>) -> Relay {
        Relay::start_with(data, listen, config, &[])
    }

    /// [`Relay::start`] with more arguments to `serve` (`--store URL`, say).
    pub fn start_with(data: &Path, listen: &str, config: Option<&Path>, more: &[&str]) -> Relay {
        Relay::start_in_env(data, listen, config, more, &[])
    }

    /// [`Relay::start_with`] with environment variables set for the relay process.
    pub fn start_in_env(
        data: &Path,
        listen: &str,
        config: Option<&Path>,
        more: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Relay {
        use std::io::BufRead;
        let log = data.with_extension("log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap_or_else(|e| panic!("relay log: {e}"));
        let mut cmd = Command::new(relay_binary());
        cmd.args(["serve", "--listen", listen, "--data", path(data)]);
        cmd.args(more);
        cmd.envs(env.iter().copied());
        match config {
            Some(c) => cmd.args(["--config", path(c)]),
            // Tests' relays are on loopback: no team token unless a config asks for one.
            None => cmd.arg("--open"),
        };
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting duet-relay: {e}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("relay has no stdout"));
        let mut first = String::new();
        let mut stdout = std::io::BufReader::new(stdout);
        let _ = stdout.read_line(&mut first);
        // "duet-relay listening on ADDR (UDP), fingerprint FP"
        let addr = first
            .split_whitespace()
            .nth(3)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "relay did not start: {first:?}; its log: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        let fingerprint = first
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .to_owned();
        Relay {
            child,
            addr,
            fingerprint,
            data: data.to_owned(),
            stdout,
        }
    }

    /// Stops it with SIGTERM; returns whether it exited cleanly.
    pub fn stop(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        matches!(self.child.wait(), Ok(s) if s.success())
    }

    /// Kills it with SIGKILL.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GET on an HTTP listener on loopback (a relay's operators' listener): the status code
/// and the body.
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    http_get_as(addr, path, addr)
}

/// [`http_get`] with the `Host` header given.
pub fn http_get_as(addr: &str, path: &str, host: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("metrics listener");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").expect("request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    let code = reply
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body)
}

/// Waits (20 s at most) until `GET path` on `addr` answers `code`. A relay prints its
/// addresses before it serves, and readiness may ask a database that is slow to answer on
/// a loaded machine: a test waits for the answer rather than take the first.
pub fn wait_for_status(addr: &str, path: &str, code: u16) {
    eventually(
        std::time::Duration::from_secs(20),
        &format!("{path} to answer {code}"),
        || match http_get(addr, path).0 {
            answered if answered == code => Ok(()),
            answered => Err(format!("answered {answered}")),
        },
    )
}

/// The notebook as `export --format json` prints it, without who this device is: what two
/// converged devices must show identically.
pub fn export_json(device: &Device) -> serde_json::Value {
    let mut v = device.json(&["export", "--format", "json"]);
    if let Some(nb) = v["notebook"].as_object_mut() {
        nb.remove("me");
    }
    v
}

/// Asserts that no file under `path` holds any of `secrets` as text, hex or base64.
pub fn assert_no_plaintext(path: &Path, secrets: &[&str]) {
    let mut files = Vec::new();
    collect(path, &mut files);
    assert!(!files.is_empty(), "nothing to search in {}", path.display());
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for s in secrets {
            for needle in [
                s.as_bytes().to_vec(),
                data_hex(s).into_bytes(),
                base64(s).into_bytes(),
            ] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                    "{} holds {s:?} ({} bytes searched)",
                    file.display(),
                    bytes.len()
                );
            }
        }
    }
}

/// Every file under `path`.
pub fn collect(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for e in std::fs::read_dir(path).into_iter().flatten().flatten() {
            collect(&e.path(), out);
        }
    } else if path.exists() {
        out.push(path.to_owned());
    }
}

/// Lower-case hex of the bytes of `s`.
fn data_hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 of the first whole 3-byte groups of `s`.
fn base64(s: &str) -> String {
    // The middle of the encoding does not depend on alignment for the first 3n bytes.
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let n = b.len() / 3 * 3;
    let mut out = String::new();
    for c in b[..n].chunks(3) {
        let v = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        for i in (0..4).rev() {
            out.push(T[((v >> (6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Whether any file under `path` holds `text` as plain bytes.
pub fn holds_text(path: &Path, text: &str) -> bool {
    let mut files = Vec::new();
    collect(path, &mut files);
    files.iter().any(|f| {
        let bytes = std::fs::read(f).unwrap_or_default();
        bytes.windows(text.len()).any(|w| w == text.as_bytes())
    })
}

/// The peak resident memory of process `pid` so far, in KiB (Linux's `VmHWM`).
pub fn peak_memory_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("reading the status of process {pid}: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM for process {pid}"))
}

/// The bytes of a frame that announces 16 MiB (the largest the wire allows) and carries
/// them: what a stranger sends to make a server allocate before it proves anything.
pub const HUGE_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Writes a [`HUGE_FRAME_BYTES`] frame on `send`, ignoring the stream being cut meanwhile.
pub async fn send_huge_frame(send: &mut quinn::SendStream) {
    let mut frame = (HUGE_FRAME_BYTES as u32).to_be_bytes().to_vec();
    frame.push(duet_core::wire::PROTOCOL_VERSION);
    let _ = send.write_all(&frame).await;
    let chunk = vec![0x5au8; 64 * 1024];
    for _ in 0..HUGE_FRAME_BYTES / chunk.len() {
        if send.write_all(&chunk).await.is_err() {
            return;
        }
    }
    let _ = send.finish();
}

/// A private PostgreSQL server for one test: Debian's server binaries
/// (`/usr/lib/postgresql/*/bin`; `.ci/run` installs them) on a fresh cluster in a temp
/// dir, reachable on a Unix socket only. Run as the `postgres` user when the test runs as
/// root (the server refuses root).
#[derive(Debug)]
pub struct Postgres {
    child: std::process::Child,
    /// The connection string for `duet-relay serve --store`, to the test's own database.
    pub url: String,
    /// Where it also listens over TCP, TLS only, when started so.
    pub tls: Option<PostgresOverTls>,
    _dir: tempfile::TempDir,
}

/// How a [`Postgres`] started with [`Postgres::start_tls`] is reached over the network.
#[derive(Debug, Clone)]
pub struct PostgresOverTls {
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    /// The certificate of the authority that signed its certificate (PEM).
    pub ca: PathBuf,
    /// The `postgres` user's password (TCP connections need it).
    pub password: String,
}

/// A new certificate authority and a certificate it signed for 127.0.0.1 and localhost,
/// written as PEM into `dir`: (the authority's certificate, the certificate, its key).
pub fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    fn pem(label: &str, der: &[u8]) -> String {
        let text = data_encoding::BASE64.encode(der);
        let lines: Vec<&str> = text
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }
    let ca_key = rcgen::KeyPair::generate().expect("a key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("an authority");
    let key = rcgen::KeyPair::generate().expect("a key");
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("params");
    let cert = params.signed_by(&key, &ca).expect("signed");
    std::fs::create_dir_all(dir).expect("dir");
    let paths = (
        dir.join("ca.pem"),
        dir.join("server.crt"),
        dir.join("server.key"),
    );
    std::fs::write(&paths.0, pem("CERTIFICATE", ca.der())).expect("write");
    std::fs::write(&paths.1, pem("CERTIFICATE", cert.der())).expect("write");
    std::fs::write(&paths.2, pem("PRIVATE KEY", &key.serialize_der())).expect("write");
    paths
}

impl Postgres {
    /// Starts the server and makes the database `duet`.
    pub fn start() -> Postgres {
        Postgres::start_as(false)
    }

    /// [`Postgres::start`], also listening on 127.0.0.1 over TCP, where it takes TLS
    /// connections only (a certificate from [`test_certificates`]) with a password, as a
    /// database on another machine would.
    pub fn start_tls() -> Postgres {
        Postgres::start_as(true)
    }

    fn start_as(tls: bool) -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|dirs| {
                dirs.filter_map(|d| d.ok().map(|d| d.path().join("bin")))
                    .filter(|b| b.join("postgres").exists())
                    .max()
            })
            .unwrap_or_else(|| {
                panic!("PostgreSQL's server is needed for this test: apt-get install postgresql (.ci/run installs it)")
            });
        let dir = tempfile::tempdir().expect("tempdir");
        let root = runs_as_root();
        let as_owner = |program: PathBuf| {
            let mut cmd = if root {
                let mut c = Command::new("setpriv");
                c.args([
                    "--reuid=postgres",
                    "--regid=postgres",
                    "--init-groups",
                    "--",
                ])
                .arg(program);
                c
            } else {
                Command::new(program)
            };
            cmd.env_remove("PGDATA");
            cmd
        };
        if root {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status();
            assert!(status.is_ok_and(|s| s.success()), "chown to postgres");
        }
        let data = dir.path().join("data");
        let out = as_owner(bin.join("initdb"))
            .args(["--auth=trust", "--username=postgres", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .expect("initdb runs");
        assert!(out.status.success(), "initdb: {out:?}");
        let port = if tls { free_tcp_port() } else { 5432 };
        let mut server = as_owner(bin.join("postgres"));
        server.arg("-D").arg(&data).arg("-k").arg(dir.path()).args([
            "-p",
            &port.to_string(),
            "-c",
            "fsync=on",
        ]);
        let over_tls = if tls {
            let (ca, cert, key) = test_certificates(&dir.path().join("tls"));
            // Over the socket as before; over TCP, TLS and a password or nothing.
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 reject\n",
            )
            .expect("pg_hba.conf");
            for file in [&cert, &key] {
                restrict(file, root);
            }
            server
                .args(["-c", "listen_addresses=127.0.0.1", "-c", "ssl=on"])
                .arg("-c")
                .arg(format!("ssl_cert_file={}", cert.display()))
                .arg("-c")
                .arg(format!("ssl_key_file={}", key.display()));
            Some(PostgresOverTls {
                port,
                ca,
                password: "duet-test-password".to_owned(),
            })
        } else {
            server.args(["-c", "listen_addresses="]);
            None
        };
        let child = server
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("postgres starts");
        let mut pg = Postgres {
            child,
            url: String::new(),
            tls: over_tls,
            _dir: dir,
        };
        let socket = pg._dir.path().to_owned();
        eventually(
            std::time::Duration::from_secs(30),
            "the private PostgreSQL server to accept connections",
            || {
                let ready = Command::new("pg_isready")
                    .arg("-h")
                    .arg(&socket)
                    .args(["-p", &port.to_string(), "-U", "postgres"])
                    .output()
                    .is_ok_and(|o| o.status.success());
                if ready {
                    Ok(())
                } else {
                    Err("pg_isready says no".to_owned())
                }
            },
        );
        let made = Command::new("psql")
            .arg("-h")
            .arg(&socket)
            .args([
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "-c",
                "CREATE DATABASE duet",
            ])
            .output()
            .expect("psql runs");
        assert!(made.status.success(), "CREATE DATABASE: {made:?}");
        pg.url = format!(
            "host={} port={port} user=postgres dbname=duet",
            socket.display()
        );
        if let Some(tls) = &pg.tls {
            pg.sql(&format!("ALTER USER postgres PASSWORD '{}'", tls.password));
        }
        pg
    }

    /// Runs one SQL statement in the test's database with `psql`; returns its output.
    pub fn sql(&self, statement: &str) -> String {
        let out = Command::new("psql")
            .args(["-X", "-At", "-d", &self.url, "-c", statement])
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "{statement}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A TCP port on 127.0.0.1 nothing listens on now.
fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Makes a file the server reads its owner's alone (PostgreSQL refuses a key others read).
fn restrict(file: &Path, root: bool) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    if root {
        let status = Command::new("chown")
            .arg("postgres:postgres")
            .arg(file)
            .status();
        assert!(status.is_ok_and(|s| s.success()), "chown to postgres");
    }
}

/// Whether this process runs as root (uid 0), read from /proc without unsafe code.
fn runs_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

impl Postgres {
    /// Stops the server at once (SIGQUIT), as a crash of the database's machine would.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-QUIT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            // Stopped already.
            return;
        }
        // SIGQUIT: immediate shutdown; the cluster is thrown away with the temp dir.
        let _ = Command::new("kill")
            .args(["-QUIT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
