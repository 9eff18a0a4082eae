//! HTTPS: the server with a certificate made here (a CA of the test's own, and a
//! certificate for `localhost` it signs): a signed call over HTTPS succeeds and plain
//! HTTP to it does not; a webhook receiver whose certificate the platform does not
//! trust is refused, and delivered to once the CA is given as `--ca-file` would.

#[path = "common/http.rs"]
mod http;
#[path = "common/receiver.rs"]
mod receiver;

use http::{engine_config, serve, TestServer, ADMIN_TOKEN};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use pitboss::server::{auth, demo, tls, ServerConfig};
use pitboss::{Clock, Engine, ManualClock};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A CA and a certificate for `localhost` and 127.0.0.1 it signs, as PEM files in
/// `dir`: (ca.pem, cert.pem, key.pem).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "pitboss test CA");
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("params");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &issuer).expect("certificate");
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).expect("write");
    std::fs::write(&paths.1, cert.pem()).expect("write");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write");
    paths
}

type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

fn https_client(ca: &Path) -> HttpsClient {
    let config = tls::client_config(Some(ca)).expect("client config");
    let connector = tls::https_connector(
        hyper_util::client::legacy::connect::HttpConnector::new(),
        config,
    );
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(connector)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_call_over_https_succeeds_and_plain_http_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = certificates(dir.path());
    let clock = Arc::new(ManualClock::new(http::START_MS));
    let engine = Arc::new(Engine::in_memory_with_clock(engine_config(), clock.clone()));
    demo::register_seed_games(&engine).expect("games");
    let creds = demo::create_demo_operator(&engine)
        .expect("demo")
        .expect("a new engine");
    let mut config = ServerConfig::new(ADMIN_TOKEN.into());
    config.tls = Some(tls::server_config(&cert, &key).expect("server config"));
    let (addr, stop, task) = serve(engine.clone(), config).await;

    let client = https_client(&ca);
    let ts = clock.now_secs().to_string();
    let headers =
        auth::signed_headers(&creds.client_id, &creds.api_key, &ts, "tls-1").expect("headers");
    let mut request = hyper::Request::get(format!(
        "https://localhost:{}/service/jsonapi/game/list",
        addr.port()
    ));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = client
        .request(request.body(Full::new(Bytes::new())).expect("request"))
        .await
        .expect("an https answer");
    assert_eq!(response.status(), 200);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let v: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(v["code"], json!(0), "{v}");

    // The admin CLI's client, trusting the CA through PITBOSS_CA_FILE (this test is
    // the only one of its binary that reads it).
    std::env::set_var("PITBOSS_CA_FILE", &ca);
    let mut cli =
        pitboss::server::client::HttpClient::connect(&format!("https://localhost:{}", addr.port()))
            .await
            .expect("an https connection");
    let health = cli
        .send(hyper::Method::GET, "/health", &[], Vec::new())
        .await
        .expect("health over https");
    assert_eq!(health.status, 200);

    // Plain HTTP to the TLS port gets no answer.
    let plain = pitboss::server::client::HttpClient::connect(&format!("http://{addr}"))
        .await
        .expect("connect");
    let mut plain = plain;
    let answered = tokio::time::timeout(
        Duration::from_secs(5),
        plain.send(hyper::Method::GET, "/health", &[], Vec::new()),
    )
    .await;
    assert!(!matches!(answered, Ok(Ok(_))), "plain HTTP was answered");
    let _ = stop.send(());
    let _ = task.await;
}

/// A webhook receiver behind TLS with the test's certificate.
async fn tls_receiver(cert: &Path, key: &Path) -> (u16, Arc<parking_lot::Mutex<u32>>) {
    let config = tls::server_config(cert, key).expect("receiver config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let count = Arc::new(parking_lot::Mutex::new(0u32));
    let counted = count.clone();
    tokio::spawn(async move {
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, counted) = (acceptor.clone(), counted.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(stream).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |_req| {
                    *counted.lock() += 1;
                    async {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from_static(br#"{"code":0}"#),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (port, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_receiver_is_refused_and_a_trusted_one_delivered_to() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = certificates(dir.path());
    let (port, received) = tls_receiver(&cert, &key).await;
    let url = format!("https://localhost:{port}/hook");
    for trust_ca in [false, true] {
        let server = TestServer::start_with(|c| {
            c.webhooks.allow_private = true;
            c.webhooks.interval = Duration::from_millis(10);
            if trust_ca {
                c.outbound_tls = tls::client_config(Some(&ca)).expect("client config");
            }
        })
        .await;
        let mut c = server.client().await;
        let r = c
            .post(
                "/service/webhook/subscribe",
                json!({"url": url, "events": ["e"]}),
            )
            .await;
        r.data();
        let before = *received.lock();
        c.post(
            "/service/webhook/publish",
            json!({"event": "e", "payload": {}}),
        )
        .await
        .data();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let delivered = *received.lock() - before;
        let list = c.get("/service/webhook/list").await;
        let entry = &list.data()["list"][0];
        if trust_ca {
            assert_eq!(delivered, 1, "a receiver the CA signs is delivered to");
            assert_eq!(entry["delivered"], json!(1));
        } else {
            assert_eq!(
                delivered, 0,
                "an untrusted certificate must not be talked to"
            );
            assert_eq!(
                entry["pending"],
                json!(1),
                "the delivery waits for its retry"
            );
        }
        server.stop().await;
    }
}
