//! Shared set-up for the pipeline's integration tests: a real emulator on a
//! loopback port and helpers to find envelopes in what it accepted.

#![allow(dead_code)]

use genkit_azure::{AzureTelemetry, AzureTelemetryBuilder};
use genkit_azure_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;
use std::time::Duration;

pub const IKEY: &str = "0e2c1f5a-7b1d-4c3e-9f00-123456789abc";

pub fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        instrumentation_key: Some(IKEY.to_string()),
        ..Default::default()
    })
    .expect("emulator starts")
}

/// A builder pointed at `emu`, with a short batch delay so tests are quick.
/// Disk persistence is off: tests share a key, and must not share a
/// directory; the reliability tests give each pipeline its own.
pub fn builder(emu: &Emulator) -> AzureTelemetryBuilder {
    AzureTelemetry::builder()
        .connection_string(emu.connection_string(IKEY))
        .service_name("pipeline-test")
        .batch_delay(Duration::from_millis(50))
        .disable_storage()
}

/// What the emulator accepted, without the `_OTELRESOURCE_` metric that
/// describes the sender (it rides with the first body, then once a minute).
pub fn items(emu: &Emulator) -> Vec<Value> {
    emu.envelopes()
        .into_iter()
        .filter(|e| !is_resource_metric(e))
        .collect()
}

pub use genkit_azure_emulator::is_resource_metric;

/// A TLS acceptor presenting `chain` (leaf first) with the leaf's PKCS#8
/// key, as an HTTPS server on 127.0.0.1 in the TLS tests does.
pub fn tls_acceptor(
    chain: Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>>,
    leaf_key_pkcs8: Vec<u8>,
) -> tokio_rustls::TlsAcceptor {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        chain,
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key_pkcs8)),
    )
    .unwrap();
    tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))
}

pub fn short_name(env: &Value) -> &str {
    env["name"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("Microsoft.ApplicationInsights.")
}

pub fn of_kind<'a>(envs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    envs.iter().filter(|e| short_name(e) == kind).collect()
}

pub fn by_name<'a>(envs: &'a [Value], name: &str) -> &'a Value {
    envs.iter()
        .find(|e| e["data"]["baseData"]["name"] == name)
        .unwrap_or_else(|| panic!("no envelope named {name} in {envs:#?}"))
}

pub fn tag<'a>(env: &'a Value, key: &str) -> Option<&'a str> {
    env["tags"][key].as_str()
}

pub fn prop<'a>(env: &'a Value, key: &str) -> Option<&'a str> {
    env["data"]["baseData"]["properties"][key].as_str()
}

/// Items whose batch is finished, by every item counter there is.
pub fn finished(s: &genkit_azure::Stats) -> u64 {
    s.items_delivered
        + s.items_persisted
        + s.items_rejected
        + s.items_export_failed
        + s.dropped_mapping_error
        + s.dropped_backlog_full
        + s.dropped_too_large
        + s.dropped_spill_failed
        + s.dropped_shut_down
        + s.spans_not_exported
        + s.spans_sampled_out
        + s.logs_sampled_out
        + s.custom_sampled_out
}

/// The log record the reliability tests send: `item {i}`.
pub fn log(i: usize) -> genkit_azure::LogRecord {
    genkit_azure::LogRecord::new(
        genkit_azure::opentelemetry::logs::Severity::Info,
        format!("item {i}"),
    )
}

/// How many times each message text arrived among `envs`.
pub fn arrivals(envs: &[Value]) -> std::collections::HashMap<String, usize> {
    let mut seen = std::collections::HashMap::new();
    for e in envs {
        if let Some(m) = e["data"]["baseData"]["message"].as_str() {
            *seen.entry(m.to_string()).or_default() += 1;
        }
    }
    seen
}
