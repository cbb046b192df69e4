//! A span processor for `opentelemetry_sdk`'s `SdkTracerProvider`, so Rust
//! programs trace with the ordinary OpenTelemetry API and export through the
//! pipeline.

use super::AzureTelemetry;
use crate::ingest::Operations;
use opentelemetry::trace::{Span as _, SpanId, SpanKind, TraceContextExt};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use std::time::Duration;

/// Hands every finished, sampled span to an [`AzureTelemetry`] pipeline.
///
/// `on_end` is a non-blocking queue push; there is no batch processor in
/// between, since the pipeline batches itself.
#[derive(Debug, Clone)]
pub struct AzureSpanProcessor {
    telemetry: AzureTelemetry,
    flush_timeout: Duration,
}

impl AzureSpanProcessor {
    pub fn new(telemetry: AzureTelemetry) -> Self {
        Self {
            telemetry,
            flush_timeout: Duration::from_secs(30),
        }
    }

    /// How long `force_flush` waits (default 30 s).
    pub fn with_flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }
}

impl SpanProcessor for AzureSpanProcessor {
    /// A root (no parent, or a remote one) names its trace's operation, so
    /// the span, its logs and its children carry it although the root ends
    /// last, and decides whether sampling keeps the trace (its spans are
    /// dropped before export otherwise); any other span costs only the look
    /// at its parent.
    fn on_start(&self, span: &mut Span, cx: &Context) {
        let parent = cx.span().span_context().clone();
        if parent.is_valid() && !parent.is_remote() {
            return;
        }
        let trace_id = u128::from_be_bytes(span.span_context().trace_id().to_bytes());
        self.telemetry.operations().root_started(trace_id, || {
            // Once per operation: a copy of the root's data is affordable.
            let Some(data) = span.exported_data() else {
                return String::new();
            };
            let attr = |key: &str| {
                data.attributes
                    .iter()
                    .rev()
                    .find(|kv| kv.key.as_str() == key)
                    .and_then(|kv| match &kv.value {
                        Value::String(s) => Some(s.as_str().to_string()),
                        _ => None,
                    })
            };
            match data.span_kind {
                SpanKind::Server | SpanKind::Consumer => {
                    let method = attr("http.request.method").or_else(|| attr("http.method"));
                    let route = attr("http.route");
                    Operations::root_name(&data.name, method.as_deref(), route.as_deref())
                }
                _ => data.name.to_string(),
            }
        });
    }

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            // A full queue is counted by the pipeline; after shutdown there is
            // nobody to tell, so the error is ignored.
            let _ = self.telemetry.push_span(span);
        } else if span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote {
            let trace_id = u128::from_be_bytes(span.span_context.trace_id().to_bytes());
            self.telemetry.operations().root_ended(trace_id);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        match self.telemetry.flush(self.flush_timeout) {
            Ok(true) => Ok(()),
            Ok(false) => Err(OTelSdkError::InternalFailure(
                "not everything was delivered before the flush timeout".into(),
            )),
            Err(e) => Err(OTelSdkError::InternalFailure(e.to_string())),
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        match self.telemetry.shutdown(timeout) {
            Ok(true) => Ok(()),
            Ok(false) => Err(OTelSdkError::Timeout(timeout)),
            Err(_) => Err(OTelSdkError::AlreadyShutdown),
        }
    }
}
