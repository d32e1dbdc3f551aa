//! How a typed value is written in the emulator's JSON: the one place that
//! decides the wire form of every [`FieldType`], so the API serves each
//! type as the contract says.
//!
//! Decimals are written digit by digit from their scaled integer with exactly
//! `scale` fractional digits (`25000.00`, `-3.50`): they never pass through
//! a float. Timestamps are UTC with a `Z` and a fraction only when there is
//! one; dates are `YYYY-MM-DD` with a four-digit year.
//!
//! [`FieldType`]: crate::model::FieldType

use chrono::{DateTime, NaiveDate};

use crate::typing::Value;

/// Appends any typed value; null is `null`.
pub fn write_value(out: &mut Vec<u8>, value: &Value<'_>) {
    match *value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Text(text) => write_str(out, text),
        Value::Timestamp(micros) => write_timestamp(out, micros),
        Value::Date(days) => write_date(out, days),
        Value::Boolean(b) => write_bool(out, b),
        Value::Integer(n) => write_i64(out, n),
        Value::Decimal(n, scale) => write_decimal(out, n, scale),
        Value::Double(x) => write_f64(out, x),
    }
}

/// Appends `text` as a JSON string (quoted and escaped).
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(&mut *out, text).expect("writing JSON into a Vec cannot fail");
}

pub fn write_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(value.to_string().as_bytes());
}

/// The shortest decimal form that reads back as the same `f64` (ryu, via
/// serde_json); `null` for NaN and infinities, which JSON cannot hold.
pub fn write_f64(out: &mut Vec<u8>, value: f64) {
    serde_json::to_writer(&mut *out, &value).expect("writing JSON into a Vec cannot fail");
}

pub fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

/// A JSON number with exactly `scale` fractional digits for the scaled
/// integer `value` (`2500000`, scale 2 → `25000.00`).
pub fn write_decimal(out: &mut Vec<u8>, value: i128, scale: i8) {
    out.extend_from_slice(decimal_text(value, scale).as_bytes());
}

pub fn decimal_text(value: i128, scale: i8) -> String {
    if scale <= 0 {
        // A negative scale multiplies by a power of ten: append the zeros.
        let mut text = value.to_string();
        if value != 0 {
            text.extend(std::iter::repeat_n('0', scale.unsigned_abs() as usize));
        }
        return text;
    }
    let scale = scale as u32;
    let magnitude = value.unsigned_abs();
    let unit = 10u128.pow(scale);
    let sign = if value < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:0width$}",
        magnitude / unit,
        magnitude % unit,
        width = scale as usize
    )
}

/// `"YYYY-MM-DDTHH:MM:SSZ"`, with `.ffffff` only when the microseconds are
/// not zero.
pub fn write_timestamp(out: &mut Vec<u8>, micros: i64) {
    out.push(b'"');
    out.extend_from_slice(timestamp_text(micros).as_bytes());
    out.push(b'"');
}

pub fn timestamp_text(micros: i64) -> String {
    let seconds = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    match DateTime::from_timestamp(seconds, 0) {
        Some(t) if fraction == 0 => format!("{}Z", t.format("%Y-%m-%dT%H:%M:%S")),
        Some(t) => format!("{}.{fraction:06}Z", t.format("%Y-%m-%dT%H:%M:%S")),
        // Outside chrono's range: no parsed value can get here.
        None => micros.to_string(),
    }
}

/// `"YYYY-MM-DD"` for days since 1970-01-01.
pub fn write_date(out: &mut Vec<u8>, days: i32) {
    out.push(b'"');
    out.extend_from_slice(date_text(days).as_bytes());
    out.push(b'"');
}

pub fn date_text(days: i32) -> String {
    const UNIX_EPOCH_FROM_CE: i32 = 719_163;
    match days
        .checked_add(UNIX_EPOCH_FROM_CE)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
    {
        Some(date) => date.format("%Y-%m-%d").to_string(),
        None => days.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn decimals_keep_exactly_their_scale() {
        assert_eq!(decimal_text(2_500_000, 2), "25000.00");
        assert_eq!(decimal_text(-350, 2), "-3.50");
        assert_eq!(decimal_text(-5, 4), "-0.0005");
        assert_eq!(decimal_text(0, 4), "0.0000");
        assert_eq!(decimal_text(1234, 0), "1234");
        assert_eq!(decimal_text(12, -2), "1200");
        assert_eq!(decimal_text(0, -2), "0");
        assert_eq!(
            decimal_text(i128::MIN + 1, 38),
            "-1.70141183460469231731687303715884105727"
        );
        // Always a valid JSON number that reads back exactly.
        let v: serde_json::Number = serde_json::from_str(&decimal_text(-350, 2)).unwrap();
        assert_eq!(v.to_string(), "-3.5");
    }

    #[test]
    fn timestamps_are_utc_with_a_fraction_only_when_needed() {
        assert_eq!(timestamp_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            timestamp_text(1_790_856_000_000_000),
            "2026-10-01T12:00:00Z"
        );
        assert_eq!(timestamp_text(1_500_000), "1970-01-01T00:00:01.500000Z");
        assert_eq!(timestamp_text(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(text(|o| write_timestamp(o, 0)), "\"1970-01-01T00:00:00Z\"");
    }

    #[test]
    fn dates_have_four_digit_years() {
        assert_eq!(date_text(0), "1970-01-01");
        assert_eq!(date_text(-1), "1969-12-31");
        // 0202-05-14, a date-before-1753 dirt value.
        let days = NaiveDate::from_ymd_opt(202, 5, 14)
            .unwrap()
            .signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
            .num_days() as i32;
        assert_eq!(date_text(days), "0202-05-14");
    }

    #[test]
    fn scalars() {
        assert_eq!(text(|o| write_f64(o, 41.878)), "41.878");
        assert_eq!(text(|o| write_f64(o, -87.6)), "-87.6");
        assert_eq!(text(|o| write_f64(o, f64::NAN)), "null");
        assert_eq!(text(|o| write_i64(o, -42)), "-42");
        assert_eq!(text(|o| write_bool(o, true)), "true");
        assert_eq!(
            text(|o| write_str(o, "a \"quoted\"\nline <b>")),
            r#""a \"quoted\"\nline <b>""#
        );
    }
}
