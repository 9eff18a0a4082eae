//! The hot window and the history store (bounded memory): what leaves memory is
//! still there for every call that names it, across restarts; a failure of the
//! store fails the engine closed. The model test with archiving is in
//! `ledger_model.rs` (`archived_history_is_transparent`); the crash test in
//! `crash.rs` runs with a 20 ms hot window.

mod common;

use common::*;
use pitboss::ledger::records::{PageDirection, RecordQuery};
use pitboss::*;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const START_MS: i64 = 1_700_000_000_000;

/// A durable engine on `dir` with a 1 s hot window whose archiver runs only when
/// the test calls `archive_now`.
fn open(dir: &Path, clock: &Arc<ManualClock>, faults: &history::Faults) -> Engine {
    let mut config = EngineConfig::default();
    config.wal.fsync = storage::FsyncPolicy::Never;
    config.history = HistoryConfig {
        hot_window: Some(Duration::from_secs(1)),
        archive_every: Duration::from_secs(3600),
        faults: faults.clone(),
        ..HistoryConfig::default()
    };
    let fs: Arc<dyn storage::FileSystem> = Arc::new(storage::StdFs);
    Engine::open_with(dir, config, clock.clone(), fs).expect("open")
}

/// [`open`] without faults, and player `p`'s CNY wallet in channel `c`.
fn one_wallet(dir: &Path, clock: &Arc<ManualClock>) -> (Engine, WalletId) {
    let engine = open(dir, clock, &history::Faults::default());
    let w = engine
        .open_wallet(&channel("c"), &player("p"), &currency("CNY"))
        .expect("wallet");
    (engine, w)
}

/// Two passes a window apart: the first archives, the second evicts what the
/// first archived.
fn archive_and_evict(engine: &Engine, clock: &ManualClock) -> engine::PassReport {
    engine
        .archive_now(clock.now_ms())
        .expect("a history store")
        .expect("pass");
    clock.advance_ms(1_001);
    engine
        .archive_now(clock.now_ms())
        .expect("a history store")
        .expect("pass")
}

fn receipt_of(r: &Receipt) -> (i64, i64, i64, bool) {
    (
        r.amount.minor_units(),
        r.balance.available.minor_units(),
        r.balance.total.minor_units(),
        r.replayed,
    )
}

#[test]
fn archived_ids_replay_conflict_refund_and_refuse_as_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(START_MS));
    let (engine, w) = one_wallet(dir.path(), &clock);
    let dep = engine.deposit(w, &deposit("d1", 1_000)).expect("deposit");
    engine.bet(w, &bet("b1", "r1", "g", 100)).expect("bet");
    let won = engine
        .win(w, &win("w1", "r1", "g", 50, false))
        .expect("win");
    engine.bet(w, &bet("b2", "r2", "g", 200)).expect("open bet");

    let report = archive_and_evict(&engine, &clock);
    assert!(report.evicted.transactions >= 4, "{report:?}");
    assert_eq!(report.evicted.records, 1, "{report:?}");
    assert_eq!(
        report.evicted.rounds, 1,
        "the closed round left; the open one stays"
    );

    // A repeated id is a replay with the original outcome; other parameters conflict.
    let again = engine.deposit(w, &deposit("d1", 1_000)).expect("replay");
    assert_eq!(receipt_of(&again), (1_000, 1_000, 1_000, true));
    assert_eq!(again.balance, dep.balance);
    let e = engine
        .deposit(w, &deposit("d1", 999))
        .expect_err("conflict");
    assert_eq!(kind(&e), "Conflict");
    let again = engine
        .win(w, &win("w1", "r1", "g", 50, false))
        .expect("replay");
    assert_eq!(again.balance, won.balance);
    assert!(again.replayed);
    // A late win and a new bet on the archived (closed) round are refused.
    let e = engine
        .win(w, &win("w9", "r1", "g", 5, false))
        .expect_err("closed");
    assert_eq!(kind(&e), "RoundClosed");
    let e = engine.bet(w, &bet("b9", "r1", "g", 5)).expect_err("closed");
    assert_eq!(kind(&e), "RoundClosed");
    // The refund of an archived bet on a round still open finds it.
    let refunded = engine
        .refund(
            w,
            &RefundRequest {
                tx: tx("rf2"),
                bet_tx: tx("b2"),
            },
        )
        .expect("refund of an archived bet");
    assert_eq!(refunded.amount.minor_units(), 200);
    // A refund of an archived bet whose round closed is refused.
    let e = engine
        .refund(
            w,
            &RefundRequest {
                tx: tx("rf1"),
                bet_tx: tx("b1"),
            },
        )
        .expect_err("round closed");
    assert!(
        ["RoundClosed", "WrongState"].contains(&kind(&e).as_str()),
        "{e:?}"
    );
    // The single-transaction lookup reads the store.
    let found = engine
        .transaction(w, &tx("d1"))
        .expect("lookup")
        .expect("found");
    assert_eq!(found.balance, dep.balance);
    engine.check_invariants();
}

#[test]
fn history_survives_restarts_and_pages_cross_the_boundary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(START_MS));
    let faults = history::Faults::default();
    let (w, balance) = {
        let engine = open(dir.path(), &clock, &faults);
        let w = engine
            .open_wallet(&channel("c"), &player("p"), &currency("CNY"))
            .expect("wallet");
        engine.deposit(w, &deposit("d", 100_000)).expect("deposit");
        for i in 0..30 {
            let r = format!("r{i}");
            engine
                .bet(w, &bet(&format!("b{i}"), &r, "g", 10))
                .expect("bet");
            engine
                .win(w, &win(&format!("w{i}"), &r, "g", i, false))
                .expect("win");
            if i == 19 {
                // The first 20 rounds leave memory; the last 10 stay.
                assert_eq!(archive_and_evict(&engine, &clock).evicted.records, 20);
                engine.snapshot().expect("snapshot");
            }
        }
        let balance = engine.balance(w).expect("balance");
        engine.shutdown().expect("shutdown");
        (w, balance)
    };
    // Restart: the snapshot holds only the hot state; the store the rest.
    let engine = open(dir.path(), &clock, &faults);
    assert_eq!(engine.balance(w).expect("balance"), balance);
    let again = engine.bet(w, &bet("b3", "r3", "g", 10)).expect("replay");
    assert!(again.replayed);
    let e = engine
        .bet(w, &bet("b3", "r3", "g", 11))
        .expect_err("conflict");
    assert_eq!(kind(&e), "Conflict");
    for (direction, size) in [(PageDirection::Next, 7), (PageDirection::Prev, 4)] {
        let mut ids = Vec::new();
        let mut cursor = 0;
        loop {
            let q = RecordQuery {
                size,
                cursor,
                direction,
                player: Some(player("p")),
                ..RecordQuery::default()
            };
            let page = engine.game_records(&channel("c"), &q).expect("page");
            let (Some(first), Some(last)) = (page.records.first(), page.records.last()) else {
                break;
            };
            cursor = if direction == PageDirection::Next {
                last.id.0
            } else {
                first.id.0
            };
            ids.extend(page.records.iter().map(|r| r.id.0));
        }
        ids.sort_unstable();
        assert_eq!(ids, (1..=30).collect::<Vec<u64>>(), "{direction:?}");
    }
    // A filter over both: the games of round 25 and 5 (total win 25 and 5).
    let q = RecordQuery {
        size: 100,
        ..RecordQuery::default()
    };
    let all = engine
        .game_records(&channel("c"), &q)
        .expect("page")
        .records;
    assert_eq!(all.len(), 30);
    assert!(all.windows(2).all(|p| p[0].id > p[1].id), "newest first");
    engine.check_invariants();
    engine.shutdown().expect("shutdown");
    drop(engine);

    // With the window turned off, the store is still read: nothing archived is lost.
    let mut config = EngineConfig::default();
    config.history.hot_window = None;
    let fs: Arc<dyn storage::FileSystem> = Arc::new(storage::StdFs);
    let engine = Engine::open_with(dir.path(), config, clock.clone(), fs).expect("open");
    assert!(
        engine
            .bet(w, &bet("b3", "r3", "g", 10))
            .expect("replay")
            .replayed
    );
    let all = engine
        .game_records(&channel("c"), &q)
        .expect("page")
        .records;
    assert_eq!(all.len(), 30);
}

/// Every page a client can follow with `stopped_at` (the API's `nextCursor`) or its
/// edge record: the ids of `q`'s records in the order the pages walk them (each
/// page lists its own newest first), and how many pages a scan budget cut short.
fn follow_pages(engine: &Engine, q: RecordQuery) -> (Vec<u64>, usize) {
    let (mut ids, mut cut_short, mut cursor) = (Vec::new(), 0, 0);
    loop {
        let page = engine
            .game_records(
                &channel("c"),
                &RecordQuery {
                    cursor,
                    ..q.clone()
                },
            )
            .expect("page");
        assert!(page.records.len() <= q.size);
        assert!(page.records.windows(2).all(|p| p[0].id > p[1].id));
        let walked = page.records.iter().map(|r| r.id.0);
        match q.direction {
            PageDirection::Next => ids.extend(walked),
            PageDirection::Prev => ids.extend(walked.rev()),
        }
        let edge = match q.direction {
            PageDirection::Next => page.records.last(),
            PageDirection::Prev => page.records.first(),
        };
        cursor = match (page.stopped_at, edge) {
            (Some(stop), _) => {
                cut_short += 1;
                stop.0
            }
            (None, Some(r)) if page.records.len() == q.size => r.id.0,
            _ => return (ids, cut_short),
        };
    }
}

/// A filter that matches rarely examines at most `RECORD_SCAN_BUDGET` records in
/// memory and as many in the store within one request, in both directions: a page
/// cut short says where it stopped, and following those stops finds every match,
/// in order, once.
#[test]
fn a_rare_filter_pages_through_memory_and_the_store_within_its_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(START_MS));
    let (engine, w) = one_wallet(dir.path(), &clock);
    engine
        .deposit(w, &deposit("d", 1_000_000))
        .expect("deposit");
    let half = ledger::RECORD_SCAN_BUDGET + 5_000;
    let rare = [7, half - 100, half + 40, 2 * half - 3];
    for i in 0..2 * half {
        let (r, g) = (
            format!("r{i}"),
            if rare.contains(&i) { "rare" } else { "g" },
        );
        engine
            .bet(w, &bet(&format!("b{i}"), &r, g, 1))
            .expect("bet");
        engine
            .win(w, &win(&format!("w{i}"), &r, g, 1, false))
            .expect("win");
        if i + 1 == half {
            // The first half leaves memory for the store; the second stays.
            let evicted = archive_and_evict(&engine, &clock).evicted.records;
            assert!(evicted > ledger::RECORD_SCAN_BUDGET, "{evicted}");
        }
    }
    // Record ids follow the rounds: round i closed with record i + 1.
    let expected: Vec<u64> = rare.iter().map(|&i| i as u64 + 1).collect();
    for direction in [PageDirection::Next, PageDirection::Prev] {
        let q = RecordQuery {
            size: 10,
            direction,
            game: Some("rare".into()),
            ..RecordQuery::default()
        };
        let (mut ids, cut_short) = follow_pages(&engine, q);
        if direction == PageDirection::Next {
            ids.reverse();
        }
        assert_eq!(ids, expected, "{direction:?}");
        assert!(cut_short >= 2, "{direction:?}: {cut_short} pages cut short");
    }
    // A filter that matches nothing ends too, and a full page needs no stop.
    let none = RecordQuery {
        size: 10,
        game: Some("none".into()),
        ..RecordQuery::default()
    };
    assert_eq!(follow_pages(&engine, none).0, Vec::<u64>::new());
    let page = engine
        .game_records(
            &channel("c"),
            &RecordQuery {
                size: 10,
                ..RecordQuery::default()
            },
        )
        .expect("page");
    assert_eq!((page.records.len(), page.stopped_at), (10, None));
}

/// A data directory that ran without a history store, whose log has since lost its
/// oldest segments to retention, cannot get one: the store could never archive
/// what was deleted. Opening it with a hot window is refused with a message that
/// says so (not as log corruption), and it still opens without one.
#[test]
fn a_store_cannot_start_behind_a_trimmed_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(START_MS));
    let config = |window: Option<Duration>| {
        let mut c = EngineConfig::default();
        c.wal.fsync = storage::FsyncPolicy::Never;
        c.wal.segment_size = 4096;
        c.history.hot_window = window;
        c
    };
    let fs: Arc<dyn storage::FileSystem> = Arc::new(storage::StdFs);
    {
        let engine =
            Engine::open_with(dir.path(), config(None), clock.clone(), fs.clone()).expect("open");
        let w = engine
            .open_wallet(&channel("c"), &player("p"), &currency("CNY"))
            .expect("wallet");
        for i in 0..3 {
            for j in 0..100 {
                engine
                    .deposit(w, &deposit(&format!("d{i}-{j}"), 1))
                    .expect("deposit");
            }
            engine.snapshot().expect("snapshot");
        }
        engine.shutdown().expect("shutdown");
    }
    let opened = Engine::open_with(
        dir.path(),
        config(Some(Duration::from_secs(1))),
        clock.clone(),
        fs.clone(),
    );
    let Err(e) = opened else {
        panic!("opened with a store behind the log");
    };
    let message = e.to_string();
    assert!(message.contains("--hot-window off"), "{message}");
    assert!(
        !dir.path().join(engine::HISTORY_DIR).exists(),
        "the refused store was not created"
    );
    Engine::open_with(dir.path(), config(None), clock, fs).expect("opens without a store");
}

/// Past `max_lag_records` durable records not yet archived, new work (a bet, a
/// deposit, a withdrawal with a new id) is refused and changes nothing, while what
/// finishes work already taken goes on: a win, a repeated id. A pass lets new work
/// in again.
#[test]
fn new_work_is_refused_while_the_archiver_is_behind() {
    const BOUND: u64 = 3;
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(START_MS));
    let mut config = EngineConfig::default();
    config.wal.fsync = storage::FsyncPolicy::Always;
    config.history = HistoryConfig {
        hot_window: Some(Duration::from_secs(1)),
        archive_every: Duration::from_secs(3600),
        max_lag_records: BOUND,
        ..HistoryConfig::default()
    };
    let fs: Arc<dyn storage::FileSystem> = Arc::new(storage::StdFs);
    let engine = Engine::open_with(dir.path(), config, clock.clone(), fs).expect("open");
    let lag = |engine: &Engine| engine.history_status().expect("a store").lag_records;
    let w = engine
        .open_wallet(&channel("c"), &player("p"), &currency("CNY"))
        .expect("wallet");
    engine.deposit(w, &deposit("d0", 1_000)).expect("deposit");
    engine.bet(w, &bet("b1", "r1", "g", 100)).expect("bet");
    // Deposits until the lag passes the bound: each logs one record.
    let mut n = 0;
    while lag(&engine) <= BOUND {
        n += 1;
        assert!(n <= 10, "the lag grows with what is logged");
        engine
            .deposit(w, &deposit(&format!("d{n}"), 1))
            .expect("under the bound");
    }
    let before = engine.balance(w).expect("balance");

    for e in [
        engine
            .deposit(w, &deposit("new", 1))
            .expect_err("a new deposit"),
        engine
            .bet(w, &bet("b2", "r2", "g", 1))
            .expect_err("a new bet"),
        engine
            .withdraw(
                w,
                &WithdrawRequest {
                    tx: tx("out"),
                    amount: WithdrawAmount::Exact(Amount::new(1)),
                },
            )
            .expect_err("a new withdrawal"),
        engine
            .bet_pending(w, &bet("b3", "r3", "g", 1))
            .wait()
            .expect_err("a new bet, pending"),
    ] {
        assert_eq!(kind(&e), "LimitExceeded", "{e}");
        assert!(format!("{e}").contains(engine::ARCHIVER_BEHIND), "{e}");
    }
    assert_eq!(
        engine.balance(w).expect("balance"),
        before,
        "nothing changed"
    );

    // What finishes work already taken goes on.
    assert!(
        engine
            .deposit(w, &deposit("d0", 1_000))
            .expect("replay")
            .replayed
    );
    assert!(
        engine
            .bet(w, &bet("b1", "r1", "g", 100))
            .expect("replay")
            .replayed
    );
    let won = engine
        .win(w, &win("w1", "r1", "g", 250, false))
        .expect("a win closes the open round");
    assert_eq!(won.amount.minor_units(), 250);

    // Once the archiver has caught up, new work is taken again.
    engine
        .archive_now(clock.now_ms())
        .expect("a history store")
        .expect("pass");
    assert_eq!(lag(&engine), 0);
    engine.deposit(w, &deposit("new", 1)).expect("taken again");
    engine
        .bet(w, &bet("b2", "r2", "g", 1))
        .expect("taken again");
}

#[test]
fn a_failing_history_store_fails_the_engine_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(START_MS));
    let faults = history::Faults::default();
    let engine = open(dir.path(), &clock, &faults);
    let w = engine
        .open_wallet(&channel("c"), &player("p"), &currency("CNY"))
        .expect("wallet");
    engine.deposit(w, &deposit("d1", 500)).expect("deposit");
    archive_and_evict(&engine, &clock);
    let before = engine.balance(w).expect("balance");

    // A lookup the store cannot answer refuses the call and changes nothing.
    faults.fail(true);
    let e = engine
        .deposit(w, &deposit("d2", 1))
        .expect_err("store down");
    assert!(format!("{e}").contains("history store"), "{e}");
    assert_eq!(engine.balance(w).expect("balance"), before);
    // The archiver's failure fails the log closed: nothing is acknowledged.
    let e = engine
        .archive_now(clock.now_ms())
        .expect("store")
        .expect_err("pass");
    assert!(format!("{e}").contains("history store"), "{e}");
    assert!(engine.health().is_err(), "the log failed closed");
    faults.fail(false);
    assert!(
        engine.deposit(w, &deposit("d3", 1)).is_err(),
        "still closed"
    );
    // Nor is a snapshot taken, though the disk itself is fine: memory may hold
    // effects the log refused, and record ids that refused appends took (the
    // simulator found a restart from such a snapshot skipping those ids).
    assert!(engine.snapshot().is_err(), "a failed log takes no snapshot");
    drop(engine);

    // Restart recovers: what was acknowledged is there, and the store works.
    let engine = open(dir.path(), &clock, &faults);
    assert_eq!(engine.balance(w).expect("balance"), before);
    assert!(
        engine
            .deposit(w, &deposit("d1", 500))
            .expect("replay")
            .replayed
    );
}

#[test]
fn a_history_store_that_stops_answering_makes_the_engine_unhealthy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = history::Faults::default();
    let mut config = EngineConfig::default();
    config.wal.fsync = storage::FsyncPolicy::Never;
    config.history = HistoryConfig {
        hot_window: Some(Duration::from_secs(1)),
        archive_every: Duration::from_millis(10),
        stuck_after: Duration::from_millis(200),
        faults: faults.clone(),
        ..HistoryConfig::default()
    };
    let engine = Engine::open(dir.path(), config).expect("open");
    let w = engine
        .open_wallet(&channel("c"), &player("p"), &currency("CNY"))
        .expect("wallet");
    faults.stall(true);
    engine
        .deposit(w, &deposit("d1", 5))
        .expect("the log does not wait for history");
    let wait_for = |healthy: bool| {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while engine.health().is_ok() != healthy {
            assert!(
                std::time::Instant::now() < until,
                "health stayed {:?}",
                engine.health()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for(false);
    let e = engine.health().expect_err("stuck");
    assert!(e.contains("history store"), "{e}");
    faults.stall(false);
    wait_for(true);
}
