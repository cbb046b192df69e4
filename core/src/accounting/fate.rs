//! Where a batch's items ended up: the one answer each batch gets, from which
//! the per-item counters follow.

use super::stats::Counters;
use std::sync::atomic::AtomicU64;

/// What became of a batch (or of a part of it, before the parts are combined).
///
/// Ordered from least to most of the data still reaching the service: when
/// the parts of one batch (a 206's retried rest, a 413's halves) end
/// differently, the batch takes the largest, so its items are counted once.
/// The envelope counters (`envelopes_rejected`, `envelopes_dropped_*`) say
/// what a part lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Fate {
    /// Lost on our side, for `DropReason`.
    Dropped(DropReason),
    /// The service refused it for good: the whole request (400, 404, ...),
    /// or each of its envelopes in a 206.
    Rejected,
    /// The service accepted it (in a 206, in part).
    Delivered,
    /// Written to disk, where this or a later process sends it from.
    Persisted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum DropReason {
    /// Pushed out of the bounded memory backlog by newer batches.
    BacklogFull,
    /// A single envelope the service still called too large (413).
    TooLarge,
    /// Its body could not be read back to split or resend it.
    Unreadable,
    /// Let go of without an answer: the task holding it panicked.
    Abandoned,
    /// Writing its envelopes panicked.
    MappingPanicked,
    /// Writing its envelopes failed (the compressor refused).
    WriteFailed,
    /// The spill could not write it to disk.
    SpillFailed,
}

impl Fate {
    /// Whether some of the batch's data is gone for good.
    pub fn is_loss(self) -> bool {
        matches!(self, Fate::Rejected | Fate::Dropped(_))
    }

    /// The per-item counter a batch with this fate adds its items to.
    pub fn items_counter(self, counters: &Counters) -> &AtomicU64 {
        match self {
            Fate::Delivered => &counters.items_delivered,
            Fate::Persisted => &counters.items_persisted,
            Fate::Rejected => &counters.items_rejected,
            Fate::Dropped(DropReason::BacklogFull) => &counters.dropped_backlog_full,
            Fate::Dropped(DropReason::TooLarge) => &counters.dropped_too_large,
            Fate::Dropped(DropReason::MappingPanicked) => &counters.dropped_mapping_error,
            Fate::Dropped(DropReason::SpillFailed) => &counters.dropped_spill_failed,
            Fate::Dropped(
                DropReason::Unreadable | DropReason::Abandoned | DropReason::WriteFailed,
            ) => &counters.items_export_failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_combine_to_what_reached_furthest() {
        let combine = |a: Fate, b: Fate| a.max(b);
        let dropped = Fate::Dropped(DropReason::TooLarge);
        assert_eq!(combine(dropped, Fate::Delivered), Fate::Delivered);
        assert_eq!(combine(Fate::Rejected, dropped), Fate::Rejected);
        assert_eq!(combine(Fate::Persisted, Fate::Delivered), Fate::Persisted);
        assert!(dropped.is_loss() && Fate::Rejected.is_loss());
        assert!(!Fate::Delivered.is_loss() && !Fate::Persisted.is_loss());
    }
}
