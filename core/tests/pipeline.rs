//! The pipeline end to end: OTel SDK spans and log records through the queue,
//! the worker and the transport, over real sockets, into the emulator.

mod common;

use common::*;
use genkit_azure::opentelemetry::logs::Severity;
use genkit_azure::opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use genkit_azure::opentelemetry::{Context, KeyValue};
use genkit_azure::opentelemetry_sdk::trace::SdkTracerProvider;
use genkit_azure::{AzureSpanProcessor, Error, LogRecord, Pushed};
use std::time::Duration;

#[test]
fn a_span_tree_and_its_logs_arrive_once_with_operation_ids() {
    let emu = emulator();
    let telemetry = builder(&emu).service_version("9.9.9").build().unwrap();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(AzureSpanProcessor::new(telemetry.clone()))
        .build();
    let tracer = provider.tracer("pipeline-test");

    let server = tracer
        .span_builder("GET /flow")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.response.status_code", 200),
        ])
        .start(&tracer);
    let server_cx = Context::current_with_span(server);
    let flow = tracer
        .span_builder("menuSuggestion")
        .with_attributes([KeyValue::new("genkit:type", "action")])
        .start_with_context(&tracer, &server_cx);
    let flow_ids = flow.span_context().clone();
    let flow_cx = server_cx.with_span(flow);
    let mut model = tracer
        .span_builder("fake/model")
        .with_kind(SpanKind::Client)
        .start_with_context(&tracer, &flow_cx);
    model.set_status(Status::error("model exploded"));
    model.end();
    telemetry
        .emit_log(
            LogRecord::new(Severity::Info, "inside the flow")
                .with_attribute(KeyValue::new("attempt", 1))
                .with_trace_context(flow_ids.trace_id(), flow_ids.span_id()),
        )
        .unwrap();
    telemetry
        .emit_log(LogRecord::new(Severity::Warn, "outside any span"))
        .unwrap();
    flow_cx.span().end();
    server_cx.span().end();

    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    let envs = items(&emu);
    assert_eq!(envs.len(), 5, "{envs:#?}");
    // The crate names a request after its method and route, not the span name.
    let request = of_kind(&envs, "Request")[0];
    let flow = by_name(&envs, "menuSuggestion");
    let model = by_name(&envs, "fake/model");
    assert_eq!(short_name(request), "Request");
    assert_eq!(short_name(flow), "RemoteDependency");
    assert_eq!(model["data"]["baseData"]["success"], false);

    let trace_id = flow_ids.trace_id().to_string();
    for e in [request, flow, model] {
        assert_eq!(tag(e, "ai.operation.id"), Some(trace_id.as_str()));
        assert_eq!(tag(e, "ai.cloud.role"), Some("pipeline-test"));
        assert_eq!(tag(e, "ai.application.ver"), Some("9.9.9"));
    }
    assert_eq!(tag(request, "ai.operation.parentId"), None);
    assert_eq!(
        tag(flow, "ai.operation.parentId"),
        request["data"]["baseData"]["id"].as_str()
    );
    assert_eq!(
        tag(model, "ai.operation.parentId"),
        flow["data"]["baseData"]["id"].as_str()
    );

    let messages = of_kind(&envs, "Message");
    let inside = messages
        .iter()
        .find(|m| m["data"]["baseData"]["message"] == "inside the flow")
        .unwrap();
    assert_eq!(tag(inside, "ai.operation.id"), Some(trace_id.as_str()));
    assert_eq!(
        tag(inside, "ai.operation.parentId"),
        Some(flow_ids.span_id().to_string().as_str())
    );
    assert_eq!(prop(inside, "attempt"), Some("1"));
    let outside = messages
        .iter()
        .find(|m| m["data"]["baseData"]["message"] == "outside any span")
        .unwrap();
    assert_eq!(tag(outside, "ai.operation.id"), None);

    let stats = telemetry.stats();
    assert_eq!(stats.spans_accepted, 3);
    assert_eq!(stats.logs_accepted, 2);
    // Five items and the resource's `_OTELRESOURCE_` metric.
    assert_eq!(stats.envelopes_delivered, 6);
    assert_eq!(stats.queue_depth, 0);
    assert!(telemetry.shutdown(Duration::from_secs(5)).unwrap());
    assert_eq!(items(&emu).len(), 5, "nothing sent twice");
    let resource: Vec<_> = emu
        .envelopes()
        .into_iter()
        .filter(is_resource_metric)
        .collect();
    assert_eq!(resource.len(), 1, "the resource is described once");
    assert_eq!(prop(&resource[0], "service.name"), Some("pipeline-test"));
}

#[test]
fn a_log_with_an_exception_keeps_the_message_the_user_wrote() {
    let emu = emulator();
    let telemetry = builder(&emu).build().unwrap();
    telemetry
        .emit_log(
            LogRecord::new(Severity::Error, "division failed")
                .with_attribute(KeyValue::new("exception.type", "ZeroDivisionError"))
                .with_attribute(KeyValue::new("exception.message", "division by zero"))
                .with_attribute(KeyValue::new("exception.stacktrace", "Traceback ...")),
        )
        .unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    let envs = emu.envelopes();
    let ex = &of_kind(&envs, "Exception")[0]["data"]["baseData"]["exceptions"][0];
    assert_eq!(ex["typeName"], "ZeroDivisionError");
    assert_eq!(ex["message"], "division failed");
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn values_cut_inside_multibyte_characters_neither_panic_nor_stop_the_pipeline() {
    let emu = emulator();
    let telemetry = builder(&emu).build().unwrap();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(AzureSpanProcessor::new(telemetry.clone()))
        .build();
    let tracer = provider.tracer("t");
    let straddling = format!("{}é", "a".repeat(8191));
    let huge = "日本語テキスト".repeat(1_000_000 / 21 + 1);
    assert!(huge.len() >= 1_000_000);
    tracer
        .span_builder(format!("{}ü", "n".repeat(1023)))
        .with_attributes([
            KeyValue::new("straddling", straddling),
            KeyValue::new("huge", huge),
        ])
        .start(&tracer)
        .end();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    // A second span proves the export path is still alive.
    tracer.start("after").end();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());

    let envs = items(&emu);
    assert_eq!(envs.len(), 2);
    let first = envs
        .iter()
        .find(|e| prop(e, "straddling").is_some())
        .unwrap();
    assert_eq!(prop(first, "straddling").unwrap(), "a".repeat(8191));
    let huge = prop(first, "huge").unwrap();
    assert!(
        huge.len() <= 8192 && huge.starts_with("日本語"),
        "{}",
        huge.len()
    );
    assert_eq!(
        first["data"]["baseData"]["name"].as_str().unwrap(),
        "n".repeat(1023)
    );
    assert!(telemetry.stats().values_truncated >= 3);
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_full_queue_drops_with_a_count_instead_of_blocking() {
    // A server that accepts connections and never answers keeps the one
    // export slot busy, so the tiny queue fills.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let telemetry = genkit_azure::AzureTelemetry::builder()
        .connection_string(format!(
            "InstrumentationKey={IKEY};IngestionEndpoint=http://127.0.0.1:{port}"
        ))
        .queue_capacity(4)
        .max_batch_size(1)
        .max_concurrent_exports(1)
        .request_timeout(Duration::from_secs(30))
        .disable_storage()
        .build()
        .unwrap();
    let mut dropped = 0;
    for i in 0..200 {
        let log = LogRecord::new(Severity::Info, format!("log {i}"));
        if telemetry.emit_log(log).unwrap() == Pushed::DroppedQueueFull {
            dropped += 1;
        }
    }
    let stats = telemetry.stats();
    assert!(dropped > 150, "only {dropped} dropped");
    assert_eq!(stats.dropped_queue_full, dropped);
    assert_eq!(stats.logs_accepted + dropped, 200);
    assert!(
        !telemetry.flush(Duration::from_millis(300)).unwrap(),
        "nothing can have been delivered"
    );
    assert!(!telemetry.shutdown(Duration::from_millis(300)).unwrap());
    let stats = telemetry.stats();
    assert_eq!(
        stats.dropped_shut_down, stats.logs_accepted,
        "what shutdown could not send is counted"
    );
    drop(silent);
}

#[test]
fn after_shutdown_every_call_says_so() {
    let emu = emulator();
    let telemetry = builder(&emu).build().unwrap();
    let clone = telemetry.clone();
    assert!(telemetry.shutdown(Duration::from_secs(5)).unwrap());
    let err = clone
        .emit_log(LogRecord::new(Severity::Info, "late"))
        .unwrap_err();
    assert!(matches!(err, Error::ShutDown));
    assert_eq!(err.to_string(), "the telemetry pipeline is shut down");
    assert!(matches!(
        clone.flush(Duration::from_secs(1)),
        Err(Error::ShutDown)
    ));
    assert!(matches!(
        clone.shutdown(Duration::from_secs(1)),
        Err(Error::ShutDown)
    ));
    assert_eq!(emu.stats().requests, 0);
}

#[test]
fn spans_and_logs_queued_right_before_shutdown_all_arrive_once() {
    // The worker takes a queued item ahead of the one it handles (to load
    // the next span's bytes early): none may be lost or handled twice, and
    // none taken past the shutdown marker.
    let emu = emulator();
    let telemetry = builder(&emu)
        .queue_capacity(10_000)
        .max_batch_size(64)
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(AzureSpanProcessor::new(telemetry.clone()))
        .build();
    let tracer = provider.tracer("pipeline-test");
    let n = 1_500;
    for i in 0..n {
        tracer.start(format!("span {i}")).end();
        telemetry.emit_log(log(i)).unwrap();
    }
    assert!(telemetry.shutdown(Duration::from_secs(30)).unwrap());
    let stats = telemetry.stats();
    assert_eq!(stats.spans_accepted + stats.logs_accepted, 2 * n as u64);
    assert_eq!(stats.items_delivered, 2 * n as u64, "{stats:?}");
    assert_eq!(finished(&stats), 2 * n as u64, "{stats:?}");
    let envs = items(&emu);
    let logs = arrivals(&envs);
    let mut spans = std::collections::HashMap::<&str, usize>::new();
    for e in of_kind(&envs, "RemoteDependency") {
        *spans
            .entry(e["data"]["baseData"]["name"].as_str().unwrap())
            .or_default() += 1;
    }
    for i in 0..n {
        assert_eq!(logs.get(&format!("item {i}")), Some(&1), "log {i}");
        assert_eq!(
            spans.get(format!("span {i}").as_str()),
            Some(&1),
            "span {i}"
        );
    }
}

#[test]
fn requests_use_v2_1_track_and_gzip() {
    let emu = emulator();
    let telemetry = builder(&emu).build().unwrap();
    telemetry
        .emit_log(LogRecord::new(Severity::Info, "x"))
        .unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    let reqs = emu.requests();
    assert_eq!(reqs.len(), 1);
    let dbg = format!("{:?}", reqs[0]);
    assert!(dbg.contains("/v2.1/track"), "{dbg}");
    assert!(dbg.contains("gzip"), "{dbg}");
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn configuration_errors_name_the_setting() {
    let err = genkit_azure::AzureTelemetry::builder()
        .connection_string(format!("InstrumentationKey={IKEY}"))
        .max_batch_size(0)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_batch_size"), "{err}");
    let err = genkit_azure::AzureTelemetry::builder()
        .connection_string(format!(
            "InstrumentationKey={IKEY};IngestionEndpoint=http://10.0.0.1"
        ))
        .build()
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("IngestionEndpoint") && msg.contains("argument"),
        "{msg}"
    );
    assert!(!msg.contains(IKEY));
}

#[test]
fn metric_points_are_aggregated_and_exported_on_flush() {
    use genkit_azure::{MetricKind, MetricPoint};
    let emu = emulator();
    let telemetry = builder(&emu).build().unwrap();
    let tokens = |v: f64| {
        MetricPoint::new(MetricKind::Counter, "genkit/ai/generate/input/tokens", v)
            .with_attribute(KeyValue::new("modelName", "fake/echo"))
    };
    telemetry.record_metric(tokens(3.0)).unwrap();
    telemetry.record_metric(tokens(2.0)).unwrap();
    for ms in [10.0, 30.0] {
        telemetry
            .record_metric(MetricPoint::new(MetricKind::Histogram, "latency_ms", ms))
            .unwrap();
    }
    let err = telemetry
        .record_metric(MetricPoint::new(MetricKind::Gauge, "broken", f64::NAN))
        .unwrap_err();
    assert!(err.to_string().contains("broken"), "{err}");
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());

    let envs = emu.envelopes();
    let metrics = of_kind(&envs, "Metric");
    let point = |name: &str| {
        metrics
            .iter()
            .map(|m| &m["data"]["baseData"])
            .find(|d| d["metrics"][0]["name"] == name)
            .unwrap_or_else(|| panic!("no metric {name} in {metrics:#?}"))
    };
    let counter = point("genkit/ai/generate/input/tokens");
    assert_eq!(counter["metrics"][0]["value"], 5.0);
    assert_eq!(counter["properties"]["modelName"], "fake/echo");
    let hist = &point("latency_ms")["metrics"][0];
    assert_eq!(
        (hist["value"].as_f64(), hist["count"].as_u64()),
        (Some(40.0), Some(2))
    );
    assert_eq!(
        (hist["min"].as_f64(), hist["max"].as_f64()),
        (Some(10.0), Some(30.0))
    );
    assert_eq!(telemetry.stats().metrics_accepted, 4);
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_batch_closes_at_max_batch_bytes_before_max_batch_size() {
    let emu = common::emulator();
    let telemetry = common::builder(&emu)
        .max_batch_size(1024)
        .max_batch_bytes(8 * 1024)
        // Long enough that only the byte limit (or the flush) closes a batch.
        .batch_delay(Duration::from_secs(30))
        .build()
        .unwrap();
    let prompt = "p".repeat(2_000);
    for i in 0..20 {
        let mut span = genkit_azure::SpanPacker::new(
            [7; 16],
            [i + 1; 8],
            None,
            false,
            genkit_azure::opentelemetry::trace::SpanKind::Internal,
            1_700_000_000_000_000_000,
            1_700_000_000_100_000_000,
        );
        span.name(&format!("generate {i}"));
        span.attribute_str("genkit:input", &prompt);
        telemetry.push_packed(span.finish().unwrap()).unwrap();
    }
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    let requests = emu.requests();
    let sizes: Vec<usize> = requests.iter().map(|r| r.item_count).collect();
    // Twenty spans, and the resource's metric with the first of them.
    assert_eq!(sizes.iter().sum::<usize>(), 21, "{sizes:?}");
    // About 2 KB a span: a batch closes at its fourth or fifth span.
    assert!(sizes.iter().all(|n| *n <= 6), "{sizes:?}");
    assert!(sizes.len() >= 4, "{sizes:?}");
    telemetry.shutdown(Duration::from_secs(10)).unwrap();
}

#[test]
fn long_cjk_and_emoji_resource_values_cost_nothing() {
    use genkit_azure::{MetricKind, MetricPoint};
    let emu = emulator();
    let telemetry = builder(&emu)
        .service_name("漢".repeat(100))
        .service_namespace("😀".repeat(100))
        .service_version("版".repeat(400))
        .resource_attribute(KeyValue::new("deployment.environment", "字".repeat(5000)))
        .resource_attribute(KeyValue::new("service.instance.id", "é".repeat(300)))
        .build()
        .unwrap();
    let tracer = SdkTracerProvider::builder()
        .with_span_processor(AzureSpanProcessor::new(telemetry.clone()))
        .build()
        .tracer("t");
    tracer.start("span").end();
    telemetry
        .emit_log(LogRecord::new(Severity::Info, "log"))
        .unwrap();
    telemetry
        .record_metric(
            MetricPoint::new(MetricKind::Counter, "計".repeat(600), 1.0)
                .with_attribute(KeyValue::new("屬性".repeat(100), "值".repeat(5000))),
        )
        .unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    let envs = items(&emu);
    assert_eq!(envs.len(), 3, "{envs:#?}");
    for e in &envs {
        let role = tag(e, "ai.cloud.role").unwrap();
        assert!(role.len() <= 256 && role.starts_with("😀"), "{role}");
        assert!(tag(e, "ai.application.ver").unwrap().starts_with("版"));
    }
    let stats = telemetry.stats();
    assert_eq!(stats.dropped_mapping_error, 0);
    assert!(stats.values_truncated > 0);
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_timeout_too_long_to_add_waits_instead_of_panicking() {
    let emu = emulator();
    let telemetry = builder(&emu).build().unwrap();
    telemetry
        .emit_log(LogRecord::new(Severity::Info, "before an endless flush"))
        .unwrap();
    assert!(telemetry.flush(Duration::MAX).unwrap());
    assert!(telemetry.shutdown(Duration::MAX).unwrap());
}

#[test]
fn items_on_their_way_are_counted_as_pending_until_their_fate() {
    // Nothing listens on port 9 and nothing may go to disk: the logs wait in
    // the memory backlog.
    let telemetry = genkit_azure::AzureTelemetry::builder()
        .connection_string(format!(
            "InstrumentationKey={IKEY};IngestionEndpoint=http://127.0.0.1:9"
        ))
        .batch_delay(Duration::from_millis(10))
        .retry_delays(Duration::from_millis(5), Duration::from_millis(20))
        .disable_storage()
        .build()
        .unwrap();
    for i in 0..10 {
        telemetry
            .emit_log(LogRecord::new(Severity::Info, format!("waiting {i}")))
            .unwrap();
    }
    assert!(!telemetry.flush(Duration::from_millis(300)).unwrap());
    let s = telemetry.stats();
    assert_eq!(
        (s.logs_accepted, s.items_pending, finished(&s)),
        (10, 10, 0),
        "{s:?}"
    );
    telemetry.shutdown(Duration::from_millis(200)).unwrap();
    let s = telemetry.stats();
    assert_eq!((s.items_pending, s.dropped_shut_down), (0, 10), "{s:?}");
}

/// A log with very many attributes, some keys given twice (a C host may pass
/// any number): it is written in time proportional to them, with the last
/// value of each key once, as the SDK's attribute maps keep it.
#[test]
fn a_log_with_very_many_attributes_keeps_the_last_value_of_each_key() {
    let emu = emulator();
    let telemetry = builder(&emu).build().unwrap();
    let mut record = LogRecord::new(Severity::Info, "many attributes");
    for i in 0..20_000 {
        record = record.with_attribute(KeyValue::new(format!("key-{i}"), "first"));
    }
    for i in [0, 7, 19_999] {
        record = record.with_attribute(KeyValue::new(format!("key-{i}"), "again"));
    }
    telemetry.emit_log(record).unwrap();
    assert!(telemetry.flush(Duration::from_secs(30)).unwrap());
    let envs = items(&emu);
    let message = of_kind(&envs, "Message")[0];
    let props = message["data"]["baseData"]["properties"]
        .as_object()
        .expect("properties");
    assert_eq!(props.len(), 20_000);
    assert_eq!(prop(message, "key-7"), Some("again"));
    assert_eq!(prop(message, "key-8"), Some("first"));
    assert_eq!(prop(message, "key-19999"), Some("again"));
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}
