//! `genkit_azure_token_callback`: Microsoft Entra ID tokens from C.
//!
//! C has no credential object, so the config carries a function pointer and
//! a `void *` for it (`genkit_azure_config.token_callback`,
//! `token_user_data`). The library calls it on one of its own background
//! threads, never concurrently with itself, whenever it needs a token (at
//! start, before the current one expires, once after the service refused
//! one); the callback writes the token's text and expiry into out-parameters.
//! This is the one place the library keeps a caller's pointer past the call
//! that passed it: `token_user_data` must stay valid, and usable from
//! another thread, until `genkit_azure_free` returns. To make that enough,
//! free closes the way to the callback and waits for a call in progress
//! ([`TokenCalls`]) before the pipeline goes: after it returns, the callback
//! is never called again.
//!
//! Panics: core calls the credential inside its own boundary (a panic is a
//! failed call, said in a diagnostic); a panic cannot come out of the C
//! function itself (Rust aborts at an `extern "C"` frame).

use genkit_azure::{AccessToken, AzureTelemetryBuilder, CredentialError, TokenCredential};
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::{Arc, Condvar, Mutex};

/// How many bytes the buffer a token callback first gets holds: more than
/// any Entra ID token (they are a few KB). A longer token is asked for again
/// with a buffer of the length the callback reported.
pub const GENKIT_AZURE_TOKEN_CAPACITY: usize = 16384;

/// The longest token (or failure message) asked for again: past this a
/// reported length is taken for garbage.
const MAX_TOKEN_BYTES: usize = 1 << 20;

/// Gets a Microsoft Entra ID access token for `scope` (NUL-terminated,
/// e.g. "https://monitor.azure.com//.default").
///
/// On success: writes the token's text (ASCII; no NUL needed) into `token`,
/// which holds `token_capacity` bytes, sets `*token_len` to its length and
/// `*expires_on` to when it expires, in seconds since the Unix epoch, and
/// returns 0. A token longer than `token_capacity`: set `*token_len` to its
/// length and return 0 without writing it; the callback is called again at
/// once with a buffer that large.
///
/// On failure: returns any other value; it may write a message (UTF-8) into
/// `token` and set `*token_len` to its length, which the library says in a
/// diagnostic. The data waits, and the callback is called again later.
///
/// Called on a background thread of the library (never the threads that
/// call it), one call at a time; it may block (only token refreshing waits
/// for it). `user_data` is `genkit_azure_config.token_user_data`, as given.
pub type genkit_azure_token_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        scope: *const c_char,
        token: *mut c_char,
        token_capacity: usize,
        token_len: *mut usize,
        expires_on: *mut i64,
    ) -> c_int,
>;

/// The calls of one handle's callback: how many are running, and whether
/// new ones may start. The handle closes it when it is freed.
#[derive(Debug, Default)]
pub(crate) struct TokenCalls {
    /// (closed, calls running)
    state: Mutex<(bool, u32)>,
    idle: Condvar,
}

impl TokenCalls {
    /// Registers a call; `false` once closed (the handle is being freed).
    fn begin(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.0 {
            return false;
        }
        s.1 += 1;
        true
    }

    fn end(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.1 = s.1.saturating_sub(1);
        self.idle.notify_all();
    }

    /// No call starts from now on; returns once the one running (if any)
    /// has returned.
    pub fn close_and_wait(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.0 = true;
        while s.1 > 0 {
            s = self.idle.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// `builder` with the config's token callback as its credential, and the
/// calls' gate the handle must close when it is freed; unchanged (and
/// `None`) without a callback.
pub(crate) fn with_token_callback(
    builder: AzureTelemetryBuilder,
    (callback, user_data): (genkit_azure_token_callback, *mut c_void),
) -> (AzureTelemetryBuilder, Option<Arc<TokenCalls>>) {
    let calls = Arc::new(TokenCalls::default());
    match CallbackCredential::new(callback, user_data, Arc::clone(&calls)) {
        Some(credential) => (builder.credential(credential), Some(calls)),
        None => (builder, None),
    }
}

/// The C callback as core's credential.
pub(crate) struct CallbackCredential {
    callback: unsafe extern "C" fn(
        *mut c_void,
        *const c_char,
        *mut c_char,
        usize,
        *mut usize,
        *mut i64,
    ) -> c_int,
    user_data: *mut c_void,
    calls: Arc<TokenCalls>,
}

// SAFETY: the pointer is only handed back to the caller's callback, and the
// caller promises (genkit_azure_config's documentation) that it is valid and
// usable from the library's threads until genkit_azure_free returns; the
// callback is never called concurrently with itself (core's refresher).
unsafe impl Send for CallbackCredential {}
// SAFETY: as above; `&self` gives nothing but the same call.
unsafe impl Sync for CallbackCredential {}

impl CallbackCredential {
    /// `None` when no callback is set.
    pub fn new(
        callback: genkit_azure_token_callback,
        user_data: *mut c_void,
        calls: Arc<TokenCalls>,
    ) -> Option<Self> {
        Some(Self {
            callback: callback?,
            user_data,
            calls,
        })
    }

    /// One call with a buffer of `capacity` bytes: the return code, the
    /// length reported (clamped to nothing past the buffer when read), and
    /// the expiry.
    fn call(&self, scope: &CString, buffer: &mut [u8]) -> (c_int, usize, i64) {
        let mut len = 0usize;
        let mut expires_on = 0i64;
        // SAFETY: `scope` is NUL-terminated and outlives the call; `buffer`
        // holds `buffer.len()` writable bytes; the out-pointers are valid
        // locals; `user_data` is the caller's, valid as documented.
        let rc = unsafe {
            (self.callback)(
                self.user_data,
                scope.as_ptr(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                &mut len,
                &mut expires_on,
            )
        };
        (rc, len, expires_on)
    }
}

impl TokenCredential for CallbackCredential {
    fn get_token(&self, scopes: &[&str]) -> Result<AccessToken, CredentialError> {
        let scope = CString::new(scopes.join(" "))
            .map_err(|_| CredentialError::new("the scope holds a NUL character"))?;
        if !self.calls.begin() {
            return Err(CredentialError::new("the handle is being freed"));
        }
        let result = self.get_token_now(&scope);
        self.calls.end();
        result
    }
}

impl CallbackCredential {
    fn get_token_now(&self, scope: &CString) -> Result<AccessToken, CredentialError> {
        let mut buffer = vec![0u8; GENKIT_AZURE_TOKEN_CAPACITY];
        let result = loop {
            let (rc, len, expires_on) = self.call(scope, &mut buffer);
            let written = &buffer[..len.min(buffer.len())];
            if rc != 0 {
                let message = String::from_utf8_lossy(written);
                break Err(CredentialError::new(if message.trim().is_empty() {
                    format!("the token callback returned {rc}")
                } else {
                    format!("the token callback returned {rc}: {}", message.trim())
                }));
            }
            if len > buffer.len() {
                if len > MAX_TOKEN_BYTES || buffer.len() > GENKIT_AZURE_TOKEN_CAPACITY {
                    break Err(CredentialError::new(format!(
                        "the token callback reported a token of {len} bytes, which does not fit"
                    )));
                }
                buffer.iter_mut().for_each(|b| *b = 0);
                buffer = vec![0u8; len];
                continue;
            }
            break match std::str::from_utf8(written) {
                Ok(token) => Ok(AccessToken::expiring_at_unix(token, expires_on)),
                Err(_) => Err(CredentialError::new(
                    "the token callback wrote a token that is not UTF-8",
                )),
            };
        };
        // The token is copied into the result: leave no copy in this buffer.
        buffer.iter_mut().for_each(|b| *b = 0);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handle::tests::{config, with_handle};
    use genkit_azure::opentelemetry::logs::Severity;
    use genkit_azure::LogRecord;
    use genkit_azure_emulator::{AcceptedToken, AuthPlan, Emulator, EmulatorConfig};
    use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
    use std::sync::Mutex;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    const IKEY: &str = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";

    /// What the test callback answers, and what it saw.
    struct Fake {
        token: String,
        /// Non-zero: fail with this code and message.
        fail: (c_int, &'static str),
        calls: AtomicU32,
        capacities: Mutex<Vec<usize>>,
        scopes: Mutex<Vec<String>>,
        threads: Mutex<Vec<String>>,
    }

    impl Fake {
        fn new(token: String, fail: (c_int, &'static str)) -> Fake {
            Fake {
                token,
                fail,
                calls: AtomicU32::new(0),
                capacities: Mutex::default(),
                scopes: Mutex::default(),
                threads: Mutex::default(),
            }
        }
    }

    /// A C callback, written in Rust, answering from the `Fake` in `user_data`.
    unsafe extern "C" fn fake_callback(
        user_data: *mut c_void,
        scope: *const c_char,
        token: *mut c_char,
        token_capacity: usize,
        token_len: *mut usize,
        expires_on: *mut i64,
    ) -> c_int {
        // SAFETY: the test passes a `Fake` that outlives the handle, and the
        // library passes a valid scope, buffer and out-pointers.
        let (fake, scope) = unsafe {
            (
                &*(user_data as *const Fake),
                std::ffi::CStr::from_ptr(scope),
            )
        };
        fake.calls.fetch_add(1, SeqCst);
        fake.capacities.lock().unwrap().push(token_capacity);
        fake.scopes
            .lock()
            .unwrap()
            .push(scope.to_string_lossy().into_owned());
        fake.threads
            .lock()
            .unwrap()
            .push(std::thread::current().name().unwrap_or("").to_string());
        let (rc, text) = match fake.fail {
            (0, _) => (0, fake.token.as_bytes()),
            (rc, message) => (rc, message.as_bytes()),
        };
        // SAFETY: out-pointers valid; the copy stays within the capacity.
        unsafe {
            *token_len = text.len();
            *expires_on = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64
                + 3600;
            if text.len() <= token_capacity {
                std::ptr::copy_nonoverlapping(text.as_ptr(), token.cast(), text.len());
            }
        }
        rc
    }

    fn emulator_requiring(token: &str) -> Emulator {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        emu.set_auth(AuthPlan::tokens([AcceptedToken::new(token, None)]))
            .unwrap();
        emu
    }

    /// Runs a pipeline with `fake` as its token callback against `emu`,
    /// sends one log record, and returns the stats after a flush.
    fn send_one(emu: &Emulator, fake: &Fake) -> genkit_azure::Stats {
        let cs = CString::new(emu.connection_string(IKEY)).unwrap();
        let c = crate::config::genkit_azure_config {
            connection_string: cs.as_ptr(),
            batch_delay_ms: 20,
            retry_base_delay_ms: 20,
            retry_max_delay_ms: 50,
            token_callback: Some(fake_callback),
            token_user_data: fake as *const Fake as *mut c_void,
            ..config()
        };
        let mut stats = None;
        with_handle(&c, |_, telemetry| {
            telemetry
                .emit_log(LogRecord::new(Severity::Info, "from C"))
                .unwrap();
            let _ = telemetry.flush(Duration::from_secs(2));
            stats = Some(telemetry.stats());
        });
        stats.unwrap()
    }

    #[test]
    fn the_callbacks_token_is_on_every_request() {
        let token = "c-callback-token-Zk3QyA9p".to_string();
        let emu = emulator_requiring(&token);
        let fake = Fake::new(token.clone(), (0, ""));
        let stats = send_one(&emu, &fake);
        assert_eq!(stats.items_delivered, 1, "{stats:?}");
        let auth = emu.auth_status().stats;
        assert_eq!((auth.missing, auth.unknown), (0, 0), "{auth:?}");
        assert!(auth.accepted >= 1);
        assert_eq!(fake.calls.load(SeqCst), 1);
        assert_eq!(
            *fake.scopes.lock().unwrap(),
            ["https://monitor.azure.com//.default"]
        );
        assert_eq!(
            *fake.capacities.lock().unwrap(),
            [GENKIT_AZURE_TOKEN_CAPACITY]
        );
        let threads = fake.threads.lock().unwrap();
        assert!(threads[0].starts_with("genkit-azure"), "{threads:?}");
    }

    #[test]
    fn a_token_longer_than_the_buffer_is_asked_for_again_with_room_for_it() {
        let token = "L".repeat(GENKIT_AZURE_TOKEN_CAPACITY + 100);
        let emu = emulator_requiring(&token);
        let fake = Fake::new(token.clone(), (0, ""));
        let stats = send_one(&emu, &fake);
        assert_eq!(stats.items_delivered, 1, "{stats:?}");
        assert_eq!(
            *fake.capacities.lock().unwrap(),
            [GENKIT_AZURE_TOKEN_CAPACITY, token.len()]
        );
    }

    #[test]
    fn a_failing_callback_keeps_the_data_and_sends_nothing() {
        let emu = emulator_requiring("never-given-token");
        let fake = Fake::new(String::new(), (7, "no identity on this host"));
        let stats = send_one(&emu, &fake);
        assert_eq!(stats.items_delivered, 0, "{stats:?}");
        // Kept until the end: counted at shutdown as not sent (no disk here),
        // never as rejected.
        assert_eq!(stats.items_rejected, 0, "{stats:?}");
        assert!(fake.calls.load(SeqCst) >= 1);
        assert_eq!(emu.stats().requests, 0);
        let calls = Arc::new(TokenCalls::default());
        let credential = CallbackCredential::new(
            Some(fake_callback),
            &fake as *const Fake as *mut c_void,
            Arc::clone(&calls),
        )
        .unwrap();
        let err = credential.get_token(&["s/.default"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the token callback returned 7: no identity on this host"
        );
        // Once the handle closed the way, the callback is not called.
        let before = fake.calls.load(SeqCst);
        calls.close_and_wait();
        let err = credential.get_token(&["s/.default"]).unwrap_err();
        assert_eq!(err.to_string(), "the handle is being freed");
        assert_eq!(fake.calls.load(SeqCst), before);
        assert!(CallbackCredential::new(None, std::ptr::null_mut(), calls).is_none());
    }

    /// Free waits for a call in progress: `token_user_data` may be freed as
    /// soon as it returns.
    #[test]
    fn free_waits_for_a_call_in_progress_and_then_none_starts() {
        let calls = Arc::new(TokenCalls::default());
        assert!(calls.begin());
        let waiter = {
            let calls = Arc::clone(&calls);
            std::thread::spawn(move || {
                let started = std::time::Instant::now();
                calls.close_and_wait();
                started.elapsed()
            })
        };
        std::thread::sleep(Duration::from_millis(150));
        calls.end();
        let waited = waiter.join().unwrap();
        assert!(waited >= Duration::from_millis(100), "{waited:?}");
        assert!(!calls.begin());
    }
}
