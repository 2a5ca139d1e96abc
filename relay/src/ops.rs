//! The operators' HTTP listener (`--metrics ADDR`): `/metrics` (Prometheus text format),
//! `/healthz` (the process answers), `/readyz` (it serves QUIC and its store takes writes:
//! on PostgreSQL, the database answers),
//! `/status` (the same figures as JSON, read by `duet-relay status`) and `/mailboxes`
//! (ids, sizes and last writes, read by `duet-relay mailbox list`). Nothing here changes
//! anything: deleting a mailbox is done on the data directory with the relay stopped.
//!
//! Five fixed GET routes with no body, each a short answer with `Connection: close`, on an
//! address only operators reach: a hand-written HTTP/1.1 responder of a page does this
//! with a request head capped at [`MAX_HEAD_BYTES`], a read deadline and a cap on
//! connections at once, where an HTTP server crate would add dozens of crates to a binary
//! whose whole point is a small attack surface.

use crate::metrics::RelayMetrics;
use crate::store::RelayStore;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The largest request head read (request line and headers).
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// How long a client may take to send its request.
pub const READ_DEADLINE: Duration = Duration::from_secs(5);
/// Requests served at once; more wait.
pub const MAX_CONCURRENT: usize = 16;

/// What `/status` answers.
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

    async fn status(&self) -> Status {
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

/// Serves the operators' routes on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    state: OpsState,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                let slots = slots.clone();
                tokio::spawn(async move {
                    let Ok(_slot) = slots.acquire_owned().await else { return };
                    if let Err(e) = answer(stream, &state).await {
                        tracing::debug!(error = %e, "metrics request failed");
                    }
                });
            }
        }
    }
}

async fn answer(mut stream: TcpStream, state: &OpsState) -> std::io::Result<()> {
    let head = match tokio::time::timeout(READ_DEADLINE, read_head(&mut stream)).await {
        Ok(Ok(Some(head))) => head,
        Ok(Ok(None)) => {
            return respond(&mut stream, 431, "text/plain", "request head too large\n").await
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => return Ok(()),
    };
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    if method != "GET" && method != "HEAD" {
        return respond(&mut stream, 405, "text/plain", "only GET\n").await;
    }
    match path {
        "/metrics" => {
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
        "/healthz" => respond(&mut stream, 200, "text/plain", "ok\n").await,
        "/readyz" => {
            if state.ready().await {
                respond(&mut stream, 200, "text/plain", "ready\n").await
            } else {
                respond(&mut stream, 503, "text/plain", "not ready\n").await
            }
        }
        "/mailboxes" => {
            let list = state.store.mailbox_list().await.unwrap_or_default();
            let body = serde_json::to_string(&list).unwrap_or_default();
            respond(&mut stream, 200, "application/json", &format!("{body}\n")).await
        }
        "/status" => {
            let body = serde_json::to_string(&state.status().await).unwrap_or_default();
            respond(&mut stream, 200, "application/json", &format!("{body}\n")).await
        }
        _ => respond(&mut stream, 404, "text/plain", "not found\n").await,
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

/// A GET of `path` on an operators' listener, for `duet-relay status`: the status code and
/// the body.
pub async fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::time::timeout(READ_DEADLINE, TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connecting timed out"))??;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut reply = Vec::new();
    tokio::time::timeout(READ_DEADLINE, stream.read_to_end(&mut reply))
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "the relay did not answer")
        })??;
    let text = String::from_utf8_lossy(&reply);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((code, body))
}
