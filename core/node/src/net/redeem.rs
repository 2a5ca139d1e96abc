//! Redeeming a one-time invite: [`redeem_ticket`] takes the welcome the inviting device
//! left on the relay, else asks the inviting device itself. Over P2P the joining device
//! connects to the inviting device, pinned by the ticket's fingerprint, and instead of a
//! hello sends the invite's id with a proof of its key bound to this TLS session; the
//! inviting device checks it against its record, marks the invite used, and answers with
//! the grant (the notebook secret and epoch), or says why not.

use super::handshake;
use super::relay_client::{MailboxKey, RelayLink};
use super::tls::{self, Pins};
use super::{close, step, NetError};
use crate::HomeHandle;
use duet_core::home::SyncPort;
use duet_core::one_time_invite::{Grant, InviteKey, OneTimeInvite, Refusal};
use duet_core::steps::OwnTake;
use duet_core::wire::{self, Message};
use std::net::SocketAddr;
use std::time::Duration;

/// How long the inviting device waits for the joiner to close after the answer.
const ANSWER_LINGER: Duration = Duration::from_secs(5);

/// Where a grant came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantedBy {
    /// The welcome waiting on the relay at this address.
    Relay(String),
    /// The inviting device at this address.
    Device(SocketAddr),
}

/// Joining side: redeems a one-time ticket, from the relay's welcome first (the inviting
/// device may be offline), then from the inviting device at each address the ticket names.
/// A refusal from the inviting device (used, expired, revoked) ends the attempt; an expired
/// ticket is refused before any connection.
pub async fn redeem_ticket(
    home: &HomeHandle,
    ticket: &OneTimeInvite,
) -> Result<(Grant, GrantedBy), NetError> {
    if ticket.expired_at(jiff::Timestamp::now().as_second()) {
        return Err(NetError::Invite(Refusal::Expired));
    }
    let mut tried = Vec::new();
    if let Some(relay) = &ticket.relay {
        match welcome_at(relay, ticket).await {
            Ok(Some(grant)) => return Ok((grant, GrantedBy::Relay(relay.addr.clone()))),
            Ok(None) => tried.push(format!(
                "no welcome waits on the relay at {} (not left there yet, or already used, revoked or expired)",
                relay.addr
            )),
            Err(e) => tried.push(format!("the relay at {}: {e}", relay.addr)),
        }
    }
    for addr in &ticket.addrs {
        match redeem(home, ticket, *addr).await {
            Ok(grant) => return Ok((grant, GrantedBy::Device(*addr))),
            Err(e @ NetError::Invite(_)) => return Err(e),
            Err(e) => tried.push(e.to_string()),
        }
    }
    if tried.is_empty() {
        tried.push("the ticket names no relay and no address".into());
    }
    Err(NetError::InviteUnanswered {
        detail: tried.join("; "),
    })
}

/// The welcome on the ticket's relay, taken (so that nobody else can).
async fn welcome_at(
    relay: &duet_core::invite::RelayInfo,
    ticket: &OneTimeInvite,
) -> Result<Option<Grant>, NetError> {
    // A throwaway certificate, as for every relay connection.
    let identity = tls::TlsIdentity::generate().map_err(|e| NetError::Setup(e.to_string()))?;
    let addr = super::relay_client::resolve(&relay.addr)?;
    let client = super::relay_client::RelayClient::connect(
        &identity,
        addr,
        Pins::Exactly([relay.fingerprint].into()),
    )
    .await?;
    let got = super::relay_client::take_welcome(&client, ticket).await;
    client.close().await;
    got
}

/// Joining side: redeems `ticket` at the inviting device reachable at `addr`.
pub async fn redeem(
    home: &HomeHandle,
    ticket: &OneTimeInvite,
    addr: SocketAddr,
) -> Result<Grant, NetError> {
    let identity = home.tls_identity().await?;
    let pins = Pins::Exactly([ticket.fingerprint].into());
    let (endpoint, conn) = super::connect(&identity, addr, pins, tls::ALPN, "`duet serve`").await?;
    let result = ask(&conn, addr, ticket).await;
    conn.close(close::DONE.into(), b"done");
    let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
    result
}

async fn ask(
    conn: &quinn::Connection,
    addr: SocketAddr,
    ticket: &OneTimeInvite,
) -> Result<Grant, NetError> {
    let exporter = handshake::exporter(conn)?;
    let (mut send, mut recv) = step(addr, "opening the connection", conn.open_bi())
        .await?
        .map_err(|e| handshake::closed_reason_or(conn, addr, e))?;
    let redeem = Message::Redeem {
        notebook: ticket.notebook.clone(),
        invite: ticket.id.clone(),
        proof: InviteKey::new(ticket.key).proof(&exporter),
    };
    step(addr, "sending the invite", wire::write(&mut send, &redeem)).await??;
    let reply = step(
        addr,
        "waiting for the invite's answer",
        wire::read_within(&mut recv, wire::MAX_UNPROVEN_FRAME),
    )
    .await?;
    match reply {
        Ok(Some(Message::Granted { grant })) => postcard::from_bytes(&grant)
            .map_err(|_| NetError::Protocol("a grant that does not read".into())),
        Ok(Some(Message::InviteRefused { why })) => Err(NetError::Invite(why)),
        Ok(Some(Message::Error { message })) => Err(NetError::Peer(message)),
        Ok(Some(other)) => Err(NetError::Protocol(format!(
            "expected the invite's answer, got {other:?}"
        ))),
        Ok(None) | Err(_) => Err(match handshake::closed_reason(conn, addr) {
            NetError::NotAMember { .. } => NetError::Invite(Refusal::Unknown),
            other => other,
        }),
    }
}

/// Inviting side, before granting an invite whose welcome waits on the relay: takes the
/// welcome down, so that the ticket joins no second device through the relay. `false`
/// when a joiner took it first (the invite is then used, and is recorded so). When the
/// relay cannot be reached the grant goes ahead: the welcome may then join a second
/// device, as it would have before the take existed.
async fn take_own_welcome(
    home: &HomeHandle,
    notebook: &str,
    invite: &str,
    welcome: &MailboxKey,
) -> Result<bool, NetError> {
    let taken = async {
        let client = super::relay_client::connect_notebook_relay(home, notebook).await?;
        let taken = client.take(welcome).await;
        client.close().await;
        taken
    }
    .await;
    let (outcome, granting) = match taken {
        Ok(Some(_)) => (OwnTake::Taken, true),
        Ok(None) => (OwnTake::AlreadyTaken, false),
        Err(e) => {
            tracing::warn!(error = %e, "could not take the invite's welcome off the relay; granting all the same");
            (OwnTake::Unreachable, true)
        }
    };
    home.own_welcome_taken(notebook, invite.to_owned(), outcome)
        .await?;
    Ok(granting)
}

/// Inviting side: answers a `Redeem` that arrived instead of a hello from the device with
/// fingerprint `peer` (text).
pub async fn answer(
    home: &HomeHandle,
    conn: &quinn::Connection,
    addr: SocketAddr,
    peer: &str,
    mut send: quinn::SendStream,
    redeem: Message,
) -> Result<(), NetError> {
    let Message::Redeem {
        notebook,
        invite,
        proof,
    } = redeem
    else {
        return Err(NetError::Protocol("not a redeem".into()));
    };
    let exporter = handshake::exporter(conn)?;
    let checked = home
        .redeem_welcome(notebook.clone(), invite.clone(), move |key| {
            key.verifies(&exporter, &proof)
        })
        .await?;
    let outcome = match checked {
        Ok(Some(welcome)) if !take_own_welcome(home, &notebook, &invite, &welcome).await? => {
            Err(Refusal::Used)
        }
        Ok(_) => {
            let by = peer.to_owned();
            home.redeem_invite(notebook, invite, by, move |key| {
                key.verifies(&exporter, &proof)
            })
            .await?
        }
        Err(refusal) => Err(refusal),
    };
    let reply = match outcome {
        Ok(grant) => Message::Granted {
            grant: postcard::to_allocvec(&grant)
                .map_err(|e| NetError::Setup(format!("encoding a grant: {e}")))?,
        },
        // A stranger, or a wrong proof, learns as little as a stranger's hello does.
        Err(Refusal::Unknown) => {
            conn.close(close::NOT_A_MEMBER.into(), b"not a member");
            return Err(NetError::NotAMember { addr });
        }
        Err(why) => Message::InviteRefused { why },
    };
    step(addr, "answering the invite", wire::write(&mut send, &reply)).await??;
    let _ = send.finish();
    let _ = tokio::time::timeout(ANSWER_LINGER, conn.closed()).await;
    Ok(())
}
