//! Every endpoint of the platform and admin APIs over real HTTP, each response
//! compared whole with its golden file under `snapshots/api/` (UPDATE_SNAPSHOTS=1
//! rewrites them). Also: the Publisher Manual's own signing examples are accepted.

mod common;
#[path = "common/http.rs"]
mod http;

use common::{round, tx};
use http::{assert_golden, Reply, TestServer};
use hyper::Method;
use pitboss::*;
use serde_json::json;
use sha2::{Digest, Sha256};

const VERSIONS: &str = "/service/jsonapi/game/versions";
const LOGIN: &str = "/service/jsonapi/user/login";
const DEPOSIT: &str = "/service/jsonapi/wallet/deposit";
const WITHDRAW: &str = "/service/jsonapi/wallet/withdraw";
const QUERY: &str = "/service/jsonapi/wallet/query";
const RECORDS: &str = "/service/jsonapi/game/records";

fn golden(name: &str, reply: Reply) {
    assert_golden(name, &reply);
}

/// The game as the catalog knows it, for bets.
fn game_ref(engine: &Engine, id: &str) -> GameRef {
    let g = engine.game(&GameId::new(id).expect("id")).expect("game");
    GameRef {
        id: g.id.clone(),
        kind: g.kind.clone(),
        version: g.version().cloned().unwrap_or_default(),
        developer: g.developer.clone(),
    }
}

fn bet(engine: &Engine, wallet: WalletId, r: &str, game: &str, amount: i64) {
    let req = BetRequest {
        tx: tx(&format!("{r}-bet")),
        round: round(r),
        game: game_ref(engine, game),
        amount: Amount::new(amount),
        meta: PlayMeta {
            base_bet: amount,
            line: 1,
            multiple: 1,
        },
    };
    engine.bet(wallet, &req).expect("bet");
}

fn win(engine: &Engine, wallet: WalletId, r: &str, game: &str, base: i64, bonus: i64) {
    let req = WinRequest {
        tx: tx(&format!("{r}-win")),
        round: round(r),
        game: GameId::new(game).expect("game"),
        amount: Amount::new(base + bonus),
        breakdown: Some(WinBreakdown {
            base: Amount::new(base),
            bonus: Amount::new(bonus),
            ..WinBreakdown::default()
        }),
        keep_open: false,
    };
    engine.win(wallet, &req).expect("win");
}

fn wallet_id(s: &str) -> WalletId {
    WalletId(s.parse().expect("numeric wallet id"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_platform_endpoint_answers_in_the_seed_shape() {
    let server = TestServer::start().await;
    let engine = server.engine.clone();
    let mut c = server.client().await;
    golden("game_list", c.get("/service/jsonapi/game/list").await);
    let body = json!({"page": 0, "size": 3, "gameId": "slot_alice"});
    golden("game_versions", c.post(VERSIONS, body).await);
    golden(
        "game_info",
        c.get("/service/jsonapi/game/info?gameId=slot_alice").await,
    );
    let login = c
        .post(
            LOGIN,
            json!({"identifier": "guest-test", "credential": "123456"}),
        )
        .await;
    let wallet = login.data()["walletId"]
        .as_str()
        .expect("walletId")
        .to_owned();
    golden("user_login", login);
    let deposit = json!({"walletId": wallet, "Amount": 1_000_000, "transactionId": "dep-1"});
    golden("wallet_deposit", c.post(DEPOSIT, deposit.clone()).await);
    golden("wallet_deposit_replayed", c.post(DEPOSIT, deposit).await);
    let withdraw = json!({"walletId": wallet, "amount": 10, "type": 1, "transactionId": "wd-1"});
    golden("wallet_withdraw", c.post(WITHDRAW, withdraw).await);
    golden(
        "wallet_query",
        c.post(QUERY, json!({"walletId": wallet})).await,
    );

    let w = wallet_id(&wallet);
    bet(&engine, w, "r1", "slot_alice", 100);
    server.clock.advance_ms(14_000);
    win(&engine, w, "r1", "slot_alice", 3800, 3800);
    server.clock.advance_ms(1_000);
    bet(&engine, w, "r2", "slot_alice", 100);
    win(&engine, w, "r2", "slot_alice", 0, 0);
    bet(&engine, w, "r3", "slot_zhaocaijinbao", 8800);
    let query = json!({"action": "next", "cursor": 0, "size": 2, "userIdentity": "guest-test",
        "developerId": "", "channelId": "", "versionId": "", "gameId": "slot_alice",
        "startTime": 0, "endTime": 0});
    golden("game_records", c.post(RECORDS, query).await);
    golden(
        "incomplete_games",
        c.get("/service/jsonapi/game/incompleteGames").await,
    );
    let resume = "/service/jsonapi/game/playerResumeGames?userIdentity=guest-test";
    golden("player_resume_games", c.get(resume).await);
    let body = json!({"userIdentity": "guest-test"});
    golden(
        "expire_player_games",
        c.post("/service/jsonapi/game/expirePlayerGames", body)
            .await,
    );
    let other = wallet_id(&c.login("user_a123456790", "pw").await);
    c.post(
        DEPOSIT,
        json!({"walletId": other.to_string(), "amount": 100, "transactionId": "d"}),
    )
    .await;
    bet(&engine, other, "r4", "slot_mayan", 50);
    golden(
        "expire_games",
        c.post("/service/jsonapi/game/expireGames", json!({})).await,
    );
    let all = json!({"walletId": wallet, "type": 0, "transactionId": "wd-all"});
    golden("wallet_withdraw_all", c.post(WITHDRAW, all).await);
    let cred = json!({"identifier": "guest-test", "credential": "654321"});
    golden(
        "user_update",
        c.post("/service/jsonapi/user/update", cred.clone()).await,
    );
    golden(
        "user_logout",
        c.post("/service/jsonapi/user/logout", cred).await,
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_endpoint_answers_in_its_documented_shape() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let op = json!({"clientId": "user_a123456789", "channelId": "chnsz",
        "currencies": ["CNY", "USD"], "walletMode": "transfer", "password": "Pwd-XXX"});
    golden(
        "admin_create_operator",
        c.admin(Method::POST, "/admin/operators", op).await,
    );
    golden(
        "admin_list_operators",
        c.admin(Method::GET, "/admin/operators", json!(null)).await,
    );
    let game = json!({"gameId": "slot_new", "gameType": "gp_slot_new", "serialNo": 4,
        "developerId": "devsz", "uri": "games/devsz/slot_new/client", "status": 0,
        "config": "{\"backend\":{\"type\":\"gp_slot_new\"}}", "version": "2025.04.01.0001"});
    golden(
        "admin_register_game",
        c.admin(Method::POST, "/admin/games", game).await,
    );
    let version = json!({"gameId": "slot_new", "version": "2025.04.02.0001"});
    golden(
        "admin_add_version",
        c.admin(Method::POST, "/admin/games/version", version).await,
    );
    let status = json!({"gameId": "slot_new", "status": 2});
    golden(
        "admin_set_game_status",
        c.admin(Method::POST, "/admin/games/status", status).await,
    );
    let login = json!({"clientId": "user_a123456789", "password": "Pwd-XXX"});
    let reply = c
        .send(
            Method::POST,
            "/service/cli/login",
            vec![],
            login.to_string().as_bytes(),
        )
        .await;
    golden("cli_login", reply);
    let listed = c.get("/service/jsonapi/game/list").await;
    assert_eq!(
        listed.data()[0]["gameId"],
        "slot_new",
        "online now, and newest first"
    );
    assert_eq!(listed.data()[0]["version"], "2025.04.02.0001");
    server.stop().await;
}

/// A request signed exactly as the Publisher Manual's Go example signs it:
/// `fmt.Sprintf("%s%d%s%s", clientId, timestamp, nonce, apiKey)` with an int64
/// timestamp, `generateNonce(16)`, `hex.EncodeToString(sha256.Sum256(..))`; and as
/// its JavaScript example does (`Math.floor(Date.now() / 1000).toString()`,
/// `randomBytes(16).toString('hex')`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_signed_like_the_seed_examples_are_accepted() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let (client_id, api_key) = (c.creds.client_id.clone(), c.creds.api_key.clone());
    let timestamp: i64 = server.clock.now_secs();
    let nonce = "9f86d081884c7d659a2feaa0c55ad015";
    let message = format!("{client_id}{timestamp}{nonce}{api_key}");
    let signature = hex::encode(Sha256::digest(message.as_bytes()));
    let header = |n: &'static str, v: &str| {
        (
            hyper::header::HeaderName::from_static(n),
            hyper::header::HeaderValue::from_str(v).expect("value"),
        )
    };
    let go_headers = vec![
        header("x-timestamp", &format!("{timestamp}")),
        header("x-client-id", &client_id),
        header("x-nonce", nonce),
        header("x-signature", &signature),
    ];
    let reply = c
        .send(Method::GET, "/service/jsonapi/game/list", go_headers, b"")
        .await;
    assert_eq!(reply.code(), 0, "{}", reply.body);
    // The JavaScript example: the same message, a JSON body `{}`, POSTed; hex digits
    // may come in either case.
    let nonce = "0123456789abcdef0123456789abcdef";
    let js_timestamp: String = timestamp.to_string();
    let message = [client_id.as_str(), &js_timestamp, nonce, &api_key].concat();
    let signature = hex::encode_upper(Sha256::digest(message.as_bytes()));
    let js_headers = vec![
        header("x-timestamp", &js_timestamp),
        header("x-client-id", &client_id),
        header("x-nonce", nonce),
        header("x-signature", &signature),
    ];
    let reply = c.send(Method::POST, RECORDS, js_headers, b"{}").await;
    assert_eq!(reply.code(), 0, "{}", reply.body);
    server.stop().await;
}

async fn record_ids(c: &mut http::Client, body: serde_json::Value) -> Vec<i64> {
    let reply = c.post(RECORDS, body).await;
    let data = reply.data().as_array().expect("array");
    data.iter().map(|r| r["id"].as_i64().expect("id")).collect()
}

/// §3.4's filters and cursor rules over HTTP: `next` pages below the cursor (0 =
/// from the newest), `prev` above it, both newest first; another operator's records
/// are never visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_filtered_paged_and_kept_per_channel() {
    let server = TestServer::start().await;
    let engine = server.engine.clone();
    let mut c = server.client().await;
    let mut wallets = Vec::new();
    for player in ["a", "b"] {
        let w = c.login(player, "pw").await;
        c.post(
            DEPOSIT,
            json!({"walletId": w, "amount": 10_000, "transactionId": "seed"}),
        )
        .await
        .data();
        wallets.push(wallet_id(&w));
    }
    // Records 1..=6: a plays alice at t0+0..2, b plays mayan at t0+3..5.
    for (i, (w, game)) in [(0, "slot_alice"), (1, "slot_mayan")].iter().enumerate() {
        for n in 0..3 {
            let r = format!("{i}-{n}");
            bet(&engine, wallets[*w], &r, game, 10);
            win(&engine, wallets[*w], &r, game, 5, 0);
            server.clock.advance_ms(1_000);
        }
    }
    let t0 = http::START_MS / 1000;
    assert_eq!(record_ids(&mut c, json!({})).await, [6, 5, 4, 3, 2, 1]);
    assert_eq!(record_ids(&mut c, json!({"size": 2})).await, [6, 5]);
    assert_eq!(
        record_ids(&mut c, json!({"size": 2, "cursor": 5})).await,
        [4, 3]
    );
    assert_eq!(
        record_ids(&mut c, json!({"size": 2, "cursor": 2, "action": "prev"})).await,
        [4, 3]
    );
    assert_eq!(
        record_ids(&mut c, json!({"userIdentity": "a"})).await,
        [3, 2, 1]
    );
    assert_eq!(
        record_ids(&mut c, json!({"game_id": "slot_mayan", "size": 1})).await,
        [6]
    );
    assert_eq!(
        record_ids(&mut c, json!({"version": "2025.01.16.0001"})).await,
        [6, 5, 4]
    );
    assert_eq!(
        record_ids(&mut c, json!({"developerId": "other"})).await,
        Vec::<i64>::new()
    );
    let window = json!({"startTime": t0 + 1, "endTime": t0 + 3});
    assert_eq!(record_ids(&mut c, window).await, [4, 3, 2]);
    assert_eq!(
        record_ids(&mut c, json!({"channelId": "demo", "size": 1})).await,
        [6]
    );
    // Another operator, even asking for this channel by name, sees nothing.
    let op = json!({"clientId": "other", "channelId": "other-channel"});
    let reply = c.admin(Method::POST, "/admin/operators", op).await;
    let creds = serde_json::from_value(reply.data().clone()).expect("creds");
    let mut them = server.client_of(creds).await;
    let theirs = them.post(RECORDS, json!({"channelId": "demo"})).await;
    assert_eq!(theirs.data(), &json!([]));
    assert_eq!(them.post(RECORDS, json!({})).await.data(), &json!([]));
    server.stop().await;
}

/// The admin CLI and `pitboss login` as the binary runs them (their own runtime),
/// against a running server.
#[test]
fn the_cli_commands_talk_to_a_running_server() {
    use pitboss::server::cli::{self, AdminCommand, AdminConnection, CliError};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt.block_on(TestServer::start());
    let mut conn = AdminConnection {
        server: server.url(),
        admin_token: Some(http::ADMIN_TOKEN.to_owned()),
        data_dir: std::path::PathBuf::from("/nonexistent"),
    };
    let created = cli::admin(
        &conn,
        AdminCommand::CreateOperator {
            client_id: "cli-op".into(),
            channel_id: "cli-channel".into(),
            currencies: vec!["CNY".into()],
            wallet_mode: "transfer".into(),
            password: Some("Pwd-XXX".into()),
        },
    )
    .expect("create-operator");
    let created: serde_json::Value = serde_json::from_str(&created).expect("JSON output");
    let api_key = created["apiKey"].as_str().expect("apiKey");
    let login = cli::login(&server.url(), "cli-op", "Pwd-XXX").expect("login");
    assert_eq!(
        login,
        format!(
            "Login successful!\nOrganization APIKey: {api_key}\nPlease keep your organization's \
             APIKey safe and do not disclose it to third parties."
        )
    );
    let listed = cli::admin(&conn, AdminCommand::ListOperators).expect("list");
    assert!(
        listed.contains("\"cli-op\"") && !listed.contains(api_key),
        "{listed}"
    );
    let game = |game_id: &str| AdminCommand::RegisterGame {
        game_id: game_id.into(),
        serial_no: 7,
        id: None,
        game_type: None,
        developer_id: Some("devsz".into()),
        uri: None,
        status: 0,
        config: None,
        version: Some("1".into()),
    };
    cli::admin(&conn, game("slot_cli")).expect("register-game");
    let version = AdminCommand::AddVersion {
        game_id: "slot_cli".into(),
        version: "2".into(),
    };
    cli::admin(&conn, version).expect("add-version");
    let status = AdminCommand::SetGameStatus {
        game_id: "slot_cli".into(),
        status: -1,
    };
    assert!(cli::admin(&conn, status)
        .expect("status")
        .contains("\"status\": -1"));
    // An operator's wallet: seamless with its own bank wallet, then transfer again.
    let seamless = AdminCommand::SetWallet {
        client_id: "cli-op".into(),
        wallet_mode: "seamless".into(),
        wallet_dialect: Some("bank".into()),
        wallet_url: Some("http://127.0.0.1:9/wallet".into()),
    };
    let shown = cli::admin(&conn, seamless).expect("set-wallet");
    assert!(
        shown.contains("\"walletUrl\": \"http://127.0.0.1:9/wallet\""),
        "{shown}"
    );
    let listed = cli::admin(&conn, AdminCommand::ListOperators).expect("list");
    assert!(listed.contains("\"walletDialect\": \"bank\""), "{listed}");
    for (mode, dialect, url, code) in [
        ("seamless", None, None, 1),
        ("seamless", Some("soap"), Some("http://x"), 1),
        ("seamless", Some("gate"), Some("ftp://x"), 1),
        ("transfer", Some("gate"), None, 1),
        ("other", None, None, 1),
    ] {
        let command = AdminCommand::SetWallet {
            client_id: "cli-op".into(),
            wallet_mode: mode.into(),
            wallet_dialect: dialect.map(Into::into),
            wallet_url: url.map(Into::into),
        };
        match cli::admin(&conn, command) {
            Err(CliError::Api { code: c, .. }) if c == code => {}
            other => panic!("{mode} {dialect:?} {url:?}: {other:?}"),
        }
    }
    let unknown = AdminCommand::SetWallet {
        client_id: "nobody".into(),
        wallet_mode: "transfer".into(),
        wallet_dialect: None,
        wallet_url: None,
    };
    assert!(matches!(
        cli::admin(&conn, unknown),
        Err(CliError::Api { code: 6, .. })
    ));
    let transfer = AdminCommand::SetWallet {
        client_id: "cli-op".into(),
        wallet_mode: "transfer".into(),
        wallet_dialect: None,
        wallet_url: None,
    };
    let shown = cli::admin(&conn, transfer).expect("set-wallet transfer");
    assert!(shown.contains("\"walletUrl\": null"), "{shown}");
    // The wallet-API keys, as a wallet of another platform's operator needs them.
    let keys = AdminCommand::SetKeys {
        client_id: "cli-op".into(),
        app_key: "a0b1c2d3e4f5a6b7c8d9".into(),
        app_secret: "secret-of-the-other-platform-0123".into(),
    };
    let shown = cli::admin(&conn, keys).expect("set-keys");
    assert!(
        shown.contains("\"appKey\": \"a0b1c2d3e4f5a6b7c8d9\""),
        "{shown}"
    );
    let short = AdminCommand::SetKeys {
        client_id: "cli-op".into(),
        app_key: "short".into(),
        app_secret: "secret-of-the-other-platform-0123".into(),
    };
    assert!(matches!(
        cli::admin(&conn, short),
        Err(CliError::Api { code: 1, .. })
    ));
    let calls = cli::admin(&conn, AdminCommand::Seamless).expect("seamless");
    assert!(calls.contains("\"unfinished\": 0"), "{calls}");

    // Tournaments of a channel, from a spec file.
    use pitboss::server::cli::TournamentCommand;
    let dir = tempfile::tempdir().expect("tempdir");
    let spec_file = dir.path().join("spec.json");
    let start = http::START_MS / 1000 + 60;
    let spec = json!({"version": "1.0", "name": "cli cup", "start": start, "end": start + 3_600,
        "rounds": [{"name": "r1", "start": start, "end": start + 3_600,
            "initial": {"type": "fixed", "value": 0},
            "strategy": {"type": 0, "rules": {"bet": {"enabled": true, "type": "rate", "rate": 0.25}}}}]});
    std::fs::write(&spec_file, spec.to_string()).expect("write spec");
    let create = TournamentCommand::Create {
        channel_id: "cli-channel".into(),
        file: spec_file.clone(),
    };
    let created = cli::admin(&conn, AdminCommand::Tournament(create)).expect("tournament create");
    let created: serde_json::Value = serde_json::from_str(&created).expect("JSON output");
    let id = created["tourneyId"].as_str().expect("tourneyId").to_owned();
    let list = TournamentCommand::List {
        channel_id: "cli-channel".into(),
        offset: 0,
        limit: 10,
    };
    let listed = cli::admin(&conn, AdminCommand::Tournament(list)).expect("tournament list");
    assert!(
        listed.contains(&id) && listed.contains("cli cup"),
        "{listed}"
    );
    let ranks = TournamentCommand::Ranks {
        channel_id: "cli-channel".into(),
        tourney_id: id,
        round: 1,
        offset: 0,
        limit: 10,
    };
    let ranked = cli::admin(&conn, AdminCommand::Tournament(ranks)).expect("tournament ranks");
    assert_eq!(ranked.trim(), "[]");
    let nowhere = TournamentCommand::Create {
        channel_id: "no-such-channel".into(),
        file: spec_file,
    };
    match cli::admin(&conn, AdminCommand::Tournament(nowhere)) {
        Err(CliError::Api { code: 6, .. }) => {}
        other => panic!("{other:?}"),
    }
    let missing = TournamentCommand::Create {
        channel_id: "cli-channel".into(),
        file: dir.path().join("absent.json"),
    };
    assert!(matches!(
        cli::admin(&conn, AdminCommand::Tournament(missing)),
        Err(CliError::SpecFile { .. })
    ));
    match cli::login(&server.url(), "cli-op", "wrong") {
        Err(CliError::Api { code: 11, .. }) => {}
        other => panic!("{other:?}"),
    }
    conn.admin_token = Some("wrong".into());
    match cli::admin(&conn, AdminCommand::ListOperators) {
        Err(CliError::Api { code: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
    conn.admin_token = None;
    assert!(matches!(
        cli::admin(&conn, AdminCommand::ListOperators),
        Err(CliError::NoToken(_))
    ));
    rt.block_on(server.stop());
}

/// The server's upkeep expires rounds left open past the time-out (README.md, Ledger rules).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_expires_stale_rounds_periodically() {
    let server = TestServer::start_with(|config| {
        config.upkeep_interval = std::time::Duration::from_millis(20);
    })
    .await;
    let mut c = server.client().await;
    let wallet = wallet_id(&c.login("idle", "pw").await);
    c.post(
        DEPOSIT,
        json!({"walletId": wallet.to_string(), "amount": 500, "transactionId": "d"}),
    )
    .await
    .data();
    bet(&server.engine, wallet, "forgotten", "slot_alice", 200);
    let incomplete = "/service/jsonapi/game/incompleteGames";
    assert_eq!(
        c.get(incomplete).await.data().as_array().map(Vec::len),
        Some(1)
    );
    server
        .clock
        .advance_ms(server.engine.config().round_timeout_ms + 1);
    for _ in 0..100 {
        if c.get(incomplete).await.data() == &json!([]) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        c.get(incomplete).await.data(),
        &json!([]),
        "expired by upkeep"
    );
    assert_eq!(
        c.balance(&wallet.to_string()).await,
        (500, 500),
        "the bet was refunded"
    );
    server.stop().await;
}
