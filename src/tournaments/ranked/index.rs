//! The player index behind `RankedSet`: player id to current value, an open-addressing hash
//! table whose lookup is one cache miss.
//!
//! Every update and every rank query starts with this lookup, on a table far larger than
//! cache. `HashMap` (hashbrown) reads a control-byte group and then the bucket: two
//! dependent misses. Here id and value share a slot, found by linear probing from the
//! id's hash, so a lookup reads one slot (and rarely its neighbours in the same line).

use foldhash::fast::RandomState;
use std::hash::BuildHasher;
use std::mem;

/// Marks an empty slot. The player with this id is kept in `PlayerIndex::last_id` instead.
const EMPTY: u64 = u64::MAX;

/// Grow past 7 full slots in 10: beyond that, linear probing's probe runs get long.
fn over_loaded(len: usize, slots: usize) -> bool {
    len.saturating_mul(10) > slots.saturating_mul(7)
}

#[derive(Clone, Copy, Debug)]
struct Slot<V> {
    player: u64,
    value: V,
}

/// Where a probe for a player ended.
enum Probe {
    Found(usize),
    Vacant(usize),
    /// No such player and no empty slot (only for a table with no slots at all).
    Full,
}

/// Player id to value; see the module doc.
#[derive(Clone, Debug)]
pub(super) struct PlayerIndex<V> {
    slots: Vec<Slot<V>>,
    /// Players held in `slots`.
    len: usize,
    /// The value of player `u64::MAX`, whose id is the empty-slot marker.
    last_id: Option<V>,
    /// Keyed per process, so ids cannot be chosen to collide.
    hasher: RandomState,
}

impl<V: Copy + Default> PlayerIndex<V> {
    pub(super) fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An index that holds `players` without growing.
    pub(super) fn with_capacity(players: usize) -> Self {
        let mut index = PlayerIndex {
            slots: Vec::new(),
            len: 0,
            last_id: None,
            hasher: RandomState::default(),
        };
        if players > 0 {
            index.resize(players.saturating_mul(10) / 7 + 1);
        }
        index
    }

    pub(super) fn len(&self) -> usize {
        self.len + usize::from(self.last_id.is_some())
    }

    /// The slot a probe for `player` starts at; `slots` must be non-empty.
    fn home(&self, player: u64) -> usize {
        // Multiply-shift maps the hash onto any table size without a division.
        let wide = u128::from(self.hasher.hash_one(player)) * self.slots.len() as u128;
        (wide >> 64) as usize
    }

    fn probe(&self, player: u64) -> Probe {
        let n = self.slots.len();
        let mut i = if n == 0 { 0 } else { self.home(player) };
        for _ in 0..n {
            match self.slots[i].player {
                p if p == player => return Probe::Found(i),
                EMPTY => return Probe::Vacant(i),
                _ => i = if i + 1 == n { 0 } else { i + 1 },
            }
        }
        Probe::Full
    }

    pub(super) fn get(&self, player: u64) -> Option<V> {
        if player == EMPTY {
            return self.last_id;
        }
        match self.probe(player) {
            Probe::Found(i) => Some(self.slots[i].value),
            Probe::Vacant(_) | Probe::Full => None,
        }
    }

    /// Sets the player's value; returns the previous one.
    pub(super) fn insert(&mut self, player: u64, value: V) -> Option<V> {
        if player == EMPTY {
            return self.last_id.replace(value);
        }
        let mut probe = self.probe(player);
        // Only a new player can push the table past its load bound (or find it slotless).
        if !matches!(probe, Probe::Found(_)) && over_loaded(self.len + 1, self.slots.len()) {
            self.resize(self.slots.len().saturating_mul(2).max(8));
            probe = self.probe(player);
        }
        match probe {
            Probe::Found(i) => Some(mem::replace(&mut self.slots[i].value, value)),
            Probe::Vacant(i) => {
                self.slots[i] = Slot { player, value };
                self.len += 1;
                None
            }
            // Unreachable: the resize above leaves over 3 in 10 slots empty.
            Probe::Full => None,
        }
    }

    /// Removes the player; returns its value.
    pub(super) fn remove(&mut self, player: u64) -> Option<V> {
        if player == EMPTY {
            return self.last_id.take();
        }
        let Probe::Found(mut hole) = self.probe(player) else {
            return None;
        };
        let value = self.slots[hole].value;
        // Backward-shift deletion: pull later members of the probe run into the hole when
        // their home is not between the hole and them, so no run is broken by the gap.
        let n = self.slots.len();
        let mut j = hole;
        for _ in 0..n {
            j = if j + 1 == n { 0 } else { j + 1 };
            let slot = self.slots[j];
            if slot.player == EMPTY {
                break;
            }
            let home = self.home(slot.player);
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.slots[hole] = slot;
                hole = j;
            }
        }
        self.slots[hole].player = EMPTY;
        self.len -= 1;
        Some(value)
    }

    /// Rehashes every player into a table of `slots` slots.
    fn resize(&mut self, slots: usize) {
        let empty = Slot {
            player: EMPTY,
            value: V::default(),
        };
        let old = mem::replace(&mut self.slots, vec![empty; slots]);
        for slot in old.into_iter().filter(|s| s.player != EMPTY) {
            if let Probe::Vacant(i) = self.probe(slot.player) {
                self.slots[i] = slot;
            }
        }
    }
}

#[cfg(any(test, debug_assertions))]
impl<V: Copy + Default> PlayerIndex<V> {
    /// Number of slots (tests check when the table grows).
    #[cfg(test)]
    pub(super) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// O(n) check: the load bound holds, `len` counts the full slots, and every player is
    /// found from its home (no probe run is broken). Panics on a violation.
    pub(super) fn check_invariants(&self) {
        let full = self.slots.iter().filter(|s| s.player != EMPTY).count();
        assert_eq!(full, self.len, "index len != full slots");
        assert!(
            !over_loaded(self.len, self.slots.len()),
            "index over its load bound"
        );
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.player != EMPTY {
                assert!(
                    matches!(self.probe(slot.player), Probe::Found(at) if at == i),
                    "player {} not reachable from its home",
                    slot.player
                );
            }
        }
    }
}
