//! The HTTP/1.1 server: accept loop, routing, and the track endpoint.
//!
//! Two details matter for measurements taken against this server, both learned the hard
//! way with a stock Python receiver (about 40 ms stall per request):
//! - TCP_NODELAY on every accepted socket, so Nagle's algorithm never holds back a
//!   response waiting for the client's delayed ACK;
//! - every response is a complete `Full` body with a `Content-Length`, so hyper writes
//!   headers and body together (one vectored write) instead of in separate segments.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::auth::AuthPlan;
use crate::decode;
use crate::faults::{default_message, Action, AnswerBody, Decision, FaultKind, FaultPlan};
use crate::live::{self, LiveControl, LiveKind, PING_PATH, POST_PATH};
use crate::state::State;
use crate::store::{Batch, RequestRecord};
use crate::validate::{validate_envelope, TelemetryKind};

/// Largest request body accepted on the wire. Generous on purpose (the real service is
/// stricter): the emulator should never be the reason a load test fails.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How long shutdown waits for in-flight requests before dropping connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Largest `POST /faults` body.
const MAX_PLAN_BYTES: usize = 1024 * 1024;

/// How long `POST /faults` waits for the listener to close (outage) or reopen.
const LISTENER_SETTLE: Duration = Duration::from_secs(2);

/// Pause between attempts to bind the port again after an outage, when it's taken.
const REBIND_RETRY: Duration = Duration::from_millis(50);

/// The track response body, shaped like the real service's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackResponse {
    pub items_received: usize,
    pub items_accepted: usize,
    pub errors: Vec<ItemError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemError {
    pub index: usize,
    pub status_code: u16,
    pub message: String,
}

/// Serves until `state.shutdown()` is called (by the owner, a signal, or `POST /shutdown`).
///
/// During an outage window (see `faults`) the listener is closed, so connecting gets a
/// real "connection refused", and bound again on the same address when the window
/// ends. The port is bound with `SO_REUSEADDR` (tokio's default on Unix), so
/// connections in TIME_WAIT don't block the rebind; if the port is taken meanwhile
/// (unlikely: it was picked from the ephemeral range), binding is retried every 50 ms.
pub async fn serve(listener: TcpListener, state: Arc<State>) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let mut listener = Some(listener);
    let mut shutdown = state.subscribe_shutdown();
    let mut outage = state.subscribe_outage();
    let mut conns = JoinSet::new();
    let mut rebind_at: Option<Instant> = None;
    let mut rebind_warned = false;
    loop {
        // Bring the listener in line with the fault plan.
        let refusing_until = state.outage_until();
        match (&listener, refusing_until) {
            (Some(_), Some(_)) => {
                listener = None; // closed: new connections are refused, the backlog reset
                state.set_listening(false);
            }
            (None, None) if rebind_at.is_none_or(|at| at <= Instant::now()) => {
                match bind_again(addr).await {
                    Ok(l) => {
                        listener = Some(l);
                        rebind_at = None;
                        rebind_warned = false;
                    }
                    Err(e) => {
                        if !rebind_warned {
                            eprintln!(
                                "genkit-azure-emulator: cannot listen on {addr} again after \
                                 the outage ({e}); retrying"
                            );
                            rebind_warned = true;
                        }
                        rebind_at = Some(Instant::now() + REBIND_RETRY);
                    }
                }
            }
            _ => {}
        }
        state.set_listening(listener.is_some());
        let wake_at = refusing_until.or(rebind_at);

        tokio::select! {
            accepted = accept(listener.as_ref()) => match accepted {
                Ok((sock, _peer)) => {
                    // See the module doc: without this, small responses can stall ~40 ms.
                    if let Err(e) = sock.set_nodelay(true) {
                        eprintln!("genkit-azure-emulator: set_nodelay failed: {e}");
                    }
                    conns.spawn(serve_connection(sock, state.clone()));
                }
                Err(e) => {
                    // Usually EMFILE/ECONNABORTED: transient. Back off briefly instead of
                    // spinning or giving up on the whole server.
                    eprintln!("genkit-azure-emulator: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = sleep_until(wake_at) => {}
            _ = changed(&mut outage) => {}
            _ = stopped(&mut shutdown) => break,
            // Reap finished connections so the set doesn't grow for the server's lifetime.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener); // stop accepting right away; clients get "connection refused"
    state.set_listening(false);
    let drain = async { while conns.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, drain).await;
    conns.abort_all();
    Ok(())
}

async fn bind_again(addr: SocketAddr) -> io::Result<TcpListener> {
    // `TcpListener::bind` sets SO_REUSEADDR on Unix, which is what lets the port be
    // bound again while earlier connections sit in TIME_WAIT.
    TcpListener::bind(addr).await
}

async fn accept(listener: Option<&TcpListener>) -> io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Resolves when the watched value changes (never, once the sender is gone).
async fn changed<T>(rx: &mut watch::Receiver<T>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What a handler wants done with its request.
enum Reply {
    Answer(Response<Full<Bytes>>),
    /// This answer's status and headers, with a body that never ends instead
    /// of its own.
    Endless(Response<Full<Bytes>>),
    /// Drop the connection with a TCP reset, without answering.
    Reset,
}

async fn serve_connection(sock: TcpStream, state: Arc<State>) {
    let mut shutdown = state.subscribe_shutdown();
    let mut outage = state.subscribe_outage();
    // A handler asks for a reset through this; the service future then never resolves,
    // and the loop below takes the socket back from hyper and resets it.
    let reset = Arc::new(Notify::new());
    let svc_state = state.clone();
    let svc_reset = reset.clone();
    let service = service_fn(move |req| {
        let state = svc_state.clone();
        let reset = svc_reset.clone();
        async move {
            match route(&state, req).await {
                Reply::Answer(resp) => Ok::<_, Infallible>(resp.map(Either::Left)),
                Reply::Endless(resp) => {
                    let (mut parts, _) = resp.into_parts();
                    parts.headers.remove(header::CONTENT_LENGTH);
                    Ok(Response::from_parts(parts, Either::Right(Endless)))
                }
                Reply::Reset => {
                    reset.notify_one();
                    std::future::pending().await
                }
            }
        }
    });
    let mut conn = http1::Builder::new()
        // The timer makes hyper's default 30 s header-read timeout effective, so a
        // client that opens a socket and never speaks can't pin a task forever.
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(sock), service);
    let mut closing = false;
    loop {
        tokio::select! {
            _ = &mut conn => return,
            _ = reset.notified() => {
                let sock = conn.into_parts().io.into_inner();
                // SO_LINGER 0: close() sends RST at once, so the client sees "connection
                // reset by peer" rather than a clean end of stream (or a hang).
                if let Err(e) = sock.set_zero_linger() {
                    eprintln!("genkit-azure-emulator: SO_LINGER failed: {e}");
                }
                drop(sock);
                return;
            }
            // Lets an in-flight request (e.g. the POST /shutdown or POST /faults itself)
            // finish and get its response, then closes; idle keep-alive connections
            // close at once. An outage closes connections like a stopping server would.
            _ = stopped(&mut shutdown), if !closing => {
                std::pin::Pin::new(&mut conn).graceful_shutdown();
                closing = true;
            }
            _ = outage_began(&mut outage), if !closing => {
                std::pin::Pin::new(&mut conn).graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// Resolves once an outage window is active.
async fn outage_began(rx: &mut watch::Receiver<Option<Instant>>) {
    loop {
        if rx
            .borrow_and_update()
            .is_some_and(|until| until > Instant::now())
        {
            return;
        }
        changed(rx).await;
    }
}

/// Resolves once shutdown is requested. Returns `()` rather than the watch guard so
/// the future stays `Send` across the later `.await`s in `select!` arms.
async fn stopped(rx: &mut tokio::sync::watch::Receiver<bool>) {
    // Err means the sender is gone, i.e. the state was dropped: stop as well.
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn route(state: &State, req: Request<Incoming>) -> Reply {
    // Connection strings end with '/', and naive joins then produce "//v2/track"; accept
    // it (the raw path is kept in `RequestRecord` for tests that care).
    let raw_path = req.uri().path().to_string();
    let path = normalize_path(&raw_path);
    let method = req.method().clone();
    let resp = match (method, path) {
        (Method::POST, "/v2/track" | "/v2.1/track") => {
            return handle_track(state, req, raw_path).await
        }
        (_, "/v2/track" | "/v2.1/track") => method_not_allowed("POST"),
        (Method::POST, PING_PATH | POST_PATH) => {
            let kind = if path == PING_PATH {
                LiveKind::Ping
            } else {
                LiveKind::Post
            };
            handle_live(state, req, kind).await
        }
        (_, PING_PATH | POST_PATH) => method_not_allowed("POST"),
        (Method::GET, "/live") => json_response(
            StatusCode::OK,
            &serde_json::json!({"control": state.live_control(), "requests": state.live_requests()}),
        ),
        (Method::POST, "/live") => post_live(state, req).await,
        (Method::DELETE, "/live") => {
            state.set_live(LiveControl::default());
            json_response(StatusCode::OK, &state.live_control())
        }
        (_, "/live") => method_not_allowed("GET, POST, DELETE"),
        (Method::GET, "/faults") => json_response(StatusCode::OK, &state.fault_status()),
        (Method::POST, "/faults") => post_faults(state, req).await,
        (Method::DELETE, "/faults") => {
            state.clear_faults();
            settle_listener(state).await;
            json_response(StatusCode::OK, &state.fault_status())
        }
        (_, "/faults") => method_not_allowed("GET, POST, DELETE"),
        (Method::GET, "/auth") => json_response(StatusCode::OK, &state.auth_status()),
        (Method::POST, "/auth") => post_auth(state, req).await,
        (Method::DELETE, "/auth") => {
            let _ = state.set_auth(AuthPlan::default());
            json_response(StatusCode::OK, &state.auth_status())
        }
        (_, "/auth") => method_not_allowed("GET, POST, DELETE"),
        (Method::GET, "/stats") => json_response(StatusCode::OK, &state.stats()),
        (Method::GET, "/envelopes") => {
            raw_json_response(StatusCode::OK, state.envelopes_json_array())
        }
        (Method::GET, "/requests") => json_response(StatusCode::OK, &state.requests()),
        (Method::POST, "/reset") => {
            state.reset();
            json_response(StatusCode::OK, &serde_json::json!({"reset": true}))
        }
        (Method::POST, "/shutdown") => {
            state.shutdown();
            json_response(StatusCode::OK, &serde_json::json!({"shuttingDown": true}))
        }
        (Method::GET, "/" | "/health") => {
            json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))
        }
        (_, "/stats" | "/envelopes" | "/requests" | "/health") => method_not_allowed("GET"),
        (_, "/reset" | "/shutdown") => method_not_allowed("POST"),
        _ => json_response(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": format!("no route for {raw_path}")}),
        ),
    };
    Reply::Answer(resp)
}

/// `POST /faults`: installs the plan in the body (see `faults` for the JSON form; `{}`
/// or an empty body restores normal behaviour). Answers with `GET /faults`'s body, after
/// the listener matches the plan, so a client that gets the answer to an outage plan
/// is refused on its next connection attempt. An invalid plan is a 400 and leaves the
/// current plan in place.
async fn post_faults(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let text = match plan_text(req).await {
        Ok(text) => text,
        Err(refused) => return refused,
    };
    match FaultPlan::from_json(&text).and_then(|plan| state.set_faults(plan)) {
        Ok(()) => {
            settle_listener(state).await;
            json_response(StatusCode::OK, &state.fault_status())
        }
        Err(e) => bad_request(e.to_string()),
    }
}

/// A Live Metrics ping or post (see `live`), answered as the control says.
async fn handle_live(
    state: &State,
    req: Request<Incoming>,
    kind: LiveKind,
) -> Response<Full<Bytes>> {
    let received_us = state.micros_since_start(Instant::now());
    let refused = state
        .check_auth(req.headers())
        .map(|r| (r.status, r.message));
    let query = req.uri().query().unwrap_or_default().to_string();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_PLAN_BYTES).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => return bad_request(format!("failed to read body: {e}")),
    };
    let answer = state.live_answer(live::Incoming {
        kind,
        query: &query,
        headers: &parts.headers,
        body: &body,
        received_us,
        refused,
    });
    let mut resp = if answer.body.is_empty() {
        empty_response(status_code(answer.status))
    } else {
        raw_json_response(status_code(answer.status), answer.body)
    };
    for (name, value) in answer.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

/// `POST /live`: how pings and posts are answered from now on (a whole
/// `LiveControl` as JSON; `{}` is nobody watching). An invalid one is a 400 and
/// leaves the current one in place.
async fn post_live(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let text = match plan_text(req).await {
        Ok(text) => text,
        Err(refused) => return refused,
    };
    match LiveControl::from_json(&text) {
        Ok(control) => {
            state.set_live(control);
            json_response(StatusCode::OK, &state.live_control())
        }
        Err(e) => bad_request(e),
    }
}

/// `POST /auth`: requires the bearer tokens in the body from now on (see `auth` for
/// the JSON form; `{}` or an empty body requires none). An invalid plan is a 400 and
/// leaves the current one in place.
async fn post_auth(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let text = match plan_text(req).await {
        Ok(text) => text,
        Err(refused) => return refused,
    };
    match AuthPlan::from_json(&text).and_then(|plan| state.set_auth(plan)) {
        Ok(()) => json_response(StatusCode::OK, &state.auth_status()),
        Err(e) => bad_request(e.to_string()),
    }
}

/// The text of a control request's body (a fault, Live Metrics or auth plan): at
/// most `MAX_PLAN_BYTES` of UTF-8, else the 400 to answer.
async fn plan_text(req: Request<Incoming>) -> Result<String, Response<Full<Bytes>>> {
    let body = match Limited::new(req.into_body(), MAX_PLAN_BYTES)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(e) => return Err(bad_request(format!("failed to read body: {e}"))),
    };
    String::from_utf8(body.to_vec()).map_err(|_| bad_request("body is not UTF-8".to_string()))
}

/// A 400 saying `message` as `{"error": ...}`.
fn bad_request(message: String) -> Response<Full<Bytes>> {
    json_response(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({ "error": message }),
    )
}

/// Waits (bounded) until the accept loop has closed or reopened the listener as the
/// plan says.
async fn settle_listener(state: &State) {
    let deadline = Instant::now() + LISTENER_SETTLE;
    while !state.listener_settled() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn normalize_path(path: &str) -> &str {
    let trimmed = path.trim_start_matches('/');
    // Keep exactly one leading slash; trailing slash is tolerated too.
    let start = path.len() - trimmed.len();
    let p = if start > 0 { &path[start - 1..] } else { path };
    if p.len() > 1 {
        p.trim_end_matches('/')
    } else {
        p
    }
}

async fn handle_track(state: &State, req: Request<Incoming>, raw_path: String) -> Reply {
    let headers = req.headers();
    let content_encoding = header_string(headers, header::CONTENT_ENCODING);
    let content_type = header_string(headers, header::CONTENT_TYPE);
    let user_agent = header_string(headers, header::USER_AGENT);

    // Entra ID first, as the service checks it first: a refused request answers with
    // its status for every item and consumes no fault step.
    let (decision, received_at) = match state.check_auth(headers) {
        Some(refusal) => (
            Decision {
                action: Action::Status {
                    status: refusal.status,
                    message: Some(refusal.message),
                },
                delay: Duration::ZERO,
                retry_after: None,
                body: AnswerBody::Written,
                step: None,
                kind: None,
            },
            Instant::now(),
        ),
        // The one place fault injection hooks in (see faults.rs): decided when the
        // headers arrive, so steps go to track requests in arrival order.
        None => state.decide(&raw_path),
    };

    let mut record = RequestRecord {
        path: raw_path,
        content_encoding,
        content_type,
        user_agent,
        item_count: 0,
        items_accepted: 0,
        status: 0,
        body_bytes: 0,
        fault: decision.kind,
        step: decision.step,
        received_us: state.micros_since_start(received_at),
        answered_us: 0,
    };
    let commit = |mut record: RequestRecord,
                  items_received: usize,
                  accepted: Vec<(TelemetryKind, Box<str>)>| {
        record.answered_us = state.micros_since_start(Instant::now());
        state.commit(Batch {
            record,
            received_at,
            items_received: items_received as u64,
            rejected: (items_received - accepted.len()) as u64,
            accepted,
        });
    };

    // Every mode reads the whole request first (a reset happens "after the request").
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            let (status, message) = if e.downcast_ref::<LengthLimitError>().is_some() {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("body exceeds {MAX_BODY_BYTES} bytes"),
                )
            } else {
                (StatusCode::BAD_REQUEST, format!("failed to read body: {e}"))
            };
            record.status = status.as_u16();
            commit(record, 0, Vec::new());
            return Reply::Answer(json_response(status, &body_error(status, message)));
        }
    };
    record.body_bytes = body.len();

    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }

    let answer_body = decision.body;
    let mut action = decision.action;
    // An outage that began while this request was in flight (e.g. delayed) kills it as
    // it would on a real server going down.
    if !matches!(action, Action::Reset | Action::Outage { .. }) && state.outage_until().is_some() {
        action = Action::Reset;
        record.fault = Some(FaultKind::Outage);
    }

    let encoding = record.content_encoding.clone();
    let (status, response, mut resp) = match action {
        Action::Reset | Action::Outage { .. } => {
            let n = count_items(encoding.as_deref(), &body);
            record.item_count = n;
            commit(record, n, Vec::new());
            return Reply::Reset;
        }
        Action::Normal | Action::Partial { .. } => {
            let (forced, message) = match action {
                Action::Partial {
                    item_errors,
                    message,
                } => (item_errors, message),
                _ => (BTreeMap::new(), None),
            };
            let outcome = process_body_limited(
                state.instrumentation_key(),
                encoding.as_deref(),
                &body,
                &forced,
                message.as_deref(),
                state.max_request_bytes(),
            );
            record.item_count = outcome.response.items_received;
            record.items_accepted = outcome.response.items_accepted;
            record.status = outcome.status.as_u16();
            let resp = json_response(outcome.status, &outcome.response);
            commit(record, outcome.response.items_received, outcome.accepted);
            return with_body(with_retry_after(resp, decision.retry_after), answer_body);
        }
        Action::Status { status, message } => {
            let n = count_items(encoding.as_deref(), &body);
            let message = message.unwrap_or_else(|| default_message(status));
            let response = TrackResponse {
                items_received: n,
                items_accepted: 0,
                errors: (0..n)
                    .map(|index| ItemError {
                        index,
                        status_code: status,
                        message: message.clone(),
                    })
                    .collect(),
            };
            let resp = json_response(status_code(status), &response);
            (status, response, resp)
        }
        Action::Redirect { status, location } => {
            let n = count_items(encoding.as_deref(), &body);
            let mut resp = empty_response(status_code(status));
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            let response = TrackResponse {
                items_received: n,
                items_accepted: 0,
                errors: Vec::new(),
            };
            (status, response, resp)
        }
    };
    record.item_count = response.items_received;
    record.status = status;
    commit(record, response.items_received, Vec::new());
    resp = with_retry_after(resp, decision.retry_after);
    with_body(resp, answer_body)
}

/// The answer with the body the plan chose, if it chose one.
fn with_body(resp: Response<Full<Bytes>>, body: AnswerBody) -> Reply {
    match body {
        AnswerBody::Written => Reply::Answer(resp),
        AnswerBody::Verbatim(text) => {
            let mut resp = resp;
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
            *resp.body_mut() = Full::new(Bytes::from(text));
            Reply::Answer(resp)
        }
        AnswerBody::Endless => Reply::Endless(resp),
    }
}

/// A body that never ends, 64 KB of spaces at a time: what a broken or
/// hostile endpoint may answer with. It ends when the client goes away.
struct Endless;

impl hyper::body::Body for Endless {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        static SPACES: [u8; 64 * 1024] = [b' '; 64 * 1024];
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(Bytes::from_static(
            &SPACES,
        )))))
    }
}

/// Items in a body, for answers that don't validate it (0 when it can't be read).
fn count_items(content_encoding: Option<&str>, body: &[u8]) -> usize {
    decode::decompress(content_encoding, body)
        .and_then(|b| decode::split_items(&b))
        .map_or(0, |items| items.len())
}

/// `StatusCode` for a validated plan status (any 200-599 is accepted by `from_u16`;
/// `empty_response` supplies reason phrases hyper doesn't know, like 439's).
fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn with_retry_after(
    mut resp: Response<Full<Bytes>>,
    retry_after: Option<crate::faults::RetryAfter>,
) -> Response<Full<Bytes>> {
    if let Some(ra) = retry_after {
        if let Ok(v) = HeaderValue::from_str(&ra.header_value(chrono::Utc::now())) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    resp
}

/// Result of processing one track body, independent of HTTP plumbing.
pub struct Outcome {
    pub status: StatusCode,
    pub response: TrackResponse,
    /// Accepted envelopes as compact JSON text, in body order.
    pub accepted: Vec<(TelemetryKind, Box<str>)>,
}

/// Decodes and validates a track body and decides the status like the service does:
/// 200 all accepted, 206 some rejected, 400 unreadable body or nothing accepted.
pub fn process_body(ikey: Option<&str>, content_encoding: Option<&str>, body: &[u8]) -> Outcome {
    process_body_with_faults(ikey, content_encoding, body, &BTreeMap::new(), None)
}

/// [`process_body`] with injected per-item failures (a 206 fault step): the items at
/// `forced` indexes are rejected with the given statuses (and `message`, or a default
/// one) whether or not they are valid; the rest are validated as usual. With a
/// non-empty `forced`, a readable body always gets 206.
pub fn process_body_with_faults(
    ikey: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    forced: &BTreeMap<usize, u16>,
    message: Option<&str>,
) -> Outcome {
    process_body_limited(ikey, content_encoding, body, forced, message, usize::MAX)
}

/// [`process_body_with_faults`] that first refuses, as the service does, a body
/// whose JSON (after gzip) is longer than `max_request_bytes`: 413, nothing accepted.
pub fn process_body_limited(
    ikey: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    forced: &BTreeMap<usize, u16>,
    message: Option<&str>,
    max_request_bytes: usize,
) -> Outcome {
    let decoded = decode::decompress(content_encoding, body).and_then(|b| {
        if b.len() > max_request_bytes {
            Err(format!(
                "request of {} bytes exceeds the limit of {max_request_bytes} bytes",
                b.len()
            ))
        } else {
            Ok(b)
        }
    });
    if let Err(message) = &decoded {
        if message.contains("exceeds the limit") {
            return Outcome {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                response: body_error(StatusCode::PAYLOAD_TOO_LARGE, message.clone()),
                accepted: Vec::new(),
            };
        }
    }
    let items = match decoded.and_then(|b| decode::split_items(&b)) {
        Ok(items) => items,
        Err(message) => {
            return Outcome {
                status: StatusCode::BAD_REQUEST,
                response: body_error(StatusCode::BAD_REQUEST, message),
                accepted: Vec::new(),
            }
        }
    };
    if items.is_empty() {
        return Outcome {
            status: StatusCode::BAD_REQUEST,
            response: body_error(
                StatusCode::BAD_REQUEST,
                "body contains no telemetry items".to_string(),
            ),
            accepted: Vec::new(),
        };
    }

    let received = items.len();
    let mut accepted = Vec::with_capacity(received);
    let mut errors = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        if let Some(&status_code) = forced.get(&index) {
            errors.push(ItemError {
                index,
                status_code,
                message: message.map_or_else(|| default_message(status_code), str::to_string),
            });
            continue;
        }
        let verdict = item.and_then(|parsed| {
            let kind = validate_envelope(&parsed.value, ikey)?;
            Ok((kind, parsed.text))
        });
        match verdict {
            Ok(accepted_item) => accepted.push(accepted_item),
            Err(message) => errors.push(ItemError {
                index,
                status_code: 400,
                message,
            }),
        }
    }
    let status = if !forced.is_empty() {
        StatusCode::PARTIAL_CONTENT
    } else if errors.is_empty() {
        StatusCode::OK
    } else if accepted.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::PARTIAL_CONTENT
    };
    Outcome {
        status,
        response: TrackResponse {
            items_received: received,
            items_accepted: accepted.len(),
            errors,
        },
        accepted,
    }
}

/// A whole-body failure. The service reports these as a single error at index 0 with
/// nothing received; clients only need the status to know it is permanent.
fn body_error(status: StatusCode, message: String) -> TrackResponse {
    TrackResponse {
        items_received: 0,
        items_accepted: 0,
        errors: vec![ItemError {
            index: 0,
            status_code: status.as_u16(),
            message,
        }],
    }
}

fn header_string(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn method_not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut resp = json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &serde_json::json!({"error": format!("method not allowed; use {allow}")}),
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Full<Bytes>> {
    raw_json_response(
        status,
        serde_json::to_string(body).expect("response types always serialize"),
    )
}

fn raw_json_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = empty_response(status);
    let len = body.len();
    *resp.body_mut() = Full::new(Bytes::from(body));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

/// A response with no body (and `Content-Length: 0`).
fn empty_response(status: StatusCode) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    // Explicit, so the response is never chunked (hyper would infer it from `Full`,
    // but being explicit keeps the guarantee independent of hyper's heuristics).
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    if status.canonical_reason().is_none() {
        // Without this hyper writes "HTTP/1.1 439 <none>".
        let reason: &'static [u8] = match status.as_u16() {
            439 => b"Too Many Requests Over Extended Time",
            _ => b"Unknown",
        };
        resp.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(reason));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize() {
        assert_eq!(normalize_path("/v2/track"), "/v2/track");
        assert_eq!(normalize_path("//v2/track"), "/v2/track");
        assert_eq!(normalize_path("/v2.1/track/"), "/v2.1/track");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("//"), "/");
    }
}
