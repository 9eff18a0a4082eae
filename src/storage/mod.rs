//! Durable storage for the engine: a write-ahead log of opaque records with group commit,
//! snapshots, and crash recovery. This layer knows bytes, not business rules.
//!
//! # Using it
//! ```no_run
//! # use std::sync::Arc;
//! # use pitboss::storage::{open, Config, StdFs, StorageError};
//! # fn main() -> Result<(), StorageError> {
//! let (wal, mut recovery) = open("/var/lib/pitboss/wal", Config::default(), Arc::new(StdFs))?;
//! if let Some(snapshot) = recovery.snapshot.take() {
//!     // load the state from `snapshot` (it implements std::io::Read)
//! #   drop(snapshot);
//! }
//! recovery.records.replay(|_lsn, _payload| {
//!     // apply the record (records are idempotent: some may already be in the snapshot)
//!     Ok::<(), StorageError>(())
//! })?;
//! let lsn = wal.append(b"effect")?; // cheap: callable under the caller's own lock
//! wal.wait_durable(lsn)?;           // or `wal.durable(lsn).await`
//! # Ok(()) }
//! ```
//!
//! # Map
//! * [`segment`]: the WAL segment format (byte-level diagram there) and frame checks.
//! * `wal`: the [`Wal`] handle, appends, the pending buffer and its backpressure.
//! * `writer`: the writer thread (group commit, segment rolls, fsync policy, writing
//!   over preallocated zeros under `FsyncPolicy::Always`).
//! * `durable_lsn`: the durable LSN, blocking and async waiters, the failed state.
//! * [`snapshot_file`]: the snapshot file format, [`SnapshotWriter`] and [`SnapshotReader`].
//! * `dir`: the directory listing and the retention rule.
//! * `recovery`: [`open`], snapshot choice, torn-tail vs corruption, [`RecordIter`].
//! * [`fs`] / `faulty`: the file-system seam, the real [`StdFs`] and the fault-injecting
//!   [`FaultyFs`].
//!
//! # Guarantees
//! * LSNs are dense, start at 1, and follow append order (`Lsn(0)` means "nothing").
//! * An LSN is reported durable only once its bytes (and every earlier record's) were
//!   fsynced (under `FsyncPolicy::Always` / `Interval`).
//! * A failed write or fsync fails the log closed: waiters on undurable LSNs and every
//!   later append get [`StorageError::Failed`]; the durable LSN never moves again.
//! * Recovery never skips or repairs anything silently: see the `recovery` module.

mod config;
mod dir;
mod durable_lsn;
mod error;
mod faulty;
pub mod fs;
mod lock;
mod recovery;
pub mod segment;
pub mod snapshot_file;
mod wal;
mod writer;

#[cfg(test)]
mod tests;

pub use config::{Config, FsyncPolicy, ParseFsyncPolicyError};
pub use dir::SNAPSHOTS_KEPT;
pub use durable_lsn::DurableFuture;
pub use error::StorageError;
pub use faulty::FaultyFs;
pub use fs::{FileSystem, StdFs, WritableFile};
pub use lock::LOCK_FILE;
pub use recovery::{open, RecordIter, Recovery, RejectedSnapshot, TornTail};
pub use snapshot_file::{Committed, SnapshotReader, SnapshotWriter};
pub use wal::{LogCursor, SyncObserver, Wal};
pub use writer::PREALLOCATE_BYTES;

/// Log positions are the engine's `Lsn`: the storage layer hands them out.
pub use crate::journal::Lsn;

/// LSNs above this are refused when read from disk: they could only come from damage, and
/// refusing them keeps LSN arithmetic far from overflow.
pub const MAX_LSN: Lsn = Lsn(1 << 62);
