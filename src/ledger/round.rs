//! Game rounds: the bets and wins of one play, from the first bet until it closes.

use super::types::{GameRef, PlayMeta, WinBreakdown};
use crate::ids::{RecordId, RoundId, TxId};
use crate::money::{checked_sum, Amount};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// Most bets one round may hold: a limit on everything (TigerStyle).
pub const MAX_BETS_PER_ROUND: usize = 256;

/// Longest `error` text a round keeps (the last attempt's, for the incomplete lists).
pub const MAX_ROUND_ERROR_BYTES: usize = 256;

/// `text` cut to at most `max` bytes, at a character boundary.
pub fn truncated(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The state of a round that has not closed (Publisher Manual §3.5 `gameStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RoundStatus {
    /// 2: in progress.
    Open,
    /// 3: the bet failed at the operator's wallet (seamless mode).
    BetFailed,
    /// 4: the credit failed at the operator's wallet (seamless mode).
    CreditFailed,
}

impl RoundStatus {
    /// The status code of Publisher Manual §3.5.
    pub fn code(self) -> i32 {
        match self {
            RoundStatus::Open => 2,
            RoundStatus::BetFailed => 3,
            RoundStatus::CreditFailed => 4,
        }
    }
}

/// How a round ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RoundEnd {
    /// Settled by a closing win or an explicit end of round.
    Settled,
    /// Every bet was refunded.
    Refunded,
    /// Expired by an operator or by the open-round time-out; live bets were refunded.
    Expired,
}

/// One bet in a round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BetLeg {
    pub tx: TxId,
    pub amount: Amount,
    pub refunded: bool,
}

/// A round that has not closed yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    pub id: RoundId,
    pub game: GameRef,
    pub status: RoundStatus,
    pub opened_at_ms: i64,
    /// The wallet's available balance just before the round's first bet.
    pub starting_credit: Amount,
    pub meta: PlayMeta,
    /// Inline for the usual single bet: one allocation less per round.
    pub bets: SmallVec<[BetLeg; 1]>,
    pub wins: WinBreakdown,
    /// How many wins were credited; a round with a win can no longer be refunded.
    pub win_count: u32,
    /// Why the round is incomplete (status 3 or 4), for the incomplete-games lists.
    pub error: String,
}

impl Round {
    /// The sum of the bets not refunded: what the round holds of the wallet's money.
    pub fn live_bets(&self) -> Amount {
        checked_sum(self.bets.iter().filter(|b| !b.refunded).map(|b| b.amount))
            .unwrap_or(Amount::MAX)
    }

    pub fn has_live_bets(&self) -> bool {
        self.bets.iter().any(|b| !b.refunded)
    }

    pub fn leg_mut(&mut self, tx: &TxId) -> Option<&mut BetLeg> {
        self.bets.iter_mut().find(|b| &b.tx == tx)
    }

    /// The transaction id the round's record carries: its first bet's.
    pub fn first_tx(&self) -> Option<&TxId> {
        self.bets.first().map(|b| &b.tx)
    }
}

/// What is remembered of a closed round: enough to reject late wins and refunds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedRound {
    pub end: RoundEnd,
    pub record: RecordId,
}
