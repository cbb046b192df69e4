//! The HTTP/1.1 server: accept loop, routing, and the track endpoint.
//!
//! Two details matter for measurements taken against this server, both learned the hard
//! way with a stock Python receiver (about 40 ms stall per request):
//! - TCP_NODELAY on every accepted socket, so Nagle's algorithm never holds back a
//!   response waiting for the client's delayed ACK;
//! - every response is a complete `Full` body with a `Content-Length`, so hyper writes
//!   headers and body together (one vectored write) instead of in separate segments.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::decode;
use crate::faults::Behaviour;
use crate::state::State;
use crate::store::{Batch, RequestRecord};
use crate::validate::{validate_envelope, TelemetryKind};

/// Largest request body accepted on the wire. Generous on purpose (the real service is
/// stricter): the emulator should never be the reason a load test fails.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How long shutdown waits for in-flight requests before dropping connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

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
pub async fn serve(listener: TcpListener, state: Arc<State>) -> io::Result<()> {
    let mut shutdown = state.subscribe_shutdown();
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
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
            _ = stopped(&mut shutdown) => break,
            // Reap finished connections so the set doesn't grow for the server's lifetime.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener); // stop accepting right away; clients get "connection refused"
    let drain = async { while conns.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, drain).await;
    conns.abort_all();
    Ok(())
}

async fn serve_connection(sock: tokio::net::TcpStream, state: Arc<State>) {
    let mut shutdown = state.subscribe_shutdown();
    let svc_state = state.clone();
    let service = service_fn(move |req| {
        let state = svc_state.clone();
        async move { Ok::<_, Infallible>(route(&state, req).await) }
    });
    let conn = http1::Builder::new()
        // The timer makes hyper's default 30 s header-read timeout effective, so a
        // client that opens a socket and never speaks can't pin a task forever.
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(sock), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped(&mut shutdown) => {
            // Lets an in-flight request (e.g. the POST /shutdown itself) finish and get
            // its response, then closes; idle keep-alive connections close at once.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Resolves once shutdown is requested. Returns `()` rather than the watch guard so
/// the future stays `Send` across the later `.await`s in `select!` arms.
async fn stopped(rx: &mut tokio::sync::watch::Receiver<bool>) {
    // Err means the sender is gone, i.e. the state was dropped: stop as well.
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn route(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    // Connection strings end with '/', and naive joins then produce "//v2/track"; accept
    // it (the raw path is kept in `RequestRecord` for tests that care).
    let raw_path = req.uri().path().to_string();
    let path = normalize_path(&raw_path);
    let method = req.method().clone();
    match (method, path) {
        (Method::POST, "/v2/track" | "/v2.1/track") => handle_track(state, req, raw_path).await,
        (_, "/v2/track" | "/v2.1/track") => method_not_allowed("POST"),
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

async fn handle_track(
    state: &State,
    req: Request<Incoming>,
    raw_path: String,
) -> Response<Full<Bytes>> {
    let headers = req.headers();
    let content_encoding = header_string(headers, header::CONTENT_ENCODING);
    let content_type = header_string(headers, header::CONTENT_TYPE);
    let user_agent = header_string(headers, header::USER_AGENT);

    // The one place fault injection hooks in (see faults.rs). Decided before the body
    // is read so future modes can also act early (reset, delay, outage).
    match state.decide(&raw_path) {
        Behaviour::Normal => {}
    }

    let mut record = RequestRecord {
        path: raw_path,
        content_encoding,
        content_type,
        user_agent,
        item_count: 0,
        items_accepted: 0,
        status: 0,
        body_bytes: 0,
    };

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
            state.commit(Batch {
                record,
                items_received: 0,
                rejected: 0,
                accepted: Vec::new(),
            });
            return json_response(status, &body_error(status, message));
        }
    };
    record.body_bytes = body.len();

    let outcome = process_body(
        state.instrumentation_key(),
        record.content_encoding.as_deref(),
        &body,
    );
    record.item_count = outcome.response.items_received;
    record.items_accepted = outcome.response.items_accepted;
    record.status = outcome.status.as_u16();
    state.commit(Batch {
        record,
        items_received: outcome.response.items_received as u64,
        rejected: (outcome.response.items_received - outcome.response.items_accepted) as u64,
        accepted: outcome.accepted,
    });
    json_response(outcome.status, &outcome.response)
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
    let items =
        match decode::decompress(content_encoding, body).and_then(|b| decode::split_items(&b)) {
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
    let status = if errors.is_empty() {
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
    let len = body.len();
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Explicit, so the response is never chunked (hyper would infer it from `Full`,
    // but being explicit keeps the guarantee independent of hyper's heuristics).
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
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
