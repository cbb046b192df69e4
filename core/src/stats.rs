//! Counters every face can read: what was accepted, delivered, and what was
//! lost and why. Nothing accepted disappears without landing in one of them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Live counters, updated with relaxed atomics from the host's threads and
/// the background runtime.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub spans_accepted: AtomicU64,
    pub logs_accepted: AtomicU64,
    pub metrics_accepted: AtomicU64,
    pub batches_exported: AtomicU64,
    pub batches_failed: AtomicU64,
    pub envelopes_sent: AtomicU64,
    pub envelopes_delivered: AtomicU64,
    pub envelopes_rejected: AtomicU64,
    pub items_export_failed: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_shut_down: AtomicU64,
    pub dropped_mapping_error: AtomicU64,
    pub values_truncated: AtomicU64,
    pub queue_depth: AtomicU64,
    pub http_requests: AtomicU64,
    pub bytes_sent: AtomicU64,
    /// Items whose batch finished, delivered or not (internal: for shutdown accounting).
    pub items_settled: AtomicU64,
    pub retries: AtomicU64,
    pub batches_rejected: AtomicU64,
    pub backlog_bytes: AtomicU64,
    pub dropped_backlog_full: AtomicU64,
    pub envelopes_dropped_unreadable: AtomicU64,
    pub persisted_batches: AtomicU64,
    pub resent_from_disk_batches: AtomicU64,
    pub disk_bytes: AtomicU64,
    pub dropped_disk_full_batches: AtomicU64,
    pub dropped_retention_batches: AtomicU64,
    pub spilled_items: AtomicU64,
    pub dropped_spill_failed: AtomicU64,
    rejected_by_status: Mutex<BTreeMap<u16, u64>>,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Counts one envelope or request rejected with `status`.
    pub fn count_rejected_status(&self, status: u16) {
        *self
            .rejected_by_status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(status)
            .or_default() += 1;
    }

    pub fn rejected_by_status(&self) -> Vec<(u16, u64)> {
        let map = self
            .rejected_by_status
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.iter().map(|(k, v)| (*k, *v)).collect()
    }

    pub fn snapshot(&self) -> Stats {
        Stats {
            spans_accepted: self.spans_accepted.load(Relaxed),
            logs_accepted: self.logs_accepted.load(Relaxed),
            metrics_accepted: self.metrics_accepted.load(Relaxed),
            batches_exported: self.batches_exported.load(Relaxed),
            batches_failed: self.batches_failed.load(Relaxed),
            envelopes_sent: self.envelopes_sent.load(Relaxed),
            envelopes_delivered: self.envelopes_delivered.load(Relaxed),
            envelopes_rejected: self.envelopes_rejected.load(Relaxed),
            items_export_failed: self.items_export_failed.load(Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Relaxed),
            dropped_shut_down: self.dropped_shut_down.load(Relaxed),
            dropped_mapping_error: self.dropped_mapping_error.load(Relaxed),
            values_truncated: self.values_truncated.load(Relaxed),
            queue_depth: self.queue_depth.load(Relaxed),
            http_requests: self.http_requests.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
            retries: self.retries.load(Relaxed),
            batches_rejected: self.batches_rejected.load(Relaxed),
            backlog_bytes: self.backlog_bytes.load(Relaxed),
            dropped_backlog_full: self.dropped_backlog_full.load(Relaxed),
            persisted_batches: self.persisted_batches.load(Relaxed),
            resent_from_disk_batches: self.resent_from_disk_batches.load(Relaxed),
            disk_bytes: self.disk_bytes.load(Relaxed),
            dropped_disk_full_batches: self.dropped_disk_full_batches.load(Relaxed),
            dropped_retention_batches: self.dropped_retention_batches.load(Relaxed),
            spilled_items: self.spilled_items.load(Relaxed),
            dropped_spill_failed: self.dropped_spill_failed.load(Relaxed),
        }
    }
}

/// A point-in-time copy of the counters.
///
/// Spans and logs are counted as items; one span can become several envelopes
/// (a span with an exception event becomes a dependency and an exception), so
/// delivery is counted in envelopes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Spans taken into the queue.
    pub spans_accepted: u64,
    /// Log records taken into the queue.
    pub logs_accepted: u64,
    /// Metric points taken into the queue (aggregated before export).
    pub metrics_accepted: u64,
    /// Batches the server acknowledged (fully or partly).
    pub batches_exported: u64,
    /// Batches that failed after the transport gave up.
    pub batches_failed: u64,
    /// Envelopes put on the wire (retries not counted twice).
    pub envelopes_sent: u64,
    /// Envelopes the server accepted.
    pub envelopes_delivered: u64,
    /// Envelopes the server rejected permanently.
    pub envelopes_rejected: u64,
    /// Spans and logs lost because their batch could not be delivered.
    pub items_export_failed: u64,
    /// Spans and logs refused because the queue was full.
    pub dropped_queue_full: u64,
    /// Spans and logs still queued when shutdown's timeout ran out.
    pub dropped_shut_down: u64,
    /// Spans and logs whose mapping to envelopes failed.
    pub dropped_mapping_error: u64,
    /// Strings cut to the service's limits.
    pub values_truncated: u64,
    /// Items waiting in the queue now.
    pub queue_depth: u64,
    /// HTTP requests made to the ingestion endpoint.
    pub http_requests: u64,
    /// Request body bytes sent (after compression).
    pub bytes_sent: u64,
    /// Attempts that re-sent a payload after a transient failure.
    pub retries: u64,
    /// Whole requests the service rejected permanently (400, 401, 404, ...).
    pub batches_rejected: u64,
    /// Bytes (compressed) waiting in memory for a retry.
    pub backlog_bytes: u64,
    /// Spans and logs dropped because the retry backlog was full.
    pub dropped_backlog_full: u64,
    /// Batches written to disk to wait for delivery.
    pub persisted_batches: u64,
    /// Batches read back from disk and delivered.
    pub resent_from_disk_batches: u64,
    /// Bytes this process wrote to disk that are still there.
    pub disk_bytes: u64,
    /// Files dropped (oldest first) to stay under the disk cap.
    pub dropped_disk_full_batches: u64,
    /// Files dropped because they outlived the retention period.
    pub dropped_retention_batches: u64,
    /// Spans and logs that found the queue full and were written to disk instead.
    pub spilled_items: u64,
    /// Spilled spans and logs whose write to disk failed.
    pub dropped_spill_failed: u64,
}

impl Stats {
    /// `(name, value)` pairs, for faces that expose the counters as a map.
    pub fn fields(&self) -> [(&'static str, u64); 27] {
        [
            ("spans_accepted", self.spans_accepted),
            ("logs_accepted", self.logs_accepted),
            ("metrics_accepted", self.metrics_accepted),
            ("batches_exported", self.batches_exported),
            ("batches_failed", self.batches_failed),
            ("envelopes_sent", self.envelopes_sent),
            ("envelopes_delivered", self.envelopes_delivered),
            ("envelopes_rejected", self.envelopes_rejected),
            ("items_export_failed", self.items_export_failed),
            ("dropped_queue_full", self.dropped_queue_full),
            ("dropped_shut_down", self.dropped_shut_down),
            ("dropped_mapping_error", self.dropped_mapping_error),
            ("values_truncated", self.values_truncated),
            ("queue_depth", self.queue_depth),
            ("http_requests", self.http_requests),
            ("bytes_sent", self.bytes_sent),
            ("retries", self.retries),
            ("batches_rejected", self.batches_rejected),
            ("backlog_bytes", self.backlog_bytes),
            ("dropped_backlog_full", self.dropped_backlog_full),
            ("persisted_batches", self.persisted_batches),
            ("resent_from_disk_batches", self.resent_from_disk_batches),
            ("disk_bytes", self.disk_bytes),
            ("dropped_disk_full_batches", self.dropped_disk_full_batches),
            ("dropped_retention_batches", self.dropped_retention_batches),
            ("spilled_items", self.spilled_items),
            ("dropped_spill_failed", self.dropped_spill_failed),
        ]
    }
}
