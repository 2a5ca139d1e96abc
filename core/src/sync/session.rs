//! One notebook's peer sync as a state machine, both roles, with no I/O: the only place
//! that knows the protocol's message order, its limits and its refusals.
//!
//! A driver (the in-memory one in [`super::memory`], the QUIC client, the QUIC server)
//! carries messages and nothing else:
//!
//! 1. the client calls [`PeerEngine::start`] and sends what it returns (Open, offers,
//!    OfferEnd); the server's driver reads `Open` itself (it decides which notebook to
//!    load, see [`expect_open`]);
//! 2. each message received goes to [`PeerEngine::receive`], which needs no documents:
//!    it buffers offers and answers, checks the order and the limits, and says when the
//!    engine is ready for its next step;
//! 3. then [`PeerEngine::advance`] runs that step on the loaded documents and returns the
//!    messages to send, and whether the session's result must now be kept (persisted)
//!    before they are sent;
//! 4. the session is over when [`PeerEngine::is_complete`].
//!
//! Keeping the documents out of `receive` means a driver touches the store once per batch,
//! not once per frame, and never while waiting for the peer.

use super::peer::{quiet, PeerDocs, PeerSync, SyncError, MAX_ROUNDS};
use crate::wire::{DocOffer, Message, RoundEntry, Unchanged};

/// Most offers or answers one notebook's sync may carry (a notebook has a few hundred
/// documents; more is a flood).
pub const MAX_DOCS: usize = 100_000;

/// Which end of the stream this engine plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerRole {
    /// Opens the stream, offers first, decides when the rounds are over.
    Client,
    /// Answers.
    Server,
}

#[derive(Debug)]
enum Phase {
    /// Client: nothing sent yet.
    Start,
    /// Server: collecting the client's offers.
    Offers(Vec<DocOffer>),
    /// Server: all offers in, ready to answer.
    OffersDone(Vec<DocOffer>, Unchanged),
    /// Client: collecting the server's answers.
    Answers(Vec<DocOffer>),
    /// Client: all answers in, ready to take them.
    AnswersDone(Vec<DocOffer>, Vec<String>, bool),
    /// Both: in fallback rounds, waiting for the other side's round.
    Rounds,
    /// Both: the other side's round arrived.
    RoundIn(Vec<RoundEntry>),
    /// Server: the client said Done; ready to keep and answer Done.
    DoneIn,
    /// Client: kept the result and sent Done; waiting for the server's Done.
    AwaitDone,
    /// Over.
    Complete,
    /// A refusal ended the session; nothing more is accepted.
    Failed,
}

/// What one step produced.
#[derive(Debug, Default)]
pub struct Advance {
    /// Messages to send, in order.
    pub send: Vec<Message>,
    /// The session's result is final: keep it (persist what arrived and the sync states)
    /// before sending `send`.
    pub keep: bool,
}

/// One notebook's sync with one peer, as a state machine.
pub struct PeerEngine {
    role: PeerRole,
    phase: Phase,
    sync: PeerSync,
    fallback: Vec<String>,
    rounds: usize,
    sent_quiet: bool,
}

impl std::fmt::Debug for PeerEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerEngine")
            .field("role", &self.role)
            .field("phase", &phase_name(&self.phase))
            .field("rounds", &self.rounds)
            .finish()
    }
}

impl PeerEngine {
    /// A new session in `role`.
    pub fn new(role: PeerRole) -> PeerEngine {
        PeerEngine {
            role,
            phase: match role {
                PeerRole::Client => Phase::Start,
                PeerRole::Server => Phase::Offers(Vec::new()),
            },
            sync: PeerSync::new(),
            fallback: Vec::new(),
            rounds: 0,
            sent_quiet: false,
        }
    }

    /// The protocol steps' own state: what changed and the states to persist.
    pub fn sync(&self) -> &PeerSync {
        &self.sync
    }

    /// Whether the session is over.
    pub fn is_complete(&self) -> bool {
        matches!(self.phase, Phase::Complete)
    }

    /// Client: the first messages (Open, an offer per changed document, OfferEnd).
    pub fn start(
        &mut self,
        notebook: &str,
        docs: &mut dyn PeerDocs,
    ) -> Result<Vec<Message>, SyncError> {
        if !matches!((self.role, &self.phase), (PeerRole::Client, Phase::Start)) {
            return Err(self.fail("start is the client's first step".into()));
        }
        let (offers, unchanged) = self.sync.offers(docs)?;
        let mut send = Vec::with_capacity(offers.len() + 2);
        send.push(Message::Open {
            notebook: notebook.to_owned(),
        });
        send.extend(offers.into_iter().map(Message::Offer));
        send.push(Message::OfferEnd { unchanged });
        self.phase = Phase::Answers(Vec::new());
        Ok(send)
    }

    /// Takes one message from the peer. Returns whether the engine is now ready for
    /// [`PeerEngine::advance`]. A message out of order, over a limit, or an error the peer
    /// reports ends the session with a typed error.
    pub fn receive(&mut self, message: Message) -> Result<bool, SyncError> {
        if let Message::Error { message } = message {
            self.phase = Phase::Failed;
            return Err(SyncError::Refused(message));
        }
        let phase = std::mem::replace(&mut self.phase, Phase::Failed);
        let (next, ready) = match (self.role, phase, message) {
            (PeerRole::Server, Phase::Offers(mut offers), Message::Offer(offer)) => {
                if offers.len() >= MAX_DOCS {
                    return Err(self.fail(format!("over {MAX_DOCS} offers")));
                }
                offers.push(offer);
                (Phase::Offers(offers), false)
            }
            (PeerRole::Server, Phase::Offers(offers), Message::OfferEnd { unchanged }) => {
                (Phase::OffersDone(offers, unchanged), true)
            }
            (PeerRole::Client, Phase::Answers(mut answers), Message::Answer(answer)) => {
                if answers.len() >= MAX_DOCS {
                    return Err(self.fail(format!("over {MAX_DOCS} answers")));
                }
                answers.push(answer);
                (Phase::Answers(answers), false)
            }
            (
                PeerRole::Client,
                Phase::Answers(answers),
                Message::AnswerEnd {
                    fallback,
                    summary_matched,
                },
            ) => (Phase::AnswersDone(answers, fallback, summary_matched), true),
            (_, Phase::Rounds, Message::Round(incoming)) => {
                if self.role == PeerRole::Server && self.rounds > MAX_ROUNDS {
                    return Err(self.fail(format!("over {MAX_ROUNDS} sync rounds")));
                }
                (Phase::RoundIn(incoming), true)
            }
            (PeerRole::Server, Phase::Rounds, Message::Done) => (Phase::DoneIn, true),
            (PeerRole::Client, Phase::AwaitDone, Message::Done) => (Phase::Complete, false),
            (_, phase, other) => {
                return Err(self.fail(format!(
                    "{} while {}",
                    message_name(&other),
                    phase_name(&phase)
                )))
            }
        };
        self.phase = next;
        Ok(ready)
    }

    /// Runs the step the last message made ready, on the loaded documents.
    pub fn advance(&mut self, docs: &mut dyn PeerDocs) -> Result<Advance, SyncError> {
        let phase = std::mem::replace(&mut self.phase, Phase::Failed);
        match phase {
            Phase::OffersDone(offers, unchanged) => {
                let (answers, fallback, summary_matched) =
                    self.sync.answer(docs, offers, unchanged)?;
                self.fallback = fallback.clone();
                let mut send: Vec<Message> = answers.into_iter().map(Message::Answer).collect();
                send.push(Message::AnswerEnd {
                    fallback,
                    summary_matched,
                });
                self.phase = Phase::Rounds;
                Ok(Advance { send, keep: false })
            }
            Phase::AnswersDone(answers, fallback, summary_matched) => {
                self.fallback = self
                    .sync
                    .take_answers(docs, answers, fallback, summary_matched)?;
                if self.fallback.is_empty() {
                    return Ok(self.client_done());
                }
                self.client_round(docs, Vec::new())
            }
            Phase::RoundIn(incoming) => match self.role {
                PeerRole::Server => {
                    self.rounds += 1;
                    let round = self.sync.round(docs, &mut self.fallback, incoming)?;
                    self.phase = Phase::Rounds;
                    Ok(Advance {
                        send: vec![Message::Round(round)],
                        keep: false,
                    })
                }
                PeerRole::Client => {
                    if self.sent_quiet && quiet(&incoming) {
                        return Ok(self.client_done());
                    }
                    if self.rounds >= MAX_ROUNDS {
                        return Err(self.fail(format!("did not settle in {MAX_ROUNDS} rounds")));
                    }
                    self.client_round(docs, incoming)
                }
            },
            Phase::DoneIn => {
                self.phase = Phase::Complete;
                Ok(Advance {
                    send: vec![Message::Done],
                    keep: true,
                })
            }
            other => {
                let why = format!("nothing to do while {}", phase_name(&other));
                Err(self.fail(why))
            }
        }
    }

    fn client_round(
        &mut self,
        docs: &mut dyn PeerDocs,
        incoming: Vec<RoundEntry>,
    ) -> Result<Advance, SyncError> {
        self.rounds += 1;
        let round = self.sync.round(docs, &mut self.fallback, incoming)?;
        self.sent_quiet = quiet(&round);
        self.phase = Phase::Rounds;
        Ok(Advance {
            send: vec![Message::Round(round)],
            keep: false,
        })
    }

    fn client_done(&mut self) -> Advance {
        self.phase = Phase::AwaitDone;
        Advance {
            send: vec![Message::Done],
            keep: true,
        }
    }

    fn fail(&mut self, why: String) -> SyncError {
        self.phase = Phase::Failed;
        SyncError::Protocol(why)
    }
}

/// Server: reads the first message of a notebook stream, which must open one of the
/// notebooks this connection proved membership of.
pub fn expect_open(message: Message, allowed: &[String]) -> Result<String, SyncError> {
    match message {
        Message::Open { notebook } if allowed.contains(&notebook) => Ok(notebook),
        Message::Open { .. } => Err(SyncError::Protocol(
            "no such notebook on this connection".into(),
        )),
        Message::Error { message } => Err(SyncError::Refused(message)),
        other => Err(SyncError::Protocol(format!(
            "a notebook stream must start with Open, not {}",
            message_name(&other)
        ))),
    }
}

fn message_name(m: &Message) -> &'static str {
    match m {
        Message::Hello { .. } => "Hello",
        Message::Welcome { .. } => "Welcome",
        Message::Open { .. } => "Open",
        Message::Offer(_) => "Offer",
        Message::OfferEnd { .. } => "OfferEnd",
        Message::Answer(_) => "Answer",
        Message::AnswerEnd { .. } => "AnswerEnd",
        Message::Round(_) => "Round",
        Message::Done => "Done",
        Message::Error { .. } => "Error",
        Message::Redeem { .. } => "Redeem",
        Message::Granted { .. } => "Granted",
        Message::InviteRefused { .. } => "InviteRefused",
    }
}

fn phase_name(p: &Phase) -> &'static str {
    match p {
        Phase::Start => "starting",
        Phase::Offers(_) | Phase::OffersDone(..) => "expecting offers",
        Phase::Answers(_) | Phase::AnswersDone(..) => "expecting answers",
        Phase::Rounds | Phase::RoundIn(_) => "in sync rounds",
        Phase::DoneIn | Phase::AwaitDone => "finishing",
        Phase::Complete => "finished",
        Phase::Failed => "after an error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::memory::MemDocs;

    #[test]
    fn a_message_out_of_order_ends_the_session_with_a_typed_refusal() {
        let mut server = PeerEngine::new(PeerRole::Server);
        let err = server
            .receive(Message::Done)
            .expect_err("Done before any offer");
        assert!(
            matches!(err, SyncError::Protocol(ref why) if why.contains("Done")),
            "{err}"
        );
        // Nothing more is accepted after a refusal.
        let again = server.receive(Message::OfferEnd {
            unchanged: Unchanged::default(),
        });
        assert!(again.is_err());
        let mut client = PeerEngine::new(PeerRole::Client);
        assert!(client.receive(Message::Done).is_err(), "before start");
    }

    #[test]
    fn the_peers_error_is_reported_as_its_own() {
        let mut client = PeerEngine::new(PeerRole::Client);
        let err = client
            .receive(Message::Error {
                message: "disk full over there".into(),
            })
            .expect_err("an error ends it");
        assert!(matches!(err, SyncError::Refused(ref m) if m == "disk full over there"));
    }

    #[test]
    fn a_stream_must_open_a_notebook_of_this_connection() {
        let allowed = vec!["aa".to_owned()];
        assert_eq!(
            expect_open(
                Message::Open {
                    notebook: "aa".into()
                },
                &allowed
            )
            .expect("allowed"),
            "aa"
        );
        assert!(expect_open(
            Message::Open {
                notebook: "bb".into()
            },
            &allowed
        )
        .is_err());
        assert!(expect_open(Message::Done, &allowed).is_err());
    }

    #[test]
    fn a_server_refuses_rounds_past_the_limit() {
        let mut docs = MemDocs::default();
        let mut server = PeerEngine::new(PeerRole::Server);
        server
            .receive(Message::OfferEnd {
                unchanged: Unchanged::default(),
            })
            .expect("offers end");
        server.advance(&mut docs).expect("answers");
        let mut refused = false;
        for _ in 0..=MAX_ROUNDS + 1 {
            match server.receive(Message::Round(Vec::new())) {
                Ok(true) => {
                    server.advance(&mut docs).expect("a round");
                }
                Ok(false) => unreachable!("a round is always ready"),
                Err(SyncError::Protocol(why)) => {
                    assert!(why.contains("rounds"), "{why}");
                    refused = true;
                    break;
                }
                Err(other) => panic!("untyped: {other}"),
            }
        }
        assert!(refused, "a client that never stops is cut off");
    }
}
