use super::*;
use crate::ids::{Currency, PlayerId};
use crate::journal::MemoryJournal;
use crate::ledger::types::{GameRef, PlayMeta};

fn key(channel: &str) -> WalletKey {
    WalletKey {
        channel: ChannelId::new(channel).unwrap_or_else(|e| panic!("{e}")),
        player: PlayerId::new("p").unwrap_or_else(|e| panic!("{e}")),
        currency: Currency::new("CNY").unwrap_or_else(|e| panic!("{e}")),
    }
}

fn bet(tx: &str) -> CallKind {
    CallKind::Bet(BetRequest {
        tx: TxId::new(tx).unwrap_or_else(|e| panic!("{e}")),
        round: RoundId::new("r").unwrap_or_else(|e| panic!("{e}")),
        game: GameRef::bare(GameId::new("g").unwrap_or_else(|e| panic!("{e}"))),
        amount: Amount::new(5),
        meta: PlayMeta::default(),
    })
}

fn table(max: usize) -> Seamless<MemoryJournal<SeamlessEffect>> {
    let config = SeamlessConfig {
        max_calls_per_channel: max,
        ..SeamlessConfig::default()
    };
    Seamless::new(config, MemoryJournal::new())
}

#[test]
fn backoff_doubles_from_one_second_to_five_minutes() {
    let c = SeamlessConfig::default();
    let delays: Vec<i64> = (1..=12).map(|a| c.retry_delay_ms(a)).collect();
    assert_eq!(
        delays,
        [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300].map(|s| s * 1000)
    );
    assert_eq!(c.retry_delay_ms(u32::MAX), 300_000);
}

#[test]
fn one_unfinished_call_per_transaction_and_a_bound_per_channel() {
    let t = table(2);
    let a = key("a");
    t.begin(WalletId(1), &a, bet("x"), 0).result.expect("first");
    assert_eq!(
        t.begin(WalletId(1), &a, bet("x"), 0).result,
        Err(SeamlessError::InProgress(TxId::new("x").expect("id")))
    );
    // The same id in another wallet is another transaction.
    t.begin(WalletId(2), &a, bet("x"), 0)
        .result
        .expect("other wallet");
    assert_eq!(
        t.begin(WalletId(3), &a, bet("y"), 0).result,
        Err(SeamlessError::Busy)
    );
    // Another channel has its own bound.
    t.begin(WalletId(4), &key("b"), bet("y"), 0)
        .result
        .expect("channel b");
    // Ending a call frees its slot and its id.
    let id = t
        .unfinished(WalletId(1), &TxId::new("x").expect("id"))
        .expect("call")
        .id;
    t.end(id, CallEnd::Done).result.expect("end");
    t.begin(WalletId(1), &a, bet("x"), 0).result.expect("again");
    // What an expiry owes back is logged past the bound, and counts in it.
    t.begin_owed(WalletId(3), &a, bet("owed"), 0)
        .result
        .expect("owed");
    assert_eq!(
        t.begin(WalletId(3), &a, bet("z"), 0).result,
        Err(SeamlessError::Busy)
    );
    assert_eq!(t.len(), 4);
}

#[test]
fn due_calls_are_taken_once_until_retried_or_released() {
    let t = table(10);
    let a = key("a");
    let call = t
        .begin(WalletId(1), &a, bet("x"), 100)
        .result
        .expect("begin");
    // In flight from its first attempt: not due for the driver.
    assert!(t.take_due(1_000, 10).is_empty());
    let call = t
        .retry_later(call.id, None, "timeout", 100)
        .result
        .expect("retry");
    assert_eq!((call.attempts, call.next_attempt_ms), (1, 1_100));
    assert!(t.take_due(1_099, 10).is_empty());
    assert_eq!(t.take_due(1_100, 10).len(), 1);
    assert!(t.take_due(1_100, 10).is_empty(), "taken once");
    t.release(call.id);
    assert_eq!(t.take_due(1_100, 10).len(), 1);
}

#[test]
fn replaying_the_log_rebuilds_the_table_and_is_idempotent() {
    let t = table(10);
    let a = key("a");
    let one = t.begin(WalletId(1), &a, bet("x"), 0).result.expect("x");
    let two = t.begin(WalletId(1), &a, bet("y"), 0).result.expect("y");
    t.retry_later(two.id, None, "5xx", 0).result.expect("retry");
    t.end(one.id, CallEnd::Done).result.expect("end");
    let effects = t.journal.effects();
    let again = table(10);
    // Twice over: a fuzzy snapshot's replay meets effects it already holds.
    for _ in 0..2 {
        for e in effects.iter().cloned() {
            again.replay(e);
        }
    }
    assert_eq!(again.export().calls, t.export().calls);
    assert_eq!(again.len(), 1);
    // New ids continue after every id ever used.
    let three = again.begin(WalletId(1), &a, bet("z"), 0).result.expect("z");
    assert_eq!(three.id, CallId(3));
}
