//! Calling an operator's own wallet (seamless mode): the platform as a client of the
//! gate and bank wallet APIs, signing exactly as this server's `gate` and `bank`
//! modules check, so that one pitboss can be another's wallet.
//!
//! Bounds, so that a slow or dead wallet never holds up anything else:
//! - every call has a time limit ([`OutboundConfig::timeout`], 5 s by default), after
//!   which its outcome is unknown ([`OutboundError::Timeout`]);
//! - each operator has at most [`OutboundConfig::max_in_flight`] calls in flight; one
//!   more is refused at once ([`OutboundError::Busy`]), never queued;
//! - connections are pooled per host (hyper-util's client), idle ones kept at most
//!   [`OutboundConfig::max_idle_per_host`] and 90 s; redirects are not followed (an
//!   answer of 3xx is an unexpected status).
//!
//! This module only calls and reads answers; what a seamless round does with them (and
//! logging each call before it is sent) belongs to the engine.

use super::bank;
use super::gate::params::sign_body;
use crate::clock::Clock;
use crate::identity::types::{RemoteWallet, WalletDialect};
use crate::ids::ClientId;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use parking_lot::Mutex;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Largest answer read from a wallet.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Limits of the outbound calls.
#[derive(Clone, Debug)]
pub struct OutboundConfig {
    /// A call not answered within this is abandoned: its outcome is unknown.
    pub timeout: Duration,
    /// Calls in flight per operator; one more is refused at once.
    pub max_in_flight: usize,
    /// Idle pooled connections kept per wallet host.
    pub max_idle_per_host: usize,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            timeout: Duration::from_secs(5),
            max_in_flight: 64,
            // As many as may be in flight: a smaller pool closes the connections past
            // it after each call and opens them again (measured: a fifth of the
            // seamless throughput, docs/performance.md).
            max_idle_per_host: 64,
        }
    }
}

/// The credentials a call is signed with: the operator's public appKey and its secret.
#[derive(Clone, Debug)]
pub struct WalletCredentials {
    pub client_id: ClientId,
    pub app_key: String,
    pub app_secret: String,
}

/// Why a call has no answer to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The operator already has as many calls in flight as allowed: nothing was sent.
    #[error("too many calls in flight to this operator's wallet")]
    Busy,
    /// Not answered in time: the call may or may not have taken effect.
    #[error("the wallet did not answer in time")]
    Timeout,
    /// The connection failed or broke: the call may or may not have taken effect.
    #[error("transport: {0}")]
    Transport(String),
    /// An HTTP status other than 200.
    #[error("the wallet answered HTTP {0}")]
    Status(u16),
    /// A body that is not the dialect's JSON.
    #[error("the wallet's answer is not JSON: {0}")]
    Malformed(String),
    /// The wallet is of the other dialect, or its URL cannot be called.
    #[error("bad wallet: {0}")]
    Wallet(String),
}

/// The client of operators' wallets: one pool, one in-flight bound per operator.
pub struct OutboundClient {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    config: OutboundConfig,
    clock: Arc<dyn Clock>,
    /// Per operator; grows with the number of seamless operators (bounded by it).
    in_flight: Mutex<HashMap<ClientId, Arc<Semaphore>>>,
}

impl OutboundClient {
    /// A client trusting `tls` for `https` wallets (`http` ones are called as they are).
    pub fn new(
        config: OutboundConfig,
        clock: Arc<dyn Clock>,
        tls: Arc<rustls::ClientConfig>,
    ) -> OutboundClient {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.timeout));
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(config.max_idle_per_host)
            .build(super::tls::https_connector(connector, tls));
        OutboundClient {
            http,
            config,
            clock,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    fn slots(&self, client: &ClientId) -> Arc<Semaphore> {
        let mut map = self.in_flight.lock();
        map.entry(client.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.max_in_flight.max(1))))
            .clone()
    }

    /// A gate call (`/getBalance`, `/bet`, `/win`, `/refund`): `params` get `app_key`,
    /// `timestamp` and `sign`. The answer's JSON, whatever its `success` or `code`.
    pub async fn gate(
        &self,
        creds: &WalletCredentials,
        wallet: &RemoteWallet,
        path: &str,
        mut params: Map<String, Value>,
    ) -> Result<Value, OutboundError> {
        if wallet.dialect != WalletDialect::Gate {
            return Err(OutboundError::Wallet("not a gate wallet".into()));
        }
        params.insert("app_key".into(), creds.app_key.clone().into());
        params.insert("timestamp".into(), self.clock.now_secs().into());
        params.remove("sign");
        let unsigned = Value::Object(params.clone()).to_string();
        let sign = sign_body(unsigned.as_bytes(), &creds.app_secret)
            .map_err(|e| OutboundError::Wallet(e.message))?;
        params.insert("sign".into(), sign.into());
        let body = Value::Object(params).to_string().into_bytes();
        let bytes = self.post(creds, wallet, path, Vec::new(), body).await?;
        serde_json::from_slice(&bytes).map_err(|e| OutboundError::Malformed(e.to_string()))
    }

    /// A bank call (`/api/bank/...`): `body` is sent as given, signed in the headers.
    pub async fn bank(
        &self,
        creds: &WalletCredentials,
        wallet: &RemoteWallet,
        path: &str,
        body: &Value,
    ) -> Result<Value, OutboundError> {
        let bytes = self.bank_raw(creds, wallet, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| OutboundError::Malformed(e.to_string()))
    }

    /// [`OutboundClient::bank`], answering the body's bytes: its decimal amounts are
    /// to be read from their own text, never through a float.
    pub async fn bank_raw(
        &self,
        creds: &WalletCredentials,
        wallet: &RemoteWallet,
        path: &str,
        body: &Value,
    ) -> Result<Bytes, OutboundError> {
        if wallet.dialect != WalletDialect::Bank {
            return Err(OutboundError::Wallet("not a bank wallet".into()));
        }
        let body = body.to_string().into_bytes();
        let headers = bank::sign::signed_headers(
            &creds.app_key,
            &creds.app_secret,
            self.clock.now_ms(),
            &body,
        )
        .map_err(|e| OutboundError::Wallet(e.to_string()))?;
        self.post(creds, wallet, path, headers, body).await
    }

    async fn post(
        &self,
        creds: &WalletCredentials,
        wallet: &RemoteWallet,
        path: &str,
        headers: Vec<(hyper::header::HeaderName, HeaderValue)>,
        body: Vec<u8>,
    ) -> Result<Bytes, OutboundError> {
        let slots = self.slots(&creds.client_id);
        let _slot = slots.try_acquire().map_err(|_| OutboundError::Busy)?;
        let url = format!("{}{path}", wallet.url.trim_end_matches('/'));
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(&url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| OutboundError::Wallet(e.to_string()))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| OutboundError::Transport(e.to_string()))?;
            let status = response.status().as_u16();
            let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| OutboundError::Transport(e.to_string()))?
                .to_bytes();
            Ok::<_, OutboundError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.config.timeout, exchange)
            .await
            .map_err(|_| OutboundError::Timeout)??;
        if status != 200 {
            return Err(OutboundError::Status(status));
        }
        Ok(bytes)
    }
}
