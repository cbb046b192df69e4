//! Metric points aggregated into series, one Metric envelope per series and
//! collection: counters and histograms as deltas since the last collection,
//! gauges as their last value, up-down counters as their running total (as
//! the OpenTelemetry specification asks for Application Insights).
//!
//! The worker records points in arrival order and collects every metric
//! interval and on every flush; a collection becomes a batch like spans and
//! logs, so `flush` waits for it and its points are accounted for like items.

use crate::ingest::{MetricKind, MetricPoint};
use std::collections::HashMap;

/// Series per collection past which new attribute sets are folded into one
/// overflow series per metric (as the OpenTelemetry SDK does), so a metric
/// with an unbounded attribute cannot grow memory without bound.
const MAX_SERIES: usize = 2000;

/// The attribute that marks the overflow series.
const OVERFLOW: (&str, &str) = ("otel.metric.overflow", "true");

/// What identifies a series: its metric and its attribute set (sorted by
/// key, the last value of a repeated key kept).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SeriesKey {
    pub kind: MetricKind,
    pub name: String,
    pub attributes: Vec<(String, String)>,
}

/// The aggregate of one series' points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Aggregate {
    /// The sum of the points (a counter's or histogram's delta, an up-down
    /// counter's total), or a gauge's last value.
    pub value: f64,
    pub count: u64,
    pub min: f64,
    pub max: f64,
}

impl Aggregate {
    fn new() -> Self {
        Self {
            value: 0.0,
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    fn add(&mut self, kind: MetricKind, v: f64) {
        match kind {
            MetricKind::Gauge => self.value = v,
            _ => self.value += v,
        }
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }
}

/// One series as it goes into an envelope.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub key: SeriesKey,
    pub aggregate: Aggregate,
}

/// The worker's side: series by key, recorded in arrival order.
#[derive(Debug, Default)]
pub(crate) struct MetricsRecorder {
    /// Series recorded since the last collection.
    current: HashMap<SeriesKey, Aggregate>,
    /// Up-down counters' totals since the start: reported at every collection.
    totals: HashMap<SeriesKey, Aggregate>,
    /// Points recorded since the last collection.
    points: u64,
}

fn key_of(point: &MetricPoint) -> SeriesKey {
    let mut attributes: Vec<(String, String)> = Vec::with_capacity(point.attributes.len());
    for kv in &point.attributes {
        let key = kv.key.as_str();
        let value = kv.value.as_str().into_owned();
        match attributes.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => attributes.push((key.to_string(), value)),
        }
    }
    attributes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    SeriesKey {
        kind: point.kind,
        name: point.name.clone(),
        attributes,
    }
}

impl MetricsRecorder {
    pub fn record(&mut self, point: MetricPoint) {
        let mut key = key_of(&point);
        let table = match point.kind {
            MetricKind::UpDownCounter => &mut self.totals,
            _ => &mut self.current,
        };
        if !table.contains_key(&key) && table.len() >= MAX_SERIES {
            key.attributes = vec![(OVERFLOW.0.to_string(), OVERFLOW.1.to_string())];
        }
        table
            .entry(key)
            .or_insert_with(Aggregate::new)
            .add(point.kind, point.value);
        self.points += 1;
    }

    /// Whether a collection now would write anything.
    pub fn has_series(&self) -> bool {
        !self.current.is_empty() || !self.totals.is_empty()
    }

    /// The series to export now, and how many points went into them since the
    /// last collection. Deltas start again; totals carry on.
    pub fn collect(&mut self) -> (Vec<Series>, u64) {
        let mut out: Vec<Series> = self
            .current
            .drain()
            .map(|(key, aggregate)| Series { key, aggregate })
            .collect();
        out.extend(self.totals.iter().map(|(key, aggregate)| Series {
            key: key.clone(),
            aggregate: *aggregate,
        }));
        (out, std::mem::take(&mut self.points))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;

    fn point(kind: MetricKind, v: f64, attrs: &[(&'static str, &'static str)]) -> MetricPoint {
        let mut p = MetricPoint::new(kind, "m", v);
        for (k, val) in attrs {
            p = p.with_attribute(KeyValue::new(*k, *val));
        }
        p
    }

    fn find(series: &[Series], kind: MetricKind) -> Aggregate {
        series
            .iter()
            .find(|s| s.key.kind == kind)
            .expect("the series")
            .aggregate
    }

    #[test]
    fn each_kind_aggregates_as_application_insights_wants() {
        let mut r = MetricsRecorder::default();
        for v in [3.0, 2.0] {
            r.record(point(MetricKind::Counter, v, &[("a", "1"), ("b", "2")]));
        }
        for v in [12.5, 80.0, 230.0] {
            r.record(point(MetricKind::Histogram, v, &[]));
        }
        for v in [7.0, 4.0] {
            r.record(point(MetricKind::Gauge, v, &[]));
        }
        for v in [3.0, -1.0] {
            r.record(point(MetricKind::UpDownCounter, v, &[]));
        }
        let (series, points) = r.collect();
        assert_eq!(points, 9);
        let counter = find(&series, MetricKind::Counter);
        assert_eq!((counter.value, counter.count), (5.0, 2));
        let h = find(&series, MetricKind::Histogram);
        assert_eq!((h.value, h.count, h.min, h.max), (322.5, 3, 12.5, 230.0));
        assert_eq!(find(&series, MetricKind::Gauge).value, 4.0);
        assert_eq!(find(&series, MetricKind::UpDownCounter).value, 2.0);

        // Deltas start again; an up-down counter's total carries on.
        r.record(point(MetricKind::UpDownCounter, 5.0, &[]));
        let (series, points) = r.collect();
        assert_eq!(points, 1);
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].aggregate.value, 7.0);
        let (series, points) = r.collect();
        assert_eq!(
            (series.len(), points),
            (1, 0),
            "the total is reported again"
        );
    }

    #[test]
    fn attribute_order_does_not_split_a_series_and_the_last_value_of_a_key_wins() {
        let mut r = MetricsRecorder::default();
        r.record(point(MetricKind::Counter, 1.0, &[("a", "1"), ("b", "2")]));
        r.record(point(MetricKind::Counter, 1.0, &[("b", "2"), ("a", "1")]));
        r.record(point(
            MetricKind::Counter,
            1.0,
            &[("a", "0"), ("b", "2"), ("a", "1")],
        ));
        let (series, _) = r.collect();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].aggregate.value, 3.0);
    }

    #[test]
    fn past_the_series_limit_points_fold_into_an_overflow_series() {
        let mut r = MetricsRecorder::default();
        let names: Vec<String> = (0..MAX_SERIES + 10).map(|i| i.to_string()).collect();
        for n in &names {
            r.record(
                MetricPoint::new(MetricKind::Counter, "m", 1.0)
                    .with_attribute(KeyValue::new("user", n.clone())),
            );
        }
        let (series, points) = r.collect();
        assert_eq!(points as usize, MAX_SERIES + 10);
        assert_eq!(series.len(), MAX_SERIES + 1);
        let overflow = series
            .iter()
            .find(|s| s.key.attributes == [("otel.metric.overflow".into(), "true".into())])
            .expect("an overflow series");
        assert_eq!(overflow.aggregate.value, 10.0, "nothing is lost");
    }
}
