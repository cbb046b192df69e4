//! Metric points: measurements that faces hand to the pipeline, aggregated by
//! the OpenTelemetry SDK and exported through the crate as Metric envelopes.
//!
//! The crate's metric exporter takes the SDK's `ResourceMetrics`, which only an
//! SDK reader can produce, so the worker records each point into an SDK
//! instrument and a `PeriodicReader` collects (delta temporality, as
//! Application Insights wants) on its interval and on every flush.

use super::export::AzureExporter;
use crate::ingest::{MetricKind, MetricPoint};
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, MeterProvider as _, UpDownCounter};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::Resource;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Hands the SDK's collected metrics to the crate's exporter.
#[derive(Debug)]
struct MetricsBridge(Arc<AzureExporter>);

impl PushMetricExporter for MetricsBridge {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        self.0.export_metrics(metrics).await
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> Temporality {
        Temporality::Delta
    }
}

/// The worker's side: instruments by name, recorded in arrival order.
pub(crate) struct MetricsRecorder {
    provider: SdkMeterProvider,
    meter: Meter,
    counters: HashMap<String, Counter<f64>>,
    up_down: HashMap<String, UpDownCounter<f64>>,
    histograms: HashMap<String, Histogram<f64>>,
    gauges: HashMap<String, Gauge<f64>>,
    /// Points recorded since the last collection.
    pending: u64,
}

impl MetricsRecorder {
    pub fn new(exporter: Arc<AzureExporter>, resource: Resource, interval: Duration) -> Self {
        let reader = PeriodicReader::builder(MetricsBridge(exporter))
            .with_interval(interval)
            .build();
        let provider = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_reader(reader)
            .build();
        let meter = provider.meter("genkit-azure");
        Self {
            provider,
            meter,
            counters: HashMap::new(),
            up_down: HashMap::new(),
            histograms: HashMap::new(),
            gauges: HashMap::new(),
            pending: 0,
        }
    }

    pub fn record(&mut self, p: MetricPoint) {
        let meter = &self.meter;
        let name = p.name;
        match p.kind {
            MetricKind::Counter => self
                .counters
                .entry(name)
                .or_insert_with_key(|n| meter.f64_counter(n.clone()).build())
                .add(p.value, &p.attributes),
            MetricKind::UpDownCounter => self
                .up_down
                .entry(name)
                .or_insert_with_key(|n| meter.f64_up_down_counter(n.clone()).build())
                .add(p.value, &p.attributes),
            MetricKind::Histogram => self
                .histograms
                .entry(name)
                .or_insert_with_key(|n| meter.f64_histogram(n.clone()).build())
                .record(p.value, &p.attributes),
            MetricKind::Gauge => self
                .gauges
                .entry(name)
                .or_insert_with_key(|n| meter.f64_gauge(n.clone()).build())
                .record(p.value, &p.attributes),
        }
        self.pending += 1;
    }

    /// Points recorded since the last call, and a handle that collects and
    /// exports them (blocking: run it off the async threads).
    pub fn take_pending(&mut self) -> (u64, SdkMeterProvider) {
        (std::mem::take(&mut self.pending), self.provider.clone())
    }
}
