//! Tuning knobs of the log: segment size, record and buffer limits, and the fsync policy
//! (with its string form, for command lines and config files).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::error::StorageError;
use super::segment::{FRAME_HEADER_LEN, SEGMENT_HEADER_LEN};

/// When the writer thread calls fsync, and so when an LSN counts as durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// Every written batch is fsynced (`fdatasync`) before its LSNs are durable.
    #[default]
    Always,
    /// Batches are written at once but fsynced at most once per interval; the durable LSN
    /// advances after each fsync, so a waiter may wait up to the interval.
    Interval(Duration),
    /// Never fsync: "durable" means handed to the OS. A machine crash can lose
    /// acknowledged records. For benchmarks and throwaway data only.
    Never,
}

/// Why a string is not an fsync policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fsync policy {input:?}: expected `always`, `never`, `interval:<ms>` or `<ms>ms` with a whole number of milliseconds > 0")]
pub struct ParseFsyncPolicyError {
    pub input: String,
}

impl FromStr for FsyncPolicy {
    type Err = ParseFsyncPolicyError;

    /// Accepts `always`, `never`, `interval:<ms>` and `<ms>ms` (case-insensitive, e.g.
    /// `interval:10` or `10ms`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseFsyncPolicyError {
            input: s.to_owned(),
        };
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "always" => return Ok(FsyncPolicy::Always),
            "never" => return Ok(FsyncPolicy::Never),
            _ => {}
        }
        let millis = lower
            .strip_prefix("interval:")
            .or_else(|| lower.strip_suffix("ms"))
            .ok_or_else(err)?;
        match millis.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(FsyncPolicy::Interval(Duration::from_millis(ms))),
            _ => Err(err()),
        }
    }
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsyncPolicy::Always => f.write_str("always"),
            FsyncPolicy::Never => f.write_str("never"),
            FsyncPolicy::Interval(d) => write!(f, "interval:{}", d.as_millis()),
        }
    }
}

/// Configuration of a log. `Config::default()` is the production setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// A segment is closed and a new one started when the next record would take it past
    /// this many bytes (a segment always takes at least one record). Default 64 MiB.
    pub segment_size: u64,
    /// The longest payload accepted on append and believed on read. Default 16 MiB.
    pub max_record_len: u32,
    /// Backpressure: appends block while this many bytes are waiting for the writer
    /// thread (the check is made before a record is added, so the buffer can exceed the
    /// bound by one record). Default 64 MiB.
    pub max_pending_bytes: usize,
    /// When to fsync. Default [`FsyncPolicy::Always`].
    pub fsync: FsyncPolicy,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            segment_size: 64 << 20,
            max_record_len: 16 << 20,
            max_pending_bytes: 64 << 20,
            fsync: FsyncPolicy::Always,
        }
    }
}

impl Config {
    /// Checks that the settings can work together.
    pub fn validate(&self) -> Result<(), StorageError> {
        let bad = |msg: &str| Err(StorageError::InvalidConfig(msg.to_owned()));
        if self.segment_size < (SEGMENT_HEADER_LEN + FRAME_HEADER_LEN) as u64 {
            return bad("segment_size must hold a header and one frame");
        }
        if self.max_record_len == 0 || self.max_record_len > u32::MAX - FRAME_HEADER_LEN as u32 {
            return bad("max_record_len must be between 1 and u32::MAX - 8");
        }
        if self.max_pending_bytes == 0 {
            return bad("max_pending_bytes must be positive");
        }
        if self.fsync == FsyncPolicy::Interval(Duration::ZERO) {
            return bad("an fsync interval must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsync_policy_parses_and_prints() {
        let ms = |n| FsyncPolicy::Interval(Duration::from_millis(n));
        assert_eq!("always".parse(), Ok(FsyncPolicy::Always));
        assert_eq!("NEVER".parse(), Ok(FsyncPolicy::Never));
        assert_eq!("interval:10".parse(), Ok(ms(10)));
        assert_eq!("250ms".parse(), Ok(ms(250)));
        for bad in [
            "",
            "sometimes",
            "interval:",
            "interval:0",
            "0ms",
            "-5ms",
            "1.5ms",
            "ms",
        ] {
            let err = bad.parse::<FsyncPolicy>().unwrap_err();
            assert!(
                err.to_string().contains("expected `always`"),
                "{bad}: {err}"
            );
        }
        for p in [FsyncPolicy::Always, FsyncPolicy::Never, ms(7)] {
            assert_eq!(p.to_string().parse(), Ok(p));
        }
    }

    #[test]
    fn default_config_is_valid_and_nonsense_is_not() {
        assert!(Config::default().validate().is_ok());
        let tiny = Config {
            segment_size: 10,
            ..Config::default()
        };
        assert!(tiny.validate().is_err());
    }
}
