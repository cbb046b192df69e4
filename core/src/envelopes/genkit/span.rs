//! One Genkit span's `genkit:*` attributes, read in one pass over the span.

use super::path::{enclosing_agents, AgentFlows};
use crate::ingest::{SpanParts, ValueRef};
use std::borrow::Cow;

/// What a Genkit span is, by `genkit:metadata:subtype` / `genkit:type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Flow,
    Model,
    Tool,
    Agent,
    /// `genkit:type` = `userEngagement`: feedback and acceptance.
    UserEngagement,
    Other,
}

/// The `genkit:*` attributes of a span Genkit made.
#[derive(Debug, Clone, Default)]
pub(crate) struct GenkitSpan<'a> {
    /// `genkit:name`: the action or step (also the span's name).
    pub name: &'a str,
    /// `genkit:type`: `action`, `util`, `flowStep`, `userEngagement`, ...
    pub kind: &'a str,
    /// `genkit:metadata:subtype`: `flow`, `model`, `tool.v2`, `agent`, ...
    pub subtype: &'a str,
    /// `genkit:path`.
    pub path: &'a str,
    /// `genkit:state`: `success` or `error` (absent when cancelled).
    pub state: Option<&'a str>,
    /// `genkit:error`: the error message.
    pub error: Option<&'a str>,
    /// `genkit:input` / `genkit:output`: JSON texts.
    pub input: Option<&'a str>,
    pub output: Option<&'a str>,
    /// `genkit:metadata:flow:name`, on flow spans.
    pub flow_name: Option<&'a str>,
    /// `genkit:metadata:agent:sessionId`, on agent spans with a session.
    pub session_id: Option<&'a str>,
    /// `genkit:isRoot` / `genkit:isFailureSource`, when a host sets them
    /// (Genkit JS does; Python never does, so the pipeline derives both).
    pub is_root: bool,
    pub is_failure_source: bool,
}

/// What one pass over a span's attributes found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scan<'a> {
    /// Its `genkit:*` attributes, read whether or not Genkit made it.
    pub span: GenkitSpan<'a>,
    /// Genkit made it: a text `genkit:type`.
    pub genkit: bool,
    /// A `genkit:type` of any type (what the failure tracker asks).
    pub has_type: bool,
}

fn str_of(v: ValueRef<'_>) -> Option<&str> {
    match v {
        ValueRef::Str(s) => Some(s),
        _ => None,
    }
}

fn bool_of(v: ValueRef<'_>) -> bool {
    matches!(v, ValueRef::Bool(true) | ValueRef::Str("true"))
}

impl<'a> GenkitSpan<'a> {
    /// The span's Genkit attributes; `None` for a span Genkit did not make
    /// (no `genkit:type`).
    pub fn read(span: &SpanParts<'a>) -> Option<Self> {
        let scan = Self::scan(span);
        scan.genkit.then_some(scan.span)
    }

    /// One pass over the span's attributes for all that the worker reads
    /// from them (see [`Scan`]).
    pub fn scan(span: &SpanParts<'a>) -> Scan<'a> {
        let mut g = GenkitSpan::default();
        let (mut genkit, mut has_type) = (false, false);
        for a in &span.attrs {
            let Some(key) = a.key.strip_prefix("genkit:") else {
                continue;
            };
            let v = a.value;
            match key {
                "name" => g.name = str_of(v).unwrap_or(g.name),
                "type" => {
                    has_type = true;
                    if let Some(t) = str_of(v) {
                        g.kind = t;
                        genkit = true;
                    }
                }
                "metadata:subtype" => g.subtype = str_of(v).unwrap_or(g.subtype),
                "path" => g.path = str_of(v).unwrap_or(g.path),
                "state" => g.state = str_of(v),
                "error" => g.error = str_of(v),
                "input" => g.input = str_of(v),
                "output" => g.output = str_of(v),
                "metadata:flow:name" => g.flow_name = str_of(v),
                "metadata:agent:sessionId" => g.session_id = str_of(v),
                "isRoot" => g.is_root = bool_of(v),
                "isFailureSource" => g.is_failure_source = bool_of(v),
                _ => {}
            }
        }
        if g.name.is_empty() {
            g.name = span.name;
        }
        Scan {
            span: g,
            genkit,
            has_type,
        }
    }

    pub fn role(&self) -> Role {
        match self.subtype {
            "flow" => Role::Flow,
            "model" => Role::Model,
            "tool" | "tool.v2" => Role::Tool,
            "agent" => Role::Agent,
            _ if self.kind == "userEngagement" => Role::UserEngagement,
            _ => Role::Other,
        }
    }

    /// [`GenkitSpan::role`], with a flow presented as an agent
    /// (`agent_flows`) an agent.
    pub fn role_among(&self, flows: &AgentFlows) -> Role {
        match self.role() {
            Role::Flow if flows.contains(self.name) => Role::Agent,
            role => role,
        }
    }

    /// The agents it runs in, the outermost and the nearest (its own, for an
    /// agent; see [`enclosing_agents`]); an agent span without a path still
    /// names itself.
    pub fn agents(&self, flows: &AgentFlows) -> Option<(Cow<'a, str>, Cow<'a, str>)> {
        enclosing_agents(self.path, flows).or_else(|| {
            (self.role_among(flows) == Role::Agent)
                .then_some((Cow::Borrowed(self.name), Cow::Borrowed(self.name)))
        })
    }

    /// The outermost Genkit span of its operation, as Genkit JS sets
    /// `genkit:isRoot`: a flow served over HTTP is still the root of its
    /// feature though an HTTP span is its parent. It is the span whose
    /// `genkit:path` has one segment; a span with no path is one when it has
    /// no parent in this process.
    pub fn is_outermost(&self, parts: &SpanParts<'_>) -> bool {
        self.is_root
            || match segments_up_to_two(self.path) {
                0 => parts.parent_span_id.is_none() || parts.parent_is_remote,
                n => n == 1,
            }
    }

    /// `genkit:state` says it failed.
    pub fn failed(&self) -> bool {
        self.state == Some("error")
    }

    /// The feature (flow) the span serves, as the Google Cloud plugin labels
    /// its metrics: the flow's name, else the path's outermost feature.
    pub fn feature_name(&self) -> Cow<'a, str> {
        if let Some(flow) = self.flow_name {
            return Cow::Borrowed(flow);
        }
        super::feature_name(self.path).unwrap_or(Cow::Borrowed("<unknown>"))
    }

    /// [`GenkitSpan::feature_name`], `fallback` when it names none, cut
    /// as the plugin's labels are.
    pub fn feature_name_or(&self, fallback: &'a str) -> Cow<'a, str> {
        let name = match self.feature_name() {
            n if n == "<unknown>" || n.is_empty() => Cow::Borrowed(fallback),
            n => n,
        };
        super::facts::cut(name, super::facts::limits::NAME)
    }
}

/// How many of `path`'s `/`-separated parts start with `{`, counted up to
/// two (all that [`GenkitSpan::is_outermost`] asks): one pass over the bytes
/// instead of a `split` and a search per part, for every span, in the worker
/// and in the writer.
fn segments_up_to_two(path: &str) -> usize {
    let b = path.as_bytes();
    let mut n = usize::from(b.first() == Some(&b'{'));
    for w in b.windows(2) {
        if w == b"/{" {
            n += 1;
            if n == 2 {
                break;
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelopes::test_support::span_data;
    use crate::ingest::PackedSpan;
    use opentelemetry::KeyValue;

    #[test]
    fn reads_a_model_span() {
        let data = span_data(
            [1; 16],
            2,
            Some(1),
            opentelemetry::trace::SpanKind::Internal,
            "fake/echo",
            vec![
                KeyValue::new("genkit:name", "fake/echo"),
                KeyValue::new("genkit:type", "action"),
                KeyValue::new("genkit:metadata:subtype", "model"),
                KeyValue::new(
                    "genkit:path",
                    "/{f,t:action,s:flow}/{fake%2Fecho,t:action,s:model}",
                ),
                KeyValue::new("genkit:state", "error"),
                KeyValue::new("genkit:isRoot", true),
                KeyValue::new("other", "x"),
            ],
            std::time::SystemTime::now(),
            std::time::Duration::from_millis(5),
        );
        let packed = PackedSpan::from_span_data(&data).unwrap();
        let mut parts = SpanParts::default();
        assert!(parts.read(&packed));
        let g = GenkitSpan::read(&parts).expect("a Genkit span");
        assert_eq!(g.role(), Role::Model);
        assert!(g.failed());
        assert!(g.is_root);
        assert_eq!(g.feature_name(), "f");
    }

    #[test]
    fn spans_without_a_genkit_type_are_not_genkit_spans() {
        let data = span_data(
            [1; 16],
            2,
            None,
            opentelemetry::trace::SpanKind::Client,
            "GET",
            vec![KeyValue::new("genkit:name", "x")],
            std::time::SystemTime::now(),
            std::time::Duration::from_millis(5),
        );
        let packed = PackedSpan::from_span_data(&data).unwrap();
        let mut parts = SpanParts::default();
        parts.read(&packed);
        assert!(GenkitSpan::read(&parts).is_none());
    }

    #[test]
    fn segments_are_counted_as_split_counts_them() {
        let split = |p: &str| p.split('/').filter(|s| s.starts_with('{')).count().min(2);
        for p in [
            "",
            "/",
            "{a}",
            "/{a,t:flow}",
            "{a}/{b}",
            "/{a,t:flow}/{b,t:util}/{c,t:action}",
            "//{a}",
            "/x/{a}",
            "/{é/{",
            "a{/b",
            "/{",
        ] {
            assert_eq!(segments_up_to_two(p), split(p), "{p:?}");
        }
    }
}
