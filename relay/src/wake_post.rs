//! One wake-up on the wire: an empty HTTP/1.1 POST to a push endpoint, over TLS for
//! `https`, answered by a status code. The request holds no body and no header that
//! varies with the mailbox, so the push service learns nothing but "wake up".
//!
//! Only the status line of the answer is read (push services answer 201 or 204 with
//! nothing worth reading); the connection is closed after it.

use duet_protocol::wake::WakeEndpoint;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How long one POST may take, from resolving the host to the status line.
pub const WAKE_POST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most bytes read of an answer while looking for its status line.
const MAX_STATUS_LINE_BYTES: usize = 1024;
/// How long a push service keeps an undelivered wake-up (Web Push's `TTL`, seconds): a
/// day, since the next one would carry nothing more.
const WAKE_TTL_SECS: u32 = 86_400;

/// Why a POST failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostError {
    /// The host did not resolve, or only to addresses the relay may not reach.
    #[error("{0}")]
    Address(String),
    /// Connecting, TLS or the exchange failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// No status line within the limits.
    #[error("the push service answered no HTTP status")]
    NoStatus,
    /// Over [`WAKE_POST_TIMEOUT`].
    #[error("the push service did not answer within {WAKE_POST_TIMEOUT:?}")]
    Timeout,
}

/// A client config for `https` endpoints: the public web PKI's roots.
pub fn tls_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// POSTs an empty wake-up to `endpoint` at one of its addresses `reachable` allows (over
/// `tls` for `https`); the status code answered.
pub async fn post(
    endpoint: &WakeEndpoint,
    tls: Option<&Arc<rustls::ClientConfig>>,
    reachable: impl Fn(IpAddr) -> bool,
) -> Result<u16, PostError> {
    match tokio::time::timeout(WAKE_POST_TIMEOUT, exchange(endpoint, tls, reachable)).await {
        Ok(r) => r,
        Err(_) => Err(PostError::Timeout),
    }
}

async fn exchange(
    endpoint: &WakeEndpoint,
    tls: Option<&Arc<rustls::ClientConfig>>,
    reachable: impl Fn(IpAddr) -> bool,
) -> Result<u16, PostError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| PostError::Address(format!("resolving {}: {e}", endpoint.host)))?
        .collect();
    let allowed: Vec<SocketAddr> = addrs.into_iter().filter(|a| reachable(a.ip())).collect();
    if allowed.is_empty() {
        return Err(PostError::Address(format!(
            "{} resolves to no address this relay may reach",
            endpoint.host
        )));
    }
    let tcp = tokio::net::TcpStream::connect(&allowed[..]).await?;
    if endpoint.secure {
        let tls =
            tls.ok_or_else(|| PostError::Address("this relay has no TLS for wake-ups".into()))?;
        let name = rustls::pki_types::ServerName::try_from(endpoint.host.clone())
            .map_err(|e| PostError::Address(format!("{}: {e}", endpoint.host)))?;
        let stream = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(name, tcp)
            .await?;
        request(stream, endpoint).await
    } else {
        request(tcp, endpoint).await
    }
}

async fn request<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    endpoint: &WakeEndpoint,
) -> Result<u16, PostError> {
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: duet-relay\r\nContent-Length: 0\r\nTTL: {WAKE_TTL_SECS}\r\nUrgency: high\r\nConnection: close\r\n\r\n",
        endpoint.target,
        endpoint.host_header()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.flush().await?;
    let mut answer = Vec::with_capacity(128);
    let mut buf = [0u8; 256];
    while !answer.contains(&b'\n') {
        let n = stream.read(&mut buf).await?;
        if n == 0 || answer.len() + n > MAX_STATUS_LINE_BYTES {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    status_of(&answer).ok_or(PostError::NoStatus)
}

/// The status code of an HTTP/1.x status line.
fn status_of(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code: u16 = parts.next()?.parse().ok()?;
    (100..600).contains(&code).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse_and_anything_else_does_not() {
        assert_eq!(status_of(b"HTTP/1.1 201 Created\r\n"), Some(201));
        assert_eq!(status_of(b"HTTP/1.0 410 Gone\r\nx"), Some(410));
        assert_eq!(status_of(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status_of(b"HTTP/1.1 99999 Big\r\n"), None);
        assert_eq!(status_of(b""), None);
    }

    #[tokio::test]
    async fn a_post_is_empty_and_names_nothing_but_the_endpoint() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).await.expect("read");
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
                .await
                .expect("answer");
            String::from_utf8(got).expect("text")
        });
        let endpoint =
            WakeEndpoint::parse(&format!("http://127.0.0.1:{port}/up/abc?x=1")).expect("url");
        let code = post(&endpoint, Some(&tls_config().expect("tls")), |_| true)
            .await
            .expect("posted");
        assert_eq!(code, 201);
        let request = server.await.expect("server");
        assert!(
            request.starts_with("POST /up/abc?x=1 HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("Content-Length: 0\r\n"), "{request}");
        assert!(
            request.contains(&format!("Host: 127.0.0.1:{port}\r\n")),
            "{request}"
        );

        let refused = post(&endpoint, None, |_| false).await;
        assert!(matches!(refused, Err(PostError::Address(_))), "{refused:?}");
    }
}
