//! Replay protection: each client's nonces, remembered for as long as the request's
//! timestamp stays acceptable, in bounded memory.
//!
//! A nonce is remembered until `timestamp + window` (after that a replay fails the
//! timestamp check anyway), then evicted. Memory is capped per client and in total;
//! when a cap is reached the request is refused rather than an unexpired nonce
//! forgotten, since forgetting one would re-open a replay.
//!
//! Nonces are kept as 64-bit keyed hashes (8 bytes each, not up to 64): two distinct
//! nonces of one client collide with probability about n / 2^64, a false "reused".

use crate::ids::ClientId;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Bounds of the nonce memory.
#[derive(Clone, Copy, Debug)]
pub struct NonceLimits {
    /// How far a timestamp may be from the server's clock, seconds (seed 000 §1.4).
    pub window_secs: i64,
    /// Most nonces remembered for one client.
    pub per_client_max: usize,
    /// Most nonces remembered in total.
    pub global_max: usize,
}

impl Default for NonceLimits {
    /// 1 Mi nonces per client: ~3,400 requests/s sustained over the 600 s a nonce
    /// can live; 4 Mi in total (~100 MiB at most).
    fn default() -> Self {
        NonceLimits {
            window_secs: 300,
            per_client_max: 1 << 20,
            global_max: 1 << 22,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceError {
    Reused,
    /// The cap was reached by unexpired nonces.
    Full,
}

#[derive(Default)]
struct ClientNonces {
    seen: HashSet<u64, ahash::RandomState>,
    /// Expiry (Unix seconds) → the nonces that expire then.
    by_expiry: BTreeMap<i64, Vec<u64>>,
}

impl ClientNonces {
    /// Forgets nonces whose expiry is before `now`; returns how many.
    fn evict(&mut self, now: i64) -> usize {
        let live = self.by_expiry.split_off(&now);
        let expired = std::mem::replace(&mut self.by_expiry, live);
        let mut n = 0;
        for hash in expired.into_values().flatten() {
            self.seen.remove(&hash);
            n += 1;
        }
        n
    }
}

struct Inner {
    clients: HashMap<ClientId, ClientNonces, ahash::RandomState>,
    total: usize,
}

/// The nonces of every client. One short critical section per request; never held
/// across an await.
pub struct NonceCache {
    limits: NonceLimits,
    hasher: ahash::RandomState,
    inner: Mutex<Inner>,
}

impl NonceCache {
    pub fn new(limits: NonceLimits) -> NonceCache {
        NonceCache {
            limits,
            hasher: ahash::RandomState::new(),
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
        let outcome = if entry.seen.contains(&hash) {
            Err(NonceError::Reused)
        } else if *total >= self.limits.global_max || entry.seen.len() >= self.limits.per_client_max
        {
            Err(NonceError::Full)
        } else {
            entry.seen.insert(hash);
            entry.by_expiry.entry(expiry).or_default().push(hash);
            *total += 1;
            Ok(())
        };
        if entry.seen.is_empty() {
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
        !c.seen.is_empty()
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
        assert_eq!(c.check_and_insert(&b, "2", 400, 400), Ok(()));
        assert_eq!(c.len(), 1);
    }
}
