//! What an operator of the platform watches: whether the log still accepts writes and
//! the history store still answers (`/health`), and the engine's gauges (`/metrics`):
//! wallets, rounds not closed, backlogs of outbound calls, how far the log has got,
//! how old the last snapshot is, how far the history archiver lags.

use super::Engine;
use crate::journal::Lsn;
use crate::storage::SyncObserver;
use crate::webhooks::Backlog;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The engine's gauges at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStatus {
    /// Why the log failed closed, once it has: nothing more is accepted.
    pub failure: Option<String>,
    pub appended_lsn: Lsn,
    pub durable_lsn: Lsn,
    /// Wallets ever opened.
    pub wallets: u64,
    /// Rounds in progress (status 2) and incomplete (status 3 or 4), every channel.
    pub open_rounds: u64,
    pub incomplete_games: u64,
    /// Calls to seamless operators' wallets not yet final, and of those the ones
    /// that failed at least once.
    pub seamless_unfinished: usize,
    pub seamless_retrying: usize,
    pub webhooks: Backlog,
    /// Since this process last wrote a snapshot, or loaded one at start-up (`None`:
    /// an in-memory engine, or none yet).
    pub snapshot_age: Option<Duration>,
    /// The history store (`None` without one).
    pub history: Option<HistoryStatus>,
}

/// The history archiver's gauges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistoryStatus {
    /// The log position the store is durable through.
    pub archived_lsn: Lsn,
    /// Durable log records not yet archived: what a slow archiver falls behind by.
    pub lag_records: u64,
    /// Transaction entries and game records that left memory since start-up.
    pub evicted_transactions: u64,
    pub evicted_records: u64,
    /// The store's size on disk.
    pub disk_bytes: u64,
    /// The store's memtables (bounded by its write buffer unless flushes fall
    /// behind) and its journal files.
    pub memtable_bytes: u64,
    pub journals: usize,
}

impl Engine {
    /// `Ok(durable position)` while the log accepts writes; the failure once it has
    /// failed closed. Cheap: for a health check.
    pub fn health(&self) -> Result<Lsn, String> {
        let durable = match self.log.wal() {
            Some(wal) => match wal.failure() {
                Some(e) => return Err(e.to_string()),
                None => wal.durable_lsn(),
            },
            None => Lsn(0),
        };
        if let Some(archiver) = &self.archiver {
            let started = archiver.gauges.pass_started_ms.load(Ordering::Acquire);
            let limit = self.config.history.stuck_after;
            let running_ms = self.clock.now_ms().saturating_sub(started);
            if started != super::archiver::IDLE && running_ms as u128 > limit.as_millis() {
                return Err(format!(
                    "history store: an archiver pass has run for {} s (it does not answer)",
                    running_ms / 1000
                ));
            }
        }
        Ok(durable)
    }

    /// The engine's gauges. Costs a visit to every wallet with a round not closed.
    pub fn status(&self) -> EngineStatus {
        let (open_rounds, incomplete_games) = self.domains.ledger.unclosed_round_counts();
        EngineStatus {
            failure: self.health().err(),
            appended_lsn: self.log.appended(),
            durable_lsn: self.log.wal().map_or(Lsn(0), |w| w.durable_lsn()),
            wallets: self.domains.ledger.counters().next_wallet.saturating_sub(1),
            open_rounds,
            incomplete_games,
            seamless_unfinished: self.seamless_calls_unfinished(),
            seamless_retrying: self.domains.seamless.retrying(),
            webhooks: self.webhook_backlog(),
            snapshot_age: self.log.snapshot_age(),
            history: self.history_status(),
        }
    }

    /// Durable log records not yet archived (`None` without a history store): what
    /// admission bounds (`HistoryConfig::max_lag_records`). Two atomic loads.
    pub fn archiver_lag(&self) -> Option<u64> {
        let archived = self.archiver.as_ref()?.store.archived();
        let durable = self.log.wal().map_or(Lsn(0), |w| w.durable_lsn());
        Some(durable.0.saturating_sub(archived.0))
    }

    /// The history archiver's gauges (`None` without a history store).
    pub fn history_status(&self) -> Option<HistoryStatus> {
        let archiver = self.archiver.as_ref()?;
        let g = &archiver.gauges;
        let (memtable_bytes, journals) = archiver.store.write_buffer();
        Some(HistoryStatus {
            archived_lsn: archiver.store.archived(),
            lag_records: self.archiver_lag()?,
            evicted_transactions: g.evicted_transactions.load(Ordering::Relaxed),
            evicted_records: g.evicted_records.load(Ordering::Relaxed),
            disk_bytes: archiver.store.disk_bytes(),
            memtable_bytes,
            journals,
        })
    }

    /// Tells `observer` of every batch the log makes durable (its size, its fsync
    /// time). Nothing for an in-memory engine.
    pub fn observe_log(&self, observer: Arc<dyn SyncObserver>) {
        if let Some(wal) = self.log.wal() {
            wal.observe(observer);
        }
    }
}
