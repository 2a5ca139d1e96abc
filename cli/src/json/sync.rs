//! Syncing as `--json` prints it: what a sync brought, devices, relays, `duet status` and
//! the lines `duet serve --json` logs.

use super::contract;
use duet_core::crypto::fingerprint_text;
use duet_node::live::{LinkStatus, LiveEvent};
use duet_node::net::client::PeerOutcome;
use duet_node::net::relay_client::RelayOutcome;
use serde::Serialize;
use std::net::SocketAddr;

/// What one notebook's sync brought and sent.
#[derive(Debug, Serialize)]
pub struct Report {
    pub notebook: String,
    pub title: String,
    pub sent_changes: usize,
    pub documents_changed: usize,
    pub agenda_items: usize,
    pub commitments: usize,
    pub commitments_updated: usize,
    pub notes: usize,
    pub meetings: usize,
    pub private_notes: usize,
}

/// A sync with another device.
#[derive(Debug, Serialize)]
pub struct PeerSync {
    pub addr: SocketAddr,
    /// The other device's fingerprint.
    pub peer: String,
    pub notebooks: Vec<Report>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// A sync through a notebook's relay.
#[derive(Debug, Serialize)]
pub struct RelaySync {
    pub addr: SocketAddr,
    pub notebook: Report,
    pub pulled: usize,
    pub rejected: usize,
    pub pushed: Option<u64>,
    /// The relay's log was not the one this device had read: it read it again.
    pub rewound: bool,
}

/// A notebook's relay. The team token itself is never printed.
#[derive(Debug, Serialize)]
pub struct Relay {
    pub addr: String,
    pub fingerprint: String,
    pub team_token: bool,
}

/// A device this one has synced with.
#[derive(Debug, Serialize)]
pub struct Device {
    pub fingerprint: String,
    pub addr: Option<SocketAddr>,
    /// Unix milliseconds.
    pub last_sync: i64,
}

/// A device of the current notebook (`duet devices`).
#[derive(Debug, Serialize)]
pub struct Member {
    /// The device's public key: its id.
    pub id: String,
    pub person: String,
    pub role: String,
    pub name: Option<String>,
    pub fingerprint: Option<String>,
    /// `YYYY-MM-DD`.
    pub added: Option<String>,
    /// Unix milliseconds; none for this device and for a device never heard from.
    pub last_seen: Option<i64>,
    pub this_device: bool,
    pub removed: bool,
    /// One of this person's devices linked only for private notes.
    pub private_notes_only: bool,
    /// Another device joined with the same one-time ticket.
    pub shared_ticket: bool,
}

impl From<&duet_core::DeviceView> for Member {
    fn from(d: &duet_core::DeviceView) -> Self {
        Self {
            id: d.id.clone(),
            person: d.person.clone(),
            role: d.role.as_str().to_owned(),
            name: d.name.clone(),
            fingerprint: d.fingerprint.clone(),
            added: d.added.clone(),
            last_seen: d.last_seen,
            this_device: d.this_device,
            removed: d.removed,
            private_notes_only: d.private_notes_only,
            shared_ticket: d.shared_ticket,
        }
    }
}

/// A one-time invite made on this device (`duet invite --list`).
#[derive(Debug, Serialize)]
pub struct Invitation {
    pub id: String,
    /// `open`, `used`, `expired` or `revoked`.
    pub state: String,
    /// Unix milliseconds.
    pub created: i64,
    /// Unix seconds.
    pub expires: i64,
}

impl From<&duet_core::InviteView> for Invitation {
    fn from(v: &duet_core::InviteView) -> Self {
        Self {
            id: v.id.clone(),
            state: v.state.to_owned(),
            created: v.created,
            expires: v.expires,
        }
    }
}

/// What a running node's link (a relay subscription, a device) last did.
#[derive(Debug, Serialize)]
pub struct Link {
    /// `relay` or `device`.
    pub kind: String,
    pub addr: String,
    pub notebook: Option<String>,
    pub connected: bool,
    pub last_ok: Option<i64>,
    pub last_error: Option<String>,
}

/// A relay batch set aside.
#[derive(Debug, Serialize)]
pub struct SetAside {
    pub seq: u64,
    pub sender: String,
    pub reason: String,
    /// Unix seconds.
    pub at: u64,
    pub envelope_kept: bool,
}

/// Batches of one sender the relay did not deliver.
#[derive(Debug, Serialize)]
pub struct Withheld {
    pub sender: String,
    pub from: u64,
    pub to: u64,
    /// Unix seconds.
    pub at: u64,
}

/// One notebook's line in `duet status`.
#[derive(Debug, Serialize)]
pub struct NotebookStatus {
    pub id: String,
    pub title: String,
    pub relay: Option<String>,
    /// Changes made or received here that the notebook's relay has not acknowledged.
    pub not_on_relay: Option<usize>,
    /// Changes here that no other device or relay is known to have.
    pub not_on_any_other_device: usize,
    /// When this device last found the relay's log not the one it had read, and rewound.
    pub relay_rewound: Option<i64>,
    pub set_aside: Vec<SetAside>,
    pub withheld: Vec<Withheld>,
    /// Membership records that do not count (not signed by a device entitled to them).
    pub membership_refused: Vec<String>,
}

/// The running node, in `duet status`.
#[derive(Debug, Serialize)]
pub struct Node {
    pub pid: u32,
    pub serving: Option<SocketAddr>,
    /// Unix milliseconds.
    pub since: i64,
}

/// `duet status`.
#[derive(Debug, Serialize)]
pub struct Status {
    pub node: Option<Node>,
    pub notebooks: Vec<NotebookStatus>,
    pub links: Vec<Link>,
    pub devices: Vec<Device>,
}

/// A line of `duet serve --json`: what background sync did.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Live {
    RelaySynced {
        addr: SocketAddr,
        report: Report,
    },
    PeerSynced {
        addr: SocketAddr,
        reports: Vec<Report>,
    },
    Failed {
        link: String,
        error: String,
        retry_in_ms: u64,
    },
}

/// `duet join` and `duet link TICKET`: what was added, and how its first sync went.
#[derive(Debug, Serialize, Default)]
pub struct FirstSyncResult {
    /// The notebook joined (`join`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notebook: Option<String>,
    /// The personal space linked (`link`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personal_space: Option<String>,
    pub synced: bool,
    /// The relay it synced through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay: Option<SocketAddr>,
    /// What arrived through the relay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    /// The device it synced with directly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<PeerSync>,
    /// Why the first sync failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `duet peers`.
#[derive(Debug, Serialize)]
pub struct Peers {
    pub fingerprint: String,
    pub peers: Vec<Device>,
}

/// `duet sync`: each relay and device reached, and each that failed.
#[derive(Debug, Serialize)]
pub struct SyncRound {
    pub relays: Vec<RelaySync>,
    pub synced: Vec<PeerSync>,
    pub failed: Vec<SyncFailure>,
}

/// A target `duet sync` could not sync with.
#[derive(Debug, Serialize)]
pub struct SyncFailure {
    pub addr: String,
    pub error: String,
}

/// `duet relay show`.
#[derive(Debug, Serialize)]
pub struct RelayShown {
    pub relay: Option<Relay>,
    pub cursor: u64,
}

/// `duet relay compact`.
#[derive(Debug, Serialize)]
pub struct Compacted {
    pub compacted_upto: u64,
}

/// A line of `duet serve --json` about the node itself and the devices it serves.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ServeLine {
    /// The node is up: where it listens and the certificate devices pin.
    Listening {
        addr: SocketAddr,
        fingerprint: String,
    },
    /// A device synced a notebook with this one.
    Synced {
        addr: SocketAddr,
        peer: String,
        report: Report,
    },
    /// A connection was refused or failed.
    Refused { addr: SocketAddr, reason: String },
    /// The node stopped.
    Stopped,
}

/// What `--json` prints on standard error when a command fails.
#[derive(Debug, Serialize)]
pub struct Failure {
    pub error: String,
    pub exit_code: u8,
}

/// A line of `duet watch --json`: what arrived.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Watched {
    Changes { report: Report },
}

contract!(
    Report,
    PeerSync,
    RelaySync,
    Relay,
    Device,
    Member,
    Invitation,
    Status,
    Live,
    FirstSyncResult,
    Peers,
    SyncRound,
    RelayShown,
    Compacted,
    Watched,
    ServeLine,
    Failure
);

impl From<&duet_core::SyncReport> for Report {
    fn from(r: &duet_core::SyncReport) -> Self {
        Report {
            notebook: r.notebook.clone(),
            title: r.title.clone(),
            sent_changes: r.sent_changes,
            documents_changed: r.documents_changed,
            agenda_items: r.agenda_items,
            commitments: r.commitments,
            commitments_updated: r.commitments_updated,
            notes: r.notes,
            meetings: r.meetings,
            private_notes: r.private_notes,
        }
    }
}

fn reports(list: &[duet_core::SyncReport]) -> Vec<Report> {
    list.iter().map(Report::from).collect()
}

impl From<&PeerOutcome> for PeerSync {
    fn from(o: &PeerOutcome) -> Self {
        PeerSync {
            addr: o.addr,
            peer: fingerprint_text(&o.peer),
            notebooks: reports(&o.reports),
            bytes_sent: o.bytes_sent,
            bytes_received: o.bytes_received,
        }
    }
}

impl From<&RelayOutcome> for RelaySync {
    fn from(o: &RelayOutcome) -> Self {
        RelaySync {
            addr: o.addr,
            notebook: (&o.report).into(),
            pulled: o.pulled,
            rejected: o.rejected,
            pushed: o.pushed,
            rewound: o.rewound,
        }
    }
}

impl From<&duet_core::RelaySetting> for Relay {
    fn from(s: &duet_core::RelaySetting) -> Self {
        Relay {
            addr: s.addr.clone(),
            fingerprint: s.fingerprint.clone(),
            team_token: s.team_token.is_some(),
        }
    }
}

impl From<&duet_core::KnownPeer> for Device {
    fn from(p: &duet_core::KnownPeer) -> Self {
        Device {
            fingerprint: p.fingerprint.clone(),
            addr: p.addr,
            last_sync: p.last_sync,
        }
    }
}

impl From<&LinkStatus> for Link {
    fn from(l: &LinkStatus) -> Self {
        Link {
            kind: l.kind.clone(),
            addr: l.addr.clone(),
            notebook: l.notebook.clone(),
            connected: l.connected,
            last_ok: l.last_ok,
            last_error: l.last_error.clone(),
        }
    }
}

impl From<&duet_core::QuarantinedBatch> for SetAside {
    fn from(q: &duet_core::QuarantinedBatch) -> Self {
        SetAside {
            seq: q.seq,
            sender: q.sender.clone(),
            reason: q.reason.clone(),
            at: q.at,
            envelope_kept: q.envelope_kept,
        }
    }
}

impl From<&duet_core::WithheldBatches> for Withheld {
    fn from(w: &duet_core::WithheldBatches) -> Self {
        Withheld {
            sender: w.sender.clone(),
            from: w.from,
            to: w.to,
            at: w.at,
        }
    }
}

impl From<&LiveEvent> for Live {
    fn from(e: &LiveEvent) -> Self {
        match e {
            LiveEvent::RelaySynced { addr, report } => Live::RelaySynced {
                addr: *addr,
                report: report.into(),
            },
            LiveEvent::PeerSynced { addr, reports: r } => Live::PeerSynced {
                addr: *addr,
                reports: reports(r),
            },
            LiveEvent::Failed {
                link,
                error,
                retry_in_ms,
            } => Live::Failed {
                link: link.clone(),
                error: error.clone(),
                retry_in_ms: *retry_in_ms,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relay_prints_whether_it_has_a_team_token_never_the_token() {
        let setting = duet_core::RelaySetting {
            addr: "relay.example:7879".into(),
            fingerprint: "ab".repeat(32),
            team_token: Some("team-secret-123".into()),
        };
        let text = serde_json::to_string(&Relay::from(&setting)).expect("encodes");
        assert!(!text.contains("team-secret-123"), "{text}");
        assert!(text.contains("\"team_token\":true"), "{text}");
    }
}
