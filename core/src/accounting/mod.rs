//! Accounting: what became of every item and batch, for `stats()` and `flush()`.
//!
//! A leaf of the crate: every stage reports here, and this depends on no stage.

mod batch;
mod fate;
mod progress;
mod stats;

pub(crate) use batch::{Ledger, Part};
pub(crate) use fate::{DropReason, Fate};
pub(crate) use progress::Progress;
pub(crate) use stats::Counters;
pub use stats::Stats;
