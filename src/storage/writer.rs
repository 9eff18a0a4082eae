//! The writer thread: takes the whole pending buffer at once (group commit), seals each
//! frame's checksum, writes the batch into segments (rolling to a new segment when one is
//! full), fsyncs per policy and publishes the durable LSN. On the first write or fsync
//! error it fails the log closed and exits: after a failed fsync the page cache can no
//! longer be trusted, so nothing written afterwards could honestly be acknowledged.
//!
//! # Preallocation (`FsyncPolicy::Always` only)
//! An `fdatasync` after an append must also commit the file's new size through the
//! file system's journal; after writing into blocks the file already owns, it need not
//! (measured: 210–320 µs against 146–157 µs on ext4, docs/performance.md). So under
//! `Always` the writer keeps [`PREALLOCATE_BYTES`] of zeros, written and fsynced, ahead
//! of its records, and writes records over them. The price is order: such overwrites
//! may reach the disk in any order at a power cut, so a torn batch need not be a prefix.
//! Three rules keep what recovery sees decidable (see the recovery module):
//! - at most [`UNSYNCED_WINDOW`] bytes of records are written and not yet fsynced, in
//!   one piece: a bigger batch is written in pieces, each fsynced before the next;
//! - a single record longer than the window is written header first, and the header
//!   fsynced, so its length is on disk whenever any of its payload is;
//! - the zeros after the records are fsynced before records are written over them, and
//!   at least a frame header of them always follows the last record.
//!
//! A segment is cut back to its last record when it is sealed (before the next one is
//! created) and when the log closes, so only the last segment of a log that did not
//! close ever ends in zeros.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::config::FsyncPolicy;
use super::durable_lsn::WRITER_WAKES;
use super::error::{IoContext, StorageError};
use super::fs::{write_all, WritableFile};
use super::segment::{self, FRAME_HEADER_LEN, SEGMENT_HEADER_LEN, UNSYNCED_WINDOW};
use super::wal::Shared;
use super::Lsn;

/// The last segment as recovery left it, reopened for appending.
pub(crate) struct Tail {
    pub(crate) file: Box<dyn WritableFile>,
    pub(crate) path: PathBuf,
    /// Length of the segment's header and records.
    pub(crate) len: u64,
    /// Where the zeros preallocated after the records end, all of them fsynced
    /// (`len` when there are none).
    pub(crate) allocated: u64,
}

/// How far ahead of its records the writer keeps preallocated zeros (at most a
/// segment's size): each extension costs one fsync that commits a new file size.
pub const PREALLOCATE_BYTES: u64 = 1 << 20;

impl std::fmt::Debug for Tail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tail")
            .field("path", &self.path)
            .field("len", &self.len)
            .field("allocated", &self.allocated)
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
    /// Records are written over preallocated zeros (the policy is `Always`).
    preallocating: bool,
    /// Records were written to the segment since its last fsync.
    unsynced: bool,
}

impl Writer {
    pub(crate) fn new(shared: Arc<Shared>, last: Lsn, tail: Option<Tail>) -> Self {
        Writer {
            segment: tail,
            written: last,
            published: last,
            last_sync: Instant::now(),
            batch: Vec::new(),
            preallocating: shared.config.fsync == FsyncPolicy::Always,
            unsynced: false,
            shared,
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
                return self.trim();
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
            } else if self.preallocating
                && offset > piece_start
                && offset + frame - piece_start > UNSYNCED_WINDOW
            {
                // Pieces of at most the window, or of one record (module docs).
                self.write_piece(piece_start, offset)?;
                piece_start = offset;
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

    /// Writes `batch[from..to]` (whole frames) to the current segment; when
    /// preallocating, by the rules in the module docs.
    fn write_piece(&mut self, from: usize, to: usize) -> Result<(), StorageError> {
        if from == to {
            return Ok(());
        }
        let (Some(seg), Some(bytes)) = (self.segment.as_mut(), self.batch.get(from..to)) else {
            return Err(StorageError::Internal("write without a segment".into()));
        };
        if !self.preallocating {
            write_all(&mut *seg.file, bytes).at(&seg.path)?;
            seg.len += bytes.len() as u64;
            return Ok(());
        }
        if self.unsynced {
            // The previous piece is durable before this one is written.
            seg.file.sync_data().at(&seg.path)?;
            self.unsynced = false;
        }
        let need = seg.len + bytes.len() as u64 + FRAME_HEADER_LEN as u64;
        if seg.allocated < need {
            let ahead = PREALLOCATE_BYTES.min(self.shared.config.segment_size);
            let until = need + ahead;
            seg.file
                .preallocate(seg.allocated, until - seg.allocated)
                .at(&seg.path)?;
            // Also makes a new segment's header durable before any record.
            seg.file.sync_data().at(&seg.path)?;
            seg.allocated = until;
        }
        if bytes.len() > UNSYNCED_WINDOW {
            // One record (pieces of several fit the window): header first.
            let (header, payload) = bytes.split_at(FRAME_HEADER_LEN);
            write_all(&mut *seg.file, header).at(&seg.path)?;
            seg.file.sync_data().at(&seg.path)?;
            write_all(&mut *seg.file, payload).at(&seg.path)?;
        } else {
            write_all(&mut *seg.file, bytes).at(&seg.path)?;
        }
        seg.len += bytes.len() as u64;
        self.unsynced = true;
        Ok(())
    }

    /// Cuts the current segment's unused preallocated zeros off, if it has any.
    fn trim(&mut self) -> Result<(), StorageError> {
        if let Some(seg) = self.segment.as_mut() {
            if seg.allocated > seg.len {
                self.shared.fs.truncate(&seg.path, seg.len).at(&seg.path)?;
                seg.allocated = seg.len;
            }
        }
        Ok(())
    }

    /// Finishes the current segment and starts `wal-<first_lsn>.log`.
    fn roll(&mut self, first_lsn: Lsn) -> Result<(), StorageError> {
        if let Some(old) = self.segment.as_mut() {
            // Synced even under `Never`: then only the last segment can have a torn tail,
            // which is what lets recovery treat damage anywhere else as corruption.
            old.file.sync_data().at(&old.path)?;
            self.unsynced = false;
            // A sealed segment ends at its last record, before the next one exists.
            self.trim()?;
            self.segment = None;
        }
        let shared = &*self.shared;
        let syncing = shared.config.fsync != FsyncPolicy::Never;
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
            allocated: SEGMENT_HEADER_LEN as u64,
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
            self.unsynced = false;
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
