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
use crate::ledger::effect::LedgerEffect;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Every domain's effect, as recovery reads it back.
// Decoded once per record and moved into its domain: boxing the ledger's (largest,
// most frequent) variant would cost an allocation per record for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub enum Effect {
    Ledger(LedgerEffect),
    Catalog(CatalogEffect),
    Identity(IdentityEffect),
}

/// Every domain's effect, borrowed, as appending writes it.
#[derive(Clone, Copy, Debug, Serialize)]
pub enum EffectRef<'a> {
    Ledger(&'a LedgerEffect),
    Catalog(&'a CatalogEffect),
    Identity(&'a IdentityEffect),
}

/// The engine's effect log.
#[derive(Debug, Default)]
pub struct EngineLog {
    _private: (),
}

impl EngineLog {
    /// A log that writes nothing: the in-memory engine.
    pub fn memory() -> EngineLog {
        EngineLog { _private: () }
    }

    /// Writes one effect; returns its position.
    pub fn append(&self, _effect: EffectRef<'_>) -> Result<Lsn, JournalError> {
        Ok(Lsn(0))
    }

    /// The position of the newest effect appended so far.
    pub fn appended(&self) -> Lsn {
        Lsn(0)
    }

    /// Blocks until `lsn` is durable under the fsync policy.
    pub fn wait_durable(&self, _lsn: Lsn) -> Result<(), EngineError> {
        Ok(())
    }

    /// Resolves once `lsn` is durable under the fsync policy.
    pub async fn durable(&self, _lsn: Lsn) -> Result<(), EngineError> {
        Ok(())
    }
}

impl Journal<LedgerEffect> for Arc<EngineLog> {
    fn append(&self, effect: &LedgerEffect) -> Result<Lsn, JournalError> {
        EngineLog::append(self, EffectRef::Ledger(effect))
    }

    fn appended(&self) -> Lsn {
        EngineLog::appended(self)
    }
}

impl Journal<CatalogEffect> for Arc<EngineLog> {
    fn append(&self, effect: &CatalogEffect) -> Result<Lsn, JournalError> {
        EngineLog::append(self, EffectRef::Catalog(effect))
    }

    fn appended(&self) -> Lsn {
        EngineLog::appended(self)
    }
}

impl Journal<IdentityEffect> for Arc<EngineLog> {
    fn append(&self, effect: &IdentityEffect) -> Result<Lsn, JournalError> {
        EngineLog::append(self, EffectRef::Identity(effect))
    }

    fn appended(&self) -> Lsn {
        EngineLog::appended(self)
    }
}
