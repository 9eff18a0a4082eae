//! The real `pitboss` binary for the crash tests: started on a data directory and a
//! free port, and a client that signs as one operator on the real clock.
#![allow(dead_code)]

use hyper::header::{HeaderName, HeaderValue};
use hyper::Method;
use pitboss::server::admin::OperatorCredentials;
use pitboss::server::client::HttpClient;
use pitboss::server::{auth, bank, gate};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

pub struct Server {
    pub child: Child,
    pub url: String,
}

pub fn start(dir: &Path) -> Server {
    start_with(dir, &[])
}

/// [`start`] with further arguments to `pitboss serve`.
pub fn start_with(dir: &Path, extra: &[&str]) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_pitboss"))
        .args(["serve", "--fsync", "always", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pitboss serve");
    let url = format!("http://127.0.0.1:{port}");
    wait_until_up(port, dir);
    Server { child, url }
}

/// Waits until a server started on `dir` listens on `port` and has written the demo
/// operator's credentials (it binds its port before it opens the data directory).
pub fn wait_until_up(port: u16, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        || !dir.join("demo-operator.json").exists()
    {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A signing client of one operator, on the real clock.
pub struct Operator {
    pub http: HttpClient,
    pub creds: OperatorCredentials,
    pub nonce: u64,
}

impl Operator {
    pub async fn connect(url: &str, creds: &OperatorCredentials) -> Operator {
        Operator {
            http: HttpClient::connect(url).await.expect("connect"),
            creds: creds.clone(),
            nonce: 0,
        }
    }

    pub async fn send(
        &mut self,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: String,
    ) -> Value {
        let reply = self
            .http
            .send(Method::POST, path, headers, body.into_bytes())
            .await
            .expect("request");
        serde_json::from_slice(&reply.body).expect("JSON")
    }

    /// A Publisher Manual call; its `data`, which must succeed.
    pub async fn call(&mut self, path: &str, body: Value) -> Value {
        let v = self
            .send_signed(&format!("/service/jsonapi/{path}"), body)
            .await;
        assert_eq!(v["code"], json!(0), "{path}: {v}");
        v["data"].clone()
    }

    /// The four auth headers of Publisher Manual §1, fresh.
    fn signed(&mut self) -> Vec<(HeaderName, HeaderValue)> {
        self.nonce += 1;
        let nonce = format!("crash-{}-{}", std::process::id(), self.nonce);
        let ts = now_secs().to_string();
        auth::signed_headers(&self.creds.client_id, &self.creds.api_key, &ts, &nonce)
            .expect("headers")
    }

    /// A signed POST to `path` (whole): the whole envelope, whatever its code.
    pub async fn send_signed(&mut self, path: &str, body: Value) -> Value {
        let h = self.signed();
        self.send(path, &h, body.to_string()).await
    }

    /// A Publisher Manual call: its envelope, or `None` if the connection failed (a
    /// killed server).
    pub async fn try_call(&mut self, path: &str, body: Value) -> Option<Value> {
        let h = self.signed();
        let reply = self
            .http
            .send(
                Method::POST,
                &format!("/service/jsonapi/{path}"),
                &h,
                body.to_string().into_bytes(),
            )
            .await
            .ok()?;
        serde_json::from_slice(&reply.body).ok()
    }

    /// A signed gate call, which must succeed.
    pub async fn gate(&mut self, path: &str, params: Value) {
        let v = self.try_gate(path, params).await.expect("an answer");
        assert_eq!(v["success"], json!(true), "{path}: {v}");
    }

    /// A signed gate call: its answer, or `None` if the connection failed (a killed
    /// server).
    pub async fn try_gate(&mut self, path: &str, mut params: Value) -> Option<Value> {
        params["app_key"] = json!(self.creds.app_key);
        params["timestamp"] = json!(now_secs());
        let unsigned = params.to_string();
        let sign =
            gate::params::sign_body(unsigned.as_bytes(), &self.creds.app_secret).expect("sign");
        params["sign"] = json!(sign);
        let reply = self
            .http
            .send(Method::POST, path, &[], params.to_string().into_bytes())
            .await
            .ok()?;
        serde_json::from_slice(&reply.body).ok()
    }

    /// An admin call with the token of the server's data directory; its `data`,
    /// which must succeed.
    pub async fn admin(&mut self, dir: &Path, method: Method, path: &str, body: Value) -> Value {
        let token = pitboss::server::datadir::read_admin_token(dir).expect("admin token");
        let bearer = format!("Bearer {token}");
        let h = [(
            hyper::header::AUTHORIZATION,
            HeaderValue::from_str(&bearer).expect("header"),
        )];
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let reply = self.http.send(method, path, &h, body).await.expect("admin");
        let v: Value = serde_json::from_slice(&reply.body).expect("JSON");
        assert_eq!(v["code"], json!(0), "{path}: {v}");
        v["data"].clone()
    }

    /// A player's available balance through the bank API, in minor units (CNY: 2 places).
    pub async fn balance(&mut self, player: &str) -> i64 {
        let body = json!({"traceId": "t", "playerId": player, "currency": "CNY"}).to_string();
        let ts = now_secs() * 1000;
        let h = bank::sign::signed_headers(
            &self.creds.app_key,
            &self.creds.app_secret,
            ts,
            body.as_bytes(),
        )
        .expect("headers");
        let reply = self
            .http
            .send(Method::POST, bank::BALANCE, &h, body.into_bytes())
            .await
            .expect("request");
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        let start = text.find("\"balance\":").expect("a balance") + 10;
        let number: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let (whole, fraction) = number.split_once('.').expect("two places");
        whole.parse::<i64>().expect("digits") * 100 + fraction.parse::<i64>().expect("digits")
    }
}
