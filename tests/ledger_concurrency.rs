//! Concurrency: many threads on shared and distinct wallets, with duplicate
//! transaction ids racing each other. The final state must equal what the
//! acknowledged operations imply, and no operation may be applied twice.

mod common;

use common::*;
use pitboss::*;
use std::collections::HashMap;
use std::sync::Arc;

const THREADS: usize = 8;
const STEPS: usize = 1500;

#[derive(Default)]
struct Acks {
    /// Receipts of the racing deposits, by transaction id.
    racing: HashMap<String, Vec<Receipt>>,
    /// Net effect on the hot wallet of this thread's own bets and wins.
    hot_net: i64,
}

fn run_thread(engine: &Engine, hot: WalletId, own: WalletId, t: usize) -> Acks {
    let mut acks = Acks::default();
    for i in 0..STEPS {
        // Every thread sends the same deposit id: exactly one may apply.
        let id = format!("race-{i}");
        let r = engine
            .deposit(hot, &deposit(&id, 10))
            .expect("racing deposit");
        acks.racing.entry(id).or_default().push(r);

        let (b, w) = (format!("b-{t}-{i}"), format!("w-{t}-{i}"));
        let round = format!("r-{t}-{i}");
        match engine.bet(hot, &bet(&b, &round, "g", 7)) {
            Ok(_) => {
                acks.hot_net -= 7;
                let won = engine.win(hot, &win(&w, &round, "g", (i % 3) as i64 * 5, false));
                acks.hot_net += won.expect("win on own open round").amount.minor_units();
            }
            Err(e) => assert_eq!(kind(&e), "InsufficientBalance"),
        }
        engine
            .deposit(own, &deposit(&format!("own-{i}"), 3))
            .expect("own deposit");
        engine.bet(own, &bet(&b, &round, "g", 2)).expect("own bet");
        if i % 2 == 0 {
            let rf = RefundRequest {
                tx: tx(&format!("rf-{i}")),
                bet_tx: tx(&b),
            };
            engine.refund(own, &rf).expect("own refund");
        } else {
            engine
                .win(own, &win(&w, &round, "g", 1, false))
                .expect("own win");
        }
    }
    acks
}

#[test]
fn racing_threads_apply_each_operation_once() {
    let engine = Arc::new(Engine::in_memory(EngineConfig::default()));
    let cny = currency("CNY");
    let hot = engine
        .open_wallet(&channel("c"), &player("hot"), &cny)
        .expect("open");
    let own: Vec<WalletId> = (0..THREADS)
        .map(|t| {
            engine
                .open_wallet(&channel("c"), &player(&format!("p{t}")), &cny)
                .expect("open")
        })
        .collect();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (engine, own) = (engine.clone(), own[t]);
            std::thread::spawn(move || run_thread(&engine, hot, own, t))
        })
        .collect();
    let acks: Vec<Acks> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();

    // Each racing id: exactly one applied receipt; every replay returned it unchanged.
    let mut racing: HashMap<String, Vec<Receipt>> = HashMap::new();
    for a in &acks {
        for (id, rs) in &a.racing {
            racing
                .entry(id.clone())
                .or_default()
                .extend(rs.iter().cloned());
        }
    }
    for (id, rs) in &racing {
        assert_eq!(rs.len(), THREADS);
        assert_eq!(
            rs.iter().filter(|r| !r.replayed).count(),
            1,
            "{id} applied once"
        );
        assert!(
            rs.iter().all(|r| r.balance == rs[0].balance),
            "{id}: replays return the original"
        );
    }
    let hot_expected = STEPS as i64 * 10 + acks.iter().map(|a| a.hot_net).sum::<i64>();
    let b = engine.balance(hot).expect("balance");
    assert_eq!(
        (b.available.minor_units(), b.total.minor_units()),
        (hot_expected, hot_expected)
    );

    // Own wallets: +3 per step, −2 per bet, +2 back per refund (even steps), +1 per win (odd).
    let per_wallet =
        (STEPS as i64) * 3 - (STEPS as i64) * 2 + (STEPS as i64 / 2) * 2 + (STEPS as i64 / 2);
    for w in own {
        assert_eq!(
            engine.balance(w).expect("balance").total.minor_units(),
            per_wallet
        );
    }
    engine.check_invariants();
}
