//! `genkit_azure_attribute`: one OpenTelemetry attribute (key and typed
//! value), as spans, span events, log records and the resource carry them.
//! Spans' attributes are written straight into the packed span; logs' and
//! the resource's become `KeyValue`s.

use crate::boundary::{try_slice, try_str, FfiError, FfiResult, Path};
use genkit_azure::opentelemetry::{KeyValue, Value};
use genkit_azure::SpanPacker;
use std::ffi::c_char;

/// The type of a `genkit_azure_attribute`'s value: which value field is read.
// repr(C): C sees a plain enum; fields holding one are uint32_t.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum genkit_azure_attribute_type {
    /// `string_value` (UTF-8, not NULL).
    GENKIT_AZURE_ATTRIBUTE_STRING = 0,
    /// `bool_value`.
    GENKIT_AZURE_ATTRIBUTE_BOOL = 1,
    /// `int_value`.
    GENKIT_AZURE_ATTRIBUTE_INT = 2,
    /// `double_value`.
    GENKIT_AZURE_ATTRIBUTE_DOUBLE = 3,
}

/// One attribute. Set `key`, `type`, and the value field that `type` names;
/// the other value fields are ignored.
///
/// Separate fields rather than a union: simpler to fill in from C and from
/// other languages' FFI layers, at the cost of a few bytes.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct genkit_azure_attribute {
    /// The attribute name, e.g. "http.request.method" or "genkit:name". UTF-8, not empty.
    pub key: *const c_char,
    /// A `genkit_azure_attribute_type` value.
    // An integer, not the enum: C can store any value here, and Rust must
    // never hold an enum with an out-of-range discriminant.
    pub r#type: u32,
    /// The value when `type` is `GENKIT_AZURE_ATTRIBUTE_STRING`. UTF-8.
    pub string_value: *const c_char,
    /// The value when `type` is `GENKIT_AZURE_ATTRIBUTE_BOOL`.
    pub bool_value: bool,
    /// The value when `type` is `GENKIT_AZURE_ATTRIBUTE_INT`.
    pub int_value: i64,
    /// The value when `type` is `GENKIT_AZURE_ATTRIBUTE_DOUBLE`.
    pub double_value: f64,
}

/// An attribute's value, read in place: text is borrowed from C.
enum ValueRef<'a> {
    Str(&'a str),
    Bool(bool),
    I64(i64),
    F64(f64),
}

/// Checks one attribute and borrows its key and value; `path` is where it
/// sits, e.g. `span.attributes[3]`.
///
/// # Safety
/// The attribute's pointers must satisfy [`try_str`] for `'a`.
unsafe fn read<'a>(
    attr: &genkit_azure_attribute,
    path: &Path<'_>,
) -> FfiResult<(&'a str, ValueRef<'a>)> {
    use genkit_azure_attribute_type::*;
    let key_path = path.field("key");
    // SAFETY: forwarded from the caller.
    let key = unsafe { try_str(attr.key, &key_path) }?;
    if key.is_empty() {
        return Err(FfiError::invalid(format!("{key_path} is empty")));
    }
    const STRING: u32 = GENKIT_AZURE_ATTRIBUTE_STRING as u32;
    const BOOL: u32 = GENKIT_AZURE_ATTRIBUTE_BOOL as u32;
    const INT: u32 = GENKIT_AZURE_ATTRIBUTE_INT as u32;
    const DOUBLE: u32 = GENKIT_AZURE_ATTRIBUTE_DOUBLE as u32;
    let value = match attr.r#type {
        // SAFETY: forwarded from the caller.
        STRING => {
            ValueRef::Str(unsafe { try_str(attr.string_value, &path.field("string_value")) }?)
        }
        BOOL => ValueRef::Bool(attr.bool_value),
        INT => ValueRef::I64(attr.int_value),
        DOUBLE => ValueRef::F64(attr.double_value),
        other => {
            return Err(FfiError::invalid(format!(
                "{} is {other}, which is not a genkit_azure_attribute_type (0..=3)",
                path.field("type")
            )))
        }
    };
    Ok((key, value))
}

/// Converts one attribute into an owned `KeyValue` (logs, the resource).
///
/// # Safety
/// The attribute's pointers must satisfy [`try_str`].
unsafe fn attribute(attr: &genkit_azure_attribute, path: &Path<'_>) -> FfiResult<KeyValue> {
    // SAFETY: forwarded from the caller.
    let (key, value) = unsafe { read(attr, path) }?;
    let value = match value {
        ValueRef::Str(s) => Value::from(s.to_owned()),
        ValueRef::Bool(b) => Value::Bool(b),
        ValueRef::I64(i) => Value::I64(i),
        ValueRef::F64(f) => Value::F64(f),
    };
    Ok(KeyValue::new(genkit_azure::face::intern_key(key), value))
}

/// Checks the array `ptr[0..count]` and writes each attribute straight into
/// a packed span (the text is copied once, into the span).
///
/// # Safety
/// As [`try_slice`], and every attribute as [`try_str`].
pub(crate) unsafe fn pack_attributes(
    p: &mut SpanPacker,
    ptr: *const genkit_azure_attribute,
    count: usize,
    path: &Path<'_>,
    count_path: &Path<'_>,
) -> FfiResult<()> {
    // SAFETY: forwarded from the caller.
    let attrs = unsafe { try_slice(ptr, count, path, count_path) }?;
    for (i, attr) in attrs.iter().enumerate() {
        // SAFETY: forwarded from the caller.
        match unsafe { read(attr, &path.index(i)) }? {
            (key, ValueRef::Str(s)) => p.attribute_str(key, s),
            (key, ValueRef::Bool(b)) => p.attribute_bool(key, b),
            (key, ValueRef::I64(v)) => p.attribute_i64(key, v),
            (key, ValueRef::F64(v)) => p.attribute_f64(key, v),
        }
    }
    Ok(())
}

/// Converts the array `ptr[0..count]`; `path` names the array field and
/// `count_path` its count field, e.g. `span.attributes` / `span.attribute_count`.
///
/// # Safety
/// As [`try_slice`], and every attribute as [`attribute`].
pub(crate) unsafe fn attributes(
    ptr: *const genkit_azure_attribute,
    count: usize,
    path: &Path<'_>,
    count_path: &Path<'_>,
) -> FfiResult<Vec<KeyValue>> {
    // SAFETY: forwarded from the caller.
    let attrs = unsafe { try_slice(ptr, count, path, count_path) }?;
    attrs
        .iter()
        .enumerate()
        // SAFETY: forwarded from the caller.
        .map(|(i, a)| unsafe { attribute(a, &path.index(i)) })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::status::genkit_azure_status::*;
    use genkit_azure_attribute_type::*;

    pub fn attr(key: &std::ffi::CStr, t: genkit_azure_attribute_type) -> genkit_azure_attribute {
        genkit_azure_attribute {
            key: key.as_ptr(),
            r#type: t as u32,
            string_value: c"v".as_ptr(),
            bool_value: true,
            int_value: 7,
            double_value: 0.5,
        }
    }

    fn convert(attrs: &[genkit_azure_attribute]) -> FfiResult<Vec<KeyValue>> {
        let p = Path::Root("span");
        // SAFETY: a valid slice of attributes with valid strings.
        unsafe {
            attributes(
                attrs.as_ptr(),
                attrs.len(),
                &p.field("attributes"),
                &p.field("attribute_count"),
            )
        }
    }

    #[test]
    fn converts_every_type() {
        let kv = convert(&[
            attr(c"s", GENKIT_AZURE_ATTRIBUTE_STRING),
            attr(c"b", GENKIT_AZURE_ATTRIBUTE_BOOL),
            attr(c"i", GENKIT_AZURE_ATTRIBUTE_INT),
            attr(c"d", GENKIT_AZURE_ATTRIBUTE_DOUBLE),
        ])
        .unwrap();
        assert_eq!(kv[0], KeyValue::new("s", "v"));
        assert_eq!(kv[1], KeyValue::new("b", true));
        assert_eq!(kv[2], KeyValue::new("i", 7i64));
        assert_eq!(kv[3], KeyValue::new("d", 0.5));
    }

    #[test]
    fn errors_name_the_element_and_field() {
        let mut bad_type = attr(c"k", GENKIT_AZURE_ATTRIBUTE_INT);
        bad_type.r#type = 9;
        let e = convert(&[attr(c"ok", GENKIT_AZURE_ATTRIBUTE_INT), bad_type]).unwrap_err();
        assert_eq!(e.status, GENKIT_AZURE_INVALID_ARGUMENT);
        assert!(
            e.message.starts_with("span.attributes[1].type is 9"),
            "{}",
            e.message
        );

        let mut null_string = attr(c"k", GENKIT_AZURE_ATTRIBUTE_STRING);
        null_string.string_value = std::ptr::null();
        let e = convert(&[null_string]).unwrap_err();
        assert_eq!(
            (e.status, e.message.as_str()),
            (
                GENKIT_AZURE_NULL_ARGUMENT,
                "span.attributes[0].string_value is NULL"
            )
        );

        let e = convert(&[attr(c"\xc3", GENKIT_AZURE_ATTRIBUTE_INT)]).unwrap_err();
        assert_eq!(e.status, GENKIT_AZURE_INVALID_UTF8);
        assert!(
            e.message
                .starts_with("span.attributes[0].key is not valid UTF-8"),
            "{}",
            e.message
        );

        let e = convert(&[attr(c"", GENKIT_AZURE_ATTRIBUTE_INT)]).unwrap_err();
        assert_eq!(e.message, "span.attributes[0].key is empty");
    }
}
