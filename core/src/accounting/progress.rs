//! Completion tracking for `flush`: which batches have settled.
//!
//! Batches get increasing ids and may finish out of order (several exports run
//! at once). `flush` waits until every batch up to a given id has settled and
//! then reports whether any of them failed.

use super::batch::BatchRef;
use super::fate::Fate;
use super::stats::Counters;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

#[derive(Debug, Default)]
struct State {
    /// Every batch id `< settled_below` has settled.
    settled_below: u64,
    /// Settled ids above the contiguous prefix.
    settled_ahead: BTreeSet<u64>,
    /// Ids of failed batches that a flush may still ask about.
    failed: BTreeSet<u64>,
    /// Failed ids below this are no longer kept (see [`State::prune`]).
    pruned_below: u64,
    /// The largest failed id not kept, for a flush that asks late.
    pruned_max: Option<u64>,
    /// The largest end of a range a flush has asked about: each flush starts
    /// where the previous one ended, so later flushes start there or later.
    asked_below: u64,
    /// Starts of the flushes waiting now, with how many wait from each.
    waiting: BTreeMap<u64, usize>,
}

impl State {
    /// Forgets failed ids no flush can ask about any more: below the end of
    /// every range asked so far and below every range being waited for.
    /// Without it the set grows by one per failed batch for the life of the
    /// process (e.g. once a second with a refused key).
    fn prune(&mut self) {
        let boundary = self
            .waiting
            .keys()
            .next()
            .map_or(self.asked_below, |&w| w.min(self.asked_below));
        if boundary <= self.pruned_below {
            return;
        }
        let kept = self.failed.split_off(&boundary);
        if let Some(&last) = self.failed.last() {
            self.pruned_max = self.pruned_max.max(Some(last));
        }
        self.failed = kept;
        self.pruned_below = boundary;
    }

    fn record_failure(&mut self, id: u64) {
        if id < self.pruned_below {
            self.pruned_max = self.pruned_max.max(Some(id));
        } else {
            self.failed.insert(id);
        }
    }

    /// Whether a batch in `start..end` failed. A flush that read its start
    /// before another flush moved on (two flushes at once) may ask below what
    /// was pruned: then a pruned failure at or after its start counts, which
    /// can only make it report a failure it would otherwise have missed.
    fn any_failed(&self, start: u64, end: u64) -> bool {
        self.failed.range(start..end).next().is_some()
            || (start < self.pruned_below && self.pruned_max.is_some_and(|m| m >= start))
    }
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

    /// Records that `batch` settled with `fate`, with the counters that go
    /// with it: its items in the fate's item counter, the batch as exported
    /// or failed (`lossy`: some of its envelopes were lost on the way).
    /// Every batch ends here, once, through its `Part`s (`batch.rs`).
    pub fn settle_as(&self, counters: &Counters, batch: BatchRef, fate: Fate, lossy: bool) {
        Counters::add(fate.items_counter(counters), batch.items);
        self.count_and_settle(counters, batch, lossy || fate.is_loss());
    }

    fn count_and_settle(&self, counters: &Counters, batch: BatchRef, failed: bool) {
        let outcome = if failed {
            &counters.batches_failed
        } else {
            &counters.batches_exported
        };
        Counters::add(outcome, 1);
        Counters::add(&counters.items_settled, batch.items);
        Counters::sub(&counters.items_pending, batch.items);
        self.settle(batch.id, failed);
    }

    /// Records that batch `id` settled, delivered or not.
    pub fn settle(&self, id: u64, failed: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if failed {
            s.record_failure(id);
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
    ///
    /// The caller's next wait starts at `end` or later (a flush reports each
    /// failure once); failures before that are then forgotten.
    pub fn wait(&self, start: u64, end: u64, deadline: Instant) -> Option<bool> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *s.waiting.entry(start).or_default() += 1;
        let answer = loop {
            if s.settled_below >= end {
                break Some(!s.any_failed(start, end));
            }
            let now = Instant::now();
            if now >= deadline {
                break None;
            }
            s = self
                .changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        };
        if let Some(n) = s.waiting.get_mut(&start) {
            *n -= 1;
            if *n == 0 {
                s.waiting.remove(&start);
            }
        }
        s.asked_below = s.asked_below.max(end);
        s.prune();
        answer
    }

    /// Failed ids kept now (for tests of pruning).
    #[cfg(test)]
    fn kept_failures(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .failed
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(20)
    }

    #[test]
    fn waits_for_the_contiguous_prefix_and_reports_failures() {
        let p = Progress::default();
        p.settle(1, false);
        assert_eq!(p.wait(0, 2, soon()), None, "batch 0 has not settled");
        p.settle(0, false);
        assert_eq!(p.wait(0, 2, soon()), Some(true));
        p.settle(2, true);
        assert_eq!(p.wait(0, 3, soon()), Some(false));
        assert_eq!(p.wait(2, 3, soon()), Some(false), "asked again, same range");
        assert_eq!(p.wait(3, 3, soon()), Some(true), "empty range");
    }

    #[test]
    fn failures_no_flush_can_ask_about_are_forgotten() {
        let p = Progress::default();
        // A refused key: every batch fails, and the app flushes now and then.
        let mut start = 0;
        for round in 0..100u64 {
            for id in round * 10..round * 10 + 10 {
                p.settle(id, true);
            }
            let end = (round + 1) * 10;
            assert_eq!(p.wait(start, end, soon()), Some(false));
            start = end;
        }
        assert_eq!(p.kept_failures(), 0, "nothing below the last flush is kept");
        // Failures after the last flush are kept until a flush asks.
        p.settle(1000, true);
        p.settle(1001, false);
        assert_eq!(p.kept_failures(), 1);
        assert_eq!(p.wait(1000, 1002, soon()), Some(false));
        assert_eq!(p.kept_failures(), 0);
        p.settle(1002, false);
        assert_eq!(p.wait(1002, 1003, soon()), Some(true));
    }

    #[test]
    fn a_failure_settling_after_its_flush_timed_out_is_not_kept() {
        let p = Progress::default();
        p.settle(0, false);
        assert_eq!(p.wait(0, 2, soon()), None, "batch 1 is late");
        p.settle(1, true); // the next flush starts at 2: nobody asks about 1
        assert_eq!(p.kept_failures(), 0);
        p.settle(2, false);
        assert_eq!(p.wait(2, 3, soon()), Some(true));
    }

    #[test]
    fn a_flush_waiting_keeps_its_range_while_another_moves_on() {
        let p = Arc::new(Progress::default());
        p.settle(0, true); // batch 1 is still in flight
        let slow = {
            let p = Arc::clone(&p);
            std::thread::spawn(move || p.wait(0, 2, Instant::now() + Duration::from_secs(5)))
        };
        // Let the slow flush start waiting, then a second flush covers 0..1.
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(p.wait(0, 1, soon()), Some(false));
        p.settle(1, false);
        assert_eq!(
            slow.join().unwrap(),
            Some(false),
            "batch 0's failure is still seen"
        );
        // A flush that read its start before the others moved on still
        // hears of the failure, though its id was forgotten by now.
        assert_eq!(p.kept_failures(), 0);
        assert_eq!(p.wait(0, 2, soon()), Some(false));
        assert_eq!(p.wait(2, 2, soon()), Some(true));
    }
}
