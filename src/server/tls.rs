//! HTTPS: the server's own certificate (`serve --tls-cert FILE --tls-key FILE`,
//! Publisher Manual §2 wants every call over HTTPS), and what the outbound clients
//! (operators' wallets, webhook receivers) trust: the system's roots, plus the
//! certificates of `--ca-file` (a private CA). rustls with the ring provider; TLS 1.2
//! and 1.3; HTTP/1.1 by ALPN.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{0} holds no certificate")]
    NoCertificate(PathBuf),
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The ring provider: it builds with a C compiler alone (aws-lc-rs, rustls's
/// default, also needs cmake). Deprecated in rustls for lacking post-quantum key
/// exchange, which the platform's peers (operators' wallets and browsers of the
/// console) do not require yet; revisit with them.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let file_error = |e: rustls_pki_types::pem::Error| TlsError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(file_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(file_error)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_owned()));
    }
    Ok(certs)
}

/// The server's TLS configuration from a PEM certificate chain and its PEM key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::File {
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// What the outbound clients trust: the system's roots and `ca_file`'s certificates.
/// A system root store that cannot be read is not an error when `ca_file` is given
/// (a private CA is then all that is trusted); with neither, nothing could be called.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system certificate rustls cannot use is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        for cert in certificates(path)? {
            roots.add(cert).map_err(|e| TlsError::File {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        }
    }
    // ALPN is the connector's to set (`https_connector`: HTTP/1.1).
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// [`client_config`] without a private CA: the system's roots, read once per process
/// (reading and parsing them costs milliseconds, and every `ServerConfig::new` asks).
pub fn default_client_config() -> Arc<rustls::ClientConfig> {
    static SYSTEM_ROOTS: std::sync::OnceLock<Arc<rustls::ClientConfig>> =
        std::sync::OnceLock::new();
    SYSTEM_ROOTS
        .get_or_init(|| {
            // Only `ca_file` can make `client_config` fail; the ring provider supports
            // the safe default protocol versions.
            #[allow(clippy::expect_used)]
            client_config(None)
                .expect("the system roots and the ring provider make a configuration")
        })
        .clone()
}

/// An HTTP/1.1 connector for `http` and `https` URLs on `http`, trusting `tls`.
pub fn https_connector<R>(
    http: hyper_util::client::legacy::connect::HttpConnector<R>,
    tls: Arc<rustls::ClientConfig>,
) -> hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector<R>> {
    let mut http = http;
    // The https connector sees the scheme; the TCP connector must let https through.
    http.enforce_http(false);
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls).clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(http)
}
