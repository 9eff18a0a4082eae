//! The storage layer's error type: I/O failures, on-disk corruption and misuse, kept apart.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything that can go wrong in the storage layer.
///
/// The type is `Clone` (I/O errors are shared behind an `Arc`) because one disk failure
/// has to be reported to every thread waiting on the log, not just to the first.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// Another open log holds the directory's lock (another process, or this one).
    #[error("data directory {} is in use by another open log (its LOCK file is held)", dir.display())]
    Locked { dir: PathBuf },
    /// A file-system operation failed. `path` is the file or directory it was about.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },

    /// The bytes on disk are not what the log wrote: a bad checksum, header, length or
    /// LSN sequence that cannot be explained as a torn tail. Start-up stops here; nothing
    /// is skipped or repaired behind the caller's back.
    #[error("corrupt {} at byte {offset}: {reason}", file.display())]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },

    /// An earlier write or fsync failed, so the log accepts no more writes and will never
    /// acknowledge anything it had not already synced. `cause` is that first failure.
    #[error("the log has failed and accepts no more writes: {cause}")]
    Failed {
        #[source]
        cause: Arc<StorageError>,
    },

    /// The log was closed before the operation could complete.
    #[error("the log is closed")]
    Closed,

    /// A record is longer than `Config::max_record_len`. Nothing was appended.
    #[error("record of {len} bytes exceeds the maximum record length of {max} bytes")]
    RecordTooLarge { len: usize, max: u32 },

    /// A caller asked about an LSN the log has not handed out yet.
    #[error("LSN {lsn} has not been appended yet (last appended: {appended})")]
    NotAppended { lsn: u64, appended: u64 },

    /// A second snapshot was begun while one is still being written.
    #[error("another snapshot is already being written")]
    SnapshotInProgress,

    /// A broken internal invariant (a bug, or a caller breaking a documented contract,
    /// such as an `append_with` closure removing bytes). The log fails closed.
    #[error("internal storage error: {0}")]
    Internal(String),

    /// The configuration cannot work (for example a zero segment size).
    #[error("invalid storage configuration: {0}")]
    InvalidConfig(String),
}

impl StorageError {
    /// Wraps an `io::Error` with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// Builds a `Corrupt` error.
    pub fn corrupt(file: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Self {
        StorageError::Corrupt {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }

    /// True when the log is in its failed state (a disk error happened earlier).
    pub fn is_failed(&self) -> bool {
        matches!(self, StorageError::Failed { .. })
    }

    /// True for on-disk corruption, as opposed to I/O errors or misuse.
    pub fn is_corrupt(&self) -> bool {
        matches!(self, StorageError::Corrupt { .. })
    }
}

/// Attaches a path to `io::Result`s, so that every I/O error names its file.
pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T, StorageError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T, StorageError> {
        self.map_err(|e| StorageError::io(path, e))
    }
}
