//! Custom telemetry a face records directly rather than through a span or a
//! log: business events (customEvents) and availability-test results (the
//! availability blade). The envelope writer writes both; the faces' calls
//! that record them come with custom telemetry.

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::KeyValue;
use std::time::{Duration, SystemTime};

/// A named business event, with dimensions and numeric measurements.
#[derive(Debug, Clone)]
pub struct CustomEvent {
    pub time: SystemTime,
    pub name: String,
    pub properties: Vec<KeyValue>,
    pub measurements: Vec<(String, f64)>,
    /// The span it happened in, if any: its operation id and parent id.
    pub trace_context: Option<(TraceId, SpanId)>,
}

/// The result of one availability test run.
#[derive(Debug, Clone)]
pub struct AvailabilityResult {
    pub time: SystemTime,
    /// The test's name (the availability blade groups by it).
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
}

/// One item of custom telemetry.
#[derive(Debug, Clone)]
pub enum Custom {
    Event(CustomEvent),
    Availability(AvailabilityResult),
}
