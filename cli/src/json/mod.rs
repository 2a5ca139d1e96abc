//! What `--json` prints: the CLI's own output types, a contract for scripts (add fields,
//! never rename them). They are built from the core's views, so a change inside the core
//! never changes what a script reads; [`Output::print`](crate::commands::Output::print)
//! takes only these ([`Contract`]).

pub mod notebook;
pub mod practice;
pub mod results;
pub mod sync;
pub mod week;

use serde::Serialize;

/// A value the CLI prints as JSON: its own types, and lists and options of them. Never an
/// object built in place: every shape a script reads is a type in this module.
pub trait Contract: Serialize {}

impl<T: Contract> Contract for Vec<T> {}
impl<T: Contract> Contract for &T {}
impl<T: Contract> Contract for Option<T> {}

/// Marks the types of this module as part of the contract.
macro_rules! contract {
    ($($t:ty),* $(,)?) => { $(impl crate::json::Contract for $t {})* };
}
pub(crate) use contract;
