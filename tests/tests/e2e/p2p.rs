//! Device-to-device sync over real QUIC on loopback, between real `duet` processes: offline
//! edits converge, the serving home stays usable, strangers and garbage are refused, a
//! serving process killed mid-sync loses nothing, and a lossy link still converges.

use duet_tests::{invite, Device, Serving};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Ana's notebook, served; Bo joined from her invite over QUIC.
fn joined_pair() -> (Device, Device, Serving) {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    let serving = Serving::start(&ana, "127.0.0.1:0");
    let ticket = invite(&ana, &serving.addr_arg());
    let bo = Device::new("Bo");
    let joined = bo.json(&["join", &ticket, "--as", "report"]);
    assert_eq!(joined["synced"], true, "{joined}");
    (ana, bo, serving)
}

#[test]
fn offline_edits_on_two_devices_converge_after_sync_peer() {
    let (ana, bo, serving) = joined_pair();
    let commit = ana.json(&["commit", "add", "Write the plan", "--owner", "me"]);
    let commit_id = commit["id"].as_str().unwrap_or_default().to_owned();
    bo.ok(&["sync", "--peer", &serving.addr_arg()]);

    // Offline, both at once; Ana's commands run while her laptop serves.
    ana.ok(&["agenda", "add", "ana-agenda-marker"]);
    bo.ok(&["agenda", "add", "bo-agenda-marker"]);
    ana.ok(&["note", "ana-typed-marker", "--section", "wins"]);
    bo.ok(&["note", "bo-typed-marker", "--section", "wins"]);
    ana.ok(&["commit", "done", &commit_id]);
    bo.ok(&[
        "commit",
        "edit",
        &commit_id,
        "--text",
        "Write the plan with Sam",
    ]);

    let unshared =
        |d: &Device| d.json(&["status"])["notebooks"][0]["not_on_any_other_device"].clone();
    assert!(
        unshared(&bo).as_u64().unwrap_or(0) >= 3,
        "Bo's offline edits: {}",
        unshared(&bo)
    );
    let out = bo.json(&["sync", "--peer", &serving.addr_arg()]);
    let report = &out["synced"][0]["notebooks"][0];
    assert_eq!(report["agenda_items"], 1, "{out}");
    assert_eq!(unshared(&bo), 0, "after the sync, Ana has Bo's edits");
    assert_eq!(unshared(&ana), 0, "after the sync, Bo has Ana's edits");
    assert_eq!(report["commitments_updated"], 1, "{out}");
    assert_eq!(report["notes"], 1, "{out}");

    let a = duet_tests::export_json(&ana);
    let b = duet_tests::export_json(&bo);
    assert_eq!(a, b, "the two devices differ after sync");
    let text = a.to_string();
    for marker in [
        "ana-agenda-marker",
        "bo-agenda-marker",
        "ana-typed-marker",
        "bo-typed-marker",
        "Write the plan with Sam",
    ] {
        assert!(text.contains(marker), "{marker} lost: {text}");
    }
    let commitments = bo.json(&["commit", "list"]);
    let c = &commitments[0];
    assert_eq!(c["status"], "done", "{commitments}");
    assert_eq!(c["text"], "Write the plan with Sam", "{commitments}");

    // A second sync with nothing new is small and changes nothing.
    let again = bo.json(&["sync", "--peer", &serving.addr_arg()]);
    assert_eq!(again["synced"][0]["notebooks"][0]["documents_changed"], 0);
    assert!(
        again["synced"][0]["bytes_sent"]
            .as_u64()
            .unwrap_or(u64::MAX)
            < 400,
        "{again}"
    );
    assert!(serving.stop(), "serve did not exit cleanly on Ctrl-C");
}

#[test]
fn sync_with_no_flags_reaches_every_remembered_device() {
    let (ana, bo, serving) = joined_pair();
    ana.ok(&["agenda", "add", "after-join-marker"]);
    let peers = bo.json(&["peers"]);
    assert_eq!(peers["peers"][0]["fingerprint"], serving.fingerprint);
    bo.ok(&["sync"]);
    assert!(bo.ok(&["show"]).contains("after-join-marker"));
}

#[test]
fn a_stranger_and_garbage_are_refused_while_others_keep_syncing() {
    let (ana, bo, serving) = joined_pair();
    let good = invite(&ana, &serving.addr_arg());

    // A valid-looking one-time ticket with the right address, fingerprint and invite id but
    // another invite key: the inviting device tells it nothing.
    let one_time = duet_core::one_time_invite::OneTimeInvite::from_ticket(&good).expect("ticket");
    let mut forged_key = one_time.clone();
    forged_key.key = [7u8; 32];
    let stranger = Device::new("Eve");
    let out = stranger.run(&["join", &forged_key.to_ticket(), "--as", "report"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("knows no such invite"),
        "{out:?}"
    );
    // A full ticket of an older Duet with the right address and fingerprint but another
    // secret: joined here, refused by the device.
    let forged = duet_core::invite::Invite {
        secret: [7u8; 32],
        title: one_time.title.clone(),
        addrs: one_time.addrs.clone(),
        fingerprint: one_time.fingerprint,
        relay: None,
        epoch: None,
        owner: None,
    };
    let out = stranger.json(&["join", &forged.to_ticket(), "--as", "report"]);
    assert_eq!(out["synced"], false, "{out}");
    assert!(
        out["error"]
            .as_str()
            .unwrap_or_default()
            .contains("shares no notebook"),
        "{out}"
    );
    // A mistyped ticket is caught by its checksum.
    let mut typo = good.clone();
    let at = typo.len() - 10;
    let c = if &typo[at..=at] == "a" { "b" } else { "a" };
    typo.replace_range(at..=at, c);
    let out = stranger.run(&["join", &typo, "--as", "report"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum"));

    // Raw UDP junk at the port, then a real QUIC client that sends garbage frames.
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
    for i in 0..200u32 {
        let junk: Vec<u8> = (0..1200).map(|j| (i.wrapping_mul(31) ^ j) as u8).collect();
        let _ = udp.send_to(&junk, serving.addr);
    }
    let fp = duet_core::crypto::parse_fingerprint(&serving.fingerprint).expect("fingerprint");
    // Bo holds the same notebook, and nothing of his runs.
    let secret = duet_tests::secret_ticket(&bo).notebook_secret();
    let pid = serving.child.id();
    let before = duet_tests::peak_memory_kib(pid);
    let replies = raw_quic_client(serving.addr, fp, &secret);
    let grew = duet_tests::peak_memory_kib(pid).saturating_sub(before);
    eprintln!("serve's peak memory grew by {grew} KiB during the raw clients (one 16 MiB hello)");
    assert!(
        replies.huge_hello_closed,
        "the server kept reading a stranger's 16 MiB hello"
    );
    assert!(
        grew * 1024 < duet_tests::HUGE_FRAME_BYTES as u64 / 4,
        "serve's peak memory grew by {grew} KiB"
    );
    assert!(
        replies.garbage_closed,
        "the server kept a connection that sent garbage"
    );
    assert!(
        replies.version_error.contains("v9") && replies.version_error.contains("v1"),
        "no clear version error: {:?}",
        replies.version_error
    );
    assert!(
        replies.fresh_proof_welcomed,
        "the harness's own proof was refused"
    );
    assert!(
        replies.replayed_proof_refused,
        "a proof replayed on another connection was accepted"
    );

    // Ana's device learned nothing from the stranger and still serves Bo.
    let eve = stranger.json(&["peers"])["fingerprint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let peers = ana.json(&["peers"]);
    assert!(
        !eve.is_empty() && !peers.to_string().contains(&eve),
        "{peers}"
    );
    ana.ok(&["agenda", "add", "still-serving-marker"]);
    bo.ok(&["sync", "--peer", &serving.addr_arg()]);
    assert!(bo.ok(&["show"]).contains("still-serving-marker"));
    let refused = serving
        .events()
        .into_iter()
        .filter(|e| e["event"] == "refused")
        .count();
    assert!(refused >= 2, "refusals were not logged");
}

struct RawReplies {
    garbage_closed: bool,
    huge_hello_closed: bool,
    version_error: String,
    fresh_proof_welcomed: bool,
    replayed_proof_refused: bool,
}

/// A QUIC client with a valid certificate that speaks nonsense, and one that replays a
/// membership proof made for another connection.
fn raw_quic_client(
    addr: SocketAddr,
    fingerprint: [u8; 32],
    secret: &duet_core::crypto::NotebookSecret,
) -> RawReplies {
    use duet_core::crypto::ProofSide;
    use duet_core::wire::{self, Message};
    use duet_node::net::{handshake, tls};
    let key = secret.membership_key();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let identity = tls::TlsIdentity::generate().expect("identity");
        let connect = || async {
            let config = tls::client_config(
                &identity,
                tls::Pins::Exactly([fingerprint].into()),
                Default::default(),
            )
            .expect("tls");
            let quic = quinn::crypto::rustls::QuicClientConfig::try_from(config).expect("quic");
            let endpoint =
                quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("endpoint");
            let conn = endpoint
                .connect_with(
                    quinn::ClientConfig::new(std::sync::Arc::new(quic)),
                    addr,
                    "x",
                )
                .expect("connect")
                .await
                .expect("handshake");
            (endpoint, conn)
        };
        // 1. Garbage: a length prefix of 4 GiB, then junk.
        let (_e1, conn) = connect().await;
        let (mut send, _recv) = conn.open_bi().await.expect("stream");
        let _ = send.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]).await;
        let garbage_closed = tokio::time::timeout(Duration::from_secs(10), conn.closed())
            .await
            .is_ok();
        // 1b. A 16 MiB hello from someone who proved nothing.
        let (_e1b, conn) = connect().await;
        let (mut send, _recv) = conn.open_bi().await.expect("stream");
        tokio::spawn(async move { duet_tests::send_huge_frame(&mut send).await });
        let huge_hello_closed = tokio::time::timeout(Duration::from_secs(10), conn.closed())
            .await
            .is_ok();
        // 2. A frame of protocol version 9.
        let (_e2, conn) = connect().await;
        let (mut send, mut recv) = conn.open_bi().await.expect("stream");
        let _ = send.write_all(&[0, 0, 0, 3, 9, 0, 0]).await;
        let mut version_error = String::new();
        if let Ok(Ok(Some(duet_core::wire::Message::Error { message }))) =
            tokio::time::timeout(Duration::from_secs(10), duet_core::wire::read(&mut recv)).await
        {
            version_error = message;
        }
        // 3. A proof made for one connection works there...
        let (_e3, conn) = connect().await;
        let exporter = handshake::exporter(&conn).expect("exporter");
        let proof = key.proof(ProofSide::Client, &exporter);
        let (mut send, mut recv) = conn.open_bi().await.expect("stream");
        wire::write(
            &mut send,
            &Message::Hello {
                proofs: vec![proof],
            },
        )
        .await
        .expect("hello");
        let fresh_proof_welcomed = matches!(
            tokio::time::timeout(Duration::from_secs(10), wire::read(&mut recv)).await,
            Ok(Ok(Some(Message::Welcome { .. })))
        );
        conn.close(0u32.into(), b"bye");
        // ...and is refused when replayed on another.
        let (_e4, conn) = connect().await;
        let (mut send, mut recv) = conn.open_bi().await.expect("stream");
        wire::write(
            &mut send,
            &Message::Hello {
                proofs: vec![proof],
            },
        )
        .await
        .expect("hello");
        let reply = tokio::time::timeout(Duration::from_secs(10), wire::read(&mut recv)).await;
        let replayed_proof_refused = !matches!(reply, Ok(Ok(Some(Message::Welcome { .. }))))
            && matches!(
                conn.close_reason(),
                Some(quinn::ConnectionError::ApplicationClosed(a))
                    if a.error_code == duet_node::net::close::NOT_A_MEMBER.into()
            );
        RawReplies {
            garbage_closed,
            huge_hello_closed,
            version_error,
            fresh_proof_welcomed,
            replayed_proof_refused,
        }
    })
}

#[test]
fn a_server_killed_mid_sync_loses_nothing_and_the_next_sync_completes() {
    let ana = Device::with_sample(2);
    let bo = Device::new("Bo");
    let serving = Serving::start(&ana, "127.0.0.1:0");
    let ticket = invite(&ana, &serving.addr_arg());
    bo.ok(&["join", &ticket, "--as", "report", "--no-sync"]);
    let port = serving.addr.port();
    let mut serving = Some(serving);
    // Kill the server at different moments of Bo's first (large) sync.
    for (round, delay_ms) in [40u64, 120, 300].into_iter().enumerate() {
        let sync = bo
            .command()
            .args(["sync", "--peer", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("sync");
        // Time is the subject: the server dies at a different moment of the sync.
        std::thread::sleep(Duration::from_millis(delay_ms));
        if let Some(s) = serving.take() {
            s.kill();
        }
        if round == 0 {
            // The client notices by itself that its peer is gone, with a clear error.
            let out = sync.wait_with_output().expect("sync exits");
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    err.contains("stopped answering")
                        || err.contains("broke")
                        || err.contains("reach"),
                    "{err}"
                );
            }
        } else {
            let mut sync = sync;
            let _ = sync.kill();
            let _ = sync.wait();
        }
        // Both stores open intact, whatever the moment.
        ana.ok(&["notebook", "list"]);
        bo.ok(&["notebook", "list"]);
        serving = Some(Serving::start(&ana, &format!("127.0.0.1:{port}")));
    }
    bo.ok(&["sync", "--peer", &format!("127.0.0.1:{port}")]);
    assert_eq!(duet_tests::export_json(&ana), duet_tests::export_json(&bo));
    let meetings = bo.json(&["meeting", "list"]);
    assert_eq!(meetings.as_array().map(Vec::len), Some(104), "{meetings}");
}

fn converges_over(loss: f64, cuts: bool) {
    let (ana, bo, serving) = joined_pair();
    for i in 0..20 {
        ana.ok(&["agenda", "add", &format!("ana-lossy-{i}")]);
        bo.ok(&[
            "note",
            &format!("bo-lossy-{i} {}", "x".repeat(300)),
            "--section",
            "notes",
        ]);
    }
    let proxy = LossyProxy::start(serving.addr, loss, cuts);
    let started = Instant::now();
    // Through a link that drops 30% and cuts now and then, even the handshake can be lost
    // every time for the connect timeout: a device then tries again, as the node does.
    let peer = proxy.addr.to_string();
    let mut attempts = 0;
    let out = loop {
        attempts += 1;
        let run = bo.run(&["--json", "sync", "--peer", &peer]);
        let text = String::from_utf8_lossy(&run.stdout).into_owned();
        let unreachable = String::from_utf8_lossy(&run.stderr).contains("could not reach");
        if run.status.success() || !unreachable || attempts == 3 {
            assert!(
                run.status.success(),
                "sync failed after {attempts} attempt(s): {run:?}"
            );
            break serde_json::from_str::<serde_json::Value>(&text).expect("sync JSON");
        }
    };
    assert!(out["failed"].as_array().is_some_and(Vec::is_empty), "{out}");
    assert_eq!(duet_tests::export_json(&ana), duet_tests::export_json(&bo));
    let dropped = proxy.dropped();
    assert!(loss == 0.0 || dropped > 0, "the proxy dropped nothing");
    eprintln!(
        "loss {loss}, cuts {cuts}: {dropped} datagrams dropped, converged in {:?} ({attempts} attempt(s))",
        started.elapsed()
    );
}

#[test]
fn a_lossy_reordering_link_still_converges() {
    converges_over(0.2, false);
}

#[test]
fn a_link_dropping_30_percent_and_cut_now_and_then_still_converges() {
    converges_over(0.3, true);
}

#[test]
fn a_clean_link_through_the_proxy_converges() {
    converges_over(0.0, false);
}

/// A UDP proxy between one client and `target` that drops a share of datagrams each way,
/// swaps the order of some, and (with `cuts`) drops everything for 400 ms of every 1.2 s.
struct LossyProxy {
    addr: SocketAddr,
    dropped: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl LossyProxy {
    fn start(target: SocketAddr, loss: f64, cuts: bool) -> LossyProxy {
        use rand::Rng;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let socket = UdpSocket::bind("127.0.0.1:0").expect("proxy socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let addr = socket.local_addr().expect("addr");
        let dropped = std::sync::Arc::new(AtomicUsize::new(0));
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (d, s) = (dropped.clone(), stop.clone());
        std::thread::spawn(move || {
            let upstream = UdpSocket::bind("127.0.0.1:0").expect("upstream");
            upstream
                .set_read_timeout(Some(Duration::from_millis(5)))
                .expect("timeout");
            socket
                .set_read_timeout(Some(Duration::from_millis(5)))
                .expect("timeout");
            let mut client: Option<SocketAddr> = None;
            let mut rng = rand::rng();
            let mut held: [Option<Vec<u8>>; 2] = [None, None];
            let mut buf = vec![0u8; 65536];
            let began = Instant::now();
            while !s.load(Ordering::Relaxed) {
                let cut = cuts && began.elapsed().as_millis() % 1200 < 400;
                // 0: client -> server, 1: server -> client
                for (dir, held) in held.iter_mut().enumerate() {
                    let got = if dir == 0 {
                        socket.recv_from(&mut buf).ok().map(|(n, from)| {
                            client = Some(from);
                            n
                        })
                    } else {
                        upstream.recv_from(&mut buf).ok().map(|(n, _)| n)
                    };
                    let Some(n) = got else { continue };
                    if cut || (loss > 0.0 && rng.random_bool(loss)) {
                        d.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let packet = buf[..n].to_vec();
                    let send = |p: &[u8]| {
                        if dir == 0 {
                            let _ = upstream.send_to(p, target);
                        } else if let Some(c) = client {
                            let _ = socket.send_to(p, c);
                        }
                    };
                    if held.is_none() && rng.random_bool(0.1) {
                        // Hold this one back and send it after the next: reordered.
                        *held = Some(packet);
                        continue;
                    }
                    send(&packet);
                    if let Some(p) = held.take() {
                        send(&p);
                    }
                }
            }
        });
        LossyProxy {
            addr,
            dropped,
            stop,
        }
    }

    fn dropped(&self) -> usize {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn the_owners_commands_are_answered_while_strangers_flood_the_node_with_hellos() {
    use duet_core::wire::{self, Message};
    use duet_node::net::tls;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let (ana, bo, serving) = joined_pair();
    let fingerprint = duet_core::crypto::parse_fingerprint(&serving.fingerprint).expect("fp");
    let addr = serving.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let flooding = stop.clone();
    // Strangers with valid certificates and the largest hello allowed, full of proofs for
    // no notebook, on fresh connections, as fast as the node takes them.
    let flood = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let identity = tls::TlsIdentity::generate().expect("identity");
            let config = tls::client_config(
                &identity,
                tls::Pins::Exactly([fingerprint].into()),
                Default::default(),
            )
            .expect("tls");
            let quic = quinn::crypto::rustls::QuicClientConfig::try_from(config).expect("quic");
            let endpoint =
                quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("endpoint");
            let client = quinn::ClientConfig::new(std::sync::Arc::new(quic));
            let mut refused = 0u32;
            while !flooding.load(Ordering::Relaxed) {
                let mut strangers = Vec::new();
                for _ in 0..16 {
                    let endpoint = endpoint.clone();
                    let client = client.clone();
                    strangers.push(tokio::spawn(async move {
                        let conn = endpoint.connect_with(client, addr, "x").ok()?.await.ok()?;
                        let (mut send, _recv) = conn.open_bi().await.ok()?;
                        let hello = Message::Hello {
                            proofs: (0..1024u32)
                                .map(|i| {
                                    let mut proof = [7u8; 32];
                                    proof[..4].copy_from_slice(&i.to_be_bytes());
                                    proof
                                })
                                .collect(),
                        };
                        wire::write(&mut send, &hello).await.ok()?;
                        tokio::time::timeout(Duration::from_secs(10), conn.closed())
                            .await
                            .ok()
                    }));
                }
                for s in strangers {
                    if matches!(s.await, Ok(Some(_))) {
                        refused += 1;
                    }
                }
            }
            refused
        })
    });
    // Meanwhile Ana types through her node, and Bo syncs with it.
    for i in 0..10 {
        ana.ok(&["agenda", "add", &format!("during-the-flood-{i}")]);
    }
    bo.ok(&["sync", "--peer", &serving.addr_arg()]);
    stop.store(true, Ordering::Relaxed);
    let refused = flood.join().expect("the flood ran");
    assert!(refused > 0, "no stranger's hello reached the node");
    let shown = bo.ok(&["agenda", "list"]);
    for i in 0..10 {
        assert!(shown.contains(&format!("during-the-flood-{i}")), "{shown}");
    }
}

#[test]
fn one_address_holds_at_most_half_the_serving_device_s_connections_and_another_gets_in() {
    use duet_node::net::server::{Server, MAX_CONNECTIONS_PER_ADDRESS};
    use duet_node::net::tls::{Pins, TlsIdentity, ALPN};
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    let home = duet_node::Home::spawn(duet_tests::open_home(ana.home.path())).expect("home");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt
        .block_on(Server::bind(
            home.handle(),
            "127.0.0.1:0".parse().expect("addr"),
            Box::new(|_| {}),
        ))
        .expect("bind");
    let (addr, fp) = (server.local_addr().expect("addr"), server.fingerprint());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = rt.spawn(server.run(async {
        let _ = stopped.await;
    }));
    rt.block_on(async {
        // A stranger's connections: the TLS handshake, then nothing.
        let identity = TlsIdentity::generate().expect("identity");
        let connect =
            || duet_node::net::connect(&identity, addr, Pins::Exactly([fp].into()), ALPN, "serve");
        let mut held = Vec::new();
        for _ in 0..MAX_CONNECTIONS_PER_ADDRESS {
            held.push(connect().await.expect("within the address's share"));
        }
        // A hundred in all from the one address: the rest are refused.
        for _ in MAX_CONNECTIONS_PER_ADDRESS..100 {
            assert!(
                connect().await.is_err(),
                "one address took more than its share"
            );
        }
        // Another address still gets in while the first one holds its share.
        let other = duet_node::net::connect_from(
            "127.0.0.2:0".parse().expect("addr"),
            &identity,
            addr,
            Pins::Exactly([fp].into()),
            ALPN,
            "serve",
        )
        .await;
        assert!(
            other.is_ok(),
            "a second address was kept out: {:?}",
            other.err()
        );
        let (endpoint, conn) = held.pop().expect("one held");
        conn.close(0u32.into(), b"done");
        endpoint.wait_idle().await;
        let mut again = None;
        for _ in 0..50 {
            if let Ok(c) = connect().await {
                again = Some(c);
                break;
            }
            // The server counts a closed connection out when QUIC ends it there.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(again.is_some(), "a freed place was not given again");
    });
    let _ = stop.send(());
    let _ = rt.block_on(serving);
    home.close();
}
