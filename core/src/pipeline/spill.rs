//! Spill instead of drop: when the ingest queue is full, spans and logs go to
//! a second bounded queue whose consumer maps them and writes them straight to
//! disk, where the backlog driver finds and sends them once the endpoint keeps
//! up again. The host's thread still only does a non-blocking send; only when
//! both queues are full (or persistence is off) is an item dropped, counted.
//!
//! Spilled spans skip the worker, so nothing is derived from them: no Genkit
//! metrics or logs, and no failure-source mark (see `enrich.rs`). Under an
//! overload that spills, Genkit's metrics undercount by `spilled_items`' spans.

use super::msg::Msg;
use super::pending::{BatchLimits, Gathering};
use super::queue::Receiver;
use crate::accounting::{Counters, DropReason, Fate, Ledger};
use crate::delivery::{fit, Payload, RequestLimits, Storage};
use crate::diagnostics::Diagnostics;
use crate::envelopes::{AzureExporter, Batch};
use std::sync::Arc;

pub(crate) struct Spill {
    pub rx: Receiver,
    pub exporter: Arc<AzureExporter>,
    pub storage: Arc<Storage>,
    pub ledger: Ledger,
    pub diagnostics: Arc<Diagnostics>,
    pub batch_limits: BatchLimits,
    /// What one request may hold: a file is sent as one request later.
    pub request_limits: RequestLimits,
}

impl Spill {
    pub async fn run(mut self) {
        let mut gathering = Gathering::new(self.batch_limits);
        loop {
            let Some(msg) = self.rx.recv().await else {
                self.persist_all(&mut gathering).await;
                return;
            };
            let full = match gathering.push(msg) {
                Ok(full) => full,
                // Metric points are never spilled (see `AzureTelemetry::push`);
                // a producer's answer goes to the ingest queue only.
                Err(
                    Msg::Metric(_)
                    | Msg::Span(_)
                    | Msg::Log(_)
                    | Msg::Custom(_)
                    | Msg::MetricsCollected
                    | Msg::ProducerJoined,
                ) => None,
                Err(Msg::Flush(reply)) => {
                    self.persist_all(&mut gathering).await;
                    let _ = reply.send(self.ledger.allocated());
                    None
                }
                Err(Msg::Shutdown(marker)) => {
                    self.rx.close();
                    while let Some(m) = self.rx.left_after_close(marker.deadline).await {
                        if let Ok(Some(batch)) = gathering.push(m) {
                            self.persist(batch).await;
                        }
                    }
                    self.persist_all(&mut gathering).await;
                    let _ = marker.done.send(self.ledger.allocated());
                    return;
                }
            };
            if let Some(batch) = full {
                self.persist(batch).await;
            }
            // Write the rest when the burst is over.
            if self.rx.is_empty() {
                self.persist_all(&mut gathering).await;
            }
        }
    }

    async fn persist_all(&self, gathering: &mut Gathering) {
        for batch in gathering.take_all() {
            self.persist(batch).await;
        }
    }

    async fn persist(&self, batch: Batch) {
        let part = self.ledger.open(batch.len() as u64);
        let counters = Arc::clone(self.ledger.counters());
        let exporter = Arc::clone(&self.exporter);
        let mapping = tokio::spawn(async move { exporter.write(&batch) });
        let (body, json_bytes, envelopes) = match mapping.await {
            Ok(Ok(body)) => {
                Counters::add(&counters.values_truncated, body.cut);
                (body.gzip, body.json_bytes, body.envelopes)
            }
            Ok(Err(_)) => return part.finish(Fate::Dropped(DropReason::WriteFailed)),
            Err(_) => return part.finish(Fate::Dropped(DropReason::MappingPanicked)),
        };
        let payload = Payload::written(body.into(), envelopes, part);
        let pieces = fit(
            payload,
            json_bytes,
            self.request_limits,
            &counters,
            &self.diagnostics,
        );
        for piece in pieces {
            let storage = Arc::clone(&self.storage);
            let diagnostics = Arc::clone(&self.diagnostics);
            let counters = Arc::clone(&counters);
            let body = piece.body.clone();
            let written =
                tokio::task::spawn_blocking(move || storage.write(&body, &counters, &diagnostics))
                    .await
                    .unwrap_or(false);
            piece.finish(if written {
                Fate::Persisted
            } else {
                Fate::Dropped(DropReason::SpillFailed)
            });
        }
    }
}
