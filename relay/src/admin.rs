//! The relay's admin socket: `DATA/relay.sock`, a Unix socket only the relay's own user can
//! use (mode 0600, and a peer of another user is refused by its credentials), through which
//! `duet-relay backup`, `status`, `token new|list|revoke` and `mailbox list|delete --data
//! DIR` reach a running relay. Unlike the metrics listener it changes things, so it is
//! never on the network.

use crate::store::{BackupReport, RelayStore, Write};
use duet_protocol::control::{self, ControlSocket, Handler};
use duet_protocol::mailbox::Standing;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::oneshot;

/// The socket's file name in the data directory.
pub const ADMIN_SOCKET: &str = "relay.sock";

/// What an operator asks the running relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AdminRequest {
    /// A consistent copy of the store into a new data directory.
    Backup {
        /// The new directory.
        to: PathBuf,
    },
    /// Delete a mailbox whole.
    DeleteMailbox {
        /// Its id.
        id: String,
        /// Delete a retired mailbox's content too (its id stays a tombstone).
        #[serde(default)]
        force: bool,
    },
    /// List the mailboxes.
    ListMailboxes,
    /// How the relay is.
    Status,
    /// Issue a team token.
    NewToken {
        /// A label for the team.
        label: String,
    },
    /// Revoke a team token, or every one with a label.
    RevokeToken {
        /// The token (`dt_…`) or a label.
        token_or_label: String,
    },
    /// The labels of the team tokens issued.
    ListTokens,
}

/// The relay's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum AdminReply {
    /// The backup was taken.
    BackedUp {
        /// What it copied.
        report: BackupReport,
    },
    /// The mailbox is gone (or never was).
    Deleted {
        /// Whether it existed.
        existed: bool,
    },
    /// The mailboxes.
    Mailboxes {
        /// Each, as operators see it.
        list: Vec<crate::store::MailboxInfo>,
    },
    /// How the relay is.
    Status {
        /// Its figures.
        status: crate::ops::Status,
    },
    /// A new team token (shown once).
    Token {
        /// The token.
        token: String,
    },
    /// How many team tokens were revoked.
    Revoked {
        /// How many.
        count: usize,
    },
    /// The labels of the team tokens issued.
    Tokens {
        /// One per token.
        labels: Vec<String>,
    },
    /// It could not be done.
    Failed {
        /// Why.
        error: String,
    },
}

/// The admin socket's path in a data directory.
pub fn socket_path(data: &Path) -> PathBuf {
    data.join(ADMIN_SOCKET)
}

/// Binds the admin socket (the caller holds the store's lock, so no other relay listens).
pub fn bind(data: &Path) -> Result<ControlSocket, control::ControlError> {
    ControlSocket::bind_path(socket_path(data))
}

/// Answers admin requests on `store`; `relay` tells its status.
pub fn handler(store: Arc<RelayStore>, relay: crate::ops::OpsState) -> Handler {
    Arc::new(move |body: Vec<u8>| {
        let (store, relay) = (store.clone(), relay.clone());
        Box::pin(async move {
            let reply = match serde_json::from_slice::<AdminRequest>(&body) {
                Ok(AdminRequest::Status) => AdminReply::Status {
                    status: relay.status().await,
                },
                Ok(request) => answer(&store, request).await,
                Err(e) => AdminReply::Failed {
                    error: format!("not an admin request: {e}"),
                },
            };
            serde_json::to_vec(&reply).unwrap_or_default()
        })
    })
}

async fn answer(store: &RelayStore, request: AdminRequest) -> AdminReply {
    let failed = |e: &dyn std::fmt::Display| AdminReply::Failed {
        error: e.to_string(),
    };
    match request {
        // Answered by the handler, which knows the relay beyond its store.
        AdminRequest::Status => failed(&"no status here"),
        AdminRequest::NewToken { label } => match store.new_team_token(&label).await {
            Ok(token) => {
                tracing::info!(%label, "team token issued by the operator");
                AdminReply::Token { token }
            }
            Err(e) => failed(&e),
        },
        AdminRequest::RevokeToken { token_or_label } => {
            match store.revoke_team_tokens(&token_or_label).await {
                Ok(count) => AdminReply::Revoked { count },
                Err(e) => failed(&e),
            }
        }
        AdminRequest::ListTokens => match store.team_token_labels().await {
            Ok(labels) => AdminReply::Tokens { labels },
            Err(e) => failed(&e),
        },
        AdminRequest::ListMailboxes => match store.mailbox_list().await {
            Ok(list) => AdminReply::Mailboxes { list },
            Err(e) => failed(&e),
        },
        AdminRequest::Backup { to } => {
            let (reply, done) = oneshot::channel();
            if let Err(e) = store.write(Write::Backup { to, reply }).await {
                return failed(&e);
            }
            match done.await {
                Ok(Ok(report)) => {
                    tracing::info!(to = %report.to.display(), mailboxes = report.mailboxes, bytes = report.bytes, millis = report.millis, "backup taken");
                    AdminReply::BackedUp { report }
                }
                Ok(Err(e)) => failed(&e),
                Err(_) => failed(&"the relay is shutting down"),
            }
        }
        AdminRequest::DeleteMailbox { id, force } => {
            match store.opening(&id).await {
                Ok(opening) if opening.standing == Standing::Retired && !force => {
                    return failed(&TOMBSTONE_KEPT);
                }
                Ok(_) => {}
                Err(e) => return failed(&e),
            }
            let (reply, done) = oneshot::channel();
            if let Err(e) = store
                .write(Write::Delete {
                    mailbox: id.clone(),
                    reply,
                })
                .await
            {
                return failed(&e);
            }
            match done.await {
                Ok(Ok(existed)) => {
                    if existed {
                        tracing::info!(mailbox = %id, "mailbox deleted by the operator");
                    }
                    AdminReply::Deleted { existed }
                }
                Ok(Err(e)) => failed(&e),
                Err(_) => failed(&"the relay is shutting down"),
            }
        }
    }
}

/// Why an operator's delete of a retired mailbox needs `--force`.
pub const TOMBSTONE_KEPT: &str = "this mailbox was retired when its notebook moved to new keys: it keeps the notice that tells devices offline since where the notebook went. Deleting it (--force) leaves those devices unable to learn of the move through this relay; its id stays refused, so nothing is ever pushed there again with the old key";

/// Sends a request to the relay running on `data`; `None` when none runs there.
pub fn request(data: &Path, request: &AdminRequest) -> anyhow::Result<Option<AdminReply>> {
    let body = serde_json::to_vec(request)?;
    let Some(reply) = control::request_path(&socket_path(data), &body)? else {
        return Ok(None);
    };
    Ok(Some(serde_json::from_slice(&reply).map_err(|e| {
        anyhow::anyhow!("the relay answered in a form this duet-relay cannot read: {e}")
    })?))
}
