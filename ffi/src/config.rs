//! `genkit_azure_config`: the settings `genkit_azure_new` starts a pipeline
//! with. A zero-initialised struct means "all defaults", so fields added later
//! can default to zero and old callers keep their behaviour when recompiled.

use crate::attribute::{attributes, genkit_azure_attribute};
use crate::boundary::{try_opt_str, FfiError, FfiResult, Path};
use crate::status::genkit_azure_status::GENKIT_AZURE_INVALID_CONFIG;
use genkit_azure::opentelemetry::KeyValue;
use genkit_azure::{AzureTelemetry, AzureTelemetryBuilder};
use std::ffi::c_char;
use std::time::Duration;

/// `batch_delay_ms` value meaning "no delay": send each batch as soon as
/// items arrive. (0 cannot mean that: 0 is "default".)
pub const GENKIT_AZURE_NO_BATCH_DELAY: u32 = u32::MAX;

/// For `genkit_azure_config.thread_nice`: the background threads keep the
/// host's CPU priority instead of deferring to it.
pub const GENKIT_AZURE_HOST_PRIORITY: u32 = u32::MAX;

/// Settings for `genkit_azure_new`. Zero-initialise (`genkit_azure_config c = {0};`)
/// and set only what you need: NULL strings and 0 numbers mean "default".
/// Strings are UTF-8 and are copied; they may be freed after the call.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct genkit_azure_config {
    /// The Application Insights connection string
    /// ("InstrumentationKey=...;IngestionEndpoint=https://..."). NULL reads the
    /// APPLICATIONINSIGHTS_CONNECTION_STRING environment variable.
    pub connection_string: *const c_char,
    /// `service.name` (Application Insights cloud role). NULL: OTEL_SERVICE_NAME,
    /// then `service.name` in OTEL_RESOURCE_ATTRIBUTES, then "genkit-app".
    pub service_name: *const c_char,
    /// `service.version` (application version). NULL = not set.
    pub service_version: *const c_char,
    /// `service.namespace`. NULL = not set.
    pub service_namespace: *const c_char,
    /// Extra resource attributes sent with every item. May be NULL when
    /// `resource_attribute_count` is 0.
    pub resource_attributes: *const genkit_azure_attribute,
    pub resource_attribute_count: usize,
    /// Items per export request, 1..32768. 0 = default (1024).
    pub max_batch_size: u32,
    /// A request also closes when its items hold this many bytes of content
    /// (attribute text, log bodies), 1024..67108864. 0 = default (1 MiB).
    pub max_batch_bytes: u32,
    /// How long a partly filled batch waits before it is sent, in ms, at most
    /// 3600000. 0 = default (1000 ms); GENKIT_AZURE_NO_BATCH_DELAY = no wait.
    pub batch_delay_ms: u32,
    /// Items the ingest queue holds before new ones are dropped (and counted),
    /// 1..16777216. 0 = default (65536).
    pub queue_capacity: u32,
    /// Export requests in flight at once, 1..64. 0 = default (2).
    pub max_concurrent_exports: u32,
    /// Timeout of one HTTP request in ms, at most 600000. 0 = default (10000 ms).
    pub request_timeout_ms: u32,
    /// Directory where batches that could not be delivered wait to be resent
    /// (also by a later process with the same key). NULL = the default,
    /// `<temp dir>/genkit-azure-<uid>/<hash of the instrumentation key>`
    /// (the temp dir honours TMPDIR).
    pub storage_directory: *const c_char,
    /// true: keep undeliverable batches in memory only; they are lost when
    /// the process exits. For read-only or ephemeral file systems.
    // Phrased as "disable" so that the zero value keeps the default (on).
    pub disable_storage: bool,
    /// How far the background threads defer to the host's threads for CPU
    /// (a Linux nice increment, 1..19; ignored elsewhere). 0 = default (10);
    /// GENKIT_AZURE_HOST_PRIORITY = the host's own priority.
    pub thread_nice: u32,
}

/// Maps the C config onto core's builder. Range checks are left to core's
/// `build`, whose messages name the setting.
///
/// # Safety
/// Every pointer in `c` must be NULL or valid as documented on `genkit_azure_config`.
pub(crate) unsafe fn builder(
    c: &genkit_azure_config,
    path: &Path<'_>,
) -> FfiResult<AzureTelemetryBuilder> {
    // Names the host language in `ai.internal.sdkVersion`; resource
    // attributes the caller passes come later and win.
    let mut b =
        AzureTelemetry::builder().resource_attribute(KeyValue::new("telemetry.sdk.language", "c"));
    // SAFETY (all blocks below): forwarded from the caller.
    if let Some(s) = unsafe { try_opt_str(c.connection_string, &path.field("connection_string")) }?
    {
        b = b.connection_string(s);
    }
    if let Some(s) = unsafe { try_opt_str(c.service_name, &path.field("service_name")) }? {
        b = b.service_name(s);
    }
    if let Some(s) = unsafe { try_opt_str(c.service_version, &path.field("service_version")) }? {
        b = b.service_version(s);
    }
    if let Some(s) = unsafe { try_opt_str(c.service_namespace, &path.field("service_namespace")) }?
    {
        b = b.service_namespace(s);
    }
    let attrs = unsafe {
        attributes(
            c.resource_attributes,
            c.resource_attribute_count,
            &path.field("resource_attributes"),
            &path.field("resource_attribute_count"),
        )
    }?;
    for kv in attrs {
        b = b.resource_attribute(kv);
    }
    // u32 -> usize is lossless on every target this library builds for (>= 32 bit).
    if c.max_batch_size != 0 {
        b = b.max_batch_size(c.max_batch_size as usize);
    }
    if c.max_batch_bytes != 0 {
        b = b.max_batch_bytes(c.max_batch_bytes as usize);
    }
    match c.batch_delay_ms {
        0 => {}
        GENKIT_AZURE_NO_BATCH_DELAY => b = b.batch_delay(Duration::ZERO),
        ms => b = b.batch_delay(Duration::from_millis(ms.into())),
    }
    if c.queue_capacity != 0 {
        b = b.queue_capacity(c.queue_capacity as usize);
    }
    if c.max_concurrent_exports != 0 {
        b = b.max_concurrent_exports(c.max_concurrent_exports as usize);
    }
    if c.request_timeout_ms != 0 {
        b = b.request_timeout(Duration::from_millis(c.request_timeout_ms.into()));
    }
    // SAFETY: forwarded from the caller.
    let dir_path = path.field("storage_directory");
    if let Some(dir) = unsafe { try_opt_str(c.storage_directory, &dir_path) }? {
        if dir.is_empty() {
            return Err(FfiError::new(
                GENKIT_AZURE_INVALID_CONFIG,
                format!("{dir_path} is empty; use NULL for the default directory"),
            ));
        }
        b = b.storage_directory(dir);
    }
    if c.disable_storage {
        b = b.disable_storage();
    }
    match c.thread_nice {
        0 => {}
        GENKIT_AZURE_HOST_PRIORITY => b = b.thread_nice(0),
        n @ 1..=19 => b = b.thread_nice(n as u8),
        n => {
            return Err(FfiError::new(
                GENKIT_AZURE_INVALID_CONFIG,
                format!(
                    "{} is {n}; must be 1..19, 0 for the default or GENKIT_AZURE_HOST_PRIORITY",
                    path.field("thread_nice")
                ),
            ))
        }
    }
    Ok(b)
}
