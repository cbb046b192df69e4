//! Sampling end to end (issue 10): traces from the OpenTelemetry SDK go
//! through `AzureSpanProcessor` into a pipeline that samples them, and the
//! emulator shows what Application Insights would get. Which traces must
//! arrive is computed here with a DJB2 of our own, not core's.

mod common;

use common::*;
use genkit_azure::opentelemetry::trace::{
    Span as _, TraceContextExt, Tracer as _, TracerProvider as _,
};
use genkit_azure::opentelemetry::{Context, KeyValue};
use genkit_azure::opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use genkit_azure::{AzureSpanProcessor, AzureTelemetry, CustomEvent, LogRecord, Stats};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const FLOW: &str = "/{weather_flow,t:action,s:flow}";

/// The Application Insights score of a trace id, written apart from core's
/// (64-bit arithmetic folded to 32 bits by hand): DJB2 over the lowercase
/// hex, as a signed 32-bit number, its absolute value over `i32::MAX`.
fn score(trace_hex: &str) -> f64 {
    let mut hash: i64 = 5381;
    for c in trace_hex.bytes() {
        hash = hash * 33 + i64::from(c);
        // Keep the low 32 bits, read as a signed number.
        hash = i64::from((hash & 0xffff_ffff) as u32 as i32);
    }
    let hash = if hash == i64::from(i32::MIN) {
        i64::from(i32::MAX)
    } else {
        hash.abs()
    };
    hash as f64 / f64::from(i32::MAX)
}

#[test]
fn the_independent_score_agrees_with_the_official_vectors() {
    // From `sampling.rs`, where they came from the official exporter.
    assert_eq!(
        score("4bf92f3577b34da6a3ce929d0e0e4736"),
        0.33461353850300124
    );
    assert_eq!(
        score("ffffffffffffffffffffffffffffffff"),
        0.9996135514227736
    );
    assert_eq!(
        score("00000000000000000000000000000001"),
        0.02339351457701694
    );
}

/// One Genkit flow as a trace: the flow's span (the root, from which
/// Genkit's `genkit/feature/requests` is derived), a child span, and inside
/// the child a log record and a custom event. Returns the trace id.
fn flow(tracer: &SdkTracer, t: &AzureTelemetry, i: usize) -> String {
    let root = flow_span(tracer);
    let trace = root.span_context().trace_id();
    let cx = Context::current_with_span(root);
    let mut child = tracer.start_with_context("lookup", &cx);
    let (trace_id, span_id) = (
        child.span_context().trace_id(),
        child.span_context().span_id(),
    );
    t.emit_log(
        LogRecord::new(
            genkit_azure::opentelemetry::logs::Severity::Info,
            format!("log {i}"),
        )
        .with_trace_context(trace_id, span_id),
    )
    .unwrap();
    t.track_event(CustomEvent::new(format!("event {i}")).with_trace_context(trace_id, span_id))
        .unwrap();
    child.end();
    cx.span().end();
    format!("{trace:032x}")
}

/// The span of a Genkit flow, started (the root of its trace).
fn flow_span(tracer: &SdkTracer) -> genkit_azure::opentelemetry_sdk::trace::Span {
    tracer
        .span_builder("weather_flow")
        .with_attributes([
            KeyValue::new("genkit:type", "action"),
            KeyValue::new("genkit:metadata:subtype", "flow"),
            KeyValue::new("genkit:name", "weather_flow"),
            KeyValue::new("genkit:path", FLOW),
            KeyValue::new("genkit:state", "success"),
        ])
        .start(tracer)
}

fn pipeline(
    emu: &genkit_azure_emulator::Emulator,
    configure: impl FnOnce(genkit_azure::AzureTelemetryBuilder) -> genkit_azure::AzureTelemetryBuilder,
) -> (AzureTelemetry, SdkTracerProvider) {
    let t = configure(builder(emu)).build().unwrap();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(AzureSpanProcessor::new(t.clone()))
        .build();
    (t, provider)
}

fn operation(e: &Value) -> String {
    tag(e, "ai.operation.id").unwrap_or_default().to_string()
}

fn spans(envs: &[Value]) -> Vec<&Value> {
    envs.iter()
        .filter(|e| matches!(short_name(e), "Request" | "RemoteDependency"))
        .collect()
}

/// Envelopes of `kind` whose message or name starts with `prefix`.
fn named<'a>(envs: &'a [Value], kind: &str, field: &str, prefix: &str) -> Vec<&'a Value> {
    of_kind(envs, kind)
        .into_iter()
        .filter(|e| {
            e["data"]["baseData"][field]
                .as_str()
                .is_some_and(|m| m.starts_with(prefix))
        })
        .collect()
}

/// `genkit/feature/requests`, summed over every series and collection.
fn feature_requests(envs: &[Value]) -> f64 {
    of_kind(envs, "Metric")
        .into_iter()
        .map(|e| &e["data"]["baseData"])
        .filter(|d| d["metrics"][0]["name"] == "genkit/feature/requests")
        .map(|d| d["metrics"][0]["value"].as_f64().unwrap())
        .sum()
}

/// A pipeline sampling at a ratio of 0.5, its logs by trace or not, after
/// `n` traces made by `trace` and a flush: the pipeline, its provider, the
/// envelopes that arrived and the ids of the traces the score keeps.
fn half_sampled(
    logs_by_trace: bool,
    n: usize,
    trace: impl Fn(&SdkTracer, &AzureTelemetry, usize) -> String,
) -> (
    AzureTelemetry,
    SdkTracerProvider,
    Vec<Value>,
    BTreeSet<String>,
) {
    let emu = emulator();
    let (telemetry, provider) = pipeline(&emu, |b| {
        b.sampling_ratio(0.5)
            .enable_trace_based_sampling_for_logs(logs_by_trace)
    });
    let tracer = provider.tracer("sampling-test");
    let traces: Vec<String> = (0..n).map(|i| trace(&tracer, &telemetry, i)).collect();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    let kept = traces.into_iter().filter(|id| score(id) < 0.5).collect();
    (telemetry, provider, items(&emu), kept)
}

fn accounted(s: &Stats) {
    let accepted = s.spans_accepted + s.logs_accepted + s.metrics_accepted + s.custom_accepted;
    assert_eq!(s.items_pending, 0, "{s:#?}");
    assert_eq!(
        accepted + s.metrics_derived + s.logs_derived,
        finished(s) + s.items_pending,
        "{s:#?}"
    );
}

#[test]
fn a_ratio_keeps_exactly_the_traces_scoring_below_it_whole_with_their_logs() {
    const N: usize = 120;
    for logs_by_trace in [true, false] {
        let (t, provider, envs, kept) = half_sampled(logs_by_trace, N, flow);
        let kept: BTreeSet<&str> = kept.iter().map(String::as_str).collect();
        let dropped = N - kept.len();
        assert!(
            (20..=100).contains(&kept.len()),
            "a fair share is kept: {}",
            kept.len()
        );

        // Exactly the kept traces, whole: both spans, each with sampleRate 50.
        let mut per_trace: BTreeMap<String, usize> = BTreeMap::new();
        for e in spans(&envs) {
            assert_eq!(e["sampleRate"], 50.0, "{e}");
            *per_trace.entry(operation(e)).or_default() += 1;
        }
        assert_eq!(
            per_trace
                .keys()
                .map(String::as_str)
                .collect::<BTreeSet<_>>(),
            kept
        );
        assert!(per_trace.values().all(|n| *n == 2), "{per_trace:?}");

        // Logs and custom events: with the trace when sampled by trace.
        for (kind, field, prefix) in [("Message", "message", "log "), ("Event", "name", "event ")] {
            let arrived = named(&envs, kind, field, prefix);
            let operations: BTreeSet<String> = arrived.iter().map(|e| operation(e)).collect();
            if logs_by_trace {
                assert_eq!(
                    operations
                        .iter()
                        .map(String::as_str)
                        .collect::<BTreeSet<_>>(),
                    kept,
                    "{kind}"
                );
                assert!(arrived.iter().all(|e| e["sampleRate"] == 50.0), "{kind}");
            } else {
                assert_eq!(arrived.len(), N, "{kind}: every one kept");
                assert!(
                    arrived.iter().all(|e| e.get("sampleRate").is_none()),
                    "{kind}: not sampled, so no sampleRate"
                );
            }
        }

        // Genkit's metrics still count every flow.
        assert_eq!(feature_requests(&envs), N as f64);

        let s = t.stats();
        assert_eq!(s.spans_accepted, 2 * N as u64);
        assert_eq!(s.spans_sampled_out, 2 * dropped as u64);
        let (logs_out, custom_out) = match logs_by_trace {
            true => (dropped as u64, dropped as u64),
            false => (0, 0),
        };
        assert_eq!(
            (s.logs_sampled_out, s.custom_sampled_out),
            (logs_out, custom_out)
        );
        assert_eq!(s.logs_accepted, N as u64);
        accounted(&s);
        provider.shutdown().unwrap();
    }
}

#[test]
fn a_rate_limit_keeps_whole_traces_at_about_the_rate() {
    const PER_SECOND: f64 = 20.0;
    let emu = emulator();
    let (t, provider) = pipeline(&emu, |b| b.traces_per_second(PER_SECOND));
    let tracer = provider.tracer("sampling-test");
    let start = Instant::now();
    let mut n = 0;
    // About 500 roots a second for 2 s: 25 times the rate.
    while start.elapsed() < Duration::from_secs(2) {
        flow(&tracer, &t, n);
        n += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed = start.elapsed().as_secs_f64();
    assert!(t.flush(Duration::from_secs(10)).unwrap());
    let envs = items(&emu);

    let mut per_trace: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for e in spans(&envs) {
        per_trace
            .entry(operation(e))
            .or_default()
            .push(e["sampleRate"].as_f64().unwrap());
    }
    let kept = per_trace.len() as f64;
    assert!(
        (0.4 * PER_SECOND * elapsed..=2.5 * PER_SECOND * elapsed).contains(&kept),
        "{kept} traces of {n} kept in {elapsed:.2} s, for {PER_SECOND}/s"
    );
    for (trace, rates) in &per_trace {
        assert_eq!(rates.len(), 2, "{trace}: whole");
        assert_eq!(rates[0], rates[1], "{trace}: one decision per trace");
        // 100/n: every kept trace stands for a whole number of traces.
        let stands_for = 100.0 / rates[0];
        assert!((stands_for - stands_for.round()).abs() < 1e-9, "{rates:?}");
    }
    assert_eq!(feature_requests(&envs), n as f64);
    let s = t.stats();
    assert_eq!(s.spans_sampled_out, 2 * (n as u64 - per_trace.len() as u64));
    accounted(&s);
    provider.shutdown().unwrap();
}

#[test]
fn a_ratio_and_a_rate_together_are_refused() {
    let err = AzureTelemetry::builder()
        .connection_string(format!("InstrumentationKey={IKEY}"))
        .disable_storage()
        .sampling_ratio(0.5)
        .traces_per_second(5.0)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: sampling_ratio: cannot be set together with traces_per_second: \
         traces are sampled either at a fixed ratio or up to a rate (got 0.5 and 5 traces/s)"
    );
}

/// A flow calling a model: the model call's `Config[...]` record, derived by
/// the pipeline, is sampled as the host's logs are. Kept with its trace, it
/// travels with its span (a derived item of the span's batch); logs not
/// sampled by trace are all kept, without a `sampleRate`. Returns the trace id.
fn model_flow(tracer: &SdkTracer) -> String {
    let root = flow_span(tracer);
    let trace = root.span_context().trace_id();
    let cx = Context::current_with_span(root);
    tracer
        .span_builder("fake-model")
        .with_attributes([
            KeyValue::new("genkit:type", "action"),
            KeyValue::new("genkit:metadata:subtype", "model"),
            KeyValue::new("genkit:name", "fake-model"),
            KeyValue::new(
                "genkit:path",
                format!("{FLOW}/{{fake-model,t:action,s:model}}"),
            ),
            KeyValue::new("genkit:state", "success"),
        ])
        .start_with_context(tracer, &cx)
        .end();
    cx.span().end();
    format!("{trace:032x}")
}

#[test]
fn a_model_calls_config_record_is_sampled_as_the_hosts_logs_are() {
    const N: usize = 120;
    for logs_by_trace in [true, false] {
        let (t, provider, envs, kept) =
            half_sampled(logs_by_trace, N, |tracer, _, _| model_flow(tracer));
        let kept: BTreeSet<&str> = kept.iter().map(String::as_str).collect();
        let configs = named(&envs, "Message", "message", "Config[");
        let mut per_trace: BTreeMap<String, usize> = BTreeMap::new();
        for e in &configs {
            assert_eq!(
                e["data"]["baseData"]["message"],
                "Config[weather_flow > fake-model, fake-model]"
            );
            assert_eq!(tag(e, "ai.operation.name"), Some("weather_flow"));
            *per_trace.entry(operation(e)).or_default() += 1;
        }
        assert!(per_trace.values().all(|n| *n == 1), "{per_trace:?}");
        if logs_by_trace {
            let operations: BTreeSet<&str> = per_trace.keys().map(String::as_str).collect();
            assert_eq!(operations, kept);
            assert!(configs.iter().all(|e| e["sampleRate"] == 50.0));
        } else {
            assert_eq!(per_trace.len(), N, "every one kept");
            assert!(configs.iter().all(|e| e.get("sampleRate").is_none()));
        }
        // Each arrived Config record is a derived log, settled once.
        let s = t.stats();
        assert_eq!(s.logs_derived, N as u64);
        let dropped = (N - kept.len()) as u64;
        assert_eq!(s.logs_sampled_out, if logs_by_trace { dropped } else { 0 });
        assert_eq!(
            s.items_delivered,
            finished(&s) - s.spans_sampled_out - s.logs_sampled_out
        );
        accounted(&s);
        provider.shutdown().unwrap();
    }
}
