//! LAN discovery with mDNS (mdns-sd): `duet serve` announces itself, `duet sync --nearby`
//! looks for devices that serve on the local network.
//!
//! An announcement carries only the port and the certificate fingerprint, never a
//! notebook id or a name: anyone on the network sees that a Duet device is there, nothing
//! more. Whether it shares a notebook is settled by the membership handshake, which a
//! device that merely announces itself cannot pass.

use crate::crypto::{fingerprint_text, parse_fingerprint};
use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The DNS-SD service type of Duet's P2P sync.
pub const SERVICE_TYPE: &str = "_duet-sync._udp.local.";

/// Errors of discovery.
#[derive(Debug, thiserror::Error)]
#[error("local network discovery failed: {0}")]
pub struct NearbyError(String);

impl From<mdns_sd::Error> for NearbyError {
    fn from(e: mdns_sd::Error) -> Self {
        NearbyError(e.to_string())
    }
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

/// Announces a device serving on `port` with certificate `fingerprint`.
pub fn announce(port: u16, fingerprint: &[u8; 32]) -> Result<Announcement, NearbyError> {
    let daemon = ServiceDaemon::new()?;
    let fp = fingerprint_text(fingerprint);
    let instance = format!("duet-{}", &fp[..16]);
    let host = format!("{instance}.local.");
    let info = ServiceInfo::new(
        SERVICE_TYPE,
        &instance,
        &host,
        "",
        port,
        &[("fp", fp.as_str())][..],
    )?
    .enable_addr_auto();
    let fullname = info.get_fullname().to_owned();
    daemon.register(info)?;
    Ok(Announcement { daemon, fullname })
}

/// A device found on the local network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its certificate fingerprint, as announced.
    pub fingerprint: [u8; 32],
    /// Its addresses.
    pub addrs: Vec<SocketAddr>,
}

/// Looks for serving devices for `wait`.
pub fn browse(wait: Duration) -> Result<Vec<Found>, NearbyError> {
    let daemon = ServiceDaemon::new()?;
    let events = daemon.browse(SERVICE_TYPE)?;
    let deadline = Instant::now() + wait;
    let mut found: BTreeMap<[u8; 32], Vec<SocketAddr>> = BTreeMap::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(event) = events.recv_timeout(left) else {
            break;
        };
        if let ServiceEvent::ServiceResolved(service) = event {
            let Some(fp) = service
                .get_property_val_str("fp")
                .and_then(parse_fingerprint)
            else {
                continue;
            };
            let addrs = found.entry(fp).or_default();
            for ip in service.get_addresses() {
                let addr = SocketAddr::new(ip.to_ip_addr(), service.get_port());
                if !addrs.contains(&addr) {
                    addrs.push(addr);
                }
            }
        }
    }
    let _ = daemon.shutdown();
    Ok(found
        .into_iter()
        .map(|(fingerprint, addrs)| Found { fingerprint, addrs })
        .collect())
}
