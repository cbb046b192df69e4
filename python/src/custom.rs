//! Custom telemetry's arguments from Python (events, exceptions,
//! availability results): each is checked here, so a wrong one raises a
//! TypeError or ValueError naming it (`name: expected a str, got int`)
//! rather than PyO3's generic conversion error; what every face refuses
//! (an empty name, a non-finite measurement) core checks once.

use crate::convert;
use genkit_azure::opentelemetry::trace::{SpanId, TraceId};
use genkit_azure::opentelemetry::KeyValue;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString};
use std::time::{Duration, SystemTime};

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

fn wrong_type(arg: &str, wanted: &str, got: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("{arg}: expected {wanted}, got {}", type_name(got)))
}

/// A required `str`.
pub fn text(value: &Bound<'_, PyAny>, arg: &str) -> PyResult<String> {
    value
        .cast::<PyString>()
        .map(convert::py_str)
        .map_err(|_| wrong_type(arg, "a str", value))
}

/// A `str` or None.
pub fn opt_text(value: Option<&Bound<'_, PyAny>>, arg: &str) -> PyResult<Option<String>> {
    match value {
        Some(v) if !v.is_none() => text(v, arg).map(Some),
        _ => Ok(None),
    }
}

/// A mapping's pairs as properties; None gives none. Values are exported
/// as text, whatever their type.
pub fn properties(value: Option<&Bound<'_, PyAny>>, arg: &str) -> PyResult<Vec<KeyValue>> {
    match value {
        Some(v) if !v.is_none() => {
            if !v.hasattr(intern!(v.py(), "items"))? {
                return Err(wrong_type(arg, "a mapping (dict) or None", v));
            }
            convert::attributes(v)
        }
        _ => Ok(Vec::new()),
    }
}

/// A real number (not a bool, which is an int in Python but never meant one).
fn number(value: &Bound<'_, PyAny>, arg: &str) -> PyResult<f64> {
    if value.is_instance_of::<PyBool>()
        || !(value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>())
    {
        return Err(wrong_type(arg, "an int or a float", value));
    }
    value.extract::<f64>()
}

/// A mapping of `str` to numbers; None gives none. Non-finite values are
/// refused by core, naming the measurement.
pub fn measurements(
    value: Option<&Bound<'_, PyAny>>,
    arg: &str,
) -> PyResult<Vec<(String, f64)>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(Vec::new());
    };
    if !value.hasattr(intern!(value.py(), "items"))? {
        return Err(wrong_type(arg, "a mapping of str to numbers or None", value));
    }
    let mut out = Vec::new();
    for pair in value.call_method0(intern!(value.py(), "items"))?.try_iter()? {
        let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair?.extract()?;
        let name = text(&k, &format!("{arg} key"))?;
        let number = number(&v, &format!("{arg}['{name}']"))?;
        out.push((name, number));
    }
    Ok(out)
}

/// A `bool`, strictly: `success=1` is more likely a mistake than a yes.
pub fn flag(value: &Bound<'_, PyAny>, arg: &str) -> PyResult<bool> {
    value
        .cast::<PyBool>()
        .map(|b| b.is_true())
        .map_err(|_| wrong_type(arg, "a bool", value))
}

/// A duration in milliseconds: finite and not negative.
pub fn duration_ms(value: &Bound<'_, PyAny>, arg: &str) -> PyResult<Duration> {
    let ms = number(value, arg)?;
    Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| {
        PyValueError::new_err(format!(
            "{arg}: must be a finite, non-negative number of milliseconds, got {ms}"
        ))
    })
}

/// The span an item happened in, from the ints of an OpenTelemetry span
/// context; None (or an invalid, all-zero id) is no span.
pub fn trace_context(
    trace_id: Option<&Bound<'_, PyAny>>,
    span_id: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<(TraceId, SpanId)>> {
    match (trace_id, span_id) {
        (Some(t), Some(s)) if !t.is_none() && !s.is_none() => {
            let t = TraceId::from_bytes(convert::trace_id_bytes(t)?);
            let s = SpanId::from_bytes(convert::span_id_bytes(s)?);
            Ok((t != TraceId::INVALID && s != SpanId::INVALID).then_some((t, s)))
        }
        _ => Ok(None),
    }
}

/// `time_ns` (nanoseconds since the Unix epoch), or now.
pub fn time(time_ns: Option<u64>) -> SystemTime {
    time_ns.map_or_else(SystemTime::now, genkit_azure::time_from_unix_nanos)
}
