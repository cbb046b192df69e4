//! Fault injection over real sockets: status sequences, Retry-After, 206 with chosen
//! failing items, delays, resets, outages, redirects, the `/faults` endpoint, and the
//! counters that record all of it.

mod common;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use genkit_azure_emulator::{Emulator, EmulatorConfig, FaultKind, FaultPlan, Step, TrackResponse};
use serde_json::{json, Value};

const TRACK: &str = "/v2.1/track";

fn start() -> Emulator {
    Emulator::start(EmulatorConfig::default()).expect("emulator starts")
}

/// `n` valid Message envelopes with messages "m0", "m1", ...
fn batch(n: usize) -> Value {
    Value::Array((0..n).map(|i| message_env(&format!("m{i}"))).collect())
}

fn track(port: u16, body: &Value) -> HttpResponse {
    post_json(port, TRACK, body)
}

fn track_response(r: &HttpResponse) -> TrackResponse {
    serde_json::from_slice(&r.body).expect("track response shape")
}

fn stored_messages(emu: &Emulator) -> Vec<String> {
    emu.envelopes()
        .iter()
        .map(|e| {
            e["data"]["baseData"]["message"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Asserts the service's error body: nothing accepted, every item failed with `status`.
fn assert_all_failed(r: &HttpResponse, status: u16, items: usize) {
    assert_eq!(r.status, status);
    let resp = track_response(r);
    assert_eq!((resp.items_received, resp.items_accepted), (items, 0));
    assert_eq!(
        resp.errors
            .iter()
            .map(|e| (e.index, e.status_code))
            .collect::<Vec<_>>(),
        (0..items).map(|i| (i, status)).collect::<Vec<_>>(),
        "every item is reported with the status"
    );
    assert!(resp.errors.iter().all(|e| !e.message.is_empty()));
}

/// A raw track request on a fresh socket (`Connection: close`); returns everything
/// read until the server closed it, or the read error.
fn raw_track(port: u16, body: &str) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "POST {TRACK} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map(|_| out)
}

#[test]
fn status_sequence_is_answered_in_order_then_normal() {
    let emu = start();
    let port = emu.port();
    emu.set_faults(FaultPlan::statuses([503, 500, 200]))
        .unwrap();

    assert_all_failed(&track(port, &batch(2)), 503, 2);
    assert!(emu.envelopes().is_empty(), "a 503 stores nothing");
    assert_all_failed(&track(port, &batch(3)), 500, 3);
    assert!(emu.envelopes().is_empty());
    let r = track(port, &batch(2));
    assert_eq!(r.status, 200);
    assert_eq!(track_response(&r).items_accepted, 2);
    // The sequence is over: normal behaviour, including real validation.
    assert_eq!(track(port, &batch(1)).status, 200);
    let mut bad = message_env("bad");
    bad["time"] = json!("yesterday");
    assert_eq!(track(port, &json!([bad])).status, 400);
    assert_eq!(stored_messages(&emu), ["m0", "m1", "m0"]);

    let reqs = emu.requests();
    assert_eq!(
        reqs.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 500, 200, 200, 400]
    );
    assert_eq!(
        reqs.iter().map(|r| r.fault).collect::<Vec<_>>(),
        [
            Some(FaultKind::Status),
            Some(FaultKind::Status),
            None,
            None,
            None
        ]
    );
    assert_eq!(
        reqs.iter().map(|r| r.step).collect::<Vec<_>>(),
        [Some(0), Some(1), Some(2), None, None]
    );
    let stats = emu.stats();
    assert_eq!(
        (
            stats.items_received,
            stats.items_accepted,
            stats.items_rejected
        ),
        (9, 3, 6),
        "injected failures count as rejected items"
    );
}

#[test]
fn error_statuses_have_service_shaped_bodies_even_for_gzip() {
    let emu = start();
    let port = emu.port();
    emu.set_faults(FaultPlan::sequence([
        Step::status(400),
        Step::status(429),
        Step::status(439),
        Step::status(402),
        Step::status(503).with_message("down for maintenance"),
    ]))
    .unwrap();
    let gz = gzip(batch(3).to_string().as_bytes());
    for status in [400, 429, 439, 402, 503] {
        let r = http(
            port,
            "POST",
            TRACK,
            &[
                ("Content-Encoding", "gzip"),
                ("Content-Type", "application/json"),
            ],
            &gz,
        );
        assert_all_failed(&r, status, 3);
        if status == 503 {
            assert_eq!(track_response(&r).errors[0].message, "down for maintenance");
        }
    }
    assert!(emu.envelopes().is_empty());
    assert_eq!(emu.requests()[2].status, 439);
}

#[test]
fn retry_after_header_carries_the_value_or_an_http_date() {
    let emu = start();
    let port = emu.port();
    emu.set_faults(FaultPlan::sequence([
        Step::retry_after(429, "5"),
        Step::retry_after_date(503, Duration::from_secs(30)),
        Step::status(503),
    ]))
    .unwrap();

    let r = track(port, &batch(1));
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("5"));
    assert_all_failed(&r, 429, 1);

    let before = chrono::Utc::now().timestamp();
    let r = track(port, &batch(1));
    let after = chrono::Utc::now().timestamp();
    assert_eq!(r.status, 503);
    let value = r.header("retry-after").expect("Retry-After on the 503");
    assert!(value.ends_with(" GMT"), "{value}");
    let date = chrono::DateTime::parse_from_rfc2822(value)
        .unwrap_or_else(|e| panic!("{value:?} is not an HTTP date: {e}"))
        .timestamp();
    assert!(
        date >= before + 30 && date <= after + 31,
        "{value} is not 30 s after the answer"
    );

    let r = track(port, &batch(1));
    assert_eq!(r.status, 503);
    assert_eq!(
        r.header("retry-after"),
        None,
        "only on the steps that ask for it"
    );
}

#[test]
fn request_arrival_times_are_recorded() {
    // What a test needs to check that no retry arrived before a Retry-After expired.
    let emu = start();
    let port = emu.port();
    emu.set_faults(FaultPlan::sequence([Step::retry_after(429, "1")]))
        .unwrap();
    let mut windows = Vec::new();
    for _ in 0..3 {
        let before = Instant::now();
        track(port, &batch(1));
        windows.push((before, Instant::now()));
        std::thread::sleep(Duration::from_millis(30));
    }
    let at = emu.track_requests_at();
    assert_eq!(at.len(), 3);
    for (t, (before, after)) in at.iter().zip(&windows) {
        assert!(
            before <= t && t <= after,
            "arrival time outside the request's window"
        );
    }
    assert!(at[1] - at[0] >= Duration::from_millis(30));
    let reqs = emu.requests();
    for (r, t) in reqs.iter().zip(&at) {
        assert_eq!(
            r.received_us,
            (*t - emu.started_at()).as_micros() as u64,
            "receivedUs counts from started_at"
        );
        assert!(r.answered_us >= r.received_us);
    }
    let json = get_json(port, "/requests");
    assert_eq!(json[0]["receivedUs"], reqs[0].received_us);
}

#[test]
fn partial_stores_exactly_the_non_failing_items() {
    let emu = start();
    let port = emu.port();
    emu.set_faults(FaultPlan::sequence([Step::partial([(0, 500), (2, 400)])]))
        .unwrap();
    let mut invalid = message_env("m4");
    invalid["data"]["baseData"]
        .as_object_mut()
        .unwrap()
        .remove("message");
    let mut body = batch(4);
    body.as_array_mut().unwrap().push(invalid);

    let r = track(port, &body);
    assert_eq!(r.status, 206);
    let resp = track_response(&r);
    assert_eq!((resp.items_received, resp.items_accepted), (5, 2));
    assert_eq!(
        resp.errors
            .iter()
            .map(|e| (e.index, e.status_code))
            .collect::<Vec<_>>(),
        [(0, 500), (2, 400), (4, 400)],
        "injected failures plus the real validation error, by index"
    );
    assert!(
        resp.errors[2].message.contains("message"),
        "{:?}",
        resp.errors[2]
    );
    assert_eq!(stored_messages(&emu), ["m1", "m3"]);
    let stats = emu.stats();
    assert_eq!((stats.items_accepted, stats.items_rejected), (2, 3));
    let rec = &emu.requests()[0];
    assert_eq!(
        (rec.status, rec.items_accepted, rec.fault),
        (206, 2, Some(FaultKind::Partial))
    );

    // One step only: the same body is now validated normally.
    let r = track(port, &body);
    assert_eq!(r.status, 206);
    assert_eq!(track_response(&r).items_accepted, 4);
}

#[test]
fn delay_delays_the_answer_without_blocking_other_connections() {
    const DELAY: Duration = Duration::from_millis(1500);
    let emu = start();
    let port = emu.port();
    emu.set_faults(FaultPlan::sequence([
        Step::ok().with_delay(DELAY.as_millis() as u64)
    ]))
    .unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let slow = {
        let done = done.clone();
        std::thread::spawn(move || {
            let t0 = Instant::now();
            let r = track(port, &json!([message_env("slow")]));
            done.store(true, Ordering::SeqCst);
            (r.status, t0.elapsed())
        })
    };
    // Wait until the slow request has taken its step, then get a normal request
    // answered on another connection while the slow one is still sleeping.
    let deadline = Instant::now() + Duration::from_secs(10);
    while emu.faults().steps_applied == 0 {
        assert!(Instant::now() < deadline, "slow request never arrived");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(track(port, &json!([message_env("fast")])).status, 200);
    assert!(
        !done.load(Ordering::SeqCst),
        "the fast request waited for the delayed one"
    );
    let (status, elapsed) = slow.join().unwrap();
    assert_eq!(status, 200, "a delayed request is otherwise normal");
    assert!(elapsed >= DELAY, "answered after {elapsed:?}");
    assert_eq!(stored_messages(&emu), ["fast", "slow"]);
    let slow_rec = &emu.requests()[1];
    assert_eq!(slow_rec.fault, Some(FaultKind::Delay));
    assert!(slow_rec.answered_us - slow_rec.received_us >= DELAY.as_micros() as u64);

    // The plan-wide default delay applies to every track request, not to inspection.
    emu.set_faults(FaultPlan::normal().with_delay(300)).unwrap();
    for _ in 0..2 {
        let t0 = Instant::now();
        assert_eq!(track(port, &batch(1)).status, 200);
        assert!(t0.elapsed() >= Duration::from_millis(300));
    }
}

#[test]
fn reset_makes_the_client_see_an_error_not_a_hang() {
    let emu = start();
    let port = emu.port();
    emu.set_faults(FaultPlan::sequence([Step::reset()]))
        .unwrap();

    let body = batch(2).to_string();
    let t0 = Instant::now();
    let err = raw_track(port, &body).expect_err("no answer, the connection is reset");
    assert_eq!(
        err.kind(),
        ErrorKind::ConnectionReset,
        "a TCP reset, not a clean close or a timeout: {err}"
    );
    assert!(t0.elapsed() < Duration::from_secs(5));

    // The request was read in full, then dropped; nothing stored.
    let rec = &emu.requests()[0];
    assert_eq!(
        (rec.status, rec.item_count, rec.fault),
        (0, 2, Some(FaultKind::Reset))
    );
    assert_eq!(rec.body_bytes, body.len());
    assert!(emu.envelopes().is_empty());
    assert_eq!(emu.stats().connections_reset, 1);
    // Only that request: the next one is answered normally.
    assert!(String::from_utf8(raw_track(port, &body).unwrap())
        .unwrap()
        .starts_with("HTTP/1.1 200"));
}

#[test]
fn outage_refuses_connections_then_recovers_on_the_same_port() {
    const OUTAGE: Duration = Duration::from_millis(1500);
    let emu = start();
    let port = emu.port();
    let mut before = Client::connect(port);
    assert_eq!(before.send("GET", "/health", &[], b"").status, 200);

    let t0 = Instant::now();
    emu.set_faults(FaultPlan::outage(OUTAGE)).unwrap();
    // A real refusal: nothing listens on the port.
    let err = TcpStream::connect(("127.0.0.1", port)).expect_err("refused during the outage");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    assert!(!emu.state().is_listening());
    assert!(emu.faults().outage_remaining_ms > 0);
    // A keep-alive connection opened before the outage gets no answer either.
    let body = batch(1).to_string();
    assert!(before
        .try_send("POST", TRACK, &[], body.as_bytes())
        .is_err());

    let deadline = t0 + Duration::from_secs(30);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(_) => break,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
                assert!(Instant::now() < deadline, "port never came back");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    assert!(
        t0.elapsed() >= OUTAGE,
        "accepted again after {:?}",
        t0.elapsed()
    );
    assert_eq!(
        track(port, &batch(1)).status,
        200,
        "same port, normal again"
    );
    assert_eq!(emu.envelopes().len(), 1);
    assert_eq!(emu.stats().outages, 1);
    assert_eq!(emu.faults().outage_remaining_ms, 0);
}

#[test]
fn outage_step_resets_that_request_and_clearing_ends_it_early() {
    let emu = start();
    let port = emu.port();
    let plan = json!({"steps": [200, {"outage_ms": 60_000}]});
    assert_eq!(post_json(port, "/faults", &plan).status, 200);
    assert_eq!(track(port, &batch(1)).status, 200);
    let t0 = Instant::now();
    assert!(try_http(port, "POST", TRACK, &[], batch(1).to_string().as_bytes()).is_err());
    // The listener closes right after that request; wait to see a refusal.
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => break,
            other => {
                assert!(
                    t0.elapsed() < Duration::from_secs(10),
                    "never refused: {other:?}"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    let rec = &emu.requests()[1];
    assert_eq!((rec.status, rec.fault), (0, Some(FaultKind::Outage)));
    // The HTTP endpoints are unreachable too; the Rust API ends the outage at once.
    emu.clear_faults();
    assert!(emu.state().is_listening());
    assert_eq!(track(port, &batch(1)).status, 200);
    assert!(t0.elapsed() < Duration::from_secs(30));
    let stats = emu.stats();
    assert_eq!((stats.outages, stats.connections_reset), (1, 1));
}

#[test]
fn redirect_answers_with_location_and_stores_nothing() {
    let a = start();
    let b = start();
    let location = format!("{}{TRACK}", b.base_url());
    a.set_faults(FaultPlan::sequence([
        Step::redirect(307, &location),
        Step::redirect(308, &location),
    ]))
    .unwrap();

    let r = track(a.port(), &batch(2));
    assert_eq!(r.status, 307);
    assert_eq!(r.header("location"), Some(location.as_str()));
    assert!(r.body.is_empty());
    assert!(a.envelopes().is_empty());
    // Following it lands on the second emulator.
    assert_eq!(track(b.port(), &batch(2)).status, 200);
    assert_eq!(b.envelopes().len(), 2);

    let r = track(a.port(), &batch(1));
    assert_eq!(
        (r.status, r.header("location")),
        (308, Some(location.as_str()))
    );
    assert_eq!(track(a.port(), &batch(1)).status, 200, "then normal");
    let recs = a.requests();
    assert_eq!(
        recs.iter().map(|r| (r.status, r.fault)).collect::<Vec<_>>(),
        [
            (307, Some(FaultKind::Redirect)),
            (308, Some(FaultKind::Redirect)),
            (200, None)
        ]
    );
}

#[test]
fn post_faults_switches_modes_at_run_time_and_delete_restores() {
    let emu = start();
    let port = emu.port();
    assert_eq!(
        get_json(port, "/faults"),
        json!({"plan": {}, "next_step": 0, "steps_applied": 0, "outage_remaining_ms": 0})
    );

    // A bare array is a sequence.
    let r = post_json(port, "/faults", &json!([503]));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["plan"], json!({"steps": [{"status": 503}]}));
    assert_eq!(track(port, &batch(1)).status, 503);
    assert_eq!(track(port, &batch(1)).status, 200);

    let plan = json!({"steps": [{"status": 429, "retry_after": 7}], "repeat": true});
    assert_eq!(post_json(port, "/faults", &plan).status, 200);
    for _ in 0..3 {
        let r = track(port, &batch(1));
        assert_eq!((r.status, r.header("retry-after")), (429, Some("7")));
    }
    let status = get_json(port, "/faults");
    assert_eq!(
        status["plan"]["steps"][0],
        json!({"status": 429, "retry_after": "7"})
    );
    assert_eq!(
        (
            status["steps_applied"].as_u64(),
            status["next_step"].as_u64()
        ),
        (Some(3), Some(0))
    );
    // GET's plan can be posted back as is.
    assert_eq!(
        post_json(port, "/faults", &status["plan"]).json()["plan"],
        status["plan"]
    );

    // An invalid plan is refused with the reason and leaves the current one in force.
    let r = post_json(port, "/faults", &json!({"steps": [{"status": 206}]}));
    assert_eq!(r.status, 400);
    let error = r.json()["error"].as_str().unwrap().to_string();
    assert!(error.contains("steps[0]: 206 needs item_errors"), "{error}");
    let r = http(port, "POST", "/faults", &[], b"{not json");
    assert_eq!(r.status, 400);
    assert_eq!(track(port, &batch(1)).status, 429);

    let r = http(port, "DELETE", "/faults", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["plan"], json!({}));
    assert_eq!(track(port, &batch(1)).status, 200);

    // camelCase keys, a 206 over HTTP, then `{}` restores too.
    let plan = json!({"steps": [{"status": 206, "itemErrors": {"1": 503}}]});
    assert_eq!(post_json(port, "/faults", &plan).status, 200);
    let r = track(port, &batch(2));
    assert_eq!(r.status, 206);
    assert_eq!(track_response(&r).errors[0].status_code, 503);
    assert_eq!(post_json(port, "/faults", &json!([500, 500])).status, 200);
    assert_eq!(post_json(port, "/faults", &json!({})).status, 200);
    assert_eq!(track(port, &batch(1)).status, 200);
    assert!(emu.faults().plan.is_normal());

    assert_eq!(http(port, "PUT", "/faults", &[], b"").status, 405);
    // Inspection requests never take steps.
    emu.set_faults(FaultPlan::statuses([503])).unwrap();
    get_json(port, "/stats");
    get_json(port, "/faults");
    assert_eq!(track(port, &batch(1)).status, 503);
}

#[test]
fn stats_count_faults_and_requests_record_them() {
    let emu = start();
    let port = emu.port();
    let other = start();
    emu.set_faults(FaultPlan::sequence([
        Step::status(503),
        Step::reset(),
        Step::partial([(1, 500)]),
        Step::ok().with_delay(10),
        Step::redirect(307, other.base_url() + TRACK),
        Step::ok(),
    ]))
    .unwrap();
    let body = batch(2).to_string();
    for _ in 0..6 {
        let _ = try_http(port, "POST", TRACK, &[], body.as_bytes());
    }
    assert_eq!(track(port, &batch(1)).status, 200, "after the steps");

    let stats = emu.stats();
    assert_eq!(stats.requests, 7);
    assert_eq!(stats.faults_injected, 5);
    assert_eq!(stats.connections_reset, 1);
    assert_eq!(
        stats.by_status,
        BTreeMap::from([(200, 3), (206, 1), (307, 1), (503, 1)])
    );
    assert_eq!(stats.items_accepted, 2 + 1 + 2 + 1);
    let http_stats = get_json(port, "/stats");
    assert_eq!(http_stats["faultsInjected"], 5);
    assert_eq!(http_stats["connectionsReset"], 1);
    assert_eq!(
        http_stats["byStatus"],
        json!({"200": 3, "206": 1, "307": 1, "503": 1})
    );
    assert_eq!(http_stats, serde_json::to_value(&stats).unwrap());

    let requests = get_json(port, "/requests");
    let summary: Vec<(Value, Value, Value)> = requests
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["status"].clone(), r["fault"].clone(), r["step"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (json!(503), json!("status"), json!(0)),
            (json!(0), json!("reset"), json!(1)),
            (json!(206), json!("partial"), json!(2)),
            (json!(200), json!("delay"), json!(3)),
            (json!(307), json!("redirect"), json!(4)),
            (json!(200), Value::Null, json!(5)),
            (json!(200), Value::Null, Value::Null),
        ]
    );

    // POST /reset clears the counters but keeps the plan's place.
    emu.set_faults(FaultPlan::statuses([503, 503])).unwrap();
    assert_eq!(track(port, &batch(1)).status, 503);
    emu.reset();
    assert_eq!(emu.stats().faults_injected, 0);
    assert_eq!(track(port, &batch(1)).status, 503);
    assert_eq!(emu.stats().by_status, BTreeMap::from([(503, 1)]));
}

#[test]
fn concurrent_requests_take_one_step_each() {
    let emu = start();
    let port = emu.port();
    emu.set_faults(FaultPlan::statuses([503; 5])).unwrap();
    let threads: Vec<_> = (0..10)
        .map(|_| std::thread::spawn(move || track(port, &batch(1)).status))
        .collect();
    let mut statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 503, 503, 503, 503, 503]);
    let mut steps: Vec<usize> = emu.requests().iter().filter_map(|r| r.step).collect();
    steps.sort();
    assert_eq!(
        steps,
        [0, 1, 2, 3, 4],
        "each step went to exactly one request"
    );
    assert_eq!(emu.envelopes().len(), 5);
}

#[test]
fn invalid_plans_are_refused_by_the_rust_api() {
    let emu = start();
    let err = emu.set_faults(FaultPlan::statuses([200, 307])).unwrap_err();
    assert!(
        err.to_string().contains("steps[1]: 307 needs a location"),
        "{err}"
    );
    assert!(emu.faults().plan.is_normal(), "nothing installed");
}

#[test]
fn post_faults_outage_is_answered_before_the_port_closes() {
    let emu = start();
    let port = emu.port();
    let t0 = Instant::now();
    let r = post_json(port, "/faults", &json!({"outage_ms": 800}));
    assert_eq!(
        r.status, 200,
        "the request that starts the outage gets its answer"
    );
    assert!(r.json()["outage_remaining_ms"].as_u64().unwrap() > 0);
    let err = TcpStream::connect(("127.0.0.1", port)).expect_err("refused once answered");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    loop {
        if let Ok(r) = try_http(port, "POST", TRACK, &[], batch(1).to_string().as_bytes()) {
            assert_eq!(r.status, 200);
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "port never came back"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(t0.elapsed() >= Duration::from_millis(800));
    // The connection attempts during the window never reached the emulator.
    assert_eq!(emu.requests().len(), 1);
}
