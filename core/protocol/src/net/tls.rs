//! TLS for QUIC between devices: self-signed certificates pinned by fingerprint.
//!
//! There is no certificate authority between two people's laptops. Each device makes one
//! self-signed certificate (rcgen, ECDSA P-256, ring) and keeps it in its store; its BLAKE3
//! fingerprint names the device on the network. A client accepts a server only if the
//! fingerprint is pinned (from an invite ticket, a remembered peer, or `--fingerprint`).
//! A server accepts any client certificate (it proves key possession in the handshake),
//! because what lets a client in is the membership proof that follows, not its cert.
//! TLS 1.3 only, with the ring provider (no aws-lc build).

use crate::crypto::{cert_fingerprint, fingerprint_text};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// The ALPN protocol id of Duet's P2P sync.
pub const ALPN: &[u8] = b"duet-p2p/1";

/// A device's TLS identity: certificate and PKCS#8 private key, both DER.
#[derive(Clone)]
pub struct TlsIdentity {
    /// The self-signed certificate.
    pub cert_der: Vec<u8>,
    /// The private key.
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TlsIdentity({})", fingerprint_text(&self.fingerprint()))
    }
}

impl TlsIdentity {
    /// Makes a new self-signed identity.
    pub fn generate() -> Result<TlsIdentity, rcgen::Error> {
        let made = rcgen::generate_simple_self_signed(vec!["duet-device".to_owned()])?;
        Ok(TlsIdentity {
            cert_der: made.cert.der().to_vec(),
            key_der: made.signing_key.serialize_der(),
        })
    }

    /// The certificate's fingerprint.
    pub fn fingerprint(&self) -> [u8; 32] {
        cert_fingerprint(&self.cert_der)
    }

    fn chain(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (
            vec![CertificateDer::from(self.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
        )
    }
}

/// The handshake signature checks both verifiers share: pinning replaces the certificate
/// chain check, never the proof that the peer holds the certificate's key.
macro_rules! signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algorithms = &self.provider.signature_verification_algorithms;
            verify_tls12_signature(message, cert, dss, algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algorithms = &self.provider.signature_verification_algorithms;
            verify_tls13_signature(message, cert, dss, algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Which server certificates a client accepts.
#[derive(Debug, Clone)]
pub enum Pins {
    /// Only these fingerprints.
    Exactly(BTreeSet<[u8; 32]>),
    /// Any certificate: only for a health check that sends nothing secret.
    AnyForHealthCheck,
    /// Any certificate, for a device found on the local network (its announcement carries
    /// no fingerprint): the membership handshake that follows, bound to this TLS session,
    /// decides whether it shares a notebook, and nothing is sent before it passes.
    AnyMember,
}

impl From<BTreeSet<[u8; 32]>> for Pins {
    fn from(pins: BTreeSet<[u8; 32]>) -> Pins {
        Pins::Exactly(pins)
    }
}

/// What the client saw of the server's certificate, for its error message.
#[derive(Debug, Default)]
pub struct Seen(Mutex<Option<[u8; 32]>>);

impl Seen {
    /// The fingerprint the server presented, if the handshake got that far.
    pub fn fingerprint(&self) -> Option<[u8; 32]> {
        self.0.lock().ok().and_then(|g| *g)
    }
}

#[derive(Debug)]
struct PinnedServer {
    pins: Pins,
    seen: Arc<Seen>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = cert_fingerprint(end_entity.as_ref());
        if let Ok(mut seen) = self.seen.0.lock() {
            *seen = Some(fp);
        }
        let accepted = match &self.pins {
            Pins::Exactly(allowed) => allowed.contains(&fp),
            Pins::AnyForHealthCheck | Pins::AnyMember => true,
        };
        if accepted {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "unpinned device certificate {}",
                fingerprint_text(&fp)
            )))
        }
    }

    signature_checks!();
}

#[derive(Debug)]
struct AnyClient {
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClient {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    signature_checks!();
}

/// The ALPN protocol id of the relay protocol.
pub const RELAY_ALPN: &[u8] = b"duet-relay/1";

/// The rustls server configuration of a device.
pub fn server_config(identity: &TlsIdentity) -> Result<rustls::ServerConfig, rustls::Error> {
    server_config_for(identity, ALPN)
}

/// The rustls server configuration for one protocol (`ALPN` or `RELAY_ALPN`).
pub fn server_config_for(
    identity: &TlsIdentity,
    alpn: &[u8],
) -> Result<rustls::ServerConfig, rustls::Error> {
    let provider = provider();
    let (chain, key) = identity.chain();
    let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(AnyClient { provider }))
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// The rustls client configuration of a device that accepts only `pins`.
pub fn client_config(
    identity: &TlsIdentity,
    pins: Pins,
    seen: Arc<Seen>,
) -> Result<rustls::ClientConfig, rustls::Error> {
    client_config_for(identity, pins, seen, ALPN)
}

/// The rustls client configuration for one protocol (`ALPN` or `RELAY_ALPN`).
pub fn client_config_for(
    identity: &TlsIdentity,
    pins: Pins,
    seen: Arc<Seen>,
    alpn: &[u8],
) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = provider();
    let (chain, key) = identity.chain();
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServer {
            pins,
            seen,
            provider,
        }))
        .with_client_auth_cert(chain, key)?;
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// The fingerprint of the certificate a QUIC peer presented.
pub fn peer_fingerprint(conn: &quinn::Connection) -> Option<[u8; 32]> {
    let identity = conn.peer_identity()?;
    let certs = identity.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    certs.first().map(|c| cert_fingerprint(c.as_ref()))
}
