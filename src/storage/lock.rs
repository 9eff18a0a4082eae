//! The data directory's lock: one log per directory, enforced by the OS.
//!
//! Two processes (or two opens in one process) appending to the same segments would
//! interleave records and corrupt the log, so `open` takes an exclusive lock on
//! `<dir>/LOCK` first and the [`Wal`](super::Wal) holds it for its lifetime. The OS
//! releases it when the file is closed, including when the process is killed, so a
//! crash never leaves the directory locked. The lock goes straight through `std::fs`,
//! not the `FileSystem` seam: it is not data, and fault injection has nothing to say
//! about it.

use super::StorageError;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

/// Name of the lock file inside the data directory.
pub const LOCK_FILE: &str = "LOCK";

/// Held for as long as the log is open.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the directory's lock, or fails at once if another open log holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock, StorageError> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StorageError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(StorageError::Locked {
                dir: dir.to_path_buf(),
            }),
            Err(TryLockError::Error(e)) => Err(StorageError::io(&path, e)),
        }
    }
}
