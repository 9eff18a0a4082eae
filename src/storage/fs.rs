//! The file-system seam: every byte the storage layer reads or writes goes through
//! [`FileSystem`], so tests can swap the real [`StdFs`] for a fault-injecting one.
//!
//! The trait is deliberately small and object-safe (`Arc<dyn FileSystem>`): the log's types
//! stay free of a file-system type parameter, and a virtual call is noise next to a syscall.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A file opened for writing. Writes may be short (like `write(2)`); use [`write_all`].
pub trait WritableFile: Send {
    /// Writes some prefix of `buf` and returns its length; 0 only for an empty `buf`.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;
    /// Makes the file's data durable (`fdatasync`).
    fn sync_data(&mut self) -> io::Result<()>;
    /// Makes the file's data and metadata durable (`fsync`).
    fn sync_all(&mut self) -> io::Result<()>;
    /// Writes zeros over bytes `from .. from + len` (extending the file if they run past
    /// its end) without moving the position `write` writes at; durable after the next
    /// sync. Writing into blocks a file already owns does not change the file's size, so
    /// its `fdatasync` need not commit metadata: see the writer module.
    fn preallocate(&mut self, from: u64, len: u64) -> io::Result<()>;
}

/// The operations the storage layer needs from a file system.
pub trait FileSystem: Send + Sync + fmt::Debug {
    /// Creates `dir` and its parents if missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The names of the entries of `dir` (names that are not UTF-8 are left out: the log
    /// never creates such names, so they are not its files).
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Creates `path` (truncating it if it exists) for writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Opens the existing `path` for writing at its end.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Opens `path` for sequential reading.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>>;
    /// The length of `path` in bytes.
    fn file_len(&self, path: &Path) -> io::Result<u64>;
    /// Cuts `path` back to `len` bytes and makes the new length durable.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Atomically renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Deletes `path`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes `dir`'s entries (created, renamed, deleted files) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// Writes all of `buf`, retrying short writes; a write that makes no progress is an error.
pub fn write_all(file: &mut dyn WritableFile, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match file.write(buf) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "write made no progress",
                ))
            }
            Ok(n) => buf = buf.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads the whole of `path` into memory.
pub fn read_all(fs: &dyn FileSystem, path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    read_into(fs, path, &mut bytes)?;
    Ok(bytes)
}

/// Reads the whole of `path` into `buf`, replacing its contents. Reusing one buffer for
/// many large files (recovery reads every segment) spares a fresh allocation, and a page
/// fault per 4 KiB of it, for each file.
pub fn read_into(fs: &dyn FileSystem, path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut reader = fs.open_read(path)?;
    buf.clear();
    reader.read_to_end(buf)?;
    Ok(())
}

/// The real file system, through `std::fs`.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFs;

struct StdFile(File);

impl WritableFile for StdFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn sync_all(&mut self) -> io::Result<()> {
        self.0.sync_all()
    }
    fn preallocate(&mut self, from: u64, len: u64) -> io::Result<()> {
        write_zeros_at(&self.0, from, len)
    }
}

/// Writes `len` zeros at `from` with positioned writes (the file's position is left
/// alone), a block of zeros at a time.
pub(crate) fn write_zeros_at(file: &File, from: u64, len: u64) -> io::Result<()> {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    let (mut at, end) = (from, from.saturating_add(len));
    while at < end {
        let n = usize::try_from(end - at).map_or(ZEROS.len(), |n| n.min(ZEROS.len()));
        file.write_all_at(&ZEROS[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

impl FileSystem for StdFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Box::new(StdFile(file)))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        // Not `O_APPEND`: on Linux it makes positioned writes (`preallocate`) append too.
        let mut file = OpenOptions::new().write(true).open(path)?;
        file.seek(SeekFrom::End(0))?;
        Ok(Box::new(StdFile(file)))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(path)?))
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        Ok(fs::metadata(path)?.len())
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        // On Linux a directory opened read-only can be fsynced, which persists its entries.
        File::open(dir)?.sync_all()
    }
}
