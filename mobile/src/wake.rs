//! Waking a sleeping phone: the push endpoint the app registers (from UnifiedPush on
//! Android, or its own gateway in front of APNs), what each relay made of it, and the
//! bounded sync an app runs when a wake-up arrives.
//!
//! A wake-up carries nothing: the relay POSTs an empty request to the endpoint when an
//! envelope lands in one of this device's mailboxes. The app answers it with
//! [`DuetApp::sync_for`] inside the few seconds the OS gives it.

use crate::app::DuetApp;
use crate::error::MobileError;
use crate::records::SyncSummary;
use duet_node::net::relay_client;
use duet_node::service;

/// What a bounded sync got by its deadline.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BoundedSync {
    /// What arrived, per notebook synced.
    pub summaries: Vec<SyncSummary>,
    /// Whether every relay and device was synced before the deadline.
    pub finished: bool,
    /// Links not synced (out of time, or failed), in words.
    pub not_synced: Vec<String>,
}

/// What one notebook's relay holds of this device's push endpoint.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PushRegistration {
    /// The notebook (or the private notes' space).
    pub notebook: String,
    /// Whether the relay holds the endpoint set now for the notebook's current mailbox.
    pub registered: bool,
    /// Why the relay refused it (wake-ups off, a host it does not allow, an old relay).
    pub refused: Option<String>,
}

/// The push endpoint and what the relays made of it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PushStatus {
    /// The endpoint set, if any.
    pub endpoint: Option<String>,
    /// Per notebook with a relay, what its relay was last told.
    pub relays: Vec<PushRegistration>,
}

#[uniffi::export(async_runtime = "tokio")]
impl DuetApp {
    /// Registers the push endpoint the relays wake this phone at, and tells every
    /// notebook's relay now; the number of relays that could not be reached (they are told
    /// on their next sync). A malformed URL is refused before anything is sent.
    pub async fn register_push(&self, endpoint: String) -> Result<u32, MobileError> {
        self.home()
            .call(move |d| d.relay().set_push_endpoint(Some(&endpoint)))
            .await?;
        self.tell_relays().await
    }

    /// Stops wake-ups: clears the endpoint and tells every notebook's relay now; the
    /// number of relays that could not be reached (told on their next sync).
    pub async fn unregister_push(&self) -> Result<u32, MobileError> {
        self.home()
            .call(|d| d.relay().set_push_endpoint(None))
            .await?;
        self.tell_relays().await
    }

    /// Syncs everything, as [`DuetApp::sync_now`] does, but returns by `deadline_ms`
    /// (milliseconds from now) with what it got: relays first, then devices; the link in
    /// progress at the deadline is abandoned with nothing half-kept. For a push wake-up or
    /// an OS background task with a few seconds to spend.
    pub async fn sync_for(&self, deadline_ms: u64) -> Result<BoundedSync, MobileError> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(deadline_ms);
        let targets = service::targets(self.home(), service::SyncScope::Everything).await?;
        let round = service::sync_round_until(self.home(), targets, 1, Some(deadline)).await;
        let summaries = self.reported(round.reports());
        Ok(BoundedSync {
            summaries,
            finished: round.failures.is_empty(),
            not_synced: round
                .failures
                .iter()
                .map(|(target, e)| format!("{}: {e}", target.label()))
                .collect(),
        })
    }
}

#[uniffi::export]
impl DuetApp {
    /// The push endpoint set, and per notebook what its relay was last told.
    pub fn push_status(&self) -> Result<PushStatus, MobileError> {
        self.with(|d| {
            let endpoint = d.relay().push_endpoint()?;
            let relayed = d.relay().notebooks()?;
            let told = d.relay().push_registrations()?;
            let mut relays = Vec::new();
            for (notebook, _) in relayed {
                let mailbox = d.relay().current_mailbox(&notebook)?;
                let record = told.iter().find(|(n, _)| *n == notebook).map(|(_, r)| r);
                relays.push(PushRegistration {
                    registered: endpoint.is_some()
                        && record.is_some_and(|r| {
                            r.mailbox == mailbox && r.endpoint == endpoint && r.refused.is_none()
                        }),
                    refused: record.and_then(|r| r.refused.clone()),
                    notebook,
                });
            }
            Ok(PushStatus { endpoint, relays })
        })
    }
}

impl DuetApp {
    async fn tell_relays(&self) -> Result<u32, MobileError> {
        let failed = relay_client::tend_wakes(self.home()).await?;
        Ok(u32::try_from(failed.len()).unwrap_or(u32::MAX))
    }
}
