//! Model-based property test of the ledger (issue: engine core).
//!
//! Random sequences of operations — duplicate ids, conflicting replays, refunds
//! before bets, wins after refunds, over-withdrawals, expiries, clock jumps — run
//! against the engine and against a small sequential reference model written from
//! the ledger rules (README.md, ARCHITECTURE.md) independently of the engine's planners. After every step the results
//! agree, every balance agrees, and the engine's invariants hold.

mod common;

use common::*;
use pitboss::simulation::model::*;
use pitboss::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

// ---------------------------------------------------------------- the operations
// The model and the engine's side of each operation are `pitboss::simulation::model`
// (the simulator drives the same ones from a seed); these are proptest's strategies.

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 1i64..200,
        1 => Just(0i64),
        1 => Just(-5i64),
        1 => Just(i64::MAX),
        1 => Just(i64::MAX / 2 + 1),
    ]
}

/// Mostly one hot wallet and one game, so that ids, rounds and bets collide often.
fn wallet() -> impl Strategy<Value = usize> + Clone {
    prop_oneof![3 => Just(0usize), 1 => 0usize..4]
}

fn game_index() -> impl Strategy<Value = usize> {
    prop_oneof![3 => Just(0usize), 1 => Just(1usize)]
}

fn op() -> impl Strategy<Value = Op> {
    let w = wallet();
    let tx = 0u32..32;
    let round = 0u32..4;
    prop_oneof![
        4 => (w.clone(), tx.clone(), prop_oneof![3 => 100i64..10_000, 1 => amount()]).prop_map(|(w, tx, amount)| Op::Deposit { w, tx, amount }),
        2 => (w.clone(), tx.clone(), proptest::option::of(amount())).prop_map(|(w, tx, amount)| Op::Withdraw { w, tx, amount }),
        6 => (w.clone(), tx.clone(), round.clone(), game_index(), amount())
            .prop_map(|(w, tx, round, game, amount)| Op::Bet { w, tx, round, game, amount }),
        4 => (w.clone(), tx.clone(), round.clone(), game_index(), amount(), any::<bool>())
            .prop_map(|(w, tx, round, game, amount, keep_open)| Op::Win { w, tx, round, game, amount, keep_open }),
        3 => (w.clone(), tx.clone(), tx.clone()).prop_map(|(w, tx, bet_tx)| Op::Refund { w, tx, bet_tx }),
        1 => (w.clone(), tx.clone(), amount()).prop_map(|(w, tx, amount)| Op::Prize { w, tx, amount }),
        1 => (w.clone(), tx.clone(), round.clone()).prop_map(|(w, tx, round)| Op::EndRound { w, tx, round }),
        1 => w.clone().prop_map(|w| Op::ExpirePlayer { w }),
        1 => (0usize..2).prop_map(|channel| Op::ExpireChannel { channel }),
        1 => (0i64..8_000).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::ExpireStale),
        2 => Just(Op::Archive),
    ]
}

// ---------------------------------------------------------------- the engine side

struct Subject {
    engine: Engine,
    clock: Arc<ManualClock>,
    wallets: Vec<WalletId>,
    /// The data directory of a durable subject (kept until the subject goes).
    _dir: Option<tempfile::TempDir>,
}

impl Subject {
    fn new() -> Subject {
        Subject::with(false)
    }

    /// A durable engine whose hot window (1 ms) is shorter than an `Op::Archive`
    /// step: each pass evicts everything the pass before archived. The background
    /// archiver waits an hour between passes, so only `Op::Archive` runs one.
    fn archiving() -> Subject {
        Subject::with(true)
    }

    fn with(archiving: bool) -> Subject {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let mut config = EngineConfig {
            round_timeout_ms: TIMEOUT_MS,
            ..EngineConfig::default()
        };
        let (engine, dir) = if archiving {
            config.wal.fsync = pitboss::storage::FsyncPolicy::Never;
            config.history.hot_window = Some(std::time::Duration::from_millis(1));
            config.history.archive_every = std::time::Duration::from_secs(3600);
            let dir = tempfile::tempdir().expect("tempdir");
            let fs: Arc<dyn pitboss::storage::FileSystem> = Arc::new(pitboss::storage::StdFs);
            let engine = Engine::open_with(dir.path(), config, clock.clone(), fs).expect("open");
            (engine, Some(dir))
        } else {
            (Engine::in_memory_with_clock(config, clock.clone()), None)
        };
        let wallets = (0..4)
            .map(|w| {
                let (c, p) = wallet_names(w);
                engine
                    .open_wallet(&c, &p, &currency("CNY"))
                    .expect("open wallet")
            })
            .collect();
        Subject {
            engine,
            clock,
            wallets,
            _dir: dir,
        }
    }

    fn apply(&mut self, op: &Op) -> Vec<MOut> {
        apply_to_engine(&self.engine, &self.clock, &self.wallets, op)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn ledger_agrees_with_model(ops in proptest::collection::vec(op(), 1..120)) {
        agrees_with_model(Subject::new(), &ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The same, with a hot window shorter than the clock's steps: whatever has
    /// left memory for the history store, every result, balance and record is the
    /// model's. Replays and conflicts of archived ids, refunds of archived bets,
    /// late wins on archived rounds, and record pages across the boundary.
    #[test]
    fn archived_history_is_transparent(ops in proptest::collection::vec(op(), 1..120)) {
        agrees_with_model(Subject::archiving(), &ops)?;
    }
}

fn agrees_with_model(mut subject: Subject, ops: &[Op]) -> Result<(), TestCaseError> {
    {
        let mut model = Model {
            now: 1_700_000_000_000,
            ..Model::default()
        };
        for (i, op) in ops.iter().enumerate() {
            let got = subject.apply(op);
            let want = model.apply(op);
            prop_assert_eq!(&got, &want, "step {} {:?}", i, op);
            for (w, id) in subject.wallets.iter().enumerate() {
                let b = subject.engine.balance(*id).expect("balance");
                let mw = &model.wallets[w];
                prop_assert_eq!(
                    b.available.minor_units(),
                    mw.available,
                    "available of wallet {} after step {}",
                    w,
                    i
                );
                prop_assert_eq!(
                    b.total.minor_units(),
                    mw.available + mw.held(),
                    "total of wallet {} after step {}",
                    w,
                    i
                );
            }
            subject.engine.check_invariants();
        }
        check_records(&subject.engine, &subject.wallets, &model).map_err(TestCaseError::fail)?;
        check_paging(&subject.engine, &model).map_err(TestCaseError::fail)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- replaying effects

use pitboss::journal::{Lsn, MemoryJournal, NoJournal};
use pitboss::ledger::effect::LedgerEffect;
use pitboss::ledger::types::Funds;
use pitboss::ledger::wallet::Wallet;
use pitboss::ledger::{ExpireScope, Ledger, LedgerConfig};

type Recorded = Ledger<MemoryJournal<LedgerEffect>>;

/// Drives a bare ledger with the same operations (no engine, so the journal is visible).
fn drive(ledger: &Recorded, wallets: &[WalletId], op: &Op, now: &mut i64) {
    let t = |n: u32| format!("t{n}");
    let r = |n: u32| format!("r{n}");
    let _ = match *op {
        Op::Deposit { w, tx, amount } => ledger.deposit(wallets[w], &deposit(&t(tx), amount)).lsn,
        Op::Prize { w, tx, amount } => {
            let req = PrizeRequest {
                tx: common::tx(&t(tx)),
                amount: Amount::new(amount),
            };
            ledger.prize(wallets[w], &req, Funds::Local).lsn
        }
        Op::Withdraw { w, tx, amount } => {
            let amount = amount.map_or(WithdrawAmount::All, |a| {
                WithdrawAmount::Exact(Amount::new(a))
            });
            ledger
                .withdraw(
                    wallets[w],
                    &WithdrawRequest {
                        tx: common::tx(&t(tx)),
                        amount,
                    },
                )
                .lsn
        }
        Op::Bet {
            w,
            tx,
            round,
            game,
            amount,
        } => {
            ledger
                .bet(
                    wallets[w],
                    &bet(&t(tx), &r(round), GAMES[game], amount),
                    *now,
                    Funds::Local,
                )
                .lsn
        }
        Op::Win {
            w,
            tx,
            round,
            game,
            amount,
            keep_open,
        } => {
            ledger
                .win(
                    wallets[w],
                    &win(&t(tx), &r(round), GAMES[game], amount, keep_open),
                    *now,
                    Funds::Local,
                )
                .lsn
        }
        Op::Refund { w, tx, bet_tx } => {
            let req = RefundRequest {
                tx: common::tx(&t(tx)),
                bet_tx: common::tx(&t(bet_tx)),
            };
            ledger.refund(wallets[w], &req, *now, Funds::Local).lsn
        }
        Op::EndRound { w, tx, round } => {
            let req = EndRoundRequest {
                tx: common::tx(&t(tx)),
                round: common::round(&r(round)),
            };
            ledger.end_round(wallets[w], &req, *now, Funds::Local).lsn
        }
        Op::ExpirePlayer { w } => {
            let (c, p) = wallet_names(w);
            ledger.expire_rounds(ExpireScope::Player(&c, &p), *now).lsn
        }
        Op::ExpireChannel { channel } => {
            let c = common::channel(CHANNELS[channel]);
            ledger.expire_rounds(ExpireScope::Channel(&c), *now).lsn
        }
        Op::Advance { ms } => {
            *now += ms;
            pitboss::journal::Lsn(0)
        }
        Op::Archive => {
            *now += ARCHIVE_STEP_MS;
            pitboss::journal::Lsn(0)
        }
        Op::ExpireStale => {
            ledger
                .expire_rounds(ExpireScope::OpenedBefore(*now - TIMEOUT_MS), *now)
                .lsn
        }
    };
}

/// A bare ledger that keeps its journal, with the four test wallets opened.
fn recorded_ledger() -> (Recorded, Vec<WalletId>) {
    let ledger: Recorded = Ledger::new(&LedgerConfig::default(), MemoryJournal::new());
    let wallets = (0..4)
        .map(|w| {
            let (channel, player) = wallet_names(w);
            let key = pitboss::ids::WalletKey {
                channel,
                player,
                currency: currency("CNY"),
            };
            ledger.open_wallet(key).result.expect("open")
        })
        .collect();
    (ledger, wallets)
}

fn state_of<J: pitboss::journal::Journal<LedgerEffect>>(
    ledger: &Ledger<J>,
) -> (
    BTreeMap<WalletId, Wallet>,
    Vec<pitboss::ledger::records::GameRecord>,
) {
    let mut wallets = BTreeMap::new();
    ledger.for_each_wallet(|w| {
        wallets.insert(w.id, w.clone());
    });
    let mut records = ledger.records().all();
    records.sort_by_key(|r| r.id);
    (wallets, records)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Replaying the journal rebuilds the exact state; replaying a tail a second time
    /// (what recovery does over a fuzzy snapshot) changes nothing.
    #[test]
    fn replaying_effects_rebuilds_the_state(ops in proptest::collection::vec(op(), 1..120), cut in 0usize..200) {
        let (ledger, wallets) = recorded_ledger();
        let mut now = 1_700_000_000_000;
        for op in &ops {
            drive(&ledger, &wallets, op, &mut now);
        }
        let effects = ledger.journal().effects();
        let cut = cut.min(effects.len());

        let once = Ledger::new(&LedgerConfig::default(), NoJournal);
        for e in effects.iter().cloned() {
            once.replay(Lsn(0), e).expect("replay");
        }
        prop_assert_eq!(state_of(&once), state_of(&ledger));
        once.check_invariants();

        let fuzzy = Ledger::new(&LedgerConfig::default(), NoJournal);
        for e in effects.iter().cloned().chain(effects[cut..].iter().cloned()) {
            fuzzy.replay(Lsn(0), e).expect("replay");
        }
        prop_assert_eq!(state_of(&fuzzy), state_of(&ledger));
        fuzzy.check_invariants();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// A snapshot exported mid-run, imported into a fresh ledger, plus the effects
    /// logged after the snapshot's position, rebuilds the live state.
    #[test]
    fn snapshot_plus_tail_rebuilds_the_state(ops in proptest::collection::vec(op(), 1..120), at in 0usize..120) {
        let (ledger, wallets) = recorded_ledger();
        let at = at.min(ops.len());
        let mut now = 1_700_000_000_000;
        for op in &ops[..at] {
            drive(&ledger, &wallets, op, &mut now);
        }
        let position = ledger.journal().effects().len();
        let counters = ledger.counters();
        let (mut snap_wallets, mut snap_records) = (Vec::new(), Vec::new());
        ledger.export_wallets(|ws| { snap_wallets.extend(ws); Ok::<(), ()>(()) }).expect("export");
        ledger.export_records(|rs| { snap_records.extend(rs); Ok::<(), ()>(()) }).expect("export");
        for op in &ops[at..] {
            drive(&ledger, &wallets, op, &mut now);
        }

        let restored = Ledger::new(&LedgerConfig::default(), NoJournal);
        restored.import_wallets(snap_wallets);
        restored.import_records(snap_records);
        restored.restore_counters(counters);
        for e in ledger.journal().effects().into_iter().skip(position) {
            restored.replay(Lsn(0), e).expect("replay");
        }
        prop_assert_eq!(state_of(&restored), state_of(&ledger));
        prop_assert_eq!(restored.counters().next_record, ledger.counters().next_record);
        restored.check_invariants();
    }
}

/// A bet on a round that is already open logs only its own leg: the log record of
/// the 200th bet of a round is about the size of the second's (with whole rounds it
/// held 200 legs: 1,514 bytes with these short ids), and replaying the log rebuilds
/// the round.
#[test]
fn a_bet_logs_its_leg_not_the_whole_round() {
    let (ledger, wallets) = recorded_ledger();
    let w = wallets[0];
    ledger
        .deposit(w, &deposit("seed", 1_000_000))
        .result
        .expect("deposit");
    let mut sizes = Vec::new();
    for i in 0..200 {
        let before = ledger.journal().effects().len();
        ledger
            .bet(
                w,
                &bet(&format!("b{i:03}"), "one-round", "slot_alice", 1),
                1_700_000_000_000,
                Funds::Local,
            )
            .result
            .expect("bet");
        let effects = ledger.journal().effects();
        assert_eq!(effects.len(), before + 1);
        let bytes = postcard::to_stdvec(&effects[before]).expect("encode");
        sizes.push(bytes.len());
    }
    assert!(
        sizes[1] < sizes[0],
        "the first bet opens the round: {sizes:?}"
    );
    // Varints of the growing sums may take a byte or two more; a leg takes seven.
    assert!(
        sizes[199] <= sizes[1] + 4,
        "later bets log about the same size: {sizes:?}"
    );

    let replayed = Ledger::new(&LedgerConfig::default(), NoJournal);
    for e in ledger.journal().effects() {
        replayed.replay(Lsn(0), e).expect("replay");
    }
    assert_eq!(state_of(&replayed), state_of(&ledger));
    let (wallets_after, _) = state_of(&replayed);
    let legs = wallets_after[&w]
        .rounds
        .open(&common::round("one-round"))
        .map(|r| r.bets.len());
    assert_eq!(legs, Some(200));
}
