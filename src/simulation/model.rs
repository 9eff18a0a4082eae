//! The reference model of the ledger: a small sequential implementation of the
//! wallet rules (README.md, ARCHITECTURE.md "Invariants"), written independently of
//! the engine's planners, and the same operations made on a real [`Engine`].
//!
//! `tests/ledger_model.rs` drives it with proptest; the simulator (`super`) drives
//! it from a seed, with crashes and faults in between. An operation is an [`Op`] over
//! four wallets (two channels × two players, one currency), transaction ids `t0`…,
//! rounds `r0`…, two games: small pools, so that ids, rounds and bets collide often.
//! [`Model::apply`] and [`apply_to_engine`] return the same [`MOut`]s when the
//! engine is right.
//!
//! The model's `expect`s state its own invariants (a round it closes is open), and
//! the ids it builds are valid by construction.
#![allow(clippy::expect_used)]

use crate::clock::{Clock, ManualClock};
use crate::engine::{Engine, EngineError};
use crate::ids::{ChannelId, Currency, GameId, PlayerId, RoundId, TxId, WalletId};
use crate::ledger::records::{PageDirection, RecordQuery};
use crate::ledger::round::RoundEnd;
use crate::ledger::types::*;
use crate::ledger::Expiry;
use crate::money::Amount;
use std::collections::{BTreeMap, HashMap};

pub const CHANNELS: [&str; 2] = ["chA", "chB"];
pub const PLAYERS: [&str; 2] = ["p0", "p1"];
pub const GAMES: [&str; 2] = ["g0", "g1"];
pub const TIMEOUT_MS: i64 = 10_000;

#[derive(Clone, Debug)]
pub enum Op {
    Deposit {
        w: usize,
        tx: u32,
        amount: i64,
    },
    Withdraw {
        w: usize,
        tx: u32,
        amount: Option<i64>,
    },
    Bet {
        w: usize,
        tx: u32,
        round: u32,
        game: usize,
        amount: i64,
    },
    Win {
        w: usize,
        tx: u32,
        round: u32,
        game: usize,
        amount: i64,
        keep_open: bool,
    },
    Refund {
        w: usize,
        tx: u32,
        bet_tx: u32,
    },
    Prize {
        w: usize,
        tx: u32,
        amount: i64,
    },
    EndRound {
        w: usize,
        tx: u32,
        round: u32,
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

pub const ARCHIVE_STEP_MS: i64 = 2;

// ---------------------------------------------------------------- the model

#[derive(Clone, Debug, PartialEq)]
pub enum MTx {
    Deposit(i64),
    Withdraw(Option<i64>),
    Bet {
        round: u32,
        game: usize,
        amount: i64,
    },
    Win {
        round: u32,
        game: usize,
        amount: i64,
        keep_open: bool,
    },
    Refund {
        bet_tx: u32,
    },
    Prize(i64),
    EndRound(u32),
    Tombstone,
}

#[derive(Clone, Debug)]
pub struct MRound {
    pub game: usize,
    pub opened_at: i64,
    pub starting: i64,
    pub bets: Vec<(u32, i64, bool)>,
    pub wins: i64,
    pub win_count: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MRecord {
    pub wallet: usize,
    pub game: usize,
    /// The model's time when the round closed (the record's `created_at_ms`).
    pub closed_at: i64,
    pub total_bet: i64,
    pub total_win: i64,
    pub starting: i64,
    pub ending: i64,
    pub end: RoundEnd,
}

/// A stored outcome: Ok((amount, available, total, record)) or an error kind.
pub type MOut = Result<(i64, i64, i64, Option<u64>), &'static str>;

#[derive(Default, Clone, Debug)]
pub struct MWallet {
    pub available: i64,
    pub txs: HashMap<u32, (MTx, MOut)>,
    pub open: BTreeMap<u32, MRound>,
    pub closed: HashMap<u32, u64>,
}

impl MWallet {
    pub fn held(&self) -> i64 {
        self.open.values().map(live).sum()
    }
}

pub fn live(r: &MRound) -> i64 {
    r.bets.iter().filter(|b| !b.2).map(|b| b.1).sum()
}

#[derive(Default, Clone)]
pub struct Model {
    pub wallets: [MWallet; 4],
    pub records: BTreeMap<u64, MRecord>,
    pub next_record: u64,
    pub now: i64,
}

impl Model {
    fn close(&mut self, w: usize, round: u32, end: RoundEnd, refund_live: bool) -> u64 {
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
            game: r.game,
            closed_at: self.now,
            total_bet,
            total_win: r.wins,
            starting: r.starting,
            ending: wal.available,
            end,
        };
        self.records.insert(id, rec);
        id
    }

    fn done(&mut self, w: usize, tx: u32, params: MTx, amount: i64, record: Option<u64>) -> MOut {
        let wal = &mut self.wallets[w];
        let out: MOut = Ok((amount, wal.available, wal.available + wal.held(), record));
        wal.txs.insert(tx, (params, out));
        out
    }

    /// Replay, conflict, or `None` for a new transaction id.
    fn seen(&self, w: usize, tx: u32, params: &MTx) -> Option<MOut> {
        let (p, out) = self.wallets[w].txs.get(&tx)?;
        Some(match (p, out) {
            (p, out) if p == params => *out,
            (MTx::Tombstone, _) => Err("BetCancelled"),
            _ => Err("Conflict"),
        })
    }

    pub fn apply(&mut self, op: &Op) -> Vec<MOut> {
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

    fn not_open(&self, w: usize, round: u32) -> Option<&'static str> {
        let wal = &self.wallets[w];
        if wal.open.contains_key(&round) {
            None
        } else if wal.closed.contains_key(&round) {
            Some("RoundClosed")
        } else {
            Some("RoundNotFound")
        }
    }

    fn bet(&mut self, w: usize, tx: u32, round: u32, game: usize, amount: i64) -> MOut {
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
        tx: u32,
        round: u32,
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

    fn refund(&mut self, w: usize, tx: u32, bet_tx: u32) -> MOut {
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
        // The engine expires in (wallet id, round id) order, round ids compared as
        // the strings `r<n>` ("r12" before "r7"); wallet ids follow opening order,
        // which `open_wallets` makes equal to the model's indexes.
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
        targets.sort_by_key(|&(w, r)| (w, format!("r{r}")));
        targets
            .into_iter()
            .map(|(w, r)| Ok((0, 0, 0, Some(self.close(w, r, RoundEnd::Expired, true)))))
            .collect()
    }
}

// ---------------------------------------------------------------- the engine side

/// The channel and player of model wallet `w`.
pub fn wallet_names(w: usize) -> (ChannelId, PlayerId) {
    (
        ChannelId::new(CHANNELS[w / 2]).expect("a valid channel"),
        PlayerId::new(PLAYERS[w % 2]).expect("a valid player"),
    )
}

/// The one currency of the model's wallets.
pub fn wallet_currency() -> Currency {
    Currency::new("CNY").expect("a valid currency")
}

/// Opens the model's four wallets (or finds them, after a restart), in order: the
/// engine gives wallet ids in opening order, which the model's expiries rely on.
pub fn open_wallets(engine: &Engine) -> Result<Vec<WalletId>, EngineError> {
    (0..4)
        .map(|w| {
            let (c, p) = wallet_names(w);
            engine.open_wallet(&c, &p, &wallet_currency())
        })
        .collect()
}

/// Transaction id `n` (`t<n>`).
pub fn tx_id(n: u32) -> TxId {
    TxId::new(&format!("t{n}")).expect("a valid transaction id")
}

fn round(n: u32) -> RoundId {
    RoundId::new(&format!("r{n}")).expect("a valid round id")
}

fn game(i: usize) -> GameId {
    GameId::new(GAMES[i]).expect("a valid game id")
}

/// A receipt as the model writes outcomes.
pub fn receipt_outcome(r: Result<Receipt, EngineError>) -> MOut {
    match r {
        Ok(r) => Ok((
            r.amount.minor_units(),
            r.balance.available.minor_units(),
            r.balance.total.minor_units(),
            r.record.map(|id| id.0),
        )),
        Err(e) => Err(error_kind(&e)),
    }
}

fn expiry_outcomes(r: Result<Vec<Expiry>, EngineError>) -> Vec<MOut> {
    match r {
        Ok(expiries) => expiries
            .into_iter()
            .map(|e| {
                e.result
                    .map(|id| (0, 0, 0, Some(id.0)))
                    .map_err(|_| "expiry failed")
            })
            .collect(),
        Err(e) => vec![Err(error_kind(&e))],
    }
}

/// The variant name of an error (`InsufficientBalance`, `Journal`, `Storage`…), for
/// comparing outcomes without their details. Names are interned: a long simulation
/// sees the same few over and over.
pub fn error_kind(e: &EngineError) -> &'static str {
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<std::collections::HashSet<&'static str>>> = OnceLock::new();
    let debug = format!("{e:?}");
    // `Ledger(InsufficientBalance…)` → `InsufficientBalance`: the domain's variant.
    let mut names = debug.split(|c: char| "( {)".contains(c));
    let outer = names.next().unwrap_or("");
    let wrapper = matches!(
        outer,
        "Ledger" | "Tournament" | "Catalog" | "Identity" | "Seamless" | "Webhook"
    );
    let name = match names.next() {
        Some(inner) if wrapper && !inner.is_empty() => inner,
        _ => outer,
    };
    let mut interned = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match interned.get(name) {
        Some(n) => n,
        None => {
            let n: &'static str = Box::leak(name.to_string().into_boxed_str());
            interned.insert(n);
            n
        }
    }
}

/// Makes `op` on the engine, as [`Model::apply`] makes it on the model. `Advance`
/// and `Archive` move `clock`; `Archive` runs an archiver pass.
pub fn apply_to_engine(
    engine: &Engine,
    clock: &ManualClock,
    wallets: &[WalletId],
    op: &Op,
) -> Vec<MOut> {
    let e = engine;
    match *op {
        Op::Deposit { w, tx: t, amount } => {
            let req = DepositRequest {
                tx: tx_id(t),
                amount: Amount::new(amount),
            };
            vec![receipt_outcome(e.deposit(wallets[w], &req))]
        }
        Op::Prize { w, tx: t, amount } => {
            let req = PrizeRequest {
                tx: tx_id(t),
                amount: Amount::new(amount),
            };
            vec![receipt_outcome(e.prize(wallets[w], &req))]
        }
        Op::Withdraw { w, tx: t, amount } => {
            let amount = amount.map_or(WithdrawAmount::All, |a| {
                WithdrawAmount::Exact(Amount::new(a))
            });
            let req = WithdrawRequest {
                tx: tx_id(t),
                amount,
            };
            vec![receipt_outcome(e.withdraw(wallets[w], &req))]
        }
        Op::Bet {
            w,
            tx: t,
            round: r,
            game: g,
            amount,
        } => {
            let req = BetRequest {
                tx: tx_id(t),
                round: round(r),
                game: GameRef::bare(game(g)),
                amount: Amount::new(amount),
                meta: PlayMeta::default(),
            };
            vec![receipt_outcome(e.bet(wallets[w], &req))]
        }
        Op::Win {
            w,
            tx: t,
            round: r,
            game: g,
            amount,
            keep_open,
        } => {
            let req = WinRequest {
                tx: tx_id(t),
                round: round(r),
                game: game(g),
                amount: Amount::new(amount),
                breakdown: None,
                keep_open,
            };
            vec![receipt_outcome(e.win(wallets[w], &req))]
        }
        Op::Refund { w, tx: t, bet_tx } => {
            let req = RefundRequest {
                tx: tx_id(t),
                bet_tx: tx_id(bet_tx),
            };
            vec![receipt_outcome(e.refund(wallets[w], &req))]
        }
        Op::EndRound { w, tx: t, round: r } => {
            let req = EndRoundRequest {
                tx: tx_id(t),
                round: round(r),
            };
            vec![receipt_outcome(e.end_round(wallets[w], &req))]
        }
        Op::ExpirePlayer { w } => {
            let (c, p) = wallet_names(w);
            expiry_outcomes(e.expire_player_rounds(&c, &p))
        }
        Op::ExpireChannel { channel } => {
            let c = ChannelId::new(CHANNELS[channel]).expect("a valid channel");
            expiry_outcomes(e.expire_channel_rounds(&c))
        }
        Op::Advance { ms } => {
            clock.advance_ms(ms);
            vec![]
        }
        Op::ExpireStale => expiry_outcomes(e.expire_stale_rounds()),
        Op::Archive => {
            clock.advance_ms(ARCHIVE_STEP_MS);
            match e.archive_now(clock.now_ms()) {
                Some(Err(err)) => vec![Err(error_kind(&err))],
                _ => vec![],
            }
        }
    }
}

/// Every wallet's available and total balance equal the model's.
pub fn check_balances(engine: &Engine, wallets: &[WalletId], model: &Model) -> Result<(), String> {
    for (w, id) in wallets.iter().enumerate() {
        let b = engine
            .balance(*id)
            .map_err(|e| format!("balance of wallet {w}: {e}"))?;
        let mw = &model.wallets[w];
        let want = (mw.available, mw.available + mw.held());
        let got = (b.available.minor_units(), b.total.minor_units());
        if got != want {
            return Err(format!(
                "wallet {w}: (available, total) {got:?}, the model says {want:?}"
            ));
        }
    }
    Ok(())
}

/// Every game record the engine lists is the model's, and it lists them all.
pub fn check_records(engine: &Engine, wallets: &[WalletId], model: &Model) -> Result<(), String> {
    let mut seen = 0;
    for (ci, c) in CHANNELS.iter().enumerate() {
        let q = RecordQuery {
            size: 1000,
            ..Default::default()
        };
        let channel = ChannelId::new(c).expect("a valid channel");
        let page = engine
            .game_records(&channel, &q)
            .map_err(|e| format!("records of {c}: {e}"))?;
        for rec in page.records {
            let m = model
                .records
                .get(&rec.id.0)
                .ok_or_else(|| format!("record {} is not in the model", rec.id))?;
            if m.wallet / 2 != ci || wallets[m.wallet] != rec.wallet {
                return Err(format!("record {} is listed for the wrong wallet", rec.id));
            }
            let got = (
                rec.total_bet.minor_units(),
                rec.total_win.minor_units(),
                rec.starting_credit.minor_units(),
                rec.ending_credit.minor_units(),
                rec.end,
                rec.created_at_ms,
                rec.game.id.as_str() == GAMES[m.game],
            );
            let want = (
                m.total_bet,
                m.total_win,
                m.starting,
                m.ending,
                m.end,
                m.closed_at,
                true,
            );
            if got != want {
                return Err(format!(
                    "record {}: {got:?}, the model says {want:?}",
                    rec.id
                ));
            }
            seen += 1;
        }
    }
    if seen != model.records.len() {
        return Err(format!(
            "{seen} records listed, the model has {}",
            model.records.len()
        ));
    }
    Ok(())
}

/// Pages of 3 in both directions list every record once, in order, whatever part
/// of them is in memory and whatever part in the history store.
pub fn check_paging(engine: &Engine, model: &Model) -> Result<(), String> {
    for (ci, c) in CHANNELS.iter().enumerate() {
        let channel = ChannelId::new(c).expect("a valid channel");
        let want: Vec<u64> = model
            .records
            .iter()
            .filter(|(_, m)| m.wallet / 2 == ci)
            .map(|(id, _)| *id)
            .collect();
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
                let page = engine
                    .game_records(&channel, &q)
                    .map_err(|e| format!("records of {c}: {e}"))?;
                if page.stopped_at.is_some() {
                    return Err(format!("{c}: a tiny history's page was cut short"));
                }
                let ids: Vec<u64> = page.records.iter().map(|r| r.id.0).collect();
                if !ids.windows(2).all(|w| w[0] > w[1]) {
                    return Err(format!("{c}: a page is not newest first: {ids:?}"));
                }
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
            if got != want {
                return Err(format!(
                    "{c} paged {direction:?}: {got:?}, the model has {want:?}"
                ));
            }
        }
    }
    Ok(())
}
