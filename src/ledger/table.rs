//! `IdTable`: a wallet's hash table keyed by a caller-supplied id (a transaction id,
//! a round id), built so that a bet hashes each id once and so that the table is
//! small.
//!
//! A bet looks its transaction id and its round id up while it is planned and
//! inserts them when it is applied. With an ordinary map that is four string hashes,
//! and every growth of the table hashes every key again. Here the planner computes
//! an [`IdHash`] once and hands it to the apply step, and each entry keeps its key's
//! hash, so growing the table hashes nothing.
//!
//! The entries live in a dense vector, in insertion order, and a hash index of `u32`
//! positions points into it (the layout of `indexmap`). A hash table keeps from an
//! eighth to more than half of its buckets empty; here an empty bucket costs five
//! bytes (a control byte and a position) instead of a whole entry (a transaction
//! entry is 176 bytes). The transaction tables are most of a ledger's memory, and
//! memory is most of what recovery costs, so this roughly halves both for them.
//!
//! Invariant: `index` holds each position `0..entries.len()` exactly once, filed
//! under `entries[position].hash`.
//!
//! Hashes come from one process-wide, randomly seeded hasher: callers choose the
//! ids, so they must not be able to aim collisions at a table.
//!
//! On the wire (snapshots) an `IdTable` is a plain serde map, the same bytes a
//! `HashMap` of the same entries writes (in insertion order).

use hashbrown::HashTable;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::sync::LazyLock;

static HASHER: LazyLock<foldhash::fast::RandomState> = LazyLock::new(Default::default);

/// The hash of an id under the process's table hasher. Only [`IdHash::of`] makes
/// one, so a table is never probed with a hash of some other thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdHash(u64);

impl IdHash {
    pub fn of<K: Hash + ?Sized>(key: &K) -> IdHash {
        IdHash(HASHER.hash_one(key))
    }
}

/// The log position of the change that last wrote an entry: what the hot window
/// evicts by (`IdTable::evict_through`). 0 for an entry read from a snapshot, whose
/// position is not kept; the ledger evicts those only once the whole snapshot is
/// archived (`Ledger::evict`).
pub type Stamp = u64;

#[derive(Clone)]
struct Slot<K, V> {
    /// `IdHash::of(&key)`, kept so that growing the index hashes nothing.
    hash: u64,
    stamp: Stamp,
    key: K,
    value: V,
}

/// A hash map from ids to values whose lookups and inserts take a precomputed hash.
pub struct IdTable<K, V> {
    /// Positions in `entries`, filed under their entry's hash.
    index: HashTable<u32>,
    entries: Vec<Slot<K, V>>,
    /// No entry has a stamp below this: an eviction through a lower position has
    /// nothing to do and costs one comparison.
    oldest_stamp: Stamp,
}

impl<K, V> Default for IdTable<K, V> {
    fn default() -> Self {
        IdTable {
            index: HashTable::new(),
            entries: Vec::new(),
            oldest_stamp: Stamp::MAX,
        }
    }
}

impl<K: Hash + Eq, V> IdTable<K, V> {
    fn with_capacity(n: usize) -> Self {
        IdTable {
            index: HashTable::with_capacity(n),
            entries: Vec::with_capacity(n),
            oldest_stamp: Stamp::MAX,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.get_hashed(IdHash::of(key), key)
    }

    pub fn get_hashed(&self, hash: IdHash, key: &K) -> Option<&V> {
        debug_assert_eq!(hash, IdHash::of(key), "hash of another key");
        let pos = self.position(hash, key)?;
        Some(&self.entries[pos].value)
    }

    pub fn get_mut_hashed(&mut self, hash: IdHash, key: &K) -> Option<&mut V> {
        debug_assert_eq!(hash, IdHash::of(key), "hash of another key");
        let pos = self.position(hash, key)?;
        Some(&mut self.entries[pos].value)
    }

    pub fn contains_hashed(&self, hash: IdHash, key: &K) -> bool {
        self.position(hash, key).is_some()
    }

    fn position(&self, hash: IdHash, key: &K) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(hash.0, |&i| entries[i as usize].key == *key)
            .map(|&i| i as usize)
    }

    /// Inserts or replaces, stamped `stamp`; returns the value replaced.
    pub fn insert(&mut self, key: K, value: V, stamp: Stamp) -> Option<V> {
        self.insert_hashed(IdHash::of(&key), key, value, stamp)
    }

    /// Inserts or replaces under a precomputed hash; returns the value replaced. A
    /// replaced entry takes the newer of the two stamps: replay over a fuzzy snapshot
    /// writes entries again with older positions than the live run did.
    pub fn insert_hashed(&mut self, hash: IdHash, key: K, value: V, stamp: Stamp) -> Option<V> {
        debug_assert_eq!(hash, IdHash::of(&key), "hash of another key");
        if let Some(pos) = self.position(hash, &key) {
            let slot = &mut self.entries[pos];
            slot.stamp = slot.stamp.max(stamp);
            return Some(std::mem::replace(&mut slot.value, value));
        }
        self.push(hash, key, value, stamp);
        None
    }

    /// Inserts a key the caller has just looked up under the same lock and not
    /// found: one probe for a free bucket, no comparison of keys.
    pub fn insert_new_hashed(&mut self, hash: IdHash, key: K, value: V, stamp: Stamp) {
        debug_assert!(!self.contains_hashed(hash, &key), "the key is already in");
        debug_assert_eq!(hash, IdHash::of(&key), "hash of another key");
        self.push(hash, key, value, stamp);
    }

    /// Sets the stamp of `key`'s entry to at least `stamp` (a change that rewrote
    /// part of the value in place).
    pub fn touch_hashed(&mut self, hash: IdHash, key: &K, stamp: Stamp) {
        if let Some(pos) = self.position(hash, key) {
            let slot = &mut self.entries[pos];
            slot.stamp = slot.stamp.max(stamp);
        }
    }

    /// Removes every entry stamped `cut` or lower for which `evictable` says yes, and
    /// returns how many. O(1) when no entry is that old; otherwise one pass over the
    /// entries and a rebuild of the index (amortised: the caller evicts a window's
    /// worth at a time, not one entry).
    pub fn evict_through(&mut self, cut: Stamp, evictable: impl Fn(&V) -> bool) -> usize {
        if self.oldest_stamp > cut {
            return 0;
        }
        let before = self.entries.len();
        self.entries
            .retain(|s| s.stamp > cut || !evictable(&s.value));
        let removed = before - self.entries.len();
        self.oldest_stamp = self
            .entries
            .iter()
            .map(|s| s.stamp)
            .min()
            .unwrap_or(Stamp::MAX);
        if removed > 0 {
            self.entries
                .shrink_to(self.entries.len() + self.entries.len() / 4);
            let mut index = HashTable::with_capacity(self.entries.len());
            for (pos, s) in self.entries.iter().enumerate() {
                // The table held more entries than this before: each fits in a u32.
                index.insert_unique(s.hash, pos as u32, |&i| self.entries[i as usize].hash);
            }
            self.index = index;
        }
        removed
    }

    /// Appends an entry whose key is not in the table and files its position.
    fn push(&mut self, hash: IdHash, key: K, value: V, stamp: Stamp) {
        self.oldest_stamp = self.oldest_stamp.min(stamp);
        // A wallet would need hundreds of gigabytes of entries to overflow this.
        #[allow(clippy::expect_used)]
        let pos = u32::try_from(self.entries.len()).expect("fewer than 2^32 entries in one table");
        let entries = &self.entries;
        self.index
            .insert_unique(hash.0, pos, |&i| entries[i as usize].hash);
        if self.entries.len() == self.entries.capacity() {
            // Grow in step with the index (which has just grown, or will next time):
            // one reallocation per growth of the table, as a plain hash table has.
            let room = self.index.capacity().max(self.entries.len() + 1) - self.entries.len();
            self.entries.reserve_exact(room);
        }
        self.entries.push(Slot {
            hash: hash.0,
            stamp,
            key,
            value,
        });
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.remove_hashed(IdHash::of(key), key)
    }

    /// Removes `key`; the last entry moves into its place (so the order of the
    /// remaining entries changes, which a map does not promise anyway).
    pub fn remove_hashed(&mut self, hash: IdHash, key: &K) -> Option<V> {
        debug_assert_eq!(hash, IdHash::of(key), "hash of another key");
        let entries = &self.entries;
        let found = self
            .index
            .find_entry(hash.0, |&i| entries[i as usize].key == *key)
            .ok()?;
        let pos = found.remove().0 as usize;
        let last = self.entries.len() - 1;
        if pos != last {
            // Refile the last entry under its new position.
            let moved = self.entries[last].hash;
            let filed = self.index.find_mut(moved, |&i| i as usize == last);
            debug_assert!(filed.is_some(), "the last entry is not in the index");
            if let Some(i) = filed {
                *i = pos as u32;
            }
        }
        Some(self.entries.swap_remove(pos).value)
    }

    /// The entries, in insertion order (until a removal moves one).
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|s| (&s.key, &s.value))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|s| &s.value)
    }

    pub fn into_entries(self) -> impl Iterator<Item = (K, V)> {
        self.entries.into_iter().map(|s| (s.key, s.value))
    }
}

impl<K: Clone, V: Clone> Clone for IdTable<K, V> {
    fn clone(&self) -> Self {
        IdTable {
            index: self.index.clone(),
            entries: self.entries.clone(),
            oldest_stamp: self.oldest_stamp,
        }
    }
}

/// Equal when they hold the same entries, whatever the order.
impl<K: Hash + Eq, V: PartialEq> PartialEq for IdTable<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .entries
                .iter()
                .all(|s| other.get_hashed(IdHash(s.hash), &s.key) == Some(&s.value))
    }
}

impl<K: Hash + Eq, V: Eq> Eq for IdTable<K, V> {}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for IdTable<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|s| (&s.key, &s.value)))
            .finish()
    }
}

impl<K: Serialize, V: Serialize> Serialize for IdTable<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for s in &self.entries {
            map.serialize_entry(&s.key, &s.value)?;
        }
        map.end()
    }
}

impl<'de, K, V> Deserialize<'de> for IdTable<K, V>
where
    K: Deserialize<'de> + Hash + Eq,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TableVisitor<K, V>(PhantomData<(K, V)>);

        impl<'de, K, V> Visitor<'de> for TableVisitor<K, V>
        where
            K: Deserialize<'de> + Hash + Eq,
            V: Deserialize<'de>,
        {
            type Value = IdTable<K, V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of ids")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                // The length comes from the input: cap what is reserved up front.
                let hint = access.size_hint().unwrap_or(0).min(4096);
                let mut table = IdTable::with_capacity(hint);
                // Snapshots keep no stamps: 0, "as old as the snapshot".
                while let Some((key, value)) = access.next_entry()? {
                    table.insert(key, value, 0);
                }
                Ok(table)
            }
        }

        deserializer.deserialize_map(TableVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Behaves as a `HashMap` under any sequence of inserts and removes, and
        /// round-trips through postcard as the same bytes a `HashMap` would write.
        #[test]
        fn behaves_as_a_map(ops in proptest::collection::vec((any::<bool>(), 0u8..40, any::<u32>()), 0..300)) {
            let mut table = IdTable::<String, u32>::default();
            let mut model = HashMap::<String, u32>::new();
            for (insert, k, v) in ops {
                let key = format!("id-{k}");
                if insert {
                    prop_assert_eq!(table.insert(key.clone(), v, 1), model.insert(key, v));
                } else {
                    prop_assert_eq!(table.remove(&key), model.remove(&key));
                }
                prop_assert_eq!(table.len(), model.len());
                prop_assert_eq!(table.index.len(), table.entries.len());
                for (pos, s) in table.entries.iter().enumerate() {
                    prop_assert_eq!(table.position(IdHash(s.hash), &s.key), Some(pos));
                }
            }
            for (k, v) in &model {
                prop_assert_eq!(table.get(k), Some(v));
            }
            let bytes = postcard::to_allocvec(&table).expect("encode");
            let back: IdTable<String, u32> = postcard::from_bytes(&bytes).expect("decode");
            prop_assert!(back == table);
            let as_map: HashMap<String, u32> = postcard::from_bytes(&bytes).expect("decode as map");
            prop_assert_eq!(as_map, model);
            prop_assert!(table.clone() == table);
        }
    }
}
