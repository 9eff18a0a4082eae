//! Fuzz entry points of the two wallet APIs: arbitrary bytes as a short sequence of
//! gate or bank requests, each taken through the whole request path (parsing,
//! signature, typed fields, the engine call, the answer) against a fresh in-memory
//! engine with one operator and one funded player.
//!
//! Input: requests separated by the byte `0xFF`. A request's first byte chooses the
//! endpoint (low two bits), whether the harness signs it correctly (bit 2: so that
//! the fuzzer reaches past the signature check), and whether it points it at the
//! funded player (bit 3); the rest is the body.

use crate::catalog::game::{GameStatus, NewGame};
use crate::engine::{Engine, EngineConfig};
use crate::identity::secrets::Argon2Params;
use crate::identity::types::{NewOperator, WalletMode};
use crate::identity::IdentityConfig;
use crate::ids::{ChannelId, ClientId, Currency, GameId, Label, PlayerId, TxId};
use crate::ledger::types::DepositRequest;
use crate::money::Amount;
use crate::server::{bank, gate};
use crate::ManualClock;
use hyper::HeaderMap;
use serde_json::{Map, Value};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// 2025-03-07T06:51:20Z.
const NOW_MS: i64 = 1_741_330_280_000;
/// Requests in one input, at most.
const MAX_REQUESTS: usize = 8;

/// Runs a future that never waits: the in-memory engine's durability is immediate.
fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("an in-memory engine never waits"),
    }
}

/// A fresh engine with one transfer-mode operator, one game and one funded player.
pub(super) struct World {
    pub(super) engine: Arc<Engine>,
    app_key: String,
    app_secret: String,
    uid: u64,
}

pub(super) fn world() -> Option<World> {
    let config = EngineConfig {
        identity: IdentityConfig {
            argon2: Argon2Params::insecure_for_tests(),
            ..IdentityConfig::default()
        },
        ledger: super::ONE_SHARD,
        ..EngineConfig::default()
    };
    let engine = Arc::new(Engine::in_memory_with_clock(
        config,
        Arc::new(ManualClock::new(NOW_MS)),
    ));
    engine
        .register_game(NewGame {
            record: None,
            id: GameId::new("slot_alice").ok()?,
            kind: Label::new("slot_alice").ok()?,
            serial: 1,
            developer: Label::default(),
            uri: String::new(),
            status: GameStatus::Online,
            config: String::new(),
            version: None,
        })
        .ok()?;
    let op = engine
        .create_operator(NewOperator {
            client_id: ClientId::new("fuzz").ok()?,
            channel: ChannelId::new("fuzz").ok()?,
            currencies: vec![Currency::new("CNY").ok()?, Currency::new("JPY").ok()?],
            wallet_mode: WalletMode::Transfer,
            password: "pw".into(),
        })
        .ok()?;
    let session = engine
        .login_player(&op, &PlayerId::new("p1").ok()?, "pw")
        .ok()?;
    let fund = DepositRequest {
        tx: TxId::new("fund").ok()?,
        amount: Amount::new(1_000_000),
    };
    engine.deposit(session.wallet, &fund).ok()?;
    Some(World {
        app_key: op.app_key.clone(),
        app_secret: op.app_secret.expose().to_owned(),
        uid: session.login.player.uid.0,
        engine,
    })
}

/// The body as a JSON object, if it is one.
fn object(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// Gate requests from fuzz bytes. Panics only if something breaks: an answer that is
/// not JSON of the dialect's shape, a signature that does not round-trip, or a
/// ledger invariant.
pub fn gate_requests(data: &[u8]) {
    let Some(world) = world() else { return };
    for request in data.split(|b| *b == 0xFF).take(MAX_REQUESTS) {
        let Some((&selector, body)) = request.split_first() else {
            continue;
        };
        let op = [
            gate::codes::Operation::Balance,
            gate::codes::Operation::Bet,
            gate::codes::Operation::Win,
            gate::codes::Operation::Refund,
        ][usize::from(selector & 3)];
        let mut body = body.to_vec();
        if let Ok(params) = gate::params::GateParams::parse(&body) {
            let sign = hex::encode(params.digest("secret"));
            assert!(params.signature_matches(&sign, "secret"));
            assert!(params.signature_matches(&sign.to_uppercase(), "secret"));
        }
        if selector & 4 != 0 {
            if let Some(mut map) = object(&body) {
                map.insert("app_key".into(), world.app_key.clone().into());
                map.insert("timestamp".into(), (NOW_MS / 1000).into());
                if selector & 8 != 0 {
                    map.insert("uid".into(), world.uid.into());
                }
                map.remove("sign");
                let unsigned = Value::Object(map.clone()).to_string();
                if let Ok(sign) = gate::params::sign_body(unsigned.as_bytes(), &world.app_secret) {
                    map.insert("sign".into(), sign.into());
                }
                body = Value::Object(map).to_string().into_bytes();
            }
        }
        let answer = run_ready(gate::handle(&world.engine, op, &body));
        // A fuzz target's assertion: an answer that is not JSON is the bug it looks for.
        #[allow(clippy::expect_used)]
        let answer: Value = serde_json::from_slice(&answer).expect("a gate answer is JSON");
        let shaped = answer.get("success").is_some()
            || (answer.get("code").is_some() && answer.get("msg").is_some());
        assert!(shaped, "not the gate's shape: {answer}");
    }
    world.engine.check_invariants();
}

/// Bank requests from fuzz bytes; also exact decimal amounts, both ways.
pub fn bank_requests(data: &[u8]) {
    let Some(world) = world() else { return };
    for request in data.split(|b| *b == 0xFF).take(MAX_REQUESTS) {
        let Some((&selector, body)) = request.split_first() else {
            continue;
        };
        let (call, path) = [
            (bank::Call::Balance, bank::BALANCE),
            (bank::Call::Deposit, bank::DEPOSIT),
            (bank::Call::Withdraw, bank::WITHDRAW),
            (bank::Call::SingleTransaction, bank::SINGLE_TRANSACTION),
        ][usize::from(selector & 3)];
        if let Ok(text) = std::str::from_utf8(body) {
            let exponent = selector >> 4;
            if let Ok(amount) = Amount::parse_decimal(text, exponent) {
                let back = Amount::parse_decimal(&amount.to_decimal(exponent), exponent);
                assert_eq!(back, Ok(amount), "{text:?} at exponent {exponent}");
            }
        }
        let mut body = body.to_vec();
        if selector & 8 != 0 {
            if let Some(mut map) = object(&body) {
                map.insert("playerId".into(), "p1".into());
                body = Value::Object(map).to_string().into_bytes();
            }
        }
        let mut headers = HeaderMap::new();
        if selector & 4 != 0 {
            let signed =
                bank::sign::signed_headers(&world.app_key, &world.app_secret, NOW_MS, &body);
            for (name, value) in signed.into_iter().flatten() {
                headers.insert(name, value);
            }
        }
        let answer = run_ready(bank::handle(&world.engine, call, path, &headers, &body));
        #[allow(clippy::expect_used)]
        let answer: Value = serde_json::from_slice(&answer).expect("a bank answer is JSON");
        assert!(
            answer.get("code").is_some_and(Value::is_i64),
            "no code: {answer}"
        );
        assert!(answer.get("traceId").is_some(), "no traceId: {answer}");
    }
    world.engine.check_invariants();
}
