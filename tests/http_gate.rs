//! The gate wallet API over real HTTP: every endpoint's answer compared whole with its
//! golden file under `snapshots/api/` (UPDATE_SNAPSHOTS=1 rewrites them), every
//! failure's code, and proof that a refused call changes nothing. Rounds played here
//! write the same game records, incomplete games and tournament scores as embedded
//! calls do.

mod common;
#[path = "common/http.rs"]
mod http;

use common::{channel, page};
use http::{assert_wallet_golden, Client, TestServer, WalletClient, WalletReply, START_MS};
use hyper::Method;
use pitboss::catalog::game::GameStatus;
use pitboss::ledger::records::RecordQuery;
use pitboss::server::gate::codes::GateCode;
use pitboss::*;
use serde_json::{json, Value};

const DEPOSIT: &str = "/service/jsonapi/wallet/deposit";
const GAME: &str = "slot_alice";

/// A logged-in player with money: its uid and wallet id.
struct Player {
    uid: i64,
    wallet: WalletId,
}

async fn funded_player(c: &mut Client, name: &str, amount: i64) -> Player {
    let login = c
        .post(
            "/service/jsonapi/user/login",
            json!({"identifier": name, "credential": "pw"}),
        )
        .await;
    let uid: i64 = login.data()["userId"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("userId");
    let wallet = login.data()["walletId"]
        .as_str()
        .expect("walletId")
        .to_owned();
    let body =
        json!({"walletId": wallet, "amount": amount, "transactionId": format!("fund-{name}")});
    c.post(DEPOSIT, body).await.data();
    Player {
        uid,
        wallet: WalletId(wallet.parse().expect("numeric")),
    }
}

fn bet(uid: i64, tx: &str, round: &str, amount: i64) -> Value {
    json!({"game_id": GAME, "round_id": round, "amount": amount, "uid": uid,
           "transaction_id": tx, "currency": "CNY"})
}

fn win(uid: i64, tx: &str, round: &str, amount: i64) -> Value {
    json!({"game_id": GAME, "round_id": round, "amount": amount, "uid": uid,
           "transaction_id": tx, "currency": "CNY"})
}

fn refund(uid: i64, bet_tx: &str, round: &str) -> Value {
    json!({"game_id": GAME, "round_id": round, "uid": uid, "currency": "CNY",
           "bet_transaction_id": bet_tx})
}

fn balance(uid: i64) -> Value {
    json!({"uid": uid, "currency": "CNY"})
}

fn available(engine: &Engine, wallet: WalletId) -> i64 {
    engine
        .balance(wallet)
        .expect("balance")
        .available
        .minor_units()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_gate_endpoint_answers_in_the_document_shape() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let p = funded_player(&mut c, "gate-golden", 100_000).await;
    let mut g = server.wallet().await;
    assert_wallet_golden(
        "gate_get_balance",
        &g.gate("/getBalance", balance(p.uid)).await,
    );
    let mut b = bet(p.uid, "b-1", "r-1", 4500);
    b["base_bet"] = json!(450);
    b["line"] = json!(10);
    b["multiple"] = json!(1);
    assert_wallet_golden("gate_bet", &g.gate("/bet", b.clone()).await);
    // A repeated bet is answered with the first one's outcome and moves nothing.
    assert_wallet_golden("gate_bet", &g.gate("/bet", b).await);
    let mut w = win(p.uid, "w-1", "r-1", 7600);
    w["base_win"] = json!(3800);
    w["bonus_win"] = json!(3800);
    assert_wallet_golden("gate_win", &g.gate("/win", w).await);
    g.gate("/bet", bet(p.uid, "b-2", "r-2", 1000)).await.data();
    assert_wallet_golden(
        "gate_refund",
        &g.gate("/refund", refund(p.uid, "b-2", "r-2")).await,
    );
    assert_eq!(available(&server.engine, p.wallet), 100_000 - 4500 + 7600);

    // The round played over the gate wrote its record, with the breakdown and meta.
    let records = server
        .engine
        .game_records(
            &channel("demo"),
            &RecordQuery {
                size: 100,
                ..RecordQuery::default()
            },
        )
        .expect("records")
        .records;
    let r1 = records
        .iter()
        .find(|r| r.round.as_str() == "r-1")
        .expect("record of r-1");
    assert_eq!(r1.total_bet, Amount::new(4500));
    assert_eq!(r1.bonus_win, Amount::new(3800));
    assert_eq!(r1.base_win, Amount::new(3800));
    assert_eq!(r1.meta.line, 10);
    assert_eq!(r1.meta.base_bet, 450);
    assert_eq!(r1.game.version.as_str(), "2025.03.05.0002");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_rounds_are_incomplete_games_and_score_in_tournaments() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let p = funded_player(&mut c, "gate-score", 10_000).await;
    let q = funded_player(&mut c, "gate-score-2", 10_000).await;
    let chan = channel("demo");
    let start = START_MS / 1000 + 60;
    let spec_json = json!({
        "version": "1.0", "name": "gate cup", "start": start, "end": start + 86_400,
        "rounds": [{"name": "r1", "start": start, "end": start + 86_400,
            "initial": {"type": "fixed", "value": 0},
            "prize": {"type": "credit", "top": 1, "tiers": [{"range": [1, 1], "value": 500}]},
            "strategy": {"type": 0, "rules": {
                "bet": {"enabled": true, "type": "rate", "rate": 1},
                "win": {"enabled": true, "type": "rate", "rate": 1}}}}]
    });
    let spec =
        pitboss::server::tournament_spec::parse(spec_json.to_string().as_bytes()).expect("spec");
    let info = server
        .engine
        .create_tournament(&chan, &spec)
        .expect("create");
    server
        .engine
        .bind_game(&chan, &info.summary.id, &GameId::new(GAME).expect("id"))
        .expect("bind");
    server.clock.advance_ms(120_000);
    let mut g = server.wallet().await;

    // An open round is an incomplete game (status 2).
    g.gate("/bet", bet(p.uid, "b-open", "r-open", 100))
        .await
        .data();
    let incomplete = server.engine.incomplete_games(&chan, None);
    assert_eq!(incomplete.len(), 1);
    assert_eq!(incomplete[0].round.as_str(), "r-open");
    assert_eq!(incomplete[0].bet_amount, Amount::new(100));

    // Closed rounds score: p bets 300 and wins 200 (500 points), q bets 100 wins 0.
    g.gate("/bet", bet(p.uid, "b-s", "r-s", 300)).await.data();
    g.gate("/win", win(p.uid, "w-s", "r-s", 200)).await.data();
    g.gate("/bet", bet(q.uid, "b-t", "r-t", 100)).await.data();
    g.gate("/win", win(q.uid, "w-t", "r-t", 0)).await.data();
    let ranks = server
        .engine
        .tournament_ranks(&chan, &info.summary.id, 1, page(0, 10))
        .expect("ranks");
    let scores: Vec<(String, i64)> = ranks
        .iter()
        .map(|r| (r.player.to_string(), r.score))
        .collect();
    let scale = pitboss::tournaments::scoring::SCORE_SCALE;
    assert_eq!(
        scores,
        vec![
            ("gate-score".to_owned(), 500 * scale),
            ("gate-score-2".to_owned(), 100 * scale)
        ]
    );
}

/// A gate call that must be refused with `code` and change nothing (the wallet's
/// balance stays; the final balance check shows no transaction id was consumed).
async fn refused(
    g: &mut WalletClient,
    engine: &Engine,
    wallet: WalletId,
    path: &str,
    params: Value,
    code: GateCode,
) -> WalletReply {
    let before = engine.balance(wallet).expect("balance");
    let reply = g.gate(path, params.clone()).await;
    assert_eq!(reply.code(), code.code(), "{path} {params}: {}", reply.body);
    assert_eq!(reply.status, 200);
    assert_eq!(engine.balance(wallet).expect("balance"), before, "{params}");
    check_error_shape(path, &reply);
    reply
}

/// Errors are `{success: false, code, error_tip}`, or `{code, msg, data}` for
/// `/getBalance`.
fn check_error_shape(path: &str, reply: &WalletReply) {
    let keys: Vec<&str> = reply
        .body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    if path == "/getBalance" {
        assert_eq!(keys, ["code", "msg", "data"]);
    } else {
        assert_eq!(keys, ["success", "code", "error_tip"]);
        let tip = reply.body["error_tip"].as_str().expect("tip");
        assert!(
            tip.starts_with(&format!("错误码：{}", reply.code())),
            "{tip}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_gate_failure_gets_its_code_and_changes_nothing() {
    let server = TestServer::start().await;
    let engine = server.engine.clone();
    let mut admin = server.client().await;
    let p = funded_player(&mut admin, "gate-errors", 10_000).await;
    let w = p.wallet;
    let mut g = server.wallet().await;
    use GateCode as C;

    // Authentication: bad sign, wrong app_key, stale timestamp, missing sign.
    let mut body: Value =
        serde_json::from_str(&g.gate_body(bet(p.uid, "x1", "rx", 10))).expect("json");
    body["sign"] = json!("0123456789abcdef0123456789abcdef");
    let reply = g
        .post_raw("/bet", vec![], body.to_string().as_bytes())
        .await;
    assert_eq!(reply.code(), C::BadSign.code());
    let mut other = bet(p.uid, "x1", "rx", 10);
    other["app_key"] = json!("not-an-app-key");
    refused(&mut g, &engine, w, "/bet", other, C::AppKey).await;
    let mut stale = bet(p.uid, "x1", "rx", 10);
    stale["timestamp"] = json!(START_MS / 1000 - 301);
    refused(&mut g, &engine, w, "/bet", stale, C::BadSign).await;
    let mut in_ms = bet(p.uid, "ms-ok", "r-ms", 10);
    in_ms["timestamp"] = json!(START_MS);
    g.gate("/bet", in_ms).await.data();
    let unsigned = json!({"app_key": g.app_key, "timestamp": START_MS / 1000, "uid": p.uid, "currency": "CNY"});
    let reply = g
        .post_raw("/getBalance", vec![], unsigned.to_string().as_bytes())
        .await;
    assert_eq!(reply.code(), C::MissingParam.code());
    check_error_shape("/getBalance", &reply);

    // Missing fields and wrong types.
    for field in [
        "game_id",
        "round_id",
        "amount",
        "uid",
        "transaction_id",
        "currency",
    ] {
        let mut b = bet(p.uid, "x2", "rx", 10);
        b.as_object_mut().expect("object").remove(field);
        refused(&mut g, &engine, w, "/bet", b, C::MissingParam).await;
    }
    let mut b = bet(p.uid, "x2", "rx", 10);
    b["uid"] = json!(p.uid.to_string());
    refused(&mut g, &engine, w, "/bet", b, C::BadData).await;
    let mut b = bet(p.uid, "x2", "rx", 10);
    b["transaction_id"] = json!(17);
    refused(&mut g, &engine, w, "/bet", b, C::BadData).await;
    let mut b = bet(p.uid, "x2", "rx", 10);
    b["line"] = json!("ten");
    refused(&mut g, &engine, w, "/bet", b, C::BadData).await;
    let mut b = bet(p.uid, "x2", "rx", 10);
    b["transaction_id"] = json!("t".repeat(121));
    refused(&mut g, &engine, w, "/bet", b, C::BadData).await;
    let mut b: Value =
        serde_json::from_str(&g.gate_body(bet(p.uid, "x2", "rx", 10))).expect("json");
    b["nested"] = json!({"a": 1});
    let reply = g.post_raw("/bet", vec![], b.to_string().as_bytes()).await;
    assert_eq!(reply.code(), C::BadData.code());
    let reply = g.post_raw("/bet", vec![], b"{not json").await;
    assert_eq!(reply.code(), C::InvalidData.code());
    let reply = g.post_raw("/win", vec![], b"[1,2]").await;
    assert_eq!(reply.code(), C::InvalidData.code());

    // Amounts: zero, negative, fractional, beyond 64 bits, beyond the balance.
    for amount in [json!(0), json!(-5), json!(4.5), json!(1e30)] {
        let mut b = bet(p.uid, "x3", "rx", 10);
        b["amount"] = amount;
        refused(&mut g, &engine, w, "/bet", b, C::BadAmount).await;
    }
    let mut b = bet(p.uid, "x3", "rx", 10);
    b["amount"] = serde_json::from_str("9223372036854775808").expect("u64");
    refused(&mut g, &engine, w, "/bet", b, C::BadAmount).await;
    refused(
        &mut g,
        &engine,
        w,
        "/win",
        win(p.uid, "x3", "r-ms", -1),
        C::BadAmount,
    )
    .await;
    refused(
        &mut g,
        &engine,
        w,
        "/bet",
        bet(p.uid, "x3", "rx", 10_001),
        C::InsufficientBalance,
    )
    .await;
    let mut b = win(p.uid, "x3", "r-ms", 10);
    b["base_win"] = json!(4);
    refused(&mut g, &engine, w, "/win", b, C::BadAmount).await;

    // Players, currencies and games.
    refused(
        &mut g,
        &engine,
        w,
        "/bet",
        bet(999_999, "x4", "rx", 10),
        C::UserNotFound,
    )
    .await;
    refused(
        &mut g,
        &engine,
        w,
        "/getBalance",
        balance(999_999),
        C::UserNotFound,
    )
    .await;
    let mut b = bet(p.uid, "x4", "rx", 10);
    b["currency"] = json!("USD");
    refused(&mut g, &engine, w, "/bet", b, C::Currency).await;
    let mut b = bet(p.uid, "x4", "rx", 10);
    b["game_id"] = json!("no_such_game");
    refused(&mut g, &engine, w, "/bet", b, C::GameNotFound).await;
    // A bet taken before its game is disabled is answered again as taken; a new
    // bet of the disabled game is refused.
    let mut taken = bet(p.uid, "x-mayan", "r-mayan", 10);
    taken["game_id"] = json!("slot_mayan");
    let first = g.gate("/bet", taken.clone()).await;
    first.data();
    engine
        .set_game_status(
            &GameId::new("slot_mayan").expect("id"),
            GameStatus::Disabled,
        )
        .expect("disable");
    let again = g.gate("/bet", taken).await;
    assert_eq!(again.body, first.body, "a repeated bet gets its outcome");
    let mut b = bet(p.uid, "x4", "rx", 10);
    b["game_id"] = json!("slot_mayan");
    refused(&mut g, &engine, w, "/bet", b, C::GameUnavailable).await;
    // A refund must name the bet's own round and game.
    let mut wrong_game = refund(p.uid, "x-mayan", "r-mayan");
    wrong_game["game_id"] = json!(GAME);
    for params in [refund(p.uid, "x-mayan", "r-other"), wrong_game] {
        refused(&mut g, &engine, w, "/refund", params, C::RoundId).await;
    }
    let mut right = refund(p.uid, "x-mayan", "r-mayan");
    right["game_id"] = json!("slot_mayan");
    g.gate("/refund", right).await.data();

    // Rounds: a win with no bet, a transaction id reused with other parameters.
    refused(
        &mut g,
        &engine,
        w,
        "/win",
        win(p.uid, "x5", "r-none", 10),
        C::RoundId,
    )
    .await;
    g.gate("/bet", bet(p.uid, "b1", "r1", 100)).await.data();
    refused(
        &mut g,
        &engine,
        w,
        "/bet",
        bet(p.uid, "b1", "r1", 101),
        C::BetFailed,
    )
    .await;
    refused(
        &mut g,
        &engine,
        w,
        "/bet",
        bet(p.uid, "b1", "r9", 100),
        C::BetFailed,
    )
    .await;

    // A win after a refund; a refund after a win.
    g.gate("/refund", refund(p.uid, "b1", "r1")).await.data();
    refused(
        &mut g,
        &engine,
        w,
        "/win",
        win(p.uid, "w1", "r1", 50),
        C::WinOrRefundFailed,
    )
    .await;
    g.gate("/bet", bet(p.uid, "b2", "r2", 100)).await.data();
    g.gate("/win", win(p.uid, "w2", "r2", 30)).await.data();
    refused(
        &mut g,
        &engine,
        w,
        "/refund",
        refund(p.uid, "b2", "r2"),
        C::WinOrRefundFailed,
    )
    .await;
    let mut kept = win(p.uid, "w3a", "r3", 5);
    g.gate("/bet", bet(p.uid, "b3", "r3", 100)).await.data();
    kept["end_round"] = json!(false);
    g.gate("/win", kept).await.data();
    refused(
        &mut g,
        &engine,
        w,
        "/refund",
        refund(p.uid, "b3", "r3"),
        C::WinOrRefundFailed,
    )
    .await;
    g.gate("/win", win(p.uid, "w3b", "r3", 5)).await.data();
    refused(
        &mut g,
        &engine,
        w,
        "/win",
        win(p.uid, "w3c", "r3", 5),
        C::WinOrRefundFailed,
    )
    .await;

    // A refund of an unknown bet: 20241004, and its tombstone refuses the late bet.
    refused(
        &mut g,
        &engine,
        w,
        "/refund",
        refund(p.uid, "late", "r-late"),
        C::BetNotFound,
    )
    .await;
    refused(
        &mut g,
        &engine,
        w,
        "/refund",
        refund(p.uid, "late", "r-late"),
        C::BetNotFound,
    )
    .await;
    refused(
        &mut g,
        &engine,
        w,
        "/bet",
        bet(p.uid, "late", "r-late", 10),
        C::BetFailed,
    )
    .await;
    // The refund of a deposit is no refund: that transaction is not a bet.
    refused(
        &mut g,
        &engine,
        w,
        "/refund",
        refund(p.uid, "fund-gate-errors", "r"),
        C::BetNotFound,
    )
    .await;

    // Another operator's player is not this operator's to play.
    let other = admin
        .admin(
            Method::POST,
            "/admin/operators",
            json!({"clientId": "op2", "channelId": "ch2", "password": "pw-op2"}),
        )
        .await;
    let creds: pitboss::server::admin::OperatorCredentials =
        serde_json::from_value(other.data().clone()).expect("credentials");
    let mut g2 = server.wallet_of(&creds).await;
    refused(
        &mut g2,
        &engine,
        w,
        "/bet",
        bet(p.uid, "x6", "rx", 10),
        C::NotThisSystem,
    )
    .await;
    refused(
        &mut g2,
        &engine,
        w,
        "/getBalance",
        balance(p.uid),
        C::NotThisSystem,
    )
    .await;

    // A wrong method is refused in the dialect's shape.
    let reply = g
        .http
        .send(Method::GET, "/bet", &[], Vec::new())
        .await
        .expect("request");
    assert_eq!(reply.status.as_u16(), 405);
    let body: Value = serde_json::from_slice(&reply.body).expect("json");
    assert_eq!(body["code"], json!(C::InvalidData.code()));

    // After all of it: exactly the accepted calls moved money.
    assert_eq!(available(&engine, w), 10_000 - 10 - 100 + 30 - 100 + 5 + 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_table_in_the_docs_matches_the_code() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/gate.md"))
        .expect("docs/gate.md");
    let documented: Vec<i64> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next()?.trim().parse().ok())
        .filter(|n: &i64| *n >= 20_240_000)
        .collect();
    let mut coded: Vec<i64> = GateCode::ALL.iter().map(|c| c.code()).collect();
    coded.sort_unstable();
    let mut documented_sorted = documented.clone();
    documented_sorted.sort_unstable();
    documented_sorted.dedup();
    assert_eq!(
        documented_sorted, coded,
        "docs/gate.md's code table vs GateCode"
    );
}
