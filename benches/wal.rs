//! Benchmarks of the WAL: durable appends of 64-byte records under `FsyncPolicy::Always`
//! from 1, 16 and 256 submitter threads (each appends, then waits for its record to be
//! durable: the engine's pattern), and recovery speed (records replayed per second).
//! Both report elements/s = records/s. Files live in temporary directories under /tmp.

use std::hint::black_box;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pitboss::storage::{open, Config, FsyncPolicy, StdFs, StorageError};

const PAYLOAD: [u8; 64] = [0xA5; 64];
const RECOVERY_RECORDS: u64 = 2_000_000;

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("pitboss-wal-bench")
        .tempdir_in("/tmp")
        .expect("temp dir under /tmp")
}

fn durable_appends(c: &mut Criterion) {
    let mut group = c.benchmark_group("durable_append_64B");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(1));
    for threads in [1u64, 16, 256] {
        let dir = tempdir();
        let (wal, _) = open(dir.path(), Config::default(), Arc::new(StdFs)).expect("open");
        group.bench_with_input(
            BenchmarkId::new("threads", threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iters| {
                    // Each thread does its share; the time is scaled to exactly `iters` records.
                    let per_thread = iters.div_ceil(threads);
                    let started = Instant::now();
                    thread::scope(|s| {
                        for _ in 0..threads {
                            s.spawn(|| {
                                for _ in 0..per_thread {
                                    let lsn = wal.append(&PAYLOAD).expect("append");
                                    wal.wait_durable(lsn).expect("durable");
                                }
                            });
                        }
                    });
                    let done = per_thread * threads;
                    started.elapsed().mul_f64(iters as f64 / done as f64)
                });
            },
        );
        wal.close().expect("close");
    }
    group.finish();
}

fn recovery(c: &mut Criterion) {
    let dir = tempdir();
    {
        // Written without fsync: only the reading side is measured.
        let config = Config {
            fsync: FsyncPolicy::Never,
            ..Config::default()
        };
        let (wal, _) = open(dir.path(), config, Arc::new(StdFs)).expect("open");
        for _ in 0..RECOVERY_RECORDS {
            wal.append(&PAYLOAD).expect("append");
        }
        wal.close().expect("close");
    }
    let mut group = c.benchmark_group("recovery_64B");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(RECOVERY_RECORDS));
    group.bench_function(BenchmarkId::new("records", RECOVERY_RECORDS), |b| {
        b.iter(|| {
            let (wal, mut rec) =
                open(dir.path(), Config::default(), Arc::new(StdFs)).expect("open");
            let mut bytes = 0usize;
            let n = rec
                .records
                .replay(|_, payload| {
                    bytes += black_box(payload).len();
                    Ok::<(), StorageError>(())
                })
                .expect("replay");
            assert_eq!(n, RECOVERY_RECORDS);
            drop(wal);
            bytes
        });
    });
    group.finish();
}

criterion_group!(benches, durable_appends, recovery);
criterion_main!(benches);
