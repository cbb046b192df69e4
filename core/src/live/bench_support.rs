//! Fuzzing support, NOT API: the Live Metrics collector fed a filter
//! configuration as the service sends it and items of any content, as the
//! `live_configuration` fuzz target (`fuzz/`) drives it. Compiled only with
//! the `bench` feature, hidden from the docs, and free to change.

use super::configuration::Configuration;
use super::data_point::Identity;
use super::item::{LiveItem, TelemetryType};
use super::process::ProcessSample;
use super::tap::Collector;
use crate::envelopes::ViewOptions;
use opentelemetry_sdk::Resource;
use std::borrow::Cow;

/// An item's fields as Live Metrics reads them; a field its type does not
/// have may hold anything (the filters must still behave).
#[derive(Debug, Clone, Default)]
pub struct LiveFields {
    /// Request, dependency, exception, event, trace: 0-4 (modulo 5).
    pub kind: u8,
    pub name: String,
    pub url: String,
    pub code: String,
    pub duration_nanos: u64,
    pub success: bool,
    pub target: String,
    pub dependency_type: String,
    pub data: String,
    pub message: String,
    pub exception_type: String,
    pub stack: String,
    pub dimensions: Vec<(String, String)>,
}

impl LiveFields {
    fn item(&self) -> LiveItem<'_> {
        fn text(s: &str) -> Cow<'_, str> {
            Cow::Borrowed(s)
        }
        LiveItem {
            kind: TelemetryType::ALL[self.kind as usize % TelemetryType::ALL.len()],
            name: text(&self.name),
            url: text(&self.url),
            code: text(&self.code),
            duration_nanos: self.duration_nanos,
            success: self.success,
            target: text(&self.target),
            dependency_type: text(&self.dependency_type),
            data: text(&self.data),
            message: text(&self.message),
            exception_type: text(&self.exception_type),
            stack: text(&self.stack),
            dimensions: self
                .dimensions
                .iter()
                .map(|(k, v)| (text(k), text(v)))
                .collect(),
        }
    }
}

/// A watched collector with one configuration installed.
#[derive(Debug)]
pub struct LiveCollector {
    collector: Collector,
    identity: Identity,
    metrics: usize,
    streams: usize,
    errors: usize,
}

impl LiveCollector {
    /// Compiles `body` as the configuration sent with `etag` and installs
    /// it, as the live cycle does with the service's answer.
    pub fn new(etag: &str, body: &[u8]) -> Self {
        let configuration = Configuration::parse(etag, body);
        let (metrics, streams, errors) = (
            configuration.metrics.len(),
            configuration.streams.len(),
            configuration.errors.len(),
        );
        let collector = Collector::new(ViewOptions::default());
        collector.install(configuration);
        collector.start_watching();
        Self {
            collector,
            identity: Identity::new(&Resource::builder_empty().build(), false),
            metrics,
            streams,
            errors,
        }
    }

    /// Derived metrics, document streams and errors the configuration
    /// compiled to.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.metrics, self.streams, self.errors)
    }

    /// Gathers `items` into the interval, as the tap does.
    pub fn add(&self, items: &[LiveFields]) {
        let items: Vec<LiveItem<'_>> = items.iter().map(LiveFields::item).collect();
        self.collector.add(&items);
    }

    /// Ends the interval: the body of the post that would carry it (the
    /// process's gauges at zero).
    pub fn post(&self) -> Vec<u8> {
        let idle = ProcessSample {
            cpu_percent: 0.0,
            memory_bytes: 0,
        };
        self.collector.take().post_body(&self.identity, idle)
    }
}
