//! The relay's QUIC server: one stream per request, each opening its mailbox first.
//!
//! A stream carries `Open` (mailbox, token) then one request; the reply ends the stream,
//! except for `Subscribe`, which stays open and carries new entries as they become durable.
//! A missing mailbox and a wrong token get the same refusal. Every read and write has a
//! deadline, every connection a request budget, the server a connection cap: a client that
//! stalls, floods or sends garbage is cut off, and the others do not notice.

use crate::config::RelayConfig;
use crate::metrics::{Reason, RelayMetrics};
use crate::store::{RelayStore, RelayStoreError, Write};
use crate::stream::{reason_of, Answer, Ask, Read, StreamLimits, StreamMachine, WriteFailure};
use crate::wake::Waker;
use duet_protocol::net::tls;
use duet_protocol::wire::{self, RelayRefusal, RelayReply, RelayRequest, WireError};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Streams one connection may have open at once.
const MAX_STREAMS: u32 = 8;
/// Bytes of entries per reply frame.
const REPLY_BYTES: usize = 1024 * 1024;
/// Application close code: the client broke the protocol or its limits.
pub const CLOSE_MISBEHAVED: u32 = 2;
/// Application close code: the relay is full or shutting down.
pub const CLOSE_BUSY: u32 = 3;

/// A bound relay server.
pub struct RelayServer {
    endpoint: quinn::Endpoint,
    store: Arc<RelayStore>,
    config: Arc<RelayConfig>,
    fingerprint: [u8; 32],
    connections: Arc<AtomicUsize>,
    /// Connections held per source address.
    per_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
    metrics: Arc<RelayMetrics>,
    waker: Waker,
}

/// Releases a connection's place in the counts when it ends.
struct Admitted {
    total: Arc<AtomicUsize>,
    per_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
    metrics: Arc<RelayMetrics>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.total.fetch_sub(1, Ordering::Relaxed);
        self.metrics.connections.dec();
        let mut map = self
            .per_address
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl RelayServer {
    /// Binds `listen` with the relay's identity from `store`.
    pub async fn bind(
        store: Arc<RelayStore>,
        listen: SocketAddr,
        config: RelayConfig,
    ) -> anyhow::Result<RelayServer> {
        let identity = store.identity().await?;
        let tls_config = tls::server_config_for(&identity, tls::RELAY_ALPN)?;
        let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls_config)?;
        let mut server_config = quinn::ServerConfig::with_crypto(Arc::new(quic));
        server_config.transport_config(transport(&config));
        let socket =
            crate::udp::bind(listen).map_err(|e| anyhow::anyhow!("listening on {listen}: {e}"))?;
        let endpoint = quinn::Endpoint::new(
            quinn::EndpointConfig::default(),
            Some(server_config),
            socket,
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(|e| anyhow::anyhow!("listening on {listen}: {e}"))?;
        let metrics = store.metrics();
        let waker = Waker::new(config.wake.clone(), store.clone());
        Ok(RelayServer {
            endpoint,
            waker,
            store,
            metrics,
            config: Arc::new(config),
            fingerprint: identity.fingerprint(),
            connections: Arc::new(AtomicUsize::new(0)),
            per_address: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// The relay's certificate fingerprint.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// Serves until `shutdown`; then stops accepting, closes connections and flushes.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        self.metrics.set_serving(true);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                incoming = self.endpoint.accept() => {
                    let Some(incoming) = incoming else { break };
                    let Some(admitted) = self.admit(incoming.remote_address()) else {
                        incoming.refuse();
                        continue;
                    };
                    let store = self.store.clone();
                    let config = self.config.clone();
                    let waker = self.waker.clone();
                    tokio::spawn(async move {
                        let addr = incoming.remote_address();
                        if let Err(e) = connection(&store, config, waker, incoming).await {
                            tracing::info!(peer = %addr, error = %e, "connection ended");
                        }
                        drop(admitted);
                    });
                }
            }
        }
        self.metrics.set_serving(false);
        self.endpoint
            .close(CLOSE_BUSY.into(), b"the relay is shutting down");
        // Pushes already queued finish their batch: the writer acknowledges only after a
        // flush, and this flush makes anything in between durable too.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Err(e) = self.store.flush() {
            tracing::error!(error = %e, "final flush failed");
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.endpoint.wait_idle()).await;
    }
}

impl RelayServer {
    /// Counts a new connection from `addr`, or says why not (over the total cap, or over
    /// the cap for its address).
    fn admit(&self, addr: SocketAddr) -> Option<Admitted> {
        if self.connections.load(Ordering::Relaxed) >= self.config.max_connections {
            tracing::warn!(peer = %addr, "connection refused: at the connection cap");
            self.metrics.refused(Reason::connection_cap);
            return None;
        }
        let ip = addr.ip();
        {
            let mut map = self
                .per_address
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let held = map.entry(ip).or_insert(0);
            if *held >= self.config.max_connections_per_address {
                tracing::warn!(peer = %addr, held = *held, "connection refused: at the cap for its address");
                self.metrics.refused(Reason::address_cap);
                return None;
            }
            *held += 1;
        }
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.metrics.connections.inc();
        self.metrics.accepted();
        Some(Admitted {
            total: self.connections.clone(),
            per_address: self.per_address.clone(),
            ip,
            metrics: self.metrics.clone(),
        })
    }
}

/// Transport sized for many idle devices: small windows, few streams.
fn transport(config: &RelayConfig) -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.max_idle_timeout(
        quinn::IdleTimeout::try_from(Duration::from_secs(config.idle_timeout_secs)).ok(),
    );
    t.max_concurrent_bidi_streams(quinn::VarInt::from_u32(MAX_STREAMS));
    t.max_concurrent_uni_streams(quinn::VarInt::from_u32(0));
    // Windows are limits, not allocations (measured: changing them moves an idle
    // connection's ~30 KiB not at all).
    t.receive_window(quinn::VarInt::from_u32(8 * 1024 * 1024));
    // One frame (an envelope or a snapshot) must fit a stream's window.
    t.stream_receive_window(quinn::VarInt::from_u32(4 * 1024 * 1024 + 64 * 1024));
    t.send_window(2 * 1024 * 1024);
    Arc::new(t)
}

/// A token bucket per connection.
struct Budget {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Budget {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let burst = self.rate * 2.0;
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

async fn connection(
    store: &Arc<RelayStore>,
    config: Arc<RelayConfig>,
    waker: Waker,
    incoming: quinn::Incoming,
) -> anyhow::Result<()> {
    let conn =
        tokio::time::timeout(Duration::from_secs(config.stall_timeout_secs), incoming).await??;
    let budget = Arc::new(Mutex::new(Budget {
        rate: f64::from(config.requests_per_second),
        tokens: f64::from(config.requests_per_second) * 2.0,
        last: Instant::now(),
    }));
    while let Ok((send, recv)) = conn.accept_bi().await {
        let allowed = budget.lock().map(|mut b| b.take()).unwrap_or(false);
        let store = store.clone();
        let config = config.clone();
        let waker = waker.clone();
        let conn = conn.clone();
        tokio::spawn(async move {
            let result = if allowed {
                stream(&store, &config, &waker, send, recv).await
            } else {
                refuse(
                    &store,
                    send,
                    Duration::from_secs(config.stall_timeout_secs),
                    RelayRefusal::RateLimited,
                    "too many requests; slow down",
                )
                .await
            };
            if let Err(e) = result {
                // Garbage, oversized frames and stalls end the connection, not just the stream.
                tracing::info!(peer = %conn.remote_address(), error = %e, "client cut off");
                store.metrics().refused(Reason::cut_off);
                conn.close(CLOSE_MISBEHAVED.into(), e.to_string().as_bytes());
            }
        });
    }
    Ok(())
}

/// Sends one page of the mailbox's entries after `after` and moves `after` past them;
/// returns whether more are waiting. An empty page is sent only when `empty_too` (a pull
/// always answers; a subscription stays quiet until something arrives).
async fn send_page(
    store: &RelayStore,
    mailbox: &str,
    after: &mut u64,
    send: &mut quinn::SendStream,
    stall: Duration,
    empty_too: bool,
) -> Result<bool, WireError> {
    let (entries, more) = store
        .entries_after(mailbox, *after, REPLY_BYTES)
        .await
        .map_err(internal)?;
    if let Some((seq, _)) = entries.last() {
        *after = *seq;
    }
    if empty_too || !entries.is_empty() {
        let bytes = entries.iter().map(|(_, e)| e.len()).sum();
        write_reply(send, stall, RelayReply::Entries { entries, more }).await?;
        store.metrics().sent(bytes);
    }
    Ok(more)
}

/// Refuses a stream before its machine starts (the connection's request budget is spent),
/// counted by its reason.
async fn refuse(
    store: &RelayStore,
    mut send: quinn::SendStream,
    stall: Duration,
    why: RelayRefusal,
    message: &str,
) -> Result<(), WireError> {
    store.metrics().refused(reason_of(why));
    let reply = RelayReply::Refused {
        why,
        message: message.to_owned(),
    };
    write_reply(&mut send, stall, reply).await?;
    let _ = send.finish();
    Ok(())
}

/// Carries one stream: does what its state machine asks, over quinn and the store, until
/// it is done. An error cuts the connection off.
async fn stream(
    store: &RelayStore,
    config: &RelayConfig,
    waker: &Waker,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) -> Result<(), WireError> {
    let stall = Duration::from_secs(config.stall_timeout_secs);
    let (mut machine, mut ask) = StreamMachine::start(StreamLimits {
        max_envelope_bytes: config.max_envelope_bytes,
        max_store_bytes: config.max_store_bytes,
        require_team_token: config.require_team_token,
    });
    loop {
        let answer = match ask {
            Ask::Done => return Ok(()),
            Ask::Read { limit } => {
                Answer::Read(match read_request(&mut recv, stall, limit).await {
                    Ok(Some(request)) => Read::Request(request),
                    Ok(None) => Read::End,
                    Err(WireError::TooLarge { .. }) => Read::TooLarge,
                    Err(e) => return Err(e),
                })
            }
            Ask::Known { mailbox, verifier } => {
                Answer::Known(store.known.knows(&mailbox, &verifier))
            }
            Ask::Opening { mailbox } => {
                Answer::Opening(store.opening(&mailbox).await.map_err(internal)?)
            }
            Ask::TeamToken { token } => {
                Answer::TeamToken(store.team_token_valid(&token).await.map_err(internal)?)
            }
            Ask::BytesOnDisk => Answer::BytesOnDisk(store.bytes_on_disk().await.map_err(internal)?),
            Ask::Push {
                mailbox,
                verifier,
                envelope,
                create,
            } => {
                let (reply, rx) = oneshot::channel();
                let push = Write::Push {
                    arrived: Instant::now(),
                    mailbox,
                    verifier,
                    create,
                    envelope,
                    quota: config.mailbox_quota_bytes,
                    reply,
                };
                store.write(push).await.map_err(internal)?;
                Answer::Pushed(rx.await.ok().and_then(Result::ok))
            }
            Ask::Compact {
                mailbox,
                upto,
                envelope,
            } => {
                let (reply, rx) = oneshot::channel();
                let compact = Write::Compact {
                    mailbox,
                    upto,
                    envelope,
                    reply,
                };
                store.write(compact).await.map_err(internal)?;
                Answer::Compacted(write_result(rx.await))
            }
            Ask::Retire { mailbox, closing } => {
                let (reply, rx) = oneshot::channel();
                let retire = Write::Retire {
                    mailbox,
                    closing,
                    reply,
                };
                store.write(retire).await.map_err(internal)?;
                Answer::Retired(write_result(rx.await))
            }
            Ask::Delete { mailbox } => {
                let (reply, rx) = oneshot::channel();
                store
                    .write(Write::Delete { mailbox, reply })
                    .await
                    .map_err(internal)?;
                Answer::Deleted(write_result(rx.await).map(|_| ()))
            }
            Ask::Take { mailbox, verifier } => {
                let (reply, rx) = oneshot::channel();
                let take = Write::Take {
                    mailbox,
                    verifier,
                    reply,
                };
                store.write(take).await.map_err(internal)?;
                Answer::Taken(write_result(rx.await))
            }
            Ask::SetWake {
                mailbox,
                slot,
                endpoint,
            } => Answer::WakeSet(
                waker
                    .register(&mailbox, &slot, endpoint.as_deref())
                    .await
                    .map_err(internal)?,
            ),
            Ask::Stored { mailbox, verifier } => {
                store.known.learn(&mailbox, verifier);
                waker.mailbox_grew(&mailbox);
                Answer::Done
            }
            Ask::Forget { mailbox } => {
                store.known.forget(&mailbox);
                Answer::Done
            }
            Ask::Entries {
                mailbox,
                after,
                follow,
            } => {
                let mut after = after;
                if follow {
                    // Watching starts before the first read, so no arrival falls between them.
                    let mut grown = store.arrivals.watch(&mailbox);
                    loop {
                        if send_page(store, &mailbox, &mut after, &mut send, stall, false).await? {
                            continue;
                        }
                        grown.past(after).await;
                    }
                }
                while send_page(store, &mailbox, &mut after, &mut send, stall, true).await? {}
                let _ = send.finish();
                Answer::Done
            }
            Ask::Reply { reply, count } => {
                if let Some(reason) = count {
                    store.metrics().refused(reason);
                }
                write_reply(&mut send, stall, reply).await?;
                let _ = send.finish();
                Answer::Done
            }
        };
        ask = machine.step(answer)?;
    }
}

/// A write's result as the stream's machine reads it.
fn write_result<T>(
    result: Result<Result<T, RelayStoreError>, oneshot::error::RecvError>,
) -> Result<T, WriteFailure> {
    match result {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(RelayStoreError::Retired)) => Err(WriteFailure::Retired),
        Ok(Err(RelayStoreError::Refused(message))) => Err(WriteFailure::Refused(message)),
        _ => Err(WriteFailure::Failed),
    }
}

async fn read_request(
    recv: &mut quinn::RecvStream,
    stall: Duration,
    limit: usize,
) -> Result<Option<RelayRequest>, WireError> {
    match tokio::time::timeout(stall, wire::read_within::<RelayRequest, _>(recv, limit)).await {
        Ok(r) => r,
        Err(_) => Err(WireError::Malformed("the client stalled".into())),
    }
}

/// Writes a reply; a client that does not read it in time is cut off.
async fn write_reply(
    send: &mut quinn::SendStream,
    stall: Duration,
    reply: RelayReply,
) -> Result<(), WireError> {
    match tokio::time::timeout(stall, wire::write(send, &reply)).await {
        Ok(r) => r.map(|_| ()),
        Err(_) => Err(WireError::Malformed("the client stopped reading".into())),
    }
}

fn internal(e: impl std::fmt::Display) -> WireError {
    WireError::Io(std::io::Error::other(e.to_string()))
}
