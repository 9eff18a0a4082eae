//! Read paths of the tournament domain: lists (Publisher Manual §5.3, §5.5), info (§5.4) and
//! ranks (§5.10). Every query is filtered to the caller's channel; a tournament of
//! another channel is reported as not found.
//!
//! Paging follows the one rule of [`crate::paging`].

use super::config::TournamentConfig;
use super::ranked::{Ranked, Score};
use super::tournament::{
    LeaderboardId, Payout, RoundState, ScoreHistory, Tournament, TournamentStatus, TourneyId,
};
use super::{Handle, TournamentError, Tournaments};
use crate::ids::{ChannelId, GameId, Label, PlayerId, WalletId};
use crate::journal::Journal;
use crate::paging::{Page, PAGE_SIZE_MAX};

/// A tournament as lists show it (Publisher Manual §5.3.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TournamentSummary {
    /// The record id (`id`).
    pub key: u64,
    pub id: TourneyId,
    pub name: Label,
    pub rounds: usize,
    /// 1-based; −1 when no round is running.
    pub current_round: i32,
    /// Unix seconds.
    pub start_secs: i64,
    pub end_secs: i64,
    pub channel: ChannelId,
    pub status: TournamentStatus,
    pub created_ms: i64,
}

/// One round as info shows it (Publisher Manual §5.4.3 `rounds[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundInfo {
    /// 1-based (`roundId`).
    pub round: u32,
    pub name: Label,
    pub leaderboard: LeaderboardId,
    pub start_secs: i64,
    pub end_secs: i64,
    pub created_ms: i64,
    pub players: usize,
    pub payout: Option<Payout>,
}

/// Publisher Manual §5.4.3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TournamentInfo {
    pub summary: TournamentSummary,
    pub config: TournamentConfig,
    pub rounds: Vec<RoundInfo>,
    pub games: Vec<GameId>,
}

/// A (tournament, bound game) pair (Publisher Manual §5.5.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundGame {
    pub game: GameId,
    pub tournament: TournamentSummary,
}

/// One leaderboard row (the field table of Publisher Manual §5.10:
/// `{id, leaderboardId, player, score, rank, createAt}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RankRow {
    /// The player's entry number in this leaderboard.
    pub id: u64,
    pub leaderboard: LeaderboardId,
    pub player: PlayerId,
    pub wallet: WalletId,
    /// Fixed point, see [`super::scoring`].
    pub score: Score,
    pub rank: u64,
    /// When the player joined the leaderboard (Unix ms).
    pub created_ms: i64,
}

impl TournamentSummary {
    pub fn of(t: &Tournament, now_ms: i64) -> TournamentSummary {
        TournamentSummary {
            key: t.key,
            id: t.id.clone(),
            name: t.config.name.clone(),
            rounds: t.rounds.len(),
            current_round: t.current_round(now_ms),
            start_secs: t.config.start_secs,
            end_secs: t.config.end_secs,
            channel: t.channel.clone(),
            status: t.status(now_ms),
            created_ms: t.created_ms,
        }
    }
}

impl TournamentInfo {
    pub fn of(t: &Tournament, now_ms: i64) -> TournamentInfo {
        let rounds = t
            .config
            .rounds
            .iter()
            .zip(&t.rounds)
            .enumerate()
            .map(|(i, (cfg, state))| RoundInfo {
                round: i as u32 + 1,
                name: cfg.name.clone(),
                leaderboard: state.leaderboard.clone(),
                start_secs: cfg.start_secs,
                end_secs: cfg.end_secs,
                created_ms: t.created_ms,
                players: state.players.len(),
                payout: state.payout.clone(),
            })
            .collect();
        TournamentInfo {
            summary: TournamentSummary::of(t, now_ms),
            config: t.config.clone(),
            rounds,
            games: t.games.iter().cloned().collect(),
        }
    }
}

fn row(round: &RoundState, r: Ranked) -> Option<RankRow> {
    let wallet = WalletId(r.entry.player);
    let p = round.players.get(&wallet)?;
    Some(RankRow {
        id: p.entry,
        leaderboard: round.leaderboard.clone(),
        player: p.player.clone(),
        wallet,
        score: r.entry.score,
        rank: r.rank,
        created_ms: p.joined_ms,
    })
}

impl<J: Journal<super::TournamentEffect>> Tournaments<J> {
    /// The channel's tournaments, newest first.
    pub fn list(&self, channel: &ChannelId, page: Page, now_ms: i64) -> Vec<TournamentSummary> {
        self.newest_first(channel, page.offset(), page.size())
            .iter()
            .map(|h| TournamentSummary::of(&h.lock(), now_ms))
            .collect()
    }

    fn newest_first(&self, channel: &ChannelId, offset: usize, limit: usize) -> Vec<Handle> {
        let dir = self.dir.read();
        let Some(keys) = dir.by_channel.get(channel) else {
            return Vec::new();
        };
        keys.iter()
            .rev()
            .skip(offset)
            .take(limit)
            .filter_map(|k| dir.handle(*k))
            .collect()
    }

    pub fn info(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
        now_ms: i64,
    ) -> Result<TournamentInfo, TournamentError> {
        let handle = self.dir.read().find(channel, id)?;
        let t = handle.lock();
        Ok(TournamentInfo::of(&t, now_ms))
    }

    /// The channel's (tournament, bound game) pairs, newest tournament first, games
    /// in id order.
    pub fn games(&self, channel: &ChannelId, page: Page, now_ms: i64) -> Vec<BoundGame> {
        let (offset, limit) = (page.offset(), page.size());
        let mut out = Vec::new();
        let mut skipped = 0;
        for handle in self.newest_first(channel, 0, usize::MAX) {
            let t = handle.lock();
            for game in &t.games {
                if skipped < offset {
                    skipped += 1;
                    continue;
                }
                if out.len() == limit {
                    return out;
                }
                out.push(BoundGame {
                    game: game.clone(),
                    tournament: TournamentSummary::of(&t, now_ms),
                });
            }
        }
        out
    }

    /// Runs `f` on round `round` (1-based) of the tournament.
    fn with_round<T>(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
        round: i64,
        f: impl FnOnce(&RoundState) -> T,
    ) -> Result<T, TournamentError> {
        let handle = self.dir.read().find(channel, id)?;
        let t = handle.lock();
        let i = usize::try_from(round)
            .ok()
            .and_then(|r| r.checked_sub(1))
            .filter(|&i| i < t.rounds.len())
            .ok_or(TournamentError::RoundNotFound(round))?;
        Ok(f(&t.rounds[i]))
    }

    /// The player's newest score steps in round `round` (empty if it has none).
    pub fn score_history(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
        round: i64,
        wallet: WalletId,
    ) -> Result<ScoreHistory, TournamentError> {
        self.with_round(channel, id, round, |r| {
            r.history.get(&wallet).cloned().unwrap_or_default()
        })
    }

    /// A page of round `round`'s leaderboard (Publisher Manual §5.10).
    pub fn ranks(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
        round: i64,
        page: Page,
    ) -> Result<Vec<RankRow>, TournamentError> {
        self.with_round(channel, id, round, |r| {
            let page = r.board.page(page.offset(), page.size());
            page.into_iter().filter_map(|x| row(r, x)).collect()
        })
    }

    /// One player's (wallet's) row in round `round`, if they have a score there.
    pub fn player_rank(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
        round: i64,
        wallet: WalletId,
    ) -> Result<Option<RankRow>, TournamentError> {
        self.with_round(channel, id, round, |r| {
            let rank = r.board.rank(wallet.0)?;
            let entry = r.board.get(wallet.0)?;
            row(r, Ranked { rank, entry })
        })
    }

    /// The rows around a player: up to `before` above and `after` below.
    pub fn around(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
        round: i64,
        wallet: WalletId,
        (before, after): (usize, usize),
    ) -> Result<Vec<RankRow>, TournamentError> {
        let (before, after) = (before.min(PAGE_SIZE_MAX), after.min(PAGE_SIZE_MAX));
        self.with_round(channel, id, round, |r| {
            let page = r.board.around(wallet.0, before, after);
            page.into_iter().filter_map(|x| row(r, x)).collect()
        })
    }
}
