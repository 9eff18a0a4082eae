//! Snapshots of a durable engine: taking one now, the clean shutdown that ends with
//! one, and the background thread that takes them by records written and by time.

use super::domains::Domains;
use super::log::EngineLog;
use super::ticker::{Next, Ticker};
use super::{snapshot_body, Engine, EngineConfig, EngineError};
use crate::journal::Lsn;
use std::sync::Arc;
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
    ticker: Ticker,
}

impl Snapshotter {
    pub(super) fn start(
        domains: Domains,
        log: Arc<EngineLog>,
        config: &EngineConfig,
    ) -> Result<Snapshotter, EngineError> {
        let (every_records, every) = (config.snapshot_every_records, config.snapshot_every);
        let tick = every
            .min(Duration::from_secs(1))
            .max(Duration::from_millis(10));
        let mut last = (log.appended(), Instant::now());
        let ticker = Ticker::start("pitboss-snapshot", tick, move || {
            let appended = log.appended();
            let written = appended.0.saturating_sub(last.0 .0);
            let due = written >= every_records || (written > 0 && last.1.elapsed() >= every);
            // A failed snapshot loses nothing (the log still holds every effect); the
            // next tick tries again.
            if due {
                if let Ok(lsn) = take_snapshot(&domains, &log) {
                    last = (lsn, Instant::now());
                }
            }
            Next::Tick
        })
        .map_err(|e| EngineError::Storage(format!("could not start the snapshot thread: {e}")))?;
        Ok(Snapshotter { ticker })
    }

    pub(crate) fn stop(&self) {
        self.ticker.stop();
    }
}
