//! Custom telemetry from the Rust face: events, handled exceptions and
//! availability results through the pipeline into the emulator (which checks
//! each envelope against the service's schema), read back field by field,
//! inside an operation and outside any, and cut to the service's limits.

mod common;

use common::*;
use genkit_azure::opentelemetry::trace::{SpanId, TraceId};
use genkit_azure::opentelemetry::KeyValue;
use genkit_azure::{AvailabilityResult, CustomEvent, Error, TrackedException};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 2023-11-14T22:13:20.123456Z, and the text the envelope's `time` says.
fn at() -> (SystemTime, &'static str) {
    (
        UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789),
        "2023-11-14T22:13:20.123456Z",
    )
}

fn inside() -> (TraceId, SpanId) {
    (
        TraceId::from_bytes([0x5a; 16]),
        SpanId::from_bytes([0x6b; 8]),
    )
}

/// The tags an item adds to the resource's (cloud role, sdk version, ...).
fn own_tags(envelope: &Value) -> Value {
    let mut tags = envelope["tags"].as_object().cloned().unwrap_or_default();
    tags.retain(|k, _| k.starts_with("ai.operation."));
    Value::Object(tags)
}

fn one<'a>(envs: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(envs, kind);
    assert_eq!(found.len(), 1, "{kind}: {envs:#?}");
    found[0]
}

/// What every item carries whatever its type: the envelope's head and the
/// resource's tags.
fn assert_head(envelope: &Value, kind: &str, time: &str) {
    assert_eq!(
        envelope["name"],
        format!("Microsoft.ApplicationInsights.{kind}")
    );
    assert_eq!(envelope["time"], time);
    assert_eq!(envelope["iKey"], IKEY);
    assert_eq!(envelope["data"]["baseType"], format!("{kind}Data"));
    assert_eq!(envelope["data"]["baseData"]["ver"], 2);
    assert!(envelope.get("sampleRate").is_none(), "{envelope:#}");
    assert_eq!(tag(envelope, "ai.cloud.role"), Some("pipeline-test"));
    assert!(tag(envelope, "ai.internal.sdkVersion")
        .is_some_and(|v| v.starts_with("genkit-azure:rust:")));
}

#[test]
fn an_event_inside_an_operation_arrives_field_by_field() {
    let emu = emulator();
    let telemetry = builder(&emu).build().unwrap();
    let (time, time_text) = at();
    let (trace_id, span_id) = inside();
    let event = CustomEvent::new("order placed")
        .with_time(time)
        .with_property(KeyValue::new("tier", "gold"))
        .with_property(KeyValue::new("items", 3))
        .with_property(KeyValue::new("tier", "platinum"))
        .with_measurement("amount", 12.5)
        .with_measurement("lines", 2.0)
        .with_trace_context(trace_id, span_id)
        .with_operation_name("POST /orders");
    telemetry.track_event(event).unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());

    let envs = items(&emu);
    assert_eq!(envs.len(), 1, "{envs:#?}");
    let e = one(&envs, "Event");
    assert_head(e, "Event", time_text);
    assert_eq!(
        own_tags(e),
        json!({
            "ai.operation.id": "5a".repeat(16),
            "ai.operation.parentId": "6b".repeat(8),
            "ai.operation.name": "POST /orders",
        })
    );
    assert_eq!(
        e["data"]["baseData"],
        json!({
            "ver": 2,
            "name": "order placed",
            // The last value of a repeated key wins; every value is text.
            "properties": {"items": "3", "tier": "platinum"},
            "measurements": {"amount": 12.5, "lines": 2},
        })
    );
    let s = telemetry.stats();
    assert_eq!((s.custom_accepted, s.items_delivered), (1, 1));
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn exceptions_with_and_without_an_operation_arrive_field_by_field() {
    let emu = emulator();
    let telemetry = builder(&emu).build().unwrap();
    let (time, time_text) = at();
    let (trace_id, span_id) = inside();
    let stack = "Error: order 42 does not exist\n    at lookup (orders.rs:10)\n";
    telemetry
        .track_exception(
            TrackedException::new("OrderNotFound", "order 42 does not exist")
                .with_stack(stack)
                .with_time(time)
                .with_property(KeyValue::new("order", "42"))
                .with_trace_context(trace_id, span_id)
                .with_operation_name("lookupOrder"),
        )
        .unwrap();
    telemetry
        .track_exception(TrackedException::new("Timeout", "").with_time(time))
        .unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());

    let envs = items(&emu);
    let exceptions = of_kind(&envs, "Exception");
    assert_eq!(exceptions.len(), 2, "{envs:#?}");
    let typed = |t: &str| {
        *exceptions
            .iter()
            .find(|e| e["data"]["baseData"]["exceptions"][0]["typeName"] == t)
            .unwrap()
    };
    let inside = typed("OrderNotFound");
    assert_head(inside, "Exception", time_text);
    assert_eq!(
        own_tags(inside),
        json!({
            "ai.operation.id": "5a".repeat(16),
            "ai.operation.parentId": "6b".repeat(8),
            "ai.operation.name": "lookupOrder",
        })
    );
    // The fields the official distro writes for an exception (see
    // tests/golden/official-distro/06_*.json), without a log's severity.
    assert_eq!(
        inside["data"]["baseData"],
        json!({
            "ver": 2,
            "exceptions": [{
                "typeName": "OrderNotFound",
                "message": "order 42 does not exist",
                "hasFullStack": true,
                "stack": stack,
            }],
            "properties": {"order": "42"},
        })
    );
    let outside = typed("Timeout");
    assert_head(outside, "Exception", time_text);
    assert_eq!(own_tags(outside), json!({}), "recorded outside any span");
    assert_eq!(
        outside["data"]["baseData"],
        json!({"ver": 2, "exceptions": [{"typeName": "Timeout", "message": ""}]}),
        "no stack, so no hasFullStack"
    );
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn an_availability_result_arrives_field_by_field() {
    let emu = emulator();
    let telemetry = builder(&emu).build().unwrap();
    let (time, time_text) = at();
    telemetry
        .track_availability(
            AvailabilityResult::new("home page", false, Duration::from_micros(1_234_567))
                .with_time(time)
                .with_run_location("westeurope")
                .with_message("timed out")
                .with_property(KeyValue::new("probe", "p1"))
                .with_measurement("bytes", 0.0),
        )
        .unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());

    let envs = items(&emu);
    let a = one(&envs, "Availability");
    assert_head(a, "Availability", time_text);
    assert_eq!(own_tags(a), json!({}), "recorded outside any span");
    let mut data = a["data"]["baseData"].clone();
    let id = data
        .as_object_mut()
        .unwrap()
        .remove("id")
        .expect("an id of its own");
    assert!(
        id.as_str()
            .is_some_and(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())),
        "{id}"
    );
    assert_eq!(
        data,
        json!({
            "ver": 2,
            "name": "home page",
            "duration": "0.00:00:01.234567",
            "success": false,
            "runLocation": "westeurope",
            "message": "timed out",
            "properties": {"probe": "p1"},
            "measurements": {"bytes": 0},
        })
    );
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn oversized_fields_and_properties_are_cut_at_character_boundaries_and_counted() {
    let emu = emulator();
    let telemetry = builder(&emu).build().unwrap();
    // Two-byte characters, so a cut by bytes alone would split one.
    let long = |n: usize| "ü".repeat(n);
    let long_key = format!("k{}", "é".repeat(100));
    let big_properties = || {
        vec![
            KeyValue::new("long", long(9000)),
            KeyValue::new(long_key.clone(), "v"),
        ]
    };
    let mut event = CustomEvent::new(long(600));
    event.properties = big_properties();
    telemetry.track_event(event).unwrap();
    let mut exception =
        TrackedException::new(long(700), long(20_000)).with_stack(format!("{}end", long(17_000)));
    exception.properties = big_properties();
    telemetry.track_exception(exception).unwrap();
    let mut availability = AvailabilityResult::new(long(600), true, Duration::from_secs(1))
        .with_run_location(long(600))
        .with_message(long(5000));
    availability.properties = big_properties();
    telemetry.track_availability(availability).unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());

    let envs = items(&emu);
    assert_eq!(envs.len(), 3, "all three pass the schema: {envs:#?}");
    // Each limit in bytes, cut before the character that would straddle it.
    let cut = |v: &Value, bytes: usize| {
        let s = v.as_str().unwrap_or_else(|| panic!("{v}"));
        assert_eq!(s, "ü".repeat(bytes / 2), "cut to {bytes} bytes");
    };
    for e in &envs {
        let data = &e["data"]["baseData"];
        cut(&data["properties"]["long"], 8192);
        let key = format!("k{}", "é".repeat(74));
        assert_eq!(
            data["properties"][&key], "v",
            "a key is cut to 150 bytes: {data:#}"
        );
    }
    cut(&one(&envs, "Event")["data"]["baseData"]["name"], 512);
    let ex = &one(&envs, "Exception")["data"]["baseData"]["exceptions"][0];
    cut(&ex["typeName"], 1024);
    cut(&ex["message"], 32768);
    cut(&ex["stack"], 32768);
    let a = &one(&envs, "Availability")["data"]["baseData"];
    cut(&a["name"], 1024);
    cut(&a["runLocation"], 1024);
    cut(&a["message"], 8192);
    // 3 items x (2 properties) + the event's name + the exception's 3 fields
    // + the availability's 3 fields.
    assert_eq!(telemetry.stats().values_truncated, 13);
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn what_the_service_would_refuse_is_refused_by_field_and_nothing_is_queued() {
    let emu = emulator();
    let telemetry = builder(&emu).build().unwrap();
    let refused = |result: genkit_azure::Result<genkit_azure::Pushed>| match result {
        Err(Error::InvalidArgument(e)) => e.to_string(),
        other => panic!("expected InvalidArgument, got {other:?}"),
    };
    assert_eq!(
        refused(telemetry.track_event(CustomEvent::new(""))),
        "name: must not be empty"
    );
    assert_eq!(
        refused(telemetry.track_event(CustomEvent::new("e").with_measurement("m", f64::NAN))),
        "measurements: measurement 'm' has a non-finite value"
    );
    assert_eq!(
        refused(telemetry.track_exception(TrackedException::new("", "boom"))),
        "type_name: must not be empty"
    );
    assert_eq!(
        refused(telemetry.track_availability(
            AvailabilityResult::new("probe", true, Duration::ZERO)
                .with_measurement("m", f64::NEG_INFINITY)
        )),
        "measurements: measurement 'm' has a non-finite value"
    );
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    assert_eq!(telemetry.stats().custom_accepted, 0);
    assert!(items(&emu).is_empty());
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn inside_an_open_operation_an_item_takes_its_name_unless_it_names_one() {
    let emu = emulator();
    let telemetry = builder(&emu).build().unwrap();
    let (trace_id, span_id) = inside();
    let trace = u128::from_be_bytes(trace_id.to_bytes());
    // What a face does when the operation's root span starts.
    telemetry
        .operations()
        .root_started(trace, || "POST /orders".to_string());
    telemetry
        .track_event(CustomEvent::new("looked up").with_trace_context(trace_id, span_id))
        .unwrap();
    telemetry
        .track_exception(
            TrackedException::new("E", "named")
                .with_trace_context(trace_id, span_id)
                .with_operation_name("lookupOrder"),
        )
        .unwrap();
    let other_trace = TraceId::from_bytes([0x7c; 16]);
    telemetry
        .track_availability(
            AvailabilityResult::new("no operation open", true, Duration::ZERO)
                .with_trace_context(other_trace, span_id),
        )
        .unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());

    let envs = items(&emu);
    let name = |kind: &str| tag(one(&envs, kind), "ai.operation.name").map(str::to_string);
    assert_eq!(name("Event").as_deref(), Some("POST /orders"));
    assert_eq!(name("Exception").as_deref(), Some("lookupOrder"), "its own wins");
    assert_eq!(name("Availability"), None);
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}
