//! State shared by the HTTP handlers and the synchronous `Emulator` handle.
//!
//! Plain `std::sync::Mutex` is used (not tokio's) because no lock is ever held across
//! an `.await`, and because the synchronous test-facing API (`wait_for_items`) needs a
//! `Condvar` to sleep on without a runtime.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

use crate::faults::{Behaviour, Faults, TrackContext};
use crate::store::{Batch, RequestRecord, Stats, Store};
use crate::EmulatorConfig;

pub struct State {
    instrumentation_key: Option<String>,
    store: Mutex<Store>,
    /// Signalled after every commit so `wait_for_items` wakes without polling.
    committed: Condvar,
    faults: Mutex<Faults>,
    track_sequence: AtomicU64,
    shutdown: watch::Sender<bool>,
}

impl State {
    /// Fails only if the JSONL file can't be created.
    pub fn new(config: &EmulatorConfig) -> std::io::Result<State> {
        Ok(State {
            instrumentation_key: config.instrumentation_key.clone(),
            store: Mutex::new(Store::new(config.jsonl_path.as_deref())?),
            committed: Condvar::new(),
            faults: Mutex::new(Faults::normal()),
            track_sequence: AtomicU64::new(0),
            shutdown: watch::channel(false).0,
        })
    }

    pub fn instrumentation_key(&self) -> Option<&str> {
        self.instrumentation_key.as_deref()
    }

    /// A poisoned lock only means some handler panicked mid-request; the data is still
    /// usable, and refusing to serve would turn one bug into a cascade of test failures.
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Consults the fault policy for one track request.
    pub(crate) fn decide(&self, path: &str) -> Behaviour {
        let ctx = TrackContext {
            sequence: self.track_sequence.fetch_add(1, Ordering::Relaxed),
            path,
            received_at: Instant::now(),
        };
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .decide(&ctx)
    }

    /// Replaces the fault policy (for the fault-injection endpoint a later task adds).
    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap_or_else(|e| e.into_inner()) = faults;
    }

    pub(crate) fn commit(&self, batch: Batch) {
        self.store().commit(batch);
        self.committed.notify_all();
    }

    pub fn reset(&self) {
        self.store().reset();
        self.committed.notify_all();
    }

    pub fn stats(&self) -> Stats {
        self.store().stats()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.store().requests()
    }

    pub fn envelopes(&self) -> Vec<Value> {
        // Parse outside the lock would need a copy of the texts anyway; parsing under
        // it is fine for a test API and keeps arrival order trivially consistent.
        self.store()
            .envelope_texts()
            .iter()
            .map(|t| serde_json::from_str(t).expect("stored envelopes are valid JSON"))
            .collect()
    }

    pub(crate) fn envelopes_json_array(&self) -> String {
        self.store().envelopes_json_array()
    }

    /// Blocks until at least `n` items have been accepted or `timeout` elapses.
    pub fn wait_for_items(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut store = self.store();
        loop {
            if store.items_accepted() >= n as u64 {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            store = self
                .committed
                .wait_timeout(store, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Asks the server to stop: the accept loop ends and open connections finish their
    /// in-flight request, then close. Idempotent.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    pub(crate) fn subscribe_shutdown(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}
