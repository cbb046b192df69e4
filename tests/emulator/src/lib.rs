//! A local Application Insights ingestion emulator.
//!
//! It speaks the real track protocol (`POST /v2/track`, `POST /v2.1/track`, gzip or
//! plain, JSON array or NDJSON), validates envelopes the way the service does, answers
//! 200/206/400 with the service's response body, and keeps what it accepted so tests can
//! assert on it. Inspection endpoints: `GET /stats`, `GET /envelopes`, `GET /requests`,
//! `POST /reset`, `POST /shutdown`.
//!
//! It can require Entra ID bearer tokens ([`Emulator::set_auth`], `POST /auth`; see
//! [`auth`]): a track request without one, with an unknown or an expired one gets 401,
//! and [`Emulator::auth_status`] (`GET /auth`) counts what came.
//!
//! It speaks Live Metrics (QuickPulse) too: ping and post on
//! `/QuickPulseService.svc/`, answered as a test sets with [`Emulator::set_live`]
//! (`POST /live`: someone watching, a filter configuration with its etag, a polling
//! hint, a redirect, a failing status), every request recorded with its parsed body
//! ([`Emulator::live_requests`], `GET /live`; see [`live`]).
//!
//! It can also misbehave on purpose, for reliability tests: status sequences,
//! `Retry-After`, 206 with chosen failing items, redirects, delays, connection resets
//! and outage windows (real "connection refused" on the same port). See [`faults`] for
//! the plan format; install a plan with [`Emulator::set_faults`], `POST /faults`
//! (`GET /faults` shows it, `DELETE /faults` restores normal behaviour) or the binary's
//! `--faults JSON`.
//!
//! ```no_run
//! use genkit_azure_emulator::{Emulator, EmulatorConfig, FaultPlan, Step};
//! let emu = Emulator::start(EmulatorConfig::default()).unwrap();
//! emu.set_faults(
//!     FaultPlan::statuses([503, 503])
//!         .then(Step::retry_after(429, "2"))
//!         .then(Step::partial([(0, 500)])),
//! )
//! .unwrap();
//! ```
//!
//! Tests in other crates are plain synchronous `#[test]` functions, so [`Emulator`] runs
//! the async server on its own thread with its own tokio runtime and exposes a blocking
//! API; nothing here requires the caller to have a runtime.
//!
//! ```no_run
//! use genkit_azure_emulator::{Emulator, EmulatorConfig};
//! use std::time::Duration;
//! let emu = Emulator::start(EmulatorConfig::default()).unwrap();
//! let conn = emu.connection_string("00000000-0000-0000-0000-000000000000");
//! // ... point the exporter at `conn`, emit telemetry ...
//! assert!(emu.wait_for_items(1, Duration::from_secs(10)));
//! ```

pub mod auth;
pub mod decode;
pub mod faults;
pub mod live;
pub mod server;
pub mod state;
pub mod store;
pub mod validate;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use auth::{AcceptedToken, AuthPlan, AuthPlanError, AuthStats, AuthStatus};
pub use faults::{FaultKind, FaultPlan, FaultPlanError, FaultStatus, Step};
pub use live::{LiveControl, LiveKind, LiveRequest};

/// True for the `_OTELRESOURCE_` metric: the envelope that describes the
/// sender (its resource attributes), not an item the application emitted.
pub fn is_resource_metric(envelope: &serde_json::Value) -> bool {
    envelope["data"]["baseData"]["metrics"][0]["name"] == "_OTELRESOURCE_"
}
pub use server::{ItemError, TrackResponse};
pub use state::State;
pub use store::{RequestRecord, Stats};
pub use validate::{validate_envelope, TelemetryKind};

/// The longest track body the emulator accepts by default, in bytes of JSON
/// after gzip: longer ones get 413 and nothing is accepted. It is the limit
/// genkit-azure keeps its requests under (`REQUEST_LIMITS` in
/// `core/src/delivery/mod.rs`): the service's own is not documented.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// How to run an emulator.
#[derive(Debug, Clone, Default)]
pub struct EmulatorConfig {
    /// When set, envelopes whose `iKey` differs are rejected (as the real endpoint does
    /// for a foreign resource). `None` accepts any non-empty key.
    pub instrumentation_key: Option<String>,
    /// When set, every accepted envelope is appended to this file as one JSON line.
    /// The file is truncated at start.
    pub jsonl_path: Option<PathBuf>,
    /// TCP port on 127.0.0.1; 0 lets the OS pick a free one (what tests should use).
    pub port: u16,
    /// Longest track body accepted, in bytes of JSON after gzip (413 past it);
    /// `None`: [`MAX_REQUEST_BYTES`].
    pub max_request_bytes: Option<usize>,
}

/// A running emulator on its own thread. Stops on [`Emulator::shutdown`] or drop.
pub struct Emulator {
    state: Arc<State>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds 127.0.0.1:`config.port` and starts serving. Returns once the socket is
    /// bound, so the port is connectable as soon as this returns (no start-up race).
    pub fn start(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let listener =
            std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, config.port)))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(State::new(&config)?);
        // Two workers: gzip + JSON parsing of one big batch shouldn't stall the
        // inspection endpoints a test polls meanwhile. Building the runtime here (not on
        // the thread) makes failures surface as this function's error.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("genkit-azure-emulator-worker")
            .enable_all()
            .build()?;
        let thread_state = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("genkit-azure-emulator-{port}"))
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => {
                            if let Err(e) = server::serve(listener, thread_state).await {
                                eprintln!("genkit-azure-emulator: server stopped: {e}");
                            }
                        }
                        Err(e) => eprintln!("genkit-azure-emulator: cannot register listener: {e}"),
                    }
                });
                // Dropping the runtime here aborts any connection task still alive.
            })?;
        Ok(Emulator {
            state,
            port,
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A connection string pointing at this emulator, with the trailing `/` real
    /// connection strings carry on `IngestionEndpoint`.
    pub fn connection_string(&self, ikey: &str) -> String {
        format!(
            "InstrumentationKey={ikey};IngestionEndpoint={}/",
            self.base_url()
        )
    }

    /// [`Emulator::connection_string`] with `LiveEndpoint` at this emulator too,
    /// for a pipeline whose Live Metrics should talk to it.
    pub fn live_connection_string(&self, ikey: &str) -> String {
        format!(
            "{};LiveEndpoint={}/",
            self.connection_string(ikey),
            self.base_url()
        )
    }

    /// How Live Metrics pings and posts are answered from now on (same as `POST /live`).
    pub fn set_live(&self, control: LiveControl) {
        self.state.set_live(control)
    }

    /// Every Live Metrics ping and post since start or reset, in arrival order.
    pub fn live_requests(&self) -> Vec<LiveRequest> {
        self.state.live_requests()
    }

    /// Envelopes accepted so far, in arrival order.
    pub fn envelopes(&self) -> Vec<serde_json::Value> {
        self.state.envelopes()
    }

    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.requests()
    }

    /// Clears accepted envelopes, counters and request records (same as `POST /reset`).
    pub fn reset(&self) {
        self.state.reset()
    }

    /// The shared state, for callers that need more than the convenience methods.
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// Installs a fault plan (replacing the current one; its steps start with the next
    /// track request). Returns once the listener matches the plan: for an outage, the
    /// port refuses connections when this returns; for a plan without one, a running
    /// outage is over and the port accepts again (waits at most 2 s for the rebind).
    pub fn set_faults(&self, plan: FaultPlan) -> Result<(), FaultPlanError> {
        self.state.set_faults(plan)?;
        self.state.wait_listener_settled(Duration::from_secs(2));
        Ok(())
    }

    /// Back to normal behaviour (ends an outage early too). Same as `DELETE /faults`.
    pub fn clear_faults(&self) {
        self.set_faults(FaultPlan::default())
            .expect("the normal plan is valid");
    }

    /// Requires one of `plan`'s bearer tokens on every track request from now on
    /// (same as `POST /auth`); `AuthPlan::default()` requires none again.
    pub fn set_auth(&self, plan: AuthPlan) -> Result<(), AuthPlanError> {
        self.state.set_auth(plan)
    }

    /// Accepts one more token (e.g. from a test's credential as it issues it).
    pub fn accept_token(&self, token: AcceptedToken) {
        self.state.accept_token(token)
    }

    /// The auth plan and what the emulator saw of tokens (same as `GET /auth`).
    pub fn auth_status(&self) -> AuthStatus {
        self.state.auth_status()
    }

    /// The plan in force and how far it got (same as `GET /faults`).
    pub fn faults(&self) -> FaultStatus {
        self.state.fault_status()
    }

    /// Arrival time of every track request recorded in [`Emulator::requests`], same
    /// order, e.g. to check that no retry arrived before a `Retry-After` expired.
    pub fn track_requests_at(&self) -> Vec<Instant> {
        self.state.track_requests_at()
    }

    /// The instant `RequestRecord::received_us` / `answered_us` count from.
    pub fn started_at(&self) -> Instant {
        self.state.started_at()
    }

    /// Blocks until `itemsAccepted >= n`; returns false on timeout. Wakes on each
    /// commit rather than polling, so it returns as soon as the items are in.
    pub fn wait_for_items(&self, n: usize, timeout: Duration) -> bool {
        self.state.wait_for_items(n, timeout)
    }

    /// Stops the server and joins its thread. Also happens on drop.
    pub fn shutdown(self) {
        drop(self)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.state.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
