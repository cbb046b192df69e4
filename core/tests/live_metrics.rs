//! Live Metrics against the emulator over real sockets, with the cycle's
//! intervals scaled down so each rule is watched on the wire in a second or
//! two: the first ping goes after its delay and says who is sending; pings every
//! interval, slower after a while unwatched; posts every interval while
//! someone watches, until a post says nobody does or posts have failed for
//! the give-up time (not at the first failure); the polling hint; redirects
//! to the emulator only. Then what posts say: the standard counters against a
//! known workload, derived metrics and document stream tags under a pushed
//! filter configuration, and nothing at all with `enable_live_metrics(false)`.
//! With Entra ID, pings and posts carry the pipeline's bearer token.

mod common;

use common::*;
use genkit_azure::opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use genkit_azure::opentelemetry::{InstrumentationScope, KeyValue};
use genkit_azure::opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use genkit_azure::{
    AccessToken, AzureTelemetryBuilder, CredentialError, CustomEvent, LiveTimings, LogRecord,
    TokenCredential, TrackedException,
};
use genkit_azure_emulator::{
    AcceptedToken, AuthPlan, Emulator, LiveControl, LiveKind, LiveRequest,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime};

const MS: Duration = Duration::from_millis(1);

/// Intervals for a test: `ping` and `post` as given, the rest far away
/// unless the test sets them.
fn timings(ping: u64, post: u64) -> LiveTimings {
    LiveTimings {
        first_ping: 20 * MS,
        ping: Duration::from_millis(ping),
        long_ping: 60 * 1000 * MS,
        unwatched_before_long_ping: 60 * 1000 * MS,
        post: Duration::from_millis(post),
        post_give_up: 20 * 1000 * MS,
        request_timeout: 2000 * MS,
    }
}

fn live_builder(emu: &Emulator, t: LiveTimings) -> AzureTelemetryBuilder {
    builder(emu)
        .connection_string(emu.live_connection_string(IKEY))
        .service_name("live-test")
        .live_metrics_timings(t)
}

/// Waits until `done` says so about the emulator's live requests.
fn wait_for(
    emu: &Emulator,
    timeout: Duration,
    what: &str,
    done: impl Fn(&[LiveRequest]) -> bool,
) -> Vec<LiveRequest> {
    let deadline = Instant::now() + timeout;
    loop {
        let requests = emu.live_requests();
        if done(&requests) {
            return requests;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; got {:#?}",
            requests
                .iter()
                .map(|r| (r.kind, r.status, r.received_us / 1000))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(10 * MS);
    }
}

fn count(requests: &[LiveRequest], kind: LiveKind) -> usize {
    requests.iter().filter(|r| r.kind == kind).count()
}

/// Gaps between consecutive requests of `kind`, in ms.
fn gaps(requests: &[&LiveRequest]) -> Vec<u64> {
    requests
        .windows(2)
        .map(|w| (w[1].received_us - w[0].received_us) / 1000)
        .collect()
}

fn median(mut v: Vec<u64>) -> u64 {
    assert!(!v.is_empty());
    v.sort_unstable();
    v[v.len() / 2]
}

fn of(requests: &[LiveRequest], kind: LiveKind) -> Vec<&LiveRequest> {
    requests.iter().filter(|r| r.kind == kind).collect()
}

fn posts(requests: &[LiveRequest]) -> Vec<&LiveRequest> {
    of(requests, LiveKind::Post)
}

// ---- The cycle and its timing rules ----------------------------------------

#[test]
fn the_first_ping_waits_its_delay_says_who_is_sending_and_pings_repeat() {
    let emu = emulator();
    let started = Instant::now();
    let t = LiveTimings {
        first_ping: 300 * MS,
        ..timings(150, 50)
    };
    let telemetry = live_builder(&emu, t).build().unwrap();
    let requests = wait_for(&emu, 5 * 1000 * MS, "5 pings", |r| {
        count(r, LiveKind::Ping) >= 5
    });
    let first_at = emu.started_at() + Duration::from_micros(requests[0].received_us);
    let waited = first_at.duration_since(started);
    assert!(
        waited >= 300 * MS && waited < 1300 * MS,
        "the first ping waits its delay, and no more: {waited:?}"
    );
    let ping = &requests[0];
    assert_eq!(ping.status, 200, "{:?}", ping.error);
    assert_eq!(ping.ikey.as_deref(), Some(IKEY));
    assert_eq!(ping.api_version.as_deref(), Some("2024-04-01-preview"));
    assert_eq!(ping.header("x-ms-qps-invariant-version"), Some("5"));
    assert_eq!(ping.header("x-ms-qps-role-name"), Some("live-test"));
    assert_eq!(ping.header("x-ms-qps-configuration-etag"), Some(""));
    assert_eq!(ping.header("content-type"), Some("application/json"));
    let stream = ping.header("x-ms-qps-stream-id").unwrap();
    assert_eq!(stream.len(), 32);
    assert_eq!(ping.body["StreamId"], stream);
    assert_eq!(ping.body["RoleName"], "live-test");
    assert_eq!(ping.body["InvariantVersion"], 5);
    assert_eq!(ping.body["PerformanceCollectionSupported"], true);
    assert!(ping.body["Version"]
        .as_str()
        .unwrap()
        .starts_with("genkit-azure:rust:"));
    assert!(!ping.body["MachineName"].as_str().unwrap().is_empty());
    assert_eq!(
        ping.body["Instance"],
        ping.header("x-ms-qps-instance-name").unwrap()
    );
    // .NET ticks of about now.
    let ticks: u64 = ping
        .header("x-ms-qps-transmission-time")
        .unwrap()
        .parse()
        .unwrap();
    let now_ticks = 621_355_968_000_000_000
        + SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            / 100;
    assert!(
        now_ticks.abs_diff(ticks) < 10 * 10_000_000,
        "{ticks} vs {now_ticks}"
    );
    // Nobody watches: pings keep their interval, and nothing is posted.
    let g = gaps(&of(&requests, LiveKind::Ping));
    assert!((120..=400).contains(&median(g.clone())), "{g:?}");
    assert_eq!(count(&requests, LiveKind::Post), 0);
    telemetry.shutdown(Duration::from_secs(2)).unwrap();
}

#[test]
fn posts_go_every_interval_while_watched_and_pings_resume_when_nobody_watches() {
    let emu = emulator();
    emu.set_live(LiveControl::watched());
    let telemetry = live_builder(&emu, timings(150, 60)).build().unwrap();
    let requests = wait_for(&emu, 5 * 1000 * MS, "10 posts", |r| {
        count(r, LiveKind::Post) >= 10
    });
    // One ping found a viewer; from then on, only posts.
    assert_eq!(requests[0].kind, LiveKind::Ping);
    assert!(requests[1..].iter().all(|r| r.kind == LiveKind::Post));
    let g = gaps(&posts(&requests));
    assert!((45..=150).contains(&median(g.clone())), "{g:?}");
    for p in posts(&requests) {
        assert_eq!(p.status, 200, "{:?}", p.error);
        assert_eq!(p.body.as_array().unwrap().len(), 1);
        assert!(p.data_point()["Timestamp"].as_str().unwrap().ends_with('Z'));
    }

    emu.set_live(LiveControl::default());
    let before = emu.live_requests().len();
    let requests = wait_for(&emu, 5 * 1000 * MS, "3 pings after the session", |r| {
        count(&r[before..], LiveKind::Ping) >= 3
    });
    let after = &requests[before..];
    // The first post told it nobody watches: pings at once, nothing posted since.
    let first_ping = after.iter().position(|r| r.kind == LiveKind::Ping).unwrap();
    assert!(first_ping <= 1, "{first_ping} posts after nobody watched");
    assert!(after[first_ping..].iter().all(|r| r.kind == LiveKind::Ping));
    let g = gaps(&of(after, LiveKind::Ping));
    assert!((120..=400).contains(&median(g.clone())), "{g:?}");
    telemetry.shutdown(Duration::from_secs(2)).unwrap();
}

#[test]
fn pings_slow_down_once_nobody_has_watched_for_a_while() {
    let emu = emulator();
    let t = LiveTimings {
        long_ping: 700 * MS,
        unwatched_before_long_ping: 1000 * MS,
        ..timings(100, 50)
    };
    let telemetry = live_builder(&emu, t).build().unwrap();
    let requests = wait_for(&emu, 10 * 1000 * MS, "3 slow pings", |r| {
        gaps(&of(r, LiveKind::Ping))
            .iter()
            .filter(|g| **g >= 600)
            .count()
            >= 3
    });
    // (ping's time since the first, gap to the next), in ms; the switch at
    // 1 s unwatched is left out, as jitter decides its side.
    let pings = of(&requests, LiveKind::Ping);
    let start = pings[0].received_us;
    let timed: Vec<(u64, u64)> = pings
        .windows(2)
        .map(|w| {
            (
                (w[0].received_us - start) / 1000,
                (w[1].received_us - w[0].received_us) / 1000,
            )
        })
        .collect();
    let early: Vec<u64> = timed
        .iter()
        .filter(|(at, _)| *at < 700)
        .map(|(_, g)| *g)
        .collect();
    let late: Vec<u64> = timed
        .iter()
        .filter(|(at, _)| *at >= 1100)
        .map(|(_, g)| *g)
        .collect();
    assert!(early.len() >= 5 && median(early.clone()) < 300, "{early:?}");
    assert!(late.iter().all(|g| *g >= 600), "{late:?}");
    telemetry.shutdown(Duration::from_secs(2)).unwrap();
}

#[test]
fn failed_posts_go_on_until_the_give_up_time_then_pings_and_a_viewer_resumes_them() {
    let emu = emulator();
    emu.set_live(LiveControl::watched());
    let t = LiveTimings {
        post_give_up: 700 * MS,
        ..timings(200, 50)
    };
    let telemetry = live_builder(&emu, t).build().unwrap();
    wait_for(&emu, 5 * 1000 * MS, "posts", |r| {
        count(r, LiveKind::Post) >= 3
    });
    emu.set_live(LiveControl {
        status: Some(503),
        ..LiveControl::watched()
    });
    let before = emu.live_requests().len();
    let requests = wait_for(&emu, 5 * 1000 * MS, "pings after failed posts", |r| {
        count(&r[before..], LiveKind::Ping) >= 2
    });
    let after = &requests[before..];
    let failed_posts: Vec<_> = after
        .iter()
        .take_while(|r| r.kind == LiveKind::Post)
        .collect();
    // Not one failure and out: posts kept their interval for the give-up time.
    assert!(
        failed_posts.len() >= 6,
        "{} failed posts",
        failed_posts.len()
    );
    assert!(failed_posts.iter().all(|p| p.status == 503));
    let first_ping = after.iter().find(|r| r.kind == LiveKind::Ping).unwrap();
    let gave_up_after = (first_ping.received_us - failed_posts[0].received_us) / 1000;
    assert!(
        (600..=1500).contains(&gave_up_after),
        "gave up {gave_up_after} ms after the first failure"
    );
    // The endpoint is back and someone watches: posts again.
    emu.set_live(LiveControl::watched());
    let before = emu.live_requests().len();
    wait_for(&emu, 5 * 1000 * MS, "posts again", |r| {
        r[before..]
            .iter()
            .filter(|p| p.kind == LiveKind::Post && p.status == 200)
            .count()
            >= 3
    });
    telemetry.shutdown(Duration::from_secs(2)).unwrap();
}

#[test]
fn the_polling_hint_sets_the_ping_interval() {
    let emu = emulator();
    emu.set_live(LiveControl {
        polling_hint_ms: Some(80),
        ..Default::default()
    });
    // Without the hint pings would be 2 s apart.
    let telemetry = live_builder(&emu, timings(2000, 50)).build().unwrap();
    let requests = wait_for(&emu, 3 * 1000 * MS, "6 pings", |r| {
        count(r, LiveKind::Ping) >= 6
    });
    let g = gaps(&of(&requests, LiveKind::Ping));
    assert!(median(g.clone()) < 300, "{g:?}");
    telemetry.shutdown(Duration::from_secs(2)).unwrap();
}

#[test]
fn a_redirect_is_followed_to_another_emulator_but_not_to_a_foreign_host() {
    let first = emulator();
    let second = emulator();
    first.set_live(LiveControl {
        redirect: Some(second.base_url()),
        ..Default::default()
    });
    let telemetry = live_builder(&first, timings(100, 50)).build().unwrap();
    wait_for(&second, 3 * 1000 * MS, "pings at the new host", |r| {
        count(r, LiveKind::Ping) >= 3
    });
    assert_eq!(
        count(&first.live_requests(), LiveKind::Ping),
        1,
        "only the first"
    );
    telemetry.shutdown(Duration::from_secs(2)).unwrap();

    let lone = emulator();
    lone.set_live(LiveControl {
        redirect: Some("https://evil.example.com".into()),
        ..Default::default()
    });
    let telemetry = live_builder(&lone, timings(100, 50)).build().unwrap();
    wait_for(&lone, 3 * 1000 * MS, "pings that stay", |r| {
        count(r, LiveKind::Ping) >= 4
    });
    telemetry.shutdown(Duration::from_secs(2)).unwrap();
}

// ---- What posts say -------------------------------------------------------

fn span(
    kind: SpanKind,
    name: &str,
    attrs: Vec<KeyValue>,
    ok: bool,
    millis: u64,
    exceptions: &[&str],
) -> SpanData {
    let start = SystemTime::now();
    let mut events = SpanEvents::default();
    for stack in exceptions {
        events.events.push(Event::new(
            "exception",
            start,
            vec![
                KeyValue::new("exception.type", "ValueError"),
                KeyValue::new("exception.message", "bad input"),
                KeyValue::new("exception.stacktrace", stack.to_string()),
            ],
            0,
        ));
    }
    SpanData {
        span_context: SpanContext::new(
            TraceId::from_bytes(fastrand::u128(1..).to_be_bytes()),
            SpanId::from_bytes(fastrand::u64(1..).to_be_bytes()),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: kind,
        name: name.to_string().into(),
        start_time: start,
        end_time: start + Duration::from_millis(millis),
        attributes: attrs,
        dropped_attributes_count: 0,
        events,
        links: SpanLinks::default(),
        status: if ok {
            Status::Unset
        } else {
            Status::error("failed")
        },
        instrumentation_scope: InstrumentationScope::builder("live-test").build(),
    }
}

/// An HTTP server span's attributes: `route` is `METHOD /path`.
fn request(route: &str, status: i64, more: Vec<KeyValue>) -> Vec<KeyValue> {
    let (method, path) = route.split_once(' ').unwrap();
    let mut attrs = vec![
        KeyValue::new("http.request.method", method.to_string()),
        KeyValue::new("http.route", path.to_string()),
        KeyValue::new("url.full", format!("https://shop.example{path}")),
        KeyValue::new("http.response.status_code", status),
    ];
    attrs.extend(more);
    attrs
}

fn http_call(url: &str, status: i64) -> Vec<KeyValue> {
    vec![
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("url.full", url.to_string()),
        KeyValue::new("http.response.status_code", status),
    ]
}

fn error_log(message: &str) -> LogRecord {
    LogRecord::new(genkit_azure::opentelemetry::logs::Severity::Error, message)
        .with_attribute(KeyValue::new("exception.type", "KeyError"))
        .with_attribute(KeyValue::new("exception.message", "42"))
        .with_attribute(KeyValue::new("exception.stacktrace", "at lookup()"))
}

fn info_log(message: &str, user: &str) -> LogRecord {
    LogRecord::new(genkit_azure::opentelemetry::logs::Severity::Info, message)
        .with_attribute(KeyValue::new("user", user.to_string()))
}

/// Waits for a post that arrives after everything before it, so that what is
/// pushed next lands in the interval after it.
fn fresh_interval(emu: &Emulator) {
    let n = count(&emu.live_requests(), LiveKind::Post);
    wait_for(emu, 5 * 1000 * MS, "a post", |r| {
        count(r, LiveKind::Post) > n
    });
}

/// Sums of every metric over the posts from `from` on.
fn sum(requests: &[LiveRequest], name: &str) -> f64 {
    posts(requests).iter().filter_map(|p| p.metric(name)).sum()
}

const REQUESTS: &str = "\\ApplicationInsights\\Requests/Sec";
const REQUESTS_FAILED: &str = "\\ApplicationInsights\\Requests Failed/Sec";
const REQUEST_DURATION: &str = "\\ApplicationInsights\\Request Duration";
const DEPENDENCIES: &str = "\\ApplicationInsights\\Dependency Calls/Sec";
const DEPENDENCIES_FAILED: &str = "\\ApplicationInsights\\Dependency Calls Failed/Sec";
const DEPENDENCY_DURATION: &str = "\\ApplicationInsights\\Dependency Call Duration";
const EXCEPTIONS: &str = "\\ApplicationInsights\\Exceptions/Sec";

fn resident_bytes() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: f64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096.0
}

#[test]
fn the_standard_counters_match_a_known_workload() {
    let emu = emulator();
    emu.set_live(LiveControl::watched());
    let telemetry = live_builder(&emu, timings(100, 150)).build().unwrap();
    fresh_interval(&emu);
    let from = emu.live_requests().len();
    // 6 requests that succeeded and 2 that failed, 40 ms each; 3 + 1
    // dependencies of 10 ms; 4 exceptions: 2 span events, an exception log
    // record, a tracked exception.
    for i in 0..8 {
        let ok = i < 6;
        let events: &[&str] = if i == 7 { &["at a()", "at b()"] } else { &[] };
        let attrs = request("GET /menu", if ok { 200 } else { 500 }, vec![]);
        telemetry
            .push_span(span(SpanKind::Server, "GET", attrs, ok, 40, events))
            .unwrap();
    }
    for i in 0..4 {
        let ok = i < 3;
        let attrs = http_call("http://menu.internal/api", if ok { 200 } else { 503 });
        telemetry
            .push_span(span(SpanKind::Client, "GET", attrs, ok, 10, &[]))
            .unwrap();
    }
    telemetry.emit_log(error_log("lookup failed")).unwrap();
    telemetry.emit_log(info_log("hello", "alice")).unwrap();
    telemetry
        .track_exception(TrackedException::new("OrderError", "gone").with_stack("at worker()"))
        .unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());

    let requests = wait_for(&emu, 5 * 1000 * MS, "the workload's counts", |r| {
        let r = &r[from..];
        sum(r, REQUESTS) >= 6.0 && sum(r, DEPENDENCIES) >= 3.0 && sum(r, EXCEPTIONS) >= 4.0
    });
    // A little longer, so that nothing more arrives.
    std::thread::sleep(300 * MS);
    let requests = {
        let all = emu.live_requests();
        assert!(all.len() >= requests.len());
        all
    };
    let after = &requests[from..];
    assert_eq!(sum(after, REQUESTS), 6.0);
    assert_eq!(sum(after, REQUESTS_FAILED), 2.0);
    assert_eq!(sum(after, DEPENDENCIES), 3.0);
    assert_eq!(sum(after, DEPENDENCIES_FAILED), 1.0);
    assert_eq!(sum(after, EXCEPTIONS), 4.0);
    for p in posts(after) {
        assert_eq!(p.status, 200, "{:?}", p.error);
        // Averages in milliseconds, sent only with data.
        if let Some(d) = p.metric(REQUEST_DURATION) {
            assert_eq!(d, 40.0);
        }
        if let Some(d) = p.metric(DEPENDENCY_DURATION) {
            assert_eq!(d, 10.0);
        }
        // The gauges go with every post.
        let cpu = p.metric("\\Processor(_Total)\\% Processor Time").unwrap();
        assert!((0.0..=100.0).contains(&cpu), "{cpu}");
        assert_eq!(
            p.metric("\\% Process\\Processor Time Normalized"),
            Some(cpu)
        );
        let memory = p.metric("\\Process\\Physical Bytes").unwrap();
        assert_eq!(p.metric("\\Memory\\Committed Bytes"), Some(memory));
        let rss = resident_bytes();
        assert!(
            memory > rss / 2.0 && memory < rss * 2.0,
            "{memory} vs {rss}"
        );
    }
    // Documents: every item, untagged (no configuration).
    let docs: Vec<&Value> = posts(after).iter().flat_map(|p| p.documents()).collect();
    let of_type = |t: &str| docs.iter().filter(|d| d["DocumentType"] == t).count();
    assert_eq!(
        (
            of_type("Request"),
            of_type("RemoteDependency"),
            of_type("Exception"),
            of_type("Trace")
        ),
        (8, 4, 4, 1)
    );
    assert!(docs.iter().all(|d| d["DocumentStreamIds"] == json!([])));
    let failed = docs
        .iter()
        .find(|d| d["DocumentType"] == "Request" && d["ResponseCode"] == "500")
        .unwrap();
    assert_eq!(failed["Name"], "GET /menu");
    assert_eq!(failed["Url"], "https://shop.example/menu");
    assert_eq!(failed["Duration"], "PT0.04S");
    let dep = docs
        .iter()
        .find(|d| d["DocumentType"] == "RemoteDependency")
        .unwrap();
    assert_eq!(dep["CommandName"], "http://menu.internal/api");
    let trace = docs.iter().find(|d| d["DocumentType"] == "Trace").unwrap();
    assert_eq!(trace["Message"], "hello");
    assert_eq!(
        trace["Properties"],
        json!([{"key": "user", "value": "alice"}])
    );
    telemetry.shutdown(Duration::from_secs(2)).unwrap();
}

const CONFIGURATION: &str = r#"{
  "ETag": "v1",
  "Metrics": [
    {"Id": "checkout-or-5xx", "TelemetryType": "Request", "Projection": "Count()", "Aggregation": "Sum",
     "BackEndAggregation": "Sum", "FilterGroups": [
       {"Filters": [{"FieldName": "Name", "Predicate": "Contains", "Comparand": "CHECKOUT"},
                    {"FieldName": "Duration", "Predicate": "GreaterThan", "Comparand": "0.0:0:0.1"}]},
       {"Filters": [{"FieldName": "ResponseCode", "Predicate": "GreaterThanOrEqual", "Comparand": "500"}]}]},
    {"Id": "tokens-sum", "TelemetryType": "Request", "Projection": "CustomDimensions.tokens", "Aggregation": "Sum",
     "FilterGroups": [{"Filters": [{"FieldName": "Success", "Predicate": "Equal", "Comparand": "true"}]}]},
    {"Id": "tokens-max", "TelemetryType": "Request", "Projection": "CustomDimensions.tokens", "Aggregation": "Max",
     "FilterGroups": [{"Filters": [{"FieldName": "Success", "Predicate": "Equal", "Comparand": "true"}]}]},
    {"Id": "tokens-min", "TelemetryType": "Request", "Projection": "CustomDimensions.tokens", "Aggregation": "Min",
     "FilterGroups": [{"Filters": [{"FieldName": "Success", "Predicate": "NotEqual", "Comparand": "false"}]}]},
    {"Id": "vip", "TelemetryType": "Request", "Projection": "Count()", "Aggregation": "Sum",
     "FilterGroups": [{"Filters": [{"FieldName": "*", "Predicate": "Contains", "Comparand": "VIP"}]}]},
    {"Id": "short-requests", "TelemetryType": "Request", "Projection": "Count()", "Aggregation": "Sum",
     "FilterGroups": [{"Filters": [{"FieldName": "Duration", "Predicate": "LessThan", "Comparand": "00:00:00.030"},
                                   {"FieldName": "Url", "Predicate": "Equal", "Comparand": "https://shop.example/menu"}]}]},
    {"Id": "http-avg", "TelemetryType": "Dependency", "Projection": "Duration", "Aggregation": "Avg",
     "FilterGroups": [{"Filters": [{"FieldName": "Type", "Predicate": "Equal", "Comparand": "HTTP"}]}]},
    {"Id": "not-health", "TelemetryType": "Dependency", "Projection": "Count()", "Aggregation": "Sum",
     "FilterGroups": [{"Filters": [{"FieldName": "Data", "Predicate": "DoesNotContain", "Comparand": "health"},
                                   {"FieldName": "ResultCode", "Predicate": "LessThan", "Comparand": "400"},
                                   {"FieldName": "Name", "Predicate": "NotEqual", "Comparand": "ignored"},
                                   {"FieldName": "Target", "Predicate": "DoesNotContain", "Comparand": "nowhere"},
                                   {"FieldName": "Duration", "Predicate": "LessThanOrEqual", "Comparand": "0:0:1"},
                                   {"FieldName": "Success", "Predicate": "Equal", "Comparand": "true"}]}]},
    {"Id": "handler-exceptions", "TelemetryType": "Exception", "Projection": "Count()", "Aggregation": "Sum",
     "FilterGroups": [{"Filters": [{"FieldName": "Exception.StackTrace", "Predicate": "Contains", "Comparand": "handler"},
                                   {"FieldName": "Exception.Message", "Predicate": "Equal", "Comparand": "bad input"}]}]},
    {"Id": "hello-not-bot", "TelemetryType": "Trace", "Projection": "Count()", "Aggregation": "Sum",
     "FilterGroups": [{"Filters": [{"FieldName": "Message", "Predicate": "Contains", "Comparand": "HELLO"},
                                   {"FieldName": "CustomDimensions.user", "Predicate": "NotEqual", "Comparand": "bot"}]}]},
    {"Id": "events", "TelemetryType": "Event", "Projection": "Count()", "Aggregation": "Sum",
     "FilterGroups": [{"Filters": [{"FieldName": "Name", "Predicate": "Equal", "Comparand": "placed"}]}]},
    {"Id": "broken", "TelemetryType": "Request", "Projection": "Count()", "Aggregation": "Sum",
     "FilterGroups": [{"Filters": [{"FieldName": "Target", "Predicate": "Equal", "Comparand": "x"}]}]}
  ],
  "DocumentStreams": [
    {"Id": "failed-requests", "DocumentFilterGroups": [
      {"TelemetryType": "Request", "Filters": {"Filters": [
        {"FieldName": "Success", "Predicate": "Equal", "Comparand": "false"}]}}]},
    {"Id": "slow-calls", "DocumentFilterGroups": [
      {"TelemetryType": "Dependency", "Filters": {"Filters": [
        {"FieldName": "Duration", "Predicate": "GreaterThanOrEqual", "Comparand": "0.0:0:0.05"}]}},
      {"TelemetryType": "Request", "Filters": {"Filters": [
        {"FieldName": "Duration", "Predicate": "GreaterThanOrEqual", "Comparand": "0.0:0:0.15"}]}}]},
    {"Id": "hello-traces", "DocumentFilterGroups": [
      {"TelemetryType": "Trace", "Filters": {"Filters": [
        {"FieldName": "Message", "Predicate": "Contains", "Comparand": "hello"}]}}]}
  ],
  "QuotaInfo": null
}"#;

#[test]
fn derived_metrics_and_stream_tags_follow_a_pushed_configuration() {
    let emu = emulator();
    emu.set_live(LiveControl {
        configuration: Some(serde_json::from_str(CONFIGURATION).unwrap()),
        ..LiveControl::watched()
    });
    let telemetry = live_builder(&emu, timings(100, 400)).build().unwrap();
    // The configuration came with the first answer; every request after
    // echoes its etag, and no answer sends it again.
    let requests = wait_for(&emu, 5 * 1000 * MS, "two posts", |r| {
        count(r, LiveKind::Post) >= 2
    });
    assert_eq!(requests[0].configuration_sent.as_deref(), Some("v1"));
    for r in &requests[1..] {
        assert_eq!(r.header("x-ms-qps-configuration-etag"), Some("v1"));
        assert_eq!(r.configuration_sent, None);
    }
    // What could not be applied is reported with every post.
    let errors = &posts(&requests)[0].data_point()["CollectionConfigurationErrors"];
    assert_eq!(errors.as_array().unwrap().len(), 1, "{errors:#}");
    assert_eq!(
        errors[0]["CollectionConfigurationErrorType"],
        "MetricFailureToCreate"
    );
    assert_eq!(
        errors[0]["Data"][0],
        json!({"key": "MetricId", "value": "broken"})
    );

    fresh_interval(&emu);
    let from = emu.live_requests().len();
    let push = |kind, name: &str, attrs, ok, ms, events: &[&str]| {
        telemetry
            .push_span(span(kind, name, attrs, ok, ms, events))
            .unwrap();
    };
    let tokens = |n: i64| vec![KeyValue::new("tokens", n)];
    // Requests.
    let mut vip = tokens(100);
    vip.push(KeyValue::new("customer", "vip-17"));
    push(
        SpanKind::Server,
        "POST",
        request("POST /checkout", 200, vip),
        true,
        150,
        &[],
    );
    push(
        SpanKind::Server,
        "POST",
        request("POST /checkout", 200, tokens(300)),
        true,
        50,
        &[],
    );
    push(
        SpanKind::Server,
        "GET",
        request("GET /menu", 503, tokens(7)),
        false,
        20,
        &["at handler()"],
    );
    push(
        SpanKind::Server,
        "GET",
        request("GET /menu", 200, vec![]),
        true,
        20,
        &[],
    );
    // Dependencies.
    push(
        SpanKind::Client,
        "GET",
        http_call("http://menu.internal/api", 200),
        true,
        60,
        &[],
    );
    push(
        SpanKind::Client,
        "GET",
        http_call("http://menu.internal/health", 200),
        true,
        20,
        &[],
    );
    push(
        SpanKind::Client,
        "query",
        vec![
            KeyValue::new("db.system", "postgresql"),
            KeyValue::new("db.statement", "SELECT 1"),
            KeyValue::new("server.address", "db"),
        ],
        true,
        80,
        &[],
    );
    // Exceptions, traces, events.
    telemetry
        .track_exception(TrackedException::new("OrderError", "bad input").with_stack("at worker()"))
        .unwrap();
    telemetry
        .emit_log(info_log("Hello world", "alice"))
        .unwrap();
    telemetry.emit_log(info_log("hello bot", "bot")).unwrap();
    telemetry.emit_log(info_log("bye", "alice")).unwrap();
    telemetry.track_event(CustomEvent::new("placed")).unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    fresh_interval(&emu);
    fresh_interval(&emu);
    let requests = emu.live_requests();
    let after = &requests[from..];
    let total = |id: &str| sum(after, id);
    assert_eq!(
        total("checkout-or-5xx"),
        2.0,
        "the slow checkout (AND), the 503 (OR)"
    );
    assert_eq!(
        total("tokens-sum"),
        400.0,
        "the failed request's 7 is not counted"
    );
    assert_eq!(total("vip"), 1.0, "a dimension's value, any case");
    assert_eq!(
        total("short-requests"),
        2.0,
        "both menu requests: short, and that URL"
    );
    assert_eq!(
        total("not-health"),
        2.0,
        "every filter of the group, not the first"
    );
    assert_eq!(total("handler-exceptions"), 1.0);
    assert_eq!(total("hello-not-bot"), 1.0);
    assert_eq!(total("events"), 1.0);
    let values = |id: &str| -> Vec<f64> {
        posts(after)
            .iter()
            .filter_map(|p| p.metric(id))
            .filter(|v| *v != 0.0)
            .collect()
    };
    assert_eq!(values("tokens-max").into_iter().fold(0.0, f64::max), 300.0);
    assert_eq!(
        values("tokens-min").into_iter().fold(f64::MAX, f64::min),
        100.0
    );
    let avg = values("http-avg");
    assert!(avg == [40.0] || avg == [60.0, 20.0], "{avg:?}");
    // Every derived metric goes with every post, 0 without data.
    for p in posts(after) {
        for id in ["checkout-or-5xx", "tokens-sum", "http-avg", "events"] {
            assert!(p.metric(id).is_some(), "{id} missing");
        }
        assert!(p.metric("broken").is_none());
    }

    let docs: Vec<&Value> = posts(after).iter().flat_map(|p| p.documents()).collect();
    let tagged = |t: &str| -> Vec<(String, Value)> {
        let mut v: Vec<(String, Value)> = docs
            .iter()
            .filter(|d| d["DocumentType"] == t)
            .map(|d| {
                let label = d["Name"]
                    .as_str()
                    .or(d["Message"].as_str())
                    .or(d["ExceptionType"].as_str())
                    .unwrap_or_default();
                (
                    format!("{label} {}", d["Duration"].as_str().unwrap_or("")),
                    d["DocumentStreamIds"].clone(),
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    // Requests are covered: sent only when a stream matches, with every match.
    assert_eq!(
        tagged("Request"),
        [
            ("GET /menu PT0.02S".to_string(), json!(["failed-requests"])),
            ("POST /checkout PT0.15S".to_string(), json!(["slow-calls"])),
        ]
    );
    assert_eq!(
        tagged("RemoteDependency"),
        [
            ("GET /api PT0.06S".to_string(), json!(["slow-calls"])),
            ("query PT0.08S".to_string(), json!(["slow-calls"])),
        ]
    );
    assert_eq!(
        tagged("Trace"),
        [
            ("Hello world ".to_string(), json!(["hello-traces"])),
            ("hello bot ".to_string(), json!(["hello-traces"])),
        ]
    );
    // Exceptions and events: no stream covers them, so all go, untagged.
    assert_eq!(
        tagged("Exception"),
        [
            ("OrderError ".to_string(), json!([])),
            ("ValueError ".to_string(), json!([])),
        ]
    );
    assert_eq!(tagged("Event"), [("placed ".to_string(), json!([]))]);
    telemetry.shutdown(Duration::from_secs(2)).unwrap();
}

#[test]
fn with_live_metrics_off_nothing_is_sent_and_export_goes_on() {
    let emu = emulator();
    emu.set_live(LiveControl::watched());
    let telemetry = live_builder(&emu, timings(20, 20))
        .enable_live_metrics(false)
        .build()
        .unwrap();
    assert!(!telemetry.resolved_config().enable_live_metrics);
    telemetry
        .push_span(span(SpanKind::Server, "GET", vec![], true, 5, &[]))
        .unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    std::thread::sleep(500 * MS);
    assert!(emu.live_requests().is_empty(), "{:#?}", emu.live_requests());
    assert_eq!(items(&emu).len(), 1, "export is not Live Metrics' business");
    telemetry.shutdown(Duration::from_secs(2)).unwrap();

    // A loopback ingestion endpoint without a LiveEndpoint: off too, rather
    // than pinging Microsoft's public endpoint from a local setup.
    let local = builder(&emu)
        .live_metrics_timings(timings(20, 20))
        .build()
        .unwrap();
    std::thread::sleep(300 * MS);
    assert!(emu.live_requests().is_empty());
    local.shutdown(Duration::from_secs(2)).unwrap();
}

/// A credential that always gives the same token, valid for an hour.
struct FixedToken;

impl TokenCredential for FixedToken {
    fn get_token(&self, _scopes: &[&str]) -> Result<AccessToken, CredentialError> {
        Ok(AccessToken::new(
            "live-token",
            SystemTime::now() + Duration::from_secs(3600),
        ))
    }
}

#[test]
fn with_entra_id_pings_and_posts_carry_the_token() {
    let emu = emulator();
    emu.set_auth(AuthPlan {
        tokens: vec![AcceptedToken::new("live-token", None)],
    })
    .unwrap();
    emu.set_live(LiveControl::watched());
    let telemetry = live_builder(&emu, timings(100, 50))
        .credential(FixedToken)
        .build()
        .unwrap();
    let requests = wait_for(&emu, 5 * 1000 * MS, "3 accepted posts", |r| {
        posts(r).iter().filter(|p| p.status == 200).count() >= 3
    });
    for r in &requests {
        assert_eq!(r.header("authorization"), Some("Bearer"), "{:?}", r.kind);
    }
    assert_eq!(
        requests[0].status, 200,
        "the first ping waited for the token"
    );
    telemetry.shutdown(Duration::from_secs(2)).unwrap();
}
