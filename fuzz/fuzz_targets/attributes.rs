//! Fuzz target: attribute conversion, from arbitrary keys and values of every
//! OpenTelemetry type (arrays, NaN, infinities, huge and odd UTF-8, keys the
//! view step reads) into packed spans, span events, links and log records,
//! then through the envelope writer into a request body. Nothing may panic;
//! the body must be gzip of a JSON array of envelopes whose properties are
//! within the service's limits.
#![no_main]

mod common;

use arbitrary::Arbitrary;
use genkit_azure::bench_support::SpanEncoder;
use genkit_azure::opentelemetry::trace::{SpanId, SpanKind, TraceId};
use genkit_azure::opentelemetry::{Array, KeyValue, StringValue, Value};
use genkit_azure::opentelemetry_sdk::Resource;
use genkit_azure::{severity_from_number, time_from_unix_nanos, LogRecord, SpanPacker};
use libfuzzer_sys::fuzz_target;

const IKEY: &str = "00000000-0000-4000-8000-000000000000";

/// At most this many spans, logs, events, links and attributes of each are
/// read from one input: enough for every combination, and one input's
/// transient memory (8 KB values, their JSON, its parse) stays small, so the
/// RSS limit catches growth across inputs rather than one wide input.
const MAX: usize = 48;

#[derive(Arbitrary, Debug)]
enum FuzzKey {
    Known(u8),
    Any(String),
    /// A long key, past the 150-character property limit and the interner's.
    Long(u8, u16),
}

impl FuzzKey {
    fn text(&self) -> String {
        match self {
            FuzzKey::Known(i) => common::KEYS[*i as usize % common::KEYS.len()].to_string(),
            FuzzKey::Any(s) => s.clone(),
            FuzzKey::Long(c, n) => char::from(b'a' + c % 26)
                .to_string()
                .repeat(*n as usize % 600),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum FuzzValue {
    Str(String),
    /// A long string around the 8,192-character property limit, with a
    /// multi-byte character where a cut may fall.
    Long(u16, char),
    Bool(bool),
    I64(i64),
    F64(f64),
    Special(u8),
    Bools(Vec<bool>),
    I64s(Vec<i64>),
    F64s(Vec<f64>),
    Strs(Vec<String>),
}

impl FuzzValue {
    fn value(&self) -> Value {
        match self {
            FuzzValue::Str(s) => Value::from(s.clone()),
            FuzzValue::Long(n, c) => {
                let mut s = "x".repeat(8_000 + *n as usize % 400);
                s.push(*c);
                s.push_str("tail");
                Value::from(s)
            }
            FuzzValue::Bool(b) => Value::Bool(*b),
            FuzzValue::I64(i) => Value::I64(*i),
            FuzzValue::F64(f) => Value::F64(*f),
            FuzzValue::Special(i) => Value::F64(
                [
                    f64::NAN,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    -0.0,
                    f64::MIN_POSITIVE,
                    f64::MAX,
                ][*i as usize % 6],
            ),
            FuzzValue::Bools(v) => Value::Array(Array::Bool(v.clone())),
            FuzzValue::I64s(v) => Value::Array(Array::I64(v.clone())),
            FuzzValue::F64s(v) => Value::Array(Array::F64(v.clone())),
            FuzzValue::Strs(v) => Value::Array(Array::String(
                v.iter().cloned().map(StringValue::from).collect(),
            )),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Attr(FuzzKey, FuzzValue);

#[derive(Arbitrary, Debug)]
struct FuzzEvent {
    name: String,
    time: u64,
    /// What the packer is told; it may disagree with `attributes.len()`.
    declared: Option<u8>,
    attributes: Vec<Attr>,
}

#[derive(Arbitrary, Debug)]
struct FuzzSpan {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: [u8; 8],
    remote: bool,
    kind: u8,
    start: u64,
    duration: u64,
    name: String,
    operation_name: Option<String>,
    status: Option<Option<String>>,
    scope: Option<(String, Option<String>)>,
    attributes: Vec<Attr>,
    events: Vec<FuzzEvent>,
    links: Vec<([u8; 16], [u8; 8], Vec<Attr>)>,
}

#[derive(Arbitrary, Debug)]
struct FuzzLog {
    severity: u8,
    time: u64,
    body: String,
    attributes: Vec<Attr>,
    context: Option<([u8; 16], [u8; 8])>,
    logger_name: Option<String>,
    operation_name: Option<String>,
    sample_rate: Option<f64>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    log_input_and_output: bool,
    spans: Vec<FuzzSpan>,
    logs: Vec<FuzzLog>,
}

fn kind(k: u8) -> SpanKind {
    match k % 5 {
        0 => SpanKind::Internal,
        1 => SpanKind::Server,
        2 => SpanKind::Client,
        3 => SpanKind::Producer,
        _ => SpanKind::Consumer,
    }
}

fn pack(s: &FuzzSpan) -> Option<genkit_azure::PackedSpan> {
    let mut p = SpanPacker::new(
        s.trace_id,
        s.span_id,
        Some(s.parent),
        s.remote,
        kind(s.kind),
        s.start,
        s.start.saturating_add(s.duration),
    );
    p.name(&s.name);
    if let Some(op) = &s.operation_name {
        p.operation_name(op);
    }
    match &s.status {
        None => {}
        Some(None) => p.status_ok(),
        Some(Some(description)) => p.status_error(description),
    }
    if let Some((name, version)) = &s.scope {
        p.scope(name, version.as_deref());
    }
    for Attr(k, v) in s.attributes.iter().take(MAX) {
        p.attribute(&k.text(), &v.value());
    }
    for e in s.events.iter().take(MAX) {
        let declared = e
            .declared
            .map_or(e.attributes.len().min(MAX) as u32, u32::from);
        p.event(&e.name, e.time, declared);
        for Attr(k, v) in e.attributes.iter().take(MAX) {
            p.attribute(&k.text(), &v.value());
        }
    }
    for (trace_id, span_id, attributes) in s.links.iter().take(MAX) {
        p.link(*trace_id, *span_id, false, attributes.len().min(MAX) as u32);
        for Attr(k, v) in attributes.iter().take(MAX) {
            p.attribute(&k.text(), &v.value());
        }
    }
    // An invalid span (zero ids, an event told more attributes than it got)
    // is refused with an error: that is the conversion working.
    p.finish().ok()
}

fn log(l: &FuzzLog) -> Option<LogRecord> {
    let mut record = LogRecord::new(severity_from_number(i32::from(l.severity % 30))?, &l.body);
    record.time = time_from_unix_nanos(l.time);
    record.attributes = l
        .attributes
        .iter()
        .take(MAX)
        .map(|Attr(k, v)| KeyValue::new(k.text(), v.value()))
        .collect();
    if let Some((t, s)) = l.context {
        record.trace_context = Some((TraceId::from_bytes(t), SpanId::from_bytes(s)));
    }
    record.logger_name = l.logger_name.clone();
    record.operation_name = l.operation_name.as_deref().map(Into::into);
    // The pipeline sets it from a kept trace's ratio: (0, 100].
    record.sample_rate = l.sample_rate.filter(|r| *r > 0.0 && *r <= 100.0);
    Some(record)
}

fuzz_target!(|input: Input| {
    let resource = Resource::builder_empty()
        .with_attribute(KeyValue::new("service.name", "fuzz"))
        .build();
    // The default gzip level: our own encoder, which reads the writer's marks.
    let encoder =
        SpanEncoder::new(IKEY, &resource, 3).log_input_and_output(input.log_input_and_output);
    let spans: Vec<_> = input.spans.iter().take(MAX).filter_map(pack).collect();
    if !spans.is_empty() {
        let body = encoder
            .encode(&spans)
            .expect("writing into memory cannot fail");
        common::check_body(&body, IKEY, spans.len());
    }
    let logs: Vec<_> = input.logs.iter().take(MAX).filter_map(log).collect();
    if !logs.is_empty() {
        let body = encoder
            .encode_logs(&logs, true)
            .expect("writing into memory cannot fail");
        common::check_body(&body, IKEY, logs.len());
    }
});
