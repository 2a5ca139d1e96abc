//! A relay mailbox's rules, written once: `duet-relay` applies them (its server to each
//! stream, both its backends to each write), and so does the relay in memory that tests
//! sync through ([`crate::net::memory_relay`]). Which token opens a mailbox, what creates
//! one, what a retired mailbox still allows, how a push is numbered and a compaction
//! bounded, and the words each refusal carries.

use crate::wire::{RelayRefusal, RelayRequest};
use serde::{Deserialize, Serialize};

/// The longest mailbox id a relay takes (hex).
pub const MAX_MAILBOX_ID_CHARS: usize = 64;

/// The most envelope bytes a mailbox may hold to be taken whole in one reply (a welcome
/// is under a kilobyte; a notebook's mailbox is never taken).
pub const MAX_TAKE_BYTES: usize = 256 * 1024;

/// Refused: a take of a mailbox holding more than [`MAX_TAKE_BYTES`].
pub const TOO_LARGE_TO_TAKE: &str = "this mailbox holds too much to be taken whole";

/// Refused: the mailbox does not exist, or the token does not open it (one answer for
/// both, so a stranger learns nothing of which mailboxes exist).
pub const NO_MAILBOX: &str = "no such mailbox, or the token does not open it";
/// Refused: a write to a retired mailbox.
pub const RETIRED: &str = "this mailbox was retired: its notebook moved to new keys (a device was removed); a device still a member finds them by syncing";

/// Where a mailbox stands, beside its record. A retired or closed mailbox is read and
/// never written again; a retired one is a tombstone: it keeps the sealed notice of the
/// rotation that retired it for devices that were offline, so its members cannot delete
/// it, retention passes it by, and even once an operator forces its content away, its id
/// is never made again (a device that missed the rotation would otherwise push there with
/// the old key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Standing {
    /// Read and written.
    #[default]
    Live,
    /// Its 1-1 ended: read, never written; its members may delete it.
    Closed,
    /// Its notebook moved to new keys: a tombstone.
    Retired,
}

impl Standing {
    /// Whether writes (pushes, compactions, takes) are refused.
    pub fn read_only(self) -> bool {
        self != Standing::Live
    }

    /// The standing after a retire (`closing`: a close) request: a tombstone never
    /// becomes anything else.
    pub fn after(self, closing: bool) -> Standing {
        match (self, closing) {
            (Standing::Retired, _) | (_, false) => Standing::Retired,
            (_, true) => Standing::Closed,
        }
    }
}

/// What a relay keeps about a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxRecord {
    /// BLAKE3 of the mailbox's token.
    pub verifier: [u8; 32],
    /// The newest sequence number (0: empty).
    pub head: u64,
    /// Entries before this were replaced by a snapshot at this sequence number.
    pub floor: u64,
    /// Bytes of envelopes held.
    pub bytes: u64,
}

/// Why a push that reached the writer is not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushRefusal {
    /// Another token made the mailbox first (a race the stream's check cannot see).
    WrongToken,
    /// The mailbox is over its quota.
    OverQuota,
}

impl MailboxRecord {
    /// An empty mailbox opened by the token with this verifier.
    pub fn new(verifier: [u8; 32]) -> MailboxRecord {
        MailboxRecord {
            verifier,
            head: 0,
            floor: 0,
            bytes: 0,
        }
    }

    /// Takes a push of `len` bytes: its sequence number, or why it is refused.
    pub fn accept_push(
        &mut self,
        verifier: &[u8; 32],
        len: usize,
        quota: u64,
    ) -> Result<u64, PushRefusal> {
        if self.verifier != *verifier {
            return Err(PushRefusal::WrongToken);
        }
        if self.bytes + len as u64 > quota {
            return Err(PushRefusal::OverQuota);
        }
        self.head += 1;
        self.bytes += len as u64;
        Ok(self.head)
    }

    /// Where a compaction up to `upto` puts its snapshot: not past the head, not before
    /// the last snapshot.
    pub fn compaction_point(&self, upto: u64) -> u64 {
        upto.min(self.head).max(self.floor)
    }

    /// Envelopes held (a compaction's snapshot counts as one).
    pub fn entries(&self) -> u64 {
        self.head.saturating_sub(self.floor) + u64::from(self.floor > 0)
    }
}

/// A refusal as the relay sends it: typed, and in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// Why, for the device's code.
    pub why: RelayRefusal,
    /// Why, for people.
    pub message: &'static str,
}

const fn refusal(why: RelayRefusal, message: &'static str) -> Refusal {
    Refusal { why, message }
}

/// Whether `id` can name a mailbox.
pub fn check_mailbox_id(id: &str) -> Result<(), Refusal> {
    if id.len() > MAX_MAILBOX_ID_CHARS || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(refusal(RelayRefusal::BadRequest, "not a mailbox id"));
    }
    Ok(())
}

/// How a stream's `Open` may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The token opens the mailbox, or the stream may create it.
    Open,
    /// The stream would create a mailbox on a relay that requires a team token: it goes
    /// on only if its team token is valid.
    NeedsTeamToken,
}

/// The token (by its verifier) must open an existing mailbox, and a stream that creates
/// one must be allowed to.
pub fn admit(
    record: Option<&MailboxRecord>,
    verifier: &[u8; 32],
    create: bool,
    require_team_token: bool,
) -> Result<Admission, Refusal> {
    match record {
        Some(m) if m.verifier != *verifier => Err(refusal(RelayRefusal::NoMailbox, NO_MAILBOX)),
        Some(_) => Ok(Admission::Open),
        None if !create => Err(refusal(RelayRefusal::NoMailbox, NO_MAILBOX)),
        None if require_team_token => Ok(Admission::NeedsTeamToken),
        None => Ok(Admission::Open),
    }
}

/// The refusal when a team token is missing or not valid.
pub const TEAM_TOKEN_REQUIRED: Refusal = refusal(
    RelayRefusal::TeamTokenRequired,
    "this relay requires a team token to create a notebook's mailbox (ask its operator: duet-relay token new)",
);

/// Refused: a member's delete of a retired mailbox (a tombstone).
pub const TOMBSTONE: &str = "this mailbox was retired when its notebook moved to new keys; it stays, for the devices that have not yet read the move";

/// Whether `request` may run on an admitted mailbox: only a push creates one; members
/// delete only a closed mailbox (a retired one is a tombstone, a live one is still in
/// use); a retired or closed mailbox is never written, nor taken, and its id is never
/// made again; a retired mailbox is never closed.
pub fn check_request(
    record: Option<&MailboxRecord>,
    standing: Standing,
    request: &RelayRequest,
) -> Result<(), Refusal> {
    let writes = matches!(
        request,
        RelayRequest::Push { .. }
            | RelayRequest::Compact { .. }
            | RelayRequest::Take
            | RelayRequest::SetWake {
                endpoint: Some(_),
                ..
            }
    );
    if writes && standing.read_only() {
        return Err(refusal(RelayRefusal::Retired, RETIRED));
    }
    if record.is_none() && !matches!(request, RelayRequest::Push { .. }) {
        return Err(refusal(RelayRefusal::NoMailbox, NO_MAILBOX));
    }
    match (request, standing) {
        (RelayRequest::Delete, Standing::Live) => Err(refusal(
            RelayRefusal::BadRequest,
            "only a closed mailbox can be deleted by its members",
        )),
        (RelayRequest::Delete, Standing::Retired) => Err(refusal(RelayRefusal::Retired, TOMBSTONE)),
        (RelayRequest::Close, Standing::Retired) => Err(refusal(RelayRefusal::Retired, RETIRED)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_its_mailbox_and_only_a_push_may_create_one() {
        let mine = MailboxRecord::new([1; 32]);
        assert_eq!(
            admit(Some(&mine), &[1; 32], false, true),
            Ok(Admission::Open)
        );
        assert_eq!(
            admit(Some(&mine), &[2; 32], true, false).map_err(|r| r.why),
            Err(RelayRefusal::NoMailbox)
        );
        assert_eq!(
            admit(None, &[1; 32], false, false).map_err(|r| r.why),
            Err(RelayRefusal::NoMailbox)
        );
        assert_eq!(
            admit(None, &[1; 32], true, true),
            Ok(Admission::NeedsTeamToken)
        );
        let pull = RelayRequest::Pull { after: 0 };
        assert_eq!(
            check_request(None, Standing::Live, &pull).map_err(|r| r.why),
            Err(RelayRefusal::NoMailbox)
        );
        let push = RelayRequest::Push { envelope: vec![1] };
        assert_eq!(check_request(None, Standing::Live, &push), Ok(()));
    }

    #[test]
    fn a_retired_mailbox_is_a_tombstone_and_a_closed_one_may_go() {
        let m = MailboxRecord::new([1; 32]);
        let push = RelayRequest::Push { envelope: vec![1] };
        let compact = RelayRequest::Compact {
            upto: 1,
            envelope: vec![1],
        };
        let why = |record: Option<&MailboxRecord>, standing, request: &RelayRequest| {
            check_request(record, standing, request).map_err(|r| r.why)
        };
        for standing in [Standing::Retired, Standing::Closed] {
            for write in [&push, &compact, &RelayRequest::Take] {
                assert_eq!(why(Some(&m), standing, write), Err(RelayRefusal::Retired));
            }
            assert_eq!(
                why(Some(&m), standing, &RelayRequest::Pull { after: 0 }),
                Ok(())
            );
        }
        // Its id is never made again, even once its content is gone.
        assert_eq!(
            why(None, Standing::Retired, &push),
            Err(RelayRefusal::Retired)
        );
        assert_eq!(
            why(Some(&m), Standing::Live, &RelayRequest::Delete),
            Err(RelayRefusal::BadRequest)
        );
        assert_eq!(
            why(Some(&m), Standing::Retired, &RelayRequest::Delete),
            Err(RelayRefusal::Retired)
        );
        assert_eq!(
            why(Some(&m), Standing::Closed, &RelayRequest::Delete),
            Ok(())
        );
        assert_eq!(
            why(Some(&m), Standing::Retired, &RelayRequest::Close),
            Err(RelayRefusal::Retired)
        );
        assert_eq!(why(Some(&m), Standing::Live, &RelayRequest::Take), Ok(()));
        assert_eq!(
            why(None, Standing::Live, &RelayRequest::Take),
            Err(RelayRefusal::NoMailbox)
        );
        assert_eq!(Standing::Closed.after(false), Standing::Retired);
        assert_eq!(Standing::Retired.after(true), Standing::Retired);
        assert_eq!(Standing::Live.after(true), Standing::Closed);
    }

    #[test]
    fn pushes_are_numbered_within_the_quota_and_compactions_stay_in_bounds() {
        let mut m = MailboxRecord::new([1; 32]);
        assert_eq!(m.accept_push(&[1; 32], 10, 25), Ok(1));
        assert_eq!(m.accept_push(&[1; 32], 10, 25), Ok(2));
        assert_eq!(m.accept_push(&[1; 32], 10, 25), Err(PushRefusal::OverQuota));
        assert_eq!(m.accept_push(&[2; 32], 1, 25), Err(PushRefusal::WrongToken));
        assert_eq!(m.compaction_point(9), 2);
        m.floor = 2;
        assert_eq!(m.compaction_point(1), 2);
        assert_eq!(m.entries(), 1);
        assert!(check_mailbox_id("0a1B").is_ok());
        assert!(check_mailbox_id("xyz").is_err());
        assert!(check_mailbox_id(&"a".repeat(65)).is_err());
    }
}
