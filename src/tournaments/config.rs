//! A tournament's configuration: the spec as a caller submits it (the fields of
//! Publisher Manual §5.2.2, as typed values: the JSON spelling is the server's, in
//! `server::tournament_spec`) and the validated [`TournamentConfig`] that the rest of
//! the domain uses.
//!
//! Enumerations are kept as free strings and integers so that an unknown value is
//! refused by validation with a typed error naming it.
//! Fields the Publisher Manual does not list, accepted as extensions:
//! - `currency` (tournament): only game rounds in this currency score. Without it
//!   every currency of the channel scores, and a player who plays in two currencies
//!   ranks once per wallet (a wallet is channel + player + currency).
//! - `required_last_round` (round): the Publisher Manual's rule "a player must have played the
//!   previous round"; `false` by default.
//! - `strategy.rules.multiple` (round): a rule over the win multiple (see
//!   [`super::scoring`]).
//! - `limitations.timezone_offset_minutes`: the calendar of every limitation (see
//!   [`super::limitations`]).

use super::decimal::SpecNumber;
use super::limitations::Limitations;
use super::ranked::Score;
use super::scoring::{Rules, Strategy};
use crate::ids::{Currency, Label};
use crate::money::Amount;
use serde::{Deserialize, Serialize};

/// The create-tournament request body (Publisher Manual §5.2.2).
#[derive(Clone, Debug, PartialEq)]
pub struct TournamentSpec {
    pub version: String,
    pub name: String,
    pub start_secs: i64,
    pub end_secs: i64,
    pub rounds: Vec<RoundSpec>,
    pub currency: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RoundSpec {
    pub name: String,
    pub start_secs: i64,
    pub end_secs: i64,
    pub initial: InitialSpec,
    pub prize: Option<PrizeSpec>,
    pub limitations: Option<LimitationsSpec>,
    pub strategy: StrategySpec,
    pub required_last_round: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InitialSpec {
    pub kind: String,
    pub value: SpecNumber,
    pub tiers: Vec<TierSpec>,
}

/// `{"range": [min, max], "value": v}`: used by based initial scores (ranks), prizes
/// (ranks → amount) and tiered rules (input → score).
#[derive(Clone, Debug, PartialEq)]
pub struct TierSpec {
    pub range: Vec<SpecNumber>,
    pub value: SpecNumber,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PrizeSpec {
    pub kind: String,
    pub top: i64,
    pub tiers: Vec<TierSpec>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LimitationsSpec {
    pub availability: Option<AvailabilitySpec>,
    pub matches: Option<MatchesSpec>,
    pub user: Option<UserSpec>,
    pub timezone_offset_minutes: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MatchesSpec {
    pub enabled: bool,
    pub limits: Vec<MatchLimitSpec>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MatchLimitSpec {
    pub kind: String,
    pub value: i64,
    pub days: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UserSpec {
    pub enabled: bool,
    pub time_limit: i64,
    pub kind: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AvailabilitySpec {
    pub enabled: bool,
    pub windows: Vec<WindowSpec>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WindowSpec {
    pub days: Vec<i64>,
    pub start: String,
    pub end: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StrategySpec {
    pub kind: i64,
    pub rules: RulesSpec,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RulesSpec {
    pub bet: Option<RuleSpec>,
    pub win: Option<RuleSpec>,
    pub multiple: Option<RuleSpec>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RuleSpec {
    pub enabled: bool,
    pub kind: String,
    pub rate: Option<SpecNumber>,
    pub tiers: Vec<TierSpec>,
}

/// A validated tournament configuration. Times are Unix seconds; every round's
/// `[start, end)` lies inside the tournament's, rounds are ordered and disjoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TournamentConfig {
    pub name: Label,
    pub start_secs: i64,
    pub end_secs: i64,
    pub currency: Option<Currency>,
    pub rounds: Vec<RoundConfig>,
}

impl TournamentConfig {
    pub fn start_ms(&self) -> i64 {
        self.start_secs.saturating_mul(1000)
    }

    pub fn end_ms(&self) -> i64 {
        self.end_secs.saturating_mul(1000)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundConfig {
    pub name: Label,
    pub start_secs: i64,
    pub end_secs: i64,
    pub initial: Initial,
    pub prize: Option<Prize>,
    pub limitations: Limitations,
    pub strategy: Strategy,
    pub rules: Rules,
    pub required_last_round: bool,
}

impl RoundConfig {
    pub fn start_ms(&self) -> i64 {
        self.start_secs.saturating_mul(1000)
    }

    pub fn end_ms(&self) -> i64 {
        self.end_secs.saturating_mul(1000)
    }
}

/// Ranks `first..=last` (1-based) map to `value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankTier<V> {
    pub first: u64,
    pub last: u64,
    pub value: V,
}

/// The value of the tier holding `rank`, if any. Tiers are sorted and disjoint.
pub fn rank_tier_value<V: Copy>(tiers: &[RankTier<V>], rank: u64) -> Option<V> {
    let i = tiers.partition_point(|t| t.first <= rank);
    let tier = tiers.get(i.checked_sub(1)?)?;
    (rank <= tier.last).then_some(tier.value)
}

/// The score a player starts a round with, on their first counted game.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Initial {
    Fixed(Score),
    /// By the player's rank in the previous round; `default` for ranks in no tier
    /// and for players who did not play it.
    Based {
        default: Score,
        tiers: Vec<RankTier<Score>>,
    },
}

/// `prize.type` "credit": amounts in the minor unit of the winner's wallet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prize {
    pub top: u64,
    /// Continuous from rank 1 to `top`.
    pub tiers: Vec<RankTier<Amount>>,
}
