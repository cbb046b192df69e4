//! The TLS settings of every HTTPS request, with a certificate verifier that
//! is built at the first TLS handshake rather than with the client.
//!
//! Building the platform's verifier reads and parses the system's whole CA
//! bundle (on Linux, about 18 million instructions and a megabyte; twice,
//! counting the check for an empty store). Done when the client was built,
//! that ran inside `AzureTelemetry::start`, on the host's thread, and for
//! pipelines that never speak TLS (the local emulator, a collector on
//! loopback). Built at the first handshake, it runs on the pipeline's own
//! runtime, once per process, shared by every client.
//!
//! Verification itself is unchanged: every call is the platform verifier's
//! (`rustls-platform-verifier`, as reqwest would build it), trusting the
//! webpki roots (Mozilla's) only on a machine whose system offers no CA
//! certificate at all.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use std::sync::{Arc, OnceLock};

/// The TLS configuration our HTTP clients hand to reqwest: TLS 1.2 and 1.3
/// with the process's crypto provider (reqwest's choice: the one installed
/// as the process default, else aws-lc-rs), HTTP/1.1 by ALPN, and
/// [`LazyVerifier`] for certificates. `None` when the provider offers
/// neither version (a host's own provider could): reqwest then builds its
/// own configuration, as it did before this one existed.
pub(crate) fn client_config() -> Option<ClientConfig> {
    let provider = provider();
    let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(LazyVerifier { provider }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Some(config)
}

fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// The platform's verifier, built the first time a handshake needs it; the
/// error says why it could not be (kept: every later handshake fails alike).
fn platform_verifier(
    provider: &Arc<CryptoProvider>,
) -> Result<&'static Arc<dyn ServerCertVerifier>, rustls::Error> {
    static BUILT: OnceLock<Result<Arc<dyn ServerCertVerifier>, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let provider = Arc::clone(provider);
            let verifier = if system_has_roots() {
                rustls_platform_verifier::Verifier::new(provider)
            } else {
                rustls_platform_verifier::Verifier::new_with_extra_roots(
                    webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned(),
                    provider,
                )
            };
            verifier
                .map(|v| Arc::new(v) as Arc<dyn ServerCertVerifier>)
                .map_err(|e| format!("could not load the CA certificates to verify with: {e}"))
        })
        .as_ref()
        .map_err(|e| rustls::Error::General(e.clone()))
}

/// Whether the system offers any CA certificate (the platform's verifier
/// reads the same store).
fn system_has_roots() -> bool {
    !rustls_native_certs::load_native_certs().certs.is_empty()
}

/// Defers every call to the platform's verifier, built on the first.
#[derive(Debug)]
struct LazyVerifier {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for LazyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        platform_verifier(&self.provider)?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        platform_verifier(&self.provider)?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        platform_verifier(&self.provider)?.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        match platform_verifier(&self.provider) {
            Ok(v) => v.supported_verify_schemes(),
            // The handshake goes on to `verify_server_cert`, whose error
            // says what is wrong.
            Err(_) => self
                .provider
                .signature_verification_algorithms
                .supported_schemes(),
        }
    }

    // `requires_raw_public_keys` and `root_hint_subjects` keep the trait's
    // defaults, as the platform's verifier does: rustls asks them before a
    // handshake, and they must not build it.
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What reqwest would ask for by ALPN without its `http2` feature: the
    /// hyper connection behind it speaks HTTP/1.1 only.
    #[test]
    fn the_config_asks_for_http1_with_sni() {
        let config = client_config().expect("aws-lc-rs speaks TLS 1.2 and 1.3");
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(config.enable_sni);
    }
}
