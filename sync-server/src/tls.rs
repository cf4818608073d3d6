//! TLS termination (rustls with ring; PEM files). The certificate is read again when the server
//! receives SIGHUP, so a renewed certificate needs no restart: connections already open keep
//! theirs, and new ones get the new one. A renewal that does not load is logged, and the certificate
//! in use stays.

use anyhow::{Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The server's certificate and key, as files, and what was last read from them.
#[derive(Debug)]
pub struct Certificate {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<rustls::crypto::CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Certificate {
    /// Reads the certificate chain and key (PEM); errors name the file and why.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Certificate>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let current = read(cert, key, &provider)?;
        Ok(Arc::new(Certificate {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            provider,
            current: RwLock::new(Arc::new(current)),
        }))
    }

    /// Reads the files again; on error the certificate in use stays.
    pub fn reload(&self) -> Result<()> {
        let fresh = read(&self.cert, &self.key, &self.provider)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
        Ok(())
    }

    /// Reads the files again whenever the process receives SIGHUP (a renewed certificate needs no
    /// restart); a renewal that does not load is logged and the certificate in use stays.
    pub fn reload_on_hangup(self: &Arc<Self>) {
        #[cfg(unix)]
        {
            let certificate = self.clone();
            tokio::spawn(async move {
                let Ok(mut hangup) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                else {
                    return;
                };
                while hangup.recv().await.is_some() {
                    match certificate.reload() {
                        Ok(()) => tracing::info!("TLS certificate read again"),
                        Err(e) => tracing::error!(
                            error = %format!("{e:#}"),
                            "the TLS certificate could not be read again; the one in use stays"
                        ),
                    }
                }
            });
        }
    }

    /// The TLS acceptor serving this certificate (HTTP/1.1 only).
    pub fn acceptor(self: &Arc<Self>) -> Result<tokio_rustls::TlsAcceptor> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS versions")?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

fn read(
    cert: &Path,
    key: &Path,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<CertifiedKey> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .with_context(|| format!("--tls-cert: {} is not a PEM certificate", cert.display()))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "--tls-cert: {} holds no certificate",
        cert.display()
    );
    let key_der = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("--tls-key: {} is not a PEM private key", key.display()))?;
    CertifiedKey::from_der(chain, key_der, provider).with_context(|| {
        format!(
            "--tls-key: {} does not go with the certificate {}",
            key.display(),
            cert.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (c, k) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    #[test]
    fn a_certificate_loads_a_broken_one_is_named_and_a_failed_reload_keeps_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "localhost");
        let loaded = Certificate::load(&cert, &key).unwrap();
        let before = loaded.current.read().unwrap().clone();
        std::fs::write(&cert, "not a certificate").unwrap();
        let err = loaded.reload().unwrap_err();
        assert!(format!("{err:#}").contains("--tls-cert"), "{err:#}");
        assert!(Arc::ptr_eq(&before, &loaded.current.read().unwrap()));
        // A key of another certificate.
        let (other_cert, _) = write_pair(dir.path(), "other");
        let err = Certificate::load(&other_cert, &key).unwrap_err();
        assert!(format!("{err:#}").contains("--tls-key"), "{err:#}");
    }
}
