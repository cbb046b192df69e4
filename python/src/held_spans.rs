//! Ended SDK spans the app's threads hold for a moment, to convert a few in a row.
//!
//! Converting a span on the app's thread as it ends ran our code, and the
//! parts of the interpreter it calls, cold every time: between two spans the
//! app's own Python evicts them from the CPU's caches. Callgrind, on the app's
//! thread of the Python synthetic workload (per span, 10,000 vs 20,000 spans):
//! one at a time, 601 more first-level instruction-cache misses than with no
//! processor at all and 346 more data-cache misses; sixteen at a time, 366 and
//! 175, for 250 more instructions of 229,000 (64 at a time the cyclic garbage
//! collector walked the held spans on every young collection: 6,000 more
//! instructions a span). Those misses, not our instructions, were most of what
//! the app loop lost.
//!
//! So `on_end` holds the span and converts the sixteen together. Nothing waits
//! long: a Python thread of the pipeline's converts whatever is held every half
//! second (`_convert_held_spans`), and every flush, `stats()` and shutdown
//! converts it first. Holding is off until that thread runs, so a pipeline
//! without it (a native `Telemetry` used on its own) converts each span as it
//! ends, as before.

use pyo3::prelude::*;
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::Mutex;

/// How many ended spans are converted together.
pub const HELD_SPANS: usize = 16;

/// What [`HeldSpans::hold`] did with a span.
pub enum Held {
    /// Not held: convert it now.
    No,
    /// Held with fewer than [`HELD_SPANS`].
    Yes,
    /// Held, and with it [`HELD_SPANS`]: convert these now (none is held).
    Full(Vec<Py<PyAny>>),
}

/// The states of a `HeldSpans`: not holding yet, holding, stopped for good.
const OFF: u8 = 0;
const HOLDING: u8 = 1;
const STOPPED: u8 = 2;

/// The spans held and whether ending spans are held at all. Touched with the
/// GIL held; the lock is never held while Python code runs.
#[derive(Debug, Default)]
pub struct HeldSpans {
    /// [`OFF`] -> [`HOLDING`] -> [`STOPPED`], never back, so that a start
    /// coming after a shutdown began (another thread initializing late)
    /// cannot hold spans that nobody would convert.
    state: AtomicU8,
    spans: Mutex<Vec<Py<PyAny>>>,
}

impl HeldSpans {
    /// Ending spans are held from now on, unless holding was stopped.
    pub fn start(&self) {
        let _ = self.state.compare_exchange(OFF, HOLDING, SeqCst, SeqCst);
    }

    /// No span is held from now on, for good; returns those held so far.
    pub fn stop(&self) -> Vec<Py<PyAny>> {
        self.state.store(STOPPED, SeqCst);
        self.take()
    }

    /// Whether ending spans are held (started and not stopped).
    pub fn is_holding(&self) -> bool {
        self.state.load(SeqCst) == HOLDING
    }

    /// Holds `span`, unless ending spans are not held.
    pub fn hold(&self, span: &Bound<'_, PyAny>) -> Held {
        if !self.is_holding() {
            return Held::No;
        }
        let mut spans = self.spans.lock().unwrap_or_else(|p| p.into_inner());
        spans.push(span.clone().unbind());
        if spans.len() < HELD_SPANS {
            return Held::Yes;
        }
        Held::Full(std::mem::replace(
            &mut *spans,
            Vec::with_capacity(HELD_SPANS),
        ))
    }

    /// The spans held so far, none held after.
    pub fn take(&self) -> Vec<Py<PyAny>> {
        std::mem::take(&mut *self.spans.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
