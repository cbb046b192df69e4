//! The fault suite: the emulator misbehaves on purpose (outages, 429 with
//! Retry-After, partial success, slow answers) and the pipeline must deliver
//! everything exactly once, honour the server, and never slow the host.

mod common;

use common::*;
use genkit_azure::Pushed;
use genkit_azure_emulator::{FaultPlan, Step};
use std::time::{Duration, Instant};

#[test]
fn a_30_second_outage_under_steady_load_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator();
    let telemetry = builder(&emu)
        .storage_directory(dir.path())
        .max_batch_size(100)
        .retry_delays(Duration::from_millis(200), Duration::from_secs(2))
        .build()
        .unwrap();
    let mut sent = 0;
    let mut load = |for_how_long: Duration| {
        let until = Instant::now() + for_how_long;
        while Instant::now() < until {
            assert_eq!(telemetry.emit_log(log(sent)).unwrap(), Pushed::Accepted);
            sent += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    load(Duration::from_secs(1));
    emu.set_faults(FaultPlan::outage(Duration::from_secs(30)))
        .unwrap();
    load(Duration::from_secs(31));
    load(Duration::from_secs(1));
    assert!(telemetry.flush(Duration::from_secs(30)).unwrap());
    assert!(
        emu.wait_for_items(sent, Duration::from_secs(30)),
        "{:?}",
        telemetry.stats()
    );
    std::thread::sleep(Duration::from_millis(500));
    let seen = arrivals(&emu.envelopes());
    assert_eq!(seen.len(), sent, "every item arrived");
    assert!(seen.values().all(|c| *c == 1), "nothing twice");
    let stats = telemetry.stats();
    assert!(
        stats.persisted_batches > 0 && stats.resent_from_disk_batches > 0,
        "{stats:?}"
    );
    assert_eq!(
        stats.dropped_queue_full + stats.dropped_disk_full_batches + stats.dropped_backlog_full,
        0
    );
    println!("FIGURES outage30s sent={sent} delivered={} duplicated=0 dropped=0 persisted_batches={} resent_from_disk={} http_requests={}",
        seen.len(), stats.persisted_batches, stats.resent_from_disk_batches, stats.http_requests);
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn retry_after_is_honoured_exactly() {
    let emu = emulator();
    let telemetry = builder(&emu).build().unwrap(); // memory backlog: flush waits for delivery
    emu.set_faults(FaultPlan::sequence([Step::retry_after(429, "5")]))
        .unwrap();
    telemetry.emit_log(log(0)).unwrap();
    assert!(telemetry.flush(Duration::from_secs(20)).unwrap());
    let at = emu.track_requests_at();
    assert_eq!(at.len(), 2, "one refused request, one retry");
    let waited = at[1].duration_since(at[0]);
    assert!(waited >= Duration::from_secs(5), "retried after {waited:?}");
    assert_eq!(arrivals(&emu.envelopes())["item 0"], 1);
    assert_eq!(telemetry.stats().retries, 1);
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_partial_success_resends_exactly_the_retryable_items() {
    let emu = emulator();
    let telemetry = builder(&emu).max_batch_size(5).build().unwrap();
    emu.set_faults(FaultPlan::sequence([Step::partial([
        (1, 500),
        (3, 503),
        (4, 400),
    ])]))
    .unwrap();
    for i in 0..5 {
        telemetry.emit_log(log(i)).unwrap();
    }
    assert!(
        !telemetry.flush(Duration::from_secs(20)).unwrap(),
        "one item was rejected for good, so not everything was delivered"
    );
    let requests = emu.requests();
    assert_eq!(requests.len(), 2);
    // Five logs, then the resource's `_OTELRESOURCE_` metric (index 5).
    assert_eq!((requests[0].status, requests[0].item_count), (206, 6));
    assert_eq!(
        (requests[1].status, requests[1].item_count),
        (200, 2),
        "only the two retryable items"
    );
    let seen = arrivals(&items(&emu));
    assert_eq!(seen.len(), 4);
    assert!((0..4).all(|i| seen[&format!("item {i}")] == 1), "{seen:?}");
    assert!(!seen.contains_key("item 4"));
    let stats = telemetry.stats();
    assert_eq!(stats.envelopes_rejected, 1);
    assert_eq!(telemetry.rejected_by_status(), vec![(400, 1)]);
    println!("FIGURES partial206 sent=5 delivered=4 duplicated=0 rejected_400=1 resent=2");
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

/// Median time of `n` pushes, in nanoseconds.
fn push_time(telemetry: &genkit_azure::AzureTelemetry, n: usize) -> u128 {
    let mut times: Vec<u128> = (0..n)
        .map(|i| {
            let t = Instant::now();
            telemetry.emit_log(log(i)).unwrap();
            t.elapsed().as_nanos()
        })
        .collect();
    times.sort_unstable();
    times[n / 2]
}

#[test]
fn a_slow_server_does_not_slow_the_host() {
    let fast_emu = emulator();
    let fast = builder(&fast_emu).max_batch_size(50).build().unwrap();
    let fast_median = push_time(&fast, 2_000);

    let slow_emu = emulator();
    slow_emu
        .set_faults(FaultPlan::normal().with_delay(3_000))
        .unwrap();
    let slow = builder(&slow_emu).max_batch_size(50).build().unwrap();
    let slow_median = push_time(&slow, 2_000);

    // A push that waited on the network would take seconds; compare as a ratio.
    let ratio = slow_median as f64 / fast_median.max(1) as f64;
    println!("FIGURES slow-server push median fast={fast_median}ns slow={slow_median}ns ratio={ratio:.2}");
    assert!(
        ratio < 10.0,
        "pushes got {ratio:.1}x slower against a slow server"
    );
    assert!(fast.shutdown(Duration::from_secs(5)).unwrap());
    let _ = slow.shutdown(Duration::from_millis(500));
}

#[test]
fn a_redirect_is_followed_and_remembered() {
    let target = emulator();
    let origin = emulator();
    let location = format!("{}/v2.1/track", target.base_url());
    origin
        .set_faults(FaultPlan::sequence([Step::redirect(307, location)]))
        .unwrap();
    let telemetry = builder(&origin).build().unwrap();
    telemetry.emit_log(log(0)).unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    telemetry.emit_log(log(1)).unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    let seen = arrivals(&target.envelopes());
    assert_eq!((seen["item 0"], seen["item 1"]), (1, 1));
    assert_eq!(
        origin.requests().len(),
        1,
        "the second batch went straight to the new host"
    );
    assert!(origin.envelopes().is_empty());
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}
