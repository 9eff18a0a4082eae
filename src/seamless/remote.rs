//! The seam between seamless mode and a network: what a call asks of an operator's
//! wallet and what its answer means, whatever the dialect. The server implements
//! [`RemoteWallets`] over HTTP (`server::outbound`); a simulator or a test can put
//! anything behind it.

use super::Destination;
use crate::ids::{Currency, GameId, PlayerId, RoundId, TxId};
use crate::money::Amount;
use std::future::Future;
use std::pin::Pin;

/// What one call asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteOp {
    Balance,
    /// Take `amount` for a bet of round `round`.
    Bet {
        tx: TxId,
        round: RoundId,
        game: GameId,
        amount: Amount,
    },
    /// Pay `amount` (a win) to round `round`; `end_round` as the game server said.
    Credit {
        tx: TxId,
        round: RoundId,
        game: GameId,
        amount: Amount,
        end_round: bool,
    },
    /// Pay a prize of `amount` (no round).
    Prize {
        tx: TxId,
        amount: Amount,
    },
    /// Return bet `bet_tx` (of `amount`) of round `round`, if it happened.
    Refund {
        bet_tx: TxId,
        round: RoundId,
        game: GameId,
        amount: Amount,
    },
}

/// One call: to whom, about which player, what.
#[derive(Clone, Debug)]
pub struct RemoteCall {
    pub to: Destination,
    pub player: PlayerId,
    pub currency: Currency,
    pub op: RemoteOp,
}

/// Why a wallet refused a call for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decline {
    InsufficientBalance,
    UnknownPlayer,
    /// Anything else the dialect calls final (a conflicting id, a bad amount, …).
    Refused,
}

/// What an answer means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteAnswer {
    /// The call took effect (or had, for a repeated id); the player's balance after it.
    Done { balance: Amount },
    /// A refund found no such bet: it never happened there, so nothing is owed.
    NoSuchBet,
    /// Refused for good: nothing happened.
    Declined { reason: Decline, message: String },
    /// No final answer (time-out, broken connection, 5xx, "in progress", a body not
    /// understood): the call may or may not have taken effect.
    Unknown(String),
    /// Not sent: the operator's calls in flight are at their bound.
    Busy,
}

/// A transport to operators' wallets. `send` must not block: it returns a future,
/// which resolves within the transport's own time limit.
pub trait RemoteWallets: Send + Sync + 'static {
    fn send(&self, call: RemoteCall) -> Pin<Box<dyn Future<Output = RemoteAnswer> + Send>>;
}
