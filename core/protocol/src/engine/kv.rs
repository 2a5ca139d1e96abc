//! The key-value engine under the device store, behind a trait so that another engine can
//! replace sled, and so tests can wrap it to fail writes on purpose.
//!
//! The store needs little: four named trees of byte keys and values, prefix scans in key
//! order, one atomic "replace a document's records" step, and a flush that makes every
//! write so far durable.

use super::StoreError;

/// The trees of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TreeName {
    /// Identity and settings.
    Meta,
    /// Notebook records (secrets).
    Notebooks,
    /// Document snapshots and change chunks.
    Docs,
    /// Per-document change counters.
    Versions,
    /// Rebuildable caches (document heads, plain views): safe to drop at any time.
    Cache,
}

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// What the device store needs from a key-value engine.
pub trait Engine: Send + Sync {
    /// The value at `key`.
    fn get(&self, tree: TreeName, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets `key` (not yet durable).
    fn insert(&self, tree: TreeName, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Every entry whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, tree: TreeName, prefix: &[u8]) -> Result<Vec<Entry>, StoreError>;
    /// Every key that starts with `prefix`, in order.
    fn keys_with_prefix(&self, tree: TreeName, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError>;
    /// The last key that starts with `prefix`.
    fn last_key_with_prefix(
        &self,
        tree: TreeName,
        prefix: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError>;
    /// Atomically sets `put` and removes `remove`: all of it happens or none.
    fn replace(
        &self,
        tree: TreeName,
        put: (&[u8], &[u8]),
        remove: &[Vec<u8>],
    ) -> Result<(), StoreError>;
    /// Makes every write so far durable.
    fn flush(&self) -> Result<(), StoreError>;
    /// Bytes on disk.
    fn size_on_disk(&self) -> Result<u64, StoreError>;
    /// Called instead of a normal shutdown after a write failed: the engine must not try to
    /// write again on its way out (sled would wait forever for the failed write).
    fn abandon(&self);
}
