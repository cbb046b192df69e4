//! Genkit's metrics, derived from its spans with the Google Cloud plugin's
//! names and labels, so charts and alerts built for that plugin read the same
//! here (facts: `shared/notes/genkit.md`). Fixed where the plugin is broken:
//!
//! - feature (`genkit:isRoot`) and path (`genkit:isFailureSource`) metrics
//!   fire in Python too: the pipeline derives both flags itself;
//! - the feature metrics label the feature `featureName` like every other
//!   metric (the plugin says `name` there only);
//! - audio counts come from `inputAudioFiles` / `outputAudioFiles` (the
//!   plugin reads keys Genkit never writes, so they are always zero);
//! - a model called outside any flow is still a model call: its generate
//!   metrics are recorded although it is a root (the plugin skips them);
//! - generate latency falls back to the span's duration when the response
//!   has no `latencyMs`, so the histogram counts every call.
//!
//! Every point carries `source` and `sourceVersion` ([`Source`]).

use super::facts::{cut, limits, SpanFacts};
use super::{root_name, Role};
use crate::ingest::MetricKind;
#[cfg(test)]
use crate::ingest::MetricPoint;
#[cfg(test)]
use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use std::borrow::Cow;
use std::sync::Arc;

/// The `source` and `sourceVersion` labels: which Genkit made the spans.
///
/// The plugin writes its own language (`ts`, `py`, `go`) and Genkit's
/// version. Core cannot see either, so it reads the resource: `source` from
/// `telemetry.sdk.language` (`python` -> `py`, `nodejs` -> `ts`, `go` ->
/// `go`, any other value as it is), `genkit` when absent; `sourceVersion`
/// from `genkit.version`, else this library's version. A face that knows
/// Genkit's version puts it in the resource attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    pub source: Arc<str>,
    pub version: Arc<str>,
}

/// The resource attribute a face sets to Genkit's version.
pub(crate) const GENKIT_VERSION_KEY: &str = "genkit.version";

impl Default for Source {
    fn default() -> Self {
        Source {
            source: "genkit".into(),
            version: crate::VERSION.into(),
        }
    }
}

impl Source {
    pub fn of(resource: &Resource) -> Self {
        let get = |key: &'static str| {
            resource
                .get(&opentelemetry::Key::from_static_str(key))
                .map(|v| v.as_str().into_owned())
                .filter(|v| !v.trim().is_empty())
        };
        let default = Source::default();
        Source {
            source: get("telemetry.sdk.language").map_or(default.source, |lang| {
                match lang.as_str() {
                    "python" => "py".into(),
                    "nodejs" | "webjs" | "javascript" | "typescript" => "ts".into(),
                    _ => lang.into(),
                }
            }),
            version: get(GENKIT_VERSION_KEY).map_or(default.version, Into::into),
        }
    }
}

/// The most labels a derived point has (`source`, `sourceVersion`,
/// `modelName`, `featureName`, `path`, `status`, `error`).
const MAX_LABELS: usize = 8;

/// The labels shared by the points of one span, borrowed from the span and
/// from [`Source`]: deriving allocates nothing.
struct Labels<'a> {
    list: [(&'static str, &'a str); MAX_LABELS],
    len: usize,
}

impl<'a> Labels<'a> {
    fn new(source: &'a Source) -> Self {
        let mut list = [("", ""); MAX_LABELS];
        list[0] = ("source", &*source.source);
        list[1] = ("sourceVersion", &*source.version);
        Labels { list, len: 2 }
    }

    fn with(mut self, key: &'static str, value: &'a str) -> Self {
        self.list[self.len] = (key, value);
        self.len += 1;
        self
    }

    fn as_slice(&self) -> &[(&'static str, &'a str)] {
        &self.list[..self.len]
    }
}

/// One derived measurement; its labels come with the group it is in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Measure {
    pub kind: MetricKind,
    pub name: &'static str,
    pub value: f64,
}

/// The most points one span yields (a model call's requests, latency and
/// 11 usage counts).
const MAX_MEASURES: usize = 13;

/// The points of one span that share their labels.
struct Measures {
    list: [Measure; MAX_MEASURES],
    len: usize,
}

impl Measures {
    fn new() -> Self {
        let none = Measure {
            kind: MetricKind::Counter,
            name: "",
            value: 0.0,
        };
        Measures {
            list: [none; MAX_MEASURES],
            len: 0,
        }
    }

    fn push(&mut self, kind: MetricKind, name: &'static str, value: f64) {
        self.list[self.len] = Measure { kind, name, value };
        self.len += 1;
    }

    fn as_slice(&self) -> &[Measure] {
        &self.list[..self.len]
    }
}

/// Hands `out` every metric point the span's facts call for, grouped by the
/// labels they share: the labels (in no particular order, borrowed) and the
/// measurements, once per group, so the worker's recorder makes the labels'
/// set once and finds each series without allocating.
pub(crate) fn derive_groups(
    f: &SpanFacts<'_>,
    source: &Source,
    out: &mut impl FnMut(&[(&str, &str)], &[Measure]),
) {
    if f.root {
        feature(f, source, out);
    }
    if f.failure_source && !f.span.path.is_empty() {
        path(f, source, out);
    }
    match f.span.role() {
        Role::Model => generate(f, source, out),
        Role::UserEngagement => engagement(f, source, out),
        _ => {}
    }
}

/// The points of [`derive_groups`] as owned `MetricPoint`s, one per
/// measurement (what tests read).
#[cfg(test)]
pub(crate) fn derive(f: &SpanFacts<'_>, source: &Source, out: &mut impl FnMut(MetricPoint)) {
    derive_groups(
        f,
        source,
        &mut |labels: &[(&str, &str)], measures: &[Measure]| {
            for m in measures {
                out(point_of(labels, m));
            }
        },
    );
}

/// One measurement of a group as an owned point.
#[cfg(test)]
pub(crate) fn point_of(labels: &[(&str, &str)], m: &Measure) -> MetricPoint {
    MetricPoint {
        name: m.name.to_string(),
        kind: m.kind,
        value: m.value,
        attributes: labels
            .iter()
            .map(|(k, v)| KeyValue::new(k.to_string(), v.to_string()))
            .collect(),
        summary: None,
    }
}

/// Adds `error` when the span failed.
fn with_status<'a>(labels: Labels<'a>, f: &SpanFacts<'a>) -> Labels<'a> {
    let labels = labels.with("status", f.status());
    if f.failed {
        labels.with("error", f.error_name())
    } else {
        labels
    }
}

/// `genkit/feature/*`: one request per root span, by feature and outcome.
fn feature(f: &SpanFacts<'_>, source: &Source, out: &mut impl FnMut(&[(&str, &str)], &[Measure])) {
    let name = cut(Cow::Borrowed(f.span.name), limits::NAME);
    let labels = with_status(Labels::new(source).with("featureName", &name), f);
    let mut m = Measures::new();
    m.push(MetricKind::Counter, "genkit/feature/requests", 1.0);
    m.push(
        MetricKind::Histogram,
        "genkit/feature/latency",
        f.duration_ms,
    );
    out(labels.as_slice(), m.as_slice());
}

/// `genkit/feature/path/*`: one per failure source, by the path that failed.
fn path(f: &SpanFacts<'_>, source: &Source, out: &mut impl FnMut(&[(&str, &str)], &[Measure])) {
    // The outermost feature of the path (not a nested flow's own name).
    let feature = super::feature_name(f.span.path).map_or(Cow::Borrowed(f.span.name), |n| n);
    let feature = cut(feature, limits::NAME);
    let labels = Labels::new(source)
        .with("featureName", &feature)
        .with("path", f.path());
    let labels = with_status(labels, f);
    let mut m = Measures::new();
    m.push(MetricKind::Counter, "genkit/feature/path/requests", 1.0);
    m.push(
        MetricKind::Histogram,
        "genkit/feature/path/latency",
        f.duration_ms,
    );
    out(labels.as_slice(), m.as_slice());
}

/// `genkit/ai/generate/*`: a model call, its latency and its usage.
fn generate(f: &SpanFacts<'_>, source: &Source, out: &mut impl FnMut(&[(&str, &str)], &[Measure])) {
    let model_name = cut(Cow::Borrowed(f.span.name), limits::NAME);
    let feature = f.feature_name("generate");
    let labels = Labels::new(source)
        .with("modelName", &model_name)
        .with("featureName", &feature)
        .with("path", f.path());
    let labels = with_status(labels, f);
    let (latency, u) = match &f.model {
        Some(model) => (model.latency_ms, Some(&model.usage)),
        None => (None, None),
    };
    let mut m = Measures::new();
    m.push(MetricKind::Counter, "genkit/ai/generate/requests", 1.0);
    m.push(
        MetricKind::Histogram,
        "genkit/ai/generate/latency",
        latency.unwrap_or(f.duration_ms),
    );
    if let Some(u) = u {
        let counts = [
            ("genkit/ai/generate/input/tokens", u.input_tokens),
            ("genkit/ai/generate/input/characters", u.input_characters),
            ("genkit/ai/generate/input/images", u.input_images),
            ("genkit/ai/generate/input/videos", u.input_videos),
            ("genkit/ai/generate/input/audio", u.input_audio_files),
            ("genkit/ai/generate/output/tokens", u.output_tokens),
            ("genkit/ai/generate/output/characters", u.output_characters),
            ("genkit/ai/generate/output/images", u.output_images),
            ("genkit/ai/generate/output/videos", u.output_videos),
            ("genkit/ai/generate/output/audio", u.output_audio_files),
            ("genkit/ai/generate/thinking/tokens", u.thoughts_tokens),
        ];
        // Zero adds nothing to a sum; as in the plugin, no point for it.
        for (name, value) in counts {
            if let Some(v) = value.filter(|v| *v > 0.0) {
                m.push(MetricKind::Counter, name, v);
            }
        }
    }
    out(labels.as_slice(), m.as_slice());
}

/// `genkit/engagement/*`: feedback and acceptance a user gave a trace.
fn engagement(
    f: &SpanFacts<'_>,
    source: &Source,
    out: &mut impl FnMut(&[(&str, &str)], &[Measure]),
) {
    let feature = root_name(f.span.path).unwrap_or(Cow::Borrowed("<unknown>"));
    let feature = cut(feature, limits::NAME);
    let labels = Labels::new(source).with("featureName", &feature);
    let value = |key| {
        f.attribute_text(key)
            .map(|v| cut(v, limits::LABEL))
            .unwrap_or_default()
    };
    let mut m = Measures::new();
    match f.span.subtype {
        "userFeedback" => {
            let has_text = f
                .attribute("genkit:metadata:textFeedback")
                .is_some_and(|t| !t.is_empty());
            let value = value("genkit:metadata:feedbackValue");
            let labels = labels
                .with("value", &value)
                .with("hasText", if has_text { "true" } else { "false" });
            m.push(MetricKind::Counter, "genkit/engagement/feedback", 1.0);
            out(labels.as_slice(), m.as_slice());
        }
        "userAcceptance" => {
            let value = value("genkit:metadata:acceptanceValue");
            let labels = labels.with("value", &value);
            m.push(MetricKind::Counter, "genkit/engagement/acceptance", 1.0);
            out(labels.as_slice(), m.as_slice());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{PackedSpan, SpanPacker, SpanParts};
    use opentelemetry::trace::SpanKind;
    use std::collections::BTreeMap;

    const MODEL_PATH: &str =
        "/{weather_flow,t:action,s:flow}/{generate,t:util}/{fake%2Fweather-model,t:action,s:model}";

    fn span(parent: bool, attrs: &[(&str, &str)], failed: bool) -> PackedSpan {
        let mut p = SpanPacker::new(
            [1; 16],
            [2; 8],
            parent.then_some([3; 8]),
            false,
            SpanKind::Internal,
            0,
            7_000_000,
        );
        for (k, v) in attrs {
            p.attribute_str(k, v);
        }
        if failed {
            p.status_error("boom");
            p.event("exception", 1, 1);
            p.attribute_str("exception.type", "ToolError");
        }
        p.finish().unwrap()
    }

    /// The points, by name, with their labels as a map.
    fn points(
        span: &PackedSpan,
        failure_source: bool,
    ) -> BTreeMap<String, (f64, BTreeMap<String, String>)> {
        let mut parts = SpanParts::default();
        parts.read(span);
        let facts = SpanFacts::read(&parts, failure_source).unwrap();
        let mut out = BTreeMap::new();
        derive(
            &facts,
            &Source {
                source: "py".into(),
                version: "0.12.0".into(),
            },
            &mut |p: MetricPoint| {
                let labels = p
                    .attributes
                    .iter()
                    .map(|kv| (kv.key.to_string(), kv.value.as_str().into_owned()))
                    .collect();
                assert!(
                    out.insert(p.name.clone(), (p.value, labels)).is_none(),
                    "one point per metric: {}",
                    p.name
                );
            },
        );
        out
    }

    fn label<'a>(p: &'a (f64, BTreeMap<String, String>), k: &str) -> Option<&'a str> {
        p.1.get(k).map(String::as_str)
    }

    #[test]
    fn a_model_call_counts_its_usage_with_the_plugins_labels() {
        let s = span(
            true,
            &[
                ("genkit:type", "action"),
                ("genkit:metadata:subtype", "model"),
                ("genkit:name", "fake/weather-model"),
                ("genkit:path", MODEL_PATH),
                ("genkit:state", "success"),
                (
                    "genkit:output",
                    r#"{"message":{"role":"model","content":[{"text":"hi"}]},"finishReason":"stop","latencyMs":0.5,"usage":{"inputTokens":12.0,"outputTokens":4.0,"thoughtsTokens":2,"inputAudioFiles":1,"outputImages":0}}"#,
                ),
            ],
            false,
        );
        let p = points(&s, false);
        let names: Vec<&str> = p.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "genkit/ai/generate/input/audio",
                "genkit/ai/generate/input/tokens",
                "genkit/ai/generate/latency",
                "genkit/ai/generate/output/tokens",
                "genkit/ai/generate/requests",
                "genkit/ai/generate/thinking/tokens",
            ]
        );
        assert_eq!(p["genkit/ai/generate/input/tokens"].0, 12.0);
        assert_eq!(p["genkit/ai/generate/output/tokens"].0, 4.0);
        assert_eq!(p["genkit/ai/generate/latency"].0, 0.5);
        let r = &p["genkit/ai/generate/requests"];
        assert_eq!(r.0, 1.0);
        assert_eq!(label(r, "modelName"), Some("fake/weather-model"));
        assert_eq!(label(r, "featureName"), Some("weather_flow"));
        assert_eq!(label(r, "path"), Some(MODEL_PATH));
        assert_eq!(label(r, "status"), Some("success"));
        assert_eq!(label(r, "error"), None);
        assert_eq!(label(r, "source"), Some("py"));
        assert_eq!(label(r, "sourceVersion"), Some("0.12.0"));
    }

    #[test]
    fn latency_falls_back_to_the_duration_and_a_lone_model_is_its_own_feature() {
        let s = span(
            false,
            &[
                ("genkit:type", "action"),
                ("genkit:metadata:subtype", "model"),
                ("genkit:name", "fake/echo"),
                ("genkit:path", "/{fake%2Fecho,t:action,s:model}"),
                ("genkit:state", "success"),
            ],
            false,
        );
        let p = points(&s, false);
        assert_eq!(p["genkit/ai/generate/latency"].0, 7.0);
        assert_eq!(
            label(&p["genkit/ai/generate/requests"], "featureName"),
            Some("fake/echo")
        );
        assert_eq!(p["genkit/feature/requests"].0, 1.0, "a root");
    }

    #[test]
    fn a_failing_tool_is_a_path_failure_and_a_failing_root_a_feature_failure() {
        let tool_path = "/{weather_flow,t:action,s:flow}/{get_weather,t:action,s:tool.v2}";
        let tool = span(
            true,
            &[
                ("genkit:type", "action"),
                ("genkit:metadata:subtype", "tool.v2"),
                ("genkit:name", "get_weather"),
                ("genkit:path", tool_path),
                ("genkit:state", "error"),
            ],
            true,
        );
        let p = points(&tool, true);
        let names: Vec<&str> = p.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "genkit/feature/path/latency",
                "genkit/feature/path/requests"
            ]
        );
        let r = &p["genkit/feature/path/requests"];
        assert_eq!(label(r, "featureName"), Some("weather_flow"));
        assert_eq!(label(r, "path"), Some(tool_path));
        assert_eq!(label(r, "status"), Some("failure"));
        assert_eq!(label(r, "error"), Some("ToolError"));
        assert_eq!(p["genkit/feature/path/latency"].0, 7.0);
        assert!(points(&tool, false).is_empty(), "not a source: nothing");

        let flow = span(
            false,
            &[
                ("genkit:type", "action"),
                ("genkit:metadata:subtype", "flow"),
                ("genkit:name", "weather_flow"),
                ("genkit:path", "/{weather_flow,t:action,s:flow}"),
                ("genkit:state", "error"),
            ],
            true,
        );
        let p = points(&flow, false);
        let names: Vec<&str> = p.keys().map(String::as_str).collect();
        assert_eq!(names, ["genkit/feature/latency", "genkit/feature/requests"]);
        let r = &p["genkit/feature/requests"];
        assert_eq!(label(r, "featureName"), Some("weather_flow"));
        assert_eq!(label(r, "status"), Some("failure"));
        assert_eq!(label(r, "error"), Some("ToolError"));
    }

    #[test]
    fn engagement_spans_count_feedback_and_acceptance() {
        let feedback = span(
            true,
            &[
                ("genkit:type", "userEngagement"),
                ("genkit:metadata:subtype", "userFeedback"),
                ("genkit:path", "/{weather_flow,t:action,s:flow}"),
                ("genkit:metadata:feedbackValue", "positive"),
                ("genkit:metadata:textFeedback", "great"),
            ],
            false,
        );
        let p = points(&feedback, false);
        let r = &p["genkit/engagement/feedback"];
        assert_eq!(label(r, "featureName"), Some("weather_flow"));
        assert_eq!(label(r, "value"), Some("positive"));
        assert_eq!(label(r, "hasText"), Some("true"));
        let acceptance = span(
            true,
            &[
                ("genkit:type", "userEngagement"),
                ("genkit:metadata:subtype", "userAcceptance"),
                (
                    "genkit:path",
                    "/{weather_flow,t:action,s:flow}/{x,t:flowStep}",
                ),
                ("genkit:metadata:acceptanceValue", "accepted"),
            ],
            false,
        );
        let p = points(&acceptance, false);
        assert_eq!(
            label(&p["genkit/engagement/acceptance"], "value"),
            Some("accepted")
        );
    }

    #[test]
    fn long_paths_are_cut_at_a_character_boundary() {
        let long = format!("/{{f,t:flow}}/{{{},t:action,s:tool}}", "é".repeat(5_000));
        let tool = span(
            true,
            &[
                ("genkit:type", "action"),
                ("genkit:path", &long),
                ("genkit:state", "error"),
            ],
            true,
        );
        let p = points(&tool, true);
        let path = label(&p["genkit/feature/path/requests"], "path").unwrap();
        assert_eq!(path.chars().count(), limits::PATH);
        assert!(long.starts_with(path));
    }

    #[test]
    fn source_comes_from_the_resource() {
        let r = Resource::builder_empty()
            .with_attributes([
                KeyValue::new("telemetry.sdk.language", "python"),
                KeyValue::new(GENKIT_VERSION_KEY, "0.12.0"),
            ])
            .build();
        let s = Source::of(&r);
        assert_eq!((&*s.source, &*s.version), ("py", "0.12.0"));
        let s = Source::of(&Resource::builder_empty().build());
        assert_eq!((&*s.source, &*s.version), ("genkit", crate::VERSION));
        let r = Resource::builder_empty()
            .with_attributes([KeyValue::new("telemetry.sdk.language", "cpp")])
            .build();
        assert_eq!(&*Source::of(&r).source, "cpp");
    }
}
