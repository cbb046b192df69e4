//! `genkit_azure_log_record`: a log record handed over from C, and
//! `genkit_azure_emit_log`, which checks it and queues it.

use crate::attribute::{attributes, genkit_azure_attribute};
use crate::boundary::{boundary, try_opt_str, try_str, FfiError, FfiResult, Path};
use crate::growable::read_sized;
use crate::handle::{genkit_azure_handle, pushed};
use crate::status::genkit_azure_status;
use crate::trace_context::trace_context;
use genkit_azure::face;
use genkit_azure::{time_from_unix_nanos, LogRecord};
use std::ffi::c_char;
use std::time::SystemTime;

/// A log record. Zero-initialise it and set `severity_number` and `body`:
/// time 0 means "now" and zero ids mean "not inside a span". A record with an
/// `exception.*` attribute becomes an Exception item, any other a Message
/// (trace) item. Everything is copied; the struct may be freed after the call.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct genkit_azure_log_record {
    /// `sizeof` this struct as the caller's header declares it: set it
    /// first (`x.struct_size = sizeof x;`). Fields are only ever appended,
    /// so a library newer than the header reads the ones it lacks as 0
    /// (default), and an older one refuses non-zero fields it does not know
    /// (`GENKIT_AZURE_INVALID_STRUCT_SIZE`).
    pub struct_size: usize,
    /// When it happened, in nanoseconds since the Unix epoch. 0 = now.
    pub time_unix_nano: u64,
    /// OpenTelemetry severity number, 1..24: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO,
    /// 13-16 WARN, 17-20 ERROR, 21-24 FATAL.
    // Plain int32_t as in the OpenTelemetry data model; 0 (unset) is refused
    // so that a forgotten field is caught rather than guessed.
    pub severity_number: i32,
    /// The message. UTF-8, not NULL (may be "").
    pub body: *const c_char,
    /// May be NULL when `attribute_count` is 0.
    pub attributes: *const genkit_azure_attribute,
    pub attribute_count: usize,
    /// The trace the record was emitted in; all zeros = not in a span.
    pub trace_id: [u8; 16],
    /// The span the record was emitted in; all zeros together with `trace_id`.
    pub span_id: [u8; 8],
    /// The logger's name, kept as a property. NULL = not set.
    pub logger_name: *const c_char,
}

/// Reads a C log record into core's `LogRecord`, checking every field.
///
/// # Safety
/// Every pointer in `r` must be NULL or valid as documented on `genkit_azure_log_record`.
pub(crate) unsafe fn log_record(
    r: &genkit_azure_log_record,
    path: &Path<'_>,
) -> FfiResult<LogRecord> {
    // The one check every face makes (Python refuses the same numbers).
    let severity = face::severity(r.severity_number.into()).map_err(|e| {
        FfiError::invalid(format!("{} {}", path.field("severity_number"), e.reason))
    })?;
    let time = match r.time_unix_nano {
        0 => SystemTime::now(),
        nanos => time_from_unix_nanos(nanos),
    };
    // SAFETY (all blocks below): forwarded from the caller.
    let body = unsafe { try_str(r.body, &path.field("body")) }?;
    let attrs = unsafe {
        attributes(
            r.attributes,
            r.attribute_count,
            &path.field("attributes"),
            &path.field("attribute_count"),
        )
    }?;
    let trace_context = trace_context(r.trace_id, r.span_id, path)?;
    let logger_name = unsafe { try_opt_str(r.logger_name, &path.field("logger_name")) }?;
    Ok(LogRecord {
        time,
        severity,
        body: body.to_owned(),
        attributes: attrs,
        trace_context,
        logger_name: logger_name.map(str::to_owned),
        operation_name: None,
        sample_rate: None,
    })
}

/// Queues a log record for export. Never blocks on the network.
///
/// Returns `GENKIT_AZURE_OK` when queued; `GENKIT_AZURE_QUEUE_FULL` (not fatal)
/// when the queue was full and the record was dropped and counted;
/// `GENKIT_AZURE_SHUT_DOWN` after `genkit_azure_shutdown`; a validation status
/// (nothing queued) when a field is invalid.
///
/// The header maps `genkit_azure_emit_log` to this function.
///
/// # Safety
/// `handle` must be NULL or a live handle from `genkit_azure_new`; `log` must
/// be NULL or point to a `genkit_azure_log_record` of `struct_size` bytes
/// whose pointers are NULL or valid as documented there, for the duration of
/// the call.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_emit_log_v1(
    handle: *mut genkit_azure_handle,
    log: *const genkit_azure_log_record,
) -> genkit_azure_status {
    boundary("genkit_azure_emit_log", || {
        let path = Path::Root("log");
        // SAFETY (both): forwarded from the caller.
        let log = unsafe { read_sized(log, &path) }?;
        unsafe { emit(handle, &log, &path) }
    })
}

/// Checks and queues a record read in full (either version).
///
/// # Safety
/// `handle` as for the exported function; every pointer in `log` must be
/// NULL or valid as documented on `genkit_azure_log_record`.
pub(crate) unsafe fn emit(
    handle: *mut genkit_azure_handle,
    log: &genkit_azure_log_record,
    path: &Path<'_>,
) -> FfiResult {
    // SAFETY (both): forwarded from the caller.
    let telemetry = unsafe { genkit_azure_handle::telemetry(handle) }?;
    let record = unsafe { log_record(log, path) }?;
    pushed(telemetry.emit_log(record), "log record")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::genkit_azure_status::*;
    use genkit_azure::opentelemetry::trace::{SpanId, TraceId};

    fn valid() -> genkit_azure_log_record {
        // SAFETY: all-zero is a valid record (what C's `= {0}` gives).
        let zeroed: genkit_azure_log_record = unsafe { std::mem::zeroed() };
        genkit_azure_log_record {
            severity_number: 9,
            body: c"hello".as_ptr(),
            ..zeroed
        }
    }

    fn convert(r: &genkit_azure_log_record) -> FfiResult<LogRecord> {
        // SAFETY: test records point only at static strings.
        unsafe { log_record(r, &Path::Root("log")) }
    }

    #[test]
    fn converts_defaults_and_context() {
        let before = SystemTime::now();
        let r = convert(&valid()).unwrap();
        assert!(r.time >= before, "time 0 means now");
        assert!(r.trace_context.is_none());
        assert_eq!(r.body, "hello");

        let r = convert(&genkit_azure_log_record {
            trace_id: [1; 16],
            span_id: [2; 8],
            time_unix_nano: 1_000,
            logger_name: c"app".as_ptr(),
            ..valid()
        })
        .unwrap();
        assert_eq!(
            r.trace_context,
            Some((TraceId::from_bytes([1; 16]), SpanId::from_bytes([2; 8])))
        );
        assert_eq!(r.time, time_from_unix_nanos(1_000));
        assert_eq!(r.logger_name.as_deref(), Some("app"));
    }

    #[test]
    fn refuses_bad_fields_with_their_names() {
        let cases = [
            (
                genkit_azure_log_record {
                    severity_number: 0,
                    ..valid()
                },
                GENKIT_AZURE_INVALID_ARGUMENT,
                "log.severity_number is 0",
            ),
            (
                genkit_azure_log_record {
                    severity_number: 25,
                    ..valid()
                },
                GENKIT_AZURE_INVALID_ARGUMENT,
                "log.severity_number is 25",
            ),
            (
                genkit_azure_log_record {
                    body: std::ptr::null(),
                    ..valid()
                },
                GENKIT_AZURE_NULL_ARGUMENT,
                "log.body is NULL",
            ),
            (
                genkit_azure_log_record {
                    body: c"\xe2\x82".as_ptr(),
                    ..valid()
                },
                GENKIT_AZURE_INVALID_UTF8,
                "log.body is not valid UTF-8",
            ),
            (
                genkit_azure_log_record {
                    attribute_count: 4,
                    ..valid()
                },
                GENKIT_AZURE_NULL_ARGUMENT,
                "log.attributes is NULL but log.attribute_count is 4",
            ),
            (
                genkit_azure_log_record {
                    span_id: [1; 8],
                    ..valid()
                },
                GENKIT_AZURE_INVALID_ARGUMENT,
                "log.trace_id and log.span_id must both be set",
            ),
        ];
        for (record, status, words) in cases {
            let e = convert(&record).unwrap_err();
            assert_eq!(e.status, status, "{}", e.message);
            assert!(
                e.message.starts_with(words),
                "expected '{words}', got '{}'",
                e.message
            );
        }
    }
}
