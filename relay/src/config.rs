//! The relay's settings: limits that keep one misbehaving client from hurting the others,
//! whether creating a mailbox needs a team token, how long idle mailboxes are kept, and
//! where operators read its metrics. Read from an optional TOML file (`relay.toml`; a file
//! ending in `.json` is read as JSON, the earlier form); every field has a default that
//! suits a team's relay on the open internet: a team token is required to create a mailbox
//! unless the operator passes `--open`, and no metrics listener runs unless one is set.
//!
//! ```toml
//! require_team_token = true
//! mailbox_quota_bytes = 268435456
//! retention_days = 180          # mailboxes with no push for this long are deleted (0: never)
//! metrics_listen = "127.0.0.1:9479"
//! log_format = "json"
//!
//! [wake]                        # wake-ups POSTed to phones' push endpoints
//! enabled = true
//! hosts = ["ntfy.example.org", "*.push.example.com"]   # empty: any public host
//! min_interval_secs = 30        # at most one wake-up per endpoint this often
//! attempts = 5                  # tries before a failing endpoint is dropped
//! ```

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;

/// Relay settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// Only holders of a team token (`duet-relay token new`) may create mailboxes. On by
    /// default: a relay reachable from the internet would otherwise store anyone's data.
    pub require_team_token: bool,
    /// The largest envelope accepted, in bytes.
    pub max_envelope_bytes: usize,
    /// Bytes a mailbox may hold; compaction frees them.
    pub mailbox_quota_bytes: u64,
    /// Connections held at once; more are refused.
    pub max_connections: usize,
    /// Connections held at once from one IP address (an office behind one NAT address
    /// holds one per device and relayed notebook); more are refused.
    pub max_connections_per_address: usize,
    /// Bytes the relay's store may take on disk; pushes are refused past it (0: no cap).
    pub max_store_bytes: u64,
    /// Requests a connection may make per second (bursts of twice that are allowed).
    pub requests_per_second: u32,
    /// Seconds a silent connection is kept.
    pub idle_timeout_secs: u64,
    /// Seconds a client may take to send a request, or to read a reply, before it is cut off.
    pub stall_timeout_secs: u64,
    /// Days a mailbox may go without a push before it is deleted (0: kept for ever). A
    /// device whose mailbox was deleted pushes its whole notebook again on its next sync.
    pub retention_days: u64,
    /// Where to serve `/metrics` (Prometheus), `/healthz` and `/readyz` over
    /// HTTP; none by default. Keep it on a private address: it says how busy the relay is.
    pub metrics_listen: Option<SocketAddr>,
    /// `text` (default) or `json`: one JSON object per log line, for log collectors.
    pub log_format: LogFormat,
    /// Wake-ups POSTed to devices' push endpoints when their mailbox grows.
    pub wake: WakeConfig,
}

/// How the relay wakes sleeping devices (`duet_protocol::wake`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WakeConfig {
    /// Whether devices may register push endpoints at all (on by default). Off, the relay
    /// refuses registrations and sends nothing; endpoints already kept are left unused.
    pub enabled: bool,
    /// The hosts endpoints may name: exact names, or `*.example.com` for any name under
    /// it. Empty (the default): any host but loopback, private and link-local addresses
    /// and `localhost`, which must be listed by name to be used.
    pub hosts: Vec<String>,
    /// Seconds between two wake-ups to one endpoint at least: pushes landing meanwhile
    /// are folded into one wake-up sent when the time is up.
    pub min_interval_secs: u64,
    /// Tries per wake-up (the first, then retries with doubling pauses); an endpoint that
    /// fails them all, or answers 404 or 410, is dropped.
    pub attempts: u32,
    /// The pause before the first retry, in milliseconds.
    pub first_retry_ms: u64,
}

impl Default for WakeConfig {
    fn default() -> Self {
        WakeConfig {
            enabled: true,
            hosts: Vec::new(),
            min_interval_secs: 30,
            attempts: 5,
            first_retry_ms: 1000,
        }
    }
}

/// How the relay writes its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            require_team_token: true,
            max_envelope_bytes: 4 * 1024 * 1024,
            mailbox_quota_bytes: 256 * 1024 * 1024,
            max_connections: 20_000,
            max_connections_per_address: 256,
            max_store_bytes: 64 * 1024 * 1024 * 1024,
            requests_per_second: 200,
            idle_timeout_secs: 60,
            stall_timeout_secs: 10,
            retention_days: 0,
            metrics_listen: None,
            log_format: LogFormat::Text,
            wake: WakeConfig::default(),
        }
    }
}

/// Why a config file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a relay config (the message names the line and the field).
    #[error("{path} is not a relay config: {why}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, from the parser.
        why: String,
    },
}

impl RelayConfig {
    /// Reads a config file: TOML, or JSON when its name ends in `.json`. Absent fields keep
    /// their defaults; an unknown field is an error (a typo must not silently do nothing).
    pub fn load(path: &Path) -> Result<RelayConfig, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        RelayConfig::parse(&text, json).map_err(|why| ConfigError::Invalid { path: shown, why })
    }

    /// Reads a config file's text: TOML, or JSON when `json`; why not, in words.
    pub fn parse(text: &str, json: bool) -> Result<RelayConfig, String> {
        if json {
            serde_json::from_str(text).map_err(|e| e.to_string())
        } else {
            toml::from_str(text).map_err(|e| {
                if text.trim_start().starts_with('{') {
                    format!("{e}\n(it looks like JSON: name the file *.json to read it as JSON)")
                } else {
                    e.to_string()
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn toml_and_json_read_the_same_settings() {
        let (_d, toml) = write(
            "relay.toml",
            "require_team_token = false\nretention_days = 30\nmetrics_listen = \"127.0.0.1:9479\"\nlog_format = \"json\"\n",
        );
        let (_e, json) = write(
            "relay.json",
            r#"{"require_team_token": false, "retention_days": 30, "metrics_listen": "127.0.0.1:9479", "log_format": "json"}"#,
        );
        let a = RelayConfig::load(&toml).expect("toml");
        assert_eq!(a, RelayConfig::load(&json).expect("json"));
        assert!(!a.require_team_token);
        assert_eq!(a.retention_days, 30);
        assert_eq!(a.log_format, LogFormat::Json);
        assert_eq!(a.max_connections, RelayConfig::default().max_connections);
    }

    #[test]
    fn a_typo_or_json_under_a_toml_name_is_refused_by_name() {
        let (_d, typo) = write("relay.toml", "retention_dayz = 30\n");
        let err = RelayConfig::load(&typo)
            .expect_err("unknown field")
            .to_string();
        assert!(err.contains("retention_dayz"), "{err}");
        let (_e, json) = write("relay.toml", "{\"retention_days\": 3}");
        let err = RelayConfig::load(&json).expect_err("json").to_string();
        assert!(err.contains("looks like JSON"), "{err}");
    }
}
