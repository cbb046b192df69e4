//! Entra ID on the emulator over real sockets: with an auth plan, track requests need
//! a listed, unexpired bearer token (401 otherwise, 403 for a forbidden identity),
//! nothing of a refused request is stored, no fault step is used up by one, and
//! `/auth` shows and changes the plan and counts what came.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use genkit_azure_emulator::{AcceptedToken, AuthPlan, Emulator, EmulatorConfig, FaultPlan};
use serde_json::{json, Value};

const TRACK: &str = "/v2.1/track";

fn start() -> Emulator {
    Emulator::start(EmulatorConfig::default()).expect("emulator starts")
}

fn batch(n: usize) -> Vec<u8> {
    Value::Array((0..n).map(|i| message_env(&format!("m{i}"))).collect())
        .to_string()
        .into_bytes()
}

/// A track request with `token` as its bearer token (none when `None`).
fn track(port: u16, token: Option<&str>, items: usize) -> HttpResponse {
    let header = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(h) = &header {
        headers.push(("Authorization", h));
    }
    http(port, "POST", TRACK, &headers, &batch(items))
}

#[test]
fn without_a_plan_nothing_is_required_but_tokens_are_counted() {
    let emu = start();
    assert_eq!(track(emu.port(), None, 1).status, 200);
    assert_eq!(track(emu.port(), Some("t-1"), 1).status, 200);
    let s = emu.auth_status().stats;
    assert_eq!((s.requests_with_token, s.requests_without_token), (1, 1));
    assert_eq!(s.by_token["t-1"], 1);
    assert_eq!(emu.stats().items_accepted, 2);
}

#[test]
fn missing_unknown_expired_and_forbidden_tokens_are_refused_and_nothing_is_stored() {
    let emu = start();
    let now = SystemTime::now();
    emu.set_auth(AuthPlan::tokens([
        AcceptedToken::new("good", Some(now + Duration::from_secs(600))),
        AcceptedToken::new("old", Some(now - Duration::from_secs(1))),
        AcceptedToken::forbidden("no-role"),
    ]))
    .unwrap();
    // A fault step is not used up by a refused request: the first allowed
    // one gets it.
    emu.set_faults(FaultPlan::statuses([503])).unwrap();
    for (token, status) in [
        (None, 401),
        (Some("nope"), 401),
        (Some("old"), 401),
        (Some("no-role"), 403),
    ] {
        let r = track(emu.port(), token, 2);
        assert_eq!(r.status, status, "{token:?}");
        let body = r.json();
        assert_eq!(body["itemsReceived"], 2);
        assert_eq!(body["itemsAccepted"], 0);
        assert_eq!(body["errors"][1]["statusCode"], status);
    }
    assert_eq!(track(emu.port(), Some("good"), 2).status, 503);
    assert_eq!(track(emu.port(), Some("good"), 2).status, 200);
    let stats = emu.stats();
    assert_eq!(stats.items_accepted, 2);
    assert_eq!(stats.by_status[&401], 3);
    assert_eq!(stats.by_status[&403], 1);
    let s = emu.auth_status().stats;
    assert_eq!(
        (s.accepted, s.missing, s.unknown, s.expired, s.forbidden),
        (2, 1, 1, 1, 1)
    );
    // A reset clears the counts, not the plan.
    emu.reset();
    let status = emu.auth_status();
    assert_eq!(status.stats.accepted, 0);
    assert_eq!(status.plan.tokens.len(), 3);
    assert_eq!(track(emu.port(), None, 1).status, 401);
}

#[test]
fn a_token_is_refused_from_the_moment_it_expires() {
    let emu = start();
    emu.accept_token(AcceptedToken::new(
        "brief",
        Some(SystemTime::now() + Duration::from_millis(300)),
    ));
    assert_eq!(track(emu.port(), Some("brief"), 1).status, 200);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(track(emu.port(), Some("brief"), 1).status, 401);
    // Accepting the same text again replaces it.
    emu.accept_token(AcceptedToken::new("brief", None));
    assert_eq!(track(emu.port(), Some("brief"), 1).status, 200);
    assert_eq!(emu.auth_status().plan.tokens.len(), 1);
}

#[test]
fn the_auth_endpoint_shows_sets_and_clears_the_plan() {
    let emu = start();
    let port = emu.port();
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + 600.0;
    let r = post_json(
        port,
        "/auth",
        &json!({"tokens": [{"token": "abc", "expires_on": expires}]}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["plan"]["tokens"][0]["token"], "abc");
    assert_eq!(track(port, None, 1).status, 401);
    assert_eq!(track(port, Some("abc"), 1).status, 200);
    let shown = get_json(port, "/auth");
    assert_eq!(shown["stats"]["accepted"], 1);
    assert_eq!(shown["stats"]["missing"], 1);
    assert_eq!(shown["stats"]["byToken"]["abc"], 1);
    // A bad plan is a 400 and changes nothing.
    let r = post_json(port, "/auth", &json!({"tokens": [{"token": ""}]}));
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("tokens[0]"));
    assert_eq!(track(port, None, 1).status, 401);
    assert_eq!(http(port, "DELETE", "/auth", &[], b"").status, 200);
    assert_eq!(track(port, None, 1).status, 200);
    assert_eq!(http(port, "PUT", "/auth", &[], b"").status, 405);
}
