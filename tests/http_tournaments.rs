//! The tournament endpoints of the Publisher Manual (§5) over real HTTP: a whole
//! tournament (create, bind, rounds played through the gate API, ranks, a player's
//! own rank, close with its prizes paid once, delete), every answer compared with its
//! golden file, and another operator seeing and touching none of it.

#[path = "common/http.rs"]
mod http;

use http::{assert_golden, Client, TestServer, START_MS};
use hyper::Method;
use pitboss::server::admin::OperatorCredentials;
use pitboss::*;
use serde_json::{json, Value};

const T: &str = "/service/jsonapi/tournament/";
const START: i64 = START_MS / 1000 + 60;

fn spec() -> Value {
    json!({
        "version": "1.0", "name": "gate cup", "start": START, "end": START + 86_400,
        "rounds": [{"name": "r1", "start": START, "end": START + 3_600,
            "initial": {"type": "fixed", "value": 0},
            "prize": {"type": "credit", "top": 2, "tiers": [
                {"range": [1, 1], "value": 1000}, {"range": [2, 2], "value": 300}]},
            "strategy": {"type": 0, "rules": {
                "bet": {"enabled": true, "type": "rate", "rate": 0.5},
                "win": {"enabled": true, "type": "rate", "rate": 1}}}}]
    })
}

/// Logs a player in and funds its wallet; its uid and wallet id.
async fn player(c: &mut Client, name: &str) -> (i64, WalletId) {
    let login = c
        .post(
            "/service/jsonapi/user/login",
            json!({"identifier": name, "credential": "pw"}),
        )
        .await;
    let uid = login.data()["userId"].as_str().and_then(|s| s.parse().ok());
    let wallet = login.data()["walletId"]
        .as_str()
        .expect("walletId")
        .to_owned();
    let body =
        json!({"walletId": wallet, "amount": 10_000, "transactionId": format!("fund-{name}")});
    c.post("/service/jsonapi/wallet/deposit", body).await.data();
    (
        uid.expect("uid"),
        WalletId(wallet.parse().expect("numeric")),
    )
}

async fn round(server: &TestServer, uid: i64, r: &str, bet: i64, win: i64) {
    let mut g = server.wallet().await;
    let base = json!({"uid": uid, "currency": "CNY", "game_id": "slot_alice", "round_id": r});
    let mut b = base.clone();
    b["transaction_id"] = json!(format!("{r}-bet"));
    b["amount"] = json!(bet);
    g.gate("/bet", b).await.data();
    let mut w = base;
    w["transaction_id"] = json!(format!("{r}-win"));
    w["amount"] = json!(win);
    g.gate("/win", w).await.data();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_tournament_over_http() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let created = c.post(&format!("{T}create"), spec()).await;
    let id = created.data()["tourneyId"].as_str().expect("id").to_owned();
    assert_golden("tournament_create", &created);
    // The spec names no currency: the tournament ranks the operator's default one.
    let channel = ChannelId::new(&server.demo.channel_id).expect("channel");
    let tourney = pitboss::ids::TourneyId::new(&id).expect("id");
    let info = server
        .engine
        .tournament_info(&channel, &tourney)
        .expect("info");
    assert_eq!(
        info.config.currency.as_ref().map(|c| c.as_str()),
        Some("CNY")
    );
    // The Manual's examples spell the id three ways; all are read.
    for key in ["tourneyId", "tournamentId", "tourney_id"] {
        let info = c.post(&format!("{T}info"), json!({ key: id })).await;
        assert_eq!(info.data()["tourneyId"], json!(id), "{key}");
    }
    let bind = json!({"tourney_id": id, "game_id": "slot_alice"});
    assert_golden("tournament_bind", &c.post(&format!("{T}bind"), bind).await);
    assert_golden(
        "tournament_list",
        &c.post(&format!("{T}list"), json!({"offset": -3, "limit": 10}))
            .await,
    );
    assert_golden(
        "tournament_info",
        &c.post(&format!("{T}info"), json!({"tourneyId": id})).await,
    );
    assert_golden(
        "tournament_games",
        &c.post(&format!("{T}games"), json!({})).await,
    );

    // Rounds played through the gate API score: alice 300 bet, 200 won → 350 points;
    // bob 100 bet, nothing won → 50.
    let (alice, alice_wallet) = player(&mut c, "alice").await;
    let (bob, bob_wallet) = player(&mut c, "bob").await;
    server.clock.advance_ms(120_000);
    round(&server, alice, "a1", 300, 200).await;
    round(&server, bob, "b1", 100, 0).await;
    let ranks = json!({"tourneyId": id, "currentRound": 1, "offset": 0, "limit": 10});
    let ranks = c.post(&format!("{T}ranks"), ranks).await;
    assert_golden("tournament_ranks", &ranks);
    let rank =
        json!({"tourneyId": id, "currentRound": 1, "userIdentity": "bob", "before": 1, "after": 1});
    let rank = c.post(&format!("{T}rank"), rank).await;
    let players: Vec<&str> = rank
        .data()
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["player"].as_str())
        .collect();
    assert_eq!(players, ["alice", "bob"]);
    let history = json!({"tourneyId": id, "currentRound": 1, "userIdentity": "alice"});
    let history = c.post(&format!("{T}history"), history).await;
    let steps = history.data()["steps"].as_array().expect("steps").clone();
    assert_eq!(steps.len(), 1, "{:?}", history.body);
    assert!(steps[0]["recordId"].as_u64().is_some());
    assert_eq!(history.data()["truncated"], json!(false));
    assert_eq!(steps[0]["score"], ranks.data()[0]["score"]);

    // Close: the prizes of the round are credited once, as prize transactions.
    let before = (
        server
            .engine
            .balance(alice_wallet)
            .expect("balance")
            .available,
        server
            .engine
            .balance(bob_wallet)
            .expect("balance")
            .available,
    );
    assert_golden(
        "tournament_close",
        &c.post(&format!("{T}close"), json!({"tourneyId": id})).await,
    );
    let after = (
        server
            .engine
            .balance(alice_wallet)
            .expect("balance")
            .available,
        server
            .engine
            .balance(bob_wallet)
            .expect("balance")
            .available,
    );
    assert_eq!(after.0.minor_units() - before.0.minor_units(), 1000);
    assert_eq!(after.1.minor_units() - before.1.minor_units(), 300);
    // Closing again (a retry) answers as before and pays nothing more.
    let again = c.post(&format!("{T}close"), json!({"tourneyId": id})).await;
    assert_eq!(again.code(), 0, "{}", again.body);
    server.engine.tick_tournaments().expect("tick");
    assert_eq!(
        server
            .engine
            .balance(alice_wallet)
            .expect("balance")
            .available,
        after.0,
        "paid once"
    );

    assert_golden(
        "tournament_delete",
        &c.post(&format!("{T}delete"), json!({"tourneyId": id}))
            .await,
    );
    assert_eq!(
        c.post(&format!("{T}info"), json!({"tourneyId": id}))
            .await
            .code(),
        6
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_operator_neither_sees_nor_touches_a_tournament() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let id = c.post(&format!("{T}create"), spec()).await.data()["tourneyId"]
        .as_str()
        .expect("id")
        .to_owned();
    let created = c
        .admin(
            Method::POST,
            "/admin/operators",
            json!({"clientId": "op2", "channelId": "ch2", "password": "pw-op2"}),
        )
        .await;
    let creds: OperatorCredentials = serde_json::from_value(created.data().clone()).expect("creds");
    let mut other = server.client_of(creds).await;
    assert_eq!(
        other.post(&format!("{T}list"), json!({})).await.data(),
        &json!([])
    );
    assert_eq!(
        other.post(&format!("{T}games"), json!({})).await.data(),
        &json!([])
    );
    let by_id = json!({"tourneyId": id});
    for path in ["info", "close", "delete"] {
        let reply = other.post(&format!("{T}{path}"), by_id.clone()).await;
        assert_eq!(reply.code(), 6, "{path}: {}", reply.body);
    }
    let bind = json!({"tourneyId": id, "gameId": "slot_alice"});
    assert_eq!(
        other.post(&format!("{T}bind"), bind.clone()).await.code(),
        6
    );
    assert_eq!(other.post(&format!("{T}unbind"), bind).await.code(), 6);
    let ranks = json!({"tourneyId": id, "currentRound": 1});
    assert_eq!(other.post(&format!("{T}ranks"), ranks).await.code(), 6);
    // The owner still sees it whole.
    let info = c.post(&format!("{T}info"), json!({"tourneyId": id})).await;
    assert_eq!(info.data()["status"], json!(0));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_tournament_requests_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let mut overlapping = spec();
    overlapping["rounds"] = json!([spec()["rounds"][0].clone(), spec()["rounds"][0].clone()]);
    let mut outside = spec();
    outside["rounds"][0]["end"] = json!(START + 90_000);
    let mut rate = spec();
    rate["rounds"][0]["strategy"]["rules"]["bet"]["rate"] = json!(1.5);
    let mut gap = spec();
    gap["rounds"][0]["prize"]["tiers"][1]["range"] = json!([3, 3]);
    let mut based = spec();
    based["rounds"][0]["initial"] =
        json!({"type": "based", "value": 0, "tiers": [{"range": [1, 1], "value": 5}]});
    let cases = [
        ("rounds overlap", overlapping),
        ("a round outside the tournament", outside),
        ("a rate above 1", rate),
        ("prize ranges not continuous", gap),
        ("based initial score in the first round", based),
        ("not a spec", json!({"name": "x"})),
    ];
    for (what, body) in cases {
        let reply = c.post(&format!("{T}create"), body).await;
        assert_eq!(reply.code(), 1, "{what}: {}", reply.body);
    }
    assert_eq!(
        c.post(&format!("{T}list"), json!({})).await.data(),
        &json!([])
    );
    let too_many = c.post(&format!("{T}list"), json!({"limit": 1001})).await;
    assert_eq!(too_many.code(), 1);
    let unknown = json!({"tourneyId": "no-such-tournament", "gameId": "slot_alice"});
    assert_eq!(c.post(&format!("{T}bind"), unknown).await.code(), 6);
    let id = c.post(&format!("{T}create"), spec()).await.data()["tourneyId"]
        .as_str()
        .expect("id")
        .to_owned();
    let no_game = json!({"tourneyId": id, "gameId": "no_such_game"});
    assert_eq!(c.post(&format!("{T}bind"), no_game).await.code(), 6);
    let twice = json!({"tourneyId": id, "tournamentId": id});
    assert_eq!(
        c.post(&format!("{T}info"), twice).await.code(),
        1,
        "the id given twice"
    );
    server.stop().await;
}
