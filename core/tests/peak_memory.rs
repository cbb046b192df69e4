//! Memory is bounded by configuration: a burst of 200,000 spans and logs (about
//! 250 MB of data) into a pipeline with a small queue, small batches and a
//! slow endpoint (the emulator answering after 2 s) raises the process's peak
//! RSS by no more than the bound the README states, derived from the
//! configuration. Measured in a child process (this test binary run again),
//! so no other test's memory counts: the child reads its own `VmRSS` before
//! the burst and `VmHWM` (the peak) after it from `/proc/self/status`.

mod common;

use common::{emulator, IKEY};
use genkit_azure::opentelemetry::logs::Severity;
use genkit_azure::opentelemetry::trace::SpanKind;
use genkit_azure::{AzureTelemetry, LogRecord, SpanPacker};
use genkit_azure_emulator::{FaultPlan, Step};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const CHILD: &str = "GENKIT_AZURE_PEAK_MEMORY_CHILD";
const ITEMS: usize = 200_000;
const VALUE_BYTES: usize = 1_200;

// The configuration the bound is derived from.
const QUEUE_CAPACITY: usize = 1_024;
const MAX_BATCH_SIZE: usize = 128;
const MAX_BATCH_BYTES: usize = 64 * 1024;
const MAX_BACKLOG_BYTES: u64 = 1024 * 1024;
const MAX_CONCURRENT_EXPORTS: usize = 2;
const WORKER_THREADS: usize = 2;

/// The README's bound on what a burst adds to peak RSS: every queued item
/// at its size plus 512 bytes; for each batch being gathered, mapped or sent
/// (one gathering, one per worker thread mapping, one per export in
/// flight), four times `max_batch_bytes` (its items, their JSON, gzip's
/// buffers); the memory backlog; and 16 MiB for the runtime's threads and
/// the allocator's arenas.
fn bound(item_bytes: usize) -> usize {
    let queue = QUEUE_CAPACITY * (item_bytes + 512);
    let batches = (1 + WORKER_THREADS + MAX_CONCURRENT_EXPORTS) * 4 * MAX_BATCH_BYTES;
    queue + batches + MAX_BACKLOG_BYTES as usize + 16 * 1024 * 1024
}

fn status_kb(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// The burst, in the child. Prints `baseline_kb peak_kb dropped`.
#[test]
fn child_burst() {
    let Some(port) = std::env::var(CHILD).ok() else {
        return; // only as the child of `a_burst_far_past_capacity_stays_within_the_bound`
    };
    let t = AzureTelemetry::builder()
        .connection_string(format!(
            "InstrumentationKey={IKEY};IngestionEndpoint=http://127.0.0.1:{port}/"
        ))
        .service_name("peak-memory")
        .disable_storage()
        .enable_live_metrics(false)
        .queue_capacity(QUEUE_CAPACITY)
        .max_batch_size(MAX_BATCH_SIZE)
        .max_batch_bytes(MAX_BATCH_BYTES)
        .max_backlog_bytes(MAX_BACKLOG_BYTES)
        .max_concurrent_exports(MAX_CONCURRENT_EXPORTS)
        .worker_threads(WORKER_THREADS)
        .batch_delay(Duration::from_millis(10))
        .build()
        .unwrap();
    // Warm up: the runtime's threads and first allocations are the baseline.
    for _ in 0..QUEUE_CAPACITY {
        t.emit_log(LogRecord::new(Severity::Info, "warm up"))
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let baseline = status_kb("VmRSS:");
    let value = "v".repeat(VALUE_BYTES);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    for i in 0..ITEMS {
        if i % 2 == 0 {
            let mut record = LogRecord::new(Severity::Warn, value.clone());
            record.attributes = vec![genkit_azure::opentelemetry::KeyValue::new(
                "request.id",
                i as i64,
            )];
            let _ = t.emit_log(record).unwrap();
        } else {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            let mut p = SpanPacker::new(id, [1; 8], None, false, SpanKind::Internal, now, now + 1);
            p.name("burst");
            p.attribute_str("genkit:output", &value);
            let _ = t.push_packed(p.finish().unwrap()).unwrap();
        }
    }
    // Let the pipeline work through what it kept (the slow endpoint holds
    // each request 2 s), then read the peak.
    let _ = t.flush(Duration::from_secs(5));
    let peak = status_kb("VmHWM:");
    let s = t.stats();
    println!(
        "PEAK baseline_kb={baseline} peak_kb={peak} dropped={} accepted={}",
        s.dropped_queue_full,
        s.spans_accepted + s.logs_accepted
    );
    t.shutdown(Duration::from_millis(500)).unwrap();
}

#[test]
fn a_burst_far_past_capacity_stays_within_the_bound() {
    let emu = emulator();
    emu.set_faults(FaultPlan::always(Step::ok().with_delay(2_000)))
        .unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_burst", "--nocapture", "--test-threads=1"])
        .env(CHILD, emu.port().to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The harness may print `test child_burst ... ` on the same line first.
    let line = stdout
        .lines()
        .find_map(|l| l.find("PEAK ").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("the child said nothing: {stdout}"));
    let field = |name: &str| -> usize {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    let (baseline, peak, dropped) = (field("baseline_kb"), field("peak_kb"), field("dropped"));
    let grew = (peak.saturating_sub(baseline)) * 1024;
    let item_bytes = VALUE_BYTES + 200;
    let limit = bound(item_bytes);
    eprintln!(
        "peak RSS grew {} KiB over a {} KiB baseline; bound {} KiB; {dropped} of {ITEMS} dropped",
        grew / 1024,
        baseline,
        limit / 1024
    );
    assert!(
        dropped as f64 > ITEMS as f64 * 0.5,
        "the burst went far past capacity ({line})"
    );
    assert!(
        grew <= limit,
        "peak RSS grew {grew} bytes, over the bound of {limit} ({line})"
    );
}
