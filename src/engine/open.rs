//! Opening an engine on a data directory: recovery.
//!
//! Recovery: the storage layer picks the newest readable snapshot and checks the log;
//! the engine loads the snapshot, then replays every logged effect after it through the
//! same apply functions live operations use.

use super::archiver::{self, Archiver};
use super::domains::Domains;
use super::log::EngineLog;
use super::snapshotter::Snapshotter;
use super::{replay, snapshot_body, Engine, EngineConfig, EngineError};
use crate::clock::{Clock, SystemClock};
use crate::history::HistoryStore;
use crate::journal::Lsn;
use crate::storage::{self, FileSystem, StdFs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What start-up found: for the operator's log and for tests.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    /// The snapshot loaded (its log position), if any.
    pub snapshot_lsn: Option<Lsn>,
    /// Newer snapshots that could not be read, with the reason.
    pub rejected_snapshots: Vec<String>,
    /// A torn tail cut off the log, if any.
    pub torn_tail: Option<String>,
    /// Effects replayed after the snapshot.
    pub replayed: u64,
    pub elapsed: Duration,
}

impl Engine {
    /// Opens the engine on `dir` (created if missing): loads the newest snapshot,
    /// replays the log after it, and starts the background snapshotter.
    pub fn open(dir: impl AsRef<Path>, config: EngineConfig) -> Result<Engine, EngineError> {
        Engine::open_with(dir, config, Arc::new(SystemClock), Arc::new(StdFs))
    }

    /// [`Engine::open`] with an injected clock and file system (tests inject faults).
    pub fn open_with(
        dir: impl AsRef<Path>,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
        fs: Arc<dyn FileSystem>,
    ) -> Result<Engine, EngineError> {
        let started = Instant::now();
        let dir = dir.as_ref().to_path_buf();
        let (wal, mut recovery) =
            storage::open(&dir, config.wal.clone(), fs).map_err(EngineError::from)?;
        let log = Arc::new(EngineLog::on_wal(wal));
        let domains = Domains::new(&config, &clock, &log);
        let mut report = RecoveryReport {
            rejected_snapshots: recovery
                .rejected_snapshots
                .iter()
                .map(|r| format!("{}: {}", r.path.display(), r.error))
                .collect(),
            torn_tail: recovery
                .torn_tail
                .as_ref()
                .map(|t| format!("{}: cut at {} ({})", t.file.display(), t.offset, t.reason)),
            ..RecoveryReport::default()
        };
        if let Some(snap) = recovery.snapshot.take() {
            let lsn = snap.lsn();
            snapshot_body::read(&domains, snap, lsn)?;
            log.snapshot_taken();
            report.snapshot_lsn = Some(lsn);
        }

        domains.webhooks.begin_replay();
        report.replayed = replay::replay(&domains, &mut recovery.records)?;
        domains.webhooks.finish_replay();
        // Then the history store catches up with the log (see `archiver`). After
        // replay, not before: replay never reads the store, and this way a damaged
        // log is still reported at its first bad record after the snapshot.
        // A directory that has a store keeps using it with the window off (it may
        // hold what memory let go of before); it just evicts nothing more.
        let keeps_history = dir.join(HISTORY_DIR).exists();
        let store = if config.history.hot_window.is_some() || keeps_history {
            Some(open_history(
                &dir, &config, &clock, &log, &domains, &recovery, &report,
            )?)
        } else {
            None
        };
        if cfg!(debug_assertions) {
            domains.check_invariants();
        }
        report.elapsed = started.elapsed();
        let snapshotter = Snapshotter::start(domains.clone(), log.clone(), &config)?;
        let archiver = store
            .map(|store| {
                Archiver::start(
                    domains.clone(),
                    log.clone(),
                    store,
                    clock.clone(),
                    config.history.hot_window.unwrap_or(Duration::MAX),
                    config.history.archive_every,
                )
            })
            .transpose()?;
        let mut engine = Engine::assemble(domains, log, clock, config, Some(snapshotter), report);
        engine.archiver = archiver;
        // Records that closed just before a crash may not have been scored yet.
        engine.rescore_recent_records()?;
        Ok(engine)
    }
}

/// The folder of the data directory that holds the history store.
pub const HISTORY_DIR: &str = "history";

/// Opens the history store in `dir`, brings it up to the recovered log's end, and
/// attaches it to the ledger.
fn open_history(
    dir: &Path,
    config: &EngineConfig,
    clock: &Arc<dyn Clock>,
    log: &EngineLog,
    domains: &Domains,
    recovery: &storage::Recovery,
    report: &RecoveryReport,
) -> Result<Arc<HistoryStore>, EngineError> {
    let path = dir.join(HISTORY_DIR);
    let history = &config.history;
    // A new store starts at record 0: refused before it is created if the log no
    // longer begins there (the directory would then make every later open try it).
    if let (None, false, Some(wal)) = (&history.shared_store, path.exists(), log.wal()) {
        archiver::check_reachable(wal, Lsn(0))?;
    }
    let store = match &history.shared_store {
        Some(shared) => shared.0.clone(),
        None => Arc::new(
            HistoryStore::open(
                &path,
                clock.clone(),
                history.retention,
                history.faults.clone(),
            )
            .map_err(|e| EngineError::Storage(e.to_string()))?,
        ),
    };
    if let Some(wal) = log.wal() {
        archiver::catch_up(wal, &store, recovery.last_lsn)?;
    }
    let holds_history = store.archived() > Lsn(0);
    let snapshot = report.snapshot_lsn.unwrap_or(Lsn(0));
    domains
        .ledger
        .attach_archive(store.clone(), holds_history, snapshot);
    Ok(store)
}
