//! The sled engine: each store tree is a sled tree of the same name.
//!
//! sled 0.34's own flush is not enough for power loss: it writes its log with
//! `sync_file_range`, which neither flushes the drive's write cache nor the file's metadata,
//! and it writes large values and nodes to files under `blobs/` with no fsync at all. So
//! [`SledEngine::flush`] follows sled's flush with an `fsync` of every blob written since the
//! last flush, of the `blobs` directory when it gained entries, and an `fdatasync` of the log.

use super::kv::{Engine, Entry, TreeName};
use super::StoreError;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// sled's log segment size, left at sled's default. Smaller segments made the store smaller
/// on disk (16 KiB: 1.4x the documents' size instead of 3.7x) but push every value over
/// segment/4 into a separate blob file, and sled 0.34 can leave a blob torn by `kill -9`
/// behind a log entry that already points at it: the store then no longer opens (seen
/// here in about one run of six of the SIGKILL test). At 512 KiB, values stay in the log.
const SEGMENT_BYTES: usize = 512 * 1024;
/// How long opening waits for sled's file lock to be released by this process's previous
/// store (sled drops it from a background thread).
const SLED_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// sled's page cache bound: five years of notes are a few MB, so this is never the limit.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// sled's database and the store's trees in it.
struct Trees {
    db: sled::Db,
    meta: sled::Tree,
    notebooks: sled::Tree,
    docs: sled::Tree,
    versions: sled::Tree,
    cache: sled::Tree,
}

/// A store engine on sled.
pub struct SledEngine {
    /// Taken only when the engine drops: sled writes a last snapshot file as it closes,
    /// which is then made private like the others.
    trees: Option<Trees>,
    /// sled's directory (holds the log `db` and `blobs/`).
    dir: PathBuf,
    /// The log file, kept open to fdatasync it.
    log: File,
    /// Blob files already synced (blobs are written once and never changed).
    synced_blobs: Mutex<HashSet<OsString>>,
    /// Entries of `dir` already made private; sled adds snapshot files as it goes.
    private_entries: Mutex<HashSet<OsString>>,
}

impl Drop for SledEngine {
    fn drop(&mut self) {
        drop(self.trees.take());
        // Best effort: the next open tightens whatever this misses.
        let _ = self.tighten_new_entries();
    }
}

impl SledEngine {
    /// Opens (creating if needed) the sled database at `path`.
    pub fn open(path: &Path) -> Result<SledEngine, StoreError> {
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_BYTES)
            .segment_size(SEGMENT_BYTES)
            // Every write path flushes before it reports success; sled's own periodic
            // flusher thread would only add start-up and shutdown cost to each command.
            .flush_every_ms(None);
        remove_unfinished_snapshots(path)?;
        let damaged = |detail: String| StoreError::Damaged {
            path: path.to_owned(),
            detail,
        };
        // sled can panic on some damaged files instead of returning an error.
        let open = || {
            catch_unwind(AssertUnwindSafe(|| config.open()))
                .map_err(|panic| damaged(panic_text(&panic)))
        };
        let mut opened = open()?;
        // sled releases its file lock only when its last handle drops, and its background
        // threads may hold one a moment after this process closed its store. The home's LOCK,
        // taken first, guarantees no other process holds it: wait for our own to finish.
        let deadline = std::time::Instant::now() + SLED_LOCK_WAIT;
        while matches!(&opened, Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock"))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
            opened = open()?;
        }
        let db = opened.map_err(|e| match e {
            sled::Error::Corruption { .. } | sled::Error::Unsupported(_) => damaged(e.to_string()),
            other => StoreError::Sled(other),
        })?;
        let io = |source| StoreError::Io {
            action: "opening",
            path: path.join("db"),
            source,
        };
        let log = File::open(path.join("db")).map_err(io)?;
        let engine = SledEngine {
            dir: path.to_owned(),
            log,
            synced_blobs: Mutex::new(HashSet::new()),
            private_entries: Mutex::new(HashSet::new()),
            trees: Some(Trees {
                meta: db.open_tree("meta")?,
                notebooks: db.open_tree("notebooks")?,
                docs: db.open_tree("docs")?,
                versions: db.open_tree("versions")?,
                cache: db.open_tree("cache")?,
                db,
            }),
        };
        // sled writes a snapshot as it recovers its log on opening.
        engine.tighten_new_entries()?;
        Ok(engine)
    }

    fn trees(&self) -> &Trees {
        self.trees
            .as_ref()
            .expect("the trees are taken only when the engine drops")
    }

    /// The sled database itself, for a program (the relay) that keeps trees of its own
    /// beside the store's and makes them durable with [`Engine::flush`].
    pub fn db(&self) -> &sled::Db {
        &self.trees().db
    }

    fn tree(&self, tree: TreeName) -> &sled::Tree {
        match tree {
            TreeName::Meta => &self.trees().meta,
            TreeName::Notebooks => &self.trees().notebooks,
            TreeName::Docs => &self.trees().docs,
            TreeName::Versions => &self.trees().versions,
            TreeName::Cache => &self.trees().cache,
        }
    }
}

impl SledEngine {
    /// fsyncs blob files written since the last flush, then their directory.
    fn sync_blobs(&self) -> Result<(), StoreError> {
        let blobs = self.dir.join("blobs");
        let entries = match std::fs::read_dir(&blobs) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::Engine(e)),
        };
        let mut synced = self
            .synced_blobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut new = false;
        for entry in entries {
            let entry = entry.map_err(StoreError::Engine)?;
            let name = entry.file_name();
            if synced.contains(&name) {
                continue;
            }
            match File::open(entry.path()) {
                Ok(f) => {
                    super::private::tighten(&entry.path()).map_err(StoreError::Engine)?;
                    f.sync_all().map_err(StoreError::Engine)?
                }
                // sled removed it (garbage collection) between listing and opening.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::Engine(e)),
            }
            synced.insert(name);
            new = true;
        }
        if new {
            File::open(&blobs)
                .and_then(|d| d.sync_all())
                .map_err(StoreError::Engine)?;
        }
        Ok(())
    }

    /// Makes private the files sled created in its folder since the last look, whatever the
    /// umask (a handful of entries: the log, `conf`, snapshots, `blobs`).
    fn tighten_new_entries(&self) -> Result<(), StoreError> {
        let mut known = self
            .private_entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for entry in std::fs::read_dir(&self.dir).map_err(StoreError::Engine)? {
            let entry = entry.map_err(StoreError::Engine)?;
            let name = entry.file_name();
            if known.contains(&name) {
                continue;
            }
            match super::private::tighten(&entry.path()) {
                Ok(()) => {}
                // sled removed an old snapshot between listing and tightening.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::Engine(e)),
            }
            known.insert(name);
        }
        Ok(())
    }
}

impl Engine for SledEngine {
    fn get(&self, tree: TreeName, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree(tree).get(key)?.map(|v| v.to_vec()))
    }

    fn insert(&self, tree: TreeName, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.tree(tree).insert(key, value)?;
        Ok(())
    }

    fn scan_prefix(&self, tree: TreeName, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        self.tree(tree)
            .scan_prefix(prefix)
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(Into::into))
            .collect()
    }

    fn keys_with_prefix(&self, tree: TreeName, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        self.tree(tree)
            .scan_prefix(prefix)
            .keys()
            .map(|k| k.map(|k| k.to_vec()).map_err(Into::into))
            .collect()
    }

    fn last_key_with_prefix(
        &self,
        tree: TreeName,
        prefix: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        match self.tree(tree).scan_prefix(prefix).keys().next_back() {
            Some(key) => Ok(Some(key?.to_vec())),
            None => Ok(None),
        }
    }

    fn replace(
        &self,
        tree: TreeName,
        put: (&[u8], &[u8]),
        remove: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        let result: Result<(), TransactionError<()>> = (self.tree(tree),).transaction(|(t,)| {
            t.insert(put.0, put.1)?;
            for key in remove {
                t.remove(key.as_slice())?;
            }
            Ok::<(), ConflictableTransactionError<()>>(())
        });
        result.map_err(|e| match e {
            TransactionError::Storage(e) => StoreError::Sled(e),
            TransactionError::Abort(()) => StoreError::Corrupt {
                what: "an aborted transaction".into(),
            },
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.trees().db.flush()?;
        self.sync_blobs()?;
        self.tighten_new_entries()?;
        self.log.sync_data().map_err(StoreError::Engine)
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.trees().db.size_on_disk()?)
    }

    fn abandon(&self) {
        // Keeps every tree alive (the Db holds them all), so none flushes on drop.
        std::mem::forget(self.trees().db.clone());
    }
}

/// Deletes snapshot files sled had not finished writing.
///
/// sled writes a snapshot as `snap.<lsn>.generating` and renames it when complete, but when
/// it opens it reads the newest `snap.*` file, unfinished ones included: a process killed
/// while sled wrote a snapshot left a store that no longer opened ("Read corrupted data";
/// about one run in ten of the SIGKILL test). An unfinished snapshot holds nothing the log
/// lacks, and the home's lock guarantees no other process is writing one now.
fn remove_unfinished_snapshots(dir: &Path) -> Result<(), StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::Engine(e)),
    };
    for entry in entries {
        let entry = entry.map_err(StoreError::Engine)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            tracing::warn!(file = %name, "removing a snapshot sled did not finish writing");
            std::fs::remove_file(entry.path()).map_err(StoreError::Engine)?;
        }
    }
    Ok(())
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "sled panicked while opening".into())
}
