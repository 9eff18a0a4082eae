//! The JSON shape of a tournament spec (Publisher Manual §5.2.2): field spellings,
//! defaults and number reading, at the edge. The domain takes the typed
//! [`TournamentSpec`]; this module is the one place that knows how it is written.
//!
//! Numbers (`rate`, tier `value`s and ranges, the initial `value`) are read from the
//! body's own text, never through an `f64`: `0.2` stays the decimal 0.2. A number may
//! also be sent as a JSON string (`"0.2"`). Unknown fields are ignored; enumerations
//! arrive as strings and integers so that validation names an unknown value.

use crate::server::request::json_string;
use crate::tournaments::config::{
    AvailabilitySpec, InitialSpec, LimitationsSpec, MatchLimitSpec, MatchesSpec, PrizeSpec,
    RoundSpec, RuleSpec, RulesSpec, StrategySpec, TierSpec, TournamentSpec, UserSpec, WindowSpec,
};
use crate::tournaments::decimal::{SpecNumber, NUMBER_TEXT_MAX};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Why a body is not a tournament spec.
#[derive(Debug, thiserror::Error)]
#[error("invalid tournament spec: {0}")]
pub struct SpecParseError(#[from] serde_json::Error);

/// A tournament spec from a JSON body.
pub fn parse(body: &[u8]) -> Result<TournamentSpec, SpecParseError> {
    let json: TournamentJson = serde_json::from_slice(body)?;
    Ok(json.into())
}

/// A spec number from one JSON value's text: a number, or a string holding one.
pub fn number(text: &str) -> Result<SpecNumber, SpecParseError> {
    let n: JsonNumber = serde_json::from_str(text)?;
    Ok(n.into())
}

/// A number of the spec as written: a JSON number's own text, or a string's contents.
struct JsonNumber(String);

impl<'de> Deserialize<'de> for JsonNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JsonNumber, D::Error> {
        let raw = <&RawValue>::deserialize(d)?;
        let text = raw.get();
        let text = match text.as_bytes().first() {
            Some(b'-' | b'0'..=b'9') => text.to_owned(),
            Some(b'"') => json_string(text)
                .ok_or_else(|| de::Error::custom("a bad string"))?
                .into_owned(),
            _ => {
                return Err(de::Error::custom(
                    "a number, or a decimal number as a string",
                ))
            }
        };
        if text.len() > NUMBER_TEXT_MAX {
            return Err(de::Error::custom("a number of more than 48 characters"));
        }
        Ok(JsonNumber(text))
    }
}

impl From<JsonNumber> for SpecNumber {
    fn from(n: JsonNumber) -> SpecNumber {
        SpecNumber::new(&n.0)
    }
}

#[derive(Deserialize)]
struct TournamentJson {
    version: String,
    name: String,
    start: i64,
    end: i64,
    rounds: Vec<RoundJson>,
    #[serde(default)]
    currency: Option<String>,
}

#[derive(Deserialize)]
struct RoundJson {
    name: String,
    start: i64,
    end: i64,
    initial: InitialJson,
    #[serde(default)]
    prize: Option<PrizeJson>,
    #[serde(default)]
    limitations: Option<LimitationsJson>,
    strategy: StrategyJson,
    #[serde(default)]
    required_last_round: bool,
}

#[derive(Deserialize)]
struct InitialJson {
    #[serde(rename = "type")]
    kind: String,
    value: JsonNumber,
    #[serde(default)]
    tiers: Vec<TierJson>,
}

#[derive(Deserialize)]
struct TierJson {
    range: Vec<JsonNumber>,
    value: JsonNumber,
}

#[derive(Deserialize)]
struct PrizeJson {
    #[serde(rename = "type")]
    kind: String,
    top: i64,
    tiers: Vec<TierJson>,
}

#[derive(Deserialize, Default)]
struct LimitationsJson {
    #[serde(default)]
    availability: Option<AvailabilityJson>,
    #[serde(default)]
    matches: Option<MatchesJson>,
    #[serde(default)]
    user: Option<UserJson>,
    #[serde(default)]
    timezone_offset_minutes: Option<i64>,
}

#[derive(Deserialize)]
struct MatchesJson {
    enabled: bool,
    #[serde(default)]
    limits: Vec<MatchLimitJson>,
}

#[derive(Deserialize)]
struct MatchLimitJson {
    #[serde(rename = "type")]
    kind: String,
    value: i64,
    #[serde(default)]
    days: Option<i64>,
}

#[derive(Deserialize)]
struct UserJson {
    enabled: bool,
    time_limit: i64,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct AvailabilityJson {
    enabled: bool,
    #[serde(default)]
    windows: Vec<WindowJson>,
}

#[derive(Deserialize)]
struct WindowJson {
    days: Vec<i64>,
    start: String,
    end: String,
}

#[derive(Deserialize)]
struct StrategyJson {
    #[serde(rename = "type")]
    kind: i64,
    rules: RulesJson,
}

#[derive(Deserialize, Default)]
struct RulesJson {
    #[serde(default)]
    bet: Option<RuleJson>,
    #[serde(default)]
    win: Option<RuleJson>,
    #[serde(default)]
    multiple: Option<RuleJson>,
}

#[derive(Deserialize)]
struct RuleJson {
    enabled: bool,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    rate: Option<JsonNumber>,
    #[serde(default)]
    tiers: Vec<TierJson>,
}

impl From<TournamentJson> for TournamentSpec {
    fn from(j: TournamentJson) -> TournamentSpec {
        TournamentSpec {
            version: j.version,
            name: j.name,
            start_secs: j.start,
            end_secs: j.end,
            rounds: j.rounds.into_iter().map(Into::into).collect(),
            currency: j.currency,
        }
    }
}

impl From<RoundJson> for RoundSpec {
    fn from(j: RoundJson) -> RoundSpec {
        RoundSpec {
            name: j.name,
            start_secs: j.start,
            end_secs: j.end,
            initial: j.initial.into(),
            prize: j.prize.map(Into::into),
            limitations: j.limitations.map(Into::into),
            strategy: j.strategy.into(),
            required_last_round: j.required_last_round,
        }
    }
}

impl From<InitialJson> for InitialSpec {
    fn from(j: InitialJson) -> InitialSpec {
        InitialSpec {
            kind: j.kind,
            value: j.value.into(),
            tiers: j.tiers.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<TierJson> for TierSpec {
    fn from(j: TierJson) -> TierSpec {
        TierSpec {
            range: j.range.into_iter().map(Into::into).collect(),
            value: j.value.into(),
        }
    }
}

impl From<PrizeJson> for PrizeSpec {
    fn from(j: PrizeJson) -> PrizeSpec {
        PrizeSpec {
            kind: j.kind,
            top: j.top,
            tiers: j.tiers.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<LimitationsJson> for LimitationsSpec {
    fn from(j: LimitationsJson) -> LimitationsSpec {
        LimitationsSpec {
            availability: j.availability.map(Into::into),
            matches: j.matches.map(Into::into),
            user: j.user.map(Into::into),
            timezone_offset_minutes: j.timezone_offset_minutes,
        }
    }
}

impl From<MatchesJson> for MatchesSpec {
    fn from(j: MatchesJson) -> MatchesSpec {
        MatchesSpec {
            enabled: j.enabled,
            limits: j.limits.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<MatchLimitJson> for MatchLimitSpec {
    fn from(j: MatchLimitJson) -> MatchLimitSpec {
        MatchLimitSpec {
            kind: j.kind,
            value: j.value,
            days: j.days,
        }
    }
}

impl From<UserJson> for UserSpec {
    fn from(j: UserJson) -> UserSpec {
        UserSpec {
            enabled: j.enabled,
            time_limit: j.time_limit,
            kind: j.kind,
        }
    }
}

impl From<AvailabilityJson> for AvailabilitySpec {
    fn from(j: AvailabilityJson) -> AvailabilitySpec {
        AvailabilitySpec {
            enabled: j.enabled,
            windows: j.windows.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<WindowJson> for WindowSpec {
    fn from(j: WindowJson) -> WindowSpec {
        WindowSpec {
            days: j.days,
            start: j.start,
            end: j.end,
        }
    }
}

impl From<StrategyJson> for StrategySpec {
    fn from(j: StrategyJson) -> StrategySpec {
        StrategySpec {
            kind: j.kind,
            rules: j.rules.into(),
        }
    }
}

impl From<RulesJson> for RulesSpec {
    fn from(j: RulesJson) -> RulesSpec {
        RulesSpec {
            bet: j.bet.map(Into::into),
            win: j.win.map(Into::into),
            multiple: j.multiple.map(Into::into),
        }
    }
}

impl From<RuleJson> for RuleSpec {
    fn from(j: RuleJson) -> RuleSpec {
        RuleSpec {
            enabled: j.enabled,
            kind: j.kind,
            rate: j.rate.map(Into::into),
            tiers: j.tiers.into_iter().map(Into::into).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_written() {
        let text = |t: &str| number(t).map(|n| n.text().to_owned()).ok();
        assert_eq!(text("0.2"), Some("0.2".into()));
        assert_eq!(text("1e-7"), Some("1e-7".into()));
        assert_eq!(
            text("0.30000000000000004"),
            Some("0.30000000000000004".into())
        );
        assert_eq!(text("\"0.5\""), Some("0.5".into()));
        assert_eq!(text("true"), None);
        assert_eq!(text("[1]"), None);
        assert_eq!(text(&"1".repeat(49)), None);
    }

    #[test]
    fn a_spec_parses_with_its_spellings_and_defaults() {
        let body = br#"{"version":"1.0","name":"cup","start":1,"end":9,"rounds":[{"name":"r1",
            "start":1,"end":9,"initial":{"type":"fixed","value":0},"strategy":{"type":0,
            "rules":{"bet":{"enabled":true,"type":"rate","rate":0.1}}}}]}"#;
        let spec = parse(body).expect("a spec");
        let round = &spec.rounds[0];
        assert_eq!(round.initial.kind, "fixed");
        assert_eq!(round.prize, None);
        assert!(!round.required_last_round);
        let bet = round.strategy.rules.bet.as_ref().expect("a bet rule");
        assert_eq!(bet.rate.as_ref().map(SpecNumber::text), Some("0.1"));
        assert!(parse(b"{}").is_err());
        assert!(parse(br#"{"version":1}"#).is_err());
    }
}
