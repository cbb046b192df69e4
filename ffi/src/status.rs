//! The status every function returns, and the thread-local message that
//! explains the last failure.
//!
//! A status alone says what kind of thing went wrong; the message says what
//! and where ("genkit_azure_export_span: span.attributes[3].key is not valid
//! UTF-8"). The message is per thread so that concurrent callers never see
//! each other's errors and no locking is needed.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};

/// The result of every fallible `genkit_azure_*` function.
///
/// Any value other than `GENKIT_AZURE_OK` leaves a message in
/// `genkit_azure_last_error()`. `GENKIT_AZURE_QUEUE_FULL` and
/// `GENKIT_AZURE_INCOMPLETE` are not fatal: the handle stays usable.
// repr(C) so that C sees a real enum type (compilers then warn about
// unhandled cases in a switch). Rust only ever *produces* these values; a value
// coming from C is read as an integer (see genkit_azure_status_name).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum genkit_azure_status {
    /// The call did what was asked.
    GENKIT_AZURE_OK = 0,
    /// A required pointer argument or field was NULL (including an array
    /// pointer with a non-zero count).
    GENKIT_AZURE_NULL_ARGUMENT = 1,
    /// A string was not valid UTF-8.
    GENKIT_AZURE_INVALID_UTF8 = 2,
    /// A value was out of range or inconsistent (an enum value, a severity
    /// number, an all-zero trace id, an end time before the start time, ...).
    GENKIT_AZURE_INVALID_ARGUMENT = 3,
    /// The configuration (connection string, batch settings, ...) was refused.
    GENKIT_AZURE_INVALID_CONFIG = 4,
    /// Not fatal: the ingest queue was full, so the item was dropped and
    /// counted in `dropped_queue_full`.
    GENKIT_AZURE_QUEUE_FULL = 5,
    /// Not fatal: flush or shutdown returned before everything was delivered
    /// (timeout, or the ingestion endpoint refused some items; see the stats).
    GENKIT_AZURE_INCOMPLETE = 6,
    /// The handle was shut down; nothing more is accepted.
    GENKIT_AZURE_SHUT_DOWN = 7,
    /// A bug: the library panicked. The panic was contained; the message says
    /// where. The handle may still be usable, but please report it.
    GENKIT_AZURE_PANIC = 8,
    /// The library could not do its work for a reason outside the caller's
    /// control (e.g. the background runtime could not be started).
    GENKIT_AZURE_INTERNAL = 9,
    /// A struct's `struct_size` was smaller than the struct's first version
    /// with that field (0: never set), absurdly large, or larger than this
    /// library knows with fields it does not know set (a program built
    /// against a newer header). Nothing was read or written.
    GENKIT_AZURE_INVALID_STRUCT_SIZE = 10,
    /// The handle was made in another process: this one was forked after
    /// `genkit_azure_new`, and the handle's background threads did not
    /// survive the fork. Call `genkit_azure_after_fork_child` in the child
    /// first.
    GENKIT_AZURE_FORKED_CHILD = 11,
}

use genkit_azure_status::*;

/// Every status, in discriminant order (index == value).
// A free private const: as a pub associated const cbindgen would put it in the header.
const ALL_STATUSES: [genkit_azure_status; 12] = [
    GENKIT_AZURE_OK,
    GENKIT_AZURE_NULL_ARGUMENT,
    GENKIT_AZURE_INVALID_UTF8,
    GENKIT_AZURE_INVALID_ARGUMENT,
    GENKIT_AZURE_INVALID_CONFIG,
    GENKIT_AZURE_QUEUE_FULL,
    GENKIT_AZURE_INCOMPLETE,
    GENKIT_AZURE_SHUT_DOWN,
    GENKIT_AZURE_PANIC,
    GENKIT_AZURE_INTERNAL,
    GENKIT_AZURE_INVALID_STRUCT_SIZE,
    GENKIT_AZURE_FORKED_CHILD,
];

impl genkit_azure_status {
    /// The C name, NUL-terminated so it can be handed out as a static string.
    fn c_name(self) -> &'static CStr {
        match self {
            GENKIT_AZURE_OK => c"GENKIT_AZURE_OK",
            GENKIT_AZURE_NULL_ARGUMENT => c"GENKIT_AZURE_NULL_ARGUMENT",
            GENKIT_AZURE_INVALID_UTF8 => c"GENKIT_AZURE_INVALID_UTF8",
            GENKIT_AZURE_INVALID_ARGUMENT => c"GENKIT_AZURE_INVALID_ARGUMENT",
            GENKIT_AZURE_INVALID_CONFIG => c"GENKIT_AZURE_INVALID_CONFIG",
            GENKIT_AZURE_QUEUE_FULL => c"GENKIT_AZURE_QUEUE_FULL",
            GENKIT_AZURE_INCOMPLETE => c"GENKIT_AZURE_INCOMPLETE",
            GENKIT_AZURE_SHUT_DOWN => c"GENKIT_AZURE_SHUT_DOWN",
            GENKIT_AZURE_PANIC => c"GENKIT_AZURE_PANIC",
            GENKIT_AZURE_INTERNAL => c"GENKIT_AZURE_INTERNAL",
            GENKIT_AZURE_INVALID_STRUCT_SIZE => c"GENKIT_AZURE_INVALID_STRUCT_SIZE",
            GENKIT_AZURE_FORKED_CHILD => c"GENKIT_AZURE_FORKED_CHILD",
        }
    }

    /// Maps an integer from C back to a status without trusting it.
    fn from_int(value: c_int) -> Option<Self> {
        usize::try_from(value)
            .ok()
            .and_then(|i| ALL_STATUSES.get(i).copied())
    }
}

/// What `genkit_azure_status_name` returns for a value that is no status.
const UNKNOWN_STATUS: &CStr = c"GENKIT_AZURE_UNKNOWN_STATUS";

thread_local! {
    /// The message of the last failed call on this thread. `None` until one fails.
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Records `message` as this thread's last error.
pub(crate) fn set_last_error(message: String) {
    // A message is built from field paths and core error texts, which come
    // from C strings and so cannot hold NUL; escape one anyway rather than
    // lose the whole message.
    let message = CString::new(message).unwrap_or_else(|e| {
        let escaped = String::from_utf8_lossy(&e.into_vec()).replace('\0', "\\0");
        CString::new(escaped).unwrap_or_default()
    });
    // try_with: during thread teardown the slot may already be gone, and this
    // runs outside the panic boundary, so it must not panic.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some(message);
        }
    });
}

/// The current message as a pointer that stays valid until the slot is next written.
fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| match slot.try_borrow().as_deref() {
            // The CString's heap buffer does not move when the Option is
            // read, so the pointer outlives this borrow until the next
            // set_last_error on this thread replaces it.
            Ok(Some(message)) => message.as_ptr(),
            _ => c"".as_ptr(),
        })
        .unwrap_or(c"".as_ptr())
}

/// The message of the last failed call on this thread, or "" if none failed.
///
/// Every function that returns a status other than `GENKIT_AZURE_OK` first
/// replaces this thread's message; successful calls leave it alone (like
/// `errno`), so read it right after the failing call. The string belongs to the
/// library: do not free it, and do not use it after the next `genkit_azure_*`
/// call on the same thread. It never contains the instrumentation key.
#[no_mangle]
pub extern "C" fn genkit_azure_last_error() -> *const c_char {
    // Reading a thread-local cannot panic (try_with/try_borrow), so this needs
    // no panic boundary and cannot fail.
    last_error_ptr()
}

/// The name of a status as a static string, e.g. "GENKIT_AZURE_NULL_ARGUMENT";
/// "GENKIT_AZURE_UNKNOWN_STATUS" for a value that is not a status.
// The parameter is an `int`, not the enum: C may pass any integer, and
// receiving an out-of-range value as a Rust enum would be undefined behaviour.
// Passing a genkit_azure_status converts implicitly.
#[no_mangle]
pub extern "C" fn genkit_azure_status_name(status: c_int) -> *const c_char {
    genkit_azure_status::from_int(status)
        .map_or(UNKNOWN_STATUS, genkit_azure_status::c_name)
        .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        // SAFETY: the pointer is a NUL-terminated string owned by this thread's slot.
        unsafe { CStr::from_ptr(genkit_azure_last_error()) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn names_match_values_and_unknown_values_are_safe() {
        for (i, status) in ALL_STATUSES.iter().enumerate() {
            assert_eq!(*status as usize, i);
            // SAFETY: status names are static C strings.
            let name = unsafe { CStr::from_ptr(genkit_azure_status_name(i as c_int)) };
            assert_eq!(name.to_str().unwrap(), format!("{status:?}"));
        }
        for bad in [-1, 12, c_int::MAX, c_int::MIN] {
            // SAFETY: as above.
            let name = unsafe { CStr::from_ptr(genkit_azure_status_name(bad)) };
            assert_eq!(name, UNKNOWN_STATUS);
        }
    }

    #[test]
    fn last_error_is_per_thread_and_starts_empty() {
        std::thread::spawn(|| {
            assert_eq!(last_error(), "");
            set_last_error("first".into());
            assert_eq!(last_error(), "first");
            set_last_error("with\0nul".into());
            assert_eq!(last_error(), "with\\0nul");
        })
        .join()
        .unwrap();
        std::thread::spawn(|| assert_eq!(last_error(), ""))
            .join()
            .unwrap();
    }
}
