//! Pipeline settings: every setting, its default, and the ranges it must keep.

use super::resource::ResourceSettings;
use crate::error::ConfigError;
use std::path::PathBuf;
use std::time::Duration;

pub const CONNECTION_STRING_ENV: &str = "APPLICATIONINSIGHTS_CONNECTION_STRING";

/// See [`Config::gzip_level`].
pub const DEFAULT_GZIP_LEVEL: u32 = 2;

/// Every setting of the pipeline. Build one with `AzureTelemetry::builder()`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The connection string; `None` reads `APPLICATIONINSIGHTS_CONNECTION_STRING`.
    pub connection_string: Option<String>,
    pub resource: ResourceSettings,
    /// Items per export request.
    pub max_batch_size: usize,
    /// A batch also closes when its items hold this many bytes of content
    /// (attribute text, log bodies), so large prompts and model output do
    /// not make batches, and the memory they hold, grow without bound.
    pub max_batch_bytes: usize,
    /// How long a partly filled batch waits before it is sent.
    pub batch_delay: Duration,
    /// Items the ingest queue holds; past that, new items are counted as
    /// `dropped_queue_full` instead of blocking the caller.
    pub queue_capacity: usize,
    /// Items the spill queue holds (used when the ingest queue is full and
    /// persistence is on); its consumer writes them straight to disk.
    pub spill_capacity: usize,
    /// Export requests in flight at once.
    pub max_concurrent_exports: usize,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Threads of the background runtime.
    pub worker_threads: usize,
    /// How much the background threads defer to the host's threads for CPU,
    /// as a Linux nice increment (0 = the same priority, 19 = the least).
    /// Telemetry is background work: when the host and the pipeline want
    /// the same core, the host should get it. Linux only; elsewhere ignored.
    pub thread_nice: u8,
    /// How often aggregated metric points are exported (and on every flush).
    pub metric_export_interval: Duration,
    /// First retry delay after a transient failure (jittered, doubling).
    pub retry_base_delay: Duration,
    /// Longest delay between retries.
    pub retry_max_delay: Duration,
    /// Compressed bytes kept in memory for retry; past it the oldest go, counted.
    pub max_backlog_bytes: u64,
    /// gzip level of request bodies (0 = stored, 9 = smallest). The default
    /// was chosen by measurement (zlib-rs, batches of 64 to 1024 spans of the
    /// benchmark's shape): level 1 writes about 37 bytes a span, level 2
    /// about 29 for about 1 % more CPU, level 6 about 21 for nearly twice the
    /// CPU of the whole writer. Level 2 is the knee.
    pub gzip_level: u32,
    /// Persist undeliverable batches to disk (default on).
    pub storage_enabled: bool,
    /// Where; `None` is `<temp>/genkit-azure-<uid>/<hash of the key>`.
    pub storage_directory: Option<PathBuf>,
    /// Disk cap for this key's directory.
    pub max_disk_bytes: u64,
    /// Files older than this are dropped, counted.
    pub disk_retention: Duration,
    /// How long a file being sent stays leased to this process. Never less
    /// than twice `request_timeout`: a lease that expired mid-request would let
    /// another process send the same file.
    pub disk_lease: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            connection_string: None,
            resource: ResourceSettings::default(),
            max_batch_size: 1024,
            max_batch_bytes: 1 << 20,
            batch_delay: Duration::from_millis(1000),
            queue_capacity: 65_536,
            spill_capacity: 65_536,
            max_concurrent_exports: 2,
            request_timeout: Duration::from_secs(10),
            worker_threads: 2,
            thread_nice: 10,
            metric_export_interval: Duration::from_secs(60),
            retry_base_delay: Duration::from_millis(500),
            // Also the longest a recovered endpoint waits for its first probe.
            retry_max_delay: Duration::from_secs(10),
            max_backlog_bytes: 64 * 1024 * 1024,
            gzip_level: DEFAULT_GZIP_LEVEL,
            storage_enabled: true,
            storage_directory: None,
            max_disk_bytes: 50 * 1024 * 1024,
            disk_retention: Duration::from_secs(48 * 3600),
            // Longer than one attempt can take (request_timeout), so a live owner keeps it.
            disk_lease: Duration::from_secs(30),
        }
    }
}

impl Config {
    /// Checks ranges; the message names the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn range(field: &str, v: usize, lo: usize, hi: usize) -> Result<(), ConfigError> {
            if v < lo || v > hi {
                return Err(ConfigError::new(
                    field,
                    format!("must be between {lo} and {hi}, got {v}"),
                ));
            }
            Ok(())
        }
        range("max_batch_size", self.max_batch_size, 1, 32_768)?;
        range("max_batch_bytes", self.max_batch_bytes, 1024, 64 << 20)?;
        range("queue_capacity", self.queue_capacity, 1, 16_777_216)?;
        range("spill_capacity", self.spill_capacity, 1, 16_777_216)?;
        range("max_concurrent_exports", self.max_concurrent_exports, 1, 64)?;
        range("worker_threads", self.worker_threads, 1, 64)?;
        range("thread_nice", self.thread_nice.into(), 0, 19)?;
        range("gzip_level", self.gzip_level as usize, 0, 9)?;
        if self.batch_delay > Duration::from_secs(3600) {
            return Err(ConfigError::new("batch_delay", "must be at most one hour"));
        }
        if self.request_timeout.is_zero() || self.request_timeout > Duration::from_secs(600) {
            return Err(ConfigError::new(
                "request_timeout",
                "must be between 1 ms and 600 s",
            ));
        }
        if self.retry_base_delay.is_zero() || self.retry_base_delay > self.retry_max_delay {
            return Err(ConfigError::new(
                "retry_base_delay",
                "must be above zero and at most retry_max_delay",
            ));
        }
        if self.metric_export_interval < Duration::from_millis(100) {
            return Err(ConfigError::new(
                "metric_export_interval",
                "must be at least 100 ms",
            ));
        }
        Ok(())
    }
}
