//! Tracing a Rust program with the ordinary OpenTelemetry API into Application
//! Insights through the genkit-azure pipeline.
//!
//! ```text
//! APPLICATIONINSIGHTS_CONNECTION_STRING="InstrumentationKey=...;IngestionEndpoint=..." \
//!     cargo run -p genkit-azure --example quickstart
//! ```

use genkit_azure::opentelemetry::logs::Severity;
use genkit_azure::opentelemetry::trace::{
    Span as _, SpanKind, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use genkit_azure::opentelemetry::{Context, KeyValue};
use genkit_azure::opentelemetry_sdk::trace::SdkTracerProvider;
use genkit_azure::{AzureSpanProcessor, AzureTelemetry, LogRecord};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Reads APPLICATIONINSIGHTS_CONNECTION_STRING; OTEL_SERVICE_NAME and
    // OTEL_RESOURCE_ATTRIBUTES are honoured too.
    let telemetry = AzureTelemetry::builder()
        .service_name("rust-quickstart")
        .service_version("1.0.0")
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_span_processor(AzureSpanProcessor::new(telemetry.clone()))
        .build();
    let tracer = provider.tracer("quickstart");

    let request = tracer
        .span_builder("POST /menu")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("http.route", "/menu"),
            KeyValue::new("http.response.status_code", 200),
        ])
        .start(&tracer);
    let cx = Context::current_with_span(request);
    let mut step = tracer.start_with_context("suggestMenu", &cx);
    step.set_attribute(KeyValue::new("genkit:type", "action"));
    let ids = step.span_context().clone();
    telemetry.emit_log(
        LogRecord::new(Severity::Info, "suggesting a menu")
            .with_trace_context(ids.trace_id(), ids.span_id()),
    )?;
    step.end();
    cx.span().end();

    let delivered = telemetry.shutdown(Duration::from_secs(10))?;
    println!("delivered everything: {delivered}; {:?}", telemetry.stats());
    Ok(())
}
