//! A minimal HTTP/1.1 client over one keep-alive connection, for the admin CLI, the
//! load generator and the tests. Plain HTTP only: `https://` is refused, not
//! silently downgraded.

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
}

/// The `host:port` of a server address such as `http://127.0.0.1:8080/`.
pub fn authority(server: &str) -> Result<String, ClientError> {
    let bad = || ClientError::BadAddress(server.to_owned());
    let rest = match server.split_once("://") {
        Some(("http", rest)) => rest,
        Some(_) => return Err(bad()),
        None => server,
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') || !authority.contains(':') {
        return Err(bad());
    }
    Ok(authority.to_owned())
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
    /// Connects to `server` (`http://host:port` or `host:port`).
    pub async fn connect(server: &str) -> Result<HttpClient, ClientError> {
        let authority = authority(server)?;
        let stream =
            TcpStream::connect(&authority)
                .await
                .map_err(|source| ClientError::Connect {
                    address: authority.clone(),
                    source,
                })?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        // The connection task ends when the sender is dropped or the peer closes.
        tokio::spawn(async move {
            let _ = conn.await;
        });
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
