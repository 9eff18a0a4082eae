//! Ledger benchmarks (in memory, no log): bet and bet+win round trips on one
//! thread; throughput on 1 and 2 threads over distinct wallets and over one hot
//! wallet; and measured memory per wallet, per open round and per game record
//! (printed, from a counting allocator).
//!
//! Run: `cargo bench --bench ledger`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pitboss::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts live heap bytes so that memory per object is measured, not estimated.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Active wallets per benchmark: the ledger's per-bet cost does not depend on it much
/// (measured), and a fresh engine per sample stays quick to build.
const WALLETS: usize = 10_000;

fn id<T: TryFrom<&'static str>>(s: &'static str) -> T {
    T::try_from(s).unwrap_or_else(|_| panic!("bench id {s}"))
}

fn engine_with_wallets(n: usize) -> (Engine, Vec<WalletId>) {
    let engine = Engine::in_memory(EngineConfig::default());
    let (c, cur) = (id::<ChannelId>("bench"), id::<Currency>("CNY"));
    let wallets = (0..n)
        .map(|i| {
            let p = PlayerId::new(&format!("player-{i}")).expect("player");
            let w = engine.open_wallet(&c, &p, &cur).expect("open");
            let d = DepositRequest {
                tx: TxId::new("seed").expect("tx"),
                amount: Amount::new(1 << 40),
            };
            engine.deposit(w, &d).expect("seed");
            w
        })
        .collect();
    (engine, wallets)
}

/// Requests prepared outside the timed loop: the bench measures the ledger, not format!.
fn bets(prefix: &str, n: usize) -> Vec<BetRequest> {
    let game = GameRef::bare(id("slot_alice"));
    (0..n)
        .map(|i| BetRequest {
            tx: TxId::new(&format!("{prefix}b{i}")).expect("tx"),
            round: RoundId::new(&format!("{prefix}r{i}")).expect("round"),
            game: game.clone(),
            amount: Amount::new(100),
            meta: PlayMeta::default(),
        })
        .collect()
}

fn wins(bets: &[BetRequest]) -> Vec<WinRequest> {
    bets.iter()
        .map(|b| WinRequest {
            tx: TxId::new(&format!("w{}", b.tx)).expect("tx"),
            round: b.round.clone(),
            game: b.game.id.clone(),
            amount: Amount::new(50),
            breakdown: None,
            keep_open: false,
        })
        .collect()
}

/// Runs `per_thread` bet(+win) pairs on each of `threads` threads; returns elapsed time.
fn run(
    engine: &Arc<Engine>,
    wallets: &[WalletId],
    threads: usize,
    per_thread: usize,
    hot: bool,
    round: u64,
) -> Duration {
    let work: Vec<_> = (0..threads)
        .map(|t| {
            let b = bets(&format!("x{round}t{t}"), per_thread);
            let w = wins(&b);
            (b, w)
        })
        .collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        for (t, (b, w)) in work.iter().enumerate() {
            let engine = engine.clone();
            s.spawn(move || {
                for (i, (b, w)) in b.iter().zip(w).enumerate() {
                    let wallet = if hot {
                        wallets[0]
                    } else {
                        wallets[(t * 7919 + i) % wallets.len()]
                    };
                    black_box(engine.bet(wallet, b).expect("bet"));
                    black_box(engine.win(wallet, w).expect("win"));
                }
            });
        }
    });
    start.elapsed()
}

fn single_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("ledger/one_thread");
    g.throughput(Throughput::Elements(1));
    // Each sample gets a fresh engine (built untimed): one engine accumulating every
    // sample's transactions and records would measure its own growth, not a bet.
    g.bench_function("bet", |b| {
        b.iter_custom(|iters| {
            let (engine, wallets) = engine_with_wallets(WALLETS);
            let reqs = bets("s", iters as usize);
            let start = Instant::now();
            for (i, r) in reqs.iter().enumerate() {
                black_box(engine.bet(wallets[i % WALLETS], r).expect("bet"));
            }
            start.elapsed()
        })
    });
    g.bench_function("bet_win", |b| {
        b.iter_custom(|iters| {
            let (engine, wallets) = engine_with_wallets(WALLETS);
            let reqs = bets("p", iters as usize);
            let ws = wins(&reqs);
            let start = Instant::now();
            for (i, (r, w)) in reqs.iter().zip(&ws).enumerate() {
                black_box(engine.bet(wallets[i % WALLETS], r).expect("bet"));
                black_box(engine.win(wallets[i % WALLETS], w).expect("win"));
            }
            start.elapsed()
        })
    });
    g.finish();
}

fn throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("ledger/bet_win_pairs");
    for threads in [1usize, 2] {
        for hot in [false, true] {
            let name = if hot {
                "one_hot_wallet"
            } else {
                "distinct_wallets"
            };
            g.throughput(Throughput::Elements(threads as u64));
            g.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, &threads| {
                b.iter_custom(|iters| {
                    let (engine, wallets) = engine_with_wallets(WALLETS);
                    run(&Arc::new(engine), &wallets, threads, iters as usize, hot, 0)
                })
            });
        }
    }
    g.finish();
}

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Prints measured bytes per wallet, per open round and per game record.
fn memory(_c: &mut Criterion) {
    let n = 100_000;
    let before = live();
    let (engine, wallets) = engine_with_wallets(n);
    let per_wallet = (live() - before) as f64 / n as f64;
    let reqs = bets("m", n);
    let before = live();
    for (w, r) in wallets.iter().zip(&reqs) {
        engine.bet(*w, r).expect("bet");
    }
    let per_open_round = (live() - before) as f64 / n as f64;
    let ws = wins(&reqs);
    let before = live();
    for (w, r) in wallets.iter().zip(&ws) {
        engine.win(*w, r).expect("win");
    }
    let per_closed_round = (live() - before) as f64 / n as f64;
    println!("memory/wallet (with its first deposit): {per_wallet:.0} B");
    println!("memory/open round (bet, its tx entry and round): {per_open_round:.0} B");
    println!("memory/closing a round (win tx entry + game record + closed-round entry − open round): {per_closed_round:.0} B");
    black_box(engine);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = memory, single_thread, throughput
}
criterion_main!(benches);
