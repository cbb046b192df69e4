//! `genkit_azure_span`: a finished span handed over from C, and
//! `genkit_azure_export_span`, which checks it and queues it.
//!
//! The C struct is read field by field straight into core's packed form
//! (`SpanPacker`), each field checked once; every string is copied once,
//! into the packed span, so the caller may free its memory as soon as the
//! call returns.

use crate::attribute::{genkit_azure_attribute, pack_attributes};
use crate::boundary::{
    boundary, try_id, try_opt_str, try_slice, try_str, FfiError, FfiResult, Path,
};
use crate::growable::read_sized;
use crate::handle::{genkit_azure_handle, pushed};
use crate::status::genkit_azure_status;
use genkit_azure::opentelemetry::trace::SpanKind;
use genkit_azure::{PackedSpan, Sampled, SpanPacker};
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

/// A link from a span to another span it relates to without being its
/// child (a message a consumer processes, an item of a batch): an entry of
/// the span's `_MS.links` property, which the portal follows to the linked
/// operation.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct genkit_azure_link {
    /// The linked span's trace id; must not be all zeros.
    pub trace_id: [u8; 16],
    /// The linked span's id; must not be all zeros.
    pub span_id: [u8; 8],
    /// True when the linked span lives in another process.
    pub is_remote: bool,
    /// May be NULL when `attribute_count` is 0. Checked like a span's, but
    /// not sent: `_MS.links` has no place for them (nor does the official
    /// distro send them).
    pub attributes: *const genkit_azure_attribute,
    pub attribute_count: usize,
}

/// A finished span. Zero-initialise it and set what you need: zero ids and
/// NULL optional strings mean "not set". The library copies everything it
/// reads; the struct and its strings may be freed when the call returns.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct genkit_azure_span {
    /// `sizeof` this struct as the caller's header declares it: set it
    /// first (`x.struct_size = sizeof x;`). Fields are only ever appended,
    /// so a library newer than the header reads the ones it lacks as 0
    /// (default), and an older one refuses non-zero fields it does not know
    /// (`GENKIT_AZURE_INVALID_STRUCT_SIZE`).
    pub struct_size: usize,
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
    /// The operation the span belongs to (`ai.operation.name`), normally its
    /// root's name. NULL = the name `genkit_azure_span_started` registered
    /// for its trace, else (a Genkit span) its `genkit:path`'s first name.
    pub operation_name: *const c_char,
    /// The spans this one is linked to. May be NULL when `link_count` is 0.
    /// (Appended after the struct's first ABI 1 version: a program built
    /// before it passes a smaller `struct_size` and has no links.)
    pub links: *const genkit_azure_link,
    pub link_count: usize,
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

/// Writes one event and its attributes into the packed span.
///
/// # Safety
/// The event's pointers must satisfy the `boundary` checks' contracts.
unsafe fn pack_event(p: &mut SpanPacker, e: &genkit_azure_event, path: &Path<'_>) -> FfiResult<()> {
    // SAFETY: forwarded from the caller.
    let name = unsafe { try_str(e.name, &path.field("name")) }?;
    let time = time(e.time_unix_nano, &path.field("time_unix_nano"))?;
    let count_path = path.field("attribute_count");
    let count = attribute_count(e.attribute_count, &count_path)?;
    p.event(name, time, count);
    // SAFETY: forwarded from the caller.
    unsafe {
        pack_attributes(
            p,
            e.attributes,
            e.attribute_count,
            &path.field("attributes"),
            &count_path,
        )
    }
}

/// A 32-bit attribute count, as the packer keeps it for an event or a link:
/// more cannot be real (and would not fit a request anyway).
fn attribute_count(count: usize, path: &Path<'_>) -> FfiResult<u32> {
    u32::try_from(count)
        .map_err(|_| FfiError::invalid(format!("{path} is {count}, which is impossibly large")))
}

/// Writes one link and its attributes into the packed span.
///
/// # Safety
/// The link's pointers must satisfy the `boundary` checks' contracts.
unsafe fn pack_link(p: &mut SpanPacker, l: &genkit_azure_link, path: &Path<'_>) -> FfiResult<()> {
    try_id(&l.trace_id, &path.field("trace_id"))?;
    try_id(&l.span_id, &path.field("span_id"))?;
    let count_path = path.field("attribute_count");
    let count = attribute_count(l.attribute_count, &count_path)?;
    p.link(l.trace_id, l.span_id, l.is_remote, count);
    // SAFETY: forwarded from the caller.
    unsafe {
        pack_attributes(
            p,
            l.attributes,
            l.attribute_count,
            &path.field("attributes"),
            &count_path,
        )
    }
}

/// Packs each entry of the span's array `field` (`ptr[0..count]`, counted
/// by `count_field`) with `pack`, naming an entry by its index in errors
/// (`span.links[1].trace_id`).
///
/// # Safety
/// `ptr` and `count` must satisfy [`try_slice`]'s contract, and each entry
/// `pack`'s.
unsafe fn pack_each<T>(
    p: &mut SpanPacker,
    ptr: *const T,
    count: usize,
    path: &Path<'_>,
    field: &'static str,
    count_field: &'static str,
    pack: unsafe fn(&mut SpanPacker, &T, &Path<'_>) -> FfiResult<()>,
) -> FfiResult<()> {
    let entries_path = path.field(field);
    // SAFETY: forwarded from the caller.
    let entries = unsafe { try_slice(ptr, count, &entries_path, &path.field(count_field)) }?;
    for (i, entry) in entries.iter().enumerate() {
        // SAFETY: forwarded from the caller.
        unsafe { pack(p, entry, &entries_path.index(i)) }?;
    }
    Ok(())
}

/// Packs a C span straight into core's `SpanPacker`, checking each field
/// once: here what only a C caller can get wrong (NULL pointers, UTF-8,
/// enum values, a time left 0, a version without a scope), in the packer
/// what every face must respect (non-zero ids, an end not before the
/// start). Text is copied once, into the packed span.
///
/// # Safety
/// Every pointer in `s` must be NULL or valid as documented on `genkit_azure_span`.
pub(crate) unsafe fn pack(
    s: &genkit_azure_span,
    registered_operation: Option<&str>,
    sampled: Sampled,
    path: &Path<'_>,
) -> FfiResult<PackedSpan> {
    use genkit_azure_status_code::*;
    let kind = span_kind(s.kind, &path.field("kind"))?;
    let start = time(s.start_time_unix_nano, &path.field("start_time_unix_nano"))?;
    let end = time(s.end_time_unix_nano, &path.field("end_time_unix_nano"))?;
    let mut p = SpanPacker::new(
        s.trace_id,
        s.span_id,
        // All zeros is a root span.
        Some(s.parent_span_id),
        s.parent_is_remote,
        kind,
        start,
        end,
    );
    // Its trace's decision, from the root's start (`genkit_azure_span_started`).
    p.sampling(sampled);
    // SAFETY (all blocks below): forwarded from the caller.
    p.name(unsafe { try_str(s.name, &path.field("name")) }?);
    let operation = unsafe { try_opt_str(s.operation_name, &path.field("operation_name")) }?;
    if let Some(op) = operation.or(registered_operation) {
        p.operation_name(op);
    }
    // Validated even when ignored, so bad input is reported where it is.
    let message = unsafe { try_opt_str(s.status_message, &path.field("status_message")) }?;
    match s.status_code {
        v if v == GENKIT_AZURE_STATUS_CODE_UNSET as u32 => {}
        v if v == GENKIT_AZURE_STATUS_CODE_OK as u32 => p.status_ok(),
        v if v == GENKIT_AZURE_STATUS_CODE_ERROR as u32 => p.status_error(message.unwrap_or("")),
        other => {
            return Err(FfiError::invalid(format!(
                "{} is {other}, which is not a genkit_azure_status_code (0..=2)",
                path.field("status_code")
            )))
        }
    }
    unsafe {
        pack_attributes(
            &mut p,
            s.attributes,
            s.attribute_count,
            &path.field("attributes"),
            &path.field("attribute_count"),
        )
    }?;
    unsafe {
        pack_each(
            &mut p,
            s.events,
            s.event_count,
            path,
            "events",
            "event_count",
            pack_event,
        )
    }?;
    unsafe {
        pack_each(
            &mut p,
            s.links,
            s.link_count,
            path,
            "links",
            "link_count",
            pack_link,
        )
    }?;
    let scope_name = unsafe { try_opt_str(s.scope_name, &path.field("scope_name")) }?;
    let scope_version_path = path.field("scope_version");
    let scope_version = unsafe { try_opt_str(s.scope_version, &scope_version_path) }?;
    match (scope_name, scope_version) {
        (None, None) => {}
        (None, Some(_)) => {
            return Err(FfiError::invalid(format!(
                "{scope_version_path} is set but {} is NULL",
                path.field("scope_name")
            )))
        }
        (Some(name), version) => p.scope(name, version),
    }
    p.finish().map_err(|e| span_error(e, path))
}

/// The packer's refusal (ids, times), named as C names the field.
fn span_error(e: genkit_azure::Error, path: &Path<'_>) -> FfiError {
    match e {
        genkit_azure::Error::InvalidArgument(detail) => {
            let field = match detail.field.as_str() {
                "trace_id" => path.field("trace_id"),
                "span_id" => path.field("span_id"),
                "end_time" => path.field("end_time_unix_nano"),
                _ => *path,
            };
            FfiError::invalid(format!("{field}: {}", detail.reason))
        }
        other => other.into(),
    }
}

/// Checks and queues a span read in full (either version).
///
/// # Safety
/// `handle` as for the exported function; every pointer in `span` must be
/// NULL or valid as documented on `genkit_azure_span`.
pub(crate) unsafe fn export(
    handle: *mut genkit_azure_handle,
    span: &genkit_azure_span,
    path: &Path<'_>,
) -> FfiResult {
    // SAFETY: forwarded from the caller.
    let telemetry = unsafe { genkit_azure_handle::telemetry(handle) }?;
    // A root's end forgets its operation whatever happens next, so the
    // registry never grows.
    let is_root = span.parent_span_id == [0; 8] || span.parent_is_remote;
    let registered = telemetry
        .operations()
        .ended(u128::from_be_bytes(span.trace_id), is_root);
    // SAFETY: forwarded from the caller.
    let packed = unsafe { pack(span, registered.name.as_deref(), registered.sampled, path) }?;
    pushed(telemetry.push_packed(packed), "span")
}

/// Queues a finished span for export. Never blocks on the network.
///
/// Returns `GENKIT_AZURE_OK` when queued; `GENKIT_AZURE_QUEUE_FULL` (not fatal)
/// when the queue was full and the span was dropped and counted;
/// `GENKIT_AZURE_SHUT_DOWN` after `genkit_azure_shutdown`; a validation status
/// (nothing queued) when a field is invalid. Safe to call from several threads
/// at once on the same handle.
///
/// The header maps `genkit_azure_export_span` to this function.
///
/// # Safety
/// `handle` must be NULL or a live handle from `genkit_azure_new`; `span` must
/// be NULL or point to a `genkit_azure_span` of `struct_size` bytes whose
/// pointers are NULL or valid as documented there, for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_export_span_v1(
    handle: *mut genkit_azure_handle,
    span: *const genkit_azure_span,
) -> genkit_azure_status {
    boundary("genkit_azure_export_span", || {
        let path = Path::Root("span");
        // SAFETY (both): forwarded from the caller.
        let span = unsafe { read_sized(span, &path) }?;
        unsafe { export(handle, &span, &path) }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::attribute::genkit_azure_attribute_type::*;
    use crate::attribute::tests::attr;
    use crate::status::genkit_azure_status::*;
    use genkit_azure::opentelemetry::trace::{SpanId, Status};
    use genkit_azure::opentelemetry::KeyValue;
    use genkit_azure::opentelemetry_sdk::trace::SpanData;

    pub fn zeroed_span() -> genkit_azure_span {
        // SAFETY: all-zero is a valid genkit_azure_span (NULL pointers, zero
        // numbers, false) and is exactly what C's `= {0}` produces.
        genkit_azure_span {
            struct_size: size_of::<genkit_azure_span>(),
            ..unsafe { std::mem::zeroed() }
        }
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

    fn convert(s: &genkit_azure_span) -> FfiResult<SpanData> {
        // SAFETY: test spans point only at static strings and live locals.
        unsafe { pack(s, None, Sampled::ALL, &Path::Root("span")) }.map(|p| p.unpack())
    }

    #[test]
    fn packs_a_full_span() {
        let attrs = [
            attr(c"genkit:name", GENKIT_AZURE_ATTRIBUTE_STRING),
            attr(c"n", GENKIT_AZURE_ATTRIBUTE_INT),
            attr(c"b", GENKIT_AZURE_ATTRIBUTE_BOOL),
            attr(c"d", GENKIT_AZURE_ATTRIBUTE_DOUBLE),
        ];
        let events = [genkit_azure_event {
            name: c"exception".as_ptr(),
            time_unix_nano: 1_700_000_000_100_000_000,
            attributes: attrs.as_ptr(),
            attribute_count: 1,
        }];
        let links = [
            genkit_azure_link {
                trace_id: [0x11; 16],
                span_id: [0x22; 8],
                is_remote: true,
                attributes: attrs[1..].as_ptr(),
                attribute_count: 1,
            },
            genkit_azure_link {
                trace_id: [0x33; 16],
                span_id: [0x44; 8],
                is_remote: false,
                attributes: std::ptr::null(),
                attribute_count: 0,
            },
        ];
        let s = genkit_azure_span {
            parent_span_id: [1; 8],
            parent_is_remote: true,
            kind: genkit_azure_span_kind::GENKIT_AZURE_SPAN_KIND_CLIENT as u32,
            status_code: genkit_azure_status_code::GENKIT_AZURE_STATUS_CODE_ERROR as u32,
            status_message: c"boom".as_ptr(),
            attributes: attrs.as_ptr(),
            attribute_count: attrs.len(),
            events: events.as_ptr(),
            event_count: 1,
            scope_name: c"genkit-tracer".as_ptr(),
            scope_version: c"1.0".as_ptr(),
            links: links.as_ptr(),
            link_count: links.len(),
            ..valid_span()
        };
        let span = convert(&s).unwrap();
        assert_eq!(span.parent_span_id, SpanId::from_bytes([1; 8]));
        assert!(span.parent_span_is_remote);
        assert_eq!(span.span_kind, SpanKind::Client);
        assert_eq!(span.status, Status::error("boom"));
        assert_eq!(
            span.attributes,
            vec![
                KeyValue::new("genkit:name", "v"),
                KeyValue::new("n", 7i64),
                KeyValue::new("b", true),
                KeyValue::new("d", 0.5),
            ]
        );
        assert_eq!(span.events.events[0].name, "exception");
        assert_eq!(
            span.events.events[0].attributes,
            vec![KeyValue::new("genkit:name", "v")]
        );
        let got: Vec<_> = span
            .links
            .links
            .iter()
            .map(|l| {
                let c = &l.span_context;
                (
                    c.trace_id().to_bytes(),
                    c.span_id().to_bytes(),
                    c.is_remote(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ([0x11; 16], [0x22; 8], true),
                ([0x33; 16], [0x44; 8], false)
            ]
        );
        assert_eq!(
            span.links.links[0].attributes,
            vec![KeyValue::new("n", 7i64)]
        );
        assert!(span.links.links[1].attributes.is_empty());
        // The event's attributes and the link's stay theirs: the span keeps
        // its own four.
        assert_eq!(span.attributes.len(), 4);
        assert_eq!(span.instrumentation_scope.name(), "genkit-tracer");
        assert_eq!(span.instrumentation_scope.version(), Some("1.0"));

        let root = convert(&valid_span()).unwrap();
        assert_eq!(root.parent_span_id, SpanId::INVALID);
        assert_eq!(root.span_kind, SpanKind::Internal);
        assert_eq!(root.status, Status::Unset);
        assert_eq!(root.name, "span");
    }

    #[test]
    fn a_span_from_a_header_before_links_has_none() {
        // A program built before `links` passes the first ABI 1 size; what
        // lies after it in its memory is not a field and is never read.
        let s = genkit_azure_span {
            struct_size: <genkit_azure_span as crate::growable::Growable>::FIRST_SIZE,
            links: std::ptr::dangling(),
            link_count: 3,
            ..valid_span()
        };
        let path = Path::Root("span");
        // SAFETY: `struct_size` bytes of a live struct are readable.
        let read = unsafe { read_sized(&s, &path) }.unwrap();
        assert_eq!((read.links, read.link_count), (std::ptr::null(), 0));
        assert!(convert(&read).unwrap().links.links.is_empty());
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
        let link = |trace_id, span_id, attribute_count| genkit_azure_link {
            trace_id,
            span_id,
            is_remote: false,
            attributes: std::ptr::null(),
            attribute_count,
        };
        let zero_trace = [link([0; 16], [1; 8], 0)];
        let zero_span = [link([1; 16], [1; 8], 0), link([1; 16], [0; 8], 0)];
        let no_attributes = [link([1; 16], [1; 8], 3)];
        let cases: Vec<(genkit_azure_span, genkit_azure_status, &str)> = vec![
            (
                genkit_azure_span {
                    trace_id: [0; 16],
                    ..valid_span()
                },
                GENKIT_AZURE_INVALID_ARGUMENT,
                "span.trace_id: must not be all zeros",
            ),
            (
                genkit_azure_span {
                    span_id: [0; 8],
                    ..valid_span()
                },
                GENKIT_AZURE_INVALID_ARGUMENT,
                "span.span_id: must not be all zeros",
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
                "span.end_time_unix_nano: is before the start time (1 < 1700000000000000000 Unix ns)",
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
                    link_count: 2,
                    ..valid_span()
                },
                GENKIT_AZURE_NULL_ARGUMENT,
                "span.links is NULL but span.link_count is 2",
            ),
            (
                genkit_azure_span {
                    links: zero_trace.as_ptr(),
                    link_count: 1,
                    ..valid_span()
                },
                GENKIT_AZURE_INVALID_ARGUMENT,
                "span.links[0].trace_id must not be all zeros",
            ),
            (
                genkit_azure_span {
                    links: zero_span.as_ptr(),
                    link_count: 2,
                    ..valid_span()
                },
                GENKIT_AZURE_INVALID_ARGUMENT,
                "span.links[1].span_id must not be all zeros",
            ),
            (
                genkit_azure_span {
                    links: no_attributes.as_ptr(),
                    link_count: 1,
                    ..valid_span()
                },
                GENKIT_AZURE_NULL_ARGUMENT,
                "span.links[0].attributes is NULL but span.links[0].attribute_count is 3",
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
