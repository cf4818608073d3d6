//! TLS for the sync client (rustls, no OpenSSL). Server certificates are checked against the
//! Mozilla roots that webpki-roots carries (the same on every platform, phones included). On top
//! of those come a municipality's private CA or a test certificate, given at join (`--ca-cert`,
//! remembered for later syncs) or in `IBASHO_CA_CERT`. A certificate that does not verify is a
//! [`CertificateError`] naming the host and the reason. There is never a fallback to clear text.

use anyhow::{Context, Result};
use ibasho_shared::Lang;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::sync::Arc;

/// The environment variable naming a PEM file of extra CA certificates.
pub const CA_CERT_ENV: &str = "IBASHO_CA_CERT";

/// The certificates of a PEM text (the CA a server's certificate is checked against).
pub fn read_pem(pem: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .context("not a PEM certificate")?;
    anyhow::ensure!(!certs.is_empty(), "no certificate in the PEM text");
    Ok(certs)
}

/// The client's TLS settings: the bundled roots, `extra_pem` (remembered from join) and the file
/// named by [`CA_CERT_ENV`].
pub fn client_config(extra_pem: Option<&str>) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let from_env = match std::env::var(CA_CERT_ENV) {
        Ok(path) if !path.is_empty() => Some(
            std::fs::read_to_string(&path)
                .with_context(|| format!("{CA_CERT_ENV}: cannot read {path}"))?,
        ),
        _ => None,
    };
    for pem in extra_pem.into_iter().chain(from_env.as_deref()) {
        for cert in read_pem(pem)? {
            roots
                .add(cert)
                .context("a CA certificate that rustls cannot use")?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Why a server's certificate was not trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateReason {
    /// Past its end date (or before its start).
    Expired,
    /// Issued for another name than the one connected to.
    WrongName,
    /// Signed by no CA this device trusts.
    UnknownIssuer,
    /// Anything else rustls said.
    Other(String),
}

/// The server at `host` presented a certificate that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message(Lang::En))]
pub struct CertificateError {
    /// The host connected to.
    pub host: String,
    /// Why its certificate is not trusted.
    pub reason: CertificateReason,
}

impl CertificateError {
    /// Words for people in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        let host = &self.host;
        match (lang, &self.reason) {
            (Lang::Ja, CertificateReason::Expired) => format!(
                "{host} のサーバー証明書は有効期限が切れています（または有効期間前です）。接続しませんでした"
            ),
            (Lang::En, CertificateReason::Expired) => format!(
                "the server certificate of {host} has expired (or is not valid yet); not connected"
            ),
            (Lang::Ja, CertificateReason::WrongName) => {
                format!("{host} のサーバー証明書は別の名前に発行されたものです。接続しませんでした")
            }
            (Lang::En, CertificateReason::WrongName) => format!(
                "the server certificate of {host} was issued for another name; not connected"
            ),
            (Lang::Ja, CertificateReason::UnknownIssuer) => format!(
                "{host} のサーバー証明書の発行元を信頼できません（自治体の認証局なら --ca-cert で指定してください）。接続しませんでした"
            ),
            (Lang::En, CertificateReason::UnknownIssuer) => format!(
                "the server certificate of {host} is signed by an unknown issuer (give a municipality's CA with --ca-cert); not connected"
            ),
            (Lang::Ja, CertificateReason::Other(why)) => {
                format!("{host} との暗号化通信を確立できません（{why}）。接続しませんでした")
            }
            (Lang::En, CertificateReason::Other(why)) => {
                format!("cannot set up an encrypted connection to {host} ({why}); not connected")
            }
        }
    }
}

/// The certificate problem behind a failed connection to `host`, if that is what failed.
/// rustls's verdict reaches us inside an I/O error (tokio-rustls wraps it).
pub fn certificate_error(
    error: &tokio_tungstenite::tungstenite::Error,
    host: &str,
) -> Option<CertificateError> {
    use rustls::CertificateError as C;
    let tokio_tungstenite::tungstenite::Error::Io(io) = error else {
        return None;
    };
    let rustls_error = io.get_ref()?.downcast_ref::<rustls::Error>()?;
    let reason = match rustls_error {
        rustls::Error::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        ) => CertificateReason::Expired,
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => CertificateReason::WrongName,
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => CertificateReason::UnknownIssuer,
        other => CertificateReason::Other(other.to_string()),
    };
    Some(CertificateError {
        host: host.to_string(),
        reason,
    })
}

/// Whether `url` is clear text (`http://`, `ws://`) to a host that is not this machine: fine behind
/// a TLS proxy on the same host, otherwise tokens and visits would cross the network unencrypted.
pub fn clear_text_to_another_host(url: &str) -> bool {
    let url = url.trim();
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("ws://"))
    else {
        return false;
    };
    let host = host_of(rest);
    !(host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()))
}

/// The host of `host[:port][/path]` (an IPv6 address without its brackets).
pub fn host_of(rest: &str) -> String {
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6).to_string();
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
        .to_string()
}

/// The warning for [`clear_text_to_another_host`], in `lang`.
pub fn clear_text_warning(url: &str, lang: Lang) -> String {
    match lang {
        Lang::Ja => format!(
            "警告: {url} は暗号化されていません。同じ機械のTLSプロキシの後ろでなければ、トークンや訪問記録が平文でネットワークを流れます（https:// を使ってください）"
        ),
        Lang::En => format!(
            "warning: {url} is not encrypted; unless a TLS proxy on the same machine fronts it, tokens and visit records cross the network in clear text (use https://)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_text_is_fine_only_to_this_machine() {
        assert!(!clear_text_to_another_host("http://127.0.0.1:7700"));
        assert!(!clear_text_to_another_host("http://localhost:7700/"));
        assert!(!clear_text_to_another_host("ws://[::1]:7700"));
        assert!(!clear_text_to_another_host("https://sync.example.jp"));
        assert!(clear_text_to_another_host("http://192.168.1.20:7700"));
        assert!(clear_text_to_another_host("http://sync.example.jp"));
    }

    #[test]
    fn a_certificate_problem_names_the_host_in_both_languages() {
        let e = CertificateError {
            host: "sync.example.jp".into(),
            reason: CertificateReason::UnknownIssuer,
        };
        assert!(e.message(Lang::Ja).contains("sync.example.jp"));
        assert!(e.message(Lang::Ja).contains("発行元"));
        assert!(e.message(Lang::En).contains("unknown issuer"));
    }

    #[test]
    fn pem_text_without_a_certificate_is_refused() {
        assert!(read_pem("not a certificate").is_err());
        assert!(
            client_config(Some(
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            ))
            .is_err()
        );
    }
}
