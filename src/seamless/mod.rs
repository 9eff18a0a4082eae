//! Seamless mode's calls to operators' own wallets: each one logged before it is
//! first sent, again after every failed attempt, and once more when its outcome is
//! final, so that a restart resumes every unfinished call (docs/seamless.md; ARCHITECTURE.md,
//! "Seamless mode").
//!
//! This module keeps the table of unfinished calls and the retry schedule. It knows
//! no HTTP and no dialect: the engine (`engine/seamless.rs`) decides what each answer
//! means and sends calls through a [`RemoteWallets`] transport.
//!
//! Invariants:
//! - at most one unfinished call per (wallet, transaction id): a second request for
//!   the same id while the first is unfinished is told so, never sent twice at once;
//! - at most [`SeamlessConfig::max_calls_per_channel`] unfinished calls per channel:
//!   one more is refused at once ([`SeamlessError::Busy`]), never queued;
//! - a call in the table is either being attempted (`in_flight`) or waiting for its
//!   `next_attempt_ms`; the retry driver picks only waiting calls that are due.

pub mod remote;

use crate::identity::types::{RemoteWallet, Secret, Uid};
use crate::ids::{ChannelId, ClientId, GameId, RoundId, TxId, WalletId, WalletKey};
use crate::journal::{Journal, JournalError, Logged};
use crate::ledger::types::{BetRequest, PrizeRequest, RefundRequest, WinRequest};
use crate::money::Amount;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

pub use remote::{Decline, RemoteAnswer, RemoteCall, RemoteOp, RemoteWallets};

/// A call's number, unique for the life of the data directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CallId(pub u64);

/// What a call asks of the operator's wallet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallKind {
    /// Take a bet (gate `/bet`; bank `/withdraw`). Sent once: an unknown outcome turns
    /// the call into a [`CallKind::Refund`] of the same bet (a rollback).
    Bet(BetRequest),
    /// Pay a win (gate `/win`; bank `/deposit`), retried with the same id until the
    /// wallet acknowledges it.
    Win(WinRequest),
    /// Return a bet (gate `/refund`; bank `/getsingletransaction`, then a reversing
    /// deposit if the bet happened), retried until the wallet gives a final answer:
    /// a game server's refund, the rollback of a bet whose outcome is unknown, or the
    /// return of an expired round's live bet (`local: false`: the round is closed
    /// here already, nothing is applied when it succeeds).
    Refund {
        req: RefundRequest,
        round: RoundId,
        game: GameId,
        amount: Amount,
        local: bool,
    },
    /// Pay a tournament prize (bank `/deposit`; the gate API has no call for it),
    /// retried with the same id until acknowledged, like a win.
    Prize(PrizeRequest),
}

impl CallKind {
    /// The transaction id the call carries (a refund's: the bet's).
    pub fn tx(&self) -> &TxId {
        match self {
            CallKind::Bet(r) => &r.tx,
            CallKind::Win(r) => &r.tx,
            CallKind::Refund { req, .. } => &req.bet_tx,
            CallKind::Prize(r) => &r.tx,
        }
    }

    /// The round the call belongs to (a prize has none).
    pub fn round(&self) -> Option<&RoundId> {
        match self {
            CallKind::Bet(r) => Some(&r.round),
            CallKind::Win(r) => Some(&r.round),
            CallKind::Refund { round, .. } => Some(round),
            CallKind::Prize(_) => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            CallKind::Bet(_) => "bet",
            CallKind::Win(_) => "win",
            CallKind::Refund { .. } => "refund",
            CallKind::Prize(_) => "prize",
        }
    }
}

/// One call to an operator's wallet, whole: what every log record of it carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub id: CallId,
    pub wallet: WalletId,
    pub key: WalletKey,
    pub kind: CallKind,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (Unix ms).
    pub next_attempt_ms: i64,
    /// The last failed attempt's error ("" before the first).
    pub last_error: String,
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallEnd {
    /// The wallet acknowledged it (and its local effect, if any, is logged before).
    Done,
    /// The wallet refused it for good (a bet: insufficient balance, unknown player).
    Declined(String),
    /// An operator expired its round: the retries stopped with `unpaid` owed to the
    /// player (a win's amount, or a bet not returned), for the operator to settle.
    Abandoned { unpaid: Amount },
}

/// What the table logs.
// Built once and moved into the log; boxing the call would cost an allocation per
// call for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeamlessEffect {
    /// A call, whole: before its first attempt, and after each failed one (its
    /// attempts, next time and error, or its kind when a bet became a rollback).
    Call(Call),
    /// The call's outcome is final: it leaves the table.
    Ended { id: CallId, end: CallEnd },
}

/// Limits of the table and the retry schedule.
#[derive(Clone, Debug)]
pub struct SeamlessConfig {
    /// Unfinished calls per channel; one more is refused at once.
    pub max_calls_per_channel: usize,
    /// The first retry's delay; each next one doubles, up to `max_retry_delay_ms`.
    pub first_retry_delay_ms: i64,
    pub max_retry_delay_ms: i64,
}

impl Default for SeamlessConfig {
    /// 10,000 unfinished calls per operator: some minutes of a busy operator's
    /// rounds with its wallet down, each a few hundred bytes. Retries: 1 s doubling to
    /// 5 min (docs/seamless.md).
    fn default() -> Self {
        SeamlessConfig {
            max_calls_per_channel: 10_000,
            first_retry_delay_ms: 1_000,
            max_retry_delay_ms: 300_000,
        }
    }
}

impl SeamlessConfig {
    /// The delay before attempt `attempts + 1`, after `attempts` failed ones.
    pub fn retry_delay_ms(&self, attempts: u32) -> i64 {
        let doublings = attempts.saturating_sub(1).min(30);
        self.first_retry_delay_ms
            .saturating_mul(1i64 << doublings)
            .min(self.max_retry_delay_ms)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeamlessError {
    /// The channel has as many unfinished calls as allowed: nothing was sent.
    #[error("the operator's wallet has too many unfinished calls; try again later")]
    Busy,
    /// A call with this transaction id is unfinished (being sent or retried).
    #[error("transaction {0} is in progress at the operator's wallet")]
    InProgress(TxId),
    /// The bet's outcome at the operator's wallet was unknown, so it was rolled back.
    #[error("bet {0} was rolled back: its outcome at the operator's wallet was unknown")]
    RolledBack(TxId),
    /// The operator's wallet refused the call.
    #[error("the operator's wallet declined: {message}")]
    Declined { reason: Decline, message: String },
    /// The operator's wallet gave no answer to a call that is not retried (a
    /// balance).
    #[error("the operator's wallet did not answer: {0}")]
    Unavailable(String),
    /// The credit was not acknowledged yet; it is retried with the same id.
    #[error("the credit is pending at the operator's wallet and is retried: {0}")]
    CreditPending(String),
    /// The operator keeps no remote wallet, or no transport is attached.
    #[error("seamless calls are not possible: {0}")]
    NoRemote(&'static str),
    #[error("storage: {0}")]
    Journal(#[from] JournalError),
}

/// The credentials and address a call is sent with, looked up when it is sent.
#[derive(Clone, Debug)]
pub struct Destination {
    /// The operator: its calls in flight are bounded together.
    pub client_id: ClientId,
    pub wallet: RemoteWallet,
    pub app_key: String,
    pub app_secret: Secret,
    pub uid: Uid,
    pub currency_exponent: u8,
}

#[derive(Default)]
struct Table {
    calls: BTreeMap<CallId, Call>,
    by_tx: HashMap<(WalletId, TxId), CallId>,
    per_channel: HashMap<ChannelId, usize>,
    /// Calls being attempted now (not logged: a restart attempts every call again).
    in_flight: HashSet<CallId>,
    next_id: u64,
}

impl Table {
    fn insert(&mut self, call: Call) {
        self.next_id = self.next_id.max(call.id.0 + 1);
        let tx_key = (call.wallet, call.kind.tx().clone());
        if let Some(old) = self.calls.insert(call.id, call.clone()) {
            // An update: the call's transaction key may have changed (bet → rollback
            // keeps it); its channel count stays.
            self.by_tx.remove(&(old.wallet, old.kind.tx().clone()));
        } else {
            *self
                .per_channel
                .entry(call.key.channel.clone())
                .or_default() += 1;
        }
        self.by_tx.insert(tx_key, call.id);
    }

    fn remove(&mut self, id: CallId) -> Option<Call> {
        let call = self.calls.remove(&id)?;
        self.in_flight.remove(&id);
        self.by_tx.remove(&(call.wallet, call.kind.tx().clone()));
        if let Some(n) = self.per_channel.get_mut(&call.key.channel) {
            *n -= 1;
            if *n == 0 {
                self.per_channel.remove(&call.key.channel);
            }
        }
        Some(call)
    }
}

/// The table of unfinished calls, logged through `J`.
pub struct Seamless<J> {
    config: SeamlessConfig,
    table: Mutex<Table>,
    journal: J,
}

/// What a snapshot holds of the table.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SeamlessExport {
    pub next_id: u64,
    pub calls: Vec<Call>,
}

impl<J: Journal<SeamlessEffect>> Seamless<J> {
    pub fn new(config: SeamlessConfig, journal: J) -> Seamless<J> {
        Seamless {
            config,
            table: Mutex::new(Table {
                next_id: 1,
                ..Table::default()
            }),
            journal,
        }
    }

    pub fn config(&self) -> &SeamlessConfig {
        &self.config
    }

    /// Logs a new call, due now and marked in flight (its first attempt follows at
    /// once; [`Seamless::release`] leaves it to the retry driver instead). Refused
    /// when the channel is at its bound or the id is unfinished.
    pub fn begin(
        &self,
        wallet: WalletId,
        key: &WalletKey,
        kind: CallKind,
        now_ms: i64,
    ) -> Logged<Call, SeamlessError> {
        self.log_new(wallet, key, kind, now_ms, true)
    }

    /// [`Seamless::begin`] for a call the channel's bound must not refuse: what an
    /// operator's expiry owes a player back (one per live bet of the rounds it
    /// expires, so finite), which the expiry must not drop once it closes the round.
    pub fn begin_owed(
        &self,
        wallet: WalletId,
        key: &WalletKey,
        kind: CallKind,
        now_ms: i64,
    ) -> Logged<Call, SeamlessError> {
        self.log_new(wallet, key, kind, now_ms, false)
    }

    fn log_new(
        &self,
        wallet: WalletId,
        key: &WalletKey,
        kind: CallKind,
        now_ms: i64,
        bounded: bool,
    ) -> Logged<Call, SeamlessError> {
        let mut t = self.table.lock();
        if t.by_tx.contains_key(&(wallet, kind.tx().clone())) {
            return Logged::rejected(SeamlessError::InProgress(kind.tx().clone()));
        }
        // A win and any other call of its round are never unfinished together. A win
        // closes its round here once the wallet pays it; a refund (a game server's,
        // or the rollback a bet of unknown outcome becomes) that the wallet then does
        // could no longer apply here, and the player would have both (the simulator
        // found it with a refund begun first; the reverse order, a refund or a bet
        // begun while the win's first attempt is out, breaks the same way). So a win
        // waits while a call of its round is unfinished, and a bet or refund waits
        // while a win of its round is. The scan is over unfinished calls, few unless
        // a wallet is down.
        if let Some(round) = kind.round() {
            let is_win = matches!(kind, CallKind::Win(_));
            let clash = t.calls.values().any(|c| {
                c.wallet == wallet
                    && c.kind.round() == Some(round)
                    && (is_win || matches!(c.kind, CallKind::Win(_)))
            });
            if clash {
                return Logged::rejected(SeamlessError::InProgress(kind.tx().clone()));
            }
        }
        let open = t.per_channel.get(&key.channel).copied().unwrap_or(0);
        if bounded && open >= self.config.max_calls_per_channel {
            return Logged::rejected(SeamlessError::Busy);
        }
        let call = Call {
            id: CallId(t.next_id),
            wallet,
            key: key.clone(),
            kind,
            attempts: 0,
            next_attempt_ms: now_ms,
            last_error: String::new(),
        };
        // Appended under the table's lock: log order is table order.
        let lsn = match self.journal.append(&SeamlessEffect::Call(call.clone())) {
            Ok(lsn) => lsn,
            Err(e) => return Logged::rejected(SeamlessError::from(e)),
        };
        t.insert(call.clone());
        t.in_flight.insert(call.id);
        Logged {
            result: Ok(call),
            lsn,
        }
    }

    /// Logs a failed attempt: the call's attempts grow, its next attempt is
    /// scheduled by the backoff, and it is no longer in flight. `kind` replaces the
    /// call's (a bet becoming its rollback).
    pub fn retry_later(
        &self,
        id: CallId,
        kind: Option<CallKind>,
        error: &str,
        now_ms: i64,
    ) -> Logged<Call, SeamlessError> {
        let mut t = self.table.lock();
        let Some(mut call) = t.calls.get(&id).cloned() else {
            return Logged::rejected(SeamlessError::NoRemote("the call is no longer unfinished"));
        };
        call.attempts = call.attempts.saturating_add(1);
        call.next_attempt_ms = now_ms.saturating_add(self.config.retry_delay_ms(call.attempts));
        call.last_error = crate::ledger::round::truncated(error, 256).to_owned();
        if let Some(kind) = kind {
            call.kind = kind;
        }
        let lsn = match self.journal.append(&SeamlessEffect::Call(call.clone())) {
            Ok(lsn) => lsn,
            Err(e) => return Logged::rejected(SeamlessError::from(e)),
        };
        t.insert(call.clone());
        t.in_flight.remove(&id);
        Logged {
            result: Ok(call),
            lsn,
        }
    }

    /// Logs a call's final outcome; it leaves the table.
    pub fn end(&self, id: CallId, end: CallEnd) -> Logged<Option<Call>, SeamlessError> {
        let mut t = self.table.lock();
        if !t.calls.contains_key(&id) {
            return Logged {
                result: Ok(None),
                lsn: self.journal.appended(),
            };
        }
        let lsn = match self.journal.append(&SeamlessEffect::Ended { id, end }) {
            Ok(lsn) => lsn,
            Err(e) => return Logged::rejected(SeamlessError::from(e)),
        };
        Logged {
            result: Ok(t.remove(id)),
            lsn,
        }
    }

    /// Takes up to `limit` calls due by `now_ms` and not in flight, marking them in
    /// flight, oldest first.
    pub fn take_due(&self, now_ms: i64, limit: usize) -> Vec<Call> {
        let mut t = self.table.lock();
        let due: Vec<Call> = t
            .calls
            .values()
            .filter(|c| c.next_attempt_ms <= now_ms && !t.in_flight.contains(&c.id))
            .take(limit)
            .cloned()
            .collect();
        for c in &due {
            t.in_flight.insert(c.id);
        }
        due
    }

    /// Gives a call taken by [`Seamless::take_due`] back without an attempt.
    pub fn release(&self, id: CallId) {
        self.table.lock().in_flight.remove(&id);
    }

    /// The unfinished call carrying `tx` in `wallet`, if any.
    pub fn unfinished(&self, wallet: WalletId, tx: &TxId) -> Option<Call> {
        let t = self.table.lock();
        let id = t.by_tx.get(&(wallet, tx.clone()))?;
        t.calls.get(id).cloned()
    }

    /// Every unfinished call of `channel` (for expiry), oldest first.
    pub fn of_channel(&self, channel: &ChannelId) -> Vec<Call> {
        let t = self.table.lock();
        t.calls
            .values()
            .filter(|c| &c.key.channel == channel)
            .cloned()
            .collect()
    }

    /// How many calls are unfinished.
    /// Unfinished calls that failed at least once (waiting for a retry, or in one).
    pub fn retrying(&self) -> usize {
        self.table
            .lock()
            .calls
            .values()
            .filter(|c| c.attempts > 0)
            .count()
    }

    pub fn len(&self) -> usize {
        self.table.lock().calls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies a logged effect during recovery. Idempotent.
    pub fn replay(&self, effect: SeamlessEffect) {
        let mut t = self.table.lock();
        match effect {
            SeamlessEffect::Call(call) => t.insert(call),
            SeamlessEffect::Ended { id, .. } => {
                t.remove(id);
                t.next_id = t.next_id.max(id.0 + 1);
            }
        }
    }

    pub fn export(&self) -> SeamlessExport {
        let t = self.table.lock();
        SeamlessExport {
            next_id: t.next_id,
            calls: t.calls.values().cloned().collect(),
        }
    }

    pub fn import(&self, export: SeamlessExport) {
        let mut t = self.table.lock();
        t.next_id = t.next_id.max(export.next_id);
        for call in export.calls {
            t.insert(call);
        }
    }
}

#[cfg(test)]
mod tests;
