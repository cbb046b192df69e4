//! Genkit's refinement of the standard view, for spans Genkit made: a root
//! flow is a Request named after the flow, a model call is a
//! `GenAI | <provider>` dependency `chat {model}` with its tokens, a tool is
//! an `execute_tool {tool}` step, an agent an `invoke_agent {agent}`
//! dependency, spans inside an agent name it (OpenTelemetry's GenAI
//! conventions, which Azure's Agents view reads), every span names its
//! operation after its path's root, and prompts and responses are
//! `<redacted>` unless asked for.
//! Facts: `shared/notes/genkit.md` and `shared/notes/azure-ai-views.md`.

use super::{Content, Item, SpanView, ViewOptions};
use crate::envelopes::genkit::{
    genai_finish_reason, messages, provider, root_name, GenkitSpan, ModelOutput, Role,
};
use crate::ingest::{Kind, SpanParts, StatusCode};
use std::borrow::Cow;

/// A count Genkit reports as a float (`12.0`), written as the integer it is.
fn count(n: f64) -> Cow<'static, str> {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        Cow::Owned(itoa::Buffer::new().format(n as i64).to_string())
    } else {
        Cow::Owned(n.to_string())
    }
}

pub(super) fn refine<'a>(view: &mut SpanView<'a>, span: &SpanParts<'a>, options: &ViewOptions) {
    let Some(g) = GenkitSpan::read(span) else {
        // Not Genkit's, inside an agent (an HTTP call in a tool): the
        // worker learnt its agents from the Genkit span above it.
        if let Some((nearest, main)) = span.agent_names {
            let (main, nearest) = (Cow::Borrowed(main), Cow::Borrowed(nearest));
            name_agents(view, main, nearest, span.main_conversation_id, options);
        }
        return;
    };
    view.content = Content::Genkit {
        keep_io: options.log_input_and_output,
    };
    view.success = !(g.failed() || span.status == StatusCode::Error);
    // The request is the trace's root here; `genkit:isRoot` is Genkit's own
    // notion (the outermost Genkit span), which the feature metrics use too.
    let is_root = span.parent_span_id.is_none() || span.parent_is_remote || g.is_root;
    // The name the face registered at the span's start wins (`SpanView::of`);
    // the path's root only stands in without one.
    if view.operation_name.is_none() && span.operation_name.is_none() {
        view.operation_name = root_name(g.path);
    }
    // A flow presented as an agent (`agent_flows`) is one.
    let role = g.role_among(&options.agent_flows);
    match role {
        // A flow with no request above it is the request. (An agent at the
        // root stays a dependency: the Agents view reads only dependencies.)
        Role::Flow if is_root && !matches!(span.kind, Kind::Server | Kind::Consumer) => {
            view.item = Item::Request;
            view.name = Cow::Borrowed(g.name);
            view.operation_name = Some(Cow::Borrowed(g.name));
            view.url = None;
            view.target = None;
            view.dependency_type = None;
        }
        Role::Model => {
            let (provider, model) = provider(g.name);
            // The conventions' span name; the Genkit name stays in
            // `genkit:name`. (Names are joined by `concat`, which allocates
            // once, where `format!` costs its machinery on every model and
            // tool span.)
            view.name = Cow::Owned(["chat ", model].concat());
            view.dependency_type = Some(Cow::Owned(["GenAI | ", &provider].concat()));
            view.target = Some(provider.clone());
            view.extra.extend([
                ("gen_ai.operation.name", Cow::Borrowed("chat")),
                ("gen_ai.provider.name", provider.clone()),
                // Microsoft's exporter and some portal views still read only
                // the older name.
                ("gen_ai.system", provider),
                ("gen_ai.request.model", Cow::Borrowed(model)),
            ]);
            // The worker's reading of the response, kept on the span; parsed
            // here only for a span that did not pass the worker.
            let parsed;
            let reply = match span.model_reply {
                Some(reply) => Some(reply),
                None => {
                    parsed = g.output.and_then(ModelOutput::parse);
                    parsed.as_ref().map(ModelOutput::reply)
                }
            };
            let finish_reason =
                reply.and_then(|r| genai_finish_reason(r.tool_calls, r.finish_reason));
            if let Some(r) = reply {
                for (key, value) in [
                    ("gen_ai.usage.input_tokens", r.input_tokens),
                    ("gen_ai.usage.output_tokens", r.output_tokens),
                    ("gen_ai.usage.reasoning.output_tokens", r.thoughts_tokens),
                    (
                        "gen_ai.usage.cache_read.input_tokens",
                        r.cached_content_tokens,
                    ),
                ] {
                    if let Some(v) = value {
                        view.extra.push((key, count(v)));
                    }
                }
                // The Agents view's cost, in USD, when a price table says it.
                if let Some((input, output)) = options.model_price(g.name, model) {
                    for (key, tokens, price) in [
                        ("microsoft.gen_ai.cost.input", r.input_tokens, input),
                        ("microsoft.gen_ai.cost.output", r.output_tokens, output),
                    ] {
                        let cost = tokens.unwrap_or(0.0) * price / 1e6;
                        view.extra.push((key, Cow::Owned(cost.to_string())));
                    }
                }
            }
            if let Some(reason) = &finish_reason {
                let reasons = serde_json::to_string(&[reason]).unwrap_or_default();
                view.extra
                    .push(("gen_ai.response.finish_reasons", Cow::Owned(reasons)));
            }
            // The prompt and response in the conventions' message schema,
            // only when content is exported at all.
            if options.log_input_and_output {
                let c = messages::content(g.input, g.output, finish_reason.as_deref());
                for (key, value) in [
                    ("gen_ai.input.messages", c.input_messages),
                    ("gen_ai.output.messages", c.output_messages),
                    ("gen_ai.system_instructions", c.system_instructions),
                ] {
                    if let Some(v) = value {
                        view.extra.push((key, Cow::Owned(v)));
                    }
                }
            }
        }
        Role::Tool => {
            view.name = Cow::Owned(["execute_tool ", g.name].concat());
            view.extra.extend([
                ("gen_ai.operation.name", Cow::Borrowed("execute_tool")),
                ("gen_ai.tool.name", Cow::Borrowed(g.name)),
                ("gen_ai.tool.type", Cow::Borrowed("function")),
            ]);
            if let Some(id) = span.tool_call_id {
                view.extra.push(("gen_ai.tool.call.id", Cow::Borrowed(id)));
            }
        }
        // Always a dependency, even at the root: the Agents view reads only
        // the dependencies table.
        Role::Agent => {
            view.name = Cow::Owned(["invoke_agent ", g.name].concat());
            // As Microsoft's exporter types a span with `gen_ai.system`.
            view.dependency_type = Some(Cow::Borrowed("GenAI | genkit"));
            view.target = Some(Cow::Borrowed("genkit"));
            view.extra.extend([
                ("gen_ai.operation.name", Cow::Borrowed("invoke_agent")),
                ("gen_ai.provider.name", Cow::Borrowed("genkit")),
                ("gen_ai.system", Cow::Borrowed("genkit")),
            ]);
            if let Some(session) = g.session_id {
                view.extra
                    .push(("gen_ai.conversation.id", Cow::Borrowed(session)));
                view.session_id = Some(Cow::Borrowed(session));
            }
            // Its model calls' totals, summed by the worker: dashboards read
            // them here (the Agents workbook ignores an agent's own counts
            // when it has model calls below it, so nothing counts twice).
            if let Some((input, output)) = span.agent_usage {
                view.extra.extend([
                    ("gen_ai.usage.input_tokens", count(input)),
                    ("gen_ai.usage.output_tokens", count(output)),
                ]);
            }
        }
        Role::UserEngagement | Role::Other | Role::Flow => {}
    }
    // The agent a span serves (its own, for an agent) and the outermost one,
    // as Microsoft's span processor copies it: the view's "only main agents"
    // filter compares the two. The id is the name unless `agent_ids` maps
    // it (to the id of an agent registered in Foundry).
    if let Some((main, nearest)) = g.agents(&options.agent_flows) {
        // The main agent's session: an agent's own when it is the main one,
        // a call's as the worker learnt it at its agent's end.
        let conversation = match role {
            Role::Agent if main == nearest => g.session_id,
            _ => span.main_conversation_id,
        };
        name_agents(view, main, nearest, conversation, options);
    }
    // An evaluator's test case: its scores are evaluation results.
    if g.kind == "evaluator" {
        if let Some(out) = g.output {
            // The agent it runs in, else the agent of the trace its data
            // point names (an evaluation run over an agent's traces).
            let agent_id = view
                .extra
                .iter()
                .find(|(k, _)| *k == "gen_ai.agent.id")
                .map(|(_, v)| v.to_string())
                .or_else(|| {
                    span.evaluated_agent
                        .map(|a| options.agent_id(&Cow::Borrowed(a)).into_owned())
                });
            view.evaluations = evaluations(g.path, out, options.log_input_and_output, agent_id);
        }
    }
    // What Genkit JS sets and Python never does, derived: the Google Cloud
    // plugin's queries (and users') read them.
    if g.is_outermost(span) && role != Role::UserEngagement {
        view.extra.push(("genkit:isRoot", Cow::Borrowed("true")));
    }
    if span.failure_source || g.is_failure_source {
        view.extra
            .push(("genkit:isFailureSource", Cow::Borrowed("true")));
    }
}

/// The agent a span serves, the outermost one, and the main agent's
/// conversation, in the GenAI conventions' and Microsoft's properties.
fn name_agents<'a>(
    view: &mut SpanView<'a>,
    main: Cow<'a, str>,
    nearest: Cow<'a, str>,
    conversation: Option<&'a str>,
    options: &ViewOptions,
) {
    if let Some(c) = conversation {
        view.extra.push((
            "microsoft.gen_ai.main_agent.conversation_id",
            Cow::Borrowed(c),
        ));
    }
    view.extra.extend([
        ("gen_ai.agent.id", options.agent_id(&nearest)),
        ("gen_ai.agent.name", nearest),
        ("microsoft.gen_ai.main_agent.id", options.agent_id(&main)),
        ("microsoft.gen_ai.main_agent.name", main),
    ]);
}

/// The scores in a Genkit evaluator test case's output (`EvalFnResponse`:
/// `evaluation` is a `Score` or a list of them), named after the evaluator
/// (the test case's parent segment in `path`).
fn evaluations(
    path: &str,
    output: &str,
    explain: bool,
    agent_id: Option<String>,
) -> Vec<super::Evaluation> {
    use serde_json::Value;
    let Ok(v) = serde_json::from_str::<Value>(output) else {
        return Vec::new();
    };
    let evaluator = crate::envelopes::genkit::display_path(path)
        .rsplit(" > ")
        .nth(1)
        .unwrap_or("<unknown evaluator>")
        .to_string();
    let scores: Vec<&Value> = match v.get("evaluation") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => return Vec::new(),
    };
    scores
        .into_iter()
        .map(|s| {
            let name = match s.get("id").and_then(Value::as_str) {
                Some(id) => format!("{evaluator}/{id}"),
                None => evaluator.clone(),
            };
            let status = s.get("status").and_then(Value::as_str);
            let (value, label) = match s.get("score") {
                Some(Value::Number(n)) => (Some(n.to_string()), None),
                Some(Value::Bool(b)) => (Some(if *b { "1" } else { "0" }.to_string()), None),
                Some(Value::String(t)) => (None, Some(t.clone())),
                _ => (None, None),
            };
            super::Evaluation {
                name,
                value,
                label: label.or_else(|| status.map(str::to_ascii_lowercase)),
                explanation: s
                    .get("details")
                    .and_then(|d| d.get("reasoning"))
                    .and_then(Value::as_str)
                    .filter(|_| explain)
                    .map(str::to_string),
                agent_id: agent_id.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::REDACTED;
    use super::*;
    use crate::envelopes::test_support::span_data;
    use crate::ingest::PackedSpan;
    use opentelemetry::trace::SpanKind;
    use opentelemetry::KeyValue;
    use std::time::{Duration, SystemTime};

    const MODEL_PATH: &str =
        "/{weather_flow,t:action,s:flow}/{generate,t:util}/{googleai%2Fgemini-2.5-flash,t:action,s:model}";

    fn packed(parent: Option<u8>, kind: SpanKind, name: &str, attrs: Vec<KeyValue>) -> PackedSpan {
        let data = span_data(
            [7; 16],
            9,
            parent,
            kind,
            name,
            attrs,
            SystemTime::now(),
            Duration::from_millis(3),
        );
        PackedSpan::from_span_data(&data).unwrap()
    }

    fn view_of(span: &PackedSpan, options: ViewOptions, check: impl FnOnce(&SpanView<'_>)) {
        let mut parts = SpanParts::default();
        assert!(parts.read(span));
        check(&SpanView::of(&parts, &options));
    }

    fn extra<'v>(view: &'v SpanView<'_>, key: &str) -> Option<&'v str> {
        view.extra
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| &**v)
    }

    /// A call of `googleai/gemini-2.5-flash` under a flow, with `attrs` besides.
    fn model_call(attrs: Vec<KeyValue>) -> PackedSpan {
        let mut all = vec![
            KeyValue::new("genkit:name", "googleai/gemini-2.5-flash"),
            KeyValue::new("genkit:type", "action"),
            KeyValue::new("genkit:metadata:subtype", "model"),
            KeyValue::new("genkit:path", MODEL_PATH),
        ];
        all.extend(attrs);
        packed(
            Some(1),
            SpanKind::Internal,
            "googleai/gemini-2.5-flash",
            all,
        )
    }

    #[test]
    fn a_model_call_is_a_genai_dependency_with_its_tokens() {
        let span = model_call(vec![
            KeyValue::new("genkit:input", "{\"messages\":[]}"),
            KeyValue::new(
                "genkit:output",
                r#"{"finishReason":"stop","usage":{"inputTokens":12.0,"outputTokens":4.0,"thoughtsTokens":3.0}}"#,
            ),
            KeyValue::new("genkit:state", "success"),
        ]);
        view_of(&span, ViewOptions::default(), |v| {
            assert_eq!(v.item, Item::Dependency);
            assert_eq!(v.dependency_type.as_deref(), Some("GenAI | gcp.gemini"));
            assert_eq!(v.target.as_deref(), Some("gcp.gemini"));
            assert_eq!(v.name, "chat gemini-2.5-flash");
            assert_eq!(
                extra(v, "genkit:name"),
                None,
                "the span's own attribute keeps it"
            );
            assert_eq!(v.operation_name.as_deref(), Some("weather_flow"));
            assert_eq!(extra(v, "gen_ai.request.model"), Some("gemini-2.5-flash"));
            assert_eq!(extra(v, "gen_ai.system"), Some("gcp.gemini"));
            assert_eq!(extra(v, "gen_ai.usage.input_tokens"), Some("12"));
            assert_eq!(extra(v, "gen_ai.usage.output_tokens"), Some("4"));
            assert_eq!(extra(v, "gen_ai.usage.reasoning.output_tokens"), Some("3"));
            assert_eq!(
                extra(v, "gen_ai.response.finish_reasons"),
                Some("[\"stop\"]")
            );
            assert_eq!(extra(v, "genkit:isRoot"), None);
            let out = crate::ingest::ValueRef::Str("secret");
            assert_eq!(v.property("genkit:output", out).as_deref(), Some(REDACTED));
            assert_eq!(v.property("genkit:path", out).as_deref(), Some("secret"));
        });
        view_of(
            &span,
            ViewOptions {
                log_input_and_output: true,
                ..ViewOptions::default()
            },
            |v| {
                let out = crate::ingest::ValueRef::Str("kept");
                assert_eq!(v.property("genkit:output", out).as_deref(), Some("kept"));
                assert_eq!(
                    v.property("genkit:metadata:context", out).as_deref(),
                    Some(REDACTED)
                );
            },
        );
    }

    /// The worker keeps its reading of a model's response on the span; the
    /// view shows from it exactly what parsing the response would show, and
    /// does not parse it again.
    #[test]
    fn the_worker_s_reading_of_a_response_shows_as_the_response_would() {
        let model =
            |output: &str| model_call(vec![KeyValue::new("genkit:output", output.to_string())]);
        let priced = ViewOptions {
            model_prices: Some(std::sync::Arc::new(
                [("googleai/gemini-2.5-flash".to_string(), (0.3, 2.5))].into(),
            )),
            ..ViewOptions::default()
        };
        for output in [
            r#"{"finishReason":"stop","usage":{"inputTokens":12,"outputTokens":4,"thoughtsTokens":3,"cachedContentTokens":2}}"#,
            r#"{"message":{"content":[{"toolRequest":{"name":"t","ref":"1"}}]},"finishReason":"stop"}"#,
            r#"{"candidates":[{"finishReason":"BLOCKED"}],"usage":{"outputTokens":0.5}}"#,
            r#"{"finishReason":"failed"}"#,
            "{}",
            "not json",
        ] {
            let parsed = model(output);
            let mut kept = model(output);
            if let Some(out) = ModelOutput::parse(output) {
                kept.model_reply(&out.reply());
            }
            for options in [ViewOptions::default(), priced.clone()] {
                let owned = |v: &SpanView<'_>| -> Vec<(String, String)> {
                    v.extra
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                };
                let mut from_output = Vec::new();
                view_of(&parsed, options.clone(), |v| from_output = owned(v));
                view_of(&kept, options, |v| {
                    assert_eq!(owned(v), from_output, "{output}")
                });
            }
        }
        // What the span carries is what shows: the response is not read.
        let mut span = model(r#"{"usage":{"inputTokens":12}}"#);
        span.model_reply(&crate::ingest::ModelReply {
            input_tokens: Some(99.0),
            ..Default::default()
        });
        view_of(&span, ViewOptions::default(), |v| {
            assert_eq!(extra(v, "gen_ai.usage.input_tokens"), Some("99"));
        });
    }

    #[test]
    fn a_price_table_gives_model_calls_their_cost() {
        let span = model_call(vec![KeyValue::new(
            "genkit:output",
            r#"{"usage":{"inputTokens":1000.0,"outputTokens":200.0}}"#,
        )]);
        view_of(&span, ViewOptions::default(), |v| {
            assert_eq!(extra(v, "microsoft.gen_ai.cost.input"), None, "no table");
        });
        for key in ["googleai/gemini-2.5-flash", "gemini-2.5-flash"] {
            let prices = [(key.to_string(), (0.3, 2.5))].into_iter().collect();
            let options = ViewOptions {
                model_prices: Some(std::sync::Arc::new(prices)),
                ..ViewOptions::default()
            };
            view_of(&span, options, |v| {
                assert_eq!(extra(v, "microsoft.gen_ai.cost.input"), Some("0.0003"));
                assert_eq!(extra(v, "microsoft.gen_ai.cost.output"), Some("0.0005"));
            });
        }
        let prices = [("other".to_string(), (1.0, 1.0))].into_iter().collect();
        let options = ViewOptions {
            model_prices: Some(std::sync::Arc::new(prices)),
            ..ViewOptions::default()
        };
        view_of(&span, options, |v| {
            assert_eq!(extra(v, "microsoft.gen_ai.cost.input"), None, "not listed");
        });
    }

    #[test]
    fn a_root_flow_is_a_request_and_a_served_flow_is_not() {
        let flow = |parent| {
            packed(
                parent,
                SpanKind::Internal,
                "weather_flow",
                vec![
                    KeyValue::new("genkit:name", "weather_flow"),
                    KeyValue::new("genkit:type", "action"),
                    KeyValue::new("genkit:metadata:subtype", "flow"),
                    KeyValue::new("genkit:path", "/{weather_flow,t:action,s:flow}"),
                    KeyValue::new("genkit:state", "error"),
                ],
            )
        };
        view_of(&flow(None), ViewOptions::default(), |v| {
            assert_eq!(v.item, Item::Request);
            assert_eq!(v.name, "weather_flow");
            assert_eq!(v.operation_name.as_deref(), Some("weather_flow"));
            assert!(!v.success, "genkit:state says error");
            assert_eq!(extra(v, "genkit:isRoot"), Some("true"));
        });
        view_of(&flow(Some(1)), ViewOptions::default(), |v| {
            assert_eq!(v.item, Item::Dependency);
            assert_eq!(v.dependency_type.as_deref(), Some("InProc"));
            assert_eq!(
                extra(v, "genkit:isRoot"),
                Some("true"),
                "still the feature's root"
            );
        });
    }

    #[test]
    fn a_tool_is_an_execute_tool_step() {
        let span = packed(
            Some(1),
            SpanKind::Internal,
            "get_weather",
            vec![
                KeyValue::new("genkit:name", "get_weather"),
                KeyValue::new("genkit:type", "action"),
                KeyValue::new("genkit:metadata:subtype", "tool.v2"),
                KeyValue::new(
                    "genkit:path",
                    "/{weather_flow,t:action,s:flow}/{get_weather,t:action,s:tool.v2}",
                ),
            ],
        );
        view_of(&span, ViewOptions::default(), |v| {
            assert_eq!(v.name, "execute_tool get_weather");
            assert_eq!(extra(v, "gen_ai.operation.name"), Some("execute_tool"));
            assert_eq!(extra(v, "gen_ai.tool.name"), Some("get_weather"));
            assert_eq!(extra(v, "gen_ai.tool.type"), Some("function"));
        });
    }

    const AGENT: &str = "/{weatherAgent,t:action,s:agent}";

    fn agent_span(parent: Option<u8>, session: Option<&'static str>) -> PackedSpan {
        let mut attrs = vec![
            KeyValue::new("genkit:name", "weatherAgent"),
            KeyValue::new("genkit:type", "action"),
            KeyValue::new("genkit:metadata:subtype", "agent"),
            KeyValue::new("genkit:path", AGENT),
            KeyValue::new("genkit:state", "success"),
        ];
        if let Some(s) = session {
            attrs.push(KeyValue::new("genkit:metadata:agent:sessionId", s));
        }
        packed(parent, SpanKind::Internal, "weatherAgent", attrs)
    }

    #[test]
    fn an_agent_is_an_invoke_agent_dependency_even_at_the_root() {
        for parent in [None, Some(1)] {
            view_of(
                &agent_span(parent, Some("s-42")),
                ViewOptions::default(),
                |v| {
                    assert_eq!(
                        v.item,
                        Item::Dependency,
                        "the Agents view reads dependencies"
                    );
                    assert_eq!(v.name, "invoke_agent weatherAgent");
                    assert_eq!(v.dependency_type.as_deref(), Some("GenAI | genkit"));
                    assert_eq!(extra(v, "gen_ai.operation.name"), Some("invoke_agent"));
                    assert_eq!(extra(v, "gen_ai.agent.name"), Some("weatherAgent"));
                    assert_eq!(extra(v, "gen_ai.agent.id"), Some("weatherAgent"));
                    assert_eq!(extra(v, "gen_ai.provider.name"), Some("genkit"));
                    assert_eq!(extra(v, "gen_ai.system"), Some("genkit"));
                    assert_eq!(extra(v, "gen_ai.conversation.id"), Some("s-42"));
                    assert_eq!(v.session_id.as_deref(), Some("s-42"));
                    assert_eq!(
                        extra(v, "microsoft.gen_ai.main_agent.name"),
                        extra(v, "gen_ai.agent.name"),
                        "a main agent passes the view's filter"
                    );
                    assert_eq!(
                        extra(v, "microsoft.gen_ai.main_agent.id"),
                        Some("weatherAgent")
                    );
                },
            );
        }
        view_of(&agent_span(None, None), ViewOptions::default(), |v| {
            assert_eq!(
                extra(v, "gen_ai.conversation.id"),
                None,
                "no session, none made up"
            );
            assert_eq!(v.session_id, None);
            // A client-managed session's whole state travels in the init.
            let init = crate::ingest::ValueRef::Str("{\"state\":{\"messages\":[]}}");
            assert_eq!(v.property("genkit:init", init).as_deref(), Some(REDACTED));
        });
    }

    #[test]
    fn an_evaluator_s_scores_are_evaluation_results() {
        let span = |path: &str| {
            packed(
                Some(1),
                SpanKind::Internal,
                "Test Case tc1",
                vec![
                    KeyValue::new("genkit:name", "Test Case tc1"),
                    KeyValue::new("genkit:type", "evaluator"),
                    KeyValue::new("genkit:path", path.to_string()),
                    KeyValue::new(
                        "genkit:output",
                        r#"{"testCaseId":"tc1","evaluation":{"score":0.8,"status":"PASS","details":{"reasoning":"on topic"}}}"#,
                    ),
                ],
            )
        };
        let offline =
            span("/{myeval%2Frelevance,t:action,s:evaluator}/{Test%20Case%20tc1,t:evaluator}");
        view_of(&offline, ViewOptions::default(), |v| {
            assert_eq!(
                v.evaluations,
                [super::super::Evaluation {
                    name: "myeval/relevance".into(),
                    value: Some("0.8".into()),
                    label: Some("pass".into()),
                    explanation: None,
                    agent_id: None,
                }]
            );
        });
        let inside = span(
            "/{weatherAgent,t:action,s:agent}/{runTurn-1,t:flowStep}\
             /{myeval%2Frelevance,t:action,s:evaluator}/{Test%20Case%20tc1,t:evaluator}",
        );
        let options = ViewOptions {
            log_input_and_output: true,
            ..ViewOptions::default()
        };
        view_of(&inside, options, |v| {
            let e = &v.evaluations[0];
            assert_eq!(
                e.agent_id.as_deref(),
                Some("weatherAgent"),
                "joined by agent id"
            );
            assert_eq!(e.explanation.as_deref(), Some("on topic"));
        });
    }

    #[test]
    fn a_flow_named_in_agent_flows_is_an_agent() {
        let flow = |name: &str, path: &str, subtype: &str, parent| {
            packed(
                parent,
                SpanKind::Internal,
                name,
                vec![
                    KeyValue::new("genkit:name", name.to_string()),
                    KeyValue::new("genkit:type", "action"),
                    KeyValue::new("genkit:metadata:subtype", subtype.to_string()),
                    KeyValue::new("genkit:path", path.to_string()),
                ],
            )
        };
        let root = flow("support", "/{support,t:action,s:flow}", "flow", None);
        let model = flow(
            "fake/m",
            "/{support,t:action,s:flow}/{generate,t:util}/{fake%2Fm,t:action,s:model}",
            "model",
            Some(1),
        );
        view_of(&root, ViewOptions::default(), |v| {
            assert_eq!(
                v.item,
                Item::Request,
                "by default a root flow is the request"
            );
        });
        view_of(&model, ViewOptions::default(), |v| {
            assert_eq!(extra(v, "gen_ai.agent.name"), None);
        });
        let options = || ViewOptions {
            agent_flows: crate::envelopes::genkit::AgentFlows::new(&["support".to_string()]),
            ..ViewOptions::default()
        };
        view_of(&root, options(), |v| {
            assert_eq!(v.item, Item::Dependency);
            assert_eq!(v.name, "invoke_agent support");
            assert_eq!(extra(v, "gen_ai.operation.name"), Some("invoke_agent"));
            assert_eq!(extra(v, "gen_ai.agent.name"), Some("support"));
            assert_eq!(v.operation_name.as_deref(), Some("support"));
        });
        view_of(&model, options(), |v| {
            assert_eq!(extra(v, "gen_ai.agent.name"), Some("support"));
            assert_eq!(
                extra(v, "microsoft.gen_ai.main_agent.name"),
                Some("support")
            );
        });
    }

    #[test]
    fn agent_ids_map_names_to_registered_ids() {
        let path = "/{triage,t:action,s:agent}/{runTurn-1,t:flowStep}/{generate,t:util}\
                    /{billing,t:action,s:agent}";
        let span = packed(
            Some(1),
            SpanKind::Internal,
            "billing",
            vec![
                KeyValue::new("genkit:name", "billing"),
                KeyValue::new("genkit:type", "action"),
                KeyValue::new("genkit:metadata:subtype", "agent"),
                KeyValue::new("genkit:path", path),
            ],
        );
        let ids = [("billing".to_string(), "asst_42".to_string())];
        let options = ViewOptions {
            agent_ids: Some(std::sync::Arc::new(ids.into_iter().collect())),
            ..ViewOptions::default()
        };
        view_of(&span, options, |v| {
            assert_eq!(extra(v, "gen_ai.agent.name"), Some("billing"));
            assert_eq!(extra(v, "gen_ai.agent.id"), Some("asst_42"));
            assert_eq!(extra(v, "microsoft.gen_ai.main_agent.name"), Some("triage"));
            assert_eq!(
                extra(v, "microsoft.gen_ai.main_agent.id"),
                Some("triage"),
                "not listed: its name"
            );
        });
    }

    #[test]
    fn the_worker_s_findings_reach_the_view() {
        let mut agent = agent_span(None, Some("s-1"));
        view_of(&agent, ViewOptions::default(), |v| {
            assert_eq!(extra(v, "gen_ai.usage.input_tokens"), None, "none summed");
        });
        agent.agent_usage(42.0, 11.0);
        view_of(&agent, ViewOptions::default(), |v| {
            assert_eq!(extra(v, "gen_ai.usage.input_tokens"), Some("42"));
            assert_eq!(extra(v, "gen_ai.usage.output_tokens"), Some("11"));
        });
        let tool = |reparented: bool| {
            let mut s = packed(
                Some(1),
                SpanKind::Internal,
                "get_weather",
                vec![
                    KeyValue::new("genkit:name", "get_weather"),
                    KeyValue::new("genkit:type", "action"),
                    KeyValue::new("genkit:metadata:subtype", "tool.v2"),
                ],
            );
            if reparented {
                s.reparent([0xab; 8]);
            }
            s
        };
        view_of(&tool(true), ViewOptions::default(), |v| {
            assert_eq!(
                extra(v, super::super::GENKIT_PARENT_ID),
                Some("0101010101010101"),
                "the true parent is kept"
            );
        });
        view_of(&tool(false), ViewOptions::default(), |v| {
            assert_eq!(extra(v, super::super::GENKIT_PARENT_ID), None);
        });
    }

    #[test]
    fn spans_inside_agents_name_the_nearest_and_the_main_one() {
        let path = "/{triage,t:action,s:agent}/{runTurn-1,t:flowStep}/{generate,t:util}\
                    /{billing,t:action,s:agent}/{runTurn-1,t:flowStep}/{generate,t:util}\
                    /{fake%2Fm,t:action,s:model}";
        let span = packed(
            Some(1),
            SpanKind::Internal,
            "fake/m",
            vec![
                KeyValue::new("genkit:name", "fake/m"),
                KeyValue::new("genkit:type", "action"),
                KeyValue::new("genkit:metadata:subtype", "model"),
                KeyValue::new("genkit:path", path),
            ],
        );
        view_of(&span, ViewOptions::default(), |v| {
            assert_eq!(v.name, "chat m");
            assert_eq!(extra(v, "gen_ai.agent.name"), Some("billing"));
            assert_eq!(extra(v, "gen_ai.agent.id"), Some("billing"));
            assert_eq!(extra(v, "microsoft.gen_ai.main_agent.name"), Some("triage"));
            assert_eq!(extra(v, "microsoft.gen_ai.main_agent.id"), Some("triage"));
            assert_eq!(v.session_id, None, "only the agent span has the session");
        });
        // Outside any agent, nothing is said about agents.
        let tool = packed(
            Some(1),
            SpanKind::Internal,
            "get_weather",
            vec![
                KeyValue::new("genkit:name", "get_weather"),
                KeyValue::new("genkit:type", "action"),
                KeyValue::new("genkit:metadata:subtype", "tool.v2"),
                KeyValue::new(
                    "genkit:path",
                    "/{f,t:action,s:flow}/{get_weather,t:action,s:tool.v2}",
                ),
            ],
        );
        view_of(&tool, ViewOptions::default(), |v| {
            assert_eq!(extra(v, "gen_ai.agent.name"), None);
            assert_eq!(extra(v, "microsoft.gen_ai.main_agent.name"), None);
        });
    }

    /// An HTTP call inside a tool: the worker found its agents above it.
    #[test]
    fn a_span_genkit_did_not_make_names_the_agents_the_worker_found() {
        let http = || {
            packed(
                Some(1),
                SpanKind::Client,
                "GET",
                vec![
                    KeyValue::new("http.request.method", "GET"),
                    KeyValue::new("url.full", "http://127.0.0.1:8080/weather"),
                    KeyValue::new("http.response.status_code", 200),
                ],
            )
        };
        view_of(&http(), ViewOptions::default(), |v| {
            assert_eq!(extra(v, "gen_ai.agent.name"), None, "outside agents");
        });
        let mut span = http();
        span.agent_names("billing", "triage");
        span.main_conversation_id("s-1");
        let ids = [("triage".to_string(), "asst_7".to_string())];
        let options = ViewOptions {
            agent_ids: Some(std::sync::Arc::new(ids.into_iter().collect())),
            ..ViewOptions::default()
        };
        view_of(&span, options, |v| {
            assert_eq!(v.name, "GET /weather", "the standard mapping stays");
            assert_eq!(extra(v, "gen_ai.agent.name"), Some("billing"));
            assert_eq!(extra(v, "gen_ai.agent.id"), Some("billing"));
            assert_eq!(extra(v, "microsoft.gen_ai.main_agent.name"), Some("triage"));
            assert_eq!(extra(v, "microsoft.gen_ai.main_agent.id"), Some("asst_7"));
            assert_eq!(
                extra(v, "microsoft.gen_ai.main_agent.conversation_id"),
                Some("s-1")
            );
            assert_eq!(
                extra(v, "gen_ai.operation.name"),
                None,
                "not a GenAI operation"
            );
        });
    }

    #[test]
    fn a_failure_says_its_exception_type() {
        let failing = |attrs: Vec<KeyValue>| {
            let mut data = span_data(
                [7; 16],
                9,
                Some(1),
                SpanKind::Internal,
                "get_weather",
                attrs,
                SystemTime::now(),
                Duration::from_millis(3),
            );
            data.events.events.push(opentelemetry::trace::Event::new(
                "exception",
                SystemTime::now(),
                vec![
                    KeyValue::new("exception.type", "ToolError"),
                    KeyValue::new("exception.message", "no weather"),
                ],
                0,
            ));
            PackedSpan::from_span_data(&data).unwrap()
        };
        let genkit = |state: &'static str| {
            vec![
                KeyValue::new("genkit:name", "get_weather"),
                KeyValue::new("genkit:type", "action"),
                KeyValue::new("genkit:metadata:subtype", "tool.v2"),
                KeyValue::new("genkit:state", state),
            ]
        };
        view_of(&failing(genkit("error")), ViewOptions::default(), |v| {
            assert!(!v.success);
            assert_eq!(extra(v, "error.type"), Some("ToolError"));
        });
        view_of(&failing(genkit("success")), ViewOptions::default(), |v| {
            assert_eq!(
                extra(v, "error.type"),
                None,
                "a caught exception is no failure"
            );
        });
        let mut own = genkit("error");
        own.push(KeyValue::new("error.type", "timeout"));
        view_of(&failing(own), ViewOptions::default(), |v| {
            assert_eq!(
                extra(v, "error.type"),
                None,
                "the span's own attribute says it"
            );
        });
    }

    #[test]
    fn other_spans_keep_the_standard_mapping() {
        let span = packed(
            Some(1),
            SpanKind::Client,
            "GET",
            vec![KeyValue::new("http.method", "GET")],
        );
        let mut parts = SpanParts::default();
        parts.read(&span);
        assert_eq!(
            SpanView::of(&parts, &ViewOptions::default()),
            SpanView::standard(&parts)
        );
    }
}
