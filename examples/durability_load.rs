//! Durability load runs (figures in the README). Each is bounded and stops by itself.
//!
//! ```sh
//! cargo run --release --example durability_load -- throughput 1 16 256   # durable bets/s, fsync always
//! cargo run --release --example durability_load -- recovery 10000000      # replay rate, open time
//! cargo run --release --example durability_load -- recovery-build DIR 1000000  # keep a log…
//! cargo run --release --example durability_load -- recovery-open DIR           # …and reopen it
//! cargo run --release --example durability_load -- snapshot-pause 1000000 # longest writer pause
//! ```

use pitboss::storage::FsyncPolicy;
use pitboss::*;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn id<T: TryFrom<&'static str>>(s: &'static str) -> T {
    T::try_from(s).unwrap_or_else(|_| panic!("id {s}"))
}

fn config(fsync: FsyncPolicy) -> EngineConfig {
    let mut c = EngineConfig::default();
    c.wal.fsync = fsync;
    c
}

fn wallets(engine: &Engine, n: usize, prefix: &str) -> Vec<WalletId> {
    let (c, cur) = (id::<ChannelId>("load"), id::<Currency>("CNY"));
    (0..n)
        .map(|i| {
            let p = PlayerId::new(&format!("{prefix}{i}")).expect("player");
            let w = engine.open_wallet(&c, &p, &cur).expect("open");
            let d = DepositRequest {
                tx: TxId::new("seed").expect("tx"),
                amount: Amount::new(1 << 40),
            };
            engine.deposit(w, &d).expect("seed");
            w
        })
        .collect()
}

fn bet(i: u64, thread: usize) -> BetRequest {
    BetRequest {
        tx: TxId::new(&format!("b{thread}-{i}")).expect("tx"),
        round: RoundId::new(&format!("r{thread}-{i}")).expect("round"),
        game: GameRef::bare(id("slot_alice")),
        amount: Amount::new(1),
        meta: PlayMeta::default(),
    }
}

fn win(i: u64, thread: usize) -> WinRequest {
    WinRequest {
        tx: TxId::new(&format!("w{thread}-{i}")).expect("tx"),
        round: RoundId::new(&format!("r{thread}-{i}")).expect("round"),
        game: id("slot_alice"),
        amount: Amount::new(1),
        breakdown: None,
        keep_open: false,
    }
}

/// Durable bets per second with `submitters` threads, each waiting for its own fsync.
fn throughput(submitters: usize, seconds: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Arc::new(Engine::open(dir.path(), config(FsyncPolicy::Always)).expect("open"));
    let ws = Arc::new(wallets(&engine, submitters, "s"));
    let stop = Arc::new(AtomicBool::new(false));
    let bets = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let threads: Vec<_> = (0..submitters)
        .map(|t| {
            let (engine, ws, stop, bets) = (engine.clone(), ws.clone(), stop.clone(), bets.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    engine.bet(ws[t], &bet(i, t)).expect("durable bet");
                    bets.fetch_add(1, Ordering::Relaxed);
                    // Close the round so the wallet never reaches its open-round limit.
                    engine.win(ws[t], &win(i, t)).expect("durable win");
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = bets.load(Ordering::Relaxed) as f64;
    println!(
        "throughput fsync=always submitters={submitters}: {:.0} durable bets/s, {:.0} durable ops/s (bet + win)",
        n / elapsed,
        2.0 * n / elapsed
    );
}

fn recovery_config() -> EngineConfig {
    let mut cfg = config(FsyncPolicy::Never);
    cfg.snapshot_every_records = u64::MAX; // replay everything: measure the log, not a snapshot
    cfg.snapshot_every = Duration::from_secs(86_400);
    cfg
}

/// Writes `ops` operations into `dir` (fsync never, to build the data quickly), without
/// a snapshot, so that opening `dir` replays all of them.
fn build_log(dir: &Path, ops: u64) {
    let engine = Engine::open(dir, recovery_config()).expect("open");
    let ws = wallets(&engine, 10_000, "r");
    let t = Instant::now();
    let mut written = 0u64;
    let mut i = 0u64;
    // Batches: one durability wait per thousand operations, to build the log fast.
    while written < ops {
        let batch: Vec<BatchOp> = (0..500)
            .flat_map(|k| {
                let n = i + k;
                let w = ws[(n % ws.len() as u64) as usize];
                [BatchOp::Bet(w, bet(n, 0)), BatchOp::Win(w, win(n, 0))]
            })
            .collect();
        for r in engine.batch(&batch) {
            r.expect("batched operation");
        }
        written += batch.len() as u64;
        i += 500;
    }
    println!(
        "recovery: wrote {written} operations in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

/// Opens `dir` (replaying its whole log) and reports the open time and replay rate.
/// The engine is dropped without a shutdown, so no snapshot is written: opening the
/// same directory again replays the same log.
fn open_log(dir: &Path) {
    let size: u64 = std::fs::read_dir(dir)
        .expect("ls")
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let t = Instant::now();
    let engine = Engine::open(dir, recovery_config()).expect("reopen");
    let elapsed = t.elapsed().as_secs_f64();
    let replayed = engine.recovery_report().replayed;
    println!(
        "recovery: opened {:.0} MiB holding {replayed} log records in {elapsed:.2} s: {:.0} records replayed per second",
        size as f64 / 1048576.0,
        replayed as f64 / elapsed
    );
}

/// Writes `ops` operations into a fresh directory, then reopens it.
fn recovery(ops: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    build_log(dir.path(), ops);
    open_log(dir.path());
}

/// The longest time one bet takes while a snapshot of `n` wallets is written,
/// against the longest without a snapshot, on the same engine.
fn snapshot_pause(n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(FsyncPolicy::Never);
    cfg.snapshot_every_records = u64::MAX;
    cfg.snapshot_every = Duration::from_secs(86_400);
    let engine = Arc::new(Engine::open(dir.path(), cfg).expect("open"));
    let ws = Arc::new(wallets(&engine, n, "w"));
    let measure = |label: &str, during: &dyn Fn()| {
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (engine, ws, stop) = (engine.clone(), ws.clone(), stop.clone());
            let label = label.to_string();
            std::thread::spawn(move || {
                let (mut worst, mut i) = (Duration::ZERO, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let w = ws[(i.wrapping_mul(7919) % ws.len() as u64) as usize];
                    let t = Instant::now();
                    engine.bet(w, &bet(i, label.len())).expect("bet");
                    worst = worst.max(t.elapsed());
                    engine.win(w, &win(i, label.len())).expect("win");
                    i += 1;
                }
                (worst, i)
            })
        };
        let t = Instant::now();
        during();
        let took = t.elapsed();
        stop.store(true, Ordering::Relaxed);
        let (worst, bets) = writer.join().expect("writer");
        println!(
            "snapshot-pause {label}: {bets} bets over {:.2} s, longest bet {:.2} ms",
            took.as_secs_f64(),
            worst.as_secs_f64() * 1e3
        );
    };
    measure("baseline (no snapshot)", &|| {
        std::thread::sleep(Duration::from_secs(3))
    });
    let e = engine.clone();
    measure(&format!("during a snapshot of {n} wallets"), &move || {
        e.snapshot().expect("snapshot");
    });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let nums = |default: u64| -> Vec<u64> {
        let v: Vec<u64> = args.iter().skip(1).filter_map(|s| s.parse().ok()).collect();
        if v.is_empty() {
            vec![default]
        } else {
            v
        }
    };
    match args.first().map(String::as_str) {
        Some("throughput") => nums(256)
            .into_iter()
            .for_each(|n| throughput(n as usize, 5)),
        Some("recovery") => nums(1_000_000).into_iter().for_each(recovery),
        // Keep the directory to reopen it many times (A/B runs, profiling).
        Some("recovery-build") => match (args.get(1), args.get(2).and_then(|s| s.parse().ok())) {
            (Some(dir), Some(ops)) => build_log(Path::new(dir), ops),
            _ => eprintln!("usage: durability_load recovery-build DIR OPS"),
        },
        Some("recovery-open") => match args.get(1) {
            Some(dir) => open_log(Path::new(dir)),
            None => eprintln!("usage: durability_load recovery-open DIR"),
        },
        Some("snapshot-pause") => nums(1_000_000)
            .into_iter()
            .for_each(|n| snapshot_pause(n as usize)),
        _ => eprintln!(
            "usage: durability_load (throughput N… | recovery OPS | recovery-build DIR OPS | recovery-open DIR | snapshot-pause WALLETS)"
        ),
    }
}
