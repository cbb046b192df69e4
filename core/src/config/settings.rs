//! Every setting, declared once: name, type, unit, default, allowed range,
//! one-line doc and the environment variable it reads.
//!
//! `for_each_setting!` hands the list to a macro, so each thing made from it
//! is made from the same words: here `Config` (its fields, defaults, range
//! checks and [`SETTINGS`]), in `telemetry/builder.rs` the builder's methods.
//! The C struct, the Python keywords, the stubs, the docstring and the
//! README's table are written by hand (cbindgen cannot expand macros, and
//! Python users read real signatures) and checked against [`SETTINGS`] by
//! each face's tests.
//!
//! A declaration's first doc line is the setting's one-line doc, a sentence
//! of its own; more lines after a blank one explain it in `Config`.
//!
//! Not in the list: the Microsoft Entra ID credential (Rust
//! `AzureTelemetryBuilder::credential`, C `token_callback` with
//! `token_user_data`, Python `credential=`). It is code, not a value: it has
//! no default, range, unit or text form to declare, `Config` (plain, `Clone`
//! data) would have to carry a callback, and each face takes it in its own
//! shape (a trait object, a function pointer, a Python object); the builder
//! keeps it beside the `Config` and `auth/` explains it. Its environment
//! variable, `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`, names a kind of
//! credential rather than a value, and is read by `auth::environment`.

use super::resource::ResourceSettings;
use super::setting::{Face, Kind, Setting, SettingDefault, SettingType, SettingValue};
use crate::error::ConfigError;
use std::path::PathBuf;
use std::time::Duration;

pub const CONNECTION_STRING_ENV: &str = "APPLICATIONINSIGHTS_CONNECTION_STRING";

/// See [`Config::gzip_level`].
pub const DEFAULT_GZIP_LEVEL: u32 = 3;

/// Calls `$callback! { identity { ... } tuned { ... } }` with every setting.
///
/// `identity` settings are text, paths, flags and attributes: who is
/// sending and where data waits. Their `Config` fields and builder methods
/// are written by hand. `tuned` settings are numbers and durations; their
/// fields, defaults, builder methods and checks all come from this list.
macro_rules! for_each_setting {
    ($callback:ident) => {
        $callback! {
            identity {
                /// The Application Insights connection string; unset reads `APPLICATIONINSIGHTS_CONNECTION_STRING`.
                connection_string: Text, env "APPLICATIONINSIGHTS_CONNECTION_STRING",
                    default "`APPLICATIONINSIGHTS_CONNECTION_STRING`";
                /// The service's name (`service.name`), shown as the cloud role.
                service_name: Text, env "OTEL_SERVICE_NAME",
                    default "`OTEL_SERVICE_NAME`, then `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, then `genkit-app`";
                /// The service's version (`service.version`), shown as the application version.
                service_version: Text,
                    default "not set (Python's `AzureTelemetry`: `1.0.0`)";
                /// The service's namespace (`service.namespace`), which prefixes the cloud role.
                service_namespace: Text, default "not set";
                /// The deployment environment (`deployment.environment.name`: `prod`, `staging`, ...).
                deployment_environment: Text, default "not set";
                /// More resource attributes; a value set in code wins over the environment.
                resource_attributes: Attributes, env "OTEL_RESOURCE_ATTRIBUTES", default "none";
                /// Where undeliverable batches wait on disk, to be resent by this or a later process with the same key.
                storage_directory: Path,
                    default "`<temp>/genkit-azure-<uid>/<hash of the key>` (the temp dir honours `TMPDIR`)";
                /// Keep undeliverable batches in memory only, for read-only or ephemeral file systems.
                disable_offline_storage: Flag, default "off: batches persist";
                /// Export prompts and responses (`genkit:input`, `genkit:output`, cut to the property limit) and Input/Output log records.
                ///
                /// Off, both attributes are `<redacted>` before export (tokens,
                /// finish reasons and latency are read from them first). On,
                /// model calls also carry `gen_ai.input.messages`,
                /// `gen_ai.output.messages` and `gen_ai.system_instructions`
                /// in OpenTelemetry's GenAI message schema, 256 KiB each.
                log_input_and_output: Flag, default "off: `<redacted>`";
                /// Sample logs and custom telemetry with their trace: dropped with a dropped trace, and carrying a kept one's `sampleRate`.
                ///
                /// Off, they are all kept and carry no `sampleRate` (they are
                /// not sampled, so the portal must not multiply them).
                enable_trace_based_sampling_for_logs: Flag, default "off";
                /// Export even when `GENKIT_ENV=dev`.
                ///
                /// Off, a process in Genkit's dev mode exports nothing.
                force_dev_export: FlagOn, default "on";
                /// Export no spans; Genkit's metrics and logs are still derived from them.
                disable_traces: Flag, default "off";
                /// Export no metrics: no Genkit metrics, no metric points, no `_OTELRESOURCE_`.
                disable_metrics: Flag, default "off";
                /// Export no logs: no log records, no Genkit log records.
                disable_logs: Flag, default "off";
                /// Stream Live Metrics (QuickPulse) to the portal while someone watches it.
                ///
                /// Pings the live endpoint every 5 s (every 60 s after a minute
                /// unwatched) and, while someone watches, posts counters,
                /// sample documents and the portal's filtered views every
                /// second, from the background runtime. Off with Genkit's dev
                /// mode when that exports nothing, and when the connection
                /// string points ingestion at a loopback host without naming a
                /// `LiveEndpoint` (a local setup never wants the public default).
                enable_live_metrics: FlagOn, default "on";
                /// Export a Genkit agent's model and tool calls as direct children of its `invoke_agent` dependency, as Azure's Agents view looks them up.
                ///
                /// Genkit puts a turn and a `generate` step between an agent and
                /// its calls. On, a call's `ai.operation.parentId` is the agent
                /// span's id and its true parent stays in the property
                /// `genkit_azure.genkit_parent_id` (the turn and `generate`
                /// spans are still exported). Off, the tree is exported as
                /// Genkit made it.
                enable_agent_reparenting: FlagOn, default "on";
                /// Agent ids by Genkit agent name, for `gen_ai.agent.id` (Foundry matches spans to a registered agent by it).
                ///
                /// An agent not listed has its name as id.
                agent_ids: TextMap, default "none: the agent's name";
                /// Prices by Genkit model name, in USD per million input and output tokens: model calls then carry their cost (`microsoft.gen_ai.cost.input` / `.output`).
                ///
                /// The key is the model as Genkit names it (`googleai/gemini-2.5-flash`)
                /// or as the call's `gen_ai.request.model` says it
                /// (`gemini-2.5-flash`). A model not listed, or no table, adds no
                /// cost.
                model_prices: Prices, default "none: no cost";
                /// Genkit flows to present as agents (`invoke_agent` dependencies, as `genkit.exp` agents are).
                ///
                /// For apps whose agent is a flow: a flow named here is an
                /// agent in Azure's Agents view, with everything an agent gets
                /// (spans inside it name it, its calls go under it, its token
                /// totals).
                agent_flows: Names, default "none";
            }
            tuned {
                /// Items per export request.
                max_batch_size: usize, Count("items"), default 1024, range 1, 32_768;
                /// A batch also closes when its spans' and logs' text reaches this many bytes.
                ///
                /// Large prompts and model output then keep requests, and the
                /// memory they hold, bounded.
                max_batch_bytes: usize, Bytes, default 1 << 20, range 1024, 64 << 20;
                /// How long a partly filled batch waits before it is sent.
                batch_delay: Duration, Duration,
                    default Duration::from_secs(1),
                    range Duration::ZERO, Duration::from_secs(3600);
                /// Items the ingest queue holds; past that, items spill to disk or are dropped and counted.
                ///
                /// The caller never waits for room.
                queue_capacity: usize, Count("items"), default 65_536, range 1, 16_777_216;
                /// Bytes of content the ingest queue holds, and apart from it the spill queue; past that, items spill to disk or are dropped and counted, as past `queue_capacity`.
                ///
                /// Counted as `max_batch_bytes` counts a batch. A Genkit span
                /// carries its prompt and the model's output, so a count alone
                /// would let a burst of large responses (images as data URLs)
                /// hold gigabytes while the worker is behind. An item alone in
                /// the queue is taken whatever its size.
                max_queue_bytes: u64, Bytes, default 256 << 20, range 64 << 10, 1 << 40;
                /// Items the spill queue holds, where spans and logs go to disk when the ingest queue is full.
                ///
                /// Used only with persistence on; its consumer writes them
                /// straight to disk.
                spill_capacity: usize, Count("items"), default 65_536, range 1, 16_777_216;
                /// Export requests in flight at once.
                max_concurrent_exports: usize, Count("requests"), default 2, range 1, 64;
                /// Timeout of one HTTP request.
                request_timeout: Duration, Duration,
                    default Duration::from_secs(10),
                    range Duration::from_millis(1), Duration::from_secs(600);
                /// Threads of the background runtime.
                worker_threads: usize, Count("threads"), default 2, range 1, 64;
                /// How far the background threads defer to the app's for CPU, as a Linux nice increment.
                ///
                /// 0 keeps the app's priority, 19 defers the most. Telemetry is
                /// background work: when the app and the pipeline want the same
                /// core, the app should get it. The app's own threads are never
                /// touched. Linux only; elsewhere ignored.
                thread_nice: u8, Count(""), default 10, range 0, 19;
                /// How often aggregated metric points are exported, besides every flush.
                metric_export_interval: Duration, Duration,
                    default Duration::from_secs(60),
                    range Duration::from_millis(100), Duration::from_secs(24 * 3600);
                /// Attribute sets one metric may have; a point with a new set past that folds into the metric's `otel.metric.overflow` series, counted.
                ///
                /// Per metric and per export interval (an up-down counter's
                /// sets, whose totals are reported every interval, since the
                /// start), as the OpenTelemetry SDK's cardinality limit: an
                /// unbounded attribute cannot grow memory without bound, and
                /// no point is lost. Folded points are counted in
                /// `metric_series_overflowed`; the first fold of each metric
                /// is said once.
                metric_series_limit: usize, Count("series"), default 2000, range 1, 1_000_000;
                /// First retry delay after a transient failure; it doubles per attempt, with full jitter.
                ///
                /// At most `retry_max_delay`.
                retry_base_delay: Duration, Duration,
                    default Duration::from_millis(500),
                    range Duration::from_millis(1), Duration::from_secs(3600);
                /// Longest delay between retries, and the longest a recovered endpoint waits for its first probe.
                retry_max_delay: Duration, Duration,
                    default Duration::from_secs(10),
                    range Duration::from_millis(1), Duration::from_secs(3600);
                /// Compressed bytes kept in memory for retry; past that the oldest go, counted.
                max_backlog_bytes: u64, Bytes, default 64 << 20, range 64 << 10, 1 << 40;
                /// The gzip level of request bodies, from 0 (stored) to 9 (smallest).
                ///
                /// The default was chosen by measurement (`make bench`, envelope
                /// writing, the benchmark's spans in batches of 1,024). Level 3
                /// is our own encoder (envelopes/deflate), which matches where the
                /// writer marks fixed text and values: the whole writer costs 1.3
                /// µs a span for 37 bytes on the wire, what zlib's level 1 costs for
                /// 71; the other levels are zlib-rs's: 1.9 µs for 39 at level 4,
                /// 2.4 µs for 36 at 5 and 2.7 µs for 34 at 6 (the crate: 6.8 µs for
                /// 33). 5 or 6 send about what the crate sent, for more CPU.
                gzip_level: u32, Count(""), default DEFAULT_GZIP_LEVEL, range 0, 9;
                /// Disk cap for this key's directory; past it the oldest files are dropped, counted.
                max_disk_bytes: u64, Bytes, default 50 << 20, range 1024, 1 << 40;
                /// Files older than this are dropped, counted.
                disk_retention: Duration, Duration,
                    default Duration::from_secs(48 * 3600),
                    range Duration::from_secs(1), Duration::from_secs(30 * 24 * 3600);
                /// How long a file being sent stays this process's, and never less than twice `request_timeout`.
                ///
                /// A lease that expired mid-request would let another process
                /// send the same file; a dead owner's file is taken over once
                /// its lease expires.
                disk_lease: Duration, Duration,
                    default Duration::from_secs(30),
                    range Duration::from_secs(1), Duration::from_secs(3600);
                /// The share of traces kept, whole, chosen by trace id as every Application Insights SDK chooses.
                ///
                /// A trace is kept when the DJB2 score of its id is below the
                /// ratio, so services sampling at the same ratio keep the same
                /// traces, and its children follow its root. Kept envelopes
                /// carry `sampleRate` = ratio × 100. Not together with
                /// `traces_per_second`. Left at 1 in code, the environment's
                /// `OTEL_TRACES_SAMPLER=microsoft.fixed_percentage` and
                /// `OTEL_TRACES_SAMPLER_ARG` set it.
                sampling_ratio: f64, Float(""), default 1.0, range 0.0, 1.0,
                    env "OTEL_TRACES_SAMPLER";
                /// Keep about this many traces a second, whole, decided at each root; 0 sets no limit.
                ///
                /// The share kept adapts to the rate roots arrive at (over
                /// about 0.1 s) and is rounded down to 100/n; kept envelopes
                /// carry it as `sampleRate`. Not together with `sampling_ratio`.
                /// Left at 0 in code, the environment's
                /// `OTEL_TRACES_SAMPLER=microsoft.rate_limited` and
                /// `OTEL_TRACES_SAMPLER_ARG` set it.
                traces_per_second: f64, Float("traces/s"), default 0.0, range 0.0, 1_000_000.0,
                    env "OTEL_TRACES_SAMPLER";
            }
        }
    };
}
pub(crate) use for_each_setting;

/// The first of a doc comment's lines.
macro_rules! first_line {
    ($first:literal $(, $rest:literal)*) => {
        $first
    };
}

/// A declaration's environment variable, if it names one.
macro_rules! env_of {
    () => {
        None
    };
    ($env:literal) => {
        Some($env)
    };
}

/// A declared value as a [`SettingValue`], in a constant.
macro_rules! setting_value {
    (Duration, $e:expr) => {
        SettingValue::Duration($e)
    };
    (f64, $e:expr) => {
        SettingValue::Float($e)
    };
    ($t:ident, $e:expr) => {
        SettingValue::Count({
            // Typed as the field is, so `1 << 40` means a u64 there too.
            let value: $t = $e;
            // Count types are at most 64 bits wide.
            value as u64
        })
    };
}

macro_rules! config_from_settings {
    (
        identity { $(
            $(#[doc = $idoc:literal])*
            $iname:ident : $ikind:ident $(, env $ienv:literal)?, default $idefault:literal;
        )* }
        tuned { $(
            $(#[doc = $doc:literal])*
            $name:ident : $t:ident, $kind:ident $(($unit:literal))?,
                default $default:expr, range $lo:expr, $hi:expr $(, env $env:literal)?;
        )* }
    ) => {
        /// Every setting of the pipeline. Build one with
        /// `AzureTelemetry::builder()`; each field's doc says its default and
        /// allowed range, and [`SETTINGS`] lists them all.
        #[derive(Clone)]
        #[non_exhaustive]
        pub struct Config {
            /// The connection string; `None` reads `APPLICATIONINSIGHTS_CONNECTION_STRING`.
            pub connection_string: Option<String>,
            /// Service name, version, namespace and more resource attributes.
            pub resource: ResourceSettings,
            /// Persist undeliverable batches to disk (default on).
            pub storage_enabled: bool,
            /// Where; `None` is `<temp>/genkit-azure-<uid>/<hash of the key>`.
            pub storage_directory: Option<PathBuf>,
            /// Export `genkit:input` / `genkit:output` and Input/Output log
            /// records (default off: `<redacted>`).
            pub log_input_and_output: bool,
            /// Drop logs and custom telemetry of dropped traces, and mark
            /// those of kept ones with `sampleRate` (default off).
            pub enable_trace_based_sampling_for_logs: bool,
            /// Export in `GENKIT_ENV=dev` too (default on).
            pub force_dev_export: bool,
            /// Export no spans (default off); Genkit metrics and logs are
            /// still derived from them.
            pub disable_traces: bool,
            /// Export no metrics (default off).
            pub disable_metrics: bool,
            /// Export no logs (default off).
            pub disable_logs: bool,
            /// Stream Live Metrics while someone watches (default on).
            pub enable_live_metrics: bool,
            /// Export a Genkit agent's model and tool calls under the agent
            /// span (default on).
            pub enable_agent_reparenting: bool,
            /// `gen_ai.agent.id` by Genkit agent name (default none: the name).
            pub agent_ids: std::collections::HashMap<String, String>,
            /// USD per million (input, output) tokens by model (default none).
            pub model_prices: std::collections::HashMap<String, (f64, f64)>,
            /// Flows presented as agents (default none).
            pub agent_flows: Vec<String>,
            /// Not a setting: Live Metrics' intervals, which tests scale down.
            #[doc(hidden)]
            pub live_metrics_timings: crate::live::LiveTimings,
            /// Not a setting: the bytes of JSON and the envelopes one request
            /// may hold, which tests make small (`None`: the service's).
            #[doc(hidden)]
            pub request_limits: Option<(usize, usize)>,
            $(
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = concat!(
                    "Default `", stringify!($default), "`, allowed `",
                    stringify!($lo), "` ..= `", stringify!($hi), "`."
                )]
                pub $name: $t,
            )*
        }

        impl Default for Config {
            fn default() -> Self {
                Self {
                    connection_string: None,
                    resource: ResourceSettings::default(),
                    storage_enabled: true,
                    storage_directory: None,
                    log_input_and_output: false,
                    enable_trace_based_sampling_for_logs: false,
                    force_dev_export: true,
                    disable_traces: false,
                    disable_metrics: false,
                    disable_logs: false,
                    enable_live_metrics: true,
                    enable_agent_reparenting: true,
                    agent_ids: std::collections::HashMap::new(),
                    model_prices: std::collections::HashMap::new(),
                    agent_flows: Vec::new(),
                    live_metrics_timings: crate::live::LiveTimings::default(),
                    request_limits: None,
                    $($name: $default,)*
                }
            }
        }

        // Written out so that the connection string (it holds the key) never
        // reaches a log through `{:?}`.
        impl std::fmt::Debug for Config {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("Config")
                    .field(
                        "connection_string",
                        &self.connection_string.as_ref().map(|_| "<set>"),
                    )
                    .field("resource", &self.resource)
                    .field("storage_enabled", &self.storage_enabled)
                    .field("storage_directory", &self.storage_directory)
                    .field("log_input_and_output", &self.log_input_and_output)
                    .field(
                        "enable_trace_based_sampling_for_logs",
                        &self.enable_trace_based_sampling_for_logs,
                    )
                    .field("force_dev_export", &self.force_dev_export)
                    .field("disable_traces", &self.disable_traces)
                    .field("disable_metrics", &self.disable_metrics)
                    .field("disable_logs", &self.disable_logs)
                    .field("enable_live_metrics", &self.enable_live_metrics)
                    .field("enable_agent_reparenting", &self.enable_agent_reparenting)
                    .field("agent_ids", &self.agent_ids)
                    .field("model_prices", &self.model_prices)
                    .field("agent_flows", &self.agent_flows)
                    $(.field(stringify!($name), &self.$name))*
                    .finish()
            }
        }

        impl Config {
            /// A number or duration setting's value, by its Rust name.
            #[doc(hidden)]
            pub fn get(&self, name: &str) -> Option<SettingValue> {
                match name {
                    $(stringify!($name) => Some(SettingType::to_value(self.$name)),)*
                    _ => None,
                }
            }

            /// Sets a number or duration setting by its Rust name; the error
            /// (named for `face`) says when the value cannot be held.
            pub(crate) fn set(
                &mut self,
                face: Face,
                name: &str,
                value: SettingValue,
            ) -> Result<(), ConfigError> {
                let Some(setting) = setting(name).filter(|s| s.is_tuned()) else {
                    return Err(ConfigError::new(name, "is not a number or duration setting"));
                };
                match name {
                    $(stringify!($name) => {
                        self.$name = SettingType::from_value(value)
                            .ok_or_else(|| setting.out_of_range(face, setting.format(face, value)))?;
                    })*
                    _ => unreachable!("every tuned setting has a field"),
                }
                Ok(())
            }
        }

        /// Every setting, in declaration order: the identity settings, then
        /// the numbers and durations.
        pub static SETTINGS: &[Setting] = &[
            $(Setting {
                name: stringify!($iname),
                kind: Kind::$ikind,
                doc: first_line!($($idoc),*),
                env: env_of!($($ienv)?),
                default: SettingDefault::Described($idefault),
                range: None,
            },)*
            $(Setting {
                name: stringify!($name),
                kind: Kind::$kind $(($unit))?,
                doc: first_line!($($doc),*),
                env: env_of!($($env)?),
                default: SettingDefault::Value(setting_value!($t, $default)),
                range: Some((setting_value!($t, $lo), setting_value!($t, $hi))),
            },)*
        ];
    };
}
for_each_setting!(config_from_settings);

/// The declaration of the setting called `name` (its Rust name).
pub fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

impl Config {
    /// Checks every range, and the settings that depend on each other; the
    /// message names the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_as(Face::Rust)
    }

    /// As [`Config::validate`], naming settings as `face` does.
    #[doc(hidden)]
    pub fn validate_as(&self, face: Face) -> Result<(), ConfigError> {
        for setting in SETTINGS.iter().filter(|s| s.is_tuned()) {
            let value = self.get(setting.name).expect("a tuned setting has a value");
            setting.check(face, value)?;
        }
        let mut prices: Vec<_> = self.model_prices.iter().collect();
        prices.sort_by(|a, b| a.0.cmp(b.0));
        for (model, (input, output)) in prices {
            if !(input.is_finite() && *input >= 0.0 && output.is_finite() && *output >= 0.0) {
                let field = setting("model_prices").expect("declared").error_field(face);
                return Err(ConfigError::new(
                    field,
                    format!(
                        "the prices of '{model}' must be finite and at least 0 USD per million \
                         tokens, got {input} and {output}"
                    ),
                ));
            }
        }
        if self.retry_base_delay > self.retry_max_delay {
            let (base, max) = (
                setting("retry_base_delay").expect("declared"),
                setting("retry_max_delay").expect("declared"),
            );
            return Err(ConfigError::new(
                base.error_field(face),
                format!(
                    "must be at most {} ({}), got {}",
                    max.name_in(face),
                    max.format_with_unit(face, self.retry_max_delay.to_value()),
                    base.format_with_unit(face, self.retry_base_delay.to_value()),
                ),
            ));
        }
        if self.sampling_ratio < 1.0 && self.traces_per_second > 0.0 {
            let (ratio, rate) = (
                setting("sampling_ratio").expect("declared"),
                setting("traces_per_second").expect("declared"),
            );
            return Err(ConfigError::new(
                ratio.error_field(face),
                format!(
                    "cannot be set together with {}: traces are sampled either at a fixed \
                     ratio or up to a rate (got {} and {})",
                    rate.name_in(face),
                    ratio.format(face, self.sampling_ratio.to_value()),
                    rate.format_with_unit(face, self.traces_per_second.to_value()),
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_are_what_the_list_declares() {
        let config = Config::default();
        config.validate().unwrap();
        for s in SETTINGS.iter().filter(|s| s.is_tuned()) {
            assert_eq!(config.get(s.name), s.default_value(), "{}", s.name);
        }
    }

    #[test]
    fn every_declaration_is_well_formed() {
        let mut names = std::collections::HashSet::new();
        for s in SETTINGS {
            assert!(names.insert(s.name), "{} is declared twice", s.name);
            let doc = s.summary();
            assert!(
                doc.ends_with('.') && !doc.is_empty(),
                "{}: the first doc line must be a sentence of its own: {doc:?}",
                s.name
            );
            assert_eq!(
                s.kind == Kind::Bytes,
                s.name.ends_with("_bytes"),
                "{}: sizes in bytes, and only they, end in _bytes",
                s.name
            );
            if let (Some((lo, hi)), Some(default)) = (s.range, s.default_value()) {
                assert!(lo <= default && default <= hi, "{}", s.name);
            }
        }
    }

    #[test]
    fn out_of_range_and_dependent_settings_are_named() {
        let mut config = Config::default();
        config
            .set(Face::Rust, "max_batch_size", SettingValue::Count(0))
            .unwrap();
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "max_batch_size: must be between 1 and 32768 items, got 0"
        );

        let mut config = Config::default();
        let err = config
            .set(Face::C, "thread_nice", SettingValue::Count(300))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config.thread_nice: must be between 0 and 19, got 300"
        );

        let config = Config {
            retry_base_delay: Duration::from_secs(20),
            ..Config::default()
        };
        assert_eq!(
            config.validate_as(Face::Python).unwrap_err().to_string(),
            "retry_base_delay_s: must be at most retry_max_delay_s (10 s), got 20 s"
        );
    }

    #[test]
    fn a_price_must_be_a_finite_amount() {
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let config = Config {
                model_prices: [("m".to_string(), (0.5, bad))].into_iter().collect(),
                ..Config::default()
            };
            let err = config.validate_as(Face::C).unwrap_err().to_string();
            assert!(
                err.starts_with("config.model_prices: the prices of 'm' must be finite"),
                "{err}"
            );
        }
        let config = Config {
            model_prices: [("m".to_string(), (0.0, 2.5))].into_iter().collect(),
            ..Config::default()
        };
        config.validate().unwrap();
    }

    #[test]
    fn debug_never_shows_the_connection_string() {
        let config = Config {
            connection_string: Some("InstrumentationKey=secret-key".into()),
            ..Config::default()
        };
        let text = format!("{config:?}");
        assert!(!text.contains("secret-key"), "{text}");
        assert!(text.contains("max_batch_size: 1024"), "{text}");
    }
}
