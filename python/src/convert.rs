//! Python objects -> OpenTelemetry Rust types.
//!
//! Span conversion reads the SDK's `ReadableSpan` through its private fields
//! (`_context`, `_attributes._dict`, `_events._dq`, ...) when they are there,
//! falling back to the public properties: the properties copy (a
//! `MappingProxyType`, a `tuple(events)`) and each is a Python-level call.

use genkit_azure::opentelemetry::trace::{Event, SpanKind, Status};
use genkit_azure::opentelemetry::{Array, InstrumentationScope, Key, KeyValue, StringValue, Value};
use genkit_azure::{time_from_unix_nanos, RawSpan};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use std::borrow::Cow;

/// `obj.<private>` when present and not None, else `obj.<public>`.
fn field<'py>(
    obj: &Bound<'py, PyAny>,
    private: &Bound<'py, PyString>,
    public: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyAny>> {
    match obj.getattr_opt(private)? {
        Some(v) => Ok(v),
        None => obj.getattr(public),
    }
}

/// `str(obj)`, never failing: falls back to `repr` and then a placeholder.
pub fn display(obj: &Bound<'_, PyAny>) -> String {
    if let Ok(s) = obj.str() {
        return py_str(&s);
    }
    if let Ok(s) = obj.repr() {
        return py_str(&s);
    }
    "<unprintable>".to_string()
}

/// A Python `str` as UTF-8; lone surrogates become U+FFFD instead of failing.
pub fn py_str(s: &Bound<'_, PyString>) -> String {
    match s.to_str() {
        Ok(v) => v.to_owned(),
        Err(_) => s.to_string_lossy().into_owned(),
    }
}

/// One attribute value: str, bool, int (within i64), float and homogeneous
/// sequences of them map to OTel values; anything else becomes `str(value)`.
pub fn value(v: &Bound<'_, PyAny>) -> Value {
    if let Ok(s) = v.cast::<PyString>() {
        return Value::String(py_str(s).into());
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Value::Bool(b.is_true());
    }
    if v.cast::<PyInt>().is_ok() {
        return match v.extract::<i64>() {
            Ok(i) => Value::I64(i),
            Err(_) => Value::String(display(v).into()),
        };
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Value::F64(f.value());
    }
    if let Ok(t) = v.cast::<PyTuple>() {
        if let Some(a) = array(t.iter()) {
            return Value::Array(a);
        }
    } else if let Ok(l) = v.cast::<PyList>() {
        if let Some(a) = array(l.iter()) {
            return Value::Array(a);
        }
    }
    Value::String(display(v).into())
}

/// A homogeneous sequence as an OTel array; `None` when the items are mixed
/// or of an unsupported type.
fn array<'py>(items: impl Iterator<Item = Bound<'py, PyAny>>) -> Option<Array> {
    let mut out: Option<Array> = None;
    for item in items {
        match value(&item) {
            Value::Bool(b) => match out.get_or_insert_with(|| Array::Bool(Vec::new())) {
                Array::Bool(v) => v.push(b),
                _ => return None,
            },
            // Only a real int: `value` turns out-of-range ints into strings.
            Value::I64(i) => match out.get_or_insert_with(|| Array::I64(Vec::new())) {
                Array::I64(v) => v.push(i),
                _ => return None,
            },
            Value::F64(f) => match out.get_or_insert_with(|| Array::F64(Vec::new())) {
                Array::F64(v) => v.push(f),
                _ => return None,
            },
            Value::String(s) if item.cast::<PyString>().is_ok() => {
                match out.get_or_insert_with(|| Array::String(Vec::new())) {
                    Array::String(v) => v.push(s),
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
    Some(out.unwrap_or(Array::String(Vec::new())))
}

/// Keys repeat on every span: intern them (one shared copy, no allocation).
fn key(k: &Bound<'_, PyAny>) -> Key {
    match k.cast::<PyString>() {
        Ok(s) => match s.to_str() {
            Ok(text) => genkit_azure::intern::key(text),
            Err(_) => Key::from(py_str(s)),
        },
        Err(_) => Key::from(display(k)),
    }
}

/// Key/value pairs of a mapping (a `dict` is iterated directly; anything else
/// through `.items()`). `None` gives no attributes.
pub fn attributes(obj: &Bound<'_, PyAny>) -> PyResult<Vec<KeyValue>> {
    if obj.is_none() {
        return Ok(Vec::new());
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return Ok(dict_attributes(d));
    }
    // The SDK's BoundedAttributes keeps a plain dict in `_dict`.
    if let Some(inner) = obj.getattr_opt(intern!(obj.py(), "_dict"))? {
        if let Ok(d) = inner.cast::<PyDict>() {
            return Ok(dict_attributes(d));
        }
    }
    let mut out = Vec::new();
    for item in obj.call_method0(intern!(obj.py(), "items"))?.try_iter()? {
        let item = item?;
        let pair = item.cast::<PyTuple>()?;
        out.push(KeyValue::new(
            key(&pair.get_item(0)?),
            value(&pair.get_item(1)?),
        ));
    }
    Ok(out)
}

fn dict_attributes(d: &Bound<'_, PyDict>) -> Vec<KeyValue> {
    let mut out = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        out.push(KeyValue::new(key(&k), value(&v)));
    }
    out
}

/// A Python int trace id (128 bits) as bytes.
pub fn trace_id_bytes(v: &Bound<'_, PyAny>) -> PyResult<[u8; 16]> {
    Ok(v.extract::<u128>()?.to_be_bytes())
}

/// A Python int span id (64 bits) as bytes.
pub fn span_id_bytes(v: &Bound<'_, PyAny>) -> PyResult<[u8; 8]> {
    Ok(v.extract::<u64>()?.to_be_bytes())
}

/// The int behind an `enum.Enum` member (`SpanKind`, `StatusCode`) or a plain int.
fn enum_value(obj: &Bound<'_, PyAny>) -> PyResult<i64> {
    if obj.cast::<PyInt>().is_ok() {
        return obj.extract(); // IntEnum or a plain int
    }
    // `_value_` is a plain instance attribute; `.value` is a Python-level property call.
    match obj.getattr_opt(intern!(obj.py(), "_value_"))? {
        Some(v) => v.extract(),
        None => obj.getattr(intern!(obj.py(), "value"))?.extract(),
    }
}

fn opt_string(obj: &Bound<'_, PyAny>) -> Option<String> {
    if obj.is_none() {
        None
    } else {
        Some(match obj.cast::<PyString>() {
            Ok(s) => py_str(s),
            Err(_) => display(obj),
        })
    }
}

/// Converts a finished SDK span. `Ok(None)` when the span is not sampled
/// (the SDK also ends spans that are recorded but not sampled).
pub fn span(span: &Bound<'_, PyAny>) -> PyResult<Option<RawSpan>> {
    let py = span.py();
    let ctx = field(span, intern!(py, "_context"), intern!(py, "context"))?;
    // SpanContext is a tuple: (trace_id, span_id, is_remote, trace_flags, trace_state, is_valid).
    let ctx = ctx.cast::<PyTuple>()?;
    let flags: u8 = ctx.get_item(3)?.extract::<u8>().unwrap_or(0);
    if flags & 0x01 == 0 {
        return Ok(None);
    }
    let trace_id = trace_id_bytes(&ctx.get_item(0)?)?;
    let span_id = span_id_bytes(&ctx.get_item(1)?)?;

    let parent = field(span, intern!(py, "_parent"), intern!(py, "parent"))?;
    let (parent_span_id, parent_is_remote) = if parent.is_none() {
        (None, false)
    } else {
        let p = parent.cast::<PyTuple>()?;
        (
            Some(span_id_bytes(&p.get_item(1)?)?),
            p.get_item(2)?.is_truthy()?,
        )
    };

    let name =
        opt_string(&field(span, intern!(py, "_name"), intern!(py, "name"))?).unwrap_or_default();
    let kind = match enum_value(&field(span, intern!(py, "_kind"), intern!(py, "kind"))?)? {
        1 => SpanKind::Server,
        2 => SpanKind::Client,
        3 => SpanKind::Producer,
        4 => SpanKind::Consumer,
        _ => SpanKind::Internal,
    };
    let start: u64 = field(span, intern!(py, "_start_time"), intern!(py, "start_time"))?
        .extract::<Option<u64>>()?
        .unwrap_or(0);
    let end: u64 = field(span, intern!(py, "_end_time"), intern!(py, "end_time"))?
        .extract::<Option<u64>>()?
        .unwrap_or(start);

    let status_obj = field(span, intern!(py, "_status"), intern!(py, "status"))?;
    let status = if status_obj.is_none() {
        Status::Unset
    } else {
        let code = field(
            &status_obj,
            intern!(py, "_status_code"),
            intern!(py, "status_code"),
        )?;
        match enum_value(&code)? {
            1 => Status::Ok,
            2 => {
                let d = field(
                    &status_obj,
                    intern!(py, "_description"),
                    intern!(py, "description"),
                )?;
                Status::Error {
                    description: Cow::Owned(opt_string(&d).unwrap_or_default()),
                }
            }
            _ => Status::Unset,
        }
    };

    let attrs = attributes(&field(
        span,
        intern!(py, "_attributes"),
        intern!(py, "attributes"),
    )?)?;

    let events_obj = field(span, intern!(py, "_events"), intern!(py, "events"))?;
    let events_iter = match events_obj.getattr_opt(intern!(py, "_dq"))? {
        Some(dq) => dq.try_iter()?,
        None => events_obj.try_iter()?,
    };
    let mut events = Vec::new();
    for ev in events_iter {
        let ev = ev?;
        let ev_name =
            opt_string(&field(&ev, intern!(py, "_name"), intern!(py, "name"))?).unwrap_or_default();
        let ts: u64 = field(&ev, intern!(py, "_timestamp"), intern!(py, "timestamp"))?
            .extract::<Option<u64>>()?
            .unwrap_or(end);
        let ev_attrs = attributes(&field(
            &ev,
            intern!(py, "_attributes"),
            intern!(py, "attributes"),
        )?)?;
        events.push(Event::new(ev_name, time_from_unix_nanos(ts), ev_attrs, 0));
    }

    let scope_obj = field(
        span,
        intern!(py, "_instrumentation_scope"),
        intern!(py, "instrumentation_scope"),
    )?;
    let scope = if scope_obj.is_none() {
        None
    } else {
        let name_obj = field(&scope_obj, intern!(py, "_name"), intern!(py, "name"))?;
        let version_obj = field(&scope_obj, intern!(py, "_version"), intern!(py, "version"))?;
        let schema = opt_string(&field(
            &scope_obj,
            intern!(py, "_schema_url"),
            intern!(py, "schema_url"),
        )?)
        .filter(|u| !u.is_empty());
        // The usual case (str name and version, no schema URL): look the shared
        // scope up from borrowed text, so a span costs no copy of it.
        let name_ref = name_obj
            .cast::<PyString>()
            .ok()
            .and_then(|s| s.to_str().ok());
        let version_ref = version_obj
            .cast::<PyString>()
            .ok()
            .and_then(|s| s.to_str().ok());
        let version_plain = version_obj.is_none() || version_ref.is_some();
        Some(match (schema, name_ref) {
            (None, Some(name)) if version_plain => {
                genkit_azure::intern::scope(name, version_ref.filter(|v| !v.is_empty()))
            }
            (schema, _) => {
                let mut b =
                    InstrumentationScope::builder(opt_string(&name_obj).unwrap_or_default());
                if let Some(v) = opt_string(&version_obj).filter(|v| !v.is_empty()) {
                    b = b.with_version(v);
                }
                if let Some(u) = schema {
                    b = b.with_schema_url(u);
                }
                b.build()
            }
        })
    };

    Ok(Some(RawSpan {
        trace_id,
        span_id,
        parent_span_id,
        parent_is_remote,
        name,
        kind,
        start_unix_nanos: start,
        end_unix_nanos: end,
        status,
        attributes: attrs,
        events,
        scope,
    }))
}

/// An OTel value back to Python (for the resource attributes).
pub fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::I64(i) => i.into_pyobject(py)?.into_any(),
        Value::F64(f) => f.into_pyobject(py)?.into_any(),
        Value::String(s) => PyString::new(py, s.as_str()).into_any(),
        Value::Array(Array::Bool(a)) => PyTuple::new(py, a)?.into_any(),
        Value::Array(Array::I64(a)) => PyTuple::new(py, a)?.into_any(),
        Value::Array(Array::F64(a)) => PyTuple::new(py, a)?.into_any(),
        Value::Array(Array::String(a)) => {
            PyTuple::new(py, a.iter().map(StringValue::as_str))?.into_any()
        }
        other => PyString::new(py, &other.as_str()).into_any(),
    })
}
