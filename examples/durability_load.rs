//! Durability load runs (figures in the README). Each is bounded and stops by itself.
//!
//! ```sh
//! cargo run --release --example durability_load -- throughput 1 16 256   # durable bets/s, fsync always
//!     (bets only, then bet+win, with each bet's latency; `PITBOSS_LOAD_SECONDS` sets each
//!     run's length, default 5;
//!     `PITBOSS_PIN_SUBMITTERS=1` pins submitter thread t to CPU t mod the CPU count)
//! cargo run --release --example durability_load -- throughput-rounds 1 256  # bet+win only
//! cargo run --release --example durability_load -- throughput-async 1 16 256  # the same, as tokio tasks
//! cargo run --release --example durability_load -- recovery 10000000      # replay rate, open time
//! cargo run --release --example durability_load -- recovery-build DIR 1000000  # keep a log…
//! cargo run --release --example durability_load -- recovery-open DIR           # …and reopen it
//! cargo run --release --example durability_load -- recovery-snapshot DIR  # snapshot DIR, open from it
//! cargo run --release --example durability_load -- snapshot-pause 1000000 # longest writer pause
//! cargo run --release --example durability_load -- memory-probe 4  # first-touch cost of 4 GiB
//! PITBOSS_HOT_WINDOW_MS=10000 cargo run --release --example durability_load -- rounds-rss 70 16
//!     # RSS per round under steady bet+win load, the library alone
//! ```
//!
//! `PITBOSS_HOT_WINDOW_MS` (`off`, or milliseconds), `PITBOSS_FSYNC` (`always`,
//! `never`, `interval:<ms>`) and `PITBOSS_MAX_ARCHIVE_LAG` (records) override every
//! run's configuration (A/B runs of the history archiver:
//! `tools/bench/archiver-abba.sh`). A bet refused because the archiver is behind is
//! sent again with a backoff, and counted.
//!
//! Recovery builds gigabytes of state, and on a virtual machine whose host backs guest
//! memory lazily the kernel's first touch of a page can cost several times more than on
//! memory the host already backs. `memory-probe` measures that cost on its own; run just
//! before `recovery-open`, it also leaves the memory backed for it.

use pitboss::storage::FsyncPolicy;
use pitboss::*;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bets refused because the archiver was behind (`HistoryConfig::max_lag_records`),
/// each sent again after a pause: the rates below are what the engine sustains with
/// its archive kept up, not a burst that leaves history piling up in memory.
static REFUSED_BETS: AtomicU64 = AtomicU64::new(0);

/// Sends `req` until admitted, backing off from 1 ms to 128 ms as a client should
/// (a retry storm of hundreds of threads would take the CPU the archiver needs).
fn bet_when_admitted(engine: &Engine, w: WalletId, req: &BetRequest) -> Receipt {
    let mut pause = Duration::from_millis(1);
    loop {
        match engine.bet(w, req) {
            Err(EngineError::Ledger(ledger::error::LedgerError::LimitExceeded(why)))
                if why == engine::ARCHIVER_BEHIND =>
            {
                REFUSED_BETS.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(128));
            }
            other => return other.expect("durable bet"),
        }
    }
}

fn id<T: TryFrom<&'static str>>(s: &'static str) -> T {
    T::try_from(s).unwrap_or_else(|_| panic!("id {s}"))
}

/// The engine's configuration with `fsync`, unless `PITBOSS_FSYNC` overrides it,
/// and the hot window `PITBOSS_HOT_WINDOW_MS` says (`off`: no history store; unset:
/// the default). A/B runs of the archiver set these.
fn config(fsync: FsyncPolicy) -> EngineConfig {
    let mut c = EngineConfig::default();
    c.wal.fsync = std::env::var("PITBOSS_FSYNC")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(fsync);
    match std::env::var("PITBOSS_HOT_WINDOW_MS").as_deref() {
        Ok("off") => c.history.hot_window = None,
        Ok(ms) => {
            let ms: u64 = ms
                .parse()
                .expect("PITBOSS_HOT_WINDOW_MS: milliseconds or off");
            c.history.hot_window = Some(Duration::from_millis(ms));
        }
        Err(_) => {}
    }
    if let Ok(records) = std::env::var("PITBOSS_MAX_ARCHIVE_LAG") {
        c.history.max_lag_records = records
            .parse()
            .expect("PITBOSS_MAX_ARCHIVE_LAG: a number of records");
    }
    c
}

/// Resident memory of this process, bytes (Linux; 0 elsewhere).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Bet + win rounds from `submitters` threads for `seconds`, with the configuration
/// `config` gives (set the hot window with `PITBOSS_HOT_WINDOW_MS`): RSS and rounds
/// every 10 s, and RSS growth per round after the first 30 s. The library alone, so
/// that nothing of the HTTP front end (nonces, connections) is counted.
fn rounds_rss(submitters: usize, seconds: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(FsyncPolicy::Always);
    println!(
        "rounds-rss: {submitters} submitters, {seconds} s, fsync {}, hot window {:?}",
        cfg.wal.fsync, cfg.history.hot_window
    );
    let engine = Arc::new(Engine::open(dir.path(), cfg).expect("open"));
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..submitters)
        .map(|t| {
            let (engine, stop, rounds) = (engine.clone(), stop.clone(), rounds.clone());
            std::thread::spawn(move || {
                let w = wallets(&engine, 1, &format!("m{t}-"))[0];
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    bet_when_admitted(&engine, w, &bet(i, t));
                    engine.win(w, &win(i, t)).expect("win");
                    rounds.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    let mut samples = Vec::new();
    for second in 1..=seconds {
        std::thread::sleep(Duration::from_secs(1));
        samples.push((second, rss_bytes(), rounds.load(Ordering::Relaxed)));
        if second % 10 == 0 {
            let (_, rss, n) = samples[samples.len() - 1];
            let store = engine.history_status().map_or(String::new(), |h| {
                let mib = h.memtable_bytes as f64 / (1 << 20) as f64;
                format!(", store memtables {mib:.1} MiB, {} journals", h.journals)
            });
            println!(
                "{second:>4} s: RSS {:.1} MiB, {n} rounds{store}",
                rss as f64 / (1 << 20) as f64
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    // The slope of RSS against rounds done, least squares over every sample after
    // the first 30 s: RSS swings by tens of MiB with what a moment holds (an
    // archiver pass's batch, a snapshot's buffers), so two end points say little.
    let steady: Vec<(f64, f64)> = samples
        .iter()
        .skip(30)
        .map(|&(_, rss, n)| (n as f64, rss as f64))
        .collect();
    if steady.len() >= 2 {
        let len = steady.len() as f64;
        let (mx, my) = (
            steady.iter().map(|p| p.0).sum::<f64>() / len,
            steady.iter().map(|p| p.1).sum::<f64>() / len,
        );
        let sxy: f64 = steady.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = steady.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let (lo, hi) = steady
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
        let rounds = steady[steady.len() - 1].0 - steady[0].0;
        println!(
            "after 30 s: RSS grows {:.2} bytes per round (least squares over {} samples, \
             {rounds:.0} rounds, {:.0} rounds/s); RSS between {:.1} and {:.1} MiB",
            sxy / sxx.max(1.0),
            steady.len(),
            rounds / (len - 1.0),
            lo / (1 << 20) as f64,
            hi / (1 << 20) as f64,
        );
    }
    if let Some(h) = engine.history_status() {
        println!("history: {h:?}");
    }
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

/// What each submitter does in a throughput run.
#[derive(Clone, Copy, PartialEq)]
enum Workload {
    /// bet, wait, bet, wait … over its own `WALLETS_PER_SUBMITTER` wallets, each bet
    /// opening a round (as the in-memory ledger bench does).
    Bets,
    /// bet, wait, win, wait … on its own wallet: every win closes the bet's round.
    BetWin,
}

/// Wallets each submitter spreads its bets over in the bets-only workload: a wallet
/// holds at most 1,024 open rounds, so a submitter can place 65,536 bets.
const WALLETS_PER_SUBMITTER: usize = 64;

/// Voluntary and involuntary context switches of this process so far (Linux only;
/// zeros elsewhere), summed over its threads.
fn context_switches() -> (u64, u64) {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0);
    };
    let (mut voluntary, mut forced) = (0, 0);
    for task in tasks.flatten() {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        for line in status.lines() {
            let value = |l: &str| l.split_whitespace().nth(1).and_then(|v| v.parse().ok());
            if line.starts_with("voluntary_ctxt_switches") {
                voluntary += value(line).unwrap_or(0);
            } else if line.starts_with("nonvoluntary_ctxt_switches") {
                forced += value(line).unwrap_or(0);
            }
        }
    }
    (voluntary, forced)
}

/// CPU time this process used so far (user + system, every thread, living or not), in
/// seconds; zero where /proc is missing. The machine is shared: CPU per operation is a
/// steadier figure than operations per second.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesized command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0 // USER_HZ, 100 on every Linux this runs on
}

/// Durable operations per second with `submitters` threads, each waiting for its own
/// operation to be durable (fsync `always`) before submitting the next.
fn throughput(workload: Workload, submitters: usize, seconds: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(FsyncPolicy::Always);
    let fsync_name = cfg.wal.fsync.to_string();
    let engine = Arc::new(Engine::open(dir.path(), cfg).expect("open"));
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    // Each submitter opens its own wallets (in parallel, so group commit makes it
    // quick), then all start together.
    let ready = Arc::new(std::sync::Barrier::new(submitters + 1));
    let threads: Vec<_> = (0..submitters)
        .map(|t| {
            let (engine, stop, ops, ready) =
                (engine.clone(), stop.clone(), ops.clone(), ready.clone());
            std::thread::spawn(move || {
                let n = match workload {
                    Workload::Bets => WALLETS_PER_SUBMITTER,
                    Workload::BetWin => 1,
                };
                if std::env::var_os("PITBOSS_PIN_SUBMITTERS").is_some() {
                    pin_to_cpu(t);
                }
                let ws = wallets(&engine, n, &format!("s{t}-"));
                ready.wait();
                let mut i = 0u64;
                // Each bet's latency in µs, from the call to its durable receipt.
                let mut latencies: Vec<u32> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let w = ws[(i as usize) % ws.len()];
                    let request = bet(i, t);
                    let sent = Instant::now();
                    bet_when_admitted(&engine, w, &request);
                    let micros = sent.elapsed().as_micros();
                    latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                    if workload == Workload::BetWin {
                        // Close the round so the wallet never reaches its open-round limit.
                        engine.win(w, &win(i, t)).expect("durable win");
                        ops.fetch_add(2, Ordering::Relaxed);
                    } else {
                        ops.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    ready.wait();
    let (before, cpu_before) = (context_switches(), cpu_seconds());
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    // Counted while the submitters live: an exited thread's counters leave /proc.
    let (after, cpu, n, elapsed) = (
        context_switches(),
        cpu_seconds() - cpu_before,
        ops.load(Ordering::Relaxed) as f64,
        start.elapsed().as_secs_f64(),
    );
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<u32> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap_or_default())
        .collect();
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(i).copied().unwrap_or(0)
    };
    let per_op = |a: u64, b: u64| a.saturating_sub(b) as f64 / n.max(1.0);
    let what = match workload {
        Workload::Bets => format!("{:.0} durable bets/s", n / elapsed),
        Workload::BetWin => format!(
            "{:.0} durable ops/s = {:.0} bets/s + {:.0} wins/s",
            n / elapsed,
            n / elapsed / 2.0,
            n / elapsed / 2.0
        ),
    };
    let name = match workload {
        Workload::Bets => "bets",
        Workload::BetWin => "bet+win",
    };
    println!(
        "throughput {name} fsync={} submitters={submitters}: {what} \
         ({:.1} µs CPU, {:.2} voluntary + {:.2} forced context switches per op; \
         bet latency p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs; \
         {} bets refused while the archiver was behind)",
        fsync_name,
        cpu * 1e6 / n.max(1.0),
        per_op(after.0, before.0),
        per_op(after.1, before.1),
        at(0.5),
        at(0.99),
        at(0.999),
        at(1.0),
        REFUSED_BETS.swap(0, Ordering::Relaxed),
    );
}

/// Pins the calling thread to CPU `t` modulo the CPUs available: how a thread-per-core
/// embedder runs. Threads that stay on one CPU are woken there, without migrations.
#[cfg(all(feature = "server", target_os = "linux"))]
fn pin_to_cpu(t: usize) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    // SAFETY: `set` is a plain bit set, zeroed then filled by CPU_SET within its size,
    // and sched_setaffinity(0, ..) only reads it, for this thread.
    let ok = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(t % cpus, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    };
    if !ok {
        eprintln!("could not pin submitter {t}: running unpinned");
    }
}

#[cfg(not(all(feature = "server", target_os = "linux")))]
fn pin_to_cpu(_t: usize) {
    eprintln!("pinning needs Linux and the server feature (libc): running unpinned");
}

/// Durable bets per second with `submitters` tokio tasks on a 2-worker runtime, each
/// awaiting its own bet's durability (fsync `always`) before submitting the next: what
/// the HTTP server does. A waiting task costs no thread, so no context switch per op.
#[cfg(feature = "server")]
fn throughput_async(submitters: usize, seconds: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Arc::new(Engine::open(dir.path(), config(FsyncPolicy::Always)).expect("open"));
    // Wallets are opened from plain threads, in parallel: group commit makes it quick.
    let all: Vec<Vec<WalletId>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..submitters)
            .map(|t| {
                let engine = &engine;
                s.spawn(move || wallets(engine, WALLETS_PER_SUBMITTER, &format!("a{t}-")))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("wallets"))
            .collect()
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let (before, cpu_before) = (context_switches(), cpu_seconds());
    let start = Instant::now();
    let (n, elapsed) = runtime.block_on(async {
        let tasks: Vec<_> = all
            .into_iter()
            .enumerate()
            .map(|(t, ws)| {
                let (engine, stop, ops) = (engine.clone(), stop.clone(), ops.clone());
                tokio::spawn(async move {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let w = ws[(i as usize) % ws.len()];
                        engine
                            .bet_pending(w, &bet(i, t))
                            .await
                            .expect("durable bet");
                        ops.fetch_add(1, Ordering::Relaxed);
                        i += 1;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let counted = (
            ops.load(Ordering::Relaxed) as f64,
            start.elapsed().as_secs_f64(),
        );
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
        counted
    });
    let (after, cpu) = (context_switches(), cpu_seconds() - cpu_before);
    let per_op = |a: u64, b: u64| a.saturating_sub(b) as f64 / n.max(1.0);
    println!(
        "throughput-async bets fsync=always submitters={submitters} (tokio tasks, 2 workers): \
         {:.0} durable bets/s ({:.1} µs CPU, {:.2} voluntary + {:.2} forced context switches per op)",
        n / elapsed,
        cpu * 1e6 / n.max(1.0),
        per_op(after.0, before.0),
        per_op(after.1, before.1),
    );
}

/// Each throughput run's length: `PITBOSS_LOAD_SECONDS`, default 5.
fn load_seconds() -> u64 {
    std::env::var("PITBOSS_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
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

/// Opens `dir` (replaying its log), shuts down cleanly (which writes a snapshot and
/// deletes the segments it covers), then reports the time to open `dir` again: what a
/// restart costs under the default snapshot policy, which never leaves more than a
/// million records after the newest snapshot. Consumes `dir`'s log: run it on a copy.
fn open_snapshot(dir: &Path) {
    let t = Instant::now();
    let engine = Engine::open(dir, recovery_config()).expect("open");
    let replayed = engine.recovery_report().replayed;
    engine.shutdown().expect("shutdown with a snapshot");
    drop(engine);
    println!(
        "recovery: replayed {replayed} records and wrote a snapshot in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let engine = Engine::open(dir, recovery_config()).expect("reopen");
    let report = engine.recovery_report();
    println!(
        "recovery: opened from the snapshot at {:?} ({} records replayed after it) in {:.2} s",
        report.snapshot_lsn.map(|l| l.0),
        report.replayed,
        t.elapsed().as_secs_f64()
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
                    bet_when_admitted(&engine, w, &bet(i, label.len()));
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

/// Touches `gib` GiB of fresh memory, one write per 4 KiB page, and reports the time per
/// GiB: what the kernel (and, on a VM, the host) charges for memory recovery builds.
fn memory_probe(gib: u64) {
    let len = usize::try_from(gib << 30).expect("size fits in memory");
    // Zeroed allocations of this size are fresh mappings: no page is touched yet.
    let mut memory = vec![0u8; len];
    let t = Instant::now();
    for page in memory.chunks_mut(4096) {
        page[0] = 1;
    }
    let elapsed = t.elapsed().as_secs_f64();
    // Read it back so the writes cannot be optimized away.
    let touched: usize = memory.iter().step_by(4096).map(|&b| usize::from(b)).sum();
    println!(
        "memory-probe: touched {touched} pages ({gib} GiB) in {elapsed:.2} s: {:.2} s per GiB",
        elapsed / gib.max(1) as f64
    );
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
        Some("throughput") => {
            let seconds = load_seconds();
            for workload in [Workload::Bets, Workload::BetWin] {
                for n in nums(256) {
                    throughput(workload, n as usize, seconds);
                }
            }
        }
        Some("throughput-rounds") => {
            let seconds = load_seconds();
            for n in nums(256) {
                throughput(Workload::BetWin, n as usize, seconds);
            }
        }
        #[cfg(feature = "server")]
        Some("throughput-async") => {
            let seconds = load_seconds();
            for n in nums(256) {
                throughput_async(n as usize, seconds);
            }
        }
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
        Some("recovery-snapshot") => match args.get(1) {
            Some(dir) => open_snapshot(Path::new(dir)),
            None => eprintln!("usage: durability_load recovery-snapshot DIR"),
        },
        Some("snapshot-pause") => nums(1_000_000)
            .into_iter()
            .for_each(|n| snapshot_pause(n as usize)),
        Some("memory-probe") => nums(4).into_iter().for_each(memory_probe),
        Some("rounds-rss") => {
            let v = nums(70);
            let seconds = v.first().copied().unwrap_or(70).max(31);
            let submitters = v.get(1).copied().unwrap_or(16) as usize;
            rounds_rss(submitters, seconds);
        }
        _ => eprintln!(
            "usage: durability_load (throughput N… | throughput-rounds N… | throughput-async N… | recovery OPS | recovery-build DIR OPS | recovery-open DIR | recovery-snapshot DIR | snapshot-pause WALLETS | memory-probe GIB | rounds-rss SECONDS SUBMITTERS)"
        ),
    }
}
