//! LAN discovery with mDNS (mdns-sd): `duet serve` announces itself, `duet sync --nearby`
//! looks for devices that serve on the local network.
//!
//! An announcement carries only the port and a handful of tags, never a fingerprint, a
//! notebook id or a name. Each tag is keyed by one notebook's membership key and the hour
//! ([`MembershipKey::nearby_tag`]): a device sharing the notebook recognises it, everyone
//! else sees random bytes that change every hour, so a device cannot be followed from one
//! network to the next. The list is padded with random tags to [`ANNOUNCED_TAGS`], so it
//! does not tell how many notebooks a device holds. Whether a device found this way shares
//! a notebook is still settled by the membership handshake, which an announcement alone
//! cannot pass.

use duet_core::crypto::MembershipKey;
use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};
use rand::RngCore;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The DNS-SD service type of Duet's P2P sync.
pub const SERVICE_TYPE: &str = "_duet-sync._udp.local.";
/// How long one set of tags is announced before they change.
pub const TAG_PERIOD: Duration = Duration::from_secs(3600);
/// Tags in every announcement: a device's notebooks' tags, padded with random ones (a
/// device with more notebooks announces its first ones only; the others still sync by
/// address or relay).
pub const ANNOUNCED_TAGS: usize = 8;

/// Errors of discovery.
#[derive(Debug, thiserror::Error)]
#[error("local network discovery failed: {0}")]
pub struct NearbyError(String);

impl From<mdns_sd::Error> for NearbyError {
    fn from(e: mdns_sd::Error) -> Self {
        NearbyError(e.to_string())
    }
}

/// The tag window now.
pub fn window_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / TAG_PERIOD.as_secs())
        .unwrap_or_default()
}

/// What to announce for these notebooks in `window`: their tags and random padding, in
/// random order, as hex.
pub fn announced_tags(keys: &[MembershipKey], window: u64) -> Vec<String> {
    let mut tags: Vec<[u8; 8]> = keys
        .iter()
        .take(ANNOUNCED_TAGS)
        .map(|k| k.nearby_tag(window))
        .collect();
    let mut rng = rand::rng();
    while tags.len() < ANNOUNCED_TAGS {
        let mut pad = [0u8; 8];
        rng.fill_bytes(&mut pad);
        tags.push(pad);
    }
    tags.sort_unstable();
    tags.iter()
        .map(|t| data_encoding::HEXLOWER.encode(t))
        .collect()
}

/// The tags a device holding these notebooks recognises now (this window and the ones
/// either side, so clocks a little apart still meet).
pub fn recognised_tags(keys: &[MembershipKey]) -> Vec<String> {
    let now = window_now();
    keys.iter()
        .flat_map(|k| [now.saturating_sub(1), now, now + 1].map(|w| k.nearby_tag(w)))
        .map(|t| data_encoding::HEXLOWER.encode(&t))
        .collect()
}

/// A running announcement; dropped, it withdraws itself.
pub struct Announcement {
    daemon: ServiceDaemon,
    fullname: String,
}

impl Drop for Announcement {
    fn drop(&mut self) {
        let _ = self.daemon.unregister(&self.fullname);
        let _ = self.daemon.shutdown();
    }
}

/// Announces a device serving on `port` with these tags ([`announced_tags`]).
pub fn announce(port: u16, tags: &[String]) -> Result<Announcement, NearbyError> {
    let daemon = ServiceDaemon::new()?;
    // A fresh random instance name each time: nothing stable to follow.
    let mut id = [0u8; 6];
    rand::rng().fill_bytes(&mut id);
    let instance = format!("duet-{}", data_encoding::HEXLOWER.encode(&id));
    let host = format!("{instance}.local.");
    let joined = tags.join(",");
    let info = ServiceInfo::new(
        SERVICE_TYPE,
        &instance,
        &host,
        "",
        port,
        &[("t", joined.as_str())][..],
    )?
    .enable_addr_auto();
    let fullname = info.get_fullname().to_owned();
    daemon.register(info)?;
    Ok(Announcement { daemon, fullname })
}

/// A device found on the local network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The tags it announced.
    pub tags: Vec<String>,
    /// Its addresses.
    pub addrs: Vec<SocketAddr>,
}

/// Looks for serving devices for `wait`.
pub fn browse(wait: Duration) -> Result<Vec<Found>, NearbyError> {
    let daemon = ServiceDaemon::new()?;
    let events = daemon.browse(SERVICE_TYPE)?;
    let deadline = Instant::now() + wait;
    let mut found: BTreeMap<String, Found> = BTreeMap::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(event) = events.recv_timeout(left) else {
            break;
        };
        if let ServiceEvent::ServiceResolved(service) = event {
            let Some(tags) = service.get_property_val_str("t") else {
                continue;
            };
            let entry = found
                .entry(service.get_fullname().to_owned())
                .or_insert_with(|| Found {
                    tags: tags
                        .split(',')
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    addrs: Vec::new(),
                });
            for ip in service.get_addresses() {
                let addr = SocketAddr::new(ip.to_ip_addr(), service.get_port());
                if !entry.addrs.contains(&addr) {
                    entry.addrs.push(addr);
                }
            }
        }
    }
    let _ = daemon.shutdown();
    Ok(found.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use duet_core::crypto::NotebookSecret;

    #[test]
    fn a_notebooks_tag_is_recognised_by_its_members_only_and_changes_every_window() {
        let ours = NotebookSecret::generate().membership_key();
        let theirs = NotebookSecret::generate().membership_key();
        let now = window_now();
        let announced = announced_tags(std::slice::from_ref(&ours), now);
        assert_eq!(announced.len(), ANNOUNCED_TAGS);
        let mine = recognised_tags(std::slice::from_ref(&ours));
        assert!(announced.iter().any(|t| mine.contains(t)));
        let others = recognised_tags(std::slice::from_ref(&theirs));
        assert!(!announced.iter().any(|t| others.contains(t)));
        assert_ne!(ours.nearby_tag(now), ours.nearby_tag(now + 2));
    }
}
