//! The client side of SIP over TLS, towards the provider (RFC 3261 §26.2, RFC 5922): the
//! CAs its certificate must chain to and the name it must carry.
//!
//! The certificate is checked against `[trunk.provider] tls_ca` when set (a provider with
//! a private CA), else against the public web CAs built into the binary, so a box without
//! a system trust store still connects. The name checked is the first hop's host as
//! configured: a DNS name, or an IP address that must be in the certificate's subject
//! alternative names. The CA file is read again for every new connection (a renewed file
//! applies at the next one); a file that does not load fails the registration with the
//! reason, which `/readyz` and the live board then show.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use thiserror::Error;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// Why the provider's TLS client could not be set up.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TlsClientError {
    /// The CA file could not be read or holds no certificate.
    #[error("trunk.provider.tls_ca {path}: {reason}")]
    Ca { path: PathBuf, reason: String },
    /// The host is neither a DNS name nor an IP address rustls can check.
    #[error("{host:?} cannot be checked against a certificate: {reason}")]
    Name { host: String, reason: String },
}

/// What a TLS connection to the provider needs: the connector and the name to check.
#[derive(Clone)]
pub struct ProviderTls {
    pub connector: TlsConnector,
    pub name: ServerName<'static>,
}

impl std::fmt::Debug for ProviderTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderTls")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ProviderTls {
    /// The client for `host` (the first hop's host as configured), trusting `ca` or the
    /// public CAs.
    pub fn new(host: &str, ca: Option<&Path>) -> Result<ProviderTls, TlsClientError> {
        let name = ServerName::try_from(host.to_owned()).map_err(|e| TlsClientError::Name {
            host: host.to_owned(),
            reason: e.to_string(),
        })?;
        let roots = match ca {
            Some(path) => roots_from(path)?,
            None => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the safe default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(ProviderTls {
            connector: TlsConnector::from(Arc::new(config)),
            name,
        })
    }
}

/// Every certificate of a PEM file, as trust anchors.
fn roots_from(path: &Path) -> Result<RootCertStore, TlsClientError> {
    let fail = |reason: String| TlsClientError::Ca {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no CERTIFICATE in the file".into()));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| fail(format!("not a usable CA certificate: {e}")))?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_are_checkable_and_the_public_cas_are_there() {
        let tls = ProviderTls::new("sip.provider.example", None).unwrap();
        assert!(matches!(tls.name, ServerName::DnsName(_)));
        let tls = ProviderTls::new("127.0.0.2", None).unwrap();
        assert!(matches!(tls.name, ServerName::IpAddress(_)));
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 50);
        assert!(matches!(
            ProviderTls::new("bad host", None),
            Err(TlsClientError::Name { .. })
        ));
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "nothing here\n").unwrap();
        let e = ProviderTls::new("127.0.0.2", Some(&path)).unwrap_err();
        assert!(e.to_string().contains("ca.pem: no CERTIFICATE"), "{e}");
        let missing = dir.path().join("gone.pem");
        let e = ProviderTls::new("127.0.0.2", Some(&missing)).unwrap_err();
        assert!(e.to_string().contains("gone.pem"), "{e}");
    }
}
