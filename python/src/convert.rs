//! Python objects -> OpenTelemetry Rust types.
//!
//! Span conversion reads the SDK's `ReadableSpan` through its private fields
//! (`_context`, `_attributes._dict`, `_events._dq`, ...) when they are there,
//! falling back to the public properties: the properties copy (a
//! `MappingProxyType`, a `tuple(events)`) and each is a Python-level call.

use genkit_azure::face::{interned_key_id, interned_scope_id, KeyId, ScopeId};
use genkit_azure::opentelemetry::trace::{SpanKind, Status};
use genkit_azure::opentelemetry::{Array, InstrumentationScope, Key, KeyValue, StringValue, Value};
use genkit_azure::{Operations, PackedSpan, Sampled, SpanPacker};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::{ffi, intern, Borrowed};
use std::borrow::Cow;
use std::cell::RefCell;

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

/// The UTF-8 text of an exact `str`, borrowed from the object (CPython keeps
/// its UTF-8 form with the string): no copy, no temporary object. `None` for
/// anything else and for a str with a lone surrogate, which the general path
/// reads (with its replacement characters).
///
/// # Safety
/// `obj` is a live object that outlives `'a`, and the GIL is held.
unsafe fn exact_str<'a>(obj: *mut ffi::PyObject) -> Option<&'a str> {
    if ffi::Py_TYPE(obj) != &raw mut ffi::PyUnicode_Type {
        return None;
    }
    let mut len: ffi::Py_ssize_t = 0;
    let data = ffi::PyUnicode_AsUTF8AndSize(obj, &mut len);
    if data.is_null() {
        ffi::PyErr_Clear();
        return None;
    }
    // CPython's UTF-8 form of a str is valid UTF-8.
    Some(std::str::from_utf8_unchecked(std::slice::from_raw_parts(
        data.cast::<u8>(),
        len as usize,
    )))
}

/// An exact int in `0..2^64`, read without pyo3's `__index__` call and
/// without CPython's byte-array conversion; `None` for anything else (the
/// caller then takes pyo3's conversion, with its error).
fn exact_u64(obj: &Bound<'_, PyAny>) -> Option<u64> {
    // `unsigned long` is 64 bits on 64-bit Unix, not on Windows.
    #[cfg(all(target_pointer_width = "64", not(windows)))]
    unsafe {
        if ffi::Py_TYPE(obj.as_ptr()) != &raw mut ffi::PyLong_Type {
            return None;
        }
        let v = ffi::PyLong_AsUnsignedLong(obj.as_ptr());
        if v == std::os::raw::c_ulong::MAX && !ffi::PyErr_Occurred().is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        Some(v as u64)
    }
    #[cfg(not(all(target_pointer_width = "64", not(windows))))]
    {
        let _ = obj;
        None
    }
}

/// A 64-bit id or time: [`exact_u64`], else pyo3's conversion.
fn to_u64(obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    match exact_u64(obj) {
        Some(v) => Ok(v),
        None => obj.extract(),
    }
}

/// An optional time: None, else [`to_u64`].
fn opt_u64(obj: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
    if obj.is_none() {
        Ok(None)
    } else {
        to_u64(obj).map(Some)
    }
}

/// `bool(obj)`, by identity for `True` and `False`.
fn is_true(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    // SAFETY: comparing addresses only.
    unsafe {
        if obj.as_ptr() == ffi::Py_True() {
            return Ok(true);
        }
        if obj.as_ptr() == ffi::Py_False() {
            return Ok(false);
        }
    }
    obj.is_truthy()
}

thread_local! {
    /// The last trace id read on this thread, by identity. Every span of a
    /// trace holds its root's trace-id int (the SDK copies the parent's), so
    /// all but the first read of a trace skip the 128-bit conversion, which
    /// under the stable ABI shifts the int into a temporary one. Only an
    /// exact int is kept (immutable); holding it keeps its address unique.
    static LAST_TRACE_ID: RefCell<Option<(Py<PyAny>, u128)>> = const { RefCell::new(None) };
}

/// A trace id as a u128 (see [`LAST_TRACE_ID`]).
fn trace_id_u128(obj: &Bound<'_, PyAny>) -> PyResult<u128> {
    // `try_with`: a thread tearing down its locals simply misses.
    let hit = LAST_TRACE_ID
        .try_with(|c| match &*c.borrow() {
            Some((o, v)) if o.as_ptr() == obj.as_ptr() => Some(*v),
            _ => None,
        })
        .ok()
        .flatten();
    if let Some(v) = hit {
        return Ok(v);
    }
    let v = obj.extract::<u128>()?;
    if obj.is_exact_instance_of::<PyInt>() {
        // The previous one is dropped outside the borrow.
        let previous = LAST_TRACE_ID
            .try_with(|c| c.replace(Some((obj.clone().unbind(), v))))
            .ok()
            .flatten();
        drop(previous);
    }
    Ok(v)
}

/// The members of the API's `SpanKind` and `StatusCode` with their values,
/// so that a span's kind and status code are found by identity instead of
/// reading `_value_` from the member each time; and the types whose
/// objects are read faster.
struct Members {
    kinds: Vec<(Py<PyAny>, i64)>,
    codes: Vec<(Py<PyAny>, i64)>,
    /// `collections.deque`, which holds the SDK's events.
    deque: Option<Py<PyAny>>,
    /// The SDK's `InstrumentationScope`.
    scope_type: Option<Py<PyAny>>,
    /// The API's `Status`.
    status_type: Option<Py<PyAny>>,
}

static MEMBERS: PyOnceLock<Members> = PyOnceLock::new();

fn members(py: Python<'_>) -> &Members {
    MEMBERS.get_or_init(py, || {
        let load = |name: &str| -> PyResult<Vec<(Py<PyAny>, i64)>> {
            let class = py.import("opentelemetry.trace")?.getattr(name)?;
            let mut out = Vec::new();
            for member in class.try_iter()? {
                let member = member?;
                let v = enum_value(&member)?;
                out.push((member.unbind(), v));
            }
            Ok(out)
        };
        Members {
            kinds: load("SpanKind").unwrap_or_default(),
            codes: load("StatusCode").unwrap_or_default(),
            deque: py
                .import("collections")
                .and_then(|m| m.getattr("deque"))
                .map(Bound::unbind)
                .ok(),
            scope_type: py
                .import("opentelemetry.sdk.util.instrumentation")
                .and_then(|m| m.getattr("InstrumentationScope"))
                .map(Bound::unbind)
                .ok(),
            status_type: py
                .import("opentelemetry.trace.status")
                .and_then(|m| m.getattr("Status"))
                .map(Bound::unbind)
                .ok(),
        }
    })
}

/// [`enum_value`], by identity for a known member.
fn member_value(obj: &Bound<'_, PyAny>, known: &[(Py<PyAny>, i64)]) -> PyResult<i64> {
    match known.iter().find(|(m, _)| m.as_ptr() == obj.as_ptr()) {
        Some((_, v)) => Ok(*v),
        None => enum_value(obj),
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
    if let Some(s) = scalar(v) {
        return s;
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

/// A str, bool, int (out of i64's range: its text) or float; `None` for
/// anything else. Never recurses, so a sequence nested 100,000 deep (from a
/// misbehaving instrumentation) costs one level, not the thread's stack.
fn scalar(v: &Bound<'_, PyAny>) -> Option<Value> {
    if let Ok(s) = v.cast::<PyString>() {
        return Some(Value::String(py_str(s).into()));
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Some(Value::Bool(b.is_true()));
    }
    if v.cast::<PyInt>().is_ok() {
        return Some(match v.extract::<i64>() {
            Ok(i) => Value::I64(i),
            Err(_) => Value::String(display(v).into()),
        });
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Some(Value::F64(f.value()));
    }
    None
}

/// A homogeneous sequence as an OTel array; `None` when the items are mixed
/// or of an unsupported type.
fn array<'py>(items: impl Iterator<Item = Bound<'py, PyAny>>) -> Option<Array> {
    let mut out: Option<Array> = None;
    for item in items {
        // A nested sequence is not an OTel array item: the whole is its text.
        match scalar(&item)? {
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
            Ok(text) => genkit_azure::face::intern_key(text),
            Err(_) => Key::from(py_str(s)),
        },
        Err(_) => Key::from(display(k)),
    }
}

/// The plain dict behind a mapping: the mapping itself when it is a `dict`,
/// or the SDK's `BoundedAttributes`, which keeps one in `_dict`.
fn plain_dict<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyDict>>> {
    if let Ok(d) = obj.cast::<PyDict>() {
        return Ok(Some(d.clone()));
    }
    Ok(obj
        .getattr_opt(intern!(obj.py(), "_dict"))?
        .and_then(|inner| inner.cast_into::<PyDict>().ok()))
}

/// The pairs of a mapping that is not a plain dict, through `.items()`.
fn items<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
    let mut out = Vec::new();
    for item in obj.call_method0(intern!(obj.py(), "items"))?.try_iter()? {
        let item = item?;
        let pair = item.cast::<PyTuple>()?;
        out.push((pair.get_item(0)?, pair.get_item(1)?));
    }
    Ok(out)
}

/// The key/value pairs of a mapping, collected (an event needs their count
/// first). `None` gives no pairs.
fn attribute_items<'py>(
    obj: &Bound<'py, PyAny>,
) -> PyResult<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
    if obj.is_none() {
        return Ok(Vec::new());
    }
    match plain_dict(obj)? {
        Some(d) => Ok(d.iter().collect()),
        None => items(obj),
    }
}

/// A mapping's pairs as OpenTelemetry attributes (logs, resource attributes).
/// `None` gives no attributes.
pub fn attributes(obj: &Bound<'_, PyAny>) -> PyResult<Vec<KeyValue>> {
    let attribute =
        |(k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>)| KeyValue::new(key(&k), value(&v));
    if obj.is_none() {
        return Ok(Vec::new());
    }
    Ok(match plain_dict(obj)? {
        Some(d) => d.iter().map(attribute).collect(),
        None => items(obj)?.into_iter().map(attribute).collect(),
    })
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

/// The text of a Python `str` (borrowed when it is valid UTF-8), or `display` for anything else.
fn text<'a>(obj: &'a Bound<'_, PyAny>, owned: &'a mut String) -> &'a str {
    if let Ok(s) = obj.cast::<PyString>() {
        if let Ok(t) = s.to_str() {
            return t;
        }
        *owned = py_str(s);
    } else {
        *owned = display(obj);
    }
    owned.as_str()
}

/// Writes one attribute, reading the value's text in place: no copy but the
/// one into the packed span.
fn pack_attribute(p: &mut SpanPacker, k: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>) {
    let mut key_owned = String::new();
    let key = text(k, &mut key_owned);
    if let Ok(s) = v.cast::<PyString>() {
        match s.to_str() {
            Ok(t) => p.attribute_str(key, t),
            Err(_) => p.attribute_str(key, &s.to_string_lossy()),
        }
    } else if let Ok(b) = v.cast::<PyBool>() {
        p.attribute_bool(key, b.is_true());
    } else if let Ok(f) = v.cast::<PyFloat>() {
        p.attribute_f64(key, f.value());
    } else {
        // ints (and their out-of-range text), sequences, anything else.
        p.attribute(key, &value(v));
    }
}

/// [`pack_attribute`] for the usual pair, an exact `str` key with an exact
/// `str`, `bool`, `int` (within i64) or `float` value, read in place with no
/// temporary object, the key by its interned id (see [`KEY_IDS`]); false
/// (nothing written) for any other pair. Calls no Python code.
///
/// # Safety
/// `k` and `v` are live for the call and the GIL is held.
unsafe fn pack_attribute_exact(
    py: Python<'_>,
    p: &mut SpanPacker,
    k: *mut ffi::PyObject,
    v: *mut ffi::PyObject,
) -> bool {
    let key = match key_id_of(py, k) {
        Some(id) => PackKey::Id(id),
        None => match exact_str(k) {
            Some(text) => PackKey::Text(text),
            None => return false,
        },
    };
    let t = ffi::Py_TYPE(v);
    if t == &raw mut ffi::PyUnicode_Type {
        let Some(text) = exact_str(v) else {
            return false;
        };
        match key {
            PackKey::Id(id) => p.attribute_str_at(id, text),
            PackKey::Text(key) => p.attribute_str(key, text),
        }
    } else if v == ffi::Py_True() || v == ffi::Py_False() {
        let b = v == ffi::Py_True();
        match key {
            PackKey::Id(id) => p.attribute_bool_at(id, b),
            PackKey::Text(key) => p.attribute_bool(key, b),
        }
    } else if t == &raw mut ffi::PyLong_Type {
        let mut overflow = 0;
        let i = ffi::PyLong_AsLongLongAndOverflow(v, &mut overflow);
        if overflow != 0 {
            return false;
        }
        if i == -1 && !ffi::PyErr_Occurred().is_null() {
            ffi::PyErr_Clear();
            return false;
        }
        match key {
            PackKey::Id(id) => p.attribute_i64_at(id, i),
            PackKey::Text(key) => p.attribute_i64(key, i),
        }
    } else if t == &raw mut ffi::PyFloat_Type {
        let f = ffi::PyFloat_AsDouble(v);
        match key {
            PackKey::Id(id) => p.attribute_f64_at(id, f),
            PackKey::Text(key) => p.attribute_f64(key, f),
        }
    } else {
        return false;
    }
    true
}

/// An attribute key as [`pack_attribute_exact`] writes it.
enum PackKey<'a> {
    Id(KeyId),
    Text(&'a str),
}

/// One slot of [`KEY_IDS`]: a key object and its interned id.
type KeySlot = Option<(Py<PyAny>, KeyId)>;

/// How many slots [`KEY_IDS`] has: a power of two, well above the keys a
/// service uses.
const KEY_WAYS: usize = 256;

thread_local! {
    /// Interned key ids by the key's `str` object, per thread, direct-mapped
    /// by address: instrumentation passes the same key objects (string
    /// literals) on every span, so a key costs a pointer comparison instead
    /// of reading its text and looking that up. Holding the object keeps its
    /// address unique; an exact `str` never changes.
    static KEY_IDS: RefCell<[KeySlot; KEY_WAYS]> =
        const { RefCell::new([const { None }; KEY_WAYS]) };
}

/// The interned id of an exact `str` key (see [`KEY_IDS`]); `None` for
/// anything else, or a key that cannot be interned.
///
/// # Safety
/// `k` is live and the GIL is held.
unsafe fn key_id_of(py: Python<'_>, k: *mut ffi::PyObject) -> Option<KeyId> {
    let addr = k as usize;
    let slot = (addr >> 4 ^ addr >> 12) % KEY_WAYS;
    let hit = KEY_IDS
        .try_with(|c| match &c.borrow()[slot] {
            Some((o, id)) if o.as_ptr() == k => Some(*id),
            _ => None,
        })
        .ok()
        .flatten();
    if hit.is_some() {
        return hit;
    }
    let id = interned_key_id(exact_str(k)?)?;
    let held = Bound::from_borrowed_ptr(py, k).unbind();
    // The previous key is dropped outside the borrow.
    let previous = KEY_IDS
        .try_with(|c| c.borrow_mut()[slot].replace((held, id)))
        .ok()
        .flatten();
    drop(previous);
    Some(id)
}

/// Writes a plain dict's pairs in place: `PyDict_Next` with borrowed
/// references, the usual pair through [`pack_attribute_exact`]; any other
/// pair is first held (its `str()` may run Python code that changes the
/// dict) and written by [`pack_attribute`].
fn pack_dict_attributes(p: &mut SpanPacker, d: &Bound<'_, PyDict>) {
    let py = d.py();
    let mut pos: ffi::Py_ssize_t = 0;
    let mut k: *mut ffi::PyObject = std::ptr::null_mut();
    let mut v: *mut ffi::PyObject = std::ptr::null_mut();
    // SAFETY: the GIL is held and `d` is alive; the borrowed key and value
    // are used before anything can run Python code, or held first.
    unsafe {
        while ffi::PyDict_Next(d.as_ptr(), &mut pos, &mut k, &mut v) != 0 {
            if !pack_attribute_exact(py, p, k, v) {
                let k = Borrowed::from_ptr(py, k).to_owned();
                let v = Borrowed::from_ptr(py, v).to_owned();
                pack_attribute(p, &k, &v);
            }
        }
    }
}

/// Writes a span's attributes: a plain dict is read in place, without
/// collecting its pairs first.
fn pack_span_attributes(p: &mut SpanPacker, obj: &Bound<'_, PyAny>) -> PyResult<()> {
    if obj.is_none() {
        return Ok(());
    }
    match plain_dict(obj)? {
        Some(d) => pack_dict_attributes(p, &d),
        None => items(obj)?
            .iter()
            .for_each(|(k, v)| pack_attribute(p, k, v)),
    }
    Ok(())
}

/// A starting span's attribute dict (the plain dict behind the SDK's
/// `BoundedAttributes`), or `None` when it has none or cannot be read.
fn start_attributes<'py>(span: &Bound<'py, PyAny>) -> Option<Bound<'py, PyDict>> {
    let py = span.py();
    let attrs = field(span, intern!(py, "_attributes"), intern!(py, "attributes")).ok()?;
    plain_dict(&attrs).ok().flatten()
}

/// A string attribute of a starting span, from its attribute dict.
fn start_attribute(dict: Option<&Bound<'_, PyDict>>, key: &Bound<'_, PyString>) -> Option<String> {
    let v = dict?.get_item(key).ok().flatten()?;
    v.cast::<PyString>().ok().map(py_str)
}

/// The attribute our OpenTelemetry sampler (and the official one) gives a
/// span it kept: the percentage of traces kept.
const SAMPLE_RATE_ATTRIBUTE: &str = "_MS.sampleRate";

/// A root's decision made by an OpenTelemetry sampler before it started,
/// read from its `_MS.sampleRate` attribute (a root without one was not
/// decided by such a sampler: the registry decides).
fn decided_at_start(attrs: Option<&Bound<'_, PyDict>>) -> Option<Sampled> {
    let attrs = attrs?;
    let rate: f64 = attrs
        .get_item(intern!(attrs.py(), SAMPLE_RATE_ATTRIBUTE))
        .ok()
        .flatten()?
        .extract()
        .ok()?;
    (rate.is_finite() && rate > 0.0).then_some(Sampled {
        keep: true,
        percentage: rate.min(100.0),
    })
}

/// The name a span gives its operation as a root: a request's `METHOD
/// route`, anything else's span name; and whether that may still change (a
/// request span started before routing names only its method). `attrs`:
/// the span's [`start_attributes`].
fn root_name(span: &Bound<'_, PyAny>, attrs: Option<&Bound<'_, PyDict>>) -> (String, bool) {
    let py = span.py();
    let name = field(span, intern!(py, "_name"), intern!(py, "name"))
        .ok()
        .and_then(|n| opt_string(&n))
        .unwrap_or_default();
    let kind = field(span, intern!(py, "_kind"), intern!(py, "kind"))
        .and_then(|k| member_value(&k, &members(py).kinds))
        .unwrap_or(0);
    // SERVER (1) and CONSUMER (4) spans are requests.
    if kind != 1 && kind != 4 {
        return (name, false);
    }
    // Interned keys: their hash is computed once, not on every root.
    let method = start_attribute(attrs, intern!(py, "http.request.method"))
        .or_else(|| start_attribute(attrs, intern!(py, "http.method")));
    let route = start_attribute(attrs, intern!(py, "http.route"));
    // An HTTP request not routed yet: its name will change.
    let provisional = route.is_none() && method.is_some();
    (
        Operations::root_name(&name, method.as_deref(), route.as_deref()),
        provisional,
    )
}

/// A starting SDK span, for `operations`: a root (no parent, or a remote
/// one) names its trace's operation and decides its sampling (or brings the
/// decision an OpenTelemetry sampler made, see [`decided_at_start`]). Any
/// other span costs only the look at its parent, unless some request's name
/// is still provisional: then the
/// first span under that request names its operation again from the
/// request span as it is now (FastAPI renames its span once routed).
pub fn span_start(
    span: &Bound<'_, PyAny>,
    parent_context: Option<&Bound<'_, PyAny>>,
    operations: &Operations,
) -> PyResult<()> {
    let py = span.py();
    let parent = field(span, intern!(py, "_parent"), intern!(py, "parent"))?;
    // SpanContext is a tuple: (trace_id, span_id, is_remote, ...).
    let context = || -> PyResult<Bound<'_, PyTuple>> {
        Ok(field(span, intern!(py, "_context"), intern!(py, "context"))?.cast_into::<PyTuple>()?)
    };
    if !parent.is_none() {
        let parent = parent.cast::<PyTuple>()?;
        if !is_true(&*parent.get_borrowed_item(2)?)? {
            if operations.any_provisional() {
                let parent_id = parent.get_item(1)?.extract::<u64>()?;
                let trace_id = trace_id_u128(&*context()?.get_borrowed_item(0)?)?;
                operations.child_started(trace_id, parent_id, || {
                    let get = py
                        .import(intern!(py, "opentelemetry.trace"))
                        .and_then(|m| m.getattr(intern!(py, "get_current_span")))
                        .ok()?;
                    let parent_span = match parent_context {
                        Some(c) => get.call1((c,)),
                        None => get.call0(),
                    }
                    .ok()?;
                    Some(root_name(&parent_span, start_attributes(&parent_span).as_ref()).0)
                });
            }
            return Ok(());
        }
    }
    let ctx = context()?;
    let trace_id = trace_id_u128(&*ctx.get_borrowed_item(0)?)?;
    let attrs = start_attributes(span);
    let (name, provisional) = root_name(span, attrs.as_ref());
    let provisional = if provisional {
        Some(ctx.get_item(1)?.extract::<u64>()?)
    } else {
        None
    };
    // Also when we do not sample: a provider sampling with the official
    // sampler says its share this way, and the envelopes should say it too.
    match (decided_at_start(attrs.as_ref()), provisional) {
        (Some(sampled), _) => {
            operations.root_started_decided(trace_id, provisional, sampled, || name);
        }
        (None, Some(span_id)) => {
            operations.root_started_provisional(trace_id, span_id, || name);
        }
        (None, None) => {
            operations.root_started(trace_id, || name);
        }
    }
    Ok(())
}

/// An instrumentation scope's name, version and schema URL as the packer
/// takes them.
struct ScopeText {
    name: String,
    version: Option<String>,
    schema_url: Option<String>,
    /// The interned scope, for a plain name and version that could be.
    id: Option<ScopeId>,
}

impl ScopeText {
    fn read(scope: &Bound<'_, PyAny>) -> PyResult<Self> {
        let py = scope.py();
        let name_obj = field(scope, intern!(py, "_name"), intern!(py, "name"))?;
        let version_obj = field(scope, intern!(py, "_version"), intern!(py, "version"))?;
        let schema_url = opt_string(&field(
            scope,
            intern!(py, "_schema_url"),
            intern!(py, "schema_url"),
        )?)
        .filter(|u| !u.is_empty());
        let mut name_owned = String::new();
        let name = text(&name_obj, &mut name_owned).to_owned();
        let mut version_owned = String::new();
        let version = (!version_obj.is_none())
            .then(|| text(&version_obj, &mut version_owned))
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        let id = match schema_url {
            None => interned_scope_id(&name, version.as_deref()),
            Some(_) => None,
        };
        Ok(Self {
            name,
            version,
            schema_url,
            id,
        })
    }

    fn pack(&self, p: &mut SpanPacker) {
        if let Some(id) = self.id {
            // What `scope` writes for it, without looking the text up.
            return p.scope_at(id);
        }
        match &self.schema_url {
            // The usual case: a shared scope looked up from borrowed text.
            None => p.scope(&self.name, self.version.as_deref()),
            Some(url) => {
                let mut b = InstrumentationScope::builder(self.name.clone());
                if let Some(v) = &self.version {
                    b = b.with_version(v.clone());
                }
                p.instrumentation_scope(&b.with_schema_url(url.clone()).build());
            }
        }
    }
}

thread_local! {
    /// The last SDK `InstrumentationScope` read on this thread, by identity,
    /// with its text: a tracer gives all its spans the same scope object,
    /// which the SDK never changes (only that exact type is kept).
    static LAST_SCOPE: RefCell<Option<(Py<PyAny>, ScopeText)>> = const { RefCell::new(None) };
}

/// Writes the span's scope (see [`LAST_SCOPE`]).
fn pack_scope(p: &mut SpanPacker, scope: &Bound<'_, PyAny>, known: &Members) -> PyResult<()> {
    let hit = LAST_SCOPE
        .try_with(|c| match &*c.borrow() {
            Some((o, t)) if o.as_ptr() == scope.as_ptr() => {
                t.pack(p);
                true
            }
            _ => false,
        })
        .unwrap_or(false);
    if hit {
        return Ok(());
    }
    let t = ScopeText::read(scope)?;
    t.pack(p);
    let sdk_scope = known
        .scope_type
        .as_ref()
        .is_some_and(|ty| scope.get_type().as_ptr() == ty.as_ptr());
    if sdk_scope {
        let previous = LAST_SCOPE
            .try_with(|c| c.replace(Some((scope.clone().unbind(), t))))
            .ok()
            .flatten();
        drop(previous);
    }
    Ok(())
}

thread_local! {
    /// The last SDK `Status` read on this thread whose code was UNSET: every
    /// span the SDK starts shares one such object (a default argument) until
    /// its status is set, so most spans skip reading its code. Only that
    /// exact type is kept (it never changes).
    static UNSET_STATUS: RefCell<Option<Py<PyAny>>> = const { RefCell::new(None) };
}

/// Whether `status` is the [`UNSET_STATUS`] object.
fn is_last_unset_status(status: &Bound<'_, PyAny>) -> bool {
    UNSET_STATUS
        .try_with(|c| {
            c.borrow()
                .as_ref()
                .is_some_and(|s| s.as_ptr() == status.as_ptr())
        })
        .unwrap_or(false)
}

/// Keeps `status`, read as UNSET, as the [`UNSET_STATUS`] object.
fn remember_unset_status(status: &Bound<'_, PyAny>, known: &Members) {
    let sdk_status = known
        .status_type
        .as_ref()
        .is_some_and(|ty| status.get_type().as_ptr() == ty.as_ptr());
    if sdk_status {
        let previous = UNSET_STATUS
            .try_with(|c| c.replace(Some(status.clone().unbind())))
            .ok()
            .flatten();
        drop(previous);
    }
}

/// An iterator over a span's events or links, or `None` when there are
/// none: the SDK keeps them in a `BoundedList` whose items are in a deque
/// (`_dq`); the public properties give a tuple. Most spans have none, and an
/// empty deque or tuple is told without an iterator (only those two are
/// measured: their length runs no Python); `None` has none.
fn sdk_items<'py>(
    obj: &Bound<'py, PyAny>,
    known: &Members,
) -> PyResult<Option<Bound<'py, pyo3::types::PyIterator>>> {
    if obj.is_none() {
        return Ok(None);
    }
    let items = match obj.getattr_opt(intern!(obj.py(), "_dq"))? {
        Some(dq) => dq,
        None => obj.clone(),
    };
    let empty = if let Ok(t) = items.cast::<PyTuple>() {
        t.is_empty()
    } else {
        known
            .deque
            .as_ref()
            .is_some_and(|d| items.get_type().as_ptr() == d.as_ptr())
            && items.len()? == 0
    };
    if empty {
        Ok(None)
    } else {
        items.try_iter().map(Some)
    }
}

/// Writes one of a span's links: the linked span's trace and span ids (an
/// API `Link`'s `context`, a `SpanContext`) and the link's attributes.
fn pack_link(p: &mut SpanPacker, link: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = link.py();
    let ctx = field(link, intern!(py, "_context"), intern!(py, "context"))?;
    let (trace_id, span_id, remote) = match ctx.cast::<PyTuple>() {
        // SpanContext is a tuple: (trace_id, span_id, is_remote, ...).
        Ok(t) => (t.get_item(0)?, t.get_item(1)?, t.get_item(2)?),
        Err(_) => (
            ctx.getattr(intern!(py, "trace_id"))?,
            ctx.getattr(intern!(py, "span_id"))?,
            ctx.getattr(intern!(py, "is_remote"))?,
        ),
    };
    let items = attribute_items(&field(
        link,
        intern!(py, "_attributes"),
        intern!(py, "attributes"),
    )?)?;
    p.link(
        trace_id_bytes(&trace_id)?,
        span_id_bytes(&span_id)?,
        is_true(&remote)?,
        items.len() as u32,
    );
    for (k, v) in &items {
        pack_attribute(p, k, v);
    }
    Ok(())
}

/// Converts a finished SDK span straight into its packed form, with the
/// operation name `operations` holds for it (and forgets it). `Ok(None)`
/// when the span is not sampled (the SDK also ends spans that are recorded
/// but not sampled); an error when a field cannot be read or is invalid.
pub fn span<'py>(
    span: &Bound<'py, PyAny>,
    operations: &Operations,
) -> PyResult<Option<PackedSpan>> {
    let py = span.py();
    let known = members(py);
    let span_field = |private: &Bound<'py, PyString>, public: &Bound<'py, PyString>| {
        field(span, private, public)
    };
    let ctx = span_field(intern!(py, "_context"), intern!(py, "context"))?;
    // SpanContext is a tuple: (trace_id, span_id, is_remote, trace_flags, trace_state, is_valid).
    let ctx = ctx.cast::<PyTuple>()?;
    let trace_id = trace_id_u128(&*ctx.get_borrowed_item(0)?)?;
    let parent = span_field(intern!(py, "_parent"), intern!(py, "parent"))?;
    let (parent_span_id, parent_is_remote) = if parent.is_none() {
        (None, false)
    } else {
        let p = parent.cast::<PyTuple>()?;
        (
            Some(to_u64(&*p.get_borrowed_item(1)?)?.to_be_bytes()),
            is_true(&*p.get_borrowed_item(2)?)?,
        )
    };
    // A root's end forgets its operation even when the span is not exported,
    // so the registry never grows.
    let is_root = parent_span_id.is_none() || parent_is_remote;
    let operation = operations.ended(trace_id, is_root);
    let trace_id = trace_id.to_be_bytes();
    let flags: u8 = ctx.get_borrowed_item(3)?.extract::<u8>().unwrap_or(0);
    if flags & 0x01 == 0 {
        return Ok(None);
    }
    let span_id = to_u64(&*ctx.get_borrowed_item(1)?)?.to_be_bytes();
    let kind_obj = span_field(intern!(py, "_kind"), intern!(py, "kind"))?;
    let kind = match member_value(&kind_obj, &known.kinds)? {
        1 => SpanKind::Server,
        2 => SpanKind::Client,
        3 => SpanKind::Producer,
        4 => SpanKind::Consumer,
        _ => SpanKind::Internal,
    };
    let start: u64 = opt_u64(&span_field(
        intern!(py, "_start_time"),
        intern!(py, "start_time"),
    )?)?
    .unwrap_or(0);
    let end: u64 = opt_u64(&span_field(
        intern!(py, "_end_time"),
        intern!(py, "end_time"),
    )?)?
    .unwrap_or(start);
    let mut p = SpanPacker::new(
        trace_id,
        span_id,
        parent_span_id,
        parent_is_remote,
        kind,
        start,
        end,
    );
    p.sampling(operation.sampled);

    let name = span_field(intern!(py, "_name"), intern!(py, "name"))?;
    if !name.is_none() {
        let mut owned = String::new();
        p.name(text(&name, &mut owned));
    }
    if let Some(name) = &operation.name {
        p.operation_name(name);
    }

    let status_obj = span_field(intern!(py, "_status"), intern!(py, "status"))?;
    if !status_obj.is_none() && !is_last_unset_status(&status_obj) {
        let code = field(
            &status_obj,
            intern!(py, "_status_code"),
            intern!(py, "status_code"),
        )?;
        p.status(&match member_value(&code, &known.codes)? {
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
            _ => {
                remember_unset_status(&status_obj, known);
                Status::Unset
            }
        });
    }

    pack_span_attributes(
        &mut p,
        &span_field(intern!(py, "_attributes"), intern!(py, "attributes"))?,
    )?;

    let events = sdk_items(
        &span_field(intern!(py, "_events"), intern!(py, "events"))?,
        known,
    )?;
    for ev in events.into_iter().flatten() {
        let ev = ev?;
        let ev_name = field(&ev, intern!(py, "_name"), intern!(py, "name"))?;
        let ts: u64 = field(&ev, intern!(py, "_timestamp"), intern!(py, "timestamp"))?
            .extract::<Option<u64>>()?
            .unwrap_or(end);
        let items = attribute_items(&field(
            &ev,
            intern!(py, "_attributes"),
            intern!(py, "attributes"),
        )?)?;
        let mut owned = String::new();
        let ev_name = if ev_name.is_none() {
            ""
        } else {
            text(&ev_name, &mut owned)
        };
        p.event(ev_name, ts, items.len() as u32);
        for (k, v) in &items {
            pack_attribute(&mut p, k, v);
        }
    }

    let links = sdk_items(
        &span_field(intern!(py, "_links"), intern!(py, "links"))?,
        known,
    )?;
    for link in links.into_iter().flatten() {
        pack_link(&mut p, &link?)?;
    }

    let scope_obj = span_field(
        intern!(py, "_instrumentation_scope"),
        intern!(py, "instrumentation_scope"),
    )?;
    if !scope_obj.is_none() {
        pack_scope(&mut p, &scope_obj, known)?;
    }
    p.finish().map(Some).map_err(crate::to_py_err)
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
