//! Length limits applied before data reaches `opentelemetry-application-insights`
//! (test-only: the crate is the reference the writer is compared with).
//!
//! The crate cuts strings by bytes (`String::truncate`, `&s[..n]`) and panics
//! when the cut falls inside a multi-byte character; after such a panic its
//! export path is dead. Here every string is cut at a character boundary to a
//! length at or below the limit of the field it will land in, so the crate's
//! own cuts become no-ops. (The worker also isolates each export in its own
//! task, so a panic we did not foresee costs one batch, counted, not the pipeline.)

use opentelemetry::{Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;

use crate::ingest::LogRecord;
use crate::text::{floor_char_boundary, truncated};

/// Property keys longer than this are dropped by the service.
pub const MAX_KEY_BYTES: usize = 150;
/// Property values (customDimensions).
pub const MAX_VALUE_BYTES: usize = 8192;
/// Request / dependency names.
pub const MAX_NAME_BYTES: usize = 1024;
/// Custom event names.
pub const MAX_EVENT_NAME_BYTES: usize = 512;
/// Message text, exception message and stack.
pub const MAX_MESSAGE_BYTES: usize = 32768;
/// Parts that the crate joins into one limited field (host:port, scheme://host/path?query).
const MAX_COMPOSITE_PART_BYTES: usize = 256;

/// The byte limit of the field an attribute with this key ends up in.
pub fn value_limit(key: &str) -> usize {
    match key {
        "ai.session.isFirst" => 5,
        "ai.location.ip" => 46,
        "ai.device.locale"
        | "ai.device.type"
        | "ai.session.id"
        | "ai.operation.correlationVector" => 64,
        "ai.operation.id" | "ai.operation.parentId" | "ai.user.id" | "enduser.id" => 128,
        "http.status_code" | "http.response.status_code" | "rpc.grpc.status_code" => 64,
        "exception.message" | "exception.stacktrace" => MAX_MESSAGE_BYTES,
        "exception.type" => MAX_NAME_BYTES,
        "db.statement" | "db.query.text" => MAX_VALUE_BYTES,
        k if k.starts_with("ai.") => 256,
        k if k.starts_with("url.")
            || k.starts_with("http.")
            || k.starts_with("net.")
            || k.starts_with("server.")
            || k.starts_with("client.")
            || k.starts_with("network.")
            || k.starts_with("rpc.")
            || k.starts_with("messaging.")
            || k.starts_with("peer.")
            || k.starts_with("db.")
            || k == "gen_ai.system"
            || k == "gen_ai.provider.name" =>
        {
            MAX_COMPOSITE_PART_BYTES
        }
        _ => MAX_VALUE_BYTES,
    }
}

fn cut_string(s: &StringValue, max: usize) -> Option<StringValue> {
    let text = s.as_str();
    (text.len() > max).then(|| StringValue::from(truncated(text, max).to_string()))
}

/// Returns a replacement for `value` when it is longer than `max` bytes.
fn cut_value(value: &Value, max: usize) -> Option<Value> {
    match value {
        Value::String(s) => cut_string(s, max).map(Value::String),
        // The crate renders arrays as one string; cut the rendering.
        Value::Array(_) => {
            let rendered = value.as_str();
            (rendered.len() > max)
                .then(|| Value::String(truncated(&rendered, max).to_string().into()))
        }
        _ => None,
    }
}

fn cut_key(key: &Key) -> Option<Key> {
    let k = key.as_str();
    (k.len() > MAX_KEY_BYTES).then(|| Key::from(truncated(k, MAX_KEY_BYTES).to_string()))
}

/// Applies the limits to a list of attributes; returns how many were cut.
pub fn attributes(attrs: &mut [KeyValue]) -> u64 {
    let mut cut = 0;
    for kv in attrs.iter_mut() {
        if let Some(k) = cut_key(&kv.key) {
            kv.key = k;
            cut += 1;
        }
        if let Some(v) = cut_value(&kv.value, value_limit(kv.key.as_str())) {
            kv.value = v;
            cut += 1;
        }
    }
    cut
}

/// Applies the limits to a span, its events and links; returns how many strings were cut.
pub fn span(span: &mut SpanData) -> u64 {
    let mut cut = attributes(&mut span.attributes);
    if span.name.len() > MAX_NAME_BYTES {
        span.name = truncated(&span.name, MAX_NAME_BYTES).to_string().into();
        cut += 1;
    }
    if let opentelemetry::trace::Status::Error { description } = &mut span.status {
        if description.len() > MAX_MESSAGE_BYTES {
            *description = truncated(description, MAX_MESSAGE_BYTES).to_string().into();
            cut += 1;
        }
    }
    for event in span.events.events.iter_mut() {
        if event.name.len() > MAX_EVENT_NAME_BYTES {
            event.name = truncated(&event.name, MAX_EVENT_NAME_BYTES)
                .to_string()
                .into();
            cut += 1;
        }
        cut += attributes(&mut event.attributes);
    }
    for link in span.links.links.iter_mut() {
        cut += attributes(&mut link.attributes);
    }
    cut
}

/// Applies the limits to a log record; returns how many strings were cut.
pub fn log(record: &mut LogRecord) -> u64 {
    let mut cut = attributes(&mut record.attributes);
    if record.body.len() > MAX_MESSAGE_BYTES {
        let end = floor_char_boundary(&record.body, MAX_MESSAGE_BYTES);
        record.body.truncate(end);
        cut += 1;
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::Array;

    #[test]
    fn attribute_values_keys_and_arrays_respect_their_limits() {
        let mut attrs = vec![
            KeyValue::new("genkit:output", format!("{}é", "a".repeat(8191))),
            KeyValue::new("k".repeat(149) + "é", "v"),
            KeyValue::new("ai.session.isFirst", "trüe!"),
            KeyValue::new(
                "tags",
                Value::Array(Array::String(vec!["ü".repeat(3000).into(); 3])),
            ),
            KeyValue::new("n", 5),
        ];
        assert_eq!(attributes(&mut attrs), 4);
        assert_eq!(attrs[0].value.as_str().len(), 8191);
        assert_eq!(attrs[1].key.as_str().len(), 149);
        assert_eq!(attrs[2].value.as_str(), "trüe");
        assert!(attrs[3].value.as_str().len() <= MAX_VALUE_BYTES);
        assert_eq!(attrs[4].value, Value::I64(5));
    }
}
