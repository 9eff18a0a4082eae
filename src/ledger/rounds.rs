//! `Rounds`: every round one wallet has seen, open and closed, in one table.
//!
//! A bet must know whether its round is open, closed or new, and a closing win turns
//! an open round into a closed one. With one table each is a single probe: a new
//! round is one lookup (not one in the open rounds and one in the closed ones), and a
//! round closes in place (not a remove from one table and an insert into another).
//!
//! Sweeps (expiry, incomplete games, the `held` invariant) need the open rounds
//! without walking every closed round a wallet ever had, so the ids of the open ones
//! are also kept in a short list (at most `MAX_OPEN_ROUNDS`).
//!
//! Invariant: `open_ids` holds exactly the ids whose entry is `Open`, each once.
//!
//! On the wire (snapshots) `Rounds` is two maps in a row, the open rounds then the
//! closed ones: the same bytes the two separate tables it replaced wrote.

use super::round::{BetLeg, ClosedRound, Round};
use super::table::{IdHash, IdTable, Stamp};
use crate::ids::RoundId;
use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeTuple, Serializer};
use std::fmt;

/// A round as its wallet remembers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoundEntry {
    /// In progress (2) or incomplete (3, 4). Boxed: a round is moved in and out
    /// whole, and small slots move fast when the table grows.
    Open(Box<Round>),
    /// Closed: enough to refuse late bets, wins and refunds.
    Closed(ClosedRound),
}

#[derive(Clone, Debug, Default)]
pub struct Rounds {
    table: IdTable<RoundId, RoundEntry>,
    open_ids: Vec<RoundId>,
}

impl Rounds {
    pub fn get_hashed(&self, hash: IdHash, id: &RoundId) -> Option<&RoundEntry> {
        self.table.get_hashed(hash, id)
    }

    pub fn get(&self, id: &RoundId) -> Option<&RoundEntry> {
        self.table.get(id)
    }

    /// The open round `id`, if it is one.
    pub fn open(&self, id: &RoundId) -> Option<&Round> {
        match self.table.get(id) {
            Some(RoundEntry::Open(r)) => Some(r),
            _ => None,
        }
    }

    pub fn open_count(&self) -> usize {
        self.open_ids.len()
    }

    pub fn has_open(&self) -> bool {
        !self.open_ids.is_empty()
    }

    /// The open rounds, in no particular order.
    pub fn open_rounds(&self) -> impl Iterator<Item = &Round> {
        self.open_ids.iter().filter_map(|id| self.open(id))
    }

    /// The closed rounds, in no particular order.
    pub fn closed_rounds(&self) -> impl Iterator<Item = (&RoundId, &ClosedRound)> {
        self.table.iter().filter_map(|(id, e)| match e {
            RoundEntry::Closed(c) => Some((id, c)),
            RoundEntry::Open(_) => None,
        })
    }

    /// Sets `round` as open, whatever the id held before (replay over a fuzzy
    /// snapshot may reopen a round that a later effect closes again).
    pub(crate) fn upsert(&mut self, hash: IdHash, round: Box<Round>, stamp: Stamp) {
        let id = round.id.clone();
        match self
            .table
            .insert_hashed(hash, id.clone(), RoundEntry::Open(round), stamp)
        {
            Some(RoundEntry::Open(_)) => {}
            None | Some(RoundEntry::Closed(_)) => self.open_ids.push(id),
        }
    }

    /// Opens a round whose id the caller has just looked up under the same lock and
    /// not found.
    pub(crate) fn insert_new(&mut self, hash: IdHash, round: Box<Round>, stamp: Stamp) {
        let id = round.id.clone();
        self.open_ids.push(round.id.clone());
        self.table
            .insert_new_hashed(hash, id, RoundEntry::Open(round), stamp);
    }

    /// Adds bet `leg` to open round `id`. Replay over a fuzzy snapshot may find the
    /// round holding the leg already, or closed already: the snapshot then holds the
    /// effects that did that, and the round is left as it is. The round exists: the
    /// planner found it open, and replay refuses a bet on a round it does not hold.
    pub(crate) fn add_bet(&mut self, hash: IdHash, id: &RoundId, leg: BetLeg, stamp: Stamp) {
        let entry = self.table.get_mut_hashed(hash, id);
        debug_assert!(
            entry.is_some(),
            "a bet on round {id}, which was never opened"
        );
        if let Some(RoundEntry::Open(round)) = entry {
            if !round.bets.iter().any(|b| b.tx == leg.tx) {
                round.bets.push(leg);
            }
        }
        self.table.touch_hashed(hash, id, stamp);
    }

    /// Sets round `id` as closed, whatever it held before.
    pub(crate) fn close(&mut self, hash: IdHash, id: RoundId, closed: ClosedRound, stamp: Stamp) {
        let key = id.clone();
        if let Some(RoundEntry::Open(_)) =
            self.table
                .insert_hashed(hash, key, RoundEntry::Closed(closed), stamp)
        {
            if let Some(at) = self.open_ids.iter().position(|o| *o == id) {
                self.open_ids.swap_remove(at);
            }
        }
    }

    /// Puts back a closed round read from the history store (the id was not in the
    /// table), stamped with the position it was archived through, so that the next
    /// eviction takes it out again.
    pub(crate) fn restore_closed(&mut self, id: RoundId, closed: ClosedRound, stamp: Stamp) {
        if self.table.get(&id).is_none() {
            self.table.insert(id, RoundEntry::Closed(closed), stamp);
        }
    }

    /// Forgets the closed rounds stamped `cut` or lower (open rounds stay whatever
    /// their age: they hold money). Returns how many.
    pub(crate) fn evict_through(&mut self, cut: Stamp) -> usize {
        self.table
            .evict_through(cut, |e| matches!(e, RoundEntry::Closed(_)))
    }

    /// How many rounds the table holds, open and closed.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// O(rounds); for `Wallet::check`.
    pub fn open_ids_consistent(&self) -> bool {
        let open_in_table = self
            .table
            .values()
            .filter(|e| matches!(e, RoundEntry::Open(_)))
            .count();
        open_in_table == self.open_ids.len()
            && self.open_ids.iter().all(|id| self.open(id).is_some())
    }
}

/// Equal when they hold the same rounds; the order of `open_ids` is not state.
impl PartialEq for Rounds {
    fn eq(&self, other: &Self) -> bool {
        self.table == other.table
    }
}

impl Eq for Rounds {}

/// The open rounds as a map, for the wire.
struct OpenView<'a>(&'a Rounds);

impl Serialize for OpenView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.open_ids.len()))?;
        for r in self.0.open_rounds() {
            map.serialize_entry(&r.id, r)?;
        }
        map.end()
    }
}

/// The closed rounds as a map, for the wire.
struct ClosedView<'a>(&'a Rounds);

impl Serialize for ClosedView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let closed = self.0.table.len() - self.0.open_ids.len();
        let mut map = serializer.serialize_map(Some(closed))?;
        for (id, c) in self.0.closed_rounds() {
            map.serialize_entry(id, c)?;
        }
        map.end()
    }
}

impl Serialize for Rounds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut t = serializer.serialize_tuple(2)?;
        t.serialize_element(&OpenView(self))?;
        t.serialize_element(&ClosedView(self))?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for Rounds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RoundsVisitor;

        impl<'de> Visitor<'de> for RoundsVisitor {
            type Value = Rounds;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the open rounds, then the closed rounds")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Rounds, A::Error> {
                use serde::de::Error;
                let open: IdTable<RoundId, Box<Round>> = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let closed: IdTable<RoundId, ClosedRound> = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                let mut rounds = Rounds::default();
                for (id, c) in closed.into_entries() {
                    rounds.close(IdHash::of(&id), id, c, 0);
                }
                for (id, r) in open.into_entries() {
                    if rounds.get(&id).is_some() {
                        return Err(A::Error::custom(format!("round {id} is open and closed")));
                    }
                    rounds.upsert(IdHash::of(&id), r, 0);
                }
                Ok(rounds)
            }
        }

        deserializer.deserialize_tuple(2, RoundsVisitor)
    }
}
