//! Turning a batch into the body of one request: spans and logs through our
//! own envelope writer; metric points (aggregated by the OpenTelemetry SDK,
//! whose `ResourceMetrics` only the SDK can build) through
//! `opentelemetry-application-insights`.

use super::capture::CaptureClient;
use super::resource::ResourceTags;
use super::writer::{Body, EnvelopeWriter};
use crate::config::ConnectionString;
use crate::ingest::{LogRecord, PackedSpan};
use opentelemetry_application_insights::Exporter;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::Resource;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The items one request body is written from: spans or logs, never both.
pub(crate) enum Batch {
    Spans(Vec<PackedSpan>),
    Logs(Vec<LogRecord>),
}

impl Batch {
    pub fn len(&self) -> usize {
        match self {
            Batch::Spans(v) => v.len(),
            Batch::Logs(v) => v.len(),
        }
    }
}

/// Writes batches as request bodies.
#[derive(Debug)]
pub(crate) struct AzureExporter {
    writer: EnvelopeWriter,
    /// The crate, for metric points only.
    metrics: Exporter<CaptureClient>,
    /// How often the resource's `_OTELRESOURCE_` metric goes out again.
    resource_every: Duration,
    /// When it is next due; `None` before the first body.
    resource_next: Mutex<Option<Instant>>,
}

impl AzureExporter {
    pub fn new(
        connection_string: &ConnectionString,
        transport: CaptureClient,
        resource: &Resource,
        gzip_level: u32,
        resource_every: Duration,
    ) -> Result<Self, String> {
        // The crate parses its own connection string. It needs only the key:
        // the transport decides where requests go, so the endpoint given here
        // is a placeholder that is never contacted.
        let synthetic = format!(
            "InstrumentationKey={};IngestionEndpoint=https://ingestion.invalid",
            connection_string.instrumentation_key()
        );
        let metrics = Exporter::new_from_connection_string(synthetic, transport)
            .map_err(|_| "the exporter refused the instrumentation key".to_string())?;
        Ok(Self {
            writer: EnvelopeWriter::new(
                connection_string.instrumentation_key(),
                ResourceTags::new(resource),
                gzip_level,
            ),
            metrics,
            resource_every,
            resource_next: Mutex::new(None),
        })
    }

    /// The request body for a batch (the `_OTELRESOURCE_` metric rides at the
    /// end of the first body, then of one body per `resource_every`).
    pub fn write(&self, batch: &Batch) -> std::io::Result<Body> {
        let with_resource = self.resource_due();
        match batch {
            Batch::Spans(spans) => self.writer.spans(spans, with_resource),
            Batch::Logs(logs) => self.writer.logs(logs, with_resource),
        }
    }

    fn resource_due(&self) -> bool {
        let now = Instant::now();
        let mut next = self.resource_next.lock().unwrap_or_else(|p| p.into_inner());
        match *next {
            Some(at) if now < at => false,
            _ => {
                // An interval too long to add means "not again for a long while".
                *next = Some(
                    now.checked_add(self.resource_every)
                        .unwrap_or(now + Duration::from_secs(365 * 86_400)),
                );
                true
            }
        }
    }

    pub async fn export_metrics(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        PushMetricExporter::export(&self.metrics, metrics).await
    }
}
