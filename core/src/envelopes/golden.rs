//! Our envelopes against the official distro's: the inputs of the distro's
//! golden app (`tests/golden/official-distro/`), written by our writer, and
//! compared with what the distro sent, field by field. Where we deviate on
//! purpose, `DEVIATIONS` says so, once; every envelope also passes the
//! emulator's schema checks.

use super::metrics::MetricsRecorder;
use super::resource::ResourceTags;
use super::test_support::{decode, kv, span_data};
use super::writer::EnvelopeWriter;
use crate::config::DEFAULT_GZIP_LEVEL;
use crate::ingest::{LogRecord, MetricKind, MetricPoint, PackedSpan};
use genkit_azure_emulator::validate::validate_envelope;
use opentelemetry::logs::Severity;
use opentelemetry::trace::{Event, SpanId, SpanKind, Status, TraceId};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use serde_json::Value as Json;
use std::time::{Duration, UNIX_EPOCH};

const KEY: &str = "00000000-0000-0000-0000-000000000000";

/// Where our envelopes knowingly differ from the distro's golden ones.
const DEVIATIONS: &[(&str, &str)] = &[
    ("resultCode", "an internal span's result code is its status code (`2` for an error), as the Rust crate writes it; the distro writes `0`"),
    ("source", "a request also keeps its client address in `source`, as the Rust crate does"),
    ("network.protocol.version", "attributes no field says stay in properties; the distro drops every `network.*` attribute"),
    ("ai.operation.name", "every envelope of an operation carries its root's name (a request's `METHOD route`, a Genkit flow's name); the distro names each span's own operation after itself"),
    ("genkit:isRoot", "the outermost Genkit span says `genkit:isRoot` (a failure source `genkit:isFailureSource`), as Genkit JS sets them; Python Genkit never does"),
    ("genkit:input", "a Genkit span's `genkit:input` and `genkit:output` are `<redacted>` unless `log_input_and_output` is on; the distro exports prompts and responses"),
    ("error.type", "a failed span says its exception's type in `error.type`, which Azure's Agents view reads; the distro drops it"),
    ("ai.operation.id outside a span", "a log outside any span has no operation tags; the distro writes zeros"),
];

fn golden(name: &str) -> Json {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/golden/official-distro/"
    );
    let path = std::fs::read_dir(dir)
        .expect("the golden directory")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(name))
        .unwrap_or_else(|| panic!("no golden file {name}"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const TRACE: [u8; 16] = [0x72; 16];

fn span(id: u8, parent: Option<u8>, kind: SpanKind, name: &str, attrs: Vec<KeyValue>) -> SpanData {
    let at = UNIX_EPOCH + Duration::from_secs(1_795_554_295);
    span_data(
        TRACE,
        id,
        parent,
        kind,
        name,
        attrs,
        at,
        Duration::from_millis(14),
    )
}

/// The golden app's spans, in the order of the golden files 01..06.
fn spans() -> Vec<SpanData> {
    let server = span(
        1,
        None,
        SpanKind::Server,
        "GET /api/flows/{flow}",
        vec![
            kv("http.request.method", "GET"),
            kv("url.scheme", "https"),
            kv("url.path", "/api/flows/menuSuggestion"),
            kv("url.query", "stream=false"),
            kv("server.address", "example.com"),
            kv("server.port", 443),
            kv("http.route", "/api/flows/{flow}"),
            kv("http.response.status_code", 200),
            kv("client.address", "10.1.2.3"),
            kv("user_agent.original", "curl/8.0"),
            kv("network.protocol.version", "1.1"),
            kv("custom.tenant", "contoso"),
        ],
    );
    let http = span(
        3,
        Some(2),
        SpanKind::Client,
        "POST /v1beta/models/gemini-2.0-flash:generateContent",
        vec![
            kv("http.request.method", "POST"),
            kv(
                "url.full",
                "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent?alt=json",
            ),
            kv("server.address", "generativelanguage.googleapis.com"),
            kv("server.port", 443),
            kv("http.response.status_code", 200),
            kv("custom.attempt", 1),
        ],
    );
    let genai = span(
        4,
        Some(2),
        SpanKind::Client,
        "chat gemini-2.0-flash",
        vec![
            kv("gen_ai.system", "gcp.gemini"),
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.request.model", "gemini-2.0-flash"),
            kv("gen_ai.usage.input_tokens", 12),
            kv("gen_ai.usage.output_tokens", 34),
            kv("server.address", "generativelanguage.googleapis.com"),
        ],
    );
    let flow = span(
        2,
        Some(1),
        SpanKind::Internal,
        "menuSuggestion",
        vec![
            kv("genkit:type", "action"),
            kv("genkit:metadata:subtype", "flow"),
            kv("genkit:name", "menuSuggestion"),
            kv("genkit:path", "/{menuSuggestion,t:flow}"),
            kv("genkit:input", "{\"theme\":\"pirate\"}"),
            kv("genkit:output", "\"Arr, fish and chips\""),
            kv("genkit:state", "success"),
        ],
    );
    let mut tool = span(
        5,
        Some(1),
        SpanKind::Internal,
        "failingTool",
        vec![
            kv("genkit:type", "action"),
            kv("genkit:name", "failingTool"),
        ],
    );
    tool.status = Status::error("tool exploded");
    tool.events.events.push(Event::new(
        "exception",
        tool.start_time,
        vec![
            kv("exception.type", "ValueError"),
            kv("exception.message", "tool exploded: bad input"),
            kv(
                "exception.stacktrace",
                "Traceback (most recent call last):\n  File \"golden_app.py\", line 65, in <module>\n    raise ValueError(\"tool exploded: bad input\")\nValueError: tool exploded: bad input\n",
            ),
            kv("exception.escaped", "False"),
            kv("tool.id", "t-42"),
        ],
        0,
    ));
    vec![server, http, genai, flow, tool]
}

fn logs() -> Vec<LogRecord> {
    let in_server = Some((TraceId::from_bytes(TRACE), SpanId::from_bytes([1; 8])));
    let mut info = LogRecord::new(Severity::Info, "flow started menuSuggestion")
        .with_attribute(kv("flow_name", "menuSuggestion"))
        .with_attribute(kv("attempt", 1))
        .with_attribute(kv("ratio", 0.5));
    info.trace_context = in_server;
    info.logger_name = Some("anchor".into());
    let mut warning =
        LogRecord::new(Severity::Warn, "no active span here").with_attribute(kv("k", "v"));
    warning.logger_name = Some("anchor".into());
    let mut exception = LogRecord::new(Severity::Error, "division failed")
        .with_attribute(kv("exception.type", "ZeroDivisionError"))
        .with_attribute(kv("exception.message", "division by zero"))
        .with_attribute(kv(
            "exception.stacktrace",
            "Traceback (most recent call last):\n  File \"golden_app.py\", line 70, in <module>\n    1 / 0\n    ~~^~~\nZeroDivisionError: division by zero\n",
        ))
        .with_attribute(kv("flow_name", "menuSuggestion"));
    exception.trace_context = in_server;
    exception.logger_name = Some("anchor".into());
    vec![info, warning, exception]
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([
            kv("service.name", "genkit-anchor"),
            kv("service.namespace", "anchor"),
            kv("service.version", "1.2.3"),
            kv("service.instance.id", "instance-1"),
            kv("telemetry.sdk.language", "python"),
        ])
        .build()
}

/// The members of `base` worth comparing (ids, times and durations differ by nature).
const FIELDS: &[&str] = &[
    "name",
    "responseCode",
    "resultCode",
    "success",
    "url",
    "data",
    "target",
    "type",
    "message",
    "severityLevel",
    "properties",
    "metrics",
];

/// Tags that come from the resource or the span's client.
const TAGS: &[&str] = &[
    "ai.cloud.role",
    "ai.cloud.roleInstance",
    "ai.internal.nodeName",
    "ai.application.ver",
    "ai.location.ip",
    "ai.user.userAgent",
];

fn compare(ours: &Json, gold: &Json, what: &str) {
    validate_envelope(ours, Some(KEY)).unwrap_or_else(|e| panic!("{what}: {e}\n{ours}"));
    assert_eq!(ours["name"], gold["name"], "{what}");
    assert_eq!(ours["data"]["baseType"], gold["data"]["baseType"], "{what}");
    assert_eq!(
        ours.get("sampleRate").is_some(),
        gold.get("sampleRate").is_some(),
        "{what}: sampleRate"
    );
    let (o, g) = (&ours["data"]["baseData"], &gold["data"]["baseData"]);
    for field in FIELDS {
        let (mut o, mut g) = (o.get(*field).cloned(), g.get(*field).cloned());
        if *field == "resultCode" && o.as_ref().and_then(Json::as_str) == Some("2") {
            assert!(DEVIATIONS.iter().any(|(d, _)| *d == "resultCode"));
            continue;
        }
        if *field == "properties" {
            // The distro writes `{}`; we leave empty properties out.
            let empty = |v: &Option<Json>| {
                v.as_ref()
                    .is_none_or(|p| p == &Json::Object(Default::default()))
            };
            if empty(&o) && empty(&g) {
                continue;
            }
            if let Some(Json::Object(p)) = &mut o {
                p.remove("network.protocol.version");
                if p.contains_key("error.type")
                    && g.as_ref().is_none_or(|g| g.get("error.type").is_none())
                {
                    assert!(DEVIATIONS.iter().any(|(d, _)| *d == "error.type"));
                    p.remove("error.type");
                }
                for key in ["genkit:isRoot", "genkit:isFailureSource"] {
                    if p.remove(key).is_some() {
                        assert!(DEVIATIONS.iter().any(|(d, _)| *d == "genkit:isRoot"));
                    }
                }
                for key in ["genkit:input", "genkit:output"] {
                    if p.get(key).and_then(Json::as_str) == Some("<redacted>") {
                        assert!(DEVIATIONS.iter().any(|(d, _)| *d == "genkit:input"));
                        p[key] = g.as_ref().map_or(Json::Null, |g| g[key].clone());
                    }
                }
            }
            if let Some(Json::Object(p)) = &mut g {
                p.remove("telemetry.sdk.name");
                p.remove("telemetry.sdk.version");
            }
        }
        assert_eq!(o, g, "{what}: data.baseData.{field}");
    }
    if let Some(g) = g.get("exceptions") {
        let o = &o["exceptions"][0];
        for f in ["typeName", "message", "hasFullStack", "stack"] {
            assert_eq!(o[f], g[0][f], "{what}: exceptions[0].{f}");
        }
    }
    for tag in TAGS {
        assert_eq!(
            ours["tags"].get(*tag),
            gold["tags"].get(*tag),
            "{what}: tags.{tag}"
        );
    }
    let outside = gold["tags"]["ai.operation.id"] == "00000000000000000000000000000000";
    for tag in ["ai.operation.id", "ai.operation.parentId"] {
        assert_eq!(
            ours["tags"].get(tag).is_some(),
            gold["tags"].get(tag).is_some() && !outside,
            "{what}: tags.{tag}"
        );
    }
}

#[test]
fn our_envelopes_say_what_the_official_distro_said() {
    let writer = EnvelopeWriter::new(KEY, ResourceTags::new(&resource()), DEFAULT_GZIP_LEVEL);
    let packed: Vec<PackedSpan> = spans()
        .iter()
        .map(|s| PackedSpan::from_span_data(s).unwrap())
        .collect();
    let ours = decode(&writer.spans(&packed, true).unwrap().gzip);
    let files = ["01", "02", "03", "04", "05", "06", "11"];
    assert_eq!(
        ours.len(),
        files.len(),
        "five spans, one exception event, the resource"
    );
    for (o, f) in ours.iter().zip(files) {
        compare(o, &golden(f), f);
    }
    // The request names its operation by its route, as the distro does.
    assert_eq!(
        ours[0]["tags"]["ai.operation.name"],
        golden("01")["tags"]["ai.operation.name"]
    );

    let ours = decode(&writer.logs(&logs(), false).unwrap().gzip);
    for (o, f) in ours.iter().zip(["07", "08", "09"]) {
        compare(o, &golden(f), f);
    }
}

#[test]
fn our_metrics_say_what_the_official_distro_said() {
    let mut recorder = MetricsRecorder::new(2000);
    let attrs = |p: MetricPoint| {
        p.with_attribute(kv("model", "gemini-2.0-flash"))
            .with_attribute(kv("genkit.flow", "menuSuggestion"))
    };
    for v in [3.0, 2.0] {
        recorder.record(attrs(MetricPoint::new(
            MetricKind::Counter,
            "genkit_requests",
            v,
        )));
    }
    for v in [12.5, 80.0, 230.0] {
        recorder.record(
            MetricPoint::new(MetricKind::Histogram, "genkit_generate_latency", v)
                .with_attribute(kv("model", "gemini-2.0-flash")),
        );
    }
    for v in [3.0, -1.0] {
        recorder.record(MetricPoint::new(MetricKind::UpDownCounter, "inflight", v));
    }
    let (series, points) = recorder.collect();
    assert_eq!(points, 7);
    let writer = EnvelopeWriter::new(KEY, ResourceTags::new(&resource()), DEFAULT_GZIP_LEVEL);
    let ours = decode(&writer.metrics(&series, false).unwrap().gzip);
    for (file, name) in [
        ("10", "genkit_requests"),
        ("13", "genkit_generate_latency"),
        ("14", "inflight"),
    ] {
        let gold = golden(file);
        let gold = match gold {
            Json::Array(a) => a
                .into_iter()
                .find(|e| e["data"]["baseData"]["metrics"][0]["name"] == name)
                .expect("the golden metric"),
            one => one,
        };
        let o = ours
            .iter()
            .find(|e| e["data"]["baseData"]["metrics"][0]["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {ours:?}"));
        validate_envelope(o, Some(KEY)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(o["name"], gold["name"], "{name}");
        assert_eq!(o["data"]["baseType"], gold["data"]["baseType"], "{name}");
        // 230 and 230.0 are one number on the wire.
        assert_eq!(
            as_floats(&o["data"]["baseData"]["metrics"]),
            as_floats(&gold["data"]["baseData"]["metrics"]),
            "{name}"
        );
        let props = |e: &Json| {
            e["data"]["baseData"]
                .get("properties")
                .cloned()
                .filter(|p| p != &Json::Object(Default::default()))
        };
        assert_eq!(props(o), props(&gold), "{name}: properties");
        assert!(o.get("sampleRate").is_none());
    }
}

/// `v` with every number as a float, so `230` equals `230.0`.
fn as_floats(v: &Json) -> Json {
    match v {
        Json::Number(n) => n.as_f64().map_or(Json::Null, Json::from),
        Json::Array(a) => Json::Array(a.iter().map(as_floats).collect()),
        Json::Object(o) => Json::Object(o.iter().map(|(k, v)| (k.clone(), as_floats(v))).collect()),
        other => other.clone(),
    }
}
