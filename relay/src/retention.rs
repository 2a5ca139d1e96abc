//! Retention: a mailbox with no push for longer than the configured days is deleted whole,
//! through the store's writer like any write. The relay checks at start and then every
//! [`CHECK_EVERY`]. Devices lose nothing: each holds its whole notebook, and a device
//! whose mailbox is gone finds the relay behind its cursor and pushes everything again.

use crate::store::{RelayStore, Write};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// How often idle mailboxes are looked for.
pub const CHECK_EVERY: Duration = Duration::from_secs(3600);
/// Milliseconds in a day.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Deletes the mailboxes idle for more than `days` days; returns how many went.
pub async fn sweep(
    store: &Arc<RelayStore>,
    days: u64,
) -> Result<usize, crate::store::RelayStoreError> {
    let days = i64::try_from(days).unwrap_or(i64::MAX / DAY_MS);
    let before = jiff::Timestamp::now()
        .as_millisecond()
        .saturating_sub(days.saturating_mul(DAY_MS));
    sweep_before(store, before, days).await
}

/// Deletes the mailboxes with no write since `before` (Unix milliseconds).
async fn sweep_before(
    store: &Arc<RelayStore>,
    before: i64,
    days: i64,
) -> Result<usize, crate::store::RelayStoreError> {
    let idle = store.idle_since(before).await?;
    let mut deleted = 0;
    for mailbox in idle {
        let (reply, done) = oneshot::channel();
        store
            .write(Write::Delete {
                mailbox: mailbox.clone(),
                reply,
            })
            .await?;
        if matches!(done.await, Ok(Ok(true))) {
            deleted += 1;
            tracing::info!(%mailbox, days, "deleted an idle mailbox");
        }
    }
    Ok(deleted)
}

/// Sweeps now and every [`CHECK_EVERY`] until `shutdown`.
pub async fn run(
    store: Arc<RelayStore>,
    days: u64,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        if let Err(e) = sweep(&store, days).await {
            tracing::error!(error = %e, "the retention sweep failed; it runs again later");
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn push(store: &Arc<RelayStore>, mailbox: &str) {
        let (reply, done) = oneshot::channel();
        store
            .write(Write::Push {
                arrived: std::time::Instant::now(),
                mailbox: mailbox.to_owned(),
                verifier: [7; 32],
                create: true,
                envelope: vec![1; 100],
                quota: u64::MAX,
                reply,
            })
            .await
            .expect("queued");
        assert!(matches!(
            done.await,
            Ok(Ok(crate::store::PushOutcome::Stored(1)))
        ));
    }

    #[tokio::test]
    async fn idle_mailboxes_go_and_active_ones_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RelayStore::open(dir.path()).expect("store");
        push(&store, "aa").await;
        let written = store.mailbox_list().await.expect("list");
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].bytes, 100);
        let at = written[0].last_write_ms.expect("last write recorded");
        // Nothing is idle since before its write; everything is idle since after it.
        assert_eq!(sweep_before(&store, at - 1, 1).await.expect("sweep"), 0);
        assert_eq!(sweep(&store, 1).await.expect("sweep"), 0);
        assert_eq!(sweep_before(&store, at + 1, 1).await.expect("sweep"), 1);
        assert!(store.opening("aa").await.expect("read").record.is_none());
        assert_eq!(
            store
                .entries_after("aa", 0, 1 << 20)
                .await
                .expect("log")
                .0
                .len(),
            0
        );
        // The mailbox can be made again: its device's next push starts it over.
        push(&store, "aa").await;
    }

    #[tokio::test]
    async fn a_retired_mailbox_is_never_idle_enough_to_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RelayStore::open(dir.path()).expect("store");
        push(&store, "bb").await;
        let (reply, done) = oneshot::channel();
        store
            .write(Write::Retire {
                mailbox: "bb".into(),
                closing: false,
                reply,
            })
            .await
            .expect("queued");
        assert!(matches!(done.await, Ok(Ok(()))));
        let far = jiff::Timestamp::now().as_millisecond() + 1_000_000;
        assert_eq!(sweep_before(&store, far, 1).await.expect("sweep"), 0);
        assert!(store.opening("bb").await.expect("read").record.is_some());
    }
}
