//! Wallet endpoints (Publisher Manual §4): deposit, withdraw, query. A wallet of another
//! operator's channel is "not found", exactly like a wallet that does not exist.

use crate::engine::REFUND_TX_PREFIX;
use crate::identity::types::{Operator, WalletMode};
use crate::ids::{TxId, WalletId};
use crate::ledger::types::{Balance, DepositRequest, Receipt, WithdrawAmount, WithdrawRequest};
use crate::server::envelope::{data, ApiError, ApiResult, ErrorCode};
use crate::server::request::{json, parse_id, positive_amount, wallet_id};
use crate::server::App;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

// The bodies borrow their strings from the request when they hold no escapes (the
// usual case): the hot wallet calls then parse without allocating.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DepositBody<'a> {
    #[serde(borrow)]
    wallet_id: Cow<'a, str>,
    /// The Publisher Manual's 4.1 example spells it `Amount` (docs/platform-api.md, Decisions).
    #[serde(alias = "Amount")]
    amount: i64,
    #[serde(borrow)]
    transaction_id: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WithdrawBody<'a> {
    #[serde(borrow)]
    wallet_id: Cow<'a, str>,
    /// Required for type 1; ignored (but type-checked) for type 0.
    amount: Option<i64>,
    #[serde(rename = "type")]
    kind: i64,
    #[serde(borrow)]
    transaction_id: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryBody<'a> {
    #[serde(borrow)]
    wallet_id: Cow<'a, str>,
}

#[derive(Serialize)]
struct BalanceOut {
    total: i64,
    available: i64,
}

impl From<Balance> for BalanceOut {
    fn from(b: Balance) -> Self {
        BalanceOut {
            total: b.total.minor_units(),
            available: b.available.minor_units(),
        }
    }
}

#[derive(Serialize)]
struct CreditChange {
    amount: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TransferOut {
    balance: BalanceOut,
    credit_change: [CreditChange; 1],
}

fn transfer_out(r: &Receipt) -> ApiResult {
    data(&TransferOut {
        balance: r.balance.into(),
        credit_change: [CreditChange {
            amount: r.amount.minor_units(),
        }],
    })
}

/// The wallet, if it exists and belongs to the caller's channel.
fn own_wallet(app: &App, op: &Operator, raw: &str) -> Result<WalletId, ApiError> {
    let wallet = wallet_id(raw)?;
    match app.engine.wallet_key(wallet) {
        Some(key) if key.channel == op.channel => Ok(wallet),
        _ => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("wallet {raw} not found"),
        )),
    }
}

/// Money moves in and out of platform wallets only for transfer-mode operators.
fn transfer_mode(op: &Operator) -> Result<(), ApiError> {
    match op.wallet_mode {
        WalletMode::Transfer => Ok(()),
        WalletMode::Seamless => Err(ApiError::new(
            ErrorCode::WrongState,
            "the operator uses seamless wallets: the platform holds no money to move",
        )),
    }
}

/// A transfer's `transactionId`: not one of the ids reserved for refunds of bets.
fn transaction_id(raw: &str) -> Result<TxId, ApiError> {
    if raw.starts_with(REFUND_TX_PREFIX) {
        return Err(ApiError::invalid(format!(
            "transactionId must not start with \"{REFUND_TX_PREFIX}\" (reserved for refunds of bets)"
        )));
    }
    parse_id("transactionId", raw, TxId::new)
}

/// §4.1: credits `amount`. Idempotent per (wallet, transactionId).
pub(super) async fn deposit(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: DepositBody = json(body)?;
    let req = DepositRequest {
        tx: transaction_id(&body.transaction_id)?,
        amount: positive_amount("amount", body.amount)?,
    };
    let wallet = own_wallet(app, op, &body.wallet_id)?;
    transfer_mode(op)?;
    transfer_out(&app.engine.deposit_pending(wallet, &req).await?)
}

/// §4.2: debits `amount` (type 1) or everything available (type 0).
pub(super) async fn withdraw(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: WithdrawBody = json(body)?;
    let amount = match (body.kind, body.amount) {
        (0, _) => WithdrawAmount::All,
        (1, Some(a)) => WithdrawAmount::Exact(positive_amount("amount", a)?),
        (1, None) => return Err(ApiError::invalid("amount is required for type 1")),
        _ => return Err(ApiError::invalid("type must be 0 (all) or 1 (amount)")),
    };
    let req = WithdrawRequest {
        tx: transaction_id(&body.transaction_id)?,
        amount,
    };
    let wallet = own_wallet(app, op, &body.wallet_id)?;
    transfer_mode(op)?;
    transfer_out(&app.engine.withdraw_pending(wallet, &req).await?)
}

#[derive(Serialize)]
struct QueryOut<'a> {
    id: &'a str,
    #[serde(flatten)]
    balance: BalanceOut,
}

/// §4.3: the wallet's balance; `id` echoes the wallet id.
pub(super) fn query(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: QueryBody = json(body)?;
    let wallet = own_wallet(app, op, &body.wallet_id)?;
    // A seamless player's money is in the operator's own wallet: the balance here
    // (always 0) would mislead.
    transfer_mode(op)?;
    let balance = app.engine.balance(wallet)?;
    data(&QueryOut {
        id: &body.wallet_id,
        balance: balance.into(),
    })
}
