//! The operators' HTTP listener (`--metrics ADDR`): `/metrics` (Prometheus text format),
//! `/healthz` (the process answers) and `/readyz` (it serves QUIC and its store takes
//! writes: on PostgreSQL, the database answers). Nothing here changes anything, and
//! nothing names a mailbox: the relay's status and its mailboxes are told on the admin
//! socket (`duet-relay status|mailbox list --data DIR`), which only the relay's owner reaches.
//!
//! Three fixed GET routes with no body, each a short answer with `Connection: close`: a
//! hand-written HTTP/1.1 responder of a page does this, where an HTTP server crate would
//! add dozens of crates to a binary whose whole point is a small attack surface. What a
//! client costs is bounded from the moment it is accepted: at most [`MAX_WAITING`]
//! connections may still be sending their request (a new one closes the oldest), each has
//! [`READ_DEADLINE`] from accept to send a head of at most [`MAX_HEAD_BYTES`], health checks
//! are answered at once, and at most [`MAX_CONCURRENT`] `/metrics` answers are made at a
//! time. A request whose
//! `Host` is a name rather than an address (a browser led there by DNS rebinding) is
//! refused.

use crate::metrics::RelayMetrics;
use crate::store::RelayStore;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// The largest request head read (request line and headers).
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// How long a client may take, from accept, to send its request.
pub const READ_DEADLINE: Duration = Duration::from_secs(5);
/// `/metrics` answers made at once; more wait (within their deadline).
pub const MAX_CONCURRENT: usize = 16;
/// Connections still sending their request at once; a new one closes the oldest.
pub const MAX_WAITING: usize = 64;
/// How long a request may take in all, from accept to its answer sent.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(10);

/// What `duet-relay status` shows, as the admin socket tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The relay's version.
    pub version: String,
    /// Seconds since it started.
    pub uptime_secs: u64,
    /// Where it serves QUIC.
    pub listen: String,
    /// Its certificate fingerprint, as devices pin it.
    pub fingerprint: String,
    /// Whether it serves and its store takes writes.
    pub ready: bool,
    /// Whether anyone may create a mailbox (no team token required).
    pub open: bool,
    /// Where mailboxes are kept: `sled` or `postgres`.
    #[serde(default)]
    pub backend: String,
    /// Connections held now.
    pub connections: i64,
    /// Mailboxes held.
    pub mailboxes: u64,
    /// Bytes the store takes on disk.
    pub store_bytes: u64,
    /// Pushes stored since start.
    pub pushes: u64,
}

/// What the listener reads its answers from.
#[derive(Clone)]
pub struct OpsState {
    /// The counters.
    pub metrics: Arc<RelayMetrics>,
    /// The store.
    pub store: Arc<RelayStore>,
    /// Where QUIC is served.
    pub listen: SocketAddr,
    /// The fingerprint, as text.
    pub fingerprint: String,
    /// Whether mailboxes can be made without a team token.
    pub open: bool,
}

impl OpsState {
    async fn ready(&self) -> bool {
        self.metrics.serving() && self.store.accepting_writes() && self.store.reachable().await
    }

    /// The relay's status, as the admin socket tells it.
    pub async fn status(&self) -> Status {
        Status {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_secs: self.metrics.uptime_secs(),
            listen: self.listen.to_string(),
            fingerprint: self.fingerprint.clone(),
            ready: self.ready().await,
            open: self.open,
            backend: self.store.backend_name().to_owned(),
            connections: self.metrics.connections.get(),
            mailboxes: self.store.mailbox_count().await.unwrap_or(0),
            store_bytes: self.store.bytes_on_disk().await.unwrap_or(0),
            pushes: self.metrics.push_count(),
        }
    }
}

/// The connections still sending their request, oldest first: when [`MAX_WAITING`] are,
/// the oldest is closed to make room, so a flood of silent connections costs the listener
/// a bounded number of descriptors and never keeps a health check waiting.
#[derive(Default)]
struct Waiting {
    /// The last id given, and each waiting connection's id and closer.
    queue: std::sync::Mutex<(u64, std::collections::VecDeque<Closer>)>,
}

/// A waiting connection's id, and what closes it when dropped.
type Closer = (u64, oneshot::Sender<()>);

impl Waiting {
    /// A place for a new connection, closing the oldest waiting one when all are taken;
    /// its id, and what tells it it was closed.
    fn enter(&self) -> (u64, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let mut guard = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let (next, queue) = &mut *guard;
        if queue.len() >= MAX_WAITING {
            // Dropping its sender closes it (its task ends, and its socket with it).
            queue.pop_front();
        }
        *next += 1;
        queue.push_back((*next, tx));
        (*next, rx)
    }

    /// The connection `id` has sent its request (or gone).
    fn leave(&self, id: u64) {
        let mut guard = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        guard.1.retain(|(waiting, _)| *waiting != id);
    }
}

/// Serves the operators' routes on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    state: OpsState,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT));
    let waiting = Arc::new(Waiting::default());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (id, closed) = waiting.enter();
                let (state, slots, waiting) = (state.clone(), slots.clone(), waiting.clone());
                tokio::spawn(async move {
                    let answered = answer(stream, &state, &slots, closed, || waiting.leave(id));
                    match tokio::time::timeout(ANSWER_DEADLINE, answered).await {
                        Ok(Err(e)) => tracing::debug!(error = %e, "metrics request failed"),
                        Err(_) => tracing::debug!("metrics request out of time"),
                        Ok(Ok(())) => {}
                    }
                    waiting.leave(id);
                });
            }
        }
    }
}

/// Whether a request's `Host` names an address (or `localhost`), as an operator's tools
/// send, rather than a name a browser was led to by DNS rebinding. A request with no
/// `Host` (HTTP/1.0 probes) is let through.
fn host_allowed(head: &str) -> bool {
    let Some(host) = head.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("host")
            .then(|| value.trim())
    }) else {
        return true;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => {
            return v6
                .split(']')
                .next()
                .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok())
        }
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.parse::<u16>().is_ok() {
                name
            } else {
                host
            }
        }),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

async fn answer(
    mut stream: TcpStream,
    state: &OpsState,
    slots: &tokio::sync::Semaphore,
    closed: oneshot::Receiver<()>,
    asked: impl FnOnce(),
) -> std::io::Result<()> {
    let read = tokio::select! {
        read = tokio::time::timeout(READ_DEADLINE, read_head(&mut stream)) => read,
        // Closed to make room for a newer connection.
        _ = closed => return Ok(()),
    };
    asked();
    let head = match read {
        Ok(Ok(Some(head))) => head,
        Ok(Ok(None)) => {
            return respond(&mut stream, 431, "text/plain", "request head too large\n").await
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => return Ok(()),
    };
    match route(&head) {
        Route::OnlyGet => respond(&mut stream, 405, "text/plain", "only GET\n").await,
        Route::ByName => respond(&mut stream, 421, "text/plain", "ask by address\n").await,
        Route::NotFound => respond(&mut stream, 404, "text/plain", "not found\n").await,
        Route::Health => respond(&mut stream, 200, "text/plain", "ok\n").await,
        Route::Ready => {
            if state.ready().await {
                respond(&mut stream, 200, "text/plain", "ready\n").await
            } else {
                respond(&mut stream, 503, "text/plain", "not ready\n").await
            }
        }
        Route::Metrics => {
            let Ok(_slot) = slots.acquire().await else {
                return Ok(());
            };
            let body = state.metrics.render(
                state.store.mailbox_count().await.unwrap_or(0),
                state.store.bytes_on_disk().await.unwrap_or(0),
            );
            respond(
                &mut stream,
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                &body,
            )
            .await
        }
    }
}

/// What a request head asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/healthz`.
    Health,
    /// `/readyz`.
    Ready,
    /// `/metrics`.
    Metrics,
    /// Another path.
    NotFound,
    /// Another method than GET or HEAD.
    OnlyGet,
    /// A `Host` that is a name (DNS rebinding).
    ByName,
}

/// Reads a request head (the request line and the headers).
pub fn route(head: &str) -> Route {
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    if method != "GET" && method != "HEAD" {
        return Route::OnlyGet;
    }
    if !host_allowed(head) {
        return Route::ByName;
    }
    match path {
        "/healthz" => Route::Health,
        "/readyz" => Route::Ready,
        "/metrics" => Route::Metrics,
        _ => Route::NotFound,
    }
}

/// The request head, or `None` when it is over [`MAX_HEAD_BYTES`].
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return Ok(Some(String::from_utf8_lossy(&buf).into_owned()));
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Ok(None);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Some(String::from_utf8_lossy(&buf).into_owned()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn respond(
    stream: &mut TcpStream,
    code: u16,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let reason = match code {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_routed_by_method_host_and_path() {
        let get =
            |path: &str, host: &str| route(&format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"));
        assert_eq!(get("/healthz", "127.0.0.1:9479"), Route::Health);
        assert_eq!(get("/readyz?x=1", "[::1]:9479"), Route::Ready);
        assert_eq!(get("/metrics", "localhost"), Route::Metrics);
        assert_eq!(get("/status", "10.0.0.1"), Route::NotFound);
        assert_eq!(get("/metrics", "rebound.example:9479"), Route::ByName);
        assert_eq!(get("/metrics", "[not-an-address]:1"), Route::ByName);
        assert_eq!(route("POST /metrics HTTP/1.1\r\n\r\n"), Route::OnlyGet);
        assert_eq!(route("GET /healthz HTTP/1.0\r\n\r\n"), Route::Health);
        assert_eq!(route(""), Route::OnlyGet);
    }
}
