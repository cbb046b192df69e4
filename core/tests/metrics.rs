//! Metric points through the pipeline into the emulator: the per-metric
//! cardinality limit, folding and counting what passes it.

mod common;

use common::*;
use genkit_azure::opentelemetry::KeyValue;
use genkit_azure::{MetricKind, MetricPoint};
use serde_json::Value;
use std::time::Duration;

const OVERFLOW: &str = "otel.metric.overflow";

fn metric<'a>(envs: &'a [Value], name: &str) -> Vec<&'a Value> {
    of_kind(envs, "Metric")
        .into_iter()
        .filter(|m| m["data"]["baseData"]["metrics"][0]["name"] == name)
        .collect()
}

fn value(m: &Value) -> f64 {
    m["data"]["baseData"]["metrics"][0]["value"]
        .as_f64()
        .unwrap()
}

#[test]
fn the_10001st_attribute_set_of_a_metric_folds_into_its_overflow_series_and_is_counted() {
    let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = std::sync::Arc::clone(&said);
    genkit_azure::face::set_diagnostic_sink(Some(std::sync::Arc::new(move |m: &str| {
        sink.lock().unwrap().push(m.to_string())
    })));
    let emu = emulator();
    let telemetry = builder(&emu).metric_series_limit(10_000).build().unwrap();
    let login = |user: usize| {
        MetricPoint::new(MetricKind::Counter, "logins", 1.0)
            .with_attribute(KeyValue::new("user", user.to_string()))
    };
    for user in 0..10_003 {
        telemetry.record_metric(login(user)).unwrap();
    }
    // A set it already has, and another metric, which has room of its own.
    telemetry.record_metric(login(0)).unwrap();
    telemetry
        .record_metric(
            MetricPoint::new(MetricKind::Counter, "signups", 4.0)
                .with_attribute(KeyValue::new("user", "10002")),
        )
        .unwrap();
    assert!(telemetry.flush(Duration::from_secs(30)).unwrap());

    let envs = items(&emu);
    let logins = metric(&envs, "logins");
    assert_eq!(logins.len(), 10_001, "10,000 sets and the overflow series");
    let overflow: Vec<&&Value> = logins
        .iter()
        .filter(|m| prop(m, OVERFLOW).is_some())
        .collect();
    assert_eq!(overflow.len(), 1);
    assert_eq!(prop(overflow[0], OVERFLOW), Some("true"));
    assert_eq!(
        prop(overflow[0], "user"),
        None,
        "the folded points lost their dimensions"
    );
    assert_eq!(value(overflow[0]), 3.0, "the 10,001st to 10,003rd sets");
    let sum: f64 = logins.iter().map(|m| value(m)).sum();
    assert_eq!(sum, 10_004.0, "nothing is lost");
    let user0 = logins
        .iter()
        .find(|m| prop(m, "user") == Some("0"))
        .unwrap();
    assert_eq!(value(user0), 2.0);
    let signups = metric(&envs, "signups");
    assert_eq!(signups.len(), 1);
    assert_eq!(prop(signups[0], "user"), Some("10002"));

    let s = telemetry.stats();
    assert_eq!(s.metric_series_overflowed, 3);
    let said: Vec<String> = said
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains("metric_series_limit"))
        .cloned()
        .collect();
    assert_eq!(
        said,
        ["metric 'logins' has reached metric_series_limit (10000 attribute sets); points with \
          new attribute sets fold into its otel.metric.overflow series from now on (counted in \
          metric_series_overflowed)"],
        "said once, for the metric that overflowed"
    );
    genkit_azure::face::set_diagnostic_sink(None);
    assert_eq!(s.metrics_accepted, 10_005);
    assert_eq!(s.items_delivered, 10_005, "each point is accounted for");
    telemetry.shutdown(Duration::from_secs(10)).unwrap();
}

/// Polls the emulator until a Metric named `name` arrived, without flushing.
fn wait_for_metric(emu: &genkit_azure_emulator::Emulator, name: &str) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let envs = items(emu);
        if !metric(&envs, name).is_empty() || std::time::Instant::now() > deadline {
            return envs;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_producers_points_leave_with_the_collection_that_asked_for_them() {
    use genkit_azure::CollectionWait;
    let emu = emulator();
    let telemetry = builder(&emu)
        .metric_export_interval(Duration::from_millis(300))
        .build()
        .unwrap();
    // What an OpenTelemetry SDK reader does on the pipeline's clock.
    let producer = telemetry.metric_producer().unwrap();
    let for_producer = telemetry.clone();
    let reader = std::thread::spawn(move || {
        let mut collections = 0;
        while producer.wait(None) == CollectionWait::Collect {
            if collections == 0 {
                let summary = MetricPoint::histogram_summary("latency_ms", 60.0, 3, 10.0, 30.0)
                    .with_attribute(KeyValue::new("route", "/orders"));
                for_producer.record_metric(summary).unwrap();
            }
            producer.collected().unwrap();
            collections += 1;
        }
        collections
    });
    telemetry
        .record_metric(MetricPoint::new(MetricKind::Counter, "orders", 2.0))
        .unwrap();

    let envs = wait_for_metric(&emu, "latency_ms");
    let latency = metric(&envs, "latency_ms");
    assert_eq!(latency.len(), 1, "{envs:#?}");
    assert_eq!(
        latency[0]["data"]["baseData"]["metrics"][0],
        serde_json::json!({"name": "latency_ms", "value": 60, "count": 3, "min": 10, "max": 30})
    );
    assert_eq!(prop(latency[0], "route"), Some("/orders"));
    // One collection: the series recorded here went in the same body.
    let orders = metric(&envs, "orders");
    assert_eq!(orders.len(), 1, "{envs:#?}");
    assert_eq!(orders[0]["time"], latency[0]["time"]);

    assert!(telemetry.shutdown(Duration::from_secs(10)).unwrap());
    let collections = reader.join().unwrap();
    assert!(collections >= 1, "shutdown ends the producer's wait");
}

#[test]
fn a_producer_that_does_not_answer_delays_a_collection_by_the_grace_never_stops_it() {
    let emu = emulator();
    let telemetry = builder(&emu)
        .metric_export_interval(Duration::from_millis(300))
        .build()
        .unwrap();
    let silent = telemetry.metric_producer().unwrap();
    telemetry
        .record_metric(MetricPoint::new(MetricKind::Counter, "orders", 2.0))
        .unwrap();
    let started = std::time::Instant::now();
    let envs = wait_for_metric(&emu, "orders");
    assert_eq!(metric(&envs, "orders").len(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(silent);
    telemetry.shutdown(Duration::from_secs(10)).unwrap();
}
