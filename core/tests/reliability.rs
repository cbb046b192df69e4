//! Nothing lost: outages, overflow bursts, crashes and shared directories,
//! against the emulator over real sockets.

mod common;

use common::*;
use genkit_azure::{AzureTelemetry, Pushed};
use genkit_azure_emulator::{Emulator, EmulatorConfig};
use std::path::Path;
use std::time::{Duration, Instant};

/// Items `0..n` each arrived once. Waits for them first (up to 20 s): the
/// emulator's item count, which the tests wait on, includes the resource's
/// `_OTELRESOURCE_` metric, so that wait can end while the last item is still
/// being resent from disk (a flush counts a spilled item as persisted).
fn assert_exactly_once(emu: &Emulator, n: usize) {
    assert_these_once(emu, &(0..n).collect::<Vec<_>>());
}

/// The items numbered `items`, and no others, each arrived once (waiting
/// for them as [`assert_exactly_once`] does).
fn assert_these_once(emu: &Emulator, items: &[usize]) {
    let all_in = |seen: &std::collections::HashMap<String, usize>| {
        items
            .iter()
            .all(|i| seen.contains_key(&format!("item {i}")))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = arrivals(&emu.envelopes());
    while !all_in(&seen) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        seen = arrivals(&emu.envelopes());
    }
    let missing: Vec<_> = items
        .iter()
        .filter(|i| !seen.contains_key(&format!("item {i}")))
        .collect();
    let twice: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        missing.is_empty(),
        "missing {} items, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(seen.len(), items.len());
}

fn pipeline_to(port: u16, dir: &Path) -> genkit_azure::AzureTelemetryBuilder {
    AzureTelemetry::builder()
        .connection_string(format!(
            "InstrumentationKey={IKEY};IngestionEndpoint=http://127.0.0.1:{port}"
        ))
        .batch_delay(Duration::from_millis(50))
        .max_batch_size(50)
        .retry_delays(Duration::from_millis(100), Duration::from_millis(500))
        // A file a killed process held comes free after this; short for the tests.
        .disk_lease(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(1)) // the lease is at least twice this
        .storage_directory(dir)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_on(port: u16) -> Emulator {
    Emulator::start(EmulatorConfig {
        instrumentation_key: Some(IKEY.into()),
        port,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn an_outage_loses_nothing_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let emu = start_on(port);
    let telemetry = pipeline_to(port, dir.path()).build().unwrap();
    let mut i = 0;
    let mut send = |until: Instant| {
        while Instant::now() < until {
            assert_eq!(telemetry.emit_log(log(i)).unwrap(), Pushed::Accepted);
            i += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    send(Instant::now() + Duration::from_millis(300));
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    let before = arrivals(&emu.envelopes());
    emu.shutdown(); // the outage: connections are refused
    send(Instant::now() + Duration::from_secs(3));
    let during = telemetry.stats();
    assert!(during.persisted_batches > 0, "{during:?}");
    let emu = start_on(port);
    send(Instant::now() + Duration::from_millis(300));
    assert!(telemetry.flush(Duration::from_secs(20)).unwrap());
    // Persisted batches are resent in the background without new traffic.
    let total = i;
    let after_outage = total - before.len();
    assert!(
        emu.wait_for_items(after_outage, Duration::from_secs(20)),
        "{:?}",
        telemetry.stats()
    );
    std::thread::sleep(Duration::from_millis(300));
    let after = arrivals(&emu.envelopes());
    for k in before.keys() {
        assert!(
            !after.contains_key(k),
            "{k} arrived before and after the outage"
        );
    }
    assert_eq!(before.len() + after.len(), total, "every item, once");
    assert!(after.values().chain(before.values()).all(|c| *c == 1));
    let stats = telemetry.stats();
    assert!(stats.resent_from_disk_batches > 0);
    assert_eq!(
        stats.dropped_queue_full + stats.dropped_backlog_full + stats.dropped_disk_full_batches,
        0
    );
    assert!(telemetry.shutdown(Duration::from_secs(5)).unwrap());
}

#[test]
fn a_burst_larger_than_the_queue_spills_to_disk_and_arrives_later() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator();
    let telemetry = pipeline_to(emu.port(), dir.path())
        .queue_capacity(8)
        .build()
        .unwrap();
    let n = 5_000;
    for i in 0..n {
        assert_eq!(
            telemetry.emit_log(log(i)).unwrap(),
            Pushed::Accepted,
            "item {i} dropped"
        );
    }
    let stats = telemetry.stats();
    assert!(
        stats.spilled_items > 0,
        "the burst should overflow an 8-slot queue: {stats:?}"
    );
    assert_eq!(stats.dropped_queue_full, 0);
    assert!(telemetry.flush(Duration::from_secs(20)).unwrap());
    assert!(
        emu.wait_for_items(n, Duration::from_secs(20)),
        "{:?}",
        telemetry.stats()
    );
    assert_exactly_once(&emu, n);
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn without_persistence_an_overflow_is_counted_as_dropped() {
    let emu = emulator();
    let telemetry = builder(&emu)
        .queue_capacity(4)
        .max_batch_size(1)
        .build()
        .unwrap();
    let dropped = (0..2_000)
        .filter(|i| telemetry.emit_log(log(*i)).unwrap() == Pushed::DroppedQueueFull)
        .count() as u64;
    assert!(telemetry.flush(Duration::from_secs(20)).unwrap() || dropped > 0);
    let stats = telemetry.stats();
    assert_eq!(stats.dropped_queue_full, dropped);
    assert_eq!(stats.spilled_items, 0);
    assert_eq!(stats.logs_accepted + dropped, 2_000);
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

/// An item carrying `bytes` of content (a prompt, a model's output).
fn large_log(i: usize, bytes: usize) -> genkit_azure::LogRecord {
    log(i).with_attribute(genkit_azure::opentelemetry::KeyValue::new(
        "genkit:output",
        "x".repeat(bytes),
    ))
}

/// The queue is bounded in bytes too: a burst of large items fills it long
/// before its item count, and the rest are dropped and counted, every
/// accepted one delivered.
#[test]
fn large_items_overflow_the_queue_by_bytes() {
    let emu = emulator();
    let telemetry = builder(&emu).max_queue_bytes(64 * 1024).build().unwrap();
    let n = 400; // 8 KiB each: 3.2 MiB, far under 65,536 items
    let accepted: Vec<usize> = (0..n)
        .filter(|i| telemetry.emit_log(large_log(*i, 8 * 1024)).unwrap() == Pushed::Accepted)
        .collect();
    let stats = telemetry.stats();
    let dropped = (n - accepted.len()) as u64;
    assert!(dropped > 0, "a 64 KiB queue held 3.2 MiB: {stats:?}");
    assert_eq!(stats.dropped_queue_full, dropped);
    assert_eq!(stats.logs_accepted, accepted.len() as u64);
    assert!(telemetry.flush(Duration::from_secs(20)).unwrap());
    assert_these_once(&emu, &accepted);
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

/// An item larger than the whole bound is taken when the queue is empty,
/// and delivered (its value cut to the service's limit by the writer).
#[test]
fn an_item_larger_than_the_byte_bound_passes_alone() {
    let emu = emulator();
    let telemetry = builder(&emu).max_queue_bytes(64 * 1024).build().unwrap();
    assert_eq!(
        telemetry.emit_log(large_log(0, 1 << 20)).unwrap(),
        Pushed::Accepted
    );
    assert!(telemetry.flush(Duration::from_secs(20)).unwrap());
    assert_eq!(arrivals(&emu.envelopes()).get("item 0"), Some(&1));
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

/// With persistence, what the byte bound refuses spills to disk and
/// arrives later, once.
#[test]
fn large_items_past_the_byte_bound_spill_to_disk() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator();
    let telemetry = pipeline_to(emu.port(), dir.path())
        .max_queue_bytes(64 * 1024)
        .build()
        .unwrap();
    let n = 400;
    let accepted: Vec<usize> = (0..n)
        .filter(|i| telemetry.emit_log(large_log(*i, 8 * 1024)).unwrap() == Pushed::Accepted)
        .collect();
    let stats = telemetry.stats();
    assert!(stats.spilled_items > 0, "{stats:?}");
    assert_eq!(stats.dropped_queue_full, (n - accepted.len()) as u64);
    assert!(telemetry.flush(Duration::from_secs(20)).unwrap());
    assert_these_once(&emu, &accepted);
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn shutdown_during_an_outage_persists_and_the_next_process_sends_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(); // nothing listens: an outage
    let first = pipeline_to(port, dir.path()).build().unwrap();
    for i in 0..200 {
        first.emit_log(log(i)).unwrap();
    }
    let start = Instant::now();
    assert!(
        first.shutdown(Duration::from_secs(3)).unwrap(),
        "persisted counts as settled: {:?}",
        first.stats()
    );
    assert!(start.elapsed() < Duration::from_secs(4));
    assert!(first.stats().persisted_batches > 0);
    assert_eq!(first.stats().dropped_shut_down, 0);

    let emu = start_on(port);
    let second = pipeline_to(port, dir.path()).build().unwrap();
    assert!(
        emu.wait_for_items(200, Duration::from_secs(20)),
        "{:?}",
        second.stats()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_exactly_once(&emu, 200);
    second.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn the_disk_cap_drops_the_oldest_first_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let telemetry = pipeline_to(port, dir.path())
        .max_disk_bytes(4_000)
        .max_batch_size(10)
        .build()
        .unwrap();
    for i in 0..400 {
        telemetry.emit_log(log(i)).unwrap();
        if i % 10 == 9 {
            assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
        }
    }
    let stats = telemetry.stats();
    assert!(stats.dropped_disk_full_batches > 0, "{stats:?}");
    let emu = start_on(port);
    assert!(emu.wait_for_items(10, Duration::from_secs(20)));
    std::thread::sleep(Duration::from_millis(800));
    let seen = arrivals(&emu.envelopes());
    assert!(seen.contains_key("item 399"), "the newest survive");
    assert!(!seen.contains_key("item 0"), "the oldest went first");
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn an_unusable_directory_is_reported_and_export_goes_on() {
    use std::sync::{Arc, Mutex};
    let said: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&said);
    genkit_azure::face::set_diagnostic_sink(Some(Arc::new(move |m: &str| {
        sink.lock().unwrap().push(m.to_string())
    })));
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-directory");
    std::fs::write(&file, b"").unwrap();
    let emu = emulator();
    let telemetry = builder(&emu)
        .storage_directory(file.join("store"))
        .build()
        .unwrap();
    telemetry.emit_log(log(0)).unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    assert_exactly_once(&emu, 1);
    genkit_azure::face::set_diagnostic_sink(None);
    let said = said.lock().unwrap();
    assert!(
        said.iter()
            .any(|m| m.contains("disk persistence is off") && m.contains("not-a-directory")),
        "{said:?}"
    );
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

/// The child half of the multi-process tests: persists 150 items during an
/// outage, then keeps running (and draining the directory) until killed. Runs
/// only when a parent test re-executes this binary with the variables set.
#[test]
fn persisting_child() {
    let Ok(dir) = std::env::var("GENKIT_AZURE_CHILD_DIR") else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap().parse::<usize>().unwrap();
    let (port, first) = (
        var("GENKIT_AZURE_CHILD_PORT") as u16,
        var("GENKIT_AZURE_CHILD_FIRST"),
    );
    let telemetry = pipeline_to(port, Path::new(&dir)).build().unwrap();
    for i in first..first + 150 {
        telemetry.emit_log(log(i)).unwrap();
    }
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    // On a line of its own: libtest has printed "test persisting_child ... ".
    println!("\nPERSISTED {}", telemetry.stats().persisted_batches);
    std::thread::sleep(Duration::from_secs(120)); // killed long before this
}

/// Starts `persisting_child` in a new process and waits until it persisted.
fn spawn_persisting_child(dir: &Path, port: u16, first: usize) -> std::process::Child {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "persisting_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GENKIT_AZURE_CHILD_DIR", dir)
        .env("GENKIT_AZURE_CHILD_PORT", port.to_string())
        .env("GENKIT_AZURE_CHILD_FIRST", first.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("PERSISTED "))
        .expect("the child persisted");
    assert_ne!(line, "PERSISTED 0");
    child
}

#[test]
fn after_kill_9_the_next_process_sends_what_the_dead_one_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = spawn_persisting_child(dir.path(), port, 0);
    child.kill().unwrap(); // SIGKILL: no shutdown, no cleanup
    child.wait().unwrap();

    let emu = start_on(port);
    let next = pipeline_to(port, dir.path()).build().unwrap();
    assert!(
        emu.wait_for_items(150, Duration::from_secs(20)),
        "{:?}",
        next.stats()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_exactly_once(&emu, 150);
    next.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn two_processes_sharing_a_directory_send_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(); // an outage until the emulator starts below
    let children = [0, 150].map(|first| spawn_persisting_child(dir.path(), port, first));
    // Both processes are alive and both drain the one directory now.
    let emu = start_on(port);
    let arrived = emu.wait_for_items(300, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    for mut child in children {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(arrived);
    assert_exactly_once(&emu, 300);
}

#[test]
fn without_persistence_a_shutdown_in_an_outage_counts_what_it_could_not_send() {
    let port = free_port(); // nothing listens
    let telemetry = AzureTelemetry::builder()
        .connection_string(format!(
            "InstrumentationKey={IKEY};IngestionEndpoint=http://127.0.0.1:{port}"
        ))
        .batch_delay(Duration::from_millis(20))
        .disable_storage()
        .build()
        .unwrap();
    for i in 0..10 {
        telemetry.emit_log(log(i)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200)); // the first attempt fails
    let started = Instant::now();
    assert!(!telemetry.shutdown(Duration::from_secs(1)).unwrap());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let stats = telemetry.stats();
    assert_eq!(stats.dropped_shut_down, 10, "{stats:?}");
    assert_eq!(stats.persisted_batches, 0);
}
