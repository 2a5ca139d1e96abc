//! Membership you can prove: a space's devices, removals and key epochs as a signed,
//! hash-linked log of operations, and the rules every device applies to it.
//!
//! - [`op`]: one operation, signed by the device that made it, naming its parents
//! - [`log`]: a space's log: operations taken in whatever order they arrive
//! - [`rules`]: the membership a log proves (who is in, which epoch is in force, which
//!   operations do not count and why), the same on every device for the same operations
//!
//! A space is a notebook (two people) or a person's private notes (one). Nothing here does
//! I/O: the log is stored and carried by the layers above, and the rules are a pure
//! function of the set of operations.

pub mod log;
pub mod op;
pub mod rules;

pub use log::{Log, LogError};
pub use op::{Body, DeviceId, Op, OpError, OpId, Person, SignedOp};
pub use rules::{InForce, Membership, Refusal};
