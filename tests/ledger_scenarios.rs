//! Hand-written scenarios for each ledger rule (README.md, Ledger rules), one test per rule, so that a
//! broken rule names itself. The property test (`ledger_model.rs`) covers the mixes.

mod common;

use common::*;
use pitboss::ledger::records::{PageDirection, RecordQuery};
use pitboss::ledger::round::{RoundEnd, RoundStatus};
use pitboss::*;
use std::sync::Arc;

struct Fixture {
    engine: Engine,
    clock: Arc<ManualClock>,
    wallet: WalletId,
}

fn fixture(balance: i64) -> Fixture {
    let clock = Arc::new(ManualClock::new(1_741_330_280_000));
    let engine = Engine::in_memory_with_clock(EngineConfig::default(), clock.clone());
    let wallet = engine
        .open_wallet(&channel("chnsz"), &player("p1"), &currency("CNY"))
        .expect("open");
    if balance > 0 {
        engine
            .deposit(wallet, &deposit("seed", balance))
            .expect("seed deposit");
    }
    Fixture {
        engine,
        clock,
        wallet,
    }
}

fn err_kind(r: Result<Receipt, EngineError>) -> String {
    match r {
        Ok(r) => panic!("expected an error, got {r:?}"),
        Err(e) => kind(&e),
    }
}

fn refund(t: &str, bet_tx: &str) -> RefundRequest {
    RefundRequest {
        tx: tx(t),
        bet_tx: tx(bet_tx),
    }
}

#[test]
fn bet_and_win_move_money_and_write_a_record() {
    let f = fixture(1000);
    let b = f
        .engine
        .bet(f.wallet, &bet("b1", "r1", "slot_alice", 100))
        .expect("bet");
    assert_eq!(
        (
            b.balance.available.minor_units(),
            b.balance.total.minor_units()
        ),
        (900, 1000)
    );
    let w = f
        .engine
        .win(f.wallet, &win("w1", "r1", "slot_alice", 250, false))
        .expect("win");
    assert_eq!(
        (
            w.balance.available.minor_units(),
            w.balance.total.minor_units()
        ),
        (1150, 1150)
    );
    let id = w.record.expect("closing win writes a record");
    let recs = f
        .engine
        .game_records(
            &channel("chnsz"),
            &RecordQuery {
                size: 10,
                ..Default::default()
            },
        )
        .expect("records")
        .records;
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r.id, id);
    assert_eq!(
        (
            r.starting_credit.minor_units(),
            r.ending_credit.minor_units()
        ),
        (1000, 1150)
    );
    assert_eq!(
        (
            r.total_bet.minor_units(),
            r.total_win.minor_units(),
            r.base_win.minor_units()
        ),
        (100, 250, 250)
    );
    assert_eq!(r.transaction_id.as_str(), "b1");
    assert_eq!(r.play_time_secs, 1_741_330_280);
}

#[test]
fn same_id_same_params_replays_the_original_outcome() {
    let f = fixture(1000);
    let first = f
        .engine
        .bet(f.wallet, &bet("b1", "r1", "g", 100))
        .expect("bet");
    f.engine
        .deposit(f.wallet, &deposit("d2", 5))
        .expect("deposit");
    let again = f
        .engine
        .bet(f.wallet, &bet("b1", "r1", "g", 100))
        .expect("replay");
    assert!(again.replayed && !first.replayed);
    assert_eq!(
        again.balance, first.balance,
        "the original outcome, not today's balance"
    );
    assert_eq!(
        f.engine
            .balance(f.wallet)
            .expect("balance")
            .available
            .minor_units(),
        905
    );
}

#[test]
fn same_id_different_params_is_a_conflict() {
    let f = fixture(1000);
    f.engine
        .bet(f.wallet, &bet("b1", "r1", "g", 100))
        .expect("bet");
    assert_eq!(
        err_kind(f.engine.bet(f.wallet, &bet("b1", "r1", "g", 101))),
        "Conflict"
    );
    assert_eq!(
        err_kind(f.engine.deposit(f.wallet, &deposit("b1", 100))),
        "Conflict"
    );
    assert_eq!(
        f.engine
            .balance(f.wallet)
            .expect("balance")
            .available
            .minor_units(),
        900
    );
}

#[test]
fn refund_of_unknown_bet_leaves_a_tombstone() {
    let f = fixture(1000);
    assert_eq!(
        err_kind(f.engine.refund(f.wallet, &refund("rf1", "b1"))),
        "UnknownBet"
    );
    assert_eq!(
        err_kind(f.engine.bet(f.wallet, &bet("b1", "r1", "g", 100))),
        "BetCancelled"
    );
    // Replaying the refund gives the same answer; the money never moved.
    assert_eq!(
        err_kind(f.engine.refund(f.wallet, &refund("rf1", "b1"))),
        "UnknownBet"
    );
    assert_eq!(
        f.engine
            .balance(f.wallet)
            .expect("balance")
            .total
            .minor_units(),
        1000
    );
}

#[test]
fn refund_returns_the_bet_once() {
    let f = fixture(1000);
    f.engine
        .bet(f.wallet, &bet("b1", "r1", "g", 100))
        .expect("bet");
    f.engine
        .bet(f.wallet, &bet("b2", "r1", "g", 50))
        .expect("second bet");
    let r = f
        .engine
        .refund(f.wallet, &refund("rf1", "b1"))
        .expect("refund");
    assert_eq!(
        (
            r.amount.minor_units(),
            r.balance.available.minor_units(),
            r.record
        ),
        (100, 950, None)
    );
    assert_eq!(
        err_kind(f.engine.refund(f.wallet, &refund("rf2", "b1"))),
        "AlreadyRefunded"
    );
    let last = f
        .engine
        .refund(f.wallet, &refund("rf3", "b2"))
        .expect("refund the last bet");
    assert!(
        last.record.is_some(),
        "refunding the last live bet closes the round"
    );
    assert_eq!(last.balance.total.minor_units(), 1000);
}

#[test]
fn win_after_refund_and_refund_after_win_are_rejected() {
    let f = fixture(1000);
    f.engine
        .bet(f.wallet, &bet("b1", "r1", "g", 100))
        .expect("bet");
    f.engine
        .refund(f.wallet, &refund("rf1", "b1"))
        .expect("refund");
    assert_eq!(
        err_kind(f.engine.win(f.wallet, &win("w1", "r1", "g", 10, false))),
        "RoundClosed"
    );

    f.engine
        .bet(f.wallet, &bet("b2", "r2", "g", 100))
        .expect("bet");
    f.engine
        .win(f.wallet, &win("w2", "r2", "g", 10, true))
        .expect("win keeping the round open");
    assert_eq!(
        err_kind(f.engine.refund(f.wallet, &refund("rf2", "b2"))),
        "WrongState"
    );
    f.engine
        .win(f.wallet, &win("w3", "r2", "g", 0, false))
        .expect("closing win");
    assert_eq!(
        err_kind(f.engine.refund(f.wallet, &refund("rf3", "b2"))),
        "RoundClosed"
    );
}

#[test]
fn bets_on_closed_rounds_and_other_games_are_rejected() {
    let f = fixture(1000);
    f.engine
        .bet(f.wallet, &bet("b1", "r1", "g", 100))
        .expect("bet");
    assert_eq!(
        err_kind(f.engine.bet(f.wallet, &bet("b2", "r1", "other", 100))),
        "GameMismatch"
    );
    f.engine
        .win(f.wallet, &win("w1", "r1", "g", 0, false))
        .expect("close");
    assert_eq!(
        err_kind(f.engine.bet(f.wallet, &bet("b3", "r1", "g", 100))),
        "RoundClosed"
    );
}

#[test]
fn over_withdrawal_and_bad_amounts_change_nothing() {
    let f = fixture(1000);
    let over = WithdrawRequest {
        tx: tx("x1"),
        amount: WithdrawAmount::Exact(Amount::new(1001)),
    };
    assert_eq!(
        err_kind(f.engine.withdraw(f.wallet, &over)),
        "InsufficientBalance"
    );
    assert_eq!(
        err_kind(f.engine.deposit(f.wallet, &deposit("x2", 0))),
        "InvalidAmount"
    );
    assert_eq!(
        err_kind(f.engine.deposit(f.wallet, &deposit("x3", -1))),
        "InvalidAmount"
    );
    assert_eq!(
        err_kind(f.engine.bet(f.wallet, &bet("x4", "r", "g", 1001))),
        "InsufficientBalance"
    );
    assert_eq!(
        err_kind(f.engine.deposit(f.wallet, &deposit("x5", i64::MAX))),
        "Overflow"
    );
    let all = WithdrawRequest {
        tx: tx("x6"),
        amount: WithdrawAmount::All,
    };
    assert_eq!(
        f.engine
            .withdraw(f.wallet, &all)
            .expect("withdraw all")
            .amount
            .minor_units(),
        1000
    );
    // The failed ids were not consumed: the same id may be used for a valid request.
    f.engine
        .deposit(f.wallet, &deposit("x2", 7))
        .expect("a rejected id stays free");
}

#[test]
fn win_breakdown_must_add_up() {
    let f = fixture(1000);
    f.engine
        .bet(f.wallet, &bet("b1", "r1", "g", 100))
        .expect("bet");
    let mut w = win("w1", "r1", "g", 100, false);
    w.breakdown = Some(WinBreakdown {
        base: Amount::new(50),
        free: Amount::new(10),
        bonus: Amount::new(30),
        jackpot: Amount::new(5),
    });
    assert_eq!(err_kind(f.engine.win(f.wallet, &w)), "InvalidAmount");
    w.breakdown = Some(WinBreakdown {
        base: Amount::new(50),
        free: Amount::new(10),
        bonus: Amount::new(35),
        jackpot: Amount::new(5),
    });
    let id = f
        .engine
        .win(f.wallet, &w)
        .expect("win")
        .record
        .expect("record");
    let rec = f.engine.game_record(&channel("chnsz"), id).expect("record");
    assert_eq!(
        (rec.base_win, rec.free_win, rec.bonus_win, rec.jackpot_win),
        (
            Amount::new(50),
            Amount::new(10),
            Amount::new(35),
            Amount::new(5)
        )
    );
}

#[test]
fn incomplete_games_and_expiry() {
    let f = fixture(1000);
    f.engine
        .bet(f.wallet, &bet("b1", "r1", "slot_mayan", 100))
        .expect("bet");
    let other = f
        .engine
        .open_wallet(&channel("chnsz"), &player("p2"), &currency("CNY"))
        .expect("open");
    f.engine.deposit(other, &deposit("d", 50)).expect("deposit");
    f.engine
        .bet(other, &bet("b1", "r9", "slot_alice", 50))
        .expect("bet");
    let games = f.engine.incomplete_games(&channel("chnsz"), None);
    assert_eq!(games.len(), 2);
    assert!(games
        .iter()
        .all(|g| g.status == RoundStatus::Open && g.status.code() == 2));
    assert_eq!(
        f.engine
            .incomplete_games(&channel("chnsz"), Some(&player("p2")))
            .len(),
        1
    );
    assert!(f
        .engine
        .incomplete_games(&channel("other"), None)
        .is_empty());

    let expired = f
        .engine
        .expire_player_rounds(&channel("chnsz"), &player("p1"))
        .expect("expire");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].game.as_str(), "slot_mayan");
    let rec = f
        .engine
        .game_record(
            &channel("chnsz"),
            *expired[0].result.as_ref().expect("expired"),
        )
        .expect("record");
    assert_eq!(
        (
            rec.end,
            rec.total_bet.minor_units(),
            rec.ending_credit.minor_units()
        ),
        (RoundEnd::Expired, 0, 1000)
    );
    assert_eq!(
        f.engine
            .balance(f.wallet)
            .expect("balance")
            .total
            .minor_units(),
        1000
    );
    assert_eq!(
        err_kind(
            f.engine
                .win(f.wallet, &win("w", "r1", "slot_mayan", 5, false))
        ),
        "RoundClosed"
    );
    assert_eq!(
        f.engine
            .expire_channel_rounds(&channel("chnsz"))
            .expect("expire")
            .len(),
        1
    );
    assert!(f
        .engine
        .incomplete_games(&channel("chnsz"), None)
        .is_empty());
}

#[test]
fn stale_rounds_are_resolved_after_the_timeout() {
    let f = fixture(1000);
    f.engine
        .bet(f.wallet, &bet("b1", "r1", "g", 100))
        .expect("bet");
    f.clock.advance_ms(f.engine.config().round_timeout_ms - 1);
    f.engine
        .bet(f.wallet, &bet("b2", "r2", "g", 100))
        .expect("bet");
    f.clock.advance_ms(1);
    let expired = f.engine.expire_stale_rounds().expect("sweep");
    assert_eq!(
        expired.iter().map(|e| e.round.as_str()).collect::<Vec<_>>(),
        vec!["r1"]
    );
    assert_eq!(
        f.engine
            .balance(f.wallet)
            .expect("balance")
            .available
            .minor_units(),
        900
    );
}

#[test]
fn records_page_by_cursor_newest_first() {
    let f = fixture(100_000);
    for i in 0..25 {
        f.engine
            .bet(
                f.wallet,
                &bet(
                    &format!("b{i}"),
                    &format!("r{i}"),
                    if i % 2 == 0 { "even" } else { "odd" },
                    10,
                ),
            )
            .expect("bet");
        f.engine
            .win(
                f.wallet,
                &win(
                    &format!("w{i}"),
                    &format!("r{i}"),
                    if i % 2 == 0 { "even" } else { "odd" },
                    5,
                    false,
                ),
            )
            .expect("win");
    }
    let ch = channel("chnsz");
    let page = |cursor, direction, size| {
        let q = RecordQuery {
            cursor,
            direction,
            size,
            ..Default::default()
        };
        f.engine
            .game_records(&ch, &q)
            .expect("records")
            .records
            .iter()
            .map(|r| r.id.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(page(0, PageDirection::Next, 3), vec![25, 24, 23]);
    assert_eq!(page(23, PageDirection::Next, 3), vec![22, 21, 20]);
    assert_eq!(page(20, PageDirection::Prev, 3), vec![23, 22, 21]);
    assert_eq!(page(2, PageDirection::Next, 10), vec![1]);
    let q = RecordQuery {
        game: Some("odd".into()),
        size: 100,
        ..Default::default()
    };
    assert_eq!(
        f.engine
            .game_records(&ch, &q)
            .expect("records")
            .records
            .len(),
        12
    );
    let q = RecordQuery {
        player: Some(player("nobody")),
        size: 100,
        ..Default::default()
    };
    assert!(f
        .engine
        .game_records(&ch, &q)
        .expect("records")
        .records
        .is_empty());
    assert!(f
        .engine
        .game_records(&channel("elsewhere"), &RecordQuery::default())
        .expect("records")
        .records
        .is_empty());
}
