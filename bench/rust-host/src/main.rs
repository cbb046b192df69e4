//! `genkit-azure-bench`: the Rust host of the benchmarks (driven by bench/run.py).
//!
//! ```text
//! genkit-azure-bench --variant ours|ours-default-queue|ours-spans-only|crate-bsp
//!                    [--mode throughput|queued-memory] [--spans N]
//!                    [--endpoint http://127.0.0.1:PORT] [--ikey KEY] [--batch-size N]
//! genkit-azure-bench --mode encode [--spans N] [--reps N]
//!                    [--batch-sizes 64,256,1024] [--levels 0-9]
//! ```
//!
//! Both variants trace the same workload through the OpenTelemetry SDK's
//! `SdkTracerProvider` (traces of 1 SERVER span and 4 INTERNAL/CLIENT
//! children, 10 attributes each, as in the Python host):
//!
//! * `ours`: `genkit_azure::AzureSpanProcessor` (the core pipeline), ingest
//!   queue large enough to drop nothing;
//! * `ours-default-queue`: the same with the default queue (65,536);
//! * `ours-spans-only`: `ours` without Genkit's derived metrics and logs
//!   (`disable_metrics`, `disable_logs`): the work the bare crate does, for a
//!   like-for-like comparison (the workload's spans are Genkit spans, so
//!   `ours` also derives a `Config[...]` log per model call and Genkit's
//!   metrics, which the crate never makes);
//! * `crate-bsp`: `opentelemetry-application-insights` 0.46 behind the SDK's
//!   `BatchSpanProcessor` (queue large enough to drop nothing, batches of
//!   `--batch-size`, 1024 by default as in ours), sending through a minimal
//!   blocking HTTP/1.1 client (see client.rs).
//!
//! Modes:
//! * `throughput`: create the spans as fast as possible, then flush; report
//!   wall time, CPU (getrusage, all threads), peak RSS.
//! * `queued-memory`: point the pipeline at a listening socket that never
//!   accepts (the first exports hang, so everything after them stays queued),
//!   create the spans, wait, and report the growth of live heap bytes (a
//!   counting global allocator) and of RSS since before the pipeline was
//!   built, divided by the number of spans. Fixed costs (runtime threads, the
//!   HTTP client) are included, so the figure is an upper bound.
//! * `encode`: no pipeline and no network: the thread CPU time of turning
//!   the workload's spans into request bodies, ours (at every gzip level
//!   asked for) against the bare crate's mapping and against the limit
//!   (`serde_json` + gzip of the same envelopes); see encode.rs.
//!
//! Output: one line `RESULT {json}`; then the program waits for a line on
//! stdin (the harness reads the emulator's counters meanwhile), shuts down
//! and exits. In `queued-memory` mode it exits without shutting down.

mod alloc_count;
mod client;
mod encode;

use client::{LoopbackClient, Shared};
use genkit_azure::{AzureSpanProcessor, AzureTelemetry};
use opentelemetry::trace::{Span, SpanKind, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider,
};
use opentelemetry_sdk::Resource;
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

const SERVICE_NAME: &str = "genkit-azure-bench";
const FLUSH_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Ours,
    OursDefaultQueue,
    OursSpansOnly,
    CrateBsp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Throughput,
    QueuedMemory,
    Encode,
}

struct Args {
    variant: Variant,
    mode: Mode,
    spans: usize,
    endpoint: Option<String>,
    ikey: String,
    batch_size: usize,
    /// `encode` mode only.
    reps: usize,
    batch_sizes: Vec<usize>,
    levels: Vec<u32>,
}

fn usage() -> ! {
    eprintln!(
        "usage: genkit-azure-bench --variant ours|ours-default-queue|ours-spans-only|crate-bsp \
         [--mode throughput|queued-memory] [--spans N] [--endpoint http://127.0.0.1:PORT] \
         [--ikey KEY] [--batch-size N]\n       \
         genkit-azure-bench --mode encode [--spans N] [--reps N] [--batch-sizes 64,256,1024] \
         [--levels 0-9]"
    );
    std::process::exit(2)
}

/// `1,2,3`, `0-9` or a mix of both.
fn numbers(s: &str) -> Vec<u64> {
    let n = |x: &str| x.trim().parse::<u64>().unwrap_or_else(|_| usage());
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => out.extend(n(a)..=n(b)),
            None => out.push(n(part)),
        }
    }
    out
}

fn parse_args() -> Args {
    let mut args = Args {
        variant: Variant::Ours,
        mode: Mode::Throughput,
        spans: 200_000,
        endpoint: None,
        ikey: "00000000-0000-0000-0000-000000000000".into(),
        batch_size: 1024,
        reps: 11,
        batch_sizes: vec![64, 256, 1024],
        levels: (0..=9).collect(),
    };
    let mut variant_given = false;
    let mut spans_given = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--variant" => {
                variant_given = true;
                args.variant = match value().as_str() {
                    "ours" => Variant::Ours,
                    "ours-default-queue" => Variant::OursDefaultQueue,
                    "ours-spans-only" => Variant::OursSpansOnly,
                    "crate-bsp" => Variant::CrateBsp,
                    _ => usage(),
                }
            }
            "--mode" => {
                args.mode = match value().as_str() {
                    "throughput" => Mode::Throughput,
                    "queued-memory" => Mode::QueuedMemory,
                    "encode" => Mode::Encode,
                    _ => usage(),
                }
            }
            "--spans" => {
                spans_given = true;
                args.spans = value().parse().unwrap_or_else(|_| usage())
            }
            "--endpoint" => args.endpoint = Some(value().trim_end_matches('/').to_string()),
            "--ikey" => args.ikey = value(),
            "--batch-size" => args.batch_size = value().parse().unwrap_or_else(|_| usage()),
            "--reps" => args.reps = value().parse().unwrap_or_else(|_| usage()),
            "--batch-sizes" => {
                args.batch_sizes = numbers(&value()).into_iter().map(|b| b as usize).collect()
            }
            "--levels" => {
                // Anything above 9 is refused below.
                args.levels = numbers(&value())
                    .into_iter()
                    .map(|l| l.min(10) as u32)
                    .collect()
            }
            _ => usage(),
        }
    }
    if args.mode == Mode::Encode {
        // Enough spans for a few passes of the largest batch, in whole traces.
        if !spans_given {
            args.spans = 10_240;
        }
        if args.reps == 0
            || args.batch_sizes.is_empty()
            || args.batch_sizes.contains(&0)
            || args.levels.iter().any(|&l| l > 9)
        {
            usage();
        }
    } else if !variant_given {
        usage();
    }
    if args.spans < 5 || args.batch_size == 0 {
        usage();
    }
    if args.mode == Mode::Throughput && args.endpoint.is_none() {
        eprintln!("--endpoint is required in throughput mode");
        usage();
    }
    args
}

// ---------------------------------------------------------------------------
// The workload (kept identical to bench/py_synthetic.py and bench/c-host/bench.c)

const CHILDREN: [(&str, SpanKind); 4] = [
    ("generate", SpanKind::Internal),
    ("model/call", SpanKind::Client),
    ("tool/lookup", SpanKind::Internal),
    ("http GET", SpanKind::Client),
];
const GENKIT_NAMES: [&str; 5] = ["answer_flow", "generate", "fake-model", "lookup", "fetch"];
const GENKIT_PATHS: [&str; 5] = [
    "/{answer_flow,t:flow}",
    "/{answer_flow,t:flow}/{generate,t:util}",
    "/{answer_flow,t:flow}/{generate,t:util}/{fake-model,t:action,s:model}",
    "/{answer_flow,t:flow}/{generate,t:util}/{lookup,t:action,s:tool}",
    "/{answer_flow,t:flow}/{fetch,t:action}",
];
const SUBTYPES: [&str; 5] = ["flow", "util", "model", "tool", "action"];

/// The 10 attributes of span `child` (0 = the root) of trace `trace`.
fn attributes(trace: usize, child: usize) -> Vec<KeyValue> {
    vec![
        KeyValue::new("genkit:name", GENKIT_NAMES[child]),
        KeyValue::new("genkit:path", GENKIT_PATHS[child]),
        KeyValue::new("genkit:type", "action"),
        KeyValue::new("genkit:metadata:subtype", SUBTYPES[child]),
        KeyValue::new("genkit:state", "success"),
        KeyValue::new("app.request_id", format!("req-{trace:08}")),
        KeyValue::new("app.user_id", format!("user-{}", trace % 1000)),
        KeyValue::new("app.items", (trace % 50) as i64),
        KeyValue::new("app.score", 0.25 * child as f64),
        KeyValue::new("app.cached", trace & 1 == 0),
    ]
}

/// Creates and ends `spans` spans (rounded down to whole traces of 5); returns how many.
fn run_workload(tracer: &SdkTracer, spans: usize) -> usize {
    let traces = spans / 5;
    for t in 0..traces {
        let root = tracer
            .span_builder("POST /answer")
            .with_kind(SpanKind::Server)
            .with_attributes(attributes(t, 0))
            .start(tracer);
        let cx = Context::current_with_span(root);
        for (c, (name, kind)) in CHILDREN.iter().enumerate() {
            let mut child = tracer
                .span_builder(*name)
                .with_kind(kind.clone())
                .with_attributes(attributes(t, c + 1))
                .start_with_context(tracer, &cx);
            child.end();
        }
        cx.span().end();
    }
    traces * 5
}

// ---------------------------------------------------------------------------
// Pipelines

enum Pipeline {
    Ours(AzureTelemetry),
    Crate(Arc<LoopbackClient>),
}

fn build(args: &Args, endpoint: &str, request_timeout: Duration) -> (SdkTracerProvider, Pipeline) {
    // Room for every span plus a margin, so that neither variant drops anything.
    let lossless_queue = args.spans + 4 * args.batch_size + 1024;
    match args.variant {
        Variant::Ours | Variant::OursDefaultQueue | Variant::OursSpansOnly => {
            let mut builder = AzureTelemetry::builder()
                .connection_string(format!(
                    "InstrumentationKey={};IngestionEndpoint={endpoint}/",
                    args.ikey
                ))
                .service_name(SERVICE_NAME)
                .max_batch_size(args.batch_size)
                .request_timeout(request_timeout);
            if args.variant != Variant::OursDefaultQueue {
                // In bytes too: every span may wait in the queue at once.
                builder = builder
                    .queue_capacity(lossless_queue)
                    .max_queue_bytes(1 << 40);
            }
            if args.variant == Variant::OursSpansOnly {
                builder = builder.disable_metrics(true).disable_logs(true);
            }
            let telemetry = builder
                .build()
                .unwrap_or_else(|e| fail(&format!("cannot start the pipeline: {e}")));
            let provider = SdkTracerProvider::builder()
                .with_resource(Resource::builder().with_service_name(SERVICE_NAME).build())
                .with_span_processor(
                    AzureSpanProcessor::new(telemetry.clone()).with_flush_timeout(FLUSH_TIMEOUT),
                )
                .build();
            (provider, Pipeline::Ours(telemetry))
        }
        Variant::CrateBsp => {
            let addr: SocketAddr = endpoint
                .strip_prefix("http://")
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| fail("--endpoint must be http://IP:PORT"));
            let client = Arc::new(LoopbackClient::new(addr, request_timeout));
            // The crate only takes the key from this; the client decides where requests go.
            let exporter =
                opentelemetry_application_insights::Exporter::new_from_connection_string(
                    format!(
                        "InstrumentationKey={};IngestionEndpoint=https://ingestion.invalid",
                        args.ikey
                    ),
                    Shared(Arc::clone(&client)),
                )
                .unwrap_or_else(|e| fail(&format!("the crate refused the connection string: {e}")));
            let config = BatchConfigBuilder::default()
                .with_max_queue_size(lossless_queue)
                .with_max_export_batch_size(args.batch_size)
                .build();
            let provider = SdkTracerProvider::builder()
                .with_resource(Resource::builder().with_service_name(SERVICE_NAME).build())
                .with_span_processor(
                    BatchSpanProcessor::builder(exporter)
                        .with_batch_config(config)
                        .build(),
                )
                .build();
            (provider, Pipeline::Crate(client))
        }
    }
}

/// Waits until everything created so far is exported. Returns whether that was confirmed.
fn flush(provider: &SdkTracerProvider, pipeline: &Pipeline) -> bool {
    match pipeline {
        Pipeline::Ours(t) => t.flush(FLUSH_TIMEOUT).unwrap_or(false),
        Pipeline::Crate(_) => {
            // The SDK's BatchSpanProcessor gives force_flush a fixed 5 s; the export
            // goes on after a timeout, and a later flush message is served only once
            // the earlier one has drained the queue. So: ask again until one succeeds.
            // The provider reports a processor's timeout inside an
            // `InternalFailure` ("errs: [Err(Timeout(5s))]"), so it is told by
            // its text too: taken for a failure, a crate slower than 5 s was
            // measured on the spans it had delivered by then.
            let timed_out = |e: &OTelSdkError| {
                matches!(e, OTelSdkError::Timeout(_)) || e.to_string().contains("Timeout(")
            };
            let deadline = Instant::now() + FLUSH_TIMEOUT;
            loop {
                match provider.force_flush() {
                    Ok(()) => return true,
                    Err(e) if timed_out(&e) && Instant::now() < deadline => continue,
                    Err(e) => {
                        eprintln!("force_flush failed: {e}");
                        return false;
                    }
                }
            }
        }
    }
}

fn pipeline_stats(pipeline: &Pipeline) -> Value {
    match pipeline {
        Pipeline::Ours(t) => {
            let stats = t.stats();
            let map: serde_json::Map<String, Value> = stats
                .fields()
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            Value::Object(map)
        }
        Pipeline::Crate(c) => {
            let c = &c.counters;
            json!({
                "http_requests": c.requests.load(Relaxed),
                "bytes_sent": c.bytes_sent.load(Relaxed),
                "items_received": c.items_received.load(Relaxed),
                "envelopes_delivered": c.items_accepted.load(Relaxed),
                "non_200_responses": c.non_200.load(Relaxed),
            })
        }
    }
}

// ---------------------------------------------------------------------------
// Measurements

struct Usage {
    user_s: f64,
    sys_s: f64,
    max_rss_kb: i64,
}

fn rusage() -> Usage {
    // SAFETY: getrusage writes a plain struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    Usage {
        user_s: secs(ru.ru_utime),
        sys_s: secs(ru.ru_stime),
        max_rss_kb: ru.ru_maxrss,
    }
}

/// Current resident set size in bytes (/proc/self/statm).
fn rss_bytes() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: i64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as i64
}

fn variant_name(v: Variant) -> &'static str {
    match v {
        Variant::Ours => "ours",
        Variant::OursDefaultQueue => "ours-default-queue",
        Variant::OursSpansOnly => "ours-spans-only",
        Variant::CrateBsp => "crate-bsp",
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("genkit-azure-bench: {msg}");
    std::process::exit(1)
}

fn emit(result: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "RESULT {result}");
    let _ = out.flush();
}

/// Blocks until the harness says "go on" (a line, or EOF).
fn wait_for_harness() {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

fn main() {
    let args = parse_args();
    match args.mode {
        Mode::Throughput => throughput(&args),
        Mode::QueuedMemory => queued_memory(&args),
        Mode::Encode => {
            emit(&encode::run(&encode::EncodeArgs {
                spans: args.spans,
                reps: args.reps,
                batch_sizes: args.batch_sizes.clone(),
                levels: args.levels.clone(),
                ikey: args.ikey.clone(),
            }));
            wait_for_harness();
        }
    }
}

fn throughput(args: &Args) {
    let endpoint = args.endpoint.clone().expect("checked in parse_args");
    let (provider, pipeline) = build(args, &endpoint, Duration::from_secs(30));
    let tracer = provider.tracer("genkit-azure-bench");
    let u0 = rusage();
    let t0 = Instant::now();
    let created = run_workload(&tracer, args.spans);
    let loop_s = t0.elapsed().as_secs_f64();
    let flushed = flush(&provider, &pipeline);
    let wall_s = t0.elapsed().as_secs_f64();
    let u1 = rusage();
    emit(&json!({
        "host": "rust",
        "variant": variant_name(args.variant),
        "mode": "throughput",
        "spans_created": created,
        "batch_size": args.batch_size,
        "flushed": flushed,
        "loop_s": loop_s,
        "flush_s": wall_s - loop_s,
        "wall_s": wall_s,
        "cpu_user_s": u1.user_s - u0.user_s,
        "cpu_sys_s": u1.sys_s - u0.sys_s,
        "cpu_s": (u1.user_s - u0.user_s) + (u1.sys_s - u0.sys_s),
        "max_rss_kb": u1.max_rss_kb,
        "pipeline": pipeline_stats(&pipeline),
    }));
    wait_for_harness();
    let t = Instant::now();
    let _ = provider.shutdown();
    eprintln!(
        "genkit-azure-bench: shut down in {:.3} s",
        t.elapsed().as_secs_f64()
    );
}

fn queued_memory(args: &Args) {
    alloc_count::enable();
    // A socket that listens but never accepts: connections complete in the
    // kernel backlog, requests are written, no answer ever comes. The first
    // exports hang (until the request timeout, far beyond this run), so the
    // spans created after them stay queued.
    let hole = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| fail(&format!("bind: {e}")));
    let endpoint = format!("http://{}", hole.local_addr().expect("bound"));
    std::thread::sleep(Duration::from_millis(50));
    let heap0 = alloc_count::live_bytes();
    let rss0 = rss_bytes();
    let (provider, pipeline) = build(args, &endpoint, Duration::from_secs(600));
    let tracer = provider.tracer("genkit-azure-bench");
    let created = run_workload(&tracer, args.spans);
    // At the end of the burst: most spans still wait in their queued form.
    let heap_burst = alloc_count::live_bytes();
    let still_queued_at_burst_end = pipeline_stats(&pipeline)["queue_depth"].as_u64();
    // Let the pipeline's threads take what they will (and block on the hung
    // exports). Ours maps what it cannot send and holds it compressed; wait
    // until its queue is empty (the bare crate's never drains: its one export hangs).
    let settle_by = Instant::now() + Duration::from_secs(10);
    std::thread::sleep(Duration::from_millis(500));
    while pipeline_stats(&pipeline)["queue_depth"]
        .as_u64()
        .unwrap_or(0)
        > 0
        && Instant::now() < settle_by
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    let heap1 = alloc_count::live_bytes();
    let rss1 = rss_bytes();
    let stats = pipeline_stats(&pipeline);
    let delivered = stats["envelopes_delivered"].as_u64().unwrap_or(0);
    emit(&json!({
        "host": "rust",
        "variant": variant_name(args.variant),
        "mode": "queued-memory",
        "spans_created": created,
        "batch_size": args.batch_size,
        "heap_bytes_before": heap0,
        "heap_bytes_after": heap1,
        "rss_bytes_before": rss0,
        "rss_bytes_after": rss1,
        "heap_bytes_after_burst": heap_burst,
        "queue_depth_after_burst": still_queued_at_burst_end,
        "heap_bytes_per_queued_span_at_burst_end": (heap_burst - heap0) as f64 / created as f64,
        "heap_bytes_per_queued_span": (heap1 - heap0) as f64 / created as f64,
        "rss_bytes_per_queued_span": (rss1 - rss0) as f64 / created as f64,
        "delivered_meanwhile": delivered,
        "max_rss_kb": rusage().max_rss_kb,
        "pipeline": stats,
    }));
    wait_for_harness();
    drop(hole);
    // The hung exports would hold a shutdown for the whole request timeout.
    std::process::exit(0);
}
