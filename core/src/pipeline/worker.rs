//! The background worker: takes items off the ingest queue, batches them by
//! size and age, and runs exports concurrently (bounded), each in a task of its
//! own so that a panic in mapping costs one counted batch, never the pipeline.
//!
//! It sees every item in arrival order on one task, which is where per-trace
//! state lives: Genkit enrichment (`enrich.rs`) marks failure sources and
//! derives Genkit's metric points (aggregated here with the host's) and log
//! records (batched with the host's). Derived items are counted
//! (`metrics_derived`, `logs_derived`) and settle like accepted ones. With
//! traces off, spans still come here for that, and stop here
//! (`spans_not_exported`).

use super::agents;
use super::collection::CollectionRequests;
use super::enrich::{Enricher, GenkitOptions};
use super::msg::{Msg, ShutdownMarker};
use super::pending::{BatchLimits, Gathering};
use super::queue::Receiver;
use crate::accounting::{Counters, DropReason, Fate, Ledger};
use crate::delivery::{Delivery, Payload};
use crate::envelopes::{AzureExporter, Batch, MetricsRecorder, Recorded};
use crate::ingest::{LogRecord, PackedSpan};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How long the worker lets items gather after draining the queue.
const LINGER: Duration = Duration::from_millis(2);

/// The longest a due collection waits for metric producers' points.
const PRODUCER_GRACE: Duration = Duration::from_secs(1);

#[derive(PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

pub(crate) struct WorkerSettings {
    pub batch_limits: BatchLimits,
    pub batch_delay: Duration,
    /// Batches mapped (serialised and compressed) at once: CPU-bound work,
    /// so about the runtime's thread count.
    pub max_concurrent_mappings: usize,
    /// How often metric series are collected and sent (and on every flush).
    pub metric_interval: Duration,
    /// What is derived from Genkit spans.
    pub genkit: GenkitOptions,
    /// Spans are exported (off with `disable_traces`: they still come here
    /// while Genkit's metrics or logs are derived from them, then stop).
    pub export_spans: bool,
    /// Logs derived from a span go with its trace's sampling
    /// (`enable_trace_based_sampling_for_logs`).
    pub sample_logs: bool,
    /// Attribute sets one metric may have before new ones overflow.
    pub metric_series_limit: usize,
    /// Producers asked for their points before each collection.
    pub collection_requests: Arc<CollectionRequests>,
    /// Live Metrics' view of what is taken in (`crate::live`).
    pub live: crate::live::Tap,
}

pub(crate) struct Worker {
    rx: Receiver,
    exporter: Arc<AzureExporter>,
    delivery: Arc<Delivery>,
    counters: Arc<Counters>,
    ledger: Ledger,
    settings: WorkerSettings,
    permits: Arc<Semaphore>,
    gathering: Gathering,
    metrics: MetricsRecorder,
    /// When the metric series are next collected (or, while producers are
    /// asked, when the collection stops waiting for them).
    next_metrics: tokio::time::Instant,
    /// When spans held tentatively for the agent tracker are next swept
    /// (see `agents.rs`).
    next_sweep: tokio::time::Instant,
    /// Producers asked for their points that have not answered yet.
    awaiting_producers: Option<usize>,
    /// When the oldest item of the pending batches arrived.
    oldest: Option<tokio::time::Instant>,
    enricher: Enricher,
    /// Log records derived from the span at hand (kept for its capacity).
    derived: Vec<LogRecord>,
    /// Spans held for their agent that go on now (kept for its capacity).
    released: Vec<PackedSpan>,
}

impl Worker {
    pub fn new(
        rx: Receiver,
        exporter: Arc<AzureExporter>,
        delivery: Arc<Delivery>,
        ledger: Ledger,
        settings: WorkerSettings,
    ) -> Self {
        Self {
            rx,
            exporter,
            delivery,
            counters: Arc::clone(ledger.counters()),
            ledger,
            permits: Arc::new(Semaphore::new(settings.max_concurrent_mappings)),
            gathering: Gathering::new(settings.batch_limits),
            metrics: MetricsRecorder::new(settings.metric_series_limit),
            next_metrics: tokio::time::Instant::now() + settings.metric_interval,
            next_sweep: tokio::time::Instant::now(),
            enricher: Enricher::new(settings.genkit.clone()),
            awaiting_producers: None,
            settings,
            oldest: None,
            derived: Vec::new(),
            released: Vec::new(),
        }
    }

    pub async fn run(mut self) {
        loop {
            let deadline = self.oldest.map(|t| t + self.settings.batch_delay);
            let metrics_due = (self.metrics.has_series()
                || self.settings.collection_requests.producers() > 0)
                .then_some(self.next_metrics);
            let sweep_due = self.enricher.sweeps().then_some(self.next_sweep);
            let msg = tokio::select! {
                biased;
                msg = self.rx.recv() => msg,
                _ = sleep_until(deadline), if deadline.is_some() => {
                    self.send_pending().await;
                    continue;
                }
                _ = sleep_until(metrics_due), if metrics_due.is_some() => {
                    self.metrics_due().await;
                    continue;
                }
                _ = sleep_until(sweep_due), if sweep_due.is_some() => {
                    self.sweep_held().await;
                    continue;
                }
            };
            let Some(msg) = msg else {
                // Every handle was dropped without shutdown: send what we have.
                self.release_held().await;
                self.send_pending().await;
                return;
            };
            if self.on_msg(msg).await == Flow::Stop {
                return;
            }
            // Take what else is queued without waiting, one item ahead: the
            // next span's bytes load while this one is handled (see
            // `PackedSpan::prefetch`). Nothing is taken past a shutdown
            // marker, which drains the queue itself.
            let mut next = self.rx.try_recv();
            while let Some(msg) = next.take() {
                if !matches!(msg, Msg::Shutdown(_)) {
                    next = self.rx.try_recv();
                    if let Some(Msg::Span(span)) = &next {
                        span.prefetch();
                    }
                }
                if self.on_msg(msg).await == Flow::Stop {
                    return;
                }
            }
            // A queue that never runs dry must not starve the collection.
            if tokio::time::Instant::now() >= self.next_metrics {
                self.metrics_due().await;
            }
            if self.enricher.sweeps() && tokio::time::Instant::now() >= self.next_sweep {
                self.sweep_held().await;
            }
            // ...then let the next items gather. While this task waits in
            // `recv`, every push wakes it: a futex wake and a context switch
            // charged to the host's thread, per span. A short pause turns that
            // into one wake per pause.
            tokio::time::sleep(LINGER.min(self.settings.batch_delay)).await;
        }
    }

    async fn on_msg(&mut self, msg: Msg) -> Flow {
        let Msg::Shutdown(marker) = msg else {
            self.handle(msg).await;
            return Flow::Go;
        };
        let ShutdownMarker { deadline, done } = *marker;
        self.rx.close();
        while let Some(msg) = self.rx.left_after_close(deadline).await {
            self.handle(msg).await;
        }
        self.release_held().await;
        self.send_pending().await;
        self.collect_metrics().await;
        self.wait_for_exports(deadline).await;
        let _ = done.send(self.ledger.allocated());
        Flow::Stop
    }

    async fn handle(&mut self, msg: Msg) {
        // Live Metrics sees every item as it is taken in (before sampling
        // and export decisions), and reads it only while someone watches.
        msg.show_to(&self.settings.live);
        match msg {
            Msg::Span(span) => {
                self.counters.queue_depth.fetch_sub(1, Relaxed);
                self.span(span).await;
            }
            item @ (Msg::Log(_) | Msg::Custom(_)) => {
                self.counters.queue_depth.fetch_sub(1, Relaxed);
                self.oldest.get_or_insert_with(tokio::time::Instant::now);
                if let Ok(Some(batch)) = self.gathering.push(item) {
                    self.dispatch(batch).await;
                }
            }
            Msg::Metric(point) => {
                self.counters.queue_depth.fetch_sub(1, Relaxed);
                if let Some(name) = count_fold(&self.counters, self.metrics.record(*point)) {
                    self.say_overflow(&name);
                }
            }
            Msg::MetricsCollected => {
                // An answer after the collection gave up waiting (or after a
                // flush collected) is late: its points wait for the next one.
                if let Some(left) = self.awaiting_producers.as_mut() {
                    *left = left.saturating_sub(1);
                    if *left == 0 {
                        self.collect_metrics().await;
                    }
                }
            }
            // Woken only: the loop arms the metric clock for it next.
            Msg::ProducerJoined => {}
            Msg::Flush(reply) => {
                self.release_held().await;
                self.send_pending().await;
                self.collect_metrics().await;
                let _ = reply.send(self.ledger.allocated());
            }
            // A second shutdown marker behind the first cannot happen: the
            // handle lets only one through.
            Msg::Shutdown(marker) => {
                let _ = marker.done.send(self.ledger.allocated());
            }
        }
    }

    /// Enriches a span, batches it (unless traces are off), then batches
    /// the logs derived from it.
    async fn span(&mut self, mut span: PackedSpan) {
        // Sampling dropped its trace: derived from, then dropped as with
        // traces off.
        let (sampled_out, sample_rate) = (span.sampled_out(), span.sample_rate());
        let exported = self.settings.export_spans && !sampled_out;
        // A model call's `Config[...]` record goes with its span when both
        // are exported alike (the record then takes the span's sampling).
        let config_with_span = exported && (self.settings.sample_logs || sample_rate.is_none());
        let (metrics, counters, derived) = (&mut self.metrics, &self.counters, &mut self.derived);
        let mut first_folds = Vec::new();
        let seen = self.enricher.enrich(
            &mut span,
            config_with_span,
            &mut |labels, measures| {
                // Borrowed: a series seen before costs no allocation, and
                // labels seen before are not even made a set again.
                let n = measures.len() as u64;
                Counters::add(&counters.metrics_derived, n);
                Counters::add(&counters.items_pending, n);
                metrics.record_group(
                    labels,
                    measures.iter().map(|m| (m.kind, m.name, m.value)),
                    &mut |recorded| first_folds.extend(count_fold(counters, recorded)),
                );
            },
            &mut |log| {
                Counters::add(&counters.logs_derived, 1);
                Counters::add(&counters.items_pending, 1);
                derived.push(log);
            },
        );
        for name in first_folds {
            self.say_overflow(&name);
        }
        if span.has_config_log() {
            // A derived log record, settled with the span's batch.
            Counters::add(&self.counters.logs_derived, 1);
            Counters::add(&self.counters.items_pending, 1);
        }
        // A span inside an agent may wait here for its main agent (`agents.rs`).
        let span = self
            .enricher
            .settle(seen, span, exported, &mut self.released);
        if exported {
            if let Some(span) = span {
                self.batch_span(span).await;
            }
        } else {
            // At its fate here: never batched, so no batch settles it.
            let c = &self.counters;
            let fate = match self.settings.export_spans {
                true => &c.spans_sampled_out,
                false => &c.spans_not_exported,
            };
            Counters::add(fate, 1);
            Counters::add(&self.counters.items_settled, 1);
            Counters::sub(&self.counters.items_pending, 1);
        }
        self.send_released().await;
        let mut derived = std::mem::take(&mut self.derived);
        for mut log in derived.drain(..) {
            // Logs sampled with their trace, as the host's are.
            if self.settings.sample_logs {
                if sampled_out {
                    Counters::add(&self.counters.logs_sampled_out, 1);
                    Counters::add(&self.counters.items_settled, 1);
                    Counters::sub(&self.counters.items_pending, 1);
                    continue;
                }
                log.sample_rate = sample_rate;
            }
            self.oldest.get_or_insert_with(tokio::time::Instant::now);
            if let Ok(Some(batch)) = self.gathering.push(Msg::Log(Box::new(log))) {
                self.dispatch(batch).await;
            }
        }
        self.derived = derived;
    }

    async fn batch_span(&mut self, span: PackedSpan) {
        self.oldest.get_or_insert_with(tokio::time::Instant::now);
        if let Ok(Some(batch)) = self.gathering.push(Msg::Span(span)) {
            self.dispatch(batch).await;
        }
    }

    /// Batches the spans the agent tracker released.
    async fn send_released(&mut self) {
        if self.released.is_empty() {
            return;
        }
        let mut released = std::mem::take(&mut self.released);
        for span in released.drain(..) {
            self.batch_span(span).await;
        }
        self.released = released;
    }

    /// Spans held tentatively for the agent tracker too long go on (see
    /// `agents.rs`); the next sweep is a batch delay away, at least
    /// `TENTATIVE_SWEEP_MIN`.
    async fn sweep_held(&mut self) {
        self.enricher.sweep(&mut self.released);
        self.send_released().await;
        let period = self.settings.batch_delay.max(agents::TENTATIVE_SWEEP_MIN);
        self.next_sweep = tokio::time::Instant::now() + period;
    }

    /// Every span still held for its agent goes on (a flush, the shutdown).
    async fn release_held(&mut self) {
        self.enricher.release_all(&mut self.released);
        self.send_released().await;
    }

    /// Says once per metric that it reached `metric_series_limit`.
    fn say_overflow(&self, name: &str) {
        let limit = self.settings.metric_series_limit;
        self.delivery.diagnostics().say_now(&format!(
            "metric '{}' has reached metric_series_limit ({limit} attribute sets); points with \
             new attribute sets fold into its otel.metric.overflow series from now on \
             (counted in metric_series_overflowed)",
            crate::text::truncated(name, 200)
        ));
    }

    async fn send_pending(&mut self) {
        for batch in self.gathering.take_all() {
            self.dispatch(batch).await;
        }
        self.oldest = None;
    }

    /// The metric interval has passed: asks the metric producers for their
    /// points first (the collection then waits for their answers, at most a
    /// grace), or collects now when there are none, or when the grace for
    /// their answers has passed.
    async fn metrics_due(&mut self) {
        if self.awaiting_producers.is_none() {
            let asked = self.settings.collection_requests.request();
            if asked > 0 {
                self.awaiting_producers = Some(asked);
                let grace = PRODUCER_GRACE.min(self.settings.metric_interval / 2);
                self.next_metrics = tokio::time::Instant::now() + grace;
                return;
            }
        }
        self.collect_metrics().await;
    }

    /// Sends the metric series recorded since the last collection (and the
    /// up-down counters' totals) as a batch of its own, so that `flush` waits
    /// for it too and its points are accounted for like items.
    async fn collect_metrics(&mut self) {
        self.awaiting_producers = None;
        self.next_metrics = tokio::time::Instant::now() + self.settings.metric_interval;
        if !self.metrics.has_series() {
            return;
        }
        let (series, points) = self.metrics.collect();
        self.dispatch(Batch::Metrics { series, points }).await;
    }

    async fn dispatch(&mut self, batch: Batch) {
        if self.gathering.is_empty() {
            self.oldest = None;
        }
        let part = self.ledger.open(batch.len() as u64);
        // Waiting here is the back-pressure on CPU: while every mapping slot is
        // busy the queue fills (then spills). Sending is not waited for here:
        // a mapped batch is ~30 bytes a span, so batches waiting for the
        // network wait compressed, in delivery, not as spans in this queue.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let exporter = Arc::clone(&self.exporter);
        let delivery = Arc::clone(&self.delivery);
        let counters = Arc::clone(&self.counters);
        // Mapping runs in a task of its own so a panic in it is contained;
        // the part stays out here, so a panic is counted as a mapping error.
        let mapping = tokio::spawn(async move { exporter.write(&batch) });
        tokio::spawn(async move {
            let mapped = mapping.await;
            drop(permit);
            match mapped {
                Ok(Ok(body)) => {
                    Counters::add(&counters.values_truncated, body.cut);
                    let payload = Payload::written(body.gzip.into(), body.envelopes, part);
                    delivery.deliver_written(payload, body.json_bytes).await;
                }
                Ok(Err(_)) => part.finish(Fate::Dropped(DropReason::WriteFailed)),
                Err(_) => part.finish(Fate::Dropped(DropReason::MappingPanicked)),
            }
        });
    }

    async fn wait_for_exports(&self, deadline: Instant) {
        let all = self.settings.max_concurrent_mappings as u32;
        let _ = tokio::time::timeout_at(deadline.into(), self.permits.acquire_many(all)).await;
    }
}

/// Counts a point folded into its metric's overflow series; the metric's
/// name when this was its first fold (to be said).
fn count_fold(counters: &Counters, recorded: Recorded) -> Option<String> {
    match recorded {
        Recorded::InSeries => None,
        Recorded::Overflowed => {
            Counters::add(&counters.metric_series_overflowed, 1);
            None
        }
        Recorded::FirstOverflow(name) => {
            Counters::add(&counters.metric_series_overflowed, 1);
            Some(name)
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
