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

use crate::auth::{Auth, AuthPlan, AuthPlanError, AuthStatus, Refusal};
use crate::faults::{
    Action, Decision, FaultPlan, FaultPlanError, FaultStatus, Faults, TrackContext,
};
use crate::live::{Incoming as LiveIncoming, Live, LiveAnswer, LiveControl, LiveRequest};
use crate::store::{Batch, RequestRecord, Stats, Store};
use crate::EmulatorConfig;

pub struct State {
    instrumentation_key: Option<String>,
    store: Mutex<Store>,
    /// Signalled after every commit so `wait_for_items` wakes without polling.
    committed: Condvar,
    faults: Mutex<Faults>,
    /// Which bearer tokens track requests need (none by default), and what came.
    auth: Mutex<Auth>,
    /// How Live Metrics pings and posts are answered, and what came.
    live: Mutex<Live>,
    track_sequence: AtomicU64,
    shutdown: watch::Sender<bool>,
    started: Instant,
    /// End of the latest outage window (`None`: no outage). Always written under the
    /// `faults` lock, so it agrees with `Faults`. The accept loop closes the listener
    /// while the instant is in the future; connections close when it changes.
    outage: watch::Sender<Option<Instant>>,
    /// Whether the accept loop holds a bound listener right now.
    listening: watch::Sender<bool>,
    /// Longest track body accepted, in bytes of JSON after gzip; longer: 413.
    max_request_bytes: std::sync::atomic::AtomicUsize,
}

impl State {
    /// Fails only if the JSONL file can't be created.
    pub fn new(config: &EmulatorConfig) -> std::io::Result<State> {
        Ok(State {
            instrumentation_key: config.instrumentation_key.clone(),
            store: Mutex::new(Store::new(config.jsonl_path.as_deref())?),
            committed: Condvar::new(),
            faults: Mutex::new(Faults::normal()),
            auth: Mutex::new(Auth::default()),
            live: Mutex::new(Live::default()),
            track_sequence: AtomicU64::new(0),
            shutdown: watch::channel(false).0,
            started: Instant::now(),
            outage: watch::channel(None).0,
            listening: watch::channel(false).0,
            max_request_bytes: std::sync::atomic::AtomicUsize::new(
                config.max_request_bytes.unwrap_or(crate::MAX_REQUEST_BYTES),
            ),
        })
    }

    /// Longest track body accepted, in bytes of JSON after gzip.
    pub fn max_request_bytes(&self) -> usize {
        self.max_request_bytes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets the longest track body accepted (bytes of JSON after gzip).
    pub fn set_max_request_bytes(&self, bytes: usize) {
        self.max_request_bytes
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn instrumentation_key(&self) -> Option<&str> {
        self.instrumentation_key.as_deref()
    }

    /// A poisoned lock only means some handler panicked mid-request; the data is still
    /// usable, and refusing to serve would turn one bug into a cascade of test failures.
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn live(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers one Live Metrics request as the control says, and records it.
    pub(crate) fn live_answer(&self, req: LiveIncoming<'_>) -> LiveAnswer {
        self.live().answer(req, self.instrumentation_key.as_deref())
    }

    /// How pings and posts are answered from now on (same as `POST /live`).
    pub fn set_live(&self, control: LiveControl) {
        self.live().control = control;
    }

    pub fn live_control(&self) -> LiveControl {
        self.live().control.clone()
    }

    /// Every ping and post since start or reset, in arrival order.
    pub fn live_requests(&self) -> Vec<LiveRequest> {
        self.live().requests.clone()
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When this state was created (the emulator's start); `RequestRecord::received_us`
    /// counts from here.
    pub fn started_at(&self) -> Instant {
        self.started
    }

    pub(crate) fn micros_since_start(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.started).as_micros()).unwrap_or(u64::MAX)
    }

    fn auth(&self) -> MutexGuard<'_, Auth> {
        self.auth.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a request's bearer token and says whether the auth plan refuses it
    /// (`None`: it may go on). Any endpoint that wants the plan applied calls this.
    pub fn check_auth(&self, headers: &http::HeaderMap) -> Option<Refusal> {
        self.auth().check(headers, std::time::SystemTime::now())
    }

    /// Requires one of the plan's tokens from now on (an open plan requires none).
    pub fn set_auth(&self, plan: AuthPlan) -> Result<(), AuthPlanError> {
        plan.validate()?;
        self.auth().plan = plan;
        Ok(())
    }

    /// Adds one accepted token to the plan (replacing one with the same text), e.g.
    /// from a test's credential as it issues it.
    pub fn accept_token(&self, token: crate::auth::AcceptedToken) {
        let mut auth = self.auth();
        auth.plan.tokens.retain(|t| t.token != token.token);
        auth.plan.tokens.push(token);
    }

    /// The auth plan in force and what was seen since start or reset.
    pub fn auth_status(&self) -> AuthStatus {
        let auth = self.auth();
        AuthStatus {
            plan: auth.plan.clone(),
            stats: auth.stats.clone(),
        }
    }

    /// Consults the fault plan for one track request (advancing it) and returns the
    /// decision with the request's arrival time.
    pub(crate) fn decide(&self, path: &str) -> (Decision, Instant) {
        let received_at = Instant::now();
        let ctx = TrackContext {
            sequence: self.track_sequence.fetch_add(1, Ordering::Relaxed),
            path,
            received_at,
        };
        let decision = {
            let mut faults = self.faults();
            let decision = faults.decide(&ctx);
            if let Action::Outage { until } = decision.action {
                self.outage.send_replace(Some(until));
            }
            decision
        };
        if matches!(decision.action, Action::Outage { .. }) {
            self.store().note_outage();
        }
        (decision, received_at)
    }

    /// Installs a fault plan, replacing the current one (and ending any outage window
    /// unless the new plan starts one). Returns at once: the accept loop closes or
    /// reopens the listener shortly after (see `wait_listener_settled`).
    pub fn set_faults(&self, plan: FaultPlan) -> Result<(), FaultPlanError> {
        let now = Instant::now();
        let faults = Faults::new(plan, now)?;
        let outage = {
            let mut current = self.faults();
            *current = faults;
            let outage = current.outage_until(now);
            self.outage.send_replace(outage);
            outage
        };
        if outage.is_some() {
            self.store().note_outage();
        }
        Ok(())
    }

    /// Back to normal behaviour (same as `DELETE /faults`).
    pub fn clear_faults(&self) {
        self.set_faults(FaultPlan::default())
            .expect("the normal plan is valid");
    }

    /// The plan in force and how far it got.
    pub fn fault_status(&self) -> FaultStatus {
        self.faults().status(Instant::now())
    }

    /// End of the outage window active now, if any.
    pub fn outage_until(&self) -> Option<Instant> {
        self.faults().outage_until(Instant::now())
    }

    pub(crate) fn subscribe_outage(&self) -> watch::Receiver<Option<Instant>> {
        self.outage.subscribe()
    }

    pub(crate) fn set_listening(&self, listening: bool) {
        self.listening.send_replace(listening);
    }

    /// Whether the server is accepting connections right now (false during an outage
    /// window and after shutdown).
    pub fn is_listening(&self) -> bool {
        *self.listening.borrow()
    }

    /// True when the listener matches the fault plan: closed during an outage, open
    /// otherwise.
    pub fn listener_settled(&self) -> bool {
        self.is_listening() == self.outage_until().is_none()
    }

    /// Blocks until `listener_settled()` or `timeout` (returns false then, e.g. when the
    /// server isn't running or the port could not be bound again yet).
    pub fn wait_listener_settled(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.listener_settled() {
                return true;
            }
            if Instant::now() >= deadline || self.is_shutting_down() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Arrival time of each track request in `requests()`, same order.
    pub fn track_requests_at(&self) -> Vec<Instant> {
        self.store().requests_received_at()
    }

    pub(crate) fn commit(&self, batch: Batch) {
        self.store().commit(batch);
        self.committed.notify_all();
    }

    /// Clears what was received and counted (the fault and auth plans and the
    /// Live Metrics control stay).
    pub fn reset(&self) {
        self.auth().stats = Default::default();
        self.live().requests.clear();
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
