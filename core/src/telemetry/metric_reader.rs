//! `AzureMetricReader`: an `opentelemetry_sdk` metric reader, so Rust programs
//! record metrics with the ordinary OpenTelemetry metrics API and export them
//! as customMetrics through the pipeline, on the pipeline's clock.
//!
//! The SDK's `SdkMeterProvider` records every measurement as the API
//! specifies and aggregates it in place; this reader asks it for deltas and
//! hands each series over as one [`MetricPoint`] (a histogram's as its sum,
//! count, min and max), which the worker merges with its own series. So the
//! host pays the SDK's cost per measurement and nothing more: what crosses
//! into the queue is one point per series per interval.
//!
//! Why a reader and not a `PushMetricExporter` on the SDK's `PeriodicReader`
//! (which needs no SDK feature): the periodic reader runs on the SDK's clock,
//! so its points would reach the pipeline up to an interval late, and with
//! a delta preference the SDK keeps up-down counters cumulative, which the
//! pipeline (it keeps their running total from deltas) would count twice. A
//! reader of our own answers to the pipeline's clock, as Python's
//! `AzureMetricReader` does: it registers as a [`MetricProducer`], and a
//! thread of its own waits until a collection is due, collects (the SDK runs
//! observable instruments' callbacks there, never in the host's threads),
//! hands over the points and answers. `AzureTelemetry::flush` and `shutdown`
//! collect it first in the calling thread (it is a `FlushCollector`), so they
//! send what it holds. The SDK keeps custom readers behind its
//! `experimental_metrics_custom_reader` feature, which this crate turns on.
//!
//! [`MetricProducer`]: super::MetricProducer

use super::AzureTelemetry;
use crate::error::Error;
use crate::ingest::{MetricKind, MetricPoint, Summary};
use crate::pipeline::{CollectionWait, FlushCollector};
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// How often the collecting thread looks whether its reader was shut down
/// or dropped while no collection was due (the pipeline's requests cannot
/// be interrupted otherwise).
const STOP_CHECK: Duration = Duration::from_secs(1);

thread_local! {
    /// This thread is inside a collection: an observable callback that
    /// flushes must not collect again (the SDK's and our locks are held).
    static COLLECTING: Cell<bool> = const { Cell::new(false) };
}

/// Hands every collection of an `opentelemetry_sdk` `SdkMeterProvider` to an
/// [`AzureTelemetry`] pipeline: counters, up-down counters, histograms and
/// gauges, observable or not, with their attributes as dimensions.
///
/// ```no_run
/// use genkit_azure::{AzureMetricReader, AzureTelemetry};
/// use opentelemetry::{global, KeyValue};
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
///
/// let telemetry = AzureTelemetry::builder().service_name("shop").build()?;
/// let provider = SdkMeterProvider::builder()
///     .with_reader(AzureMetricReader::builder(telemetry.clone()).build())
///     .build();
/// global::set_meter_provider(provider.clone());
///
/// let orders = global::meter("shop").u64_counter("orders").build();
/// orders.add(1, &[KeyValue::new("region", "eu")]);
///
/// // Sends what the provider holds too; so does `provider.force_flush()`.
/// telemetry.shutdown(std::time::Duration::from_secs(10))?;
/// # Ok::<(), genkit_azure::Error>(())
/// ```
///
/// - Every instrument is read with delta temporality (up-down counters
///   too: the pipeline keeps their running total), every
///   `metric_export_interval` when the pipeline collects, and by every
///   `AzureTelemetry::flush` and `shutdown` and the provider's
///   `force_flush` and `shutdown`. Each measurement goes out once.
/// - A histogram goes out as its sum, count, min and max, the fields
///   Application Insights keeps; its buckets are not used (a view with
///   `Aggregation::ExplicitBucketHistogram { boundaries: vec![], record_min_max:
///   true }` spares the SDK counting them). Without min and max (a view turned
///   them off) both are the mean.
/// - The SDK folds attribute sets past its cardinality limit (2,000 per
///   instrument unless a view says otherwise) into the same
///   `otel.metric.overflow` series as the pipeline does past
///   `metric_series_limit`; raise both together.
/// - A point the pipeline refuses (an observable counter whose value went
///   down gives a negative delta) is left out and said once a minute.
/// - The provider's resource is not used: the pipeline's resource says who
///   sends.
///
/// Its `shutdown` (the provider's) hands over the last points and flushes;
/// the pipeline's own shutdown is [`AzureTelemetry::shutdown`].
pub struct AzureMetricReader {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AzureMetricReader {
    // Not the SDK's buffers it keeps between collections.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureMetricReader")
            .field("flush_timeout", &self.shared.flush_timeout)
            .field("stopped", &self.shared.stopped)
            .finish_non_exhaustive()
    }
}

/// Builds an [`AzureMetricReader`]; see [`AzureMetricReader::builder`].
#[derive(Debug, Clone)]
pub struct AzureMetricReaderBuilder {
    telemetry: AzureTelemetry,
    flush_timeout: Duration,
}

struct Shared {
    telemetry: AzureTelemetry,
    /// Reads the SDK's pipeline. Our `temporality` (not its own) is what the
    /// SDK asks, so its temporality setting is never used.
    sdk: ManualReader,
    /// Held for a collection and the hand-over of its points, so a flush
    /// queues its marker behind a collection already under way; it keeps the
    /// SDK's buffers between collections.
    buffer: Mutex<ResourceMetrics>,
    /// Shut down by its provider: no more collections.
    stopped: AtomicBool,
    /// Joined the pipeline; a provider registers its reader once, but a
    /// second registration must not start a second thread.
    started: AtomicBool,
    flush_timeout: Duration,
}

impl AzureMetricReaderBuilder {
    /// How long the provider's `force_flush` and `shutdown` wait for the
    /// pipeline to deliver (default 30 s).
    pub fn with_flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// The reader, to hand to `SdkMeterProviderBuilder::with_reader`. It
    /// starts collecting when the provider is built.
    pub fn build(self) -> AzureMetricReader {
        AzureMetricReader {
            shared: Arc::new(Shared {
                telemetry: self.telemetry,
                sdk: ManualReader::builder()
                    .with_temporality(Temporality::Delta)
                    .build(),
                buffer: Mutex::new(ResourceMetrics::default()),
                stopped: AtomicBool::new(false),
                started: AtomicBool::new(false),
                flush_timeout: self.flush_timeout,
            }),
        }
    }
}

impl AzureMetricReader {
    /// A builder for a reader that hands its collections to `telemetry`.
    pub fn builder(telemetry: AzureTelemetry) -> AzureMetricReaderBuilder {
        AzureMetricReaderBuilder {
            telemetry,
            flush_timeout: Duration::from_secs(30),
        }
    }

    /// A reader with the default settings: `builder(telemetry).build()`.
    pub fn new(telemetry: AzureTelemetry) -> Self {
        Self::builder(telemetry).build()
    }
}

impl MetricReader for AzureMetricReader {
    /// The provider is built: the SDK's pipeline can be read from now on,
    /// so the reader joins the pipeline's clock and its flushes.
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.shared.sdk.register_pipeline(pipeline);
        Shared::start(&self.shared);
    }

    /// Collects into `rm` and hands the same points to the pipeline, so a
    /// caller reading them takes nothing away from Application Insights.
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        if self.shared.stopped.load(Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let _serial = self.shared.buffer.lock().unwrap_or_else(|p| p.into_inner());
        self.shared.collect_into(rm)
    }

    /// Flushes the pipeline, which collects this reader first.
    fn force_flush(&self) -> OTelSdkResult {
        self.shared.flush()
    }

    /// Hands over the last points, stops collecting, and flushes them.
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if self.shared.stopped.swap(true, Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let collected = self.shared.collect();
        let _ = self.shared.sdk.shutdown_with_timeout(timeout);
        if collected.is_err() {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        match self.shared.telemetry.flush(timeout) {
            Ok(true) => Ok(()),
            Ok(false) => Err(OTelSdkError::Timeout(timeout)),
            Err(_) => Err(OTelSdkError::AlreadyShutdown),
        }
    }

    /// Delta for every kind. The SDK's own delta preference keeps up-down
    /// counters cumulative; the pipeline sums what it is handed into their
    /// running total, so it must be handed changes.
    fn temporality(&self, _kind: InstrumentKind) -> Temporality {
        Temporality::Delta
    }
}

impl FlushCollector for Shared {
    fn collect_for_flush(&self) {
        if !self.stopped.load(Relaxed) {
            let _ = self.collect();
        }
    }
}

impl Shared {
    /// Joins the pipeline: its flushes collect this reader, and a thread
    /// collects it whenever the pipeline's collection is due. With metrics
    /// off there is nothing to hand over, so neither.
    fn start(this: &Arc<Self>) {
        let telemetry = &this.telemetry;
        if !telemetry.exports().metrics || this.started.swap(true, Relaxed) {
            return;
        }
        let weak: Weak<dyn FlushCollector> = Arc::downgrade(this) as Weak<dyn FlushCollector>;
        telemetry.inner.collection_requests.add_flush_collector(weak);
        let Ok(producer) = telemetry.metric_producer() else {
            return; // shut down already
        };
        let shared = Arc::downgrade(this);
        let spawned = std::thread::Builder::new()
            .name("genkit-azure-metrics".into())
            .spawn(move || {
                // Returns when the pipeline or the reader stops; dropping the
                // producer then unregisters it.
                loop {
                    match producer.wait(Some(STOP_CHECK)) {
                        CollectionWait::Collect => {
                            let alive = shared.upgrade().filter(|s| !s.stopped.load(Relaxed));
                            if let Some(s) = &alive {
                                let _ = s.collect();
                            }
                            // Answer even when stopping, so the collection
                            // does not wait its grace for us.
                            let _ = producer.collected();
                            if alive.is_none() {
                                return;
                            }
                        }
                        CollectionWait::TimedOut => {
                            if shared.upgrade().is_none_or(|s| s.stopped.load(Relaxed)) {
                                return;
                            }
                        }
                        CollectionWait::Closed => return,
                    }
                }
            });
        if let Err(e) = spawned {
            telemetry.inner.delivery.diagnostics().say("metric-reader-thread", || {
                format!(
                    "the metric reader's thread could not start ({e}); OpenTelemetry metrics \
                     go out only when the pipeline is flushed"
                )
            });
        }
    }

    /// One collection into the reader's own buffer, handed over.
    fn collect(&self) -> Result<(), Error> {
        let mut buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        self.collect_into(&mut buffer).map_err(|_| Error::ShutDown)
    }

    /// Collects into `rm` and hands every series over; the caller holds
    /// `buffer`. Fails once the SDK or the pipeline is shut down.
    fn collect_into(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        if COLLECTING.get() {
            // A callback of this collection flushes: its points are being
            // handed over already.
            return Ok(());
        }
        COLLECTING.set(true);
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                COLLECTING.set(false);
            }
        }
        let _reset = Reset;
        self.sdk.collect(rm)?;
        for scope in rm.scope_metrics() {
            for metric in scope.metrics() {
                let handed = match metric.data() {
                    AggregatedMetrics::F64(data) => self.hand_over(metric.name(), data, |v| v),
                    AggregatedMetrics::U64(data) => {
                        self.hand_over(metric.name(), data, |v| v as f64)
                    }
                    AggregatedMetrics::I64(data) => {
                        self.hand_over(metric.name(), data, |v| v as f64)
                    }
                };
                if handed.is_err() {
                    return Err(OTelSdkError::AlreadyShutdown);
                }
            }
        }
        Ok(())
    }

    /// Records one metric's points; `Err` when the pipeline is shut down.
    fn hand_over<T: Copy>(
        &self,
        name: &str,
        data: &MetricData<T>,
        to_f64: impl Fn(T) -> f64,
    ) -> Result<(), Error> {
        match data {
            MetricData::Gauge(gauge) => {
                for p in gauge.data_points() {
                    self.record(MetricPoint {
                        attributes: dimensions(p.attributes()),
                        ..MetricPoint::new(MetricKind::Gauge, name, to_f64(p.value()))
                    })?;
                }
            }
            MetricData::Sum(sum) => {
                // Never asked for; a cumulative sum handed over as a change
                // would be counted again every interval.
                if sum.temporality() != Temporality::Delta {
                    return Ok(());
                }
                let kind = if sum.is_monotonic() {
                    MetricKind::Counter
                } else {
                    MetricKind::UpDownCounter
                };
                for p in sum.data_points() {
                    self.record(MetricPoint {
                        attributes: dimensions(p.attributes()),
                        ..MetricPoint::new(kind, name, to_f64(p.value()))
                    })?;
                }
            }
            MetricData::Histogram(histogram) => {
                if histogram.temporality() != Temporality::Delta {
                    return Ok(());
                }
                for p in histogram.data_points() {
                    let summary = summary(
                        to_f64(p.sum()),
                        p.count(),
                        p.min().map(&to_f64),
                        p.max().map(&to_f64),
                    );
                    if let Some((sum, summary)) = summary {
                        self.record(MetricPoint {
                            attributes: dimensions(p.attributes()),
                            summary: Some(summary),
                            ..MetricPoint::new(MetricKind::Histogram, name, sum)
                        })?;
                    }
                }
            }
            MetricData::ExponentialHistogram(histogram) => {
                if histogram.temporality() != Temporality::Delta {
                    return Ok(());
                }
                for p in histogram.data_points() {
                    let summary = summary(
                        to_f64(p.sum()),
                        p.count() as u64,
                        p.min().map(&to_f64),
                        p.max().map(&to_f64),
                    );
                    if let Some((sum, summary)) = summary {
                        self.record(MetricPoint {
                            attributes: dimensions(p.attributes()),
                            summary: Some(summary),
                            ..MetricPoint::new(MetricKind::Histogram, name, sum)
                        })?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Queues one point; `Err` only when the pipeline is shut down. A point
    /// the pipeline refuses is left out (the rest go on) and said.
    fn record(&self, point: MetricPoint) -> Result<(), Error> {
        match self.telemetry.record_metric(point) {
            Ok(_) => Ok(()),
            Err(Error::ShutDown) => Err(Error::ShutDown),
            Err(e) => {
                self.telemetry
                    .inner
                    .delivery
                    .diagnostics()
                    .say("metric-reader-refused", || {
                        format!("an OpenTelemetry metric point was left out: {e}")
                    });
                Ok(())
            }
        }
    }

    fn flush(&self) -> OTelSdkResult {
        match self.telemetry.flush(self.flush_timeout) {
            Ok(true) => Ok(()),
            Ok(false) => Err(OTelSdkError::InternalFailure(
                "not everything was delivered before the flush timeout".into(),
            )),
            Err(_) => Err(OTelSdkError::AlreadyShutdown),
        }
    }
}

fn dimensions<'a>(attributes: impl Iterator<Item = &'a KeyValue>) -> Vec<KeyValue> {
    attributes.cloned().collect()
}

/// A histogram point's sum and summary; `None` for a point with no
/// measurements (a delta of a quiet interval). Without min and max both are
/// the mean, so the sum and count still go out.
fn summary(sum: f64, count: u64, min: Option<f64>, max: Option<f64>) -> Option<(f64, Summary)> {
    if count == 0 {
        return None;
    }
    let mean = sum / count as f64;
    Some((
        sum,
        Summary {
            count,
            min: min.unwrap_or(mean),
            max: max.unwrap_or(mean),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_point_without_min_and_max_takes_the_mean_and_an_empty_one_goes_nowhere() {
        let (sum, s) = summary(60.0, 3, Some(10.0), Some(30.0)).unwrap();
        assert_eq!((sum, s.count, s.min, s.max), (60.0, 3, 10.0, 30.0));
        let (_, s) = summary(60.0, 3, None, None).unwrap();
        assert_eq!((s.min, s.max), (20.0, 20.0));
        assert!(summary(0.0, 0, None, None).is_none());
    }
}
