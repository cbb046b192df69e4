//! A model response (`genkit:output`) read in one pass, only for what
//! `ModelOutput` says: the rest of it (content text, `custom`, whatever a
//! plugin adds) is stepped over without being allocated (see `lenient.rs`).
//!
//! Read into a `serde_json::Value`, every string and map of the reply was
//! allocated and freed again, twice a model span (the worker's reading and
//! the writer's): 19 % of what the pipeline added to a Genkit app's
//! instructions (`bench/ANALYSIS.md`). This reads the same members the way
//! `Value`'s accessors did; in particular `message` present at all (even as
//! `null`) is the message, and `candidates[0]` is then not looked at. The
//! tests check it against the `Value` reading on a corpus of odd replies.
//!
//! The one difference is in what is stepped over: serde_json checks a
//! skipped string's escapes but not whether a `\u` escape is a lone
//! surrogate, nor a skipped number's range, and steps over nesting of any
//! depth (where a `Value` stops at 128 levels), so a reply with such a part
//! that is not read still gives its tokens, where reading it into a `Value`
//! failed as a whole. The reading itself recurses six levels at most.

use super::lenient::{members, skip, value, Lenient, Number, Part, Text};
use super::model::Usage;
use serde::de::{IgnoredAny, MapAccess, SeqAccess};

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
