//! Requests the ledger accepts and receipts it returns.
//!
//! Requests carry typed ids and amounts; the dialects translate wire formats into
//! these. Every mutating request names a transaction id, unique per wallet.

use crate::ids::{GameId, Label, RecordId, RoundId, TxId, WalletId};
use crate::money::Amount;
use serde::{Deserialize, Serialize};

/// The game a round belongs to, as recorded in its game record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GameRef {
    pub id: GameId,
    /// The game's algorithm id (`gameType`).
    pub kind: Label,
    pub version: Label,
    pub developer: Label,
}

impl GameRef {
    /// A game known only by its id (type = id, no version or developer).
    pub fn bare(id: GameId) -> GameRef {
        let kind = Label::new(id.as_str()).unwrap_or_default();
        GameRef {
            id,
            kind,
            version: Label::default(),
            developer: Label::default(),
        }
    }
}

/// Play details a game server may report with a bet (`baseBet`, `line`, `multiple`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlayMeta {
    pub base_bet: i64,
    pub line: i32,
    pub multiple: i32,
}

/// How a win splits into the record's categories. The parts must add up to the win.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WinBreakdown {
    pub base: Amount,
    pub free: Amount,
    pub bonus: Amount,
    pub jackpot: Amount,
}

impl WinBreakdown {
    /// All of `amount` as a base win.
    pub fn base_only(amount: Amount) -> WinBreakdown {
        WinBreakdown {
            base: amount,
            ..WinBreakdown::default()
        }
    }

    pub fn total(&self) -> Option<Amount> {
        crate::money::checked_sum([self.base, self.free, self.bonus, self.jackpot])
    }

    pub fn checked_add(&self, other: &WinBreakdown) -> Option<WinBreakdown> {
        Some(WinBreakdown {
            base: self.base.checked_add(other.base)?,
            free: self.free.checked_add(other.free)?,
            bonus: self.bonus.checked_add(other.bonus)?,
            jackpot: self.jackpot.checked_add(other.jackpot)?,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepositRequest {
    pub tx: TxId,
    pub amount: Amount,
}

/// How much a withdrawal takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WithdrawAmount {
    /// Everything available (Publisher Manual §4.2 `type` 0).
    All,
    /// Exactly this much (`type` 1).
    Exact(Amount),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithdrawRequest {
    pub tx: TxId,
    pub amount: WithdrawAmount,
}

/// Debit a bet: opens the round, or adds to it while it is open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BetRequest {
    pub tx: TxId,
    pub round: RoundId,
    pub game: GameRef,
    pub amount: Amount,
    pub meta: PlayMeta,
}

/// Credit a round. Closes it unless `keep_open` (several wins per round, free spins).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinRequest {
    pub tx: TxId,
    pub round: RoundId,
    pub game: GameId,
    pub amount: Amount,
    /// Defaults to all of `amount` as a base win.
    pub breakdown: Option<WinBreakdown>,
    pub keep_open: bool,
}

/// Return exactly the bet named by `bet_tx`, once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    pub tx: TxId,
    pub bet_tx: TxId,
}

/// Credit a tournament prize (or any promotional credit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrizeRequest {
    pub tx: TxId,
    pub amount: Amount,
}

/// Close an open round without a further win: its live bets are lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndRoundRequest {
    pub tx: TxId,
    pub round: RoundId,
}

/// Where the money of a call lives.
///
/// `Local`: in the wallet (transfer mode): a bet needs the available balance, a win
/// credits it. `Remote`: in the operator's own wallet (seamless mode), which already
/// moved it: the ledger keeps the round, its legs, its record and its flows exactly
/// as for local money, but the money only passes through: what a bet takes arrives
/// from the operator's wallet (a deposit flow), what a credit gives leaves for it (a
/// withdrawal flow), and the available balance stays as it was (zero). `balance` is
/// what the operator's wallet reported after the call, for receipts and records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Funds {
    Local,
    Remote { balance: Amount },
}

/// A wallet's balance. `available` excludes money held by open rounds; `total` includes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub available: Amount,
    pub total: Amount,
}

/// What kind of operation a transaction was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OpKind {
    Deposit,
    Withdraw,
    Bet,
    Win,
    Refund,
    Prize,
    EndRound,
}

/// The outcome of an applied mutation; a replay of the same transaction returns the
/// same receipt with `replayed` set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub wallet: WalletId,
    pub tx: TxId,
    pub kind: OpKind,
    /// The amount moved (for a withdraw-all, what was taken).
    pub amount: Amount,
    /// The balance right after this operation.
    pub balance: Balance,
    /// The game record written if this operation closed a round.
    pub record: Option<RecordId>,
    /// True when this receipt is the stored outcome of an earlier identical request.
    #[serde(skip)]
    pub replayed: bool,
}
