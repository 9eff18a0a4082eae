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
use crate::ids::WalletId;
use crate::journal::{Journal, JournalError, Lsn};
use crate::ledger::effect::LedgerEffect;
use crate::seamless::SeamlessEffect;
use crate::storage::Wal;
use crate::tournaments::TournamentEffect;
use crate::webhooks::WebhookEffect;
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
    Seamless(SeamlessEffect),
    Webhook(WebhookEffect),
}

/// The variant index of [`Effect::Ledger`] on the wire (postcard: a varint).
const LEDGER_VARIANT: u32 = 0;
/// The variant indexes of the `LedgerEffect`s whose first field is their `WalletId`:
/// `WalletOpened` (0) and `Wallet` (1).
const WALLET_FIRST_VARIANTS: [u32; 2] = [0, 1];

/// The wallet a logged effect changes, read from the first bytes of its encoding without
/// decoding the rest: `Some` only for ledger effects whose kind [`WALLET_FIRST_VARIANTS`]
/// names. Parallel replay routes records by it; the worker checks it against the decoded
/// effect, so a wrong answer here is an error at start-up, never a misapplied effect.
pub(crate) fn peek_wallet(payload: &[u8]) -> Option<WalletId> {
    // On the wire: varint(Effect variant), varint(LedgerEffect variant), then the
    // variant's first field, the wallet id as a varint u64.
    let ((domain, kind, wallet), _) = postcard::take_from_bytes::<(u32, u32, u64)>(payload).ok()?;
    (domain == LEDGER_VARIANT && WALLET_FIRST_VARIANTS.contains(&kind)).then_some(WalletId(wallet))
}

/// Whether a logged effect is the ledger's, read from its first byte (the variant
/// index, a one-byte varint) without decoding it.
pub(crate) fn is_ledger_effect(payload: &[u8]) -> bool {
    payload.first() == Some(&(LEDGER_VARIANT as u8))
}

/// Decodes a logged effect (`lsn` names it in the error).
pub(crate) fn decode(lsn: Lsn, payload: &[u8]) -> Result<Effect, EngineError> {
    postcard::from_bytes(payload)
        .map_err(|e| EngineError::Storage(format!("log record {} does not decode: {e}", lsn.0)))
}

/// Every domain's effect, borrowed, as appending writes it.
#[derive(Clone, Copy, Debug, Serialize)]
pub enum EffectRef<'a> {
    Ledger(&'a LedgerEffect),
    Tournament(&'a TournamentEffect),
    Catalog(&'a CatalogEffect),
    Identity(&'a IdentityEffect),
    Seamless(&'a SeamlessEffect),
    Webhook(&'a WebhookEffect),
}

/// The engine's effect log.
#[derive(Debug, Default)]
pub struct EngineLog {
    /// `None`: the in-memory engine, which writes nothing and waits for nothing.
    wal: Option<Wal>,
    /// When the last snapshot was written or loaded (the `/metrics` snapshot age).
    last_snapshot: parking_lot::Mutex<Option<std::time::Instant>>,
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
        EngineLog::default()
    }

    pub(crate) fn on_wal(wal: Wal) -> EngineLog {
        EngineLog {
            wal: Some(wal),
            ..EngineLog::default()
        }
    }

    /// Notes that a snapshot was just written or loaded.
    pub(crate) fn snapshot_taken(&self) {
        *self.last_snapshot.lock() = Some(std::time::Instant::now());
    }

    /// Since the last snapshot was written or loaded.
    pub fn snapshot_age(&self) -> Option<std::time::Duration> {
        self.last_snapshot.lock().map(|at| at.elapsed())
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

    /// The newest durable position. In memory there is no disk to wait for:
    /// everything is as durable as it will ever be (`Lsn(u64::MAX)`).
    pub fn durable_lsn(&self) -> Lsn {
        self.wal.as_ref().map_or(Lsn(u64::MAX), Wal::durable_lsn)
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

// Each domain appends through the engine's log: `Journal<ItsEffect> for Arc<EngineLog>`
// wraps the effect in its `EffectRef` variant. One impl per domain, written out so
// that `grep "impl Journal"` finds them.

impl Journal<LedgerEffect> for Arc<EngineLog> {
    fn append(&self, effect: &LedgerEffect) -> Result<Lsn, JournalError> {
        EngineLog::append(self, EffectRef::Ledger(effect))
    }

    fn appended(&self) -> Lsn {
        EngineLog::appended(self)
    }
}

impl Journal<TournamentEffect> for Arc<EngineLog> {
    fn append(&self, effect: &TournamentEffect) -> Result<Lsn, JournalError> {
        EngineLog::append(self, EffectRef::Tournament(effect))
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

impl Journal<SeamlessEffect> for Arc<EngineLog> {
    fn append(&self, effect: &SeamlessEffect) -> Result<Lsn, JournalError> {
        EngineLog::append(self, EffectRef::Seamless(effect))
    }

    fn appended(&self) -> Lsn {
        EngineLog::appended(self)
    }
}

impl Journal<WebhookEffect> for Arc<EngineLog> {
    fn append(&self, effect: &WebhookEffect) -> Result<Lsn, JournalError> {
        EngineLog::append(self, EffectRef::Webhook(effect))
    }

    fn appended(&self) -> Lsn {
        EngineLog::appended(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ChannelId, Currency, PlayerId, WalletKey};
    use crate::ledger::effect::WalletChange;
    use crate::ledger::wallet::WalletState;

    fn encode(effect: EffectRef<'_>) -> Vec<u8> {
        postcard::to_stdvec(&effect).unwrap_or_default()
    }

    #[test]
    fn peek_wallet_reads_the_wallet_of_ledger_effects_only() {
        let key = WalletKey {
            channel: ChannelId::new("ch").unwrap_or_else(|e| panic!("{e}")),
            player: PlayerId::new("p").unwrap_or_else(|e| panic!("{e}")),
            currency: Currency::new("CNY").unwrap_or_else(|e| panic!("{e}")),
        };
        for wallet in [0, 1, 127, 128, 300, u64::from(u32::MAX) + 7, u64::MAX] {
            let opened = LedgerEffect::WalletOpened {
                wallet: WalletId(wallet),
                key: key.clone(),
            };
            let changed = LedgerEffect::Wallet(WalletChange {
                wallet: WalletId(wallet),
                state: WalletState::default(),
                tx: None,
                tombstone: None,
                round: None,
                record: None,
            });
            for effect in [opened, changed] {
                let bytes = encode(EffectRef::Ledger(&effect));
                assert_eq!(peek_wallet(&bytes), Some(WalletId(wallet)));
                // Every prefix too short to hold the wallet id says nothing.
                for cut in 0..2 + varint_len(wallet) {
                    assert_eq!(peek_wallet(&bytes[..cut]), None, "cut at {cut}");
                }
            }
        }
        // Other domains (variants 1..=3), and ledger kinds not known to start with a
        // wallet id, are not routed by wallet.
        for other in [[1u8, 0, 5], [2, 1, 5], [3, 0, 5], [0, 2, 5], [0, 0x80, 5]] {
            assert_eq!(peek_wallet(&other), None, "{other:?}");
        }
    }

    fn varint_len(v: u64) -> usize {
        (64 - v.leading_zeros() as usize).max(1).div_ceil(7)
    }
}
