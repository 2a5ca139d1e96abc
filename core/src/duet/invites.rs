//! The inviting device's side of one-time invites: each invite is a record kept in this
//! home (its key sealed by the home key), open until it is used once, expires or is
//! revoked; redeeming one checks the joiner's proof and hands over the notebook's
//! [`Grant`].
use super::*;
use crate::duet::settings::Invitation;
use crate::one_time_invite::{
    Grant, InviteKey, OneTimeInvite, Refusal, DEFAULT_LIFETIME_SECS, MAX_LIFETIME_SECS,
};
use duet_protocol::net::relay_client::MailboxKey;
use std::ops::{Deref, DerefMut};

/// Where an invite stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteState {
    /// Waiting for its device.
    Open,
    /// Used by a device (its TLS fingerprint, or "the relay" for a welcome taken there).
    Used {
        /// When (Unix milliseconds).
        at: i64,
        /// By which device.
        by: String,
    },
    /// Revoked here.
    Revoked {
        /// When (Unix milliseconds).
        at: i64,
    },
}

/// One invite, as this device keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRecord {
    /// Its id.
    pub id: String,
    /// The notebook.
    pub notebook: String,
    /// When it was made (Unix milliseconds).
    pub created: i64,
    /// When it expires (Unix seconds).
    pub expires: i64,
    /// Its key, sealed by the home key.
    pub key: Vec<u8>,
    /// Where it stands.
    pub state: InviteState,
    /// Its welcome on the relay.
    pub welcome: Welcome,
}

/// The welcome an invite leaves on the notebook's relay, for a joiner whose inviting device
/// is offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Welcome {
    /// The notebook has no relay.
    None,
    /// Sealed, waiting for the next relay sync to push it.
    Pending(Vec<u8>),
    /// On the relay.
    Pushed,
    /// On the relay, and being taken down by this device itself, which was asked for the
    /// invite directly: relay syncs leave it alone meanwhile (their check would take its
    /// going for a joiner's take).
    Taking,
    /// Taken, or removed because the invite was revoked or expired.
    Gone,
}

/// What became of a welcome this device took down itself before granting its invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnTake {
    /// This device took it: nobody else can.
    Taken,
    /// It was gone: a joiner took it first, so the invite is used.
    AlreadyTaken,
    /// The relay could not be reached: it stays up, to be taken down once the invite is
    /// used (at the next relay sync).
    Unreachable,
}

/// An invite as `duet invite --list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InviteView {
    /// Its id.
    pub id: String,
    /// When it was made (Unix milliseconds).
    pub created: i64,
    /// When it expires (Unix seconds).
    pub expires: i64,
    /// `open`, `used`, `expired` or `revoked`.
    pub state: &'static str,
}

/// What an invite's key is, as sealed-value context.
fn key_context(notebook: &str, id: &str) -> String {
    format!("invite-key/{notebook}/{id}")
}

fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl InviteRecord {
    /// Its state at `now` (Unix seconds), expiry included.
    fn state_at(&self, now: i64) -> Result<(), Refusal> {
        match self.state {
            InviteState::Used { .. } => Err(Refusal::Used),
            InviteState::Revoked { .. } => Err(Refusal::Revoked),
            InviteState::Open if now >= self.expires => Err(Refusal::Expired),
            InviteState::Open => Ok(()),
        }
    }

    fn view(&self, now: i64) -> InviteView {
        InviteView {
            id: self.id.clone(),
            created: self.created,
            expires: self.expires,
            state: match self.state_at(now) {
                Ok(()) => "open",
                Err(Refusal::Used) => "used",
                Err(Refusal::Revoked) => "revoked",
                Err(_) => "expired",
            },
        }
    }
}

impl Duet {
    fn invite_once_to(
        &self,
        notebook: &str,
        addrs: Vec<std::net::SocketAddr>,
        relay: Option<crate::invite::RelayInfo>,
        lifetime_secs: Option<i64>,
    ) -> Result<OneTimeInvite, DuetError> {
        let notebook = notebook.to_owned();
        let lifetime = lifetime_secs.unwrap_or(DEFAULT_LIFETIME_SECS);
        if !(1..=MAX_LIFETIME_SECS).contains(&lifetime) {
            return Err(DuetError::Invalid(format!(
                "an invite lasts between a second and {} days",
                MAX_LIFETIME_SECS / 86_400
            )));
        }
        let record = self.record(&notebook)?;
        // Nobody new joins a 1-1 that ended.
        if let Some(on) = self.ended_on(&notebook)? {
            return Err(DuetError::Ended {
                title: record.title,
                on,
            });
        }
        let id = ids::new_id();
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
        let expires = now_secs() + lifetime;
        let welcome = match &relay {
            Some(_) => Welcome::Pending(crate::one_time_invite::seal_welcome(
                &InviteKey::new(key),
                &notebook,
                &self.grant_of(&notebook)?,
                &self.device,
            )),
            None => Welcome::None,
        };
        self.store.put(
            &Invitation(notebook.clone(), id.clone()),
            &InviteRecord {
                id: id.clone(),
                notebook: notebook.clone(),
                created: now_millis(),
                expires,
                key: self.home_key.seal(&key_context(&notebook, &id), &key),
                state: InviteState::Open,
                welcome,
            },
        )?;
        self.store.flush()?;
        Ok(OneTimeInvite {
            notebook,
            title: record.title,
            addrs,
            fingerprint: self.peers().tls_identity()?.fingerprint(),
            relay,
            id,
            key,
            expires,
            owner: None,
        })
    }

    /// The invite `id` of `notebook`, opened with the home key, if `proves` accepts its
    /// key and it is still open; a stranger or a wrong proof gets `Unknown` whatever the
    /// invite's state.
    fn proven_invite(
        &self,
        notebook: &str,
        id: &str,
        proves: impl FnOnce(&InviteKey) -> bool,
    ) -> Result<Result<InviteRecord, Refusal>, DuetError> {
        let key = Invitation(notebook.to_owned(), id.to_owned());
        let Some(record) = self.store.get(&key)? else {
            return Ok(Err(Refusal::Unknown));
        };
        let Some(invite_key) = self.invite_key(&record)? else {
            return Ok(Err(Refusal::Unknown));
        };
        // A wrong proof learns nothing of the invite's state.
        if !proves(&invite_key) {
            return Ok(Err(Refusal::Unknown));
        }
        if let Err(refusal) = record.state_at(now_secs()) {
            return Ok(Err(refusal));
        }
        Ok(Ok(record))
    }

    /// Before a redemption asked of this device directly: checks the invite and its proof
    /// as [`Duet::redeem_invite`] does, without using it, and names its welcome when it is
    /// on the relay: the welcome is taken down first, so that the ticket joins one device.
    pub(crate) fn redeem_welcome(
        &self,
        notebook: &str,
        id: &str,
        proves: impl FnOnce(&InviteKey) -> bool,
    ) -> Result<Result<Option<MailboxKey>, Refusal>, DuetError> {
        let mut record = match self.proven_invite(notebook, id, proves)? {
            Ok(record) => record,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if record.welcome != Welcome::Pushed {
            return Ok(Ok(None));
        }
        let Some(mailbox) = self.welcome_mailbox(&record)? else {
            return Ok(Ok(None));
        };
        record.welcome = Welcome::Taking;
        self.store
            .put(&Invitation(notebook.to_owned(), id.to_owned()), &record)?;
        self.store.flush()?;
        Ok(Ok(Some(mailbox)))
    }

    /// Records what became of a welcome this device took down itself
    /// ([`Duet::redeem_welcome`]).
    pub(crate) fn own_welcome_taken(
        &self,
        notebook: &str,
        id: &str,
        outcome: OwnTake,
    ) -> Result<(), DuetError> {
        let key = Invitation(notebook.to_owned(), id.to_owned());
        let Some(mut record) = self.store.get(&key)? else {
            return Ok(());
        };
        if record.welcome != Welcome::Taking {
            return Ok(());
        }
        match outcome {
            OwnTake::Taken => record.welcome = Welcome::Gone,
            OwnTake::AlreadyTaken => {
                record.welcome = Welcome::Gone;
                if record.state == InviteState::Open {
                    record.state = InviteState::Used {
                        at: now_millis(),
                        by: "a device, through the relay".into(),
                    };
                }
            }
            OwnTake::Unreachable => record.welcome = Welcome::Pushed,
        }
        self.store.put(&key, &record)?;
        self.store.flush()?;
        Ok(())
    }

    /// Redeems an invite for the device with TLS fingerprint `by`, whose proof `proves`
    /// checks against the invite's key: marks it used (durably, before answering) and
    /// returns the grant, or why it was refused.
    pub(crate) fn redeem_invite(
        &self,
        notebook: &str,
        id: &str,
        by: &str,
        proves: impl FnOnce(&InviteKey) -> bool,
    ) -> Result<Result<Grant, Refusal>, DuetError> {
        let mut record = match self.proven_invite(notebook, id, proves)? {
            Ok(record) => record,
            Err(refusal) => return Ok(Err(refusal)),
        };
        record.state = InviteState::Used {
            at: now_millis(),
            by: by.to_owned(),
        };
        self.store
            .put(&Invitation(notebook.to_owned(), id.to_owned()), &record)?;
        self.store.flush()?;
        Ok(Ok(self.grant_of(notebook)?))
    }

    /// What redeeming an invite to `notebook` hands over.
    fn grant_of(&self, notebook: &str) -> Result<Grant, DuetError> {
        let record = self.record(notebook)?;
        let secret = self.secret_of(&record)?;
        Ok(Grant {
            secret: *secret.as_bytes(),
            epoch: self.ticket_epoch(notebook)?,
            title: record.title,
            relay_bound: self.relay_bound(notebook)?,
        })
    }

    /// An invite's key, opened.
    fn invite_key(&self, record: &InviteRecord) -> Result<Option<InviteKey>, DuetError> {
        let raw = self
            .home_key
            .open(&key_context(&record.notebook, &record.id), &record.key)?;
        Ok(raw
            .and_then(|r| <[u8; 32]>::try_from(r.as_slice()).ok())
            .map(InviteKey::new))
    }

    /// The welcome mailbox of an invite at the notebook's relay.
    fn welcome_mailbox(&self, record: &InviteRecord) -> Result<Option<MailboxKey>, DuetError> {
        let Some(setting) = self.read_relay().setting(&record.notebook)? else {
            return Ok(None);
        };
        let Some(fp) = crate::crypto::parse_fingerprint(&setting.fingerprint) else {
            return Ok(None);
        };
        let Some(key) = self.invite_key(record)? else {
            return Ok(None);
        };
        let (mailbox, token) = key.welcome_mailbox(&fp);
        Ok(Some(MailboxKey {
            mailbox,
            token,
            team_token: setting.team_token,
        }))
    }

    /// What the next relay sync does with the notebook's invites' welcomes: push those
    /// waiting (of open invites), and take down those of invites no longer open.
    pub(crate) fn welcome_work(&self, notebook: &str) -> Result<Vec<WelcomeWork>, DuetError> {
        let now = now_secs();
        let mut out = Vec::new();
        for (_, record) in self
            .store
            .scan(&Invitation(notebook.to_owned(), String::new()))?
        {
            let open = record.state_at(now).is_ok();
            // Most records (used, revoked, taken) need nothing: no key opened for them.
            let pending = matches!(record.welcome, Welcome::Pending(_));
            let up = matches!(record.welcome, Welcome::Pushed | Welcome::Taking);
            if !(up || pending && open) {
                continue;
            }
            let Some(mailbox) = self.welcome_mailbox(&record)? else {
                continue;
            };
            match (&record.welcome, open) {
                (Welcome::Pending(envelope), true) => out.push(WelcomeWork::Push {
                    id: record.id.clone(),
                    mailbox,
                    envelope: envelope.clone(),
                }),
                (Welcome::Pushed, true) => out.push(WelcomeWork::Check {
                    id: record.id.clone(),
                    mailbox,
                }),
                // Taking: this device is taking it down itself (a crash meanwhile leaves
                // it to come down once the invite is no longer open).
                (Welcome::Pushed | Welcome::Taking, false) => out.push(WelcomeWork::Remove {
                    id: record.id.clone(),
                    mailbox,
                }),
                _ => {}
            }
        }
        Ok(out)
    }

    /// When the first welcome on the relay of `notebook`'s invites expires (Unix seconds),
    /// if one is up: a running node takes it down then, rather than at its next sync.
    pub(crate) fn next_welcome_expiry(&self, notebook: &str) -> Result<Option<i64>, DuetError> {
        Ok(self
            .store
            .scan(&Invitation(notebook.to_owned(), String::new()))?
            .into_iter()
            .filter(|(_, r)| r.welcome == Welcome::Pushed)
            .map(|(_, r)| r.expires)
            .min())
    }

    /// Records what became of an invite's welcome: pushed, or gone (taken by a joiner when
    /// `taken`, which uses the invite).
    pub(crate) fn welcome_done(
        &self,
        notebook: &str,
        id: &str,
        pushed: bool,
        taken: bool,
    ) -> Result<(), DuetError> {
        let key = Invitation(notebook.to_owned(), id.to_owned());
        let Some(mut record) = self.store.get(&key)? else {
            return Ok(());
        };
        // This device is taking it down itself: a check that found it gone saw that.
        if record.welcome == Welcome::Taking && record.state_at(now_secs()).is_ok() {
            return Ok(());
        }
        record.welcome = if pushed {
            Welcome::Pushed
        } else {
            Welcome::Gone
        };
        if taken && record.state == InviteState::Open {
            record.state = InviteState::Used {
                at: now_millis(),
                by: "a device, through the relay".into(),
            };
        }
        self.store.put(&key, &record)?;
        self.store.flush()?;
        Ok(())
    }
}

impl<D: Deref<Target = Duet>> Members<D> {
    /// Makes a one-time invite to the selected notebook, reachable at `addrs` (and through
    /// `relay`), lasting `lifetime_secs` (default 7 days, at most 90).
    pub fn invite_once(
        &self,
        addrs: Vec<std::net::SocketAddr>,
        relay: Option<crate::invite::RelayInfo>,
        lifetime_secs: Option<i64>,
    ) -> Result<OneTimeInvite, DuetError> {
        self.duet
            .invite_once_to(&self.duet.current_id()?, addrs, relay, lifetime_secs)
    }

    /// The selected notebook's invites made on this device, newest first.
    pub fn invites(&self) -> Result<Vec<InviteView>, DuetError> {
        let notebook = self.duet.current_id()?;
        let now = now_secs();
        let mut out: Vec<InviteRecord> = self
            .duet
            .store
            .scan(&Invitation(notebook, String::new()))?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.created));
        Ok(out.iter().map(|r| r.view(now)).collect())
    }

    /// Revokes an open invite of the selected notebook (by id prefix).
    pub fn revoke_invite(&self, id: &str) -> Result<InviteView, DuetError> {
        let notebook = self.duet.current_id()?;
        let all = self
            .duet
            .store
            .scan(&Invitation(notebook.clone(), String::new()))?;
        let matches: Vec<&InviteRecord> = all
            .iter()
            .map(|(_, r)| r)
            .filter(|r| !id.is_empty() && r.id.starts_with(id))
            .collect();
        let mut record = match matches.as_slice() {
            [one] => (*one).clone(),
            [] => {
                return Err(DuetError::NotFound {
                    kind: "invite",
                    query: id.to_owned(),
                })
            }
            many => {
                return Err(DuetError::Ambiguous {
                    kind: "invite",
                    query: id.to_owned(),
                    candidates: many.iter().map(|r| r.id.clone()).collect(),
                })
            }
        };
        if record.state == InviteState::Open {
            record.state = InviteState::Revoked { at: now_millis() };
            self.duet
                .store
                .put(&Invitation(notebook, record.id.clone()), &record)?;
            self.duet.store.flush()?;
        }
        Ok(record.view(now_secs()))
    }
}

impl<D: DerefMut<Target = Duet>> Members<D> {
    /// A one-time personal link for this person's other devices: the personal space's keys reach the other device only when
    /// it redeems the ticket, here or from the relay's welcome.
    pub fn link_once(
        &mut self,
        addrs: Vec<std::net::SocketAddr>,
        lifetime_secs: Option<i64>,
    ) -> Result<OneTimeInvite, DuetError> {
        let full = self.duet.link_ticket(addrs)?;
        let space = full.notebook_secret().notebook_id();
        let mut ticket = self
            .duet
            .invite_once_to(&space, full.addrs, full.relay, lifetime_secs)?;
        ticket.owner = full.owner;
        Ok(ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ana() -> (tempfile::TempDir, Duet) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ana = Duet::init(&dir.path().join("ana"), "Ana").expect("ana");
        ana.notebook_new(
            "Ana / Bo",
            Role::Manager,
            "Bo",
            Default::default(),
            crate::dates::today(),
        )
        .expect("notebook");
        (dir, ana)
    }

    /// The notebook a grant's secret opens.
    fn granted_notebook(grant: &Grant) -> String {
        crate::crypto::NotebookSecret::from_bytes(&grant.secret)
            .expect("the grant holds a notebook secret")
            .notebook_id()
    }

    #[test]
    fn an_invite_is_used_once_and_a_revoked_or_expired_one_is_refused() {
        let (_dir, mut ana) = ana();
        let ticket = ana
            .members()
            .invite_once(Vec::new(), None, None)
            .expect("invite");
        let parsed =
            OneTimeInvite::from_ticket(&ticket.to_ticket()).expect("the ticket reads back");
        let session = [9u8; 32];
        let proof = InviteKey::new(parsed.key).proof(&session);
        let redeem = |by: &str, proof: [u8; 32]| {
            ana.redeem_invite(&parsed.notebook, &parsed.id, by, |k| {
                k.verifies(&session, &proof)
            })
            .expect("redeem")
        };
        // A wrong key is told nothing.
        assert_eq!(redeem("x", [0u8; 32]), Err(Refusal::Unknown));
        let grant = redeem("bo-laptop", proof).expect("the first use is granted");
        assert_eq!(grant.title, "Ana / Bo");
        // A notebook made now has its relay mailbox bound to the relay, and says so.
        assert!(grant.relay_bound);
        assert_eq!(granted_notebook(&grant), parsed.notebook);
        assert_eq!(redeem("stranger", proof), Err(Refusal::Used));

        let second = ana
            .members()
            .invite_once(Vec::new(), None, Some(3600))
            .expect("invite");
        let revoked = ana
            .members()
            .revoke_invite(&second.id[..4])
            .expect("revoke");
        assert_eq!(revoked.state, "revoked");
        let proof = InviteKey::new(second.key).proof(&session);
        assert_eq!(
            ana.redeem_invite(&second.notebook, &second.id, "bo", |k| k
                .verifies(&session, &proof))
                .expect("redeem"),
            Err(Refusal::Revoked)
        );

        let third = ana
            .members()
            .invite_once(Vec::new(), None, Some(1))
            .expect("invite");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let proof = InviteKey::new(third.key).proof(&session);
        assert_eq!(
            ana.redeem_invite(&third.notebook, &third.id, "bo", |k| k
                .verifies(&session, &proof))
                .expect("redeem"),
            Err(Refusal::Expired)
        );
        let states: Vec<&str> = ana
            .members()
            .invites()
            .expect("list")
            .iter()
            .map(|v| v.state)
            .collect();
        assert_eq!(states, ["expired", "revoked", "used"]);
        assert!(ana
            .members()
            .invite_once(Vec::new(), None, Some(0))
            .is_err());
    }

    #[test]
    fn a_personal_link_grants_a_space_bound_to_its_relay() {
        let (_dir, mut ana) = ana();
        let link = ana.members().link_once(Vec::new(), None).expect("link");
        assert!(link.owner.is_some(), "a link says whose device it is");
        let session = [4u8; 32];
        let proof = InviteKey::new(link.key).proof(&session);
        let grant = ana
            .redeem_invite(&link.notebook, &link.id, "ana-phone", |k| {
                k.verifies(&session, &proof)
            })
            .expect("redeem")
            .expect("granted");
        assert!(grant.relay_bound);
        assert_eq!(granted_notebook(&grant), link.notebook);
    }
}
