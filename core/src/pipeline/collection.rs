//! The pipeline's metric clock, shared with metric producers: faces whose
//! metrics are aggregated elsewhere (an OpenTelemetry SDK's reader in Python)
//! and handed over as points when the pipeline asks.
//!
//! When a collection is due the worker asks every registered producer
//! (`request`), then waits, a short grace at most, for each to say it has
//! pushed its points (a `Msg::MetricsCollected` behind them in the queue);
//! then it collects. So points aggregated elsewhere leave in the interval
//! they were recorded in, on one clock, and a producer that does not answer
//! delays a collection by the grace, never stops it.
//!
//! A flush asks no producer through the queue: a face collects its reader
//! itself before it flushes. An in-process reader (Rust's
//! `AzureMetricReader`) does that by registering as a `FlushCollector`,
//! which `flush` and `shutdown` run in the calling thread first.

use std::sync::{Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

/// What a producer's wait ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionWait {
    /// A collection is due: collect, push the points, then say so.
    Collect,
    /// The timeout passed first.
    TimedOut,
    /// The pipeline is shutting down: nothing more will be asked.
    Closed,
}

#[derive(Debug, Default)]
struct State {
    /// Collections asked for since the start.
    requested: u64,
    /// Producers registered now.
    producers: usize,
    closed: bool,
}

/// A reader that hands over its points in the thread that flushes, before
/// the flush marker is queued, so the flush sends them.
pub(crate) trait FlushCollector: Send + Sync {
    fn collect_for_flush(&self);
}

#[derive(Debug, Default)]
pub(crate) struct CollectionRequests {
    state: Mutex<State>,
    changed: Condvar,
    /// Weak: a reader dropped with its meter provider needs no unregistering.
    flush_collectors: Mutex<Vec<Weak<dyn FlushCollector>>>,
}

impl CollectionRequests {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn producers(&self) -> usize {
        self.state().producers
    }

    /// Asks every registered producer for its points; how many were asked.
    pub fn request(&self) -> usize {
        let mut s = self.state();
        s.requested += 1;
        self.changed.notify_all();
        s.producers
    }

    /// Wakes every producer for good (shutdown).
    pub fn close(&self) {
        self.state().closed = true;
        self.changed.notify_all();
    }

    /// Registers a producer; the requests it has seen so far.
    pub fn register(&self) -> u64 {
        let mut s = self.state();
        s.producers += 1;
        s.requested
    }

    pub fn unregister(&self) {
        let mut s = self.state();
        s.producers = s.producers.saturating_sub(1);
    }

    pub fn add_flush_collector(&self, collector: Weak<dyn FlushCollector>) {
        let mut collectors = self
            .flush_collectors
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        collectors.retain(|c| c.strong_count() > 0);
        collectors.push(collector);
    }

    /// Runs every live flush collector in the calling thread.
    pub fn collect_for_flush(&self) {
        let live: Vec<_> = self
            .flush_collectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        // Outside the lock: a collector runs the host's callbacks, which may
        // flush (or register a reader) themselves.
        for collector in live {
            collector.collect_for_flush();
        }
    }

    /// Blocks until a request newer than `*seen`, the pipeline closing, or
    /// `timeout` (`None`: no timeout).
    pub fn wait(&self, seen: &mut u64, timeout: Option<Duration>) -> CollectionWait {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut s = self.state();
        loop {
            if s.closed {
                return CollectionWait::Closed;
            }
            if s.requested > *seen {
                *seen = s.requested;
                return CollectionWait::Collect;
            }
            s = match deadline {
                None => self.changed.wait(s).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return CollectionWait::TimedOut;
                    }
                    self.changed
                        .wait_timeout(s, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_producer_wakes_once_per_request_and_for_good_on_close() {
        let requests = Arc::new(CollectionRequests::default());
        let mut seen = requests.register();
        assert_eq!(requests.producers(), 1);
        assert_eq!(
            requests.wait(&mut seen, Some(Duration::from_millis(10))),
            CollectionWait::TimedOut
        );
        assert_eq!(requests.request(), 1);
        // Two requests before the producer looks are one collection.
        requests.request();
        assert_eq!(requests.wait(&mut seen, None), CollectionWait::Collect);
        assert_eq!(
            requests.wait(&mut seen, Some(Duration::ZERO)),
            CollectionWait::TimedOut
        );

        let waiter = {
            let requests = Arc::clone(&requests);
            std::thread::spawn(move || requests.wait(&mut seen, None))
        };
        std::thread::sleep(Duration::from_millis(20));
        requests.close();
        assert_eq!(waiter.join().unwrap(), CollectionWait::Closed);
        requests.unregister();
        assert_eq!(requests.producers(), 0);
    }

    #[test]
    fn a_flush_runs_live_collectors_and_forgets_dropped_ones() {
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        struct Counting(AtomicUsize);
        impl FlushCollector for Counting {
            fn collect_for_flush(&self) {
                self.0.fetch_add(1, Relaxed);
            }
        }
        let requests = CollectionRequests::default();
        let kept = Arc::new(Counting(AtomicUsize::new(0)));
        let dropped = Arc::new(Counting(AtomicUsize::new(0)));
        requests.add_flush_collector(Arc::downgrade(&kept) as Weak<dyn FlushCollector>);
        requests.add_flush_collector(Arc::downgrade(&dropped) as Weak<dyn FlushCollector>);
        requests.collect_for_flush();
        drop(dropped);
        requests.collect_for_flush();
        assert_eq!(kept.0.load(Relaxed), 2);
        requests.add_flush_collector(Arc::downgrade(&kept) as Weak<dyn FlushCollector>);
        assert_eq!(requests.flush_collectors.lock().unwrap().len(), 2, "the dropped one is gone");
    }
}
