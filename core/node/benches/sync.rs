//! Sync harness: Duet's peer protocol against plain Automerge sync on identical copies of a
//! generated five-year notebook, after N offline edits on each side; and a fresh device
//! receiving the whole notebook over loopback QUIC.
//!
//! Bytes and round trips are counted exactly (whole frames for Duet, encoded sync messages
//! for Automerge), so they do not depend on the machine. Run with
//! `cargo bench -p duet-core --bench sync`.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ReadDoc, ROOT};
use duet_core::sample::{self, SampleSpec};
use duet_core::sync::memory::{automerge_sync_in_memory, sync_in_memory, MemDocs};
use duet_core::sync::peer::pack;
use std::collections::BTreeMap;
use std::time::Instant;

fn fork_all(docs: &mut BTreeMap<String, AutoCommit>) -> BTreeMap<String, AutoCommit> {
    docs.iter_mut()
        .map(|(k, v)| (k.clone(), v.fork()))
        .collect()
}

/// `n` edits typed into the current meeting's notes, every tenth into an old meeting. With
/// `fresh_actors` each edit is its own process (the CLI: a fresh actor per command);
/// otherwise one session per side makes them all (an app kept open).
fn edit(
    docs: &mut BTreeMap<String, AutoCommit>,
    current: &str,
    older: &str,
    n: usize,
    who: &str,
    fresh_actors: bool,
) {
    let session = automerge::ActorId::random();
    for i in 0..n {
        let id = if i % 10 == 9 { older } else { current };
        let Some(doc) = docs.get_mut(id) else { return };
        doc.set_actor(if fresh_actors {
            automerge::ActorId::random()
        } else {
            session.clone()
        });
        let text = match doc.get(ROOT, "notes") {
            Ok(Some((automerge::Value::Object(ObjType::Text), t))) => t,
            _ => doc.put_object(ROOT, "notes", ObjType::Text).expect("notes"),
        };
        let len = doc.length(&text);
        doc.splice_text(
            &text,
            len,
            0,
            &format!("\n{who} note {i}: follow up on the plan"),
        )
        .expect("type");
        doc.commit();
    }
}

fn main() {
    if std::env::var("DUET_BENCH_ONLY").as_deref() == Ok("quic") {
        quic_fresh_device(0);
        return;
    }
    let mut generated = sample::generate(SampleSpec::years(5)).expect("sample");
    let mut base: BTreeMap<String, AutoCommit> = generated.docs.drain(..).collect();
    let meetings: Vec<String> = base
        .keys()
        .filter(|k| *k != "index" && *k != "commitments")
        .cloned()
        .collect();
    let current = meetings.last().cloned().unwrap_or_default();
    let older = meetings.first().cloned().unwrap_or_default();
    let save_total: usize = base.values_mut().map(|d| d.save().len()).sum();
    println!(
        "five-year notebook: {} documents, {save_total} bytes of save()",
        base.len()
    );
    println!();
    for fresh_actors in [true, false] {
        println!(
            "{}",
            if fresh_actors {
                "each edit its own process (fresh actor per edit):"
            } else {
                "one editing session per side (one actor per side):"
            }
        );
        compare(&mut base, &current, &older, fresh_actors);
        println!();
    }
    quic_fresh_device(save_total);
}

fn compare(
    base: &mut BTreeMap<String, AutoCommit>,
    current: &str,
    older: &str,
    fresh_actors: bool,
) {
    println!("N edits/side | new changes deflated | Duet bytes (trips) | Automerge bytes (trips) | Automerge/Duet | Duet/new");
    for n in [1usize, 10, 100, 1000] {
        // Identical copies that synced once (so both remember the other's heads).
        let mut a = MemDocs {
            docs: fork_all(base),
            ..MemDocs::default()
        };
        let mut b = MemDocs {
            docs: fork_all(base),
            ..MemDocs::default()
        };
        sync_in_memory(&mut a, &mut b).expect("first sync");
        let mut a2 = MemDocs {
            docs: fork_all(&mut a.docs),
            states: a.states.clone(),
            synced: true,
        };
        let mut b2 = MemDocs {
            docs: fork_all(&mut b.docs),
            states: b.states.clone(),
            synced: true,
        };
        // Plain Automerge starts from the same shared heads, persisted per document.
        for (id, doc) in a2.docs.iter_mut() {
            let mut s = automerge::sync::State::new();
            s.shared_heads = doc.get_heads();
            a2.states.insert(id.clone(), s.clone());
            b2.states.insert(id.clone(), s);
        }
        let before: BTreeMap<String, Vec<automerge::ChangeHash>> = a
            .docs
            .iter_mut()
            .map(|(k, v)| (k.clone(), v.get_heads()))
            .collect();
        edit(&mut a.docs, current, older, n, "ana", fresh_actors);
        edit(&mut b.docs, current, older, n, "bo", fresh_actors);
        // Same edits on the Automerge copies: copy the changes over.
        for (src, dst) in [(&mut a.docs, &mut a2.docs), (&mut b.docs, &mut b2.docs)] {
            for (id, doc) in src.iter_mut() {
                let changes = doc.get_changes(&before[id]);
                let target = dst.get_mut(id).expect("same docs");
                target.apply_changes(changes).expect("apply");
            }
        }
        let mut new_raw = Vec::new();
        for side in [&mut a.docs, &mut b.docs] {
            for (id, doc) in side.iter_mut() {
                for c in doc.get_changes(&before[id]) {
                    new_raw.extend_from_slice(c.raw_bytes());
                }
            }
        }
        let new_packed = pack(&new_raw).len();
        let duet = sync_in_memory(&mut a, &mut b).expect("duet sync");
        let plain = automerge_sync_in_memory(&mut a2, &mut b2).expect("automerge sync");
        // Duet's one exchange, not counting the final acknowledgement trip.
        let duet_trips = duet.round_trips - 1;
        println!(
            "{n:>12} | {new_packed:>20} | {:>11} ({duet_trips}) | {:>15} ({}) | {:>13.2}x | {:>7.2}x",
            duet.bytes(),
            plain.bytes(),
            plain.round_trips,
            plain.bytes() as f64 / duet.bytes() as f64,
            duet.bytes() as f64 / new_packed as f64,
        );
        // Check both converged to the same content.
        for (id, doc) in a.docs.iter_mut() {
            let other = b.docs.get_mut(id).expect("doc");
            assert_eq!(doc.get_heads().len(), other.get_heads().len());
        }
    }
}

/// A fresh device joins and receives the whole five-year notebook over loopback QUIC.
fn quic_fresh_device(save_total: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ana_home = dir.path().join("ana");
    let mut generated = sample::generate(SampleSpec::years(5)).expect("sample");
    sample::write_home(&ana_home, &mut generated).expect("write");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let ana = duet_node::Home::spawn(duet_core::Duet::open(&ana_home).expect("open ana"))
        .expect("ana's home");
    let ana_handle = ana.handle();
    rt.block_on(async {
        let server = duet_node::net::server::Server::bind(
            ana_handle.clone(),
            "127.0.0.1:0".parse().expect("addr"),
            Box::new(|_| {}),
        )
        .await
        .expect("bind");
        let addr = server.local_addr().expect("addr");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.run(async {
            let _ = stop_rx.await;
        }));
        let ticket = ana_handle
            .call(move |d| d.members().invite(vec![addr], None))
            .await
            .expect("invite");
        let mut bo = duet_core::Duet::init(&dir.path().join("bo"), "Bo").expect("bo");
        bo.joins().by_invite(&ticket, duet_core::Role::Report).expect("join");
        let bo = duet_node::Home::spawn(bo).expect("bo's home");
        let pins = duet_node::net::tls::Pins::Exactly([ticket.fingerprint].into());
        let started = Instant::now();
        let outcome = duet_node::net::client::sync_with(&bo.handle(), addr, pins)
            .await
            .expect("sync");
        let took = started.elapsed();
        println!(
            "fresh device, whole notebook over loopback QUIC: {:.0} ms, {} bytes received ({:.2}x the documents' save() of {save_total} bytes), {} sent",
            took.as_secs_f64() * 1000.0,
            outcome.bytes_received,
            outcome.bytes_received as f64 / save_total as f64,
            outcome.bytes_sent
        );
        let _ = stop_tx.send(());
        let _ = serving.await;
        bo
    });
    ana.close();
}
