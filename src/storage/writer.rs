//! The writer thread: takes the whole pending buffer at once (group commit), seals each
//! frame's checksum, writes the batch into segments (rolling to a new segment when one is
//! full), fsyncs per policy and publishes the durable LSN. On the first write or fsync
//! error it fails the log closed and exits: after a failed fsync the page cache can no
//! longer be trusted, so nothing written afterwards could honestly be acknowledged.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::config::FsyncPolicy;
use super::durable_lsn::WRITER_WAKES;
use super::error::{IoContext, StorageError};
use super::fs::{write_all, WritableFile};
use super::segment::{self, SEGMENT_HEADER_LEN};
use super::wal::Shared;
use super::Lsn;

/// The last segment as recovery left it, reopened for appending.
pub(crate) struct Tail {
    pub(crate) file: Box<dyn WritableFile>,
    pub(crate) path: PathBuf,
    /// Length of the segment file (header included).
    pub(crate) len: u64,
}

impl std::fmt::Debug for Tail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tail")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish()
    }
}

/// A batch taken from the pending buffer.
struct Batch {
    first_lsn: Lsn,
    /// Records in the batch, as counted by the LSNs handed out.
    count: u64,
    closing: bool,
}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    /// The segment being appended to; `None` until the first write needs one.
    segment: Option<Tail>,
    /// Last LSN handed to the OS.
    written: Lsn,
    /// Last LSN published as durable.
    published: Lsn,
    last_sync: Instant,
    /// The buffer being written; swapped with the pending one, so both keep their capacity.
    batch: Vec<u8>,
}

impl Writer {
    pub(crate) fn new(shared: Arc<Shared>, last: Lsn, tail: Option<Tail>) -> Self {
        Writer {
            shared,
            segment: tail,
            written: last,
            published: last,
            last_sync: Instant::now(),
            batch: Vec::new(),
        }
    }

    /// The thread body. Whatever happens, waiters end up answered: a clean exit closes the
    /// durable state, an error or a panic fails it.
    pub(crate) fn run(mut self) {
        let shared = Arc::clone(&self.shared);
        match catch_unwind(AssertUnwindSafe(|| self.run_loop())) {
            Ok(Ok(())) => shared.durable.close(),
            Ok(Err(err)) => shared.fail(err),
            Err(_) => shared.fail(StorageError::Internal(
                "the WAL writer thread panicked".into(),
            )),
        }
    }

    fn run_loop(&mut self) -> Result<(), StorageError> {
        loop {
            let batch = self.next_batch();
            if batch.count > 0 {
                self.write_batch(&batch)?;
            }
            self.sync_per_policy(batch.closing)?;
            if batch.closing && batch.count == 0 {
                return Ok(());
            }
        }
    }

    /// When an `Interval` policy wants the next fsync, if written data awaits one.
    fn sync_deadline(&self) -> Option<Instant> {
        match self.shared.config.fsync {
            FsyncPolicy::Interval(every) if self.written > self.published => {
                Some(self.last_sync + every)
            }
            _ => None,
        }
    }

    /// Sleeps until there are records, the log closes, or an interval fsync is due; then
    /// takes every pending record at once.
    ///
    /// First it finishes waking the waiters its last publish satisfied (with the waiters
    /// themselves, see the durable module). That keeps the wake tree's invariant (no
    /// satisfied waiter is left unwoken while the writer sleeps), and it is also what
    /// makes batches big: the waiters woken append their next records meanwhile.
    fn next_batch(&mut self) -> Batch {
        let shared = &*self.shared;
        while shared.durable.has_stragglers() {
            shared.durable.wake_stragglers(WRITER_WAKES);
        }
        let mut p = shared.pending.lock();
        while p.buf.is_empty() && !p.closing {
            match self.sync_deadline() {
                Some(due) if Instant::now() >= due => break,
                Some(due) => {
                    shared.work.wait_until(&mut p, due);
                }
                None => shared.work.wait(&mut p),
            }
        }
        self.batch.clear();
        std::mem::swap(&mut self.batch, &mut p.buf);
        let batch = Batch {
            first_lsn: p.first_lsn,
            count: p.next_lsn.0 - p.first_lsn.0,
            closing: p.closing,
        };
        p.first_lsn = p.next_lsn;
        drop(p);
        shared.space.notify_all();
        batch
    }

    /// Seals and writes one batch, rolling segments at record boundaries.
    fn write_batch(&mut self, batch: &Batch) -> Result<(), StorageError> {
        debug_assert_eq!(
            batch.first_lsn.0,
            self.written.0 + 1,
            "batches are contiguous"
        );
        let limit = self.shared.config.segment_size;
        let (mut offset, mut piece_start, mut lsn) = (0usize, 0usize, batch.first_lsn);
        let mut planned = self.segment.as_ref().map_or(0, |s| s.len);
        while offset < self.batch.len() {
            let frame = segment::seal_frame(&mut self.batch, offset, lsn).ok_or_else(|| {
                StorageError::Internal(format!("malformed frame at {offset} of a batch"))
            })?;
            // Roll before a record that would take the segment past its size, unless the
            // segment is still empty (a record bigger than a segment gets one of its own).
            let full = planned > SEGMENT_HEADER_LEN as u64 && planned + frame as u64 > limit;
            if self.segment.is_none() || full {
                self.write_piece(piece_start, offset)?;
                self.roll(lsn)?;
                piece_start = offset;
                planned = SEGMENT_HEADER_LEN as u64;
            }
            planned += frame as u64;
            offset += frame;
            lsn = Lsn(lsn.0 + 1);
        }
        if lsn.0 - batch.first_lsn.0 != batch.count {
            return Err(StorageError::Internal(format!(
                "batch from LSN {} holds {} frames for {} LSNs",
                batch.first_lsn.0,
                lsn.0 - batch.first_lsn.0,
                batch.count
            )));
        }
        self.write_piece(piece_start, offset)?;
        self.written = Lsn(lsn.0 - 1);
        Ok(())
    }

    /// Writes `batch[from..to]` to the current segment.
    fn write_piece(&mut self, from: usize, to: usize) -> Result<(), StorageError> {
        if from == to {
            return Ok(());
        }
        let (Some(seg), Some(bytes)) = (self.segment.as_mut(), self.batch.get(from..to)) else {
            return Err(StorageError::Internal("write without a segment".into()));
        };
        write_all(&mut *seg.file, bytes).at(&seg.path)?;
        seg.len += bytes.len() as u64;
        Ok(())
    }

    /// Finishes the current segment and starts `wal-<first_lsn>.log`.
    fn roll(&mut self, first_lsn: Lsn) -> Result<(), StorageError> {
        let shared = &*self.shared;
        let syncing = shared.config.fsync != FsyncPolicy::Never;
        if let Some(mut old) = self.segment.take() {
            // Synced even under `Never`: then only the last segment can have a torn tail,
            // which is what lets recovery treat damage anywhere else as corruption.
            old.file.sync_data().at(&old.path)?;
        }
        let path = shared.dir.join(segment::segment_file_name(first_lsn));
        let mut file = shared.fs.create(&path).at(&path)?;
        write_all(&mut *file, &segment::encode_header(first_lsn)).at(&path)?;
        if syncing {
            // The new file's directory entry must survive a crash before any record in it
            // is acknowledged; its data is covered by the batch's own fsync.
            shared.fs.sync_dir(&shared.dir).at(&shared.dir)?;
        }
        self.segment = Some(Tail {
            file,
            path,
            len: SEGMENT_HEADER_LEN as u64,
        });
        Ok(())
    }

    /// Fsyncs if the policy says so now, then publishes what became durable.
    fn sync_per_policy(&mut self, closing: bool) -> Result<(), StorageError> {
        if self.written == self.published {
            return Ok(());
        }
        let due = match self.shared.config.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::Never => {
                self.observe(self.written, None);
                self.publish(self.written);
                return Ok(());
            }
            FsyncPolicy::Interval(every) => closing || self.last_sync.elapsed() >= every,
        };
        if due {
            // Only what was written before the fsync started is covered by it.
            let covered = self.written;
            let started = Instant::now();
            if let Some(seg) = self.segment.as_mut() {
                seg.file.sync_data().at(&seg.path)?;
            }
            self.last_sync = Instant::now();
            self.observe(covered, Some(self.last_sync - started));
            self.publish(covered);
        }
        Ok(())
    }

    /// Tells the observer, if any, that the records up to `lsn` are about to be
    /// published durable.
    fn observe(&self, lsn: Lsn, fsync: Option<std::time::Duration>) {
        if let Some(o) = self.shared.observer.get() {
            o.batch_durable(lsn.0 - self.published.0, fsync);
        }
    }

    fn publish(&mut self, lsn: Lsn) {
        self.published = lsn;
        self.shared.durable.publish(lsn);
    }
}
