//! A webhook receiver for the tests: a real HTTP server that records every delivery
//! and answers as told (succeed, fail, answer a non-zero code, stall, or say 410).
#![allow(dead_code)]

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde_json::Value;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200 `{"code":0,"message":"ok"}`.
    Ok,
    /// 500.
    Fail,
    /// 200 with `{"code":7}`: a failure by Publisher Manual §7.4.4.
    CodeNonZero,
    /// Answers after this long.
    Stall(Duration),
    /// 410 Gone.
    Gone,
    /// 200 with `{"code":0,…}` padded past the 16 KiB the sender reads: not a
    /// delivery, since what it cannot read may hide another code.
    Oversized,
}

/// One delivery as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
    /// The mode it was answered in.
    pub answered: Mode,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

pub struct WebhookReceiver {
    pub addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookReceiver {
    pub async fn start(mode: Mode) -> WebhookReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mode = Arc::new(Mutex::new(mode));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (m, r) = (mode.clone(), received.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (m, r) = (m.clone(), r.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req| answer(m.clone(), r.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        WebhookReceiver {
            addr,
            mode,
            received,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock() = mode;
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().clone()
    }

    /// Waits until `done` holds for what was received (panics after `limit`).
    pub async fn wait_for(
        &self,
        limit: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let now = self.received();
            if done(&now) {
                return now;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver still waits; it has {} deliveries: {:?}",
                now.len(),
                now.iter().map(|r| &r.id).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    mode: Arc<Mutex<Mode>>,
    received: Arc<Mutex<Vec<Received>>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let answered = *mode.lock();
    received.lock().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body,
        answered,
    });
    let padded = format!(r#"{{"code":0,"pad":"{}"}}"#, "x".repeat(17 * 1024));
    let (status, text) = match answered {
        Mode::Ok => (StatusCode::OK, r#"{"code":0,"message":"ok"}"#),
        Mode::Oversized => (StatusCode::OK, padded.as_str()),
        Mode::Fail => (StatusCode::INTERNAL_SERVER_ERROR, "down"),
        Mode::CodeNonZero => (StatusCode::OK, r#"{"code":7,"message":"busy"}"#),
        Mode::Stall(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, r#"{"code":0,"message":"late"}"#)
        }
        Mode::Gone => (StatusCode::GONE, "gone"),
    };
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() = status;
    Ok(response)
}

/// Checks a delivery's signature with Python's standard library: an implementation
/// independent of the server's (Standard Webhooks' verification, in a few lines).
pub fn python_verifies(secret: &str, r: &Received) -> bool {
    const SCRIPT: &str = r#"
import base64, hashlib, hmac, os, sys
key = base64.b64decode(os.environ["SECRET"].removeprefix("whsec_"))
body = sys.stdin.buffer.read()
signed = os.environ["ID"].encode() + b"." + os.environ["TS"].encode() + b"." + body
expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
given = [s.split(",", 1)[1] for s in os.environ["SIG"].split() if s.startswith("v1,")]
sys.exit(0 if any(hmac.compare_digest(expected, g) for g in given) else 1)
"#;
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .env("SECRET", secret)
        .env("ID", &r.id)
        .env("TS", &r.timestamp)
        .env("SIG", &r.signature)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&r.body)
        .expect("write");
    child.wait().expect("python3 ran").success()
}
