//! A span as plain fields, for faces that receive spans from another
//! language (C structs), and the helpers they share.

use super::packed_span::{PackedSpan, SpanPacker};
use crate::error::{ConfigError, Error, Result};
use opentelemetry::trace::{Event, SpanKind, Status};
use opentelemetry::{InstrumentationScope, KeyValue};

/// A finished span as plain fields, as a face reads it; `pack` checks them.
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

impl RawSpan {
    /// Checks the span and packs it for the queue ([`AzureTelemetry::push_packed`]).
    ///
    /// [`AzureTelemetry::push_packed`]: crate::AzureTelemetry::push_packed
    pub fn pack(&self) -> Result<PackedSpan> {
        let mut p = SpanPacker::new(
            self.trace_id,
            self.span_id,
            self.parent_span_id,
            self.parent_is_remote,
            self.kind.clone(),
            self.start_unix_nanos,
            self.end_unix_nanos,
        );
        p.name(&self.name);
        p.status(&self.status);
        if let Some(scope) = &self.scope {
            p.instrumentation_scope(scope);
        }
        p.attributes(&self.attributes);
        self.events.iter().for_each(|e| p.sdk_event(e));
        p.finish()
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
        .pack()
        .unwrap_err();
        assert!(e.to_string().contains("trace_id"), "{e}");
        let e = RawSpan {
            span_id: [0; 8],
            ..raw()
        }
        .pack()
        .unwrap_err();
        assert!(e.to_string().contains("span_id"), "{e}");
        let e = RawSpan {
            end_unix_nanos: 5,
            ..raw()
        }
        .pack()
        .unwrap_err();
        assert!(e.to_string().contains("end_time"), "{e}");
        let ok = raw().pack().unwrap().unpack();
        assert_eq!(ok.parent_span_id, opentelemetry::trace::SpanId::INVALID);
        assert_eq!(ok.name, "s");
    }

    #[test]
    fn parses_hex_ids() {
        assert_eq!(parse_hex_id::<2>("x", "0aFf").unwrap(), [0x0a, 0xff]);
        assert!(parse_hex_id::<2>("x", "0aF").is_err());
        assert!(parse_hex_id::<2>("x", "0aFg").is_err());
        assert!(parse_hex_id::<2>("x", "éé").is_err());
    }
}
