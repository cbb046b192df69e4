//! The one error type every face (Rust, C, Python) reports.
//!
//! Messages say what is wrong and where, and never contain secrets: the
//! instrumentation key and tokens are never formatted into an error.

use std::fmt;

/// Why a configuration value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Which setting is wrong, as the face the caller uses names it, e.g.
    /// `IngestionEndpoint`, `batch_delay` (Rust), `config.batch_delay_ms`
    /// (C) or `batch_delay_s` (Python).
    pub field: String,
    /// What is wrong with it, phrased for the user.
    pub reason: String,
}

impl ConfigError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Everything that can go wrong when building or using the pipeline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection string is missing or malformed. `source` names where it
    /// came from (the argument or the environment variable).
    #[error("invalid connection string ({source_name}): {detail}")]
    ConnectionString {
        source_name: &'static str,
        detail: ConfigError,
    },
    /// No connection string was given and the environment has none.
    #[error(
        "no connection string: pass one explicitly or set APPLICATIONINSIGHTS_CONNECTION_STRING"
    )]
    MissingConnectionString,
    /// Another setting is out of range or malformed.
    #[error("invalid configuration: {0}")]
    Config(ConfigError),
    /// An argument (a span field, a log field, ...) is malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(ConfigError),
    /// The pipeline was shut down; nothing more is accepted.
    #[error("the telemetry pipeline is shut down")]
    ShutDown,
    /// The background runtime could not be started (no threads to be had).
    #[error("could not start the telemetry runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The HTTP client could not be built (e.g. no TLS backend).
    #[error("could not build the HTTP transport: {0}")]
    Transport(#[source] reqwest::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
