//! Limitations of a tournament round (Publisher Manual §5.2.2 `limitations`): which closed
//! game rounds count toward a player's score.
//!
//! A game that a limitation refuses changes nothing: it neither scores nor counts.
//! Every check reads the game's time (when its round closed) through one
//! [`Calendar`]: local time is UTC shifted by `limitations.timezone_offset_minutes`
//! (default 0); days start at local midnight; weeks start on Monday (ISO); hours are
//! local hours.
//!
//! - `matches`: caps on counted games per player and round: `total`, `daily` (this
//!   local day), `weekly` (this local week), `latest` (the game's local day and the
//!   `days − 1` days before it). A game is refused once a cap is reached.
//! - `user`: `time_limit` seconds of play, counted from the player's first counted
//!   game of the period (`type`: `global` (the default, the whole round), `hourly`,
//!   `daily`, `weekly`). A game closing `time_limit` seconds or more after that first
//!   game is refused until the next period.
//! - `availability` (shape defined here, spec 1.0 leaves it open):
//!   `{"enabled": true, "windows": [{"days": [1,2,3,4,5], "start": "18:00", "end":
//!   "23:30"}]}`: games count only when they close inside a window. `days` are ISO
//!   weekdays (1 = Monday … 7 = Sunday), `start` inclusive, `end` exclusive, `"24:00"`
//!   allowed as an end; a window across midnight is written as two windows.

use serde::{Deserialize, Serialize};

/// Widest accepted time-zone offset, in minutes either side of UTC.
pub const TZ_OFFSET_MAX_MINUTES: i32 = 14 * 60;
/// Longest `latest` window, in days.
pub const LATEST_DAYS_MAX: u32 = 366;
/// Most availability windows per round.
pub const WINDOWS_MAX: usize = 32;

const MS_PER_MINUTE: i64 = 60_000;
const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_DAY: i64 = 86_400_000;

/// Local calendar arithmetic at a fixed UTC offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    pub offset_minutes: i32,
}

impl Calendar {
    fn local_ms(self, at_ms: i64) -> i64 {
        at_ms.saturating_add(i64::from(self.offset_minutes) * MS_PER_MINUTE)
    }

    /// Local days since 1970-01-01.
    pub fn day(self, at_ms: i64) -> i64 {
        self.local_ms(at_ms).div_euclid(MS_PER_DAY)
    }

    /// Local hours since the epoch.
    pub fn hour(self, at_ms: i64) -> i64 {
        self.local_ms(at_ms).div_euclid(MS_PER_HOUR)
    }

    /// Monday-based weeks of a local day number (day 0, 1970-01-01, was a Thursday).
    pub fn week_of_day(day: i64) -> i64 {
        (day + 3).div_euclid(7)
    }

    /// ISO weekday of a local time: 1 = Monday … 7 = Sunday.
    pub fn weekday(self, at_ms: i64) -> u8 {
        ((self.day(at_ms) + 3).rem_euclid(7) + 1) as u8
    }

    /// Minutes since local midnight.
    pub fn minute_of_day(self, at_ms: i64) -> u16 {
        (self.local_ms(at_ms).rem_euclid(MS_PER_DAY) / MS_PER_MINUTE) as u16
    }
}

/// A `matches.limits` entry's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CapKind {
    Total,
    Daily,
    Weekly,
    Latest,
}

/// Caps on counted games per player and round. `None` = no such cap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchCaps {
    pub total: Option<u32>,
    pub daily: Option<u32>,
    pub weekly: Option<u32>,
    /// (days, games): at most `games` in the game's day and the `days − 1` before it.
    pub latest: Option<(u32, u32)>,
}

impl MatchCaps {
    /// How many past days of counts the caps need.
    fn days_kept(&self) -> i64 {
        let daily = self.daily.map_or(0, |_| 1);
        let weekly = self.weekly.map_or(0, |_| 7);
        let latest = self.latest.map_or(0, |(days, _)| i64::from(days));
        daily.max(weekly).max(latest)
    }
}

/// The period a `user.time_limit` restarts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Period {
    Global,
    Hourly,
    Daily,
    Weekly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeLimit {
    pub seconds: u32,
    pub period: Period,
}

/// One availability window: ISO weekdays as bits 1..=7, minutes `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub days: u8,
    pub start_minute: u16,
    pub end_minute: u16,
}

impl Window {
    fn holds(&self, weekday: u8, minute: u16) -> bool {
        self.days & (1 << weekday) != 0 && self.start_minute <= minute && minute < self.end_minute
    }
}

/// A round's validated limitations. Disabled parts are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limitations {
    pub calendar: Calendar,
    pub matches: Option<MatchCaps>,
    pub time_limit: Option<TimeLimit>,
    pub availability: Option<Vec<Window>>,
}

/// What a player has counted so far in one round, as the limitations need it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Counted games in the round.
    pub games: u32,
    /// Counted games per local day, ascending, only as many recent days as the caps
    /// read (at most [`LATEST_DAYS_MAX`]).
    pub days: Vec<(i64, u32)>,
    /// The time-limit period of the latest counted game, and when its first counted
    /// game closed (Unix ms).
    pub period: Option<(i64, i64)>,
}

/// Why a game did not count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    OutsideAvailability,
    MatchCap(CapKind),
    TimeLimit,
}

impl Limitations {
    /// The usage after counting a game that closed at `at_ms`, or why it does not count.
    pub fn admit(&self, usage: &Usage, at_ms: i64) -> Result<Usage, Refusal> {
        let cal = self.calendar;
        if let Some(windows) = &self.availability {
            let (weekday, minute) = (cal.weekday(at_ms), cal.minute_of_day(at_ms));
            if !windows.iter().any(|w| w.holds(weekday, minute)) {
                return Err(Refusal::OutsideAvailability);
            }
        }
        let day = cal.day(at_ms);
        if let Some(caps) = &self.matches {
            check_caps(caps, usage, day)?;
        }
        let period = self
            .time_limit
            .map(|t| (t, self.period_of(t.period, at_ms)));
        if let (Some((limit, p)), Some((current, first_ms))) = (period, usage.period) {
            let limit_ms = i64::from(limit.seconds) * 1000;
            if p == current && at_ms.saturating_sub(first_ms) >= limit_ms {
                return Err(Refusal::TimeLimit);
            }
        }
        Ok(self.counted(usage, day, period.map(|(_, p)| p), at_ms))
    }

    fn period_of(&self, period: Period, at_ms: i64) -> i64 {
        match period {
            Period::Global => 0,
            Period::Hourly => self.calendar.hour(at_ms),
            Period::Daily => self.calendar.day(at_ms),
            Period::Weekly => Calendar::week_of_day(self.calendar.day(at_ms)),
        }
    }

    /// `usage` with one more game counted on `day`, in period `p`.
    fn counted(&self, usage: &Usage, day: i64, p: Option<i64>, at_ms: i64) -> Usage {
        let mut next = usage.clone();
        next.games = next.games.saturating_add(1);
        let kept = self.matches.as_ref().map_or(0, MatchCaps::days_kept);
        if kept > 0 {
            match next.days.binary_search_by_key(&day, |&(d, _)| d) {
                Ok(i) => next.days[i].1 = next.days[i].1.saturating_add(1),
                Err(i) => next.days.insert(i, (day, 1)),
            }
            let newest = next.days.last().map_or(day, |&(d, _)| d);
            next.days.retain(|&(d, _)| d > newest - kept);
        }
        // A game of an older period (a late record) counts without restarting it.
        next.period = match (p, usage.period) {
            (Some(p), Some((current, _))) if p < current => usage.period,
            (Some(p), Some((current, first))) if p == current => Some((p, first)),
            (Some(p), _) => Some((p, at_ms)),
            (None, _) => None,
        };
        debug_assert!(next.days.len() as i64 <= kept.max(0));
        next
    }
}

fn check_caps(caps: &MatchCaps, usage: &Usage, day: i64) -> Result<(), Refusal> {
    let reached = |cap: Option<u32>, count: u32| cap.is_some_and(|c| count >= c);
    if reached(caps.total, usage.games) {
        return Err(Refusal::MatchCap(CapKind::Total));
    }
    let sum_days = |keep: &dyn Fn(i64) -> bool| -> u32 {
        usage
            .days
            .iter()
            .filter(|&&(d, _)| keep(d))
            .fold(0u32, |acc, &(_, n)| acc.saturating_add(n))
    };
    if reached(caps.daily, sum_days(&|d| d == day)) {
        return Err(Refusal::MatchCap(CapKind::Daily));
    }
    let week = Calendar::week_of_day(day);
    if reached(caps.weekly, sum_days(&|d| Calendar::week_of_day(d) == week)) {
        return Err(Refusal::MatchCap(CapKind::Weekly));
    }
    if let Some((days, games)) = caps.latest {
        let first = day - i64::from(days) + 1;
        if reached(Some(games), sum_days(&|d| first <= d && d <= day)) {
            return Err(Refusal::MatchCap(CapKind::Latest));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_weeks_start_on_monday() {
        let cal = Calendar::default();
        // 1970-01-01 was a Thursday; 1970-01-05 a Monday.
        assert_eq!(cal.weekday(0), 4);
        assert_eq!(cal.weekday(4 * MS_PER_DAY), 1);
        assert_eq!(Calendar::week_of_day(3), 0);
        assert_eq!(Calendar::week_of_day(4), 1);
        let east8 = Calendar {
            offset_minutes: 480,
        };
        // 16:00 UTC on a Sunday is 00:00 Monday at UTC+8.
        let sunday_16h = 3 * MS_PER_DAY + 16 * MS_PER_HOUR;
        assert_eq!(cal.weekday(sunday_16h), 7);
        assert_eq!(east8.weekday(sunday_16h), 1);
        assert_eq!(east8.minute_of_day(sunday_16h), 0);
    }
}
