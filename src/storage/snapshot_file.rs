//! Snapshot files: writing one (streamed, then made visible atomically), checking one, and
//! reading one back.
//!
//! # On-disk format (all integers little-endian)
//!
//! A snapshot is named `snapshot-<lsn:020>.snap`; while being written it is
//! `snapshot-<lsn:020>.snap.tmp`.
//!
//! ```text
//! +----------------------------------------------------------------------------+
//! | header, 24 bytes                                                           |
//! |   magic "PITBSNP\0" (8) | version u32 = 1 | lsn u64 | crc32c u32 of 0..20  |
//! +----------------------------------------------------------------------------+
//! | body: body_len bytes, opaque (the engine's serialized state)               |
//! +----------------------------------------------------------------------------+
//! | trailer, 12 bytes                                                          |
//! |   body_len u64 | crc32c u32 of the body                                    |
//! +----------------------------------------------------------------------------+
//! ```
//!
//! A snapshot at LSN `P` holds a state that includes at least every record up to `P` (it
//! may include later ones: snapshots are taken while appends continue, and the engine's
//! records are idempotent, so replaying them again is harmless). A cut-off file fails the
//! `body_len` check (the trailer is not where it should be), damage fails a checksum.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::dir;
use super::error::{IoContext, StorageError};
use super::fs::{write_all, FileSystem, WritableFile};
use super::segment::{decode_file_header, encode_file_header, parse_numbered_name, u32_at, u64_at};
use super::wal::Shared;
use super::{Lsn, MAX_LSN};

/// The first eight bytes of every snapshot.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"PITBSNP\0";
/// Length of the snapshot header.
pub const SNAPSHOT_HEADER_LEN: usize = 24;
/// Length of the snapshot trailer.
pub const SNAPSHOT_TRAILER_LEN: usize = 12;
/// Suffix of a snapshot still being written.
pub(crate) const TMP_SUFFIX: &str = ".tmp";
/// The writer hands bytes to the file in chunks of about this size.
const CHUNK: usize = 1 << 20;

/// The file name of the snapshot at `lsn`.
pub fn snapshot_file_name(lsn: Lsn) -> String {
    format!("snapshot-{:020}.snap", lsn.0)
}

/// The LSN in a snapshot file name, or `None` if `name` is not one.
pub fn parse_snapshot_name(name: &str) -> Option<Lsn> {
    parse_numbered_name(name, "snapshot-", ".snap").map(Lsn)
}

/// What a successful [`SnapshotWriter::commit`] did.
#[derive(Debug)]
pub struct Committed {
    /// The new snapshot file.
    pub path: PathBuf,
    pub lsn: Lsn,
    /// Older snapshots and WAL segments deleted by the retention rule.
    pub removed: Vec<PathBuf>,
    /// Deleting old files failed part-way (the new snapshot is committed regardless;
    /// leftover files are retried at the next commit).
    pub cleanup_error: Option<StorageError>,
}

/// Streams a snapshot into a temporary file; [`commit`](Self::commit) makes it visible.
/// Dropping it without committing deletes the temporary file.
pub struct SnapshotWriter {
    shared: Arc<Shared>,
    lsn: Lsn,
    tmp: PathBuf,
    file: Option<Box<dyn WritableFile>>,
    /// Bytes not yet handed to the file (the engine's serializer makes many small writes).
    buf: Vec<u8>,
    crc: u32,
    body_len: u64,
    /// An earlier write failed; the file is incomplete and must not be committed.
    broken: bool,
    committed: bool,
}

impl std::fmt::Debug for SnapshotWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotWriter")
            .field("lsn", &self.lsn)
            .field("tmp", &self.tmp)
            .field("body_len", &self.body_len)
            .finish()
    }
}

impl SnapshotWriter {
    pub(crate) fn begin(shared: Arc<Shared>, lsn: Lsn) -> Result<Self, StorageError> {
        if shared.snapshot_busy.swap(true, Ordering::AcqRel) {
            return Err(StorageError::SnapshotInProgress);
        }
        let tmp = shared
            .dir
            .join(format!("{}{TMP_SUFFIX}", snapshot_file_name(lsn)));
        // Built before the file is created so that Drop releases the busy flag on error.
        let mut writer = SnapshotWriter {
            shared,
            lsn,
            tmp,
            file: None,
            buf: Vec::with_capacity(CHUNK + SNAPSHOT_HEADER_LEN),
            crc: 0,
            body_len: 0,
            broken: false,
            committed: false,
        };
        writer.file = Some(writer.shared.fs.create(&writer.tmp).at(&writer.tmp)?);
        writer
            .buf
            .extend_from_slice(&encode_file_header(&SNAPSHOT_MAGIC, lsn));
        Ok(writer)
    }

    /// The LSN this snapshot covers.
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }

    /// Body bytes written so far.
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other("an earlier snapshot write failed"));
        }
        let Some(file) = self.file.as_mut() else {
            return Err(io::Error::other("snapshot file is closed"));
        };
        if let Err(e) = write_all(&mut **file, &self.buf) {
            self.broken = true;
            return Err(e);
        }
        self.buf.clear();
        Ok(())
    }

    /// Finishes the file and makes it the newest snapshot: writes the trailer, fsyncs the
    /// file, waits until every record appended so far is durable, renames it into place
    /// and fsyncs the directory. Then applies the retention rule (see
    /// [`Committed::removed`]).
    ///
    /// Why every record appended so far, not only those up to the snapshot's LSN: a
    /// snapshot must never cover a record a crash could still lose (its LSN would be
    /// handed out again, then skipped by replay), and a fuzzy snapshot's body may
    /// hold the effects of records appended while it was copied. Such an effect,
    /// restored from the snapshot without its record, would never reach the history
    /// store (which is built from the log) and would leave memory with the hot window:
    /// a retry of that operation would then be applied a second time.
    pub fn commit(mut self) -> Result<Committed, StorageError> {
        let trailer = {
            let mut t = [0u8; SNAPSHOT_TRAILER_LEN];
            t[0..8].copy_from_slice(&self.body_len.to_le_bytes());
            t[8..12].copy_from_slice(&self.crc.to_le_bytes());
            t
        };
        self.buf.extend_from_slice(&trailer);
        self.flush_buf().at(&self.tmp)?;
        if let Some(mut file) = self.file.take() {
            file.sync_all().at(&self.tmp)?;
        }
        let copied_through = Lsn(self.shared.appended.load(Ordering::Acquire));
        self.shared.durable.wait(copied_through.max(self.lsn))?;
        let (fs, dir) = (&*self.shared.fs, self.shared.dir.as_path());
        let path = dir.join(snapshot_file_name(self.lsn));
        fs.rename(&self.tmp, &path).at(&path)?;
        self.committed = true;
        fs.sync_dir(dir).at(dir)?;
        let mut removed = Vec::new();
        let hold = Lsn(self
            .shared
            .read_from
            .load(std::sync::atomic::Ordering::Acquire));
        let cleanup_error = dir::apply_retention(fs, dir, self.lsn, hold, &mut removed).err();
        Ok(Committed {
            path,
            lsn: self.lsn,
            removed,
            cleanup_error,
        })
    }
}

impl Write for SnapshotWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.broken {
            return Err(io::Error::other("an earlier snapshot write failed"));
        }
        self.buf.extend_from_slice(data);
        self.crc = crc32c::crc32c_append(self.crc, data);
        self.body_len += data.len() as u64;
        if self.buf.len() >= CHUNK {
            self.flush_buf()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        if !self.committed {
            self.file = None;
            // Best effort: a leftover temporary file is also removed at the next open.
            let _ = self.shared.fs.remove_file(&self.tmp);
        }
        self.shared.snapshot_busy.store(false, Ordering::Release);
    }
}

/// A snapshot that passed its checks, as found by [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checked {
    lsn: Lsn,
    body_len: u64,
    crc: u32,
}

/// Reads a whole snapshot file and checks its header, length and checksum.
pub(crate) fn check(
    fs: &dyn FileSystem,
    path: &Path,
    name_lsn: Lsn,
) -> Result<Checked, StorageError> {
    let corrupt = |offset: u64, reason: String| StorageError::corrupt(path, offset, reason);
    let file_len = fs.file_len(path).at(path)?;
    let framing = (SNAPSHOT_HEADER_LEN + SNAPSHOT_TRAILER_LEN) as u64;
    if file_len < framing {
        return Err(corrupt(
            0,
            format!("snapshot truncated to {file_len} bytes"),
        ));
    }
    let mut reader = fs.open_read(path).at(path)?;
    let mut header = [0u8; SNAPSHOT_HEADER_LEN];
    reader.read_exact(&mut header).at(path)?;
    let lsn =
        decode_file_header(&header, &SNAPSHOT_MAGIC, "snapshot").map_err(|r| corrupt(0, r))?;
    if lsn > MAX_LSN {
        return Err(corrupt(12, format!("impossible LSN {}", lsn.0)));
    }
    if lsn != name_lsn {
        return Err(corrupt(
            12,
            format!("header says LSN {} but the name says {}", lsn.0, name_lsn.0),
        ));
    }
    let body_len = file_len - framing;
    let crc = crc_of_next(&mut *reader, body_len).at(path)?;
    let mut trailer = [0u8; SNAPSHOT_TRAILER_LEN];
    reader.read_exact(&mut trailer).at(path)?;
    let trailer_at = SNAPSHOT_HEADER_LEN as u64 + body_len;
    let stored_len = u64_at(&trailer, 0).unwrap_or_default();
    if stored_len != body_len {
        return Err(corrupt(
            trailer_at,
            format!("trailer records a {stored_len}-byte body but the file holds {body_len} bytes (truncated or damaged)"),
        ));
    }
    if u32_at(&trailer, 8) != Some(crc) {
        return Err(corrupt(
            SNAPSHOT_HEADER_LEN as u64,
            "snapshot body checksum mismatch".into(),
        ));
    }
    Ok(Checked { lsn, body_len, crc })
}

/// The CRC32C of the next `len` bytes of `reader`.
fn crc_of_next(reader: &mut dyn Read, mut len: u64) -> io::Result<u32> {
    let mut buf = vec![0u8; CHUNK];
    let mut crc = 0;
    while len > 0 {
        let want = buf.len().min(usize::try_from(len).unwrap_or(usize::MAX));
        let chunk = &mut buf[..want];
        reader.read_exact(chunk)?;
        crc = crc32c::crc32c_append(crc, chunk);
        len -= want as u64;
    }
    Ok(crc)
}

/// Streams the body of a checked snapshot to the engine. The checksum is verified again
/// as the bytes go by: the last `read` fails with `InvalidData` if the file changed since
/// it was checked.
pub struct SnapshotReader {
    inner: Box<dyn Read + Send>,
    path: PathBuf,
    lsn: Lsn,
    body_len: u64,
    remaining: u64,
    crc: u32,
    expected_crc: u32,
}

impl std::fmt::Debug for SnapshotReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotReader")
            .field("path", &self.path)
            .field("lsn", &self.lsn)
            .field("body_len", &self.body_len)
            .finish()
    }
}

impl SnapshotReader {
    /// Opens a snapshot that [`check`] accepted.
    pub(crate) fn open(
        fs: &dyn FileSystem,
        path: &Path,
        checked: Checked,
    ) -> Result<Self, StorageError> {
        let mut inner = fs.open_read(path).at(path)?;
        let mut header = [0u8; SNAPSHOT_HEADER_LEN];
        inner.read_exact(&mut header).at(path)?;
        Ok(SnapshotReader {
            inner,
            path: path.to_path_buf(),
            lsn: checked.lsn,
            body_len: checked.body_len,
            remaining: checked.body_len,
            crc: 0,
            expected_crc: checked.crc,
        })
    }

    /// The snapshot's LSN: the state includes at least every record up to it.
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }

    /// The snapshot file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Length of the body in bytes.
    pub fn body_len(&self) -> u64 {
        self.body_len
    }
}

impl Read for SnapshotReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || out.is_empty() {
            return Ok(0);
        }
        let want = out
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut out[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "snapshot shorter than when checked",
            ));
        }
        let Some(got) = out.get(..n) else {
            return Err(io::Error::other(
                "reader returned more bytes than asked for",
            ));
        };
        self.crc = crc32c::crc32c_append(self.crc, got);
        self.remaining -= n as u64;
        if self.remaining == 0 && self.crc != self.expected_crc {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "snapshot changed since it was checked",
            ));
        }
        Ok(n)
    }
}
