//! A batch's life, from the moment the pipeline forms it to the one fate its
//! items get: delivered, durable on disk, rejected, or dropped for a reason.
//!
//! The [`Ledger`] opens a batch and hands out its first [`Part`]. A part
//! cannot be copied; whoever holds it must finish it ([`Part::finish`]
//! consumes it), or dropping it counts the part as abandoned (the task that
//! held it panicked), so a path that forgets a batch costs a counted loss,
//! never a `flush` that waits forever. A batch may become several parts on
//! its way (a 206's retried rest, a 413's halves): they share the batch, which
//! settles once, when its last part finishes, with the fate that reached
//! furthest (see [`Fate`]). Counters and `flush` results follow from that one
//! settlement.

use super::fate::{DropReason, Fate};
use super::progress::Progress;
use super::stats::Counters;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// A batch's identity, for `flush`: its id and how many items it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchRef {
    pub id: u64,
    /// Spans, logs or metric points in the batch (not envelopes).
    pub items: u64,
}

/// Opens batches and settles them; one per pipeline, shared by every stage.
#[derive(Debug, Clone)]
pub(crate) struct Ledger {
    progress: Arc<Progress>,
    counters: Arc<Counters>,
    /// Set when shutdown starts: from then on a part dropped unfinished is
    /// being stopped with the runtime, and shutdown counts its items itself
    /// (`dropped_shut_down`).
    stopping: Arc<AtomicBool>,
}

impl Ledger {
    pub fn new(progress: Arc<Progress>, counters: Arc<Counters>) -> Self {
        Self {
            progress,
            counters,
            stopping: Arc::default(),
        }
    }

    /// A new batch of `items` items, as its one part.
    pub fn open(&self, items: u64) -> Part {
        let batch = BatchRef {
            id: self.progress.allocate(),
            items,
        };
        Part {
            owner: Some(Arc::new(Owner {
                batch,
                ledger: self.clone(),
                state: Mutex::new(OwnerState {
                    open: 1,
                    fate: None,
                    lossy: false,
                }),
            })),
            reached: None,
            lossy: false,
        }
    }

    /// The id the next batch will get: every batch opened so far is below it.
    pub fn allocated(&self) -> u64 {
        self.progress.allocated()
    }

    /// Shutdown has started: parts dropped from now on are shutdown's to count.
    pub fn stop(&self) {
        self.stopping.store(true, Relaxed);
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }
}

/// The batch behind one or more parts.
#[derive(Debug)]
struct Owner {
    batch: BatchRef,
    ledger: Ledger,
    state: Mutex<OwnerState>,
}

#[derive(Debug)]
struct OwnerState {
    /// Parts not finished yet.
    open: u32,
    fate: Option<Fate>,
    lossy: bool,
}

/// One part of a batch: finish it exactly once.
#[derive(Debug)]
pub(crate) struct Part {
    /// `None` once finished.
    owner: Option<Arc<Owner>>,
    /// The furthest this part's own data got so far (`Delivered` once a 206
    /// accepted some of it).
    reached: Option<Fate>,
    /// Some of this part's data was already lost (rejected or dropped).
    lossy: bool,
}

impl Part {
    /// Notes that some of this part's data got as far as `fate` (a 206 that
    /// accepted some envelopes), and whether some was lost on the way.
    pub fn reached(&mut self, fate: Fate, lost_some: bool) {
        self.reached = self.reached.max(Some(fate));
        self.lossy |= lost_some;
    }

    /// Finishes this part with `fate`. Its batch settles when this was the
    /// last open part.
    pub fn finish(mut self, fate: Fate) {
        self.reached(fate, fate.is_loss());
        self.close();
    }

    /// Another open part of the same batch (the second half of a split), with
    /// what this one reached so far.
    pub fn split(&self) -> Part {
        if let Some(owner) = &self.owner {
            owner.state.lock().unwrap_or_else(|p| p.into_inner()).open += 1;
        }
        Part {
            owner: self.owner.clone(),
            reached: self.reached,
            lossy: self.lossy,
        }
    }

    fn close(&mut self) {
        let Some(owner) = self.owner.take() else {
            return;
        };
        let fate = self.reached.unwrap_or(Fate::Dropped(DropReason::Abandoned));
        let mut state = owner.state.lock().unwrap_or_else(|p| p.into_inner());
        state.fate = state.fate.max(Some(fate));
        state.lossy |= self.lossy;
        state.open = state.open.saturating_sub(1);
        if state.open > 0 {
            return;
        }
        let (fate, lossy) = (state.fate.unwrap_or(fate), state.lossy);
        drop(state);
        let ledger = &owner.ledger;
        ledger
            .progress
            .settle_as(&ledger.counters, owner.batch, fate, lossy);
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        let Some(owner) = &self.owner else {
            return;
        };
        if owner.ledger.stopping.load(Relaxed) {
            // Stopped with the runtime: shutdown counts what never settled.
            self.owner = None;
            return;
        }
        // Nothing finished it: the task holding it panicked.
        self.reached(Fate::Dropped(DropReason::Abandoned), true);
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn ledger() -> (Ledger, Arc<Progress>, Arc<Counters>) {
        let progress = Arc::new(Progress::default());
        let counters = Arc::new(Counters::default());
        (
            Ledger::new(Arc::clone(&progress), Arc::clone(&counters)),
            progress,
            counters,
        )
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(20)
    }

    #[test]
    fn a_batch_settles_once_when_its_last_part_finishes() {
        let (ledger, progress, counters) = ledger();
        let first = ledger.open(10);
        let second = first.split();
        first.finish(Fate::Delivered);
        assert_eq!(progress.wait(0, 1, soon()), None, "one part is still open");
        second.finish(Fate::Dropped(DropReason::TooLarge));
        assert_eq!(progress.wait(0, 1, soon()), Some(false), "a part lost data");
        let s = counters.snapshot();
        assert_eq!(s.items_delivered, 10, "{s:?}");
        assert_eq!(counters.items_settled.load(Relaxed), 10);
    }

    #[test]
    fn a_part_nobody_finished_is_counted_as_abandoned_and_never_holds_up_flush() {
        let (ledger, progress, counters) = ledger();
        let part = ledger.open(4);
        // A task that panics while holding its part drops it unwinding.
        let _ = std::thread::spawn(move || {
            let _part = part;
            panic!("the mapping task died");
        })
        .join();
        assert_eq!(progress.wait(0, 1, soon()), Some(false));
        let s = counters.snapshot();
        assert_eq!(s.items_export_failed, 4, "{s:?}");
        assert_eq!(counters.items_settled.load(Relaxed), 4);
    }

    #[test]
    fn at_shutdown_a_dropped_part_is_left_for_shutdown_to_count() {
        let (ledger, progress, counters) = ledger();
        let part = ledger.open(3);
        ledger.stop();
        drop(part);
        assert_eq!(progress.wait(0, 1, soon()), None);
        assert_eq!(counters.items_settled.load(Relaxed), 0);
    }
}
