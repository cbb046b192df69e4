//! `genkit_azure_config`: the settings `genkit_azure_new` starts a pipeline
//! with. A zero-initialised struct means "all defaults", so fields added later
//! can default to zero and old callers keep their behaviour when recompiled.
//!
//! Every setting of core's list (`genkit_azure::face::SETTINGS`) has a field
//! here, named by the list's rule (durations end in `_ms`), documented with
//! the list's own sentence, and converted and checked by the list: the
//! numbers and durations in one loop, so their ranges and error texts are
//! core's. The tests fail when a field is missing, named, typed or
//! documented differently from the list.

use crate::attribute::{attributes, genkit_azure_attribute};
use crate::auth::genkit_azure_token_callback;
use crate::boundary::{try_opt_str, try_slice, try_str, FfiError, FfiResult, Path};
use crate::status::genkit_azure_status::{GENKIT_AZURE_INTERNAL, GENKIT_AZURE_INVALID_CONFIG};
use genkit_azure::face::{self, Face, Kind, SettingValue};
use genkit_azure::opentelemetry::KeyValue;
use genkit_azure::{AzureTelemetry, AzureTelemetryBuilder};
use std::ffi::{c_char, c_void};
use std::time::Duration;

/// For a number or duration field whose range includes 0: an explicit 0.
/// (A field left 0 means "default", so 0 itself cannot say it.) A `double`
/// field takes it too (`cfg.sampling_ratio = GENKIT_AZURE_ZERO;`): it is
/// exactly 4294967295.0 there, far outside every such field's range.
pub const GENKIT_AZURE_ZERO: u32 = u32::MAX;

/// `batch_delay_ms` value meaning "no delay": send each batch as soon as
/// items arrive. The same as `GENKIT_AZURE_ZERO`.
pub const GENKIT_AZURE_NO_BATCH_DELAY: u32 = GENKIT_AZURE_ZERO;

/// For `genkit_azure_config.thread_nice`: the background threads keep the
/// host's CPU priority instead of deferring to it. The same as
/// `GENKIT_AZURE_ZERO`.
pub const GENKIT_AZURE_HOST_PRIORITY: u32 = GENKIT_AZURE_ZERO;

/// Settings for `genkit_azure_new`. Zero-initialise (`genkit_azure_config c = {0};`)
/// and set only what you need: NULL strings and 0 numbers mean "default".
/// Strings are UTF-8 and are copied; they may be freed after the call.
/// Durations are in milliseconds. A value out of range makes
/// `genkit_azure_new` return `GENKIT_AZURE_INVALID_CONFIG`, and
/// `genkit_azure_last_error()` names the field and its range.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct genkit_azure_config {
    /// `sizeof` this struct as the caller's header declares it: set it
    /// first (`x.struct_size = sizeof x;`). Fields are only ever appended,
    /// so a library newer than the header reads the ones it lacks as 0
    /// (default), and an older one refuses non-zero fields it does not know
    /// (`GENKIT_AZURE_INVALID_STRUCT_SIZE`).
    pub struct_size: usize,
    /// The Application Insights connection string; unset reads `APPLICATIONINSIGHTS_CONNECTION_STRING`.
    /// ("InstrumentationKey=...;IngestionEndpoint=https://..."; NULL = unset.)
    pub connection_string: *const c_char,
    /// The service's name (`service.name`), shown as the cloud role.
    /// NULL: OTEL_SERVICE_NAME, then `service.name` in OTEL_RESOURCE_ATTRIBUTES,
    /// then "genkit-app".
    pub service_name: *const c_char,
    /// The service's version (`service.version`), shown as the application version.
    /// NULL = not set.
    pub service_version: *const c_char,
    /// The service's namespace (`service.namespace`), which prefixes the cloud role.
    /// NULL = not set.
    pub service_namespace: *const c_char,
    /// More resource attributes; a value set in code wins over the environment.
    /// May be NULL when `resource_attribute_count` is 0.
    pub resource_attributes: *const genkit_azure_attribute,
    pub resource_attribute_count: usize,
    /// Items per export request. 1 to 32768 items; 0 = default (1024 items).
    pub max_batch_size: u32,
    /// A batch also closes when its spans' and logs' text reaches this many bytes.
    /// 1024 to 67108864 bytes; 0 = default (1048576 bytes).
    pub max_batch_bytes: u32,
    /// How long a partly filled batch waits before it is sent. 0 to 3600000
    /// ms; 0 = default (1000 ms); GENKIT_AZURE_ZERO = 0 ms.
    /// (GENKIT_AZURE_NO_BATCH_DELAY says the same.)
    pub batch_delay_ms: u32,
    /// Items the ingest queue holds; past that, items spill to disk or are
    /// dropped and counted. 1 to 16777216 items; 0 = default (65536 items).
    pub queue_capacity: u32,
    /// Export requests in flight at once. 1 to 64 requests; 0 = default (2 requests).
    pub max_concurrent_exports: u32,
    /// Timeout of one HTTP request. 1 to 600000 ms; 0 = default (10000 ms).
    pub request_timeout_ms: u32,
    /// Where undeliverable batches wait on disk, to be resent by this or a
    /// later process with the same key. NULL = the default,
    /// `<temp dir>/genkit-azure-<uid>/<hash of the instrumentation key>`
    /// (the temp dir honours TMPDIR).
    pub storage_directory: *const c_char,
    /// Keep undeliverable batches in memory only, for read-only or ephemeral file systems.
    /// They are lost when the process exits.
    // Phrased as "disable" so that the zero value keeps the default (on).
    pub disable_offline_storage: bool,
    /// How far the background threads defer to the app's for CPU, as a Linux
    /// nice increment. 0 to 19; 0 = default (10); GENKIT_AZURE_ZERO = 0.
    /// (Ignored outside Linux; GENKIT_AZURE_HOST_PRIORITY says the same as
    /// GENKIT_AZURE_ZERO.)
    pub thread_nice: u32,
    /// Items the spill queue holds, where spans and logs go to disk when the
    /// ingest queue is full. 1 to 16777216 items; 0 = default (65536 items).
    pub spill_capacity: u32,
    /// Threads of the background runtime. 1 to 64 threads; 0 = default (2 threads).
    pub worker_threads: u32,
    /// How often aggregated metric points are exported, besides every flush.
    /// 100 to 86400000 ms; 0 = default (60000 ms).
    pub metric_export_interval_ms: u32,
    /// First retry delay after a transient failure; it doubles per attempt,
    /// with full jitter. 1 to 3600000 ms; 0 = default (500 ms).
    /// At most `retry_max_delay_ms`.
    pub retry_base_delay_ms: u32,
    /// Longest delay between retries, and the longest a recovered endpoint
    /// waits for its first probe. 1 to 3600000 ms; 0 = default (10000 ms).
    pub retry_max_delay_ms: u32,
    /// Compressed bytes kept in memory for retry; past that the oldest go,
    /// counted. 65536 to 1099511627776 bytes; 0 = default (67108864 bytes).
    pub max_backlog_bytes: u64,
    /// The gzip level of request bodies, from 0 (stored) to 9 (smallest).
    /// 0 to 9; 0 = default (3); GENKIT_AZURE_ZERO = 0.
    pub gzip_level: u32,
    /// Disk cap for this key's directory; past it the oldest files are
    /// dropped, counted. 1024 to 1099511627776 bytes; 0 = default (52428800 bytes).
    pub max_disk_bytes: u64,
    /// Files older than this are dropped, counted. 1000 to 2592000000 ms;
    /// 0 = default (172800000 ms).
    pub disk_retention_ms: u32,
    /// How long a file being sent stays this process's, and never less than
    /// twice `request_timeout`. 1000 to 3600000 ms; 0 = default (30000 ms).
    pub disk_lease_ms: u32,
    /// Export prompts and responses (`genkit:input`, `genkit:output`, cut to
    /// the property limit) and Input/Output log records.
    /// Off, both attributes are `<redacted>` before export.
    pub log_input_and_output: bool,
    /// Export even when `GENKIT_ENV=dev`.
    /// Phrased as "no" so that the zero value keeps the default (on): true
    /// here means a process in Genkit's dev mode exports nothing.
    pub no_force_dev_export: bool,
    /// Export no spans; Genkit's metrics and logs are still derived from them.
    pub disable_traces: bool,
    /// Export no metrics: no Genkit metrics, no metric points, no `_OTELRESOURCE_`.
    pub disable_metrics: bool,
    /// Export no logs: no log records, no Genkit log records.
    pub disable_logs: bool,
    /// Stream Live Metrics (QuickPulse) to the portal while someone watches it.
    /// Phrased as "disable" (as the other `disable_*` fields) so that the zero
    /// value keeps the default (on): true here sends nothing to the live endpoint.
    pub disable_live_metrics: bool,
    /// The deployment environment (`deployment.environment.name`: `prod`, `staging`, ...).
    /// NULL = not set.
    pub deployment_environment: *const c_char,
    /// Attribute sets one metric may have; a point with a new set past that
    /// folds into the metric's `otel.metric.overflow` series, counted.
    /// 1 to 1000000 series; 0 = default (2000 series).
    pub metric_series_limit: u32,
    /// The share of traces kept, whole, chosen by trace id as every
    /// Application Insights SDK chooses. 0 to 1; 0 = default (1);
    /// GENKIT_AZURE_ZERO = 0.
    /// Decided at the root's start (`genkit_azure_span_started`); not
    /// together with `traces_per_second`. Left 0, the environment's
    /// OTEL_TRACES_SAMPLER=microsoft.fixed_percentage sets it.
    pub sampling_ratio: f64,
    /// Keep about this many traces a second, whole, decided at each root; 0
    /// sets no limit. 0 to 1000000 traces/s; 0 = default (0 traces/s).
    /// Left 0, the environment's OTEL_TRACES_SAMPLER=microsoft.rate_limited
    /// sets it.
    pub traces_per_second: f64,
    /// Sample logs and custom telemetry with their trace: dropped with a
    /// dropped trace, and carrying a kept one's `sampleRate`.
    pub enable_trace_based_sampling_for_logs: bool,
    /// Microsoft Entra ID: when set, every request carries a bearer token
    /// this callback gives (see `genkit_azure_token_callback`), whatever the
    /// connection string's `Authorization`. NULL: the instrumentation key
    /// alone; then a connection string with `Authorization=AAD`, or
    /// APPLICATIONINSIGHTS_AUTHENTICATION_STRING set, makes
    /// `genkit_azure_new` fail. It is called on a background thread of the
    /// library, never concurrently with itself. Not a setting of core's list:
    /// code, not a value.
    pub token_callback: genkit_azure_token_callback,
    /// Passed to `token_callback` as is. Not copied: it must stay valid, and
    /// usable from another thread, until `genkit_azure_free` returns (which
    /// waits for a call in progress).
    pub token_user_data: *mut c_void,
    /// Export a Genkit agent's model and tool calls as direct children of its
    /// `invoke_agent` dependency, as Azure's Agents view looks them up.
    /// The true parent stays in the property `genkit_azure.genkit_parent_id`.
    /// Phrased as "disable" so that the zero value keeps the default (on):
    /// true here exports the tree as Genkit made it.
    pub disable_agent_reparenting: bool,
    /// Agent ids by Genkit agent name, for `gen_ai.agent.id` (Foundry matches spans to a registered agent by it).
    /// Each attribute's key is an agent's name and its string value the id
    /// (GENKIT_AZURE_ATTRIBUTE_STRING); an agent not listed has its name as
    /// id. May be NULL when `agent_id_count` is 0.
    pub agent_ids: *const genkit_azure_attribute,
    pub agent_id_count: usize,
    /// Prices by Genkit model name, in USD per million input and output tokens: model calls then carry their cost (`microsoft.gen_ai.cost.input` / `.output`).
    /// A model not listed, or no table, adds no cost. May be NULL when
    /// `model_price_count` is 0.
    pub model_prices: *const genkit_azure_model_price,
    pub model_price_count: usize,
    /// Genkit flows to present as agents (`invoke_agent` dependencies, as `genkit.exp` agents are).
    /// An array of `agent_flow_count` UTF-8 flow names; may be NULL when the
    /// count is 0.
    pub agent_flows: *const *const c_char,
    pub agent_flow_count: usize,
    /// Bytes of content the ingest queue holds, and apart from it the spill
    /// queue; past that, items spill to disk or are dropped and counted, as
    /// past `queue_capacity`. 65536 to 1099511627776 bytes; 0 = default (268435456 bytes).
    /// Counted as `max_batch_bytes` counts a batch. An item alone in the
    /// queue is taken whatever its size.
    pub max_queue_bytes: u64,
}

/// One model's prices, for `genkit_azure_config.model_prices`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct genkit_azure_model_price {
    /// The model as Genkit names it ("googleai/gemini-2.5-flash") or as the
    /// call's `gen_ai.request.model` says it ("gemini-2.5-flash"). UTF-8, not NULL.
    pub model: *const c_char,
    /// USD per million input tokens; finite, at least 0.
    pub input_usd_per_million_tokens: f64,
    /// USD per million output tokens; finite, at least 0.
    pub output_usd_per_million_tokens: f64,
}

/// A number field's value as C holds it: an integer, or a `double`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Raw {
    Int(u64),
    Float(f64),
}

/// Each number field type as a [`Raw`], and back (for the tests).
trait RawField: Sized {
    fn raw(self) -> Raw;
    #[cfg(test)]
    fn from_raw(raw: Raw) -> Option<Self>;
}

macro_rules! int_fields {
    ($($t:ty),*) => {$(
        impl RawField for $t {
            fn raw(self) -> Raw {
                Raw::Int(u64::from(self))
            }
            #[cfg(test)]
            fn from_raw(raw: Raw) -> Option<Self> {
                match raw {
                    Raw::Int(n) => <$t>::try_from(n).ok(),
                    Raw::Float(_) => None,
                }
            }
        }
    )*};
}
int_fields!(u32, u64);

impl RawField for f64 {
    fn raw(self) -> Raw {
        Raw::Float(self)
    }
    #[cfg(test)]
    fn from_raw(raw: Raw) -> Option<Self> {
        match raw {
            Raw::Float(f) => Some(f),
            Raw::Int(_) => None,
        }
    }
}

/// Lists the number and duration fields, each by its own name, so a name
/// can never select another field: core's list of settings says what each
/// one means, its unit and its range.
macro_rules! number_fields {
    ($($field:ident: $t:ty),* $(,)?) => {
        impl genkit_azure_config {
            const NUMBER_FIELDS: usize = [$(stringify!($field)),*].len();

            /// `(field name, value)` of every number and duration field.
            fn number_fields(&self) -> [(&'static str, Raw); Self::NUMBER_FIELDS] {
                [$((stringify!($field), RawField::raw(self.$field))),*]
            }

            /// Sets a number field by name (tests walk core's list with it).
            /// `None` when there is no such field or `value` does not fit.
            #[cfg(test)]
            pub(crate) fn set_number_field(&mut self, name: &str, value: Raw) -> Option<()> {
                match name {
                    $(stringify!($field) => self.$field = <$t as RawField>::from_raw(value)?,)*
                    _ => return None,
                }
                Some(())
            }
        }
    };
}

number_fields! {
    max_batch_size: u32,
    max_batch_bytes: u32,
    batch_delay_ms: u32,
    queue_capacity: u32,
    max_concurrent_exports: u32,
    request_timeout_ms: u32,
    thread_nice: u32,
    spill_capacity: u32,
    worker_threads: u32,
    metric_export_interval_ms: u32,
    retry_base_delay_ms: u32,
    retry_max_delay_ms: u32,
    max_backlog_bytes: u64,
    max_queue_bytes: u64,
    gzip_level: u32,
    max_disk_bytes: u64,
    disk_retention_ms: u32,
    disk_lease_ms: u32,
    metric_series_limit: u32,
    sampling_ratio: f64,
    traces_per_second: f64,
}

/// Maps the C config onto core's builder. Ranges are checked by core, from
/// its list; the messages name the C field (`config.batch_delay_ms`).
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
    if let Some(s) = unsafe {
        try_opt_str(
            c.deployment_environment,
            &path.field("deployment_environment"),
        )
    }? {
        b = b.deployment_environment(s);
    }
    b = b.resource_attributes(unsafe {
        attributes(
            c.resource_attributes,
            c.resource_attribute_count,
            &path.field("resource_attributes"),
            &path.field("resource_attribute_count"),
        )
    }?);
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
    if c.disable_offline_storage {
        b = b.disable_offline_storage(true);
    }
    b = b.enable_live_metrics(!c.disable_live_metrics);
    b = b.enable_agent_reparenting(!c.disable_agent_reparenting);
    let ids_path = path.field("agent_ids");
    let ids = unsafe {
        attributes(
            c.agent_ids,
            c.agent_id_count,
            &ids_path,
            &path.field("agent_id_count"),
        )
    }?;
    let mut agent_ids = Vec::with_capacity(ids.len());
    for kv in ids {
        let genkit_azure::opentelemetry::Value::String(id) = kv.value else {
            return Err(FfiError::new(
                GENKIT_AZURE_INVALID_CONFIG,
                format!("{ids_path}: the id of agent '{}' must be a string", kv.key),
            ));
        };
        agent_ids.push((kv.key.to_string(), id.to_string()));
    }
    b = b.agent_ids(agent_ids);
    let prices_path = path.field("model_prices");
    let prices = unsafe {
        try_slice(
            c.model_prices,
            c.model_price_count,
            &prices_path,
            &path.field("model_price_count"),
        )
    }?;
    let mut model_prices = Vec::with_capacity(prices.len());
    for (i, p) in prices.iter().enumerate() {
        let at = prices_path.index(i);
        let model = unsafe { try_str(p.model, &at.field("model")) }?;
        model_prices.push((
            model.to_string(),
            p.input_usd_per_million_tokens,
            p.output_usd_per_million_tokens,
        ));
    }
    b = b.model_prices(model_prices);
    let flows_path = path.field("agent_flows");
    let flows = unsafe {
        try_slice(
            c.agent_flows,
            c.agent_flow_count,
            &flows_path,
            &path.field("agent_flow_count"),
        )
    }?;
    let mut agent_flows = Vec::with_capacity(flows.len());
    for (i, f) in flows.iter().enumerate() {
        agent_flows.push(unsafe { try_str(*f, &flows_path.index(i)) }?.to_string());
    }
    b = b.agent_flows(agent_flows);
    b = b
        .log_input_and_output(c.log_input_and_output)
        .force_dev_export(!c.no_force_dev_export)
        .disable_traces(c.disable_traces)
        .disable_metrics(c.disable_metrics)
        .disable_logs(c.disable_logs)
        .enable_trace_based_sampling_for_logs(c.enable_trace_based_sampling_for_logs);
    for (field, raw) in c.number_fields() {
        let Some(setting) = face::setting_in(Face::C, field) else {
            // The tests tie every field to a declared setting.
            return Err(FfiError::new(
                GENKIT_AZURE_INTERNAL,
                format!("{} is not a declared setting", path.field(field)),
            ));
        };
        let zero = u64::from(GENKIT_AZURE_ZERO);
        let value = match raw {
            Raw::Int(0) => continue,
            Raw::Float(0.0) => continue,
            Raw::Int(n) if n == zero && setting.allows_zero() => match setting.kind {
                Kind::Duration => SettingValue::Duration(Duration::ZERO),
                _ => SettingValue::Count(0),
            },
            // `GENKIT_AZURE_ZERO` converted to a double by the C compiler.
            Raw::Float(f) if f == zero as f64 && setting.allows_zero() => SettingValue::Float(0.0),
            Raw::Int(n) => match setting.kind {
                Kind::Duration => SettingValue::Duration(Duration::from_millis(n)),
                _ => SettingValue::Count(n),
            },
            Raw::Float(f) => SettingValue::Float(f),
        };
        b = b
            .set(Face::C, setting.name, value)
            .map_err(genkit_azure::Error::Config)?;
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handle::tests::{config, last_error, UNREACHABLE};
    use crate::handle::{genkit_azure_handle, genkit_azure_new_v1 as genkit_azure_new};
    use genkit_azure::face::SETTINGS;
    use genkit_azure::opentelemetry::Key;
    use genkit_azure::Config;

    /// Starts a pipeline from `c`, hands it to `check`, and frees it.
    fn with_pipeline(c: &genkit_azure_config, check: impl FnOnce(&AzureTelemetry)) {
        crate::handle::tests::with_handle(c, |_, telemetry| check(telemetry));
    }

    /// `value` as a C field holds it: milliseconds for durations, the
    /// sentinel for an explicit 0 (a double's converted as C converts it).
    fn c_value(kind: Kind, value: SettingValue) -> Raw {
        match value {
            SettingValue::Float(0.0) => Raw::Float(f64::from(GENKIT_AZURE_ZERO)),
            SettingValue::Float(f) => Raw::Float(f),
            v if v.is_zero() => Raw::Int(u64::from(GENKIT_AZURE_ZERO)),
            SettingValue::Duration(d) => {
                assert_eq!(kind, Kind::Duration);
                Raw::Int(d.as_millis() as u64)
            }
            SettingValue::Count(n) => Raw::Int(n),
        }
    }

    #[test]
    fn every_number_and_duration_field_is_a_declared_setting() {
        let fields: Vec<&str> = config().number_fields().iter().map(|(f, _)| *f).collect();
        let declared: Vec<String> = SETTINGS
            .iter()
            .filter(|s| s.is_tuned())
            .map(|s| s.name_in(Face::C).into_owned())
            .collect();
        let mut sorted_fields = fields.clone();
        sorted_fields.sort_unstable();
        let mut sorted_declared = declared.clone();
        sorted_declared.sort_unstable();
        assert_eq!(
            sorted_fields, sorted_declared,
            "genkit_azure_config's number fields and core's settings differ"
        );
    }

    #[test]
    fn every_setting_set_from_c_reaches_core() {
        for s in SETTINGS.iter().filter(|s| s.is_tuned()) {
            let valid = face::example_valid(s).unwrap();
            let mut c = config();
            c.set_number_field(&s.name_in(Face::C), c_value(s.kind, valid))
                .unwrap_or_else(|| panic!("{} does not fit its field", s.name));
            with_pipeline(&c, |t| {
                assert_eq!(t.resolved_config().get(s.name), Some(valid), "{}", s.name);
            });
        }
        // All at once, and a field left 0 keeps the default.
        let mut c = config();
        for (s, value) in face::examples_together() {
            c.set_number_field(&s.name_in(Face::C), c_value(s.kind, value))
                .unwrap();
        }
        with_pipeline(&c, |t| {
            for (s, value) in face::examples_together() {
                assert_eq!(t.resolved_config().get(s.name), Some(value), "{}", s.name);
            }
        });
        with_pipeline(&config(), |t| {
            let defaults = Config::default();
            for s in SETTINGS.iter().filter(|s| s.is_tuned()) {
                assert_eq!(t.resolved_config().get(s.name), defaults.get(s.name));
            }
        });
    }

    #[test]
    fn every_setting_out_of_range_is_refused_naming_the_field() {
        for s in SETTINGS.iter().filter(|s| s.is_tuned()) {
            let invalid = face::example_invalid(s).unwrap();
            let mut c = config();
            c.set_number_field(&s.name_in(Face::C), c_value(s.kind, invalid))
                .unwrap();
            let mut out = std::ptr::NonNull::<genkit_azure_handle>::dangling().as_ptr();
            // SAFETY: a valid config and out pointer.
            let status = unsafe { genkit_azure_new(&c, &mut out) };
            assert_eq!(status, GENKIT_AZURE_INVALID_CONFIG, "{}", s.name);
            assert!(out.is_null());
            let wanted = format!(
                "genkit_azure_new: invalid configuration: config.{}: must be between ",
                s.name_in(Face::C)
            );
            assert!(last_error().starts_with(&wanted), "{}", last_error());
        }
    }

    #[test]
    fn agent_reparenting_is_on_unless_disabled() {
        with_pipeline(&config(), |t| {
            assert!(t.resolved_config().enable_agent_reparenting)
        });
        let off = genkit_azure_config {
            disable_agent_reparenting: true,
            ..config()
        };
        with_pipeline(&off, |t| {
            assert!(!t.resolved_config().enable_agent_reparenting)
        });
    }

    #[test]
    fn live_metrics_is_on_unless_disabled() {
        with_pipeline(&config(), |t| {
            assert!(t.resolved_config().enable_live_metrics)
        });
        let off = genkit_azure_config {
            disable_live_metrics: true,
            ..config()
        };
        with_pipeline(&off, |t| assert!(!t.resolved_config().enable_live_metrics));
    }

    #[test]
    fn the_sentinel_is_zero_only_where_zero_is_allowed() {
        let mut c = config();
        c.batch_delay_ms = GENKIT_AZURE_NO_BATCH_DELAY;
        c.thread_nice = GENKIT_AZURE_HOST_PRIORITY;
        c.gzip_level = GENKIT_AZURE_ZERO;
        // What C's `c.sampling_ratio = GENKIT_AZURE_ZERO;` stores.
        c.sampling_ratio = f64::from(GENKIT_AZURE_ZERO);
        with_pipeline(&c, |t| {
            let r = t.resolved_config();
            assert_eq!(
                (r.batch_delay, r.thread_nice, r.gzip_level),
                (Duration::ZERO, 0, 0)
            );
            assert_eq!(r.sampling_ratio, 0.0);
        });
        // Elsewhere it is just a number, and out of range.
        let mut c = config();
        c.max_batch_size = GENKIT_AZURE_ZERO;
        let mut out = std::ptr::null_mut();
        // SAFETY: a valid config and out pointer.
        let status = unsafe { genkit_azure_new(&c, &mut out) };
        assert_eq!(status, GENKIT_AZURE_INVALID_CONFIG);
        assert!(
            last_error().contains(
                "config.max_batch_size: must be between 1 and 32768 items, got 4294967295"
            ),
            "{}",
            last_error()
        );
    }

    #[test]
    fn sampling_fields_reach_core_and_a_ratio_with_a_rate_is_refused() {
        let c = genkit_azure_config {
            sampling_ratio: 0.25,
            ..config()
        };
        with_pipeline(&c, |t| {
            assert_eq!(t.resolved_config().sampling_ratio, 0.25);
            assert_eq!(t.operations().sampler().describe(), "keeps 25% of traces");
        });
        let c = genkit_azure_config {
            traces_per_second: 2.5,
            ..config()
        };
        with_pipeline(&c, |t| {
            assert_eq!(
                t.operations().sampler().describe(),
                "keeps about 2.5 traces/s"
            );
        });
        for (c, wanted) in [
            (
                genkit_azure_config {
                    sampling_ratio: 0.5,
                    traces_per_second: 5.0,
                    ..config()
                },
                "config.sampling_ratio: cannot be set together with traces_per_second",
            ),
            (
                genkit_azure_config {
                    sampling_ratio: f64::NAN,
                    ..config()
                },
                "config.sampling_ratio: must be between 0 and 1, got NaN",
            ),
            (
                genkit_azure_config {
                    traces_per_second: -1.0,
                    ..config()
                },
                "config.traces_per_second: must be between 0 and 1000000 traces/s, got -1",
            ),
        ] {
            let mut out = std::ptr::null_mut();
            // SAFETY: a valid config and out pointer.
            let status = unsafe { genkit_azure_new(&c, &mut out) };
            assert_eq!(status, GENKIT_AZURE_INVALID_CONFIG);
            assert!(last_error().contains(wanted), "{}", last_error());
        }
    }

    #[test]
    fn identity_fields_reach_core() {
        let dir = std::env::temp_dir().join("genkit-azure-ffi-config-test");
        let dir_c = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        let attrs = [crate::attribute::tests::attr(
            c"team",
            crate::attribute::genkit_azure_attribute_type::GENKIT_AZURE_ATTRIBUTE_STRING,
        )];
        let prices = [genkit_azure_model_price {
            model: c"fake/m".as_ptr(),
            input_usd_per_million_tokens: 0.3,
            output_usd_per_million_tokens: 2.5,
        }];
        let flows = [c"support_flow".as_ptr()];
        let c = genkit_azure_config {
            service_name: c"svc".as_ptr(),
            service_version: c"2.0".as_ptr(),
            service_namespace: c"ns".as_ptr(),
            deployment_environment: c"staging".as_ptr(),
            resource_attributes: attrs.as_ptr(),
            resource_attribute_count: 1,
            storage_directory: dir_c.as_ptr(),
            disable_offline_storage: false,
            agent_ids: attrs.as_ptr(),
            agent_id_count: 1,
            model_prices: prices.as_ptr(),
            model_price_count: 1,
            agent_flows: flows.as_ptr(),
            agent_flow_count: 1,
            ..config()
        };
        with_pipeline(&c, |t| {
            let get = |k: &'static str| {
                t.resource()
                    .get(&Key::from_static_str(k))
                    .map(|v| v.to_string())
            };
            assert_eq!(get("service.name").as_deref(), Some("svc"));
            assert_eq!(get("service.version").as_deref(), Some("2.0"));
            assert_eq!(get("service.namespace").as_deref(), Some("ns"));
            assert_eq!(
                get("deployment.environment.name").as_deref(),
                Some("staging")
            );
            assert_eq!(get("team").as_deref(), Some("v"));
            assert_eq!(get("telemetry.sdk.language").as_deref(), Some("c"));
            let r = t.resolved_config();
            assert_eq!(r.connection_string.as_deref(), UNREACHABLE.to_str().ok());
            assert_eq!(r.storage_directory.as_deref(), Some(dir.as_path()));
            assert!(r.storage_enabled);
            assert!(!r.log_input_and_output && r.force_dev_export);
            assert!(!r.disable_traces && !r.disable_metrics && !r.disable_logs);
            assert!(!r.enable_trace_based_sampling_for_logs);
            assert_eq!(r.agent_ids.get("team").map(String::as_str), Some("v"));
            assert_eq!(r.model_prices.get("fake/m"), Some(&(0.3, 2.5)));
            assert_eq!(r.agent_flows, ["support_flow"]);
        });
        let flags = genkit_azure_config {
            enable_trace_based_sampling_for_logs: true,
            log_input_and_output: true,
            no_force_dev_export: true,
            disable_traces: true,
            disable_metrics: true,
            disable_logs: true,
            ..config()
        };
        with_pipeline(&flags, |t| {
            let r = t.resolved_config();
            assert!(r.log_input_and_output && !r.force_dev_export);
            assert!(r.disable_traces && r.disable_metrics && r.disable_logs);
            assert!(r.enable_trace_based_sampling_for_logs);
        });
        let _ = std::fs::remove_dir_all(&dir);
        with_pipeline(&config(), |t| assert!(!t.resolved_config().storage_enabled));
    }
}
