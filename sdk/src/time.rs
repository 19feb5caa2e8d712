//! Wall-clock time. The clock comes from WASI (`std::time::SystemTime`
//! works in a module); these helpers format it the way the contract and the
//! portable SQL dialect keep timestamps: RFC 3339 text in UTC, which sorts
//! and compares correctly as text.

use std::time::{SystemTime, UNIX_EPOCH};

use ::time::{SignedDuration, UtcDateTime};

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Now as RFC 3339 UTC with second precision: `2025-03-01T12:00:00Z`.
pub fn now_rfc3339() -> String {
    rfc3339(now_unix())
}

/// Seconds in 400 Gregorian years: the calendar (leap years included)
/// repeats itself after them.
const CYCLE_SECS: i64 = 146_097 * 86_400;

/// `secs` since the Unix epoch as RFC 3339 UTC with second precision.
///
/// Every `i64` has an answer: `time` represents years -9999 to 9999 only,
/// so `secs` is moved by whole 400-year cycles into 1970–2369, split into
/// date and time there, and the cycles are added back to the year (a year
/// outside 0000–9999 is written as it is, e.g. `-001` or `10000`).
pub fn rfc3339(secs: i64) -> String {
    let cycles = secs.div_euclid(CYCLE_SECS);
    let at = UtcDateTime::UNIX_EPOCH.saturating_add(SignedDuration::seconds(secs.rem_euclid(CYCLE_SECS)));
    let year = i64::from(at.year()) + cycles * 400;
    format!(
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_735_689_599), "2024-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert!(now_rfc3339().ends_with('Z'));
    }

    #[test]
    fn formats_years_outside_four_digits_as_before() {
        assert_eq!(rfc3339(-62_167_219_200), "0000-01-01T00:00:00Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        // Beyond what `time` represents: the year is written as it is.
        assert_eq!(rfc3339(-62_167_219_201), "-001-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_800), "10000-01-01T00:00:00Z");
        assert_eq!(rfc3339(-377_736_739_201), "-10001-12-31T23:59:59Z");
        for secs in [i64::MIN, i64::MAX] {
            assert!(rfc3339(secs).ends_with('Z'));
        }
    }
}
