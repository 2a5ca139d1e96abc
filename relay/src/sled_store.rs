//! The relay's mailboxes on sled (the default, embedded backend): its TLS identity, team
//! tokens (hashed), and per mailbox a record (token verifier, head, floor, bytes) and an
//! append-only log of envelopes.
//!
//! Durability with group commit: pushes from every connection go to one writer task, which
//! appends a whole batch, flushes once (sled's flush plus the fsyncs Duet's store adds, see
//! `duet_protocol::engine::SledEngine`), and only then acknowledges each push. Readers are
//! capped at the durable head, so a device never sees an entry a crash could take back.
//!
//! Beside each mailbox the time of its last write (push or compaction) is kept, for
//! operators (`duet-relay mailbox list`) and for retention: a mailbox idle longer than the
//! configured days is deleted whole, through the same writer.

use crate::mailbox_store::{
    accept_push, fresh_team_token, push_reply, BackupReport, Entries, MailboxInfo, MailboxRecord,
    MailboxStore, Opening, PushOutcome, RelayStoreError, Reply, Shared, Standing, StoreFuture,
    Write, MAX_BATCH,
};
use duet_protocol::engine::{Engine, SledEngine, StoreError, TreeName};
use duet_protocol::net::tls::TlsIdentity;
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// The file holding a relay's store inside its data directory.
pub const STORE_DIR: &str = "relay-store";

const META_TLS_CERT: &[u8] = b"relay_tls_cert";
const META_TLS_KEY: &[u8] = b"relay_tls_key";

/// How stale a mailbox's recorded last write may be (retention counts in days).
const ACTIVITY_EVERY_MS: i64 = 60_000;

/// The sled store: its trees, and what its writer knows of them.
pub struct SledStore {
    /// The data directory.
    dir: PathBuf,
    engine: Arc<SledEngine>,
    mailboxes: sled::Tree,
    log: sled::Tree,
    tokens: sled::Tree,
    /// Mailbox id → its last write (Unix milliseconds, big-endian).
    activity: sled::Tree,
    /// Mailbox id → when it was retired or closed (Unix milliseconds, big-endian), then
    /// [`CLOSED`] when it was closed: see [`standing_of`].
    retired: sled::Tree,
    /// Mailbox id, 0, slot verifier → the push endpoint kept under that slot.
    wakes: sled::Tree,
    /// Heads that are durable, by mailbox: readers never go past them.
    durable: Mutex<HashMap<String, u64>>,
    /// When each mailbox's last write was last recorded: it is recorded again only
    /// [`ACTIVITY_EVERY_MS`] later, so a busy mailbox costs one more write a minute, not
    /// one per batch.
    activity_seen: Mutex<HashMap<String, i64>>,
}

fn log_key(mailbox: &str, seq: u64) -> Vec<u8> {
    let mut k = mailbox.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

impl SledStore {
    /// Opens the store in the data directory `dir`, making it if needed.
    pub fn open(dir: &Path) -> Result<SledStore, RelayStoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            action: "creating",
            path: dir.to_owned(),
            source,
        })?;
        let engine = Arc::new(SledEngine::open(&dir.join(STORE_DIR))?);
        let db = engine.db();
        Ok(SledStore {
            dir: dir.to_owned(),
            mailboxes: db.open_tree("mailboxes")?,
            log: db.open_tree("log")?,
            tokens: db.open_tree("tokens")?,
            activity: db.open_tree("activity")?,
            retired: db.open_tree("retired")?,
            wakes: db.open_tree("wakes")?,
            engine,
            durable: Mutex::new(HashMap::new()),
            activity_seen: Mutex::new(HashMap::new()),
        })
    }

    /// Whether a mailbox takes no more writes (retired, closed, or a retired one's id).
    fn read_only(&self, id: &str) -> Result<bool, RelayStoreError> {
        Ok(standing_of(&self.retired, id)?.read_only())
    }

    /// A mailbox's record as this batch has it, else as the store does.
    fn held(&self, batch: &HashMap<String, MailboxRecord>, id: &str) -> Option<MailboxRecord> {
        batch
            .get(id)
            .copied()
            .or_else(|| self.mailbox(id).ok().flatten())
    }

    /// The durable head of a mailbox.
    fn durable_head(&self, id: &str) -> Result<u64, RelayStoreError> {
        if let Some(h) = self.durable.lock().ok().and_then(|d| d.get(id).copied()) {
            return Ok(h);
        }
        // Not written since start: everything on disk is durable.
        Ok(self.mailbox(id)?.map_or(0, |m| m.head))
    }

    fn entries(
        &self,
        id: &str,
        after: u64,
        max_bytes: usize,
    ) -> Result<(Entries, bool), RelayStoreError> {
        let head = self.durable_head(id)?;
        let mut out = Vec::new();
        let mut size = 0;
        for item in self
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

    /// Mailboxes idle since `before`, tombstones left out; one whose last write was never
    /// recorded (made by an older relay) is stamped now instead, so an upgrade never
    /// deletes anything at once.
    fn idle(&self, before: i64) -> Result<Vec<String>, RelayStoreError> {
        let now = jiff::Timestamp::now().as_millisecond();
        let mut idle = Vec::new();
        for info in list_mailboxes(&self.mailboxes, &self.activity)? {
            if standing_of(&self.retired, &info.id)? == Standing::Retired {
                continue;
            }
            match info.last_write_ms {
                Some(at) if at < before => idle.push(info.id),
                Some(_) => {}
                None => {
                    self.activity
                        .insert(info.id.as_bytes(), &now.to_be_bytes())?;
                }
            }
        }
        Ok(idle)
    }
}

/// A read done at once, as the trait's future.
fn ready<'a, T: Send + 'a>(result: Result<T, RelayStoreError>) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(result))
}

impl MailboxStore for SledStore {
    fn name(&self) -> &'static str {
        "sled"
    }

    fn reachable(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(std::future::ready(true))
    }

    fn mailbox_count(&self) -> StoreFuture<'_, u64> {
        ready(Ok(self.mailboxes.len() as u64))
    }

    fn mailbox_list(&self) -> StoreFuture<'_, Vec<MailboxInfo>> {
        ready(list_mailboxes(&self.mailboxes, &self.activity))
    }

    fn idle_since(&self, before: i64) -> StoreFuture<'_, Vec<String>> {
        ready(self.idle(before))
    }

    fn identity(&self) -> StoreFuture<'_, TlsIdentity> {
        ready(identity(self.engine.as_ref()))
    }

    fn opening<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Opening> {
        ready((|| {
            Ok(Opening {
                record: self.mailbox(id)?,
                standing: standing_of(&self.retired, id)?,
            })
        })())
    }

    fn entries_after<'a>(
        &'a self,
        id: &'a str,
        after: u64,
        max_bytes: usize,
    ) -> StoreFuture<'a, (Entries, bool)> {
        ready(self.entries(id, after, max_bytes))
    }

    fn size(&self) -> StoreFuture<'_, u64> {
        ready(self.engine.size_on_disk().map_err(RelayStoreError::from))
    }

    fn team_token_valid<'a>(&'a self, token: &'a str) -> StoreFuture<'a, bool> {
        ready(
            self.tokens
                .get(blake3::hash(token.as_bytes()).as_bytes())
                .map(|t| t.is_some())
                .map_err(RelayStoreError::from),
        )
    }

    fn add_team_token<'a>(&'a self, label: &'a str, token: &'a str) -> StoreFuture<'a, ()> {
        ready((|| {
            put_team_token(&self.tokens, label, token)?;
            self.engine.flush()?;
            Ok(())
        })())
    }

    fn revoke_team_tokens<'a>(&'a self, token_or_label: &'a str) -> StoreFuture<'a, usize> {
        ready((|| {
            let n = revoke_team_tokens(&self.tokens, token_or_label)?;
            self.engine.flush()?;
            Ok(n)
        })())
    }

    fn team_token_labels(&self) -> StoreFuture<'_, Vec<String>> {
        ready(team_token_labels(&self.tokens))
    }

    fn set_wake<'a>(
        &'a self,
        mailbox: &'a str,
        slot: [u8; 32],
        endpoint: Option<&'a str>,
        max: usize,
    ) -> StoreFuture<'a, bool> {
        ready((|| {
            let mut prefix = mailbox.as_bytes().to_vec();
            prefix.push(0);
            let mut key = prefix.clone();
            key.extend_from_slice(&slot);
            let kept = match endpoint {
                None => {
                    self.wakes.remove(&key)?;
                    true
                }
                Some(url) => {
                    let others = self
                        .wakes
                        .scan_prefix(&prefix)
                        .keys()
                        .filter(|k| k.as_ref().map_or(true, |k| k.as_ref() != key.as_slice()))
                        .count();
                    if others >= max {
                        false
                    } else {
                        self.wakes.insert(key, url.as_bytes())?;
                        true
                    }
                }
            };
            self.engine.flush()?;
            Ok(kept)
        })())
    }

    fn wakes<'a>(&'a self, mailbox: &'a str) -> StoreFuture<'a, Vec<([u8; 32], String)>> {
        ready((|| {
            let mut prefix = mailbox.as_bytes().to_vec();
            prefix.push(0);
            let mut out = Vec::new();
            for item in self.wakes.scan_prefix(&prefix) {
                let (k, v) = item?;
                let slot: [u8; 32] = k[prefix.len()..]
                    .try_into()
                    .map_err(|_| RelayStoreError::Corrupt("a push endpoint's key".into()))?;
                let url = String::from_utf8(v.to_vec())
                    .map_err(|_| RelayStoreError::Corrupt("a push endpoint".into()))?;
                out.push((slot, url));
            }
            Ok(out)
        })())
    }

    fn flush(&self) -> Result<(), RelayStoreError> {
        Ok(self.engine.flush()?)
    }

    fn start_writers(self: Arc<Self>, shared: Shared, queue: mpsc::Receiver<Write>) {
        tokio::spawn(writer(self, shared, queue));
    }
}

impl SledStore {
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
    wakes: sled::Tree,
}

impl OfflineStore {
    /// Opens the store in the data directory `dir` for offline work.
    pub fn open(dir: &Path) -> Result<OfflineStore, RelayStoreError> {
        let engine = SledEngine::open(&dir.join(STORE_DIR))?;
        let db = engine.db();
        Ok(OfflineStore {
            dir: dir.to_owned(),
            tokens: db.open_tree("tokens")?,
            mailboxes: db.open_tree("mailboxes")?,
            log: db.open_tree("log")?,
            activity: db.open_tree("activity")?,
            retired: db.open_tree("retired")?,
            wakes: db.open_tree("wakes")?,
            engine,
        })
    }

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

    /// Where a mailbox stands (live, closed, or retired: a tombstone).
    pub fn standing(&self, id: &str) -> Result<Standing, RelayStoreError> {
        standing_of(&self.retired, id)
    }

    /// Deletes a mailbox whole; returns whether it existed. Its devices push their whole
    /// notebook again on their next sync; a retired mailbox's id stays a tombstone.
    pub fn delete_mailbox(&self, id: &str) -> Result<bool, RelayStoreError> {
        let existed = delete_mailbox(
            &self.mailboxes,
            &self.log,
            &self.activity,
            &self.retired,
            &self.wakes,
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
        let n = revoke_team_tokens(&self.tokens, token_or_label)?;
        self.engine.flush()?;
        Ok(n)
    }

    /// The labels of the team tokens issued.
    pub fn team_tokens(&self) -> Result<Vec<String>, RelayStoreError> {
        team_token_labels(&self.tokens)
    }
}

/// Removes the team token given (`dt_…`), or every one with that label (not flushed);
/// how many went.
fn revoke_team_tokens(tokens: &sled::Tree, token_or_label: &str) -> Result<usize, RelayStoreError> {
    let mut doomed = Vec::new();
    if token_or_label.starts_with("dt_") {
        let hash = blake3::hash(token_or_label.as_bytes());
        if tokens.get(hash.as_bytes())?.is_some() {
            doomed.push(hash.as_bytes().to_vec());
        }
    } else {
        for item in tokens.iter() {
            let (k, v) = item?;
            if token_label(&v).as_deref() == Some(token_or_label) {
                doomed.push(k.to_vec());
            }
        }
    }
    for key in &doomed {
        tokens.remove(key)?;
    }
    Ok(doomed.len())
}

/// The labels of the team tokens in `tokens`.
fn team_token_labels(tokens: &sled::Tree) -> Result<Vec<String>, RelayStoreError> {
    let mut out = Vec::new();
    for item in tokens.iter() {
        let (_, v) = item?;
        out.push(token_label(&v).unwrap_or_default());
    }
    Ok(out)
}

fn token_label(record: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(record)
        .ok()
        .and_then(|j| j["label"].as_str().map(str::to_owned))
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
            entries: record.entries(),
            last_write_ms,
        });
    }
    Ok(out)
}

/// Removes a mailbox's record, log, activity and push endpoints (not flushed); whether it
/// existed. A retired mailbox's mark stays in `retired`: its id is a tombstone, never made
/// again.
fn delete_mailbox(
    mailboxes: &sled::Tree,
    log: &sled::Tree,
    activity: &sled::Tree,
    retired: &sled::Tree,
    wakes: &sled::Tree,
    id: &str,
) -> Result<bool, RelayStoreError> {
    let existed = mailboxes.remove(id.as_bytes())?.is_some();
    let mut prefix = id.as_bytes().to_vec();
    prefix.push(0);
    for key in log.scan_prefix(&prefix).keys() {
        log.remove(key?)?;
    }
    for key in wakes.scan_prefix(&prefix).keys() {
        wakes.remove(key?)?;
    }
    activity.remove(id.as_bytes())?;
    if standing_of(retired, id)? != Standing::Retired {
        retired.remove(id.as_bytes())?;
    }
    Ok(existed)
}

/// The mark after a close's timestamp in `retired`.
const CLOSED: u8 = 1;

/// Where a mailbox stands, from its mark in `retired` (a bare timestamp, as every relay
/// before closing wrote it, is a retirement).
fn standing_of(retired: &sled::Tree, id: &str) -> Result<Standing, RelayStoreError> {
    Ok(match retired.get(id.as_bytes())? {
        None => Standing::Live,
        Some(mark) if mark.len() == 9 && mark[8] == CLOSED => Standing::Closed,
        Some(_) => Standing::Retired,
    })
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
async fn writer(store: Arc<SledStore>, shared: Shared, mut queue: mpsc::Receiver<Write>) {
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
                    apply_and_announce(&store, &shared, std::mem::take(&mut pending)).await;
                    let s = store.clone();
                    let copied =
                        tokio::task::spawn_blocking(move || copy_store(&s.engine, &s.dir, &to))
                            .await
                            .unwrap_or(Err(RelayStoreError::Closed));
                    let _ = reply.send(copied);
                }
                other => pending.push(other),
            }
        }
        apply_and_announce(&store, &shared, pending).await;
    }
}

/// Applies writes off the async threads (sled and fsync block), then publishes the new
/// durable heads.
async fn apply_and_announce(store: &Arc<SledStore>, shared: &Shared, batch: Vec<Write>) {
    if batch.is_empty() {
        return;
    }
    let store2 = store.clone();
    let metrics = shared.metrics.clone();
    let done = tokio::task::spawn_blocking(move || apply_batch(&store2, &metrics, batch)).await;
    if let Ok(heads) = done {
        if let Ok(mut durable) = store.durable.lock() {
            for (mailbox, head) in &heads {
                durable.insert(mailbox.clone(), *head);
            }
        }
        for (mailbox, head) in heads {
            shared.arrivals.announce(&mailbox, head);
        }
    }
}

/// Applies a batch and flushes; replies to each write. Returns the new heads.
fn apply_batch(
    p: &SledStore,
    metrics: &Arc<crate::metrics::RelayMetrics>,
    batch: Vec<Write>,
) -> Vec<(String, u64)> {
    let store = p;
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
                match p.read_only(&mailbox) {
                    Ok(false) => {}
                    Ok(true) => {
                        let _ = reply.send(Ok(PushOutcome::Retired));
                        continue;
                    }
                    // Not known to be live: refused, and the device pushes again later.
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        continue;
                    }
                }
                let mut record = match p.held(&records, &mailbox) {
                    Some(record) => record,
                    None if create => MailboxRecord::new(verifier),
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
                replies.push(push_reply(reply, seq, size, arrived, metrics.clone()));
            }
            Write::Compact {
                mailbox,
                upto,
                envelope,
                reply,
            } => {
                // Retired: read, never written again, even by a compaction let in before.
                match p.read_only(&mailbox) {
                    Ok(false) => {}
                    Ok(true) => {
                        let _ = reply.send(Err(RelayStoreError::Retired));
                        continue;
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        continue;
                    }
                }
                let Some(mut record) = p.held(&records, &mailbox) else {
                    let _ = reply.send(Err(RelayStoreError::Corrupt("no mailbox".into())));
                    continue;
                };
                let upto = record.compaction_point(upto);
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
            Write::Retire {
                mailbox,
                closing,
                reply,
            } => {
                let marked = standing_of(&p.retired, &mailbox).and_then(|was| {
                    let mut mark = jiff::Timestamp::now()
                        .as_millisecond()
                        .to_be_bytes()
                        .to_vec();
                    if was.after(closing) == Standing::Closed {
                        mark.push(CLOSED);
                    }
                    Ok(p.retired.insert(mailbox.as_bytes(), mark)?)
                });
                match marked {
                    Ok(_) => replies.push(Box::new(move |r| {
                        let _ = reply.send(r.map_err(RelayStoreError::Corrupt));
                    })),
                    Err(e) => {
                        failed = Some(e.to_string());
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Write::Take {
                mailbox,
                verifier,
                reply,
            } => {
                let taken = take_entries(p, &records, &mailbox, &verifier);
                let entries = match taken {
                    Ok(Some(entries)) => entries,
                    other => {
                        let _ = reply.send(other);
                        continue;
                    }
                };
                records.remove(&mailbox);
                let deleted = delete_mailbox(
                    &p.mailboxes,
                    &p.log,
                    &p.activity,
                    &p.retired,
                    &p.wakes,
                    &mailbox,
                );
                forget_heads(store, &mailbox);
                match deleted {
                    Ok(_) => replies.push(Box::new(move |r| {
                        let _ =
                            reply.send(r.map(|()| Some(entries)).map_err(RelayStoreError::Corrupt));
                    })),
                    Err(e) => {
                        failed = Some(e.to_string());
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Write::Delete { mailbox, reply } => {
                // Writes to it earlier in this batch go with it.
                records.remove(&mailbox);
                let deleted = delete_mailbox(
                    &p.mailboxes,
                    &p.log,
                    &p.activity,
                    &p.retired,
                    &p.wakes,
                    &mailbox,
                );
                forget_heads(store, &mailbox);
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

/// What a take of `mailbox` hands over: its entries (this batch's pushes included), or
/// `None` when it is not there for this token (another token's, retired, or gone).
fn take_entries(
    p: &SledStore,
    records: &HashMap<String, MailboxRecord>,
    mailbox: &str,
    verifier: &[u8; 32],
) -> Result<Option<Entries>, RelayStoreError> {
    if p.read_only(mailbox)? {
        return Ok(None);
    }
    if p.held(records, mailbox)
        .is_none_or(|r| r.verifier != *verifier)
    {
        return Ok(None);
    }
    let mut prefix = mailbox.as_bytes().to_vec();
    prefix.push(0);
    let mut entries = Vec::new();
    let mut size = 0;
    for item in p.log.scan_prefix(&prefix) {
        let (k, v) = item?;
        let seq = u64::from_be_bytes(
            k[k.len() - 8..]
                .try_into()
                .map_err(|_| RelayStoreError::Corrupt("log key".into()))?,
        );
        size += v.len();
        if size > duet_protocol::mailbox::MAX_TAKE_BYTES {
            return Err(RelayStoreError::Refused(
                duet_protocol::mailbox::TOO_LARGE_TO_TAKE.into(),
            ));
        }
        entries.push((seq, v.to_vec()));
    }
    Ok(Some(entries))
}

/// Forgets what the writer knew of a deleted mailbox's head and last write.
fn forget_heads(store: &SledStore, mailbox: &str) {
    if let Ok(mut durable) = store.durable.lock() {
        durable.remove(mailbox);
    }
    if let Ok(mut seen) = store.activity_seen.lock() {
        seen.remove(mailbox);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RelayStore;
    use tokio::sync::oneshot;

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
                closing: false,
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
}
