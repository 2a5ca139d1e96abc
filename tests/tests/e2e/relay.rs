//! Sync through a real `duet-relay` process on loopback: devices that are never online
//! together converge, the relay keeps every push it acknowledged across restarts and
//! SIGKILL, its disk holds no plaintext, and bad clients are refused or cut off while the
//! others keep syncing.

use duet_node::net::relay_client::{MailboxKey, RelayClient, RelayLink};
use duet_node::net::tls::{Pins, TlsIdentity};
use duet_tests::{http_get, invite, wait_for_status, Device, Relay};
use std::time::Duration;

/// Ana's notebook on a relay; the invite for others.
fn notebook_on(relay: &Relay, title: &str) -> (Device, String) {
    duet_tests::notebook_on_relay(relay, title, "Ana Canarywood", "Bo Canaryfield")
}

/// A relay that cuts stalled streams after 2 s and refuses envelopes over 64 KiB.
fn strict_relay() -> (tempfile::TempDir, Relay) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("relay.json");
    std::fs::write(
        &config,
        r#"{ "stall_timeout_secs": 2, "max_envelope_bytes": 65536, "require_team_token": false }"#,
    )
    .expect("config");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", Some(&config));
    (dir, relay)
}

fn join(name: &str, ticket: &str, role: &str) -> Device {
    let d = Device::new(name);
    let out = d.json(&["join", ticket, "--as", role]);
    assert_eq!(out["synced"], true, "{out}");
    d
}

#[test]
fn three_devices_online_at_different_moments_converge_through_the_relay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let (laptop, ticket) = notebook_on(&relay, "Canary 1-1 notebook");
    laptop.ok(&["agenda", "add", "laptop-agenda-canary"]);
    laptop.ok(&["sync"]);

    // Ana's phone: a second home of the same person.
    let phone = join("Ana Canarywood", &ticket, "manager");
    phone.ok(&["note", "phone-note-canary", "--section", "checkin"]);
    phone.ok(&["sync"]);

    let bo = join("Bo Canaryfield", &invite(&laptop, "127.0.0.1:9"), "report");
    bo.ok(&["agenda", "add", "bo-agenda-canary"]);
    let c = bo.json(&["commit", "add", "bo-commit-canary", "--owner", "me"]);
    bo.ok(&["sync"]);

    laptop.ok(&["sync"]);
    laptop.ok(&["commit", "done", c["id"].as_str().unwrap_or_default()]);
    laptop.ok(&["sync"]);
    phone.ok(&["sync"]);
    bo.ok(&["sync"]);
    laptop.ok(&["sync"]);

    let a = duet_tests::export_json(&laptop);
    assert_eq!(a, duet_tests::export_json(&phone));
    assert_eq!(a, duet_tests::export_json(&bo));
    let text = a.to_string();
    for marker in [
        "laptop-agenda-canary",
        "phone-note-canary",
        "bo-agenda-canary",
        "bo-commit-canary",
    ] {
        assert!(text.contains(marker), "{marker} missing: {text}");
    }
    assert!(text.contains("\"status\":\"done\""), "{text}");
    assert!(relay.stop(), "the relay did not stop cleanly on SIGTERM");

    // The relay's disk and log hold none of it in plaintext, hex or base64.
    let secrets = [
        "laptop-agenda-canary",
        "phone-note-canary",
        "bo-agenda-canary",
        "bo-commit-canary",
        "Canary 1-1 notebook",
        "Canarywood",
        "Canaryfield",
    ];
    duet_tests::assert_no_plaintext(&dir.path().join("relay"), &secrets);
    duet_tests::assert_no_plaintext(&dir.path().join("relay.log"), &secrets);
}

#[test]
fn every_acknowledged_push_survives_relay_restarts_and_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("relay");
    let mut relay = Some(Relay::start(&data, "127.0.0.1:0", None));
    let addr = relay
        .as_ref()
        .map(|r| r.addr.to_string())
        .unwrap_or_default();
    let (ana, ticket) = notebook_on(relay.as_ref().expect("relay"), "Pushes");
    let mut acknowledged = Vec::new();
    for i in 0..24 {
        let marker = format!("push-{i}-marker");
        ana.ok(&["agenda", "add", &marker]);
        if i % 8 == 3 {
            // Kill the relay while this push is in flight; restart it on the same port.
            let mut sync = ana.command().args(["sync"]).spawn().expect("sync");
            // Time is the subject: the kill lands at a different moment of each push.
            std::thread::sleep(Duration::from_millis(5 + i as u64));
            if let Some(r) = relay.take() {
                r.kill();
            }
            let _ = sync.wait();
            relay = Some(Relay::start(&data, &addr, None));
        } else if i % 8 == 6 {
            if let Some(r) = relay.take() {
                assert!(r.stop(), "the relay did not stop cleanly");
            }
            relay = Some(Relay::start(&data, &addr, None));
        }
        // With the relay up, the sync succeeds: the relay has acknowledged this item (and
        // any an interrupted sync did not get to push).
        let out = ana.json(&["sync"]);
        assert!(out["failed"].as_array().is_some_and(Vec::is_empty), "{out}");
        acknowledged.push(marker);
    }
    // A fresh device sees every item exactly once.
    let bo = join("Bo", &ticket, "report");
    let shown = bo.json(&["agenda", "list"]).to_string();
    for m in &acknowledged {
        assert_eq!(shown.matches(m.as_str()).count(), 1, "{m} in {shown}");
    }
    assert_eq!(duet_tests::export_json(&ana), duet_tests::export_json(&bo));
}

#[test]
fn bad_clients_are_refused_or_cut_off_and_others_keep_syncing() {
    let (_dir, relay) = strict_relay();
    let (ana, ticket) = notebook_on(&relay, "Hostile");
    let bo = join("Bo", &ticket, "report");
    // The notebook's real mailbox id (bound to this relay).
    let notebook = duet_tests::initial_mailbox(&ana, &relay).mailbox;
    let fp = duet_core::crypto::parse_fingerprint(&relay.fingerprint).expect("fp");
    let addr = relay.addr;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let identity = TlsIdentity::generate().expect("identity");
        let client = RelayClient::connect(&identity, addr, Pins::Exactly([fp].into()))
            .await
            .expect("connect");
        // A wrong token for a real mailbox reads exactly like a mailbox that does not exist.
        let wrong_token = client
            .pull(
                &MailboxKey {
                    mailbox: notebook.clone(),
                    token: [1u8; 32],
                    team_token: None,
                },
                0,
            )
            .await
            .expect_err("wrong token");
        let no_mailbox = client
            .pull(
                &MailboxKey {
                    mailbox: "ab".repeat(16),
                    token: [1u8; 32],
                    team_token: None,
                },
                0,
            )
            .await
            .expect_err("no mailbox");
        assert_eq!(wrong_token.to_string(), no_mailbox.to_string());
        // Pushing to someone else's mailbox with a wrong token: the same refusal.
        let push = client
            .push(
                &MailboxKey {
                    mailbox: notebook.clone(),
                    token: [1u8; 32],
                    team_token: None,
                },
                vec![1, 2, 3],
            )
            .await
            .expect_err("wrong token push");
        assert_eq!(push.to_string(), no_mailbox.to_string());
        // An oversized envelope in a valid mailbox of our own.
        let own = MailboxKey {
            mailbox: "cd".repeat(16),
            token: [2u8; 32],
            team_token: None,
        };
        let big = client
            .push(&own, vec![0u8; 70_000])
            .await
            .expect_err("too big");
        assert!(big.to_string().contains("size limit"), "{big}");
        client.close().await;

        // Garbage and a 4 GiB length prefix: the connection is cut.
        for bytes in [
            vec![0xffu8, 0xff, 0xff, 0xff, 0, 0],
            b"hello relay".to_vec(),
        ] {
            let conn = raw_connect(&identity, addr, fp).await;
            let (mut send, _recv) = conn.open_bi().await.expect("stream");
            let _ = send.write_all(&bytes).await;
            let _ = send.finish();
            let closed = tokio::time::timeout(Duration::from_secs(10), conn.closed()).await;
            assert!(
                closed.is_ok(),
                "the relay kept a connection that sent garbage"
            );
        }
        // A client that opens streams and never writes: cut off after the stall timeout.
        let conn = raw_connect(&identity, addr, fp).await;
        let mut streams = Vec::new();
        for _ in 0..8 {
            if let Ok(s) = conn.open_bi().await {
                streams.push(s);
            }
        }
        for (send, _) in &mut streams {
            let _ = send.write_all(&[0, 0]).await;
        }
        let closed = tokio::time::timeout(Duration::from_secs(15), conn.closed()).await;
        assert!(closed.is_ok(), "a stalling client was not cut off");
    });
    // Meanwhile, the real devices keep syncing.
    ana.ok(&["agenda", "add", "after-the-attack-marker"]);
    ana.ok(&["sync"]);
    bo.ok(&["sync"]);
    assert!(bo.ok(&["show"]).contains("after-the-attack-marker"));
}

#[test]
fn a_strangers_16_mib_open_is_cut_off_without_the_relay_holding_it() {
    let (_dir, relay) = strict_relay();
    let (ana, _ticket) = notebook_on(&relay, "Stranger danger");
    let fp = duet_core::crypto::parse_fingerprint(&relay.fingerprint).expect("fp");
    let pid = relay.child.id();
    let before = duet_tests::peak_memory_kib(pid);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let closed = rt.block_on(async {
        let identity = TlsIdentity::generate().expect("identity");
        let conn = raw_connect(&identity, relay.addr, fp).await;
        let (mut send, _recv) = conn.open_bi().await.expect("stream");
        tokio::spawn(async move { duet_tests::send_huge_frame(&mut send).await });
        tokio::time::timeout(Duration::from_secs(10), conn.closed())
            .await
            .is_ok()
    });
    let grew = duet_tests::peak_memory_kib(pid).saturating_sub(before);
    eprintln!("relay peak memory grew by {grew} KiB while a stranger sent a 16 MiB Open");
    assert!(closed, "the relay kept reading a stranger's 16 MiB Open");
    assert!(
        grew * 1024 < duet_tests::HUGE_FRAME_BYTES as u64 / 4,
        "the relay's peak memory grew by {grew} KiB"
    );
    ana.ok(&["agenda", "add", "after-the-stranger"]);
    ana.ok(&["sync"]);
}

async fn raw_connect(
    identity: &TlsIdentity,
    addr: std::net::SocketAddr,
    fp: [u8; 32],
) -> quinn::Connection {
    use duet_node::net::tls;
    let config = tls::client_config_for(
        identity,
        Pins::Exactly([fp].into()),
        Default::default(),
        tls::RELAY_ALPN,
    )
    .expect("tls");
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(config).expect("quic");
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("endpoint");
    let conn = endpoint
        .connect_with(
            quinn::ClientConfig::new(std::sync::Arc::new(quic)),
            addr,
            "relay",
        )
        .expect("connect")
        .await
        .expect("handshake");
    conn
}

#[test]
fn tampered_moved_and_replayed_envelopes_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let (ana, ticket) = notebook_on(&relay, "Tamper");
    ana.ok(&["agenda", "add", "real-item"]);
    ana.ok(&["sync"]);
    let bo = join("Bo", &ticket, "report");
    let before = duet_tests::export_json(&bo);
    let fp = duet_core::crypto::parse_fingerprint(&relay.fingerprint).expect("fp");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let identity = TlsIdentity::generate().expect("identity");
        let client = RelayClient::connect(&identity, relay.addr, Pins::Exactly([fp].into()))
            .await
            .expect("connect");
        let key = duet_tests::initial_mailbox(&ana, &relay);
        let entries = client.pull(&key, 0).await.expect("pull");
        let (_, real) = entries.last().cloned().expect("an entry");
        // A flipped bit in the ciphertext.
        let mut tampered = real.clone();
        let at = tampered.len() - 5;
        tampered[at] ^= 1;
        client.push(&key, tampered).await.expect("relay stores it");
        // The same envelope again: a replay.
        client.push(&key, real).await.expect("relay stores it");
        // An envelope of another notebook, moved into this mailbox.
        let other = duet_core::crypto::NotebookSecret::generate();
        let moved = duet_core::sync::relay::seal(
            &other.envelope_key(),
            &other.notebook_id(),
            [0u8; 8],
            duet_core::sync::relay::Chain::default(),
            &[duet_core::sync::relay::DocChanges {
                doc: "index".into(),
                changes: vec![1, 2, 3],
                heads: vec![],
            }],
            &duet_core::crypto::DeviceKey::generate(),
        );
        client.push(&key, moved).await.expect("relay stores it");
        client.close().await;
    });
    let out = bo.json(&["sync"]);
    assert_eq!(out["relays"][0]["rejected"], 2, "{out}");
    assert_eq!(duet_tests::export_json(&bo), before, "the notebook changed");
    // Bo keeps working with the notebook.
    bo.ok(&["agenda", "add", "after-tampering"]);
    bo.ok(&["sync"]);
    ana.ok(&["sync"]);
    assert!(ana.ok(&["show"]).contains("after-tampering"));
}

#[test]
fn compaction_frees_the_log_and_new_devices_still_converge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let (ana, ticket) = notebook_on(&relay, "Compact");
    for i in 0..12 {
        ana.ok(&["agenda", "add", &format!("item-{i}-marker")]);
        ana.ok(&["sync"]);
    }
    let out = ana.json(&["relay", "compact"]);
    assert!(out["compacted_upto"].as_u64().unwrap_or(0) >= 12, "{out}");
    let bo = Device::new("Bo");
    let joined = bo.json(&["join", &ticket, "--as", "report"]);
    assert_eq!(joined["synced"], true, "{joined}");
    let sync = bo.json(&["sync"]);
    assert_eq!(
        duet_tests::export_json(&ana),
        duet_tests::export_json(&bo),
        "{sync}"
    );
    let shown = bo.ok(&["agenda", "list"]);
    for i in 0..12 {
        assert!(shown.contains(&format!("item-{i}-marker")), "{shown}");
    }
}

#[test]
fn watch_prints_changes_as_they_arrive_and_leaves_the_home_usable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let (ana, ticket) = notebook_on(&relay, "Watch");
    let bo = join("Bo", &ticket, "report");
    let (mut watch, rx) = watch_lines(&bo);
    // The first line is the catch-up; then Ana adds an item.
    let _ = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("watch started");
    // `watch` prints its first line once its control socket is bound: this note goes
    // through it.
    bo.ok(&["note", "typed while watching", "--section", "notes"]);
    ana.ok(&["agenda", "add", "live-marker"]);
    ana.ok(&["sync"]);
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("watch printed the change");
    assert!(line.contains("\"agenda_items\":1"), "{line}");
    assert!(bo.ok(&["show"]).contains("live-marker"));
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn team_tokens_quotas_and_rates_are_enforced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("relay");
    // Issue a team token before starting (the relay keeps only its hash).
    let out = std::process::Command::new(duet_tests::relay_binary())
        .args(["token", "new", "--label", "Platform team", "--data"])
        .arg(&data)
        .output()
        .expect("token new");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let raw = std::fs::read_dir(&data)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect::<Vec<_>>();
    assert!(!raw.is_empty());
    duet_tests::assert_no_plaintext(&data, &[&token]);
    let config = dir.path().join("relay.json");
    std::fs::write(
        &config,
        // No `require_team_token`: a relay requires team tokens by default.
        r#"{ "mailbox_quota_bytes": 200000, "max_envelope_bytes": 65536,
             "requests_per_second": 20, "stall_timeout_secs": 2 }"#,
    )
    .expect("config");
    let relay = Relay::start(&data, "127.0.0.1:0", Some(&config));

    // Without the team token, a device cannot create its notebook's mailbox.
    let ana = Device::new("Ana");
    ana.ok(&["notebook", "new", "Team", "--me", "manager", "--with", "Bo"]);
    let addr = relay.addr.to_string();
    ana.ok(&["relay", "set", &addr, "--fingerprint", &relay.fingerprint]);
    let refused = ana.run(&["sync"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("team token"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    ana.ok(&[
        "relay",
        "set",
        &addr,
        "--fingerprint",
        &relay.fingerprint,
        "--team-token",
        &token,
    ]);
    ana.ok(&["sync"]);

    let fp = duet_core::crypto::parse_fingerprint(&relay.fingerprint).expect("fp");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let identity = TlsIdentity::generate().expect("identity");
        let client = RelayClient::connect(&identity, relay.addr, Pins::Exactly([fp].into()))
            .await
            .expect("connect");
        let own = MailboxKey {
            mailbox: "ef".repeat(16),
            token: [5u8; 32],
            team_token: Some(token.clone()),
        };
        // The quota: 200,000 bytes, in 60,000-byte envelopes.
        let mut results = Vec::new();
        for _ in 0..4 {
            results.push(client.push(&own, vec![9u8; 60_000]).await);
        }
        assert!(results[..3].iter().all(Result::is_ok), "{results:?}");
        let over = results[3].as_ref().expect_err("over quota");
        assert!(over.to_string().contains("quota"), "{over}");
        // The rate: 20 requests per second, bursts of 40.
        let mut limited = 0;
        for _ in 0..80 {
            if let Err(e) = client.pull(&own, 1_000_000).await {
                if e.to_string().contains("slow down") {
                    limited += 1;
                }
            }
        }
        assert!(limited > 0, "no request was rate limited");
        client.close().await;
    });
    // The real device was not hurt.
    ana.ok(&["agenda", "add", "still-fine"]);
    ana.ok(&["sync"]);

    // The operator revokes the token: no new mailbox with it; made ones keep working.
    assert!(relay.stop(), "the relay did not stop cleanly");
    let out = std::process::Command::new(duet_tests::relay_binary())
        .args(["token", "revoke", "Platform team", "--data"])
        .arg(&data)
        .output()
        .expect("token revoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(duet_tests::relay_binary())
        .args(["token", "revoke", "Platform team", "--data"])
        .arg(&data)
        .output()
        .expect("token revoke");
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no team token"),
        "revoking twice: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let relay = Relay::start(&data, &addr, Some(&config));
    let cy = Device::with_notebook("Cy", "Later", "Di");
    cy.ok(&[
        "relay",
        "set",
        &addr,
        "--fingerprint",
        &relay.fingerprint,
        "--team-token",
        &token,
    ]);
    let refused = cy.run(&["sync"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("team token"),
        "a revoked team token made a mailbox: {}",
        String::from_utf8_lossy(&refused.stderr)
    );
    ana.ok(&["agenda", "add", "after-the-revocation"]);
    ana.ok(&["sync"]);
}

#[test]
fn a_subscriber_that_never_reads_is_cut_off_without_hurting_others() {
    let (_dir, relay) = strict_relay();
    let (ana, ticket) = notebook_on(&relay, "Slow");
    let bo = join("Bo", &ticket, "report");
    let fp = duet_core::crypto::parse_fingerprint(&relay.fingerprint).expect("fp");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let identity = TlsIdentity::generate().expect("identity");
        let client = RelayClient::connect(&identity, relay.addr, Pins::Exactly([fp].into()))
            .await
            .expect("connect");
        let own = MailboxKey {
            mailbox: "ef".repeat(16),
            token: [5u8; 32],
            team_token: None,
        };
        // 4.8 MB of entries: more than the subscriber's flow-control windows hold.
        for _ in 0..80 {
            client.push(&own, vec![9u8; 60_000]).await.expect("push");
        }
        client.close().await;
        let slow = RelayClient::connect(&identity, relay.addr, Pins::Exactly([fp].into()))
            .await
            .expect("connect");
        let _sub = slow.subscribe(&own, 0).await.expect("subscribe");
        let cut = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                // Time is the subject: the relay's stall timeout cuts the reader off.
                tokio::time::sleep(Duration::from_millis(500)).await;
                if slow.pull(&own, 1_000_000).await.is_err() {
                    break;
                }
            }
        })
        .await;
        assert!(cut.is_ok(), "a subscriber that never reads was not cut off");
    });
    ana.ok(&["agenda", "add", "others-unaffected"]);
    ana.ok(&["sync"]);
    bo.ok(&["sync"]);
    assert!(bo.ok(&["show"]).contains("others-unaffected"));
}

/// Agenda texts of a device's current meeting, sorted.
fn agenda(device: &Device) -> Vec<String> {
    let mut items = duet_tests::agenda_texts(&device.json(&["agenda", "list"]));
    items.sort();
    items
}

#[test]
fn a_relay_restored_from_an_older_copy_heals_with_ordinary_syncs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("relay");
    let backup = dir.path().join("relay-backup");
    let relay = Relay::start(&data, "127.0.0.1:0", None);
    let addr = relay.addr.to_string();
    let (ana, ticket) = notebook_on(&relay, "Restored");
    ana.ok(&["agenda", "add", "before-the-backup"]);
    ana.ok(&["sync"]);
    let bo = join("Bo", &ticket, "report");
    // Last night's backup, taken with the relay stopped.
    assert!(relay.stop(), "the relay did not stop cleanly");
    duet_tests::copy_dir(&data, &backup);
    let relay = Relay::start(&data, &addr, None);
    for i in 0..5 {
        ana.ok(&["agenda", "add", &format!("after-the-backup-{i}")]);
        ana.ok(&["sync"]);
    }
    bo.ok(&["sync"]);
    bo.ok(&["agenda", "add", "bo-after-the-backup"]);
    bo.ok(&["sync"]);
    ana.ok(&["sync"]);
    let everything = agenda(&ana);
    assert_eq!(everything.len(), 7, "{everything:?}");
    assert_eq!(agenda(&bo), everything);

    // The operator restores the backup: the relay forgets everything since.
    assert!(relay.stop(), "the relay did not stop cleanly");
    std::fs::remove_dir_all(&data).expect("remove");
    duet_tests::copy_dir(&backup, &data);
    let _relay = Relay::start(&data, &addr, None);

    // Ordinary syncs, each device once, then once more; the first one writes first so the
    // relay hands out sequence numbers the other device had already read past.
    bo.ok(&["agenda", "add", "bo-after-the-restore"]);
    let out = bo.json(&["sync"]);
    assert_eq!(out["relays"][0]["rewound"], true, "{out}");
    ana.ok(&["agenda", "add", "ana-after-the-restore"]);
    let out = ana.json(&["sync"]);
    assert_eq!(out["relays"][0]["rewound"], true, "{out}");
    bo.ok(&["sync"]);
    ana.ok(&["sync"]);

    let everything = agenda(&ana);
    assert_eq!(everything.len(), 9, "{everything:?}");
    assert_eq!(agenda(&bo), everything);
    let cy = join("Cy", &invite(&ana, "127.0.0.1:9"), "report");
    assert_eq!(
        agenda(&cy),
        everything,
        "a device joining after the restore"
    );
    let status = bo.ok(&["status"]);
    assert!(
        status.contains("found changed under this device"),
        "{status}"
    );
}

#[test]
fn a_poisoned_batch_or_a_bomb_from_a_member_is_set_aside_and_sync_goes_on() {
    use duet_core::sync::relay::{seal, DocChanges};
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let (ana, ticket) = notebook_on(&relay, "Poison");
    ana.ok(&["agenda", "add", "before-the-poison"]);
    ana.ok(&["sync"]);
    let bo = join("Bo", &ticket, "report");
    let before = duet_tests::export_json(&bo);

    let secret = duet_tests::secret_ticket(&ana).notebook_secret();
    let notebook = secret.notebook_id();
    let key = secret.envelope_key();
    let runaway = duet_core::crypto::DeviceKey::generate();
    let sender = duet_core::sync::relay::sender_id(&key, &runaway.public_hex());
    let chain = duet_core::sync::relay::Chain::default();
    // A meeting that is not a meeting: valid seal, content that breaks the schema.
    let mut not_a_meeting = automerge::AutoCommit::new();
    automerge::transaction::Transactable::put(
        &mut not_a_meeting,
        automerge::ROOT,
        "junk",
        "not a meeting",
    )
    .expect("put");
    let poisoned = seal(
        &key,
        &notebook,
        sender,
        chain,
        &[DocChanges {
            doc: "zzzzzzzz".into(),
            changes: not_a_meeting.save(),
            heads: not_a_meeting.get_heads().iter().map(|h| h.0).collect(),
        }],
        &runaway,
    );
    // An inflate bomb: 40 MiB of zeros that deflate to almost nothing.
    let bomb = seal(
        &key,
        &notebook,
        sender,
        chain,
        &[DocChanges {
            doc: "index".into(),
            changes: vec![0u8; 40 * 1024 * 1024],
            heads: Vec::new(),
        }],
        &runaway,
    );
    // A meeting document past the operation limit.
    let mut huge = automerge::AutoCommit::new();
    let text = automerge::transaction::Transactable::put_object(
        &mut huge,
        automerge::ROOT,
        "notes",
        automerge::ObjType::Text,
    )
    .expect("text");
    automerge::transaction::Transactable::splice_text(
        &mut huge,
        &text,
        0,
        0,
        &"x".repeat(duet_core::sync::limits::MAX_DOC_OPS as usize + 1),
    )
    .expect("splice");
    let oversized = seal(
        &key,
        &notebook,
        sender,
        chain,
        &[DocChanges {
            doc: "yyyyyyyy".into(),
            changes: huge.save(),
            heads: huge.get_heads().iter().map(|h| h.0).collect(),
        }],
        &runaway,
    );
    let fp = duet_core::crypto::parse_fingerprint(&relay.fingerprint).expect("fp");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let identity = TlsIdentity::generate().expect("identity");
        let client = RelayClient::connect(&identity, relay.addr, Pins::Exactly([fp].into()))
            .await
            .expect("connect");
        let mailbox = duet_tests::initial_mailbox(&ana, &relay);
        for envelope in [poisoned, bomb, oversized] {
            client
                .push(&mailbox, envelope)
                .await
                .expect("the relay stores it");
        }
        client.close().await;
    });

    // Bo's sync sets the three aside and the notebook is unchanged.
    let out = bo.json(&["sync"]);
    assert_eq!(out["relays"][0]["rejected"], 3, "{out}");
    assert_eq!(duet_tests::export_json(&bo), before);
    let status = bo.json(&["status"]);
    let set_aside = status["notebooks"][0]["set_aside"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        set_aside.len(),
        2,
        "the schema breaker and the oversized meeting: {status}"
    );
    let reasons = set_aside
        .iter()
        .map(|b| b["reason"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join(" | ");
    assert!(reasons.contains("operations"), "{reasons}");

    // Later changes still arrive on every device.
    ana.ok(&["agenda", "add", "after-the-poison"]);
    ana.ok(&["sync"]);
    bo.ok(&["sync"]);
    bo.ok(&["agenda", "add", "bo-after-the-poison"]);
    bo.ok(&["sync"]);
    ana.ok(&["sync"]);
    assert_eq!(agenda(&ana), agenda(&bo));
    assert_eq!(agenda(&ana).len(), 3, "{:?}", agenda(&ana));
}

#[test]
fn a_relay_that_drops_one_batch_is_reported_not_silently_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let honest = Relay::start(&dir.path().join("honest"), "127.0.0.1:0", None);
    let (ana, ticket) = notebook_on(&honest, "Withheld");
    let bo = join("Bo", &ticket, "report");
    for i in 0..4 {
        ana.ok(&["agenda", "add", &format!("batch-{i}")]);
        ana.ok(&["sync"]);
    }
    // A second relay holding the honest relay's log but one of Ana's batches.
    let lying = Relay::start(&dir.path().join("lying"), "127.0.0.1:0", None);
    // The same notebook's mailbox at each relay (bound to each).
    let at_honest = duet_tests::initial_mailbox(&ana, &honest);
    let at_lying = duet_tests::initial_mailbox(&ana, &lying);
    // Bound to the relay: what one relay's operator sees opens nothing at another.
    assert_ne!(at_honest.mailbox, at_lying.mailbox);
    assert_ne!(at_honest.token, at_lying.token);
    let pins = |relay: &Relay| {
        Pins::Exactly(
            [duet_core::crypto::parse_fingerprint(&relay.fingerprint).expect("fp")].into(),
        )
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let identity = TlsIdentity::generate().expect("identity");
        let from = RelayClient::connect(&identity, honest.addr, pins(&honest))
            .await
            .expect("connect");
        let to = RelayClient::connect(&identity, lying.addr, pins(&lying))
            .await
            .expect("connect");
        let entries = from.pull(&at_honest, 0).await.expect("pull");
        assert!(entries.len() >= 4, "{} entries", entries.len());
        let dropped = entries.len() - 2;
        for (i, (_, envelope)) in entries.into_iter().enumerate() {
            if i != dropped {
                to.push(&at_lying, envelope).await.expect("push");
            }
        }
        from.close().await;
        to.close().await;
    });
    bo.ok(&[
        "relay",
        "set",
        &lying.addr.to_string(),
        "--fingerprint",
        &lying.fingerprint,
    ]);
    bo.ok(&["sync"]);
    let status = bo.json(&["status"]);
    let withheld = status["notebooks"][0]["withheld"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(withheld.len(), 1, "{status}");
    assert_eq!(
        withheld[0]["from"], withheld[0]["to"],
        "one batch: {status}"
    );
    assert!(bo.ok(&["status"]).contains("did not deliver batch"));
    // Through the honest relay nothing is missing, and nothing is reported.
    assert!(ana.json(&["status"])["notebooks"][0]["withheld"]
        .as_array()
        .is_some_and(Vec::is_empty));
}

#[test]
fn one_address_holds_at_most_its_share_of_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("relay.json");
    std::fs::write(
        &config,
        r#"{ "max_connections_per_address": 3, "require_team_token": false }"#,
    )
    .expect("config");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", Some(&config));
    let fp = duet_core::crypto::parse_fingerprint(&relay.fingerprint).expect("fp");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let identity = TlsIdentity::generate().expect("identity");
        let connect = || RelayClient::connect(&identity, relay.addr, Pins::Exactly([fp].into()));
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(connect().await.expect("within the share"));
        }
        assert!(
            connect().await.is_err(),
            "a fourth connection from one address"
        );
        if let Some(first) = held.pop() {
            first.close().await;
        }
        // The relay counts the closed connection out once it has ended there.
        let mut again = None;
        for _ in 0..50 {
            if let Ok(c) = connect().await {
                again = Some(c);
                break;
            }
            // The relay counts a closed connection out when QUIC ends it there, a moment
            // after the client closes; nothing tells the client when.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            again.is_some(),
            "a place freed by a closed connection was not given again"
        );
    });
}

#[test]
fn one_device_writes_to_two_mailboxes_under_unrelated_sender_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let (ana, _ticket) = notebook_on(&relay, "Ana / Bo");
    let first = duet_tests::initial_mailbox(&ana, &relay);
    ana.ok(&[
        "notebook", "new", "Ana / Cy", "--me", "manager", "--with", "Cy",
    ]);
    ana.ok(&[
        "relay",
        "set",
        &relay.addr.to_string(),
        "--fingerprint",
        &relay.fingerprint,
    ]);
    ana.ok(&["agenda", "add", "for Cy"]);
    ana.ok(&["sync"]);
    let second = duet_tests::initial_mailbox(&ana, &relay);
    let fp = duet_core::crypto::parse_fingerprint(&relay.fingerprint).expect("fp");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let senders = rt.block_on(async {
        let identity = TlsIdentity::generate().expect("identity");
        let client = RelayClient::connect(&identity, relay.addr, Pins::Exactly([fp].into()))
            .await
            .expect("connect");
        let mut senders = Vec::new();
        for key in [&first, &second] {
            let entries = client.pull(key, 0).await.expect("pull");
            let mut ids: Vec<[u8; 8]> = entries
                .iter()
                .filter_map(|(_, e)| duet_core::sync::relay::sender_of(e))
                .collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), 1, "one device wrote this mailbox: {ids:?}");
            senders.push(ids[0]);
        }
        client.close().await;
        senders
    });
    assert_ne!(
        senders[0], senders[1],
        "the same device is recognisable across mailboxes"
    );
}

fn relay_cmd(args: &[&str]) -> std::process::Output {
    std::process::Command::new(duet_tests::relay_binary())
        .args(args)
        .output()
        .expect("duet-relay runs")
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

#[test]
fn operators_read_metrics_health_status_and_mailboxes_and_delete_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        "require_team_token = false\nmetrics_listen = \"127.0.0.1:0\"\nlog_format = \"json\"\n",
    )
    .expect("config");
    let data = dir.path().join("relay");
    let mut relay = Relay::start(&data, "127.0.0.1:0", Some(&config));
    let ops = relay.metrics_addr();
    assert_eq!(http_get(&ops, "/healthz").0, 200);
    wait_for_status(&ops, "/readyz", 200);
    assert_eq!(http_get(&ops, "/nothing").0, 404);

    let (ana, ticket) = notebook_on(&relay, "Canary ops notebook");
    let bo = join("Bo", &ticket, "report");
    ana.ok(&["agenda", "add", "ops-canary-item"]);
    ana.ok(&["sync"]);
    bo.ok(&["sync"]);

    let (code, text) = http_get(&ops, "/metrics");
    assert_eq!(code, 200);
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        assert!(line.starts_with("duet_relay_"), "{line}");
    }
    assert!(metric(&text, "duet_relay_pushes_total") >= 2.0, "{text}");
    assert!(metric(&text, "duet_relay_pushed_bytes_total") > 0.0);
    assert!(metric(&text, "duet_relay_sent_bytes_total") > 0.0);
    assert!(metric(&text, "duet_relay_commit_seconds_count") >= 2.0);
    assert!(metric(&text, "duet_relay_mailboxes") >= 1.0);
    assert!(metric(&text, "duet_relay_connections_accepted_total") >= 2.0);
    assert!(!text.contains("ops-canary-item") && !text.contains("Canary ops"));

    // Nothing on the HTTP listener names a mailbox, nor answers a browser led there by a
    // name (DNS rebinding): the status and the mailboxes are on the owner's admin socket.
    assert_eq!(http_get(&ops, "/mailboxes").0, 404);
    assert_eq!(http_get(&ops, "/status").0, 404);
    assert_eq!(
        duet_tests::http_get_as(&ops, "/metrics", "rebound.example:9479").0,
        421
    );
    assert_eq!(
        duet_tests::http_get_as(&ops, "/healthz", "localhost:9479").0,
        200
    );
    let data_arg = duet_tests::path(&data);
    let status = relay_cmd(&["status", "--data", data_arg, "--json"]);
    assert!(status.status.success(), "{status:?}");
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status is JSON");
    assert_eq!(status["ready"], true, "{status}");
    assert_eq!(status["open"], true);
    assert_eq!(status["fingerprint"], relay.fingerprint.as_str());
    let words = relay_cmd(&["status", "--data", data_arg]);
    assert!(String::from_utf8_lossy(&words.stdout).contains("ready"));

    let listed = relay_cmd(&["mailbox", "list", "--data", data_arg, "--json"]);
    let mailboxes: serde_json::Value =
        serde_json::from_slice(&listed.stdout).expect("list is JSON");
    let mailboxes = mailboxes.as_array().cloned().unwrap_or_default();
    assert!(!mailboxes.is_empty());
    let now = jiff::Timestamp::now().as_millisecond();
    for m in &mailboxes {
        assert!(m["bytes"].as_u64().unwrap_or(0) > 0, "{m}");
        let at = m["last_write_ms"].as_i64().unwrap_or(0);
        assert!(now - at < 120_000, "written just now: {m}");
    }

    // The log is one JSON object per line.
    let log = std::fs::read_to_string(data.with_extension("log")).expect("log");
    assert!(log.lines().count() > 0);
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
    }

    // With the relay stopped, the same mailboxes are listed from its data, and one can be
    // deleted; its devices push everything again and converge.
    let addr = relay.addr.to_string();
    assert!(relay.stop(), "the relay stops cleanly");
    let offline = relay_cmd(&["mailbox", "list", "--data", data_arg, "--json"]);
    let offline: serde_json::Value = serde_json::from_slice(&offline.stdout).expect("JSON");
    assert_eq!(offline.as_array().map(Vec::len), Some(mailboxes.len()));
    for m in &mailboxes {
        let id = m["id"].as_str().unwrap_or_default();
        let out = relay_cmd(&["mailbox", "delete", id, "--data", data_arg]);
        assert!(out.status.success(), "{out:?}");
    }
    let gone = relay_cmd(&["mailbox", "delete", "0123", "--data", data_arg]);
    assert!(!gone.status.success());
    let empty = relay_cmd(&["mailbox", "list", "--data", data_arg, "--json"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&empty.stdout).ok(),
        Some(serde_json::json!([]))
    );
    let _relay = Relay::start(&data, &addr, Some(&config));
    ana.ok(&["agenda", "add", "after-delete-item"]);
    ana.ok(&["sync"]);
    bo.ok(&["sync"]);
    let items = agenda(&bo);
    assert!(
        items.contains(&"ops-canary-item".to_owned())
            && items.contains(&"after-delete-item".to_owned()),
        "{items:?}"
    );
}

#[test]
fn a_backup_taken_while_devices_push_restores_and_they_converge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("relay");
    let relay = Relay::start(&data, "127.0.0.1:0", None);
    let (ana, ticket) = notebook_on(&relay, "Canary backup notebook");
    let bo = join("Bo", &ticket, "report");
    let push = |n: usize| {
        ana.ok(&["agenda", "add", &format!("backup-item-{n}")]);
        ana.ok(&["sync"]);
    };
    for n in 0..3 {
        push(n);
    }
    // The backup is taken by the running relay while Ana keeps pushing.
    let backup = dir.path().join("backup");
    let taking = std::process::Command::new(duet_tests::relay_binary())
        .args(["backup", "--json", "--data"])
        .arg(&data)
        .arg("--to")
        .arg(&backup)
        .output();
    for n in 3..6 {
        push(n);
    }
    let taking = taking.expect("backup runs");
    assert!(taking.status.success(), "{taking:?}");
    let report: serde_json::Value = serde_json::from_slice(&taking.stdout).expect("report");
    assert!(report["mailboxes"].as_u64().unwrap_or(0) >= 1, "{report}");
    // A second backup into the same place is refused, not mixed in.
    let again = relay_cmd(&[
        "backup",
        "--data",
        duet_tests::path(&data),
        "--to",
        duet_tests::path(&backup),
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds"));
    for n in 6..8 {
        push(n);
    }
    bo.ok(&["sync"]);

    // The machine is lost; the relay comes back from the backup on the same address, with
    // the same identity, behind what both devices have read.
    let addr = relay.addr.to_string();
    relay.kill();
    let restored = Relay::start(&backup, &addr, None);
    assert_eq!(restored.fingerprint, relay_fingerprint(&data));
    ana.ok(&["agenda", "add", "after-restore-item"]);
    ana.ok(&["sync"]);
    bo.ok(&["sync"]);
    ana.ok(&["sync"]);
    let expected: Vec<String> = (0..8)
        .map(|n| format!("backup-item-{n}"))
        .chain(["after-restore-item".to_owned()])
        .collect();
    for device in [&ana, &bo] {
        let items = agenda(device);
        for want in &expected {
            assert!(items.contains(want), "{want} missing: {items:?}");
        }
    }
    // A device that joins the restored relay gets everything too.
    let ticket = invite(&ana, "127.0.0.1:9");
    let late = join("Bo again", &ticket, "report");
    let items = agenda(&late);
    for want in &expected {
        assert!(
            items.contains(want),
            "{want} missing on a new device: {items:?}"
        );
    }
}

/// `duet --json watch` on a device, and the lines it prints as they come.
fn watch_lines(device: &Device) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut watch = device
        .command()
        .args(["--json", "watch"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("watch");
    let stdout = watch.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    (watch, rx)
}

fn relay_fingerprint(data: &std::path::Path) -> String {
    let out = relay_cmd(&["fingerprint", "--data", duet_tests::path(data)]);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_relay_on_postgres_refuses_wrong_tokens_full_and_retired_mailboxes_and_early_deletes() {
    use duet_core::wire::RelayRefusal;
    use duet_node::net::NetError;
    let pg = duet_tests::Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        "require_team_token = false\nmailbox_quota_bytes = 200\n",
    )
    .expect("config");
    let relay = Relay::start_with(
        &dir.path().join("a"),
        "127.0.0.1:0",
        Some(&config),
        &["--store", pg.url.as_str()],
    );
    let key = MailboxKey {
        mailbox: "ab".repeat(16),
        token: [5; 32],
        team_token: None,
    };
    let stranger = MailboxKey {
        token: [6; 32],
        ..key.clone()
    };
    fn refusal<T: std::fmt::Debug>(r: Result<T, NetError>) -> RelayRefusal {
        match r {
            Err(NetError::RelayRefused { why, .. }) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(
        duet_tests::relay_push(&relay, &key, vec![1; 64]).expect("push"),
        1
    );
    // The second push goes straight to the writer (the relay knows the mailbox now), which
    // checks the quota itself.
    assert_eq!(
        duet_tests::relay_push(&relay, &key, vec![1; 100]).expect("push within the quota"),
        2
    );
    assert_eq!(
        refusal(duet_tests::relay_push(&relay, &key, vec![1; 64])),
        RelayRefusal::QuotaExceeded
    );
    assert_eq!(
        refusal(duet_tests::relay_push(&relay, &stranger, vec![2; 64])),
        RelayRefusal::NoMailbox
    );
    assert_eq!(
        refusal(duet_tests::relay_pull(&relay, &stranger)),
        RelayRefusal::NoMailbox
    );
    let (k, s) = (key.clone(), stranger.clone());
    let (early_delete, strangers_retire, retire) = duet_tests::on_relay(&relay, move |client| {
        Box::pin(async move {
            (
                client.delete(&k).await,
                client.retire(&s).await,
                client.retire(&k).await,
            )
        })
    });
    assert_eq!(refusal(early_delete), RelayRefusal::BadRequest);
    assert_eq!(refusal(strangers_retire), RelayRefusal::NoMailbox);
    retire.expect("the member retires its mailbox");
    assert_eq!(
        refusal(duet_tests::relay_push(&relay, &key, vec![3; 64])),
        RelayRefusal::Retired
    );
    assert_eq!(
        duet_tests::relay_pull(&relay, &key)
            .expect("a retired mailbox stays readable")
            .len(),
        2
    );
    // A retired mailbox is a tombstone: its member may not delete it.
    let k = key.clone();
    let kept = duet_tests::on_relay(&relay, move |client| {
        Box::pin(async move { client.delete(&k).await })
    });
    assert_eq!(refusal(kept), RelayRefusal::Retired);
    assert_eq!(
        duet_tests::relay_pull(&relay, &key)
            .expect("still there")
            .len(),
        2
    );
    // A closed one (its 1-1 ended) is its members' to delete, and may be made anew.
    let closed = MailboxKey {
        mailbox: "ef".repeat(16),
        token: [7; 32],
        team_token: None,
    };
    duet_tests::relay_push(&relay, &closed, vec![5; 64]).expect("push");
    let c = closed.clone();
    let (close, delete) = duet_tests::on_relay(&relay, move |client| {
        Box::pin(async move { (client.close_mailbox(&c).await, client.delete(&c).await) })
    });
    close.expect("the member closes it");
    delete.expect("a closed mailbox is deleted by its member");
    assert_eq!(
        refusal(duet_tests::relay_pull(&relay, &closed)),
        RelayRefusal::NoMailbox
    );
    // The relay knew the mailbox from its pushes; a push after the delete makes it anew.
    assert_eq!(
        duet_tests::relay_push(&relay, &closed, vec![4; 64]).expect("push after the delete"),
        1
    );
}

/// Each process's writer numbers pushes to a mailbox it wrote last against the row as it
/// left it; the other process's pushes in between must send them through the locking path.
#[test]
fn two_relay_processes_on_postgres_pushing_to_one_mailbox_give_every_entry_its_own_number() {
    let pg = duet_tests::Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("relay.toml");
    std::fs::write(&config, "require_team_token = false\n").expect("config");
    let store = ["--store", pg.url.as_str()];
    let first = Relay::start_with(&dir.path().join("a"), "127.0.0.1:0", Some(&config), &store);
    let second = Relay::start_with(&dir.path().join("b"), "127.0.0.1:0", Some(&config), &store);
    let key = MailboxKey {
        mailbox: "cd".repeat(16),
        token: [7; 32],
        team_token: None,
    };
    let mut pushed = std::collections::BTreeMap::new();
    // In turn: each push through one process follows one through the other.
    for n in 0..6u8 {
        let relay = if n % 3 == 2 { &second } else { &first };
        let seq = duet_tests::relay_push(relay, &key, vec![n; 32]).expect("push");
        assert_eq!(seq, u64::from(n) + 1, "push {n} numbered in turn");
        pushed.insert(seq, vec![n; 32]);
    }
    // At once: both processes push to the mailbox on their own connections.
    const EACH: u8 = 25;
    let at_once = |relay: &Relay, tag: u8| {
        let k = key.clone();
        duet_tests::on_relay(relay, move |client| {
            Box::pin(async move {
                let mut stored = Vec::new();
                for n in 0..EACH {
                    let envelope = vec![tag, n];
                    let seq = client.push(&k, envelope.clone()).await.expect("push");
                    stored.push((seq, envelope));
                }
                stored
            })
        })
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| at_once(&first, 100));
        let b = s.spawn(|| at_once(&second, 200));
        (a.join().expect("first"), b.join().expect("second"))
    });
    for (seq, envelope) in a.into_iter().chain(b) {
        assert!(
            pushed.insert(seq, envelope).is_none(),
            "sequence number {seq} given twice"
        );
    }
    let total = 6 + 2 * u64::from(EACH);
    assert_eq!(
        pushed.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>(),
        "every push numbered once, with no gap"
    );
    for relay in [&first, &second] {
        let entries = duet_tests::relay_pull(relay, &key).expect("pull");
        assert_eq!(
            entries,
            pushed.clone().into_iter().collect::<Vec<_>>(),
            "each process reads every entry under the number its push was given"
        );
    }
}

#[test]
fn a_relay_on_postgres_carries_on_after_the_database_cuts_its_connections_and_is_not_ready_without_it(
) {
    let mut pg = duet_tests::Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        "require_team_token = false\nmetrics_listen = \"127.0.0.1:0\"\n",
    )
    .expect("config");
    let mut relay = Relay::start_with(
        &dir.path().join("a"),
        "127.0.0.1:0",
        Some(&config),
        &["--store", pg.url.as_str()],
    );
    let ops = relay.metrics_addr();
    wait_for_status(&ops, "/readyz", 200);
    let key = MailboxKey {
        mailbox: "cd".repeat(16),
        token: [7; 32],
        team_token: None,
    };
    assert_eq!(
        duet_tests::relay_push(&relay, &key, vec![1; 64]).expect("push"),
        1
    );
    // As a database restart or a failover would: every connection of the relay ends.
    let cut = pg.sql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = 'duet' AND pid <> pg_backend_pid()",
    );
    assert_ne!(cut.trim(), "0", "the relay's connections were found");
    // A request that meets a lost connection is refused; the relay opens it again, and
    // the device's next try goes through (pushes through the writer, pulls through the
    // reading connections).
    let pushed = duet_tests::eventually(
        Duration::from_secs(20),
        "pushes to go through again",
        || duet_tests::relay_push(&relay, &key, vec![2; 64]).map_err(|e| e.to_string()),
    );
    assert_eq!(pushed, 2);
    let pulled =
        duet_tests::eventually(Duration::from_secs(20), "reads to go through again", || {
            duet_tests::relay_pull(&relay, &key).map_err(|e| e.to_string())
        });
    assert_eq!(pulled.len(), 2);
    wait_for_status(&ops, "/readyz", 200);

    // Cut again, then many devices at once: each reading connection is opened again once,
    // not once per request that found it lost (which would storm the database with
    // connections just as it comes back).
    let log = dir.path().join("a.log");
    let reopened = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("a lost reading connection to the database was opened again")
            .count()
    };
    let before = reopened();
    pg.sql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = 'duet' AND pid <> pg_backend_pid()",
    );
    std::thread::scope(|s| {
        for _ in 0..32 {
            s.spawn(|| duet_tests::relay_pull(&relay, &key).map(|e| e.len()));
        }
    });
    let opened = reopened() - before;
    assert!(
        (1..=4).contains(&opened),
        "{opened} reading connections opened for 4 slots"
    );

    // With the database gone, the relay says it is not ready (a load balancer then sends
    // devices elsewhere), and still answers that it is alive.
    pg.stop();
    wait_for_status(&ops, "/readyz", 503);
    assert_eq!(http_get(&ops, "/healthz").0, 200);
}

#[test]
fn two_relay_processes_on_one_postgres_deliver_live_and_survive_a_sigkill() {
    let pg = duet_tests::Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ["--store", pg.url.as_str()];
    let first = Relay::start_with(&dir.path().join("a"), "127.0.0.1:0", None, &store);
    let second = Relay::start_with(&dir.path().join("b"), "127.0.0.1:0", None, &store);
    assert_eq!(
        first.fingerprint, second.fingerprint,
        "every process shows devices the same identity"
    );
    let second_addr = second.addr.to_string();
    let (ana, ticket) = notebook_on(&first, "Canary postgres notebook");
    let bo = join("Bo", &ticket, "report");
    // Bo talks to the second process (as a round-robin address would send him there).
    bo.ok(&[
        "relay",
        "set",
        &second_addr,
        "--fingerprint",
        &second.fingerprint,
    ]);
    bo.ok(&["sync"]);

    // Live: Bo subscribes to the second process; Ana pushes through the first.
    let (mut watch, rx) = watch_lines(&bo);
    let _ = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("watch started");
    ana.ok(&["agenda", "add", "pg-live-marker"]);
    ana.ok(&["sync"]);
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the second process delivered the first one's push live");
    assert!(line.contains("\"agenda_items\":1"), "{line}");
    let _ = watch.kill();
    let _ = watch.wait();

    // The first process is SIGKILLed while Ana pushes through it; she carries on through
    // the second, and nothing a push acknowledged is lost.
    let home = ana.home.path().to_owned();
    let pusher = std::thread::spawn(move || {
        let (mut added, mut acknowledged) = (Vec::new(), Vec::new());
        for n in 0..40 {
            let run = |args: &[&str]| {
                std::process::Command::new(duet_tests::duet_binary())
                    .env("DUET_HOME", &home)
                    .env("DUET_KEYCHAIN", "off")
                    .args(args)
                    .output()
                    .is_ok_and(|o| o.status.success())
            };
            let item = format!("pg-push-{n}");
            if !run(&["agenda", "add", &item]) {
                break;
            }
            added.push(item.clone());
            // The first failed push is the relay dying: stop pushing through it.
            if !run(&["sync", "--relay"]) {
                break;
            }
            acknowledged.push(item);
        }
        (added, acknowledged)
    });
    // Time is the subject: the kill lands while Ana's pushes go on.
    std::thread::sleep(Duration::from_millis(600));
    first.kill();
    let (added, acknowledged) = pusher.join().expect("pusher");
    assert!(
        !acknowledged.is_empty(),
        "some pushes went through before the kill"
    );
    ana.ok(&[
        "relay",
        "set",
        &second_addr,
        "--fingerprint",
        &second.fingerprint,
    ]);
    ana.ok(&["sync"]);
    bo.ok(&["sync"]);
    let items = agenda(&bo);
    for want in acknowledged
        .iter()
        .chain(["pg-live-marker".to_owned()].iter())
    {
        assert!(items.contains(want), "{want} missing: {items:?}");
    }
    for want in &added {
        assert!(
            items.contains(want),
            "{want} (pushed again after the switch) missing: {items:?}"
        );
    }
}

/// Eight devices holding one mailbox's token take it at once, each over its own
/// connection to one of `relays`: exactly one gets its entries.
fn one_taker_of_eight_wins(relays: &[&Relay]) {
    let key = MailboxKey {
        mailbox: "cd".repeat(16),
        token: [9; 32],
        team_token: None,
    };
    duet_tests::relay_push(relays[0], &key, vec![1u8; 64]).expect("push");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let clients = rt.block_on(async {
        let mut clients = Vec::new();
        for i in 0..8 {
            let relay = relays[i % relays.len()];
            let fp = duet_core::crypto::parse_fingerprint(&relay.fingerprint).expect("fp");
            let identity = TlsIdentity::generate().expect("identity");
            clients.push(std::sync::Arc::new(
                RelayClient::connect(&identity, relay.addr, Pins::Exactly([fp].into()))
                    .await
                    .expect("connect"),
            ));
        }
        clients
    });
    let takes = rt.block_on(async {
        let mut all = tokio::task::JoinSet::new();
        for client in &clients {
            let (client, key) = (client.clone(), key.clone());
            all.spawn(async move { client.take(&key).await });
        }
        let mut takes = Vec::new();
        while let Some(done) = all.join_next().await {
            takes.push(done.expect("task").expect("take"));
        }
        takes
    });
    let winners: Vec<_> = takes.iter().flatten().collect();
    assert_eq!(winners.len(), 1, "{} takers got the mailbox", winners.len());
    assert_eq!(winners[0], &vec![(1, vec![1u8; 64])]);
    match duet_tests::relay_pull(relays[0], &key) {
        Err(duet_node::net::NetError::RelayRefused { why, .. }) => {
            assert_eq!(why, duet_core::wire::RelayRefusal::NoMailbox)
        }
        other => panic!("the taken mailbox is still there: {other:?}"),
    }
    rt.block_on(async {
        for c in clients {
            if let Ok(c) = std::sync::Arc::try_unwrap(c) {
                c.close().await;
            }
        }
    });
}

#[test]
fn a_mailbox_taken_by_many_at_once_goes_to_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    one_taker_of_eight_wins(&[&relay]);
    assert!(relay.stop(), "the relay did not stop cleanly");
}

#[test]
fn a_mailbox_taken_by_many_at_once_through_two_processes_on_postgres_goes_to_one() {
    let pg = duet_tests::Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("relay.toml");
    std::fs::write(&config, "require_team_token = false\n").expect("config");
    let start = |name: &str| {
        Relay::start_with(
            &dir.path().join(name),
            "127.0.0.1:0",
            Some(&config),
            &["--store", pg.url.as_str()],
        )
    };
    let (a, b) = (start("a"), start("b"));
    one_taker_of_eight_wins(&[&a, &b]);
    assert!(a.stop() && b.stop(), "a relay did not stop cleanly");
}

#[test]
fn an_operator_deletes_a_retired_mailbox_only_by_force_and_its_id_is_never_made_again() {
    use duet_core::wire::RelayRefusal;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("relay");
    let relay = Relay::start(&data, "127.0.0.1:0", None);
    let key = MailboxKey {
        mailbox: "9a".repeat(16),
        token: [3; 32],
        team_token: None,
    };
    duet_tests::relay_push(&relay, &key, vec![1; 64]).expect("push");
    let k = key.clone();
    duet_tests::on_relay(&relay, move |client| {
        Box::pin(async move { client.retire(&k).await })
    })
    .expect("retire");
    let data_arg = duet_tests::path(&data);
    let refused = relay_cmd(&["mailbox", "delete", &key.mailbox, "--data", data_arg]);
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--force"),
        "{refused:?}"
    );
    assert_eq!(duet_tests::relay_pull(&relay, &key).expect("kept").len(), 1);
    let forced = relay_cmd(&[
        "mailbox",
        "delete",
        &key.mailbox,
        "--data",
        data_arg,
        "--force",
    ]);
    assert!(forced.status.success(), "{forced:?}");
    match duet_tests::relay_push(&relay, &key, vec![2; 64]) {
        Err(duet_node::net::NetError::RelayRefused { why, .. }) => {
            assert_eq!(why, RelayRefusal::Retired)
        }
        other => panic!("a forced-away retired mailbox was made again: {other:?}"),
    }
    // With the relay stopped, the same holds of its data.
    let other = MailboxKey {
        mailbox: "9b".repeat(16),
        ..key.clone()
    };
    duet_tests::relay_push(&relay, &other, vec![1; 64]).expect("push");
    let o = other.clone();
    duet_tests::on_relay(&relay, move |client| {
        Box::pin(async move { client.retire(&o).await })
    })
    .expect("retire");
    assert!(relay.stop(), "the relay stops cleanly");
    let refused = relay_cmd(&["mailbox", "delete", &other.mailbox, "--data", data_arg]);
    assert!(!refused.status.success(), "{refused:?}");
    let forced = relay_cmd(&[
        "mailbox",
        "delete",
        &other.mailbox,
        "--data",
        data_arg,
        "--force",
    ]);
    assert!(forced.status.success(), "{forced:?}");
    let relay = Relay::start(&data, "127.0.0.1:0", None);
    match duet_tests::relay_push(&relay, &other, vec![2; 64]) {
        Err(duet_node::net::NetError::RelayRefused { why, .. }) => {
            assert_eq!(why, RelayRefusal::Retired)
        }
        other => panic!("a forced-away retired mailbox was made again: {other:?}"),
    }
    assert!(relay.stop(), "the relay stops cleanly");
}

#[test]
fn a_thousand_idle_connections_to_the_metrics_listener_leave_health_checks_answered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        "require_team_token = false\nmetrics_listen = \"127.0.0.1:0\"\n",
    )
    .expect("config");
    let mut relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", Some(&config));
    let ops = relay.metrics_addr();
    wait_for_status(&ops, "/readyz", 200);
    // Connections that say nothing: each holds a place until its deadline, and those past
    // the listener's cap are closed at once.
    let idle: Vec<std::net::TcpStream> = (0..1000)
        .filter_map(|_| std::net::TcpStream::connect(&ops).ok())
        .collect();
    assert!(
        idle.len() > duet_relay::ops::MAX_WAITING,
        "{} connected",
        idle.len()
    );
    // While they are held, a health check is answered at once: it takes the place of the
    // oldest silent connection, and waits for no other answer.
    let asked = std::time::Instant::now();
    let (code, _) = http_get(&ops, "/healthz");
    let took = asked.elapsed();
    assert_eq!(code, 200);
    assert!(
        took < duet_relay::ops::READ_DEADLINE / 2,
        "the health check waited for the idle connections' deadline ({took:?})"
    );
    eprintln!("healthz with 1,000 idle connections held: {took:?}");
    // The relay holds no descriptor per idle connection past its cap.
    let fds = std::fs::read_dir(format!("/proc/{}/fd", relay.child.id()))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(fds < 400, "the relay holds {fds} descriptors");
    drop(idle);
    assert!(relay.stop(), "the relay stops cleanly");
}

/// `duet-relay token ARGS`: its standard output, after checking it succeeded.
fn token_cmd(args: &[&str]) -> String {
    let out = relay_cmd(&[&["token"], args].concat());
    assert!(
        out.status.success(),
        "token {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Whether `token` makes a new mailbox on `relay` now.
fn token_makes_a_mailbox(relay: &Relay, token: &str, mailbox: &str) -> bool {
    let key = MailboxKey {
        mailbox: mailbox.into(),
        token: [8; 32],
        team_token: Some(token.to_owned()),
    };
    match duet_tests::relay_push(relay, &key, vec![1; 32]) {
        Ok(_) => true,
        Err(duet_node::net::NetError::RelayRefused { why, .. }) => {
            assert_eq!(why, duet_core::wire::RelayRefusal::TeamTokenRequired);
            false
        }
        Err(e) => panic!("push: {e}"),
    }
}

#[test]
fn team_tokens_are_issued_listed_and_revoked_while_the_relay_runs_on_sled_and_postgres() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("relay");
    // No settings: a relay requires team tokens by default.
    let config = dir.path().join("relay.toml");
    std::fs::write(&config, "").expect("config");
    let relay = Relay::start(&data, "127.0.0.1:0", Some(&config));
    let data_arg = duet_tests::path(&data);
    let token = token_cmd(&["new", "--label", "Platform", "--data", data_arg]);
    assert!(token.starts_with("dt_"), "{token}");
    assert_eq!(token_cmd(&["list", "--data", data_arg]), "Platform");
    assert!(token_makes_a_mailbox(&relay, &token, &"a1".repeat(16)));
    token_cmd(&["revoke", "Platform", "--data", data_arg]);
    assert!(!token_makes_a_mailbox(&relay, &token, &"a2".repeat(16)));
    assert_eq!(token_cmd(&["list", "--data", data_arg]), "");
    assert!(relay.stop(), "the relay stops cleanly");

    let pg = duet_tests::Postgres::start();
    let url = pg.url.as_str();
    let relay = Relay::start_with(
        &dir.path().join("pg"),
        "127.0.0.1:0",
        Some(&config),
        &["--store", url],
    );
    let token = token_cmd(&["new", "--label", "Data team", "--store", url]);
    assert_eq!(token_cmd(&["list", "--store", url]), "Data team");
    assert!(token_makes_a_mailbox(&relay, &token, &"b1".repeat(16)));
    token_cmd(&["revoke", &token, "--store", url]);
    assert!(!token_makes_a_mailbox(&relay, &token, &"b2".repeat(16)));
    assert!(relay.stop(), "the relay stops cleanly");
}

#[test]
fn a_relay_reaches_postgresql_over_tls_with_its_password_never_on_the_command_line() {
    use std::os::unix::fs::PermissionsExt;
    let pg = duet_tests::Postgres::start_tls();
    let over = pg.tls.clone().expect("listening over TLS");
    let dir = tempfile::tempdir().expect("tempdir");
    let pgpass = dir.path().join("pgpass");
    std::fs::write(
        &pgpass,
        format!("127.0.0.1:{}:duet:postgres:{}\n", over.port, over.password),
    )
    .expect("pgpass");
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let address = |mode: &str, ca: &std::path::Path| {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=duet sslmode={mode} sslrootcert={}",
            over.port,
            ca.display()
        )
    };
    let config = dir.path().join("relay.toml");
    std::fs::write(&config, "require_team_token = false\n").expect("config");
    let env = [("PGPASSFILE", pgpass.as_os_str())];

    // Verified to the end: the relay serves, and what it stores goes over TLS.
    let url = address("verify-full", &over.ca);
    assert!(!url.contains(&over.password));
    let relay = Relay::start_in_env(
        &dir.path().join("a"),
        "127.0.0.1:0",
        Some(&config),
        &["--store", &url],
        &env,
    );
    let key = MailboxKey {
        mailbox: "5e".repeat(16),
        token: [4; 32],
        team_token: None,
    };
    assert_eq!(
        duet_tests::relay_push(&relay, &key, vec![1; 32]).expect("push"),
        1
    );
    assert_eq!(duet_tests::relay_pull(&relay, &key).expect("pull").len(), 1);
    assert!(relay.stop(), "the relay stops cleanly");

    // What must not work does not: no TLS, another authority, no password.
    let (other_ca, _, _) = duet_tests::test_certificates(&dir.path().join("other"));
    let refused = |url: &str, env: &[(&str, &std::ffi::OsStr)], why: &str, said: &str| {
        let out = std::process::Command::new(duet_tests::relay_binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("b"))
            .arg("--config")
            .arg(&config)
            .args(["--store", url])
            .envs(env.iter().copied())
            .env_remove("PGPASSWORD")
            .output()
            .expect("duet-relay runs");
        assert!(!out.status.success(), "{why}: the relay started");
        // Refused for that reason, not another.
        let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(stderr.contains(said), "{why}: {stderr}");
    };
    refused(&address("disable", &over.ca), &env, "without TLS", "pg_hba");
    refused(
        &address("verify-full", &other_ca),
        &env,
        "another authority",
        "tls",
    );
    refused(
        &address("require", &over.ca),
        &[("PGPASSFILE", dir.path().join("none").as_os_str())],
        "no password",
        "password",
    );
}
