//! The membership handshake on the control stream, bound to the TLS session.
//!
//! Both ends derive the same 32-byte exporter secret from the TLS session. The client sends
//! one proof per notebook it holds (a MAC with that notebook's membership key over the
//! exporter); the server checks them against its own notebooks and, only if some match,
//! answers with its own proofs for those. A stranger learns nothing, not even whether this
//! device holds any notebook: the server closes the connection with the same code whatever
//! it holds. A proof is useless on any other connection (another exporter secret).

use super::{close, step, NetError};
use crate::crypto::{MembershipKey, ProofSide};
use crate::wire::{self, Message};
use std::net::SocketAddr;

const EXPORTER_LABEL: &[u8] = b"EXPORTER-duet-p2p-membership-v1";

/// A key a device may prove a notebook with, and to whom (by TLS fingerprint text): the
/// key of the epoch in force to anyone who proves it too; an older epoch's key (a device
/// offline during a rotation still holds only that) only to devices the notebook still
/// lists; nothing at all to a removed device.
#[derive(Debug, Clone)]
pub struct PeerMembership {
    /// The notebook id.
    pub notebook: String,
    /// The key.
    pub key: MembershipKey,
    /// When set, the only peers this key is proven to or accepted from.
    pub only_with: Option<std::collections::BTreeSet<String>>,
    /// Peers this notebook is never proven to or accepted from.
    pub never_with: std::collections::BTreeSet<String>,
}

/// The keys to prove to, and accept from, the peer with fingerprint `peer` (text).
pub fn keys_for_peer(all: &[PeerMembership], peer: &str) -> Vec<(String, MembershipKey)> {
    all.iter()
        .filter(|m| !m.never_with.contains(peer))
        .filter(|m| m.only_with.as_ref().is_none_or(|only| only.contains(peer)))
        .map(|m| (m.notebook.clone(), m.key.clone()))
        .collect()
}
/// Notebooks one hello may prove (more is a flood, not a person's devices).
pub const MAX_PROOFS: usize = 1024;

/// The session's exporter secret.
pub fn exporter(conn: &quinn::Connection) -> Result<[u8; 32], NetError> {
    let mut out = [0u8; 32];
    conn.export_keying_material(&mut out, EXPORTER_LABEL, b"")
        .map_err(|_| NetError::Setup("the TLS session has no exporter secret".into()))?;
    Ok(out)
}

/// Client side: proves membership of `mine`; returns the notebook ids both hold.
pub async fn client(
    conn: &quinn::Connection,
    addr: SocketAddr,
    mine: &[(String, MembershipKey)],
) -> Result<Vec<String>, NetError> {
    let secret = exporter(conn)?;
    let (mut send, mut recv) = step(addr, "opening the connection", conn.open_bi())
        .await?
        .map_err(|e| closed_reason_or(conn, addr, e))?;
    let proofs = mine
        .iter()
        .map(|(_, key)| key.proof(ProofSide::Client, &secret))
        .collect();
    step(
        addr,
        "sending proofs",
        wire::write(&mut send, &Message::Hello { proofs }),
    )
    .await??;
    // The server has proven nothing yet either: its answer is a few proofs.
    let reply = step(
        addr,
        "waiting for the handshake",
        wire::read_within(&mut recv, wire::MAX_UNPROVEN_FRAME),
    )
    .await;
    let reply = match reply? {
        Ok(Some(m)) => m,
        // The server closes the connection instead of answering a stranger.
        Ok(None) | Err(_) => return Err(closed_reason(conn, addr)),
    };
    let Message::Welcome { proofs } = reply else {
        return Err(match reply {
            Message::Error { message } => NetError::Peer(message),
            other => NetError::Protocol(format!("expected the handshake, got {other:?}")),
        });
    };
    let mut shared = Vec::new();
    for (index, proof) in proofs {
        let Some((id, key)) = mine.get(index as usize) else {
            return Err(NetError::Protocol("a proof for no notebook".into()));
        };
        if !key.verifies(ProofSide::Server, &secret, &proof) {
            conn.close(close::PROTOCOL.into(), b"bad membership proof");
            return Err(NetError::NotAMember { addr });
        }
        shared.push(id.clone());
    }
    if shared.is_empty() {
        return Err(NetError::NotAMember { addr });
    }
    Ok(shared)
}

/// Server side: reads the client's proofs and answers for the notebooks both hold, or
/// closes the connection. Returns the notebook ids both hold.
pub async fn server(
    conn: &quinn::Connection,
    addr: SocketAddr,
    send: &mut quinn::SendStream,
    hello: Message,
    mine: &[(String, MembershipKey)],
) -> Result<Vec<String>, NetError> {
    let secret = exporter(conn)?;
    let Message::Hello { proofs } = hello else {
        conn.close(close::PROTOCOL.into(), b"expected a hello");
        return Err(NetError::Protocol(
            "the first message was not a hello".into(),
        ));
    };
    if proofs.len() > MAX_PROOFS {
        conn.close(close::PROTOCOL.into(), b"too many proofs");
        return Err(NetError::Protocol(format!(
            "{} proofs in a hello",
            proofs.len()
        )));
    }
    let mut shared = Vec::new();
    let mut answers = Vec::new();
    // Bounded by the frame size; each proof is checked against each notebook held here.
    for (index, proof) in proofs.iter().enumerate() {
        if let Some((id, key)) = mine
            .iter()
            .find(|(_, key)| key.verifies(ProofSide::Client, &secret, proof))
        {
            if !shared.contains(id) {
                shared.push(id.clone());
                answers.push((index as u32, key.proof(ProofSide::Server, &secret)));
            }
        }
    }
    if shared.is_empty() {
        conn.close(close::NOT_A_MEMBER.into(), b"not a member");
        return Err(NetError::NotAMember { addr });
    }
    step(
        addr,
        "answering the handshake",
        wire::write(send, &Message::Welcome { proofs: answers }),
    )
    .await??;
    Ok(shared)
}

fn broken(addr: SocketAddr, e: impl std::fmt::Display) -> NetError {
    NetError::Broken {
        addr,
        detail: e.to_string(),
    }
}

/// Why the peer closed the connection, as an error.
pub fn closed_reason(conn: &quinn::Connection, addr: SocketAddr) -> NetError {
    match conn.close_reason() {
        Some(quinn::ConnectionError::ApplicationClosed(a))
            if a.error_code == close::NOT_A_MEMBER.into() =>
        {
            NetError::NotAMember { addr }
        }
        // The peer gave up waiting for this device's hello: the link lost it.
        Some(quinn::ConnectionError::ApplicationClosed(a))
            if a.error_code == close::NO_HELLO.into() =>
        {
            NetError::Timeout {
                addr,
                step: "its wait for this device's hello, lost on the way",
            }
        }
        Some(quinn::ConnectionError::ApplicationClosed(a)) => NetError::Peer(format!(
            "closed the connection: {}",
            String::from_utf8_lossy(&a.reason)
        )),
        Some(e) => broken(addr, e),
        None => broken(addr, "the stream ended early"),
    }
}

/// Why a stream operation failed: the peer's close reason if it closed, else `e`.
pub fn closed_reason_or(
    conn: &quinn::Connection,
    addr: SocketAddr,
    e: impl std::fmt::Display,
) -> NetError {
    if conn.close_reason().is_some() {
        closed_reason(conn, addr)
    } else {
        broken(addr, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{connect, tls, worth_retrying};
    use std::sync::Arc;

    /// Connects over loopback QUIC to a server that closes the connection with `code` at
    /// once, and returns why the client says it closed.
    async fn closed_with(code: u32, words: &'static [u8]) -> NetError {
        let server_identity = tls::TlsIdentity::generate().expect("identity");
        let config = tls::server_config(&server_identity).expect("server config");
        let quic = quinn::crypto::rustls::QuicServerConfig::try_from(config).expect("quic");
        let endpoint = quinn::Endpoint::server(
            quinn::ServerConfig::with_crypto(Arc::new(quic)),
            "127.0.0.1:0".parse().expect("addr"),
        )
        .expect("endpoint");
        let addr = endpoint.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let incoming = endpoint.accept().await.expect("a connection");
            let conn = incoming.await.expect("handshake");
            conn.close(code.into(), words);
            endpoint.wait_idle().await;
        });
        let identity = tls::TlsIdentity::generate().expect("identity");
        let pins = tls::Pins::Exactly([server_identity.fingerprint()].into());
        let (_endpoint, conn) = connect(&identity, addr, pins, tls::ALPN, "the test server")
            .await
            .expect("connect");
        conn.closed().await;
        server.await.expect("server");
        closed_reason(&conn, addr)
    }

    #[tokio::test]
    async fn a_hello_the_peer_never_got_is_worth_another_attempt_and_a_refusal_is_not() {
        let lost = closed_with(close::NO_HELLO, b"no hello").await;
        assert!(matches!(lost, NetError::Timeout { .. }), "{lost:?}");
        assert!(worth_retrying(&lost), "{lost}");
        // What an older device says for the same: a protocol break, not retried.
        let older = closed_with(close::PROTOCOL, b"no hello").await;
        assert!(matches!(older, NetError::Peer(_)), "{older:?}");
        assert!(!worth_retrying(&older));
        let outsider = closed_with(close::NOT_A_MEMBER, b"").await;
        assert!(
            matches!(outsider, NetError::NotAMember { .. }),
            "{outsider:?}"
        );
        assert!(!worth_retrying(&outsider));
    }
}
