//! Identifier newtypes. Strings that cross module boundaries are never bare `String`s.
//!
//! String identifiers are validated on construction (non-empty, bounded length, no
//! control characters) so that every layer below the API can rely on them. They are
//! `SmolStr`-backed: up to 23 bytes inline, longer ones shared, so cloning one on the
//! hot path is an increment at most.

use serde::{Deserialize, Serialize};
use smol_str::SmolStr;
use std::fmt;

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{what} is longer than {max} bytes")]
    TooLong { what: &'static str, max: usize },
    #[error("{what} contains a control character")]
    ControlCharacter { what: &'static str },
}

fn validate(s: &str, what: &'static str, max: usize) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { what });
    }
    if s.len() > max {
        return Err(IdError::TooLong { what, max });
    }
    if s.chars().any(char::is_control) {
        return Err(IdError::ControlCharacter { what });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(SmolStr);

        impl $name {
            /// Longest accepted value, in bytes.
            pub const MAX_LEN: usize = $max;

            pub fn new(s: &str) -> Result<$name, IdError> {
                validate(s, $what, $max)?;
                Ok($name(SmolStr::new(s)))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(s: &str) -> Result<$name, IdError> {
                $name::new(s)
            }
        }
    };
}

string_id!(
    /// An operator's channel (brand). Every query is filtered to one channel.
    ChannelId, "channel id", 64);
string_id!(
    /// The operator's identifier of a player (`identifier`, `userIdentity`, `playerId`).
    PlayerId, "player id", 128);
string_id!(
    /// A currency code such as `CNY`; its exponent is configured per currency.
    Currency, "currency", 16);
string_id!(
    /// A caller's transaction id. Unique per wallet (channel + player + currency).
    TxId, "transaction id", 128);
string_id!(
    /// A game round id, unique per wallet.
    RoundId, "round id", 128);
string_id!(
    /// A game's id such as `slot_alice`.
    GameId, "game id", 64);
string_id!(
    /// An operator's API client id (`X-Client-ID`, the `login` user id).
    ClientId, "client id", 64);

impl TxId {
    /// A round id as a transaction id: both are validated to the same rules.
    pub fn from_round(round: &RoundId) -> TxId {
        TxId(round.0.clone())
    }
}

/// A short free-form label (game type, version, developer id), bounded like an id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Label(SmolStr);

impl Label {
    pub const MAX_LEN: usize = 128;

    /// An empty label is allowed (an unknown developer, say).
    pub fn new(s: &str) -> Result<Label, IdError> {
        if s.is_empty() {
            return Ok(Label::default());
        }
        validate(s, "label", Self::MAX_LEN)?;
        Ok(Label(SmolStr::new(s)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A wallet's stable, opaque number. Assigned once when the wallet is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WalletId(pub u64);

/// A game record's id. Increases with the order in which rounds close.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(pub u64);

impl fmt::Display for WalletId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a wallet belongs to: one wallet per (channel, player, currency).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WalletKey {
    pub channel: ChannelId,
    pub player: PlayerId,
    pub currency: Currency,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        assert!(TxId::new("").is_err());
        assert!(TxId::new(&"x".repeat(129)).is_err());
        assert!(TxId::new("a\u{0}b").is_err());
        assert_eq!(
            TxId::new("tx-1").map(|t| t.to_string()),
            Ok("tx-1".to_string())
        );
        assert!(Label::new("").is_ok());
    }
}
