//! Where an item handed over from C happened: the trace and span it was
//! recorded in (`trace_id` / `span_id` fields, all zeros = in none), as log
//! records and custom items carry them.

use crate::boundary::{FfiError, FfiResult, Path};
use genkit_azure::opentelemetry::trace::{SpanId, TraceId};

/// `None` when both ids are all zeros; both must be set otherwise.
pub(crate) fn trace_context(
    trace_id: [u8; 16],
    span_id: [u8; 8],
    path: &Path<'_>,
) -> FfiResult<Option<(TraceId, SpanId)>> {
    match (trace_id == [0; 16], span_id == [0; 8]) {
        (true, true) => Ok(None),
        (false, false) => Ok(Some((
            TraceId::from_bytes(trace_id),
            SpanId::from_bytes(span_id),
        ))),
        // Half a context would produce an item that links to nothing.
        (true, false) | (false, true) => Err(FfiError::invalid(format!(
            "{} and {} must both be set or both be all zeros",
            path.field("trace_id"),
            path.field("span_id")
        ))),
    }
}
