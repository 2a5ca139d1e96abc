//! The sync service: "sync now" written once. What a round reaches (every notebook's relay,
//! every remembered device, one address, the devices found nearby), and one round over
//! those targets with each failure kept beside the successes.
//!
//! The CLI's `duet sync`, the phone's `sync_now` and the node's background loops all
//! resolve their targets here; they differ only in how they report and when they run.
//! This module waits on the network holding nothing: every step reaches the home through
//! its [`HomeHandle`], one short call at a time.

use crate::net::client::{sync_with_retries, PeerOutcome};
use crate::net::relay_client::{sync_relay_with_retries, RelayOutcome};
use crate::net::tls::Pins;
use crate::net::{nearby, NetError};
use crate::HomeHandle;
use duet_core::crypto::parse_fingerprint;
use duet_core::home::SyncPort;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

/// What one "sync now" reaches.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SyncScope {
    /// Every notebook's relay and every remembered device with an address.
    Everything,
    /// Every notebook's relay only.
    Relays,
    /// One device at an address, pinned to `fingerprint` when given (a first contact
    /// without an invite), else to any device this one has synced with.
    Device {
        /// Where it listens.
        addr: SocketAddr,
        /// Its certificate fingerprint.
        fingerprint: Option<[u8; 32]>,
    },
    /// The devices announcing, within `wait`, a notebook held here on the local network.
    Nearby {
        /// How long to listen for announcements.
        wait: Duration,
    },
}

/// One place a round syncs with.
#[derive(Debug, Clone)]
pub enum SyncTarget {
    /// A notebook's relay.
    Relay {
        /// The notebook.
        notebook: String,
        /// The relay's address, as set.
        addr: String,
    },
    /// A device serving at an address.
    Device {
        /// Where it listens.
        addr: SocketAddr,
        /// Which certificates it may present.
        pins: Pins,
    },
}

impl SyncTarget {
    /// How a person would name it: `relay ADDR` or the device's address.
    pub fn label(&self) -> String {
        match self {
            SyncTarget::Relay { addr, .. } => format!("relay {addr}"),
            SyncTarget::Device { addr, .. } => addr.to_string(),
        }
    }
}

/// What one round did: each target's outcome, failures kept, none hidden.
#[derive(Debug, Default)]
pub struct SyncRound {
    /// The relays synced with.
    pub relays: Vec<RelayOutcome>,
    /// The devices synced with.
    pub devices: Vec<PeerOutcome>,
    /// The targets that failed, with why.
    pub failures: Vec<(SyncTarget, NetError)>,
}

impl SyncRound {
    /// Whether nothing was reached at all.
    pub fn reached_nothing(&self) -> bool {
        self.relays.is_empty() && self.devices.is_empty()
    }

    /// Every notebook's report, relays first.
    pub fn reports(&self) -> Vec<duet_core::SyncReport> {
        self.relays
            .iter()
            .map(|o| o.report.clone())
            .chain(self.devices.iter().flat_map(|o| o.reports.iter().cloned()))
            .collect()
    }
}

/// The targets `scope` names, read from the home (and, for [`SyncScope::Nearby`], the
/// local network). Refused when there is nothing to sync with: the caller words it.
pub async fn targets(home: &HomeHandle, scope: SyncScope) -> Result<Vec<SyncTarget>, NetError> {
    let mut out = Vec::new();
    match scope {
        SyncScope::Everything | SyncScope::Relays => {
            let relayed = home.relayed_notebooks().await?;
            out.extend(
                relayed
                    .into_iter()
                    .map(|(notebook, setting)| SyncTarget::Relay {
                        notebook,
                        addr: setting.addr,
                    }),
            );
            if matches!(scope, SyncScope::Everything) {
                out.extend(remembered_devices(home).await?);
            }
        }
        SyncScope::Device { addr, fingerprint } => {
            let pins = match fingerprint {
                Some(fp) => BTreeSet::from([fp]),
                None => remembered_fingerprints(home).await?,
            };
            out.push(SyncTarget::Device {
                addr,
                pins: Pins::Exactly(pins),
            });
        }
        SyncScope::Nearby { wait } => {
            out.extend(nearby_devices(home, wait).await?.into_iter().map(|addr| {
                SyncTarget::Device {
                    addr,
                    // The announcement names no certificate: the membership handshake,
                    // bound to the TLS session, decides whether it shares a notebook.
                    pins: Pins::AnyMember,
                }
            }));
        }
    }
    Ok(out)
}

/// Every remembered device with an address, pinned to the certificate it had.
pub async fn remembered_devices(home: &HomeHandle) -> Result<Vec<SyncTarget>, NetError> {
    let known = home.known_peers().await?;
    Ok(known
        .into_iter()
        .filter_map(|p| {
            Some(SyncTarget::Device {
                addr: p.addr?,
                pins: Pins::Exactly(BTreeSet::from([parse_fingerprint(&p.fingerprint)?])),
            })
        })
        .collect())
}

async fn remembered_fingerprints(home: &HomeHandle) -> Result<BTreeSet<[u8; 32]>, NetError> {
    let known = home.known_peers().await?;
    Ok(known
        .iter()
        .filter_map(|p| parse_fingerprint(&p.fingerprint))
        .collect())
}

/// Addresses of the devices announcing, within `wait`, a tag of a notebook held here.
/// An error when discovery itself is unavailable (no multicast, no permission).
pub async fn nearby_devices(
    home: &HomeHandle,
    wait: Duration,
) -> Result<Vec<SocketAddr>, NetError> {
    let keys = home.membership_keys().await?;
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let ours = nearby::recognised_tags(&keys);
    let found = tokio::task::spawn_blocking(move || nearby::browse(wait))
        .await
        .map_err(|e| NetError::Discovery(e.to_string()))?
        .map_err(|e| NetError::Discovery(e.to_string()))?;
    Ok(found
        .into_iter()
        .filter(|f| f.tags.iter().any(|t| ours.contains(t)))
        .filter_map(|f| f.addrs.first().copied())
        .collect())
}

/// Syncs with each target in turn, relays first, trying each up to `attempts` times when
/// its failure is worth retrying. This device's own announcement, found nearby, is
/// skipped, not a failure.
pub async fn sync_round(home: &HomeHandle, targets: Vec<SyncTarget>, attempts: usize) -> SyncRound {
    sync_round_until(home, targets, attempts, None).await
}

/// [`sync_round`], ending by `deadline` when one is given: the link in progress then is
/// abandoned (nothing half-applied is kept) and it and the links not begun are failures
/// ([`NetError::Deadline`]); what finished before stays in the round.
pub async fn sync_round_until(
    home: &HomeHandle,
    targets: Vec<SyncTarget>,
    attempts: usize,
    deadline: Option<tokio::time::Instant>,
) -> SyncRound {
    let mut round = SyncRound::default();
    let (relays, devices): (Vec<_>, Vec<_>) = targets
        .into_iter()
        .partition(|t| matches!(t, SyncTarget::Relay { .. }));
    for target in relays.into_iter().chain(devices) {
        let link = async {
            match &target {
                SyncTarget::Relay { notebook, .. } => {
                    sync_relay_with_retries(home, notebook, attempts)
                        .await
                        .map(Synced::Relay)
                }
                SyncTarget::Device { addr, pins } => {
                    sync_with_retries(home, *addr, pins.clone(), attempts)
                        .await
                        .map(Synced::Device)
                }
            }
        };
        let result = match deadline {
            Some(at) => tokio::time::timeout_at(at, link).await.unwrap_or_else(|_| {
                Err(NetError::Deadline {
                    target: target.label(),
                })
            }),
            None => link.await,
        };
        match result {
            Ok(Synced::Relay(o)) => round.relays.push(o),
            Ok(Synced::Device(o)) => round.devices.push(o),
            Err(NetError::ThisDevice { .. }) => {}
            Err(e) => round.failures.push((target, e)),
        }
    }
    round
}

/// One link's outcome.
enum Synced {
    Relay(RelayOutcome),
    Device(PeerOutcome),
}

/// "Sync everything": every notebook's relay and every remembered device, once each.
pub async fn sync_everything(home: &HomeHandle, attempts: usize) -> Result<SyncRound, NetError> {
    let targets = targets(home, SyncScope::Everything).await?;
    Ok(sync_round(home, targets, attempts).await)
}

/// What the first sync of a space just joined or linked reached.
#[derive(Debug)]
pub enum FirstContact {
    /// Its relay.
    Relay(RelayOutcome),
    /// The inviting device, at this address.
    Device(SocketAddr, PeerOutcome),
    /// Nothing: why the last try failed (`None`: the ticket named no relay and no address).
    Failed(Option<NetError>),
}

/// The first sync of a space (a notebook or a personal space) just joined or linked from a
/// ticket: its relay first when the ticket named one, else the inviting device at each of
/// its addresses, pinned to its fingerprint; the first that works. Each is tried up to
/// `attempts` times. A failure is an outcome, not an error: the space is recorded and
/// arrives with a later sync.
pub async fn first_contact(
    home: &HomeHandle,
    space: &str,
    relay: bool,
    addrs: &[SocketAddr],
    fingerprint: [u8; 32],
    attempts: usize,
) -> FirstContact {
    let mut last_error = None;
    if relay {
        match sync_relay_with_retries(home, space, attempts).await {
            Ok(outcome) => return FirstContact::Relay(outcome),
            Err(e) => last_error = Some(e),
        }
    }
    let pins = BTreeSet::from([fingerprint]);
    for addr in addrs {
        match sync_with_retries(home, *addr, pins.clone(), attempts).await {
            Ok(outcome) => return FirstContact::Device(*addr, outcome),
            Err(e) => last_error = Some(e),
        }
    }
    FirstContact::Failed(last_error)
}
