//! The relay's store as the server sees it: one [`MailboxStore`] backend (sled, embedded,
//! the default; or PostgreSQL, for several relay processes on one database) behind the
//! queue its writers take, with what every backend shares kept here once: the counters,
//! the subscribers woken by arrivals, the mailboxes this process knows, and the measure of
//! the store's size that pushes check against the disk cap.

use crate::arrivals::Arrivals;
use crate::known::KnownMailboxes;
use crate::mailbox_store::{fresh_team_token, MailboxStore, Shared, MAX_BATCH};
use crate::metrics::RelayMetrics;
use crate::sled_store::{OfflineStore, SledStore};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

pub use crate::mailbox_store::{
    BackupReport, Entries, MailboxInfo, MailboxRecord, Opening, PushOutcome, RelayStoreError, Write,
};
pub use crate::sled_store::STORE_DIR;

/// The relay's store, shared by every connection.
pub struct RelayStore {
    backend: Arc<dyn MailboxStore>,
    /// What the relay counts.
    metrics: Arc<RelayMetrics>,
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

impl RelayStore {
    /// Opens the sled store in `dir` and starts its writer task (needs a tokio runtime).
    pub fn open(dir: &Path) -> Result<Arc<RelayStore>, RelayStoreError> {
        Ok(RelayStore::over(Arc::new(SledStore::open(dir)?)))
    }

    /// Opens the store on PostgreSQL (`postgres://…` or a key=value connection string),
    /// making its tables if needed, and starts its writers and its listener.
    pub async fn open_postgres(url: &str) -> Result<Arc<RelayStore>, RelayStoreError> {
        Ok(RelayStore::over(Arc::new(
            crate::postgres::PgStore::open(url).await?,
        )))
    }

    /// The store over `backend`, its writers started on the queue of writes.
    pub fn over(backend: Arc<dyn MailboxStore>) -> Arc<RelayStore> {
        let (writes, queue) = mpsc::channel(MAX_BATCH * 4);
        let store = Arc::new(RelayStore {
            backend: backend.clone(),
            metrics: Arc::new(RelayMetrics::new()),
            writes,
            arrivals: Arc::new(Arrivals::default()),
            known: KnownMailboxes::default(),
            disk: Mutex::new((0, None)),
            measuring: std::sync::atomic::AtomicBool::new(false),
        });
        let shared = Shared {
            metrics: store.metrics.clone(),
            arrivals: store.arrivals.clone(),
        };
        backend.start_writers(shared, queue);
        store
    }

    /// Opens the store for offline work (tokens, fingerprint, mailboxes) while no relay
    /// runs on it: no writer task.
    pub fn open_offline(dir: &Path) -> Result<OfflineStore, RelayStoreError> {
        OfflineStore::open(dir)
    }

    /// Which backend holds the data, for operators.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
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
        self.backend.reachable().await
    }

    /// How many mailboxes the relay holds.
    pub async fn mailbox_count(&self) -> Result<u64, RelayStoreError> {
        self.backend.mailbox_count().await
    }

    /// Every mailbox, as operators see them.
    pub async fn mailbox_list(&self) -> Result<Vec<MailboxInfo>, RelayStoreError> {
        self.backend.mailbox_list().await
    }

    /// Mailboxes with no write since `before` (Unix milliseconds). On sled, a mailbox whose
    /// last write was never recorded (made by an older relay) is stamped now instead, so
    /// an upgrade never deletes anything at once.
    pub async fn idle_since(&self, before: i64) -> Result<Vec<String>, RelayStoreError> {
        self.backend.idle_since(before).await
    }

    /// The relay's TLS identity, made on first start (on PostgreSQL, once for every process).
    pub async fn identity(&self) -> Result<duet_protocol::net::tls::TlsIdentity, RelayStoreError> {
        self.backend.identity().await
    }

    /// What a stream's `Open` needs to know of a mailbox (on PostgreSQL, one query).
    pub async fn opening(&self, id: &str) -> Result<Opening, RelayStoreError> {
        self.backend.opening(id).await
    }

    /// Entries after `after`, up to the durable head, at most `max_bytes` of them (at least
    /// one). Returns them and whether more remain.
    pub async fn entries_after(
        &self,
        id: &str,
        after: u64,
        max_bytes: usize,
    ) -> Result<(Entries, bool), RelayStoreError> {
        self.backend.entries_after(id, after, max_bytes).await
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
        let bytes = self.backend.size().await?;
        let mut disk = self
            .disk
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *disk = (bytes, Some(std::time::Instant::now()));
        Ok(bytes)
    }

    /// Whether `token` is a team token.
    pub async fn team_token_valid(&self, token: &str) -> Result<bool, RelayStoreError> {
        self.backend.team_token_valid(token).await
    }

    /// Issues a team token (on PostgreSQL, for every process; on sled, see
    /// [`OfflineStore::new_team_token`]).
    pub async fn new_team_token(&self, label: &str) -> Result<String, RelayStoreError> {
        let token = fresh_team_token();
        self.backend.add_team_token(label, &token).await?;
        Ok(token)
    }

    /// Revokes the team token given (`dt_…`), or every one with that label; how many.
    /// Mailboxes already made keep working; no new one is made with a revoked token.
    pub async fn revoke_team_tokens(&self, token_or_label: &str) -> Result<usize, RelayStoreError> {
        self.backend.revoke_team_tokens(token_or_label).await
    }

    /// The labels of the team tokens issued.
    pub async fn team_token_labels(&self) -> Result<Vec<String>, RelayStoreError> {
        self.backend.team_token_labels().await
    }

    /// Keeps (or removes) a push endpoint under a slot verifier; `false` when the mailbox
    /// already holds `max` others.
    pub async fn set_wake(
        &self,
        mailbox: &str,
        verifier: [u8; 32],
        endpoint: Option<&str>,
        max: usize,
    ) -> Result<bool, RelayStoreError> {
        self.backend
            .set_wake(mailbox, verifier, endpoint, max)
            .await
    }

    /// A mailbox's push endpoints, by slot verifier.
    pub async fn wakes(&self, mailbox: &str) -> Result<Vec<([u8; 32], String)>, RelayStoreError> {
        self.backend.wakes(mailbox).await
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
        self.backend.flush()
    }
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
        let size = store.backend.size().await.expect("size");
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

    #[test]
    fn the_measuring_mark_comes_off_when_its_holder_goes() {
        let mark = std::sync::atomic::AtomicBool::new(true);
        drop(Measuring(&mark));
        assert!(!mark.load(Ordering::Acquire));
    }
}
