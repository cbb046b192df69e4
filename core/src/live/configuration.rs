//! The filter configuration the service sends (CollectionConfigurationInfo),
//! compiled: its derived metrics and document streams, and the errors to
//! report back for what could not be compiled.
//!
//! ```text
//! {"ETag", "Metrics": [{"Id", "TelemetryType", "FilterGroups": [{"Filters": [F]}], "Projection", "Aggregation", "BackEndAggregation"}],
//!  "DocumentStreams": [{"Id", "DocumentFilterGroups": [{"TelemetryType", "Filters": {"Filters": [F]}}]}], "QuotaInfo"}
//! F = {"FieldName", "Predicate", "Comparand"}
//! ```
//!
//! A metric or stream with any filter that cannot be compiled is left out
//! whole and reported (`CollectionConfigurationErrors` on every post): leaving
//! out only the bad filter would widen an AND group and post wrong numbers.
//! `BackEndAggregation` and `QuotaInfo` concern the service; documents keep
//! our own small cap per interval.

use super::derived::{Aggregation, DerivedMetric, DocumentStream, Projection};
use super::filter::{Conjunction, Disjunction, Filter};
use super::item::{LiveItem, TelemetryType};
use serde_json::{json, Value};

/// One thing the configuration asked for that is not done, as the service
/// reads it back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConfigurationError {
    /// The service's `CollectionConfigurationErrorType`.
    pub kind: &'static str,
    pub message: String,
    pub data: Vec<(&'static str, String)>,
}

impl ConfigurationError {
    pub fn to_json(&self) -> Value {
        json!({
            "CollectionConfigurationErrorType": self.kind,
            "Message": self.message,
            "FullException": "",
            "Data": self.data.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
        })
    }
}

/// A compiled configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Configuration {
    /// Echoed on every request (`x-ms-qps-configuration-etag`); empty before any.
    pub etag: String,
    pub metrics: Vec<DerivedMetric>,
    pub streams: Vec<DocumentStream>,
    /// Telemetry types some stream has a group for, by `TelemetryType::index`.
    covered: [bool; 5],
    pub errors: Vec<ConfigurationError>,
}

impl Configuration {
    /// Compiles the configuration in `body`, sent with `etag`. What cannot be
    /// read is reported, never fatal: the rest of it applies.
    pub fn parse(etag: &str, body: &[u8]) -> Self {
        let mut config = Configuration {
            etag: etag.to_string(),
            ..Default::default()
        };
        let root: Value = match serde_json::from_slice(body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                config.errors.push(ConfigurationError {
                    kind: "CollectionConfigurationFailureToCreateUnexpected",
                    message: "the configuration is not a JSON object".into(),
                    data: vec![("ETag", etag.to_string())],
                });
                return config;
            }
        };
        for m in array(&root, "Metrics") {
            let id = str_of(m, "Id").to_string();
            if config.metrics.iter().any(|x| x.id == id) {
                config.error(
                    "MetricDuplicateIds",
                    "a metric with this id exists already".into(),
                    "MetricId",
                    &id,
                );
                continue;
            }
            match metric(m) {
                Ok(metric) => config.metrics.push(metric),
                Err((kind, why)) => config.error(kind, why, "MetricId", &id),
            }
        }
        for s in array(&root, "DocumentStreams") {
            let id = str_of(s, "Id").to_string();
            if config.streams.iter().any(|x| x.id == id) {
                config.error(
                    "DocumentStreamDuplicateIds",
                    "a document stream with this id exists already".into(),
                    "DocumentStreamId",
                    &id,
                );
                continue;
            }
            match stream(s) {
                Ok(stream) => {
                    for t in TelemetryType::ALL {
                        config.covered[t.index()] |= stream.covers(t);
                    }
                    config.streams.push(stream);
                }
                Err(why) => config.error(
                    "DocumentStreamFailureToCreate",
                    why,
                    "DocumentStreamId",
                    &id,
                ),
            }
        }
        config
    }

    fn error(&mut self, kind: &'static str, message: String, id_key: &'static str, id: &str) {
        self.errors.push(ConfigurationError {
            kind,
            message,
            data: vec![(id_key, id.to_string()), ("ETag", self.etag.clone())],
        });
    }

    /// The stream ids to tag `item`'s document with; `None` when it is not
    /// to be sent: its type has streams and none matches. A type no stream
    /// covers (and every type, with no configuration) goes untagged.
    pub fn stream_ids(&self, item: &LiveItem<'_>) -> Option<Vec<&str>> {
        if !self.covered[item.kind.index()] {
            return Some(Vec::new());
        }
        let ids: Vec<&str> = self
            .streams
            .iter()
            .filter(|s| s.matches(item))
            .map(|s| s.id.as_str())
            .collect();
        (!ids.is_empty()).then_some(ids)
    }
}

fn array<'v>(v: &'v Value, key: &str) -> impl Iterator<Item = &'v Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn str_of<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn telemetry_type(v: &Value) -> Result<TelemetryType, String> {
    let name = str_of(v, "TelemetryType");
    TelemetryType::parse(name).ok_or_else(|| format!("telemetry type {name:?} is not supported"))
}

/// A group's filters, all of which must compile.
fn conjunction(t: TelemetryType, filters: Option<&Value>) -> Result<Conjunction, String> {
    let filters = filters
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    filters
        .iter()
        .map(|f| {
            Filter::compile(
                t,
                str_of(f, "FieldName"),
                str_of(f, "Predicate"),
                str_of(f, "Comparand"),
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Conjunction)
}

fn metric(m: &Value) -> Result<DerivedMetric, (&'static str, String)> {
    let id = str_of(m, "Id");
    if id.is_empty() {
        return Err(("MetricFailureToCreate", "the metric has no id".into()));
    }
    let kind = telemetry_type(m).map_err(|e| ("MetricTelemetryTypeUnsupported", e))?;
    let groups = array(m, "FilterGroups")
        .map(|g| conjunction(kind, g.get("Filters")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ("MetricFailureToCreate", e))?;
    let projection = Projection::parse(kind, str_of(m, "Projection"))
        .map_err(|e| ("MetricFailureToCreate", e))?;
    let aggregation =
        Aggregation::parse(str_of(m, "Aggregation")).map_err(|e| ("MetricFailureToCreate", e))?;
    Ok(DerivedMetric {
        id: id.to_string(),
        kind,
        filters: Disjunction(groups),
        projection,
        aggregation,
    })
}

fn stream(s: &Value) -> Result<DocumentStream, String> {
    let id = str_of(s, "Id");
    if id.is_empty() {
        return Err("the document stream has no id".into());
    }
    let groups = array(s, "DocumentFilterGroups")
        .map(|g| {
            let t = telemetry_type(g)?;
            let filters = g.get("Filters").and_then(|f| f.get("Filters"));
            Ok((t, conjunction(t, filters)?))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(DocumentStream {
        id: id.to_string(),
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn item(kind: TelemetryType, name: &'static str, ok: bool) -> LiveItem<'static> {
        let mut i = LiveItem::new(kind);
        i.name = Cow::Borrowed(name);
        i.message = Cow::Borrowed(name);
        i.success = ok;
        i
    }

    const CONFIG: &str = r#"{
        "ETag": "in-body",
        "Metrics": [
            {"Id": "slow-checkouts", "TelemetryType": "Request",
             "FilterGroups": [{"Filters": [
                {"FieldName": "Name", "Predicate": "Contains", "Comparand": "checkout"},
                {"FieldName": "Duration", "Predicate": "GreaterThan", "Comparand": "0.0:0:0.1"}]}],
             "Projection": "Count()", "Aggregation": "Sum", "BackEndAggregation": "Sum"},
            {"Id": "slow-checkouts", "TelemetryType": "Request", "FilterGroups": [],
             "Projection": "Count()", "Aggregation": "Sum"},
            {"Id": "bad-filter", "TelemetryType": "Request",
             "FilterGroups": [{"Filters": [{"FieldName": "Target", "Predicate": "Equal", "Comparand": "x"}]}],
             "Projection": "Count()", "Aggregation": "Sum"},
            {"Id": "counters", "TelemetryType": "PerformanceCounter", "FilterGroups": [],
             "Projection": "Count()", "Aggregation": "Sum"}
        ],
        "DocumentStreams": [
            {"Id": "failed-requests", "DocumentFilterGroups": [
                {"TelemetryType": "Request", "Filters": {"Filters": [
                    {"FieldName": "Success", "Predicate": "Equal", "Comparand": "false"}]}}]},
            {"Id": "all-requests-and-hello-traces", "DocumentFilterGroups": [
                {"TelemetryType": "Request", "Filters": {"Filters": []}},
                {"TelemetryType": "Trace", "Filters": {"Filters": [
                    {"FieldName": "Message", "Predicate": "Contains", "Comparand": "hello"}]}}]},
            {"Id": "broken", "DocumentFilterGroups": [
                {"TelemetryType": "Trace", "Filters": {"Filters": [
                    {"FieldName": "Message", "Predicate": "LessThan", "Comparand": "abc"}]}}]}
        ],
        "QuotaInfo": null
    }"#;

    #[test]
    fn compiles_what_it_can_and_reports_the_rest() {
        let c = Configuration::parse("etag-1", CONFIG.as_bytes());
        assert_eq!(c.etag, "etag-1");
        assert_eq!(c.metrics.len(), 1);
        assert_eq!(c.metrics[0].id, "slow-checkouts");
        assert_eq!(
            c.metrics[0].filters.0[0].0.len(),
            2,
            "both filters of the group"
        );
        assert_eq!(c.streams.len(), 2);
        let kinds: Vec<_> = c.errors.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                "MetricDuplicateIds",
                "MetricFailureToCreate",
                "MetricTelemetryTypeUnsupported",
                "DocumentStreamFailureToCreate"
            ]
        );
        let json = c.errors[1].to_json();
        assert_eq!(
            json["Data"][0],
            json!({"key": "MetricId", "value": "bad-filter"})
        );
        assert_eq!(json["Data"][1], json!({"key": "ETag", "value": "etag-1"}));
        assert!(json["Message"].as_str().unwrap().contains("Target"));
    }

    #[test]
    fn documents_are_tagged_by_every_stream_that_matches() {
        let c = Configuration::parse("e", CONFIG.as_bytes());
        let failed = item(TelemetryType::Request, "checkout", false);
        assert_eq!(
            c.stream_ids(&failed),
            Some(vec!["failed-requests", "all-requests-and-hello-traces"])
        );
        let ok = item(TelemetryType::Request, "checkout", true);
        assert_eq!(
            c.stream_ids(&ok),
            Some(vec!["all-requests-and-hello-traces"])
        );
        // A covered type that no stream matches is not sent...
        assert_eq!(c.stream_ids(&item(TelemetryType::Trace, "bye", true)), None);
        assert_eq!(
            c.stream_ids(&item(TelemetryType::Trace, "hello there", true)),
            Some(vec!["all-requests-and-hello-traces"])
        );
        // ...a type no stream covers goes untagged, as with no configuration.
        assert_eq!(
            c.stream_ids(&item(TelemetryType::Event, "e", true)),
            Some(vec![])
        );
        let empty = Configuration::default();
        for t in TelemetryType::ALL {
            assert_eq!(empty.stream_ids(&item(t, "x", true)), Some(vec![]));
        }
    }

    #[test]
    fn an_unreadable_configuration_is_reported_and_empty() {
        let c = Configuration::parse("e2", b"not json");
        assert!(c.metrics.is_empty() && c.streams.is_empty());
        assert_eq!(
            c.errors[0].kind,
            "CollectionConfigurationFailureToCreateUnexpected"
        );
        assert_eq!(c.etag, "e2");
    }
}
