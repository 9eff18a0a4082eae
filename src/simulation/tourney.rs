//! Tournaments in the simulator: channel `chA` runs one tournament at a time (one
//! round of a minute, game `g0` bound, a point per minor unit bet, prizes 1,000 to
//! the first and 300 to the second and third). The leaderboard must equal a sort of
//! the scores the model's records give, and each prize must reach the model's
//! balance exactly once (a second payment, or none, shows in the next balance
//! check).
//!
//! Besides creating and ticking, steps unbind and rebind `g0` mid-round (records
//! closed while it is unbound score nothing), close a tournament early (its round
//! ends then and is paid at once), delete one before it starts (it is gone) and
//! delete one that ended and paid.

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
    /// Since when `g0` is bound (`None`: unbound now), and the spans `[from, to)`
    /// it was bound before: a record scores when it closed inside one of them.
    bound_since: Option<i64>,
    bound_before: Vec<(i64, i64)>,
}

impl Running {
    /// Whether a round of `g0` closed at `closed_at` scores.
    fn counts(&self, closed_at: i64) -> bool {
        let bound = |from: i64, to: i64| from.max(self.start_ms)..to.min(self.end_ms);
        self.bound_before
            .iter()
            .any(|&(from, to)| bound(from, to).contains(&closed_at))
            || self
                .bound_since
                .is_some_and(|from| bound(from, self.end_ms).contains(&closed_at))
    }
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
    /// Starts a tournament when none runs (one in eight is deleted before it
    /// starts); otherwise unbinds or rebinds `g0` (one step in eight), closes the
    /// tournament early (one in sixteen), or runs the prize tick; once the round is
    /// over, credits the model with the prizes the leaderboard gives.
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
                .bind_game(&chan(0), &id, &game0()?)
                .map_err(|e| format!("bind: {e}"))?;
            // Not the id: it is a random UUID, and the trace must be the seed's.
            self.report.tournaments += 1;
            let n = self.report.tournaments;
            if self.choices.below(8) == 0 {
                return self.delete_unstarted(id, n);
            }
            self.note(format!("tournament #{n} from {start_secs}"));
            self.tourney = Some(Running {
                id,
                start_ms: start_secs * 1000,
                end_ms: (start_secs + ROUND_SECS) * 1000,
                bound_since: Some(now),
                bound_before: Vec::new(),
            });
            return Ok(());
        };
        if now < running.end_ms {
            match self.choices.below(16) {
                0 | 1 => return self.toggle_binding(),
                2 => return self.close_early(),
                _ => {}
            }
        }
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
            self.delete_ended()?;
        }
        Ok(())
    }

    /// Unbinds `g0` if it is bound, binds it again if not. The clock moves a
    /// millisecond first, so that every record closed before is inside or outside
    /// the bound span by its time alone.
    fn toggle_binding(&mut self) -> Result<(), String> {
        self.advance(1);
        let now = self.clock.now_ms();
        let game = game0()?;
        let engine = self.engine();
        let Some(running) = &self.tourney else {
            return Ok(());
        };
        let (id, bound_since) = (running.id.clone(), running.bound_since);
        let changed = match bound_since {
            Some(_) => engine.unbind_game(&chan(0), &id, &game),
            None => engine.bind_game(&chan(0), &id, &game),
        }
        .map_err(|e| format!("bind or unbind: {e}"))?;
        if !changed {
            let was = if bound_since.is_some() {
                "bound"
            } else {
                "unbound"
            };
            return Err(format!("g0 was {was}, the engine says otherwise"));
        }
        let Some(running) = &mut self.tourney else {
            return Ok(());
        };
        match running.bound_since.take() {
            Some(from) => running.bound_before.push((from, now)),
            None => running.bound_since = Some(now),
        }
        let what = if bound_since.is_some() {
            "unbound"
        } else {
            "bound again"
        };
        self.note(format!("tournament: g0 {what}"));
        Ok(())
    }

    /// Closes the running tournament now (a millisecond on, as above): its round
    /// ends here, and the close pays it.
    fn close_early(&mut self) -> Result<(), String> {
        self.advance(1);
        let now = self.clock.now_ms();
        let Some(running) = &mut self.tourney else {
            return Ok(());
        };
        running.end_ms = running.end_ms.min(now);
        let id = running.id.clone();
        self.outcomes += 3;
        self.engine()
            .close_tournament(&chan(0), &id)
            .map_err(|e| format!("close: {e}"))?;
        self.note("tournament closed early".into());
        self.check_leaderboard()?;
        self.credit_prizes()?;
        self.delete_ended()
    }

    /// A tournament deleted before it starts is gone: no ranks, no binding.
    fn delete_unstarted(&mut self, id: TourneyId, n: u64) -> Result<(), String> {
        let engine = self.engine();
        engine
            .delete_tournament(&chan(0), &id)
            .map_err(|e| format!("delete before the start: {e}"))?;
        if engine
            .tournament_ranks(&chan(0), &id, 1, page_all())
            .is_ok()
        {
            return Err(format!("tournament #{n} still ranks after its delete"));
        }
        if engine.bind_game(&chan(0), &id, &game0()?).is_ok() {
            return Err(format!("tournament #{n} binds a game after its delete"));
        }
        self.note(format!("tournament #{n} deleted before its start"));
        Ok(())
    }

    /// The paid tournament is forgotten here, and deleted there one time in two
    /// (an ended tournament may be).
    fn delete_ended(&mut self) -> Result<(), String> {
        let Some(running) = self.tourney.take() else {
            return Ok(());
        };
        if self.choices.below(2) == 0 {
            self.engine()
                .delete_tournament(&chan(0), &running.id)
                .map_err(|e| format!("delete after the end: {e}"))?;
            self.note("tournament deleted after its end".into());
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
                && running.counts(r.closed_at)
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
                self.hooks.commit(format!("tx {w} {tx}"));
            }
        }
        model::check_balances(self.engine(), &self.wallets, &self.model)
    }

    /// At the end of a run: the running tournament's round ends and is paid (with
    /// the clock at its end, the step ticks: it neither closes nor rebinds).
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

/// The game the simulated tournaments bind.
fn game0() -> Result<GameId, String> {
    sim_id(GameId::new(GAMES[0]))
}
