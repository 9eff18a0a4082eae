//! Tournament scenarios through the engine on a manual clock: strategies, rules,
//! limitations, initial scores, validation, status, bindings, lists, deletion and
//! prizes paid exactly once.

mod common;

use common::*;
use pitboss::tournaments::limitations::{CapKind, Refusal};
use pitboss::tournaments::scoring::SCORE_SCALE;
use pitboss::tournaments::validate::TierOf;
use pitboss::tournaments::{
    ConfigError, Skip, TournamentError, TournamentInfo, TournamentSpec, TournamentStatus, TourneyId,
};
use pitboss::*;
use serde_json::{json, Value};
use std::cell::Cell;
use std::sync::Arc;

/// Tuesday 2023-11-14 00:00 UTC, in Unix seconds.
const S: i64 = 1_699_920_000;
const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

fn points(p: i64) -> i64 {
    p * SCORE_SCALE
}

fn spec(v: Value) -> TournamentSpec {
    pitboss::server::tournament_spec::parse(v.to_string().as_bytes())
        .expect("a spec the tests write")
}

/// A round over `[start, end)` (seconds from `S`) with `extra` fields merged in.
fn round_json(name: &str, start: i64, end: i64, extra: Value) -> Value {
    let mut r = json!({
        "name": name,
        "start": S + start,
        "end": S + end,
        "initial": {"type": "fixed", "value": 0},
        "prize": {"type": "credit", "top": 3, "tiers": [
            {"range": [1, 1], "value": 1000}, {"range": [2, 3], "value": 300}]},
        "strategy": {"type": 0, "rules": {
            "bet": {"enabled": true, "type": "rate", "rate": 0.2},
            "win": {"enabled": true, "type": "rate", "rate": 1}}}
    });
    merge(&mut r, extra);
    r
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(into), Value::Object(extra)) = (into.as_object_mut(), extra) {
        into.extend(extra);
    }
}

/// A tournament over 30 days from `S` with the given rounds.
fn tournament_json(rounds: Vec<Value>) -> Value {
    json!({"version": "1.0", "name": "cup", "start": S, "end": S + 30 * DAY, "rounds": rounds})
}

/// One 10-day round with `extra` merged into it.
fn one_round(extra: Value) -> Value {
    tournament_json(vec![round_json("r1", 0, 10 * DAY, extra)])
}

struct World {
    clock: Arc<ManualClock>,
    engine: Engine,
    next: Cell<u64>,
}

fn world() -> World {
    let clock = Arc::new(ManualClock::new((S - HOUR) * 1000));
    let engine = Engine::in_memory_with_clock(EngineConfig::default(), clock.clone());
    World {
        clock,
        engine,
        next: Cell::new(0),
    }
}

impl World {
    fn at(&self, secs_from_s: i64) {
        self.clock.set_ms((S + secs_from_s) * 1000);
    }

    fn unique(&self, prefix: &str) -> String {
        self.next.set(self.next.get() + 1);
        format!("{prefix}-{}", self.next.get())
    }

    fn wallet(&self, ch: &str, p: &str) -> WalletId {
        self.engine
            .open_wallet(&channel(ch), &player(p), &currency("CNY"))
            .expect("wallet")
    }

    /// One closed round of game `g`: a bet and a closing win.
    fn play_in(&self, ch: &str, p: &str, g: &str, bet_amount: i64, win_amount: i64) -> WalletId {
        let w = self.wallet(ch, p);
        let e = &self.engine;
        e.deposit(w, &deposit(&self.unique("d"), bet_amount))
            .expect("deposit");
        let r = self.unique("r");
        e.bet(w, &bet(&self.unique("b"), &r, g, bet_amount))
            .expect("bet");
        e.win(w, &win(&self.unique("w"), &r, g, win_amount, false))
            .expect("win");
        w
    }

    fn play(&self, p: &str, bet_amount: i64, win_amount: i64) -> WalletId {
        self.play_in("chn", p, "slot", bet_amount, win_amount)
    }

    /// A tournament of channel `chn` with `slot` bound.
    fn create(&self, v: Value) -> TournamentInfo {
        let info = self
            .engine
            .create_tournament(&channel("chn"), &spec(v))
            .expect("create");
        let bound = self
            .engine
            .bind_game(&channel("chn"), &info.summary.id, &gid("slot"));
        assert_eq!(bound, Ok(true));
        info
    }

    fn score(&self, id: &TourneyId, round: i64, w: WalletId) -> Option<i64> {
        let row = self
            .engine
            .tournament_player_rank(&channel("chn"), id, round, w)
            .expect("round");
        row.map(|r| r.score)
    }

    fn rank(&self, id: &TourneyId, round: i64, w: WalletId) -> Option<u64> {
        let row = self
            .engine
            .tournament_player_rank(&channel("chn"), id, round, w)
            .expect("round");
        row.map(|r| r.rank)
    }

    fn status(&self, id: &TourneyId) -> (TournamentStatus, i32) {
        let info = self
            .engine
            .tournament_info(&channel("chn"), id)
            .expect("info");
        (info.summary.status, info.summary.current_round)
    }

    fn available(&self, w: WalletId) -> i64 {
        self.engine
            .balance(w)
            .expect("balance")
            .available
            .minor_units()
    }
}

fn gid(s: &str) -> GameId {
    GameId::new(s).expect("game id")
}

#[test]
fn strategy_sum_adds_games_to_the_fixed_initial_score() {
    let w = world();
    let t = w.create(one_round(
        json!({"initial": {"type": "fixed", "value": 1000}}),
    ));
    w.at(HOUR);
    // bet 100 × 0.2 + win 50 × 1 = 70 points.
    let a = w.play("alice", 100, 50);
    assert_eq!(w.score(&t.summary.id, 1, a), Some(points(1070)));
    // bet 7 × 0.2 = 1.4 points, exactly.
    w.play("alice", 7, 0);
    assert_eq!(w.score(&t.summary.id, 1, a), Some(points(1070) + 14_000));
}

#[test]
fn strategy_highest_keeps_the_best_single_game() {
    let w = world();
    let t = w.create(one_round(json!({"strategy": {"type": 1, "rules": {
        "win": {"enabled": true, "type": "rate", "rate": 1}}}})));
    w.at(HOUR);
    let a = w.play("alice", 10, 70);
    w.play("alice", 10, 30);
    assert_eq!(w.score(&t.summary.id, 1, a), Some(points(70)));
    w.play("alice", 10, 90);
    assert_eq!(w.score(&t.summary.id, 1, a), Some(points(90)));
}

#[test]
fn strategy_latest_keeps_the_last_game() {
    let w = world();
    let t = w.create(one_round(json!({"strategy": {"type": 2, "rules": {
        "win": {"enabled": true, "type": "rate", "rate": 1}}}})));
    w.at(HOUR);
    let a = w.play("alice", 10, 70);
    w.play("alice", 10, 30);
    assert_eq!(w.score(&t.summary.id, 1, a), Some(points(30)));
}

#[test]
fn tiered_and_multiple_rules_score_by_tier() {
    let w = world();
    let rules = json!({"strategy": {"type": 0, "rules": {
        "bet": {"enabled": true, "type": "tiered", "tiers": [
            {"range": [1, 99], "value": 1}, {"range": [100, 999], "value": 5.5}]},
        "multiple": {"enabled": true, "type": "tiered", "tiers": [
            {"range": [10, 1000], "value": 100}]}}}});
    let t = w.create(one_round(rules));
    w.at(HOUR);
    let a = w.play("alice", 100, 0); // bet tier 2: 5.5
    assert_eq!(w.score(&t.summary.id, 1, a), Some(55_000));
    let b = w.play("bob", 5000, 0); // no bet tier
    assert_eq!(w.score(&t.summary.id, 1, b), Some(0));
    let c = w.play("carol", 10, 200); // bet tier 1 (1) + multiple 20 (100)
    assert_eq!(w.score(&t.summary.id, 1, c), Some(points(101)));
    let d = w.play("dave", 10, 99); // multiple 9.9: below the tier
    assert_eq!(w.score(&t.summary.id, 1, d), Some(points(1)));
}

#[test]
fn equal_scores_rank_by_who_reached_them_first() {
    let w = world();
    let t = w.create(one_round(json!({})));
    w.at(HOUR);
    let a = w.play("alice", 50, 0); // 10 points
    let b = w.play("bob", 25, 5); // 5 + 5 = 10 points, later
    let c = w.play("carol", 10, 20); // 22 points
    let id = &t.summary.id;
    assert_eq!(w.rank(id, 1, c), Some(1));
    assert_eq!(w.rank(id, 1, a), Some(2));
    assert_eq!(w.rank(id, 1, b), Some(3));
    let rows = w
        .engine
        .tournament_ranks(&channel("chn"), id, 1, page(1, 10))
        .expect("ranks");
    let players: Vec<&str> = rows.iter().map(|r| r.player.as_str()).collect();
    assert_eq!(players, ["alice", "bob"]);
    assert_eq!(rows[0].rank, 2);
    let around = w
        .engine
        .tournament_around(&channel("chn"), id, 1, a, 1, 1)
        .expect("around");
    assert_eq!(around.iter().map(|r| r.rank).collect::<Vec<_>>(), [1, 2, 3]);
    let missing = w
        .engine
        .tournament_ranks(&channel("chn"), id, 2, page(0, 10));
    assert!(matches!(
        missing,
        Err(EngineError::Tournament(TournamentError::RoundNotFound(2)))
    ));
}

#[test]
fn refunded_and_expired_rounds_do_not_score() {
    let w = world();
    let t = w.create(one_round(json!({})));
    w.at(HOUR);
    let a = w.wallet("chn", "alice");
    let e = &w.engine;
    e.deposit(a, &deposit("d1", 1000)).expect("deposit");
    e.bet(a, &bet("b1", "r1", "slot", 100)).expect("bet");
    let refund = RefundRequest {
        tx: tx("f1"),
        bet_tx: tx("b1"),
    };
    let receipt = e.refund(a, &refund).expect("refund");
    assert!(receipt.record.is_some(), "the refund closed the round");
    e.bet(a, &bet("b2", "r2", "slot", 100)).expect("bet");
    let expired = e
        .expire_player_rounds(&channel("chn"), &player("alice"))
        .expect("expire");
    assert_eq!(expired.len(), 1);
    assert_eq!(w.score(&t.summary.id, 1, a), None);
}

#[test]
fn only_bound_games_of_the_tournament_channel_score() {
    let w = world();
    let t = w.create(one_round(json!({})));
    let id = &t.summary.id;
    w.at(HOUR);
    let other_game = w.play_in("chn", "alice", "poker", 100, 0);
    assert_eq!(w.score(id, 1, other_game), None);
    let other_channel = w.play_in("other", "alice", "slot", 100, 0);
    let row = w
        .engine
        .tournament_player_rank(&channel("chn"), id, 1, other_channel);
    assert_eq!(row, Ok(None));
    let e = &w.engine;
    assert_eq!(e.bind_game(&channel("chn"), id, &gid("slot")), Ok(false));
    assert_eq!(e.bind_game(&channel("chn"), id, &gid("poker")), Ok(true));
    w.play_in("chn", "alice", "poker", 100, 0);
    assert_eq!(w.score(id, 1, other_game), Some(points(20)));
    assert_eq!(e.unbind_game(&channel("chn"), id, &gid("poker")), Ok(true));
    assert_eq!(e.unbind_game(&channel("chn"), id, &gid("poker")), Ok(false));
    w.play_in("chn", "alice", "poker", 100, 0);
    assert_eq!(w.score(id, 1, other_game), Some(points(20)));
    let foreign = e.bind_game(&channel("other"), id, &gid("slot"));
    assert!(matches!(
        foreign,
        Err(EngineError::Tournament(TournamentError::NotFound(_)))
    ));
    let games = e.tournament_games(&channel("chn"), page(0, 10));
    assert_eq!(games.len(), 1);
    assert_eq!(games[0].game, gid("slot"));
    assert_eq!(&games[0].tournament.id, id);
}

#[test]
fn currency_filter_scores_only_that_currency() {
    let w = world();
    let mut v = one_round(json!({}));
    merge(&mut v, json!({"currency": "USD"}));
    let t = w.create(v);
    w.at(HOUR);
    let a = w.play("alice", 100, 0);
    assert_eq!(w.score(&t.summary.id, 1, a), None);
}

#[test]
fn games_outside_rounds_do_not_score() {
    let w = world();
    let t = w.create(tournament_json(vec![
        round_json("r1", 0, DAY, json!({})),
        round_json("r2", 2 * DAY, 3 * DAY, json!({})),
    ]));
    w.at(-1);
    let a = w.play("alice", 100, 0);
    w.at(DAY + HOUR); // between the rounds
    w.play("alice", 100, 0);
    assert_eq!(w.score(&t.summary.id, 1, a), None);
    assert_eq!(w.score(&t.summary.id, 2, a), None);
}

#[test]
fn match_caps_total_daily_weekly_latest() {
    let caps =
        |limits: Value| json!({"limitations": {"matches": {"enabled": true, "limits": limits}}});
    // total 2: the third game does not count.
    let w = world();
    let t = w.create(one_round(caps(json!([{"type": "total", "value": 2}]))));
    w.at(HOUR);
    let a = (0..3)
        .map(|_| w.play("alice", 100, 0))
        .last()
        .expect("played");
    assert_eq!(w.score(&t.summary.id, 1, a), Some(points(40)));

    // daily 1: one per UTC day; the next day counts again.
    let w = world();
    let t = w.create(one_round(caps(json!([{"type": "daily", "value": 1}]))));
    w.at(DAY - 1);
    let a = w.play("alice", 100, 0);
    w.play("alice", 100, 0);
    w.at(DAY);
    w.play("alice", 100, 0);
    assert_eq!(w.score(&t.summary.id, 1, a), Some(points(40)));

    // weekly 1: S is a Tuesday; the week turns on Monday, day 6.
    let w = world();
    let t = w.create(one_round(caps(json!([{"type": "weekly", "value": 1}]))));
    w.at(HOUR);
    let a = w.play("alice", 100, 0);
    w.at(5 * DAY + HOUR); // Sunday: same week
    w.play("alice", 100, 0);
    assert_eq!(w.score(&t.summary.id, 1, a), Some(points(20)));
    w.at(6 * DAY); // Monday
    w.play("alice", 100, 0);
    assert_eq!(w.score(&t.summary.id, 1, a), Some(points(40)));

    // latest 2 days, 2 games: a game on day 0 and day 1 fill it until day 2.
    let w = world();
    let t = w.create(one_round(caps(
        json!([{"type": "latest", "days": 2, "value": 2}]),
    )));
    w.at(HOUR);
    let a = w.play("alice", 100, 0);
    w.at(DAY + HOUR);
    w.play("alice", 100, 0);
    w.play("alice", 100, 0); // third in days 0..=1: refused
    assert_eq!(w.score(&t.summary.id, 1, a), Some(points(40)));
    w.at(2 * DAY + HOUR); // window is days 1..=2: one game so far
    w.play("alice", 100, 0);
    assert_eq!(w.score(&t.summary.id, 1, a), Some(points(60)));
}

#[test]
fn time_limit_counts_from_the_first_game_of_the_period() {
    let w = world();
    let t = w.create(one_round(json!({"limitations": {
        "user": {"enabled": true, "time_limit": 600, "type": "hourly"}}})));
    w.at(HOUR + 60);
    let a = w.play("alice", 100, 0);
    w.at(HOUR + 60 + 599);
    w.play("alice", 100, 0);
    w.at(HOUR + 60 + 600);
    w.play("alice", 100, 0); // ten minutes after the first: refused
    assert_eq!(w.score(&t.summary.id, 1, a), Some(points(40)));
    w.at(2 * HOUR); // a new hour
    w.play("alice", 100, 0);
    assert_eq!(w.score(&t.summary.id, 1, a), Some(points(60)));
}

#[test]
fn availability_windows_in_the_configured_time_zone() {
    let w = world();
    // Tuesdays 08:00–09:00 at UTC+8, i.e. Tuesday 00:00–01:00 UTC.
    let t = w.create(one_round(json!({"limitations": {
        "timezone_offset_minutes": 480,
        "availability": {"enabled": true, "windows": [
            {"days": [2], "start": "08:00", "end": "09:00"}]}}})));
    w.at(30 * 60);
    let a = w.play("alice", 100, 0);
    w.at(HOUR); // 09:00 local: the end is exclusive
    w.play("alice", 100, 0);
    w.at(7 * DAY + 60); // next Tuesday 08:01 local
    w.play("alice", 100, 0);
    assert_eq!(w.score(&t.summary.id, 1, a), Some(points(40)));
}

fn two_rounds(second: Value) -> Value {
    tournament_json(vec![
        round_json("r1", 0, DAY, json!({})),
        round_json("r2", DAY, 2 * DAY, second),
    ])
}

#[test]
fn based_initial_scores_follow_the_previous_rounds_ranks() {
    let w = world();
    let t = w.create(two_rounds(json!({"initial": {"type": "based", "value": 10,
        "tiers": [{"range": [1, 1], "value": 500}, {"range": [2, 3], "value": 200}]}})));
    let id = &t.summary.id;
    w.at(HOUR);
    let a = w.play("alice", 500, 0); // 100 points: rank 1
    let b = w.play("bob", 250, 0); // 50: rank 2
    let c = w.play("carol", 100, 0); // 20: rank 3
    let d = w.play("dave", 5, 0); // 1: rank 4, in no tier
    w.at(DAY + HOUR);
    let e = w.wallet("chn", "erin"); // did not play round 1
    for p in ["alice", "bob", "carol", "dave", "erin"] {
        w.play(p, 5, 0); // +1 point each
    }
    assert_eq!(w.score(id, 2, a), Some(points(501)));
    assert_eq!(w.score(id, 2, b), Some(points(201)));
    assert_eq!(w.score(id, 2, c), Some(points(201)));
    assert_eq!(w.score(id, 2, d), Some(points(11)));
    assert_eq!(w.score(id, 2, e), Some(points(11)));
}

#[test]
fn required_last_round_keeps_newcomers_out() {
    let w = world();
    let t = w.create(two_rounds(json!({"required_last_round": true})));
    let id = &t.summary.id;
    w.at(HOUR);
    let a = w.play("alice", 100, 0);
    w.at(DAY + HOUR);
    w.play("alice", 100, 0);
    let b = w.play("bob", 100, 0);
    assert_eq!(w.score(id, 2, a), Some(points(20)));
    assert_eq!(w.score(id, 2, b), None);
}

#[test]
fn status_and_current_round_follow_the_clock_and_the_payouts() {
    let w = world();
    let t = w.create(tournament_json(vec![
        round_json("r1", 0, DAY, json!({})),
        round_json("r2", 2 * DAY, 3 * DAY, json!({})),
    ]));
    let id = &t.summary.id;
    assert_eq!(w.status(id), (TournamentStatus::NotStarted, -1));
    w.at(0);
    assert_eq!(w.status(id), (TournamentStatus::Running, 1));
    w.at(DAY);
    assert_eq!(w.status(id), (TournamentStatus::Running, -1));
    w.at(2 * DAY);
    assert_eq!(w.status(id), (TournamentStatus::Running, 2));
    w.at(30 * DAY);
    assert_eq!(w.status(id), (TournamentStatus::Closing, -1));
    let report = w.engine.tick_tournaments().expect("tick");
    assert_eq!(report.rounds_paid, 2);
    assert_eq!(w.status(id), (TournamentStatus::Ended, -1));
    assert_eq!(TournamentStatus::Closing.code(), 2);

    let w = world();
    let t = w.create(one_round(json!({})));
    w.engine
        .close_tournament(&channel("chn"), &t.summary.id)
        .expect("close");
    assert_eq!(w.status(&t.summary.id), (TournamentStatus::Disabled, -1));
}

#[test]
fn list_pages_newest_first_within_the_channel() {
    let w = world();
    let e = &w.engine;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let info = e
            .create_tournament(&channel("a"), &spec(one_round(json!({}))))
            .expect("create");
        ids.push(info.summary.id);
    }
    e.create_tournament(&channel("b"), &spec(one_round(json!({}))))
        .expect("create");
    let list = |offset, limit| -> Vec<TourneyId> {
        let listed = e.list_tournaments(&channel("a"), page(offset, limit));
        listed.into_iter().map(|s| s.id).collect()
    };
    assert_eq!(list(0, 2), [ids[4].clone(), ids[3].clone()]);
    assert_eq!(list(-5, 2), list(0, 2));
    assert_eq!(list(4, 10), [ids[0].clone()]);
    assert_eq!(list(0, 0).len(), 5);
    assert_eq!(e.list_tournaments(&channel("b"), page(0, 10)).len(), 1);
    assert!(e.list_tournaments(&channel("c"), page(0, 10)).is_empty());
    let keys: Vec<u64> = e
        .list_tournaments(&channel("a"), page(0, 10))
        .iter()
        .map(|s| s.key)
        .collect();
    assert!(keys.windows(2).all(|k| k[0] > k[1]));
}

#[test]
fn delete_is_refused_while_running_or_closing() {
    let w = world();
    let ch = channel("chn");
    let t = w.create(one_round(json!({})));
    let id = &t.summary.id;
    w.at(HOUR);
    w.play("alice", 100, 0);
    let wrong_state = |r: Result<(), EngineError>, s| matches!(r, Err(EngineError::Tournament(TournamentError::WrongState { status, .. })) if status == s);
    assert!(wrong_state(
        w.engine.delete_tournament(&ch, id),
        TournamentStatus::Running
    ));
    w.at(30 * DAY);
    assert!(wrong_state(
        w.engine.delete_tournament(&ch, id),
        TournamentStatus::Closing
    ));
    w.engine.tick_tournaments().expect("tick");
    assert_eq!(w.engine.delete_tournament(&ch, id), Ok(()));
    assert!(matches!(
        w.engine.tournament_info(&ch, id),
        Err(EngineError::Tournament(TournamentError::NotFound(_)))
    ));

    let w = world(); // not started: deletable, and its bindings go with it
    let t = w.create(one_round(json!({})));
    assert_eq!(w.engine.delete_tournament(&ch, &t.summary.id), Ok(()));
    assert!(w.engine.tournament_games(&ch, page(0, 10)).is_empty());
}

#[test]
fn prizes_are_paid_once_when_the_round_ends() {
    let w = world();
    let t = w.create(one_round(json!({})));
    w.at(HOUR);
    let a = w.play("alice", 500, 0); // 100 points
    let b = w.play("bob", 250, 0); // 50
    let c = w.play("carol", 100, 0); // 20
    let d = w.play("dave", 5, 0); // 1: no prize
    let before: Vec<i64> = [a, b, c, d].iter().map(|x| w.available(*x)).collect();
    w.at(10 * DAY - 1);
    assert_eq!(w.engine.tick_tournaments().map(|r| r.prizes), Ok(0));
    w.at(10 * DAY);
    let report = w.engine.tick_tournaments().expect("tick");
    assert_eq!((report.rounds_paid, report.prizes), (1, 3));
    assert_eq!(w.engine.tick_tournaments().map(|r| r.prizes), Ok(0));
    let after: Vec<i64> = [a, b, c, d].iter().map(|x| w.available(*x)).collect();
    let gained: Vec<i64> = after.iter().zip(&before).map(|(x, y)| x - y).collect();
    assert_eq!(gained, [1000, 300, 300, 0]);
    // A late round of the finished leaderboard changes nothing.
    w.play("dave", 100_000, 0);
    assert_eq!(w.rank(&t.summary.id, 1, d), Some(4));
    assert_eq!(w.status(&t.summary.id).0, TournamentStatus::Running);
}

#[test]
fn closing_pays_the_cut_round_at_once_and_later_rounds_never_run() {
    let w = world();
    let t = w.create(two_rounds(json!({})));
    let id = &t.summary.id;
    w.at(HOUR);
    let a = w.play("alice", 500, 0);
    let before = w.available(a);
    w.at(2 * HOUR);
    w.engine
        .close_tournament(&channel("chn"), id)
        .expect("close");
    assert_eq!(w.available(a) - before, 1000);
    assert_eq!(w.status(id), (TournamentStatus::Ended, -1));
    w.play("alice", 500, 0); // after the close: no score
    assert_eq!(w.score(id, 1, a), Some(points(100)));
    let info = w.engine.tournament_info(&channel("chn"), id).expect("info");
    assert!(info.rounds[1].payout.is_none());
    assert_eq!(w.engine.close_tournament(&channel("chn"), id), Ok(()));
    assert_eq!(w.engine.tick_tournaments().map(|r| r.prizes), Ok(0));
    assert_eq!(w.available(a) - before, 1000);
    let bind_after = w.engine.bind_game(&channel("chn"), id, &gid("poker"));
    assert!(matches!(
        bind_after,
        Err(EngineError::Tournament(TournamentError::WrongState { .. }))
    ));
}

/// Recovery's rescoring offers nothing twice, and nothing that closed before the
/// game was bound (which rounds a crash left unscored it does offer is
/// `tests/tournament_recovery.rs`'s `rescore_starts_after_the_games_bind`).
#[test]
fn rescore_offers_no_record_twice_nor_one_closed_before_the_bind() {
    let w = world();
    let info = w
        .engine
        .create_tournament(&channel("chn"), &spec(one_round(json!({}))))
        .expect("create");
    let id = &info.summary.id;
    w.at(HOUR);
    // Played before the game was bound: the records exist and never score.
    let a = w.play("alice", 100, 0);
    w.at(HOUR + 1);
    w.engine
        .bind_game(&channel("chn"), id, &gid("slot"))
        .expect("bind");
    assert_eq!(w.engine.rescore_recent_records(), Ok(0));
    assert_eq!(w.score(id, 1, a), None);
    // Played after: scored once, live.
    w.at(HOUR + 2);
    w.play("alice", 100, 0);
    assert_eq!(w.engine.rescore_recent_records(), Ok(0));
    assert_eq!(w.score(id, 1, a), Some(points(20)));
}

#[test]
fn replayed_wins_are_not_scored_twice() {
    let w = world();
    let t = w.create(one_round(json!({})));
    w.at(HOUR);
    let a = w.wallet("chn", "alice");
    let e = &w.engine;
    e.deposit(a, &deposit("d1", 1000)).expect("deposit");
    e.bet(a, &bet("b1", "r1", "slot", 100)).expect("bet");
    e.win(a, &win("w1", "r1", "slot", 0, false)).expect("win");
    let again = e
        .win(a, &win("w1", "r1", "slot", 0, false))
        .expect("replay");
    assert!(again.replayed);
    assert_eq!(w.score(&t.summary.id, 1, a), Some(points(20)));
}

/// Every validation rule of §5.2.4 and of this engine's limits, one error each.
#[test]
fn every_validation_rule_has_its_error() {
    let check = |v: Value| -> ConfigError {
        match spec(v).validate() {
            Err(e) => e,
            Ok(_) => panic!("accepted an invalid spec"),
        }
    };
    let with_round = |extra: Value| check(one_round(extra));
    let mut v = one_round(json!({}));
    merge(&mut v, json!({"version": "2.0"}));
    assert!(matches!(check(v), ConfigError::UnsupportedVersion(_)));
    let mut v = one_round(json!({}));
    merge(&mut v, json!({"name": ""}));
    assert_eq!(check(v), ConfigError::EmptyName);
    let mut v = one_round(json!({}));
    merge(&mut v, json!({"name": "x".repeat(200)}));
    assert!(matches!(check(v), ConfigError::BadName(_)));
    assert_eq!(
        with_round(json!({"name": ""})),
        ConfigError::EmptyRoundName { round: 1 }
    );
    let mut v = one_round(json!({}));
    merge(&mut v, json!({"currency": ""}));
    assert!(matches!(check(v), ConfigError::BadCurrency(_)));
    let mut v = one_round(json!({}));
    merge(&mut v, json!({"end": S}));
    assert_eq!(check(v), ConfigError::TournamentTimes);
    let mut v = one_round(json!({}));
    merge(&mut v, json!({"end": S * 1000}));
    assert_eq!(check(v), ConfigError::TimeOutOfRange(S * 1000));
    assert_eq!(check(tournament_json(vec![])), ConfigError::NoRounds);
    let many = (0..65)
        .map(|i| round_json("r", i * HOUR, (i + 1) * HOUR, json!({})))
        .collect();
    assert_eq!(check(tournament_json(many)), ConfigError::TooManyRounds(65));
    assert_eq!(
        with_round(json!({"end": S})),
        ConfigError::RoundTimes { round: 1 }
    );
    assert_eq!(
        with_round(json!({"start": S - 1})),
        ConfigError::RoundOutsideTournament { round: 1 }
    );
    let r = |a, b| round_json("r", a, b, json!({}));
    assert_eq!(
        check(tournament_json(vec![r(DAY, 2 * DAY), r(0, DAY)])),
        ConfigError::RoundsNotOrdered { round: 2 }
    );
    assert_eq!(
        check(tournament_json(vec![r(0, 2 * DAY), r(DAY, 3 * DAY)])),
        ConfigError::RoundsOverlap { round: 2 }
    );
    assert!(matches!(
        with_round(json!({"initial": {"type": "random", "value": 0}})),
        ConfigError::UnknownInitialType { round: 1, .. }
    ));
    let based = json!({"initial": {"type": "based", "value": 0, "tiers": [
        {"range": [1, 1], "value": 5}]}});
    assert_eq!(
        with_round(based),
        ConfigError::BasedWithoutPreviousRound { round: 1 }
    );
    assert_eq!(
        check(two_rounds(
            json!({"initial": {"type": "based", "value": 0}})
        )),
        ConfigError::TiersMissing {
            round: 2,
            of: TierOf::Initial
        }
    );
    assert_eq!(
        with_round(json!({"required_last_round": true})),
        ConfigError::RequiredLastRoundWithoutPrevious { round: 1 }
    );
    assert!(matches!(
        with_round(json!({"initial": {"type": "fixed", "value": 0.00001}})),
        ConfigError::BadValue {
            round: 1,
            what: "initial value",
            ..
        }
    ));
    validation_of_rules(&with_round);
    validation_of_prizes(&with_round);
    validation_of_limitations(&with_round);
}

fn rules(rules: Value) -> Value {
    json!({"strategy": {"type": 0, "rules": rules}})
}

fn validation_of_rules(with_round: &dyn Fn(Value) -> ConfigError) {
    use pitboss::tournaments::scoring::RuleInput::{Bet, Win};
    assert_eq!(
        with_round(json!({"strategy": {"type": 3, "rules": {}}})),
        ConfigError::UnknownStrategy { round: 1, code: 3 }
    );
    assert_eq!(
        with_round(rules(
            json!({"bet": {"enabled": false, "type": "rate", "rate": 1}})
        )),
        ConfigError::NoScoringRule { round: 1 }
    );
    assert!(matches!(
        with_round(rules(json!({"bet": {"enabled": true, "type": "curve"}}))),
        ConfigError::UnknownRuleType {
            round: 1,
            rule: Bet,
            ..
        }
    ));
    assert_eq!(
        with_round(rules(json!({"win": {"enabled": true, "type": "rate"}}))),
        ConfigError::RateMissing {
            round: 1,
            rule: Win
        }
    );
    assert!(matches!(
        with_round(rules(
            json!({"win": {"enabled": true, "type": "rate", "rate": 1.5}})
        )),
        ConfigError::RateOutOfRange {
            round: 1,
            rule: Win,
            ..
        }
    ));
    assert!(matches!(
        with_round(rules(
            json!({"win": {"enabled": true, "type": "rate", "rate": -0.1}})
        )),
        ConfigError::RateOutOfRange {
            round: 1,
            rule: Win,
            ..
        }
    ));
    assert!(matches!(
        with_round(rules(
            json!({"win": {"enabled": true, "type": "rate", "rate": 0.1234567}})
        )),
        ConfigError::RateTooPrecise {
            round: 1,
            rule: Win,
            ..
        }
    ));
    let tiered =
        |tiers: Value| rules(json!({"bet": {"enabled": true, "type": "tiered", "tiers": tiers}}));
    let of = TierOf::Rule(Bet);
    assert_eq!(
        with_round(tiered(json!([]))),
        ConfigError::TiersMissing { round: 1, of }
    );
    let too_many: Vec<Value> = (0..65)
        .map(|i| json!({"range": [i, i], "value": 1}))
        .collect();
    assert_eq!(
        with_round(tiered(json!(too_many))),
        ConfigError::TooManyTiers {
            round: 1,
            of,
            count: 65
        }
    );
    for bad in [json!([5, 1]), json!([1]), json!([1, "x"]), json!([-1, 5])] {
        assert_eq!(
            with_round(tiered(json!([{"range": bad, "value": 1}]))),
            ConfigError::TierRangeMalformed {
                round: 1,
                of,
                index: 0
            }
        );
    }
    assert_eq!(
        with_round(tiered(
            json!([{"range": [1, 10], "value": 1}, {"range": [10, 20], "value": 2}])
        )),
        ConfigError::TiersOverlap {
            round: 1,
            of,
            index: 1
        }
    );
    assert_eq!(
        with_round(tiered(json!([{"range": [1, 10], "value": 0.00001}]))),
        ConfigError::TierValueInvalid {
            round: 1,
            of,
            index: 0
        }
    );
}

fn validation_of_prizes(with_round: &dyn Fn(Value) -> ConfigError) {
    let prize =
        |top: i64, tiers: Value| json!({"prize": {"type": "credit", "top": top, "tiers": tiers}});
    assert!(matches!(
        with_round(
            json!({"prize": {"type": "goods", "top": 1, "tiers": [{"range": [1, 1], "value": 1}]}})
        ),
        ConfigError::UnknownPrizeType { round: 1, .. }
    ));
    assert_eq!(
        with_round(prize(2, json!([{"range": [2, 2], "value": 1}]))),
        ConfigError::PrizeRangesNotContinuous { round: 1, index: 0 }
    );
    assert_eq!(
        with_round(prize(
            5,
            json!([{"range": [1, 1], "value": 1}, {"range": [3, 5], "value": 1}])
        )),
        ConfigError::PrizeRangesNotContinuous { round: 1, index: 1 }
    );
    assert_eq!(
        with_round(prize(
            5,
            json!([{"range": [1, 2], "value": 1}, {"range": [2, 5], "value": 1}])
        )),
        ConfigError::TiersOverlap {
            round: 1,
            of: TierOf::Prize,
            index: 1
        }
    );
    assert_eq!(
        with_round(prize(4, json!([{"range": [1, 5], "value": 1}]))),
        ConfigError::PrizeTopMismatch {
            round: 1,
            top: 4,
            last: 5
        }
    );
    assert_eq!(
        with_round(prize(0, json!([{"range": [1, 5], "value": 1}]))),
        ConfigError::PrizeTopOutOfRange { round: 1, top: 0 }
    );
    assert_eq!(
        with_round(prize(1, json!([{"range": [1, 1], "value": 0}]))),
        ConfigError::TierValueInvalid {
            round: 1,
            of: TierOf::Prize,
            index: 0
        }
    );
}

fn validation_of_limitations(with_round: &dyn Fn(Value) -> ConfigError) {
    let matches =
        |limits: Value| json!({"limitations": {"matches": {"enabled": true, "limits": limits}}});
    assert_eq!(
        with_round(matches(json!([]))),
        ConfigError::NoMatchLimits { round: 1 }
    );
    assert!(matches!(
        with_round(matches(json!([{"type": "monthly", "value": 1}]))),
        ConfigError::UnknownMatchLimitType { round: 1, .. }
    ));
    assert_eq!(
        with_round(matches(json!([{"type": "daily", "value": 0}]))),
        ConfigError::MatchLimitValue { round: 1, value: 0 }
    );
    assert_eq!(
        with_round(matches(
            json!([{"type": "daily", "value": 1}, {"type": "daily", "value": 2}])
        )),
        ConfigError::DuplicateMatchLimit {
            round: 1,
            kind: CapKind::Daily
        }
    );
    assert_eq!(
        with_round(matches(json!([{"type": "latest", "value": 1}]))),
        ConfigError::LatestDaysOutOfRange {
            round: 1,
            days: None
        }
    );
    let user = |limit: i64, kind: &str| json!({"limitations": {"user": {"enabled": true, "time_limit": limit, "type": kind}}});
    assert_eq!(
        with_round(user(0, "daily")),
        ConfigError::TimeLimitOutOfRange {
            round: 1,
            seconds: 0
        }
    );
    assert!(matches!(
        with_round(user(60, "monthly")),
        ConfigError::UnknownTimeLimitType { round: 1, .. }
    ));
    let windows =
        |w: Value| json!({"limitations": {"availability": {"enabled": true, "windows": w}}});
    assert_eq!(
        with_round(windows(json!([]))),
        ConfigError::NoAvailabilityWindows { round: 1 }
    );
    let w = json!({"days": [1], "start": "00:00", "end": "01:00"});
    assert_eq!(
        with_round(windows(json!(vec![w; 33]))),
        ConfigError::TooManyWindows {
            round: 1,
            count: 33
        }
    );
    for days in [json!([]), json!([0]), json!([8]), json!([1, 1])] {
        let w = json!([{"days": days, "start": "00:00", "end": "01:00"}]);
        assert_eq!(
            with_round(windows(w)),
            ConfigError::WindowDays {
                round: 1,
                window: 0
            }
        );
    }
    for time in ["8:00", "24:01", "12:60", "ab:cd"] {
        let w = json!([{"days": [1], "start": time, "end": "24:00"}]);
        assert!(matches!(
            with_round(windows(w)),
            ConfigError::WindowTime {
                round: 1,
                window: 0,
                ..
            }
        ));
    }
    let w = json!([{"days": [1], "start": "10:00", "end": "10:00"}]);
    assert_eq!(
        with_round(windows(w)),
        ConfigError::WindowEmpty {
            round: 1,
            window: 0
        }
    );
    assert_eq!(
        with_round(json!({"limitations": {"timezone_offset_minutes": 900}})),
        ConfigError::TimezoneOutOfRange {
            round: 1,
            minutes: 900
        }
    );
    // Disabled limitations are not read.
    let off = json!({"limitations": {"matches": {"enabled": false, "limits": []}}});
    assert!(spec(one_round(off)).validate().is_ok());
}

#[test]
fn the_seed_example_is_valid() {
    let v = json!({
      "version": "1.0", "name": "tourney-test", "start": 1735660800, "end": 1767196800,
      "rounds": [{
          "name": "round-one", "start": 1735660800, "end": 1767196800,
          "initial": { "type": "fixed", "value": 1000 },
          "prize": { "type": "credit", "top": 5, "tiers": [
              { "range": [1,1], "value": 100000 }, { "range": [2,2], "value": 80000 },
              { "range": [3,5], "value": 50000 } ] },
          "strategy": { "type": 0, "rules": {
              "bet": { "enabled": true, "type": "rate", "rate": 0.2 },
              "win": { "enabled": true, "type": "rate", "rate": 1 } } },
          "limitations": { "user": { "enabled": true, "time_limit": 600, "type": "hourly" } }
      }]
    });
    let config = spec(v).validate().expect("the Publisher Manual's example");
    assert_eq!(
        config.rounds[0].initial,
        pitboss::tournaments::config::Initial::Fixed(points(1000))
    );
    assert_eq!(
        config.rounds[0].rules.bet,
        Some(pitboss::tournaments::scoring::Rule::Rate { micros: 200_000 })
    );
}

#[test]
fn skips_say_why() {
    // The domain reports why a record did not score: checked on a time limit.
    let w = world();
    let t = w.create(one_round(json!({"limitations": {
        "user": {"enabled": true, "time_limit": 1, "type": "global"}}})));
    w.at(HOUR);
    let a = w.play("alice", 100, 0);
    w.at(HOUR + 5);
    let wallet = a;
    let e = &w.engine;
    e.deposit(wallet, &deposit("dx", 100)).expect("deposit");
    e.bet(wallet, &bet("bx", "rx", "slot", 100)).expect("bet");
    let receipt = e
        .win(wallet, &win("wx", "rx", "slot", 0, false))
        .expect("win");
    let record_id = receipt.record.expect("closed");
    let record = e.game_record(&channel("chn"), record_id).expect("record");
    let outcome = e.score_record(&record).expect("scored");
    // Offered a second time: already refused the first time, refused again.
    assert_eq!(outcome[0].result, Err(Skip::Limited(Refusal::TimeLimit)));
    assert_eq!(&outcome[0].tourney, &t.summary.id);

    // A scored record offered again is a duplicate; once newer records pushed it out
    // of the remembered window, it is stale. Either way it does not score twice.
    let w = world();
    w.create(one_round(json!({})));
    w.at(HOUR);
    let e = &w.engine;
    let a = w.wallet("chn", "alice");
    e.deposit(a, &deposit("d1", 1000)).expect("deposit");
    e.bet(a, &bet("b1", "r1", "slot", 100)).expect("bet");
    let first = e.win(a, &win("w1", "r1", "slot", 0, false)).expect("win");
    let first = e
        .game_record(&channel("chn"), first.record.expect("closed"))
        .expect("record");
    let again = e.score_record(&first).expect("offered");
    assert_eq!(again[0].result, Err(Skip::Duplicate));
    w.at(HOUR + 600);
    w.play("bob", 100, 0);
    let again = e.score_record(&first).expect("offered");
    assert_eq!(again[0].result, Err(Skip::Stale));
}
