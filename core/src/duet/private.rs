//! Private notes and the personal space that holds them.
//!
//! A person's private notes live in one personal document, in a personal space with its own
//! secret: a record like a notebook's, marked personal, that is never listed as a notebook
//! and never shared with the other person. It syncs like a notebook (P2P membership proof,
//! relay envelopes sealed with its own key) among the devices that hold its secret, which
//! only `duet link` hands out, as a personal link ticket.
//!
//! A device makes its personal space on first use. Linking to another device's space adopts
//! that space; notes already written here are copied into it (notes are flat keys of the
//! personal document, so the copy merges and loses nothing), and the old space is no longer
//! synced.
use super::*;
use crate::invite::Invite;
use crate::model::private::{self as personal_doc, PrivateNote, PRIVATE_DOC};
use std::ops::{Deref, DerefMut};

/// The title the personal space is listed under in sync reports.
use crate::duet::settings::PersonalSpace;

pub(crate) const PERSONAL_TITLE: &str = "Private notes";

impl Duet {
    /// The personal space, made (durably) on first use.
    fn ensure_personal_space(&mut self) -> Result<String, DuetError> {
        if let Some(id) = self.private_notes().space()? {
            return Ok(id);
        }
        let secret = NotebookSecret::generate();
        let id = self.adopt_personal_space(&secret)?;
        // A space made from now on has its relay mailbox bound to the relay, as notebooks do.
        self.store
            .put(&crate::duet::settings::RelayBound(id.clone()), &true)?;
        self.store.flush()?;
        self.personal_relay_default(&id)?;
        Ok(id)
    }

    /// Gives the personal space the selected notebook's relay when it has none: private
    /// notes travel through the relay the person's notebook already uses.
    pub(super) fn personal_relay_default(&mut self, space: &str) -> Result<(), DuetError> {
        if self.relay().setting(space)?.is_some() {
            return Ok(());
        }
        let Ok(notebook) = self.current_id() else {
            return Ok(());
        };
        if let Some(setting) = self.relay().setting(&notebook)? {
            self.relay_set_for(space, setting)?;
        }
        Ok(())
    }

    /// Records a personal space with this secret, with a personal document, and makes it this
    /// device's. Returns its id.
    fn adopt_personal_space(&mut self, secret: &NotebookSecret) -> Result<String, DuetError> {
        let id = secret.notebook_id();
        self.store.put_notebook(&NotebookRecord {
            id: id.clone(),
            secret_hex: self.seal_notebook_secret(&id, secret.as_bytes()),
            title: PERSONAL_TITLE.to_owned(),
            personal: true,
        })?;
        let mut space = Notebook::load_kind(&self.store, &id, &self.actor, true)?;
        let doc = &mut space.doc_or_empty(PRIVATE_DOC)?.am;
        personal_doc::create(doc)?;
        space.persist(&mut self.store)?;
        self.store.put(&PersonalSpace(), &id)?;
        self.store.flush()?;
        Ok(id)
    }

    /// Every private note of this person, whatever notebook it is about, oldest first.
    pub(crate) fn all_private_notes(&self) -> Result<Vec<PrivateNote>, DuetError> {
        let Some(space) = self.read_private_notes().space()? else {
            return Ok(Vec::new());
        };
        let mut nb = Notebook::load_kind(&self.store, &space, &self.actor, true)?;
        let doc = match nb.doc(PRIVATE_DOC) {
            Ok(doc) => doc,
            Err(DuetError::MeetingNotHere { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        personal_doc::validate(&doc.am)?;
        Ok(personal_doc::notes(&doc.am)?)
    }

    /// A personal link ticket for this person's other devices: the personal space's secret,
    /// this device's addresses and certificate, and the relay to meet at. Without a relay
    /// given, the personal space keeps the one it has, or takes the selected notebook's.
    pub(crate) fn link_ticket(
        &mut self,
        addrs: Vec<std::net::SocketAddr>,
    ) -> Result<Invite, DuetError> {
        let space = self.ensure_personal_space()?;
        self.personal_relay_default(&space)?;
        let relay = self
            .relay()
            .setting(&space)?
            .map(|s| s.relay_info())
            .transpose()?;
        let secret = self.secret_of(&self.record(&space)?)?;
        Ok(Invite {
            secret: *secret.as_bytes(),
            title: PERSONAL_TITLE.to_owned(),
            addrs,
            fingerprint: self.peers().tls_identity()?.fingerprint(),
            relay,
            // After a removal the space's keys are an epoch's: the new device needs it to
            // read what was written since.
            epoch: self.ticket_epoch(&space)?,
            owner: Some(crate::invite::LinkOwner {
                name: self.name.clone(),
                device: self.device_name()?,
                people: self.my_people()?,
            }),
        })
    }

    /// For each shared notebook that has arrived: (its id, the person this device writes
    /// as in it).
    fn my_people(&self) -> Result<Vec<(String, String)>, DuetError> {
        let me = self.device.public_hex();
        let mut out = Vec::new();
        for record in self.shared_records()? {
            if self.store.load_doc(&record.id, INDEX_DOC)?.is_none() {
                continue;
            }
            let mut nb = Notebook::load(&self.store, &record.id, &self.actor)?;
            if let Some(person) = index::device_person(&nb.index()?.am, &me)? {
                out.push((record.id, person));
            }
        }
        Ok(out)
    }
}

impl<D: Deref<Target = Duet>> PrivateNotes<D> {
    /// The personal space's id, if this device has one.
    pub fn space(&self) -> Result<Option<String>, DuetError> {
        Ok(self.duet.store.get(&PersonalSpace())?)
    }

    /// This person's private notes about the selected notebook, oldest first; on a device
    /// with no notebook (one linked only for private notes), every note.
    pub fn list(&self) -> Result<Vec<PrivateNote>, DuetError> {
        let notebook = match self.duet.current_id() {
            Ok(id) => id,
            Err(DuetError::NoNotebook) => return self.duet.all_private_notes(),
            Err(e) => return Err(e),
        };
        Ok(self
            .duet
            .all_private_notes()?
            .into_iter()
            .filter(|n| n.notebook == notebook)
            .collect())
    }
}

impl<D: DerefMut<Target = Duet>> PrivateNotes<D> {
    /// Writes a private note about the selected notebook's meeting (the current one by
    /// default). It goes only to the personal space, never to the shared notebook.
    pub fn add(&mut self, text: &str, meeting_id: Option<&str>) -> Result<PrivateNote, DuetError> {
        let text = clean_text(text, "private note")?;
        let notebook = self.duet.current_id()?;
        let mut nb = self.duet.load()?;
        let meeting = match resolve_meeting(&self.duet.store, &mut nb, meeting_id) {
            Ok(id) => Some(id),
            Err(DuetError::NoCurrentMeeting) if meeting_id.is_none() => None,
            Err(e) => return Err(e),
        };
        self.duet.keep(nb);
        let space = self.duet.ensure_personal_space()?;
        let note = PrivateNote {
            id: ids::new_id(),
            notebook,
            meeting,
            text,
            at: now_millis(),
        };
        let mut nb = Notebook::load_kind(&self.duet.store, &space, &self.duet.actor, true)?;
        personal_doc::add(&mut nb.doc(PRIVATE_DOC)?.am, &note)?;
        let steps = Duet::unsaved_steps(&mut nb, &space);
        self.duet.note_steps(
            &note.notebook,
            &super::undo::quoting("private note", &note.text),
            steps,
        )?;
        nb.persist(&mut self.duet.store)?;
        Ok(note)
    }
}

impl<D: Deref<Target = Duet>> Joins<D> {
    /// Refuses a link ticket of another person's device (Bo's, pasted on Ana's laptop),
    /// which would hand this device their private notes, and them these: where both hold a
    /// notebook and write in it as different people.
    pub fn check_link_owner(&self, owner: &crate::invite::LinkOwner) -> Result<(), DuetError> {
        let mine = self.duet.my_people()?;
        for (notebook, person) in &owner.people {
            if let Some((_, me)) = mine.iter().find(|(n, _)| n == notebook) {
                if me != person {
                    return Err(DuetError::NotYourLink {
                        owner: owner.name.clone(),
                        title: self.duet.record(notebook)?.title,
                    });
                }
            }
        }
        Ok(())
    }
}

impl<D: DerefMut<Target = Duet>> Joins<D> {
    /// Makes this device share the personal space of a one-time link ticket, with the
    /// grant its redemption brought.
    pub fn link_granted(
        &mut self,
        link: &crate::one_time_invite::OneTimeInvite,
        grant: &crate::one_time_invite::Grant,
    ) -> Result<String, DuetError> {
        let full = Invite {
            secret: grant.secret,
            title: grant.title.clone(),
            addrs: link.addrs.clone(),
            fingerprint: link.fingerprint,
            relay: link.relay.clone(),
            epoch: grant.epoch.clone(),
            owner: link.owner.clone(),
        };
        if full.notebook_secret().notebook_id() != link.notebook {
            return Err(DuetError::Invalid(
                "the linking device granted another space than its ticket names".into(),
            ));
        }
        if grant.relay_bound {
            self.duet.store.put(
                &crate::duet::settings::RelayBound(link.notebook.clone()),
                &true,
            )?;
        }
        self.duet.joins().link(&full)
    }

    /// Makes this device share the personal space of a link ticket. Notes written here
    /// before are copied into it. Returns the personal space's id.
    pub fn link(&mut self, link: &Invite) -> Result<String, DuetError> {
        if let Some(owner) = &link.owner {
            self.duet.joins().check_link_owner(owner)?;
        }
        let secret = link.notebook_secret();
        let id = secret.notebook_id();
        let old = self.duet.private_notes().space()?;
        if old.as_deref() == Some(id.as_str()) {
            return Ok(id);
        }
        let earlier = self.duet.all_private_notes()?;
        self.duet.adopt_personal_space(&secret)?;
        if let Some(epoch) = &link.epoch {
            let key = crate::crypto::EpochKey::from_bytes(&epoch.key)
                .map_err(|e| DuetError::Internal(e.to_string()))?;
            self.duet
                .keep_epoch_copy(&id, &epoch.id, epoch.number, &key)?;
            self.duet.store.flush()?;
        }
        if !earlier.is_empty() {
            let mut nb = Notebook::load_kind(&self.duet.store, &id, &self.duet.actor, true)?;
            let doc = &mut nb.doc(PRIVATE_DOC)?.am;
            for note in &earlier {
                personal_doc::add(doc, note)?;
            }
            nb.persist(&mut self.duet.store)?;
        }
        if let Some(relay) = &link.relay {
            let setting = RelaySetting {
                addr: relay.addr.clone(),
                fingerprint: crate::crypto::fingerprint_text(&relay.fingerprint),
                team_token: None,
            };
            self.duet.relay_set_for(&id, setting)?;
        }
        self.duet.remember_peer(&link.fingerprint, None)?;
        Ok(id)
    }
}
