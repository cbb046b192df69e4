//! Metric points aggregated into series, one Metric envelope per series and
//! collection: counters and histograms as deltas since the last collection,
//! gauges as their last value, up-down counters as their running total (as
//! the OpenTelemetry specification asks for Application Insights).
//!
//! The worker records points in arrival order and collects every metric
//! interval and on every flush; a collection becomes a batch like spans and
//! logs, so `flush` waits for it and its points are accounted for like items.
//!
//! Each metric keeps at most `metric_series_limit` attribute sets per
//! collection (up-down counters: since the start); a point with a new set
//! past that folds into the metric's one overflow series, as the
//! OpenTelemetry SDK does, so an unbounded attribute (a user id) cannot grow
//! memory without bound, and no point is lost.

use crate::ingest::{MetricKind, MetricPoint};
use std::collections::{HashMap, HashSet};

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

    fn add(&mut self, point: &MetricPoint) {
        let v = point.value;
        match point.kind {
            MetricKind::Gauge => self.value = v,
            _ => self.value += v,
        }
        // A summary merges like the measurements it stands for.
        let (count, min, max) = point.summary.map_or((1, v, v), |s| (s.count, s.min, s.max));
        self.count += count;
        self.min = self.min.min(min);
        self.max = self.max.max(max);
    }
}

/// One series as it goes into an envelope.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub key: SeriesKey,
    pub aggregate: Aggregate,
}

fn is_overflow(attributes: &[(String, String)]) -> bool {
    matches!(attributes, [(k, v)] if k == OVERFLOW.0 && v == OVERFLOW.1)
}

/// Series by key, and how many attribute sets each metric has among them.
#[derive(Debug, Default)]
struct Table {
    series: HashMap<SeriesKey, Aggregate>,
    /// Attribute sets per metric name, its overflow series not counted.
    sets: HashMap<String, usize>,
}

impl Table {
    /// The key a point with `key` is aggregated under: its own, or (true)
    /// its metric's overflow series when the metric has `limit` sets already.
    fn admit(&mut self, mut key: SeriesKey, limit: usize) -> (SeriesKey, bool) {
        // A set seen before, or an overflow series an SDK reader folded
        // itself (with the same limit), which takes no room.
        if self.series.contains_key(&key) || is_overflow(&key.attributes) {
            return (key, false);
        }
        let sets = match self.sets.get_mut(&key.name) {
            Some(n) => n,
            None => self.sets.entry(key.name.clone()).or_default(),
        };
        if *sets >= limit {
            key.attributes = vec![(OVERFLOW.0.to_string(), OVERFLOW.1.to_string())];
            return (key, true);
        }
        *sets += 1;
        (key, false)
    }
}

/// What became of a recorded point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// Aggregated into the series of its own attribute set.
    InSeries,
    /// Folded into its metric's overflow series.
    Overflowed,
    /// Folded, and the first time this metric overflowed since the start
    /// (the worker says so, once): the metric's name.
    FirstOverflow(String),
}

/// The worker's side: series by key, recorded in arrival order.
#[derive(Debug)]
pub(crate) struct MetricsRecorder {
    /// Series recorded since the last collection.
    current: Table,
    /// Up-down counters' totals since the start: reported at every collection.
    totals: Table,
    /// Points recorded since the last collection.
    points: u64,
    /// Attribute sets a metric may have before new ones overflow.
    series_limit: usize,
    /// Metrics that overflowed at least once, each said once.
    overflowed: HashSet<String>,
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
    pub fn new(series_limit: usize) -> Self {
        Self {
            current: Table::default(),
            totals: Table::default(),
            points: 0,
            series_limit: series_limit.max(1),
            overflowed: HashSet::new(),
        }
    }

    pub fn record(&mut self, point: MetricPoint) -> Recorded {
        let table = match point.kind {
            MetricKind::UpDownCounter => &mut self.totals,
            _ => &mut self.current,
        };
        let (key, overflowed) = table.admit(key_of(&point), self.series_limit);
        let recorded = match overflowed {
            false => Recorded::InSeries,
            true if self.overflowed.contains(&key.name) => Recorded::Overflowed,
            true => {
                self.overflowed.insert(key.name.clone());
                Recorded::FirstOverflow(key.name.clone())
            }
        };
        table
            .series
            .entry(key)
            .or_insert_with(Aggregate::new)
            .add(&point);
        self.points += 1;
        recorded
    }

    /// Whether a collection now would write anything.
    pub fn has_series(&self) -> bool {
        !self.current.series.is_empty() || !self.totals.series.is_empty()
    }

    /// The series to export now, and how many points went into them since the
    /// last collection. Deltas start again; totals carry on.
    pub fn collect(&mut self) -> (Vec<Series>, u64) {
        let mut out: Vec<Series> = self
            .current
            .series
            .drain()
            .map(|(key, aggregate)| Series { key, aggregate })
            .collect();
        self.current.sets.clear();
        out.extend(self.totals.series.iter().map(|(key, aggregate)| Series {
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
        let mut r = MetricsRecorder::new(2000);
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
    fn a_histogram_summary_merges_like_the_measurements_it_stands_for() {
        let mut r = MetricsRecorder::new(2000);
        r.record(point(MetricKind::Histogram, 50.0, &[]));
        r.record(MetricPoint::histogram_summary("m", 60.0, 3, 10.0, 30.0));
        r.record(MetricPoint::histogram_summary("m", 5.0, 1, 5.0, 5.0));
        let (series, points) = r.collect();
        assert_eq!(points, 3, "a summary is one point handed over");
        let h = find(&series, MetricKind::Histogram);
        assert_eq!((h.value, h.count, h.min, h.max), (115.0, 5, 5.0, 50.0));
    }

    #[test]
    fn attribute_order_does_not_split_a_series_and_the_last_value_of_a_key_wins() {
        let mut r = MetricsRecorder::new(2000);
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
    fn past_the_limit_a_metrics_new_attribute_sets_fold_into_its_overflow_series() {
        const LIMIT: usize = 10_000;
        let mut r = MetricsRecorder::new(LIMIT);
        let user = |i: usize, name: &str| {
            MetricPoint::new(MetricKind::Counter, name, 2.0)
                .with_attribute(KeyValue::new("user", i.to_string()))
        };
        let mut folded = Vec::new();
        for i in 0..LIMIT + 3 {
            folded.push(r.record(user(i, "logins")));
        }
        // A set the metric already has stays in its series; the limit is per
        // metric, so another metric starts with room of its own.
        assert_eq!(r.record(user(0, "logins")), Recorded::InSeries);
        assert_eq!(r.record(user(LIMIT + 5, "clicks")), Recorded::InSeries);
        assert!(folded[..LIMIT].iter().all(|f| *f == Recorded::InSeries));
        assert_eq!(
            folded[LIMIT..],
            [
                Recorded::FirstOverflow("logins".into()),
                Recorded::Overflowed,
                Recorded::Overflowed,
            ],
            "the 10,001st set folds, and the first fold is the one said"
        );

        let (series, points) = r.collect();
        assert_eq!(points as usize, LIMIT + 5);
        let logins: Vec<&Series> = series.iter().filter(|s| s.key.name == "logins").collect();
        assert_eq!(logins.len(), LIMIT + 1);
        let overflow = logins
            .iter()
            .find(|s| s.key.attributes == [("otel.metric.overflow".into(), "true".into())])
            .expect("an overflow series");
        assert_eq!(overflow.aggregate.value, 6.0);
        let sum: f64 = logins.iter().map(|s| s.aggregate.value).sum();
        assert_eq!(sum, 2.0 * (LIMIT + 4) as f64, "nothing is lost");

        // The next interval starts with room again; the metric is not said twice.
        assert_eq!(r.record(user(LIMIT + 1, "logins")), Recorded::InSeries);
    }

    #[test]
    fn an_overflow_series_folded_by_an_sdk_reader_takes_no_room() {
        let mut r = MetricsRecorder::new(1);
        let folded = point(MetricKind::Counter, 3.0, &[("otel.metric.overflow", "true")]);
        assert_eq!(r.record(folded), Recorded::InSeries);
        assert_eq!(
            r.record(point(MetricKind::Counter, 1.0, &[("user", "a")])),
            Recorded::InSeries
        );
        assert_eq!(
            r.record(point(MetricKind::Counter, 1.0, &[("user", "b")])),
            Recorded::FirstOverflow("m".into())
        );
        let (series, _) = r.collect();
        assert_eq!(series.len(), 2);
    }

    #[test]
    fn up_down_counters_keep_their_sets_across_collections() {
        let mut r = MetricsRecorder::new(1);
        let depth = |queue: &'static str| point(MetricKind::UpDownCounter, 1.0, &[("q", queue)]);
        assert_eq!(r.record(depth("a")), Recorded::InSeries);
        let _ = r.collect();
        // The total of "a" is still reported, so "b" would be a second set.
        assert_eq!(r.record(depth("b")), Recorded::FirstOverflow("m".into()));
    }
}
