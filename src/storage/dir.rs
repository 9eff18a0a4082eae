//! The log directory as a whole: which segments and snapshots it holds, and the retention
//! rule that deletes what is no longer needed.
//!
//! Retention keeps the snapshot just committed and a *fallback*: the newest older snapshot
//! that passes its checks (header, length, body checksum) now. Older snapshots, and WAL
//! segments all of whose records the fallback covers, are deleted: if the newest snapshot
//! turns out unreadable, recovery falls back to the fallback and still finds every record
//! after it. Without a fallback nothing in the WAL is deleted. A reader of the log may
//! hold it too (`Wal::hold_after`: the history archiver, which reads records the
//! snapshots have passed): a segment goes only once both the fallback and the reader
//! are past it.
//!
//! The fallback is checked, not assumed: a snapshot can rot on disk after it was
//! committed, and trusting a damaged one would delete the only state recovery could still
//! use. A snapshot that fails its check is never deleted for failing it (an I/O error is
//! not proof of damage): it stays until a newer fallback makes it old.

use std::path::{Path, PathBuf};

use super::error::{IoContext, StorageError};
use super::fs::FileSystem;
use super::segment::parse_segment_name;
use super::snapshot_file::{self, parse_snapshot_name, TMP_SUFFIX};
use super::Lsn;

/// How many readable snapshots retention keeps: the newest and one fallback.
pub const SNAPSHOTS_KEPT: usize = 2;

/// The log's files, each list sorted by LSN, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// WAL segments by first LSN.
    pub(crate) segments: Vec<(Lsn, PathBuf)>,
    /// Snapshots by covered LSN.
    pub(crate) snapshots: Vec<(Lsn, PathBuf)>,
    /// Snapshots left half-written by a crash.
    pub(crate) temporaries: Vec<PathBuf>,
}

impl Listing {
    /// Lists `dir`. Files the log does not name are ignored.
    pub(crate) fn read(fs: &dyn FileSystem, dir: &Path) -> Result<Listing, StorageError> {
        let mut listing = Listing::default();
        for name in fs.list(dir).at(dir)? {
            if let Some(lsn) = parse_segment_name(&name) {
                listing.segments.push((lsn, dir.join(name)));
            } else if let Some(lsn) = parse_snapshot_name(&name) {
                listing.snapshots.push((lsn, dir.join(name)));
            } else if name
                .strip_suffix(TMP_SUFFIX)
                .and_then(parse_snapshot_name)
                .is_some()
            {
                listing.temporaries.push(dir.join(name));
            }
        }
        listing.segments.sort();
        listing.snapshots.sort();
        Ok(listing)
    }
}

/// Segments (other than the last) whose records all have LSNs `<= covered`: a segment's
/// records end where the next segment's begin.
pub(crate) fn segments_covered_by(segments: &[(Lsn, PathBuf)], covered: Lsn) -> Vec<PathBuf> {
    segments
        .windows(2)
        .filter_map(|pair| match pair {
            [(_, path), (next, _)] if next.0 <= covered.0 + 1 => Some(path.clone()),
            _ => None,
        })
        .collect()
}

/// Applies the retention rule (see the module docs) after the snapshot at `newest` was
/// committed, listing what it deleted in `removed`, then fsyncs the directory. No
/// segment holding a record after `hold` is deleted (a reader still needs it).
pub(crate) fn apply_retention(
    fs: &dyn FileSystem,
    dir: &Path,
    newest: Lsn,
    hold: Lsn,
    removed: &mut Vec<PathBuf>,
) -> Result<(), StorageError> {
    let listing = Listing::read(fs, dir)?;
    debug_assert!(
        listing.snapshots.iter().any(|(lsn, _)| *lsn == newest),
        "retention runs after snapshot {} is committed",
        newest.0
    );
    let older = listing.snapshots.iter().filter(|(lsn, _)| *lsn < newest);
    // Newest first: the first that passes its checks is the fallback.
    let fallback = older
        .clone()
        .rev()
        .find(|(lsn, path)| snapshot_file::check(fs, path, *lsn).is_ok())
        .map(|(lsn, _)| *lsn);
    let Some(fallback) = fallback else {
        return Ok(());
    };
    let mut doomed: Vec<PathBuf> = older
        .filter(|(lsn, _)| *lsn < fallback)
        .map(|(_, p)| p.clone())
        .collect();
    doomed.extend(segments_covered_by(&listing.segments, fallback.min(hold)));
    if doomed.is_empty() {
        return Ok(());
    }
    for path in doomed {
        fs.remove_file(&path).at(&path)?;
        removed.push(path);
    }
    fs.sync_dir(dir).at(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covered_segments_end_before_the_cut() {
        let segs: Vec<(Lsn, PathBuf)> = [1, 11, 21, 31]
            .into_iter()
            .map(|l| (Lsn(l), PathBuf::from(format!("{l}"))))
            .collect();
        let names = |c| -> Vec<String> {
            segments_covered_by(&segs, Lsn(c))
                .into_iter()
                .map(|p| p.display().to_string())
                .collect()
        };
        assert!(names(9).is_empty());
        assert_eq!(names(10), ["1"]);
        assert_eq!(names(29), ["1", "11"]);
        // The last segment is never deleted, however far the snapshot reaches.
        assert_eq!(names(1000), ["1", "11", "21"]);
    }
}
