//! Turning ServiceTracker's text values into typed values without losing or
//! bending any of them.
//!
//! Every parser here is strict: a value either converts exactly (no
//! rounding, no guessing at formats) or is refused with a reason an analyst
//! can act on, and the row goes to quarantine. Custom fields are not
//! documented, so [`TypeGuess`] infers their type from every value seen.

use chrono::{LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use crate::source::schema::FieldType;

/// Largest precision Arrow's Decimal128 can hold.
const MAX_DECIMAL_PRECISION: u8 = 38;

/// A value that is not of its column's type, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError(pub String);

impl std::fmt::Display for TypeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn refuse<T>(message: impl Into<String>) -> Result<T, TypeError> {
    Err(TypeError(message.into()))
}

/// Microseconds since the Unix epoch, UTC, and whether the local time was
/// ambiguous (a daylight-saving fold; the earlier instant is taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant {
    pub micros: i64,
    pub ambiguous: bool,
}

/// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]` (a `T` separator is accepted too)
/// as local time in `tz`.
pub fn parse_local_timestamp(text: &str, tz: &Tz) -> Result<Instant, TypeError> {
    let naive = parse_naive_datetime(text)?;
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(Instant {
            micros: t.timestamp_micros(),
            ambiguous: false,
        }),
        LocalResult::Ambiguous(earlier, _) => Ok(Instant {
            micros: earlier.timestamp_micros(),
            ambiguous: true,
        }),
        LocalResult::None => refuse(format!(
            "`{text}` does not exist in {tz} (it falls in a daylight-saving gap)"
        )),
    }
}

/// Parses an ISO 8601 / RFC 3339 timestamp with an explicit offset (`Z` or
/// `±HH:MM`), as the REST API sends them.
pub fn parse_utc_timestamp(text: &str) -> Result<Instant, TypeError> {
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(t) => Ok(Instant {
            micros: t.timestamp_micros(),
            ambiguous: false,
        }),
        Err(_) => refuse(format!(
            "`{text}` is not an ISO 8601 timestamp with an offset (e.g. 2024-03-01T14:05:00Z)"
        )),
    }
}

fn parse_naive_datetime(text: &str) -> Result<NaiveDateTime, TypeError> {
    let b = text.as_bytes();
    let shape_ok = b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b' ' || b[10] == b'T')
        && b[13] == b':'
        && b[16] == b':';
    if !shape_ok {
        return refuse(format!(
            "`{text}` is not a timestamp of the form YYYY-MM-DD HH:MM:SS"
        ));
    }
    let date = parse_date_parts(&text[..10])
        .ok_or_else(|| TypeError(format!("`{text}` is not a valid date and time")))?;
    let (h, m, s) = match (digits(&b[11..13]), digits(&b[14..16]), digits(&b[17..19])) {
        (Some(h), Some(m), Some(s)) => (h, m, s),
        _ => return refuse(format!("`{text}` is not a valid date and time")),
    };
    let micros = match &b[19..] {
        [] => 0,
        [b'.', frac @ ..] if !frac.is_empty() && frac.len() <= 6 => {
            let value = digits(frac).ok_or_else(|| {
                TypeError(format!("`{text}` has an invalid fraction of a second"))
            })?;
            value * 10u32.pow(6 - frac.len() as u32)
        }
        _ => {
            return refuse(format!(
                "`{text}` has unexpected characters after the seconds"
            ))
        }
    };
    date.and_hms_micro_opt(h, m, s, micros)
        .ok_or_else(|| TypeError(format!("`{text}` is not a valid time of day")))
}

/// Parses `YYYY-MM-DD` to days since 1970-01-01.
pub fn parse_date(text: &str) -> Result<i32, TypeError> {
    if text.len() != 10 {
        return refuse(format!("`{text}` is not a date of the form YYYY-MM-DD"));
    }
    let date = parse_date_parts(text)
        .ok_or_else(|| TypeError(format!("`{text}` is not a valid date (YYYY-MM-DD)")))?;
    Ok(days_since_epoch(date))
}

pub fn days_since_epoch(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    (date - epoch).num_days() as i32
}

fn parse_date_parts(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits(&b[0..4])?;
    let m = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    NaiveDate::from_ymd_opt(y as i32, m, d)
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

/// `true` / `false`, in any letter case.
pub fn parse_bool(text: &str) -> Result<bool, TypeError> {
    if text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        refuse(format!("`{text}` is not a boolean (true or false)"))
    }
}

pub fn parse_integer(text: &str) -> Result<i64, TypeError> {
    let (_, int_digits) = split_sign(text);
    if int_digits.is_empty() || !int_digits.bytes().all(|b| b.is_ascii_digit()) {
        return refuse(format!("`{text}` is not a whole number"));
    }
    text.parse::<i64>()
        .or_else(|_| refuse(format!("`{text}` is too large for a 64-bit integer")))
}

/// Parses a plain decimal (`-1234.5`) to its value scaled by `10^scale`,
/// refusing currency signs, thousands separators, exponents, more decimal
/// places than `scale` (which would need rounding) and values beyond
/// `precision` digits.
pub fn parse_decimal(text: &str, precision: u8, scale: i8) -> Result<i128, TypeError> {
    let Some(shape) = decimal_shape(text) else {
        return refuse(format!(
            "`{text}` is not a plain decimal number (digits with an optional `.`; no currency signs or thousands separators)"
        ));
    };
    let scale = scale.max(0) as usize;
    if shape.frac_digits > scale {
        return refuse(format!(
            "`{text}` has {} decimal places; at most {scale} are kept and ferry does not round",
            shape.frac_digits
        ));
    }
    if shape.int_digits + scale > precision as usize {
        return refuse(format!(
            "`{text}` has too many digits for DECIMAL({precision},{scale})"
        ));
    }
    let (negative, body) = split_sign(text);
    let mut value: i128 = 0;
    for b in body.bytes().filter(u8::is_ascii_digit) {
        value = value * 10 + i128::from(b - b'0');
    }
    value *= 10i128.pow((scale - shape.frac_digits) as u32);
    Ok(if negative { -value } else { value })
}

pub fn parse_double(text: &str) -> Result<f64, TypeError> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => refuse(format!("`{text}` is not a number")),
    }
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

#[derive(Debug, Clone, Copy)]
struct DecimalShape {
    int_digits: usize,
    frac_digits: usize,
}

/// The digit counts of a plain decimal, or `None` when it is not one.
/// Integer digits are counted without leading zeros (`0.5` has none).
fn decimal_shape(text: &str) -> Option<DecimalShape> {
    let (_, body) = split_sign(text);
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int_part) || frac_part.is_some_and(|f| f.is_empty() || !all_digits(f)) {
        return None;
    }
    if int_part.is_empty() {
        return None;
    }
    let significant = int_part.trim_start_matches('0');
    Some(DecimalShape {
        int_digits: significant.len(),
        frac_digits: frac_part.map_or(0, str::len),
    })
}

/// Text that only looks numeric but must stay text: `00123` (a code, a zip).
fn has_significant_leading_zero(text: &str) -> bool {
    let (_, body) = split_sign(text);
    let int_part = body.split('.').next().unwrap_or("");
    int_part.len() > 1 && int_part.starts_with('0')
}

/// Infers the narrowest type every non-empty value of an undocumented column
/// satisfies. Text is the fallback: it loses nothing.
#[derive(Debug, Clone)]
pub struct TypeGuess {
    boolean: bool,
    integer: bool,
    decimal: bool,
    date: bool,
    timestamp: bool,
    max_int_digits: usize,
    max_frac_digits: usize,
    seen: u64,
}

impl Default for TypeGuess {
    fn default() -> Self {
        TypeGuess {
            boolean: true,
            integer: true,
            decimal: true,
            date: true,
            timestamp: true,
            max_int_digits: 0,
            max_frac_digits: 0,
            seen: 0,
        }
    }
}

impl TypeGuess {
    /// Narrows the guess by one non-empty value (local timestamps are checked
    /// against `tz`; `None` means values carry their own offsets).
    pub fn observe(&mut self, text: &str, tz: Option<&Tz>) {
        self.seen += 1;
        if self.boolean && parse_bool(text).is_err() {
            self.boolean = false;
        }
        if self.integer || self.decimal {
            match decimal_shape(text) {
                Some(shape) if !has_significant_leading_zero(text) => {
                    if shape.frac_digits > 0 || parse_integer(text).is_err() {
                        self.integer = false;
                    }
                    self.max_int_digits = self.max_int_digits.max(shape.int_digits);
                    self.max_frac_digits = self.max_frac_digits.max(shape.frac_digits);
                    if self.max_int_digits + self.max_frac_digits > MAX_DECIMAL_PRECISION as usize {
                        self.decimal = false;
                    }
                }
                _ => {
                    self.integer = false;
                    self.decimal = false;
                }
            }
        }
        if self.date && parse_date(text).is_err() {
            self.date = false;
        }
        if self.timestamp {
            let ok = match tz {
                Some(tz) => parse_local_timestamp(text, tz).is_ok(),
                None => parse_utc_timestamp(text).is_ok(),
            };
            if !ok {
                self.timestamp = false;
            }
        }
    }

    /// Whether every remaining candidate has been ruled out but text.
    pub fn is_settled_on_text(&self) -> bool {
        !(self.boolean || self.integer || self.decimal || self.date || self.timestamp)
    }

    pub fn finish(&self) -> FieldType {
        if self.seen == 0 {
            return FieldType::Text;
        }
        if self.boolean {
            FieldType::Boolean
        } else if self.integer {
            FieldType::Integer
        } else if self.decimal {
            let scale = self.max_frac_digits;
            let precision = (self.max_int_digits + scale).clamp(1, MAX_DECIMAL_PRECISION as usize);
            FieldType::Decimal {
                precision: precision as u8,
                scale: scale as i8,
            }
        } else if self.date {
            FieldType::Date
        } else if self.timestamp {
            FieldType::Timestamp
        } else {
            FieldType::Text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chicago() -> Tz {
        "America/Chicago".parse().unwrap()
    }

    #[test]
    fn local_timestamps_become_utc() {
        let t = parse_local_timestamp("2024-01-15 08:30:00", &chicago()).unwrap();
        // 08:30 CST = 14:30 UTC
        assert_eq!(t.micros, 1_705_329_000_000_000);
        assert!(!t.ambiguous);
        let summer = parse_local_timestamp("2024-07-01T08:30:00", &chicago()).unwrap();
        assert_eq!(summer.micros, 1_719_840_600_000_000); // CDT, 13:30 UTC
    }

    #[test]
    fn daylight_saving_gap_is_refused_and_fold_is_flagged() {
        let gap = parse_local_timestamp("2024-03-10 02:30:00", &chicago()).unwrap_err();
        assert!(gap.0.contains("daylight-saving gap"), "{gap}");
        let fold = parse_local_timestamp("2024-11-03 01:30:00", &chicago()).unwrap();
        assert!(fold.ambiguous);
        // the earlier instant: 01:30 CDT = 06:30 UTC
        assert_eq!(fold.micros, 1_730_615_400_000_000);
    }

    #[test]
    fn malformed_timestamps_are_refused() {
        for bad in [
            "2024-13-45 25:61:00",
            "2024-01-15",
            "15/01/2024 08:30:00",
            "2024-01-15 08:30:00Z",
        ] {
            assert!(parse_local_timestamp(bad, &chicago()).is_err(), "{bad}");
        }
        let t = parse_local_timestamp("2024-01-15 08:30:00.25", &chicago()).unwrap();
        assert_eq!(t.micros % 1_000_000, 250_000);
    }

    #[test]
    fn dates_before_1753_are_valid_dates() {
        assert_eq!(parse_date("1970-01-02").unwrap(), 1);
        assert!(parse_date("0202-05-01").unwrap() < 0);
        assert!(parse_date("2024-02-30").is_err());
        assert!(parse_date("2024-2-3").is_err());
    }

    #[test]
    fn decimals_are_exact_or_refused() {
        assert_eq!(parse_decimal("12.5", 19, 4).unwrap(), 125_000);
        assert_eq!(parse_decimal("-0.0001", 19, 4).unwrap(), -1);
        assert_eq!(parse_decimal("7", 19, 4).unwrap(), 70_000);
        assert!(parse_decimal("1.23456", 19, 4)
            .unwrap_err()
            .0
            .contains("does not round"));
        for bad in ["$1,200.00", "1e5", "12.", ".5", "", "1.2.3", "NaN"] {
            assert!(parse_decimal(bad, 19, 4).is_err(), "{bad}");
        }
        assert!(parse_decimal("1234567890123456", 19, 4).is_err());
    }

    #[test]
    fn booleans_and_integers_are_strict() {
        assert!(parse_bool("TRUE").unwrap());
        assert!(parse_bool("yes").is_err());
        assert_eq!(parse_integer("-42").unwrap(), -42);
        assert!(parse_integer("4.0").is_err());
        assert!(parse_integer("two").is_err());
        assert!(parse_integer("99999999999999999999").is_err());
    }

    fn guess(values: &[&str]) -> FieldType {
        let mut g = TypeGuess::default();
        for v in values {
            g.observe(v, Some(&chicago()));
        }
        g.finish()
    }

    #[test]
    fn inference_picks_the_narrowest_lossless_type() {
        assert_eq!(guess(&["true", "false"]), FieldType::Boolean);
        assert_eq!(guess(&["1", "-20", "300"]), FieldType::Integer);
        assert_eq!(
            guess(&["1", "12.50", "0.125"]),
            FieldType::Decimal {
                precision: 5,
                scale: 3
            }
        );
        assert_eq!(guess(&["2024-01-01", "1999-12-31"]), FieldType::Date);
        assert_eq!(guess(&["2024-01-01 10:00:00"]), FieldType::Timestamp);
        assert_eq!(
            guess(&["2024-01-01", "2024-01-01 10:00:00"]),
            FieldType::Text
        );
        assert_eq!(guess(&[]), FieldType::Text);
    }

    #[test]
    fn codes_with_leading_zeros_stay_text() {
        assert_eq!(guess(&["0042", "1234"]), FieldType::Text);
        assert_eq!(
            guess(&["0", "0.5"]),
            FieldType::Decimal {
                precision: 1,
                scale: 1
            }
        );
    }
}
