//! Tournaments (Publisher Manual §5): configuration, status, scoring from closed
//! game rounds, limitations and prizes, all made durable through a [`Journal`].
//!
//! # Layout
//! - [`config`] / [`validate`]: the spec as received, and its validation into a typed
//!   [`TournamentConfig`] (every rule of §5.2.4, each with its [`ConfigError`]).
//! - [`scoring`]: rules and strategies, in fixed point (a score is 1/10 000 point).
//! - [`limits`]: `matches`, `user.time_limit` and `availability`.
//! - [`tournament`]: one tournament's state and status machine; plans scores.
//! - [`effect`]: effects and their application (live and on replay).
//! - `queries`, `payout`: read paths, and the prize protocol.
//!
//! # Mutation
//! As in the ledger: a mutation is planned from the state, its effect handed to the
//! journal while the tournament's lock is held, then applied by the function replay
//! uses ([`effect::apply`]). Lock order: directory → tournament; the ledger is never
//! called with a tournament lock held (prizes are paid between two lock holds).
//!
//! # Scoring exactly once
//! The engine offers every game record it closes (never a replayed receipt's) to
//! [`Tournaments::score`]. A record scores in a tournament when its game is bound,
//! it closed inside a running round of the tournament (record time, not offer time),
//! the round has not started paying, and the limitations admit it. A refunded or
//! expired round without a bet left (`total_bet` 0) never scores: it cost nothing.
//! The `Scored` effect carries the record id; the round remembers the ids it scored
//! in the last [`tournament::RECENT_WINDOW_MS`] of record time and refuses them again;
//! a record that closed before that window is refused as stale, so a record never
//! scores twice.
//!
//! The crash window: the ledger's effect (the record) is in the log, the tournament's
//! `Scored` effect is not. Both go through one ordered log, so the reverse cannot
//! happen. After recovery the engine calls [`Tournaments::rescore_scopes`] and offers
//! again the records of bound games closed since the window's start in rounds that can
//! still score, and after the game was bound (`BoundFrom` logs the bind's time and the
//! first record after it; a round that closed while its game was unbound must not
//! score once it is bound again);
//! the remembered ids make that harmless. A record refused by a
//! limitation is refused again (the counters only grow). What is not covered: a
//! record whose offer was delayed by more than the window behind newer scored
//! records (a thread stalled for minutes between the ledger call and the offer) is
//! refused as stale rather than risk counting it twice.
//!
//! # Prizes exactly once
//! When a round is over (by the clock, or closed), `run_payout` appends
//! `PayoutStarted` with the frozen winner list, credits each winner through the
//! ledger with the transaction id `prize:<tourneyId>:<round>:<rank>`, records each
//! outcome (`PrizeSettled`), then `PayoutCompleted`. Re-running after a crash
//! credits again only the ranks without an outcome; the ledger answers a repeated
//! id with the same amount with its original receipt, so a credit made just before
//! the crash is not made twice. Concurrent runs are harmless for the same reason.
//!
//! # Delete
//! Allowed when the tournament is not started, ended or disabled; refused while it
//! runs or is paying (`WrongState`), so that no score or prize is lost mid-flight.
//! Prizes already credited stay in the wallets.

pub mod config;
pub mod decimal;
pub mod effect;
pub mod error;
pub mod limitations;
mod payout;
mod queries;
pub mod ranked;
pub mod scoring;
pub mod tournament;
pub mod validate;

pub use config::{TournamentConfig, TournamentSpec};
pub use effect::TournamentEffect;
pub use error::TournamentError;
pub use payout::{prize_tx, PrizeAttempt};
pub use queries::{BoundGame, RankRow, RoundInfo, TournamentInfo, TournamentSummary};
pub use tournament::{LeaderboardId, Skip, TournamentStatus, TourneyId};
pub use validate::ConfigError;

use crate::ids::{ChannelId, GameId, WalletId};
use crate::journal::{Journal, Lsn};
use crate::ledger::records::GameRecord;
use effect::{Created, Scored};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tournament::{PrizeOutcome, ScorePlan, Tournament, Winner};

/// Most tournaments one channel may hold (ended ones count until deleted).
pub const TOURNAMENTS_PER_CHANNEL_MAX: usize = 4096;
/// Most games bound to one tournament.
pub const GAMES_PER_TOURNAMENT_MAX: usize = 256;

/// A tournament call's result and the log position to see durable before handing it
/// out.
pub type Logged<T> = crate::journal::Logged<T, TournamentError>;

type Handle = Arc<Mutex<Tournament>>;

#[derive(Default)]
struct Directory {
    by_key: BTreeMap<u64, Handle>,
    by_id: HashMap<TourneyId, u64, foldhash::fast::RandomState>,
    /// Keys per channel; key order is creation order.
    by_channel: HashMap<ChannelId, BTreeSet<u64>, foldhash::fast::RandomState>,
    /// channel → game → tournaments it is bound to: the scoring hook's index.
    bound: HashMap<
        ChannelId,
        HashMap<GameId, BTreeSet<u64>, foldhash::fast::RandomState>,
        foldhash::fast::RandomState,
    >,
}

impl Directory {
    fn insert(&mut self, t: Tournament) -> usize {
        let (key, channel) = (t.key, t.channel.clone());
        let games: Vec<GameId> = t.games.iter().cloned().collect();
        self.by_id.insert(t.id.clone(), key);
        self.by_channel
            .entry(channel.clone())
            .or_default()
            .insert(key);
        self.by_key.insert(key, Arc::new(Mutex::new(t)));
        games.iter().filter(|g| self.bind(&channel, g, key)).count()
    }

    /// Removes a tournament; returns how many bindings went with it.
    fn remove(&mut self, t: &Tournament) -> usize {
        self.by_key.remove(&t.key);
        self.by_id.remove(&t.id);
        if let Some(keys) = self.by_channel.get_mut(&t.channel) {
            keys.remove(&t.key);
        }
        t.games
            .iter()
            .filter(|g| self.unbind(&t.channel, g, t.key))
            .count()
    }

    fn bind(&mut self, channel: &ChannelId, game: &GameId, key: u64) -> bool {
        let games = self.bound.entry(channel.clone()).or_default();
        games.entry(game.clone()).or_default().insert(key)
    }

    fn unbind(&mut self, channel: &ChannelId, game: &GameId, key: u64) -> bool {
        let Some(games) = self.bound.get_mut(channel) else {
            return false;
        };
        let removed = games.get_mut(game).is_some_and(|keys| keys.remove(&key));
        if games.get(game).is_some_and(BTreeSet::is_empty) {
            games.remove(game);
        }
        // An empty entry would make the hot path believe the channel has bindings.
        if games.is_empty() {
            self.bound.remove(channel);
        }
        removed
    }

    fn handle(&self, key: u64) -> Option<Handle> {
        self.by_key.get(&key).cloned()
    }

    /// The tournament `id` of `channel`; another channel's is reported as absent.
    fn find(&self, channel: &ChannelId, id: &TourneyId) -> Result<Handle, TournamentError> {
        let not_found = || TournamentError::NotFound(id.to_string());
        let handle = self
            .by_id
            .get(id)
            .and_then(|k| self.handle(*k))
            .ok_or_else(not_found)?;
        let same_channel = &handle.lock().channel == channel;
        same_channel.then_some(handle).ok_or_else(not_found)
    }
}

/// Every tournament, for snapshots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TournamentsSnapshot {
    pub next_key: u64,
    pub tournaments: Vec<Tournament>,
}

/// When a game was bound to a tournament, as a snapshot holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindTime {
    pub tourney: u64,
    pub game: GameId,
    pub at_ms: i64,
}

/// The first game record made after a game was bound, as a snapshot holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindRecord {
    pub tourney: u64,
    pub game: GameId,
    pub first_record: u64,
}

/// One round's score histories, as a snapshot holds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundHistories {
    pub tourney: u64,
    pub round: u32,
    pub players: Vec<(WalletId, tournament::ScoreHistory)>,
}

/// What offering a record did in one tournament it is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoreOutcome {
    pub tourney: TourneyId,
    /// The 1-based round and the player's score after the record, or why not.
    pub result: Result<(u32, ranked::Score), Skip>,
}

/// Where to look for records to offer again after recovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RescoreScope {
    pub channel: ChannelId,
    pub game: GameId,
    /// Records that closed at or after this time (Unix ms).
    pub since_ms: i64,
    /// And whose id is at least this (0: any).
    pub first_record: u64,
}

pub struct Tournaments<J> {
    dir: RwLock<Directory>,
    /// Bindings in the directory: lets the hot path skip the lock when there are none.
    bindings: AtomicUsize,
    next_key: AtomicU64,
    /// Told when a round ends and when a prize is paid (the webhooks), once set.
    observer: OnceLock<Arc<dyn TournamentObserver>>,
    journal: J,
}

/// Told of a tournament's news, live and on replay, under the tournament's lock, once
/// the effect that carries it is logged at `lsn`. Must be quick and must not call
/// back into the tournaments.
pub trait TournamentObserver: Send + Sync {
    /// Round `round` froze its winners.
    fn round_ended(
        &self,
        lsn: Lsn,
        channel: &ChannelId,
        tourney: &TourneyId,
        round: u32,
        winners: &[Winner],
    );
    /// `winner`'s prize was credited.
    fn prize_paid(
        &self,
        lsn: Lsn,
        channel: &ChannelId,
        tourney: &TourneyId,
        round: u32,
        winner: &Winner,
    );
}

impl<J: Journal<TournamentEffect>> Tournaments<J> {
    pub fn new(journal: J) -> Tournaments<J> {
        Tournaments {
            dir: RwLock::new(Directory::default()),
            bindings: AtomicUsize::new(0),
            next_key: AtomicU64::new(1),
            observer: OnceLock::new(),
            journal,
        }
    }

    /// Sets the observer of tournament news (once; a second call is ignored).
    pub fn observe(&self, observer: Arc<dyn TournamentObserver>) {
        let _ = self.observer.set(observer);
    }

    /// Tells the observer the news `effect` carries, if any.
    fn announce(&self, lsn: Lsn, t: &Tournament, effect: &TournamentEffect) {
        let Some(observer) = self.observer.get() else {
            return;
        };
        match effect {
            TournamentEffect::PayoutStarted { round, winners, .. } => {
                observer.round_ended(lsn, &t.channel, &t.id, *round, winners);
            }
            TournamentEffect::PrizeSettled {
                round,
                rank,
                outcome: PrizeOutcome::Paid,
                ..
            } => {
                let winner = t
                    .rounds
                    .get(*round as usize)
                    .and_then(|r| r.payout.as_ref())
                    .and_then(|p| p.winners.iter().find(|w| w.rank == *rank));
                if let Some(winner) = winner {
                    observer.prize_paid(lsn, &t.channel, &t.id, *round, winner);
                }
            }
            _ => {}
        }
    }

    pub fn journal(&self) -> &J {
        &self.journal
    }

    fn append(&self, effect: &TournamentEffect) -> Result<Lsn, TournamentError> {
        Ok(self.journal.append(effect)?)
    }

    /// Validates `spec` and creates the tournament in `channel`.
    pub fn create(
        &self,
        channel: &ChannelId,
        spec: &TournamentSpec,
        now_ms: i64,
    ) -> Logged<TournamentInfo> {
        let config = match spec.validate() {
            Ok(c) => c,
            Err(e) => return Logged::rejected(e),
        };
        let mut dir = self.dir.write();
        let count = dir.by_channel.get(channel).map_or(0, BTreeSet::len);
        if count >= TOURNAMENTS_PER_CHANNEL_MAX {
            return Logged::rejected(TournamentError::TooManyTournaments(
                TOURNAMENTS_PER_CHANNEL_MAX,
            ));
        }
        let created = Created {
            key: self.next_key.fetch_add(1, Ordering::Relaxed),
            id: TourneyId::random(),
            channel: channel.clone(),
            created_ms: now_ms,
            leaderboards: config
                .rounds
                .iter()
                .map(|_| LeaderboardId::random())
                .collect(),
            config,
        };
        let t = created.build();
        let lsn = match self.append(&TournamentEffect::Created(Box::new(created))) {
            Ok(lsn) => lsn,
            Err(e) => return Logged::rejected(e),
        };
        let info = TournamentInfo::of(&t, now_ms);
        dir.insert(t);
        Logged::ok(info, lsn)
    }

    /// Binds `game` to the tournament; `false` if it already was. Refused once the
    /// tournament has ended or was disabled.
    /// `first_record` is the id the next game record will get: records from it on
    /// closed after the bind (see `rescore_scopes`).
    pub fn bind(
        &self,
        channel: &ChannelId,
        id: &TourneyId,
        game: &GameId,
        now_ms: i64,
        first_record: u64,
    ) -> Logged<bool> {
        let mut dir = self.dir.write();
        let handle = match dir.find(channel, id) {
            Ok(h) => h,
            Err(e) => return Logged::rejected(e),
        };
        let mut t = handle.lock();
        let status = t.status(now_ms);
        if matches!(status, TournamentStatus::Ended | TournamentStatus::Disabled) {
            return Logged::rejected(TournamentError::WrongState {
                status,
                action: "bind a game to",
            });
        }
        if t.games.contains(game) {
            return Logged::ok(false, self.journal.appended());
        }
        if t.games.len() >= GAMES_PER_TOURNAMENT_MAX {
            return Logged::rejected(TournamentError::TooManyGames(GAMES_PER_TOURNAMENT_MAX));
        }
        let effect = TournamentEffect::BoundFrom {
            tourney: t.key,
            game: game.clone(),
            at_ms: now_ms,
            first_record,
        };
        self.commit_locked(&mut dir, &mut t, effect).map(|()| true)
    }

    /// Unbinds `game`; `false` if it was not bound.
    pub fn unbind(&self, channel: &ChannelId, id: &TourneyId, game: &GameId) -> Logged<bool> {
        let mut dir = self.dir.write();
        let handle = match dir.find(channel, id) {
            Ok(h) => h,
            Err(e) => return Logged::rejected(e),
        };
        let mut t = handle.lock();
        if !t.games.contains(game) {
            return Logged::ok(false, self.journal.appended());
        }
        let effect = TournamentEffect::Unbound {
            tourney: t.key,
            game: game.clone(),
        };
        self.commit_locked(&mut dir, &mut t, effect).map(|()| true)
    }

    /// Closes the tournament at `now_ms`: the running round ends now, later rounds
    /// never run. Closing one that is already over changes nothing. The caller then
    /// runs the payouts that became due ([`Tournaments::payouts_due`]).
    pub fn close(&self, channel: &ChannelId, id: &TourneyId, now_ms: i64) -> Logged<()> {
        let handle = match self.dir.read().find(channel, id) {
            Ok(h) => h,
            Err(e) => return Logged::rejected(e),
        };
        let mut t = handle.lock();
        if t.deleted {
            return Logged::rejected(TournamentError::NotFound(id.to_string()));
        }
        if now_ms >= t.end_ms() {
            return Logged::ok((), self.journal.appended());
        }
        let effect = TournamentEffect::Closed {
            tourney: t.key,
            at_ms: now_ms,
        };
        let lsn = match self.append(&effect) {
            Ok(lsn) => lsn,
            Err(e) => return Logged::rejected(e),
        };
        let applied = effect::apply(&mut t, &effect);
        debug_assert!(applied && t.end_ms() <= now_ms);
        Logged::ok((), lsn)
    }

    /// Deletes the tournament: only when not started, ended or disabled.
    pub fn delete(&self, channel: &ChannelId, id: &TourneyId, now_ms: i64) -> Logged<()> {
        let mut dir = self.dir.write();
        let handle = match dir.find(channel, id) {
            Ok(h) => h,
            Err(e) => return Logged::rejected(e),
        };
        let mut t = handle.lock();
        let status = t.status(now_ms);
        if matches!(
            status,
            TournamentStatus::Running | TournamentStatus::Closing
        ) {
            return Logged::rejected(TournamentError::WrongState {
                status,
                action: "delete",
            });
        }
        let effect = TournamentEffect::Deleted { tourney: t.key };
        self.commit_locked(&mut dir, &mut t, effect)
    }

    /// Journals and applies an effect under the directory and tournament locks.
    fn commit_locked(
        &self,
        dir: &mut Directory,
        t: &mut Tournament,
        effect: TournamentEffect,
    ) -> Logged<()> {
        match self.append(&effect) {
            Ok(lsn) => {
                self.apply_locked(dir, t, &effect);
                Logged::ok((), lsn)
            }
            Err(e) => Logged::rejected(e),
        }
    }

    /// Applies an effect to a tournament and to the directory's indexes.
    fn apply_locked(&self, dir: &mut Directory, t: &mut Tournament, effect: &TournamentEffect) {
        // Every variant listed: a new kind of bind that missed the index would leave
        // its game unscored (the simulator found one).
        let (bound, unbound) = match effect {
            TournamentEffect::Bound { game, .. }
            | TournamentEffect::BoundAt { game, .. }
            | TournamentEffect::BoundFrom { game, .. } => {
                (usize::from(dir.bind(&t.channel, game, t.key)), 0)
            }
            TournamentEffect::Unbound { game, .. } => {
                (0, usize::from(dir.unbind(&t.channel, game, t.key)))
            }
            TournamentEffect::Deleted { .. } => {
                t.deleted = true;
                (0, dir.remove(t))
            }
            TournamentEffect::Created(_)
            | TournamentEffect::Closed { .. }
            | TournamentEffect::Scored(_)
            | TournamentEffect::PayoutStarted { .. }
            | TournamentEffect::PrizeSettled { .. }
            | TournamentEffect::PayoutCompleted { .. } => (0, 0),
        };
        self.bindings.fetch_add(bound, Ordering::Relaxed);
        self.bindings.fetch_sub(unbound, Ordering::Relaxed);
        let applied = effect::apply(t, effect);
        debug_assert!(applied, "an effect for a round the tournament lacks");
    }

    /// Whether any game is bound to any tournament: one atomic load, the hot path's
    /// first filter.
    pub fn has_bindings(&self) -> bool {
        self.bindings.load(Ordering::Relaxed) > 0
    }

    /// Whether any game of `channel` is bound to a tournament: the hot path's filter.
    pub fn channel_has_bindings(&self, channel: &ChannelId) -> bool {
        self.has_bindings() && self.dir.read().bound.contains_key(channel)
    }

    /// Scores a closed game round in every tournament its game is bound to.
    pub fn score(&self, record: &GameRecord) -> Logged<Vec<ScoreOutcome>> {
        if self.bindings.load(Ordering::Relaxed) == 0 {
            return Logged::ok(Vec::new(), Lsn(0));
        }
        let handles: Vec<Handle> = {
            let dir = self.dir.read();
            let keys = dir
                .bound
                .get(&record.channel)
                .and_then(|games| games.get(&record.game.id));
            keys.into_iter()
                .flatten()
                .filter_map(|k| dir.handle(*k))
                .collect()
        };
        let mut out = Vec::with_capacity(handles.len());
        let mut lsn = Lsn(0);
        for handle in handles {
            let mut t = handle.lock();
            if t.deleted || !t.games.contains(&record.game.id) {
                continue; // deleted or unbound since the directory was read
            }
            let result = match t.plan_score(record) {
                Ok(plan) => match self.commit_score(&mut t, record, plan) {
                    Ok((l, scored)) => {
                        lsn = lsn.max(l);
                        Ok(scored)
                    }
                    Err(e) => {
                        return Logged {
                            result: Err(e),
                            lsn,
                        }
                    }
                },
                Err(skip) => Err(skip),
            };
            out.push(ScoreOutcome {
                tourney: t.id.clone(),
                result,
            });
        }
        Logged::ok(out, lsn)
    }

    fn commit_score(
        &self,
        t: &mut Tournament,
        record: &GameRecord,
        plan: ScorePlan,
    ) -> Result<(Lsn, (u32, ranked::Score)), TournamentError> {
        let ScorePlan { round, state } = plan;
        let score = state.score;
        let effect = TournamentEffect::Scored(Box::new(Scored {
            tourney: t.key,
            round: round as u32,
            record: record.id,
            at_ms: record.created_at_ms,
            wallet: record.wallet,
            state,
        }));
        let lsn = self.append(&effect)?;
        let applied = effect::apply(t, &effect);
        debug_assert!(applied);
        Ok((lsn, (round as u32 + 1, score)))
    }

    /// Applies a logged effect during recovery. Idempotent (see [`effect`]).
    pub fn replay(&self, lsn: Lsn, effect: &TournamentEffect) {
        self.next_key
            .fetch_max(effect.tourney() + 1, Ordering::Relaxed);
        let mut dir = self.dir.write();
        if let TournamentEffect::Created(c) = effect {
            if !dir.by_key.contains_key(&c.key) {
                dir.insert(c.build());
            }
            return;
        }
        // Absent: deleted in the snapshot this tail is replayed onto.
        let Some(handle) = dir.handle(effect.tourney()) else {
            return;
        };
        let mut t = handle.lock();
        self.apply_locked(&mut dir, &mut t, effect);
        self.announce(lsn, &t, effect);
    }

    /// Every tournament's handle, copied out so that the directory's lock is not
    /// held while each tournament's is taken.
    fn handles(&self) -> Vec<Handle> {
        self.dir.read().by_key.values().cloned().collect()
    }

    /// A copy of every tournament, for a snapshot.
    pub fn export(&self) -> TournamentsSnapshot {
        let dir = self.dir.read();
        TournamentsSnapshot {
            next_key: self.next_key.load(Ordering::Relaxed),
            tournaments: dir.by_key.values().map(|h| h.lock().clone()).collect(),
        }
    }

    /// Every round's score histories, for a snapshot: (tournament, round, player
    /// histories). Written after the tournaments' own section.
    pub fn export_histories(&self) -> Vec<RoundHistories> {
        let handles = self.handles();
        let mut out = Vec::new();
        for h in handles {
            let t = h.lock();
            for (round, r) in t.rounds.iter().enumerate() {
                if !r.history.is_empty() {
                    out.push(RoundHistories {
                        tourney: t.key,
                        round: round as u32,
                        players: r.history.iter().map(|(w, h)| (*w, h.clone())).collect(),
                    });
                }
            }
        }
        out
    }

    /// Every known bind time, for a snapshot (written after the tournaments' own
    /// section).
    pub fn export_bind_times(&self) -> Vec<BindTime> {
        let handles = self.handles();
        let mut out = Vec::new();
        for h in handles {
            let t = h.lock();
            out.extend(t.bound_since.iter().map(|(game, &at_ms)| BindTime {
                tourney: t.key,
                game: game.clone(),
                at_ms,
            }));
        }
        out
    }

    /// Every known first record after a bind, for a snapshot (written after the
    /// tournaments' own section).
    pub fn export_bind_records(&self) -> Vec<BindRecord> {
        let handles = self.handles();
        let mut out = Vec::new();
        for h in handles {
            let t = h.lock();
            out.extend(
                t.bound_from_record
                    .iter()
                    .map(|(game, &first_record)| BindRecord {
                        tourney: t.key,
                        game: game.clone(),
                        first_record,
                    }),
            );
        }
        out
    }

    /// Loads a snapshot's first records after binds (after its tournaments, before
    /// replay); one for a game no longer bound is dropped.
    pub fn import_bind_records(&self, records: Vec<BindRecord>) {
        let dir = self.dir.read();
        for b in records {
            with_bound_game(&dir, b.tourney, &b.game, |t| {
                t.bound_from_record.insert(b.game.clone(), b.first_record);
            });
        }
    }

    /// Loads a snapshot's bind times (after its tournaments, before replay); a time
    /// for a game no longer bound is dropped.
    pub fn import_bind_times(&self, times: Vec<BindTime>) {
        let dir = self.dir.read();
        for b in times {
            with_bound_game(&dir, b.tourney, &b.game, |t| {
                t.bound_since.insert(b.game.clone(), b.at_ms);
            });
        }
    }

    /// Loads a snapshot's score histories (after its tournaments, before replay).
    pub fn import_histories(&self, histories: Vec<RoundHistories>) {
        let dir = self.dir.read();
        for rh in histories {
            let Some(handle) = dir.handle(rh.tourney) else {
                continue;
            };
            let mut t = handle.lock();
            if let Some(r) = t.rounds.get_mut(rh.round as usize) {
                r.history = rh.players.into_iter().collect();
            }
        }
    }

    /// Replaces every tournament with a snapshot's (at start-up, before replay).
    pub fn import(&self, snapshot: TournamentsSnapshot) {
        let mut dir = self.dir.write();
        *dir = Directory::default();
        let mut bindings = 0;
        for mut t in snapshot.tournaments {
            t.rounds
                .iter_mut()
                .for_each(tournament::RoundState::rebuild_board);
            self.next_key.fetch_max(t.key + 1, Ordering::Relaxed);
            bindings += dir.insert(t);
        }
        self.next_key
            .fetch_max(snapshot.next_key, Ordering::Relaxed);
        self.bindings.store(bindings, Ordering::Relaxed);
    }

    /// Where records may have been closed but not scored (the crash window): per bound
    /// game of each round that can still score, since the start of its remembered
    /// window, and after the game was bound: a record closed before the bind closed
    /// while the game was not bound (found by the simulator: unbound, a round closed,
    /// bound again, a crash, and recovery scored that round). After the bind means
    /// from its first record on (`BoundFrom`), which tells records of the bind's own
    /// millisecond apart (a round that closed right after a bind, in the same
    /// millisecond, and whose score a crash lost, was never scored: found by the
    /// simulator too). A record whose id was taken before the bind but that closed
    /// after it is not offered again, and neither, for binds logged with a time only,
    /// is one of the bind's millisecond: a score is given at most once rather than
    /// wrongly.
    pub fn rescore_scopes(&self) -> Vec<RescoreScope> {
        let handles = self.handles();
        let mut scopes = Vec::new();
        for handle in handles {
            let t = handle.lock();
            for (i, round) in t.rounds.iter().enumerate() {
                if round.payout.is_some() || !t.round_runs(i) {
                    continue;
                }
                let since_ms = match round.recent.last() {
                    Some(&(newest, _)) => newest.saturating_sub(tournament::RECENT_WINDOW_MS),
                    None => t.config.rounds[i].start_ms(),
                };
                for game in &t.games {
                    let bound = t.bound_since.get(game).copied();
                    let first_record = t.bound_from_record.get(game).copied();
                    let after_bind = match (bound, first_record) {
                        (Some(at_ms), Some(_)) => at_ms,
                        (Some(at_ms), None) => at_ms.saturating_add(1),
                        (None, _) => i64::MIN,
                    };
                    scopes.push(RescoreScope {
                        channel: t.channel.clone(),
                        game: game.clone(),
                        since_ms: since_ms.max(after_bind),
                        first_record: first_record.unwrap_or(0),
                    });
                }
            }
        }
        scopes
    }
}

/// Runs `f` on tournament `tourney` if `game` is still bound to it (what a snapshot
/// import of bind details needs: details of a game no longer bound are dropped).
fn with_bound_game(dir: &Directory, tourney: u64, game: &GameId, f: impl FnOnce(&mut Tournament)) {
    if let Some(handle) = dir.handle(tourney) {
        let mut t = handle.lock();
        if t.games.contains(game) {
            f(&mut t);
        }
    }
}
