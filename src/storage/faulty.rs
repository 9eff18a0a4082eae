//! [`FaultyFs`]: a [`FileSystem`] for tests that stores real files (through [`StdFs`]) but
//! can fail writes and fsyncs on demand, run out of space, tear writes, and remember how
//! much of each file was synced so a test can check durability claims or simulate a crash.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::fs::{FileSystem, StdFs, WritableFile};

/// A fault-injecting file system over real files. Clones share their fault settings.
#[derive(Debug, Clone, Default)]
pub struct FaultyFs {
    inner: StdFs,
    state: Arc<Mutex<FaultState>>,
}

#[derive(Debug, Default)]
struct FaultState {
    /// Write calls so far (every call, successful or not).
    writes: u64,
    /// Successful sync calls so far.
    syncs: u64,
    /// The write call with this number fails without writing anything.
    fail_write_at: Option<u64>,
    /// The write call with this number writes only the given prefix, then fails.
    tear_write_at: Option<(u64, usize)>,
    /// Every sync fails while set.
    fail_syncs: bool,
    /// Bytes that may still be written before writes fail with "no space".
    space_left: Option<u64>,
    /// Writes accept at most this many bytes per call (legal short writes).
    max_write: Option<usize>,
    /// Each sync sleeps this long first, as a slow disk would (lets batches form).
    sync_delay: Duration,
    /// Syncs only move the synced marks, without asking the OS: a power cut is
    /// simulated by [`FaultyFs::lose_unsynced_data`] from the marks anyway, and the
    /// simulator makes thousands of syncs a second.
    marks_only: bool,
    /// Written and synced length of every file written through this file system.
    files: HashMap<PathBuf, Track>,
    /// The most bytes any file has had written and not synced.
    max_unsynced: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Track {
    /// Where `write` has got to, and how much of that a sync covered.
    written: u64,
    synced: u64,
    /// The end of the zeros `preallocate` wrote, and how much of that a sync covered.
    allocated: u64,
    allocated_synced: u64,
}

impl Track {
    /// A file whose `len` bytes are all written and durable, with nothing
    /// preallocated past them (after a cut, a truncation, or a reopen).
    fn settled(len: u64) -> Track {
        Track {
            written: len,
            synced: len,
            allocated: len,
            allocated_synced: len,
        }
    }
}

/// The unit a disk writes atomically, for [`FaultyFs::lose_unsynced_data_torn`].
pub const PAGE_BYTES: u64 = 4096;

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected fault: {what}"))
}

impl FaultyFs {
    /// A file system with no faults armed.
    pub fn new() -> Self {
        Self::default()
    }

    /// A file system whose syncs only move its synced marks (see `marks_only`):
    /// for simulations, where no real power cut can happen.
    pub fn marks_only() -> Self {
        let fs = Self::default();
        fs.state.lock().marks_only = true;
        fs
    }

    /// Makes the `n`th write call from now (1 = the next one) fail without writing.
    pub fn fail_nth_write(&self, n: u64) {
        let mut s = self.state.lock();
        s.fail_write_at = Some(s.writes + n.max(1));
    }

    /// Makes the `n`th write call from now write only its first `keep` bytes, then fail:
    /// what a crash or a device error in the middle of a write leaves behind.
    pub fn tear_nth_write(&self, n: u64, keep: usize) {
        let mut s = self.state.lock();
        s.tear_write_at = Some((s.writes + n.max(1), keep));
    }

    /// Makes every sync fail (or succeed again).
    pub fn fail_syncs(&self, fail: bool) {
        self.state.lock().fail_syncs = fail;
    }

    /// Lets `bytes` more bytes be written; after that writes fail with `StorageFull`
    /// (a write straddling the limit writes what fits and reports a short write first).
    pub fn enospc_after(&self, bytes: u64) {
        self.state.lock().space_left = Some(bytes);
    }

    /// Limits every write call to `max` bytes (short writes, which callers must retry).
    pub fn short_writes(&self, max: usize) {
        self.state.lock().max_write = Some(max.max(1));
    }

    /// Makes each sync take at least `delay`.
    pub fn sync_delay(&self, delay: Duration) {
        self.state.lock().sync_delay = delay;
    }

    /// Disarms every fault (counters and tracking are kept).
    pub fn clear_faults(&self) {
        let mut s = self.state.lock();
        s.fail_write_at = None;
        s.tear_write_at = None;
        s.fail_syncs = false;
        s.space_left = None;
        s.max_write = None;
        s.sync_delay = Duration::ZERO;
    }

    /// Successful syncs so far.
    pub fn sync_count(&self) -> u64 {
        self.state.lock().syncs
    }

    /// Write calls so far.
    pub fn write_count(&self) -> u64 {
        self.state.lock().writes
    }

    /// The most bytes any file has had written and not yet synced, so far.
    pub fn max_unsynced_bytes(&self) -> u64 {
        self.state.lock().max_unsynced
    }

    /// How many bytes of `path` were durable as of its last successful sync.
    pub fn synced_len(&self, path: &Path) -> u64 {
        self.state.lock().files.get(path).map_or(0, |t| t.synced)
    }

    /// Simulates a power cut: every file written through this file system loses the bytes
    /// written after its last successful sync (one of the outcomes a real crash allows).
    pub fn lose_unsynced_data(&self) -> io::Result<()> {
        self.lose_unsynced_data_torn(|_, _| 0)
    }

    /// Simulates a power cut that tears writes. Of the bytes each file had written
    /// after its last successful sync:
    /// - those written over zeros that `preallocate` wrote and a sync made durable
    ///   (blocks the file owned) may reach the disk in any order: `keep(path, n)` is
    ///   asked for each [`PAGE_BYTES`] page of them (`n` its unsynced bytes) how many
    ///   survive (a prefix of the page; the rest reads back as the zeros it held);
    /// - those that extended the file survive as a prefix: `keep(path, n)` is asked
    ///   once, for all `n` of them (an append's new size is committed only after its
    ///   data).
    ///
    /// Zeros preallocated and not yet synced are lost. Files are visited in path
    /// order and pages in file order, so a seeded `keep` gives the same cut every time.
    pub fn lose_unsynced_data_torn(
        &self,
        mut keep: impl FnMut(&Path, u64) -> u64,
    ) -> io::Result<()> {
        let mut s = self.state.lock();
        let mut paths: Vec<PathBuf> = s
            .files
            .iter()
            .filter(|(_, t)| t.written > t.synced || t.allocated > t.allocated_synced)
            .map(|(p, _)| p.clone())
            .collect();
        paths.sort();
        for path in paths {
            let Some(track) = s.files.get_mut(&path) else {
                continue;
            };
            if self.inner.file_len(&path).is_err() {
                continue;
            }
            let overwrite_end = track.written.min(track.allocated_synced).max(track.synced);
            let mut page = track.synced;
            let mut file = None;
            while page < overwrite_end {
                let end = ((page / PAGE_BYTES + 1) * PAGE_BYTES).min(overwrite_end);
                let kept = keep(&path, end - page).min(end - page);
                if page + kept < end {
                    if file.is_none() {
                        file = Some(std::fs::OpenOptions::new().write(true).open(&path)?);
                    }
                    if let Some(f) = &file {
                        super::fs::write_zeros_at(f, page + kept, end - page - kept)?;
                    }
                }
                page = end;
            }
            let appended = track.written - overwrite_end;
            let kept = if appended > 0 {
                keep(&path, appended).min(appended)
            } else {
                0
            };
            let len = (overwrite_end + kept).max(track.allocated_synced);
            self.inner.truncate(&path, len)?;
            *track = Track::settled(len);
        }
        Ok(())
    }

    /// Starts tracking a freshly created (empty) file.
    fn track_new(&self, path: &Path) {
        self.state
            .lock()
            .files
            .insert(path.to_path_buf(), Track::default());
    }
}

struct FaultyFile {
    inner: Box<dyn WritableFile>,
    path: PathBuf,
    state: Arc<Mutex<FaultState>>,
}

impl FaultyFile {
    fn sync(&mut self, all: bool) -> io::Result<()> {
        let (delay, fail, marks_only) = {
            let s = self.state.lock();
            (s.sync_delay, s.fail_syncs, s.marks_only)
        };
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        if fail {
            return Err(injected("fsync failed"));
        }
        // What is synced is what had been written when the sync started.
        let (written, allocated) = self
            .state
            .lock()
            .files
            .get(&self.path)
            .map_or((0, 0), |t| (t.written, t.allocated));
        match (marks_only, all) {
            (true, _) => {}
            (false, true) => self.inner.sync_all()?,
            (false, false) => self.inner.sync_data()?,
        }
        let mut s = self.state.lock();
        s.syncs += 1;
        let track = s.files.entry(self.path.clone()).or_default();
        track.synced = track.synced.max(written);
        track.allocated_synced = track.allocated_synced.max(allocated);
        Ok(())
    }
}

impl WritableFile for FaultyFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut s = self.state.lock();
        s.writes += 1;
        let n = s.writes;
        if s.fail_write_at == Some(n) {
            return Err(injected("write failed"));
        }
        let mut len = buf.len().min(s.max_write.unwrap_or(usize::MAX));
        let mut fail_after = None;
        if let Some((at, keep)) = s.tear_write_at {
            if at == n {
                len = len.min(keep);
                fail_after = Some(injected("torn write"));
            }
        }
        // Writing over preallocated zeros takes no space: the blocks are the file's.
        let track = s.files.get(&self.path).copied().unwrap_or_default();
        let owned = track.allocated.saturating_sub(track.written);
        if let Some(left) = s.space_left {
            let room = owned.saturating_add(left);
            if room == 0 && len > 0 {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "injected: no space left",
                ));
            }
            len = len.min(usize::try_from(room).unwrap_or(usize::MAX));
        }
        let written = if len == 0 {
            0
        } else {
            self.inner.write(&buf[..len])?
        };
        if let Some(left) = s.space_left.as_mut() {
            *left -= (written as u64).saturating_sub(owned);
        }
        let track = s.files.entry(self.path.clone()).or_default();
        track.written += written as u64;
        let unsynced = track.written - track.synced;
        s.max_unsynced = s.max_unsynced.max(unsynced);
        match fail_after {
            Some(e) => Err(e),
            None => Ok(written),
        }
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.sync(false)
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.sync(true)
    }

    /// Takes from the space left like a write (a full disk refuses it whole) and is
    /// not counted among the write calls.
    fn preallocate(&mut self, from: u64, len: u64) -> io::Result<()> {
        let mut s = self.state.lock();
        if let Some(left) = s.space_left.as_mut() {
            if *left < len {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "injected: no space left",
                ));
            }
            *left -= len;
        }
        self.inner.preallocate(from, len)?;
        let track = s.files.entry(self.path.clone()).or_default();
        track.allocated = track.allocated.max(from + len);
        Ok(())
    }
}

impl FileSystem for FaultyFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.inner.create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list(dir)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let inner = self.inner.create(path)?;
        self.track_new(path);
        Ok(Box::new(FaultyFile {
            inner,
            path: path.to_path_buf(),
            state: Arc::clone(&self.state),
        }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let inner = self.inner.open_append(path)?;
        // A file that survived a restart counts as synced up to its current length.
        let len = self.inner.file_len(path)?;
        self.state
            .lock()
            .files
            .insert(path.to_path_buf(), Track::settled(len));
        Ok(Box::new(FaultyFile {
            inner,
            path: path.to_path_buf(),
            state: Arc::clone(&self.state),
        }))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        self.inner.open_read(path)
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        self.inner.file_len(path)
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        self.inner.truncate(path, len)?;
        let mut s = self.state.lock();
        if let Some(track) = s.files.get_mut(path) {
            *track = Track::settled(len);
        }
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)?;
        let mut s = self.state.lock();
        if let Some(track) = s.files.remove(from) {
            s.files.insert(to.to_path_buf(), track);
        }
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)?;
        self.state.lock().files.remove(path);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let s = self.state.lock();
        if s.fail_syncs {
            return Err(injected("directory fsync failed"));
        }
        if s.marks_only {
            return Ok(());
        }
        drop(s);
        self.inner.sync_dir(dir)
    }
}
