//! The seam between a notebook's peer sync and whatever carries its messages: a
//! [`PeerLink`] is one notebook's stream between two devices, whole messages each way.
//! Quinn carries it in use ([`QuicPeerStream`], a stream of a connection whose membership
//! handshake, bound to its TLS channel, already ran); [`MemoryPeerLink`] carries it in
//! memory, so a whole peer sync between two real homes runs in tests with no sockets. The
//! drivers of the peer engine (client and server) are written once, against this trait.

use super::{handshake, step, NetError};
use crate::wire::{self, Message, WireError};
use std::net::SocketAddr;
use tokio::sync::mpsc;

/// Messages a [`MemoryPeerLink`] holds in flight each way before a sender waits.
pub const MEMORY_PEER_LINK_DEPTH: usize = 64;

/// One notebook's stream between two devices.
// Used with concrete links only (the drivers are generic and monomorphised), so the
// futures' `Send` is known where they are spawned.
#[allow(async_fn_in_trait)]
pub trait PeerLink {
    /// Where the other device is (for reports and errors).
    fn addr(&self) -> SocketAddr;

    /// Sends one message; the bytes it took on the link.
    async fn send(&mut self, message: &Message) -> Result<usize, NetError>;

    /// The next message and the bytes it took; `None` when the other device ended the
    /// stream.
    async fn recv(&mut self) -> Result<Option<(Message, usize)>, NetError>;

    /// Why the other device went away, for a stream that ended before the sync did.
    fn gone(&self) -> NetError;

    /// Ends this side's sending.
    fn finish(&mut self);
}

/// A notebook's stream over a QUIC connection: every send and read under the step
/// timeout, frames under the wire's limits.
#[derive(Debug)]
pub struct QuicPeerStream {
    conn: quinn::Connection,
    addr: SocketAddr,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
}

impl QuicPeerStream {
    /// The stream `send`/`recv` of `conn`, to the device at `addr`.
    pub fn new(
        conn: quinn::Connection,
        addr: SocketAddr,
        send: quinn::SendStream,
        recv: quinn::RecvStream,
    ) -> Self {
        QuicPeerStream {
            conn,
            addr,
            send,
            recv,
        }
    }
}

impl PeerLink for QuicPeerStream {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn send(&mut self, message: &Message) -> Result<usize, NetError> {
        Ok(step(self.addr, "sending", wire::write(&mut self.send, message)).await??)
    }

    async fn recv(&mut self) -> Result<Option<(Message, usize)>, NetError> {
        match step(
            self.addr,
            "waiting for the peer",
            wire::read_sized(&mut self.recv),
        )
        .await?
        {
            Ok(got) => Ok(got),
            // A connection closed under the read: say why, as the peer put it.
            Err(WireError::Io(_)) => Err(self.gone()),
            Err(e) => Err(e.into()),
        }
    }

    fn gone(&self) -> NetError {
        handshake::closed_reason(&self.conn, self.addr)
    }

    fn finish(&mut self) {
        let _ = self.send.finish();
    }
}

/// One end of a notebook's stream in memory: each message is framed as on the wire (so
/// sizes, limits and decoding are the real ones) and handed to the other end.
#[derive(Debug)]
pub struct MemoryPeerLink {
    addr: SocketAddr,
    to_other: Option<mpsc::Sender<Vec<u8>>>,
    from_other: mpsc::Receiver<Vec<u8>>,
}

impl MemoryPeerLink {
    /// Two connected ends; each reports the other's address as `addr`.
    pub fn pair(addr: SocketAddr) -> (MemoryPeerLink, MemoryPeerLink) {
        let (a_tx, b_rx) = mpsc::channel(MEMORY_PEER_LINK_DEPTH);
        let (b_tx, a_rx) = mpsc::channel(MEMORY_PEER_LINK_DEPTH);
        (
            MemoryPeerLink {
                addr,
                to_other: Some(a_tx),
                from_other: a_rx,
            },
            MemoryPeerLink {
                addr,
                to_other: Some(b_tx),
                from_other: b_rx,
            },
        )
    }
}

impl PeerLink for MemoryPeerLink {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn send(&mut self, message: &Message) -> Result<usize, NetError> {
        let mut frame = Vec::new();
        let size = wire::write(&mut frame, message).await?;
        let sender = self.to_other.as_ref().ok_or_else(|| NetError::Broken {
            addr: self.addr,
            detail: "sending after the stream was finished".into(),
        })?;
        sender.send(frame).await.map_err(|_| self.gone())?;
        Ok(size)
    }

    async fn recv(&mut self) -> Result<Option<(Message, usize)>, NetError> {
        match self.from_other.recv().await {
            None => Ok(None),
            Some(frame) => Ok(wire::read_sized(&mut frame.as_slice()).await?),
        }
    }

    fn gone(&self) -> NetError {
        NetError::Broken {
            addr: self.addr,
            detail: "the other end of the link went away".into(),
        }
    }

    fn finish(&mut self) {
        self.to_other = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_memory_link_carries_whole_framed_messages_and_its_end() {
        let (mut a, mut b) = MemoryPeerLink::pair("127.0.0.1:9".parse().expect("addr"));
        let message = Message::Open {
            notebook: "nb".into(),
        };
        let sent = a.send(&message).await.expect("send");
        let (got, size) = b.recv().await.expect("recv").expect("a message");
        assert_eq!(got, message);
        assert_eq!(size, sent);
        a.finish();
        assert!(b.recv().await.expect("recv").is_none(), "the end is seen");
        assert!(
            a.send(&message).await.is_err(),
            "nothing is sent after the end"
        );
    }
}
