//! The client of operators' own wallets (`server::outbound`) against a real pitboss
//! serving the gate and bank wallet APIs (one pitboss as another's wallet), and
//! against a wallet that never answers: calls are signed as the server checks them, a
//! dead wallet times out, and past an operator's bound a call is refused at once while
//! another operator's calls go on.

#[path = "common/http.rs"]
mod http;

use http::TestServer;
use pitboss::identity::types::{RemoteWallet, WalletDialect};
use pitboss::server::outbound::{OutboundClient, OutboundConfig, OutboundError, WalletCredentials};
use pitboss::{ClientId, Clock};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn creds(server: &TestServer) -> WalletCredentials {
    WalletCredentials {
        client_id: ClientId::new(&server.demo.client_id).expect("client"),
        app_key: server.demo.app_key.clone(),
        app_secret: server.demo.app_secret.clone(),
    }
}

fn params(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(map) => map,
        _ => panic!("an object"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_dialects_are_spoken_to_a_pitboss_wallet() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let login = c
        .post(
            "/service/jsonapi/user/login",
            json!({"identifier": "remote-player", "credential": "pw"}),
        )
        .await;
    let uid: i64 = login.data()["userId"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("uid");
    let clock: Arc<dyn Clock> = server.clock.clone();
    let client = OutboundClient::new(
        OutboundConfig::default(),
        clock,
        pitboss::server::tls::default_client_config(),
    );
    let creds = creds(&server);
    let bank = RemoteWallet::new(WalletDialect::Bank, &server.url()).expect("url");
    let gate = RemoteWallet::new(WalletDialect::Gate, &format!("{}/", server.url())).expect("url");

    let deposit = json!({"traceId": "t1", "playerId": "remote-player", "currency": "CNY",
                         "transferAmount": "10.00", "referenceId": "d-1"});
    let answer = client
        .bank(&creds, &bank, "/api/bank/deposit", &deposit)
        .await
        .expect("deposit");
    assert_eq!(answer["code"], json!(200), "{answer}");
    let query = json!({"traceId": "t2", "playerId": "remote-player", "currency": "CNY", "referenceId": "d-1"});
    let answer = client
        .bank(&creds, &bank, "/api/bank/getsingletransaction", &query)
        .await
        .expect("query");
    assert_eq!(answer["data"]["transactionStatus"], json!("SUCCESS"));

    let round = |r: &str, tx: &str, amount: i64| {
        params(
            json!({"uid": uid, "currency": "CNY", "game_id": "slot_alice",
                      "round_id": r, "transaction_id": tx, "amount": amount}),
        )
    };
    let bet = client
        .gate(&creds, &gate, "/bet", round("r-1", "b-1", 250))
        .await
        .expect("bet");
    assert_eq!(bet["success"], json!(true), "{bet}");
    assert_eq!(bet["data"]["balance"], json!(750));
    let win = client
        .gate(&creds, &gate, "/win", round("r-1", "w-1", 100))
        .await
        .expect("win");
    assert_eq!(win["data"]["balance"], json!(850));
    let balance = params(json!({"uid": uid, "currency": "CNY"}));
    let answer = client
        .gate(&creds, &gate, "/getBalance", balance)
        .await
        .expect("balance");
    assert_eq!(answer["data"]["balance"], json!("850"));
    // A refusal is an answer too: the caller reads its code.
    let refused = client
        .gate(&creds, &gate, "/bet", round("r-2", "b-2", 100_000))
        .await
        .expect("answer");
    assert_eq!(refused["code"], json!(20241003), "{refused}");

    // Each call must go to a wallet of its own dialect.
    let wrong = client
        .gate(&creds, &bank, "/bet", round("r-3", "b-3", 1))
        .await;
    assert!(matches!(wrong, Err(OutboundError::Wallet(_))));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_wallet_times_out_and_its_bound_refuses_at_once() {
    // A wallet that accepts connections and never answers.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hole_url = format!("http://{}", hole.local_addr().expect("addr"));
    let keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = hole.accept().await {
            held.push(stream);
        }
    });
    let server = TestServer::start().await;
    let clock: Arc<dyn Clock> = server.clock.clone();
    let config = OutboundConfig {
        timeout: Duration::from_millis(300),
        max_in_flight: 2,
        max_idle_per_host: 4,
    };
    let client = Arc::new(OutboundClient::new(
        config,
        clock,
        pitboss::server::tls::default_client_config(),
    ));
    let dead = RemoteWallet::new(WalletDialect::Bank, &hole_url).expect("url");
    let stuck = WalletCredentials {
        client_id: ClientId::new("stuck-operator").expect("client"),
        app_key: "k".into(),
        app_secret: "s".into(),
    };
    let body = json!({"traceId": "t", "playerId": "p", "currency": "CNY"});
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let (client, dead, stuck, body) =
                (client.clone(), dead.clone(), stuck.clone(), body.clone());
            tokio::spawn(
                async move { client.bank(&stuck, &dead, "/api/bank/balance", &body).await },
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Past the bound: refused at once, nothing queued.
    let started = Instant::now();
    let third = client.bank(&stuck, &dead, "/api/bank/balance", &body).await;
    assert_eq!(third, Err(OutboundError::Busy));
    assert!(started.elapsed() < Duration::from_millis(50));
    // Another operator's calls to a live wallet go on meanwhile.
    let live = RemoteWallet::new(WalletDialect::Bank, &server.url()).expect("url");
    let other = creds(&server);
    let answer = client
        .bank(&other, &live, "/api/bank/balance", &body)
        .await
        .expect("answer");
    assert_eq!(
        answer["code"],
        json!(100011),
        "no such player, but answered: {answer}"
    );
    for call in calls {
        let outcome = call.await.expect("task");
        assert_eq!(outcome, Err(OutboundError::Timeout));
    }
    // Once they timed out, the bound is free again.
    let again = client.bank(&stuck, &dead, "/api/bank/balance", &body).await;
    assert_eq!(again, Err(OutboundError::Timeout));
    keep.abort();
    server.stop().await;
}
