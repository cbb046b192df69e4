//! The core's diagnostics in Python: records of the `genkit_azure_rs` logger.
//!
//! Core says a diagnostic on whichever thread noticed the trouble, usually one
//! of the pipeline's runtime threads and possibly while it holds one of the
//! pipeline's locks. Taking the GIL there could deadlock against a Python
//! thread that holds the GIL and waits for that lock, so the sink only queues
//! the text (bounded, never waiting). One thread of its own, which holds no
//! lock of the pipeline, takes the GIL for each text and hands it to
//! `genkit_azure_rs._diagnostics.emit`, which logs it (or writes it to stderr
//! when nobody listens). The log handler never exports that logger's records,
//! so a failing export cannot feed itself. Rate limiting stays core's.

use genkit_azure::face::{set_diagnostic_sink, DiagnosticSink};
use pyo3::prelude::*;
use std::sync::mpsc::{sync_channel, TrySendError};
use std::sync::{Arc, Mutex};

/// Texts waiting for the GIL; past that they are dropped (core says each
/// kind at most once a minute, so this is never reached in practice).
const BACKLOG: usize = 64;

/// The sink installed last, kept so that a reinstall leaks it instead of
/// dropping it (see `install`).
static INSTALLED: Mutex<Option<DiagnosticSink>> = Mutex::new(None);

/// Routes core's diagnostics to Python's logging; stderr stays the fallback.
/// Called at import and again in a forked child, whose copy of the thread
/// does not exist: the child gets a thread and a queue of its own, and the
/// parent's sink is leaked rather than dropped, since dropping its sender
/// would touch a channel the missing thread was parked on.
pub(crate) fn install() {
    let (sender, receiver) = sync_channel::<String>(BACKLOG);
    let spawned = std::thread::Builder::new()
        .name("genkit-azure-diagnostics".into())
        .spawn(move || {
            for text in receiver {
                // None while the interpreter shuts down: stderr, as before.
                let said = Python::try_attach(|py| say(py, &text));
                if !matches!(said, Some(Ok(()))) {
                    eprintln!("genkit-azure: {text}");
                }
            }
        });
    if spawned.is_err() {
        return; // no thread: core keeps writing to stderr
    }
    let sink: DiagnosticSink = Arc::new(move |text: &str| match sender.try_send(text.to_owned()) {
        Ok(()) | Err(TrySendError::Full(_)) => {}
        Err(TrySendError::Disconnected(text)) => eprintln!("genkit-azure: {text}"),
    });
    let mut installed = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(old) = installed.replace(Arc::clone(&sink)) {
        std::mem::forget(old);
    }
    set_diagnostic_sink(Some(sink));
}

fn say(py: Python<'_>, text: &str) -> PyResult<()> {
    py.import("genkit_azure_rs._diagnostics")?
        .call_method1("emit", (text,))?;
    Ok(())
}

/// `_native._install_diagnostic_sink()`: for the package's after-fork hook.
#[pyfunction]
pub(crate) fn _install_diagnostic_sink() {
    install();
}
