//! The engine's tournament calls (Publisher Manual §5), the re-scoring of records after
//! a crash, and the periodic tick that pays prizes. The hook that scores every closed
//! game round is with the wallet calls (`engine/wallet.rs`).

use super::{Engine, EngineError};
use crate::ids::{ChannelId, GameId, WalletId};
use crate::journal::Lsn;
use crate::ledger::error::LedgerError;
use crate::ledger::records::{GameRecord, PageDirection, RecordQuery};
use crate::ledger::types::PrizeRequest;
use crate::paging::{Page, PAGE_SIZE_MAX};
use crate::seamless::SeamlessError;
use crate::tournaments::tournament::{ScoreHistory, RECENT_WINDOW_MS};
use crate::tournaments::{
    BoundGame, PrizeAttempt, RankRow, RescoreScope, ScoreOutcome, TournamentError, TournamentInfo,
    TournamentSpec, TournamentSummary, TourneyId,
};
use std::collections::BTreeMap;

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Round payouts completed.
    pub rounds_paid: usize,
    /// Prizes settled (credited or refused for good).
    pub prizes: usize,
    /// Payouts that stopped on a storage failure; the next tick resumes them.
    pub interrupted: usize,
}

impl Engine {
    /// Offers a game record to the tournaments its game is bound to, as the engine
    /// does when a round closes, and waits until what it changed is durable. A record
    /// offered before is refused as a duplicate (or stale): nothing scores twice.
    pub fn score_record(&self, record: &GameRecord) -> Result<Vec<ScoreOutcome>, EngineError> {
        self.pending(self.domains.tournaments.score(record)).wait()
    }

    /// Validates `spec` and creates a tournament in `channel` (Publisher Manual §5.2).
    pub fn create_tournament(
        &self,
        channel: &ChannelId,
        spec: &TournamentSpec,
    ) -> Result<TournamentInfo, EngineError> {
        let now = self.clock.now_ms();
        self.pending(self.domains.tournaments.create(channel, spec, now))
            .wait()
    }

    /// `channel`'s tournaments, newest first (Publisher Manual §5.3).
    pub fn list_tournaments(&self, channel: &ChannelId, page: Page) -> Vec<TournamentSummary> {
        self.domains
            .tournaments
            .list(channel, page, self.clock.now_ms())
    }

    /// Publisher Manual §5.4.
    pub fn tournament_info(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
    ) -> Result<TournamentInfo, EngineError> {
        Ok(self
            .domains
            .tournaments
            .info(channel, id, self.clock.now_ms())?)
    }

    /// `channel`'s (tournament, bound game) pairs (Publisher Manual §5.5).
    pub fn tournament_games(&self, channel: &ChannelId, page: Page) -> Vec<BoundGame> {
        self.domains
            .tournaments
            .games(channel, page, self.clock.now_ms())
    }

    /// Binds a game (Publisher Manual §5.6); `false` if it already was.
    pub fn bind_game(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
        game: &GameId,
    ) -> Result<bool, EngineError> {
        let now = self.clock.now_ms();
        let first_record = self.domains.ledger.counters().next_record;
        self.pending(
            self.domains
                .tournaments
                .bind(channel, id, game, now, first_record),
        )
        .wait()
    }

    /// Unbinds a game (Publisher Manual §5.7); `false` if it was not bound.
    pub fn unbind_game(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
        game: &GameId,
    ) -> Result<bool, EngineError> {
        self.pending(self.domains.tournaments.unbind(channel, id, game))
            .wait()
    }

    /// Closes a tournament (Publisher Manual §5.8) and pays the prizes of the round it cut
    /// short (and of any finished round not yet paid). A payout stopped by a storage
    /// failure is resumed by the next [`Engine::tick_tournaments`].
    pub fn close_tournament(&self, channel: &ChannelId, id: &TourneyId) -> Result<(), EngineError> {
        let now = self.clock.now_ms();
        self.pending(self.domains.tournaments.close(channel, id, now))
            .wait()?;
        let due = self.domains.tournaments.payouts_due_of(channel, id, now)?;
        self.pay_rounds(&due, now).map(|_| ())
    }

    /// Deletes a tournament that is not started, ended or disabled (Publisher Manual §5.9).
    pub fn delete_tournament(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
    ) -> Result<(), EngineError> {
        let now = self.clock.now_ms();
        self.pending(self.domains.tournaments.delete(channel, id, now))
            .wait()
    }

    /// A page of a round's leaderboard; `round` is 1-based (Publisher Manual §5.10).
    pub fn tournament_ranks(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
        round: i64,
        page: Page,
    ) -> Result<Vec<RankRow>, EngineError> {
        Ok(self.domains.tournaments.ranks(channel, id, round, page)?)
    }

    /// One wallet's row in a round, if it has a score there.
    pub fn tournament_player_rank(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
        round: i64,
        wallet: WalletId,
    ) -> Result<Option<RankRow>, EngineError> {
        Ok(self
            .domains
            .tournaments
            .player_rank(channel, id, round, wallet)?)
    }

    /// The rows around a wallet: up to `before` above it and `after` below.
    pub fn tournament_around(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
        round: i64,
        wallet: WalletId,
        before: usize,
        after: usize,
    ) -> Result<Vec<RankRow>, EngineError> {
        Ok(self
            .domains
            .tournaments
            .around(channel, id, round, wallet, (before, after))?)
    }

    /// The newest score steps of `wallet` in round `round` (1-based) of a tournament
    /// of `channel`, oldest first.
    pub fn tournament_score_history(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
        round: i64,
        wallet: WalletId,
    ) -> Result<ScoreHistory, EngineError> {
        Ok(self
            .domains
            .tournaments
            .score_history(channel, id, round, wallet)?)
    }

    /// Pays the prizes of every tournament round that is over. Run it periodically
    /// (the server does; an embedder calls it from its own timer, like
    /// [`Engine::expire_stale_rounds`]).
    pub fn tick_tournaments(&self) -> Result<TickReport, EngineError> {
        let now = self.clock.now_ms();
        let due = self.domains.tournaments.payouts_due(now);
        self.pay_rounds(&due, now)
    }

    /// Runs the payouts of `rounds` and waits once for everything they wrote.
    fn pay_rounds(&self, rounds: &[(u64, usize)], now_ms: i64) -> Result<TickReport, EngineError> {
        let mut report = TickReport::default();
        let mut lsn = Lsn(0);
        for &(key, round) in rounds {
            let logged = self
                .domains
                .tournaments
                .run_payout(key, round, now_ms, |w, req| self.pay_prize(w, req));
            lsn = lsn.max(logged.lsn);
            match logged.result {
                Ok(progress) => {
                    report.prizes += progress.settled;
                    report.rounds_paid += usize::from(progress.completed);
                }
                Err(TournamentError::PayoutInterrupted(_)) => report.interrupted += 1,
                Err(e) => {
                    self.log.wait_durable(lsn)?;
                    return Err(e.into());
                }
            }
        }
        self.log.wait_durable(lsn)?;
        Ok(report)
    }

    /// Credits one prize through the ledger, without waiting (the tick waits once). A
    /// seamless operator's prize is handed to its wallet instead (logged, then sent
    /// and retried like a win by the retry driver): paid, as far as the payout goes.
    fn pay_prize(&self, wallet: WalletId, req: &PrizeRequest) -> (PrizeAttempt, Lsn) {
        let seamless = self
            .domains
            .ledger
            .wallet_key(wallet)
            .is_some_and(|k| self.domains.ledger.has_remote_funds(&k.channel));
        let (result, lsn) = if seamless {
            match self.hand_over_prize(wallet, req) {
                Ok(lsn) => (Ok(()), lsn),
                Err(e) => (Err(e), Lsn(0)),
            }
        } else {
            let (result, lsn) = self.prize_pending(wallet, req).into_parts();
            (result.map(|_| ()), lsn)
        };
        let attempt = match result {
            Ok(_) => PrizeAttempt::Paid,
            Err(EngineError::Ledger(LedgerError::Journal(e))) => PrizeAttempt::Retry(e.to_string()),
            Err(EngineError::Seamless(SeamlessError::Busy | SeamlessError::Journal(_))) => {
                PrizeAttempt::Retry("the operator's wallet has too many unfinished calls".into())
            }
            Err(e) => PrizeAttempt::Refused(e.to_string()),
        };
        (attempt, lsn)
    }

    /// After recovery: offers again the records that may have closed without being
    /// scored (the crash window, see the `tournaments` module docs). Returns how many
    /// scored now. Offering a record that already scored changes nothing.
    pub fn rescore_recent_records(&self) -> Result<usize, EngineError> {
        let mut since: BTreeMap<(ChannelId, GameId), (i64, u64)> = BTreeMap::new();
        for s in self.domains.tournaments.rescore_scopes() {
            let e = since
                .entry((s.channel, s.game))
                .or_insert((s.since_ms, s.first_record));
            *e = (e.0.min(s.since_ms), e.1.min(s.first_record));
        }
        let mut records = Vec::new();
        for ((channel, game), (since_ms, first_record)) in since {
            let scope = RescoreScope {
                channel,
                game,
                since_ms,
                first_record,
            };
            records.extend(self.records_since(&scope));
        }
        records.sort_by_key(|r| r.id);
        records.dedup_by_key(|r| r.id);
        let (mut scored, mut lsn) = (0, Lsn(0));
        for r in &records {
            let logged = self.domains.tournaments.score(r);
            lsn = lsn.max(logged.lsn);
            scored += logged.result?.iter().filter(|o| o.result.is_ok()).count();
        }
        self.log.wait_durable(lsn)?;
        Ok(scored)
    }

    /// The scope's records that closed at or after its start, newest first by id.
    fn records_since(&self, scope: &RescoreScope) -> Vec<GameRecord> {
        let mut out = Vec::new();
        let mut cursor = 0;
        // Record ids follow close times only roughly (ids are taken before the shard
        // lock); a window of slack below `since_ms` covers the difference.
        let stop_ms = scope.since_ms.saturating_sub(RECENT_WINDOW_MS);
        loop {
            let query = RecordQuery {
                game: Some(scope.game.as_str().to_string()),
                cursor,
                direction: PageDirection::Next,
                size: PAGE_SIZE_MAX,
                ..RecordQuery::default()
            };
            let (page, stopped_at) = self.domains.ledger.records().query(
                &scope.channel,
                &query,
                crate::ledger::RECORD_SCAN_BUDGET,
            );
            // Go on below the last record, or below where the scan's budget ran out
            // (it examined everything above that point).
            let Some(next) = stopped_at.or(page.last().map(|r| r.id)) else {
                return out;
            };
            cursor = next.0;
            let done = page.iter().any(|r| r.created_at_ms < stop_ms);
            out.extend(
                page.into_iter()
                    .filter(|r| r.created_at_ms >= scope.since_ms && r.id.0 >= scope.first_record),
            );
            if done {
                return out;
            }
        }
    }
}
