//! Mapping batches to Application Insights envelopes and handing them to the
//! transport, through `opentelemetry-application-insights`.

use super::capture::CaptureClient;
use super::limits;
use crate::accounting::Counters;
use crate::config::ConnectionString;
use crate::ingest::{LogRecord, PackedSpan};
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::InstrumentationScope;
use opentelemetry_application_insights::Exporter;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use std::sync::Arc;

/// Turns our batches into envelopes and sends them.
#[derive(Debug)]
pub(crate) struct AzureExporter {
    inner: Exporter<CaptureClient>,
    /// Only a factory for `SdkLogRecord`s (the SDK offers no public
    /// constructor); it has no processors and exports nothing itself.
    logger: SdkLogger,
    _logger_provider: SdkLoggerProvider,
    log_scope: InstrumentationScope,
}

impl AzureExporter {
    pub fn new(
        connection_string: &ConnectionString,
        transport: CaptureClient,
        resource: &Resource,
    ) -> Result<Self, String> {
        // The crate parses its own connection string. It needs only the key:
        // the transport decides where requests go, so the endpoint given here
        // is a placeholder that is never contacted.
        let synthetic = format!(
            "InstrumentationKey={};IngestionEndpoint=https://ingestion.invalid",
            connection_string.instrumentation_key()
        );
        let mut inner = Exporter::new_from_connection_string(synthetic, transport)
            .map_err(|_| "the exporter refused the instrumentation key".to_string())?;
        SpanExporter::set_resource(&mut inner, resource);
        let logger_provider = SdkLoggerProvider::builder().build();
        let logger = logger_provider.logger("genkit-azure");
        Ok(Self {
            inner,
            logger,
            _logger_provider: logger_provider,
            log_scope: InstrumentationScope::builder("genkit-azure").build(),
        })
    }

    pub async fn export_spans(&self, spans: Vec<SpanData>) -> OTelSdkResult {
        SpanExporter::export(&self.inner, spans).await
    }

    pub async fn export_logs(&self, logs: Vec<LogRecord>) -> OTelSdkResult {
        let records: Vec<_> = logs.into_iter().map(|l| self.to_sdk_record(l)).collect();
        let pairs: Vec<_> = records.iter().map(|r| (r, &self.log_scope)).collect();
        LogExporter::export(&self.inner, LogBatch::new(&pairs)).await
    }

    pub async fn export_metrics(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        PushMetricExporter::export(&self.inner, metrics).await
    }

    fn to_sdk_record(&self, log: LogRecord) -> opentelemetry_sdk::logs::SdkLogRecord {
        let mut r = self.logger.create_log_record();
        r.set_timestamp(log.time);
        r.set_observed_timestamp(log.time);
        r.set_severity_number(log.severity);
        r.set_severity_text(severity_text(log.severity));
        let is_exception = log
            .attributes
            .iter()
            .any(|kv| kv.key.as_str().starts_with("exception."));
        for kv in log.attributes {
            // For an exception record the body is what the user wrote
            // (`log.exception("division failed")`): keep it as the exception
            // message, as the official distro does, instead of losing it.
            if is_exception && kv.key.as_str() == "exception.message" && !log.body.is_empty() {
                continue;
            }
            r.add_attribute(kv.key, any_value(kv.value));
        }
        if is_exception && !log.body.is_empty() {
            r.add_attribute("exception.message", log.body.clone());
        }
        if let Some(name) = log.logger_name {
            r.add_attribute("logger_name", name);
        }
        r.set_body(AnyValue::String(log.body.into()));
        if let Some((trace_id, span_id)) = log.trace_context {
            r.set_trace_context(trace_id, span_id, None);
        }
        r
    }
}

fn any_value(v: opentelemetry::Value) -> AnyValue {
    use opentelemetry::{Array, Value};
    match v {
        Value::Bool(b) => AnyValue::Boolean(b),
        Value::I64(i) => AnyValue::Int(i),
        Value::F64(f) => AnyValue::Double(f),
        Value::String(s) => AnyValue::String(s),
        Value::Array(Array::Bool(a)) => a.into_iter().collect(),
        Value::Array(Array::I64(a)) => a.into_iter().collect(),
        Value::Array(Array::F64(a)) => a.into_iter().collect(),
        Value::Array(Array::String(a)) => a.into_iter().collect(),
        other => AnyValue::String(other.as_str().into_owned().into()),
    }
}

fn severity_text(s: Severity) -> &'static str {
    s.name()
}

/// The items one request body is written from: spans or logs, never both.
pub(crate) enum Batch {
    Spans(Vec<PackedSpan>),
    Logs(Vec<LogRecord>),
}

impl Batch {
    pub fn len(&self) -> usize {
        match self {
            Batch::Spans(v) => v.len(),
            Batch::Logs(v) => v.len(),
        }
    }
}

pub(crate) async fn export_batch(
    exporter: Arc<AzureExporter>,
    counters: Arc<Counters>,
    batch: Batch,
) -> opentelemetry_sdk::error::OTelSdkResult {
    match batch {
        Batch::Spans(packed) => {
            let mut spans: Vec<SpanData> = packed.iter().map(PackedSpan::unpack).collect();
            drop(packed);
            let cut: u64 = spans.iter_mut().map(limits::span).sum();
            Counters::add(&counters.values_truncated, cut);
            exporter.export_spans(spans).await
        }
        Batch::Logs(mut logs) => {
            let cut: u64 = logs.iter_mut().map(limits::log).sum();
            Counters::add(&counters.values_truncated, cut);
            exporter.export_logs(logs).await
        }
    }
}
