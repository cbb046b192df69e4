//! Building `SpanData` from plain fields, for faces that receive spans from
//! another language (C structs, Python SDK spans).

use crate::error::{ConfigError, Error, Result};
use opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A finished span as plain fields. `into_span_data` checks them.
#[derive(Debug, Clone)]
pub struct RawSpan {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// All zero or `None` for a root span.
    pub parent_span_id: Option<[u8; 8]>,
    pub parent_is_remote: bool,
    pub name: String,
    pub kind: SpanKind,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub status: Status,
    pub attributes: Vec<KeyValue>,
    pub events: Vec<Event>,
    /// The instrumentation scope (e.g. `genkit-tracer`).
    pub scope: Option<InstrumentationScope>,
}

fn invalid(field: &str, reason: impl Into<String>) -> Error {
    Error::InvalidArgument(ConfigError::new(field, reason))
}

/// Converts Unix nanoseconds to `SystemTime`.
pub fn time_from_unix_nanos(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

impl RawSpan {
    pub fn into_span_data(self) -> Result<SpanData> {
        let trace_id = TraceId::from_bytes(self.trace_id);
        if trace_id == TraceId::INVALID {
            return Err(invalid("trace_id", "must not be all zeros"));
        }
        let span_id = SpanId::from_bytes(self.span_id);
        if span_id == SpanId::INVALID {
            return Err(invalid("span_id", "must not be all zeros"));
        }
        if self.end_unix_nanos < self.start_unix_nanos {
            return Err(invalid(
                "end_time",
                format!(
                    "is before start_time ({} < {} Unix ns)",
                    self.end_unix_nanos, self.start_unix_nanos
                ),
            ));
        }
        let parent_span_id = self
            .parent_span_id
            .map_or(SpanId::INVALID, SpanId::from_bytes);
        let mut events = SpanEvents::default();
        events.events = self.events;
        Ok(SpanData {
            span_context: SpanContext::new(
                trace_id,
                span_id,
                TraceFlags::SAMPLED,
                false,
                TraceState::NONE,
            ),
            parent_span_id,
            parent_span_is_remote: self.parent_is_remote,
            span_kind: self.kind,
            name: Cow::Owned(self.name),
            start_time: time_from_unix_nanos(self.start_unix_nanos),
            end_time: time_from_unix_nanos(self.end_unix_nanos),
            attributes: self.attributes,
            dropped_attributes_count: 0,
            events,
            links: SpanLinks::default(),
            status: self.status,
            instrumentation_scope: self
                .scope
                .unwrap_or_else(|| InstrumentationScope::builder("genkit-azure").build()),
        })
    }
}

/// Parses a lowercase or uppercase hex id of exactly `N` bytes.
pub fn parse_hex_id<const N: usize>(field: &str, hex: &str) -> Result<[u8; N]> {
    if hex.len() != N * 2 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(
            field,
            format!("must be {} hexadecimal digits", N * 2),
        ));
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("checked hex");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawSpan {
        RawSpan {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent_span_id: None,
            parent_is_remote: false,
            name: "s".into(),
            kind: SpanKind::Internal,
            start_unix_nanos: 10,
            end_unix_nanos: 20,
            status: Status::Unset,
            attributes: vec![],
            events: vec![],
            scope: None,
        }
    }

    #[test]
    fn rejects_zero_ids_and_reversed_times_with_the_field_name() {
        let e = RawSpan {
            trace_id: [0; 16],
            ..raw()
        }
        .into_span_data()
        .unwrap_err();
        assert!(e.to_string().contains("trace_id"), "{e}");
        let e = RawSpan {
            span_id: [0; 8],
            ..raw()
        }
        .into_span_data()
        .unwrap_err();
        assert!(e.to_string().contains("span_id"), "{e}");
        let e = RawSpan {
            end_unix_nanos: 5,
            ..raw()
        }
        .into_span_data()
        .unwrap_err();
        assert!(e.to_string().contains("end_time"), "{e}");
        let ok = raw().into_span_data().unwrap();
        assert_eq!(ok.parent_span_id, SpanId::INVALID);
    }

    #[test]
    fn parses_hex_ids() {
        assert_eq!(parse_hex_id::<2>("x", "0aFf").unwrap(), [0x0a, 0xff]);
        assert!(parse_hex_id::<2>("x", "0aF").is_err());
        assert!(parse_hex_id::<2>("x", "0aFg").is_err());
        assert!(parse_hex_id::<2>("x", "éé").is_err());
    }
}
