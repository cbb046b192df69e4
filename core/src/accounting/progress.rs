//! Completion tracking for `flush`: which batches have settled.
//!
//! Batches get increasing ids and may finish out of order (several exports run
//! at once). `flush` waits until every batch up to a given id has settled and
//! then reports whether any of them failed.

use super::batch::BatchRef;
use super::stats::Counters;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

#[derive(Debug, Default)]
struct State {
    /// Every batch id `< settled_below` has settled.
    settled_below: u64,
    /// Settled ids above the contiguous prefix.
    settled_ahead: BTreeSet<u64>,
    /// Ids of failed batches (kept only until no flush can ask; small in practice).
    failed: BTreeSet<u64>,
}

#[derive(Debug, Default)]
pub(crate) struct Progress {
    state: Mutex<State>,
    changed: Condvar,
    /// Ids come from one sequence for every producer of batches (the worker,
    /// the spill), so "all ids below N settled" covers all of them.
    next_id: AtomicU64,
}

impl Progress {
    /// A fresh batch id.
    pub fn allocate(&self) -> u64 {
        self.next_id.fetch_add(1, SeqCst)
    }

    /// The id the next batch will get: every batch made so far is below it.
    pub fn allocated(&self) -> u64 {
        self.next_id.load(SeqCst)
    }

    /// Records that `batch` settled (delivered, persisted, or lost), with the
    /// counters that go with it. Every path that finishes a batch ends here.
    pub fn settle_batch(&self, counters: &Counters, batch: BatchRef, failed: bool) {
        let outcome = if failed {
            &counters.batches_failed
        } else {
            &counters.batches_exported
        };
        Counters::add(outcome, 1);
        Counters::add(&counters.items_settled, batch.items);
        self.settle(batch.id, failed);
    }

    /// Records that batch `id` settled, delivered or not.
    pub fn settle(&self, id: u64, failed: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if failed {
            s.failed.insert(id);
        }
        s.settled_ahead.insert(id);
        loop {
            let next = s.settled_below;
            if !s.settled_ahead.remove(&next) {
                break;
            }
            s.settled_below += 1;
        }
        drop(s);
        self.changed.notify_all();
    }

    /// Waits until all batches with id `< end` settled. Returns `Some(true)` if
    /// none of those in `start..end` failed, `Some(false)` if one did, and
    /// `None` when the deadline passed first.
    pub fn wait(&self, start: u64, end: u64, deadline: Instant) -> Option<bool> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if s.settled_below >= end {
                return Some(s.failed.range(start..end).next().is_none());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            s = self
                .changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn waits_for_the_contiguous_prefix_and_reports_failures() {
        let p = Progress::default();
        let soon = || Instant::now() + Duration::from_millis(20);
        p.settle(1, false);
        assert_eq!(p.wait(0, 2, soon()), None, "batch 0 has not settled");
        p.settle(0, false);
        assert_eq!(p.wait(0, 2, soon()), Some(true));
        p.settle(2, true);
        assert_eq!(p.wait(0, 3, soon()), Some(false));
        assert_eq!(p.wait(0, 2, soon()), Some(true), "2 is outside 0..2");
        assert_eq!(p.wait(3, 3, soon()), Some(true), "empty range");
    }
}
