//! Tests of the storage layer against real files in temporary directories, and the helpers
//! they share (opening, reading everything back, deterministic payloads, a tiny executor).

mod concurrency;
mod corruption;
mod faults;
mod model;
mod preallocated;
mod roundtrip;
mod snapshots;
mod torn;

use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use super::segment::{parse_segment_name, FRAME_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::{
    open, Config, FileSystem, FsyncPolicy, Lsn, Recovery, StdFs, StorageError, Wal,
    PREALLOCATE_BYTES,
};

/// A configuration with small segments, so that tests roll segments often.
fn small(segment_size: u64) -> Config {
    Config {
        segment_size,
        max_record_len: 1 << 20,
        ..Config::default()
    }
}

fn open_std(dir: &Path, config: Config) -> (Wal, Recovery) {
    match open(dir, config, Arc::new(StdFs)) {
        Ok(opened) => opened,
        Err(e) => panic!("open {}: {e}", dir.display()),
    }
}

fn open_with(dir: &Path, config: Config, fs: &Arc<dyn FileSystem>) -> (Wal, Recovery) {
    match open(dir, config, Arc::clone(fs)) {
        Ok(opened) => opened,
        Err(e) => panic!("open {}: {e}", dir.display()),
    }
}

/// Every record recovery offers, in order.
fn records(recovery: &mut Recovery) -> Vec<(Lsn, Vec<u8>)> {
    recovery
        .records
        .by_ref()
        .collect::<Result<_, StorageError>>()
        .expect("replay")
}

/// The snapshot body recovery offers, if any.
fn snapshot_bytes(recovery: &mut Recovery) -> Option<Vec<u8>> {
    recovery.snapshot.take().map(|mut s| {
        let mut body = Vec::new();
        s.read_to_end(&mut body).expect("read snapshot");
        body
    })
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A pseudo-random length in `0..max` for record `i`.
fn length(i: u64, max: usize) -> usize {
    (payload(i ^ 0xABCD, 4)
        .iter()
        .fold(0usize, |a, &b| a * 256 + b as usize))
        % max
}

/// The log's segment files, oldest first.
fn segment_files(dir: &Path) -> Vec<(Lsn, PathBuf)> {
    let mut segs: Vec<(Lsn, PathBuf)> = std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| {
            let e = e.ok()?;
            let lsn = parse_segment_name(e.file_name().to_str()?)?;
            Some((lsn, e.path()))
        })
        .collect();
    segs.sort();
    segs
}

/// Names of files in `dir` with the given suffix, sorted.
fn files_ending(dir: &Path, suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(suffix))
        .collect();
    names.sort();
    names
}

/// Damages one byte of a file in place (a flip of several of its bits).
fn flip(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[offset] ^= 0x5a;
    std::fs::write(path, bytes).expect("write");
}

/// Offset of each record's frame in a segment whose records have these payload lengths.
fn frame_offsets(lens: &[usize]) -> Vec<usize> {
    lens.iter()
        .scan(SEGMENT_HEADER_LEN, |at, len| {
            let here = *at;
            *at += FRAME_HEADER_LEN + len;
            Some(here)
        })
        .collect()
}

/// Appends `n` records (seeded by their LSN, lengths below `max_len`), waits for them,
/// and returns their payloads.
fn fill(wal: &Wal, n: u64, max_len: usize) -> Vec<Vec<u8>> {
    let base = wal.appended_lsn().0;
    let out: Vec<Vec<u8>> = (1..=n)
        .map(|i| payload(base + i, length(base + i, max_len)))
        .collect();
    for (i, p) in out.iter().enumerate() {
        assert_eq!(wal.append(p).expect("append"), Lsn(base + 1 + i as u64));
    }
    wal.flush().expect("flush");
    out
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread (the storage layer has no runtime).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}

#[test]
fn handles_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Wal>();
    send_sync::<crate::storage::DurableFuture>();
    send::<Recovery>();
    send::<crate::storage::SnapshotWriter>();
    send::<crate::storage::SnapshotReader>();
}
