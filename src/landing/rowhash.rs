//! `_row_hash`: a fingerprint of a record's typed values, so staging can
//! keep each distinct version of a record once, and two extractions of the
//! same data (CSV or API) can be compared row by row.
//!
//! The hash covers column names and canonical values, in column-name order,
//! so it does not depend on column order, on how the source spelled a number
//! (`12.50` vs `12.5`) or on the local timezone of a timestamp. It is the
//! first 128 bits of SHA-256, as hex: ample to tell versions of one record
//! apart.

use sha2::{Digest, Sha256};

use crate::landing::arrow_types::Value;

/// Hashes rows of one object's columns.
#[derive(Debug, Clone)]
pub struct RowHasher {
    /// Column indices in name order.
    order: Vec<usize>,
    names: Vec<String>,
}

impl RowHasher {
    /// `names`: the landed columns in landing order (without `_`-columns).
    pub fn new(names: &[String]) -> Self {
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|&a, &b| names[a].cmp(&names[b]));
        RowHasher {
            order,
            names: names.to_vec(),
        }
    }

    /// The hash of one row, `values` in landing order, with their decimal
    /// scales (0 for non-decimal columns).
    pub fn hash(&self, values: &[Value<'_>], scales: &[i8]) -> String {
        let mut hasher = Sha256::new();
        let mut scratch = String::new();
        for &i in &self.order {
            hasher.update(self.names[i].as_bytes());
            hasher.update([0x1f]);
            scratch.clear();
            canonical(values[i], scales[i], &mut scratch);
            hasher.update(scratch.as_bytes());
            hasher.update([0x1e]);
        }
        let digest = hasher.finalize();
        hex::encode(&digest[..16])
    }
}

fn canonical(value: Value<'_>, scale: i8, out: &mut String) {
    use std::fmt::Write;
    match value {
        Value::Null => out.push('Z'),
        Value::Text(s) => {
            out.push('T');
            out.push_str(s);
        }
        Value::Timestamp(micros) => {
            let _ = write!(out, "S{micros}");
        }
        Value::Date(days) => {
            let _ = write!(out, "D{days}");
        }
        Value::Boolean(b) => out.push_str(if b { "B1" } else { "B0" }),
        Value::Integer(i) => {
            let _ = write!(out, "N{i}");
        }
        Value::Decimal(scaled) => {
            out.push('N');
            out.push_str(&normalized_decimal(scaled, scale));
        }
        Value::Double(f) => {
            let _ = write!(out, "F{f}");
        }
    }
}

/// `12500, 3` → `12.5`; `700, 2` → `7`. Integers and decimals of equal value
/// share one canonical form.
pub fn normalized_decimal(scaled: i128, scale: i8) -> String {
    let negative = scaled < 0;
    let digits = scaled.unsigned_abs().to_string();
    let scale = scale.max(0) as usize;
    let (int_part, frac_part) = if digits.len() > scale {
        digits.split_at(digits.len() - scale)
    } else {
        ("0", digits.as_str())
    };
    let frac = format!("{frac_part:0>scale$}");
    let frac = frac.trim_end_matches('0');
    let sign = if negative { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_normalize() {
        assert_eq!(normalized_decimal(12500, 3), "12.5");
        assert_eq!(normalized_decimal(700, 2), "7");
        assert_eq!(normalized_decimal(-5, 3), "-0.005");
        assert_eq!(normalized_decimal(0, 4), "0");
    }

    #[test]
    fn hash_ignores_column_order_and_decimal_spelling() {
        let a = RowHasher::new(&["id".into(), "amount".into()]);
        let b = RowHasher::new(&["amount".into(), "id".into()]);
        let ha = a.hash(&[Value::Text("X-1"), Value::Decimal(1250)], &[0, 2]);
        let hb = b.hash(&[Value::Decimal(12500), Value::Text("X-1")], &[3, 0]);
        assert_eq!(ha, hb);
        assert_eq!(ha.len(), 32);
    }

    #[test]
    fn hash_tells_null_from_empty_and_values_from_columns() {
        let h = RowHasher::new(&["a".into(), "b".into()]);
        let null = h.hash(&[Value::Null, Value::Text("x")], &[0, 0]);
        let empty = h.hash(&[Value::Text(""), Value::Text("x")], &[0, 0]);
        let swapped = h.hash(&[Value::Text("x"), Value::Null], &[0, 0]);
        assert_ne!(null, empty);
        assert_ne!(null, swapped);
    }
}
