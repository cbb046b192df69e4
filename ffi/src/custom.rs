//! Custom telemetry from C: `genkit_azure_custom_event`,
//! `genkit_azure_exception` and `genkit_azure_availability`, and the
//! functions that check and queue them (`genkit_azure_track_event`,
//! `genkit_azure_track_exception`, `genkit_azure_track_availability`).
//!
//! Each struct has the fields of the Python and Rust faces' calls, plus what
//! C passes explicitly that those faces find themselves: the time, and the
//! span the item happened in (`trace_id` / `span_id`, all zeros = none) with
//! its operation's name.

use crate::attribute::{attributes, genkit_azure_attribute};
use crate::boundary::{boundary, try_opt_str, try_slice, try_str, FfiError, FfiResult, Path};
use crate::growable::read_sized;
use crate::handle::{genkit_azure_handle, pushed};
use crate::status::genkit_azure_status;
use crate::trace_context::trace_context;
use genkit_azure::opentelemetry::trace::{SpanId, TraceId};
use genkit_azure::opentelemetry::KeyValue;
use genkit_azure::{time_from_unix_nanos, AvailabilityResult, CustomEvent, TrackedException};
use std::ffi::c_char;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A named number attached to an event or an availability result
/// (customMeasurements).
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct genkit_azure_measurement {
    /// UTF-8, not NULL.
    pub name: *const c_char,
    /// A finite number (not NaN or infinite).
    pub value: f64,
}

/// A business event (customEvents). Zero-initialise it and set `name`.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct genkit_azure_custom_event {
    /// `sizeof` this struct as the caller's header declares it: set it
    /// first (`x.struct_size = sizeof x;`). Fields are only ever appended,
    /// so a library newer than the header reads the ones it lacks as 0
    /// (default), and an older one refuses non-zero fields it does not know
    /// (`GENKIT_AZURE_INVALID_STRUCT_SIZE`).
    pub struct_size: usize,
    /// When it happened, in nanoseconds since the Unix epoch. 0 = now.
    pub time_unix_nano: u64,
    /// What happened ("order placed"). UTF-8, not NULL, not empty.
    pub name: *const c_char,
    /// Dimensions (customDimensions). May be NULL when `property_count` is 0.
    pub properties: *const genkit_azure_attribute,
    pub property_count: usize,
    /// May be NULL when `measurement_count` is 0.
    pub measurements: *const genkit_azure_measurement,
    pub measurement_count: usize,
    /// The trace it happened in; all zeros = not in a span.
    pub trace_id: [u8; 16],
    /// The span it happened in; all zeros together with `trace_id`.
    pub span_id: [u8; 8],
    /// The operation's name (`ai.operation.name`). NULL = the open span's
    /// (see `genkit_azure_span_started`), if any.
    pub operation_name: *const c_char,
}

/// An exception the program handled and wants seen (exceptions).
/// Zero-initialise it and set `type_name` and `message`.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct genkit_azure_exception {
    /// `sizeof` this struct as the caller's header declares it: set it
    /// first (`x.struct_size = sizeof x;`). Fields are only ever appended,
    /// so a library newer than the header reads the ones it lacks as 0
    /// (default), and an older one refuses non-zero fields it does not know
    /// (`GENKIT_AZURE_INVALID_STRUCT_SIZE`).
    pub struct_size: usize,
    /// When it happened, in nanoseconds since the Unix epoch. 0 = now.
    pub time_unix_nano: u64,
    /// The exception's type ("OrderNotFoundError"). UTF-8, not NULL, not empty.
    pub type_name: *const c_char,
    /// What went wrong. UTF-8, not NULL (may be "").
    pub message: *const c_char,
    /// The full stack trace. NULL = none.
    pub stack: *const c_char,
    /// May be NULL when `property_count` is 0.
    pub properties: *const genkit_azure_attribute,
    pub property_count: usize,
    /// The trace it happened in; all zeros = not in a span.
    pub trace_id: [u8; 16],
    /// The span it happened in; all zeros together with `trace_id`.
    pub span_id: [u8; 8],
    /// The operation's name (`ai.operation.name`). NULL = the open span's
    /// (see `genkit_azure_span_started`), if any.
    pub operation_name: *const c_char,
}

/// The result of one availability test run (the availability blade).
/// Zero-initialise it and set `name`, `success` and `duration_ms`.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct genkit_azure_availability {
    /// `sizeof` this struct as the caller's header declares it: set it
    /// first (`x.struct_size = sizeof x;`). Fields are only ever appended,
    /// so a library newer than the header reads the ones it lacks as 0
    /// (default), and an older one refuses non-zero fields it does not know
    /// (`GENKIT_AZURE_INVALID_STRUCT_SIZE`).
    pub struct_size: usize,
    /// When the run ended, in nanoseconds since the Unix epoch. 0 = now.
    pub time_unix_nano: u64,
    /// The test's name (the blade groups by it). UTF-8, not NULL, not empty.
    pub name: *const c_char,
    pub success: bool,
    /// How long the run took, in milliseconds: finite, not negative.
    pub duration_ms: f64,
    /// Where the test ran (a region, a host). NULL = not set.
    pub run_location: *const c_char,
    /// What happened, typically why it failed. NULL = not set.
    pub message: *const c_char,
    /// May be NULL when `property_count` is 0.
    pub properties: *const genkit_azure_attribute,
    pub property_count: usize,
    /// May be NULL when `measurement_count` is 0.
    pub measurements: *const genkit_azure_measurement,
    pub measurement_count: usize,
    /// The trace it happened in; all zeros = not in a span.
    pub trace_id: [u8; 16],
    /// The span it happened in; all zeros together with `trace_id`.
    pub span_id: [u8; 8],
    /// The operation's name (`ai.operation.name`). NULL = the open span's
    /// (see `genkit_azure_span_started`), if any.
    pub operation_name: *const c_char,
}

/// The fields every custom item has, read and checked once.
struct Common {
    time: SystemTime,
    properties: Vec<KeyValue>,
    trace_context: Option<(TraceId, SpanId)>,
    operation_name: Option<Arc<str>>,
}

/// # Safety
/// The pointers must be NULL or valid as documented on the structs above.
unsafe fn common(
    time_unix_nano: u64,
    (properties, property_count): (*const genkit_azure_attribute, usize),
    (trace_id, span_id): ([u8; 16], [u8; 8]),
    operation_name: *const c_char,
    path: &Path<'_>,
) -> FfiResult<Common> {
    // SAFETY (both blocks): forwarded from the caller.
    let properties = unsafe {
        attributes(
            properties,
            property_count,
            &path.field("properties"),
            &path.field("property_count"),
        )
    }?;
    let operation_name = unsafe { try_opt_str(operation_name, &path.field("operation_name")) }?;
    Ok(Common {
        time: match time_unix_nano {
            0 => SystemTime::now(),
            nanos => time_from_unix_nanos(nanos),
        },
        properties,
        trace_context: trace_context(trace_id, span_id, path)?,
        operation_name: operation_name.map(Arc::from),
    })
}

/// # Safety
/// As [`try_slice`], and every name a valid string.
unsafe fn measurements(
    ptr: *const genkit_azure_measurement,
    count: usize,
    path: &Path<'_>,
) -> FfiResult<Vec<(String, f64)>> {
    let array = path.field("measurements");
    // SAFETY: forwarded from the caller.
    let items = unsafe { try_slice(ptr, count, &array, &path.field("measurement_count")) }?;
    items
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let at = array.index(i);
            // SAFETY: forwarded from the caller.
            let name = unsafe { try_str(m.name, &at.field("name")) }?;
            if !m.value.is_finite() {
                return Err(FfiError::invalid(format!(
                    "{} is {}, not a finite number",
                    at.field("value"),
                    m.value
                )));
            }
            Ok((name.to_owned(), m.value))
        })
        .collect()
}

/// A required string that must not be empty either.
///
/// # Safety
/// As [`try_str`].
unsafe fn name<'a>(ptr: *const c_char, path: &Path<'_>) -> FfiResult<&'a str> {
    // SAFETY: forwarded from the caller.
    let text = unsafe { try_str(ptr, path) }?;
    if text.is_empty() {
        return Err(FfiError::invalid(format!("{path} is empty")));
    }
    Ok(text)
}

/// # Safety
/// Every pointer in `e` must be NULL or valid as documented on `genkit_azure_custom_event`.
pub(crate) unsafe fn custom_event(
    e: &genkit_azure_custom_event,
    path: &Path<'_>,
) -> FfiResult<CustomEvent> {
    // SAFETY (all blocks): forwarded from the caller.
    let name = unsafe { name(e.name, &path.field("name")) }?;
    let measurements = unsafe { measurements(e.measurements, e.measurement_count, path) }?;
    let c = unsafe {
        common(
            e.time_unix_nano,
            (e.properties, e.property_count),
            (e.trace_id, e.span_id),
            e.operation_name,
            path,
        )
    }?;
    Ok(CustomEvent {
        time: c.time,
        name: name.to_owned(),
        properties: c.properties,
        measurements,
        trace_context: c.trace_context,
        operation_name: c.operation_name,
        sample_rate: None,
    })
}

/// # Safety
/// Every pointer in `e` must be NULL or valid as documented on `genkit_azure_exception`.
pub(crate) unsafe fn exception(
    e: &genkit_azure_exception,
    path: &Path<'_>,
) -> FfiResult<TrackedException> {
    // SAFETY (all blocks): forwarded from the caller.
    let type_name = unsafe { name(e.type_name, &path.field("type_name")) }?;
    let message = unsafe { try_str(e.message, &path.field("message")) }?;
    let stack = unsafe { try_opt_str(e.stack, &path.field("stack")) }?;
    let c = unsafe {
        common(
            e.time_unix_nano,
            (e.properties, e.property_count),
            (e.trace_id, e.span_id),
            e.operation_name,
            path,
        )
    }?;
    Ok(TrackedException {
        time: c.time,
        type_name: type_name.to_owned(),
        message: message.to_owned(),
        stack: stack.map(str::to_owned),
        properties: c.properties,
        trace_context: c.trace_context,
        operation_name: c.operation_name,
        sample_rate: None,
    })
}

/// # Safety
/// Every pointer in `a` must be NULL or valid as documented on `genkit_azure_availability`.
pub(crate) unsafe fn availability(
    a: &genkit_azure_availability,
    path: &Path<'_>,
) -> FfiResult<AvailabilityResult> {
    // SAFETY (all blocks): forwarded from the caller.
    let name = unsafe { name(a.name, &path.field("name")) }?;
    let duration = Duration::try_from_secs_f64(a.duration_ms / 1000.0).map_err(|_| {
        FfiError::invalid(format!(
            "{} is {}; expected a finite, non-negative number of milliseconds",
            path.field("duration_ms"),
            a.duration_ms
        ))
    })?;
    let run_location = unsafe { try_opt_str(a.run_location, &path.field("run_location")) }?;
    let message = unsafe { try_opt_str(a.message, &path.field("message")) }?;
    let measurements = unsafe { measurements(a.measurements, a.measurement_count, path) }?;
    let c = unsafe {
        common(
            a.time_unix_nano,
            (a.properties, a.property_count),
            (a.trace_id, a.span_id),
            a.operation_name,
            path,
        )
    }?;
    Ok(AvailabilityResult {
        time: c.time,
        name: name.to_owned(),
        success: a.success,
        duration,
        run_location: run_location.map(str::to_owned),
        message: message.map(str::to_owned),
        properties: c.properties,
        measurements,
        trace_context: c.trace_context,
        operation_name: c.operation_name,
        sample_rate: None,
    })
}

/// Queues a custom event. Never blocks on the network.
///
/// Returns `GENKIT_AZURE_OK` when queued; `GENKIT_AZURE_QUEUE_FULL` (not
/// fatal) when the queue was full and the event was dropped and counted;
/// `GENKIT_AZURE_SHUT_DOWN` after `genkit_azure_shutdown`; a validation
/// status (nothing queued) when a field is invalid. The header maps
/// `genkit_azure_track_event` to this function.
///
/// # Safety
/// `handle` must be NULL or a live handle from `genkit_azure_new`; `event`
/// must be NULL or point to a `genkit_azure_custom_event` of `struct_size`
/// bytes whose pointers are NULL or valid as documented there, for the
/// duration of the call.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_track_event_v1(
    handle: *mut genkit_azure_handle,
    event: *const genkit_azure_custom_event,
) -> genkit_azure_status {
    boundary("genkit_azure_track_event", || {
        let path = Path::Root("event");
        // SAFETY (both): forwarded from the caller.
        let event = unsafe { read_sized(event, &path) }?;
        unsafe { track_event(handle, &event, &path) }
    })
}

/// Queues a handled exception. Never blocks on the network. Statuses as
/// `genkit_azure_track_event`. The header maps `genkit_azure_track_exception`
/// to this function.
///
/// # Safety
/// `handle` must be NULL or a live handle from `genkit_azure_new`;
/// `exception` must be NULL or point to a `genkit_azure_exception` of
/// `struct_size` bytes whose pointers are NULL or valid as documented there,
/// for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_track_exception_v1(
    handle: *mut genkit_azure_handle,
    exception: *const genkit_azure_exception,
) -> genkit_azure_status {
    boundary("genkit_azure_track_exception", || {
        let path = Path::Root("exception");
        // SAFETY (both): forwarded from the caller.
        let exception = unsafe { read_sized(exception, &path) }?;
        unsafe { track_exception(handle, &exception, &path) }
    })
}

/// Queues an availability test result. Never blocks on the network.
/// Statuses as `genkit_azure_track_event`. The header maps
/// `genkit_azure_track_availability` to this function.
///
/// # Safety
/// `handle` must be NULL or a live handle from `genkit_azure_new`; `result`
/// must be NULL or point to a `genkit_azure_availability` of `struct_size`
/// bytes whose pointers are NULL or valid as documented there, for the
/// duration of the call.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_track_availability_v1(
    handle: *mut genkit_azure_handle,
    result: *const genkit_azure_availability,
) -> genkit_azure_status {
    boundary("genkit_azure_track_availability", || {
        let path = Path::Root("availability");
        // SAFETY (both): forwarded from the caller.
        let result = unsafe { read_sized(result, &path) }?;
        unsafe { track_availability(handle, &result, &path) }
    })
}

/// # Safety
/// `handle` as for the exported functions; every pointer in `e` NULL or
/// valid as documented on `genkit_azure_custom_event`.
pub(crate) unsafe fn track_event(
    handle: *mut genkit_azure_handle,
    e: &genkit_azure_custom_event,
    path: &Path<'_>,
) -> FfiResult {
    // SAFETY (both): forwarded from the caller.
    let telemetry = unsafe { genkit_azure_handle::telemetry(handle) }?;
    let event = unsafe { custom_event(e, path) }?;
    pushed(telemetry.track_event(event), "event")
}

/// # Safety
/// As [`track_event`], for `genkit_azure_exception`.
pub(crate) unsafe fn track_exception(
    handle: *mut genkit_azure_handle,
    e: &genkit_azure_exception,
    path: &Path<'_>,
) -> FfiResult {
    // SAFETY (both): forwarded from the caller.
    let telemetry = unsafe { genkit_azure_handle::telemetry(handle) }?;
    let item = unsafe { exception(e, path) }?;
    pushed(telemetry.track_exception(item), "exception")
}

/// # Safety
/// As [`track_event`], for `genkit_azure_availability`.
pub(crate) unsafe fn track_availability(
    handle: *mut genkit_azure_handle,
    a: &genkit_azure_availability,
    path: &Path<'_>,
) -> FfiResult {
    // SAFETY (both): forwarded from the caller.
    let telemetry = unsafe { genkit_azure_handle::telemetry(handle) }?;
    let item = unsafe { availability(a, path) }?;
    pushed(telemetry.track_availability(item), "availability result")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::genkit_azure_attribute_type::GENKIT_AZURE_ATTRIBUTE_STRING;
    use crate::attribute::tests::attr;
    use crate::status::genkit_azure_status::*;

    fn zeroed<T>() -> T {
        // SAFETY: only used for the repr(C) structs above, for which all
        // zeros is valid (what C's `= {0}` gives).
        unsafe { std::mem::zeroed() }
    }

    fn event() -> genkit_azure_custom_event {
        genkit_azure_custom_event {
            name: c"order placed".as_ptr(),
            ..zeroed()
        }
    }

    fn availability_of(duration_ms: f64) -> genkit_azure_availability {
        genkit_azure_availability {
            name: c"home page".as_ptr(),
            duration_ms,
            ..zeroed()
        }
    }

    #[test]
    fn converts_every_field() {
        let props = [attr(c"tier", GENKIT_AZURE_ATTRIBUTE_STRING)];
        let ms = [genkit_azure_measurement {
            name: c"amount".as_ptr(),
            value: 12.5,
        }];
        let e = genkit_azure_custom_event {
            time_unix_nano: 1_000,
            properties: props.as_ptr(),
            property_count: 1,
            measurements: ms.as_ptr(),
            measurement_count: 1,
            trace_id: [1; 16],
            span_id: [2; 8],
            operation_name: c"POST /orders".as_ptr(),
            ..event()
        };
        // SAFETY: the struct points at statics and locals alive for the call.
        let got = unsafe { custom_event(&e, &Path::Root("event")) }.unwrap();
        assert_eq!(got.name, "order placed");
        assert_eq!(got.time, time_from_unix_nanos(1_000));
        assert_eq!(got.properties, [KeyValue::new("tier", "v")]);
        assert_eq!(got.measurements, [("amount".to_string(), 12.5)]);
        assert_eq!(
            got.trace_context,
            Some((TraceId::from_bytes([1; 16]), SpanId::from_bytes([2; 8])))
        );
        assert_eq!(got.operation_name.as_deref(), Some("POST /orders"));

        let x = genkit_azure_exception {
            type_name: c"E".as_ptr(),
            message: c"".as_ptr(),
            ..zeroed()
        };
        // SAFETY: as above.
        let got = unsafe { exception(&x, &Path::Root("exception")) }.unwrap();
        assert_eq!((got.stack, got.trace_context), (None, None));

        // SAFETY: as above.
        let got = unsafe { availability(&availability_of(1.5), &Path::Root("availability")) };
        assert_eq!(got.unwrap().duration, Duration::from_micros(1500));
    }

    #[test]
    fn refuses_bad_fields_with_their_names() {
        let nan = [genkit_azure_measurement {
            name: c"m".as_ptr(),
            value: f64::NAN,
        }];
        let cases: [(FfiResult<()>, genkit_azure_status, &str); 8] = [
            // SAFETY (all): the structs point at statics alive for the call.
            (
                unsafe { custom_event(&zeroed(), &Path::Root("event")) }.map(drop),
                GENKIT_AZURE_NULL_ARGUMENT,
                "event.name is NULL",
            ),
            (
                unsafe {
                    custom_event(
                        &genkit_azure_custom_event {
                            name: c"".as_ptr(),
                            ..zeroed()
                        },
                        &Path::Root("event"),
                    )
                }
                .map(drop),
                GENKIT_AZURE_INVALID_ARGUMENT,
                "event.name is empty",
            ),
            (
                unsafe {
                    custom_event(
                        &genkit_azure_custom_event {
                            measurements: nan.as_ptr(),
                            measurement_count: 1,
                            ..event()
                        },
                        &Path::Root("event"),
                    )
                }
                .map(drop),
                GENKIT_AZURE_INVALID_ARGUMENT,
                "event.measurements[0].value is NaN, not a finite number",
            ),
            (
                unsafe {
                    custom_event(
                        &genkit_azure_custom_event {
                            operation_name: c"\xff".as_ptr(),
                            ..event()
                        },
                        &Path::Root("event"),
                    )
                }
                .map(drop),
                GENKIT_AZURE_INVALID_UTF8,
                "event.operation_name is not valid UTF-8",
            ),
            (
                unsafe {
                    custom_event(
                        &genkit_azure_custom_event {
                            trace_id: [1; 16],
                            ..event()
                        },
                        &Path::Root("event"),
                    )
                }
                .map(drop),
                GENKIT_AZURE_INVALID_ARGUMENT,
                "event.trace_id and event.span_id must both be set",
            ),
            (
                unsafe {
                    exception(
                        &genkit_azure_exception {
                            type_name: c"E".as_ptr(),
                            ..zeroed()
                        },
                        &Path::Root("exception"),
                    )
                }
                .map(drop),
                GENKIT_AZURE_NULL_ARGUMENT,
                "exception.message is NULL",
            ),
            (
                unsafe { availability(&availability_of(f64::NAN), &Path::Root("availability")) }
                    .map(drop),
                GENKIT_AZURE_INVALID_ARGUMENT,
                "availability.duration_ms is NaN; expected a finite, non-negative",
            ),
            (
                unsafe { availability(&availability_of(-1.0), &Path::Root("availability")) }
                    .map(drop),
                GENKIT_AZURE_INVALID_ARGUMENT,
                "availability.duration_ms is -1;",
            ),
        ];
        for (result, status, words) in cases {
            let e = result.unwrap_err();
            assert_eq!(e.status, status, "{}", e.message);
            assert!(
                e.message.starts_with(words),
                "expected '{words}', got '{}'",
                e.message
            );
        }
    }
}
