//! Relay envelopes: what a device pushes to the relay and pulls from it, sealed so the
//! relay learns nothing but sizes and timing.
//!
//! An envelope holds a batch of (document id, Automerge changes, heads after them),
//! postcard-encoded and deflated, sealed with XChaCha20-Poly1305 under the notebook's
//! envelope key with a random 24-byte nonce. The notebook id and the sender's short id are
//! the associated data, so an envelope moved to another mailbox or relabelled fails to
//! open. Even how many documents a notebook has, and which changed, stay inside the
//! ciphertext. Replays and duplicates are harmless: Automerge ignores changes it has.
//!
//! Layout: `1` (version) | sender (8 bytes) | nonce (24) | ciphertext.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};

const ENVELOPE_VERSION: u8 = 1;
const SENDER_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + SENDER_LEN + NONCE_LEN;

/// Errors opening an envelope.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Too short, or another version.
    #[error("not a Duet envelope of a known version")]
    Format,
    /// The ciphertext or its associated data was changed, or another notebook's key.
    #[error("the envelope fails authentication (tampered, or for another notebook)")]
    Tampered,
    /// It opened but does not hold a batch.
    #[error("the envelope holds no readable batch")]
    Malformed,
}

/// One document's part of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocChanges {
    /// The document id within the notebook.
    pub doc: String,
    /// Automerge bytes `load_incremental` takes (a bundle, change chunks, or a document).
    pub changes: Vec<u8>,
    /// The document's heads after these changes, on the sender.
    pub heads: Vec<[u8; 32]>,
}

/// A device's short id in envelopes: 8 bytes of BLAKE3 of its public key.
pub fn sender_id(device_public_hex: &str) -> [u8; SENDER_LEN] {
    let mut out = [0u8; SENDER_LEN];
    out.copy_from_slice(&blake3::hash(device_public_hex.as_bytes()).as_bytes()[..SENDER_LEN]);
    out
}

/// The sender id in an envelope's header, if it has one.
pub fn sender_of(envelope: &[u8]) -> Option<[u8; SENDER_LEN]> {
    envelope.get(1..1 + SENDER_LEN)?.try_into().ok()
}

fn aad(notebook: &str, sender: &[u8]) -> Vec<u8> {
    let mut aad = b"duet envelope v1\0".to_vec();
    aad.extend_from_slice(notebook.as_bytes());
    aad.push(0);
    aad.extend_from_slice(sender);
    aad
}

/// Seals a batch for `notebook`'s mailbox.
pub fn seal(
    key: &[u8; 32],
    notebook: &str,
    sender: [u8; SENDER_LEN],
    batch: &[DocChanges],
) -> Vec<u8> {
    // Encoding owned data into a Vec cannot fail.
    let plain = super::peer::pack(&postcard::to_allocvec(batch).unwrap_or_default());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: &aad(notebook, &sender),
            },
        )
        .unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
    out.push(ENVELOPE_VERSION);
    out.extend_from_slice(&sender);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

/// Opens an envelope of `notebook`'s mailbox.
pub fn open(
    key: &[u8; 32],
    notebook: &str,
    envelope: &[u8],
) -> Result<Vec<DocChanges>, EnvelopeError> {
    if envelope.len() < HEADER_LEN + 16 || envelope[0] != ENVELOPE_VERSION {
        return Err(EnvelopeError::Format);
    }
    let sender = &envelope[1..1 + SENDER_LEN];
    let nonce = &envelope[1 + SENDER_LEN..HEADER_LEN];
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    let plain = cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: &envelope[HEADER_LEN..],
                aad: &aad(notebook, sender),
            },
        )
        .map_err(|_| EnvelopeError::Tampered)?;
    let raw = super::peer::unpack(&plain).map_err(|_| EnvelopeError::Malformed)?;
    postcard::from_bytes(&raw).map_err(|_| EnvelopeError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn batch() -> Vec<DocChanges> {
        vec![DocChanges {
            doc: "index".into(),
            changes: b"some automerge bytes".to_vec(),
            heads: vec![[3u8; 32]],
        }]
    }

    #[test]
    fn envelopes_round_trip_and_hide_their_content() {
        let key = [9u8; 32];
        let env = seal(&key, "nb1", sender_id("dev"), &batch());
        assert_eq!(open(&key, "nb1", &env), Ok(batch()));
        let text = String::from_utf8_lossy(&env);
        assert!(!text.contains("index") && !text.contains("automerge"));
        // A fresh nonce each time: the same batch never seals the same way.
        assert_ne!(env, seal(&key, "nb1", sender_id("dev"), &batch()));
    }

    #[test]
    fn tampering_moving_and_relabelling_are_detected() {
        let key = [9u8; 32];
        let env = seal(&key, "nb1", sender_id("dev"), &batch());
        for at in [0usize, 3, 20, env.len() / 2, env.len() - 1] {
            let mut bad = env.clone();
            bad[at] ^= 0x40;
            assert!(open(&key, "nb1", &bad).is_err(), "flip at {at} went unseen");
        }
        assert_eq!(open(&key, "nb2", &env), Err(EnvelopeError::Tampered));
        assert_eq!(open(&[8u8; 32], "nb1", &env), Err(EnvelopeError::Tampered));
        assert_eq!(open(&key, "nb1", &env[..10]), Err(EnvelopeError::Format));
    }

    proptest! {
        #[test]
        fn opening_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = open(&[1u8; 32], "nb", &bytes);
        }
    }
}
