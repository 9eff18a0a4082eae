//! The history archiver: keeps memory to the hot window by moving history to the
//! history store (`crate::history`), derived from the log, off the hot path.
//!
//! One pass ([`pass`]):
//! 1. reads the durable log records after the store's archived position (at most
//!    `MAX_PASS_RECORDS`), from the segment files (`Wal::read_durable`);
//! 2. turns each ledger effect into what it leaves to history
//!    (`ledger::archive::items_of`: transaction entries, tombstones, closed rounds,
//!    game records), staged as it reads (`HistoryStore::stage`, `Staged::add`),
//!    and commits them with the new position as one durable batch;
//! 3. moves the log's hold (`Wal::hold_after`): a segment is deleted only once both
//!    the snapshots and the archive are past it;
//! 4. evicts from memory what is both archived and older than the hot window
//!    (`Ledger::evict`): the cut is the archived position as it was one window ago
//!    (kept in `CutClock`), so everything at or below it was logged at least a
//!    window ago and is in the store.
//!
//! A failure of the history store (or an unreadable log record) fails the log
//! closed (`Wal::fail`), as a failed fsync does: the engine stops acknowledging
//! rather than carry on with history it cannot keep. Restart recovers.
//!
//! Recovery runs [`catch_up`] once replay has rebuilt the hot state: the store
//! reaches the log's end before the engine takes its first call.

use super::domains::Domains;
use super::log::{decode, is_ledger_effect, Effect, EngineLog};
use super::ticker::{Next, Ticker};
use super::EngineError;
use crate::clock::Clock;
use crate::history::HistoryStore;
use crate::journal::Lsn;
use crate::ledger::archive::items_of;
use crate::storage::{LogCursor, StorageError, Wal};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Most log records one pass archives: bounds the pass's memory (its items) and
/// the size of one store batch. A backlog is archived over several passes, run
/// back to back (the background thread does not wait for its tick after a full
/// pass).
pub const MAX_PASS_RECORDS: u64 = 50_000;

/// Most samples `CutClock` keeps (one per pass): a two-hour window of passes at one
/// a second would be 7,200. Past it every other sample goes: the samples still span
/// the whole window, at half the resolution, and a coarser clock only makes the cut
/// a little later (never earlier: what is evicted is always archived and old).
const MAX_SAMPLES: usize = 4096;

/// Expiry batches purged per pass: retention catches up in steps.
const PURGE_BATCHES_PER_PASS: usize = 16;

/// The archived position over time, to find the position that was archived one
/// hot window ago.
#[derive(Debug, Default)]
pub(crate) struct CutClock {
    /// (time ms, archived position), oldest first.
    samples: VecDeque<(i64, Lsn)>,
}

impl CutClock {
    pub(crate) fn record(&mut self, now_ms: i64, archived: Lsn) {
        self.samples.push_back((now_ms, archived));
        if self.samples.len() > MAX_SAMPLES {
            // Keep the even positions and the newest.
            let newest = self.samples.len() - 1;
            let mut at = 0;
            self.samples.retain(|_| {
                let keep = at % 2 == 0 || at == newest;
                at += 1;
                keep
            });
        }
    }

    /// The newest archived position sampled at or before `now_ms - window_ms`
    /// (`None` until a window has passed). Samples older than it are dropped.
    pub(crate) fn cut(&mut self, now_ms: i64, window_ms: i64) -> Option<Lsn> {
        let limit = now_ms.saturating_sub(window_ms);
        let newest_old = self.samples.iter().rposition(|(t, _)| *t <= limit)?;
        self.samples.drain(..newest_old);
        self.samples.front().map(|s| s.1)
    }
}

/// What the archiver carries from pass to pass.
#[derive(Debug, Default)]
pub(crate) struct PassState {
    pub(crate) cuts: CutClock,
    /// Where the last pass stopped reading the log.
    pub(crate) cursor: LogCursor,
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    pub archived_through: Lsn,
    pub records_read: u64,
    pub items: u64,
    pub evicted: crate::ledger::Evicted,
}

/// Reads the durable log after the store's position (at most `MAX_PASS_RECORDS`
/// records, not past `upto`) and stores what it leaves to history.
fn archive_some(
    wal: &Wal,
    store: &HistoryStore,
    upto: Lsn,
    cursor: &mut LogCursor,
) -> Result<(Lsn, u64, u64), EngineError> {
    let after = store.archived();
    let upto = Lsn(upto.0.min(after.0.saturating_add(MAX_PASS_RECORDS)));
    if upto <= after {
        return Ok((after, 0, 0));
    }
    // About two and a half items a record (a bet + win round: two transactions,
    // the closed round, its record; two log records).
    let mut staged = store.stage((upto.0 - after.0) as usize * 5 / 2);
    let mut read = 0u64;
    let mut n = 0u64;
    let last = wal.read_durable(after, upto, cursor, |lsn, payload| {
        read += 1;
        // Only ledger effects leave history; the others are not even decoded.
        if is_ledger_effect(payload) {
            if let Effect::Ledger(effect) = decode(lsn, payload)? {
                items_of(effect, |item| {
                    n += 1;
                    staged.add(item).map_err(history_failed)
                })?;
            }
        }
        Ok::<(), EngineError>(())
    })?;
    store.commit(staged, last).map_err(history_failed)?;
    Ok((last, read, n))
}

fn history_failed(e: crate::ledger::archive::ArchiveError) -> EngineError {
    EngineError::Storage(e.to_string())
}

/// Refuses a store archived through `archived` that could never catch up: the log's
/// records after it were deleted (retention) before they were archived.
pub(crate) fn check_reachable(wal: &Wal, archived: Lsn) -> Result<(), EngineError> {
    let Some(oldest) = wal.oldest_on_disk()?.filter(|o| o.0 > archived.0 + 1) else {
        return Ok(());
    };
    Err(EngineError::Storage(format!(
        "the history store has archived through record {}, but the log now starts at \
         record {}: the records between were deleted before they could be archived. This \
         happens when a data directory that ran without a history store (--hot-window \
         off) is opened with one, or when its history directory was removed. Open it \
         with --hot-window off (docs/operations.md)",
        archived.0, oldest.0
    )))
}

/// Brings the store up to `end` (the recovered log's last record), before replay.
pub(crate) fn catch_up(wal: &Wal, store: &HistoryStore, end: Lsn) -> Result<(), EngineError> {
    if store.archived() < end {
        check_reachable(wal, store.archived())?;
    }
    let mut cursor = LogCursor::default();
    while store.archived() < end {
        archive_some(wal, store, end, &mut cursor)?;
    }
    wal.hold_after(store.archived());
    Ok(())
}

/// One pass: archive what is durable, move the log's hold, purge, evict. A pass
/// that fails fails the log closed (see the module docs). The background thread
/// and `Engine::archive_now` both run passes through this.
pub(crate) fn pass(
    domains: &Domains,
    wal: &Wal,
    store: &HistoryStore,
    state: &mut PassState,
    now_ms: i64,
    window_ms: i64,
    gauges: Option<&ArchiverGauges>,
) -> Result<PassReport, EngineError> {
    let mut run = || -> Result<PassReport, EngineError> {
        let (through, records_read, items) =
            archive_some(wal, store, wal.durable_lsn(), &mut state.cursor)?;
        wal.hold_after(through);
        store
            .purge(PURGE_BATCHES_PER_PASS)
            .map_err(history_failed)?;
        state.cuts.record(now_ms, through);
        let evicted = match state.cuts.cut(now_ms, window_ms) {
            Some(cut) => domains.ledger.evict(cut),
            None => crate::ledger::Evicted::default(),
        };
        Ok(PassReport {
            archived_through: through,
            records_read,
            items,
            evicted,
        })
    };
    if let Some(g) = gauges {
        g.pass_started_ms.store(now_ms, Ordering::Release);
    }
    let outcome = run();
    if let Some(g) = gauges {
        g.pass_started_ms.store(IDLE, Ordering::Release);
    }
    if let (Ok(r), Some(g)) = (&outcome, gauges) {
        g.evicted_transactions
            .fetch_add(r.evicted.transactions as u64, Ordering::Relaxed);
        g.evicted_records
            .fetch_add(r.evicted.records as u64, Ordering::Relaxed);
    }
    if let Err(e) = &outcome {
        let why = std::io::Error::other(format!("history archiver: {e}"));
        wal.fail(StorageError::io(store.path(), why));
    }
    outcome
}

/// The archiver's gauges, for `status()` and `health()`.
#[derive(Debug)]
pub(crate) struct ArchiverGauges {
    pub evicted_transactions: AtomicU64,
    pub evicted_records: AtomicU64,
    /// When the pass in progress began (engine clock, ms); `IDLE` between passes.
    /// `Engine::health` reports a pass that runs too long: a store that stopped
    /// answering would otherwise show only as a growing lag.
    pub pass_started_ms: AtomicI64,
}

/// `ArchiverGauges::pass_started_ms` between passes.
pub(crate) const IDLE: i64 = i64::MIN;

impl Default for ArchiverGauges {
    fn default() -> Self {
        ArchiverGauges {
            evicted_transactions: AtomicU64::new(0),
            evicted_records: AtomicU64::new(0),
            pass_started_ms: AtomicI64::new(IDLE),
        }
    }
}

/// The background thread running [`pass`] every `every`.
pub(crate) struct Archiver {
    ticker: Ticker,
    pub(crate) store: Arc<HistoryStore>,
    pub(crate) gauges: Arc<ArchiverGauges>,
    /// Held for a whole pass: passes (the thread's, `Engine::archive_now`) never
    /// overlap.
    pub(crate) state: Arc<Mutex<PassState>>,
}

impl Archiver {
    pub(crate) fn start(
        domains: Domains,
        log: Arc<EngineLog>,
        store: Arc<HistoryStore>,
        clock: Arc<dyn Clock>,
        window: Duration,
        every: Duration,
    ) -> Result<Archiver, EngineError> {
        let gauges = Arc::new(ArchiverGauges::default());
        let state = Arc::new(Mutex::new(PassState::default()));
        let (st, g, c) = (store.clone(), gauges.clone(), state.clone());
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let tick = every.max(Duration::from_millis(10));
        let ticker = Ticker::start("pitboss-archive", tick, move || {
            let Some(wal) = log.wal() else {
                return Next::Stop;
            };
            let now_ms = clock.now_ms();
            // Once a pass fails, the log is closed: nothing more to archive. A pass
            // that read its most records left a backlog: the next one starts at once.
            match pass(
                &domains,
                wal,
                &st,
                &mut c.lock(),
                now_ms,
                window_ms,
                Some(&g),
            ) {
                Ok(report) if report.records_read >= MAX_PASS_RECORDS => Next::Now,
                Ok(_) => Next::Tick,
                Err(_) => Next::Stop,
            }
        })
        .map_err(|e| EngineError::Storage(format!("could not start the archiver thread: {e}")))?;
        Ok(Archiver {
            ticker,
            store,
            gauges,
            state,
        })
    }

    pub(crate) fn stop(&self) {
        self.ticker.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_is_what_was_archived_a_window_ago() {
        let mut c = CutClock::default();
        assert_eq!(c.cut(0, 10), None);
        c.record(0, Lsn(5));
        c.record(5, Lsn(9));
        c.record(10, Lsn(20));
        assert_eq!(c.cut(9, 10), None);
        assert_eq!(c.cut(10, 10), Some(Lsn(5)));
        assert_eq!(c.cut(16, 10), Some(Lsn(9)));
        assert_eq!(c.cut(100, 10), Some(Lsn(20)));
        // Older samples are gone; the newest stays.
        assert_eq!(c.samples.len(), 1);
    }

    /// A window longer than `MAX_SAMPLES` passes still finds a cut about one window
    /// back, never a newer one: the samples are thinned, not cut off. Older samples
    /// have been thinned more often, so the cut may lag a window by a little more:
    /// here (three times `MAX_SAMPLES` passes) by under 1 % of it.
    #[test]
    fn a_long_window_keeps_its_cut_moving() {
        let mut c = CutClock::default();
        let window_ms = 3 * MAX_SAMPLES as i64 * 1000;
        for second in 0..(8 * MAX_SAMPLES as i64) {
            c.record(second * 1000, Lsn(second as u64));
            assert!(c.samples.len() <= MAX_SAMPLES);
            if let Some(cut) = c.cut(second * 1000, window_ms) {
                let window_ago = (second * 1000 - window_ms) / 1000;
                assert!(
                    cut.0 as i64 <= window_ago,
                    "the cut is at least a window old"
                );
                let slack = window_ms / 1000 / 100;
                assert!(
                    cut.0 as i64 >= window_ago - slack,
                    "and not much older: {cut:?} at {second}"
                );
            }
        }
    }
}
