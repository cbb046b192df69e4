//! Genkit's derived logs, as the Google Cloud plugin writes them, correlated
//! with the span they come from (same operation id, parent id and operation
//! name), so they sit in the span's end-to-end transaction view:
//!
//! - `Config[<path>, <model>]` for every model call (with `maxOutputTokens`
//!   and `stopSequences` when the request sets them);
//! - `Error[<path>, <error name>]` for every failure source, with the
//!   exception's message and stack (a Message at severity Error, not a second
//!   Exception envelope: the span's own exception event already is one);
//! - only with `log_input_and_output`: `Input[...]` / `Output[...]` for each
//!   message part of a model call, and for the whole input and output of
//!   tools and of root features. Media inline as `data:` URLs is replaced by
//!   its SHA-256 (`data:image/png;base64,<sha256(...)>`), as the plugin does.
//!
//! Limits are the plugin's (see `facts::limits`); Application Insights then
//! keeps at most 8,192 characters of a property, so the writer cuts longer
//! content further (counted in `values_truncated`).

use super::facts::{cut, limits, SpanFacts};
use super::lenient::{members, skip, value, Lenient, Part};
use super::metrics::Source;
use super::{display_path, feature_name, root_name, GenkitSpan, Role};
use crate::ingest::{time_from_unix_nanos, LogRecord, SpanParts};
use crate::text::truncated_chars;
use opentelemetry::logs::Severity;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::KeyValue;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, MapAccess};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// The logger name derived records carry (the `logger_name` property).
pub(crate) const LOGGER: &str = "genkit";

/// What the worker keeps between spans for the records it derives.
#[derive(Debug, Default)]
pub(crate) struct LogCache {
    /// The operation name the last records carried: the spans of one
    /// operation, and of most operations of one app, share it, so one
    /// allocation serves them all.
    operation: Option<Arc<str>>,
}

impl LogCache {
    fn operation(&mut self, name: &str) -> Arc<str> {
        match &self.operation {
            Some(op) if **op == *name => Arc::clone(op),
            _ => Arc::clone(self.operation.insert(Arc::from(name))),
        }
    }
}

/// What every record of one span shares.
struct Common<'a> {
    facts: &'a SpanFacts<'a>,
    source: &'a Source,
    operation: Option<Arc<str>>,
    /// The display path (`flow > generate > model`), cut.
    path: String,
}

impl Common<'_> {
    fn record(&self, severity: Severity, body: String, attributes: Vec<KeyValue>) -> LogRecord {
        let p = self.facts.parts;
        let mut r = LogRecord::new(severity, body);
        r.time = time_from_unix_nanos(p.end_unix_nanos);
        r.trace_context = Some((
            TraceId::from_bytes(*p.trace_id),
            SpanId::from_bytes(*p.span_id),
        ));
        r.operation_name = self.operation.clone();
        r.logger_name = Some(LOGGER.to_string());
        r.attributes = attributes;
        r
    }

    /// The [`shared_attributes`], with room for `more`.
    fn attributes(&self, feature: &str, more: usize) -> Vec<KeyValue> {
        let mut attrs = Vec::with_capacity(5 + more);
        let shared = shared_attributes(&self.path, self.facts.path(), feature, self.source);
        attrs.extend(shared.map(|(k, v)| KeyValue::new(k, v.to_string())));
        attrs
    }
}

/// What every record of a span carries first, in the plugin's order:
/// `path` (the display path), `qualifiedPath`, `featureName`, `source`,
/// `sourceVersion`.
fn shared_attributes<'s>(
    path: &'s str,
    qualified_path: &'s str,
    feature: &'s str,
    source: &'s Source,
) -> [(&'static str, &'s str); 5] {
    [
        ("path", path),
        ("qualifiedPath", qualified_path),
        ("featureName", feature),
        ("source", &source.source),
        ("sourceVersion", &source.version),
    ]
}

/// [`derive_with`] with nothing kept from earlier spans.
#[cfg(test)]
pub(crate) fn derive(
    f: &SpanFacts<'_>,
    source: &Source,
    input_and_output: bool,
    out: &mut impl FnMut(LogRecord),
) {
    derive_with(
        f,
        source,
        input_and_output,
        &mut LogCache::default(),
        false,
        out,
    );
}

/// Hands `out` every log record the span's facts call for. With
/// `config_with_span`, a model call's `Config[...]` record is left to the
/// writer, which writes it next to the span (see [`ConfigLog`]): the return
/// says whether it was.
pub(crate) fn derive_with(
    f: &SpanFacts<'_>,
    source: &Source,
    input_and_output: bool,
    cache: &mut LogCache,
    config_with_span: bool,
    out: &mut impl FnMut(LogRecord),
) -> bool {
    let role = f.span.role();
    let config_left = role == Role::Model && config_with_span;
    let wanted = (role == Role::Model && (input_and_output || !config_left))
        || f.failure_source
        || (input_and_output && f.root)
        || (input_and_output && role == Role::Tool);
    if !wanted {
        return config_left;
    }
    let operation = ConfigLog::operation(f.parts, &f.span).map(|name| cache.operation(&name));
    let c = Common {
        facts: f,
        source,
        operation,
        path: ConfigLog::display_path(&f.span),
    };
    if role == Role::Model {
        model(&c, input_and_output, config_left, out);
    } else if input_and_output && (f.root || role == Role::Tool) {
        whole_input_and_output(&c, out);
    }
    if f.failure_source {
        error(&c, out);
    }
    config_left
}

/// A model call's `Config[<path>, <model>]` record, read from its span: the
/// one description of the record, which the worker hands on as a log record
/// ([`derive_with`]) or the writer writes next to its span, in the span's
/// body, when the span is exported with it (a span marked with
/// `PackedSpan::mark_config_log`): the record then needs no log record of
/// its own, no batch and no body, and compresses against its span.
pub(crate) struct ConfigLog<'a> {
    /// The display path (`flow > generate > model`), cut.
    path: Cow<'a, str>,
    /// The qualified path, cut.
    qualified_path: &'a str,
    feature: Cow<'a, str>,
    model: &'a str,
    /// `maxOutputTokens` and `stopSequences`, when the request sets them.
    request: Vec<(&'static str, String)>,
}

impl<'a> ConfigLog<'a> {
    /// The record of model call `span`, whose display path is `path` (see
    /// [`ConfigLog::display_path`]).
    pub fn of(span: &GenkitSpan<'a>, path: Cow<'a, str>) -> Self {
        let mut request = Vec::new();
        if let Some(config) = span.input.and_then(request_config) {
            for key in ["maxOutputTokens", "stopSequences"] {
                if let Some(v) = config.get(key).filter(|v| !v.is_null()) {
                    request.push((key, json_text(v)));
                }
            }
        }
        ConfigLog {
            path,
            qualified_path: truncated_chars(span.path, limits::PATH),
            feature: span.feature_name_or("generate"),
            model: truncated_chars(span.name, limits::NAME),
            request,
        }
    }

    /// The display path every record of `span` names, cut.
    pub fn display_path(span: &GenkitSpan<'_>) -> String {
        let mut path = display_path(span.path);
        path.truncate(truncated_chars(&path, limits::PATH).len());
        path
    }

    /// Its text: `Config[<path>, <model>]`.
    pub fn message(&self) -> String {
        titled("Config", &self.path, self.model, "")
    }

    /// Its attributes, in the plugin's order (its `logger_name`,
    /// [`LOGGER`], comes apart).
    pub fn attributes<'s>(
        &'s self,
        source: &'s Source,
    ) -> impl Iterator<Item = (&'static str, &'s str)> {
        shared_attributes(&self.path, self.qualified_path, &self.feature, source)
            .into_iter()
            .chain([("model", self.model)])
            .chain(self.request.iter().map(|(k, v)| (*k, v.as_str())))
    }

    /// The operation its span is in: the name registered at the span's
    /// start, else the path's root.
    pub fn operation(parts: &'a SpanParts<'a>, span: &GenkitSpan<'a>) -> Option<Cow<'a, str>> {
        parts
            .operation_name
            .map(Cow::Borrowed)
            .or_else(|| root_name(span.path))
    }
}

/// `Config[...]` (unless `config_left` to the writer) and, when asked,
/// `Input[...]` / `Output[...]` per part.
fn model(
    c: &Common<'_>,
    input_and_output: bool,
    config_left: bool,
    out: &mut impl FnMut(LogRecord),
) {
    let f = c.facts;
    let config = ConfigLog::of(&f.span, Cow::Borrowed(&c.path));
    if !config_left {
        let attrs = config
            .attributes(c.source)
            .map(|(k, v)| KeyValue::new(k, v.to_string()))
            .collect();
        out(c.record(Severity::Info, config.message(), attrs));
    }
    if !input_and_output {
        return;
    }
    // What each Input / Output record adds to: the Config record's
    // attributes up to the model.
    let model = config.model;
    let mut shared = c.attributes(&config.feature, 1);
    shared.push(KeyValue::new("model", model.to_string()));
    if let Some(input) = f
        .span
        .input
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
    {
        let messages = input
            .get("messages")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (m, message) in messages.iter().enumerate() {
            let role = message
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or("user");
            let parts = content_of(message);
            for (i, part) in parts.iter().enumerate() {
                let mut attrs = with_room(&shared, 6);
                attrs.extend([
                    KeyValue::new("content", part_content(part)),
                    KeyValue::new("role", role.to_string()),
                    KeyValue::new("partIndex", i as i64),
                    KeyValue::new("totalParts", parts.len() as i64),
                    KeyValue::new("messageIndex", m as i64),
                    KeyValue::new("totalMessages", messages.len() as i64),
                ]);
                let counts = part_counts(i, parts.len(), m, messages.len());
                out(c.record(
                    Severity::Info,
                    titled("Input", &c.path, model, &counts),
                    attrs,
                ));
            }
        }
    }
    if let Some(output) = f
        .span
        .output
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
    {
        let message = output.get("message").or_else(|| {
            output
                .get("candidates")?
                .as_array()?
                .first()?
                .get("message")
        });
        let Some(message) = message else { return };
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or("model");
        let parts = content_of(message);
        for (i, part) in parts.iter().enumerate() {
            let mut attrs = with_room(&shared, 9);
            attrs.extend([
                KeyValue::new("content", part_content(part)),
                KeyValue::new("role", role.to_string()),
                KeyValue::new("partIndex", i as i64),
                KeyValue::new("totalParts", parts.len() as i64),
                KeyValue::new("candidateIndex", 0),
                KeyValue::new("totalCandidates", 1),
                KeyValue::new("messageIndex", 0),
            ]);
            if let Some(r) = output.get("finishReason").and_then(Value::as_str) {
                attrs.push(KeyValue::new("finishReason", r.to_string()));
            }
            if let Some(m) = output.get("finishMessage").and_then(Value::as_str) {
                attrs.push(KeyValue::new(
                    "finishMessage",
                    truncated_chars(m, limits::CONTENT).to_string(),
                ));
            }
            let counts = part_counts(i, parts.len(), 0, 1);
            out(c.record(
                Severity::Info,
                titled("Output", &c.path, model, &counts),
                attrs,
            ));
        }
    }
}

/// A tool's or a root feature's whole `genkit:input` and `genkit:output`.
fn whole_input_and_output(c: &Common<'_>, out: &mut impl FnMut(LogRecord)) {
    let f = c.facts;
    let feature = if f.root {
        cut(Cow::Borrowed(f.span.name), limits::NAME)
    } else {
        cut(
            feature_name(f.span.path).unwrap_or(Cow::Borrowed(f.span.name)),
            limits::NAME,
        )
    };
    for (tag, content) in [("Input", f.span.input), ("Output", f.span.output)] {
        let Some(content) = content.filter(|s| !s.is_empty()) else {
            continue;
        };
        let mut attrs = c.attributes(&feature, 1);
        attrs.push(KeyValue::new(
            "content",
            truncated_chars(content, limits::CONTENT).to_string(),
        ));
        out(c.record(Severity::Info, titled(tag, &c.path, &feature, ""), attrs));
    }
}

/// `Error[<path>, <name>]` for a failure source.
fn error(c: &Common<'_>, out: &mut impl FnMut(LogRecord)) {
    let f = c.facts;
    let feature = feature_name(f.span.path).unwrap_or(Cow::Borrowed(f.span.name));
    let name = f.error_name();
    let mut attrs = c.attributes(&cut(feature, limits::NAME), 3);
    attrs.extend([
        KeyValue::new("name", name.to_string()),
        KeyValue::new("message", f.error_message().to_string()),
    ]);
    if let Some(stack) = f.exception.stack {
        attrs.push(KeyValue::new(
            "stack",
            truncated_chars(stack, limits::STACK).to_string(),
        ));
    }
    out(c.record(Severity::Error, titled("Error", &c.path, name, ""), attrs));
}

/// `Input[path, model] (part 1 of 2)`; no trailing space without counts.
fn titled(tag: &str, path: &str, name: &str, counts: &str) -> String {
    // Pushed into one allocation of the right size (`format!` grows its
    // buffer as it goes).
    let mut s = String::with_capacity(tag.len() + path.len() + name.len() + counts.len() + 5);
    s.push_str(tag);
    s.push('[');
    s.push_str(path);
    s.push_str(", ");
    s.push_str(name);
    s.push(']');
    if !counts.is_empty() {
        s.push(' ');
        s.push_str(counts);
    }
    s
}

/// A copy of `shared` with room for `more`.
fn with_room(shared: &[KeyValue], more: usize) -> Vec<KeyValue> {
    let mut attrs = Vec::with_capacity(shared.len() + more);
    attrs.extend_from_slice(shared);
    attrs
}

/// Which part of which message, as the plugin says it (1-based).
fn part_counts(part: usize, parts: usize, message: usize, messages: usize) -> String {
    match (parts > 1, messages > 1) {
        (true, true) => format!(
            "(part {} of {parts} in message {} of {messages})",
            part + 1,
            message + 1
        ),
        (true, false) => format!("(part {} of {parts})", part + 1),
        (false, true) => format!("(message {} of {messages})", message + 1),
        (false, false) => String::new(),
    }
}

fn content_of(message: &Value) -> &[Value] {
    message
        .get("content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// A request's `config`, when it is an object, without building the rest
/// of the request (prompts can be long): the other members are stepped
/// over (see `lenient.rs`).
fn request_config(input: &str) -> Option<Map<String, Value>> {
    let Lenient(RequestMembers(config)) = serde_json::from_str(input).ok()?;
    config
}

/// The members of a request that are read: `config`.
#[derive(Default)]
struct RequestMembers(Option<Map<String, Value>>);

impl<'de> Part<'de> for RequestMembers {
    fn object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut config = None;
        members(map, |key, map| match key {
            "config" => {
                config = value::<ConfigObject, _>(map)?.0;
                Ok(())
            }
            _ => skip(map),
        })?;
        Ok(RequestMembers(config))
    }
}

/// A request's `config`: built whole, when it is an object.
#[derive(Default)]
struct ConfigObject(Option<Map<String, Value>>);

impl<'de> Part<'de> for ConfigObject {
    fn object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        Map::deserialize(MapAccessDeserializer::new(map)).map(|m| ConfigObject(Some(m)))
    }
}

/// A JSON value as log text: strings as they are, anything else as JSON.
fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What a message part says, as the plugin logs it.
fn part_content(part: &Value) -> String {
    let text = |s: &str| truncated_chars(s, limits::CONTENT).to_string();
    let non_empty = |key: &str| part.get(key).filter(|v| !v.is_null());
    if let Some(t) = part
        .get("text")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        return text(t);
    }
    if let Some(d) = non_empty("data") {
        return text(&d.to_string());
    }
    if let Some(url) = non_empty("media").and_then(|m| m.get("url")?.as_str()) {
        return media(url);
    }
    if let Some(r) = non_empty("toolRequest") {
        return text(&format!(
            "Tool request: {}, ref: {}, input: {}",
            field(r, "name"),
            field(r, "ref"),
            r.get("input").map(json_text).unwrap_or_default()
        ));
    }
    if let Some(r) = non_empty("toolResponse") {
        return text(&format!(
            "Tool response: {}, ref: {}, output: {}",
            field(r, "name"),
            field(r, "ref"),
            r.get("output").map(json_text).unwrap_or_default()
        ));
    }
    if let Some(c) = non_empty("custom") {
        return text(&c.to_string());
    }
    // Thinking the model wrote (`reasoning` parts) is text too.
    if let Some(t) = part.get("reasoning").and_then(Value::as_str) {
        return text(t);
    }
    "<unknown format>".to_string()
}

fn field(v: &Value, key: &str) -> String {
    v.get(key).map(json_text).unwrap_or_default()
}

/// A media URL; inline data (`data:...;base64,...`) becomes its SHA-256, so
/// the record says which image was sent without holding it.
fn media(url: &str) -> String {
    if !url.starts_with("data:") {
        return truncated_chars(url, limits::CONTENT).to_string();
    }
    let Some(at) = url.find("base64,") else {
        return "<unknown media format>".to_string();
    };
    let (prefix, data) = url.split_at(at + "base64,".len());
    format!("{prefix}<sha256({})>", sha256_hex(data.as_bytes()))
}

/// A media URL by reference: [`media`], for the GenAI messages.
pub(crate) fn media_reference(url: &str) -> String {
    media(url)
}

fn sha256_hex(data: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    crate::envelopes::json::hex_string(digest.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{PackedSpan, SpanPacker, SpanParts};
    use opentelemetry::trace::SpanKind;

    const MODEL_PATH: &str =
        "/{weather_flow,t:action,s:flow}/{generate,t:util}/{fake%2Fweather-model,t:action,s:model}";

    /// The request's `config` as it was read before `lenient.rs`: the top
    /// level as raw members, then `config` into a `Value`.
    fn config_through_raw_members(input: &str) -> Option<Map<String, Value>> {
        use serde_json::value::RawValue;
        let top: std::collections::HashMap<String, &RawValue> = serde_json::from_str(input).ok()?;
        match serde_json::from_str(top.get("config")?.get()).ok()? {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    #[test]
    fn a_requests_config_reads_as_it_did_through_raw_members() {
        let long = format!(
            r#"{{"messages":{}{},"config":{{"a":1}}}}"#,
            "[".repeat(500),
            "]".repeat(500)
        );
        for input in [
            r#"{"messages":[{"content":[{"text":"config"}]}],"config":{"maxOutputTokens":64,"stopSequences":["END"]},"tools":[]}"#,
            r#"{"config":{"maxOutputTokens":1},"config":{"stopSequences":[]}}"#,
            r#"{"config":{"maxOutputTokens":1},"config":null}"#,
            r#"{"config":[1,2]}"#,
            r#"{"con\u0066ig":{"temperature":0.5,"nested":{"deep":[{"x":null}]}}}"#,
            r#"{"config":{"maxOutputTokens":1,"maxOutputTokens":2}}"#,
            r#"{"config":{}}"#,
            r#"{"tools":[{"config":{"a":1}}]}"#,
            r#"[{"config":{}}]"#,
            r#""config""#,
            r#"{"config":{"a":"\ud800"}}"#,
            r#"{"config":{"a":1e400}}"#,
            r#"{"config":{"a":1}"#,
            "",
            &long,
        ] {
            assert_eq!(
                request_config(input),
                config_through_raw_members(input),
                "{input}"
            );
        }
        assert!(
            request_config(&long).is_some(),
            "nesting past a Value's limit is stepped over"
        );
    }

    fn span(attrs: &[(&str, &str)], failed: bool) -> PackedSpan {
        let mut p = SpanPacker::new(
            [1; 16],
            [2; 8],
            Some([3; 8]),
            false,
            SpanKind::Internal,
            0,
            5_000,
        );
        p.operation_name("weather_flow");
        for (k, v) in attrs {
            p.attribute_str(k, v);
        }
        if failed {
            p.status_error("boom");
            p.event("exception", 1, 3);
            p.attribute_str("exception.type", "ToolError");
            p.attribute_str("exception.message", "no weather for Atlantis");
            p.attribute_str("exception.stacktrace", "Traceback (most recent call last)");
        }
        p.finish().unwrap()
    }

    fn logs(span: &PackedSpan, failure_source: bool, io: bool) -> Vec<LogRecord> {
        let mut parts = SpanParts::default();
        parts.read(span);
        let facts = SpanFacts::read(&parts, failure_source).unwrap();
        let mut out = Vec::new();
        derive(&facts, &Source::default(), io, &mut |r| out.push(r));
        out
    }

    fn attr(r: &LogRecord, key: &str) -> Option<String> {
        r.attribute(key).map(Cow::into_owned)
    }

    fn model_span() -> PackedSpan {
        span(
            &[
                ("genkit:type", "action"),
                ("genkit:metadata:subtype", "model"),
                ("genkit:name", "fake/weather-model"),
                ("genkit:path", MODEL_PATH),
                ("genkit:state", "success"),
                (
                    "genkit:input",
                    r#"{"messages":[{"role":"system","content":[{"text":"be brief"}]},{"role":"user","content":[{"text":"weather?"},{"media":{"url":"data:image/png;base64,aGVsbG8=","contentType":"image/png"}}]}],"config":{"maxOutputTokens":64,"stopSequences":["END"]},"tools":[]}"#,
                ),
                (
                    "genkit:output",
                    r#"{"message":{"role":"model","content":[{"text":"hi"}]},"finishReason":"stop","latencyMs":0.5,"usage":{"inputTokens":12.0,"outputTokens":4.0}}"#,
                ),
            ],
            false,
        )
    }

    #[test]
    fn a_model_call_logs_its_config_correlated_with_the_span() {
        let out = logs(&model_span(), false, false);
        assert_eq!(out.len(), 1, "{out:#?}");
        let r = &out[0];
        assert_eq!(
            r.body,
            "Config[weather_flow > generate > fake/weather-model, fake/weather-model]"
        );
        assert_eq!(r.severity, Severity::Info);
        assert_eq!(
            r.trace_context,
            Some((TraceId::from_bytes([1; 16]), SpanId::from_bytes([2; 8])))
        );
        assert_eq!(r.operation_name.as_deref(), Some("weather_flow"));
        assert_eq!(r.time, time_from_unix_nanos(5_000));
        assert_eq!(attr(r, "model").as_deref(), Some("fake/weather-model"));
        assert_eq!(attr(r, "featureName").as_deref(), Some("weather_flow"));
        assert_eq!(attr(r, "qualifiedPath").as_deref(), Some(MODEL_PATH));
        assert_eq!(attr(r, "maxOutputTokens").as_deref(), Some("64"));
        assert_eq!(attr(r, "stopSequences").as_deref(), Some(r#"["END"]"#));
        assert_eq!(attr(r, "content"), None, "no content without the option");
    }

    /// The model span of [`model_span`], its trace kept by sampling at 25 %.
    fn sampled_model_span() -> PackedSpan {
        let mut p = SpanPacker::new(
            [1; 16],
            [2; 8],
            Some([3; 8]),
            false,
            SpanKind::Client,
            0,
            5_000,
        );
        p.sampling(crate::ingest::Sampled {
            keep: true,
            percentage: 25.0,
        });
        let mut parts = SpanParts::default();
        let model = model_span();
        parts.read(&model);
        p.operation_name("weather_flow");
        for a in &parts.attrs {
            p.attribute_str(a.key, &a.value.to_value().as_str());
        }
        p.finish().unwrap()
    }

    /// What `derive_with` hands on for `span`, and whether it left the
    /// Config record to the writer.
    fn derived(span: &PackedSpan, io: bool, config_with_span: bool) -> (Vec<LogRecord>, bool) {
        let mut parts = SpanParts::default();
        parts.read(span);
        let facts = SpanFacts::read(&parts, false).unwrap();
        let mut out = Vec::new();
        let (source, cache) = (&Source::default(), &mut LogCache::default());
        let left = derive_with(&facts, source, io, cache, config_with_span, &mut |r| {
            out.push(r)
        });
        (out, left)
    }

    #[test]
    fn a_config_record_left_to_the_writer_is_the_envelope_its_log_record_makes() {
        use crate::envelopes::test_support::decode;
        use crate::envelopes::writer::EnvelopeWriter;
        use crate::envelopes::{ResourceTags, ViewOptions};
        let span = sampled_model_span();
        // What the worker hands on without the writer's help: the record,
        // with its span's sampling (`enable_trace_based_sampling_for_logs`).
        let (mut records, left) = derived(&span, false, false);
        assert!(!left);
        assert_eq!(records.len(), 1, "{records:#?}");
        records[0].sample_rate = span.sample_rate();
        // Left to the writer: nothing is handed on; Input and Output records
        // (with the option) still are.
        let (handed_on, left) = derived(&span, false, true);
        assert!(left);
        assert!(handed_on.is_empty(), "{handed_on:#?}");
        let (with_io, left) = derived(&span, true, true);
        assert!(left);
        assert!(!with_io.is_empty());
        assert!(
            with_io.iter().all(|r| !r.body.starts_with("Config[")),
            "{with_io:#?}"
        );

        let resource = opentelemetry_sdk::Resource::builder_empty().build();
        let writer =
            EnvelopeWriter::new("k", ResourceTags::new(&resource), 1).with_view(ViewOptions {
                source: Source::default(),
                ..ViewOptions::default()
            });
        let as_record = decode(&writer.logs(&records, false).unwrap().gzip);
        let mut marked = span.clone();
        marked.mark_config_log();
        let with_span = decode(&writer.spans(&[marked], false).unwrap().gzip);
        assert_eq!(with_span.len(), 2, "{with_span:#?}");
        assert_eq!(with_span[1], as_record[0]);
        assert_eq!(with_span[1]["sampleRate"], 25.0);
        // Unmarked, the span is written alone.
        assert_eq!(decode(&writer.spans(&[span], false).unwrap().gzip).len(), 1);
    }

    #[test]
    fn with_the_option_each_message_part_is_a_record_and_media_is_hashed() {
        let out = logs(&model_span(), false, true);
        let bodies: Vec<&str> = out.iter().map(|r| r.body.as_str()).collect();
        let p = "weather_flow > generate > fake/weather-model, fake/weather-model";
        assert_eq!(
            bodies,
            [
                format!("Config[{p}]"),
                format!("Input[{p}] (message 1 of 2)"),
                format!("Input[{p}] (part 1 of 2 in message 2 of 2)"),
                format!("Input[{p}] (part 2 of 2 in message 2 of 2)"),
                format!("Output[{p}]"),
            ]
        );
        assert_eq!(attr(&out[1], "content").as_deref(), Some("be brief"));
        assert_eq!(attr(&out[1], "role").as_deref(), Some("system"));
        assert_eq!(attr(&out[2], "partIndex").as_deref(), Some("0"));
        assert_eq!(attr(&out[2], "totalMessages").as_deref(), Some("2"));
        assert_eq!(
            attr(&out[3], "content").as_deref(),
            Some(
                "data:image/png;base64,<sha256(333d6b3a3c1f5db6c9bdda5939b136986d170f4649172a68368d54ecb44c2ff2)>"
            ),
            "the SHA-256 of the base64 text, as the plugin hashes it"
        );
        assert_eq!(attr(&out[4], "content").as_deref(), Some("hi"));
        assert_eq!(attr(&out[4], "finishReason").as_deref(), Some("stop"));
    }

    #[test]
    fn a_failure_source_logs_its_error() {
        let tool = span(
            &[
                ("genkit:type", "action"),
                ("genkit:metadata:subtype", "tool.v2"),
                ("genkit:name", "get_weather"),
                (
                    "genkit:path",
                    "/{weather_flow,t:action,s:flow}/{get_weather,t:action,s:tool.v2}",
                ),
                ("genkit:state", "error"),
                ("genkit:input", "\"Atlantis\""),
            ],
            true,
        );
        assert!(logs(&tool, false, false).is_empty(), "not the source");
        let out = logs(&tool, true, false);
        assert_eq!(out.len(), 1);
        let r = &out[0];
        assert_eq!(r.body, "Error[weather_flow > get_weather, ToolError]");
        assert_eq!(r.severity, Severity::Error);
        assert_eq!(
            attr(r, "message").as_deref(),
            Some("no weather for Atlantis")
        );
        assert_eq!(
            attr(r, "stack").as_deref(),
            Some("Traceback (most recent call last)")
        );
        assert_eq!(attr(r, "featureName").as_deref(), Some("weather_flow"));
        // With the option, the tool's input is logged too.
        let out = logs(&tool, true, true);
        let bodies: Vec<&str> = out.iter().map(|r| r.body.as_str()).collect();
        assert_eq!(
            bodies,
            [
                "Input[weather_flow > get_weather, weather_flow]",
                "Error[weather_flow > get_weather, ToolError]"
            ]
        );
        assert_eq!(attr(&out[0], "content").as_deref(), Some("\"Atlantis\""));
    }

    #[test]
    fn content_is_cut_at_the_plugins_limit_by_characters() {
        let long = "é".repeat(limits::CONTENT + 10);
        let part = serde_json::json!({ "text": long });
        let c = part_content(&part);
        assert_eq!(c.chars().count(), limits::CONTENT);
        assert_eq!(media("data:text/plain,hi"), "<unknown media format>");
        assert_eq!(media("https://x/y.png"), "https://x/y.png");
        assert_eq!(
            part_content(
                &serde_json::json!({"toolRequest":{"name":"w","ref":"1","input":{"city":"Paris"}}})
            ),
            r#"Tool request: w, ref: 1, input: {"city":"Paris"}"#
        );
        assert_eq!(part_content(&serde_json::json!({})), "<unknown format>");
    }

    #[test]
    fn other_spans_log_nothing_without_the_option() {
        let flow = span(
            &[
                ("genkit:type", "action"),
                ("genkit:metadata:subtype", "flow"),
                ("genkit:name", "weather_flow"),
                ("genkit:path", "/{weather_flow,t:action,s:flow}"),
                ("genkit:input", "\"Paris\""),
                ("genkit:output", "\"sunny\""),
            ],
            false,
        );
        assert!(logs(&flow, false, false).is_empty());
        let out = logs(&flow, false, true);
        let bodies: Vec<&str> = out.iter().map(|r| r.body.as_str()).collect();
        assert_eq!(
            bodies,
            [
                "Input[weather_flow, weather_flow]",
                "Output[weather_flow, weather_flow]"
            ]
        );
    }

    #[test]
    fn records_of_one_operation_share_its_name() {
        let span = model_span();
        let mut parts = SpanParts::default();
        parts.read(&span);
        let facts = SpanFacts::read(&parts, false).unwrap();
        let (mut cache, mut out) = (LogCache::default(), Vec::new());
        for _ in 0..2 {
            derive_with(
                &facts,
                &Source::default(),
                false,
                &mut cache,
                false,
                &mut |r| out.push(r),
            );
        }
        let names: Vec<Arc<str>> = out
            .iter()
            .filter_map(|r| r.operation_name.clone())
            .collect();
        assert_eq!(names.len(), 2);
        assert!(Arc::ptr_eq(&names[0], &names[1]), "one allocation");
        assert_eq!(&*cache.operation("other_flow"), "other_flow");
        assert_eq!(&*names[1], "weather_flow");
    }
}
