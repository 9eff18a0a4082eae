//! Snapshots of a durable engine: taking one now, the clean shutdown that ends with
//! one, and the background thread that takes them by records written and by time.

use super::domains::Domains;
use super::log::EngineLog;
use super::{snapshot_body, Engine, EngineConfig, EngineError};
use crate::journal::Lsn;
use parking_lot::{Condvar, Mutex};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

impl Engine {
    /// Writes a snapshot now. Returns the log position it covers.
    pub fn snapshot(&self) -> Result<Lsn, EngineError> {
        take_snapshot(&self.domains, &self.log)
    }

    /// Clean shutdown: stops the snapshotter, waits for every appended effect to be
    /// durable, writes a snapshot and closes the log. Later mutations fail.
    pub fn shutdown(&self) -> Result<(), EngineError> {
        if let Some(a) = &self.archiver {
            a.stop();
        }
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
    snapshot_body::write(domains, &mut writer)?;
    writer.commit().map_err(EngineError::from)?;
    log.snapshot_taken();
    Ok(lsn)
}

/// The background thread that snapshots by records written and by elapsed time.
pub(crate) struct Snapshotter {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Snapshotter {
    pub(super) fn start(
        domains: Domains,
        log: Arc<EngineLog>,
        config: &EngineConfig,
    ) -> Snapshotter {
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
