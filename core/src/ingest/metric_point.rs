//! A metric measurement as every face hands it to the pipeline.

use crate::error::ConfigError;
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

    /// What every face refuses before a point is queued: a nameless metric
    /// (the service refuses it), a value that is not a finite number (JSON
    /// has none) and a counter going down (a counter only counts up, as in
    /// OpenTelemetry; an up-down counter is for sums that fall).
    pub fn check(&self) -> Result<(), ConfigError> {
        let shown = || crate::text::truncated(&self.name, 200);
        if self.name.is_empty() {
            return Err(ConfigError::new("name", "must not be empty"));
        }
        if !self.value.is_finite() {
            return Err(ConfigError::new(
                "value",
                format!("metric '{}' has a non-finite value", shown()),
            ));
        }
        if self.kind == MetricKind::Counter && self.value < 0.0 {
            return Err(ConfigError::new(
                "value",
                format!(
                    "metric '{}' is a counter, which only counts up, got {}; use an up-down counter",
                    shown(),
                    self.value
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
    fn nameless_non_finite_and_falling_counters_are_refused_by_field() {
        let refused = |p: MetricPoint| p.check().unwrap_err().to_string();
        assert_eq!(
            refused(MetricPoint::new(MetricKind::Gauge, "", 1.0)),
            "name: must not be empty"
        );
        assert_eq!(
            refused(MetricPoint::new(MetricKind::Histogram, "latency", f64::NAN)),
            "value: metric 'latency' has a non-finite value"
        );
        assert!(refused(MetricPoint::new(MetricKind::Counter, "tokens", -1.0))
            .starts_with("value: metric 'tokens' is a counter, which only counts up, got -1"));
        assert!(MetricPoint::new(MetricKind::UpDownCounter, "queue", -1.0)
            .check()
            .is_ok());
    }
}
