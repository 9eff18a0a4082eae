//! THROWAWAY stand-in for `leaderboard/ranked.rs` (being written on `main`): the same
//! API over a `BTreeSet`, O(n) ranks. Deleted when the real ranked set is merged.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

pub type PlayerKey = u64;
pub type Score = i64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub player: PlayerKey,
    pub score: Score,
    pub seq: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ranked {
    pub rank: u64,
    pub entry: Entry,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("player {0} appears twice")]
pub struct DuplicatePlayer(pub PlayerKey);

/// Tree key: higher score first, then lower seq, then lower player id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key(std::cmp::Reverse<Score>, u64, PlayerKey);

impl Key {
    fn of(e: Entry) -> Key {
        Key(std::cmp::Reverse(e.score), e.seq, e.player)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RankedSet {
    order: BTreeSet<Key>,
    by_player: HashMap<PlayerKey, Entry>,
}

impl RankedSet {
    pub fn new() -> Self {
        RankedSet::default()
    }

    pub fn len(&self) -> usize {
        self.by_player.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_player.is_empty()
    }

    pub fn upsert(&mut self, player: PlayerKey, score: Score, seq: u64) -> Option<Entry> {
        let old = self.remove(player);
        let e = Entry { player, score, seq };
        self.order.insert(Key::of(e));
        self.by_player.insert(player, e);
        old
    }

    pub fn remove(&mut self, player: PlayerKey) -> Option<Entry> {
        let old = self.by_player.remove(&player)?;
        self.order.remove(&Key::of(old));
        Some(old)
    }

    pub fn get(&self, player: PlayerKey) -> Option<Entry> {
        self.by_player.get(&player).copied()
    }

    pub fn rank(&self, player: PlayerKey) -> Option<u64> {
        let e = self.get(player)?;
        Some(self.order.range(..Key::of(e)).count() as u64 + 1)
    }

    pub fn page(&self, offset: usize, limit: usize) -> Vec<Ranked> {
        self.iter().skip(offset).take(limit).collect()
    }

    pub fn around(&self, player: PlayerKey, before: usize, after: usize) -> Vec<Ranked> {
        let Some(rank) = self.rank(player) else {
            return Vec::new();
        };
        let first = (rank as usize - 1).saturating_sub(before);
        self.page(first, rank as usize - first + after)
    }

    pub fn iter(&self) -> impl Iterator<Item = Ranked> + '_ {
        self.order.iter().enumerate().map(|(i, k)| Ranked {
            rank: i as u64 + 1,
            entry: Entry {
                player: k.2,
                score: k.0 .0,
                seq: k.1,
            },
        })
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.iter().map(|r| r.entry).collect()
    }

    pub fn from_entries(entries: impl IntoIterator<Item = Entry>) -> Result<Self, DuplicatePlayer> {
        let mut set = RankedSet::new();
        for e in entries {
            if set.upsert(e.player, e.score, e.seq).is_some() {
                return Err(DuplicatePlayer(e.player));
            }
        }
        Ok(set)
    }
}
