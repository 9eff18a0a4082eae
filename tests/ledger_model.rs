//! Model-based property test of the ledger (issue: engine core).
//!
//! Random sequences of operations — duplicate ids, conflicting replays, refunds
//! before bets, wins after refunds, over-withdrawals, expiries, clock jumps — run
//! against the engine and against a small sequential reference model written from
//! the ledger rules (README.md, ARCHITECTURE.md) independently of the engine's planners. After every step the results
//! agree, every balance agrees, and the engine's invariants hold.

mod common;

use common::*;
use pitboss::ledger::round::RoundEnd;
use pitboss::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const CHANNELS: [&str; 2] = ["chA", "chB"];
const PLAYERS: [&str; 2] = ["p0", "p1"];
const GAMES: [&str; 2] = ["g0", "g1"];
const TIMEOUT_MS: i64 = 10_000;

#[derive(Clone, Debug)]
enum Op {
    Deposit {
        w: usize,
        tx: u8,
        amount: i64,
    },
    Withdraw {
        w: usize,
        tx: u8,
        amount: Option<i64>,
    },
    Bet {
        w: usize,
        tx: u8,
        round: u8,
        game: usize,
        amount: i64,
    },
    Win {
        w: usize,
        tx: u8,
        round: u8,
        game: usize,
        amount: i64,
        keep_open: bool,
    },
    Refund {
        w: usize,
        tx: u8,
        bet_tx: u8,
    },
    Prize {
        w: usize,
        tx: u8,
        amount: i64,
    },
    EndRound {
        w: usize,
        tx: u8,
        round: u8,
    },
    ExpirePlayer {
        w: usize,
    },
    ExpireChannel {
        channel: usize,
    },
    Advance {
        ms: i64,
    },
    ExpireStale,
    /// An archiver pass with the clock moved on by `ARCHIVE_STEP_MS` (a no-op but
    /// for the clock without a history store): with the hot window shorter than
    /// that, everything archived by the pass before leaves memory.
    Archive,
}

const ARCHIVE_STEP_MS: i64 = 2;

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
    let tx = 0u8..32;
    let round = 0u8..4;
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

// ---------------------------------------------------------------- the model

#[derive(Clone, Debug, PartialEq)]
enum MTx {
    Deposit(i64),
    Withdraw(Option<i64>),
    Bet {
        round: u8,
        game: usize,
        amount: i64,
    },
    Win {
        round: u8,
        game: usize,
        amount: i64,
        keep_open: bool,
    },
    Refund {
        bet_tx: u8,
    },
    Prize(i64),
    EndRound(u8),
    Tombstone,
}

#[derive(Clone, Debug)]
struct MRound {
    game: usize,
    opened_at: i64,
    starting: i64,
    bets: Vec<(u8, i64, bool)>,
    wins: i64,
    win_count: u32,
}

#[derive(Clone, Debug, PartialEq)]
struct MRecord {
    wallet: usize,
    total_bet: i64,
    total_win: i64,
    starting: i64,
    ending: i64,
    end: RoundEnd,
}

/// A stored outcome: Ok((amount, available, total, record)) or an error kind.
type MOut = Result<(i64, i64, i64, Option<u64>), &'static str>;

#[derive(Default, Clone, Debug)]
struct MWallet {
    available: i64,
    txs: HashMap<u8, (MTx, MOut)>,
    open: BTreeMap<u8, MRound>,
    closed: HashMap<u8, u64>,
}

impl MWallet {
    fn held(&self) -> i64 {
        self.open.values().map(live).sum()
    }
}

fn live(r: &MRound) -> i64 {
    r.bets.iter().filter(|b| !b.2).map(|b| b.1).sum()
}

#[derive(Default)]
struct Model {
    wallets: [MWallet; 4],
    records: BTreeMap<u64, MRecord>,
    next_record: u64,
    now: i64,
}

impl Model {
    fn close(&mut self, w: usize, round: u8, end: RoundEnd, refund_live: bool) -> u64 {
        self.next_record += 1;
        let id = self.next_record;
        let wal = &mut self.wallets[w];
        let r = wal
            .open
            .remove(&round)
            .expect("model: closing an open round");
        let live_bets = live(&r);
        if refund_live {
            wal.available += live_bets;
        }
        wal.closed.insert(round, id);
        let total_bet = if refund_live { 0 } else { live_bets };
        let rec = MRecord {
            wallet: w,
            total_bet,
            total_win: r.wins,
            starting: r.starting,
            ending: wal.available,
            end,
        };
        self.records.insert(id, rec);
        id
    }

    fn done(&mut self, w: usize, tx: u8, params: MTx, amount: i64, record: Option<u64>) -> MOut {
        let wal = &mut self.wallets[w];
        let out: MOut = Ok((amount, wal.available, wal.available + wal.held(), record));
        wal.txs.insert(tx, (params, out));
        out
    }

    /// Replay, conflict, or `None` for a new transaction id.
    fn seen(&self, w: usize, tx: u8, params: &MTx) -> Option<MOut> {
        let (p, out) = self.wallets[w].txs.get(&tx)?;
        Some(match (p, out) {
            (p, out) if p == params => *out,
            (MTx::Tombstone, _) => Err("BetCancelled"),
            _ => Err("Conflict"),
        })
    }

    fn apply(&mut self, op: &Op) -> Vec<MOut> {
        match *op {
            Op::Deposit { w, tx, amount } | Op::Prize { w, tx, amount } => {
                let params = if matches!(op, Op::Deposit { .. }) {
                    MTx::Deposit(amount)
                } else {
                    MTx::Prize(amount)
                };
                if amount <= 0 {
                    return vec![Err("InvalidAmount")];
                }
                if let Some(out) = self.seen(w, tx, &params) {
                    return vec![out];
                }
                let wal = &mut self.wallets[w];
                let Some(a) = wal
                    .available
                    .checked_add(amount)
                    .filter(|a| a.checked_add(wal.held()).is_some())
                else {
                    return vec![Err("Overflow")];
                };
                wal.available = a;
                vec![self.done(w, tx, params, amount, None)]
            }
            Op::Withdraw { w, tx, amount } => {
                if amount.is_some_and(|a| a <= 0) {
                    return vec![Err("InvalidAmount")];
                }
                let params = MTx::Withdraw(amount);
                if let Some(out) = self.seen(w, tx, &params) {
                    return vec![out];
                }
                let avail = self.wallets[w].available;
                let take = amount.unwrap_or(avail);
                if take > avail {
                    return vec![Err("InsufficientBalance")];
                }
                self.wallets[w].available -= take;
                vec![self.done(w, tx, params, take, None)]
            }
            Op::Bet {
                w,
                tx,
                round,
                game,
                amount,
            } => vec![self.bet(w, tx, round, game, amount)],
            Op::Win {
                w,
                tx,
                round,
                game,
                amount,
                keep_open,
            } => vec![self.win(w, tx, round, game, amount, keep_open)],
            Op::Refund { w, tx, bet_tx } => vec![self.refund(w, tx, bet_tx)],
            Op::EndRound { w, tx, round } => {
                let params = MTx::EndRound(round);
                if let Some(out) = self.seen(w, tx, &params) {
                    return vec![out];
                }
                if let Some(e) = self.not_open(w, round) {
                    return vec![Err(e)];
                }
                let rec = self.close(w, round, RoundEnd::Settled, false);
                vec![self.done(w, tx, params, 0, Some(rec))]
            }
            Op::ExpirePlayer { w } => self.expire(
                |mw| CHANNELS[mw / 2] == CHANNELS[w / 2] && mw % 2 == w % 2,
                i64::MAX,
            ),
            Op::ExpireChannel { channel } => self.expire(|mw| mw / 2 == channel, i64::MAX),
            Op::Advance { ms } => {
                self.now += ms;
                vec![]
            }
            Op::ExpireStale => self.expire(|_| true, self.now - TIMEOUT_MS),
            Op::Archive => {
                self.now += ARCHIVE_STEP_MS;
                vec![]
            }
        }
    }

    fn not_open(&self, w: usize, round: u8) -> Option<&'static str> {
        let wal = &self.wallets[w];
        if wal.open.contains_key(&round) {
            None
        } else if wal.closed.contains_key(&round) {
            Some("RoundClosed")
        } else {
            Some("RoundNotFound")
        }
    }

    fn bet(&mut self, w: usize, tx: u8, round: u8, game: usize, amount: i64) -> MOut {
        if amount <= 0 {
            return Err("InvalidAmount");
        }
        let params = MTx::Bet {
            round,
            game,
            amount,
        };
        if let Some(out) = self.seen(w, tx, &params) {
            return out;
        }
        let now = self.now;
        let wal = &mut self.wallets[w];
        if wal.closed.contains_key(&round) {
            return Err("RoundClosed");
        }
        if wal.open.get(&round).is_some_and(|r| r.game != game) {
            return Err("GameMismatch");
        }
        if amount > wal.available {
            return Err("InsufficientBalance");
        }
        let starting = wal.available;
        let r = wal.open.entry(round).or_insert(MRound {
            game,
            opened_at: now,
            starting,
            bets: vec![],
            wins: 0,
            win_count: 0,
        });
        r.bets.push((tx, amount, false));
        wal.available -= amount;
        self.done(w, tx, params, amount, None)
    }

    fn win(
        &mut self,
        w: usize,
        tx: u8,
        round: u8,
        game: usize,
        amount: i64,
        keep_open: bool,
    ) -> MOut {
        if amount < 0 {
            return Err("InvalidAmount");
        }
        let params = MTx::Win {
            round,
            game,
            amount,
            keep_open,
        };
        if let Some(out) = self.seen(w, tx, &params) {
            return out;
        }
        if let Some(e) = self.not_open(w, round) {
            return Err(e);
        }
        let wal = &mut self.wallets[w];
        let held: i64 = wal.open.values().map(live).sum();
        let r = wal.open.get_mut(&round).expect("checked open");
        if r.game != game {
            return Err("GameMismatch");
        }
        if live(r) == 0 {
            return Err("WrongState");
        }
        let avail = wal
            .available
            .checked_add(amount)
            .filter(|a| a.checked_add(held).is_some());
        let (Some(avail), Some(wins)) = (avail, r.wins.checked_add(amount)) else {
            return Err("Overflow");
        };
        wal.available = avail;
        r.wins = wins;
        r.win_count += 1;
        let record = (!keep_open).then(|| self.close(w, round, RoundEnd::Settled, false));
        self.done(w, tx, params, amount, record)
    }

    fn refund(&mut self, w: usize, tx: u8, bet_tx: u8) -> MOut {
        let params = MTx::Refund { bet_tx };
        if let Some(out) = self.seen(w, tx, &params) {
            return out;
        }
        let wal = &mut self.wallets[w];
        let (round, amount) = match wal.txs.get(&bet_tx) {
            None => {
                wal.txs
                    .insert(bet_tx, (MTx::Tombstone, Err("BetCancelled")));
                wal.txs.insert(tx, (params, Err("UnknownBet")));
                return Err("UnknownBet");
            }
            Some((MTx::Tombstone, _)) => return Err("UnknownBet"),
            Some((MTx::Bet { round, amount, .. }, _)) => (*round, *amount),
            Some(_) => return Err("NotABet"),
        };
        if let Some(e) = self.not_open(w, round) {
            return Err(e);
        }
        let wal = &mut self.wallets[w];
        let r = wal.open.get_mut(&round).expect("checked open");
        if r.win_count > 0 {
            return Err("WrongState");
        }
        let leg = r
            .bets
            .iter_mut()
            .find(|b| b.0 == bet_tx)
            .expect("bet is in its round");
        if leg.2 {
            return Err("AlreadyRefunded");
        }
        leg.2 = true;
        wal.available += amount;
        let record = (live(r) == 0).then(|| self.close(w, round, RoundEnd::Refunded, false));
        self.done(w, tx, params, amount, record)
    }

    fn expire(&mut self, wallet_in_scope: impl Fn(usize) -> bool, opened_before: i64) -> Vec<MOut> {
        // The engine expires in (wallet id, round id) order; wallet ids follow
        // opening order, which the test makes equal to the model's indexes.
        let mut targets = vec![];
        for (w, wal) in self.wallets.iter().enumerate() {
            if wallet_in_scope(w) {
                targets.extend(
                    wal.open
                        .iter()
                        .filter(|(_, r)| r.opened_at <= opened_before)
                        .map(|(id, _)| (w, *id)),
                );
            }
        }
        targets
            .into_iter()
            .map(|(w, r)| Ok((0, 0, 0, Some(self.close(w, r, RoundEnd::Expired, true)))))
            .collect()
    }
}

// ---------------------------------------------------------------- the engine side

struct Subject {
    engine: Engine,
    clock: Arc<ManualClock>,
    wallets: Vec<WalletId>,
    /// The data directory of a durable subject (kept until the subject goes).
    _dir: Option<tempfile::TempDir>,
}

fn wallet_names(w: usize) -> (ChannelId, PlayerId) {
    (channel(CHANNELS[w / 2]), player(PLAYERS[w % 2]))
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

    fn receipt(r: Result<Receipt, EngineError>) -> MOut {
        match r {
            Ok(r) => Ok((
                r.amount.minor_units(),
                r.balance.available.minor_units(),
                r.balance.total.minor_units(),
                r.record.map(|id| id.0),
            )),
            Err(e) => Err(Box::leak(kind(&e).into_boxed_str())),
        }
    }

    fn expiries(r: Result<Vec<ledger::Expiry>, EngineError>) -> Vec<MOut> {
        r.expect("expiry call")
            .into_iter()
            .map(|e| {
                e.result
                    .map(|id| (0, 0, 0, Some(id.0)))
                    .map_err(|_| "expiry failed")
            })
            .collect()
    }

    fn apply(&mut self, op: &Op) -> Vec<MOut> {
        let e = &self.engine;
        let t = |n: u8| format!("t{n}");
        let r = |n: u8| format!("r{n}");
        match *op {
            Op::Deposit { w, tx, amount } => vec![Self::receipt(
                e.deposit(self.wallets[w], &deposit(&t(tx), amount)),
            )],
            Op::Prize { w, tx, amount } => {
                let req = PrizeRequest {
                    tx: common::tx(&t(tx)),
                    amount: Amount::new(amount),
                };
                vec![Self::receipt(e.prize(self.wallets[w], &req))]
            }
            Op::Withdraw { w, tx, amount } => {
                let amount = amount.map_or(WithdrawAmount::All, |a| {
                    WithdrawAmount::Exact(Amount::new(a))
                });
                let req = WithdrawRequest {
                    tx: common::tx(&t(tx)),
                    amount,
                };
                vec![Self::receipt(e.withdraw(self.wallets[w], &req))]
            }
            Op::Bet {
                w,
                tx,
                round,
                game,
                amount,
            } => {
                vec![Self::receipt(e.bet(
                    self.wallets[w],
                    &bet(&t(tx), &r(round), GAMES[game], amount),
                ))]
            }
            Op::Win {
                w,
                tx,
                round,
                game,
                amount,
                keep_open,
            } => {
                vec![Self::receipt(e.win(
                    self.wallets[w],
                    &win(&t(tx), &r(round), GAMES[game], amount, keep_open),
                ))]
            }
            Op::Refund { w, tx, bet_tx } => {
                let req = RefundRequest {
                    tx: common::tx(&t(tx)),
                    bet_tx: common::tx(&t(bet_tx)),
                };
                vec![Self::receipt(e.refund(self.wallets[w], &req))]
            }
            Op::EndRound { w, tx, round } => {
                let req = EndRoundRequest {
                    tx: common::tx(&t(tx)),
                    round: common::round(&r(round)),
                };
                vec![Self::receipt(e.end_round(self.wallets[w], &req))]
            }
            Op::ExpirePlayer { w } => {
                let (c, p) = wallet_names(w);
                Self::expiries(e.expire_player_rounds(&c, &p))
            }
            Op::ExpireChannel { channel } => {
                Self::expiries(e.expire_channel_rounds(&common::channel(CHANNELS[channel])))
            }
            Op::Advance { ms } => {
                self.clock.advance_ms(ms);
                vec![]
            }
            Op::ExpireStale => Self::expiries(e.expire_stale_rounds()),
            Op::Archive => {
                self.clock.advance_ms(ARCHIVE_STEP_MS);
                if let Some(pass) = e.archive_now(self.clock.now_ms()) {
                    pass.expect("archiver pass");
                }
                vec![]
            }
        }
    }
}

fn check_records(subject: &Subject, model: &Model) {
    let mut seen = 0;
    for (ci, c) in CHANNELS.iter().enumerate() {
        let q = ledger::records::RecordQuery {
            size: 1000,
            ..Default::default()
        };
        for rec in subject
            .engine
            .game_records(&channel(c), &q)
            .expect("records")
            .records
        {
            let m = model
                .records
                .get(&rec.id.0)
                .expect("engine record exists in the model");
            assert_eq!(m.wallet / 2, ci, "record {} channel", rec.id);
            assert_eq!(subject.wallets[m.wallet], rec.wallet);
            let got = (
                rec.total_bet.minor_units(),
                rec.total_win.minor_units(),
                rec.starting_credit.minor_units(),
                rec.ending_credit.minor_units(),
                rec.end,
            );
            assert_eq!(
                got,
                (m.total_bet, m.total_win, m.starting, m.ending, m.end),
                "record {}",
                rec.id
            );
            seen += 1;
        }
    }
    assert_eq!(seen, model.records.len());
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
        check_records(&subject, &model);
        check_paging(&subject, &model);
    }
    Ok(())
}

/// Pages of 3 in both directions list every record once, in order, whatever part
/// of them is in memory and whatever part in the history store.
fn check_paging(subject: &Subject, model: &Model) {
    use ledger::records::{PageDirection, RecordQuery};
    for (ci, c) in CHANNELS.iter().enumerate() {
        let mut want: Vec<u64> = model
            .records
            .iter()
            .filter(|(_, m)| m.wallet / 2 == ci)
            .map(|(id, _)| *id)
            .collect();
        want.sort_unstable();
        for direction in [PageDirection::Next, PageDirection::Prev] {
            let mut got = Vec::new();
            let mut cursor = 0;
            loop {
                let q = RecordQuery {
                    size: 3,
                    cursor,
                    direction,
                    ..Default::default()
                };
                let page = subject
                    .engine
                    .game_records(&channel(c), &q)
                    .expect("records");
                assert!(page.stopped_at.is_none(), "tiny history is never cut short");
                let ids: Vec<u64> = page.records.iter().map(|r| r.id.0).collect();
                assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
                match (direction, ids.first(), ids.last()) {
                    (_, None, _) | (_, _, None) => break,
                    (PageDirection::Next, _, Some(&last)) => {
                        got.extend(ids.iter().copied());
                        cursor = last;
                    }
                    (PageDirection::Prev, Some(&first), _) => {
                        got.extend(ids.iter().rev().copied());
                        cursor = first;
                    }
                }
            }
            if direction == PageDirection::Next {
                got.reverse();
            }
            assert_eq!(got, want, "{c} paged {direction:?}");
        }
    }
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
    let t = |n: u8| format!("t{n}");
    let r = |n: u8| format!("r{n}");
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
