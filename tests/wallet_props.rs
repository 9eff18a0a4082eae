//! Model-based property test of the two wallet APIs over real HTTP: random sequences
//! of gate calls (bet, win, refund, getBalance) and bank calls (deposit, withdraw,
//! getsingletransaction) on one player's wallet, drawn from small pools of
//! transaction and round ids so that duplicates, conflicts, refunds that overtake
//! their bets, wins after refunds and transfers during open rounds all happen. A
//! small sequential model, written from the rules in docs/gate.md and docs/bank.md,
//! predicts every answer; after every step the answer's code and balance, and the
//! wallet's balances, equal the model's.

mod common;
#[path = "common/http.rs"]
mod http;

use http::{TestServer, WalletClient, WalletReply};
use pitboss::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;
use std::collections::HashMap;

const PLAYER: &str = "prop-player";
const GAME: &str = "slot_alice";

#[derive(Clone, Debug)]
enum Op {
    Deposit {
        tx: u8,
        cents: i64,
    },
    Withdraw {
        tx: u8,
        cents: i64,
    },
    Single {
        tx: u8,
    },
    Bet {
        tx: u8,
        round: u8,
        amount: i64,
    },
    Win {
        tx: u8,
        round: u8,
        amount: i64,
        end: bool,
    },
    Refund {
        bet_tx: u8,
        /// The round the refund names; `None` in a generated step stands for the
        /// bet's own round (`Model::concrete` fills it in), so that most refunds
        /// name it and some name another.
        round: Option<u8>,
    },
    Balance,
}

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(1i64),
        Just(5),
        Just(50),
        Just(100),
        Just(1000),
        1i64..3000
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let tx = 0u8..10;
    let round = 0u8..4;
    prop_oneof![
        3 => (tx.clone(), amount()).prop_map(|(tx, cents)| Op::Deposit { tx, cents }),
        1 => (tx.clone(), amount()).prop_map(|(tx, cents)| Op::Withdraw { tx, cents }),
        1 => tx.clone().prop_map(|tx| Op::Single { tx }),
        4 => (tx.clone(), round.clone(), amount()).prop_map(|(tx, round, amount)| Op::Bet { tx, round, amount }),
        3 => (tx.clone(), round, 0i64..2000, any::<bool>())
            .prop_map(|(tx, round, amount, end)| Op::Win { tx, round, amount, end: end || amount % 3 != 0 }),
        2 => (tx, prop::option::weighted(0.2, 0u8..4)).prop_map(|(bet_tx, round)| Op::Refund { bet_tx, round }),
        1 => Just(Op::Balance),
    ]
}

fn tx_id(n: u8) -> String {
    format!("t{n}")
}

/// What a transaction id was used for, as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Params {
    Deposit(i64),
    Withdraw(i64),
    Bet {
        round: u8,
        amount: i64,
    },
    Win {
        round: u8,
        amount: i64,
        end: bool,
    },
    Refund {
        bet_tx: u8,
    },
    /// A refund named this id before any bet had it.
    Tombstone,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// Applied: the amount moved and the available balance right after.
    Applied {
        amount: i64,
        after: i64,
        credit: bool,
    },
    /// A refund of an unknown bet (it left a tombstone).
    UnknownBet,
    Tombstone,
}

#[derive(Default, Debug)]
struct Round {
    /// (bet tx, amount, refunded)
    bets: Vec<(u8, i64, bool)>,
    wins: u32,
    closed: bool,
}

impl Round {
    fn live(&self) -> i64 {
        self.bets.iter().filter(|b| !b.2).map(|b| b.1).sum()
    }
}

#[derive(Default, Debug)]
struct Model {
    available: i64,
    held: i64,
    txs: HashMap<String, (Params, Outcome)>,
    rounds: HashMap<u8, Round>,
}

/// An expected answer: success with a balance (gate: minor units; bank: the
/// available balance after), or a refusal with a code.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expect {
    Ok(i64),
    /// getsingletransaction: SUCCESS with the amount and balance after, or FAIL.
    Found(Option<(i64, i64)>),
    Err(i64),
}

impl Model {
    fn applied(&self, tx: &str) -> Option<&Outcome> {
        match self.txs.get(tx) {
            Some((_, o @ Outcome::Applied { .. })) => Some(o),
            _ => None,
        }
    }

    fn any_open_round(&self) -> bool {
        self.rounds.values().any(|r| !r.closed)
    }

    /// The answer to a repeated transaction id: the stored outcome if the parameters
    /// are the same, otherwise `conflict`.
    /// `op` with a refund's round filled in: the bet's own (`r0` for an id that is
    /// not a bet).
    fn concrete(&self, op: &Op) -> Op {
        match *op {
            Op::Refund {
                bet_tx,
                round: None,
            } => {
                let own = match self.txs.get(&tx_id(bet_tx)) {
                    Some((Params::Bet { round, .. }, _)) => *round,
                    _ => 0,
                };
                Op::Refund {
                    bet_tx,
                    round: Some(own),
                }
            }
            ref other => other.clone(),
        }
    }

    fn seen(&self, tx: &str, params: &Params, conflict: i64) -> Option<Expect> {
        let (stored, outcome) = self.txs.get(tx)?;
        Some(match (stored == params, outcome) {
            (true, Outcome::Applied { after, .. }) => Expect::Ok(*after),
            (true, Outcome::UnknownBet) => Expect::Err(20241004),
            _ => Expect::Err(conflict),
        })
    }

    fn record(&mut self, tx: String, params: Params, amount: i64, credit: bool) -> Expect {
        let after = self.available;
        self.txs.insert(
            tx,
            (
                params,
                Outcome::Applied {
                    amount,
                    after,
                    credit,
                },
            ),
        );
        Expect::Ok(after)
    }

    fn apply(&mut self, op: &Op) -> Expect {
        match *op {
            Op::Deposit { tx, cents } | Op::Withdraw { tx, cents } => {
                let deposit = matches!(op, Op::Deposit { .. });
                let id = tx_id(tx);
                if self.any_open_round() && self.applied(&id).is_none() {
                    return Expect::Err(100003);
                }
                let params = if deposit {
                    Params::Deposit(cents)
                } else {
                    Params::Withdraw(cents)
                };
                if let Some(e) = self.seen(&id, &params, 100012) {
                    return e;
                }
                if deposit {
                    self.available += cents;
                } else if cents > self.available {
                    return Expect::Err(100010);
                } else {
                    self.available -= cents;
                }
                self.record(id, params, cents, deposit)
            }
            Op::Single { tx } => Expect::Found(match self.applied(&tx_id(tx)) {
                Some(Outcome::Applied { amount, after, .. }) => Some((*amount, *after)),
                _ => None,
            }),
            Op::Bet { tx, round, amount } => {
                let id = tx_id(tx);
                if let Some(e) = self.seen(&id, &Params::Bet { round, amount }, 20241014) {
                    return e;
                }
                if self.rounds.get(&round).is_some_and(|r| r.closed) {
                    return Expect::Err(20241014);
                }
                if amount > self.available {
                    return Expect::Err(20241003);
                }
                self.available -= amount;
                self.held += amount;
                self.rounds
                    .entry(round)
                    .or_default()
                    .bets
                    .push((tx, amount, false));
                self.record(id, Params::Bet { round, amount }, amount, false)
            }
            Op::Win {
                tx,
                round,
                amount,
                end,
            } => {
                let id = tx_id(tx);
                let params = Params::Win { round, amount, end };
                if let Some(e) = self.seen(&id, &params, 20241015) {
                    return e;
                }
                let Some(r) = self.rounds.get_mut(&round) else {
                    return Expect::Err(20241010);
                };
                if r.closed || r.live() == 0 {
                    return Expect::Err(20241015);
                }
                self.available += amount;
                if end {
                    self.held -= r.live();
                    r.closed = true;
                } else {
                    r.wins += 1;
                }
                self.record(id, params, amount, true)
            }
            Op::Refund { bet_tx, round } => {
                // The gate checks the named round against the bet's before anything.
                if let Some((
                    Params::Bet {
                        round: own_round, ..
                    },
                    _,
                )) = self.txs.get(&tx_id(bet_tx))
                {
                    if Some(*own_round) != round {
                        return Expect::Err(20241010);
                    }
                }
                let own = format!("refund:{}", tx_id(bet_tx));
                if let Some(e) = self.seen(&own, &Params::Refund { bet_tx }, 20241015) {
                    return e;
                }
                let (round, amount) = match self.txs.get(&tx_id(bet_tx)) {
                    None => {
                        self.txs
                            .insert(own, (Params::Refund { bet_tx }, Outcome::UnknownBet));
                        self.txs
                            .insert(tx_id(bet_tx), (Params::Tombstone, Outcome::Tombstone));
                        return Expect::Err(20241004);
                    }
                    Some((Params::Bet { round, amount }, _)) => (*round, *amount),
                    Some(_) => return Expect::Err(20241004),
                };
                let r = self.rounds.get_mut(&round).expect("a bet's round");
                if r.closed || r.wins > 0 {
                    return Expect::Err(20241015);
                }
                if let Some(leg) = r.bets.iter_mut().find(|b| b.0 == bet_tx) {
                    leg.2 = true;
                }
                if r.live() == 0 {
                    r.closed = true;
                }
                self.available += amount;
                self.held -= amount;
                self.record(own, Params::Refund { bet_tx }, amount, true)
            }
            Op::Balance => Expect::Ok(self.available),
        }
    }
}

/// A decimal amount's text in the body (`"afterBalance":12.34`) as cents.
fn cents_of(reply: &WalletReply, key: &str) -> Option<i64> {
    let start = reply.text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let number: String = reply.text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let (whole, fraction) = number.split_once('.')?;
    assert_eq!(
        fraction.len(),
        2,
        "CNY amounts have two places: {}",
        reply.text
    );
    Some(whole.parse::<i64>().ok()? * 100 + fraction.parse::<i64>().ok()?)
}

fn decimal(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Sends `op` and reads its answer in the model's terms.
async fn send(client: &mut WalletClient, uid: i64, op: &Op) -> Expect {
    let bank = |tx: u8| json!({"traceId": "prop", "playerId": PLAYER, "currency": "CNY", "referenceId": tx_id(tx)});
    let gate = |tx: String, round: u8| json!({"uid": uid, "currency": "CNY", "game_id": GAME, "round_id": format!("r{round}"), "transaction_id": tx});
    let (reply, bank_call) = match *op {
        Op::Deposit { tx, cents } | Op::Withdraw { tx, cents } => {
            let mut body = bank(tx);
            body["transferAmount"] = json!(decimal(cents));
            let path = if matches!(op, Op::Deposit { .. }) {
                "/api/bank/deposit"
            } else {
                "/api/bank/withdraw"
            };
            (client.bank(path, body).await, true)
        }
        Op::Single { tx } => (
            client
                .bank("/api/bank/getsingletransaction", bank(tx))
                .await,
            true,
        ),
        Op::Bet { tx, round, amount } => {
            let mut body = gate(tx_id(tx), round);
            body["amount"] = json!(amount);
            (client.gate("/bet", body).await, false)
        }
        Op::Win {
            tx,
            round,
            amount,
            end,
        } => {
            let mut body = gate(tx_id(tx), round);
            body["amount"] = json!(amount);
            if !end {
                body["end_round"] = json!(false);
            }
            (client.gate("/win", body).await, false)
        }
        Op::Refund { bet_tx, round } => {
            let mut body = gate(String::new(), round.unwrap_or(0));
            let params = body.as_object_mut().expect("object");
            params.remove("transaction_id");
            params.insert("bet_transaction_id".into(), json!(tx_id(bet_tx)));
            (client.gate("/refund", body).await, false)
        }
        Op::Balance => {
            let reply = client
                .gate("/getBalance", json!({"uid": uid, "currency": "CNY"}))
                .await;
            let balance = reply.data()["balance"]
                .as_str()
                .expect("balance")
                .parse()
                .expect("digits");
            return Expect::Ok(balance);
        }
    };
    match (reply.code(), bank_call) {
        (200, true) if matches!(op, Op::Single { .. }) => {
            let found = reply.data()["transactionStatus"] == json!("SUCCESS");
            Expect::Found(found.then(|| {
                (
                    cents_of(&reply, "transferAmount").expect("amount"),
                    cents_of(&reply, "afterBalance").expect("after"),
                )
            }))
        }
        (200, true) => Expect::Ok(cents_of(&reply, "afterBalance").expect("afterBalance")),
        (0, false) => Expect::Ok(reply.data()["balance"].as_i64().expect("balance")),
        (code, _) => Expect::Err(code),
    }
}

fn check(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let server = TestServer::start().await;
        let mut platform = server.client().await;
        let login = platform
            .post(
                "/service/jsonapi/user/login",
                json!({"identifier": PLAYER, "credential": "pw"}),
            )
            .await;
        let uid: i64 = login.data()["userId"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("uid");
        let wallet = WalletId(
            login.data()["walletId"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("wallet"),
        );
        let mut client = server.wallet().await;
        let mut model = Model::default();
        for (step, op) in ops.iter().enumerate() {
            let op = &model.concrete(op);
            let expected = model.apply(op);
            let actual = send(&mut client, uid, op).await;
            prop_assert_eq!(&actual, &expected, "step {} {:?}", step, op);
            let balance = server.engine.balance(wallet).expect("balance");
            prop_assert_eq!(
                balance.available.minor_units(),
                model.available,
                "available after step {}",
                step
            );
            prop_assert_eq!(
                balance.total.minor_units(),
                model.available + model.held,
                "total after step {}",
                step
            );
        }
        server.stop().await;
        Ok(())
    })
}

#[test]
fn gate_and_bank_calls_agree_with_the_model() {
    let cases = std::env::var("WALLET_PROP_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(48);
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(op(), 1..80), check)
        .expect("the wallet APIs agree with the model");
}
