//! The home key: the secrets of a home (notebook secrets, the device's signing key, its TLS
//! private key) are sealed with it before they reach the store, so the store's files hold
//! none of them in the clear: a copy of `store/` (a backup tool, a bug report, a synced
//! folder) gives away no notebook.
//!
//! The key comes from the app (the mobile API takes it from the platform keystore), or
//! from the home's key file `home.key` (0600, made on first use). A home written before
//! home keys is sealed in place the first time it opens.
//!
//! Sealed values are XChaCha20-Poly1305 under the home key with a random nonce; what a
//! value is (`notebook-secret/ID`, `device-key`, `tls-key`) is its associated data, so a
//! sealed value moved to another place does not open.

use super::*;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;

/// The key file's name in the home.
pub(crate) const KEY_FILE: &str = "home.key";
/// The first bytes of a sealed binary value.
const SEALED_TAG: &[u8] = b"dk1:";
/// The first characters of a sealed notebook secret in a notebook record.
const SEALED_TEXT_TAG: &str = "sealed:";
const NONCE_LEN: usize = 24;

/// Where a home's key is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HomeKeySource {
    /// The home's key file.
    KeyFile {
        /// Its path.
        path: PathBuf,
    },
    /// Given by the app that opened the home (from the platform keystore).
    App,
}

/// The key the home's secrets are sealed with.
#[derive(Clone)]
pub(crate) struct HomeKey {
    key: [u8; 32],
    source: HomeKeySource,
}

impl std::fmt::Debug for HomeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HomeKey")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl HomeKey {
    /// The home's key from its key file, made when `create` and there is none.
    pub fn from_key_file(home: &Path, create: bool) -> Result<HomeKey, DuetError> {
        let path = home.join(KEY_FILE);
        let source = HomeKeySource::KeyFile { path: path.clone() };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let key = data_encoding::HEXLOWER
                    .decode(text.trim().as_bytes())
                    .ok()
                    .and_then(|k| <[u8; 32]>::try_from(k).ok())
                    .ok_or_else(|| DuetError::HomeKey {
                        why: format!("{} is not a home key", path.display()),
                    })?;
                // A key file someone loosened is tightened again.
                crate::store::private::tighten(&path)
                    .map_err(|e| DuetError::io("making private", &path, e))?;
                Ok(HomeKey { key, source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                write_key_file(&path, &key)?;
                Ok(HomeKey { key, source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(DuetError::HomeKey {
                why: format!(
                    "the home's secrets are sealed, and its key file {} is missing",
                    path.display()
                ),
            }),
            Err(e) => Err(DuetError::io("reading", &path, e)),
        }
    }

    /// A key the app keeps (32 bytes).
    pub fn from_app(key: &[u8]) -> Result<HomeKey, DuetError> {
        let key = <[u8; 32]>::try_from(key).map_err(|_| DuetError::HomeKey {
            why: format!("a home key is 32 bytes, not {}", key.len()),
        })?;
        Ok(HomeKey {
            key,
            source: HomeKeySource::App,
        })
    }

    /// Where the key is kept.
    pub fn source(&self) -> &HomeKeySource {
        &self.source
    }

    /// Seals a secret; `what` names it.
    pub fn seal(&self, what: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = XChaCha20Poly1305::new(Key::from_slice(&self.key))
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: what.as_bytes(),
                },
            )
            // Encrypting into a Vec cannot fail.
            .unwrap_or_default();
        [SEALED_TAG, &nonce, &sealed].concat()
    }

    /// Opens a sealed secret, or passes a value from before home keys through (`Ok(None)`
    /// tells the caller to seal it).
    pub fn open(&self, what: &str, stored: &[u8]) -> Result<Option<Vec<u8>>, DuetError> {
        let Some(rest) = stored.strip_prefix(SEALED_TAG) else {
            return Ok(None);
        };
        if rest.len() < NONCE_LEN + 16 {
            return Err(self.wrong(what));
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        XChaCha20Poly1305::new(Key::from_slice(&self.key))
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: what.as_bytes(),
                },
            )
            .map(Some)
            .map_err(|_| self.wrong(what))
    }

    /// Seals a notebook secret for its record.
    pub fn seal_text(&self, what: &str, plain: &[u8]) -> String {
        format!(
            "{SEALED_TEXT_TAG}{}",
            data_encoding::HEXLOWER.encode(&self.seal(what, plain))
        )
    }

    /// Opens a notebook record's secret: `(secret, whether it was stored unsealed)`.
    pub fn open_text(&self, what: &str, stored: &str) -> Result<(Vec<u8>, bool), DuetError> {
        let damaged = || DuetError::Internal(format!("the stored {what} is damaged"));
        match stored.strip_prefix(SEALED_TEXT_TAG) {
            Some(hex) => {
                let bytes = data_encoding::HEXLOWER
                    .decode(hex.as_bytes())
                    .map_err(|_| damaged())?;
                let plain = self.open(what, &bytes)?.ok_or_else(damaged)?;
                Ok((plain, false))
            }
            None => {
                let plain = data_encoding::HEXLOWER
                    .decode(stored.as_bytes())
                    .map_err(|_| damaged())?;
                Ok((plain, true))
            }
        }
    }

    fn wrong(&self, what: &str) -> DuetError {
        DuetError::HomeKey {
            why: format!(
                "the {what} does not open with the home key {}",
                match &self.source {
                    HomeKeySource::KeyFile { path } => format!("in {}", path.display()),
                    HomeKeySource::App => "the app gave".into(),
                }
            ),
        }
    }
}

/// Whether the store holds sealed secrets (then a missing key file is an error, not a
/// reason to make a new key).
pub(crate) fn is_sealed(stored_device_key: &[u8]) -> bool {
    stored_device_key.starts_with(SEALED_TAG)
}

/// Writes a new key file, private from the first byte.
fn write_key_file(path: &Path, key: &[u8; 32]) -> Result<(), DuetError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, crate::store::private::FILE_MODE);
    let mut file = options
        .open(path)
        .map_err(|e| DuetError::io("creating", path, e))?;
    file.write_all(data_encoding::HEXLOWER.encode(key).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| DuetError::io("writing", path, e))?;
    if let Some(dir) = path.parent() {
        // The key file's name must survive a crash along with the store that needs it.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| DuetError::io("syncing", dir, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_in_its_place() {
        let key = HomeKey::from_app(&[7u8; 32]).expect("key");
        let sealed = key.seal("device-key", b"the device key");
        assert!(!sealed.windows(14).any(|w| w == b"the device key"));
        assert_eq!(
            key.open("device-key", &sealed).expect("opens"),
            Some(b"the device key".to_vec())
        );
        assert!(matches!(
            key.open("tls-key", &sealed),
            Err(DuetError::HomeKey { .. })
        ));
        let other = HomeKey::from_app(&[8u8; 32]).expect("key");
        assert!(matches!(
            other.open("device-key", &sealed),
            Err(DuetError::HomeKey { .. })
        ));
        assert_eq!(key.open("device-key", &[1u8; 32]).expect("legacy"), None);
        assert!(HomeKey::from_app(&[1u8; 31]).is_err());
    }

    #[test]
    fn a_key_file_is_made_private_once_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let made = HomeKey::from_key_file(dir.path(), true).expect("made");
        let read = HomeKey::from_key_file(dir.path(), false).expect("read");
        assert_eq!(made.key, read.key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_file(dir.path().join(KEY_FILE)).expect("remove");
        assert!(matches!(
            HomeKey::from_key_file(dir.path(), false),
            Err(DuetError::HomeKey { .. })
        ));
    }
}
