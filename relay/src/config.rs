//! The relay's settings: limits that keep one misbehaving client from hurting the others,
//! and whether creating a mailbox needs a team token. Read from an optional JSON file;
//! every field has a default that suits a team's relay on the open internet: a team token
//! is required to create a mailbox unless the operator passes `--open`.

use serde::{Deserialize, Serialize};
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
        }
    }
}

impl RelayConfig {
    /// Reads a config file (JSON); absent fields keep their defaults.
    pub fn load(path: &Path) -> anyhow::Result<RelayConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a relay config: {e}", path.display()))
    }
}
