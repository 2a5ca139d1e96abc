//! One relay stream's rules as a sans-IO state machine: the order of its frames, which
//! checks run before which bytes are read, and the reply each outcome gets. The server
//! (`server.rs`) only carries what [`Ask`] says over quinn and the store, and hands back an
//! [`Answer`]; so every path of a stream is tested here with no socket and no store.
//!
//! A stream carries `Open` (mailbox, token) and then one request. The token is checked
//! before the request's body is read, so a stranger's body is never read; a mailbox this
//! process already stored a push in under the same token counts as checked, and a push to
//! it goes straight to the writer, which checks it again under the mailbox's lock.

use crate::mailbox_store::{Entries, Opening, PushOutcome};
use crate::metrics::Reason;
use duet_protocol::mailbox::{self, Admission, Refusal, NO_MAILBOX, RETIRED};
use duet_protocol::wire::{self, RelayRefusal, RelayReply, RelayRequest, WireError};

/// Bytes a request may carry besides its envelope (the request's tag and lengths).
pub const REQUEST_OVERHEAD_BYTES: usize = 1024;

/// What the relay allows a stream, from its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// The largest envelope a push or compaction may carry.
    pub max_envelope_bytes: usize,
    /// The store's disk cap (0: none).
    pub max_store_bytes: u64,
    /// Whether creating a mailbox needs a team token.
    pub require_team_token: bool,
}

/// What the stream needs done next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// Read the next request, of at most `limit` bytes.
    Read {
        /// The frame's size limit.
        limit: usize,
    },
    /// Whether this process stored a push in the mailbox under this token.
    Known {
        /// Mailbox id.
        mailbox: String,
        /// The token's verifier.
        verifier: [u8; 32],
    },
    /// What the store holds of the mailbox.
    Opening {
        /// Mailbox id.
        mailbox: String,
    },
    /// Whether a team token is one the relay issued and has not revoked.
    TeamToken {
        /// The token as sent.
        token: String,
    },
    /// The bytes the store holds on disk.
    BytesOnDisk,
    /// Queue a push for the writer and wait until its batch is durable.
    Push {
        /// Mailbox id.
        mailbox: String,
        /// The token's verifier.
        verifier: [u8; 32],
        /// The sealed envelope.
        envelope: Vec<u8>,
        /// Whether the push may create the mailbox.
        create: bool,
    },
    /// Replace the entries up to `upto` with `envelope`.
    Compact {
        /// Mailbox id.
        mailbox: String,
        /// The last sequence number the compaction covers.
        upto: u64,
        /// The envelope that stands for them.
        envelope: Vec<u8>,
    },
    /// Retire the mailbox (`closing`: its 1-1 ended).
    Retire {
        /// Mailbox id.
        mailbox: String,
        /// Whether it is closed rather than retired.
        closing: bool,
    },
    /// Delete the mailbox.
    Delete {
        /// Mailbox id.
        mailbox: String,
    },
    /// Take the mailbox whole (its entries, and the mailbox gone in the same batch).
    Take {
        /// Mailbox id.
        mailbox: String,
        /// The taker's token verifier.
        verifier: [u8; 32],
    },
    /// Register (or, with no endpoint, remove) a push endpoint in a slot.
    SetWake {
        /// Mailbox id.
        mailbox: String,
        /// The slot.
        slot: [u8; 32],
        /// The endpoint.
        endpoint: Option<String>,
    },
    /// A push was stored: remember the token as checked, and wake the mailbox's phones.
    Stored {
        /// Mailbox id.
        mailbox: String,
        /// The token's verifier.
        verifier: [u8; 32],
    },
    /// Forget that the mailbox's token was checked (the mailbox is gone or another's).
    Forget {
        /// Mailbox id.
        mailbox: String,
    },
    /// Send the entries after `after` a page at a time, and the stream ends; `follow`
    /// keeps it open, sending new entries as they become durable.
    Entries {
        /// Mailbox id.
        mailbox: String,
        /// The cursor.
        after: u64,
        /// Whether to stay and follow.
        follow: bool,
    },
    /// Send this reply and end the stream, counting a refusal under `count`.
    Reply {
        /// The reply.
        reply: RelayReply,
        /// The metric a refusal is counted under, if it is counted.
        count: Option<Reason>,
    },
    /// The stream is over.
    Done,
}

/// What a request read gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// A whole request.
    Request(RelayRequest),
    /// The client finished the stream without one.
    End,
    /// A frame over the limit asked.
    TooLarge,
}

/// Why a write other than a push failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteFailure {
    /// The mailbox was retired since the stream opened it.
    Retired,
    /// The store refused it as asked (its words).
    Refused(String),
    /// The store could not do it (shutting down, a failed batch).
    Failed,
}

/// The answer to an [`Ask`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// To [`Ask::Read`].
    Read(Read),
    /// To [`Ask::Known`].
    Known(bool),
    /// To [`Ask::Opening`].
    Opening(Opening),
    /// To [`Ask::TeamToken`].
    TeamToken(bool),
    /// To [`Ask::BytesOnDisk`].
    BytesOnDisk(u64),
    /// To [`Ask::Push`]: `None` when the store could not take it.
    Pushed(Option<PushOutcome>),
    /// To [`Ask::Compact`]: the sequence number compacted up to.
    Compacted(Result<u64, WriteFailure>),
    /// To [`Ask::Retire`].
    Retired(Result<(), WriteFailure>),
    /// To [`Ask::Delete`].
    Deleted(Result<(), WriteFailure>),
    /// To [`Ask::Take`]: the entries, or `None` when another taker was first.
    Taken(Result<Option<Entries>, WriteFailure>),
    /// To [`Ask::SetWake`]: the relay's refusal, in its words.
    WakeSet(Result<(), String>),
    /// To an ask that gives nothing back ([`Ask::Stored`], [`Ask::Forget`],
    /// [`Ask::Entries`], [`Ask::Reply`]).
    Done,
}

/// The stream's `Open`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Open {
    mailbox: String,
    verifier: [u8; 32],
    create: bool,
    team_token: Option<String>,
}

/// Why the stream is being admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Purpose {
    /// Before the request is read (a mailbox this process has not checked the token of).
    BeforeRequest,
    /// For a request already read (a request other than a push, to a known mailbox).
    Request(RelayRequest),
    /// Again, as a push that creates the mailbox (the mailbox was deleted since).
    Recreate(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    AwaitOpen,
    AwaitKnown(Open),
    AwaitOpening(Open, Purpose),
    AwaitTeamToken(Open, Purpose, Opening),
    AwaitRequest(Open, Option<Opening>),
    AwaitBytes {
        open: Open,
        envelope: Vec<u8>,
        checked: bool,
    },
    AwaitPush {
        open: Open,
        retried: bool,
    },
    AwaitForgetThenReadmit(Open, Vec<u8>),
    AwaitStored(u64),
    AwaitForgetThenReply(RelayReply),
    AwaitWrite {
        mailbox: String,
        closing: bool,
    },
    AwaitEnd,
    Done,
}

/// One stream's state machine.
#[derive(Debug)]
pub struct StreamMachine {
    limits: StreamLimits,
    state: State,
}

impl StreamMachine {
    /// A stream, and its first ask: read the `Open`, small (nothing big before proof).
    pub fn start(limits: StreamLimits) -> (Self, Ask) {
        let machine = StreamMachine {
            limits,
            state: State::AwaitOpen,
        };
        let ask = Ask::Read {
            limit: wire::MAX_UNPROVEN_FRAME,
        };
        (machine, ask)
    }

    /// Takes the answer to the last ask and says what to do next. An error means the
    /// client broke the protocol: the server cuts the connection off.
    pub fn step(&mut self, answer: Answer) -> Result<Ask, WireError> {
        let state = std::mem::replace(&mut self.state, State::Done);
        let (next, ask) = self.next(state, answer)?;
        self.state = next;
        Ok(ask)
    }

    fn next(&self, state: State, answer: Answer) -> Result<(State, Ask), WireError> {
        Ok(match (state, answer) {
            (State::AwaitOpen, Answer::Read(read)) => {
                let Read::Request(RelayRequest::Open {
                    mailbox,
                    token,
                    create,
                    team_token,
                }) = read
                else {
                    return Err(malformed("a stream must start with Open"));
                };
                if let Err(r) = mailbox::check_mailbox_id(&mailbox) {
                    return Ok(refusal(r));
                }
                let open = Open {
                    verifier: duet_protocol::crypto::token_verifier(&token),
                    mailbox,
                    create,
                    team_token,
                };
                let ask = Ask::Known {
                    mailbox: open.mailbox.clone(),
                    verifier: open.verifier,
                };
                (State::AwaitKnown(open), ask)
            }
            (State::AwaitKnown(open), Answer::Known(known)) => {
                if known {
                    (State::AwaitRequest(open, None), self.read_request())
                } else {
                    let ask = Ask::Opening {
                        mailbox: open.mailbox.clone(),
                    };
                    (State::AwaitOpening(open, Purpose::BeforeRequest), ask)
                }
            }
            (State::AwaitOpening(open, purpose), Answer::Opening(opening)) => {
                match mailbox::admit(
                    opening.record.as_ref(),
                    &open.verifier,
                    open.create,
                    self.limits.require_team_token,
                ) {
                    Err(r) => refusal(r),
                    Ok(Admission::Open) => self.admitted(open, purpose, opening)?,
                    Ok(Admission::NeedsTeamToken) => match open.team_token.clone() {
                        Some(token) => (
                            State::AwaitTeamToken(open, purpose, opening),
                            Ask::TeamToken { token },
                        ),
                        None => refusal(mailbox::TEAM_TOKEN_REQUIRED),
                    },
                }
            }
            (State::AwaitTeamToken(open, purpose, opening), Answer::TeamToken(valid)) => {
                if valid {
                    self.admitted(open, purpose, opening)?
                } else {
                    refusal(mailbox::TEAM_TOKEN_REQUIRED)
                }
            }
            (State::AwaitRequest(open, opening), Answer::Read(read)) => match read {
                Read::End => (State::Done, Ask::Done),
                Read::TooLarge => too_large(),
                Read::Request(request) => {
                    if opening.is_none() && !matches!(request, RelayRequest::Push { .. }) {
                        let ask = Ask::Opening {
                            mailbox: open.mailbox.clone(),
                        };
                        (State::AwaitOpening(open, Purpose::Request(request)), ask)
                    } else {
                        self.checked(open, opening, request)?
                    }
                }
            },
            (
                State::AwaitBytes {
                    open,
                    envelope,
                    checked,
                },
                Answer::BytesOnDisk(held),
            ) => {
                if held >= self.limits.max_store_bytes {
                    tracing::warn!(
                        held,
                        cap = self.limits.max_store_bytes,
                        "push refused: the relay's store is at its disk cap"
                    );
                    let reply = RelayReply::Refused {
                        why: RelayRefusal::QuotaExceeded,
                        message: "the relay's disk is full; ask its operator (a member device can compact its mailbox)".into(),
                    };
                    (
                        State::AwaitEnd,
                        Ask::Reply {
                            reply,
                            count: Some(Reason::store_full),
                        },
                    )
                } else {
                    push(open, envelope, checked)
                }
            }
            (State::AwaitPush { open, retried }, Answer::Pushed(outcome)) => match outcome {
                Some(PushOutcome::Gone { envelope }) if !retried => {
                    // The mailbox this process knew was deleted since: check the push as
                    // one that creates it.
                    let ask = Ask::Forget {
                        mailbox: open.mailbox.clone(),
                    };
                    (State::AwaitForgetThenReadmit(open, envelope), ask)
                }
                Some(PushOutcome::Stored(seq)) => (
                    State::AwaitStored(seq),
                    Ask::Stored {
                        mailbox: open.mailbox,
                        verifier: open.verifier,
                    },
                ),
                // Gone after a checked push: the mailbox was deleted again meanwhile.
                Some(PushOutcome::WrongToken | PushOutcome::Gone { .. }) => (
                    State::AwaitForgetThenReply(refused(RelayRefusal::NoMailbox, NO_MAILBOX)),
                    Ask::Forget {
                        mailbox: open.mailbox,
                    },
                ),
                Some(PushOutcome::OverQuota) => reply(refused(
                    RelayRefusal::QuotaExceeded,
                    "the mailbox is over its quota; a member device can compact it",
                )),
                Some(PushOutcome::Retired) => reply(refused(RelayRefusal::Retired, RETIRED)),
                None => reply(refused(
                    RelayRefusal::Unavailable,
                    "the relay could not store it; retry",
                )),
            },
            (State::AwaitForgetThenReadmit(open, envelope), Answer::Done) => {
                let ask = Ask::Opening {
                    mailbox: open.mailbox.clone(),
                };
                (State::AwaitOpening(open, Purpose::Recreate(envelope)), ask)
            }
            (State::AwaitStored(seq), Answer::Done) => reply(RelayReply::Pushed { seq }),
            (State::AwaitForgetThenReply(r), Answer::Done) => reply(r),
            (State::AwaitWrite { mailbox, closing }, answer) => written(mailbox, closing, answer)?,
            (State::AwaitEnd, Answer::Done) => (State::Done, Ask::Done),
            (state, answer) => {
                return Err(malformed(&format!(
                    "relay stream: {answer:?} does not answer {state:?}"
                )))
            }
        })
    }

    /// The next request, its envelope bounded by the relay's limit.
    fn read_request(&self) -> Ask {
        Ask::Read {
            limit: self
                .limits
                .max_envelope_bytes
                .saturating_add(REQUEST_OVERHEAD_BYTES),
        }
    }

    /// The stream is admitted to its mailbox: go on where the admission was asked from.
    fn admitted(
        &self,
        open: Open,
        purpose: Purpose,
        opening: Opening,
    ) -> Result<(State, Ask), WireError> {
        Ok(match purpose {
            Purpose::BeforeRequest => (
                State::AwaitRequest(open, Some(opening)),
                self.read_request(),
            ),
            Purpose::Request(request) => self.checked(open, Some(opening), request)?,
            Purpose::Recreate(envelope) => {
                let ask = Ask::Push {
                    mailbox: open.mailbox.clone(),
                    verifier: open.verifier,
                    envelope,
                    create: true,
                };
                (
                    State::AwaitPush {
                        open,
                        retried: true,
                    },
                    ask,
                )
            }
        })
    }

    /// A request on an admitted stream: check it against the mailbox's standing and the
    /// relay's limits, then ask for its work.
    fn checked(
        &self,
        open: Open,
        opening: Option<Opening>,
        request: RelayRequest,
    ) -> Result<(State, Ask), WireError> {
        if let Some(Opening { record, standing }) = opening {
            if let Err(r) = mailbox::check_request(record.as_ref(), standing, &request) {
                return Ok(refusal(r));
            }
        }
        if let RelayRequest::Push { envelope } | RelayRequest::Compact { envelope, .. } = &request {
            if envelope.len() > self.limits.max_envelope_bytes {
                return Ok(too_large());
            }
        }
        let mailbox = open.mailbox.clone();
        Ok(match request {
            RelayRequest::Push { envelope } => {
                let checked = opening.is_some();
                if self.limits.max_store_bytes > 0 {
                    (
                        State::AwaitBytes {
                            open,
                            envelope,
                            checked,
                        },
                        Ask::BytesOnDisk,
                    )
                } else {
                    push(open, envelope, checked)
                }
            }
            RelayRequest::Pull { after } => (
                State::AwaitEnd,
                Ask::Entries {
                    mailbox,
                    after,
                    follow: false,
                },
            ),
            RelayRequest::Subscribe { after } => (
                State::AwaitEnd,
                Ask::Entries {
                    mailbox,
                    after,
                    follow: true,
                },
            ),
            RelayRequest::Compact { upto, envelope } => (
                write(&mailbox),
                Ask::Compact {
                    mailbox,
                    upto,
                    envelope,
                },
            ),
            RelayRequest::Retire => (
                write(&mailbox),
                Ask::Retire {
                    mailbox,
                    closing: false,
                },
            ),
            RelayRequest::Close => (
                State::AwaitWrite {
                    mailbox: mailbox.clone(),
                    closing: true,
                },
                Ask::Retire {
                    mailbox,
                    closing: true,
                },
            ),
            RelayRequest::Delete => (write(&mailbox), Ask::Delete { mailbox }),
            RelayRequest::Take => (
                write(&mailbox),
                Ask::Take {
                    mailbox,
                    verifier: open.verifier,
                },
            ),
            RelayRequest::SetWake { slot, endpoint } => (
                write(&mailbox),
                Ask::SetWake {
                    mailbox,
                    slot,
                    endpoint,
                },
            ),
            RelayRequest::Open { .. } => return Err(malformed("Open twice")),
        })
    }
}

/// A push's ask; `checked`: the token was checked against the store on this stream (a
/// push that is not checked may not create the mailbox: the writer checks it).
fn push(open: Open, envelope: Vec<u8>, checked: bool) -> (State, Ask) {
    let ask = Ask::Push {
        mailbox: open.mailbox.clone(),
        verifier: open.verifier,
        envelope,
        create: checked,
    };
    (
        State::AwaitPush {
            open,
            retried: false,
        },
        ask,
    )
}

/// Waiting for a write other than a push.
fn write(mailbox: &str) -> State {
    State::AwaitWrite {
        mailbox: mailbox.to_owned(),
        closing: false,
    }
}

/// The reply to a write other than a push.
fn written(mailbox: String, closing: bool, answer: Answer) -> Result<(State, Ask), WireError> {
    let unavailable = |what: &str| {
        refused(
            RelayRefusal::Unavailable,
            &format!("the relay could not {what}; retry"),
        )
    };
    Ok(match answer {
        Answer::Compacted(result) => reply(match result {
            Ok(upto) => RelayReply::Compacted { upto },
            Err(WriteFailure::Retired) => refused(RelayRefusal::Retired, RETIRED),
            Err(_) => unavailable("compact"),
        }),
        Answer::Retired(result) => uncounted(match result {
            Ok(()) if closing => RelayReply::Closed,
            Ok(()) => RelayReply::Retired,
            Err(_) => unavailable("retire the mailbox"),
        }),
        // The mailbox is gone: its token no longer counts as checked here.
        Answer::Deleted(Ok(())) => forget_then(mailbox, RelayReply::Deleted),
        Answer::Deleted(Err(_)) => uncounted(unavailable("delete the mailbox")),
        Answer::Taken(Ok(Some(entries))) => forget_then(
            mailbox,
            RelayReply::Entries {
                entries,
                more: false,
            },
        ),
        // Another taker was first (or the mailbox went meanwhile).
        Answer::Taken(Ok(None)) => reply(refused(RelayRefusal::NoMailbox, NO_MAILBOX)),
        Answer::Taken(Err(WriteFailure::Refused(message))) => reply(RelayReply::Refused {
            why: RelayRefusal::BadRequest,
            message,
        }),
        Answer::Taken(Err(_)) => reply(unavailable("take the mailbox")),
        Answer::WakeSet(result) => reply(match result {
            Ok(()) => RelayReply::WakeSet,
            Err(message) => RelayReply::Refused {
                why: RelayRefusal::WakeRefused,
                message,
            },
        }),
        other => {
            return Err(malformed(&format!(
                "relay stream: {other:?} is no write's answer"
            )))
        }
    })
}

/// A reply that ends the stream, a refusal counted by its reason.
fn reply(reply: RelayReply) -> (State, Ask) {
    let count = match &reply {
        RelayReply::Refused { why, .. } => Some(reason_of(*why)),
        _ => None,
    };
    (State::AwaitEnd, Ask::Reply { reply, count })
}

/// A reply that ends the stream, not counted (the relay's own failure to retire or
/// delete, which the client retries).
fn uncounted(reply: RelayReply) -> (State, Ask) {
    (State::AwaitEnd, Ask::Reply { reply, count: None })
}

/// A mailbox rule's refusal.
fn refusal(r: Refusal) -> (State, Ask) {
    reply(refused(r.why, r.message))
}

fn too_large() -> (State, Ask) {
    reply(refused(
        RelayRefusal::BadRequest,
        "envelope over the size limit",
    ))
}

fn refused(why: RelayRefusal, message: &str) -> RelayReply {
    RelayReply::Refused {
        why,
        message: message.to_owned(),
    }
}

/// Forgets the mailbox's checked token, then sends `reply`.
fn forget_then(mailbox: String, reply: RelayReply) -> (State, Ask) {
    (State::AwaitForgetThenReply(reply), Ask::Forget { mailbox })
}

fn malformed(why: &str) -> WireError {
    WireError::Malformed(why.to_owned())
}

/// The metric label of a refusal.
pub fn reason_of(why: RelayRefusal) -> Reason {
    match why {
        RelayRefusal::NoMailbox => Reason::no_mailbox,
        RelayRefusal::TeamTokenRequired => Reason::team_token_required,
        RelayRefusal::QuotaExceeded => Reason::mailbox_quota,
        RelayRefusal::RateLimited => Reason::rate_limited,
        RelayRefusal::BadRequest => Reason::bad_request,
        RelayRefusal::Retired => Reason::retired_mailbox,
        RelayRefusal::WakeRefused => Reason::wake_refused,
        _ => Reason::unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use duet_protocol::crypto::token_verifier;
    use duet_protocol::mailbox::{MailboxRecord, Standing};

    const TOKEN: [u8; 32] = [7; 32];
    const MAILBOX: &str = "ab12";

    fn limits() -> StreamLimits {
        StreamLimits {
            max_envelope_bytes: 1000,
            max_store_bytes: 0,
            require_team_token: false,
        }
    }

    fn open(create: bool, team_token: Option<&str>) -> Answer {
        Answer::Read(Read::Request(RelayRequest::Open {
            mailbox: MAILBOX.into(),
            token: TOKEN,
            create,
            team_token: team_token.map(str::to_owned),
        }))
    }

    fn request(r: RelayRequest) -> Answer {
        Answer::Read(Read::Request(r))
    }

    fn opening(verifier: [u8; 32], standing: Standing) -> Answer {
        Answer::Opening(Opening {
            record: Some(MailboxRecord::new(verifier)),
            standing,
        })
    }

    fn no_mailbox() -> Answer {
        Answer::Opening(Opening {
            record: None,
            standing: Standing::Live,
        })
    }

    /// Drives a stream with `answers`, returning every ask it made (the first included).
    fn run(limits: StreamLimits, answers: Vec<Answer>) -> Result<Vec<Ask>, WireError> {
        let (mut machine, first) = StreamMachine::start(limits);
        let mut asks = vec![first];
        for answer in answers {
            asks.push(machine.step(answer)?);
        }
        Ok(asks)
    }

    fn refusal_of(ask: &Ask) -> Option<(RelayRefusal, Option<Reason>)> {
        match ask {
            Ask::Reply {
                reply: RelayReply::Refused { why, .. },
                count,
            } => Some((*why, *count)),
            _ => None,
        }
    }

    fn envelope_reads(asks: &[Ask]) -> usize {
        asks.iter()
            .filter(|a| matches!(a, Ask::Read { limit } if *limit > wire::MAX_UNPROVEN_FRAME))
            .count()
    }

    #[test]
    fn a_strangers_body_is_never_read() {
        let asks = run(
            limits(),
            vec![
                open(true, None),
                Answer::Known(false),
                opening([9; 32], Standing::Live),
            ],
        )
        .expect("runs");
        assert_eq!(
            asks[0],
            Ask::Read {
                limit: wire::MAX_UNPROVEN_FRAME
            }
        );
        assert_eq!(
            refusal_of(asks.last().expect("ask")),
            Some((RelayRefusal::NoMailbox, Some(Reason::no_mailbox)))
        );
        assert_eq!(
            envelope_reads(&asks),
            0,
            "no request body read before the token"
        );
    }

    #[test]
    fn a_push_to_a_mailbox_this_process_knows_goes_straight_to_the_writer() {
        let asks = run(
            limits(),
            vec![
                open(false, None),
                Answer::Known(true),
                request(RelayRequest::Push {
                    envelope: vec![1; 10],
                }),
                Answer::Pushed(Some(PushOutcome::Stored(7))),
                Answer::Done,
                Answer::Done,
            ],
        )
        .expect("runs");
        assert!(!asks.iter().any(|a| matches!(a, Ask::Opening { .. })));
        assert_eq!(
            asks[3],
            Ask::Push {
                mailbox: MAILBOX.into(),
                verifier: token_verifier(&TOKEN),
                envelope: vec![1; 10],
                create: false,
            }
        );
        assert_eq!(
            asks[4],
            Ask::Stored {
                mailbox: MAILBOX.into(),
                verifier: token_verifier(&TOKEN)
            }
        );
        assert_eq!(
            asks[5],
            Ask::Reply {
                reply: RelayReply::Pushed { seq: 7 },
                count: None
            }
        );
        assert_eq!(asks[6], Ask::Done);
    }

    #[test]
    fn a_push_to_a_mailbox_deleted_since_is_checked_again_as_one_that_creates_it() {
        let push = RelayRequest::Push {
            envelope: vec![2; 5],
        };
        let gone = || {
            Answer::Pushed(Some(PushOutcome::Gone {
                envelope: vec![2; 5],
            }))
        };
        // Created again: admitted as a creating push.
        let asks = run(
            limits(),
            vec![
                open(true, None),
                Answer::Known(true),
                request(push.clone()),
                gone(),
                Answer::Done,
                no_mailbox(),
                Answer::Pushed(Some(PushOutcome::Stored(1))),
            ],
        )
        .expect("runs");
        assert_eq!(
            asks[4],
            Ask::Forget {
                mailbox: MAILBOX.into()
            }
        );
        assert!(matches!(asks[6], Ask::Push { create: true, .. }));
        assert!(matches!(asks[7], Ask::Stored { .. }));
        // A stream that may not create it is refused, and a second "gone" is final.
        let asks = run(
            limits(),
            vec![
                open(false, None),
                Answer::Known(true),
                request(push.clone()),
                gone(),
                Answer::Done,
                no_mailbox(),
            ],
        )
        .expect("runs");
        assert_eq!(
            refusal_of(asks.last().expect("ask")),
            Some((RelayRefusal::NoMailbox, Some(Reason::no_mailbox)))
        );
        let asks = run(
            limits(),
            vec![
                open(true, None),
                Answer::Known(true),
                request(push),
                gone(),
                Answer::Done,
                no_mailbox(),
                gone(),
                Answer::Done,
            ],
        )
        .expect("runs");
        assert_eq!(
            asks[7],
            Ask::Forget {
                mailbox: MAILBOX.into()
            }
        );
        assert_eq!(
            refusal_of(&asks[8]),
            Some((RelayRefusal::NoMailbox, Some(Reason::no_mailbox)))
        );
    }

    #[test]
    fn creating_a_mailbox_needs_a_valid_team_token_where_the_relay_asks_for_one() {
        let strict = StreamLimits {
            require_team_token: true,
            ..limits()
        };
        let asks = run(
            strict,
            vec![open(true, None), Answer::Known(false), no_mailbox()],
        )
        .expect("runs");
        assert_eq!(
            refusal_of(asks.last().expect("ask")),
            Some((
                RelayRefusal::TeamTokenRequired,
                Some(Reason::team_token_required)
            ))
        );
        let asks = run(
            strict,
            vec![
                open(true, Some("t")),
                Answer::Known(false),
                no_mailbox(),
                Answer::TeamToken(false),
            ],
        )
        .expect("runs");
        assert_eq!(asks[3], Ask::TeamToken { token: "t".into() });
        assert_eq!(
            refusal_of(&asks[4]).map(|r| r.0),
            Some(RelayRefusal::TeamTokenRequired)
        );
        let asks = run(
            strict,
            vec![
                open(true, Some("t")),
                Answer::Known(false),
                no_mailbox(),
                Answer::TeamToken(true),
                request(RelayRequest::Push { envelope: vec![3] }),
            ],
        )
        .expect("runs");
        assert!(matches!(asks[5], Ask::Push { create: true, .. }));
    }

    #[test]
    fn limits_refuse_before_the_writer_sees_anything() {
        let known = [open(false, None), Answer::Known(true)];
        // A frame over the read limit, an envelope over the envelope limit.
        for last in [
            Answer::Read(Read::TooLarge),
            request(RelayRequest::Push {
                envelope: vec![0; 1001],
            }),
        ] {
            let mut answers = known.to_vec();
            answers.push(last);
            let asks = run(limits(), answers).expect("runs");
            assert_eq!(
                refusal_of(asks.last().expect("ask")),
                Some((RelayRefusal::BadRequest, Some(Reason::bad_request)))
            );
        }
        // The disk cap: counted as the store being full.
        let capped = StreamLimits {
            max_store_bytes: 100,
            ..limits()
        };
        let mut answers = known.to_vec();
        answers.extend([
            request(RelayRequest::Push {
                envelope: vec![0; 10],
            }),
            Answer::BytesOnDisk(100),
        ]);
        let asks = run(capped, answers).expect("runs");
        assert_eq!(asks[3], Ask::BytesOnDisk);
        assert_eq!(
            refusal_of(&asks[4]),
            Some((RelayRefusal::QuotaExceeded, Some(Reason::store_full)))
        );
        assert!(!asks.iter().any(|a| matches!(a, Ask::Push { .. })));
    }

    #[test]
    fn a_retired_mailbox_is_read_and_never_written() {
        let verifier = token_verifier(&TOKEN);
        let start = |r: RelayRequest| {
            vec![
                open(false, None),
                Answer::Known(false),
                opening(verifier, Standing::Retired),
                request(r),
            ]
        };
        let asks = run(limits(), start(RelayRequest::Push { envelope: vec![1] })).expect("runs");
        assert_eq!(
            refusal_of(asks.last().expect("ask")),
            Some((RelayRefusal::Retired, Some(Reason::retired_mailbox)))
        );
        let asks = run(limits(), start(RelayRequest::Pull { after: 3 })).expect("runs");
        assert_eq!(
            asks.last(),
            Some(&Ask::Entries {
                mailbox: MAILBOX.into(),
                after: 3,
                follow: false
            })
        );
        // A known mailbox's request other than a push is checked against the store first.
        let asks = run(
            limits(),
            vec![
                open(false, None),
                Answer::Known(true),
                request(RelayRequest::Delete),
                opening(verifier, Standing::Retired),
            ],
        )
        .expect("runs");
        assert_eq!(
            asks[3],
            Ask::Opening {
                mailbox: MAILBOX.into()
            }
        );
        assert_eq!(
            refusal_of(&asks[4]).map(|r| r.0),
            Some(RelayRefusal::Retired)
        );
    }

    #[test]
    fn writes_answer_with_their_outcome() {
        let verifier = token_verifier(&TOKEN);
        let admitted = |r: RelayRequest, standing| {
            vec![
                open(false, None),
                Answer::Known(false),
                opening(verifier, standing),
                request(r),
            ]
        };
        let mut close = admitted(RelayRequest::Close, Standing::Live);
        close.push(Answer::Retired(Ok(())));
        let asks = run(limits(), close).expect("runs");
        assert_eq!(
            asks[4],
            Ask::Retire {
                mailbox: MAILBOX.into(),
                closing: true
            }
        );
        assert_eq!(
            asks[5],
            Ask::Reply {
                reply: RelayReply::Closed,
                count: None
            }
        );
        let mut delete = admitted(RelayRequest::Delete, Standing::Closed);
        delete.extend([Answer::Deleted(Ok(())), Answer::Done]);
        let asks = run(limits(), delete).expect("runs");
        assert_eq!(
            asks[5],
            Ask::Forget {
                mailbox: MAILBOX.into()
            }
        );
        assert_eq!(
            asks[6],
            Ask::Reply {
                reply: RelayReply::Deleted,
                count: None
            }
        );
        let mut take = admitted(RelayRequest::Take, Standing::Live);
        take.push(Answer::Taken(Ok(None)));
        let asks = run(limits(), take).expect("runs");
        assert_eq!(
            refusal_of(&asks[5]).map(|r| r.0),
            Some(RelayRefusal::NoMailbox)
        );
        let mut compact = admitted(
            RelayRequest::Compact {
                upto: 4,
                envelope: vec![1],
            },
            Standing::Live,
        );
        compact.push(Answer::Compacted(Err(WriteFailure::Retired)));
        let asks = run(limits(), compact).expect("runs");
        assert_eq!(
            refusal_of(&asks[5]).map(|r| r.0),
            Some(RelayRefusal::Retired)
        );
    }

    #[test]
    fn a_client_that_breaks_the_order_is_cut_off() {
        assert!(run(limits(), vec![request(RelayRequest::Pull { after: 0 })]).is_err());
        assert!(run(limits(), vec![Answer::Read(Read::End)]).is_err());
        let twice = vec![
            open(false, None),
            Answer::Known(true),
            open(false, None),
            opening(token_verifier(&TOKEN), Standing::Live),
        ];
        assert!(run(limits(), twice).is_err());
        // An answer that is not the one asked for is the driver's bug, refused loudly.
        assert!(run(limits(), vec![Answer::Known(true)]).is_err());
        // A mailbox id that is not one is refused before anything is looked up.
        let bad = Answer::Read(Read::Request(RelayRequest::Open {
            mailbox: "not hex".into(),
            token: TOKEN,
            create: true,
            team_token: None,
        }));
        let asks = run(limits(), vec![bad]).expect("runs");
        assert_eq!(
            refusal_of(&asks[1]).map(|r| r.0),
            Some(RelayRefusal::BadRequest)
        );
    }
}
