//! `MetricProducer`: how a face whose metrics are aggregated elsewhere (an
//! OpenTelemetry SDK's metric reader) hands them over on the pipeline's clock.
//!
//! The producer's thread waits (`wait`) until a collection is due, collects
//! its reader, records each series' delta with `AzureTelemetry::record_metric`
//! (a histogram's as `MetricPoint::histogram_summary`), then says so
//! (`collected`); the pipeline exports them with its own series in that
//! collection. Dropping the producer unregisters it.

use super::AzureTelemetry;
use crate::error::{Error, Result};
use crate::pipeline::{CollectionWait, Msg};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A registered metric producer. See the module documentation.
#[derive(Debug)]
pub struct MetricProducer {
    telemetry: AzureTelemetry,
    /// The collection requests this producer has seen.
    seen: AtomicU64,
}

impl AzureTelemetry {
    /// Registers a metric producer: from now on each collection (every
    /// `metric_export_interval`) first asks it for its points, and waits for
    /// its answer about a second at most. A flush does not ask: a face
    /// collects its reader itself before it flushes.
    pub fn metric_producer(&self) -> Result<MetricProducer> {
        if self.inner.shut_down.load(Relaxed) {
            return Err(Error::ShutDown);
        }
        let seen = self.inner.collection_requests.register();
        // An idle worker waits for the queue alone until it has series or
        // producers: wake it, or a producer with nothing else queued is never
        // asked. A full queue means it is awake anyway.
        let _ = self.inner.tx.try_send(Msg::ProducerJoined);
        Ok(MetricProducer {
            telemetry: self.clone(),
            seen: AtomicU64::new(seen),
        })
    }
}

impl MetricProducer {
    /// Blocks until a collection is due (`Collect`), the pipeline shuts down
    /// (`Closed`, for good), or `timeout` passes (`None`: no timeout). Call it
    /// from one thread at a time.
    pub fn wait(&self, timeout: Option<Duration>) -> CollectionWait {
        let mut seen = self.seen.load(Relaxed);
        let outcome = self
            .telemetry
            .inner
            .collection_requests
            .wait(&mut seen, timeout);
        self.seen.store(seen, Relaxed);
        outcome
    }

    /// Says the points of the collection asked for are all recorded: they
    /// are in the queue ahead of this answer. Never blocks; a full queue
    /// drops the answer, and the collection goes ahead after its grace.
    pub fn collected(&self) -> Result<()> {
        let inner = &self.telemetry.inner;
        if inner.shut_down.load(Relaxed) {
            return Err(Error::ShutDown);
        }
        let _ = inner.tx.try_send(Msg::MetricsCollected);
        Ok(())
    }
}

impl Drop for MetricProducer {
    fn drop(&mut self) {
        self.telemetry.inner.collection_requests.unregister();
    }
}
