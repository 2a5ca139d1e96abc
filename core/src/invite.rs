//! Invite tickets: everything another device needs to join a notebook, as one short string
//! people can copy, paste or scan.
//!
//! `duet1` + lowercase base32 of the postcard-encoded [`Invite`] followed by a 4-byte
//! BLAKE3 checksum. The version prefix lets a later format coexist; the checksum turns a
//! mistyped ticket into a clear error instead of a wrong notebook. The ticket carries the
//! notebook secret, so it is shown only to its owner and travels like a password.

use crate::crypto::{fingerprint_text, NotebookSecret};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// The prefix of every ticket of this format.
pub const TICKET_PREFIX: &str = "duet1";
/// The prefix of a personal link ticket: the same format, carrying the secret of a
/// person's own space (private notes) instead of a shared notebook's. Its own prefix keeps
/// one from being pasted where the other belongs.
pub const LINK_PREFIX: &str = "duetlink1";
/// Bytes of checksum at the end of a ticket.
const CHECKSUM_LEN: usize = 4;
/// Tickets longer than this are refused before decoding.
const MAX_TICKET_CHARS: usize = 4096;

/// Errors reading a ticket.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum InviteError {
    /// The ticket does not start with a known prefix.
    #[error("this is not a Duet invite ticket (it should start with duet2, or {TICKET_PREFIX} from an older Duet)")]
    NotATicket,
    /// A ticket from a newer Duet.
    #[error("this invite ticket is from a newer Duet ({0}); update Duet to join")]
    NewerVersion(String),
    /// The characters are not base32, or the checksum fails: a typo.
    #[error("the invite ticket is damaged or mistyped (checksum mismatch); copy it again")]
    Checksum,
    /// The checksum is fine but the content is not an invite.
    #[error("the invite ticket is malformed")]
    Malformed,
    /// A personal link ticket where a notebook invite was expected.
    #[error("this is a personal link ticket, for your own devices, not a notebook invite")]
    LinkNotInvite,
    /// A notebook invite where a personal link ticket was expected.
    #[error("this is a notebook invite, not a personal link ticket")]
    InviteNotLink,
}

/// A relay the notebook syncs through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayInfo {
    /// Host and port.
    pub addr: String,
    /// The relay's certificate fingerprint.
    pub fingerprint: [u8; 32],
}

/// What a ticket carries.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// The notebook secret.
    pub secret: [u8; 32],
    /// The notebook's title when invited.
    pub title: String,
    /// Where the inviting device can be reached.
    pub addrs: Vec<SocketAddr>,
    /// The inviting device's certificate fingerprint.
    pub fingerprint: [u8; 32],
    /// The notebook's relay, if it has one.
    pub relay: Option<RelayInfo>,
    /// The key epoch in force, once a device was removed from the notebook (written after
    /// the fields above, so a ticket of a notebook that never had a removal reads as before).
    #[serde(skip)]
    pub epoch: Option<EpochGrant>,
    /// Whose device a personal link ticket comes from (written after the fields above,
    /// like `epoch`, on link tickets only).
    #[serde(skip)]
    pub owner: Option<LinkOwner>,
}

/// Whose device a personal link ticket comes from: shown before a device adopts the
/// personal space, and checked against the notebooks both devices hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkOwner {
    /// The person's name on that device.
    pub name: String,
    /// The device's name.
    pub device: String,
    /// For each shared notebook on that device: (notebook id, the person id it writes as).
    pub people: Vec<(String, String)>,
}

/// The key epoch in force, as a ticket or bundle hands it to a joining device.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochGrant {
    /// The epoch's id.
    pub id: String,
    /// Its number.
    pub number: u64,
    /// Its key.
    pub key: [u8; 32],
}

impl std::fmt::Debug for Invite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invite")
            .field("title", &self.title)
            .field("addrs", &self.addrs)
            .field("fingerprint", &fingerprint_text(&self.fingerprint))
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

impl Invite {
    /// The notebook secret.
    pub fn notebook_secret(&self) -> NotebookSecret {
        // 32 bytes by type: cannot fail.
        NotebookSecret::from_bytes(&self.secret).unwrap_or_else(|_| unreachable!())
    }

    /// The ticket string.
    pub fn to_ticket(&self) -> String {
        self.encode(TICKET_PREFIX)
    }

    /// The ticket string of a personal link (see [`LINK_PREFIX`]).
    pub fn to_link_ticket(&self) -> String {
        self.encode(LINK_PREFIX)
    }

    /// Reads a personal link ticket.
    pub fn from_link_ticket(ticket: &str) -> Result<Invite, InviteError> {
        let cleaned: String = ticket.chars().filter(|c| !c.is_whitespace()).collect();
        let lower = cleaned.to_ascii_lowercase();
        match lower.strip_prefix(LINK_PREFIX) {
            Some(body) => Invite::decode(body, true),
            None if lower.starts_with(TICKET_PREFIX)
                || lower.starts_with(crate::one_time_invite::ONE_TIME_PREFIX) =>
            {
                Err(InviteError::InviteNotLink)
            }
            None => Err(InviteError::NotATicket),
        }
    }

    fn encode(&self, prefix: &str) -> String {
        // Encoding plain owned data into a Vec cannot fail.
        let mut bytes = postcard::to_allocvec(self).unwrap_or_default();
        if prefix == LINK_PREFIX {
            if let Some(owner) = &self.owner {
                bytes.extend(postcard::to_allocvec(owner).unwrap_or_default());
            }
        } else if let Some(grant) = &self.epoch {
            bytes.extend(postcard::to_allocvec(grant).unwrap_or_default());
        }
        ticket_text(prefix, bytes)
    }

    /// Reads a ticket; surrounding whitespace and line breaks (from copying) are ignored.
    pub fn from_ticket(ticket: &str) -> Result<Invite, InviteError> {
        let cleaned: String = ticket.chars().filter(|c| !c.is_whitespace()).collect();
        if cleaned.len() > MAX_TICKET_CHARS {
            return Err(InviteError::Malformed);
        }
        let lower = cleaned.to_ascii_lowercase();
        // Any version of a personal link.
        if lower.starts_with("duetlink") {
            return Err(InviteError::LinkNotInvite);
        }
        let Some(body) = lower.strip_prefix(TICKET_PREFIX) else {
            if let Some(rest) = lower.strip_prefix("duet") {
                let version: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if !version.is_empty() {
                    return Err(InviteError::NewerVersion(format!("duet{version}")));
                }
            }
            return Err(InviteError::NotATicket);
        };
        Invite::decode(body, false)
    }

    fn decode(body: &str, link: bool) -> Result<Invite, InviteError> {
        if body.len() > MAX_TICKET_CHARS {
            return Err(InviteError::Malformed);
        }
        let payload = ticket_payload(body)?;
        let (mut invite, rest): (Invite, _) =
            postcard::take_from_bytes(&payload).map_err(|_| InviteError::Malformed)?;
        if !rest.is_empty() {
            let rest = if link {
                let (owner, rest): (LinkOwner, _) =
                    postcard::take_from_bytes(rest).map_err(|_| InviteError::Malformed)?;
                invite.owner = Some(owner);
                rest
            } else {
                let (grant, rest): (EpochGrant, _) =
                    postcard::take_from_bytes(rest).map_err(|_| InviteError::Malformed)?;
                invite.epoch = Some(grant);
                rest
            };
            if !rest.is_empty() {
                return Err(InviteError::Malformed);
            }
        }
        Ok(invite)
    }

    /// The ticket drawn as a QR code with Unicode half blocks, for a terminal.
    pub fn to_qr(&self) -> Option<String> {
        qr(&self.to_ticket())
    }

    /// The personal link ticket drawn as a QR code.
    pub fn to_link_qr(&self) -> Option<String> {
        qr(&self.to_link_ticket())
    }
}

/// A ticket's text: `prefix`, then lowercase base32 of `payload` and its checksum (the
/// first bytes of its BLAKE3), which catches any typo before anything is decoded.
pub(crate) fn ticket_text(prefix: &str, mut payload: Vec<u8>) -> String {
    let sum = blake3::hash(&payload);
    payload.extend_from_slice(&sum.as_bytes()[..CHECKSUM_LEN]);
    let body = data_encoding::BASE32_NOPAD
        .encode(&payload)
        .to_ascii_lowercase();
    format!("{prefix}{body}")
}

/// The payload of a ticket's body (after its prefix), its checksum checked.
pub(crate) fn ticket_payload(body: &str) -> Result<Vec<u8>, InviteError> {
    let mut bytes = data_encoding::BASE32_NOPAD
        .decode(body.to_ascii_uppercase().as_bytes())
        .map_err(|_| InviteError::Checksum)?;
    if bytes.len() < CHECKSUM_LEN {
        return Err(InviteError::Checksum);
    }
    let (payload, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    if &blake3::hash(payload).as_bytes()[..CHECKSUM_LEN] != sum {
        return Err(InviteError::Checksum);
    }
    bytes.truncate(bytes.len() - CHECKSUM_LEN);
    Ok(bytes)
}

/// A ticket drawn as a QR code for a terminal.
pub(crate) fn qr(ticket: &str) -> Option<String> {
    // QR alphanumeric mode holds upper case only; the ticket reads back in any case.
    let code = qrcode::QrCode::with_error_correction_level(
        ticket.to_ascii_uppercase(),
        qrcode::EcLevel::L,
    )
    .ok()?;
    Some(
        code.render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Invite {
        Invite {
            secret: [5u8; 32],
            title: "Ana / Bo".into(),
            addrs: vec!["192.168.1.20:7878".parse().expect("addr")],
            fingerprint: [8u8; 32],
            relay: None,
            epoch: None,
            owner: None,
        }
    }

    #[test]
    fn a_link_ticket_says_whose_device_it_comes_from() {
        let link = Invite {
            owner: Some(LinkOwner {
                name: "Ana".into(),
                device: "Ana's laptop".into(),
                people: vec![("nb1".into(), "p1".into())],
            }),
            ..sample()
        };
        let ticket = link.to_link_ticket();
        assert_eq!(Invite::from_link_ticket(&ticket), Ok(link));
        assert_eq!(
            Invite::from_link_ticket(&sample().to_link_ticket()),
            Ok(sample())
        );
    }

    #[test]
    fn a_ticket_carrying_an_epoch_reads_back_and_one_without_reads_as_before() {
        let plain = sample().to_ticket();
        let with = Invite {
            epoch: Some(EpochGrant {
                id: "epochid1".into(),
                number: 2,
                key: [6u8; 32],
            }),
            ..sample()
        };
        let ticket = with.to_ticket();
        assert!(ticket.starts_with(&plain[..20]) && ticket.len() > plain.len());
        assert_eq!(Invite::from_ticket(&ticket), Ok(with));
        assert_eq!(Invite::from_ticket(&plain), Ok(sample()));
    }

    #[test]
    fn tickets_round_trip_in_any_case_and_with_line_breaks() {
        let ticket = sample().to_ticket();
        assert!(ticket.starts_with("duet1"));
        assert_eq!(Invite::from_ticket(&ticket), Ok(sample()));
        let shouty = ticket.to_ascii_uppercase();
        assert_eq!(Invite::from_ticket(&shouty), Ok(sample()));
        let wrapped = format!("  {}\n{}  ", &ticket[..30], &ticket[30..]);
        assert_eq!(Invite::from_ticket(&wrapped), Ok(sample()));
    }

    #[test]
    fn every_single_typo_is_caught() {
        let ticket = sample().to_ticket();
        let alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        for at in TICKET_PREFIX.len()..ticket.len() {
            let original = ticket.as_bytes()[at] as char;
            let Some(typo) = alphabet.chars().find(|c| *c != original) else {
                continue;
            };
            let mut bad = ticket.clone();
            bad.replace_range(at..=at, &typo.to_string());
            assert!(
                Invite::from_ticket(&bad).is_err(),
                "typo at {at} gave a notebook"
            );
        }
    }

    #[test]
    fn other_strings_get_clear_errors() {
        assert_eq!(Invite::from_ticket("hello"), Err(InviteError::NotATicket));
        assert_eq!(
            Invite::from_ticket("duet2abc"),
            Err(InviteError::NewerVersion("duet2".into()))
        );
        assert_eq!(Invite::from_ticket("duet1"), Err(InviteError::Checksum));
    }

    #[test]
    fn link_tickets_and_invites_are_not_confused() {
        let link = sample().to_link_ticket();
        assert!(link.starts_with(LINK_PREFIX));
        assert_eq!(Invite::from_link_ticket(&link), Ok(sample()));
        assert_eq!(Invite::from_ticket(&link), Err(InviteError::LinkNotInvite));
        assert_eq!(
            Invite::from_link_ticket(&sample().to_ticket()),
            Err(InviteError::InviteNotLink)
        );
        let mut typo = link.clone();
        typo.replace_range(20..21, if &link[20..21] == "a" { "b" } else { "a" });
        assert_eq!(Invite::from_link_ticket(&typo), Err(InviteError::Checksum));
    }

    #[test]
    fn the_qr_code_is_drawn() {
        let qr = sample().to_qr().expect("fits a QR code");
        assert!(qr.lines().count() > 10);
    }

    proptest! {
        #[test]
        fn parsing_any_string_never_panics(s in ".{0,300}") {
            let _ = Invite::from_ticket(&s);
        }

        #[test]
        fn parsing_any_base32_body_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let body = data_encoding::BASE32_NOPAD.encode(&bytes).to_ascii_lowercase();
            let _ = Invite::from_ticket(&format!("{TICKET_PREFIX}{body}"));
        }
    }
}
