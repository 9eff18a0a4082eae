//! The engine: the one value an embedder (or the HTTP server) holds. Every mutation
//! goes through it, and its blocking calls return only once the mutation's effect is
//! durable. Each mutating call has a `_pending` twin that returns a [`Pending`]
//! instead, for callers that await durability (the async server) or batch it.
//!
//! ```
//! use pitboss::{Engine, EngineConfig};
//! let engine = Engine::in_memory(EngineConfig::default());
//! # let _ = engine;
//! ```

use crate::catalog::CatalogError;
use crate::clock::{Clock, SystemClock};
use crate::identity::{IdentityConfig, IdentityError};
use crate::ids::{
    ChannelId, Currency, GameId, PlayerId, RecordId, RoundId, TxId, WalletId, WalletKey,
};
use crate::journal::JournalError;
use crate::ledger::error::LedgerError;
use crate::ledger::records::{GameRecord, RecordQuery};
use crate::ledger::types::*;
use crate::ledger::{ExpireScope, Expiry, IncompleteGame, LedgerConfig};
use crate::money::Amount;
use crate::tournaments::TournamentError;
use std::sync::Arc;

mod archiver;
mod batch;
mod domains;
mod log;
mod open;
mod pending;
mod platform;
mod replay;
mod seamless;
mod snapshot_body;
mod snapshotter;
mod status;
mod ticker;
mod tournaments;
mod wallet;
mod webhooks;

/// What the engine decodes from disk (log effects, snapshot sections), for the fuzz
/// targets (`crate::fuzzing::decoders`).
pub(crate) mod decoders {
    pub(crate) use super::domains::Domains;
    pub(crate) use super::log::decode as effect;
    pub(crate) use super::snapshot_body::read as snapshot;
    #[cfg(test)]
    pub(crate) use super::snapshot_body::write as write_snapshot;
}

pub use archiver::PassReport;
pub use batch::{BatchOp, BatchResult};
pub use log::{Effect, EffectRef, EngineLog};
pub use open::{RecoveryReport, HISTORY_DIR};
pub use pending::Pending;
pub use platform::PlayerSession;
pub use seamless::{refund_tx, REFUND_TX_PREFIX};
pub use status::EngineStatus;
pub use tournaments::TickReport;

/// Everything the engine can be told at start.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub ledger: LedgerConfig,
    /// Rounds left open longer than this are expired by [`Engine::expire_stale_rounds`].
    pub round_timeout_ms: i64,
    /// The write-ahead log: fsync policy (default `always`), segment size, limits.
    pub wal: crate::storage::Config,
    /// Take a snapshot once this many effects were logged since the last one…
    pub snapshot_every_records: u64,
    /// …or once this much time passed with anything logged.
    pub snapshot_every: std::time::Duration,
    /// Operators, players and sessions: hashing cost, session lifetime, limits.
    pub identity: IdentityConfig,
    /// Seamless mode's calls: unfinished calls per operator, the retry schedule.
    pub seamless: crate::seamless::SeamlessConfig,
    /// Webhooks: subscriptions per operator, the outbox's bounds, the retry schedule.
    pub webhooks: crate::webhooks::WebhookConfig,
    /// The hot window and the history store (engines with a data directory).
    pub history: HistoryConfig,
}

/// What stays in memory and how long history is kept (ARCHITECTURE.md, "Bounded
/// memory").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryConfig {
    /// Transaction entries, closed rounds and game records older than this leave
    /// memory for the history store in the data directory. `None` keeps everything
    /// in memory and opens no store (a directory that already has one keeps
    /// archiving to it, and reading what it holds, but evicts nothing). Default 5
    /// minutes.
    pub hot_window: Option<std::time::Duration>,
    /// How often the archiver runs (default 1 s).
    pub archive_every: std::time::Duration,
    /// The idempotency horizon and the history retention.
    pub retention: crate::history::Retention,
    /// An archiver pass running longer than this makes `Engine::health` report the
    /// history store as not answering (default 60 s).
    pub stuck_after: std::time::Duration,
    /// Most durable log records not yet archived before new work is refused: a
    /// bet, a deposit or a withdrawal with a new transaction id fails with
    /// `LedgerError::LimitExceeded` until the archiver catches up, while wins,
    /// refunds, ends of rounds and repeated ids go on (ARCHITECTURE.md, "Bounded
    /// memory"). Default 1,000,000.
    pub max_lag_records: u64,
    /// Fault injection for tests (off by default; see `history::Faults`).
    pub faults: crate::history::Faults,
    /// A store already open to use instead of the directory's `history/` (the
    /// simulator's; `None` by default).
    pub shared_store: Option<crate::history::SharedStore>,
}

/// What `LedgerError::LimitExceeded` says when new work is refused because the
/// history archiver is more than `HistoryConfig::max_lag_records` behind: a caller
/// that tells this refusal from the other limits retries it later.
pub const ARCHIVER_BEHIND: &str = "history not yet archived: the archiver is behind, retry";

impl Default for HistoryConfig {
    /// Five minutes: a game server's retries, a seamless call's first retries and
    /// an operator's look at what just happened all fall inside it, and memory is
    /// 5 min × rate × ~600 bytes (180 MB at 1,000 rounds/s).
    fn default() -> Self {
        HistoryConfig {
            hot_window: Some(std::time::Duration::from_secs(300)),
            archive_every: std::time::Duration::from_secs(1),
            retention: crate::history::Retention::default(),
            stuck_after: std::time::Duration::from_secs(60),
            max_lag_records: 1_000_000,
            faults: crate::history::Faults::default(),
            shared_store: None,
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            ledger: LedgerConfig::default(),
            round_timeout_ms: 60 * 60 * 1000,
            wal: crate::storage::Config::default(),
            snapshot_every_records: 1_000_000,
            snapshot_every: std::time::Duration::from_secs(300),
            identity: IdentityConfig::default(),
            seamless: crate::seamless::SeamlessConfig::default(),
            webhooks: crate::webhooks::WebhookConfig::default(),
            history: HistoryConfig::default(),
        }
    }
}

/// The engine's errors: the domain's, or the log's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Tournament(#[from] TournamentError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error(transparent)]
    Seamless(#[from] crate::seamless::SeamlessError),
    #[error(transparent)]
    Webhook(#[from] crate::webhooks::WebhookError),
    #[error("storage: {0}")]
    Storage(String),
}

impl From<crate::storage::StorageError> for EngineError {
    fn from(e: crate::storage::StorageError) -> Self {
        EngineError::Storage(e.to_string())
    }
}

impl From<JournalError> for EngineError {
    fn from(e: JournalError) -> Self {
        EngineError::Ledger(LedgerError::Journal(e))
    }
}

pub struct Engine {
    /// Every domain; shared (each an `Arc`) with the snapshotter thread.
    domains: domains::Domains,
    log: Arc<EngineLog>,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
    /// `None` for the in-memory engine.
    snapshotter: Option<snapshotter::Snapshotter>,
    /// `None` for the in-memory engine and without a hot window.
    archiver: Option<archiver::Archiver>,
    recovery: RecoveryReport,
    /// The transport of seamless calls, once attached.
    remote: std::sync::OnceLock<Arc<dyn crate::seamless::RemoteWallets>>,
}

impl Engine {
    /// An engine that keeps everything in memory, on the system clock.
    pub fn in_memory(config: EngineConfig) -> Engine {
        Engine::in_memory_with_clock(config, Arc::new(SystemClock))
    }

    pub fn in_memory_with_clock(config: EngineConfig, clock: Arc<dyn Clock>) -> Engine {
        let log = Arc::new(EngineLog::memory());
        let domains = domains::Domains::new(&config, &clock, &log);
        Engine::assemble(domains, log, clock, config, None, RecoveryReport::default())
    }

    fn assemble(
        domains: domains::Domains,
        log: Arc<EngineLog>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
        snapshotter: Option<snapshotter::Snapshotter>,
        recovery: RecoveryReport,
    ) -> Engine {
        let engine = Engine {
            domains,
            log,
            clock,
            config,
            snapshotter,
            archiver: None,
            recovery,
            remote: std::sync::OnceLock::new(),
        };
        engine.sync_remote_channels();
        engine
    }

    /// What start-up recovered (empty for an in-memory engine).
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.recovery
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The engine's clock, to share with what runs beside it (the outbound client).
    pub fn shared_clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Asserts every domain's invariants (conservation in every wallet, the ledger's
    /// tables in step): O(state), for tests, fuzzers and debug checks. Panics on a
    /// broken invariant, which is a bug.
    pub fn check_invariants(&self) {
        self.domains.check_invariants();
    }

    /// One of `channel`'s game records.
    pub fn game_record(&self, channel: &ChannelId, id: RecordId) -> Option<GameRecord> {
        self.domains.ledger.records().get(channel, id)
    }

    /// A domain call's result, to be handed out once its log position is durable: the
    /// one adapter from every domain's [`Logged`](crate::journal::Logged) (or
    /// `Result<(value, lsn), error>`) to a [`Pending`].
    fn pending<T, E: Into<EngineError>>(
        &self,
        logged: impl Into<crate::journal::Logged<T, E>>,
    ) -> Pending<T> {
        let logged = logged.into();
        Pending::new(
            logged.result.map_err(Into::into),
            logged.lsn,
            self.log.clone(),
        )
    }

    /// The wallet of (channel, player, currency), opened on first use.
    pub fn open_wallet(
        &self,
        channel: &ChannelId,
        player: &PlayerId,
        currency: &Currency,
    ) -> Result<WalletId, EngineError> {
        self.open_wallet_pending(channel, player, currency).wait()
    }

    /// [`Engine::open_wallet`] without the durability wait.
    pub fn open_wallet_pending(
        &self,
        channel: &ChannelId,
        player: &PlayerId,
        currency: &Currency,
    ) -> Pending<WalletId> {
        let key = wallet_key(channel, player, currency);
        self.pending(self.domains.ledger.open_wallet(key))
    }

    pub fn wallet_id(
        &self,
        channel: &ChannelId,
        player: &PlayerId,
        currency: &Currency,
    ) -> Option<WalletId> {
        self.domains
            .ledger
            .wallet_id(&wallet_key(channel, player, currency))
    }

    pub fn wallet_key(&self, wallet: WalletId) -> Option<WalletKey> {
        self.domains.ledger.wallet_key(wallet)
    }

    pub fn balance(&self, wallet: WalletId) -> Result<Balance, EngineError> {
        Ok(self.domains.ledger.balance(wallet)?)
    }

    /// The stored outcome of transaction `tx` of `wallet`, or `None` if the wallet never
    /// applied it. Waits until everything logged so far is durable first, so that a
    /// query never reports an outcome that a crash could still undo.
    pub fn transaction(&self, wallet: WalletId, tx: &TxId) -> Result<Option<Receipt>, EngineError> {
        self.transaction_pending(wallet, tx).wait()
    }

    /// [`Engine::transaction`] without the durability wait.
    pub fn transaction_pending(&self, wallet: WalletId, tx: &TxId) -> Pending<Option<Receipt>> {
        let result = self.domains.ledger.transaction(wallet, tx);
        let lsn = EngineLog::appended(&self.log);
        Pending::new(result.map_err(EngineError::from), lsn, self.log.clone())
    }

    /// The round, game and amount of bet `tx` of `wallet`, from memory or the history
    /// store; `None` if the wallet has no such bet (or the store could not answer).
    pub fn bet_of(&self, wallet: WalletId, tx: &TxId) -> Option<(RoundId, GameId, Amount)> {
        self.domains.ledger.bet_of(wallet, tx)
    }

    /// True while the wallet has an unclosed round.
    pub fn has_open_round(&self, wallet: WalletId) -> Result<bool, EngineError> {
        Ok(self.domains.ledger.has_open_round(wallet)?)
    }

    /// Expires every unclosed round of one player of `channel` (Publisher Manual §3.7).
    pub fn expire_player_rounds(
        &self,
        channel: &ChannelId,
        player: &PlayerId,
    ) -> Result<Vec<Expiry>, EngineError> {
        self.expire(ExpireScope::Player(channel, player)).wait()
    }

    /// Expires every unclosed round of `channel` (Publisher Manual §3.8).
    pub fn expire_channel_rounds(&self, channel: &ChannelId) -> Result<Vec<Expiry>, EngineError> {
        self.expire(ExpireScope::Channel(channel)).wait()
    }

    /// Expires rounds open longer than the configured time-out (the ledger rules in
    /// README.md). Run it
    /// periodically; the server does, an embedder calls it from its own timer.
    pub fn expire_stale_rounds(&self) -> Result<Vec<Expiry>, EngineError> {
        let cutoff = self
            .clock
            .now_ms()
            .saturating_sub(self.config.round_timeout_ms);
        self.expire(ExpireScope::OpenedBefore(cutoff)).wait()
    }

    /// The expiry of `scope`, not yet waited for. For a seamless operator, first
    /// stops the retries of the rounds' unfinished calls (recording what is left
    /// unpaid) and asks its wallet to return the other rounds' live bets.
    pub fn expire(&self, scope: ExpireScope<'_>) -> Pending<Vec<Expiry>> {
        let before = match scope {
            ExpireScope::Player(channel, player) => {
                self.before_seamless_expiry(channel, Some(player))
            }
            ExpireScope::Channel(channel) => self.before_seamless_expiry(channel, None),
            ExpireScope::OpenedBefore(_) => Ok((Vec::new(), crate::journal::Lsn(0))),
        };
        let (owed, before) = match before {
            Ok(done) => done,
            Err(e) => return Pending::new(Err(e), crate::journal::Lsn(0), self.log.clone()),
        };
        let (mut result, lsn) = self
            .pending_expired(
                self.domains
                    .ledger
                    .expire_rounds(scope, self.clock.now_ms()),
            )
            .into_parts();
        if let Ok(expiries) = &mut result {
            for e in expiries.iter_mut() {
                if let Some((.., amount)) = owed
                    .iter()
                    .find(|(w, r, _)| *w == e.wallet && *r == e.round)
                {
                    e.unpaid = *amount;
                }
            }
        }
        Pending::new(result, lsn.max(before), self.log.clone())
    }

    pub fn incomplete_games(
        &self,
        channel: &ChannelId,
        player: Option<&PlayerId>,
    ) -> Vec<IncompleteGame> {
        self.domains.ledger.incomplete_games(channel, player)
    }

    /// A page of `channel`'s game records (Publisher Manual §3.4; cursor paging as
    /// docs/platform-api.md decides), from memory and the history store alike. A
    /// failure of the store is an error, never a page with history left out.
    pub fn game_records(
        &self,
        channel: &ChannelId,
        query: &RecordQuery,
    ) -> Result<crate::ledger::RecordPage, EngineError> {
        Ok(self.domains.ledger.query_records(channel, query)?)
    }

    /// Waits until everything appended so far is durable: a barrier after the calls
    /// that do not wait for their own record (`webhook_attempted`). The simulator
    /// uses it so that no write is in flight when it arms a disk fault.
    pub fn flush(&self) -> Result<(), EngineError> {
        self.log.flush()
    }

    /// How many transaction entries, rounds and game records memory holds (what
    /// the hot window bounds; the simulator checks it). Walks every wallet.
    pub fn resident_history(&self) -> crate::ledger::Evicted {
        self.domains.ledger.resident()
    }

    /// Runs one archiver pass now, on the calling thread, with `now_ms` as the time
    /// (tests and the simulator drive the hot window with a manual clock). `None`
    /// for an engine without a history store. The background archiver runs the
    /// same pass every `HistoryConfig::archive_every`.
    pub fn archive_now(&self, now_ms: i64) -> Option<Result<PassReport, EngineError>> {
        let archiver = self.archiver.as_ref()?;
        let wal = self.log.wal()?;
        let window_ms = self.config.history.hot_window.map_or(i64::MAX, |w| {
            i64::try_from(w.as_millis()).unwrap_or(i64::MAX)
        });
        let mut state = archiver.state.lock();
        Some(archiver::pass(
            &self.domains,
            wal,
            &archiver.store,
            &mut state,
            now_ms,
            window_ms,
            Some(&archiver.gauges),
        ))
    }
}

fn wallet_key(channel: &ChannelId, player: &PlayerId, currency: &Currency) -> WalletKey {
    WalletKey {
        channel: channel.clone(),
        player: player.clone(),
        currency: currency.clone(),
    }
}
