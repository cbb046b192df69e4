//! Custom telemetry a face records directly rather than through a span or a
//! log: business events (customEvents), handled exceptions (exceptions) and
//! availability-test results (the availability blade). The envelope writer
//! writes each as its own envelope type.
//!
//! Every item may say where it happened: the span it was recorded in (its
//! trace id becomes the operation id, its span id the parent id) and the
//! operation's name, so the portal shows it inside that operation. An item
//! inside a span that names no operation takes the open operation's name,
//! as a log record does.

use crate::error::ConfigError;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::KeyValue;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A named business event, with dimensions and numeric measurements.
#[derive(Debug, Clone)]
pub struct CustomEvent {
    pub time: SystemTime,
    /// What happened ("order placed"); must not be empty.
    pub name: String,
    pub properties: Vec<KeyValue>,
    pub measurements: Vec<(String, f64)>,
    /// The span it happened in, if any: its operation id and parent id.
    pub trace_context: Option<(TraceId, SpanId)>,
    /// The operation it belongs to (`ai.operation.name`), if known.
    pub operation_name: Option<Arc<str>>,
    /// The `sampleRate` its envelope carries, set by the pipeline as a
    /// log record's is (see `LogRecord::sample_rate`).
    pub sample_rate: Option<f64>,
}

/// An exception the application caught and wants seen.
#[derive(Debug, Clone)]
pub struct TrackedException {
    pub time: SystemTime,
    /// The exception's type (`ValueError`, `std::io::Error`); must not be empty.
    pub type_name: String,
    pub message: String,
    /// The full formatted stack, if there is one.
    pub stack: Option<String>,
    pub properties: Vec<KeyValue>,
    pub trace_context: Option<(TraceId, SpanId)>,
    pub operation_name: Option<Arc<str>>,
    /// The `sampleRate` its envelope carries, set by the pipeline as a
    /// log record's is (see `LogRecord::sample_rate`).
    pub sample_rate: Option<f64>,
}

/// The result of one availability test run.
#[derive(Debug, Clone)]
pub struct AvailabilityResult {
    pub time: SystemTime,
    /// The test's name (the availability blade groups by it); must not be empty.
    pub name: String,
    pub success: bool,
    pub duration: Duration,
    /// Where the test ran (a region, a host).
    pub run_location: Option<String>,
    /// What happened, typically why it failed.
    pub message: Option<String>,
    pub properties: Vec<KeyValue>,
    pub measurements: Vec<(String, f64)>,
    pub trace_context: Option<(TraceId, SpanId)>,
    pub operation_name: Option<Arc<str>>,
    /// The `sampleRate` its envelope carries, set by the pipeline as a
    /// log record's is (see `LogRecord::sample_rate`).
    pub sample_rate: Option<f64>,
}

impl CustomEvent {
    /// An event named `name`, now, outside any operation.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            time: SystemTime::now(),
            name: name.into(),
            properties: Vec::new(),
            measurements: Vec::new(),
            trace_context: None,
            operation_name: None,
            sample_rate: None,
        }
    }

    pub fn with_measurement(mut self, name: impl Into<String>, value: f64) -> Self {
        self.measurements.push((name.into(), value));
        self
    }
}

impl TrackedException {
    /// An exception of type `type_name`, now, without a stack, outside any operation.
    pub fn new(type_name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            time: SystemTime::now(),
            type_name: type_name.into(),
            message: message.into(),
            stack: None,
            properties: Vec::new(),
            trace_context: None,
            operation_name: None,
            sample_rate: None,
        }
    }

    pub fn with_stack(mut self, stack: impl Into<String>) -> Self {
        self.stack = Some(stack.into());
        self
    }
}

impl AvailabilityResult {
    /// A run of the test `name` that ended now, outside any operation.
    pub fn new(name: impl Into<String>, success: bool, duration: Duration) -> Self {
        Self {
            time: SystemTime::now(),
            name: name.into(),
            success,
            duration,
            run_location: None,
            message: None,
            properties: Vec::new(),
            measurements: Vec::new(),
            trace_context: None,
            operation_name: None,
            sample_rate: None,
        }
    }

    pub fn with_run_location(mut self, location: impl Into<String>) -> Self {
        self.run_location = Some(location.into());
        self
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub fn with_measurement(mut self, name: impl Into<String>, value: f64) -> Self {
        self.measurements.push((name.into(), value));
        self
    }
}

/// The builder methods every custom item has, written once.
macro_rules! common_builders {
    ($($t:ty),*) => {$(
        impl $t {
            /// When it happened (default: when it was built).
            pub fn with_time(mut self, time: SystemTime) -> Self {
                self.time = time;
                self
            }

            /// A dimension (customDimensions); the last value of a key wins.
            pub fn with_property(mut self, kv: KeyValue) -> Self {
                self.properties.push(kv);
                self
            }

            /// The span it happened in: `ai.operation.id` and `ai.operation.parentId`.
            pub fn with_trace_context(mut self, trace_id: TraceId, span_id: SpanId) -> Self {
                self.trace_context = Some((trace_id, span_id));
                self
            }

            /// The operation's name: `ai.operation.name`. Unset, an item
            /// inside a span takes its operation's (see `AzureTelemetry::operations`).
            pub fn with_operation_name(mut self, name: impl Into<Arc<str>>) -> Self {
                self.operation_name = Some(name.into());
                self
            }
        }
    )*};
}
common_builders!(CustomEvent, TrackedException, AvailabilityResult);

/// One item of custom telemetry.
#[derive(Debug, Clone)]
pub enum Custom {
    Event(CustomEvent),
    Exception(TrackedException),
    Availability(AvailabilityResult),
}

impl Custom {
    pub fn time(&self) -> SystemTime {
        match self {
            Custom::Event(e) => e.time,
            Custom::Exception(e) => e.time,
            Custom::Availability(a) => a.time,
        }
    }

    pub fn properties(&self) -> &[KeyValue] {
        match self {
            Custom::Event(e) => &e.properties,
            Custom::Exception(e) => &e.properties,
            Custom::Availability(a) => &a.properties,
        }
    }

    /// Numeric measurements; an exception has none.
    pub fn measurements(&self) -> &[(String, f64)] {
        match self {
            Custom::Event(e) => &e.measurements,
            Custom::Exception(_) => &[],
            Custom::Availability(a) => &a.measurements,
        }
    }

    pub fn trace_context(&self) -> Option<(TraceId, SpanId)> {
        match self {
            Custom::Event(e) => e.trace_context,
            Custom::Exception(e) => e.trace_context,
            Custom::Availability(a) => a.trace_context,
        }
    }

    pub fn operation_name(&self) -> Option<&str> {
        match self {
            Custom::Event(e) => e.operation_name.as_deref(),
            Custom::Exception(e) => e.operation_name.as_deref(),
            Custom::Availability(a) => a.operation_name.as_deref(),
        }
    }

    /// Where an unset operation name is filled in.
    pub fn operation_name_mut(&mut self) -> &mut Option<Arc<str>> {
        match self {
            Custom::Event(e) => &mut e.operation_name,
            Custom::Exception(e) => &mut e.operation_name,
            Custom::Availability(a) => &mut a.operation_name,
        }
    }

    /// The `sampleRate` its envelope carries.
    pub fn sample_rate(&self) -> Option<f64> {
        match self {
            Custom::Event(e) => e.sample_rate,
            Custom::Exception(e) => e.sample_rate,
            Custom::Availability(a) => a.sample_rate,
        }
    }

    pub fn sample_rate_mut(&mut self) -> &mut Option<f64> {
        match self {
            Custom::Event(e) => &mut e.sample_rate,
            Custom::Exception(e) => &mut e.sample_rate,
            Custom::Availability(a) => &mut a.sample_rate,
        }
    }

    /// Bytes of its own text (names, messages, stack), for batch sizing.
    pub fn text_bytes(&self) -> usize {
        match self {
            Custom::Event(e) => e.name.len(),
            Custom::Exception(e) => {
                e.type_name.len() + e.message.len() + e.stack.as_ref().map_or(0, String::len)
            }
            Custom::Availability(a) => {
                a.name.len()
                    + a.run_location.as_ref().map_or(0, String::len)
                    + a.message.as_ref().map_or(0, String::len)
            }
        }
    }

    /// What every face refuses before an item is queued: an empty name or
    /// type (the service answers 400 for the whole request) and a
    /// measurement that is not a finite number (JSON has none).
    pub fn check(&self) -> Result<(), ConfigError> {
        let (field, text) = match self {
            Custom::Event(e) => ("name", &e.name),
            Custom::Exception(e) => ("type_name", &e.type_name),
            Custom::Availability(a) => ("name", &a.name),
        };
        if text.is_empty() {
            return Err(ConfigError::new(field, "must not be empty"));
        }
        if let Some((name, _)) = self.measurements().iter().find(|(_, v)| !v.is_finite()) {
            return Err(ConfigError::new(
                "measurements",
                format!(
                    "measurement '{}' has a non-finite value",
                    crate::text::truncated(name, 200)
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_names_and_non_finite_measurements_are_refused_by_field() {
        let refused = |item: Custom| item.check().unwrap_err().to_string();
        assert_eq!(
            refused(Custom::Event(CustomEvent::new(""))),
            "name: must not be empty"
        );
        assert_eq!(
            refused(Custom::Exception(TrackedException::new("", "m"))),
            "type_name: must not be empty"
        );
        assert_eq!(
            refused(Custom::Availability(AvailabilityResult::new(
                "",
                true,
                Duration::ZERO
            ))),
            "name: must not be empty"
        );
        assert_eq!(
            refused(Custom::Event(
                CustomEvent::new("e").with_measurement("bad", f64::INFINITY)
            )),
            "measurements: measurement 'bad' has a non-finite value"
        );
        // An empty message is a message: the type says what happened.
        assert!(Custom::Exception(TrackedException::new("E", "")).check().is_ok());
    }
}
