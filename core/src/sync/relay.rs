//! Relay envelopes: what a device pushes to the relay and pulls from it, sealed so the
//! relay learns nothing but sizes and timing.
//!
//! An envelope holds a batch of (document id, Automerge changes, heads after them) and the
//! sender's [`Chain`] link, postcard-encoded and deflated, sealed with XChaCha20-Poly1305
//! under the notebook's envelope key with a random 24-byte nonce. The notebook id and the
//! sender's short id are the associated data, so an envelope moved to another mailbox or
//! relabelled fails to open. Even how many documents a notebook has, and which changed,
//! stay inside the ciphertext. Replays and duplicates are harmless: Automerge ignores
//! changes it has.
//!
//! The sender id is keyed by the notebook (see [`sender_id`]): the same device has
//! unrelated ids in two notebooks' mailboxes, so a relay cannot tell that one manager's
//! device writes to several reports' notebooks.
//!
//! The chain link (the sender's counter of acknowledged batches and the digest of its
//! previous one) is inside the ciphertext, so the relay can neither read nor forge it: a
//! device reading the log sees when a batch of some sender is missing between two others.
//! The sending device signs the batch with its device key (version 3), so another member,
//! who holds the envelope key too, cannot forge a link of someone else's chain (and with it
//! a report that the relay withheld that device's batches).
//!
//! Layout: version | sender (8 bytes) | nonce (24) | ciphertext. Versions 1 (no chain link,
//! an unkeyed sender id) and 2 (a chain link, unsigned) are still opened: logs written by
//! older devices stay readable.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};

const ENVELOPE_VERSION: u8 = 3;
const ENVELOPE_V1: u8 = 1;
const ENVELOPE_V2: u8 = 2;
/// What a device's signature of a batch is bound to, before the notebook and the sender.
const LINK_CONTEXT: &[u8] = b"duet envelope link v3\0";
const SENDER_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + SENDER_LEN + NONCE_LEN;
/// Domain of the key sender ids are hashed with (derived from the envelope key).
const SENDER_CONTEXT: &str = "duet relay envelope sender id v2";

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

/// A sender's link in its chain of batches for one notebook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Chain {
    /// This batch's number among the sender's batches the relay acknowledged (from 1). A
    /// batch whose push was not acknowledged is sealed again under the same number.
    pub counter: u64,
    /// The digest of the sender's previous acknowledged envelope (zeros for the first).
    pub previous: [u8; 16],
}

/// An opened envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The sender id in its header.
    pub sender: [u8; SENDER_LEN],
    /// The sender's chain link (`None` in a version-1 envelope).
    pub chain: Option<Chain>,
    /// The batch.
    pub docs: Vec<DocChanges>,
    /// The sending device's signature of the batch and its link (`None` before version 3).
    pub signature: Option<LinkSignature>,
}

/// A device's signature of a batch and its chain link, as an envelope carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSignature {
    /// What was signed (the notebook, the sender id and a digest of the batch).
    message: Vec<u8>,
    signature: [u8; 64],
}

impl Opened {
    /// Whether the device with public key `device_public_hex` signed this batch.
    pub fn signed_by(&self, device_public_hex: &str) -> bool {
        self.signature.as_ref().is_some_and(|s| {
            crate::crypto::device_signed(device_public_hex, &s.message, &s.signature)
        })
    }
}

#[derive(Serialize, Deserialize)]
struct SealedBatch {
    chain: Chain,
    docs: Vec<DocChanges>,
}

/// A version-3 envelope's plaintext: the encoded [`SealedBatch`] and its signature.
#[derive(Serialize, Deserialize)]
struct SignedBatch {
    body: Vec<u8>,
    signature: Vec<u8>,
}

/// What a device signs for a batch: the notebook, the sender id and the batch's digest.
fn link_message(notebook: &str, sender: &[u8], body: &[u8]) -> Vec<u8> {
    let mut message = LINK_CONTEXT.to_vec();
    message.extend_from_slice(notebook.as_bytes());
    message.push(0);
    message.extend_from_slice(sender);
    message.extend_from_slice(blake3::hash(body).as_bytes());
    message
}

/// A device's short id in one notebook's envelopes: 8 bytes of a BLAKE3 hash of its public
/// key, keyed by a key derived from the notebook's envelope key.
pub fn sender_id(envelope_key: &[u8; 32], device_public_hex: &str) -> [u8; SENDER_LEN] {
    let key = blake3::derive_key(SENDER_CONTEXT, envelope_key);
    let mut out = [0u8; SENDER_LEN];
    out.copy_from_slice(
        &blake3::keyed_hash(&key, device_public_hex.as_bytes()).as_bytes()[..SENDER_LEN],
    );
    out
}

/// The sender id in an envelope's header, if it has one.
pub fn sender_of(envelope: &[u8]) -> Option<[u8; SENDER_LEN]> {
    envelope.get(1..1 + SENDER_LEN)?.try_into().ok()
}

fn aad(version: u8, notebook: &str, sender: &[u8]) -> Vec<u8> {
    let mut aad = format!("duet envelope v{version}\0").into_bytes();
    aad.extend_from_slice(notebook.as_bytes());
    aad.push(0);
    aad.extend_from_slice(sender);
    aad
}

/// Seals a batch for `notebook`'s mailbox, signed by the sending device `signer`.
pub fn seal(
    key: &[u8; 32],
    notebook: &str,
    sender: [u8; SENDER_LEN],
    chain: Chain,
    batch: &[DocChanges],
    signer: &crate::crypto::DeviceKey,
) -> Vec<u8> {
    let sealed = SealedBatch {
        chain,
        docs: batch.to_vec(),
    };
    // Encoding owned data into a Vec cannot fail.
    let body = postcard::to_allocvec(&sealed).unwrap_or_default();
    let signed = SignedBatch {
        signature: signer
            .sign(&link_message(notebook, &sender, &body))
            .to_vec(),
        body,
    };
    let plain = super::peer::pack(&postcard::to_allocvec(&signed).unwrap_or_default());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: &aad(ENVELOPE_VERSION, notebook, &sender),
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
pub fn open(key: &[u8; 32], notebook: &str, envelope: &[u8]) -> Result<Opened, EnvelopeError> {
    let version = *envelope.first().ok_or(EnvelopeError::Format)?;
    if envelope.len() < HEADER_LEN + 16
        || !matches!(version, ENVELOPE_V1 | ENVELOPE_V2 | ENVELOPE_VERSION)
    {
        return Err(EnvelopeError::Format);
    }
    let mut sender = [0u8; SENDER_LEN];
    sender.copy_from_slice(&envelope[1..1 + SENDER_LEN]);
    let nonce = &envelope[1 + SENDER_LEN..HEADER_LEN];
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    let plain = cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: &envelope[HEADER_LEN..],
                aad: &aad(version, notebook, &sender),
            },
        )
        .map_err(|_| EnvelopeError::Tampered)?;
    let raw = super::peer::unpack(&plain).map_err(|_| EnvelopeError::Malformed)?;
    if version == ENVELOPE_V1 {
        let docs = postcard::from_bytes(&raw).map_err(|_| EnvelopeError::Malformed)?;
        return Ok(Opened {
            sender,
            chain: None,
            docs,
            signature: None,
        });
    }
    let (body, signature) = if version == ENVELOPE_V2 {
        (raw, None)
    } else {
        let signed: SignedBatch =
            postcard::from_bytes(&raw).map_err(|_| EnvelopeError::Malformed)?;
        let signature = <[u8; 64]>::try_from(signed.signature.as_slice())
            .map_err(|_| EnvelopeError::Malformed)?;
        let message = link_message(notebook, &sender, &signed.body);
        (signed.body, Some(LinkSignature { message, signature }))
    };
    let batch: SealedBatch = postcard::from_bytes(&body).map_err(|_| EnvelopeError::Malformed)?;
    Ok(Opened {
        sender,
        chain: Some(batch.chain),
        docs: batch.docs,
        signature,
    })
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

    fn chain() -> Chain {
        Chain {
            counter: 3,
            previous: [4u8; 16],
        }
    }

    /// An envelope of an older `version` for notebook `nb1`, as devices of that version
    /// sealed its encoded content.
    fn sealed_as(
        version: u8,
        key: &[u8; 32],
        sender: &[u8; SENDER_LEN],
        content: &[u8],
    ) -> Vec<u8> {
        let plain = crate::sync::peer::pack(content);
        let nonce = [6u8; NONCE_LEN];
        let sealed = XChaCha20Poly1305::new(Key::from_slice(key))
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &aad(version, "nb1", sender),
                },
            )
            .expect("seal");
        [&[version][..], sender, &nonce, &sealed].concat()
    }

    fn device() -> crate::crypto::DeviceKey {
        crate::crypto::DeviceKey::from_bytes(&[2u8; 32]).expect("key")
    }

    #[test]
    fn envelopes_round_trip_and_hide_their_content() {
        let key = [9u8; 32];
        let sender = sender_id(&key, "dev");
        let env = seal(&key, "nb1", sender, chain(), &batch(), &device());
        let opened = open(&key, "nb1", &env).expect("opens");
        assert_eq!(opened.sender, sender);
        assert_eq!(opened.chain, Some(chain()));
        assert_eq!(opened.docs, batch());
        let text = String::from_utf8_lossy(&env);
        assert!(!text.contains("index") && !text.contains("automerge"));
        // A fresh nonce each time: the same batch never seals the same way.
        assert_ne!(env, seal(&key, "nb1", sender, chain(), &batch(), &device()));
    }

    #[test]
    fn a_batch_is_signed_by_its_device_and_no_other() {
        let key = [9u8; 32];
        let (me, other) = (
            device(),
            crate::crypto::DeviceKey::from_bytes(&[3u8; 32]).expect("key"),
        );
        let sender = sender_id(&key, &me.public_hex());
        let opened = open(
            &key,
            "nb1",
            &seal(&key, "nb1", sender, chain(), &batch(), &me),
        )
        .expect("opens");
        assert!(opened.signed_by(&me.public_hex()));
        assert!(!opened.signed_by(&other.public_hex()));
        // Another member (it holds the envelope key) sealing a link under this sender's id
        // signs with its own key: the link is not this device's.
        let forged = open(
            &key,
            "nb1",
            &seal(&key, "nb1", sender, chain(), &batch(), &other),
        )
        .expect("opens");
        assert!(!forged.signed_by(&me.public_hex()));
        assert!(!opened.signed_by("not hex"));
    }

    #[test]
    fn a_version_2_envelope_still_opens_unsigned() {
        let key = [9u8; 32];
        let sender = [5u8; SENDER_LEN];
        let body = SealedBatch {
            chain: chain(),
            docs: batch(),
        };
        let env = sealed_as(
            ENVELOPE_V2,
            &key,
            &sender,
            &postcard::to_allocvec(&body).expect("encode"),
        );
        let opened = open(&key, "nb1", &env).expect("opens");
        assert_eq!(opened.chain, Some(chain()));
        assert_eq!(opened.docs, batch());
        assert_eq!(opened.signature, None);
        assert!(!opened.signed_by(&device().public_hex()));
    }

    #[test]
    fn one_device_has_unrelated_sender_ids_in_two_notebooks() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(sender_id(&a, "dev"), sender_id(&a, "dev"));
        assert_ne!(sender_id(&a, "dev"), sender_id(&b, "dev"));
        assert_ne!(sender_id(&a, "dev"), sender_id(&a, "other"));
    }

    #[test]
    fn a_version_1_envelope_still_opens() {
        let key = [9u8; 32];
        let sender = [5u8; SENDER_LEN];
        let env = sealed_as(
            ENVELOPE_V1,
            &key,
            &sender,
            &postcard::to_allocvec(&batch()).expect("encode"),
        );
        assert_eq!(
            open(&key, "nb1", &env),
            Ok(Opened {
                sender,
                chain: None,
                docs: batch(),
                signature: None,
            })
        );
    }

    #[test]
    fn tampering_moving_and_relabelling_are_detected() {
        let key = [9u8; 32];
        let env = seal(
            &key,
            "nb1",
            sender_id(&key, "dev"),
            chain(),
            &batch(),
            &device(),
        );
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
