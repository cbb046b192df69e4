//! Azure Monitor (Application Insights) telemetry for Genkit apps.
//!
//! The pipeline: a bounded ingest queue that never blocks the caller, a
//! background tokio runtime that batches, maps envelopes through
//! `opentelemetry-application-insights` and sends them with our own HTTP
//! transport. The C ABI (`ffi/`) and the Python module (`python/`) are thin
//! faces over this crate.
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

mod backoff;
mod block_on;
pub mod config;
pub mod connection_string;
mod delivery;
pub mod diagnostics;
mod error;
mod export;
pub mod intern;
pub mod log_record;
pub mod metrics;
mod packed_span;
mod payload;
mod pending;
mod progress;
pub mod resource;
pub mod sanitize;
mod sender;
pub mod span;
mod span_processor;
mod spill;
mod stats;
pub mod storage;
mod telemetry;
mod transport;
mod worker;

pub use config::{AzureTelemetryBuilder, Config, CONNECTION_STRING_ENV};
pub use connection_string::ConnectionString;
pub use error::{ConfigError, Error, Result};
pub use log_record::{severity_from_number, LogRecord};
pub use metrics::{MetricKind, MetricPoint};
pub use packed_span::{PackedSpan, SpanPacker};
pub use span::{parse_hex_id, time_from_unix_nanos, RawSpan};
pub use span_processor::AzureSpanProcessor;
pub use stats::Stats;
pub use telemetry::{AzureTelemetry, Pushed};

/// Re-exported so faces build spans and attributes with the same versions.
pub use opentelemetry;
pub use opentelemetry_sdk;

/// The library version, e.g. for `genkit_azure_version()`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
