//! Webhooks over real HTTP (Publisher Manual §7; docs/webhooks.md): subscriptions,
//! the engine's own events and published ones, delivered to a real receiver written
//! here that succeeds, fails, answers a non-zero code, stalls or answers 410. Every
//! signature is checked by an independent implementation (Python's standard library).
//! The SIGKILL test is `tests/webhooks_crash.rs`.

#[path = "common/http.rs"]
mod http;
#[path = "common/receiver.rs"]
mod receiver;

use http::{Client, TestServer};
use pitboss::Clock;
use receiver::{python_verifies, Mode, Received, WebhookReceiver};
use serde_json::{json, Value};
use std::time::Duration;

const SUBSCRIBE: &str = "/service/webhook/subscribe";
const UNSUBSCRIBE: &str = "/service/webhook/unsubscribe";
const PUBLISH: &str = "/service/webhook/publish";
const LIST: &str = "/service/webhook/list";
const FAILED: &str = "/service/webhook/failed";
const REDELIVER: &str = "/service/webhook/redeliver";
const WAIT: Duration = Duration::from_secs(20);

async fn server_allowing_private() -> TestServer {
    TestServer::start_with(|c| {
        c.webhooks.allow_private = true;
        c.webhooks.timeout = Duration::from_millis(500);
        c.webhooks.interval = Duration::from_millis(10);
    })
    .await
}

/// Subscribes; the secret.
async fn subscribe(c: &mut Client, url: &str, events: &[&str]) -> (u64, String) {
    let r = c
        .post(SUBSCRIBE, json!({"url": url, "events": events}))
        .await;
    let d = r.data();
    let secret = d["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (d["subscriberId"].as_u64().expect("subscriberId"), secret)
}

fn of_event<'a>(all: &'a [Received], event: &str) -> Vec<&'a Received> {
    all.iter()
        .filter(|r| r.json()["event"] == json!(event))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_events_reach_a_real_receiver_signed_as_standard_webhooks_says() {
    let server = server_allowing_private().await;
    let receiver = WebhookReceiver::start(Mode::Ok).await;
    let mut c = server.client().await;
    let wallet = c.login("hooked", "pw").await;
    let (sub, secret) = subscribe(
        &mut c,
        &receiver.url(),
        &["wallet.balance.update", "wallet.transaction.success"],
    )
    .await;
    let deposit = json!({"walletId": wallet, "amount": 12_345, "transactionId": "dep-1"});
    c.post("/service/jsonapi/wallet/deposit", deposit.clone())
        .await
        .data();
    // A replay changes nothing, so it announces nothing.
    c.post("/service/jsonapi/wallet/deposit", deposit)
        .await
        .data();
    let got = receiver.wait_for(WAIT, |r| r.len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 2, "one event each, no more");

    let tx = &of_event(&got, "wallet.transaction.success")[0];
    let body = tx.json();
    assert_eq!(body["subscriberId"], json!(sub));
    assert!(body["createdAt"].as_str().is_some_and(|s| s.ends_with('Z')));
    assert_eq!(
        body["payload"],
        json!({"walletId": wallet, "userIdentity": "hooked", "currency": "CNY",
               "transactionId": "dep-1", "type": "deposit", "amount": 12_345, "total": 12_345})
    );
    let balance = &of_event(&got, "wallet.balance.update")[0];
    assert_eq!(
        balance.json()["payload"],
        json!({"walletId": wallet, "userIdentity": "hooked", "currency": "CNY",
               "total": 12_345, "available": 12_345})
    );
    assert_ne!(tx.id, balance.id, "each event has its own id");
    for r in &got {
        assert!(python_verifies(&secret, r), "signature of {}", r.id);
        let ts: i64 = r.timestamp.parse().expect("timestamp");
        assert_eq!(ts, server.clock.now_secs());
    }
    // A tampered body does not verify.
    let mut forged = got[0].clone();
    forged.body[10] ^= 1;
    assert!(!python_verifies(&secret, &forged));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_with_the_same_id_until_delivered() {
    let server = server_allowing_private().await;
    let receiver = WebhookReceiver::start(Mode::Fail).await;
    let mut c = server.client().await;
    let (_, secret) = subscribe(&mut c, &receiver.url(), &["order.paid"]).await;
    let r = c
        .post(
            PUBLISH,
            json!({"event": "order.paid", "payload": {"order": "A-1", "total": 10.5}}),
        )
        .await;
    assert_eq!(r.data()["count"], json!(1));
    // 500, then a non-zero code, then an answer too long to read, then a stall past
    // the time limit, then success: each failure waits for its retry (5 s, then
    // 5 min, 30 min, 2 h, ±10 %).
    let steps = [
        (Mode::CodeNonZero, 5_500),
        (Mode::Oversized, 330_000),
        (Mode::Stall(Duration::from_secs(2)), 1_980_000),
        (Mode::Ok, 7_920_000),
    ];
    let mut seen = 1;
    receiver.wait_for(WAIT, |r| r.len() >= seen).await;
    for (mode, delay_ms) in steps {
        receiver.set_mode(mode);
        // Not retried before its time.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(receiver.received().len(), seen);
        server.clock.advance_ms(delay_ms);
        seen += 1;
        receiver.wait_for(WAIT, |r| r.len() >= seen).await;
        // Its outcome is logged (a stalled one after the time limit) before the
        // clock moves on.
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
    // The stalled attempt's late answer is not a success: wait for the outcome.
    let got = receiver.wait_for(WAIT, |r| r.len() == 5).await;
    let ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "retries carry one id: {ids:?}"
    );
    assert!(got.iter().all(|r| python_verifies(&secret, r)));
    assert_eq!(
        got[0].json()["payload"],
        json!({"order": "A-1", "total": 10.5})
    );
    // Delivered: nothing more, and nothing pending.
    server.clock.advance_ms(100 * 3_600_000);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 5);
    let list = c.get(LIST).await;
    assert_eq!(list.data()["list"][0]["pending"], json!(0));
    assert_eq!(list.data()["list"][0]["delivered"], json!(1));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_deliveries_are_listed_and_redelivered_and_410_ends_a_subscription() {
    let server = server_allowing_private().await;
    let receiver = WebhookReceiver::start(Mode::Fail).await;
    let mut c = server.client().await;
    subscribe(&mut c, &receiver.url(), &["x.y"]).await;
    c.post(PUBLISH, json!({"event": "x.y", "payload": {}}))
        .await
        .data();
    // Eight attempts: the first and seven retries, 11 h apart at most.
    for n in 1..=8 {
        receiver.wait_for(WAIT, |r| r.len() >= n).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        server.clock.advance_ms(11 * 3_600_000);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 8);
    let failed = c.post(FAILED, json!({})).await;
    let entry = failed.data()["list"][0].clone();
    assert_eq!(entry["attempts"], json!(8));
    assert_eq!(entry["lastError"], json!("HTTP 500"));
    let event_id = entry["eventId"].as_str().expect("eventId").to_owned();
    assert_eq!(event_id, receiver.received()[0].id);

    receiver.set_mode(Mode::Ok);
    let r = c.post(REDELIVER, json!({"eventId": event_id})).await;
    assert_eq!(r.data()["count"], json!(1));
    let got = receiver.wait_for(WAIT, |r| r.len() >= 9).await;
    assert_eq!(got[8].id, event_id);
    let again = c.post(REDELIVER, json!({"eventId": event_id})).await;
    assert_eq!(
        again.code(),
        6,
        "no such failed delivery any more: {:?}",
        again.body
    );

    // 410: the subscription ends.
    receiver.set_mode(Mode::Gone);
    c.post(PUBLISH, json!({"event": "x.y", "payload": {"n": 2}}))
        .await
        .data();
    receiver.wait_for(WAIT, |r| r.len() >= 10).await;
    let deadline = std::time::Instant::now() + WAIT;
    while c.get(LIST).await.data()["list"] != json!([]) {
        assert!(std::time::Instant::now() < deadline, "still subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let none = c
        .post(PUBLISH, json!({"event": "x.y", "payload": {}}))
        .await;
    assert_eq!(none.data()["count"], json!(0));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_subscriptions_and_publishes_are_refused_and_change_nothing() {
    // The default guard: private addresses are refused.
    let server = TestServer::start().await;
    let mut c = server.client().await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
    ] {
        let r = c
            .post(SUBSCRIBE, json!({"url": url, "events": ["a"]}))
            .await;
        assert_eq!(r.code(), 1, "{url}: {:?}", r.body);
        assert!(
            r.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("private")),
            "{url}: {:?}",
            r.body
        );
    }
    let bad: [(Value, &str); 6] = [
        (
            json!({"url": "ftp://example.com/", "events": ["a"]}),
            "http",
        ),
        (json!({"url": "http://203.0.113.5/", "events": []}), "event"),
        (
            json!({"url": "http://203.0.113.5/", "events": ["Bad Name"]}),
            "events",
        ),
        (json!({"url": "http://203.0.113.5/"}), "events"),
        (
            json!({"url": format!("http://203.0.113.5/{}", "a".repeat(2100)), "events": ["a"]}),
            "2048",
        ),
        (
            json!({"url": "http://user:pw@203.0.113.5/", "events": ["a"]}),
            "credentials",
        ),
    ];
    for (body, says) in bad {
        let r = c.post(SUBSCRIBE, body.clone()).await;
        assert_eq!(r.code(), 1, "{body}: {:?}", r.body);
        let message = r.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body}: {message}");
    }
    for body in [
        json!({"event": "a", "payload": [1, 2]}),
        json!({"event": "a", "payload": "text"}),
        json!({"event": "", "payload": {}}),
        json!({"event": "a"}),
        json!({"event": "a", "payload": {"big": "x".repeat(17 * 1024)}}),
    ] {
        let r = c.post(PUBLISH, body.clone()).await;
        assert_ne!(r.code(), 0, "{body}");
    }
    assert_eq!(c.get(LIST).await.data()["list"], json!([]));
    assert_eq!(c.get(UNSUBSCRIBE).await.data()["count"], json!(0));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_ends_every_subscription_of_the_caller() {
    let server = server_allowing_private().await;
    let receiver = WebhookReceiver::start(Mode::Ok).await;
    let mut c = server.client().await;
    subscribe(&mut c, &receiver.url(), &["a"]).await;
    subscribe(&mut c, &receiver.url(), &["a", "b"]).await;
    let r = c.post(PUBLISH, json!({"event": "a", "payload": {}})).await;
    assert_eq!(r.data()["count"], json!(2));
    receiver.wait_for(WAIT, |r| r.len() >= 2).await;
    assert_eq!(c.get(UNSUBSCRIBE).await.data()["count"], json!(2));
    let r = c.post(PUBLISH, json!({"event": "a", "payload": {}})).await;
    assert_eq!(r.data()["count"], json!(0));
    server.stop().await;
}
