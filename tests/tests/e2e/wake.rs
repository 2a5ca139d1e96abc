//! Wake-ups: a real relay process POSTs a content-free wake-up to the push endpoint a
//! device registered, soon after another device's push lands in their mailbox; an
//! endpoint that keeps failing is retried, then dropped, and the relay serves on.

use duet_tests::{eventually, http_get, invite, laptop_on, open_home, Device, Relay};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request a test endpoint received.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    text: String,
}

/// A push service on loopback: records every request and answers `status`.
struct PushService {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl PushService {
    fn start(status: u16, path: &str) -> PushService {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                log.lock().expect("log").push(Received {
                    at: Instant::now(),
                    text: String::from_utf8_lossy(&got).into_owned(),
                });
                let _ = stream.write_all(
                    format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n").as_bytes(),
                );
            }
        });
        PushService {
            url: format!("http://127.0.0.1:{port}{path}"),
            received,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("log").clone()
    }
}

/// A series' value in the relay's metrics text (0 when absent).
fn series(ops: &str, name: &str) -> u64 {
    let (_, text) = http_get(ops, "/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

/// Sets the device's push endpoint through the core API (what the phone's
/// `register_push` does), then lets its next sync tell the relay.
fn register(device: &Device, url: &str) {
    let mut duet = open_home(device.home.path());
    duet.relay().set_push_endpoint(Some(url)).expect("endpoint");
}

#[test]
fn a_push_wakes_the_registered_device_at_once_with_nothing_in_it_and_a_failing_endpoint_is_dropped()
{
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        "require_team_token = false\nmetrics_listen = \"127.0.0.1:0\"\n\n[wake]\nhosts = [\"127.0.0.1\"]\nmin_interval_secs = 1\nattempts = 3\nfirst_retry_ms = 100\n",
    )
    .expect("config");
    let mut relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", Some(&config));
    let ops = relay.metrics_addr();

    let laptop = laptop_on(&relay);
    laptop.ok(&["sync"]);
    let phone = Device::new("Bo");
    phone.ok(&["join", &invite(&laptop, "127.0.0.1:9"), "--as", "report"]);

    // Bo's phone registers a push endpoint; its sync tells the relay.
    let push = PushService::start(201, "/up/bo-phone?t=1");
    register(&phone, &push.url);
    phone.ok(&["sync"]);
    assert!(push.received().is_empty(), "registering wakes nothing");

    // Ana's note lands in the mailbox: the phone's endpoint is woken within a second.
    laptop.ok(&["note", "wake-canary-text", "--section", "wins"]);
    let pushed = Instant::now();
    laptop.ok(&["sync"]);
    let wake = eventually(Duration::from_secs(5), "the wake-up", || {
        push.received()
            .first()
            .cloned()
            .ok_or_else(|| "none yet".to_owned())
    });
    let latency = wake.at.saturating_duration_since(pushed);
    eprintln!("wake-up {} ms after the push began", latency.as_millis());
    assert!(latency <= Duration::from_secs(1), "{latency:?}");

    // Nothing of the mailbox is in it: an empty POST to the endpoint's own path.
    assert!(
        wake.text.starts_with("POST /up/bo-phone?t=1 HTTP/1.1\r\n"),
        "{}",
        wake.text
    );
    assert!(wake.text.contains("Content-Length: 0\r\n"), "{}", wake.text);
    let (head, body) = wake.text.split_once("\r\n\r\n").expect("a whole request");
    assert!(body.is_empty(), "{body:?}");
    let mailbox = duet_tests::initial_mailbox(&laptop, &relay).mailbox;
    assert!(!head.contains(&mailbox), "{head}");
    assert!(!head.contains("wake-canary"), "{head}");

    // The phone's sync brings the note the wake-up announced.
    phone.ok(&["sync"]);
    assert!(phone.ok(&["show"]).contains("wake-canary-text"));

    // A tablet registers an endpoint that always fails: tried `attempts` times with
    // backoff, then dropped; the relay serves on and the phone is still woken.
    let tablet = Device::new("Bo");
    tablet.ok(&["join", &invite(&laptop, "127.0.0.1:9"), "--as", "report"]);
    let broken = PushService::start(500, "/up/broken");
    register(&tablet, &broken.url);
    tablet.ok(&["sync"]);
    let woken_before = push.received().len();
    laptop.ok(&["note", "second-note", "--section", "wins"]);
    laptop.ok(&["sync"]);
    eventually(
        Duration::from_secs(10),
        "the broken endpoint dropped",
        || match series(&ops, "duet_relay_wake_endpoints_dropped_total") {
            1 => Ok(()),
            n => Err(format!("{n} dropped")),
        },
    );
    let tries = broken.received();
    assert_eq!(tries.len(), 3, "three attempts: {tries:?}");
    let (first, second) = (tries[1].at - tries[0].at, tries[2].at - tries[1].at);
    assert!(
        second > first && first >= Duration::from_millis(100),
        "the pauses grow: {first:?}, {second:?}"
    );
    assert!(series(&ops, "duet_relay_wakeups_failed_total") >= 3);

    // Dropped: the next push wakes the phone and not the broken endpoint.
    std::thread::sleep(Duration::from_millis(1100));
    laptop.ok(&["note", "third-note", "--section", "wins"]);
    laptop.ok(&["sync"]);
    eventually(Duration::from_secs(5), "the phone woken again", || {
        if push.received().len() > woken_before + 1 {
            Ok(())
        } else {
            Err(format!("{} wake-ups", push.received().len()))
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        broken.received().len(),
        3,
        "the dropped endpoint is not tried again"
    );
    phone.ok(&["sync"]);
    assert!(phone.ok(&["show"]).contains("third-note"));
    assert!(series(&ops, "duet_relay_wakeups_sent_total") >= 2);
    assert!(
        relay.child.try_wait().expect("relay").is_none(),
        "the relay serves on"
    );
}

#[test]
fn a_relay_with_wake_ups_off_or_another_host_refuses_the_endpoint_and_the_device_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        "require_team_token = false\n\n[wake]\nhosts = [\"push.example.org\"]\n",
    )
    .expect("config");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", Some(&config));
    let laptop = laptop_on(&relay);
    laptop.ok(&["sync"]);
    register(&laptop, "http://127.0.0.1:9/up");
    laptop.ok(&["sync"]);
    let mut duet = open_home(laptop.home.path());
    let told = duet.relay().push_registrations().expect("registrations");
    let refused: Vec<String> = told.iter().filter_map(|(_, r)| r.refused.clone()).collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        refused.iter().any(|r| r.contains("127.0.0.1")),
        "{refused:?}"
    );
}

/// What both backends must do with push endpoints: one per slot (a second replaces it),
/// at most `max` a mailbox, removed by its slot, and gone with their mailbox.
async fn endpoints_are_kept_per_slot_capped_and_deleted_with_their_mailbox(
    store: &duet_relay::store::RelayStore,
) {
    use duet_relay::store::Write;
    let mailbox = "c0".repeat(16);
    let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    let set = |slot: [u8; 32], url: Option<&'static str>| {
        let mailbox = mailbox.clone();
        async move { store.set_wake(&mailbox, slot, url, 2).await.expect("set") }
    };
    let held = || async {
        let mut w = store.wakes(&mailbox).await.expect("wakes");
        w.sort();
        w
    };
    assert!(set(a, Some("https://push.example/a1")).await);
    assert!(
        set(a, Some("https://push.example/a2")).await,
        "the slot's own endpoint is replaced"
    );
    assert!(set(b, Some("https://push.example/b")).await);
    assert!(
        !set(c, Some("https://push.example/c")).await,
        "a third is over the cap of two"
    );
    assert_eq!(
        held().await,
        vec![
            (a, "https://push.example/a2".to_owned()),
            (b, "https://push.example/b".to_owned())
        ]
    );
    assert!(set(b, None).await);
    assert_eq!(
        held().await,
        vec![(a, "https://push.example/a2".to_owned())]
    );
    let (tx, rx) = tokio::sync::oneshot::channel();
    store
        .write(Write::Delete {
            mailbox: mailbox.clone(),
            reply: tx,
        })
        .await
        .expect("queued");
    rx.await.expect("answered").expect("deleted");
    assert!(
        held().await.is_empty(),
        "the endpoints went with the mailbox"
    );
}

#[test]
fn push_endpoints_are_kept_per_slot_capped_and_deleted_with_their_mailbox_on_sled_and_postgres() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    runtime.block_on(async {
        let sled = duet_relay::store::RelayStore::open(dir.path()).expect("sled store");
        endpoints_are_kept_per_slot_capped_and_deleted_with_their_mailbox(&sled).await;
    });
    let pg = duet_tests::Postgres::start();
    runtime.block_on(async {
        let store = duet_relay::store::RelayStore::open_postgres(&pg.url)
            .await
            .expect("postgres store");
        endpoints_are_kept_per_slot_capped_and_deleted_with_their_mailbox(&store).await;
    });
}
