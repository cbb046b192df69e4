//! `genkit_azure_handle`: one running telemetry pipeline, owned by C.
//!
//! Lifecycle: `genkit_azure_new` -> export/emit/flush (any thread, any
//! number of times) -> `genkit_azure_shutdown` (delivers what is queued) ->
//! `genkit_azure_free`. Freeing without shutting down stops the background
//! threads at once and loses whatever was still queued.

use crate::auth::{genkit_azure_token_callback, with_token_callback, TokenCalls};
use crate::boundary::{boundary, try_ref, try_write, FfiError, FfiResult, Path};
use crate::config::{builder, genkit_azure_config};
use crate::growable::read_sized;
use crate::status::genkit_azure_status::{self, *};
use genkit_azure::face::Face;
use genkit_azure::{AzureTelemetry, AzureTelemetryBuilder, Pushed};
use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;

/// An opaque handle to a running telemetry pipeline (background threads, an
/// ingest queue and an HTTP client). Create with `genkit_azure_new`, release
/// with `genkit_azure_free`. All functions taking a handle may be called from
/// several threads at once, except `genkit_azure_free` and
/// `genkit_azure_after_fork_child`, which need it to themselves.
// Not repr(C): C only ever sees a pointer, so cbindgen emits an opaque
// forward declaration and the layout stays ours to change.
pub struct genkit_azure_handle {
    telemetry: AzureTelemetry,
    /// The token callback's calls, when the config has one: closed when the
    /// handle is freed, so the caller's `token_user_data` is never used after.
    token_calls: Option<Arc<TokenCalls>>,
    /// What built `telemetry`, without the credential: a forked child
    /// builds its own pipeline from it (`genkit_azure_after_fork_child`).
    builder: AzureTelemetryBuilder,
    /// The config's token callback and its user data, for the same.
    token: (genkit_azure_token_callback, *mut c_void),
    /// `fork::generation()` when `telemetry` was built: another value means
    /// this process was forked since, and `telemetry`'s threads are gone.
    generation: u64,
}

impl Drop for genkit_azure_handle {
    fn drop(&mut self) {
        // Before the pipeline goes: no new call of the C callback, and the
        // one running (if any) has returned, when free returns.
        if let Some(calls) = &self.token_calls {
            calls.close_and_wait();
        }
    }
}

impl genkit_azure_handle {
    /// Borrows the pipeline behind a handle pointer from C, refusing a
    /// handle whose pipeline a fork left behind.
    ///
    /// # Safety
    /// `handle` must be NULL or a live pointer from `genkit_azure_new`.
    pub(crate) unsafe fn telemetry<'a>(
        handle: *const genkit_azure_handle,
    ) -> FfiResult<&'a AzureTelemetry> {
        // SAFETY: forwarded from the caller.
        let h = unsafe { try_ref(handle, &Path::Root("handle")) }?;
        if h.generation != fork::generation() {
            return Err(FfiError::new(
                GENKIT_AZURE_FORKED_CHILD,
                "the handle was made before this process was forked, and its pipeline's \
                 threads stayed in the parent; call genkit_azure_after_fork_child(handle) \
                 in the child first",
            ));
        }
        Ok(&h.telemetry)
    }
}

/// Fork detection: a counter that a `pthread_atfork` child handler bumps,
/// so that a handle can tell, with one atomic load, that the process it
/// runs in is not the one that built its pipeline.
pub(crate) mod fork {
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

    static FORKS: AtomicU64 = AtomicU64::new(0);

    /// How many forks this process descends from since the library first
    /// watched (0 in the process that loaded it).
    pub fn generation() -> u64 {
        FORKS.load(SeqCst)
    }

    #[cfg(unix)]
    extern "C" fn in_child() {
        // A lock-free atomic: async-signal-safe, as a child handler must be.
        FORKS.fetch_add(1, SeqCst);
    }

    #[cfg(unix)]
    extern "C" {
        // glibc's (libc_nonshared's) version records this library's
        // __dso_handle, so the handler goes away if the library is unloaded.
        fn pthread_atfork(
            prepare: Option<extern "C" fn()>,
            parent: Option<extern "C" fn()>,
            child: Option<extern "C" fn()>,
        ) -> std::ffi::c_int;
    }

    /// Starts counting forks (once per process; a child inherits it).
    pub fn watch() {
        #[cfg(unix)]
        {
            static ONCE: std::sync::Once = std::sync::Once::new();
            // SAFETY: registers a handler that only touches an atomic.
            ONCE.call_once(|| unsafe {
                pthread_atfork(None, None, Some(in_child));
            });
        }
    }
}

/// Turns the outcome of a push into the C result. A full queue is reported
/// (the caller may want to slow down) but is not an error of the input. A
/// signal turned off by configuration (`disable_logs`, ...) is not either:
/// the item is left out, as asked.
pub(crate) fn pushed(result: genkit_azure::Result<Pushed>, what: &str) -> FfiResult {
    match result? {
        Pushed::Accepted | Pushed::Disabled => Ok(()),
        Pushed::DroppedQueueFull => Err(FfiError::new(
            GENKIT_AZURE_QUEUE_FULL,
            format!("the ingest queue is full; the {what} was dropped and counted in dropped_queue_full"),
        )),
    }
}

/// Builds a handle from a config read in full (either version).
///
/// # Safety
/// Every pointer in `config` must be NULL or valid as documented on
/// `genkit_azure_config`; `out` must be NULL or valid for writing a pointer.
pub(crate) unsafe fn new_handle(
    config: Result<genkit_azure_config, FfiError>,
    out: *mut *mut genkit_azure_handle,
) -> FfiResult {
    let out_path = Path::Root("out");
    // Clear *out first so that no failure leaves a stale pointer behind.
    // SAFETY: forwarded from the caller.
    unsafe { try_write(out, std::ptr::null_mut(), &out_path) }?;
    let config = config?;
    // SAFETY: forwarded from the caller.
    let builder = unsafe { builder(&config, &Path::Root("config")) }?;
    let token = (config.token_callback, config.token_user_data);
    fork::watch();
    let generation = fork::generation();
    let (with_credential, token_calls) = with_token_callback(builder.clone(), token);
    let handle = Box::new(genkit_azure_handle {
        // Errors name settings as C does (`config.batch_delay_ms`).
        telemetry: with_credential.build_as(Face::C)?,
        token_calls,
        builder,
        token,
        generation,
    });
    // SAFETY: checked non-NULL and aligned above.
    unsafe { out.write(Box::into_raw(handle)) };
    Ok(())
}

/// Creates a pipeline and starts its background threads.
///
/// `config` must not be NULL and its `struct_size` must be set; otherwise
/// zero-initialised means "all defaults", with the connection string read
/// from APPLICATIONINSIGHTS_CONNECTION_STRING.
/// On success `*out` receives the handle; on failure `*out` is set to NULL (if
/// `out` is not NULL) and the status says why: `GENKIT_AZURE_INVALID_CONFIG`
/// for a bad connection string or setting, with a message that names the part
/// and never contains the instrumentation key;
/// `GENKIT_AZURE_INVALID_STRUCT_SIZE` for a `struct_size` left 0. Nothing is
/// sent over the network until telemetry is exported.
///
/// The header maps `genkit_azure_new` to this function (see
/// `GENKIT_AZURE_ABI_MAJOR`).
///
/// # Safety
/// `config` must be NULL or point to a valid `genkit_azure_config` of
/// `struct_size` bytes (its strings NULL or NUL-terminated); `out` must be
/// NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_new_v1(
    config: *const genkit_azure_config,
    out: *mut *mut genkit_azure_handle,
) -> genkit_azure_status {
    boundary("genkit_azure_new", || {
        // SAFETY: forwarded from the caller.
        let config = unsafe { read_sized(config, &Path::Root("config")) };
        // SAFETY: forwarded from the caller.
        unsafe { new_handle(config, out) }
    })
}

/// In a child process forked after `genkit_azure_new`: gives the handle a
/// fresh pipeline (new background threads, its own queue, the same settings
/// and storage directory), so the child exports its own telemetry while the
/// parent goes on with its own. Call it in the child right after `fork()`,
/// before any other call on the handle and before the child starts threads
/// that use it; until then every call on the handle in the child returns
/// `GENKIT_AZURE_FORKED_CHILD`.
///
/// What the parent had queued stays the parent's to send (the child never
/// sends it, so nothing arrives twice); files waiting in the storage
/// directory are leased by whichever process takes them first. The child's
/// stats start at 0. The old pipeline is left as it is, never stopped or
/// freed: its threads did not survive the fork, and waiting on them would
/// wait forever (its memory stays until the child exits).
///
/// In the process that made the pipeline (no fork since) it does nothing
/// and returns `GENKIT_AZURE_OK`, so calling it after any fork is safe.
/// A failure to build the pipeline (e.g. no threads) returns its status
/// and leaves the handle refusing calls. `genkit_azure_free` works on a
/// handle either way (without waiting on the parent's threads). Forks are
/// noticed by a `pthread_atfork` handler, so `fork()` (not a raw `clone`
/// system call) must make the child.
///
/// # Safety
/// `handle` must be NULL or a live handle from `genkit_azure_new` that no
/// other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_after_fork_child(
    handle: *mut genkit_azure_handle,
) -> genkit_azure_status {
    boundary("genkit_azure_after_fork_child", || {
        // SAFETY: forwarded from the caller (checked non-NULL and aligned
        // first); nobody else uses the handle during the call.
        let _ = unsafe { try_ref(handle.cast_const(), &Path::Root("handle")) }?;
        // SAFETY: as above.
        let h = unsafe { &mut *handle };
        let now = fork::generation();
        if h.generation == now {
            return Ok(());
        }
        let (builder, token_calls) = with_token_callback(h.builder.clone(), h.token);
        let telemetry = builder.build_as(Face::C)?;
        // Leaked, not dropped: dropping waits for threads (and may need
        // locks held by threads) that stayed in the parent.
        std::mem::forget(std::mem::replace(&mut h.telemetry, telemetry));
        std::mem::forget(std::mem::replace(&mut h.token_calls, token_calls));
        h.generation = now;
        Ok(())
    })
}

fn timeout(ms: u32) -> Duration {
    Duration::from_millis(u64::from(ms))
}

/// Sends everything queued so far and waits up to `timeout_ms` milliseconds
/// for it.
///
/// `GENKIT_AZURE_OK`: everything accepted before the call (and since the previous flush) was delivered or written to disk to be sent from there, and none of it was lost (the stats show what waits on disk).
/// `GENKIT_AZURE_INCOMPLETE` (not fatal): the timeout passed first, or the
/// endpoint refused or we dropped some items; the stats say which.
/// `GENKIT_AZURE_SHUT_DOWN` after `genkit_azure_shutdown`.
///
/// # Safety
/// `handle` must be NULL or a live handle from `genkit_azure_new`.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_flush(
    handle: *mut genkit_azure_handle,
    timeout_ms: u32,
) -> genkit_azure_status {
    boundary("genkit_azure_flush", || {
        // SAFETY: forwarded from the caller.
        let telemetry = unsafe { genkit_azure_handle::telemetry(handle) }?;
        if telemetry.flush(timeout(timeout_ms))? {
            Ok(())
        } else {
            Err(FfiError::new(
                GENKIT_AZURE_INCOMPLETE,
                format!(
                    "not everything was delivered within {timeout_ms} ms; see genkit_azure_get_stats"
                ),
            ))
        }
    })
}

/// Delivers what it can within `timeout_ms` milliseconds, then stops the
/// background threads. Afterwards every call on the handle except
/// `genkit_azure_get_stats` and `genkit_azure_free` returns
/// `GENKIT_AZURE_SHUT_DOWN`; the handle must still be freed.
///
/// `GENKIT_AZURE_OK`: everything accepted was delivered or written to disk
/// to be sent from there, and none of it was lost.
/// `GENKIT_AZURE_INCOMPLETE`: some items were lost (counted in the stats).
/// `GENKIT_AZURE_SHUT_DOWN`: it was already shut down.
///
/// # Safety
/// `handle` must be NULL or a live handle from `genkit_azure_new`.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_shutdown(
    handle: *mut genkit_azure_handle,
    timeout_ms: u32,
) -> genkit_azure_status {
    boundary("genkit_azure_shutdown", || {
        // SAFETY: forwarded from the caller.
        let telemetry = unsafe { genkit_azure_handle::telemetry(handle) }?;
        if telemetry.shutdown(timeout(timeout_ms))? {
            Ok(())
        } else {
            Err(FfiError::new(
                GENKIT_AZURE_INCOMPLETE,
                format!("shut down, but not everything was delivered within {timeout_ms} ms; see genkit_azure_get_stats"),
            ))
        }
    })
}

/// Releases a handle. NULL is a no-op. If the handle was not shut down, its
/// background threads are stopped without waiting and anything still queued
/// is lost; call `genkit_azure_shutdown` first to deliver it. A call of the
/// config's `token_callback` still running is waited for; after this
/// returns the callback is never called again (so `token_user_data` may be
/// freed). Never call it from the token callback. In a child forked after
/// `genkit_azure_new` that did not call `genkit_azure_after_fork_child`, it
/// releases the handle without touching its pipeline, whose threads stayed
/// in the parent (its memory stays until the child exits).
///
/// # Safety
/// `handle` must be NULL or a live handle from `genkit_azure_new` that no other
/// thread is using; it must not be used again afterwards.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_free(handle: *mut genkit_azure_handle) {
    // There is no status to return, but a panic while dropping must still not
    // reach C; if one happens it is recorded as this thread's last error.
    let _ = boundary("genkit_azure_free", || {
        if !handle.is_null() {
            // SAFETY: the caller gives back ownership of a pointer made by
            // Box::into_raw in genkit_azure_new.
            let handle = unsafe { Box::from_raw(handle) };
            if handle.generation == fork::generation() {
                drop(handle);
            } else {
                // In a forked child whose handle was not renewed: stopping
                // the pipeline would wait for the parent's threads. Leak it.
                std::mem::forget(handle);
            }
        }
        Ok(())
    });
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::span::genkit_azure_export_span_v1 as genkit_azure_export_span;
    use crate::span::tests::valid_span;
    use crate::stats::{genkit_azure_get_stats_v1 as genkit_azure_get_stats, genkit_azure_stats};
    use genkit_azure::opentelemetry::Key;
    use genkit_azure_new_v1 as genkit_azure_new;
    use std::ffi::CStr;

    /// Nothing listens on the discard port; nothing here waits for delivery.
    pub(crate) const UNREACHABLE: &CStr =
        c"InstrumentationKey=00000000-0000-4000-8000-000000000001;IngestionEndpoint=http://127.0.0.1:9/";

    /// A config of defaults pointed at nothing, with no disk store.
    pub(crate) fn config() -> genkit_azure_config {
        // SAFETY: all-zero is a valid config ("all defaults").
        let zeroed: genkit_azure_config = unsafe { std::mem::zeroed() };
        genkit_azure_config {
            struct_size: size_of::<genkit_azure_config>(),
            connection_string: UNREACHABLE.as_ptr(),
            // Never leave files behind in the shared temp directory.
            disable_offline_storage: true,
            ..zeroed
        }
    }

    /// Starts a pipeline from `c`, hands its handle and pipeline to
    /// `check`, and frees it.
    pub(crate) fn with_handle(
        c: &genkit_azure_config,
        check: impl FnOnce(*mut genkit_azure_handle, &AzureTelemetry),
    ) {
        let mut handle = std::ptr::null_mut();
        // SAFETY: a valid config and out pointer; the handle is freed once.
        unsafe {
            assert_eq!(
                genkit_azure_new(c, &mut handle),
                GENKIT_AZURE_OK,
                "{}",
                last_error()
            );
            check(handle, genkit_azure_handle::telemetry(handle).unwrap());
            genkit_azure_free(handle);
        }
    }

    pub(crate) fn last_error() -> String {
        // SAFETY: the library's own NUL-terminated, thread-owned string.
        unsafe { CStr::from_ptr(crate::status::genkit_azure_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_full_queue_is_reported_but_not_an_input_error() {
        assert!(pushed(Ok(Pushed::Accepted), "span").is_ok());
        let e = pushed(Ok(Pushed::DroppedQueueFull), "span").unwrap_err();
        assert_eq!(e.status, GENKIT_AZURE_QUEUE_FULL);
        assert!(e.message.contains("dropped_queue_full"), "{}", e.message);
        let e = pushed(Err(genkit_azure::Error::ShutDown), "span").unwrap_err();
        assert_eq!(e.status, GENKIT_AZURE_SHUT_DOWN);
    }

    #[test]
    fn failed_new_clears_out_and_names_the_setting() {
        let mut out = std::ptr::NonNull::<genkit_azure_handle>::dangling().as_ptr();
        let bad = genkit_azure_config {
            max_batch_size: 40_000,
            ..config()
        };
        // SAFETY: valid config and out pointer.
        let status = unsafe { genkit_azure_new(&bad, &mut out) };
        assert_eq!(status, GENKIT_AZURE_INVALID_CONFIG);
        assert!(
            out.is_null(),
            "a failed new must not leave a pointer behind"
        );
        assert!(last_error().contains("max_batch_size"), "{}", last_error());

        let bad = genkit_azure_config {
            storage_directory: c"".as_ptr(),
            ..config()
        };
        // SAFETY: as above.
        let status = unsafe { genkit_azure_new(&bad, &mut out) };
        assert_eq!(status, GENKIT_AZURE_INVALID_CONFIG);
        assert!(
            last_error().contains("config.storage_directory is empty"),
            "{}",
            last_error()
        );

        for (bad, named) in [
            (
                genkit_azure_config {
                    thread_nice: 20,
                    ..config()
                },
                "config.thread_nice: must be between 0 and 19, got 20",
            ),
            (
                genkit_azure_config {
                    max_batch_bytes: 10,
                    ..config()
                },
                "max_batch_bytes",
            ),
        ] {
            // SAFETY: as above.
            let status = unsafe { genkit_azure_new(&bad, &mut out) };
            assert_eq!(status, GENKIT_AZURE_INVALID_CONFIG);
            assert!(last_error().contains(named), "{}", last_error());
        }
    }

    #[test]
    fn lifecycle_from_new_to_free() {
        let mut handle = std::ptr::null_mut();
        let c = genkit_azure_config {
            service_name: c"unit".as_ptr(),
            batch_delay_ms: crate::config::GENKIT_AZURE_NO_BATCH_DELAY,
            ..config()
        };
        // SAFETY: every pointer below is a live local or the handle made here.
        unsafe {
            assert_eq!(
                genkit_azure_new(&c, &mut handle),
                GENKIT_AZURE_OK,
                "{}",
                last_error()
            );
            let telemetry = genkit_azure_handle::telemetry(handle).unwrap();
            let name = telemetry
                .resource()
                .get(&Key::from_static_str("service.name"));
            assert_eq!(name.map(|v| v.to_string()).as_deref(), Some("unit"));

            assert_eq!(
                genkit_azure_export_span(handle, &valid_span()),
                GENKIT_AZURE_OK
            );
            let mut stats = genkit_azure_stats {
                struct_size: size_of::<genkit_azure_stats>(),
                ..Default::default()
            };
            assert_eq!(genkit_azure_get_stats(handle, &mut stats), GENKIT_AZURE_OK);
            assert_eq!(stats.spans_accepted, 1);

            // The endpoint is unreachable, so this can only time out or give up.
            let status = genkit_azure_shutdown(handle, 50);
            assert!(
                matches!(status, GENKIT_AZURE_OK | GENKIT_AZURE_INCOMPLETE),
                "{status:?}: {}",
                last_error()
            );
            assert_eq!(
                genkit_azure_export_span(handle, &valid_span()),
                GENKIT_AZURE_SHUT_DOWN
            );
            assert!(last_error().contains("shut down"), "{}", last_error());
            assert_eq!(genkit_azure_flush(handle, 10), GENKIT_AZURE_SHUT_DOWN);
            assert_eq!(genkit_azure_shutdown(handle, 10), GENKIT_AZURE_SHUT_DOWN);
            assert_eq!(genkit_azure_get_stats(handle, &mut stats), GENKIT_AZURE_OK);
            assert_eq!(stats.spans_accepted, 1);
            genkit_azure_free(handle);
            genkit_azure_free(std::ptr::null_mut());
        }
    }

    #[test]
    fn after_fork_child_does_nothing_in_the_process_that_made_the_pipeline() {
        with_handle(&config(), |handle, _| {
            // SAFETY: a live handle, used by no other thread.
            unsafe {
                assert_eq!(
                    genkit_azure_export_span(handle, &valid_span()),
                    GENKIT_AZURE_OK
                );
                assert_eq!(genkit_azure_after_fork_child(handle), GENKIT_AZURE_OK);
                // A fresh pipeline would count from 0.
                let after = genkit_azure_handle::telemetry(handle).unwrap();
                assert_eq!(after.stats().spans_accepted, 1, "the same pipeline");
                assert_eq!(
                    genkit_azure_after_fork_child(std::ptr::null_mut()),
                    GENKIT_AZURE_NULL_ARGUMENT
                );
            }
            assert!(last_error().starts_with("genkit_azure_after_fork_child: handle is NULL"));
        });
    }

    #[test]
    fn free_without_shutdown_does_not_wait() {
        let mut handle = std::ptr::null_mut();
        let started = std::time::Instant::now();
        // SAFETY: valid locals; the handle is freed once.
        unsafe {
            assert_eq!(
                genkit_azure_new(&config(), &mut handle),
                GENKIT_AZURE_OK,
                "{}",
                last_error()
            );
            assert_eq!(
                genkit_azure_export_span(handle, &valid_span()),
                GENKIT_AZURE_OK
            );
            genkit_azure_free(handle);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
