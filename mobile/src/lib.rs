//! Duet on phones: the whole notebook, offline edits and sync behind one object an app
//! opens on a directory it owns, exposed to Kotlin and Swift (and Python, for the tests)
//! through uniffi. The app team writes only UI.
//!
//! - `app`: [`DuetApp`], the object; edits and views are plain calls, sync is async on a
//!   runtime the library owns
//! - `records`: the typed records and enums the views return
//! - `practice`: prep, health, questions, themes, search, summaries and private notes
//! - `signals`: the drift signals as typed records, with the phone's wording
//! - `members`: the notebook's devices as named members
//! - `week`: every notebook's week at a glance
//! - `wake`: the push endpoint relays wake the phone at, and the bounded sync a wake-up
//!   runs
//! - `error`: [`MobileError`], with messages an app can show
//!
//! Nothing panics across the FFI: every call returns a result, and a panic inside (which
//! would be a bug) is caught by uniffi and reported as an error, not a crash.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod app;
mod error;
mod invites;
mod members;
mod practice;
mod records;
mod recur;
mod signals;
mod undo;
mod wake;
mod week;

pub use app::{ChangeListener, DuetApp};
pub use error::MobileError;
pub use practice::*;
pub use records::*;
pub use signals::*;
pub use wake::*;
pub use week::*;

uniffi::setup_scaffolding!();
