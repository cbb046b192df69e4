//! The OpenTelemetry metrics API in Rust (an `opentelemetry_sdk`
//! `SdkMeterProvider` with an `AzureMetricReader`) into the emulator as
//! customMetrics: every instrument kind with its dimensions, flushes, and
//! deltas on the pipeline's clock.

mod common;

use common::*;
use genkit_azure::opentelemetry::metrics::MeterProvider as _;
use genkit_azure::opentelemetry::{global, KeyValue};
use genkit_azure::opentelemetry_sdk::metrics::SdkMeterProvider;
use genkit_azure::{AzureMetricReader, AzureTelemetry};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn provider(telemetry: &AzureTelemetry) -> SdkMeterProvider {
    SdkMeterProvider::builder()
        .with_reader(AzureMetricReader::new(telemetry.clone()))
        .build()
}

/// The Metric envelopes named `name`, in arrival order.
fn metric<'a>(envs: &'a [Value], name: &str) -> Vec<&'a Value> {
    of_kind(envs, "Metric")
        .into_iter()
        .filter(|m| m["data"]["baseData"]["metrics"][0]["name"] == name)
        .collect()
}

fn data_point(m: &Value) -> &Value {
    &m["data"]["baseData"]["metrics"][0]
}

fn value(m: &Value) -> f64 {
    data_point(m)["value"].as_f64().unwrap()
}

/// Polls the emulator, without flushing, until `done` holds (10 s at most).
fn wait_until(emu: &genkit_azure_emulator::Emulator, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let envs = items(emu);
        if done(&envs) || Instant::now() > deadline {
            return envs;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The global meter, as applications use it; the other tests use their own
/// provider's meters, since the global provider is one for the process.
#[test]
fn every_instrument_kind_arrives_with_its_dimensions_on_flush() {
    let emu = emulator();
    // An hour: only the flush can send them.
    let telemetry = builder(&emu)
        .metric_export_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let provider = provider(&telemetry);
    global::set_meter_provider(provider.clone());
    let meter = global::meter("shop");

    let orders = meter.u64_counter("orders").build();
    orders.add(2, &[KeyValue::new("region", "eu")]);
    orders.add(3, &[KeyValue::new("region", "eu")]);
    orders.add(7, &[KeyValue::new("region", "us")]);
    let carts = meter.i64_up_down_counter("open_carts").build();
    carts.add(5, &[KeyValue::new("tier", "gold")]);
    carts.add(-2, &[KeyValue::new("tier", "gold")]);
    let latency = meter.f64_histogram("checkout_ms").build();
    for ms in [12.5, 230.0, 80.0] {
        latency.record(ms, &[KeyValue::new("route", "/checkout")]);
    }
    let _temperature = meter
        .f64_observable_gauge("oven_celsius")
        .with_callback(|observer| {
            observer.observe(
                212.5,
                &[KeyValue::new("oven", "left"), KeyValue::new("site", "berlin")],
            );
            observer.observe(
                180.0,
                &[KeyValue::new("oven", "right"), KeyValue::new("site", "berlin")],
            );
        })
        .build();

    assert!(telemetry.flush(Duration::from_secs(30)).unwrap());

    let envs = items(&emu);
    let orders = metric(&envs, "orders");
    assert_eq!(orders.len(), 2, "{envs:#?}");
    let eu = orders.iter().find(|m| prop(m, "region") == Some("eu")).unwrap();
    let us = orders.iter().find(|m| prop(m, "region") == Some("us")).unwrap();
    assert_eq!((value(eu), value(us)), (5.0, 7.0));

    let carts = metric(&envs, "open_carts");
    assert_eq!(carts.len(), 1, "{envs:#?}");
    assert_eq!(value(carts[0]), 3.0);
    assert_eq!(prop(carts[0], "tier"), Some("gold"));

    let latency = metric(&envs, "checkout_ms");
    assert_eq!(latency.len(), 1, "{envs:#?}");
    assert_eq!(
        *data_point(latency[0]),
        json!({"name": "checkout_ms", "value": 322.5, "count": 3, "min": 12.5, "max": 230})
    );
    assert_eq!(prop(latency[0], "route"), Some("/checkout"));

    let ovens = metric(&envs, "oven_celsius");
    assert_eq!(ovens.len(), 2, "{envs:#?}");
    let left = ovens.iter().find(|m| prop(m, "oven") == Some("left")).unwrap();
    let right = ovens.iter().find(|m| prop(m, "oven") == Some("right")).unwrap();
    assert_eq!((value(left), value(right)), (212.5, 180.0));
    assert_eq!(prop(left, "site"), Some("berlin"));
    // Observed once, by the flush.
    assert_eq!(data_point(left)["count"], 1);

    let s = telemetry.stats();
    assert_eq!(s.metrics_accepted, 6, "one point per series: {s:?}");
    assert_eq!(s.items_delivered, 6);
    telemetry.shutdown(Duration::from_secs(10)).unwrap();
}

#[test]
fn the_providers_force_flush_and_the_pipelines_shutdown_send_pending_points() {
    let emu = emulator();
    let telemetry = builder(&emu)
        .metric_export_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let provider = provider(&telemetry);
    let counter = provider.meter("shop").u64_counter("refunds").build();

    counter.add(4, &[]);
    provider.force_flush().unwrap();
    let envs = items(&emu);
    let refunds = metric(&envs, "refunds");
    assert_eq!(refunds.len(), 1, "{envs:#?}");
    assert_eq!(value(refunds[0]), 4.0);

    // Shut down with a point pending and the provider still open.
    counter.add(6, &[]);
    assert!(telemetry.shutdown(Duration::from_secs(10)).unwrap());
    let envs = items(&emu);
    let refunds: Vec<f64> = metric(&envs, "refunds").into_iter().map(value).collect();
    assert_eq!(refunds, [4.0, 6.0]);
    // The provider's own shutdown finds the pipeline gone, and says so.
    assert!(provider.shutdown().is_err());
}

#[test]
fn deltas_leave_on_the_pipelines_clock_and_are_never_counted_twice() {
    let emu = emulator();
    let telemetry = builder(&emu)
        .metric_export_interval(Duration::from_millis(300))
        .build()
        .unwrap();
    let provider = provider(&telemetry);
    let meter = provider.meter("shop");
    let orders = meter.u64_counter("orders").build();
    let carts = meter.i64_up_down_counter("open_carts").build();
    let latency = meter.f64_histogram("checkout_ms").build();

    orders.add(5, &[]);
    carts.add(5, &[]);
    latency.record(10.0, &[]);
    latency.record(30.0, &[]);
    // No flush: the pipeline's collection asks the reader.
    let envs = wait_until(&emu, |e| metric(e, "checkout_ms").len() == 1);
    assert_eq!(metric(&envs, "orders").len(), 1, "{envs:#?}");
    // One collection: every series went in the same body.
    assert_eq!(
        metric(&envs, "orders")[0]["time"],
        metric(&envs, "checkout_ms")[0]["time"]
    );

    orders.add(3, &[]);
    carts.add(-2, &[]);
    latency.record(50.0, &[]);
    let envs = wait_until(&emu, |e| metric(e, "checkout_ms").len() == 2);
    let orders: Vec<f64> = metric(&envs, "orders").into_iter().map(value).collect();
    assert_eq!(orders, [5.0, 3.0], "deltas, not totals");
    // The pipeline keeps an up-down counter's running total from its
    // changes, and sends it every interval.
    let latency = metric(&envs, "checkout_ms");
    let carts_at = |body: &Value| {
        let carts = metric(&envs, "open_carts");
        let at: Vec<f64> = carts
            .iter()
            .filter(|m| m["time"] == body["time"])
            .map(|m| value(m))
            .collect();
        assert_eq!(at.len(), 1, "{carts:#?}");
        at[0]
    };
    assert_eq!((carts_at(latency[0]), carts_at(latency[1])), (5.0, 3.0));
    let latency: Vec<&Value> = latency.into_iter().map(data_point).collect();
    assert_eq!(latency[0]["count"], 2);
    assert_eq!(
        *latency[1],
        json!({"name": "checkout_ms", "value": 50, "count": 1, "min": 50, "max": 50})
    );

    // A quiet interval sends no counter or histogram series.
    let before = items(&emu).len();
    std::thread::sleep(Duration::from_millis(700));
    let envs = items(&emu);
    assert_eq!(metric(&envs, "orders").len(), 2, "{:#?}", &envs[before..]);
    assert_eq!(metric(&envs, "checkout_ms").len(), 2);

    provider.shutdown().unwrap();
    assert!(telemetry.shutdown(Duration::from_secs(10)).unwrap());
}
