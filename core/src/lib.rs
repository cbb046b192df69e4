//! Azure Monitor (Application Insights) telemetry for Genkit apps.
//!
//! The pipeline: a bounded ingest queue that never blocks the caller, a
//! background tokio runtime that batches, writes Application Insights
//! envelopes straight into gzip and sends them with our own HTTP transport.
//! The folders follow a span's walk: `ingest` -> `pipeline` -> `envelopes`
//! -> `delivery`, with `config` and `accounting` beside them.
//!
//! The C ABI (`ffi/`) and the Python module (`python/`) are thin faces over
//! this crate. They use the documented items below, plus the hidden `face`
//! module: the one list of settings they convert and check from, and the
//! few internals they share (key interning, the diagnostics sink).
//!
//! ```no_run
//! use genkit_azure::{AzureSpanProcessor, AzureTelemetry};
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//!
//! let telemetry = AzureTelemetry::builder().service_name("my-app").build()?;
//! let provider = SdkTracerProvider::builder()
//!     .with_span_processor(AzureSpanProcessor::new(telemetry.clone()))
//!     .build();
//! // ... trace with the OpenTelemetry API ...
//! telemetry.shutdown(std::time::Duration::from_secs(10))?;
//! # Ok::<(), genkit_azure::Error>(())
//! ```

// The leaves, which depend on no stage; then the stages, each depending only
// on the ones listed before it. A span walks ingest -> pipeline -> envelopes
// -> delivery; `telemetry` assembles the stages into the handle faces hold.
mod accounting;
mod auth;
mod config;
mod diagnostics;
mod error;
mod text;

mod delivery;
mod envelopes;
mod ingest;
// Live Metrics reads what the pipeline's worker takes in, through its tap.
mod live;
mod pipeline;
mod telemetry;

#[doc(hidden)]
pub mod face;

pub use accounting::Stats;
pub use auth::{AccessToken, CredentialError, TokenCredential};
pub use config::{Config, ConnectionString, Exports, ResourceSettings, CONNECTION_STRING_ENV};
pub use error::{ConfigError, Error, Result};
pub use ingest::{
    severity_from_number, time_from_unix_nanos, AvailabilityResult, CustomEvent, LogRecord,
    MetricKind, MetricPoint, Operation, Operations, PackedSpan, Sampled, Sampler, SpanPacker,
    Summary, TrackedException,
};
/// Not API: Live Metrics' intervals, scaled down by tests.
#[doc(hidden)]
pub use live::LiveTimings;
pub use pipeline::CollectionWait;
pub use telemetry::{
    AzureMetricReader, AzureMetricReaderBuilder, AzureSpanProcessor, AzureTelemetry,
    AzureTelemetryBuilder, MetricProducer, Pushed,
};

/// Not API: what bench/rust-host times and the fuzz targets drive (`bench`
/// feature only).
#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench_support;

/// Re-exported so faces build spans and attributes with the same versions.
pub use opentelemetry;
pub use opentelemetry_sdk;

/// The library version, e.g. for `genkit_azure_version()`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
