//! Identifier newtypes. Strings that cross module boundaries are never bare `String`s.
//!
//! String identifiers are validated on construction (non-empty, bounded length, no
//! control characters) so that every layer below the API can rely on them. They are
//! `SmolStr`-backed: up to 23 bytes inline, longer ones shared, so cloning one on the
//! hot path is an increment at most.
//!
//! Decoding (a request, a log record, a snapshot) validates too, so that a file that
//! was not written by this engine cannot smuggle in an id the API would refuse. It is
//! also the hottest part of recovery, which decodes about eleven ids per log record:
//! an id of printable ASCII (nearly every id) is validated in one pass over its bytes
//! instead of a UTF-8 check followed by a scan for control characters.

use serde::de::{self, Deserializer, Unexpected, Visitor};
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
    validate_len(s.len(), what, max)?;
    if s.chars().any(char::is_control) {
        return Err(IdError::ControlCharacter { what });
    }
    Ok(())
}

/// A bounded free text (a URI, say): like an identifier, but it may be empty. The
/// one rule for such strings, so that every module refuses the same ones.
pub fn check_text(s: &str, what: &'static str, max: usize) -> Result<(), IdError> {
    if s.is_empty() {
        return Ok(());
    }
    validate(s, what, max)
}

/// The length rules of [`validate`].
fn validate_len(len: usize, what: &'static str, max: usize) -> Result<(), IdError> {
    if len == 0 {
        return Err(IdError::Empty { what });
    }
    if len > max {
        return Err(IdError::TooLong { what, max });
    }
    Ok(())
}

/// Decodes an id's string and validates it as the id's `new` does (`allow_empty`:
/// labels may be empty).
fn decode_id<'de, D: Deserializer<'de>>(
    deserializer: D,
    what: &'static str,
    max: usize,
    allow_empty: bool,
) -> Result<SmolStr, D::Error> {
    let visitor = IdVisitor {
        what,
        max,
        allow_empty,
    };
    // Binary formats (postcard) write a string as its bytes, so asking for bytes skips
    // their UTF-8 check: the visitor does its own, fused with the validation.
    if deserializer.is_human_readable() {
        deserializer.deserialize_str(visitor)
    } else {
        deserializer.deserialize_bytes(visitor)
    }
}

struct IdVisitor {
    what: &'static str,
    max: usize,
    allow_empty: bool,
}

impl IdVisitor {
    fn check<E: de::Error>(&self, s: &str) -> Result<SmolStr, E> {
        if !(self.allow_empty && s.is_empty()) {
            validate(s, self.what, self.max).map_err(E::custom)?;
        }
        Ok(SmolStr::new(s))
    }
}

impl<'de> Visitor<'de> for IdVisitor {
    type Value = SmolStr;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} of at most {} bytes", self.what, self.max)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<SmolStr, E> {
        self.check(s)
    }

    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<SmolStr, E> {
        // Branch-free over the bytes (ids are short; this vectorizes).
        if b.iter()
            .fold(true, |ok, &c| ok & (c.wrapping_sub(0x20) < 0x5f))
        {
            if !(self.allow_empty && b.is_empty()) {
                validate_len(b.len(), self.what, self.max).map_err(E::custom)?;
            }
            // SAFETY: every byte is printable ASCII (checked just above), and ASCII is
            // valid UTF-8. Such a string has no control character either, so it passes
            // `validate` given the length check above.
            let s = unsafe { std::str::from_utf8_unchecked(b) };
            return Ok(SmolStr::new(s));
        }
        match std::str::from_utf8(b) {
            Ok(s) => self.check(s),
            Err(_) => Err(E::invalid_value(Unexpected::Bytes(b), &self)),
        }
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(SmolStr);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                decode_id(deserializer, $what, $max, false).map($name)
            }
        }

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
    /// A tournament's public id (`tourneyId`): a v4 UUID when the engine makes one.
    TourneyId, "tournament id", 64);
string_id!(
    /// A tournament round leaderboard's public id (`leaderboardId`).
    LeaderboardId, "leaderboard id", 64);

impl TourneyId {
    /// A fresh random id (a v4 UUID, as the Publisher Manual's examples show).
    pub fn random() -> TourneyId {
        TourneyId(SmolStr::new(uuid::Uuid::new_v4().to_string()))
    }
}

impl LeaderboardId {
    /// A fresh random id (a v4 UUID).
    pub fn random() -> LeaderboardId {
        LeaderboardId(SmolStr::new(uuid::Uuid::new_v4().to_string()))
    }
}
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Label(SmolStr);

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        decode_id(deserializer, "label", Label::MAX_LEN, true).map(Label)
    }
}

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

    /// What a string decodes to, from postcard and from JSON.
    fn decoded<T: serde::de::DeserializeOwned>(s: &str) -> (Option<T>, Option<T>) {
        let bytes = postcard::to_stdvec(s).expect("encode");
        let json = serde_json::to_string(s).expect("encode");
        (
            postcard::from_bytes(&bytes).ok(),
            serde_json::from_str(&json).ok(),
        )
    }

    #[test]
    fn decoding_validates_as_new_does() {
        for bad in ["", "a\u{0}b", "tab\there", "del\u{7f}", "c1\u{85}"] {
            assert_eq!(decoded::<TxId>(bad), (None, None), "{bad:?}");
        }
        let long = "x".repeat(129);
        assert_eq!(decoded::<TxId>(&long), (None, None));
        assert_eq!(decoded::<Label>(&long), (None, None));
        let ok = TxId::new("tx-1").ok();
        assert_eq!(decoded::<TxId>("tx-1"), (ok.clone(), ok));
        let wide = PlayerId::new("玩家-1").ok();
        assert!(wide.is_some());
        assert_eq!(decoded::<PlayerId>("玩家-1"), (wide.clone(), wide));
        assert_eq!(
            decoded::<Label>(""),
            (Some(Label::default()), Some(Label::default()))
        );
        // Bytes that are not UTF-8 are refused (postcard: a length, then the bytes).
        assert!(postcard::from_bytes::<TxId>(&[3, 0x66, 0xff, 0x67]).is_err());
        assert!(postcard::from_bytes::<TxId>(&[3, 0x66, 0x6f, 0x67]).is_ok());
    }

    proptest::proptest! {
        /// Decoding any string gives exactly what `new` gives.
        #[test]
        fn decoding_agrees_with_new(s in "\\PC{0,20}|[ -~]{0,140}|[\\x00-\\x7f]{0,10}") {
            let want = TxId::new(&s).ok();
            proptest::prop_assert_eq!(decoded::<TxId>(&s), (want.clone(), want));
            let want = Label::new(&s).ok();
            proptest::prop_assert_eq!(decoded::<Label>(&s), (want.clone(), want));
        }
    }
}
