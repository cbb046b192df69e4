//! Answers a buggy or hostile ingestion endpoint may give, through the public
//! API against the emulator over real sockets: absurd `Retry-After` values,
//! authentication refusals, requests too large, whole-request rejections.
//! Delivery must go on, and every item must be accounted for.

mod common;

use common::*;
use genkit_azure::opentelemetry::logs::Severity;
use genkit_azure::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use genkit_azure::opentelemetry_sdk::trace::SdkTracerProvider;
use genkit_azure::{AzureSpanProcessor, AzureTelemetry, LogRecord, Stats};
use genkit_azure_emulator::{Emulator, FaultPlan, Step};
use std::path::Path;
use std::time::Duration;

fn assert_exactly_once(emu: &Emulator, range: std::ops::Range<usize>) {
    let seen = arrivals(&emu.envelopes());
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

/// Sends one log and forgets it on the emulator's side, so what a test then
/// sends goes without what may ride with a pipeline's first request (a
/// resource metric), and request sizes are exactly the test's.
fn warm_up(telemetry: &AzureTelemetry, emu: &Emulator) {
    telemetry
        .emit_log(LogRecord::new(Severity::Info, "warm-up"))
        .unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    emu.reset();
}

/// Builds `builder` with batches of four items, warms it up, then has
/// `steps` answer the next requests it sends, one each.
fn four_at_a_time(
    emu: &Emulator,
    builder: genkit_azure::AzureTelemetryBuilder,
    steps: impl IntoIterator<Item = Step>,
) -> AzureTelemetry {
    let telemetry = builder
        .max_batch_size(4)
        .batch_delay(Duration::from_secs(5))
        .build()
        .unwrap();
    warm_up(&telemetry, emu);
    emu.set_faults(FaultPlan::sequence(steps)).unwrap();
    telemetry
}

/// Each request the emulator saw: the status it answered, the items it held.
fn answers(emu: &Emulator) -> Vec<(u16, usize)> {
    emu.requests()
        .iter()
        .map(|r| (r.status, r.item_count))
        .collect()
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

/// Once everything settled: accepted == delivered + persisted + rejected + dropped.
fn assert_accounted(telemetry: &AzureTelemetry) -> Stats {
    let s = telemetry.stats();
    assert_eq!(
        s.spans_accepted + s.logs_accepted,
        finished(&s),
        "every accepted item in exactly one counter: {s:#?}"
    );
    s
}

#[test]
fn a_refused_key_keeps_the_data_and_delivers_it_once_when_fixed() {
    for status in [401, 403] {
        let emu = emulator();
        // The long wait after a refusal is six of the longest retry delays.
        let telemetry = fast(&emu).max_batch_size(5).build().unwrap();
        emu.set_faults(FaultPlan::statuses([status, status]))
            .unwrap();
        emit(&telemetry, 0..10);
        assert!(
            telemetry.flush(Duration::from_secs(10)).unwrap(),
            "{status}: {:?}",
            telemetry.stats()
        );
        assert_exactly_once(&emu, 0..10);
        let s = assert_accounted(&telemetry);
        assert_eq!((s.items_delivered, s.items_rejected), (10, 0), "{status}");
        assert_eq!(s.batches_rejected, 0, "{status}");
        assert!(telemetry.requests_rejected_by_status().is_empty());
        telemetry.shutdown(Duration::from_secs(5)).unwrap();
    }
}

#[test]
fn a_refused_key_with_persistence_keeps_the_data_on_disk_until_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator();
    let telemetry = with_disk(&emu, dir.path())
        .max_batch_size(5)
        .build()
        .unwrap();
    emu.set_faults(FaultPlan::always(401)).unwrap();
    emit(&telemetry, 0..10);
    assert!(
        telemetry.flush(Duration::from_secs(10)).unwrap(),
        "durable on disk"
    );
    std::thread::sleep(Duration::from_millis(200)); // a few refused retries
    assert!(emu.envelopes().is_empty());
    let s = assert_accounted(&telemetry);
    assert_eq!(s.items_persisted, 10, "{s:?}");
    emu.clear_faults(); // the operator fixed the key
    assert!(
        emu.wait_for_items(10, Duration::from_secs(15)),
        "{:?}",
        telemetry.stats()
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_exactly_once(&emu, 0..10);
    assert_eq!(telemetry.stats().batches_rejected, 0);
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_request_too_large_is_split_until_its_halves_pass() {
    let emu = emulator();
    let telemetry = fast(&emu)
        .max_batch_size(8)
        .batch_delay(Duration::from_secs(5))
        .build()
        .unwrap();
    warm_up(&telemetry, &emu);
    // The whole batch, its first half and its first quarter are too large.
    emu.set_faults(FaultPlan::statuses([413, 413, 413]))
        .unwrap();
    emit(&telemetry, 0..8); // the eighth item closes the batch
    assert!(
        telemetry.flush(Duration::from_secs(10)).unwrap(),
        "{:?}",
        telemetry.stats()
    );
    assert_exactly_once(&emu, 0..8);
    assert_eq!(
        answers(&emu),
        [
            (413, 8),
            (413, 4),
            (413, 2),
            (200, 1),
            (200, 1),
            (200, 2),
            (200, 4)
        ],
        "halves, first half first"
    );
    let s = assert_accounted(&telemetry);
    assert_eq!(s.items_delivered, 1 + 8);
    assert_eq!((s.envelopes_dropped_too_large, s.dropped_too_large), (0, 0));
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn an_envelope_too_large_even_alone_is_dropped_and_counted() {
    let emu = emulator();
    let telemetry = fast(&emu)
        .max_batch_size(3)
        .batch_delay(Duration::from_secs(5))
        .build()
        .unwrap();
    warm_up(&telemetry, &emu);
    emu.set_faults(FaultPlan::always(413)).unwrap();
    emit(&telemetry, 0..3);
    assert!(
        !telemetry.flush(Duration::from_secs(10)).unwrap(),
        "nothing was delivered"
    );
    // 3 -> 1 + 2 -> 1 + 1: five requests, three single envelopes dropped.
    assert_eq!(emu.requests().len(), 5);
    let s = assert_accounted(&telemetry);
    assert_eq!((s.envelopes_dropped_too_large, s.dropped_too_large), (3, 3));
    // Delivery goes on for what fits.
    emu.clear_faults();
    emit(&telemetry, 3..6);
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    assert_exactly_once(&emu, 3..6);
    assert_accounted(&telemetry);
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

/// A 206 that names one envelope twice: it is sent again once, not twice
/// (and a service that kept answering so could not make each retry twice
/// the size of the one before).
#[test]
fn an_envelope_a_partial_answer_names_twice_is_sent_again_once() {
    let emu = emulator();
    let twice = r#"{"itemsReceived":4,"itemsAccepted":3,"errors":[
        {"index":1,"statusCode":500,"message":"busy"},{"index":1,"statusCode":500,"message":"busy"}]}"#;
    let telemetry = four_at_a_time(
        &emu,
        fast(&emu),
        [Step::partial([(1, 500)]).with_body(twice)],
    );
    emit(&telemetry, 0..4);
    assert!(
        telemetry.flush(Duration::from_secs(10)).unwrap(),
        "{:?}",
        telemetry.stats()
    );
    assert_exactly_once(&emu, 0..4);
    assert_eq!(answers(&emu), [(206, 4), (200, 1)]);
    let s = assert_accounted(&telemetry);
    assert_eq!((s.items_delivered, s.envelopes_rejected), (1 + 4, 0));
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

/// A 206 whose item errors cannot all be read (a status past 65,535, which
/// would wrap to 500 or 400, an error without an index) is an unreadable
/// answer: the whole request goes again, so nothing the service may not
/// have kept is lost, and no envelope is counted as rejected with a status
/// the service never gave.
#[test]
fn a_partial_answer_with_an_unreadable_item_error_sends_the_request_again() {
    for odd in [
        r#"{"index":1,"statusCode":66036}"#,
        r#"{"index":1,"statusCode":65936}"#,
        r#"{"statusCode":500}"#,
    ] {
        let emu = emulator();
        let body = format!(r#"{{"itemsReceived":4,"itemsAccepted":3,"errors":[{odd}]}}"#);
        let telemetry = four_at_a_time(
            &emu,
            fast(&emu),
            [Step::partial([(1, 500)]).with_body(body)],
        );
        emit(&telemetry, 0..4);
        assert!(telemetry.flush(Duration::from_secs(10)).unwrap(), "{odd}");
        let seen = arrivals(&emu.envelopes());
        assert_eq!(seen.get("item 1"), Some(&1), "{odd}: {seen:?}");
        for i in [0, 2, 3] {
            assert_eq!(seen.get(&format!("item {i}")), Some(&2), "{odd}: {seen:?}");
        }
        let s = assert_accounted(&telemetry);
        assert_eq!(
            (s.items_delivered, s.envelopes_rejected),
            (1 + 4, 0),
            "{odd}"
        );
        assert!(telemetry.envelopes_rejected_by_status().is_empty(), "{odd}");
        telemetry.shutdown(Duration::from_secs(5)).unwrap();
    }
}

/// Answers claiming more envelopes received and accepted than the request
/// held (two of them would wrap a `u64`) count only what was sent.
#[test]
fn an_answer_claiming_more_than_was_sent_counts_only_what_was_sent() {
    let emu = emulator();
    let absurd = format!(
        r#"{{"itemsReceived":{0},"itemsAccepted":{0},"errors":[]}}"#,
        u64::MAX
    );
    let telemetry = four_at_a_time(
        &emu,
        fast(&emu),
        [
            Step::ok().with_body(absurd.clone()),
            Step::ok().with_body(absurd),
        ],
    );
    let before = telemetry.stats();
    emit(&telemetry, 0..8);
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    assert_exactly_once(&emu, 0..8);
    let s = assert_accounted(&telemetry);
    assert_eq!(
        (
            s.envelopes_sent - before.envelopes_sent,
            s.envelopes_delivered - before.envelopes_delivered
        ),
        (8, 8),
        "{s:?}"
    );
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

/// An answer whose body never ends is read only as far as the service's
/// longest answer could go: the request counts as answered, at once, not
/// when the request's timeout runs out (nor never, with no timeout).
#[test]
fn an_answer_whose_body_never_ends_is_cut_off_and_the_data_counts_as_delivered() {
    let emu = emulator();
    let telemetry = four_at_a_time(
        &emu,
        fast(&emu).request_timeout(Duration::from_secs(120)),
        [Step::ok().with_endless_body()],
    );
    emit(&telemetry, 0..4);
    assert!(
        telemetry.flush(Duration::from_secs(20)).unwrap(),
        "{:?}",
        telemetry.stats()
    );
    assert_exactly_once(&emu, 0..4);
    emit(&telemetry, 4..8);
    assert!(telemetry.flush(Duration::from_secs(20)).unwrap());
    assert_exactly_once(&emu, 0..8);
    let s = assert_accounted(&telemetry);
    assert_eq!(s.items_delivered, 1 + 8);
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_rejected_request_counts_each_of_its_items() {
    let emu = emulator();
    let telemetry = fast(&emu)
        .max_batch_size(30)
        .batch_delay(Duration::from_secs(5))
        .build()
        .unwrap();
    emu.set_faults(FaultPlan::statuses([400])).unwrap();
    emit(&telemetry, 0..30);
    assert!(!telemetry.flush(Duration::from_secs(10)).unwrap());
    let s = assert_accounted(&telemetry);
    assert_eq!((s.logs_accepted, s.items_rejected), (30, 30), "{s:?}");
    assert_eq!((s.batches_rejected, s.envelopes_rejected), (1, 0));
    assert_eq!(telemetry.requests_rejected_by_status(), [(400, 1)]);
    assert!(telemetry.envelopes_rejected_by_status().is_empty());
    assert!(emu.envelopes().is_empty());
    emit(&telemetry, 30..35);
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    let s = assert_accounted(&telemetry);
    assert_eq!((s.items_delivered, s.items_rejected), (5, 30));
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

/// Every answer the service may give, one after another, to spans and logs
/// in the same run: after each flush every accepted item is in exactly one
/// counter, and envelopes and whole requests are counted apart.
#[test]
fn every_item_is_accounted_for_whatever_the_service_answers() {
    let emu = emulator();
    let telemetry = fast(&emu)
        .max_batch_size(4)
        .request_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(AzureSpanProcessor::new(telemetry.clone()))
        .build();
    let tracer = provider.tracer("accounting");
    let answers: Vec<Step> = vec![
        Step::ok(),
        Step::partial([(0, 500), (1, 400)]),
        Step::status(400),
        Step::status(401),
        Step::status(403),
        Step::status(404),
        Step::status(413),
        Step::status(429),
        Step::status(500),
        Step::reset(),
    ];
    let mut i = 0;
    for answer in answers {
        let label = format!("{answer:?}");
        emu.set_faults(FaultPlan::sequence([answer])).unwrap();
        for _ in 0..4 {
            telemetry.emit_log(log(i)).unwrap();
            tracer.start(format!("span {i}")).end();
            i += 1;
        }
        telemetry.flush(Duration::from_secs(10)).unwrap();
        let s = assert_accounted(&telemetry);
        assert_eq!(s.spans_accepted + s.logs_accepted, 2 * i as u64, "{label}");
    }
    let s = assert_accounted(&telemetry);
    // Two whole requests rejected for good (400, 404), one envelope (a 206's 400).
    let requests = telemetry.requests_rejected_by_status();
    assert_eq!(requests, [(400, 1), (404, 1)], "{s:?}");
    assert_eq!(telemetry.envelopes_rejected_by_status(), [(400, 1)]);
    assert_eq!(s.batches_rejected, 2);
    assert_eq!(s.envelopes_rejected, 1);
    assert_eq!(s.items_rejected, 8, "the two rejected batches' items");
    assert_eq!(
        s.items_delivered + s.items_rejected,
        s.spans_accepted + s.logs_accepted
    );
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}
