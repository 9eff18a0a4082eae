//! Seamless mode over real HTTP (docs/seamless.md): a platform server whose operator keeps
//! its players' money in its own wallet, and that wallet played by a second pitboss
//! (transfer mode, serving the gate or bank dialect, on a data directory so that it
//! can be restarted) behind a fault-injecting proxy written here. The proxy drops
//! requests, applies a call and then drops its answer, delays a call past the
//! platform's time limit, answers 502 or "in progress", and restarts the wallet.
//!
//! Game servers play concurrently, one per player. After every schedule, with the
//! faults off and the retries run out, the reconciliation invariant holds for every
//! transaction id: a bet is kept on one side
//! exactly when it is kept on the other (never taken twice, never refunded without
//! having happened), a win is paid on one side exactly when on the other, and the
//! wallet's balance is what the platform's rounds say it must be.
//!
//! `SEAMLESS_SCHEDULES=N` runs N schedules per dialect (default 2), each from its own
//! seed (printed on failure).

#[path = "common/http.rs"]
mod http;
#[path = "common/wallet.rs"]
mod wallet;

use http::{TestServer, START_MS};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use pitboss::identity::types::{RemoteWallet, WalletDialect, WalletMode};
use pitboss::server::demo;
use pitboss::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use wallet::{Sent, WalletServer};

const GAME: &str = "slot_alice";
const FUNDS: i64 = 10_000;
const PLAYERS: usize = 3;
/// Rounds each player's game server plays in a fault schedule.
const ROUNDS_PER_PLAYER: usize = 12;
/// The platform's time limit per outbound call in these tests.
const CALL_TIMEOUT: Duration = Duration::from_millis(400);

// --- the fault-injecting proxy ------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    /// The request never reaches the wallet; the connection closes.
    DropRequest,
    /// The wallet applies the call; its answer is lost.
    DropAnswer,
    /// The call reaches the wallet after the platform gave up on it.
    Delay,
    /// HTTP 502 without reaching the wallet.
    BadGateway,
    /// The dialect's "in progress" / system error, without reaching the wallet.
    InProgress,
}

struct ProxyState {
    target: SocketAddr,
    /// Per cent of calls that meet a fault.
    rate: u64,
    /// When set, every call meets this fault instead.
    forced: Option<Fault>,
    rng: u64,
    dialect: WalletDialect,
    faults_seen: usize,
}

impl ProxyState {
    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic from the schedule's seed.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn fault(&mut self) -> Fault {
        if let Some(fault) = self.forced {
            return fault;
        }
        if self.next() % 100 >= self.rate {
            return Fault::None;
        }
        self.faults_seen += 1;
        match self.next() % 5 {
            0 => Fault::DropRequest,
            1 => Fault::DropAnswer,
            2 => Fault::Delay,
            3 => Fault::BadGateway,
            _ => Fault::InProgress,
        }
    }
}

type Proxy = Arc<Mutex<ProxyState>>;

async fn start_proxy(state: Proxy) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client: HyperClient<HttpConnector, Full<Bytes>> =
        HyperClient::builder(TokioExecutor::new()).build(HttpConnector::new());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (state, client) = (state.clone(), client.clone());
            let service = service_fn(move |req| forward(state.clone(), client.clone(), req));
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dropped by the proxy")
    }
}

impl std::error::Error for Dropped {}

async fn forward(
    state: Proxy,
    client: HyperClient<HttpConnector, Full<Bytes>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (fault, target, dialect) = {
        let mut s = state.lock();
        (s.fault(), s.target, s.dialect)
    };
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    match fault {
        Fault::DropRequest => return Err(Dropped),
        Fault::BadGateway => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"bad gateway")));
            *r.status_mut() = hyper::StatusCode::BAD_GATEWAY;
            return Ok(r);
        }
        Fault::InProgress => {
            let body = match dialect {
                WalletDialect::Bank => json!({"traceId": "t", "code": 100003,
                    "message": "Trading in progress", "path": parts.uri.path(), "timestamp": ""}),
                WalletDialect::Gate => {
                    json!({"success": false, "code": 20241002, "error_tip": "系统错误"})
                }
            };
            return Ok(Response::new(Full::new(Bytes::from(body.to_string()))));
        }
        Fault::Delay => tokio::time::sleep(CALL_TIMEOUT + Duration::from_millis(150)).await,
        Fault::None | Fault::DropAnswer => {}
    }
    let mut out = Request::builder()
        .method(parts.method.clone())
        .uri(format!("http://{target}{}", parts.uri.path()));
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST {
            out = out.header(name, value);
        }
    }
    let out = out.body(Full::new(body)).map_err(|_| Dropped)?;
    let answer = client.request(out).await.map_err(|_| Dropped)?;
    let status = answer.status();
    let bytes = answer
        .into_body()
        .collect()
        .await
        .map_err(|_| Dropped)?
        .to_bytes();
    if fault == Fault::DropAnswer {
        return Err(Dropped);
    }
    let mut r = Response::new(Full::new(bytes));
    *r.status_mut() = status;
    Ok(r)
}

// --- the schedule ---------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn uid_of(login: &Value) -> i64 {
    login["userId"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("userId")
}

/// A platform whose demo operator is seamless, its wallet behind the proxy (faults
/// off), and `PLAYERS` players registered on both sides and funded in the wallet.
struct Fixture {
    _dir: tempfile::TempDir,
    platform: TestServer,
    wallet: WalletServer,
    wallet_clock: Arc<ManualClock>,
    wallet_op: pitboss::server::admin::OperatorCredentials,
    proxy: Proxy,
    players: Vec<(String, i64, Sent)>,
    /// The platform API client of the setup (its nonces continue).
    api: http::Client,
}

impl Fixture {
    async fn new(dialect: WalletDialect, seed: u64) -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let platform = TestServer::start_with(|c| {
            c.outbound.timeout = CALL_TIMEOUT;
            c.seamless_retry_interval = Duration::from_millis(20);
        })
        .await;
        // The wallet shares the platform's time: both check each other's timestamps.
        let wallet_clock = Arc::new(ManualClock::new(START_MS));
        let wallet = WalletServer::start(tmp.path(), wallet_clock.clone()).await;
        demo::register_seed_games(&wallet.engine).expect("games");
        let wallet_op = demo::create_demo_operator(&wallet.engine)
            .expect("operator")
            .expect("new");
        // The wallet checks the platform's signatures: the platform operator's keys.
        let client = ClientId::new(&wallet_op.client_id).expect("client");
        wallet
            .engine
            .set_operator_wallet_keys_pending(
                &client,
                &platform.demo.app_key,
                &platform.demo.app_secret,
            )
            .wait()
            .expect("keys");
        let proxy = Arc::new(Mutex::new(ProxyState {
            target: wallet.addr,
            rate: 0,
            forced: None,
            rng: seed | 1,
            dialect,
            faults_seen: 0,
        }));
        let proxy_addr = start_proxy(proxy.clone()).await;
        let platform_client = ClientId::new(&platform.demo.client_id).expect("client");
        let remote = RemoteWallet::new(dialect, &format!("http://{proxy_addr}")).expect("url");
        platform
            .engine
            .set_operator_wallet(&platform_client, WalletMode::Seamless, Some(remote))
            .expect("seamless");

        // Players, registered in the same order on both sides (the gate dialect names
        // a player by the platform's uid), funded in the wallet.
        let mut api = platform.client().await;
        let wallet_operator = wallet.engine.operator(&client).expect("operator");
        let mut players = Vec::new();
        for i in 0..PLAYERS {
            let name = format!("player-{i}");
            let remote_uid = wallet::funded_player(&wallet.engine, &wallet_operator, &name, FUNDS);
            let login = api
                .post(
                    "/service/jsonapi/user/login",
                    json!({"identifier": name, "credential": "pw"}),
                )
                .await;
            assert_eq!(
                login.data()["walletBalance"],
                json!(FUNDS),
                "from the wallet"
            );
            let uid = uid_of(login.data());
            assert_eq!(uid as u64, remote_uid, "same uids");
            if i == 0 {
                // The transfer endpoints refuse a seamless player's wallet (code 9).
                let w = login.data()["walletId"]
                    .as_str()
                    .expect("walletId")
                    .to_owned();
                let refused = [
                    ("/service/jsonapi/wallet/query", json!({"walletId": w})),
                    (
                        "/service/jsonapi/wallet/deposit",
                        json!({"walletId": w, "amount": 5, "transactionId": "t"}),
                    ),
                    (
                        "/service/jsonapi/wallet/withdraw",
                        json!({"walletId": w, "type": 0, "transactionId": "t"}),
                    ),
                ];
                for (path, body) in refused {
                    assert_eq!(api.post(path, body).await.code(), 9, "{path}");
                }
            }
            players.push((name, uid, Sent::default()));
        }
        Fixture {
            _dir: tmp,
            platform,
            wallet,
            wallet_clock,
            wallet_op,
            proxy,
            players,
            api,
        }
    }

    /// Runs both clocks ahead (in steps well inside the 300 s timestamp window: a
    /// retry may be signed between the two advances) until no call is unfinished.
    async fn run_retries_out(&self, label: &str) {
        let mut rounds = 0;
        while self.platform.engine.seamless_calls_unfinished() > 0 {
            rounds += 1;
            assert!(
                rounds < 200,
                "{label}: {} calls still unfinished",
                self.platform.engine.seamless_calls_unfinished()
            );
            for _ in 0..3 {
                self.platform.clock.advance_ms(101_000);
                self.wallet_clock.advance_ms(101_000);
            }
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
    }

    fn sides(&self) -> (ChannelId, ChannelId) {
        (
            ChannelId::new(&self.platform.demo.channel_id).expect("channel"),
            ChannelId::new(&self.wallet_op.channel_id).expect("channel"),
        )
    }
}

async fn run_schedule(dialect: WalletDialect, seed: u64) {
    let mut f = Fixture::new(dialect, seed).await;
    // The schedule: one game server per player, all at once, each playing rounds of
    // a bet and then a win or a refund through the platform's gate endpoints, with a
    // fault on about a third of the wallet calls, while the wallet restarts now and
    // then.
    f.proxy.lock().rate = 35;
    let mut games = Vec::new();
    for p in 0..PLAYERS {
        let mut gate = f.platform.wallet().await;
        let uid = f.players[p].1;
        let mut rng = Rng((seed ^ (p as u64 + 1)).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        games.push(tokio::spawn(async move {
            let mut sent = Sent::default();
            for n in 0..ROUNDS_PER_PLAYER {
                let round = format!("p{p}r{n}");
                let bet_tx = format!("p{p}b{n}");
                let amount = 1 + rng.below(400) as i64;
                sent.bets.push(bet_tx.clone());
                let bet = json!({"game_id": GAME, "round_id": round, "amount": amount,
                                 "uid": uid, "transaction_id": bet_tx, "currency": "CNY"});
                gate.gate("/bet", bet).await;
                if rng.below(5) == 0 {
                    let refund = json!({"game_id": GAME, "round_id": round, "uid": uid,
                                        "currency": "CNY", "bet_transaction_id": bet_tx});
                    gate.gate("/refund", refund).await;
                } else {
                    let win_tx = format!("p{p}w{n}");
                    sent.wins.push(win_tx.clone());
                    let win = json!({"game_id": GAME, "round_id": round,
                                     "amount": rng.below(600), "uid": uid,
                                     "transaction_id": win_tx, "currency": "CNY"});
                    gate.gate("/win", win).await;
                }
            }
            sent
        }));
    }
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1);
    let mut restarts = 0;
    while restarts < 2 && !games.iter().all(|g| g.is_finished()) {
        tokio::time::sleep(Duration::from_millis(100 + rng.below(400))).await;
        f.wallet.restart().await;
        f.proxy.lock().target = f.wallet.addr;
        restarts += 1;
    }
    for (p, game) in games.into_iter().enumerate() {
        f.players[p].2 = game.await.expect("game server");
    }

    // Faults off; calls delayed by the proxy land first. Then the clocks run ahead
    // (both: each side checks the other's timestamps) until every call is final.
    f.proxy.lock().rate = 0;
    tokio::time::sleep(CALL_TIMEOUT * 2).await;
    f.run_retries_out(&format!("seed {seed}")).await;

    // The reconciliation invariant, per transaction id, then per f.wallet.
    let (channel_p, channel_w) = f.sides();
    let sent: Vec<_> = f
        .players
        .iter()
        .map(|(name, _, sent)| (name.clone(), sent.clone()))
        .collect();
    let sides = wallet::Sides {
        platform: &f.platform.engine,
        platform_channel: &channel_p,
        wallet: &f.wallet.engine,
        wallet_channel: &channel_w,
    };
    sides.assert_reconciled(&format!("seed {seed}"), &sent, FUNDS);
    // Nothing is left open on the platform, and both sides' invariants hold.
    assert!(
        f.platform
            .engine
            .incomplete_games(&channel_p, None)
            .is_empty(),
        "seed {seed}: {:?}",
        f.platform.engine.incomplete_games(&channel_p, None)
    );
    let faults = f.proxy.lock().faults_seen;
    assert!(faults > 0, "seed {seed}: the schedule met no fault");
    eprintln!("seed {seed} ({dialect:?}): {faults} faults, {restarts} wallet restarts");
    f.wallet.stop().await;
    f.platform.stop().await;
}

fn schedules() -> u64 {
    std::env::var("SEAMLESS_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_wallet_under_faults_reconciles() {
    for i in 0..schedules() {
        run_schedule(WalletDialect::Gate, 0x5EED_0000 + i).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_wallet_under_faults_reconciles() {
    for i in 0..schedules() {
        run_schedule(WalletDialect::Bank, 0xB4_4C00 + i).await;
    }
}

/// A wallet that accepts connections and never answers.
async fn black_hole() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// A seamless operator whose wallet never answers: its calls are bounded (past the
/// bound a bet is refused at once, and the table of unfinished calls never grows
/// past its limit), and a transfer-mode operator's rounds on the same server go on
/// without waiting for any of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_wallet_is_bounded_and_holds_up_no_one_else() {
    const BOUND: usize = 16;
    let mut config = http::engine_config();
    config.seamless.max_calls_per_channel = BOUND;
    let platform = TestServer::start_custom(config, |c| {
        c.outbound.timeout = Duration::from_secs(2);
        c.seamless_retry_interval = Duration::from_millis(20);
    })
    .await;
    let engine = &platform.engine;
    let stalled = engine
        .create_operator(pitboss::identity::types::NewOperator {
            client_id: ClientId::new("stalled").expect("id"),
            channel: ChannelId::new("stalled-brand").expect("id"),
            currencies: vec![Currency::new("CNY").expect("currency")],
            wallet_mode: WalletMode::Seamless,
            password: "a password".into(),
        })
        .expect("operator");
    let hole = black_hole().await;
    let remote = RemoteWallet::new(WalletDialect::Gate, &format!("http://{hole}")).expect("url");
    engine
        .set_operator_wallet(&stalled.client_id, WalletMode::Seamless, Some(remote))
        .expect("seamless");
    let stalled_player = engine
        .login_player(&stalled, &PlayerId::new("stuck").expect("id"), "pw")
        .expect("login");
    let stuck_uid = stalled_player.login.player.uid.0;

    // The transfer-mode demo operator's player, funded.
    let mut api = platform.client().await;
    let login = api
        .post(
            "/service/jsonapi/user/login",
            json!({"identifier": "free", "credential": "pw"}),
        )
        .await;
    let free_uid = uid_of(login.data());
    let wallet_id = login.data()["walletId"].as_str().expect("id").to_owned();
    api.post(
        "/service/jsonapi/wallet/deposit",
        json!({"walletId": wallet_id, "amount": 1_000_000, "transactionId": "fund"}),
    )
    .await
    .data();

    // 64 bets at once against the dead wallet, each on its own connection.
    let creds = pitboss::server::admin::OperatorCredentials::of(&stalled, None);
    let mut storm = Vec::new();
    for i in 0..64 {
        let client = platform.wallet_of(&creds).await;
        storm.push(tokio::spawn(async move {
            let mut client = client;
            let started = std::time::Instant::now();
            let bet = json!({"game_id": GAME, "round_id": format!("s{i}"), "amount": 1,
                             "uid": stuck_uid, "transaction_id": format!("s{i}"),
                             "currency": "CNY"});
            let reply = client.gate("/bet", bet).await;
            (reply.code(), reply.body.to_string(), started.elapsed())
        }));
    }
    // Meanwhile the transfer operator plays: no call waits on the dead wallet.
    let mut gate = platform.wallet().await;
    let mut slowest = Duration::ZERO;
    for n in 0..100 {
        let started = std::time::Instant::now();
        let bet = json!({"game_id": GAME, "round_id": format!("f{n}"), "amount": 3,
                         "uid": free_uid, "transaction_id": format!("fb{n}"), "currency": "CNY"});
        assert_eq!(gate.gate("/bet", bet).await.code(), 0);
        let win = json!({"game_id": GAME, "round_id": format!("f{n}"), "amount": 1,
                         "uid": free_uid, "transaction_id": format!("fw{n}"), "currency": "CNY"});
        assert_eq!(gate.gate("/win", win).await.code(), 0);
        slowest = slowest.max(started.elapsed());
        assert!(
            engine.seamless_calls_unfinished() <= BOUND,
            "the table passed its bound"
        );
    }
    // Far below the dead wallet's 2 s time limit: nothing waited for it.
    assert!(
        slowest < Duration::from_secs(1),
        "a transfer round took {slowest:?}"
    );
    let mut refused_at_once = 0;
    let mut timed_out = 0;
    for call in storm {
        let (code, body, took) = call.await.expect("bet task");
        assert_ne!(code, 0, "a dead wallet took a bet: {body}");
        if body.contains("too many unfinished calls") {
            assert!(took < Duration::from_secs(1), "a refusal waited {took:?}");
            refused_at_once += 1;
        } else {
            timed_out += 1;
        }
        assert!(engine.seamless_calls_unfinished() <= BOUND);
    }
    assert_eq!(timed_out, BOUND, "one call per slot reached the wallet");
    assert_eq!(refused_at_once, 64 - BOUND);
    platform.stop().await;
}

/// A tournament of a seamless operator: its prizes are credited through the
/// operator's bank wallet, exactly once, as prize transactions on both sides, and
/// survive a wallet that fails the first attempts. A gate wallet has no prize call:
/// its prizes are refused by the payout, never credited here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seamless_prizes_are_paid_through_the_operators_wallet_once() {
    let mut f = Fixture::new(WalletDialect::Bank, 7).await;
    let start = START_MS / 1000 + 60;
    let spec = json!({
        "version": "1.0", "name": "seamless cup", "start": start, "end": start + 86_400,
        "rounds": [{"name": "r1", "start": start, "end": start + 3_600,
            "initial": {"type": "fixed", "value": 0},
            "prize": {"type": "credit", "top": 2, "tiers": [
                {"range": [1, 1], "value": 1000}, {"range": [2, 2], "value": 300}]},
            "strategy": {"type": 0, "rules": {
                "bet": {"enabled": true, "type": "rate", "rate": 1}}}}]});
    let created = f.api.post("/service/jsonapi/tournament/create", spec).await;
    let id = created.data()["tourneyId"].as_str().expect("id").to_owned();
    f.api
        .post(
            "/service/jsonapi/tournament/bind",
            json!({"tourneyId": id, "gameId": GAME}),
        )
        .await
        .data();
    f.platform.clock.advance_ms(120_000);
    f.wallet_clock.advance_ms(120_000);
    // Two players play: the first bets more and ranks first.
    let mut gate = f.platform.wallet().await;
    for (p, amount) in [(0usize, 500), (1, 200)] {
        let uid = f.players[p].1;
        let bet = json!({"game_id": GAME, "round_id": format!("t{p}"), "amount": amount,
                         "uid": uid, "transaction_id": format!("tb{p}"), "currency": "CNY"});
        assert_eq!(gate.gate("/bet", bet).await.code(), 0);
        let win = json!({"game_id": GAME, "round_id": format!("t{p}"), "amount": 0,
                         "uid": uid, "transaction_id": format!("tw{p}"), "currency": "CNY"});
        assert_eq!(gate.gate("/win", win).await.code(), 0);
    }
    // The wallet fails the first prize attempts; the payout hands the prizes over.
    f.proxy.lock().rate = 100;
    f.api
        .post(
            "/service/jsonapi/tournament/close",
            json!({"tourneyId": id}),
        )
        .await
        .data();
    tokio::time::sleep(Duration::from_millis(200)).await;
    f.proxy.lock().rate = 0;
    f.run_retries_out("prizes").await;
    // Closing again (a retry) hands nothing over twice.
    f.api
        .post(
            "/service/jsonapi/tournament/close",
            json!({"tourneyId": id}),
        )
        .await;
    f.run_retries_out("prizes again").await;
    let (channel_p, channel_w) = f.sides();
    let cny = Currency::new("CNY").expect("currency");
    for (p, prize, bet) in [(0usize, 1000, 500), (1, 300, 200)] {
        let player = PlayerId::new(&f.players[p].0).expect("id");
        let pw = f
            .platform
            .engine
            .wallet_id(&channel_p, &player, &cny)
            .expect("wallet");
        let ww = f
            .wallet
            .engine
            .wallet_id(&channel_w, &player, &cny)
            .expect("wallet");
        let tx = TxId::new(&format!("prize:{id}:1:{}", p + 1)).expect("id");
        let here = f
            .platform
            .engine
            .transaction(pw, &tx)
            .expect("query")
            .expect("paid here");
        assert_eq!(
            (here.kind, here.amount),
            (OpKind::Prize, Amount::new(prize))
        );
        let there = f
            .wallet
            .engine
            .transaction(ww, &tx)
            .expect("query")
            .expect("paid there");
        assert_eq!(there.amount, Amount::new(prize));
        let balance = f.wallet.engine.balance(ww).expect("balance").available;
        assert_eq!(balance, Amount::new(FUNDS - bet + prize), "paid once");
    }
    f.platform.engine.check_invariants();
    f.wallet.stop().await;
    f.platform.stop().await;
}

/// Statuses 3 and 4 over HTTP, and what an operator's expiry does to them: a win
/// that the wallet keeps failing is listed with status 4 and its error; expiring the
/// player stops its retries and answers the unpaid amount; an open round's live bet
/// goes back through the wallet; another player's rolled-back bet (status 3) finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_stops_retries_and_answers_what_is_unpaid() {
    let mut f = Fixture::new(WalletDialect::Gate, 11).await;
    let mut gate = f.platform.wallet().await;
    let (alice, bob) = (f.players[0].1, f.players[1].1);
    let call = |uid: i64, tx: &str, round: &str, amount: i64| {
        json!({"game_id": GAME, "round_id": round, "amount": amount, "uid": uid,
               "transaction_id": tx, "currency": "CNY"})
    };
    // Round a: the bet is taken; then the wallet fails every call (502).
    assert_eq!(
        gate.gate("/bet", call(alice, "ba", "a", 100)).await.code(),
        0
    );
    f.proxy.lock().forced = Some(Fault::BadGateway);
    assert_eq!(
        gate.gate("/win", call(alice, "wa", "a", 50)).await.code(),
        20241015
    );
    // Round b (bob): the bet's outcome is unknown: rolled back, status 3.
    assert_eq!(
        gate.gate("/bet", call(bob, "bb", "b", 30)).await.code(),
        20241014
    );
    let listed = f.api.get("/service/jsonapi/game/incompleteGames").await;
    let rows = listed.data().as_array().expect("rows").clone();
    let status = |player: &str| {
        rows.iter()
            .find(|r| r["userIdentity"] == json!(player))
            .map(|r| {
                (
                    r["gameStatus"].clone(),
                    r["error"].as_str().unwrap_or("").to_owned(),
                )
            })
            .expect("listed")
    };
    let (a_status, a_error) = status(&f.players[0].0);
    assert_eq!(a_status, json!(4));
    assert!(a_error.contains("502"), "{a_error}");
    let (b_status, b_error) = status(&f.players[1].0);
    assert_eq!(b_status, json!(3));
    assert!(b_error.contains("bet bb"), "{b_error}");
    // Round c (alice): taken while the wallet works again, left open.
    f.proxy.lock().forced = None;
    assert_eq!(
        gate.gate("/bet", call(alice, "bc", "c", 40)).await.code(),
        0
    );
    f.proxy.lock().forced = Some(Fault::BadGateway);
    // Expiring alice: round a's win stops (50 unpaid), round c's bet goes back.
    let expired = f
        .api
        .post(
            "/service/jsonapi/game/expirePlayerGames",
            json!({"userIdentity": f.players[0].0}),
        )
        .await;
    let expired = expired.data().as_array().expect("rows").clone();
    assert_eq!(expired.len(), 2, "{expired:?}");
    assert!(expired.iter().all(|e| e["isExpired"] == json!(true)));
    let unpaid: Vec<_> = expired.iter().map(|e| e["unpaid"].as_i64()).collect();
    assert!(
        unpaid.contains(&Some(50)) && unpaid.contains(&None),
        "{expired:?}"
    );
    f.proxy.lock().forced = None;
    f.run_retries_out("expiry").await;
    let (channel_p, channel_w) = f.sides();
    let cny = Currency::new("CNY").expect("currency");
    let wallet_of = |engine: &Engine, channel: &ChannelId, p: usize| {
        let player = PlayerId::new(&f.players[p].0).expect("id");
        engine.wallet_id(channel, &player, &cny).expect("wallet")
    };
    let has = |engine: &Engine, w: WalletId, tx: &str| {
        engine
            .transaction(w, &TxId::new(tx).expect("id"))
            .expect("query")
            .is_some()
    };
    let (aw, bw) = (
        wallet_of(&f.wallet.engine, &channel_w, 0),
        wallet_of(&f.wallet.engine, &channel_w, 1),
    );
    // Alice: a's bet kept and its win never paid (the operator settles it); c's bet
    // returned. Bob: the rolled-back bet never happened there (or was returned).
    assert!(has(&f.wallet.engine, aw, "ba") && !has(&f.wallet.engine, aw, "refund:ba"));
    assert!(!has(&f.wallet.engine, aw, "wa"));
    assert!(has(&f.wallet.engine, aw, "bc") && has(&f.wallet.engine, aw, "refund:bc"));
    assert!(
        !has(&f.wallet.engine, bw, "bb") || has(&f.wallet.engine, bw, "refund:bb"),
        "bob's bet kept at the wallet"
    );
    let alice_here = wallet_of(&f.platform.engine, &channel_p, 0);
    assert!(!has(&f.platform.engine, alice_here, "wa"));
    let balance = f.wallet.engine.balance(aw).expect("balance");
    assert_eq!(balance.available, Amount::new(FUNDS - 100));
    assert!(f
        .platform
        .engine
        .incomplete_games(&channel_p, None)
        .is_empty());
    f.platform.engine.check_invariants();
    f.wallet.stop().await;
    f.platform.stop().await;
}
