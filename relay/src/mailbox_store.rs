//! The seam between the relay's server and where its mailboxes live: the
//! [`MailboxStore`] trait, which sled ([`crate::sled_store`]) and PostgreSQL
//! ([`crate::postgres`]) implement, and what both share: the records, the writes their
//! writers take in batches. The rules every backend applies the same way (a push's
//! sequence number and quota, a compaction's bounds) are `duet_protocol::mailbox`'s.

use crate::arrivals::Arrivals;
use crate::metrics::RelayMetrics;
use duet_protocol::engine::StoreError;
use duet_protocol::mailbox::PushRefusal;
pub use duet_protocol::mailbox::{MailboxRecord, Standing};
use duet_protocol::net::tls::TlsIdentity;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Log entries: (sequence number, envelope).
pub type Entries = Vec<(u64, Vec<u8>)>;
/// Answers a write once its batch is durable (or failed).
pub(crate) type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Takes a push into its mailbox's record (`MailboxRecord::accept_push`, the rule every
/// backend applies): its sequence number, or the refusal to answer with.
pub(crate) fn accept_push(
    record: &mut MailboxRecord,
    verifier: &[u8; 32],
    len: usize,
    quota: u64,
) -> Result<u64, PushOutcome> {
    // WrongToken: checked by the server before queueing; a race with another creator.
    record
        .accept_push(verifier, len, quota)
        .map_err(|refused| match refused {
            PushRefusal::WrongToken => PushOutcome::WrongToken,
            PushRefusal::OverQuota => PushOutcome::OverQuota,
        })
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

/// What the relay knows of a mailbox when a device opens a stream on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opening {
    /// Its record, if it exists.
    pub record: Option<MailboxRecord>,
    /// Whether it is live, closed (its 1-1 ended) or retired (a tombstone).
    pub standing: Standing,
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
    /// Retire a mailbox: read, never written again (see `RelayRequest::Retire`), or close
    /// it when `closing` (`RelayRequest::Close`); a retired one stays retired.
    Retire {
        /// Mailbox id.
        mailbox: String,
        /// A close (its 1-1 ended), not a retirement.
        closing: bool,
        /// Done.
        reply: oneshot::Sender<Result<(), RelayStoreError>>,
    },
    /// Take a mailbox whole: its entries, and the mailbox deleted in the same batch, so
    /// that of two takers one gets them.
    Take {
        /// Mailbox id.
        mailbox: String,
        /// The taker's token verifier (it must open the mailbox).
        verifier: [u8; 32],
        /// Done: the entries, or `None` when the mailbox is not there (taken already,
        /// retired, or another token's).
        reply: oneshot::Sender<Result<Option<Entries>, RelayStoreError>>,
    },
    /// Delete a mailbox whole (a member's delete of a closed one, retention, or an
    /// operator): a retired mailbox's id stays a tombstone.
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

/// A new team token: `dt_` and 32 base32 characters (160 random bits).
pub(crate) fn fresh_team_token() -> String {
    let mut raw = [0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut raw);
    format!(
        "dt_{}",
        data_encoding::BASE32_NOPAD
            .encode(&raw)
            .to_ascii_lowercase()
    )
}

/// Pushes folded into one batch at most (one flush on sled, one transaction on PostgreSQL).
pub(crate) const MAX_BATCH: usize = 4096;

/// A backend's answer, later.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, RelayStoreError>> + Send + 'a>>;

/// What the server, the operators' listener, retention and the admin socket need of a
/// backend. Writes go through one queue ([`Write`]) that the backend's own writers take
/// in batches, durable before each is answered; reads see only durable entries.
pub trait MailboxStore: Send + Sync + 'static {
    /// The backend's name, for operators.
    fn name(&self) -> &'static str;

    /// Whether the backend answers now (on sled, always).
    fn reachable(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;

    /// How many mailboxes it holds.
    fn mailbox_count(&self) -> StoreFuture<'_, u64>;

    /// Every mailbox, as operators see them.
    fn mailbox_list(&self) -> StoreFuture<'_, Vec<MailboxInfo>>;

    /// Mailboxes with no write since `before` (Unix milliseconds), tombstones left out.
    fn idle_since(&self, before: i64) -> StoreFuture<'_, Vec<String>>;

    /// The relay's TLS identity, made on first start.
    fn identity(&self) -> StoreFuture<'_, TlsIdentity>;

    /// What a stream's `Open` needs to know of a mailbox.
    fn opening<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Opening>;

    /// Durable entries after `after`, at most `max_bytes` of them (at least one), and
    /// whether more remain.
    fn entries_after<'a>(
        &'a self,
        id: &'a str,
        after: u64,
        max_bytes: usize,
    ) -> StoreFuture<'a, (Entries, bool)>;

    /// The store's size in bytes (on disk for sled; the envelopes' bytes on PostgreSQL).
    fn size(&self) -> StoreFuture<'_, u64>;

    /// Whether `token` is a team token this relay issued.
    fn team_token_valid<'a>(&'a self, token: &'a str) -> StoreFuture<'a, bool>;

    /// Keeps a new team token (its hash) under `label`.
    fn add_team_token<'a>(&'a self, label: &'a str, token: &'a str) -> StoreFuture<'a, ()>;

    /// Revokes the team token given (`dt_…`), or every one with that label; how many.
    fn revoke_team_tokens<'a>(&'a self, token_or_label: &'a str) -> StoreFuture<'a, usize>;

    /// The labels of the team tokens issued.
    fn team_token_labels(&self) -> StoreFuture<'_, Vec<String>>;

    /// Keeps `endpoint` as the mailbox's push endpoint under the slot verifier `slot`, or
    /// removes it when `None`; durable when answered. `false`: not kept, because the
    /// mailbox already holds `max` endpoints under other slots.
    fn set_wake<'a>(
        &'a self,
        mailbox: &'a str,
        slot: [u8; 32],
        endpoint: Option<&'a str>,
        max: usize,
    ) -> StoreFuture<'a, bool>;

    /// The mailbox's push endpoints, by slot verifier.
    fn wakes<'a>(&'a self, mailbox: &'a str) -> StoreFuture<'a, Vec<([u8; 32], String)>>;

    /// Makes everything durable (at shutdown).
    fn flush(&self) -> Result<(), RelayStoreError>;

    /// Starts the backend's writers on the queue of writes; each write is answered once
    /// its batch is durable, and every mailbox grown is announced to `shared.arrivals`.
    fn start_writers(self: Arc<Self>, shared: Shared, queue: mpsc::Receiver<Write>);
}

/// What a backend's writers report to: the relay's counters and its subscribers.
#[derive(Clone)]
pub struct Shared {
    /// What the relay counts.
    pub metrics: Arc<RelayMetrics>,
    /// Wakes the subscribers of a mailbox that grew.
    pub arrivals: Arc<Arrivals>,
}
