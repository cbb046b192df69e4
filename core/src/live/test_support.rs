//! What the Live Metrics tests share: finished spans made tersely.

use crate::envelopes::test_support::span_data;
use crate::ingest::PackedSpan;
use opentelemetry::trace::{Event, SpanKind, Status};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanEvents;
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
    let mut data = span_data(
        [7; 16],
        fastrand::u8(1..),
        None,
        kind,
        name,
        attrs,
        start,
        Duration::from_millis(millis),
    );
    data.events = events;
    if !ok {
        data.status = Status::error("failed");
    }
    PackedSpan::from_span_data(&data).unwrap()
}
