//! Cron schedules of module jobs: parsed once, evaluated in the job's time
//! zone, compared in UTC.
//!
//! The `cron` crate reads six or seven fields (seconds first) and numbers
//! weekdays 1–7 from Sunday. Users write crontab: five fields, weekdays
//! 0–7 with Sunday as 0 or 7. So five-field expressions get `0` seconds in
//! front, and weekday numbers (in either form) are read the crontab way and
//! handed to the crate as names, which mean the same thing everywhere.

use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

/// Why a schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedule {expr:?}: {why}")]
    Cron { expr: String, why: String },
    #[error("time zone {0:?} is not an IANA name such as America/Guayaquil")]
    TimeZone(String),
}

/// A parsed schedule with its time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: cron::Schedule,
    tz: Tz,
}

/// Weekday names by crontab number (0 and 7 are Sunday).
const WEEKDAYS: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];

/// How many fires [`Schedule::latest_due`] walks before it skips ahead.
const MAX_SCAN: usize = 10_000;

impl Schedule {
    /// Parses a five-field (minute first) or six-field (seconds first)
    /// expression, in `timezone` (UTC when absent).
    pub fn parse(expr: &str, timezone: Option<&str>) -> Result<Self, ScheduleError> {
        let fail = |why: String| ScheduleError::Cron { expr: expr.to_owned(), why };
        let given: Vec<&str> = expr.split_whitespace().collect();
        let mut fields: Vec<String> = match given.len() {
            5 => std::iter::once("0").chain(given.iter().copied()).map(str::to_owned).collect(),
            6 => given.iter().map(|f| (*f).to_owned()).collect(),
            n => {
                return Err(fail(format!(
                    "has {n} fields; give five (minute hour day month weekday) or six (seconds first)"
                )));
            }
        };
        fields[5] = crontab_weekdays(&fields[5]).ok_or_else(|| fail("weekdays are 0–7 (0 and 7: Sunday)".into()))?;
        let cron = cron::Schedule::from_str(&fields.join(" ")).map_err(|e| fail(e.to_string()))?;
        let tz = match timezone {
            None => Tz::UTC,
            Some(name) => Tz::from_str(name).map_err(|_| ScheduleError::TimeZone(name.to_owned()))?,
        };
        let schedule = Self { cron, tz };
        if schedule.next_after(Utc::now()).is_none() {
            return Err(fail("never fires".into()));
        }
        Ok(schedule)
    }

    /// The first fire strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.after(&t.with_timezone(&self.tz)).next().map(|d| d.with_timezone(&Utc))
    }

    /// The latest fire in `(after, now]`, if any. Fires missed while no
    /// host ran collapse into this one: a job runs once after downtime, not
    /// once per missed slot.
    pub fn latest_due(&self, after: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut from = after;
        loop {
            let mut latest = None;
            let mut walked = 0;
            for fire in self.cron.after(&from.with_timezone(&self.tz)) {
                let fire = fire.with_timezone(&Utc);
                if fire > now {
                    return latest;
                }
                latest = Some(fire);
                walked += 1;
                if walked == MAX_SCAN {
                    break;
                }
            }
            match latest {
                // A frequent schedule after a long gap: only the last hour can hold the answer.
                Some(fire) if walked == MAX_SCAN => from = fire.max(now - TimeDelta::hours(1)),
                _ => return latest,
            }
        }
    }
}

/// Rewrites a weekday field's numbers (crontab's: 0–7, Sunday 0 or 7) as
/// names; `None` for a number above 7.
fn crontab_weekdays(field: &str) -> Option<String> {
    let name = |d: &str| match d.parse::<usize>() {
        Ok(n) => WEEKDAYS.get(n).map(|s| (*s).to_owned()),
        Err(_) => Some(d.to_owned()),
    };
    let mut parts = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        let text = match range.split_once('-') {
            // `5-7` ends on Sunday, which the crate counts first: split it.
            Some((a, "7")) if a != "0" && step.is_none() => format!("{}-SAT,SUN", name(a)?),
            Some((a, b)) => format!("{}-{}", name(a)?, name(b)?),
            None => name(range)?,
        };
        parts.push(match step {
            Some(s) => format!("{text}/{s}"),
            None => text,
        });
    }
    Some(parts.join(","))
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, TimeZone, Timelike, Weekday};

    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap_or_default()
    }

    #[test]
    fn five_fields_are_crontab_with_sunday_as_zero() {
        // 2026-11-23 is a Monday.
        let weekdays = Schedule::parse("30 9 * * 1-5", None).unwrap_or_else(|e| panic!("{e}"));
        let fire = weekdays.next_after(at(2026, 11, 21, 0, 0, 0)).unwrap_or_default();
        assert_eq!((fire.weekday(), fire.hour(), fire.minute(), fire.second()), (Weekday::Mon, 9, 30, 0));
        for sunday in ["0 0 * * 0", "0 0 * * 7", "0 0 * * SUN"] {
            let s = Schedule::parse(sunday, None).unwrap_or_else(|e| panic!("{sunday}: {e}"));
            assert_eq!(s.next_after(at(2026, 11, 23, 0, 0, 0)).map(|f| f.weekday()), Some(Weekday::Sun), "{sunday}");
        }
        let weekend = Schedule::parse("0 0 * * 6-7", None).unwrap_or_else(|e| panic!("{e}"));
        let fires: Vec<_> =
            std::iter::successors(weekend.next_after(at(2026, 11, 23, 0, 0, 0)), |f| weekend.next_after(*f))
                .take(2)
                .map(|f| f.weekday())
                .collect();
        assert_eq!(fires, [Weekday::Sat, Weekday::Sun]);
    }

    #[test]
    fn six_fields_have_seconds_first() {
        let every_second = Schedule::parse("* * * * * *", None).unwrap_or_else(|e| panic!("{e}"));
        let t = at(2026, 11, 23, 10, 0, 0);
        assert_eq!(every_second.next_after(t), Some(t + TimeDelta::seconds(1)));
    }

    #[test]
    fn a_time_zone_moves_the_fire() {
        let s = Schedule::parse("0 8 * * *", Some("America/Guayaquil")).unwrap_or_else(|e| panic!("{e}"));
        // 08:00 in Guayaquil (UTC−5) is 13:00 UTC.
        assert_eq!(s.next_after(at(2026, 11, 23, 0, 0, 0)), Some(at(2026, 11, 23, 13, 0, 0)));
    }

    #[test]
    fn missed_fires_collapse_into_the_latest() {
        let hourly = Schedule::parse("0 * * * *", None).unwrap_or_else(|e| panic!("{e}"));
        let after = at(2026, 11, 20, 10, 0, 0);
        assert_eq!(hourly.latest_due(after, at(2026, 11, 23, 10, 30, 0)), Some(at(2026, 11, 23, 10, 0, 0)));
        assert_eq!(hourly.latest_due(after, at(2026, 11, 20, 10, 59, 59)), None, "nothing due yet");
        // Every second over three days: more than the walk's budget.
        let fast = Schedule::parse("* * * * * *", None).unwrap_or_else(|e| panic!("{e}"));
        let now = at(2026, 11, 23, 10, 30, 0);
        assert_eq!(fast.latest_due(after, now), Some(now));
    }

    #[test]
    fn bad_schedules_are_refused_with_a_reason() {
        for (expr, tz) in [
            ("* * *", None),
            ("61 * * * *", None),
            ("0 0 * * 8", None),
            ("0 0 30 2 *", None),
            ("0 0 * * *", Some("Mars/Olympus")),
        ] {
            assert!(Schedule::parse(expr, tz).is_err(), "{expr} {tz:?} was accepted");
        }
    }
}
