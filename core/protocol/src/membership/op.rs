//! One membership operation: what it says, who signed it, which operations it follows.
//!
//! An operation is encoded with postcard, prefixed by a context string, and signed by its
//! author's device key; its id is the BLAKE3 hash of the signed encoding, so naming an
//! operation as a parent commits to everything it says and to its signature.

use crate::crypto::{device_signed, DeviceKey};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Domain separation for the signature: a membership operation's bytes can never be taken
/// for another signed message of Duet's.
const SIGNING_CONTEXT: &[u8] = b"duet 2026-12 membership operation v1\0";

/// Bytes an encoded operation may take: a notebook's membership is a few dozen small
/// operations, so anything larger is refused before it is decoded.
pub const MAX_OP_BYTES: usize = 16 * 1024;

/// Parents an operation may name (a device names the heads it knows: two or three).
pub const MAX_PARENTS: usize = 64;

/// A device, named by its public key (lowercase hex), as everywhere in a notebook.
pub type DeviceId = String;

/// A person of a space ("manager", "report"; in a personal space, its one person).
pub type Person = String;

/// The id of an operation: the BLAKE3 hash of its signed encoding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpId(pub [u8; 32]);

impl fmt::Debug for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpId({})", self.short())
    }
}

impl OpId {
    /// The first 8 hex digits, for messages.
    pub fn short(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0[..4])
    }
}

/// What an operation says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// The space begins: its author is the first device of `person`. The space's people
    /// are named once, here (two for a 1-1, one for a personal space).
    Begin {
        /// The author's person.
        person: Person,
        /// Every person of the space, the author's included.
        people: Vec<Person>,
    },
    /// `device` joins as a device of `person`.
    Add {
        /// The device that joins.
        device: DeviceId,
        /// Whose device it is.
        person: Person,
    },
    /// `device` leaves: it reads nothing written after this.
    Remove {
        /// The device removed.
        device: DeviceId,
    },
    /// A new key epoch, its key sealed to each device in `sealed_to`.
    Epoch {
        /// The epoch's number (informative: which epoch is in force follows from the log).
        number: u64,
        /// The devices the key is sealed to.
        sealed_to: Vec<DeviceId>,
        /// The hash of the sealed keys as stored beside the log, so that what a device
        /// opens is what the author signed.
        seals: [u8; 32],
    },
    /// An existing epoch's key, sealed to a device that joined after it was made.
    Share {
        /// The epoch (its `Epoch` operation).
        epoch: OpId,
        /// The device it is sealed to.
        device: DeviceId,
        /// The hash of the sealed key.
        seal: [u8; 32],
    },
    /// A one-time invite: whoever holds the private half of `key` may join once as a
    /// device of `person` (the invite's ticket carries it).
    Invite {
        /// The invite's public key (hex), made for this invite alone.
        key: DeviceId,
        /// Whose device the joiner becomes.
        person: Person,
    },
    /// The author joins by an invite: the author is the new device, and `proof` is the
    /// invite key's signature of [`join_proof_bytes`].
    Join {
        /// The `Invite` operation.
        invite: OpId,
        /// The invite key's signature, showing the author holds the ticket.
        #[serde(with = "signature_bytes")]
        proof: [u8; 64],
    },
    /// The space ends (a 1-1 that ended): read-only from here on.
    End,
    /// In a space whose membership was kept in plain records before its log (a *migrated*
    /// space, see [`crate::membership::Log::migrated`]), the author claims its place as a
    /// device of `person`, as those records listed it. Like a join, a removal cancels
    /// every claim it does not follow.
    Claim {
        /// Whose device the author is.
        person: Person,
    },
}

/// What an invite's key signs for the device that joins with it: the space, the invite
/// and the joining device, so a proof can be used for no other device or space.
pub fn join_proof_bytes(space: &str, invite: &OpId, device: &str) -> Vec<u8> {
    let mut bytes = b"duet 2026-12 join proof v1\0".to_vec();
    bytes.extend(postcard::to_allocvec(&(space, invite, device)).unwrap_or_default());
    bytes
}

impl Body {
    /// What kind of operation this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Begin { .. } => "begin",
            Body::Add { .. } => "add",
            Body::Remove { .. } => "remove",
            Body::Epoch { .. } => "epoch",
            Body::Share { .. } => "share",
            Body::Invite { .. } => "invite",
            Body::Join { .. } => "join",
            Body::End => "end",
            Body::Claim { .. } => "claim",
        }
    }
}

/// An operation as its author wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// The space it belongs to (a notebook's id, or a personal space's).
    pub space: String,
    /// The operations its author knew of as the latest (empty only for `Begin`).
    pub parents: Vec<OpId>,
    /// The device that made and signed it.
    pub author: DeviceId,
    /// What it says.
    pub body: Body,
}

/// An operation and its author's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedOp {
    /// The operation.
    pub op: Op,
    /// The author's ed25519 signature of [`Op::signing_bytes`].
    #[serde(with = "signature_bytes")]
    pub signature: [u8; 64],
}

/// Why an operation's bytes were refused before any rule was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    /// Larger than [`MAX_OP_BYTES`].
    #[error("a membership operation of {0} bytes is over the limit")]
    TooLarge(usize),
    /// Not an operation's encoding.
    #[error("not a membership operation: {0}")]
    Malformed(String),
    /// More parents than [`MAX_PARENTS`].
    #[error("a membership operation names {0} parents, over the limit")]
    TooManyParents(usize),
    /// The signature is not its author's.
    #[error("the signature of a membership operation is not its author's")]
    BadSignature,
}

impl Op {
    /// The bytes its author signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut bytes = SIGNING_CONTEXT.to_vec();
        // Encoding an in-memory value of plain fields cannot fail.
        bytes.extend(postcard::to_allocvec(self).unwrap_or_default());
        bytes
    }

    /// Signs it with `key`, which must be its author's.
    pub fn sign(self, key: &DeviceKey) -> SignedOp {
        let signature = key.sign(&self.signing_bytes());
        SignedOp {
            op: self,
            signature,
        }
    }
}

impl SignedOp {
    /// Its encoding, as stored and sent.
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Its id.
    pub fn id(&self) -> OpId {
        OpId(*blake3::hash(&self.to_bytes()).as_bytes())
    }

    /// Reads an operation from `bytes` and checks its signature.
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedOp, OpError> {
        if bytes.len() > MAX_OP_BYTES {
            return Err(OpError::TooLarge(bytes.len()));
        }
        let op: SignedOp =
            postcard::from_bytes(bytes).map_err(|e| OpError::Malformed(e.to_string()))?;
        op.check()?;
        Ok(op)
    }

    /// Whether it is within the limits and signed by its author.
    pub fn check(&self) -> Result<(), OpError> {
        if self.op.parents.len() > MAX_PARENTS {
            return Err(OpError::TooManyParents(self.op.parents.len()));
        }
        if !device_signed(&self.op.author, &self.op.signing_bytes(), &self.signature) {
            return Err(OpError::BadSignature);
        }
        Ok(())
    }
}

/// serde for a 64-byte signature (serde's arrays stop at 32).
mod signature_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let bytes: &[u8] = Deserialize::deserialize(d)?;
        <[u8; 64]>::try_from(bytes)
            .map_err(|_| serde::de::Error::invalid_length(bytes.len(), &"64"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(key: &DeviceKey) -> SignedOp {
        Op {
            space: "s".into(),
            parents: vec![],
            author: key.public_hex(),
            body: Body::Begin {
                person: "manager".into(),
                people: vec!["manager".into(), "report".into()],
            },
        }
        .sign(key)
    }

    #[test]
    fn an_operation_reads_back_with_its_id_and_signature() {
        let key = DeviceKey::generate();
        let op = begin(&key);
        let back = SignedOp::from_bytes(&op.to_bytes()).expect("reads back");
        assert_eq!(back, op);
        assert_eq!(back.id(), op.id());
    }

    #[test]
    fn an_operation_changed_after_signing_or_signed_by_another_is_refused() {
        let key = DeviceKey::generate();
        let mut op = begin(&key);
        op.op.space = "other".into();
        assert_eq!(
            SignedOp::from_bytes(&op.to_bytes()),
            Err(OpError::BadSignature)
        );
        let thief = DeviceKey::generate();
        let mut forged = begin(&thief);
        forged.op.author = key.public_hex();
        assert_eq!(forged.check(), Err(OpError::BadSignature));
    }

    #[test]
    fn oversized_and_malformed_bytes_are_refused_before_decoding() {
        assert_eq!(
            SignedOp::from_bytes(&vec![0; MAX_OP_BYTES + 1]),
            Err(OpError::TooLarge(MAX_OP_BYTES + 1))
        );
        assert!(matches!(
            SignedOp::from_bytes(&[1, 2, 3]),
            Err(OpError::Malformed(_))
        ));
    }
}
