//! `genkit_azure_span_started`: a C host says a span has started, so that it
//! and everything under it carry its root's operation name
//! (`ai.operation.name`), as the Python and Rust span processors do at
//! `on_start`: children end before their root, so the name must travel down
//! when spans start.

use crate::boundary::{boundary, try_id, try_opt_str, FfiResult, Path};
use crate::growable::read_sized;
use crate::handle::genkit_azure_handle;
use crate::status::genkit_azure_status;
use std::ffi::c_char;

/// A span that has just started. Zero-initialise it and set what you know.
#[repr(C)]
pub struct genkit_azure_span_start {
    /// `sizeof` this struct as the caller's header declares it: set it
    /// first (`x.struct_size = sizeof x;`). Fields are only ever appended,
    /// so a library newer than the header reads the ones it lacks as 0
    /// (default), and an older one refuses non-zero fields it does not know
    /// (`GENKIT_AZURE_INVALID_STRUCT_SIZE`).
    pub struct_size: usize,
    /// The trace id; must not be all zeros.
    pub trace_id: [u8; 16],
    /// The parent's id; all zeros for a root span.
    pub parent_span_id: [u8; 8],
    /// True when the parent lives in another process: the span is then the
    /// root of this process's part of the operation.
    pub parent_is_remote: bool,
    /// The operation's name when this span is a root (`POST /api/generate`,
    /// a flow's name). UTF-8; NULL = the span gets no name. Ignored for a
    /// span with a local parent: it inherits the parent's name.
    pub root_operation_name: *const c_char,
}

/// Says a span has started. A root (no parent, or a remote one) names its
/// trace's operation; for any other span this only checks the input. Every
/// span of the trace exported while the root is open (children end first),
/// with its exception events and the logs emitted inside it, carries the
/// name, unless `genkit_azure_span.operation_name` says otherwise; the
/// root's export forgets it. A root also decides, with `sampling_ratio` or
/// `traces_per_second`, whether its trace is kept: the trace's spans follow
/// that decision (a dropped trace's spans are counted in
/// `spans_sampled_out`, after Genkit's metrics are derived from them), and
/// so do its logs and custom items with
/// `enable_trace_based_sampling_for_logs`. Never blocks; a root that is
/// never exported holds a few bytes (bounded).
///
/// Returns `GENKIT_AZURE_OK`, or a validation status (nothing registered).
///
/// The header maps `genkit_azure_span_started` to this function.
///
/// # Safety
/// `handle` must be NULL or a live handle from `genkit_azure_new`; `start`
/// must be NULL or point to a `genkit_azure_span_start` of `struct_size`
/// bytes whose pointer is NULL or a NUL-terminated string, for the duration
/// of the call.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_span_started_v1(
    handle: *mut genkit_azure_handle,
    start: *const genkit_azure_span_start,
) -> genkit_azure_status {
    boundary("genkit_azure_span_started", || {
        let path = Path::Root("start");
        // SAFETY (both): forwarded from the caller.
        let start = unsafe { read_sized(start, &path) }?;
        unsafe { started(handle, &start, &path) }
    })
}

/// Registers a start read in full (either version).
///
/// # Safety
/// `handle` as for the exported function; `s.root_operation_name` NULL or
/// a NUL-terminated string.
pub(crate) unsafe fn started(
    handle: *mut genkit_azure_handle,
    s: &genkit_azure_span_start,
    path: &Path<'_>,
) -> FfiResult {
    // SAFETY: forwarded from the caller.
    let telemetry = unsafe { genkit_azure_handle::telemetry(handle) }?;
    try_id(&s.trace_id, &path.field("trace_id"))?;
    // SAFETY: forwarded from the caller.
    let root_name =
        unsafe { try_opt_str(s.root_operation_name, &path.field("root_operation_name")) }?;
    let is_root = s.parent_span_id == [0; 8] || s.parent_is_remote;
    if let (true, Some(name)) = (is_root, root_name) {
        telemetry
            .operations()
            .root_started(u128::from_be_bytes(s.trace_id), || name.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handle::tests::{config, last_error, with_handle};
    use crate::status::genkit_azure_status::*;
    use genkit_azure_span_started_v1 as genkit_azure_span_started;

    #[test]
    fn a_root_names_its_traces_operation() {
        with_handle(&config(), |handle, telemetry| {
            let root = genkit_azure_span_start {
                struct_size: size_of::<genkit_azure_span_start>(),
                trace_id: [9; 16],
                parent_span_id: [0; 8],
                parent_is_remote: false,
                root_operation_name: c"POST /api/generate".as_ptr(),
            };
            let child = genkit_azure_span_start {
                struct_size: size_of::<genkit_azure_span_start>(),
                trace_id: [9; 16],
                parent_span_id: [1; 8],
                parent_is_remote: false,
                root_operation_name: std::ptr::null(),
            };
            // SAFETY: live handle, valid structs.
            unsafe {
                assert_eq!(genkit_azure_span_started(handle, &root), GENKIT_AZURE_OK);
                assert_eq!(genkit_azure_span_started(handle, &child), GENKIT_AZURE_OK);
            }
            let ops = telemetry.operations();
            assert_eq!(
                ops.name(u128::from_be_bytes([9; 16])).as_deref(),
                Some("POST /api/generate")
            );
            assert_eq!(ops.open(), 1, "a child registers nothing");
        });
    }

    #[test]
    fn bad_input_is_refused_with_a_message() {
        with_handle(&config(), |handle, telemetry| {
            let zero = genkit_azure_span_start {
                struct_size: size_of::<genkit_azure_span_start>(),
                trace_id: [0; 16],
                parent_span_id: [0; 8],
                parent_is_remote: false,
                root_operation_name: c"x".as_ptr(),
            };
            let bad_utf8 = genkit_azure_span_start {
                trace_id: [3; 16],
                root_operation_name: c"\xff".as_ptr(),
                ..zero
            };
            // SAFETY: live handle; NULL and invalid inputs are what is tested.
            unsafe {
                assert_eq!(
                    genkit_azure_span_started(handle, &zero),
                    GENKIT_AZURE_INVALID_ARGUMENT
                );
                assert_eq!(
                    genkit_azure_span_started(handle, std::ptr::null()),
                    GENKIT_AZURE_NULL_ARGUMENT
                );
                assert_eq!(
                    genkit_azure_span_started(std::ptr::null_mut(), &bad_utf8),
                    GENKIT_AZURE_NULL_ARGUMENT
                );
                assert_eq!(
                    genkit_azure_span_started(handle, &bad_utf8),
                    GENKIT_AZURE_INVALID_UTF8
                );
            }
            assert!(last_error().contains("start.root_operation_name"));
            assert_eq!(telemetry.operations().open(), 0, "nothing registered");
        });
    }
}
