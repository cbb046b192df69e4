//! The edge between C and Rust: the panic boundary every exported function
//! runs in, and the checks that turn raw pointers from C into Rust values.
//!
//! Nothing past this module sees a raw pointer it has not checked: every
//! pointer is tested for NULL and alignment, every string for UTF-8, every
//! array for a sane size, and each failure names the field it was found in.
//! Messages name fields and positions but never echo values, since a value may
//! be a secret (the connection string holds the instrumentation key).

use crate::status::{genkit_azure_status, set_last_error};
use genkit_azure::Error as CoreError;
use genkit_azure_status::*;
use std::any::Any;
use std::ffi::{c_char, CStr};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A failed call: the status to return and the message for `last_error`.
#[derive(Debug)]
pub(crate) struct FfiError {
    pub status: genkit_azure_status,
    pub message: String,
}

impl FfiError {
    pub fn new(status: genkit_azure_status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(GENKIT_AZURE_INVALID_ARGUMENT, message)
    }
}

impl From<CoreError> for FfiError {
    fn from(e: CoreError) -> Self {
        let status = match &e {
            CoreError::ConnectionString { .. }
            | CoreError::MissingConnectionString
            | CoreError::Config(_) => GENKIT_AZURE_INVALID_CONFIG,
            CoreError::InvalidArgument(_) => GENKIT_AZURE_INVALID_ARGUMENT,
            CoreError::ShutDown => GENKIT_AZURE_SHUT_DOWN,
            // Runtime, Transport, and whatever core adds later (the enum is
            // non_exhaustive): nothing the caller passed can fix these.
            _ => GENKIT_AZURE_INTERNAL,
        };
        // Core's messages name the wrong part and never contain the key.
        Self::new(status, e.to_string())
    }
}

pub(crate) type FfiResult<T = ()> = Result<T, FfiError>;

/// Runs `body` so that no panic crosses into C, and turns its outcome into a
/// status, recording the message of any failure as this thread's last error.
///
/// `function` is the exported function's name; every message starts with it
/// so that a log line is enough to find the failing call.
pub(crate) fn boundary(
    function: &'static str,
    body: impl FnOnce() -> FfiResult,
) -> genkit_azure_status {
    // AssertUnwindSafe: after a panic we return without touching anything the
    // closure captured. Shared state (the pipeline) is guarded by core's own
    // atomics and poison-tolerant locks.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => GENKIT_AZURE_OK,
        Ok(Err(e)) => {
            set_last_error(format!("{function}: {}", e.message));
            e.status
        }
        Err(payload) => {
            set_last_error(format!(
                "{function}: internal panic (a bug in genkit-azure, please report it): {}",
                panic_message(&payload)
            ));
            // The payload of panic!() is a &str or String, whose drop cannot
            // panic; anything else is dropped here too, inside no boundary, so
            // forget it rather than risk a second panic unwinding into C.
            std::mem::forget(payload);
            GENKIT_AZURE_PANIC
        }
    }
}

fn panic_message(payload: &Box<dyn Any + Send>) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

/// Where a value sits in the caller's arguments, e.g.
/// `span.events[0].attributes[2].key`. Built on the stack and formatted only
/// when an error needs it, so the happy path allocates nothing for it.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root(&'static str),
    Field(&'a Path<'a>, &'static str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    pub fn field(&'a self, name: &'static str) -> Path<'a> {
        Path::Field(self, name)
    }
    pub fn index(&'a self, i: usize) -> Path<'a> {
        Path::Index(self, i)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(name) => f.write_str(name),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Borrows `*ptr`, refusing NULL and misaligned pointers.
///
/// # Safety
/// If `ptr` is non-NULL and aligned it must point to a valid `T` that stays
/// alive and unmodified for `'a`.
pub(crate) unsafe fn try_ref<'a, T>(ptr: *const T, path: &Path<'_>) -> FfiResult<&'a T> {
    if ptr.is_null() {
        return Err(FfiError::new(
            GENKIT_AZURE_NULL_ARGUMENT,
            format!("{path} is NULL"),
        ));
    }
    if !ptr.is_aligned() {
        return Err(FfiError::invalid(format!(
            "{path} is not a properly aligned pointer"
        )));
    }
    // SAFETY: non-NULL and aligned checked above; validity is the caller's promise.
    Ok(unsafe { &*ptr })
}

/// Reads a required NUL-terminated UTF-8 string.
///
/// # Safety
/// If non-NULL, `ptr` must point to a NUL-terminated string alive for `'a`.
pub(crate) unsafe fn try_str<'a>(ptr: *const c_char, path: &Path<'_>) -> FfiResult<&'a str> {
    if ptr.is_null() {
        return Err(FfiError::new(
            GENKIT_AZURE_NULL_ARGUMENT,
            format!("{path} is NULL"),
        ));
    }
    // SAFETY: non-NULL checked; termination and lifetime are the caller's promise.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    genkit_azure::face::utf8(bytes).map_err(|e| {
        // The offset locates the problem without echoing the text.
        FfiError::new(
            GENKIT_AZURE_INVALID_UTF8,
            format!(
                "{path} is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Reads an optional string: NULL means "not set".
///
/// # Safety
/// As [`try_str`].
pub(crate) unsafe fn try_opt_str<'a>(
    ptr: *const c_char,
    path: &Path<'_>,
) -> FfiResult<Option<&'a str>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { try_str(ptr, path) }.map(Some)
    }
}

/// Borrows the array `ptr[0..count]`. A count of 0 gives an empty slice
/// whatever the pointer (C code often leaves it NULL); a non-zero count needs
/// a non-NULL, aligned pointer and a size the address space can hold.
///
/// `count_path` names the count field for the message, e.g. `span.attribute_count`.
///
/// # Safety
/// If `count > 0` and `ptr` passes the checks, it must point to `count` valid
/// `T`s alive for `'a`.
pub(crate) unsafe fn try_slice<'a, T>(
    ptr: *const T,
    count: usize,
    path: &Path<'_>,
    count_path: &Path<'_>,
) -> FfiResult<&'a [T]> {
    if count == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(FfiError::new(
            GENKIT_AZURE_NULL_ARGUMENT,
            format!("{path} is NULL but {count_path} is {count}"),
        ));
    }
    if !ptr.is_aligned() {
        return Err(FfiError::invalid(format!(
            "{path} is not a properly aligned pointer"
        )));
    }
    // slice::from_raw_parts requires the total size to fit in isize; a count
    // this large can only be garbage (an uninitialised field).
    if count
        .checked_mul(size_of::<T>())
        .is_none_or(|bytes| bytes > isize::MAX as usize)
    {
        return Err(FfiError::invalid(format!(
            "{count_path} is {count}, which is impossibly large"
        )));
    }
    // SAFETY: non-NULL, aligned, size checked; validity is the caller's promise.
    Ok(unsafe { std::slice::from_raw_parts(ptr, count) })
}

/// Refuses an id that is all zeros, which is what an unset field holds: a
/// trace or span id names something.
pub(crate) fn try_id(id: &[u8], path: &Path<'_>) -> FfiResult {
    if id.iter().all(|&b| b == 0) {
        return Err(FfiError::invalid(format!("{path} must not be all zeros")));
    }
    Ok(())
}

/// Writes `value` to the out-pointer `out`, refusing NULL.
///
/// # Safety
/// If non-NULL and aligned, `out` must be valid for a write of `T`.
pub(crate) unsafe fn try_write<T>(out: *mut T, value: T, path: &Path<'_>) -> FfiResult {
    if out.is_null() {
        return Err(FfiError::new(
            GENKIT_AZURE_NULL_ARGUMENT,
            format!("{path} is NULL"),
        ));
    }
    if !out.is_aligned() {
        return Err(FfiError::invalid(format!(
            "{path} is not a properly aligned pointer"
        )));
    }
    // SAFETY: checked above; validity for writes is the caller's promise.
    // `write` does not drop the (possibly uninitialised) old value.
    unsafe { out.write(value) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last_error() -> String {
        // SAFETY: the library's own NUL-terminated, thread-owned string.
        unsafe { CStr::from_ptr(crate::status::genkit_azure_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn ok_errors_and_panics_become_statuses() {
        assert_eq!(boundary("f", || Ok(())), GENKIT_AZURE_OK);

        let status = boundary("genkit_azure_f", || {
            Err(FfiError::new(GENKIT_AZURE_INVALID_CONFIG, "batch too big"))
        });
        assert_eq!(status, GENKIT_AZURE_INVALID_CONFIG);
        assert_eq!(last_error(), "genkit_azure_f: batch too big");

        let status = boundary("genkit_azure_g", || panic!("boom {}", 42));
        assert_eq!(status, GENKIT_AZURE_PANIC);
        let msg = last_error();
        assert!(msg.starts_with("genkit_azure_g: internal panic"), "{msg}");
        assert!(msg.contains("boom 42"), "{msg}");

        let status = boundary("genkit_azure_h", || std::panic::panic_any(7u8));
        assert_eq!(status, GENKIT_AZURE_PANIC);
        assert!(last_error().contains("(no message)"));

        // Success leaves the previous message in place, like errno.
        assert_eq!(boundary("f", || Ok(())), GENKIT_AZURE_OK);
        assert!(last_error().contains("(no message)"));
    }

    #[test]
    fn core_errors_map_to_statuses() {
        use genkit_azure::ConfigError;
        let cases = [
            (
                CoreError::MissingConnectionString,
                GENKIT_AZURE_INVALID_CONFIG,
            ),
            (
                CoreError::Config(ConfigError::new("a", "b")),
                GENKIT_AZURE_INVALID_CONFIG,
            ),
            (
                CoreError::ConnectionString {
                    source_name: "argument",
                    detail: ConfigError::new("InstrumentationKey", "is missing"),
                },
                GENKIT_AZURE_INVALID_CONFIG,
            ),
            (
                CoreError::InvalidArgument(ConfigError::new("a", "b")),
                GENKIT_AZURE_INVALID_ARGUMENT,
            ),
            (CoreError::ShutDown, GENKIT_AZURE_SHUT_DOWN),
            // Transport (a reqwest error) maps the same way; a test cannot make one.
            (
                CoreError::Runtime(std::io::Error::other("no threads")),
                GENKIT_AZURE_INTERNAL,
            ),
        ];
        for (error, status) in cases {
            assert_eq!(FfiError::from(error).status, status);
        }
    }

    #[test]
    fn paths_format_like_c_expressions() {
        let span = Path::Root("span");
        let events = span.field("events");
        let event = events.index(0);
        let attrs = event.field("attributes");
        let attr = attrs.index(2);
        assert_eq!(
            attr.field("key").to_string(),
            "span.events[0].attributes[2].key"
        );
    }

    #[test]
    fn strings_are_checked_for_null_and_utf8() {
        let p = Path::Root("span");
        let name = p.field("name");
        // SAFETY: NULL and valid NUL-terminated literals.
        unsafe {
            let e = try_str(std::ptr::null(), &name).unwrap_err();
            assert_eq!(e.status, GENKIT_AZURE_NULL_ARGUMENT);
            assert_eq!(e.message, "span.name is NULL");

            let e = try_str(c"ab\xffcd".as_ptr(), &name).unwrap_err();
            assert_eq!(e.status, GENKIT_AZURE_INVALID_UTF8);
            assert_eq!(
                e.message,
                "span.name is not valid UTF-8 (bad byte at offset 2)"
            );

            // A bad byte past a run of ASCII words, and a lone high byte.
            let e = try_str(c"abcdefghijklmnopqrstu\x80".as_ptr(), &name).unwrap_err();
            assert_eq!(e.status, GENKIT_AZURE_INVALID_UTF8);
            assert!(
                e.message.ends_with("(bad byte at offset 21)"),
                "{}",
                e.message
            );
            assert!(try_str(c"\xc3".as_ptr(), &name).is_err());

            assert_eq!(try_str(c"caf\xc3\xa9".as_ptr(), &name).unwrap(), "café");
            assert_eq!(try_opt_str(std::ptr::null(), &name).unwrap(), None);
            assert_eq!(try_opt_str(c"".as_ptr(), &name).unwrap(), Some(""));
        }
    }

    #[test]
    fn slices_check_null_count_alignment_and_size() {
        let p = Path::Root("span");
        let (arr, count) = (p.field("attributes"), p.field("attribute_count"));
        let data = [1u64, 2, 3];
        // SAFETY: the pointers are NULL, misaligned (rejected before use) or valid for `count`.
        unsafe {
            assert!(try_slice::<u64>(std::ptr::null(), 0, &arr, &count)
                .unwrap()
                .is_empty());
            let e = try_slice::<u64>(std::ptr::null(), 3, &arr, &count).unwrap_err();
            assert_eq!(e.status, GENKIT_AZURE_NULL_ARGUMENT);
            assert_eq!(
                e.message,
                "span.attributes is NULL but span.attribute_count is 3"
            );

            let misaligned = (data.as_ptr() as *const u8).add(1) as *const u64;
            let e = try_slice(misaligned, 1, &arr, &count).unwrap_err();
            assert_eq!(e.status, GENKIT_AZURE_INVALID_ARGUMENT);

            let e = try_slice(data.as_ptr(), usize::MAX / 4, &arr, &count).unwrap_err();
            assert_eq!(e.status, GENKIT_AZURE_INVALID_ARGUMENT);
            assert!(e.message.contains("span.attribute_count"), "{}", e.message);

            assert_eq!(try_slice(data.as_ptr(), 3, &arr, &count).unwrap(), &data);
        }
    }

    #[test]
    fn refs_and_out_pointers_refuse_null() {
        let p = Path::Root("out");
        let mut slot = 0u32;
        // SAFETY: NULL (rejected) or a valid local.
        unsafe {
            assert_eq!(
                try_ref::<u32>(std::ptr::null(), &p).unwrap_err().message,
                "out is NULL"
            );
            assert_eq!(*try_ref(&slot as *const u32, &p).unwrap(), 0);
            let e = try_write(std::ptr::null_mut(), 5u32, &p).unwrap_err();
            assert_eq!(e.status, GENKIT_AZURE_NULL_ARGUMENT);
            try_write(&mut slot as *mut u32, 5, &p).unwrap();
        }
        assert_eq!(slot, 5);
    }
}
