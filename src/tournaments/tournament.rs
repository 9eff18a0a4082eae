//! One tournament's state: its rounds' leaderboards and payouts, its bound games,
//! and the state machine that derives its status from the clock and from close and
//! payout progress. Planning a score (which round, which limitations, which
//! initial score) lives here too; applying it is [`super::effect`]'s.
//!
//! # Status (Publisher Manual §5.3 `status`)
//! - 4 disabled: closed before it started (it never ran).
//! - 0 not started: before `start`.
//! - 1 running: `start ≤ now < end`, not closed (also between two rounds).
//! - 2 closing: over (by the clock, or closed early) but some round that ran has not
//!   finished paying its prizes.
//! - 3 ended: over, every round that ran has paid.
//!
//! A round runs over `[start, end)`; closing the tournament early cuts the running
//! round short at the close time, and rounds that had not started never run.

use super::config::{rank_tier_value, Initial, TournamentConfig};
use super::limitations::{Refusal, Usage};
use super::ranked::{RankedSet, Score};
use crate::ids::{ChannelId, GameId, PlayerId, RecordId, WalletId};
use crate::ledger::records::GameRecord;
use crate::ledger::round::RoundEnd;
use crate::money::Amount;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How long (ms of record time) a round remembers which records it scored: the
/// window in which a record can be offered again after a crash (see `super` docs).
pub const RECENT_WINDOW_MS: i64 = 5 * 60 * 1000;

pub use crate::ids::{LeaderboardId, TourneyId};

/// Publisher Manual §5.3 `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TournamentStatus {
    NotStarted,
    Running,
    Closing,
    Ended,
    Disabled,
}

impl TournamentStatus {
    pub fn code(self) -> i32 {
        match self {
            TournamentStatus::NotStarted => 0,
            TournamentStatus::Running => 1,
            TournamentStatus::Closing => 2,
            TournamentStatus::Ended => 3,
            TournamentStatus::Disabled => 4,
        }
    }
}

/// A player's standing in one round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerState {
    pub player: PlayerId,
    /// 1-based number of the player's entry in this leaderboard (the ranks `id`).
    pub entry: u64,
    /// When the player's first counted game closed (Unix ms).
    pub joined_ms: i64,
    pub score: Score,
    /// When the player reached `score`, in leaderboard order: the tie-breaker.
    pub seq: u64,
    pub usage: Usage,
}

/// A ranked player who wins a prize.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Winner {
    pub rank: u64,
    pub wallet: WalletId,
    pub player: PlayerId,
    pub amount: Amount,
}

/// What became of one prize.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrizeOutcome {
    Paid,
    /// The ledger refused the credit for good (not a storage failure, which is
    /// retried by the next tick); kept so the payout can complete and be inspected.
    Refused(String),
}

/// A round's payout: the winners frozen when it started, and each one's outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    pub winners: Vec<Winner>,
    pub outcomes: BTreeMap<u64, PrizeOutcome>,
    pub completed: bool,
}

impl Payout {
    /// Winners without an outcome yet, in rank order.
    pub fn pending(&self) -> impl Iterator<Item = &Winner> {
        self.winners
            .iter()
            .filter(|w| !self.outcomes.contains_key(&w.rank))
    }
}

/// One round's leaderboard and payout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundState {
    pub leaderboard: LeaderboardId,
    /// The source of truth; `board` is its rank index.
    pub players: BTreeMap<WalletId, PlayerState>,
    #[serde(skip)]
    pub board: RankedSet,
    pub next_seq: u64,
    pub next_entry: u64,
    /// (close time, record) of the records scored in the last [`RECENT_WINDOW_MS`]
    /// of record time: what makes offering a record twice harmless.
    pub recent: BTreeSet<(i64, RecordId)>,
    /// Present once the payout started; the leaderboard is frozen from then on.
    pub payout: Option<Payout>,
    /// Each player's newest score steps. Kept out of this struct's encoding (its
    /// snapshot section, `ScoreHistories`, came later; old snapshots have none).
    #[serde(skip)]
    pub history: BTreeMap<WalletId, ScoreHistory>,
}

/// Score steps kept per player and round: the newest.
pub const SCORE_STEPS_KEPT: usize = 8;

/// One record that scored: the score it left the player with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ScoreStep {
    /// When the record closed (Unix ms).
    pub at_ms: i64,
    pub record: RecordId,
    pub score: Score,
}

/// A player's newest [`SCORE_STEPS_KEPT`] score steps in a round, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreHistory {
    pub steps: VecDeque<ScoreStep>,
    /// Older steps were let go.
    pub truncated: bool,
}

impl ScoreHistory {
    /// Adds a step in time order, once (replay may offer one again), keeping the
    /// newest [`SCORE_STEPS_KEPT`].
    pub fn record(&mut self, step: ScoreStep) {
        if self.steps.iter().any(|s| s.record == step.record) {
            return;
        }
        let at = self.steps.partition_point(|s| s < &step);
        self.steps.insert(at, step);
        while self.steps.len() > SCORE_STEPS_KEPT {
            self.steps.pop_front();
            self.truncated = true;
        }
    }
}

impl RoundState {
    pub fn new(leaderboard: LeaderboardId) -> RoundState {
        RoundState {
            leaderboard,
            players: BTreeMap::new(),
            board: RankedSet::new(),
            next_seq: 1,
            next_entry: 1,
            recent: BTreeSet::new(),
            payout: None,
            history: BTreeMap::new(),
        }
    }

    /// Rebuilds the rank index from `players` (after a snapshot is read).
    pub fn rebuild_board(&mut self) {
        self.board = RankedSet::new();
        for (wallet, p) in &self.players {
            self.board.upsert(wallet.0, p.score, p.seq);
        }
        debug_assert_eq!(self.board.len(), self.players.len());
    }

    pub fn payout_completed(&self) -> bool {
        self.payout.as_ref().is_some_and(|p| p.completed)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tournament {
    /// The record id (`id`): increases with creation, so newest first is key order.
    pub key: u64,
    pub id: TourneyId,
    pub channel: ChannelId,
    pub created_ms: i64,
    pub config: TournamentConfig,
    pub rounds: Vec<RoundState>,
    pub games: BTreeSet<GameId>,
    /// When each bound game was bound, where known (bound before bind times were
    /// logged: since ever). Snapshots keep it in a section of its own
    /// ([`BindTime`]), so this struct's encoding stays format 1's.
    #[serde(skip)]
    pub bound_since: BTreeMap<GameId, i64>,
    /// For each bound game, the first game record made after its bind, where known
    /// (binds logged before `BoundFrom`: by time only). Snapshots keep it in a
    /// section of its own ([`BindRecord`](super::BindRecord)).
    #[serde(skip)]
    pub bound_from_record: BTreeMap<GameId, u64>,
    /// When it was closed early, if it was.
    pub closed_ms: Option<i64>,
    /// Set under its lock when deleted, for holders of the handle.
    #[serde(skip)]
    pub deleted: bool,
}

/// Why a record did not score in a tournament.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// A refunded or expired round that cost nothing.
    NoStake,
    Currency,
    /// Not inside a running round of the tournament.
    NoRound,
    /// The round's payout has started.
    Frozen,
    /// Scored before.
    Duplicate,
    /// Closed more than [`RECENT_WINDOW_MS`] before the newest record the round
    /// scored: whether it scored can no longer be told, so it does not (at most once).
    Stale,
    /// `required_last_round` and the player has no score in the previous round.
    NotInLastRound,
    Limited(Refusal),
}

/// A planned score: the player's state in round `round` after the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScorePlan {
    pub round: usize,
    pub state: PlayerState,
}

impl Tournament {
    /// Until when the tournament runs: its end, or its close if earlier.
    pub fn end_ms(&self) -> i64 {
        let end = self.config.end_ms();
        self.closed_ms.map_or(end, |c| c.min(end))
    }

    /// Until when round `i` runs (its end, cut short by a close).
    pub fn round_end_ms(&self, i: usize) -> i64 {
        self.config.rounds[i].end_ms().min(self.end_ms())
    }

    /// Whether round `i` ever runs: it starts before the tournament is over.
    pub fn round_runs(&self, i: usize) -> bool {
        self.config.rounds[i].start_ms() < self.end_ms()
    }

    /// Rounds that ran, are over at `now_ms`, and have not finished paying.
    pub fn payouts_due(&self, now_ms: i64) -> Vec<usize> {
        (0..self.rounds.len())
            .filter(|&i| self.round_runs(i) && now_ms >= self.round_end_ms(i))
            .filter(|&i| !self.rounds[i].payout_completed())
            .collect()
    }

    pub fn status(&self, now_ms: i64) -> TournamentStatus {
        let start = self.config.start_ms();
        if self.closed_ms.is_some_and(|c| c <= start) {
            return TournamentStatus::Disabled;
        }
        if now_ms < start && self.closed_ms.is_none() {
            return TournamentStatus::NotStarted;
        }
        if now_ms < self.end_ms() {
            return TournamentStatus::Running;
        }
        let paid = (0..self.rounds.len())
            .filter(|&i| self.round_runs(i))
            .all(|i| self.rounds[i].payout_completed());
        if paid {
            TournamentStatus::Ended
        } else {
            TournamentStatus::Closing
        }
    }

    /// The round running at `at_ms` (0-based), if any.
    pub fn round_at(&self, at_ms: i64) -> Option<usize> {
        let i = self
            .config
            .rounds
            .partition_point(|r| r.start_ms() <= at_ms)
            .checked_sub(1)?;
        (at_ms < self.round_end_ms(i)).then_some(i)
    }

    /// Publisher Manual §5.3 `currentRound`: the running round, 1-based; −1 when none is.
    pub fn current_round(&self, now_ms: i64) -> i32 {
        match self.round_at(now_ms) {
            Some(i) if self.status(now_ms) == TournamentStatus::Running => i as i32 + 1,
            _ => -1,
        }
    }

    /// What `record` does to this tournament: the player's next state, or why nothing.
    pub fn plan_score(&self, record: &GameRecord) -> Result<ScorePlan, Skip> {
        if record.end != RoundEnd::Settled && !record.total_bet.is_positive() {
            return Err(Skip::NoStake);
        }
        if self
            .config
            .currency
            .as_ref()
            .is_some_and(|c| c != &record.currency)
        {
            return Err(Skip::Currency);
        }
        let at = record.created_at_ms;
        let i = self.round_at(at).ok_or(Skip::NoRound)?;
        let round = &self.rounds[i];
        if round.payout.is_some() {
            return Err(Skip::Frozen);
        }
        if round.recent.contains(&(at, record.id)) {
            return Err(Skip::Duplicate);
        }
        let floor = round
            .recent
            .last()
            .map(|&(newest, _)| newest - RECENT_WINDOW_MS);
        if floor.is_some_and(|floor| at < floor) {
            return Err(Skip::Stale);
        }
        let cfg = &self.config.rounds[i];
        let known = round.players.get(&record.wallet);
        let (score, usage) = match known {
            Some(p) => (p.score, &p.usage),
            None => (self.initial_score(i, record.wallet)?, &Usage::default()),
        };
        let usage = cfg.limitations.admit(usage, at).map_err(Skip::Limited)?;
        let game = cfg.rules.score(record.total_bet, record.total_win);
        let score = cfg.strategy.fold(score, game);
        let state = match known {
            Some(p) => PlayerState {
                // Ties go to who reached the score first: an unchanged score keeps it.
                seq: if p.score == score {
                    p.seq
                } else {
                    round.next_seq
                },
                score,
                usage,
                ..p.clone()
            },
            None => PlayerState {
                player: record.player.clone(),
                entry: round.next_entry,
                joined_ms: at,
                score,
                seq: round.next_seq,
                usage,
            },
        };
        Ok(ScorePlan { round: i, state })
    }

    /// The score a player joining round `i` starts from.
    fn initial_score(&self, i: usize, wallet: WalletId) -> Result<Score, Skip> {
        let cfg = &self.config.rounds[i];
        let previous = i.checked_sub(1).map(|p| &self.rounds[p]);
        if cfg.required_last_round && !previous.is_some_and(|p| p.players.contains_key(&wallet)) {
            return Err(Skip::NotInLastRound);
        }
        Ok(match &cfg.initial {
            Initial::Fixed(v) => *v,
            Initial::Based { default, tiers } => previous
                .and_then(|p| p.board.rank(wallet.0))
                .and_then(|rank| rank_tier_value(tiers, rank))
                .unwrap_or(*default),
        })
    }

    /// The winners of round `i` by its current ranks and prize tiers.
    pub fn winners(&self, i: usize) -> Vec<Winner> {
        let (Some(prize), Some(round)) = (&self.config.rounds[i].prize, self.rounds.get(i)) else {
            return Vec::new();
        };
        let top = usize::try_from(prize.top).unwrap_or(usize::MAX);
        let mut winners = Vec::new();
        for ranked in round.board.page(0, top) {
            let wallet = WalletId(ranked.entry.player);
            let amount = rank_tier_value(&prize.tiers, ranked.rank);
            if let (Some(amount), Some(p)) = (amount, round.players.get(&wallet)) {
                winners.push(Winner {
                    rank: ranked.rank,
                    wallet,
                    player: p.player.clone(),
                    amount,
                });
            }
        }
        debug_assert!(winners.windows(2).all(|w| w[0].rank < w[1].rank));
        winners
    }
}
