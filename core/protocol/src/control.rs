//! A local control socket: a Unix socket in a process's own directory through which
//! commands on the same machine reach the running process. The node listens on one in its
//! home (each `duet` command asks it to do its work); the relay on one in its data
//! directory (`duet-relay backup` while it serves).
//!
//! This module carries opaque request and reply bytes in length-prefixed frames and knows
//! nothing of what they mean: the front end owns its request types and wording. The socket
//! is the owner's only (mode 0600, and a peer of another user is refused by its
//! credentials); a request larger than [`MAX_REQUEST_BYTES`] is refused before it is read.

use std::future::Future;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The socket's file name inside the home.
pub const CONTROL_SOCKET: &str = "node.sock";
/// The largest request: a command line with its arguments (a note of a few pages at most).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// The largest reply: a whole notebook's export as text fits many times over.
pub const MAX_REPLY_BYTES: usize = 256 * 1024 * 1024;
/// How long a client may take to send its request before it is cut off.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests served at once; more wait for a slot (each is one person's command).
pub const MAX_CONCURRENT_REQUESTS: usize = 32;

/// What the control socket can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// The socket could not be made, reached, read or written.
    #[error("the node's control socket {path}: {source}")]
    Io {
        /// The socket.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A frame larger than allowed.
    #[error("a control message of {len} bytes is over the limit of {max}")]
    TooLarge {
        /// Its claimed length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The node closed the connection before replying (it stopped, or was killed).
    #[error("the node stopped before answering; the command may or may not have been carried out")]
    NoReply,
}

/// The control socket's path for a home.
pub fn socket_path(home: &Path) -> PathBuf {
    home.join(CONTROL_SOCKET)
}

/// Answers one request's bytes with the reply's bytes.
pub type Handler =
    Arc<dyn Fn(Vec<u8>) -> Pin<Box<dyn Future<Output = Vec<u8>> + Send>> + Send + Sync>;

/// A bound control socket, not yet serving.
pub struct ControlSocket {
    listener: tokio::net::UnixListener,
    path: PathBuf,
    owner: u32,
}

impl ControlSocket {
    /// Binds the home's control socket, replacing a stale one (the caller owns the home's
    /// store lock, so no other node can be listening on it).
    pub fn bind(home: &Path) -> Result<ControlSocket, ControlError> {
        ControlSocket::bind_path(socket_path(home))
    }

    /// Binds a control socket at `path`, replacing a stale one (the caller holds the lock
    /// of what the socket serves, so nothing else listens there).
    pub fn bind_path(path: PathBuf) -> Result<ControlSocket, ControlError> {
        let io = |source| ControlError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let listener = tokio::net::UnixListener::bind(&path).map_err(io)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        let owner = std::fs::metadata(&path).map_err(io)?.uid();
        Ok(ControlSocket {
            listener,
            path,
            owner,
        })
    }

    /// Serves requests until `shutdown` completes, then removes the socket file.
    pub async fn run(self, handler: Handler, shutdown: impl Future<Output = ()>) {
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_REQUESTS));
        let mut tasks = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    while tasks.try_join_next().is_some() {}
                    let same_user = stream.peer_cred().is_ok_and(|c| c.uid() == self.owner);
                    if !same_user {
                        tracing::warn!("control socket: refused a process of another user");
                        continue;
                    }
                    let handler = handler.clone();
                    let slots = slots.clone();
                    tasks.spawn(async move {
                        let Ok(_slot) = slots.acquire_owned().await else { return };
                        if let Err(e) = answer(stream, handler).await {
                            tracing::debug!(error = %e, "control request failed");
                        }
                    });
                }
            }
        }
        let _ = std::fs::remove_file(&self.path);
        // Requests in progress finish: each is a command someone waits for.
        while tasks.join_next().await.is_some() {}
    }
}

async fn answer(mut stream: tokio::net::UnixStream, handler: Handler) -> std::io::Result<()> {
    let request = tokio::time::timeout(REQUEST_TIMEOUT, async {
        let len = stream.read_u32().await? as usize;
        if len > MAX_REQUEST_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("request of {len} bytes over {MAX_REQUEST_BYTES}"),
            ));
        }
        let mut body = vec![0; len];
        stream.read_exact(&mut body).await?;
        Ok(body)
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "slow request"))??;
    let reply = handler(request).await;
    let len = u32::try_from(reply.len())
        .ok()
        .filter(|&l| l as usize <= MAX_REPLY_BYTES)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "reply too large"))?;
    stream.write_u32(len).await?;
    stream.write_all(&reply).await?;
    stream.flush().await
}

/// Sends a request to the node running on `home` and waits for its reply (blocking, no
/// runtime needed). `Ok(None)` when no node runs there.
pub fn request(home: &Path, body: &[u8]) -> Result<Option<Vec<u8>>, ControlError> {
    request_path(&socket_path(home), body)
}

/// [`request`] to the control socket at `path`.
pub fn request_path(path: &Path, body: &[u8]) -> Result<Option<Vec<u8>>, ControlError> {
    let path = path.to_owned();
    let io = |source| ControlError::Io {
        path: path.clone(),
        source,
    };
    let mut stream = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(s) => s,
        // No socket, or one left by a node that was killed: no node runs.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(io(e)),
    };
    if body.len() > MAX_REQUEST_BYTES {
        return Err(ControlError::TooLarge {
            len: body.len(),
            max: MAX_REQUEST_BYTES,
        });
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(body);
    stream.write_all(&frame).map_err(io)?;
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(ControlError::NoReply)
        }
        Err(e) => return Err(io(e)),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_REPLY_BYTES {
        return Err(ControlError::TooLarge {
            len,
            max: MAX_REPLY_BYTES,
        });
    }
    let mut reply = vec![0; len];
    stream.read_exact(&mut reply).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ControlError::NoReply,
        _ => io(e),
    })?;
    Ok(Some(reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo() -> Handler {
        Arc::new(|body: Vec<u8>| {
            Box::pin(async move {
                let mut reply = b"got ".to_vec();
                reply.extend(body);
                reply
            })
        })
    }

    #[test]
    fn no_node_means_no_reply_and_a_request_is_answered_while_one_runs() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(request(dir.path(), b"hello").expect("no node").is_none());
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let socket = rt
            .block_on(async { ControlSocket::bind(dir.path()) })
            .expect("bind");
        let mode = std::fs::metadata(socket_path(dir.path()))
            .expect("socket")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "owner-only socket, got {mode:o}");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = rt.spawn(socket.run(echo(), async {
            let _ = stopped.await;
        }));
        let home = dir.path().to_owned();
        let reply = std::thread::spawn(move || request(&home, b"hello"))
            .join()
            .expect("client thread")
            .expect("request")
            .expect("a node runs");
        assert_eq!(reply, b"got hello");
        let _ = stop.send(());
        rt.block_on(server).expect("server ends");
        assert!(!socket_path(dir.path()).exists(), "socket removed on stop");
    }

    #[test]
    fn an_oversized_request_is_refused_before_reading_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let socket = rt
            .block_on(async { ControlSocket::bind(dir.path()) })
            .expect("bind");
        rt.spawn(socket.run(echo(), std::future::pending()));
        let mut stream =
            std::os::unix::net::UnixStream::connect(socket_path(dir.path())).expect("connect");
        stream
            .write_all(&u32::MAX.to_be_bytes())
            .expect("claim 4 GiB");
        let mut buf = Vec::new();
        let read = stream.read_to_end(&mut buf);
        assert!(buf.is_empty(), "no reply to an oversized request: {read:?}");
    }
}
