//! A tournament's payout across a SIGKILL, over real HTTP against the real `pitboss`
//! binary: players play gate rounds, the operator closes the tournament, and the server
//! is killed at a random moment while it pays the prizes. After a restart, closing again
//! (a retry) finishes the payout, and every player has received its prize exactly once:
//! each balance equals its deposits, bets, wins and prizes, counted by this test.
//!
//! Several cycles, each with a new tournament over the same players, kill the server at
//! moments spread over the close request's life, so that kills land before and after
//! the payout (`--nocapture` shows how far each got). The payout appends its credits one
//! by one and waits for them once, so on a fast disk they usually become durable in one
//! group commit and a kill between two of them is rare here; a crash after every
//! possible prefix of a payout's effects is what `tests/tournament_recovery.rs`
//! (`a_crash_inside_a_payout_pays_each_winner_once`) checks. `PITBOSS_TOURNAMENT_CRASH_CYCLES`
//! sets the number of cycles (default 4; `PITBOSS_TOURNAMENT_CRASH_CYCLES=200 cargo test
//! --release --test http_tournament_crash -- --nocapture` for a long run).

#[path = "common/real.rs"]
mod real;

use hyper::Method;
use pitboss::server::admin::OperatorCredentials;
use pitboss::server::auth;
use real::{now_secs, start, Operator};
use serde_json::{json, Value};
use std::time::Duration;

const PLAYERS: usize = 12;
/// Every rank up to `PLAYERS` wins `PRIZE`.
const PRIZE: i64 = 100;

fn spec(start: i64) -> Value {
    json!({
        "version": "1.0", "name": "crash cup", "start": start, "end": start + 86_400,
        "rounds": [{"name": "r1", "start": start, "end": start + 3_600,
            "initial": {"type": "fixed", "value": 0},
            "prize": {"type": "credit", "top": PLAYERS,
                      "tiers": [{"range": [1, PLAYERS], "value": PRIZE}]},
            "strategy": {"type": 0, "rules": {
                "bet": {"enabled": true, "type": "rate", "rate": 1}}}}]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prizes_are_paid_exactly_once_across_a_kill_mid_payout() {
    let cycles: usize = std::env::var("PITBOSS_TOURNAMENT_CRASH_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(4);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start(dir.path());
    let creds: OperatorCredentials = serde_json::from_slice(
        &std::fs::read(dir.path().join("demo-operator.json")).expect("demo credentials"),
    )
    .expect("credentials");
    let mut op = Operator::connect(&server.url, &creds).await;
    // Players, funded; `expected` counts every cent this test moves.
    let mut uids = Vec::new();
    let mut expected = [0i64; PLAYERS];
    for (i, owed) in expected.iter_mut().enumerate() {
        let login = op
            .call(
                "user/login",
                json!({"identifier": format!("p{i}"), "credential": "pw"}),
            )
            .await;
        let wallet = login["walletId"].as_str().expect("wallet").to_owned();
        uids.push(
            login["userId"]
                .as_str()
                .and_then(|s| s.parse::<i64>().ok())
                .expect("uid"),
        );
        let deposit =
            json!({"walletId": wallet, "amount": 100_000, "transactionId": format!("fund-{i}")});
        op.call("wallet/deposit", deposit).await;
        *owed += 100_000;
    }
    for cycle in 0..cycles {
        let start_at = now_secs() + 1;
        let t = op.call("tournament/create", spec(start_at)).await;
        let id = t["tourneyId"].as_str().expect("id").to_owned();
        op.call(
            "tournament/bind",
            json!({"tourneyId": id, "gameId": "slot_alice"}),
        )
        .await;
        while now_secs() < start_at {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for (i, uid) in uids.iter().enumerate() {
            let round = format!("c{cycle}-p{i}");
            let base =
                json!({"uid": uid, "currency": "CNY", "game_id": "slot_alice", "round_id": round});
            let mut bet = base.clone();
            bet["transaction_id"] = json!(format!("{round}-bet"));
            bet["amount"] = json!(10 + i as i64);
            op.gate("/bet", bet).await;
            let mut win = base;
            win["transaction_id"] = json!(format!("{round}-win"));
            win["amount"] = json!(3);
            op.gate("/win", win).await;
            expected[i] += -(10 + i as i64) + 3 + PRIZE;
        }
        // Close on its own connection, and kill the server a moment later: the cycles
        // spread their kills evenly over 0 to 1.6 ms after the close is sent, around the
        // moment the payout runs (its credits are appended one by one and waited for
        // once: a window well under a millisecond), so more cycles probe it more finely.
        let delay_us = cycle as u64 * 1_600 / cycles as u64;
        let signed_close = {
            let url = server.url.clone();
            let creds = creds.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let mut c = Operator::connect(&url, &creds).await;
                let ts = now_secs().to_string();
                let nonce = format!("close-{cycle}-{}", std::process::id());
                let h = auth::signed_headers(&creds.client_id, &creds.api_key, &ts, &nonce)
                    .expect("headers");
                let body = json!({"tourneyId": id}).to_string().into_bytes();
                let _ = c
                    .http
                    .send(Method::POST, "/service/jsonapi/tournament/close", &h, body)
                    .await;
            })
        };
        // A thread sleep: finer than tokio's millisecond timer.
        std::thread::sleep(Duration::from_micros(delay_us));
        server.child.kill().expect("SIGKILL");
        let _ = server.child.wait();
        let _ = signed_close.await;

        server = start(dir.path());
        op = Operator::connect(&server.url, &creds).await;
        // How far the payout got before the kill (shown with --nocapture).
        let mut paid = 0;
        for (i, owed) in expected.iter().enumerate() {
            if op.balance(&format!("p{i}")).await == *owed {
                paid += 1;
            }
        }
        eprintln!("cycle {cycle}: killed after {delay_us} µs; {paid} of {PLAYERS} prizes paid");
        // A retry of the close finishes whatever payout the kill interrupted.
        op.call("tournament/close", json!({"tourneyId": id})).await;
        for (i, owed) in expected.iter().enumerate() {
            let balance = op.balance(&format!("p{i}")).await;
            assert_eq!(
                balance, *owed,
                "cycle {cycle}, player p{i}: every prize exactly once"
            );
        }
    }
    let _ = server.child.kill();
    let _ = server.child.wait();
}
