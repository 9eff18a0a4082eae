//! Property tests of the wallet endpoints over real HTTP: arbitrary JSON bodies and
//! arbitrary bytes never crash the server, always get a documented code, and move
//! money exactly when a model of the endpoint says the request was valid.

#[path = "common/http.rs"]
mod http;

use http::{Client, TestServer};
use hyper::Method;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;

const DEPOSIT: &str = "/service/jsonapi/wallet/deposit";
const WITHDRAW: &str = "/service/jsonapi/wallet/withdraw";
const QUERY: &str = "/service/jsonapi/wallet/query";
/// Codes docs/api-errors.md documents for the wallet endpoints of a signed caller.
const WALLET_CODES: &[i64] = &[0, 1, 6, 7, 8];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..1000).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(json!(i64::MAX)),
        Just(json!(u64::MAX)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-zA-Z ]{0,12}".prop_map(Value::from),
        Just(Value::from("x".repeat(200))),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A field value: usually a plausible one, sometimes anything, sometimes absent.
fn field(plausible: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        16 => plausible.prop_map(Some),
        1 => any_json().prop_map(Some),
        1 => Just(None),
    ]
    .boxed()
}

/// Objects shaped like wallet requests, with wrong types, extra fields and gaps.
fn wallet_body(wallet: String, tx_prefix: &'static str) -> impl Strategy<Value = Value> {
    let tx_ids = (0u16..150).prop_map(move |n| Value::from(format!("{tx_prefix}{n}")));
    let wallet_ids = prop_oneof![
        8 => Just(Value::from(wallet)),
        1 => Just(Value::from("999999")),
        1 => Just(Value::from("w-390")),
    ];
    (
        field(wallet_ids),
        field((-2i64..2000).prop_map(Value::from)),
        prop::option::weighted(0.05, (1i64..50).prop_map(Value::from)),
        field((0i64..3).prop_map(Value::from)),
        field(tx_ids),
        prop::option::of(("[a-z]{1,6}", any_json())),
    )
        .prop_map(|(w, amount, big_amount, kind, tx, extra)| {
            let mut m = Map::new();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    m.insert(k.to_owned(), v);
                }
            };
            put("walletId", w);
            put("amount", amount);
            put("Amount", big_amount);
            put("type", kind);
            put("transactionId", tx);
            if let Some((k, v)) = extra {
                m.entry(k).or_insert(v);
            }
            Value::Object(m)
        })
}

/// The model of one wallet: its balance and the transactions it has applied.
struct Model {
    client: Client,
    wallet: String,
    balance: i64,
    /// transactionId → (withdraw type, requested amount, amount moved).
    txs: HashMap<String, (i64, Option<i64>, i64)>,
    /// Requests answered 0 and refused, to check that both kinds were exercised.
    accepted: u32,
    refused: u32,
}

fn positive_int(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_i64).filter(|a| *a > 0)
}

/// What a well-formed request asks for, if it is one: (tx, kind, amount).
/// Deposits are kind -1. `None` means the server must refuse it with no change.
fn parse(body: &Value, wallet: &str, deposit: bool) -> Option<(String, i64, Option<i64>)> {
    let m = body.as_object()?;
    if m.get("walletId")?.as_str()? != wallet {
        return None;
    }
    let tx = m.get("transactionId")?.as_str()?;
    if tx.is_empty() || tx.len() > 128 {
        return None;
    }
    if deposit {
        // `Amount` is an alias of `amount`: both at once is a duplicate field.
        let amount = match (m.get("amount"), m.get("Amount")) {
            (Some(a), None) | (None, Some(a)) => positive_int(Some(a))?,
            _ => return None,
        };
        return Some((tx.to_owned(), -1, Some(amount)));
    }
    let amount = m.get("amount").filter(|v| !v.is_null());
    if amount.is_some_and(|a| a.as_i64().is_none()) {
        return None;
    }
    match m.get("type")?.as_i64()? {
        0 => Some((tx.to_owned(), 0, None)),
        1 => Some((tx.to_owned(), 1, Some(positive_int(amount)?))),
        _ => None,
    }
}

impl Model {
    async fn check(
        &mut self,
        path: &str,
        body: &[u8],
        parsed: Option<(String, i64, Option<i64>)>,
    ) -> Result<(), TestCaseError> {
        let reply = self
            .client
            .call(Method::POST, path, &String::from_utf8_lossy(body))
            .await;
        let code = reply.code();
        if code == 0 {
            self.accepted += 1;
        } else {
            self.refused += 1;
        }
        prop_assert!(
            WALLET_CODES.contains(&code),
            "undocumented code {}",
            reply.body
        );
        let (total, available) = self.client.balance(&self.wallet).await;
        prop_assert_eq!(total, available, "no rounds are open");
        let Some((tx, kind, amount)) = parsed else {
            prop_assert_ne!(code, 0, "an invalid request succeeded: {}", reply.body);
            prop_assert_eq!(total, self.balance, "a refused request moved money");
            return Ok(());
        };
        match self.txs.get(&tx) {
            Some(seen) if seen.0 == kind && seen.1 == amount => {
                prop_assert_eq!(code, 0, "a replay must return the original outcome");
                prop_assert_eq!(total, self.balance);
            }
            Some(_) => {
                prop_assert_eq!(code, 7, "same transactionId, other parameters");
                prop_assert_eq!(total, self.balance);
            }
            None => self.expect_new(code, tx, kind, amount, total)?,
        }
        self.balance = total;
        Ok(())
    }

    fn expect_new(
        &mut self,
        code: i64,
        tx: String,
        kind: i64,
        amount: Option<i64>,
        total: i64,
    ) -> Result<(), TestCaseError> {
        let delta = match (kind, amount) {
            (-1, Some(a)) => self.balance.checked_add(a).map(|_| a),
            (0, _) => Some(-self.balance),
            (_, Some(a)) if a <= self.balance => Some(-a),
            _ => None,
        };
        match delta {
            Some(d) => {
                prop_assert_eq!(code, 0);
                prop_assert_eq!(total, self.balance + d);
                self.txs.insert(tx, (kind, amount, d));
            }
            None => {
                prop_assert!(code == 8 || code == 1, "refused: {}", code);
                prop_assert_eq!(total, self.balance);
            }
        }
        Ok(())
    }
}

fn with_model(cases: u32, f: impl Fn(&tokio::runtime::Runtime, &RefCell<Model>, &mut TestRunner)) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (server, model) = rt.block_on(async {
        let server = TestServer::start().await;
        let mut client = server.client().await;
        let wallet = client.login("prop-player", "pw").await;
        let model = Model {
            client,
            wallet,
            balance: 0,
            txs: HashMap::new(),
            accepted: 0,
            refused: 0,
        };
        (server, model)
    });
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let model = RefCell::new(model);
    f(&rt, &model, &mut runner);
    rt.block_on(server.stop());
}

#[test]
fn arbitrary_wallet_bodies_move_money_only_when_valid() {
    with_model(300, |rt, model, runner| {
        let wallet = model.borrow().wallet.clone();
        let strategy = (
            prop::bool::weighted(0.6),
            wallet_body(wallet.clone(), "d-"),
            wallet_body(wallet, "w-"),
        );
        let result = runner.run(&strategy, |(deposit, d_body, w_body)| {
            let (path, body) = if deposit {
                (DEPOSIT, d_body)
            } else {
                (WITHDRAW, w_body)
            };
            let mut m = model.borrow_mut();
            let parsed = parse(&body, &m.wallet, deposit);
            rt.block_on(m.check(path, body.to_string().as_bytes(), parsed))
        });
        if let Err(e) = result {
            panic!("{e}");
        }
        let m = model.borrow();
        assert!(
            m.accepted > 30 && m.refused > 30,
            "{} / {}",
            m.accepted,
            m.refused
        );
    });
}

#[test]
fn arbitrary_bytes_are_refused_without_effect() {
    with_model(200, |rt, model, runner| {
        let bytes = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            any_json().prop_map(|v| v.to_string().into_bytes()),
        ];
        let strategy = (prop::sample::select(vec![DEPOSIT, WITHDRAW, QUERY]), bytes);
        let result = runner.run(&strategy, |(path, body)| {
            let mut m = model.borrow_mut();
            let text = String::from_utf8_lossy(&body).into_owned();
            // Lossy conversion may make a JSON document out of bytes; the model
            // judges exactly what is sent.
            let parsed = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| parse(&v, &m.wallet, path == DEPOSIT));
            if path == QUERY {
                let reply = rt.block_on(m.client.call(Method::POST, path, &text));
                prop_assert!([0, 1, 6].contains(&reply.code()), "{}", reply.body);
                let wallet = m.wallet.clone();
                let (total, _) = rt.block_on(m.client.balance(&wallet));
                prop_assert_eq!(total, m.balance);
                return Ok(());
            }
            rt.block_on(m.check(path, text.as_bytes(), parsed))
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    });
}
