//! A model response (`genkit:output`) read in one pass, only for what
//! `ModelOutput` says: the rest of it (content text, `custom`, whatever a
//! plugin adds) is stepped over without being allocated.
//!
//! Read into a `serde_json::Value`, every string and map of the reply was
//! allocated and freed again, twice a model span (the worker's reading and
//! the writer's): 19 % of what the pipeline added to a Genkit app's
//! instructions (`bench/ANALYSIS.md`). This reads the same thing the way
//! `Value`'s accessors did, member by member: a member of a kind other than
//! the one looked for reads as absent, a member named twice counts as its
//! last value (as a `Value` keeps it), `message` present at all (even as
//! `null`) is the message and `candidates[0]` is not looked at. The tests
//! check it against the `Value` reading on a corpus of odd replies.
//!
//! The one difference is in what is stepped over: serde_json checks a
//! skipped string's escapes but not whether a `\u` escape is a lone
//! surrogate, nor a skipped number's range, and steps over nesting of any
//! depth without recursing (a `Value` stops at 128 levels), so a reply with
//! such a part that is not read still gives its tokens, where reading it
//! into a `Value` failed as a whole. The reading itself recurses six levels
//! at most.

use super::model::Usage;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// What a model response says, as read: `ModelOutput::parse` makes its
/// facts of it.
#[derive(Debug, Default)]
pub(super) struct Reply {
    pub usage: Usage,
    pub latency_ms: Option<f64>,
    /// `finishReason`, or `candidates[0].finishReason` when the reply has
    /// none (older responses).
    pub finish_reason: Option<String>,
    /// The parts of the message (`message`, else `candidates[0].message`)
    /// that request a tool: its `name` and `ref`, when they are strings.
    pub tool_requests: Vec<ToolRequest>,
}

/// A `toolRequest` part of the message.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct ToolRequest {
    pub name: Option<String>,
    pub reference: Option<String>,
}

impl Reply {
    /// Reads a model response; `None` when it is not a JSON object.
    pub fn read(json: &str) -> Option<Self> {
        let Lenient(TopLevel(top)) = serde_json::from_str(json).ok()?;
        let top: Members = top?;
        let first = top.candidates.unwrap_or_default();
        Some(Reply {
            usage: top.usage,
            latency_ms: top.latency_ms.filter(|x| x.is_finite()),
            finish_reason: top.finish_reason.or(first.finish_reason).flatten(),
            tool_requests: top.message.or(first.message).unwrap_or_default(),
        })
    }
}

/// A part of the reply read as `Value`'s accessors would read it: a JSON
/// value of any kind the part does not look for reads as its default (the
/// `None` of `as_f64`, `as_str`, `as_array`, `get`), and is stepped over.
trait Part<'de>: Default {
    fn number(_: f64) -> Self {
        Self::default()
    }
    fn text(_: &str) -> Self {
        Self::default()
    }
    fn object<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Self::default())
    }
    fn array<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self::default())
    }
}

/// Deserializes any JSON value into the part `T` (see [`Part`]).
struct Lenient<T>(T);

impl<'de, T: Part<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PartVisitor(PhantomData)).map(Lenient)
    }
}

struct PartVisitor<T>(PhantomData<T>);

impl<'de, T: Part<'de>> Visitor<'de> for PartVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_u64<E>(self, v: u64) -> Result<T, E> {
        Ok(T::number(v as f64))
    }
    fn visit_i64<E>(self, v: i64) -> Result<T, E> {
        Ok(T::number(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<T, E> {
        Ok(T::number(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<T, E> {
        Ok(T::text(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::object(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::array(seq)
    }
}

/// An object member's name, borrowed from the reply unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Calls `member` with each member's name, for it to read the value (or
/// step over it with [`skip`]).
fn members<'de, A: MapAccess<'de>>(
    mut map: A,
    mut member: impl FnMut(&str, &mut A) -> Result<(), A::Error>,
) -> Result<(), A::Error> {
    while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
        member(&key, &mut map)?;
    }
    Ok(())
}

/// Reads the current member's value as the part `T`.
fn value<'de, T: Part<'de>, A: MapAccess<'de>>(map: &mut A) -> Result<T, A::Error> {
    map.next_value::<Lenient<T>>().map(|Lenient(t)| t)
}

fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(drop)
}

/// A number (`as_f64`).
#[derive(Default)]
struct Number(Option<f64>);

impl Part<'_> for Number {
    fn number(x: f64) -> Self {
        Number(Some(x))
    }
}

/// A string (`as_str`).
#[derive(Default)]
struct Text(Option<String>);

impl Part<'_> for Text {
    fn text(s: &str) -> Self {
        Text(Some(s.to_string()))
    }
}

/// The reply itself: its members when it is an object; `None` when it is
/// anything else (not a reply).
#[derive(Default)]
struct TopLevel(Option<Members>);

/// The reply's members that are read. An `Option` of an `Option` is a
/// member that may be there with a value of the wrong kind: being there is
/// what decides whether `candidates[0]` is looked at.
#[derive(Default)]
struct Members {
    message: Option<Vec<ToolRequest>>,
    finish_reason: Option<Option<String>>,
    candidates: Option<Candidate>,
    usage: Usage,
    latency_ms: Option<f64>,
}

impl<'de> Part<'de> for TopLevel {
    fn object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut m = Members::default();
        members(map, |key, map| {
            match key {
                "message" => m.message = Some(value::<Message, _>(map)?.0),
                "finishReason" => m.finish_reason = Some(value::<Text, _>(map)?.0),
                "candidates" => m.candidates = Some(value::<Candidates, _>(map)?.0),
                "usage" => m.usage = value::<UsageMembers, _>(map)?.0,
                "latencyMs" => m.latency_ms = value::<Number, _>(map)?.0,
                _ => skip(map)?,
            }
            Ok(())
        })?;
        Ok(TopLevel(Some(m)))
    }
}

/// `usage`: every count Genkit reports.
#[derive(Default)]
struct UsageMembers(Usage);

impl<'de> Part<'de> for UsageMembers {
    fn object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut usage = Usage::default();
        members(map, |key, map| match usage.count_mut(key) {
            Some(count) => {
                *count = value::<Number, _>(map)?.0.filter(|x| x.is_finite());
                Ok(())
            }
            None => skip(map),
        })?;
        Ok(UsageMembers(usage))
    }
}

/// `candidates`: only the first is read (older responses).
#[derive(Default)]
struct Candidates(Candidate);

impl<'de> Part<'de> for Candidates {
    fn array<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let first = seq
            .next_element::<Lenient<Candidate>>()?
            .map(|Lenient(c)| c)
            .unwrap_or_default();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Candidates(first))
    }
}

/// A candidate's `message` and `finishReason`, each when it is there.
#[derive(Default)]
struct Candidate {
    message: Option<Vec<ToolRequest>>,
    finish_reason: Option<Option<String>>,
}

impl<'de> Part<'de> for Candidate {
    fn object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut c = Candidate::default();
        members(map, |key, map| {
            match key {
                "message" => c.message = Some(value::<Message, _>(map)?.0),
                "finishReason" => c.finish_reason = Some(value::<Text, _>(map)?.0),
                _ => skip(map)?,
            }
            Ok(())
        })?;
        Ok(c)
    }
}

/// A message: the tool requests among its `content` parts.
#[derive(Default)]
struct Message(Vec<ToolRequest>);

impl<'de> Part<'de> for Message {
    fn object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut requests = Vec::new();
        members(map, |key, map| {
            match key {
                "content" => requests = value::<Content, _>(map)?.0,
                _ => skip(map)?,
            }
            Ok(())
        })?;
        Ok(Message(requests))
    }
}

/// `content`: its parts, of which those with a `toolRequest` count.
#[derive(Default)]
struct Content(Vec<ToolRequest>);

impl<'de> Part<'de> for Content {
    fn array<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut requests = Vec::new();
        while let Some(Lenient(ContentPart(request))) = seq.next_element()? {
            requests.extend(request);
        }
        Ok(Content(requests))
    }
}

/// A content part: a tool request when it has a `toolRequest` member, of
/// whatever kind.
#[derive(Default)]
struct ContentPart(Option<ToolRequest>);

impl<'de> Part<'de> for ContentPart {
    fn object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut request = None;
        members(map, |key, map| {
            match key {
                "toolRequest" => request = Some(value::<ToolRequestMembers, _>(map)?.0),
                _ => skip(map)?,
            }
            Ok(())
        })?;
        Ok(ContentPart(request))
    }
}

/// A `toolRequest`'s `name` and `ref`.
#[derive(Default)]
struct ToolRequestMembers(ToolRequest);

impl<'de> Part<'de> for ToolRequestMembers {
    fn object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut r = ToolRequest::default();
        members(map, |key, map| {
            match key {
                "name" => r.name = value::<Text, _>(map)?.0,
                "ref" => r.reference = value::<Text, _>(map)?.0,
                _ => skip(map)?,
            }
            Ok(())
        })?;
        Ok(ToolRequestMembers(r))
    }
}
