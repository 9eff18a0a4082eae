//! Batches: many operations, one durability wait. For an embedder that submits from
//! one thread, this turns one fsync per operation into one per batch.

use super::{Engine, EngineError};
use crate::ids::WalletId;
use crate::journal::Lsn;
use crate::ledger::types::*;

/// One operation of a batch.
#[derive(Clone, Debug)]
pub enum BatchOp {
    Deposit(WalletId, DepositRequest),
    Withdraw(WalletId, WithdrawRequest),
    Bet(WalletId, BetRequest),
    Win(WalletId, WinRequest),
    Refund(WalletId, RefundRequest),
    Prize(WalletId, PrizeRequest),
    EndRound(WalletId, EndRoundRequest),
}

pub type BatchResult = Result<Receipt, EngineError>;

impl Engine {
    /// Applies `ops` in order and waits once, for the last of them, before returning
    /// every result. Operations are independent: one failing does not stop the rest.
    /// If the log fails, every result becomes that error (none may be acknowledged).
    pub fn batch(&self, ops: &[BatchOp]) -> Vec<BatchResult> {
        let mut last = Lsn(0);
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let (result, lsn) = self.submit(op).into_parts();
            last = last.max(lsn);
            results.push(result);
        }
        match self.log.wait_durable(last) {
            Ok(()) => results,
            Err(e) => results.into_iter().map(|_| Err(e.clone())).collect(),
        }
    }

    fn submit(&self, op: &BatchOp) -> super::Pending<Receipt> {
        match op {
            BatchOp::Deposit(w, r) => self.deposit_pending(*w, r),
            BatchOp::Withdraw(w, r) => self.withdraw_pending(*w, r),
            BatchOp::Bet(w, r) => self.bet_pending(*w, r),
            BatchOp::Win(w, r) => self.win_pending(*w, r),
            BatchOp::Refund(w, r) => self.refund_pending(*w, r),
            BatchOp::Prize(w, r) => self.prize_pending(*w, r),
            BatchOp::EndRound(w, r) => self.end_round_pending(*w, r),
        }
    }
}
