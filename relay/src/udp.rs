//! The relay's UDP socket, with kernel buffers sized for bursts.
//!
//! Every QUIC connection of a relay arrives on one socket. When many devices connect at
//! once (a relay restarted under 50,000 devices, the morning's first syncs) their
//! handshakes arrive faster than the endpoint reads them, and the kernel's default buffer
//! (about 208 KiB on Linux) drops the rest: each dropped Initial costs its device a
//! retransmission timeout of about a second. A larger buffer absorbs the burst instead.

use std::io;
use std::net::{SocketAddr, UdpSocket};

/// Bytes of kernel buffer the relay asks for in each direction. Linux caps the request at
/// `net.core.rmem_max`/`wmem_max` (raise those to give a relay all of it); the socket is
/// bound either way.
pub const SOCKET_BUFFER_BYTES: usize = 8 * 1024 * 1024;

/// A UDP socket bound to `addr`, with the buffers the kernel allows up to
/// [`SOCKET_BUFFER_BYTES`].
pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // A smaller buffer than asked is not an error: the relay works with the default one,
    // only burst handshakes take longer.
    if let Err(e) = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES) {
        tracing::warn!(error = %e, "could not enlarge the UDP receive buffer");
    }
    if let Err(e) = socket.set_send_buffer_size(SOCKET_BUFFER_BYTES) {
        tracing::warn!(error = %e, "could not enlarge the UDP send buffer");
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// The receive buffer the kernel gave `socket`, in bytes.
pub fn receive_buffer(socket: &UdpSocket) -> io::Result<usize> {
    socket2::SockRef::from(socket).recv_buffer_size()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_socket_gets_the_buffer_the_kernel_allows() {
        let socket = bind("127.0.0.1:0".parse().expect("address")).expect("bind");
        assert_ne!(socket.local_addr().expect("local address").port(), 0);
        let Some(allowed) = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
        else {
            return; // not Linux: nothing to compare with
        };
        // Linux grants min(asked, rmem_max) and reports twice that (its bookkeeping).
        let granted = receive_buffer(&socket).expect("buffer");
        assert!(
            granted >= SOCKET_BUFFER_BYTES.min(allowed),
            "granted {granted} bytes, rmem_max {allowed}"
        );
    }
}
