//! Transport-free sync state machines. `peer`: device to device (compare heads, send what
//! the other lacks, Automerge's sync protocol as the fallback).

pub mod memory;
pub mod peer;
