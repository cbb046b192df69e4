//! A Rust host's diagnostics go through `tracing` once it has set a global
//! subscriber: a WARN event of target `genkit_azure` whose message says what
//! went wrong (here: the endpoint cannot be reached), rate-limited as on
//! stderr, without the instrumentation key; a sink a face installed
//! (`face::set_diagnostic_sink`, the C callback and the Python logger) still
//! comes first. A test binary of its own: the global subscriber is for good.

mod common;

use common::IKEY;
use genkit_azure::opentelemetry::logs::Severity;
use genkit_azure::{face, AzureTelemetry, LogRecord};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Every event of target `genkit_azure`: its level and message.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(Level, String)>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if event.metadata().target() != "genkit_azure" {
            return;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), message.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// A pipeline whose endpoint refuses connections (a port nobody listens on).
fn unreachable() -> AzureTelemetry {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    AzureTelemetry::builder()
        .connection_string(format!(
            "InstrumentationKey={IKEY};IngestionEndpoint=http://127.0.0.1:{port}/"
        ))
        .service_name("tracing-test")
        .batch_delay(Duration::from_millis(10))
        .retry_delays(Duration::from_millis(20), Duration::from_millis(50))
        .disable_storage()
        .enable_live_metrics(false)
        .build()
        .unwrap()
}

fn fail_to_send(t: &AzureTelemetry, rounds: usize) {
    for i in 0..rounds {
        t.emit_log(LogRecord::new(Severity::Info, format!("lost {i}")))
            .unwrap();
        let _ = t.flush(Duration::from_millis(300));
    }
}

#[test]
fn diagnostics_become_tracing_events_once_a_subscriber_is_set() {
    let capture = Capture::default();
    tracing::subscriber::set_global_default(capture.clone()).unwrap();

    // A sink wins: nothing reaches tracing while one is installed.
    let sunk = Arc::new(Mutex::new(Vec::<String>::new()));
    let to = Arc::clone(&sunk);
    face::set_diagnostic_sink(Some(Arc::new(move |t: &str| {
        to.lock().unwrap().push(t.to_string())
    })));
    let t = unreachable();
    fail_to_send(&t, 1);
    t.shutdown(Duration::from_millis(200)).unwrap();
    assert!(!sunk.lock().unwrap().is_empty(), "the sink heard it");
    assert!(capture.0.lock().unwrap().is_empty(), "tracing did not");

    // No sink: tracing hears it, at WARN, once per kind per period.
    face::set_diagnostic_sink(None);
    let t = unreachable();
    fail_to_send(&t, 4);
    let events = capture.0.lock().unwrap().clone();
    t.shutdown(Duration::from_millis(200)).unwrap();
    let unreachable: Vec<&(Level, String)> = events
        .iter()
        .filter(|(_, m)| m.contains("could not connect"))
        .collect();
    assert_eq!(unreachable.len(), 1, "rate-limited: {events:?}");
    assert!(
        events.iter().all(|(level, _)| *level == Level::WARN),
        "{events:?}"
    );
    assert!(events.iter().all(|(_, m)| !m.contains(IKEY)), "{events:?}");
}
