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

use crate::ingest::{MetricKind, MetricPoint, Summary};
use foldhash::fast::RandomState;
use opentelemetry::Value;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

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

impl SeriesKey {
    /// Whether this is the series of `kind`, `name` and the canonical `attributes`.
    fn is(&self, kind: MetricKind, name: &str, attributes: &[(&str, &str)]) -> bool {
        self.kind == kind
            && self.name == name
            && self.attributes.len() == attributes.len()
            && self
                .attributes
                .iter()
                .zip(attributes)
                .all(|((k, v), (bk, bv))| k == bk && v == bv)
    }
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

    fn add(&mut self, kind: MetricKind, v: f64, summary: Option<Summary>) {
        match kind {
            MetricKind::Gauge => self.value = v,
            _ => self.value += v,
        }
        // A summary merges like the measurements it stands for.
        let (count, min, max) = summary.map_or((1, v, v), |s| (s.count, s.min, s.max));
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

/// Labels a set keeps on the stack; a longer set (rare) spills to the heap.
const INLINE: usize = 12;

/// A borrowed attribute set made canonical (sorted by key, the last value of
/// a repeated key kept: a [`SeriesKey`]'s identity) and hashed once, so
/// the points of one span that share their labels find their series
/// without a new `String`, and without hashing the labels again per point.
#[derive(Debug)]
pub(crate) struct LabelSet<'a> {
    inline: [(&'a str, &'a str); INLINE],
    len: usize,
    /// All the labels instead, once there are more than `INLINE`.
    spilled: Vec<(&'a str, &'a str)>,
    hash: u64,
}

impl<'a> LabelSet<'a> {
    fn attributes(&self) -> &[(&'a str, &'a str)] {
        if self.spilled.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }

    fn attributes_mut(&mut self) -> &mut [(&'a str, &'a str)] {
        if self.spilled.is_empty() {
            &mut self.inline[..self.len]
        } else {
            &mut self.spilled
        }
    }

    fn push(&mut self, key: &'a str, value: &'a str) {
        if let Some(slot) = self.attributes_mut().iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else if self.spilled.is_empty() && self.len < INLINE {
            self.inline[self.len] = (key, value);
            self.len += 1;
        } else {
            if self.spilled.is_empty() {
                self.spilled.extend_from_slice(&self.inline[..self.len]);
            }
            self.spilled.push((key, value));
        }
    }

    fn is_overflow(&self) -> bool {
        self.attributes() == [OVERFLOW]
    }

    fn owned(&self) -> Vec<(String, String)> {
        self.attributes()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// The index of series by hash takes the hash as it comes: it is already
/// SipHash's, keyed per recorder.
#[derive(Debug, Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; anything else still hashes its bytes.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// No series: the end of a chain.
const END: usize = usize::MAX;

#[derive(Debug)]
struct Entry {
    key: SeriesKey,
    aggregate: Aggregate,
    /// The next entry with the same hash, or `END`.
    next: usize,
}

/// Series (in the order they were first seen) with an index by hash, and
/// how many attribute sets each metric has among them.
#[derive(Debug, Default)]
struct Table {
    entries: Vec<Entry>,
    /// The last entry of each hash (a chain through `Entry::next`).
    index: HashMap<u64, usize, BuildHasherDefault<Prehashed>>,
    /// Attribute sets per metric name, its overflow series not counted.
    sets: HashMap<String, usize>,
}

impl Table {
    fn find(
        &self,
        hash: u64,
        kind: MetricKind,
        name: &str,
        attributes: &[(&str, &str)],
    ) -> Option<usize> {
        let mut i = *self.index.get(&hash)?;
        while i != END {
            let e = &self.entries[i];
            if e.key.is(kind, name, attributes) {
                return Some(i);
            }
            i = e.next;
        }
        None
    }

    fn insert(&mut self, hash: u64, key: SeriesKey) -> usize {
        let i = self.entries.len();
        let next = self.index.insert(hash, i).unwrap_or(END);
        self.entries.push(Entry {
            key,
            aggregate: Aggregate::new(),
            next,
        });
        i
    }

    /// Whether the metric `name` has room for a new set (then counted).
    fn admits_a_set(&mut self, name: &str, limit: usize) -> bool {
        let sets = match self.sets.get_mut(name) {
            Some(n) => n,
            None => self.sets.entry(name.to_string()).or_default(),
        };
        if *sets >= limit {
            return false;
        }
        *sets += 1;
        true
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

/// How many groups of points [`MetricsRecorder::record_group`] remembers:
/// the few label sets an app's spans repeat (a flow's and a model call's,
/// by outcome).
const REMEMBERED_GROUPS: usize = 8;

/// A group of points seen since the last collection: its labels as they
/// were given (in that order), and the series each of its measurements
/// went into.
#[derive(Debug)]
struct Remembered {
    labels: Vec<(String, String)>,
    series: Vec<RememberedSeries>,
}

#[derive(Debug, Clone, Copy)]
struct RememberedSeries {
    kind: MetricKind,
    name: &'static str,
    /// Its entry in its table (`totals` for an up-down counter).
    index: usize,
    /// It is its metric's overflow series.
    overflowed: bool,
}

impl Remembered {
    fn is(&self, labels: &[(&str, &str)]) -> bool {
        self.labels.len() == labels.len()
            && self
                .labels
                .iter()
                .zip(labels)
                .all(|((k, v), (bk, bv))| k == bk && v == bv)
    }
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
    /// Keyed at random: labels can come from users' data, so a chosen set
    /// of them must not be able to crowd one hash. foldhash rather than
    /// std's SipHash: it is seeded per recorder the same way, and a
    /// derived point's two hashes were a third of recording it.
    hasher: RandomState,
    /// The hash of the overflow series' attribute set.
    overflow_hash: u64,
    /// Groups of points recorded since the last collection, and the slot
    /// the next new one takes.
    remembered: Vec<Remembered>,
    next_slot: usize,
}

impl MetricsRecorder {
    pub fn new(series_limit: usize) -> Self {
        let hasher = RandomState::default();
        let overflow_hash = labels_hash(&hasher, &[OVERFLOW]);
        Self {
            current: Table::default(),
            totals: Table::default(),
            points: 0,
            series_limit: series_limit.max(1),
            overflowed: HashSet::new(),
            hasher,
            overflow_hash,
            remembered: Vec::new(),
            next_slot: 0,
        }
    }

    /// `labels` as the set of a series: the same series whatever their
    /// order, the last value of a repeated key kept. Made once for the
    /// points that share them ([`MetricsRecorder::record_group`]).
    pub fn label_set<'a>(
        &self,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> LabelSet<'a> {
        let mut set = LabelSet {
            inline: [("", ""); INLINE],
            len: 0,
            spilled: Vec::new(),
            hash: 0,
        };
        for (k, v) in labels {
            set.push(k, v);
        }
        // Keys are unique by now, so an unstable sort has one outcome.
        set.attributes_mut().sort_unstable_by(|a, b| a.0.cmp(b.0));
        set.hash = labels_hash(&self.hasher, set.attributes());
        set
    }

    /// Points that share `labels` (in no particular order, borrowed), each
    /// `(kind, name, value)`, handing `recorded` what became of each: into
    /// the same series as [`MetricsRecorder::record`]'s, nothing allocated
    /// unless a series is new, the labels' set made once for the group.
    /// A group whose labels, in the order given, were seen since the last
    /// collection needs no set at all: where its points went is remembered,
    /// so the derived points of a span that repeats the last ones' labels
    /// (most spans do) are added without sorting, hashing and comparing
    /// them again.
    pub fn record_group(
        &mut self,
        labels: &[(&str, &str)],
        measures: impl IntoIterator<Item = (MetricKind, &'static str, f64)>,
        recorded: &mut impl FnMut(Recorded),
    ) {
        let slot = match self.remembered.iter().position(|g| g.is(labels)) {
            Some(slot) => slot,
            None => {
                let group = Remembered {
                    labels: labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    series: Vec::new(),
                };
                if self.remembered.len() < REMEMBERED_GROUPS {
                    self.remembered.push(group);
                    self.remembered.len() - 1
                } else {
                    let slot = self.next_slot;
                    self.next_slot = (slot + 1) % REMEMBERED_GROUPS;
                    self.remembered[slot] = group;
                    slot
                }
            }
        };
        let mut set = None;
        for (kind, name, value) in measures {
            let known = self.remembered[slot]
                .series
                .iter()
                .find(|s| s.kind == kind && s.name == name)
                .copied();
            if let Some(s) = known {
                table_of(kind, &mut self.current, &mut self.totals).entries[s.index]
                    .aggregate
                    .add(kind, value, None);
                self.points += 1;
                recorded(match s.overflowed {
                    true => Recorded::Overflowed,
                    false => Recorded::InSeries,
                });
                continue;
            }
            let set = set.get_or_insert_with(|| self.label_set(labels.iter().copied()));
            let (index, r) = self.add(kind, name, set, value, None);
            self.remembered[slot].series.push(RememberedSeries {
                kind,
                name,
                index,
                overflowed: r != Recorded::InSeries,
            });
            recorded(r);
        }
    }

    pub fn record(&mut self, point: MetricPoint) -> Recorded {
        fn string(kv: &opentelemetry::KeyValue) -> Option<&str> {
            match &kv.value {
                Value::String(s) => Some(s.as_str()),
                _ => None,
            }
        }
        let (kind, name, value, summary) = (point.kind, &point.name, point.value, point.summary);
        let attributes = &point.attributes;
        // Faces' values are mostly strings, borrowed as they are; any other
        // value is said as text first.
        if attributes.iter().all(|kv| string(kv).is_some()) {
            let labels = self.label_set(
                attributes
                    .iter()
                    .map(|kv| (kv.key.as_str(), string(kv).unwrap_or_default())),
            );
            self.add(kind, name, &labels, value, summary).1
        } else {
            let texts: Vec<Cow<'_, str>> = attributes.iter().map(|kv| kv.value.as_str()).collect();
            let labels = self.label_set(
                attributes
                    .iter()
                    .zip(&texts)
                    .map(|(kv, v)| (kv.key.as_str(), &**v)),
            );
            self.add(kind, name, &labels, value, summary).1
        }
    }

    /// Adds a point to its series: what became of it, and the entry it
    /// went into.
    fn add(
        &mut self,
        kind: MetricKind,
        name: &str,
        labels: &LabelSet<'_>,
        value: f64,
        summary: Option<Summary>,
    ) -> (usize, Recorded) {
        let table = table_of(kind, &mut self.current, &mut self.totals);
        let attributes = labels.attributes();
        let hash = series_hash(&self.hasher, kind, name, labels.hash);
        let (i, overflowed) = match table.find(hash, kind, name, attributes) {
            // A set seen before.
            Some(i) => (i, false),
            // An overflow series an SDK reader folded itself (with the same
            // limit) takes no room; nor does a set the metric has room for.
            None if labels.is_overflow() || table.admits_a_set(name, self.series_limit) => {
                let key = SeriesKey {
                    kind,
                    name: name.to_string(),
                    attributes: labels.owned(),
                };
                (table.insert(hash, key), false)
            }
            None => {
                let hash = series_hash(&self.hasher, kind, name, self.overflow_hash);
                let i = table
                    .find(hash, kind, name, &[OVERFLOW])
                    .unwrap_or_else(|| {
                        let key = SeriesKey {
                            kind,
                            name: name.to_string(),
                            attributes: vec![(OVERFLOW.0.to_string(), OVERFLOW.1.to_string())],
                        };
                        table.insert(hash, key)
                    });
                (i, true)
            }
        };
        table.entries[i].aggregate.add(kind, value, summary);
        self.points += 1;
        let recorded = match overflowed {
            false => Recorded::InSeries,
            true if self.overflowed.contains(name) => Recorded::Overflowed,
            true => {
                self.overflowed.insert(name.to_string());
                Recorded::FirstOverflow(name.to_string())
            }
        };
        (i, recorded)
    }

    /// Whether a collection now would write anything.
    pub fn has_series(&self) -> bool {
        !self.current.entries.is_empty() || !self.totals.entries.is_empty()
    }

    /// The series to export now, and how many points went into them since the
    /// last collection. Deltas start again; totals carry on.
    pub fn collect(&mut self) -> (Vec<Series>, u64) {
        let mut out: Vec<Series> = self
            .current
            .entries
            .drain(..)
            .map(|e| Series {
                key: e.key,
                aggregate: e.aggregate,
            })
            .collect();
        self.current.index.clear();
        self.current.sets.clear();
        // Where their points went is gone with the entries.
        self.remembered.clear();
        self.next_slot = 0;
        out.extend(self.totals.entries.iter().map(|e| Series {
            key: e.key.clone(),
            aggregate: e.aggregate,
        }));
        (out, std::mem::take(&mut self.points))
    }
}

/// The table a metric's series are in: up-down counters' totals run from
/// the start, the rest from the last collection.
fn table_of<'t>(kind: MetricKind, current: &'t mut Table, totals: &'t mut Table) -> &'t mut Table {
    match kind {
        MetricKind::UpDownCounter => totals,
        _ => current,
    }
}

/// The hash of a canonical attribute set: its values and every key's and
/// value's length. Keys' text is left out (a hash call costs more than its
/// bytes, and keys are the app's own names, not users' data): sets that
/// differ only there share a hash and are told apart by their keys.
fn labels_hash(hasher: &RandomState, attributes: &[(&str, &str)]) -> u64 {
    let mut h = hasher.build_hasher();
    h.write_usize(attributes.len());
    for (k, v) in attributes {
        h.write_u64((k.len() as u64) << 32 ^ v.len() as u64);
        h.write(v.as_bytes());
    }
    h.finish()
}

/// The hash of a series: its metric and its attribute set's hash.
fn series_hash(hasher: &RandomState, kind: MetricKind, name: &str, labels: u64) -> u64 {
    let mut h = hasher.build_hasher();
    h.write_u64(labels ^ kind as u64);
    h.write_usize(name.len());
    h.write(name.as_bytes());
    h.finish()
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

    fn borrowed(
        r: &mut MetricsRecorder,
        kind: MetricKind,
        name: &'static str,
        labels: &[(&str, &str)],
        v: f64,
    ) -> Recorded {
        let mut recorded = None;
        r.record_group(labels, [(kind, name, v)], &mut |rec| recorded = Some(rec));
        recorded.expect("one point, one answer")
    }

    /// Groups recorded through the remembered series aggregate exactly as
    /// the same points recorded one by one, owned: across collections, up
    /// to and past the series limit (overflow said once), for more label
    /// sets than are remembered, in the orders they come in.
    #[test]
    fn remembered_groups_record_what_single_points_do() {
        const NAMES: [&str; 3] = ["g/requests", "g/latency", "g/tokens"];
        const KINDS: [MetricKind; 3] = [
            MetricKind::Counter,
            MetricKind::Histogram,
            MetricKind::UpDownCounter,
        ];
        // 10 label sets, each in two orders: more than are remembered, few
        // enough to come back while remembered, past the limit of 6.
        let values = ["a", "b", "c", "d", "e"];
        let (mut grouped, mut single) = (MetricsRecorder::new(6), MetricsRecorder::new(6));
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for step in 0..3_000 {
            if step % 97 == 96 {
                assert_eq!(grouped.collect(), single.collect(), "step {step}");
            }
            let (v1, v2) = (values[next(values.len())], values[next(2)]);
            let labels: Vec<(&str, &str)> = match next(2) {
                0 => vec![("feature", v1), ("status", v2)],
                _ => vec![("status", v2), ("feature", v1)],
            };
            let measures: Vec<(MetricKind, &'static str, f64)> = (0..1 + next(3))
                .map(|i| (KINDS[i], NAMES[i], next(100) as f64))
                .collect();
            let mut answers = Vec::new();
            grouped.record_group(&labels, measures.iter().copied(), &mut |r| answers.push(r));
            let expected: Vec<Recorded> = measures
                .iter()
                .map(|&(kind, name, v)| {
                    let mut p = MetricPoint::new(kind, name, v);
                    for (k, val) in &labels {
                        p = p.with_attribute(KeyValue::new(k.to_string(), val.to_string()));
                    }
                    single.record(p)
                })
                .collect();
            assert_eq!(answers, expected, "step {step}");
        }
        assert_eq!(grouped.collect(), single.collect());
        assert!(
            grouped.overflowed.len() == NAMES.len(),
            "the limit was reached: {:?}",
            grouped.overflowed
        );
    }

    #[test]
    fn borrowed_and_owned_points_aggregate_into_the_same_series() {
        let mut r = MetricsRecorder::new(2000);
        r.record(point(
            MetricKind::Counter,
            1.0,
            &[("b", "2"), ("a", "0"), ("a", "1")],
        ));
        borrowed(
            &mut r,
            MetricKind::Counter,
            "m",
            &[("a", "1"), ("b", "2")],
            2.0,
        );
        borrowed(
            &mut r,
            MetricKind::Counter,
            "m",
            &[("a", "9"), ("b", "2"), ("a", "1")],
            4.0,
        );
        // A value that is not a string is its text.
        r.record(
            MetricPoint::new(MetricKind::Histogram, "h", 3.0)
                .with_attribute(KeyValue::new("n", 5_i64))
                .with_attribute(KeyValue::new("ok", true)),
        );
        borrowed(
            &mut r,
            MetricKind::Histogram,
            "h",
            &[("ok", "true"), ("n", "5")],
            5.0,
        );
        // Another kind or name is another series.
        borrowed(
            &mut r,
            MetricKind::Gauge,
            "m",
            &[("a", "1"), ("b", "2")],
            1.0,
        );
        let (series, points) = r.collect();
        assert_eq!((series.len(), points), (3, 6));
        let counter = series
            .iter()
            .find(|s| s.key.kind == MetricKind::Counter)
            .unwrap();
        assert_eq!(
            counter.key.attributes,
            [("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        assert_eq!(counter.aggregate.value, 7.0);
        let h = find(&series, MetricKind::Histogram);
        assert_eq!((h.value, h.count, h.min, h.max), (8.0, 2, 3.0, 5.0));
    }

    #[test]
    fn a_long_label_set_is_the_same_set_in_any_order() {
        let mut r = MetricsRecorder::new(2000);
        let keys: Vec<String> = (0..3 * INLINE).map(|i| format!("k{i:02}")).collect();
        let labels: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
        let mut reversed = labels.clone();
        reversed.reverse();
        reversed.push((keys[0].as_str(), "w"));
        reversed.push((keys[0].as_str(), "v"));
        borrowed(&mut r, MetricKind::Counter, "m", &labels, 1.0);
        borrowed(&mut r, MetricKind::Counter, "m", &reversed, 1.0);
        let mut owned = MetricPoint::new(MetricKind::Counter, "m", 1.0);
        for (k, v) in &reversed {
            owned = owned.with_attribute(KeyValue::new(k.to_string(), v.to_string()));
        }
        r.record(owned);
        let (series, _) = r.collect();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].aggregate.value, 3.0);
        assert_eq!(series[0].key.attributes.len(), 3 * INLINE);
        assert!(series[0].key.attributes.is_sorted());
    }

    #[test]
    fn borrowed_points_past_the_limit_fold_into_the_same_overflow_series() {
        let mut r = MetricsRecorder::new(1);
        let c = MetricKind::Counter;
        assert_eq!(
            borrowed(&mut r, c, "m", &[("user", "a")], 1.0),
            Recorded::InSeries
        );
        assert_eq!(
            borrowed(&mut r, c, "m", &[("user", "b")], 1.0),
            Recorded::FirstOverflow("m".into())
        );
        assert_eq!(
            r.record(point(c, 1.0, &[("user", "c")])),
            Recorded::Overflowed
        );
        assert_eq!(
            borrowed(&mut r, c, "m", &[("user", "d")], 1.0),
            Recorded::Overflowed
        );
        assert_eq!(
            borrowed(&mut r, c, "m", &[("user", "a")], 1.0),
            Recorded::InSeries
        );
        let (series, points) = r.collect();
        assert_eq!((series.len(), points), (2, 5));
        let overflow = series
            .iter()
            .find(|s| s.key.attributes == [("otel.metric.overflow".into(), "true".into())])
            .expect("an overflow series");
        assert_eq!(overflow.aggregate.value, 3.0);
    }

    #[test]
    fn series_with_one_hash_are_told_apart_by_their_keys() {
        let mut t = Table::default();
        let key = |name: &str| SeriesKey {
            kind: MetricKind::Counter,
            name: name.into(),
            attributes: vec![("a".into(), "1".into())],
        };
        let first = t.insert(7, key("x"));
        let second = t.insert(7, key("y"));
        let find = |t: &Table, name| t.find(7, MetricKind::Counter, name, &[("a", "1")]);
        assert_eq!(find(&t, "x"), Some(first));
        assert_eq!(find(&t, "y"), Some(second));
        assert_eq!(find(&t, "z"), None);
        assert_eq!(t.find(8, MetricKind::Counter, "x", &[("a", "1")]), None);
        assert_eq!(t.find(7, MetricKind::Gauge, "x", &[("a", "1")]), None);
        assert_eq!(t.find(7, MetricKind::Counter, "x", &[("a", "2")]), None);
    }
}
