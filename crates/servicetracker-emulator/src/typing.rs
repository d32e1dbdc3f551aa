//! Typing an export's text the way the API serves it: strict parsers for
//! the seven field types (a value converts exactly or the record is not
//! served) and [`TypeGuess`], which infers the type of an undocumented
//! column from every value it holds.
//!
//! The rules are the export contract's (SPEC §8.2), the same ones ferry's
//! extractor applies; they are written out here independently so that the
//! emulator is a second opinion, not a copy.

use chrono::{LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use crate::model::FieldType;

/// Largest precision a served decimal may need (that of a 128-bit decimal).
const MAX_DECIMAL_PRECISION: usize = 38;

/// One typed value, ready to be written as JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Text(&'a str),
    /// UTC microseconds.
    Timestamp(i64),
    /// Days since 1970-01-01.
    Date(i32),
    Boolean(bool),
    Integer(i64),
    /// The value times `10^scale`.
    Decimal(i128, i8),
    Double(f64),
}

/// Types one field's bytes: empty is null; anything else must be UTF-8 and
/// of the column's type, or there is no value (and the record is not
/// served; the emulator needs no reason).
pub fn type_value<'a>(bytes: &'a [u8], ty: FieldType, tz: &Tz) -> Option<Value<'a>> {
    if bytes.is_empty() {
        return Some(Value::Null);
    }
    let text = std::str::from_utf8(bytes).ok()?;
    Some(match ty {
        FieldType::Text => Value::Text(text),
        FieldType::Timestamp => Value::Timestamp(local_timestamp(text, tz)?),
        FieldType::Date => Value::Date(date(text)?),
        FieldType::Boolean => Value::Boolean(boolean(text)?),
        FieldType::Integer => Value::Integer(integer(text)?),
        FieldType::Decimal { precision, scale } => {
            Value::Decimal(decimal(text, precision, scale)?, scale)
        }
        FieldType::Double => Value::Double(double(text)?),
    })
}

/// `YYYY-MM-DD HH:MM:SS` with an optional `.f` to `.ffffff` (`T` accepted as
/// the separator), local time in `tz`, as UTC microseconds. Inside a
/// daylight-saving fold the earlier instant; inside a gap, nothing.
pub fn local_timestamp(text: &str, tz: &Tz) -> Option<i64> {
    let local = naive_date_time(text)?;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.timestamp_micros()),
        LocalResult::None => None,
    }
}

fn naive_date_time(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    let separators = b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b' ' || b[10] == b'T')
        && b[13] == b':'
        && b[16] == b':';
    if !separators {
        return None;
    }
    let day = calendar_date(&b[..10])?;
    let micros = match &b[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=6).contains(&fraction.len()) => {
            number(fraction)? * 10u32.pow(6 - fraction.len() as u32)
        }
        _ => return None,
    };
    day.and_hms_micro_opt(
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
        micros,
    )
}

/// `YYYY-MM-DD` as days since 1970-01-01.
pub fn date(text: &str) -> Option<i32> {
    let day = calendar_date(text.as_bytes())?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
    Some((day - epoch).num_days() as i32)
}

fn calendar_date(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(
        number(&b[..4])? as i32,
        number(&b[5..7])?,
        number(&b[8..10])?,
    )
}

/// The value of a non-empty run of ASCII digits.
fn number(digits: &[u8]) -> Option<u32> {
    (!digits.is_empty() && digits.iter().all(u8::is_ascii_digit))
        .then(|| digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

/// `true` or `false` in any letter case.
pub fn boolean(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A whole number (optional sign, digits only) that fits in 64 bits.
pub fn integer(text: &str) -> Option<i64> {
    let digits = unsigned(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A plain decimal as an integer scaled by `10^scale`: no exponent, no
/// separators, no more than `scale` decimal places (nothing is rounded) and
/// no more than `precision` digits in all.
pub fn decimal(text: &str, precision: u8, scale: i8) -> Option<i128> {
    let shape = DecimalShape::of(text)?;
    let scale = scale.max(0) as usize;
    if shape.fraction_digits > scale || shape.integer_digits + scale > usize::from(precision) {
        return None;
    }
    let magnitude = unsigned(text)
        .bytes()
        .filter(u8::is_ascii_digit)
        .fold(0i128, |n, d| n * 10 + i128::from(d - b'0'))
        * 10i128.pow((scale - shape.fraction_digits) as u32);
    Some(if text.starts_with('-') {
        -magnitude
    } else {
        magnitude
    })
}

/// A finite floating-point number.
pub fn double(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `text` without its leading sign.
fn unsigned(text: &str) -> &str {
    text.strip_prefix(['-', '+']).unwrap_or(text)
}

/// The digit counts of a plain decimal (`-12.50`).
#[derive(Debug, Clone, Copy)]
struct DecimalShape {
    /// Integer digits without leading zeros.
    integer_digits: usize,
    fraction_digits: usize,
}

impl DecimalShape {
    fn of(text: &str) -> Option<DecimalShape> {
        let body = unsigned(text);
        let (integer, fraction) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(integer) || fraction.is_some_and(|f| !digits(f)) {
            return None;
        }
        Some(DecimalShape {
            integer_digits: integer.trim_start_matches('0').len(),
            fraction_digits: fraction.map_or(0, str::len),
        })
    }
}

/// Whether numeric-looking text is really a code (`00123`, a zip code):
/// such text stays text.
fn is_code_with_leading_zero(text: &str) -> bool {
    let integer = unsigned(text).split('.').next().unwrap_or("");
    integer.len() > 1 && integer.starts_with('0')
}

/// The narrowest type every non-empty value of an undocumented column
/// fits, text when nothing narrower does (text loses nothing).
#[derive(Debug, Clone)]
pub struct TypeGuess {
    boolean: bool,
    integer: bool,
    decimal: bool,
    date: bool,
    timestamp: bool,
    integer_digits: usize,
    fraction_digits: usize,
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
            integer_digits: 0,
            fraction_digits: 0,
            seen: 0,
        }
    }
}

impl TypeGuess {
    /// Narrows the guess by one non-empty value.
    pub fn observe(&mut self, text: &str, tz: &Tz) {
        self.seen += 1;
        self.boolean &= boolean(text).is_some();
        if self.integer || self.decimal {
            match DecimalShape::of(text).filter(|_| !is_code_with_leading_zero(text)) {
                Some(shape) => {
                    self.integer &= shape.fraction_digits == 0 && integer(text).is_some();
                    self.integer_digits = self.integer_digits.max(shape.integer_digits);
                    self.fraction_digits = self.fraction_digits.max(shape.fraction_digits);
                    self.decimal &=
                        self.integer_digits + self.fraction_digits <= MAX_DECIMAL_PRECISION;
                }
                None => {
                    self.integer = false;
                    self.decimal = false;
                }
            }
        }
        self.date &= date(text).is_some();
        self.timestamp &= local_timestamp(text, tz).is_some();
    }

    /// Whether nothing but text is left.
    pub fn is_text(&self) -> bool {
        !(self.boolean || self.integer || self.decimal || self.date || self.timestamp)
    }

    pub fn finish(&self) -> FieldType {
        if self.seen == 0 {
            FieldType::Text
        } else if self.boolean {
            FieldType::Boolean
        } else if self.integer {
            FieldType::Integer
        } else if self.decimal {
            let precision =
                (self.integer_digits + self.fraction_digits).clamp(1, MAX_DECIMAL_PRECISION);
            FieldType::Decimal {
                precision: precision as u8,
                scale: self.fraction_digits as i8,
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

    const CHICAGO: Tz = chrono_tz::America::Chicago;

    #[test]
    fn local_times_become_utc_folds_take_the_earlier_instant_gaps_fail() {
        // 08:30 CST = 14:30 UTC; 08:30 CDT = 13:30 UTC.
        assert_eq!(
            local_timestamp("2024-01-15 08:30:00", &CHICAGO),
            Some(1_705_329_000_000_000)
        );
        assert_eq!(
            local_timestamp("2024-07-01T08:30:00", &CHICAGO),
            Some(1_719_840_600_000_000)
        );
        assert_eq!(
            local_timestamp("2024-11-03 01:30:00", &CHICAGO),
            Some(1_730_615_400_000_000)
        );
        assert_eq!(local_timestamp("2024-03-10 02:30:00", &CHICAGO), None);
        for bad in [
            "2024-13-45 25:61:00",
            "2024-01-15",
            "15/01/2024 08:30:00",
            "2024-01-15 08:30:00Z",
        ] {
            assert_eq!(local_timestamp(bad, &CHICAGO), None, "{bad}");
        }
        assert_eq!(
            local_timestamp("2024-01-15 08:30:00.25", &CHICAGO).map(|t| t % 1_000_000),
            Some(250_000)
        );
    }

    #[test]
    fn numbers_are_exact_or_refused() {
        assert_eq!(decimal("12.5", 19, 4), Some(125_000));
        assert_eq!(decimal("-0.0001", 19, 4), Some(-1));
        assert_eq!(decimal("7", 19, 4), Some(70_000));
        for bad in [
            "1.23456",
            "$1,200.00",
            "1e5",
            "12.",
            ".5",
            "",
            "1.2.3",
            "NaN",
        ] {
            assert_eq!(decimal(bad, 19, 4), None, "{bad}");
        }
        assert_eq!(decimal("1234567890123456", 19, 4), None);
        assert_eq!(integer("-42"), Some(-42));
        assert_eq!(integer("4.0"), None);
        assert_eq!(integer("99999999999999999999"), None);
        assert_eq!(boolean("TRUE"), Some(true));
        assert_eq!(boolean("yes"), None);
        assert_eq!(double("41.5"), Some(41.5));
        assert_eq!(double("inf"), None);
        assert_eq!(date("1970-01-02"), Some(1));
        assert_eq!(date("2024-02-30"), None);
    }

    fn guess(values: &[&str]) -> FieldType {
        let mut g = TypeGuess::default();
        for v in values {
            g.observe(v, &CHICAGO);
        }
        g.finish()
    }

    #[test]
    fn guesses_take_the_narrowest_lossless_type() {
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
        assert_eq!(guess(&["0042", "1234"]), FieldType::Text);
        assert_eq!(guess(&[]), FieldType::Text);
    }
}
