//! Genkit's derived metrics and logs end to end: spans shaped exactly as
//! Python Genkit 0.12 emits them go through `AzureTelemetry`, the worker
//! derives metric points and log records from them, and the emulator shows
//! what Application Insights would get.

mod common;

use common::*;
use genkit_azure::opentelemetry::trace::SpanKind;
use genkit_azure::{AzureTelemetry, PackedSpan, SpanPacker};
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const FLOW: &str = "/{weather_flow,t:action,s:flow}";
const GENERATE: &str = "/{weather_flow,t:action,s:flow}/{generate,t:util}";
const MODEL: &str =
    "/{weather_flow,t:action,s:flow}/{generate,t:util}/{fake%2Fweather-model,t:action,s:model}";
const TOOL: &str =
    "/{weather_flow,t:action,s:flow}/{generate,t:util}/{get_weather,t:action,s:tool.v2}";
const REQUEST: &str = r#"{"messages":[{"role":"user","content":[{"text":"Weather in Paris?"}]}],"config":{"maxOutputTokens":64},"tools":[],"output":{}}"#;
const RESPONSE: &str = r#"{"message":{"role":"model","content":[{"text":"hi"}]},"finishReason":"stop","latencyMs":0.5,"usage":{"inputTokens":12.0,"outputTokens":4.0}}"#;

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// One span as Python Genkit's tracer makes it: INTERNAL, scope
/// `genkit-tracer`, the operation name its face learnt at the start.
struct Span {
    trace: [u8; 16],
    id: u8,
    parent: Option<u8>,
    name: &'static str,
    attrs: Vec<(&'static str, String)>,
    error: Option<(&'static str, &'static str)>,
}

impl Span {
    fn new(trace: [u8; 16], id: u8, parent: Option<u8>, name: &'static str) -> Self {
        Span {
            trace,
            id,
            parent,
            name,
            attrs: vec![("genkit:name", name.to_string())],
            error: None,
        }
    }

    fn attr(mut self, key: &'static str, value: &str) -> Self {
        self.attrs.push((key, value.to_string()));
        self
    }

    /// Fails as Genkit records a raised exception: state, message, status
    /// and an `exception` event.
    fn failing(mut self, type_name: &'static str, message: &'static str) -> Self {
        self.error = Some((type_name, message));
        self.attr("genkit:state", "error")
            .attr("genkit:error", message)
    }

    fn pack(&self) -> PackedSpan {
        let end = now_nanos();
        let mut p = SpanPacker::new(
            self.trace,
            [self.id; 8],
            self.parent.map(|p| [p; 8]),
            false,
            SpanKind::Internal,
            end - 3_000_000,
            end,
        );
        p.name(self.name);
        p.scope("genkit-tracer", Some("v1"));
        p.operation_name("weather_flow");
        for (k, v) in &self.attrs {
            p.attribute_str(k, v);
        }
        if let Some((type_name, message)) = self.error {
            p.status_error(message);
            p.event("exception", end - 1_000, 3);
            p.attribute_str("exception.type", type_name);
            p.attribute_str("exception.message", message);
            p.attribute_str(
                "exception.stacktrace",
                "Traceback (most recent call last):\n  File \"app.py\", line 9",
            );
        }
        p.finish().unwrap()
    }
}

fn flow(trace: [u8; 16]) -> Span {
    Span::new(trace, 1, None, "weather_flow")
        .attr("genkit:type", "action")
        .attr("genkit:metadata:subtype", "flow")
        .attr("genkit:metadata:flow:name", "weather_flow")
        .attr("genkit:path", FLOW)
        .attr("genkit:input", "\"Paris\"")
}

fn generate(trace: [u8; 16]) -> Span {
    Span::new(trace, 2, Some(1), "generate")
        .attr("genkit:type", "util")
        .attr("genkit:path", GENERATE)
}

fn model(trace: [u8; 16]) -> Span {
    Span::new(trace, 3, Some(2), "fake/weather-model")
        .attr("genkit:type", "action")
        .attr("genkit:metadata:subtype", "model")
        .attr("genkit:path", MODEL)
        .attr("genkit:input", REQUEST)
        .attr("genkit:output", RESPONSE)
        .attr("genkit:state", "success")
}

fn tool(trace: [u8; 16]) -> Span {
    Span::new(trace, 4, Some(2), "get_weather")
        .attr("genkit:type", "action")
        .attr("genkit:metadata:subtype", "tool.v2")
        .attr("genkit:path", TOOL)
        .attr("genkit:input", "\"Paris\"")
}

/// A successful flow: the model asks for the tool, the tool answers.
fn push_flow(t: &AzureTelemetry, trace: [u8; 16]) {
    // Children end before their parents.
    for span in [
        model(trace),
        tool(trace)
            .attr("genkit:output", "\"sunny\"")
            .attr("genkit:state", "success"),
        generate(trace).attr("genkit:state", "success"),
        flow(trace)
            .attr("genkit:output", "\"sunny\"")
            .attr("genkit:state", "success"),
    ] {
        t.push_packed(span.pack()).unwrap();
    }
}

fn trace(i: usize) -> [u8; 16] {
    let mut t = [0xab; 16];
    t[0] = i as u8 + 1;
    t
}

fn metrics(envs: &[Value]) -> Vec<&Value> {
    of_kind(envs, "Metric")
        .into_iter()
        .filter(|e| !is_resource_metric(e))
        .map(|e| &e["data"]["baseData"])
        .collect()
}

/// The sum of a metric's values over every series and collection whose
/// properties include `labels`.
fn sum(envs: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics(envs)
        .into_iter()
        .filter(|d| d["metrics"][0]["name"] == name)
        .filter(|d| labels.iter().all(|(k, v)| d["properties"][*k] == *v))
        .map(|d| d["metrics"][0]["value"].as_f64().unwrap())
        .sum()
}

fn messages<'a>(envs: &'a [Value], prefix: &str) -> Vec<&'a Value> {
    of_kind(envs, "Message")
        .into_iter()
        .filter(|m| {
            m["data"]["baseData"]["message"]
                .as_str()
                .is_some_and(|s| s.starts_with(prefix))
        })
        .collect()
}

/// Accepted and derived items all have their fate once a flush returned.
fn assert_accounted(t: &AzureTelemetry) {
    let s = t.stats();
    let accepted = s.spans_accepted + s.logs_accepted + s.metrics_accepted + s.custom_accepted;
    assert_eq!(s.items_pending, 0, "{s:#?}");
    assert_eq!(
        accepted + s.metrics_derived + s.logs_derived,
        finished(&s) + s.items_pending,
        "{s:#?}"
    );
}

#[test]
fn token_metrics_sum_to_the_usage_of_every_model_call() {
    const N: usize = 7;
    let emu = emulator();
    let t = builder(&emu).build().unwrap();
    for i in 0..N {
        push_flow(&t, trace(i));
        if i == 3 {
            // Two collections: the sums still add up.
            assert!(t.flush(Duration::from_secs(10)).unwrap());
        }
    }
    assert!(t.flush(Duration::from_secs(10)).unwrap());
    let envs = items(&emu);
    let n = N as f64;
    let model_labels = [
        ("modelName", "fake/weather-model"),
        ("featureName", "weather_flow"),
        ("path", MODEL),
        ("status", "success"),
        ("source", "genkit"),
    ];
    assert_eq!(
        sum(&envs, "genkit/ai/generate/input/tokens", &model_labels),
        12.0 * n
    );
    assert_eq!(
        sum(&envs, "genkit/ai/generate/output/tokens", &model_labels),
        4.0 * n
    );
    assert_eq!(sum(&envs, "genkit/ai/generate/requests", &model_labels), n);
    assert_eq!(
        sum(&envs, "genkit/ai/generate/latency", &model_labels),
        0.5 * n,
        "latencyMs, summed by the histogram"
    );
    assert_eq!(
        sum(
            &envs,
            "genkit/feature/requests",
            &[("featureName", "weather_flow"), ("status", "success")]
        ),
        n
    );
    assert_eq!(sum(&envs, "genkit/feature/path/requests", &[]), 0.0);
    assert_eq!(sum(&envs, "genkit/ai/generate/thinking/tokens", &[]), 0.0);
    let latency = metrics(&envs)
        .into_iter()
        .find(|d| d["metrics"][0]["name"] == "genkit/feature/latency")
        .expect("feature latency");
    assert!(latency["metrics"][0]["count"].as_u64().unwrap() >= 1);

    // One Config[...] per model call, in the model span's operation.
    let configs = messages(&envs, "Config[");
    assert_eq!(configs.len(), N, "{configs:#?}");
    let c = configs[0];
    assert_eq!(
        c["data"]["baseData"]["message"],
        "Config[weather_flow > generate > fake/weather-model, fake/weather-model]"
    );
    assert_eq!(tag(c, "ai.operation.name"), Some("weather_flow"));
    let trace_ids: Vec<String> = (0..N)
        .map(|i| {
            trace(i)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        })
        .collect();
    assert!(trace_ids
        .iter()
        .any(|id| tag(c, "ai.operation.id") == Some(id)));
    assert_eq!(tag(c, "ai.operation.parentId"), Some("0303030303030303"));
    assert_eq!(prop(c, "maxOutputTokens"), Some("64"));
    assert_eq!(prop(c, "featureName"), Some("weather_flow"));
    // Prompts stay out of the logs by default.
    assert!(messages(&envs, "Input[").is_empty());
    assert!(messages(&envs, "Output[").is_empty());

    let s = t.stats();
    assert_eq!(s.spans_accepted, 4 * N as u64);
    assert_eq!(s.logs_derived, N as u64);
    // Per model call: requests, latency, input and output tokens; per flow:
    // feature requests and latency.
    assert_eq!(s.metrics_derived, 6 * N as u64);
    assert_accounted(&t);
    assert!(t.shutdown(Duration::from_secs(5)).unwrap());
}

#[test]
fn a_failing_tool_is_the_failure_source_not_its_flow() {
    let emu = emulator();
    let t = builder(&emu).build().unwrap();
    let tr = trace(40);
    let message = "no weather for Atlantis";
    for span in [
        model(tr),
        tool(tr).failing("ToolError", message),
        generate(tr).failing("GenkitError", message),
        flow(tr).failing("GenkitError", message),
    ] {
        t.push_packed(span.pack()).unwrap();
    }
    assert!(t.flush(Duration::from_secs(10)).unwrap());
    let envs = items(&emu);

    let failed = [
        ("featureName", "weather_flow"),
        ("status", "failure"),
        ("path", TOOL),
        ("error", "ToolError"),
    ];
    assert_eq!(sum(&envs, "genkit/feature/path/requests", &failed), 1.0);
    assert_eq!(
        sum(&envs, "genkit/feature/path/requests", &[]),
        1.0,
        "only the tool: the generate step and the flow failed because of it"
    );
    let latency = metrics(&envs)
        .into_iter()
        .find(|d| d["metrics"][0]["name"] == "genkit/feature/path/latency")
        .expect("path latency");
    assert_eq!(latency["properties"]["path"], TOOL);
    assert_eq!(
        sum(
            &envs,
            "genkit/feature/requests",
            &[
                ("featureName", "weather_flow"),
                ("status", "failure"),
                ("error", "GenkitError")
            ]
        ),
        1.0
    );

    let errors = messages(&envs, "Error[");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = errors[0];
    assert_eq!(
        e["data"]["baseData"]["message"],
        "Error[weather_flow > generate > get_weather, ToolError]"
    );
    assert_eq!(e["data"]["baseData"]["severityLevel"], 3);
    assert_eq!(prop(e, "message"), Some(message));
    assert!(prop(e, "stack").unwrap().starts_with("Traceback"));
    assert_eq!(tag(e, "ai.operation.parentId"), Some("0404040404040404"));
    assert_eq!(tag(e, "ai.operation.name"), Some("weather_flow"));

    // The mark travels with the span into its envelope.
    let tool_dep = by_name(&envs, "execute_tool get_weather");
    assert_eq!(prop(tool_dep, "genkit:isFailureSource"), Some("true"));
    // What Azure's Agents view groups errors by.
    assert_eq!(prop(tool_dep, "error.type"), Some("ToolError"));
    let generate_dep = by_name(&envs, "generate");
    assert_eq!(prop(generate_dep, "genkit:isFailureSource"), None);

    assert_accounted(&t);
    assert!(t.shutdown(Duration::from_secs(5)).unwrap());
}

#[test]
fn input_and_output_are_logged_per_part_only_when_asked() {
    let emu = emulator();
    let t = builder(&emu).log_input_and_output(true).build().unwrap();
    push_flow(&t, trace(60));
    assert!(t.flush(Duration::from_secs(10)).unwrap());
    let envs = items(&emu);
    let path = "weather_flow > generate > fake/weather-model";
    let input = messages(&envs, &format!("Input[{path}"));
    assert_eq!(input.len(), 1, "{input:#?}");
    assert_eq!(prop(input[0], "content"), Some("Weather in Paris?"));
    assert_eq!(prop(input[0], "role"), Some("user"));
    let output = messages(&envs, &format!("Output[{path}"));
    assert_eq!(output.len(), 1);
    assert_eq!(prop(output[0], "content"), Some("hi"));
    // The tool's and the flow's whole input and output too.
    assert_eq!(
        messages(
            &envs,
            "Input[weather_flow > generate > get_weather, weather_flow]"
        )
        .len(),
        1
    );
    let flow_out = messages(&envs, "Output[weather_flow, weather_flow]");
    assert_eq!(flow_out.len(), 1);
    assert_eq!(prop(flow_out[0], "content"), Some("\"sunny\""));
    assert_accounted(&t);
    assert!(t.shutdown(Duration::from_secs(5)).unwrap());
}

#[test]
fn disabled_metrics_and_logs_derive_nothing() {
    let emu = emulator();
    let t = builder(&emu)
        .disable_metrics(true)
        .disable_logs(true)
        .build()
        .unwrap();
    push_flow(&t, trace(80));
    assert!(t.flush(Duration::from_secs(10)).unwrap());
    let envs = items(&emu);
    assert!(metrics(&envs).is_empty(), "{envs:#?}");
    assert!(of_kind(&envs, "Message").is_empty());
    let s = t.stats();
    assert_eq!((s.metrics_derived, s.logs_derived), (0, 0));
    assert_eq!(s.spans_accepted, 4);
    assert_accounted(&t);
    assert!(t.shutdown(Duration::from_secs(5)).unwrap());
}

#[test]
fn with_traces_off_spans_only_feed_the_derived_metrics_and_logs() {
    let emu = emulator();
    let t = builder(&emu).disable_traces(true).build().unwrap();
    push_flow(&t, trace(90));
    assert!(t.flush(Duration::from_secs(10)).unwrap());
    let envs = items(&emu);
    assert!(of_kind(&envs, "Request").is_empty(), "{envs:#?}");
    assert!(of_kind(&envs, "RemoteDependency").is_empty());
    assert_eq!(sum(&envs, "genkit/ai/generate/input/tokens", &[]), 12.0);
    assert_eq!(messages(&envs, "Config[").len(), 1);
    let s = t.stats();
    assert_eq!((s.spans_accepted, s.spans_not_exported), (4, 4));
    assert_accounted(&t);
    assert!(t.shutdown(Duration::from_secs(5)).unwrap());
}

const AGENT: &str = "/{weatherAgent,t:action,s:agent}";

/// A `genkit.exp` agent's turn, as Python Genkit emits it: agent(1) >
/// runTurn-1(2) > generate(3) > model(4) asking for the tool, tool(5).
fn agent_turn(trace: [u8; 16]) -> Vec<Span> {
    let turn = format!("{AGENT}/{{runTurn-1,t:flowStep}}");
    let generate = format!("{turn}/{{generate,t:util}}");
    let asks = r#"{"message":{"role":"model","content":[{"toolRequest":{"name":"get_weather","ref":"call-1","input":"Paris"}}]},"finishReason":"stop","usage":{"inputTokens":12.0,"outputTokens":4.0}}"#;
    vec![
        Span::new(trace, 4, Some(3), "fake/weather-model")
            .attr("genkit:type", "action")
            .attr("genkit:metadata:subtype", "model")
            .attr(
                "genkit:path",
                &format!("{generate}/{{fake%2Fweather-model,t:action,s:model}}"),
            )
            .attr("genkit:output", asks)
            .attr("genkit:state", "success"),
        Span::new(trace, 5, Some(3), "get_weather")
            .attr("genkit:type", "action")
            .attr("genkit:metadata:subtype", "tool.v2")
            .attr(
                "genkit:path",
                &format!("{generate}/{{get_weather,t:action,s:tool.v2}}"),
            )
            .attr("genkit:state", "success"),
        Span::new(trace, 3, Some(2), "generate")
            .attr("genkit:type", "util")
            .attr("genkit:path", &generate),
        Span::new(trace, 2, Some(1), "runTurn-1")
            .attr("genkit:type", "flowStep")
            .attr("genkit:path", &turn),
        Span::new(trace, 1, None, "weatherAgent")
            .attr("genkit:type", "action")
            .attr("genkit:metadata:subtype", "agent")
            .attr("genkit:metadata:agent:sessionId", "s-1")
            .attr("genkit:path", AGENT)
            .attr("genkit:state", "success"),
    ]
}

/// Any host (Rust, C) gets the Agents view's shape: calls under their
/// agent, the agent's totals, the call id and the conversation.
#[test]
fn an_agent_s_calls_go_under_it_from_any_host() {
    for reparent in [true, false] {
        let emu = emulator();
        let t = builder(&emu)
            .enable_agent_reparenting(reparent)
            .build()
            .unwrap();
        for span in agent_turn(trace(60)) {
            t.push_packed(span.pack()).unwrap();
        }
        assert!(t.flush(Duration::from_secs(10)).unwrap());
        let envs = items(&emu);
        let model = by_name(&envs, "chat weather-model");
        let tool = by_name(&envs, "execute_tool get_weather");
        let agent = by_name(&envs, "invoke_agent weatherAgent");
        assert_eq!(prop(agent, "gen_ai.usage.input_tokens"), Some("12"));
        assert_eq!(prop(agent, "gen_ai.usage.output_tokens"), Some("4"));
        assert_eq!(prop(tool, "gen_ai.tool.call.id"), Some("call-1"));
        for call in [model, tool] {
            if reparent {
                assert_eq!(tag(call, "ai.operation.parentId"), Some("0101010101010101"));
                assert_eq!(
                    prop(call, "genkit_azure.genkit_parent_id"),
                    Some("0303030303030303")
                );
                assert_eq!(
                    prop(call, "microsoft.gen_ai.main_agent.conversation_id"),
                    Some("s-1")
                );
            } else {
                assert_eq!(tag(call, "ai.operation.parentId"), Some("0303030303030303"));
                assert_eq!(prop(call, "genkit_azure.genkit_parent_id"), None);
            }
        }
        assert_accounted(&t);
        assert!(t.shutdown(Duration::from_secs(5)).unwrap());
    }
}

/// A flush in the middle of an agent's turn sends the calls held for it.
#[test]
fn a_flush_sends_what_waits_for_its_agent() {
    let emu = emulator();
    let t = builder(&emu).build().unwrap();
    let spans = agent_turn(trace(61));
    for span in &spans[..2] {
        t.push_packed(span.pack()).unwrap();
    }
    assert!(t.flush(Duration::from_secs(10)).unwrap());
    let envs = items(&emu);
    let model = by_name(&envs, "chat weather-model");
    assert_eq!(
        tag(model, "ai.operation.parentId"),
        Some("0303030303030303"),
        "its agent is not known yet: under its true parent"
    );
    assert_accounted(&t);
    for span in &spans[2..] {
        t.push_packed(span.pack()).unwrap();
    }
    assert!(t.shutdown(Duration::from_secs(5)).unwrap());
}

/// An HTTP call as an instrumentation makes it: not Genkit's (no
/// `genkit:*`), under `parent`.
fn http_call(trace: [u8; 16], id: u8, parent: u8) -> PackedSpan {
    let end = now_nanos();
    let mut p = SpanPacker::new(
        trace,
        [id; 8],
        Some([parent; 8]),
        false,
        SpanKind::Client,
        end - 2_000_000,
        end,
    );
    p.name("GET");
    p.attribute_str("http.request.method", "GET");
    p.attribute_str("url.full", "http://weather.example:8080/paris");
    p.attribute_i64("http.response.status_code", 200);
    p.finish().unwrap()
}

/// A span Genkit did not make inside an agent's tool (its HTTP call) names
/// the agents and carries the conversation, from any host; it stays under
/// the tool.
#[test]
fn an_http_call_inside_an_agent_s_tool_names_the_agent() {
    let emu = emulator();
    let t = builder(&emu).build().unwrap();
    let trace = trace(62);
    let spans = agent_turn(trace);
    t.push_packed(spans[0].pack()).unwrap(); // the model call
    t.push_packed(http_call(trace, 6, 5)).unwrap(); // inside the tool
    for span in &spans[1..] {
        t.push_packed(span.pack()).unwrap();
    }
    assert!(t.flush(Duration::from_secs(10)).unwrap());
    let envs = items(&emu);
    let http = by_name(&envs, "GET /paris");
    assert_eq!(tag(http, "ai.operation.parentId"), Some("0505050505050505"));
    assert_eq!(prop(http, "gen_ai.agent.name"), Some("weatherAgent"));
    assert_eq!(
        prop(http, "microsoft.gen_ai.main_agent.id"),
        Some("weatherAgent")
    );
    assert_eq!(
        prop(http, "microsoft.gen_ai.main_agent.conversation_id"),
        Some("s-1")
    );
    assert_eq!(http["data"]["baseData"]["type"], "HTTP");
    assert_accounted(&t);
    assert!(t.shutdown(Duration::from_secs(5)).unwrap());
}

/// Once agents ran, a span Genkit did not make waits on its parent to learn
/// whether it runs in one; under a parent that ends much later it still
/// goes out, as it is, within two sweeps (a batch delay, at least a second,
/// each), with no flush.
#[test]
fn a_span_under_a_parent_that_ends_much_later_is_not_held_for_it() {
    let emu = emulator();
    let t = builder(&emu).build().unwrap();
    let trace = trace(63);
    t.push_packed(agent_turn(trace)[0].pack()).unwrap(); // an agent runs
    t.push_packed(http_call(trace, 9, 8)).unwrap(); // 8: a stream, still open
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let http = loop {
        let envs = items(&emu);
        if let Some(e) = envs
            .iter()
            .find(|e| e["data"]["baseData"]["name"] == "GET /paris")
        {
            break e.clone();
        }
        assert!(std::time::Instant::now() < deadline, "held for its parent");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(prop(&http, "gen_ai.agent.name"), None, "as it is");
    for span in &agent_turn(trace)[1..] {
        t.push_packed(span.pack()).unwrap();
    }
    assert!(t.shutdown(Duration::from_secs(5)).unwrap());
}

/// The first spans of the first agent run in a process: an HTTP call that
/// ends before anything inside an agent did names its agent when the
/// configuration names agents (`agent_ids` here), and cannot otherwise.
#[test]
fn the_first_agent_run_names_its_http_calls_when_agents_are_configured() {
    for configured in [false, true] {
        let emu = emulator();
        let mut b = builder(&emu);
        if configured {
            b = b.agent_ids([("weatherAgent", "asst_1")]);
        }
        let t = b.build().unwrap();
        let trace = trace(64);
        t.push_packed(http_call(trace, 6, 5)).unwrap(); // first of all
        for span in agent_turn(trace) {
            t.push_packed(span.pack()).unwrap();
        }
        assert!(t.flush(Duration::from_secs(10)).unwrap());
        let envs = items(&emu);
        let http = by_name(&envs, "GET /paris");
        let expected = configured.then_some("asst_1");
        assert_eq!(
            prop(http, "gen_ai.agent.id"),
            expected,
            "configured: {configured}"
        );
        assert!(t.shutdown(Duration::from_secs(5)).unwrap());
    }
}
