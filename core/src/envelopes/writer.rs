//! The envelope writer: a batch of packed spans, log records, metric series
//! or custom items becomes the gzipped JSON body of one request, in one pass. Field
//! values are borrowed from the packed bytes; each envelope is written as JSON
//! text into a small buffer that is fed to the compressor as it fills.
//!
//! What a span's envelope says is decided by its view (`view.rs`); this file
//! only knows Application Insights' schema: field names, order, formats and
//! length limits (cut at character boundaries, counted).

use super::genkit::logs::{ConfigLog, LOGGER};
use super::genkit::messages::{is_content_key, MAX_CONTENT_BYTES};
use super::genkit::GenkitSpan;
use super::gzip::{Deflaters, Gzip};
use super::json::{hex_into, Json, RenderedStr};
use super::keys::{KeyFacts, KeyTable};
use super::last_of_key::last_of_each_key;
use super::metrics::Series;
use super::resource::ResourceTags;
use super::tags::{self, ItemTags, TagValue};
use super::view::{text, Evaluation, Item, SpanView, ViewOptions};
use crate::ingest::{
    unix_nanos, Attr, Custom, EventRef, LogRecord, MetricKind, PackedSpan, SpanParts,
};
use opentelemetry::logs::Severity;
use std::borrow::{Borrow, Cow};
use std::time::SystemTime;

pub(crate) const MAX_NAME: usize = 1024;
pub(crate) const MAX_PROPERTY_KEY: usize = 150;
pub(crate) const MAX_PROPERTY_VALUE: usize = 8192;
const MAX_URL: usize = 2048;
const MAX_DATA: usize = 8192;
const MAX_FIELD: usize = 1024;
const MAX_MESSAGE: usize = 32768;
const MAX_EVENT_NAME: usize = 512;
/// At most this many links go into `_MS.links` (what fits its property).
const MAX_LINKS: usize = 107;

/// JSON text gathered before it is handed to the compressor. Each hand-over
/// moves the last 32 KB to the front of the text, as the compressor refers
/// back into them: with 32 KB chunks that was a copy of every byte (Rust
/// host, 8 interleaved runs: 1.6 % less CPU with 128 KB).
const CHUNK: usize = 128 * 1024;

/// Span events with these names become Exception and Event envelopes.
const EVENT_EXCEPTION: &str = "exception";
const EVENT_CUSTOM: &str = "ai.custom";
const CUSTOM_EVENT_NAME: &str = "ai.customEvent.name";

/// A written request body.
#[derive(Debug)]
pub(crate) struct Body {
    /// gzip of a JSON array of envelopes.
    pub gzip: Vec<u8>,
    /// Strings cut to their field's limit.
    pub cut: u64,
    /// The JSON's length before gzip (what the service's size limit reads).
    pub json_bytes: usize,
    /// Envelopes in the array.
    pub envelopes: usize,
}

/// Writes envelopes for one instrumentation key and resource.
#[derive(Debug)]
pub(crate) struct EnvelopeWriter {
    /// The instrumentation key as every envelope writes it.
    ikey: RenderedStr,
    resource: ResourceTags,
    deflaters: Deflaters,
    view: ViewOptions,
}

/// One body being written.
struct Out<'a> {
    json: Json,
    gz: Gzip<'a>,
    envelopes: usize,
    /// JSON bytes already handed to the compressor.
    flushed: usize,
    /// The first bytes of `json` are text already compressed, kept for the
    /// compressor to refer back to.
    history: usize,
}

impl<'a> Out<'a> {
    fn new(deflaters: &'a Deflaters) -> std::io::Result<Self> {
        let mut json = Json::marked();
        json.buf.reserve(2 * CHUNK);
        json.byte(b'[');
        Ok(Self {
            json,
            gz: deflaters.start()?,
            envelopes: 0,
            flushed: 0,
            history: 0,
        })
    }

    /// Hands the text written since the last time to the compressor.
    fn compress(&mut self) -> std::io::Result<()> {
        let marks = self.json.marks.as_deref().expect("a body's text is marked");
        let keep = self.gz.write_after(&self.json.buf, self.history, marks)?;
        self.flushed += self.json.buf.len() - self.history;
        self.json.keep_last(keep);
        self.history = keep;
        Ok(())
    }

    /// Starts an envelope: a separator after the first.
    fn next(&mut self) -> std::io::Result<&mut Json> {
        if self.json.buf.len() - self.history >= CHUNK {
            self.compress()?;
        }
        if self.envelopes > 0 {
            self.json.byte(b',');
        }
        self.envelopes += 1;
        Ok(&mut self.json)
    }

    fn finish(mut self) -> std::io::Result<Body> {
        self.json.byte(b']');
        self.compress()?;
        Ok(Body {
            gzip: self.gz.finish()?,
            cut: self.json.cut,
            json_bytes: self.flushed,
            envelopes: self.envelopes,
        })
    }
}

/// Application Insights' severity levels: Verbose 0 ... Critical 4.
fn severity_level(s: Severity) -> u8 {
    match s as i32 {
        ..=8 => 0,
        9..=12 => 1,
        13..=16 => 2,
        17..=20 => 3,
        _ => 4,
    }
}

/// The severity a span event's `level` attribute names (the `tracing` crate's).
fn event_level(attrs: &[Attr<'_>]) -> Option<u8> {
    match text(Attr::last(attrs, "level")?).as_ref() {
        "TRACE" | "DEBUG" => Some(0),
        "INFO" => Some(1),
        "WARN" => Some(2),
        "ERROR" => Some(3),
        _ => None,
    }
}

impl EnvelopeWriter {
    pub fn new(instrumentation_key: &str, resource: ResourceTags, level: u32) -> Self {
        Self {
            ikey: RenderedStr::new(instrumentation_key, 40),
            resource,
            deflaters: Deflaters::new(level),
            view: ViewOptions::default(),
        }
    }

    /// What the view step is told (redaction of Genkit content).
    pub fn with_view(mut self, view: ViewOptions) -> Self {
        self.view = view;
        self
    }

    /// The body for a batch of spans.
    pub fn spans(&self, spans: &[PackedSpan], with_resource: bool) -> std::io::Result<Body> {
        self.body(with_resource, |out| {
            let mut parts = SpanParts::default();
            let mut tags = ItemTags::default();
            let mut keys = KeyTable::default();
            for (i, span) in spans.iter().enumerate() {
                if let Some(next) = spans.get(i + 1) {
                    next.prefetch();
                }
                // Malformed bytes never come from `SpanPacker`; what was read is written.
                let _ = parts.read(span);
                let view = SpanView::of_where(&parts, &self.view, |a| keys.of(a).view_reads);
                self.span(out.next()?, &parts, &view, &mut tags, &mut keys);
                for event in &parts.events {
                    self.span_event(out.next()?, &parts, &view, event, &mut tags);
                }
                for e in &view.evaluations {
                    self.evaluation(out.next()?, &parts, &view, e, &mut tags);
                }
                if span.has_config_log() {
                    // Marked only on a model call, which reads as Genkit's.
                    if let Some(genkit) = GenkitSpan::read(&parts) {
                        self.config_log(out.next()?, &parts, &genkit);
                    }
                }
            }
            Ok(())
        })
    }

    /// The body for a batch of log records (held by value or boxed).
    pub fn logs(
        &self,
        logs: &[impl Borrow<LogRecord>],
        with_resource: bool,
    ) -> std::io::Result<Body> {
        self.body(with_resource, |out| {
            for log in logs {
                self.log(out.next()?, log.borrow());
            }
            Ok(())
        })
    }

    /// The body for one collection of metric series.
    pub fn metrics(&self, series: &[Series], with_resource: bool) -> std::io::Result<Body> {
        self.body(with_resource, |out| {
            let now = unix_nanos(SystemTime::now());
            let mut own = ItemTags::default();
            for s in series {
                self.metric(out.next()?, s, now, &mut own);
            }
            Ok(())
        })
    }

    /// The body for custom telemetry: Event, Exception and Availability envelopes.
    pub fn custom(
        &self,
        items: &[impl Borrow<Custom>],
        with_resource: bool,
    ) -> std::io::Result<Body> {
        self.body(with_resource, |out| {
            for item in items {
                self.custom_item(out.next()?, item.borrow());
            }
            Ok(())
        })
    }

    /// One request body: the envelopes `write` writes, then the
    /// `_OTELRESOURCE_` metric when `with_resource` (last, so the items keep
    /// their indexes in the service's partial-success answers).
    fn body(
        &self,
        with_resource: bool,
        write: impl FnOnce(&mut Out) -> std::io::Result<()>,
    ) -> std::io::Result<Body> {
        let mut out = Out::new(&self.deflaters)?;
        write(&mut out)?;
        if with_resource {
            self.resource_metric(out.next()?);
        }
        out.finish()
    }

    /// `{"name":...,"time":...,"iKey":...,` and the sample rate where given
    /// (the percentage of items kept: 100 unless sampling dropped some).
    fn head(&self, j: &mut Json, kind: &str, time_unix_nanos: u64, sample_rate: Option<f64>) {
        j.raw("{\"name\":\"Microsoft.ApplicationInsights.");
        j.raw(kind);
        j.raw("\",\"time\":");
        j.time(time_unix_nanos);
        j.raw(",\"iKey\":");
        j.rendered(&self.ikey);
        if let Some(rate) = sample_rate {
            j.raw(",\"sampleRate\":");
            // A whole percentage as the official distro writes it: `25.0`.
            if rate.fract() == 0.0 && (0.0..=100.0).contains(&rate) {
                j.u64(rate as u64);
            } else {
                j.f64(rate);
            }
            if rate.fract() == 0.0 {
                j.raw(".0");
            }
        }
    }

    /// `,"tags":{...}` with the resource's tags and `own`.
    fn tags(&self, j: &mut Json, own: &ItemTags<'_>) {
        j.raw(",\"tags\":{");
        let mut wrote = self.resource.write(j, |k| own.has(k));
        for (k, v) in own.iter() {
            if wrote {
                j.byte(b',');
            }
            match v {
                TagValue::Text(t) => j.field_str(k, t, tags::limit(k)),
                TagValue::Hex(id) => {
                    j.key(k);
                    j.hex(id);
                }
            }
            wrote = true;
        }
        j.byte(b'}');
    }

    /// `,"data":{"baseType":"<T>Data","baseData":{"ver":2`
    fn data(j: &mut Json, kind: &str) {
        j.raw(",\"data\":{\"baseType\":\"");
        j.raw(kind);
        j.raw("Data\",\"baseData\":{\"ver\":2");
    }

    /// Closes baseData, data and the envelope.
    fn end(j: &mut Json) {
        j.raw("}}}");
    }

    fn span<'a>(
        &self,
        j: &mut Json,
        span: &SpanParts<'a>,
        view: &SpanView<'a>,
        own: &mut ItemTags<'a>,
        keys: &mut KeyTable,
    ) {
        let kind = match view.item {
            Item::Request => "Request",
            Item::Dependency => "RemoteDependency",
        };
        self.head(
            j,
            kind,
            span.start_unix_nanos,
            Some(span.sample_rate.unwrap_or(100.0)),
        );
        own.clear();
        for a in span.nested[span.scope_attrs.clone()]
            .iter()
            .chain(span.attrs.iter())
        {
            if let Some(tag) = keys.of(a).tag {
                own.set(tag, text(a.value));
            }
        }
        own.set(tags::OPERATION_ID, TagValue::Hex(span.trace_id));
        // A call inside an agent goes under the agent (see `pipeline/agents.rs`).
        if let Some(parent) = span.reparented.or(span.parent_span_id) {
            own.set(tags::OPERATION_PARENT_ID, TagValue::Hex(parent));
        }
        if let Some(user) = &view.user_id {
            own.set(tags::USER_AUTH_USER_ID, user.clone());
        }
        if let Some(op) = &view.operation_name {
            own.set(tags::OPERATION_NAME, op.clone());
        }
        if let Some(ip) = &view.client_ip {
            own.set(tags::LOCATION_IP, ip.clone());
        }
        if let Some(agent) = &view.user_agent {
            own.set(tags::USER_AGENT, agent.clone());
        }
        if let Some(session) = &view.session_id {
            own.set(tags::SESSION_ID, session.clone());
        }
        self.tags(j, own);
        Self::data(j, kind);
        j.raw(",\"id\":");
        j.hex(span.span_id);
        // A dependency's name is required; a request without one is named by the portal.
        if view.item == Item::Dependency || !view.name.is_empty() {
            j.field_str_after_comma("name", &view.name, MAX_NAME);
        }
        j.raw(",\"duration\":");
        j.duration(span.end_unix_nanos.saturating_sub(span.start_unix_nanos));
        let (code_field, url_field) = match view.item {
            Item::Request => ("responseCode", "url"),
            Item::Dependency => ("resultCode", "data"),
        };
        j.field_str_after_comma(code_field, &view.result_code, MAX_FIELD);
        j.raw(if view.success {
            ",\"success\":true"
        } else {
            ",\"success\":false"
        });
        if let Some(url) = &view.url {
            let max = match view.item {
                Item::Request => MAX_URL,
                Item::Dependency => MAX_DATA,
            };
            j.field_str_after_comma(url_field, url, max);
        }
        if let Some(source) = &view.source {
            j.field_str_after_comma("source", source, MAX_FIELD);
        }
        if let Some(target) = &view.target {
            j.field_str_after_comma("target", target, MAX_FIELD);
        }
        if let Some(t) = &view.dependency_type {
            j.field_str_after_comma("type", t, MAX_FIELD);
        }
        let mut props = Properties::open(j);
        for a in last_of_each_key(&span.attrs, |a| a.key) {
            let key = keys.of(a);
            if key.reserved || key.maps(view.item) || key.tag.is_some() {
                continue;
            }
            view.with_property(a, key.genkit, |value| props.value_of(key, value));
        }
        for (key, value) in &view.extra {
            props.value(key, value);
        }
        if !span.links.is_empty() {
            let mut links = Vec::with_capacity(span.links.len().min(MAX_LINKS) * 80);
            links.push(b'[');
            for (i, l) in span.links.iter().take(MAX_LINKS).enumerate() {
                if i > 0 {
                    links.push(b',');
                }
                links.extend_from_slice(b"{\"operation_Id\":\"");
                hex_into(&mut links, l.trace_id);
                links.extend_from_slice(b"\",\"id\":\"");
                hex_into(&mut links, l.span_id);
                links.extend_from_slice(b"\"}");
            }
            links.push(b']');
            let links = String::from_utf8(links).expect("ASCII");
            props.value("_MS.links", &links);
        }
        props.close();
        Self::end(j);
    }

    /// The opening of an item a span carries (a span event, an evaluation):
    /// head, tags in the span's operation with the span as parent, and
    /// `data` up to the base data's first field.
    fn under_span<'a>(
        &self,
        j: &mut Json,
        kind: &str,
        time_unix_nanos: u64,
        span: &SpanParts<'a>,
        view: &SpanView<'a>,
        own: &mut ItemTags<'a>,
    ) {
        self.head(
            j,
            kind,
            time_unix_nanos,
            Some(span.sample_rate.unwrap_or(100.0)),
        );
        own.clear();
        own.set(tags::OPERATION_ID, TagValue::Hex(span.trace_id));
        own.set(tags::OPERATION_PARENT_ID, TagValue::Hex(span.span_id));
        if let Some(op) = &view.operation_name {
            own.set(tags::OPERATION_NAME, op.clone());
        }
        self.tags(j, own);
        Self::data(j, kind);
    }

    fn span_event<'a>(
        &self,
        j: &mut Json,
        span: &SpanParts<'a>,
        view: &SpanView<'a>,
        event: &EventRef<'a>,
        own: &mut ItemTags<'a>,
    ) {
        let attrs = &span.nested[event.attrs.clone()];
        let kind = match event.name {
            EVENT_EXCEPTION => "Exception",
            EVENT_CUSTOM => "Event",
            _ => "Message",
        };
        self.under_span(j, kind, event.time_unix_nanos, span, view, own);
        let get = |key: &str| Attr::last(attrs, key).map(text);
        let skip: fn(&str) -> bool = match kind {
            "Exception" => {
                let type_name = get("exception.type");
                let message = get("exception.message");
                let stack = get("exception.stacktrace");
                write_exception(
                    j,
                    type_name.as_deref().unwrap_or("<no type>"),
                    message.as_deref().unwrap_or("<no message>"),
                    stack.as_deref(),
                );
                |k| k.starts_with("exception.")
            }
            "Event" => {
                let name = get(CUSTOM_EVENT_NAME);
                j.field_str_after_comma(
                    "name",
                    name.as_deref().unwrap_or("<no name>"),
                    MAX_EVENT_NAME,
                );
                |k| k == CUSTOM_EVENT_NAME
            }
            _ => {
                let message = if event.name.is_empty() {
                    "<no message>"
                } else {
                    event.name
                };
                j.field_str_after_comma("message", message, MAX_MESSAGE);
                match event_level(attrs) {
                    Some(level) => {
                        j.raw(",\"severityLevel\":");
                        j.u64(level.into());
                        |k| k == "level"
                    }
                    None => |_| false,
                }
            }
        };
        let mut props = Properties::open(j);
        for a in last_of_each_key(attrs, |a| a.key) {
            if skip(a.key) || a.key.starts_with("_MS.") {
                continue;
            }
            props.value(a.key, &text(a.value));
        }
        props.close();
        Self::end(j);
    }

    /// A `gen_ai.evaluation.result` Event, in the evaluator span's
    /// operation and under it, as Azure's Agents view reads evaluations.
    fn evaluation<'a>(
        &self,
        j: &mut Json,
        span: &SpanParts<'a>,
        view: &SpanView<'a>,
        e: &Evaluation,
        own: &mut ItemTags<'a>,
    ) {
        self.under_span(j, "Event", span.end_unix_nanos, span, view, own);
        j.field_str_after_comma("name", "gen_ai.evaluation.result", MAX_EVENT_NAME);
        let mut props = Properties::open(j);
        props.value("gen_ai.evaluation.name", &e.name);
        for (key, value) in [
            ("gen_ai.evaluation.score.value", &e.value),
            ("gen_ai.evaluation.score.label", &e.label),
            ("gen_ai.evaluation.explanation", &e.explanation),
            ("gen_ai.agent.id", &e.agent_id),
        ] {
            if let Some(v) = value {
                props.value(key, v);
            }
        }
        props.close();
        Self::end(j);
    }

    fn log(&self, j: &mut Json, log: &LogRecord) {
        let is_exception = log
            .attributes
            .iter()
            .any(|kv| matches!(kv.key.as_str(), "exception.type" | "exception.message"));
        let kind = if is_exception { "Exception" } else { "Message" };
        self.head(j, kind, unix_nanos(log.time), log.sample_rate);
        let ids = id_bytes(log.trace_context);
        let mut own = ItemTags::default();
        for kv in &log.attributes {
            if let Some((key, _)) = tags::tag(kv.key.as_str()) {
                own.set(key, kv.value.as_str());
            }
        }
        operation_tags(&mut own, &ids, log.operation_name.as_deref());
        self.tags(j, &own);
        Self::data(j, kind);
        let get = |key: &str| log.attribute(key);
        if is_exception {
            // The body is what the user wrote (`log.exception("division
            // failed")`): it is the message, as the official distro keeps it.
            let message = match (log.body.is_empty(), get("exception.message")) {
                (false, _) | (true, None) => Cow::Borrowed(log.body.as_str()),
                (true, Some(m)) => m,
            };
            let type_name = get("exception.type");
            let stack = get("exception.stacktrace");
            write_exception(
                j,
                type_name.as_deref().unwrap_or(""),
                &message,
                stack.as_deref(),
            );
        } else {
            j.field_str_after_comma("message", &log.body, MAX_MESSAGE);
        }
        j.raw(",\"severityLevel\":");
        j.u64(severity_level(log.severity).into());
        let mut props = Properties::open(j);
        let attrs = &log.attributes;
        for kv in last_of_each_key(attrs, |o| o.key.as_str()) {
            let key = kv.key.as_str();
            if key.starts_with("_MS.")
                || tags::tag(key).is_some()
                || (is_exception && key.starts_with("exception."))
                || (log.logger_name.is_some() && key == "logger_name")
            {
                continue;
            }
            props.value(key, &kv.value.as_str());
        }
        if let Some(name) = &log.logger_name {
            props.value("logger_name", name);
        }
        props.close();
        Self::end(j);
    }

    /// A model call's `Config[...]` record, written with its span: the
    /// Message envelope [`EnvelopeWriter::log`] writes for the record the
    /// worker would otherwise have derived (`logs::derive_with`), from the
    /// same description ([`ConfigLog`]) and with the span's sampling, as the
    /// worker marks only a span whose records share it.
    fn config_log(&self, j: &mut Json, span: &SpanParts<'_>, genkit: &GenkitSpan<'_>) {
        let config = ConfigLog::of(genkit, Cow::Owned(ConfigLog::display_path(genkit)));
        let operation = ConfigLog::operation(span, genkit);
        self.head(j, "Message", span.end_unix_nanos, span.sample_rate);
        let ids = Some((*span.trace_id, *span.span_id));
        let mut own = ItemTags::default();
        operation_tags(&mut own, &ids, operation.as_deref());
        self.tags(j, &own);
        Self::data(j, "Message");
        j.field_str_after_comma("message", &config.message(), MAX_MESSAGE);
        j.raw(",\"severityLevel\":");
        j.u64(severity_level(Severity::Info).into());
        let mut props = Properties::open(j);
        for (key, value) in config.attributes(&self.view.source) {
            props.value(key, value);
        }
        props.value("logger_name", LOGGER);
        props.close();
        Self::end(j);
    }

    /// One series: `{"name","value","count"[,"min","max"]}` as the official
    /// distro writes it (`count` 1 for a sum or a gauge: one sample).
    fn metric<'a>(&self, j: &mut Json, s: &'a Series, time: u64, own: &mut ItemTags<'a>) {
        self.head(j, "Metric", time, None);
        own.clear();
        for (k, v) in &s.key.attributes {
            if let Some((key, _)) = tags::tag(k) {
                own.set(key, Cow::Borrowed(v.as_str()));
            }
        }
        self.tags(j, own);
        Self::data(j, "Metric");
        let a = &s.aggregate;
        j.raw(",\"metrics\":[{");
        j.field_str("name", &s.key.name, MAX_NAME);
        j.raw(",\"value\":");
        j.f64(a.value);
        if s.key.kind == MetricKind::Histogram {
            j.raw(",\"count\":");
            j.u64(a.count);
            j.raw(",\"min\":");
            j.f64(a.min);
            j.raw(",\"max\":");
            j.f64(a.max);
        } else {
            j.raw(",\"count\":1");
        }
        j.raw("}]");
        let mut props = Properties::open(j);
        for (k, v) in &s.key.attributes {
            if tags::tag(k).is_none() {
                props.value(k, v);
            }
        }
        props.close();
        Self::end(j);
    }

    /// An Event, Exception or Availability envelope. An exception is written
    /// by the same code as a span's or a log's (`write_exception`).
    fn custom_item(&self, j: &mut Json, item: &Custom) {
        let kind = match item {
            Custom::Event(_) => "Event",
            Custom::Exception(_) => "Exception",
            Custom::Availability(_) => "Availability",
        };
        self.head(j, kind, unix_nanos(item.time()), item.sample_rate());
        let ids = id_bytes(item.trace_context());
        let mut own = ItemTags::default();
        operation_tags(&mut own, &ids, item.operation_name());
        self.tags(j, &own);
        Self::data(j, kind);
        match item {
            Custom::Event(e) => j.field_str_after_comma("name", &e.name, MAX_EVENT_NAME),
            Custom::Exception(e) => {
                write_exception(j, &e.type_name, &e.message, e.stack.as_deref());
            }
            Custom::Availability(a) => {
                // Each run is its own result: a fresh id, as the SDKs give one.
                j.raw(",\"id\":");
                j.hex(&fastrand::u64(..).to_le_bytes());
                j.field_str_after_comma("name", &a.name, MAX_NAME);
                j.raw(",\"duration\":");
                j.duration(u64::try_from(a.duration.as_nanos()).unwrap_or(u64::MAX));
                j.raw(if a.success {
                    ",\"success\":true"
                } else {
                    ",\"success\":false"
                });
                if let Some(location) = &a.run_location {
                    j.field_str_after_comma("runLocation", location, MAX_FIELD);
                }
                if let Some(message) = &a.message {
                    j.field_str_after_comma("message", message, MAX_DATA);
                }
            }
        }
        let properties = item.properties();
        let mut props = Properties::open(j);
        for kv in last_of_each_key(properties, |o| o.key.as_str()) {
            props.value(kv.key.as_str(), &kv.value.as_str());
        }
        props.close();
        let measurements = item.measurements();
        if !measurements.is_empty() {
            j.raw(",\"measurements\":{");
            let mut first = true;
            for (name, value) in last_of_each_key(measurements, |(n, _)| n.as_str()) {
                if !first {
                    j.byte(b',');
                }
                first = false;
                j.str(name, MAX_PROPERTY_KEY);
                j.byte(b':');
                j.f64(*value);
            }
            j.byte(b'}');
        }
        Self::end(j);
    }

    /// The `_OTELRESOURCE_` metric: the resource's attributes, once.
    fn resource_metric(&self, j: &mut Json) {
        self.head(j, "Metric", unix_nanos(SystemTime::now()), None);
        self.tags(j, &ItemTags::default());
        Self::data(j, "Metric");
        j.raw(",\"metrics\":[{\"name\":\"_OTELRESOURCE_\",\"value\":0}]");
        if !self.resource.properties().is_empty() {
            j.raw(",\"properties\":{");
            j.buf.extend_from_slice(self.resource.properties());
            j.byte(b'}');
        }
        Self::end(j);
    }
}

/// `,"exceptions":[{...}]`
fn write_exception(j: &mut Json, type_name: &str, message: &str, stack: Option<&str>) {
    j.raw(",\"exceptions\":[{");
    j.field_str("typeName", type_name, MAX_FIELD);
    j.field_str_after_comma("message", message, MAX_MESSAGE);
    if let Some(stack) = stack {
        j.raw(",\"hasFullStack\":true");
        j.field_str_after_comma("stack", stack, MAX_MESSAGE);
    }
    j.raw("}]");
}

/// A trace context's ids as bytes, for tags that borrow them (written as
/// hex, without a string each).
fn id_bytes(
    context: Option<(opentelemetry::trace::TraceId, opentelemetry::trace::SpanId)>,
) -> Option<([u8; 16], [u8; 8])> {
    context.map(|(trace_id, span_id)| (trace_id.to_bytes(), span_id.to_bytes()))
}

/// The tags of an item recorded in a trace that is not a span: its trace
/// (`ai.operation.id`), the span it was recorded in (`ai.operation.parentId`)
/// and the operation's name.
fn operation_tags<'a>(
    own: &mut ItemTags<'a>,
    ids: &'a Option<([u8; 16], [u8; 8])>,
    operation_name: Option<&'a str>,
) {
    if let Some((trace_id, span_id)) = ids {
        own.set(tags::OPERATION_ID, TagValue::Hex(trace_id));
        own.set(tags::OPERATION_PARENT_ID, TagValue::Hex(span_id));
    }
    if let Some(name) = operation_name {
        own.set(tags::OPERATION_NAME, Cow::Borrowed(name));
    }
}

/// `,"properties":{...}`, written only when there is at least one.
struct Properties<'j> {
    j: &'j mut Json,
    any: bool,
}

impl<'j> Properties<'j> {
    fn open(j: &'j mut Json) -> Self {
        Self { j, any: false }
    }

    fn value(&mut self, key: &str, value: &str) {
        let j = self.entry();
        j.str(key, MAX_PROPERTY_KEY);
        j.byte(b':');
        j.str(value, value_limit(is_content_key(key)));
    }

    /// [`Properties::value`] for a key whose facts are known.
    fn value_of(&mut self, key: &KeyFacts, value: &str) {
        let j = self.entry();
        j.rendered(&key.json);
        j.byte(b':');
        j.str(value, value_limit(key.content));
    }

    /// Opens the object before the first entry, separates the others.
    fn entry(&mut self) -> &mut Json {
        self.j.raw(if self.any { "," } else { ",\"properties\":{" });
        self.any = true;
        self.j
    }

    fn close(self) {
        if self.any {
            self.j.byte(b'}');
        }
    }
}

/// A property value's limit: GenAI messages get what Microsoft's exporters
/// give them.
fn value_limit(content: bool) -> usize {
    match content {
        true => MAX_CONTENT_BYTES,
        false => MAX_PROPERTY_VALUE,
    }
}
