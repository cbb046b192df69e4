//! The differential test: a corpus of spans and logs is written by our
//! envelope writer and mapped by `opentelemetry-application-insights` (the
//! reference), both bodies are decoded, and every envelope is compared field
//! by field. Each intended difference is listed once, in `INTENDED`, with the
//! normalisation that removes it; any other difference fails the test, and an
//! intended difference the corpus never shows fails it too (so the table
//! cannot go stale). The README's "What the writer does differently" table
//! lists the same ids.

use super::capture::CaptureClient;
use super::reference::Reference;
use super::resource::ResourceTags;
use super::test_support::{decode, kv, span_data};
use super::view::{item_maps, Item};
use super::writer::EnvelopeWriter;
use crate::config::DEFAULT_GZIP_LEVEL;
use crate::ingest::{LogRecord, PackedSpan};
use opentelemetry::logs::Severity;
use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use serde_json::{Map, Value as Json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KEY: &str = "11111111-2222-3333-4444-555555555555";

/// Every intended difference: (id, what ours does instead of the crate).
pub(crate) const INTENDED: &[(&str, &str)] = &[
    ("time-micros", "`time` has microseconds (the official distro's precision), not milliseconds"),
    ("resource-not-in-properties", "resource attributes are not copied into every envelope's properties; they go once in the `_OTELRESOURCE_` metric"),
    ("mapped-not-in-properties", "attributes said by a field or a tag (`http.*`, `url.*`, `server.*`, `db.*`, `ai.*` tags, ...) are not repeated in properties, as in the official distro"),
    ("sdk-version-tag", "`ai.internal.sdkVersion` names this library and the host language"),
    ("role-instance-host", "`ai.cloud.roleInstance` is the host name when the resource has no instance id, as in the official distro"),
    ("node-name-tag", "`ai.internal.nodeName` repeats the role instance, as in the official distro"),
    ("request-client-tags", "a request's client address and user agent are the `ai.location.ip` and `ai.user.userAgent` tags, as in the official distro"),
    ("dependency-success", "a dependency whose status is unset has `success: true` (the crate leaves `success` out)"),
    ("http-dependency-name", "an HTTP client dependency is named `METHOD /path`, not the span name (often just `GET`)"),
    ("target-from-url", "a dependency with a URL and no host attributes takes its target from the URL's host and port, so the Application Map draws an edge"),
    ("genai-dependency", "a span with `gen_ai.system` / `gen_ai.provider.name` is a `GenAI | <system>` dependency whose target is the system, as in the official distro"),
    ("event-operation-name", "envelopes of span events carry their span's `ai.operation.name`"),
    ("exception-fields", "`exception.*` attributes are the exception's fields, not properties; `hasFullStack` is written with a stack"),
    ("log-exception-message", "an exception log's message is the text the user logged (the crate keeps only the exception's own message)"),
    ("error-type", "a failed span without an `error.type` attribute takes its exception event's type as the `error.type` property (Azure's Agents view groups errors by it; the crate and the distro drop it)"),
    ("genkit-redacted", "a Genkit span's `genkit:input` and `genkit:output` are `<redacted>` unless `log_input_and_output` is on (Genkit's other semantics are beyond the standard mapping this table compares)"),
];

/// The resource one run of the comparison uses.
struct Case {
    resource: Resource,
    has_instance_id: bool,
}

fn t(ms: u64) -> SystemTime {
    // 2026-11-24T21:04:55Z plus `ms`, with sub-millisecond digits.
    UNIX_EPOCH + Duration::from_nanos(1_795_554_295_000_000_000 + ms * 1_000_000 + 123_456)
}

fn span(kind: SpanKind, name: &str, attrs: Vec<KeyValue>) -> SpanData {
    let (start, duration) = (t(0), Duration::from_millis(1234));
    span_data(
        [0xab; 16],
        0x11,
        Some(0x22),
        kind,
        name,
        attrs,
        start,
        duration,
    )
}

fn corpus_spans() -> Vec<SpanData> {
    let mut spans = vec![
        // HTTP server, current conventions.
        span(
            SpanKind::Server,
            "GET /api/flows/{flow}",
            vec![
                kv("http.request.method", "GET"),
                kv("url.scheme", "https"),
                kv("url.path", "/api/flows/menu"),
                kv("url.query", "stream=false"),
                kv("server.address", "example.com"),
                kv("server.port", 443),
                kv("http.route", "/api/flows/{flow}"),
                kv("http.response.status_code", 200),
                kv("client.address", "10.1.2.3"),
                kv("user_agent.original", "curl/8.0"),
                kv("custom.tenant", "contoso"),
            ],
        ),
        // HTTP server, old conventions, no route.
        span(
            SpanKind::Server,
            "old server",
            vec![
                kv("http.method", "POST"),
                kv("http.scheme", "http"),
                kv("http.host", "h:8080"),
                kv("http.target", "x/y?z=1"),
                kv("http.status_code", "500"),
                kv("net.peer.ip", "10.0.0.9"),
            ],
        ),
        // HTTP client, current conventions.
        span(
            SpanKind::Client,
            "POST",
            vec![
                kv("http.request.method", "POST"),
                kv(
                    "url.full",
                    "https://api.example.com/v1/models:generate?alt=json",
                ),
                kv("server.address", "api.example.com"),
                kv("server.port", 443),
                kv("http.response.status_code", 200),
                kv("custom.attempt", 1),
            ],
        ),
        // HTTP client as httpx instruments it: old conventions, no server.address.
        span(
            SpanKind::Client,
            "GET",
            vec![
                kv("http.method", "GET"),
                kv("http.url", "http://127.0.0.1:8081/items/7?full=1"),
                kv("http.status_code", 404),
            ],
        ),
        // Databases.
        span(
            SpanKind::Client,
            "SELECT menu",
            vec![
                kv("db.system.name", "postgresql"),
                kv("db.query.text", "SELECT * FROM menu WHERE id = $1"),
                kv("db.namespace", "shop"),
                kv("server.address", "db.internal"),
                kv("server.port", 5432),
            ],
        ),
        span(
            SpanKind::Client,
            "old db",
            vec![
                kv("db.system", "mysql"),
                kv("db.statement", "UPDATE t SET a = 1"),
                kv("db.name", "legacy"),
                kv("net.peer.name", "mysql.local"),
                kv("net.peer.port", 3306),
            ],
        ),
        span(
            SpanKind::Client,
            "db without system",
            vec![
                kv("db.namespace", "only-namespace"),
                kv("db.operation.name", "FIND"),
            ],
        ),
        // Messaging and RPC.
        span(
            SpanKind::Producer,
            "orders publish",
            vec![
                kv("messaging.system", "kafka"),
                kv("messaging.destination.name", "orders"),
                kv("network.peer.address", "10.0.0.5"),
                kv("network.peer.port", 9092),
            ],
        ),
        span(
            SpanKind::Consumer,
            "orders process",
            vec![
                kv("messaging.system", "kafka"),
                kv("messaging.destination.name", "orders"),
            ],
        ),
        span(
            SpanKind::Client,
            "grpc.Menu/Get",
            vec![
                kv("rpc.system", "grpc"),
                kv("rpc.service", "grpc.Menu"),
                kv("server.address", "menu.svc"),
            ],
        ),
        // A Genkit step.
        span(
            SpanKind::Internal,
            "menuSuggestion",
            vec![
                kv("genkit:type", "action"),
                kv("genkit:metadata:subtype", "flow"),
                kv("genkit:name", "menuSuggestion"),
                kv("genkit:input", "{\"theme\":\"pirate\"}"),
                kv("genkit:output", "\"Arr\""),
                kv("genkit:state", "success"),
            ],
        ),
        // A model call the GenAI way.
        span(
            SpanKind::Client,
            "chat gemini",
            vec![
                kv("gen_ai.system", "gcp.gemini"),
                kv("gen_ai.request.model", "gemini-2.0-flash"),
                kv("gen_ai.usage.input_tokens", 12),
                kv("server.address", "generativelanguage.googleapis.com"),
            ],
        ),
        // Users, sessions and ai.* tags as attributes.
        span(
            SpanKind::Server,
            "tagged",
            vec![
                kv("user.id", "u-1"),
                kv("ai.session.id", "s-1"),
                kv("ai.operation.syntheticSource", "probe"),
                kv("ai.not.a.tag", "stays a property"),
                kv("_MS.internal", "filtered"),
            ],
        ),
        span(SpanKind::Client, "enduser", vec![kv("enduser.id", "e-1")]),
        // Values of every type, arrays with quotes, duplicates (last wins).
        span(
            SpanKind::Internal,
            "values",
            vec![
                kv("b", true),
                kv("i", -42),
                kv("f", 1.25),
                kv("f2", 1e21),
                kv("dup", "first"),
                kv("dup", "last"),
                KeyValue::new(
                    "as",
                    Value::Array(Array::String(vec!["a".into(), "q\"uote".into()])),
                ),
                KeyValue::new("ai", Value::Array(Array::I64(vec![1, -2]))),
                KeyValue::new("af", Value::Array(Array::F64(vec![0.5, 2.0]))),
                KeyValue::new("ab", Value::Array(Array::Bool(vec![true, false]))),
                kv("empty", ""),
                kv("control", "tab\tnl\ncr\r\u{1}"),
            ],
        ),
        // Odd UTF-8 near every limit, empty and huge values.
        span(
            SpanKind::Internal,
            &format!("{}é", "a".repeat(1023)),
            vec![
                KeyValue::new(format!("{}é", "k".repeat(149)), "v"),
                kv("near", format!("{}é", "a".repeat(8191))),
                kv("cjk", "漢字".repeat(3000)),
                kv("emoji", "😀".repeat(2049)),
                kv("huge", "x".repeat(100_000)),
            ],
        ),
        span(SpanKind::Internal, "", vec![]),
    ];
    // Errors: with an exception event, and without one.
    let mut failed = span(
        SpanKind::Internal,
        "failingTool",
        vec![kv("genkit:name", "failingTool")],
    );
    failed.status = Status::error("tool exploded");
    failed.events.events.push(Event::new(
        "exception",
        t(5),
        vec![
            kv("exception.type", "ValueError"),
            kv("exception.message", "tool exploded: bad input"),
            kv(
                "exception.stacktrace",
                "Traceback (most recent call last):\n  ...\nValueError",
            ),
            kv("exception.escaped", "False"),
            kv("tool.id", "t-42"),
        ],
        0,
    ));
    failed
        .events
        .events
        .push(Event::new("exception", t(6), vec![], 0));
    spans.push(failed);
    let mut error_only = span(SpanKind::Client, "error without event", vec![]);
    error_only.status = Status::error("no details");
    spans.push(error_only);
    let mut ok = span(SpanKind::Server, "ok", vec![]);
    ok.status = Status::Ok;
    ok.parent_span_is_remote = true;
    spans.push(ok);
    // Events and links.
    let mut evented = span(
        SpanKind::Server,
        "GET /evented",
        vec![
            kv("http.request.method", "GET"),
            kv("http.route", "/evented"),
        ],
    );
    evented.events.events.extend([
        Event::new(
            "cache miss",
            t(2),
            vec![kv("level", "WARN"), kv("key", "k1")],
            0,
        ),
        Event::new("plain", t(3), vec![kv("level", "LOUD")], 0),
        Event::new("", t(3), vec![], 0),
        Event::new(
            "ai.custom",
            t(4),
            vec![kv("ai.customEvent.name", "order placed"), kv("amount", 3)],
            0,
        ),
        Event::new("ai.custom", t(4), vec![], 0),
    ]);
    let link = |n: u8| {
        Link::new(
            SpanContext::new(
                TraceId::from_bytes([n; 16]),
                SpanId::from_bytes([n; 8]),
                TraceFlags::SAMPLED,
                true,
                TraceState::NONE,
            ),
            vec![kv("link.attr", "ignored")],
            0,
        )
    };
    evented.links.links.extend([link(1), link(2)]);
    spans.push(evented);
    // A root span.
    let mut root = span(SpanKind::Internal, "root", vec![]);
    root.parent_span_id = SpanId::INVALID;
    spans.push(root);
    spans
}

fn log(severity: Severity, body: &str, attrs: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        time: t(7),
        severity,
        body: body.to_string(),
        attributes: attrs,
        trace_context: Some((
            TraceId::from_bytes([0xab; 16]),
            SpanId::from_bytes([0x11; 8]),
        )),
        logger_name: Some("anchor".into()),
        operation_name: None,
        sample_rate: None,
    }
}

fn corpus_logs() -> Vec<LogRecord> {
    let mut outside = log(Severity::Warn, "no active span here", vec![kv("k", "v")]);
    outside.trace_context = None;
    outside.logger_name = None;
    vec![
        log(
            Severity::Info,
            "flow started menuSuggestion",
            vec![
                kv("flow_name", "menuSuggestion"),
                kv("attempt", 1),
                kv("ratio", 0.5),
            ],
        ),
        outside,
        log(
            Severity::Error,
            "division failed",
            vec![
                kv("exception.type", "ZeroDivisionError"),
                kv("exception.message", "division by zero"),
                kv(
                    "exception.stacktrace",
                    "Traceback ...\nZeroDivisionError: division by zero\n",
                ),
                kv("flow_name", "menuSuggestion"),
            ],
        ),
        log(
            Severity::Error,
            "",
            vec![
                kv("exception.type", "E"),
                kv("exception.message", "only the exception's"),
            ],
        ),
        log(
            Severity::Fatal4,
            "tags",
            vec![kv("ai.user.id", "u-9"), kv("ai.session.id", "s")],
        ),
        log(Severity::Trace, &format!("{}é", "m".repeat(32767)), vec![]),
        log(
            Severity::Debug2,
            "漢字".repeat(20_000).as_str(),
            vec![kv("dup", 1), kv("dup", 2)],
        ),
    ]
}

fn base_mut(e: &mut Json) -> &mut Map<String, Json> {
    e["data"]["baseData"].as_object_mut().expect("baseData")
}

fn props_mut(e: &mut Json) -> Option<&mut Map<String, Json>> {
    e["data"]["baseData"]
        .get_mut("properties")
        .and_then(Json::as_object_mut)
}

fn tags_mut(e: &mut Json) -> &mut Map<String, Json> {
    e["tags"].as_object_mut().expect("tags")
}

/// Removes what `INTENDED` explains from both sides of one pair of envelopes,
/// recording which differences were seen. `source` says what the pair came
/// from: the span (its attributes and kind) or a log record.
fn normalise(
    ours: &mut Json,
    theirs: &mut Json,
    source: Source<'_>,
    case: &Case,
    seen: &mut BTreeSet<&'static str>,
) {
    let mut saw = |id: &'static str, differs: bool| {
        if differs {
            seen.insert(id);
        }
    };
    // time-micros
    let cut = |v: &Json| v.as_str().map(|s| format!("{}Z", &s[..23]));
    let (a, b) = (cut(&ours["time"]), cut(&theirs["time"]));
    saw("time-micros", ours["time"] != theirs["time"]);
    ours["time"] = a.into();
    theirs["time"] = b.into();
    // sdk-version-tag and role-instance-host
    saw(
        "sdk-version-tag",
        tags_mut(ours).remove("ai.internal.sdkVersion").is_some()
            && !theirs["tags"]
                .as_object()
                .unwrap()
                .contains_key("ai.internal.sdkVersion"),
    );
    saw(
        "node-name-tag",
        tags_mut(ours).remove("ai.internal.nodeName").is_some()
            && theirs["tags"].get("ai.internal.nodeName").is_none(),
    );
    if !case.has_instance_id {
        let ours_instance = tags_mut(ours).remove("ai.cloud.roleInstance");
        saw(
            "role-instance-host",
            ours_instance.is_some() && theirs["tags"].get("ai.cloud.roleInstance").is_none(),
        );
    }
    // resource-not-in-properties
    if let Some(p) = props_mut(theirs) {
        let mut removed = false;
        for (k, _) in case.resource.iter() {
            removed |= p.remove(k.as_str()).is_some();
        }
        saw("resource-not-in-properties", removed);
    }
    let kind = theirs["name"].as_str().unwrap_or_default().to_string();
    match source {
        Source::Span(span) => {
            let item = match kind.as_str() {
                "Microsoft.ApplicationInsights.Request" => Some(Item::Request),
                "Microsoft.ApplicationInsights.RemoteDependency" => Some(Item::Dependency),
                _ => None,
            };
            if let Some(item) = item {
                normalise_span(ours, theirs, span, item, &mut saw);
            } else {
                normalise_event(ours, theirs, &kind, &mut saw);
            }
        }
        Source::Log(record) => {
            if kind == "Microsoft.ApplicationInsights.Exception" {
                exception_fields(ours, theirs, &mut saw);
                let ours_message = ours["data"]["baseData"]["exceptions"][0]["message"].clone();
                let theirs_message = &mut theirs["data"]["baseData"]["exceptions"][0]["message"];
                if *theirs_message != ours_message && !record.body.is_empty() {
                    saw("log-exception-message", true);
                    *theirs_message = record.body.as_str().into();
                }
            }
            // A log's `ai.*` tag attributes are tags, not properties.
            if let Some(p) = props_mut(theirs) {
                let before = p.len();
                p.retain(|k, _| super::tags::tag(k).is_none());
                saw("mapped-not-in-properties", p.len() != before);
            }
        }
    }
    drop_empty_properties(ours);
    drop_empty_properties(theirs);
}

enum Source<'a> {
    Span(&'a SpanData),
    Log(&'a LogRecord),
}

fn normalise_span(
    ours: &mut Json,
    theirs: &mut Json,
    span: &SpanData,
    item: Item,
    saw: &mut impl FnMut(&'static str, bool),
) {
    let attr = |k: &str| {
        span.attributes
            .iter()
            .rev()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.as_str().into_owned())
    };
    if let Some(p) = props_mut(theirs) {
        let before = p.len();
        p.retain(|k, _| !item_maps(item, k) && super::tags::tag(k).is_none());
        saw("mapped-not-in-properties", p.len() != before);
    }
    for key in ["genkit:input", "genkit:output"] {
        let redacted = props_mut(ours)
            .and_then(|p| p.get(key))
            .is_some_and(|v| v == "<redacted>");
        if redacted {
            if let (Some(p), Some(v)) = (props_mut(ours), attr(key)) {
                p.insert(key.to_string(), Json::String(v));
            }
        }
        saw("genkit-redacted", redacted);
    }
    if attr("error.type").is_none() {
        let added = props_mut(ours).and_then(|p| p.remove("error.type"));
        saw("error-type", added.is_some());
    }
    if item == Item::Request {
        for tag in ["ai.location.ip", "ai.user.userAgent"] {
            if theirs["tags"].get(tag).is_none() {
                saw("request-client-tags", tags_mut(ours).remove(tag).is_some());
            }
        }
    }
    if item == Item::Dependency {
        let base = base_mut(theirs);
        if !base.contains_key("success") {
            saw("dependency-success", true);
            base.insert("success".into(), true.into());
        }
        let gen_ai = attr("gen_ai.provider.name").or_else(|| attr("gen_ai.system"));
        if let Some(system) = gen_ai {
            saw("genai-dependency", true);
            base.insert("type".into(), format!("GenAI | {system}").into());
            base.insert("target".into(), system.into());
        }
        let method = attr("http.request.method").or_else(|| attr("http.method"));
        if let (Some(m), SpanKind::Client) = (method, &span.span_kind) {
            let ours_name = ours["data"]["baseData"]["name"].clone();
            let base = base_mut(theirs);
            if ours_name
                .as_str()
                .is_some_and(|n| n.starts_with(&format!("{m} /")))
                && base["name"] != ours_name
            {
                saw("http-dependency-name", true);
                base.insert("name".into(), ours_name);
            }
        }
        let ours_target = ours["data"]["baseData"].get("target").cloned();
        let base = base_mut(theirs);
        if !base.contains_key("target") && base.contains_key("data") {
            if let Some(target) = ours_target {
                saw("target-from-url", true);
                base.insert("target".into(), target);
            }
        }
    }
}

fn normalise_event(
    ours: &mut Json,
    theirs: &mut Json,
    kind: &str,
    saw: &mut impl FnMut(&'static str, bool),
) {
    if ours["tags"].get("ai.operation.name").is_some()
        && theirs["tags"].get("ai.operation.name").is_none()
    {
        saw("event-operation-name", true);
        tags_mut(ours).remove("ai.operation.name");
    }
    if kind == "Microsoft.ApplicationInsights.Exception" {
        exception_fields(ours, theirs, saw);
    }
}

fn exception_fields(ours: &mut Json, theirs: &mut Json, saw: &mut impl FnMut(&'static str, bool)) {
    if let Some(p) = props_mut(theirs) {
        let before = p.len();
        p.retain(|k, _| !k.starts_with("exception."));
        saw("exception-fields", p.len() != before);
    }
    if let Some(e) = ours["data"]["baseData"]["exceptions"][0].as_object_mut() {
        if e.remove("hasFullStack").is_some() {
            saw("exception-fields", true);
        }
    }
}

fn drop_empty_properties(e: &mut Json) {
    if props_mut(e).is_some_and(|p| p.is_empty()) {
        base_mut(e).remove("properties");
    }
}

fn resource(with_instance_id: bool) -> Resource {
    let mut attrs = vec![
        kv("service.name", "menu-app"),
        kv("service.namespace", "shop"),
        kv("service.version", "1.2.3"),
        kv("deployment.environment", "prod"),
    ];
    if with_instance_id {
        attrs.push(kv("service.instance.id", "instance-1"));
    }
    Resource::builder_empty().with_attributes(attrs).build()
}

/// Compares two envelopes member by member, naming the first difference.
fn assert_same(ours: &Json, theirs: &Json, what: &str) {
    if ours == theirs {
        return;
    }
    let mut paths = Vec::new();
    diff(ours, theirs, String::new(), &mut paths);
    panic!("{what}: unexplained difference at {paths:?}\nours:   {ours}\ncrate:  {theirs}");
}

fn diff(a: &Json, b: &Json, path: String, out: &mut Vec<String>) {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            for k in x.keys().chain(y.keys()).collect::<BTreeSet<_>>() {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => diff(p, q, format!("{path}.{k}"), out),
                    _ => out.push(format!("{path}.{k}")),
                }
            }
        }
        (Json::Array(x), Json::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff(p, q, format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(path),
        _ => {}
    }
}

#[tokio::test]
async fn the_writer_matches_the_crate_except_where_the_table_says() {
    let spans = corpus_spans();
    let logs = corpus_logs();
    let packed: Vec<PackedSpan> = spans
        .iter()
        .map(|s| PackedSpan::from_span_data(s).expect("a valid span"))
        .collect();
    let mut seen = BTreeSet::new();
    for has_instance_id in [true, false] {
        let case = Case {
            resource: resource(has_instance_id),
            has_instance_id,
        };
        let reference = Reference::new(KEY, &case.resource, CaptureClient::new(Arc::new(|_| {})));
        // The default level: the corpus's odd and huge values go through the
        // encoder every body goes through.
        let writer =
            EnvelopeWriter::new(KEY, ResourceTags::new(&case.resource), DEFAULT_GZIP_LEVEL);

        let mut ours = decode(&writer.spans(&packed, false).expect("written").gzip);
        let mut theirs = decode(&reference.spans(&packed).await);
        assert_eq!(
            ours.len(),
            theirs.len(),
            "one envelope per span and per event"
        );
        let sources = spans
            .iter()
            .flat_map(|s| std::iter::repeat_n(s, 1 + s.events.len()));
        for ((o, t), span) in ours.iter_mut().zip(theirs.iter_mut()).zip(sources) {
            normalise(o, t, Source::Span(span), &case, &mut seen);
            assert_same(o, t, &format!("span {:?}", span.name));
        }

        let mut ours = decode(&writer.logs(&logs, false).expect("written").gzip);
        let mut theirs = decode(&reference.logs(&logs).await);
        assert_eq!(ours.len(), theirs.len(), "one envelope per log record");
        for ((o, t), record) in ours.iter_mut().zip(theirs.iter_mut()).zip(&logs) {
            normalise(o, t, Source::Log(record), &case, &mut seen);
            assert_same(
                o,
                t,
                &format!("log {:?}", crate::text::truncated(&record.body, 40)),
            );
        }
    }
    let listed: BTreeSet<_> = INTENDED.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        seen, listed,
        "every intended difference is shown by the corpus, and only those"
    );
}

#[test]
fn the_readme_lists_every_intended_difference() {
    let readme = include_str!("../../../README.md");
    for (id, _) in INTENDED {
        assert!(
            readme.contains(&format!("`{id}`")),
            "README.md does not list the intended difference `{id}`"
        );
    }
}

/// A key a span repeats is one property, with its last value: the decoded
/// comparison above would not see a key written twice (JSON keeps the
/// last), so this reads the text.
#[test]
fn a_repeated_key_is_written_once_with_its_last_value() {
    use crate::ingest::SpanPacker;
    let mut p = SpanPacker::new([1; 16], [2; 8], None, false, SpanKind::Client, 1, 2);
    p.name("n");
    p.attribute_str("dup", "first");
    p.attribute_str("other", "x");
    p.attribute_str("dup", "last");
    // Too long to be interned: packed inline, compared by text.
    let long = "k".repeat(300);
    p.attribute_str(&long, "a");
    p.attribute_str(&long, "b");
    let writer = EnvelopeWriter::new(KEY, ResourceTags::new(&resource(true)), 1);
    let mut json = String::new();
    let gzip = writer.spans(&[p.finish().unwrap()], false).unwrap().gzip;
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut json).unwrap();
    assert_eq!(json.matches("\"dup\":").count(), 1, "{json}");
    assert!(json.contains("\"dup\":\"last\""), "{json}");
    assert!(json.contains("\"other\":\"x\""), "{json}");
    assert_eq!(json.matches("kkkk\":").count(), 1, "{json}");
    assert!(json.contains("kkkk\":\"b\""), "{json}");
}
