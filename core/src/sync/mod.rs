//! Transport-free sync state machines. `session`: the message order of one notebook's peer
//! sync, both roles. `peer`: its steps (compare heads, send what the other lacks,
//! Automerge's sync protocol as the fallback). `relay_session`: the order of one sync
//! with a relay; `relay_round`: the steps around it (farewells, welcomes, the end of a 1-1,
//! the push endpoint, compaction); `relay_feed`: what a live subscription to it carries. `relay`: the sealed envelopes a device pushes to and pulls from its
//! notebook's relay mailbox. `limits`: what a member's device may send.

pub mod limits;
pub mod memory;
pub mod peer;
pub mod relay;
pub mod relay_feed;
pub mod relay_round;
pub mod relay_session;
pub mod session;
