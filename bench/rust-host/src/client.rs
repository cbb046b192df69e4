//! The HTTP client the bare crate sends through: a minimal blocking HTTP/1.1
//! client over one keep-alive `TcpStream` with TCP_NODELAY.
//!
//! Why not `reqwest::blocking`: the crate rewrites every `http://` endpoint to
//! `https://`, so a stock client cannot reach the plain-HTTP loopback emulator;
//! this client ignores the crate's scheme and host and posts the crate's path
//! (`/v2/track`) to the emulator. It is leaner than reqwest (no TLS, no pool,
//! no internal runtime thread), which makes the baseline, if anything, faster.
//! It blocks inside the `async fn`: the SDK's `BatchSpanProcessor` drives
//! exports with `block_on` on its own thread, exactly as it drives the
//! `reqwest::blocking::Client` implementation of `opentelemetry-http`.

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct ClientCounters {
    pub requests: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub items_received: AtomicU64,
    pub items_accepted: AtomicU64,
    pub non_200: AtomicU64,
}

#[derive(Debug)]
pub struct LoopbackClient {
    addr: SocketAddr,
    timeout: Duration,
    conn: Mutex<Option<BufReader<TcpStream>>>,
    pub counters: Arc<ClientCounters>,
}

impl LoopbackClient {
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Self {
            addr,
            timeout,
            conn: Mutex::new(None),
            counters: Arc::default(),
        }
    }

    fn connect(&self) -> std::io::Result<BufReader<TcpStream>> {
        let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(self.timeout))?;
        s.set_write_timeout(Some(self.timeout))?;
        Ok(BufReader::with_capacity(16 * 1024, s))
    }

    fn send_blocking(&self, request: &Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/v2/track", |p| p.as_str());
        let body = request.body();
        let mut msg = Vec::with_capacity(body.len() + 512);
        write!(
            msg,
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        )?;
        for (name, value) in request.headers() {
            if name == http::header::HOST || name == http::header::CONTENT_LENGTH {
                continue;
            }
            msg.extend_from_slice(name.as_str().as_bytes());
            msg.extend_from_slice(b": ");
            msg.extend_from_slice(value.as_bytes());
            msg.extend_from_slice(b"\r\n");
        }
        msg.extend_from_slice(b"\r\n");
        msg.extend_from_slice(body);

        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        // A kept-alive connection may have been closed by the server: one retry on a fresh one.
        for attempt in 0..2 {
            let fresh = guard.is_none();
            if fresh {
                *guard = Some(self.connect()?);
            }
            let conn = guard.as_mut().expect("connected above");
            match exchange(conn, &msg) {
                Ok((resp, keep_alive)) => {
                    if !keep_alive {
                        *guard = None;
                    }
                    self.counters.requests.fetch_add(1, Relaxed);
                    self.counters
                        .bytes_sent
                        .fetch_add(body.len() as u64, Relaxed);
                    self.record(&resp);
                    return Ok(resp);
                }
                Err(e) => {
                    *guard = None;
                    if fresh || attempt == 1 {
                        return Err(e.into());
                    }
                }
            }
        }
        unreachable!("the loop returns")
    }

    fn record(&self, resp: &Response<Bytes>) {
        if resp.status() != 200 {
            self.counters.non_200.fetch_add(1, Relaxed);
        }
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(resp.body()) {
            let n = |k: &str| v[k].as_u64().unwrap_or(0);
            self.counters
                .items_received
                .fetch_add(n("itemsReceived"), Relaxed);
            self.counters
                .items_accepted
                .fetch_add(n("itemsAccepted"), Relaxed);
        }
    }
}

/// Writes one request and reads its response; `bool` = the connection may be reused.
fn exchange(
    conn: &mut BufReader<TcpStream>,
    msg: &[u8],
) -> std::io::Result<(Response<Bytes>, bool)> {
    conn.get_mut().write_all(msg)?;
    let mut line = String::new();
    if conn.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut content_length = 0usize;
    let mut close = false;
    loop {
        line.clear();
        if conn.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "eof in headers",
            ));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("content-length") {
                content_length = v.parse().map_err(std::io::Error::other)?;
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                return Err(std::io::Error::other("chunked responses are not supported"));
            } else if k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close") {
                close = true;
            }
        }
    }
    let mut body = vec![0u8; content_length];
    conn.read_exact(&mut body)?;
    let resp = Response::builder()
        .status(status)
        .body(Bytes::from(body))
        .map_err(std::io::Error::other)?;
    Ok((resp, !close))
}

/// Shares one client between the exporter (which takes it by value) and the harness.
#[derive(Debug, Clone)]
pub struct Shared(pub Arc<LoopbackClient>);

#[async_trait]
impl HttpClient for Shared {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        self.0.send_blocking(&request)
    }
}
