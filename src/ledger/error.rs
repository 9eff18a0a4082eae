//! The ledger's typed errors. A returned error means nothing changed, except where
//! a variant says otherwise (an unknown-bet refund leaves a tombstone).

use crate::ids::{RoundId, TxId, WalletId};
use crate::journal::JournalError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    #[error("wallet {0} not found")]
    WalletNotFound(WalletId),
    #[error("round {0} not found")]
    RoundNotFound(RoundId),
    #[error("insufficient balance: available {available}, needed {needed}")]
    InsufficientBalance { available: i64, needed: i64 },
    #[error("invalid amount {0}: {1}")]
    InvalidAmount(i64, &'static str),
    #[error("arithmetic overflow")]
    Overflow,
    #[error("transaction {0} was already used with different parameters")]
    Conflict(TxId),
    #[error("round {round} belongs to another game")]
    GameMismatch { round: RoundId },
    #[error("round {0} is already closed")]
    RoundClosed(RoundId),
    #[error("round {round} is in the wrong state: {reason}")]
    WrongState {
        round: RoundId,
        reason: &'static str,
    },
    /// The refund named a bet this wallet has never seen. A tombstone now rejects
    /// a bet that arrives later with that id (a rollback can overtake its bet).
    #[error("no bet with transaction id {0} to refund")]
    UnknownBet(TxId),
    /// The bet arrived after a refund had already cancelled its transaction id.
    #[error("transaction {0} was cancelled by an earlier refund")]
    BetCancelled(TxId),
    #[error("bet {0} was already refunded")]
    AlreadyRefunded(TxId),
    #[error("the transaction named is not a bet: {0}")]
    NotABet(TxId),
    #[error("limit exceeded: {0}")]
    LimitExceeded(&'static str),
    /// The call's funds do not match where the wallet's money is kept: a call that
    /// moves local money on a wallet of a seamless operator (its money is in the
    /// operator's own wallet), or a seamless call on a transfer-mode wallet.
    #[error("wallet {wallet}: {}", where_kept(.remote))]
    FundsElsewhere { wallet: WalletId, remote: bool },
    #[error("storage: {0}")]
    Journal(#[from] JournalError),
}

fn where_kept(remote: &bool) -> &'static str {
    if *remote {
        "its money is kept in the operator's own wallet (seamless mode)"
    } else {
        "its money is kept here (transfer mode), not in a remote wallet"
    }
}
