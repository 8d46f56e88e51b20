//! What every webhook attempt shares: the TLS client configuration.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::config::Config;
use crate::error::Error;

/// What every attempt shares: the TLS client configuration (the system's roots and the
/// operator's extra certificate authorities, checked with the _ring_ provider).
pub struct Egress {
    pub(super) tls: rustls::ClientConfig,
}

impl Egress {
    pub fn new(config: &Config) -> Result<Egress, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let extra = match &config.webhook_ca_file {
            Some(path) => extra_roots(path)?,
            None => Vec::new(),
        };
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
                .map_err(|e| Error::Config(format!("webhook TLS roots: {e}")))?;
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("webhook TLS: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(Egress { tls })
    }
}

/// The certificates of a PEM file; at least one.
fn extra_roots(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let unreadable = |e: String| Error::Config(format!("webhook CA file {}: {e}", path.display()));
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(e.to_string()))?;
    if certificates.is_empty() {
        return Err(unreadable("no PEM certificate in it".into()));
    }
    Ok(certificates)
}
