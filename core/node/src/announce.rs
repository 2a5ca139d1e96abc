//! The node on the local network: it announces itself with a tag per notebook it holds
//! (tags that change every hour, so a listener learns nothing it could follow), and
//! announces again when the hour's tags or the notebooks held change. Nearby nodes that
//! hold one of the notebooks find it by a tag and sync with it.

use crate::net::nearby::{self, NearbyError};
use crate::HomeHandle;
use duet_core::home::SyncPort;
use std::time::Duration;

/// How often the node checks whether its announcement's tags are due to change.
pub const ANNOUNCE_CHECK_EVERY: Duration = Duration::from_secs(60);

/// Announces the node serving on `port` until the home closes. The first time announcing
/// fails (no multicast here, no permission), `failed` hears why; later failures are
/// retried quietly at the next check.
pub async fn keep_announced(home: HomeHandle, port: u16, failed: impl FnOnce(NearbyError)) {
    let mut announced: Option<(u64, Vec<String>, nearby::Announcement)> = None;
    let mut failed = Some(failed);
    loop {
        let Ok(memberships) = home.memberships().await else {
            return;
        };
        let window = nearby::window_now();
        let ids: Vec<String> = memberships.iter().map(|(id, _)| id.clone()).collect();
        let current = announced
            .as_ref()
            .is_some_and(|(w, held, _)| *w == window && *held == ids);
        if !current {
            // The old announcement is withdrawn before the new one is made.
            announced = None;
            let keys: Vec<_> = memberships.into_iter().map(|(_, k)| k).collect();
            let tags = nearby::announced_tags(&keys, window);
            match nearby::announce(port, &tags) {
                Ok(a) => announced = Some((window, ids, a)),
                Err(e) => {
                    if let Some(tell) = failed.take() {
                        tell(e);
                    }
                }
            }
        }
        tokio::time::sleep(ANNOUNCE_CHECK_EVERY).await;
    }
}
