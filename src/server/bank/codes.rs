//! The bank wallet API's codes: the document's 200 / 100000 / 100002 / 100003, and
//! the codes this platform adds (the document leaves them to the implementer), with
//! the one mapping from every engine error to them. `docs/bank.md` lists the same
//! table; a test checks that the two agree.

use crate::engine::EngineError;
use crate::ledger::error::LedgerError;

/// Every code the bank endpoints answer with. Never renumber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BankCode {
    /// The document's success code.
    Success = 200,
    /// param error: a missing or malformed field, an amount of zero, with more than 8
    /// decimal places or finer than the currency's minor unit; a body that is not JSON.
    ParamError = 100000,
    /// signature error: a missing header, an unknown `X-API-Key`, a bad signature, an
    /// `X-Timestamp` more than 300 s from the server's clock.
    SignatureError = 100002,
    /// Trading in progress: the player has a round open; transfer when it is over.
    TransferInProgress = 100003,
    /// The player's available balance is below the withdrawal.
    InsufficientBalance = 100010,
    /// The operator has no player with this `playerId`.
    PlayerNotFound = 100011,
    /// The `referenceId` was used before with other parameters.
    ReferenceConflict = 100012,
    /// Not one of the operator's currencies, or a currency with no known exponent.
    CurrencyNotSupported = 100013,
    /// The operator keeps its players' money in its own wallet (seamless mode).
    SeamlessOperator = 100014,
    /// A limit of the server: a body too large, or a new transfer while the history
    /// archiver is too far behind (retry later).
    LimitExceeded = 100015,
    /// Storage failed: the transfer may not have been applied (ask
    /// `getsingletransaction`).
    Internal = 100099,
}

impl BankCode {
    pub fn code(self) -> i64 {
        self as i64
    }

    /// Every code, for the test that compares this table with `docs/bank.md`.
    pub const ALL: [BankCode; 11] = [
        BankCode::Success,
        BankCode::ParamError,
        BankCode::SignatureError,
        BankCode::TransferInProgress,
        BankCode::InsufficientBalance,
        BankCode::PlayerNotFound,
        BankCode::ReferenceConflict,
        BankCode::CurrencyNotSupported,
        BankCode::SeamlessOperator,
        BankCode::LimitExceeded,
        BankCode::Internal,
    ];
}

/// A refused bank call: its code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankError {
    pub code: BankCode,
    pub message: String,
}

impl BankError {
    pub fn new(code: BankCode, message: impl Into<String>) -> BankError {
        BankError {
            code,
            message: message.into(),
        }
    }

    pub fn param(message: impl Into<String>) -> BankError {
        BankError::new(BankCode::ParamError, message)
    }
}

impl From<EngineError> for BankError {
    fn from(e: EngineError) -> BankError {
        let code = match &e {
            EngineError::Ledger(l) => ledger_code(l),
            EngineError::Invalid(_) => BankCode::ParamError,
            // Bank endpoints serve transfer-mode operators only: a seamless call
            // cannot start from them.
            EngineError::Seamless(_) => BankCode::SeamlessOperator,
            EngineError::Tournament(_)
            | EngineError::Catalog(_)
            | EngineError::Identity(_)
            | EngineError::Webhook(_)
            | EngineError::Storage(_) => BankCode::Internal,
        };
        BankError::new(code, e.to_string())
    }
}

/// Every ledger error, listed: a new variant must be given a code here. Transfers
/// are deposits and withdrawals, so the round errors cannot arise from them.
fn ledger_code(e: &LedgerError) -> BankCode {
    match e {
        LedgerError::WalletNotFound(_) => BankCode::PlayerNotFound,
        LedgerError::InsufficientBalance { .. } => BankCode::InsufficientBalance,
        LedgerError::InvalidAmount(..) | LedgerError::Overflow => BankCode::ParamError,
        // A referenceId already taken: by another transfer, or cancelled by a refund.
        LedgerError::Conflict(_) | LedgerError::BetCancelled(_) => BankCode::ReferenceConflict,
        LedgerError::LimitExceeded(_) => BankCode::LimitExceeded,
        LedgerError::FundsElsewhere { .. } => BankCode::SeamlessOperator,
        LedgerError::RoundNotFound(_)
        | LedgerError::GameMismatch { .. }
        | LedgerError::RoundClosed(_)
        | LedgerError::WrongState { .. }
        | LedgerError::UnknownBet(_)
        | LedgerError::AlreadyRefunded(_)
        | LedgerError::NotABet(_)
        | LedgerError::Journal(_) => BankCode::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each code's place in `ALL`: a new variant does not compile here until listed.
    fn index(code: BankCode) -> usize {
        match code {
            BankCode::Success => 0,
            BankCode::ParamError => 1,
            BankCode::SignatureError => 2,
            BankCode::TransferInProgress => 3,
            BankCode::InsufficientBalance => 4,
            BankCode::PlayerNotFound => 5,
            BankCode::ReferenceConflict => 6,
            BankCode::CurrencyNotSupported => 7,
            BankCode::SeamlessOperator => 8,
            BankCode::LimitExceeded => 9,
            BankCode::Internal => 10,
        }
    }

    #[test]
    fn all_lists_every_code_once() {
        for (i, code) in BankCode::ALL.iter().enumerate() {
            assert_eq!(index(*code), i);
        }
    }
}
