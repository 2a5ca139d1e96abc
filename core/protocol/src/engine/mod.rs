//! The durable key-value engine under a store: the [`Engine`] trait (named trees, prefix
//! scans, an atomic replace, a flush that makes every write durable), sled behind it
//! ([`SledEngine`], with the fsyncs sled leaves out), its errors, and files kept private
//! to their owner ([`private`]). The device store and the relay's sled store both sit on
//! it; neither's records are known here.

mod kv;
pub mod private;
mod sled_engine;

pub use kv::{Engine, Entry, TreeName};
pub use sled_engine::SledEngine;

use std::path::PathBuf;

/// Duet refuses to write when the home's disk has less free space than this. sled does not
/// survive running out of space mid-write (seen here: a write that meets ENOSPC never
/// completes, and the store may not open afterwards), so Duet stops well before.
pub const MIN_FREE_BYTES: u64 = 4 * 1024 * 1024;

/// Errors of the device store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process holds the home.
    #[error("the Duet home {path} is in use by another process ({holder}); wait for it to finish, or stop it")]
    Locked {
        /// The home.
        path: PathBuf,
        /// Who holds it, as it recorded itself.
        holder: String,
    },
    /// A file operation failed (permissions, full disk, ...).
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// sled reported an error (I/O or a damaged log).
    #[error("store error: {0}")]
    Sled(#[from] sled::Error),
    /// The engine failed to read or write.
    #[error("storage error: {0}")]
    Engine(std::io::Error),
    /// A record failed its checksum or could not be decoded.
    #[error("damaged record in the store ({what}); restore it from a peer or a backup")]
    Corrupt {
        /// Which record.
        what: String,
    },
    /// The disk holding the home is (nearly) full.
    #[error("the disk holding {path} is full (less than {MIN_FREE_BYTES} bytes free); free some space and retry: every edit reported as saved is still on disk")]
    DiskFull {
        /// The home.
        path: PathBuf,
    },
    /// A write failed earlier in this process; the store refuses further use.
    #[error("the store at {path} failed to write earlier in this process; run the command again")]
    Failed {
        /// The home.
        path: PathBuf,
    },
    /// The home was written by a newer Duet, whose records this one could misread.
    #[error("this home was written by a newer Duet (schema {found}; this one reads up to {supported}); update Duet")]
    NewerSchema {
        /// The home's schema.
        found: u32,
        /// The newest this code reads.
        supported: u32,
    },
    /// sled could not open the files at all.
    #[error("the store at {path} is damaged and cannot be opened ({detail}); move it aside and re-sync from a peer")]
    Damaged {
        /// The store directory.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}
