//! The accepting end (`duet serve`, run by the node): takes syncs for every notebook on this
//! device until stopped.
//!
//! The server reaches the home through the node's [`HomeHandle`]: each sync step is one
//! short call, and nothing is held while it waits for the peer, so the person's commands
//! (carried out by the same node) are answered between a sync's steps. Syncs of the same
//! notebook from two peers take turns; different notebooks and the handshakes of other
//! peers run side by side.

use super::handshake;
use super::tls::{self, TlsIdentity};
use super::{carry_session, close, transport, NetError, SessionEnd, STEP_TIMEOUT};
use crate::HomeHandle;
use duet_core::crypto::fingerprint_text;
use duet_core::home::SyncPort;
use duet_core::sync::session::{expect_open, PeerRole};
use duet_core::wire::{self, Message};
use duet_core::SyncReport;
use duet_protocol::net::peer_link::{PeerLink, QuicPeerStream};
use std::collections::HashMap;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Connections served at once; more are refused at once.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a connection has, from its arrival, to finish the TLS handshake and say its
/// hello (a device does in milliseconds).
pub const HELLO_DEADLINE: Duration = Duration::from_secs(5);
/// Connections served at once from one IP address: one stranger on the network cannot take
/// every place, and the devices of the notebook still get in.
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = MAX_CONNECTIONS / 2;

/// Connections held now, by IP address.
type Held = Arc<Mutex<HashMap<std::net::IpAddr, usize>>>;

/// A connection's place in its address's share, given back when it ends.
struct AddressSlot {
    held: Held,
    ip: std::net::IpAddr,
}

impl AddressSlot {
    /// A place for one more connection from `ip`, if its share has one.
    fn take(held: &Held, ip: std::net::IpAddr) -> Option<AddressSlot> {
        let mut counts = held.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= MAX_CONNECTIONS_PER_ADDRESS {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            held: held.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// Something the server did, for its log.
#[derive(Debug, Clone)]
pub enum ServeEvent {
    /// A notebook synced with a peer.
    Synced {
        /// The peer's address.
        addr: SocketAddr,
        /// The peer's fingerprint (text).
        peer: String,
        /// What changed here.
        report: SyncReport,
    },
    /// A connection was refused or failed.
    Refused {
        /// The peer's address.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
}

type Memberships = Arc<Vec<handshake::PeerMembership>>;

/// A bound, not yet running server.
pub struct Server {
    endpoint: quinn::Endpoint,
    shared: Arc<Shared>,
    fingerprint: [u8; 32],
}

struct Shared {
    home: HomeHandle,
    /// The home's notebooks and their membership keys, as of a count of the home's writes:
    /// a stranger's hello is checked against these without a call into the home, so the
    /// person's own commands never queue behind strangers.
    memberships: tokio::sync::Mutex<Option<(u64, Memberships)>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    events: Box<dyn Fn(ServeEvent) + Send + Sync>,
}

impl Server {
    /// Binds `listen` for the home (its TLS identity is made on first use).
    pub async fn bind(
        home: HomeHandle,
        listen: SocketAddr,
        events: Box<dyn Fn(ServeEvent) + Send + Sync>,
    ) -> Result<Server, NetError> {
        let identity: TlsIdentity = home.tls_identity().await?;
        let config = tls::server_config(&identity).map_err(|e| NetError::Setup(e.to_string()))?;
        let quic = quinn::crypto::rustls::QuicServerConfig::try_from(config)
            .map_err(|e| NetError::Setup(e.to_string()))?;
        let mut server_config = quinn::ServerConfig::with_crypto(Arc::new(quic));
        server_config.transport_config(transport());
        let endpoint = quinn::Endpoint::server(server_config, listen)
            .map_err(|e| NetError::Setup(format!("listening on {listen}: {e}")))?;
        Ok(Server {
            endpoint,
            shared: Arc::new(Shared {
                home,
                memberships: tokio::sync::Mutex::new(None),
                locks: Mutex::new(HashMap::new()),
                events,
            }),
            fingerprint: identity.fingerprint(),
        })
    }

    /// The address actually bound (the port, when 0 was asked for).
    pub fn local_addr(&self) -> Result<SocketAddr, NetError> {
        self.endpoint
            .local_addr()
            .map_err(|e| NetError::Setup(e.to_string()))
    }

    /// This device's certificate fingerprint.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// Serves until `shutdown` completes; then closes every connection.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let mut tasks = tokio::task::JoinSet::new();
        let held: Held = Arc::default();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                incoming = self.endpoint.accept() => {
                    let Some(incoming) = incoming else { break };
                    while tasks.try_join_next().is_some() {}
                    if tasks.len() >= MAX_CONNECTIONS {
                        (self.shared.events)(ServeEvent::Refused {
                            addr: incoming.remote_address(),
                            reason: format!("over {MAX_CONNECTIONS} connections"),
                        });
                        incoming.refuse();
                        continue;
                    }
                    let addr = incoming.remote_address();
                    let Some(slot) = AddressSlot::take(&held, addr.ip()) else {
                        (self.shared.events)(ServeEvent::Refused {
                            addr,
                            reason: format!(
                                "over {MAX_CONNECTIONS_PER_ADDRESS} connections from {}",
                                addr.ip()
                            ),
                        });
                        incoming.refuse();
                        continue;
                    };
                    let shared = self.shared.clone();
                    tasks.spawn(async move {
                        let _slot = slot;
                        if let Err(e) = connection(shared.clone(), incoming).await {
                            (shared.events)(ServeEvent::Refused { addr, reason: e.to_string() });
                        }
                    });
                }
            }
        }
        self.endpoint
            .close(close::SHUTDOWN.into(), b"shutting down");
        // A call already inside the home finishes there; streams cut mid-sync are dropped
        // before anything of theirs was kept.
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        let _ = tokio::time::timeout(Duration::from_secs(2), self.endpoint.wait_idle()).await;
    }
}

impl Shared {
    /// The home's memberships, asked of the home only when it was written since last time.
    async fn memberships(&self) -> Result<Memberships, NetError> {
        let mut cached = self.memberships.lock().await;
        let writes = *self.home.writes().borrow();
        if let Some((at, mine)) = cached.as_ref() {
            if *at == writes {
                return Ok(mine.clone());
            }
        }
        // Read the count before the home: a write in between only makes the next hello
        // ask again.
        let mine = Arc::new(self.home.peer_memberships().await?);
        *cached = Some((writes, mine.clone()));
        Ok(mine)
    }
}

/// A step before the peer's hello, within the one deadline all of them share.
async fn before_hello<T>(
    deadline: tokio::time::Instant,
    addr: SocketAddr,
    what: &'static str,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, NetError> {
    tokio::time::timeout_at(deadline, fut)
        .await
        .map_err(|_| NetError::Timeout { addr, step: what })
}

async fn connection(shared: Arc<Shared>, incoming: quinn::Incoming) -> Result<(), NetError> {
    let addr = incoming.remote_address();
    // A stranger who says nothing holds its place this long at most.
    let deadline = tokio::time::Instant::now() + HELLO_DEADLINE;
    let conn = before_hello(deadline, addr, "the handshake", incoming.into_future())
        .await?
        .map_err(|e| NetError::Broken {
            addr,
            detail: e.to_string(),
        })?;
    let Some(peer) = tls::peer_fingerprint(&conn) else {
        conn.close(close::PROTOCOL.into(), b"no certificate");
        return Err(NetError::Protocol("no client certificate".into()));
    };
    let peer = fingerprint_text(&peer);
    let (mut send, mut recv) =
        match before_hello(deadline, addr, "the control stream", conn.accept_bi()).await {
            Ok(Ok(streams)) => streams,
            Ok(Err(e)) => return Err(handshake::closed_reason_or(&conn, addr, e)),
            Err(e) => {
                conn.close(close::NO_HELLO.into(), b"no hello");
                return Err(e);
            }
        };
    // Nothing big before proof: a hello is a few proofs.
    let hello = before_hello(
        deadline,
        addr,
        "the hello",
        wire::read_within(&mut recv, wire::MAX_UNPROVEN_FRAME),
    );
    let hello = match hello.await {
        Ok(Ok(Some(hello))) => hello,
        Ok(Ok(None)) => return Err(handshake::closed_reason(&conn, addr)),
        Ok(Err(e)) => {
            // Best effort: tell the peer why before closing, in its own terms.
            let message = match &e {
                duet_core::wire::WireError::Version { theirs } => format!(
                    "this device speaks Duet sync protocol v{}, yours sent v{theirs}; update Duet on both devices",
                    duet_core::wire::PROTOCOL_VERSION
                ),
                other => format!("refused: {other}"),
            };
            let _ = wire::write(&mut send, &Message::Error { message }).await;
            let _ = send.finish();
            tokio::time::sleep(Duration::from_millis(50)).await;
            conn.close(close::PROTOCOL.into(), b"malformed hello");
            return Err(e.into());
        }
        Err(e) => {
            conn.close(close::NO_HELLO.into(), b"no hello");
            return Err(e);
        }
    };
    if let Message::Redeem { .. } = hello {
        return super::redeem::answer(&shared.home, &conn, addr, &peer, send, hello).await;
    }
    let mine = handshake::keys_for_peer(&shared.memberships().await?, &peer);
    let notebooks = handshake::server(&conn, addr, &mut send, hello, &mine).await?;
    shared.home.remember_peer_fingerprint(peer.clone()).await?;
    let mut streams = tokio::task::JoinSet::new();
    while let Ok((send, recv)) = conn.accept_bi().await {
        let shared = shared.clone();
        let notebooks = notebooks.clone();
        let peer = peer.clone();
        let conn = conn.clone();
        streams.spawn(async move {
            let result =
                notebook_stream(&shared, &notebooks, &peer, addr, conn.clone(), send, recv).await;
            match result {
                Ok(Some(report)) => (shared.events)(ServeEvent::Synced { addr, peer, report }),
                Ok(None) => {}
                Err(e) => {
                    if conn.close_reason().is_none() {
                        (shared.events)(ServeEvent::Refused {
                            addr,
                            reason: e.to_string(),
                        });
                    }
                }
            }
        });
    }
    while streams.join_next().await.is_some() {}
    Ok(())
}

/// Serves one notebook's stream. `Ok(None)` when the peer went away before the end.
async fn notebook_stream(
    shared: &Shared,
    notebooks: &[String],
    peer: &str,
    addr: SocketAddr,
    conn: quinn::Connection,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
) -> Result<Option<SyncReport>, NetError> {
    let mut link = QuicPeerStream::new(conn, addr, send, recv);
    let result = serve_notebook(shared, notebooks, peer, &mut link).await;
    if let Err(e) = &result {
        // Tell the peer why; it may already be gone.
        let error = Message::Error {
            message: e.to_string(),
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), link.send(&error)).await;
    }
    link.finish();
    result
}

/// One notebook's stream: reads `Open`, waits its turn on the notebook (one sync of a
/// notebook at a time here), then answers it.
async fn serve_notebook(
    shared: &Shared,
    notebooks: &[String],
    peer: &str,
    link: &mut QuicPeerStream,
) -> Result<Option<SyncReport>, NetError> {
    let addr = link.addr();
    let Some((open, _)) = link.recv().await? else {
        return Ok(None);
    };
    let notebook = expect_open(open, notebooks)?;
    let lock = {
        let mut locks = shared
            .locks
            .lock()
            .map_err(|_| NetError::Setup("a sync task panicked".into()))?;
        locks.entry(notebook.clone()).or_default().clone()
    };
    let _turn = tokio::time::timeout(STEP_TIMEOUT * 3, lock.lock_owned())
        .await
        .map_err(|_| NetError::Timeout {
            addr,
            step: "waiting for another sync of this notebook",
        })?;
    answer_notebook(&shared.home, link, notebook, peer).await
}

/// The server's side of one notebook over a [`PeerLink`], once its `Open` was read: a
/// driver of the server's [`PeerEngine`](duet_core::sync::session::PeerEngine), carrying
/// its messages and asking the home (through the sync port) for each step. `Ok(None)` when
/// the peer went away before the end.
pub async fn answer_notebook<L: PeerLink>(
    home: &HomeHandle,
    link: &mut L,
    notebook: String,
    peer: &str,
) -> Result<Option<SyncReport>, NetError> {
    let (session, _) = home
        .peer_open(notebook, peer.to_owned(), PeerRole::Server)
        .await?;
    let report = match carry_session(home, link, session).await?.1 {
        SessionEnd::Report(report) => Some(report),
        SessionEnd::Unreported | SessionEnd::LinkClosed => None,
    };
    if report.is_some() {
        // A notebook this device joined from a ticket may have arrived from the peer.
        home.complete_joins().await?;
    }
    Ok(report)
}
