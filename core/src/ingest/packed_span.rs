//! A finished span packed into one allocation: the form a span takes while it
//! waits in the ingest queue.
//!
//! As `SpanData`, a span with ten attributes is about 1 KB in a dozen
//! allocations (a 352-byte struct, 56 bytes per `KeyValue`, a `String` per
//! value). Queued spans are the pipeline's largest memory cost whenever export
//! falls behind, and every allocation on the host's thread is time the app
//! waits. Packed, the same span is one allocation of about 250-350 bytes:
//! keys are ids of interned keys (see `intern.rs`), strings are copied
//! straight from the caller's text. The worker and the envelope writer read
//! it in place (`span_ref.rs`).
//!
//! Layout (little endian, unaligned): a fixed header, then records, each
//! starting with a tag byte, in any order.
//!
//! ```text
//! header  trace_id[16] span_id[8] parent_span_id[8] flags:u8 trace_flags:u8
//!         kind:u8 status:u8 start:u64 end:u64 span_attributes:u32
//! NAME    str
//! STATUS  str                       (the error description)
//! SCOPE   u32                       (an interned scope)
//! SCOPE_INLINE str opt-str opt-str u32 pair*   (name, version, schema URL, attributes)
//! ATTR    pair                      (a span attribute)
//! EVENT   str u64 u32 pair*         (name, time, attributes)
//! LINK    trace_id[16] span_id[8] trace_flags:u8 remote:u8 u32 pair*
//! OPERATION str                     (`ai.operation.name`, known at the span's start)
//! SAMPLE_RATE f64                   (the percentage of traces kept, under 100;
//!                                    always the first record)
//! REPARENT span_id[8]               (set by the worker: the agent span a model or
//!                                    tool call is parented to in the export)
//! AGENT_USAGE f64 f64               (set by the worker on an agent span: the input
//!                                    and output tokens of its model calls)
//! TOOL_CALL_ID str                  (set by the worker on a tool span: the `ref` of
//!                                    the model's request it answers)
//! MAIN_CONVERSATION str             (set by the worker on a call inside an agent: the
//!                                    main agent's session)
//! EVALUATED_AGENT str               (set by the worker on an evaluator's test case: the
//!                                    main agent of a trace the test case names)
//! AGENT_NAMES str str               (set by the worker on a span Genkit did not make inside
//!                                    an agent: its nearest agent and the main agent)
//! MODEL_REPLY u8 f64 f64 f64 f64 opt-str  (set by the worker on a model call: what its
//!                                    response says, see `ModelReply`)
//! pair    key value;  key = u32 id | u32::MAX str
//! value   tag:u8 payload;  str = u32 length + UTF-8 bytes
//! ```
//!
//! Outside the header a `u32` (ids, counts, lengths) is a varint (LEB128):
//! one byte below 128, which most are, so a queued span holds a fifth fewer
//! bytes than with fixed four.
//!
//! Only [`SpanPacker`] writes the bytes, so they are well formed by
//! construction; unpacking still never panics on them.

use super::intern;
use super::sampling::Sampled;
use super::span_ref::{Attr, Kind, ModelReply, ScopeRef, SpanParts, StatusCode};
use crate::error::{ConfigError, Error, Result};
use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use std::borrow::Cow;
use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(super) const HEADER: usize = 16 + 8 + 8 + 4 + 8 + 8 + 4;
pub(super) const FLAGS_AT: usize = 32;
pub(super) const START_AT: usize = 36;
pub(super) const END_AT: usize = 44;
const ATTRIBUTES_AT: usize = 52;

pub(super) const FLAG_PARENT: u8 = 1;
pub(super) const FLAG_PARENT_REMOTE: u8 = 2;
/// Set by the worker, which sees spans in the order they end: the span failed
/// and none of its children did.
pub(super) const FLAG_FAILURE_SOURCE: u8 = 4;
/// Its trace was sampled out: the worker derives Genkit's metrics and logs
/// from it, then drops it (`spans_sampled_out`).
pub(super) const FLAG_SAMPLED_OUT: u8 = 8;
/// Set by the worker on an exported model call: the writer writes the call's
/// `Config[...]` log record next to the span (`ConfigLog`), an item of its
/// own that the span's batch accounts for (see [`PackedSpan::items`]).
pub(super) const FLAG_CONFIG_LOG: u8 = 16;

pub(super) const NAME: u8 = 1;
pub(super) const STATUS: u8 = 2;
pub(super) const SCOPE: u8 = 3;
pub(super) const SCOPE_INLINE: u8 = 4;
pub(super) const ATTR: u8 = 5;
pub(super) const EVENT: u8 = 6;
pub(super) const LINK: u8 = 7;
pub(super) const OPERATION: u8 = 8;
pub(super) const SAMPLE_RATE: u8 = 9;
pub(super) const REPARENT: u8 = 10;
pub(super) const AGENT_USAGE: u8 = 11;
pub(super) const TOOL_CALL_ID: u8 = 12;
pub(super) const MAIN_CONVERSATION: u8 = 13;
pub(super) const EVALUATED_AGENT: u8 = 14;
pub(super) const AGENT_NAMES: u8 = 15;
pub(super) const MODEL_REPLY: u8 = 16;

/// `MODEL_REPLY`'s first byte: which counts are there, and `tool_calls`.
pub(super) const REPLY_INPUT_TOKENS: u8 = 1;
pub(super) const REPLY_OUTPUT_TOKENS: u8 = 2;
pub(super) const REPLY_THOUGHTS_TOKENS: u8 = 4;
pub(super) const REPLY_CACHED_CONTENT_TOKENS: u8 = 8;
pub(super) const REPLY_TOOL_CALLS: u8 = 16;

pub(super) const INLINE_KEY: u32 = u32::MAX;
const MAX_SCRATCH_BYTES: usize = 64 * 1024;

pub(super) const V_FALSE: u8 = 0;
pub(super) const V_TRUE: u8 = 1;
pub(super) const V_I64: u8 = 2;
pub(super) const V_F64: u8 = 3;
pub(super) const V_STR: u8 = 4;
pub(super) const A_BOOL: u8 = 5;
pub(super) const A_I64: u8 = 6;
pub(super) const A_F64: u8 = 7;
pub(super) const A_STR: u8 = 8;

/// A finished, checked span in one allocation. Built with [`SpanPacker`] or
/// [`PackedSpan::from_span_data`].
#[derive(Clone, PartialEq, Eq)]
pub struct PackedSpan {
    bytes: Box<[u8]>,
}

impl std::fmt::Debug for PackedSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedSpan")
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

fn kind_byte(kind: &SpanKind) -> u8 {
    match kind {
        SpanKind::Internal => 0,
        SpanKind::Server => 1,
        SpanKind::Client => 2,
        SpanKind::Producer => 3,
        SpanKind::Consumer => 4,
    }
}

/// Converts Unix nanoseconds to `SystemTime`.
pub fn time_from_unix_nanos(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

/// `t` as Unix nanoseconds (0 before the epoch, saturating far after it).
pub(crate) fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Writes a [`PackedSpan`]. Attributes written right after [`SpanPacker::event`]
/// or [`SpanPacker::link`] belong to that event or link, as many as it was
/// told; every other attribute belongs to the span.
pub struct SpanPacker {
    buf: Vec<u8>,
    /// Attributes the open event, link or scope still expects.
    owed: u32,
    /// The span's own attributes so far, so unpacking allocates once.
    span_attributes: u32,
}

impl SpanPacker {
    /// Starts a span. `parent_span_id` all zero or `None` means a root span.
    pub fn new(
        trace_id: [u8; 16],
        span_id: [u8; 8],
        parent_span_id: Option<[u8; 8]>,
        parent_is_remote: bool,
        kind: SpanKind,
        start_unix_nanos: u64,
        end_unix_nanos: u64,
    ) -> Self {
        let mut buf = SCRATCH.with(|s| s.take());
        buf.clear();
        buf.extend_from_slice(&trace_id);
        buf.extend_from_slice(&span_id);
        let parent = parent_span_id.filter(|p| *p != [0; 8]);
        buf.extend_from_slice(&parent.unwrap_or([0; 8]));
        let mut flags = 0;
        if parent.is_some() {
            flags |= FLAG_PARENT;
            if parent_is_remote {
                flags |= FLAG_PARENT_REMOTE;
            }
        }
        buf.extend_from_slice(&[flags, TraceFlags::SAMPLED.to_u8(), kind_byte(&kind), 0]);
        buf.extend_from_slice(&start_unix_nanos.to_le_bytes());
        buf.extend_from_slice(&end_unix_nanos.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        Self {
            buf,
            owed: 0,
            span_attributes: 0,
        }
    }

    fn str(&mut self, s: &str) {
        put_str(&mut self.buf, s);
    }

    fn u32(&mut self, v: u32) {
        put_u32(&mut self.buf, v);
    }

    pub fn name(&mut self, name: &str) {
        self.buf.push(NAME);
        self.str(name);
    }

    /// The operation the span belongs to (`ai.operation.name`): the name of
    /// its root, which a face learns when the span starts (see
    /// `ingest::Operations`), since children end before their root.
    pub fn operation_name(&mut self, name: &str) {
        self.buf.push(OPERATION);
        self.str(name);
    }

    /// The trace's sampling decision (see `ingest::Operations::ended`): a
    /// dropped span is marked, a kept one below 100 % carries the
    /// percentage. Written first among the records wherever it is called,
    /// so the worker reads it without reading the span.
    pub fn sampling(&mut self, sampled: Sampled) {
        if !sampled.keep {
            self.buf[FLAGS_AT] |= FLAG_SAMPLED_OUT;
        } else if sampled.percentage < 100.0 {
            let mut record = [0u8; 9];
            record[0] = SAMPLE_RATE;
            record[1..].copy_from_slice(&sampled.percentage.to_le_bytes());
            self.buf.splice(HEADER..HEADER, record);
        }
    }

    pub fn status(&mut self, status: &Status) {
        match status {
            Status::Unset => self.buf[FLAGS_AT + 3] = 0,
            Status::Ok => self.status_ok(),
            Status::Error { description } => self.status_error(description),
        }
    }

    /// The span succeeded (`Status::Ok`).
    pub fn status_ok(&mut self) {
        self.buf[FLAGS_AT + 3] = 1;
    }

    /// The span failed; `description` says why (empty: not said). Borrowed,
    /// so a face need not build a `Status` (and a `String`) to say it.
    pub fn status_error(&mut self, description: &str) {
        if !description.is_empty() {
            self.buf.push(STATUS);
            self.str(description);
        }
        self.buf[FLAGS_AT + 3] = 2;
    }

    /// The instrumentation scope, shared when it is a plain name and version.
    pub fn scope(&mut self, name: &str, version: Option<&str>) {
        match intern::scope_id(name, version) {
            Some(id) => {
                self.buf.push(SCOPE);
                self.u32(id);
            }
            None => self.scope_inline(name, version, None, 0),
        }
    }

    /// [`Self::scope`] with the scope as an interned scope's id, for a face
    /// that keeps ids by its own scope objects; the same bytes.
    pub fn scope_at(&mut self, scope: intern::ScopeId) {
        self.buf.push(SCOPE);
        self.u32(scope.0);
    }

    /// Any instrumentation scope (schema URL and attributes included).
    pub fn instrumentation_scope(&mut self, scope: &InstrumentationScope) {
        if scope.schema_url().is_none() && scope.attributes().next().is_none() {
            return self.scope(scope.name(), scope.version());
        }
        let attributes: Vec<&KeyValue> = scope.attributes().collect();
        self.scope_inline(
            scope.name(),
            scope.version(),
            scope.schema_url(),
            attributes.len() as u32,
        );
        self.attributes(attributes);
    }

    fn scope_inline(
        &mut self,
        name: &str,
        version: Option<&str>,
        schema_url: Option<&str>,
        attributes: u32,
    ) {
        self.buf.push(SCOPE_INLINE);
        self.str(name);
        for part in [version, schema_url] {
            match part {
                Some(s) => {
                    self.buf.push(1);
                    self.str(s);
                }
                None => self.buf.push(0),
            }
        }
        self.u32(attributes);
        self.owed = attributes;
    }

    /// An event; the next `attributes` attributes written are its own.
    pub fn event(&mut self, name: &str, time_unix_nanos: u64, attributes: u32) {
        self.buf.push(EVENT);
        self.str(name);
        self.buf.extend_from_slice(&time_unix_nanos.to_le_bytes());
        self.u32(attributes);
        self.owed = attributes;
    }

    /// An OpenTelemetry event with its attributes.
    pub fn sdk_event(&mut self, e: &Event) {
        self.event(&e.name, unix_nanos(e.timestamp), e.attributes.len() as u32);
        self.attributes(&e.attributes);
    }

    /// A link; the next `attributes` attributes written are its own.
    pub fn link(&mut self, trace_id: [u8; 16], span_id: [u8; 8], remote: bool, attributes: u32) {
        self.buf.push(LINK);
        self.buf.extend_from_slice(&trace_id);
        self.buf.extend_from_slice(&span_id);
        self.buf
            .extend_from_slice(&[TraceFlags::SAMPLED.to_u8(), remote as u8]);
        self.u32(attributes);
        self.owed = attributes;
    }

    /// Opens an attribute record, or counts one of the pairs an event or a
    /// link announced.
    fn attribute_start(&mut self) {
        if self.owed > 0 {
            self.owed -= 1;
        } else {
            self.buf.push(ATTR);
            self.span_attributes = self.span_attributes.saturating_add(1);
        }
    }

    fn key(&mut self, key: &str) {
        match intern::key_id_cached(key) {
            Some(id) => self.key_at(intern::KeyId(id)),
            None => {
                self.attribute_start();
                self.u32(INLINE_KEY);
                self.str(key);
            }
        }
    }

    /// The key of an attribute as an interned key's id (no look-up of its
    /// text): what `key` writes for an interned key.
    fn key_at(&mut self, key: intern::KeyId) {
        self.attribute_start();
        self.u32(key.0);
    }

    fn str_value(&mut self, value: &str) {
        self.buf.push(V_STR);
        self.str(value);
    }

    fn i64_value(&mut self, value: i64) {
        self.buf.push(V_I64);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    fn f64_value(&mut self, value: f64) {
        self.buf.push(V_F64);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    fn bool_value(&mut self, value: bool) {
        self.buf.push(if value { V_TRUE } else { V_FALSE });
    }

    pub fn attribute_str(&mut self, key: &str, value: &str) {
        self.key(key);
        self.str_value(value);
    }

    pub fn attribute_i64(&mut self, key: &str, value: i64) {
        self.key(key);
        self.i64_value(value);
    }

    pub fn attribute_f64(&mut self, key: &str, value: f64) {
        self.key(key);
        self.f64_value(value);
    }

    pub fn attribute_bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.bool_value(value);
    }

    /// [`Self::attribute_str`] with the key as an interned key's id, for a
    /// face that keeps ids by its own key objects; the same bytes.
    pub fn attribute_str_at(&mut self, key: intern::KeyId, value: &str) {
        self.key_at(key);
        self.str_value(value);
    }

    /// [`Self::attribute_i64`] with the key's id.
    pub fn attribute_i64_at(&mut self, key: intern::KeyId, value: i64) {
        self.key_at(key);
        self.i64_value(value);
    }

    /// [`Self::attribute_f64`] with the key's id.
    pub fn attribute_f64_at(&mut self, key: intern::KeyId, value: f64) {
        self.key_at(key);
        self.f64_value(value);
    }

    /// [`Self::attribute_bool`] with the key's id.
    pub fn attribute_bool_at(&mut self, key: intern::KeyId, value: bool) {
        self.key_at(key);
        self.bool_value(value);
    }

    /// Several attributes, in order.
    pub fn attributes<'a>(&mut self, attributes: impl IntoIterator<Item = &'a KeyValue>) {
        for kv in attributes {
            self.attribute(kv.key.as_str(), &kv.value);
        }
    }

    /// Any OpenTelemetry value (arrays included).
    pub fn attribute(&mut self, key: &str, value: &Value) {
        match value {
            Value::Bool(b) => self.attribute_bool(key, *b),
            Value::I64(i) => self.attribute_i64(key, *i),
            Value::F64(f) => self.attribute_f64(key, *f),
            Value::String(s) => self.attribute_str(key, s.as_str()),
            Value::Array(a) => {
                self.key(key);
                self.array(a);
            }
            other => self.attribute_str(key, &other.as_str()),
        }
    }

    fn array(&mut self, a: &Array) {
        let count = |n: usize| n.min(u32::MAX as usize) as u32;
        match a {
            Array::Bool(v) => {
                self.buf.push(A_BOOL);
                self.u32(count(v.len()));
                self.buf.extend(v.iter().map(|b| *b as u8));
            }
            Array::I64(v) => {
                self.buf.push(A_I64);
                self.u32(count(v.len()));
                v.iter()
                    .for_each(|i| self.buf.extend_from_slice(&i.to_le_bytes()));
            }
            Array::F64(v) => {
                self.buf.push(A_F64);
                self.u32(count(v.len()));
                v.iter()
                    .for_each(|f| self.buf.extend_from_slice(&f.to_le_bytes()));
            }
            Array::String(v) => {
                self.buf.push(A_STR);
                self.u32(count(v.len()));
                v.iter().for_each(|s| self.str(s.as_str()));
            }
            // `Array` is non-exhaustive: anything new travels as its text.
            other => {
                self.buf.push(V_STR);
                self.str(&other.to_string());
            }
        }
    }

    /// Checks the span and seals it.
    pub fn finish(mut self) -> Result<PackedSpan> {
        let invalid = |field: &str, reason: String| {
            Err(Error::InvalidArgument(ConfigError::new(field, reason)))
        };
        if self.buf[..16] == [0; 16] {
            return invalid("trace_id", "must not be all zeros".into());
        }
        if self.buf[16..24] == [0; 8] {
            return invalid("span_id", "must not be all zeros".into());
        }
        let start = read_u64(&self.buf, START_AT);
        let end = read_u64(&self.buf, END_AT);
        if end < start {
            return invalid(
                "end_time",
                format!("is before the start time ({end} < {start} Unix ns)"),
            );
        }
        if self.owed > 0 {
            return invalid(
                "attributes",
                format!(
                    "an event or link was promised {} more attribute(s)",
                    self.owed
                ),
            );
        }
        self.buf[ATTRIBUTES_AT..ATTRIBUTES_AT + 4]
            .copy_from_slice(&self.span_attributes.to_le_bytes());
        // One allocation of the exact size; the scratch buffer is kept for
        // the next span on this thread.
        let bytes: Box<[u8]> = self.buf.as_slice().into();
        // A rare huge span does not pin its size on the thread for good.
        if self.buf.capacity() <= MAX_SCRATCH_BYTES {
            SCRATCH.with(|s| s.replace(self.buf));
        }
        Ok(PackedSpan { bytes })
    }
}

thread_local! {
    /// Each thread's packing buffer: a span is written here, then copied
    /// once into an allocation of its exact size.
    static SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A `u32` of the records as a varint (LEB128): seven bits a byte, low
/// first, the high bit set on all but the last. `Reader::u32` reads it.
pub(super) fn put_u32(buf: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// A text: its length, then its bytes. Lengths are 32-bit; a longer text
/// (far past every field's limit anyway) is cut at a character boundary so
/// it stays UTF-8.
fn put_str(buf: &mut Vec<u8>, s: &str) {
    let s = crate::text::truncated(s, u32::MAX as usize);
    put_u32(buf, s.len() as u32);
    buf.extend_from_slice(s.as_bytes());
}

pub(super) fn read_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The most cache lines of a span [`PackedSpan::prefetch`] asks for: a
/// typical span's whole bytes.
const PREFETCH_LINES: usize = 8;

impl PackedSpan {
    /// Packs a span of the Rust SDK (trace state and dropped counts are not
    /// kept: Application Insights has no place for them).
    pub fn from_span_data(span: &SpanData) -> Result<Self> {
        Self::from_span_data_in(span, None, Sampled::ALL)
    }

    /// [`Self::from_span_data`], in the operation named `operation`, sampled
    /// as its trace was.
    pub(crate) fn from_span_data_in(
        span: &SpanData,
        operation: Option<&str>,
        sampled: Sampled,
    ) -> Result<Self> {
        let parent =
            (span.parent_span_id != SpanId::INVALID).then(|| span.parent_span_id.to_bytes());
        let mut p = SpanPacker::new(
            span.span_context.trace_id().to_bytes(),
            span.span_context.span_id().to_bytes(),
            parent,
            span.parent_span_is_remote,
            span.span_kind.clone(),
            unix_nanos(span.start_time),
            unix_nanos(span.end_time),
        );
        p.buf[FLAGS_AT + 1] = span.span_context.trace_flags().to_u8();
        p.sampling(sampled);
        p.name(&span.name);
        if let Some(op) = operation {
            p.operation_name(op);
        }
        p.status(&span.status);
        p.instrumentation_scope(&span.instrumentation_scope);
        p.attributes(&span.attributes);
        span.events.iter().for_each(|e| p.sdk_event(e));
        for l in span.links.iter() {
            let cx = &l.span_context;
            p.link(
                cx.trace_id().to_bytes(),
                cx.span_id().to_bytes(),
                cx.is_remote(),
                l.attributes.len() as u32,
            );
            p.attributes(&l.attributes);
        }
        p.finish()
    }

    /// Marks the span as the source of a failure (it failed, none of its
    /// children did).
    pub(crate) fn mark_failure_source(&mut self) {
        self.set_flag(FLAG_FAILURE_SOURCE);
    }

    /// Has the writer write the span's `Config[...]` log record with it: a
    /// derived log record that travels in the span's batch (see
    /// `envelopes::genkit::logs::ConfigLog`).
    pub(crate) fn mark_config_log(&mut self) {
        self.set_flag(FLAG_CONFIG_LOG);
    }

    /// Whether the span carries its `Config[...]` log record.
    pub(crate) fn has_config_log(&self) -> bool {
        self.flag(FLAG_CONFIG_LOG)
    }

    /// Sets a header flag the worker learnt (in place: the header is fixed).
    fn set_flag(&mut self, flag: u8) {
        if let Some(flags) = self.bytes.get_mut(FLAGS_AT) {
            *flags |= flag;
        }
    }

    fn flag(&self, flag: u8) -> bool {
        self.bytes.get(FLAGS_AT).is_some_and(|f| f & flag != 0)
    }

    /// The items the span accounts for: itself, and the log record it
    /// carries, if any.
    pub(crate) fn items(&self) -> usize {
        1 + usize::from(self.has_config_log())
    }

    /// The packed bytes, for reading in place (see `span_ref.rs`).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Asks the CPU to start loading the span's bytes (up to
    /// `PREFETCH_LINES` cache lines) for a reader that takes it next. A
    /// queued span was written on the host's core, long enough ago to have
    /// left the reader's cache, so without this its first read waits on
    /// memory.
    #[inline]
    pub(crate) fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        for line in self.bytes.chunks(64).take(PREFETCH_LINES) {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // SAFETY: a prefetch is a hint: it reads nothing into the
            // program and never faults, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
        }
    }

    /// Appends a record the worker learnt after the span was packed (one
    /// reallocation, for the few spans it concerns).
    fn append(&mut self, record: &[u8]) {
        let mut bytes = std::mem::take(&mut self.bytes).into_vec();
        bytes.extend_from_slice(record);
        self.bytes = bytes.into_boxed_slice();
    }

    /// Exported under `agent` (a model or tool call inside that agent, for
    /// the Agents view's direct-parent lookups); its own parent stays what
    /// it was and is said in a property.
    pub(crate) fn reparent(&mut self, agent: [u8; 8]) {
        let mut record = [0u8; 9];
        record[0] = REPARENT;
        record[1..].copy_from_slice(&agent);
        self.append(&record);
    }

    /// A tool span's call id: the `ref` of the model's request it answers.
    pub(crate) fn tool_call_id(&mut self, id: &str) {
        self.append_str(TOOL_CALL_ID, id);
    }

    /// A call's main agent's session (its conversation).
    pub(crate) fn main_conversation_id(&mut self, id: &str) {
        self.append_str(MAIN_CONVERSATION, id);
    }

    /// An evaluator test case's agent: the main agent of a trace its data
    /// point names (`traceIds`), for `gen_ai.agent.id` on its results.
    pub(crate) fn evaluated_agent(&mut self, name: &str) {
        self.append_str(EVALUATED_AGENT, name);
    }

    /// The agents a span Genkit did not make runs in (an HTTP call inside a
    /// tool has no `genkit:path` to say them): its nearest and the main one.
    pub(crate) fn agent_names(&mut self, nearest: &str, main: &str) {
        self.append_strs(AGENT_NAMES, &[nearest, main]);
    }

    fn append_str(&mut self, tag: u8, s: &str) {
        self.append_strs(tag, &[s]);
    }

    /// A record of texts, each a `str` as the packer writes one.
    fn append_strs(&mut self, tag: u8, texts: &[&str]) {
        let len: usize = texts.iter().map(|s| 5 + s.len()).sum();
        let mut record = Vec::with_capacity(1 + len);
        record.push(tag);
        for s in texts {
            put_str(&mut record, s);
        }
        self.append(&record);
    }

    /// An agent span's totals: the input and output tokens of its model calls.
    pub(crate) fn agent_usage(&mut self, input: f64, output: f64) {
        let mut record = [0u8; 17];
        record[0] = AGENT_USAGE;
        record[1..9].copy_from_slice(&input.to_le_bytes());
        record[9..].copy_from_slice(&output.to_le_bytes());
        self.append(&record);
    }

    /// A model call's response as the worker read it, so that the writer
    /// need not parse `genkit:output` again.
    pub(crate) fn model_reply(&mut self, reply: &ModelReply<'_>) {
        let counts = [
            (REPLY_INPUT_TOKENS, reply.input_tokens),
            (REPLY_OUTPUT_TOKENS, reply.output_tokens),
            (REPLY_THOUGHTS_TOKENS, reply.thoughts_tokens),
            (REPLY_CACHED_CONTENT_TOKENS, reply.cached_content_tokens),
        ];
        let reason = reply.finish_reason.map_or(0, |r| 5 + r.len());
        let mut record = Vec::with_capacity(2 + 4 * 8 + 1 + reason);
        record.push(MODEL_REPLY);
        let mut flags = if reply.tool_calls {
            REPLY_TOOL_CALLS
        } else {
            0
        };
        for (bit, count) in counts {
            if count.is_some() {
                flags |= bit;
            }
        }
        record.push(flags);
        for (_, count) in counts {
            record.extend_from_slice(&count.unwrap_or(0.0).to_le_bytes());
        }
        match reply.finish_reason {
            Some(r) => {
                record.push(1);
                put_str(&mut record, r);
            }
            None => record.push(0),
        }
        self.append(&record);
    }

    /// Its trace was sampled out (see [`SpanPacker::sampling`]).
    pub fn sampled_out(&self) -> bool {
        self.flag(FLAG_SAMPLED_OUT)
    }

    /// The percentage of traces kept when its trace was kept by sampling
    /// below 100 %; `None` otherwise. Read from the first record.
    pub fn sample_rate(&self) -> Option<f64> {
        match self.bytes.get(HEADER..HEADER + 9)? {
            [SAMPLE_RATE, rate @ ..] => Some(f64::from_le_bytes(rate.try_into().ok()?)),
            _ => None,
        }
    }

    /// Bytes this span occupies on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The span as the Rust SDK's `SpanData` (for the crate, in tests and
    /// benchmarks), read through [`SpanParts`]: one reader of the format.
    pub fn unpack(&self) -> SpanData {
        let mut p = SpanParts::default();
        // Malformed bytes never come from `SpanPacker`; what was read is kept.
        let _ = p.read(self);
        let kv = |a: &Attr<'_>| KeyValue::new(intern::key(a.key), a.value.to_value());
        let pairs = |r: Range<usize>| p.nested[r].iter().map(kv).collect::<Vec<_>>();
        let mut events = SpanEvents::default();
        events.events = p
            .events
            .iter()
            .map(|e| {
                let time = time_from_unix_nanos(e.time_unix_nanos);
                Event::new(e.name.to_string(), time, pairs(e.attrs.clone()), 0)
            })
            .collect();
        let mut links = SpanLinks::default();
        links.links = p
            .links
            .iter()
            .map(|l| {
                let cx = SpanContext::new(
                    TraceId::from_bytes(*l.trace_id),
                    SpanId::from_bytes(*l.span_id),
                    TraceFlags::new(l.trace_flags),
                    l.remote,
                    TraceState::NONE,
                );
                Link::new(cx, pairs(l.attrs.clone()), 0)
            })
            .collect();
        let fallback = || intern::scope("genkit-azure", None);
        let instrumentation_scope = match p.scope {
            ScopeRef::Unset => fallback(),
            ScopeRef::Interned(id) => intern::scope_by_id(id).unwrap_or_else(fallback),
            ScopeRef::Inline {
                name,
                version,
                schema_url,
            } => {
                let mut b = InstrumentationScope::builder(name.to_string());
                if let Some(v) = version {
                    b = b.with_version(v.to_string());
                }
                if let Some(u) = schema_url {
                    b = b.with_schema_url(u.to_string());
                }
                b.with_attributes(pairs(p.scope_attrs.clone())).build()
            }
        };
        SpanData {
            span_context: SpanContext::new(
                TraceId::from_bytes(*p.trace_id),
                SpanId::from_bytes(*p.span_id),
                TraceFlags::new(p.trace_flags),
                false,
                TraceState::NONE,
            ),
            parent_span_id: p
                .parent_span_id
                .map_or(SpanId::INVALID, |id| SpanId::from_bytes(*id)),
            parent_span_is_remote: p.parent_is_remote,
            span_kind: match p.kind {
                Kind::Internal => SpanKind::Internal,
                Kind::Server => SpanKind::Server,
                Kind::Client => SpanKind::Client,
                Kind::Producer => SpanKind::Producer,
                Kind::Consumer => SpanKind::Consumer,
            },
            name: Cow::Owned(p.name.to_string()),
            start_time: time_from_unix_nanos(p.start_unix_nanos),
            end_time: time_from_unix_nanos(p.end_unix_nanos),
            attributes: p.attrs.iter().map(kv).collect(),
            dropped_attributes_count: 0,
            events,
            links,
            status: match p.status {
                StatusCode::Unset => Status::Unset,
                StatusCode::Ok => Status::Ok,
                StatusCode::Error => Status::error(p.status_description.to_string()),
            },
            instrumentation_scope,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceFlags;
    use std::time::Duration;

    fn packer() -> SpanPacker {
        SpanPacker::new(
            [1; 16],
            [2; 8],
            Some([3; 8]),
            true,
            SpanKind::Client,
            1_000,
            5_000,
        )
    }

    #[test]
    fn a_packed_span_unpacks_to_what_was_written() {
        let mut p = packer();
        p.name("generate");
        p.status(&Status::error("model failed"));
        p.scope("genkit-tracer", Some("v1"));
        p.attribute_str("genkit:name", "menu");
        p.attribute_i64("tokens", -7);
        p.attribute_f64("score", 0.5);
        p.attribute_bool("cached", true);
        p.attribute(
            "tags",
            &Value::Array(Array::String(vec!["a".into(), "é".into()])),
        );
        p.attribute("sizes", &Value::Array(Array::I64(vec![1, 2])));
        p.event("exception", 3_000, 2);
        p.attribute_str("exception.type", "ValueError");
        p.attribute_str("exception.message", "bad");
        p.attribute_str("after.event", "belongs to the span");
        p.link([9; 16], [8; 8], true, 1);
        p.attribute_i64("link.n", 1);
        let s = p.finish().unwrap().unpack();

        assert_eq!(s.span_context.trace_id(), TraceId::from_bytes([1; 16]));
        assert_eq!(s.span_context.span_id(), SpanId::from_bytes([2; 8]));
        assert_eq!(s.span_context.trace_flags(), TraceFlags::SAMPLED);
        assert_eq!(s.parent_span_id, SpanId::from_bytes([3; 8]));
        assert!(s.parent_span_is_remote);
        assert_eq!(s.span_kind, SpanKind::Client);
        assert_eq!(s.name, "generate");
        assert_eq!(s.status, Status::error("model failed"));
        assert_eq!(s.start_time, UNIX_EPOCH + Duration::from_nanos(1_000));
        assert_eq!(s.end_time, UNIX_EPOCH + Duration::from_nanos(5_000));
        assert_eq!(s.instrumentation_scope.name(), "genkit-tracer");
        assert_eq!(s.instrumentation_scope.version(), Some("v1"));
        let attrs: Vec<(String, Value)> = s
            .attributes
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.clone()))
            .collect();
        assert_eq!(
            attrs,
            vec![
                ("genkit:name".into(), Value::from("menu")),
                ("tokens".into(), Value::I64(-7)),
                ("score".into(), Value::F64(0.5)),
                ("cached".into(), Value::Bool(true)),
                (
                    "tags".into(),
                    Value::Array(Array::String(vec!["a".into(), "é".into()]))
                ),
                ("sizes".into(), Value::Array(Array::I64(vec![1, 2]))),
                ("after.event".into(), Value::from("belongs to the span")),
            ]
        );
        let ev = &s.events.events[0];
        assert_eq!(ev.name, "exception");
        assert_eq!(ev.timestamp, UNIX_EPOCH + Duration::from_nanos(3_000));
        assert_eq!(ev.attributes.len(), 2);
        assert_eq!(ev.attributes[1].value, Value::from("bad"));
        let link = &s.links.links[0];
        assert_eq!(link.span_context.span_id(), SpanId::from_bytes([8; 8]));
        assert!(link.span_context.is_remote());
        assert_eq!(link.attributes[0].value, Value::I64(1));
    }

    #[test]
    fn a_root_span_has_no_parent_and_the_default_scope() {
        let mut p = SpanPacker::new([1; 16], [2; 8], Some([0; 8]), true, SpanKind::Server, 1, 1);
        p.status(&Status::Ok);
        let s = p.finish().unwrap().unpack();
        assert_eq!(s.parent_span_id, SpanId::INVALID);
        assert!(!s.parent_span_is_remote);
        assert_eq!(s.status, Status::Ok);
        assert_eq!(s.name, "");
        assert_eq!(s.instrumentation_scope.name(), "genkit-azure");
    }

    #[test]
    fn a_sampling_decision_is_the_first_record_or_a_flag() {
        let mut p = packer();
        p.name("late");
        p.attribute_str("k", "v");
        p.sampling(Sampled {
            keep: true,
            percentage: 25.0,
        });
        let kept = p.finish().unwrap();
        assert_eq!(kept.sample_rate(), Some(25.0));
        assert!(!kept.sampled_out());
        let s = kept.unpack();
        assert_eq!((s.name.as_ref(), s.attributes.len()), ("late", 1));
        let mut parts = SpanParts::default();
        assert!(parts.read(&kept));
        assert_eq!(parts.sample_rate, Some(25.0));

        let mut p = packer();
        p.sampling(Sampled {
            keep: false,
            percentage: 25.0,
        });
        let dropped = p.finish().unwrap();
        assert!(dropped.sampled_out());
        assert_eq!(dropped.sample_rate(), None);

        let mut p = packer();
        p.sampling(Sampled::ALL);
        let all = p.finish().unwrap();
        assert_eq!(all.heap_bytes(), HEADER, "keeping everything costs nothing");
        assert!(!all.sampled_out() && all.sample_rate().is_none());
    }

    #[test]
    fn keys_that_cannot_be_interned_travel_inline() {
        let long = "k".repeat(300);
        let mut p = packer();
        p.attribute_str(&long, "v");
        let s = p.finish().unwrap().unpack();
        assert_eq!(s.attributes[0].key.as_str(), long);
    }

    #[test]
    fn bad_spans_are_refused_with_the_field_name() {
        let e = SpanPacker::new([0; 16], [2; 8], None, false, SpanKind::Internal, 1, 2)
            .finish()
            .unwrap_err();
        assert!(e.to_string().contains("trace_id"), "{e}");
        let e = SpanPacker::new([1; 16], [0; 8], None, false, SpanKind::Internal, 1, 2)
            .finish()
            .unwrap_err();
        assert!(e.to_string().contains("span_id"), "{e}");
        let e = SpanPacker::new([1; 16], [2; 8], None, false, SpanKind::Internal, 3, 2)
            .finish()
            .unwrap_err();
        assert!(e.to_string().contains("end_time"), "{e}");
        let mut p = packer();
        p.event("e", 1, 2);
        p.attribute_bool("only-one", true);
        let e = p.finish().unwrap_err();
        assert!(e.to_string().contains("attributes"), "{e}");
    }

    #[test]
    fn an_sdk_span_round_trips() {
        use opentelemetry::trace::{SpanBuilder, Tracer, TracerProvider as _};
        use opentelemetry_sdk::trace::{SdkTracerProvider, SpanProcessor};
        use std::sync::{Arc, Mutex};
        #[derive(Debug, Default)]
        struct Keep(Arc<Mutex<Vec<SpanData>>>);
        impl SpanProcessor for Keep {
            fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {
            }
            fn on_end(&self, span: SpanData) {
                self.0.lock().unwrap().push(span);
            }
            fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
                Ok(())
            }
            fn shutdown_with_timeout(
                &self,
                _: Duration,
            ) -> opentelemetry_sdk::error::OTelSdkResult {
                Ok(())
            }
        }
        let finished = Arc::new(Mutex::new(Vec::new()));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(Keep(Arc::clone(&finished)))
            .build();
        let scope = InstrumentationScope::builder("lib")
            .with_version("2")
            .with_schema_url("https://schema")
            .with_attributes([KeyValue::new("scope.attr", 1)])
            .build();
        let tracer = provider.tracer_with_scope(scope);
        let mut span = tracer.build(
            SpanBuilder::from_name("op")
                .with_kind(SpanKind::Producer)
                .with_attributes([KeyValue::new("a", "b"), KeyValue::new("n", 3)]),
        );
        use opentelemetry::trace::Span as _;
        span.add_event("evt", vec![KeyValue::new("x", 1.5)]);
        span.set_status(Status::error("boom"));
        span.end();
        let original = finished.lock().unwrap().remove(0);
        let packed = PackedSpan::from_span_data(&original).unwrap();
        let s = packed.unpack();
        assert_eq!(s.span_context, original.span_context);
        assert_eq!(s.parent_span_id, original.parent_span_id);
        assert_eq!(s.span_kind, original.span_kind);
        assert_eq!(s.name, original.name);
        assert_eq!(s.attributes, original.attributes);
        assert_eq!(s.status, original.status);
        assert_eq!(s.events.events, original.events.events);
        assert_eq!(s.instrumentation_scope, original.instrumentation_scope);
        // Nanosecond precision survives.
        assert_eq!(s.start_time, original.start_time);
        assert_eq!(s.end_time, original.end_time);
        assert!(packed.heap_bytes() < 200, "{}", packed.heap_bytes());
    }

    #[test]
    fn truncated_bytes_unpack_without_panicking() {
        let mut p = packer();
        p.name("n");
        p.attribute_str("k", "value");
        p.event("e", 1, 1);
        p.attribute("arr", &Value::Array(Array::F64(vec![1.0, 2.0])));
        let full = p.finish().unwrap();
        for cut in HEADER..full.bytes.len() {
            let partial = PackedSpan {
                bytes: full.bytes[..cut].into(),
            };
            let _ = partial.unpack();
        }
    }
}
