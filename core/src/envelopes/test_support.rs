//! What the envelope tests share: reading a written body back, and making
//! spans and attributes tersely.

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use serde_json::Value as Json;
use std::io::Read;
use std::time::{Duration, SystemTime};

/// A gzip member's text (its CRC-32 and length checked by the decoder).
pub(crate) fn gunzip(gzip: &[u8]) -> Vec<u8> {
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(gzip)
        .read_to_end(&mut text)
        .expect("gzip");
    text
}

/// The envelopes of a gzipped request body.
pub(crate) fn decode(gzip: &[u8]) -> Vec<Json> {
    serde_json::from_slice(&gunzip(gzip)).expect("a JSON array")
}

pub(crate) fn kv(k: &'static str, v: impl Into<Value>) -> KeyValue {
    KeyValue::new(k, v)
}

/// A finished, sampled span: id `[id; 8]` in `trace`, child of `[p; 8]` when
/// `parent` is given, from `start` for `duration`, status unset.
#[allow(clippy::too_many_arguments)]
pub(crate) fn span_data(
    trace: [u8; 16],
    id: u8,
    parent: Option<u8>,
    kind: SpanKind,
    name: &str,
    attrs: Vec<KeyValue>,
    start: SystemTime,
    duration: Duration,
) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from_bytes(trace),
            SpanId::from_bytes([id; 8]),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: parent.map_or(SpanId::INVALID, |p| SpanId::from_bytes([p; 8])),
        parent_span_is_remote: false,
        span_kind: kind,
        name: name.to_string().into(),
        start_time: start,
        end_time: start + duration,
        attributes: attrs,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("test").build(),
    }
}
