//! One telemetry item as Live Metrics sees it: its type and the fields the
//! counters, the filters and the documents read, made from what the pipeline
//! takes in. A span is read through the same view step as its envelope
//! (`SpanView::of`), so Request or dependency, name, success, result code and
//! target are what Application Insights receives; its `exception` events are
//! Exception items of their own.

use crate::envelopes::{tag, text, Item as Envelope, SpanView, ViewOptions};
use crate::ingest::{Attr, Custom, LogRecord, SpanParts};
use std::borrow::Cow;

/// The telemetry types of the filter configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TelemetryType {
    Request,
    Dependency,
    Exception,
    Trace,
    Event,
}

impl TelemetryType {
    pub const ALL: [TelemetryType; 5] = [
        TelemetryType::Request,
        TelemetryType::Dependency,
        TelemetryType::Exception,
        TelemetryType::Trace,
        TelemetryType::Event,
    ];

    /// As the configuration names it (`"Request"`, ...).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            TelemetryType::Request => "Request",
            TelemetryType::Dependency => "Dependency",
            TelemetryType::Exception => "Exception",
            TelemetryType::Trace => "Trace",
            TelemetryType::Event => "Event",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// An item's fields; a field its type does not have stays empty.
#[derive(Debug, Clone)]
pub(crate) struct LiveItem<'a> {
    pub kind: TelemetryType,
    /// A request's, dependency's or event's name.
    pub name: Cow<'a, str>,
    /// A request's URL.
    pub url: Cow<'a, str>,
    /// A request's response code or a dependency's result code.
    pub code: Cow<'a, str>,
    pub duration_nanos: u64,
    pub success: bool,
    /// A dependency's target, type and data (URL or statement).
    pub target: Cow<'a, str>,
    pub dependency_type: Cow<'a, str>,
    pub data: Cow<'a, str>,
    /// A trace's message, or an exception's.
    pub message: Cow<'a, str>,
    pub exception_type: Cow<'a, str>,
    pub stack: Cow<'a, str>,
    /// Custom dimensions: what the envelope's `properties` say.
    pub dimensions: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> LiveItem<'a> {
    pub fn new(kind: TelemetryType) -> Self {
        Self {
            kind,
            name: Cow::Borrowed(""),
            url: Cow::Borrowed(""),
            code: Cow::Borrowed(""),
            duration_nanos: 0,
            success: true,
            target: Cow::Borrowed(""),
            dependency_type: Cow::Borrowed(""),
            data: Cow::Borrowed(""),
            message: Cow::Borrowed(""),
            exception_type: Cow::Borrowed(""),
            stack: Cow::Borrowed(""),
            dimensions: Vec::new(),
        }
    }

    pub fn duration_ms(&self) -> f64 {
        self.duration_nanos as f64 / 1e6
    }

    /// A custom dimension's value (the last one, as in the envelope).
    pub fn dimension(&self, key: &str) -> Option<&str> {
        self.dimensions
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// A span's items, pushed to `out`: the Request or dependency its view
    /// says, then an Exception per `exception` event.
    pub fn from_span(parts: &SpanParts<'a>, options: &ViewOptions, out: &mut Vec<LiveItem<'a>>) {
        let view = SpanView::of(parts, options);
        let mut dimensions = Vec::with_capacity(parts.attrs.len() + view.extra.len());
        for (i, a) in parts.attrs.iter().enumerate() {
            // What the writer leaves out of `properties`, left out here.
            if a.key.starts_with("_MS.")
                || view.maps(a.key)
                || tag(a.key).is_some()
                || parts.attrs[i + 1..].iter().any(|b| b.key == a.key)
            {
                continue;
            }
            if let Some(value) = view.property(a.key, a.value) {
                dimensions.push((Cow::Borrowed(a.key), value));
            }
        }
        for (key, value) in &view.extra {
            dimensions.push((Cow::Borrowed(*key), value.clone()));
        }
        let mut item = LiveItem::new(match view.item {
            Envelope::Request => TelemetryType::Request,
            Envelope::Dependency => TelemetryType::Dependency,
        });
        item.duration_nanos = parts.end_unix_nanos.saturating_sub(parts.start_unix_nanos);
        item.success = view.success;
        item.code = view.result_code;
        item.dimensions = dimensions;
        item.name = view.name;
        match view.item {
            Envelope::Request => item.url = view.url.unwrap_or_default(),
            Envelope::Dependency => {
                item.data = view.url.unwrap_or_default();
                item.target = view.target.unwrap_or_default();
                item.dependency_type = view.dependency_type.unwrap_or_default();
            }
        }
        out.push(item);
        for event in parts.events.iter().filter(|e| e.name == "exception") {
            let attrs = &parts.nested[event.attrs.clone()];
            let get = |key: &str| Attr::last(attrs, key).map(text);
            let mut e = LiveItem::new(TelemetryType::Exception);
            e.exception_type = get("exception.type").unwrap_or_default();
            e.message = get("exception.message").unwrap_or_default();
            e.stack = get("exception.stacktrace").unwrap_or_default();
            e.dimensions = attrs
                .iter()
                .filter(|a| !a.key.starts_with("exception.") && !a.key.starts_with("_MS."))
                .map(|a| (Cow::Borrowed(a.key), text(a.value)))
                .collect();
            out.push(e);
        }
    }

    /// A log record: an Exception when it carries `exception.*` attributes
    /// (as its envelope is), else a Trace.
    pub fn from_log(log: &'a LogRecord) -> Self {
        let get = |key: &str| log.attribute(key);
        let is_exception = log
            .attributes
            .iter()
            .any(|kv| matches!(kv.key.as_str(), "exception.type" | "exception.message"));
        let mut item;
        if is_exception {
            item = LiveItem::new(TelemetryType::Exception);
            // The text the user logged is the message, as in the envelope.
            item.message = match (log.body.is_empty(), get("exception.message")) {
                (true, Some(m)) => m,
                _ => Cow::Borrowed(log.body.as_str()),
            };
            item.exception_type = get("exception.type").unwrap_or_default();
            item.stack = get("exception.stacktrace").unwrap_or_default();
        } else {
            item = LiveItem::new(TelemetryType::Trace);
            item.message = Cow::Borrowed(log.body.as_str());
        }
        item.dimensions = log
            .attributes
            .iter()
            .filter(|kv| {
                let k = kv.key.as_str();
                !k.starts_with("_MS.")
                    && tag(k).is_none()
                    && !(is_exception && k.starts_with("exception."))
            })
            .map(|kv| (Cow::Borrowed(kv.key.as_str()), kv.value.as_str()))
            .collect();
        if let Some(name) = &log.logger_name {
            item.dimensions
                .push((Cow::Borrowed("logger_name"), Cow::Borrowed(name.as_str())));
        }
        item
    }

    /// A custom event or a tracked exception; availability results have no
    /// Live Metrics form.
    pub fn from_custom(custom: &'a Custom) -> Option<Self> {
        let mut item = match custom {
            Custom::Event(e) => {
                let mut item = LiveItem::new(TelemetryType::Event);
                item.name = Cow::Borrowed(e.name.as_str());
                item
            }
            Custom::Exception(e) => {
                let mut item = LiveItem::new(TelemetryType::Exception);
                item.exception_type = Cow::Borrowed(e.type_name.as_str());
                item.message = Cow::Borrowed(e.message.as_str());
                item.stack = Cow::Borrowed(e.stack.as_deref().unwrap_or(""));
                item
            }
            Custom::Availability(_) => return None,
        };
        item.dimensions = custom
            .properties()
            .iter()
            .map(|kv| (Cow::Borrowed(kv.key.as_str()), kv.value.as_str()))
            .collect();
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{PackedSpan, TrackedException};
    use crate::live::test_support::{span, span_with_exceptions};
    use opentelemetry::logs::Severity;
    use opentelemetry::trace::SpanKind;
    use opentelemetry::KeyValue;

    fn items_of(span: &PackedSpan) -> Vec<(TelemetryType, String, String, bool, u64)> {
        let mut parts = SpanParts::default();
        parts.read(span);
        let mut out = Vec::new();
        LiveItem::from_span(&parts, &ViewOptions::default(), &mut out);
        out.iter()
            .map(|i| {
                let main = match i.kind {
                    TelemetryType::Exception => i.message.to_string(),
                    _ => i.name.to_string(),
                };
                (
                    i.kind,
                    main,
                    i.code.to_string(),
                    i.success,
                    i.duration_nanos,
                )
            })
            .collect()
    }

    #[test]
    fn a_span_is_what_its_envelope_says() {
        let server = span(
            SpanKind::Server,
            "GET",
            vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.route", "/menu"),
                KeyValue::new("http.response.status_code", 200),
                KeyValue::new("url.full", "https://h/menu?x=1"),
                KeyValue::new("team", "ai"),
            ],
            true,
            48,
        );
        assert_eq!(
            items_of(&server),
            [(
                TelemetryType::Request,
                "GET /menu".into(),
                "200".into(),
                true,
                48_000_000
            )]
        );
        let mut parts = SpanParts::default();
        parts.read(&server);
        let mut out = Vec::new();
        LiveItem::from_span(&parts, &ViewOptions::default(), &mut out);
        assert_eq!(out[0].url, "https://h/menu?x=1");
        // Mapped attributes are fields, not dimensions.
        assert_eq!(
            out[0].dimensions,
            [(Cow::Borrowed("team"), Cow::Borrowed("ai"))]
        );

        let client = span(
            SpanKind::Client,
            "query",
            vec![
                KeyValue::new("db.system", "postgresql"),
                KeyValue::new("db.statement", "SELECT 1"),
                KeyValue::new("server.address", "db"),
            ],
            false,
            5,
        );
        let mut parts = SpanParts::default();
        parts.read(&client);
        let mut out = Vec::new();
        LiveItem::from_span(&parts, &ViewOptions::default(), &mut out);
        let d = &out[0];
        assert_eq!(d.kind, TelemetryType::Dependency);
        assert!(!d.success);
        assert_eq!(
            (&*d.target, &*d.dependency_type, &*d.data, &*d.code),
            ("db", "postgresql", "SELECT 1", "2")
        );
    }

    #[test]
    fn exception_events_are_exceptions_of_their_own() {
        let packed = span_with_exceptions(SpanKind::Internal, "work", vec![], true, 1, 1);
        let mut parts = SpanParts::default();
        parts.read(&packed);
        let mut out = Vec::new();
        LiveItem::from_span(&parts, &ViewOptions::default(), &mut out);
        assert_eq!(out.len(), 2);
        let e = &out[1];
        assert_eq!(e.kind, TelemetryType::Exception);
        assert_eq!(
            (&*e.exception_type, &*e.message, &*e.stack),
            ("ValueError", "bad 0", "at work()")
        );
        assert_eq!(e.dimension("where"), Some("here"));
    }

    #[test]
    fn logs_are_traces_or_exceptions_and_custom_items_keep_their_fields() {
        let log = LogRecord::new(Severity::Info, "hello").with_attribute(KeyValue::new("k", "v"));
        let t = LiveItem::from_log(&log);
        assert_eq!((t.kind, &*t.message), (TelemetryType::Trace, "hello"));
        assert_eq!(t.dimension("k"), Some("v"));
        let log = LogRecord::new(Severity::Error, "")
            .with_attribute(KeyValue::new("exception.type", "KeyError"))
            .with_attribute(KeyValue::new("exception.message", "42"));
        let e = LiveItem::from_log(&log);
        assert_eq!(
            (e.kind, &*e.exception_type, &*e.message),
            (TelemetryType::Exception, "KeyError", "42")
        );
        assert!(e.dimensions.is_empty());

        let c = Custom::Exception(TrackedException::new("OrderError", "gone").with_stack("s"));
        let e = LiveItem::from_custom(&c).unwrap();
        assert_eq!(
            (&*e.exception_type, &*e.message, &*e.stack),
            ("OrderError", "gone", "s")
        );
        let c = Custom::Event(crate::CustomEvent::new("placed"));
        assert_eq!(LiveItem::from_custom(&c).unwrap().name, "placed");
        let c = Custom::Availability(crate::AvailabilityResult::new(
            "home",
            true,
            std::time::Duration::ZERO,
        ));
        assert!(LiveItem::from_custom(&c).is_none());
    }
}
