//! The engine's wallet calls: deposit, withdraw, bet, win, refund, prize and end of
//! round, each blocking (returns once durable) with a `_pending` twin (returns a
//! [`Pending`] to wait for or `.await`), and the scoring hook every one goes through.
//!
//! The hook ([`Engine::scored`]): after a ledger call that closed a round (a win, an
//! end of round, the refund of a round's last bet, an expiry), the engine looks the
//! record up and offers it to the tournaments, which journal their own effect; the
//! caller waits for the later of the two log positions. A replayed receipt (a repeated
//! transaction id) is not offered again: its record was offered the first time, and
//! after a crash [`Engine::rescore_recent_records`] re-offers what the log lacks.

use super::{Engine, EngineError, Pending};
use crate::ids::{RecordId, TxId, WalletId};
use crate::journal::Lsn;
use crate::ledger::error::LedgerError;
use crate::ledger::types::{
    BetRequest, DepositRequest, EndRoundRequest, Funds, PrizeRequest, Receipt, RefundRequest,
    WinRequest, WithdrawRequest,
};
use crate::ledger::{Expiry, Logged};

impl Engine {
    /// Credits the wallet (Publisher Manual §4.1).
    pub fn deposit(&self, wallet: WalletId, req: &DepositRequest) -> Result<Receipt, EngineError> {
        self.admit(wallet, &req.tx)?;
        self.wait_scored(self.domains.ledger.deposit(wallet, req))
    }

    /// [`Engine::deposit`] without the durability wait.
    pub fn deposit_pending(&self, wallet: WalletId, req: &DepositRequest) -> Pending<Receipt> {
        if let Err(e) = self.admit(wallet, &req.tx) {
            return self.refused(e);
        }
        self.pending_scored(self.domains.ledger.deposit(wallet, req))
    }

    /// Debits an amount, or everything available (Publisher Manual §4.2).
    pub fn withdraw(
        &self,
        wallet: WalletId,
        req: &WithdrawRequest,
    ) -> Result<Receipt, EngineError> {
        self.admit(wallet, &req.tx)?;
        self.wait_scored(self.domains.ledger.withdraw(wallet, req))
    }

    /// [`Engine::withdraw`] without the durability wait.
    pub fn withdraw_pending(&self, wallet: WalletId, req: &WithdrawRequest) -> Pending<Receipt> {
        if let Err(e) = self.admit(wallet, &req.tx) {
            return self.refused(e);
        }
        self.pending_scored(self.domains.ledger.withdraw(wallet, req))
    }

    /// Debits a bet: opens the round, or adds to it while open.
    pub fn bet(&self, wallet: WalletId, req: &BetRequest) -> Result<Receipt, EngineError> {
        self.admit(wallet, &req.tx)?;
        self.wait_scored(
            self.domains
                .ledger
                .bet(wallet, req, self.clock.now_ms(), Funds::Local),
        )
    }

    /// [`Engine::bet`] without the durability wait.
    pub fn bet_pending(&self, wallet: WalletId, req: &BetRequest) -> Pending<Receipt> {
        if let Err(e) = self.admit(wallet, &req.tx) {
            return self.refused(e);
        }
        self.pending_scored(
            self.domains
                .ledger
                .bet(wallet, req, self.clock.now_ms(), Funds::Local),
        )
    }

    /// Admission of new work: refuses a bet, deposit or withdrawal with a new
    /// transaction id while the history archiver is more than
    /// `HistoryConfig::max_lag_records` behind the durable log.
    ///
    /// Why: records not yet archived cannot leave memory, so an archiver that falls
    /// behind for good (an engine logging faster than it archives, a store that
    /// stalls) would otherwise grow memory and the held log without limit. What is
    /// let through finishes work already taken: wins, refunds and ends of rounds
    /// (each closes what a bet opened), and repeated ids (answered from the ledger,
    /// logging nothing new). The check is two atomic loads on the hot path; only
    /// past the bound does it look the id up.
    pub(super) fn admit(&self, wallet: WalletId, tx: &TxId) -> Result<(), EngineError> {
        match self.admit_new_work() {
            Err(_) if self.domains.ledger.transaction(wallet, tx)?.is_some() => Ok(()),
            admitted => admitted,
        }
    }

    /// The admission of new work that names no transaction yet (a wallet an API
    /// opens for a first deposit or bet): refused while the archiver is behind, so
    /// that a call refused then opens nothing either.
    pub fn admit_new_work(&self) -> Result<(), EngineError> {
        match self.archiver_lag() {
            Some(lag) if lag > self.config.history.max_lag_records => {
                Err(LedgerError::LimitExceeded(super::ARCHIVER_BEHIND).into())
            }
            _ => Ok(()),
        }
    }

    /// A call refused before it reached the ledger, as a [`Pending`] that is ready.
    fn refused(&self, e: EngineError) -> Pending<Receipt> {
        Pending::new(Err(e), Lsn(0), self.log.clone())
    }

    /// Credits a round; closes it unless told to keep it open.
    pub fn win(&self, wallet: WalletId, req: &WinRequest) -> Result<Receipt, EngineError> {
        self.wait_scored(
            self.domains
                .ledger
                .win(wallet, req, self.clock.now_ms(), Funds::Local),
        )
    }

    /// [`Engine::win`] without the durability wait.
    pub fn win_pending(&self, wallet: WalletId, req: &WinRequest) -> Pending<Receipt> {
        self.pending_scored(
            self.domains
                .ledger
                .win(wallet, req, self.clock.now_ms(), Funds::Local),
        )
    }

    /// Returns exactly the named bet, once.
    pub fn refund(&self, wallet: WalletId, req: &RefundRequest) -> Result<Receipt, EngineError> {
        self.wait_scored(
            self.domains
                .ledger
                .refund(wallet, req, self.clock.now_ms(), Funds::Local),
        )
    }

    /// [`Engine::refund`] without the durability wait.
    pub fn refund_pending(&self, wallet: WalletId, req: &RefundRequest) -> Pending<Receipt> {
        self.pending_scored(self.domains.ledger.refund(
            wallet,
            req,
            self.clock.now_ms(),
            Funds::Local,
        ))
    }

    /// Credits a prize.
    pub fn prize(&self, wallet: WalletId, req: &PrizeRequest) -> Result<Receipt, EngineError> {
        self.wait_scored(self.domains.ledger.prize(wallet, req, Funds::Local))
    }

    /// [`Engine::prize`] without the durability wait.
    pub fn prize_pending(&self, wallet: WalletId, req: &PrizeRequest) -> Pending<Receipt> {
        self.pending_scored(self.domains.ledger.prize(wallet, req, Funds::Local))
    }

    /// Closes a round without a further win.
    pub fn end_round(
        &self,
        wallet: WalletId,
        req: &EndRoundRequest,
    ) -> Result<Receipt, EngineError> {
        self.wait_scored(self.domains.ledger.end_round(
            wallet,
            req,
            self.clock.now_ms(),
            Funds::Local,
        ))
    }

    /// [`Engine::end_round`] without the durability wait.
    pub fn end_round_pending(&self, wallet: WalletId, req: &EndRoundRequest) -> Pending<Receipt> {
        self.pending_scored(self.domains.ledger.end_round(
            wallet,
            req,
            self.clock.now_ms(),
            Funds::Local,
        ))
    }

    /// A wallet call's result once it (and its scoring) is durable. Borrows the log:
    /// the blocking hot path touches no reference count.
    #[inline]
    fn wait_scored(&self, logged: Logged<Receipt>) -> Result<Receipt, EngineError> {
        let (result, lsn) = self.scored(logged);
        self.log.wait_durable(lsn)?;
        result
    }

    /// A wallet call's result, to be handed out once it (and its scoring) is durable:
    /// what the async server awaits.
    #[inline]
    pub(super) fn pending_scored(&self, logged: Logged<Receipt>) -> Pending<Receipt> {
        let (result, lsn) = self.scored(logged);
        Pending::new(result, lsn, self.log.clone())
    }

    /// A wallet call's result, after offering the record it wrote (if any).
    #[inline]
    pub(super) fn scored(&self, logged: Logged<Receipt>) -> (Result<Receipt, EngineError>, Lsn) {
        let offer = match &logged.result {
            Ok(r) if !r.replayed => r.record.map(|id| (r.wallet, id)),
            _ => None,
        };
        let (result, lsn) = (logged.result.map_err(EngineError::from), logged.lsn);
        let Some((wallet, id)) = offer else {
            return (result, lsn);
        };
        match self.offer_record(wallet, id) {
            Ok(scored) => (result, lsn.max(scored)),
            Err(e) => (Err(e), lsn),
        }
    }

    /// An expiry's results, after offering each expired round's record.
    pub(super) fn pending_expired(&self, logged: Logged<Vec<Expiry>>) -> Pending<Vec<Expiry>> {
        let (result, mut lsn) = self.pending(logged).into_parts();
        if let Ok(expiries) = &result {
            for e in expiries {
                if let Ok(id) = e.result {
                    match self.offer_record(e.wallet, id) {
                        Ok(l) => lsn = lsn.max(l),
                        Err(err) => return Pending::new(Err(err), lsn, self.log.clone()),
                    }
                }
            }
        }
        Pending::new(result, lsn, self.log.clone())
    }

    /// Offers record `id` of `wallet` to the tournaments; returns what to wait for.
    fn offer_record(&self, wallet: WalletId, id: RecordId) -> Result<Lsn, EngineError> {
        // Without any binding nothing can score: skip the second shard lock and the
        // key clone that finding the record's channel costs (every win closes a round).
        if !self.domains.tournaments.has_bindings() {
            return Ok(Lsn(0));
        }
        let Some(key) = self.domains.ledger.wallet_key(wallet) else {
            return Ok(Lsn(0));
        };
        if !self.domains.tournaments.channel_has_bindings(&key.channel) {
            return Ok(Lsn(0));
        }
        let Some(record) = self.domains.ledger.records().get(&key.channel, id) else {
            return Ok(Lsn(0));
        };
        let logged = self.domains.tournaments.score(&record);
        logged.result.map(|_| logged.lsn).map_err(Into::into)
    }
}
