//! `duet doctor`: what a careful person checks about a home before trusting it with
//! confidential notes. Where the home key is kept, whether anything in the home is open to
//! other users of the machine, and that the store opened (it did, or this would not run).

use crate::commands::Output;
use anyhow::Result;
use duet_core::{Duet, HomeKeySource};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What `duet doctor` reports (its `--json` form too).
#[derive(Debug, Serialize)]
struct Checkup {
    home: PathBuf,
    home_key: HomeKey,
    /// Files and folders of the home that group or others may use, with their mode.
    open_to_others: Vec<String>,
    notebooks: usize,
}

/// Where the home key is kept.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum HomeKey {
    /// The home's key file.
    KeyFile { path: PathBuf },
    /// Given by the app that opened the home.
    App,
    /// The OS keychain: service `duet`, this account.
    Keychain { account: String },
}

crate::json::contract!(Checkup);

impl From<&HomeKeySource> for HomeKey {
    fn from(s: &HomeKeySource) -> Self {
        match s {
            HomeKeySource::KeyFile { path } => HomeKey::KeyFile { path: path.clone() },
            HomeKeySource::App => HomeKey::App,
            HomeKeySource::Keychain { account } => HomeKey::Keychain {
                account: account.clone(),
            },
        }
    }
}

/// Runs the checks on an opened home.
pub fn run(duet: &mut Duet, out: &Output) -> Result<()> {
    let home = duet.home().to_owned();
    let checkup = Checkup {
        open_to_others: open_to_others(&home),
        home_key: duet.home_key_source().into(),
        notebooks: duet.notebooks()?.len(),
        home,
    };
    out.print(&checkup, || render(&checkup));
    Ok(())
}

fn render(c: &Checkup) -> String {
    let mut text = format!("Home: {}\n", c.home.display());
    match &c.home_key {
        HomeKey::KeyFile { path } => text.push_str(&format!(
            "Home key: in the key file {} (readable by you only). The store holds every secret sealed with it: keep the two together in backups, and never share the key file.\n",
            path.display()
        )),
        HomeKey::App => text.push_str("Home key: kept by the app that opened this home.\n"),
        HomeKey::Keychain { account } => text.push_str(&format!(
            "Home key: in the OS keychain (service duet, account {account}). The store holds every secret sealed with it: a backup of the home alone opens nothing.\n"
        )),
    }
    if c.open_to_others.is_empty() {
        text.push_str("Permissions: nothing in the home is open to other users.\n");
    } else {
        text.push_str("Permissions: open to other users (run `chmod -R go-rwx` on the home):\n");
        for entry in &c.open_to_others {
            text.push_str(&format!("  {entry}\n"));
        }
    }
    text.push_str(&format!(
        "Store: opens; {} notebook{} here.\n",
        c.notebooks,
        if c.notebooks == 1 { "" } else { "s" }
    ));
    text
}

/// Every entry under `root` group or others may read, write or enter (sockets aside: the
/// node's control socket checks who connects).
fn open_to_others(root: &Path) -> Vec<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let mut open = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(path) = stack.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.file_type().is_socket() || meta.file_type().is_symlink() {
                continue;
            }
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                open.push(format!("{} ({mode:o})", path.display()));
            }
            if meta.is_dir() {
                for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                    stack.push(entry.path());
                }
            }
        }
        open.sort();
        open
    }
    #[cfg(not(unix))]
    {
        let _ = root;
        Vec::new()
    }
}
