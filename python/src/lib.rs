//! `genkit_azure_rs._native`: the compiled half of the `genkit_azure_rs` package.
//!
//! Two classes: `Telemetry` (the Rust pipeline: push, flush, shutdown, stats)
//! and `SpanProcessor` (an OpenTelemetry SDK span processor whose `on_end`
//! converts the finished span in Rust and queues it, with no Python export
//! thread in between). Everything that waits (flush, shutdown, building the
//! pipeline) runs detached from the interpreter so other Python threads go on.

mod convert;
mod credential;
mod custom;
mod diagnostics;
mod held_spans;
mod metric_producer;

use genkit_azure::face::{self, Face, Kind, SettingValue, SETTINGS};
use genkit_azure::opentelemetry::KeyValue;
use genkit_azure::{
    AvailabilityResult, AzureTelemetry, AzureTelemetryBuilder, CustomEvent, Error, LogRecord,
    MetricKind, MetricPoint, Pushed, Summary, TrackedException,
};
use held_spans::{Held, HeldSpans};
use metric_producer::MetricProducer;
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

create_exception!(
    genkit_azure_rs,
    TelemetryShutDownError,
    PyRuntimeError,
    "The telemetry pipeline is shut down; nothing more is accepted or flushed."
);

pub(crate) fn to_py_err(e: Error) -> PyErr {
    match e {
        Error::ShutDown => TelemetryShutDownError::new_err(e.to_string()),
        Error::ConnectionString { .. }
        | Error::MissingConnectionString
        | Error::Config(_)
        | Error::InvalidArgument(_) => PyValueError::new_err(e.to_string()),
        _ => PyRuntimeError::new_err(e.to_string()),
    }
}

/// The `connection_string` argument as Rust text. PyO3's own conversion of a
/// str holding a lone surrogate raises a UnicodeEncodeError that carries the
/// whole string, key included, in its `object` and its repr; this error says
/// only where the character is, as the parser's errors do.
fn connection_string_arg(value: &Bound<'_, PyAny>) -> PyResult<String> {
    let Ok(text) = value.cast::<PyString>() else {
        return Err(PyTypeError::new_err(format!(
            "connection_string: expected a str or None, got {}",
            type_name(value)
        )));
    };
    text.to_str().map(str::to_owned).map_err(|e| {
        let at = e
            .value(value.py())
            .getattr("start")
            .and_then(|start| start.extract::<usize>())
            .map(|i| format!(" (character {})", i + 1))
            .unwrap_or_default();
        PyValueError::new_err(format!(
            "invalid connection string (argument): holds a lone surrogate{at}, which is not text"
        ))
    })
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// Applies one number or duration keyword (`max_batch_size=…`,
/// `batch_delay_s=…`) as core's list of settings declares it: whatever
/// setting the list has, Python has, with the list's range and error text.
/// `None` keeps the default.
fn setting_arg(
    b: AzureTelemetryBuilder,
    keyword: &str,
    value: &Bound<'_, PyAny>,
) -> PyResult<AzureTelemetryBuilder> {
    let Some(setting) = face::setting_in(Face::Python, keyword).filter(|s| s.is_tuned()) else {
        return Err(PyTypeError::new_err(format!(
            "Telemetry() got an unexpected keyword argument '{keyword}'"
        )));
    };
    if value.is_none() {
        return Ok(b);
    }
    let config_error = |e| to_py_err(Error::Config(e));
    // bool is an int in Python; True is never what a size or a time meant.
    let wrong_type = |wanted: &str| {
        PyTypeError::new_err(format!(
            "{keyword}: expected {wanted}, got {}",
            type_name(value)
        ))
    };
    let value = match setting.kind {
        Kind::Duration => {
            if value.is_instance_of::<PyBool>() {
                return Err(wrong_type("a number of seconds"));
            }
            let secs: f64 = value
                .extract()
                .map_err(|_| wrong_type("a number of seconds"))?;
            let d = Duration::try_from_secs_f64(secs)
                .map_err(|_| config_error(setting.out_of_range(Face::Python, secs)))?;
            SettingValue::Duration(d)
        }
        Kind::Float(_) => {
            // An int is a fine ratio or rate (`traces_per_second=5`).
            if value.is_instance_of::<PyBool>() {
                return Err(wrong_type("a number"));
            }
            let f: f64 = value.extract().map_err(|_| wrong_type("a number"))?;
            SettingValue::Float(f)
        }
        _ => {
            if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
                return Err(wrong_type("an int"));
            }
            let n = value
                .extract::<u64>()
                .map_err(|_| config_error(setting.out_of_range(Face::Python, value)))?;
            SettingValue::Count(n)
        }
    };
    b.set(Face::Python, setting.name, value)
        .map_err(config_error)
}

/// A number or duration in Python's units: an int, or float seconds.
fn setting_value_to_py<'py>(py: Python<'py>, value: SettingValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        SettingValue::Count(n) => n.into_pyobject(py)?.into_any(),
        SettingValue::Duration(d) => d.as_secs_f64().into_pyobject(py)?.into_any(),
        SettingValue::Float(f) => f.into_pyobject(py)?.into_any(),
    })
}

/// Core's list of settings as Python sees it (for the tests that check the
/// package, its stubs and its docstring against it).
#[pyfunction]
fn _settings(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let list = PyList::empty(py);
    let together = face::examples_together();
    for s in SETTINGS {
        let d = PyDict::new(py);
        d.set_item("name", s.name)?;
        d.set_item("python_name", s.name_in(Face::Python))?;
        let kind = match s.kind {
            Kind::Count(_) => "count",
            Kind::Bytes => "bytes",
            Kind::Duration => "duration",
            Kind::Float(_) => "float",
            Kind::Text => "text",
            Kind::Path => "path",
            Kind::Flag => "flag",
            Kind::FlagOn => "flag_on",
            Kind::Attributes => "attributes",
            Kind::TextMap => "text_map",
            Kind::Names => "names",
            Kind::Prices => "prices",
        };
        d.set_item("kind", kind)?;
        d.set_item("doc_line", s.doc_line(Face::Python))?;
        d.set_item("env", s.env)?;
        let value = |v: Option<SettingValue>| -> PyResult<Option<Bound<'_, PyAny>>> {
            v.map(|v| setting_value_to_py(py, v)).transpose()
        };
        d.set_item("default", value(s.default_value())?)?;
        d.set_item("min", value(s.range.map(|r| r.0))?)?;
        d.set_item("max", value(s.range.map(|r| r.1))?)?;
        d.set_item("example_valid", value(face::example_valid(s))?)?;
        d.set_item("example_invalid", value(face::example_invalid(s))?)?;
        // What to set when setting every example at once.
        let together = together.iter().find(|(t, _)| t.name == s.name).map(|(_, v)| *v);
        d.set_item("example_together", value(together)?)?;
        list.append(d)?;
    }
    Ok(list)
}

/// `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` read by core's one parser:
/// None when it asks for nothing, `{"client_id": str | None}` when it asks
/// for Entra ID with a managed identity; ValueError naming the part when it
/// is malformed.
#[pyfunction]
fn _authentication_string<'py>(
    py: Python<'py>,
    value: &str,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let Some(managed) = face::parse_authentication_string(value)
        .map_err(|e| PyValueError::new_err(e.to_string()))?
    else {
        return Ok(None);
    };
    let d = PyDict::new(py);
    d.set_item("client_id", managed.client_id)?;
    Ok(Some(d))
}

/// A push's outcome as Python sees it: True queued, False dropped because
/// the queue was full (counted) or its signal is turned off; an error for a
/// refused item or after shutdown.
fn queued(result: genkit_azure::Result<Pushed>) -> PyResult<bool> {
    match result.map_err(to_py_err)? {
        Pushed::Accepted => Ok(true),
        Pushed::DroppedQueueFull | Pushed::Disabled => Ok(false),
    }
}

fn duration_from_secs(field: &str, secs: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        PyValueError::new_err(format!(
            "{field} must be a non-negative number of seconds, got {secs}"
        ))
    })
}

/// State shared by `Telemetry` and its span processors.
///
/// No Python-facing call waits on a lock that another call holds across a
/// blocking wait: `shutdown` can take seconds against a dead endpoint (with
/// the GIL released), and a reader that blocked on its lock while holding the
/// GIL would stall every Python thread for that long. So the flag readers
/// check is an atomic, and the result's lock is held only for a moment.
#[derive(Debug)]
struct Shared {
    telemetry: AzureTelemetry,
    /// Set by the first `shutdown` as it starts: from then on nothing more
    /// is accepted, so the pipeline counts as shut down.
    shutting_down: AtomicBool,
    /// The first shutdown's result once it has finished; later calls return
    /// it. Waited for through `shutdown_finished`, which releases the lock.
    shutdown_result: Mutex<Option<bool>>,
    shutdown_finished: Condvar,
    /// Spans the processor could not read (malformed ids, times, ...).
    spans_invalid: AtomicU64,
    /// Ended spans not converted yet (see `held_spans`).
    held: HeldSpans,
}

impl Shared {
    fn new(telemetry: AzureTelemetry) -> Self {
        Self {
            telemetry,
            shutting_down: AtomicBool::new(false),
            shutdown_result: Mutex::new(None),
            shutdown_finished: Condvar::new(),
            spans_invalid: AtomicU64::new(0),
            held: HeldSpans::default(),
        }
    }

    /// Call with the GIL released: it waits up to `timeout`.
    fn shutdown(&self, timeout: Duration) -> bool {
        if self.shutting_down.swap(true, SeqCst) {
            // Another call started it: wait (at most our own timeout) for
            // its result; `wait_timeout_while` releases the lock meanwhile.
            let guard = self
                .shutdown_result
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let (guard, _) = self
                .shutdown_finished
                .wait_timeout_while(guard, timeout, |result| result.is_none())
                .unwrap_or_else(|p| p.into_inner());
            return guard.unwrap_or(false);
        }
        let ok = self.telemetry.shutdown(timeout).unwrap_or(false);
        *self
            .shutdown_result
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(ok);
        self.shutdown_finished.notify_all();
        ok
    }

    /// Never waits.
    fn is_shut_down(&self) -> bool {
        self.shutting_down.load(SeqCst)
    }

    /// A span the SDK ended: held, or converted and queued now (with the
    /// ones held before it once there are enough, see `held_spans`). Never
    /// raises: see `SpanProcessor.on_end`.
    fn end_span(&self, span: &Bound<'_, PyAny>) {
        match self.held.hold(span) {
            Held::Yes => {}
            Held::No => {
                let _ = self.push_span(span);
            }
            Held::Full(spans) => self.push_spans(span.py(), spans),
        }
    }

    /// Converts and queues the spans held so far. Called with the GIL held
    /// before anything that reads or ends the pipeline's contents (flush,
    /// stats, shutdown), so that a span ended before it counts.
    fn convert_held(&self, py: Python<'_>) {
        self.push_spans(py, self.held.take());
    }

    /// No span is held from now on, and those held are converted: the first
    /// step of a shutdown, with the GIL held. A span that ends meanwhile on
    /// another thread is converted as it ends, before the pipeline stops.
    fn stop_holding(&self, py: Python<'_>) {
        self.push_spans(py, self.held.stop());
    }

    fn push_spans(&self, py: Python<'_>, spans: Vec<Py<PyAny>>) {
        for span in spans {
            let _ = self.push_span(&span.into_bound(py));
        }
    }

    fn push_span(&self, span: &Bound<'_, PyAny>) -> PyResult<bool> {
        let packed = match convert::span(span, self.telemetry.operations()) {
            Ok(Some(packed)) => packed,
            Ok(None) => return Ok(false),
            Err(e) => {
                self.spans_invalid.fetch_add(1, Relaxed);
                return Err(e);
            }
        };
        match self.telemetry.push_packed(packed).map_err(to_py_err)? {
            Pushed::Accepted => Ok(true),
            Pushed::DroppedQueueFull | Pushed::Disabled => Ok(false),
        }
    }
}

/// Which pipeline a `Telemetry` and its span processors feed. One slot is
/// shared by a `Telemetry` and every `SpanProcessor` made from it, so that a
/// child process forked from the one that built the pipeline can put a fresh
/// pipeline in it (`_adopt_after_fork`) and every Python object holding the
/// `Telemetry` (log handler, metric reader, sampler, span processor) follows.
///
/// The lock is held only to clone or replace the `Arc`, never across a wait
/// and never by the pipeline's own threads, so no thread can hold it when
/// the process forks (the forking thread holds the GIL, and so does every
/// thread that takes this lock).
type Slot = RwLock<Arc<Shared>>;

fn current(slot: &Slot) -> Arc<Shared> {
    Arc::clone(&slot.read().unwrap_or_else(|p| p.into_inner()))
}

/// The Rust telemetry pipeline.
#[pyclass(frozen, module = "genkit_azure_rs._native", name = "Telemetry")]
struct Telemetry {
    shared: Arc<Slot>,
}

impl Telemetry {
    fn shared(&self) -> Arc<Shared> {
        current(&self.shared)
    }
}

#[pymethods]
impl Telemetry {
    #[new]
    /// The identity settings are named here; every number and duration of
    /// core's list comes in `settings` by its Python name (`batch_delay_s`)
    /// and is converted and checked from the list, so a setting core adds
    /// needs nothing here.
    #[pyo3(signature = (
        *,
        connection_string = None,
        credential = None,
        service_name = None,
        service_version = None,
        service_namespace = None,
        deployment_environment = None,
        resource_attributes = None,
        storage_directory = None,
        disable_offline_storage = false,
        log_input_and_output = false,
        enable_trace_based_sampling_for_logs = false,
        force_dev_export = true,
        disable_traces = false,
        disable_metrics = false,
        disable_logs = false,
        enable_live_metrics = true,
        enable_agent_reparenting = true,
        agent_ids = None,
        model_prices = None,
        agent_flows = None,
        **settings,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        connection_string: Option<Bound<'_, PyAny>>,
        credential: Option<Bound<'_, PyAny>>,
        service_name: Option<String>,
        service_version: Option<String>,
        service_namespace: Option<String>,
        deployment_environment: Option<String>,
        resource_attributes: Option<Bound<'_, PyAny>>,
        storage_directory: Option<std::path::PathBuf>,
        disable_offline_storage: bool,
        log_input_and_output: bool,
        enable_trace_based_sampling_for_logs: bool,
        force_dev_export: bool,
        disable_traces: bool,
        disable_metrics: bool,
        disable_logs: bool,
        enable_live_metrics: bool,
        enable_agent_reparenting: bool,
        agent_ids: Option<std::collections::HashMap<String, String>>,
        model_prices: Option<std::collections::HashMap<String, (f64, f64)>>,
        agent_flows: Option<Vec<String>>,
        settings: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        // Names the host language in `ai.internal.sdkVersion`; resource
        // attributes the user passes come later and win.
        let mut b = AzureTelemetry::builder()
            .resource_attribute(KeyValue::new("telemetry.sdk.language", "python"));
        if let Some(s) = connection_string.filter(|s| !s.is_none()) {
            b = b.connection_string(connection_string_arg(&s)?);
        }
        // Entra ID: called later, on the pipeline's thread (see credential.rs).
        if let Some(c) = credential.filter(|c| !c.is_none()) {
            b = b.credential(credential::PyCredential::new(&c)?);
        }
        if let Some(s) = service_name {
            b = b.service_name(s);
        }
        if let Some(s) = service_version {
            b = b.service_version(s);
        }
        if let Some(s) = service_namespace {
            b = b.service_namespace(s);
        }
        if let Some(s) = deployment_environment {
            b = b.deployment_environment(s);
        }
        if let Some(attrs) = resource_attributes {
            b = b.resource_attributes(convert::attributes(&attrs)?);
        }
        if let Some(dir) = storage_directory {
            b = b.storage_directory(dir);
        }
        if disable_offline_storage {
            b = b.disable_offline_storage(true);
        }
        b = b
            .log_input_and_output(log_input_and_output)
            .enable_trace_based_sampling_for_logs(enable_trace_based_sampling_for_logs)
            .force_dev_export(force_dev_export)
            .disable_traces(disable_traces)
            .disable_metrics(disable_metrics)
            .disable_logs(disable_logs);
        b = b.enable_live_metrics(enable_live_metrics);
        b = b.enable_agent_reparenting(enable_agent_reparenting);
        if let Some(ids) = agent_ids {
            b = b.agent_ids(ids);
        }
        if let Some(flows) = agent_flows {
            b = b.agent_flows(flows);
        }
        if let Some(prices) = model_prices {
            b = b.model_prices(prices.into_iter().map(|(m, (i, o))| (m, i, o)));
        }
        for (keyword, value) in settings.into_iter().flatten() {
            let keyword = keyword.cast::<PyString>()?.to_cow()?;
            b = setting_arg(b, &keyword, &value)?;
        }
        // Errors name settings as Python does (`batch_delay_s`).
        let telemetry = py.detach(|| b.build_as(Face::Python)).map_err(to_py_err)?;
        Ok(Self {
            shared: Arc::new(RwLock::new(Arc::new(Shared::new(telemetry)))),
        })
    }

    /// The resource every envelope carries, as a dict.
    #[getter]
    fn resource<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in self.shared().telemetry.resource().iter() {
            d.set_item(k.as_str(), convert::value_to_py(py, v)?)?;
        }
        Ok(d)
    }

    /// The settings the pipeline runs with, by core's names, in Python's
    /// units (float seconds): what the tests read back. Never holds the
    /// connection string.
    fn _resolved_config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let shared = self.shared();
        let config = shared.telemetry.resolved_config();
        let d = PyDict::new(py);
        for s in SETTINGS.iter().filter(|s| s.is_tuned()) {
            if let Some(v) = config.get(s.name) {
                d.set_item(s.name, setting_value_to_py(py, v)?)?;
            }
        }
        d.set_item("storage_directory", config.storage_directory.as_deref())?;
        d.set_item("disable_offline_storage", !config.storage_enabled)?;
        d.set_item("log_input_and_output", config.log_input_and_output)?;
        d.set_item(
            "enable_trace_based_sampling_for_logs",
            config.enable_trace_based_sampling_for_logs,
        )?;
        d.set_item("force_dev_export", config.force_dev_export)?;
        d.set_item("disable_traces", config.disable_traces)?;
        d.set_item("disable_metrics", config.disable_metrics)?;
        d.set_item("disable_logs", config.disable_logs)?;
        d.set_item("enable_live_metrics", config.enable_live_metrics)?;
        d.set_item("enable_agent_reparenting", config.enable_agent_reparenting)?;
        d.set_item("agent_ids", config.agent_ids.clone())?;
        d.set_item("model_prices", config.model_prices.clone())?;
        d.set_item("agent_flows", config.agent_flows.clone())?;
        Ok(d)
    }

    /// What sampling does (`keeps 25% of traces`, `keeps about 5
    /// traces/s`), or None when every trace is kept: then `initialize()`
    /// gives a TracerProvider it creates no sampler of ours.
    #[getter]
    fn sampling(&self) -> Option<String> {
        let shared = self.shared();
        let sampler = shared.telemetry.operations().sampler();
        sampler.samples().then(|| sampler.describe())
    }

    /// Decides whether the trace whose root starts now is kept: `(keep,
    /// percentage kept)`. For an OpenTelemetry sampler, once per root (a
    /// rate limit counts it); the span processor's `on_start` then takes
    /// the decision from the root's `_MS.sampleRate` attribute instead of
    /// deciding again.
    fn sample_root(&self, trace_id: &Bound<'_, PyAny>) -> PyResult<(bool, f64)> {
        let id = convert::trace_id_bytes(trace_id)?;
        let sampled = self.shared().telemetry.operations().sampler().decide(id);
        Ok((sampled.keep, sampled.percentage))
    }

    /// The signals this pipeline exports (`traces`, `metrics`, `logs`,
    /// `custom`), after the `disable_*` flags and `GENKIT_ENV`.
    #[getter]
    fn exports<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let e = self.shared().telemetry.exports();
        let d = PyDict::new(py);
        d.set_item("traces", e.traces)?;
        d.set_item("metrics", e.metrics)?;
        d.set_item("logs", e.logs)?;
        d.set_item("custom", e.custom)?;
        Ok(d)
    }

    /// The resolved `service.name`.
    #[getter]
    fn service_name(&self) -> String {
        let key = genkit_azure::opentelemetry::Key::from_static_str("service.name");
        self.shared()
            .telemetry
            .resource()
            .get(&key)
            .map(|v| v.as_str().into_owned())
            .unwrap_or_default()
    }

    /// Where envelopes are sent (scheme, host and port; never the key).
    #[getter]
    fn ingestion_endpoint(&self) -> String {
        self.shared().telemetry.ingestion_endpoint().to_string()
    }

    /// True from the moment a shutdown starts (nothing is accepted after
    /// that), while it may still be sending. Never waits.
    #[getter]
    fn is_shut_down(&self) -> bool {
        self.shared().is_shut_down()
    }

    /// Converts a finished SDK `ReadableSpan` and queues it. Returns True when
    /// it was queued, False when it was not sampled or the queue was full.
    fn push_span(&self, span: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.shared().push_span(span)
    }

    /// Queues a log record. `severity_number` follows OpenTelemetry (1-24:
    /// 5 debug, 9 info, 13 warn, 17 error, 21 fatal; anything else is a
    /// ValueError, as C refuses it); `trace_id` / `span_id` are the ints of
    /// the span the record was emitted in.
    #[pyo3(signature = (severity_number, body, attributes = None, trace_id = None, span_id = None, logger_name = None, time_ns = None))]
    #[allow(clippy::too_many_arguments)]
    fn emit_log(
        &self,
        severity_number: i64,
        body: &Bound<'_, PyAny>,
        attributes: Option<Bound<'_, PyAny>>,
        trace_id: Option<Bound<'_, PyAny>>,
        span_id: Option<Bound<'_, PyAny>>,
        logger_name: Option<String>,
        time_ns: Option<u64>,
    ) -> PyResult<bool> {
        // Refused, not clamped, as in C: a number outside 1..24 is a bug in
        // the caller, and guessing would hide it.
        let severity = face::severity(severity_number)
            .map_err(|e| PyValueError::new_err(format!("{} {}", e.field, e.reason)))?;
        let body = match body.cast::<PyString>() {
            Ok(s) => convert::py_str(s),
            Err(_) => convert::display(body),
        };
        let attributes = match attributes {
            Some(a) => convert::attributes(&a)?,
            None => Vec::<KeyValue>::new(),
        };
        let trace_context = custom::trace_context(trace_id.as_ref(), span_id.as_ref())?;
        let record = LogRecord {
            // Core takes the open span's operation name.
            operation_name: None,
            time: custom::time(time_ns),
            severity,
            body,
            attributes,
            trace_context,
            logger_name,
            // Core sets it from the trace the record is in.
            sample_rate: None,
        };
        queued(self.shared().telemetry.emit_log(record))
    }

    /// Queues a custom event (customEvents). `trace_id` / `span_id` are the
    /// ints of the span it happened in. False when the queue was full.
    #[pyo3(signature = (name, properties = None, measurements = None, *, trace_id = None, span_id = None, operation_name = None, time_ns = None))]
    #[allow(clippy::too_many_arguments)]
    fn track_event(
        &self,
        name: &Bound<'_, PyAny>,
        properties: Option<Bound<'_, PyAny>>,
        measurements: Option<Bound<'_, PyAny>>,
        trace_id: Option<Bound<'_, PyAny>>,
        span_id: Option<Bound<'_, PyAny>>,
        operation_name: Option<Bound<'_, PyAny>>,
        time_ns: Option<u64>,
    ) -> PyResult<bool> {
        let event = CustomEvent {
            time: custom::time(time_ns),
            name: custom::text(name, "name")?,
            properties: custom::properties(properties.as_ref(), "properties")?,
            measurements: custom::measurements(measurements.as_ref(), "measurements")?,
            trace_context: custom::trace_context(trace_id.as_ref(), span_id.as_ref())?,
            operation_name: custom::opt_text(operation_name.as_ref(), "operation_name")?
                .map(Arc::from),
            sample_rate: None,
        };
        queued(self.shared().telemetry.track_event(event))
    }

    /// Queues a handled exception. False when the queue was full.
    #[pyo3(signature = (type_name, message, stack = None, properties = None, *, trace_id = None, span_id = None, operation_name = None, time_ns = None))]
    #[allow(clippy::too_many_arguments)]
    fn track_exception(
        &self,
        type_name: &Bound<'_, PyAny>,
        message: &Bound<'_, PyAny>,
        stack: Option<Bound<'_, PyAny>>,
        properties: Option<Bound<'_, PyAny>>,
        trace_id: Option<Bound<'_, PyAny>>,
        span_id: Option<Bound<'_, PyAny>>,
        operation_name: Option<Bound<'_, PyAny>>,
        time_ns: Option<u64>,
    ) -> PyResult<bool> {
        let exception = TrackedException {
            time: custom::time(time_ns),
            type_name: custom::text(type_name, "type_name")?,
            message: custom::text(message, "message")?,
            stack: custom::opt_text(stack.as_ref(), "stack")?,
            properties: custom::properties(properties.as_ref(), "properties")?,
            trace_context: custom::trace_context(trace_id.as_ref(), span_id.as_ref())?,
            operation_name: custom::opt_text(operation_name.as_ref(), "operation_name")?
                .map(Arc::from),
            sample_rate: None,
        };
        queued(self.shared().telemetry.track_exception(exception))
    }

    /// Queues an availability test result. False when the queue was full.
    #[pyo3(signature = (name, success, duration_ms, run_location = None, message = None, properties = None, measurements = None, *, trace_id = None, span_id = None, operation_name = None, time_ns = None))]
    #[allow(clippy::too_many_arguments)]
    fn track_availability(
        &self,
        name: &Bound<'_, PyAny>,
        success: &Bound<'_, PyAny>,
        duration_ms: &Bound<'_, PyAny>,
        run_location: Option<Bound<'_, PyAny>>,
        message: Option<Bound<'_, PyAny>>,
        properties: Option<Bound<'_, PyAny>>,
        measurements: Option<Bound<'_, PyAny>>,
        trace_id: Option<Bound<'_, PyAny>>,
        span_id: Option<Bound<'_, PyAny>>,
        operation_name: Option<Bound<'_, PyAny>>,
        time_ns: Option<u64>,
    ) -> PyResult<bool> {
        let result = AvailabilityResult {
            time: custom::time(time_ns),
            name: custom::text(name, "name")?,
            success: custom::flag(success, "success")?,
            duration: custom::duration_ms(duration_ms, "duration_ms")?,
            run_location: custom::opt_text(run_location.as_ref(), "run_location")?,
            message: custom::opt_text(message.as_ref(), "message")?,
            properties: custom::properties(properties.as_ref(), "properties")?,
            measurements: custom::measurements(measurements.as_ref(), "measurements")?,
            trace_context: custom::trace_context(trace_id.as_ref(), span_id.as_ref())?,
            operation_name: custom::opt_text(operation_name.as_ref(), "operation_name")?
                .map(Arc::from),
            sample_rate: None,
        };
        queued(self.shared().telemetry.track_availability(result))
    }

    /// Queues one metric point: `kind` is "counter", "up_down_counter",
    /// "histogram" or "gauge". A histogram's point may summarise several
    /// measurements aggregated elsewhere (an SDK reader's delta): `value` is
    /// their sum, with `count`, `min` and `max`. False when the queue was full.
    #[pyo3(signature = (name, kind, value, attributes = None, *, count = None, min = None, max = None))]
    #[allow(clippy::too_many_arguments)]
    fn record_metric(
        &self,
        name: &Bound<'_, PyAny>,
        kind: &str,
        value: &Bound<'_, PyAny>,
        attributes: Option<Bound<'_, PyAny>>,
        count: Option<u64>,
        min: Option<f64>,
        max: Option<f64>,
    ) -> PyResult<bool> {
        let kind = match kind {
            "counter" => MetricKind::Counter,
            "up_down_counter" => MetricKind::UpDownCounter,
            "histogram" => MetricKind::Histogram,
            "gauge" => MetricKind::Gauge,
            other => {
                return Err(PyValueError::new_err(format!(
                    "kind: expected 'counter', 'up_down_counter', 'histogram' or 'gauge', got {other:?}"
                )))
            }
        };
        let value: f64 = value
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("value: expected a number, got {}", type_name(value))))?;
        let mut point = MetricPoint::new(kind, custom::text(name, "name")?, value);
        point.attributes = custom::properties(attributes.as_ref(), "attributes")?;
        point.summary = match (count, min, max) {
            (None, None, None) => None,
            (Some(count), Some(min), Some(max)) => Some(Summary { count, min, max }),
            _ => {
                return Err(PyValueError::new_err(
                    "count, min and max: give all three (a summary) or none",
                ))
            }
        };
        queued(self.shared().telemetry.record_metric(point))
    }

    /// Registers a metric producer: each collection first asks it for its
    /// points (see `MetricProducer`).
    fn metric_producer(&self) -> PyResult<MetricProducer> {
        self.shared()
            .telemetry
            .metric_producer()
            .map(MetricProducer::new)
            .map_err(to_py_err)
    }

    /// Sends everything queued so far and waits up to `timeout_s`. True when
    /// all of it was delivered. Raises TelemetryShutDownError after shutdown.
    #[pyo3(signature = (timeout_s = 10.0))]
    fn flush(&self, py: Python<'_>, timeout_s: f64) -> PyResult<bool> {
        let timeout = duration_from_secs("timeout_s", timeout_s)?;
        if self.shared().is_shut_down() {
            return Err(to_py_err(Error::ShutDown));
        }
        let shared = self.shared();
        shared.convert_held(py);
        py.detach(move || shared.telemetry.flush(timeout))
            .map_err(to_py_err)
    }

    /// Delivers what it can within `timeout_s` and stops the pipeline. True
    /// when everything accepted was delivered. Idempotent: later calls return
    /// the first call's result (a call made while another is still shutting
    /// down waits for it, at most its own `timeout_s`, then returns False).
    #[pyo3(signature = (timeout_s = 10.0))]
    fn shutdown(&self, py: Python<'_>, timeout_s: f64) -> PyResult<bool> {
        let timeout = duration_from_secs("timeout_s", timeout_s)?;
        let shared = self.shared();
        shared.stop_holding(py);
        Ok(py.detach(move || shared.shutdown(timeout)))
    }

    /// The pipeline's counters by name.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let shared = self.shared();
        shared.convert_held(py);
        let telemetry = &shared.telemetry;
        let d = PyDict::new(py);
        for (name, value) in telemetry.stats().fields() {
            d.set_item(name, value)?;
        }
        d.set_item("spans_invalid", shared.spans_invalid.load(Relaxed))?;
        // Rejections by HTTP status as flat keys, envelopes (one by one in a
        // 206) apart from whole requests: "envelopes_rejected_status_400",
        // "requests_rejected_status_400".
        for (status, count) in telemetry.envelopes_rejected_by_status() {
            d.set_item(format!("envelopes_rejected_status_{status}"), count)?;
        }
        for (status, count) in telemetry.requests_rejected_by_status() {
            d.set_item(format!("requests_rejected_status_{status}"), count)?;
        }
        Ok(d)
    }

    /// From now on span processors feeding this pipeline hold the spans that
    /// end and convert them sixteen at a time (see `held_spans`). The caller
    /// has started a thread that calls `_convert_held_spans` every half second
    /// or so, which bounds how long a span is held. A no-op once a shutdown
    /// began (every shutdown stops holding first, for good).
    fn _hold_ended_spans(&self) {
        self.shared().held.start();
    }

    /// Converts and queues the spans held so far; False once the pipeline
    /// holds none any more (it is shut down), when the calling thread stops.
    fn _convert_held_spans(&self, py: Python<'_>) -> bool {
        let shared = self.shared();
        shared.convert_held(py);
        shared.held.is_holding()
    }

    /// In a child process forked after this pipeline was built: puts
    /// `replacement`'s pipeline in its place, for this object and every span
    /// processor made from it; with None, marks this one shut down instead
    /// (a child that could not build a new one then drops what it is given
    /// rather than queueing it for threads that do not exist).
    ///
    /// The old pipeline is leaked on purpose: its runtime's threads did not
    /// survive the fork, so flushing it, shutting it down or even dropping it
    /// (which stops the runtime) could wait forever on them or on a lock one
    /// of them held. Its memory and its inherited file descriptors stay until
    /// the child exits. Call it from the child only, with no other thread of
    /// the child using this object yet (an `os.register_at_fork` hook).
    #[pyo3(signature = (replacement))]
    fn _adopt_after_fork(&self, replacement: Option<&Bound<'_, Telemetry>>) {
        let mut slot = self.shared.write().unwrap_or_else(|p| p.into_inner());
        let old = match replacement {
            Some(r) => std::mem::replace(&mut *slot, r.get().shared()),
            None => {
                // The parent's spans held at the fork are the parent's to send.
                drop(slot.held.stop());
                slot.shutting_down.store(true, SeqCst);
                if let Ok(mut result) = slot.shutdown_result.try_lock() {
                    *result = Some(false);
                }
                Arc::clone(&slot)
            }
        };
        std::mem::forget(old);
    }

    fn __repr__(&self) -> String {
        format!(
            "Telemetry(service_name={:?}, ingestion_endpoint={:?}, shut_down={})",
            self.service_name(),
            self.ingestion_endpoint(),
            if self.is_shut_down() { "True" } else { "False" }
        )
    }
}

/// An OpenTelemetry SDK span processor that hands finished spans to a
/// `Telemetry` pipeline. Duck-types `opentelemetry.sdk.trace.SpanProcessor`
/// (`on_start`, `_on_ending`, `on_end`, `shutdown`, `force_flush`); the Python
/// package subclasses it together with the SDK's class.
#[pyclass(
    subclass,
    frozen,
    module = "genkit_azure_rs._native",
    name = "SpanProcessor"
)]
struct SpanProcessor {
    shared: Arc<Slot>,
    shutdown_timeout: Duration,
}

impl SpanProcessor {
    fn shared(&self) -> Arc<Shared> {
        current(&self.shared)
    }
}

#[pymethods]
impl SpanProcessor {
    #[new]
    #[pyo3(signature = (telemetry, *, shutdown_timeout_s = 10.0))]
    fn new(telemetry: &Bound<'_, Telemetry>, shutdown_timeout_s: f64) -> PyResult<Self> {
        Ok(Self {
            shared: Arc::clone(&telemetry.get().shared),
            shutdown_timeout: duration_from_secs("shutdown_timeout_s", shutdown_timeout_s)?,
        })
    }

    /// Registers the span's operation name (its root's), so that the span,
    /// its logs and its children's envelopes all carry it although the
    /// root ends last. Never raises: an unreadable span keeps no name.
    #[pyo3(signature = (span, parent_context = None))]
    fn on_start(&self, span: &Bound<'_, PyAny>, parent_context: Option<&Bound<'_, PyAny>>) {
        let _ = convert::span_start(span, parent_context, self.shared().telemetry.operations());
    }

    fn _on_ending(&self, span: &Bound<'_, PyAny>) {
        let _ = span;
    }

    /// Converts and queues the span, or holds it to convert with the next
    /// ones (see `Telemetry._hold_ended_spans`). Never raises: a span that
    /// cannot be read is counted in `spans_invalid`, a full queue in
    /// `dropped_queue_full`, and after shutdown there is nobody to tell.
    fn on_end(&self, span: &Bound<'_, PyAny>) {
        self.shared().end_span(span);
    }

    /// Stops the pipeline (called by `TracerProvider.shutdown()`); a no-op
    /// when it is already shut down.
    fn shutdown(&self, py: Python<'_>) {
        let shared = self.shared();
        shared.stop_holding(py);
        let timeout = self.shutdown_timeout;
        py.detach(move || shared.shutdown(timeout));
    }

    /// Flushes the Rust pipeline (called by `TracerProvider.force_flush()`).
    /// False when something was not delivered in time or after shutdown.
    #[pyo3(signature = (timeout_millis = 30000))]
    fn force_flush(&self, py: Python<'_>, timeout_millis: u64) -> bool {
        if self.shared().is_shut_down() {
            return false;
        }
        let shared = self.shared();
        shared.convert_held(py);
        py.detach(move || {
            shared
                .telemetry
                .flush(Duration::from_millis(timeout_millis))
                .unwrap_or(false)
        })
    }

    /// The pipeline this processor feeds.
    #[getter]
    fn telemetry(&self) -> Telemetry {
        Telemetry {
            shared: Arc::clone(&self.shared),
        }
    }

    fn __repr__(&self) -> String {
        "genkit_azure_rs.SpanProcessor()".to_string()
    }
}

#[pymodule(name = "_native")]
fn genkit_azure_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Telemetry>()?;
    m.add_class::<SpanProcessor>()?;
    m.add_class::<MetricProducer>()?;
    m.add_function(wrap_pyfunction!(_settings, m)?)?;
    m.add_function(wrap_pyfunction!(_authentication_string, m)?)?;
    m.add_function(wrap_pyfunction!(diagnostics::_install_diagnostic_sink, m)?)?;
    diagnostics::install();
    m.add(
        "TelemetryShutDownError",
        m.py().get_type::<TelemetryShutDownError>(),
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("CORE_VERSION", genkit_azure::VERSION)?;
    Ok(())
}
