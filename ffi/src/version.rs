//! `genkit_azure_version`: which library a C program actually loaded.

use genkit_azure::VERSION;
use std::ffi::{c_char, CString};
use std::sync::OnceLock;

/// The ABI major version: the `N` of the library's soname
/// (`libgenkit_azure.so.N`), raised only when a program built against an
/// earlier ABI could no longer run against this library. ABI 1 added
/// `struct_size` to every struct the caller passes by pointer; ABI 0
/// programs still run (see the end of this header).
pub const GENKIT_AZURE_ABI_MAJOR: u32 = 1;

/// The library version, e.g. "0.1.0", as a static string (never freed).
#[no_mangle]
pub extern "C" fn genkit_azure_version() -> *const c_char {
    static VERSION_C: OnceLock<CString> = OnceLock::new();
    // Built from core's VERSION (not this crate's) so it names the pipeline
    // that is running; a version has no NUL, but fall back rather than panic
    // in a function that has no status to report a panic with.
    VERSION_C
        .get_or_init(|| CString::new(VERSION).unwrap_or_default())
        .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn is_core_version() {
        // SAFETY: a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(genkit_azure_version()) };
        assert_eq!(v.to_str().unwrap(), VERSION);
        assert!(!VERSION.is_empty());
    }
}
