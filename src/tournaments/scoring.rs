//! Scoring: the score one closed game round earns, and how a player's round score
//! folds it in (Publisher Manual §5.2.2 `strategy`).
//!
//! # Fixed point
//! A [`Score`] is an `i64` in units of 1/[`SCORE_SCALE`] point: `10_000` = 1 point,
//! so a score carries four decimal places and sums are exact (no float is involved). Rule
//! inputs and rates are fixed point with six places ([`INPUT_SCALE`]): a rate finer
//! than `0.000001` is refused when the spec is validated.
//!
//! # Inputs
//! - `bet`: the round's `total_bet` (bets not refunded), in the currency's minor unit.
//! - `win`: the round's `total_win`, in the minor unit.
//! - `multiple` (an extension of spec 1.0, optional): the round's win multiple,
//!   `total_win / total_bet`, truncated to six places; a round without a bet has no
//!   multiple and its `multiple` rule scores 0. The record's `meta.multiple` (the
//!   game's own bet multiplier) is not a scoring input.
//!
//! # Rules
//! `rate`: input × rate, **rounded down** to a score unit. `tiered`: the value of
//! the tier whose inclusive `[min, max]` holds the input, 0 if none does. A game's
//! score is the sum of its enabled rules. Arithmetic is `i128` and exact; a result
//! beyond `i64` saturates (a score cannot be refused after the money moved).

use crate::money::Amount;
use crate::tournaments::ranked::Score;
use serde::{Deserialize, Serialize};

/// Score units per point.
pub const SCORE_SCALE: i64 = 10_000;
/// Decimal places of a score.
pub const SCORE_DIGITS: u32 = 4;
/// Units per 1 of a rule input or a rate.
pub const INPUT_SCALE: i128 = 1_000_000;
/// Decimal places of a rule input or a rate.
pub const INPUT_DIGITS: u32 = 6;

/// How a player's round score takes in each counted game (`strategy.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Strategy {
    /// 0: the sum of the initial score and every game's score.
    Sum,
    /// 1: the highest of the initial score and each game's score.
    Highest,
    /// 2: the latest game's score (the initial score only until the first game).
    Latest,
}

impl Strategy {
    pub fn from_code(code: i64) -> Option<Strategy> {
        match code {
            0 => Some(Strategy::Sum),
            1 => Some(Strategy::Highest),
            2 => Some(Strategy::Latest),
            _ => None,
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Strategy::Sum => 0,
            Strategy::Highest => 1,
            Strategy::Latest => 2,
        }
    }

    /// The score after a game scoring `game`, from `current` (the initial score for
    /// a player's first counted game).
    pub fn fold(self, current: Score, game: Score) -> Score {
        match self {
            Strategy::Sum => current.saturating_add(game),
            Strategy::Highest => current.max(game),
            Strategy::Latest => game,
        }
    }
}

/// Which quantity of a game round a rule reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RuleInput {
    Bet,
    Win,
    Multiple,
}

impl RuleInput {
    pub fn name(self) -> &'static str {
        match self {
            RuleInput::Bet => "bet",
            RuleInput::Win => "win",
            RuleInput::Multiple => "multiple",
        }
    }
}

/// One tier of a `tiered` rule: inputs in `[min, max]` (input units) score `value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueTier {
    pub min: i128,
    pub max: i128,
    pub value: Score,
}

/// A validated scoring rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rule {
    /// input × `micros` / 10^6, rounded down. `0 ≤ micros ≤ 10^6` (rate ≤ 1).
    Rate { micros: i64 },
    /// Tiers sorted by `min`, not overlapping; an input in no tier scores 0.
    Tiered(Vec<ValueTier>),
}

impl Rule {
    /// The score of `input` (in input units).
    pub fn score(&self, input: i128) -> Score {
        match self {
            Rule::Rate { micros } => rate_score(input, *micros),
            Rule::Tiered(tiers) => tier_value(tiers, input),
        }
    }
}

/// input × rate in score units, rounded down, saturating at the `i64` range.
pub fn rate_score(input: i128, rate_micros: i64) -> Score {
    debug_assert!((0..=INPUT_SCALE as i64).contains(&rate_micros));
    // |input| ≤ 9.3e24 and rate ≤ 1e6 and the scale 1e4: the product stays below
    // 1e35, far inside i128; checked anyway so that a wrong caller saturates.
    let product = input
        .checked_mul(i128::from(rate_micros))
        .and_then(|p| p.checked_mul(i128::from(SCORE_SCALE)));
    match product {
        Some(p) => saturate(p.div_euclid(INPUT_SCALE * INPUT_SCALE)),
        None if input < 0 => Score::MIN,
        None => Score::MAX,
    }
}

fn tier_value(tiers: &[ValueTier], input: i128) -> Score {
    // Tiers are sorted and disjoint: the only candidate is the last tier whose
    // `min` is at most the input.
    let i = tiers.partition_point(|t| t.min <= input);
    match i.checked_sub(1).map(|i| &tiers[i]) {
        Some(t) if input <= t.max => t.value,
        _ => 0,
    }
}

fn saturate(v: i128) -> Score {
    Score::try_from(v).unwrap_or(if v < 0 { Score::MIN } else { Score::MAX })
}

/// An amount as a rule input.
pub fn amount_input(amount: Amount) -> i128 {
    i128::from(amount.minor_units()) * INPUT_SCALE
}

/// The win multiple `win / bet` as a rule input, truncated; `None` without a bet.
pub fn multiple_input(bet: Amount, win: Amount) -> Option<i128> {
    if !bet.is_positive() {
        return None;
    }
    let win = i128::from(win.minor_units()) * INPUT_SCALE;
    Some(win.div_euclid(i128::from(bet.minor_units())))
}

/// The enabled rules of a round (`strategy.rules`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    pub bet: Option<Rule>,
    pub win: Option<Rule>,
    pub multiple: Option<Rule>,
}

impl Rules {
    /// The score a game round with these totals earns: the sum of the enabled rules.
    pub fn score(&self, bet: Amount, win: Amount) -> Score {
        let bet_score = self.bet.as_ref().map_or(0, |r| r.score(amount_input(bet)));
        let win_score = self.win.as_ref().map_or(0, |r| r.score(amount_input(win)));
        let multiple_score = match (&self.multiple, multiple_input(bet, win)) {
            (Some(rule), Some(m)) => rule.score(m),
            _ => 0,
        };
        bet_score
            .saturating_add(win_score)
            .saturating_add(multiple_score)
    }

    pub fn is_empty(&self) -> bool {
        self.bet.is_none() && self.win.is_none() && self.multiple.is_none()
    }
}

/// A score as decimal text with its four places (`12.5` for 125_000), for the API
/// edge to write as a JSON number without going through a float.
pub fn score_text(score: Score) -> String {
    let sign = if score < 0 { "-" } else { "" };
    let abs = score.unsigned_abs();
    let scale = SCORE_SCALE as u64;
    let (int, frac) = (abs / scale, abs % scale);
    if frac == 0 {
        return format!("{sign}{int}");
    }
    let frac = format!("{frac:04}");
    format!("{sign}{int}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_rounds_down() {
        // 0.2 × 3 minor units = 0.6 points = 6000 units exactly.
        assert_eq!(rate_score(amount_input(Amount::new(3)), 200_000), 6_000);
        // 0.333333 × 1 = 0.333333 points → 3333 units (rounded down).
        assert_eq!(rate_score(amount_input(Amount::new(1)), 333_333), 3_333);
        assert_eq!(score_text(125_000), "12.5");
        assert_eq!(score_text(-5), "-0.0005");
        assert_eq!(score_text(20_000), "2");
    }
}
