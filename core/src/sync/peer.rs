//! Device-to-device sync of one notebook, with no sockets: what to offer, how to answer,
//! and Automerge's sync protocol as the fallback.
//!
//! The exchange is one round trip when each side remembers what it last shared with the
//! other (the heads in a persisted [`State`]):
//!
//! 1. The client offers every document: the heads digest alone when its heads are still the
//!    ones it last shared (a few bytes), otherwise its heads plus a compressed batch of the
//!    changes made since the shared heads.
//! 2. The server applies those changes; for every document where it now holds all of the
//!    client's heads it knows exactly what the client lacks and sends just that. Documents
//!    the client does not have at all are sent whole.
//! 3. Where either side cannot tell (no shared state yet, a dependency missing, a restored
//!    backup), that document falls back to Automerge's own sync protocol, with its
//!    [`State`] persisted per peer and document, in rounds until both sides are quiet.

pub use crate::wire::Unchanged;
use crate::wire::{DocOffer, Heads, RoundEntry};
use automerge::sync::{Message as AmSyncMessage, State, SyncDoc};
use automerge::{AutoCommit, ChangeHash};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

pub use super::limits::MAX_BATCH_BYTES;
/// Fallback rounds before a sync is declared stuck (Automerge needs 2–4 in practice).
pub const MAX_ROUNDS: usize = 32;

/// Errors of a notebook's sync.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The peer sent bytes that are not Automerge changes or sync messages.
    #[error("the peer sent damaged sync data for document {doc}: {detail}")]
    Damaged {
        /// The document.
        doc: String,
        /// What was wrong.
        detail: String,
    },
    /// The peer broke the protocol's order.
    #[error("the peer broke the sync protocol: {0}")]
    Protocol(String),
    /// The other device ended the sync with an error of its own.
    #[error("the other device reported: {0}")]
    Refused(String),
    /// What the peer sent breaks a limit (a bomb, or a runaway device).
    #[error("refused what the peer sent: {0}")]
    Limit(#[from] super::limits::LimitError),
    /// The documents could not be read or written here (the device's own error, boxed:
    /// this layer names nothing above it).
    #[error("{0}")]
    Local(Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// A notebook's documents as the sync sees them. The façade implements it over the store.
pub trait PeerDocs {
    /// Every document id this side has.
    fn doc_ids(&mut self) -> Result<Vec<String>, SyncError>;
    /// A document's heads, cheaply (without loading the document when possible).
    fn heads(&mut self, doc: &str) -> Result<Vec<ChangeHash>, SyncError>;
    /// The document, loaded; a document this side lacks starts empty.
    fn doc(&mut self, doc: &str) -> Result<&mut AutoCommit, SyncError>;
    /// Whether `doc` is an id this notebook may hold (peers can send anything).
    fn accepts(&self, doc: &str) -> bool;
    /// The persisted sync state with this peer for `doc`, if any.
    fn state(&mut self, doc: &str) -> Result<Option<State>, SyncError>;
    /// Every persisted sync state with this peer, by document.
    fn states(&mut self) -> Result<Vec<(String, State)>, SyncError>;
    /// Whether this side has synced this notebook with this peer before: then a document
    /// with no state is one made since, which the peer cannot have.
    fn synced_before(&mut self) -> Result<bool, SyncError>;
}

/// One side's running sync of one notebook: states in memory until the end, and which
/// documents changed here.
pub struct PeerSync {
    states: BTreeMap<String, State>,
    /// Heads of each document before this sync first changed it.
    pub changed: BTreeMap<String, Vec<ChangeHash>>,
    /// Changes this side sent.
    pub sent_changes: usize,
    /// Documents the client's summary stood for.
    unchanged: Vec<String>,
}

impl Default for PeerSync {
    fn default() -> Self {
        Self::new()
    }
}

impl PeerSync {
    /// A new session.
    pub fn new() -> PeerSync {
        PeerSync {
            states: BTreeMap::new(),
            changed: BTreeMap::new(),
            sent_changes: 0,
            unchanged: Vec::new(),
        }
    }

    /// The states to persist when the session ends, by document.
    pub fn states(&self) -> impl Iterator<Item = (&String, &State)> {
        self.states.iter()
    }

    fn state_of(&mut self, docs: &mut dyn PeerDocs, doc: &str) -> Result<State, SyncError> {
        if let Some(state) = self.states.get(doc) {
            return Ok(state.clone());
        }
        Ok(docs.state(doc)?.unwrap_or_default())
    }

    fn remember_shared(&mut self, doc: &str, heads: Vec<ChangeHash>) {
        let mut state = State::new();
        state.shared_heads = heads;
        self.states.insert(doc.to_owned(), state);
    }

    /// Applies a batch to `doc`, noting the heads before the first change.
    fn apply(
        &mut self,
        docs: &mut dyn PeerDocs,
        doc: &str,
        packed: &[u8],
    ) -> Result<(), SyncError> {
        if packed.is_empty() {
            return Ok(());
        }
        let bytes = unpack(packed).map_err(|detail| SyncError::Damaged {
            doc: doc.to_owned(),
            detail,
        })?;
        let am = docs.doc(doc)?;
        let before = am.get_heads();
        // Automerge's decoder runs on bytes a peer chose: a panic in it must end this
        // notebook's sync with an error, not take the process down.
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| am.load_incremental(&bytes)));
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(SyncError::Damaged {
                    doc: doc.to_owned(),
                    detail: e.to_string(),
                })
            }
            Err(_) => {
                return Err(SyncError::Damaged {
                    doc: doc.to_owned(),
                    detail: "the change decoder gave up".into(),
                })
            }
        }
        // The session's documents are its own copy: a refusal here merges nothing.
        super::limits::check_doc(doc, am)?;
        if am.get_heads() != before {
            self.changed.entry(doc.to_owned()).or_insert(before);
        }
        Ok(())
    }

    // ---- client --------------------------------------------------------------------------

    /// Step 1 (client): what this side has of every document. Documents still at the heads
    /// last shared with the peer are not listed one by one: they go into one
    /// [`Unchanged`] summary, a few bytes for the whole notebook.
    pub fn offers(
        &mut self,
        docs: &mut dyn PeerDocs,
    ) -> Result<(Vec<DocOffer>, Unchanged), SyncError> {
        let synced_before = docs.synced_before()?;
        let mut offers = Vec::new();
        let mut unchanged = Vec::new();
        for id in docs.doc_ids()? {
            let heads = docs.heads(&id)?;
            let state = docs.state(&id)?;
            let shared = match &state {
                Some(state) => Some(state.shared_heads.clone()),
                None if synced_before => Some(Vec::new()),
                None => None,
            };
            let offer = match shared {
                Some(shared) if sorted(&shared) == sorted(&heads) && !heads.is_empty() => {
                    unchanged.push((id, digest(&heads)));
                    continue;
                }
                Some(shared) => {
                    let am = docs.doc(&id)?;
                    let (changes, count) = changes_since(am, &shared).unwrap_or_default();
                    self.sent_changes += count;
                    DocOffer {
                        doc: id,
                        heads: Heads::Full(raw(&heads)),
                        changes,
                    }
                }
                None => DocOffer {
                    doc: id,
                    heads: Heads::Full(raw(&heads)),
                    changes: Vec::new(),
                },
            };
            offers.push(offer);
        }
        let summary = Unchanged::of(&unchanged);
        self.unchanged = unchanged.into_iter().map(|(id, _)| id).collect();
        Ok((offers, summary))
    }

    /// Step 3 (client): applies the server's answers. Returns the documents that need
    /// Automerge's sync protocol after all.
    pub fn take_answers(
        &mut self,
        docs: &mut dyn PeerDocs,
        answers: Vec<DocOffer>,
        mut fallback: Vec<String>,
        summary_matched: bool,
    ) -> Result<Vec<String>, SyncError> {
        if !summary_matched {
            // The peer remembers our last sync differently (it lost it, or we were
            // restored from a backup): settle those documents with the full protocol.
            for id in std::mem::take(&mut self.unchanged) {
                if !fallback.contains(&id) {
                    fallback.push(id);
                }
            }
        }
        for answer in answers {
            if !docs.accepts(&answer.doc) {
                return Err(SyncError::Protocol(format!(
                    "answer for an impossible document {:?}",
                    answer.doc
                )));
            }
            self.apply(docs, &answer.doc, &answer.changes)?;
            let Heads::Full(theirs) = answer.heads else {
                return Err(SyncError::Protocol("an answer without heads".into()));
            };
            let theirs = hashes(&theirs);
            let am = docs.doc(&answer.doc)?;
            let mine = am.get_heads();
            if sorted(&mine) == sorted(&theirs) {
                self.remember_shared(&answer.doc, mine);
            } else if !fallback.contains(&answer.doc) {
                fallback.push(answer.doc);
            }
        }
        Ok(fallback)
    }

    // ---- server --------------------------------------------------------------------------

    /// Step 2 (server): applies the client's offers and answers each document the client
    /// lacks something of. Returns the answers, the documents left to the fallback, and
    /// whether the client's [`Unchanged`] summary matched what this side remembers.
    pub fn answer(
        &mut self,
        docs: &mut dyn PeerDocs,
        offers: Vec<DocOffer>,
        unchanged: Unchanged,
    ) -> Result<(Vec<DocOffer>, Vec<String>, bool), SyncError> {
        let mut answers = Vec::new();
        let mut fallback = Vec::new();
        let mut offered = BTreeSet::new();
        for offer in offers {
            if !docs.accepts(&offer.doc) {
                return Err(SyncError::Protocol(format!(
                    "offer for an impossible document {:?}",
                    offer.doc
                )));
            }
            if !offered.insert(offer.doc.clone()) {
                return Err(SyncError::Protocol(format!(
                    "document {} offered twice",
                    offer.doc
                )));
            }
            let shared_digest = matches!(offer.heads, Heads::Shared(_));
            let client_heads = match offer.heads {
                Heads::Full(heads) => Some(hashes(&heads)),
                Heads::Shared(d) => match docs.state(&offer.doc)? {
                    Some(state) if digest(&state.shared_heads) == d => Some(state.shared_heads),
                    _ => None,
                },
            };
            let Some(client_heads) = client_heads else {
                fallback.push(offer.doc);
                continue;
            };
            let mine = docs.heads(&offer.doc)?;
            if shared_digest && sorted(&mine) == sorted(&client_heads) {
                // Both ends agree and both know it: nothing to say about this document.
                continue;
            }
            self.apply(docs, &offer.doc, &offer.changes)?;
            self.answer_one(docs, &offer.doc, &client_heads, &mut answers, &mut fallback)?;
        }
        // The documents the summary stands for: those this side remembers sharing with the
        // client and the client did not offer. It matches if the client remembers the
        // same heads for exactly those.
        let remembered: Vec<(String, [u8; 16], Vec<ChangeHash>)> = docs
            .states()?
            .into_iter()
            .filter(|(id, s)| !offered.contains(id) && !s.shared_heads.is_empty())
            .map(|(id, s)| (id, digest(&s.shared_heads), s.shared_heads))
            .collect();
        let pairs: Vec<(String, [u8; 16])> = remembered
            .iter()
            .map(|(id, d, _)| (id.clone(), *d))
            .collect();
        let matched = Unchanged::of(&pairs) == unchanged;
        let covered: BTreeSet<String> = if matched {
            remembered.iter().map(|(id, _, _)| id.clone()).collect()
        } else {
            BTreeSet::new()
        };
        if matched {
            for (id, _, shared) in &remembered {
                if sorted(&docs.heads(id)?) != sorted(shared) {
                    self.answer_one(docs, id, shared, &mut answers, &mut fallback)?;
                }
            }
        }
        for id in docs.doc_ids()? {
            if offered.contains(&id) || covered.contains(&id) {
                continue;
            }
            if !matched && remembered.iter().any(|(r, _, _)| *r == id) {
                // The client may hold it: let the full protocol find out.
                fallback.push(id);
                continue;
            }
            // Not offered and not remembered as shared: the client does not have it.
            self.answer_one(docs, &id, &[], &mut answers, &mut fallback)?;
        }
        Ok((answers, fallback, matched))
    }

    /// Answers one document given the heads the client has: the changes it lacks, or the
    /// fallback when this side cannot tell.
    fn answer_one(
        &mut self,
        docs: &mut dyn PeerDocs,
        id: &str,
        client_heads: &[ChangeHash],
        answers: &mut Vec<DocOffer>,
        fallback: &mut Vec<String>,
    ) -> Result<(), SyncError> {
        let am = docs.doc(id)?;
        match changes_since(am, client_heads) {
            Some((changes, count)) => {
                self.sent_changes += count;
                let heads = am.get_heads();
                answers.push(DocOffer {
                    doc: id.to_owned(),
                    heads: Heads::Full(raw(&heads)),
                    changes,
                });
                self.remember_shared(id, heads);
            }
            None => fallback.push(id.to_owned()),
        }
        Ok(())
    }

    // ---- fallback: Automerge's sync protocol ---------------------------------------------

    /// One round for the fallback documents: receives the peer's messages (if any; a
    /// document the peer names joins the fallback), then generates this side's. The exchange is over when a round in each direction is
    /// all `None`.
    pub fn round(
        &mut self,
        docs: &mut dyn PeerDocs,
        fallback: &mut Vec<String>,
        incoming: Vec<RoundEntry>,
    ) -> Result<Vec<RoundEntry>, SyncError> {
        for entry in incoming {
            if !docs.accepts(&entry.doc) {
                return Err(SyncError::Protocol(format!(
                    "sync message for an impossible document {:?}",
                    entry.doc
                )));
            }
            if !fallback.contains(&entry.doc) {
                fallback.push(entry.doc.clone());
            }
            let Some(bytes) = entry.message else {
                continue;
            };
            let damaged = |detail: String| SyncError::Damaged {
                doc: entry.doc.clone(),
                detail,
            };
            let message = std::panic::catch_unwind(|| AmSyncMessage::decode(&bytes))
                .map_err(|_| damaged("the sync message decoder gave up".into()))?
                .map_err(|e| damaged(e.to_string()))?;
            let mut state = self.state_of(docs, &entry.doc)?;
            let am = docs.doc(&entry.doc)?;
            let before = am.get_heads();
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                am.sync().receive_sync_message(&mut state, message)
            }));
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(damaged(e.to_string())),
                Err(_) => return Err(damaged("applying the sync message failed".into())),
            }
            super::limits::check_doc(&entry.doc, am)?;
            if am.get_heads() != before {
                self.changed.entry(entry.doc.clone()).or_insert(before);
            }
            self.states.insert(entry.doc, state);
        }
        let mut out = Vec::new();
        for doc in fallback.iter() {
            let mut state = self.state_of(docs, doc)?;
            let am = docs.doc(doc)?;
            let message = am.sync().generate_sync_message(&mut state);
            if let Some(m) = &message {
                self.sent_changes += m.changes.len();
            }
            self.states.insert(doc.clone(), state);
            out.push(RoundEntry {
                doc: doc.clone(),
                message: message.map(AmSyncMessage::encode),
            });
        }
        Ok(out)
    }
}

/// Whether a round carried nothing.
pub fn quiet(round: &[RoundEntry]) -> bool {
    round.iter().all(|e| e.message.is_none())
}

/// The compressed batch of the changes `am` has beyond `heads`, and how many (a whole
/// document counts as one); `None` when
/// `am` lacks one of `heads` (then it cannot tell what the other side lacks).
///
/// The batch is an Automerge bundle (the document format's column encoding for a set of
/// changes: no repeated hashes or actor ids; measured 2.6x smaller than the changes'
/// own chunks after deflate), or the raw change chunks if bundling fails. Both load with
/// `load_incremental`, so the receiver needs no flag.
pub fn changes_since(am: &mut AutoCommit, heads: &[ChangeHash]) -> Option<(Vec<u8>, usize)> {
    let (raw, count) = changes_since_raw(am, heads)?;
    if raw.is_empty() {
        return Some((raw, count));
    }
    Some((pack(&raw), count))
}

/// Like [`changes_since`], uncompressed (for a batch compressed as a whole).
pub fn changes_since_raw(am: &mut AutoCommit, heads: &[ChangeHash]) -> Option<(Vec<u8>, usize)> {
    if heads.is_empty() {
        if am.get_heads().is_empty() {
            return Some((Vec::new(), 0));
        }
        // The whole document: its saved form loads far faster than its changes replayed
        // (measured: a five-year notebook to a fresh device in ~1 s instead of ~5 s).
        // Counted as one: listing every change of the history just to count them costs
        // more than sending it.
        return Some((am.save(), 1));
    }
    if heads.iter().any(|h| am.get_change_by_hash(h).is_none()) {
        return None;
    }
    let changes = am.get_changes(heads);
    if changes.is_empty() {
        return Some((Vec::new(), 0));
    }
    let count = changes.len();
    let hashes: Vec<ChangeHash> = changes.iter().map(|c| c.hash()).collect();
    let bundled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        am.bundle(hashes).map(|b| b.bytes().to_vec())
    }));
    if let Ok(Ok(bytes)) = bundled {
        return Some((bytes, count));
    }
    let mut raw = Vec::new();
    for change in changes {
        raw.extend_from_slice(change.raw_bytes());
    }
    Some((raw, count))
}

/// Compresses a batch of change bytes.
pub fn pack(raw: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(raw);
    enc.finish().unwrap_or_default()
}

/// Decompresses a batch, refusing one that inflates past [`MAX_BATCH_BYTES`].
pub fn unpack(packed: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(packed)
        .take(MAX_BATCH_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the change batch does not decompress: {e}"))?;
    if out.len() as u64 > MAX_BATCH_BYTES {
        return Err("the change batch inflates past the size limit".into());
    }
    Ok(out)
}

/// A 16-byte digest of a set of heads (order does not matter).
pub fn digest(heads: &[ChangeHash]) -> [u8; 16] {
    let mut h = blake3::Hasher::new();
    for head in sorted(heads) {
        h.update(&head.0);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    out
}

fn sorted(heads: &[ChangeHash]) -> Vec<ChangeHash> {
    let mut v = heads.to_vec();
    v.sort();
    v
}

fn raw(heads: &[ChangeHash]) -> Vec<[u8; 32]> {
    heads.iter().map(|h| h.0).collect()
}

fn hashes(raw: &[[u8; 32]]) -> Vec<ChangeHash> {
    raw.iter().map(|h| ChangeHash(*h)).collect()
}
