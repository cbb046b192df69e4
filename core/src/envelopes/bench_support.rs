//! Benchmark support, NOT API: what `bench/rust-host` needs to time the
//! envelope writer on its own (`--mode encode`), and what the fuzz targets
//! (`fuzz/`) drive it with. Compiled only with the `bench` feature, hidden
//! from the docs, and free to change with the writer.
//!
//! The bare crate's mapping, the other side of that comparison, needs nothing
//! private: the bench host drives `opentelemetry-application-insights`
//! itself, so the library carries no copy of it.

use super::deflate::{self, EnvelopeDeflate};
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

/// Core's DEFLATE encoder on its own (`envelopes/deflate`), for the `deflate`
/// fuzz target: text handed over in parts, each with the text before it
/// and marks, as the envelope writer hands it over; the output is one gzip
/// member per body.
#[derive(Debug, Default)]
pub struct MarkedDeflate {
    deflate: EnvelopeDeflate,
}

impl MarkedDeflate {
    /// How much of the text before a part [`Self::write`] wants to see.
    pub const HISTORY: usize = EnvelopeDeflate::HISTORY;
    /// A mark's key: a string value starts here.
    pub const TEXT: u32 = deflate::TEXT;
    /// A mark's key: an id starts here.
    pub const ID: u32 = deflate::ID;

    /// An encoder whose stream position starts at `position` (at least 1),
    /// so that a few bodies reach the point where positions start again.
    pub fn at_position(position: u32) -> Self {
        Self {
            deflate: EnvelopeDeflate::at_position(position.max(1)),
        }
    }

    /// The key of a piece of fixed text, as the writer makes it.
    pub fn template_key(piece: &[u8]) -> u32 {
        deflate::template(piece)
    }

    /// Starts a body (a gzip member) in `out`.
    pub fn begin(&mut self, out: &mut Vec<u8>) {
        self.deflate.begin(out);
    }

    /// Compresses `text[from..]`; `text[..from]` is the text just before it
    /// in this body; `marks` are (position in `text`, key), ascending.
    pub fn write(&mut self, text: &[u8], from: usize, marks: &[(usize, u32)], out: &mut Vec<u8>) {
        let marks: Vec<deflate::Mark> = marks
            .iter()
            .map(|&(at, key)| deflate::mark(at, key))
            .collect();
        self.deflate.write(text, from, &marks, out);
    }

    /// Ends the body.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.deflate.finish(out);
    }
}
