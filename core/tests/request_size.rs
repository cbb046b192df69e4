//! Requests stay within the ingestion request limits: a batch whose body
//! would be larger than one request may hold (bytes of JSON, or envelopes) is
//! cut into requests that fit before it is sent, so the service never answers
//! 413; an envelope too large to ever fit is dropped and counted, and the rest
//! of its batch is delivered. Against the emulator, which refuses an oversized
//! body with 413 as the service does.

mod common;

use common::{builder, items, IKEY};
use genkit_azure::opentelemetry::logs::Severity;
use genkit_azure::opentelemetry::KeyValue;
use genkit_azure::LogRecord;
use genkit_azure_emulator::{Emulator, EmulatorConfig};
use std::time::Duration;

const LIMIT: usize = 64 * 1024;

fn emulator(max_request_bytes: usize) -> Emulator {
    Emulator::start(EmulatorConfig {
        instrumentation_key: Some(IKEY.to_string()),
        max_request_bytes: Some(max_request_bytes),
        ..Default::default()
    })
    .expect("emulator starts")
}

fn log(i: usize, body_len: usize) -> LogRecord {
    LogRecord::new(Severity::Info, format!("{i:05} {}", "x".repeat(body_len)))
}

#[test]
fn the_emulator_refuses_an_oversized_body_as_the_service_does() {
    let emu = emulator(LIMIT);
    // The library told it may send 4x what the emulator takes: the first
    // request is refused with 413, and the halves a 413 leads to get through.
    let t = builder(&emu)
        .request_limits(4 * LIMIT, 32_768)
        .batch_delay(Duration::from_secs(60))
        .build()
        .unwrap();
    for i in 0..100 {
        t.emit_log(log(i, 2_000)).unwrap();
    }
    assert!(t.flush(Duration::from_secs(20)).unwrap());
    let statuses: Vec<u16> = emu.requests().iter().map(|r| r.status).collect();
    assert!(statuses.contains(&413), "{statuses:?}");
    assert_eq!(items(&emu).len(), 100);
    t.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_batch_over_the_byte_limit_is_cut_into_requests_that_fit() {
    let emu = emulator(LIMIT);
    let t = builder(&emu)
        .request_limits(LIMIT, 32_768)
        // One batch of everything: 300 logs of ~2 KB, about 10 times the limit.
        .batch_delay(Duration::from_secs(60))
        .max_batch_size(1_000)
        .build()
        .unwrap();
    for i in 0..300 {
        t.emit_log(log(i, 2_000)).unwrap();
    }
    assert!(t.flush(Duration::from_secs(20)).unwrap());
    let requests = emu.requests();
    assert!(
        requests.iter().all(|r| r.status == 200),
        "every request fits: {:?}",
        requests.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(requests.len() >= 10, "{} requests", requests.len());
    let got = items(&emu);
    assert_eq!(got.len(), 300, "all delivered, none twice");
    // In order: the cut keeps the batch's order.
    let messages: Vec<&str> = got
        .iter()
        .map(|e| e["data"]["baseData"]["message"].as_str().unwrap())
        .collect();
    let mut sorted = messages.clone();
    sorted.sort();
    assert_eq!(messages, sorted);
    let s = t.stats();
    assert_eq!((s.items_delivered, s.dropped_too_large), (300, 0));
    t.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_batch_over_the_envelope_limit_is_cut_too() {
    let emu = emulator(LIMIT);
    let t = builder(&emu)
        .request_limits(LIMIT, 10)
        .batch_delay(Duration::from_secs(60))
        .build()
        .unwrap();
    for i in 0..35 {
        t.emit_log(log(i, 10)).unwrap();
    }
    assert!(t.flush(Duration::from_secs(20)).unwrap());
    let requests = emu.requests();
    let counts: Vec<usize> = requests.iter().map(|r| r.item_count).collect();
    assert!(counts.iter().all(|&n| n <= 10), "{counts:?}");
    assert_eq!(items(&emu).len(), 35);
    t.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn an_envelope_too_large_for_any_request_is_dropped_and_counted_and_its_batch_goes_on() {
    let emu = emulator(LIMIT);
    let t = builder(&emu)
        .request_limits(LIMIT, 32_768)
        .batch_delay(Duration::from_secs(60))
        .build()
        .unwrap();
    t.emit_log(log(0, 100)).unwrap();
    // 20 properties of 8,000 characters: about 160 KB in one envelope, each
    // value within the property limit, so nothing cuts it below the limit.
    let mut huge = log(1, 100);
    huge.attributes = (0..20)
        .map(|i| KeyValue::new(format!("big.{i}"), "y".repeat(8_000)))
        .collect();
    t.emit_log(huge).unwrap();
    t.emit_log(log(2, 100)).unwrap();
    assert!(
        !t.flush(Duration::from_secs(20)).unwrap(),
        "flush says something was lost"
    );
    let requests = emu.requests();
    assert!(requests.iter().all(|r| r.status == 200), "never sent");
    let got = items(&emu);
    assert_eq!(got.len(), 2, "the two others are delivered");
    let s = t.stats();
    // Items count once, under what their batch reached furthest (delivered);
    // the envelope lost is counted as such, and the batch as failed.
    assert_eq!(s.envelopes_dropped_too_large, 1, "{s:?}");
    assert_eq!(s.batches_failed, 1, "{s:?}");
    assert_eq!(s.items_delivered, 3, "{s:?}");
    t.shutdown(Duration::from_secs(5)).unwrap();
}
