//! TLS to the ingestion endpoint, over real sockets: HTTPS servers this test
//! starts on 127.0.0.1 (certificates made here with rcgen) in front of the
//! emulator. A certificate the system's roots (here `SSL_CERT_FILE`, which
//! the platform verifier reads on Linux) do not trust gets nothing delivered,
//! a diagnostic saying the certificate is not trusted, the data kept and no
//! panic; a trusted one gets everything delivered. One test function: the
//! environment variable is set once, before any client exists, in this test
//! binary of its own. (Plain `http://` to a host that is not loopback is
//! refused when the connection string is parsed: see
//! `keeps_plain_http_for_loopback_only` in `config/connection_string.rs`.)

mod common;

use common::{emulator, tls_acceptor, IKEY};
use genkit_azure::opentelemetry::logs::Severity;
use genkit_azure::{face, AzureTelemetry, LogRecord};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_rustls::rustls::pki_types::CertificateDer;

/// A CA and a server certificate for 127.0.0.1 that it signed.
struct Authority {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    leaf_der: CertificateDer<'static>,
    leaf_key: Vec<u8>,
}

fn authority(name: &str) -> Authority {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.distinguished_name
        .push(DnType::CommonName, format!("genkit-azure test CA {name}"));
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &Issuer::from_params(&ca, &ca_key))
        .unwrap();
    Authority {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().clone(),
        leaf_der: leaf.der().clone(),
        leaf_key: leaf_key.serialize_der(),
    }
}

/// An HTTPS server on 127.0.0.1 that hands every decrypted connection to the
/// emulator's plain HTTP port. Returns its port and a count of handshakes
/// that failed.
fn https_front(rt: &tokio::runtime::Runtime, a: &Authority, to: u16) -> (u16, Arc<AtomicUsize>) {
    let acceptor = tls_acceptor(
        vec![a.leaf_der.clone(), a.ca_der.clone()],
        a.leaf_key.clone(),
    );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let failed = Arc::new(AtomicUsize::new(0));
    let failures = Arc::clone(&failed);
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let failures = Arc::clone(&failures);
            tokio::spawn(async move {
                match acceptor.accept(tcp).await {
                    Ok(mut tls) => {
                        if let Ok(mut plain) =
                            tokio::net::TcpStream::connect(("127.0.0.1", to)).await
                        {
                            let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                        }
                    }
                    Err(_) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    (port, failed)
}

fn pipeline(port: u16) -> AzureTelemetry {
    AzureTelemetry::builder()
        .connection_string(format!(
            "InstrumentationKey={IKEY};IngestionEndpoint=https://127.0.0.1:{port}/"
        ))
        .service_name("tls-test")
        .batch_delay(Duration::from_millis(20))
        .disable_storage()
        .enable_live_metrics(false)
        .build()
        .unwrap()
}

fn send(t: &AzureTelemetry, n: usize, what: &str) {
    for i in 0..n {
        t.emit_log(LogRecord::new(Severity::Info, format!("{what} {i}")))
            .unwrap();
    }
}

#[test]
fn only_a_certificate_the_roots_trust_gets_data() {
    let trusted = authority("trusted");
    let untrusted = authority("untrusted");
    let dir = tempfile::tempdir().unwrap();
    let roots = dir.path().join("roots.pem");
    std::fs::write(&roots, &trusted.ca_pem).unwrap();
    // SAFETY: set before any thread of this binary reads the environment
    // (no client exists yet; this is the binary's only test).
    std::env::set_var("SSL_CERT_FILE", &roots);
    std::env::remove_var("SSL_CERT_DIR");

    let said = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&said);
    face::set_diagnostic_sink(Some(Arc::new(move |text: &str| {
        sink.lock().unwrap().push(text.to_string());
    })));

    let emu = emulator();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (good_port, good_failures) = https_front(&rt, &trusted, emu.port());
    let (bad_port, bad_failures) = https_front(&rt, &untrusted, emu.port());

    // Untrusted: nothing delivered, the data kept, a diagnostic that says so.
    let bad = pipeline(bad_port);
    send(&bad, 3, "untrusted");
    assert!(
        !bad.flush(Duration::from_secs(2)).unwrap(),
        "nothing can be delivered through an untrusted certificate"
    );
    assert!(
        bad_failures.load(Ordering::Relaxed) >= 1,
        "a handshake was tried"
    );
    let s = bad.stats();
    assert_eq!(s.items_delivered, 0, "{s:?}");
    assert_eq!(s.items_pending, 3, "the data is kept for a retry: {s:?}");
    assert!(emu.envelopes().is_empty());
    let diagnostics = said.lock().unwrap().join("\n");
    assert!(
        diagnostics.contains("TLS failed") && diagnostics.contains("certificate"),
        "{diagnostics}"
    );
    assert!(!diagnostics.contains(IKEY), "{diagnostics}");
    bad.shutdown(Duration::from_millis(200)).unwrap();

    // Trusted through SSL_CERT_FILE: delivered.
    let good = pipeline(good_port);
    send(&good, 3, "trusted");
    assert!(good.flush(Duration::from_secs(10)).unwrap());
    assert_eq!(good.stats().items_delivered, 3);
    assert_eq!(good_failures.load(Ordering::Relaxed), 0);
    let got: Vec<String> = common::items(&emu)
        .iter()
        .map(|e| {
            e["data"]["baseData"]["message"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|m| m.starts_with("trusted")), "{got:?}");
    good.shutdown(Duration::from_secs(5)).unwrap();
    face::set_diagnostic_sink(None);
}
