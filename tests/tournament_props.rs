//! Property tests of the tournament arithmetic against straightforward references:
//! rate and tiered rules, the win multiple, strategies, and limitation counters
//! across day and week boundaries.

use pitboss::tournaments::decimal::Decimal;
use pitboss::tournaments::limitations::{
    Calendar, Limitations, MatchCaps, Period, TimeLimit, Usage,
};
use pitboss::tournaments::scoring::{
    amount_input, multiple_input, rate_score, Rule, Strategy as ScoreStrategy, ValueTier,
    INPUT_DIGITS, INPUT_SCALE, SCORE_SCALE,
};
use pitboss::Amount;
use proptest::prelude::*;
use std::collections::HashMap;

/// `text` ("0.dddd" or "1") as an exact fraction, read digit by digit.
fn fraction(text: &str) -> (u128, u128) {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let mut num: u128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        num = num * 10 + u128::from(b - b'0');
    }
    (num, 10u128.pow(frac.len() as u32))
}

fn rate_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1".to_string()),
        Just("0".to_string()),
        (1usize..=6, 0u32..1_000_000).prop_map(|(digits, f)| {
            let f = f % 10u32.pow(digits as u32);
            format!("0.{f:0width$}", width = digits)
        }),
    ]
}

fn clamp(v: u128) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

proptest! {
    #[test]
    fn rate_rule_is_amount_times_rate_rounded_down(
        amount in prop_oneof![0i64..1_000_000, 0i64..=i64::MAX],
        text in rate_text(),
    ) {
        let micros = Decimal::parse(&text).ok().and_then(|d| d.to_fixed(INPUT_DIGITS));
        let micros = micros.expect("six places parse") as i64;
        let (num, den) = fraction(&text);
        let expected = clamp(amount as u128 * num * SCORE_SCALE as u128 / den);
        prop_assert_eq!(rate_score(amount_input(Amount::new(amount)), micros), expected);
        // The server's JSON number path reads the number's own text: the same value.
        #[cfg(feature = "server")]
        {
            let json = pitboss::server::tournament_spec::number(&text).expect("json number");
            prop_assert_eq!(json.decimal().ok(), Decimal::parse(&text).ok());
        }
    }

    #[test]
    fn tiered_rule_is_the_value_of_the_holding_tier(
        shape in prop::collection::vec((0i64..50, 0i64..50, -100i64..100), 1..8),
        input in 0i64..1000,
    ) {
        let mut tiers = Vec::new();
        let mut next = 0i64;
        for (gap, width, value) in shape {
            let min = next + gap;
            tiers.push(ValueTier {
                min: i128::from(min) * INPUT_SCALE,
                max: i128::from(min + width) * INPUT_SCALE,
                value,
            });
            next = min + width + 1;
        }
        let x = amount_input(Amount::new(input));
        let expected = tiers
            .iter()
            .find(|t| t.min <= x && x <= t.max)
            .map_or(0, |t| t.value);
        prop_assert_eq!(Rule::Tiered(tiers).score(x), expected);
    }

    #[test]
    fn multiple_is_win_over_bet_truncated(
        bet in 0i64..=i64::MAX,
        win in 0i64..=i64::MAX,
        text in rate_text(),
    ) {
        let m = multiple_input(Amount::new(bet), Amount::new(win));
        if bet == 0 {
            prop_assert_eq!(m, None);
        } else {
            let expected = win as u128 * INPUT_SCALE as u128 / bet as u128;
            prop_assert_eq!(m, Some(expected as i128));
            let (num, den) = fraction(&text);
            let micros = (num * INPUT_SCALE as u128 / den) as i64;
            // multiple × rate in score units: (m / 10^6) × rate × 10^4.
            let score = expected * num * SCORE_SCALE as u128 / (den * INPUT_SCALE as u128);
            prop_assert_eq!(rate_score(expected as i128, micros), clamp(score));
        }
    }

    #[test]
    fn strategies_fold_like_their_definitions(
        initial in -1_000_000i64..1_000_000,
        games in prop::collection::vec(prop_oneof![-1_000i64..1_000, 0i64..=i64::MAX], 1..20),
    ) {
        let fold = |s: ScoreStrategy| games.iter().fold(initial, |acc, g| s.fold(acc, *g));
        let sum = games.iter().fold(i128::from(initial), |acc, g| acc + i128::from(*g));
        // Saturation is per step; with non-negative steps past the first overflow the
        // reference can compare at the end.
        if games.iter().all(|g| *g >= 0) {
            prop_assert_eq!(fold(ScoreStrategy::Sum), i64::try_from(sum).unwrap_or(i64::MAX));
        }
        let max = games.iter().copied().fold(initial, i64::max);
        prop_assert_eq!(fold(ScoreStrategy::Highest), max);
        prop_assert_eq!(fold(ScoreStrategy::Latest), *games.last().expect("non-empty"));
    }
}

const MS_DAY: i64 = 86_400_000;
const MS_HOUR: i64 = 3_600_000;

/// The limitations' reference: every counted game's time kept in a list.
struct Model {
    caps: MatchCaps,
    time: Option<TimeLimit>,
    offset_ms: i64,
    counted: Vec<i64>,
    first_in_period: HashMap<i64, i64>,
}

impl Model {
    fn day(&self, t: i64) -> i64 {
        (t + self.offset_ms).div_euclid(MS_DAY)
    }

    /// Weeks counted from Monday 1970-01-05 (local day 4).
    fn week(&self, t: i64) -> i64 {
        (self.day(t) - 4).div_euclid(7)
    }

    fn period(&self, p: Period, t: i64) -> i64 {
        match p {
            Period::Global => 0,
            Period::Hourly => (t + self.offset_ms).div_euclid(MS_HOUR),
            Period::Daily => self.day(t),
            Period::Weekly => self.week(t),
        }
    }

    fn admit(&mut self, t: i64) -> bool {
        let count = |f: &dyn Fn(i64) -> bool| self.counted.iter().filter(|&&c| f(c)).count() as u32;
        let over = |cap: Option<u32>, n: u32| cap.is_some_and(|c| n >= c);
        let d = self.day(t);
        if over(self.caps.total, self.counted.len() as u32)
            || over(self.caps.daily, count(&|c| self.day(c) == d))
            || over(self.caps.weekly, count(&|c| self.week(c) == self.week(t)))
            || self.caps.latest.is_some_and(|(days, n)| {
                count(&|c| self.day(c) > d - i64::from(days) && self.day(c) <= d) >= n
            })
        {
            return false;
        }
        if let Some(limit) = self.time {
            let p = self.period(limit.period, t);
            if let Some(first) = self.first_in_period.get(&p) {
                if t - first >= i64::from(limit.seconds) * 1000 {
                    return false;
                }
            }
            self.first_in_period.entry(p).or_insert(t);
        }
        self.counted.push(t);
        true
    }
}

fn caps() -> impl Strategy<Value = MatchCaps> {
    let cap = || prop::option::of(1u32..6);
    (cap(), cap(), cap(), prop::option::of((1u32..10, 1u32..8))).prop_map(
        |(total, daily, weekly, latest)| MatchCaps {
            total,
            daily,
            weekly,
            latest,
        },
    )
}

fn time_limit() -> impl Strategy<Value = Option<TimeLimit>> {
    let period = prop_oneof![
        Just(Period::Global),
        Just(Period::Hourly),
        Just(Period::Daily),
        Just(Period::Weekly)
    ];
    prop::option::of(
        (1u32..20_000, period).prop_map(|(seconds, period)| TimeLimit { seconds, period }),
    )
}

proptest! {
    #[test]
    fn limitations_count_like_the_reference(
        caps in caps(),
        time in time_limit(),
        offset_minutes in prop_oneof![Just(0i32), Just(480), Just(-300), Just(330)],
        steps in prop::collection::vec(0i64..(30 * MS_HOUR), 1..60),
    ) {
        let limits = Limitations {
            calendar: Calendar { offset_minutes },
            matches: Some(caps),
            time_limit: time,
            availability: None,
        };
        let mut model = Model {
            caps,
            time,
            offset_ms: i64::from(offset_minutes) * 60_000,
            counted: Vec::new(),
            first_in_period: HashMap::new(),
        };
        let mut usage = Usage::default();
        // A Sunday evening UTC, so that steps cross day and week boundaries.
        let mut t = 1_700_340_000_000i64;
        for step in steps {
            t += step;
            let expected = model.admit(t);
            match limits.admit(&usage, t) {
                Ok(next) => {
                    prop_assert!(expected, "admitted a game the reference refuses at {t}");
                    usage = next;
                }
                Err(why) => prop_assert!(!expected, "refused ({why:?}) a game the reference counts at {t}"),
            }
            prop_assert_eq!(usage.games as usize, model.counted.len());
            prop_assert!(usage.days.len() <= 10);
        }
    }
}
