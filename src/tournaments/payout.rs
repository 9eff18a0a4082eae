//! The prize protocol: freeze a finished round's winners, credit each through the
//! caller's payer (the engine's ledger), record each outcome, then complete. Every
//! step is an effect, so a run interrupted anywhere resumes where it stopped (see
//! the `tournaments` module docs for why no prize is paid twice).

use super::effect::{self, TournamentEffect};
use super::tournament::{PrizeOutcome, TourneyId, Winner};
use super::{Logged, TournamentError, Tournaments};
use crate::ids::{ChannelId, TxId, WalletId};
use crate::journal::{Journal, Lsn};
use crate::ledger::types::PrizeRequest;

/// What the payer did with one prize.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrizeAttempt {
    /// Credited (or had been: a repeated transaction id returns the original receipt).
    Paid,
    /// Refused for good (the wallet is gone, the credit would overflow): recorded,
    /// and the payout goes on.
    Refused(String),
    /// Not known to be written (storage failed): the payout stops and the next run
    /// tries again with the same transaction id.
    Retry(String),
}

/// How far one payout run got.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PayoutProgress {
    /// Prizes this run settled (paid or refused).
    pub settled: usize,
    pub completed: bool,
}

/// The transaction id of the prize for `rank` of round `round` (1-based).
pub fn prize_tx(tourney: &TourneyId, round: u32, rank: u64) -> Option<TxId> {
    TxId::new(&format!("prize:{tourney}:{round}:{rank}")).ok()
}

impl<J: Journal<TournamentEffect>> Tournaments<J> {
    /// (tournament key, 0-based round) of every payout due at `now_ms`, oldest first.
    pub fn payouts_due(&self, now_ms: i64) -> Vec<(u64, usize)> {
        let mut due = Vec::new();
        for h in self.handles() {
            let t = h.lock();
            due.extend(t.payouts_due(now_ms).into_iter().map(|i| (t.key, i)));
        }
        due
    }

    /// The payouts due of one tournament of `channel` (after closing it).
    pub fn payouts_due_of(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
        now_ms: i64,
    ) -> Result<Vec<(u64, usize)>, TournamentError> {
        let handle = self.dir.read().find(channel, id)?;
        let t = handle.lock();
        Ok(t.payouts_due(now_ms)
            .into_iter()
            .map(|i| (t.key, i))
            .collect())
    }

    /// Runs (or resumes) the payout of round `round` of tournament `key`. `pay`
    /// credits one prize and returns the log position of that credit.
    pub fn run_payout(
        &self,
        key: u64,
        round: usize,
        now_ms: i64,
        mut pay: impl FnMut(WalletId, &PrizeRequest) -> (PrizeAttempt, Lsn),
    ) -> Logged<PayoutProgress> {
        let (tourney, pending, mut lsn) = match self.start_payout(key, round, now_ms) {
            Ok(Some(started)) => started,
            Ok(None) => return Logged::ok(PayoutProgress::default(), Lsn(0)),
            Err(e) => return Logged::rejected(e),
        };
        let mut progress = PayoutProgress::default();
        for w in pending {
            let outcome = match prize_tx(&tourney, round as u32 + 1, w.rank) {
                None => PrizeOutcome::Refused("no valid transaction id".to_string()),
                Some(tx) => match pay(
                    w.wallet,
                    &PrizeRequest {
                        tx,
                        amount: w.amount,
                    },
                ) {
                    (PrizeAttempt::Retry(why), l) => {
                        let err = TournamentError::PayoutInterrupted(why);
                        return Logged {
                            result: Err(err),
                            lsn: lsn.max(l),
                        };
                    }
                    (PrizeAttempt::Paid, l) => {
                        lsn = lsn.max(l);
                        PrizeOutcome::Paid
                    }
                    (PrizeAttempt::Refused(why), l) => {
                        lsn = lsn.max(l);
                        PrizeOutcome::Refused(why)
                    }
                },
            };
            match self.settle(key, round, w.rank, outcome) {
                Ok(l) => lsn = lsn.max(l),
                Err(e) => {
                    return Logged {
                        result: Err(e),
                        lsn,
                    }
                }
            }
            progress.settled += 1;
        }
        match self.complete(key, round) {
            Ok(l) => Logged::ok(
                PayoutProgress {
                    completed: true,
                    ..progress
                },
                lsn.max(l),
            ),
            Err(e) => Logged {
                result: Err(e),
                lsn,
            },
        }
    }

    /// Freezes the round's winners if that has not happened yet; returns the
    /// tournament's id, the winners still to pay, and the position to wait for.
    /// `None` when the round is not due (not over, or already complete).
    #[allow(clippy::type_complexity)]
    fn start_payout(
        &self,
        key: u64,
        round: usize,
        now_ms: i64,
    ) -> Result<Option<(TourneyId, Vec<Winner>, Lsn)>, TournamentError> {
        let Some(handle) = self.dir.read().handle(key) else {
            return Ok(None);
        };
        let mut t = handle.lock();
        if t.deleted || !t.payouts_due(now_ms).contains(&round) {
            return Ok(None);
        }
        let mut lsn = self.journal.appended();
        if t.rounds[round].payout.is_none() {
            let effect = TournamentEffect::PayoutStarted {
                tourney: key,
                round: round as u32,
                winners: t.winners(round),
            };
            lsn = self.append(&effect)?;
            let applied = effect::apply(&mut t, &effect);
            debug_assert!(applied && t.rounds[round].payout.is_some());
            self.announce(lsn, &t, &effect);
        }
        let pending = match &t.rounds[round].payout {
            Some(p) => p.pending().cloned().collect(),
            None => Vec::new(),
        };
        Ok(Some((t.id.clone(), pending, lsn)))
    }

    /// Records one prize's outcome, unless one is recorded already.
    fn settle(
        &self,
        key: u64,
        round: usize,
        rank: u64,
        outcome: PrizeOutcome,
    ) -> Result<Lsn, TournamentError> {
        self.update_payout(key, round, |p| {
            (!p.outcomes.contains_key(&rank)).then_some(TournamentEffect::PrizeSettled {
                tourney: key,
                round: round as u32,
                rank,
                outcome,
            })
        })
    }

    /// Marks the payout complete once every winner has an outcome.
    fn complete(&self, key: u64, round: usize) -> Result<Lsn, TournamentError> {
        self.update_payout(key, round, |p| {
            let done = !p.completed && p.pending().next().is_none();
            done.then_some(TournamentEffect::PayoutCompleted {
                tourney: key,
                round: round as u32,
            })
        })
    }

    /// Journals and applies the effect `plan` makes of the round's payout, if any.
    fn update_payout(
        &self,
        key: u64,
        round: usize,
        plan: impl FnOnce(&super::tournament::Payout) -> Option<TournamentEffect>,
    ) -> Result<Lsn, TournamentError> {
        let Some(handle) = self.dir.read().handle(key) else {
            return Ok(Lsn(0));
        };
        let mut t = handle.lock();
        let effect = match t.rounds.get(round).and_then(|r| r.payout.as_ref()) {
            Some(p) if !t.deleted => plan(p),
            _ => None,
        };
        let Some(effect) = effect else {
            return Ok(self.journal.appended());
        };
        let lsn = self.append(&effect)?;
        let applied = effect::apply(&mut t, &effect);
        debug_assert!(applied);
        self.announce(lsn, &t, &effect);
        Ok(lsn)
    }
}
