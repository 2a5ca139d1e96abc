//! Device keys and notebook secrets.
//!
//! A device is an ed25519 key pair made once per home. A notebook is a 32-byte random secret
//! made with the notebook; everything public about a notebook derives from it with BLAKE3
//! `derive_key` under fixed context strings, so knowing an id reveals nothing of the secret.

use ed25519_dalek::SigningKey;
use rand::RngCore;
use std::fmt;

/// Context string for deriving a notebook's public id from its secret.
const NOTEBOOK_ID_CONTEXT: &str = "duet 2026-11 notebook id v1";

/// Errors reading key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Key material had the wrong length.
    #[error("{what} must be {expected} bytes, found {found}")]
    BadLength {
        /// Which key.
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Length found.
        found: usize,
    },
}

/// This device's signing key. Its public half names the device in a notebook.
pub struct DeviceKey(SigningKey);

impl DeviceKey {
    /// Makes a new random device key.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        Self(SigningKey::from_bytes(&seed))
    }

    /// Reads a device key from its 32 secret bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let seed: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadLength {
            what: "device key",
            expected: 32,
            found: bytes.len(),
        })?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// The 32 secret bytes, for the store.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key as lowercase hex: the device's name inside notebooks.
    pub fn public_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(self.0.verifying_key().as_bytes())
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceKey({})", self.public_hex())
    }
}

/// A notebook's secret: 32 random bytes that only members hold.
#[derive(Clone, PartialEq, Eq)]
pub struct NotebookSecret([u8; 32]);

impl NotebookSecret {
    /// Makes a new random notebook secret.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Reads a secret from its bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadLength {
            what: "notebook secret",
            expected: 32,
            found: bytes.len(),
        })?;
        Ok(Self(bytes))
    }

    /// The raw secret bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The notebook's public id: 16 bytes derived from the secret, as lowercase hex.
    pub fn notebook_id(&self) -> String {
        let key = blake3::derive_key(NOTEBOOK_ID_CONTEXT, &self.0);
        data_encoding::HEXLOWER.encode(&key[..16])
    }
}

impl fmt::Debug for NotebookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NotebookSecret(for {})", self.notebook_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_key_round_trips_through_bytes() {
        let key = DeviceKey::generate();
        let again = DeviceKey::from_bytes(&key.to_bytes()).expect("32 bytes");
        assert_eq!(key.public_hex(), again.public_hex());
        assert_eq!(key.public_hex().len(), 64);
    }

    #[test]
    fn notebook_id_is_stable_and_does_not_reveal_the_secret() {
        let secret = NotebookSecret::from_bytes(&[7u8; 32]).expect("32 bytes");
        let id = secret.notebook_id();
        assert_eq!(id, secret.notebook_id());
        assert_eq!(id.len(), 32);
        assert!(!id.contains(&data_encoding::HEXLOWER.encode(&[7u8; 8])));
        assert_ne!(id, NotebookSecret::generate().notebook_id());
    }

    #[test]
    fn wrong_lengths_are_refused() {
        assert!(NotebookSecret::from_bytes(&[1u8; 31]).is_err());
        assert!(DeviceKey::from_bytes(&[]).is_err());
    }
}
