//! Tournaments in the simulator: channel `chA` runs one tournament at a time (one
//! round of a minute, game `g0` bound, a point per minor unit bet, prizes 1,000 to
//! the first and 300 to the second and third). The leaderboard must equal a sort of
//! the scores the model's records give, and each prize must reach the model's
//! balance exactly once (a second payment, or none, shows in the next balance
//! check).

use super::model::{self, Op, GAMES};
use super::{chan, page_all, sim_id, World};
use crate::clock::Clock;
use crate::ids::GameId;
use crate::ledger::round::RoundEnd;
use crate::tournaments::config::{
    InitialSpec, PrizeSpec, RoundSpec, RuleSpec, RulesSpec, StrategySpec, TierSpec, TournamentSpec,
};
use crate::tournaments::decimal::SpecNumber;
use crate::tournaments::scoring::SCORE_SCALE;
use crate::tournaments::RankRow;
use crate::tournaments::TourneyId;
use std::collections::BTreeMap;

/// How long the simulated tournament's one round lasts.
const ROUND_SECS: i64 = 60;

/// Model transaction ids of prizes start here (far above the operations' ids).
const PRIZE_TX_BASE: u32 = 2_000_000_000;

/// The tournament running now.
pub(super) struct Running {
    id: TourneyId,
    start_ms: i64,
    end_ms: i64,
}

/// A prize of the simulated tournaments by rank (1-based), in minor units.
fn prize_of(rank: u64) -> Option<i64> {
    match rank {
        1 => Some(1_000),
        2 | 3 => Some(300),
        _ => None,
    }
}

fn spec(start_secs: i64) -> TournamentSpec {
    let n = |v: &str| SpecNumber::new(v);
    let tier = |lo: &str, hi: &str, v: &str| TierSpec {
        range: vec![n(lo), n(hi)],
        value: n(v),
    };
    let end_secs = start_secs + ROUND_SECS;
    TournamentSpec {
        version: "1.0".into(),
        name: "sim cup".into(),
        start_secs,
        end_secs,
        currency: None,
        rounds: vec![RoundSpec {
            name: "only".into(),
            start_secs,
            end_secs,
            initial: InitialSpec {
                kind: "fixed".into(),
                value: n("0"),
                tiers: Vec::new(),
            },
            prize: Some(PrizeSpec {
                kind: "credit".into(),
                top: 3,
                tiers: vec![tier("1", "1", "1000"), tier("2", "3", "300")],
            }),
            limitations: None,
            strategy: StrategySpec {
                kind: 0,
                rules: RulesSpec {
                    bet: Some(RuleSpec {
                        enabled: true,
                        kind: "rate".into(),
                        rate: Some(n("1")),
                        tiers: Vec::new(),
                    }),
                    ..RulesSpec::default()
                },
            },
            required_last_round: false,
        }],
    }
}

impl World {
    /// Starts a tournament when none runs; otherwise runs the prize tick, and once
    /// the round is over credits the model with the prizes the leaderboard gives.
    pub(super) fn tournament_step(&mut self) -> Result<(), String> {
        let now = self.clock.now_ms();
        let Some(running) = &self.tourney else {
            // Starts at the next whole second, so that nothing before it counts.
            let start_secs = now.div_euclid(1000) + 1;
            let engine = self.engine();
            let info = engine
                .create_tournament(&chan(0), &spec(start_secs))
                .map_err(|e| format!("create tournament: {e}"))?;
            let id = info.summary.id.clone();
            engine
                .bind_game(&chan(0), &id, &sim_id(GameId::new(GAMES[0]))?)
                .map_err(|e| format!("bind: {e}"))?;
            // Not the id: it is a random UUID, and the trace must be the seed's.
            self.report.tournaments += 1;
            let n = self.report.tournaments;
            self.note(format!("tournament #{n} from {start_secs}"));
            self.tourney = Some(Running {
                id,
                start_ms: start_secs * 1000,
                end_ms: (start_secs + ROUND_SECS) * 1000,
            });
            return Ok(());
        };
        let over = now >= running.end_ms;
        // A tick may pay up to three prizes: entries for the memory bound.
        self.outcomes += 3;
        let report = self
            .engine()
            .tick_tournaments()
            .map_err(|e| format!("tick: {e}"))?;
        self.note(format!("tournament tick → {report:?}"));
        self.check_leaderboard()?;
        if over {
            self.credit_prizes()?;
            self.tourney = None;
        }
        Ok(())
    }

    /// Each wallet's score by the model: a point per minor unit bet in the rounds
    /// of `g0` that closed inside the tournament's round (a round that ended with
    /// nothing staked scores nothing), in the engine's fixed point, saturating.
    fn model_scores(&self, running: &Running) -> BTreeMap<usize, i64> {
        let mut scores: BTreeMap<usize, i128> = BTreeMap::new();
        for r in self.model.records.values() {
            let counted = r.wallet / 2 == 0
                && r.game == 0
                && (running.start_ms..running.end_ms).contains(&r.closed_at)
                && (r.end == RoundEnd::Settled || r.total_bet > 0);
            if counted {
                *scores.entry(r.wallet).or_default() +=
                    i128::from(r.total_bet) * i128::from(SCORE_SCALE);
            }
        }
        scores
            .into_iter()
            .map(|(w, s)| (w, i64::try_from(s).unwrap_or(i64::MAX)))
            .collect()
    }

    /// The running round's leaderboard, whole.
    fn ranks(&self, running: &Running) -> Result<Vec<RankRow>, String> {
        self.engine()
            .tournament_ranks(&chan(0), &running.id, 1, page_all())
            .map_err(|e| format!("ranks: {e}"))
    }

    /// The leaderboard lists exactly the model's scores, highest first.
    pub(super) fn check_leaderboard(&self) -> Result<(), String> {
        let Some(running) = &self.tourney else {
            return Ok(());
        };
        let rows = self.ranks(running)?;
        let want = self.model_scores(running);
        let mut got = BTreeMap::new();
        for pair in rows.windows(2) {
            if pair[0].score < pair[1].score || pair[0].rank >= pair[1].rank {
                return Err(format!("leaderboard out of order: {pair:?}"));
            }
        }
        for row in &rows {
            let w = self
                .wallets
                .iter()
                .position(|x| *x == row.wallet)
                .ok_or_else(|| format!("a ranked wallet not in the model: {row:?}"))?;
            got.insert(w, row.score);
        }
        if got != want {
            return Err(format!("leaderboard {got:?}, the model's scores {want:?}"));
        }
        Ok(())
    }

    /// The round is over and paid: the model credits each winner once.
    fn credit_prizes(&mut self) -> Result<(), String> {
        let Some(running) = &self.tourney else {
            return Ok(());
        };
        let rows = self.ranks(running)?;
        for row in rows {
            let Some(amount) = prize_of(row.rank) else {
                continue;
            };
            let Some(w) = self.wallets.iter().position(|x| *x == row.wallet) else {
                continue;
            };
            self.prizes += 1;
            let op = Op::Prize {
                w,
                tx: PRIZE_TX_BASE + self.prizes,
                amount,
            };
            let out = self.model.apply(&op);
            if out.first().is_some_and(|o| o.is_ok()) {
                self.report.prizes += 1;
            }
            if let (Some(Ok(_)), Some(tx)) = (
                out.first(),
                crate::tournaments::prize_tx(&running.id, 1, row.rank),
            ) {
                self.hooks.committed.insert(format!("tx {w} {tx}"));
            }
        }
        model::check_balances(self.engine(), &self.wallets, &self.model)
    }

    /// At the end of a run: the running tournament's round ends and is paid.
    pub(super) fn finish_tournament(&mut self) -> Result<(), String> {
        let Some(running) = &self.tourney else {
            return Ok(());
        };
        let wait = running.end_ms - self.clock.now_ms();
        if wait > 0 {
            self.advance(wait);
        }
        self.tournament_step()
    }
}
