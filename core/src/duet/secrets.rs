//! The home key: the secrets of a home (notebook secrets, the device's signing key, its TLS
//! private key) are sealed with it before they reach the store, so the store's files hold
//! none of them in the clear: a copy of `store/` (a backup tool, a bug report, a synced
//! folder) gives away no notebook.
//!
//! The key comes from the app (the mobile API takes it from the platform keystore), from
//! the OS keychain (macOS Keychain, Windows Credential Manager, Secret Service; with the
//! `keychain` feature, in a process that called [`enable_os_keychain`], unless
//! `DUET_KEYCHAIN=off`), or from the home's key file `home.key` (0600). A new home keeps its key in the keychain when one answers, else in the key file.
//! A home written before home keys is sealed in place the first time it opens.
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
    /// The OS keychain.
    Keychain {
        /// The entry: service `duet`, this account.
        account: String,
    },
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
    /// The home's key: from its key file if there is one, else from the OS keychain. With
    /// `create` and neither, a new key goes to the keychain when one answers, else to a new
    /// key file. `home_id` names the home's keychain entry.
    pub fn for_home(
        home: &Path,
        home_id: impl FnOnce() -> Result<String, DuetError>,
        create: bool,
    ) -> Result<HomeKey, DuetError> {
        if home.join(KEY_FILE).exists() || (create && !keychain::enabled()) {
            return HomeKey::from_key_file(home, create);
        }
        if !keychain::enabled() {
            return Err(DuetError::HomeKey {
                why: format!(
                    "the home's secrets are sealed, and its key file {} is missing; if its key is in the OS keychain, open it with the keychain on (not DUET_KEYCHAIN=off)",
                    home.join(KEY_FILE).display()
                ),
            });
        }
        let account = format!("home-key/{}", home_id()?);
        let keychain_error = match keychain::read(&account) {
            Ok(Some(key)) => {
                return Ok(HomeKey {
                    key,
                    source: HomeKeySource::Keychain { account },
                })
            }
            Ok(None) => None,
            Err(e) => Some(e),
        };
        if !create {
            return Err(DuetError::HomeKey {
                why: format!(
                    "the home's secrets are sealed, and neither its key file {} nor the keychain entry duet/{account} holds the key{}",
                    home.join(KEY_FILE).display(),
                    keychain_error.map(|e| format!(" (the keychain: {e})")).unwrap_or_default()
                ),
            });
        }
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        match keychain::store(&account, &key) {
            Ok(()) => Ok(HomeKey {
                key,
                source: HomeKeySource::Keychain { account },
            }),
            Err(e) => {
                tracing::debug!(error = %e, "no keychain: the home key goes to a key file");
                write_key_file(&home.join(KEY_FILE), &key)?;
                Ok(HomeKey {
                    key,
                    source: HomeKeySource::KeyFile {
                        path: home.join(KEY_FILE),
                    },
                })
            }
        }
    }

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

    /// Opens a short text secret sealed with [`HomeKey::seal_text`], or passes one stored
    /// before it was sealed through: `(text, whether it was stored unsealed)`.
    pub fn open_plain_text(&self, what: &str, stored: &str) -> Result<(String, bool), DuetError> {
        if !stored.starts_with(SEALED_TEXT_TAG) {
            return Ok((stored.to_owned(), true));
        }
        let (plain, _) = self.open_text(what, stored)?;
        let text = String::from_utf8(plain)
            .map_err(|_| DuetError::Internal(format!("the stored {what} is damaged")))?;
        Ok((text, false))
    }

    fn wrong(&self, what: &str) -> DuetError {
        DuetError::HomeKey {
            why: format!(
                "the {what} does not open with the home key {}",
                match &self.source {
                    HomeKeySource::KeyFile { path } => format!("in {}", path.display()),
                    HomeKeySource::App => "the app gave".into(),
                    HomeKeySource::Keychain { account } => {
                        format!("in the keychain entry duet/{account}")
                    }
                }
            ),
        }
    }
}

/// Whether this process keeps new home keys in the OS keychain (set by a front end).
static KEYCHAIN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Lets this process keep home keys in the OS keychain (the CLI does; a library user who
/// does not call it never touches the keychain). `DUET_KEYCHAIN=off` still turns it off.
pub fn enable_os_keychain() {
    KEYCHAIN.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The OS keychain, through the `keyring` crate: one entry per home, service `duet`.
#[cfg(feature = "keychain")]
mod keychain {
    /// The keychain's service name for Duet's entries.
    const SERVICE: &str = "duet";

    pub fn enabled() -> bool {
        super::KEYCHAIN.load(std::sync::atomic::Ordering::Relaxed)
            && std::env::var("DUET_KEYCHAIN").map_or(true, |v| v != "off")
    }

    /// The key in the entry; `Ok(None)` when there is no entry (or the keychain is off).
    pub fn read(account: &str) -> Result<Option<[u8; 32]>, String> {
        if !enabled() {
            return Ok(None);
        }
        let entry = keyring::Entry::new(SERVICE, account).map_err(|e| e.to_string())?;
        match entry.get_secret() {
            Ok(secret) => <[u8; 32]>::try_from(secret.as_slice())
                .map(Some)
                .map_err(|_| format!("the entry duet/{account} is not a home key")),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Stores the key in a new entry, and reads it back before trusting the keychain.
    pub fn store(account: &str, key: &[u8; 32]) -> Result<(), String> {
        if !enabled() {
            return Err("the keychain is off (DUET_KEYCHAIN=off)".into());
        }
        let entry = keyring::Entry::new(SERVICE, account).map_err(|e| e.to_string())?;
        entry.set_secret(key).map_err(|e| e.to_string())?;
        match read(account)? {
            Some(back) if back == *key => Ok(()),
            _ => Err("the keychain did not give the key back".into()),
        }
    }
}

/// Without the `keychain` feature there is no keychain: homes use key files.
#[cfg(not(feature = "keychain"))]
mod keychain {
    pub fn enabled() -> bool {
        false
    }

    pub fn read(_account: &str) -> Result<Option<[u8; 32]>, String> {
        Ok(None)
    }

    pub fn store(_account: &str, _key: &[u8; 32]) -> Result<(), String> {
        Err("built without keychain support".into())
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
