//! The engine: the one value an embedder (or the HTTP server) holds. Every mutation
//! goes through it, and it returns only once the mutation's effect is durable.
//!
//! ```
//! use pitboss::{Engine, EngineConfig};
//! let engine = Engine::in_memory(EngineConfig::default());
//! # let _ = engine;
//! ```

use crate::clock::{Clock, SystemClock};
use crate::ids::{ChannelId, Currency, PlayerId, WalletId, WalletKey};
use crate::journal::{Journal, JournalError, Lsn, NoJournal};
use crate::ledger::effect::LedgerEffect;
use crate::ledger::error::LedgerError;
use crate::ledger::records::{GameRecord, RecordQuery};
use crate::ledger::types::*;
use crate::ledger::{ExpireScope, Expiry, IncompleteGame, Ledger, LedgerConfig, Logged};
use std::sync::Arc;

/// Everything the engine can be told at start.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub ledger: LedgerConfig,
    /// Rounds left open longer than this are expired by [`Engine::expire_stale_rounds`].
    pub round_timeout_ms: i64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            ledger: LedgerConfig::default(),
            round_timeout_ms: 60 * 60 * 1000,
        }
    }
}

/// The engine's errors: the domain's, or the log's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("storage: {0}")]
    Storage(String),
}

impl From<JournalError> for EngineError {
    fn from(e: JournalError) -> Self {
        EngineError::Ledger(LedgerError::Journal(e))
    }
}

/// Where the engine's effects go. In memory for now; the write-ahead log plugs in here.
pub struct EngineJournal {
    inner: NoJournal,
}

impl Journal<LedgerEffect> for EngineJournal {
    fn append(&self, effect: &LedgerEffect) -> Result<Lsn, JournalError> {
        self.inner.append(effect)
    }

    fn appended(&self) -> Lsn {
        Journal::<LedgerEffect>::appended(&self.inner)
    }
}

pub struct Engine {
    ledger: Ledger<EngineJournal>,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
}

impl Engine {
    /// An engine that keeps everything in memory, on the system clock.
    pub fn in_memory(config: EngineConfig) -> Engine {
        Engine::in_memory_with_clock(config, Arc::new(SystemClock))
    }

    pub fn in_memory_with_clock(config: EngineConfig, clock: Arc<dyn Clock>) -> Engine {
        let journal = EngineJournal { inner: NoJournal };
        Engine {
            ledger: Ledger::new(&config.ledger, journal),
            clock,
            config,
        }
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The ledger, for read-only inspection (tests, snapshots).
    pub fn ledger(&self) -> &Ledger<EngineJournal> {
        &self.ledger
    }

    /// Waits until `logged` is durable, then hands back its result.
    fn settle<T>(&self, logged: Logged<T>) -> Result<T, EngineError> {
        // Durability wait goes here once the engine has a log (nothing to wait for in memory).
        let _ = logged.lsn;
        logged.result.map_err(EngineError::from)
    }

    /// The wallet of (channel, player, currency), opened on first use.
    pub fn open_wallet(
        &self,
        channel: &ChannelId,
        player: &PlayerId,
        currency: &Currency,
    ) -> Result<WalletId, EngineError> {
        let key = WalletKey {
            channel: channel.clone(),
            player: player.clone(),
            currency: currency.clone(),
        };
        self.settle(self.ledger.open_wallet(key))
    }

    pub fn wallet_id(
        &self,
        channel: &ChannelId,
        player: &PlayerId,
        currency: &Currency,
    ) -> Option<WalletId> {
        let key = WalletKey {
            channel: channel.clone(),
            player: player.clone(),
            currency: currency.clone(),
        };
        self.ledger.wallet_id(&key)
    }

    pub fn wallet_key(&self, wallet: WalletId) -> Option<WalletKey> {
        self.ledger.wallet_key(wallet)
    }

    pub fn balance(&self, wallet: WalletId) -> Result<Balance, EngineError> {
        Ok(self.ledger.balance(wallet)?)
    }

    pub fn deposit(&self, wallet: WalletId, req: &DepositRequest) -> Result<Receipt, EngineError> {
        self.settle(self.ledger.deposit(wallet, req))
    }

    pub fn withdraw(
        &self,
        wallet: WalletId,
        req: &WithdrawRequest,
    ) -> Result<Receipt, EngineError> {
        self.settle(self.ledger.withdraw(wallet, req))
    }

    pub fn bet(&self, wallet: WalletId, req: &BetRequest) -> Result<Receipt, EngineError> {
        self.settle(self.ledger.bet(wallet, req, self.clock.now_ms()))
    }

    pub fn win(&self, wallet: WalletId, req: &WinRequest) -> Result<Receipt, EngineError> {
        self.settle(self.ledger.win(wallet, req, self.clock.now_ms()))
    }

    pub fn refund(&self, wallet: WalletId, req: &RefundRequest) -> Result<Receipt, EngineError> {
        self.settle(self.ledger.refund(wallet, req, self.clock.now_ms()))
    }

    pub fn prize(&self, wallet: WalletId, req: &PrizeRequest) -> Result<Receipt, EngineError> {
        self.settle(self.ledger.prize(wallet, req))
    }

    pub fn end_round(
        &self,
        wallet: WalletId,
        req: &EndRoundRequest,
    ) -> Result<Receipt, EngineError> {
        self.settle(self.ledger.end_round(wallet, req, self.clock.now_ms()))
    }

    /// Expires every unclosed round of one player of `channel` (seed 000 §3.7).
    pub fn expire_player_rounds(
        &self,
        channel: &ChannelId,
        player: &PlayerId,
    ) -> Result<Vec<Expiry>, EngineError> {
        let now = self.clock.now_ms();
        self.settle(
            self.ledger
                .expire_rounds(ExpireScope::Player(channel, player), now),
        )
    }

    /// Expires every unclosed round of `channel` (seed 000 §3.8).
    pub fn expire_channel_rounds(&self, channel: &ChannelId) -> Result<Vec<Expiry>, EngineError> {
        let now = self.clock.now_ms();
        self.settle(
            self.ledger
                .expire_rounds(ExpireScope::Channel(channel), now),
        )
    }

    /// Expires rounds open longer than the configured time-out (DESIGN §3). Run it
    /// periodically; the server does, an embedder calls it from its own timer.
    pub fn expire_stale_rounds(&self) -> Result<Vec<Expiry>, EngineError> {
        let now = self.clock.now_ms();
        let cutoff = now.saturating_sub(self.config.round_timeout_ms);
        self.settle(
            self.ledger
                .expire_rounds(ExpireScope::OpenedBefore(cutoff), now),
        )
    }

    pub fn incomplete_games(
        &self,
        channel: &ChannelId,
        player: Option<&PlayerId>,
    ) -> Vec<IncompleteGame> {
        self.ledger.incomplete_games(channel, player)
    }

    /// A page of `channel`'s game records (seed 000 §3.4, DESIGN §8).
    pub fn game_records(&self, channel: &ChannelId, query: &RecordQuery) -> Vec<GameRecord> {
        self.ledger.records().query(channel, query)
    }
}
