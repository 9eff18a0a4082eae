//! Group commit under concurrent appenders, the durability claims waiters get, the async
//! future, backpressure, and the non-default fsync policies.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use super::super::FaultyFs;
use super::*;
use crate::storage::FsyncPolicy;

const THREADS: u64 = 8;
const PER_THREAD: u64 = 150;
const LEN: usize = 40;

#[test]
fn concurrent_appends_get_dense_lsns_and_wake_only_after_their_fsync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faulty = FaultyFs::new();
    // A slow disk, so batches form while the writer is busy syncing.
    faulty.sync_delay(Duration::from_millis(1));
    let fs: Arc<dyn FileSystem> = Arc::new(faulty.clone());
    let (wal, _) = open_with(dir.path(), Config::default(), &fs);
    let segment = dir
        .path()
        .join(crate::storage::segment::segment_file_name(Lsn(1)));
    let barrier = Barrier::new(THREADS as usize);
    let per_thread: Vec<Vec<(Lsn, Vec<u8>)>> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (wal, faulty, segment, barrier) = (&wal, &faulty, &segment, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let mut mine = Vec::new();
                    for i in 0..PER_THREAD {
                        let bytes = payload(t * 1_000_000 + i, LEN);
                        let lsn = wal.append(&bytes).expect("append");
                        wal.wait_durable(lsn).expect("durable");
                        // All records have one size, so record `lsn` ends at a known offset.
                        let end =
                            (SEGMENT_HEADER_LEN + lsn.0 as usize * (FRAME_HEADER_LEN + LEN)) as u64;
                        let synced = faulty.synced_len(segment);
                        assert!(
                            synced >= end,
                            "LSN {} acknowledged with only {synced} of {end} bytes synced",
                            lsn.0
                        );
                        assert!(wal.durable_lsn() >= lsn);
                        mine.push((lsn, bytes));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let total = THREADS * PER_THREAD;
    let mut all: Vec<(Lsn, Vec<u8>)> = per_thread.iter().flatten().cloned().collect();
    all.sort();
    let lsns: Vec<u64> = all.iter().map(|(l, _)| l.0).collect();
    assert_eq!(
        lsns,
        (1..=total).collect::<Vec<_>>(),
        "LSNs are unique and dense"
    );
    for mine in &per_thread {
        assert!(
            mine.windows(2).all(|w| w[0].0 < w[1].0),
            "a thread's LSNs follow its order"
        );
    }
    let syncs = faulty.sync_count();
    assert!(
        syncs < total,
        "group commit: {syncs} fsyncs for {total} records"
    );
    drop(wal);
    let (_wal, mut rec) = open_with(dir.path(), Config::default(), &fs);
    assert_eq!(records(&mut rec), all);
}

#[test]
fn durable_future_resolves_after_the_sync_and_fails_with_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faulty = FaultyFs::new();
    let fs: Arc<dyn FileSystem> = Arc::new(faulty.clone());
    let (wal, _) = open_with(dir.path(), Config::default(), &fs);
    let lsn = wal.append(b"async").expect("append");
    let fut = wal.durable(lsn);
    assert_eq!(fut.lsn(), lsn);
    block_on(fut).expect("durable");
    assert!(wal.durable_lsn() >= lsn);

    // Waiting from another thread through the future, while the disk starts failing.
    faulty.sync_delay(Duration::from_millis(20));
    faulty.fail_syncs(true);
    let lsn = wal.append(b"doomed").expect("append");
    let fut = wal.durable(lsn);
    let waiter = thread::spawn(move || block_on(fut));
    let outcome = waiter.join().expect("thread");
    assert!(
        matches!(outcome, Err(StorageError::Failed { .. })),
        "{outcome:?}"
    );
    // A future dropped before completion leaves nothing behind (no waker leak/panic).
    drop(wal.durable(lsn));
}

#[test]
fn backpressure_blocks_appends_until_the_writer_catches_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faulty = FaultyFs::new();
    faulty.sync_delay(Duration::from_millis(5));
    let fs: Arc<dyn FileSystem> = Arc::new(faulty.clone());
    let config = Config {
        max_pending_bytes: 1024,
        ..Config::default()
    };
    let (wal, _) = open_with(dir.path(), config.clone(), &fs);
    let started = Instant::now();
    for i in 0..200 {
        wal.append(&payload(i, 100)).expect("append");
    }
    let blocked = started.elapsed();
    // 200 frames of 108 bytes through a 1 KiB buffer need at least ~19 batches, each
    // behind a 5 ms fsync; without backpressure the loop takes microseconds.
    assert!(
        blocked >= Duration::from_millis(50),
        "appends never blocked: {blocked:?}"
    );
    wal.flush().expect("flush");
    drop(wal);
    let (_wal, mut rec) = open_with(dir.path(), config, &fs);
    assert_eq!(records(&mut rec).len(), 200);
}

#[test]
fn interval_policy_syncs_periodically_and_never_policy_not_at_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faulty = FaultyFs::new();
    let fs: Arc<dyn FileSystem> = Arc::new(faulty.clone());
    let interval = Config {
        fsync: FsyncPolicy::Interval(Duration::from_millis(30)),
        ..Config::default()
    };
    let (wal, _) = open_with(dir.path(), interval.clone(), &fs);
    let segment = dir
        .path()
        .join(crate::storage::segment::segment_file_name(Lsn(1)));
    for i in 0..20 {
        let lsn = wal.append(&payload(i, 10)).expect("append");
        if i % 5 == 0 {
            wal.wait_durable(lsn).expect("durable");
            let end = (SEGMENT_HEADER_LEN + lsn.0 as usize * 18) as u64;
            assert!(faulty.synced_len(&segment) >= end);
        }
    }
    let syncs = faulty.sync_count();
    assert!((1..20).contains(&syncs), "{syncs} fsyncs");
    drop(wal);

    let dir = tempfile::tempdir().expect("tempdir");
    let never = Config {
        fsync: FsyncPolicy::Never,
        ..Config::default()
    };
    let before = faulty.sync_count();
    let (wal, _) = open_with(dir.path(), never, &fs);
    let lsn = wal.append(b"fast").expect("append");
    wal.wait_durable(lsn).expect("written");
    drop(wal);
    assert_eq!(faulty.sync_count(), before, "Never does not fsync");
}
