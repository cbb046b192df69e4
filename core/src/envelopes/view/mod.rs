//! The view step: what one span means in Application Insights (a Request or
//! a RemoteDependency, its name, operation name, type, target, result), decided
//! before the writer serialises it.
//!
//! The standard OpenTelemetry mapping lives here: the one of
//! `opentelemetry-application-insights` (its README's attribute table), and
//! the official distro's where that says more (an HTTP dependency named
//! `METHOD /path`, a target from the URL, `GenAI | <system>` dependencies).
//! Genkit semantics (`genkit.rs`) refine it; sampling and the Agents view add
//! their decisions the same way; the writer only writes what a view says.

mod genkit;

use crate::envelopes::genkit::GenkitKey;
use crate::envelopes::json::{hex_string, with_f64_text};
use crate::ingest::{Attr, Kind, SpanParts, StatusCode, ValueRef};
use std::borrow::Cow;

/// What the view step is told by configuration.
#[derive(Debug, Clone, Default)]
pub(crate) struct ViewOptions {
    /// Export `genkit:input` / `genkit:output`; otherwise `<redacted>`.
    pub log_input_and_output: bool,
    /// `gen_ai.agent.id` by Genkit agent name (`agent_ids`); an agent not
    /// listed has its name as id.
    pub agent_ids: Option<std::sync::Arc<std::collections::HashMap<String, String>>>,
    /// USD per million (input, output) tokens by model (`model_prices`).
    pub model_prices: Option<std::sync::Arc<std::collections::HashMap<String, (f64, f64)>>>,
    /// Flows presented as agents (`agent_flows`).
    pub agent_flows: crate::envelopes::genkit::AgentFlows,
    /// Genkit's `source` / `sourceVersion` labels (from the resource), for
    /// the `Config[...]` records written with their spans.
    pub source: crate::envelopes::genkit::Source,
}

impl ViewOptions {
    /// The prices of a model, by its Genkit name, else by the name the
    /// conventions give it (`gen_ai.request.model`).
    pub fn model_price(&self, genkit_name: &str, model: &str) -> Option<(f64, f64)> {
        let prices = self.model_prices.as_ref()?;
        prices
            .get(genkit_name)
            .or_else(|| prices.get(model))
            .copied()
    }

    /// The id of the agent called `name`.
    pub fn agent_id<'a>(&self, name: &Cow<'a, str>) -> Cow<'a, str> {
        match self
            .agent_ids
            .as_ref()
            .and_then(|ids| ids.get(name.as_ref()))
        {
            Some(id) => Cow::Owned(id.clone()),
            None => name.clone(),
        }
    }
}

/// How a span's own attributes become properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    /// As they are (cut to the property limit).
    AsIs,
    /// A Genkit span: `genkit:metadata:context` is always redacted, and
    /// `genkit:input` / `genkit:output` unless `keep_io`, and an agent's
    /// `genkit:init` with them (a client-managed session's state, the whole
    /// conversation included, travels in it).
    Genkit { keep_io: bool },
}

/// The property that keeps a re-parented call's true (Genkit) parent span id.
pub(crate) const GENKIT_PARENT_ID: &str = "genkit_azure.genkit_parent_id";

/// What replaces content that is not exported.
pub(crate) const REDACTED: &str = "<redacted>";

/// Which envelope a span becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Request,
    Dependency,
}

/// The decisions for one span's envelope.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SpanView<'a> {
    pub item: Item,
    pub name: Cow<'a, str>,
    /// `ai.operation.name`, written on the span's envelope and its events'.
    pub operation_name: Option<Cow<'a, str>>,
    pub result_code: Cow<'a, str>,
    pub success: bool,
    /// A Request's `url`, or a dependency's `data` (URL or statement).
    pub url: Option<Cow<'a, str>>,
    /// A Request's `source` (the client address).
    pub source: Option<Cow<'a, str>>,
    pub target: Option<Cow<'a, str>>,
    pub dependency_type: Option<Cow<'a, str>>,
    /// `ai.user.authUserId`.
    pub user_id: Option<Cow<'a, str>>,
    /// A request's client: `ai.location.ip` and `ai.user.userAgent`, as the
    /// official distro writes them.
    pub client_ip: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    /// `ai.session.id`: a Genkit agent's session, so that the portal's
    /// session views group a conversation's turns.
    pub session_id: Option<Cow<'a, str>>,
    /// Properties the view adds (`gen_ai.*`, ...); a span attribute with the
    /// same key gives way to them.
    pub extra: Vec<(&'static str, Cow<'a, str>)>,
    pub content: Content,
    /// Scores a Genkit evaluator's test case gave: each is a
    /// `gen_ai.evaluation.result` event beside the span's envelope.
    pub evaluations: Vec<Evaluation>,
}

/// One evaluation result (OpenTelemetry's `gen_ai.evaluation.result`
/// event), as Azure's Agents view reads it.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Evaluation {
    /// `gen_ai.evaluation.name`: the evaluator (and the score's id, when a
    /// test case has several scores).
    pub name: String,
    /// `gen_ai.evaluation.score.value`: a number.
    pub value: Option<String>,
    /// `gen_ai.evaluation.score.label`: `pass`, `fail`, ... or a text score.
    pub label: Option<String>,
    /// `gen_ai.evaluation.explanation`: the evaluator's reasoning (content:
    /// only with `log_input_and_output`).
    pub explanation: Option<String>,
    /// `gen_ai.agent.id` of the agent it ran in, when it ran in one.
    pub agent_id: Option<String>,
}

/// The text of an attribute value, as OpenTelemetry's `Value::as_str` renders
/// it (arrays as `[1,2]` and `["a","b"]`).
pub(crate) fn text<'a>(v: ValueRef<'a>) -> Cow<'a, str> {
    use crate::ingest::Element;
    match v {
        ValueRef::Str(s) => Cow::Borrowed(s),
        ValueRef::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
        ValueRef::I64(_) | ValueRef::F64(_) => Cow::Owned(with_text(v, str::to_owned)),
        ValueRef::Array(a) => {
            let mut s = String::from("[");
            for (i, e) in a.elements().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                match e {
                    Element::Bool(b) => s.push_str(if b { "true" } else { "false" }),
                    Element::I64(n) => s.push_str(itoa::Buffer::new().format(n)),
                    Element::F64(f) => with_f64_text(f, |t| s.push_str(t)),
                    Element::Str(t) => {
                        s.push('"');
                        s.push_str(t);
                        s.push('"');
                    }
                }
            }
            s.push(']');
            Cow::Owned(s)
        }
    }
}

/// [`text`] handed to `f`, numbers written on the stack: the writer turns
/// every numeric attribute of every span into a property, and an owned
/// string each was two allocations a number.
pub(crate) fn with_text<R>(v: ValueRef<'_>, f: impl FnOnce(&str) -> R) -> R {
    match v {
        ValueRef::I64(i) => f(itoa::Buffer::new().format(i)),
        ValueRef::F64(x) => with_f64_text(x, f),
        other => f(&text(other)),
    }
}

/// The attributes the standard mapping reads, by key; the last value of a
/// repeated key wins (as in a map).
#[derive(Default)]
struct Known<'a> {
    http_request_method: Option<ValueRef<'a>>,
    http_method: Option<ValueRef<'a>>,
    http_route: Option<ValueRef<'a>>,
    http_response_status_code: Option<ValueRef<'a>>,
    http_status_code: Option<ValueRef<'a>>,
    url_full: Option<ValueRef<'a>>,
    http_url: Option<ValueRef<'a>>,
    url_path: Option<ValueRef<'a>>,
    url_query: Option<ValueRef<'a>>,
    http_target: Option<ValueRef<'a>>,
    url_scheme: Option<ValueRef<'a>>,
    http_scheme: Option<ValueRef<'a>>,
    http_request_header_host: Option<ValueRef<'a>>,
    http_host: Option<ValueRef<'a>>,
    server_address: Option<ValueRef<'a>>,
    server_port: Option<ValueRef<'a>>,
    net_host_name: Option<ValueRef<'a>>,
    net_host_port: Option<ValueRef<'a>>,
    client_address: Option<ValueRef<'a>>,
    http_client_ip: Option<ValueRef<'a>>,
    network_peer_address: Option<ValueRef<'a>>,
    network_peer_port: Option<ValueRef<'a>>,
    client_socket_address: Option<ValueRef<'a>>,
    server_socket_address: Option<ValueRef<'a>>,
    server_socket_port: Option<ValueRef<'a>>,
    net_sock_peer_addr: Option<ValueRef<'a>>,
    net_sock_peer_name: Option<ValueRef<'a>>,
    net_sock_peer_port: Option<ValueRef<'a>>,
    net_peer_name: Option<ValueRef<'a>>,
    net_peer_port: Option<ValueRef<'a>>,
    net_peer_ip: Option<ValueRef<'a>>,
    db_query_text: Option<ValueRef<'a>>,
    db_statement: Option<ValueRef<'a>>,
    db_namespace: Option<ValueRef<'a>>,
    db_name: Option<ValueRef<'a>>,
    db_system_name: Option<ValueRef<'a>>,
    db_system: Option<ValueRef<'a>>,
    messaging_system: Option<ValueRef<'a>>,
    rpc_system_name: Option<ValueRef<'a>>,
    rpc_system: Option<ValueRef<'a>>,
    user_id: Option<ValueRef<'a>>,
    enduser_id: Option<ValueRef<'a>>,
    gen_ai_provider_name: Option<ValueRef<'a>>,
    gen_ai_system: Option<ValueRef<'a>>,
    user_agent_original: Option<ValueRef<'a>>,
    http_user_agent: Option<ValueRef<'a>>,
    any_http: bool,
    any_db: bool,
}

impl<'a> Known<'a> {
    /// Notes the attributes of `span` the mapping reads, among those `reads`
    /// lets through (all of them, or those a caller knows it may read).
    /// Fills a `Known` the caller holds: returned by value, its 1.5 KB were
    /// copied once a span (170 instructions, half a percent of the worker's).
    fn read_where(&mut self, span: &SpanParts<'a>, mut reads: impl FnMut(&Attr<'a>) -> bool) {
        for a in &span.attrs {
            if reads(a) {
                self.note(a.key, a.value);
            }
        }
    }

    /// Keeps `value` when `key` is one the mapping reads; says whether it
    /// is (an `http.*` or `db.*` key counts: the mapping notes their presence).
    fn note(&mut self, key: &str, value: ValueRef<'a>) -> bool {
        let flagged = self.flag(key);
        let slot = match key {
            "http.request.method" => &mut self.http_request_method,
            "http.method" => &mut self.http_method,
            "http.route" => &mut self.http_route,
            "http.response.status_code" => &mut self.http_response_status_code,
            "http.status_code" => &mut self.http_status_code,
            "url.full" => &mut self.url_full,
            "http.url" => &mut self.http_url,
            "url.path" => &mut self.url_path,
            "url.query" => &mut self.url_query,
            "http.target" => &mut self.http_target,
            "url.scheme" => &mut self.url_scheme,
            "http.scheme" => &mut self.http_scheme,
            "http.request.header.host" => &mut self.http_request_header_host,
            "http.host" => &mut self.http_host,
            "server.address" => &mut self.server_address,
            "server.port" => &mut self.server_port,
            "net.host.name" => &mut self.net_host_name,
            "net.host.port" => &mut self.net_host_port,
            "client.address" => &mut self.client_address,
            "http.client_ip" => &mut self.http_client_ip,
            "network.peer.address" => &mut self.network_peer_address,
            "network.peer.port" => &mut self.network_peer_port,
            "client.socket.address" => &mut self.client_socket_address,
            "server.socket.address" => &mut self.server_socket_address,
            "server.socket.port" => &mut self.server_socket_port,
            "net.sock.peer.addr" => &mut self.net_sock_peer_addr,
            "net.sock.peer.name" => &mut self.net_sock_peer_name,
            "net.sock.peer.port" => &mut self.net_sock_peer_port,
            "net.peer.name" => &mut self.net_peer_name,
            "net.peer.port" => &mut self.net_peer_port,
            "net.peer.ip" => &mut self.net_peer_ip,
            "db.query.text" => &mut self.db_query_text,
            "db.statement" => &mut self.db_statement,
            "db.namespace" => &mut self.db_namespace,
            "db.name" => &mut self.db_name,
            "db.system.name" => &mut self.db_system_name,
            "db.system" => &mut self.db_system,
            "messaging.system" => &mut self.messaging_system,
            "rpc.system.name" => &mut self.rpc_system_name,
            "rpc.system" => &mut self.rpc_system,
            "user.id" => &mut self.user_id,
            "enduser.id" => &mut self.enduser_id,
            "gen_ai.provider.name" => &mut self.gen_ai_provider_name,
            "gen_ai.system" => &mut self.gen_ai_system,
            "user_agent.original" => &mut self.user_agent_original,
            "http.user_agent" => &mut self.http_user_agent,
            _ => return flagged,
        };
        *slot = Some(value);
        true
    }

    /// Notes an `http.*` or `db.*` key; says whether it was one.
    fn flag(&mut self, key: &str) -> bool {
        let (http, db) = (key.starts_with("http."), key.starts_with("db."));
        self.any_http |= http;
        self.any_db |= db;
        http || db
    }

    fn method(&self) -> Option<ValueRef<'a>> {
        self.http_request_method.or(self.http_method)
    }

    fn status_code(&self) -> Option<ValueRef<'a>> {
        self.http_response_status_code.or(self.http_status_code)
    }

    fn url(&self) -> Option<ValueRef<'a>> {
        self.url_full.or(self.http_url)
    }

    fn user(&self) -> Option<ValueRef<'a>> {
        self.user_id.or(self.enduser_id)
    }

    fn gen_ai_system(&self) -> Option<ValueRef<'a>> {
        self.gen_ai_provider_name.or(self.gen_ai_system)
    }
}

/// Keys a Request envelope says through its fields and tags.
fn request_maps(key: &str) -> bool {
    matches!(
        key,
        "http.request.method"
            | "http.method"
            | "http.route"
            | "http.response.status_code"
            | "http.status_code"
            | "url.full"
            | "http.url"
            | "url.path"
            | "url.query"
            | "http.target"
            | "url.scheme"
            | "http.scheme"
            | "http.request.header.host"
            | "http.host"
            | "server.address"
            | "server.port"
            | "net.host.name"
            | "net.host.port"
            | "client.address"
            | "http.client_ip"
            | "network.peer.address"
            | "client.socket.address"
            | "net.sock.peer.addr"
            | "net.peer.ip"
            | "user.id"
            | "enduser.id"
            | "user_agent.original"
            | "http.user_agent"
    )
}

/// Keys a RemoteDependency envelope says through its fields and tags.
fn dependency_maps(key: &str) -> bool {
    matches!(
        key,
        "http.request.method"
            | "http.method"
            | "http.response.status_code"
            | "http.status_code"
            | "url.full"
            | "http.url"
            | "url.path"
            | "db.query.text"
            | "db.statement"
            | "http.request.header.host"
            | "http.host"
            | "server.address"
            | "server.port"
            | "network.peer.address"
            | "network.peer.port"
            | "server.socket.address"
            | "server.socket.port"
            | "net.sock.peer.name"
            | "net.sock.peer.addr"
            | "net.sock.peer.port"
            | "net.peer.name"
            | "net.peer.port"
            | "net.peer.ip"
            | "db.namespace"
            | "db.name"
            | "db.system.name"
            | "db.system"
            | "messaging.system"
            | "rpc.system.name"
            | "rpc.system"
            | "user.id"
            | "enduser.id"
    )
}

/// Whether an envelope of type `item` says `key` through its fields or tags.
pub(crate) fn item_maps(item: Item, key: &str) -> bool {
    match item {
        Item::Request => request_maps(key),
        Item::Dependency => dependency_maps(key),
    }
}

/// Whether the standard mapping reads an attribute with this key at all.
pub(crate) fn view_reads(key: &str) -> bool {
    Known::default().note(key, ValueRef::Bool(false))
}

fn joined<'a>(a: Cow<'a, str>, sep: &str, b: Cow<'a, str>) -> Cow<'a, str> {
    Cow::Owned([&*a, sep, &*b].concat())
}

/// The span status as the crate writes a result code.
fn status_result_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::Unset => "0",
        StatusCode::Ok => "1",
        StatusCode::Error => "2",
    }
}

/// `scheme://authority/path?query` split into (scheme, authority, path without query).
fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let after = &rest[end..];
    let path_end = after.find(['?', '#']).unwrap_or(after.len());
    Some((scheme, authority, &after[..path_end]))
}

/// `host[:port]` of a URL's authority, without user info and without a port
/// that is the scheme's default.
fn url_target(url: &str) -> Option<&str> {
    let (scheme, authority, _) = split_url(url)?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        return None;
    }
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => Some(":80"),
        "https" => Some(":443"),
        _ => None,
    };
    Some(match default_port {
        Some(p) if host_port.ends_with(p) && !host_port.ends_with(']') => {
            &host_port[..host_port.len() - p.len()]
        }
        _ => host_port,
    })
}

impl<'a> SpanView<'a> {
    /// What a span means: the standard mapping, refined by Genkit's
    /// semantics for spans Genkit made, with the operation name the face
    /// registered at the span's start.
    pub fn of(span: &SpanParts<'a>, options: &ViewOptions) -> Self {
        Self::of_where(span, options, |_| true)
    }

    /// [`SpanView::of`] reading only the attributes `reads` lets through
    /// for the standard mapping: a writer that knows which keys the mapping
    /// reads ([`view_reads`]) spares every other key the string matches.
    pub fn of_where(
        span: &SpanParts<'a>,
        options: &ViewOptions,
        reads: impl FnMut(&Attr<'a>) -> bool,
    ) -> Self {
        let mut view = Self::standard_where(span, reads);
        genkit::refine(&mut view, span, options);
        if let Some(op) = span.operation_name {
            view.operation_name = Some(Cow::Borrowed(op));
        }
        if !view.success {
            view.error_type(span);
        }
        if let (Some(_), Some(parent)) = (span.reparented, span.parent_span_id) {
            // Exported under its agent: its place in Genkit's tree is kept.
            view.extra.push((GENKIT_PARENT_ID, Cow::Owned(hex_string(parent))));
        }
        view
    }

    /// A failed span's `error.type`, from its exception event, when the
    /// span does not set one itself: Azure's Agents view groups errors by
    /// it, and Microsoft's exporters drop it.
    fn error_type(&mut self, span: &SpanParts<'a>) {
        if span.attrs.iter().any(|a| a.key == "error.type") {
            return;
        }
        let type_name = span
            .events
            .iter()
            .rev()
            .filter(|e| e.name == "exception")
            .find_map(|e| {
                span.nested[e.attrs.clone()]
                    .iter()
                    .rev()
                    .find(|a| a.key == "exception.type")
            });
        if let Some(a) = type_name {
            self.extra.push(("error.type", text(a.value)));
        }
    }

    /// [`SpanView::standard_where`] over every attribute.
    #[cfg(test)]
    pub fn standard(span: &SpanParts<'a>) -> Self {
        Self::standard_where(span, |_| true)
    }

    /// The standard OpenTelemetry mapping of a span, from the attributes
    /// `reads` lets through.
    fn standard_where(span: &SpanParts<'a>, reads: impl FnMut(&Attr<'a>) -> bool) -> Self {
        let mut k = Known::default();
        k.read_where(span, reads);
        match span.kind {
            Kind::Server | Kind::Consumer => Self::request(span, &k),
            Kind::Client | Kind::Producer | Kind::Internal => Self::dependency(span, &k),
        }
    }

    /// The property a span attribute becomes: `None` when a property the
    /// view adds says it instead; redacted content says `<redacted>`.
    pub fn property(&self, key: &str, value: ValueRef<'a>) -> Option<Cow<'a, str>> {
        match self.property_of(key, GenkitKey::of_text(key))? {
            Some(redacted) => Some(Cow::Borrowed(redacted)),
            None => Some(text(value)),
        }
    }

    /// [`SpanView::property`] of the attribute `a`, whose key is the Genkit
    /// key `genkit` (the writer knows it already), handed to `f`, without
    /// allocating for a number.
    pub fn with_property(&self, a: &Attr<'a>, genkit: GenkitKey, f: impl FnOnce(&str)) {
        match self.property_of(a.key, genkit) {
            None => {}
            Some(Some(redacted)) => f(redacted),
            Some(None) => with_text(a.value, f),
        }
    }

    /// Whether a span attribute becomes a property (`None`: a property the
    /// view adds says it instead), and the text that replaces its value when
    /// it is redacted content.
    fn property_of(&self, key: &str, genkit: GenkitKey) -> Option<Option<&'static str>> {
        if !self.extra.is_empty() && self.extra.iter().any(|(k, _)| *k == key) {
            return None;
        }
        if let Content::Genkit { keep_io } = self.content {
            match genkit {
                GenkitKey::Context => return Some(Some(REDACTED)),
                GenkitKey::Input | GenkitKey::Output | GenkitKey::Init if !keep_io => {
                    return Some(Some(REDACTED))
                }
                _ => {}
            }
        }
        Some(None)
    }

    /// Whether `key` is already said by this envelope's fields or tags, so
    /// that it is not repeated in `properties` (as the official distro does).
    pub fn maps(&self, key: &str) -> bool {
        item_maps(self.item, key)
    }

    fn request(span: &SpanParts<'a>, k: &Known<'a>) -> Self {
        let method = k.method().map(text);
        let route = k.http_route.map(text);
        let name = match (&method, &route) {
            (Some(m), Some(r)) => joined(m.clone(), " ", r.clone()),
            (Some(m), None) => m.clone(),
            _ => Cow::Borrowed(span.name),
        };
        let operation_name = match (method, route) {
            (Some(m), Some(r)) => Some(joined(m, " ", r)),
            _ => None,
        };
        let url = k.url().map(text).or_else(|| {
            let target = match (k.url_path, k.url_query) {
                (Some(p), Some(q)) => Some(joined(text(p), "?", text(q))),
                (Some(p), None) => Some(text(p)),
                _ => k.http_target.map(text),
            }?;
            let target = if target.starts_with('/') {
                target
            } else {
                Cow::Owned(format!("/{target}"))
            };
            let host = k
                .http_request_header_host
                .or(k.http_host)
                .map(text)
                .or_else(|| {
                    let name = k.server_address.or(k.net_host_name)?;
                    let port = k.server_port.or(k.net_host_port)?;
                    Some(joined(text(name), ":", text(port)))
                });
            match (k.url_scheme.or(k.http_scheme), host) {
                (Some(scheme), Some(host)) => {
                    Some(Cow::Owned(format!("{}://{host}{target}", text(scheme))))
                }
                _ => Some(target),
            }
        });
        let source = k
            .client_address
            .or(k.http_client_ip)
            .or(k.network_peer_address)
            .or(k.client_socket_address)
            .or(k.net_sock_peer_addr)
            .or(k.net_peer_ip)
            .map(text);
        SpanView {
            item: Item::Request,
            client_ip: source.clone(),
            user_agent: k.user_agent_original.or(k.http_user_agent).map(text),
            session_id: None,
            name,
            operation_name,
            result_code: k
                .status_code()
                .map_or(Cow::Borrowed(status_result_code(span.status)), text),
            success: span.status != StatusCode::Error,
            url,
            source,
            target: None,
            dependency_type: None,
            user_id: k.user().map(text),
            extra: Vec::new(),
            content: Content::AsIs,
            evaluations: Vec::new(),
        }
    }

    fn dependency(span: &SpanParts<'a>, k: &Known<'a>) -> Self {
        let url = k.url();
        let data = url.or(k.db_query_text).or(k.db_statement).map(text);
        let peer = k
            .server_address
            .or(k.network_peer_address)
            .or(k.server_socket_address)
            .or(k.net_sock_peer_name)
            .or(k.net_peer_name)
            .or(k.net_sock_peer_addr)
            .or(k.net_peer_ip);
        let port = k
            .server_port
            .or(k.network_peer_port)
            .or(k.server_socket_port)
            .or(k.net_sock_peer_port)
            .or(k.net_peer_port);
        let url_text = url.map(text);
        let mut target = k
            .http_request_header_host
            .or(k.http_host)
            .map(text)
            .or_else(|| {
                let peer = text(peer?);
                Some(match port {
                    Some(port) => joined(peer, ":", text(port)),
                    None => peer,
                })
            })
            .or_else(|| k.db_namespace.or(k.db_name).map(text))
            // Without a target the Application Map draws no edge: take it from the URL.
            .or_else(|| match &url_text {
                Some(Cow::Borrowed(u)) => url_target(u).map(Cow::Borrowed),
                Some(Cow::Owned(u)) => url_target(u).map(|t| Cow::Owned(t.to_string())),
                None => None,
            });
        let method = k.method().map(text);
        // An HTTP client call is named `METHOD /path`: instrumentations often
        // name the span only `GET`, which says nothing in a list of calls.
        let name = match (&method, span.kind) {
            (Some(m), Kind::Client) => {
                let path = k.url_path.map(text).or_else(|| {
                    let u = url_text.as_deref()?;
                    let (_, _, path) = split_url(u)?;
                    Some(Cow::Owned(
                        if path.is_empty() { "/" } else { path }.to_string(),
                    ))
                });
                match path {
                    Some(p) => joined(m.clone(), " ", p),
                    None => Cow::Borrowed(span.name),
                }
            }
            _ => Cow::Borrowed(span.name),
        };
        let gen_ai = k
            .gen_ai_system()
            .filter(|_| method.is_none() && url.is_none());
        let dependency_type = if let Some(system) = gen_ai {
            let system = text(system);
            target = Some(system.clone());
            Some(Cow::Owned(["GenAI | ", &*system].concat()))
        } else if span.kind == Kind::Internal {
            Some(Cow::Borrowed("InProc"))
        } else if let Some(db) = k.db_system_name.or(k.db_system) {
            Some(text(db))
        } else if let Some(m) = k.messaging_system {
            Some(text(m))
        } else if let Some(r) = k.rpc_system_name.or(k.rpc_system) {
            Some(text(r))
        } else if k.any_http {
            Some(Cow::Borrowed("HTTP"))
        } else if k.any_db {
            Some(Cow::Borrowed("DB"))
        } else {
            None
        };
        SpanView {
            item: Item::Dependency,
            client_ip: None,
            user_agent: None,
            session_id: None,
            name,
            operation_name: None,
            result_code: k
                .status_code()
                .map_or(Cow::Borrowed(status_result_code(span.status)), text),
            success: span.status != StatusCode::Error,
            url: data,
            source: None,
            target,
            dependency_type,
            user_id: k.user().map(text),
            extra: Vec::new(),
            content: Content::AsIs,
            evaluations: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values, numbers written on the stack included, read as OpenTelemetry
    /// renders them, the longest floats (past the stack's room) too.
    #[test]
    fn values_say_what_opentelemetry_says() {
        let floats = [0.25, -1.5e-7, 1e21, 1e300, -f64::MAX, f64::MIN_POSITIVE, f64::NAN];
        let edges = [
            1.0, -0.0, 0.0, 1e15, 1e16, 9_007_199_254_740_993.0, 1e-5, 1e-6, 0.1 + 0.2,
            123_456.789, f64::INFINITY, f64::NEG_INFINITY, 5e-324,
        ];
        // Any bit pattern at all, and numbers of every size in plain ranges.
        let mut rng = fastrand::Rng::with_seed(8);
        let random = (0..30_000).map(|i| match i % 3 {
            0 => f64::from_bits(rng.u64(..)),
            1 => rng.f64() * 10f64.powi(rng.i32(-8..=18)),
            // Short decimals, the fast path's numbers.
            _ => rng.i64(-999_999_999..1_000_000_000) as f64 / 10f64.powi(rng.i32(0..=12)),
        });
        let values = floats
            .into_iter()
            .chain(edges)
            .chain(random)
            .map(ValueRef::F64)
            .chain([i64::MIN, -1, 0, i64::MAX].map(ValueRef::I64))
            .chain([ValueRef::Str("s"), ValueRef::Bool(true)]);
        for v in values {
            let expected = v.to_value().as_str().into_owned();
            assert_eq!(with_text(v, str::to_string), expected, "{v:?}");
            assert_eq!(text(v), expected, "{v:?}");
        }
    }

    #[test]
    fn url_targets_drop_user_info_and_default_ports() {
        assert_eq!(url_target("https://h.example/x?y"), Some("h.example"));
        assert_eq!(url_target("https://h.example:443/x"), Some("h.example"));
        assert_eq!(url_target("http://u:p@h:8080/x"), Some("h:8080"));
        assert_eq!(url_target("http://[::1]:80/"), Some("[::1]"));
        assert_eq!(url_target("no url"), None);
        assert_eq!(
            split_url("https://h/a/b?q=1#f"),
            Some(("https", "h", "/a/b"))
        );
        assert_eq!(split_url("https://h?q"), Some(("https", "h", "")));
    }
}
