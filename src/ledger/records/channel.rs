//! One channel's game records in one stripe, kept compact.
//!
//! Records are most of what a busy ledger holds after its transaction tables: one
//! per closed round, kept for the history queries. A `GameRecord` repeats what many
//! records share: the channel (the key this is filed under), the player, currency
//! and wallet (one of a few per player), and the game (four strings; a channel has
//! a few hundred games). Here those are kept once per channel and a record points
//! at them by `u32` index, and records sit inline in one vector: 176 bytes each
//! instead of about 400 for a shared `GameRecord`, plus 16 for the id index. A
//! record is rebuilt (copied) when a query or a snapshot reads it.
//!
//! Records are stored in arrival order and found through a sorted index of
//! (id, position): ids arrive nearly in order, but parallel replay interleaves two
//! lanes, and a record that lands early in a sorted vector of whole records would
//! shift every record after it.
//!
//! Invariants: `index` and every `player_ids` list are sorted by id, without
//! repeats; `index` holds each position of `stored` exactly once; every `owner`
//! and `game` index of a stored record is in range.

use super::{GameRecord, RecordQuery};
use crate::ids::{ChannelId, Currency, PlayerId, RecordId, RoundId, TxId, WalletId};
use crate::ledger::round::RoundEnd;
use crate::ledger::table::Stamp;
use crate::ledger::types::{GameRef, PlayMeta};
use crate::money::Amount;
use std::collections::HashMap;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Whose record it is: shared by every record of one wallet.
#[derive(Clone, Debug)]
struct Owner {
    player: PlayerId,
    currency: Currency,
    wallet: WalletId,
    /// Where the player's record ids are in `player_ids` (one list per player, shared
    /// by the player's wallets), so that storing a record hashes no string.
    player_slot: u32,
}

/// A `GameRecord` without its channel, with its owner and game as indexes.
#[derive(Clone, Debug)]
pub(super) struct StoredRecord {
    pub(super) id: RecordId,
    /// The log position that wrote it (see `table::Stamp`).
    stamp: Stamp,
    owner: u32,
    game: u32,
    round: RoundId,
    transaction_id: TxId,
    starting_credit: Amount,
    ending_credit: Amount,
    base_win: Amount,
    free_win: Amount,
    bonus_win: Amount,
    jackpot_win: Amount,
    total_win: Amount,
    total_bet: Amount,
    meta: PlayMeta,
    play_time_secs: i64,
    created_at_ms: i64,
    end: RoundEnd,
}

/// Values kept once and referred to by position.
#[derive(Debug)]
struct Interned<K, T> {
    items: Vec<T>,
    positions: Map<K, u32>,
}

impl<K, T> Default for Interned<K, T> {
    fn default() -> Self {
        Interned {
            items: Vec::new(),
            positions: Map::default(),
        }
    }
}

impl<K: std::hash::Hash + Eq, T> Interned<K, T> {
    /// The position of the item filed under `key`, adding `make()` if there is none.
    fn intern(&mut self, key: &K, make: impl FnOnce() -> (K, T)) -> u32 {
        if let Some(&at) = self.positions.get(key) {
            return at;
        }
        // Owners and games of one channel: far fewer than 2^32 (players are capped at
        // `IdentityConfig::max_players`, games at `MAX_GAMES`).
        #[allow(clippy::expect_used)]
        let at = u32::try_from(self.items.len()).expect("fewer than 2^32 interned values");
        let (key, item) = make();
        self.items.push(item);
        self.positions.insert(key, at);
        at
    }

    fn get(&self, at: u32) -> &T {
        &self.items[at as usize]
    }
}

#[derive(Debug)]
pub(super) struct ChannelRecords {
    channel: ChannelId,
    /// Sorted vectors rather than B-trees: record ids are handed out in increasing
    /// order and a record is stored right after its id is taken, so an insert is
    /// nearly always a push at the end, and a page is a binary search and a slice.
    pub(super) index: Vec<(RecordId, usize)>,
    /// The records, in arrival order.
    stored: Vec<StoredRecord>,
    /// Each player's record ids, found through `players`.
    player_ids: Vec<Vec<RecordId>>,
    players: Map<PlayerId, u32>,
    owners: Interned<WalletId, Owner>,
    games: Interned<GameRef, GameRef>,
    /// The game of the last record stored: most records repeat it, and comparing
    /// is cheaper than hashing four strings.
    last_game: Option<u32>,
    /// No stored record has a lower stamp (`Stamp::MAX` when empty).
    oldest_stamp: Stamp,
}

impl ChannelRecords {
    pub(super) fn new(channel: ChannelId) -> ChannelRecords {
        ChannelRecords {
            channel,
            index: Vec::new(),
            stored: Vec::new(),
            player_ids: Vec::new(),
            players: Map::default(),
            owners: Interned::default(),
            games: Interned::default(),
            last_game: None,
            oldest_stamp: Stamp::MAX,
        }
    }

    /// Forgets the records stamped `cut` or lower (they are in the history store);
    /// returns how many, and the highest id among them. O(1) when none is that old, else one pass over the
    /// channel's records and a rebuild of its indexes. Owners and games stay
    /// interned: they are bounded by the channel's players and games, not by history.
    pub(super) fn evict_through(&mut self, cut: Stamp) -> (usize, Option<RecordId>) {
        if self.oldest_stamp > cut {
            return (0, None);
        }
        let before = self.stored.len();
        let highest = self
            .stored
            .iter()
            .filter(|s| s.stamp <= cut)
            .map(|s| s.id)
            .max();
        self.stored.retain(|s| s.stamp > cut);
        let removed = before - self.stored.len();
        self.stored
            .shrink_to(self.stored.len() + self.stored.len() / 4);
        self.oldest_stamp = self
            .stored
            .iter()
            .map(|s| s.stamp)
            .min()
            .unwrap_or(Stamp::MAX);
        self.index = self
            .stored
            .iter()
            .enumerate()
            .map(|(at, s)| (s.id, at))
            .collect();
        self.index.sort_unstable_by_key(|e| e.0);
        for ids in &mut self.player_ids {
            ids.clear();
        }
        for &(id, at) in &self.index {
            let slot = self.owners.get(self.stored[at].owner).player_slot as usize;
            self.player_ids[slot].push(id);
        }
        for ids in &mut self.player_ids {
            ids.shrink_to(ids.len() + ids.len() / 4);
        }
        (removed, highest)
    }

    /// Stores `r` (a record of this channel), replacing a record with its id.
    pub(super) fn insert(&mut self, r: &GameRecord, stamp: Stamp) {
        if let Some(entry) = self.store(r, stamp) {
            insert_sorted(&mut self.index, entry.0, |e| e.0, entry);
        }
        self.debug_check_tail();
    }

    /// Stores records of this channel given in id order, replacing records with
    /// their ids. Their index entries are merged in one pass: another thread's
    /// records, with ids in between, may be stored already (parallel replay), and
    /// inserting one by one would shift the index once per record.
    pub(super) fn insert_sorted_batch<'a>(
        &mut self,
        records: impl Iterator<Item = &'a GameRecord>,
        stamp: Stamp,
    ) {
        let new: Vec<(RecordId, usize)> = records.filter_map(|r| self.store(r, stamp)).collect();
        debug_assert!(
            new.windows(2).all(|w| w[0].0 < w[1].0),
            "a batch in id order"
        );
        let Some(first) = new.first() else {
            return;
        };
        let at = self.index.partition_point(|e| e.0 < first.0);
        if at == self.index.len() {
            self.index.extend(new);
        } else {
            let tail: Vec<(RecordId, usize)> = self.index.drain(at..).collect();
            self.index.reserve(tail.len() + new.len());
            let (mut a, mut b) = (tail.into_iter().peekable(), new.into_iter().peekable());
            // Disjoint: `store` replaced the records whose ids were already here.
            while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
                let next = if x.0 < y.0 { a.next() } else { b.next() };
                self.index.extend(next);
            }
            self.index.extend(a);
            self.index.extend(b);
        }
        self.debug_check_tail();
    }

    fn debug_check_tail(&self) {
        debug_assert_eq!(self.index.len(), self.stored.len());
        debug_assert!(self.index.windows(2).rev().take(2).all(|w| w[0].0 < w[1].0));
    }

    /// Stores `r` in `stored` (replacing the record with its id, if any) and in its
    /// player's list; returns its index entry if the id is new (the caller files it).
    fn store(&mut self, r: &GameRecord, stamp: Stamp) -> Option<(RecordId, usize)> {
        debug_assert_eq!(r.channel, self.channel);
        self.oldest_stamp = self.oldest_stamp.min(stamp);
        let players = &mut self.players;
        let player_ids = &mut self.player_ids;
        let owner = self.owners.intern(&r.wallet, || {
            // Players are capped at `IdentityConfig::max_players`, far below 2^32.
            #[allow(clippy::expect_used)]
            let next = u32::try_from(player_ids.len()).expect("fewer than 2^32 players");
            let player_slot = *players.entry(r.player.clone()).or_insert(next);
            if player_slot == next {
                player_ids.push(Vec::new());
            }
            let owner = Owner {
                player: r.player.clone(),
                currency: r.currency.clone(),
                wallet: r.wallet,
                player_slot,
            };
            (r.wallet, owner)
        });
        debug_assert_eq!(
            self.owners.get(owner).player,
            r.player,
            "one wallet, one player"
        );
        let game = match self.last_game {
            Some(g) if *self.games.get(g) == r.game => g,
            _ => self
                .games
                .intern(&r.game, || (r.game.clone(), r.game.clone())),
        };
        self.last_game = Some(game);
        let id = r.id;
        let stored = StoredRecord {
            id,
            stamp,
            owner,
            game,
            round: r.round.clone(),
            transaction_id: r.transaction_id.clone(),
            starting_credit: r.starting_credit,
            ending_credit: r.ending_credit,
            base_win: r.base_win,
            free_win: r.free_win,
            bonus_win: r.bonus_win,
            jackpot_win: r.jackpot_win,
            total_win: r.total_win,
            total_bet: r.total_bet,
            meta: r.meta,
            play_time_secs: r.play_time_secs,
            created_at_ms: r.created_at_ms,
            end: r.end,
        };
        let slot = self.owners.get(owner).player_slot as usize;
        insert_sorted(&mut self.player_ids[slot], id, |i| *i, id);
        match self.position(id) {
            // Replay over a snapshot that already holds the record.
            Some(pos) => {
                let stamp = self.stored[pos].stamp.max(stored.stamp);
                self.stored[pos] = StoredRecord { stamp, ..stored };
                None
            }
            None => {
                self.stored.push(stored);
                Some((id, self.stored.len() - 1))
            }
        }
    }

    fn position(&self, id: RecordId) -> Option<usize> {
        // The common case, a new id past the newest, costs no search.
        if self.index.last().is_none_or(|last| last.0 < id) {
            return None;
        }
        let at = self.index.binary_search_by_key(&id, |e| e.0).ok()?;
        Some(self.index[at].1)
    }

    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// The ids of `player`'s records, in id order.
    pub(super) fn player_ids(&self, player: &PlayerId) -> Option<&[RecordId]> {
        let slot = *self.players.get(player)?;
        Some(&self.player_ids[slot as usize])
    }

    pub(super) fn stored(&self, id: RecordId) -> Option<&StoredRecord> {
        self.position(id).map(|pos| &self.stored[pos])
    }

    /// The record an `index` entry points at.
    pub(super) fn at(&self, entry: &(RecordId, usize)) -> &StoredRecord {
        &self.stored[entry.1]
    }

    /// Whether `s` passes the filters of `q`.
    pub(super) fn matches(&self, q: &RecordQuery, s: &StoredRecord) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        let game = self.games.get(s.game);
        eq(&q.game, game.id.as_str())
            && eq(&q.developer, game.developer.as_str())
            && eq(&q.version, game.version.as_str())
            && q.player
                .as_ref()
                .is_none_or(|p| p == &self.owners.get(s.owner).player)
            && (q.start_time_secs == 0 || s.play_time_secs >= q.start_time_secs)
            && (q.end_time_secs == 0 || s.play_time_secs <= q.end_time_secs)
    }

    /// The whole record `s`, as it was inserted.
    pub(super) fn record(&self, s: &StoredRecord) -> GameRecord {
        let owner = self.owners.get(s.owner);
        GameRecord {
            id: s.id,
            channel: self.channel.clone(),
            player: owner.player.clone(),
            currency: owner.currency.clone(),
            wallet: owner.wallet,
            round: s.round.clone(),
            game: self.games.get(s.game).clone(),
            transaction_id: s.transaction_id.clone(),
            starting_credit: s.starting_credit,
            ending_credit: s.ending_credit,
            base_win: s.base_win,
            free_win: s.free_win,
            bonus_win: s.bonus_win,
            jackpot_win: s.jackpot_win,
            total_win: s.total_win,
            total_bet: s.total_bet,
            meta: s.meta,
            play_time_secs: s.play_time_secs,
            created_at_ms: s.created_at_ms,
            end: s.end,
        }
    }
}

/// Inserts `item` (whose id is `id`) into `v`, sorted by id; replaces an item with
/// the same id (replay).
fn insert_sorted<T>(v: &mut Vec<T>, id: RecordId, key: impl Fn(&T) -> RecordId, item: T) {
    // The common case: the newest id so far.
    if v.last().is_none_or(|last| key(last) < id) {
        v.push(item);
        return;
    }
    match v.binary_search_by_key(&id, &key) {
        Ok(at) => v[at] = item,
        Err(at) => v.insert(at, item),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::GameId;

    fn record(id: u64, player: &str, wallet: u64, game: &str) -> GameRecord {
        GameRecord {
            id: RecordId(id),
            channel: ChannelId::new("ch").expect("channel"),
            player: PlayerId::new(player).expect("player"),
            currency: Currency::new("CNY").expect("currency"),
            wallet: WalletId(wallet),
            round: RoundId::new(&format!("r{id}")).expect("round"),
            game: GameRef::bare(GameId::new(game).expect("game")),
            transaction_id: TxId::new(&format!("t{id}")).expect("tx"),
            starting_credit: Amount::new(1000),
            ending_credit: Amount::new(900 + id as i64),
            base_win: Amount::new(1),
            free_win: Amount::new(2),
            bonus_win: Amount::new(3),
            jackpot_win: Amount::new(4),
            total_win: Amount::new(10),
            total_bet: Amount::new(110),
            meta: PlayMeta {
                base_bet: 5,
                line: 20,
                multiple: 3,
            },
            play_time_secs: 1_700_000_000 + id as i64,
            created_at_ms: 1_700_000_000_123,
            end: RoundEnd::Settled,
        }
    }

    /// What goes in comes out whole, shared parts are kept once, and ids stay
    /// sorted whatever order they arrive in (replay may insert in the middle).
    #[test]
    fn records_come_back_whole_and_share_owners_and_games() {
        let mut ch = ChannelRecords::new(ChannelId::new("ch").expect("channel"));
        let inserted: Vec<GameRecord> = [5, 1, 3, 2, 4, 3]
            .iter()
            .map(|&id| record(id, if id % 2 == 0 { "p2" } else { "p1" }, id % 2, "slot"))
            .collect();
        for r in &inserted {
            ch.insert(r, 1);
        }
        let ids: Vec<u64> = ch.index.iter().map(|e| ch.at(e).id.0).collect();
        assert_eq!(ids, vec![1, 2, 3, 4, 5]);
        for r in &inserted {
            let s = ch.stored(r.id).expect("stored");
            assert_eq!(&ch.record(s), r);
        }
        assert_eq!(ch.owners.items.len(), 2);
        assert_eq!(ch.games.items.len(), 1);
        assert_eq!(
            ch.player_ids(&PlayerId::new("p1").expect("p")).expect("p1"),
            vec![RecordId(1), RecordId(3), RecordId(5)]
        );
    }

    proptest::proptest! {
        /// Batches in id order, from lanes whose ids interleave, over records already
        /// stored (some with the same ids), end as inserting one by one does.
        #[test]
        fn batches_merge_as_single_inserts_do(
            before in proptest::collection::vec(1u64..400, 0..40),
            lanes in proptest::collection::vec(proptest::collection::btree_set(1u64..400, 0..60), 1..4),
        ) {
            let channel = || ChannelId::new("ch").expect("channel");
            // Player p1 has wallets 1 and 3, p2 has wallet 2.
            let mk = |id: u64| {
                let (player, wallet) = match id % 3 { 0 => ("p2", 2), 1 => ("p1", 1), _ => ("p1", 3) };
                record(id, player, wallet, if id.is_multiple_of(7) { "dice" } else { "slot" })
            };
            let (mut batched, mut single) = (ChannelRecords::new(channel()), ChannelRecords::new(channel()));
            for &id in &before {
                batched.insert(&mk(id), 1);
                single.insert(&mk(id), 1);
            }
            for lane in &lanes {
                let recs: Vec<GameRecord> = lane.iter().map(|&id| mk(id)).collect();
                batched.insert_sorted_batch(recs.iter(), 1);
                for r in &recs {
                    single.insert(r, 1);
                }
            }
            let all = |ch: &ChannelRecords| -> Vec<GameRecord> { ch.index.iter().map(|e| ch.record(ch.at(e))).collect() };
            proptest::prop_assert_eq!(all(&batched), all(&single));
            proptest::prop_assert!(batched.index.windows(2).all(|w| w[0].0 < w[1].0));
            proptest::prop_assert_eq!(batched.index.len(), batched.stored.len());
            for p in ["p1", "p2"] {
                let p = PlayerId::new(p).expect("player");
                proptest::prop_assert_eq!(batched.player_ids(&p), single.player_ids(&p));
            }
        }
    }

    /// The point of the layout: a stored record is well under half a `GameRecord`.
    #[test]
    fn a_stored_record_is_compact() {
        assert!(std::mem::size_of::<StoredRecord>() <= 176);
        // A little over half, since each record carries its log position.
        assert!(
            100 * std::mem::size_of::<StoredRecord>() <= 55 * std::mem::size_of::<GameRecord>()
        );
    }
}
