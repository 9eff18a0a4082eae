//! Timestamps as the APIs write them: ISO-8601 in UTC, to the second (the Publisher
//! Manual's `createAt`, `playTime` renderings) or to the millisecond (the bank wallet
//! API's error `timestamp`).

/// Unix milliseconds as ISO-8601 in UTC with the `Z` offset, to the second
/// (`2024-01-21T10:30:00Z`, the form Publisher Manual §2.3 and §3.3 name).
pub fn iso8601(ms: i64) -> String {
    format!("{}Z", date_time(ms))
}

/// Unix milliseconds as ISO-8601 in UTC to the millisecond (`2024-10-22T06:23:16.710Z`,
/// the form of the bank wallet API's error `timestamp`).
pub fn iso8601_millis(ms: i64) -> String {
    format!("{}.{:03}Z", date_time(ms), ms.rem_euclid(1000))
}

/// `YYYY-MM-DDTHH:MM:SS` of Unix milliseconds, in UTC.
fn date_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_renders_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_705_833_000_000), "2024-01-21T10:30:00Z");
        assert_eq!(iso8601(1_741_330_280_999), "2025-03-07T06:51:20Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(-1000), "1969-12-31T23:59:59Z");
        assert_eq!(
            iso8601_millis(1_729_578_196_710),
            "2024-10-22T06:23:16.710Z"
        );
        assert_eq!(iso8601_millis(-1), "1969-12-31T23:59:59.999Z");
    }
}
