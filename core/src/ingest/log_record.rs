//! A log record as every face hands it to the pipeline.
//!
//! The OpenTelemetry SDK has no public, constructible log record type, so
//! this small struct carries a log until the background thread turns it into
//! an SDK record. (Spans travel packed; see `packed_span.rs`.)

use opentelemetry::logs::Severity;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::KeyValue;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Debug, Clone)]
pub struct LogRecord {
    /// When the event happened.
    pub time: SystemTime,
    pub severity: Severity,
    /// The message; exported as the Message `message` (or the exception message).
    pub body: String,
    pub attributes: Vec<KeyValue>,
    /// The span the record was emitted in, if any: it becomes
    /// `ai.operation.id` / `ai.operation.parentId`.
    pub trace_context: Option<(TraceId, SpanId)>,
    /// The logger's name (e.g. the Python logger), kept as a property.
    pub logger_name: Option<String>,
    /// The operation of the span it was emitted in (`ai.operation.name`);
    /// faces take it from [`crate::Operations::current`].
    pub operation_name: Option<Arc<str>>,
    /// The `sampleRate` its envelope carries (the percentage of traces
    /// kept): set by the pipeline inside a trace that sampling kept below
    /// 100 %, when logs are sampled with their trace
    /// (`enable_trace_based_sampling_for_logs`). `None` writes none.
    pub sample_rate: Option<f64>,
}

impl LogRecord {
    pub fn new(severity: Severity, body: impl Into<String>) -> Self {
        Self {
            time: SystemTime::now(),
            severity,
            body: body.into(),
            attributes: Vec::new(),
            trace_context: None,
            logger_name: None,
            operation_name: None,
            sample_rate: None,
        }
    }

    /// The value of an attribute as text, the last when the key repeats (as
    /// its envelope says it): what the writer and Live Metrics read.
    pub fn attribute(&self, key: &str) -> Option<Cow<'_, str>> {
        self.attributes
            .iter()
            .rev()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str())
    }

    pub fn with_attribute(mut self, kv: KeyValue) -> Self {
        self.attributes.push(kv);
        self
    }

    pub fn with_trace_context(mut self, trace_id: TraceId, span_id: SpanId) -> Self {
        self.trace_context = Some((trace_id, span_id));
        self
    }
}

/// Maps an OpenTelemetry severity number (1-24) to its `Severity`; `None` when
/// out of range.
pub fn severity_from_number(number: i32) -> Option<Severity> {
    use Severity::*;
    const ALL: [Severity; 24] = [
        Trace, Trace2, Trace3, Trace4, Debug, Debug2, Debug3, Debug4, Info, Info2, Info3, Info4,
        Warn, Warn2, Warn3, Warn4, Error, Error2, Error3, Error4, Fatal, Fatal2, Fatal3, Fatal4,
    ];
    usize::try_from(number)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| ALL.get(i).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_numbers_follow_the_otel_table() {
        assert_eq!(severity_from_number(1), Some(Severity::Trace));
        assert_eq!(severity_from_number(9), Some(Severity::Info));
        assert_eq!(severity_from_number(13), Some(Severity::Warn));
        assert_eq!(severity_from_number(17), Some(Severity::Error));
        assert_eq!(severity_from_number(24), Some(Severity::Fatal4));
        assert_eq!(severity_from_number(0), None);
        assert_eq!(severity_from_number(25), None);
        assert_eq!(severity_from_number(-3), None);
    }
}
