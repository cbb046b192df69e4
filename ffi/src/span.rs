//! `genkit_azure_span`: a finished span handed over from C, and
//! `genkit_azure_export_span`, which checks it and queues it.
//!
//! The C struct is read field by field into core's `RawSpan`; every string is
//! copied, so the caller may free its memory as soon as the call returns.

use crate::attribute::{attributes, genkit_azure_attribute};
use crate::boundary::{
    boundary, try_opt_str, try_ref, try_slice, try_str, FfiError, FfiResult, Path,
};
use crate::handle::{genkit_azure_handle, pushed};
use crate::status::genkit_azure_status;
use genkit_azure::opentelemetry::trace::{Event, SpanKind, Status};
use genkit_azure::opentelemetry::InstrumentationScope;
use genkit_azure::{time_from_unix_nanos, RawSpan};
use std::ffi::c_char;

/// What a span represents; decides the Application Insights item type.
// repr(C): C sees a plain enum; fields holding one are uint32_t.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum genkit_azure_span_kind {
    /// Work inside the process (a Genkit flow step, a tool call): a dependency of type InProc.
    GENKIT_AZURE_SPAN_KIND_INTERNAL = 0,
    /// Handling an incoming request: a Request item.
    GENKIT_AZURE_SPAN_KIND_SERVER = 1,
    /// An outgoing call (a model API, a database): a RemoteDependency item.
    GENKIT_AZURE_SPAN_KIND_CLIENT = 2,
    /// Sending a message to a queue: a RemoteDependency item.
    GENKIT_AZURE_SPAN_KIND_PRODUCER = 3,
    /// Processing a message from a queue: a Request item.
    GENKIT_AZURE_SPAN_KIND_CONSUMER = 4,
}

/// The outcome of a span, as in OpenTelemetry.
// repr(C): C sees a plain enum; fields holding one are uint32_t.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum genkit_azure_status_code {
    /// Not set: the item's success follows the HTTP status code, if any.
    GENKIT_AZURE_STATUS_CODE_UNSET = 0,
    /// Explicitly successful.
    GENKIT_AZURE_STATUS_CODE_OK = 1,
    /// Failed: the item is marked success=false; `status_message` says why.
    GENKIT_AZURE_STATUS_CODE_ERROR = 2,
}

/// Something that happened during a span. An event named "exception" with
/// `exception.type`, `exception.message` and `exception.stacktrace`
/// attributes becomes an Exception item.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct genkit_azure_event {
    /// UTF-8, not NULL.
    pub name: *const c_char,
    /// When it happened, in nanoseconds since the Unix epoch; not 0.
    pub time_unix_nano: u64,
    /// May be NULL when `attribute_count` is 0.
    pub attributes: *const genkit_azure_attribute,
    pub attribute_count: usize,
}

/// A finished span. Zero-initialise it and set what you need: zero ids and
/// NULL optional strings mean "not set". The library copies everything it
/// reads; the struct and its strings may be freed when the call returns.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct genkit_azure_span {
    /// The trace id; must not be all zeros. Becomes `ai.operation.id`.
    pub trace_id: [u8; 16],
    /// This span's id; must not be all zeros.
    pub span_id: [u8; 8],
    /// The parent span's id; all zeros for a root span. Becomes `ai.operation.parentId`.
    pub parent_span_id: [u8; 8],
    /// True when the parent lives in another process (e.g. came in a traceparent header).
    pub parent_is_remote: bool,
    /// The span name. UTF-8, not NULL.
    pub name: *const c_char,
    /// A `genkit_azure_span_kind` value.
    // An integer, not the enum: C can store any value here.
    pub kind: u32,
    /// Start time in nanoseconds since the Unix epoch; not 0.
    pub start_time_unix_nano: u64,
    /// End time in nanoseconds since the Unix epoch; not before the start.
    pub end_time_unix_nano: u64,
    /// A `genkit_azure_status_code` value.
    pub status_code: u32,
    /// Why the span failed; read only when `status_code` is ERROR. NULL = no description.
    pub status_message: *const c_char,
    /// May be NULL when `attribute_count` is 0.
    pub attributes: *const genkit_azure_attribute,
    pub attribute_count: usize,
    /// May be NULL when `event_count` is 0.
    pub events: *const genkit_azure_event,
    pub event_count: usize,
    /// The instrumentation scope (tracer) name, e.g. "genkit-tracer". NULL = "genkit-azure".
    pub scope_name: *const c_char,
    /// The instrumentation scope version. NULL = not set; needs `scope_name`.
    pub scope_version: *const c_char,
}

fn span_kind(value: u32, path: &Path<'_>) -> FfiResult<SpanKind> {
    use genkit_azure_span_kind::*;
    Ok(match value {
        v if v == GENKIT_AZURE_SPAN_KIND_INTERNAL as u32 => SpanKind::Internal,
        v if v == GENKIT_AZURE_SPAN_KIND_SERVER as u32 => SpanKind::Server,
        v if v == GENKIT_AZURE_SPAN_KIND_CLIENT as u32 => SpanKind::Client,
        v if v == GENKIT_AZURE_SPAN_KIND_PRODUCER as u32 => SpanKind::Producer,
        v if v == GENKIT_AZURE_SPAN_KIND_CONSUMER as u32 => SpanKind::Consumer,
        other => {
            return Err(FfiError::invalid(format!(
                "{path} is {other}, which is not a genkit_azure_span_kind (0..=4)"
            )))
        }
    })
}

/// Checks a timestamp field. 0 is refused: it is what an unset field holds,
/// and a span in 1970 is never what was meant.
fn time(nanos: u64, path: &Path<'_>) -> FfiResult<u64> {
    if nanos == 0 {
        return Err(FfiError::invalid(format!(
            "{path} is 0; set it to nanoseconds since the Unix epoch"
        )));
    }
    Ok(nanos)
}

/// # Safety
/// The event's pointers must satisfy the `boundary` checks' contracts.
unsafe fn event(e: &genkit_azure_event, path: &Path<'_>) -> FfiResult<Event> {
    // SAFETY: forwarded from the caller.
    let name = unsafe { try_str(e.name, &path.field("name")) }?;
    let time = time(e.time_unix_nano, &path.field("time_unix_nano"))?;
    // SAFETY: forwarded from the caller.
    let attrs = unsafe {
        attributes(
            e.attributes,
            e.attribute_count,
            &path.field("attributes"),
            &path.field("attribute_count"),
        )
    }?;
    Ok(Event::new(
        name.to_owned(),
        time_from_unix_nanos(time),
        attrs,
        0,
    ))
}

/// Reads a C span into core's `RawSpan`, checking every field.
///
/// # Safety
/// Every pointer in `s` must be NULL or valid as documented on `genkit_azure_span`.
pub(crate) unsafe fn raw_span(s: &genkit_azure_span, path: &Path<'_>) -> FfiResult<RawSpan> {
    use genkit_azure_status_code::*;
    if s.trace_id == [0; 16] {
        return Err(FfiError::invalid(format!(
            "{} is all zeros",
            path.field("trace_id")
        )));
    }
    if s.span_id == [0; 8] {
        return Err(FfiError::invalid(format!(
            "{} is all zeros",
            path.field("span_id")
        )));
    }
    // SAFETY (all blocks below): forwarded from the caller.
    let name = unsafe { try_str(s.name, &path.field("name")) }?;
    let kind = span_kind(s.kind, &path.field("kind"))?;
    let start_path = path.field("start_time_unix_nano");
    let end_path = path.field("end_time_unix_nano");
    let start = time(s.start_time_unix_nano, &start_path)?;
    let end = time(s.end_time_unix_nano, &end_path)?;
    if end < start {
        return Err(FfiError::invalid(format!(
            "{end_path} is before {start_path} ({end} < {start})"
        )));
    }
    let message_path = path.field("status_message");
    // Validated even when ignored, so bad input is reported where it is.
    let message = unsafe { try_opt_str(s.status_message, &message_path) }?;
    let status = match s.status_code {
        v if v == GENKIT_AZURE_STATUS_CODE_UNSET as u32 => Status::Unset,
        v if v == GENKIT_AZURE_STATUS_CODE_OK as u32 => Status::Ok,
        v if v == GENKIT_AZURE_STATUS_CODE_ERROR as u32 => {
            Status::error(message.unwrap_or_default().to_owned())
        }
        other => {
            return Err(FfiError::invalid(format!(
                "{} is {other}, which is not a genkit_azure_status_code (0..=2)",
                path.field("status_code")
            )))
        }
    };
    let attrs = unsafe {
        attributes(
            s.attributes,
            s.attribute_count,
            &path.field("attributes"),
            &path.field("attribute_count"),
        )
    }?;
    let events_path = path.field("events");
    let events = unsafe {
        try_slice(
            s.events,
            s.event_count,
            &events_path,
            &path.field("event_count"),
        )
    }?
    .iter()
    .enumerate()
    .map(|(i, e)| unsafe { event(e, &events_path.index(i)) })
    .collect::<FfiResult<Vec<_>>>()?;
    let scope_name = unsafe { try_opt_str(s.scope_name, &path.field("scope_name")) }?;
    let scope_version_path = path.field("scope_version");
    let scope_version = unsafe { try_opt_str(s.scope_version, &scope_version_path) }?;
    let scope = match (scope_name, scope_version) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(FfiError::invalid(format!(
                "{scope_version_path} is set but {} is NULL",
                path.field("scope_name")
            )))
        }
        (Some(name), version) => {
            let builder = InstrumentationScope::builder(name.to_owned());
            Some(match version {
                Some(v) => builder.with_version(v.to_owned()).build(),
                None => builder.build(),
            })
        }
    };
    Ok(RawSpan {
        trace_id: s.trace_id,
        span_id: s.span_id,
        parent_span_id: (s.parent_span_id != [0; 8]).then_some(s.parent_span_id),
        parent_is_remote: s.parent_is_remote,
        name: name.to_owned(),
        kind,
        start_unix_nanos: start,
        end_unix_nanos: end,
        status,
        attributes: attrs,
        events,
        scope,
    })
}

/// Queues a finished span for export. Never blocks on the network.
///
/// Returns `GENKIT_AZURE_OK` when queued; `GENKIT_AZURE_QUEUE_FULL` (not fatal)
/// when the queue was full and the span was dropped and counted;
/// `GENKIT_AZURE_SHUT_DOWN` after `genkit_azure_shutdown`; a validation status
/// (nothing queued) when a field is invalid. Safe to call from several threads
/// at once on the same handle.
///
/// # Safety
/// `handle` must be NULL or a live handle from `genkit_azure_new`; `span` must
/// be NULL or point to a `genkit_azure_span` whose pointers are NULL or valid
/// as documented there, for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_export_span(
    handle: *mut genkit_azure_handle,
    span: *const genkit_azure_span,
) -> genkit_azure_status {
    boundary("genkit_azure_export_span", || {
        // SAFETY: forwarded from the caller.
        let telemetry = unsafe { genkit_azure_handle::telemetry(handle) }?;
        let path = Path::Root("span");
        // SAFETY: forwarded from the caller.
        let raw = unsafe { raw_span(try_ref(span, &path)?, &path) }?;
        // Core checks again (ids, times); its messages name the field too.
        pushed(telemetry.push_packed(raw.pack()?), "span")
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::attribute::genkit_azure_attribute_type::*;
    use crate::attribute::tests::attr;
    use crate::status::genkit_azure_status::*;

    pub fn zeroed_span() -> genkit_azure_span {
        // SAFETY: all-zero is a valid genkit_azure_span (NULL pointers, zero
        // numbers, false) and is exactly what C's `= {0}` produces.
        unsafe { std::mem::zeroed() }
    }

    pub fn valid_span() -> genkit_azure_span {
        genkit_azure_span {
            trace_id: [0xab; 16],
            span_id: [0xcd; 8],
            name: c"span".as_ptr(),
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_500_000_000,
            ..zeroed_span()
        }
    }

    fn convert(s: &genkit_azure_span) -> FfiResult<RawSpan> {
        // SAFETY: test spans point only at static strings and live locals.
        unsafe { raw_span(s, &Path::Root("span")) }
    }

    #[test]
    fn converts_a_full_span() {
        let attrs = [attr(c"genkit:name", GENKIT_AZURE_ATTRIBUTE_STRING)];
        let events = [genkit_azure_event {
            name: c"exception".as_ptr(),
            time_unix_nano: 1_700_000_000_100_000_000,
            attributes: attrs.as_ptr(),
            attribute_count: 1,
        }];
        let s = genkit_azure_span {
            parent_span_id: [1; 8],
            kind: genkit_azure_span_kind::GENKIT_AZURE_SPAN_KIND_CLIENT as u32,
            status_code: genkit_azure_status_code::GENKIT_AZURE_STATUS_CODE_ERROR as u32,
            status_message: c"boom".as_ptr(),
            attributes: attrs.as_ptr(),
            attribute_count: 1,
            events: events.as_ptr(),
            event_count: 1,
            scope_name: c"genkit-tracer".as_ptr(),
            scope_version: c"1.0".as_ptr(),
            ..valid_span()
        };
        let raw = convert(&s).unwrap();
        assert_eq!(raw.parent_span_id, Some([1; 8]));
        assert_eq!(raw.kind, SpanKind::Client);
        assert_eq!(raw.status, Status::error("boom"));
        assert_eq!(raw.attributes.len(), 1);
        assert_eq!(raw.events[0].name, "exception");
        assert_eq!(raw.scope.as_ref().unwrap().version(), Some("1.0"));
        let packed = raw.pack().unwrap().unpack();
        assert_eq!(packed.attributes.len(), 1);
        assert_eq!(packed.events.events[0].attributes.len(), 1);
        assert_eq!(packed.instrumentation_scope.name(), "genkit-tracer");

        let root = convert(&valid_span()).unwrap();
        assert_eq!(root.parent_span_id, None);
        assert_eq!(root.kind, SpanKind::Internal);
        assert_eq!(root.status, Status::Unset);
    }

    #[test]
    fn refuses_bad_fields_with_their_names() {
        let attrs = [attr(c"k", GENKIT_AZURE_ATTRIBUTE_INT)];
        let bad_event = [genkit_azure_event {
            name: c"e".as_ptr(),
            time_unix_nano: 5,
            attributes: std::ptr::null(),
            attribute_count: 2,
        }];
        let cases: Vec<(genkit_azure_span, genkit_azure_status, &str)> = vec![
            (
                genkit_azure_span {
                    trace_id: [0; 16],
                    ..valid_span()
                },
                GENKIT_AZURE_INVALID_ARGUMENT,
                "span.trace_id is all zeros",
            ),
            (
                genkit_azure_span {
                    span_id: [0; 8],
                    ..valid_span()
                },
                GENKIT_AZURE_INVALID_ARGUMENT,
                "span.span_id is all zeros",
            ),
            (
                genkit_azure_span {
                    name: std::ptr::null(),
                    ..valid_span()
                },
                GENKIT_AZURE_NULL_ARGUMENT,
                "span.name is NULL",
            ),
            (
                genkit_azure_span {
                    kind: 5,
                    ..valid_span()
                },
                GENKIT_AZURE_INVALID_ARGUMENT,
                "span.kind is 5",
            ),
            (
                genkit_azure_span {
                    status_code: 3,
                    ..valid_span()
                },
                GENKIT_AZURE_INVALID_ARGUMENT,
                "span.status_code is 3",
            ),
            (
                genkit_azure_span {
                    start_time_unix_nano: 0,
                    ..valid_span()
                },
                GENKIT_AZURE_INVALID_ARGUMENT,
                "span.start_time_unix_nano is 0",
            ),
            (
                genkit_azure_span {
                    end_time_unix_nano: 1,
                    ..valid_span()
                },
                GENKIT_AZURE_INVALID_ARGUMENT,
                "span.end_time_unix_nano is before span.start_time_unix_nano",
            ),
            (
                genkit_azure_span {
                    attribute_count: 1,
                    ..valid_span()
                },
                GENKIT_AZURE_NULL_ARGUMENT,
                "span.attributes is NULL but span.attribute_count is 1",
            ),
            (
                genkit_azure_span {
                    events: bad_event.as_ptr(),
                    event_count: 1,
                    ..valid_span()
                },
                GENKIT_AZURE_NULL_ARGUMENT,
                "span.events[0].attributes is NULL but span.events[0].attribute_count is 2",
            ),
            (
                genkit_azure_span {
                    event_count: 1,
                    attributes: attrs.as_ptr(),
                    attribute_count: 1,
                    ..valid_span()
                },
                GENKIT_AZURE_NULL_ARGUMENT,
                "span.events is NULL but span.event_count is 1",
            ),
            (
                genkit_azure_span {
                    scope_version: c"1".as_ptr(),
                    ..valid_span()
                },
                GENKIT_AZURE_INVALID_ARGUMENT,
                "span.scope_version is set but span.scope_name is NULL",
            ),
            (
                genkit_azure_span {
                    status_message: c"\xff".as_ptr(),
                    ..valid_span()
                },
                GENKIT_AZURE_INVALID_UTF8,
                "span.status_message is not valid UTF-8",
            ),
        ];
        for (span, status, words) in cases {
            let e = convert(&span).unwrap_err();
            assert_eq!(e.status, status, "{}", e.message);
            assert!(
                e.message.starts_with(words),
                "expected '{words}', got '{}'",
                e.message
            );
        }
    }
}
