//! Turning a batch into the body of one request, through our envelope writer.

use super::metrics::Series;
use super::resource::ResourceTags;
use super::view::ViewOptions;
use super::writer::{Body, EnvelopeWriter};
use crate::config::ConnectionString;
use crate::ingest::{Custom, LogRecord, PackedSpan};
use opentelemetry_sdk::Resource;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The items one request body is written from: spans, logs, custom
/// telemetry or metric series, never a mix.
pub(crate) enum Batch {
    Spans(Vec<PackedSpan>),
    /// Boxed as they were queued: moved into a vector by value, a full
    /// batch is a vector large enough to be mapped afresh each time (see
    /// `pipeline/pending.rs`).
    #[allow(clippy::vec_box)]
    Logs(Vec<Box<LogRecord>>),
    /// Custom events and availability results, boxed alike.
    #[allow(clippy::vec_box)]
    Custom(Vec<Box<Custom>>),
    /// One collection, and how many points went into it.
    Metrics {
        series: Vec<Series>,
        points: u64,
    },
}

impl Batch {
    /// The items the batch accounts for: spans and the `Config[...]` log
    /// records they carry (see `PackedSpan::items`), logs, metric points.
    pub fn len(&self) -> usize {
        match self {
            Batch::Spans(v) => v.iter().map(PackedSpan::items).sum(),
            Batch::Logs(v) => v.len(),
            Batch::Custom(v) => v.len(),
            Batch::Metrics { points, .. } => *points as usize,
        }
    }
}

/// Writes batches as request bodies.
#[derive(Debug)]
pub(crate) struct AzureExporter {
    writer: EnvelopeWriter,
    /// How often the resource's `_OTELRESOURCE_` metric goes out again.
    resource_every: Duration,
    /// When it is next due; `None` before the first body.
    resource_next: Mutex<Option<Instant>>,
    /// Whether it goes out at all (not with `disable_metrics`).
    resource_metric: bool,
}

impl AzureExporter {
    pub fn new(
        connection_string: &ConnectionString,
        resource: &Resource,
        gzip_level: u32,
        resource_every: Duration,
        resource_metric: bool,
        view: ViewOptions,
    ) -> Self {
        Self {
            writer: EnvelopeWriter::new(
                connection_string.instrumentation_key(),
                ResourceTags::new(resource),
                gzip_level,
            )
            .with_view(view),
            resource_every,
            resource_next: Mutex::new(None),
            resource_metric,
        }
    }

    /// The request body for a batch (the `_OTELRESOURCE_` metric rides at the
    /// end of the first body, then of one body per `resource_every`).
    pub fn write(&self, batch: &Batch) -> std::io::Result<Body> {
        let with_resource = self.resource_due();
        match batch {
            Batch::Spans(spans) => self.writer.spans(spans, with_resource),
            Batch::Logs(logs) => self.writer.logs(logs, with_resource),
            Batch::Custom(items) => self.writer.custom(items, with_resource),
            Batch::Metrics { series, .. } => self.writer.metrics(series, with_resource),
        }
    }

    fn resource_due(&self) -> bool {
        if !self.resource_metric {
            return false;
        }
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
}
