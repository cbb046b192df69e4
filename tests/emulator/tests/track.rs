//! The track protocol over real sockets: status codes, response bodies, body formats,
//! validation, and what gets stored.

mod common;

use std::time::{Duration, Instant};

use common::*;
use genkit_azure_emulator::{Emulator, EmulatorConfig, TrackResponse};
use serde_json::{json, Value};

fn start() -> Emulator {
    Emulator::start(EmulatorConfig::default()).expect("emulator starts")
}

fn track_response(r: &HttpResponse) -> TrackResponse {
    serde_json::from_slice(&r.body).expect("track response shape")
}

#[test]
fn plain_json_array_is_accepted_with_200_and_counts() {
    let emu = start();
    let body = json!([
        request_env("GET /"),
        dependency_env("menuSuggestion"),
        message_env("hello")
    ]);
    let r = post_json(emu.port(), "/v2/track", &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({"itemsReceived": 3, "itemsAccepted": 3, "errors": []})
    );

    let stats = emu.stats();
    assert_eq!(
        (
            stats.requests,
            stats.items_received,
            stats.items_accepted,
            stats.items_rejected
        ),
        (1, 3, 3, 0)
    );
    assert_eq!(stats.bytes_received, body.to_string().len() as u64);
    assert_eq!(emu.envelopes().len(), 3);
}

#[test]
fn gzip_body_is_accepted_and_wire_bytes_counted() {
    let emu = start();
    let raw = json!([request_env("GET /a"), metric_env("genkit_requests", 5.0)]).to_string();
    let gz = gzip(raw.as_bytes());
    let r = http(
        emu.port(),
        "POST",
        "/v2/track",
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
            ("User-Agent", "test-agent/1"),
        ],
        &gz,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(track_response(&r).items_accepted, 2);
    // bytesReceived is what crossed the wire, i.e. the compressed size.
    assert_eq!(emu.stats().bytes_received, gz.len() as u64);
    let reqs = emu.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].content_encoding.as_deref(), Some("gzip"));
    assert_eq!(reqs[0].user_agent.as_deref(), Some("test-agent/1"));
    assert_eq!(reqs[0].item_count, 2);
    assert_eq!(reqs[0].path, "/v2/track");
}

#[test]
fn ndjson_body_is_accepted_on_v2_1() {
    let emu = start();
    let body = format!("{}\n{}\n", request_env("GET /nd"), exception_env());
    let r = http(
        emu.port(),
        "POST",
        "/v2.1/track",
        &[("Content-Type", "application/x-json-stream")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(track_response(&r).items_received, 2);
    let stats = emu.stats();
    assert_eq!(stats.by_name["Request"], 1);
    assert_eq!(stats.by_name["Exception"], 1);
    assert_eq!(emu.requests()[0].path, "/v2.1/track");
}

#[test]
fn one_invalid_item_gives_206_with_its_index_and_field() {
    let emu = start();
    let mut bad = dependency_env("no-duration");
    bad["data"]["baseData"]
        .as_object_mut()
        .unwrap()
        .remove("duration");
    let body = json!([message_env("first"), bad, message_env("third")]);
    let r = post_json(emu.port(), "/v2/track", &body);
    assert_eq!(r.status, 206);
    let resp = track_response(&r);
    assert_eq!((resp.items_received, resp.items_accepted), (3, 2));
    assert_eq!(resp.errors.len(), 1);
    assert_eq!(resp.errors[0].index, 1);
    assert_eq!(resp.errors[0].status_code, 400);
    assert!(
        resp.errors[0].message.contains("data.baseData.duration"),
        "{}",
        resp.errors[0].message
    );

    // Only the valid ones are stored, in order.
    let msgs: Vec<Value> = emu
        .envelopes()
        .iter()
        .map(|e| e["data"]["baseData"]["message"].clone())
        .collect();
    assert_eq!(msgs, vec![json!("first"), json!("third")]);
    assert_eq!(emu.stats().items_rejected, 1);
}

#[test]
fn every_item_invalid_gives_400() {
    let emu = start();
    let mut bad = message_env("x");
    bad["data"]["baseType"] = json!("EventData");
    let r = post_json(emu.port(), "/v2/track", &json!([bad.clone(), bad]));
    assert_eq!(r.status, 400);
    let resp = track_response(&r);
    assert_eq!((resp.items_received, resp.items_accepted), (2, 0));
    assert_eq!(
        resp.errors.iter().map(|e| e.index).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert!(resp.errors[0].message.starts_with("data.baseType"));
    assert!(emu.envelopes().is_empty());
}

#[test]
fn wrong_ikey_is_rejected_when_a_key_is_configured() {
    let emu = Emulator::start(EmulatorConfig {
        instrumentation_key: Some(IKEY.to_string()),
        ..Default::default()
    })
    .unwrap();
    let mut foreign = message_env("foreign");
    foreign["iKey"] = json!("99999999-9999-9999-9999-999999999999");
    let r = post_json(emu.port(), "/v2/track", &json!([foreign.clone()]));
    assert_eq!(r.status, 400);
    assert!(track_response(&r).errors[0].message.starts_with("iKey"));

    let r = post_json(
        emu.port(),
        "/v2/track",
        &json!([message_env("mine"), foreign]),
    );
    assert_eq!(r.status, 206);
    assert_eq!(track_response(&r).errors[0].index, 1);
    assert_eq!(emu.stats().items_accepted, 1);

    let mut missing = message_env("no key");
    missing.as_object_mut().unwrap().remove("iKey");
    let r = post_json(emu.port(), "/v2/track", &json!([missing]));
    assert_eq!(r.status, 400);
}

#[test]
fn unparseable_bodies_give_400_and_store_nothing() {
    let emu = start();
    let port = emu.port();
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<u8>);
    let cases: Vec<Case> = vec![
        (vec![], b"this is not json".to_vec()),
        (vec![], b"[{\"name\": ".to_vec()),
        (vec![], Vec::new()),
        (
            vec![("Content-Encoding", "gzip")],
            b"[not gzipped at all]".to_vec(),
        ),
        (vec![], gzip(b"[]")), // gzip bytes without the header: not JSON
    ];
    for (headers, body) in &cases {
        let r = http(port, "POST", "/v2/track", headers, body);
        assert_eq!(r.status, 400, "body {:?}", String::from_utf8_lossy(body));
        let resp = track_response(&r);
        assert_eq!((resp.items_received, resp.items_accepted), (0, 0));
        assert_eq!(resp.errors.len(), 1, "the reason is reported");
    }
    let stats = emu.stats();
    assert_eq!(
        stats.requests,
        cases.len() as u64,
        "failed POSTs still count as requests"
    );
    assert_eq!(stats.items_accepted, 0);
    assert!(emu.requests().iter().all(|r| r.status == 400));
}

#[test]
fn bad_durations_are_rejected() {
    let emu = start();
    for bad in [
        "1.5s",
        "0:00:00.1",
        "00:00:00.12345678",
        "00:61:00",
        "PT0.5S",
        "",
    ] {
        let mut env = request_env("GET /");
        env["data"]["baseData"]["duration"] = json!(bad);
        let r = post_json(emu.port(), "/v2/track", &json!([env]));
        assert_eq!(r.status, 400, "duration {bad:?} should be rejected");
        assert!(track_response(&r).errors[0].message.contains("duration"));
    }
    for good in ["00:00:00", "0.00:00:00.014", "3.04:05:06.1234567"] {
        let mut env = request_env("GET /");
        env["data"]["baseData"]["duration"] = json!(good);
        assert_eq!(
            post_json(emu.port(), "/v2/track", &json!([env])).status,
            200,
            "{good}"
        );
    }
}

#[test]
fn bad_operation_ids_are_rejected() {
    let emu = start();
    let cases = [
        ("ai.operation.id", "720117C0B14318BA8DCDD9956339265D"), // uppercase
        ("ai.operation.id", "720117c0b14318ba"),                 // span-id length
        ("ai.operation.id", "zz0117c0b14318ba8dcdd9956339265d"), // not hex
        ("ai.operation.parentId", "abc"),
    ];
    for (tag, value) in cases {
        let mut env = dependency_env("d");
        env["tags"][tag] = json!(value);
        let r = post_json(emu.port(), "/v2/track", &json!([env]));
        assert_eq!(r.status, 400, "{tag}={value}");
        assert!(track_response(&r).errors[0].message.contains(tag));
    }
    let mut env = request_env("GET /");
    env["data"]["baseData"]["id"] = json!("not-a-span-id");
    let r = post_json(emu.port(), "/v2/track", &json!([env]));
    assert_eq!(r.status, 400);
    assert!(track_response(&r).errors[0]
        .message
        .starts_with("data.baseData.id"));
    assert_eq!(emu.stats().items_accepted, 0);
}

#[test]
fn property_rules_are_enforced() {
    let emu = start();
    let mut non_string = message_env("m");
    non_string["data"]["baseData"]["properties"] = json!({"count": 3});
    let mut long_value = message_env("m");
    long_value["data"]["baseData"]["properties"] = json!({"v": "x".repeat(8193)});
    let r = post_json(
        emu.port(),
        "/v2/track",
        &json!([non_string, long_value, message_env("ok")]),
    );
    assert_eq!(r.status, 206);
    let errs = track_response(&r).errors;
    assert_eq!(errs.iter().map(|e| e.index).collect::<Vec<_>>(), vec![0, 1]);
    assert!(errs[0].message.contains("properties[\"count\"]"));
    assert!(errs[1].message.contains("8193"));
}

#[test]
fn stats_and_envelopes_endpoints_report_what_was_accepted() {
    let emu = start();
    let port = emu.port();
    post_json(
        port,
        "/v2/track",
        &json!([
            request_env("r1"),
            dependency_env("d1"),
            dependency_env("d2")
        ]),
    );
    let mut bad = metric_env("m", 1.0);
    bad["data"]["baseData"]["metrics"] = json!([]);
    post_json(port, "/v2.1/track", &json!([metric_env("m", 2.5), bad]));

    let stats = get_json(port, "/stats");
    assert_eq!(stats["requests"], 2);
    assert_eq!(stats["itemsReceived"], 5);
    assert_eq!(stats["itemsAccepted"], 4);
    assert_eq!(stats["itemsRejected"], 1);
    assert_eq!(stats["byName"]["Request"], 1);
    assert_eq!(stats["byName"]["RemoteDependency"], 2);
    assert_eq!(stats["byName"]["Metric"], 1);
    assert_eq!(stats["byName"]["PageView"], 0, "all types are listed");
    assert!(stats["bytesReceived"].as_u64().unwrap() > 0);
    // The HTTP view and the library view agree.
    assert_eq!(stats, serde_json::to_value(emu.stats()).unwrap());

    let envelopes = get_json(port, "/envelopes");
    let names: Vec<&str> = envelopes
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["baseData"]["name"].as_str().unwrap_or("<metric>"))
        .collect();
    assert_eq!(names, ["r1", "d1", "d2", "<metric>"], "arrival order");
    assert_eq!(envelopes, Value::Array(emu.envelopes()));
    assert_eq!(envelopes[3]["data"]["baseData"]["metrics"][0]["value"], 2.5);

    let requests = get_json(port, "/requests");
    assert_eq!(requests.as_array().unwrap().len(), 2);
    assert_eq!(requests[1]["path"], "/v2.1/track");
    assert_eq!(requests[1]["itemCount"], 2);
    assert_eq!(requests[1]["status"], 206);
    assert_eq!(requests[0]["contentType"], "application/json");
}

#[test]
fn reset_clears_memory_and_counters() {
    let emu = start();
    post_json(emu.port(), "/v2/track", &json!([message_env("before")]));
    assert_eq!(emu.stats().items_accepted, 1);
    let r = http(emu.port(), "POST", "/reset", &[], b"");
    assert_eq!(r.status, 200);
    let stats = emu.stats();
    assert_eq!(
        (stats.requests, stats.items_accepted, stats.bytes_received),
        (0, 0, 0)
    );
    assert!(emu.envelopes().is_empty() && emu.requests().is_empty());
    post_json(emu.port(), "/v2/track", &json!([message_env("after")]));
    assert_eq!(emu.envelopes()[0]["data"]["baseData"]["message"], "after");
}

#[test]
fn accepted_envelopes_are_appended_to_the_jsonl_file() {
    let path = temp_path("out.jsonl");
    std::fs::write(&path, "stale line from an earlier run\n").unwrap();
    let emu = Emulator::start(EmulatorConfig {
        jsonl_path: Some(path.clone()),
        ..Default::default()
    })
    .unwrap();
    let mut bad = message_env("bad");
    bad["time"] = json!("not a time");
    post_json(emu.port(), "/v2/track", &json!([message_env("one"), bad]));
    post_json(emu.port(), "/v2/track", &json!([message_env("two")]));

    // Flushed per request: readable right after the response, before shutdown.
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "only accepted envelopes, stale content truncated: {text}"
    );
    assert_eq!(lines[0]["data"]["baseData"]["message"], "one");
    assert_eq!(lines[1]["data"]["baseData"]["message"], "two");
    assert_eq!(lines, emu.envelopes());
    emu.shutdown();
    let _ = std::fs::remove_file(&path);
}

#[test]
fn wait_for_items_wakes_on_arrival_and_times_out_otherwise() {
    let emu = start();
    let port = emu.port();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        post_json(
            port,
            "/v2/track",
            &json!([message_env("a"), message_env("b")]),
        );
    });
    let t0 = Instant::now();
    assert!(emu.wait_for_items(2, Duration::from_secs(10)));
    assert!(t0.elapsed() < Duration::from_secs(5));
    sender.join().unwrap();
    let t0 = Instant::now();
    assert!(!emu.wait_for_items(3, Duration::from_millis(200)));
    assert!(t0.elapsed() >= Duration::from_millis(200));
}

#[test]
fn keep_alive_connection_serves_many_requests_without_stalls() {
    // Guards against per-request stalls (what TCP_NODELAY and single-write responses
    // prevent): a Nagle/delayed-ACK stall costs ~40 ms per request, so 50 requests would
    // take ~2 s instead of a few ms. Also checks keep-alive works at all.
    let emu = start();
    let mut client = Client::connect(emu.port());
    let body = json!([message_env("k")]).to_string();
    let t0 = Instant::now();
    for _ in 0..50 {
        let r = client.send(
            "POST",
            "/v2/track",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(r.status, 200);
    }
    let elapsed = t0.elapsed();
    assert_eq!(emu.stats().items_accepted, 50);
    assert!(
        elapsed < Duration::from_millis(1500),
        "50 keep-alive requests took {elapsed:?}"
    );
}

#[test]
fn double_slash_path_from_connection_string_join_is_accepted() {
    let emu = start();
    assert!(emu.connection_string("k").ends_with(&format!(
        "IngestionEndpoint=http://127.0.0.1:{}/",
        emu.port()
    )));
    let r = post_json(emu.port(), "//v2.1/track", &json!([message_env("x")]));
    assert_eq!(r.status, 200);
    assert_eq!(
        emu.requests()[0].path,
        "//v2.1/track",
        "raw path is recorded"
    );
}

#[test]
fn unknown_routes_and_wrong_methods() {
    let emu = start();
    assert_eq!(http(emu.port(), "GET", "/nope", &[], b"").status, 404);
    let r = http(emu.port(), "GET", "/v2/track", &[], b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    assert_eq!(emu.stats().requests, 0, "only POSTs to track count");
}

#[test]
fn post_shutdown_stops_the_server() {
    let emu = start();
    let port = emu.port();
    let r = http(port, "POST", "/shutdown", &[], b"");
    assert_eq!(r.status, 200, "the shutdown request itself gets its answer");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting after POST /shutdown"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    emu.shutdown(); // joining an already-stopped server must not hang
}

#[test]
fn official_distro_reference_envelopes_are_accepted() {
    // Whatever the official Python distro really sends must pass, or the emulator
    // would fail tests for telemetry the real service takes.
    let dir = std::path::Path::new("/work/shared/reference/official-distro");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut items = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".json") && !name.starts_with("00_") {
            match serde_json::from_str::<Value>(&std::fs::read_to_string(e.path()).unwrap())
                .unwrap()
            {
                Value::Array(a) => items.extend(a),
                v => items.push(v),
            }
        }
    }
    let emu = Emulator::start(EmulatorConfig {
        instrumentation_key: Some("00000000-0000-0000-0000-000000000000".into()),
        ..Default::default()
    })
    .unwrap();
    let r = http(
        emu.port(),
        "POST",
        "/v2.1/track",
        &[("Content-Encoding", "gzip")],
        &gzip(Value::Array(items.clone()).to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(emu.stats().items_accepted, items.len() as u64);
}

#[test]
fn stored_envelopes_keep_the_clients_own_text() {
    // Tests downstream compare what the exporter sent; re-serializing would reorder
    // keys and reformat numbers (100.0 -> 100), hiding or inventing differences.
    let path = temp_path("text.jsonl");
    let emu = Emulator::start(EmulatorConfig {
        jsonl_path: Some(path.clone()),
        ..Default::default()
    })
    .unwrap();
    let text = r#"{"time":"2026-11-24T21:04:55Z","name":"Microsoft.ApplicationInsights.Metric","iKey":"k","sampleRate":100.0,"data":{"baseType":"MetricData","baseData":{"ver":2,"metrics":[{"value":1.50,"name":"m"}]}}}"#;
    let r = http(
        emu.port(),
        "POST",
        "/v2/track",
        &[],
        format!("[\n  {text}\n]").as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{text}\n"));
    let raw = http(emu.port(), "GET", "/envelopes", &[], b"");
    assert_eq!(String::from_utf8(raw.body).unwrap(), format!("[{text}]"));
    emu.shutdown();
    let _ = std::fs::remove_file(&path);
}
