//! Replay protection: each client's nonces, remembered for as long as the request's
//! timestamp stays acceptable, in bounded memory.
//!
//! A nonce is remembered at least until `timestamp + window` (after that a replay
//! fails the timestamp check anyway), then evicted with its expiry bucket. Memory is capped per client and in total;
//! when a cap is reached the request is refused rather than an unexpired nonce
//! forgotten, since forgetting one would re-open a replay.
//!
//! Nonces are kept as 64-bit keyed hashes (8 bytes each, not up to 64): two distinct
//! nonces of one client collide with probability about n / 2^64, a false "reused".

use crate::ids::ClientId;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasher;

/// Bounds of the nonce memory.
#[derive(Clone, Copy, Debug)]
pub struct NonceLimits {
    /// How far a timestamp may be from the server's clock, seconds (Publisher Manual §1.4).
    pub window_secs: i64,
    /// Most nonces remembered for one client.
    pub per_client_max: usize,
    /// Most nonces remembered in total.
    pub global_max: usize,
}

impl Default for NonceLimits {
    /// A fresh request's nonce is kept about 300 s (up to 360 with bucketing), so
    /// 16 Mi nonces let one client sustain ~45,000 signed requests/s; 32 Mi in total
    /// bound the memory to roughly 1 GiB in the worst case.
    fn default() -> Self {
        NonceLimits {
            window_secs: 300,
            per_client_max: 1 << 24,
            global_max: 1 << 25,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceError {
    Reused,
    /// The cap was reached by unexpired nonces.
    Full,
}

/// Expiries are grouped into buckets of this many seconds: eviction drops whole
/// buckets (no per-nonce work), and no single set grows large enough for a rehash
/// to stall the lock for long. A client has at most `2 × window / BUCKET_SECS + 2`.
const BUCKET_SECS: i64 = 60;

#[derive(Default)]
struct ClientNonces {
    /// Expiry bucket (expiry / BUCKET_SECS) → nonce hashes expiring in it.
    buckets: BTreeMap<i64, HashSet<u64, foldhash::fast::RandomState>>,
    len: usize,
}

impl ClientNonces {
    /// Forgets the buckets whose every nonce has expired at `now`; returns how many
    /// nonces that forgot.
    fn evict(&mut self, now: i64) -> usize {
        let mut evicted = 0;
        while let Some(entry) = self.buckets.first_entry() {
            let bucket_end = entry.key().saturating_mul(BUCKET_SECS) + (BUCKET_SECS - 1);
            if bucket_end >= now {
                break;
            }
            evicted += entry.remove().len();
        }
        self.len -= evicted;
        evicted
    }

    fn contains(&self, hash: u64) -> bool {
        self.buckets.values().any(|set| set.contains(&hash))
    }

    fn insert(&mut self, hash: u64, expiry: i64) {
        let bucket = expiry.div_euclid(BUCKET_SECS);
        if self.buckets.entry(bucket).or_default().insert(hash) {
            self.len += 1;
        }
    }
}

struct Inner {
    clients: HashMap<ClientId, ClientNonces, foldhash::fast::RandomState>,
    total: usize,
}

/// The nonces of every client. One short critical section per request; never held
/// across an await.
pub struct NonceCache {
    limits: NonceLimits,
    hasher: foldhash::fast::RandomState,
    inner: Mutex<Inner>,
}

impl NonceCache {
    pub fn new(limits: NonceLimits) -> NonceCache {
        NonceCache {
            limits,
            hasher: foldhash::fast::RandomState::default(),
            inner: Mutex::new(Inner {
                clients: HashMap::default(),
                total: 0,
            }),
        }
    }

    pub fn limits(&self) -> &NonceLimits {
        &self.limits
    }

    /// Records `nonce` of a request with timestamp `ts` (already checked to be in the
    /// window), or refuses it as reused or for lack of room.
    pub fn check_and_insert(
        &self,
        client: &ClientId,
        nonce: &str,
        ts: i64,
        now: i64,
    ) -> Result<(), NonceError> {
        let hash = self.hasher.hash_one(nonce);
        let expiry = ts.saturating_add(self.limits.window_secs);
        let mut guard = self.inner.lock();
        if guard.total >= self.limits.global_max {
            sweep(&mut guard, now);
        }
        let Inner { clients, total } = &mut *guard;
        let entry = clients.entry(client.clone()).or_default();
        let evicted = entry.evict(now);
        debug_assert!(evicted <= *total);
        *total = total.saturating_sub(evicted);
        let outcome = if entry.contains(hash) {
            Err(NonceError::Reused)
        } else if *total >= self.limits.global_max || entry.len >= self.limits.per_client_max {
            Err(NonceError::Full)
        } else {
            entry.insert(hash, expiry);
            *total += 1;
            Ok(())
        };
        if entry.len == 0 {
            clients.remove(client);
        }
        outcome
    }

    /// Forgets every expired nonce (the server calls it periodically).
    pub fn sweep(&self, now: i64) {
        sweep(&mut self.inner.lock(), now);
    }

    /// How many nonces are remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().total
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn sweep(inner: &mut Inner, now: i64) {
    let mut evicted = 0;
    inner.clients.retain(|_, c| {
        evicted += c.evict(now);
        c.len > 0
    });
    debug_assert!(evicted <= inner.total);
    inner.total = inner.total.saturating_sub(evicted);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(per_client_max: usize, global_max: usize) -> NonceCache {
        NonceCache::new(NonceLimits {
            window_secs: 300,
            per_client_max,
            global_max,
        })
    }

    #[test]
    fn a_nonce_is_refused_until_its_timestamp_expires() {
        let c = cache(10, 10);
        let a = ClientId::new("a").expect("client");
        let b = ClientId::new("b").expect("client");
        assert_eq!(c.check_and_insert(&a, "n1", 1000, 1000), Ok(()));
        assert_eq!(
            c.check_and_insert(&a, "n1", 1000, 1200),
            Err(NonceError::Reused)
        );
        assert_eq!(
            c.check_and_insert(&b, "n1", 1000, 1000),
            Ok(()),
            "per client"
        );
        assert_eq!(
            c.check_and_insert(&a, "n1", 1301, 1301),
            Err(NonceError::Reused),
            "kept until its expiry bucket ends"
        );
        assert_eq!(
            c.check_and_insert(&a, "n1", 1320, 1320),
            Ok(()),
            "expired, forgotten"
        );
        assert_eq!(c.len(), 2);
        c.sweep(10_000);
        assert!(c.is_empty());
    }

    #[test]
    fn caps_refuse_rather_than_forget() {
        let c = cache(2, 3);
        let a = ClientId::new("a").expect("client");
        let b = ClientId::new("b").expect("client");
        assert_eq!(c.check_and_insert(&a, "1", 0, 0), Ok(()));
        assert_eq!(c.check_and_insert(&a, "2", 0, 0), Ok(()));
        assert_eq!(c.check_and_insert(&a, "3", 0, 0), Err(NonceError::Full));
        assert_eq!(c.check_and_insert(&a, "1", 0, 0), Err(NonceError::Reused));
        assert_eq!(c.check_and_insert(&b, "1", 0, 0), Ok(()));
        assert_eq!(
            c.check_and_insert(&b, "2", 0, 0),
            Err(NonceError::Full),
            "global cap"
        );
        // Once the first ones expire there is room again.
        assert_eq!(c.check_and_insert(&b, "2", 420, 420), Ok(()));
        assert_eq!(c.len(), 1);
    }
}
