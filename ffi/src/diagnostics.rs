//! `genkit_azure_set_diagnostic_callback`: the library's diagnostics
//! (delivery failures, drops, rejected items, storage trouble; each kind at
//! most once a minute, never with a key or a token in it) go to a C
//! callback instead of stderr.
//!
//! Core says a diagnostic on whichever thread noticed the trouble, usually
//! one of a pipeline's background threads, possibly holding one of its
//! locks; the callback is called right there. The slot holding it is a
//! read-write lock: each call holds it for reading, so replacing the
//! callback waits for the calls in progress, and after
//! `genkit_azure_set_diagnostic_callback` returns the old callback is
//! neither running nor called again (its `user_data` may be freed).

use crate::boundary::{boundary, FfiError};
use crate::status::genkit_azure_status;
use genkit_azure::face::{set_diagnostic_sink, DiagnosticSink};
use std::cell::Cell;
use std::ffi::{c_char, c_void, CString};
use std::io::Write;
use std::sync::{Arc, RwLock};

/// Receives one diagnostic: `message` is NUL-terminated UTF-8 without a
/// trailing newline (e.g. "the service refused the data (401): ..."), valid
/// only during the call (copy it to keep it); `user_data` is what
/// `genkit_azure_set_diagnostic_callback` was given.
///
/// Called on a background thread of the library (possibly several at once,
/// from different pipelines), possibly while the library holds a lock of
/// the pipeline: it must return quickly and must not block (queue the text
/// for a thread of your own if it needs I/O that may wait), and must not
/// call any `genkit_azure_*` function (except `genkit_azure_last_error`).
pub type genkit_azure_diagnostic_callback =
    Option<unsafe extern "C" fn(message: *const c_char, user_data: *mut c_void)>;

/// The installed callback and its user data.
struct Target {
    callback: unsafe extern "C" fn(*const c_char, *mut c_void),
    user_data: *mut c_void,
}

// SAFETY: the pointer is only handed back to the caller's callback, and the
// caller promises (see genkit_azure_set_diagnostic_callback) that both may be
// used from the library's threads.
unsafe impl Send for Target {}
// SAFETY: as above; `&self` gives nothing but the same call.
unsafe impl Sync for Target {}

static TARGET: RwLock<Option<Target>> = RwLock::new(None);

thread_local! {
    /// Set while this thread runs the callback: setting a callback from
    /// inside it would wait for itself.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Core's sink: the callback when one is set, stderr otherwise.
fn deliver(text: &str) {
    let target = TARGET.read().unwrap_or_else(|p| p.into_inner());
    match &*target {
        Some(t) => {
            // A message has no NUL; escape one rather than lose the text.
            let message = CString::new(text.replace('\0', "\\0")).unwrap_or_default();
            let _ = IN_CALLBACK.try_with(|c| c.set(true));
            // SAFETY: the caller's callback with its own user data, as
            // documented on genkit_azure_diagnostic_callback; `message`
            // outlives the call. (It cannot unwind into Rust: an unwinding
            // extern "C" function aborts.)
            unsafe { (t.callback)(message.as_ptr(), t.user_data) };
            let _ = IN_CALLBACK.try_with(|c| c.set(false));
        }
        // Not eprintln!, which panics when stderr fails; this runs on the
        // library's threads, outside any panic boundary.
        None => {
            let _ = writeln!(std::io::stderr(), "genkit-azure: {text}");
        }
    }
}

/// Sends the library's diagnostics to `callback` (with `user_data`) instead
/// of stderr, for every handle of the process; NULL sends them to stderr
/// again (as `genkit-azure: <message>` lines), which is the default.
///
/// A diagnostic says what went wrong in delivery, storage or sampling and
/// what the library does about it; each kind is said at most once a minute
/// per handle, and none holds the instrumentation key, the connection string
/// or a token. Read `genkit_azure_diagnostic_callback` for the thread the
/// callback runs on and what it must not do.
///
/// When this returns, a previous callback has returned from every call in
/// progress and is never called again, so its `user_data` may be freed.
/// `user_data` must stay valid, and usable from other threads, until the
/// callback is replaced. Calling this from inside the callback is refused
/// with `GENKIT_AZURE_INVALID_ARGUMENT` (it would wait for itself).
///
/// # Safety
/// `callback` must be NULL or a function that behaves as documented on
/// `genkit_azure_diagnostic_callback`, callable from any thread with
/// `user_data` until it is replaced.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_set_diagnostic_callback(
    callback: genkit_azure_diagnostic_callback,
    user_data: *mut c_void,
) -> genkit_azure_status {
    boundary("genkit_azure_set_diagnostic_callback", || {
        if IN_CALLBACK.try_with(Cell::get).unwrap_or(false) {
            return Err(FfiError::invalid(
                "called from the diagnostic callback, which it would have to wait for",
            ));
        }
        let installed = callback.is_some();
        // Waits for calls in progress (they hold the lock for reading).
        *TARGET.write().unwrap_or_else(|p| p.into_inner()) = callback.map(|callback| Target {
            callback,
            user_data,
        });
        let sink: Option<DiagnosticSink> = installed.then(|| Arc::new(deliver) as DiagnosticSink);
        set_diagnostic_sink(sink);
        Ok(())
    })
}
