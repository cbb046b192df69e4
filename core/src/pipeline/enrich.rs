//! Genkit enrichment in the worker: every span, in the order spans end, goes
//! through the failure tracker (`failures.rs`) and the agent tracker
//! (`agents.rs`: spans held for their main agent, token totals), a tool span
//! learns the id of the model's request it answers, and a span Genkit made
//! yields the metric points and log records derived from it
//! (`envelopes::genkit`). It runs here because only the worker sees every
//! span in that order, on one task, before the span is batched.
//!
//! Spans the host could not queue and that were spilled to disk under
//! overload (`spill.rs`) skip the worker: they are exported, but nothing is
//! derived from them and the tracker never sees them (a parent of a spilled
//! failing span may be taken for a failure source).

use super::agents::{self, Agents, Seen};
use super::failures::{Ended, Failures};
use super::BySpanId;
use crate::envelopes::genkit::metrics::Measure;
use crate::envelopes::genkit::{
    logs, metrics, AgentFlows, GenkitKey, GenkitSpan, ModelOutput, Role, Source, SpanFacts,
};
#[cfg(test)]
use crate::ingest::MetricPoint;
use crate::ingest::{LogRecord, PackedSpan, SpanParts, StatusCode};
use opentelemetry_sdk::Resource;
use std::collections::VecDeque;

/// What the worker derives from Genkit spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GenkitOptions {
    /// Also log each model call's input and output parts, and tools' and
    /// features' whole input and output (`log_input_and_output`).
    pub log_input_and_output: bool,
    /// Derive Genkit's metrics (off with `disable_metrics`).
    pub metrics: bool,
    /// Derive Genkit's logs (off with `disable_logs`).
    pub logs: bool,
    /// The `source` / `sourceVersion` labels, from the resource.
    pub source: Source,
    /// Export model and tool calls inside an agent under the agent span
    /// (`enable_agent_reparenting`).
    pub agent_reparenting: bool,
    /// Flows presented as agents (`agent_flows`).
    pub agent_flows: AgentFlows,
    /// The configuration maps agents' ids (`agent_ids`): spans Genkit did
    /// not make wait to learn their agents from the first agent run on, not
    /// only once an agent has run (see `agents.rs`); flows presented as
    /// agents (`agent_flows`) have the same effect.
    pub agents_expected: bool,
}

impl Default for GenkitOptions {
    fn default() -> Self {
        Self {
            log_input_and_output: false,
            metrics: true,
            logs: true,
            source: Source::default(),
            agent_reparenting: true,
            agent_flows: AgentFlows::default(),
            agents_expected: false,
        }
    }
}

impl GenkitOptions {
    /// The defaults, labelled from `resource` (see [`Source::of`]).
    pub fn for_resource(resource: &Resource) -> Self {
        Self {
            source: Source::of(resource),
            ..Self::default()
        }
    }
}

/// The worker's Genkit state: the failure tracker and a reading buffer.
#[derive(Debug)]
pub(crate) struct Enricher {
    options: GenkitOptions,
    failures: Failures,
    /// Agents: spans held until their main agent ends, token totals.
    pub(super) agents: Agents,
    /// The tools the latest model output under each parent (a `generate`
    /// step) asked for, by name, with the request's `ref`: a tool span
    /// that ends under that parent is that call (`gen_ai.tool.call.id`).
    tool_refs: BySpanId<Vec<(String, String)>>,
    /// The call id found for the span at hand.
    call_id: Option<String>,
    /// The response of the model call at hand, as read here: kept on the
    /// span, so that the writer does not parse it again.
    model: Option<ModelOutput>,
    /// The session of the main agent span at hand.
    session: Option<String>,
    /// The nearest and the main agent of the span at hand, when spans that
    /// are not Genkit's wait on it to learn them.
    agent_names: Option<(String, String)>,
    /// The main agents of recent traces, by trace id, oldest first: an
    /// evaluator's test case that names one of those traces (`traceIds`)
    /// is joined to its agent.
    agent_traces: VecDeque<([u8; 16], String)>,
    /// The agent found for the evaluator test case at hand.
    evaluated_agent: Option<String>,
    /// Reused for every span, so reading allocates nothing after the first
    /// few spans (emptied between spans: see [`recycled`]).
    parts: SpanParts<'static>,
    /// What derived log records share across spans.
    log_cache: logs::LogCache,
}

impl Enricher {
    pub fn new(options: GenkitOptions) -> Self {
        Self {
            agents: Agents::new(options.agent_reparenting)
                .expecting_agents(options.agents_expected || !options.agent_flows.is_empty()),
            tool_refs: BySpanId::default(),
            call_id: None,
            model: None,
            session: None,
            agent_names: None,
            agent_traces: VecDeque::new(),
            evaluated_agent: None,
            options,
            failures: Failures::default(),
            parts: SpanParts::default(),
            log_cache: logs::LogCache::default(),
        }
    }

    /// Takes in a span as it ends: marks it when it is a failure source,
    /// and hands what it derives to `points` (labels and the measurements
    /// that share them, borrowed: see [`metrics::derive_groups`]) and `log`.
    /// With `config_with_span` (the span is exported, and its records would
    /// share its sampling), a model call's `Config[...]` record is not
    /// handed to `log` but marked on the span for the writer to write with
    /// it (see `logs::ConfigLog`); the caller counts it as derived.
    /// Returns what the agent tracker needs of it (see [`Agents::ended`]).
    pub fn enrich(
        &mut self,
        span: &mut PackedSpan,
        config_with_span: bool,
        points: &mut impl FnMut(&[(&str, &str)], &[Measure]),
        log: &mut impl FnMut(LogRecord),
    ) -> Seen {
        let mut parts: SpanParts<'_> = std::mem::take(&mut self.parts);
        // Only `genkit:*` attributes are asked for here: the others are
        // stepped over (the writer reads them when it writes the span).
        let (source, seen, config_left) = if parts.read_attributes(span, GenkitKey::is_genkit) {
            self.derive(&parts, config_with_span, points, log)
        } else {
            (false, Seen::default(), false)
        };
        self.parts = recycled(parts);
        if source {
            span.mark_failure_source();
        }
        if config_left {
            span.mark_config_log();
        }
        if let Some(id) = self.call_id.take() {
            span.tool_call_id(&id);
        }
        if let Some(model) = self.model.take().filter(|_| !span.sampled_out()) {
            span.model_reply(&model.reply());
        }
        if let Some(agent) = self.evaluated_agent.take() {
            span.evaluated_agent(&agent);
        }
        seen
    }

    /// [`Enricher::enrich`] with each point owned (what tests read).
    #[cfg(test)]
    pub fn span(
        &mut self,
        span: &mut PackedSpan,
        point: &mut impl FnMut(MetricPoint),
        log: &mut impl FnMut(LogRecord),
    ) {
        self.enrich(
            span,
            false,
            &mut |labels: &[(&str, &str)], measures: &[Measure]| {
                for m in measures {
                    point(metrics::point_of(labels, m));
                }
            },
            log,
        );
    }

    /// Hands a span that ended to the agent tracker: `Some` when it goes on
    /// now; what its end releases goes to `released`.
    pub fn settle(
        &mut self,
        seen: Seen,
        span: PackedSpan,
        exported: bool,
        released: &mut Vec<PackedSpan>,
    ) -> Option<PackedSpan> {
        let session = self.session.take();
        let names = self.agent_names.take();
        let names = names.as_ref().map(|(n, m)| (n.as_str(), m.as_str()));
        self.agents
            .ended(seen, span, exported, session.as_deref(), names, released)
    }

    /// Whether spans may wait tentatively for the agent tracker, so that
    /// [`Enricher::sweep`] is due (see `agents.rs`).
    pub fn sweeps(&self) -> bool {
        self.agents.sweeps()
    }

    /// Spans held tentatively for too long go on (see [`Agents::sweep`]).
    pub fn sweep(&mut self, released: &mut Vec<PackedSpan>) {
        self.agents.sweep(released);
    }

    /// Every span held for its agent (a flush, the shutdown).
    pub fn release_all(&mut self, released: &mut Vec<PackedSpan>) {
        self.agents.release_all(released);
    }

    /// Everything but the marking: whether the span is a failure source,
    /// what the agent tracker needs of it, and whether its `Config[...]`
    /// record was left to the writer.
    fn derive(
        &mut self,
        parts: &SpanParts<'_>,
        config_with_span: bool,
        points: &mut impl FnMut(&[(&str, &str)], &[Measure]),
        log: &mut impl FnMut(LogRecord),
    ) -> (bool, Seen, bool) {
        self.session = None;
        self.agent_names = None;
        // One pass over the attributes, for the tracker and the facts both.
        let scan = GenkitSpan::scan(parts);
        let source = self.failures.ended(Ended {
            span_id: *parts.span_id,
            parent: parts
                .parent_span_id
                .filter(|_| !parts.parent_is_remote)
                .copied(),
            // Genkit's `generate` hands a tool's failure back in its response
            // and ends with `genkit:state` error but no Error status: it
            // still failed because of the tool.
            failed: parts.status == StatusCode::Error || scan.span.failed(),
            genkit: scan.has_type,
        });
        let mut seen = Seen {
            span_id: *parts.span_id,
            parent: parts
                .parent_span_id
                .filter(|_| !parts.parent_is_remote)
                .copied(),
            ..Seen::default()
        };
        if !self.tool_refs.is_empty() {
            // A `generate` step that ended: its calls are done.
            self.tool_refs.remove(&seen.span_id);
        }
        if !scan.genkit {
            return (source, seen, false);
        }
        let role = scan.span.role_among(&self.options.agent_flows);
        if role == Role::Tool && !self.tool_refs.is_empty() {
            self.call_id = seen
                .parent
                .and_then(|p| self.tool_refs.get(&p))
                .and_then(|refs| refs.iter().find(|(name, _)| name == scan.span.name))
                .map(|(_, id)| id.clone());
        }
        // Every span Genkit made is placed among agents by its path (one
        // search for the agent marker when no flow is presented as one).
        let (inside, child_of_agent) = self.options.agent_flows.position(scan.span.path);
        seen.genkit = true;
        seen.inside = inside;
        seen.child_of_agent = child_of_agent;
        seen.agent = role == Role::Agent;
        if (inside || seen.agent) && self.agents.awaits_names(&seen.span_id) {
            // Spans that are not Genkit's ran below it: its agents are theirs.
            self.agent_names = scan
                .span
                .agents(&self.options.agent_flows)
                .map(|(main, nearest)| (nearest.into_owned(), main.into_owned()));
        }
        if seen.agent && !inside {
            // The main agent's session is its conversation.
            self.session = scan.span.session_id.map(str::to_string);
            self.note_agent_trace(*parts.trace_id, scan.span.name);
        }
        if scan.span.kind == "evaluator" && !self.agent_traces.is_empty() {
            self.evaluated_agent = scan.span.input.and_then(|i| self.agent_of_data_point(i));
        }
        seen.call_inside_agent = inside && matches!(role, Role::Model | Role::Tool);
        let model_inside_agent = seen.call_inside_agent && role == Role::Model;
        if !(self.options.metrics || self.options.logs) {
            if role == Role::Model {
                let model = scan.span.output.and_then(ModelOutput::parse);
                if model_inside_agent {
                    seen.tokens = model.as_ref().map(tokens);
                }
                self.note_tool_refs(seen.parent, model.as_ref());
                self.model = model;
            }
            return (source, seen, false);
        }
        let mut facts = SpanFacts::of(scan.span, parts, source);
        if role == Role::Model {
            if model_inside_agent {
                seen.tokens = facts.model.as_ref().map(tokens);
            }
            self.note_tool_refs(seen.parent, facts.model.as_ref());
        }
        let o = &self.options;
        if o.metrics {
            metrics::derive_groups(&facts, &o.source, points);
        }
        let config_left = o.logs && {
            let (cache, io) = (&mut self.log_cache, o.log_input_and_output);
            logs::derive_with(&facts, &o.source, io, cache, config_with_span, log)
        };
        self.model = facts.model.take();
        (source, seen, config_left)
    }
}

/// Recent traces remembered for joining evaluations to their agents.
const AGENT_TRACES: usize = 1024;

impl Enricher {
    /// A main agent ended in `trace`: an evaluation of that trace is its.
    fn note_agent_trace(&mut self, trace: [u8; 16], agent: &str) {
        if self.agent_traces.iter().any(|(t, _)| *t == trace) {
            return;
        }
        if self.agent_traces.len() >= AGENT_TRACES {
            self.agent_traces.pop_front();
        }
        self.agent_traces.push_back((trace, agent.to_string()));
    }

    /// The agent of the first trace an evaluator's data point names (its
    /// `traceIds`, as Genkit's evaluation runs fill them) that this process
    /// saw an agent run in.
    fn agent_of_data_point(&self, data_point: &str) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(data_point).ok()?;
        let ids = v.get("traceIds")?.as_array()?;
        ids.iter()
            .filter_map(serde_json::Value::as_str)
            .find_map(|id| {
                let trace = parse_trace_id(id)?;
                self.agent_traces
                    .iter()
                    .rev()
                    .find(|(t, _)| *t == trace)
                    .map(|(_, agent)| agent.clone())
            })
    }

    /// A model call ended under `parent`: the tools its output asks for are
    /// what the next tool spans there answer.
    fn note_tool_refs(&mut self, parent: Option<[u8; 8]>, model: Option<&ModelOutput>) {
        let Some(parent) = parent else {
            return;
        };
        match model.filter(|m| !m.tool_refs.is_empty()) {
            Some(m) => {
                // A parent that never ends here cannot grow this for good.
                if self.tool_refs.len() >= agents::MAX_PENDING {
                    self.tool_refs.clear();
                }
                self.tool_refs.insert(parent, m.tool_refs.clone());
            }
            None if !self.tool_refs.is_empty() => {
                self.tool_refs.remove(&parent);
            }
            None => {}
        }
    }
}

/// A trace id in its 32 hex digits.
fn parse_trace_id(hex: &str) -> Option<[u8; 16]> {
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A model call's input and output tokens (absent counts as none).
fn tokens(m: &ModelOutput) -> (f64, f64) {
    (
        m.usage.input_tokens.unwrap_or(0.0),
        m.usage.output_tokens.unwrap_or(0.0),
    )
}

/// `parts` emptied, keeping its buffers, free of the span it borrowed.
fn recycled(parts: SpanParts<'_>) -> SpanParts<'static> {
    SpanParts {
        attrs: emptied(parts.attrs),
        events: emptied(parts.events),
        links: emptied(parts.links),
        nested: emptied(parts.nested),
        ..SpanParts::default()
    }
}

/// An empty vector of another lifetime in the same allocation: collecting
/// a vector's `into_iter()` reuses its buffer when the item layouts match
/// (here they differ by a lifetime only), and nothing is left to convert.
fn emptied<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().map(|_| unreachable!("emptied")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::SpanPacker;
    use opentelemetry::trace::SpanKind;

    fn span(id: u8, parent: Option<u8>, attrs: &[(&str, &str)], failed: bool) -> PackedSpan {
        let mut p = SpanPacker::new(
            [1; 16],
            [id; 8],
            parent.map(|p| [p; 8]),
            false,
            SpanKind::Internal,
            0,
            1_000_000,
        );
        for (k, v) in attrs {
            p.attribute_str(k, v);
        }
        if failed {
            p.status_error("boom");
        }
        p.finish().unwrap()
    }

    fn run(e: &mut Enricher, s: &mut PackedSpan) -> (Vec<MetricPoint>, Vec<LogRecord>) {
        let (mut points, mut logs) = (Vec::new(), Vec::new());
        e.span(s, &mut |p| points.push(p), &mut |l| logs.push(l));
        (points, logs)
    }

    fn failure_source(s: &PackedSpan) -> bool {
        let mut parts = SpanParts::default();
        parts.read(s);
        parts.failure_source
    }

    /// An evaluation run over an agent's traces (Genkit fills a data
    /// point's `traceIds`) is joined to the agent that ran in one of them;
    /// a test case naming no trace seen here is joined to none.
    #[test]
    fn an_evaluated_trace_names_its_agent() {
        let evaluated = |e: &mut Enricher, input: &str| {
            let mut p = SpanPacker::new([9; 16], [7; 8], None, false, SpanKind::Internal, 0, 1);
            for (k, v) in [
                ("genkit:name", "Test Case tc1"),
                ("genkit:type", "evaluator"),
                (
                    "genkit:path",
                    "/{myeval/relevance,t:action,s:evaluator}/{Test Case tc1,t:evaluator}",
                ),
                ("genkit:input", input),
            ] {
                p.attribute_str(k, v);
            }
            let mut s = p.finish().unwrap();
            run(e, &mut s);
            let mut parts = SpanParts::default();
            assert!(parts.read(&s));
            parts.evaluated_agent.map(str::to_string)
        };
        let mut e = Enricher::new(GenkitOptions::default());
        let mut agent = span(
            1,
            None,
            &[
                ("genkit:name", "weather_agent"),
                ("genkit:type", "action"),
                ("genkit:metadata:subtype", "agent"),
                ("genkit:path", "/{weather_agent,t:action,s:agent}"),
            ],
            false,
        );
        run(&mut e, &mut agent);
        let agent_trace = "01010101010101010101010101010101";
        let other_trace = "02020202020202020202020202020202";
        assert_eq!(
            evaluated(
                &mut e,
                &format!(r#"{{"input":"hi","traceIds":["{other_trace}","{agent_trace}"]}}"#)
            ),
            Some("weather_agent".to_string())
        );
        assert_eq!(
            evaluated(&mut e, &format!(r#"{{"traceIds":["{other_trace}"]}}"#)),
            None
        );
        assert_eq!(evaluated(&mut e, r#"{"input":"no traces"}"#), None);
    }

    #[test]
    fn a_failing_tool_under_a_flow_is_marked_and_logged() {
        let mut e = Enricher::new(GenkitOptions::default());
        let mut tool = span(
            2,
            Some(1),
            &[
                ("genkit:type", "action"),
                ("genkit:metadata:subtype", "tool.v2"),
                ("genkit:name", "t"),
                ("genkit:path", "/{f,t:action,s:flow}/{t,t:action,s:tool.v2}"),
                ("genkit:state", "error"),
            ],
            true,
        );
        let (points, logs) = run(&mut e, &mut tool);
        assert!(failure_source(&tool));
        assert_eq!(points.len(), 2, "path requests and latency");
        assert_eq!(logs.len(), 1, "Error[...]");
        let mut flow = span(
            1,
            None,
            &[
                ("genkit:type", "action"),
                ("genkit:metadata:subtype", "flow"),
                ("genkit:name", "f"),
                ("genkit:path", "/{f,t:action,s:flow}"),
                ("genkit:state", "error"),
            ],
            true,
        );
        let (points, logs) = run(&mut e, &mut flow);
        assert!(!failure_source(&flow));
        let names: Vec<&str> = points.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["genkit/feature/requests", "genkit/feature/latency"]);
        assert!(logs.is_empty());
    }

    #[test]
    fn options_turn_each_derivation_off_and_other_spans_derive_nothing() {
        let model = |id| {
            span(
                id,
                Some(9),
                &[
                    ("genkit:type", "action"),
                    ("genkit:metadata:subtype", "model"),
                    ("genkit:path", "/{f,t:action,s:flow}/{m,t:action,s:model}"),
                ],
                false,
            )
        };
        let mut e = Enricher::new(GenkitOptions {
            metrics: false,
            ..GenkitOptions::default()
        });
        let (points, logs) = run(&mut e, &mut model(1));
        assert!(points.is_empty() && logs.len() == 1);
        let mut e = Enricher::new(GenkitOptions {
            logs: false,
            ..GenkitOptions::default()
        });
        let (points, logs) = run(&mut e, &mut model(2));
        assert!(!points.is_empty() && logs.is_empty());
        let (points, logs) = run(&mut e, &mut span(3, None, &[("http.method", "GET")], true));
        assert!(points.is_empty() && logs.is_empty());
    }

    #[test]
    fn a_tool_span_answers_the_request_its_model_named_once() {
        let out = r#"{"message":{"role":"model","content":[{"toolRequest":{"name":"get_weather","ref":"call-1","input":"Paris"}}]}}"#;
        let model = |id| {
            span(
                id,
                Some(3),
                &[
                    ("genkit:type", "action"),
                    ("genkit:metadata:subtype", "model"),
                    ("genkit:name", "m"),
                    ("genkit:output", out),
                ],
                false,
            )
        };
        let tool = |id, name| {
            span(
                id,
                Some(3),
                &[
                    ("genkit:type", "action"),
                    ("genkit:metadata:subtype", "tool.v2"),
                    ("genkit:name", name),
                ],
                false,
            )
        };
        let call_id = |s: &PackedSpan| {
            let mut parts = SpanParts::default();
            parts.read(s);
            parts.tool_call_id.map(str::to_string)
        };
        for options in [
            GenkitOptions::default(),
            GenkitOptions {
                metrics: false,
                logs: false,
                ..GenkitOptions::default()
            },
        ] {
            let mut e = Enricher::new(options);
            let mut asking = model(4);
            run(&mut e, &mut asking);
            // Its response as read here stays on the span, for the writer.
            let mut parts = SpanParts::default();
            parts.read(&asking);
            let kept = parts.model_reply.expect("the response is kept");
            assert!(kept.tool_calls && kept.input_tokens.is_none());
            let mut weather = tool(5, "get_weather");
            run(&mut e, &mut weather);
            assert_eq!(call_id(&weather).as_deref(), Some("call-1"));
            let mut other = tool(6, "other");
            run(&mut e, &mut other);
            assert_eq!(call_id(&other), None, "not asked for");
            // The generate step ends: its calls are done.
            run(
                &mut e,
                &mut span(3, Some(2), &[("genkit:type", "util")], false),
            );
            assert!(e.tool_refs.is_empty());
            let mut late = tool(7, "get_weather");
            run(&mut e, &mut late);
            assert_eq!(call_id(&late), None);
        }
    }

    /// triage > turn > generate > billing > turn > generate > model, tool >
    /// HTTP call (not Genkit's): ending in that order through the enricher,
    /// the HTTP call learns its agents from the tool's path, the nearest
    /// (billing) and the main one (triage).
    #[test]
    fn a_span_genkit_did_not_make_takes_the_agents_of_the_genkit_span_above() {
        let outer = "/{triage,t:action,s:agent}/{runTurn-1,t:flowStep}/{generate,t:util}";
        let inner = format!(
            "{outer}/{{billing,t:action,s:agent}}/{{runTurn-1,t:flowStep}}/{{generate,t:util}}"
        );
        let genkit = |name: &str, kind: &str, subtype: &str, path: String| {
            vec![
                ("genkit:name", name.to_string()),
                ("genkit:type", kind.to_string()),
                ("genkit:metadata:subtype", subtype.to_string()),
                ("genkit:path", path),
            ]
        };
        let model = genkit(
            "m",
            "action",
            "model",
            format!("{inner}/{{m,t:action,s:model}}"),
        );
        let tool = genkit(
            "lookup",
            "action",
            "tool.v2",
            format!("{inner}/{{lookup,t:action,s:tool.v2}}"),
        );
        let mut e = Enricher::new(GenkitOptions {
            metrics: false,
            logs: false,
            ..GenkitOptions::default()
        });
        let mut released = Vec::new();
        let mut end = |e: &mut Enricher, id: u8, parent: u8, attrs: &[(&str, String)]| {
            let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let mut s = span(id, Some(parent), &attrs, false);
            let seen = e.enrich(&mut s, false, &mut |_, _| {}, &mut |_| {});
            e.settle(seen, s, true, &mut released)
        };
        assert!(
            end(&mut e, 7, 6, &model).is_none(),
            "a call inside an agent waits"
        );
        assert!(
            end(&mut e, 9, 8, &[]).is_none(),
            "the HTTP call waits on the tool"
        );
        assert!(end(&mut e, 8, 6, &tool).is_none());
        e.release_all(&mut released);
        let http = released
            .iter()
            .find(|s| s.bytes()[16] == 9)
            .expect("released");
        let mut parts = SpanParts::default();
        assert!(parts.read(http));
        assert_eq!(parts.agent_names, Some(("billing", "triage")));
        let model = released
            .iter()
            .find(|s| s.bytes()[16] == 7)
            .expect("released");
        assert!(parts.read(model));
        assert_eq!(
            parts.agent_names, None,
            "Genkit's spans say it through their path"
        );
    }

    #[test]
    fn the_reading_buffer_is_reused() {
        let mut e = Enricher::new(GenkitOptions::default());
        let attrs: Vec<(String, String)> = (0..20)
            .map(|i| (format!("genkit:k{i}"), "v".to_string()))
            .collect();
        let refs: Vec<(&str, &str)> = attrs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        run(&mut e, &mut span(1, None, &refs, false));
        let capacity = e.parts.attrs.capacity();
        assert!(capacity >= 20, "{capacity}");
        assert!(e.parts.attrs.is_empty());
        run(&mut e, &mut span(2, None, &refs, false));
        assert_eq!(e.parts.attrs.capacity(), capacity);
    }
}
