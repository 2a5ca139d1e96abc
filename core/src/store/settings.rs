//! Typed settings: every per-device setting, cursor and cache entry of a home is a type here
//! that names its key and the type of its value, so no caller builds a key string or picks
//! an encoding; and the home's schema version, with the migrations that bring an older
//! home up to it when it is opened.
//!
//! Settings live in the `meta` tree; caches (rebuildable from the documents at any time)
//! in the `cache` tree, so a damaged or outdated cache can be dropped wholesale.
//!
//! Schema versions:
//! - 1: homes written before the version was recorded (caches in `meta`).
//! - 2: caches in their own tree; the version recorded.
//! - 3: agenda items in the kept views name the recurring point they come from: the caches
//!   of schema 2 are dropped (rebuilt on use).

use super::{Store, StoreError, TreeName};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::net::SocketAddr;

/// The schema this code reads and writes.
pub const SCHEMA_VERSION: u32 = 3;
/// The key of the schema version in the `meta` tree.
const SCHEMA_KEY: &str = "schema_version";
/// A record of the cache tree naming the schema its entries were written under.
const CACHE_FORMAT_KEY: &str = "cache-format";
/// Key prefixes of the caches schema 1 kept in `meta`.
const V1_CACHE_PREFIXES: [&str; 3] = ["heads/", "view/", "current-meeting/"];

/// One kind of setting: its key, where it lives and how its value is encoded.
pub trait Setting {
    /// The value's type.
    type Value;
    /// The tree it lives in.
    const TREE: TreeName = TreeName::Meta;
    /// Its key (a setting with an empty last part gives the prefix of its family).
    fn key(&self) -> String;
    /// Encodes a value.
    fn encode(value: &Self::Value) -> Result<Vec<u8>, StoreError>;
    /// Decodes a value; `None` when the bytes are not one.
    fn decode(bytes: &[u8]) -> Option<Self::Value>;
}

fn encoding_failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what: format!("a setting could not be encoded: {e}"),
    }
}

fn json<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(encoding_failed)
}

fn from_json<T: DeserializeOwned>(b: &[u8]) -> Option<T> {
    serde_json::from_slice(b).ok()
}

fn compact<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(v).map_err(encoding_failed)
}

fn from_compact<T: DeserializeOwned>(b: &[u8]) -> Option<T> {
    postcard::from_bytes(b).ok()
}

fn text(b: &[u8]) -> Option<String> {
    String::from_utf8(b.to_vec()).ok()
}

/// Defines a setting whose value is stored as raw bytes, text, JSON, postcard or a
/// big-endian integer (the encodings schema 1 used, kept so settings need no rewrite).
macro_rules! setting {
    ($(#[$doc:meta])* $name:ident ( $($field:ident),* ) => $value:ty, bytes, $fmt:literal) => {
        setting!(@def $(#[$doc])* $name ($($field),*) => $value, $fmt,
            |v: &$value| Ok(v.clone()), |b: &[u8]| Some(b.to_vec()));
    };
    ($(#[$doc:meta])* $name:ident ( $($field:ident),* ) => $value:ty, text, $fmt:literal) => {
        setting!(@def $(#[$doc])* $name ($($field),*) => $value, $fmt,
            |v: &$value| Ok(v.as_bytes().to_vec()), text);
    };
    ($(#[$doc:meta])* $name:ident ( $($field:ident),* ) => $value:ty, json, $fmt:literal) => {
        setting!(@def $(#[$doc])* $name ($($field),*) => $value, $fmt, json, from_json);
    };
    ($(#[$doc:meta])* $name:ident ( $($field:ident),* ) => $value:ty, postcard, $fmt:literal) => {
        setting!(@def $(#[$doc])* $name ($($field),*) => $value, $fmt, compact, from_compact);
    };
    (@def $(#[$doc:meta])* $name:ident ( $($field:ident),* ) => $value:ty, $fmt:literal, $enc:expr, $dec:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name($(pub setting!(@ty $field)),*);

        impl Setting for $name {
            type Value = $value;
            fn key(&self) -> String {
                #[allow(unused_variables)]
                let $name($($field),*) = self;
                format!($fmt)
            }
            fn encode(value: &$value) -> Result<Vec<u8>, StoreError> {
                ($enc)(value)
            }
            fn decode(bytes: &[u8]) -> Option<$value> {
                ($dec)(bytes)
            }
        }
    };
    (@ty $field:ident) => { String };
}

setting!(
    /// This device's signing key (32 bytes).
    IdentityKey() => Vec<u8>, bytes, "device_key");
setting!(
    /// This home's id (names its entry in the OS keychain).
    HomeId() => String, text, "home_id");
setting!(
    /// The device owner's name.
    OwnerName() => String, text, "name");
setting!(
    /// The notebook commands work on by default.
    CurrentNotebook() => String, text, "current_notebook");
setting!(
    /// This device's TLS certificate (DER).
    TlsCertificate() => Vec<u8>, bytes, "tls_cert");
setting!(
    /// This device's TLS private key (PKCS#8 DER).
    TlsPrivateKey() => Vec<u8>, bytes, "tls_key");
setting!(
    /// The person's personal space (private notes) on this device.
    PersonalSpace() => String, text, "personal_space");
setting!(
    /// The push endpoint relays wake this device at (`None`: no wake-ups).
    PushEndpoint() => Option<String>, postcard, "push-endpoint");
setting!(
    /// What a notebook's relay was last told of this device's push endpoint.
    WakeRegistered(notebook) => crate::duet::WakeRecord, postcard, "wake-registered/{notebook}");
setting!(
    /// How many minutes before a 1-1 this device reminds its person (negative: never), for
    /// one notebook, or for all with an empty notebook id.
    RemindBefore(notebook) => i64, postcard, "remind-before/{notebook}");
setting!(
    /// This device's undo and redo lists of a notebook's edits.
    UndoJournal(notebook) => crate::duet::EditJournal, postcard, "undo/{notebook}");
setting!(
    /// A device this one has synced with, by certificate fingerprint.
    KnownDevice(fingerprint) => crate::KnownPeer, json, "peer/{fingerprint}");
setting!(
    /// A notebook's epoch key this device was handed outside the index (by a ticket or a
    /// bundle): the epoch's number and the key sealed by the home key.
    EpochKeyCopy(notebook, epoch) => (u64, Vec<u8>), postcard, "epoch-key/{notebook}/{epoch}");
setting!(
    /// The epoch (id; empty for the initial one) whose relay mailbox the notebook's relay
    /// cursor and what the relay has seen refer to.
    RelayEpoch(notebook) => String, text, "relay-epoch/{notebook}");
setting!(
    /// The membership notices for the mailboxes a new epoch left behind: pushed there once,
    /// so a device offline during the rotation finds the new epoch's key (sealed to it);
    /// `None` once pushed.
    RelayFarewell(notebook) => Option<Vec<crate::duet::FarewellTarget>>, postcard, "relay-farewell/{notebook}");
setting!(
    /// The notebook's relay mailbox is bound to its relay (told by a grant, before the
    /// notebook's index, which says so too, has arrived).
    RelayBound(notebook) => bool, postcard, "relay-bound/{notebook}");
setting!(
    /// A one-time invite made on this device, by notebook and invite id.
    Invitation(notebook, id) => crate::duet::InviteRecord, postcard, "invitation/{notebook}/{id}");
setting!(
    /// The relay mailbox of an ended 1-1 was retired or deleted from here.
    RelayEnded(notebook) => bool, postcard, "relay-ended/{notebook}");
setting!(
    /// This device's name, as the notebooks' other devices see it.
    DeviceName() => String, text, "device_name");
setting!(
    /// When a relay batch from a sender (hex id) of a notebook was last applied here (Unix
    /// milliseconds): how `duet devices` knows when it last heard from a device.
    SenderLastSeen(notebook, sender) => i64, postcard, "sender-last-seen/{notebook}/{sender}");
setting!(
    /// A notebook joined from an invite whose index has not arrived: the role to join as
    /// (empty once joined).
    PendingJoin(notebook) => String, text, "pending-join/{notebook}");
setting!(
    /// The one-time invite this device joined a notebook with (its id on the inviting
    /// device), which its device record names.
    JoinedWithInvite(notebook) => String, text, "joined-with-invite/{notebook}");
setting!(
    /// The relay a notebook (or the personal space) syncs through.
    NotebookRelay(notebook) => crate::RelaySetting, json, "relay/{notebook}");
setting!(
    /// The heads of a document the notebook's relay has seen (from this device or others).
    RelaySeen(notebook, doc) => Vec<[u8; 32]>, postcard, "relay-seen/{notebook}/{doc}");
setting!(
    /// The Automerge sync state with a peer for one document (`State::encode`).
    PeerSyncState(peer, notebook, doc) => Vec<u8>, bytes, "peer-state/{peer}/{notebook}/{doc}");
setting!(
    /// Set once a notebook has completed a sync with a peer.
    PeerSynced(peer, notebook) => Vec<u8>, bytes, "peer-synced/{peer}/{notebook}");
setting!(
    /// The entry at a notebook's relay cursor, as this device read it.
    RelayAnchor(notebook) => crate::sync::relay_session::Anchor, postcard, "relay-anchor/{notebook}");
setting!(
    /// When this device last found its notebook's relay log not the one it had read
    /// (milliseconds since the Unix epoch), and rewound.
    RelayRewound(notebook) => i64, postcard, "relay-rewound/{notebook}");
setting!(
    /// This device's chain link of its last batch the notebook's relay acknowledged: its
    /// counter, and (in `previous`) that envelope's digest.
    SealChain(notebook) => crate::sync::relay::Chain, postcard, "seal-chain/{notebook}");
setting!(
    /// The last chain link read from a sender (hex id) in the notebook's relay log: its
    /// counter, and (in `previous`) that envelope's digest.
    SenderSeen(notebook, sender) => crate::sync::relay::Chain, postcard, "sender-seen/{notebook}/{sender}");
setting!(
    /// That a sender (hex id) of the notebook's relay log signs its chain links: an
    /// unsigned link under its id is then not its own (a forgery, or a downgrade).
    SenderSigns(notebook, sender) => bool, postcard, "sender-signs/{notebook}/{sender}");
setting!(
    /// Batches of a sender (hex id) the relay did not deliver, as last noticed.
    Withheld(notebook, sender) => crate::WithheldBatches, postcard, "withheld/{notebook}/{sender}");
setting!(
    /// A relay batch set aside instead of applied, by notebook and zero-padded sequence
    /// number (so a family scan lists them in order).
    Quarantined(notebook, seq) => crate::QuarantinedBatch, postcard, "quarantine/{notebook}/{seq}");
setting!(
    /// The sealed envelope of a batch set aside (kept apart so listing them stays cheap).
    QuarantinedEnvelope(notebook, seq) => Vec<u8>, bytes, "quarantine-envelope/{notebook}/{seq}");

/// The last relay sequence number applied here, per notebook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayCursor(pub String);

impl Setting for RelayCursor {
    type Value = u64;
    fn key(&self) -> String {
        format!("relay-cursor/{}", self.0)
    }
    fn encode(value: &u64) -> Result<Vec<u8>, StoreError> {
        Ok(value.to_be_bytes().to_vec())
    }
    fn decode(bytes: &[u8]) -> Option<u64> {
        bytes.try_into().ok().map(u64::from_be_bytes)
    }
}

/// Where `duet serve` last listened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeAddress;

impl Setting for ServeAddress {
    type Value = SocketAddr;
    fn key(&self) -> String {
        "serve_addr".into()
    }
    fn encode(value: &SocketAddr) -> Result<Vec<u8>, StoreError> {
        Ok(value.to_string().into_bytes())
    }
    fn decode(bytes: &[u8]) -> Option<SocketAddr> {
        text(bytes)?.parse().ok()
    }
}

/// A cache entry: rebuildable, kept in the `cache` tree, raw bytes whose format belongs to
/// the cache's owner (each format carries its own version check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry(pub String);

impl Setting for CacheEntry {
    type Value = Vec<u8>;
    const TREE: TreeName = TreeName::Cache;
    fn key(&self) -> String {
        self.0.clone()
    }
    fn encode(value: &Vec<u8>) -> Result<Vec<u8>, StoreError> {
        Ok(value.clone())
    }
    fn decode(bytes: &[u8]) -> Option<Vec<u8>> {
        Some(bytes.to_vec())
    }
}

impl Store {
    /// A setting's value; a value that does not decode is a damaged record.
    pub fn get<S: Setting>(&self, setting: &S) -> Result<Option<S::Value>, StoreError> {
        let key = setting.key();
        match self.read_record(S::TREE, &key)? {
            Some(bytes) => S::decode(&bytes)
                .map(Some)
                .ok_or(StoreError::Corrupt { what: key }),
            None => Ok(None),
        }
    }

    /// Sets a setting (not flushed).
    pub fn put<S: Setting>(&self, setting: &S, value: &S::Value) -> Result<(), StoreError> {
        self.write_record(S::TREE, &setting.key(), &S::encode(value)?)
    }

    /// Every setting of a family: `prefix` is a setting whose last part is empty. Returns
    /// each one's last part and value; values that do not decode are skipped (a lost
    /// shortcut or an entry from a newer Duet, never a reason to fail).
    pub fn scan<S: Setting>(&self, prefix: &S) -> Result<Vec<(String, S::Value)>, StoreError> {
        let prefix = prefix.key();
        Ok(self
            .read_records(S::TREE, &prefix)?
            .into_iter()
            .filter_map(|(key, bytes)| {
                let rest = key.get(prefix.len()..)?.to_owned();
                S::decode(&bytes).map(|v| (rest, v))
            })
            .collect())
    }
}

/// Brings the home's schema up to [`SCHEMA_VERSION`]; refuses a home written by a newer
/// Duet. Each step is safe to repeat: a crash midway leaves the old version recorded, and
/// the next open runs the step again.
pub(super) fn migrate(store: &Store) -> Result<(), StoreError> {
    let recorded = store
        .read_record(TreeName::Meta, SCHEMA_KEY)?
        .map(|b| {
            b.as_slice()
                .try_into()
                .map(u32::from_be_bytes)
                .map_err(|_| StoreError::Corrupt {
                    what: "schema version".into(),
                })
        })
        .transpose()?;
    let found = match recorded {
        Some(v) => v,
        // A home with no version: schema 1 if it holds anything, else a new home.
        None if store.is_empty()? => SCHEMA_VERSION,
        None => 1,
    };
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < 3 {
        // Views kept by schema 2 decode into the wrong shape now: all go, in one step.
        store.replace_records(TreeName::Cache, (CACHE_FORMAT_KEY, &[3]), &[""])?;
    }
    if recorded != Some(SCHEMA_VERSION) {
        // Schema 2 keeps caches in their own tree: schema 1's go from `meta` (they are
        // rebuilt on use) in the same atomic step that records the new version.
        let drop: &[&str] = if found < 2 { &V1_CACHE_PREFIXES } else { &[] };
        store.replace_records(
            TreeName::Meta,
            (SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes()),
            drop,
        )?;
        store.flush()?;
        if found < SCHEMA_VERSION {
            tracing::info!(from = found, to = SCHEMA_VERSION, "home migrated");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_families_scan_by_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        store.put(&RelayCursor("nb1".into()), &42).expect("cursor");
        assert_eq!(
            store.get(&RelayCursor("nb1".into())).expect("read"),
            Some(42)
        );
        assert_eq!(store.get(&RelayCursor("nb2".into())).expect("read"), None);
        for doc in ["a", "b"] {
            store
                .put(&RelaySeen("nb1".into(), doc.into()), &vec![[7u8; 32]])
                .expect("seen");
        }
        store
            .put(&RelaySeen("nb2".into(), "c".into()), &vec![[8u8; 32]])
            .expect("seen");
        let family = store
            .scan(&RelaySeen("nb1".into(), String::new()))
            .expect("scan");
        assert_eq!(
            family.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        // A value that does not decode is a damaged record, never a silent default.
        store
            .write_record(TreeName::Meta, "relay-cursor/nb3", b"xyz")
            .expect("raw");
        assert!(matches!(
            store.get(&RelayCursor("nb3".into())),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_schema_2_home_loses_its_caches_and_keeps_its_settings() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("new home");
            store
                .write_record(TreeName::Meta, SCHEMA_KEY, &2u32.to_be_bytes())
                .expect("pretend schema 2");
            store
                .write_record(TreeName::Cache, "view/nb/m1", b"kept by schema 2")
                .expect("v2 cache");
            store.put(&OwnerName(), &"Ana".to_owned()).expect("name");
            store.flush().expect("flush");
        }
        let store = Store::open(dir.path()).expect("migrated");
        assert_eq!(
            store
                .read_record(TreeName::Cache, "view/nb/m1")
                .expect("read"),
            None
        );
        assert_eq!(
            store.get(&OwnerName()).expect("name").as_deref(),
            Some("Ana")
        );
        assert_eq!(
            store.read_record(TreeName::Meta, SCHEMA_KEY).expect("read"),
            Some(SCHEMA_VERSION.to_be_bytes().to_vec())
        );
    }

    #[test]
    fn a_home_from_a_newer_duet_is_refused_and_an_older_one_migrated() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("new home");
            assert_eq!(
                store.read_record(TreeName::Meta, SCHEMA_KEY).expect("read"),
                Some(SCHEMA_VERSION.to_be_bytes().to_vec())
            );
            // Make it look like schema 1 with a cache in `meta`.
            store
                .replace_records(TreeName::Meta, ("padding", b""), &[SCHEMA_KEY])
                .expect("forget version");
            store
                .write_record(TreeName::Meta, "heads/nb/doc", b"old cache")
                .expect("v1 cache");
            store.put(&OwnerName(), &"Ana".to_owned()).expect("name");
            store.flush().expect("flush");
        }
        {
            let store = Store::open(dir.path()).expect("migrated");
            assert_eq!(
                store
                    .read_record(TreeName::Meta, "heads/nb/doc")
                    .expect("read"),
                None,
                "schema 1 caches dropped"
            );
            assert_eq!(
                store.get(&OwnerName()).expect("name").as_deref(),
                Some("Ana")
            );
            store
                .write_record(
                    TreeName::Meta,
                    SCHEMA_KEY,
                    &(SCHEMA_VERSION + 1).to_be_bytes(),
                )
                .expect("pretend newer");
            store.flush().expect("flush");
        }
        match Store::open(dir.path()) {
            Err(StoreError::NewerSchema { found, supported }) => {
                assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("a newer home must be refused, got {other:?}"),
        }
    }
}
