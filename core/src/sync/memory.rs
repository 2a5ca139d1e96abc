//! Documents held in memory as [`PeerDocs`], and a driver that runs two [`PeerEngine`]s
//! between two of them with no sockets, over a perfect or a faulty simulated link: for
//! property tests and the sync benchmark, which count exactly the frames that would cross
//! the wire.

use super::peer::{PeerDocs, PeerSync, SyncError, MAX_ROUNDS};
use super::session::{expect_open, PeerEngine, PeerRole};
use crate::wire::{self, Message};
use automerge::sync::State;
use automerge::{AutoCommit, ChangeHash};
use std::collections::{BTreeMap, VecDeque};

/// One side's documents and its memory of the other side.
#[derive(Default)]
pub struct MemDocs {
    /// Documents by id.
    pub docs: BTreeMap<String, AutoCommit>,
    /// Persisted sync states with the peer, by document.
    pub states: BTreeMap<String, State>,
    /// Whether this side has synced with the peer before.
    pub synced: bool,
}

impl PeerDocs for MemDocs {
    fn doc_ids(&mut self) -> Result<Vec<String>, SyncError> {
        Ok(self.docs.keys().cloned().collect())
    }

    fn heads(&mut self, doc: &str) -> Result<Vec<ChangeHash>, SyncError> {
        Ok(self
            .docs
            .get_mut(doc)
            .map(|d| d.get_heads())
            .unwrap_or_default())
    }

    fn doc(&mut self, doc: &str) -> Result<&mut AutoCommit, SyncError> {
        Ok(self.docs.entry(doc.to_owned()).or_default())
    }

    fn accepts(&self, doc: &str) -> bool {
        !doc.is_empty() && doc.len() <= 64
    }

    fn state(&mut self, doc: &str) -> Result<Option<State>, SyncError> {
        Ok(self.states.get(doc).cloned())
    }

    fn states(&mut self) -> Result<Vec<(String, State)>, SyncError> {
        Ok(self
            .states
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn synced_before(&mut self) -> Result<bool, SyncError> {
        Ok(self.synced)
    }
}

impl MemDocs {
    /// Keeps what a finished session learned, as the store would.
    fn keep(&mut self, session: &PeerSync) {
        for (doc, state) in session.states() {
            // What is persisted of a state is its shared heads (as `State::encode` keeps).
            let mut kept = State::new();
            kept.shared_heads = state.shared_heads.clone();
            self.states.insert(doc.clone(), kept);
        }
        self.synced = true;
    }
}

/// What one in-memory sync cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Frames client → server.
    pub client_frames: usize,
    /// Bytes client → server (whole frames).
    pub client_bytes: usize,
    /// Frames server → client.
    pub server_frames: usize,
    /// Bytes server → client.
    pub server_bytes: usize,
    /// Round trips: times the client waited for the server.
    pub round_trips: usize,
}

impl Traffic {
    /// Bytes both ways.
    pub fn bytes(&self) -> usize {
        self.client_bytes + self.server_bytes
    }
}

fn size(m: &Message) -> usize {
    wire::encode(m).map_or(0, |f| f.len())
}

/// What the simulated link does to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Delivered as sent.
    Deliver,
    /// The stream breaks here: this message and everything after are lost.
    Cut,
    /// Delivered twice.
    Duplicate,
    /// Delivered ahead of the message sent just before it (if that one is still in flight).
    Reorder,
}

/// Runs one whole sync between `client` and `server` over a perfect link, as the network
/// would (the open and done frames included), and counts what crosses.
pub fn sync_in_memory(client: &mut MemDocs, server: &mut MemDocs) -> Result<Traffic, SyncError> {
    sync_over_link(client, server, &mut || Fault::Deliver)
}

/// Runs one sync between two [`PeerEngine`]s over a simulated link that applies `link` to
/// every message. The engines own the order; this driver only carries messages and keeps
/// a side's result when its engine says so. A cut or a refused message ends the session
/// with an error, as a broken stream would.
pub fn sync_over_link(
    client: &mut MemDocs,
    server: &mut MemDocs,
    link: &mut dyn FnMut() -> Fault,
) -> Result<Traffic, SyncError> {
    const NOTEBOOK: &str = "n";
    let mut t = Traffic::default();
    let mut c = PeerEngine::new(PeerRole::Client);
    let mut s = PeerEngine::new(PeerRole::Server);
    let mut to_server: VecDeque<Message> = VecDeque::new();
    let mut to_client: VecDeque<Message> = VecDeque::new();
    for m in c.start(NOTEBOOK, client)? {
        t.client_frames += 1;
        t.client_bytes += size(&m);
        carry(m, &mut to_server, link)?;
    }
    let mut opened = false;
    loop {
        while let Some(m) = to_server.pop_front() {
            if !opened {
                expect_open(m, &[NOTEBOOK.to_owned()])?;
                opened = true;
                continue;
            }
            if s.receive(m)? {
                let step = s.advance(server)?;
                if step.keep {
                    server.keep(s.sync());
                }
                for m in step.send {
                    t.server_frames += 1;
                    t.server_bytes += size(&m);
                    carry(m, &mut to_client, link)?;
                }
            }
        }
        if to_client.is_empty() {
            return Err(SyncError::Protocol("the server has nothing to say".into()));
        }
        t.round_trips += 1;
        while let Some(m) = to_client.pop_front() {
            if c.receive(m)? {
                let step = c.advance(client)?;
                if step.keep {
                    client.keep(c.sync());
                }
                for m in step.send {
                    t.client_frames += 1;
                    t.client_bytes += size(&m);
                    carry(m, &mut to_server, link)?;
                }
            }
        }
        if c.is_complete() {
            return Ok(t);
        }
        if to_server.is_empty() {
            return Err(SyncError::Protocol("the client has nothing to say".into()));
        }
    }
}

fn carry(
    m: Message,
    queue: &mut VecDeque<Message>,
    link: &mut dyn FnMut() -> Fault,
) -> Result<(), SyncError> {
    match link() {
        Fault::Deliver => queue.push_back(m),
        Fault::Cut => return Err(SyncError::Protocol("the link was cut".into())),
        Fault::Duplicate => {
            queue.push_back(m.clone());
            queue.push_back(m);
        }
        Fault::Reorder => {
            // Ahead of the last message still queued, if any.
            let at = queue.len().saturating_sub(1);
            queue.insert(at, m);
        }
    }
    Ok(())
}

/// Plain Automerge sync of the same documents, doc by doc with persisted states, for
/// comparison: what the protocol would cost with no shortcut. Counts each non-empty sync
/// message as one frame and its encoded bytes.
pub fn automerge_sync_in_memory(
    client: &mut MemDocs,
    server: &mut MemDocs,
) -> Result<Traffic, SyncError> {
    use automerge::sync::SyncDoc;
    let mut t = Traffic::default();
    let mut ids: Vec<String> = client.docs.keys().cloned().collect();
    for id in server.docs.keys() {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    let mut max_trips = 0;
    for id in ids {
        let mut cstate = client.states.get(&id).cloned().unwrap_or_default();
        let mut sstate = server.states.get(&id).cloned().unwrap_or_default();
        let cdoc = client.docs.entry(id.clone()).or_default();
        let sdoc = server.docs.entry(id.clone()).or_default();
        let mut trips = 0;
        for _ in 0..MAX_ROUNDS {
            let m1 = cdoc.sync().generate_sync_message(&mut cstate);
            if let Some(m) = m1.clone() {
                let bytes = m.encode();
                t.client_frames += 1;
                t.client_bytes += bytes.len();
                let m = automerge::sync::Message::decode(&bytes)
                    .map_err(|e| SyncError::Protocol(e.to_string()))?;
                sdoc.sync()
                    .receive_sync_message(&mut sstate, m)
                    .map_err(|e| SyncError::Protocol(e.to_string()))?;
            }
            let m2 = sdoc.sync().generate_sync_message(&mut sstate);
            if let Some(m) = m2.clone() {
                let bytes = m.encode();
                t.server_frames += 1;
                t.server_bytes += bytes.len();
                let m = automerge::sync::Message::decode(&bytes)
                    .map_err(|e| SyncError::Protocol(e.to_string()))?;
                cdoc.sync()
                    .receive_sync_message(&mut cstate, m)
                    .map_err(|e| SyncError::Protocol(e.to_string()))?;
            }
            if m1.is_none() && m2.is_none() {
                break;
            }
            trips += 1;
        }
        max_trips = max_trips.max(trips);
        let keep = |s: &State| {
            let mut k = State::new();
            k.shared_heads = s.shared_heads.clone();
            k
        };
        client.states.insert(id.clone(), keep(&cstate));
        server.states.insert(id, keep(&sstate));
    }
    // Documents sync side by side, so the session takes as many trips as the slowest.
    t.round_trips = max_trips;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::ReadDoc;
    use proptest::prelude::*;

    fn edit(side: &mut MemDocs, doc: &str, marker: &str) {
        let am = side.docs.entry(doc.to_owned()).or_default();
        am.put(automerge::ROOT, marker, marker).expect("put");
        am.commit();
    }

    fn assert_converged(a: &mut MemDocs, b: &mut MemDocs) {
        assert_eq!(
            a.docs.keys().collect::<Vec<_>>(),
            b.docs.keys().collect::<Vec<_>>()
        );
        for (id, doc) in a.docs.iter_mut() {
            let other = b.docs.get_mut(id).expect("same docs");
            let mut h1 = doc.get_heads();
            let mut h2 = other.get_heads();
            h1.sort();
            h2.sort();
            assert_eq!(h1, h2, "document {id} differs");
            assert_eq!(
                doc.keys(automerge::ROOT).collect::<Vec<_>>(),
                other.keys(automerge::ROOT).collect::<Vec<_>>()
            );
        }
    }

    fn server_with(docs: &[&str]) -> MemDocs {
        let mut s = MemDocs::default();
        for d in docs {
            edit(&mut s, d, &format!("{d}-origin"));
        }
        s
    }

    #[test]
    fn a_fresh_device_gets_everything_in_one_round_trip() {
        let mut server = server_with(&["index", "m1", "m2"]);
        let mut client = MemDocs::default();
        let t = sync_in_memory(&mut client, &mut server).expect("sync");
        assert_eq!(t.round_trips, 2, "offer/answer, then done");
        assert_converged(&mut client, &mut server);
    }

    #[test]
    fn known_heads_cost_one_round_trip_and_unchanged_documents_a_few_bytes() {
        let docs: Vec<String> = (0..50).map(|i| format!("m{i:02}")).collect();
        let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
        let mut server = server_with(&refs);
        let mut client = MemDocs::default();
        sync_in_memory(&mut client, &mut server).expect("first sync");
        edit(&mut client, "m03", "client-edit");
        edit(&mut server, "m07", "server-edit");
        let t = sync_in_memory(&mut client, &mut server).expect("second sync");
        assert_eq!(t.round_trips, 2, "no fallback rounds: {t:?}");
        assert_converged(&mut client, &mut server);
        // 48 unchanged documents, each a name and a 16-byte digest.
        // Unchanged documents cost nothing each: one summary covers them.
        assert!(t.client_bytes < 1_000, "{t:?}");
        let quiet = sync_in_memory(&mut client, &mut server).expect("third sync");
        assert!(quiet.client_bytes < 100, "{quiet:?}");
        assert!(quiet.server_bytes < 100, "{quiet:?}");
    }

    #[test]
    fn devices_that_never_synced_fall_back_to_automerge_sync_and_converge() {
        let mut server = server_with(&["index", "m1"]);
        let mut client = MemDocs::default();
        // Both hold the same origin (say, from a bundle) but have never synced directly.
        for (id, doc) in server.docs.iter_mut() {
            client.docs.insert(id.clone(), doc.fork());
        }
        edit(&mut client, "m1", "client-edit");
        edit(&mut server, "m1", "server-edit");
        edit(&mut server, "m2", "server-new-doc");
        let t = sync_in_memory(&mut client, &mut server).expect("sync");
        assert!(t.round_trips > 2, "used the fallback: {t:?}");
        assert_converged(&mut client, &mut server);
    }

    #[test]
    fn a_device_restored_from_an_old_backup_rejoins() {
        let mut server = server_with(&["index", "m1"]);
        let mut client = MemDocs::default();
        sync_in_memory(&mut client, &mut server).expect("first sync");
        let backup_docs: BTreeMap<String, AutoCommit> = client
            .docs
            .iter_mut()
            .map(|(k, v)| (k.clone(), v.fork()))
            .collect();
        let backup_states = client.states.clone();
        edit(&mut client, "m1", "lost-with-the-laptop");
        sync_in_memory(&mut client, &mut server).expect("second sync");
        client.docs = backup_docs;
        client.states = backup_states;
        edit(&mut client, "m1", "after-restore");
        edit(&mut server, "index", "server-after");
        sync_in_memory(&mut client, &mut server).expect("sync after restore");
        assert_converged(&mut client, &mut server);
        let m1 = client.docs.get("m1").expect("m1");
        assert!(m1
            .get(automerge::ROOT, "lost-with-the-laptop")
            .expect("get")
            .is_some());
    }

    #[test]
    fn a_server_that_lost_its_last_sync_still_converges() {
        let mut server = server_with(&["index", "m1"]);
        let mut client = MemDocs::default();
        sync_in_memory(&mut client, &mut server).expect("first sync");
        let old_docs: BTreeMap<String, AutoCommit> = server
            .docs
            .iter_mut()
            .map(|(k, v)| (k.clone(), v.fork()))
            .collect();
        let old_states = server.states.clone();
        edit(&mut client, "m1", "sent-then-lost");
        sync_in_memory(&mut client, &mut server).expect("second sync");
        // The server died before keeping that sync; the client believes it did.
        server.docs = old_docs;
        server.states = old_states;
        edit(&mut client, "m1", "next-edit");
        sync_in_memory(&mut client, &mut server).expect("sync");
        assert_converged(&mut client, &mut server);
        let m1 = server.docs.get("m1").expect("m1");
        assert!(m1
            .get(automerge::ROOT, "sent-then-lost")
            .expect("get")
            .is_some());
    }

    #[test]
    fn garbage_in_a_batch_changes_nothing_and_does_not_panic() {
        let mut server = server_with(&["m1"]);
        let before = server.docs.get_mut("m1").expect("m1").get_heads();
        for garbage in [
            super::super::peer::pack(b"definitely not automerge"),
            b"not even deflate".to_vec(),
        ] {
            let mut ss = PeerSync::new();
            let offer = crate::wire::DocOffer {
                doc: "m1".into(),
                heads: crate::wire::Heads::Full(vec![[1u8; 32]]),
                changes: garbage,
            };
            match ss.answer(&mut server, vec![offer], Default::default()) {
                Err(_) => {}
                Ok((_, fallback, _)) => assert_eq!(fallback, vec!["m1".to_owned()]),
            }
            assert_eq!(server.docs.get_mut("m1").expect("m1").get_heads(), before);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn any_edits_in_any_order_converge(
            steps in proptest::collection::vec((0u8..4, 0u8..3, any::<bool>()), 1..24)
        ) {
            let mut a = server_with(&["index"]);
            let mut b = MemDocs::default();
            let mut marker = 0;
            for (action, doc, on_a) in steps {
                let doc = format!("m{doc}");
                match action {
                    0 => { sync_in_memory(&mut a, &mut b).expect("sync"); }
                    1 => { sync_in_memory(&mut b, &mut a).expect("sync"); }
                    _ => {
                        marker += 1;
                        let side = if on_a { &mut a } else { &mut b };
                        edit(side, &doc, &format!("e{marker}"));
                    }
                }
            }
            sync_in_memory(&mut a, &mut b).expect("final sync");
            assert_converged(&mut a, &mut b);
            let all: usize = a.docs.values().map(|d| d.keys(automerge::ROOT).count()).sum();
            prop_assert_eq!(all, marker + 1, "lost = none");
        }

        /// Two engines over a seeded faulty link: any session may be cut, see duplicated or
        /// reordered frames. It either completes or ends with a typed error, never a panic;
        /// whatever happened, one clean session afterwards converges with every edit there.
        #[test]
        fn engines_over_a_faulty_link_fail_cleanly_and_then_converge(
            steps in proptest::collection::vec((0u8..4, 0u8..3, any::<bool>()), 1..20),
            seed in any::<u64>(),
            cut_pct in 0u64..40,
            dup_pct in 0u64..20,
            reorder_pct in 0u64..20,
        ) {
            use rand::{Rng, SeedableRng};
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut link = move || {
                let roll = rng.random_range(0..1000u64);
                if roll < cut_pct * 2 {
                    Fault::Cut
                } else if roll < (cut_pct * 2) + dup_pct * 2 {
                    Fault::Duplicate
                } else if roll < (cut_pct + dup_pct + reorder_pct) * 2 {
                    Fault::Reorder
                } else {
                    Fault::Deliver
                }
            };
            let mut a = server_with(&["index"]);
            let mut b = MemDocs::default();
            let mut marker = 0;
            let (mut completed, mut failed) = (0, 0);
            for (action, doc, on_a) in steps {
                let doc = format!("m{doc}");
                let outcome = match action {
                    0 => Some(sync_over_link(&mut a, &mut b, &mut link)),
                    1 => Some(sync_over_link(&mut b, &mut a, &mut link)),
                    _ => {
                        marker += 1;
                        let side = if on_a { &mut a } else { &mut b };
                        edit(side, &doc, &format!("e{marker}"));
                        None
                    }
                };
                match outcome {
                    Some(Ok(_)) => completed += 1,
                    Some(Err(SyncError::Protocol(_))) => failed += 1,
                    Some(Err(other)) => prop_assert!(false, "untyped failure: {other}"),
                    None => {}
                }
            }
            sync_in_memory(&mut a, &mut b).expect("a clean sync after the faults");
            sync_in_memory(&mut b, &mut a).expect("and back");
            assert_converged(&mut a, &mut b);
            let all: usize = a.docs.values().map(|d| d.keys(automerge::ROOT).count()).sum();
            prop_assert_eq!(all, marker + 1, "lost = none ({} completed, {} failed)", completed, failed);
        }
    }
}
