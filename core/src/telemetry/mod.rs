//! `AzureTelemetry`: the handle every face holds.
//!
//! Pushing never blocks and never waits on I/O: items go into a bounded queue
//! read by a worker on a background tokio runtime that this handle owns.

mod block_on;
mod builder;
mod metric_producer;
mod metric_reader;
mod span_processor;

pub use builder::AzureTelemetryBuilder;
pub use metric_producer::MetricProducer;
pub use metric_reader::{AzureMetricReader, AzureMetricReaderBuilder};
pub use span_processor::AzureSpanProcessor;

use crate::accounting::{Counters, Ledger, Progress, Stats};
use crate::auth::{self, SharedCredential};
use crate::config::{build_resource, Config, ConnectionString, Exports, CONNECTION_STRING_ENV};
use crate::delivery::{
    default_directory, Backoff, Delivery, RequestLimits, Sender, Storage, StorageError,
    StorageSettings, REQUEST_LIMITS,
};
use crate::envelopes::{AzureExporter, ViewOptions};
use crate::error::{Error, Result};
use crate::ingest::{
    AvailabilityResult, Custom, CustomEvent, LogRecord, MetricPoint, Operations, PackedSpan,
    TrackedException,
};
use crate::pipeline::{
    queue, BatchLimits, CollectionRequests, Msg, ShutdownMarker, Spill, Worker, WorkerSettings,
};
use block_on::block_on_until;
use opentelemetry::trace::SpanId;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TrySendError;

/// What happened to an item handed to the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// In the queue; it will be delivered or counted. (An item of a trace
    /// sampling dropped is taken in and counted in its `*_sampled_out` at
    /// once.)
    Accepted,
    /// The queue was full; counted in `dropped_queue_full`.
    DroppedQueueFull,
    /// Its signal is not exported (`disable_logs`, `disable_metrics`, all
    /// signals but traces, or Genkit's dev mode without `force_dev_export`):
    /// not taken in, not counted.
    Disabled,
}

/// A running telemetry pipeline. Cheap to clone; all clones share it.
#[derive(Clone, Debug)]
pub struct AzureTelemetry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tx: queue::Sender,
    /// Where spans and logs go when `tx` is full; `None` without persistence.
    spill_tx: Option<queue::Sender>,
    /// Batch ids below this were covered by an earlier flush.
    flushed_below: Mutex<u64>,
    delivery: Arc<Delivery>,
    counters: Arc<Counters>,
    progress: Arc<Progress>,
    /// Opens and settles batches; stopped when shutdown starts.
    ledger: Ledger,
    /// Metric producers asked for their points before each collection.
    collection_requests: Arc<CollectionRequests>,
    shut_down: AtomicBool,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    resource: Resource,
    connection_string: ConnectionString,
    /// The settings it was started with, for faces' tests (`resolved_config`).
    config: Config,
    /// Operation names of open spans, registered by the faces' `on_start`.
    operations: Operations,
    exports: Exports,
    /// Tests only: runs between shutdown's last flush and its shutdown
    /// marker, where a push that passed the shut-down check before the
    /// check's flag was set can land.
    #[cfg(test)]
    before_shutdown_marker: Mutex<Option<fn(&AzureTelemetry)>>,
}

impl AzureTelemetry {
    pub fn builder() -> AzureTelemetryBuilder {
        AzureTelemetryBuilder::default()
    }

    /// Starts the pipeline; `env` looks up environment variables (injectable for tests).
    pub(crate) fn start(
        config: Config,
        credential: Option<SharedCredential>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let connection_string = resolve_connection_string(&config, &env)?;
        // Entra ID: `Some` with a credential. The same `Auth` is for every
        // request to the service (ingestion here, and Live Metrics).
        let auth = auth::resolve(
            &connection_string,
            credential,
            &env,
            config.retry_base_delay,
            config.retry_max_delay,
        )?;
        let resource = build_resource(&config.resource, &env).map_err(Error::Config)?;
        let exports = Exports::of(&config, &env);
        // The environment's sampler, unless the code chose one; checked
        // again, as a value set in code is.
        let mut config = config;
        crate::config::apply_sampler_env(&mut config, &env).map_err(Error::Config)?;
        let sampler = crate::ingest::Sampler::of(config.sampling_ratio, config.traces_per_second);
        let counters = Arc::new(Counters::default());
        let progress = Arc::new(Progress::default());
        let ledger = Ledger::new(Arc::clone(&progress), Arc::clone(&counters));
        let thread_nice = config.thread_nice;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads)
            .thread_name("genkit-azure")
            .on_thread_start(move || lower_thread_priority(thread_nice))
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let sender = Sender::new(
            &connection_string.ingestion_endpoint,
            config.request_timeout,
            Arc::clone(&counters),
            auth.clone(),
        )
        .map_err(Error::Transport)?;
        if let Some(auth) = &auth {
            // The first token is fetched now, so the first batch finds it.
            runtime.spawn(Arc::clone(auth).run());
        }
        let request_limits = match config.request_limits {
            Some((max_bytes, max_envelopes)) => RequestLimits {
                max_bytes,
                max_envelopes,
            },
            None => REQUEST_LIMITS,
        };
        let storage = open_storage(&config, &connection_string);
        let storage_for_spill = storage.as_ref().ok().cloned().flatten();
        let delivery = Delivery::new(
            sender,
            Backoff::new(config.retry_base_delay, config.retry_max_delay),
            config.max_backlog_bytes,
            config.max_concurrent_exports,
            Arc::clone(&counters),
            storage.as_ref().ok().cloned().flatten(),
        );
        let delivery = Arc::new(delivery.with_request_limits(request_limits));
        if let Err(reason) = storage {
            delivery.diagnostics().say("storage-off", || {
                format!("disk persistence is off: {reason}; undelivered data waits in memory only")
            });
        }
        runtime.spawn(Arc::clone(&delivery).supervise_retries());
        let view = ViewOptions {
            log_input_and_output: config.log_input_and_output,
            agent_ids: (!config.agent_ids.is_empty()).then(|| Arc::new(config.agent_ids.clone())),
            model_prices: (!config.model_prices.is_empty())
                .then(|| Arc::new(config.model_prices.clone())),
            agent_flows: crate::envelopes::genkit::AgentFlows::new(&config.agent_flows),
            source: crate::envelopes::genkit::Source::of(&resource),
        };
        let exporter = Arc::new(AzureExporter::new(
            &connection_string,
            &resource,
            config.gzip_level,
            config.metric_export_interval,
            exports.metrics,
            view.clone(),
        ));
        let exporter_for_spill = Arc::clone(&exporter);
        let diagnostics = Arc::clone(delivery.diagnostics());
        let delivery_handle = Arc::clone(&delivery);
        let batch_limits = BatchLimits {
            max_items: config.max_batch_size,
            max_bytes: config.max_batch_bytes,
        };
        let collection_requests = Arc::new(CollectionRequests::default());
        let (tx, rx) = queue::queue(config.queue_capacity, config.max_queue_bytes);
        // Live Metrics: its tap goes to the worker, its cycle to the runtime.
        let (live, live_cycle) = crate::live::start(crate::live::LiveStart {
            // `exports.custom` is off only in an unforced Genkit dev session,
            // where nothing leaves the process.
            enabled: config.enable_live_metrics && exports.custom,
            connection_string: &connection_string,
            resource: &resource,
            view,
            timings: config.live_metrics_timings,
            diagnostics: Arc::clone(&diagnostics),
            is_web_app: env("WEBSITE_SITE_NAME").is_some(),
            auth: auth.clone(),
        });
        if let Some(cycle) = live_cycle {
            runtime.spawn(cycle.run());
        }
        let worker = Worker::new(
            rx,
            exporter,
            delivery,
            ledger.clone(),
            WorkerSettings {
                batch_limits,
                batch_delay: config.batch_delay,
                metric_interval: config.metric_export_interval,
                metric_series_limit: config.metric_series_limit,
                collection_requests: Arc::clone(&collection_requests),
                max_concurrent_mappings: config.worker_threads,
                genkit: crate::pipeline::GenkitOptions {
                    log_input_and_output: config.log_input_and_output,
                    metrics: exports.metrics,
                    logs: exports.logs,
                    agent_reparenting: config.enable_agent_reparenting,
                    agent_flows: crate::envelopes::genkit::AgentFlows::new(&config.agent_flows),
                    agents_expected: !config.agent_ids.is_empty(),
                    ..crate::pipeline::GenkitOptions::for_resource(&resource)
                },
                export_spans: exports.traces,
                sample_logs: config.enable_trace_based_sampling_for_logs,
                live,
            },
        );
        runtime.spawn(worker.run());
        let spill_tx = storage_for_spill.map(|storage| {
            let (spill_tx, spill_rx) = queue::queue(config.spill_capacity, config.max_queue_bytes);
            runtime.spawn(
                Spill {
                    rx: spill_rx,
                    exporter: Arc::clone(&exporter_for_spill),
                    storage,
                    ledger: ledger.clone(),
                    diagnostics: Arc::clone(&diagnostics),
                    batch_limits,
                    request_limits,
                }
                .run(),
            );
            spill_tx
        });
        Ok(Self {
            inner: Arc::new(Inner {
                tx,
                spill_tx,
                flushed_below: Mutex::new(0),
                delivery: delivery_handle,
                counters,
                progress,
                ledger,
                collection_requests,
                shut_down: AtomicBool::new(false),
                runtime: Mutex::new(Some(runtime)),
                resource,
                connection_string,
                config,
                operations: Operations::new(sampler),
                exports,
                #[cfg(test)]
                before_shutdown_marker: Mutex::new(None),
            }),
        })
    }

    /// The settings this pipeline runs with, after each face's conversion
    /// and the defaults: what faces' tests read back.
    #[doc(hidden)]
    pub fn resolved_config(&self) -> &Config {
        &self.inner.config
    }

    /// Operation names of the spans open now: faces register spans at their
    /// start and look the name up when they pack a span or emit a log.
    pub fn operations(&self) -> &Operations {
        &self.inner.operations
    }

    /// The resource every envelope carries (service name, version, ...).
    pub fn resource(&self) -> &Resource {
        &self.inner.resource
    }

    /// The ingestion endpoint requests go to.
    pub fn ingestion_endpoint(&self) -> &str {
        self.inner.connection_string.ingestion_endpoint.as_str()
    }

    /// Hands a finished span to the pipeline. Never blocks. The span is
    /// packed (see [`PackedSpan`]) before it is queued, with the operation
    /// name registered at its start ([`Self::operations`]), which is
    /// forgotten here.
    pub fn push_span(&self, span: SpanData) -> Result<Pushed> {
        let trace_id = u128::from_be_bytes(span.span_context.trace_id().to_bytes());
        let is_root = span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote;
        let operation = self.inner.operations.ended(trace_id, is_root);
        self.push_packed(PackedSpan::from_span_data_in(
            &span,
            operation.name.as_deref(),
            operation.sampled,
        )?)
    }

    /// Hands a span packed by a face ([`crate::SpanPacker`]) to the pipeline.
    /// Never blocks.
    pub fn push_packed(&self, span: PackedSpan) -> Result<Pushed> {
        if !self.inner.exports.spans_wanted() {
            return self.disabled();
        }
        if span.sampled_out() && !(self.inner.exports.metrics || self.inner.exports.logs) {
            // Nothing is derived from it: no trip through the queue.
            let c = &self.inner.counters;
            return self.sampled_out(&c.spans_accepted, &c.spans_sampled_out);
        }
        self.push(Msg::Span(span), &self.inner.counters.spans_accepted)
    }

    /// Fills in what the trace an item was recorded in says: its
    /// operation's name (unless the item names one) and, with logs sampled
    /// by trace, the trace's `sampleRate`. False when that trace was sampled
    /// out and the item goes with it.
    fn join_trace(
        &self,
        trace: Option<opentelemetry::trace::TraceId>,
        name: &mut Option<std::sync::Arc<str>>,
        sample_rate: &mut Option<f64>,
    ) -> bool {
        let Some(trace) = trace else {
            return true;
        };
        let operations = &self.inner.operations;
        let by_trace =
            self.inner.config.enable_trace_based_sampling_for_logs && operations.sampler().samples();
        if name.is_some() && !by_trace {
            return true;
        }
        let operation = operations.of_trace(u128::from_be_bytes(trace.to_bytes()));
        if name.is_none() {
            *name = operation.name;
        }
        if by_trace {
            let sampled = operation.sampled;
            if !sampled.keep {
                return false;
            }
            *sample_rate = (sampled.percentage < 100.0).then_some(sampled.percentage);
        }
        true
    }

    /// An item of a trace sampling dropped, taken in and at its fate at once.
    fn sampled_out(
        &self,
        accepted: &std::sync::atomic::AtomicU64,
        fate: &std::sync::atomic::AtomicU64,
    ) -> Result<Pushed> {
        if self.inner.shut_down.load(Relaxed) {
            return Err(Error::ShutDown);
        }
        Counters::add(accepted, 1);
        Counters::add(fate, 1);
        Counters::add(&self.inner.counters.items_settled, 1);
        Ok(Pushed::Accepted)
    }

    /// Hands a log record to the pipeline. Never blocks. A record emitted
    /// inside a span that is still open takes that span's operation name
    /// (see [`Self::operations`]) unless it has one.
    pub fn emit_log(&self, mut record: LogRecord) -> Result<Pushed> {
        if !self.inner.exports.logs {
            return self.disabled();
        }
        let trace = record.trace_context.map(|(trace, _)| trace);
        if !self.join_trace(trace, &mut record.operation_name, &mut record.sample_rate) {
            let c = &self.inner.counters;
            return self.sampled_out(&c.logs_accepted, &c.logs_sampled_out);
        }
        self.push(
            Msg::Log(Box::new(record)),
            &self.inner.counters.logs_accepted,
        )
    }

    /// Hands a metric measurement to the pipeline. Never blocks. Points are
    /// aggregated and exported every `metric_export_interval` and on flush.
    /// A nameless metric, a non-finite value and a counter going down are
    /// refused.
    pub fn record_metric(&self, point: MetricPoint) -> Result<Pushed> {
        point.check().map_err(Error::InvalidArgument)?;
        if !self.inner.exports.metrics {
            return self.disabled();
        }
        self.push(
            Msg::Metric(Box::new(point)),
            &self.inner.counters.metrics_accepted,
        )
    }

    /// Hands a custom event (customEvents) to the pipeline. Never blocks.
    pub fn track_event(&self, event: CustomEvent) -> Result<Pushed> {
        self.push_custom(Custom::Event(event))
    }

    /// Hands a handled exception (exceptions) to the pipeline. Never blocks.
    pub fn track_exception(&self, exception: TrackedException) -> Result<Pushed> {
        self.push_custom(Custom::Exception(exception))
    }

    /// Hands an availability-test result to the pipeline. Never blocks.
    pub fn track_availability(&self, result: AvailabilityResult) -> Result<Pushed> {
        self.push_custom(Custom::Availability(result))
    }

    /// Refuses what the service would refuse (an empty name, a non-finite
    /// measurement) before it is queued, then queues it like a log: inside a
    /// span that is still open it takes that span's operation name (see
    /// [`Self::operations`]) unless it has one.
    fn push_custom(&self, mut item: Custom) -> Result<Pushed> {
        item.check().map_err(Error::InvalidArgument)?;
        if !self.inner.exports.custom {
            return self.disabled();
        }
        let trace = item.trace_context().map(|(trace, _)| trace);
        let mut name = item.operation_name_mut().take();
        let mut rate = item.sample_rate();
        let kept = self.join_trace(trace, &mut name, &mut rate);
        *item.operation_name_mut() = name;
        *item.sample_rate_mut() = rate;
        if !kept {
            let c = &self.inner.counters;
            return self.sampled_out(&c.custom_accepted, &c.custom_sampled_out);
        }
        self.push(
            Msg::Custom(Box::new(item)),
            &self.inner.counters.custom_accepted,
        )
    }

    /// A signal turned off by configuration; after shutdown still an error.
    fn disabled(&self) -> Result<Pushed> {
        if self.inner.shut_down.load(Relaxed) {
            return Err(Error::ShutDown);
        }
        Ok(Pushed::Disabled)
    }

    /// The signals this pipeline exports (from the `disable_*` flags and
    /// `GENKIT_ENV`), so faces can leave out hooks whose output would be
    /// refused anyway.
    pub fn exports(&self) -> Exports {
        self.inner.exports
    }

    fn push(&self, msg: Msg, accepted: &std::sync::atomic::AtomicU64) -> Result<Pushed> {
        if self.inner.shut_down.load(Relaxed) {
            return Err(Error::ShutDown);
        }
        self.enqueue(msg, accepted)
    }

    /// [`Self::push`] past its shut-down check: the queue refuses once the
    /// worker closed it, and until then takes the item.
    fn enqueue(&self, msg: Msg, accepted: &std::sync::atomic::AtomicU64) -> Result<Pushed> {
        // Count the depth (and the item pending) before sending so the
        // worker's decrement never runs ahead of it: a gauge stops at zero,
        // and a span the worker settles at once (traces off, sampled out)
        // would leave its pending count behind.
        self.inner.counters.queue_depth.fetch_add(1, Relaxed);
        Counters::add(&self.inner.counters.items_pending, 1);
        match self.inner.tx.try_send(msg) {
            Ok(()) => {
                accepted.fetch_add(1, Relaxed);
                Ok(Pushed::Accepted)
            }
            Err(TrySendError::Full(msg)) => {
                self.inner.counters.queue_depth.fetch_sub(1, Relaxed);
                // Spans, logs and custom telemetry spill to disk; metric
                // points are aggregates of the moment and are dropped
                // (counted) instead.
                let spill = match (&self.inner.spill_tx, &msg) {
                    // Worth only what the worker derives from it, which a
                    // spilled span skips.
                    (_, Msg::Span(span)) if span.sampled_out() => false,
                    (Some(spill), Msg::Span(_) | Msg::Log(_) | Msg::Custom(_)) => {
                        spill.try_send(msg).is_ok()
                    }
                    _ => false,
                };
                if spill {
                    accepted.fetch_add(1, Relaxed);
                    Counters::add(&self.inner.counters.spilled_items, 1);
                    Ok(Pushed::Accepted)
                } else {
                    Counters::sub(&self.inner.counters.items_pending, 1);
                    Counters::add(&self.inner.counters.dropped_queue_full, 1);
                    Ok(Pushed::DroppedQueueFull)
                }
            }
            Err(TrySendError::Closed(_)) => {
                self.inner.counters.queue_depth.fetch_sub(1, Relaxed);
                Counters::sub(&self.inner.counters.items_pending, 1);
                Err(Error::ShutDown)
            }
        }
    }

    /// Sends everything accepted before this call and waits for it.
    ///
    /// Returns `Ok(true)` when everything accepted before the call (and since the previous flush) was delivered or written to disk to be sent from there, and none of it was lost
    /// (`stats()` shows what waits on disk: `items_persisted`, `disk_bytes`);
    /// `Ok(false)` when some of it was rejected or dropped, or the timeout
    /// passed first.
    pub fn flush(&self, timeout: Duration) -> Result<bool> {
        if self.inner.shut_down.load(Relaxed) {
            return Err(Error::ShutDown);
        }
        // Points an in-process reader holds (AzureMetricReader) go first, so
        // this flush sends them.
        self.inner.collection_requests.collect_for_flush();
        Ok(self.flush_until(deadline_after(timeout)))
    }

    fn flush_until(&self, deadline: Instant) -> bool {
        let answers = self.round_trip(Msg::Flush, deadline);
        self.wait_for_batches(answers, deadline)
    }

    /// Waits until every batch below the queues' answers (to a flush or
    /// shutdown marker) settled: `true` when all of those since the previous
    /// wait were delivered or persisted, `false` on a loss, a missing answer
    /// or the deadline.
    fn wait_for_batches(&self, answers: Vec<Option<u64>>, deadline: Instant) -> bool {
        let start = *self
            .inner
            .flushed_below
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut end = 0;
        for below in answers {
            match below {
                Some(below) => end = end.max(below),
                None => return false,
            }
        }
        let ok = self
            .inner
            .progress
            .wait(start, end, deadline)
            .unwrap_or(false);
        // The next flush reports failures from here on; it still waits for
        // every earlier batch that has not settled.
        let mut below = self
            .inner
            .flushed_below
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *below = (*below).max(end);
        ok
    }

    /// Puts a control marker into the ingest queue and, when there is one, the
    /// spill queue, and waits for each consumer's answer. A marker queues
    /// behind everything accepted so far; if a queue is full it waits for
    /// room, never past the deadline. One answer per queue, `None` where the
    /// marker or its answer did not make it in time.
    fn round_trip<T>(
        &self,
        marker: impl Fn(std_mpsc::SyncSender<T>) -> Msg,
        deadline: Instant,
    ) -> Vec<Option<T>> {
        let queues = std::iter::once(&self.inner.tx).chain(self.inner.spill_tx.as_ref());
        queues
            .map(|tx| {
                let (reply_tx, reply_rx) = std_mpsc::sync_channel(1);
                match block_on_until(tx.send_marker(marker(reply_tx)), deadline) {
                    Some(Ok(())) => reply_rx
                        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                        .ok(),
                    Some(Err(_)) | None => None,
                }
            })
            .collect()
    }

    /// Sends what it can within `timeout`, writes to disk what it cannot (when
    /// persistence is on), then stops the background runtime. Returns
    /// `Ok(true)` when everything accepted was delivered or written to disk,
    /// and none of it was lost. Later calls on any clone return
    /// [`Error::ShutDown`].
    pub fn shutdown(&self, timeout: Duration) -> Result<bool> {
        // Before the pipeline refuses points: an in-process reader's last ones.
        if !self.inner.shut_down.load(Relaxed) {
            self.inner.collection_requests.collect_for_flush();
        }
        if self.inner.shut_down.swap(true, SeqCst) {
            return Err(Error::ShutDown);
        }
        // Producers waiting for a collection request stop waiting.
        self.inner.collection_requests.close();
        let deadline = deadline_after(timeout);
        // Leave the end of the timeout for writing to disk what could not be sent.
        let margin = (timeout / 5).min(Duration::from_millis(500));
        // From here on, a batch's part dropped unfinished is being stopped
        // with the runtime: shutdown counts it (`dropped_shut_down`).
        self.inner.ledger.stop();
        self.inner.delivery.drain_by(deadline - margin);
        let delivered = self.flush_until(deadline);
        #[cfg(test)]
        if let Some(late) = self
            .inner
            .before_shutdown_marker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            late(self);
        }
        // A push that passed the shut-down check before it was set may have
        // queued behind the flush marker. The shutdown marker is answered as
        // a flush is, so shutdown waits for those items' batches too: until
        // they are delivered (or persisted), the runtime must not stop.
        let stopped = self.round_trip(
            |done| Msg::Shutdown(Box::new(ShutdownMarker { deadline, done })),
            deadline,
        );
        let late_delivered = self.wait_for_batches(stopped, deadline);
        let handle = self
            .inner
            .runtime
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|r| r.handle().clone());
        if let Some(handle) = handle {
            let delivery = Arc::clone(&self.inner.delivery);
            let _ = block_on_until(
                handle.spawn(async move { delivery.persist_memory_backlog().await }),
                deadline,
            );
        }
        self.inner.stop_runtime(deadline);
        Ok(delivered && late_delivered && self.inner.unsettled() == 0)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// Envelopes and requests the service rejected, by HTTP status, together
    /// (the two methods below tell them apart).
    pub fn rejected_by_status(&self) -> Vec<(u16, u64)> {
        self.inner.counters.rejected_by_status()
    }

    /// Envelopes a partial success (206) rejected one by one, by their own
    /// HTTP status.
    pub fn envelopes_rejected_by_status(&self) -> Vec<(u16, u64)> {
        self.inner.counters.envelopes_rejected_by_status()
    }

    /// Whole requests the service rejected (400, 404, ...), by HTTP status.
    pub fn requests_rejected_by_status(&self) -> Vec<(u16, u64)> {
        self.inner.counters.requests_rejected_by_status()
    }
}

impl Inner {
    /// Items accepted: spans, logs, metric points (each point settles with
    /// the collection it was aggregated into) and custom telemetry.
    /// Items that will each settle once: those taken from the host and
    /// those the worker derived from Genkit spans.
    fn accepted(&self) -> u64 {
        self.counters.spans_accepted.load(Relaxed)
            + self.counters.logs_accepted.load(Relaxed)
            + self.counters.metrics_accepted.load(Relaxed)
            + self.counters.custom_accepted.load(Relaxed)
            + self.counters.metrics_derived.load(Relaxed)
            + self.counters.logs_derived.load(Relaxed)
    }

    fn unsettled(&self) -> u64 {
        self.accepted()
            .saturating_sub(self.counters.items_settled.load(Relaxed))
    }

    fn stop_runtime(&self, deadline: Instant) {
        let runtime = self
            .runtime
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(runtime) = runtime {
            if tokio::runtime::Handle::try_current().is_ok() {
                // Inside someone's async context a blocking shutdown would panic.
                runtime.shutdown_background();
            } else {
                runtime.shutdown_timeout(deadline.saturating_duration_since(Instant::now()));
            }
        }
        // Whatever is neither delivered nor failed by now is lost with the runtime.
        let lost = self
            .unsettled()
            .saturating_sub(self.counters.dropped_shut_down.load(Relaxed));
        Counters::add(&self.counters.dropped_shut_down, lost);
        Counters::sub(&self.counters.items_pending, lost);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropped without shutdown: stop the threads without waiting. Call
        // `shutdown` to deliver what is queued.
        if let Some(rt) = self
            .runtime
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            rt.shutdown_background();
        }
    }
}

/// Opens the disk store; `Err` says why persistence is off (never fatal).
fn open_storage(
    config: &Config,
    cs: &ConnectionString,
) -> std::result::Result<Option<Arc<Storage>>, StorageError> {
    if !config.storage_enabled {
        return Ok(None);
    }
    let dir = config
        .storage_directory
        .clone()
        .unwrap_or_else(|| default_directory(cs.instrumentation_key()));
    let settings = StorageSettings {
        max_bytes: config.max_disk_bytes,
        retention: config.disk_retention,
        lease: config.disk_lease.max(config.request_timeout * 2),
    };
    Storage::open(&dir, settings).map(|s| Some(Arc::new(s)))
}

/// `timeout` from now; a timeout too long to add (`Duration::MAX`) waits
/// as good as forever instead of overflowing.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(u64::from(u32::MAX)))
}

/// Lowers the calling thread's CPU priority by `nice` (see
/// `Config::thread_nice`). On Linux a nice value belongs to a thread; other
/// systems apply it to the whole process, so there this does nothing.
fn lower_thread_priority(nice: u8) {
    #[cfg(target_os = "linux")]
    if nice > 0 {
        // SAFETY: plain system calls on the calling thread; no memory is passed.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            let current = libc::getpriority(libc::PRIO_PROCESS, tid);
            // Relative to the host's own niceness; failure leaves it as it was.
            let _ = libc::setpriority(libc::PRIO_PROCESS, tid, (current + nice as i32).min(19));
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

fn resolve_connection_string(
    config: &Config,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<ConnectionString> {
    let (raw, source_name) = match &config.connection_string {
        Some(s) => (s.clone(), "argument"),
        None => match env(CONNECTION_STRING_ENV) {
            Some(s) if !s.trim().is_empty() => (s, CONNECTION_STRING_ENV),
            _ => return Err(Error::MissingConnectionString),
        },
    };
    let cs = ConnectionString::parse(&raw).map_err(|detail| Error::ConnectionString {
        source_name,
        detail,
    })?;
    // `Authorization=AAD` is checked with the credential (`auth::resolve`).
    Ok(cs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "11111111-2222-3333-4444-555555555555";

    fn resolve(arg: Option<&str>, env_value: Option<&str>) -> Result<ConnectionString> {
        let config = Config {
            connection_string: arg.map(str::to_string),
            ..Config::default()
        };
        let env = |k: &str| {
            (k == CONNECTION_STRING_ENV)
                .then(|| env_value.map(str::to_string))
                .flatten()
        };
        resolve_connection_string(&config, &env)
    }

    #[test]
    fn the_argument_wins_over_the_environment() {
        let cs = resolve(
            Some(&format!(
                "InstrumentationKey={KEY};IngestionEndpoint=https://arg.example"
            )),
            Some(&format!(
                "InstrumentationKey={KEY};IngestionEndpoint=https://env.example"
            )),
        )
        .unwrap();
        assert_eq!(cs.ingestion_endpoint.host(), "arg.example");
        let cs = resolve(None, Some(&format!("InstrumentationKey={KEY}"))).unwrap();
        assert_eq!(cs.instrumentation_key(), KEY);
    }

    #[test]
    fn errors_say_where_the_string_came_from() {
        let err = resolve(None, None).unwrap_err();
        assert!(err.to_string().contains(CONNECTION_STRING_ENV), "{err}");
        let err = resolve(None, Some("   ")).unwrap_err();
        assert!(matches!(err, Error::MissingConnectionString));
        let err = resolve(None, Some("InstrumentationKey=nope")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(CONNECTION_STRING_ENV) && msg.contains("InstrumentationKey"),
            "{msg}"
        );
        // Entra ID is the credential's business (auth::resolve), not the parser's.
        let cs = resolve(
            Some(&format!("InstrumentationKey={KEY};Authorization=AAD")),
            None,
        )
        .unwrap();
        assert_eq!(cs.authorization, crate::config::Authorization::EntraId);
    }

    /// The shape the issue reported, from either source: the error names
    /// the part and its characters, and where the string came from.
    #[test]
    fn a_missing_semicolon_is_located_without_quoting_the_key() {
        let input = format!("IngestionEndpoint=https://h/ InstrumentationKey={KEY}");
        for (err, source) in [
            (resolve(Some(&input), None).unwrap_err(), "argument"),
            (
                resolve(None, Some(&input)).unwrap_err(),
                CONNECTION_STRING_ENV,
            ),
        ] {
            assert_eq!(
                err.to_string(),
                format!(
                    "invalid connection string ({source}): IngestionEndpoint (the 1st part, \
                     characters 1-84): is not a valid URL (expected https://host[:port]); it \
                     contains '=', so a ';' may be missing before the next Key=Value"
                )
            );
            assert!(!format!("{err:?}").contains("11111111"), "{err:?}");
        }
    }

    /// A push that passed the shut-down check just before shutdown set it
    /// can queue behind shutdown's last flush. Shutdown must wait for that
    /// item's delivery too: stopping the runtime under it would lose an item
    /// its caller was told was accepted (CI caught this once in the C
    /// threads test; here the item lands there every time, and a slow
    /// answer keeps its request in flight).
    #[test]
    fn an_item_queued_behind_shutdowns_last_flush_is_delivered() {
        use crate::ingest::LogRecord;
        use genkit_azure_emulator::{Emulator, EmulatorConfig, FaultPlan};
        use opentelemetry::logs::Severity;
        let emu = Emulator::start(EmulatorConfig {
            instrumentation_key: Some(KEY.to_string()),
            ..Default::default()
        })
        .unwrap();
        let telemetry = AzureTelemetry::builder()
            .connection_string(emu.connection_string(KEY))
            .batch_delay(Duration::from_millis(50))
            .disable_storage()
            .build()
            .unwrap();
        telemetry
            .emit_log(LogRecord::new(Severity::Info, "before".to_string()))
            .unwrap();
        emu.set_faults(FaultPlan {
            delay_ms: 300,
            ..FaultPlan::default()
        })
        .unwrap();
        *telemetry.inner.before_shutdown_marker.lock().unwrap() = Some(|t| {
            let late = LogRecord::new(Severity::Info, "late".to_string());
            let accepted = &t.inner.counters.logs_accepted;
            assert_eq!(
                t.enqueue(Msg::Log(Box::new(late)), accepted).unwrap(),
                Pushed::Accepted
            );
        });
        assert!(telemetry.shutdown(Duration::from_secs(10)).unwrap());
        let stats = telemetry.stats();
        assert_eq!(stats.logs_accepted, 2);
        assert_eq!(stats.dropped_shut_down, 0, "{stats:?}");
        assert_eq!(stats.items_delivered, 2, "{stats:?}");
        let messages: Vec<String> = emu
            .envelopes()
            .iter()
            .filter_map(|e| e["data"]["baseData"]["message"].as_str().map(String::from))
            .collect();
        assert!(messages.contains(&"late".to_string()), "{messages:?}");
    }
}
