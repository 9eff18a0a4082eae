//! The ranked set behind tournament leaderboards: players ordered by score, with rank,
//! page and around-me queries in O(log n) and snapshots through serde.
//!
//! # Order
//! Higher score first; equal scores rank by who reached that score first (the caller's
//! `seq`, lower = earlier), then by player id ascending. That is a total order over
//! entries, so ranks are 1-based and unique, and every query is deterministic.
//!
//! # Structure, and why
//! Two parts: a counted B+tree ([`tree`]) whose leaves are sorted chunks of up to 128
//! 24-byte keys `(score flipped to sort descending, seq, player)` and whose inner nodes hold
//! per-child key counts; and a player index ([`index`]) from player to `(score, seq)` that
//! finds a player's current key in O(1). Rank is one descent summing counts; a page is one
//! descent by count and then a walk along the leaf chain. At 1M entries and up, every
//! operation is bound by cache misses, so node searches test every 8th key first
//! (independent loads, whose misses overlap), a score update walks the old and the new
//! key's paths in lockstep, and the index is an open-addressing table with id and value in
//! one slot (one miss per lookup where `HashMap` takes two: about 9% off an update,
//! measured).
//!
//! Alternatives, by what was measured (`benches/leaderboard.rs`) and what was reasoned:
//! - `BTreeMap` + hash map, rank by linear scan (measured, as the baseline): updates are
//!   as fast as here, but rank and deep pages are O(n), 10-20 ms at 1M entries.
//! - Chunked sorted arrays with a Fenwick index over a flat `Vec` of chunks: the same
//!   leaves, but a chunk split or merge shifts the chunk vector and rebuilds the index, O(n /
//!   chunk); rare for random updates, yet a steady cost for appends (new players with equal
//!   scores land at the same spot) and a latency spike at 10M. Counting the chunks with a
//!   small B-tree instead, which is what this is, makes every operation O(log n) for the
//!   same leaf-level work.
//! - Skip list with spans: O(log n) expected, but a heap node per entry and a dependent
//!   miss per level: several times the memory and the misses of packed leaves.
//! - Order-statistic B-tree with entries in every node: a similar cost, but the B+tree's
//!   inner nodes hold only separators and counts, so they are small and mostly cached, and
//!   the leaf chain gives paging without a stack.
//! - Leaf and inner-node sizes (32 to 256 keys, 32 to 128 children) were measured: none
//!   beat 128/64 beyond the noise, and 128/64 uses the least memory.

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod index;
mod tree;

use index::PlayerIndex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use tree::{CountedTree, Shape};

/// Platform-assigned numeric player id.
pub type PlayerKey = u64;

/// Fixed-point score (the caller defines the scale).
pub type Score = i64;

/// One player's standing: what a snapshot stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub player: PlayerKey,
    pub score: Score,
    /// When the player reached `score` (caller's clock or counter); lower = earlier.
    pub seq: u64,
}

/// An entry with its 1-based rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ranked {
    pub rank: u64,
    pub entry: Entry,
}

/// A rebuild was given the same player twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("player {player} appears more than once")]
pub struct DuplicatePlayer {
    pub player: PlayerKey,
}

/// Flips the sign bit (signed order becomes unsigned order) and every other bit (ascending
/// becomes descending), so that a derived ascending comparison puts higher scores first.
const SCORE_FLIP: u64 = 0x7FFF_FFFF_FFFF_FFFF;

/// Tree key: field order is the tie rule, and `Ord` compares in that order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    score_desc: u64,
    seq: u64,
    player: PlayerKey,
}

impl Key {
    fn new(player: PlayerKey, score: Score, seq: u64) -> Self {
        Key {
            score_desc: (score as u64) ^ SCORE_FLIP,
            seq,
            player,
        }
    }

    fn entry(self) -> Entry {
        Entry {
            player: self.player,
            score: (self.score_desc ^ SCORE_FLIP) as i64,
            seq: self.seq,
        }
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        // Same order as comparing the fields in turn, but the first two as one u128: two
        // branch-free instructions instead of a data-dependent branch per field.
        let wide = |k: &Key| (u128::from(k.score_desc) << 64) | u128::from(k.seq);
        (wide(self), self.player).cmp(&(wide(other), other.player))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Players ordered by score with the tie rule above. See the module doc.
#[derive(Clone)]
pub struct RankedSet {
    tree: CountedTree<Key>,
    /// Each player's current `(score, seq)`, i.e. where its key sits in `tree`.
    index: PlayerIndex<(Score, u64)>,
}

/// Rank of the entry at zero-based position `pos`.
fn rank_at(pos: usize) -> u64 {
    (pos as u64).saturating_add(1)
}

impl RankedSet {
    pub fn new() -> Self {
        Self::with_shape(Shape::DEFAULT)
    }

    fn with_shape(shape: Shape) -> Self {
        RankedSet {
            tree: CountedTree::new(shape),
            index: PlayerIndex::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.len() == 0
    }

    /// Insert or replace the player's entry; returns the previous entry. O(log n).
    pub fn upsert(&mut self, player: PlayerKey, score: Score, seq: u64) -> Option<Entry> {
        let key = Key::new(player, score, seq);
        let previous = self
            .index
            .insert(player, (score, seq))
            .map(|(s, q)| Key::new(player, s, q));
        match previous {
            Some(old) if old == key => {}
            Some(old) => {
                let replaced = self.tree.replace(&old, key);
                debug_assert!(replaced, "index and tree disagree on {player}");
            }
            None => {
                let inserted = self.tree.insert(key);
                debug_assert!(inserted, "tree held {player} that the index did not");
            }
        }
        debug_assert_eq!(self.tree.len(), self.index.len(), "tree and index sizes");
        previous.map(Key::entry)
    }

    /// Removes the player; returns its entry. O(log n).
    pub fn remove(&mut self, player: PlayerKey) -> Option<Entry> {
        let (score, seq) = self.index.remove(player)?;
        let key = Key::new(player, score, seq);
        let removed = self.tree.remove(&key);
        debug_assert!(removed, "index held {player} that the tree did not");
        debug_assert_eq!(self.tree.len(), self.index.len(), "tree and index sizes");
        Some(key.entry())
    }

    /// The player's entry. O(1).
    pub fn get(&self, player: PlayerKey) -> Option<Entry> {
        let (score, seq) = self.index.get(player)?;
        Some(Entry { player, score, seq })
    }

    /// The player's 1-based rank. O(log n).
    pub fn rank(&self, player: PlayerKey) -> Option<u64> {
        self.position(player).map(rank_at)
    }

    fn position(&self, player: PlayerKey) -> Option<usize> {
        let (score, seq) = self.index.get(player)?;
        let pos = self.tree.position(&Key::new(player, score, seq));
        debug_assert!(pos.is_some(), "index held {player} that the tree did not");
        pos
    }

    /// Up to `limit` entries from zero-based position `offset` (rank `offset + 1`) on.
    /// O(log n + limit).
    pub fn page(&self, offset: usize, limit: usize) -> Vec<Ranked> {
        let n = self.len().saturating_sub(offset).min(limit);
        let mut out = Vec::with_capacity(n);
        out.extend(
            self.tree
                .iter_from(offset)
                .take(n)
                .enumerate()
                .map(|(i, key)| Ranked {
                    rank: rank_at(offset + i),
                    entry: key.entry(),
                }),
        );
        out
    }

    /// The player with up to `before` entries ranked above and `after` below; empty if the
    /// player is absent. O(log n + before + after).
    pub fn around(&self, player: PlayerKey, before: usize, after: usize) -> Vec<Ranked> {
        let Some(pos) = self.position(player) else {
            return Vec::new();
        };
        let start = pos.saturating_sub(before);
        let end = pos.saturating_add(after).saturating_add(1).min(self.len());
        self.page(start, end - start)
    }

    /// All entries in rank order.
    pub fn iter(&self) -> impl Iterator<Item = Ranked> + '_ {
        self.tree.iter_from(0).enumerate().map(|(i, key)| Ranked {
            rank: rank_at(i),
            entry: key.entry(),
        })
    }

    /// All entries in rank order, for snapshots.
    pub fn entries(&self) -> Vec<Entry> {
        self.tree.iter_from(0).map(Key::entry).collect()
    }

    /// Rebuilds a set from entries in any order, in O(n log n). Fails on a repeated player.
    pub fn from_entries(entries: impl IntoIterator<Item = Entry>) -> Result<Self, DuplicatePlayer> {
        Self::from_entries_shaped(entries, Shape::DEFAULT)
    }

    fn from_entries_shaped(
        entries: impl IntoIterator<Item = Entry>,
        shape: Shape,
    ) -> Result<Self, DuplicatePlayer> {
        let entries = entries.into_iter();
        let mut index = PlayerIndex::with_capacity(entries.size_hint().0);
        let mut keys = Vec::with_capacity(entries.size_hint().0);
        for Entry { player, score, seq } in entries {
            if index.insert(player, (score, seq)).is_some() {
                return Err(DuplicatePlayer { player });
            }
            keys.push(Key::new(player, score, seq));
        }
        keys.sort_unstable();
        let tree = CountedTree::from_sorted(&keys, shape);
        Ok(RankedSet { tree, index })
    }

    /// O(n) check that the tree is well formed and that the index and the tree hold the same
    /// entries. Panics on a violation (tests and debug builds only).
    #[cfg(any(test, debug_assertions))]
    pub fn check_invariants(&self) {
        self.tree.check_invariants();
        self.index.check_invariants();
        // Same size, and every tree key is in the index: the two hold the same players.
        assert_eq!(self.tree.len(), self.index.len(), "tree and index sizes");
        for key in self.tree.iter_from(0) {
            let stored = self.index.get(key.player);
            assert_eq!(stored, Some((key.entry().score, key.seq)), "index != tree");
        }
    }
}

impl Default for RankedSet {
    fn default() -> Self {
        Self::new()
    }
}

/// Two sets are equal when they hold the same entries.
impl PartialEq for RankedSet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.tree.iter_from(0).eq(other.tree.iter_from(0))
    }
}

impl Eq for RankedSet {}

impl fmt::Debug for RankedSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.tree.iter_from(0).map(Key::entry))
            .finish()
    }
}

/// A snapshot is the sequence of entries in rank order.
impl Serialize for RankedSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The iterator knows its exact length, which length-prefixed formats need.
        serializer.collect_seq(self.tree.iter_from(0).map(Key::entry))
    }
}

/// Rebuilds from a snapshot's entries; a repeated player is a data error, not a panic.
impl<'de> Deserialize<'de> for RankedSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries = Vec::<Entry>::deserialize(deserializer)?;
        Self::from_entries(entries).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
