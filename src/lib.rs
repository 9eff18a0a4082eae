//! # pitboss
//!
//! The engine an online game platform runs on: wallets and game rounds in a
//! lock-striped in-memory ledger, leaderboards, made durable by a write-ahead log,
//! usable in-process (this library) or over HTTP (the `pitboss` binary).
//!
//! # Layout
//! - [`engine`]: the facade. One [`Engine`] owns everything; every mutation goes
//!   through it and returns once durable.
//! - [`ledger`]: wallets, rounds, idempotency, game records. Knows nothing of I/O.
//! - [`tournaments`]: tournaments, their leaderboards, scoring and prizes.
//! - [`catalog`]: games, their versions and status.
//! - [`identity`]: operators and their keys, players, credentials, sessions.
//! - [`seamless`]: calls to operators' own wallets (seamless mode), logged until final.
//! - [`webhooks`]: operators' subscriptions and the outbox of event deliveries.
//! - [`simulation`]: the deterministic simulator (the engine under faults, from a seed).
//! - [`journal`]: the seam through which the domain hands its effects to storage.
//! - [`ids`], [`money`], [`clock`], [`paging`]: identifier newtypes, exact amounts,
//!   injected time, the one paging rule.
//! - `server` (feature `server`): the hyper front end, the admin CLI, the load generator's
//!   client. Talks to the engine only through [`Engine`]'s methods.
//!
//! See `ARCHITECTURE.md` for the invariants each module keeps.

// Outside tests, nothing input can reach may `unwrap` or `expect`: errors are typed and
// returned. The few `expect`s that remain state an invariant (a count that a limit keeps
// far below 2^32) and carry an `allow` saying so.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod cache_line;
pub mod catalog;
pub mod clock;
mod cores;
pub mod engine;
pub mod fuzzing;
pub mod history;
pub mod identity;
pub mod ids;
pub mod journal;
pub mod ledger;
pub mod money;
pub mod paging;
pub mod seamless;
#[cfg(feature = "server")]
pub mod server;
pub mod simulation;
pub mod storage;
pub mod tournaments;
pub mod webhooks;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{BatchOp, Engine, EngineConfig, EngineError, HistoryConfig, Pending};
pub use ids::{
    ChannelId, ClientId, Currency, GameId, Label, PlayerId, RecordId, RoundId, TxId, WalletId,
};
pub use ledger::error::LedgerError;
pub use ledger::types::*;
pub use money::Amount;

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
