//! Seamless calls over HTTP: the engine's [`RemoteWallets`] transport, in the
//! operator's dialect, through the bounded [`OutboundClient`].
//!
//! | call | gate wallet | bank wallet |
//! | --- | --- | --- |
//! | balance | `/getBalance` | `/api/bank/balance` |
//! | bet | `/bet` | `/api/bank/withdraw`, `referenceId` = the bet's id |
//! | credit (win) | `/win` | `/api/bank/deposit`, `referenceId` = the win's id (a win of 0: `/api/bank/balance`) |
//! | prize | (none: declined) | `/api/bank/deposit`, `referenceId` = the prize's id |
//! | refund of a bet | `/refund` | `/api/bank/getsingletransaction` of the bet, then, if it happened, `/api/bank/deposit` with `referenceId` = `refund:` + the bet's id |
//!
//! What an answer means ([`RemoteAnswer`]): success is `Done` with the balance after
//! the call; insufficient balance and an unknown player are `Declined`; a gate
//! 20241004 or a bank `FAIL` for a refund is `NoSuchBet`; a gate 20241002, a bank
//! 100003 or 100099, a time-out, a broken connection, an HTTP status other than 200
//! or a body not understood is `Unknown`; any other refusal is `Declined`. Amounts of
//! the bank dialect are read from their own text ([`Amount::parse_decimal`]).

use super::bank::codes::BankCode;
use super::gate::codes::GateCode;
use super::outbound::{OutboundClient, OutboundError, WalletCredentials};
use crate::identity::types::WalletDialect;
use crate::ids::{GameId, RoundId, TxId};
use crate::money::Amount;
use crate::seamless::{Decline, RemoteAnswer, RemoteCall, RemoteOp, RemoteWallets};
use hyper::body::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The HTTP transport of seamless calls.
pub struct HttpRemoteWallets {
    client: Arc<OutboundClient>,
}

impl HttpRemoteWallets {
    pub fn new(client: Arc<OutboundClient>) -> HttpRemoteWallets {
        HttpRemoteWallets { client }
    }
}

impl RemoteWallets for HttpRemoteWallets {
    fn send(&self, call: RemoteCall) -> Pin<Box<dyn Future<Output = RemoteAnswer> + Send>> {
        let client = self.client.clone();
        Box::pin(async move {
            match call.to.wallet.dialect {
                WalletDialect::Gate => gate(&client, &call).await,
                WalletDialect::Bank => bank(&client, &call).await,
            }
        })
    }
}

fn credentials(call: &RemoteCall) -> WalletCredentials {
    WalletCredentials {
        client_id: call.to.client_id.clone(),
        app_key: call.to.app_key.clone(),
        app_secret: call.to.app_secret.expose().to_owned(),
    }
}

/// A transport failure: nothing was sent (busy), or the outcome is unknown.
fn failed(e: OutboundError) -> RemoteAnswer {
    match e {
        OutboundError::Busy => RemoteAnswer::Busy,
        other => RemoteAnswer::Unknown(other.to_string()),
    }
}

/// What a wallet's answer `body` to `op` means, in `dialect` (a bank refund's
/// answer is that of its `getsingletransaction`): the readers the transport uses,
/// over bytes, for the `wallet_answers` fuzz target. Anything a wallet sends is
/// untrusted input: no answer may panic, and a balance is read exactly or not at all.
pub fn read_answer(
    dialect: WalletDialect,
    op: &RemoteOp,
    body: &[u8],
    exponent: u8,
) -> RemoteAnswer {
    let bytes = Bytes::copy_from_slice(body);
    match (dialect, op) {
        (WalletDialect::Gate, _) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(answer) => read_gate(op, &answer),
            Err(e) => RemoteAnswer::Unknown(format!("gate: unreadable answer: {e}")),
        },
        (WalletDialect::Bank, RemoteOp::Refund { .. }) => match read_bank_status(&bytes) {
            Ok(true) => RemoteAnswer::Done {
                balance: Amount::ZERO,
            },
            Ok(false) => RemoteAnswer::NoSuchBet,
            Err(answer) => answer,
        },
        (WalletDialect::Bank, _) => read_bank(&bytes, exponent),
    }
}

// --- gate ---------------------------------------------------------------------------

/// The gate codes that say something other than "refused" (the codes pitboss's own
/// gate endpoints answer with).
const GATE_USER_NOT_FOUND: i64 = GateCode::UserNotFound as i64;
const GATE_SYSTEM_ERROR: i64 = GateCode::SystemError as i64;
const GATE_INSUFFICIENT: i64 = GateCode::InsufficientBalance as i64;
const GATE_BET_NOT_FOUND: i64 = GateCode::BetNotFound as i64;

async fn gate(client: &OutboundClient, call: &RemoteCall) -> RemoteAnswer {
    let mut params = Map::new();
    params.insert("uid".into(), json!(call.to.uid.0));
    params.insert("currency".into(), json!(call.currency.as_str()));
    let path = match &call.op {
        RemoteOp::Balance => "/getBalance",
        RemoteOp::Bet {
            tx,
            round,
            game,
            amount,
        } => {
            round_params(&mut params, tx, round, game, *amount);
            "/bet"
        }
        RemoteOp::Credit {
            tx,
            round,
            game,
            amount,
            end_round,
        } => {
            round_params(&mut params, tx, round, game, *amount);
            if !end_round {
                params.insert("end_round".into(), json!(false));
            }
            "/win"
        }
        RemoteOp::Prize { .. } => {
            return RemoteAnswer::Declined {
                reason: Decline::Refused,
                message: "the gate wallet API has no call for a prize".into(),
            }
        }
        RemoteOp::Refund {
            bet_tx,
            round,
            game,
            ..
        } => {
            params.insert("bet_transaction_id".into(), json!(bet_tx.as_str()));
            params.insert("round_id".into(), json!(round.as_str()));
            params.insert("game_id".into(), json!(game.as_str()));
            "/refund"
        }
    };
    let answer = match client
        .gate(&credentials(call), &call.to.wallet, path, params)
        .await
    {
        Ok(answer) => answer,
        Err(e) => return failed(e),
    };
    read_gate(&call.op, &answer)
}

/// The parameters a gate `/bet` and `/win` share.
fn round_params(
    params: &mut Map<String, Value>,
    tx: &TxId,
    round: &RoundId,
    game: &GameId,
    amount: Amount,
) {
    params.insert("transaction_id".into(), json!(tx.as_str()));
    params.insert("round_id".into(), json!(round.as_str()));
    params.insert("game_id".into(), json!(game.as_str()));
    params.insert("amount".into(), json!(amount.minor_units()));
}

/// A gate answer: `/getBalance` is `{code: 0, data: {balance: "…"}}`, the round
/// calls `{success: true, data: {balance: n}}` or `{success: false, code}`. The
/// document's own failure example has no `code`, only `error_tip` ("错误码：20241015,
/// …"): the code is read from there then. An answer that contradicts itself (a
/// success with an error code, a code 0 with `success: false`) is not a success.
fn read_gate(op: &RemoteOp, answer: &Value) -> RemoteAnswer {
    let balance = match &answer["data"]["balance"] {
        Value::String(s) => s.parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    };
    let message = answer["error_tip"]
        .as_str()
        .or_else(|| answer["msg"].as_str())
        .unwrap_or("")
        .to_owned();
    let code = match &answer["code"] {
        Value::Null => code_in_tip(&message),
        code => code.as_i64(),
    };
    let success = answer["success"].as_bool();
    let ok = match op {
        RemoteOp::Balance => code == Some(0) && success != Some(false),
        _ => success == Some(true) && code.is_none_or(|c| c == 0),
    };
    if ok {
        return match balance {
            Some(b) => RemoteAnswer::Done {
                balance: Amount::new(b),
            },
            None => RemoteAnswer::Unknown("a success without a balance".into()),
        };
    }
    match code {
        Some(GATE_INSUFFICIENT) => RemoteAnswer::Declined {
            reason: Decline::InsufficientBalance,
            message,
        },
        Some(GATE_USER_NOT_FOUND) => RemoteAnswer::Declined {
            reason: Decline::UnknownPlayer,
            message,
        },
        Some(GATE_BET_NOT_FOUND) if matches!(op, RemoteOp::Refund { .. }) => {
            RemoteAnswer::NoSuchBet
        }
        Some(GATE_SYSTEM_ERROR) | None => RemoteAnswer::Unknown(format!("gate: {message}")),
        Some(_) => RemoteAnswer::Declined {
            reason: Decline::Refused,
            message,
        },
    }
}

/// The code in a gate `error_tip` of the document's form, "错误码：20241015, 错误信息：…".
fn code_in_tip(tip: &str) -> Option<i64> {
    let (_, rest) = tip.split_once("错误码")?;
    let rest = rest.trim_start_matches([':', '：', ' ']);
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    rest[..digits].parse().ok()
}

// --- bank ---------------------------------------------------------------------------

const BANK_SUCCESS: i64 = BankCode::Success as i64;
const BANK_IN_PROGRESS: i64 = BankCode::TransferInProgress as i64;
const BANK_INSUFFICIENT: i64 = BankCode::InsufficientBalance as i64;
const BANK_PLAYER_NOT_FOUND: i64 = BankCode::PlayerNotFound as i64;
const BANK_INTERNAL: i64 = BankCode::Internal as i64;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BankAnswer<'a> {
    code: Option<i64>,
    message: Option<String>,
    #[serde(borrow)]
    data: Option<BankData<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BankData<'a> {
    #[serde(borrow)]
    balance: Option<&'a RawValue>,
    #[serde(borrow)]
    after_balance: Option<&'a RawValue>,
    transaction_status: Option<String>,
}

async fn bank(client: &OutboundClient, call: &RemoteCall) -> RemoteAnswer {
    let exponent = call.to.currency_exponent;
    let transfer = |path: &'static str, reference: String, amount: Amount| {
        (
            path,
            json!({
                "traceId": uuid::Uuid::new_v4().to_string(),
                "playerId": call.player.as_str(),
                "currency": call.currency.as_str(),
                "transferAmount": amount.to_decimal(exponent),
                "referenceId": reference,
            }),
        )
    };
    let (path, body) = match &call.op {
        // A lost round credits nothing, and a bank transfer of zero is refused: its
        // answer is the balance.
        RemoteOp::Balance
        | RemoteOp::Credit {
            amount: Amount::ZERO,
            ..
        } => (
            "/api/bank/balance",
            json!({
                "traceId": uuid::Uuid::new_v4().to_string(),
                "playerId": call.player.as_str(),
                "currency": call.currency.as_str(),
            }),
        ),
        RemoteOp::Bet { tx, amount, .. } => transfer("/api/bank/withdraw", tx.to_string(), *amount),
        RemoteOp::Credit { tx, amount, .. } | RemoteOp::Prize { tx, amount } => {
            transfer("/api/bank/deposit", tx.to_string(), *amount)
        }
        RemoteOp::Refund { bet_tx, amount, .. } => {
            // Did the bet happen? Only then is there anything to give back.
            let query = json!({
                "traceId": uuid::Uuid::new_v4().to_string(),
                "playerId": call.player.as_str(),
                "currency": call.currency.as_str(),
                "referenceId": bet_tx.as_str(),
            });
            let creds = credentials(call);
            let bytes = match client
                .bank_raw(
                    &creds,
                    &call.to.wallet,
                    "/api/bank/getsingletransaction",
                    &query,
                )
                .await
            {
                Ok(bytes) => bytes,
                Err(e) => return failed(e),
            };
            match read_bank_status(&bytes) {
                Ok(true) => {}
                Ok(false) => return RemoteAnswer::NoSuchBet,
                Err(answer) => return answer,
            }
            let reference = match crate::engine::refund_tx(bet_tx) {
                Ok(tx) => tx.to_string(),
                Err(e) => {
                    return RemoteAnswer::Declined {
                        reason: Decline::Refused,
                        message: e.to_string(),
                    }
                }
            };
            transfer("/api/bank/deposit", reference, *amount)
        }
    };
    match client
        .bank_raw(&credentials(call), &call.to.wallet, path, &body)
        .await
    {
        Ok(bytes) => read_bank(&bytes, exponent),
        Err(e) => failed(e),
    }
}

/// A bank answer's code as a [`RemoteAnswer`], for anything but success.
fn bank_refusal(code: Option<i64>, message: String) -> RemoteAnswer {
    match code {
        Some(BANK_INSUFFICIENT) => RemoteAnswer::Declined {
            reason: Decline::InsufficientBalance,
            message,
        },
        Some(BANK_PLAYER_NOT_FOUND) => RemoteAnswer::Declined {
            reason: Decline::UnknownPlayer,
            message,
        },
        Some(BANK_IN_PROGRESS | BANK_INTERNAL) | None => {
            RemoteAnswer::Unknown(format!("bank: {message}"))
        }
        Some(_) => RemoteAnswer::Declined {
            reason: Decline::Refused,
            message,
        },
    }
}

/// A balance or transfer answer: the balance after it, read exactly.
fn read_bank(bytes: &Bytes, exponent: u8) -> RemoteAnswer {
    let answer: BankAnswer<'_> = match serde_json::from_slice(bytes) {
        Ok(a) => a,
        Err(e) => return RemoteAnswer::Unknown(format!("bank: unreadable answer: {e}")),
    };
    let message = answer.message.unwrap_or_default();
    if answer.code != Some(BANK_SUCCESS) {
        return bank_refusal(answer.code, message);
    }
    let raw = answer.data.and_then(|d| d.after_balance.or(d.balance));
    let Some(raw) = raw else {
        return RemoteAnswer::Unknown("bank: a success without a balance".into());
    };
    // A number (`50.25`) or a string (`"50.25"`): the digits either way.
    let text = raw.get().trim_matches('"');
    match Amount::parse_decimal(text, exponent) {
        Ok(balance) => RemoteAnswer::Done { balance },
        Err(e) => RemoteAnswer::Unknown(format!("bank: balance {text}: {e}")),
    }
}

/// A `getsingletransaction` answer: `Ok(true)` if the transfer took effect,
/// `Ok(false)` if it did not (`FAIL`), else what the refusal means.
fn read_bank_status(bytes: &Bytes) -> Result<bool, RemoteAnswer> {
    let answer: BankAnswer<'_> = serde_json::from_slice(bytes)
        .map_err(|e| RemoteAnswer::Unknown(format!("bank: unreadable answer: {e}")))?;
    let message = answer.message.unwrap_or_default();
    if answer.code != Some(BANK_SUCCESS) {
        return Err(bank_refusal(answer.code, message));
    }
    match answer.data.and_then(|d| d.transaction_status).as_deref() {
        Some("SUCCESS") => Ok(true),
        Some("FAIL") => Ok(false),
        other => Err(RemoteAnswer::Unknown(format!(
            "bank: transaction status {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bank_balances_are_read_exactly() {
        let body = Bytes::from_static(
            br#"{"traceId":"t","data":{"afterBalance":50.25,"beforeBalance":0.00},"code":200,"message":"Success"}"#,
        );
        assert_eq!(
            read_bank(&body, 2),
            RemoteAnswer::Done {
                balance: Amount::new(5025)
            }
        );
        let zero = Bytes::from_static(br#"{"data":{"balance":0.00},"code":200}"#);
        assert_eq!(
            read_bank(&zero, 2),
            RemoteAnswer::Done {
                balance: Amount::ZERO
            }
        );
        let busy = Bytes::from_static(br#"{"code":100003,"message":"Trading in progress"}"#);
        assert!(matches!(read_bank(&busy, 2), RemoteAnswer::Unknown(_)));
        let poor = Bytes::from_static(br#"{"code":100010,"message":"insufficient"}"#);
        assert!(matches!(
            read_bank(&poor, 2),
            RemoteAnswer::Declined {
                reason: Decline::InsufficientBalance,
                ..
            }
        ));
    }

    #[test]
    fn gate_answers_mean_what_the_codes_say() {
        let bet = RemoteOp::Balance;
        let ok = json!({"code": 0, "msg": "success", "data": {"balance": "120"}});
        assert_eq!(
            read_gate(&bet, &ok),
            RemoteAnswer::Done {
                balance: Amount::new(120)
            }
        );
        let refund = RemoteOp::Refund {
            bet_tx: crate::ids::TxId::new("b").expect("id"),
            round: crate::ids::RoundId::new("r").expect("id"),
            game: crate::ids::GameId::new("g").expect("id"),
            amount: Amount::new(1),
        };
        let unknown_bet = json!({"success": false, "code": 20241004, "error_tip": "x"});
        assert_eq!(read_gate(&refund, &unknown_bet), RemoteAnswer::NoSuchBet);
        let system = json!({"success": false, "code": 20241002, "error_tip": "x"});
        assert!(matches!(
            read_gate(&refund, &system),
            RemoteAnswer::Unknown(_)
        ));
        // The document's own failure shape: the code only in `error_tip`.
        let seed_shape = json!({"success": false, "error_tip": "错误码：20241004, 错误信息:：无法找到下注的事务"});
        assert_eq!(read_gate(&refund, &seed_shape), RemoteAnswer::NoSuchBet);
        let bet = RemoteOp::Bet {
            tx: crate::ids::TxId::new("b").expect("id"),
            round: crate::ids::RoundId::new("r").expect("id"),
            game: crate::ids::GameId::new("g").expect("id"),
            amount: Amount::new(1),
        };
        let poor = json!({"success": false, "error_tip": "错误码:20241003"});
        assert!(matches!(
            read_gate(&bet, &poor),
            RemoteAnswer::Declined {
                reason: Decline::InsufficientBalance,
                ..
            }
        ));
        // No code anywhere: not known.
        let bare = json!({"success": false, "error_tip": "错误码：, oops"});
        assert!(matches!(read_gate(&bet, &bare), RemoteAnswer::Unknown(_)));
        // Answers that contradict themselves are not successes.
        let mixed = json!({"success": true, "code": 20241002, "data": {"balance": 5}});
        assert!(matches!(read_gate(&bet, &mixed), RemoteAnswer::Unknown(_)));
        let mixed_balance = json!({"success": false, "code": 0, "data": {"balance": "5"}});
        assert!(!matches!(
            read_gate(&RemoteOp::Balance, &mixed_balance),
            RemoteAnswer::Done { .. }
        ));
    }
}
