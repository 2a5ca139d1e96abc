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

    /// A `duet` command on this home, without colour.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(duet_binary());
        cmd.env("DUET_HOME", self.home.path()).env("NO_COLOR", "1");
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
    let ana = Device::new("Ana");
    ana.ok(&[
        "notebook", "new", "Ana / Bo", "--me", "manager", "--with", "Bo",
    ]);
    let bo = Device::new("Bo");
    let bundle = ana.file("first.duet");
    ana.ok(&["bundle", "out", path(&bundle)]);
    bo.ok(&["bundle", "in", path(&bundle), "--join", "--as", "report"]);
    (ana, bo)
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
