//! Fuzz target: Live Metrics' filter configuration, which the service sends
//! and we do not control. Any body (not JSON, JSON of any shape, or a
//! configuration built from the service's own vocabulary with odd names,
//! predicates, comparands and timespans) is compiled and installed, items
//! of any content go through its derived metrics, document streams and
//! filters, and the interval is posted. Nothing may panic; every metric and
//! stream the configuration holds either compiles or is reported as an
//! error; the post is JSON of one data point whose metric values are
//! numbers.
#![no_main]

use arbitrary::Arbitrary;
use genkit_azure::bench_support::{LiveCollector, LiveFields};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

/// At most this many of each list are read from one input.
const MAX: usize = 16;

const TYPES: [&str; 6] = [
    "Request",
    "Dependency",
    "Exception",
    "Event",
    "Trace",
    "Metric",
];
const FIELDS: [&str; 16] = [
    "*",
    "Name",
    "Url",
    "ResponseCode",
    "ResultCode",
    "Duration",
    "Success",
    "Target",
    "Type",
    "Data",
    "Message",
    "Exception.Message",
    "Exception.StackTrace",
    "Exception.Type",
    "CustomDimensions.tokens",
    "CustomDimensions.",
];
const PREDICATES: [&str; 8] = [
    "Equal",
    "NotEqual",
    "LessThan",
    "GreaterThan",
    "LessThanOrEqual",
    "GreaterThanOrEqual",
    "Contains",
    "DoesNotContain",
];
const COMPARANDS: [&str; 16] = [
    "",
    "true",
    "FALSE",
    "0",
    "-0",
    "1e308",
    "NaN",
    "inf",
    "0.0:0:0.1",
    "1.02:03:04.5",
    "-00:00:01",
    "18446744073709551615.23:59:59.9999999",
    "99999999999999999.00:00",
    "00:00:00.0000001",
    "İ",
    "checkout",
];
const PROJECTIONS: [&str; 5] = [
    "Count()",
    "Duration",
    "CustomDimensions.tokens",
    "CustomDimensions.",
    "Name",
];
const AGGREGATIONS: [&str; 5] = ["Sum", "Avg", "Min", "Max", "Median"];

/// A word from the service's vocabulary, or anything.
#[derive(Arbitrary, Debug)]
enum Word {
    Known(u8),
    Any(String),
}

impl Word {
    fn pick(&self, list: &[&str]) -> String {
        match self {
            Word::Known(i) => list[*i as usize % list.len()].to_string(),
            Word::Any(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct FilterInfo {
    field: Word,
    predicate: Word,
    comparand: Word,
}

impl FilterInfo {
    fn json(&self) -> Value {
        json!({
            "FieldName": self.field.pick(&FIELDS),
            "Predicate": self.predicate.pick(&PREDICATES),
            "Comparand": self.comparand.pick(&COMPARANDS),
        })
    }
}

fn filters(list: &[FilterInfo]) -> Vec<Value> {
    list.iter().take(MAX).map(FilterInfo::json).collect()
}

#[derive(Arbitrary, Debug)]
struct MetricInfo {
    id: Word,
    telemetry_type: Word,
    groups: Vec<Vec<FilterInfo>>,
    projection: Word,
    aggregation: Word,
}

#[derive(Arbitrary, Debug)]
struct StreamInfo {
    id: Word,
    groups: Vec<(Word, Vec<FilterInfo>)>,
}

const IDS: [&str; 3] = ["a", "b", ""];

/// What the body is.
#[derive(Arbitrary, Debug)]
enum Body {
    /// Bytes as they come: not JSON, or JSON of any shape.
    Raw(Vec<u8>),
    /// A configuration in the service's shape.
    Shaped {
        metrics: Vec<MetricInfo>,
        streams: Vec<StreamInfo>,
    },
}

impl Body {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Raw(b) => b.clone(),
            Body::Shaped { metrics, streams } => {
                let metrics: Vec<Value> = metrics
                    .iter()
                    .take(MAX)
                    .map(|m| {
                        json!({
                            "Id": m.id.pick(&IDS),
                            "TelemetryType": m.telemetry_type.pick(&TYPES),
                            "FilterGroups": m.groups.iter().take(MAX)
                                .map(|g| json!({"Filters": filters(g)}))
                                .collect::<Vec<_>>(),
                            "Projection": m.projection.pick(&PROJECTIONS),
                            "Aggregation": m.aggregation.pick(&AGGREGATIONS),
                            "BackEndAggregation": "Sum",
                        })
                    })
                    .collect();
                let streams: Vec<Value> = streams
                    .iter()
                    .take(MAX)
                    .map(|s| {
                        json!({
                            "Id": s.id.pick(&IDS),
                            "DocumentFilterGroups": s.groups.iter().take(MAX)
                                .map(|(t, g)| json!({
                                    "TelemetryType": t.pick(&TYPES),
                                    "Filters": {"Filters": filters(g)},
                                }))
                                .collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                serde_json::to_vec(&json!({
                    "ETag": "fuzz",
                    "Metrics": metrics,
                    "DocumentStreams": streams,
                    "QuotaInfo": null,
                }))
                .expect("JSON values serialise")
            }
        }
    }

    /// Metrics and streams the body holds, when it is shaped.
    fn listed(&self) -> Option<usize> {
        match self {
            Body::Raw(_) => None,
            Body::Shaped { metrics, streams } => {
                Some(metrics.len().min(MAX) + streams.len().min(MAX))
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Item {
    kind: u8,
    texts: [Word; 10],
    duration_nanos: u64,
    success: bool,
    dimensions: Vec<(Word, Word)>,
}

const TEXTS: [&str; 6] = ["checkout", "CHECKOUT", "42", " 1e3 ", "NaN", "İstanbul"];
const KEYS: [&str; 2] = ["tokens", "user"];

impl Item {
    fn fields(&self) -> LiveFields {
        let t = |i: usize| self.texts[i].pick(&TEXTS);
        LiveFields {
            kind: self.kind,
            name: t(0),
            url: t(1),
            code: t(2),
            duration_nanos: self.duration_nanos,
            success: self.success,
            target: t(3),
            dependency_type: t(4),
            data: t(5),
            message: t(6),
            exception_type: t(7),
            stack: t(8),
            dimensions: self
                .dimensions
                .iter()
                .take(MAX)
                .map(|(k, v)| (k.pick(&KEYS), v.pick(&TEXTS)))
                .collect(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    etag: String,
    body: Body,
    items: Vec<Item>,
}

fuzz_target!(|input: Input| {
    let body = input.body.bytes();
    let live = LiveCollector::new(&input.etag, &body);
    let (metrics, streams, errors) = live.counts();
    if let Some(listed) = input.body.listed() {
        // Each one compiles, or is reported (a duplicate id too).
        assert_eq!(
            metrics + streams + errors,
            listed,
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    let items: Vec<LiveFields> = input.items.iter().take(MAX).map(Item::fields).collect();
    live.add(&items);
    let post: Value = serde_json::from_slice(&live.post()).expect("the post is JSON");
    let point = &post[0];
    let values = point["Metrics"].as_array().expect("metrics");
    for m in values {
        assert!(m["Value"].is_number(), "{m}");
    }
    let reported = point
        .get("CollectionConfigurationErrors")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    assert_eq!(reported, errors);
});
