//! Duet's end-to-end tests: one test binary, so the workspace links it once.
//!
//! Each module is one promise area of `shared/TESTING.md`'s list, driven through real
//! processes (`duet`, `duet serve`, `duet-relay`, PostgreSQL, tmux) on loopback, with homes
//! in temporary directories. The helpers every module shares live in `duet_tests`
//! (`tests/src`). Run one area with `cargo test -p duet-tests --test e2e relay::`; the
//! cross-implementation test needs `npm ci --prefix tests/js` and runs with `--ignored`.
//!
//! The command lines' own surface tests stay in their crates (`cli/tests/surface.rs`,
//! `relay/tests/cli.rs`): a crate with an integration test is what makes `cargo test`
//! build its binaries, and the modules here run those binaries.

mod agenda_tidy;
mod calendar;
mod calendar_import;
mod convergence;
mod crash;
mod cross_implementation;
mod current_meeting;
mod damage;
mod docs;
mod full_disk;
mod hostile_bundles;
mod in_the_meeting;
mod layers;
mod membership;
mod nearby;
mod node;
mod offline_exchange;
mod p2p;
mod practice;
mod private_notes;
mod recurring;
mod relay;
mod relay_rounds;
mod reminders;
mod service;
mod storage_faults;
mod store_ownership;
mod undo;
mod wake;
mod week;
