//! TLS on a machine whose system offers no CA certificate (here:
//! `SSL_CERT_FILE` names an empty file, which the platform verifier reads
//! instead of the system's bundle): the webpki roots are trusted instead, so
//! a certificate is still verified against real roots and refused for its
//! issuer (an unknown test CA), not for want of any root. A test binary of
//! its own: the roots are read once per process.

mod common;

use common::{tls_acceptor, IKEY};
use genkit_azure::opentelemetry::logs::Severity;
use genkit_azure::{face, AzureTelemetry, LogRecord};
use rcgen::{CertificateParams, KeyPair};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn without_system_roots_the_webpki_roots_verify() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("no-roots.pem");
    std::fs::write(&empty, "").unwrap();
    // SAFETY: set before any thread of this binary reads the environment
    // (no client exists yet; this is the binary's only test).
    std::env::set_var("SSL_CERT_FILE", &empty);
    std::env::remove_var("SSL_CERT_DIR");
    let said = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&said);
    face::set_diagnostic_sink(Some(Arc::new(move |t: &str| {
        sink.lock().unwrap().push(t.to_string())
    })));

    // An HTTPS server with a self-signed certificate for 127.0.0.1.
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let acceptor = tls_acceptor(vec![cert.der().clone()], key.serialize_der());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = acceptor.accept(tcp).await;
        }
    });

    let t = AzureTelemetry::builder()
        .connection_string(format!(
            "InstrumentationKey={IKEY};IngestionEndpoint=https://127.0.0.1:{port}/"
        ))
        .service_name("tls-no-roots")
        .batch_delay(Duration::from_millis(20))
        .disable_storage()
        .enable_live_metrics(false)
        .build()
        .unwrap();
    t.emit_log(LogRecord::new(Severity::Info, "refused"))
        .unwrap();
    assert!(!t.flush(Duration::from_secs(2)).unwrap());
    assert_eq!(t.stats().items_delivered, 0);
    let diagnostics = said.lock().unwrap().join("\n");
    assert!(
        diagnostics.contains("TLS failed") && diagnostics.contains("UnknownIssuer"),
        "verified against roots, refused for its issuer: {diagnostics}"
    );
    t.shutdown(Duration::from_millis(200)).unwrap();
    face::set_diagnostic_sink(None);
}
