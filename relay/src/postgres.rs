//! The relay's store on PostgreSQL (`--store postgres://…`), for several relay processes
//! behind one address sharing one database.
//!
//! - Tables `duet_relay_meta` (the shared TLS identity, so every process shows devices the
//!   same fingerprint), `duet_relay_mailboxes`, `duet_relay_log` and `duet_relay_tokens`
//!   (hashes only), made on first start under an advisory lock.
//! - Group commit: each process's writer takes a batch of pushes, compactions and deletions
//!   into one transaction (the mailboxes' rows locked in id order, the log rows inserted in
//!   one statement) and acknowledges each push only after `COMMIT` returns.
//!   A batch of pushes to mailboxes the writer committed last (`committed`) takes one round
//!   trip: the rows are updated only where they still hold what the writer left, and pushes
//!   to rows another process changed since go through the locking transaction.
//! - Live delivery across processes: the transaction calls `pg_notify` for every mailbox
//!   it grew; PostgreSQL delivers them at commit to every relay process that `LISTEN`s, and
//!   each wakes its own subscribers. A process that loses its listening connection
//!   reconnects with backoff (subscribers then catch up on their next page).
//! - Lost connections (a database restart, a failover) are opened again: the writer's before
//!   its next batch, a reading connection when it is next used. The request that met the
//!   loss is refused, and the device tries again. A host that does not answer, or takes
//!   the connection and never says hello, is given up on after `CONNECT_TIMEOUT` unless the
//!   address sets its own; for a moment after a reading connection failed to open again,
//!   requests that need it are refused at once rather than each trying in turn.
//! - The writer and the listener run on a thread of their own (`database_thread`), off the
//!   runtime that serves devices; the reading connections are driven by that one.
//!
//! Readers see only committed rows, so a device never reads an entry a crash could take
//! back. Connections go over TLS as the address's `sslmode` asks, with the password from
//! the environment or a password file (`pg_link`): the relay's TLS private key lives in
//! the database, so over a network use `sslmode=verify-full`.

use crate::committed::CommittedRecords;
use crate::mailbox_store::{
    accept_push, push_reply, BackupReport, Entries, MailboxInfo, MailboxRecord, MailboxStore,
    Opening, PushOutcome, RelayStoreError, Reply, Shared, Standing, StoreFuture, Write, MAX_BATCH,
};
use duet_protocol::net::tls::TlsIdentity;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client};

/// The channel devices' arrivals are announced on.
pub const CHANNEL: &str = "duet_relay_arrivals";
/// Transactions a relay process has in flight at once. One: measured on a 2-core machine
/// running two relay processes and the database, three writers gave 4.5-5.0k durable
/// pushes/s against 6.3-7.9k/s for one (more processes than cores).
const PG_WRITERS: usize = 1;
/// Connections for reads (tokio-postgres pipelines queries on each).
const READERS: usize = 4;
/// How long a readiness check waits for the database to answer.
pub const REACHABLE_WITHIN: Duration = Duration::from_secs(2);
/// Entries read per page query before the byte cap applies.
const PAGE_ROWS: i64 = 512;
/// How long opening a connection waits for the database's host when the store's address
/// sets no `connect_timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// After a failed attempt to open a lost reading connection again, the requests waiting for
/// it, and those arriving within this long, are refused at once (the device tries again
/// later) rather than each trying in turn, up to the connect timeout apiece.
const REOPEN_PAUSE: Duration = Duration::from_secs(1);
/// Longest wait between attempts to listen again after the connection was lost.
const MAX_LISTEN_BACKOFF: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
SELECT pg_advisory_xact_lock(7879);
CREATE TABLE IF NOT EXISTS duet_relay_meta (
    key text PRIMARY KEY,
    value bytea NOT NULL);
CREATE TABLE IF NOT EXISTS duet_relay_mailboxes (
    id text PRIMARY KEY,
    verifier bytea NOT NULL,
    head bigint NOT NULL,
    floor bigint NOT NULL,
    bytes bigint NOT NULL,
    last_write timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS duet_relay_log (
    mailbox text NOT NULL,
    seq bigint NOT NULL,
    envelope bytea NOT NULL,
    PRIMARY KEY (mailbox, seq));
CREATE TABLE IF NOT EXISTS duet_relay_retired (
    id text PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now());
ALTER TABLE duet_relay_retired ADD COLUMN IF NOT EXISTS closed boolean NOT NULL DEFAULT false;
CREATE TABLE IF NOT EXISTS duet_relay_tokens (
    hash bytea PRIMARY KEY,
    label text NOT NULL,
    created timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS duet_relay_wakes (
    mailbox text NOT NULL,
    slot bytea NOT NULL,
    endpoint text NOT NULL,
    PRIMARY KEY (mailbox, slot));
";

/// A store on PostgreSQL: reading connections; the writer and the listener own theirs.
pub struct PgStore {
    url: String,
    /// The runtime of the writer's and the listener's connections ([`database_thread`]).
    runtime: tokio::runtime::Handle,
    readers: Vec<ReaderSlot>,
    next: AtomicUsize,
    /// The first writer's connection, opened with the store, until the writers start.
    writer: std::sync::Mutex<Option<Client>>,
}

/// One reading connection, and the gate its reopening goes through: after a database
/// restart every request finds the connection lost at once, and only one of them opens
/// it again (the others wait and use that one) rather than each opening its own.
struct ReaderSlot {
    current: std::sync::Mutex<Arc<Reader>>,
    /// Held while the connection is opened again; holds when the last attempt failed.
    reopening: tokio::sync::Mutex<Option<std::time::Instant>>,
}

/// Whether a request should try to open a lost connection again, given when the last
/// attempt failed.
fn worth_reopening(failed: Option<std::time::Instant>) -> bool {
    failed.is_none_or(|at| at.elapsed() >= REOPEN_PAUSE)
}

/// A reading connection with the statements every request runs prepared.
struct Reader {
    client: Client,
    opening: tokio_postgres::Statement,
    page: tokio_postgres::Statement,
}

impl Reader {
    /// Opens a reading connection and prepares its statements.
    async fn open(url: &str) -> Result<Reader, RelayStoreError> {
        let client = connect(url).await?;
        // One row always: the mailbox's columns (NULL when it does not exist) and whether
        // it was retired, in one round trip for every stream a device opens.
        let opening = client
            .prepare(
                "SELECT m.verifier, m.head, m.floor, m.bytes, \
                 (SELECT closed FROM duet_relay_retired WHERE id = $1) \
                 FROM (SELECT 1) AS one LEFT JOIN duet_relay_mailboxes AS m ON m.id = $1",
            )
            .await
            .map_err(db)?;
        let page = client
            .prepare(
                "SELECT seq, envelope FROM duet_relay_log WHERE mailbox = $1 AND seq > $2 \
                 ORDER BY seq LIMIT $3",
            )
            .await
            .map_err(db)?;
        Ok(Reader {
            client,
            opening,
            page,
        })
    }
}

/// A database error in words an operator can act on: tokio-postgres says only "db error"
/// for what the server refused, and keeps the server's reason (a pg_hba rule, a wrong
/// password, a TLS failure) in the error's source.
fn db(e: tokio_postgres::Error) -> RelayStoreError {
    let mut words = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        words.push_str(": ");
        words.push_str(&cause.to_string());
        source = cause.source();
    }
    RelayStoreError::Database(words)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Starts the thread the writer and the listener run on, with a runtime of its own. Their
/// replies from the database are then read as soon as they arrive: on the QUIC runtime, a
/// worker busy with a thousand devices' streams polls for I/O only between tasks, and each
/// batch's two round trips waited for it (7 interleaved rounds on the 2-core machine, 1,000
/// active devices: p99 of pushes after a device's first 17.8-47.6 ms, median 24.5, against
/// 25.0-42.3 ms, median 35.3).
fn database_thread() -> Result<tokio::runtime::Handle, RelayStoreError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RelayStoreError::Database(format!("starting the database's runtime: {e}")))?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("duet-relay-db".into())
        // The writer and the listener run until the process ends.
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .map_err(|e| RelayStoreError::Database(format!("starting the database's thread: {e}")))?;
    Ok(handle)
}

/// The connection settings of a store URL. Without a `connect_timeout` of its own, a
/// connection to a host that does not answer at all (a failed-over address, a dropped
/// route) gives up after [`CONNECT_TIMEOUT`] rather than the system's TCP timeout of minutes,
/// so the writer, the listener and the reading connections try again in time.
#[cfg(test)]
fn settings(url: &str) -> Result<tokio_postgres::Config, RelayStoreError> {
    Ok(crate::pg_link::parse(url, CONNECT_TIMEOUT)?.config)
}

/// Opens a connection and waits for the database's hello within the address's connect
/// timeout: tokio-postgres bounds only the socket's opening, and a host that takes the
/// connection but never answers (a frozen server, a half-open proxy) would hold the
/// caller, and every request waiting behind it, for good.
async fn open_connection(
    url: &str,
) -> Result<
    (
        Client,
        tokio_postgres::Connection<tokio_postgres::Socket, crate::pg_link::TlsStream>,
    ),
    RelayStoreError,
> {
    let address = crate::pg_link::parse(url, CONNECT_TIMEOUT)?;
    let within = address
        .config
        .get_connect_timeout()
        .copied()
        .unwrap_or(CONNECT_TIMEOUT);
    match tokio::time::timeout(within, address.config.connect(address.tls)).await {
        Ok(opened) => opened.map_err(db),
        Err(_) => Err(RelayStoreError::Database(format!(
            "the database did not answer within {} s",
            within.as_secs_f32()
        ))),
    }
}

/// Opens a connection (for queries only), driven by a task on the runtime it is opened on.
async fn connect(url: &str) -> Result<Client, RelayStoreError> {
    let (client, connection) = open_connection(url).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!(error = %e, "a database connection ended");
        }
    });
    Ok(client)
}

impl PgStore {
    /// Connects and makes the tables if needed.
    pub async fn open(url: &str) -> Result<PgStore, RelayStoreError> {
        let runtime = database_thread()?;
        // Opened on its runtime, whose I/O driver then watches the connection's socket.
        let writer_url = url.to_owned();
        let mut writer = runtime
            .spawn(async move { connect(&writer_url).await })
            .await
            .map_err(|e| RelayStoreError::Database(e.to_string()))??;
        let tx = writer.transaction().await.map_err(db)?;
        tx.batch_execute(SCHEMA).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(ReaderSlot {
                current: std::sync::Mutex::new(Arc::new(Reader::open(url).await?)),
                reopening: tokio::sync::Mutex::new(None),
            });
        }
        Ok(PgStore {
            url: url.to_owned(),
            runtime,
            readers,
            next: AtomicUsize::new(0),
            writer: std::sync::Mutex::new(Some(writer)),
        })
    }

    /// The next reading connection, opened again first if it was lost (a database restart
    /// or a failover ends every connection; the writer and the listener reopen theirs too).
    async fn next_reader(&self) -> Result<Arc<Reader>, RelayStoreError> {
        let at = self.next.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let slot = &self.readers[at];
        let current = || {
            slot.current
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        };
        let reader = current();
        if !reader.client.is_closed() {
            return Ok(reader);
        }
        let mut failed = slot.reopening.lock().await;
        // Another request may have opened it again while this one waited.
        let reader = current();
        if !reader.client.is_closed() {
            return Ok(reader);
        }
        if !worth_reopening(*failed) {
            return Err(RelayStoreError::Database(
                "the database did not answer a moment ago".into(),
            ));
        }
        let reopened = match Reader::open(&self.url).await {
            Ok(reader) => Arc::new(reader),
            Err(e) => {
                *failed = Some(std::time::Instant::now());
                return Err(e);
            }
        };
        *failed = None;
        tracing::info!("a lost reading connection to the database was opened again");
        *slot.current.lock().unwrap_or_else(PoisonError::into_inner) = reopened.clone();
        Ok(reopened)
    }

    /// Whether the database answers a query within [`REACHABLE_WITHIN`] (through a reading
    /// connection, opened again if it was lost).
    async fn reachable(&self) -> bool {
        let check = async {
            let reader = self.next_reader().await?;
            reader.client.simple_query("SELECT 1").await.map_err(db)
        };
        matches!(
            tokio::time::timeout(REACHABLE_WITHIN, check).await,
            Ok(Ok(_))
        )
    }

    /// The relay's identity, made once for every process of the database.
    async fn identity(&self) -> Result<TlsIdentity, RelayStoreError> {
        let made = TlsIdentity::generate()
            .map_err(|e| RelayStoreError::Corrupt(format!("making the relay certificate: {e}")))?;
        let reader = self.next_reader().await?;
        let client = &reader.client;
        client
            .execute(
                "INSERT INTO duet_relay_meta (key, value) VALUES ('tls_cert', $1), ('tls_key', $2) ON CONFLICT (key) DO NOTHING",
                &[&made.cert_der, &made.key_der],
            )
            .await
            .map_err(db)?;
        let rows = client
            .query(
                "SELECT key, value FROM duet_relay_meta WHERE key IN ('tls_cert', 'tls_key')",
                &[],
            )
            .await
            .map_err(db)?;
        let get = |key: &str| {
            rows.iter()
                .find(|r| r.get::<_, &str>(0) == key)
                .map(|r| r.get::<_, Vec<u8>>(1))
                .ok_or_else(|| RelayStoreError::Corrupt(format!("no {key} in the database")))
        };
        Ok(TlsIdentity {
            cert_der: get("tls_cert")?,
            key_der: get("tls_key")?,
        })
    }

    /// What a stream's `Open` needs to know of a mailbox: its record and whether it was
    /// retired.
    async fn opening(&self, id: &str) -> Result<Opening, RelayStoreError> {
        let reader = self.next_reader().await?;
        let row = reader
            .client
            .query_one(&reader.opening, &[&id])
            .await
            .map_err(db)?;
        let record = match row.get::<_, Option<Vec<u8>>>(0) {
            Some(verifier) => Some(record(verifier, row.get(1), row.get(2), row.get(3))?),
            None => None,
        };
        Ok(Opening {
            record,
            standing: match row.get::<_, Option<bool>>(4) {
                None => Standing::Live,
                Some(true) => Standing::Closed,
                Some(false) => Standing::Retired,
            },
        })
    }

    /// Committed entries after `after`, at most `max_bytes` of them (at least one).
    async fn entries_after(
        &self,
        id: &str,
        after: u64,
        max_bytes: usize,
    ) -> Result<(Entries, bool), RelayStoreError> {
        let reader = self.next_reader().await?;
        let rows = reader
            .client
            .query(&reader.page, &[&id, &to_i64(after), &PAGE_ROWS])
            .await
            .map_err(db)?;
        let full = rows.len() as i64 == PAGE_ROWS;
        let mut out = Vec::new();
        let mut size = 0;
        for row in rows {
            let envelope: Vec<u8> = row.get(1);
            if !out.is_empty() && size + envelope.len() > max_bytes {
                return Ok((out, true));
            }
            size += envelope.len();
            out.push((to_u64(row.get(0)), envelope));
        }
        Ok((out, full))
    }

    /// Whether `token` is a team token.
    async fn team_token_valid(&self, token: &str) -> Result<bool, RelayStoreError> {
        let hash = blake3::hash(token.as_bytes()).as_bytes().to_vec();
        Ok(self
            .next_reader()
            .await?
            .client
            .query_opt("SELECT 1 FROM duet_relay_tokens WHERE hash = $1", &[&hash])
            .await
            .map_err(db)?
            .is_some())
    }

    /// Issues a team token; only its hash is kept.
    async fn new_team_token(&self, label: &str, token: &str) -> Result<(), RelayStoreError> {
        let hash = blake3::hash(token.as_bytes()).as_bytes().to_vec();
        self.next_reader()
            .await?
            .client
            .execute(
                "INSERT INTO duet_relay_tokens (hash, label) VALUES ($1, $2)",
                &[&hash, &label],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Keeps (or removes) a push endpoint; `false` when the mailbox holds `max` others.
    async fn set_wake(
        &self,
        mailbox: &str,
        slot: [u8; 32],
        endpoint: Option<&str>,
        max: usize,
    ) -> Result<bool, RelayStoreError> {
        let reader = self.next_reader().await?;
        let slot = slot.to_vec();
        let Some(url) = endpoint else {
            reader
                .client
                .execute(
                    "DELETE FROM duet_relay_wakes WHERE mailbox = $1 AND slot = $2",
                    &[&mailbox, &slot],
                )
                .await
                .map_err(db)?;
            return Ok(true);
        };
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let kept = reader
            .client
            .execute(
                "INSERT INTO duet_relay_wakes (mailbox, slot, endpoint) \
                 SELECT $1, $2, $3 WHERE (SELECT count(*) FROM duet_relay_wakes \
                 WHERE mailbox = $1 AND slot <> $2) < $4 \
                 ON CONFLICT (mailbox, slot) DO UPDATE SET endpoint = EXCLUDED.endpoint",
                &[&mailbox, &slot, &url, &max],
            )
            .await
            .map_err(db)?;
        Ok(kept > 0)
    }

    /// A mailbox's push endpoints.
    async fn wakes(&self, mailbox: &str) -> Result<Vec<([u8; 32], String)>, RelayStoreError> {
        let rows = self
            .next_reader()
            .await?
            .client
            .query(
                "SELECT slot, endpoint FROM duet_relay_wakes WHERE mailbox = $1",
                &[&mailbox],
            )
            .await
            .map_err(db)?;
        rows.into_iter()
            .map(|r| {
                let slot: Vec<u8> = r.get(0);
                let slot = <[u8; 32]>::try_from(slot.as_slice())
                    .map_err(|_| RelayStoreError::Corrupt("a push endpoint's slot".into()))?;
                Ok((slot, r.get(1)))
            })
            .collect()
    }

    /// Mailboxes held, and the bytes of their envelopes.
    async fn totals(&self) -> Result<(u64, u64), RelayStoreError> {
        let row = self
            .next_reader()
            .await?
            .client
            .query_one(
                "SELECT count(*), coalesce(sum(bytes), 0)::bigint FROM duet_relay_mailboxes",
                &[],
            )
            .await
            .map_err(db)?;
        Ok((to_u64(row.get(0)), to_u64(row.get(1))))
    }

    /// Every mailbox, as operators see them.
    async fn mailbox_list(&self) -> Result<Vec<MailboxInfo>, RelayStoreError> {
        let rows = self
            .next_reader()
            .await?
            .client
            .query(
                "SELECT id, bytes, head, floor, (extract(epoch FROM last_write) * 1000)::bigint FROM duet_relay_mailboxes ORDER BY id",
                &[],
            )
            .await
            .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let (head, floor) = (to_u64(r.get(2)), to_u64(r.get(3)));
                MailboxInfo {
                    id: r.get(0),
                    bytes: to_u64(r.get(1)),
                    entries: head.saturating_sub(floor) + u64::from(floor > 0),
                    last_write_ms: Some(r.get(4)),
                }
            })
            .collect())
    }

    /// Mailboxes with no write since `before` (Unix milliseconds), tombstones left out.
    async fn idle_since(&self, before: i64) -> Result<Vec<String>, RelayStoreError> {
        let rows = self
            .next_reader()
            .await?
            .client
            .query(
                "SELECT id FROM duet_relay_mailboxes WHERE last_write < to_timestamp($1::bigint / 1000.0) \
                 AND id NOT IN (SELECT id FROM duet_relay_retired WHERE NOT closed)",
                &[&before],
            )
            .await
            .map_err(db)?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    /// Runs `task` on the database's own thread (the writer).
    fn spawn_on_database_thread(
        &self,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        self.runtime.spawn(task);
    }

    /// Listens for other processes' arrivals and passes them to `arrivals`, reconnecting
    /// with backoff when the connection is lost. Runs on the database's own thread.
    fn listen(&self, arrivals: Arc<crate::arrivals::Arrivals>) {
        let url = self.url.clone();
        self.runtime.spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                match listen_once(&url, &arrivals).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::error!(error = %e, retry_in_ms = backoff.as_millis() as u64, "lost the database's arrivals; listening again");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_LISTEN_BACKOFF);
                    }
                }
            }
        });
    }
}

/// One listening connection, until it fails.
async fn listen_once(
    url: &str,
    arrivals: &crate::arrivals::Arrivals,
) -> Result<(), RelayStoreError> {
    let (client, mut connection) = open_connection(url).await?;
    // The LISTEN's reply comes through the connection polled below.
    let statement = format!("LISTEN {CHANNEL}");
    let listen = client.batch_execute(&statement);
    tokio::pin!(listen);
    let mut listening = false;
    loop {
        tokio::select! {
            done = &mut listen, if !listening => {
                done.map_err(db)?;
                listening = true;
            }
            message = std::future::poll_fn(|cx| connection.poll_message(cx)) => match message {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if let Some((mailbox, head)) = n.payload().rsplit_once(':') {
                        if let Ok(head) = head.parse() {
                            arrivals.announce(mailbox, head);
                        }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(db(e)),
                None => {
                    return Err(RelayStoreError::Database(
                        "the listening connection closed".into(),
                    ))
                }
            }
        }
    }
}

fn record(
    verifier: Vec<u8>,
    head: i64,
    floor: i64,
    bytes: i64,
) -> Result<MailboxRecord, RelayStoreError> {
    Ok(MailboxRecord {
        verifier: verifier
            .try_into()
            .map_err(|_| RelayStoreError::Corrupt("a verifier is not 32 bytes".into()))?,
        head: to_u64(head),
        floor: to_u64(floor),
        bytes: to_u64(bytes),
    })
}

/// The writer's statements, prepared once per connection (each unprepared query would cost
/// a round trip more).
pub struct Prepared {
    new_mailboxes: tokio_postgres::Statement,
    lock: tokio_postgres::Statement,
    write: tokio_postgres::Statement,
    write_unchanged: tokio_postgres::Statement,
}

/// Prepares the writer's statements on its connection.
pub async fn prepare(client: &Client) -> Result<Prepared, RelayStoreError> {
    Ok(Prepared {
        new_mailboxes: client
            .prepare(
                "INSERT INTO duet_relay_mailboxes (id, verifier, head, floor, bytes) \
                 SELECT id, v, 0, 0, 0 FROM UNNEST($1::text[], $2::bytea[]) AS t(id, v) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .await
            .map_err(db)?,
        lock: client
            .prepare(
                "SELECT m.id, m.verifier, m.head, m.floor, m.bytes, \
                 EXISTS (SELECT 1 FROM duet_relay_retired AS r WHERE r.id = m.id) \
                 FROM duet_relay_mailboxes AS m WHERE m.id = ANY($1) ORDER BY m.id FOR UPDATE OF m",
            )
            .await
            .map_err(db)?,
        // The log rows, the records and the notifications in one round trip.
        write: client
            .prepare(&format!(
                "WITH logged AS (INSERT INTO duet_relay_log (mailbox, seq, envelope) \
                   SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bytea[])), \
                 updated AS (UPDATE duet_relay_mailboxes AS m SET head = v.head, \
                   floor = v.floor, bytes = v.bytes, last_write = now() \
                   FROM UNNEST($4::text[], $5::bigint[], $6::bigint[], $7::bigint[]) \
                   AS v(id, head, floor, bytes) WHERE m.id = v.id) \
                 SELECT pg_notify('{CHANNEL}', p) FROM UNNEST($8::text[]) AS p"
            ))
            .await
            .map_err(db)?,
        // Pushes numbered against the writer's committed records: a row is updated, and
        // its log rows inserted and its arrival announced, only where it still holds the
        // record they were numbered against. Returns the mailboxes written.
        write_unchanged: client
            .prepare(&format!(
                "WITH v AS (SELECT * FROM UNNEST($4::text[], $5::bytea[], $6::bigint[], \
                   $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[]) \
                   AS v(id, verifier, was_head, was_floor, was_bytes, head, bytes)), \
                 updated AS (UPDATE duet_relay_mailboxes AS m SET head = v.head, \
                   bytes = v.bytes, last_write = now() FROM v \
                   WHERE m.id = v.id AND m.verifier = v.verifier AND m.head = v.was_head \
                   AND m.floor = v.was_floor AND m.bytes = v.was_bytes \
                   AND NOT EXISTS (SELECT 1 FROM duet_relay_retired AS r WHERE r.id = m.id) \
                   RETURNING m.id, m.head), \
                 logged AS (INSERT INTO duet_relay_log (mailbox, seq, envelope) \
                   SELECT l.mailbox, l.seq, l.envelope \
                   FROM UNNEST($1::text[], $2::bigint[], $3::bytea[]) AS l(mailbox, seq, envelope) \
                   WHERE l.mailbox IN (SELECT id FROM updated)) \
                 SELECT u.id, u.head, pg_notify('{CHANNEL}', u.id || ':' || u.head)::text \
                 FROM updated AS u"
            ))
            .await
            .map_err(db)?,
    })
}

/// Opens the writer's connection again after it was lost, with its statements.
pub async fn reconnect(url: &str) -> Result<(Client, Prepared), RelayStoreError> {
    let client = connect(url).await?;
    let prepared = prepare(&client).await?;
    Ok((client, prepared))
}

/// Applies a batch and commits; replies to each write after `COMMIT`. Returns the
/// mailboxes grown, with their new heads.
///
/// A batch of pushes to mailboxes whose records `committed` holds takes one round trip
/// (`write_unchanged`); the pushes to rows another process changed since, and every other
/// batch, take the locking transaction, which then refreshes `committed`.
pub async fn apply_batch(
    client: &mut Client,
    prepared: &Prepared,
    metrics: &Arc<crate::metrics::RelayMetrics>,
    committed: &mut CommittedRecords,
    batch: Vec<Write>,
) -> Vec<(String, u64)> {
    let mut grown = Vec::new();
    let batch = match number_against(committed, &batch) {
        Some(numbered) => match write_unchanged(client, prepared, &batch, &numbered).await {
            Ok(written) => {
                let rest = answer_written(batch, &numbered, &written, metrics);
                for (id, head) in written {
                    if let Some((_, now)) = numbered.records.get(&id) {
                        committed.remember(&id, *now);
                    }
                    grown.push((id, head));
                }
                for w in &rest {
                    if let Write::Push { mailbox, .. } = w {
                        committed.forget(mailbox);
                    }
                }
                rest
            }
            Err(e) => {
                tracing::error!(error = %e, "a batch failed to commit; its pushes were refused");
                for w in batch {
                    if let Write::Push { reply, .. } = w {
                        let _ = reply.send(Err(RelayStoreError::NotDurable(e.to_string())));
                    }
                }
                return grown;
            }
        },
        None => batch,
    };
    if batch.is_empty() {
        return grown;
    }
    let mut replies: Vec<Reply> = Vec::new();
    let result = transaction(client, prepared, metrics, committed, batch, &mut replies).await;
    let outcome = result.as_ref().map(|_| ()).map_err(|e| e.to_string());
    if let Err(e) = &outcome {
        tracing::error!(error = %e, "a batch failed to commit; its pushes were refused");
    }
    for reply in replies {
        reply(outcome.clone());
    }
    grown.extend(result.unwrap_or_default());
    grown
}

/// A batch of pushes numbered against the writer's committed records.
struct Numbered {
    /// Each push's sequence number, in the batch's order.
    seqs: Vec<u64>,
    /// By mailbox, the record the pushes were numbered against and the record once they
    /// are in. In id order: the write locks the rows in that order, as the locking
    /// transaction does, so two processes' batches never wait on each other in a cycle.
    records: BTreeMap<String, (MailboxRecord, MailboxRecord)>,
}

/// Numbers a batch against `committed`, if every write is a push to a remembered mailbox
/// that takes it (any other write, or a refusal, is for the locking transaction to settle).
fn number_against(committed: &CommittedRecords, batch: &[Write]) -> Option<Numbered> {
    let mut records: BTreeMap<String, (MailboxRecord, MailboxRecord)> = BTreeMap::new();
    let mut seqs = Vec::with_capacity(batch.len());
    for w in batch {
        let Write::Push {
            mailbox,
            verifier,
            envelope,
            quota,
            ..
        } = w
        else {
            return None;
        };
        let (_, now) = match records.entry(mailbox.clone()) {
            std::collections::btree_map::Entry::Occupied(known) => known.into_mut(),
            std::collections::btree_map::Entry::Vacant(new) => {
                let record = *committed.get(mailbox)?;
                new.insert((record, record))
            }
        };
        seqs.push(accept_push(now, verifier, envelope.len(), *quota).ok()?);
    }
    Some(Numbered { seqs, records })
}

/// Writes numbered pushes in one round trip (`BEGIN`, the write and `COMMIT` sent
/// together). Returns the mailboxes whose rows still held the records the pushes were
/// numbered against, with their new heads: those pushes are stored, the others are not.
async fn write_unchanged(
    client: &Client,
    prepared: &Prepared,
    batch: &[Write],
    numbered: &Numbered,
) -> Result<HashMap<String, u64>, RelayStoreError> {
    let (mut log_ids, mut seqs, mut envelopes) = (Vec::new(), Vec::new(), Vec::new());
    for (w, seq) in batch.iter().zip(&numbered.seqs) {
        if let Write::Push {
            mailbox, envelope, ..
        } = w
        {
            log_ids.push(mailbox.as_str());
            seqs.push(to_i64(*seq));
            envelopes.push(envelope.as_slice());
        }
    }
    let (mut ids, mut verifiers) = (Vec::new(), Vec::new());
    let (mut was_heads, mut was_floors, mut was_bytes) = (Vec::new(), Vec::new(), Vec::new());
    let (mut heads, mut bytes) = (Vec::new(), Vec::new());
    for (id, (was, now)) in &numbered.records {
        ids.push(id.as_str());
        verifiers.push(was.verifier.as_slice());
        was_heads.push(to_i64(was.head));
        was_floors.push(to_i64(was.floor));
        was_bytes.push(to_i64(was.bytes));
        heads.push(to_i64(now.head));
        bytes.push(to_i64(now.bytes));
    }
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 10] = [
        &log_ids,
        &seqs,
        &envelopes,
        &ids,
        &verifiers,
        &was_heads,
        &was_floors,
        &was_bytes,
        &heads,
        &bytes,
    ];
    let (begun, written, committed) = tokio::join!(
        client.batch_execute("BEGIN"),
        client.query(&prepared.write_unchanged, &params),
        client.batch_execute("COMMIT")
    );
    let result = begun
        .and(written)
        .and_then(|rows| committed.map(|()| rows))
        .map_err(db);
    if result.is_err() {
        end_failed(client).await;
    }
    Ok(result?
        .into_iter()
        .map(|r| (r.get(0), to_u64(r.get(1))))
        .collect())
}

/// After a failed batch: whatever state the failure left, the next batch starts outside a
/// transaction.
async fn end_failed(client: &Client) {
    if client.is_closed() {
        return;
    }
    if let Err(e) = client.batch_execute("ROLLBACK").await {
        tracing::warn!(error = %e, "rolling back a failed batch");
    }
}

/// Answers the pushes of the mailboxes written, and returns the rest for the locking
/// transaction.
fn answer_written(
    batch: Vec<Write>,
    numbered: &Numbered,
    written: &HashMap<String, u64>,
    metrics: &Arc<crate::metrics::RelayMetrics>,
) -> Vec<Write> {
    let mut rest = Vec::new();
    for (w, seq) in batch.into_iter().zip(&numbered.seqs) {
        match w {
            Write::Push {
                arrived,
                mailbox,
                envelope,
                reply,
                ..
            } if written.contains_key(&mailbox) => {
                push_reply(reply, *seq, envelope.len(), arrived, metrics.clone())(Ok(()));
            }
            other => rest.push(other),
        }
    }
    rest
}

/// One batch's transaction in two round trips when no mailbox is new: `BEGIN` with the lock
/// of the batch's mailboxes, then the write with `COMMIT` (tokio-postgres sends requests
/// polled together without waiting for each reply; a failed statement aborts the
/// transaction, and the `COMMIT` behind it then only ends it). Each round trip is a wake-up
/// of the database and of this process: on a small machine those, not the statements, are
/// most of a push's latency.
async fn transaction(
    client: &mut Client,
    prepared: &Prepared,
    metrics: &Arc<crate::metrics::RelayMetrics>,
    committed: &mut CommittedRecords,
    batch: Vec<Write>,
    replies: &mut Vec<Reply>,
) -> Result<Vec<(String, u64)>, RelayStoreError> {
    let client: &Client = client;
    let result = in_transaction(client, prepared, metrics, committed, batch, replies).await;
    if result.is_err() {
        end_failed(client).await;
    }
    result
}

async fn in_transaction(
    tx: &Client,
    prepared: &Prepared,
    metrics: &Arc<crate::metrics::RelayMetrics>,
    committed: &mut CommittedRecords,
    batch: Vec<Write>,
    replies: &mut Vec<Reply>,
) -> Result<Vec<(String, u64)>, RelayStoreError> {
    let ids: BTreeSet<String> = batch
        .iter()
        .filter_map(|w| match w {
            Write::Push { mailbox, .. }
            | Write::Compact { mailbox, .. }
            | Write::Retire { mailbox, .. }
            | Write::Delete { mailbox, .. }
            | Write::Take { mailbox, .. } => Some(mailbox.clone()),
            Write::Backup { .. } => None,
        })
        .collect();
    let id_list: Vec<String> = ids.into_iter().collect();
    let mut records: HashMap<String, MailboxRecord> = HashMap::new();
    // Mailboxes of the batch that were retired: pushes to them are refused.
    let mut retired: BTreeSet<String> = BTreeSet::new();
    let mut lock = |rows: Vec<tokio_postgres::Row>,
                    records: &mut HashMap<String, MailboxRecord>| {
        for r in rows {
            let id: String = r.get(0);
            if r.get::<_, bool>(5) {
                retired.insert(id.clone());
            }
            records.insert(id, record(r.get(1), r.get(2), r.get(3), r.get(4))?);
        }
        Ok::<(), RelayStoreError>(())
    };
    let lock_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id_list];
    let (begun, locked) = tokio::join!(
        tx.batch_execute("BEGIN"),
        tx.query(&prepared.lock, &lock_params)
    );
    begun.map_err(db)?;
    lock(locked.map_err(db)?, &mut records)?;
    // Pushes to mailboxes the database lacks make them first (another process may make
    // the same one at the same moment: the verifier check below settles who made it).
    // In id order, as every lock is taken; the first push to a mailbox gives its verifier.
    let mut new: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for w in &batch {
        if let Write::Push {
            mailbox,
            verifier,
            create: true,
            ..
        } = w
        {
            if !records.contains_key(mailbox) {
                new.entry(mailbox.as_str())
                    .or_insert_with(|| verifier.to_vec());
            }
        }
    }
    let (new_ids, new_verifiers): (Vec<&str>, Vec<Vec<u8>>) = new.into_iter().unzip();
    if !new_ids.is_empty() {
        // Sent together: the lock runs after the insert on the server, in one round trip.
        let make: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&new_ids, &new_verifiers];
        let lock_new: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&new_ids];
        let (made, locked) = tokio::join!(
            tx.execute(&prepared.new_mailboxes, &make),
            tx.query(&prepared.lock, &lock_new)
        );
        made.map_err(db)?;
        lock(locked.map_err(db)?, &mut records)?;
    }
    let mut inserts: Vec<(String, u64, Vec<u8>)> = Vec::new();
    let mut changed: BTreeSet<String> = BTreeSet::new();
    let mut deleted: BTreeSet<String> = BTreeSet::new();
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
                if retired.contains(&mailbox) {
                    let _ = reply.send(Ok(PushOutcome::Retired));
                    continue;
                }
                let Some(record) = records.get_mut(&mailbox) else {
                    let _ = reply.send(if create {
                        Err(RelayStoreError::Corrupt("no mailbox".into()))
                    } else {
                        Ok(PushOutcome::Gone { envelope })
                    });
                    continue;
                };
                let size = envelope.len();
                let seq = match accept_push(record, &verifier, size, quota) {
                    Ok(seq) => seq,
                    Err(refused) => {
                        let _ = reply.send(Ok(refused));
                        continue;
                    }
                };
                inserts.push((mailbox.clone(), seq, envelope));
                changed.insert(mailbox);
                replies.push(push_reply(reply, seq, size, arrived, metrics.clone()));
            }
            Write::Compact {
                mailbox,
                upto,
                envelope,
                reply,
            } => {
                // Retired: read, never written again, even by a compaction let in before.
                if retired.contains(&mailbox) {
                    let _ = reply.send(Err(RelayStoreError::Retired));
                    continue;
                }
                let Some(record) = records.get_mut(&mailbox) else {
                    let _ = reply.send(Err(RelayStoreError::Corrupt("no mailbox".into())));
                    continue;
                };
                let upto = record.compaction_point(upto);
                // Entries of this batch in the range go too.
                let mut freed = 0u64;
                inserts.retain(|(m, seq, e)| {
                    let gone = *m == mailbox && *seq >= record.floor && *seq <= upto;
                    if gone {
                        freed += e.len() as u64;
                    }
                    !gone
                });
                let row = tx
                    .query_one(
                        "WITH gone AS (DELETE FROM duet_relay_log WHERE mailbox = $1 AND seq >= $2 AND seq <= $3 RETURNING length(envelope) AS n) SELECT coalesce(sum(n), 0)::bigint FROM gone",
                        &[&mailbox, &to_i64(record.floor), &to_i64(upto)],
                    )
                    .await
                    .map_err(db)?;
                freed += to_u64(row.get(0));
                record.bytes = record.bytes.saturating_sub(freed) + envelope.len() as u64;
                record.floor = upto;
                inserts.push((mailbox.clone(), upto, envelope));
                changed.insert(mailbox);
                replies.push(Box::new(move |r| {
                    let _ = reply.send(r.map(|()| upto).map_err(RelayStoreError::Database));
                }));
            }
            Write::Delete { mailbox, reply } => {
                inserts.retain(|(m, _, _)| *m != mailbox);
                changed.remove(&mailbox);
                let existed = records.remove(&mailbox).is_some();
                // Still refused: a retired mailbox's id stays a tombstone, and a closed one
                // takes no more writes in this batch.
                deleted.insert(mailbox.clone());
                tx.execute("DELETE FROM duet_relay_log WHERE mailbox = $1", &[&mailbox])
                    .await
                    .map_err(db)?;
                tx.execute(
                    "DELETE FROM duet_relay_wakes WHERE mailbox = $1",
                    &[&mailbox],
                )
                .await
                .map_err(db)?;
                tx.execute(
                    "DELETE FROM duet_relay_mailboxes WHERE id = $1",
                    &[&mailbox],
                )
                .await
                .map_err(db)?;
                tx.execute(
                    "DELETE FROM duet_relay_retired WHERE id = $1 AND closed",
                    &[&mailbox],
                )
                .await
                .map_err(db)?;
                replies.push(Box::new(move |r| {
                    let _ = reply.send(r.map(|()| existed).map_err(RelayStoreError::Database));
                }));
            }
            Write::Take {
                mailbox,
                verifier,
                reply,
            } => {
                let open = !retired.contains(&mailbox)
                    && records
                        .get(&mailbox)
                        .is_some_and(|r| r.verifier == verifier);
                if !open {
                    let _ = reply.send(Ok(None));
                    continue;
                }
                let rows = tx
                    .query(
                        "SELECT seq, envelope FROM duet_relay_log WHERE mailbox = $1 ORDER BY seq",
                        &[&mailbox],
                    )
                    .await
                    .map_err(db)?;
                let mut entries: Vec<(u64, Vec<u8>)> = rows
                    .into_iter()
                    .map(|r| (to_u64(r.get(0)), r.get(1)))
                    .collect();
                // This batch's pushes to it are not in the table yet.
                entries.extend(
                    inserts
                        .iter()
                        .filter(|(m, _, _)| *m == mailbox)
                        .map(|(_, seq, e)| (*seq, e.clone())),
                );
                let size: usize = entries.iter().map(|(_, e)| e.len()).sum();
                if size > duet_protocol::mailbox::MAX_TAKE_BYTES {
                    let _ = reply.send(Err(RelayStoreError::Refused(
                        duet_protocol::mailbox::TOO_LARGE_TO_TAKE.into(),
                    )));
                    continue;
                }
                inserts.retain(|(m, _, _)| *m != mailbox);
                changed.remove(&mailbox);
                records.remove(&mailbox);
                deleted.insert(mailbox.clone());
                tx.execute("DELETE FROM duet_relay_log WHERE mailbox = $1", &[&mailbox])
                    .await
                    .map_err(db)?;
                tx.execute(
                    "DELETE FROM duet_relay_mailboxes WHERE id = $1",
                    &[&mailbox],
                )
                .await
                .map_err(db)?;
                replies.push(Box::new(move |r| {
                    let _ =
                        reply.send(r.map(|()| Some(entries)).map_err(RelayStoreError::Database));
                }));
            }
            Write::Retire {
                mailbox,
                closing,
                reply,
            } => {
                // A retired mailbox stays retired (`Standing::after`).
                tx.execute(
                    "INSERT INTO duet_relay_retired (id, closed) VALUES ($1, $2) \
                     ON CONFLICT (id) DO UPDATE SET closed = duet_relay_retired.closed AND EXCLUDED.closed",
                    &[&mailbox, &closing],
                )
                .await
                .map_err(db)?;
                retired.insert(mailbox);
                replies.push(Box::new(move |r| {
                    let _ = reply.send(r.map_err(RelayStoreError::Database));
                }));
            }
            Write::Backup { reply, .. } => {
                let _ = reply.send(backup_refused());
            }
        }
    }
    let (mut log_ids, mut seqs, mut envelopes) = (Vec::new(), Vec::new(), Vec::new());
    for (m, seq, e) in inserts {
        log_ids.push(m);
        seqs.push(to_i64(seq));
        envelopes.push(e);
    }
    let grown: Vec<(String, u64)> = changed
        .iter()
        .filter_map(|m| records.get(m).map(|r| (m.clone(), r.head)))
        .collect();
    let mut ids = Vec::new();
    let (mut heads, mut floors, mut bytes) = (Vec::new(), Vec::new(), Vec::new());
    for (id, r) in &records {
        ids.push(id.clone());
        heads.push(to_i64(r.head));
        floors.push(to_i64(r.floor));
        bytes.push(to_i64(r.bytes));
    }
    let payloads: Vec<String> = grown.iter().map(|(m, h)| format!("{m}:{h}")).collect();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
        &log_ids, &seqs, &envelopes, &ids, &heads, &floors, &bytes, &payloads,
    ];
    let write = async {
        if log_ids.is_empty() && ids.is_empty() {
            return Ok(0);
        }
        tx.execute(&prepared.write, &params).await
    };
    let (written, done) = tokio::join!(write, tx.batch_execute("COMMIT"));
    written.map_err(db)?;
    done.map_err(db)?;
    for (id, record) in &records {
        if retired.contains(id) {
            committed.forget(id);
        } else {
            committed.remember(id, *record);
        }
    }
    for id in &deleted {
        committed.forget(id);
    }
    Ok(grown)
}

impl MailboxStore for PgStore {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn reachable(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>> {
        Box::pin(PgStore::reachable(self))
    }

    fn mailbox_count(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move { Ok(self.totals().await?.0) })
    }

    fn mailbox_list(&self) -> StoreFuture<'_, Vec<MailboxInfo>> {
        Box::pin(PgStore::mailbox_list(self))
    }

    fn idle_since(&self, before: i64) -> StoreFuture<'_, Vec<String>> {
        Box::pin(PgStore::idle_since(self, before))
    }

    fn identity(&self) -> StoreFuture<'_, TlsIdentity> {
        Box::pin(PgStore::identity(self))
    }

    fn opening<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Opening> {
        Box::pin(PgStore::opening(self, id))
    }

    fn entries_after<'a>(
        &'a self,
        id: &'a str,
        after: u64,
        max_bytes: usize,
    ) -> StoreFuture<'a, (Entries, bool)> {
        Box::pin(PgStore::entries_after(self, id, after, max_bytes))
    }

    fn size(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move { Ok(self.totals().await?.1) })
    }

    fn team_token_valid<'a>(&'a self, token: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(PgStore::team_token_valid(self, token))
    }

    fn add_team_token<'a>(&'a self, label: &'a str, token: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(self.new_team_token(label, token))
    }

    fn set_wake<'a>(
        &'a self,
        mailbox: &'a str,
        slot: [u8; 32],
        endpoint: Option<&'a str>,
        max: usize,
    ) -> StoreFuture<'a, bool> {
        Box::pin(PgStore::set_wake(self, mailbox, slot, endpoint, max))
    }

    fn wakes<'a>(&'a self, mailbox: &'a str) -> StoreFuture<'a, Vec<([u8; 32], String)>> {
        Box::pin(PgStore::wakes(self, mailbox))
    }

    fn revoke_team_tokens<'a>(&'a self, token_or_label: &'a str) -> StoreFuture<'a, usize> {
        Box::pin(async move {
            let reader = self.next_reader().await?;
            let n = if token_or_label.starts_with("dt_") {
                let hash = blake3::hash(token_or_label.as_bytes()).as_bytes().to_vec();
                reader
                    .client
                    .execute("DELETE FROM duet_relay_tokens WHERE hash = $1", &[&hash])
                    .await
            } else {
                reader
                    .client
                    .execute(
                        "DELETE FROM duet_relay_tokens WHERE label = $1",
                        &[&token_or_label],
                    )
                    .await
            }
            .map_err(db)?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn team_token_labels(&self) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move {
            let rows = self
                .next_reader()
                .await?
                .client
                .query("SELECT label FROM duet_relay_tokens ORDER BY created", &[])
                .await
                .map_err(db)?;
            Ok(rows.into_iter().map(|r| r.get(0)).collect())
        })
    }

    fn flush(&self) -> Result<(), RelayStoreError> {
        // Every commit already is durable.
        Ok(())
    }

    fn start_writers(self: Arc<Self>, shared: Shared, queue: mpsc::Receiver<Write>) {
        self.listen(shared.arrivals.clone());
        let queue = Arc::new(tokio::sync::Mutex::new(queue));
        let mut opened = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        for _ in 0..PG_WRITERS {
            let writer = pg_writer(
                shared.clone(),
                self.url.clone(),
                opened.take(),
                queue.clone(),
            );
            self.spawn_on_database_thread(writer);
        }
    }
}

/// Writers on PostgreSQL: each on its own connection takes the writes waiting at that
/// moment as one transaction, acknowledged after `COMMIT`. Several run at once, so a batch
/// is gathered while another commits (row locks, taken in id order, keep each mailbox's
/// sequence in order). A lost connection is opened again before the writer's next batch
/// (the batch that found it lost was refused, and its devices push again).
async fn pg_writer(
    shared: Shared,
    url: String,
    mut client: Option<Client>,
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Write>>>,
) {
    let mut prepared = match &client {
        Some(c) => prepare(c).await.ok(),
        None => None,
    };
    // Rows another process changes since are caught by the write itself (see `committed`).
    let mut committed = CommittedRecords::default();
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
            match reconnect(&url).await {
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
        let heads = apply_batch(c, statements, &shared.metrics, &mut committed, batch).await;
        for (mailbox, head) in heads {
            shared.arrivals.announce(&mailbox, head);
        }
    }
}

/// A backup of a relay on PostgreSQL is the database's own.
fn backup_refused() -> Result<BackupReport, RelayStoreError> {
    Err(RelayStoreError::Refused(
        "a relay on PostgreSQL is backed up with the database's own tools (pg_dump, or its replication)".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_address_without_a_connect_timeout_gets_one_and_one_with_it_keeps_its_own() {
        let plain = settings("host=/run/postgresql user=duet dbname=duet").expect("parses");
        assert_eq!(plain.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        let own = settings("postgres://duet@db.internal/duet?connect_timeout=12").expect("parses");
        assert_eq!(own.get_connect_timeout(), Some(&Duration::from_secs(12)));
        assert!(matches!(
            settings("host=/x port=notaport"),
            Err(RelayStoreError::Database(_))
        ));
    }

    #[test]
    fn after_a_failed_reopening_the_next_requests_are_refused_at_once_for_a_moment() {
        assert!(worth_reopening(None));
        assert!(!worth_reopening(Some(std::time::Instant::now())));
        let long_ago = std::time::Instant::now().checked_sub(2 * REOPEN_PAUSE);
        assert!(long_ago.is_some_and(|at| worth_reopening(Some(at))));
    }

    #[tokio::test]
    async fn a_database_host_that_takes_the_connection_but_never_answers_is_given_up_on() {
        // Takes connections (the kernel completes them) and never says a word.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
        let port = silent.local_addr().expect("addr").port();
        let url = format!("host=127.0.0.1 port={port} user=duet connect_timeout=1");
        let opened = tokio::time::timeout(Duration::from_secs(60), open_connection(&url)).await;
        match opened {
            Ok(Err(RelayStoreError::Database(why))) => {
                assert!(why.contains("did not answer"), "{why}")
            }
            Ok(other) => panic!("expected a refusal, got {:?}", other.map(|_| ())),
            Err(_) => panic!("still waiting for the database's hello after 60 s"),
        }
        drop(silent);
    }

    fn push(mailbox: &str, verifier: u8, size: usize) -> Write {
        let (reply, _) = tokio::sync::oneshot::channel();
        Write::Push {
            arrived: std::time::Instant::now(),
            mailbox: mailbox.into(),
            verifier: [verifier; 32],
            create: false,
            envelope: vec![0; size],
            quota: 100,
            reply,
        }
    }

    #[test]
    fn a_batch_is_numbered_against_committed_records_only_when_each_push_would_be_taken() {
        let mut committed = CommittedRecords::default();
        let record = MailboxRecord {
            verifier: [1; 32],
            head: 4,
            floor: 2,
            bytes: 50,
        };
        committed.remember("a", record);
        committed.remember("b", MailboxRecord { head: 0, ..record });
        let numbered = number_against(
            &committed,
            &[push("a", 1, 10), push("b", 1, 10), push("a", 1, 20)],
        )
        .expect("every push goes to a remembered mailbox");
        assert_eq!(numbered.seqs, vec![5, 1, 6]);
        assert_eq!(
            numbered.records["a"],
            (
                record,
                MailboxRecord {
                    head: 6,
                    bytes: 80,
                    ..record
                }
            )
        );
        assert_eq!(numbered.records["b"].1.head, 1);
        // A mailbox not remembered, a wrong verifier, a full quota or any other write goes
        // to the locking transaction.
        assert!(number_against(&committed, &[push("a", 1, 10), push("c", 1, 10)]).is_none());
        assert!(number_against(&committed, &[push("a", 2, 10)]).is_none());
        assert!(number_against(&committed, &[push("a", 1, 30), push("a", 1, 30)]).is_none());
        let (reply, _) = tokio::sync::oneshot::channel();
        let retire = Write::Retire {
            mailbox: "a".into(),
            closing: false,
            reply,
        };
        assert!(number_against(&committed, &[push("a", 1, 10), retire]).is_none());
    }
}
