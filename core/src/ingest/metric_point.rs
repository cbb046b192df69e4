//! A metric measurement as every face hands it to the pipeline.

use opentelemetry::KeyValue;

/// How a point's value combines with earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// A monotonic sum (requests, tokens).
    Counter,
    /// A sum that may go down (queue length).
    UpDownCounter,
    /// A distribution (latency): count, sum, min, max.
    Histogram,
    /// The last value wins (temperature, pool size).
    Gauge,
}

/// One measurement.
#[derive(Debug, Clone)]
pub struct MetricPoint {
    pub name: String,
    pub kind: MetricKind,
    pub value: f64,
    pub attributes: Vec<KeyValue>,
}

impl MetricPoint {
    pub fn new(kind: MetricKind, name: impl Into<String>, value: f64) -> Self {
        Self {
            name: name.into(),
            kind,
            value,
            attributes: Vec::new(),
        }
    }

    pub fn with_attribute(mut self, kv: KeyValue) -> Self {
        self.attributes.push(kv);
        self
    }
}
