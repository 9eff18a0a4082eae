//! Every kind of bad request over real HTTP: each gets its documented error code
//! (docs/api-errors.md) and changes nothing, which is checked on the balances and by
//! reusing the refused transaction ids afterwards.

#[path = "common/http.rs"]
mod http;

use http::{signed_headers, Client, Headers, TestServer};
use hyper::header::{HeaderName, HeaderValue};
use hyper::Method;
use pitboss::server::admin::OperatorCredentials;
use pitboss::Clock;
use serde_json::{json, Value};

const DEPOSIT: &str = "/service/jsonapi/wallet/deposit";
const WITHDRAW: &str = "/service/jsonapi/wallet/withdraw";
const QUERY: &str = "/service/jsonapi/wallet/query";
const LOGIN: &str = "/service/jsonapi/user/login";
const RECORDS: &str = "/service/jsonapi/game/records";

fn set(headers: &mut Headers, name: &'static str, value: &str) {
    let name = HeaderName::from_static(name);
    headers.retain(|(n, _)| *n != name);
    headers.push((name, HeaderValue::from_str(value).expect("value")));
}

fn without(mut headers: Headers, name: &'static str) -> Headers {
    headers.retain(|(n, _)| n.as_str() != name);
    headers
}

/// A second operator, created through the admin API; returns its client.
async fn second_operator(server: &TestServer, c: &mut Client) -> Client {
    let body = json!({"clientId": "other", "channelId": "other-channel"});
    let reply = c.admin(Method::POST, "/admin/operators", body).await;
    let creds: OperatorCredentials = serde_json::from_value(reply.data().clone()).expect("creds");
    server.client_of(creds).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failures_get_their_codes_and_change_nothing() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let wallet = c.login("p1", "pw").await;
    c.post(
        DEPOSIT,
        json!({"walletId": wallet, "amount": 1000, "transactionId": "seed"}),
    )
    .await
    .data();
    let body = json!({"walletId": wallet, "amount": 5, "transactionId": "t-auth"}).to_string();
    let now = server.clock.now_secs();
    let creds = c.creds.clone();
    let at = |ts: i64, nonce: &str| signed_headers(&creds, &ts.to_string(), nonce);
    let mut bad_sig = at(now, "n-sig");
    set(&mut bad_sig, "x-signature", &"0".repeat(64));
    let mut not_hex = at(now, "n-hex");
    set(&mut not_hex, "x-signature", "zz");
    let mut unknown_client = at(now, "n-client");
    set(&mut unknown_client, "x-client-id", "nobody");
    let mut bad_ts = at(now, "n-ts");
    set(&mut bad_ts, "x-timestamp", "yesterday");
    let mut long_nonce = at(now, "n");
    set(&mut long_nonce, "x-nonce", &"n".repeat(65));
    let cases: Vec<(&str, Headers, i64, u16)> = vec![
        ("bad signature", bad_sig, 3, 401),
        ("signature not hex", not_hex, 3, 401),
        ("timestamp 301 s ahead", at(now + 301, "n-late"), 4, 401),
        ("timestamp 301 s behind", at(now - 301, "n-early"), 4, 401),
        ("unknown client", unknown_client, 2, 401),
        ("malformed timestamp", bad_ts, 2, 401),
        ("nonce too long", long_nonce, 2, 401),
        (
            "no X-Client-ID",
            without(at(now, "a"), "x-client-id"),
            2,
            401,
        ),
        (
            "no X-Timestamp",
            without(at(now, "b"), "x-timestamp"),
            2,
            401,
        ),
        ("no X-Nonce", without(at(now, "c"), "x-nonce"), 2, 401),
        (
            "no X-Signature",
            without(at(now, "d"), "x-signature"),
            2,
            401,
        ),
    ];
    for (what, headers, code, status) in cases {
        let reply = c
            .send(Method::POST, DEPOSIT, headers, body.as_bytes())
            .await;
        assert_eq!(
            (reply.code(), reply.status),
            (code, status),
            "{what}: {}",
            reply.body
        );
        assert_eq!(
            c.balance(&wallet).await,
            (1000, 1000),
            "{what} changed the balance"
        );
    }
    // A replayed nonce is refused even with another body.
    let first = json!({"walletId": wallet, "amount": 1, "transactionId": "t-dup-1"}).to_string();
    let reply = c
        .send(
            Method::POST,
            DEPOSIT,
            at(now + 300, "dup"),
            first.as_bytes(),
        )
        .await;
    assert_eq!(
        reply.code(),
        0,
        "300 s ahead is still in the window: {}",
        reply.body
    );
    let again = json!({"walletId": wallet, "amount": 1, "transactionId": "t-dup-2"}).to_string();
    let reply = c
        .send(Method::POST, DEPOSIT, at(now, "dup"), again.as_bytes())
        .await;
    assert_eq!((reply.code(), reply.status), (5, 401), "{}", reply.body);
    assert_eq!(c.balance(&wallet).await, (1001, 1001));
    // Nothing above used up the refused request's transaction id.
    let reply = c.call(Method::POST, DEPOSIT, &body).await;
    assert_eq!(reply.data()["balance"]["total"], 1006);
    server.stop().await;
}

/// (what, path, body, expected code).
fn bad_wallet_requests(w: &str, theirs: &str) -> Vec<(&'static str, &'static str, String, i64)> {
    let j = |v: Value| v.to_string();
    let long_tx = "t".repeat(129);
    vec![
        (
            "malformed JSON",
            DEPOSIT,
            format!("{{\"walletId\": \"{w}\""),
            1,
        ),
        ("empty body", DEPOSIT, String::new(), 1),
        ("not an object", DEPOSIT, "[1, 2]".into(), 1),
        (
            "a transactionId reserved for refunds",
            DEPOSIT,
            j(json!({"walletId": w, "amount": 5, "transactionId": "refund:b1"})),
            1,
        ),
        (
            "an array whose items fit the fields in order",
            DEPOSIT,
            j(json!([w, 5, "x-array"])),
            1,
        ),
        (
            "missing walletId",
            DEPOSIT,
            j(json!({"amount": 5, "transactionId": "x1"})),
            1,
        ),
        (
            "missing amount",
            DEPOSIT,
            j(json!({"walletId": w, "transactionId": "x1"})),
            1,
        ),
        (
            "missing transactionId",
            DEPOSIT,
            j(json!({"walletId": w, "amount": 5})),
            1,
        ),
        (
            "amount as string",
            DEPOSIT,
            j(json!({"walletId": w, "amount": "5", "transactionId": "x1"})),
            1,
        ),
        (
            "walletId as number",
            DEPOSIT,
            format!(r#"{{"walletId": {w}, "amount": 5, "transactionId": "x1"}}"#),
            1,
        ),
        (
            "fractional amount",
            DEPOSIT,
            j(json!({"walletId": w, "amount": 5.5, "transactionId": "x1"})),
            1,
        ),
        (
            "amount beyond i64",
            DEPOSIT,
            format!(
                r#"{{"walletId": "{w}", "amount": 9223372036854775808, "transactionId": "x1"}}"#
            ),
            1,
        ),
        (
            "amount 1e20",
            DEPOSIT,
            format!(r#"{{"walletId": "{w}", "amount": 1e20, "transactionId": "x1"}}"#),
            1,
        ),
        (
            "zero amount",
            DEPOSIT,
            j(json!({"walletId": w, "amount": 0, "transactionId": "x1"})),
            1,
        ),
        (
            "negative amount",
            DEPOSIT,
            j(json!({"walletId": w, "amount": -5, "transactionId": "x1"})),
            1,
        ),
        (
            "amount and Amount",
            DEPOSIT,
            format!(r#"{{"walletId": "{w}", "amount": 5, "Amount": 5, "transactionId": "x1"}}"#),
            1,
        ),
        (
            "balance overflow",
            DEPOSIT,
            j(json!({"walletId": w, "amount": i64::MAX, "transactionId": "x1"})),
            1,
        ),
        (
            "over-long transactionId",
            DEPOSIT,
            j(json!({"walletId": w, "amount": 5, "transactionId": long_tx})),
            1,
        ),
        (
            "empty transactionId",
            DEPOSIT,
            j(json!({"walletId": w, "amount": 5, "transactionId": ""})),
            1,
        ),
        (
            "over-long walletId",
            DEPOSIT,
            j(json!({"walletId": "9".repeat(40), "amount": 5, "transactionId": "x1"})),
            1,
        ),
        (
            "unknown walletId",
            DEPOSIT,
            j(json!({"walletId": "999999", "amount": 5, "transactionId": "x1"})),
            6,
        ),
        (
            "seed-style walletId",
            DEPOSIT,
            j(json!({"walletId": "w-390", "amount": 5, "transactionId": "x1"})),
            6,
        ),
        (
            "another operator's wallet",
            DEPOSIT,
            j(json!({"walletId": theirs, "amount": 5, "transactionId": "x1"})),
            6,
        ),
        (
            "conflicting transactionId",
            DEPOSIT,
            j(json!({"walletId": w, "amount": 11, "transactionId": "dup"})),
            7,
        ),
        (
            "over-withdrawal",
            WITHDRAW,
            j(json!({"walletId": w, "amount": 1011, "type": 1, "transactionId": "x2"})),
            8,
        ),
        (
            "unknown withdraw type",
            WITHDRAW,
            j(json!({"walletId": w, "amount": 1, "type": 2, "transactionId": "x2"})),
            1,
        ),
        (
            "type as string",
            WITHDRAW,
            j(json!({"walletId": w, "amount": 1, "type": "1", "transactionId": "x2"})),
            1,
        ),
        (
            "missing type",
            WITHDRAW,
            j(json!({"walletId": w, "amount": 1, "transactionId": "x2"})),
            1,
        ),
        (
            "type 1 without amount",
            WITHDRAW,
            j(json!({"walletId": w, "type": 1, "transactionId": "x2"})),
            1,
        ),
        (
            "withdraw zero",
            WITHDRAW,
            j(json!({"walletId": w, "amount": 0, "type": 1, "transactionId": "x2"})),
            1,
        ),
        (
            "withdraw another's",
            WITHDRAW,
            j(json!({"walletId": theirs, "type": 0, "transactionId": "x2"})),
            6,
        ),
        ("query another's", QUERY, j(json!({"walletId": theirs})), 6),
        ("query without walletId", QUERY, j(json!({})), 1),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_wallet_requests_get_their_codes_and_change_nothing() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let mut them = second_operator(&server, &mut c).await;
    let w = c.login("p1", "pw").await;
    let theirs = them.login("p1", "pw").await;
    assert_ne!(
        w, theirs,
        "the same identifier in two channels is two players"
    );
    let seed = |w: &str, tx: &str, amount: i64| json!({"walletId": w, "amount": amount, "transactionId": tx});
    c.post(DEPOSIT, seed(&w, "seed", 1000)).await.data();
    c.post(DEPOSIT, seed(&w, "dup", 10)).await.data();
    them.post(DEPOSIT, seed(&theirs, "seed", 500)).await.data();
    for (what, path, body, code) in bad_wallet_requests(&w, &theirs) {
        let reply = c.call(Method::POST, path, &body).await;
        assert_eq!(reply.code(), code, "{what}: {}", reply.body);
        assert_ne!(reply.status, 200, "{what}");
        assert_eq!(
            c.balance(&w).await,
            (1010, 1010),
            "{what} changed the balance"
        );
        assert_eq!(
            them.balance(&theirs).await,
            (500, 500),
            "{what} changed theirs"
        );
    }
    // The refused requests' transaction ids were not recorded.
    let ok = json!({"walletId": w, "amount": 10, "type": 1, "transactionId": "x2"});
    assert_eq!(c.post(WITHDRAW, ok).await.data()["balance"]["total"], 1000);
    let ok = json!({"walletId": w, "amount": 5, "transactionId": "x1"});
    assert_eq!(c.post(DEPOSIT, ok).await.data()["balance"]["total"], 1005);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_errors_and_credential_changes() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let login = |id: &str, cred: &str| json!({"identifier": id, "credential": cred});
    let first = c.post(LOGIN, login("guest", "old")).await.data().clone();
    let token = first["accessToken"].as_str().expect("token").to_owned();
    let cases = [
        ("wrong credential", LOGIN, login("guest", "nope"), 11),
        (
            "over-long identifier",
            LOGIN,
            login(&"i".repeat(129), "x"),
            1,
        ),
        (
            "over-long credential",
            LOGIN,
            login("guest", &"c".repeat(257)),
            1,
        ),
        ("empty credential", LOGIN, login("guest", ""), 1),
        (
            "missing credential",
            LOGIN,
            json!({"identifier": "guest"}),
            1,
        ),
        (
            "unknown authType",
            LOGIN,
            json!({"identifier": "g", "credential": "c", "authType": "oauth"}),
            1,
        ),
        (
            "update of an unknown player",
            "/service/jsonapi/user/update",
            login("ghost", "x"),
            6,
        ),
        (
            "logout of an unknown player",
            "/service/jsonapi/user/logout",
            login("ghost", "x"),
            6,
        ),
        (
            "logout, wrong credential",
            "/service/jsonapi/user/logout",
            login("guest", "nope"),
            11,
        ),
    ];
    for (what, path, body, code) in cases {
        let reply = c.post(path, body).await;
        assert_eq!(reply.code(), code, "{what}: {}", reply.body);
    }
    let engine = &server.engine;
    assert!(
        engine.session_player(&token).is_some(),
        "errors end no session"
    );
    c.post("/service/jsonapi/user/update", login("guest", "new"))
        .await
        .data();
    assert!(
        engine.session_player(&token).is_none(),
        "update ends sessions"
    );
    assert_eq!(c.post(LOGIN, login("guest", "old")).await.code(), 11);
    let again = c.post(LOGIN, login("guest", "new")).await.data().clone();
    assert_eq!(
        (&again["userId"], &again["walletId"]),
        (&first["userId"], &first["walletId"])
    );
    let token = again["accessToken"].as_str().expect("token").to_owned();
    c.post("/service/jsonapi/user/logout", login("guest", "new"))
        .await
        .data();
    assert!(
        engine.session_player(&token).is_none(),
        "logout ends sessions"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn game_query_errors() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let cases = [
        ("records: unknown action", json!({"action": "sideways"}), 1),
        ("records: size too large", json!({"size": 1001}), 1),
        ("records: negative cursor", json!({"cursor": -1}), 1),
        ("records: negative startTime", json!({"startTime": -1}), 1),
        ("records: cursor as string", json!({"cursor": "5"}), 1),
        (
            "records: versions differ",
            json!({"version": "a", "versionId": "b"}),
            1,
        ),
        (
            "records: over-long gameId",
            json!({"gameId": "g".repeat(65)}),
            1,
        ),
    ];
    for (what, body, code) in cases {
        assert_eq!(c.post(RECORDS, body).await.code(), code, "{what}");
    }
    let versions = "/service/jsonapi/game/versions";
    assert_eq!(c.post(versions, json!({"gameId": "nope"})).await.code(), 6);
    // The one paging rule: a negative page reads as page 0, as the Publisher Manual
    // says of negative offsets; a size above 1000 is refused.
    let negative = c
        .post(
            versions,
            json!({"gameId": "slot_alice", "page": -1, "size": 2}),
        )
        .await;
    let first = c
        .post(
            versions,
            json!({"gameId": "slot_alice", "page": 0, "size": 2}),
        )
        .await;
    assert_eq!(negative.data(), first.data());
    assert_eq!(
        c.post(versions, json!({"gameId": "slot_alice", "size": 1001}))
            .await
            .code(),
        1
    );
    assert_eq!(c.post(versions, json!({})).await.code(), 1);
    assert_eq!(
        c.get("/service/jsonapi/game/info?gameId=nope").await.code(),
        6
    );
    assert_eq!(c.get("/service/jsonapi/game/info").await.code(), 1);
    let resume = "/service/jsonapi/game/playerResumeGames";
    assert_eq!(c.get(resume).await.code(), 1, "userIdentity is required");
    let with_body = c
        .call(Method::GET, resume, r#"{"userIdentity": "nobody"}"#)
        .await;
    assert_eq!(with_body.data(), &json!([]), "read from a JSON body");
    let other = c.post(RECORDS, json!({"channelId": "other-channel"})).await;
    assert_eq!(other.data(), &json!([]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_routing_and_admin_errors() {
    let server = TestServer::start_with(|config| config.nonces.per_client_max = 3).await;
    let mut c = server.client().await;
    let big = vec![b' '; 64 * 1024 + 1];
    let reply = c
        .send(Method::POST, QUERY, c.headers_at("1", "x"), &big)
        .await;
    assert_eq!((reply.code(), reply.status), (10, 413));
    let reply = c.get("/service/jsonapi/nothing").await;
    assert_eq!((reply.code(), reply.status), (6, 404));
    let reply = c.get(DEPOSIT).await;
    assert_eq!((reply.code(), reply.status), (1, 405));
    // The nonce memory of this client holds 3 (the requests above were refused before
    // authentication): the fourth signed request is refused, rather than remembered
    // over a forgotten nonce; once the window (and its minute bucket) has passed, it
    // is accepted again.
    for _ in 0..3 {
        assert_eq!(c.get("/service/jsonapi/game/list").await.code(), 0);
    }
    assert_eq!(c.get("/service/jsonapi/game/list").await.code(), 10);
    server.clock.advance_ms(361_000);
    assert_eq!(c.get("/service/jsonapi/game/list").await.code(), 0);

    let no_token = c.send(Method::GET, "/admin/operators", vec![], b"").await;
    assert_eq!((no_token.code(), no_token.status), (2, 401));
    let mut wrong = c.headers();
    set(&mut wrong, "authorization", "Bearer wrong");
    assert_eq!(
        c.send(Method::GET, "/admin/operators", wrong, b"")
            .await
            .code(),
        2
    );
    let admin_cases = [
        (
            "duplicate client id",
            "/admin/operators",
            json!({"clientId": "demo", "channelId": "x"}),
            7,
        ),
        (
            "duplicate channel",
            "/admin/operators",
            json!({"clientId": "x", "channelId": "demo"}),
            7,
        ),
        (
            "bad wallet mode",
            "/admin/operators",
            json!({"clientId": "y", "channelId": "y", "walletMode": "cash"}),
            1,
        ),
        (
            "no currency",
            "/admin/operators",
            json!({"clientId": "y", "channelId": "y", "currencies": []}),
            1,
        ),
        (
            "duplicate serial",
            "/admin/games",
            json!({"gameId": "g", "serialNo": 1}),
            7,
        ),
        (
            "duplicate game",
            "/admin/games",
            json!({"gameId": "slot_alice", "serialNo": 9}),
            7,
        ),
        (
            "config not JSON",
            "/admin/games",
            json!({"gameId": "g", "serialNo": 9, "config": "{"}),
            1,
        ),
        (
            "unknown status",
            "/admin/games/status",
            json!({"gameId": "slot_alice", "status": 5}),
            1,
        ),
        (
            "version of unknown game",
            "/admin/games/version",
            json!({"gameId": "g", "version": "1"}),
            6,
        ),
        (
            "duplicate version",
            "/admin/games/version",
            json!({"gameId": "slot_alice", "version": "2025.03.04.0001"}),
            7,
        ),
    ];
    for (what, path, body, code) in admin_cases {
        assert_eq!(
            c.admin(Method::POST, path, body).await.code(),
            code,
            "{what}"
        );
    }
    for (client, password) in [("demo", "wrong"), ("nobody", "x")] {
        let body = json!({"clientId": client, "password": password}).to_string();
        let reply = c
            .send(Method::POST, "/service/cli/login", vec![], body.as_bytes())
            .await;
        assert_eq!((reply.code(), reply.status), (11, 403), "{client}");
    }
    server.stop().await;
}

/// SIGTERM's path: stop accepting, let the in-flight request finish, return.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_in_flight_requests() {
    // Production Argon2 parameters make a login slow enough to be caught in flight.
    let mut server = TestServer::start_custom(pitboss::EngineConfig::default(), |_| {}).await;
    let mut c = server.client().await;
    let login = tokio::spawn(async move {
        c.post(LOGIN, json!({"identifier": "slow", "credential": "pw"}))
            .await
    });
    // Long enough for the request to be read even on a loaded machine (at 20 ms it
    // sometimes was not, and the idle connection was closed instead of drained);
    // short next to a production-cost Argon2 hash in a test build.
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let url = server.url();
    server.signal_stop();
    let reply = login.await.expect("login task");
    assert_eq!(
        reply.code(),
        0,
        "the in-flight login completed: {}",
        reply.body
    );
    server.stop().await;
    assert!(
        pitboss::server::client::HttpClient::connect(&url)
            .await
            .is_err(),
        "no longer accepting"
    );
}

/// A client that sends a request's head and then stops must not hold its connection
/// slot for ever: past the body's time limit it gets HTTP 408 in the API's envelope
/// (each dialect's own), its connection is closed, and the slot serves the next
/// client. With one slot, that next client would otherwise wait for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_times_out_and_frees_its_slot() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start_with(|c| {
        c.max_connections = 1;
        c.body_read_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    for (path, envelope) in [
        ("/service/jsonapi/game/list", "\"code\":1"),
        ("/bet", "\"success\":false"),
        ("/api/bank/deposit", "\"code\":100015"),
    ] {
        let mut slow = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"a\":"
        );
        slow.write_all(head.as_bytes()).await.expect("send head");
        let mut answer = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            slow.read_to_end(&mut answer),
        )
        .await;
        assert!(
            matches!(read, Ok(Ok(_))),
            "{path}: answered and closed: {read:?}"
        );
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains(envelope), "{path}: {answer}");
        // The one slot is free again.
        let mut c = server.client().await;
        let reply = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            c.send(Method::GET, "/health", vec![], b""),
        )
        .await
        .expect("served after the slow client");
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
}

/// Unauthenticated password checks (`/service/cli/login`) share one hashing slot:
/// a flood of them is refused (code 10) past the queue's wait, while an operator's
/// player login still gets a slot of its own. Production Argon2 parameters keep
/// each check busy long enough to hold its slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_operator_logins_leaves_player_logins_a_slot() {
    let server = TestServer::start_custom(pitboss::EngineConfig::default(), |c| {
        c.max_concurrent_hashes = 2;
        c.max_unauthenticated_hashes = 1;
        c.hash_queue_wait = std::time::Duration::from_millis(300);
    })
    .await;
    let mut flood = Vec::new();
    for i in 0..4 {
        let mut c = server.client().await;
        flood.push(tokio::spawn(async move {
            let body = json!({"clientId": format!("nobody-{i}"), "password": "guess"});
            c.send(
                Method::POST,
                "/service/cli/login",
                vec![],
                body.to_string().as_bytes(),
            )
            .await
            .code()
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut c = server.client().await;
    let login = c
        .post(LOGIN, json!({"identifier": "patient", "credential": "pw"}))
        .await;
    assert_eq!(login.code(), 0, "{}", login.body);
    let mut codes = Vec::new();
    for f in flood {
        codes.push(f.await.expect("task"));
    }
    // Each is checked (11, a wrong password) or refused for the queue (10); with one
    // slot among four, most are refused.
    assert!(codes.iter().all(|c| [10, 11].contains(c)), "{codes:?}");
    assert!(codes.iter().filter(|c| **c == 10).count() >= 2, "{codes:?}");
    server.stop().await;
}
