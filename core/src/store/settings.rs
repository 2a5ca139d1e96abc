//! Typed settings: the machinery by which every per-device setting, cursor and cache entry
//! of a home is a type that names its key and the type of its value, so no caller builds a
//! key string or picks an encoding (the `setting!` macro; the table of settings itself
//! lives beside the types it stores, in `duet/settings.rs`); and the home's schema version,
//! with the migrations that bring an older home up to it when it is opened.
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

pub(crate) fn json<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(encoding_failed)
}

pub(crate) fn from_json<T: DeserializeOwned>(b: &[u8]) -> Option<T> {
    serde_json::from_slice(b).ok()
}

pub(crate) fn compact<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(v).map_err(encoding_failed)
}

pub(crate) fn from_compact<T: DeserializeOwned>(b: &[u8]) -> Option<T> {
    postcard::from_bytes(b).ok()
}

pub(crate) fn text(b: &[u8]) -> Option<String> {
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
            |v: &$value| Ok(v.as_bytes().to_vec()), $crate::store::settings::text);
    };
    ($(#[$doc:meta])* $name:ident ( $($field:ident),* ) => $value:ty, json, $fmt:literal) => {
        setting!(@def $(#[$doc])* $name ($($field),*) => $value, $fmt, $crate::store::settings::json, $crate::store::settings::from_json);
    };
    ($(#[$doc:meta])* $name:ident ( $($field:ident),* ) => $value:ty, postcard, $fmt:literal) => {
        setting!(@def $(#[$doc])* $name ($($field),*) => $value, $fmt, $crate::store::settings::compact, $crate::store::settings::from_compact);
    };
    (@def $(#[$doc:meta])* $name:ident ( $($field:ident),* ) => $value:ty, $fmt:literal, $enc:expr, $dec:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name($(pub setting!(@ty $field)),*);

        impl $crate::store::settings::Setting for $name {
            type Value = $value;
            fn key(&self) -> String {
                #[allow(unused_variables)]
                let $name($($field),*) = self;
                format!($fmt)
            }
            fn encode(value: &$value) -> Result<Vec<u8>, $crate::store::StoreError> {
                ($enc)(value)
            }
            fn decode(bytes: &[u8]) -> Option<$value> {
                ($dec)(bytes)
            }
        }
    };
    (@ty $field:ident) => { String };
}
pub(crate) use setting;

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

    setting!(
        /// A per-notebook number (a cursor's shape).
        Cursor(notebook) => u64, json, "relay-cursor/{notebook}");
    setting!(
        /// A family of per-document values.
        Seen(notebook, doc) => Vec<[u8; 32]>, postcard, "relay-seen/{notebook}/{doc}");
    setting!(
        /// The owner's name, under the key the home keeps it.
        Name() => String, text, "name");

    #[test]
    fn settings_round_trip_and_families_scan_by_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        store.put(&Cursor("nb1".into()), &42).expect("cursor");
        assert_eq!(store.get(&Cursor("nb1".into())).expect("read"), Some(42));
        assert_eq!(store.get(&Cursor("nb2".into())).expect("read"), None);
        for doc in ["a", "b"] {
            store
                .put(&Seen("nb1".into(), doc.into()), &vec![[7u8; 32]])
                .expect("seen");
        }
        store
            .put(&Seen("nb2".into(), "c".into()), &vec![[8u8; 32]])
            .expect("seen");
        let family = store
            .scan(&Seen("nb1".into(), String::new()))
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
            store.get(&Cursor("nb3".into())),
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
            store.put(&Name(), &"Ana".to_owned()).expect("name");
            store.flush().expect("flush");
        }
        let store = Store::open(dir.path()).expect("migrated");
        assert_eq!(
            store
                .read_record(TreeName::Cache, "view/nb/m1")
                .expect("read"),
            None
        );
        assert_eq!(store.get(&Name()).expect("name").as_deref(), Some("Ana"));
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
            store.put(&Name(), &"Ana".to_owned()).expect("name");
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
            assert_eq!(store.get(&Name()).expect("name").as_deref(), Some("Ana"));
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
