//! A wallet: its balances, its flow counters, its transaction table and its rounds.
//!
//! A wallet lives in exactly one shard, and everything about it (idempotency table,
//! open and closed rounds) lives with it, so a bet takes one lock.
//!
//! Invariants (asserted in debug builds after every change, see [`Wallet::check`]):
//! - `available >= 0`, `held >= 0`, and `available + held` fits in an `i64`;
//! - `held` equals the sum of the live bets of the open rounds;
//! - conservation: `available = deposits − withdrawals − bets + wins + refunds + prizes`.

use super::compact::{RecordRef, StoredBreakdown};
use super::rounds::Rounds;
use super::table::IdTable;
use super::types::{Balance, OpKind, Receipt, WithdrawAmount};
use crate::ids::{GameId, RoundId, TxId, WalletId, WalletKey};
use crate::money::Amount;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The ledger's hash map: a fast hasher, seeded per process.
pub type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Most rounds one wallet may have open at once.
pub const MAX_OPEN_ROUNDS: usize = 1024;

/// Lifetime sums of every kind of money movement. Kept as `i128` so that the sums
/// themselves never overflow; they exist to check conservation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flows {
    pub deposits: i128,
    pub withdrawals: i128,
    pub bets: i128,
    pub wins: i128,
    pub refunds: i128,
    pub prizes: i128,
}

impl Flows {
    /// What conservation says the available balance must be.
    pub fn expected_available(&self) -> i128 {
        self.deposits - self.withdrawals - self.bets + self.wins + self.refunds + self.prizes
    }
}

/// The scalar state of a wallet, carried whole in every effect (replay sets it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletState {
    pub available: Amount,
    pub held: Amount,
    pub flows: Flows,
}

impl WalletState {
    /// The balance as callers see it. Exact: the planners keep `available + held`
    /// within `i64` (a credit that would break that is refused as an overflow).
    pub fn balance(&self) -> Balance {
        let total = self.available.checked_add(self.held);
        debug_assert!(total.is_some(), "wallet total overflows i64");
        Balance {
            available: self.available,
            total: total.unwrap_or(Amount::MAX),
        }
    }
}

/// The parameters of a transaction, kept to tell a replay from a conflict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxParams {
    Deposit {
        amount: Amount,
    },
    Withdraw {
        amount: WithdrawAmount,
    },
    Bet {
        round: RoundId,
        game: GameId,
        amount: Amount,
    },
    Win {
        round: RoundId,
        game: GameId,
        amount: Amount,
        breakdown: StoredBreakdown,
        keep_open: bool,
    },
    Refund {
        bet_tx: TxId,
    },
    Prize {
        amount: Amount,
    },
    EndRound {
        round: RoundId,
    },
    /// A refund named this id before any bet had it; a later bet with it is refused.
    Tombstone {
        refund_tx: TxId,
    },
}

/// The stored outcome of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxOutcome {
    Applied(StoredReceipt),
    /// The refund named an unknown bet (it left a tombstone).
    UnknownBet,
    /// This id is a tombstone, not a transaction of its own.
    Tombstone,
}

/// A receipt without the parts implied by its key (wallet, tx).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReceipt {
    pub kind: OpKind,
    pub amount: Amount,
    pub balance: Balance,
    pub record: RecordRef,
}

impl StoredReceipt {
    pub fn to_receipt(self, wallet: WalletId, tx: TxId, replayed: bool) -> Receipt {
        Receipt {
            wallet,
            tx,
            kind: self.kind,
            amount: self.amount,
            balance: self.balance,
            record: self.record.get(),
            replayed,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxEntry {
    pub params: TxParams,
    pub outcome: TxOutcome,
}

/// One wallet and everything that belongs to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    pub id: WalletId,
    pub key: WalletKey,
    pub state: WalletState,
    pub txs: IdTable<TxId, TxEntry>,
    /// Every round seen: open (2), incomplete (3, 4) or closed.
    pub rounds: Rounds,
}

impl Wallet {
    pub fn new(id: WalletId, key: WalletKey) -> Wallet {
        Wallet {
            id,
            key,
            state: WalletState::default(),
            txs: IdTable::default(),
            rounds: Rounds::default(),
        }
    }

    pub fn balance(&self) -> Balance {
        self.state.balance()
    }

    /// Asserts the wallet's invariants. O(open rounds); called after every change
    /// in debug builds and by the property tests.
    pub fn check(&self) {
        let s = &self.state;
        assert!(
            s.available.minor_units() >= 0,
            "wallet {} available < 0",
            self.id
        );
        assert!(s.held.minor_units() >= 0, "wallet {} held < 0", self.id);
        assert!(
            s.available.checked_add(s.held).is_some(),
            "wallet {} total overflows",
            self.id
        );
        let held: i128 = self
            .rounds
            .open_rounds()
            .map(|r| i128::from(r.live_bets().minor_units()))
            .sum();
        assert_eq!(
            i128::from(s.held.minor_units()),
            held,
            "wallet {} held",
            self.id
        );
        assert_eq!(
            i128::from(s.available.minor_units()),
            s.flows.expected_available(),
            "wallet {} conservation",
            self.id
        );
        assert!(
            self.rounds.open_ids_consistent(),
            "wallet {} open-round list",
            self.id
        );
    }
}
