//! Webhook deliveries across a SIGKILL, against the real `pitboss` binary: events
//! whose deliveries are undelivered (the receiver is failing) when the server is
//! killed are all delivered after the restart, none lost, and every delivered event
//! announces a change the server acknowledged or had logged (a deposit this test
//! sent). Deposits go on while the server is killed, so kills land between a deposit's
//! record and its event's first attempt as well. `PITBOSS_WEBHOOK_CRASH_CYCLES` sets
//! the number of kills (default 3).

#[path = "common/real.rs"]
mod real;
#[path = "common/receiver.rs"]
mod receiver;

use pitboss::server::admin::OperatorCredentials;
use real::{start_with, Operator};
use receiver::{python_verifies, Mode, WebhookReceiver};
use serde_json::json;
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

const DEPOSITS_PER_CYCLE: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_committed_event_is_delivered_after_a_kill() {
    let cycles: usize = std::env::var("PITBOSS_WEBHOOK_CRASH_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ["--webhook-allow-private"];
    let mut server = start_with(dir.path(), &args);
    let creds: OperatorCredentials = serde_json::from_slice(
        &std::fs::read(dir.path().join("demo-operator.json")).expect("demo credentials"),
    )
    .expect("credentials");
    let receiver = WebhookReceiver::start(Mode::Fail).await;
    let mut op = Operator::connect(&server.url, &creds).await;
    let sub = op
        .send_signed(
            "/service/webhook/subscribe",
            json!({"url": receiver.url(), "events": ["wallet.transaction.success"]}),
        )
        .await;
    assert_eq!(sub["code"], json!(0), "{sub}");
    let secret = sub["data"]["secret"].as_str().expect("secret").to_owned();
    let login = op
        .call("user/login", json!({"identifier": "p", "credential": "pw"}))
        .await;
    let wallet = login["walletId"].as_str().expect("wallet").to_owned();

    // Every deposit sent (acknowledged or not), and those acknowledged.
    let mut sent = HashSet::new();
    let mut acknowledged = BTreeSet::new();
    for cycle in 0..cycles {
        let mut op = Operator::connect(&server.url, &creds).await;
        let kill_after = DEPOSITS_PER_CYCLE / 2 + cycle * 7 % (DEPOSITS_PER_CYCLE / 2);
        for i in 0..DEPOSITS_PER_CYCLE {
            let tx = format!("c{cycle}-d{i}");
            sent.insert(tx.clone());
            if i == kill_after {
                server.child.kill().expect("SIGKILL");
                let _ = server.child.wait();
            }
            let body = json!({"walletId": wallet, "amount": 100, "transactionId": tx});
            if let Some(v) = op.try_call("wallet/deposit", body).await {
                if v["code"] == json!(0) {
                    acknowledged.insert(tx);
                }
            }
        }
        server = start_with(dir.path(), &args);
    }

    // The receiver recovers: every acknowledged deposit's event arrives, each
    // announcing a deposit that was sent.
    receiver.set_mode(Mode::Ok);
    let delivered = |all: &[receiver::Received]| -> BTreeSet<String> {
        all.iter()
            .filter(|r| r.answered == Mode::Ok)
            .map(|r| {
                r.json()["payload"]["transactionId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    };
    let got = receiver
        .wait_for(Duration::from_secs(60), |all| {
            acknowledged.is_subset(&delivered(all))
        })
        .await;
    for tx in delivered(&got) {
        assert!(
            sent.contains(&tx),
            "an event for a deposit never made: {tx}"
        );
    }
    // One id per event: retries and redeliveries after restarts kept it.
    let mut ids_of_tx = std::collections::HashMap::<String, HashSet<String>>::new();
    for r in &got {
        let tx = r.json()["payload"]["transactionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        ids_of_tx.entry(tx).or_default().insert(r.id.clone());
        assert!(python_verifies(&secret, r), "signature of {}", r.id);
    }
    for (tx, ids) in &ids_of_tx {
        assert_eq!(
            ids.len(),
            1,
            "{tx} was announced under several ids: {ids:?}"
        );
    }
    println!(
        "{} deposits sent, {} acknowledged, {} announced, {} attempts received",
        sent.len(),
        acknowledged.len(),
        ids_of_tx.len(),
        got.len()
    );
    let _ = server.child.kill();
    let _ = server.child.wait();
}
