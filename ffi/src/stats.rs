//! `genkit_azure_stats`: the pipeline's counters as a plain C struct, and
//! `genkit_azure_get_stats`, which fills one in.
//!
//! The function is not called `genkit_azure_stats`: in C a typedef and a
//! function share one namespace, so the struct's typedef would clash with it.

use crate::boundary::{boundary, try_write, FfiResult, Path};
use crate::growable::write_sized;
use crate::handle::genkit_azure_handle;
use crate::status::genkit_azure_status;
use genkit_azure::Stats;

/// A snapshot of the pipeline's counters. Spans and logs are counted as
/// items; one item can become several envelopes (a span with an exception
/// event becomes a dependency and an exception), so the wire is counted in
/// envelopes. Every accepted item (`spans_accepted + logs_accepted +
/// metrics_accepted + custom_accepted`) and every item derived from Genkit
/// spans (`metrics_derived + logs_derived`) ends in exactly one item counter
/// once its batch is finished: `items_delivered`, `items_persisted`,
/// `items_rejected`, `items_export_failed`, `dropped_mapping_error`,
/// `dropped_backlog_full`, `dropped_too_large`, `dropped_spill_failed`,
/// `dropped_shut_down`, (a span, with traces off) `spans_not_exported` or
/// (an item of a trace sampling dropped) `spans_sampled_out`,
/// `logs_sampled_out`, `custom_sampled_out`; until then it is pending
/// (`items_pending`).
// Written out field by field (not generated) so that cbindgen sees it and
// the header carries each counter's documentation. Same names and order as
// core's `Stats`; the test below fails when they drift apart.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct genkit_azure_stats {
    /// `sizeof` this struct as the caller's header declares it: set it
    /// before the call (`s.struct_size = sizeof s;`). Counters are only ever
    /// appended; the library writes at most `struct_size` bytes, the
    /// counters it knows, and zeroes those of a newer header it does not
    /// know. It leaves this field as it is.
    pub struct_size: usize,
    /// Spans taken into the queue.
    pub spans_accepted: u64,
    /// Log records taken into the queue.
    pub logs_accepted: u64,
    /// Metric points taken into the queue (aggregated before export; a
    /// series' delta an SDK reader hands over counts as one).
    pub metrics_accepted: u64,
    /// Custom events, exceptions and availability results taken into the queue.
    pub custom_accepted: u64,
    /// Batches the server acknowledged (fully or partly).
    pub batches_exported: u64,
    /// Batches that failed after the transport gave up.
    pub batches_failed: u64,
    /// Envelopes put on the wire (retries not counted twice), as the
    /// service's answers count them, but never more than a request held.
    pub envelopes_sent: u64,
    /// Envelopes the server accepted, never more than it received.
    pub envelopes_delivered: u64,
    /// Envelopes the server rejected permanently.
    pub envelopes_rejected: u64,
    /// Spans and logs lost because their batch could not be mapped or sent
    /// (including a batch a panicking task let go of).
    pub items_export_failed: u64,
    /// Spans and logs refused because the queue was full (in items or in
    /// bytes: `queue_capacity`, `max_queue_bytes`).
    pub dropped_queue_full: u64,
    /// Spans and logs still queued when shutdown's timeout ran out (or the
    /// handle was freed without shutdown).
    pub dropped_shut_down: u64,
    /// Spans and logs whose mapping to envelopes failed.
    pub dropped_mapping_error: u64,
    /// Strings cut to the service's limits.
    pub values_truncated: u64,
    /// Items waiting in the queue now.
    pub queue_depth: u64,
    /// Accepted items not at their fate yet: queued, being written or sent,
    /// or waiting in the memory backlog. At any quiet moment, accepted ==
    /// the fate counters + this.
    pub items_pending: u64,
    /// HTTP requests made to the ingestion endpoint.
    pub http_requests: u64,
    /// Request body bytes sent (after compression).
    pub bytes_sent: u64,
    /// Attempts that re-sent a payload after a transient failure.
    pub retries: u64,
    /// Whole requests the service rejected permanently (400, 404, ...).
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
    /// Envelopes a 206 asked to resend that could not be read back out of
    /// their batch (so were dropped).
    pub envelopes_dropped_unreadable: u64,
    /// Times the retry driver panicked and was started again (the batch it
    /// held is counted as failed; delivery goes on).
    pub retry_driver_restarts: u64,
    /// Spans and logs the service accepted (a batch a 206 accepted in part
    /// counts here; `envelopes_rejected` has the envelopes it refused).
    pub items_delivered: u64,
    /// Spans and logs written to disk to wait for delivery (sent later by
    /// this or the next process; files, not items, are counted from there).
    pub items_persisted: u64,
    /// Spans and logs the service rejected for good: their request as a whole
    /// (400, 404, ...), or every envelope of it one by one in a 206.
    pub items_rejected: u64,
    /// Spans and logs dropped because a single envelope of theirs was still
    /// too large for the service (413) and nothing else of their batch arrived.
    pub dropped_too_large: u64,
    /// Envelopes dropped because the service called each too large (413)
    /// even alone.
    pub envelopes_dropped_too_large: u64,
    /// Metric points the pipeline derived from Genkit spans (Genkit's
    /// metrics, aggregated before export). Not accepted from the host, but
    /// settled like accepted items: they are part of the accounting identity.
    pub metrics_derived: u64,
    /// Log records the pipeline derived from Genkit spans (`Config[...]`,
    /// `Error[...]`, `Input[...]`, `Output[...]`), settled like accepted
    /// logs. Spans spilled to disk under overload derive nothing.
    pub logs_derived: u64,
    /// Spans taken in only to derive Genkit's metrics and logs from, with
    /// traces off (`disable_traces`): not exported, by design. Their fate.
    pub spans_not_exported: u64,
    /// Metric points folded into their metric's `otel.metric.overflow` series
    /// because it already had `metric_series_limit` attribute sets (still
    /// counted in its sum: no point is lost, its dimensions are).
    pub metric_series_overflowed: u64,
    /// Spans of traces sampling dropped (`sampling_ratio`,
    /// `traces_per_second`): not exported, by design, after Genkit's metrics
    /// and logs were derived from them. Their fate.
    pub spans_sampled_out: u64,
    /// Log records (the host's, or derived from a Genkit span) inside traces
    /// sampling dropped, with `enable_trace_based_sampling_for_logs`: not
    /// exported, by design. Their fate.
    pub logs_sampled_out: u64,
    /// Custom events, exceptions and availability results inside traces
    /// sampling dropped, with `enable_trace_based_sampling_for_logs`. Their fate.
    pub custom_sampled_out: u64,
}

/// Generates the name -> field lookup from one list, so the names cannot
/// disagree with the field they select.
macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        impl genkit_azure_stats {
            /// The C struct's counter names, in field order.
            #[cfg(test)]
            const NAMES: &'static [&'static str] = &[$(stringify!($name)),*];

            fn slot(&mut self, name: &str) -> Option<&mut u64> {
                match name {
                    $(stringify!($name) => Some(&mut self.$name),)*
                    _ => None,
                }
            }
        }
    };
}

counters!(
    spans_accepted,
    logs_accepted,
    metrics_accepted,
    custom_accepted,
    batches_exported,
    batches_failed,
    envelopes_sent,
    envelopes_delivered,
    envelopes_rejected,
    items_export_failed,
    dropped_queue_full,
    dropped_shut_down,
    dropped_mapping_error,
    values_truncated,
    queue_depth,
    items_pending,
    http_requests,
    bytes_sent,
    retries,
    batches_rejected,
    backlog_bytes,
    dropped_backlog_full,
    persisted_batches,
    resent_from_disk_batches,
    disk_bytes,
    dropped_disk_full_batches,
    dropped_retention_batches,
    spilled_items,
    dropped_spill_failed,
    envelopes_dropped_unreadable,
    retry_driver_restarts,
    items_delivered,
    items_persisted,
    items_rejected,
    dropped_too_large,
    envelopes_dropped_too_large,
    metrics_derived,
    logs_derived,
    spans_not_exported,
    metric_series_overflowed,
    spans_sampled_out,
    logs_sampled_out,
    custom_sampled_out,
);

impl From<Stats> for genkit_azure_stats {
    fn from(stats: Stats) -> Self {
        // Copied by name through core's `fields()` rather than by an
        // exhaustive destructure: a counter core adds while this struct has
        // no field for it yet must not break the build of the C library
        // (the test below reports it instead).
        let mut out = Self {
            struct_size: size_of::<Self>(),
            ..Self::default()
        };
        for (name, value) in stats.fields() {
            if let Some(slot) = out.slot(name) {
                *slot = value;
            }
        }
        out
    }
}

/// Copies the current counters into `*out`, whose `struct_size` the caller
/// sets first (`s.struct_size = sizeof s;`): at most `struct_size` bytes are
/// written. Works before and after `genkit_azure_shutdown` (the counters
/// stay readable until the handle is freed). The header maps
/// `genkit_azure_get_stats` to this function.
///
/// # Safety
/// `handle` must be NULL or a live handle from `genkit_azure_new`; `out` must
/// be NULL or valid for reading its `struct_size` and writing `struct_size`
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_get_stats_v1(
    handle: *const genkit_azure_handle,
    out: *mut genkit_azure_stats,
) -> genkit_azure_status {
    boundary("genkit_azure_get_stats", || {
        // SAFETY: forwarded from the caller.
        let stats = unsafe { current(handle) }?;
        // SAFETY: forwarded from the caller; the counters hold no padding.
        unsafe {
            write_sized(
                out,
                &stats,
                std::mem::offset_of!(genkit_azure_stats, spans_accepted),
                &Path::Root("out"),
            )
        }
    })
}

/// The counters of the pipeline behind `handle`.
///
/// # Safety
/// `handle` must be NULL or a live handle from `genkit_azure_new`.
pub(crate) unsafe fn current(handle: *const genkit_azure_handle) -> FfiResult<genkit_azure_stats> {
    // SAFETY: forwarded from the caller.
    let telemetry = unsafe { genkit_azure_handle::telemetry(handle) }?;
    Ok(telemetry.stats().into())
}

/// How many envelopes (or whole requests) the service rejected with one HTTP status.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct genkit_azure_status_count {
    /// The HTTP status, e.g. 400.
    pub status: u16,
    pub count: u64,
}

/// Envelopes a partial success (206) rejected one by one, by their own HTTP
/// status, lowest status first. Writes at most `capacity` entries to `out`
/// (which may be NULL when `capacity` is 0) and the number of entries there
/// are to `*len`, so a caller can ask with 0 first and size its array.
///
/// # Safety
/// `handle` must be NULL or a live handle; `out` must be NULL or valid for
/// writing `capacity` entries; `len` must be NULL or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_get_envelopes_rejected_by_status(
    handle: *const genkit_azure_handle,
    out: *mut genkit_azure_status_count,
    capacity: usize,
    len: *mut usize,
) -> genkit_azure_status {
    boundary("genkit_azure_get_envelopes_rejected_by_status", || {
        // SAFETY: forwarded from the caller.
        let telemetry = unsafe { genkit_azure_handle::telemetry(handle) }?;
        // SAFETY: forwarded from the caller.
        unsafe { write_counts(telemetry.envelopes_rejected_by_status(), out, capacity, len) }
    })
}

/// Whole requests the service rejected (400, 404, ...), by the answer's HTTP
/// status, lowest status first. Same calling convention as
/// `genkit_azure_get_envelopes_rejected_by_status`.
///
/// # Safety
/// `handle` must be NULL or a live handle; `out` must be NULL or valid for
/// writing `capacity` entries; `len` must be NULL or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_get_requests_rejected_by_status(
    handle: *const genkit_azure_handle,
    out: *mut genkit_azure_status_count,
    capacity: usize,
    len: *mut usize,
) -> genkit_azure_status {
    boundary("genkit_azure_get_requests_rejected_by_status", || {
        // SAFETY: forwarded from the caller.
        let telemetry = unsafe { genkit_azure_handle::telemetry(handle) }?;
        // SAFETY: forwarded from the caller.
        unsafe { write_counts(telemetry.requests_rejected_by_status(), out, capacity, len) }
    })
}

/// Envelopes and whole requests together, by HTTP status: the sum of
/// `genkit_azure_get_envelopes_rejected_by_status` and
/// `genkit_azure_get_requests_rejected_by_status`, which tell them apart.
/// Same calling convention.
///
/// # Safety
/// `handle` must be NULL or a live handle; `out` must be NULL or valid for
/// writing `capacity` entries; `len` must be NULL or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_get_rejected_by_status(
    handle: *const genkit_azure_handle,
    out: *mut genkit_azure_status_count,
    capacity: usize,
    len: *mut usize,
) -> genkit_azure_status {
    boundary("genkit_azure_get_rejected_by_status", || {
        // SAFETY: forwarded from the caller.
        let telemetry = unsafe { genkit_azure_handle::telemetry(handle) }?;
        // SAFETY: forwarded from the caller.
        unsafe { write_counts(telemetry.rejected_by_status(), out, capacity, len) }
    })
}

/// Writes `counts` the way the `genkit_azure_get_*_by_status` functions promise.
///
/// # Safety
/// As for those functions: `out` valid for `capacity` entries or NULL, `len`
/// valid for writing or NULL.
unsafe fn write_counts(
    counts: Vec<(u16, u64)>,
    out: *mut genkit_azure_status_count,
    capacity: usize,
    len: *mut usize,
) -> Result<(), crate::boundary::FfiError> {
    if capacity > 0 && out.is_null() {
        return Err(crate::boundary::FfiError::new(
            genkit_azure_status::GENKIT_AZURE_NULL_ARGUMENT,
            "out is NULL but capacity is not 0",
        ));
    }
    // SAFETY: forwarded from the caller.
    unsafe { try_write(len, counts.len(), &Path::Root("len")) }?;
    for (i, (status, count)) in counts.into_iter().take(capacity).enumerate() {
        // SAFETY: i < capacity, and the caller promised room for `capacity` entries.
        unsafe {
            out.add(i)
                .write(genkit_azure_status_count { status, count })
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_every_core_counter_in_core_order() {
        let core: Vec<&str> = Stats::default().fields().iter().map(|(n, _)| *n).collect();
        let missing: Vec<&&str> = core
            .iter()
            .filter(|n| !genkit_azure_stats::NAMES.contains(n))
            .collect();
        assert!(
            missing.is_empty(),
            "core's Stats has counters genkit_azure_stats lacks: {missing:?}. Add them to \
             ffi/src/stats.rs (struct and counters! list, in core's order) and run `make header`."
        );
        assert_eq!(
            genkit_azure_stats::NAMES,
            &core[..],
            "same names, same order as core"
        );
    }

    #[test]
    fn names_select_their_own_fields() {
        // Give each counter its index, then view the repr(C) struct as an
        // array: element i must hold i, i.e. NAMES is in field order.
        let n = genkit_azure_stats::NAMES.len();
        let start = std::mem::offset_of!(genkit_azure_stats, spans_accepted);
        assert_eq!(
            size_of::<genkit_azure_stats>(),
            start + n * size_of::<u64>()
        );
        let mut s = genkit_azure_stats::default();
        for (i, name) in genkit_azure_stats::NAMES.iter().enumerate() {
            *s.slot(name).expect("listed names have slots") = i as u64;
        }
        // SAFETY: after struct_size, a repr(C) struct of exactly n u64 fields
        // (size checked above) has the layout of [u64; n].
        let values = unsafe {
            std::slice::from_raw_parts((&s as *const _ as *const u8).add(start) as *const u64, n)
        };
        assert!(
            values.iter().enumerate().all(|(i, v)| *v == i as u64),
            "{values:?}"
        );
    }

    #[test]
    fn copies_values_from_core() {
        let core = Stats {
            spans_accepted: 3,
            bytes_sent: 99,
            ..Stats::default()
        };
        let c = genkit_azure_stats::from(core);
        assert_eq!(
            (c.spans_accepted, c.bytes_sent, c.logs_accepted),
            (3, 99, 0)
        );
    }
}
