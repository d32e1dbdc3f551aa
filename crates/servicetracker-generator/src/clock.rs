//! Instants for the generator: drawn in UTC, written as local wall-clock time
//! in the export's timezone (SPEC §8.2).
//!
//! A local time inside a daylight-saving fold happens twice and one inside a
//! gap never happens, so an extractor could not convert either back to UTC
//! exactly. [`Moment`] therefore only holds instants whose local rendering is
//! unambiguous: it nudges an instant forward by an hour until it is. Because
//! the nudge only moves forward, a moment built from an earlier one plus a
//! positive offset is never earlier than it (`modified_at >= created_at`).

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// The timezone every export is written in (manifest `timezone`).
pub const EXPORT_TIMEZONE: Tz = chrono_tz::America::Chicago;
pub const EXPORT_TIMEZONE_NAME: &str = "America/Chicago";

/// The fixed export instant, so that output never depends on the wall clock.
/// 2026-10-01 07:00 in Chicago (CDT, UTC-5).
pub const EXPORTED_AT: &str = "2026-10-01T07:00:00-05:00";
/// [`EXPORTED_AT`] in Unix seconds.
pub const EXPORTED_AT_UNIX: i64 = 1_790_856_000;

/// The earliest instant of clean data: 2015-01-01 00:00 UTC.
pub const HISTORY_START_UNIX: i64 = 1_420_070_400;

pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;

/// A UTC instant (whole seconds) whose local rendering is unambiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Moment(i64);

impl Moment {
    /// The first instant at or after `unix_seconds` that renders unambiguously.
    pub fn at(unix_seconds: i64) -> Moment {
        let mut t = unix_seconds;
        while !renders_unambiguously(t) {
            t += HOUR;
        }
        Moment(t)
    }

    /// This moment plus `seconds` (≥ 0), settled again.
    pub fn plus(self, seconds: i64) -> Moment {
        Moment::at(self.0 + seconds.max(0))
    }

    pub fn unix(self) -> i64 {
        self.0
    }

    /// `YYYY-MM-DD HH:MM:SS` in the export timezone.
    pub fn render(self) -> String {
        let local = to_local(self.0);
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            local.year(),
            local.month(),
            local.day(),
            local.hour(),
            local.minute(),
            local.second()
        )
    }

    /// The local calendar date, `YYYY-MM-DD`.
    pub fn render_date(self) -> String {
        render_date(to_local(self.0).date_naive())
    }

    pub fn local_date(self) -> NaiveDate {
        to_local(self.0).date_naive()
    }
}

/// `YYYY-MM-DD`, with a four-digit year even before year 1000 (`0202-05-14`).
pub fn render_date(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

fn to_local(unix_seconds: i64) -> DateTime<Tz> {
    let utc =
        DateTime::<Utc>::from_timestamp(unix_seconds, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    utc.with_timezone(&EXPORT_TIMEZONE)
}

/// Whether the local wall-clock time of this instant maps back to exactly
/// one instant.
fn renders_unambiguously(unix_seconds: i64) -> bool {
    let local = to_local(unix_seconds).naive_local();
    matches!(
        EXPORT_TIMEZONE.from_local_datetime(&local),
        LocalResult::Single(_)
    )
}

/// Reads a local timestamp of an export back (`YYYY-MM-DD HH:MM:SS` with an
/// optional `.ffffff`, `T` accepted as the separator) as UTC microseconds,
/// the earlier instant inside a daylight-saving fold. `None` for anything an
/// extractor would refuse: another shape, an impossible date or time, a
/// local time inside a gap.
pub fn parse_local_micros(text: &str, tz: &Tz) -> Option<i64> {
    let b = text.as_bytes();
    let shape_ok = b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b' ' || b[10] == b'T')
        && b[13] == b':'
        && b[16] == b':';
    if !shape_ok {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = &b[range];
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let date = NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)?;
    let micros = match &b[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=6).contains(&fraction.len()) => {
            number(20..b.len())? * 10u32.pow(6 - fraction.len() as u32)
        }
        _ => return None,
    };
    let local =
        date.and_hms_micro_opt(number(11..13)?, number(14..16)?, number(17..19)?, micros)?;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.timestamp_micros()),
        LocalResult::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_at_constant_matches_its_text() {
        let parsed = DateTime::parse_from_rfc3339(EXPORTED_AT).unwrap();
        assert_eq!(parsed.timestamp(), EXPORTED_AT_UNIX);
        assert_eq!(Moment::at(EXPORTED_AT_UNIX).render(), "2026-10-01 07:00:00");
    }

    #[test]
    fn fall_back_fold_is_skipped() {
        // 2024-11-03 06:30 UTC is 01:30 CDT, which happens again at 07:30 UTC
        // (01:30 CST): both are ambiguous, 08:30 UTC (02:30 CST) is not.
        let first = 1_730_615_400;
        let m = Moment::at(first);
        assert_eq!(m.unix(), first + 2 * HOUR);
        assert_eq!(m.render(), "2024-11-03 02:30:00");
    }

    #[test]
    fn ordinary_instants_are_unchanged_and_rendered_locally() {
        // 2024-07-04 17:00 UTC is 12:00 CDT.
        let m = Moment::at(1_720_112_400);
        assert_eq!(m.unix(), 1_720_112_400);
        assert_eq!(m.render(), "2024-07-04 12:00:00");
        // 2024-01-15 18:00 UTC is 12:00 CST.
        assert_eq!(Moment::at(1_705_341_600).render(), "2024-01-15 12:00:00");
    }

    #[test]
    fn plus_never_goes_backwards() {
        let a = Moment::at(1_730_610_000);
        for s in [0, 1, 59, 3_599, 3_600, 7_000] {
            assert!(a.plus(s) >= a);
        }
    }

    #[test]
    fn local_timestamps_read_back_as_an_extractor_reads_them() {
        let chicago = EXPORT_TIMEZONE;
        // 08:30 CST = 14:30 UTC; 08:30 CDT = 13:30 UTC.
        assert_eq!(
            parse_local_micros("2024-01-15 08:30:00", &chicago),
            Some(1_705_329_000_000_000)
        );
        assert_eq!(
            parse_local_micros("2024-07-01T08:30:00", &chicago),
            Some(1_719_840_600_000_000)
        );
        // The earlier instant of a fold: 01:30 CDT = 06:30 UTC.
        assert_eq!(
            parse_local_micros("2024-11-03 01:30:00", &chicago),
            Some(1_730_615_400_000_000)
        );
        assert_eq!(
            parse_local_micros("2024-01-15 08:30:00.25", &chicago).map(|m| m % 1_000_000),
            Some(250_000)
        );
        for refused in [
            "2024-03-10 02:30:00",
            "2024-13-45 25:61:00",
            "2024-01-15",
            "15/01/2024 08:30:00",
            "2024-01-15 08:30:00Z",
            "2024-01-15 08:30:00.",
            "2024-01-15 08:30:00.1234567",
        ] {
            assert_eq!(parse_local_micros(refused, &chicago), None, "{refused}");
        }
    }

    #[test]
    fn early_years_render_with_four_digits() {
        let d = NaiveDate::from_ymd_opt(202, 5, 14).unwrap();
        assert_eq!(render_date(d), "0202-05-14");
    }
}
