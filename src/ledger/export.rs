//! The ledger's side of snapshots: export its state one shard (one record stripe) at
//! a time, each under a short lock, and import it back.
//!
//! Snapshots are *fuzzy*: shards are copied at different moments while writes go on.
//! That is correct because every effect is appended under the lock of what it changes
//! and effects are idempotent: the caller reads the log position P before exporting,
//! every effect at or below P is in the state by the time its shard is copied, and
//! recovery replays everything after P again.

use super::effect::LedgerEffect;
use super::records::GameRecord;
use super::wallet::Wallet;
use super::Ledger;
use crate::journal::Journal;
use std::sync::atomic::Ordering;

/// The ledger's id counters: where new wallets and records continue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub next_wallet: u64,
    pub next_record: u64,
}

impl<J: Journal<LedgerEffect>> Ledger<J> {
    pub fn counters(&self) -> Counters {
        Counters {
            next_wallet: self.next_wallet.load(Ordering::Relaxed),
            next_record: self.next_record.load(Ordering::Relaxed),
        }
    }

    /// Raises the counters to at least `c` (recovery may also have raised them).
    pub fn restore_counters(&self, c: Counters) {
        self.next_wallet.fetch_max(c.next_wallet, Ordering::Relaxed);
        self.next_record.fetch_max(c.next_record, Ordering::Relaxed);
    }

    /// Calls `f` with a copy of each shard's wallets. The shard is locked only while
    /// it is copied; `f` runs (and may write to disk) without any lock held.
    pub fn export_wallets<E>(
        &self,
        mut f: impl FnMut(Vec<Wallet>) -> Result<(), E>,
    ) -> Result<(), E> {
        for shard in self.shards.iter() {
            let copy: Vec<Wallet> = shard
                .lock()
                .wallets
                .values()
                .map(|w| (**w).clone())
                .collect();
            if !copy.is_empty() {
                f(copy)?;
            }
        }
        Ok(())
    }

    /// Calls `f` with every record, a few thousand at a time (short copies under
    /// each stripe's read lock; `f` runs with no lock held).
    pub fn export_records<E>(
        &self,
        f: impl FnMut(Vec<GameRecord>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.records.export(f)
    }

    /// Puts wallets (from a snapshot) in place, with their directory entries.
    pub fn import_wallets(&self, wallets: Vec<Wallet>) {
        for w in wallets {
            let id = w.id;
            self.directory(&w.key).lock().insert(w.key.clone(), id);
            self.next_wallet.fetch_max(id.0 + 1, Ordering::Relaxed);
            let mut shard = self.shard(id).lock();
            if w.rounds.has_open() {
                shard.unclosed.insert(id);
            }
            if super::holds_history(&w) {
                shard.holding.insert(id);
            }
            shard.wallets.insert(id, Box::new(w));
        }
    }

    pub fn import_records(&self, records: Vec<GameRecord>) {
        for r in &records {
            self.next_record.fetch_max(r.id.0 + 1, Ordering::Relaxed);
            // Snapshots keep no stamps (see `table::Stamp`).
            self.records.insert(r, 0);
        }
    }
}
