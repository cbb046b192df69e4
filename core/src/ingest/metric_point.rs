//! A metric measurement as every face hands it to the pipeline: one
//! measurement, or a histogram's measurements already summed up elsewhere
//! (an OpenTelemetry SDK reader's delta), which the pipeline merges the same way.

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

/// Several measurements of a histogram summed up elsewhere; the point's
/// `value` is their sum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// How many measurements; at least 1.
    pub count: u64,
    pub min: f64,
    pub max: f64,
}

/// One measurement, or a histogram's summary of several.
#[derive(Debug, Clone)]
pub struct MetricPoint {
    pub name: String,
    pub kind: MetricKind,
    /// The measurement, or the sum of the summarised ones.
    pub value: f64,
    pub attributes: Vec<KeyValue>,
    /// `None`: `value` is one measurement.
    pub summary: Option<Summary>,
}

impl MetricPoint {
    pub fn new(kind: MetricKind, name: impl Into<String>, value: f64) -> Self {
        Self {
            name: name.into(),
            kind,
            value,
            attributes: Vec::new(),
            summary: None,
        }
    }

    /// `count` measurements of a histogram adding up to `sum`, from `min` to
    /// `max`, aggregated elsewhere (an OpenTelemetry SDK reader's delta).
    pub fn histogram_summary(
        name: impl Into<String>,
        sum: f64,
        count: u64,
        min: f64,
        max: f64,
    ) -> Self {
        Self {
            summary: Some(Summary { count, min, max }),
            ..Self::new(MetricKind::Histogram, name, sum)
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
        if let Some(s) = self.summary {
            if self.kind != MetricKind::Histogram {
                return Err(ConfigError::new(
                    "summary",
                    format!("metric '{}': only a histogram's point summarises several measurements", shown()),
                ));
            }
            if s.count == 0 || !(s.min.is_finite() && s.max.is_finite() && s.min <= s.max) {
                return Err(ConfigError::new(
                    "summary",
                    format!(
                        "metric '{}': a summary needs count >= 1 and finite min <= max, got count {}, min {}, max {}",
                        shown(),
                        s.count,
                        s.min,
                        s.max
                    ),
                ));
            }
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
        assert!(
            MetricPoint::histogram_summary("latency", 60.0, 3, 10.0, 30.0)
                .check()
                .is_ok()
        );
        for bad in [
            MetricPoint::histogram_summary("latency", 0.0, 0, 0.0, 0.0),
            MetricPoint::histogram_summary("latency", 5.0, 2, 3.0, 1.0),
            MetricPoint::histogram_summary("latency", 5.0, 2, f64::NAN, 1.0),
            MetricPoint {
                kind: MetricKind::Counter,
                ..MetricPoint::histogram_summary("latency", 5.0, 2, 1.0, 3.0)
            },
        ] {
            assert!(refused(bad).starts_with("summary: metric 'latency'"));
        }
    }
}
