//! Fuzz target: `genkit_azure_config` through `genkit_azure_new_v1`. Every
//! number field takes edge values (0 for the default, GENKIT_AZURE_ZERO,
//! either side of its range, the type's maximum) or any value, strings are
//! NULL, odd or non-UTF-8, resource attributes anything. `genkit_azure_new_v1`
//! must refuse a bad config with a status and a message naming the field,
//! or start a pipeline that then shuts down cleanly; never panic. Offline
//! storage is always off (nothing is written to disk) and the endpoint is a
//! closed loopback port or garbage (nothing leaves the machine).
#![no_main]

#[allow(dead_code)] // the body check is the attributes target's
mod common;

use arbitrary::Arbitrary;
use genkit_azure_ffi::attribute::genkit_azure_attribute;
use genkit_azure_ffi::config::{genkit_azure_config, GENKIT_AZURE_ZERO};
use genkit_azure_ffi::handle::{
    genkit_azure_free, genkit_azure_handle, genkit_azure_new_v1, genkit_azure_shutdown,
};
use genkit_azure_ffi::status::genkit_azure_last_error;
use genkit_azure_ffi::status::genkit_azure_status::*;
use libfuzzer_sys::fuzz_target;
use std::ffi::{c_char, CStr, CString};

#[derive(Arbitrary, Debug)]
enum N32 {
    Default,
    Zero,
    One,
    Max,
    Near(u8, i8),
    Any(u32),
}

impl N32 {
    /// Values around the setting ranges' edges (1, 9, 19, 64, 100, 1000,
    /// 3600000, ...), shifted by a little.
    fn get(&self) -> u32 {
        const EDGES: [u32; 12] = [
            1, 9, 19, 64, 100, 1_000, 1_024, 32_768, 600_000, 3_600_000, 16_777_216, 86_400_000,
        ];
        match self {
            N32::Default => 0,
            N32::Zero => GENKIT_AZURE_ZERO,
            N32::One => 1,
            N32::Max => u32::MAX - 1,
            N32::Near(i, d) => EDGES[*i as usize % EDGES.len()].wrapping_add_signed(i32::from(*d)),
            N32::Any(v) => *v,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum N64 {
    Default,
    Small(u32),
    Any(u64),
}

impl N64 {
    fn get(&self) -> u64 {
        match self {
            N64::Default => 0,
            N64::Small(v) => u64::from(*v),
            N64::Any(v) => *v,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Ratio {
    Default,
    Zero,
    Special(u8),
    Any(f64),
}

impl Ratio {
    fn get(&self) -> f64 {
        match self {
            Ratio::Default => 0.0,
            Ratio::Zero => f64::from(GENKIT_AZURE_ZERO),
            Ratio::Special(i) => {
                [f64::NAN, f64::INFINITY, -1.0, 0.25, 1.0, 1.5, 5.0, 1e7][*i as usize % 8]
            }
            Ratio::Any(v) => *v,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Text {
    Null,
    Bytes(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Endpoint {
    /// A loopback port nobody listens on.
    Closed,
    /// Any text after a valid key.
    After(Vec<u8>),
    /// Any text at all.
    Any(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Attr {
    key: Text,
    r#type: u32,
    string_value: Text,
    int_value: i64,
    double_value: f64,
}

#[derive(Arbitrary, Debug)]
struct Config {
    endpoint: Endpoint,
    service_name: Text,
    service_version: Text,
    service_namespace: Text,
    deployment_environment: Text,
    resource_attributes: Vec<Attr>,
    max_batch_size: N32,
    max_batch_bytes: N32,
    batch_delay_ms: N32,
    queue_capacity: N32,
    max_concurrent_exports: N32,
    request_timeout_ms: N32,
    thread_nice: N32,
    spill_capacity: N32,
    worker_threads: N32,
    metric_export_interval_ms: N32,
    retry_base_delay_ms: N32,
    retry_max_delay_ms: N32,
    max_backlog_bytes: N64,
    gzip_level: N32,
    max_disk_bytes: N64,
    disk_retention_ms: N32,
    disk_lease_ms: N32,
    metric_series_limit: N32,
    sampling_ratio: Ratio,
    traces_per_second: Ratio,
    flags: [bool; 8],
    // Last, so the corpus's inputs still decode as they did before it.
    max_queue_bytes: N64,
}

#[derive(Default)]
struct Arena(Vec<CString>);

impl Arena {
    fn bytes(&mut self, b: &[u8]) -> *const c_char {
        let s = CString::new(b.iter().copied().filter(|b| *b != 0).collect::<Vec<u8>>())
            .expect("NULs were filtered out");
        let ptr = s.as_ptr();
        self.0.push(s);
        ptr
    }
    fn text(&mut self, t: &Text) -> *const c_char {
        match t {
            Text::Null => std::ptr::null(),
            Text::Bytes(b) => self.bytes(b),
        }
    }
}

fn closed_port() -> u16 {
    static PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    *PORT.get_or_init(|| {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(9)
    })
}

fn last_error() -> String {
    let p = genkit_azure_last_error();
    if p.is_null() {
        return String::new();
    }
    // SAFETY: NULL or a NUL-terminated string that lives until this thread's next call.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fuzz_target!(|c: Config| {
    // Nothing in the environment may stand in for a field left unset.
    std::env::remove_var("APPLICATIONINSIGHTS_CONNECTION_STRING");
    std::env::remove_var("OTEL_TRACES_SAMPLER");
    let mut arena = Arena::default();
    let key = "InstrumentationKey=00000000-0000-4000-8000-000000000000";
    let endpoint = match &c.endpoint {
        Endpoint::Closed => {
            format!("{key};IngestionEndpoint=http://127.0.0.1:{}", closed_port()).into_bytes()
        }
        Endpoint::After(tail) => [format!("{key};").into_bytes(), tail.clone()].concat(),
        Endpoint::Any(b) => b.clone(),
    };
    let attrs: Vec<genkit_azure_attribute> = c
        .resource_attributes
        .iter()
        .take(16)
        .map(|a| {
            // SAFETY: all-zero is a valid attribute.
            let mut x: genkit_azure_attribute = unsafe { std::mem::zeroed() };
            x.key = arena.text(&a.key);
            x.r#type = a.r#type % 5;
            x.string_value = arena.text(&a.string_value);
            x.int_value = a.int_value;
            x.double_value = a.double_value;
            x
        })
        .collect();

    // SAFETY: all-zero is a valid config (every field its default).
    let mut cfg: genkit_azure_config = unsafe { std::mem::zeroed() };
    cfg.struct_size = std::mem::size_of::<genkit_azure_config>();
    cfg.connection_string = arena.bytes(&endpoint);
    cfg.service_name = arena.text(&c.service_name);
    cfg.service_version = arena.text(&c.service_version);
    cfg.service_namespace = arena.text(&c.service_namespace);
    cfg.deployment_environment = arena.text(&c.deployment_environment);
    cfg.resource_attributes = if attrs.is_empty() {
        std::ptr::null()
    } else {
        attrs.as_ptr()
    };
    cfg.resource_attribute_count = attrs.len();
    cfg.max_batch_size = c.max_batch_size.get();
    cfg.max_batch_bytes = c.max_batch_bytes.get();
    cfg.batch_delay_ms = c.batch_delay_ms.get();
    cfg.queue_capacity = c.queue_capacity.get();
    cfg.max_concurrent_exports = c.max_concurrent_exports.get();
    cfg.request_timeout_ms = c.request_timeout_ms.get();
    // Never written to disk: no storage directory, persistence off.
    cfg.disable_offline_storage = true;
    cfg.thread_nice = c.thread_nice.get();
    cfg.spill_capacity = c.spill_capacity.get();
    // Threads are real: at most 4 of them per pipeline here.
    cfg.worker_threads = c.worker_threads.get() % 5;
    cfg.metric_export_interval_ms = c.metric_export_interval_ms.get();
    cfg.retry_base_delay_ms = c.retry_base_delay_ms.get();
    cfg.retry_max_delay_ms = c.retry_max_delay_ms.get();
    cfg.max_backlog_bytes = c.max_backlog_bytes.get();
    cfg.max_queue_bytes = c.max_queue_bytes.get();
    cfg.gzip_level = c.gzip_level.get();
    cfg.max_disk_bytes = c.max_disk_bytes.get();
    cfg.disk_retention_ms = c.disk_retention_ms.get();
    cfg.disk_lease_ms = c.disk_lease_ms.get();
    cfg.log_input_and_output = c.flags[0];
    cfg.no_force_dev_export = c.flags[1];
    cfg.disable_traces = c.flags[2];
    cfg.disable_metrics = c.flags[3];
    cfg.disable_logs = c.flags[4];
    cfg.disable_live_metrics = c.flags[5];
    cfg.metric_series_limit = c.metric_series_limit.get();
    cfg.sampling_ratio = c.sampling_ratio.get();
    cfg.traces_per_second = c.traces_per_second.get();
    cfg.enable_trace_based_sampling_for_logs = c.flags[6];

    let mut h: *mut genkit_azure_handle = std::ptr::null_mut();
    // SAFETY: every pointer in `cfg` is NULL or points into `arena` or `attrs`.
    let status = unsafe { genkit_azure_new_v1(&cfg, &mut h) };
    match status {
        GENKIT_AZURE_OK => {
            assert!(!h.is_null());
            // SAFETY: a live handle from genkit_azure_new_v1, freed once.
            let down = unsafe { genkit_azure_shutdown(h, 0) };
            assert!(
                !matches!(down, GENKIT_AZURE_PANIC | GENKIT_AZURE_INTERNAL),
                "shutdown: {down:?}: {}",
                last_error()
            );
            // SAFETY: as above.
            unsafe { genkit_azure_free(h) };
        }
        GENKIT_AZURE_PANIC | GENKIT_AZURE_INTERNAL => {
            panic!("genkit_azure_new_v1 returned {status:?}: {}", last_error())
        }
        _ => {
            assert!(h.is_null(), "no handle on failure");
            let message = last_error();
            assert!(
                message.starts_with("genkit_azure_new: "),
                "{status:?}: {message:?}"
            );
            assert!(
                !message.contains("00000000-0000-4000-8000"),
                "the key leaked: {message}"
            );
        }
    }
});
