//! The gate wallet API's error codes (its "返回错误状态码" table) and the one mapping
//! from every engine error to them. `docs/gate.md` lists the same table; a test
//! checks that the two agree.

use crate::engine::EngineError;
use crate::ledger::error::LedgerError;
use crate::seamless::{Decline, SeamlessError};

/// Every code the gate endpoints answer with. The document's numbers; never renumber.
/// Three of its codes cannot arise here and have no variant: 20241011 (a coupon
/// failed: the platform has no coupons), 20241012 (a server error: every failure of
/// the server is a storage failure, 20241002) and 20241013 (the player is a robot:
/// not modelled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GateCode {
    /// 用户不属于该系统: the uid is a player of another operator, or a seamless
    /// operator's wallet cannot be called (not configured).
    NotThisSystem = 20240001,
    /// 游戏不存在: the catalog has no such game.
    GameNotFound = 20240002,
    /// 算签错误: a bad `sign`, or a `timestamp` more than 300 s from the server's clock.
    BadSign = 20241000,
    /// 用户不存在: no player has this uid.
    UserNotFound = 20241001,
    /// 系统错误: storage failed; the call may not have been applied.
    SystemError = 20241002,
    /// 用户余额不足
    InsufficientBalance = 20241003,
    /// 无法找到下注的事务: a refund names a bet the wallet never saw (a tombstone now
    /// refuses that bet), or a transaction that is not a bet.
    BetNotFound = 20241004,
    /// 请求参数缺失
    MissingParam = 20241005,
    /// 国家币别错误: not one of the operator's currencies.
    Currency = 20241006,
    /// app_key 错误: no operator has this app_key.
    AppKey = 20241007,
    /// 数据长度或类型错误: a wrong type, an over-long value, a body too large.
    BadData = 20241008,
    /// 金额错误: a bet of less than 1, a negative win, a win breakdown that does not
    /// add up, an amount a balance cannot hold.
    BadAmount = 20241009,
    /// 回合 id 错误: a win for a round with no bet, a round of another game.
    RoundId = 20241010,
    /// 下注失败: a bet refused by the round's state or its transaction id, or by a
    /// limit (open rounds, bets in a round, the history archiver's lag).
    BetFailed = 20241014,
    /// 赢钱失败 / 退款失败 (the document gives both the same number).
    WinOrRefundFailed = 20241015,
    /// 无效的数据: the body is not a JSON object; a wrong method.
    InvalidData = 20242000,
    /// 游戏不存在 (the second code): the game is disabled.
    GameUnavailable = 20242001,
}

impl GateCode {
    pub fn code(self) -> i64 {
        self as i64
    }

    /// The document's own words for the code, as `error_tip` starts.
    pub fn label(self) -> &'static str {
        match self {
            GateCode::NotThisSystem => "用户不属于该系统",
            GateCode::GameNotFound | GateCode::GameUnavailable => "游戏不存在",
            GateCode::BadSign => "算签错误",
            GateCode::UserNotFound => "用户不存在",
            GateCode::SystemError => "系统错误",
            GateCode::InsufficientBalance => "用户余额不足",
            GateCode::BetNotFound => "无法找到下注的事务",
            GateCode::MissingParam => "请求参数缺失",
            GateCode::Currency => "国家币别错误",
            GateCode::AppKey => "app_key 错误",
            GateCode::BadData => "数据长度或类型错误",
            GateCode::BadAmount => "金额错误",
            GateCode::RoundId => "回合 id 错误",
            GateCode::BetFailed => "下注失败",
            GateCode::WinOrRefundFailed => "赢钱失败",
            GateCode::InvalidData => "无效的数据",
        }
    }

    /// Every code, for the test that compares this table with `docs/gate.md`.
    pub const ALL: [GateCode; 17] = [
        GateCode::NotThisSystem,
        GateCode::GameNotFound,
        GateCode::BadSign,
        GateCode::UserNotFound,
        GateCode::SystemError,
        GateCode::InsufficientBalance,
        GateCode::BetNotFound,
        GateCode::MissingParam,
        GateCode::Currency,
        GateCode::AppKey,
        GateCode::BadData,
        GateCode::BadAmount,
        GateCode::RoundId,
        GateCode::BetFailed,
        GateCode::WinOrRefundFailed,
        GateCode::InvalidData,
        GateCode::GameUnavailable,
    ];
}

/// A refused gate call: its code and what went wrong, in English.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateError {
    pub code: GateCode,
    pub message: String,
}

impl GateError {
    pub fn new(code: GateCode, message: impl Into<String>) -> GateError {
        GateError {
            code,
            message: message.into(),
        }
    }
}

/// Which call failed: a refused round operation maps to that call's own failure code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Balance,
    Bet,
    Win,
    Refund,
}

impl Operation {
    fn failed(self) -> GateCode {
        match self {
            Operation::Bet => GateCode::BetFailed,
            Operation::Win | Operation::Refund => GateCode::WinOrRefundFailed,
            // The document has no refusal code for a balance: a seamless wallet that
            // refuses one did not answer it.
            Operation::Balance => GateCode::SystemError,
        }
    }
}

/// The gate code of an engine error raised by `op`.
pub fn engine_error(op: Operation, e: EngineError) -> GateError {
    let code = match &e {
        EngineError::Ledger(l) => ledger_code(op, l),
        EngineError::Seamless(s) => seamless_code(op, s),
        // The scoring hook, the catalog and identity fail only on storage here.
        EngineError::Tournament(_)
        | EngineError::Catalog(_)
        | EngineError::Identity(_)
        | EngineError::Webhook(_)
        | EngineError::Storage(_) => GateCode::SystemError,
        EngineError::Invalid(_) => GateCode::InvalidData,
    };
    GateError::new(code, e.to_string())
}

/// Every seamless error, listed: what a game server hears when the operator's own
/// wallet refused, did not answer, or is busy.
fn seamless_code(op: Operation, e: &SeamlessError) -> GateCode {
    match e {
        SeamlessError::Declined {
            reason: Decline::InsufficientBalance,
            ..
        } => GateCode::InsufficientBalance,
        SeamlessError::Declined {
            reason: Decline::UnknownPlayer,
            ..
        } => GateCode::UserNotFound,
        SeamlessError::Declined {
            reason: Decline::Refused,
            ..
        }
        | SeamlessError::InProgress(_) => op.failed(),
        SeamlessError::RolledBack(_) => GateCode::BetFailed,
        SeamlessError::CreditPending(_) => GateCode::WinOrRefundFailed,
        SeamlessError::NoRemote(_) => GateCode::NotThisSystem,
        SeamlessError::Busy | SeamlessError::Unavailable(_) | SeamlessError::Journal(_) => {
            GateCode::SystemError
        }
    }
}

/// Every ledger error, listed: a new variant must be given a code here.
fn ledger_code(op: Operation, e: &LedgerError) -> GateCode {
    match e {
        LedgerError::WalletNotFound(_) => GateCode::UserNotFound,
        LedgerError::InsufficientBalance { .. } => GateCode::InsufficientBalance,
        LedgerError::InvalidAmount(..) | LedgerError::Overflow => GateCode::BadAmount,
        LedgerError::RoundNotFound(_) | LedgerError::GameMismatch { .. } => GateCode::RoundId,
        LedgerError::UnknownBet(_) | LedgerError::NotABet(_) => GateCode::BetNotFound,
        LedgerError::Conflict(_)
        | LedgerError::RoundClosed(_)
        | LedgerError::WrongState { .. }
        | LedgerError::BetCancelled(_)
        | LedgerError::AlreadyRefunded(_)
        | LedgerError::LimitExceeded(_) => op.failed(),
        LedgerError::FundsElsewhere { .. } => GateCode::NotThisSystem,
        LedgerError::Journal(_) => GateCode::SystemError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each code's place in `ALL`: a new variant does not compile here until listed.
    fn index(code: GateCode) -> usize {
        match code {
            GateCode::NotThisSystem => 0,
            GateCode::GameNotFound => 1,
            GateCode::BadSign => 2,
            GateCode::UserNotFound => 3,
            GateCode::SystemError => 4,
            GateCode::InsufficientBalance => 5,
            GateCode::BetNotFound => 6,
            GateCode::MissingParam => 7,
            GateCode::Currency => 8,
            GateCode::AppKey => 9,
            GateCode::BadData => 10,
            GateCode::BadAmount => 11,
            GateCode::RoundId => 12,
            GateCode::BetFailed => 13,
            GateCode::WinOrRefundFailed => 14,
            GateCode::InvalidData => 15,
            GateCode::GameUnavailable => 16,
        }
    }

    #[test]
    fn all_lists_every_code_once() {
        for (i, code) in GateCode::ALL.iter().enumerate() {
            assert_eq!(index(*code), i);
        }
    }
}
