//! Leaderboard benchmarks: the ranked set at 1M and 10M entries against a baseline of a
//! `BTreeMap` + hash map with rank by linear scan, plus memory per entry measured by a
//! counting global allocator (live requested bytes after a build, minus before).
//!
//! Run: `cargo bench --bench leaderboard` (under two minutes on 2 cores). Each group builds
//! its set once; every timed iteration is one operation on a random player or offset, so
//! criterion's "thrpt" line reads directly as operations per second.
//!
//! On a machine shared with other jobs, wall-clock figures include the time this thread
//! waited for a core. `LEADERBOARD_BENCH_CLOCK=cpu` times by this thread's CPU time instead
//! (Linux), which still includes cache misses and cache pollution by the other jobs.

/// The baseline's player index: a std map with the crate's hasher.
type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput};
use pitboss::tournaments::ranked::{Entry, PlayerKey, RankedSet, Score};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Counts live heap bytes as requested (malloc's own per-block overhead excluded).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size, Relaxed);
            LIVE.fetch_sub(layout.size(), Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// This thread's CPU time, as a criterion measurement.
struct CpuTime;

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, out: *mut Timespec) -> i32;
}

/// Linux's CLOCK_THREAD_CPUTIME_ID.
const THREAD_CPU_CLOCK: i32 = 3;

fn thread_cpu_time() -> Duration {
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `t` is a valid, writable timespec (64-bit Linux layout).
    let rc = unsafe { clock_gettime(THREAD_CPU_CLOCK, &mut t) };
    assert_eq!(rc, 0, "clock_gettime failed");
    Duration::new(t.sec as u64, t.nsec as u32)
}

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }

    fn end(&self, started: Duration) -> Duration {
        thread_cpu_time().saturating_sub(started)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        // Same unit (nanoseconds) as wall time, so the same formatting.
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

/// SplitMix64: cheap, deterministic, good enough to pick random players and scores.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Scores spread over 10^8 fixed-point units: mostly distinct, some ties.
    fn score(&mut self) -> Score {
        (self.next() % 100_000_000) as Score
    }
}

/// `n` players with ids 0..n, random scores, `seq` = arrival order.
fn population(n: usize) -> Vec<Entry> {
    let mut rng = Rng(n as u64);
    (0..n as u64)
        .map(|player| Entry {
            player,
            score: rng.score(),
            seq: player,
        })
        .collect()
}

fn label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 => format!("{}M", n / 1_000_000),
        n => format!("{}k", n / 1_000),
    }
}

/// Builds with `build`, reporting live bytes per entry and build time.
fn measured<T>(what: &str, n: usize, build: impl FnOnce() -> T) -> T {
    let before = LIVE.load(Relaxed);
    let started = Instant::now();
    let built = build();
    let bytes = LIVE.load(Relaxed).saturating_sub(before);
    println!(
        "memory {what} n={}: {:.1} bytes/entry ({} MiB), built in {:.2?}",
        label(n),
        bytes as f64 / n as f64,
        bytes >> 20,
        started.elapsed()
    );
    built
}

/// The ranked set: update, rank and page of 100, at `n` entries.
fn ranked_at<M: Measurement>(c: &mut Criterion<M>, n: usize) {
    let mut set = measured("ranked (from_entries)", n, || {
        RankedSet::from_entries(population(n)).expect("unique players")
    });
    let mut group = c.benchmark_group(format!("ranked/{}", label(n)));
    group.throughput(Throughput::Elements(1));
    let mut rng = Rng(1);
    let mut seq = n as u64;
    group.bench_function("update", |b| {
        b.iter(|| {
            seq += 1;
            let player = rng.below(n) as PlayerKey;
            black_box(set.upsert(player, rng.score(), seq))
        })
    });
    group.bench_function("rank", |b| {
        b.iter(|| black_box(set.rank(rng.below(n) as PlayerKey)))
    });
    group.bench_function("page100", |b| {
        b.iter(|| black_box(set.page(rng.below(n - 100), 100)))
    });
    group.finish();
    // After the random updates above: leaves settle below the bulk-build fill.
    let churned = LIVE.load(Relaxed);
    drop(set);
    let freed = churned.saturating_sub(LIVE.load(Relaxed));
    println!(
        "memory ranked (after updates) n={}: {:.1} bytes/entry",
        label(n),
        freed as f64 / n as f64
    );
}

/// Memory and speed of building by one upsert per player, in random order.
fn ranked_incremental(n: usize) {
    let mut entries = population(n);
    let mut rng = Rng(7);
    for i in (1..entries.len()).rev() {
        entries.swap(i, rng.below(i + 1));
    }
    let set = measured("ranked (upserts)", n, || {
        let mut set = RankedSet::new();
        for e in &entries {
            set.upsert(e.player, e.score, e.seq);
        }
        set
    });
    black_box(&set);
}

/// The baseline: ordered map of `(Reverse(score), seq, player)` plus a player index.
#[derive(Default)]
struct Baseline {
    order: BTreeMap<(Reverse<Score>, u64, PlayerKey), ()>,
    index: FastMap<PlayerKey, (Score, u64)>,
}

impl Baseline {
    fn upsert(&mut self, player: PlayerKey, score: Score, seq: u64) -> Option<(Score, u64)> {
        let old = self.index.insert(player, (score, seq));
        if let Some((s, q)) = old {
            self.order.remove(&(Reverse(s), q, player));
        }
        self.order.insert((Reverse(score), seq, player), ());
        old
    }

    /// Linear: counts every entry ranked above.
    fn rank(&self, player: PlayerKey) -> Option<u64> {
        let &(s, q) = self.index.get(&player)?;
        Some(self.order.range(..(Reverse(s), q, player)).count() as u64 + 1)
    }

    /// Linear in `offset`: BTreeMap cannot skip by position.
    fn page(&self, offset: usize, limit: usize) -> Vec<Entry> {
        let page = self.order.keys().skip(offset).take(limit);
        page.map(|&(Reverse(score), seq, player)| Entry { player, score, seq })
            .collect()
    }
}

fn baseline_at<M: Measurement>(c: &mut Criterion<M>, n: usize, scans: bool) {
    let mut base = measured("baseline", n, || {
        let mut base = Baseline::default();
        for e in population(n) {
            base.upsert(e.player, e.score, e.seq);
        }
        base
    });
    let mut group = c.benchmark_group(format!("baseline/{}", label(n)));
    group.throughput(Throughput::Elements(1));
    let mut rng = Rng(1);
    let mut seq = n as u64;
    group.bench_function("update", |b| {
        b.iter(|| {
            seq += 1;
            let player = rng.below(n) as PlayerKey;
            black_box(base.upsert(player, rng.score(), seq))
        })
    });
    if scans {
        group.bench_function("rank", |b| {
            b.iter(|| black_box(base.rank(rng.below(n) as PlayerKey)))
        });
        group.bench_function("page100", |b| {
            b.iter(|| black_box(base.page(rng.below(n - 100), 100)))
        });
    }
    group.finish();
}

fn one_million<M: Measurement>(c: &mut Criterion<M>) {
    ranked_incremental(1_000_000);
    ranked_at(c, 1_000_000);
    baseline_at(c, 100_000, true);
    baseline_at(c, 1_000_000, true);
}

fn ten_million<M: Measurement>(c: &mut Criterion<M>) {
    ranked_at(c, 10_000_000);
    // Rank and page scan ~5M entries per call at 10M; the 100k and 1M groups show the trend.
    baseline_at(c, 10_000_000, false);
}

fn run<M: Measurement>(c: Criterion<M>) {
    let mut c = c
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    one_million(&mut c);
    ten_million(&mut c);
    c.final_summary();
}

fn main() {
    let cpu = std::env::var("LEADERBOARD_BENCH_CLOCK").is_ok_and(|v| v == "cpu");
    println!(
        "clock: {}",
        if cpu { "thread CPU time" } else { "wall time" }
    );
    if cpu {
        run(Criterion::default().with_measurement(CpuTime));
    } else {
        run(Criterion::default());
    }
}
