//! What one finished Genkit span says for the metrics and logs derived from
//! it: its Genkit attributes, whether it is the root of its operation or the
//! source of a failure, its error and its model response, read once and
//! shared by `metrics.rs` and `logs.rs`.

use super::{GenkitSpan, ModelOutput, Role};
use crate::ingest::{SpanParts, StatusCode, ValueRef};
use std::borrow::Cow;

/// Limits, in characters, as the Google Cloud plugin cuts (so the same
/// queries and dashboards work on both).
pub(crate) mod limits {
    /// `path` labels and log fields (qualified and display paths).
    pub const PATH: usize = 4_096;
    /// Names: features, models, error types.
    pub const NAME: usize = 1_024;
    /// Error messages.
    pub const ERROR_MESSAGE: usize = 4_096;
    /// Stack traces.
    pub const STACK: usize = 32_768;
    /// Logged input and output content.
    pub const CONTENT: usize = 128_000;
    /// Free-form label values (feedback values).
    pub const LABEL: usize = 256;
}

/// The `exception` event of a failed span, as OpenTelemetry records it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Exception<'a> {
    pub type_name: Option<&'a str>,
    pub message: Option<&'a str>,
    pub stack: Option<&'a str>,
}

/// A finished Genkit span and what follows from it.
#[derive(Debug)]
pub(crate) struct SpanFacts<'a> {
    pub span: GenkitSpan<'a>,
    pub parts: &'a SpanParts<'a>,
    /// The outermost Genkit span of its operation (see [`SpanFacts::read`]).
    pub root: bool,
    /// It failed and no failure reached it from below.
    pub failure_source: bool,
    /// `genkit:state` is `error`, or its status is Error.
    pub failed: bool,
    pub duration_ms: f64,
    pub exception: Exception<'a>,
    /// The parsed response, for model spans.
    pub model: Option<ModelOutput>,
}

fn str_of<'a>(v: &ValueRef<'a>) -> Option<&'a str> {
    match *v {
        ValueRef::Str(s) => Some(s),
        _ => None,
    }
}

impl<'a> SpanFacts<'a> {
    /// The facts of a span Genkit made; `None` for any other span.
    #[cfg(test)]
    pub fn read(parts: &'a SpanParts<'a>, failure_source: bool) -> Option<Self> {
        Some(Self::of(GenkitSpan::read(parts)?, parts, failure_source))
    }

    /// The facts of a span Genkit made, `span` being its Genkit attributes
    /// (the worker reads them once, for its failure tracker too).
    /// `failure_source` comes from the worker's tracker (or the host's
    /// `genkit:isFailureSource`).
    ///
    /// The root is the outermost Genkit span ([`GenkitSpan::is_outermost`]).
    pub fn of(span: GenkitSpan<'a>, parts: &'a SpanParts<'a>, failure_source: bool) -> Self {
        // Feedback is appended to a finished trace under its root, with
        // the root's path: it is never a feature call of its own.
        let root = span.role() != Role::UserEngagement && span.is_outermost(parts);
        let failed = span.failed() || parts.status == StatusCode::Error;
        let duration_ms =
            parts.end_unix_nanos.saturating_sub(parts.start_unix_nanos) as f64 / 1_000_000.0;
        let model = (span.role() == Role::Model)
            .then(|| span.output.and_then(ModelOutput::parse))
            .map(Option::unwrap_or_default);
        SpanFacts {
            failure_source: failure_source || (span.is_failure_source && failed),
            exception: exception(parts),
            span,
            parts,
            root,
            failed,
            duration_ms,
            model,
        }
    }

    /// `success` or `failure`.
    pub fn status(&self) -> &'static str {
        if self.failed {
            "failure"
        } else {
            "success"
        }
    }

    /// The error's name (the exception's type), as the plugin labels it.
    pub fn error_name(&self) -> &'a str {
        crate::text::truncated_chars(
            self.exception.type_name.unwrap_or("<unknown>"),
            limits::NAME,
        )
    }

    /// The error's message: the exception's, else `genkit:error`, else the
    /// status description.
    pub fn error_message(&self) -> &'a str {
        let m = self
            .exception
            .message
            .or(self.span.error)
            .filter(|m| !m.is_empty())
            .or(Some(self.parts.status_description).filter(|m| !m.is_empty()))
            .unwrap_or("<unknown>");
        crate::text::truncated_chars(m, limits::ERROR_MESSAGE)
    }

    /// The qualified path, cut.
    pub fn path(&self) -> &'a str {
        crate::text::truncated_chars(self.span.path, limits::PATH)
    }

    /// The feature the span serves (the flow's name, else the path's
    /// outermost feature), `fallback` when neither says.
    pub fn feature_name(&self, fallback: &'a str) -> Cow<'a, str> {
        self.span.feature_name_or(fallback)
    }

    /// A span attribute's text (strings only).
    pub fn attribute(&self, key: &str) -> Option<&'a str> {
        let attrs: &'a [crate::ingest::Attr<'a>] = &self.parts.attrs;
        attrs
            .iter()
            .rev()
            .find(|a| a.key == key)
            .and_then(|a| str_of(&a.value))
    }

    /// A span attribute as text, whatever its type.
    pub fn attribute_text(&self, key: &str) -> Option<Cow<'a, str>> {
        let attrs: &'a [crate::ingest::Attr<'a>] = &self.parts.attrs;
        let a = attrs.iter().rev().find(|a| a.key == key)?;
        Some(match a.value {
            ValueRef::Str(s) => Cow::Borrowed(s),
            other => Cow::Owned(other.to_value().as_str().into_owned()),
        })
    }
}

/// `s` cut to `max` characters, borrowed or owned as it came.
pub(crate) fn cut(s: Cow<'_, str>, max: usize) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(crate::text::truncated_chars(b, max)),
        Cow::Owned(o) => {
            let n = crate::text::truncated_chars(&o, max).len();
            let mut o = o;
            o.truncate(n);
            Cow::Owned(o)
        }
    }
}

/// The first `exception` event's type, message and stack.
fn exception<'a>(parts: &'a SpanParts<'a>) -> Exception<'a> {
    let Some(e) = parts.events.iter().find(|e| e.name == "exception") else {
        return Exception::default();
    };
    let mut out = Exception::default();
    let nested: &'a [crate::ingest::Attr<'a>] = &parts.nested;
    for a in nested.get(e.attrs.clone()).unwrap_or_default() {
        match a.key {
            "exception.type" => out.type_name = str_of(&a.value),
            "exception.message" => out.message = str_of(&a.value),
            "exception.stacktrace" => out.stack = str_of(&a.value),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{PackedSpan, SpanPacker};
    use opentelemetry::trace::SpanKind;

    fn packed(parent: Option<[u8; 8]>, remote: bool, attrs: &[(&str, &str)]) -> PackedSpan {
        let mut p = SpanPacker::new(
            [1; 16],
            [2; 8],
            parent,
            remote,
            SpanKind::Internal,
            1_000_000,
            3_500_000,
        );
        p.name("s");
        for (k, v) in attrs {
            p.attribute_str(k, v);
        }
        p.finish().unwrap()
    }

    #[test]
    fn the_outermost_genkit_span_is_the_root_even_under_http() {
        let flow = packed(
            Some([9; 8]),
            false,
            &[
                ("genkit:type", "action"),
                ("genkit:path", "/{f,t:action,s:flow}"),
            ],
        );
        let mut parts = SpanParts::default();
        parts.read(&flow);
        let f = SpanFacts::read(&parts, false).unwrap();
        assert!(f.root);
        assert_eq!(f.duration_ms, 2.5);
        assert!(!f.failed && f.status() == "success");

        let step = packed(
            None,
            false,
            &[
                ("genkit:type", "action"),
                ("genkit:path", "/{f,t:action,s:flow}/{t,t:action,s:tool}"),
            ],
        );
        parts.read(&step);
        assert!(!SpanFacts::read(&parts, false).unwrap().root);

        let no_path = packed(Some([9; 8]), true, &[("genkit:type", "action")]);
        parts.read(&no_path);
        assert!(
            SpanFacts::read(&parts, false).unwrap().root,
            "remote parent"
        );
        let no_path = packed(Some([9; 8]), false, &[("genkit:type", "action")]);
        parts.read(&no_path);
        assert!(!SpanFacts::read(&parts, false).unwrap().root);

        let plain = packed(None, false, &[("http.method", "GET")]);
        parts.read(&plain);
        assert!(SpanFacts::read(&parts, false).is_none());
    }

    #[test]
    fn errors_come_from_the_exception_event_then_genkit_error() {
        let mut p = SpanPacker::new([1; 16], [2; 8], None, false, SpanKind::Internal, 0, 1);
        p.attribute_str("genkit:type", "action");
        p.attribute_str("genkit:state", "error");
        p.attribute_str("genkit:error", "from genkit");
        p.status_error("from status");
        p.event("exception", 1, 3);
        p.attribute_str("exception.type", "ValueError");
        p.attribute_str("exception.message", "bad city");
        p.attribute_str("exception.stacktrace", "Traceback ...");
        let span = p.finish().unwrap();
        let mut parts = SpanParts::default();
        parts.read(&span);
        let f = SpanFacts::read(&parts, true).unwrap();
        assert!(f.failed && f.failure_source);
        assert_eq!(f.error_name(), "ValueError");
        assert_eq!(f.error_message(), "bad city");
        assert_eq!(f.exception.stack, Some("Traceback ..."));

        let mut p = SpanPacker::new([1; 16], [2; 8], None, false, SpanKind::Internal, 0, 1);
        p.attribute_str("genkit:type", "action");
        p.attribute_str("genkit:error", "from genkit");
        p.status_error("from status");
        let span = p.finish().unwrap();
        parts.read(&span);
        let f = SpanFacts::read(&parts, false).unwrap();
        assert!(f.failed, "the status says so");
        assert_eq!(
            (f.error_name(), f.error_message()),
            ("<unknown>", "from genkit")
        );
    }

    #[test]
    fn model_spans_carry_their_parsed_response() {
        let span = packed(
            Some([9; 8]),
            false,
            &[
                ("genkit:type", "action"),
                ("genkit:metadata:subtype", "model"),
                ("genkit:output", r#"{"usage":{"inputTokens":3}}"#),
            ],
        );
        let mut parts = SpanParts::default();
        parts.read(&span);
        let f = SpanFacts::read(&parts, false).unwrap();
        assert_eq!(f.model.unwrap().usage.input_tokens, Some(3.0));
        let no_output = packed(
            None,
            false,
            &[
                ("genkit:type", "action"),
                ("genkit:metadata:subtype", "model"),
            ],
        );
        parts.read(&no_output);
        let f = SpanFacts::read(&parts, false).unwrap();
        assert_eq!(f.model, Some(ModelOutput::default()));
    }
}
