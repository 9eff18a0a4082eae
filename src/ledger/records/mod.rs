//! Game records: one per closed round, queryable per channel with the filters of
//! Publisher Manual §3.4 and cursor paging over record ids (docs/platform-api.md, Decisions).
//!
//! Records are striped by record id so that concurrent round closes rarely meet on
//! one lock; a query merges the stripes. Within a stripe, records are kept per
//! channel in id order, compactly (`channel`), with a per-player index so that the
//! common query (one player's history) does not scan the channel.

mod channel;

use super::round::RoundEnd;
use super::types::{GameRef, PlayMeta};
use crate::cache_line::CacheLine;
use crate::ids::{ChannelId, Currency, PlayerId, RecordId, RoundId, TxId, WalletId};
use crate::ledger::table::Stamp;
use crate::money::Amount;
use crate::paging::PAGE_SIZE_MAX;
use channel::{ChannelRecords, StoredRecord};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};

/// Every field of Publisher Manual §3.4, plus what the engine needs to trace a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameRecord {
    pub id: RecordId,
    pub channel: ChannelId,
    pub player: PlayerId,
    pub currency: Currency,
    pub wallet: WalletId,
    pub round: RoundId,
    pub game: GameRef,
    /// The round's first bet's transaction id.
    pub transaction_id: TxId,
    pub starting_credit: Amount,
    pub ending_credit: Amount,
    pub base_win: Amount,
    pub free_win: Amount,
    pub bonus_win: Amount,
    pub jackpot_win: Amount,
    pub total_win: Amount,
    /// Bets not refunded.
    pub total_bet: Amount,
    pub meta: PlayMeta,
    /// When the round was played (its first bet), Unix seconds.
    pub play_time_secs: i64,
    /// When the record was written, Unix milliseconds.
    pub created_at_ms: i64,
    pub end: RoundEnd,
}

/// Which way a cursor pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PageDirection {
    /// Ids below the cursor, newest first (cursor 0 = from the newest).
    #[default]
    Next,
    /// Ids above the cursor: the `size` nearest ones, returned newest first.
    Prev,
}

impl PageDirection {
    /// Where several scans that each stopped early (stripes, memory and the
    /// archive) leave the range examined by all of them: each examined every id from
    /// the cursor to its own stop, so all of them examined up to the stop nearest
    /// the cursor (the highest for `next`, which walks down; the lowest for `prev`).
    pub fn nearest_stop(self, stops: impl IntoIterator<Item = RecordId>) -> Option<RecordId> {
        let stops = stops.into_iter();
        match self {
            PageDirection::Next => stops.max(),
            PageDirection::Prev => stops.min(),
        }
    }

    /// True when `id` lies in the examined range that ends at `stop`.
    pub fn reaches(self, id: RecordId, stop: RecordId) -> bool {
        match self {
            PageDirection::Next => id >= stop,
            PageDirection::Prev => id <= stop,
        }
    }
}

/// Largest page a query returns.
/// Records a replay lane keeps to store a batch at a time (`Ledger::store_replayed`).
/// Boxed as the effects carry them: taken out without a copy, and sorted by moving
/// pointers, not 336-byte records.
#[allow(clippy::vec_box)]
pub(crate) type DeferredRecords = Vec<Box<GameRecord>>;

/// The filters of Publisher Manual §3.4. Empty fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct RecordQuery {
    pub player: Option<PlayerId>,
    pub game: Option<String>,
    pub developer: Option<String>,
    pub version: Option<String>,
    /// Inclusive bounds on `play_time`, Unix seconds; 0 = unbounded.
    pub start_time_secs: i64,
    pub end_time_secs: i64,
    pub cursor: u64,
    pub direction: PageDirection,
    pub size: usize,
}

impl RecordQuery {
    /// Whether `r` passes the filters (not the cursor) of this query: what the
    /// history store checks of an archived record. `ChannelRecords::matches` is the
    /// same test on the compact form memory keeps.
    pub fn matches(&self, r: &GameRecord) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.game, r.game.id.as_str())
            && eq(&self.developer, r.game.developer.as_str())
            && eq(&self.version, r.game.version.as_str())
            && self.player.as_ref().is_none_or(|p| p == &r.player)
            && (self.start_time_secs == 0 || r.play_time_secs >= self.start_time_secs)
            && (self.end_time_secs == 0 || r.play_time_secs <= self.end_time_secs)
    }
}

/// The part of an id-sorted slice inside `bounds`.
fn range_by_id<T>(
    v: &[T],
    bounds: (Bound<RecordId>, Bound<RecordId>),
    key: impl Fn(&T) -> RecordId,
) -> &[T] {
    let start = match bounds.0 {
        Bound::Unbounded => 0,
        Bound::Included(lo) => v.partition_point(|t| key(t) < lo),
        Bound::Excluded(lo) => v.partition_point(|t| key(t) <= lo),
    };
    let end = match bounds.1 {
        Bound::Unbounded => v.len(),
        Bound::Included(hi) => v.partition_point(|t| key(t) <= hi),
        Bound::Excluded(hi) => v.partition_point(|t| key(t) < hi),
    };
    &v[start..end.max(start)]
}

/// Records a snapshot copies out of a stripe per read lock: short holds, so that
/// round closes in the stripe wait at most for a copy of this many.
const EXPORT_CHUNK: usize = 4096;

#[derive(Default)]
struct Stripe {
    channels: HashMap<ChannelId, ChannelRecords, foldhash::fast::RandomState>,
}

/// All game records, striped by id.
pub struct RecordStore {
    /// Each stripe alone on its cache lines (see `cache_line`).
    stripes: Box<[CacheLine<RwLock<Stripe>>]>,
}

impl RecordStore {
    pub fn new(stripes: usize) -> RecordStore {
        let n = stripes.max(1).next_power_of_two();
        RecordStore {
            stripes: (0..n)
                .map(|_| CacheLine(RwLock::new(Stripe::default())))
                .collect(),
        }
    }

    fn stripe_of(&self, id: RecordId) -> usize {
        // The length is a power of two, so the mask keeps the index in range.
        (id.0 as usize) & (self.stripes.len() - 1)
    }

    fn stripe(&self, id: RecordId) -> &RwLock<Stripe> {
        &self.stripes[self.stripe_of(id)]
    }

    /// Inserts (or replaces, on replay) a record written at log position `stamp`.
    /// Idempotent by id.
    pub fn insert(&self, record: &GameRecord, stamp: Stamp) {
        let mut stripe = self.stripe(record.id).write();
        match stripe.channels.get_mut(&record.channel) {
            Some(ch) => ch.insert(record, stamp),
            None => {
                let mut ch = ChannelRecords::new(record.channel.clone());
                ch.insert(record, stamp);
                stripe.channels.insert(record.channel.clone(), ch);
            }
        }
    }

    /// Inserts records given in id order, without repeats, all written at or
    /// before log position `stamp`: each stripe is locked once, and each channel's
    /// index merges them in one pass.
    pub fn insert_sorted_batch(&self, records: &[Box<GameRecord>], stamp: Stamp) {
        debug_assert!(records.windows(2).all(|w| w[0].id < w[1].id), "in id order");
        for (at, stripe) in self.stripes.iter().enumerate() {
            let in_stripe = |r: &&GameRecord| self.stripe_of(r.id) == at;
            let records = || records.iter().map(|r| &**r);
            let Some(first) = records().find(in_stripe) else {
                continue;
            };
            let mut stripe = stripe.write();
            // Nearly always one channel; several are stored one channel at a time.
            let mut channels: Vec<&ChannelId> = vec![&first.channel];
            for r in records().filter(in_stripe) {
                if !channels.contains(&&r.channel) {
                    channels.push(&r.channel);
                }
            }
            for channel in channels {
                let mine = records()
                    .filter(in_stripe)
                    .filter(|r| r.channel == *channel);
                stripe
                    .channels
                    .entry(channel.clone())
                    .or_insert_with(|| ChannelRecords::new(channel.clone()))
                    .insert_sorted_batch(mine, stamp);
            }
        }
    }

    /// Forgets every record stamped `cut` or lower, one stripe at a time, and
    /// returns how many. The caller has archived them. `highest_evicted` is raised to
    /// the highest id forgotten while the stripe is still locked, so that a query
    /// that no longer finds a record here already sees that it must ask the archive.
    pub fn evict_through(&self, cut: Stamp, highest_evicted: &AtomicU64) -> usize {
        let mut removed = 0;
        for stripe in self.stripes.iter() {
            let mut stripe = stripe.write();
            for ch in stripe.channels.values_mut() {
                let (n, top) = ch.evict_through(cut);
                removed += n;
                if let Some(top) = top {
                    highest_evicted.fetch_max(top.0, Ordering::AcqRel);
                }
            }
        }
        removed
    }

    pub fn get(&self, channel: &ChannelId, id: RecordId) -> Option<GameRecord> {
        let stripe = self.stripe(id).read();
        let ch = stripe.channels.get(channel)?;
        ch.stored(id).map(|s| ch.record(s))
    }

    pub fn len(&self) -> usize {
        self.stripes
            .iter()
            .map(|s| s.read().channels.values().map(|c| c.len()).sum::<usize>())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The page of `channel`'s records that `q` asks for, newest first, examining at
    /// most about `budget` records (shared out among the stripes). When the budget
    /// ran out before the page was full, also answers where the examined range ends:
    /// the page holds every match between the cursor and that id, and nothing
    /// beyond it (see [`PageDirection::nearest_stop`] for why the stripes' own stops
    /// combine that way).
    pub fn query(
        &self,
        channel: &ChannelId,
        q: &RecordQuery,
        budget: usize,
    ) -> (Vec<GameRecord>, Option<RecordId>) {
        let size = q.size.clamp(1, PAGE_SIZE_MAX);
        let per_stripe = budget.div_ceil(self.stripes.len()).max(1);
        let mut found: Vec<GameRecord> = Vec::new();
        let mut stops: Vec<RecordId> = Vec::new();
        for stripe in self.stripes.iter() {
            let stripe = stripe.read();
            if let Some(ch) = stripe.channels.get(channel) {
                stops.extend(collect_page(ch, q, size, per_stripe, &mut found));
            }
        }
        let stop = q.direction.nearest_stop(stops);
        if let Some(stop) = stop {
            found.retain(|r| q.direction.reaches(r.id, stop));
        }
        match q.direction {
            PageDirection::Next => found.sort_unstable_by_key(|r| std::cmp::Reverse(r.id)),
            PageDirection::Prev => found.sort_unstable_by_key(|r| r.id),
        }
        found.truncate(size);
        let stop = stop.filter(|_| found.len() < size);
        if q.direction == PageDirection::Prev {
            found.reverse();
        }
        (found, stop)
    }

    /// Calls `f` with every record, a few thousand at a time, in id order within
    /// each stripe and channel. Each chunk is copied under a short read lock and `f`
    /// runs with no lock held. Records inserted meanwhile may or may not be included
    /// (a snapshot replays them); every record present when this starts is.
    pub fn export<E>(&self, mut f: impl FnMut(Vec<GameRecord>) -> Result<(), E>) -> Result<(), E> {
        for stripe in self.stripes.iter() {
            let channels: Vec<ChannelId> = stripe.read().channels.keys().cloned().collect();
            for channel in channels {
                // Resume after the last id copied: inserts between chunks shift
                // positions, not ids.
                let mut after: Option<RecordId> = None;
                loop {
                    let chunk: Vec<GameRecord> = {
                        let stripe = stripe.read();
                        let Some(ch) = stripe.channels.get(&channel) else {
                            break;
                        };
                        let start = after.map_or(0, |a| ch.index.partition_point(|e| e.0 <= a));
                        ch.index[start..]
                            .iter()
                            .take(EXPORT_CHUNK)
                            .map(|e| ch.record(ch.at(e)))
                            .collect()
                    };
                    let Some(last) = chunk.last() else {
                        break;
                    };
                    after = Some(last.id);
                    f(chunk)?;
                }
            }
        }
        Ok(())
    }

    /// Every record, copied (tests).
    pub fn all(&self) -> Vec<GameRecord> {
        let mut out = Vec::new();
        for stripe in self.stripes.iter() {
            for ch in stripe.read().channels.values() {
                out.extend(ch.index.iter().map(|e| ch.record(ch.at(e))));
            }
        }
        out
    }
}

/// Appends to `out` up to `size` records of one stripe's channel that match `q`,
/// nearest the cursor first, examining at most `budget` of them. Walks only the ids
/// on the cursor's side. Answers the last id examined if the budget ran out first.
fn collect_page(
    ch: &ChannelRecords,
    q: &RecordQuery,
    size: usize,
    budget: usize,
    out: &mut Vec<GameRecord>,
) -> Option<RecordId> {
    let bounds = cursor_bounds(q.cursor, q.direction);
    let newest_first = q.direction == PageDirection::Next;
    let start = out.len();
    let mut examined = 0usize;
    // Whether to go on after `s`: the page is not full, and the budget allows.
    let mut take = |s: &StoredRecord| -> Result<bool, RecordId> {
        if ch.matches(q, s) {
            out.push(ch.record(s));
        }
        examined += 1;
        if out.len() - start >= size {
            return Ok(false);
        }
        if examined >= budget {
            return Err(s.id);
        }
        Ok(true)
    };
    let mut walk = |ids: &mut dyn Iterator<Item = &StoredRecord>| -> Option<RecordId> {
        for s in ids {
            match take(s) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(stop) => return Some(stop),
            }
        }
        None
    };
    match &q.player {
        Some(p) => {
            let ids = ch.player_ids(p)?;
            let ids = range_by_id(ids, bounds, |i| *i);
            walk(&mut nearest_first(ids.iter(), newest_first).filter_map(|id| ch.stored(*id)))
        }
        None => {
            let all = range_by_id(&ch.index, bounds, |e| e.0);
            walk(&mut nearest_first(all.iter(), newest_first).map(|e| ch.at(e)))
        }
    }
}

fn cursor_bounds(cursor: u64, dir: PageDirection) -> (Bound<RecordId>, Bound<RecordId>) {
    match dir {
        PageDirection::Next if cursor == 0 => (Bound::Unbounded, Bound::Unbounded),
        PageDirection::Next => (Bound::Unbounded, Bound::Excluded(RecordId(cursor))),
        PageDirection::Prev => (Bound::Excluded(RecordId(cursor)), Bound::Unbounded),
    }
}

fn nearest_first<'a, T>(
    items: impl DoubleEndedIterator<Item = &'a T> + 'a,
    newest_first: bool,
) -> Box<dyn Iterator<Item = &'a T> + 'a> {
    if newest_first {
        Box::new(items.rev())
    } else {
        Box::new(items)
    }
}
