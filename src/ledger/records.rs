//! Game records: one per closed round, queryable per channel with the filters of
//! seed 000 §3.4 and cursor paging over record ids (DESIGN §8).
//!
//! Records are striped by record id so that concurrent round closes rarely meet on
//! one lock; a query merges the stripes. Within a stripe, records are kept per
//! channel in id order, with a per-player index so that the common query (one
//! player's history) does not scan the channel.

use super::round::RoundEnd;
use super::types::{GameRef, PlayMeta};
use crate::ids::{ChannelId, Currency, PlayerId, RecordId, RoundId, TxId, WalletId};
use crate::money::Amount;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

/// Every field of seed 000 §3.4, plus what the engine needs to trace a record.
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
    pub play_time: i64,
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

/// Largest page a query returns.
pub const MAX_PAGE_SIZE: usize = 1000;

/// The filters of seed 000 §3.4. Empty fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct RecordQuery {
    pub player: Option<PlayerId>,
    pub game: Option<String>,
    pub developer: Option<String>,
    pub version: Option<String>,
    /// Inclusive bounds on `play_time`, Unix seconds; 0 = unbounded.
    pub start_time: i64,
    pub end_time: i64,
    pub cursor: u64,
    pub direction: PageDirection,
    pub size: usize,
}

impl RecordQuery {
    fn matches(&self, r: &GameRecord) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.game, r.game.id.as_str())
            && eq(&self.developer, r.game.developer.as_str())
            && eq(&self.version, r.game.version.as_str())
            && self.player.as_ref().is_none_or(|p| p == &r.player)
            && (self.start_time == 0 || r.play_time >= self.start_time)
            && (self.end_time == 0 || r.play_time <= self.end_time)
    }
}

#[derive(Default, Serialize, Deserialize)]
struct ChannelRecords {
    /// Shared: B-tree nodes shift and split pointers, not 300-byte records, and a
    /// snapshot takes a stripe's records by reference count, not by copy.
    all: BTreeMap<RecordId, Arc<GameRecord>>,
    by_player: HashMap<PlayerId, BTreeSet<RecordId>, foldhash::fast::RandomState>,
}

#[derive(Default)]
struct Stripe {
    channels: HashMap<ChannelId, ChannelRecords, foldhash::fast::RandomState>,
}

/// All game records, striped by id.
pub struct RecordStore {
    stripes: Box<[RwLock<Stripe>]>,
}

impl RecordStore {
    pub fn new(stripes: usize) -> RecordStore {
        let n = stripes.max(1).next_power_of_two();
        RecordStore {
            stripes: (0..n).map(|_| RwLock::new(Stripe::default())).collect(),
        }
    }

    fn stripe(&self, id: RecordId) -> &RwLock<Stripe> {
        // The length is a power of two, so the mask keeps the index in range.
        &self.stripes[(id.0 as usize) & (self.stripes.len() - 1)]
    }

    /// Inserts (or replaces, on replay) a record. Idempotent by id.
    pub fn insert(&self, record: Arc<GameRecord>) {
        let mut stripe = self.stripe(record.id).write();
        let ch = stripe.channels.entry(record.channel.clone()).or_default();
        ch.by_player
            .entry(record.player.clone())
            .or_default()
            .insert(record.id);
        ch.all.insert(record.id, record);
    }

    pub fn get(&self, channel: &ChannelId, id: RecordId) -> Option<GameRecord> {
        let stripe = self.stripe(id).read();
        stripe
            .channels
            .get(channel)?
            .all
            .get(&id)
            .map(|r| (**r).clone())
    }

    pub fn len(&self) -> usize {
        self.stripes
            .iter()
            .map(|s| {
                s.read()
                    .channels
                    .values()
                    .map(|c| c.all.len())
                    .sum::<usize>()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The page of `channel`'s records that `q` asks for, newest first.
    pub fn query(&self, channel: &ChannelId, q: &RecordQuery) -> Vec<GameRecord> {
        let size = q.size.clamp(1, MAX_PAGE_SIZE);
        let mut found: Vec<GameRecord> = Vec::new();
        for stripe in self.stripes.iter() {
            let stripe = stripe.read();
            if let Some(ch) = stripe.channels.get(channel) {
                collect_page(ch, q, size, &mut found);
            }
        }
        match q.direction {
            PageDirection::Next => found.sort_unstable_by_key(|r| std::cmp::Reverse(r.id)),
            PageDirection::Prev => found.sort_unstable_by_key(|r| r.id),
        }
        found.truncate(size);
        if q.direction == PageDirection::Prev {
            found.reverse();
        }
        found
    }

    /// Calls `f` with each stripe's records. A stripe is read-locked only while its
    /// records' reference counts are taken; `f` runs without any lock held.
    pub fn export<E>(
        &self,
        mut f: impl FnMut(Vec<Arc<GameRecord>>) -> Result<(), E>,
    ) -> Result<(), E> {
        for stripe in self.stripes.iter() {
            let shared: Vec<Arc<GameRecord>> = stripe
                .read()
                .channels
                .values()
                .flat_map(|c| c.all.values().cloned())
                .collect();
            if !shared.is_empty() {
                f(shared)?;
            }
        }
        Ok(())
    }

    /// Every record, copied (tests).
    pub fn all(&self) -> Vec<GameRecord> {
        let mut out = Vec::new();
        for stripe in self.stripes.iter() {
            for ch in stripe.read().channels.values() {
                out.extend(ch.all.values().map(|r| (**r).clone()));
            }
        }
        out
    }
}

/// Appends to `out` up to `size` records of one stripe's channel that match `q`,
/// nearest the cursor first. Walks only the ids on the cursor's side (a B-tree range).
fn collect_page(ch: &ChannelRecords, q: &RecordQuery, size: usize, out: &mut Vec<GameRecord>) {
    let bounds = cursor_bounds(q.cursor, q.direction);
    let newest_first = q.direction == PageDirection::Next;
    let ids: Box<dyn Iterator<Item = &RecordId>> = match &q.player {
        Some(p) => match ch.by_player.get(p) {
            None => return,
            Some(set) => nearest_first(set.range(bounds), newest_first),
        },
        None => nearest_first(ch.all.range(bounds).map(|(id, _)| id), newest_first),
    };
    let start = out.len();
    for id in ids {
        if out.len() - start >= size {
            break;
        }
        if let Some(r) = ch.all.get(id).filter(|r| q.matches(r)) {
            out.push((**r).clone());
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

fn nearest_first<'a>(
    ids: impl DoubleEndedIterator<Item = &'a RecordId> + 'a,
    newest_first: bool,
) -> Box<dyn Iterator<Item = &'a RecordId> + 'a> {
    if newest_first {
        Box::new(ids.rev())
    } else {
        Box::new(ids)
    }
}
