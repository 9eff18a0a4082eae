//! The gate wallet API, served by the engine: `POST /getBalance`, `/bet`, `/win`,
//! `/refund`, as the gate wallet API document describes them (`docs/gate.md`).
//!
//! A game server that does not embed the engine plays rounds this way, naming the
//! operator by `app_key` and the player by the platform's numeric `uid` (which the
//! operator learns from `user/login`). For a transfer-mode operator the money moves
//! in the platform's ledger; for a seamless one each call goes on to the operator's
//! own wallet (`Engine::seamless_bet` and the rest). Each call is one engine call,
//! exactly the one an embedder makes, so rounds played here write the same game
//! records and score in the same tournaments.
//!
//! Request life: [`params::GateParams::parse`] → [`authenticate`] (app_key,
//! signature, timestamp) → the typed fields → one engine call, awaited until durable
//! → the response in the document's shape. Every refusal is answered with HTTP 200
//! and a `2024xxxx` code ([`codes`]), and changes nothing (a refund of an unknown bet
//! leaves its tombstone, by design).

pub mod codes;
pub mod params;

use super::dialect::{self, json_response, platform_tx_id, WalletRefusal};
use super::App;
use crate::catalog::game::GameStatus;
use crate::engine::Engine;
use crate::engine::{refund_tx, REFUND_TX_PREFIX};
use crate::identity::types::{Operator, Uid};
use crate::ids::{Currency, GameId, IdError, PlayerId, RoundId, TxId, WalletId};
use crate::ledger::error::LedgerError;
use crate::ledger::types::{BetRequest, PlayMeta, RefundRequest, WinBreakdown, WinRequest};
use crate::money::Amount;
use codes::{engine_error, GateCode, GateError, Operation};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Response, StatusCode};
use params::GateParams;
use serde::Serialize;
use std::sync::Arc;

pub const GET_BALANCE: &str = "/getBalance";
pub const BET: &str = "/bet";
pub const WIN: &str = "/win";
pub const REFUND: &str = "/refund";

/// Gate transaction ids are at most this long, so that a refund's own id fits the
/// ledger's 128 bytes: the gate's `/refund` names only the bet, so the refund's id is
/// derived from it (`engine::refund_tx`, `refund:` and the bet's id), and a repeated
/// refund is the same transaction, answered with the first one's outcome.
pub const MAX_TX_ID_LEN: usize = 120;

/// The gate endpoint of a path, if it is one.
pub fn operation_of(path: &str) -> Option<Operation> {
    match path {
        GET_BALANCE => Some(Operation::Balance),
        BET => Some(Operation::Bet),
        WIN => Some(Operation::Win),
        REFUND => Some(Operation::Refund),
        _ => None,
    }
}

/// Serves one gate request whose body was read (or refused: too large, unreadable);
/// the answer and its code (0 for success).
pub(super) async fn dispatch(
    app: &App,
    op: Operation,
    method: &Method,
    body: Result<Bytes, StatusCode>,
) -> (Response<Full<Bytes>>, i64) {
    let refused = |status, e: GateError| (json_response(status, error_body(op, &e)), e.code.code());
    match body {
        Ok(_) if method != Method::POST => refused(
            StatusCode::METHOD_NOT_ALLOWED,
            GateError::new(GateCode::InvalidData, "the gate endpoints take POST"),
        ),
        Ok(body) => {
            let (answer, code) = handle_coded(&app.engine, op, &body).await;
            (json_response(StatusCode::OK, answer), code)
        }
        Err(status) => refused(
            status,
            GateError::new(GateCode::BadData, super::body_refusal(status)),
        ),
    }
}

/// The answer to one POSTed gate request: the success body, or the error body of
/// the call (also the entry point of the `gate_request` fuzz target).
pub async fn handle(engine: &Engine, op: Operation, body: &[u8]) -> Vec<u8> {
    handle_coded(engine, op, body).await.0
}

/// [`handle`], with the answer's code (0 for success).
async fn handle_coded(engine: &Engine, op: Operation, body: &[u8]) -> (Vec<u8>, i64) {
    match serve(engine, op, body).await {
        Ok(body) => (body, 0),
        Err(e) => (error_body(op, &e), e.code.code()),
    }
}

/// Authenticates and runs one call; the rendered success body.
async fn serve(engine: &Engine, op: Operation, body: &[u8]) -> Result<Vec<u8>, GateError> {
    let params = GateParams::parse(body)?;
    let operator = authenticate(engine, &params)?;
    match op {
        Operation::Balance => balance(engine, &operator, &params).await,
        Operation::Bet => bet(engine, &operator, &params).await,
        Operation::Win => win(engine, &operator, &params).await,
        Operation::Refund => refund(engine, &operator, &params).await,
    }
}

/// The operator a request comes from, once its app_key, signature and timestamp
/// have passed, in that order.
pub fn authenticate(engine: &Engine, params: &GateParams<'_>) -> Result<Arc<Operator>, GateError> {
    let app_key = params.str("app_key")?;
    let sign = params.str("sign")?;
    let timestamp = params.int("timestamp")?;
    let operator = engine
        .operator_by_app_key(app_key)
        .ok_or_else(|| GateError::new(GateCode::AppKey, "no operator has this app_key"))?;
    if !params.signature_matches(sign, operator.app_secret.expose()) {
        return Err(GateError::new(GateCode::BadSign, "bad sign"));
    }
    let now = engine.clock().now_secs();
    if !dialect::timestamp_fresh(timestamp, now) {
        return Err(GateError::new(
            GateCode::BadSign,
            format!("timestamp is more than 300 s from the server's time {now}"),
        ));
    }
    Ok(operator)
}

/// A validated identifier from a string parameter; a malformed one gets `code`.
fn id_param<T>(
    params: &GateParams<'_>,
    key: &str,
    code: GateCode,
    make: impl FnOnce(&str) -> Result<T, IdError>,
) -> Result<T, GateError> {
    make(params.str(key)?).map_err(|e| GateError::new(code, format!("{key}: {e}")))
}

/// A transaction id of the caller's: at most [`MAX_TX_ID_LEN`] bytes, not in the
/// namespace of derived refund ids.
fn tx_param(params: &GateParams<'_>, key: &str) -> Result<TxId, GateError> {
    let raw = params.str(key)?;
    if raw.len() > MAX_TX_ID_LEN || raw.starts_with(REFUND_TX_PREFIX) {
        return Err(GateError::new(
            GateCode::BadData,
            format!("{key} must be 1 to 120 bytes and not start with \"{REFUND_TX_PREFIX}\""),
        ));
    }
    TxId::new(raw).map_err(|e| GateError::new(GateCode::BadData, format!("{key}: {e}")))
}

/// The player (by `uid`) and currency a call names, and the player's wallet in it if
/// one was ever opened.
struct Target {
    uid: i64,
    currency: Currency,
    player: PlayerId,
    wallet: Option<WalletId>,
}

fn target(engine: &Engine, op: &Operator, params: &GateParams<'_>) -> Result<Target, GateError> {
    let uid = params.int("uid")?;
    let currency = id_param(params, "currency", GateCode::Currency, Currency::new)?;
    let unknown = || GateError::new(GateCode::UserNotFound, format!("no player has uid {uid}"));
    let key = u64::try_from(uid).map_err(|_| unknown())?;
    let (channel, player) = engine.player_by_uid(Uid(key)).ok_or_else(unknown)?;
    if channel != op.channel {
        return Err(GateError::new(
            GateCode::NotThisSystem,
            format!("uid {uid} is not a player of this operator"),
        ));
    }
    let wallet = dialect::player_wallet(engine, op, &player, &currency).map_err(|r| match r {
        WalletRefusal::Currency => GateError::new(
            GateCode::Currency,
            format!("{currency} is not one of the operator's currencies"),
        ),
    })?;
    Ok(Target {
        uid,
        currency,
        player,
        wallet,
    })
}

#[derive(Serialize)]
struct BalanceData {
    uid: String,
    currency: String,
    balance: String,
}

#[derive(Serialize)]
struct BalanceOut {
    code: i64,
    msg: &'static str,
    data: BalanceData,
}

/// `/getBalance`: the player's available balance, in minor units (as strings, as the
/// document shows). A player with no wallet in the currency has a balance of 0. For a
/// seamless operator, the balance its own wallet reports.
async fn balance(
    engine: &Engine,
    op: &Operator,
    params: &GateParams<'_>,
) -> Result<Vec<u8>, GateError> {
    let t = target(engine, op, params)?;
    let balance = match t.wallet {
        _ if engine.is_seamless(&op.channel) => engine
            .seamless_balance(&op.channel, &t.player, &t.currency)
            .await
            .map_err(|e| engine_error(Operation::Balance, e))?,
        Some(wallet) => {
            engine
                .balance(wallet)
                .map_err(|e| engine_error(Operation::Balance, e))?
                .available
        }
        None => Amount::ZERO,
    };
    render(&BalanceOut {
        code: 0,
        msg: "success",
        data: BalanceData {
            uid: t.uid.to_string(),
            currency: t.currency.to_string(),
            balance: balance.minor_units().to_string(),
        },
    })
}

#[derive(Serialize)]
struct Success<T> {
    success: bool,
    data: T,
}

#[derive(Serialize)]
struct BetData<'a> {
    platform_transaction_id: String,
    balance: i64,
    currency: &'a str,
}

/// An amount in minor units: a JSON integer within 64 bits. Anything else a number
/// can be (a fraction, an exponent, too many digits) is an amount error.
fn amount(params: &GateParams<'_>) -> Result<Amount, GateError> {
    let amount = params.int("amount").map_err(|e| match e.code {
        GateCode::BadData => GateError::new(GateCode::BadAmount, e.message),
        _ => e,
    })?;
    Ok(Amount::new(amount))
}

/// An optional non-negative integer parameter.
fn non_negative(params: &GateParams<'_>, key: &str) -> Result<Option<i64>, GateError> {
    match params.opt_int(key)? {
        Some(n) if n < 0 => Err(GateError::new(
            GateCode::BadData,
            format!("{key} must not be negative"),
        )),
        n => Ok(n),
    }
}

/// An optional non-negative integer that fits 32 bits.
fn small(params: &GateParams<'_>, key: &str) -> Result<i32, GateError> {
    let n = non_negative(params, key)?.unwrap_or(0);
    i32::try_from(n).map_err(|_| GateError::new(GateCode::BadData, format!("{key} is too large")))
}

/// `/bet`: debits `amount` (at least 1) and opens the round, or adds to it while it
/// is open. Optional: `base_bet`, `line`, `multiple` for the game record.
async fn bet(
    engine: &Engine,
    op: &Operator,
    params: &GateParams<'_>,
) -> Result<Vec<u8>, GateError> {
    let t = target(engine, op, params)?;
    let tx = tx_param(params, "transaction_id")?;
    let round = id_param(params, "round_id", GateCode::RoundId, RoundId::new)?;
    let game_id = id_param(params, "game_id", GateCode::GameNotFound, GameId::new)?;
    let amount = amount(params)?;
    if !amount.is_positive() {
        return Err(GateError::new(
            GateCode::BadAmount,
            "amount must be at least 1",
        ));
    }
    let meta = PlayMeta {
        base_bet: non_negative(params, "base_bet")?.unwrap_or(amount.minor_units()),
        line: small(params, "line")?,
        multiple: small(params, "multiple")?,
    };
    let (game, status) = engine
        .game_ref(&game_id)
        .ok_or_else(|| GateError::new(GateCode::GameNotFound, format!("no game {game_id}")))?;
    // A disabled game takes no new bet; a repeated one still gets its original
    // outcome (the game server may be retrying a bet taken before the game was
    // disabled).
    let repeated = match t.wallet {
        Some(w) if status == GameStatus::Disabled => {
            matches!(engine.transaction_pending(w, &tx).await, Ok(Some(_)))
        }
        _ => false,
    };
    if status == GameStatus::Disabled && !repeated {
        return Err(GateError::new(
            GateCode::GameUnavailable,
            format!("game {game_id} is disabled"),
        ));
    }
    let seamless = engine.is_seamless(&op.channel);
    let wallet = match t.wallet {
        Some(wallet) => wallet,
        // The money is in the operator's wallet: the round needs a wallet here
        // (not opened for a bet that admission refuses).
        None if seamless => {
            let open = async {
                engine.admit_new_work()?;
                engine
                    .open_wallet_pending(&op.channel, &t.player, &t.currency)
                    .await
            };
            open.await.map_err(|e| engine_error(Operation::Bet, e))?
        }
        None => {
            // No wallet in this currency yet: its balance is 0, and a refused bet
            // opens none.
            let e = LedgerError::InsufficientBalance {
                available: 0,
                needed: amount.minor_units(),
            };
            return Err(engine_error(Operation::Bet, e.into()));
        }
    };
    let req = BetRequest {
        tx,
        round,
        game,
        amount,
        meta,
    };
    let receipt = if seamless {
        engine.seamless_bet(wallet, &req).await
    } else {
        engine.bet_pending(wallet, &req).await
    };
    let receipt = receipt.map_err(|e| engine_error(Operation::Bet, e))?;
    render(&Success {
        success: true,
        data: BetData {
            platform_transaction_id: platform_tx_id(wallet, &req.tx),
            balance: receipt.balance.available.minor_units(),
            currency: t.currency.as_str(),
        },
    })
}

#[derive(Serialize)]
struct WinData {
    platform_transaction_id: String,
    balance: i64,
}

/// The win breakdown, if any part of it was sent: `base_win`, `free_win`,
/// `bonus_win`, `jackpot_win` (absent parts are 0; the ledger checks the sum).
fn breakdown(params: &GateParams<'_>) -> Result<Option<WinBreakdown>, GateError> {
    let parts = ["base_win", "free_win", "bonus_win", "jackpot_win"]
        .map(|key| non_negative(params, key).map(|n| n.map(Amount::new)));
    let [base, free, bonus, jackpot] = parts;
    let (base, free, bonus, jackpot) = (base?, free?, bonus?, jackpot?);
    if base.is_none() && free.is_none() && bonus.is_none() && jackpot.is_none() {
        return Ok(None);
    }
    Ok(Some(WinBreakdown {
        base: base.unwrap_or_default(),
        free: free.unwrap_or_default(),
        bonus: bonus.unwrap_or_default(),
        jackpot: jackpot.unwrap_or_default(),
    }))
}

/// `/win`: credits `amount` (0 for a lost round) to the round of the same
/// `round_id`, and closes it unless `end_round` is `false`.
async fn win(
    engine: &Engine,
    op: &Operator,
    params: &GateParams<'_>,
) -> Result<Vec<u8>, GateError> {
    let t = target(engine, op, params)?;
    let tx = tx_param(params, "transaction_id")?;
    let round = id_param(params, "round_id", GateCode::RoundId, RoundId::new)?;
    let game = id_param(params, "game_id", GateCode::GameNotFound, GameId::new)?;
    let amount = amount(params)?;
    if amount.is_negative() {
        return Err(GateError::new(
            GateCode::BadAmount,
            "amount must not be negative",
        ));
    }
    let breakdown = breakdown(params)?;
    let keep_open = params.opt_bool("end_round")? == Some(false);
    let Some(wallet) = t.wallet else {
        let e = LedgerError::RoundNotFound(round);
        return Err(engine_error(Operation::Win, e.into()));
    };
    let req = WinRequest {
        tx,
        round,
        game,
        amount,
        breakdown,
        keep_open,
    };
    let receipt = if engine.is_seamless(&op.channel) {
        engine.seamless_win(wallet, &req).await
    } else {
        engine.win_pending(wallet, &req).await
    };
    let receipt = receipt.map_err(|e| engine_error(Operation::Win, e))?;
    render(&Success {
        success: true,
        data: WinData {
            platform_transaction_id: platform_tx_id(wallet, &req.tx),
            balance: receipt.balance.available.minor_units(),
        },
    })
}

#[derive(Serialize)]
struct RefundData<'a> {
    platform_transaction_id: String,
    balance: i64,
    refund: i64,
    currency: &'a str,
}

/// `/refund`: returns exactly the bet `bet_transaction_id`, once. A refund of a bet
/// the wallet never saw is refused (20241004) and leaves a tombstone, so that the
/// bet, arriving later, is refused too.
async fn refund(
    engine: &Engine,
    op: &Operator,
    params: &GateParams<'_>,
) -> Result<Vec<u8>, GateError> {
    let t = target(engine, op, params)?;
    let bet_tx = tx_param(params, "bet_transaction_id")?;
    // The bet's id says which bet; the round and game named must be its own.
    let round = id_param(params, "round_id", GateCode::RoundId, RoundId::new)?;
    let game = id_param(params, "game_id", GateCode::GameNotFound, GameId::new)?;
    if let Some((bet_round, bet_game, _)) = t.wallet.and_then(|w| engine.bet_of(w, &bet_tx)) {
        if bet_round != round || bet_game != game {
            return Err(GateError::new(
                GateCode::RoundId,
                format!("bet {bet_tx} is in round {bet_round} of game {bet_game}"),
            ));
        }
    }
    let tx = refund_tx(&bet_tx).map_err(|e| GateError::new(GateCode::BadData, e.to_string()))?;
    let wallet = match t.wallet {
        Some(wallet) => wallet,
        // The tombstone needs a wallet to live in.
        None => engine
            .open_wallet_pending(&op.channel, &t.player, &t.currency)
            .await
            .map_err(|e| engine_error(Operation::Refund, e))?,
    };
    let req = RefundRequest { tx, bet_tx };
    let receipt = if engine.is_seamless(&op.channel) {
        engine.seamless_refund(wallet, &req).await
    } else {
        engine.refund_pending(wallet, &req).await
    };
    let receipt = receipt.map_err(|e| engine_error(Operation::Refund, e))?;
    render(&Success {
        success: true,
        data: RefundData {
            platform_transaction_id: platform_tx_id(wallet, &req.tx),
            balance: receipt.balance.available.minor_units(),
            refund: receipt.amount.minor_units(),
            currency: t.currency.as_str(),
        },
    })
}

fn render<T: Serialize>(value: &T) -> Result<Vec<u8>, GateError> {
    serde_json::to_vec(value).map_err(|e| GateError::new(GateCode::SystemError, e.to_string()))
}

#[derive(Serialize)]
struct BalanceError<'a> {
    code: i64,
    msg: &'a str,
    data: (),
}

#[derive(Serialize)]
struct CallError {
    success: bool,
    code: i64,
    error_tip: String,
}

/// A refusal in the document's shape: `/getBalance` answers `{code, msg, data}`, the
/// round calls `{success: false, code, error_tip}`, where `error_tip` reads as the
/// document's example: `错误码：20241003, 错误信息：用户余额不足 (…)`.
fn error_body(op: Operation, e: &GateError) -> Vec<u8> {
    let code = e.code.code();
    let rendered = match op {
        Operation::Balance => serde_json::to_vec(&BalanceError {
            code,
            msg: &e.message,
            data: (),
        }),
        Operation::Bet | Operation::Win | Operation::Refund => serde_json::to_vec(&CallError {
            success: false,
            code,
            error_tip: format!(
                "错误码：{code}, 错误信息：{} ({})",
                e.code.label(),
                e.message
            ),
        }),
    };
    rendered.unwrap_or_else(|_| {
        format!(r#"{{"success":false,"code":{code},"error_tip":"{code}"}}"#).into_bytes()
    })
}
