//! The history store at scale (bounded-memory issue): fills a store with N archived
//! rounds (two transaction outcomes, a closed round and a game record each, spread
//! over W players), then measures what a caller pays to reach them: replaying a
//! transaction id that is only on disk, a page of 10 of a player's records, and
//! reopening the store.
//!
//! ```sh
//! cargo run --release --example history_scale -- 100000000 1000000 [DIR]
//! ```
//!
//! The store is written through `HistoryStore::write`, as the archiver writes it, in
//! batches of 10,000 rounds; lookups go through the `Archive` trait the ledger reads
//! it with. DIR (default: a temporary directory) is kept when given, to reopen.

use pitboss::clock::SystemClock;
use pitboss::history::{Faults, HistoryStore, Retention};
use pitboss::journal::Lsn;
use pitboss::ledger::archive::{Archive, ArchiveItem};
use pitboss::ledger::compact::{RecordRef, StoredBreakdown};
use pitboss::ledger::records::{GameRecord, RecordQuery};
use pitboss::ledger::round::{ClosedRound, RoundEnd};
use pitboss::ledger::types::{Balance, GameRef, OpKind, PlayMeta, WinBreakdown};
use pitboss::ledger::wallet::{StoredReceipt, TxEntry, TxOutcome, TxParams};
use pitboss::*;
use std::sync::Arc;
use std::time::Instant;

const BATCH: u64 = 10_000;
const LOOKUPS: usize = 20_000;

fn player_of(round: u64, players: u64) -> u64 {
    // A multiplicative spread: neighbouring rounds belong to different players.
    round.wrapping_mul(0x9E37_79B9_7F4A_7C15) % players
}

fn items(round: u64, players: u64, game: &GameRef) -> Vec<ArchiveItem> {
    let p = player_of(round, players);
    let wallet = WalletId(p + 1);
    let (bet, win, rid) = (
        format!("b{round}"),
        format!("w{round}"),
        format!("r{round}"),
    );
    let receipt = |kind, amount: i64| {
        TxOutcome::Applied(StoredReceipt {
            kind,
            amount: Amount::new(amount),
            balance: Balance {
                available: Amount::new(1_000_000 + amount),
                total: Amount::new(1_000_000 + amount),
            },
            record: RecordRef::new(None),
        })
    };
    let round_id = RoundId::new(&rid).expect("round");
    vec![
        ArchiveItem::Transaction {
            wallet,
            tx: TxId::new(&bet).expect("tx"),
            entry: TxEntry {
                params: TxParams::Bet {
                    round: round_id.clone(),
                    game: game.id.clone(),
                    amount: Amount::new(100),
                },
                outcome: receipt(OpKind::Bet, 100),
            },
        },
        ArchiveItem::Transaction {
            wallet,
            tx: TxId::new(&win).expect("tx"),
            entry: TxEntry {
                params: TxParams::Win {
                    round: round_id.clone(),
                    game: game.id.clone(),
                    amount: Amount::new(250),
                    breakdown: StoredBreakdown::new(&WinBreakdown::default()),
                    keep_open: false,
                },
                outcome: receipt(OpKind::Win, 250),
            },
        },
        ArchiveItem::ClosedRound {
            wallet,
            round: round_id.clone(),
            closed: ClosedRound {
                end: RoundEnd::Settled,
                record: RecordId(round + 1),
            },
        },
        ArchiveItem::Record(Box::new(GameRecord {
            id: RecordId(round + 1),
            channel: ChannelId::new("scale").expect("channel"),
            player: PlayerId::new(&format!("p{p}")).expect("player"),
            currency: Currency::new("CNY").expect("currency"),
            wallet,
            round: round_id,
            game: game.clone(),
            transaction_id: TxId::new(&bet).expect("tx"),
            starting_credit: Amount::new(1_000_000),
            ending_credit: Amount::new(1_000_150),
            base_win: Amount::new(250),
            free_win: Amount::ZERO,
            bonus_win: Amount::ZERO,
            jackpot_win: Amount::ZERO,
            total_win: Amount::new(250),
            total_bet: Amount::new(100),
            meta: PlayMeta::default(),
            play_time_secs: 1_700_000_000 + round as i64 / 1000,
            created_at_ms: 1_700_000_000_000 + round as i64,
            end: RoundEnd::Settled,
        })),
    ]
}

fn quantiles(mut micros: Vec<f64>) -> String {
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q) as usize];
    format!(
        "p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: u64 = args
        .first()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let players: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = args
        .get(2)
        .map_or(temp.path().to_path_buf(), std::path::PathBuf::from);
    let open = || {
        let t = Instant::now();
        let store = HistoryStore::open(
            &dir,
            Arc::new(SystemClock),
            Retention::default(),
            Faults::default(),
        )
        .expect("open");
        (store, t.elapsed())
    };
    let (store, _) = open();
    let game = GameRef::bare(GameId::new("slot_alice").expect("game"));
    let start = store.archived().0.min(rounds);
    let filled = Instant::now();
    let mut next = start;
    while next < rounds {
        let end = (next + BATCH).min(rounds);
        let batch: Vec<ArchiveItem> = (next..end).flat_map(|r| items(r, players, &game)).collect();
        store.write(batch, Lsn(end)).expect("write");
        next = end;
        if next % 5_000_000 == 0 {
            let secs = filled.elapsed().as_secs_f64();
            println!(
                "{next} rounds, {:.0} rounds/s, {:.1} GiB on disk",
                (next - start) as f64 / secs,
                store.disk_bytes() as f64 / (1u64 << 30) as f64
            );
        }
    }
    let secs = filled.elapsed().as_secs_f64().max(1e-9);
    println!(
        "filled: {rounds} rounds over {players} players ({} new at {:.0} rounds/s), {:.1} bytes/round on disk",
        rounds - start,
        (rounds - start) as f64 / secs,
        store.disk_bytes() as f64 / rounds.max(1) as f64
    );
    drop(store);
    let (store, reopen) = open();
    println!("reopen: {:.1} ms", reopen.as_secs_f64() * 1e3);
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut random = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let lookups: Vec<f64> = (0..LOOKUPS)
        .map(|_| {
            let r = random(rounds);
            let wallet = WalletId(player_of(r, players) + 1);
            let tx = TxId::new(&format!("b{r}")).expect("tx");
            let t = Instant::now();
            let found = store.transaction(wallet, &tx).expect("lookup");
            let us = t.elapsed().as_secs_f64() * 1e6;
            assert!(found.is_some(), "round {r} archived");
            us
        })
        .collect();
    println!(
        "replay of an archived transaction id: {}",
        quantiles(lookups)
    );
    let misses: Vec<f64> = (0..LOOKUPS)
        .map(|_| {
            let r = random(rounds);
            let wallet = WalletId(player_of(r, players) + 1);
            let tx = TxId::new(&format!("new{r}")).expect("tx");
            let t = Instant::now();
            let found = store.transaction(wallet, &tx).expect("lookup");
            assert!(found.is_none());
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    println!(
        "a new transaction id (not in the store): {}",
        quantiles(misses)
    );
    let channel = ChannelId::new("scale").expect("channel");
    let pages: Vec<f64> = (0..LOOKUPS)
        .map(|_| {
            let p = random(players);
            let q = RecordQuery {
                player: Some(PlayerId::new(&format!("p{p}")).expect("player")),
                size: 10,
                ..RecordQuery::default()
            };
            let t = Instant::now();
            let page = store.records(&channel, &q, 20_000).expect("page");
            let us = t.elapsed().as_secs_f64() * 1e6;
            assert!(!page.records.is_empty() || rounds < players);
            us
        })
        .collect();
    println!("a page of 10 of a player's records: {}", quantiles(pages));
}
