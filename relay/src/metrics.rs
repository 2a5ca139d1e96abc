//! What the relay counts for its operators, in Prometheus' text format: every series is
//! named `duet_relay_…`. Counts and sizes only: never a mailbox id, an address or a byte of
//! content.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Why the relay said no, as a metric label.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Reason {
    /// A connection over the relay's cap.
    connection_cap,
    /// A connection over the cap for its address.
    address_cap,
    /// No such mailbox, or a token that does not open it.
    no_mailbox,
    /// Creating a mailbox without a valid team token.
    team_token_required,
    /// Too many requests on a connection.
    rate_limited,
    /// An envelope over the size limit, or a request that is not one.
    bad_request,
    /// A mailbox over its quota.
    mailbox_quota,
    /// A push to, or compaction of, a retired mailbox.
    retired_mailbox,
    /// The store at its disk cap.
    store_full,
    /// The store failed to take a write.
    unavailable,
    /// A client cut off: garbage, an oversized frame, or a stall.
    cut_off,
    /// A push endpoint the relay does not take (off, host not allowed, mailbox full).
    wake_refused,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    reason: Reason,
}

/// The relay's counters, shared by the server, the store's writer and the HTTP listener.
#[derive(Debug)]
pub struct RelayMetrics {
    registry: Registry,
    /// Connections held now.
    pub connections: Gauge,
    connections_accepted: Counter,
    mailboxes: Gauge,
    store_bytes: Gauge,
    pushes: Counter,
    pushed_bytes: Counter,
    sent_bytes: Counter,
    commit_seconds: Histogram,
    refusals: Family<RefusalLabels, Counter>,
    wakeups_sent: Counter,
    wakeups_failed: Counter,
    wake_endpoints_dropped: Counter,
    started: Instant,
    serving: AtomicBool,
}

impl Default for RelayMetrics {
    fn default() -> Self {
        RelayMetrics::new()
    }
}

impl RelayMetrics {
    /// Fresh counters, registered under `duet_relay_`.
    pub fn new() -> RelayMetrics {
        let mut registry = Registry::with_prefix("duet_relay");
        let connections = Gauge::default();
        let connections_accepted = Counter::default();
        let mailboxes = Gauge::default();
        let store_bytes = Gauge::default();
        let pushes = Counter::default();
        let pushed_bytes = Counter::default();
        let sent_bytes = Counter::default();
        // 0.5 ms to ~4 s: a flush with fsync on a good disk to a very slow one.
        let commit_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        let refusals = Family::<RefusalLabels, Counter>::default();
        registry.register("connections", "Connections held now", connections.clone());
        registry.register(
            "connections_accepted",
            "Connections accepted since start",
            connections_accepted.clone(),
        );
        registry.register("mailboxes", "Mailboxes held", mailboxes.clone());
        registry.register(
            "store_bytes",
            "Bytes the store takes on disk",
            store_bytes.clone(),
        );
        registry.register("pushes", "Pushes stored durably", pushes.clone());
        registry.register(
            "pushed_bytes",
            "Bytes of envelopes stored durably",
            pushed_bytes.clone(),
        );
        registry.register(
            "sent_bytes",
            "Bytes of envelopes sent to devices",
            sent_bytes.clone(),
        );
        registry.register(
            "commit_seconds",
            "Time from a push's arrival to its durable acknowledgement",
            commit_seconds.clone(),
        );
        registry.register(
            "refusals",
            "Requests and connections refused, by reason",
            refusals.clone(),
        );
        let wakeups_sent = Counter::default();
        let wakeups_failed = Counter::default();
        let wake_endpoints_dropped = Counter::default();
        registry.register(
            "wakeups_sent",
            "Wake-ups push services accepted",
            wakeups_sent.clone(),
        );
        registry.register(
            "wakeups_failed",
            "Wake-up attempts that failed (each retry counts)",
            wakeups_failed.clone(),
        );
        registry.register(
            "wake_endpoints_dropped",
            "Push endpoints dropped after failing every retry or being gone",
            wake_endpoints_dropped.clone(),
        );
        RelayMetrics {
            registry,
            wakeups_sent,
            wakeups_failed,
            wake_endpoints_dropped,
            connections,
            connections_accepted,
            mailboxes,
            store_bytes,
            pushes,
            pushed_bytes,
            sent_bytes,
            commit_seconds,
            refusals,
            started: Instant::now(),
            serving: AtomicBool::new(false),
        }
    }

    /// A connection accepted.
    pub fn accepted(&self) {
        self.connections_accepted.inc();
    }

    /// A push stored durably, `bytes` long, acknowledged `since` it arrived.
    pub fn pushed(&self, bytes: usize, since: Instant) {
        self.pushes.inc();
        self.pushed_bytes.inc_by(bytes as u64);
        self.commit_seconds.observe(since.elapsed().as_secs_f64());
    }

    /// Envelopes sent to a device.
    pub fn sent(&self, bytes: usize) {
        self.sent_bytes.inc_by(bytes as u64);
    }

    /// Something refused.
    pub fn refused(&self, reason: Reason) {
        self.refusals.get_or_create(&RefusalLabels { reason }).inc();
    }

    /// A wake-up a push service accepted.
    pub fn wake_sent(&self) {
        self.wakeups_sent.inc();
    }

    /// A wake-up attempt that failed.
    pub fn wake_failed(&self) {
        self.wakeups_failed.inc();
    }

    /// A push endpoint dropped.
    pub fn wake_dropped(&self) {
        self.wake_endpoints_dropped.inc();
    }

    /// Whether the relay accepts connections (set once bound, cleared when stopping).
    pub fn set_serving(&self, serving: bool) {
        self.serving.store(serving, Ordering::Relaxed);
    }

    /// See [`RelayMetrics::set_serving`].
    pub fn serving(&self) -> bool {
        self.serving.load(Ordering::Relaxed)
    }

    /// Seconds since the relay started.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Pushes stored since start.
    pub fn push_count(&self) -> u64 {
        self.pushes.get()
    }

    /// The text exposition, with the store's figures as of now.
    pub fn render(&self, mailboxes: u64, store_bytes: u64) -> String {
        self.mailboxes
            .set(i64::try_from(mailboxes).unwrap_or(i64::MAX));
        self.store_bytes
            .set(i64::try_from(store_bytes).unwrap_or(i64::MAX));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_prefixed_and_refusals_carry_their_reason() {
        let m = RelayMetrics::new();
        m.accepted();
        m.pushed(1000, Instant::now());
        m.refused(Reason::no_mailbox);
        m.refused(Reason::no_mailbox);
        let text = m.render(3, 4096);
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            assert!(line.starts_with("duet_relay_"), "{line}");
        }
        assert!(text.contains("duet_relay_pushes_total 1"), "{text}");
        assert!(
            text.contains("duet_relay_pushed_bytes_total 1000"),
            "{text}"
        );
        assert!(text.contains("duet_relay_mailboxes 3"), "{text}");
        assert!(
            text.contains("duet_relay_refusals_total{reason=\"no_mailbox\"} 2"),
            "{text}"
        );
        assert!(text.contains("duet_relay_commit_seconds_bucket"), "{text}");
    }
}
