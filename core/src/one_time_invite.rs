//! One-time, expiring invites: a `duet2` ticket
//! carries a one-time invite key instead of the notebook secret. The secret (and the key
//! epoch in force) reach the joining device only as a [`Grant`]: from the inviting device,
//! once the joiner proves the invite key over the authenticated channel, or from a welcome
//! sealed with a key derived from the invite key and left on the relay. The inviting device
//! keeps a record of each invite: used, expired and revoked invites are refused, each with
//! its own [`Refusal`].
//!
//! `duet2` + lowercase base32 of the postcard-encoded [`OneTimeInvite`] and a 4-byte BLAKE3
//! checksum, like `duet1` tickets.

use crate::crypto::{MembershipKey, ProofSide};
use crate::invite::{EpochGrant, InviteError, LinkOwner, RelayInfo};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// The prefix of a one-time invite ticket.
pub const ONE_TIME_PREFIX: &str = "duet2";
/// The prefix of a one-time personal link ticket (this person's own devices).
pub const ONE_TIME_LINK_PREFIX: &str = "duetlink2";
/// What every personal link ticket starts with, of any version.
const ANY_LINK_PREFIX: &str = "duetlink";
/// Tickets longer than this are refused before decoding.
const MAX_TICKET_CHARS: usize = 4096;
/// How long an invite lasts unless told otherwise: 7 days.
pub const DEFAULT_LIFETIME_SECS: i64 = 7 * 24 * 3600;
/// The longest lifetime an invite may be given: 90 days.
pub const MAX_LIFETIME_SECS: i64 = 90 * 24 * 3600;

/// Context strings of what derives from an invite key.
const PROOF_CONTEXT: &str = "duet 2026-12 invite proof key v1";
const WELCOME_MAILBOX_CONTEXT: &str = "duet 2026-12 invite welcome mailbox v1";
const WELCOME_TOKEN_CONTEXT: &str = "duet 2026-12 invite welcome token v1";
const WELCOME_KEY_CONTEXT: &str = "duet 2026-12 invite welcome key v1";

/// What a one-time ticket carries: where and whom to ask, never the notebook secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimeInvite {
    /// The notebook's public id.
    pub notebook: String,
    /// Its title when invited.
    pub title: String,
    /// Where the inviting device can be reached.
    pub addrs: Vec<SocketAddr>,
    /// The inviting device's certificate fingerprint.
    pub fingerprint: [u8; 32],
    /// The notebook's relay, if it has one (a welcome may wait there).
    pub relay: Option<RelayInfo>,
    /// The invite's id on the inviting device.
    pub id: String,
    /// The one-time invite key.
    pub key: [u8; 32],
    /// When it expires (Unix seconds).
    pub expires: i64,
    /// For a personal link: whose device it comes from (shown before linking, and checked
    /// against the notebooks both devices hold).
    pub owner: Option<LinkOwner>,
}

impl std::fmt::Debug for OneTimeInvite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneTimeInvite")
            .field("notebook", &self.notebook)
            .field("title", &self.title)
            .field("id", &self.id)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// What redeeming an invite hands the joining device.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The notebook secret.
    pub secret: [u8; 32],
    /// The key epoch in force, once a device was removed.
    pub epoch: Option<EpochGrant>,
    /// The notebook's title.
    pub title: String,
    /// Whether the notebook's relay mailbox is bound to its relay.
    pub relay_bound: bool,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("title", &self.title)
            .finish_non_exhaustive()
    }
}

/// Why an inviting device refused an invite (the wire's own type).
pub use crate::wire::InviteRefusal as Refusal;

/// Reads an invite lifetime: a number with `s` (seconds), `m` (minutes), `h` (hours), `d`
/// (days) or `w` (weeks), e.g. `2d`; `None` when it does not read. The range is checked when the invite
/// is made.
pub fn parse_lifetime(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let per = match unit.to_ascii_lowercase() {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    let count: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    count.checked_mul(per)
}

impl OneTimeInvite {
    /// The ticket string.
    pub fn to_ticket(&self) -> String {
        self.encode(ONE_TIME_PREFIX)
    }

    /// The ticket string of a one-time personal link.
    pub fn to_link_ticket(&self) -> String {
        self.encode(ONE_TIME_LINK_PREFIX)
    }

    fn encode(&self, prefix: &str) -> String {
        // Encoding plain owned data into a Vec cannot fail.
        crate::invite::ticket_text(prefix, postcard::to_allocvec(self).unwrap_or_default())
    }

    /// Reads a one-time ticket; whitespace and line breaks are ignored.
    pub fn from_ticket(ticket: &str) -> Result<OneTimeInvite, InviteError> {
        let lower = Self::cleaned(ticket)?;
        if lower.starts_with(ANY_LINK_PREFIX) {
            return Err(InviteError::LinkNotInvite);
        }
        let Some(body) = lower.strip_prefix(ONE_TIME_PREFIX) else {
            return Err(InviteError::NotATicket);
        };
        Self::decode(body)
    }

    /// Reads a one-time personal link ticket.
    pub fn from_link_ticket(ticket: &str) -> Result<OneTimeInvite, InviteError> {
        let lower = Self::cleaned(ticket)?;
        match lower.strip_prefix(ONE_TIME_LINK_PREFIX) {
            Some(body) => Self::decode(body),
            None if lower.starts_with(ANY_LINK_PREFIX) => Err(InviteError::NotATicket),
            None if lower.starts_with("duet") => Err(InviteError::InviteNotLink),
            None => Err(InviteError::NotATicket),
        }
    }

    /// The ticket without whitespace, in lower case; refused when too long to be one.
    fn cleaned(ticket: &str) -> Result<String, InviteError> {
        let cleaned: String = ticket.chars().filter(|c| !c.is_whitespace()).collect();
        if cleaned.len() > MAX_TICKET_CHARS {
            return Err(InviteError::Malformed);
        }
        Ok(cleaned.to_ascii_lowercase())
    }

    fn decode(body: &str) -> Result<OneTimeInvite, InviteError> {
        let payload = crate::invite::ticket_payload(body)?;
        let (invite, rest): (OneTimeInvite, _) =
            postcard::take_from_bytes(&payload).map_err(|_| InviteError::Malformed)?;
        if !rest.is_empty() {
            return Err(InviteError::Malformed);
        }
        Ok(invite)
    }

    /// The ticket drawn as a QR code.
    pub fn to_qr(&self) -> Option<String> {
        crate::invite::qr(&self.to_ticket())
    }

    /// The personal link ticket drawn as a QR code.
    pub fn to_link_qr(&self) -> Option<String> {
        crate::invite::qr(&self.to_link_ticket())
    }

    /// Whether `text` looks like a one-time invite ticket (by its prefix).
    pub fn is_one_time(text: &str) -> bool {
        starts_with(text, ONE_TIME_PREFIX)
    }

    /// Whether `text` looks like a one-time personal link ticket (by its prefix).
    pub fn is_one_time_link(text: &str) -> bool {
        starts_with(text, ONE_TIME_LINK_PREFIX)
    }

    /// Whether it has expired at `now` (Unix seconds).
    pub fn expired_at(&self, now: i64) -> bool {
        now >= self.expires
    }
}

fn starts_with(text: &str, prefix: &str) -> bool {
    text.trim_start()
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// The document id that marks a relay batch as a welcome.
const WELCOME_DOC: &str = "invite-welcome";

/// Seals a grant as the welcome an invite's joiner finds on the relay, signed by the
/// inviting device.
pub fn seal_welcome(
    key: &InviteKey,
    notebook: &str,
    grant: &Grant,
    inviter: &crate::crypto::DeviceKey,
) -> Vec<u8> {
    let batch = [crate::sync::relay::DocChanges {
        doc: WELCOME_DOC.to_owned(),
        // Plain owned data encodes.
        changes: postcard::to_allocvec(grant).unwrap_or_default(),
        heads: Vec::new(),
    }];
    let envelope_key = key.welcome_key();
    let sender = crate::sync::relay::sender_id(&envelope_key, WELCOME_DOC);
    crate::sync::relay::seal(
        &envelope_key,
        notebook,
        sender,
        crate::sync::relay::Chain::default(),
        &batch,
        inviter,
    )
}

/// Opens a welcome found on the relay.
pub fn open_welcome(key: &InviteKey, notebook: &str, envelope: &[u8]) -> Option<Grant> {
    let opened = crate::sync::relay::open(&key.welcome_key(), notebook, envelope).ok()?;
    match opened.docs.as_slice() {
        [one] if one.doc == WELCOME_DOC => postcard::from_bytes(&one.changes).ok(),
        _ => None,
    }
}

/// What derives from an invite key.
pub struct InviteKey([u8; 32]);

impl InviteKey {
    /// Reads the key of a ticket.
    pub fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    /// The key whose MAC over the TLS exporter proves the invite on a connection.
    fn proof_key(&self) -> MembershipKey {
        MembershipKey::from_derived(blake3::derive_key(PROOF_CONTEXT, &self.0))
    }

    /// The joining device's proof of the invite on a TLS session.
    pub fn proof(&self, exporter: &[u8; 32]) -> [u8; 32] {
        self.proof_key().proof(ProofSide::Client, exporter)
    }

    /// Whether `proof` proves this invite on the session (constant time).
    pub fn verifies(&self, exporter: &[u8; 32], proof: &[u8; 32]) -> bool {
        self.proof_key()
            .verifies(ProofSide::Client, exporter, proof)
    }

    /// The mailbox id and token of the welcome at the relay with `relay_fingerprint`.
    pub fn welcome_mailbox(&self, relay_fingerprint: &[u8; 32]) -> (String, [u8; 32]) {
        crate::crypto::relay_bound_mailbox(
            &self.0,
            relay_fingerprint,
            WELCOME_MAILBOX_CONTEXT,
            WELCOME_TOKEN_CONTEXT,
        )
    }

    /// The envelope key of the welcome.
    pub fn welcome_key(&self) -> [u8; 32] {
        blake3::derive_key(WELCOME_KEY_CONTEXT, &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> OneTimeInvite {
        OneTimeInvite {
            notebook: "0123abcd".into(),
            title: "Ana / Bo".into(),
            addrs: vec!["192.168.1.20:7878".parse().expect("addr")],
            fingerprint: [8u8; 32],
            relay: None,
            id: "inv12345".into(),
            key: [3u8; 32],
            expires: 1_800_000_000,
            owner: None,
        }
    }

    #[test]
    fn a_one_time_ticket_round_trips_and_carries_no_secret_field() {
        let ticket = sample().to_ticket();
        assert!(ticket.starts_with(ONE_TIME_PREFIX));
        assert_eq!(OneTimeInvite::from_ticket(&ticket), Ok(sample()));
        let mut typo = ticket.clone();
        typo.replace_range(10..11, if &ticket[10..11] == "a" { "b" } else { "a" });
        assert_eq!(
            OneTimeInvite::from_ticket(&typo),
            Err(InviteError::Checksum)
        );
        assert!(sample().expired_at(1_800_000_000));
        assert!(!sample().expired_at(1_799_999_999));
    }

    #[test]
    fn every_single_character_typo_of_a_one_time_ticket_is_caught() {
        let ticket = sample().to_ticket();
        let alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        for at in ONE_TIME_PREFIX.len()..ticket.len() {
            for c in alphabet.chars().filter(|c| !ticket[at..].starts_with(*c)) {
                let mut typo = ticket.clone();
                typo.replace_range(at..=at, &c.to_string());
                assert!(OneTimeInvite::from_ticket(&typo).is_err(), "{at} {c}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn parsing_any_string_or_body_never_panics(
            s in ".{0,300}",
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let _ = OneTimeInvite::from_ticket(&s);
            let _ = parse_lifetime(&s);
            let body = data_encoding::BASE32_NOPAD.encode(&bytes).to_ascii_lowercase();
            let _ = OneTimeInvite::from_ticket(&format!("{ONE_TIME_PREFIX}{body}"));
        }
    }

    #[test]
    fn a_one_time_link_and_a_one_time_invite_are_told_apart() {
        let link = OneTimeInvite {
            owner: Some(LinkOwner {
                name: "Ana".into(),
                device: "Ana's laptop".into(),
                people: Vec::new(),
            }),
            ..sample()
        };
        let text = link.to_link_ticket();
        assert!(OneTimeInvite::is_one_time_link(&text) && !OneTimeInvite::is_one_time(&text));
        assert_eq!(OneTimeInvite::from_link_ticket(&text), Ok(link.clone()));
        assert_eq!(
            OneTimeInvite::from_ticket(&text),
            Err(InviteError::LinkNotInvite)
        );
        assert_eq!(
            OneTimeInvite::from_link_ticket(&sample().to_ticket()),
            Err(InviteError::InviteNotLink)
        );
    }

    #[test]
    fn lifetimes_read_with_their_unit() {
        assert_eq!(parse_lifetime("2d"), Some(2 * 86_400));
        assert_eq!(parse_lifetime("90m"), Some(5400));
        assert_eq!(parse_lifetime("12H"), Some(12 * 3600));
        assert_eq!(parse_lifetime("1w"), Some(7 * 86_400));
        assert_eq!(parse_lifetime("30s"), Some(30));
        for bad in [
            "",
            "d",
            "2",
            "2x",
            "-",
            "1.5d",
            "é",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_lifetime(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_invite_proof_binds_key_and_session() {
        let key = InviteKey::new([3u8; 32]);
        let other = InviteKey::new([4u8; 32]);
        let proof = key.proof(&[1u8; 32]);
        assert!(key.verifies(&[1u8; 32], &proof));
        assert!(!key.verifies(&[2u8; 32], &proof));
        assert!(!other.verifies(&[1u8; 32], &proof));
        let (a, ta) = key.welcome_mailbox(&[1u8; 32]);
        let (b, tb) = key.welcome_mailbox(&[2u8; 32]);
        assert!(a != b && ta != tb);
        assert_ne!(key.welcome_key(), other.welcome_key());
    }

    #[test]
    fn a_welcome_opens_only_with_its_invite_key_and_notebook() {
        let key = InviteKey::new([3u8; 32]);
        let grant = Grant {
            secret: [5u8; 32],
            epoch: None,
            title: "Ana / Bo".into(),
            relay_bound: true,
        };
        let inviter = crate::crypto::DeviceKey::generate();
        let sealed = seal_welcome(&key, "nb1", &grant, &inviter);
        assert_eq!(open_welcome(&key, "nb1", &sealed), Some(grant));
        assert_eq!(
            open_welcome(&InviteKey::new([4u8; 32]), "nb1", &sealed),
            None
        );
        assert_eq!(open_welcome(&key, "nb2", &sealed), None);
    }
}
