//! Reading a packed span in place: every text a `SpanParts` hands out borrows
//! from the packed bytes (or from the interned key table), so the envelope
//! writer serialises a span without building `SpanData`, a map, or a string.
//!
//! One `SpanParts` is reused for every span of a batch: reading clears it and
//! refills its vectors, so after the first few spans reading allocates nothing.

use super::intern;
use super::packed_span::{
    read_u64, PackedSpan, AGENT_NAMES, AGENT_USAGE, ATTR, A_BOOL, A_F64, A_I64, A_STR, END_AT,
    EVALUATED_AGENT, EVENT, FLAGS_AT, FLAG_FAILURE_SOURCE, FLAG_PARENT, FLAG_PARENT_REMOTE, HEADER,
    INLINE_KEY, LINK, MAIN_CONVERSATION, MODEL_REPLY, NAME, OPERATION, REPARENT,
    REPLY_CACHED_CONTENT_TOKENS, REPLY_INPUT_TOKENS, REPLY_OUTPUT_TOKENS, REPLY_THOUGHTS_TOKENS,
    REPLY_TOOL_CALLS, SAMPLE_RATE, SCOPE, SCOPE_INLINE, START_AT, STATUS, TOOL_CALL_ID, V_F64,
    V_FALSE, V_I64, V_STR, V_TRUE,
};
use std::ops::Range;

/// What a span represents, as packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

/// A span's status code, as packed (the description is `SpanParts::status_description`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusCode {
    Unset,
    Ok,
    Error,
}

/// An attribute value, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ValueRef<'a> {
    Bool(bool),
    I64(i64),
    F64(f64),
    Str(&'a str),
    Array(ArrayRef<'a>),
}

/// A homogeneous array value: its elements, still packed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ArrayRef<'a> {
    tag: u8,
    count: u32,
    bytes: &'a [u8],
}

/// One element of an [`ArrayRef`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Element<'a> {
    Bool(bool),
    I64(i64),
    F64(f64),
    Str(&'a str),
}

impl<'a> ArrayRef<'a> {
    /// The elements in order (stops early at a malformed byte, never panics).
    pub fn elements(&self) -> impl Iterator<Item = Element<'a>> + 'a {
        let mut r = Reader {
            b: self.bytes,
            at: 0,
        };
        let tag = self.tag;
        (0..self.count).map_while(move |_| {
            Some(match tag {
                A_BOOL => Element::Bool(r.u8()? != 0),
                A_I64 => Element::I64(r.u64()? as i64),
                A_F64 => Element::F64(f64::from_bits(r.u64()?)),
                _ => Element::Str(r.str()?),
            })
        })
    }
}

impl ValueRef<'_> {
    /// An owned OpenTelemetry value (for the SDK's types).
    pub fn to_value(self) -> opentelemetry::Value {
        use opentelemetry::{Array, StringValue, Value};
        match self {
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::I64(i) => Value::I64(i),
            ValueRef::F64(f) => Value::F64(f),
            ValueRef::Str(s) => Value::String(s.to_string().into()),
            ValueRef::Array(a) => {
                let e = a.elements();
                Value::Array(match a.tag {
                    A_BOOL => Array::Bool(
                        e.filter_map(|x| match x {
                            Element::Bool(b) => Some(b),
                            _ => None,
                        })
                        .collect(),
                    ),
                    A_I64 => Array::I64(
                        e.filter_map(|x| match x {
                            Element::I64(i) => Some(i),
                            _ => None,
                        })
                        .collect(),
                    ),
                    A_F64 => Array::F64(
                        e.filter_map(|x| match x {
                            Element::F64(f) => Some(f),
                            _ => None,
                        })
                        .collect(),
                    ),
                    _ => Array::String(
                        e.filter_map(|x| match x {
                            Element::Str(s) => Some(StringValue::from(s.to_string())),
                            _ => None,
                        })
                        .collect(),
                    ),
                })
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Attr<'a> {
    pub key: &'a str,
    /// The key's interned id (see `intern.rs`), when it has one: what a
    /// reader may keep facts about the key by.
    pub key_id: Option<u32>,
    pub value: ValueRef<'a>,
}

impl<'a> Attr<'a> {
    /// The value of `key` among `attrs`: the last one when the key repeats,
    /// as a map would keep it.
    pub fn last(attrs: &[Attr<'a>], key: &str) -> Option<ValueRef<'a>> {
        attrs.iter().rev().find(|a| a.key == key).map(|a| a.value)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct EventRef<'a> {
    pub name: &'a str,
    pub time_unix_nanos: u64,
    /// Into [`SpanParts::nested`].
    pub attrs: Range<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct LinkRef<'a> {
    pub trace_id: &'a [u8; 16],
    pub span_id: &'a [u8; 8],
    pub trace_flags: u8,
    pub remote: bool,
    /// Into [`SpanParts::nested`].
    pub attrs: Range<usize>,
}

/// The instrumentation scope, as packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeRef<'a> {
    /// None was given.
    Unset,
    /// An interned scope (plain name and version), by id.
    Interned(u32),
    /// Any other: its name, version and schema URL; its attributes are
    /// [`SpanParts::scope_attrs`].
    Inline {
        name: &'a str,
        version: Option<&'a str>,
        schema_url: Option<&'a str>,
    },
}

/// A span read in place. Fill with [`SpanParts::read`].
#[derive(Debug)]
pub(crate) struct SpanParts<'a> {
    pub trace_id: &'a [u8; 16],
    pub span_id: &'a [u8; 8],
    pub parent_span_id: Option<&'a [u8; 8]>,
    pub parent_is_remote: bool,
    pub trace_flags: u8,
    pub kind: Kind,
    pub status: StatusCode,
    pub status_description: &'a str,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub name: &'a str,
    /// The span's own attributes, in the order they were set.
    pub attrs: Vec<Attr<'a>>,
    pub events: Vec<EventRef<'a>>,
    pub links: Vec<LinkRef<'a>>,
    pub scope: ScopeRef<'a>,
    /// Attributes of the instrumentation scope (interned scopes have none).
    pub scope_attrs: Range<usize>,
    /// Attributes of events, links and the scope, addressed by their ranges.
    pub nested: Vec<Attr<'a>>,
    /// `ai.operation.name` as the face learnt it at the span's start.
    pub operation_name: Option<&'a str>,
    /// The span failed and none of its children did (set by the worker).
    pub failure_source: bool,
    /// The percentage of traces kept, when sampling kept its trace below
    /// 100 % (`sampleRate`); `None` is 100.
    pub sample_rate: Option<f64>,
    /// The agent span this model or tool call is exported under (set by the
    /// worker: `parent_span_id` stays its true parent).
    pub reparented: Option<&'a [u8; 8]>,
    /// An agent span's input and output tokens, summed over its model calls
    /// (set by the worker).
    pub agent_usage: Option<(f64, f64)>,
    /// A tool span's call id (set by the worker).
    pub tool_call_id: Option<&'a str>,
    /// A call's main agent's session (set by the worker).
    pub main_conversation_id: Option<&'a str>,
    /// An evaluator test case's agent, by the trace its data point names
    /// (set by the worker).
    pub evaluated_agent: Option<&'a str>,
    /// A span Genkit did not make, inside an agent: its nearest agent and
    /// the main one (set by the worker).
    pub agent_names: Option<(&'a str, &'a str)>,
    /// A model call's response, as the worker read it (set by the worker).
    pub model_reply: Option<ModelReply<'a>>,
}

/// What a model call's response (`genkit:output`) says that its envelope
/// shows: read once, by the worker, and kept on the packed span for the
/// writer, which would otherwise parse the response a second time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ModelReply<'a> {
    pub input_tokens: Option<f64>,
    pub output_tokens: Option<f64>,
    pub thoughts_tokens: Option<f64>,
    pub cached_content_tokens: Option<f64>,
    /// The response asks for a tool.
    pub tool_calls: bool,
    /// Genkit's `finishReason`.
    pub finish_reason: Option<&'a str>,
}

const ZERO_16: &[u8; 16] = &[0; 16];
const ZERO_8: &[u8; 8] = &[0; 8];

impl Default for SpanParts<'_> {
    fn default() -> Self {
        Self {
            trace_id: ZERO_16,
            span_id: ZERO_8,
            parent_span_id: None,
            parent_is_remote: false,
            trace_flags: 0,
            kind: Kind::Internal,
            status: StatusCode::Unset,
            status_description: "",
            start_unix_nanos: 0,
            end_unix_nanos: 0,
            name: "",
            attrs: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            scope: ScopeRef::Unset,
            scope_attrs: 0..0,
            nested: Vec::new(),
            operation_name: None,
            failure_source: false,
            sample_rate: None,
            reparented: None,
            agent_usage: None,
            tool_call_id: None,
            main_conversation_id: None,
            evaluated_agent: None,
            agent_names: None,
            model_reply: None,
        }
    }
}

impl<'a> SpanParts<'a> {
    /// Reads `span` into `self`, replacing what was there. Returns false when
    /// the bytes are malformed (`SpanPacker` never writes such; a reader still
    /// never panics): what was read up to that point stays.
    pub fn read(&mut self, span: &'a PackedSpan) -> bool {
        self.read_keeping(span, |_, _| true)
    }

    /// Reads `span` as [`SpanParts::read`] does, but keeps only the span
    /// attributes whose key `keep` accepts: the others are stepped over, their
    /// values neither checked nor collected. The worker's Genkit enrichment
    /// reads only `genkit:*` before the writer reads the whole span again.
    /// `keep` is given the key and its interned id, if any (what a reader
    /// may keep facts about the key by: see `KeyMemo`).
    pub fn read_attributes(
        &mut self,
        span: &'a PackedSpan,
        keep: impl Fn(&str, Option<u32>) -> bool,
    ) -> bool {
        self.read_keeping(span, keep)
    }

    #[inline]
    fn read_keeping(
        &mut self,
        span: &'a PackedSpan,
        keep: impl Fn(&str, Option<u32>) -> bool,
    ) -> bool {
        let b = span.bytes();
        self.attrs.clear();
        self.events.clear();
        self.links.clear();
        self.nested.clear();
        self.scope = ScopeRef::Unset;
        self.scope_attrs = 0..0;
        self.name = "";
        self.status_description = "";
        self.operation_name = None;
        self.failure_source = false;
        self.sample_rate = None;
        self.reparented = None;
        self.agent_usage = None;
        self.tool_call_id = None;
        self.main_conversation_id = None;
        self.evaluated_agent = None;
        self.agent_names = None;
        self.model_reply = None;
        if b.len() < HEADER {
            return false;
        }
        self.trace_id = b[0..16].try_into().expect("16 bytes");
        self.span_id = b[16..24].try_into().expect("8 bytes");
        let flags = b[FLAGS_AT];
        self.parent_span_id =
            (flags & FLAG_PARENT != 0).then(|| b[24..32].try_into().expect("8 bytes"));
        self.parent_is_remote = flags & FLAG_PARENT_REMOTE != 0;
        self.failure_source = flags & FLAG_FAILURE_SOURCE != 0;
        self.trace_flags = b[FLAGS_AT + 1];
        self.kind = match b[FLAGS_AT + 2] {
            1 => Kind::Server,
            2 => Kind::Client,
            3 => Kind::Producer,
            4 => Kind::Consumer,
            _ => Kind::Internal,
        };
        self.status = match b[FLAGS_AT + 3] {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        };
        self.start_unix_nanos = read_u64(b, START_AT);
        self.end_unix_nanos = read_u64(b, END_AT);
        let mut r = Reader { b, at: HEADER };
        self.records(&mut r, keep).is_some()
    }

    fn records(
        &mut self,
        r: &mut Reader<'a>,
        keep: impl Fn(&str, Option<u32>) -> bool,
    ) -> Option<()> {
        while r.at < r.b.len() {
            match r.u8()? {
                NAME => self.name = r.str()?,
                OPERATION => self.operation_name = Some(r.str()?),
                SAMPLE_RATE => self.sample_rate = Some(f64::from_bits(r.u64()?)),
                REPARENT => self.reparented = Some(r.bytes(8)?.try_into().ok()?),
                TOOL_CALL_ID => self.tool_call_id = Some(r.str()?),
                MAIN_CONVERSATION => self.main_conversation_id = Some(r.str()?),
                EVALUATED_AGENT => self.evaluated_agent = Some(r.str()?),
                AGENT_NAMES => {
                    let nearest = r.str()?;
                    self.agent_names = Some((nearest, r.str()?));
                }
                AGENT_USAGE => {
                    let input = f64::from_bits(r.u64()?);
                    self.agent_usage = Some((input, f64::from_bits(r.u64()?)));
                }
                MODEL_REPLY => {
                    let flags = r.u8()?;
                    let mut count = |bit: u8| -> Option<Option<f64>> {
                        let v = f64::from_bits(r.u64()?);
                        Some((flags & bit != 0).then_some(v))
                    };
                    self.model_reply = Some(ModelReply {
                        input_tokens: count(REPLY_INPUT_TOKENS)?,
                        output_tokens: count(REPLY_OUTPUT_TOKENS)?,
                        thoughts_tokens: count(REPLY_THOUGHTS_TOKENS)?,
                        cached_content_tokens: count(REPLY_CACHED_CONTENT_TOKENS)?,
                        tool_calls: flags & REPLY_TOOL_CALLS != 0,
                        finish_reason: r.opt_str()?,
                    });
                }
                STATUS => self.status_description = r.str()?,
                SCOPE => self.scope = ScopeRef::Interned(r.u32()?),
                SCOPE_INLINE => {
                    let name = r.str()?;
                    let version = r.opt_str()?;
                    let schema_url = r.opt_str()?;
                    self.scope = ScopeRef::Inline {
                        name,
                        version,
                        schema_url,
                    };
                    let n = r.u32()?;
                    self.scope_attrs = self.nested_pairs(r, n)?;
                }
                ATTR => {
                    let (key, key_id) = r.key()?;
                    if keep(key, key_id) {
                        let value = r.value()?;
                        self.attrs.push(Attr { key, key_id, value });
                    } else {
                        r.skip_value()?;
                    }
                }
                EVENT => {
                    let name = r.str()?;
                    let time_unix_nanos = r.u64()?;
                    let n = r.u32()?;
                    let attrs = self.nested_pairs(r, n)?;
                    self.events.push(EventRef {
                        name,
                        time_unix_nanos,
                        attrs,
                    });
                }
                LINK => {
                    let trace_id = r.bytes(16)?.try_into().ok()?;
                    let span_id = r.bytes(8)?.try_into().ok()?;
                    let trace_flags = r.u8()?;
                    let remote = r.u8()? != 0;
                    let n = r.u32()?;
                    let attrs = self.nested_pairs(r, n)?;
                    self.links.push(LinkRef {
                        trace_id,
                        span_id,
                        trace_flags,
                        remote,
                        attrs,
                    });
                }
                _ => return None,
            }
        }
        Some(())
    }

    fn nested_pairs(&mut self, r: &mut Reader<'a>, n: u32) -> Option<Range<usize>> {
        let start = self.nested.len();
        for _ in 0..n {
            let attr = r.pair()?;
            self.nested.push(attr);
        }
        Some(start..self.nested.len())
    }
}

/// Reads the packed format; `None` at the first malformed byte.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }

    /// A varint (see `packed_span::put_u32`); `None` past the end and for
    /// one that does not fit 32 bits.
    fn u32(&mut self) -> Option<u32> {
        let first = *self.b.get(self.at)?;
        self.at += 1;
        if first < 0x80 {
            return Some(u32::from(first));
        }
        let mut v = u32::from(first & 0x7f);
        for shift in [7, 14, 21, 28] {
            let b = *self.b.get(self.at)?;
            self.at += 1;
            // The fifth byte has room for 4 bits and ends the number.
            if shift == 28 && b > 0x0f {
                return None;
            }
            v |= u32::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }

    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        crate::text::utf8(self.bytes(n)?).ok()
    }

    fn opt_str(&mut self) -> Option<Option<&'a str>> {
        Some(match self.u8()? {
            0 => None,
            _ => Some(self.str()?),
        })
    }

    fn pair(&mut self) -> Option<Attr<'a>> {
        let (key, key_id) = self.key()?;
        Some(Attr {
            key,
            key_id,
            value: self.value()?,
        })
    }

    fn key(&mut self) -> Option<(&'a str, Option<u32>)> {
        match self.u32()? {
            INLINE_KEY => Some((self.str()?, None)),
            id => Some((intern::key_str_by_id(id)?, Some(id))),
        }
    }

    /// Steps over a value without checking its text.
    fn skip_value(&mut self) -> Option<()> {
        match self.u8()? {
            V_FALSE | V_TRUE => {}
            V_I64 | V_F64 => {
                self.bytes(8)?;
            }
            V_STR => {
                let n = self.u32()? as usize;
                self.bytes(n)?;
            }
            tag => {
                self.value_tagged(tag)?;
            }
        }
        Some(())
    }

    fn value(&mut self) -> Option<ValueRef<'a>> {
        let tag = self.u8()?;
        self.value_tagged(tag)
    }

    fn value_tagged(&mut self, tag: u8) -> Option<ValueRef<'a>> {
        Some(match tag {
            V_FALSE => ValueRef::Bool(false),
            V_TRUE => ValueRef::Bool(true),
            V_I64 => ValueRef::I64(self.u64()? as i64),
            V_F64 => ValueRef::F64(f64::from_bits(self.u64()?)),
            V_STR => ValueRef::Str(self.str()?),
            tag @ (A_BOOL | A_I64 | A_F64 | A_STR) => {
                let count = self.u32()?;
                let start = self.at;
                for _ in 0..count {
                    match tag {
                        A_BOOL => {
                            self.u8()?;
                        }
                        A_I64 | A_F64 => {
                            self.u64()?;
                        }
                        _ => {
                            self.str()?;
                        }
                    }
                }
                ValueRef::Array(ArrayRef {
                    tag,
                    count,
                    bytes: &self.b[start..self.at],
                })
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::SpanPacker;
    use opentelemetry::trace::{SpanKind, Status};
    use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};

    /// Varints read back what was written at every length's edge, and an
    /// unfinished one or one past 32 bits reads as nothing.
    #[test]
    fn varints_read_back_and_bad_ones_do_not() {
        let edges = [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 1 << 21, u32::MAX];
        let mut b = Vec::new();
        for v in edges {
            crate::ingest::packed_span::put_u32(&mut b, v);
        }
        assert_eq!(b.len(), 1 + 1 + 1 + 2 + 2 + 3 + 3 + 4 + 5);
        let mut r = Reader { b: &b, at: 0 };
        for v in edges {
            assert_eq!(r.u32(), Some(v));
        }
        assert_eq!(r.at, b.len());
        for bad in [&[0x80][..], &[0xff, 0xff, 0xff, 0xff, 0x10], &[0xff; 6]] {
            assert_eq!(Reader { b: bad, at: 0 }.u32(), None, "{bad:?}");
        }
    }

    /// A model call's response as the worker keeps it reads back as it was,
    /// each count there or not on its own, among the worker's other records.
    #[test]
    fn a_model_reply_reads_back_as_kept() {
        let full = ModelReply {
            input_tokens: Some(12.0),
            output_tokens: Some(4.5),
            thoughts_tokens: Some(3.0),
            cached_content_tokens: Some(0.0),
            tool_calls: true,
            finish_reason: Some("STOP \u{e9}"),
        };
        let mut replies = vec![ModelReply::default(), full];
        for missing in 0..4 {
            let mut r = full;
            *[
                &mut r.input_tokens,
                &mut r.output_tokens,
                &mut r.thoughts_tokens,
                &mut r.cached_content_tokens,
            ][missing] = None;
            r.tool_calls = missing % 2 == 0;
            r.finish_reason = (missing != 1).then_some("length");
            replies.push(r);
        }
        for reply in replies {
            let mut p = SpanPacker::new([1; 16], [2; 8], None, false, SpanKind::Internal, 1, 2);
            p.name("m");
            p.attribute_str("genkit:name", "m");
            let mut packed = p.finish().unwrap();
            packed.tool_call_id("call-1");
            packed.model_reply(&reply);
            packed.agent_usage(1.0, 2.0);
            let mut parts = SpanParts::default();
            assert!(parts.read(&packed));
            assert_eq!(parts.model_reply, Some(reply));
            assert_eq!(
                (parts.tool_call_id, parts.agent_usage, parts.attrs.len()),
                (Some("call-1"), Some((1.0, 2.0)), 1)
            );
        }
        let plain = SpanPacker::new([1; 16], [2; 8], None, false, SpanKind::Internal, 1, 2)
            .finish()
            .unwrap();
        let mut parts = SpanParts::default();
        assert!(parts.read(&plain));
        assert_eq!(parts.model_reply, None);
    }

    /// A read keeping some attributes steps over the others, of every value
    /// type, and reads the rest of the span as a whole read does.
    #[test]
    fn a_read_keeping_some_attributes_steps_over_the_others() {
        let mut p = SpanPacker::new([1; 16], [2; 8], None, false, SpanKind::Client, 1, 2);
        p.name("n");
        p.attribute_str("genkit:path", "/{f,t:flow}");
        p.attribute_str("http.method", "GET\u{e9}");
        p.attribute_i64("n", 4);
        p.attribute_f64("f", 0.5);
        p.attribute_bool("b", false);
        p.attribute("arr", &Value::Array(Array::I64(vec![1, 2])));
        p.attribute_str("an inline key, not interned", "v");
        p.attribute_str("genkit:state", "success");
        p.event("exception", 2, 1);
        p.attribute_str("exception.type", "E");
        let packed = p.finish().unwrap();
        let (mut all, mut some) = (SpanParts::default(), SpanParts::default());
        assert!(all.read(&packed));
        assert!(some.read_attributes(&packed, |k, _| k.starts_with("genkit:")));
        let keys: Vec<_> = some.attrs.iter().map(|a| (a.key, a.value)).collect();
        assert_eq!(
            keys,
            [
                ("genkit:path", ValueRef::Str("/{f,t:flow}")),
                ("genkit:state", ValueRef::Str("success"))
            ]
        );
        assert_eq!(all.attrs.len(), 8);
        assert_eq!((some.name, some.kind), (all.name, all.kind));
        assert_eq!(some.events.len(), 1);
        let (mine, whole) = (some.events[0].attrs.clone(), all.events[0].attrs.clone());
        assert_eq!(some.nested[mine], all.nested[whole]);
    }

    #[test]
    fn reads_what_the_packer_wrote_without_copying() {
        let mut p = SpanPacker::new(
            [1; 16],
            [2; 8],
            Some([3; 8]),
            true,
            SpanKind::Server,
            10,
            30,
        );
        p.name("GET /x");
        p.status(&Status::error("boom"));
        p.instrumentation_scope(
            &InstrumentationScope::builder("s")
                .with_attributes([KeyValue::new("ai.user.id", "u")])
                .build(),
        );
        p.attribute_str("http.method", "GET");
        p.event("exception", 20, 1);
        p.attribute_str("exception.type", "E");
        p.attribute_i64("n", -4);
        p.link([4; 16], [5; 8], false, 1);
        p.attribute_bool("l", true);
        p.attribute(
            "arr",
            &Value::Array(Array::String(vec!["a".into(), "b\"".into()])),
        );
        p.attribute_str("inline key that is long enough? no: fine", "v");
        let packed = p.finish().unwrap();
        let mut parts = SpanParts::default();
        assert!(parts.read(&packed));
        assert_eq!(parts.trace_id, &[1; 16]);
        assert_eq!(parts.parent_span_id, Some(&[3; 8]));
        assert!(parts.parent_is_remote);
        assert_eq!(parts.kind, Kind::Server);
        assert_eq!(parts.status, StatusCode::Error);
        assert_eq!(parts.status_description, "boom");
        assert_eq!((parts.start_unix_nanos, parts.end_unix_nanos), (10, 30));
        assert_eq!(parts.name, "GET /x");
        let keys: Vec<_> = parts.attrs.iter().map(|a| a.key).collect();
        assert_eq!(
            keys,
            [
                "http.method",
                "n",
                "arr",
                "inline key that is long enough? no: fine"
            ]
        );
        assert_eq!(parts.attrs[1].value, ValueRef::I64(-4));
        let ValueRef::Array(arr) = parts.attrs[2].value else {
            panic!("array")
        };
        assert_eq!(
            arr.elements().collect::<Vec<_>>(),
            [Element::Str("a"), Element::Str("b\"")]
        );
        assert_eq!(parts.events.len(), 1);
        let e = &parts.events[0];
        assert_eq!((e.name, e.time_unix_nanos), ("exception", 20));
        assert_eq!(
            parts.nested[e.attrs.clone()],
            [Attr {
                key: "exception.type",
                key_id: crate::ingest::intern::key_id("exception.type"),
                value: ValueRef::Str("E")
            }]
        );
        assert_eq!(parts.links[0].trace_id, &[4; 16]);
        assert_eq!(parts.links[0].span_id, &[5; 8]);
        assert_eq!(parts.nested[parts.scope_attrs.clone()][0].key, "ai.user.id");

        // Reused for a second span: nothing of the first remains.
        let plain = SpanPacker::new([9; 16], [8; 8], None, false, SpanKind::Internal, 1, 2)
            .finish()
            .unwrap();
        assert!(parts.read(&plain));
        assert!(parts.attrs.is_empty() && parts.events.is_empty() && parts.nested.is_empty());
        assert_eq!((parts.name, parts.parent_span_id), ("", None));
    }
}
