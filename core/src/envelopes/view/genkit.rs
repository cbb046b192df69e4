//! Genkit's refinement of the standard view, for spans Genkit made: a root
//! flow is a Request named after the flow, a model call is a
//! `GenAI | <provider>` dependency with its tokens, a tool is an
//! `execute_tool` step, every span names its operation after its path's
//! root, and prompts and responses are `<redacted>` unless asked for.
//! Facts: `shared/notes/genkit.md` and `shared/notes/azure-ai-views.md`.

use super::{Content, Item, SpanView, ViewOptions};
use crate::envelopes::genkit::{provider, root_name, GenkitSpan, ModelOutput, Role};
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

pub(super) fn refine<'a>(view: &mut SpanView<'a>, span: &SpanParts<'a>, options: ViewOptions) {
    let Some(g) = GenkitSpan::read(span) else {
        return;
    };
    view.content = Content::Genkit {
        keep_io: options.log_input_and_output,
    };
    view.success = !(g.failed() || span.status == StatusCode::Error);
    // The request is the trace's root here; `genkit:isRoot` is Genkit's own
    // notion (the outermost Genkit span), which the feature metrics use too.
    let is_root = span.parent_span_id.is_none() || span.parent_is_remote || g.is_root;
    if view.operation_name.is_none() {
        view.operation_name = root_name(g.path);
    }
    match g.role() {
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
            view.dependency_type = Some(Cow::Owned(format!("GenAI | {provider}")));
            view.target = Some(provider.clone());
            view.extra.extend([
                ("gen_ai.operation.name", Cow::Borrowed("chat")),
                ("gen_ai.provider.name", provider.clone()),
                // Microsoft's exporter and some portal views still read only
                // the older name.
                ("gen_ai.system", provider),
                ("gen_ai.request.model", Cow::Borrowed(model)),
            ]);
            if let Some(out) = g.output.and_then(ModelOutput::parse) {
                let u = &out.usage;
                for (key, value) in [
                    ("gen_ai.usage.input_tokens", u.input_tokens),
                    ("gen_ai.usage.output_tokens", u.output_tokens),
                    ("gen_ai.usage.reasoning.output_tokens", u.thoughts_tokens),
                    (
                        "gen_ai.usage.cache_read.input_tokens",
                        u.cached_content_tokens,
                    ),
                ] {
                    if let Some(v) = value {
                        view.extra.push((key, count(v)));
                    }
                }
                if let Some(reason) = out.finish_reason() {
                    let reasons = serde_json::to_string(&[reason]).unwrap_or_default();
                    view.extra
                        .push(("gen_ai.response.finish_reasons", Cow::Owned(reasons)));
                }
            }
        }
        Role::Tool => view.extra.extend([
            ("gen_ai.operation.name", Cow::Borrowed("execute_tool")),
            ("gen_ai.tool.name", Cow::Borrowed(g.name)),
            ("gen_ai.tool.type", Cow::Borrowed("function")),
        ]),
        Role::Agent | Role::UserEngagement | Role::Other | Role::Flow => {}
    }
    // What Genkit JS sets and Python never does, derived: the Google Cloud
    // plugin's queries (and users') read them.
    if g.is_outermost(span) && g.role() != Role::UserEngagement {
        view.extra.push(("genkit:isRoot", Cow::Borrowed("true")));
    }
    if span.failure_source || g.is_failure_source {
        view.extra
            .push(("genkit:isFailureSource", Cow::Borrowed("true")));
    }
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
        check(&SpanView::of(&parts, options));
    }

    fn extra<'v>(view: &'v SpanView<'_>, key: &str) -> Option<&'v str> {
        view.extra
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| &**v)
    }

    #[test]
    fn a_model_call_is_a_genai_dependency_with_its_tokens() {
        let span = packed(
            Some(1),
            SpanKind::Internal,
            "googleai/gemini-2.5-flash",
            vec![
                KeyValue::new("genkit:name", "googleai/gemini-2.5-flash"),
                KeyValue::new("genkit:type", "action"),
                KeyValue::new("genkit:metadata:subtype", "model"),
                KeyValue::new("genkit:path", MODEL_PATH),
                KeyValue::new("genkit:input", "{\"messages\":[]}"),
                KeyValue::new(
                    "genkit:output",
                    r#"{"finishReason":"stop","usage":{"inputTokens":12.0,"outputTokens":4.0,"thoughtsTokens":3.0}}"#,
                ),
                KeyValue::new("genkit:state", "success"),
            ],
        );
        view_of(&span, ViewOptions::default(), |v| {
            assert_eq!(v.item, Item::Dependency);
            assert_eq!(v.dependency_type.as_deref(), Some("GenAI | gcp.gemini"));
            assert_eq!(v.target.as_deref(), Some("gcp.gemini"));
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
            assert_eq!(extra(v, "genkit:isRoot"), Some("true"), "still the feature's root");
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
            assert_eq!(extra(v, "gen_ai.operation.name"), Some("execute_tool"));
            assert_eq!(extra(v, "gen_ai.tool.name"), Some("get_weather"));
            assert_eq!(extra(v, "gen_ai.tool.type"), Some("function"));
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
            SpanView::of(&parts, ViewOptions::default()),
            SpanView::standard(&parts)
        );
    }
}
