//! `opentelemetry-application-insights` as the reference mapping: the same
//! spans and logs the writer serialises, mapped by the crate, so the
//! differential test (`differential.rs`) can compare the two field by field.
//!
//! Test-only: in the pipeline, spans and logs are written by `writer.rs`.

use super::capture::{capture, CaptureClient};
use super::limits;
use crate::ingest::{LogRecord, PackedSpan};
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::InstrumentationScope;
use opentelemetry_application_insights::Exporter;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

/// The crate, set up as the pipeline used it before the writer.
pub(crate) struct Reference {
    inner: Exporter<CaptureClient>,
    logger: SdkLogger,
    _logger_provider: SdkLoggerProvider,
    log_scope: InstrumentationScope,
}

impl Reference {
    pub fn new(instrumentation_key: &str, resource: &Resource, client: CaptureClient) -> Self {
        let cs = format!(
            "InstrumentationKey={instrumentation_key};IngestionEndpoint=https://ingestion.invalid"
        );
        let mut inner = Exporter::new_from_connection_string(cs, client).expect("a valid key");
        SpanExporter::set_resource(&mut inner, resource);
        LogExporter::set_resource(&mut inner, resource);
        let logger_provider = SdkLoggerProvider::builder().build();
        let logger = logger_provider.logger("genkit-azure");
        Self {
            inner,
            logger,
            _logger_provider: logger_provider,
            log_scope: InstrumentationScope::builder("genkit-azure").build(),
        }
    }

    /// The gzipped body the crate writes for these spans (cut to the field
    /// limits first, as the pipeline did: the crate panics on a cut inside a
    /// character).
    pub async fn spans(&self, packed: &[PackedSpan]) -> Vec<u8> {
        let mut spans: Vec<SpanData> = packed.iter().map(PackedSpan::unpack).collect();
        spans.iter_mut().for_each(|s| {
            limits::span(s);
        });
        let (result, body) = capture(SpanExporter::export(&self.inner, spans)).await;
        result.expect("the crate exports");
        body.expect("a body").to_vec()
    }

    /// The gzipped body the crate writes for these log records.
    pub async fn logs(&self, logs: &[LogRecord]) -> Vec<u8> {
        let records: Vec<_> = logs
            .iter()
            .cloned()
            .map(|mut l| {
                limits::log(&mut l);
                self.to_sdk_record(l)
            })
            .collect();
        let pairs: Vec<_> = records.iter().map(|r| (r, &self.log_scope)).collect();
        let (result, body) = capture(LogExporter::export(&self.inner, LogBatch::new(&pairs))).await;
        result.expect("the crate exports");
        body.expect("a body").to_vec()
    }

    fn to_sdk_record(&self, log: LogRecord) -> opentelemetry_sdk::logs::SdkLogRecord {
        let mut r = self.logger.create_log_record();
        r.set_timestamp(log.time);
        r.set_observed_timestamp(log.time);
        r.set_severity_number(log.severity);
        r.set_severity_text(log.severity.name());
        for kv in log.attributes {
            r.add_attribute(kv.key, any_value(kv.value));
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
