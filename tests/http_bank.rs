//! The bank wallet API over real HTTP: every endpoint's answer compared whole with
//! its golden file under `snapshots/api/` (UPDATE_SNAPSHOTS=1 rewrites them), every
//! failure's code, exact decimals, and proof that a refused call changes nothing.

#[path = "common/http.rs"]
mod http;

use http::{assert_wallet_golden, Client, TestServer, WalletClient, WalletReply};
use hyper::Method;
use pitboss::server::bank::codes::BankCode;
use pitboss::*;
use serde_json::{json, Value};

const BALANCE: &str = "/api/bank/balance";
const DEPOSIT: &str = "/api/bank/deposit";
const WITHDRAW: &str = "/api/bank/withdraw";
const SINGLE: &str = "/api/bank/getsingletransaction";
const TRACE: &str = "5a1b7c9e-0000-4000-8000-000000000001";

/// Registers `name` (as `user/login` does) and returns its CNY wallet.
async fn player(c: &mut Client, name: &str) -> WalletId {
    let wallet = c.login(name, "pw").await;
    WalletId(wallet.parse().expect("numeric wallet id"))
}

fn transfer(player: &str, reference: &str, amount: &str) -> Value {
    json!({"traceId": TRACE, "playerId": player, "currency": "CNY",
           "transferAmount": amount, "referenceId": reference})
}

fn query(player: &str) -> Value {
    json!({"traceId": TRACE, "playerId": player, "currency": "CNY"})
}

fn single(player: &str, reference: &str) -> Value {
    json!({"traceId": TRACE, "playerId": player, "currency": "CNY", "referenceId": reference})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bank_endpoint_answers_in_the_document_shape() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let wallet = player(&mut c, "bank-golden").await;
    let mut b = server.wallet().await;
    assert_wallet_golden(
        "bank_balance_empty",
        &b.bank(BALANCE, query("bank-golden")).await,
    );
    let deposit = transfer("bank-golden", "ref-1", "50.25");
    assert_wallet_golden("bank_deposit", &b.bank(DEPOSIT, deposit.clone()).await);
    // A repeated referenceId is answered with the first outcome and moves nothing.
    assert_wallet_golden("bank_deposit", &b.bank(DEPOSIT, deposit).await);
    let withdraw = transfer("bank-golden", "ref-2", "0.25");
    assert_wallet_golden("bank_withdraw", &b.bank(WITHDRAW, withdraw).await);
    assert_wallet_golden("bank_balance", &b.bank(BALANCE, query("bank-golden")).await);
    assert_wallet_golden(
        "bank_single_deposit",
        &b.bank(SINGLE, single("bank-golden", "ref-1")).await,
    );
    assert_wallet_golden(
        "bank_single_withdraw",
        &b.bank(SINGLE, single("bank-golden", "ref-2")).await,
    );
    assert_wallet_golden(
        "bank_single_unknown",
        &b.bank(SINGLE, single("bank-golden", "ref-9")).await,
    );
    let balance = server.engine.balance(wallet).expect("balance");
    assert_eq!(balance.available, Amount::new(5000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amounts_are_exact_decimals_in_the_currency_unit() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let cny = player(&mut c, "bank-exact").await;
    let mut b = server.wallet().await;
    // Trailing zeros within 8 places are fine; a JSON number's own text is read exactly.
    let r = b
        .bank(DEPOSIT, transfer("bank-exact", "d1", "0.10000000"))
        .await;
    assert!(r.text.contains(r#""afterBalance":0.10,"#), "{}", r.text);
    let mut by_number = transfer("bank-exact", "d2", "0");
    by_number["transferAmount"] = serde_json::from_str("0.20").expect("number");
    let r = b.bank(DEPOSIT, by_number).await;
    assert!(r.text.contains(r#""transferAmount":0.20,"#), "{}", r.text);
    assert!(r.text.contains(r#""afterBalance":0.30,"#), "{}", r.text);
    assert_eq!(
        server.engine.balance(cny).expect("balance").available,
        Amount::new(30)
    );

    // A currency of another exponent: registered through the admin API, then used.
    let reply = c
        .admin(
            Method::POST,
            "/admin/currencies",
            json!({"code": "XBT", "exponent": 8}),
        )
        .await;
    assert_eq!(reply.data(), &json!({"code": "XBT", "exponent": 8}));
    let reply = c
        .admin(
            Method::POST,
            "/admin/currencies",
            json!({"code": "XBT", "exponent": 2}),
        )
        .await;
    assert_eq!(reply.code(), 7, "an exponent never changes");
    let listed = c.admin(Method::GET, "/admin/currencies", Value::Null).await;
    assert!(listed
        .data()
        .as_array()
        .expect("list")
        .contains(&json!({"code": "JPY", "exponent": 0})));
    let op = c
        .admin(
            Method::POST,
            "/admin/operators",
            json!({"clientId": "crypto", "channelId": "crypto", "currencies": ["XBT", "JPY"], "password": "pw-crypto"}),
        )
        .await;
    let creds: pitboss::server::admin::OperatorCredentials =
        serde_json::from_value(op.data().clone()).expect("credentials");
    let mut crypto = server.client_of(creds.clone()).await;
    crypto.login("satoshi", "pw").await;
    let mut b = server.wallet_of(&creds).await;
    let mut t = transfer("satoshi", "x1", "0.00000001");
    t["currency"] = json!("XBT");
    let r = b.bank(DEPOSIT, t).await;
    assert!(
        r.text.contains(r#""afterBalance":0.00000001,"#),
        "{}",
        r.text
    );
    let mut t = transfer("satoshi", "y1", "0.5");
    t["currency"] = json!("JPY");
    assert_eq!(b.bank(DEPOSIT, t).await.code(), BankCode::ParamError.code());
    let mut t = transfer("satoshi", "y1", "1500");
    t["currency"] = json!("JPY");
    let r = b.bank(DEPOSIT, t).await;
    assert!(r.text.contains(r#""afterBalance":1500,"#), "{}", r.text);
    let refused = c
        .admin(
            Method::POST,
            "/admin/operators",
            json!({"clientId": "odd", "channelId": "odd", "currencies": ["ZZZ"], "password": "pw-odd"}),
        )
        .await;
    assert_eq!(
        refused.code(),
        1,
        "an operator's currencies must be registered"
    );
}

/// A bank call that must be refused with `code` and change nothing.
async fn refused(
    b: &mut WalletClient,
    engine: &Engine,
    wallet: WalletId,
    path: &str,
    body: Value,
    code: BankCode,
) -> WalletReply {
    let before = engine.balance(wallet).expect("balance");
    let reply = b.bank(path, body.clone()).await;
    check_refusal(&reply, path, code);
    assert_eq!(engine.balance(wallet).expect("balance"), before, "{body}");
    reply
}

fn check_refusal(reply: &WalletReply, path: &str, code: BankCode) {
    assert_eq!(reply.code(), code.code(), "{path}: {}", reply.body);
    assert_eq!(reply.status, 200);
    let keys: Vec<&str> = reply
        .body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["traceId", "code", "message", "path", "timestamp"]);
    assert_eq!(reply.body["path"], json!(path));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bank_failure_gets_its_code_and_changes_nothing() {
    let server = TestServer::start().await;
    let engine = server.engine.clone();
    let mut c = server.client().await;
    let w = player(&mut c, "bank-errors").await;
    let mut b = server.wallet().await;
    b.bank(DEPOSIT, transfer("bank-errors", "fund", "100"))
        .await
        .data();
    use BankCode as C;
    let p = "bank-errors";

    // Authentication: each header missing, a bad signature, an unknown key, a stale
    // timestamp, a body changed after signing.
    let body = transfer(p, "a1", "1").to_string();
    let good = b.bank_headers(body.as_bytes());
    for skip in 0..3 {
        let mut headers = good.clone();
        headers.remove(skip);
        let reply = b.post_raw(DEPOSIT, headers, body.as_bytes()).await;
        check_refusal(&reply, DEPOSIT, C::SignatureError);
        assert_eq!(reply.body["traceId"], json!(TRACE), "the traceId is echoed");
    }
    let mut bad = good.clone();
    bad[2].1 = "0123456789abcdef0123456789abcdef".parse().expect("value");
    check_refusal(
        &b.post_raw(DEPOSIT, bad, body.as_bytes()).await,
        DEPOSIT,
        C::SignatureError,
    );
    let mut unknown = good.clone();
    unknown[0].1 = "nobody".parse().expect("value");
    check_refusal(
        &b.post_raw(DEPOSIT, unknown, body.as_bytes()).await,
        DEPOSIT,
        C::SignatureError,
    );
    let mut stale = good.clone();
    stale[1].1 = (http::START_MS - 301_000).into();
    check_refusal(
        &b.post_raw(DEPOSIT, stale, body.as_bytes()).await,
        DEPOSIT,
        C::SignatureError,
    );
    let tampered = transfer(p, "a1", "1000").to_string();
    check_refusal(
        &b.post_raw(DEPOSIT, good, tampered.as_bytes()).await,
        DEPOSIT,
        C::SignatureError,
    );

    // Missing fields and wrong types.
    for field in [
        "traceId",
        "playerId",
        "currency",
        "transferAmount",
        "referenceId",
    ] {
        let mut t = transfer(p, "a2", "1");
        t.as_object_mut().expect("object").remove(field);
        refused(&mut b, &engine, w, DEPOSIT, t, C::ParamError).await;
    }
    for (field, value) in [
        ("referenceId", json!(5)),
        ("currency", json!(["CNY"])),
        ("transferAmount", json!(true)),
        ("playerId", json!({"id": 1})),
        ("traceId", json!("t".repeat(129))),
    ] {
        let mut t = transfer(p, "a2", "1");
        t[field] = value;
        refused(&mut b, &engine, w, DEPOSIT, t, C::ParamError).await;
    }
    let raw = b"{\"traceId\": ";
    let reply = b.post_raw(DEPOSIT, b.bank_headers(raw), raw).await;
    check_refusal(&reply, DEPOSIT, C::ParamError);
    // A JSON array is not a body, even one whose items fit the fields in order.
    let array = json!([TRACE, p, "CNY", "1.00", "a3"]).to_string();
    let reply = b
        .post_raw(DEPOSIT, b.bank_headers(array.as_bytes()), array.as_bytes())
        .await;
    check_refusal(&reply, DEPOSIT, C::ParamError);
    assert_eq!(
        engine
            .transaction(w, &TxId::new("a3").expect("id"))
            .expect("query"),
        None
    );

    // Amounts: zero, negative, more than 8 places, finer than fen, beyond 64 bits,
    // not a decimal.
    for amount in [
        "0",
        "0.00",
        "-1",
        "0.000000001",
        "0.001",
        "92233720368547758.08",
        "1e3",
        "1,5",
        "",
    ] {
        refused(
            &mut b,
            &engine,
            w,
            DEPOSIT,
            transfer(p, "a3", amount),
            C::ParamError,
        )
        .await;
        refused(
            &mut b,
            &engine,
            w,
            WITHDRAW,
            transfer(p, "a3", amount),
            C::ParamError,
        )
        .await;
    }

    // Players, currencies, balances, conflicts.
    refused(
        &mut b,
        &engine,
        w,
        DEPOSIT,
        transfer("nobody", "a4", "1"),
        C::PlayerNotFound,
    )
    .await;
    refused(
        &mut b,
        &engine,
        w,
        BALANCE,
        query("nobody"),
        C::PlayerNotFound,
    )
    .await;
    refused(
        &mut b,
        &engine,
        w,
        SINGLE,
        single("nobody", "fund"),
        C::PlayerNotFound,
    )
    .await;
    let mut usd = transfer(p, "a4", "1");
    usd["currency"] = json!("USD");
    refused(&mut b, &engine, w, DEPOSIT, usd, C::CurrencyNotSupported).await;
    let mut unknown = transfer(p, "a4", "1");
    unknown["currency"] = json!("ZZZ");
    refused(
        &mut b,
        &engine,
        w,
        DEPOSIT,
        unknown,
        C::CurrencyNotSupported,
    )
    .await;
    refused(
        &mut b,
        &engine,
        w,
        WITHDRAW,
        transfer(p, "a5", "100.01"),
        C::InsufficientBalance,
    )
    .await;
    refused(
        &mut b,
        &engine,
        w,
        WITHDRAW,
        transfer(p, "fund", "100"),
        C::ReferenceConflict,
    )
    .await;
    refused(
        &mut b,
        &engine,
        w,
        DEPOSIT,
        transfer(p, "fund", "99"),
        C::ReferenceConflict,
    )
    .await;

    // A new transfer while a round is open: 100003; a retry of an applied one is not.
    let game = GameRef::bare(GameId::new("slot_alice").expect("id"));
    let bet = BetRequest {
        tx: TxId::new("open-bet").expect("id"),
        round: RoundId::new("open-round").expect("id"),
        game,
        amount: Amount::new(1),
        meta: PlayMeta::default(),
    };
    engine.bet(w, &bet).expect("bet");
    refused(
        &mut b,
        &engine,
        w,
        DEPOSIT,
        transfer(p, "a6", "1"),
        C::TransferInProgress,
    )
    .await;
    refused(
        &mut b,
        &engine,
        w,
        WITHDRAW,
        transfer(p, "a6", "1"),
        C::TransferInProgress,
    )
    .await;
    let again = b.bank(DEPOSIT, transfer(p, "fund", "100")).await;
    assert!(
        again.text.contains(r#""afterBalance":100.00,"#),
        "{}",
        again.text
    );

    // A wrong method is refused in the dialect's shape.
    let reply = b
        .http
        .send(Method::GET, DEPOSIT, &[], Vec::new())
        .await
        .expect("request");
    assert_eq!(reply.status.as_u16(), 405);
    let body: Value = serde_json::from_slice(&reply.body).expect("json");
    assert_eq!(body["code"], json!(C::ParamError.code()));

    // After all of it: the deposit and the open round's bet are all that moved.
    assert_eq!(
        engine.balance(w).expect("balance").total,
        Amount::new(10_000)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_table_in_the_docs_matches_the_code() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/bank.md"))
        .expect("docs/bank.md");
    let mut documented: Vec<i64> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next()?.trim().parse().ok())
        .collect();
    documented.sort_unstable();
    documented.dedup();
    let mut coded: Vec<i64> = BankCode::ALL.iter().map(|c| c.code()).collect();
    coded.sort_unstable();
    assert_eq!(documented, coded, "docs/bank.md's code table vs BankCode");
}
