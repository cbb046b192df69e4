//! What travels through the ingest and spill queues.

use crate::ingest::{Custom, LogRecord, MetricPoint, PackedSpan};
use crate::live::Tap;
use std::sync::mpsc::SyncSender;
use std::time::Instant;

/// What travels through the ingest queue.
pub(crate) enum Msg {
    Span(PackedSpan),
    Log(Box<LogRecord>),
    Metric(Box<MetricPoint>),
    Custom(Box<Custom>),
    /// A metric producer has pushed the points a collection asked for.
    MetricsCollected,
    /// A metric producer registered: the worker, which arms its metric clock
    /// only while it has series or producers, looks again.
    ProducerJoined,
    /// Send everything queued so far; answer with the batch id below which
    /// everything queued before the marker lies.
    Flush(SyncSender<u64>),
    /// Send everything, wait for in-flight exports until the deadline, stop.
    /// Boxed: a queue slot is as large as the largest message, and there is
    /// one slot per queued span.
    Shutdown(Box<ShutdownMarker>),
}

pub(crate) struct ShutdownMarker {
    pub deadline: Instant,
    /// Answered as a flush is (every batch made lies below the id), so that
    /// shutdown waits for what was queued behind the last flush.
    pub done: SyncSender<u64>,
}

const _: () = assert!(std::mem::size_of::<Msg>() <= 24, "a queue slot grew");

impl Msg {
    /// Shows an item to Live Metrics, which reads it only while someone
    /// watches; metric points and control messages have no live form.
    pub(crate) fn show_to(&self, live: &Tap) {
        match self {
            Msg::Span(span) => live.span(span),
            Msg::Log(log) => live.log(log),
            Msg::Custom(custom) => live.custom(custom),
            _ => {}
        }
    }
}
