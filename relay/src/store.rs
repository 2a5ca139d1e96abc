//! The relay's state on sled: its TLS identity, team tokens (hashed), and per mailbox a
//! record (token verifier, head, floor, bytes) and an append-only log of envelopes.
//!
//! Durability with group commit: pushes from every connection go to one writer task, which
//! appends a whole batch, flushes once (sled's flush plus the fsyncs Duet's store adds, see
//! `duet_protocol::engine::SledEngine`), and only then acknowledges each push. Readers are
//! capped at the durable head, so a device never sees an entry a crash could take back.
//!
//! Beside each mailbox the time of its last write (push or compaction) is kept, for
//! operators (`duet-relay mailbox list`) and for retention: a mailbox idle longer than the
//! configured days is deleted whole, through the same writer.

use crate::arrivals::Arrivals;
use crate::known::KnownMailboxes;
use crate::metrics::RelayMetrics;
use duet_protocol::engine::{Engine, SledEngine, StoreError, TreeName};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Log entries: (sequence number, envelope).
pub type Entries = Vec<(u64, Vec<u8>)>;
/// Answers a write once its batch is durable (or failed).
pub(crate) type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Takes a push into its mailbox's record (both backends' rule): its sequence number, or
/// why it is refused (another token made the mailbox first; the quota is reached).
pub(crate) fn accept_push(
    record: &mut MailboxRecord,
    verifier: &[u8; 32],
    len: usize,
    quota: u64,
) -> Result<u64, PushOutcome> {
    if record.verifier != *verifier {
        // Checked by the server before queueing; a race with another creator.
        return Err(PushOutcome::WrongToken);
    }
    if record.bytes + len as u64 > quota {
        return Err(PushOutcome::OverQuota);
    }
    record.head += 1;
    record.bytes += len as u64;
    Ok(record.head)
}

/// The answer to a push taken as `seq`, sent once its batch is durable (or failed), and
/// counted when it is.
pub(crate) fn push_reply(
    reply: oneshot::Sender<Result<PushOutcome, RelayStoreError>>,
    seq: u64,
    size: usize,
    arrived: std::time::Instant,
    metrics: Arc<RelayMetrics>,
) -> Reply {
    Box::new(move |r| {
        let _ = reply.send(match r {
            Ok(()) => {
                metrics.pushed(size, arrived);
                Ok(PushOutcome::Stored(seq))
            }
            Err(e) => Err(RelayStoreError::NotDurable(e)),
        });
    })
}

const META_TLS_CERT: &[u8] = b"relay_tls_cert";
const META_TLS_KEY: &[u8] = b"relay_tls_key";
/// Pushes folded into one flush at most.
const MAX_BATCH: usize = 4096;
/// Transactions a relay process has in flight at once on PostgreSQL. One: measured on a
/// 2-core machine running two relay processes and the database, three writers gave
/// 4.5-5.0k durable pushes/s against 6.3-7.9k/s for one (more processes than cores).
const PG_WRITERS: usize = 1;

/// Errors of the relay store.
#[derive(Debug, thiserror::Error)]
pub enum RelayStoreError {
    /// The engine failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// sled failed.
    #[error("relay store: {0}")]
    Sled(#[from] sled::Error),
    /// A record does not decode.
    #[error("damaged relay record: {0}")]
    Corrupt(String),
    /// The writer task is gone (shutting down).
    #[error("the relay is shutting down")]
    Closed,
    /// The batch a write was in could not be made durable; it was refused.
    #[error("the batch could not be made durable: {0}")]
    NotDurable(String),
    /// The database (PostgreSQL) failed or could not be reached.
    #[error("database: {0}")]
    Database(String),
    /// An operator's request that cannot be done as asked.
    #[error("{0}")]
    Refused(String),
    /// A write other than a push to a mailbox retired since its stream was opened (a push
    /// gets [`PushOutcome::Retired`]).
    #[error("the mailbox was retired")]
    Retired,
}

/// What the relay keeps about a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxRecord {
    /// BLAKE3 of the mailbox's token.
    pub verifier: [u8; 32],
    /// The newest sequence number (0: empty).
    pub head: u64,
    /// Entries before this were replaced by a snapshot at this sequence number.
    pub floor: u64,
    /// Bytes of envelopes held.
    pub bytes: u64,
}

/// What the relay knows of a mailbox when a device opens a stream on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opening {
    /// Its record, if it exists.
    pub record: Option<MailboxRecord>,
    /// Whether it was retired (its notebook moved to new keys).
    pub retired: bool,
}

/// What an operator sees of a mailbox: never its content or who uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxInfo {
    /// Its id (derived from the notebook's relay token: it names no one).
    pub id: String,
    /// Bytes of envelopes held.
    pub bytes: u64,
    /// Envelopes held.
    pub entries: u64,
    /// When it was last written (Unix milliseconds); `None` before this was recorded.
    pub last_write_ms: Option<i64>,
}

/// What a backup copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupReport {
    /// Where the copy is.
    pub to: std::path::PathBuf,
    /// Mailboxes copied.
    pub mailboxes: u64,
    /// Records copied, over every tree.
    pub records: u64,
    /// Bytes of keys and values copied.
    pub bytes: u64,
    /// How long pushes waited while it was taken, in milliseconds.
    pub millis: u64,
}

/// The file holding a relay's store inside its data directory.
pub const STORE_DIR: &str = "relay-store";

/// A write for the writer task.
pub enum Write {
    /// Create the mailbox if absent, then append.
    Push {
        /// When the push arrived (for the commit latency metric).
        arrived: std::time::Instant,
        /// Mailbox id.
        mailbox: String,
        /// Verifier to create it with.
        verifier: [u8; 32],
        /// Whether the push may create the mailbox: false when the server let it through
        /// because the process knew the mailbox, without checking who may create one.
        create: bool,
        /// The envelope.
        envelope: Vec<u8>,
        /// Quota to enforce.
        quota: u64,
        /// Where the sequence number goes once durable.
        reply: oneshot::Sender<Result<PushOutcome, RelayStoreError>>,
    },
    /// Replace entries up to `upto` with one envelope.
    Compact {
        /// Mailbox id.
        mailbox: String,
        /// Last sequence number covered.
        upto: u64,
        /// The snapshot envelope.
        envelope: Vec<u8>,
        /// Done.
        reply: oneshot::Sender<Result<u64, RelayStoreError>>,
    },
    /// Copy the whole store to a new directory, between two batches: a consistent copy
    /// holding every push acknowledged before it and nothing half-written.
    Backup {
        /// The new data directory (must not hold a relay store yet).
        to: std::path::PathBuf,
        /// Done.
        reply: oneshot::Sender<Result<BackupReport, RelayStoreError>>,
    },
    /// Retire a mailbox: read, never written again (see `RelayRequest::Retire`).
    Retire {
        /// Mailbox id.
        mailbox: String,
        /// Done.
        reply: oneshot::Sender<Result<(), RelayStoreError>>,
    },
    /// Delete a mailbox whole (retention, or an operator).
    Delete {
        /// Mailbox id.
        mailbox: String,
        /// Done: whether it existed.
        reply: oneshot::Sender<Result<bool, RelayStoreError>>,
    },
}

/// The result of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored durably under this sequence number.
    Stored(u64),
    /// Refused: over quota.
    OverQuota,
    /// Refused: another token created the mailbox first.
    WrongToken,
    /// Refused: the mailbox was retired.
    Retired,
    /// Not stored: the mailbox does not exist and the push may not create it. The envelope
    /// comes back for the server to check the push as one that creates it.
    Gone {
        /// The push's envelope.
        envelope: Vec<u8>,
    },
}

/// The relay's store, shared by every connection: on sled (embedded, the default) or on
/// PostgreSQL (several relay processes on one database).
pub struct RelayStore {
    backend: Backend,
    /// What the relay counts.
    metrics: Arc<RelayMetrics>,
    /// Heads that are durable, by mailbox, on sled: readers never go past them (on
    /// PostgreSQL readers see committed rows only).
    durable: Mutex<HashMap<String, u64>>,
    writes: mpsc::Sender<Write>,
    /// (mailbox, new durable head) after every flush or commit, this process's and, on
    /// PostgreSQL, every other process's.
    pub arrivals: Arc<Arrivals>,
    /// Mailboxes this process stored pushes for.
    pub known: KnownMailboxes,
    /// The store's size as last measured, and when.
    disk: Mutex<(u64, Option<std::time::Instant>)>,
    /// Whether a push is measuring the store's size now (the others use the last measure).
    measuring: std::sync::atomic::AtomicBool,
    /// When each mailbox's last write was last recorded (sled): it is recorded again only
    /// [`ACTIVITY_EVERY_MS`] later, so a busy mailbox costs one more write a minute, not
    /// one per batch.
    activity_seen: Mutex<HashMap<String, i64>>,
}

/// How stale a mailbox's recorded last write may be (retention counts in days).
const ACTIVITY_EVERY_MS: i64 = 60_000;

enum Backend {
    Sled(SledParts),
    Postgres(crate::postgres::PgStore),
}

/// The sled store's trees.
struct SledParts {
    /// The data directory.
    dir: std::path::PathBuf,
    engine: Arc<SledEngine>,
    mailboxes: sled::Tree,
    log: sled::Tree,
    tokens: sled::Tree,
    /// Mailbox id → its last write (Unix milliseconds, big-endian).
    activity: sled::Tree,
    /// Mailbox id → when it was retired (Unix milliseconds, big-endian).
    retired: sled::Tree,
}

/// The mark that a push is measuring the store's size, taken off when it is done or its
/// stream ends first.
struct Measuring<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for Measuring<'_> {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Release);
    }
}

/// How long a measurement of the store's size is used before measuring again (measuring
/// lists the store's files, or asks the database; pushes come thousands a second).
const DISK_MEASURE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

fn log_key(mailbox: &str, seq: u64) -> Vec<u8> {
    let mut k = mailbox.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

impl RelayStore {
    /// Opens the sled store in `dir` and starts its writer task (needs a tokio runtime).
    pub fn open(dir: &Path) -> Result<Arc<RelayStore>, RelayStoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            action: "creating",
            path: dir.to_owned(),
            source,
        })?;
        let engine = Arc::new(SledEngine::open(&dir.join(STORE_DIR))?);
        let db = engine.db();
        let parts = SledParts {
            dir: dir.to_owned(),
            mailboxes: db.open_tree("mailboxes")?,
            log: db.open_tree("log")?,
            tokens: db.open_tree("tokens")?,
            activity: db.open_tree("activity")?,
            retired: db.open_tree("retired")?,
            engine,
        };
        let (store, queue) = RelayStore::with(Backend::Sled(parts));
        tokio::spawn(writer(store.clone(), queue));
        Ok(store)
    }

    /// Opens the store on PostgreSQL (`postgres://…` or a key=value connection string),
    /// making its tables if needed, and starts its writer and its listener.
    pub async fn open_postgres(url: &str) -> Result<Arc<RelayStore>, RelayStoreError> {
        let (pg, client) = crate::postgres::PgStore::open(url).await?;
        let (store, queue) = RelayStore::with(Backend::Postgres(pg));
        if let Backend::Postgres(pg) = &store.backend {
            pg.listen(store.arrivals.clone());
            let queue = Arc::new(tokio::sync::Mutex::new(queue));
            let mut opened = Some(client);
            for _ in 0..PG_WRITERS {
                let writer = pg_writer(store.clone(), url.to_owned(), opened.take(), queue.clone());
                pg.spawn_on_database_thread(writer);
            }
        }
        Ok(store)
    }

    fn with(backend: Backend) -> (Arc<RelayStore>, mpsc::Receiver<Write>) {
        let (writes, queue) = mpsc::channel(MAX_BATCH * 4);
        let store = Arc::new(RelayStore {
            backend,
            metrics: Arc::new(RelayMetrics::new()),
            durable: Mutex::new(HashMap::new()),
            writes,
            arrivals: Arc::new(Arrivals::default()),
            known: KnownMailboxes::default(),
            disk: Mutex::new((0, None)),
            measuring: std::sync::atomic::AtomicBool::new(false),
            activity_seen: Mutex::new(HashMap::new()),
        });
        (store, queue)
    }

    /// Opens the store for offline work (tokens, fingerprint, mailboxes) while no relay
    /// runs on it: no writer task.
    pub fn open_offline(dir: &Path) -> Result<OfflineStore, RelayStoreError> {
        let engine = SledEngine::open(&dir.join(STORE_DIR))?;
        let db = engine.db();
        Ok(OfflineStore {
            dir: dir.to_owned(),
            tokens: db.open_tree("tokens")?,
            mailboxes: db.open_tree("mailboxes")?,
            log: db.open_tree("log")?,
            activity: db.open_tree("activity")?,
            retired: db.open_tree("retired")?,
            engine,
        })
    }

    fn sled(&self) -> Option<&SledParts> {
        match &self.backend {
            Backend::Sled(parts) => Some(parts),
            Backend::Postgres(_) => None,
        }
    }

    /// Which backend holds the data, for operators.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sled(_) => "sled",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// What the relay counts.
    pub fn metrics(&self) -> Arc<RelayMetrics> {
        self.metrics.clone()
    }

    /// Whether the writer takes writes (it stops only when the relay shuts down).
    pub fn accepting_writes(&self) -> bool {
        !self.writes.is_closed()
    }

    /// Whether the store's backing answers: always on sled; on PostgreSQL, whether the
    /// database answers a query within [`crate::postgres::REACHABLE_WITHIN`].
    pub async fn reachable(&self) -> bool {
        match &self.backend {
            Backend::Sled(_) => true,
            Backend::Postgres(pg) => pg.reachable().await,
        }
    }

    /// How many mailboxes the relay holds.
    pub async fn mailbox_count(&self) -> Result<u64, RelayStoreError> {
        match &self.backend {
            Backend::Sled(p) => Ok(p.mailboxes.len() as u64),
            Backend::Postgres(pg) => Ok(pg.totals().await?.0),
        }
    }

    /// Every mailbox, as operators see them.
    pub async fn mailbox_list(&self) -> Result<Vec<MailboxInfo>, RelayStoreError> {
        match &self.backend {
            Backend::Sled(p) => list_mailboxes(&p.mailboxes, &p.activity),
            Backend::Postgres(pg) => pg.mailbox_list().await,
        }
    }

    /// Mailboxes with no write since `before` (Unix milliseconds). On sled, a mailbox whose
    /// last write was never recorded (made by an older relay) is stamped now instead, so
    /// an upgrade never deletes anything at once.
    pub async fn idle_since(&self, before: i64) -> Result<Vec<String>, RelayStoreError> {
        let p = match &self.backend {
            Backend::Sled(p) => p,
            Backend::Postgres(pg) => return pg.idle_since(before).await,
        };
        let now = jiff::Timestamp::now().as_millisecond();
        let mut idle = Vec::new();
        for info in list_mailboxes(&p.mailboxes, &p.activity)? {
            match info.last_write_ms {
                Some(at) if at < before => idle.push(info.id),
                Some(_) => {}
                None => {
                    p.activity.insert(info.id.as_bytes(), &now.to_be_bytes())?;
                }
            }
        }
        Ok(idle)
    }

    /// The relay's TLS identity, made on first start (on PostgreSQL, once for every process).
    pub async fn identity(&self) -> Result<duet_protocol::net::tls::TlsIdentity, RelayStoreError> {
        match &self.backend {
            Backend::Sled(p) => identity(p.engine.as_ref()),
            Backend::Postgres(pg) => pg.identity().await,
        }
    }

    /// What a stream's `Open` needs to know of a mailbox (on PostgreSQL, one query).
    pub async fn opening(&self, id: &str) -> Result<Opening, RelayStoreError> {
        match &self.backend {
            Backend::Sled(p) => Ok(Opening {
                record: p.mailbox(id)?,
                retired: p.retired.get(id.as_bytes())?.is_some(),
            }),
            Backend::Postgres(pg) => pg.opening(id).await,
        }
    }

    /// The durable head of a mailbox on sled.
    fn durable_head(&self, p: &SledParts, id: &str) -> Result<u64, RelayStoreError> {
        if let Some(h) = self.durable.lock().ok().and_then(|d| d.get(id).copied()) {
            return Ok(h);
        }
        // Not written since start: everything on disk is durable.
        Ok(p.mailbox(id)?.map_or(0, |m| m.head))
    }

    /// Entries after `after`, up to the durable head, at most `max_bytes` of them (at least
    /// one). Returns them and whether more remain.
    pub async fn entries_after(
        &self,
        id: &str,
        after: u64,
        max_bytes: usize,
    ) -> Result<(Entries, bool), RelayStoreError> {
        let p = match &self.backend {
            Backend::Sled(p) => p,
            Backend::Postgres(pg) => return pg.entries_after(id, after, max_bytes).await,
        };
        let head = self.durable_head(p, id)?;
        let mut out = Vec::new();
        let mut size = 0;
        for item in p
            .log
            .range(log_key(id, after.saturating_add(1))..=log_key(id, head))
        {
            let (k, v) = item?;
            let seq = u64::from_be_bytes(
                k[k.len() - 8..]
                    .try_into()
                    .map_err(|_| RelayStoreError::Corrupt("log key".into()))?,
            );
            if !out.is_empty() && size + v.len() > max_bytes {
                return Ok((out, true));
            }
            size += v.len();
            out.push((seq, v.to_vec()));
        }
        Ok((out, false))
    }

    /// The store's size (on disk for sled; the envelopes' bytes on PostgreSQL), measured
    /// at most once a second, by one push at a time: the pushes that arrive while it
    /// measures use the last measure rather than each measuring too (on PostgreSQL a scan
    /// of the mailboxes, which every push arriving in its time would have waited for).
    pub async fn bytes_on_disk(&self) -> Result<u64, RelayStoreError> {
        use std::sync::atomic::Ordering;
        let last = *self
            .disk
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _measuring = match last {
            (bytes, Some(at)) if at.elapsed() < DISK_MEASURE_EVERY => return Ok(bytes),
            (bytes, Some(_)) if self.measuring.swap(true, Ordering::AcqRel) => return Ok(bytes),
            (_, Some(_)) => Some(Measuring(&self.measuring)),
            // Never measured: every push waits for a first measure.
            (_, None) => None,
        };
        let bytes = match &self.backend {
            Backend::Sled(p) => p.engine.size_on_disk()?,
            Backend::Postgres(pg) => pg.totals().await?.1,
        };
        let mut disk = self
            .disk
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *disk = (bytes, Some(std::time::Instant::now()));
        Ok(bytes)
    }

    /// Whether `token` is a team token.
    pub async fn team_token_valid(&self, token: &str) -> Result<bool, RelayStoreError> {
        match &self.backend {
            Backend::Sled(p) => Ok(p
                .tokens
                .get(blake3::hash(token.as_bytes()).as_bytes())?
                .is_some()),
            Backend::Postgres(pg) => pg.team_token_valid(token).await,
        }
    }

    /// Issues a team token (on PostgreSQL, for every process; on sled, see
    /// [`OfflineStore::new_team_token`]).
    pub async fn new_team_token(&self, label: &str) -> Result<String, RelayStoreError> {
        let token = fresh_team_token();
        match &self.backend {
            Backend::Sled(p) => {
                put_team_token(&p.tokens, label, &token)?;
                p.engine.flush()?;
            }
            Backend::Postgres(pg) => pg.new_team_token(label, &token).await?,
        }
        Ok(token)
    }

    /// Queues a write for the writer task.
    pub async fn write(&self, w: Write) -> Result<(), RelayStoreError> {
        self.writes
            .send(w)
            .await
            .map_err(|_| RelayStoreError::Closed)
    }

    /// Makes everything durable (shutdown; on PostgreSQL every commit already is).
    pub fn flush(&self) -> Result<(), RelayStoreError> {
        match &self.backend {
            Backend::Sled(p) => Ok(p.engine.flush()?),
            Backend::Postgres(_) => Ok(()),
        }
    }
}

impl SledParts {
    fn mailbox(&self, id: &str) -> Result<Option<MailboxRecord>, RelayStoreError> {
        match self.mailboxes.get(id.as_bytes())? {
            Some(v) => Ok(Some(
                postcard::from_bytes(&v).map_err(|e| RelayStoreError::Corrupt(e.to_string()))?,
            )),
            None => Ok(None),
        }
    }

    fn put_mailbox(&self, id: &str, m: &MailboxRecord) -> Result<(), RelayStoreError> {
        let bytes =
            postcard::to_allocvec(m).map_err(|e| RelayStoreError::Corrupt(e.to_string()))?;
        self.mailboxes.insert(id.as_bytes(), bytes)?;
        Ok(())
    }
}

/// A new team token: `dt_` and 32 base32 characters (160 random bits).
fn fresh_team_token() -> String {
    let mut raw = [0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut raw);
    format!(
        "dt_{}",
        data_encoding::BASE32_NOPAD
            .encode(&raw)
            .to_ascii_lowercase()
    )
}

/// Keeps a team token's hash with its label.
fn put_team_token(tokens: &sled::Tree, label: &str, token: &str) -> Result<(), RelayStoreError> {
    let record =
        serde_json::json!({ "label": label, "created": jiff::Timestamp::now().to_string() });
    tokens.insert(
        blake3::hash(token.as_bytes()).as_bytes(),
        record.to_string().as_bytes(),
    )?;
    Ok(())
}

/// The store opened for tokens, the fingerprint and mailboxes, with no server running.
pub struct OfflineStore {
    dir: std::path::PathBuf,
    engine: SledEngine,
    tokens: sled::Tree,
    mailboxes: sled::Tree,
    log: sled::Tree,
    activity: sled::Tree,
    retired: sled::Tree,
}

impl OfflineStore {
    /// The relay's TLS identity, made on first use.
    pub fn identity(&self) -> Result<duet_protocol::net::tls::TlsIdentity, RelayStoreError> {
        identity(&self.engine)
    }

    /// Every mailbox, as operators see them.
    pub fn mailbox_list(&self) -> Result<Vec<MailboxInfo>, RelayStoreError> {
        list_mailboxes(&self.mailboxes, &self.activity)
    }

    /// Copies the store to a new data directory (the relay is stopped, so it is consistent).
    pub fn backup(&self, to: &Path) -> Result<BackupReport, RelayStoreError> {
        copy_store(&self.engine, &self.dir, to)
    }

    /// Deletes a mailbox whole; returns whether it existed. Its devices push their whole
    /// notebook again on their next sync.
    pub fn delete_mailbox(&self, id: &str) -> Result<bool, RelayStoreError> {
        let existed = delete_mailbox(
            &self.mailboxes,
            &self.log,
            &[&self.activity, &self.retired],
            id,
        )?;
        self.engine.flush()?;
        Ok(existed)
    }

    /// Issues a team token; only its hash is kept.
    pub fn new_team_token(&self, label: &str) -> Result<String, RelayStoreError> {
        let token = fresh_team_token();
        put_team_token(&self.tokens, label, &token)?;
        self.engine.flush()?;
        Ok(token)
    }

    /// Revokes team tokens: the one given (`dt_…`), or every token with that label.
    /// Returns how many were revoked. Mailboxes already made keep working (each is opened
    /// by its own notebook's token); no new one can be made with a revoked team token.
    pub fn revoke_team_token(&self, token_or_label: &str) -> Result<usize, RelayStoreError> {
        let mut doomed = Vec::new();
        if token_or_label.starts_with("dt_") {
            let hash = blake3::hash(token_or_label.as_bytes());
            if self.tokens.get(hash.as_bytes())?.is_some() {
                doomed.push(hash.as_bytes().to_vec());
            }
        } else {
            for item in self.tokens.iter() {
                let (k, v) = item?;
                let label = serde_json::from_slice::<serde_json::Value>(&v)
                    .ok()
                    .and_then(|j| j["label"].as_str().map(str::to_owned));
                if label.as_deref() == Some(token_or_label) {
                    doomed.push(k.to_vec());
                }
            }
        }
        for key in &doomed {
            self.tokens.remove(key)?;
        }
        self.engine.flush()?;
        Ok(doomed.len())
    }

    /// The labels of the team tokens issued.
    pub fn team_tokens(&self) -> Result<Vec<String>, RelayStoreError> {
        let mut out = Vec::new();
        for item in self.tokens.iter() {
            let (_, v) = item?;
            let label = serde_json::from_slice::<serde_json::Value>(&v)
                .ok()
                .and_then(|j| j["label"].as_str().map(str::to_owned))
                .unwrap_or_default();
            out.push(label);
        }
        Ok(out)
    }
}

/// Copies every tree of `from` into a new store in the data directory `to`, flushed, with
/// the relay's fingerprint file beside it.
fn copy_store(from: &SledEngine, data: &Path, to: &Path) -> Result<BackupReport, RelayStoreError> {
    let started = std::time::Instant::now();
    let target = to.join(STORE_DIR);
    if target.exists() {
        return Err(RelayStoreError::Refused(format!(
            "{} already holds a relay store; back up into a new directory",
            to.display()
        )));
    }
    std::fs::create_dir_all(to).map_err(|source| StoreError::Io {
        action: "creating",
        path: to.to_owned(),
        source,
    })?;
    let copy = SledEngine::open(&target)?;
    let (src, dst) = (from.db(), copy.db());
    let (mut records, mut bytes) = (0u64, 0u64);
    for name in src.tree_names() {
        let (a, b) = (src.open_tree(&name)?, dst.open_tree(&name)?);
        for item in a.iter() {
            let (k, v) = item?;
            records += 1;
            bytes += (k.len() + v.len()) as u64;
            b.insert(k, v)?;
        }
    }
    copy.flush()?;
    let mailboxes = dst.open_tree("mailboxes")?.len() as u64;
    if let Ok(fingerprint) = std::fs::read(data.join("fingerprint")) {
        let _ = std::fs::write(to.join("fingerprint"), fingerprint);
    }
    Ok(BackupReport {
        to: to.to_owned(),
        mailboxes,
        records,
        bytes,
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

fn list_mailboxes(
    mailboxes: &sled::Tree,
    activity: &sled::Tree,
) -> Result<Vec<MailboxInfo>, RelayStoreError> {
    let mut out = Vec::new();
    for item in mailboxes.iter() {
        let (k, v) = item?;
        let record: MailboxRecord =
            postcard::from_bytes(&v).map_err(|e| RelayStoreError::Corrupt(e.to_string()))?;
        let id = String::from_utf8_lossy(&k).into_owned();
        let last_write_ms = activity
            .get(&k)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(i64::from_be_bytes);
        out.push(MailboxInfo {
            id,
            bytes: record.bytes,
            entries: record.head.saturating_sub(record.floor) + u64::from(record.floor > 0),
            last_write_ms,
        });
    }
    Ok(out)
}

/// Removes a mailbox's record, log and activity (not flushed); whether it existed.
/// Deletes a mailbox, its log, and its records in `by_id` (trees keyed by mailbox id).
fn delete_mailbox(
    mailboxes: &sled::Tree,
    log: &sled::Tree,
    by_id: &[&sled::Tree],
    id: &str,
) -> Result<bool, RelayStoreError> {
    let existed = mailboxes.remove(id.as_bytes())?.is_some();
    let mut prefix = id.as_bytes().to_vec();
    prefix.push(0);
    for key in log.scan_prefix(&prefix).keys() {
        log.remove(key?)?;
    }
    for tree in by_id {
        tree.remove(id.as_bytes())?;
    }
    Ok(existed)
}

fn identity(engine: &SledEngine) -> Result<duet_protocol::net::tls::TlsIdentity, RelayStoreError> {
    if let (Some(cert), Some(key)) = (
        engine.get(TreeName::Meta, META_TLS_CERT)?,
        engine.get(TreeName::Meta, META_TLS_KEY)?,
    ) {
        return Ok(duet_protocol::net::tls::TlsIdentity {
            cert_der: cert,
            key_der: key,
        });
    }
    let made = duet_protocol::net::tls::TlsIdentity::generate()
        .map_err(|e| RelayStoreError::Corrupt(format!("making the relay certificate: {e}")))?;
    engine.insert(TreeName::Meta, META_TLS_KEY, &made.key_der)?;
    engine.insert(TreeName::Meta, META_TLS_CERT, &made.cert_der)?;
    engine.flush()?;
    Ok(made)
}

/// The writer task: batches writes, flushes once per batch, then acknowledges. A backup
/// in the queue is taken after the writes before it are flushed, and before those after.
async fn writer(store: Arc<RelayStore>, mut queue: mpsc::Receiver<Write>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let mut pending = Vec::with_capacity(batch.len());
        for write in batch {
            match write {
                Write::Backup { to, reply } => {
                    apply_and_announce(&store, std::mem::take(&mut pending)).await;
                    let s = store.clone();
                    let copied = tokio::task::spawn_blocking(move || match s.sled() {
                        Some(p) => copy_store(&p.engine, &p.dir, &to),
                        None => crate::postgres::backup_refused(),
                    })
                    .await
                    .unwrap_or(Err(RelayStoreError::Closed));
                    let _ = reply.send(copied);
                }
                other => pending.push(other),
            }
        }
        apply_and_announce(&store, pending).await;
    }
}

/// Writers on PostgreSQL: each on its own connection takes the writes waiting at that
/// moment as one transaction, acknowledged after `COMMIT`. Several run at once, so a batch
/// is gathered while another commits (row locks, taken in id order, keep each mailbox's
/// sequence in order). A lost connection is opened again before the writer's next batch
/// (the batch that found it lost was refused, and its devices push again).
async fn pg_writer(
    store: Arc<RelayStore>,
    url: String,
    mut client: Option<tokio_postgres::Client>,
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Write>>>,
) {
    let mut prepared = match &client {
        Some(c) => crate::postgres::prepare(c).await.ok(),
        None => None,
    };
    // Rows another process changes since are caught by the write itself (see `committed`).
    let mut committed = crate::committed::CommittedRecords::default();
    loop {
        let batch = {
            let mut queue = queue.lock().await;
            let Some(first) = queue.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(w) => batch.push(w),
                    Err(_) => break,
                }
            }
            batch
        };
        let lost = client.as_ref().is_none_or(|c| c.is_closed());
        if lost || prepared.is_none() {
            match crate::postgres::reconnect(&url).await {
                Ok((c, p)) => {
                    client = Some(c);
                    prepared = Some(p);
                }
                Err(e) => {
                    tracing::error!(error = %e, "the database is unreachable; pushes are refused until it is back")
                }
            }
        }
        let (Some(c), Some(statements)) = (client.as_mut(), prepared.as_ref()) else {
            // Dropping the writes answers each as failed: devices push again later.
            drop(batch);
            continue;
        };
        let heads =
            crate::postgres::apply_batch(c, statements, &store.metrics, &mut committed, batch)
                .await;
        for (mailbox, head) in heads {
            store.arrivals.announce(&mailbox, head);
        }
    }
}

/// Applies writes off the async threads (sled and fsync block), then publishes the new
/// durable heads.
async fn apply_and_announce(store: &Arc<RelayStore>, batch: Vec<Write>) {
    if batch.is_empty() {
        return;
    }
    let store2 = store.clone();
    let done = tokio::task::spawn_blocking(move || apply_batch(&store2, batch)).await;
    if let Ok(heads) = done {
        if let Ok(mut durable) = store.durable.lock() {
            for (mailbox, head) in &heads {
                durable.insert(mailbox.clone(), *head);
            }
        }
        for (mailbox, head) in heads {
            store.arrivals.announce(&mailbox, head);
        }
    }
}

/// Applies a batch and flushes; replies to each write. Returns the new heads.
fn apply_batch(store: &RelayStore, batch: Vec<Write>) -> Vec<(String, u64)> {
    // Only the sled store's writer calls this.
    let Some(p) = store.sled() else {
        return Vec::new();
    };
    let mut records: HashMap<String, MailboxRecord> = HashMap::new();
    let mut replies: Vec<Reply> = Vec::new();
    let mut failed: Option<String> = None;
    for w in batch {
        match w {
            Write::Push {
                arrived,
                mailbox,
                verifier,
                create,
                envelope,
                quota,
                reply,
            } => {
                match p.retired.get(mailbox.as_bytes()) {
                    Ok(None) => {}
                    Ok(Some(_)) => {
                        let _ = reply.send(Ok(PushOutcome::Retired));
                        continue;
                    }
                    // Not known to be live: refused, and the device pushes again later.
                    Err(e) => {
                        let _ = reply.send(Err(RelayStoreError::Sled(e)));
                        continue;
                    }
                }
                let record = match records.get(&mailbox).copied() {
                    Some(r) => Some(r),
                    None => p.mailbox(&mailbox).ok().flatten(),
                };
                let mut record = match record {
                    Some(record) => record,
                    None if create => MailboxRecord {
                        verifier,
                        head: 0,
                        floor: 0,
                        bytes: 0,
                    },
                    None => {
                        let _ = reply.send(Ok(PushOutcome::Gone { envelope }));
                        continue;
                    }
                };
                let size = envelope.len();
                let seq = match accept_push(&mut record, &verifier, size, quota) {
                    Ok(seq) => seq,
                    Err(refused) => {
                        let _ = reply.send(Ok(refused));
                        continue;
                    }
                };
                if let Err(e) = p.log.insert(log_key(&mailbox, seq), envelope) {
                    failed = Some(e.to_string());
                }
                records.insert(mailbox, record);
                replies.push(push_reply(reply, seq, size, arrived, store.metrics.clone()));
            }
            Write::Compact {
                mailbox,
                upto,
                envelope,
                reply,
            } => {
                // Retired: read, never written again, even by a compaction let in before.
                match p.retired.get(mailbox.as_bytes()) {
                    Ok(None) => {}
                    Ok(Some(_)) => {
                        let _ = reply.send(Err(RelayStoreError::Retired));
                        continue;
                    }
                    Err(e) => {
                        let _ = reply.send(Err(RelayStoreError::Sled(e)));
                        continue;
                    }
                }
                let record = match records.get(&mailbox).copied() {
                    Some(r) => Some(r),
                    None => p.mailbox(&mailbox).ok().flatten(),
                };
                let Some(mut record) = record else {
                    let _ = reply.send(Err(RelayStoreError::Corrupt("no mailbox".into())));
                    continue;
                };
                let upto = upto.min(record.head).max(record.floor);
                let mut freed = 0u64;
                for (k, v) in p
                    .log
                    .range(log_key(&mailbox, record.floor)..=log_key(&mailbox, upto))
                    .flatten()
                {
                    freed += v.len() as u64;
                    let _ = p.log.remove(k);
                }
                if let Err(e) = p.log.insert(log_key(&mailbox, upto), envelope.as_slice()) {
                    failed = Some(e.to_string());
                }
                record.bytes = record.bytes.saturating_sub(freed) + envelope.len() as u64;
                record.floor = upto;
                records.insert(mailbox, record);
                replies.push(Box::new(move |r| {
                    let _ = reply.send(r.map(|()| upto).map_err(RelayStoreError::Corrupt));
                }));
            }
            Write::Backup { reply, .. } => {
                // The writer takes backups itself, between batches.
                let _ = reply.send(Err(RelayStoreError::Closed));
            }
            Write::Retire { mailbox, reply } => {
                let now = jiff::Timestamp::now().as_millisecond().to_be_bytes();
                match p.retired.insert(mailbox.as_bytes(), &now) {
                    Ok(_) => replies.push(Box::new(move |r| {
                        let _ = reply.send(r.map_err(RelayStoreError::Corrupt));
                    })),
                    Err(e) => {
                        failed = Some(e.to_string());
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Write::Delete { mailbox, reply } => {
                // Writes to it earlier in this batch go with it.
                records.remove(&mailbox);
                let deleted =
                    delete_mailbox(&p.mailboxes, &p.log, &[&p.activity, &p.retired], &mailbox);
                if let Ok(mut durable) = store.durable.lock() {
                    durable.remove(&mailbox);
                }
                if let Ok(mut seen) = store.activity_seen.lock() {
                    seen.remove(&mailbox);
                }
                match deleted {
                    Ok(existed) => replies.push(Box::new(move |r| {
                        let _ = reply.send(r.map(|()| existed).map_err(RelayStoreError::Corrupt));
                    })),
                    Err(e) => {
                        failed = Some(e.to_string());
                        let _ = reply.send(Err(e));
                    }
                }
            }
        }
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let mut seen = store
        .activity_seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (id, record) in &records {
        if let Err(e) = p.put_mailbox(id, record) {
            failed = Some(e.to_string());
        }
        if seen.get(id).is_none_or(|at| now - at >= ACTIVITY_EVERY_MS) {
            if let Err(e) = p.activity.insert(id.as_bytes(), &now.to_be_bytes()) {
                failed = Some(e.to_string());
            }
            seen.insert(id.clone(), now);
        }
    }
    drop(seen);
    if failed.is_none() {
        if let Err(e) = p.engine.flush() {
            failed = Some(e.to_string());
        }
    }
    for reply in replies {
        reply(match &failed {
            None => Ok(()),
            Some(e) => Err(e.clone()),
        });
    }
    if failed.is_some() {
        tracing::error!(error = ?failed, "a batch failed to write; its pushes were refused");
        return Vec::new();
    }
    records.into_iter().map(|(id, r)| (id, r.head)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[tokio::test]
    async fn a_stale_size_is_measured_by_one_push_while_the_others_use_the_last_measure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RelayStore::open(dir.path()).expect("store");
        store.bytes_on_disk().await.expect("first measure");
        let size = store
            .sled()
            .expect("on sled")
            .engine
            .size_on_disk()
            .expect("size");
        let stale = std::time::Instant::now() - 2 * DISK_MEASURE_EVERY;
        let set_last = |bytes: u64| {
            *store.disk.lock().expect("disk") = (bytes, Some(stale));
        };
        // Another push is measuring: this one answers with the last measure.
        set_last(u64::MAX);
        store.measuring.store(true, Ordering::Release);
        assert_eq!(store.bytes_on_disk().await.expect("last"), u64::MAX);
        // Nobody is: this one measures, and takes its mark off when done.
        store.measuring.store(false, Ordering::Release);
        assert_eq!(store.bytes_on_disk().await.expect("measured"), size);
        assert!(!store.measuring.load(Ordering::Acquire));
        // A measure a moment old is used as it is.
        *store.disk.lock().expect("disk") = (u64::MAX - 1, Some(std::time::Instant::now()));
        assert_eq!(store.bytes_on_disk().await.expect("fresh"), u64::MAX - 1);
    }

    #[tokio::test]
    async fn a_compaction_of_a_mailbox_retired_since_its_stream_opened_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RelayStore::open(dir.path()).expect("store");
        let (pushed, stored) = oneshot::channel();
        store
            .write(Write::Push {
                arrived: std::time::Instant::now(),
                mailbox: "ab".into(),
                verifier: [1; 32],
                create: true,
                envelope: vec![1; 8],
                quota: 1 << 20,
                reply: pushed,
            })
            .await
            .expect("queued");
        assert!(matches!(stored.await, Ok(Ok(PushOutcome::Stored(1)))));
        let compact = || {
            let (reply, done) = oneshot::channel();
            let write = Write::Compact {
                mailbox: "ab".into(),
                upto: 1,
                envelope: vec![2; 8],
                reply,
            };
            (write, done)
        };
        let (before, compacted) = compact();
        store.write(before).await.expect("queued");
        assert!(matches!(compacted.await, Ok(Ok(1))));
        let (retire, retired) = oneshot::channel();
        store
            .write(Write::Retire {
                mailbox: "ab".into(),
                reply: retire,
            })
            .await
            .expect("queued");
        // Queued behind the retirement, as a compaction let in just before it would be.
        let (after, refused) = compact();
        store.write(after).await.expect("queued");
        assert!(matches!(retired.await, Ok(Ok(()))));
        assert!(matches!(refused.await, Ok(Err(RelayStoreError::Retired))));
    }

    #[test]
    fn the_measuring_mark_comes_off_when_its_holder_goes() {
        let mark = std::sync::atomic::AtomicBool::new(true);
        drop(Measuring(&mark));
        assert!(!mark.load(Ordering::Acquire));
    }
}
