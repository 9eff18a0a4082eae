//! Seamless rounds: the engine as the client of an operator's own wallet (docs/seamless.md;
//! ARCHITECTURE.md, "Seamless mode").
//!
//! Each call is logged ([`crate::seamless`]) and durable before it is sent; its
//! outcome is logged after. The round, its record and its tournament scoring are kept
//! here exactly as in transfer mode, with the money passing through
//! ([`Funds::Remote`]). What each answer does:
//!
//! | call | done | declined | unknown (time-out, 5xx, "in progress", …) |
//! | --- | --- | --- | --- |
//! | bet | the bet is applied here | refused, nothing open | the bet is applied here as a placeholder, its round is status 3, and the call becomes a refund of the bet (rollback), retried |
//! | win | the win is applied here (the round closes) | retried | the round is status 4; retried with the same id |
//! | refund | the refund is applied here | retried | retried |
//! | prize | the prize is applied here | retried | retried |
//!
//! A refund is final only when done, or when the wallet says the bet never happened
//! there ("no such bet", trusted once three attempts failed): any refusal (a
//! signature refused for clock skew, a conflict) is retried, and the round stays
//! listed (status 3) for the operator to see and, if need be, expire. A bet is never
//! sent twice: after a restart, a bet call without an outcome is rolled back like an
//! unknown one. Wins and refunds are sent again with the same
//! transaction id (the wallet's idempotency makes that safe), from 1 s doubling to
//! 5 min, until the wallet acknowledges them or an operator expires the round.

use super::domains::EngineSeamless;
use super::{Engine, EngineError};
use crate::ids::{ChannelId, Currency, PlayerId, RoundId, TxId, WalletId, WalletKey};
use crate::journal::{Logged, Lsn};
use crate::ledger::error::LedgerError;
use crate::ledger::round::RoundStatus;
use crate::ledger::types::{BetRequest, Funds, Receipt, RefundRequest, WinRequest};
use crate::money::Amount;
use crate::seamless::{
    Call, CallEnd, CallKind, Destination, RemoteAnswer, RemoteCall, RemoteOp, RemoteWallets,
    SeamlessError,
};
use std::sync::Arc;

/// The prefix of a refund's transaction id. The gate and platform APIs refuse any
/// other transaction whose id starts with it (a deposit named `refund:b1` would
/// otherwise take the id of bet `b1`'s refund); the bank API takes it, since that is
/// how a seamless platform gives a withdrawal back (docs/bank.md).
pub const REFUND_TX_PREFIX: &str = "refund:";

/// The transaction id of the refund that undoes bet `bet_tx` (the gate API's own rule,
/// so that a game server's refund and a rollback of the same bet are one transaction).
pub fn refund_tx(bet_tx: &TxId) -> Result<TxId, EngineError> {
    TxId::new(&format!("{REFUND_TX_PREFIX}{bet_tx}"))
        .map_err(|e| EngineError::Invalid(e.to_string()))
}

/// A refund's "no such bet" is trusted once this many attempts failed: with the retry
/// schedule (1 s, 2 s, 4 s) that is at least 7 s after the call began, past the
/// outbound time limit (5 s) within which the bet itself was sent.
const TRUST_NO_SUCH_BET_AFTER_ATTEMPTS: u32 = 3;

/// Funds whose balance is not known (a placeholder bet, an expiry).
const UNKNOWN_BALANCE: Funds = Funds::Remote {
    balance: Amount::ZERO,
};

impl Engine {
    /// Attaches the transport of seamless calls. The server attaches its HTTP client;
    /// an embedder attaches its own. Only the first attachment counts.
    pub fn attach_remote_wallets(&self, remote: Arc<dyn RemoteWallets>) {
        let _ = self.remote.set(remote);
    }

    /// True when `channel`'s players keep their money in the operator's own wallet.
    pub fn is_seamless(&self, channel: &ChannelId) -> bool {
        self.domains.ledger.has_remote_funds(channel)
    }

    /// How many seamless calls are unfinished (being sent or waiting for a retry).
    pub fn seamless_calls_unfinished(&self) -> usize {
        self.domains.seamless.len()
    }

    /// Keeps the ledger's set of seamless channels in step with the operators (at
    /// start, and after a change of an operator's wallet mode).
    pub(super) fn sync_remote_channels(&self) {
        for op in self.domains.identity.operators() {
            let remote = self.domains.identity.remote_wallet(&op.client_id).is_some()
                && op.wallet_mode == crate::identity::types::WalletMode::Seamless;
            self.domains.ledger.set_remote_funds(&op.channel, remote);
        }
    }

    /// The player's balance in the operator's own wallet.
    pub async fn seamless_balance(
        &self,
        channel: &ChannelId,
        player: &PlayerId,
        currency: &Currency,
    ) -> Result<Amount, EngineError> {
        let key = WalletKey {
            channel: channel.clone(),
            player: player.clone(),
            currency: currency.clone(),
        };
        match self.send(&key, RemoteOp::Balance).await? {
            RemoteAnswer::Done { balance } => Ok(balance),
            RemoteAnswer::Declined { reason, message } => {
                Err(SeamlessError::Declined { reason, message }.into())
            }
            RemoteAnswer::Busy => Err(SeamlessError::Busy.into()),
            RemoteAnswer::NoSuchBet => Err(SeamlessError::Unavailable(
                "the wallet's answer does not fit a balance".into(),
            )
            .into()),
            RemoteAnswer::Unknown(m) => Err(SeamlessError::Unavailable(m).into()),
        }
    }

    /// A bet of a seamless operator's player: sent to its wallet, applied here once
    /// taken there. A repeated id is answered from the ledger without a call.
    pub async fn seamless_bet(
        &self,
        wallet: WalletId,
        req: &BetRequest,
    ) -> Result<Receipt, EngineError> {
        // A bet whose rollback could not be named could never be rolled back.
        refund_tx(&req.tx)?;
        let key = self.seamless_wallet(wallet, &req.tx)?;
        let now = self.clock.now_ms();
        match self
            .domains
            .ledger
            .probe_bet(wallet, req, now, UNKNOWN_BALANCE)
        {
            Err(e) => return self.refused_once_durable(e).await,
            Ok(Some(receipt)) => return self.unless_rolled_back(wallet, receipt).await,
            Ok(None) => {}
        }
        // New work, refused (before any call goes out) while the archiver is behind.
        self.admit(wallet, &req.tx)?;
        let call = self
            .begin_call(wallet, &key, CallKind::Bet(req.clone()))
            .await?;
        let answer = self.send_logged(&key, bet_op(req)).await;
        self.settle(call.answered(), answer).await
    }

    /// A win of a seamless operator's player: sent to its wallet (retried until
    /// acknowledged), applied here once acknowledged.
    pub async fn seamless_win(
        &self,
        wallet: WalletId,
        req: &WinRequest,
    ) -> Result<Receipt, EngineError> {
        let key = self.seamless_wallet(wallet, &req.tx)?;
        let now = self.clock.now_ms();
        match self
            .domains
            .ledger
            .probe_win(wallet, req, now, UNKNOWN_BALANCE)
        {
            Err(e) => return self.refused_once_durable(e).await,
            Ok(Some(receipt)) => return Ok(receipt),
            Ok(None) => {}
        }
        let call = self
            .begin_call(wallet, &key, CallKind::Win(req.clone()))
            .await?;
        let answer = self.send_logged(&key, credit_op(req)).await;
        self.settle(call.answered(), answer).await
    }

    /// A game server's refund of a seamless bet: sent to the operator's wallet
    /// (retried until final), applied here once done.
    pub async fn seamless_refund(
        &self,
        wallet: WalletId,
        req: &RefundRequest,
    ) -> Result<Receipt, EngineError> {
        let key = self.seamless_wallet(wallet, &req.bet_tx)?;
        let now = self.clock.now_ms();
        let probe = self
            .domains
            .ledger
            .probe_refund(wallet, req, now, UNKNOWN_BALANCE);
        match probe {
            Ok(Some(receipt)) => return Ok(receipt),
            Ok(None) => {}
            // A bet never seen here was never sent: the refund leaves its tombstone
            // (so that the bet, arriving late, is refused) and calls no one.
            Err(LedgerError::UnknownBet(_)) => {
                let logged = self
                    .domains
                    .ledger
                    .refund(wallet, req, now, UNKNOWN_BALANCE);
                return self.pending_scored(logged).await;
            }
            Err(e) => return self.refused_once_durable(e).await,
        }
        let (round, game, amount) = self
            .domains
            .ledger
            .bet_of(wallet, &req.bet_tx)
            .ok_or_else(|| LedgerError::UnknownBet(req.bet_tx.clone()))?;
        let kind = CallKind::Refund {
            req: req.clone(),
            round,
            game,
            amount,
            local: true,
        };
        let op = refund_op(&kind);
        let call = self.begin_call(wallet, &key, kind).await?;
        let answer = self.send_logged(&key, op).await;
        self.settle(call.answered(), answer).await
    }

    /// Takes up to `limit` calls that are due for another attempt, marking them in
    /// flight: hand each to [`Engine::seamless_attempt`]. The server does so every
    /// few hundred milliseconds, each attempt on its own task.
    pub fn seamless_due(&self, limit: usize) -> Vec<Call> {
        self.domains.seamless.take_due(self.clock.now_ms(), limit)
    }

    /// [`Engine::seamless_due`], then each attempt in turn (for embedders and tests
    /// that drive retries from their own timer). Returns how many were attempted.
    /// Dropped midway, it gives every call not yet answered back to the driver.
    pub async fn seamless_retry_due(&self, limit: usize) -> usize {
        let due: Vec<Attempt<'_>> = self
            .seamless_due(limit)
            .into_iter()
            .map(|call| self.attempt_of(call))
            .collect();
        let n = due.len();
        for call in due {
            self.attempt(call).await;
        }
        n
    }

    /// One more attempt of a logged call taken by [`Engine::seamless_due`]. Dropped
    /// before the answer arrives, it gives the call back to the retry driver.
    pub async fn seamless_attempt(&self, call: Call) {
        self.attempt(self.attempt_of(call)).await
    }

    fn attempt_of(&self, call: Call) -> Attempt<'_> {
        Attempt {
            seamless: &self.domains.seamless,
            call: Some(call),
        }
    }

    async fn attempt(&self, call: Attempt<'_>) {
        let op = match &call.call().kind {
            // A bet is never sent twice: one still without an outcome (a restart,
            // or a caller that went away) is rolled back.
            CallKind::Bet(_) => {
                let _ = self
                    .settle(call.answered(), RemoteAnswer::Unknown("restarted".into()))
                    .await;
                return;
            }
            CallKind::Win(req) => credit_op(req),
            kind @ CallKind::Refund { .. } => refund_op(kind),
            CallKind::Prize(req) => RemoteOp::Prize {
                tx: req.tx.clone(),
                amount: req.amount,
            },
        };
        // A call handed straight to this driver (a prize, an expiry's return of a
        // bet) may not be durable yet, and nothing is sent before its record is.
        // Everything appended so far covers it; the attempts of one tick share a
        // group commit. If the log has failed, the call stays in flight, unsent.
        if self.log.durable(self.log.appended()).await.is_err() {
            call.answered();
            return;
        }
        let answer = self.send_logged(&call.call().key, op).await;
        let _ = self.settle(call.answered(), answer).await;
    }

    /// What an answer does to a logged call, as the table in this module's docs says.
    /// Returns the caller's result once everything it logged is durable.
    async fn settle(&self, call: Call, answer: RemoteAnswer) -> Result<Receipt, EngineError> {
        let now = self.clock.now_ms();
        let wallet = call.wallet;
        match (&call.kind, answer) {
            (CallKind::Bet(req), RemoteAnswer::Done { balance }) => {
                let applied = self
                    .domains
                    .ledger
                    .bet(wallet, req, now, Funds::Remote { balance });
                let (result, lsn) = self.scored(applied);
                match result {
                    Ok(receipt) => {
                        let ended = self.domains.seamless.end(call.id, CallEnd::Done);
                        self.wait_all(lsn, ended).await?;
                        Ok(receipt)
                    }
                    // Taken there but refused here (the round closed meanwhile): give
                    // it back.
                    Err(e) => {
                        let kind = rollback(req, false)?;
                        let retry = self.domains.seamless.retry_later(
                            call.id,
                            Some(kind),
                            &e.to_string(),
                            now,
                        );
                        self.wait_all(lsn, retry).await?;
                        Err(e)
                    }
                }
            }
            (CallKind::Bet(_), RemoteAnswer::Busy) => {
                let ended = self
                    .domains
                    .seamless
                    .end(call.id, CallEnd::Declined("busy".into()));
                self.wait_all(Lsn(0), ended).await?;
                Err(SeamlessError::Busy.into())
            }
            (CallKind::Bet(_), RemoteAnswer::Declined { reason, message }) => {
                let ended = self
                    .domains
                    .seamless
                    .end(call.id, CallEnd::Declined(message.clone()));
                self.wait_all(Lsn(0), ended).await?;
                Err(SeamlessError::Declined { reason, message }.into())
            }
            (
                CallKind::Bet(req),
                unknown @ (RemoteAnswer::Unknown(_) | RemoteAnswer::NoSuchBet),
            ) => {
                let why = failure_text(&unknown);
                self.roll_back(&call, req, &why, now).await?;
                Err(SeamlessError::RolledBack(req.tx.clone()).into())
            }
            (CallKind::Win(req), RemoteAnswer::Done { balance }) => {
                let applied = self
                    .domains
                    .ledger
                    .win(wallet, req, now, Funds::Remote { balance });
                let (result, lsn) = self.scored(applied);
                let ended = self.domains.seamless.end(call.id, CallEnd::Done);
                self.wait_all(lsn, ended).await?;
                result
            }
            (CallKind::Win(req), failed) => {
                let why = failure_text(&failed);
                let marked = self.domains.ledger.mark_round(
                    wallet,
                    &req.round,
                    RoundStatus::CreditFailed,
                    &why,
                );
                let retry = self.domains.seamless.retry_later(call.id, None, &why, now);
                self.wait_all(marked.lsn, retry).await?;
                Err(SeamlessError::CreditPending(why).into())
            }
            (CallKind::Prize(req), RemoteAnswer::Done { balance }) => {
                let paid = self
                    .domains
                    .ledger
                    .prize(wallet, req, Funds::Remote { balance });
                let (result, lsn) = self.scored(paid);
                let ended = self.domains.seamless.end(call.id, CallEnd::Done);
                self.wait_all(lsn, ended).await?;
                result
            }
            (CallKind::Prize(req), failed) => {
                let why = failure_text(&failed);
                let retry = self.domains.seamless.retry_later(call.id, None, &why, now);
                self.wait_all(Lsn(0), retry).await?;
                Err(SeamlessError::CreditPending(format!("prize {}: {why}", req.tx)).into())
            }
            // "No such bet" is trusted only once the bet can no longer arrive late: a
            // bet delayed in the network could land after an early answer (a bank
            // wallet has no way to cancel it in advance).
            (CallKind::Refund { req, .. }, RemoteAnswer::NoSuchBet)
                if call.attempts < TRUST_NO_SUCH_BET_AFTER_ATTEMPTS =>
            {
                let why = "the wallet does not know the bet yet";
                let retry = self.domains.seamless.retry_later(call.id, None, why, now);
                self.wait_all(Lsn(0), retry).await?;
                Err(SeamlessError::InProgress(req.bet_tx.clone()).into())
            }
            (
                CallKind::Refund { req, local, .. },
                answer @ (RemoteAnswer::Done { .. } | RemoteAnswer::NoSuchBet),
            ) => {
                // No such bet there: it never happened, so undoing it here is right.
                let balance = match answer {
                    RemoteAnswer::Done { balance } => balance,
                    _ => Amount::ZERO,
                };
                let (result, lsn) = if *local {
                    let refunded =
                        self.domains
                            .ledger
                            .refund(wallet, req, now, Funds::Remote { balance });
                    self.scored(refunded)
                } else {
                    let e = SeamlessError::RolledBack(req.bet_tx.clone());
                    (Err(e.into()), Lsn(0))
                };
                let ended = self.domains.seamless.end(call.id, CallEnd::Done);
                self.wait_all(lsn, ended).await?;
                result
            }
            (CallKind::Refund { req, .. }, failed) => {
                let why = failure_text(&failed);
                let retry = self.domains.seamless.retry_later(call.id, None, &why, now);
                self.wait_all(Lsn(0), retry).await?;
                Err(SeamlessError::InProgress(req.bet_tx.clone()).into())
            }
        }
    }

    /// A bet whose outcome is unknown: applied here as a placeholder in a round of
    /// status 3, and its call turned into the refund that undoes it, retried.
    async fn roll_back(
        &self,
        call: &Call,
        req: &BetRequest,
        why: &str,
        now_ms: i64,
    ) -> Result<(), EngineError> {
        let wallet = call.wallet;
        let placed = self
            .domains
            .ledger
            .bet(wallet, req, now_ms, UNKNOWN_BALANCE);
        // The placeholder is refused if the round closed meanwhile: then nothing here
        // is undone, only the operator's wallet is asked to return the bet.
        let local = placed.result.is_ok()
            || self
                .domains
                .ledger
                .bet_of(wallet, &req.tx)
                .is_some_and(|(round, ..)| round == req.round);
        let marked = if local {
            let text = format!("bet {}: {why}", req.tx);
            self.domains
                .ledger
                .mark_round(wallet, &req.round, RoundStatus::BetFailed, &text)
                .lsn
        } else {
            Lsn(0)
        };
        let kind = rollback(req, local)?;
        let retry = self
            .domains
            .seamless
            .retry_later(call.id, Some(kind), why, now_ms);
        self.wait_all(placed.lsn.max(marked), retry).await
    }

    /// Hands a tournament prize of a seamless wallet to the operator's wallet: logs
    /// its call for the retry driver to send (at once, then like a win until
    /// acknowledged); the prize transaction is applied here once it is. Answers the
    /// log position to wait for. A prize already handed over is not handed twice.
    pub(super) fn hand_over_prize(
        &self,
        wallet: WalletId,
        req: &crate::ledger::types::PrizeRequest,
    ) -> Result<Lsn, EngineError> {
        let key = self
            .domains
            .ledger
            .wallet_key(wallet)
            .ok_or(LedgerError::WalletNotFound(wallet))?;
        let to = self.destination(&key)?;
        if to.wallet.dialect == crate::identity::types::WalletDialect::Gate {
            return Err(SeamlessError::NoRemote(
                "the gate wallet API has no call for a prize: pay it by hand or use a bank wallet",
            )
            .into());
        }
        if self.domains.seamless.unfinished(wallet, &req.tx).is_some()
            || self.domains.ledger.transaction(wallet, &req.tx)?.is_some()
        {
            return Ok(self.log.appended());
        }
        let now = self.clock.now_ms();
        let begun = self
            .domains
            .seamless
            .begin(wallet, &key, CallKind::Prize(req.clone()), now);
        let call = begun.result?;
        self.domains.seamless.release(call.id);
        Ok(begun.lsn)
    }

    /// The wallet key of a seamless wallet, if no call for `tx` is unfinished.
    fn seamless_wallet(&self, wallet: WalletId, tx: &TxId) -> Result<WalletKey, EngineError> {
        let key = self
            .domains
            .ledger
            .wallet_key(wallet)
            .ok_or(LedgerError::WalletNotFound(wallet))?;
        if !self.domains.ledger.has_remote_funds(&key.channel) {
            return Err(LedgerError::FundsElsewhere {
                wallet,
                remote: false,
            }
            .into());
        }
        if self.domains.seamless.unfinished(wallet, tx).is_some() {
            return Err(SeamlessError::InProgress(tx.clone()).into());
        }
        Ok(key)
    }

    /// A refusal a probe read from the ledger, answered once everything appended so
    /// far is durable: it may rest on effects that are not yet (as
    /// `Ledger::apply`'s refusals wait for them).
    async fn refused_once_durable(&self, e: LedgerError) -> Result<Receipt, EngineError> {
        super::Pending::new(Err(e.into()), self.log.appended(), self.log.clone()).await
    }

    /// A replayed bet's receipt, unless the bet was rolled back since.
    async fn unless_rolled_back(
        &self,
        wallet: WalletId,
        receipt: Receipt,
    ) -> Result<Receipt, EngineError> {
        let refund = refund_tx(&receipt.tx)?;
        if self.domains.ledger.transaction(wallet, &refund)?.is_some() {
            return Err(SeamlessError::RolledBack(receipt.tx).into());
        }
        Ok(receipt)
    }

    /// Logs a call and waits until the log record is durable: nothing is sent first.
    /// Refused before anything is logged if the call could not be sent at all (no
    /// transport attached, no remote wallet, an unregistered player or currency).
    async fn begin_call(
        &self,
        wallet: WalletId,
        key: &WalletKey,
        kind: CallKind,
    ) -> Result<Attempt<'_>, EngineError> {
        self.transport()?;
        self.destination(key)?;
        let now = self.clock.now_ms();
        let Logged { result, lsn } = self.domains.seamless.begin(wallet, key, kind, now);
        let attempt = self.attempt_of(result?);
        match self.log.durable(lsn).await {
            Ok(()) => Ok(attempt),
            // Not durable: the call must not be sent, now or by the retry driver; it
            // stays in flight (the log has failed, and the engine with it).
            Err(e) => {
                attempt.answered();
                Err(e)
            }
        }
    }

    /// Sends a logged call: a failure to send at all (the operator's wallet was
    /// unconfigured meanwhile) is an unknown outcome, settled like any other, so that
    /// a logged call always reaches `settle`.
    async fn send_logged(&self, key: &WalletKey, op: RemoteOp) -> RemoteAnswer {
        match self.send(key, op).await {
            Ok(answer) => answer,
            Err(e) => RemoteAnswer::Unknown(e.to_string()),
        }
    }

    fn transport(&self) -> Result<Arc<dyn RemoteWallets>, EngineError> {
        let remote = self
            .remote
            .get()
            .ok_or(SeamlessError::NoRemote("no transport is attached"))?;
        Ok(remote.clone())
    }

    /// Sends one call through the attached transport.
    async fn send(&self, key: &WalletKey, op: RemoteOp) -> Result<RemoteAnswer, EngineError> {
        let remote = self.transport()?;
        let to = self.destination(key)?;
        let call = RemoteCall {
            to,
            player: key.player.clone(),
            currency: key.currency.clone(),
            op,
        };
        Ok(remote.send(call).await)
    }

    /// Where and how a call for `key` is sent: looked up at each attempt, so that a
    /// changed wallet URL applies to retries too.
    fn destination(&self, key: &WalletKey) -> Result<Destination, EngineError> {
        let identity = &self.domains.identity;
        let op = identity
            .operator_of(&key.channel)
            .ok_or(SeamlessError::NoRemote("the channel has no operator"))?;
        let wallet = identity
            .remote_wallet(&op.client_id)
            .ok_or(SeamlessError::NoRemote("the operator has no remote wallet"))?;
        let uid = identity
            .uid_of(&key.channel, &key.player)
            .ok_or(SeamlessError::NoRemote("the player is not registered"))?;
        let currency_exponent = self
            .currency_exponent(&key.currency)
            .ok_or(SeamlessError::NoRemote("the currency is not registered"))?;
        Ok(Destination {
            client_id: op.client_id.clone(),
            wallet,
            app_key: op.app_key.clone(),
            app_secret: op.app_secret.clone(),
            uid,
            currency_exponent,
        })
    }

    /// Waits until `lsn` and the seamless effect are durable; the effect's error (a
    /// failed log write) wins.
    async fn wait_all<T>(
        &self,
        lsn: Lsn,
        logged: Logged<T, SeamlessError>,
    ) -> Result<(), EngineError> {
        let lsn = lsn.max(logged.lsn);
        logged.result.map_err(EngineError::from)?;
        self.log.durable(lsn).await
    }

    /// Stops the retries of `channel`'s unfinished calls for the rounds an operator
    /// expires (one player's, or all), recording what is left unpaid, and asks the
    /// operator's wallet to return the live bets of the other rounds that expire.
    /// Called before the ledger expires the rounds; answers what each round was left
    /// owing (wallet, round, amount) and the log position to wait for.
    pub(super) fn before_seamless_expiry(
        &self,
        channel: &ChannelId,
        player: Option<&PlayerId>,
    ) -> Result<(Vec<Owed>, Lsn), EngineError> {
        if !self.domains.ledger.has_remote_funds(channel) {
            return Ok((Vec::new(), Lsn(0)));
        }
        let mut lsn = Lsn(0);
        let mut pending_rounds: Vec<Owed> = Vec::new();
        // Rounds whose win was left unpaid (their bets were spent on it), and bets
        // whose return was left undone: neither is returned below.
        let mut unpaid_wins: Vec<(WalletId, RoundId)> = Vec::new();
        let mut unreturned: Vec<(WalletId, TxId)> = Vec::new();
        for call in self.domains.seamless.of_channel(channel) {
            if player.is_some_and(|p| p != &call.key.player) {
                continue;
            }
            let (unpaid, round) = match &call.kind {
                CallKind::Win(r) => {
                    unpaid_wins.push((call.wallet, r.round.clone()));
                    (r.amount, Some(r.round.clone()))
                }
                CallKind::Refund {
                    req,
                    amount,
                    round,
                    local: true,
                    ..
                } => {
                    unreturned.push((call.wallet, req.bet_tx.clone()));
                    (*amount, Some(round.clone()))
                }
                // A bet about to be rolled back, a return already detached from its
                // round, or a prize (of no round): let it finish.
                CallKind::Bet(_) | CallKind::Refund { local: false, .. } | CallKind::Prize(_) => {
                    continue
                }
            };
            let ended = self
                .domains
                .seamless
                .end(call.id, CallEnd::Abandoned { unpaid });
            lsn = lsn.max(ended.lsn);
            ended.result?;
            if let Some(round) = round {
                match pending_rounds
                    .iter_mut()
                    .find(|(w, r, _)| *w == call.wallet && *r == round)
                {
                    Some((_, _, owed)) => *owed = owed.checked_add(unpaid).unwrap_or(*owed),
                    None => pending_rounds.push((call.wallet, round, unpaid)),
                }
            }
        }
        // The other live bets go back to the player: those of open rounds, and of
        // rounds at status 3 (a bet of unknown outcome, rolled back or still being
        // rolled back) whose other bets the wallet did take. Not those of a round
        // whose win is owed (status 4): they were spent on it.
        for game in self.domains.ledger.incomplete_games(channel, player) {
            if game.status == RoundStatus::CreditFailed
                || unpaid_wins
                    .iter()
                    .any(|(w, r)| *w == game.wallet && *r == game.round)
            {
                continue;
            }
            let Some(key) = self.domains.ledger.wallet_key(game.wallet) else {
                continue;
            };
            for (bet_tx, amount) in self.domains.ledger.live_bets(game.wallet, &game.round) {
                if unreturned
                    .iter()
                    .any(|(w, t)| *w == game.wallet && *t == bet_tx)
                {
                    continue;
                }
                let kind = CallKind::Refund {
                    req: RefundRequest {
                        tx: refund_tx(&bet_tx)?,
                        bet_tx,
                    },
                    round: game.round.clone(),
                    game: game.game.clone(),
                    amount,
                    local: false,
                };
                let now = self.clock.now_ms();
                let begun = self
                    .domains
                    .seamless
                    .begin_owed(game.wallet, &key, kind, now);
                lsn = lsn.max(begun.lsn);
                match begun.result {
                    // Due at once, for the retry driver (not attempted here: expiry
                    // is not async).
                    Ok(call) => self.domains.seamless.release(call.id),
                    // Already being returned.
                    Err(SeamlessError::InProgress(_)) => {}
                    // Nothing is expired unless every return is logged.
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok((pending_rounds, lsn))
    }
}

/// A logged call being attempted (in flight, so the retry driver leaves it alone)
/// until its answer is handed to `settle`. If the future attempting it is dropped
/// first (the HTTP client hung up and the server dropped its request, or a shutdown
/// cut it short), the call is given back to the retry driver, which attempts it
/// again as after a restart: a bet is rolled back, a win or refund is sent again
/// with the same id. Without this the call would stay in flight until a restart,
/// its transaction id "in progress" and its round never listed as incomplete.
///
/// `settle` makes every change of state before its first wait, so once the answer
/// is handed over there is nothing left to give back.
struct Attempt<'a> {
    seamless: &'a EngineSeamless,
    call: Option<Call>,
}

impl Attempt<'_> {
    fn call(&self) -> &Call {
        match &self.call {
            Some(call) => call,
            None => unreachable!("an attempt holds its call until answered"),
        }
    }

    /// The call, for `settle`: the attempt is over.
    fn answered(mut self) -> Call {
        match self.call.take() {
            Some(call) => call,
            None => unreachable!("an attempt holds its call until answered"),
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            self.seamless.release(call.id);
        }
    }
}

/// A round an expiry left owing: (wallet, round, what is unpaid).
pub(super) type Owed = (WalletId, RoundId, Amount);

/// A refund that undoes bet `req`: `local` when the bet is in its round here.
fn rollback(req: &BetRequest, local: bool) -> Result<CallKind, EngineError> {
    Ok(CallKind::Refund {
        req: RefundRequest {
            tx: refund_tx(&req.tx)?,
            bet_tx: req.tx.clone(),
        },
        round: req.round.clone(),
        game: req.game.id.clone(),
        amount: req.amount,
        local,
    })
}

fn bet_op(req: &BetRequest) -> RemoteOp {
    RemoteOp::Bet {
        tx: req.tx.clone(),
        round: req.round.clone(),
        game: req.game.id.clone(),
        amount: req.amount,
    }
}

fn credit_op(req: &WinRequest) -> RemoteOp {
    RemoteOp::Credit {
        tx: req.tx.clone(),
        round: req.round.clone(),
        game: req.game.clone(),
        amount: req.amount,
        end_round: !req.keep_open,
    }
}

fn refund_op(kind: &CallKind) -> RemoteOp {
    match kind {
        CallKind::Refund {
            req,
            round,
            game,
            amount,
            ..
        } => RemoteOp::Refund {
            bet_tx: req.bet_tx.clone(),
            round: round.clone(),
            game: game.clone(),
            amount: *amount,
        },
        CallKind::Bet(req) => bet_op(req),
        CallKind::Win(req) => credit_op(req),
        CallKind::Prize(req) => RemoteOp::Prize {
            tx: req.tx.clone(),
            amount: req.amount,
        },
    }
}

/// The text a failed attempt leaves on its round and call.
fn failure_text(answer: &RemoteAnswer) -> String {
    match answer {
        RemoteAnswer::Done { .. } => "done".into(),
        RemoteAnswer::NoSuchBet => "the wallet does not know the bet".into(),
        RemoteAnswer::Declined { message, .. } => format!("declined: {message}"),
        RemoteAnswer::Unknown(m) => m.clone(),
        RemoteAnswer::Busy => "too many calls in flight to the operator's wallet".into(),
    }
}
