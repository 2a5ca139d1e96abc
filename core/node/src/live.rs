//! Background sync, run by a node: stays subscribed to each notebook's relay (applies what
//! arrives at once, pushes local writes after [`PUSH_DEBOUNCE`]), syncs with remembered
//! devices and with devices found on the local network that share a notebook (their mDNS
//! tags) every [`PEER_SYNC_EVERY`] and pushes to them content written here after
//! [`PEER_PUSH_DEBOUNCE`], and retries failures with capped exponential backoff and jitter. Every step reaches the home through its handle; nothing waits on the network
//! while holding it.
//!
//! What each link last did is kept in a [`LinkBoard`] for `duet status`.

use crate::net::relay_client::{self, RelayLink, RelayOutcome};
use crate::net::tls::Pins;
use crate::net::{client, NetError};
use crate::service::{self, SyncTarget};
use crate::HomeHandle;
use duet_core::home::SyncPort;
use duet_core::sync::relay_feed::{FeedStep, RelayFeed};
use duet_core::SyncReport;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How long local writes gather before one push: quick enough to feel live, long enough
/// that typing a paragraph is one envelope, not forty.
pub const PUSH_DEBOUNCE: Duration = Duration::from_millis(200);
/// The first pause after a failure.
pub const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// The longest pause between attempts: also how soon a network that came back is noticed.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How often remembered devices are synced with, and devices nearby looked for again.
pub const PEER_SYNC_EVERY: Duration = Duration::from_secs(30);
/// How long content written here gathers before it is pushed to the devices of the last
/// round: shorter than [`PUSH_DEBOUNCE`], since a device answers at once where a relay
/// stores every envelope, and the pair in the room is waiting for the line to appear.
pub const PEER_PUSH_DEBOUNCE: Duration = Duration::from_millis(50);
/// How long each peer round listens for devices announcing themselves on the local network.
pub const NEARBY_LISTEN: Duration = Duration::from_secs(2);
/// How often the node looks for notebooks newly given a relay (besides after each write).
pub const RESCAN_EVERY: Duration = Duration::from_secs(30);
/// The fewest seconds between two full peer rounds an app may ask for: a round listens
/// for [`NEARBY_LISTEN`] and syncs with every device, so more often would be all radio.
pub const MIN_PEER_SYNC_EVERY: Duration = Duration::from_secs(5);

/// What background sync reaches, and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOptions {
    /// Sync with devices (remembered ones with an address, and nearby ones when
    /// `nearby`), besides every notebook's relay.
    pub devices: bool,
    /// Look for devices on the local network (mDNS) on each full peer round.
    pub nearby: bool,
    /// The pause between full peer rounds (at least [`MIN_PEER_SYNC_EVERY`]).
    pub peer_every: Duration,
}

impl LiveOptions {
    /// Relays and devices, nearby ones included, a full peer round every
    /// [`PEER_SYNC_EVERY`]: a laptop's node, or a phone on a charger.
    pub fn everything() -> LiveOptions {
        LiveOptions {
            devices: true,
            nearby: true,
            peer_every: PEER_SYNC_EVERY,
        }
    }

    /// Every notebook's relay only.
    pub fn relays_only() -> LiveOptions {
        LiveOptions {
            devices: false,
            ..LiveOptions::everything()
        }
    }
}

/// Something background sync did, for the node's log.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A sync through a relay brought or sent something.
    RelaySynced {
        /// The relay.
        addr: SocketAddr,
        /// What arrived (and `sent_changes`).
        report: SyncReport,
    },
    /// A sync with a device brought or sent something.
    PeerSynced {
        /// The device.
        addr: SocketAddr,
        /// What arrived, per notebook.
        reports: Vec<SyncReport>,
    },
    /// A link failed; it is retried after `retry_in_ms`.
    Failed {
        /// `relay ADDR` or `device ADDR`.
        link: String,
        /// Why.
        error: String,
        /// When it is tried again.
        retry_in_ms: u64,
    },
}

/// What one link (a notebook's relay, or a device) last did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStatus {
    /// `relay` or `device`.
    pub kind: String,
    /// Its address.
    pub addr: String,
    /// The notebook, for a relay link.
    pub notebook: Option<String>,
    /// Whether it is connected now (a relay subscription).
    pub connected: bool,
    /// When it last synced without error (milliseconds since the epoch).
    pub last_ok: Option<i64>,
    /// The last error, if the last attempt failed.
    pub last_error: Option<String>,
}

/// The status of every link, shared between the sync tasks and `duet status`.
#[derive(Debug, Clone, Default)]
pub struct LinkBoard(Arc<Mutex<BTreeMap<String, LinkStatus>>>);

impl LinkBoard {
    fn update(&self, key: &str, f: impl FnOnce(&mut LinkStatus)) {
        if let Ok(mut links) = self.0.lock() {
            f(links.entry(key.to_owned()).or_default());
        }
    }

    fn remove(&self, key: &str) {
        if let Ok(mut links) = self.0.lock() {
            links.remove(key);
        }
    }

    /// Every link, relays first.
    pub fn links(&self) -> Vec<LinkStatus> {
        self.0
            .lock()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// Where events go.
pub type Events = Arc<dyn Fn(LiveEvent) + Send + Sync>;

/// Background sync while it runs; [`LiveSync::stop`] ends it.
pub struct LiveSync {
    stop: watch::Sender<bool>,
    tasks: tokio::task::JoinSet<()>,
    board: LinkBoard,
}

impl LiveSync {
    /// Starts syncing every relayed notebook of `home` and, as `options` say, every
    /// remembered device and every device nearby that shares a notebook.
    pub fn start(home: HomeHandle, events: Events, options: LiveOptions) -> LiveSync {
        let (stop, stopped) = watch::channel(false);
        let board = LinkBoard::default();
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(relays(
            home.clone(),
            events.clone(),
            board.clone(),
            stopped.clone(),
        ));
        if options.devices {
            tasks.spawn(peers(home, events, board.clone(), stopped, options));
        }
        LiveSync { stop, tasks, board }
    }

    /// What each link last did.
    pub fn board(&self) -> LinkBoard {
        self.board.clone()
    }

    /// Stops every link (a push in flight is abandoned; it is sent again next time).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        self.tasks.abort_all();
    }
}

/// Capped exponential backoff with jitter (half to all of the step), so devices that lost
/// the same relay do not return in step.
#[derive(Debug, Clone)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff { next: BACKOFF_MIN }
    }

    fn reset(&mut self) {
        self.next = BACKOFF_MIN;
    }

    fn pause(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        step.mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }
}

fn now_millis() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

async fn stopped_or(stopped: &mut watch::Receiver<bool>, pause: Duration) -> bool {
    if *stopped.borrow() {
        return true;
    }
    tokio::select! {
        _ = stopped.changed() => true,
        _ = tokio::time::sleep(pause) => *stopped.borrow(),
    }
}

/// Keeps one task per relayed notebook, starting tasks for notebooks given a relay later.
async fn relays(
    home: HomeHandle,
    events: Events,
    board: LinkBoard,
    mut stopped: watch::Receiver<bool>,
) {
    let mut running: BTreeSet<(String, String)> = BTreeSet::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut writes = home.writes();
    loop {
        let relayed = home.relayed_notebooks().await;
        if let Ok(relayed) = relayed {
            for (notebook, setting) in relayed {
                if running.insert((notebook.clone(), setting.addr.clone())) {
                    tasks.spawn(relay_link(
                        home.clone(),
                        notebook,
                        setting.addr,
                        events.clone(),
                        board.clone(),
                        stopped.clone(),
                    ));
                }
            }
        }
        tokio::select! {
            _ = stopped.changed() => break,
            changed = writes.changed() => if changed.is_err() { break },
            _ = tokio::time::sleep(RESCAN_EVERY) => {}
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// One notebook's relay: sessions one after another, with backoff between failures.
async fn relay_link(
    home: HomeHandle,
    notebook: String,
    addr: String,
    events: Events,
    board: LinkBoard,
    mut stopped: watch::Receiver<bool>,
) {
    let key = format!("relay {addr} {notebook}");
    board.update(&key, |s| {
        s.kind = "relay".into();
        s.addr = addr.clone();
        s.notebook = Some(notebook.clone());
    });
    let mut backoff = Backoff::new();
    loop {
        if *stopped.borrow() {
            return;
        }
        let result = relay_session(&home, &notebook, &events, &board, &key, &mut stopped).await;
        board.update(&key, |s| s.connected = false);
        let pause = match result {
            Ok(Session::Stopped) => return,
            Ok(Session::Ended) => {
                backoff.reset();
                backoff.pause()
            }
            Ok(Session::NoMailbox) => {
                // Nothing to pull until someone pushes: come back after a local write.
                backoff.reset();
                let mut writes = home.writes();
                writes.borrow_and_update();
                tokio::select! {
                    _ = stopped.changed() => return,
                    _ = writes.changed() => {}
                    _ = tokio::time::sleep(BACKOFF_MAX) => {}
                }
                Duration::ZERO
            }
            Err(e) => {
                let pause = backoff.pause();
                let error = e.to_string();
                tracing::debug!(%key, %error, "relay link failed");
                board.update(&key, |s| s.last_error = Some(error.clone()));
                events(LiveEvent::Failed {
                    link: format!("relay {addr}"),
                    error,
                    retry_in_ms: pause.as_millis() as u64,
                });
                pause
            }
        };
        if stopped_or(&mut stopped, pause).await {
            return;
        }
    }
}

enum Session {
    /// Asked to stop.
    Stopped,
    /// The relay closed the subscription (restarting, say): connect again.
    Ended,
    /// The mailbox does not exist yet.
    NoMailbox,
}

async fn relay_session(
    home: &HomeHandle,
    notebook: &str,
    events: &Events,
    board: &LinkBoard,
    key: &str,
    stopped: &mut watch::Receiver<bool>,
) -> Result<Session, NetError> {
    let client = relay_client::connect_notebook_relay(home, notebook).await?;
    let result = subscribed(home, notebook, events, board, key, stopped, &client).await;
    client.close().await;
    result
}

async fn subscribed(
    home: &HomeHandle,
    notebook: &str,
    events: &Events,
    board: &LinkBoard,
    key: &str,
    stopped: &mut watch::Receiver<bool>,
    client: &relay_client::RelayClient,
) -> Result<Session, NetError> {
    // Writes from here on are pushed by this session: the first sync below sends the rest.
    let mut writes = home.writes();
    writes.borrow_and_update();
    let first = relay_client::sync_relay_epochs(home, notebook, client).await?;
    relay_ok(board, key, events, &first);
    let (mailbox, cursor) = home.mailbox_and_cursor(notebook).await?;
    // A new key epoch moves the notebook to another mailbox: the session ends, and the
    // next one subscribes there.
    let moved = |now: &relay_client::MailboxKey| now.mailbox != mailbox.mailbox;
    let mut feed = RelayFeed::new(cursor);
    let mut sub = client.open_feed(&mailbox, feed.request()).await?;
    board.update(key, |s| s.connected = true);
    loop {
        let expiry = home.next_welcome_expiry(notebook).await?;
        tokio::select! {
            _ = stopped.changed() => return Ok(Session::Stopped),
            // An invite's welcome comes off the relay when the invite expires.
            () = until_unix(expiry) => {
                let outcome = relay_client::sync_relay_epochs(home, notebook, client).await?;
                relay_ok(board, key, events, &outcome);
            }
            next = sub.next() => {
                let Some(reply) = next? else {
                    return Ok(Session::Ended);
                };
                let entries = match feed.receive(reply)? {
                    FeedStep::Apply(entries) => entries,
                    FeedStep::Wait => continue,
                    // A full sync checks the log against the anchor (and rewinds).
                    FeedStep::Resync => return Ok(Session::Ended),
                    FeedStep::NoMailbox => return Ok(Session::NoMailbox),
                };
                let pulled = entries.len();
                let (report, rejected) = home.relay_apply(notebook, entries).await?;
                relay_ok(board, key, events, &RelayOutcome {
                    addr: client.addr(),
                    report,
                    pulled,
                    rejected,
                    pushed: None,
                    rewound: false,
                });
                if home.relay_epoch_moved(notebook).await? {
                    return Ok(Session::Ended);
                }
            }
            changed = writes.changed() => {
                if changed.is_err() {
                    return Ok(Session::Stopped);
                }
                // Gather the writes of the next moment into one push, sent by one more
                // sync over this connection (the engine's order: pull, apply, seal, push).
                tokio::time::sleep(PUSH_DEBOUNCE).await;
                writes.borrow_and_update();
                let outcome = relay_client::sync_relay_epochs(home, notebook, client).await?;
                // Our own bookkeeping write is not a new edit.
                writes.borrow_and_update();
                relay_ok(board, key, events, &outcome);
                if moved(&home.mailbox_and_cursor(notebook).await?.0) {
                    return Ok(Session::Ended);
                }
            }
        }
    }
}

/// Waits until `at` (Unix seconds) has passed; forever when `None`.
async fn until_unix(at: Option<i64>) {
    let Some(at) = at else {
        return std::future::pending().await;
    };
    let now = jiff::Timestamp::now().as_millisecond();
    // A moment past the second itself, so the invite reads as expired.
    let wait = (at * 1000 + 1).saturating_sub(now).max(0);
    tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
}

fn relay_ok(board: &LinkBoard, key: &str, events: &Events, outcome: &RelayOutcome) {
    board.update(key, |s| {
        s.last_ok = Some(now_millis());
        s.last_error = None;
    });
    if outcome.report.documents_changed > 0 || outcome.report.sent_changes > 0 {
        events(LiveEvent::RelaySynced {
            addr: outcome.addr,
            report: outcome.report.clone(),
        });
    }
}

/// Syncs with every remembered device that has an address and every device nearby that
/// shares a notebook: a full round (looking for devices again) every `peer_every`,
/// and in between a push round to the devices of the last full round whenever notebook
/// content was written here, [`PEER_PUSH_DEBOUNCE`] after it. A device that failed waits
/// out its own backoff.
///
/// A push round that brings the other device's changes back writes content too, so one
/// more round follows; it finds nothing new on either side and writes none, so the two
/// nodes settle. Bookkeeping (when a device last synced) is not content and wakes nothing.
async fn peers(
    home: HomeHandle,
    events: Events,
    board: LinkBoard,
    mut stopped: watch::Receiver<bool>,
    options: LiveOptions,
) {
    let every = options.peer_every.max(MIN_PEER_SYNC_EVERY);
    let mut backoffs: HashMap<SocketAddr, (Backoff, tokio::time::Instant)> = HashMap::new();
    let mut documents = home.document_writes();
    loop {
        documents.borrow_and_update();
        let nearby = if options.nearby {
            nearby_devices(&home).await
        } else {
            Vec::new()
        };
        let targets = peer_targets(&home, &nearby).await;
        if peer_round(
            &home,
            &events,
            &board,
            &mut stopped,
            &mut backoffs,
            &targets,
            every,
        )
        .await
        {
            return;
        }
        let next_full_round = tokio::time::Instant::now() + every;
        loop {
            tokio::select! {
                _ = stopped.changed() => return,
                _ = tokio::time::sleep_until(next_full_round) => break,
                changed = documents.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // Gather the writes of the next moment (a paragraph typed) into one push.
                    tokio::time::sleep(PEER_PUSH_DEBOUNCE).await;
                    documents.borrow_and_update();
                    // Remembered devices afresh (one synced with by hand since counts),
                    // the nearby ones as the last full round found them.
                    let targets = peer_targets(&home, &nearby).await;
                    if peer_round(&home, &events, &board, &mut stopped, &mut backoffs, &targets, every).await {
                        return;
                    }
                }
            }
        }
    }
}

/// Devices on the local network announcing a notebook held here (none when discovery is
/// unavailable: no multicast, no permission).
async fn nearby_devices(home: &HomeHandle) -> Vec<SocketAddr> {
    match service::nearby_devices(home, NEARBY_LISTEN).await {
        Ok(found) => found,
        Err(e) => {
            tracing::debug!(error = %e, "no local network discovery");
            Vec::new()
        }
    }
}

/// The devices a round reaches: remembered ones with an address, then `nearby` ones.
async fn peer_targets(home: &HomeHandle, nearby: &[SocketAddr]) -> Vec<(SocketAddr, Pins)> {
    let mut targets: Vec<(SocketAddr, Pins)> = service::remembered_devices(home)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| match t {
            SyncTarget::Device { addr, pins } => Some((addr, pins)),
            SyncTarget::Relay { .. } => None,
        })
        .collect();
    for addr in nearby {
        if !targets.iter().any(|(a, _)| a == addr) {
            targets.push((*addr, Pins::AnyMember));
        }
    }
    targets
}

/// Syncs once with each of `targets` not waiting out a backoff; true when asked to stop.
async fn peer_round(
    home: &HomeHandle,
    events: &Events,
    board: &LinkBoard,
    stopped: &mut watch::Receiver<bool>,
    backoffs: &mut HashMap<SocketAddr, (Backoff, tokio::time::Instant)>,
    targets: &[(SocketAddr, Pins)],
    every: Duration,
) -> bool {
    for (addr, pins) in targets {
        let addr = *addr;
        let now = tokio::time::Instant::now();
        if backoffs.get(&addr).is_some_and(|(_, until)| *until > now) {
            continue;
        }
        let key = format!("device {addr}");
        board.update(&key, |s| {
            s.kind = "device".into();
            s.addr = addr.to_string();
        });
        let outcome = tokio::select! {
            _ = stopped.changed() => return true,
            o = client::sync_with(home, addr, pins.clone()) => o,
        };
        match outcome {
            // This device's own announcement.
            Err(NetError::ThisDevice { .. }) => board.remove(&key),
            Ok(o) => {
                backoffs.remove(&addr);
                board.update(&key, |s| {
                    s.last_ok = Some(now_millis());
                    s.last_error = None;
                });
                if o.reports
                    .iter()
                    .any(|r| r.documents_changed > 0 || r.sent_changes > 0)
                {
                    events(LiveEvent::PeerSynced {
                        addr,
                        reports: o.reports,
                    });
                }
            }
            Err(e) => {
                let entry = backoffs
                    .entry(addr)
                    .or_insert_with(|| (Backoff::new(), now));
                // Devices are tried on the full round at the earliest; backoff only
                // stretches the wait for one that keeps failing.
                let pause = entry.0.pause().max(every);
                entry.1 = now + pause;
                let error = e.to_string();
                board.update(&key, |s| s.last_error = Some(error.clone()));
                events(LiveEvent::Failed {
                    link: key.clone(),
                    error,
                    retry_in_ms: pause.as_millis() as u64,
                });
            }
        }
    }
    *stopped.borrow()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter() {
        let mut b = Backoff::new();
        let mut last_step = Duration::ZERO;
        for _ in 0..10 {
            let step = b.next;
            let pause = b.pause();
            assert!(
                pause >= step / 2 && pause <= step,
                "{pause:?} within half of {step:?}"
            );
            assert!(step >= last_step);
            last_step = step;
        }
        assert_eq!(b.next, BACKOFF_MAX);
        b.reset();
        assert_eq!(b.next, BACKOFF_MIN);
    }
}
