//! Fuzz target: the C structs through the public C API. Spans (with events,
//! links and attributes), log records, custom events and span starts are built from
//! fuzz input the way a C program builds them (zero-initialised, then fields
//! assigned; any integer in an enum field, NULL or non-UTF-8 strings, NULL
//! arrays with counts) and handed to the `extern "C"` functions of
//! `libgenkit_azure`. Every call must return a status (a panic aborts the run,
//! and GENKIT_AZURE_PANIC / INTERNAL fail it) with a message for a failure,
//! and memory stays bounded: the handle's queue and backlog are small and its
//! endpoint a closed loopback port.
#![no_main]

#[allow(dead_code)] // the body check is the attributes target's
mod common;

use arbitrary::Arbitrary;
use genkit_azure_ffi::attribute::genkit_azure_attribute;
use genkit_azure_ffi::config::genkit_azure_config;
use genkit_azure_ffi::custom::{
    genkit_azure_custom_event, genkit_azure_measurement, genkit_azure_track_event_v1,
};
use genkit_azure_ffi::handle::{genkit_azure_handle, genkit_azure_new_v1};
use genkit_azure_ffi::log::{genkit_azure_emit_log_v1, genkit_azure_log_record};
use genkit_azure_ffi::operation::{genkit_azure_span_start, genkit_azure_span_started_v1};
use genkit_azure_ffi::span::{
    genkit_azure_event, genkit_azure_export_span_v1, genkit_azure_link, genkit_azure_span,
};
use genkit_azure_ffi::status::genkit_azure_last_error;
use genkit_azure_ffi::status::genkit_azure_status::{self, *};
use libfuzzer_sys::fuzz_target;
use std::ffi::{c_char, CStr, CString};
use std::sync::OnceLock;

/// Text as C hands it over: NULL, or bytes up to a NUL (not always UTF-8).
#[derive(Arbitrary, Debug)]
enum Text {
    Null,
    Known(u8),
    Bytes(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Attr {
    key: Text,
    r#type: u32,
    string_value: Text,
    bool_value: bool,
    int_value: i64,
    double_value: f64,
}

/// An array field and its count: the count is the array's length, or 0 with
/// an array, or any count with NULL (never a count past a real array: that
/// would break the C contract, not test the library).
#[derive(Arbitrary, Debug)]
enum Array<T> {
    Items(Vec<T>),
    EmptyCount(Vec<T>),
    Null(usize),
}

#[derive(Arbitrary, Debug)]
struct Event {
    name: Text,
    time_unix_nano: u64,
    attributes: Array<Attr>,
}

#[derive(Arbitrary, Debug)]
struct Link {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    is_remote: bool,
    attributes: Array<Attr>,
}

#[derive(Arbitrary, Debug)]
struct Span {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent_span_id: [u8; 8],
    parent_is_remote: bool,
    name: Text,
    kind: u32,
    start_time_unix_nano: u64,
    end_time_unix_nano: u64,
    status_code: u32,
    status_message: Text,
    attributes: Array<Attr>,
    events: Array<Event>,
    scope_name: Text,
    scope_version: Text,
    operation_name: Text,
    links: Array<Link>,
}

#[derive(Arbitrary, Debug)]
struct Log {
    time_unix_nano: u64,
    severity_number: i32,
    body: Text,
    attributes: Array<Attr>,
    trace_id: [u8; 16],
    span_id: [u8; 8],
    logger_name: Text,
}

#[derive(Arbitrary, Debug)]
struct CustomEvent {
    time_unix_nano: u64,
    name: Text,
    properties: Array<Attr>,
    measurements: Array<(Text, f64)>,
    trace_id: [u8; 16],
    span_id: [u8; 8],
    operation_name: Text,
}

#[derive(Arbitrary, Debug)]
struct Start {
    trace_id: [u8; 16],
    parent_span_id: [u8; 8],
    parent_is_remote: bool,
    root_operation_name: Text,
}

#[derive(Arbitrary, Debug)]
enum Call {
    Span(Span),
    Log(Log),
    Event(CustomEvent),
    Started(Start),
}

/// Owns every C string and array a call points into, until the call returns.
#[derive(Default)]
struct Arena {
    strings: Vec<CString>,
    attributes: Vec<Vec<genkit_azure_attribute>>,
}

impl Arena {
    fn text(&mut self, t: &Text) -> *const c_char {
        let bytes = match t {
            Text::Null => return std::ptr::null(),
            Text::Known(i) => common::KEYS[*i as usize % common::KEYS.len()]
                .as_bytes()
                .to_vec(),
            Text::Bytes(b) => b.iter().copied().filter(|b| *b != 0).collect(),
        };
        let s = CString::new(bytes).expect("NULs were filtered out");
        let ptr = s.as_ptr();
        // The CString's heap buffer does not move when the Vec grows.
        self.strings.push(s);
        ptr
    }

    fn attribute(&mut self, a: &Attr) -> genkit_azure_attribute {
        // SAFETY: all-zero is a valid attribute (what C's `= {0}` gives).
        let mut c: genkit_azure_attribute = unsafe { std::mem::zeroed() };
        c.key = self.text(&a.key);
        c.r#type = a.r#type % 6;
        c.string_value = self.text(&a.string_value);
        c.bool_value = a.bool_value;
        c.int_value = a.int_value;
        c.double_value = a.double_value;
        c
    }

    /// The pointer and count of an attribute array; the array lives in the arena.
    fn attributes(&mut self, a: &Array<Attr>) -> (*const genkit_azure_attribute, usize) {
        let (items, count) = match a {
            Array::Null(n) => return (std::ptr::null(), *n % 4),
            Array::Items(v) => (v, v.len()),
            Array::EmptyCount(v) => (v, 0),
        };
        let v: Vec<_> = items.iter().map(|x| self.attribute(x)).collect();
        let ptr = if v.is_empty() {
            std::ptr::null()
        } else {
            v.as_ptr()
        };
        self.attributes.push(v);
        (ptr, count)
    }
}

/// A C array built from fuzz input: its items, and the count C is told
/// (any count with NULL, 0 with items).
struct CArray<T> {
    items: Vec<T>,
    count: usize,
}

impl<T> CArray<T> {
    /// The pointer and count a C struct holds: NULL when there are no items.
    fn raw(&self) -> (*const T, usize) {
        let ptr = if self.items.is_empty() {
            std::ptr::null()
        } else {
            self.items.as_ptr()
        };
        (ptr, self.count)
    }
}

fn c_array<I, T>(a: &Array<I>, item: impl FnMut(&I) -> T) -> CArray<T> {
    let (items, count) = match a {
        Array::Null(n) => (&[][..], *n % 4),
        Array::Items(v) => (&v[..], v.len()),
        Array::EmptyCount(v) => (&v[..], 0),
    };
    CArray {
        items: items.iter().map(item).collect(),
        count,
    }
}

/// One handle for the whole run: a closed loopback port as the endpoint (no
/// traffic leaves the machine), no disk, no Live Metrics, a small queue and
/// backlog so that memory stays bounded however long the run.
fn handle() -> *mut genkit_azure_handle {
    static HANDLE: OnceLock<usize> = OnceLock::new();
    *HANDLE.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(9);
        let cs = CString::new(format!(
            "InstrumentationKey=00000000-0000-4000-8000-000000000000;\
             IngestionEndpoint=http://127.0.0.1:{port}"
        ))
        .unwrap();
        // Leaked: the handle lives as long as the process.
        let cs = Box::leak(cs.into_boxed_c_str());
        // SAFETY: all-zero is a valid config (every field its default).
        let mut config: genkit_azure_config = unsafe { std::mem::zeroed() };
        config.struct_size = std::mem::size_of::<genkit_azure_config>();
        config.connection_string = cs.as_ptr();
        config.service_name = c"fuzz".as_ptr();
        config.disable_offline_storage = true;
        config.disable_live_metrics = true;
        config.queue_capacity = 512;
        config.max_batch_size = 256;
        config.max_backlog_bytes = 65_536;
        config.worker_threads = 1;
        let mut out: *mut genkit_azure_handle = std::ptr::null_mut();
        // SAFETY: both pointers are valid for the call.
        let status = unsafe { genkit_azure_new_v1(&config, &mut out) };
        assert_eq!(status, GENKIT_AZURE_OK, "{}", last_error());
        out as usize
    }) as *mut genkit_azure_handle
}

fn last_error() -> String {
    // SAFETY: the library returns NULL or a NUL-terminated string that lives
    // until this thread's next call.
    let p = genkit_azure_last_error();
    if p.is_null() {
        return String::new();
    }
    // SAFETY: as above.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn check(function: &str, status: genkit_azure_status) {
    match status {
        GENKIT_AZURE_OK | GENKIT_AZURE_QUEUE_FULL => {}
        GENKIT_AZURE_PANIC | GENKIT_AZURE_INTERNAL => {
            panic!("{function} returned {status:?}: {}", last_error())
        }
        _ => {
            let message = last_error();
            assert!(
                message.starts_with(function),
                "{function} returned {status:?} with the message {message:?}"
            );
        }
    }
}

fuzz_target!(|calls: Vec<Call>| {
    let h = handle();
    for call in calls.iter().take(16) {
        let mut arena = Arena::default();
        match call {
            Call::Span(s) => {
                // SAFETY: all-zero is a valid span (what C's `= {0}` gives).
                let mut c: genkit_azure_span = unsafe { std::mem::zeroed() };
                c.struct_size = std::mem::size_of::<genkit_azure_span>();
                c.trace_id = s.trace_id;
                c.span_id = s.span_id;
                c.parent_span_id = s.parent_span_id;
                c.parent_is_remote = s.parent_is_remote;
                c.name = arena.text(&s.name);
                c.kind = s.kind;
                c.start_time_unix_nano = s.start_time_unix_nano;
                c.end_time_unix_nano = s.end_time_unix_nano;
                c.status_code = s.status_code;
                c.status_message = arena.text(&s.status_message);
                (c.attributes, c.attribute_count) = arena.attributes(&s.attributes);
                let events = c_array(&s.events, |e| {
                    // SAFETY: all-zero is a valid event.
                    let mut ce: genkit_azure_event = unsafe { std::mem::zeroed() };
                    ce.name = arena.text(&e.name);
                    ce.time_unix_nano = e.time_unix_nano;
                    (ce.attributes, ce.attribute_count) = arena.attributes(&e.attributes);
                    ce
                });
                (c.events, c.event_count) = events.raw();
                c.scope_name = arena.text(&s.scope_name);
                c.scope_version = arena.text(&s.scope_version);
                c.operation_name = arena.text(&s.operation_name);
                let links = c_array(&s.links, |l| {
                    // SAFETY: all-zero is a valid link.
                    let mut cl: genkit_azure_link = unsafe { std::mem::zeroed() };
                    cl.trace_id = l.trace_id;
                    cl.span_id = l.span_id;
                    cl.is_remote = l.is_remote;
                    (cl.attributes, cl.attribute_count) = arena.attributes(&l.attributes);
                    cl
                });
                (c.links, c.link_count) = links.raw();
                // SAFETY: every pointer in `c` is NULL or points into `arena`,
                // `events` or `links`, all alive for the call.
                check("genkit_azure_export_span", unsafe {
                    genkit_azure_export_span_v1(h, &c)
                });
            }
            Call::Log(l) => {
                // SAFETY: all-zero is a valid record.
                let mut c: genkit_azure_log_record = unsafe { std::mem::zeroed() };
                c.struct_size = std::mem::size_of::<genkit_azure_log_record>();
                c.time_unix_nano = l.time_unix_nano;
                c.severity_number = l.severity_number;
                c.body = arena.text(&l.body);
                (c.attributes, c.attribute_count) = arena.attributes(&l.attributes);
                c.trace_id = l.trace_id;
                c.span_id = l.span_id;
                c.logger_name = arena.text(&l.logger_name);
                // SAFETY: as for spans.
                check("genkit_azure_emit_log", unsafe {
                    genkit_azure_emit_log_v1(h, &c)
                });
            }
            Call::Event(e) => {
                // SAFETY: all-zero is a valid event.
                let mut c: genkit_azure_custom_event = unsafe { std::mem::zeroed() };
                c.struct_size = std::mem::size_of::<genkit_azure_custom_event>();
                c.time_unix_nano = e.time_unix_nano;
                c.name = arena.text(&e.name);
                (c.properties, c.property_count) = arena.attributes(&e.properties);
                let (items, count): (&[(Text, f64)], usize) = match &e.measurements {
                    Array::Null(n) => (&[], *n % 4),
                    Array::Items(v) => (v, v.len()),
                    Array::EmptyCount(v) => (v, 0),
                };
                let measurements: Vec<genkit_azure_measurement> = items
                    .iter()
                    .map(|(name, value)| {
                        // SAFETY: all-zero is a valid measurement.
                        let mut m: genkit_azure_measurement = unsafe { std::mem::zeroed() };
                        m.name = arena.text(name);
                        m.value = *value;
                        m
                    })
                    .collect();
                c.measurements = if measurements.is_empty() {
                    std::ptr::null()
                } else {
                    measurements.as_ptr()
                };
                c.measurement_count = count;
                c.trace_id = e.trace_id;
                c.span_id = e.span_id;
                c.operation_name = arena.text(&e.operation_name);
                // SAFETY: as for spans.
                check("genkit_azure_track_event", unsafe {
                    genkit_azure_track_event_v1(h, &c)
                });
            }
            Call::Started(s) => {
                // SAFETY: all-zero is a valid start.
                let mut c: genkit_azure_span_start = unsafe { std::mem::zeroed() };
                c.struct_size = std::mem::size_of::<genkit_azure_span_start>();
                c.trace_id = s.trace_id;
                c.parent_span_id = s.parent_span_id;
                c.parent_is_remote = s.parent_is_remote;
                c.root_operation_name = arena.text(&s.root_operation_name);
                // SAFETY: as for spans.
                check("genkit_azure_span_started", unsafe {
                    genkit_azure_span_started_v1(h, &c)
                });
            }
        }
    }
});
