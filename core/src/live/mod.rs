//! Live Metrics (QuickPulse): the portal's live view of a running app.
//!
//! A task on the pipeline's background runtime pings the live endpoint until
//! someone watches, then posts every second the standard counters, sample
//! documents, and the derived metrics and document streams of the filter
//! configuration the service sends (`cycle.rs`, `timing.rs`, `client.rs`).
//! Its data comes from the same pipeline that exports: the worker hands each
//! item it takes in to the [`Tap`], which reads spans through the envelope
//! writer's view step, so Live Metrics and Application Insights agree on
//! what is a request, what failed and how long it took. Nothing runs on the
//! host's threads, and while nobody watches the tap costs one atomic load per
//! item. The protocol, and the official client's bugs not copied, are in
//! `shared/notes/live-metrics.md`.

#[cfg(feature = "bench")]
pub(crate) mod bench_support;
mod client;
mod configuration;
mod counters;
mod cycle;
mod data_point;
mod derived;
mod documents;
mod filter;
mod item;
mod process;
mod tap;
#[cfg(test)]
mod test_support;
mod timing;

pub(crate) use cycle::Cycle;
pub(crate) use tap::Tap;
pub use timing::LiveTimings;

use crate::auth::Auth;
use crate::config::{is_loopback, ConnectionString};
use crate::diagnostics::Diagnostics;
use crate::envelopes::ViewOptions;
use client::Client;
use data_point::Identity;
use opentelemetry_sdk::Resource;
use process::ProcessClock;
use std::sync::Arc;
use tap::Collector;
use timing::Schedule;

/// The connection string's default live endpoint.
const DEFAULT_LIVE_ENDPOINT: &str = "https://rt.services.visualstudio.com";

/// What Live Metrics starts from.
pub(crate) struct LiveStart<'a> {
    /// `enable_live_metrics`, and the process exports at all (not an
    /// unforced Genkit dev session).
    pub enabled: bool,
    pub connection_string: &'a ConnectionString,
    pub resource: &'a Resource,
    /// How spans are read, as the writer reads them.
    pub view: ViewOptions,
    pub timings: LiveTimings,
    pub diagnostics: Arc<Diagnostics>,
    /// `WEBSITE_SITE_NAME` is set (App Service).
    pub is_web_app: bool,
    /// Entra ID: the same tokens as ingestion.
    pub auth: Option<Arc<Auth>>,
}

/// The worker's tap, and the cycle to spawn on the runtime (`None`: Live
/// Metrics is off, and the tap does nothing).
pub(crate) fn start(s: LiveStart<'_>) -> (Tap, Option<Cycle>) {
    if !s.enabled || !wanted(s.connection_string) {
        return (Tap::off(), None);
    }
    let identity = Identity::new(s.resource, s.is_web_app);
    let client = match Client::new(
        &s.connection_string.live_endpoint,
        s.connection_string.instrumentation_key(),
        identity.headers.clone(),
        s.timings.request_timeout,
        s.auth,
    ) {
        Ok(client) => client,
        Err(_) => {
            s.diagnostics.say("live-metrics", || {
                "Live Metrics is off: its HTTP client could not be built".to_string()
            });
            return (Tap::off(), None);
        }
    };
    let collector = Arc::new(Collector::new(s.view));
    let cycle = Cycle {
        client,
        schedule: Schedule::new(s.timings, tokio::time::Instant::now()),
        collector: Arc::clone(&collector),
        identity,
        process: ProcessClock::new(),
        diagnostics: s.diagnostics,
        etag: String::new(),
        failing: false,
    };
    (Tap::new(collector), Some(cycle))
}

/// False when ingestion goes to a loopback host (the emulator, a local
/// collector) and the connection string names no live endpoint: the default
/// one is Microsoft's public service, which a local setup never means to
/// reach (and a test must not).
fn wanted(cs: &ConnectionString) -> bool {
    !(is_loopback(cs.ingestion_endpoint.host())
        && cs.live_endpoint.as_str() == DEFAULT_LIVE_ENDPOINT)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "11111111-2222-3333-4444-555555555555";

    fn cs(rest: &str) -> ConnectionString {
        ConnectionString::parse(&format!("InstrumentationKey={KEY};{rest}")).unwrap()
    }

    #[test]
    fn a_local_ingestion_endpoint_without_a_live_one_keeps_live_metrics_off() {
        assert!(wanted(&cs("")));
        assert!(wanted(&cs(
            "IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/"
        )));
        assert!(!wanted(&cs("IngestionEndpoint=http://127.0.0.1:9/")));
        assert!(wanted(&cs(
            "IngestionEndpoint=http://127.0.0.1:9/;LiveEndpoint=http://127.0.0.1:9/"
        )));
    }
}
