//! Ledger effects: what a mutation changed, as values. The one way state changes.
//!
//! A live operation *plans* an effect from the current state, hands it to the
//! journal, then applies it with [`apply_change`]; recovery applies logged effects
//! with the same function. Effects carry resulting values (the wallet's whole scalar
//! state, the round's whole state) and keyed inserts (transactions, records), so
//! applying one twice, or applying an older one before the newer ones again, ends in
//! the same state: that is what makes fuzzy snapshots correct (ARCHITECTURE.md, Durability).

use super::plan::Hashes;
use super::records::GameRecord;
use super::round::{BetLeg, ClosedRound, Round};
use super::table::{IdHash, Stamp};
use super::wallet::{TxEntry, TxOutcome, TxParams, Wallet, WalletState};
use crate::ids::{RoundId, TxId, WalletId, WalletKey};
use serde::{Deserialize, Serialize};

// Effects are built once and moved into the log and the state; boxing the wallet
// change would cost an allocation on every bet.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LedgerEffect {
    /// A wallet came into being with this id.
    WalletOpened { wallet: WalletId, key: WalletKey },
    /// A wallet changed.
    Wallet(WalletChange),
}

/// Everything one mutation did to one wallet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletChange {
    pub wallet: WalletId,
    /// The wallet's scalar state after the change.
    pub state: WalletState,
    /// The transaction recorded (absent for expiries, which have no caller id).
    pub tx: Option<(TxId, TxEntry)>,
    /// A bet id that this change cancels in advance (a refund of an unknown bet).
    pub tombstone: Option<TxId>,
    pub round: Option<RoundChange>,
    /// The game record written when a round closed.
    pub record: Option<Box<GameRecord>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoundChange {
    /// The round's whole state after the change (it stays open).
    Upsert(Box<Round>),
    /// The round closed.
    Close { round: RoundId, closed: ClosedRound },
    /// A bet on a round that was open already: the new leg only. (With the whole
    /// round, the Nth bet of a round would log all N legs, each a transaction id, an
    /// amount and a flag.) Variants are only added at the end: the index is on disk.
    AddBet { round: RoundId, leg: BetLeg },
}

/// The entry a refund of an unknown bet leaves under the bet's id.
pub(crate) fn tombstone_entry(refund_tx: &TxId) -> TxEntry {
    TxEntry {
        params: TxParams::Tombstone {
            refund_tx: refund_tx.clone(),
        },
        outcome: TxOutcome::Tombstone,
    }
}

/// Applies a change to its wallet. Returns the record to store, if any.
///
/// Called under the wallet's shard lock, both live and on replay. It checks nothing:
/// the planner validated the change against the state it was planned from. `hashes`
/// are the planner's hashes of the change's ids; replay passes none.
///
/// The change's parts are taken out of it (it is left empty) rather than the change
/// being passed by value: it is some 400 bytes, and every move of it is a copy.
/// `stamp` is the change's log position: what the hot window evicts the entries it
/// writes by.
pub(crate) fn apply_change(
    w: &mut Wallet,
    change: &mut WalletChange,
    hashes: Hashes,
    stamp: Stamp,
) -> Option<Box<GameRecord>> {
    debug_assert_eq!(w.id, change.wallet);
    w.state = change.state;
    if let Some((tx, entry)) = change.tx.take() {
        let tombstone = change.tombstone.take();
        let had_tombstone = tombstone.is_some();
        if let Some(bet_tx) = tombstone {
            w.txs.insert(bet_tx, tombstone_entry(&tx), stamp);
        }
        match hashes.tx {
            // Live: the planner looked the id up under this lock and did not find
            // it, and no tombstone was just written (a refund may name itself).
            Some(hash) if !had_tombstone => w.txs.insert_new_hashed(hash, tx, entry, stamp),
            // Replay may meet an id that a fuzzy snapshot already holds.
            _ => {
                w.txs.insert(tx, entry, stamp);
            }
        }
    }
    match change.round.take() {
        Some(RoundChange::Upsert(round)) => match hashes.round {
            Some(hash) if hashes.round_is_new => w.rounds.insert_new(hash, round, stamp),
            Some(hash) => w.rounds.upsert(hash, round, stamp),
            None => w.rounds.upsert(IdHash::of(&round.id), round, stamp),
        },
        Some(RoundChange::AddBet { round, leg }) => {
            let hash = hashes.round.unwrap_or_else(|| IdHash::of(&round));
            w.rounds.add_bet(hash, &round, leg, stamp);
        }
        Some(RoundChange::Close { round, closed }) => {
            let hash = hashes.round.unwrap_or_else(|| IdHash::of(&round));
            w.rounds.close(hash, round, closed, stamp);
        }
        None => {}
    }
    change.record.take()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Amount;

    /// `AddBet` came after the format fixtures were written (they hold one bet per
    /// round), so its bytes are pinned here: variant 2, the round id, then the leg.
    #[test]
    fn add_bet_bytes_are_pinned() {
        let change = RoundChange::AddBet {
            round: RoundId::new("r1").expect("round"),
            leg: BetLeg {
                tx: TxId::new("b2").expect("tx"),
                amount: Amount::new(300),
                refunded: false,
            },
        };
        let bytes = postcard::to_stdvec(&change).expect("encode");
        // 300 zigzag-encoded is 600: varint 0xd8 0x04.
        assert_eq!(bytes, [2, 2, b'r', b'1', 2, b'b', b'2', 0xd8, 0x04, 0]);
        let back: RoundChange = postcard::from_bytes(&bytes).expect("decode");
        assert_eq!(back, change);
    }
}
