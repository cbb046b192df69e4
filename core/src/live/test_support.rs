//! What the Live Metrics tests share: finished spans made tersely.

use crate::ingest::PackedSpan;
use opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use std::time::{Duration, SystemTime};

/// A finished root span of `kind` lasting `millis`, failed unless `ok`,
/// with `exceptions` exception events (type `ValueError`).
pub(crate) fn span(
    kind: SpanKind,
    name: &str,
    attrs: Vec<KeyValue>,
    ok: bool,
    millis: u64,
) -> PackedSpan {
    span_with_exceptions(kind, name, attrs, ok, millis, 0)
}

pub(crate) fn span_with_exceptions(
    kind: SpanKind,
    name: &str,
    attrs: Vec<KeyValue>,
    ok: bool,
    millis: u64,
    exceptions: usize,
) -> PackedSpan {
    let start = SystemTime::now();
    let mut events = SpanEvents::default();
    for i in 0..exceptions {
        events.events.push(Event::new(
            "exception",
            start,
            vec![
                KeyValue::new("exception.type", "ValueError"),
                KeyValue::new("exception.message", format!("bad {i}")),
                KeyValue::new("exception.stacktrace", "at work()"),
                KeyValue::new("where", "here"),
            ],
            0,
        ));
    }
    let data = SpanData {
        span_context: SpanContext::new(
            TraceId::from_bytes([7; 16]),
            SpanId::from_bytes([fastrand::u8(1..), 1, 2, 3, 4, 5, 6, 7]),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: kind,
        name: name.to_string().into(),
        start_time: start,
        end_time: start + Duration::from_millis(millis),
        attributes: attrs,
        dropped_attributes_count: 0,
        events,
        links: SpanLinks::default(),
        status: if ok {
            Status::Unset
        } else {
            Status::error("failed")
        },
        instrumentation_scope: InstrumentationScope::builder("test").build(),
    };
    PackedSpan::from_span_data(&data).unwrap()
}
