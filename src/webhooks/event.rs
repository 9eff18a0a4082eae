//! Events: what a subscriber is told, as typed values. The engine's own events are
//! derived from the log record of the change that caused them (never written
//! separately), so an event exists exactly when its change is committed.

use crate::ids::{GameId, IdError, RoundId, TourneyId, TxId, WalletId, WalletKey};
use crate::ledger::effect::{RoundChange, WalletChange};
use crate::ledger::round::RoundStatus;
use crate::ledger::types::{Balance, OpKind};
use crate::ledger::wallet::{TxOutcome, Wallet};
use crate::money::Amount;
use crate::tournaments::tournament::Winner;
use serde::{Deserialize, Serialize};
use smol_str::SmolStr;
use std::fmt;

/// Longest event name (Publisher Manual §7 is silent; ARCHITECTURE.md, "Webhooks").
pub const MAX_EVENT_NAME_BYTES: usize = 64;

/// An event's name: `[a-z0-9._-]`, 1 to [`MAX_EVENT_NAME_BYTES`] bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct EventName(SmolStr);

impl EventName {
    pub fn new(s: &str) -> Result<EventName, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty { what: "event" });
        }
        if s.len() > MAX_EVENT_NAME_BYTES {
            return Err(IdError::TooLong {
                what: "event",
                max: MAX_EVENT_NAME_BYTES,
            });
        }
        if !s
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
        {
            return Err(IdError::ControlCharacter { what: "event" });
        }
        Ok(EventName(SmolStr::new(s)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for EventName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<EventName, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        EventName::new(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The names of the events the engine emits by itself.
pub const BALANCE_UPDATE: &str = "wallet.balance.update";
pub const TRANSACTION_SUCCESS: &str = "wallet.transaction.success";
pub const ROUND_INCOMPLETE: &str = "game.round.incomplete";
pub const TOURNAMENT_ROUND_ENDED: &str = "tournament.round.ended";
pub const TOURNAMENT_PRIZE_PAID: &str = "tournament.prize.paid";

/// An event's id: the log position of the record that caused it, and its place among
/// that record's events. Derived again from the same record after a restart, so a
/// retry always carries the same id (the receiver's idempotency key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId {
    pub lsn: u64,
    pub index: u32,
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "evt_{}_{}", self.lsn, self.index)
    }
}

impl std::str::FromStr for EventId {
    type Err = ();

    fn from_str(s: &str) -> Result<EventId, ()> {
        let rest = s.strip_prefix("evt_").ok_or(())?;
        let (lsn, index) = rest.split_once('_').ok_or(())?;
        Ok(EventId {
            lsn: lsn.parse().map_err(|_| ())?,
            index: index.parse().map_err(|_| ())?,
        })
    }
}

/// What an event says. Amounts are in minor units; the server renders them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventBody {
    /// `wallet.balance.update`: a wallet's balance after a committed change.
    Balance {
        wallet: WalletId,
        key: WalletKey,
        balance: Balance,
    },
    /// `wallet.transaction.success`: a committed money operation.
    Transaction {
        wallet: WalletId,
        key: WalletKey,
        tx: TxId,
        kind: OpKind,
        amount: Amount,
        total: Amount,
    },
    /// `game.round.incomplete`: a round became status 3 or 4.
    RoundIncomplete {
        wallet: WalletId,
        key: WalletKey,
        round: RoundId,
        game: GameId,
        status: i32,
        error: String,
    },
    /// `tournament.round.ended`: a tournament round froze its winners.
    TournamentRoundEnded {
        tourney: TourneyId,
        round: u32,
        winners: Vec<Winner>,
    },
    /// `tournament.prize.paid`: one winner's prize was credited.
    PrizePaid {
        tourney: TourneyId,
        round: u32,
        winner: Winner,
    },
    /// An operator's own event (`publish`): its payload, a JSON object as text.
    Published { name: EventName, payload: String },
}

impl EventBody {
    pub fn name(&self) -> &str {
        match self {
            EventBody::Balance { .. } => BALANCE_UPDATE,
            EventBody::Transaction { .. } => TRANSACTION_SUCCESS,
            EventBody::RoundIncomplete { .. } => ROUND_INCOMPLETE,
            EventBody::TournamentRoundEnded { .. } => TOURNAMENT_ROUND_ENDED,
            EventBody::PrizePaid { .. } => TOURNAMENT_PRIZE_PAID,
            EventBody::Published { name, .. } => name.as_str(),
        }
    }
}

/// One event, shared by every subscription it is delivered to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    /// When it was queued (Unix ms): the body's `createdAt`.
    pub created_ms: i64,
    pub body: EventBody,
}

/// The engine's events of a wallet change: a money operation's
/// `wallet.transaction.success`, a balance change's `wallet.balance.update`, and a
/// round turning status 3 or 4's `game.round.incomplete`. `before` is the wallet as it
/// was before the change. Each kind has its fixed index, so ids never depend on which
/// other events a record had.
pub(crate) fn of_wallet_change(before: &Wallet, change: &WalletChange) -> Vec<(u32, EventBody)> {
    let mut out = Vec::new();
    if let Some((tx, entry)) = &change.tx {
        if let TxOutcome::Applied(receipt) = &entry.outcome {
            if receipt.kind != OpKind::EndRound {
                out.push((
                    0,
                    EventBody::Transaction {
                        wallet: before.id,
                        key: before.key.clone(),
                        tx: tx.clone(),
                        kind: receipt.kind,
                        amount: receipt.amount,
                        total: receipt.balance.total,
                    },
                ));
            }
        }
    }
    let balance = change.state.balance();
    if balance != before.state.balance() {
        out.push((
            1,
            EventBody::Balance {
                wallet: before.id,
                key: before.key.clone(),
                balance,
            },
        ));
    }
    if let Some(RoundChange::Upsert(round)) = &change.round {
        let was = match before.rounds.get(&round.id) {
            Some(crate::ledger::rounds::RoundEntry::Open(r)) => Some(r.status),
            _ => None,
        };
        if round.status != RoundStatus::Open && was != Some(round.status) {
            out.push((
                2,
                EventBody::RoundIncomplete {
                    wallet: before.id,
                    key: before.key.clone(),
                    round: round.id.clone(),
                    game: round.game.id.clone(),
                    status: round.status.code(),
                    error: round.error.clone(),
                },
            ));
        }
    }
    out
}
