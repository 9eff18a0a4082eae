//! Tournament durability at the domain level: a ledger and the tournaments share
//! one ordered effect log, as in the engine; a "crash" keeps a prefix of that log
//! and recovery replays it into fresh domains. Checks that prizes are paid exactly
//! once across a crash inside a payout, and that export + import + replay of the
//! tail reproduces the state.

mod common;

use common::*;
use parking_lot::Mutex;
use pitboss::engine::Effect;
use pitboss::ids::WalletKey;
use pitboss::journal::{Journal, JournalError, Lsn};
use pitboss::ledger::effect::LedgerEffect;
use pitboss::ledger::{Ledger, LedgerConfig};
use pitboss::tournaments::{
    PrizeAttempt, TournamentEffect, TournamentSpec, Tournaments, TourneyId,
};
use pitboss::*;
use serde_json::json;
use std::sync::Arc;

/// One ordered log for both domains, like the engine's.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Effect>>>);

impl Log {
    fn push(&self, e: Effect) -> Result<Lsn, JournalError> {
        let mut effects = self.0.lock();
        effects.push(e);
        Ok(Lsn(effects.len() as u64))
    }

    fn effects(&self) -> Vec<Effect> {
        self.0.lock().clone()
    }
}

impl Journal<LedgerEffect> for Log {
    fn append(&self, e: &LedgerEffect) -> Result<Lsn, JournalError> {
        self.push(Effect::Ledger(e.clone()))
    }

    fn appended(&self) -> Lsn {
        Lsn(self.0.lock().len() as u64)
    }
}

impl Journal<TournamentEffect> for Log {
    fn append(&self, e: &TournamentEffect) -> Result<Lsn, JournalError> {
        self.push(Effect::Tournament(e.clone()))
    }

    fn appended(&self) -> Lsn {
        Lsn(self.0.lock().len() as u64)
    }
}

const S: i64 = 1_699_920_000;
const HOUR_MS: i64 = 3_600_000;

struct Node {
    log: Log,
    ledger: Ledger<Log>,
    tournaments: Tournaments<Log>,
}

fn node() -> Node {
    let log = Log::default();
    let config = LedgerConfig {
        shards: 4,
        record_stripes: 2,
    };
    Node {
        ledger: Ledger::new(&config, log.clone()),
        tournaments: Tournaments::new(log.clone()),
        log,
    }
}

/// A fresh node with `effects` replayed into it: a restart.
fn recover(effects: &[Effect]) -> Node {
    let n = node();
    for e in effects {
        match e {
            Effect::Ledger(l) => n.ledger.replay(Lsn(0), l.clone()).expect("replay"),
            Effect::Tournament(t) => n.tournaments.replay(Lsn(0), t),
            // This node holds only the ledger and the tournaments.
            _ => {}
        }
    }
    n
}

fn spec(rounds: usize) -> TournamentSpec {
    let rounds: Vec<_> = (0..rounds as i64)
        .map(|i| {
            json!({"name": format!("r{i}"), "start": S + i * 3600, "end": S + (i + 1) * 3600,
                "initial": {"type": "fixed", "value": 0},
                "prize": {"type": "credit", "top": 3, "tiers": [
                    {"range": [1, 1], "value": 1000}, {"range": [2, 3], "value": 300}]},
                "strategy": {"type": 0, "rules": {
                    "bet": {"enabled": true, "type": "rate", "rate": 1}}}})
        })
        .collect();
    let v = json!({"version": "1.0", "name": "cup", "start": S, "end": S + 86_400,
        "rounds": rounds});
    pitboss::server::tournament_spec::parse(v.to_string().as_bytes()).expect("spec")
}

impl Node {
    fn create(&self, rounds: usize) -> TourneyId {
        let ch = channel("chn");
        let info = self.tournaments.create(&ch, &spec(rounds), S * 1000).result;
        let id = info.expect("create").summary.id;
        let bound = self
            .tournaments
            .bind(&ch, &id, &GameId::new("slot").expect("id"), S * 1000, 1);
        assert_eq!(bound.result, Ok(true));
        id
    }

    fn wallet(&self, p: &str) -> WalletId {
        let key = WalletKey {
            channel: channel("chn"),
            player: player(p),
            currency: currency("CNY"),
        };
        self.ledger.open_wallet(key).result.expect("wallet")
    }

    /// A closed round of `bet` at `now_ms`, offered to the tournaments like the engine does.
    fn play(&self, p: &str, n: u32, bet_amount: i64, now_ms: i64) -> WalletId {
        let w = self.wallet(p);
        let tag = format!("{p}-{n}");
        let l = &self.ledger;
        l.deposit(w, &deposit(&format!("d{tag}"), bet_amount))
            .result
            .expect("deposit");
        l.bet(
            w,
            &bet(&format!("b{tag}"), &tag, "slot", bet_amount),
            now_ms,
            pitboss::ledger::types::Funds::Local,
        )
        .result
        .expect("bet");
        let receipt = l.win(
            w,
            &win(&format!("w{tag}"), &tag, "slot", 0, false),
            now_ms,
            pitboss::ledger::types::Funds::Local,
        );
        let id = receipt.result.expect("win").record.expect("closed");
        let record = l.records().get(&channel("chn"), id).expect("record");
        self.tournaments.score(&record).result.expect("scored");
        w
    }

    fn available(&self, w: WalletId) -> i64 {
        self.ledger
            .balance(w)
            .expect("balance")
            .available
            .minor_units()
    }

    /// Runs every due payout with the ledger as payer; `crash_at_rank` pays that rank
    /// and then reports a failure, as a crash between the credit and its record would.
    fn pay(&self, now_ms: i64, crash_at_rank: Option<u64>) -> bool {
        let mut completed = true;
        for (key, round) in self.tournaments.payouts_due(now_ms) {
            let logged = self.tournaments.run_payout(key, round, now_ms, |w, req| {
                let paid = self
                    .ledger
                    .prize(w, req, pitboss::ledger::types::Funds::Local);
                let rank = req
                    .tx
                    .as_str()
                    .rsplit(':')
                    .next()
                    .and_then(|r| r.parse().ok());
                match paid.result {
                    Ok(_) if rank == crash_at_rank => {
                        (PrizeAttempt::Retry("crash".into()), paid.lsn)
                    }
                    Ok(_) => (PrizeAttempt::Paid, paid.lsn),
                    Err(e) => (PrizeAttempt::Refused(e.to_string()), paid.lsn),
                }
            });
            completed &= logged.result.is_ok_and(|p| p.completed);
        }
        completed
    }
}

#[test]
fn a_crash_inside_a_payout_pays_each_winner_once() {
    let n = node();
    n.create(1);
    let t = S * 1000 + 60_000;
    let winners = [
        n.play("a", 1, 500, t),
        n.play("b", 1, 250, t),
        n.play("c", 1, 100, t),
    ];
    let before: Vec<i64> = winners.iter().map(|w| n.available(*w)).collect();
    let end = S * 1000 + HOUR_MS;
    // Rank 2 is credited, then the process dies before the credit is recorded.
    assert!(!n.pay(end, Some(2)));
    let effects = n.log.effects();
    let restarted = recover(&effects);
    assert_eq!(
        restarted.available(winners[1]) - before[1],
        300,
        "credited before the crash"
    );
    assert!(restarted.pay(end, None));
    let gained: Vec<i64> = winners
        .iter()
        .zip(&before)
        .map(|(w, b)| restarted.available(*w) - b)
        .collect();
    assert_eq!(gained, [1000, 300, 300]);

    // A crash after every prize was recorded but before completion: the next run
    // completes without paying anything again.
    let mut after = restarted.log.effects();
    assert!(matches!(
        after.pop(),
        Some(Effect::Tournament(TournamentEffect::PayoutCompleted { .. }))
    ));
    let again = recover(&[effects, after].concat());
    assert!(again.pay(end, None));
    let gained: Vec<i64> = winners
        .iter()
        .zip(&before)
        .map(|(w, b)| again.available(*w) - b)
        .collect();
    assert_eq!(gained, [1000, 300, 300]);
    assert!(again.tournaments.payouts_due(end).is_empty());
}

#[test]
fn export_import_and_the_tail_reproduce_the_state() {
    let n = node();
    let id = n.create(2);
    let ch = channel("chn");
    let t0 = S * 1000 + 60_000;
    for (i, p) in ["a", "b", "c", "a", "d"].iter().enumerate() {
        n.play(p, i as u32, 100 + i as i64, t0 + i as i64);
    }
    let snapshot = n.tournaments.export();
    let mark = n.log.effects().len();
    // More of everything after the snapshot: scores, a payout, bindings, a close.
    let t1 = S * 1000 + HOUR_MS + 60_000;
    n.play("a", 10, 50, t1);
    n.play("e", 11, 70, t1);
    assert!(n.pay(t1, None));
    let poker = GameId::new("poker").expect("id");
    assert_eq!(n.tournaments.bind(&ch, &id, &poker, t1, 1).result, Ok(true));
    assert_eq!(n.tournaments.close(&ch, &id, t1 + 1).result, Ok(()));
    assert!(n.pay(t1 + 1, None));
    let expected = n.tournaments.export();

    let tail: Vec<TournamentEffect> = n
        .log
        .effects()
        .into_iter()
        .enumerate()
        // A fuzzy snapshot: the tail starts a few effects before the snapshot point.
        .filter(|(i, _)| *i + 4 >= mark)
        .filter_map(|(_, e)| match e {
            Effect::Tournament(t) => Some(t),
            _ => None,
        })
        .collect();
    let fresh = node();
    fresh.tournaments.import(snapshot);
    for e in &tail {
        fresh.tournaments.replay(Lsn(0), e);
    }
    assert_eq!(fresh.tournaments.export(), expected);

    let replayed = recover(&n.log.effects());
    assert_eq!(replayed.tournaments.export(), expected);
    // Twice over: replaying the whole log again changes nothing.
    for e in n.log.effects() {
        if let Effect::Tournament(t) = e {
            replayed.tournaments.replay(Lsn(0), &t);
        }
    }
    assert_eq!(replayed.tournaments.export(), expected);
}

/// Recovery re-offers the records a crash may have left unscored
/// (`rescore_scopes`), but only those that closed after their game was bound: a
/// round that closed while the game was unbound never scores, even once the game is
/// bound again (the simulator found recovery scoring one). A bind logs its time and
/// the first record after it, which tells records of its own millisecond apart (the
/// simulator found a round closed right after a bind, in its millisecond, never
/// scored). Both survive replay and snapshots; older logs bound by time alone, or
/// not at all.
#[test]
fn rescore_starts_after_the_games_bind() {
    let n = node();
    let id = n.create(1); // bound at the round's start, S, before record 1
    let ch = channel("chn");
    let slot = GameId::new("slot").expect("id");
    let since = |n: &Node| -> Vec<(i64, u64)> {
        n.tournaments
            .rescore_scopes()
            .into_iter()
            .filter(|s| s.game == slot)
            .map(|s| (s.since_ms, s.first_record))
            .collect()
    };
    assert_eq!(since(&n), vec![(S * 1000, 1)]);
    let rebound_ms = (S + 1200) * 1000;
    assert_eq!(n.tournaments.unbind(&ch, &id, &slot).result, Ok(true));
    assert!(since(&n).is_empty(), "an unbound game is not rescored");
    assert_eq!(
        n.tournaments.bind(&ch, &id, &slot, rebound_ms, 7).result,
        Ok(true)
    );
    // From the bind's millisecond on, from record 7 on.
    assert_eq!(since(&n), vec![(rebound_ms, 7)]);

    // A restart: replayed from the log, and loaded from a snapshot.
    assert_eq!(since(&recover(&n.log.effects())), vec![(rebound_ms, 7)]);
    let fresh = node();
    fresh.tournaments.import(n.tournaments.export());
    fresh
        .tournaments
        .import_bind_times(n.tournaments.export_bind_times());
    fresh
        .tournaments
        .import_bind_records(n.tournaments.export_bind_records());
    assert_eq!(since(&fresh), vec![(rebound_ms, 7)]);
    assert_eq!(
        n.tournaments.export_bind_records(),
        vec![pitboss::tournaments::BindRecord {
            tourney: n.tournaments.export_bind_times()[0].tourney,
            game: slot.clone(),
            first_record: 7
        }]
    );

    // Logs written before binds carried their first record, or their time.
    let older = |to: fn(u64, GameId, i64) -> TournamentEffect| -> Vec<Effect> {
        n.log
            .effects()
            .into_iter()
            .map(|e| match e {
                Effect::Tournament(TournamentEffect::BoundFrom {
                    tourney,
                    game,
                    at_ms,
                    ..
                }) => Effect::Tournament(to(tourney, game, at_ms)),
                other => other,
            })
            .collect()
    };
    let timed = older(|tourney, game, at_ms| TournamentEffect::BoundAt {
        tourney,
        game,
        at_ms,
    });
    assert_eq!(since(&recover(&timed)), vec![(rebound_ms + 1, 0)]);
    let untimed = older(|tourney, game, _| TournamentEffect::Bound { tourney, game });
    assert_eq!(since(&recover(&untimed)), vec![(S * 1000, 0)]);
}
