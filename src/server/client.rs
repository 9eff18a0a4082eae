//! A minimal HTTP/1.1 client over one keep-alive connection, for the admin CLI, the
//! load generator and the tests. `https://` servers are verified against the
//! system's roots plus the PEM certificates in `PITBOSS_CA_FILE` (a server with a
//! certificate of a private CA); never downgraded to plain HTTP.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::io;
use tokio::net::TcpStream;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad server address {0:?}: expected http://host:port")]
    BadAddress(String),
    #[error("cannot connect to {address}: {source}")]
    Connect { address: String, source: io::Error },
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("bad request: {0}")]
    Request(#[from] hyper::http::Error),
    #[error("TLS: {0}")]
    Tls(String),
}

/// The `host:port` of a plain-HTTP server address such as `http://127.0.0.1:8080/`.
pub fn authority(server: &str) -> Result<String, ClientError> {
    match address(server)? {
        (authority, false) => Ok(authority),
        (_, true) => Err(ClientError::BadAddress(server.to_owned())),
    }
}

/// The `host:port` of a server address, and whether it is `https`.
fn address(server: &str) -> Result<(String, bool), ClientError> {
    let (rest, tls) = match server.split_once("://") {
        Some(("http", rest)) => (rest, false),
        Some(("https", rest)) => (rest, true),
        Some(_) => return Err(ClientError::BadAddress(server.to_owned())),
        None => (server, false),
    };
    Ok((plain_authority(server, rest)?, tls))
}

fn plain_authority(server: &str, rest: &str) -> Result<String, ClientError> {
    let bad = || ClientError::BadAddress(server.to_owned());
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') || !authority.contains(':') {
        return Err(bad());
    }
    Ok(authority.to_owned())
}

/// HTTP/1.1 on `io`; the connection runs on its own task until the sender is dropped
/// or the peer closes.
async fn handshake<T>(io: T) -> Result<SendRequest<Full<Bytes>>, ClientError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// A response: status and whole body.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

/// One connection; requests on it are sent one after another (keep-alive).
pub struct HttpClient {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
}

impl HttpClient {
    /// Connects to `server` (`http://host:port`, `https://host:port` or `host:port`).
    pub async fn connect(server: &str) -> Result<HttpClient, ClientError> {
        let (authority, tls) = address(server)?;
        let stream =
            TcpStream::connect(&authority)
                .await
                .map_err(|source| ClientError::Connect {
                    address: authority.clone(),
                    source,
                })?;
        let _ = stream.set_nodelay(true);
        let sender = if tls {
            let ca = std::env::var_os("PITBOSS_CA_FILE").map(std::path::PathBuf::from);
            let config = super::tls::client_config(ca.as_deref())
                .map_err(|e| ClientError::Tls(e.to_string()))?;
            let host = authority
                .rsplit_once(':')
                .map_or(authority.as_str(), |(host, _)| host)
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let name = rustls_pki_types::ServerName::try_from(host)
                .map_err(|e| ClientError::Tls(e.to_string()))?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await
                .map_err(|e| ClientError::Tls(e.to_string()))?;
            handshake(stream).await?
        } else {
            handshake(stream).await?
        };
        Ok(HttpClient { sender, authority })
    }

    /// Sends one request and reads the whole response.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Vec<u8>,
    ) -> Result<HttpResponse, ClientError> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.authority.as_str())
            .header(CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let req = req.body(Full::new(Bytes::from(body)))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(req).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(HttpResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        assert_eq!(
            authority("http://127.0.0.1:8080/").ok(),
            Some("127.0.0.1:8080".into())
        );
        assert_eq!(authority("localhost:1").ok(), Some("localhost:1".into()));
        assert!(authority("https://x:1").is_err());
        assert!(authority("http://x").is_err());
        assert!(authority("http://x:1/path").is_err());
    }
}
