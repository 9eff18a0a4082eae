//! The tournament domain's typed errors. A returned error means nothing changed.

use super::tournament::TournamentStatus;
use super::validate::ConfigError;
use crate::journal::JournalError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TournamentError {
    #[error("invalid tournament: {0}")]
    Invalid(#[from] ConfigError),
    /// No such tournament in the caller's channel (another channel's is not revealed).
    #[error("tournament {0} not found")]
    NotFound(String),
    #[error("tournament round {0} not found")]
    RoundNotFound(i64),
    #[error("cannot {action} a tournament whose status is {status:?}")]
    WrongState {
        status: TournamentStatus,
        action: &'static str,
    },
    #[error("the channel has too many tournaments (at most {0})")]
    TooManyTournaments(usize),
    #[error("the tournament has too many bound games (at most {0})")]
    TooManyGames(usize),
    /// A prize credit could not be written; the payout resumes on the next tick.
    #[error("payout interrupted: {0}")]
    PayoutInterrupted(String),
    #[error("storage: {0}")]
    Journal(#[from] JournalError),
}
