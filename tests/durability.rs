//! The durable engine: what was acknowledged survives a reopen, with and without a
//! clean shutdown, from the log alone or from a snapshot plus the log after it.

mod common;

use common::*;
use pitboss::ledger::records::RecordQuery;
use pitboss::*;

fn config() -> EngineConfig {
    EngineConfig::default()
}

fn play(engine: &Engine, w: WalletId, from: usize, to: usize) {
    for i in from..to {
        engine
            .deposit(w, &deposit(&format!("d{i}"), 100))
            .expect("deposit");
        engine
            .bet(w, &bet(&format!("b{i}"), &format!("r{i}"), "g", 30))
            .expect("bet");
        if i % 3 != 0 {
            engine
                .win(w, &win(&format!("w{i}"), &format!("r{i}"), "g", 45, false))
                .expect("win");
        }
    }
}

fn summary(engine: &Engine, w: WalletId) -> (Balance, usize, usize) {
    let records = engine
        .game_records(
            &channel("c"),
            &RecordQuery {
                size: 1000,
                ..Default::default()
            },
        )
        .expect("records")
        .records;
    (
        engine.balance(w).expect("balance"),
        records.len(),
        engine.incomplete_games(&channel("c"), None).len(),
    )
}

#[test]
fn acknowledged_state_survives_reopen_without_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (w, before) = {
        let engine = Engine::open(dir.path(), config()).expect("open");
        let w = engine
            .open_wallet(&channel("c"), &player("p"), &currency("CNY"))
            .expect("wallet");
        play(&engine, w, 0, 50);
        (w, summary(&engine, w))
        // dropped without shutdown: only the log has it
    };
    let engine = Engine::open(dir.path(), config()).expect("reopen");
    assert_eq!(engine.recovery_report().snapshot_lsn, None);
    assert!(engine.recovery_report().replayed > 100);
    assert_eq!(summary(&engine, w), before);
    engine.check_invariants();
    // A replayed transaction id returns its original outcome after recovery.
    let again = engine.deposit(w, &deposit("d7", 100)).expect("replay");
    assert!(again.replayed);
    assert_eq!(err_kind(engine.deposit(w, &deposit("d7", 101))), "Conflict");
    // New ids continue after the recovered ones.
    let other = engine
        .open_wallet(&channel("c"), &player("q"), &currency("CNY"))
        .expect("wallet");
    assert_ne!(other, w);
}

/// Replay runs wallets on several threads (engine::replay): many wallets played in
/// interleaved order, with a snapshot halfway, come back exactly as they were.
#[test]
fn many_interleaved_wallets_replay_to_the_same_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let play_all = |engine: &Engine, ws: &[WalletId], from: usize, to: usize| {
        for i in from..to {
            for &w in ws {
                play(engine, w, i, i + 1);
            }
        }
    };
    let everything = |engine: &Engine, ws: &[WalletId]| {
        let balances: Vec<Balance> = ws.iter().map(|&w| engine.balance(w).expect("b")).collect();
        (balances, summary(engine, ws[0]))
    };
    let (ws, before) = {
        let engine = Engine::open(dir.path(), config()).expect("open");
        let ws: Vec<WalletId> = (0..40)
            .map(|i| {
                engine
                    .open_wallet(&channel("c"), &player(&format!("p{i}")), &currency("CNY"))
                    .expect("wallet")
            })
            .collect();
        play_all(&engine, &ws, 0, 10);
        engine.snapshot().expect("snapshot");
        play_all(&engine, &ws, 10, 20);
        (ws.clone(), everything(&engine, &ws))
    };
    for _ in 0..3 {
        let engine = Engine::open(dir.path(), config()).expect("reopen");
        assert!(engine.recovery_report().snapshot_lsn.is_some());
        assert!(engine.recovery_report().replayed > 40 * 10 * 2);
        assert_eq!(everything(&engine, &ws), before);
        engine.check_invariants();
        // Every wallet's transaction table came back: a repeated id is a replay.
        for &w in &ws {
            assert!(
                engine
                    .deposit(w, &deposit("d15", 100))
                    .expect("again")
                    .replayed
            );
        }
    }
}

fn err_kind(r: Result<Receipt, EngineError>) -> String {
    kind(&r.expect_err("expected an error"))
}

#[test]
fn clean_shutdown_snapshots_and_the_tail_replays_on_top() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = {
        let engine = Engine::open(dir.path(), config()).expect("open");
        let w = engine
            .open_wallet(&channel("c"), &player("p"), &currency("CNY"))
            .expect("wallet");
        play(&engine, w, 0, 30);
        engine.shutdown().expect("shutdown");
        w
    };
    let before = {
        let engine = Engine::open(dir.path(), config()).expect("reopen");
        assert!(engine.recovery_report().snapshot_lsn.is_some());
        assert_eq!(engine.recovery_report().replayed, 0);
        play(&engine, w, 30, 60);
        engine.snapshot().expect("snapshot");
        play(&engine, w, 60, 70);
        summary(&engine, w)
    };
    let engine = Engine::open(dir.path(), config()).expect("reopen again");
    assert!(
        engine.recovery_report().replayed > 0,
        "the tail after the snapshot is replayed"
    );
    assert_eq!(summary(&engine, w), before);
    engine.check_invariants();
}

use pitboss::storage::{FaultyFs, StdFs};
use std::sync::Arc;

fn open_faulty(dir: &std::path::Path, fs: &FaultyFs) -> Engine {
    Engine::open_with(dir, config(), Arc::new(SystemClock), Arc::new(fs.clone())).expect("open")
}

/// A refusal that rests on an effect not yet durable is not answered before that
/// effect is: here the second refund of a bet is refused because of the first, whose
/// record the disk never takes. Answered "already refunded", the caller would be told
/// something a restart undoes (the bet live again).
#[test]
fn a_refusal_waits_for_the_effects_it_rests_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = FaultyFs::new();
    let engine = open_faulty(dir.path(), &fs);
    let w = engine
        .open_wallet(&channel("c"), &player("p"), &currency("CNY"))
        .expect("wallet");
    engine.deposit(w, &deposit("d", 100)).expect("deposit");
    engine.bet(w, &bet("b", "r", "g", 60)).expect("bet");
    fs.fail_syncs(true);
    let refund = |t: &str| RefundRequest {
        tx: tx(t),
        bet_tx: tx("b"),
    };
    let first = engine.refund_pending(w, &refund("refund-1"));
    let second = engine.refund_pending(w, &refund("refund-2")).wait();
    assert_eq!(err_kind(second), "Storage", "not a refusal");
    assert_eq!(err_kind(first.wait()), "Storage");
}

#[test]
fn power_loss_keeps_every_acknowledged_operation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = FaultyFs::new();
    let (w, before) = {
        let engine = open_faulty(dir.path(), &fs);
        let w = engine
            .open_wallet(&channel("c"), &player("p"), &currency("CNY"))
            .expect("wallet");
        play(&engine, w, 0, 40);
        (w, summary(&engine, w))
    };
    // What the disk never confirmed is gone, as after a power cut.
    fs.lose_unsynced_data().expect("drop unsynced bytes");
    let engine = Engine::open_with(dir.path(), config(), Arc::new(SystemClock), Arc::new(StdFs))
        .expect("reopen");
    assert_eq!(summary(&engine, w), before);
}

/// The disk fills up. Records are written over space the log preallocated (so some
/// operations still fit); the first one that needs more is refused, and everything
/// after it.
#[test]
fn disk_full_fails_the_operation_and_everything_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = FaultyFs::new();
    // Small segments: the log keeps at most a segment of zeros ahead of its records.
    let config = || {
        let mut c = config();
        c.wal.segment_size = 4096;
        c
    };
    let (w, before) = {
        let engine = Engine::open_with(
            dir.path(),
            config(),
            Arc::new(SystemClock),
            Arc::new(fs.clone()),
        )
        .expect("open");
        let w = engine
            .open_wallet(&channel("c"), &player("p"), &currency("CNY"))
            .expect("wallet");
        play(&engine, w, 0, 10);
        fs.enospc_after(0);
        let mut before = summary(&engine, w);
        let mut refused = None;
        for i in 0..1_000 {
            match engine.deposit(w, &deposit(&format!("fits{i}"), 100)) {
                Ok(_) => before = summary(&engine, w),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        let err = refused.expect("no space: the disk filled up within 1,000 deposits");
        assert!(
            matches!(
                err,
                EngineError::Storage(_) | EngineError::Ledger(LedgerError::Journal(_))
            ),
            "{err:?}"
        );
        // The log failed closed: nothing more is accepted, even once space is back.
        fs.clear_faults();
        let later = engine
            .deposit(w, &deposit("after", 100))
            .expect_err("log failed");
        assert!(
            matches!(
                later,
                EngineError::Storage(_) | EngineError::Ledger(LedgerError::Journal(_))
            ),
            "{later:?}"
        );
        (w, before)
    };
    let engine = Engine::open(dir.path(), config()).expect("reopen");
    assert_eq!(
        summary(&engine, w),
        before,
        "only acknowledged operations survive"
    );
    let retry = engine
        .deposit(w, &deposit("after", 100))
        .expect("the refused id is free again");
    assert!(!retry.replayed);
}

#[test]
fn corruption_in_the_middle_of_the_log_stops_start_up_naming_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let engine = Engine::open(dir.path(), config()).expect("open");
        let w = engine
            .open_wallet(&channel("c"), &player("p"), &currency("CNY"))
            .expect("wallet");
        play(&engine, w, 0, 20);
    }
    let seg = std::fs::read_dir(dir.path())
        .expect("list")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "log"))
        .expect("a log segment");
    let mut bytes = std::fs::read(&seg).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&seg, &bytes).expect("write");
    let err = match Engine::open(dir.path(), config()) {
        Ok(_) => panic!("a corrupt record in the middle must stop start-up"),
        Err(e) => e.to_string(),
    };
    let name = seg.file_name().and_then(|n| n.to_str()).expect("name");
    assert!(err.contains(name), "names the file: {err}");
    assert!(err.contains("at byte "), "names the offset: {err}");
}

#[test]
fn a_directory_in_use_cannot_be_opened_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Engine::open(dir.path(), config()).expect("open");
    let second = Engine::open(dir.path(), config());
    let err = match second {
        Ok(_) => panic!("two logs on one directory would corrupt it"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("in use"), "{err}");
    drop(first);
    Engine::open(dir.path(), config()).expect("the lock goes with the engine that held it");
}
