//! What the emulator shows of the requests it serves (its request log,
//! `GET /requests`, and everything the binary prints on stdout and stderr)
//! never holds the instrumentation key or a bearer token: requests carrying
//! them in the body, in the `Authorization` header and in the query string,
//! accepted, refused for the token and malformed, all leave the log clean.

mod common;

use common::*;
use serde_json::json;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_genkit-azure-emulator");
const TOKEN: &str = "eyJ0eXAiOiJKV1Qi.access-log-test-token.c2VjcmV0LXNpZ25hdHVyZQ";
const WRONG_TOKEN: &str = "eyJ0eXAiOiJKV1Qi.a-wrong-token-here.bm90LWFjY2VwdGVk";

/// What would betray a secret: the whole text, or any 12 characters of it.
fn leaks(haystack: &str, secret: &str) -> Option<String> {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .windows(12)
        .map(|w| w.iter().collect::<String>())
        .find(|w| haystack.contains(w.as_str()))
}

#[test]
fn the_request_log_and_the_output_hold_no_key_and_no_token() {
    let plan = json!({ "tokens": [{ "token": TOKEN }] }).to_string();
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--ikey", IKEY, "--auth", &plan])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn emulator binary");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    stdout.read_line(&mut printed).unwrap();
    let port: u16 = printed
        .trim_end()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected readiness line {printed:?}"));

    let body = serde_json::to_vec(&json!([message_env("with the key")])).unwrap();
    let bearer = format!("Bearer {TOKEN}");
    let wrong = format!("Bearer {WRONG_TOKEN}");
    let json_type = ("Content-Type", "application/json");
    // Accepted, with the token.
    let r = http(
        port,
        "POST",
        "/v2.1/track",
        &[json_type, ("Authorization", &bearer)],
        &body,
    );
    assert_eq!(r.status, 200);
    // Refused: an unknown token, and none.
    let r = http(
        port,
        "POST",
        "/v2.1/track",
        &[json_type, ("Authorization", &wrong)],
        &body,
    );
    assert_eq!(r.status, 401);
    let r = http(port, "POST", "/v2/track", &[json_type], &body);
    assert_eq!(r.status, 401);
    // Both secrets in the query string (where no SDK should put them).
    let query = format!("/v2.1/track?iKey={IKEY}&access_token={TOKEN}");
    let r = http(
        port,
        "POST",
        &query,
        &[json_type, ("Authorization", &bearer)],
        &body,
    );
    assert_eq!(r.status, 200);
    // Malformed: not JSON, with the key inside; and gzip that is not gzip.
    let garbage = format!("[{{\"iKey\": \"{IKEY}\", oops");
    let r = http(
        port,
        "POST",
        "/v2.1/track",
        &[json_type, ("Authorization", &bearer)],
        garbage.as_bytes(),
    );
    assert_eq!(r.status, 400);
    let r = http(
        port,
        "POST",
        "/v2.1/track",
        &[
            json_type,
            ("Authorization", &bearer),
            ("Content-Encoding", "gzip"),
        ],
        garbage.as_bytes(),
    );
    assert_eq!(r.status, 400);

    let log = http(port, "GET", "/requests", &[], b"");
    assert_eq!(log.status, 200);
    let log = String::from_utf8_lossy(&log.body).into_owned();
    let records: serde_json::Value = serde_json::from_str(&log).unwrap();
    assert_eq!(records.as_array().map(Vec::len), Some(6), "{log}");
    let stats = http(port, "GET", "/stats", &[], b"");
    let stats = String::from_utf8_lossy(&stats.body).into_owned();

    // Stop it cleanly, so it prints its closing line, and read all it printed.
    let r = http(port, "POST", "/shutdown", &[], b"");
    assert_eq!(r.status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the emulator did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    stdout.read_to_string(&mut printed).unwrap();
    let mut errors = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut errors)
        .unwrap();
    assert!(errors.contains("stopped after"), "{errors}");

    for (what, text) in [
        ("GET /requests", &log),
        ("GET /stats", &stats),
        ("stdout", &printed),
        ("stderr", &errors),
    ] {
        for (name, secret) in [("key", IKEY), ("token", TOKEN), ("token", WRONG_TOKEN)] {
            if let Some(piece) = leaks(text, secret) {
                panic!("{what} shows the {name} ({piece:?}):\n{text}");
            }
        }
    }
}
