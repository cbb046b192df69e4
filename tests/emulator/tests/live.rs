//! Live Metrics on the emulator over real sockets: pings and posts are answered as the
//! control says (`POST /live`), a configuration goes out until its etag is echoed, a
//! failing status or an auth plan refuses them, and `GET /live` shows every request.

mod common;

use common::*;
use genkit_azure_emulator::{AuthPlan, Emulator, EmulatorConfig, LiveControl, LiveKind};
use serde_json::{json, Value};

const QUERY: &str = "?api-version=2024-04-01-preview&ikey=11111111-2222-3333-4444-555555555555";

fn start() -> Emulator {
    Emulator::start(EmulatorConfig {
        instrumentation_key: Some(IKEY.into()),
        ..Default::default()
    })
    .expect("emulator starts")
}

fn point() -> Value {
    json!({"Version": "genkit-azure:rust:0", "InvariantVersion": 5, "Instance": "i",
           "RoleName": "r", "MachineName": "m", "StreamId": "0123", "IsWebApp": false,
           "PerformanceCollectionSupported": true})
}

fn ping(port: u16, etag: &str) -> HttpResponse {
    http(
        port,
        "POST",
        &format!("/QuickPulseService.svc/ping{QUERY}"),
        &[
            ("Content-Type", "application/json"),
            ("x-ms-qps-transmission-time", "638355968001234567"),
            ("x-ms-qps-configuration-etag", etag),
            ("x-ms-qps-machine-name", "m"),
            ("x-ms-qps-instance-name", "i"),
            ("x-ms-qps-stream-id", "0123"),
            ("x-ms-qps-role-name", "r"),
            ("x-ms-qps-invariant-version", "5"),
        ],
        point().to_string().as_bytes(),
    )
}

fn post(port: u16, metrics: Value) -> HttpResponse {
    let mut p = point();
    p["Timestamp"] = json!("2026-11-24T10:00:00.000000Z");
    p["Metrics"] = metrics;
    p["Documents"] = json!([{"DocumentType": "Trace", "Message": "hi"}]);
    http(
        port,
        "POST",
        &format!("/QuickPulseService.svc/post{QUERY}"),
        &[
            ("Content-Type", "application/json"),
            ("x-ms-qps-transmission-time", "638355968001234567"),
            ("x-ms-qps-configuration-etag", ""),
        ],
        json!([p]).to_string().as_bytes(),
    )
}

#[test]
fn pings_and_posts_are_answered_as_the_control_says() {
    let emu = start();
    let r = ping(emu.port(), "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ms-qps-subscribed"), Some("false"));
    let set = post_json(
        emu.port(),
        "/live",
        &json!({"subscribed": true, "polling_hint_ms": 2500,
                "redirect": "https://westeurope.livediagnostics.monitor.azure.com",
                "configuration": {"ETag": "e1", "Metrics": [], "DocumentStreams": []}}),
    );
    assert_eq!(set.status, 200, "{}", String::from_utf8_lossy(&set.body));
    let r = ping(emu.port(), "");
    assert_eq!(r.header("x-ms-qps-subscribed"), Some("true"));
    assert_eq!(
        r.header("x-ms-qps-service-polling-interval-hint"),
        Some("2500")
    );
    assert_eq!(
        r.header("x-ms-qps-service-endpoint-redirect-v2"),
        Some("https://westeurope.livediagnostics.monitor.azure.com")
    );
    assert_eq!(r.header("x-ms-qps-configuration-etag"), Some("e1"));
    assert_eq!(r.json()["ETag"], "e1");
    // Echoed: no configuration again.
    let r = ping(emu.port(), "e1");
    assert_eq!(r.header("x-ms-qps-configuration-etag"), None);
    assert!(r.body.is_empty());
    let r = post(
        emu.port(),
        json!([{"Name": "\\ApplicationInsights\\Requests/Sec", "Value": 3, "Weight": 1}]),
    );
    assert_eq!(r.status, 200);

    let requests = emu.live_requests();
    let kinds: Vec<_> = requests.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            LiveKind::Ping,
            LiveKind::Ping,
            LiveKind::Ping,
            LiveKind::Post
        ]
    );
    assert_eq!(requests[1].configuration_sent.as_deref(), Some("e1"));
    assert_eq!(
        requests[3].metric("\\ApplicationInsights\\Requests/Sec"),
        Some(3.0)
    );
    assert_eq!(requests[3].documents()[0]["Message"], "hi");
    assert_eq!(requests[0].header("x-ms-qps-stream-id"), Some("0123"));
    let shown = get_json(emu.port(), "/live");
    assert_eq!(shown["control"]["subscribed"], true);
    assert_eq!(shown["requests"].as_array().unwrap().len(), 4);
    // Reset clears the requests, not the control.
    emu.reset();
    assert!(emu.live_requests().is_empty());
    assert_eq!(
        ping(emu.port(), "e1").header("x-ms-qps-subscribed"),
        Some("true")
    );
    let r = http(emu.port(), "DELETE", "/live", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        ping(emu.port(), "e1").header("x-ms-qps-subscribed"),
        Some("false")
    );
}

#[test]
fn failures_malformed_requests_and_auth_refusals() {
    let emu = start();
    emu.set_live(LiveControl {
        status: Some(503),
        ..LiveControl::watched()
    });
    assert_eq!(ping(emu.port(), "").status, 503);
    emu.set_live(LiveControl::watched());
    // A metric without its Weight.
    let r = post(emu.port(), json!([{"Name": "n", "Value": 1}]));
    assert_eq!(r.status, 400);
    let last = emu.live_requests().pop().unwrap();
    assert!(last.error.unwrap().contains("Weight"));
    // Another resource's key.
    let r = http(
        emu.port(),
        "POST",
        "/QuickPulseService.svc/ping?api-version=x&ikey=00000000-0000-0000-0000-000000000000",
        &[
            ("x-ms-qps-transmission-time", "1"),
            ("x-ms-qps-configuration-etag", ""),
        ],
        point().to_string().as_bytes(),
    );
    assert_eq!(r.status, 400);
    // An auth plan that wants tokens refuses a ping without one.
    emu.set_auth(AuthPlan::from_json(r#"{"tokens": [{"token": "t"}]}"#).unwrap())
        .unwrap();
    assert_eq!(ping(emu.port(), "").status, 401);
    // Bad controls are refused and change nothing.
    let r = post_json(emu.port(), "/live", &json!({"subscribed": "yes"}));
    assert_eq!(r.status, 400);
    assert_eq!(get_json(emu.port(), "/live")["control"]["subscribed"], true);
}
