//! Over real HTTP, on a durable engine whose archiver runs only when the test says:
//! while the history archiver is more than `HistoryConfig::max_lag_records` behind,
//! each API refuses new work with its own "limit exceeded" code and changes
//! nothing, a win on a round in play goes on, and a pass lets new work in again
//! (ARCHITECTURE.md, "Bounded memory").

#[path = "common/http.rs"]
mod http;

use http::TestServer;
use pitboss::*;
use serde_json::json;
use std::time::Duration;

const GAME: &str = "slot_alice";
const DEPOSIT: &str = "/service/jsonapi/wallet/deposit";

fn bet(uid: i64, tx: &str, round: &str, amount: i64) -> serde_json::Value {
    json!({"game_id": GAME, "round_id": round, "amount": amount, "uid": uid,
           "transaction_id": tx, "currency": "CNY"})
}

fn transfer(player: &str, reference: &str, amount: &str) -> serde_json::Value {
    json!({"traceId": "t-1", "playerId": player, "currency": "CNY",
           "transferAmount": amount, "referenceId": reference})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_work_gets_each_apis_limit_code_while_the_archiver_is_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = http::engine_config();
    config.history = HistoryConfig {
        hot_window: Some(Duration::from_secs(1)),
        archive_every: Duration::from_secs(3600),
        // Any record not yet archived is too many.
        max_lag_records: 0,
        ..HistoryConfig::default()
    };
    let server = TestServer::start_durable(dir.path(), config).await;
    let archive = || {
        server
            .engine
            .archive_now(server.clock.now_ms())
            .expect("a history store")
            .expect("an archiver pass");
    };
    let mut c = server.client().await;
    let login = c
        .post(
            "/service/jsonapi/user/login",
            json!({"identifier": "lagging", "credential": "pw"}),
        )
        .await;
    let uid: i64 = login.data()["userId"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("userId");
    let wallet_text = login.data()["walletId"]
        .as_str()
        .expect("walletId")
        .to_owned();
    let wallet = WalletId(wallet_text.parse().expect("numeric"));
    archive();
    let funded = c
        .post(
            DEPOSIT,
            json!({"walletId": wallet_text, "amount": 1_000, "transactionId": "fund"}),
        )
        .await;
    assert_eq!(funded.code(), 0, "{:?}", funded.body);
    archive();
    let mut w = server.wallet().await;
    let opened = w.gate("/bet", bet(uid, "b1", "r1", 100)).await;
    assert_eq!(opened.code(), 0, "{}", opened.text);
    // The bet's record is not archived: the lag is over the bound.
    let before = server.engine.balance(wallet).expect("balance");

    let platform = c
        .post(
            DEPOSIT,
            json!({"walletId": wallet_text, "amount": 5, "transactionId": "more"}),
        )
        .await;
    assert_eq!(
        (platform.status, platform.code()),
        (429, 10),
        "{:?}",
        platform.body
    );
    let gate = w.gate("/bet", bet(uid, "b2", "r2", 5)).await;
    assert_eq!(gate.code(), 20241014, "{}", gate.text);
    assert_eq!(server.engine.balance(wallet).expect("balance"), before);

    // Work already taken finishes: the bet is answered again, the win is paid.
    let again = w.gate("/bet", bet(uid, "b1", "r1", 100)).await;
    assert_eq!(again.code(), 0, "{}", again.text);
    let won = w.gate("/win", bet(uid, "w1", "r1", 40)).await;
    assert_eq!(won.code(), 0, "{}", won.text);
    let after_win = server.engine.balance(wallet).expect("balance");
    assert_eq!(
        after_win.available,
        Amount::new(before.available.minor_units() + 40),
        "the win is paid; the round's bet is spent"
    );
    // With the round closed, a transfer is refused for the lag alone.
    let bank = w
        .bank("/api/bank/deposit", transfer("lagging", "ref-1", "0.05"))
        .await;
    assert_eq!(bank.code(), 100015, "{}", bank.text);
    assert_eq!(server.engine.balance(wallet).expect("balance"), after_win);
    // A first deposit in a currency the player has no wallet in opens none when it
    // is refused (another operator, with two currencies).
    let op = server
        .engine
        .create_operator(identity::types::NewOperator {
            client_id: ClientId::new("two-currencies").expect("id"),
            channel: ChannelId::new("two-ch").expect("id"),
            currencies: vec![
                Currency::new("CNY").expect("id"),
                Currency::new("USD").expect("id"),
            ],
            wallet_mode: identity::types::WalletMode::Transfer,
            password: "a password".into(),
        })
        .expect("operator");
    let ann = PlayerId::new("ann").expect("id");
    server.engine.login_player(&op, &ann, "pw").expect("login");
    let creds = pitboss::server::admin::OperatorCredentials::of(&op, None);
    let mut other = server.wallet_of(&creds).await;
    let mut usd = transfer("ann", "usd-1", "0.05");
    usd["currency"] = json!("USD");
    let refused = other.bank("/api/bank/deposit", usd).await;
    assert_eq!(refused.code(), 100015, "{}", refused.text);
    let usd = Currency::new("USD").expect("id");
    assert_eq!(server.engine.wallet_id(&op.channel, &ann, &usd), None);

    // Once the archiver has caught up, new work is taken again.
    archive();
    let taken = w
        .bank("/api/bank/deposit", transfer("lagging", "ref-1", "0.05"))
        .await;
    assert_eq!(taken.code(), 200, "{}", taken.text);
    server.stop().await;
}
