//! Where Live Metrics taps the pipeline: the worker hands each span, log and
//! custom item it takes in to the [`Tap`], on the background runtime, and the
//! tap reads it only while someone watches (one atomic load otherwise). The interval's
//! counters, derived metrics and documents gather in a [`Collector`] that
//! the cycle empties on every post.

use super::configuration::Configuration;
use super::counters::StandardCounters;
use super::data_point::Identity;
use super::derived::Accumulator;
use super::documents::{document, MAX_DOCUMENTS};
use super::item::LiveItem;
use super::process::ProcessSample;
use crate::envelopes::ViewOptions;
use crate::ingest::{Custom, LogRecord, PackedSpan, SpanParts};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// The worker's handle on Live Metrics; does nothing when it is off.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tap {
    collector: Option<Arc<Collector>>,
}

impl Tap {
    /// Live Metrics off: observing costs a branch.
    pub fn off() -> Self {
        Self { collector: None }
    }

    pub(crate) fn new(collector: Arc<Collector>) -> Self {
        Self {
            collector: Some(collector),
        }
    }

    /// The collector, while someone watches.
    fn watching(&self) -> Option<&Collector> {
        self.collector
            .as_deref()
            .filter(|c| c.watching.load(Relaxed))
    }

    /// A span the worker took in: its Request or dependency and its
    /// exceptions, read as the writer reads them.
    pub fn span(&self, span: &PackedSpan) {
        let Some(c) = self.watching() else {
            return;
        };
        let mut parts = SpanParts::default();
        // Malformed bytes never come from `SpanPacker`; what was read counts.
        let _ = parts.read(span);
        let mut items = Vec::with_capacity(1 + parts.events.len());
        LiveItem::from_span(&parts, &c.view, &mut items);
        c.add(&items);
    }

    /// A log record: a Trace, or an Exception.
    pub fn log(&self, log: &LogRecord) {
        if let Some(c) = self.watching() {
            c.add(&[LiveItem::from_log(log)]);
        }
    }

    /// A custom event or tracked exception (availability results have no
    /// Live Metrics form).
    pub fn custom(&self, custom: &Custom) {
        if let Some(c) = self.watching() {
            if let Some(item) = LiveItem::from_custom(custom) {
                c.add(&[item]);
            }
        }
    }
}

/// One post interval's data so far.
#[derive(Debug, Default)]
struct Interval {
    counters: StandardCounters,
    configuration: Arc<Configuration>,
    /// One per derived metric of `configuration`, in its order.
    derived: Vec<Accumulator>,
    documents: Vec<Value>,
}

/// What a post sends, taken out of the collector.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    pub counters: StandardCounters,
    /// `(metric id, value)` of every derived metric.
    pub derived: Vec<(String, f64)>,
    pub documents: Vec<Value>,
    /// The configuration's errors, sent back with every post.
    pub errors: Vec<Value>,
}

impl Taken {
    /// The post that carries this interval: the standard counters (with
    /// `process`'s gauges), the derived metrics, documents and errors.
    pub fn post_body(self, identity: &Identity, process: ProcessSample) -> Vec<u8> {
        let mut metrics: Vec<(&str, f64)> = self.counters.metrics(process);
        metrics.extend(self.derived.iter().map(|(id, v)| (id.as_str(), *v)));
        identity.post_body(SystemTime::now(), &metrics, self.documents, self.errors)
    }
}

/// Shared by the tap (the worker's task) and the cycle.
#[derive(Debug)]
pub(crate) struct Collector {
    /// Someone watches: items are read and gathered.
    watching: AtomicBool,
    /// How spans are read (what is redacted), as the writer reads them.
    view: ViewOptions,
    interval: Mutex<Interval>,
}

impl Collector {
    pub fn new(view: ViewOptions) -> Self {
        Self {
            watching: AtomicBool::new(false),
            view,
            interval: Mutex::new(Interval::default()),
        }
    }

    fn interval(&self) -> MutexGuard<'_, Interval> {
        self.interval.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A session starts: gather from now on, from an empty interval.
    pub fn start_watching(&self) {
        let mut i = self.interval();
        i.counters = StandardCounters::default();
        i.derived = vec![Accumulator::default(); i.configuration.metrics.len()];
        i.documents.clear();
        self.watching.store(true, Relaxed);
    }

    /// The session ended: stop reading items.
    pub fn stop_watching(&self) {
        self.watching.store(false, Relaxed);
    }

    /// A new filter configuration applies from now on.
    pub fn install(&self, configuration: Configuration) {
        let mut i = self.interval();
        i.derived = vec![Accumulator::default(); configuration.metrics.len()];
        i.configuration = Arc::new(configuration);
    }

    pub(super) fn add(&self, items: &[LiveItem<'_>]) {
        let mut guard = self.interval();
        let Interval {
            counters,
            configuration,
            derived,
            documents,
        } = &mut *guard;
        for item in items {
            counters.add(item);
            for (metric, acc) in configuration.metrics.iter().zip(derived.iter_mut()) {
                if let Some(value) = metric.project(item) {
                    acc.add(value);
                }
            }
            if documents.len() < MAX_DOCUMENTS {
                if let Some(streams) = configuration.stream_ids(item) {
                    documents.push(document(item, &streams));
                }
            }
        }
    }

    /// Empties the interval for a post.
    pub fn take(&self) -> Taken {
        let mut i = self.interval();
        let configuration = Arc::clone(&i.configuration);
        let derived = configuration
            .metrics
            .iter()
            .zip(i.derived.iter_mut())
            .map(|(m, acc)| (m.id.clone(), std::mem::take(acc).value(m.aggregation)))
            .collect();
        Taken {
            counters: std::mem::take(&mut i.counters),
            derived,
            documents: std::mem::take(&mut i.documents),
            errors: configuration.errors.iter().map(|e| e.to_json()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::CustomEvent;
    use crate::live::counters::{EXCEPTIONS, REQUESTS, REQUESTS_FAILED};
    use crate::live::process::ProcessSample;
    use crate::live::test_support::{span, span_with_exceptions};
    use opentelemetry::logs::Severity;
    use opentelemetry::trace::SpanKind;
    use opentelemetry::KeyValue;

    const GAUGES: ProcessSample = ProcessSample {
        cpu_percent: 0.0,
        memory_bytes: 0,
    };

    fn counted(taken: &Taken, name: &str) -> Option<f64> {
        taken
            .counters
            .metrics(GAUGES)
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    #[test]
    fn nothing_is_read_while_nobody_watches() {
        let c = Arc::new(Collector::new(ViewOptions::default()));
        let tap = Tap::new(Arc::clone(&c));
        tap.span(&span(SpanKind::Server, "GET", vec![], true, 5));
        c.start_watching();
        assert_eq!(counted(&c.take(), REQUESTS), None);
        tap.span(&span(SpanKind::Server, "GET", vec![], true, 5));
        c.stop_watching();
        tap.span(&span(SpanKind::Server, "GET", vec![], true, 5));
        assert_eq!(counted(&c.take(), REQUESTS), Some(1.0));
        Tap::off().span(&span(SpanKind::Server, "GET", vec![], true, 5));
    }

    #[test]
    fn spans_logs_and_custom_items_feed_counters_metrics_and_documents() {
        let c = Arc::new(Collector::new(ViewOptions::default()));
        let tap = Tap::new(Arc::clone(&c));
        c.install(Configuration::parse(
            "e",
            br#"{"Metrics": [{"Id": "tokens", "TelemetryType": "Request",
                  "FilterGroups": [{"Filters": [{"FieldName": "Success", "Predicate": "Equal", "Comparand": "true"}]}],
                  "Projection": "CustomDimensions.tokens", "Aggregation": "Sum"}],
                 "DocumentStreams": [{"Id": "failures", "DocumentFilterGroups": [
                  {"TelemetryType": "Request", "Filters": {"Filters": [{"FieldName": "Success", "Predicate": "Equal", "Comparand": "false"}]}}]}]}"#,
        ));
        c.start_watching();
        let tokens = |n: i64| vec![KeyValue::new("tokens", n)];
        tap.span(&span(SpanKind::Server, "a", tokens(10), true, 5));
        tap.span(&span(SpanKind::Server, "b", tokens(20), true, 5));
        tap.span(&span_with_exceptions(
            SpanKind::Server,
            "c",
            tokens(40),
            false,
            5,
            2,
        ));
        tap.log(&LogRecord::new(Severity::Info, "hello"));
        tap.custom(&Custom::Event(CustomEvent::new("placed")));
        let taken = c.take();
        assert_eq!(counted(&taken, REQUESTS), Some(2.0));
        assert_eq!(counted(&taken, REQUESTS_FAILED), Some(1.0));
        assert_eq!(counted(&taken, EXCEPTIONS), Some(2.0));
        assert_eq!(taken.derived, [("tokens".to_string(), 30.0)]);
        let kinds: Vec<_> = taken
            .documents
            .iter()
            .map(|d| {
                (
                    d["DocumentType"].as_str().unwrap(),
                    d["DocumentStreamIds"].clone(),
                )
            })
            .collect();
        // Requests are covered by the stream: only the failed one, tagged;
        // the other types go untagged.
        assert_eq!(
            kinds,
            [
                ("Request", serde_json::json!(["failures"])),
                ("Exception", serde_json::json!([])),
                ("Exception", serde_json::json!([])),
                ("Trace", serde_json::json!([])),
                ("Event", serde_json::json!([])),
            ]
        );
        // The next interval starts empty; derived metrics post 0.
        let next = c.take();
        assert_eq!(counted(&next, REQUESTS), None);
        assert_eq!(next.derived, [("tokens".to_string(), 0.0)]);
        assert!(next.documents.is_empty());
    }

    #[test]
    fn documents_are_capped_per_interval() {
        let c = Arc::new(Collector::new(ViewOptions::default()));
        let tap = Tap::new(Arc::clone(&c));
        c.start_watching();
        for _ in 0..MAX_DOCUMENTS + 5 {
            tap.log(&LogRecord::new(Severity::Info, "x"));
        }
        assert_eq!(c.take().documents.len(), MAX_DOCUMENTS);
    }
}
