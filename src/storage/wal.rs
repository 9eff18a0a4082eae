//! [`Wal`], the handle the engine holds: appending records (cheap, under the caller's own
//! locks), waiting for durability, starting snapshots, closing. The bytes reach disk on
//! the writer thread (see the writer module); this module owns the pending buffer they
//! wait in and the backpressure that bounds it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};

use super::config::Config;
use super::durable_lsn::{DurableFuture, DurableState};
use super::error::StorageError;
use super::fs::FileSystem;
use super::lock::DirLock;
use super::segment::{self, FRAME_HEADER_LEN};
use super::snapshot_file::SnapshotWriter;
use super::writer::{Tail, Writer};
use super::Lsn;

/// Records framed by appenders and not yet taken by the writer thread.
#[derive(Debug)]
pub(crate) struct Unwritten {
    /// Whole frames (`len | crc placeholder | payload`), back to back.
    pub(crate) buf: Vec<u8>,
    /// LSN of the first frame in `buf`.
    pub(crate) first_lsn: Lsn,
    /// The LSN the next append gets.
    pub(crate) next_lsn: Lsn,
    /// Set once a write or fsync failed: appends then fail at once.
    pub(crate) failed: Option<Arc<StorageError>>,
    /// Set by `close`: appends fail, the writer drains `buf` and exits.
    pub(crate) closing: bool,
}

/// State shared by the `Wal` handle, the writer thread and snapshot writers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) pending: Mutex<Unwritten>,
    /// The writer waits here for records (or `closing`).
    pub(crate) work: Condvar,
    /// Appenders wait here while `pending.buf` is over `max_pending_bytes`.
    pub(crate) space: Condvar,
    /// Last LSN handed out, readable without the lock.
    pub(crate) appended: AtomicU64,
    pub(crate) durable: Arc<DurableState>,
    pub(crate) config: Config,
    pub(crate) fs: Arc<dyn FileSystem>,
    pub(crate) dir: PathBuf,
    /// True while a `SnapshotWriter` exists (one snapshot at a time).
    pub(crate) snapshot_busy: AtomicBool,
    /// Told of every batch made durable (metrics), once set.
    pub(crate) observer: std::sync::OnceLock<Arc<dyn SyncObserver>>,
    /// A reader of the log (the history archiver) still needs every record after
    /// this LSN: retention deletes no segment holding one (see `dir`). `u64::MAX`
    /// while nobody reads.
    pub(crate) read_from: AtomicU64,
}

/// Told by the writer thread of each batch of records it made durable: how many
/// records (the group commit's size) and how long the fsync took (`None` when the
/// policy does not fsync). Called on the writer thread: must be quick.
pub trait SyncObserver: Send + Sync + std::fmt::Debug {
    fn batch_durable(&self, records: u64, fsync: Option<std::time::Duration>);
}

impl Shared {
    /// Puts the log into its failed state; called by the writer on its first error.
    pub(crate) fn fail(&self, err: StorageError) {
        let cause = Arc::new(err);
        {
            let mut p = self.pending.lock();
            p.failed.get_or_insert_with(|| Arc::clone(&cause));
            // These records will never be written; their LSNs will never be durable.
            p.buf = Vec::new();
        }
        self.space.notify_all();
        self.durable.fail(cause);
    }

    /// `NotAppended` if `lsn` has not been handed out yet.
    pub(crate) fn check_appended(&self, lsn: Lsn) -> Result<(), StorageError> {
        let appended = self.appended.load(Ordering::Acquire);
        if lsn.0 > appended {
            return Err(StorageError::NotAppended {
                lsn: lsn.0,
                appended,
            });
        }
        Ok(())
    }
}

/// The write-ahead log. Share it (`Arc<Wal>`); every method takes `&self`.
///
/// Appends only frame the record into an in-memory buffer and hand out the next LSN, so
/// they can be made under the caller's own locks (making the log's order the order in
/// which the caller applies its effects). A single writer thread takes the whole buffer
/// at once (group commit), writes it, fsyncs per [`FsyncPolicy`](super::FsyncPolicy) and
/// then publishes the durable LSN.
///
/// Where a reader of the log stopped (see [`Wal::read_durable`]): the segment (by
/// its first LSN), the byte offset just past the last record read, and the LSN of
/// the record there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogCursor {
    segment: Lsn,
    offset: u64,
    next: Lsn,
}

/// Reads `path` from byte `skip` to its end into `bytes` (replacing what it held).
fn read_from(
    fs: &dyn FileSystem,
    path: &Path,
    skip: u64,
    bytes: &mut Vec<u8>,
) -> std::io::Result<()> {
    use std::io::Read;
    let mut file = fs.open_read(path)?;
    let skipped = std::io::copy(&mut file.by_ref().take(skip), &mut std::io::sink())?;
    if skipped < skip {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("shorter than the {skip} bytes already read"),
        ));
    }
    bytes.clear();
    file.read_to_end(bytes)?;
    Ok(())
}

/// Dropping the `Wal` closes it like [`Wal::close`], ignoring the result.
#[derive(Debug)]
pub struct Wal {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// The directory's lock, released when the log is dropped.
    _lock: DirLock,
}

impl Wal {
    /// Starts the writer thread for a log whose next record gets `next_lsn`; called by
    /// `open` once recovery has checked the directory.
    pub(crate) fn start(
        fs: Arc<dyn FileSystem>,
        dir: PathBuf,
        config: Config,
        next_lsn: Lsn,
        tail: Option<Tail>,
        lock: DirLock,
    ) -> Result<Wal, StorageError> {
        let last = Lsn(next_lsn.0 - 1);
        let shared = Arc::new(Shared {
            pending: Mutex::new(Unwritten {
                buf: Vec::new(),
                first_lsn: next_lsn,
                next_lsn,
                failed: None,
                closing: false,
            }),
            work: Condvar::new(),
            space: Condvar::new(),
            appended: AtomicU64::new(last.0),
            durable: Arc::new(DurableState::new(last)),
            config,
            fs,
            dir,
            snapshot_busy: AtomicBool::new(false),
            observer: std::sync::OnceLock::new(),
            read_from: AtomicU64::new(u64::MAX),
        });
        let writer = Writer::new(Arc::clone(&shared), last, tail);
        let handle = std::thread::Builder::new()
            .name("pitboss-wal".into())
            .spawn(move || writer.run())
            .map_err(|e| StorageError::io(&shared.dir, e))?;
        Ok(Wal {
            shared,
            writer: Mutex::new(Some(handle)),
            _lock: lock,
        })
    }

    /// Keeps every record after `lsn` on disk: from now on retention deletes a
    /// segment only if both the fallback snapshot and `lsn` are past it. A reader
    /// that reads the log behind the snapshots (the history archiver) calls this
    /// before the first snapshot and again as it moves on.
    pub fn hold_after(&self, lsn: Lsn) {
        self.shared.read_from.store(lsn.0, Ordering::Release);
    }

    /// The first record the log's segments on disk hold (`None` when there are none):
    /// older records were deleted once a snapshot, and the archive, were past them.
    pub fn oldest_on_disk(&self) -> Result<Option<Lsn>, StorageError> {
        let (fs, dir) = (&*self.shared.fs, self.shared.dir.as_path());
        let listing = super::dir::Listing::read(fs, dir)?;
        Ok(listing.segments.first().map(|(first, _)| *first))
    }

    /// Puts the log into its failed state, as a write error would: every waiter and
    /// every later append gets an error naming `cause`. For a failure of something
    /// the log's records depend on (the history store): the engine stops
    /// acknowledging rather than carry on without it.
    pub fn fail(&self, cause: StorageError) {
        self.shared.fail(cause);
    }

    /// Feeds `f` every record with `after < LSN <= upto`, in order, read from the
    /// segment files; returns the last LSN fed (`after` if none). `upto` must be
    /// durable (`durable_lsn`): those bytes are written and stay put. A record that
    /// cannot be read there is corruption, reported with its file and offset.
    ///
    /// `cursor` remembers where the last call stopped: a reader that comes back for
    /// the records after it reads only the bytes written since, not the segment
    /// again from its start (pass a fresh `LogCursor` to start anywhere).
    pub fn read_durable<E, F>(
        &self,
        after: Lsn,
        upto: Lsn,
        cursor: &mut LogCursor,
        mut f: F,
    ) -> Result<Lsn, E>
    where
        E: From<StorageError>,
        F: FnMut(Lsn, &[u8]) -> Result<(), E>,
    {
        let (fs, dir) = (&*self.shared.fs, self.shared.dir.as_path());
        let max_len = self.shared.config.max_record_len;
        let listing = super::dir::Listing::read(fs, dir)?;
        // The segment holding `after + 1`: the last one starting at or before it.
        let start = listing
            .segments
            .iter()
            .rposition(|(first, _)| first.0 <= after.0 + 1)
            .unwrap_or(0);
        let mut last = after;
        let mut bytes = Vec::new();
        for (first, path) in &listing.segments[start..] {
            if first.0 > upto.0 || last.0 >= upto.0 {
                break;
            }
            if first.0 > last.0 + 1 {
                let why = format!(
                    "records {} to {} are missing from the log",
                    last.0 + 1,
                    first.0 - 1
                );
                return Err(StorageError::corrupt(path, 0, why).into());
            }
            // Resume where the cursor stopped if it stopped in this segment at or
            // before the first record wanted; else from the segment's first record.
            let resume =
                cursor.segment == *first && cursor.next > Lsn(0) && cursor.next.0 <= last.0 + 1;
            let (skip, mut lsn) = if resume {
                (cursor.offset, cursor.next)
            } else {
                (segment::SEGMENT_HEADER_LEN as u64, *first)
            };
            read_from(fs, path, skip, &mut bytes).map_err(|e| StorageError::io(path, e))?;
            let mut offset = 0;
            while lsn.0 <= upto.0 && offset < bytes.len() {
                let at = skip + offset as u64;
                let (payload, next) = segment::read_frame(&bytes, offset, lsn, max_len)
                    .map_err(|bad| StorageError::corrupt(path, at, bad.describe(lsn)))?;
                if lsn.0 > last.0 {
                    f(lsn, payload)?;
                    last = lsn;
                }
                offset = next;
                lsn = Lsn(lsn.0 + 1);
                *cursor = LogCursor {
                    segment: *first,
                    offset: skip + next as u64,
                    next: lsn,
                };
            }
        }
        if last.0 < upto.0 {
            let why = format!(
                "the log ends at {} before durable record {}",
                last.0, upto.0
            );
            return Err(StorageError::corrupt(dir, 0, why).into());
        }
        Ok(last)
    }

    /// Appends one record and returns its LSN. The record is not durable yet: wait for
    /// the LSN with [`wait_durable`](Self::wait_durable) or [`durable`](Self::durable).
    ///
    /// Blocks only for backpressure (more than `max_pending_bytes` waiting for the disk).
    pub fn append(&self, payload: &[u8]) -> Result<Lsn, StorageError> {
        let max = self.shared.config.max_record_len;
        if payload.len() > max as usize {
            return Err(StorageError::RecordTooLarge {
                len: payload.len(),
                max,
            });
        }
        self.append_with(|buf| buf.extend_from_slice(payload))
    }

    /// Appends one record whose payload `f` writes straight into the log's buffer (to
    /// serialize without an intermediate copy). `f` must only append to the `Vec` it is
    /// given; it runs under the log's internal lock, so it must be quick and must not
    /// call back into this `Wal`.
    pub fn append_with(&self, f: impl FnOnce(&mut Vec<u8>)) -> Result<Lsn, StorageError> {
        self.try_append_with(|buf| {
            f(buf);
            Ok::<(), StorageError>(())
        })
    }

    /// Like [`append_with`](Self::append_with) for a fallible serializer: if `f` fails,
    /// or panics, nothing is appended, no LSN is used, and `f`'s error is returned.
    /// Storage errors are converted with `E: From<StorageError>`.
    pub fn try_append_with<E, F>(&self, f: F) -> Result<Lsn, E>
    where
        E: From<StorageError>,
        F: FnOnce(&mut Vec<u8>) -> Result<(), E>,
    {
        let shared = &*self.shared;
        let mut p = shared.pending.lock();
        wait_for_room(shared, &mut p)?;
        let was_empty = p.buf.is_empty();
        frame_record(&mut p.buf, shared.config.max_record_len, f)?;
        let lsn = p.next_lsn;
        p.next_lsn = Lsn(lsn.0 + 1);
        debug_assert_eq!(
            shared.appended.load(Ordering::Relaxed) + 1,
            lsn.0,
            "LSNs are handed out densely"
        );
        shared.appended.store(lsn.0, Ordering::Release);
        drop(p);
        // The writer only sleeps on an empty buffer, so only the first record of a batch
        // needs to wake it.
        if was_empty {
            shared.work.notify_one();
        }
        Ok(lsn)
    }

    /// The LSN of the newest record appended so far (`Lsn(0)` if none ever was).
    pub fn appended_lsn(&self) -> Lsn {
        Lsn(self.shared.appended.load(Ordering::Acquire))
    }

    /// Every record up to this LSN is durable (per the fsync policy).
    /// Sets the observer of durable batches (once; a second call is ignored).
    pub fn observe(&self, observer: Arc<dyn SyncObserver>) {
        let _ = self.shared.observer.set(observer);
    }

    pub fn durable_lsn(&self) -> Lsn {
        self.shared.durable.durable()
    }

    /// Blocks until `lsn` is durable. Fails if the log has failed (or closes) first, and
    /// with `NotAppended` for an LSN not handed out yet (it could never become durable).
    pub fn wait_durable(&self, lsn: Lsn) -> Result<(), StorageError> {
        self.shared.check_appended(lsn)?;
        self.shared.durable.wait(lsn)
    }

    /// A future that resolves like [`wait_durable`](Self::wait_durable), for async callers.
    pub fn durable(&self, lsn: Lsn) -> DurableFuture {
        let early = self.shared.check_appended(lsn).err();
        DurableFuture::new(Arc::clone(&self.shared.durable), lsn, early)
    }

    /// Waits until everything appended so far is durable.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.shared.durable.wait(self.appended_lsn())
    }

    /// The disk error that put the log into its failed state, if one did.
    pub fn failure(&self) -> Option<StorageError> {
        self.shared
            .durable
            .failure()
            .map(|cause| StorageError::Failed { cause })
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The configuration the log runs with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Starts writing a snapshot of the state that includes at least every record up to
    /// `lsn` (see [`SnapshotWriter`]). One snapshot can be in progress at a time.
    pub fn begin_snapshot(&self, lsn: Lsn) -> Result<SnapshotWriter, StorageError> {
        // A failed log takes no snapshot: what memory holds may include effects the
        // log never made durable, and record ids handed to appends that failed.
        if let Some(failed) = self.failure() {
            return Err(failed);
        }
        self.shared.check_appended(lsn)?;
        SnapshotWriter::begin(Arc::clone(&self.shared), lsn)
    }

    /// Stops accepting appends, lets the writer write (and, unless the policy is `Never`,
    /// fsync) everything already appended, and stops the writer thread. Returns the
    /// failure if the log failed at any point. Later calls return at once.
    pub fn close(&self) -> Result<(), StorageError> {
        self.shared.pending.lock().closing = true;
        self.shared.work.notify_one();
        self.shared.space.notify_all();
        // Held across the join, so a concurrent `close` also returns only once it is done.
        let mut writer = self.writer.lock();
        if let Some(handle) = writer.take() {
            // The writer catches its own panics (and fails the log), so join only
            // errs if that machinery itself broke.
            if handle.join().is_err() {
                self.shared.fail(StorageError::Internal(
                    "the WAL writer thread panicked".into(),
                ));
            }
        }
        match self.failure() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        // Errors were already delivered to every waiter; nobody is left to tell.
        let _ = self.close();
    }
}

/// Waits (releasing the lock) while the pending buffer is full; fails if the log has
/// failed or is closing.
fn wait_for_room(
    shared: &Shared,
    p: &mut parking_lot::MutexGuard<'_, Unwritten>,
) -> Result<(), StorageError> {
    loop {
        if let Some(cause) = &p.failed {
            return Err(StorageError::Failed {
                cause: Arc::clone(cause),
            });
        }
        if p.closing {
            return Err(StorageError::Closed);
        }
        if p.buf.len() < shared.config.max_pending_bytes {
            return Ok(());
        }
        shared.space.wait(p);
    }
}

/// Appends one whole frame to `buf` with `f` writing its payload. On any failure (an
/// error from `f`, a payload over `max_len`, a panic in `f`) `buf` is cut back to where
/// it was, so the buffer always holds whole frames only.
fn frame_record<E, F>(buf: &mut Vec<u8>, max_len: u32, f: F) -> Result<(), E>
where
    E: From<StorageError>,
    F: FnOnce(&mut Vec<u8>) -> Result<(), E>,
{
    struct Rollback<'a> {
        buf: &'a mut Vec<u8>,
        start: usize,
        done: bool,
    }
    impl Drop for Rollback<'_> {
        fn drop(&mut self) {
            if !self.done {
                self.buf.truncate(self.start);
            }
        }
    }

    let start = segment::begin_frame(buf);
    let mut guard = Rollback {
        buf,
        start,
        done: false,
    };
    f(&mut *guard.buf)?;
    let Some(len) = guard.buf.len().checked_sub(start + FRAME_HEADER_LEN) else {
        return Err(StorageError::Internal("an append_with closure removed bytes".into()).into());
    };
    if len > max_len as usize {
        return Err(StorageError::RecordTooLarge { len, max: max_len }.into());
    }
    guard.done = true;
    segment::finish_frame(guard.buf, start);
    debug_assert_eq!(
        segment::u32_at(guard.buf, start).map(|l| l as usize),
        Some(len),
        "frame length matches its payload"
    );
    Ok(())
}
