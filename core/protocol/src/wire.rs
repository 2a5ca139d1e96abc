//! What devices say to each other: versioned messages (serde, postcard) in length-prefixed
//! frames with a hard maximum size.
//!
//! A frame is a 4-byte big-endian length, then that many bytes: one version byte and the
//! postcard encoding of a [`Message`]. The length is checked against [`MAX_FRAME`] before
//! anything is allocated, so a peer claiming 4 GiB costs nothing. A frame of another
//! version is answered with a [`Message::Error`] in this version, which names both
//! versions, so each end can tell its user to update.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u8 = 1;

/// The largest frame accepted or sent: 16 MiB. The biggest message is one document's whole
/// history for a device that has never seen it; a five-year notebook is ~1 MB in all.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// The largest frame read from someone who has proven nothing yet: a peer before its
/// membership proof, a relay client before its token opened a mailbox. A hello holds at
/// most `MAX_PROOFS` (1024) 32-byte proofs and an `Open` a few ids
/// and tokens, so 64 KiB is room to spare, and a stranger costs at most that much memory.
pub const MAX_UNPROVEN_FRAME: usize = 64 * 1024;

/// Errors of the wire format.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The length prefix exceeds the limit for this point of the exchange.
    #[error("the peer sent a frame of {len} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// The announced length.
        len: u64,
        /// The limit it broke ([`MAX_FRAME`], or less before proof).
        limit: usize,
    },
    /// The frame was empty (no version byte).
    #[error("the peer sent an empty frame")]
    Empty,
    /// The frame speaks another protocol version.
    #[error("the peer speaks Duet sync protocol v{theirs}, this device v{PROTOCOL_VERSION}; update Duet on both devices")]
    Version {
        /// The peer's version.
        theirs: u8,
    },
    /// The bytes are not a message of this version.
    #[error("the peer sent a malformed message: {0}")]
    Malformed(String),
    /// The stream ended or failed.
    #[error("the connection failed: {0}")]
    Io(#[from] std::io::Error),
}

/// One sync step's view of a document's heads: in full, or as a digest when the sender
/// believes both ends already agree on them (a few bytes instead of 32 per head).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Heads {
    /// The heads themselves.
    Full(Vec<[u8; 32]>),
    /// A 16-byte digest of the heads the sender last shared with the receiver.
    Shared([u8; 16]),
}

/// What one side has of a document, and the changes it believes the other side lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocOffer {
    /// The document id within the notebook.
    pub doc: String,
    /// The sender's heads.
    pub heads: Heads,
    /// A compressed batch of Automerge change bytes (empty when there is nothing to send).
    pub changes: Vec<u8>,
}

/// One step of Automerge's own sync protocol for one document: the fallback when a side
/// cannot tell exactly what the other lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundEntry {
    /// The document id within the notebook.
    pub doc: String,
    /// An encoded Automerge sync message, or `None` when this side has nothing to say.
    pub message: Option<Vec<u8>>,
}

/// Every message of the P2P protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Client → server on the control stream: a membership proof per notebook it holds.
    Hello {
        /// Proofs, see [`crate::crypto::MembershipKey::proof`].
        proofs: Vec<[u8; 32]>,
    },
    /// Server → client: the server's proofs for the notebooks both hold.
    Welcome {
        /// The index of the client's proof each answers, and the server's proof.
        proofs: Vec<(u32, [u8; 32])>,
    },
    /// Client → server, first on each notebook stream: which notebook it syncs.
    Open {
        /// The public notebook id.
        notebook: String,
    },
    /// What the sender has of one document (and the changes the other side lacks).
    Offer(DocOffer),
    /// The sender has offered every document; the rest are summed up here.
    OfferEnd {
        /// The documents still at the heads last shared with the receiver.
        unchanged: Unchanged,
    },
    /// The server's reply for one document.
    Answer(DocOffer),
    /// The server has answered; these documents need Automerge's sync protocol.
    AnswerEnd {
        /// Documents to sync with rounds of [`Message::Round`].
        fallback: Vec<String>,
        /// Whether the client's summary of unchanged documents matched; if not, the client
        /// adds those documents to the fallback.
        summary_matched: bool,
    },
    /// One round of Automerge's sync protocol over several documents.
    Round(Vec<RoundEntry>),
    /// The client is done with this notebook.
    Done,
    /// Something went wrong; the sender closes the stream after this.
    Error {
        /// What happened, for the other device's user.
        message: String,
    },
    /// Client → server instead of a hello: redeems a one-time invite with a proof of its
    /// key bound to this TLS session.
    Redeem {
        /// The notebook's public id.
        notebook: String,
        /// The invite's id.
        invite: String,
        /// The proof (a MAC with a key derived from the invite key over the exporter).
        proof: [u8; 32],
    },
    /// Server → client: the invite's grant (postcard), sent over this TLS session only.
    Granted {
        /// The encoded grant.
        grant: Vec<u8>,
    },
    /// Server → client: the invite was refused.
    InviteRefused {
        /// Why.
        why: InviteRefusal,
    },
}

/// Why an inviting device refused a one-time invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum InviteRefusal {
    /// Already used by another device.
    #[error("this invite was already used by another device; ask for a new one")]
    Used,
    /// Past its expiry.
    #[error("this invite has expired; ask for a new one")]
    Expired,
    /// Revoked by the person who made it.
    #[error("this invite was revoked by the person who made it; ask for a new one")]
    Revoked,
    /// The inviting device knows no such invite (or the proof was wrong).
    #[error("the inviting device knows no such invite")]
    Unknown,
}

/// Why a relay refused a request. The same code for a missing mailbox and a wrong token, so
/// nobody learns which mailboxes exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelayRefusal {
    /// No such mailbox, or the token does not open it.
    NoMailbox,
    /// The relay requires a team token to create mailboxes, and none (or a wrong one) came.
    TeamTokenRequired,
    /// The mailbox is over its quota.
    QuotaExceeded,
    /// Too many requests on this connection; slow down.
    RateLimited,
    /// The request was malformed or out of order.
    BadRequest,
    /// The relay is shutting down or failing; retry later.
    Unavailable,
    /// The mailbox was retired when its notebook moved to new keys: it is read, never
    /// written, any more.
    Retired,
    /// The relay does not take this push endpoint: wake-ups are off, the endpoint's host
    /// is not one it allows, or the mailbox holds as many endpoints as it may.
    WakeRefused,
}

/// A device's request to a relay: the first frame of a stream names and opens the mailbox,
/// the second is the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelayRequest {
    /// Opens a mailbox (creating it with this token's verifier when `create` is set).
    Open {
        /// The notebook's public id (hex).
        mailbox: String,
        /// The notebook's relay token.
        token: [u8; 32],
        /// Create the mailbox if it does not exist.
        create: bool,
        /// The team token, where the relay requires one to create mailboxes.
        team_token: Option<String>,
    },
    /// Appends an envelope to the mailbox's log.
    Push {
        /// The sealed envelope.
        envelope: Vec<u8>,
    },
    /// Entries after a sequence number.
    Pull {
        /// The last sequence number the device has.
        after: u64,
    },
    /// Entries after a sequence number, then every new one as it arrives, until the stream
    /// closes.
    Subscribe {
        /// The last sequence number the device has.
        after: u64,
    },
    /// Replaces the entries up to `upto` with one envelope covering them.
    Compact {
        /// The last sequence number the snapshot covers.
        upto: u64,
        /// The sealed snapshot.
        envelope: Vec<u8>,
    },
    /// Retires the mailbox: its notebook moved to new keys (a device was removed). It is
    /// still read (a device offline during the move finds its new keys there), but never
    /// written again: pushes and compactions are refused.
    Retire,
    /// Deletes a retired mailbox whole (its 1-1 ended and both sides know).
    Delete,
    /// Takes a mailbox whole: its entries in one reply, and the mailbox deleted in the same
    /// step, so that of two takers one gets them and the other finds no mailbox (a
    /// one-time invite's welcome). A relay older than this request closes the stream.
    Take,
    /// Closes a mailbox whose 1-1 ended: read, never written, like a retired one, but its
    /// members may delete it (the end is the last thing in it). A retired mailbox stays
    /// retired. A relay older than this request closes the stream.
    Close,
    /// Sets (or, with no endpoint, removes) this device's push endpoint for the mailbox,
    /// under a slot only this device can name (`crate::wake`): the relay POSTs a
    /// content-free wake-up there when an envelope lands. A relay older than this request
    /// closes the stream.
    SetWake {
        /// The device's secret slot for this mailbox (`crate::wake::wake_slot`).
        slot: [u8; 32],
        /// The push endpoint's URL, or `None` to stop wake-ups to this slot.
        endpoint: Option<String>,
    },
}

/// A relay's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelayReply {
    /// The mailbox is open; its last sequence number.
    Opened {
        /// The newest entry's sequence number (0 when empty).
        head: u64,
    },
    /// The envelope is durably stored under this sequence number.
    Pushed {
        /// Its sequence number.
        seq: u64,
    },
    /// Entries, oldest first; `more` when the reply was cut at the frame limit.
    Entries {
        /// (sequence number, envelope).
        entries: Vec<(u64, Vec<u8>)>,
        /// Whether more entries follow in a next frame.
        more: bool,
    },
    /// The compaction is stored.
    Compacted {
        /// The first sequence number still kept after the snapshot.
        upto: u64,
    },
    /// Refused.
    Refused {
        /// Why, as a code.
        why: RelayRefusal,
        /// Why, for the user.
        message: String,
    },
    /// The mailbox is retired.
    Retired,
    /// The mailbox is deleted.
    Deleted,
    /// The mailbox is closed.
    Closed,
    /// The push endpoint is set (or removed).
    WakeSet,
}

/// Encodes a message (of the P2P or the relay protocol) as a whole frame, length prefix
/// included.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, WireError> {
    let mut body = vec![PROTOCOL_VERSION];
    body = postcard::to_extend(message, body).map_err(|e| WireError::Malformed(e.to_string()))?;
    if body.len() > MAX_FRAME {
        return Err(WireError::TooLarge {
            len: body.len() as u64,
            limit: MAX_FRAME,
        });
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Decodes a frame's body (the bytes after the length prefix).
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    let (&version, rest) = body.split_first().ok_or(WireError::Empty)?;
    if version != PROTOCOL_VERSION {
        return Err(WireError::Version { theirs: version });
    }
    let (message, extra) =
        postcard::take_from_bytes(rest).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !extra.is_empty() {
        return Err(WireError::Malformed(format!(
            "{} bytes after the message",
            extra.len()
        )));
    }
    Ok(message)
}

/// Checks a length prefix against [`MAX_FRAME`] before anything is allocated for the frame.
pub fn check_length(prefix: [u8; 4]) -> Result<usize, WireError> {
    check_length_within(prefix, MAX_FRAME)
}

/// Checks a length prefix against `limit` (at most [`MAX_FRAME`]).
pub fn check_length_within(prefix: [u8; 4], limit: usize) -> Result<usize, WireError> {
    let limit = limit.min(MAX_FRAME);
    let len = u32::from_be_bytes(prefix) as usize;
    if len > limit {
        return Err(WireError::TooLarge {
            len: len as u64,
            limit,
        });
    }
    Ok(len)
}

/// Reads one frame of at most [`MAX_FRAME`]; `Ok(None)` when the stream ended cleanly
/// before a frame began.
pub async fn read<T: serde::de::DeserializeOwned, R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Option<T>, WireError> {
    read_within(reader, MAX_FRAME).await
}

/// Reads one frame of at most `limit` bytes: [`MAX_UNPROVEN_FRAME`] from someone unproven.
/// A longer one is refused from its length prefix, before its body is read.
pub async fn read_within<T: serde::de::DeserializeOwned, R: AsyncRead + Unpin>(
    reader: &mut R,
    limit: usize,
) -> Result<Option<T>, WireError> {
    Ok(read_sized_within(reader, limit).await?.map(|(m, _)| m))
}

/// Like [`read`], with the frame's size on the wire.
pub async fn read_sized<T: serde::de::DeserializeOwned, R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Option<(T, usize)>, WireError> {
    read_sized_within(reader, MAX_FRAME).await
}

async fn read_sized_within<T: serde::de::DeserializeOwned, R: AsyncRead + Unpin>(
    reader: &mut R,
    limit: usize,
) -> Result<Option<(T, usize)>, WireError> {
    let mut prefix = [0u8; 4];
    match reader.read_exact(&mut prefix).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = check_length_within(prefix, limit)?;
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).await?;
    decode(&body).map(|m| Some((m, 4 + len)))
}

/// Writes one frame.
pub async fn write<T: Serialize, W: AsyncWrite + Unpin>(
    writer: &mut W,
    message: &T,
) -> Result<usize, WireError> {
    let frame = encode(message)?;
    writer.write_all(&frame).await?;
    Ok(frame.len())
}

/// A summary of the documents a client believes are still at the heads it last shared
/// with the server: how many, and a digest of their ids and heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Unchanged {
    /// How many documents.
    pub count: u32,
    /// BLAKE3 over the sorted (id, heads digest) pairs, 16 bytes.
    pub digest: [u8; 16],
}

impl Unchanged {
    /// The summary of these (document id, heads digest) pairs.
    pub fn of(pairs: &[(String, [u8; 16])]) -> Unchanged {
        let mut sorted: Vec<&(String, [u8; 16])> = pairs.iter().collect();
        sorted.sort();
        let mut h = blake3::Hasher::new();
        for (id, d) in sorted {
            h.update(&(id.len() as u32).to_be_bytes());
            h.update(id.as_bytes());
            h.update(d);
        }
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&h.finalize().as_bytes()[..16]);
        Unchanged {
            count: pairs.len() as u32,
            digest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn messages_round_trip() {
        let msg = Message::Offer(DocOffer {
            doc: "index".into(),
            heads: Heads::Full(vec![[9u8; 32]]),
            changes: vec![1, 2, 3],
        });
        let frame = encode(&msg).expect("encodes");
        assert_eq!(decode::<Message>(&frame[4..]).expect("decodes"), msg);
    }

    #[test]
    fn another_version_is_named() {
        let mut frame = encode(&Message::Done).expect("encodes");
        frame[4] = 2;
        let err = decode::<Message>(&frame[4..]).expect_err("version 2 refused");
        assert!(err.to_string().contains("v2"), "{err}");
    }

    #[test]
    fn an_unproven_frame_over_its_limit_is_refused_after_its_length_alone() {
        let mut frame = encode(&Message::Hello {
            proofs: vec![[7u8; 32]; MAX_UNPROVEN_FRAME / 32 + 1],
        })
        .expect("encodes");
        assert!(frame.len() > MAX_UNPROVEN_FRAME + 4);
        frame.extend_from_slice(&[0u8; 1024]);
        let mut reader: &[u8] = &frame;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let err = rt
            .block_on(read_within::<Message, _>(&mut reader, MAX_UNPROVEN_FRAME))
            .expect_err("refused");
        assert!(
            matches!(
                err,
                WireError::TooLarge {
                    limit: MAX_UNPROVEN_FRAME,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            frame.len() - reader.len(),
            4,
            "only the length prefix was read"
        );

        let hello = encode(&Message::Hello {
            proofs: vec![[7u8; 32]; 1024],
        })
        .expect("encodes");
        let mut reader: &[u8] = &hello;
        let read = rt.block_on(read_within::<Message, _>(&mut reader, MAX_UNPROVEN_FRAME));
        assert!(
            matches!(read, Ok(Some(Message::Hello { .. }))),
            "the largest hello fits"
        );
    }

    #[test]
    fn a_huge_length_is_refused_before_allocating() {
        assert!(matches!(
            check_length(u32::MAX.to_be_bytes()),
            Err(WireError::TooLarge { .. })
        ));
    }

    #[tokio::test]
    async fn a_claimed_four_gib_frame_reads_as_an_error() {
        let mut bytes: &[u8] = &[0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        assert!(matches!(
            read::<Message, _>(&mut bytes).await,
            Err(WireError::TooLarge { .. })
        ));
    }

    proptest! {
        #[test]
        fn decoding_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode::<Message>(&bytes);
        }

        #[test]
        fn decoding_any_bytes_as_relay_messages_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode::<RelayRequest>(&bytes);
            let _ = decode::<RelayReply>(&bytes);
        }

        #[test]
        fn decoding_mutated_relay_requests_never_panics(
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)
        ) {
            let msg = RelayRequest::Open { mailbox: "ab".repeat(16), token: [3; 32], create: true, team_token: Some("dt_x".into()) };
            let mut frame = encode(&msg).expect("encodes");
            for (at, byte) in flips {
                let at = at % frame.len();
                frame[at] ^= byte;
            }
            let _ = decode::<RelayRequest>(&frame[4..]);
        }

        #[test]
        fn decoding_mutated_frames_never_panics(
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)
        ) {
            let msg = Message::Round(vec![RoundEntry { doc: "m1".into(), message: Some(vec![7; 40]) }]);
            let mut frame = encode(&msg).expect("encodes");
            for (at, byte) in flips {
                let at = at % frame.len();
                frame[at] ^= byte;
            }
            let _ = decode::<Message>(&frame[4..]);
        }
    }
}
