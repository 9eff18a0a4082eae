//! Parallel replay: per-wallet order across lanes, and which error a bad log reports.
//! The records are written straight to the log, so that the tests control every LSN.

use super::{lane_of, replay_on};
use crate::engine::domains::Domains;
use crate::engine::log::EffectRef;
use crate::engine::EngineLog;
use crate::engine::{Engine, EngineConfig};
use crate::ids::{ChannelId, Currency, PlayerId, WalletId, WalletKey};
use crate::journal::Lsn;
use crate::ledger::effect::{LedgerEffect, WalletChange};
use crate::ledger::wallet::{Flows, WalletState};
use crate::money::Amount;
use crate::storage::{self, StdFs};
use std::path::Path;
use std::sync::Arc;

fn encode(effect: &LedgerEffect) -> Vec<u8> {
    postcard::to_stdvec(&EffectRef::Ledger(effect)).expect("encode")
}

fn opened(w: u64) -> Vec<u8> {
    let key = WalletKey {
        channel: ChannelId::new("ch").expect("channel"),
        player: PlayerId::new(&format!("p{w}")).expect("player"),
        currency: Currency::new("CNY").expect("currency"),
    };
    encode(&LedgerEffect::WalletOpened {
        wallet: WalletId(w),
        key,
    })
}

/// A change that leaves wallet `w` holding `available`, all of it deposited.
fn balance_set(w: u64, available: i64) -> Vec<u8> {
    encode(&LedgerEffect::Wallet(WalletChange {
        wallet: WalletId(w),
        state: WalletState {
            available: Amount::new(available),
            held: Amount::ZERO,
            flows: Flows {
                deposits: i128::from(available),
                ..Flows::default()
            },
        },
        tx: None,
        tombstone: None,
        round: None,
        record: None,
    }))
}

/// A ledger record of wallet `w` that is routed by its wallet but does not decode.
fn undecodable(w: u64) -> Vec<u8> {
    let mut bytes = balance_set(w, 1);
    bytes.truncate(bytes.len() / 2);
    bytes
}

fn write_log(dir: &Path, records: &[Vec<u8>]) {
    let (wal, _) = storage::open(dir, storage::Config::default(), Arc::new(StdFs)).expect("wal");
    let mut last = Lsn(0);
    for r in records {
        last = wal.append(r).expect("append");
    }
    wal.wait_durable(last).expect("durable");
    wal.close().expect("close");
}

fn open_error(dir: &Path) -> String {
    match Engine::open(dir, EngineConfig::default()) {
        Ok(_) => panic!("a bad log opened"),
        Err(e) => e.to_string(),
    }
}

const WALLETS: u64 = 64;

/// Opens every wallet, then `rounds` changes per wallet, interleaved across wallets.
fn busy_log(rounds: i64) -> Vec<Vec<u8>> {
    let mut log: Vec<Vec<u8>> = (1..=WALLETS).map(opened).collect();
    for i in 1..=rounds {
        for w in 1..=WALLETS {
            log.push(balance_set(w, i * 1000 + w as i64));
        }
    }
    log
}

#[test]
fn each_wallet_ends_in_the_state_of_its_last_logged_effect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rounds = 40;
    let log = busy_log(rounds);
    write_log(dir.path(), &log);
    for reopened in 0..3u64 {
        let engine = Engine::open(dir.path(), EngineConfig::default()).expect("open");
        // The first pass logs one more wallet.
        let replayed = log.len() as u64 + reopened.min(1);
        assert_eq!(engine.recovery_report().replayed, replayed);
        for w in 1..=WALLETS {
            let balance = engine.balance(WalletId(w)).expect("balance");
            assert_eq!(balance.available.minor_units(), rounds * 1000 + w as i64);
        }
        // New wallets continue after the replayed ids (and the new one is replayed).
        let key = (
            ChannelId::new("ch").expect("c"),
            PlayerId::new("new").expect("p"),
            Currency::new("CNY").expect("cur"),
        );
        let fresh = engine.open_wallet(&key.0, &key.1, &key.2).expect("wallet");
        assert_eq!(fresh, WalletId(WALLETS + 1));
    }
}

/// Two wallets replayed by different lanes (when there are two or more).
fn wallets_in_two_lanes() -> (u64, u64) {
    let a = 1;
    let b = (2..=WALLETS)
        .find(|&w| lane_of(WalletId(w), 2) != lane_of(WalletId(a), 2))
        .expect("wallets in both lanes");
    (a, b)
}

#[test]
fn the_first_bad_record_in_log_order_is_reported_whichever_lane_has_it() {
    let (a, b) = wallets_in_two_lanes();
    for (first, second) in [(a, b), (b, a)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = busy_log(20);
        let at = log.len() / 2;
        // LSNs are 1-based: the record at index i has LSN i + 1.
        log.insert(at, undecodable(first));
        log.insert(at + 7, undecodable(second));
        write_log(dir.path(), &log);
        // Which lane gets there first varies from run to run.
        for _ in 0..20 {
            let e = open_error(dir.path());
            let want = format!("log record {} does not decode", at + 1);
            assert!(e.contains(&want), "{e} (wanted {want})");
        }
    }
}

#[test]
fn errors_of_other_domains_and_of_applying_are_ordered_with_the_lanes() {
    let (a, _) = wallets_in_two_lanes();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = busy_log(20);
    let at = log.len() / 3;
    // A catalog record (decoded on the reading thread) that does not decode…
    log.insert(at, vec![2, 0xff, 0xff, 0xff]);
    // …before a change to a wallet that was never opened, and an undecodable record.
    log.insert(at + 3, balance_set(WALLETS + 50, 5));
    log.insert(at + 5, undecodable(a));
    write_log(dir.path(), &log);
    let e = open_error(dir.path());
    assert!(
        e.contains(&format!("log record {} does not decode", at + 1)),
        "{e}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = busy_log(20);
    log.insert(at, balance_set(WALLETS + 50, 5));
    log.insert(at + 3, vec![2, 0xff, 0xff, 0xff]);
    write_log(dir.path(), &log);
    let e = open_error(dir.path());
    let want = format!("log record {}: a change to wallet {}", at + 1, WALLETS + 50);
    assert!(e.contains(&want), "{e} (wanted {want})");
}

#[test]
fn any_number_of_lanes_replays_the_same_state_and_the_same_first_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rounds = 10;
    let mut log = busy_log(rounds);
    write_log(dir.path(), &log);
    let bad = tempfile::tempdir().expect("tempdir");
    let at = log.len() / 2;
    log.insert(at, undecodable(3));
    log.insert(at + 2, undecodable(4));
    write_log(bad.path(), &log);
    for lanes in [0, 1, 2, 3, 5] {
        let config = EngineConfig::default();
        let domains = Domains::new(
            &config,
            &(Arc::new(crate::clock::SystemClock) as Arc<dyn crate::clock::Clock>),
            &Arc::new(EngineLog::memory()),
        );
        let (_wal, mut rec) =
            storage::open(dir.path(), config.wal.clone(), Arc::new(StdFs)).expect("wal");
        let n = replay_on(&domains, &mut rec.records, lanes).expect("replay");
        assert_eq!(n, log.len() as u64 - 2, "{lanes} lanes");
        for w in 1..=WALLETS {
            let balance = domains.ledger.balance(WalletId(w)).expect("balance");
            assert_eq!(balance.available.minor_units(), rounds * 1000 + w as i64);
        }
        let domains = Domains::new(
            &config,
            &(Arc::new(crate::clock::SystemClock) as Arc<dyn crate::clock::Clock>),
            &Arc::new(EngineLog::memory()),
        );
        let (_wal, mut rec) =
            storage::open(bad.path(), config.wal.clone(), Arc::new(StdFs)).expect("wal");
        let e = replay_on(&domains, &mut rec.records, lanes).expect_err("a bad log replays");
        let want = format!("log record {} does not decode", at + 1);
        assert!(e.to_string().contains(&want), "{lanes} lanes: {e}");
    }
}

/// A bet on round `round` of wallet `w`, which holds `available` afterwards: the leg
/// alone, as a bet on a round that is already open logs it.
fn bet_on_open_round(w: u64, round: &str, available: i64) -> Vec<u8> {
    use crate::ids::{RoundId, TxId};
    use crate::ledger::effect::RoundChange;
    use crate::ledger::round::BetLeg;
    encode(&LedgerEffect::Wallet(WalletChange {
        wallet: WalletId(w),
        state: WalletState {
            available: Amount::new(available),
            held: Amount::new(1),
            flows: Flows::default(),
        },
        tx: None,
        tombstone: None,
        round: Some(RoundChange::AddBet {
            round: RoundId::new(round).expect("round"),
            leg: BetLeg {
                tx: TxId::new("bet-2").expect("tx"),
                amount: Amount::new(1),
                refunded: false,
            },
        }),
        record: None,
    }))
}

#[test]
fn a_bet_on_a_round_the_wallet_never_opened_stops_start_up_and_names_the_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = busy_log(5);
    let at = log.len();
    log.push(bet_on_open_round(3, "no-such-round", 10));
    log.extend(busy_log(1).into_iter().skip(WALLETS as usize));
    write_log(dir.path(), &log);
    let e = open_error(dir.path());
    let want = format!(
        "log record {}: a bet of wallet 3 on round no-such-round, which was never opened",
        at + 1
    );
    assert!(e.contains(&want), "{e} (wanted {want})");
}
