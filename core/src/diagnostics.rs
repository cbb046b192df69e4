//! The library's own diagnostics: what went wrong in delivery, said once in a
//! while, never per item, and never with a secret in it.
//!
//! Where they go, first that applies:
//! - a sink a face installed (`face::set_diagnostic_sink`). The Python face
//!   does: its diagnostics become warnings of the `genkit_azure_rs` logger,
//!   which its log handler never exports, so there is no feedback loop; the C
//!   face's optional callback is one too. A sink may be called on a runtime
//!   thread holding a pipeline lock, so it must not block (Python's queues the
//!   text for a thread of its own).
//! - `tracing`, when the process has a global subscriber (a Rust host that
//!   set one listens there): a WARN event of target `genkit_azure`, the text in
//!   its message.
//! - stderr, with a `genkit-azure:` prefix, where nobody else listens.
//!
//! Each is rate-limited the same way (`Diagnostics::say`), and no text holds a
//! secret (every caller words its text without keys, tokens or URLs' queries).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

pub type DiagnosticSink = Arc<dyn Fn(&str) + Send + Sync>;

/// How often the same kind of diagnostic may be said.
const QUIET_PERIOD: Duration = Duration::from_secs(60);

static SINK: RwLock<Option<DiagnosticSink>> = RwLock::new(None);

/// Replaces where diagnostics go (process-wide). `None` restores stderr.
pub fn set_diagnostic_sink(sink: Option<DiagnosticSink>) {
    *SINK.write().unwrap_or_else(|p| p.into_inner()) = sink;
}

#[derive(Debug, Default)]
pub(crate) struct Diagnostics {
    last: Mutex<HashMap<&'static str, Instant>>,
}

impl Diagnostics {
    /// Says `message` unless a diagnostic of the same `kind` was said in the
    /// last minute. Returns whether it was said.
    pub fn say(&self, kind: &'static str, message: impl FnOnce() -> String) -> bool {
        let now = Instant::now();
        {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            match last.get(kind) {
                Some(t) if now.duration_since(*t) < QUIET_PERIOD => return false,
                _ => {
                    last.insert(kind, now);
                }
            }
        }
        emit(&message());
        true
    }

    /// Says `message` now, for a caller that says each thing once already
    /// (a metric's first overflow): the per-kind quiet period would hide a
    /// second metric's.
    pub fn say_now(&self, message: &str) {
        emit(message);
    }
}

fn emit(text: &str) {
    let sink = SINK.read().unwrap_or_else(|p| p.into_inner()).clone();
    match sink {
        Some(sink) => sink(text),
        // Only a global subscriber is seen from the runtime's threads (a
        // scoped one belongs to the thread that set it).
        None if tracing::dispatcher::has_been_set() => {
            tracing::warn!(target: "genkit_azure", "{text}");
        }
        None => eprintln!("genkit-azure: {text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_kind_is_said_once_per_period() {
        let d = Diagnostics::default();
        assert!(d.say("test-kind-a", || "first".into()));
        assert!(!d.say("test-kind-a", || "second".into()));
        assert!(d.say("test-kind-b", || "other kind".into()));
    }
}
