//! Counters every face can read: what was accepted, delivered, and what was
//! lost and why. Nothing accepted disappears without landing in one of them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Declares every public counter once: the atomic in `Counters`, the field
/// in `Stats`, the copy in `snapshot()` and the pair in `fields()` all come
/// from this one list, so they cannot drift apart.
macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// Live counters, updated with relaxed atomics from the host's threads
        /// and the background runtime.
        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $(pub $name: AtomicU64,)*
            /// Items whose batch finished, delivered or not (internal: for
            /// shutdown accounting).
            pub items_settled: AtomicU64,
            rejected_by_status: Mutex<BTreeMap<u16, u64>>,
        }

        impl Counters {
            pub fn snapshot(&self) -> Stats {
                Stats { $($name: self.$name.load(Relaxed),)* }
            }
        }

        /// A point-in-time copy of the counters.
        ///
        /// Spans and logs are counted as items; one span can become several
        /// envelopes (a span with an exception event becomes a dependency and
        /// an exception), so delivery is counted in envelopes.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct Stats {
            $($(#[doc = $doc])* pub $name: u64,)*
        }

        impl Stats {
            /// How many counters there are.
            pub const COUNT: usize = [$(stringify!($name)),*].len();

            /// `(name, value)` pairs, for faces that expose the counters as a map.
            pub fn fields(&self) -> [(&'static str, u64); Self::COUNT] {
                [$((stringify!($name), self.$name)),*]
            }
        }
    };
}

counters! {
    /// Spans taken into the queue.
    spans_accepted,
    /// Log records taken into the queue.
    logs_accepted,
    /// Metric points taken into the queue (aggregated before export).
    metrics_accepted,
    /// Batches the server acknowledged (fully or partly).
    batches_exported,
    /// Batches that failed after the transport gave up.
    batches_failed,
    /// Envelopes put on the wire (retries not counted twice).
    envelopes_sent,
    /// Envelopes the server accepted.
    envelopes_delivered,
    /// Envelopes the server rejected permanently.
    envelopes_rejected,
    /// Spans and logs lost because their batch could not be delivered.
    items_export_failed,
    /// Spans and logs refused because the queue was full.
    dropped_queue_full,
    /// Spans and logs still queued when shutdown's timeout ran out.
    dropped_shut_down,
    /// Spans and logs whose mapping to envelopes failed.
    dropped_mapping_error,
    /// Strings cut to the service's limits.
    values_truncated,
    /// Items waiting in the queue now.
    queue_depth,
    /// HTTP requests made to the ingestion endpoint.
    http_requests,
    /// Request body bytes sent (after compression).
    bytes_sent,
    /// Attempts that re-sent a payload after a transient failure.
    retries,
    /// Whole requests the service rejected permanently (400, 401, 404, ...).
    batches_rejected,
    /// Bytes (compressed) waiting in memory for a retry.
    backlog_bytes,
    /// Spans and logs dropped because the retry backlog was full.
    dropped_backlog_full,
    /// Batches written to disk to wait for delivery.
    persisted_batches,
    /// Batches read back from disk and delivered.
    resent_from_disk_batches,
    /// Bytes this process wrote to disk that are still there.
    disk_bytes,
    /// Files dropped (oldest first) to stay under the disk cap.
    dropped_disk_full_batches,
    /// Files dropped because they outlived the retention period.
    dropped_retention_batches,
    /// Spans and logs that found the queue full and were written to disk instead.
    spilled_items,
    /// Spilled spans and logs whose write to disk failed.
    dropped_spill_failed,
    /// Envelopes a 206 asked to resend that could not be read back out of
    /// their batch (so were dropped).
    envelopes_dropped_unreadable,
    /// Times the retry driver panicked and was started again (the batch it
    /// held is counted as failed; delivery goes on).
    retry_driver_restarts,
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
}
