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
            /// Envelopes a 206 rejected one by one, by their own status.
            envelopes_rejected_by_status: Mutex<BTreeMap<u16, u64>>,
            /// Whole requests the service rejected, by the answer's status.
            requests_rejected_by_status: Mutex<BTreeMap<u16, u64>>,
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
        /// an exception), so the wire is counted in envelopes.
        ///
        /// Every accepted item (`spans_accepted + logs_accepted +
        /// metrics_accepted + custom_accepted`), and every item the pipeline
        /// derived from Genkit spans (`metrics_derived + logs_derived`), ends
        /// in exactly one item counter once its batch is finished:
        /// `items_delivered`, `items_persisted`, `items_rejected`,
        /// `items_export_failed`, `dropped_mapping_error`,
        /// `dropped_backlog_full`, `dropped_too_large`, `dropped_spill_failed`,
        /// `dropped_shut_down`, (a span, with traces off)
        /// `spans_not_exported` or (an item of a trace sampling dropped)
        /// `spans_sampled_out`, `logs_sampled_out`, `custom_sampled_out`;
        /// until then it is counted in
        /// `items_pending` (queued, being mapped or sent, or waiting in the
        /// memory backlog). So at any quiet moment: accepted + derived ==
        /// the fate counters + `items_pending`.
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
    /// Metric points taken into the queue (aggregated before export; a
    /// series' delta an SDK reader hands over counts as one).
    metrics_accepted,
    /// Custom events, exceptions and availability results taken into the queue.
    custom_accepted,
    /// Batches the server acknowledged (fully or partly).
    batches_exported,
    /// Batches that failed after the transport gave up.
    batches_failed,
    /// Envelopes put on the wire (retries not counted twice), as the
    /// service's answers count them, but never more than a request held.
    envelopes_sent,
    /// Envelopes the server accepted, never more than it received.
    envelopes_delivered,
    /// Envelopes the server rejected permanently.
    envelopes_rejected,
    /// Spans and logs lost because their batch could not be mapped or sent
    /// (including a batch a panicking task let go of).
    items_export_failed,
    /// Spans and logs refused because the queue was full (in items or in
    /// bytes: `queue_capacity`, `max_queue_bytes`).
    dropped_queue_full,
    /// Spans and logs still queued when shutdown's timeout ran out.
    dropped_shut_down,
    /// Spans and logs whose mapping to envelopes failed.
    dropped_mapping_error,
    /// Strings cut to the service's limits.
    values_truncated,
    /// Items waiting in the queue now.
    queue_depth,
    /// Accepted items not at their fate yet: queued, being written or sent,
    /// or waiting in the memory backlog. At any quiet moment, accepted ==
    /// the fate counters + this.
    items_pending,
    /// HTTP requests made to the ingestion endpoint.
    http_requests,
    /// Request body bytes sent (after compression).
    bytes_sent,
    /// Attempts that re-sent a payload after a transient failure.
    retries,
    /// Whole requests the service rejected permanently (400, 404, ...).
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
    /// Spans and logs that found the queue full and were written to disk
    /// instead (nothing is derived from a spilled Genkit span).
    spilled_items,
    /// Spilled spans and logs whose write to disk failed.
    dropped_spill_failed,
    /// Envelopes a 206 asked to resend that could not be read back out of
    /// their batch (so were dropped).
    envelopes_dropped_unreadable,
    /// Times the retry driver panicked and was started again (the batch it
    /// held is counted as failed; delivery goes on).
    retry_driver_restarts,
    /// Spans and logs the service accepted (a batch a 206 accepted in part
    /// counts here; `envelopes_rejected` has the envelopes it refused).
    items_delivered,
    /// Spans and logs written to disk to wait for delivery (sent later by
    /// this or the next process; files, not items, are counted from there).
    items_persisted,
    /// Spans and logs the service rejected for good: their request as a whole
    /// (400, 404, ...), or every envelope of it one by one in a 206.
    items_rejected,
    /// Spans and logs dropped because a single envelope of theirs was still
    /// too large for the service (413) and nothing else of their batch arrived.
    dropped_too_large,
    /// Envelopes dropped because the service called each too large (413)
    /// even alone.
    envelopes_dropped_too_large,
    /// Metric points the pipeline derived from Genkit spans (Genkit's
    /// metrics, aggregated before export). Not accepted from a face, but
    /// settled like accepted items: they are part of the accounting identity.
    metrics_derived,
    /// Log records the pipeline derived from Genkit spans (`Config[...]`,
    /// `Error[...]`, `Input[...]`, `Output[...]`), settled like accepted
    /// logs. Spans spilled to disk under overload derive nothing.
    logs_derived,
    /// Spans taken in only to derive Genkit's metrics and logs from, with
    /// traces off (`disable_traces`): not exported, by design. Their fate.
    spans_not_exported,
    /// Metric points folded into their metric's `otel.metric.overflow` series
    /// because it already had `metric_series_limit` attribute sets (still
    /// counted in its sum: no point is lost, its dimensions are).
    metric_series_overflowed,
    /// Spans of traces sampling dropped (`sampling_ratio`,
    /// `traces_per_second`): not exported, by design, after Genkit's metrics
    /// and logs were derived from them. Their fate.
    spans_sampled_out,
    /// Log records (a host's, or derived from a Genkit span) inside traces
    /// sampling dropped, with `enable_trace_based_sampling_for_logs`: not
    /// exported, by design. Their fate.
    logs_sampled_out,
    /// Custom events, exceptions and availability results inside traces
    /// sampling dropped, with `enable_trace_based_sampling_for_logs`. Their fate.
    custom_sampled_out,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Takes `n` off a gauge, stopping at zero: a load followed by a
    /// `fetch_sub` can wrap when two threads take off at once.
    pub fn sub(counter: &AtomicU64, n: u64) {
        let _ = counter.fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(n)));
    }

    /// Counts one envelope a 206 rejected with its own `status`.
    pub fn count_envelope_rejected(&self, status: u16) {
        bump(&self.envelopes_rejected_by_status, status);
    }

    /// Counts one whole request rejected with `status`.
    pub fn count_request_rejected(&self, status: u16) {
        bump(&self.requests_rejected_by_status, status);
    }

    /// Envelopes a 206 rejected, by status, lowest first.
    pub fn envelopes_rejected_by_status(&self) -> Vec<(u16, u64)> {
        read(&self.envelopes_rejected_by_status)
    }

    /// Whole requests rejected, by status, lowest first.
    pub fn requests_rejected_by_status(&self) -> Vec<(u16, u64)> {
        read(&self.requests_rejected_by_status)
    }

    /// Envelopes and whole requests together, by status (the older, mixed view).
    pub fn rejected_by_status(&self) -> Vec<(u16, u64)> {
        let mut all = self
            .envelopes_rejected_by_status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (status, n) in self.requests_rejected_by_status() {
            *all.entry(status).or_default() += n;
        }
        all.into_iter().collect()
    }
}

fn bump(map: &Mutex<BTreeMap<u16, u64>>, status: u16) {
    *map.lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(status)
        .or_default() += 1;
}

fn read(map: &Mutex<BTreeMap<u16, u64>>) -> Vec<(u16, u64)> {
    let map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.iter().map(|(k, v)| (*k, *v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gauge_never_wraps_below_zero() {
        let c = Counters::default();
        Counters::add(&c.disk_bytes, 5);
        Counters::sub(&c.disk_bytes, 3);
        Counters::sub(&c.disk_bytes, 3);
        assert_eq!(c.snapshot().disk_bytes, 0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        Counters::add(&c.disk_bytes, 1);
                        Counters::sub(&c.disk_bytes, 2);
                    }
                });
            }
        });
        assert_eq!(c.snapshot().disk_bytes, 0);
    }

    #[test]
    fn envelopes_and_requests_are_counted_apart() {
        let c = Counters::default();
        c.count_envelope_rejected(400);
        c.count_envelope_rejected(400);
        c.count_request_rejected(400);
        c.count_request_rejected(404);
        assert_eq!(c.envelopes_rejected_by_status(), [(400, 2)]);
        assert_eq!(c.requests_rejected_by_status(), [(400, 1), (404, 1)]);
        assert_eq!(c.rejected_by_status(), [(400, 3), (404, 1)]);
    }
}
