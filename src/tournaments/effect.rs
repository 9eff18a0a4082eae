//! Tournament effects: what a tournament mutation changed, as values, and the one
//! function per effect that applies it, live and on replay.
//!
//! Like the ledger's, effects carry resulting values (a player's whole round state,
//! the frozen winner list) or keyed inserts (a binding, a prize outcome), and their
//! application only ever moves state forward (a payout once started is not restarted,
//! a close time only gets earlier), so applying one twice, or an older one again
//! before the newer ones, ends in the same state: fuzzy snapshots stay correct.
//! An effect naming a tournament that no longer exists is ignored: the snapshot it
//! is replayed onto was taken after the tournament was deleted.

use super::config::TournamentConfig;
use super::tournament::{
    LeaderboardId, Payout, PlayerState, PrizeOutcome, RoundState, Tournament, TourneyId, Winner,
    RECENT_WINDOW_MS,
};
use crate::ids::{ChannelId, GameId, RecordId, WalletId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TournamentEffect {
    /// A tournament came into being.
    Created(Box<Created>),
    /// A game bound, at a time not recorded (logs written before `BoundAt`).
    Bound {
        tourney: u64,
        game: GameId,
    },
    Unbound {
        tourney: u64,
        game: GameId,
    },
    /// Closed early at `at_ms`.
    Closed {
        tourney: u64,
        at_ms: i64,
    },
    Deleted {
        tourney: u64,
    },
    /// A record scored: the player's round state after it.
    Scored(Box<Scored>),
    /// Round `round` (0-based) froze and will pay `winners`.
    PayoutStarted {
        tourney: u64,
        round: u32,
        winners: Vec<Winner>,
    },
    /// The prize of rank `rank` was credited (or refused for good).
    PrizeSettled {
        tourney: u64,
        round: u32,
        rank: u64,
        outcome: PrizeOutcome,
    },
    PayoutCompleted {
        tourney: u64,
        round: u32,
    },
    /// A game bound at `at_ms`: what a bind writes now. The time bounds what
    /// recovery re-offers to the tournament (`Tournaments::rescore_scopes`): a record
    /// closed before it closed while the game was not bound. (Last, so that the
    /// variants before keep their encoding.)
    BoundAt {
        tourney: u64,
        game: GameId,
        at_ms: i64,
    },
    /// A game bound at `at_ms`, when the next game record to be made was
    /// `first_record`: what a bind writes now. Records with a lower id may have closed
    /// before the bind, even in its own millisecond; those from `first_record` on
    /// closed after it (`Tournaments::rescore_scopes`). (Last, like `BoundAt`.)
    BoundFrom {
        tourney: u64,
        game: GameId,
        at_ms: i64,
        first_record: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    pub key: u64,
    pub id: TourneyId,
    pub channel: ChannelId,
    pub created_ms: i64,
    pub config: TournamentConfig,
    /// One per round.
    pub leaderboards: Vec<LeaderboardId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scored {
    pub tourney: u64,
    pub round: u32,
    pub record: RecordId,
    /// The record's close time (Unix ms).
    pub at_ms: i64,
    pub wallet: WalletId,
    pub state: PlayerState,
}

impl TournamentEffect {
    /// The tournament the effect is about.
    pub fn tourney(&self) -> u64 {
        match self {
            TournamentEffect::Created(c) => c.key,
            TournamentEffect::Scored(s) => s.tourney,
            TournamentEffect::Bound { tourney, .. }
            | TournamentEffect::BoundAt { tourney, .. }
            | TournamentEffect::BoundFrom { tourney, .. }
            | TournamentEffect::Unbound { tourney, .. }
            | TournamentEffect::Closed { tourney, .. }
            | TournamentEffect::Deleted { tourney }
            | TournamentEffect::PayoutStarted { tourney, .. }
            | TournamentEffect::PrizeSettled { tourney, .. }
            | TournamentEffect::PayoutCompleted { tourney, .. } => *tourney,
        }
    }
}

impl Created {
    pub fn build(&self) -> Tournament {
        debug_assert_eq!(self.leaderboards.len(), self.config.rounds.len());
        Tournament {
            key: self.key,
            id: self.id.clone(),
            channel: self.channel.clone(),
            created_ms: self.created_ms,
            config: self.config.clone(),
            rounds: self
                .leaderboards
                .iter()
                .cloned()
                .map(RoundState::new)
                .collect(),
            games: BTreeSet::new(),
            bound_since: std::collections::BTreeMap::new(),
            bound_from_record: std::collections::BTreeMap::new(),
            closed_ms: None,
            deleted: false,
        }
    }
}

/// Applies an effect that changes one tournament alone (not created, deleted, or
/// bindings, which the directory applies). Returns false for an effect this
/// tournament cannot take (a round it does not have).
pub(crate) fn apply(t: &mut Tournament, effect: &TournamentEffect) -> bool {
    match effect {
        TournamentEffect::Closed { at_ms, .. } => {
            t.closed_ms = Some(t.closed_ms.map_or(*at_ms, |c| c.min(*at_ms)));
            true
        }
        TournamentEffect::Scored(s) => apply_scored(t, s),
        TournamentEffect::PayoutStarted { round, winners, .. } => with_round(t, *round, |r| {
            r.payout.get_or_insert_with(|| Payout {
                winners: winners.clone(),
                ..Payout::default()
            });
        }),
        TournamentEffect::PrizeSettled {
            round,
            rank,
            outcome,
            ..
        } => with_round(t, *round, |r| {
            if let Some(p) = r.payout.as_mut() {
                p.outcomes.entry(*rank).or_insert_with(|| outcome.clone());
            }
        }),
        TournamentEffect::PayoutCompleted { round, .. } => with_round(t, *round, |r| {
            if let Some(p) = r.payout.as_mut() {
                p.completed = true;
            }
        }),
        TournamentEffect::Bound { game, .. } => {
            t.games.insert(game.clone());
            t.bound_since.remove(game);
            t.bound_from_record.remove(game);
            true
        }
        TournamentEffect::BoundAt { game, at_ms, .. } => {
            t.games.insert(game.clone());
            t.bound_since.insert(game.clone(), *at_ms);
            t.bound_from_record.remove(game);
            true
        }
        TournamentEffect::BoundFrom {
            game,
            at_ms,
            first_record,
            ..
        } => {
            t.games.insert(game.clone());
            t.bound_since.insert(game.clone(), *at_ms);
            t.bound_from_record.insert(game.clone(), *first_record);
            true
        }
        TournamentEffect::Unbound { game, .. } => {
            t.games.remove(game);
            t.bound_since.remove(game);
            t.bound_from_record.remove(game);
            true
        }
        TournamentEffect::Created(_) | TournamentEffect::Deleted { .. } => true,
    }
}

fn with_round(t: &mut Tournament, round: u32, f: impl FnOnce(&mut RoundState)) -> bool {
    match t.rounds.get_mut(round as usize) {
        Some(r) => {
            f(r);
            true
        }
        None => false,
    }
}

fn apply_scored(t: &mut Tournament, s: &Scored) -> bool {
    with_round(t, s.round, |r| {
        let p = &s.state;
        r.board.upsert(s.wallet.0, p.score, p.seq);
        r.next_seq = r.next_seq.max(p.seq + 1);
        r.next_entry = r.next_entry.max(p.entry + 1);
        r.players.insert(s.wallet, p.clone());
        r.history
            .entry(s.wallet)
            .or_default()
            .record(super::tournament::ScoreStep {
                at_ms: s.at_ms,
                record: s.record,
                score: p.score,
            });
        r.recent.insert((s.at_ms, s.record));
        // Forget what is older than the window before the newest record: it can no
        // longer be offered again (see the module docs of `tournaments`).
        if let Some(&(newest, _)) = r.recent.last() {
            let floor = (newest.saturating_sub(RECENT_WINDOW_MS), RecordId(0));
            r.recent = r.recent.split_off(&floor);
        }
        debug_assert_eq!(r.board.len(), r.players.len());
    })
}
