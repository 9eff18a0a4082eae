//! Time as an injected dependency: the domain never reads the system clock itself.
//!
//! Production uses [`SystemClock`]; tests drive a [`ManualClock`] so that round
//! time-outs, tournament status and nonce windows are deterministic.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time in Unix milliseconds.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;

    fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            // Seconds and sub-second millis, not `as_millis()`: its u128 division
            // would cost more than the rest of a bet's bookkeeping of time.
            Ok(d) => i64::try_from(d.as_secs())
                .ok()
                .and_then(|s| s.checked_mul(1000))
                .and_then(|ms| ms.checked_add(i64::from(d.subsec_millis())))
                .unwrap_or(i64::MAX),
            // A clock set before 1970 is a misconfigured host; report the epoch
            // rather than a negative time that would confuse every comparison.
            Err(_) => 0,
        }
    }
}

/// A clock that only moves when told to. Shared between a test and the engine.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    pub fn new(now_ms: i64) -> ManualClock {
        ManualClock {
            now_ms: AtomicI64::new(now_ms),
        }
    }

    pub fn set_ms(&self, now_ms: i64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }

    pub fn advance_ms(&self, delta_ms: i64) {
        self.now_ms.fetch_add(delta_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}
