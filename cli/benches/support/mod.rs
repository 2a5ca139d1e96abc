//! What the process benches share: a `duet serve` node on a home, and copying a home.

use std::path::Path;
use std::process::{Command, Stdio};

/// A `duet serve` process on a home, stopped with Ctrl-C.
pub struct Node(std::process::Child);

impl Node {
    /// Starts a node on `home` and waits until it listens.
    pub fn start(duet: &str, home: &Path) -> Node {
        use std::io::BufRead;
        let mut child = Command::new(duet)
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
        let mut first = String::new();
        let mut lines = std::io::BufReader::new(stdout);
        lines.read_line(&mut first).expect("serve started");
        assert!(first.contains("listening"), "{first}");
        // Keep reading so the node never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.lines() {});
        Node(child)
    }

    /// Stops it as Ctrl-C does, and waits for it.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// Copies a home, each file synced to disk (so a timed command's flush does not pay for
/// writing the copy).
// Each bench compiles this module on its own; the week bench copies no home.
#[allow(dead_code)]
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
            std::fs::File::open(&target)
                .and_then(|f| f.sync_all())
                .expect("sync");
        }
    }
}
