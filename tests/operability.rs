//! What an operator of the platform relies on: `/health` (and 503 once the log has
//! failed closed), `/metrics`, a request id and one log line per request (JSON when
//! asked, never a secret), `--metrics-listen`, `pitboss login` reading its password
//! from standard input, a port in use leaving no data directory behind, and an idle
//! server stopping at once.

#[path = "common/http.rs"]
mod http;
#[path = "common/real.rs"]
mod real;

use http::{engine_config, serve, TestServer};
use pitboss::server::admin::OperatorCredentials;
use pitboss::server::client::HttpClient;
use pitboss::server::ServerConfig;
use pitboss::storage::FaultyFs;
use pitboss::{Engine, ManualClock};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn get(url: &str, path: &str) -> (u16, String, Option<String>) {
    let mut c = HttpClient::connect(url).await.expect("connect");
    let r = c
        .send(hyper::Method::GET, path, &[], Vec::new())
        .await
        .expect("request");
    let id = r
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        r.status.as_u16(),
        String::from_utf8_lossy(&r.body).into_owned(),
        id,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_count_requests_by_route_and_code() {
    let server = TestServer::start().await;
    let (status, body, id) = get(&server.url(), "/health").await;
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(health["status"], json!("ok"));
    assert!(health["uptimeSeconds"].is_u64() && health["durableLsn"].is_u64());
    assert!(id.is_some_and(|id| !id.is_empty()), "an X-Request-Id");

    let mut c = server.client().await;
    let wallet = c.login("m1", "pw").await;
    let deposit = json!({"walletId": wallet, "amount": 5, "transactionId": "m-1"});
    c.post("/service/jsonapi/wallet/deposit", deposit)
        .await
        .data();
    let refused = json!({"walletId": wallet, "amount": -5, "transactionId": "m-2"});
    assert_eq!(
        c.post("/service/jsonapi/wallet/deposit", refused)
            .await
            .code(),
        1
    );
    get(&server.url(), "/no/such/path/1").await;
    get(&server.url(), "/no/such/path/2").await;

    let (status, doc, _) = get(&server.url(), "/openapi.json").await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&doc).expect("the OpenAPI document");
    assert_eq!(doc["openapi"], json!("3.1.0"));

    let (status, text, _) = get(&server.url(), "/metrics").await;
    assert_eq!(status, 200);
    for line in [
        r#"pitboss_requests_total{route="/service/jsonapi/wallet/deposit",code="0"} 1"#,
        r#"pitboss_requests_total{route="/service/jsonapi/wallet/deposit",code="1"} 1"#,
        r#"pitboss_requests_total{route="other",code="6"} 2"#,
        r#"pitboss_request_seconds_count{route="/service/jsonapi/wallet/deposit"} 2"#,
        "pitboss_wallets 1",
        "pitboss_up 1",
        "pitboss_open_rounds 0",
        "pitboss_webhook_pending 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    for name in [
        "pitboss_log_fsync_seconds",
        "pitboss_log_group_commit_records",
        "pitboss_incomplete_games",
        "pitboss_seamless_unfinished_calls",
        "pitboss_snapshot_age_seconds",
        "pitboss_seamless_retrying_calls",
        "pitboss_webhook_retrying",
    ] {
        assert!(text.contains(&format!("# TYPE {name} ")), "no {name}");
    }
    server.stop().await;
}

/// Once the log fails closed, `/health` answers 503 and `/metrics` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_fails_once_the_log_has_failed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = Arc::new(FaultyFs::new());
    let clock = Arc::new(ManualClock::new(http::START_MS));
    let engine =
        Arc::new(Engine::open_with(dir.path(), engine_config(), clock, fs.clone()).expect("open"));
    let (addr, stop, task) = serve(engine.clone(), ServerConfig::new("t".into())).await;
    let url = format!("http://{addr}");
    assert_eq!(get(&url, "/health").await.0, 200);
    fs.fail_syncs(true);
    let channel = pitboss::ChannelId::new("ch").expect("channel");
    let player = pitboss::PlayerId::new("p").expect("player");
    let currency = pitboss::Currency::new("CNY").expect("currency");
    assert!(engine.open_wallet(&channel, &player, &currency).is_err());
    let (status, body, _) = get(&url, "/health").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("failed"), "{body}");
    assert!(get(&url, "/metrics")
        .await
        .1
        .lines()
        .any(|l| l == "pitboss_up 0"));
    let _ = stop.send(());
    let _ = task.await;
}

fn demo_credentials(dir: &std::path::Path) -> OperatorCredentials {
    serde_json::from_slice(&std::fs::read(dir.join("demo-operator.json")).expect("credentials"))
        .expect("credentials")
}

/// The real binary: JSON log lines with the request id returned to the client and no
/// secret in them; `--metrics-listen`; `pitboss login` from standard input; a fast
/// stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_logs_serves_metrics_apart_and_stops_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = real::free_port();
    let metrics_port = real::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pitboss"))
        .args(["serve", "--log-format", "json", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--metrics-listen")
        .arg(format!("127.0.0.1:{metrics_port}"))
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines_tx.send(line);
        }
    });
    let url = format!("http://127.0.0.1:{port}");
    real::wait_until_up(port, dir.path());
    let creds = demo_credentials(dir.path());
    let mut op = real::Operator::connect(&url, &creds).await;
    let answer = op
        .send_signed("/service/jsonapi/wallet/query", json!({"walletId": "1"}))
        .await;
    assert_eq!(answer["code"], json!(6), "{answer}");

    // Health and metrics are on their own listener only.
    let metrics_url = format!("http://127.0.0.1:{metrics_port}");
    assert_eq!(get(&metrics_url, "/health").await.0, 200);
    assert!(get(&metrics_url, "/metrics")
        .await
        .1
        .contains("pitboss_requests_total"));
    assert_eq!(get(&url, "/metrics").await.0, 404);

    // `pitboss login`, its password on standard input.
    let mut login = Command::new(env!("CARGO_BIN_EXE_pitboss"))
        .args(["login", &creds.client_id, "--server", &url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn login");
    let password = creds
        .password
        .clone()
        .expect("the demo operator's password");
    writeln!(login.stdin.take().expect("stdin"), "{password}").expect("write");
    let out = login.wait_with_output().expect("login");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(printed.contains(&creds.api_key), "{printed}");

    // The log: one JSON line per request, with its id; nothing secret.
    let mut seen = Vec::new();
    let wait = Instant::now() + Duration::from_secs(10);
    while Instant::now() < wait
        && seen
            .iter()
            .filter(|l: &&String| l.contains("pitboss::request"))
            .count()
            < 2
    {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) {
            seen.push(line);
        }
    }
    let request: Value = seen
        .iter()
        .filter(|l| l.contains("/service/jsonapi/wallet/query"))
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON line for wallet/query in {seen:?}"));
    let fields = &request["fields"];
    assert_eq!(fields["operator"], json!(creds.client_id));
    assert_eq!(fields["code"], json!(6));
    assert!(fields["request_id"].as_str().is_some_and(|s| !s.is_empty()));
    for line in &seen {
        for secret in [&creds.api_key, &creds.app_secret, &password] {
            assert!(
                !line.contains(secret.as_str()),
                "a secret in the log: {line}"
            );
        }
    }

    // SIGTERM to an idle server: gone at once.
    let pid = child.id() as libc::pid_t;
    let asked = Instant::now();
    // SAFETY: sends a signal to the child this test spawned.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let status = child.wait().expect("wait");
    let took = asked.elapsed();
    assert!(status.success(), "{status}");
    assert!(
        took < Duration::from_millis(500),
        "an idle server took {took:?} to stop"
    );
    println!("an idle server stopped in {took:?}");
}

/// A port in use: refused before any data directory is made.
#[test]
fn a_port_in_use_leaves_no_data_directory() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("new-data");
    let out = Command::new(env!("CARGO_BIN_EXE_pitboss"))
        .args(["serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen"));
    assert!(!data.exists(), "a data directory was left behind");
}
