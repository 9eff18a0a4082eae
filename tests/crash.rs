//! Crash test: a child process runs concurrent mutations on a data directory and
//! prints each acknowledgement as it gets it; the parent SIGKILLs it at a random
//! moment, reopens the directory, and checks that every acknowledged operation is
//! there with its original outcome (replaying its transaction id returns the same
//! receipt), that conservation holds, and that the engine goes on from there. The
//! child snapshots every 2,000 effects or 50 ms, so kills also hit snapshots in progress.
//! Every other child runs a crowd of submitter threads, so that kills also hit waiters
//! that yield instead of parking.
//!
//! The child is this test binary itself, re-run with `PITBOSS_CRASH_CHILD` set.
//! Short run (CI): `cargo test --test crash`. Long run (200 kill cycles):
//! `PITBOSS_CRASH_CYCLES=200 cargo test --release --test crash -- --nocapture`

mod common;

use common::*;
use pitboss::*;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

const CHILD_ENV: &str = "PITBOSS_CRASH_CHILD";
/// Submitter threads of the child in even generations.
const THREADS: usize = 4;
/// Blocked waiters per CPU above which a waiter yields before it parks
/// (`storage::durable`'s `YIELD_ABOVE_PER_CPU`): odd generations run a crowd past it,
/// so that kills also land while acknowledgements come through yielding waiters.
const CROWD_PER_CPU: usize = 16;

/// The child's submitter threads in `generation`: a few, or a crowd (see above).
fn child_threads(generation: &str) -> usize {
    let odd = generation.parse::<usize>().is_ok_and(|g| g % 2 == 1);
    if odd {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        CROWD_PER_CPU * cpus + 16
    } else {
        THREADS
    }
}

/// One acknowledged operation, as the child reported it.
#[derive(Debug, Clone)]
struct Ack {
    kind: String,
    player: String,
    tx: String,
    round: String,
    amount: i64,
    available: i64,
    total: i64,
}

impl Ack {
    fn parse(line: &str) -> Option<Ack> {
        let f: Vec<&str> = line.strip_prefix("ACK ")?.split(' ').collect();
        let [kind, player, tx, round, amount, available, total] = f.as_slice() else {
            return None;
        };
        Some(Ack {
            kind: kind.to_string(),
            player: player.to_string(),
            tx: tx.to_string(),
            round: round.to_string(),
            amount: amount.parse().ok()?,
            available: available.parse().ok()?,
            total: total.parse().ok()?,
        })
    }
}

/// The child: mutations from several threads until it is killed.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let generation = std::env::var("PITBOSS_CRASH_GEN").unwrap_or_default();
    // Snapshots every few thousand effects, so that kills also land while a snapshot
    // is being written, and recovery starts from a snapshot plus the log after it.
    let config = EngineConfig {
        snapshot_every_records: 2_000,
        snapshot_every: Duration::from_millis(50),
        history: hot_history(),
        ..EngineConfig::default()
    };
    let engine = Arc::new(Engine::open(&dir, config).expect("child open"));
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..child_threads(&generation))
        .map(|t| {
            let (engine, out, generation) = (engine.clone(), out.clone(), generation.clone());
            std::thread::spawn(move || child_loop(&engine, &out, &generation, t))
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

/// A hot window of 20 ms archived every 10 ms: kills land while the archiver
/// reads the log, writes the history store and evicts, and the checks after
/// recovery find most acknowledged ids only in the store.
fn hot_history() -> HistoryConfig {
    HistoryConfig {
        hot_window: Some(Duration::from_millis(20)),
        archive_every: Duration::from_millis(10),
        ..HistoryConfig::default()
    }
}

fn child_loop(engine: &Engine, out: &Mutex<std::io::Stdout>, generation: &str, t: usize) {
    let cny = currency("CNY");
    let players = [format!("own{t}"), "hot".to_string()];
    for i in 0.. {
        let name = &players[i % 2];
        let w = engine
            .open_wallet(&channel("c"), &player(name), &cny)
            .expect("open");
        let id = format!("g{generation}-t{t}-{i}");
        let (d, b, wn) = (format!("d-{id}"), format!("b-{id}"), format!("w-{id}"));
        let round = format!("r-{id}");
        let report = |kind: &str, tx: &str, r: &Receipt| {
            let line = format!(
                "ACK {kind} {name} {tx} {round} {} {} {}\n",
                r.amount, r.balance.available, r.balance.total
            );
            let mut out = out.lock().expect("stdout");
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        };
        let r = engine.deposit(w, &deposit(&d, 50)).expect("deposit");
        report("deposit", &d, &r);
        let r = engine.bet(w, &bet(&b, &round, "g", 20)).expect("bet");
        report("bet", &b, &r);
        if i % 4 == 1 {
            // A second bet on the open round: logged as its leg alone (`AddBet`).
            let b2 = format!("b2-{id}");
            let r = engine
                .bet(w, &bet(&b2, &round, "g", 10))
                .expect("second bet");
            report("bet", &b2, &r);
        }
        if i % 4 != 0 {
            let r = engine
                .win(w, &win(&wn, &round, "g", (i % 3) as i64 * 15, false))
                .expect("win");
            report("win", &wn, &r);
        }
    }
}

/// Replays an acknowledged request on the recovered engine: it must be recognised
/// as a replay and return the original receipt.
fn check_ack(engine: &Engine, ack: &Ack) {
    let w = engine
        .wallet_id(&channel("c"), &player(&ack.player), &currency("CNY"))
        .unwrap_or_else(|| panic!("acknowledged wallet of {} lost", ack.player));
    let r = match ack.kind.as_str() {
        "deposit" => engine.deposit(w, &deposit(&ack.tx, ack.amount)),
        "bet" => engine.bet(w, &bet(&ack.tx, &ack.round, "g", ack.amount)),
        "win" => engine.win(w, &win(&ack.tx, &ack.round, "g", ack.amount, false)),
        other => panic!("unknown ack kind {other}"),
    };
    let r = r.unwrap_or_else(|e| panic!("acknowledged {ack:?} lost: {e}"));
    assert!(
        r.replayed,
        "acknowledged {ack:?} was not in the recovered state"
    );
    assert_eq!(
        (
            r.amount.minor_units(),
            r.balance.available.minor_units(),
            r.balance.total.minor_units()
        ),
        (ack.amount, ack.available, ack.total),
        "{ack:?}"
    );
}

/// Runs one child for about `run_for`, kills it, returns what it acknowledged.
fn run_and_kill(dir: &Path, generation: usize, run_for: Duration) -> Vec<Ack> {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env("PITBOSS_CRASH_GEN", generation.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let acks = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let acks = acks.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(a) = Ack::parse(&line) {
                    acks.lock().expect("acks").push(a);
                }
            }
        })
    };
    let start = Instant::now();
    // Wait until the child is really working, then let it run a random while.
    while acks.lock().expect("acks").is_empty() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(run_for);
    child.kill().expect("SIGKILL the child");
    let _ = child.wait();
    let _ = reader.join();
    let acks = acks.lock().expect("acks").clone();
    acks
}

fn random_ms(seed: &mut u64, max: u64) -> u64 {
    // xorshift: no dependency, and a different schedule each run.
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed % max
}

#[test]
fn killed_process_keeps_every_acknowledged_operation() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let cycles: usize = std::env::var("PITBOSS_CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64)
        | 1;
    let mut all: Vec<Ack> = Vec::new();
    for generation in 0..cycles {
        let acks = run_and_kill(
            dir.path(),
            generation,
            Duration::from_millis(20 + random_ms(&mut seed, 300)),
        );
        assert!(
            !acks.is_empty(),
            "cycle {generation}: the child acknowledged nothing"
        );
        all.extend(acks);
        let config = EngineConfig {
            history: hot_history(),
            ..EngineConfig::default()
        };
        let engine = Engine::open(dir.path(), config).expect("recover after SIGKILL");
        engine.check_invariants();
        // Every record listed once, whether in memory, in the store or both.
        let mut ids = Vec::new();
        let mut cursor = 0;
        loop {
            let q = pitboss::ledger::records::RecordQuery {
                size: 1000,
                cursor,
                ..Default::default()
            };
            let page = engine.game_records(&channel("c"), &q).expect("records");
            let Some(last) = page.records.last() else {
                break;
            };
            cursor = last.id.0;
            ids.extend(page.records.iter().map(|r| r.id.0));
        }
        let listed = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), listed, "a record listed twice");
        // Every acknowledgement of every cycle so far is still there.
        for ack in &all {
            check_ack(&engine, ack);
        }
        eprintln!(
            "cycle {generation}: {} acks so far, report {:?}",
            all.len(),
            engine.recovery_report()
        );
    }
}
