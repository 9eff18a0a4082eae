//! Opening an engine on a data directory (recovery), taking snapshots, and the
//! background thread that takes them periodically.
//!
//! Recovery: the storage layer picks the newest readable snapshot and checks the log;
//! the engine loads the snapshot, then replays every logged effect after it through the
//! same apply functions live operations use.

use super::domains::Domains;
use super::log::EngineLog;
use super::{replay, snapshot, Engine, EngineConfig, EngineError};
use crate::clock::{Clock, SystemClock};
use crate::journal::Lsn;
use crate::storage::{self, FileSystem, StdFs};
use parking_lot::{Condvar, Mutex};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
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
        let (wal, mut recovery) =
            storage::open(dir, config.wal.clone(), fs).map_err(EngineError::from)?;
        let log = Arc::new(EngineLog::on_wal(wal));
        let domains = Domains::new(&config, &log);
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
            snapshot::read(&domains, snap, lsn)?;
            report.snapshot_lsn = Some(lsn);
        }
        report.replayed = replay::replay(&domains, &mut recovery.records)?;
        if cfg!(debug_assertions) {
            domains.check_invariants();
        }
        report.elapsed = started.elapsed();
        let snapshotter = Snapshotter::start(domains.clone(), log.clone(), &config);
        let engine = Engine::assemble(domains, log, clock, config, Some(snapshotter), report);
        // Records that closed just before a crash may not have been scored yet.
        engine.rescore_recent_records()?;
        Ok(engine)
    }

    /// Writes a snapshot now. Returns the log position it covers.
    pub fn snapshot(&self) -> Result<Lsn, EngineError> {
        take_snapshot(&self.domains, &self.log)
    }

    /// Clean shutdown: stops the snapshotter, waits for every appended effect to be
    /// durable, writes a snapshot and closes the log. Later mutations fail.
    pub fn shutdown(&self) -> Result<(), EngineError> {
        if let Some(s) = &self.snapshotter {
            s.stop();
        }
        if self.log.wal().is_none() {
            return Ok(());
        }
        self.log.flush()?;
        self.snapshot()?;
        match self.log.wal() {
            Some(wal) => wal.close().map_err(EngineError::from),
            None => Ok(()),
        }
    }
}

/// Takes a fuzzy snapshot: reads the log position first, then copies the state.
fn take_snapshot(domains: &Domains, log: &EngineLog) -> Result<Lsn, EngineError> {
    let Some(wal) = log.wal() else {
        return Err(EngineError::Storage(
            "an in-memory engine has no snapshots".into(),
        ));
    };
    let lsn = log.appended();
    let mut writer = wal.begin_snapshot(lsn).map_err(EngineError::from)?;
    snapshot::write(domains, &mut writer)?;
    writer.commit().map_err(EngineError::from)?;
    Ok(lsn)
}

/// The background thread that snapshots by records written and by elapsed time.
pub(crate) struct Snapshotter {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Snapshotter {
    fn start(domains: Domains, log: Arc<EngineLog>, config: &EngineConfig) -> Snapshotter {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let (every_records, every) = (config.snapshot_every_records, config.snapshot_every);
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("pitboss-snapshot".into())
            .spawn(move || run_snapshotter(&domains, &log, &flag, every_records, every))
            .ok();
        Snapshotter {
            stop,
            thread: Mutex::new(thread),
        }
    }

    pub(crate) fn stop(&self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.lock().take() {
            // A panic in the snapshot thread is a bug already reported on stderr;
            // stopping must still complete.
            let _ = t.join();
        }
    }
}

impl Drop for Snapshotter {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run_snapshotter(
    domains: &Domains,
    log: &EngineLog,
    stop: &(Mutex<bool>, Condvar),
    every_records: u64,
    every: Duration,
) {
    let mut last = (log.appended(), Instant::now());
    let tick = every
        .min(Duration::from_secs(1))
        .max(Duration::from_millis(10));
    loop {
        {
            let mut stopped = stop.0.lock();
            if !*stopped {
                stop.1.wait_for(&mut stopped, tick);
            }
            if *stopped {
                return;
            }
        }
        let appended = log.appended();
        let written = appended.0.saturating_sub(last.0 .0);
        let due = written >= every_records || (written > 0 && last.1.elapsed() >= every);
        // A failed snapshot loses nothing (the log still holds every effect); the
        // next tick tries again.
        if due {
            if let Ok(lsn) = take_snapshot(domains, log) {
                last = (lsn, Instant::now());
            }
        }
    }
}
