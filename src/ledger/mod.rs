//! The ledger: wallets, rounds, idempotency and game records, in lock-striped shards.
//!
//! # Concurrency
//! Wallets live in `shards` (a power of two), each a `parking_lot::Mutex` over a plain
//! map; a wallet's shard is a hash of its id. A wallet's transaction table and rounds
//! live with it, so every wallet operation takes exactly one shard lock. The lock
//! order, for the few paths that nest, is: directory stripe → shard → record stripe.
//!
//! # Mutation
//! Every mutation is planned ([`plan`]) into an effect, handed to the journal while
//! the shard lock is held (so per-wallet log order equals apply order), then applied
//! ([`effect::apply_change`]). Replay applies logged effects through the same code.
//! Each call returns a [`Logged`]: its result, and the log position to see durable
//! before the result may be acknowledged.

pub mod archive;
pub mod compact;
pub mod effect;
pub mod error;
pub mod export;
mod plan;
pub mod records;
pub mod round;
pub mod rounds;
mod sweep;
pub mod table;
pub mod types;
pub mod wallet;

use crate::cache_line::CacheLine;
use crate::ids::{
    ChannelId, Currency, GameId, PlayerId, RecordId, RoundId, TxId, WalletId, WalletKey,
};
use crate::journal::{Journal, JournalError, Lsn};
use crate::money::Amount;
use archive::{Archive, ArchiveError};
use effect::{apply_change, LedgerEffect, RoundChange, WalletChange};
use error::LedgerError;
use parking_lot::{Mutex, RwLock};
use plan::{Ctx, Hashes, Plan};
use records::{DeferredRecords, GameRecord, RecordStore};
use round::{RoundStatus, MAX_ROUND_ERROR_BYTES};
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use table::Stamp;
use types::*;
use wallet::{Map, TxOutcome, Wallet};

/// How the ledger is laid out in memory.
#[derive(Clone, Debug)]
pub struct LedgerConfig {
    /// Number of wallet shards; rounded up to a power of two.
    pub shards: usize,
    /// Number of game-record stripes; rounded up to a power of two.
    pub record_stripes: usize,
}

impl Default for LedgerConfig {
    /// 256 shards: far more than two threads need to rarely meet on a lock, but a
    /// snapshot copies one shard at a time under its lock, and the longest pause a
    /// writer sees is one shard's copy. 1M wallets / 256 ≈ 4k wallets per pause.
    fn default() -> Self {
        let cores = crate::cores::available().unwrap_or(2);
        LedgerConfig {
            shards: 256,
            record_stripes: (cores * 2).next_power_of_two().max(4),
        }
    }
}

/// A ledger call's result and the log position to see durable before handing it out.
pub type Logged<T> = crate::journal::Logged<T, LedgerError>;

#[derive(Default)]
struct Shard {
    /// Boxed: wallets are large and long-lived; small buckets keep rehashing cheap.
    wallets: Map<WalletId, Box<Wallet>>,
    /// Wallets that have an unclosed round: what expiry and incomplete-games scan.
    unclosed: WalletSet,
    /// Wallets that hold transaction entries or rounds (`holds_history`): the ones
    /// eviction visits, so that a pass costs what memory holds of history, not one
    /// visit to every wallet ever opened (a million idle wallets took 53–56 ms a
    /// pass; docs/performance.md).
    holding: WalletSet,
}

/// Whether a wallet holds entries eviction may take (or open rounds it keeps):
/// what `Shard::holding` lists.
#[inline]
fn holds_history(w: &Wallet) -> bool {
    !w.txs.is_empty() || !w.rounds.is_empty()
}

/// Which unclosed rounds an expiry takes.
#[derive(Clone, Copy, Debug)]
pub enum ExpireScope<'a> {
    Player(&'a ChannelId, &'a PlayerId),
    Channel(&'a ChannelId),
    /// Rounds opened at or before this time (Unix ms): the open-round time-out.
    OpenedBefore(i64),
}

/// The result of expiring one round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expiry {
    pub wallet: WalletId,
    pub player: PlayerId,
    pub round: RoundId,
    pub game: GameId,
    pub result: Result<RecordId, LedgerError>,
    /// What the player is still owed from outside this ledger for the round (a
    /// seamless operator's wallet: a credit or a bet's return whose retries the
    /// expiry stopped), for the operator to settle by hand. The engine fills it in.
    pub unpaid: Amount,
}

/// An unclosed round, as the incomplete-games lists show it (Publisher Manual §3.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncompleteGame {
    pub wallet: WalletId,
    pub player: PlayerId,
    pub currency: Currency,
    pub round: RoundId,
    pub game: GameId,
    pub bet_amount: Amount,
    pub total_win: Amount,
    pub status: RoundStatus,
    pub error: String,
    pub opened_at_ms: i64,
}

/// The hash that places a wallet: its shard here, its replay lane in recovery (so that
/// lanes on a power-of-two count never share a shard lock). Fibonacci hashing spreads
/// the sequential wallet numbers evenly.
#[inline]
pub(crate) fn shard_hash(wallet: WalletId) -> usize {
    (wallet.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize
}

/// One stripe of the wallet directory: (channel, player, currency) → wallet id.
type Directory = Map<WalletKey, WalletId>;

/// A shard's index of some of its wallets (`Shard::unclosed`, `Shard::holding`).
type WalletSet = HashSet<WalletId, foldhash::fast::RandomState>;

pub struct Ledger<J> {
    /// Each shard alone on its cache lines: threads on neighbouring shards must not
    /// take each other's lock line (see `cache_line`). Likewise the stripes and the
    /// counters, which every thread writes.
    shards: Box<[CacheLine<Mutex<Shard>>]>,
    /// (channel, player, currency) → wallet id, striped by key hash.
    directory: Box<[CacheLine<Mutex<Directory>>]>,
    hasher: foldhash::fast::RandomState,
    next_wallet: CacheLine<AtomicU64>,
    next_record: CacheLine<AtomicU64>,
    records: RecordStore,
    /// Channels whose players' money is kept in the operator's own wallet (seamless
    /// mode): their wallets take only [`Funds::Remote`] calls. Derived from the
    /// operators' configuration (the engine keeps it in step); not logged here.
    remote_channels: RwLock<HashSet<ChannelId, foldhash::fast::RandomState>>,
    /// True when `remote_channels` is not empty: the hot path of a transfer-only
    /// ledger reads this one flag, not the set.
    any_remote: AtomicBool,
    /// Told of every wallet change as it is applied (the webhooks' outbox), once set.
    observer: OnceLock<Arc<dyn ChangeObserver>>,
    /// The history store, once attached (see `archive`).
    archive: OnceLock<Arc<dyn Archive>>,
    /// The highest position evicted through; 0 while nothing has left memory, when a
    /// missing id is simply new and the archive is not asked.
    evicted_through: CacheLine<AtomicU64>,
    /// The highest record id evicted: a page whose records are all above it needs
    /// nothing from the archive.
    highest_evicted_record: AtomicU64,
    /// Entries read from a snapshot have stamp 0 and may be as new as the
    /// snapshot's position: nothing is evicted through a position below this.
    stamp_floor: AtomicU64,
    journal: J,
}

/// The ids a call reads, which [`Ledger::restore`] brings back from the archive if
/// the hot window has let go of them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Wants<'a> {
    pub tx: Option<&'a TxId>,
    pub round: Option<&'a RoundId>,
    /// The bet a refund names (and, through its entry, the bet's round).
    pub bet_tx: Option<&'a TxId>,
}

impl<'a> Wants<'a> {
    fn tx(tx: &'a TxId) -> Self {
        Wants {
            tx: Some(tx),
            ..Wants::default()
        }
    }

    fn round(tx: &'a TxId, round: &'a RoundId) -> Self {
        Wants {
            tx: Some(tx),
            round: Some(round),
            bet_tx: None,
        }
    }

    fn refund(tx: &'a TxId, bet_tx: &'a TxId) -> Self {
        Wants {
            tx: Some(tx),
            round: None,
            bet_tx: Some(bet_tx),
        }
    }
}

/// What one [`Ledger::evict`] let go of, or (from [`Ledger::resident`]) what
/// memory holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    pub transactions: usize,
    pub rounds: usize,
    pub records: usize,
}

/// A page of game records from memory and the archive, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordPage {
    pub records: Vec<GameRecord>,
    /// Set when a scan budget (memory's or the archive's) ran out before the page
    /// was full: the last record id examined, where the next page continues (see
    /// [`RECORD_SCAN_BUDGET`]).
    pub stopped_at: Option<RecordId>,
}

/// Most records one query examines in memory, and most in the archive. A filter
/// that matches rarely over years of history (or over a large hot window, or with
/// no history store at all) would otherwise scan without limit inside one request,
/// holding each record stripe's read lock meanwhile: past the budget the page is
/// returned as it is, with the id the scan stopped at.
pub const RECORD_SCAN_BUDGET: usize = 20_000;

impl From<ArchiveError> for LedgerError {
    /// The history store's failure is a storage failure, reported as the log's is.
    fn from(e: ArchiveError) -> Self {
        LedgerError::Journal(JournalError::History(e.to_string()))
    }
}

/// Told of every wallet change, live and on replay, under the wallet's lock, after
/// the change was logged at `lsn` and before it is applied (`before` is the wallet as
/// it was). Must be quick and must not call back into the ledger.
pub trait ChangeObserver: Send + Sync {
    fn wallet_changing(&self, lsn: Lsn, before: &Wallet, change: &WalletChange);
}

impl<J: Journal<LedgerEffect>> Ledger<J> {
    pub fn new(config: &LedgerConfig, journal: J) -> Ledger<J> {
        let shards = config.shards.max(1).next_power_of_two();
        Ledger {
            shards: (0..shards)
                .map(|_| CacheLine(Mutex::new(Shard::default())))
                .collect(),
            directory: (0..shards)
                .map(|_| CacheLine(Mutex::new(Map::default())))
                .collect(),
            hasher: foldhash::fast::RandomState::default(),
            next_wallet: CacheLine(AtomicU64::new(1)),
            next_record: CacheLine(AtomicU64::new(1)),
            records: RecordStore::new(config.record_stripes),
            remote_channels: RwLock::new(HashSet::default()),
            any_remote: AtomicBool::new(false),
            observer: OnceLock::new(),
            archive: OnceLock::new(),
            evicted_through: CacheLine(AtomicU64::new(0)),
            highest_evicted_record: AtomicU64::new(0),
            stamp_floor: AtomicU64::new(0),
            journal,
        }
    }

    /// Attaches the history store (once; a second call is ignored). `holds_history`
    /// says it already holds what an earlier run evicted, so a missing id must be
    /// looked for there from the start. `snapshot` is the position of the snapshot
    /// the ledger was loaded from (see `stamp_floor`).
    pub fn attach_archive(&self, archive: Arc<dyn Archive>, holds_history: bool, snapshot: Lsn) {
        if self.archive.set(archive).is_err() {
            return;
        }
        self.stamp_floor.fetch_max(snapshot.0, Ordering::Relaxed);
        if holds_history {
            self.evicted_through.fetch_max(1, Ordering::Release);
            self.highest_evicted_record
                .store(u64::MAX, Ordering::Release);
        }
    }

    /// The archive, once something has left memory.
    fn archive_in_use(&self) -> Option<&Arc<dyn Archive>> {
        if self.evicted_through.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.archive.get()
    }

    /// Lets go of what the archive holds through position `cut`: transaction
    /// entries, closed rounds and game records stamped `cut` or lower. The caller
    /// (the engine's archiver) has made the archive durable through `cut`, and
    /// chose `cut` old enough to be outside the hot window. One shard (one record
    /// stripe) locked at a time.
    pub fn evict(&self, cut: Lsn) -> Evicted {
        let mut out = Evicted::default();
        if self.archive.get().is_none() || cut.0 < self.stamp_floor.load(Ordering::Relaxed) {
            return out;
        }
        // Raised first: an id evicted below is looked for in the archive from now on.
        self.evicted_through.fetch_max(cut.0, Ordering::AcqRel);
        for shard in self.shards.iter() {
            let mut guard = shard.lock();
            let Shard {
                wallets, holding, ..
            } = &mut *guard;
            holding.retain(|id| {
                let Some(w) = wallets.get_mut(id) else {
                    return false;
                };
                out.transactions += w.txs.evict_through(cut.0, |_| true);
                out.rounds += w.rounds.evict_through(cut.0);
                holds_history(w)
            });
        }
        out.records = self
            .records
            .evict_through(cut.0, &self.highest_evicted_record);
        out
    }

    /// How many transaction entries, rounds (open and closed) and game records
    /// memory holds now: what the hot window bounds. Walks every wallet.
    pub fn resident(&self) -> Evicted {
        let mut out = Evicted {
            records: self.records.len(),
            ..Evicted::default()
        };
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for w in shard.wallets.values() {
                out.transactions += w.txs.len();
                out.rounds += w.rounds.len();
            }
        }
        out
    }

    /// Brings back from the archive the entries `wants` names that memory does not
    /// hold (under the wallet's lock, so that an eviction cannot pass in between).
    /// They are stamped as evicted already, and the wallet is listed in `holding`,
    /// so the next eviction takes them out again: memory keeps following the
    /// working set.
    fn restore(
        &self,
        w: &mut Wallet,
        holding: &mut WalletSet,
        wants: Wants<'_>,
    ) -> Result<(), LedgerError> {
        let Some(archive) = self.archive_in_use() else {
            return Ok(());
        };
        let stamp = self.evicted_through.load(Ordering::Acquire);
        let mut bet_round = None;
        let mut brought_back = false;
        for tx in [wants.tx, wants.bet_tx].into_iter().flatten() {
            // A bet's round is wanted too, whether the bet is in memory or comes
            // back now: a bet restored by an earlier call can outlive its round's
            // entry (found by the model test: a refund of such a bet answered
            // "round not found" instead of "round closed"). The round id is cloned
            // only when memory lacks the round.
            if let Some(entry) = w.txs.get(tx) {
                if let wallet::TxParams::Bet { round, .. } = &entry.params {
                    if w.rounds.get(round).is_none() {
                        bet_round = Some(round.clone());
                    }
                }
                continue;
            }
            if let Some(entry) = archive.transaction(w.id, tx)? {
                if let wallet::TxParams::Bet { round, .. } = &entry.params {
                    bet_round = Some(round.clone());
                }
                w.txs.insert(tx.clone(), entry, stamp);
                brought_back = true;
            }
        }
        for round in [wants.round, bet_round.as_ref()].into_iter().flatten() {
            if w.rounds.get(round).is_some() {
                continue;
            }
            if let Some(closed) = archive.closed_round(w.id, round)? {
                w.rounds.restore_closed(round.clone(), closed, stamp);
                brought_back = true;
            }
        }
        if brought_back {
            holding.insert(w.id);
        }
        Ok(())
    }

    /// The page of `channel`'s records that `q` asks for, newest first, from memory
    /// and (for what the hot window let go of) the archive, each record once. Memory
    /// and the archive each examine at most [`RECORD_SCAN_BUDGET`] records.
    pub fn query_records(
        &self,
        channel: &ChannelId,
        q: &records::RecordQuery,
    ) -> Result<RecordPage, LedgerError> {
        let (hot, hot_stop) = self.records.query(channel, q, RECORD_SCAN_BUDGET);
        let size = q.size.clamp(1, crate::paging::PAGE_SIZE_MAX);
        let highest = self.highest_evicted_record.load(Ordering::Acquire);
        let hot_page = |records| RecordPage {
            records,
            stopped_at: hot_stop,
        };
        let Some(archive) = self.archive.get().filter(|_| highest > 0) else {
            return Ok(hot_page(hot));
        };
        // Every record memory lacks has an id at or below `highest`: memory answers
        // alone when what it examined (or the page it filled) stays above that.
        let hot_suffices = match q.direction {
            records::PageDirection::Next => match hot_stop {
                Some(stop) => stop.0 > highest,
                None => hot.len() >= size && hot.last().is_some_and(|r| r.id.0 > highest),
            },
            records::PageDirection::Prev => q.cursor >= highest,
        };
        if hot_suffices {
            return Ok(hot_page(hot));
        }
        let cold = archive.records(channel, q, RECORD_SCAN_BUDGET)?;
        let mut merged = hot;
        merged.extend(cold.records);
        match q.direction {
            records::PageDirection::Next => {
                merged.sort_unstable_by_key(|r| std::cmp::Reverse(r.id))
            }
            records::PageDirection::Prev => merged.sort_unstable_by_key(|r| r.id),
        }
        merged.dedup_by_key(|r| r.id);
        // A record one side did not examine may lie beyond where its scan stopped:
        // keep only what comes before the nearer stop.
        let stop = q
            .direction
            .nearest_stop(hot_stop.into_iter().chain(cold.stopped_at));
        if let Some(stop) = stop {
            merged.retain(|r| q.direction.reaches(r.id, stop));
        }
        merged.truncate(size);
        let stopped_at = stop.filter(|_| merged.len() < size);
        if q.direction == records::PageDirection::Prev {
            merged.reverse();
        }
        Ok(RecordPage {
            records: merged,
            stopped_at,
        })
    }

    /// Sets the observer of wallet changes (once; a second call is ignored).
    pub fn observe(&self, observer: Arc<dyn ChangeObserver>) {
        let _ = self.observer.set(observer);
    }

    /// Says whether `channel`'s money is kept in its operator's own wallet.
    pub fn set_remote_funds(&self, channel: &ChannelId, remote: bool) {
        let mut set = self.remote_channels.write();
        if remote {
            set.insert(channel.clone());
        } else {
            set.remove(channel);
        }
        self.any_remote.store(!set.is_empty(), Ordering::Release);
    }

    /// True when `channel`'s money is kept in its operator's own wallet.
    pub fn has_remote_funds(&self, channel: &ChannelId) -> bool {
        self.any_remote.load(Ordering::Acquire) && self.remote_channels.read().contains(channel)
    }

    pub fn journal(&self) -> &J {
        &self.journal
    }

    pub fn records(&self) -> &RecordStore {
        &self.records
    }

    fn shard(&self, id: WalletId) -> &Mutex<Shard> {
        // The shard count is a power of two: the mask keeps the index in range.
        &self.shards[shard_hash(id) & (self.shards.len() - 1)]
    }

    fn directory(&self, key: &WalletKey) -> &Mutex<Directory> {
        let h = self.hasher.hash_one(key) as usize;
        &self.directory[h & (self.directory.len() - 1)]
    }

    /// The wallet for `key`, opened if it does not exist yet.
    pub fn open_wallet(&self, key: WalletKey) -> Logged<WalletId> {
        let mut dir = self.directory(&key).lock();
        if let Some(id) = dir.get(&key) {
            return Logged {
                result: Ok(*id),
                lsn: self.journal.appended(),
            };
        }
        let id = WalletId(self.next_wallet.fetch_add(1, Ordering::Relaxed));
        let mut effect = LedgerEffect::WalletOpened {
            wallet: id,
            key: key.clone(),
        };
        // Appended under the shard lock like every effect, so a snapshot that has
        // locked this shard has every effect of it up to the log position it read.
        let mut shard = self.shard(id).lock();
        let lsn = match self.journal.append(&effect) {
            Ok(lsn) => lsn,
            Err(e) => return Logged::rejected(e),
        };
        // Opening cannot fail to apply: it creates what it needs.
        let _ = self.apply_locked(&mut shard, lsn, &mut effect, Mode::Live, None);
        drop(shard);
        // The id is unknown to anyone until the directory has it: no window where
        // the id leads nowhere.
        dir.insert(key, id);
        Logged {
            result: Ok(id),
            lsn,
        }
    }

    pub fn wallet_id(&self, key: &WalletKey) -> Option<WalletId> {
        self.directory(key).lock().get(key).copied()
    }

    pub fn wallet_key(&self, id: WalletId) -> Option<WalletKey> {
        self.shard(id)
            .lock()
            .wallets
            .get(&id)
            .map(|w| w.key.clone())
    }

    pub fn balance(&self, id: WalletId) -> Result<Balance, LedgerError> {
        let shard = self.shard(id).lock();
        shard
            .wallets
            .get(&id)
            .map(|w| w.balance())
            .ok_or(LedgerError::WalletNotFound(id))
    }

    /// The stored outcome of transaction `tx` of wallet `id`: `None` when the wallet
    /// never applied it (never seen, or seen only as a refund's tombstone).
    pub fn transaction(&self, id: WalletId, tx: &TxId) -> Result<Option<Receipt>, LedgerError> {
        let mut guard = self.shard(id).lock();
        let Shard {
            wallets, holding, ..
        } = &mut *guard;
        let wallet = wallets
            .get_mut(&id)
            .ok_or(LedgerError::WalletNotFound(id))?;
        self.restore(wallet, holding, Wants::tx(tx))?;
        Ok(match wallet.txs.get(tx).map(|e| &e.outcome) {
            Some(TxOutcome::Applied(stored)) => Some(stored.to_receipt(id, tx.clone(), false)),
            Some(TxOutcome::UnknownBet | TxOutcome::Tombstone) | None => None,
        })
    }

    /// The round, game and amount of bet `tx` of wallet `id`, if the wallet has it.
    /// An archived bet is looked for too; a failure of the history store answers
    /// `None` (the caller, seamless mode's retry, tries again later).
    pub fn bet_of(&self, id: WalletId, tx: &TxId) -> Option<(RoundId, GameId, Amount)> {
        let mut guard = self.shard(id).lock();
        let Shard {
            wallets, holding, ..
        } = &mut *guard;
        let wallet = wallets.get_mut(&id)?;
        self.restore(wallet, holding, Wants::tx(tx)).ok()?;
        match &wallet.txs.get(tx)?.params {
            wallet::TxParams::Bet {
                round,
                game,
                amount,
            } => Some((round.clone(), game.clone(), *amount)),
            _ => None,
        }
    }

    /// The live (not refunded) bets of open round `round` of wallet `id`.
    pub fn live_bets(&self, id: WalletId, round: &RoundId) -> Vec<(TxId, Amount)> {
        let shard = self.shard(id).lock();
        let Some(w) = shard.wallets.get(&id) else {
            return Vec::new();
        };
        match w.rounds.get(round) {
            Some(rounds::RoundEntry::Open(r)) => r
                .bets
                .iter()
                .filter(|b| !b.refunded)
                .map(|b| (b.tx.clone(), b.amount))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// True while the wallet has a round open (status 2, 3 or 4).
    pub fn has_open_round(&self, id: WalletId) -> Result<bool, LedgerError> {
        let shard = self.shard(id).lock();
        shard
            .wallets
            .get(&id)
            .map(|w| w.rounds.has_open())
            .ok_or(LedgerError::WalletNotFound(id))
    }

    pub fn deposit(&self, id: WalletId, req: &DepositRequest) -> Logged<Receipt> {
        let wants = Wants::tx(&req.tx);
        self.execute(id, 0, Funds::Local, wants, |w, _| plan::deposit(w, req))
    }

    pub fn withdraw(&self, id: WalletId, req: &WithdrawRequest) -> Logged<Receipt> {
        let wants = Wants::tx(&req.tx);
        self.execute(id, 0, Funds::Local, wants, |w, _| plan::withdraw(w, req))
    }

    pub fn prize(&self, id: WalletId, req: &PrizeRequest, funds: Funds) -> Logged<Receipt> {
        let wants = Wants::tx(&req.tx);
        self.execute(id, 0, funds, wants, |w, _| plan::prize(w, req))
    }

    pub fn bet(
        &self,
        id: WalletId,
        req: &BetRequest,
        now_ms: i64,
        funds: Funds,
    ) -> Logged<Receipt> {
        let wants = Wants::round(&req.tx, &req.round);
        self.execute(id, now_ms, funds, wants, |w, ctx| plan::bet(w, req, ctx))
    }

    pub fn win(
        &self,
        id: WalletId,
        req: &WinRequest,
        now_ms: i64,
        funds: Funds,
    ) -> Logged<Receipt> {
        let wants = Wants::round(&req.tx, &req.round);
        self.execute(id, now_ms, funds, wants, |w, ctx| plan::win(w, req, ctx))
    }

    pub fn refund(
        &self,
        id: WalletId,
        req: &RefundRequest,
        now_ms: i64,
        funds: Funds,
    ) -> Logged<Receipt> {
        let wants = Wants::refund(&req.tx, &req.bet_tx);
        self.execute(id, now_ms, funds, wants, |w, ctx| plan::refund(w, req, ctx))
    }

    pub fn end_round(
        &self,
        id: WalletId,
        req: &EndRoundRequest,
        now_ms: i64,
        funds: Funds,
    ) -> Logged<Receipt> {
        let wants = Wants::round(&req.tx, &req.round);
        self.execute(id, now_ms, funds, wants, |w, ctx| {
            plan::end_round(w, req, ctx)
        })
    }

    /// What a bet would do, without doing it: `Ok(Some(receipt))` for a replay of an
    /// applied bet, `Ok(None)` when it would apply, the error when it would be
    /// refused. Seamless mode asks before calling the operator's wallet, so that a
    /// bet the ledger would refuse never takes the player's money there.
    pub fn probe_bet(
        &self,
        id: WalletId,
        req: &BetRequest,
        now_ms: i64,
        funds: Funds,
    ) -> Result<Option<Receipt>, LedgerError> {
        let wants = Wants::round(&req.tx, &req.round);
        self.probe(id, now_ms, funds, wants, |w, ctx| plan::bet(w, req, ctx))
    }

    /// [`Ledger::probe_bet`] for a win.
    pub fn probe_win(
        &self,
        id: WalletId,
        req: &WinRequest,
        now_ms: i64,
        funds: Funds,
    ) -> Result<Option<Receipt>, LedgerError> {
        let wants = Wants::round(&req.tx, &req.round);
        self.probe(id, now_ms, funds, wants, |w, ctx| plan::win(w, req, ctx))
    }

    /// [`Ledger::probe_bet`] for a refund. A refund of a bet never seen answers
    /// `UnknownBet` (the tombstone it would leave is not written).
    pub fn probe_refund(
        &self,
        id: WalletId,
        req: &RefundRequest,
        now_ms: i64,
        funds: Funds,
    ) -> Result<Option<Receipt>, LedgerError> {
        let wants = Wants::refund(&req.tx, &req.bet_tx);
        self.probe(id, now_ms, funds, wants, |w, ctx| plan::refund(w, req, ctx))
    }

    fn probe(
        &self,
        id: WalletId,
        now_ms: i64,
        funds: Funds,
        wants: Wants<'_>,
        planner: impl FnOnce(&Wallet, &Ctx<'_>) -> Plan,
    ) -> Result<Option<Receipt>, LedgerError> {
        // Record ids are not taken by a probe: a closing plan's id is a placeholder.
        let next_record = || RecordId(u64::MAX);
        let ctx = Ctx {
            now_ms,
            next_record: &next_record,
            funds,
        };
        let mut guard = self.shard(id).lock();
        let Shard {
            wallets, holding, ..
        } = &mut *guard;
        let wallet = wallets
            .get_mut(&id)
            .ok_or(LedgerError::WalletNotFound(id))?;
        self.check_funds(wallet, funds)?;
        self.restore(wallet, holding, wants)?;
        match planner(wallet, &ctx) {
            Plan::Reject(e) => Err(e),
            Plan::Replay(result) => result.map(Some),
            Plan::Apply { result, .. } => result.map(|_| None),
        }
    }

    /// Marks an open round as failing at the operator's wallet (status 3 or 4, with
    /// the last attempt's error), or back in play. Logged like every change.
    pub fn mark_round(
        &self,
        id: WalletId,
        round: &RoundId,
        status: RoundStatus,
        error: &str,
    ) -> Logged<()> {
        let mut guard = self.shard(id).lock();
        let Shard {
            wallets,
            unclosed,
            holding,
        } = &mut *guard;
        let Some(wallet) = wallets.get_mut(&id) else {
            return Logged::rejected(LedgerError::WalletNotFound(id));
        };
        let mut round = match wallet.rounds.get(round) {
            Some(rounds::RoundEntry::Open(r)) => r.clone(),
            Some(rounds::RoundEntry::Closed(_)) => {
                return Logged::rejected(LedgerError::RoundClosed(round.clone()))
            }
            None => return Logged::rejected(LedgerError::RoundNotFound(round.clone())),
        };
        round.status = status;
        round.error.clear();
        round
            .error
            .push_str(round::truncated(error, MAX_ROUND_ERROR_BYTES));
        let mut effect = LedgerEffect::Wallet(WalletChange {
            wallet: id,
            state: wallet.state,
            tx: None,
            tombstone: None,
            round: Some(RoundChange::Upsert(round)),
            record: None,
        });
        let lsn = match self.journal.append(&effect) {
            Ok(lsn) => lsn,
            Err(e) => return Logged::rejected(e),
        };
        if let LedgerEffect::Wallet(change) = &mut effect {
            self.apply_to_wallet(
                wallet,
                unclosed,
                holding,
                lsn,
                change,
                Hashes::default(),
                Mode::Live,
                None,
            );
        }
        Logged {
            result: Ok(()),
            lsn,
        }
    }

    /// Refuses a call whose funds are not where the wallet's money is kept.
    #[inline]
    fn check_funds(&self, wallet: &Wallet, funds: Funds) -> Result<(), LedgerError> {
        let remote_call = matches!(funds, Funds::Remote { .. });
        // Transfer-only ledgers (the usual case) read one flag.
        if !remote_call && !self.any_remote.load(Ordering::Acquire) {
            return Ok(());
        }
        let remote_wallet = self.has_remote_funds(&wallet.key.channel);
        if remote_call == remote_wallet {
            Ok(())
        } else {
            Err(LedgerError::FundsElsewhere {
                wallet: wallet.id,
                remote: remote_wallet,
            })
        }
    }

    /// Plans, journals and applies one wallet operation under its shard lock.
    fn execute(
        &self,
        id: WalletId,
        now_ms: i64,
        funds: Funds,
        wants: Wants<'_>,
        planner: impl FnOnce(&Wallet, &Ctx<'_>) -> Plan,
    ) -> Logged<Receipt> {
        let next_record = || RecordId(self.next_record.fetch_add(1, Ordering::Relaxed));
        let ctx = Ctx {
            now_ms,
            next_record: &next_record,
            funds,
        };
        let mut guard = self.shard(id).lock();
        let Shard {
            wallets,
            unclosed,
            holding,
        } = &mut *guard;
        // One lookup: the wallet the plan read is the one the change is applied to.
        let Some(wallet) = wallets.get_mut(&id) else {
            return Logged::rejected(LedgerError::WalletNotFound(id));
        };
        if let Err(e) = self.check_funds(wallet, funds) {
            return Logged::rejected(e);
        }
        if let Err(e) = self.restore(wallet, holding, wants) {
            return Logged::rejected(e);
        }
        let mut plan = planner(wallet, &ctx);
        if let Funds::Remote { balance } = funds {
            plan::pass_through(wallet.state, &mut plan, balance);
        }
        // Each arm works on the plan where it lies: the effect is some 400 bytes.
        match plan {
            // A refusal read the wallet's state, which may hold effects not yet
            // durable (a refund of the bet, the bet that took the balance): it waits
            // for them, as a replay does, or a crash could leave it answered on
            // grounds that never happened.
            Plan::Reject(e) => Logged {
                result: Err(e),
                lsn: self.journal.appended(),
            },
            Plan::Replay(result) => Logged {
                result,
                lsn: self.journal.appended(),
            },
            Plan::Apply {
                ref mut effect,
                hashes,
                result,
            } => {
                let lsn = match self.journal.append(effect) {
                    Ok(lsn) => lsn,
                    Err(e) => return Logged::rejected(e),
                };
                match effect {
                    LedgerEffect::Wallet(change) => self.apply_to_wallet(
                        wallet,
                        unclosed,
                        holding,
                        lsn,
                        change,
                        hashes,
                        Mode::Live,
                        None,
                    ),
                    LedgerEffect::WalletOpened { .. } => {
                        debug_assert!(false, "a planner opened a wallet")
                    }
                }
                Logged { result, lsn }
            }
        }
    }

    /// Applies an effect to a locked shard (and its record to the record store, or
    /// to `deferred`). Fails only for a change to a wallet the shard does not hold.
    ///
    /// Takes the effect by reference and its parts out of it (see `apply_change`):
    /// an effect is some 500 bytes, and replay would otherwise copy each one at every
    /// call on its way here.
    fn apply_locked(
        &self,
        shard: &mut Shard,
        lsn: Lsn,
        effect: &mut LedgerEffect,
        mode: Mode,
        deferred: Option<&mut DeferredRecords>,
    ) -> Result<(), ReplayError> {
        let change = match effect {
            LedgerEffect::WalletOpened { wallet, key } => {
                let wallet = *wallet;
                shard
                    .wallets
                    .entry(wallet)
                    .or_insert_with(|| Box::new(Wallet::new(wallet, key.clone())));
                return Ok(());
            }
            LedgerEffect::Wallet(change) => change,
        };
        let id = change.wallet;
        let Shard {
            wallets,
            unclosed,
            holding,
        } = shard;
        let w = wallets.get_mut(&id).ok_or(ReplayError::UnknownWallet(id))?;
        // A bet joins a round an earlier effect opened; the snapshot or the log before
        // it always holds that effect (rounds are never dropped). Checked before any
        // part of the change is applied. Live changes were planned against the wallet.
        if let (Mode::Replay, Some(RoundChange::AddBet { round, .. })) = (mode, &change.round) {
            if w.rounds.get(round).is_none() {
                return Err(ReplayError::UnknownRound {
                    wallet: id,
                    round: round.clone(),
                });
            }
        }
        self.apply_to_wallet(
            w,
            unclosed,
            holding,
            lsn,
            change,
            Hashes::default(),
            mode,
            deferred,
        );
        Ok(())
    }

    /// Applies a change to its (locked) wallet, keeps the shard's indexes of wallets
    /// with unclosed rounds and of wallets holding history, and stores the change's record (or adds it to
    /// `deferred`, for the caller to store). Takes the change's parts out of it (see
    /// `apply_change`).
    #[allow(clippy::too_many_arguments)]
    fn apply_to_wallet(
        &self,
        w: &mut Wallet,
        unclosed: &mut WalletSet,
        holding: &mut WalletSet,
        lsn: Lsn,
        change: &mut WalletChange,
        hashes: Hashes,
        mode: Mode,
        deferred: Option<&mut DeferredRecords>,
    ) {
        let id = w.id;
        if let Some(observer) = self.observer.get() {
            observer.wallet_changing(lsn, w, change);
        }
        let had_open = w.rounds.has_open();
        let held = holds_history(w);
        let record = apply_change(w, change, hashes, lsn.0);
        // A change only adds entries: a wallet starts holding history at most once
        // between two evictions that emptied it.
        if !held && holds_history(w) {
            holding.insert(id);
        }
        // During replay a wallet passes through states older than what a fuzzy
        // snapshot already holds, so its invariants hold only once replay ends.
        if cfg!(debug_assertions) && mode == Mode::Live {
            w.check();
        }
        // Touch the index only when the wallet gains its first or loses its last
        // unclosed round: most operations change neither.
        match (had_open, !w.rounds.has_open()) {
            (true, true) => {
                unclosed.remove(&id);
            }
            (false, false) => {
                unclosed.insert(id);
            }
            _ => {}
        }
        match (record, deferred) {
            (Some(record), Some(deferred)) => deferred.push(record),
            (Some(record), None) => self.records.insert(&record, lsn.0),
            (None, _) => {}
        }
    }

    /// Applies a logged effect during recovery. Idempotent.
    pub fn replay(&self, lsn: Lsn, mut effect: LedgerEffect) -> Result<(), ReplayError> {
        self.replay_to(lsn, &mut effect, None)
    }

    /// [`replay`](Self::replay), except that a game record the effect writes is added
    /// to `records` instead of being stored; [`store_replayed`](Self::store_replayed)
    /// stores them. Parallel replay keeps each lane's records and stores them a batch
    /// at a time: records are striped by id, not by wallet, so lanes storing them one
    /// by one would contend for every stripe, and the id counter, on every record.
    /// The effect is left emptied (its parts are moved into the ledger).
    pub(crate) fn replay_deferring_records(
        &self,
        lsn: Lsn,
        effect: &mut LedgerEffect,
        records: &mut DeferredRecords,
    ) -> Result<(), ReplayError> {
        self.replay_to(lsn, effect, Some(records))
    }

    /// Stores records kept by [`replay_deferring_records`](Self::replay_deferring_records),
    /// all written at or before log position `stamp`, and empties `records`.
    pub(crate) fn store_replayed(&self, records: &mut DeferredRecords, stamp: Stamp) {
        records.sort_unstable_by_key(|r| r.id);
        // The same record twice is the same effect twice: keep one.
        records.dedup_by_key(|r| r.id);
        if let Some(last) = records.last() {
            self.next_record.fetch_max(last.id.0 + 1, Ordering::Relaxed);
        }
        self.records.insert_sorted_batch(records, stamp);
        records.clear();
    }

    fn replay_to(
        &self,
        lsn: Lsn,
        effect: &mut LedgerEffect,
        deferred: Option<&mut DeferredRecords>,
    ) -> Result<(), ReplayError> {
        let wallet = match &*effect {
            LedgerEffect::WalletOpened { wallet, key } => {
                self.directory(key).lock().insert(key.clone(), *wallet);
                *wallet
            }
            LedgerEffect::Wallet(change) => {
                if let (Some(r), None) = (&change.record, &deferred) {
                    self.next_record.fetch_max(r.id.0 + 1, Ordering::Relaxed);
                }
                change.wallet
            }
        };
        // A read first: the counter rarely moves during replay, and a read shares the
        // line where an atomic write would take it from the other lanes.
        if self.next_wallet.load(Ordering::Relaxed) <= wallet.0 {
            self.next_wallet.fetch_max(wallet.0 + 1, Ordering::Relaxed);
        }
        self.apply_locked(
            &mut self.shard(wallet).lock(),
            lsn,
            effect,
            Mode::Replay,
            deferred,
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Live,
    Replay,
}

/// A logged effect that cannot be applied: the log is not one this ledger wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("a change to wallet {0}, which was never opened")]
    UnknownWallet(WalletId),
    #[error("a bet of wallet {wallet} on round {round}, which was never opened")]
    UnknownRound { wallet: WalletId, round: RoundId },
}
