//! Validation of a tournament spec into a [`TournamentConfig`]: every rule of the
//! Publisher Manual §5.2.4, plus the limits this engine puts on everything, each with its own
//! typed error. Round numbers in errors are 1-based, tier indexes 0-based.

use super::config::*;
use super::decimal::SpecNumber;
use super::limitations::{
    Calendar, CapKind, Limitations, MatchCaps, Period, TimeLimit, Window, LATEST_DAYS_MAX,
    TZ_OFFSET_MAX_MINUTES, WINDOWS_MAX,
};
use super::ranked::Score;
use super::scoring::{
    Rule, RuleInput, Rules, Strategy, ValueTier, INPUT_DIGITS, INPUT_SCALE, SCORE_DIGITS,
    SCORE_SCALE,
};
use crate::ids::{Currency, IdError, Label};
use crate::money::Amount;
use std::fmt;

/// The only spec version this engine reads.
pub const VERSION: &str = "1.0";
pub const ROUNDS_MAX: usize = 64;
pub const TIERS_MAX: usize = 64;
/// Most ranks a round's prize may pay.
pub const PRIZE_TOP_MAX: u64 = 10_000;
/// Latest accepted timestamp: 10^11 s is the year 5138, so anything larger is
/// almost certainly milliseconds sent by mistake.
pub const TIME_MAX: i64 = 100_000_000_000;
/// Largest score value (initial or tier), in points.
pub const SCORE_POINTS_MAX: i64 = 1_000_000_000;
/// Largest per-player game cap.
pub const MATCHES_MAX: i64 = 1_000_000;
/// Longest `user.time_limit`: a year.
pub const TIME_LIMIT_MAX_SECONDS: i64 = 366 * 24 * 3600;

/// Which tier list an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TierOf {
    Initial,
    Prize,
    Rule(RuleInput),
}

impl fmt::Display for TierOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TierOf::Initial => f.write_str("initial"),
            TierOf::Prize => f.write_str("prize"),
            TierOf::Rule(r) => write!(f, "{} rule", r.name()),
        }
    }
}

/// Why a spec was refused. Nothing is created when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("unsupported version {0:?}: expected \"1.0\"")]
    UnsupportedVersion(String),
    #[error("the tournament name must not be empty")]
    EmptyName,
    #[error("round {round}: the name must not be empty")]
    EmptyRoundName { round: usize },
    #[error("invalid name: {0}")]
    BadName(IdError),
    #[error("invalid currency: {0}")]
    BadCurrency(IdError),
    #[error("time {0} is not a Unix time in seconds")]
    TimeOutOfRange(i64),
    #[error("the tournament must start before it ends")]
    TournamentTimes,
    #[error("the tournament has no rounds")]
    NoRounds,
    #[error("too many rounds: {0} (at most {ROUNDS_MAX})")]
    TooManyRounds(usize),
    #[error("round {round}: it must start before it ends")]
    RoundTimes { round: usize },
    #[error("round {round} is not inside the tournament's time")]
    RoundOutsideTournament { round: usize },
    #[error("round {round} starts before the round before it")]
    RoundsNotOrdered { round: usize },
    #[error("round {round} overlaps the round before it")]
    RoundsOverlap { round: usize },
    #[error("round {round}: unknown initial type {kind:?}")]
    UnknownInitialType { round: usize, kind: String },
    #[error("round {round}: a based initial score needs a previous round")]
    BasedWithoutPreviousRound { round: usize },
    #[error("round {round}: required_last_round needs a previous round")]
    RequiredLastRoundWithoutPrevious { round: usize },
    #[error("round {round}: invalid {what} {text:?}")]
    BadValue {
        round: usize,
        what: &'static str,
        text: String,
    },
    #[error("round {round}: unknown strategy type {code}")]
    UnknownStrategy { round: usize, code: i64 },
    #[error("round {round}: no scoring rule is enabled")]
    NoScoringRule { round: usize },
    #[error("round {round}: unknown {rule:?} rule type {kind:?}")]
    UnknownRuleType {
        round: usize,
        rule: RuleInput,
        kind: String,
    },
    #[error("round {round}: the {rule:?} rule has no rate")]
    RateMissing { round: usize, rule: RuleInput },
    #[error("round {round}: the {rule:?} rate {rate} is not within [0, 1]")]
    RateOutOfRange {
        round: usize,
        rule: RuleInput,
        rate: String,
    },
    #[error("round {round}: the {rule:?} rate {rate} has more than 6 decimal places")]
    RateTooPrecise {
        round: usize,
        rule: RuleInput,
        rate: String,
    },
    #[error("round {round}: the {of} has no tiers")]
    TiersMissing { round: usize, of: TierOf },
    #[error("round {round}: the {of} has {count} tiers (at most {TIERS_MAX})")]
    TooManyTiers {
        round: usize,
        of: TierOf,
        count: usize,
    },
    #[error("round {round}: {of} tier {index} needs a range [min, max] with min ≤ max")]
    TierRangeMalformed {
        round: usize,
        of: TierOf,
        index: usize,
    },
    #[error("round {round}: {of} tier {index} overlaps or precedes the tier before it")]
    TiersOverlap {
        round: usize,
        of: TierOf,
        index: usize,
    },
    #[error("round {round}: {of} tier {index} has an invalid value")]
    TierValueInvalid {
        round: usize,
        of: TierOf,
        index: usize,
    },
    #[error("round {round}: unknown prize type {kind:?}")]
    UnknownPrizeType { round: usize, kind: String },
    #[error("round {round}: prize ranges must run on from rank 1 without gaps (tier {index})")]
    PrizeRangesNotContinuous { round: usize, index: usize },
    #[error("round {round}: prize top {top} is not within 1..={PRIZE_TOP_MAX}")]
    PrizeTopOutOfRange { round: usize, top: i64 },
    #[error("round {round}: prize top {top} but the tiers end at rank {last}")]
    PrizeTopMismatch { round: usize, top: i64, last: u64 },
    #[error("round {round}: unknown match limit type {kind:?}")]
    UnknownMatchLimitType { round: usize, kind: String },
    #[error("round {round}: the {kind:?} match limit appears twice")]
    DuplicateMatchLimit { round: usize, kind: CapKind },
    #[error("round {round}: match limit {value} is not within 1..={MATCHES_MAX}")]
    MatchLimitValue { round: usize, value: i64 },
    #[error("round {round}: latest-days {days:?} is not within 1..={LATEST_DAYS_MAX}")]
    LatestDaysOutOfRange { round: usize, days: Option<i64> },
    #[error("round {round}: match limits are enabled but none is given")]
    NoMatchLimits { round: usize },
    #[error("round {round}: time_limit {seconds} is not within 1..={TIME_LIMIT_MAX_SECONDS}")]
    TimeLimitOutOfRange { round: usize, seconds: i64 },
    #[error("round {round}: unknown time limit type {kind:?}")]
    UnknownTimeLimitType { round: usize, kind: String },
    #[error("round {round}: availability is enabled but has no windows")]
    NoAvailabilityWindows { round: usize },
    #[error("round {round}: {count} availability windows (at most {WINDOWS_MAX})")]
    TooManyWindows { round: usize, count: usize },
    #[error("round {round}: window {window} needs weekdays 1..=7, each once")]
    WindowDays { round: usize, window: usize },
    #[error("round {round}: window {window} time {text:?} is not HH:MM")]
    WindowTime {
        round: usize,
        window: usize,
        text: String,
    },
    #[error("round {round}: window {window} must start before it ends")]
    WindowEmpty { round: usize, window: usize },
    #[error("round {round}: time zone offset {minutes} minutes is out of range")]
    TimezoneOutOfRange { round: usize, minutes: i64 },
}

type Result<T> = std::result::Result<T, ConfigError>;

impl TournamentSpec {
    /// Checks every rule and builds the typed configuration.
    pub fn validate(&self) -> Result<TournamentConfig> {
        if self.version != VERSION {
            return Err(ConfigError::UnsupportedVersion(self.version.clone()));
        }
        let name = name(&self.name).ok_or(ConfigError::EmptyName)??;
        check_times(self.start_secs, self.end_secs).ok_or(ConfigError::TournamentTimes)??;
        if self.rounds.is_empty() {
            return Err(ConfigError::NoRounds);
        }
        if self.rounds.len() > ROUNDS_MAX {
            return Err(ConfigError::TooManyRounds(self.rounds.len()));
        }
        let currency = match &self.currency {
            Some(c) => Some(Currency::new(c).map_err(ConfigError::BadCurrency)?),
            None => None,
        };
        let mut rounds = Vec::with_capacity(self.rounds.len());
        for (i, r) in self.rounds.iter().enumerate() {
            rounds.push(round(self, i, r)?);
        }
        debug_assert!(rounds.windows(2).all(|w| w[0].end_secs <= w[1].start_secs));
        Ok(TournamentConfig {
            name,
            start_secs: self.start_secs,
            end_secs: self.end_secs,
            currency,
            rounds,
        })
    }
}

/// `None` for an empty name; otherwise the label or why it is refused.
fn name(s: &str) -> Option<Result<Label>> {
    (!s.is_empty()).then(|| Label::new(s).map_err(ConfigError::BadName))
}

/// `None` when start ≥ end; otherwise whether both are plausible Unix seconds.
fn check_times(start: i64, end: i64) -> Option<Result<()>> {
    for t in [start, end] {
        if !(0..=TIME_MAX).contains(&t) {
            return Some(Err(ConfigError::TimeOutOfRange(t)));
        }
    }
    (start < end).then_some(Ok(()))
}

fn round(spec: &TournamentSpec, i: usize, r: &RoundSpec) -> Result<RoundConfig> {
    let n = i + 1;
    let name = name(&r.name).ok_or(ConfigError::EmptyRoundName { round: n })??;
    check_times(r.start_secs, r.end_secs).ok_or(ConfigError::RoundTimes { round: n })??;
    if r.start_secs < spec.start_secs || r.end_secs > spec.end_secs {
        return Err(ConfigError::RoundOutsideTournament { round: n });
    }
    if let Some(prev) = i.checked_sub(1).map(|p| &spec.rounds[p]) {
        if r.start_secs < prev.start_secs {
            return Err(ConfigError::RoundsNotOrdered { round: n });
        }
        if r.start_secs < prev.end_secs {
            return Err(ConfigError::RoundsOverlap { round: n });
        }
    }
    if r.required_last_round && i == 0 {
        return Err(ConfigError::RequiredLastRoundWithoutPrevious { round: n });
    }
    let limitations = match &r.limitations {
        Some(l) => limitations(n, l)?,
        None => Limitations::default(),
    };
    Ok(RoundConfig {
        name,
        start_secs: r.start_secs,
        end_secs: r.end_secs,
        initial: initial(n, i > 0, &r.initial)?,
        prize: r.prize.as_ref().map(|p| prize(n, p)).transpose()?,
        limitations,
        strategy: Strategy::from_code(r.strategy.kind).ok_or(ConfigError::UnknownStrategy {
            round: n,
            code: r.strategy.kind,
        })?,
        rules: rules(n, &r.strategy.rules)?,
        required_last_round: r.required_last_round,
    })
}

/// A score value (points, up to four places) in score units.
fn score_value(v: &SpecNumber) -> Option<Score> {
    let units = v.decimal().ok()?.to_fixed(SCORE_DIGITS)?;
    let max = i128::from(SCORE_POINTS_MAX) * i128::from(SCORE_SCALE);
    (-max..=max).contains(&units).then_some(units as Score)
}

/// A 1-based rank.
fn rank(v: &SpecNumber) -> Option<u64> {
    let r = v.decimal().ok()?.to_fixed(0)?;
    (1..=i128::from(u32::MAX)).contains(&r).then_some(r as u64)
}

/// A rule input bound (amount or multiple), in input units.
fn input_bound(v: &SpecNumber) -> Option<i128> {
    let x = v.decimal().ok()?.to_fixed(INPUT_DIGITS)?;
    (0..=i128::from(i64::MAX) * INPUT_SCALE)
        .contains(&x)
        .then_some(x)
}

/// A prize: a positive whole amount in minor units.
fn prize_amount(v: &SpecNumber) -> Option<Amount> {
    let x = v.decimal().ok()?.to_fixed(0)?;
    let x = i64::try_from(x).ok().filter(|x| *x > 0)?;
    Some(Amount::new(x))
}

fn initial(n: usize, has_previous: bool, s: &InitialSpec) -> Result<Initial> {
    let value = score_value(&s.value).ok_or_else(|| ConfigError::BadValue {
        round: n,
        what: "initial value",
        text: s.value.text().to_string(),
    })?;
    match s.kind.as_str() {
        "fixed" => Ok(Initial::Fixed(value)),
        "based" if !has_previous => Err(ConfigError::BasedWithoutPreviousRound { round: n }),
        "based" => {
            let tiers = tiers(n, TierOf::Initial, &s.tiers, rank, score_value)?;
            Ok(Initial::Based {
                default: value,
                tiers: rank_tiers(tiers),
            })
        }
        other => Err(ConfigError::UnknownInitialType {
            round: n,
            kind: other.to_string(),
        }),
    }
}

fn rank_tiers<V>(tiers: Vec<(u64, u64, V)>) -> Vec<RankTier<V>> {
    tiers
        .into_iter()
        .map(|(first, last, value)| RankTier { first, last, value })
        .collect()
}

fn prize(n: usize, s: &PrizeSpec) -> Result<Prize> {
    if s.kind != "credit" {
        return Err(ConfigError::UnknownPrizeType {
            round: n,
            kind: s.kind.clone(),
        });
    }
    let tiers = tiers(n, TierOf::Prize, &s.tiers, rank, prize_amount)?;
    let mut next = 1;
    for (index, &(first, last, _)) in tiers.iter().enumerate() {
        if first != next {
            return Err(ConfigError::PrizeRangesNotContinuous { round: n, index });
        }
        next = last + 1;
    }
    let last = next - 1;
    if !(1..=PRIZE_TOP_MAX as i64).contains(&s.top) {
        return Err(ConfigError::PrizeTopOutOfRange {
            round: n,
            top: s.top,
        });
    }
    if s.top as u64 != last {
        return Err(ConfigError::PrizeTopMismatch {
            round: n,
            top: s.top,
            last,
        });
    }
    Ok(Prize {
        top: last,
        tiers: rank_tiers(tiers),
    })
}

/// Parses a tier list: at least one and at most [`TIERS_MAX`] tiers, each a
/// well-formed `[min, max]`, in ascending order without overlap.
fn tiers<B: Ord + Copy, V>(
    n: usize,
    of: TierOf,
    specs: &[TierSpec],
    bound: impl Fn(&SpecNumber) -> Option<B>,
    value: impl Fn(&SpecNumber) -> Option<V>,
) -> Result<Vec<(B, B, V)>> {
    if specs.is_empty() {
        return Err(ConfigError::TiersMissing { round: n, of });
    }
    if specs.len() > TIERS_MAX {
        return Err(ConfigError::TooManyTiers {
            round: n,
            of,
            count: specs.len(),
        });
    }
    let mut out: Vec<(B, B, V)> = Vec::with_capacity(specs.len());
    for (index, t) in specs.iter().enumerate() {
        let malformed = || ConfigError::TierRangeMalformed {
            round: n,
            of,
            index,
        };
        let (min, max) = match t.range.as_slice() {
            [a, b] => (
                bound(a).ok_or_else(malformed)?,
                bound(b).ok_or_else(malformed)?,
            ),
            _ => return Err(malformed()),
        };
        if min > max {
            return Err(malformed());
        }
        if out.last().is_some_and(|prev| min <= prev.1) {
            return Err(ConfigError::TiersOverlap {
                round: n,
                of,
                index,
            });
        }
        let v = value(&t.value).ok_or(ConfigError::TierValueInvalid {
            round: n,
            of,
            index,
        })?;
        out.push((min, max, v));
    }
    Ok(out)
}

fn rules(n: usize, s: &RulesSpec) -> Result<Rules> {
    let mut rules = Rules::default();
    for (input, spec, slot) in [
        (RuleInput::Bet, &s.bet, &mut rules.bet),
        (RuleInput::Win, &s.win, &mut rules.win),
        (RuleInput::Multiple, &s.multiple, &mut rules.multiple),
    ] {
        if let Some(spec) = spec.as_ref().filter(|r| r.enabled) {
            *slot = Some(rule(n, input, spec)?);
        }
    }
    if rules.is_empty() {
        return Err(ConfigError::NoScoringRule { round: n });
    }
    Ok(rules)
}

fn rule(n: usize, input: RuleInput, s: &RuleSpec) -> Result<Rule> {
    match s.kind.as_str() {
        "rate" => {
            let text = s.rate.as_ref().ok_or(ConfigError::RateMissing {
                round: n,
                rule: input,
            })?;
            rate(n, input, text)
        }
        "tiered" => {
            let of = TierOf::Rule(input);
            let tiers = tiers(n, of, &s.tiers, input_bound, score_value)?;
            let tiers = tiers
                .into_iter()
                .map(|(min, max, value)| ValueTier { min, max, value })
                .collect();
            Ok(Rule::Tiered(tiers))
        }
        other => Err(ConfigError::UnknownRuleType {
            round: n,
            rule: input,
            kind: other.to_string(),
        }),
    }
}

fn rate(n: usize, input: RuleInput, text: &SpecNumber) -> Result<Rule> {
    let bad = |rate: &SpecNumber| rate.text().to_string();
    let d = text.decimal().map_err(|_| ConfigError::BadValue {
        round: n,
        what: "rate",
        text: bad(text),
    })?;
    // scale ≤ 18, so 10^scale fits; rate > 1 ⇔ mantissa > 10^scale.
    if d.mantissa < 0 || d.mantissa > 10i128.pow(d.scale) {
        return Err(ConfigError::RateOutOfRange {
            round: n,
            rule: input,
            rate: bad(text),
        });
    }
    let micros = d
        .to_fixed(INPUT_DIGITS)
        .ok_or(ConfigError::RateTooPrecise {
            round: n,
            rule: input,
            rate: bad(text),
        })?;
    debug_assert!((0..=INPUT_SCALE).contains(&micros));
    Ok(Rule::Rate {
        micros: micros as i64,
    })
}

fn limitations(n: usize, s: &LimitationsSpec) -> Result<Limitations> {
    let offset = s.timezone_offset_minutes.unwrap_or(0);
    let max = i64::from(TZ_OFFSET_MAX_MINUTES);
    if !(-max..=max).contains(&offset) {
        return Err(ConfigError::TimezoneOutOfRange {
            round: n,
            minutes: offset,
        });
    }
    Ok(Limitations {
        calendar: Calendar {
            offset_minutes: offset as i32,
        },
        matches: s
            .matches
            .as_ref()
            .filter(|m| m.enabled)
            .map(|m| matches(n, m))
            .transpose()?,
        time_limit: s
            .user
            .as_ref()
            .filter(|u| u.enabled)
            .map(|u| time_limit(n, u))
            .transpose()?,
        availability: s
            .availability
            .as_ref()
            .filter(|a| a.enabled)
            .map(|a| availability(n, a))
            .transpose()?,
    })
}

fn matches(n: usize, s: &MatchesSpec) -> Result<MatchCaps> {
    if s.limits.is_empty() {
        return Err(ConfigError::NoMatchLimits { round: n });
    }
    let mut caps = MatchCaps::default();
    for l in &s.limits {
        let kind = match l.kind.as_str() {
            "total" => CapKind::Total,
            "daily" => CapKind::Daily,
            "weekly" => CapKind::Weekly,
            "latest" => CapKind::Latest,
            other => {
                return Err(ConfigError::UnknownMatchLimitType {
                    round: n,
                    kind: other.to_string(),
                })
            }
        };
        if !(1..=MATCHES_MAX).contains(&l.value) {
            return Err(ConfigError::MatchLimitValue {
                round: n,
                value: l.value,
            });
        }
        let games = l.value as u32;
        let seen = match kind {
            CapKind::Total => caps.total.replace(games).is_some(),
            CapKind::Daily => caps.daily.replace(games).is_some(),
            CapKind::Weekly => caps.weekly.replace(games).is_some(),
            CapKind::Latest => caps
                .latest
                .replace((latest_days(n, l.days)?, games))
                .is_some(),
        };
        if seen {
            return Err(ConfigError::DuplicateMatchLimit { round: n, kind });
        }
    }
    Ok(caps)
}

fn latest_days(n: usize, days: Option<i64>) -> Result<u32> {
    days.filter(|d| (1..=i64::from(LATEST_DAYS_MAX)).contains(d))
        .map(|d| d as u32)
        .ok_or(ConfigError::LatestDaysOutOfRange { round: n, days })
}

fn time_limit(n: usize, s: &UserSpec) -> Result<TimeLimit> {
    if !(1..=TIME_LIMIT_MAX_SECONDS).contains(&s.time_limit) {
        return Err(ConfigError::TimeLimitOutOfRange {
            round: n,
            seconds: s.time_limit,
        });
    }
    let period = match s.kind.as_deref().unwrap_or("global") {
        "global" => Period::Global,
        "hourly" => Period::Hourly,
        "daily" => Period::Daily,
        "weekly" => Period::Weekly,
        other => {
            return Err(ConfigError::UnknownTimeLimitType {
                round: n,
                kind: other.to_string(),
            })
        }
    };
    Ok(TimeLimit {
        seconds: s.time_limit as u32,
        period,
    })
}

fn availability(n: usize, s: &AvailabilitySpec) -> Result<Vec<Window>> {
    if s.windows.is_empty() {
        return Err(ConfigError::NoAvailabilityWindows { round: n });
    }
    if s.windows.len() > WINDOWS_MAX {
        return Err(ConfigError::TooManyWindows {
            round: n,
            count: s.windows.len(),
        });
    }
    s.windows
        .iter()
        .enumerate()
        .map(|(i, w)| window(n, i, w))
        .collect()
}

fn window(n: usize, window: usize, s: &WindowSpec) -> Result<Window> {
    let mut days = 0u8;
    for &d in &s.days {
        let bit = u8::try_from(d).ok().filter(|d| (1..=7).contains(d));
        match bit {
            Some(b) if days & (1 << b) == 0 => days |= 1 << b,
            _ => return Err(ConfigError::WindowDays { round: n, window }),
        }
    }
    if days == 0 {
        return Err(ConfigError::WindowDays { round: n, window });
    }
    let minute = |text: &str| {
        time_of_day(text).ok_or(ConfigError::WindowTime {
            round: n,
            window,
            text: text.to_string(),
        })
    };
    let (start_minute, end_minute) = (minute(&s.start)?, minute(&s.end)?);
    if start_minute >= end_minute {
        return Err(ConfigError::WindowEmpty { round: n, window });
    }
    Ok(Window {
        days,
        start_minute,
        end_minute,
    })
}

/// `HH:MM` as minutes since midnight; `24:00` is the end of the day.
fn time_of_day(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = h * 60 + m;
    (m < 60 && minutes <= 24 * 60).then_some(minutes)
}
