//! The ledger's history on disk, as the ledger sees it: the seam through which it
//! asks for what its hot window has let go of. No I/O here: the engine attaches
//! the history store (`crate::history`), tests attach a model.
//!
//! What leaves memory (`Ledger::evict`): transaction entries (tombstones too),
//! closed rounds and game records whose log position the archive has passed and
//! which are older than the hot window. Wallets, open rounds and everything younger
//! stay. A call that names an id memory no longer holds finds it here
//! (`Ledger::restore`), so a repeated transaction id is still a replay (or a
//! conflict), a late win on an archived round is still refused, and a refund of an
//! archived bet still finds it.

use super::effect::{tombstone_entry, LedgerEffect, RoundChange};
use super::records::{GameRecord, RecordQuery};
use super::round::ClosedRound;
use super::wallet::TxEntry;
use crate::ids::{ChannelId, RecordId, RoundId, TxId, WalletId};

/// The history store, as the ledger reads it.
pub trait Archive: Send + Sync {
    /// The entry of transaction (or tombstone) `tx` of `wallet`, if archived and
    /// younger than the idempotency horizon.
    fn transaction(&self, wallet: WalletId, tx: &TxId) -> Result<Option<TxEntry>, ArchiveError>;

    /// Closed round `round` of `wallet`, if archived and younger than the horizon.
    fn closed_round(
        &self,
        wallet: WalletId,
        round: &RoundId,
    ) -> Result<Option<ClosedRound>, ArchiveError>;

    /// Up to `query.size` archived records of `channel` that match `query`, nearest
    /// the cursor first, examining at most `budget` stored records.
    fn records(
        &self,
        channel: &ChannelId,
        query: &RecordQuery,
        budget: usize,
    ) -> Result<ArchivedPage, ArchiveError>;
}

/// A page of archived records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchivedPage {
    /// Nearest the cursor first.
    pub records: Vec<GameRecord>,
    /// Set when the scan's budget ran out before the page was full: the last id
    /// examined. Records beyond it (away from the cursor) were not looked at; a
    /// query with this id as its cursor, in the same direction, goes on from there.
    pub stopped_at: Option<RecordId>,
}

/// The history store could not answer. The engine fails closed on it, as on a
/// log failure: an answer that skipped history could repeat a transaction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("history store: {0}")]
pub struct ArchiveError(pub String);

/// One thing a logged ledger effect leaves to history: keyed, so that archiving
/// the same effect twice (a restart while archiving) stores it once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveItem {
    Transaction {
        wallet: WalletId,
        tx: TxId,
        entry: TxEntry,
    },
    ClosedRound {
        wallet: WalletId,
        round: RoundId,
        closed: ClosedRound,
    },
    Record(Box<GameRecord>),
}

/// Gives `emit` what `effect` leaves to history, in the order it was applied: its
/// transaction entry (and the tombstone a refund of an unknown bet leaves), the
/// round it closed, its game record. Effects that leave nothing (a wallet opened, a
/// bet joining a round that stays open) give nothing. A callback, not a `Vec`: the
/// archiver stages each item as it reads the log, with no allocation per effect.
pub fn items_of<E>(
    effect: LedgerEffect,
    mut emit: impl FnMut(ArchiveItem) -> Result<(), E>,
) -> Result<(), E> {
    let LedgerEffect::Wallet(change) = effect else {
        return Ok(());
    };
    let wallet = change.wallet;
    if let Some((tx, entry)) = change.tx {
        if let Some(bet_tx) = change.tombstone {
            emit(ArchiveItem::Transaction {
                wallet,
                tx: bet_tx,
                entry: tombstone_entry(&tx),
            })?;
        }
        emit(ArchiveItem::Transaction { wallet, tx, entry })?;
    }
    if let Some(RoundChange::Close { round, closed }) = change.round {
        emit(ArchiveItem::ClosedRound {
            wallet,
            round,
            closed,
        })?;
    }
    if let Some(record) = change.record {
        emit(ArchiveItem::Record(record))?;
    }
    Ok(())
}
