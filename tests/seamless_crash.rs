//! Seamless calls across a SIGKILL of the platform, over real HTTP: the real `pitboss`
//! binary (`--fsync always`) is the platform of a seamless operator whose wallet is a
//! pitboss in this process (gate, then bank dialect). Game servers play rounds through
//! the platform's gate endpoints; the platform is killed while calls are in flight and
//! started again on the same data directory. Every unfinished call resumes (a bet
//! without an outcome is rolled back, a win is sent again with its id), and once none
//! is left the reconciliation invariant of docs/seamless.md holds for every transaction id.
//!
//! `PITBOSS_SEAMLESS_CRASH_CYCLES=N` kills and restarts N times per dialect (default 1).

#[path = "common/http.rs"]
mod http;
#[path = "common/real.rs"]
mod real;
#[path = "common/wallet.rs"]
mod wallet;

use hyper::Method;
use parking_lot::Mutex;
use pitboss::identity::types::WalletDialect;
use pitboss::server::admin::OperatorCredentials;
use pitboss::server::demo;
use pitboss::*;
use real::{start, Operator};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wallet::{Sent, Sides, WalletServer};

const GAME: &str = "slot_alice";
const PLAYERS: usize = 4;
const FUNDS: i64 = 1_000_000;

async fn crash_cycles(dialect: WalletDialect) {
    let cycles: usize = std::env::var("PITBOSS_SEAMLESS_CRASH_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let wallet_dir = tempfile::tempdir().expect("tempdir");
    let platform_dir = tempfile::tempdir().expect("tempdir");
    let mut wallet = WalletServer::start(wallet_dir.path(), Arc::new(SystemClock)).await;
    demo::register_seed_games(&wallet.engine).expect("games");
    let wallet_op = demo::create_demo_operator(&wallet.engine)
        .expect("operator")
        .expect("new");
    let mut server = start(platform_dir.path());
    let creds: OperatorCredentials = serde_json::from_slice(
        &std::fs::read(platform_dir.path().join("demo-operator.json")).expect("credentials"),
    )
    .expect("credentials");
    // The wallet checks the platform operator's signatures; the platform calls it.
    let wallet_client = ClientId::new(&wallet_op.client_id).expect("client");
    wallet
        .engine
        .set_operator_wallet_keys_pending(&wallet_client, &creds.app_key, &creds.app_secret)
        .wait()
        .expect("keys");
    let mut op = Operator::connect(&server.url, &creds).await;
    let dialect_name = match dialect {
        WalletDialect::Gate => "gate",
        WalletDialect::Bank => "bank",
    };
    op.admin(
        platform_dir.path(),
        Method::POST,
        "/admin/operators/wallet",
        json!({"clientId": creds.client_id, "walletMode": "seamless",
               "walletDialect": dialect_name, "walletUrl": wallet.url()}),
    )
    .await;
    let wallet_operator = wallet.engine.operator(&wallet_client).expect("operator");
    let mut uids = Vec::new();
    for i in 0..PLAYERS {
        let name = format!("p{i}");
        let remote_uid = wallet::funded_player(&wallet.engine, &wallet_operator, &name, FUNDS);
        let login = op
            .call(
                "user/login",
                json!({"identifier": name, "credential": "pw"}),
            )
            .await;
        assert_eq!(login["walletBalance"], json!(FUNDS));
        let uid: i64 = login["userId"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("uid");
        assert_eq!(uid as u64, remote_uid, "same uids on both sides");
        uids.push(uid);
    }
    let sent: Arc<Mutex<Vec<Sent>>> = Arc::new(Mutex::new(vec![Sent::default(); PLAYERS]));
    for cycle in 0..cycles {
        // One game server per player, playing rounds until the platform dies.
        let mut games = Vec::new();
        for (p, uid) in uids.iter().copied().enumerate() {
            let (url, creds, sent) = (server.url.clone(), creds.clone(), sent.clone());
            games.push(tokio::spawn(async move {
                let mut gs = Operator::connect(&url, &creds).await;
                for n in 0.. {
                    let (bet, win) = (format!("c{cycle}p{p}b{n}"), format!("c{cycle}p{p}w{n}"));
                    let round = format!("c{cycle}p{p}r{n}");
                    sent.lock()[p].bets.push(bet.clone());
                    let params = json!({"game_id": GAME, "round_id": round, "amount": 7,
                        "uid": uid, "transaction_id": bet, "currency": "CNY"});
                    if gs.try_gate("/bet", params).await.is_none() {
                        return n;
                    }
                    sent.lock()[p].wins.push(win.clone());
                    let params = json!({"game_id": GAME, "round_id": round, "amount": 5,
                        "uid": uid, "transaction_id": win, "currency": "CNY"});
                    if gs.try_gate("/win", params).await.is_none() {
                        return n;
                    }
                }
                unreachable!()
            }));
        }
        tokio::time::sleep(Duration::from_millis(300 + 97 * cycle as u64 % 400)).await;
        server.child.kill().expect("SIGKILL");
        server.child.wait().expect("reaped");
        let mut played = 0;
        for g in games {
            played += g.await.expect("game server");
        }
        eprintln!("{dialect_name} cycle {cycle}: killed after {played} rounds");
        server = start(platform_dir.path());
        let mut admin = Operator::connect(&server.url, &creds).await;
        // Every unfinished call resumes: rollbacks trust "no such bet" from their
        // third attempt (about 7 s), so allow a minute.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut first = None;
        loop {
            let status = admin
                .admin(
                    platform_dir.path(),
                    Method::GET,
                    "/admin/seamless",
                    json!(null),
                )
                .await;
            first.get_or_insert_with(|| status["unfinished"].clone());
            if status["unfinished"] == json!(0) {
                eprintln!("{dialect_name} cycle {cycle}: {first:?} calls unfinished at restart");
                break;
            }
            assert!(Instant::now() < deadline, "calls never finished: {status}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // Inspect the platform's data directory in this process once it is down.
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
    let platform = Engine::open(platform_dir.path(), http::engine_config()).expect("reopen");
    let names: Vec<(String, Sent)> = sent
        .lock()
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("p{i}"), s.clone()))
        .collect();
    let sides = Sides {
        platform: &platform,
        platform_channel: &ChannelId::new(&creds.channel_id).expect("channel"),
        wallet: &wallet.engine,
        wallet_channel: &ChannelId::new(&wallet_op.channel_id).expect("channel"),
    };
    sides.assert_reconciled(dialect_name, &names, FUNDS);
    wallet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_calls_resume_after_a_kill() {
    crash_cycles(WalletDialect::Gate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_calls_resume_after_a_kill() {
    crash_cycles(WalletDialect::Bank).await;
}
