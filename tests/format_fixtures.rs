//! On-disk format fixtures: a snapshot and a log segment written by format version 1
//! are committed under `snapshots/format-v1/`; this test opens them. They hold every
//! domain's effects and snapshot sections: ledger, operators, games and a tournament. A change that
//! breaks the on-disk format fails here. To write the fixtures again — only when the
//! format version is deliberately bumped, into a new directory —
//! `cargo test --test format_fixtures -- --ignored write_fixtures`.

mod common;

use common::*;
use pitboss::catalog::game::{GameStatus, NewGame};
use pitboss::identity::secrets::Argon2Params;
use pitboss::identity::types::{NewOperator, WalletMode};
use pitboss::ledger::records::RecordQuery;
use pitboss::storage::StdFs;
use pitboss::tournaments::config::{
    InitialSpec, RoundSpec, RuleSpec, RulesSpec, StrategySpec, TournamentSpec,
};
use pitboss::tournaments::decimal::SpecNumber;
use pitboss::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const START_MS: i64 = 1_741_330_280_000;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots/format-v1")
}

fn config() -> EngineConfig {
    let mut c = EngineConfig::default();
    c.identity.argon2 = Argon2Params::insecure_for_tests();
    c
}

fn open(dir: &Path) -> Engine {
    let clock = Arc::new(ManualClock::new(START_MS));
    Engine::open_with(dir, config(), clock, Arc::new(StdFs)).expect("open fixtures")
}

fn operator(engine: &Engine, id: &str) {
    let op = NewOperator {
        client_id: ClientId::new(id).expect("client"),
        channel: channel(id),
        currencies: vec![currency("CNY")],
        wallet_mode: WalletMode::Transfer,
        password: format!("{id}-password"),
    };
    engine.create_operator(op).expect("operator");
}

fn game(engine: &Engine, id: &str, serial: u32) {
    let g = NewGame {
        record: None,
        id: GameId::new(id).expect("game"),
        kind: Label::new(id).expect("label"),
        serial,
        developer: Label::new("devsz").expect("label"),
        uri: format!("games/devsz/{id}/client"),
        status: GameStatus::Online,
        config: "{}".into(),
        version: Some(Label::new("2025.03.05.0002").expect("label")),
    };
    engine.register_game(g).expect("game");
}

/// Platform state around the ledger history: operators, games, a running tournament.
fn platform(engine: &Engine, before_snapshot: bool) {
    if !before_snapshot {
        operator(engine, "op2");
        game(engine, "slot_mayan", 2);
        return;
    }
    operator(engine, "chnsz");
    game(engine, "slot_alice", 1);
    let s = START_MS / 1000;
    // The spec of the fixtures' tournament, built as typed values (no JSON parser in
    // the embedded build): a round of one day, bets score at a rate of 0.5.
    let spec = TournamentSpec {
        version: "1.0".into(),
        name: "cup".into(),
        start_secs: s,
        end_secs: s + 86_400,
        currency: None,
        rounds: vec![RoundSpec {
            name: "r1".into(),
            start_secs: s,
            end_secs: s + 86_400,
            initial: InitialSpec {
                kind: "fixed".into(),
                value: SpecNumber::new("0"),
                tiers: Vec::new(),
            },
            prize: None,
            limitations: None,
            strategy: StrategySpec {
                kind: 0,
                rules: RulesSpec {
                    bet: Some(RuleSpec {
                        enabled: true,
                        kind: "rate".into(),
                        rate: Some(SpecNumber::new("0.5")),
                        tiers: Vec::new(),
                    }),
                    win: None,
                    multiple: None,
                },
            },
            required_last_round: false,
        }],
    };
    let t = engine
        .create_tournament(&channel("chnsz"), &spec)
        .expect("tournament");
    engine
        .bind_game(
            &channel("chnsz"),
            &t.summary.id,
            &GameId::new("slot_alice").expect("game"),
        )
        .expect("bind");
}

/// The tournament leaderboard of `chnsz`: (player, score, rank).
fn leaderboard(engine: &Engine) -> Vec<(PlayerId, i64, u64)> {
    let list = engine.list_tournaments(&channel("chnsz"), page(0, 10));
    let Some(t) = list.first() else { return vec![] };
    let rows = engine
        .tournament_ranks(&channel("chnsz"), &t.id, 1, page(0, 100))
        .expect("ranks");
    rows.into_iter()
        .map(|r| (r.player, r.score, r.rank))
        .collect()
}

/// The fixed history the fixtures hold: some before the snapshot, some after it.
fn history(engine: &Engine, from: usize, to: usize) {
    for i in from..to {
        let p = player(&format!("p{}", i % 3));
        let w = engine
            .open_wallet(&channel("chnsz"), &p, &currency("CNY"))
            .expect("wallet");
        engine
            .deposit(w, &deposit(&format!("d{i}"), 1000))
            .expect("deposit");
        engine
            .bet(
                w,
                &bet(&format!("b{i}"), &format!("r{i}"), "slot_alice", 100),
            )
            .expect("bet");
        match i % 4 {
            0 => drop(
                engine
                    .win(
                        w,
                        &win(&format!("w{i}"), &format!("r{i}"), "slot_alice", 250, false),
                    )
                    .expect("win"),
            ),
            1 => drop(
                engine
                    .refund(
                        w,
                        &RefundRequest {
                            tx: tx(&format!("f{i}")),
                            bet_tx: tx(&format!("b{i}")),
                        },
                    )
                    .expect("refund"),
            ),
            2 => drop(engine.refund(
                w,
                &RefundRequest {
                    tx: tx(&format!("u{i}")),
                    bet_tx: tx(&format!("never{i}")),
                },
            )),
            _ => {} // left open
        }
    }
}

#[test]
#[ignore = "writes the committed fixtures; run only to create a new format version's"]
fn write_fixtures() {
    let dir = fixture_dir();
    let _ = std::fs::remove_dir_all(&dir);
    {
        let engine = open(&dir);
        platform(&engine, true);
        history(&engine, 0, 12);
        engine.shutdown().expect("shutdown writes the snapshot");
    }
    let engine = open(&dir);
    platform(&engine, false);
    history(&engine, 12, 20);
    // Dropped without shutdown: the last operations live only in the log segment.
}

#[test]
fn format_v1_fixtures_open_and_hold_their_history() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut files = 0;
    for entry in std::fs::read_dir(fixture_dir())
        .expect("fixtures are committed")
        .flatten()
    {
        std::fs::copy(entry.path(), tmp.path().join(entry.file_name())).expect("copy fixture");
        files += 1;
    }
    assert!(files >= 2, "a snapshot and a log segment");
    let engine = open(tmp.path());
    let report = engine.recovery_report().clone();
    assert!(
        report.snapshot_lsn.is_some(),
        "the snapshot was read: {report:?}"
    );
    assert!(
        report.replayed > 0,
        "the log after it was replayed: {report:?}"
    );

    // The same history on a fresh in-memory engine is the reference.
    let reference = Engine::in_memory_with_clock(config(), Arc::new(ManualClock::new(START_MS)));
    platform(&reference, true);
    history(&reference, 0, 12);
    platform(&reference, false);
    history(&reference, 12, 20);
    for i in 0..3 {
        let p = player(&format!("p{i}"));
        let cny = currency("CNY");
        let got = engine
            .wallet_id(&channel("chnsz"), &p, &cny)
            .map(|w| engine.balance(w));
        let want = reference
            .wallet_id(&channel("chnsz"), &p, &cny)
            .map(|w| reference.balance(w));
        assert_eq!(got, want, "balance of p{i}");
    }
    let q = RecordQuery {
        size: 100,
        ..Default::default()
    };
    let strip = |rs: Vec<ledger::records::GameRecord>| {
        rs.into_iter()
            .map(|mut r| {
                r.created_at_ms = 0;
                r
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strip(
            engine
                .game_records(&channel("chnsz"), &q)
                .expect("records")
                .records
        ),
        strip(
            reference
                .game_records(&channel("chnsz"), &q)
                .expect("records")
                .records
        )
    );
    let open = |e: &Engine| {
        e.incomplete_games(&channel("chnsz"), None)
            .into_iter()
            .map(|g| (g.player, g.round, g.bet_amount))
            .collect::<Vec<_>>()
    };
    assert_eq!(open(&engine), open(&reference));
    assert_eq!(open(&engine).len(), 10);
    // A tombstone survived: the cancelled bet id is still refused.
    let w = engine
        .wallet_id(&channel("chnsz"), &player("p2"), &currency("CNY"))
        .expect("wallet");
    let late = engine
        .bet(w, &bet("never2", "late", "slot_alice", 1))
        .expect_err("tombstoned");
    assert_eq!(kind(&late), "BetCancelled");
    // The other domains: operators and games from both sides of the snapshot, and
    // the tournament's leaderboard built from the scored rounds.
    let clients = |e: &Engine| {
        e.operators()
            .iter()
            .map(|o| (o.client_id.clone(), o.channel.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(clients(&engine), clients(&reference));
    assert_eq!(clients(&engine).len(), 2);
    for g in ["slot_alice", "slot_mayan"] {
        assert!(
            engine.game(&GameId::new(g).expect("game")).is_some(),
            "game {g}"
        );
    }
    assert_eq!(leaderboard(&engine), leaderboard(&reference));
    assert_eq!(leaderboard(&engine).len(), 3);
    engine.check_invariants();
}
