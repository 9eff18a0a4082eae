//! Start-up: [`open`] checks the directory, picks the snapshot to start from, checks every
//! WAL record the engine will have to replay, repairs a torn tail, starts the writer, and
//! hands back a [`Recovery`]: the snapshot to load and the records to replay after it.
//!
//! # Snapshot choice
//! The newest snapshot that passes its checks (header, length, body checksum) is used. A
//! newest snapshot that is unreadable or corrupt is skipped for the one before it; every
//! skipped snapshot is listed in [`Recovery::rejected_snapshots`] with the reason.
//!
//! # Which records are checked and replayed
//! Replay starts at `P + 1`, `P` being the snapshot's LSN (0 without one), in the last
//! segment whose first LSN is `<= P + 1`. That segment and every later one are read in
//! full (all but the last, which alone may be repaired, on up to one thread per core;
//! their outcomes are then taken in log order, so the error reported is the first);
//! each must begin with a valid header whose LSN matches its name and continue the
//! previous one's LSNs exactly (a gap is corruption). Older segments are not read: the
//! snapshot covers them (they are kept only for a fallback to an older snapshot).
//!
//! # Torn tail or corruption?
//! A crash in the middle of a write can leave a partial last batch: an incomplete frame,
//! or (where the file system extended the file before writing the data) a frame of
//! zeros or garbage. It can only be at the end of the **last** segment: every other
//! segment was fsynced before the next one was created (the writer does so even under
//! `FsyncPolicy::Never`). So, scanning frame by frame and stopping at the first bad frame
//! (short header, impossible length, payload past the end of the file, or checksum
//! mismatch):
//!
//! * in any segment but the last, a bad frame, or bytes after the last whole frame, are
//!   **corruption**;
//! * in the last segment, if only zeros follow the bad frame, it is a **torn tail**
//!   (what preallocated space, or a write that never reached the disk, reads back as);
//! * in the last segment ending in zeros (at least a frame header of them: a log
//!   written with preallocation that did not close, see the writer module), records
//!   were written over zeros, and at a power cut the pages of the last unsynced piece
//!   may have reached the disk in any order: valid records may follow a torn one. That
//!   piece starts at or before the bad frame and is at most
//!   [`UNSYNCED_WINDOW`](segment::UNSYNCED_WINDOW) bytes long, or one record written
//!   header first (its header, if intact, gives its length). So the bad frame is a
//!   **torn tail** if every byte more than that far past its start is zero, and
//!   **corruption** otherwise;
//! * in any other last segment (written by appending: a torn batch is a prefix), the bad
//!   frame is a **torn tail** if nothing valid follows it: every byte position after
//!   the start of the bad frame is tried as the start of a frame, and if any of them
//!   holds a frame whose checksum is valid for one of the next 64 LSNs, good records
//!   follow the damage and it is **corruption**. (The LSN inside the checksum makes a
//!   chance match one in about 2^32/64; the search has a work limit, and hitting it is
//!   reported as corruption rather than guessed at.)
//!
//! A torn tail is cut off (the file is truncated to the end of the last good record and
//! fsynced), reported in [`Recovery::torn_tail`], and appends continue from there.
//! Corruption stops start-up with [`StorageError::Corrupt`] naming the file and the byte
//! offset of the bad frame. A last segment too short to hold its header, or whose header
//! bytes are all zero, was torn while being created: it holds no records and is removed
//! (also reported as a torn tail).
//!
//! The cost of these rules: damage to the very last record(s) of the log, with nothing
//! valid after it, cannot be told from a torn write and is truncated, not refused; after
//! a crash of a log written with preallocation, neither can damage within its last
//! `UNSYNCED_WINDOW` bytes (a clean close cuts the zeros off, and the appended rule
//! applies again). Under `FsyncPolicy::Always` such a record was never acknowledged
//! unless the disk lost synced data; the report in `torn_tail` makes the loss visible
//! either way.

use std::collections::VecDeque;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use super::config::Config;
use super::dir::Listing;
use super::error::{IoContext, StorageError};
use super::fs::{read_into, FileSystem};
use super::lock::DirLock;
use super::segment::{self, TailVerdict, SEGMENT_HEADER_LEN};
use super::snapshot_file::{self, SnapshotReader};
use super::wal::Wal;
use super::writer::Tail;
use super::{Lsn, MAX_LSN};

/// What start-up found, and the way to rebuild the engine's state: load `snapshot` (if
/// any), then replay `records` (every record with an LSN above `snapshot_lsn`, in order).
#[derive(Debug)]
pub struct Recovery {
    /// The snapshot to start from; `None` means start from the empty state.
    pub snapshot: Option<SnapshotReader>,
    /// Its LSN (0 without a snapshot): `records` starts right after it.
    pub snapshot_lsn: Lsn,
    /// Newer snapshots that were skipped, newest first, with the reason.
    pub rejected_snapshots: Vec<RejectedSnapshot>,
    /// The torn tail that was cut off the last segment, if there was one.
    pub torn_tail: Option<TornTail>,
    /// The last LSN in the recovered state; the next append gets the one after it.
    pub last_lsn: Lsn,
    /// The records to replay.
    pub records: RecordIter,
}

/// A snapshot recovery could not use.
#[derive(Debug, Clone)]
pub struct RejectedSnapshot {
    pub path: PathBuf,
    pub lsn: Lsn,
    pub error: StorageError,
}

/// A torn tail removed from the last segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub file: PathBuf,
    /// Where the file was cut (0 if the whole file was removed).
    pub offset: u64,
    /// How many bytes were removed.
    pub dropped_bytes: u64,
    /// What was wrong with the first removed frame.
    pub reason: String,
}

/// Opens (creating if need be) the log in `dir`: recovers it as the module documentation
/// describes and starts its writer thread.
///
/// The directory must belong to this process alone: two logs open on one directory will
/// corrupt it.
pub fn open(
    dir: impl AsRef<Path>,
    config: Config,
    fs: Arc<dyn FileSystem>,
) -> Result<(Wal, Recovery), StorageError> {
    config.validate()?;
    let dir = dir.as_ref().to_path_buf();
    fs.create_dir_all(&dir).at(&dir)?;
    // Before anything is read or cut: nobody else may be appending here.
    let lock = DirLock::acquire(&dir)?;
    let listing = Listing::read(&*fs, &dir)?;
    remove_temporaries(&*fs, &dir, &listing.temporaries)?;
    let (snapshot, rejected_snapshots) = choose_snapshot(&*fs, &listing.snapshots);
    let snapshot_lsn = snapshot.as_ref().map_or(Lsn(0), SnapshotReader::lsn);
    let log = check_log(&*fs, &listing.segments, snapshot_lsn, config.max_record_len)?;
    let last_lsn = log.end.max(snapshot_lsn);
    let tail = match log.replay.last() {
        // Append to the last segment only if its records run right up to `last_lsn`.
        Some(last) if last.last_lsn() == last_lsn => Some(Tail {
            file: fs.open_append(&last.path).at(&last.path)?,
            path: last.path.clone(),
            len: last.end as u64,
            allocated: last.end as u64,
        }),
        _ => None,
    };
    let records = RecordIter {
        fs: Arc::clone(&fs),
        segments: log.replay.into(),
        after: snapshot_lsn,
        end: log.end,
        max_len: config.max_record_len,
        current: None,
        spare: log.buffer,
        retired: Vec::new(),
        done: false,
    };
    let wal = Wal::start(fs, dir, config, Lsn(last_lsn.0 + 1), tail, lock)?;
    Ok((
        wal,
        Recovery {
            snapshot,
            snapshot_lsn,
            rejected_snapshots,
            torn_tail: log.torn_tail,
            last_lsn,
            records,
        },
    ))
}

fn remove_temporaries(
    fs: &dyn FileSystem,
    dir: &Path,
    temporaries: &[PathBuf],
) -> Result<(), StorageError> {
    for path in temporaries {
        fs.remove_file(path).at(path)?;
    }
    if !temporaries.is_empty() {
        fs.sync_dir(dir).at(dir)?;
    }
    Ok(())
}

/// The newest snapshot that passes its checks, and the newer ones that did not.
fn choose_snapshot(
    fs: &dyn FileSystem,
    snapshots: &[(Lsn, PathBuf)],
) -> (Option<SnapshotReader>, Vec<RejectedSnapshot>) {
    let mut rejected = Vec::new();
    for (lsn, path) in snapshots.iter().rev() {
        let opened =
            snapshot_file::check(fs, path, *lsn).and_then(|c| SnapshotReader::open(fs, path, c));
        match opened {
            Ok(reader) => return (Some(reader), rejected),
            Err(error) => rejected.push(RejectedSnapshot {
                path: path.clone(),
                lsn: *lsn,
                error,
            }),
        }
    }
    (None, rejected)
}

/// A checked segment: its records are the good frames before byte `end`.
#[derive(Debug, Clone)]
struct Extent {
    path: PathBuf,
    first: Lsn,
    records: u64,
    end: usize,
    /// `segment::extent_crc` of bytes `0..end` when they were checked.
    crc: u32,
}

impl Extent {
    /// LSN of its last record (`first - 1` when it has none).
    fn last_lsn(&self) -> Lsn {
        Lsn(self.first.0 + self.records - 1)
    }
}

/// The outcome of checking the segments that replay needs.
struct CheckedLog {
    /// Segments to replay from, in order.
    replay: Vec<Extent>,
    /// LSN of the last record in the log (0 if it has none).
    end: Lsn,
    torn_tail: Option<TornTail>,
    /// The buffer the segments were read into, for replay to read them into again.
    buffer: Vec<u8>,
}

/// Checks the segments from the one holding `snapshot_lsn + 1` on (see the module docs).
fn check_log(
    fs: &dyn FileSystem,
    segments: &[(Lsn, PathBuf)],
    snapshot_lsn: Lsn,
    max_len: u32,
) -> Result<CheckedLog, StorageError> {
    let mut log = CheckedLog {
        replay: Vec::new(),
        end: Lsn(0),
        torn_tail: None,
        buffer: Vec::new(),
    };
    let Some((first, path)) = segments.first() else {
        return Ok(log);
    };
    let need = snapshot_lsn.0 + 1;
    let Some(start) = segments.iter().rposition(|(lsn, _)| lsn.0 <= need) else {
        return Err(StorageError::corrupt(
            path,
            0,
            format!(
                "the log starts at LSN {} but replay must start at LSN {need}: records {need}..{} are missing",
                first.0,
                first.0 - 1
            ),
        ));
    };
    // Every segment but the last is only read, never repaired: check those in parallel,
    // then walk the outcomes in order, so the error reported is the first in the log.
    let (mut sealed, buffer) = check_sealed(fs, &segments[start..segments.len() - 1], max_len);
    log.buffer = buffer;
    for (i, (name_lsn, path)) in segments.iter().enumerate().skip(start) {
        if i > start && name_lsn.0 != log.end.0 + 1 {
            return Err(StorageError::corrupt(
                path,
                0,
                format!(
                    "LSN gap: the previous segment ends at LSN {} but this one starts at {}",
                    log.end.0, name_lsn.0
                ),
            ));
        }
        let is_last = i + 1 == segments.len();
        let checked = match sealed.get_mut(i - start).and_then(Option::take) {
            Some(checked) => checked,
            None => check_segment(fs, path, *name_lsn, is_last, max_len, &mut log.buffer),
        };
        match checked? {
            SegmentCheck::Good(extent, torn) => {
                log.end = extent.last_lsn();
                log.torn_tail = torn;
                log.replay.push(extent);
            }
            SegmentCheck::TornHeader(torn) => {
                log.end = Lsn(name_lsn.0 - 1);
                log.torn_tail = Some(torn);
            }
        }
    }
    Ok(log)
}

/// Checks `segments` (none of them the last of the log) on up to one thread per core.
/// Returns the outcome of each, in order (`None` for those left unchecked after a failed
/// one: the log is refused at the first failure anyway), and a buffer used to read them.
fn check_sealed(
    fs: &dyn FileSystem,
    segments: &[(Lsn, PathBuf)],
    max_len: u32,
) -> (Vec<Option<Result<SegmentCheck, StorageError>>>, Vec<u8>) {
    let mut outcomes: Vec<Option<Result<SegmentCheck, StorageError>>> =
        segments.iter().map(|_| None).collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    // Segments are taken in order, so all those before a failed one get checked.
    let work = || {
        let mut buffer = Vec::new();
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some((lsn, path)) = segments.get(i) else {
                break;
            };
            let checked = check_segment(fs, path, *lsn, false, max_len, &mut buffer);
            failed.fetch_or(checked.is_err(), Ordering::Relaxed);
            done.push((i, checked));
        }
        (done, buffer)
    };
    let threads = crate::cores::available().unwrap_or(1).min(segments.len());
    let mut results = Vec::with_capacity(threads);
    std::thread::scope(|scope| {
        // This thread works too; a helper that cannot be started is simply not there.
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
            .collect();
        results.push(work());
        for helper in helpers {
            match helper.join() {
                Ok(result) => results.push(result),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    let mut buffer = Vec::new();
    for (done, used) in results {
        for (i, checked) in done {
            if let Some(slot) = outcomes.get_mut(i) {
                *slot = Some(checked);
            }
        }
        if used.capacity() > buffer.capacity() {
            buffer = used;
        }
    }
    (outcomes, buffer)
}

enum SegmentCheck {
    /// Usable records, possibly after cutting off a torn tail.
    Good(Extent, Option<TornTail>),
    /// The last segment was torn while being created and has been removed.
    TornHeader(TornTail),
}

/// Reads (into `buf`) and checks one segment; in the last one, repairs a torn tail.
fn check_segment(
    fs: &dyn FileSystem,
    path: &Path,
    name_lsn: Lsn,
    is_last: bool,
    max_len: u32,
    buf: &mut Vec<u8>,
) -> Result<SegmentCheck, StorageError> {
    if name_lsn.0 == 0 || name_lsn > MAX_LSN {
        return Err(StorageError::corrupt(
            path,
            0,
            format!("impossible first LSN {} in the name", name_lsn.0),
        ));
    }
    read_into(fs, path, buf).at(path)?;
    let bytes = &buf[..];
    if is_last && header_torn(bytes, name_lsn) {
        fs.remove_file(path).at(path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        fs.sync_dir(dir).at(dir)?;
        return Ok(SegmentCheck::TornHeader(TornTail {
            file: path.to_path_buf(),
            offset: 0,
            dropped_bytes: bytes.len() as u64,
            reason: "segment header was never completely written".into(),
        }));
    }
    let header_lsn =
        segment::decode_header(bytes).map_err(|r| StorageError::corrupt(path, 0, r))?;
    if header_lsn != name_lsn {
        return Err(StorageError::corrupt(
            path,
            12,
            format!(
                "header says first LSN {} but the name says {}",
                header_lsn.0, name_lsn.0
            ),
        ));
    }
    let scan = segment::scan(bytes, name_lsn, max_len);
    let extent = Extent {
        path: path.to_path_buf(),
        first: name_lsn,
        records: scan.records,
        end: scan.end,
        crc: segment::extent_crc(bytes.get(..scan.end).unwrap_or_default()),
    };
    let Some(bad) = scan.bad else {
        return Ok(SegmentCheck::Good(extent, None));
    };
    let bad_lsn = Lsn(name_lsn.0 + scan.records);
    let reason = bad.describe(bad_lsn);
    let corrupt = |why: String| StorageError::corrupt(path, scan.end as u64, why);
    if !is_last {
        return Err(corrupt(format!(
            "{reason} (not the last segment, so not a torn tail)"
        )));
    }
    match segment::judge_tail(bytes, scan.end, bad, bad_lsn, max_len) {
        TailVerdict::Corrupt(why) => Err(corrupt(format!("{reason}{why}"))),
        TailVerdict::Torn { zeros } => {
            fs.truncate(path, scan.end as u64).at(path)?;
            let reason = if zeros {
                format!("only zeros from record {} on", bad_lsn.0)
            } else {
                reason
            };
            let torn = TornTail {
                file: path.to_path_buf(),
                offset: scan.end as u64,
                dropped_bytes: (bytes.len() - scan.end) as u64,
                reason,
            };
            Ok(SegmentCheck::Good(extent, Some(torn)))
        }
    }
}

/// True if a segment holds nothing but a header torn while the file was being created:
/// a part of the header it should have (possibly none), then only zeros (preallocated
/// space, or space the file system added before the data) or nothing.
fn header_torn(bytes: &[u8], name_lsn: Lsn) -> bool {
    let header = segment::encode_header(name_lsn);
    let written = header
        .iter()
        .zip(bytes)
        .take_while(|(want, got)| want == got)
        .count();
    written < SEGMENT_HEADER_LEN && bytes[written..].iter().all(|&b| b == 0)
}

/// The records to replay, in LSN order, as `(lsn, payload)`. Segments are read one at a
/// time, into buffers reused from segment to segment (as `open`'s check does). Every
/// record was checked by `open`; a segment read again is checked against the checksum of
/// its checked bytes taken then, and if they differ (the files changed underneath), its
/// frames are checked one by one and the first that changed is reported as corruption.
///
/// Replay before committing snapshots: retention may delete segments this iterator has
/// yet to read once two newer snapshots exist.
#[derive(Debug)]
pub struct RecordIter {
    fs: Arc<dyn FileSystem>,
    segments: VecDeque<Extent>,
    /// Records up to this LSN are in the snapshot and skipped.
    after: Lsn,
    /// LSN of the last record to yield.
    end: Lsn,
    max_len: u32,
    current: Option<Current>,
    /// A buffer to read the next segment into.
    spare: Vec<u8>,
    /// The buffers of segments already replayed, kept to be reused once no batch of
    /// [`replay_shared`](Self::replay_shared) holds them any more (at most
    /// [`RETIRED_KEPT`]).
    retired: Vec<Arc<Vec<u8>>>,
    /// Set after the end or an error: the iterator is fused.
    done: bool,
}

/// How many replayed segments' buffers [`RecordIter`] keeps for reuse. Two cover the
/// usual case: the segment just left is still shared with lanes, the one before is free.
const RETIRED_KEPT: usize = 3;

/// A record as [`RecordIter::replay_shared`] hands it out: its LSN, its segment's
/// bytes, and where its payload lies in them.
type SharedRecord<'a> = (Lsn, &'a Arc<Vec<u8>>, Range<usize>);

#[derive(Debug)]
struct Current {
    extent: Extent,
    /// Shared, so that [`RecordIter::replay_shared`] can hand payloads to other threads
    /// without copying them.
    bytes: Arc<Vec<u8>>,
    offset: usize,
    lsn: Lsn,
    /// The checked bytes match their checksum from start-up: frames need no second
    /// check. Otherwise each frame is checked again, to name the one that changed.
    unchanged: bool,
}

impl RecordIter {
    /// Moves to the next record to yield and returns its LSN and where its payload is in
    /// `self.current.bytes`.
    fn advance(&mut self) -> Result<Option<(Lsn, Range<usize>)>, StorageError> {
        loop {
            if let Some(cur) = self.current.as_mut() {
                if cur.offset < cur.extent.end {
                    let lsn = cur.lsn;
                    let valid = cur.bytes.get(..cur.extent.end).unwrap_or_default();
                    let frame = if cur.unchanged {
                        segment::frame_at(valid, cur.offset, self.max_len)
                    } else {
                        segment::read_frame(valid, cur.offset, lsn, self.max_len)
                    };
                    let (payload, next) = frame.map_err(|bad| {
                        let why =
                            format!("{} (changed since start-up checked it)", bad.describe(lsn));
                        StorageError::corrupt(&cur.extent.path, cur.offset as u64, why)
                    })?;
                    let range = next - payload.len()..next;
                    cur.offset = next;
                    cur.lsn = Lsn(lsn.0 + 1);
                    if lsn > self.after {
                        return Ok(Some((lsn, range)));
                    }
                    continue;
                }
                if let Some(done) = self.current.take() {
                    self.retire(done.bytes);
                }
            }
            let Some(extent) = self.segments.pop_front() else {
                return Ok(None);
            };
            let mut bytes = self.free_buffer();
            read_into(&*self.fs, &extent.path, &mut bytes).at(&extent.path)?;
            if bytes.len() < extent.end {
                let why = "segment shrank since start-up checked it";
                return Err(StorageError::corrupt(&extent.path, bytes.len() as u64, why));
            }
            let checked = bytes.get(..extent.end).unwrap_or_default();
            let unchanged = segment::extent_crc(checked) == extent.crc;
            if !unchanged && segment::decode_header(checked) != Ok(extent.first) {
                let why = "segment header changed since start-up checked it";
                return Err(StorageError::corrupt(&extent.path, 0, why));
            }
            self.current = Some(Current {
                lsn: extent.first,
                extent,
                bytes: Arc::new(bytes),
                offset: SEGMENT_HEADER_LEN,
                unchanged,
            });
        }
    }

    /// Keeps a replayed segment's buffer for reuse (see `RETIRED_KEPT`).
    fn retire(&mut self, bytes: Arc<Vec<u8>>) {
        if self.retired.len() >= RETIRED_KEPT {
            self.retired.remove(0);
        }
        self.retired.push(bytes);
    }

    /// A buffer nobody else holds, to read a segment into: a fresh one for a 64 MiB
    /// segment would cost a page fault per 4 KiB.
    fn free_buffer(&mut self) -> Vec<u8> {
        let free = self.retired.iter().position(|b| Arc::strong_count(b) == 1);
        // Only this iterator could clone it, so the count cannot rise in between.
        if let Some(Ok(buffer)) = free.map(|i| Arc::try_unwrap(self.retired.swap_remove(i))) {
            return buffer;
        }
        std::mem::take(&mut self.spare)
    }

    /// The next record: its LSN, the bytes of its segment and where its payload is in them.
    fn next_shared(&mut self) -> Option<Result<SharedRecord<'_>, StorageError>> {
        if self.done {
            return None;
        }
        match self.advance() {
            Ok(Some((lsn, range))) => {
                debug_assert!(lsn <= self.end, "replay never passes the checked end");
                let cur = self.current.as_ref()?;
                debug_assert!(
                    range.end <= cur.bytes.len(),
                    "payloads lie in their segment"
                );
                Some(Ok((lsn, &cur.bytes, range)))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    /// Feeds every remaining record to `f` without copying payloads; returns how many were
    /// replayed. Stops at the first error, from the log or from `f`.
    pub fn replay<E, F>(&mut self, mut f: F) -> Result<u64, E>
    where
        E: From<StorageError>,
        F: FnMut(Lsn, &[u8]) -> Result<(), E>,
    {
        self.replay_shared(|lsn, bytes, range| f(lsn, bytes.get(range).unwrap_or_default()))
    }

    /// Like [`replay`](Self::replay), but hands `f` each record as the shared bytes of its
    /// segment and the range of its payload in them (always in bounds), so that `f` can
    /// pass records to other threads without copying: clone the `Arc` once per batch.
    /// Segments are read one at a time; a segment's bytes are freed once the last clone
    /// is dropped.
    pub fn replay_shared<E, F>(&mut self, mut f: F) -> Result<u64, E>
    where
        E: From<StorageError>,
        F: FnMut(Lsn, &Arc<Vec<u8>>, Range<usize>) -> Result<(), E>,
    {
        let mut count = 0;
        while let Some(record) = self.next_shared() {
            let (lsn, bytes, range) = record?;
            f(lsn, bytes, range)?;
            count += 1;
        }
        Ok(count)
    }

    /// LSN of the first record this iterator yields, if it yields any: the one after
    /// the snapshot.
    pub fn first(&self) -> Lsn {
        Lsn(self.after.0 + 1)
    }

    /// LSN of the last record this iterator will yield.
    pub fn end(&self) -> Lsn {
        self.end
    }
}

impl Iterator for RecordIter {
    type Item = Result<(Lsn, Vec<u8>), StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_shared().map(|r| {
            r.map(|(lsn, bytes, range)| (lsn, bytes.get(range).unwrap_or_default().to_vec()))
        })
    }
}
