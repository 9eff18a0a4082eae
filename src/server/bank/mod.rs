//! The bank wallet API, served by the engine: `POST /api/bank/balance`, `/deposit`,
//! `/withdraw`, `/getsingletransaction`, as the bank wallet API document describes
//! them (`docs/bank.md`).
//!
//! An operator in transfer mode moves money into and out of its players' platform
//! wallets this way ("transfer" words: a deposit credits the player, a withdrawal
//! debits it). The player is named by the operator's own identifier (`playerId`),
//! registered by `user/login`. Amounts are exact decimal strings of at most 8 places
//! (a JSON number's own text is accepted too), parsed with the currency's exponent and
//! never through a float; answers render amounts as exact decimals.
//!
//! Request life: [`sign`] checks the headers against the raw body → the body's fields
//! → one engine call, awaited until durable → `{traceId, data, code: 200, message}`.
//! Every refusal is HTTP 200 with `{traceId, code, message, path, timestamp}` and a
//! code of [`codes`], and changes nothing.

pub mod codes;
pub mod sign;

use super::dialect::{self, json_response, platform_tx_id, WalletRefusal};
use super::iso8601::iso8601_millis;
use super::request::json_string;
use super::App;
use crate::engine::{Engine, EngineError};
use crate::identity::types::{Operator, WalletMode};
use crate::ids::{Currency, PlayerId, TxId, WalletId};
use crate::ledger::error::LedgerError;
use crate::ledger::types::{DepositRequest, OpKind, Receipt, WithdrawAmount, WithdrawRequest};
use crate::money::Amount;
use codes::{BankCode, BankError};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::sync::Arc;

pub const BALANCE: &str = "/api/bank/balance";
pub const DEPOSIT: &str = "/api/bank/deposit";
pub const WITHDRAW: &str = "/api/bank/withdraw";
pub const SINGLE_TRANSACTION: &str = "/api/bank/getsingletransaction";

/// Longest `traceId` echoed, in bytes.
pub const MAX_TRACE_ID_LEN: usize = 128;

/// The bank endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Balance,
    Deposit,
    Withdraw,
    SingleTransaction,
}

/// The bank endpoint of a path, if it is one.
pub fn call_of(path: &str) -> Option<Call> {
    match path {
        BALANCE => Some(Call::Balance),
        DEPOSIT => Some(Call::Deposit),
        WITHDRAW => Some(Call::Withdraw),
        SINGLE_TRANSACTION => Some(Call::SingleTransaction),
        _ => None,
    }
}

/// A request body's fields, each as sent (absent or `null` is `None`).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BankBody<'a> {
    #[serde(borrow)]
    trace_id: Option<&'a RawValue>,
    #[serde(borrow)]
    player_id: Option<&'a RawValue>,
    #[serde(borrow)]
    currency: Option<&'a RawValue>,
    #[serde(borrow)]
    transfer_amount: Option<&'a RawValue>,
    #[serde(borrow)]
    reference_id: Option<&'a RawValue>,
}

/// Serves one bank request whose body was read (or refused: too large, unreadable).
pub(super) async fn dispatch(
    app: &App,
    call: Call,
    path: &str,
    method: &Method,
    headers: &HeaderMap,
    body: Result<Bytes, StatusCode>,
) -> (Response<Full<Bytes>>, i64) {
    let refusal = |status, e: BankError| {
        let now_ms = app.engine.clock().now_ms();
        (
            json_response(status, failure(None, &e, path, now_ms)),
            e.code.code(),
        )
    };
    match body {
        Ok(_) if method != Method::POST => refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            BankError::param("the bank endpoints take POST"),
        ),
        Ok(body) => {
            let (answer, code) = handle_coded(&app.engine, call, path, headers, &body).await;
            (json_response(StatusCode::OK, answer), code)
        }
        Err(status) => refusal(
            status,
            BankError::new(BankCode::LimitExceeded, super::body_refusal(status)),
        ),
    }
}

/// The answer to one POSTed bank request to `path`: the success envelope or the
/// error envelope (also the entry point of the `bank_request` fuzz target).
pub async fn handle(
    engine: &Engine,
    call: Call,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Vec<u8> {
    handle_coded(engine, call, path, headers, body).await.0
}

/// [`handle`], with the answer's code.
async fn handle_coded(
    engine: &Engine,
    call: Call,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (Vec<u8>, i64) {
    let (trace, result) = match parse(body) {
        Ok((fields, trace)) => (trace, serve(engine, call, headers, body, &fields).await),
        Err(e) => (None, Err(e)),
    };
    match result {
        Ok(data) => (
            render(&Success {
                trace_id: trace.as_deref(),
                data,
                code: BankCode::Success.code(),
                message: "Success",
            }),
            BankCode::Success.code(),
        ),
        Err(e) => (
            failure(trace.as_deref(), &e, path, engine.clock().now_ms()),
            e.code.code(),
        ),
    }
}

/// `{traceId, code, message, path, timestamp}`.
fn failure(trace: Option<&str>, e: &BankError, path: &str, now_ms: i64) -> Vec<u8> {
    render(&Failure {
        trace_id: trace,
        code: e.code.code(),
        message: &e.message,
        path,
        timestamp: iso8601_millis(now_ms),
    })
}

/// The body's fields and its `traceId` (a string of at most 128 bytes, required).
pub fn parse(body: &[u8]) -> Result<(BankBody<'_>, Option<String>), BankError> {
    if !super::request::is_json_object(body) {
        return Err(BankError::param("the body is not a JSON object"));
    }
    let fields: BankBody = serde_json::from_slice(body)
        .map_err(|e| BankError::param(format!("the body is not the expected JSON object: {e}")))?;
    let trace = string(fields.trace_id, "traceId")?;
    if trace.len() > MAX_TRACE_ID_LEN {
        return Err(BankError::param("traceId is longer than 128 bytes"));
    }
    let trace = trace.into_owned();
    Ok((fields, Some(trace)))
}

/// Checks the request's headers and signature; the operator it comes from.
pub fn authenticate(
    engine: &Engine,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Arc<Operator>, BankError> {
    let header = |name| {
        headers
            .get(&name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                BankError::new(BankCode::SignatureError, format!("missing header {name}"))
            })
    };
    let app_key = header(sign::API_KEY)?;
    let timestamp = header(sign::TIMESTAMP)?;
    let signature = header(sign::SIGNATURE)?;
    let refused = |why: &str| BankError::new(BankCode::SignatureError, why);
    let operator = engine
        .operator_by_app_key(app_key)
        .ok_or_else(|| refused("unknown X-API-Key"))?;
    if !sign::signature_matches(body, operator.app_secret.expose(), signature) {
        return Err(refused("signature error"));
    }
    let now = engine.clock().now_secs();
    let fresh = timestamp
        .parse()
        .is_ok_and(|ts| dialect::timestamp_fresh(ts, now));
    if !fresh {
        return Err(refused(
            "X-Timestamp must be Unix milliseconds within 300 s of the server's time",
        ));
    }
    if operator.wallet_mode != WalletMode::Transfer {
        return Err(BankError::new(
            BankCode::SeamlessOperator,
            "the operator keeps its players' money in its own wallet (seamless mode)",
        ));
    }
    Ok(operator)
}

async fn serve(
    engine: &Engine,
    call: Call,
    headers: &HeaderMap,
    body: &[u8],
    fields: &BankBody<'_>,
) -> Result<Data, BankError> {
    let op = authenticate(engine, headers, body)?;
    let target = Target::of(engine, &op, fields)?;
    match call {
        Call::Balance => balance(engine, &target),
        Call::Deposit => transfer(engine, &op, &target, fields, Direction::Deposit).await,
        Call::Withdraw => transfer(engine, &op, &target, fields, Direction::Withdraw).await,
        Call::SingleTransaction => single_transaction(engine, &target, fields).await,
    }
}

/// A required JSON string field.
fn string<'a>(raw: Option<&'a RawValue>, name: &str) -> Result<Cow<'a, str>, BankError> {
    let raw = raw.ok_or_else(|| BankError::param(format!("{name} is required")))?;
    json_string(raw.get()).ok_or_else(|| BankError::param(format!("{name} must be a string")))
}

/// A field that may be a JSON string or a JSON number: the string's contents, or the
/// number's own text (never read as a float).
fn text<'a>(raw: Option<&'a RawValue>, name: &str) -> Result<Cow<'a, str>, BankError> {
    match raw {
        Some(r)
            if r.get()
                .starts_with(|c: char| c == '-' || c.is_ascii_digit()) =>
        {
            Ok(Cow::Borrowed(r.get()))
        }
        _ => string(raw, name)
            .map_err(|_| BankError::param(format!("{name} must be a string or a number"))),
    }
}

/// The player, currency and wallet a call names.
struct Target {
    player: PlayerId,
    currency: Currency,
    exponent: u8,
    /// `None`: the player never had a wallet in this currency (a balance of 0).
    wallet: Option<WalletId>,
}

impl Target {
    fn of(engine: &Engine, op: &Operator, fields: &BankBody<'_>) -> Result<Target, BankError> {
        let player = text(fields.player_id, "playerId")?;
        let player =
            PlayerId::new(&player).map_err(|e| BankError::param(format!("playerId: {e}")))?;
        let currency = string(fields.currency, "currency")?;
        let currency =
            Currency::new(&currency).map_err(|e| BankError::param(format!("currency: {e}")))?;
        let unsupported = || {
            BankError::new(
                BankCode::CurrencyNotSupported,
                format!("{currency} is not one of the operator's currencies"),
            )
        };
        let exponent = engine
            .currency_exponent(&currency)
            .ok_or_else(unsupported)?;
        if !engine.has_player(&op.channel, &player) {
            return Err(BankError::new(
                BankCode::PlayerNotFound,
                format!("no player {player}"),
            ));
        }
        let wallet =
            dialect::player_wallet(engine, op, &player, &currency).map_err(|r| match r {
                WalletRefusal::Currency => unsupported(),
            })?;
        Ok(Target {
            player,
            currency,
            exponent,
            wallet,
        })
    }

    /// The bank error of `e`, with the amounts of an insufficient balance written as
    /// decimals of this currency (the ledger's message counts minor units).
    fn in_decimals(&self, e: EngineError) -> BankError {
        match e {
            EngineError::Ledger(LedgerError::InsufficientBalance { available, needed }) => {
                BankError::new(
                    BankCode::InsufficientBalance,
                    format!(
                        "insufficient balance: available {}, needed {}",
                        Amount::new(available).to_decimal(self.exponent),
                        Amount::new(needed).to_decimal(self.exponent)
                    ),
                )
            }
            e => e.into(),
        }
    }

    /// An amount as an exact decimal JSON number in this currency (`50.00`).
    fn decimal(&self, amount: Amount) -> Box<RawValue> {
        decimal_number(amount, self.exponent)
    }
}

/// `amount` as a JSON number with `exponent` decimal places.
fn decimal_number(amount: Amount, exponent: u8) -> Box<RawValue> {
    let text = amount.to_decimal(exponent);
    // Digits, an optional sign and one point: always a valid JSON number.
    RawValue::from_string(text).unwrap_or_else(|_| Box::<RawValue>::default())
}

/// What a successful call answers as `data`.
#[derive(Serialize)]
#[serde(untagged)]
enum Data {
    Balance(BalanceData),
    Transfer(TransferData),
    Transaction(TransactionData),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BalanceData {
    balance: Box<RawValue>,
    currency: String,
    player_id: String,
}

/// `/balance`: the player's available balance (what a withdrawal can take).
fn balance(engine: &Engine, t: &Target) -> Result<Data, BankError> {
    let available = match t.wallet {
        Some(wallet) => engine.balance(wallet)?.available,
        None => Amount::ZERO,
    };
    Ok(Data::Balance(BalanceData {
        balance: t.decimal(available),
        currency: t.currency.to_string(),
        player_id: t.player.to_string(),
    }))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Deposit,
    Withdraw,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TransferData {
    reference_id: String,
    transaction_id: String,
    player_id: String,
    currency: String,
    before_balance: Box<RawValue>,
    after_balance: Box<RawValue>,
    transfer_amount: Box<RawValue>,
    timestamp: i64,
}

/// `/deposit` and `/withdraw`: moves `transferAmount` into or out of the player's
/// wallet, once per `referenceId`. A new transfer while the player has a round open
/// is refused with 100003; a repeated one is answered with its first outcome.
async fn transfer(
    engine: &Engine,
    op: &Operator,
    t: &Target,
    fields: &BankBody<'_>,
    direction: Direction,
) -> Result<Data, BankError> {
    let tx = reference(fields)?;
    let amount_text = text(fields.transfer_amount, "transferAmount")?;
    let amount = Amount::parse_decimal(&amount_text, t.exponent)
        .map_err(|e| BankError::param(format!("transferAmount: {e}")))?;
    if !amount.is_positive() {
        return Err(BankError::param(
            "transferAmount must be at least 0.00000001",
        ));
    }
    let wallet = match (t.wallet, direction) {
        (Some(wallet), _) => wallet,
        (None, Direction::Deposit) => {
            // Refused before the wallet is opened: a refused deposit opens nothing.
            engine.admit_new_work()?;
            engine
                .open_wallet_pending(&op.channel, &t.player, &t.currency)
                .await?
        }
        (None, Direction::Withdraw) => {
            return Err(BankError::new(
                BankCode::InsufficientBalance,
                format!("insufficient balance: available 0, needed {amount_text}"),
            ))
        }
    };
    // Only a transfer the wallet has not seen waits for the round; a retry gets its
    // outcome (or its conflict) whatever the round does.
    if engine.has_open_round(wallet)? && engine.transaction_pending(wallet, &tx).await?.is_none() {
        return Err(BankError::new(
            BankCode::TransferInProgress,
            "Trading in progress: the player has a game round open",
        ));
    }
    let receipt = match direction {
        Direction::Deposit => {
            let req = DepositRequest { tx, amount };
            engine.deposit_pending(wallet, &req).await?
        }
        Direction::Withdraw => {
            let req = WithdrawRequest {
                tx,
                amount: WithdrawAmount::Exact(amount),
            };
            engine
                .withdraw_pending(wallet, &req)
                .await
                .map_err(|e| t.in_decimals(e))?
        }
    };
    let (before, after) = balances(&receipt);
    Ok(Data::Transfer(TransferData {
        reference_id: receipt.tx.to_string(),
        transaction_id: platform_tx_id(wallet, &receipt.tx),
        player_id: t.player.to_string(),
        currency: t.currency.to_string(),
        before_balance: t.decimal(before),
        after_balance: t.decimal(after),
        transfer_amount: t.decimal(receipt.amount),
        timestamp: engine.clock().now_ms(),
    }))
}

/// The `referenceId`: the transfer's transaction id in the player's wallet.
fn reference(fields: &BankBody<'_>) -> Result<TxId, BankError> {
    // `refund:<id>` is allowed: it is how a seamless platform (pitboss among them)
    // gives back a bet it withdrew as `<id>` (docs/bank.md).
    let raw = string(fields.reference_id, "referenceId")?;
    TxId::new(&raw).map_err(|e| BankError::param(format!("referenceId: {e}")))
}

/// Whether a kind of transaction credits the wallet (`DEPOSIT`) or debits it
/// (`WITHDRAWAL`). Closing a round moves no money: a withdrawal of 0.
fn credits(kind: OpKind) -> bool {
    match kind {
        OpKind::Deposit | OpKind::Win | OpKind::Refund | OpKind::Prize => true,
        OpKind::Withdraw | OpKind::Bet | OpKind::EndRound => false,
    }
}

/// The available balance before and after a transaction, from its receipt.
fn balances(r: &Receipt) -> (Amount, Amount) {
    let after = r.balance.available;
    let before = if credits(r.kind) {
        after.checked_sub(r.amount)
    } else {
        after.checked_add(r.amount)
    };
    // The ledger moved `amount` from `before` to `after`, so `before` fits an i64.
    (before.unwrap_or(after), after)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TransactionData {
    player_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_id: Option<String>,
    reference_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_type: Option<&'static str>,
    transaction_status: &'static str,
    currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    transfer_amount: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    before_balance: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after_balance: Option<Box<RawValue>>,
    timestamp: i64,
}

/// `/getsingletransaction`: whether `referenceId` took effect in the player's wallet.
/// `SUCCESS` with its amounts if it did; `FAIL` if the wallet never applied it (it
/// never arrived, or was refused: a client may send it again).
async fn single_transaction(
    engine: &Engine,
    t: &Target,
    fields: &BankBody<'_>,
) -> Result<Data, BankError> {
    let tx = reference(fields)?;
    let receipt = match t.wallet {
        Some(wallet) => engine.transaction_pending(wallet, &tx).await?,
        None => None,
    };
    let mut data = TransactionData {
        player_id: t.player.to_string(),
        transaction_id: None,
        reference_id: tx.to_string(),
        transaction_type: None,
        transaction_status: "FAIL",
        currency: t.currency.to_string(),
        transfer_amount: None,
        before_balance: None,
        after_balance: None,
        timestamp: engine.clock().now_ms(),
    };
    if let Some(r) = receipt {
        let (before, after) = balances(&r);
        data.transaction_id = Some(platform_tx_id(r.wallet, &r.tx));
        data.transaction_type = Some(if credits(r.kind) {
            "DEPOSIT"
        } else {
            "WITHDRAWAL"
        });
        data.transaction_status = "SUCCESS";
        data.transfer_amount = Some(t.decimal(r.amount));
        data.before_balance = Some(t.decimal(before));
        data.after_balance = Some(t.decimal(after));
    }
    Ok(Data::Transaction(data))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Success<'a> {
    trace_id: Option<&'a str>,
    data: Data,
    code: i64,
    message: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Failure<'a> {
    trace_id: Option<&'a str>,
    code: i64,
    message: &'a str,
    path: &'a str,
    timestamp: String,
}

fn render<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|_| {
        format!(
            r#"{{"traceId":null,"code":{},"message":"internal error"}}"#,
            BankCode::Internal.code()
        )
        .into_bytes()
    })
}
