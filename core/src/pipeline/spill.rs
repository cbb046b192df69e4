//! Spill instead of drop: when the ingest queue is full, spans and logs go to
//! a second bounded queue whose consumer maps them and writes them straight to
//! disk, where the backlog driver finds and sends them once the endpoint keeps
//! up again. The host's thread still only does a non-blocking send; only when
//! both queues are full (or persistence is off) is an item dropped, counted.

use super::msg::Msg;
use super::pending::{BatchLimits, Pending};
use crate::accounting::{Counters, DropReason, Fate, Ledger};
use crate::delivery::Storage;
use crate::diagnostics::Diagnostics;
use crate::envelopes::{AzureExporter, Batch};
use crate::ingest::{LogRecord, PackedSpan};
use std::sync::Arc;
use tokio::sync::mpsc;

pub(crate) struct Spill {
    pub rx: mpsc::Receiver<Msg>,
    pub exporter: Arc<AzureExporter>,
    pub storage: Arc<Storage>,
    pub ledger: Ledger,
    pub diagnostics: Arc<Diagnostics>,
    pub batch_limits: BatchLimits,
}

impl Spill {
    pub async fn run(mut self) {
        let mut spans = Pending::new(self.batch_limits);
        let mut logs = Pending::new(self.batch_limits);
        loop {
            let Some(msg) = self.rx.recv().await else {
                self.persist_all(&mut spans, &mut logs).await;
                return;
            };
            let full = match msg {
                Msg::Span(s) => spans.push(s),
                Msg::Log(l) => logs.push(*l),
                // Metric points are never spilled (see `AzureTelemetry::push`).
                Msg::Metric(_) => false,
                Msg::Flush(reply) => {
                    self.persist_all(&mut spans, &mut logs).await;
                    let _ = reply.send(self.ledger.allocated());
                    false
                }
                Msg::Shutdown(marker) => {
                    self.rx.close();
                    while let Ok(m) = self.rx.try_recv() {
                        match m {
                            Msg::Span(s) => _ = spans.push(s),
                            Msg::Log(l) => _ = logs.push(*l),
                            _ => {}
                        }
                    }
                    self.persist_all(&mut spans, &mut logs).await;
                    let _ = marker.done.send(());
                    return;
                }
            };
            // Write when a batch is full or the burst is over.
            if full || self.rx.is_empty() {
                self.persist_all(&mut spans, &mut logs).await;
            }
        }
    }

    async fn persist_all(&self, spans: &mut Pending<PackedSpan>, logs: &mut Pending<LogRecord>) {
        if !spans.is_empty() {
            self.persist(Batch::Spans(spans.take())).await;
        }
        if !logs.is_empty() {
            self.persist(Batch::Logs(logs.take())).await;
        }
    }

    async fn persist(&self, batch: Batch) {
        let part = self.ledger.open(batch.len() as u64);
        let counters = Arc::clone(self.ledger.counters());
        let exporter = Arc::clone(&self.exporter);
        let mapping = tokio::spawn(async move { exporter.write(&batch) });
        let body = match mapping.await {
            Ok(Ok(body)) => {
                Counters::add(&counters.values_truncated, body.cut);
                body.gzip
            }
            Ok(Err(_)) => return part.finish(Fate::Dropped(DropReason::WriteFailed)),
            Err(_) => return part.finish(Fate::Dropped(DropReason::MappingPanicked)),
        };
        let storage = Arc::clone(&self.storage);
        let diagnostics = Arc::clone(&self.diagnostics);
        let written =
            tokio::task::spawn_blocking(move || storage.write(&body, &counters, &diagnostics))
                .await
                .unwrap_or(false);
        part.finish(if written {
            Fate::Persisted
        } else {
            Fate::Dropped(DropReason::SpillFailed)
        });
    }
}
