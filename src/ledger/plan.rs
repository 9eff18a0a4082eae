//! Planners: pure functions from (wallet, request) to the effect the request has.
//!
//! A planner never mutates. It validates the request against the wallet, checks the
//! transaction table for a replay or a conflict, and computes the wallet's next
//! state with checked arithmetic. Its result is applied by `effect::apply_change`.

use super::compact::{RecordRef, StoredBreakdown};
use super::effect::{LedgerEffect, RoundChange, WalletChange};
use super::error::LedgerError;
use super::records::GameRecord;
use super::round::{BetLeg, ClosedRound, Round, RoundEnd, RoundStatus, MAX_BETS_PER_ROUND};
use super::rounds::RoundEntry;
use super::table::IdHash;
use super::types::*;
use super::wallet::{
    StoredReceipt, TxEntry, TxOutcome, TxParams, Wallet, WalletState, MAX_OPEN_ROUNDS,
};
use crate::ids::{RecordId, RoundId, TxId};
use crate::money::Amount;

/// What a planner decided.
// Plans are built once and consumed at once; boxing the change would cost an
// allocation on every bet for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Plan {
    /// Refused; nothing changes.
    Reject(LedgerError),
    /// An identical request was applied before: return its stored outcome.
    Replay(Result<Receipt, LedgerError>),
    /// Log and apply `effect` (always a `LedgerEffect::Wallet`), then return
    /// `result`. Planners build the effect itself, so that it is not moved again
    /// on its way to the log and the wallet.
    Apply {
        effect: LedgerEffect,
        hashes: Hashes,
        result: Result<Receipt, LedgerError>,
    },
}

/// The hashes of the ids a planner looked up, handed to the apply step so that it
/// hashes nothing again. `None` makes the apply step hash the id itself (replay,
/// expiry).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Hashes {
    /// Of the change's transaction id.
    pub tx: Option<IdHash>,
    /// Of the change's round id.
    pub round: Option<IdHash>,
    /// The planner looked the round up under this lock and did not find it.
    pub round_is_new: bool,
}

impl Hashes {
    fn new(tx: IdHash, round: Option<IdHash>) -> Hashes {
        Hashes {
            tx: Some(tx),
            round,
            round_is_new: false,
        }
    }
}

/// What planners need besides the wallet: the time, and record ids on demand.
pub(crate) struct Ctx<'a> {
    pub now_ms: i64,
    pub next_record: &'a dyn Fn() -> RecordId,
    /// Where the call's money lives; see [`pass_through`] for `Remote`.
    pub funds: Funds,
}

macro_rules! reject {
    ($e:expr) => {
        return Plan::Reject($e)
    };
}

/// `Some(plan)` when `tx` is already in the table: a replay if the parameters are
/// the same, otherwise a conflict (or a cancelled bet, for a tombstone).
fn seen(w: &Wallet, tx: &TxId, tx_hash: IdHash, params: &TxParams) -> Option<Plan> {
    let entry = w.txs.get_hashed(tx_hash, tx)?;
    if &entry.params != params {
        return Some(Plan::Reject(match entry.params {
            TxParams::Tombstone { .. } => LedgerError::BetCancelled(tx.clone()),
            _ => LedgerError::Conflict(tx.clone()),
        }));
    }
    Some(Plan::Replay(match (&entry.outcome, params) {
        (TxOutcome::Applied(r), _) => Ok(r.to_receipt(w.id, tx.clone(), true)),
        (_, TxParams::Refund { bet_tx }) => Err(LedgerError::UnknownBet(bet_tx.clone())),
        _ => Err(LedgerError::BetCancelled(tx.clone())),
    }))
}

fn add(a: Amount, b: Amount) -> Result<Amount, LedgerError> {
    a.checked_add(b).ok_or(LedgerError::Overflow)
}

fn sub(a: Amount, b: Amount) -> Result<Amount, LedgerError> {
    a.checked_sub(b).ok_or(LedgerError::Overflow)
}

/// Adds `amount` to the available balance, keeping the wallet's total (available +
/// held) within `i64` so that every balance the ledger reports is exact.
fn credit(state: &mut WalletState, amount: Amount) -> Result<(), LedgerError> {
    let available = add(state.available, amount)?;
    add(available, state.held)?;
    state.available = available;
    Ok(())
}

fn require_positive(amount: Amount) -> Result<(), LedgerError> {
    if amount.is_positive() {
        Ok(())
    } else {
        Err(LedgerError::InvalidAmount(
            amount.minor_units(),
            "must be positive",
        ))
    }
}

/// The money side of an applied transaction.
struct Movement {
    kind: OpKind,
    amount: Amount,
    state: WalletState,
}

/// Builds the change of an applied transaction.
fn applied(
    w: &Wallet,
    tx: &TxId,
    hashes: Hashes,
    params: TxParams,
    mv: Movement,
    round: Option<RoundChange>,
    record: Option<Box<GameRecord>>,
) -> Plan {
    let Movement {
        kind,
        amount,
        state,
    } = mv;
    let stored = StoredReceipt {
        kind,
        amount,
        balance: state.balance(),
        record: RecordRef::new(record.as_ref().map(|r| r.id)),
    };
    // One expression, no named temporaries: the plan is built where it is returned
    // instead of being assembled on the stack and copied (it is some 500 bytes).
    Plan::Apply {
        result: Ok(stored.to_receipt(w.id, tx.clone(), false)),
        effect: LedgerEffect::Wallet(WalletChange {
            wallet: w.id,
            state,
            tx: Some((
                tx.clone(),
                TxEntry {
                    params,
                    outcome: TxOutcome::Applied(stored),
                },
            )),
            tombstone: None,
            round,
            record,
        }),
        hashes,
    }
}

pub(crate) fn deposit(w: &Wallet, req: &DepositRequest) -> Plan {
    if let Err(e) = require_positive(req.amount) {
        reject!(e);
    }
    let params = TxParams::Deposit { amount: req.amount };
    let tx_hash = IdHash::of(&req.tx);
    if let Some(plan) = seen(w, &req.tx, tx_hash, &params) {
        return plan;
    }
    let mut state = w.state;
    if let Err(e) = credit(&mut state, req.amount) {
        reject!(e);
    }
    state.flows.deposits += i128::from(req.amount.minor_units());
    applied(
        w,
        &req.tx,
        Hashes::new(tx_hash, None),
        params,
        Movement {
            kind: OpKind::Deposit,
            amount: req.amount,
            state,
        },
        None,
        None,
    )
}

pub(crate) fn withdraw(w: &Wallet, req: &WithdrawRequest) -> Plan {
    if let WithdrawAmount::Exact(a) = req.amount {
        if let Err(e) = require_positive(a) {
            reject!(e);
        }
    }
    let params = TxParams::Withdraw { amount: req.amount };
    let tx_hash = IdHash::of(&req.tx);
    if let Some(plan) = seen(w, &req.tx, tx_hash, &params) {
        return plan;
    }
    let mut state = w.state;
    let amount = match req.amount {
        WithdrawAmount::All => state.available,
        WithdrawAmount::Exact(a) if a > state.available => reject!(insufficient(state, a)),
        WithdrawAmount::Exact(a) => a,
    };
    state.available = match sub(state.available, amount) {
        Ok(a) => a,
        Err(e) => reject!(e),
    };
    state.flows.withdrawals += i128::from(amount.minor_units());
    applied(
        w,
        &req.tx,
        Hashes::new(tx_hash, None),
        params,
        Movement {
            kind: OpKind::Withdraw,
            amount,
            state,
        },
        None,
        None,
    )
}

fn insufficient(state: WalletState, needed: Amount) -> LedgerError {
    LedgerError::InsufficientBalance {
        available: state.available.minor_units(),
        needed: needed.minor_units(),
    }
}

pub(crate) fn prize(w: &Wallet, req: &PrizeRequest) -> Plan {
    if let Err(e) = require_positive(req.amount) {
        reject!(e);
    }
    let params = TxParams::Prize { amount: req.amount };
    let tx_hash = IdHash::of(&req.tx);
    if let Some(plan) = seen(w, &req.tx, tx_hash, &params) {
        return plan;
    }
    let mut state = w.state;
    if let Err(e) = credit(&mut state, req.amount) {
        reject!(e);
    }
    state.flows.prizes += i128::from(req.amount.minor_units());
    applied(
        w,
        &req.tx,
        Hashes::new(tx_hash, None),
        params,
        Movement {
            kind: OpKind::Prize,
            amount: req.amount,
            state,
        },
        None,
        None,
    )
}

pub(crate) fn bet(w: &Wallet, req: &BetRequest, ctx: &Ctx<'_>) -> Plan {
    if let Err(e) = require_positive(req.amount) {
        reject!(e);
    }
    let params = TxParams::Bet {
        round: req.round.clone(),
        game: req.game.id.clone(),
        amount: req.amount,
    };
    let (tx_hash, round_hash) = (IdHash::of(&req.tx), IdHash::of(&req.round));
    if let Some(plan) = seen(w, &req.tx, tx_hash, &params) {
        return plan;
    }
    let mut hashes = Hashes::new(tx_hash, Some(round_hash));
    // An open round gets only the new leg (`AddBet`), not a copy of itself: copying
    // and logging the whole round made a bet cost O(bets in the round).
    let new_round = match w.rounds.get_hashed(round_hash, &req.round) {
        Some(RoundEntry::Closed(_)) => reject!(LedgerError::RoundClosed(req.round.clone())),
        Some(RoundEntry::Open(r)) if r.game.id != req.game.id => {
            reject!(LedgerError::GameMismatch {
                round: req.round.clone()
            })
        }
        Some(RoundEntry::Open(r)) if r.status != RoundStatus::Open => {
            reject!(wrong_state(&req.round, "the round is not open"))
        }
        Some(RoundEntry::Open(r)) if r.bets.len() >= MAX_BETS_PER_ROUND => {
            reject!(LedgerError::LimitExceeded("bets per round"))
        }
        Some(RoundEntry::Open(_)) => None,
        None if w.rounds.open_count() >= MAX_OPEN_ROUNDS => {
            reject!(LedgerError::LimitExceeded("open rounds per wallet"))
        }
        None => {
            hashes.round_is_new = true;
            Some(new_round(w, req, ctx))
        }
    };
    let mut state = w.state;
    // Remote money was taken by the operator's wallet already: see `pass_through`.
    if ctx.funds == Funds::Local && req.amount > state.available {
        reject!(insufficient(state, req.amount));
    }
    match (
        sub(state.available, req.amount),
        add(state.held, req.amount),
    ) {
        (Ok(a), Ok(h)) => (state.available, state.held) = (a, h),
        _ => reject!(LedgerError::Overflow),
    }
    state.flows.bets += i128::from(req.amount.minor_units());
    let leg = BetLeg {
        tx: req.tx.clone(),
        amount: req.amount,
        refunded: false,
    };
    let change = Some(match new_round {
        Some(mut round) => {
            round.bets.push(leg);
            RoundChange::Upsert(round)
        }
        None => RoundChange::AddBet {
            round: req.round.clone(),
            leg,
        },
    });
    applied(
        w,
        &req.tx,
        hashes,
        params,
        Movement {
            kind: OpKind::Bet,
            amount: req.amount,
            state,
        },
        change,
        None,
    )
}

fn new_round(w: &Wallet, req: &BetRequest, ctx: &Ctx<'_>) -> Box<Round> {
    let starting_credit = match ctx.funds {
        Funds::Local => w.state.available,
        // The operator's wallet reported its balance after the bet.
        Funds::Remote { balance } => balance.checked_add(req.amount).unwrap_or(balance),
    };
    Box::new(Round {
        id: req.round.clone(),
        game: req.game.clone(),
        status: RoundStatus::Open,
        opened_at_ms: ctx.now_ms,
        starting_credit,
        meta: req.meta,
        bets: smallvec::SmallVec::new(),
        wins: WinBreakdown::default(),
        win_count: 0,
        error: String::new(),
    })
}

fn wrong_state(round: &RoundId, reason: &'static str) -> LedgerError {
    LedgerError::WrongState {
        round: round.clone(),
        reason,
    }
}

/// The open round `id`, or the error for a closed or unknown one.
fn open_round<'w>(w: &'w Wallet, id: &RoundId, hash: IdHash) -> Result<&'w Round, LedgerError> {
    match w.rounds.get_hashed(hash, id) {
        Some(RoundEntry::Open(r)) => Ok(r),
        Some(RoundEntry::Closed(_)) => Err(LedgerError::RoundClosed(id.clone())),
        None => Err(LedgerError::RoundNotFound(id.clone())),
    }
}

pub(crate) fn win(w: &Wallet, req: &WinRequest, ctx: &Ctx<'_>) -> Plan {
    if req.amount.is_negative() {
        reject!(LedgerError::InvalidAmount(
            req.amount.minor_units(),
            "must not be negative"
        ));
    }
    let breakdown = req.breakdown.unwrap_or(WinBreakdown::base_only(req.amount));
    let parts = [
        breakdown.base,
        breakdown.free,
        breakdown.bonus,
        breakdown.jackpot,
    ];
    if parts.iter().any(|p| p.is_negative()) || breakdown.total() != Some(req.amount) {
        reject!(LedgerError::InvalidAmount(
            req.amount.minor_units(),
            "breakdown must add up to the win"
        ));
    }
    let params = TxParams::Win {
        round: req.round.clone(),
        game: req.game.clone(),
        amount: req.amount,
        breakdown: StoredBreakdown::new(&breakdown),
        keep_open: req.keep_open,
    };
    let (tx_hash, round_hash) = (IdHash::of(&req.tx), IdHash::of(&req.round));
    if let Some(plan) = seen(w, &req.tx, tx_hash, &params) {
        return plan;
    }
    let round = match open_round(w, &req.round, round_hash) {
        Ok(r) if r.game.id != req.game => reject!(LedgerError::GameMismatch {
            round: req.round.clone()
        }),
        Ok(r) if r.status == RoundStatus::BetFailed => {
            reject!(wrong_state(&req.round, "the bet failed"))
        }
        Ok(r) if !r.has_live_bets() => reject!(wrong_state(&req.round, "every bet was refunded")),
        Ok(r) => r,
        Err(e) => reject!(e),
    };
    let mut state = w.state;
    let wins = match (
        credit(&mut state, req.amount),
        round.wins.checked_add(&breakdown),
    ) {
        (Ok(()), Some(wins)) => wins,
        _ => reject!(LedgerError::Overflow),
    };
    state.flows.wins += i128::from(req.amount.minor_units());
    let mv = Movement {
        kind: OpKind::Win,
        amount: req.amount,
        state,
    };
    if req.keep_open {
        let mut round = Box::new(round.clone());
        round.wins = wins;
        round.win_count = round.win_count.saturating_add(1);
        // A retried credit that now succeeds puts the round back in play.
        round.status = RoundStatus::Open;
        return applied(
            w,
            &req.tx,
            Hashes::new(tx_hash, Some(round_hash)),
            params,
            mv,
            Some(RoundChange::Upsert(round)),
            None,
        );
    }
    let live = round.live_bets();
    settle(
        w,
        &req.tx,
        Hashes::new(tx_hash, Some(round_hash)),
        params,
        mv,
        round,
        Closing {
            end: RoundEnd::Settled,
            wins,
            release: live,
            total_bet: live,
        },
        ctx,
    )
}

pub(crate) fn end_round(w: &Wallet, req: &EndRoundRequest, ctx: &Ctx<'_>) -> Plan {
    let params = TxParams::EndRound {
        round: req.round.clone(),
    };
    let (tx_hash, round_hash) = (IdHash::of(&req.tx), IdHash::of(&req.round));
    if let Some(plan) = seen(w, &req.tx, tx_hash, &params) {
        return plan;
    }
    let round = match open_round(w, &req.round, round_hash) {
        Ok(r) => r,
        Err(e) => reject!(e),
    };
    let live = round.live_bets();
    let mv = Movement {
        kind: OpKind::EndRound,
        amount: Amount::ZERO,
        state: w.state,
    };
    let closing = Closing {
        end: RoundEnd::Settled,
        wins: round.wins,
        release: live,
        total_bet: live,
    };
    let hashes = Hashes::new(tx_hash, Some(round_hash));
    settle(w, &req.tx, hashes, params, mv, round, closing, ctx)
}

/// How a round closes: what it releases from `held` and what its record says.
pub(crate) struct Closing {
    pub end: RoundEnd,
    /// The round's wins, including the closing one.
    pub wins: WinBreakdown,
    /// Live bets still held by the round, released from `held` now.
    pub release: Amount,
    /// The record's `totalBet`: bets not refunded.
    pub total_bet: Amount,
}

/// An applied transaction that closes `round`.
#[allow(clippy::too_many_arguments)]
fn settle(
    w: &Wallet,
    tx: &TxId,
    hashes: Hashes,
    params: TxParams,
    mut mv: Movement,
    round: &Round,
    closing: Closing,
    ctx: &Ctx<'_>,
) -> Plan {
    match close(w, round, &mut mv.state, closing, ctx) {
        Ok((change, record)) => applied(w, tx, hashes, params, mv, Some(change), Some(record)),
        Err(e) => Plan::Reject(e),
    }
}

/// Closes `round` (its state before this transaction): releases what it holds and
/// writes its record. `state` is the wallet's state after the transaction's money moved.
pub(crate) fn close(
    w: &Wallet,
    round: &Round,
    state: &mut WalletState,
    closing: Closing,
    ctx: &Ctx<'_>,
) -> Result<(RoundChange, Box<GameRecord>), LedgerError> {
    state.held = sub(state.held, closing.release)?;
    debug_assert!(
        !state.held.is_negative(),
        "held went negative closing a round"
    );
    let id = (ctx.next_record)();
    let wins = closing.wins;
    let record = Box::new(GameRecord {
        id,
        channel: w.key.channel.clone(),
        player: w.key.player.clone(),
        currency: w.key.currency.clone(),
        wallet: w.id,
        // Rounds open with a bet; the round id only stands in should one not.
        transaction_id: round
            .first_tx()
            .cloned()
            .unwrap_or_else(|| TxId::from_round(&round.id)),
        starting_credit: round.starting_credit,
        ending_credit: state.available,
        base_win: wins.base,
        free_win: wins.free,
        bonus_win: wins.bonus,
        jackpot_win: wins.jackpot,
        total_win: wins.total().ok_or(LedgerError::Overflow)?,
        total_bet: closing.total_bet,
        meta: round.meta,
        play_time_secs: round.opened_at_ms.div_euclid(1000),
        created_at_ms: ctx.now_ms,
        end: closing.end,
        round: round.id.clone(),
        game: round.game.clone(),
    });
    let closed = ClosedRound {
        end: closing.end,
        record: id,
    };
    Ok((
        RoundChange::Close {
            round: round.id.clone(),
            closed,
        },
        record,
    ))
}

pub(crate) fn refund(w: &Wallet, req: &RefundRequest, ctx: &Ctx<'_>) -> Plan {
    let params = TxParams::Refund {
        bet_tx: req.bet_tx.clone(),
    };
    let tx_hash = IdHash::of(&req.tx);
    if let Some(plan) = seen(w, &req.tx, tx_hash, &params) {
        return plan;
    }
    let (round_id, amount) = match w.txs.get(&req.bet_tx).map(|e| &e.params) {
        None => return tombstone(w, req, tx_hash),
        Some(TxParams::Bet { round, amount, .. }) => (round, *amount),
        Some(TxParams::Tombstone { .. }) => reject!(LedgerError::UnknownBet(req.bet_tx.clone())),
        Some(_) => reject!(LedgerError::NotABet(req.bet_tx.clone())),
    };
    let round_hash = IdHash::of(round_id);
    let hashes = Hashes::new(tx_hash, Some(round_hash));
    let round = match open_round(w, round_id, round_hash) {
        Ok(r) if r.win_count > 0 => reject!(wrong_state(round_id, "the round has a win")),
        // A seamless win the operator's wallet has not acknowledged yet (status 4) is
        // still being paid there: refunding the bet now would pay the player twice
        // once the win goes through (the simulator found it).
        Ok(r) if r.status == RoundStatus::CreditFailed => {
            reject!(wrong_state(round_id, "its win is being paid"))
        }
        Ok(r) => r,
        Err(e) => reject!(e),
    };
    match round.bets.iter().find(|b| b.tx == req.bet_tx) {
        Some(leg) if leg.refunded => reject!(LedgerError::AlreadyRefunded(req.bet_tx.clone())),
        Some(_) => {}
        None => reject!(wrong_state(round_id, "the bet is not in its round")),
    }
    let mut state = w.state;
    match (add(state.available, amount), sub(state.held, amount)) {
        (Ok(a), Ok(h)) => (state.available, state.held) = (a, h),
        _ => reject!(LedgerError::Overflow),
    }
    state.flows.refunds += i128::from(amount.minor_units());
    let mv = Movement {
        kind: OpKind::Refund,
        amount,
        state,
    };
    if round.live_bets() != amount {
        let mut round = Box::new(round.clone());
        if let Some(leg) = round.leg_mut(&req.bet_tx) {
            leg.refunded = true;
        }
        return applied(
            w,
            &req.tx,
            hashes,
            params,
            mv,
            Some(RoundChange::Upsert(round)),
            None,
        );
    }
    // The last live bet: the round closes as refunded, holding nothing.
    let closing = Closing {
        end: RoundEnd::Refunded,
        wins: round.wins,
        release: Amount::ZERO,
        total_bet: Amount::ZERO,
    };
    settle(w, &req.tx, hashes, params, mv, round, closing, ctx)
}

/// A refund of a bet never seen: remember the refund and cancel the bet id.
fn tombstone(w: &Wallet, req: &RefundRequest, tx_hash: IdHash) -> Plan {
    let entry = TxEntry {
        params: TxParams::Refund {
            bet_tx: req.bet_tx.clone(),
        },
        outcome: TxOutcome::UnknownBet,
    };
    Plan::Apply {
        effect: LedgerEffect::Wallet(WalletChange {
            wallet: w.id,
            state: w.state,
            tx: Some((req.tx.clone(), entry)),
            tombstone: Some(req.bet_tx.clone()),
            round: None,
            record: None,
        }),
        hashes: Hashes::new(tx_hash, None),
        result: Err(LedgerError::UnknownBet(req.bet_tx.clone())),
    }
}

/// Expires an unclosed round: live bets go back to the wallet, the round closes,
/// the record is kept. Expiries carry no caller transaction id.
pub(crate) fn expire(
    w: &Wallet,
    round_id: &RoundId,
    ctx: &Ctx<'_>,
) -> Result<WalletChange, LedgerError> {
    let round = open_round(w, round_id, IdHash::of(round_id))?;
    let mut state = w.state;
    let live = round.live_bets();
    state.available = add(state.available, live)?;
    state.flows.refunds += i128::from(live.minor_units());
    // Every live bet goes back to the wallet: the round cost nothing.
    let closing = Closing {
        end: RoundEnd::Expired,
        wins: round.wins,
        release: live,
        total_bet: Amount::ZERO,
    };
    let (change, record) = close(w, round, &mut state, closing, ctx)?;
    Ok(WalletChange {
        wallet: w.id,
        state,
        tx: None,
        tombstone: None,
        round: Some(change),
        record: Some(record),
    })
}

/// Turns a plan made as if the money were local into one whose money only passes
/// through (seamless mode, [`Funds::Remote`]): whatever the plan would have taken from
/// the available balance arrived from the operator's wallet (a deposit flow), and
/// whatever it would have added left for it (a withdrawal flow), so the available
/// balance stays as it was and conservation still holds. Receipts and the record's
/// ending credit carry `remote`, the balance the operator's wallet reported.
pub(crate) fn pass_through(before: WalletState, plan: &mut Plan, remote: Amount) {
    let Plan::Apply {
        effect: LedgerEffect::Wallet(change),
        result,
        ..
    } = plan
    else {
        return;
    };
    let balance = pass_through_change(before, change, remote);
    if let Ok(receipt) = result {
        receipt.balance = balance;
    }
}

/// [`pass_through`] of one change (an expiry's, which has no plan); returns the
/// balance receipts carry.
pub(crate) fn pass_through_change(
    before: WalletState,
    change: &mut WalletChange,
    remote: Amount,
) -> Balance {
    let delta = i128::from(change.state.available.minor_units())
        - i128::from(before.available.minor_units());
    if delta > 0 {
        change.state.flows.withdrawals += delta;
    } else {
        change.state.flows.deposits -= delta;
    }
    change.state.available = before.available;
    let balance = Balance {
        available: remote,
        total: remote,
    };
    if let Some((
        _,
        TxEntry {
            outcome: TxOutcome::Applied(stored),
            ..
        },
    )) = &mut change.tx
    {
        stored.balance = balance;
    }
    if let Some(record) = &mut change.record {
        record.ending_credit = remote;
    }
    balance
}
