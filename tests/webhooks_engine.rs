//! The engine's own webhook events, through the library: which changes announce
//! what, tournament news, and the outbox across a restart (from the log alone, and
//! from a snapshot and the log after it). The HTTP side is `tests/webhooks.rs`.

mod common;

use common::*;
use pitboss::storage::StdFs;
use pitboss::webhooks::event::{EventBody, EventName};
use pitboss::webhooks::{Attempt, Delivery, SubscriptionId};
use pitboss::*;
use serde_json::json;
use std::sync::Arc;

/// Tuesday 2023-11-14 00:00 UTC, in Unix seconds.
const S: i64 = 1_699_920_000;
const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

fn names(events: &[&str]) -> Vec<EventName> {
    events
        .iter()
        .map(|e| EventName::new(e).expect("event name"))
        .collect()
}

fn subscribe(engine: &Engine, ch: &str, events: &[&str]) -> SubscriptionId {
    engine
        .subscribe_webhook_pending(&channel(ch), "http://203.0.113.5/".into(), names(events))
        .wait()
        .expect("subscribe")
        .id
}

/// Every delivery due far in the future (each marked in flight).
fn all_due(engine: &Engine, clock: &ManualClock) -> Vec<Delivery> {
    let now = clock.now_ms();
    clock.set_ms(now + 100 * DAY * 1000);
    let due = engine.webhooks_due(100_000, 100_000);
    clock.set_ms(now);
    let mut out: Vec<Delivery> = due.into_iter().map(|(_, d)| d).collect();
    out.sort_by_key(|d| (d.sub, d.event.id));
    out
}

/// (name, type, amount) of transaction events; (name, total, available) of balances.
fn summary(d: &Delivery) -> String {
    match &d.event.body {
        EventBody::Transaction {
            kind,
            amount,
            total,
            ..
        } => {
            format!(
                "tx {kind:?} {} → {}",
                amount.minor_units(),
                total.minor_units()
            )
        }
        EventBody::Balance { balance, .. } => format!(
            "balance {}/{}",
            balance.total.minor_units(),
            balance.available.minor_units()
        ),
        other => other.name().to_string(),
    }
}

#[test]
fn committed_money_operations_announce_themselves_and_refusals_do_not() {
    let clock = Arc::new(ManualClock::new(S * 1000));
    let engine = Engine::in_memory_with_clock(EngineConfig::default(), clock.clone());
    let both = subscribe(
        &engine,
        "chn",
        &["wallet.transaction.success", "wallet.balance.update"],
    );
    let only_tx = subscribe(&engine, "chn", &["wallet.transaction.success"]);
    let w = engine
        .open_wallet(&channel("chn"), &player("p"), &currency("CNY"))
        .expect("wallet");
    let other = engine
        .open_wallet(&channel("other"), &player("p"), &currency("CNY"))
        .expect("wallet");
    engine.deposit(w, &deposit("d1", 1000)).expect("deposit");
    engine
        .deposit(other, &deposit("d1", 1000))
        .expect("deposit");
    engine.bet(w, &bet("b1", "r1", "slot", 300)).expect("bet");
    // Refused, and replayed: no event.
    assert!(engine.bet(w, &bet("b2", "r2", "slot", 5000)).is_err());
    engine
        .bet(w, &bet("b1", "r1", "slot", 300))
        .expect("replay");
    engine
        .win(w, &win("w1", "r1", "slot", 500, false))
        .expect("win");
    let due = all_due(&engine, &clock);
    let of = |sub| -> Vec<String> { due.iter().filter(|d| d.sub == sub).map(summary).collect() };
    assert_eq!(
        of(both),
        [
            "tx Deposit 1000 → 1000",
            "balance 1000/1000",
            "tx Bet 300 → 1000",
            "balance 1000/700",
            "tx Win 500 → 1200",
            "balance 1200/1200",
        ]
    );
    assert_eq!(
        of(only_tx),
        [
            "tx Deposit 1000 → 1000",
            "tx Bet 300 → 1000",
            "tx Win 500 → 1200"
        ]
    );
    // Each event has one id, shared by the subscriptions it goes to.
    let ids_both: Vec<_> = due
        .iter()
        .filter(|d| d.sub == both && d.event.body.name() == "wallet.transaction.success")
        .map(|d| d.event.id)
        .collect();
    let ids_tx: Vec<_> = due
        .iter()
        .filter(|d| d.sub == only_tx)
        .map(|d| d.event.id)
        .collect();
    assert_eq!(ids_both, ids_tx);
}

#[test]
fn tournament_rounds_and_prizes_are_announced() {
    let clock = Arc::new(ManualClock::new((S - HOUR) * 1000));
    let engine = Engine::in_memory_with_clock(EngineConfig::default(), clock.clone());
    let spec = json!({"version": "1.0", "name": "cup", "start": S, "end": S + 30 * DAY,
        "rounds": [{"name": "r1", "start": S, "end": S + 10 * DAY,
            "initial": {"type": "fixed", "value": 0},
            "prize": {"type": "credit", "top": 2, "tiers": [
                {"range": [1, 1], "value": 1000}, {"range": [2, 2], "value": 300}]},
            "strategy": {"type": 0, "rules": {
                "bet": {"enabled": true, "type": "rate", "rate": 1}}}}]});
    let spec = pitboss::server::tournament_spec::parse(spec.to_string().as_bytes()).expect("spec");
    let info = engine
        .create_tournament(&channel("chn"), &spec)
        .expect("create");
    let id = info.summary.id.clone();
    engine
        .bind_game(&channel("chn"), &id, &GameId::new("slot").expect("game"))
        .expect("bind");
    let sub = subscribe(
        &engine,
        "chn",
        &[
            "tournament.round.ended",
            "tournament.prize.paid",
            "game.round.incomplete",
        ],
    );
    clock.set_ms((S + HOUR) * 1000);
    for (p, amount) in [("alice", 500), ("bob", 200), ("carol", 100)] {
        let w = engine
            .open_wallet(&channel("chn"), &player(p), &currency("CNY"))
            .expect("wallet");
        engine
            .deposit(w, &deposit(&format!("d-{p}"), amount))
            .expect("deposit");
        engine
            .bet(
                w,
                &bet(&format!("b-{p}"), &format!("r-{p}"), "slot", amount),
            )
            .expect("bet");
        engine
            .win(
                w,
                &win(&format!("w-{p}"), &format!("r-{p}"), "slot", 0, false),
            )
            .expect("win");
    }
    clock.set_ms((S + 10 * DAY) * 1000);
    engine.tick_tournaments().expect("tick");
    let due = all_due(&engine, &clock);
    assert!(due.iter().all(|d| d.sub == sub));
    let winners = due
        .iter()
        .find_map(|d| match &d.event.body {
            EventBody::TournamentRoundEnded {
                tourney,
                round,
                winners,
            } => {
                assert_eq!((tourney, *round), (&id, 0));
                Some(
                    winners
                        .iter()
                        .map(|w| (w.player.as_str().to_owned(), w.amount.minor_units()))
                        .collect::<Vec<_>>(),
                )
            }
            _ => None,
        })
        .expect("a round-ended event");
    assert_eq!(
        winners,
        [("alice".to_owned(), 1000), ("bob".to_owned(), 300)]
    );
    let mut paid: Vec<(String, i64)> = due
        .iter()
        .filter_map(|d| match &d.event.body {
            EventBody::PrizePaid { winner, .. } => Some((
                winner.player.as_str().to_owned(),
                winner.amount.minor_units(),
            )),
            _ => None,
        })
        .collect();
    paid.sort();
    assert_eq!(paid, [("alice".to_owned(), 1000), ("bob".to_owned(), 300)]);
    assert_eq!(
        due.len(),
        3,
        "{:?}",
        due.iter().map(summary).collect::<Vec<_>>()
    );
}

/// The outbox after a restart is the outbox before it: pending deliveries with
/// their attempts, none that was delivered, and the events of every change logged.
#[test]
fn the_outbox_survives_a_restart_with_and_without_a_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(S * 1000));
    let open = || {
        Engine::open_with(
            dir.path(),
            EngineConfig::default(),
            clock.clone(),
            Arc::new(StdFs),
        )
        .expect("open")
    };
    let engine = open();
    let sub = subscribe(&engine, "chn", &["wallet.transaction.success"]);
    let w = engine
        .open_wallet(&channel("chn"), &player("p"), &currency("CNY"))
        .expect("wallet");
    let mut n = 0;
    let mut play = |engine: &Engine, count: usize| {
        for _ in 0..count {
            n += 1;
            engine
                .deposit(w, &deposit(&format!("d{n}"), 10))
                .expect("deposit");
        }
    };
    let settle_some = |engine: &Engine| {
        // Deliver two, fail two, leave the rest.
        let due = engine.webhooks_due(4, 4);
        for (i, (s, d)) in due.into_iter().enumerate() {
            let attempt = if i < 2 {
                Attempt::Delivered
            } else {
                Attempt::Failed("503".into())
            };
            engine
                .webhook_attempted(s.id, d.event.id, attempt)
                .expect("logged");
        }
    };
    let state = |engine: &Engine| -> Vec<(u64, u32, i64)> {
        engine
            .pending_deliveries(&channel("chn"), page(0, 1000))
            .iter()
            .map(|d| (d.event.id.lsn, d.attempts, d.next_attempt_ms))
            .collect()
    };
    play(&engine, 10);
    settle_some(&engine);
    let before = state(&engine);
    assert_eq!(before.len(), 8);
    drop(engine);

    // From the log alone.
    let engine = open();
    assert_eq!(state(&engine), before, "after a restart from the log");
    assert_eq!(engine.webhook_subscriptions(&channel("chn"))[0].sub.id, sub);
    drop(engine);

    // From a snapshot and the log after it.
    let engine = open();
    engine.snapshot().expect("snapshot");
    play(&engine, 6);
    let due = engine.webhooks_due(100, 100);
    for (s, d) in due.iter().take(3) {
        engine
            .webhook_attempted(s.id, d.event.id, Attempt::Delivered)
            .expect("logged");
    }
    for (s, d) in due.iter().skip(3).take(2) {
        engine
            .webhook_attempted(s.id, d.event.id, Attempt::Failed("x".into()))
            .expect("logged");
    }
    let before = state(&engine);
    drop(engine);
    let engine = open();
    assert_eq!(state(&engine), before, "after a restart from a snapshot");
    // Ten deposits, two delivered; six more, three of them delivered.
    assert_eq!(before.len(), 10 - 2 + 6 - 3, "{before:?}");
}

/// A round turning status 3 or 4 announces `game.round.incomplete` once; the ledger
/// tells the outbox of the change under the wallet's lock (here the domains alone).
#[test]
fn a_round_turning_incomplete_is_announced_once() {
    use pitboss::journal::MemoryJournal;
    use pitboss::ledger::round::RoundStatus;
    use pitboss::ledger::{Ledger, LedgerConfig};
    use pitboss::webhooks::{WebhookConfig, Webhooks};
    let clock = Arc::new(ManualClock::new(S * 1000));
    let hooks = Arc::new(Webhooks::new(
        WebhookConfig::default(),
        clock.clone(),
        MemoryJournal::new(),
    ));
    let ledger = Ledger::new(&LedgerConfig::default(), MemoryJournal::new());
    ledger.observe(hooks.clone());
    let sub = hooks
        .subscribe(
            &channel("chn"),
            "http://203.0.113.5/".into(),
            names(&["game.round.incomplete"]),
        )
        .result
        .expect("subscribe")
        .id;
    let w = ledger
        .open_wallet(pitboss::ids::WalletKey {
            channel: channel("chn"),
            player: player("p"),
            currency: currency("CNY"),
        })
        .result
        .expect("wallet");
    ledger
        .deposit(w, &deposit("d", 100))
        .result
        .expect("deposit");
    ledger
        .bet(
            w,
            &bet("b", "r", "slot", 50),
            S * 1000,
            pitboss::ledger::types::Funds::Local,
        )
        .result
        .expect("bet");
    for _ in 0..2 {
        ledger
            .mark_round(w, &round("r"), RoundStatus::CreditFailed, "wallet down")
            .result
            .expect("mark");
    }
    let due = hooks.take_due(S * 1000, pitboss::journal::Lsn(u64::MAX), 10, 10);
    assert_eq!(due.len(), 1, "announced once");
    let (s, d) = &due[0];
    assert_eq!(s.id, sub);
    match &d.event.body {
        EventBody::RoundIncomplete {
            round: r,
            status,
            error,
            ..
        } => {
            assert_eq!(
                (r.as_str(), *status, error.as_str()),
                ("r", 4, "wallet down")
            );
        }
        other => panic!("{other:?}"),
    }
}
