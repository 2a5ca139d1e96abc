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
/// Context string for deriving the token that opens the notebook's relay mailbox.
const RELAY_TOKEN_CONTEXT: &str = "duet 2026-11 relay access token v1";
/// Context string for deriving the key that seals relay envelopes.
const ENVELOPE_CONTEXT: &str = "duet 2026-11 relay envelope key v1";
/// Context string for deriving the key that proves membership on a P2P connection.
const MEMBERSHIP_CONTEXT: &str = "duet 2026-11 p2p membership key v1";

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

/// 32 random bytes.
fn random_key() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// Key material of exactly 32 bytes, or an error naming `what`.
fn key_bytes(what: &'static str, bytes: &[u8]) -> Result<[u8; 32], CryptoError> {
    bytes.try_into().map_err(|_| CryptoError::BadLength {
        what,
        expected: 32,
        found: bytes.len(),
    })
}

/// This device's signing key. Its public half names the device in a notebook.
pub struct DeviceKey(SigningKey);

impl DeviceKey {
    /// Makes a new random device key.
    pub fn generate() -> Self {
        Self(SigningKey::from_bytes(&random_key()))
    }

    /// Reads a device key from its 32 secret bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self(SigningKey::from_bytes(&key_bytes(
            "device key",
            bytes,
        )?)))
    }

    /// The 32 secret bytes, for the store.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key as lowercase hex: the device's name inside notebooks.
    pub fn public_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(self.0.verifying_key().as_bytes())
    }

    /// This device's ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.0.sign(message).to_bytes()
    }
}

/// Whether `signature` is the signature of `message` by the device whose public key is
/// `public_hex` (strict ed25519: no malleable or small-order forms).
pub fn device_signed(public_hex: &str, message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(bytes) = data_encoding::HEXLOWER.decode(public_hex.as_bytes()) else {
        return false;
    };
    let Ok(public) = <[u8; 32]>::try_from(bytes.as_slice()) else {
        return false;
    };
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&public) else {
        return false;
    };
    key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
        .is_ok()
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
        Self(random_key())
    }

    /// Reads a secret from its bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self(key_bytes("notebook secret", bytes)?))
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

impl NotebookSecret {
    /// The key that proves membership on a P2P connection (never sent anywhere).
    pub fn membership_key(&self) -> MembershipKey {
        MembershipKey(blake3::derive_key(MEMBERSHIP_CONTEXT, &self.0))
    }
}

impl NotebookSecret {
    /// The token that opens this notebook's relay mailbox (the relay keeps only its hash).
    pub fn relay_token(&self) -> [u8; 32] {
        blake3::derive_key(RELAY_TOKEN_CONTEXT, &self.0)
    }

    /// The key of this notebook's relay envelopes (XChaCha20-Poly1305).
    pub fn envelope_key(&self) -> [u8; 32] {
        blake3::derive_key(ENVELOPE_CONTEXT, &self.0)
    }

    /// The mailbox id (hex) and token of a notebook made bound to its relay, at the relay
    /// with `relay_fingerprint`: its operator cannot use them at another relay. Notebooks
    /// made before keep the mailbox named by their id and [`NotebookSecret::relay_token`].
    pub fn relay_mailbox(&self, relay_fingerprint: &[u8; 32]) -> (String, [u8; 32]) {
        relay_bound_mailbox(
            &self.0,
            relay_fingerprint,
            BOUND_MAILBOX_CONTEXT,
            BOUND_RELAY_TOKEN_CONTEXT,
        )
    }
}

/// Context string for a notebook's relay token bound to the relay's fingerprint.
const BOUND_RELAY_TOKEN_CONTEXT: &str = "duet 2026-12 notebook bound relay token v1";
/// Context string for a notebook's mailbox id at one relay.
const BOUND_MAILBOX_CONTEXT: &str = "duet 2026-12 notebook bound mailbox id v1";

/// Context string for an epoch's envelope key.
const EPOCH_ENVELOPE_CONTEXT: &str = "duet 2026-12 epoch envelope key v1";
/// Context string for an epoch's membership key.
const EPOCH_MEMBERSHIP_CONTEXT: &str = "duet 2026-12 epoch membership key v1";
/// Context string for an epoch's relay token, bound to the relay's fingerprint.
const EPOCH_RELAY_TOKEN_CONTEXT: &str = "duet 2026-12 epoch relay token v1";
/// Context string for an epoch's mailbox id at one relay.
const EPOCH_MAILBOX_CONTEXT: &str = "duet 2026-12 epoch mailbox id v1";

/// The key of one membership epoch of a notebook: 32 random bytes made when a device is
/// removed, sealed to each remaining device. While a notebook has had no removal, its
/// epoch is the notebook secret itself (with the derivations of [`NotebookSecret`]).
#[derive(Clone, PartialEq, Eq)]
pub struct EpochKey([u8; 32]);

impl EpochKey {
    /// Makes a new random epoch key.
    pub fn generate() -> Self {
        Self(random_key())
    }

    /// Reads an epoch key from its bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self(key_bytes("epoch key", bytes)?))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key of this epoch's relay envelopes.
    pub fn envelope_key(&self) -> [u8; 32] {
        blake3::derive_key(EPOCH_ENVELOPE_CONTEXT, &self.0)
    }

    /// The key that proves membership of this epoch on a P2P connection.
    pub fn membership_key(&self) -> MembershipKey {
        MembershipKey(blake3::derive_key(EPOCH_MEMBERSHIP_CONTEXT, &self.0))
    }

    /// The mailbox id (hex) and token of this epoch at the relay with `relay_fingerprint`:
    /// both bound to that relay, so its operator cannot use them at another.
    pub fn relay_mailbox(&self, relay_fingerprint: &[u8; 32]) -> (String, [u8; 32]) {
        relay_bound_mailbox(
            &self.0,
            relay_fingerprint,
            EPOCH_MAILBOX_CONTEXT,
            EPOCH_RELAY_TOKEN_CONTEXT,
        )
    }
}

impl fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EpochKey(..)")
    }
}

/// A mailbox id (16 bytes, hex) and its token, both derived from `secret` together with a
/// relay's certificate fingerprint under their own contexts: the relay's operator learns
/// nothing it could use at another relay.
pub fn relay_bound_mailbox(
    secret: &[u8; 32],
    relay_fingerprint: &[u8; 32],
    id_context: &str,
    token_context: &str,
) -> (String, [u8; 32]) {
    let mut material = [0u8; 64];
    material[..32].copy_from_slice(secret);
    material[32..].copy_from_slice(relay_fingerprint);
    let id = blake3::derive_key(id_context, &material);
    let token = blake3::derive_key(token_context, &material);
    (data_encoding::HEXLOWER.encode(&id[..16]), token)
}

/// What a relay stores to check a mailbox token: its BLAKE3 hash.
pub fn token_verifier(token: &[u8; 32]) -> [u8; 32] {
    *blake3::hash(token).as_bytes()
}

/// Which end of a connection a membership proof speaks for: the two proofs differ, so one
/// side's proof cannot be reflected back as the other's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofSide {
    /// The device that opened the connection.
    Client,
    /// The device that accepted it.
    Server,
}

/// A notebook's membership key.
#[derive(Clone)]
pub struct MembershipKey([u8; 32]);

impl MembershipKey {
    /// A key of this kind from 32 bytes already derived for the purpose (an invite's
    /// proof key).
    pub fn from_derived(key: [u8; 32]) -> Self {
        Self(key)
    }

    /// The proof of membership bound to one TLS session: a keyed BLAKE3 MAC over the
    /// session's exporter secret, so it is worthless on any other connection.
    pub fn proof(&self, side: ProofSide, exporter: &[u8; 32]) -> [u8; 32] {
        let mut mac = blake3::Hasher::new_keyed(&self.0);
        mac.update(match side {
            ProofSide::Client => b"client",
            ProofSide::Server => b"server",
        });
        mac.update(exporter);
        *mac.finalize().as_bytes()
    }

    /// The tag devices holding this notebook announce on the local network during time
    /// window `window`: unlinkable to the notebook, the device or other windows for anyone
    /// without the membership key.
    pub fn nearby_tag(&self, window: u64) -> [u8; 8] {
        let key = blake3::derive_key("duet nearby announcement tag v1", &self.0);
        let mut out = [0u8; 8];
        out.copy_from_slice(&blake3::keyed_hash(&key, &window.to_be_bytes()).as_bytes()[..8]);
        out
    }

    /// Whether `proof` is this key's proof for `side` on the session (constant time).
    pub fn verifies(&self, side: ProofSide, exporter: &[u8; 32], proof: &[u8; 32]) -> bool {
        blake3::Hash::from(self.proof(side, exporter)) == blake3::Hash::from(*proof)
    }
}

impl fmt::Debug for MembershipKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MembershipKey(..)")
    }
}

/// The fingerprint of a device's TLS certificate: BLAKE3 of its DER bytes.
pub fn cert_fingerprint(cert_der: &[u8]) -> [u8; 32] {
    *blake3::hash(cert_der).as_bytes()
}

/// A fingerprint as people see it: lowercase base32, no padding.
pub fn fingerprint_text(fingerprint: &[u8; 32]) -> String {
    data_encoding::BASE32_NOPAD
        .encode(fingerprint)
        .to_ascii_lowercase()
}

/// Reads a fingerprint as [`fingerprint_text`] writes it (any case).
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let upper = text.trim().to_ascii_uppercase();
    let bytes = data_encoding::BASE32_NOPAD.decode(upper.as_bytes()).ok()?;
    bytes.try_into().ok()
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
    fn membership_proofs_bind_key_side_and_session() {
        let key = NotebookSecret::generate().membership_key();
        let other = NotebookSecret::generate().membership_key();
        let session = [3u8; 32];
        let proof = key.proof(ProofSide::Client, &session);
        assert!(key.verifies(ProofSide::Client, &session, &proof));
        assert!(!key.verifies(ProofSide::Server, &session, &proof));
        assert!(!key.verifies(ProofSide::Client, &[4u8; 32], &proof));
        assert!(!other.verifies(ProofSide::Client, &session, &proof));
    }

    #[test]
    fn fingerprints_round_trip_as_text() {
        let fp = cert_fingerprint(b"certificate bytes");
        let text = fingerprint_text(&fp);
        assert_eq!(parse_fingerprint(&text), Some(fp));
        assert_eq!(parse_fingerprint(&text.to_uppercase()), Some(fp));
        assert_eq!(parse_fingerprint("nope"), None);
    }

    #[test]
    fn an_epoch_s_keys_differ_from_the_secret_s_and_its_mailbox_is_bound_to_the_relay() {
        let secret = NotebookSecret::from_bytes(&[9u8; 32]).expect("secret");
        let epoch = EpochKey::from_bytes(&[9u8; 32]).expect("epoch");
        assert_ne!(epoch.envelope_key(), secret.envelope_key());
        let session = [1u8; 32];
        let proof = epoch.membership_key().proof(ProofSide::Client, &session);
        assert!(!secret
            .membership_key()
            .verifies(ProofSide::Client, &session, &proof));
        let (id_a, token_a) = epoch.relay_mailbox(&[1u8; 32]);
        let (id_b, token_b) = epoch.relay_mailbox(&[2u8; 32]);
        assert_ne!(id_a, id_b);
        assert_ne!(token_a, token_b);
        assert_ne!(token_a, secret.relay_token());
        assert_eq!(id_a.len(), 32);
        assert_eq!(epoch.relay_mailbox(&[1u8; 32]), (id_a, token_a));
        assert!(EpochKey::from_bytes(&[0u8; 31]).is_err());
    }

    #[test]
    fn wrong_lengths_are_refused() {
        assert!(NotebookSecret::from_bytes(&[1u8; 31]).is_err());
        assert!(DeviceKey::from_bytes(&[]).is_err());
    }
}
