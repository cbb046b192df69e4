//! Test helpers: a deliberately tiny HTTP/1.1 client over `std::net::TcpStream` (so the
//! tests exercise real sockets and real framing, and notice e.g. a missing
//! Content-Length), envelope builders, and temp paths.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::{json, Value};

pub const IKEY: &str = "11111111-2222-3333-4444-555555555555";
pub const TRACE_ID: &str = "720117c0b14318ba8dcdd9956339265d";

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// One persistent connection; requests are sent sequentially with keep-alive.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        Client::try_connect(port).expect("connect to emulator")
    }

    pub fn try_connect(port: u16) -> io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        let writer = stream.try_clone()?;
        Ok(Client {
            reader: BufReader::new(stream),
            writer,
        })
    }

    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        self.try_send(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Like `send`, but a broken connection (reset, closed before an answer, timeout)
    /// is an `Err` instead of a panic. A response with a malformed head still panics.
    pub fn try_send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<HttpResponse> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.writer.write_all(&bytes)?;
        self.read_response()
    }

    fn read_response(&mut self) -> io::Result<HttpResponse> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed without a response",
            ));
        }
        let mut parts = line.trim_end().splitn(3, ' ');
        assert_eq!(parts.next(), Some("HTTP/1.1"), "bad status line {line:?}");
        let status: u16 = parts.next().unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').expect("header line");
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let resp_len = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse::<usize>().unwrap());
        // The emulator promises Content-Length on every response (never chunked), and
        // this client relies on it: a regression fails here loudly.
        let len =
            resp_len.unwrap_or_else(|| panic!("response without Content-Length: {headers:?}"));
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body)?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// One request on a fresh connection.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    Client::connect(port).send(method, path, headers, body)
}

/// One request on a fresh connection; connection failures are returned, not panics.
pub fn try_http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<HttpResponse> {
    Client::try_connect(port)?.try_send(method, path, headers, body)
}

pub fn post_json(port: u16, path: &str, body: &Value) -> HttpResponse {
    http(
        port,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

pub fn get_json(port: u16, path: &str) -> Value {
    let r = http(port, "GET", path, &[], b"");
    assert_eq!(r.status, 200, "GET {path}");
    r.json()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A unique path in the temp dir (no tempfile crate needed).
pub fn temp_path(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "genkit-azure-emulator-test-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

fn envelope(kind: &str, base: Value) -> Value {
    json!({
        "name": format!("Microsoft.ApplicationInsights.{kind}"),
        "time": "2026-11-24T21:04:55.572456Z",
        "iKey": IKEY,
        "tags": {
            "ai.operation.id": TRACE_ID,
            "ai.operation.parentId": "fe51524281c4a907",
            "ai.cloud.role": "test"
        },
        "data": {"baseType": format!("{kind}Data"), "baseData": base}
    })
}

pub fn request_env(name: &str) -> Value {
    envelope(
        "Request",
        json!({"ver": 2, "id": "fe51524281c4a907", "name": name, "duration": "0.00:00:00.014",
               "responseCode": "200", "success": true, "properties": {"k": "v"}}),
    )
}

pub fn dependency_env(name: &str) -> Value {
    envelope(
        "RemoteDependency",
        json!({"ver": 2, "id": "279d4652d5684a8e", "name": name, "duration": "00:00:00.5",
               "resultCode": "0", "success": true, "type": "InProc"}),
    )
}

pub fn message_env(msg: &str) -> Value {
    envelope(
        "Message",
        json!({"ver": 2, "message": msg, "severityLevel": 1}),
    )
}

pub fn metric_env(name: &str, value: f64) -> Value {
    envelope(
        "Metric",
        json!({"ver": 2, "metrics": [{"name": name, "value": value, "count": 1}]}),
    )
}

pub fn exception_env() -> Value {
    envelope(
        "Exception",
        json!({"ver": 2, "exceptions": [{"typeName": "ValueError", "message": "boom", "hasFullStack": false}]}),
    )
}
