//! One-time invites on the phone: make one (its welcome goes to the relay with the next
//! sync, so making it never waits on the network), list and revoke them, and join a
//! notebook from a ticket.

use crate::app::DuetApp;
use crate::error::MobileError;
use crate::records::PersonRole;
use duet_core::invite::Invite;
use duet_core::one_time_invite::{parse_lifetime, OneTimeInvite};
use duet_node::net::redeem::redeem_ticket;

/// One invite made on this device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InviteRecord {
    /// Its id.
    pub id: String,
    /// `open`, `used`, `expired` or `revoked`.
    pub state: String,
    /// When it was made (Unix milliseconds).
    pub created_ms: i64,
    /// When it expires (Unix seconds).
    pub expires_s: i64,
}

impl From<duet_core::InviteView> for InviteRecord {
    fn from(v: duet_core::InviteView) -> Self {
        Self {
            id: v.id,
            state: v.state.to_owned(),
            created_ms: v.created,
            expires_s: v.expires,
        }
    }
}

#[uniffi::export]
impl DuetApp {
    /// A one-time invite ticket for the current notebook, valid 7 days. A phone does not
    /// serve, so the ticket is redeemed on the relay (set one first): its welcome goes
    /// there with the next sync.
    pub fn invite(&self) -> Result<String, MobileError> {
        self.invite_for(None)
    }

    /// [`DuetApp::invite`] with a lifetime: a number and s, m, h, d or w (`"2d"`); at most
    /// 90 days.
    pub fn invite_for(&self, lifetime: Option<String>) -> Result<String, MobileError> {
        let lifetime = match lifetime {
            Some(text) => Some(parse_lifetime(&text).ok_or_else(|| MobileError::Invalid {
                message: format!(
                    "\"{text}\" is not a lifetime: write a number and s, m, h, d or w, like 2d."
                ),
            })?),
            None => None,
        };
        self.with(move |d| {
            let id = d.selected_notebook()?;
            let relay = d.relay().ticket_relay(&id)?;
            if relay.is_none() {
                return Err(MobileError::NeedsSetup {
                    message: "Add a relay to this notebook first: the other device picks the invite up there.".into(),
                });
            }
            Ok(d.members().invite_once(Vec::new(), relay, lifetime)?.to_ticket())
        })
    }

    /// The invites made on this device for the current notebook, newest first.
    pub fn invites(&self) -> Result<Vec<InviteRecord>, MobileError> {
        self.with(move |d| Ok(d.members().invites()?.into_iter().map(Into::into).collect()))
    }

    /// Revokes an invite (by id, or a prefix of it): it is refused from now on, and its
    /// welcome leaves the relay with the next sync.
    pub fn revoke_invite(&self, id: String) -> Result<InviteRecord, MobileError> {
        self.with(move |d| Ok(d.members().revoke_invite(&id)?.into()))
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl DuetApp {
    /// Joins a notebook from a ticket as `role` and returns its id; the notes arrive with
    /// the next sync. A one-time ticket is redeemed first, on the relay or at the inviting
    /// device: a used, expired or revoked one is refused, each with its own message.
    pub async fn join(&self, ticket: String, role: PersonRole) -> Result<String, MobileError> {
        let role: duet_core::Role = role.into();
        if OneTimeInvite::is_one_time(&ticket) {
            let invite =
                OneTimeInvite::from_ticket(&ticket).map_err(duet_core::DuetError::Ticket)?;
            {
                let (id, title) = (invite.notebook.clone(), invite.title.clone());
                self.home()
                    .call(move |d| Ok::<_, MobileError>(d.joins().check_can_join(&id, &title)?))
                    .await?;
            }
            let (grant, _) = redeem_ticket(self.home(), &invite).await?;
            return self
                .home()
                .call(move |d| Ok::<_, MobileError>(d.joins().granted(&invite, &grant, role)?))
                .await;
        }
        // A ticket of an older Duet carries the notebook secret itself.
        let invite = Invite::from_ticket(&ticket).map_err(duet_core::DuetError::Ticket)?;
        self.home()
            .call(move |d| Ok::<_, MobileError>(d.joins().by_invite(&invite, role)?))
            .await
    }
}
