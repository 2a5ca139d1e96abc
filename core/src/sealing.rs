//! Sealing a small secret to one device: its long-term X25519 key receives keys (a new epoch
//! key when a device is removed) that only it can open.
//!
//! A device's X25519 secret derives from its ed25519 seed (BLAKE3 `derive_key`), so it is
//! kept exactly as well as the device key and needs no record of its own. A sealed value is
//! `ephemeral public key (32) ‖ nonce (24) ‖ XChaCha20-Poly1305 ciphertext`, the key derived
//! from the X25519 shared secret, both public keys and the caller's context string, so a
//! value sealed for one purpose or one device opens for no other.

use crate::crypto::DeviceKey;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use x25519_dalek::{PublicKey, StaticSecret};

/// Context string for deriving a device's X25519 secret from its ed25519 seed.
const SEAL_KEY_CONTEXT: &str = "duet 2026-12 device seal key v1";
/// Context string for deriving the key of one sealed value.
const SEALED_VALUE_CONTEXT: &str = "duet 2026-12 sealed value v1";
/// Bytes of an X25519 public key.
const PUBLIC_LEN: usize = 32;
/// Bytes of an XChaCha20 nonce.
const NONCE_LEN: usize = 24;
/// Bytes a sealed value adds to what it seals (ephemeral key, nonce, tag).
pub const SEAL_OVERHEAD: usize = PUBLIC_LEN + NONCE_LEN + 16;

/// Why a sealed value did not open.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// Too short, sealed to another device, for another purpose, or altered.
    #[error("the sealed value is not for this device, or it was altered")]
    NotForThisDevice,
    /// A public key that is not 32 bytes of hex.
    #[error("a device's sealing key is damaged")]
    BadPublicKey,
}

/// A device's key for opening values sealed to it.
pub struct SealKey(StaticSecret);

impl SealKey {
    /// The sealing key of a device.
    pub fn of_device(device: &DeviceKey) -> Self {
        let seed = blake3::derive_key(SEAL_KEY_CONTEXT, &device.to_bytes());
        Self(StaticSecret::from(seed))
    }

    /// The public half, as lowercase hex: what other devices seal to.
    pub fn public_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(PublicKey::from(&self.0).as_bytes())
    }

    /// Opens a value sealed to this device for `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(SealError::NotForThisDevice);
        }
        let (ephemeral, rest) = sealed.split_at(PUBLIC_LEN);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let ephemeral: [u8; PUBLIC_LEN] = ephemeral
            .try_into()
            .map_err(|_| SealError::NotForThisDevice)?;
        let ephemeral = PublicKey::from(ephemeral);
        let mine = PublicKey::from(&self.0);
        let shared = self.0.diffie_hellman(&ephemeral);
        let key = value_key(shared.as_bytes(), &ephemeral, &mine);
        XChaCha20Poly1305::new(Key::from_slice(&key))
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::NotForThisDevice)
    }
}

/// Seals `plain` to the device whose public sealing key is `recipient_hex`, for `context`.
pub fn seal_to(recipient_hex: &str, context: &str, plain: &[u8]) -> Result<Vec<u8>, SealError> {
    let raw: [u8; PUBLIC_LEN] = data_encoding::HEXLOWER_PERMISSIVE
        .decode(recipient_hex.as_bytes())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(SealError::BadPublicKey)?;
    let recipient = PublicKey::from(raw);
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let ephemeral = StaticSecret::from(seed);
    let ephemeral_public = PublicKey::from(&ephemeral);
    let shared = ephemeral.diffie_hellman(&recipient);
    let key = value_key(shared.as_bytes(), &ephemeral_public, &recipient);
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let ciphertext = XChaCha20Poly1305::new(Key::from_slice(&key))
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: context.as_bytes(),
            },
        )
        .map_err(|_| SealError::BadPublicKey)?;
    let mut out = Vec::with_capacity(SEAL_OVERHEAD + plain.len());
    out.extend_from_slice(ephemeral_public.as_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// The key of one sealed value: the shared secret bound to both public keys.
fn value_key(shared: &[u8; 32], ephemeral: &PublicKey, recipient: &PublicKey) -> [u8; 32] {
    let mut material = Vec::with_capacity(96);
    material.extend_from_slice(shared);
    material.extend_from_slice(ephemeral.as_bytes());
    material.extend_from_slice(recipient.as_bytes());
    blake3::derive_key(SEALED_VALUE_CONTEXT, &material)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_for_its_device_and_context() {
        let ana = SealKey::of_device(&DeviceKey::generate());
        let bo = SealKey::of_device(&DeviceKey::generate());
        let sealed = seal_to(&ana.public_hex(), "epoch/1", b"epoch key").expect("seal");
        assert_eq!(sealed.len(), SEAL_OVERHEAD + 9);
        assert_eq!(ana.open("epoch/1", &sealed).expect("open"), b"epoch key");
        assert_eq!(
            bo.open("epoch/1", &sealed),
            Err(SealError::NotForThisDevice)
        );
        assert_eq!(
            ana.open("epoch/2", &sealed),
            Err(SealError::NotForThisDevice)
        );
        let mut altered = sealed.clone();
        if let Some(last) = altered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(
            ana.open("epoch/1", &altered),
            Err(SealError::NotForThisDevice)
        );
        assert_eq!(
            ana.open("epoch/1", &sealed[..10]),
            Err(SealError::NotForThisDevice)
        );
    }

    #[test]
    fn a_device_s_sealing_key_is_stable_and_its_own() {
        let device = DeviceKey::generate();
        let again = DeviceKey::from_bytes(&device.to_bytes()).expect("device key");
        assert_eq!(
            SealKey::of_device(&device).public_hex(),
            SealKey::of_device(&again).public_hex()
        );
        assert_ne!(
            SealKey::of_device(&device).public_hex(),
            SealKey::of_device(&DeviceKey::generate()).public_hex()
        );
        assert_eq!(
            seal_to("zz", "c", b"x").err(),
            Some(SealError::BadPublicKey)
        );
    }
}
