//! What the service's filter configuration asks for beyond the standard
//! counters: derived metrics (a projection of the items matching a metric's
//! own filters, aggregated over each post interval) and document streams
//! (the ids a document is tagged with).
//!
//! Each derived metric is fed only by items of its type that match its own
//! filter groups (the official Python client feeds every metric of a type
//! with every matching item of any metric). An interval without data posts
//! 0.

use super::filter::{Conjunction, Disjunction};
use super::item::{LiveItem, TelemetryType};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Projection {
    /// `Count()`: 1 per item.
    Count,
    /// `Duration`, in milliseconds.
    Duration,
    /// `CustomDimensions.<key>`, read as a number (an item without it, or
    /// with text that is not a number, adds nothing).
    Dimension(String),
}

impl Projection {
    pub fn parse(t: TelemetryType, name: &str) -> Result<Self, String> {
        match name {
            "Count()" => Ok(Projection::Count),
            "Duration" if matches!(t, TelemetryType::Request | TelemetryType::Dependency) => {
                Ok(Projection::Duration)
            }
            _ => match name.strip_prefix("CustomDimensions.") {
                Some(key) if !key.is_empty() => Ok(Projection::Dimension(key.to_string())),
                _ => Err(format!("{} cannot project {name:?}", t.name())),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggregation {
    Sum,
    Avg,
    Min,
    Max,
}

impl Aggregation {
    pub fn parse(name: &str) -> Result<Self, String> {
        Ok(match name {
            "Sum" => Aggregation::Sum,
            "Avg" => Aggregation::Avg,
            "Min" => Aggregation::Min,
            "Max" => Aggregation::Max,
            _ => return Err(format!("unknown aggregation {name:?}")),
        })
    }
}

/// One derived metric of the configuration.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DerivedMetric {
    pub id: String,
    pub kind: TelemetryType,
    pub filters: Disjunction,
    pub projection: Projection,
    pub aggregation: Aggregation,
}

impl DerivedMetric {
    /// What `item` adds to this metric, if it feeds it.
    pub fn project(&self, item: &LiveItem<'_>) -> Option<f64> {
        if item.kind != self.kind || !self.filters.matches(item) {
            return None;
        }
        match &self.projection {
            Projection::Count => Some(1.0),
            Projection::Duration => Some(item.duration_ms()),
            Projection::Dimension(key) => item
                .dimension(key)?
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite()),
        }
    }
}

/// One metric's values in the current interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Accumulator {
    sum: f64,
    count: u64,
    min: f64,
    max: f64,
}

impl Accumulator {
    pub fn add(&mut self, value: f64) {
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.sum += value;
        self.count += 1;
    }

    /// The interval's value; 0 without data.
    pub fn value(&self, aggregation: Aggregation) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        match aggregation {
            Aggregation::Sum => self.sum,
            Aggregation::Avg => self.sum / self.count as f64,
            Aggregation::Min => self.min,
            Aggregation::Max => self.max,
        }
    }
}

/// One document stream: a document is tagged with its id when any group of
/// the document's type matches.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DocumentStream {
    pub id: String,
    pub groups: Vec<(TelemetryType, Conjunction)>,
}

impl DocumentStream {
    pub fn matches(&self, item: &LiveItem<'_>) -> bool {
        self.groups
            .iter()
            .any(|(t, group)| *t == item.kind && group.matches(item))
    }

    pub fn covers(&self, t: TelemetryType) -> bool {
        self.groups.iter().any(|(g, _)| *g == t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::filter::Filter;
    use std::borrow::Cow;

    fn request(ms: u64, tokens: Option<&'static str>) -> LiveItem<'static> {
        let mut i = LiveItem::new(TelemetryType::Request);
        i.name = Cow::Borrowed("checkout");
        i.duration_nanos = ms * 1_000_000;
        if let Some(t) = tokens {
            i.dimensions
                .push((Cow::Borrowed("tokens"), Cow::Borrowed(t)));
        }
        i
    }

    fn metric(
        projection: Projection,
        aggregation: Aggregation,
        filters: Disjunction,
    ) -> DerivedMetric {
        DerivedMetric {
            id: "m".into(),
            kind: TelemetryType::Request,
            filters,
            projection,
            aggregation,
        }
    }

    #[test]
    fn projections_and_aggregations() {
        let items = [
            request(10, Some("5")),
            request(30, Some("x")),
            request(20, None),
        ];
        let run = |p: Projection, a| {
            let m = metric(p, a, Disjunction::default());
            let mut acc = Accumulator::default();
            for i in &items {
                if let Some(v) = m.project(i) {
                    acc.add(v);
                }
            }
            acc.value(a)
        };
        assert_eq!(run(Projection::Count, Aggregation::Sum), 3.0);
        assert_eq!(run(Projection::Duration, Aggregation::Avg), 20.0);
        assert_eq!(run(Projection::Duration, Aggregation::Min), 10.0);
        assert_eq!(run(Projection::Duration, Aggregation::Max), 30.0);
        // Only the item whose dimension is a number adds.
        assert_eq!(
            run(Projection::Dimension("tokens".into()), Aggregation::Sum),
            5.0
        );
        assert_eq!(
            Accumulator::default().value(Aggregation::Max),
            0.0,
            "no data: 0"
        );
    }

    #[test]
    fn a_metric_counts_only_what_matches_its_own_filters() {
        let only_slow = Disjunction(vec![Conjunction(vec![Filter::compile(
            TelemetryType::Request,
            "Duration",
            "GreaterThan",
            "0.0:0:0.015",
        )
        .unwrap()])]);
        let m = metric(Projection::Count, Aggregation::Sum, only_slow);
        assert_eq!(m.project(&request(10, None)), None);
        assert_eq!(m.project(&request(30, None)), Some(1.0));
        let mut trace = LiveItem::new(TelemetryType::Trace);
        trace.duration_nanos = 99_000_000;
        assert_eq!(m.project(&trace), None, "another type");
    }

    #[test]
    fn projections_are_checked_against_the_type() {
        assert!(Projection::parse(TelemetryType::Trace, "Duration").is_err());
        assert!(Projection::parse(TelemetryType::Request, "Name").is_err());
        assert_eq!(
            Projection::parse(TelemetryType::Event, "CustomDimensions.n"),
            Ok(Projection::Dimension("n".into()))
        );
        assert!(Aggregation::parse("Median").is_err());
    }
}
