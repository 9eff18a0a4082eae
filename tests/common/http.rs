//! A real server for the HTTP tests, and a client that signs as Publisher Manual §1 shows.
//!
//! The server runs `pitboss::server::run` on 127.0.0.1:0 over an in-memory engine
//! with a manual clock and the cheapest Argon2 parameters (so the suite stays fast),
//! set up as `pitboss serve` sets up a new data directory: seed games, demo operator.
#![allow(dead_code)]

use hyper::header::{HeaderName, HeaderValue};
use hyper::Method;
use pitboss::identity::secrets::Argon2Params;
use pitboss::identity::IdentityConfig;
use pitboss::server::admin::OperatorCredentials;
use pitboss::server::client::HttpClient;
use pitboss::server::{auth, demo, ServerConfig};
use pitboss::{Clock, Engine, EngineConfig, ManualClock};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// 2025-03-07T06:51:20Z, the Publisher Manual's `playTime` example.
pub const START_MS: i64 = 1_741_330_280_000;
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

pub struct TestServer {
    pub addr: SocketAddr,
    pub engine: Arc<Engine>,
    pub clock: Arc<ManualClock>,
    pub demo: OperatorCredentials,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// The engine configuration of the tests: cheap hashing, otherwise the defaults.
pub fn engine_config() -> EngineConfig {
    EngineConfig {
        identity: IdentityConfig {
            argon2: Argon2Params::insecure_for_tests(),
            ..IdentityConfig::default()
        },
        ..EngineConfig::default()
    }
}

/// Runs `pitboss::server::run` for `engine` on 127.0.0.1:0: its address, the sender
/// that stops it, and its task.
pub async fn serve(
    engine: Arc<Engine>,
    config: ServerConfig,
) -> (SocketAddr, oneshot::Sender<()>, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(pitboss::server::run(listener, engine, config, async {
        let _ = rx.await;
    }));
    (addr, tx, task)
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::start_custom(engine_config(), tune).await
    }

    pub async fn start_custom(
        engine_config: EngineConfig,
        tune: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let clock = Arc::new(ManualClock::new(START_MS));
        let engine = Arc::new(Engine::in_memory_with_clock(engine_config, clock.clone()));
        let mut config = ServerConfig::new(ADMIN_TOKEN.to_owned());
        tune(&mut config);
        TestServer::around(engine, clock, config).await
    }

    /// Seed games and the demo operator on a new `engine`, as `pitboss serve` sets
    /// up a new data directory, then a server for it.
    async fn around(
        engine: Arc<Engine>,
        clock: Arc<ManualClock>,
        config: ServerConfig,
    ) -> TestServer {
        demo::register_seed_games(&engine).expect("seed games");
        let demo = demo::create_demo_operator(&engine)
            .expect("demo operator")
            .expect("a new engine has no operator");
        let (addr, tx, task) = serve(engine.clone(), config).await;
        TestServer {
            addr,
            engine,
            clock,
            demo,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// A server over a durable engine in `dir` (`Engine::open_with`, the manual
    /// clock), set up as `start_custom` sets up its in-memory one.
    pub async fn start_durable(dir: &std::path::Path, engine_config: EngineConfig) -> TestServer {
        let clock = Arc::new(ManualClock::new(START_MS));
        let fs: Arc<dyn pitboss::storage::FileSystem> = Arc::new(pitboss::storage::StdFs);
        let engine = Arc::new(
            Engine::open_with(dir, engine_config, clock.clone(), fs).expect("open the engine"),
        );
        TestServer::around(engine, clock, ServerConfig::new(ADMIN_TOKEN.to_owned())).await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A signing client of the demo operator.
    pub async fn client(&self) -> Client {
        self.client_of(self.demo.clone()).await
    }

    pub async fn client_of(&self, creds: OperatorCredentials) -> Client {
        Client {
            http: HttpClient::connect(&self.url()).await.expect("connect"),
            creds,
            clock: self.clock.clone(),
            nonce: 0,
        }
    }

    /// Signals shutdown without waiting.
    pub fn signal_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Stops accepting, drains, and waits for `run` to return.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task");
        }
    }
}

/// A response: HTTP status and the parsed envelope.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> i64 {
        self.body["code"].as_i64().expect("envelope code")
    }

    pub fn data(&self) -> &Value {
        assert_eq!(self.code(), 0, "expected success, got {}", self.body);
        &self.body["data"]
    }
}

pub type Headers = Vec<(HeaderName, HeaderValue)>;

fn header(name: &'static str, value: &str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_str(value).expect("header value"),
    )
}

/// The four auth headers of Publisher Manual §1 for timestamp `ts` and `nonce`.
pub fn signed_headers(creds: &OperatorCredentials, ts: &str, nonce: &str) -> Headers {
    auth::signed_headers(&creds.client_id, &creds.api_key, ts, nonce).expect("header values")
}

/// A keep-alive connection that signs every request with fresh nonces.
pub struct Client {
    pub http: HttpClient,
    pub creds: OperatorCredentials,
    clock: Arc<ManualClock>,
    nonce: u64,
}

impl Client {
    /// The four auth headers for timestamp `ts` and `nonce`, signed with the apiKey.
    pub fn headers_at(&self, ts: &str, nonce: &str) -> Headers {
        signed_headers(&self.creds, ts, nonce)
    }

    /// Fresh auth headers: the clock's time and a new nonce.
    pub fn headers(&mut self) -> Headers {
        self.nonce += 1;
        let nonce = format!("nonce-{}-{}", self.creds.client_id, self.nonce);
        let ts = (self.clock.now_secs()).to_string();
        self.headers_at(&ts, &nonce)
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: Headers,
        body: &[u8],
    ) -> Reply {
        let response = self
            .http
            .send(method, path, &headers, body.to_vec())
            .await
            .expect("request");
        let body = serde_json::from_slice(&response.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", response.body));
        Reply {
            status: response.status.as_u16(),
            body,
        }
    }

    /// A signed request.
    pub async fn call(&mut self, method: Method, path: &str, body: &str) -> Reply {
        let headers = self.headers();
        self.send(method, path, headers, body.as_bytes()).await
    }

    pub async fn post(&mut self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, &body.to_string()).await
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.call(Method::GET, path, "").await
    }

    /// An admin request.
    pub async fn admin(&mut self, method: Method, path: &str, body: Value) -> Reply {
        let bearer = format!("Bearer {ADMIN_TOKEN}");
        let headers = vec![header("authorization", &bearer)];
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        self.send(method, path, headers, body.as_bytes()).await
    }

    /// Logs `identifier` in; returns its wallet id.
    pub async fn login(&mut self, identifier: &str, credential: &str) -> String {
        let r = self
            .post(
                "/service/jsonapi/user/login",
                serde_json::json!({"identifier": identifier, "credential": credential}),
            )
            .await;
        r.data()["walletId"].as_str().expect("walletId").to_owned()
    }

    /// The wallet's (total, available).
    pub async fn balance(&mut self, wallet: &str) -> (i64, i64) {
        let r = self
            .post(
                "/service/jsonapi/wallet/query",
                serde_json::json!({"walletId": wallet}),
            )
            .await;
        let d = r.data();
        (
            d["total"].as_i64().expect("total"),
            d["available"].as_i64().expect("available"),
        )
    }
}

/// Keys whose values are random in every run: replaced before comparing.
const VOLATILE: &[&str] = &[
    "accessToken",
    "apiKey",
    "appKey",
    "appSecret",
    "password",
    "tourneyId",
    "leaderboardId",
];

fn normalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if VOLATILE.contains(&k.as_str()) && v.is_string() {
                    *v = Value::String(format!("<{k}>"));
                } else {
                    normalize(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

/// Compares a whole response body with `snapshots/api/<name>.json`. With
/// `UPDATE_SNAPSHOTS=1` in the environment, (re)writes the file instead.
pub fn assert_golden(name: &str, reply: &Reply) {
    let mut actual = serde_json::json!({"status": reply.status, "body": reply.body});
    normalize(&mut actual);
    let rendered = serde_json::to_string_pretty(&actual).expect("render") + "\n";
    compare_golden(name, &rendered);
}

/// Compares `rendered` with `snapshots/api/<name>.json`, or (re)writes the file when
/// `UPDATE_SNAPSHOTS=1` is in the environment.
fn compare_golden(name: &str, rendered: &str) {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "snapshots",
        "api",
        &format!("{name}.json"),
    ]
    .iter()
    .collect();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, rendered).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}: run with UPDATE_SNAPSHOTS=1 to create it",
            path.display()
        )
    });
    assert_eq!(
        rendered,
        expected,
        "response differs from {}",
        path.display()
    );
}

/// A keep-alive connection speaking the two wallet APIs as one operator: gate bodies
/// get `app_key`, `timestamp` and `sign`; bank requests get the three signed headers.
pub struct WalletClient {
    pub http: HttpClient,
    pub app_key: String,
    pub app_secret: String,
    clock: Arc<ManualClock>,
}

/// A wallet API's answer: HTTP status, the JSON body, and the body's text (the bank
/// API's decimals are checked as text: a `Value` would read `0.10` as a float).
#[derive(Debug, Clone)]
pub struct WalletReply {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl WalletReply {
    /// The gate or bank error code, 0 for a gate success, 200 for a bank success.
    pub fn code(&self) -> i64 {
        match self.body.get("success") {
            Some(Value::Bool(true)) => 0,
            _ => self.body["code"].as_i64().expect("a code"),
        }
    }

    /// The `data` of a success.
    pub fn data(&self) -> &Value {
        assert!(
            matches!(self.code(), 0 | 200),
            "expected success, got {}",
            self.body
        );
        &self.body["data"]
    }
}

impl TestServer {
    /// A wallet API client of the demo operator.
    pub async fn wallet(&self) -> WalletClient {
        self.wallet_of(&self.demo).await
    }

    pub async fn wallet_of(&self, creds: &OperatorCredentials) -> WalletClient {
        WalletClient {
            http: HttpClient::connect(&self.url()).await.expect("connect"),
            app_key: creds.app_key.clone(),
            app_secret: creds.app_secret.clone(),
            clock: self.clock.clone(),
        }
    }
}

impl WalletClient {
    /// `params` with `app_key` and the clock's `timestamp` added (unless present), and
    /// signed: the JSON body a game server sends.
    pub fn gate_body(&self, params: Value) -> String {
        let mut map = match params {
            Value::Object(map) => map,
            other => panic!("gate params must be an object, not {other}"),
        };
        map.entry("app_key")
            .or_insert_with(|| Value::from(self.app_key.clone()));
        map.entry("timestamp")
            .or_insert_with(|| Value::from(self.clock.now_secs()));
        let unsigned = Value::Object(map.clone()).to_string();
        let sign = pitboss::server::gate::params::sign_body(unsigned.as_bytes(), &self.app_secret)
            .expect("signable");
        map.insert("sign".into(), Value::from(sign));
        Value::Object(map).to_string()
    }

    /// Sends a raw body to a path.
    pub async fn post_raw(&mut self, path: &str, headers: Headers, body: &[u8]) -> WalletReply {
        let response = self
            .http
            .send(Method::POST, path, &headers, body.to_vec())
            .await
            .expect("request");
        let body = serde_json::from_slice(&response.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", response.body));
        WalletReply {
            status: response.status.as_u16(),
            body,
            text: String::from_utf8_lossy(&response.body).into_owned(),
        }
    }

    /// A signed gate call.
    pub async fn gate(&mut self, path: &str, params: Value) -> WalletReply {
        let body = self.gate_body(params);
        self.post_raw(path, Vec::new(), body.as_bytes()).await
    }

    /// The three bank headers for `body`, signed at the clock's time.
    pub fn bank_headers(&self, body: &[u8]) -> Headers {
        let ts = self.clock.now_ms();
        pitboss::server::bank::sign::signed_headers(&self.app_key, &self.app_secret, ts, body)
            .expect("header values")
    }

    /// A signed bank call.
    pub async fn bank(&mut self, path: &str, body: Value) -> WalletReply {
        let body = body.to_string();
        let headers = self.bank_headers(body.as_bytes());
        self.post_raw(path, headers, body.as_bytes()).await
    }
}

/// Compares a wallet API reply with `snapshots/api/<name>.json`, byte for byte: the
/// status and the body exactly as sent (so that `0.10` stays `0.10`). Platform
/// transaction ids and timestamps are deterministic (the clock is manual).
/// `UPDATE_SNAPSHOTS=1` (re)writes the file instead.
pub fn assert_wallet_golden(name: &str, reply: &WalletReply) {
    let rendered = format!("{{\"status\":{},\"body\":{}}}\n", reply.status, reply.text);
    compare_golden(name, &rendered);
}
