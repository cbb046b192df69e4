//! Answers a buggy or hostile ingestion endpoint may give, through the public
//! API against the emulator over real sockets: absurd `Retry-After` values,
//! authentication refusals, requests too large, whole-request rejections.
//! Delivery must go on, and every item must be accounted for.

mod common;

use common::*;
use genkit_azure::opentelemetry::logs::Severity;
use genkit_azure::{AzureTelemetry, LogRecord};
use genkit_azure_emulator::{Emulator, FaultPlan, Step};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

fn log(i: usize) -> LogRecord {
    LogRecord::new(Severity::Info, format!("item {i}"))
}

/// How many times each message arrived.
fn arrivals(emu: &Emulator) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for e in emu.envelopes() {
        if let Some(m) = e["data"]["baseData"]["message"].as_str() {
            *seen.entry(m.to_string()).or_default() += 1;
        }
    }
    seen
}

fn assert_exactly_once(emu: &Emulator, range: std::ops::Range<usize>) {
    let seen = arrivals(emu);
    for i in range.clone() {
        assert_eq!(
            seen.get(&format!("item {i}")),
            Some(&1),
            "item {i} must arrive exactly once: {seen:?}"
        );
    }
    assert_eq!(seen.len(), range.len(), "nothing else arrived: {seen:?}");
}

/// Millisecond retries, so a test never waits for a real backoff.
fn fast(emu: &Emulator) -> genkit_azure::AzureTelemetryBuilder {
    builder(emu).retry_delays(Duration::from_millis(1), Duration::from_millis(5))
}

fn with_disk(emu: &Emulator, dir: &Path) -> genkit_azure::AzureTelemetryBuilder {
    fast(emu)
        .storage_directory(dir)
        .request_timeout(Duration::from_secs(1))
}

fn emit(telemetry: &AzureTelemetry, range: std::ops::Range<usize>) {
    for i in range {
        telemetry.emit_log(log(i)).unwrap();
    }
}

#[test]
fn a_retry_after_of_zero_negative_or_garbage_is_retried_and_delivered() {
    for value in ["0", "-5", "soon", "1e", "Tue, 99 Foo 2026"] {
        let emu = emulator();
        let telemetry = fast(&emu).max_batch_size(5).build().unwrap();
        emu.set_faults(FaultPlan::sequence([Step::retry_after(429, value)]))
            .unwrap_or_else(|e| panic!("{value:?}: {e}"));
        emit(&telemetry, 0..10);
        assert!(
            telemetry.flush(Duration::from_secs(10)).unwrap(),
            "{value:?}: {:?}",
            telemetry.stats()
        );
        emit(&telemetry, 10..15);
        assert!(
            telemetry.flush(Duration::from_secs(10)).unwrap(),
            "{value:?}"
        );
        assert_exactly_once(&emu, 0..15);
        let stats = telemetry.stats();
        assert!(stats.retries >= 1, "{value:?}: {stats:?}");
        assert_eq!(stats.retry_driver_restarts, 0);
        telemetry.shutdown(Duration::from_secs(5)).unwrap();
    }
}

/// `Retry-After: 10000000000` or `u64::MAX` used to overflow the clock (a
/// panic that stopped delivery for good) or close the endpoint for centuries.
/// Now the wait is at most an hour: the batches wait on disk meanwhile, every
/// flush succeeds, and the next process sends them.
#[test]
fn an_absurd_retry_after_neither_panics_nor_loses_anything() {
    for value in ["10000000000", "18446744073709551615"] {
        let dir = tempfile::tempdir().unwrap();
        let emu = emulator();
        let first = with_disk(&emu, dir.path())
            .max_batch_size(5)
            .build()
            .unwrap();
        emu.set_faults(FaultPlan::sequence([Step::retry_after(429, value)]))
            .unwrap();
        emit(&first, 0..10);
        assert!(
            first.flush(Duration::from_secs(10)).unwrap(),
            "{value}: {:?}",
            first.stats()
        );
        emit(&first, 10..15);
        assert!(first.flush(Duration::from_secs(10)).unwrap(), "{value}");
        let stats = first.stats();
        assert_eq!(stats.retry_driver_restarts, 0, "{value}: {stats:?}");
        assert!(first.shutdown(Duration::from_secs(5)).unwrap(), "{value}");

        let next = with_disk(&emu, dir.path()).build().unwrap();
        assert!(
            emu.wait_for_items(15, Duration::from_secs(10)),
            "{value}: {:?}",
            next.stats()
        );
        std::thread::sleep(Duration::from_millis(100));
        assert_exactly_once(&emu, 0..15);
        next.shutdown(Duration::from_secs(5)).unwrap();
    }
}
