//! A damaged store is detected: flipped or truncated bytes give an error or the intact
//! notebook, never a panic and never a silently different notebook.

use duet_tests::{copy_dir, Device};
use rand::Rng;
use std::path::{Path, PathBuf};

/// Damaged copies tried.
const TRIALS: usize = 40;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if std::fs::metadata(&path)
            .map(|m| m.len() > 0)
            .unwrap_or(false)
        {
            out.push(path);
        }
    }
    out
}

#[test]
fn flipped_or_truncated_store_bytes_never_panic_or_mislead() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    for i in 0..20 {
        ana.ok(&["note", &format!("paragraph {i} of the notes")]);
        ana.ok(&["agenda", "add", &format!("item {i}")]);
    }
    let intact = ana.ok(&["--json", "export", "--format", "json"]);
    let store = ana.home.path().join("store");
    let files = files_under(&store);
    assert!(!files.is_empty());

    let mut rng = rand::rng();
    let (mut errors, mut intact_reads) = (0, 0);
    for trial in 0..TRIALS {
        let copy = tempfile::tempdir().expect("tempdir");
        copy_dir(ana.home.path(), copy.path());
        let victim = copy.path().join(
            files[rng.random_range(0..files.len())]
                .strip_prefix(ana.home.path())
                .expect("inside"),
        );
        let mut bytes = std::fs::read(&victim).expect("read");
        if trial % 4 == 3 {
            bytes.truncate(rng.random_range(0..bytes.len()));
        } else {
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..bytes.len());
                bytes[at] ^= 1 << rng.random_range(0..8);
            }
        }
        std::fs::write(&victim, &bytes).expect("write");

        let out = ana
            .command()
            .env("DUET_HOME", copy.path())
            .args(["--json", "export", "--format", "json"])
            .output()
            .expect("run");
        let code = out.status.code();
        assert!(code.is_some(), "trial {trial}: killed by a signal");
        assert_ne!(
            code,
            Some(101),
            "trial {trial}: panicked: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                intact,
                "trial {trial}: a damaged store read as a different notebook"
            );
            intact_reads += 1;
        } else {
            assert!(
                !out.stderr.is_empty(),
                "trial {trial}: failed without saying why"
            );
            errors += 1;
        }
    }
    eprintln!("{errors} damaged copies refused with an error, {intact_reads} read intact");
}
