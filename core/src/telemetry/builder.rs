//! The builder that validates settings and starts an [`AzureTelemetry`] pipeline.

use super::AzureTelemetry;
use crate::config::Config;
use crate::error::{Error, Result};
use opentelemetry::KeyValue;
use std::path::PathBuf;
use std::time::Duration;

/// Builds an [`AzureTelemetry`] pipeline.
///
/// ```no_run
/// let telemetry = genkit_azure::AzureTelemetry::builder()
///     .connection_string("InstrumentationKey=00000000-0000-0000-0000-000000000000")
///     .service_name("my-genkit-app")
///     .build()?;
/// # Ok::<(), genkit_azure::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct AzureTelemetryBuilder {
    config: Config,
}

impl AzureTelemetryBuilder {
    pub fn from_config(config: Config) -> Self {
        Self { config }
    }
    pub fn connection_string(mut self, s: impl Into<String>) -> Self {
        self.config.connection_string = Some(s.into());
        self
    }
    pub fn service_name(mut self, s: impl Into<String>) -> Self {
        self.config.resource.service_name = Some(s.into());
        self
    }
    pub fn service_version(mut self, s: impl Into<String>) -> Self {
        self.config.resource.service_version = Some(s.into());
        self
    }
    pub fn service_namespace(mut self, s: impl Into<String>) -> Self {
        self.config.resource.service_namespace = Some(s.into());
        self
    }
    pub fn resource_attribute(mut self, kv: KeyValue) -> Self {
        self.config.resource.attributes.push(kv);
        self
    }
    pub fn max_batch_size(mut self, n: usize) -> Self {
        self.config.max_batch_size = n;
        self
    }
    /// See [`Config::max_batch_bytes`] (default 1 MiB).
    pub fn max_batch_bytes(mut self, n: usize) -> Self {
        self.config.max_batch_bytes = n;
        self
    }
    pub fn batch_delay(mut self, d: Duration) -> Self {
        self.config.batch_delay = d;
        self
    }
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.config.queue_capacity = n;
        self
    }
    pub fn max_concurrent_exports(mut self, n: usize) -> Self {
        self.config.max_concurrent_exports = n;
        self
    }
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.config.request_timeout = d;
        self
    }
    pub fn metric_export_interval(mut self, d: Duration) -> Self {
        self.config.metric_export_interval = d;
        self
    }
    pub fn retry_delays(mut self, base: Duration, max: Duration) -> Self {
        self.config.retry_base_delay = base;
        self.config.retry_max_delay = max;
        self
    }
    /// Persist undeliverable batches under `dir` instead of the default directory.
    /// Naming a directory turns persistence on.
    pub fn storage_directory(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.storage_enabled = true;
        self.config.storage_directory = Some(dir.into());
        self
    }
    /// Keep undeliverable batches in memory only.
    pub fn disable_storage(mut self) -> Self {
        self.config.storage_enabled = false;
        self
    }
    pub fn max_disk_bytes(mut self, n: u64) -> Self {
        self.config.max_disk_bytes = n;
        self
    }
    pub fn disk_retention(mut self, d: Duration) -> Self {
        self.config.disk_retention = d;
        self
    }
    pub fn disk_lease(mut self, d: Duration) -> Self {
        self.config.disk_lease = d;
        self
    }
    pub fn max_backlog_bytes(mut self, n: u64) -> Self {
        self.config.max_backlog_bytes = n;
        self
    }
    pub fn worker_threads(mut self, n: usize) -> Self {
        self.config.worker_threads = n;
        self
    }
    /// See [`Config::gzip_level`] (default 2).
    pub fn gzip_level(mut self, level: u32) -> Self {
        self.config.gzip_level = level;
        self
    }
    /// See [`Config::thread_nice`] (default 10; 0 keeps the host's priority).
    pub fn thread_nice(mut self, n: u8) -> Self {
        self.config.thread_nice = n;
        self
    }

    /// Validates the settings, starts the background runtime and returns the handle.
    pub fn build(self) -> Result<AzureTelemetry> {
        self.config.validate().map_err(Error::Config)?;
        AzureTelemetry::start(self.config, |k| std::env::var(k).ok())
    }
}
