//! Fuzz target: the worker's Genkit step. Traces of Genkit spans of every
//! role (flows, model and tool calls, agents, evaluators, spans Genkit did not
//! make inside them), ending in any order, with any parents, paths, states
//! and model replies (tool requests by the thousand, tokens of any size,
//! replies that are not JSON), go through the enrichment and the agent
//! tracker as the worker runs them, then through the envelope writer.
//! Nothing may panic or hang; every span comes out exactly once (now or at
//! the flush); every derived metric is a finite number; the bodies are gzip
//! of JSON arrays of envelopes within the service's limits.
#![no_main]

#[allow(dead_code)] // the keys are the attributes target's
mod common;

use arbitrary::Arbitrary;
use genkit_azure::bench_support::{GenkitStep, SpanEncoder};
use genkit_azure::opentelemetry::trace::SpanKind;
use genkit_azure::opentelemetry_sdk::Resource;
use genkit_azure::{LogRecord, SpanPacker};
use libfuzzer_sys::fuzz_target;

const IKEY: &str = "00000000-0000-4000-8000-000000000000";

/// At most this many spans from one input.
const MAX: usize = 48;

/// Names of flows, agents, models and tools; a few with characters a path
/// escapes.
const NAMES: &[&str] = &[
    "weather_flow",
    "triage",
    "billing",
    "support flow",
    "googleai/gemini-2.5-flash",
    "fake/m",
    "get_weather",
    "lookup",
    "generate",
    "runTurn-1",
    "myeval/relevance",
    "Test Case tc1",
    "a,b}{%",
    "",
];

/// `(genkit:type, genkit:metadata:subtype)` of each role a span may have.
const ROLES: &[(&str, Option<&str>)] = &[
    ("action", Some("flow")),
    ("action", Some("model")),
    ("action", Some("tool")),
    ("action", Some("tool.v2")),
    ("action", Some("agent")),
    ("action", Some("evaluator")),
    ("util", None),
    ("flowStep", None),
    ("evaluator", None),
    ("action", Some("prompt")),
];

#[derive(Arbitrary, Debug)]
enum Json {
    None,
    Text(String),
    /// A model's reply: its tool requests (name, ref), tokens, finish reason.
    Reply {
        requests: Vec<(u8, u8)>,
        many: u16,
        input_tokens: Option<f64>,
        output_tokens: Option<u32>,
        finish: u8,
        in_candidates: bool,
    },
    /// A model's request, with its config.
    Request {
        max_output_tokens: Option<i64>,
        stop: Vec<String>,
    },
    /// An evaluator's data point, naming traces.
    DataPoint {
        traces: Vec<u8>,
    },
}

impl Json {
    fn text(&self) -> Option<String> {
        Some(match self {
            Json::None => return None,
            Json::Text(s) => s.clone(),
            Json::Reply {
                requests,
                many,
                input_tokens,
                output_tokens,
                finish,
                in_candidates,
            } => {
                let mut parts: Vec<String> = requests
                    .iter()
                    .take(MAX)
                    .map(|(n, r)| {
                        format!(
                            r#"{{"toolRequest":{{"name":{},"ref":"call-{r}","input":{{}}}}}}"#,
                            serde_json::to_string(NAMES[*n as usize % NAMES.len()]).unwrap()
                        )
                    })
                    .collect();
                // A reply asking for very many tools, once in a while.
                parts.extend(
                    (0..*many % 512)
                        .map(|i| format!(r#"{{"toolRequest":{{"name":"t{i}","ref":"r{i}"}}}}"#)),
                );
                let message = format!(r#"{{"role":"model","content":[{}]}}"#, parts.join(","));
                let reason =
                    ["stop", "length", "blocked", "failed", "OTHER", ""][*finish as usize % 6];
                let usage = format!(
                    r#"{{"inputTokens":{},"outputTokens":{}}}"#,
                    input_tokens
                        .filter(|t| t.is_finite())
                        .map_or("null".to_string(), |t| t.to_string()),
                    output_tokens.map_or("null".to_string(), |t| t.to_string())
                );
                if *in_candidates {
                    format!(
                        r#"{{"candidates":[{{"message":{message},"finishReason":"{reason}"}}],"usage":{usage}}}"#
                    )
                } else {
                    format!(
                        r#"{{"message":{message},"finishReason":"{reason}","usage":{usage},"latencyMs":1.5}}"#
                    )
                }
            }
            Json::Request {
                max_output_tokens,
                stop,
            } => format!(
                r#"{{"messages":[{{"role":"user","content":[{{"text":"hi"}}]}}],"config":{{"maxOutputTokens":{},"stopSequences":{}}}}}"#,
                max_output_tokens.map_or("null".to_string(), |t| t.to_string()),
                serde_json::to_string(&stop.iter().take(8).collect::<Vec<_>>()).unwrap()
            ),
            Json::DataPoint { traces } => format!(
                r#"{{"traceIds":{}}}"#,
                serde_json::to_string(
                    &traces
                        .iter()
                        .take(8)
                        .map(|t| trace_id(*t).map(|b| format!("{b:02x}")).concat())
                        .collect::<Vec<_>>()
                )
                .unwrap()
            ),
        })
    }
}

#[derive(Arbitrary, Debug)]
struct Span {
    trace: u8,
    id: u8,
    parent: Option<u8>,
    remote_parent: bool,
    /// Not Genkit's (an HTTP call): no `genkit:*` attributes.
    foreign: bool,
    role: u8,
    name: u8,
    /// The path's segments above the span: (name, role).
    above: Vec<(u8, u8)>,
    failed: bool,
    is_root: Option<bool>,
    session: Option<u8>,
    input: Json,
    output: Json,
    duration_us: u32,
}

#[derive(Arbitrary, Debug)]
struct Input {
    agent_flows: Vec<u8>,
    reparenting: bool,
    log_input_and_output: bool,
    spans: Vec<Span>,
}

/// One of four traces (never all zeros).
fn trace_id(t: u8) -> [u8; 16] {
    [t % 4 + 1; 16]
}

fn segment(name: u8, role: u8) -> String {
    let name = NAMES[name as usize % NAMES.len()].replace('/', "%2F");
    match ROLES[role as usize % ROLES.len()] {
        (t, Some(s)) => format!("{{{name},t:{t},s:{s}}}"),
        (t, None) => format!("{{{name},t:{t}}}"),
    }
}

fn pack(s: &Span, at: u64) -> genkit_azure::PackedSpan {
    let trace = trace_id(s.trace);
    let id = |b: u8| [b, 1, 2, 3, 4, 5, 6, 7];
    let end = at + u64::from(s.duration_us) * 1_000;
    let mut p = SpanPacker::new(
        trace,
        id(s.id),
        s.parent.map(id),
        s.remote_parent,
        if s.foreign {
            SpanKind::Client
        } else {
            SpanKind::Internal
        },
        at,
        end,
    );
    let name = NAMES[s.name as usize % NAMES.len()];
    p.name(name);
    if s.failed {
        p.status_error("it failed");
    }
    if s.foreign {
        p.attribute_str("http.request.method", "GET");
        p.attribute_str("url.full", "https://example.com/weather");
        return p.finish().expect("a span packs");
    }
    let (kind, subtype) = ROLES[s.role as usize % ROLES.len()];
    let path: String = s
        .above
        .iter()
        .take(8)
        .map(|(n, r)| format!("/{}", segment(*n, *r)))
        .chain([format!("/{}", segment(s.name, s.role))])
        .collect();
    p.attribute_str("genkit:name", name);
    p.attribute_str("genkit:type", kind);
    if let Some(subtype) = subtype {
        p.attribute_str("genkit:metadata:subtype", subtype);
    }
    p.attribute_str("genkit:path", &path);
    p.attribute_str("genkit:state", if s.failed { "error" } else { "success" });
    if let Some(root) = s.is_root {
        p.attribute_bool("genkit:isRoot", root);
    }
    if let Some(session) = s.session {
        p.attribute_str("genkit:sessionId", &format!("session-{session}"));
    }
    if let Some(input) = s.input.text() {
        p.attribute_str("genkit:input", &input);
    }
    if let Some(output) = s.output.text() {
        p.attribute_str("genkit:output", &output);
    }
    p.finish().expect("a span packs")
}

fuzz_target!(|input: Input| {
    let flows: Vec<String> = input
        .agent_flows
        .iter()
        .take(4)
        .map(|n| NAMES[*n as usize % NAMES.len()].to_string())
        .collect();
    let mut step = GenkitStep::new(&flows, input.reparenting, input.log_input_and_output);
    let (mut out, mut logs) = (Vec::new(), Vec::<LogRecord>::new());
    let spans = &input.spans[..input.spans.len().min(MAX)];
    for (i, s) in spans.iter().enumerate() {
        let at = 1_700_000_000_000_000_000 + i as u64 * 1_000_000;
        let went_on = step.end(
            pack(s, at),
            &mut |name, value| assert!(value.is_finite(), "{name} = {value}"),
            &mut |log| logs.push(log),
        );
        out.extend(went_on);
    }
    out.extend(step.flush());
    assert_eq!(out.len(), spans.len(), "every span comes out exactly once");
    let encoder = SpanEncoder::new(IKEY, &Resource::builder_empty().build(), 3)
        .log_input_and_output(input.log_input_and_output);
    if !out.is_empty() {
        let body = encoder.encode(&out).expect("spans are written");
        common::check_body(&body, IKEY, out.len());
    }
    if !logs.is_empty() {
        let body = encoder.encode_logs(&logs, false).expect("logs are written");
        common::check_body(&body, IKEY, logs.len());
    }
});
