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
    let records = engine.game_records(
        &channel("c"),
        &RecordQuery {
            size: 1000,
            ..Default::default()
        },
    );
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
    engine.ledger().check_invariants();
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
    engine.ledger().check_invariants();
}
