//! The offline exchange file: one notebook's documents in a single file, for a USB stick or
//! AirDrop when two devices cannot reach each other.
//!
//! ```text
//! "DUETBNDL" | version (1 byte) | BLAKE3 of body (32 bytes) | body (postcard)
//! ```
//!
//! A bundle carries the notebook's secret so that a new device can join from it: treat a
//! bundle file like the notebook itself. Its checksum catches truncated or damaged files
//! before anything is applied.

use serde::{Deserialize, Serialize};

/// The first bytes of every bundle file.
pub const MAGIC: &[u8; 8] = b"DUETBNDL";
/// The bundle format this build writes and reads.
pub const VERSION: u8 = 1;
/// The largest bundle accepted: far above five years of notes (a few MB), far below what
/// would hurt a phone to read into memory.
pub const MAX_BUNDLE_BYTES: usize = 256 * 1024 * 1024;

/// Reads a bundle file, refusing one over [`MAX_BUNDLE_BYTES`] by its length before
/// reading it, and never reading more than the limit (a pipe or a growing file included).
pub fn read_file(path: &std::path::Path) -> std::io::Result<Result<Vec<u8>, BundleError>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let told = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
    if told > MAX_BUNDLE_BYTES {
        return Ok(Err(BundleError::TooLarge { len: told }));
    }
    let mut bytes = Vec::with_capacity(told);
    file.take(MAX_BUNDLE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Ok(Err(BundleError::TooLarge { len: bytes.len() }));
    }
    Ok(Ok(bytes))
}

const HEADER_LEN: usize = MAGIC.len() + 1 + 32;

/// Why a file could not be read as a bundle.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleError {
    /// Not a Duet bundle at all.
    #[error("not a Duet bundle (the file does not start with the bundle marker)")]
    NotABundle,
    /// Written by a newer Duet.
    #[error("bundle format {found} is newer than this Duet understands ({VERSION}); update Duet")]
    UnsupportedVersion {
        /// The version in the file.
        found: u8,
    },
    /// Bigger than any real notebook.
    #[error("bundle is {len} bytes, more than the {MAX_BUNDLE_BYTES} accepted")]
    TooLarge {
        /// The file's length.
        len: usize,
    },
    /// Truncated or altered.
    #[error("bundle is damaged or truncated (checksum mismatch); copy it again")]
    Damaged,
}

/// One document inside a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleDoc {
    /// Document id (`index` or a meeting id).
    pub id: String,
    /// Automerge bytes (a saved document).
    pub bytes: Vec<u8>,
}

/// A decoded bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// Public notebook id.
    pub notebook_id: String,
    /// The notebook secret.
    pub secret: Vec<u8>,
    /// Title when written.
    pub title: String,
    /// The notebook's documents.
    pub docs: Vec<BundleDoc>,
}

impl Bundle {
    /// Encodes the bundle as file bytes.
    pub fn encode(&self) -> Vec<u8> {
        // postcard cannot fail on these owned types except on allocation failure.
        let body = postcard::to_stdvec(self).unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(blake3::hash(&body).as_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Decodes file bytes, checking marker, version, size and checksum before parsing.
    pub fn decode(bytes: &[u8]) -> Result<Bundle, BundleError> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge { len: bytes.len() });
        }
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(BundleError::NotABundle);
        }
        if bytes.len() < HEADER_LEN {
            return Err(BundleError::Damaged);
        }
        let version = bytes[MAGIC.len()];
        if version != VERSION {
            return Err(BundleError::UnsupportedVersion { found: version });
        }
        let sum = &bytes[MAGIC.len() + 1..HEADER_LEN];
        let body = &bytes[HEADER_LEN..];
        if blake3::hash(body).as_bytes() != sum {
            return Err(BundleError::Damaged);
        }
        postcard::from_bytes(body).map_err(|_| BundleError::Damaged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_limit_is_refused_by_its_length_unread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("huge.duet");
        let file = std::fs::File::create(&path).expect("create");
        // Sparse: the length says 300 MB, and nothing is read to find out.
        file.set_len(300_000_000).expect("length");
        match read_file(&path).expect("opens") {
            Err(BundleError::TooLarge { len }) => assert_eq!(len, 300_000_000),
            other => panic!("read a file past the limit: {:?}", other.map(|b| b.len())),
        }
        std::fs::write(&path, b"small").expect("write");
        assert_eq!(read_file(&path).expect("opens").expect("read"), b"small");
    }
    use proptest::prelude::*;

    fn sample() -> Bundle {
        Bundle {
            notebook_id: "00ff".into(),
            secret: vec![7; 32],
            title: "Ana / Bo".into(),
            docs: vec![BundleDoc {
                id: "index".into(),
                bytes: vec![1, 2, 3],
            }],
        }
    }

    #[test]
    fn header_bytes_are_stable() {
        let bytes = sample().encode();
        assert_eq!(&bytes[..9], b"DUETBNDL\x01");
        assert_eq!(Bundle::decode(&bytes), Ok(sample()));
    }

    #[test]
    fn garbage_truncation_and_other_versions_are_refused() {
        let bytes = sample().encode();
        assert_eq!(Bundle::decode(b"hello"), Err(BundleError::NotABundle));
        assert_eq!(Bundle::decode(&bytes[..20]), Err(BundleError::Damaged));
        assert_eq!(
            Bundle::decode(&bytes[..bytes.len() - 1]),
            Err(BundleError::Damaged)
        );
        let mut newer = bytes.clone();
        newer[8] = 9;
        assert_eq!(
            Bundle::decode(&newer),
            Err(BundleError::UnsupportedVersion { found: 9 })
        );
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Bundle::decode(&bytes);
            let mut framed = MAGIC.to_vec();
            framed.push(VERSION);
            framed.extend_from_slice(blake3::hash(&bytes).as_bytes());
            framed.extend_from_slice(&bytes);
            let _ = Bundle::decode(&framed);
        }

        #[test]
        fn flipping_any_bit_is_detected(pos in 0usize..4096, bit in 0u8..8) {
            let mut bytes = sample().encode();
            let pos = pos % bytes.len();
            bytes[pos] ^= 1 << bit;
            prop_assert_ne!(Bundle::decode(&bytes), Ok(sample()));
        }
    }
}
