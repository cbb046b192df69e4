//! Benchmark support, NOT API: what `bench/rust-host` needs to time the
//! envelope writer on its own (`--mode encode`). Compiled only with the
//! `bench` feature, hidden from the docs, and free to change with the writer.
//!
//! The bare crate's mapping, the other side of that comparison, needs nothing
//! private: the bench host drives `opentelemetry-application-insights`
//! itself, so the library carries no copy of it.

use super::resource::ResourceTags;
use super::writer::EnvelopeWriter;
use crate::ingest::PackedSpan;
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
}
