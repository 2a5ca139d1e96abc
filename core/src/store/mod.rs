//! The device store on sled: identity, notebook secrets, and each document as a snapshot
//! plus incremental change chunks.
//!
//! Durability: every write path ends in [`Store::flush`], which the façade calls before it
//! reports an edit as done (sled otherwise writes only every 500 ms). Each record carries a
//! BLAKE3 checksum, so a damaged value is reported as [`StoreError::Corrupt`], never loaded
//! as a silently wrong notebook. Compaction folds a document's chunks into its snapshot in
//! one sled transaction, and only every [`COMPACT_AFTER_CHUNKS`] chunks: rewriting large
//! values often makes sled's files grow badly.
//!
//! The key-value engine sits behind [`Engine`] ([`SledEngine`] in use), so another engine
//! can replace sled and tests can inject write failures.
//!
//! One process owns a home at a time: an advisory lock on `home/LOCK` is taken before sled
//! opens, and the holder writes its pid and what it is there (never its arguments: they may
//! hold a ticket), so a second opener gets [`StoreError::Locked`] naming it instead of a hang.
//!
//! A home is private at rest ([`private`]): folders 0700, files 0600, whatever the umask.

pub mod settings;

pub use duet_protocol::engine::{
    private, Engine, Entry, SledEngine, StoreError, TreeName, MIN_FREE_BYTES,
};
pub use settings::{Setting, SCHEMA_VERSION};

use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How many change chunks a document may gather before they are folded into its snapshot.
/// Loading chunks one by one is slow (measured: a meeting with 60 chunks loaded in 5.3 ms,
/// the same as one snapshot in 2.8 ms); rewriting the snapshot costs sled space. Meeting
/// documents are a few KB, so folding every 16 chunks keeps both small.
pub const COMPACT_AFTER_CHUNKS: usize = 16;

/// The first byte of every record: lets a later format coexist with this one.
const RECORD_VERSION: u8 = 1;
/// Key tag of a document's snapshot; sorts before [`CHUNK_TAG`] so a prefix scan yields the
/// snapshot first, then the chunks in order.
const SNAPSHOT_TAG: u8 = b'a';
/// Key tag of a document's change chunks (followed by a big-endian sequence number).
const CHUNK_TAG: u8 = b'c';
/// Bytes of BLAKE3 checksum kept per record.
const CHECKSUM_LEN: usize = 8;

/// What the store keeps about a notebook beside its documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotebookRecord {
    /// Public notebook id.
    pub id: String,
    /// The secret, hex.
    pub secret_hex: String,
    /// Title when last seen (for listing without loading the index).
    pub title: String,
    /// Whether this is a person's own space (private notes), not a shared notebook.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub personal: bool,
}

/// A document's stored bytes, verified: the snapshot followed by its chunks, in order.
#[derive(Debug, Clone)]
pub struct StoredDoc {
    /// Bytes Automerge can load in one call.
    pub bytes: Vec<u8>,
    /// How many chunks follow the snapshot.
    pub chunks: usize,
}

/// Read access to stored documents that a loaded notebook keeps, to load documents lazily.
#[derive(Clone)]
pub struct DocReader {
    engine: Arc<dyn Engine>,
    /// Documents loaded through any clone, since the store opened: reads are meant to use
    /// kept views, so tests count what a command still loads.
    loads: Arc<std::sync::atomic::AtomicU64>,
}

impl DocReader {
    /// Loads a document's verified bytes, or `None` if this home has no such document.
    pub fn load_doc(&self, notebook: &str, doc: &str) -> Result<Option<StoredDoc>, StoreError> {
        let prefix = doc_prefix(notebook, doc);
        let entries = self.engine.scan_prefix(TreeName::Docs, &prefix)?;
        if entries.is_empty() {
            return Ok(None);
        }
        self.loads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut bytes = Vec::new();
        let mut chunks = 0;
        for (key, value) in &entries {
            let payload = unframe(value).ok_or_else(|| StoreError::Corrupt {
                what: format!(
                    "document {doc} of notebook {notebook}, record {}",
                    String::from_utf8_lossy(&key[prefix.len()..])
                ),
            })?;
            if key.get(prefix.len()) == Some(&CHUNK_TAG) {
                chunks += 1;
            }
            bytes.extend_from_slice(payload);
        }
        Ok(Some(StoredDoc { bytes, chunks }))
    }

    /// The ids of every document of a notebook.
    pub fn doc_ids(&self, notebook: &str) -> Result<Vec<String>, StoreError> {
        let prefix = format!("{notebook}\0");
        let mut ids: Vec<String> = Vec::new();
        for key in self
            .engine
            .keys_with_prefix(TreeName::Docs, prefix.as_bytes())?
        {
            let rest = &key[prefix.len()..];
            let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            let id = String::from_utf8_lossy(&rest[..end]).into_owned();
            if ids.last() != Some(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Every document's [version](Self::doc_version) in a notebook, in one scan: checking
    /// hundreds of kept values costs one read, not one each.
    pub fn doc_versions(
        &self,
        notebook: &str,
    ) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        let prefix = format!("{notebook}\0");
        let mut out = std::collections::HashMap::new();
        for (key, value) in self
            .engine
            .scan_prefix(TreeName::Versions, prefix.as_bytes())?
        {
            let rest = &key[prefix.len()..];
            let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            let version = u64::from_be_bytes(value.as_slice().try_into().map_err(|_| {
                StoreError::Corrupt {
                    what: "a document version".into(),
                }
            })?);
            out.insert(String::from_utf8_lossy(&rest[..end]).into_owned(), version);
        }
        Ok(out)
    }

    /// A number that changes whenever a document's stored records change, so views derived
    /// from a document can be cached across processes and checked without loading it.
    pub fn doc_version(&self, notebook: &str, doc: &str) -> Result<u64, StoreError> {
        Ok(
            match self
                .engine
                .get(TreeName::Versions, &doc_prefix(notebook, doc))?
            {
                Some(v) => u64::from_be_bytes(v.as_slice().try_into().map_err(|_| {
                    StoreError::Corrupt {
                        what: format!("version of document {doc}"),
                    }
                })?),
                None => 0,
            },
        )
    }

    /// Marks a document changed. Called *before* its records are written: if a crash keeps
    /// the bump but loses the write, a cache is merely recomputed; never the other way.
    fn bump_version(&self, notebook: &str, doc: &str) -> Result<(), StoreError> {
        let next = self.doc_version(notebook, doc)?.wrapping_add(1);
        self.engine.insert(
            TreeName::Versions,
            &doc_prefix(notebook, doc),
            &next.to_be_bytes(),
        )
    }
}

/// The device store of one home.
pub struct Store {
    home: PathBuf,
    engine: Arc<dyn Engine>,
    reader: DocReader,
    next_chunk: HashMap<(String, String), u64>,
    /// Set when a write failed: the engine may then never finish a flush, so the store is
    /// not used again and is abandoned on drop instead of shut down (which could hang).
    failed: Cell<bool>,
    /// Records (settings and kept values) read since the store opened: a node is meant to
    /// answer a view again from memory, so tests count what it still reads.
    records_read: Cell<u64>,
    /// Durable flushes so far: the node watches it to push local edits.
    flushes: Cell<u64>,
    /// Writes of document content (a chunk appended, a snapshot replacing chunks) so far:
    /// unlike flushes, bookkeeping (a peer's last sync, a cursor) does not move it, so a
    /// node that pushes on it never answers a peer's bookkeeping with a push of its own.
    doc_writes: Cell<u64>,
    _lock: File,
}

impl Drop for Store {
    fn drop(&mut self) {
        if self.failed.get() {
            self.engine.abandon();
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("home", &self.home).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `home` on sled, taking its lock.
    pub fn open(home: &Path) -> Result<Store, StoreError> {
        Store::open_with(home, |engine| engine)
    }

    /// Opens the store with the sled engine wrapped by `wrap` (tests wrap it to inject
    /// faults).
    pub fn open_with(
        home: &Path,
        wrap: impl FnOnce(Arc<dyn Engine>) -> Arc<dyn Engine>,
    ) -> Result<Store, StoreError> {
        let io = |path: PathBuf| {
            move |source| StoreError::Io {
                action: "making private",
                path,
                source,
            }
        };
        private::create_private_dir(home).map_err(io(home.to_owned()))?;
        let lock = take_lock(home)?;
        let sled_dir = home.join("store");
        private::create_private_dir(&sled_dir).map_err(io(sled_dir.clone()))?;
        // A home made before homes were private, or files sled made under the umask.
        private::tighten_tree(&sled_dir).map_err(io(sled_dir.clone()))?;
        let engine = wrap(Arc::new(SledEngine::open(&sled_dir)?));
        let store = Store {
            home: home.to_owned(),
            reader: DocReader {
                engine: engine.clone(),
                loads: Arc::default(),
            },
            engine,
            next_chunk: HashMap::new(),
            failed: Cell::new(false),
            records_read: Cell::new(0),
            flushes: Cell::new(0),
            doc_writes: Cell::new(0),
            _lock: lock,
        };
        settings::migrate(&store)?;
        Ok(store)
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Makes every write so far durable. Call before reporting success.
    pub fn flush(&self) -> Result<(), StoreError> {
        let result = self.usable().and_then(|()| self.engine.flush());
        self.guard(result)?;
        self.flushes.set(self.flushes.get() + 1);
        Ok(())
    }

    /// How many flushes succeeded since the store was opened.
    pub fn flush_count(&self) -> u64 {
        self.flushes.get()
    }

    /// How many writes of document content succeeded since the store was opened.
    pub fn doc_write_count(&self) -> u64 {
        self.doc_writes.get()
    }

    /// Refuses use after a failed write.
    fn usable(&self) -> Result<(), StoreError> {
        if self.failed.get() {
            return Err(StoreError::Failed {
                path: self.home.clone(),
            });
        }
        Ok(())
    }

    /// Marks the store failed when a write failed, and names a full disk plainly.
    fn guard<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        result.map_err(|e| {
            self.failed.set(true);
            let full = |io: &std::io::Error| {
                io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28)
            };
            match e {
                StoreError::Sled(sled::Error::Io(ref io)) | StoreError::Engine(ref io)
                    if full(io) =>
                {
                    StoreError::DiskFull {
                        path: self.home.clone(),
                    }
                }
                other => other,
            }
        })
    }

    /// Refuses a write of about `bytes` when the disk is nearly full (see [`MIN_FREE_BYTES`]).
    fn ensure_space(&self, bytes: usize) -> Result<(), StoreError> {
        self.usable()?;
        let free = fs2::available_space(&self.home).map_err(|source| StoreError::Io {
            action: "checking free space of",
            path: self.home.clone(),
            source,
        })?;
        if free < MIN_FREE_BYTES.saturating_add(bytes as u64) {
            return Err(StoreError::DiskFull {
                path: self.home.clone(),
            });
        }
        Ok(())
    }

    /// A record of a settings or cache tree, checksum verified.
    pub(crate) fn read_record(
        &self,
        tree: TreeName,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.records_read.set(self.records_read.get() + 1);
        match self.engine.get(tree, key.as_bytes())? {
            Some(value) => {
                unframe(&value)
                    .map(|p| Some(p.to_vec()))
                    .ok_or_else(|| StoreError::Corrupt {
                        what: format!("setting {key}"),
                    })
            }
            None => Ok(None),
        }
    }

    /// Every record whose key starts with `prefix`, in key order.
    fn read_records(
        &self,
        tree: TreeName,
        prefix: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for (key, value) in self.engine.scan_prefix(tree, prefix.as_bytes())? {
            let key = String::from_utf8_lossy(&key).into_owned();
            let payload = unframe(&value).ok_or_else(|| StoreError::Corrupt {
                what: format!("setting {key}"),
            })?;
            out.push((key, payload.to_vec()));
        }
        Ok(out)
    }

    /// Sets a record (not flushed).
    pub(crate) fn write_record(
        &self,
        tree: TreeName,
        key: &str,
        value: &[u8],
    ) -> Result<(), StoreError> {
        self.ensure_space(value.len())?;
        let result = self.engine.insert(tree, key.as_bytes(), &frame(value));
        self.guard(result)
    }

    /// Sets a record and removes every record whose key starts with one of `prefixes`, in
    /// one atomic step (not flushed).
    pub(crate) fn replace_records(
        &self,
        tree: TreeName,
        put: (&str, &[u8]),
        prefixes: &[&str],
    ) -> Result<(), StoreError> {
        self.ensure_space(put.1.len())?;
        let mut remove = Vec::new();
        for prefix in prefixes {
            remove.extend(self.engine.keys_with_prefix(tree, prefix.as_bytes())?);
        }
        let result = self
            .engine
            .replace(tree, (put.0.as_bytes(), &frame(put.1)), &remove);
        self.guard(result)
    }

    /// Whether the home holds nothing yet (a new home).
    fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.engine.scan_prefix(TreeName::Meta, b"")?.is_empty()
            && self
                .engine
                .scan_prefix(TreeName::Notebooks, b"")?
                .is_empty())
    }

    /// Sets a setting and, in the same atomic step, removes every setting of the families
    /// in `forget` (not flushed).
    pub fn put_forgetting<S: Setting, F: Setting>(
        &self,
        setting: &S,
        value: &S::Value,
        forget: &[F],
    ) -> Result<(), StoreError> {
        let value = S::encode(value)?;
        self.ensure_space(value.len())?;
        let mut remove = Vec::new();
        for family in forget {
            remove.extend(
                self.engine
                    .keys_with_prefix(F::TREE, family.key().as_bytes())?,
            );
        }
        let key = setting.key();
        let result = self
            .engine
            .replace(S::TREE, (key.as_bytes(), &frame(&value)), &remove);
        self.guard(result)
    }

    /// Every notebook this home holds.
    pub fn notebooks(&self) -> Result<Vec<NotebookRecord>, StoreError> {
        let mut out = Vec::new();
        for (key, value) in self.engine.scan_prefix(TreeName::Notebooks, b"")? {
            let what = || format!("notebook {}", String::from_utf8_lossy(&key));
            let payload = unframe(&value).ok_or_else(|| StoreError::Corrupt { what: what() })?;
            let record: NotebookRecord = serde_json::from_slice(payload)
                .map_err(|_| StoreError::Corrupt { what: what() })?;
            out.push(record);
        }
        Ok(out)
    }

    /// Saves a notebook record (not flushed).
    pub fn put_notebook(&self, record: &NotebookRecord) -> Result<(), StoreError> {
        let json = serde_json::to_vec(record).map_err(|_| StoreError::Corrupt {
            what: format!("notebook {}", record.id),
        })?;
        self.ensure_space(json.len())?;
        let result = self
            .engine
            .insert(TreeName::Notebooks, record.id.as_bytes(), &frame(&json));
        self.guard(result)
    }

    /// Loads a document's verified bytes, or `None` if this home has no such document.
    pub fn load_doc(&self, notebook: &str, doc: &str) -> Result<Option<StoredDoc>, StoreError> {
        self.reader.load_doc(notebook, doc)
    }

    /// Documents loaded since the store was opened.
    pub fn load_count(&self) -> u64 {
        self.reader.loads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records read since the store was opened.
    pub fn record_reads(&self) -> u64 {
        self.records_read.get()
    }

    /// Read access to documents, for loading them lazily.
    pub fn reader(&self) -> DocReader {
        self.reader.clone()
    }

    /// The ids of every document of a notebook.
    pub fn doc_ids(&self, notebook: &str) -> Result<Vec<String>, StoreError> {
        self.reader.doc_ids(notebook)
    }

    /// Appends a change chunk to a document (not flushed). Returns the chunk count now.
    pub fn append_chunk(
        &mut self,
        notebook: &str,
        doc: &str,
        changes: &[u8],
    ) -> Result<u64, StoreError> {
        let slot = (notebook.to_owned(), doc.to_owned());
        let seq = match self.next_chunk.get(&slot) {
            Some(seq) => *seq,
            None => self.last_chunk_seq(notebook, doc)?.map_or(0, |s| s + 1),
        };
        let mut key = doc_prefix(notebook, doc);
        key.push(CHUNK_TAG);
        key.extend_from_slice(&seq.to_be_bytes());
        self.ensure_space(changes.len())?;
        let result = self
            .reader
            .bump_version(notebook, doc)
            .and_then(|()| self.engine.insert(TreeName::Docs, &key, &frame(changes)));
        self.guard(result)?;
        self.doc_writes.set(self.doc_writes.get() + 1);
        self.next_chunk.insert(slot, seq + 1);
        Ok(seq + 1)
    }

    fn last_chunk_seq(&self, notebook: &str, doc: &str) -> Result<Option<u64>, StoreError> {
        let mut prefix = doc_prefix(notebook, doc);
        prefix.push(CHUNK_TAG);
        match self.engine.last_key_with_prefix(TreeName::Docs, &prefix)? {
            Some(key) => {
                let seq: [u8; 8] =
                    key[prefix.len()..]
                        .try_into()
                        .map_err(|_| StoreError::Corrupt {
                            what: format!("chunk key of document {doc}"),
                        })?;
                Ok(Some(u64::from_be_bytes(seq)))
            }
            None => Ok(None),
        }
    }

    /// Replaces a document's snapshot and chunks with one snapshot, in one transaction.
    pub fn compact(
        &mut self,
        notebook: &str,
        doc: &str,
        snapshot: &[u8],
    ) -> Result<(), StoreError> {
        let prefix = doc_prefix(notebook, doc);
        let mut snap_key = prefix.clone();
        snap_key.push(SNAPSHOT_TAG);
        let mut chunk_prefix = prefix;
        chunk_prefix.push(CHUNK_TAG);
        let chunk_keys = self
            .engine
            .keys_with_prefix(TreeName::Docs, &chunk_prefix)?;
        self.ensure_space(snapshot.len())?;
        let result = self.reader.bump_version(notebook, doc).and_then(|()| {
            self.engine
                .replace(TreeName::Docs, (&snap_key, &frame(snapshot)), &chunk_keys)
        });
        self.guard(result)?;
        self.doc_writes.set(self.doc_writes.get() + 1);
        self.next_chunk
            .remove(&(notebook.to_owned(), doc.to_owned()));
        Ok(())
    }

    /// Bytes the store's files take on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.engine.size_on_disk()
    }
}

fn doc_prefix(notebook: &str, doc: &str) -> Vec<u8> {
    format!("{notebook}\0{doc}\0").into_bytes()
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + CHECKSUM_LEN + payload.len());
    out.push(RECORD_VERSION);
    out.extend_from_slice(&blake3::hash(payload).as_bytes()[..CHECKSUM_LEN]);
    out.extend_from_slice(payload);
    out
}

fn unframe(record: &[u8]) -> Option<&[u8]> {
    if record.len() < 1 + CHECKSUM_LEN || record[0] != RECORD_VERSION {
        return None;
    }
    let (sum, payload) = record[1..].split_at(CHECKSUM_LEN);
    (blake3::hash(payload).as_bytes()[..CHECKSUM_LEN] == *sum).then_some(payload)
}

/// What this process calls itself in a home's lock file, set once by a front end.
static HOLDER_LABEL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Names this process in the lock files of the homes it opens, e.g. `duet join`. A label,
/// not the command line: arguments may carry a ticket or a token. Later calls are ignored.
pub fn set_holder_label(label: &str) {
    let _ = HOLDER_LABEL.set(label.to_owned());
}

/// The label set by [`set_holder_label`], else the program's file name.
fn holder_label() -> String {
    if let Some(label) = HOLDER_LABEL.get() {
        return label.clone();
    }
    std::env::args_os()
        .next()
        .as_deref()
        .map(Path::new)
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "a Duet program".into())
}

fn take_lock(home: &Path) -> Result<File, StoreError> {
    let path = home.join("LOCK");
    let io = |action, source| StoreError::Io {
        action,
        path: path.clone(),
        source,
    };
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, private::FILE_MODE);
    let mut file = options.open(&path).map_err(|e| io("opening", e))?;
    private::tighten(&path).map_err(|e| io("making private", e))?;
    if fs2::FileExt::try_lock_exclusive(&file).is_err() {
        let mut holder = String::new();
        // Best effort: the holder may be rewriting the file right now.
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim();
        return Err(StoreError::Locked {
            path: home.to_owned(),
            holder: if holder.is_empty() {
                "unknown process".into()
            } else {
                holder.to_owned()
            },
        });
    }
    let me = format!("pid {}: {}", std::process::id(), holder_label());
    // Best effort: naming the holder helps a second opener, but must not stop reading a
    // home on a full disk.
    let named = file
        .set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(me.as_bytes()));
    if let Err(e) = named {
        tracing::debug!(error = %e, "could not record the lock holder");
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_append_in_order_and_compact_into_a_snapshot() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(dir.path()).expect("open");
        assert!(store.load_doc("nb", "index").expect("load").is_none());
        store.append_chunk("nb", "index", b"one").expect("append");
        store.append_chunk("nb", "index", b"two").expect("append");
        store.append_chunk("nb", "m1", b"other").expect("append");
        let doc = store
            .load_doc("nb", "index")
            .expect("load")
            .expect("present");
        assert_eq!(doc.bytes, b"onetwo");
        assert_eq!(doc.chunks, 2);
        store.compact("nb", "index", b"SNAP").expect("compact");
        store.append_chunk("nb", "index", b"three").expect("append");
        let doc = store
            .load_doc("nb", "index")
            .expect("load")
            .expect("present");
        assert_eq!(doc.bytes, b"SNAPthree");
        assert_eq!(doc.chunks, 1);
        assert_eq!(store.doc_ids("nb").expect("ids"), vec!["index", "m1"]);
    }

    #[test]
    fn a_flipped_byte_is_reported_not_loaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(dir.path()).expect("open");
        store
            .append_chunk("nb", "index", b"payload")
            .expect("append");
        let (key, mut value) = store
            .engine
            .scan_prefix(TreeName::Docs, b"")
            .expect("scan")
            .remove(0);
        let last = value.len() - 1;
        value[last] ^= 1;
        store
            .engine
            .insert(TreeName::Docs, &key, &value)
            .expect("insert");
        let err = store.load_doc("nb", "index").expect_err("corrupt");
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn a_second_opener_is_told_who_holds_the_home() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _first = Store::open(dir.path()).expect("open");
        let err = Store::open(dir.path()).expect_err("locked");
        match err {
            StoreError::Locked { holder, .. } => {
                assert!(
                    holder.contains(&format!("pid {}", std::process::id())),
                    "{holder}"
                )
            }
            other => panic!("expected Locked, got {other}"),
        }
    }
}
