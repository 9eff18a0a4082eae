//! The engine's log: where every domain's effects are written, and how callers wait
//! for them to be durable. Without a data directory it keeps nothing (pure memory).
//!
//! Every domain appends through `Journal<ItsEffect> for Arc<EngineLog>`, which wraps
//! the effect in [`EffectRef`] and writes it. On the wire an `EffectRef::X(&e)` is
//! byte-for-byte an `Effect::X(e)` (postcard encodes the variant index, then the
//! value), so appending never clones an effect and recovery decodes [`Effect`].
//! Variants are only ever added at the end: their index is part of the format.

use super::EngineError;
use crate::catalog::CatalogEffect;
use crate::identity::IdentityEffect;
use crate::journal::{Journal, JournalError, Lsn};
use crate::leaderboard::TournamentEffect;
use crate::ledger::effect::LedgerEffect;
use crate::storage::Wal;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::sync::Arc;

/// Every domain's effect, as recovery reads it back.
// Decoded once and moved into its domain; boxing the ledger's would cost an
// allocation per effect on recovery for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub enum Effect {
    Ledger(LedgerEffect),
    Tournament(TournamentEffect),
    Catalog(CatalogEffect),
    Identity(IdentityEffect),
}

/// Every domain's effect, borrowed, as appending writes it.
#[derive(Clone, Copy, Debug, Serialize)]
pub enum EffectRef<'a> {
    Ledger(&'a LedgerEffect),
    Tournament(&'a TournamentEffect),
    Catalog(&'a CatalogEffect),
    Identity(&'a IdentityEffect),
}

/// The engine's effect log.
#[derive(Debug, Default)]
pub struct EngineLog {
    /// `None`: the in-memory engine, which writes nothing and waits for nothing.
    wal: Option<Wal>,
}

thread_local! {
    /// Effects are encoded here, outside the log's own lock: only the copy of the
    /// finished bytes is serialized across threads.
    static ENCODE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Encoded effects above this size are not kept in the thread's buffer afterwards.
const ENCODE_BUFFER_KEPT: usize = 64 << 10;

impl EngineLog {
    /// A log that writes nothing: the in-memory engine.
    pub fn memory() -> EngineLog {
        EngineLog { wal: None }
    }

    pub(crate) fn on_wal(wal: Wal) -> EngineLog {
        EngineLog { wal: Some(wal) }
    }

    pub(crate) fn wal(&self) -> Option<&Wal> {
        self.wal.as_ref()
    }

    /// Writes one effect; returns its position.
    pub fn append(&self, effect: EffectRef<'_>) -> Result<Lsn, JournalError> {
        let Some(wal) = &self.wal else {
            return Ok(Lsn(0));
        };
        ENCODE.with(|cell| {
            let mut buf = cell.take();
            buf.clear();
            let encoded = postcard::to_extend(&effect, buf);
            let result = match &encoded {
                Ok(bytes) => wal
                    .append(bytes)
                    .map_err(|e| JournalError::Failed(e.to_string())),
                Err(e) => Err(JournalError::Encode(e.to_string())),
            };
            if let Ok(mut bytes) = encoded {
                if bytes.capacity() <= ENCODE_BUFFER_KEPT {
                    bytes.clear();
                    cell.replace(bytes);
                }
            }
            result
        })
    }

    /// The position of the newest effect appended so far.
    pub fn appended(&self) -> Lsn {
        self.wal.as_ref().map_or(Lsn(0), Wal::appended_lsn)
    }

    /// Blocks until `lsn` is durable under the fsync policy.
    pub fn wait_durable(&self, lsn: Lsn) -> Result<(), EngineError> {
        match &self.wal {
            Some(wal) if lsn > Lsn(0) => wal.wait_durable(lsn).map_err(EngineError::from),
            _ => Ok(()),
        }
    }

    /// Resolves once `lsn` is durable under the fsync policy.
    pub async fn durable(&self, lsn: Lsn) -> Result<(), EngineError> {
        match &self.wal {
            Some(wal) if lsn > Lsn(0) => wal.durable(lsn).await.map_err(EngineError::from),
            _ => Ok(()),
        }
    }

    /// Waits for everything appended so far.
    pub fn flush(&self) -> Result<(), EngineError> {
        self.wait_durable(self.appended())
    }
}

/// Each domain appends through the engine's log: `Journal<ItsEffect> for Arc<EngineLog>`
/// wraps the effect in its `EffectRef` variant.
macro_rules! journal_for {
    ($($effect:ty => $variant:ident),* $(,)?) => {$(
        impl Journal<$effect> for Arc<EngineLog> {
            fn append(&self, effect: &$effect) -> Result<Lsn, JournalError> {
                EngineLog::append(self, EffectRef::$variant(effect))
            }

            fn appended(&self) -> Lsn {
                EngineLog::appended(self)
            }
        }
    )*};
}

journal_for!(
    LedgerEffect => Ledger,
    TournamentEffect => Tournament,
    CatalogEffect => Catalog,
    IdentityEffect => Identity,
);
