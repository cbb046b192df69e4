//! A span processor for `opentelemetry_sdk`'s `SdkTracerProvider`, so Rust
//! programs trace with the ordinary OpenTelemetry API and export through the
//! pipeline.

use super::AzureTelemetry;
use opentelemetry::Context;
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
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            // A full queue is counted by the pipeline; after shutdown there is
            // nobody to tell, so the error is ignored.
            let _ = self.telemetry.push_span(span);
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
