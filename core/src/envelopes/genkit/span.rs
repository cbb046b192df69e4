//! One Genkit span's `genkit:*` attributes, read in one pass over the span.

use super::path::{enclosing_agents, AgentFlows};
use crate::ingest::intern::KeyMemo;
use crate::ingest::{Attr, SpanParts, ValueRef};
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

/// Which `genkit:*` attribute a key names, worked out once per interned
/// key (see `KeyMemo`): the worker reads a span's Genkit attributes twice
/// (its enrichment, then the view), and matching each key's text against a
/// dozen names was most of what a read cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum GenkitKey {
    /// Not `genkit:*`.
    None,
    /// A `genkit:*` key the worker does not read.
    Other,
    Name,
    Type,
    Subtype,
    Path,
    State,
    Error,
    Input,
    Output,
    FlowName,
    SessionId,
    IsRoot,
    IsFailureSource,
    /// `genkit:metadata:context`: always redacted.
    Context,
    /// `genkit:init`: content, like input and output.
    Init,
}

impl GenkitKey {
    const ALL: [GenkitKey; 16] = [
        GenkitKey::None,
        GenkitKey::Other,
        GenkitKey::Name,
        GenkitKey::Type,
        GenkitKey::Subtype,
        GenkitKey::Path,
        GenkitKey::State,
        GenkitKey::Error,
        GenkitKey::Input,
        GenkitKey::Output,
        GenkitKey::FlowName,
        GenkitKey::SessionId,
        GenkitKey::IsRoot,
        GenkitKey::IsFailureSource,
        GenkitKey::Context,
        GenkitKey::Init,
    ];

    /// The attribute `a`'s key, by its id once known.
    #[inline]
    pub fn of(a: &Attr<'_>) -> Self {
        Self::of_key(a.key, a.key_id)
    }

    /// The key `key`, whose interned id is `key_id` (if it has one).
    #[inline]
    pub fn of_key(key: &str, key_id: Option<u32>) -> Self {
        static MEMO: KeyMemo = KeyMemo::new();
        let fact = MEMO.get(key, key_id, |k| Self::of_text(k) as u8);
        Self::ALL
            .get(usize::from(fact))
            .copied()
            .unwrap_or(GenkitKey::None)
    }

    /// Whether the key is `genkit:*` (what the enrichment reads).
    #[inline]
    pub fn is_genkit(key: &str, key_id: Option<u32>) -> bool {
        Self::of_key(key, key_id) != GenkitKey::None
    }

    /// The key `key`, from its text (what a key with no id gets).
    pub fn of_text(key: &str) -> Self {
        let Some(key) = key.strip_prefix("genkit:") else {
            return GenkitKey::None;
        };
        match key {
            "name" => GenkitKey::Name,
            "type" => GenkitKey::Type,
            "metadata:subtype" => GenkitKey::Subtype,
            "path" => GenkitKey::Path,
            "state" => GenkitKey::State,
            "error" => GenkitKey::Error,
            "input" => GenkitKey::Input,
            "output" => GenkitKey::Output,
            "metadata:flow:name" => GenkitKey::FlowName,
            "metadata:agent:sessionId" => GenkitKey::SessionId,
            "isRoot" => GenkitKey::IsRoot,
            "isFailureSource" => GenkitKey::IsFailureSource,
            "metadata:context" => GenkitKey::Context,
            "init" => GenkitKey::Init,
            _ => GenkitKey::Other,
        }
    }
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
            let v = a.value;
            match GenkitKey::of(a) {
                GenkitKey::None | GenkitKey::Other | GenkitKey::Context | GenkitKey::Init => {}
                GenkitKey::Name => g.name = str_of(v).unwrap_or(g.name),
                GenkitKey::Type => {
                    has_type = true;
                    if let Some(t) = str_of(v) {
                        g.kind = t;
                        genkit = true;
                    }
                }
                GenkitKey::Subtype => g.subtype = str_of(v).unwrap_or(g.subtype),
                GenkitKey::Path => g.path = str_of(v).unwrap_or(g.path),
                GenkitKey::State => g.state = str_of(v),
                GenkitKey::Error => g.error = str_of(v),
                GenkitKey::Input => g.input = str_of(v),
                GenkitKey::Output => g.output = str_of(v),
                GenkitKey::FlowName => g.flow_name = str_of(v),
                GenkitKey::SessionId => g.session_id = str_of(v),
                GenkitKey::IsRoot => g.is_root = bool_of(v),
                GenkitKey::IsFailureSource => g.is_failure_source = bool_of(v),
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

    /// A key is told the same by its interned id as by its text, on a
    /// first meeting and after, and `ALL` lists the kinds in their order.
    #[test]
    fn genkit_keys_are_told_alike_by_id_and_by_text() {
        for (i, k) in GenkitKey::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
        let cases = [
            ("genkit:name", GenkitKey::Name),
            ("genkit:type", GenkitKey::Type),
            ("genkit:metadata:subtype", GenkitKey::Subtype),
            ("genkit:path", GenkitKey::Path),
            ("genkit:state", GenkitKey::State),
            ("genkit:error", GenkitKey::Error),
            ("genkit:input", GenkitKey::Input),
            ("genkit:output", GenkitKey::Output),
            ("genkit:metadata:flow:name", GenkitKey::FlowName),
            ("genkit:metadata:agent:sessionId", GenkitKey::SessionId),
            ("genkit:isRoot", GenkitKey::IsRoot),
            ("genkit:isFailureSource", GenkitKey::IsFailureSource),
            ("genkit:metadata:context", GenkitKey::Context),
            ("genkit:init", GenkitKey::Init),
            ("genkit:metadata:other", GenkitKey::Other),
            ("genkit:", GenkitKey::Other),
            ("genkit", GenkitKey::None),
            ("Genkit:name", GenkitKey::None),
            ("http.route", GenkitKey::None),
        ];
        for _ in 0..2 {
            for (key, kind) in cases {
                let id = crate::ingest::intern::key_id(key);
                assert!(id.is_some(), "{key} is interned");
                assert_eq!(GenkitKey::of_key(key, id), kind, "{key} by id");
                assert_eq!(GenkitKey::of_key(key, None), kind, "{key} inline");
                let genkit = kind != GenkitKey::None;
                assert_eq!(GenkitKey::is_genkit(key, id), genkit, "{key} by id");
                assert_eq!(GenkitKey::is_genkit(key, None), genkit, "{key} inline");
            }
        }
    }

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
