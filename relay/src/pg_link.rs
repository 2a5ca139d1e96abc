//! How the relay reaches its PostgreSQL database: the connection string as operators write
//! it for libpq (`sslmode` with its usual values, `sslrootcert`), TLS through rustls, and
//! the password from `PGPASSWORD` or a password file (`PGPASSFILE`, else `~/.pgpass`) when
//! the string names none, so that it never has to be on the command line.
//!
//! | `sslmode` | TLS | the server's certificate |
//! | --- | --- | --- |
//! | `disable` | never | |
//! | `prefer` (the default) | when the server offers it | not checked (as libpq) |
//! | `require` | always | not checked, unless `sslrootcert` is given (then as `verify-ca`) |
//! | `verify-ca` | always | signed by `sslrootcert` |
//! | `verify-full` | always | signed by `sslrootcert`, and for the host connected to |
//!
//! A Unix socket is never encrypted (it never leaves the machine).

use crate::mailbox_store::RelayStoreError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::MakeTlsConnect;

type Rustls = tokio_postgres_rustls::MakeRustlsConnect;
type Socket = tokio_postgres::Socket;

/// The connector every database connection of the relay uses: rustls, checking the server
/// as the address's `sslmode` asks.
#[derive(Clone)]
pub struct Tls(Rustls);

/// What a connection through [`Tls`] reads and writes.
pub type TlsStream = <Rustls as MakeTlsConnect<Socket>>::Stream;

impl MakeTlsConnect<Socket> for Tls {
    type Stream = TlsStream;
    type TlsConnect = <Rustls as MakeTlsConnect<Socket>>::TlsConnect;
    type Error = <Rustls as MakeTlsConnect<Socket>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        // A Unix socket has no host name, and `parse` never asks for TLS on one; the
        // connector is made all the same, and wants a name.
        let domain = if domain.is_empty() {
            "localhost"
        } else {
            domain
        };
        <Rustls as MakeTlsConnect<Socket>>::make_tls_connect(&mut self.0, domain)
    }
}

/// A database address, read.
pub struct DbAddress {
    /// What tokio-postgres connects with (its `sslmode` reduced to the three it knows).
    pub config: tokio_postgres::Config,
    /// The TLS connector, checking the server as `sslmode` asks.
    pub tls: Tls,
}

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Not at all (encrypted, but a machine in the middle could answer).
    None,
    /// Its chain, to the root certificate given.
    Chain,
    /// Its chain and its name.
    Full,
}

fn bad(what: impl std::fmt::Display) -> RelayStoreError {
    RelayStoreError::Database(format!("the store's address: {what}"))
}

/// Takes `sslmode` and `sslrootcert` out of a connection string (key=value pairs or a
/// `postgres://` URL), which tokio-postgres would refuse or not know; the rest as it was.
fn take_tls_options(url: &str) -> (String, Option<String>, Option<String>) {
    let (mut mode, mut root) = (None, None);
    let mut take = |key: &str, value: &str| match key {
        "sslmode" => {
            mode = Some(value.to_owned());
            true
        }
        "sslrootcert" => {
            root = Some(value.to_owned());
            true
        }
        _ => false,
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_owned(), None, None);
        };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                !take(k, v)
            })
            .collect();
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return (rest, mode, root);
    }
    let kept: Vec<&str> = url
        .split_whitespace()
        .filter(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            !take(k.trim(), v.trim().trim_matches('\''))
        })
        .collect();
    (kept.join(" "), mode, root)
}

/// Reads a database address.
pub fn parse(
    url: &str,
    connect_timeout: std::time::Duration,
) -> Result<DbAddress, RelayStoreError> {
    let (rest, mode, root) = take_tls_options(url);
    let mut config: tokio_postgres::Config = rest.parse().map_err(bad)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(connect_timeout);
    }
    let root = root.map(PathBuf::from);
    let (ssl, check) = match mode.as_deref().unwrap_or("prefer") {
        "disable" => (SslMode::Disable, Check::None),
        "allow" | "prefer" => (SslMode::Prefer, Check::None),
        "require" if root.is_some() => (SslMode::Require, Check::Chain),
        "require" => (SslMode::Require, Check::None),
        "verify-ca" => (SslMode::Require, Check::Chain),
        "verify-full" => (SslMode::Require, Check::Full),
        other => {
            return Err(bad(format!(
            "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
        )))
        }
    };
    // A Unix socket never leaves the machine, and there is no name to check: as libpq,
    // no TLS there (a TLS connector asked for one would fail on its empty host name).
    let unix_only = !config.get_hosts().is_empty()
        && config
            .get_hosts()
            .iter()
            .all(|h| matches!(h, tokio_postgres::config::Host::Unix(_)));
    config.ssl_mode(if unix_only { SslMode::Disable } else { ssl });
    if config.get_password().is_none() {
        if let Some(password) = password_for(&config) {
            config.password(password);
        }
    }
    let tls = connector(check, root.as_deref())?;
    Ok(DbAddress { config, tls })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn connector(check: Check, root: Option<&Path>) -> Result<Tls, RelayStoreError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS: {e}")))?;
    let config = match check {
        Check::None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unchecked(provider())))
            .with_no_client_auth(),
        Check::Chain | Check::Full => {
            let path = root.ok_or_else(|| {
                bad("sslmode=verify-ca and verify-full need sslrootcert=FILE (the CA's certificate, PEM)")
            })?;
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
            for cert in certs {
                let cert = cert.map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
            }
            if roots.is_empty() {
                return Err(bad(format!(
                    "sslrootcert {} holds no certificate",
                    path.display()
                )));
            }
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| bad(format!("TLS: {e}")))?;
            let verifier: Arc<dyn ServerCertVerifier> = if check == Check::Full {
                webpki
            } else {
                Arc::new(ChainOnly(webpki))
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth()
        }
    };
    Ok(Tls(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
}

/// The password for `config`'s user, host, port and database: `PGPASSWORD`, else the
/// first matching line of the password file (`PGPASSFILE`, else `~/.pgpass`), which libpq
/// reads only when no other user or group may read it.
fn password_for(config: &tokio_postgres::Config) -> Option<String> {
    if let Ok(password) = std::env::var("PGPASSWORD") {
        return Some(password);
    }
    let file = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    let text = std::fs::read_to_string(&file).ok()?;
    if !owner_only(&file) {
        tracing::warn!(file = %file.display(), "the password file is readable by others; not used (chmod 600 it)");
        return None;
    }
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user().unwrap_or_default().to_owned();
    let db = config.get_dbname().unwrap_or(&user).to_owned();
    pgpass_lookup(&text, [&host, &port, &db, &user])
}

#[cfg(unix)]
fn owner_only(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 == 0)
}

#[cfg(not(unix))]
fn owner_only(_path: &Path) -> bool {
    true
}

/// The password of the first `.pgpass` line matching host, port, database and user (`*`
/// matches anything; `\:` and `\\` escape).
fn pgpass_lookup(text: &str, want: [&str; 4]) -> Option<String> {
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => field.extend(chars.next()),
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut field)),
                c => field.push(c),
            }
        }
        fields.push(field);
        if fields.len() != 5 {
            continue;
        }
        if fields[..4]
            .iter()
            .zip(want)
            .all(|(pattern, value)| pattern == "*" || pattern == value)
        {
            return fields.pop();
        }
    }
    None
}

/// Accepts any certificate (`sslmode=prefer|require` without a root, as libpq does), while
/// still checking that the server holds the key of the certificate it shows.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to the root given; the name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_are_taken_out_of_both_forms_of_address() {
        let (rest, mode, root) = take_tls_options(
            "host=db port=5433 sslmode=verify-full sslrootcert=/etc/ca.pem user=duet",
        );
        assert_eq!(rest, "host=db port=5433 user=duet");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
        let (rest, mode, root) =
            take_tls_options("postgres://duet@db/relay?sslmode=require&connect_timeout=3");
        assert_eq!(rest, "postgres://duet@db/relay?connect_timeout=3");
        assert_eq!(mode.as_deref(), Some("require"));
        assert_eq!(root, None);
        let (rest, mode, _) = take_tls_options("postgres://duet@db/relay");
        assert_eq!((rest.as_str(), mode), ("postgres://duet@db/relay", None));
    }

    #[test]
    fn sslmode_values_are_read_and_a_wrong_one_is_refused() {
        let timeout = std::time::Duration::from_secs(1);
        for (mode, ssl) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
        ] {
            let read = parse(&format!("host=db user=duet sslmode={mode}"), timeout).expect("reads");
            assert_eq!(read.config.get_ssl_mode(), ssl);
        }
        assert_eq!(
            parse("host=db user=duet", timeout)
                .expect("reads")
                .config
                .get_ssl_mode(),
            SslMode::Prefer
        );
        assert!(
            parse("host=db sslmode=verify-full", timeout).is_err(),
            "no root given"
        );
        assert!(parse("host=db sslmode=sometimes", timeout).is_err());
    }

    #[test]
    fn a_pgpass_line_matches_by_field_with_wildcards_and_escapes() {
        let text =
            "# comment\nother:5432:duet:duet:wrong\n*:5432:duet:duet:pa\\:ss\ndb:*:*:*:later\n";
        assert_eq!(
            pgpass_lookup(text, ["db", "5432", "duet", "duet"]).as_deref(),
            Some("pa:ss")
        );
        assert_eq!(
            pgpass_lookup(text, ["db", "6000", "x", "y"]).as_deref(),
            Some("later")
        );
        assert_eq!(pgpass_lookup(text, ["elsewhere", "1", "x", "y"]), None);
    }
}
