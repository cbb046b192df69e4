//! Benchmark support, NOT API: what `bench/rust-host` needs to time the
//! envelope writer on its own (`--mode encode`), and what the fuzz targets
//! (`fuzz/`) drive it with. Compiled only with the `bench` feature, hidden
//! from the docs, and free to change with the writer.
//!
//! The bare crate's mapping, the other side of that comparison, needs nothing
//! private: the bench host drives `opentelemetry-application-insights`
//! itself, so the library carries no copy of it.

use super::resource::ResourceTags;
use super::view::ViewOptions;
use super::writer::EnvelopeWriter;
use crate::ingest::{LogRecord, PackedSpan};
use opentelemetry_sdk::Resource;

/// Our envelope writer at one gzip level, as the pipeline's export step runs
/// it for a batch of spans.
#[derive(Debug)]
pub struct SpanEncoder {
    writer: EnvelopeWriter,
}

impl SpanEncoder {
    /// `resource` is what the pipeline would be built with (it becomes the
    /// tags every envelope carries).
    pub fn new(instrumentation_key: &str, resource: &Resource, gzip_level: u32) -> Self {
        Self {
            writer: EnvelopeWriter::new(
                instrumentation_key,
                ResourceTags::new(resource),
                gzip_level,
            ),
        }
    }

    /// The gzipped request body for `spans`, without the `_OTELRESOURCE_`
    /// metric (it rides on one body a minute, not on the steady state timed).
    pub fn encode(&self, spans: &[PackedSpan]) -> std::io::Result<Vec<u8>> {
        Ok(self.writer.spans(spans, false)?.gzip)
    }

    /// Exports Genkit's `genkit:input` / `genkit:output` as they are instead
    /// of `<redacted>` (the `log_input_and_output` setting).
    pub fn log_input_and_output(mut self, on: bool) -> Self {
        self.writer = self.writer.with_view(ViewOptions {
            log_input_and_output: on,
            ..ViewOptions::default()
        });
        self
    }

    /// The gzipped request body for `logs`, with the `_OTELRESOURCE_` metric
    /// when `with_resource`.
    pub fn encode_logs(&self, logs: &[LogRecord], with_resource: bool) -> std::io::Result<Vec<u8>> {
        Ok(self.writer.logs(logs, with_resource)?.gzip)
    }
}
