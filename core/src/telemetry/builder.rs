//! The builder that validates settings and starts an [`AzureTelemetry`] pipeline.
//!
//! Its methods for numbers and durations come from the one list of settings
//! (`config/settings.rs`); the identity settings' methods are written here.

use super::AzureTelemetry;
use crate::auth::{SharedCredential, TokenCredential};
use crate::config::{for_each_setting, Config, Face, SettingValue};
use crate::error::{ConfigError, Error, Result};
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
    /// Not a setting (it is code, not a value): kept beside the `Config`.
    credential: Option<SharedCredential>,
}

macro_rules! builder_methods {
    (
        identity { $($identity:tt)* }
        tuned { $(
            $(#[doc = $doc:literal])*
            $name:ident : $t:ident, $kind:ident $(($unit:literal))?,
                default $default:expr, range $lo:expr, $hi:expr $(, env $env:literal)?;
        )* }
    ) => {
        impl AzureTelemetryBuilder {
            $(
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = concat!(
                    "Default `", stringify!($default), "`, allowed `",
                    stringify!($lo), "` ..= `", stringify!($hi), "`."
                )]
                pub fn $name(mut self, value: $t) -> Self {
                    self.config.$name = value;
                    self
                }
            )*
        }
    };
}
for_each_setting!(builder_methods);

impl AzureTelemetryBuilder {
    pub fn from_config(config: Config) -> Self {
        Self {
            config,
            credential: None,
        }
    }
    /// Authenticate with Microsoft Entra ID: every request carries a bearer
    /// token from `credential` (for `https://monitor.azure.com//.default`,
    /// or `<AADAudience>/.default` when the connection string names an
    /// audience), whatever the connection string's `Authorization`. Tokens
    /// are fetched on the pipeline's background threads, cached, refreshed
    /// before they expire and once after a 401 or 403; while the credential
    /// fails, data is kept (on disk or in memory) and sent once it recovers.
    /// Without a credential, `Authorization=AAD` in the connection string or
    /// `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` make `build` fail.
    pub fn credential(mut self, credential: impl TokenCredential + 'static) -> Self {
        self.credential = Some(SharedCredential(std::sync::Arc::new(credential)));
        self
    }
    /// The Application Insights connection string; unset reads
    /// `APPLICATIONINSIGHTS_CONNECTION_STRING`.
    pub fn connection_string(mut self, s: impl Into<String>) -> Self {
        self.config.connection_string = Some(s.into());
        self
    }
    /// The service's name (`service.name`), shown as the cloud role. Unset:
    /// `OTEL_SERVICE_NAME`, then `service.name` in `OTEL_RESOURCE_ATTRIBUTES`,
    /// then `genkit-app`.
    pub fn service_name(mut self, s: impl Into<String>) -> Self {
        self.config.resource.service_name = Some(s.into());
        self
    }
    /// The service's version (`service.version`), shown as the application version.
    pub fn service_version(mut self, s: impl Into<String>) -> Self {
        self.config.resource.service_version = Some(s.into());
        self
    }
    /// The service's namespace (`service.namespace`), which prefixes the cloud role.
    pub fn service_namespace(mut self, s: impl Into<String>) -> Self {
        self.config.resource.service_namespace = Some(s.into());
        self
    }
    /// `deployment.environment.name` (`prod`, `staging`, ...).
    pub fn deployment_environment(mut self, s: impl Into<String>) -> Self {
        self.config.resource.deployment_environment = Some(s.into());
        self
    }
    /// More resource attributes; they win over `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn resource_attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.config.resource.attributes.extend(attributes);
        self
    }
    /// One more resource attribute (see [`Self::resource_attributes`]).
    pub fn resource_attribute(self, kv: KeyValue) -> Self {
        self.resource_attributes([kv])
    }
    /// Persist undeliverable batches under `dir` instead of the default directory.
    /// Naming a directory turns persistence on.
    pub fn storage_directory(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.storage_enabled = true;
        self.config.storage_directory = Some(dir.into());
        self
    }
    /// `true`: keep undeliverable batches in memory only, for read-only or
    /// ephemeral file systems.
    pub fn disable_offline_storage(mut self, disable: bool) -> Self {
        self.config.storage_enabled = !disable;
        self
    }
    /// `true`: export `genkit:input` / `genkit:output` (cut to the property
    /// limit) and Input/Output log records; otherwise they are `<redacted>`.
    pub fn log_input_and_output(mut self, on: bool) -> Self {
        self.config.log_input_and_output = on;
        self
    }
    /// `true`: logs and custom telemetry inside a trace that sampling
    /// dropped are dropped too (counted in `logs_sampled_out`,
    /// `custom_sampled_out`), and those inside a kept trace carry its
    /// `sampleRate`. Off (the default), they are all kept, unmarked.
    pub fn enable_trace_based_sampling_for_logs(mut self, on: bool) -> Self {
        self.config.enable_trace_based_sampling_for_logs = on;
        self
    }
    /// `false`: send nothing to Live Metrics (default `true`: stream counters,
    /// sample documents and the portal's filtered views while someone watches).
    pub fn enable_live_metrics(mut self, on: bool) -> Self {
        self.config.enable_live_metrics = on;
        self
    }
    /// `false`: export a Genkit agent's model and tool calls where Genkit put
    /// them, under its turn and `generate` steps (default `true`: directly
    /// under the agent's `invoke_agent` dependency, the true parent in the
    /// property `genkit_azure.genkit_parent_id`, as Azure's Agents view
    /// looks them up).
    pub fn enable_agent_reparenting(mut self, on: bool) -> Self {
        self.config.enable_agent_reparenting = on;
        self
    }
    /// Agent ids by Genkit agent name: an agent listed has this
    /// `gen_ai.agent.id` (the id of an agent registered in Foundry, which
    /// matches spans by it) instead of its name. Adds to earlier calls.
    pub fn agent_ids<K: Into<String>, V: Into<String>>(
        mut self,
        ids: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.config
            .agent_ids
            .extend(ids.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }
    /// Prices by model, in USD per million input and output tokens: each
    /// `(model, input, output)` adds `microsoft.gen_ai.cost.input` /
    /// `.output` to that model's calls. The model is named as Genkit names it
    /// (`googleai/gemini-2.5-flash`) or as `gen_ai.request.model` says it.
    /// Adds to earlier calls.
    pub fn model_prices<K: Into<String>>(
        mut self,
        prices: impl IntoIterator<Item = (K, f64, f64)>,
    ) -> Self {
        self.config.model_prices.extend(
            prices
                .into_iter()
                .map(|(model, input, output)| (model.into(), (input, output))),
        );
        self
    }
    /// Genkit flows to present as agents: a flow named here is an
    /// `invoke_agent` dependency in Azure's Agents view, as a `genkit.exp`
    /// agent is (spans inside it name it, its calls go under it, it carries
    /// their token totals). Adds to earlier calls.
    pub fn agent_flows<S: Into<String>>(mut self, flows: impl IntoIterator<Item = S>) -> Self {
        self.config
            .agent_flows
            .extend(flows.into_iter().map(Into::into));
        self
    }
    /// Not API: Live Metrics' intervals (tests scale them down to watch the
    /// timing rules in seconds).
    #[doc(hidden)]
    pub fn live_metrics_timings(mut self, timings: crate::live::LiveTimings) -> Self {
        self.config.live_metrics_timings = timings;
        self
    }
    /// Not API: the bytes of JSON and the envelopes one request may hold
    /// (tests make them small to watch bodies being cut to fit).
    #[doc(hidden)]
    pub fn request_limits(mut self, max_bytes: usize, max_envelopes: usize) -> Self {
        self.config.request_limits = Some((max_bytes.max(1), max_envelopes.max(1)));
        self
    }
    /// `false`: a process with `GENKIT_ENV=dev` exports nothing (default `true`).
    pub fn force_dev_export(mut self, on: bool) -> Self {
        self.config.force_dev_export = on;
        self
    }
    /// `true`: export no spans; Genkit metrics and logs are still derived from them.
    pub fn disable_traces(mut self, disable: bool) -> Self {
        self.config.disable_traces = disable;
        self
    }
    /// `true`: export no metrics (Genkit's, recorded points, `_OTELRESOURCE_`).
    pub fn disable_metrics(mut self, disable: bool) -> Self {
        self.config.disable_metrics = disable;
        self
    }
    /// `true`: export no logs (recorded records and Genkit's).
    pub fn disable_logs(mut self, disable: bool) -> Self {
        self.config.disable_logs = disable;
        self
    }
    /// Shorthand for `disable_offline_storage(true)`.
    pub fn disable_storage(self) -> Self {
        self.disable_offline_storage(true)
    }
    /// Both retry delays at once (see [`Self::retry_base_delay`] and
    /// [`Self::retry_max_delay`]).
    pub fn retry_delays(self, base: Duration, max: Duration) -> Self {
        self.retry_base_delay(base).retry_max_delay(max)
    }

    /// Validates the settings, starts the background runtime and returns the handle.
    pub fn build(self) -> Result<AzureTelemetry> {
        self.build_as(Face::Rust)
    }

    /// For faces: sets a number or duration setting by its Rust name. The
    /// error, named as `face` names the setting, says when the value cannot
    /// be held; ranges are checked by [`Self::build_as`].
    #[doc(hidden)]
    pub fn set(
        mut self,
        face: Face,
        name: &str,
        value: SettingValue,
    ) -> std::result::Result<Self, ConfigError> {
        self.config.set(face, name, value)?;
        Ok(self)
    }

    /// For faces: [`Self::build`], with errors naming settings as `face` does.
    #[doc(hidden)]
    pub fn build_as(self, face: Face) -> Result<AzureTelemetry> {
        self.config.validate_as(face).map_err(Error::Config)?;
        AzureTelemetry::start(self.config, self.credential, |k| std::env::var(k).ok())
    }
}
