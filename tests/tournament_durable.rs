//! Tournaments on the durable engine: scores, ranks, bindings and paid prizes survive
//! a reopen from the log alone and from a snapshot, and a prize is never paid twice.

mod common;

use common::*;
use pitboss::storage::StdFs;
use pitboss::tournaments::scoring::SCORE_SCALE;
use pitboss::tournaments::TournamentSpec;
use pitboss::*;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

const S: i64 = 1_699_920_000;
const DAY: i64 = 86_400;

fn open(dir: &Path, clock: &Arc<ManualClock>) -> Engine {
    Engine::open_with(dir, EngineConfig::default(), clock.clone(), Arc::new(StdFs)).expect("open")
}

fn spec() -> TournamentSpec {
    let v = json!({
        "version": "1.0", "name": "cup", "start": S, "end": S + 10 * DAY,
        "rounds": [{
            "name": "r1", "start": S, "end": S + 5 * DAY,
            "initial": {"type": "fixed", "value": 0},
            "prize": {"type": "credit", "top": 2, "tiers": [
                {"range": [1, 1], "value": 1000}, {"range": [2, 2], "value": 300}]},
            "strategy": {"type": 0, "rules": {
                "bet": {"enabled": true, "type": "rate", "rate": 0.5},
                "win": {"enabled": false, "type": "rate", "rate": 1}}}
        }]
    });
    pitboss::server::tournament_spec::parse(v.to_string().as_bytes()).expect("spec")
}

fn play(engine: &Engine, p: &str, i: usize, amount: i64) -> WalletId {
    let w = engine
        .open_wallet(&channel("chnsz"), &player(p), &currency("CNY"))
        .expect("wallet");
    engine
        .deposit(w, &deposit(&format!("d{i}"), amount))
        .expect("deposit");
    engine
        .bet(
            w,
            &bet(&format!("b{i}"), &format!("r{i}"), "slot_alice", amount),
        )
        .expect("bet");
    engine
        .win(
            w,
            &win(&format!("w{i}"), &format!("r{i}"), "slot_alice", 0, false),
        )
        .expect("win");
    w
}

/// A player's score history keeps the newest steps, in time order, across reopens
/// from the log alone and from a snapshot (whose replay offers some steps again).
#[test]
fn score_histories_keep_the_newest_steps_across_reopens() {
    use pitboss::tournaments::tournament::SCORE_STEPS_KEPT;
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(S * 1000 - 1000));
    let ch = channel("chnsz");
    let engine = open(dir.path(), &clock);
    let id = engine
        .create_tournament(&ch, &spec())
        .expect("create")
        .summary
        .id;
    engine
        .bind_game(&ch, &id, &GameId::new("slot_alice").expect("game"))
        .expect("bind");
    let rounds = SCORE_STEPS_KEPT + 3;
    let mut w = WalletId(0);
    for i in 0..rounds {
        clock.set_ms(S * 1000 + 1000 + i as i64 * 1000);
        w = play(&engine, "carol", i, 10);
        if i == rounds - 5 {
            engine.snapshot().expect("snapshot");
        }
    }
    let expected = |h: &pitboss::tournaments::tournament::ScoreHistory| {
        let scores: Vec<i64> = h.steps.iter().map(|s| s.score / SCORE_SCALE).collect();
        let want: Vec<i64> = (rounds - SCORE_STEPS_KEPT + 1..=rounds)
            .map(|n| n as i64 * 5)
            .collect();
        assert_eq!(scores, want);
        assert!(h.truncated);
        assert!(h
            .steps
            .iter()
            .zip(h.steps.iter().skip(1))
            .all(|(a, b)| a.at_ms < b.at_ms));
    };
    expected(
        &engine
            .tournament_score_history(&ch, &id, 1, w)
            .expect("history"),
    );
    drop(engine);
    let engine = open(dir.path(), &clock);
    expected(
        &engine
            .tournament_score_history(&ch, &id, 1, w)
            .expect("after a reopen"),
    );
    // Another round number is refused; a wallet without scores has no steps.
    assert!(engine.tournament_score_history(&ch, &id, 2, w).is_err());
    let nobody = engine
        .tournament_score_history(&ch, &id, 1, WalletId(999))
        .expect("no steps");
    assert!(nobody.steps.is_empty());
}

#[test]
fn tournament_state_and_prizes_survive_reopen_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(S * 1000 - 1000));
    let ch = channel("chnsz");
    let (id, a, b, ranks) = {
        let engine = open(dir.path(), &clock);
        let info = engine.create_tournament(&ch, &spec()).expect("create");
        let id = info.summary.id.clone();
        engine
            .bind_game(&ch, &id, &GameId::new("slot_alice").expect("game"))
            .expect("bind");
        clock.set_ms(S * 1000 + 1000);
        let a = play(&engine, "alice", 1, 400);
        let b = play(&engine, "bob", 2, 100);
        play(&engine, "alice", 3, 200);
        engine.snapshot().expect("snapshot mid-tournament");
        play(&engine, "bob", 4, 50);
        let ranks = engine
            .tournament_ranks(&ch, &id, 1, page(0, 10))
            .expect("ranks");
        (id, a, b, ranks)
    };
    assert_eq!(ranks.len(), 2);
    // Reopen (snapshot + log tail): the leaderboard is the same.
    let engine = open(dir.path(), &clock);
    let again = engine
        .tournament_ranks(&ch, &id, 1, page(0, 10))
        .expect("ranks after reopen");
    let key = |rows: &Vec<pitboss::tournaments::RankRow>| {
        rows.iter()
            .map(|r| (r.player.clone(), r.score, r.rank))
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&again), key(&ranks));
    // Alice's score history: two records (400 × 0.5, then 200 × 0.5), as before.
    let history = engine
        .tournament_score_history(&ch, &id, 1, a)
        .expect("history");
    let scores: Vec<i64> = history.steps.iter().map(|s| s.score).collect();
    assert_eq!(scores, [200 * SCORE_SCALE, 300 * SCORE_SCALE]);
    assert!(!history.truncated);

    // The round ends; the tick pays; a reopen and a second tick pay nothing more.
    clock.set_ms((S + 5 * DAY) * 1000 + 1000);
    engine.tick_tournaments().expect("pay");
    let paid = (engine.balance(a).expect("a"), engine.balance(b).expect("b"));
    assert_eq!(
        paid.0.available.minor_units(),
        1000,
        "alice won the first prize"
    );
    assert_eq!(paid.1.available.minor_units(), 300, "bob the second");
    drop(engine);
    let engine = open(dir.path(), &clock);
    engine.tick_tournaments().expect("tick after reopen");
    assert_eq!(
        (engine.balance(a).expect("a"), engine.balance(b).expect("b")),
        paid
    );
    engine.check_invariants();
}

/// The segment files under a data directory, oldest first.
fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                todo.push(path);
            } else if name.starts_with("wal-") && name.ends_with(".log") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A round that closes right after its game is bound again, in the bind's own
/// millisecond, and whose score a crash loses while its record survives, is scored
/// by recovery (the simulator found it never scored: recovery told records from the
/// bind by time only). Cuts of the unsynced bytes every 16 bytes and at the end are
/// tried: wherever the win's record survives, so does the player's score.
#[test]
fn a_round_closed_in_the_binds_millisecond_is_scored_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = (S + 100) * 1000;
    let clock = Arc::new(ManualClock::new(now));
    let faulty = pitboss::storage::FaultyFs::new();
    let ch = channel("chnsz");
    let slot = GameId::new("slot_alice").expect("game");
    let engine = Engine::open_with(
        dir.path(),
        EngineConfig::default(),
        clock.clone(),
        Arc::new(faulty.clone()),
    )
    .expect("open");
    let id = engine
        .create_tournament(&ch, &spec())
        .expect("create")
        .summary
        .id;
    engine.bind_game(&ch, &id, &slot).expect("bind");
    engine.unbind_game(&ch, &id, &slot).expect("unbind");
    engine.bind_game(&ch, &id, &slot).expect("bind again");
    let w = engine
        .open_wallet(&ch, &player("dora"), &currency("CNY"))
        .expect("wallet");
    engine.deposit(w, &deposit("d", 100)).expect("deposit");
    engine
        .bet(w, &bet("b", "r", "slot_alice", 100))
        .expect("bet");
    // The win (its record, then the tournament's score) is written; no fsync works.
    let wal = segments(dir.path()).pop().expect("a segment");
    let synced = faulty.synced_len(&wal);
    faulty.fail_syncs(true);
    assert!(engine
        .win(w, &win("w", "r", "slot_alice", 0, false))
        .is_err());
    drop(engine);
    let written = std::fs::read(&wal).expect("read");
    // The frames written after the synced ones (preallocated zeros follow them).
    let mut end = synced as usize;
    while let Some(len) = written.get(end..end + 4) {
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        if len == 0 {
            break;
        }
        end += 8 + len;
    }
    let unsynced = end as u64 - synced;
    assert!(unsynced > 0 && unsynced < 4096, "{unsynced} bytes unsynced");
    let (mut with_record, mut without) = (0, 0);
    let cuts: std::collections::BTreeSet<u64> = (0..unsynced)
        .step_by(16)
        .chain([unsynced - 1, unsynced])
        .collect();
    for keep in cuts {
        let copy = tempfile::tempdir().expect("tempdir");
        copy_dir(dir.path(), copy.path());
        let cut = segments(copy.path()).pop().expect("a segment");
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&cut)
            .expect("open");
        f.set_len(synced + keep).expect("cut");
        drop(f);
        let engine = open(copy.path(), &clock);
        let query = pitboss::ledger::records::RecordQuery {
            size: 10,
            ..Default::default()
        };
        let closed = !engine
            .game_records(&ch, &query)
            .expect("records")
            .records
            .is_empty();
        let score = engine
            .tournament_player_rank(&ch, &id, 1, w)
            .expect("rank")
            .map(|r| r.score);
        if closed {
            with_record += 1;
            assert_eq!(score, Some(50 * SCORE_SCALE), "cut after {keep} bytes");
        } else {
            without += 1;
            assert_eq!(score, None, "cut after {keep} bytes");
        }
    }
    assert!(with_record > 0 && without > 0, "{with_record} / {without}");
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
