//! What `--json` prints: the CLI's own output types, a contract for scripts (add fields,
//! never rename them). They are built from the core's views, so a change inside the core
//! never changes what a script reads; [`Output::print`](crate::commands::Output::print)
//! takes only these ([`Contract`]).

pub mod notebook;
pub mod practice;
pub mod sync;

use serde::Serialize;

/// A value the CLI prints as JSON: its own types, lists and options of them, and the small
/// objects a command writes in place with `serde_json::json!`.
pub trait Contract: Serialize {}

impl<T: Contract> Contract for Vec<T> {}
impl<T: Contract> Contract for &T {}
impl<T: Contract> Contract for Option<T> {}
impl Contract for serde_json::Value {}

/// Marks the types of this module as part of the contract.
macro_rules! contract {
    ($($t:ty),* $(,)?) => { $(impl crate::json::Contract for $t {})* };
}
pub(crate) use contract;

/// A value as JSON, for an object written in place (a `Contract` type always encodes).
pub fn value<T: Contract>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}
